/*
 * tests/fuzz/fuzz_certif.c - libFuzzer target: the certificate parser
 *
 * Input: a raw certificate blob (signature || payload), exactly what a
 * request's base64 decodes to.  Every outcome is fine except a crash, a
 * sanitizer report, a leak, or an accepted certificate whose fields break
 * the invariants the handlers rely on (checked below).
 *
 *   make fuzz            # every target, FUZZ_SECONDS each
 *   build/fuzz/fuzz_certif build/fuzz/corpus-certif tests/fuzz/corpus/certif
 */
#include "certif.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed verify key: most inputs fail the signature, which exercises the
 * paths after parsing; the seed corpus holds blobs signed with its secret
 * (seed bytes 0x01 * 32), so valid certificates are reachable too. */
static const uint8_t fuzz_key[32] = {
    0x8a, 0x88, 0xe3, 0xdd, 0x74, 0x09, 0xf1, 0x95, 0xfd, 0x52, 0xdb, 0x2d, 0x3c, 0xba, 0x5d, 0x72,
    0xca, 0x67, 0x09, 0xbf, 0x1d, 0x94, 0x12, 0x1b, 0xf3, 0x74, 0x88, 0x01, 0xb4, 0x0f, 0x6f, 0x5c};

static void check_invariants(const certif_t *c)
{
    /* what handlers use without re-checking */
    if (c->author && !proto_valid_device_id(c->author))
        abort();
    switch (c->type) {
    case CERTIF_USER:
        if (!proto_valid_user_id(c->user.user_id))
            abort();
        if ((c->user.human_email == NULL) != (c->user.human_label == NULL))
            abort();
        if (c->user.human_email && (!proto_valid_email(c->user.human_email) ||
                                    !proto_valid_human_label(c->user.human_label)))
            abort();
        if (c->user.is_admin != (c->user.profile == CERTIF_PROFILE_ADMIN))
            abort();
        break;
    case CERTIF_DEVICE:
        if (!proto_valid_device_id(c->device.device_id))
            abort();
        if (c->device.device_label && !proto_valid_device_label(c->device.device_label))
            abort();
        break;
    case CERTIF_REVOKED_USER:
        if (!c->author || !proto_valid_user_id(c->revoked_user.user_id))
            abort();
        break;
    case CERTIF_REALM_ROLE:
        if (!proto_valid_user_id(c->realm_role.user_id) || strlen(c->realm_role.realm_id.hex) != 32)
            abort();
        if (c->realm_role.role != CERTIF_ROLE_NONE && !certif_role_name(c->realm_role.role))
            abort();
        break;
    }
    /* the timestamp re-formats and re-parses to itself */
    char ts[PROTO_DATETIME_LEN + 1];
    int64_t back;
    proto_datetime_format(c->timestamp, ts);
    if (!proto_datetime_parse(ts, strlen(ts), &back) || back != c->timestamp)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *a = arena_new();
    certif_t c, c2;
    const char *why = NULL;
    if (certif_parse(a, data, size, &c, &why) == CERTIF_OK) {
        check_invariants(&c);
        /* load with each expectation; the first one matching type and author
         * reaches the signature check */
        (void)certif_load(a, data, size, c.type, fuzz_key, c.author, &c2, &why);
        (void)certif_load(a, data, size, CERTIF_USER, fuzz_key, NULL, &c2, &why);
        if (c.type == CERTIF_USER)
            (void)certif_user_redacted_ok(&c, &c, &why);
        if (c.type == CERTIF_DEVICE)
            (void)certif_device_redacted_ok(&c, &c, &why);
    } else if (!why) {
        abort(); /* every refusal says why */
    }
    arena_free(a);
    return 0;
}
