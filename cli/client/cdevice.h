/*
 * cli/client/cdevice.h - a device's keys on disk, under a passphrase
 *
 * A device is what `bootstrap_organization` and `claim_invitation` create
 * and every other client command acts as.  Its file,
 *
 *     $XDG_DATA_HOME/parsec/devices/<organization>/<device id>.keys
 *
 * ($XDG_DATA_HOME defaults to ~/.local/share), is written once, mode 0600 in
 * directories of mode 0700, through a temporary file renamed into place so a
 * crash never leaves half a key.  It is JSON: the public names in clear (to
 * find a device without its passphrase) and the secrets in a secretbox whose
 * key is Argon2id(passphrase, salt); docs/client.md gives the format.  On
 * load, the names in clear must equal the encrypted ones, so editing the
 * clear part is detected.
 *
 * Ownership: a cdevice_t owns its strings (cdevice_free wipes the keys).
 */
#ifndef PARSEC_CDEVICE_H
#define PARSEC_CDEVICE_H

#include "ccrypto.h"

#include <stdbool.h>
#include <stddef.h>

/* A device file larger than this is not ours. */
#define CDEVICE_MAX_FILE 65536

typedef struct {
    char *addr;         /* the server: parsec://host[:port][/mount][?no_ssl=true] */
    char *org;          /* organization id */
    char *device_id;    /* user@name */
    char *user_id;      /* the part before '@' */
    char *device_label; /* NULL: none */
    char *email;        /* human handle; both NULL when none */
    char *label;
    char *profile;                               /* "ADMIN", "STANDARD" or "OUTSIDER" */
    ccrypto_sign_key signing;                    /* Ed25519, the device's */
    ccrypto_box_key user_key;                    /* X25519, the user's (shared by its devices) */
    uint8_t root_verify[CCRYPTO_KEY_SIZE];       /* the organization's root verify key */
    uint8_t user_realm[16];                      /* the user manifest's realm (and vlob) id */
    uint8_t user_manifest_key[CCRYPTO_KEY_SIZE]; /* its secret key */
} cdevice_t;

void cdevice_free(cdevice_t *d);

/* cdevice_dir - the devices directory (malloc'd), or NULL when neither
 * XDG_DATA_HOME nor HOME is set. */
char *cdevice_dir(void);

/* cdevice_path - the file of (org, device_id) (malloc'd) or NULL (as above). */
char *cdevice_path(const char *org, const char *device_id);

/* cdevice_save - write d's file under pass; false with *why (static) when the
 * file exists already, or on an I/O error (errno kept in the message). */
bool cdevice_save(const cdevice_t *d, const char *pass, size_t pass_len, const char **why)
    __attribute__((warn_unused_result));

typedef enum {
    CDEVICE_OK,
    CDEVICE_NOT_FOUND,    /* no such file */
    CDEVICE_BAD_PASSWORD, /* the secretbox does not open with this passphrase */
    CDEVICE_CORRUPT,      /* not a device file, or its parts disagree */
    CDEVICE_IO,           /* unreadable */
} cdevice_status;

/* cdevice_load - read and decrypt path into *out (fields owned by *out). */
cdevice_status cdevice_load(const char *path, const char *pass, size_t pass_len, cdevice_t *out)
    __attribute__((warn_unused_result));

/* One device file found by cdevice_list, read without its passphrase. */
typedef struct {
    char *path, *org, *device_id, *device_label, *email, *label, *addr;
} cdevice_entry;

/* cdevice_list - every readable device file, sorted by path; *n entries,
 * malloc'd array (free with cdevice_list_free).  Unreadable or foreign
 * files are skipped. */
cdevice_entry *cdevice_list(size_t *n);
void cdevice_list_free(cdevice_entry *e, size_t n);

#endif
