/*
 * tests/integration/test_email_lib.c - helpers of the email suites (see
 * test_email_lib.h)
 */
#include "test_email_lib.h"

#include "crypto.h"
#include "strbuf.h"
#include "xalloc.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const email_invitation_t et_user_inv = {
    .type = EMAIL_INVITE_USER,
    .organization_id = "MyOrg",
    .token = ET_TOKEN,
    .claimer_email = "bob@example.com",
    .greeter_user_id = "alice",
    .greeter_label = "Alice Doe",
    .greeter_email = "alice@example.com",
};

const email_invitation_t et_device_inv = {
    .type = EMAIL_INVITE_DEVICE,
    .organization_id = "MyOrg",
    .token = ET_TOKEN,
    .greeter_user_id = "alice",
    .greeter_label = "Alice Doe",
    .greeter_email = "alice@example.com",
};

static void assert_absent(const char *log, const char *what, const char *secret)
{
    ck_assert_msg(!strstr(log, secret), "the log holds the %s", what);
}

void et_assert_no_secret(const char *log)
{
    assert_absent(log, "password", ET_PASSWORD);
    assert_absent(log, "token", ET_TOKEN);
    char *b = crypto_b64_encode(ET_PASSWORD, strlen(ET_PASSWORD));
    assert_absent(log, "password in base64 (AUTH LOGIN)", b);
    free(b);
    const char plain[] = "\0" ET_USER "\0" ET_PASSWORD;
    b = crypto_b64_encode(plain, sizeof plain - 1);
    assert_absent(log, "AUTH PLAIN string", b);
    free(b);
}

void et_cfg(cfg_t *c, const smtppeer_t *p, ...)
{
    strvec_t args = STRVEC_INIT;
    if (p) {
        strvec_push(&args, xstrdup("--email-host=127.0.0.1"));
        strvec_pushf(&args, "--email-port=%d", smtppeer_port(p));
    }
    strvec_push(&args, xstrdup("--email-sender=" ET_SENDER));
    strvec_push(&args, xstrdup("--backend-addr=" ET_BACKEND));
    strvec_push(&args, xstrdup("--email-connect-timeout=5"));
    strvec_push(&args, xstrdup("--email-timeout=30"));
    va_list ap;
    va_start(ap, p);
    for (const char *a; (a = va_arg(ap, const char *));)
        strvec_push(&args, xstrdup(a));
    va_end(ap);
    char *empty_env[] = {NULL};
    char err[512];
    cfg_parse_result r = cfg_parse(c, (int)args.n, args.v, empty_env, err, sizeof err, NULL, NULL);
    strvec_free(&args);
    ck_assert_msg(r == CFG_PARSE_OK, "settings refused: %s", err);
}

static json_object *walk(json_object *o, va_list ap)
{
    for (const char *k; o && (k = va_arg(ap, const char *));) {
        if (json_object_is_type(o, json_type_array)) {
            size_t i = (size_t)atoi(k);
            o = i < json_object_array_length(o) ? json_object_array_get_idx(o, i) : NULL;
        } else if (!json_object_object_get_ex(o, k, &o)) {
            o = NULL;
        }
    }
    return o;
}

json_object *et_get(json_object *o, ...)
{
    va_list ap;
    va_start(ap, o);
    json_object *r = walk(o, ap);
    va_end(ap);
    return r;
}

char *et_str(json_object *o, ...)
{
    va_list ap;
    va_start(ap, o);
    json_object *r = walk(o, ap);
    va_end(ap);
    ck_assert_msg(r && json_object_is_type(r, json_type_string), "no such string in %s",
                  json_object_to_json_string(o));
    return xstrdup(json_object_get_string(r));
}
