/*
 * cli/client/ccertif.h - certificates as the client signs and checks them
 *
 * Writing: the payloads of docs/protocol.md section 3.2, every field present
 * (null where absent), signed by the author's key into
 * signature || payload.  Reading: common/certif.h parses (the server's own
 * strict reader), and ccertif_trust walks a user_get reply back to the
 * organization's root verify key.
 *
 * Ownership: ccertif_* builders return a malloc'd blob (*len set); the
 * caller frees.  human handle and labels may be NULL (JSON null).
 */
#ifndef PARSEC_CCERTIF_H
#define PARSEC_CCERTIF_H

#include "ccrypto.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* author NULL: signed by the root key ("author": null). */
uint8_t *ccertif_user(const ccrypto_sign_key *k, const char *author, int64_t ts,
                      const char *user_id, const char *email, const char *label,
                      const uint8_t public_key[CCRYPTO_KEY_SIZE], const char *profile, size_t *len);
uint8_t *ccertif_device(const ccrypto_sign_key *k, const char *author, int64_t ts,
                        const char *device_id, const char *device_label,
                        const uint8_t verify_key[CCRYPTO_KEY_SIZE], size_t *len);
uint8_t *ccertif_revoked_user(const ccrypto_sign_key *k, const char *author, int64_t ts,
                              const char *user_id, size_t *len);
/* role NULL: the role removed */
uint8_t *ccertif_realm_role(const ccrypto_sign_key *k, const char *author, int64_t ts,
                            const uint8_t realm_id[16], const char *user_id, const char *role,
                            size_t *len);

/* ccertif_now - microseconds since the epoch (certificates' timestamps). */
int64_t ccertif_now(void);

/* A user as its verified certificates tell it. */
typedef struct {
    char user_id[33];
    char email[255]; /* "" when no human handle (or redacted) */
    char label[256];
    char profile[16]; /* "ADMIN", ... */
    uint8_t public_key[CCRYPTO_KEY_SIZE];
    bool revoked;
    size_t devices;
    /* verify keys of its devices, by device id, for signature checks */
    char (*device_ids)[66];
    uint8_t (*verify_keys)[CCRYPTO_KEY_SIZE];
} ccertif_user_info;

void ccertif_user_info_free(ccertif_user_info *u);

/*
 * ccertif_trust - verify a user_get "ok" reply against root_verify: every
 * certificate parses, each signature verifies with its author's key, each
 * author's own certificates verify back to the root, user and revocation
 * certificates come from ADMIN authors not revoked before they signed, and
 * device certificates from the user itself or an ADMIN.  On success fills
 * *out and returns true; else false with *why (malloc'd, caller frees).
 */
bool ccertif_trust(json_object *user_get_reply, const uint8_t root_verify[CCRYPTO_KEY_SIZE],
                   ccertif_user_info *out, char **why) __attribute__((warn_unused_result));

#endif
