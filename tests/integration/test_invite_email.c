/*
 * tests/integration/test_invite_email.c - invite_new with send_email, end
 * to end: a real SMTP server (tests/lib/smtppeer.h, plain SMTP) behind the
 * worker that lighttpd runs, configured as a deployment would be
 * (PARSEC_EMAIL_*, PARSEC_BACKEND_ADDR)
 *
 * What the server received for a USER and a DEVICE invitation, in English
 * and in French (recipient, subject, Reply-To, the link with the token the
 * command answered, both parts); BAD_RECIPIENT and NOT_AVAILABLE with the
 * invitation kept; the token nowhere in the worker's log.  TLS, AUTH, the
 * mail's headers in depth and the failure cases of delivery itself are
 * test_email_smtp.c and test_email_invite.c (common/email.h directly).
 */
#include "test_email_lib.h"
#include "test_invite_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A server whose mails go to 127.0.0.1:port in language lang. */
static porg_srv_t *mail_server(int port, const char *lang)
{
    return porg_srv_start_mail(WEBSRV_LIGHTTPD, port, lang, NULL);
}

/* invite_new with send_email by dev: the reply (status ok asserted). */
static json_object *invite_mail(porg_srv_t *s, const pclient_device_t *dev, const char *type,
                                const char *email, const char *want_sent)
{
    json_object *rep = porg_call(s, dev, it_invite_req(type, email, true));
    ck_assert_msg(!strcmp(porg_status(rep), "ok"), "%s", json_object_to_json_string(rep));
    json_object *v;
    ck_assert(json_object_object_get_ex(rep, "email_sent", &v));
    ck_assert_msg(v && !strcmp(json_object_get_string(v), want_sent), "email_sent: %s",
                  json_object_to_json_string(rep));
    return rep;
}

static void assert_has(const char *hay, const char *needle, const char *where)
{
    ck_assert_msg(strstr(hay, needle), "%s lacks \"%s\":\n%s", where, needle, hay);
}

/* Message n of p: recipient, subject, Reply-To, and the link in both parts. */
static void assert_mail(const smtppeer_t *p, int n, const char *rcpt, const char *subject,
                        const char *reply_to, const char *url)
{
    json_object *m = smtppeer_message(p, n);
    ck_assert_msg(m != NULL, "no message %d", n);
    char *to = et_str(m, "rcpt_tos", "0", NULL);
    ck_assert_str_eq(to, rcpt);
    ck_assert_int_eq(json_object_array_length(et_get(m, "rcpt_tos", NULL)), 1);
    char *from = et_str(m, "mail_from", NULL);
    ck_assert_str_eq(from, "no-reply@parsec.test");
    json_object *msg = et_get(m, "message", NULL);
    char *subj = et_str(msg, "headers", "subject", "0", NULL);
    ck_assert_str_eq(subj, subject);
    json_object *rt = et_get(msg, "addresses", "reply-to", NULL);
    if (reply_to) {
        ck_assert_ptr_nonnull(rt);
        char *a = et_str(msg, "addresses", "reply-to", "0", "addr", NULL);
        ck_assert_str_eq(a, reply_to);
        free(a);
    } else {
        ck_assert(!rt || json_object_array_length(rt) == 0);
    }
    ck_assert_int_eq(json_object_array_length(et_get(msg, "parts", NULL)), 2);
    for (int i = 0; i < 2; i++) {
        char idx[2] = {(char)('0' + i), 0};
        char *content = et_str(msg, "parts", idx, "content", NULL);
        char *html_url = NULL;
        if (i == 1) { /* the link in HTML: & escaped */
            html_url = xstrdup(url);
            char *amp = strstr(html_url, "&");
            ck_assert_ptr_nonnull(amp);
            char *e = xasprintf("%.*s&amp;%s", (int)(amp - html_url), html_url, amp + 1);
            free(html_url);
            html_url = e;
        }
        assert_has(content, i == 1 ? html_url : url, i ? "the HTML part" : "the text part");
        free(html_url);
        free(content);
    }
    free(to);
    free(from);
    free(subj);
    json_object_put(m);
}

static char *lower(const char *s)
{
    char *o = xstrdup(s);
    for (char *p = o; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    return o;
}

static void assert_no_token_in_log(porg_srv_t *s, const char *token)
{
    char *log = websrv_error_log(porg_srv_websrv(s));
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(!strstr(log, token), "the token %s is in the worker's log", token);
    char *hyphens = xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", token, token + 8, token + 12, token + 16,
                              token + 20);
    ck_assert_ptr_null(strstr(log, hyphens));
    free(hyphens);
    free(log);
}

static char *user_subject(const char *lang, const char *greeter, const char *org)
{
    if (!strcmp(lang, "fr"))
        return xasprintf("[Parsec] %s vous invite \xc3\xa0 rejoindre %s", greeter, org);
    return xasprintf("[Parsec] %s invited you to %s", greeter, org);
}

static char *device_subject(const char *lang, const char *org)
{
    if (!strcmp(lang, "fr"))
        return xasprintf("[Parsec] Invitation \xc3\xa0 ajouter un appareil \xc3\xa0 %s", org);
    return xasprintf("[Parsec] New device invitation to %s", org);
}

static void mails_in(const char *lang)
{
    smtppeer_opts_t po = {.refuse_rcpt = "nobody@example.com"};
    smtppeer_t *peer = smtppeer_start(&po);
    ck_assert_ptr_nonnull(peer);
    porg_srv_t *s = mail_server(smtppeer_port(peer), lang);
    porg_t *o = porg_bootstrap(s, NULL);
    char *admin_email = lower(o->admin->human_email);
    char *url_base = xasprintf("http://parsec.test:6777/redirect/%s?action=", o->organization_id);

    /* USER: to the claimer, from the greeter's name, Reply-To the greeter */
    json_object *rep = invite_mail(s, o->admin, "USER", "claire@example.com", "SUCCESS");
    char *tu = xstrdup(porg_str(rep, "token"));
    json_object_put(rep);
    char *subject = user_subject(lang, "Admin", o->organization_id);
    char *url = xasprintf("%sclaim_user&token=%s", url_base, tu);
    assert_mail(peer, 0, "claire@example.com", subject, admin_email, url);
    free(subject);
    free(url);
    /* DEVICE: to the greeter itself */
    rep = invite_mail(s, o->admin, "DEVICE", NULL, "SUCCESS");
    char *td = xstrdup(porg_str(rep, "token"));
    json_object_put(rep);
    subject = device_subject(lang, o->organization_id);
    url = xasprintf("%sclaim_device&token=%s", url_base, td);
    assert_mail(peer, 1, admin_email, subject, NULL, url);
    free(subject);
    free(url);
    /* the pending invitation again: the same token, mailed again */
    rep = invite_mail(s, o->admin, "USER", "claire@example.com", "SUCCESS");
    ck_assert_str_eq(porg_str(rep, "token"), tu);
    json_object_put(rep);
    ck_assert_int_eq(smtppeer_count(peer), 3);
    /* a non-human greeter is named by its user id, with no Reply-To */
    pclient_device_t *robot = porg_user(s, o, o->admin, "robot@dev1", "ADMIN", NULL, NULL);
    rep = invite_mail(s, robot, "USER", "dan@example.com", "SUCCESS");
    char *tr = xstrdup(porg_str(rep, "token"));
    json_object_put(rep);
    subject = user_subject(lang, "robot", o->organization_id);
    url = xasprintf("%sclaim_user&token=%s", url_base, tr);
    assert_mail(peer, 3, "dan@example.com", subject, NULL, url);
    free(subject);
    free(url);

    /* a recipient the server refuses: BAD_RECIPIENT, the invitation kept */
    rep = invite_mail(s, o->admin, "USER", "nobody@example.com", "BAD_RECIPIENT");
    char *tb = xstrdup(porg_str(rep, "token"));
    json_object_put(rep);
    ck_assert_int_eq(smtppeer_count(peer), 4);
    json_object *list = porg_call(s, o->admin, pclient_req("invite_list"));
    json_object *items;
    ck_assert(json_object_object_get_ex(list, "invitations", &items));
    ck_assert_int_eq(json_object_array_length(items), 3);
    ck_assert_str_eq(porg_str(json_object_array_get_idx(items, 2), "token"), tb);
    json_object_put(list);

    const char *tokens[] = {tu, td, tr, tb};
    for (int i = 0; i < 4; i++)
        assert_no_token_in_log(s, tokens[i]);
    free(tu);
    free(td);
    free(tr);
    free(tb);
    free(admin_email);
    free(url_base);
    pclient_device_free(robot);
    porg_free(o);
    ck_assert(porg_srv_stop(s));
    ck_assert(smtppeer_stop(peer));
}

START_TEST(mails_english)
{
    mails_in("en");
}
END_TEST

START_TEST(mails_french)
{
    mails_in("fr");
}
END_TEST

/* Nothing listens where mail should go: NOT_AVAILABLE, the invitation kept
 * and usable. */
START_TEST(mail_not_available)
{
    porg_srv_t *s = mail_server(testenv_free_port(), "en");
    porg_t *o = porg_bootstrap(s, NULL);
    json_object *rep = invite_mail(s, o->admin, "USER", "claire@example.com", "NOT_AVAILABLE");
    char *t = xstrdup(porg_str(rep, "token"));
    json_object_put(rep);
    rep = invite_mail(s, o->admin, "DEVICE", NULL, "NOT_AVAILABLE");
    char *td = xstrdup(porg_str(rep, "token"));
    json_object_put(rep);
    json_object_put(it_claim_expect(s, o->organization_id, t, pclient_req("invite_info"), "ok"));
    json_object_put(it_claim_expect(s, o->organization_id, td, pclient_req("invite_info"), "ok"));
    /* the failure is logged, the token is not */
    char *log = websrv_error_log(porg_srv_websrv(s));
    ck_assert_ptr_nonnull(strstr(log, "claire@example.com"));
    free(log);
    assert_no_token_in_log(s, t);
    assert_no_token_in_log(s, td);
    free(t);
    free(td);
    porg_free(o);
    ck_assert(porg_srv_stop(s));
}
END_TEST

TEST_SUITE(invite_email)
{
    Suite *s = suite_create("invite_email");
    TCase *tc = tcase_create("smtp");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, mails_english);
    tcase_add_test(tc, mails_french);
    tcase_add_test(tc, mail_not_available);
    suite_add_tcase(s, tc);
    return s;
}
