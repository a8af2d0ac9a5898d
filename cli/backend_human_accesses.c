/*
 * cli/backend_human_accesses.c - `parsec backend human_accesses
 * --organization ID [--filter WORDS] [--json]`: who can reach which realm,
 * and since when (parsec-2.12-behaviour.md 15.13)
 *
 * For a compliance officer: every user of the organization (humans first,
 * by label, then non-human users, which Parsec crashed on), with profile,
 * creation and revocation dates, and each realm's role history in order
 * (a role, or "None" when removed).  --filter keeps the users whose
 * "<label> <email> <user id>", lower-cased, contains every word, lower-cased.
 * Output: "Found N result(s)" then one block per user; --json one object
 * {"users": [{"user_id", "human_handle", "profile", "created_on",
 * "revoked_on", "realms": [{"realm_id", "roles": [{"role", "certified_on"}]}]}]}.
 * Exit status: 0, 1 (unknown organization, the database failed), 2 usage.
 */
#include "backend_sequester.h"

#include "cli.h"
#include "proto.h"
#include "xalloc.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "parsec backend human_accesses"

/* $1 organization: one row per (user, role change), users in display
 * order, then realms, then changes; a user without role has one row with
 * NULL realm. */
DB_STMT(stmt_accesses, "human_accesses", 1,
        "SELECT u._id, u.user_id, u.human_email, u.human_label, u.profile, u.created_on,"
        " u.revoked_on, encode(uuid_send(r.realm_id), 'hex'), rr.role, rr.certified_on"
        " FROM user_ u LEFT JOIN realm_user_role rr ON rr.user_ = u._id"
        " LEFT JOIN realm r ON r._id = rr.realm"
        " WHERE u.organization = $1::bigint"
        " ORDER BY u.human_label IS NULL, lower(u.human_label), u.user_id, r.realm_id, rr._id");

static bool matches(const char *haystack, const char *filter)
{
    if (!filter)
        return true;
    char *h = xstrdup(haystack), *f = xstrdup(filter);
    for (char *p = h; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (char *p = f; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    bool ok = true;
    char *save = NULL;
    for (char *w = strtok_r(f, " \t", &save); w && ok; w = strtok_r(NULL, " \t", &save))
        ok = strstr(h, w) != NULL;
    free(h);
    free(f);
    return ok;
}

static json_object *date_or_null(db_res_t *r, size_t row, int col)
{
    if (db_is_null(r, row, col))
        return NULL;
    char s[PROTO_DATETIME_LEN + 1];
    proto_datetime_format(db_get_ts(r, row, col), s);
    return json_object_new_string(s);
}

int cli_backend_human_accesses(int argc, char **argv)
{
    seq_ctx_t c;
    seq_flag_t f[] = {
        {"--organization", true, NULL}, {"--filter", true, NULL}, {"--json", false, NULL}};
    int rc = seq_open(&c, PROG,
                      "  --organization ID   the organization\n"
                      "  --filter WORDS      only users whose label, email or user id contain\n"
                      "                      every word (case-insensitive)\n"
                      "  --json              one JSON object instead of text\n",
                      argc, argv, f, 3, false, true);
    if (rc >= 0)
        goto cleanup;
    if (!f[0].value) {
        rc = seq_usage(&c, "--organization is required");
        goto cleanup;
    }
    if ((rc = seq_org(&c, f[0].value, false)) != 0)
        goto cleanup;
    db_res_t *r = DB_RUN(c.db, c.arena, &c.failed, &stmt_accesses, DB_I64(c.org));
    if (c.failed) {
        rc = seq_fail(&c, "the database failed (see the log)");
        goto cleanup;
    }
    /* group the rows: users, then their realms */
    json_object *users = json_object_new_array();
    json_object *user = NULL, *realms = NULL, *roles = NULL;
    int64_t cur = -1;
    const char *cur_realm = NULL;
    bool keep = false;
    for (size_t i = 0; i < db_nrows(r); i++) {
        int64_t id = db_get_i64(r, i, 0);
        if (id != cur) {
            cur = id;
            cur_realm = NULL;
            const char *uid = db_get_str(r, i, 1), *email = db_get_str(r, i, 2),
                       *label = db_get_str(r, i, 3);
            char *hay = xasprintf("%s %s %s", label ? label : "", email ? email : "", uid);
            keep = matches(hay, f[1].value);
            free(hay);
            if (!keep)
                continue;
            user = json_object_new_object();
            json_object_object_add(user, "user_id", json_object_new_string(uid));
            json_object_object_add(user, "human_handle", proto_json_human_handle(email, label));
            json_object_object_add(user, "profile", json_object_new_string(db_get_str(r, i, 4)));
            json_object_object_add(user, "created_on", date_or_null(r, i, 5));
            json_object_object_add(user, "revoked_on", date_or_null(r, i, 6));
            realms = json_object_new_array();
            json_object_object_add(user, "realms", realms);
            json_object_array_add(users, user);
        }
        if (!keep || db_is_null(r, i, 7))
            continue;
        const char *realm = db_get_str(r, i, 7);
        if (!cur_realm || strcmp(cur_realm, realm) != 0) {
            cur_realm = realm;
            json_object *o = json_object_new_object();
            json_object_object_add(o, "realm_id", json_object_new_string(realm));
            roles = json_object_new_array();
            json_object_object_add(o, "roles", roles);
            json_object_array_add(realms, o);
        }
        json_object *ro = json_object_new_object();
        json_object_object_add(
            ro, "role", db_is_null(r, i, 8) ? NULL : json_object_new_string(db_get_str(r, i, 8)));
        json_object_object_add(ro, "certified_on", date_or_null(r, i, 9));
        json_object_array_add(roles, ro);
    }
    if (f[2].value) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "users", users);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        size_t n = json_object_array_length(users);
        printf("Found %zu result(s)\n", n);
        for (size_t i = 0; i < n; i++) {
            json_object *u = json_object_array_get_idx(users, i);
            json_object *hh = json_object_object_get(u, "human_handle");
            json_object *revoked = json_object_object_get(u, "revoked_on");
            if (hh)
                printf("\nHuman %s <%s>\n",
                       json_object_get_string(json_object_object_get(hh, "label")),
                       json_object_get_string(json_object_object_get(hh, "email")));
            else
                printf("\nNon-human user\n");
            printf("\tUser %s (%s, created on %s%s%s)\n",
                   json_object_get_string(json_object_object_get(u, "user_id")),
                   json_object_get_string(json_object_object_get(u, "profile")),
                   json_object_get_string(json_object_object_get(u, "created_on")),
                   revoked ? ", revoked on " : "", revoked ? json_object_get_string(revoked) : "");
            json_object *rs = json_object_object_get(u, "realms");
            for (size_t k = 0; k < json_object_array_length(rs); k++) {
                json_object *rl = json_object_array_get_idx(rs, k);
                printf("\tRealm %s\n",
                       json_object_get_string(json_object_object_get(rl, "realm_id")));
                json_object *h = json_object_object_get(rl, "roles");
                for (size_t m = 0; m < json_object_array_length(h); m++) {
                    json_object *x = json_object_array_get_idx(h, m);
                    json_object *role = json_object_object_get(x, "role");
                    printf("\t\t%s: %s\n",
                           json_object_get_string(json_object_object_get(x, "certified_on")),
                           role ? json_object_get_string(role) : "None (access removed)");
                }
            }
        }
        json_object_put(users);
    }
    rc = 0;
cleanup:
    seq_close(&c);
    return rc;
}
