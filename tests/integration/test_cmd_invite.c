/*
 * tests/integration/test_cmd_invite.c - invite_new, invite_list,
 * invite_delete and invite_info through lighttpd and a real PostgreSQL
 *
 * docs/protocol.md sections 6.2, 6.3 and 7.3: every status of the four
 * commands, the order of invite_new's checks, the token-reuse rule, the cap
 * of 1000 pending invitations (invite_list correct and bounded at it), the
 * claimer's presence (READY, IDLE) and the events each command publishes
 * (read with LISTEN on the database: what notifyd receives).  Every refusal
 * is checked to leave the database unchanged.  The exchange steps are
 * test_cmd_invite_steps.c; two clients through a whole exchange,
 * test_invite_exchange.c; mails, test_invite_email.c.
 */
#include "test_invite_lib.h"
#include "test_user_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC INT64_C(1000000)

/* The reply's "email_sent" (NULL when null). */
static const char *email_sent(json_object *reply)
{
    json_object *v;
    ck_assert_msg(json_object_object_get_ex(reply, "email_sent", &v), "no email_sent: %s",
                  json_object_to_json_string(reply));
    return v ? json_object_get_string(v) : NULL;
}

static long count_pending(const pclient_device_t *greeter)
{
    char *v = ut_sql("SELECT count(*) FROM invitation i JOIN user_ u ON u._id = i.greeter"
                     " JOIN organization o ON o._id = u.organization"
                     " WHERE o.organization_id = $1 AND u.user_id = $2 AND i.deleted_on IS NULL",
                     greeter->organization_id, greeter->user_id, NULL);
    long n = atol(v);
    free(v);
    return n;
}

/* ---------------------------------------------------------------------------
 * invite_new
 */

START_TEST(new_user_is_admin_only)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    pclient_device_t *olga =
        porg_user(ut_srv, o, o->admin, "olga@dev1", "OUTSIDER", "olga@example.com", "Olga");
    porg_expect_no_trace(ut_srv, bob, it_invite_req("USER", "new@example.com", false),
                         "not_allowed", "User `bob` is not admin");
    porg_expect_no_trace(ut_srv, olga, it_invite_req("USER", "new@example.com", true),
                         "not_allowed", "User `olga` is not admin");

    char *tok = it_invite(ut_srv, o->admin, "USER", "new@example.com");
    /* a version 4 UUID, stored as sent */
    ck_assert_int_eq(tok[12], '4');
    ck_assert_ptr_nonnull(strchr("89ab", tok[16]));
    char *v = it_column(tok, "type || ' ' || claimer_email || ' ' || conduit_state || ' '"
                             " || (deleted_on IS NULL) || ' ' || (claimer_ready_on IS NULL)"
                             " || ' ' || (SELECT user_id FROM user_ WHERE _id = i.greeter)"
                             " || ' ' || (abs(extract(epoch FROM created_on - now())) < 30)");
    ck_assert_str_eq(v, "USER new@example.com 1_WAIT_PEERS true true admin true");
    free(v);

    /* DEVICE invitations: any profile, for oneself */
    char *tb = it_invite(ut_srv, bob, "DEVICE", NULL);
    char *to = it_invite(ut_srv, olga, "DEVICE", NULL);
    v = it_column(to, "type || ' ' || coalesce(claimer_email, '-') || ' '"
                      " || (SELECT user_id FROM user_ WHERE _id = i.greeter)");
    ck_assert_str_eq(v, "DEVICE - olga");
    free(v);
    free(tb);
    free(to);
    free(tok);
    pclient_device_free(bob);
    pclient_device_free(olga);
    porg_free(o);
}
END_TEST

/* parsec-2.12-behaviour.md 4.4: the same greeter's pending invitation of
 * the same kind is answered again, its created_on kept, and announced again
 * (IDLE); a deleted one is never reused. */
START_TEST(new_token_reuse)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *admin2 =
        porg_user(ut_srv, o, o->admin, "root@dev1", "ADMIN", "root@example.com", "Root");
    PGconn *ev = it_listen(ut_srv);

    char *a1 = it_invite(ut_srv, o->admin, "USER", "a@example.com");
    json_object_put(it_expect_event(ev, "invite.status_changed", "admin", a1, "IDLE"));
    char *created = it_column(a1, "created_on::text");
    char *a2 = it_invite(ut_srv, o->admin, "USER", "a@example.com");
    ck_assert_str_eq(a1, a2);
    json_object *e = it_expect_event(ev, "invite.status_changed", "admin", a1, "IDLE");
    ck_assert_str_eq(porg_str(e, "a"), "admin@dev1");
    json_object_put(e);
    char *created2 = it_column(a1, "created_on::text");
    ck_assert_str_eq(created, created2);
    char *b = it_invite(ut_srv, o->admin, "USER", "b@example.com");
    ck_assert_str_ne(a1, b);
    /* emails are compared exactly */
    char *upper = it_invite(ut_srv, o->admin, "USER", "A@example.com");
    ck_assert_str_ne(a1, upper);
    /* one pending DEVICE invitation per greeter */
    char *d1 = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    char *d2 = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    ck_assert_str_eq(d1, d2);
    ck_assert_str_ne(d1, a1);
    /* another greeter, the same email: its own invitation */
    char *r1 = it_invite(ut_srv, admin2, "USER", "a@example.com");
    ck_assert_str_ne(r1, a1);
    char *rd = it_invite(ut_srv, admin2, "DEVICE", NULL);
    ck_assert_str_ne(rd, d1);
    ck_assert_int_eq(count_pending(o->admin), 4);

    /* after a deletion, a fresh token */
    porg_expect(ut_srv, o->admin, it_delete_req(a1, "CANCELLED"), "ok");
    porg_expect(ut_srv, o->admin, it_delete_req(d1, "ROTTEN"), "ok");
    char *a3 = it_invite(ut_srv, o->admin, "USER", "a@example.com");
    char *d3 = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    ck_assert_str_ne(a3, a1);
    ck_assert_str_ne(d3, d1);
    ck_assert_int_eq(count_pending(o->admin), 4);

    PQfinish(ev);
    free(created);
    free(created2);
    char *all[] = {a1, a2, b, upper, d1, d2, r1, rd, a3, d3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    pclient_device_free(admin2);
    porg_free(o);
}
END_TEST

START_TEST(new_already_member)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    porg_expect_no_trace(ut_srv, o->admin, it_invite_req("USER", "bob@example.com", false),
                         "already_member", NULL);
    porg_expect_no_trace(ut_srv, o->admin, it_invite_req("USER", "bob@example.com", true),
                         "already_member", NULL);
    /* the administrator's own email */
    char *own = xasprintf("admin@%s.example.com", o->organization_id);
    for (char *p = own; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    porg_expect_no_trace(ut_srv, o->admin, it_invite_req("USER", own, false), "already_member",
                         NULL);
    /* a member of another organization is not one of this one */
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    free(it_invite(ut_srv, other->admin, "USER", "bob@example.com"));
    /* a revoked user's email may be invited again */
    porg_revoke(ut_srv, o->admin, "bob");
    free(it_invite(ut_srv, o->admin, "USER", "bob@example.com"));
    free(own);
    pclient_device_free(bob);
    porg_free(other);
    porg_free(o);
}
END_TEST

/* DEVICE with send_email needs the greeter's own address; without a mail
 * server the invitation is made and email_sent says NOT_AVAILABLE. */
START_TEST(new_device_mail_needs_human)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *robot = porg_user(ut_srv, o, o->admin, "robot@dev1", "ADMIN", NULL, NULL);
    porg_expect_no_trace(ut_srv, robot, it_invite_req("DEVICE", NULL, true), "not_available", NULL);
    ck_assert_int_eq(count_pending(robot), 0);
    free(it_invite(ut_srv, robot, "DEVICE", NULL));

    /* this server has no --email-host: the invitation stays, NOT_AVAILABLE */
    static const char *const kinds[][2] = {{"DEVICE", NULL}, {"USER", "mail@example.com"}};
    for (int k = 0; k < 2; k++) {
        json_object *rep =
            porg_call(ut_srv, o->admin, it_invite_req(kinds[k][0], kinds[k][1], true));
        ck_assert_str_eq(porg_status(rep), "ok");
        ck_assert_str_eq(email_sent(rep), "NOT_AVAILABLE");
        char *v = it_column(porg_str(rep, "token"), "type");
        ck_assert_str_eq(v, kinds[k][0]);
        free(v);
        json_object_put(rep);
    }
    /* a non-human administrator may invite a user by mail (named by its id) */
    json_object *rep = porg_call(ut_srv, robot, it_invite_req("USER", "x@example.com", true));
    ck_assert_str_eq(porg_status(rep), "ok");
    ck_assert_str_eq(email_sent(rep), "NOT_AVAILABLE");
    json_object_put(rep);
    pclient_device_free(robot);
    porg_free(o);
}
END_TEST

START_TEST(new_bad_input)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *a = o->admin;
    /* type */
    json_object *bad_types[] = {NULL,
                                json_object_new_string("user"),
                                json_object_new_string("ADMIN"),
                                json_object_new_string(""),
                                json_object_new_int(0),
                                json_object_new_boolean(1),
                                json_object_new_array(),
                                json_object_new_object()};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++)
        porg_expect_no_trace(ut_srv, a,
                             set_json(it_invite_req("DEVICE", NULL, false), "type", bad_types[i]),
                             "bad_message", "type");
    porg_expect_no_trace(ut_srv, a, without(it_invite_req("DEVICE", NULL, false), "type"),
                         "bad_message", "type");

    /* claimer_email: an email of at most 254 bytes, nothing else */
    char long_local[80];
    memset(long_local, 'a', 65);
    long_local[65] = '\0';
    char *too_long_local = xasprintf("%s@example.com", long_local);
    char label63[64];
    memset(label63, 'd', 63);
    label63[63] = '\0';
    /* "x@", three labels of 63 and a fourth of 61 or 60, three dots */
    char *e255 = xasprintf("x@%s.%s.%s.%.61s", label63, label63, label63, label63);
    ck_assert_uint_eq(strlen(e255), 255);
    char *e254 = xasprintf("x@%s.%s.%s.%.60s", label63, label63, label63, label63);
    ck_assert_uint_eq(strlen(e254), 254);
    const char *bad_emails[] = {
        "",
        "not-an-email",
        "a@com",
        "x@localhost",
        "a b@ex.com",
        "a@b.c\r\nBcc: eve@example.com",
        "a@-x.com",
        ".a@ex.com",
        too_long_local,
        e255,
        "\xc3\xa9@ex.com",
        "a@ex.com ",
    };
    for (size_t i = 0; i < sizeof bad_emails / sizeof bad_emails[0]; i++)
        porg_expect_no_trace(ut_srv, a, it_invite_req("USER", bad_emails[i], false), "bad_message",
                             "claimer_email");
    json_object *bad_values[] = {NULL, json_object_new_int(1), json_object_new_array(),
                                 json_object_new_object()};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        porg_expect_no_trace(ut_srv, a,
                             set_json(it_invite_req("USER", "ok@example.com", false),
                                      "claimer_email", bad_values[i]),
                             "bad_message", "claimer_email");
    porg_expect_no_trace(ut_srv, a, it_invite_req("USER", NULL, false), "bad_message",
                         "claimer_email");
    /* DEVICE invitations have no claimer_email */
    porg_expect_no_trace(ut_srv, a, it_invite_req("DEVICE", "ok@example.com", false), "bad_message",
                         "claimer_email");
    /* the longest email passes */
    free(it_invite(ut_srv, a, "USER", e254));

    /* send_email */
    json_object *bad_bools[] = {NULL, json_object_new_string("true"), json_object_new_int(1),
                                json_object_new_int(0)};
    for (size_t i = 0; i < sizeof bad_bools / sizeof bad_bools[0]; i++)
        porg_expect_no_trace(
            ut_srv, a, set_json(it_invite_req("DEVICE", NULL, false), "send_email", bad_bools[i]),
            "bad_message", "send_email");
    porg_expect_no_trace(ut_srv, a, without(it_invite_req("DEVICE", NULL, false), "send_email"),
                         "bad_message", "send_email");
    porg_expect_no_trace(
        ut_srv, a,
        set_json(it_invite_req("DEVICE", NULL, false), "greeter", json_object_new_string("x")),
        "bad_message", "greeter");
    free(too_long_local);
    free(e255);
    free(e254);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * invite_list, invite_delete
 */

/* The items of invite_list by dev (borrowed from *reply). */
static json_object *list_of(const pclient_device_t *dev, json_object **reply)
{
    *reply = porg_call(ut_srv, dev, pclient_req("invite_list"));
    ck_assert_str_eq(porg_status(*reply), "ok");
    ck_assert_int_eq(json_object_object_length(*reply), 2);
    json_object *items;
    ck_assert(json_object_object_get_ex(*reply, "invitations", &items));
    ck_assert(json_object_is_type(items, json_type_array));
    return items;
}

START_TEST(list_own_pending_oldest_first)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    char *ta = it_invite(ut_srv, o->admin, "USER", "a@example.com");
    char *td = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    char *tb = it_invite(ut_srv, o->admin, "USER", "b@example.com");
    char *tbob = it_invite(ut_srv, bob, "DEVICE", NULL);
    char *gone = it_invite(ut_srv, o->admin, "USER", "gone@example.com");
    porg_expect(ut_srv, o->admin, it_delete_req(gone, "CANCELLED"), "ok");

    json_object *rep;
    json_object *items = list_of(o->admin, &rep);
    ck_assert_int_eq(json_object_array_length(items), 3);
    const char *want[] = {ta, td, tb};
    for (size_t i = 0; i < 3; i++) {
        json_object *it = json_object_array_get_idx(items, i);
        ck_assert_str_eq(porg_str(it, "token"), want[i]);
        ck_assert_str_eq(porg_str(it, "status"), "IDLE");
        char *created = it_column(
            want[i], "to_char(created_on AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
        ck_assert_str_eq(porg_str(it, "created_on"), created);
        free(created);
        bool user = i != 1;
        ck_assert_str_eq(porg_str(it, "type"), user ? "USER" : "DEVICE");
        ck_assert_int_eq(json_object_object_length(it), user ? 5 : 4);
        if (user)
            ck_assert_str_eq(porg_str(it, "claimer_email"),
                             i == 0 ? "a@example.com" : "b@example.com");
    }
    json_object_put(rep);
    items = list_of(bob, &rep);
    ck_assert_int_eq(json_object_array_length(items), 1);
    ck_assert_str_eq(porg_str(json_object_array_get_idx(items, 0), "token"), tbob);
    json_object_put(rep);
    /* another organization sees none of it */
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    items = list_of(other->admin, &rep);
    ck_assert_int_eq(json_object_array_length(items), 0);
    json_object_put(rep);
    porg_expect_no_trace(ut_srv, o->admin,
                         set_json(pclient_req("invite_list"), "all", json_object_new_boolean(1)),
                         "bad_message", "all");
    free(ta);
    free(td);
    free(tb);
    free(tbob);
    free(gone);
    pclient_device_free(bob);
    porg_free(other);
    porg_free(o);
}
END_TEST

START_TEST(delete_statuses)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    pclient_device_t *laptop = porg_device(ut_srv, o->admin, "dev2");
    porg_t *other = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "USER", "c@example.com");
    char *tother = it_invite(ut_srv, other->admin, "DEVICE", NULL);
    PGconn *ev = it_listen(ut_srv);

    /* not the greeter's: not_found, whoever asks */
    porg_expect_no_trace(ut_srv, o->admin,
                         it_delete_req("00112233445566778899aabbccddeeff", "CANCELLED"),
                         "not_found", NULL);
    porg_expect_no_trace(ut_srv, bob, it_delete_req(t, "CANCELLED"), "not_found", NULL);
    porg_expect_no_trace(ut_srv, other->admin, it_delete_req(t, "CANCELLED"), "not_found", NULL);
    porg_expect_no_trace(ut_srv, o->admin, it_delete_req(tother, "CANCELLED"), "not_found", NULL);
    /* bad fields */
    const char *bad_tokens[] = {"", "xyz", "00112233-4455-6677-8899-aabbccddeeff",
                                "00112233445566778899AABBCCDDEEFF",
                                "00112233445566778899aabbccddeef"};
    for (size_t i = 0; i < sizeof bad_tokens / sizeof bad_tokens[0]; i++)
        porg_expect_no_trace(ut_srv, o->admin, it_delete_req(bad_tokens[i], "CANCELLED"),
                             "bad_message", "token");
    const char *bad_reasons[] = {"", "cancelled", "DONE", "DELETED"};
    for (size_t i = 0; i < sizeof bad_reasons / sizeof bad_reasons[0]; i++)
        porg_expect_no_trace(ut_srv, o->admin, it_delete_req(t, bad_reasons[i]), "bad_message",
                             "reason");
    porg_expect_no_trace(ut_srv, o->admin, without(it_delete_req(t, "ROTTEN"), "reason"),
                         "bad_message", "reason");
    porg_expect_no_trace(ut_srv, o->admin,
                         set_json(it_delete_req(t, "ROTTEN"), "token", json_object_new_int(3)),
                         "bad_message", "token");
    it_expect_no_event(ev, 300);

    /* any device of the greeter's user deletes it */
    porg_expect(ut_srv, laptop, it_delete_req(t, "FINISHED"), "ok");
    json_object *e = it_expect_event(ev, "invite.status_changed", "admin", t, "DELETED");
    ck_assert_str_eq(porg_str(e, "a"), "admin@dev2");
    json_object_put(e);
    char *v = it_column(t, "deleted_reason || ' ' || (abs(extract(epoch FROM deleted_on"
                           " - now())) < 30)");
    ck_assert_str_eq(v, "FINISHED true");
    free(v);
    /* again: already_deleted, the first reason kept */
    porg_expect_no_trace(ut_srv, o->admin, it_delete_req(t, "CANCELLED"), "already_deleted", NULL);
    it_expect_no_event(ev, 300);
    /* the claimer is gone (410), the greeter's steps say already_deleted */
    it_claim_error(ut_srv, o->organization_id, t, pclient_req("invite_info"), 410,
                   "invitation_already_deleted");
    uint8_t key[32] = {1};
    porg_expect_no_trace(ut_srv, o->admin, it_greeter_req(0, t, key, 32), "already_deleted", NULL);
    /* each reason */
    static const char *const reasons[] = {"FINISHED", "CANCELLED", "ROTTEN"};
    for (int i = 0; i < 3; i++) {
        char *email = xasprintf("r%d@example.com", i);
        char *tok = it_invite(ut_srv, o->admin, "USER", email);
        porg_expect(ut_srv, o->admin, it_delete_req(tok, reasons[i]), "ok");
        v = it_column(tok, "deleted_reason");
        ck_assert_str_eq(v, reasons[i]);
        free(v);
        free(tok);
        free(email);
    }
    PQfinish(ev);
    free(t);
    free(tother);
    pclient_device_free(bob);
    pclient_device_free(laptop);
    porg_free(other);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * The cap: 1000 pending invitations per greeter
 */

START_TEST(pending_cap_1000)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
    char **tokens = xcalloc(1000, sizeof *tokens);
    for (int i = 0; i < 1000; i++) {
        char email[64];
        snprintf(email, sizeof email, "u%04d@cap.example.com", i);
        tokens[i] = it_invite(ut_srv, o->admin, "USER", email);
    }
    ck_assert_int_eq(count_pending(o->admin), 1000);
    porg_expect_no_trace(ut_srv, o->admin, it_invite_req("USER", "one-more@example.com", false),
                         "not_allowed", "Too many pending invitations");
    porg_expect_no_trace(ut_srv, o->admin, it_invite_req("DEVICE", NULL, true), "not_allowed",
                         "Too many pending invitations");
    /* a pending one is still answered at the cap; others greet freely */
    char *again = it_invite(ut_srv, o->admin, "USER", "u0500@cap.example.com");
    ck_assert_str_eq(again, tokens[500]);
    free(again);
    free(it_invite(ut_srv, bob, "DEVICE", NULL));

    /* invite_list: all of them, oldest first, in one bounded reply */
    json_object *rep;
    json_object *items = list_of(o->admin, &rep);
    ck_assert_int_eq(json_object_array_length(items), 1000);
    for (int i = 0; i < 1000; i++) {
        json_object *it = json_object_array_get_idx(items, (size_t)i);
        ck_assert_str_eq(porg_str(it, "token"), tokens[i]);
        char email[64];
        snprintf(email, sizeof email, "u%04d@cap.example.com", i);
        ck_assert_str_eq(porg_str(it, "claimer_email"), email);
    }
    size_t bytes = strlen(json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
    ck_assert_uint_lt(bytes, 200 * 1024);
    json_object_put(rep);

    /* a deletion makes room for one */
    porg_expect(ut_srv, o->admin, it_delete_req(tokens[0], "ROTTEN"), "ok");
    free(it_invite(ut_srv, o->admin, "USER", "one-more@example.com"));
    porg_expect_no_trace(ut_srv, o->admin, it_invite_req("USER", "two-more@example.com", false),
                         "not_allowed", "Too many pending invitations");
    for (int i = 0; i < 1000; i++)
        free(tokens[i]);
    free(tokens);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

/* ---------------------------------------------------------------------------
 * invite_info and the claimer's presence
 */

START_TEST(info_answers_from_database)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    pclient_device_t *robot = porg_user(ut_srv, o, o->admin, "robot@dev1", "STANDARD", NULL, NULL);
    pclient_device_t *bob =
        porg_user(ut_srv, o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", "Bob Smith");
    char *tu = it_invite(ut_srv, o->admin, "USER", "new@example.com");
    char *tr = it_invite(ut_srv, robot, "DEVICE", NULL);
    char *tb = it_invite(ut_srv, bob, "DEVICE", NULL);

    json_object *rep =
        it_claim_expect(ut_srv, o->organization_id, tu, pclient_req("invite_info"), "ok");
    ck_assert_int_eq(json_object_object_length(rep), 5);
    ck_assert_str_eq(porg_str(rep, "type"), "USER");
    ck_assert_str_eq(porg_str(rep, "claimer_email"), "new@example.com");
    ck_assert_str_eq(porg_str(rep, "greeter_user_id"), "admin");
    json_object *hh;
    ck_assert(json_object_object_get_ex(rep, "greeter_human_handle", &hh));
    ck_assert_str_eq(porg_str(hh, "label"), "Admin");
    ck_assert_ptr_nonnull(strstr(porg_str(hh, "email"), ".example.com"));
    json_object_put(rep);

    rep = it_claim_expect(ut_srv, o->organization_id, tr, pclient_req("invite_info"), "ok");
    ck_assert_int_eq(json_object_object_length(rep), 4);
    ck_assert_str_eq(porg_str(rep, "type"), "DEVICE");
    ck_assert_str_eq(porg_str(rep, "greeter_user_id"), "robot");
    ck_assert(json_object_object_get_ex(rep, "greeter_human_handle", &hh));
    ck_assert_ptr_null(hh);
    json_object_put(rep);

    rep = it_claim_expect(ut_srv, o->organization_id, tb, pclient_req("invite_info"), "ok");
    ck_assert(json_object_object_get_ex(rep, "greeter_human_handle", &hh));
    ck_assert_str_eq(porg_str(hh, "email"), "bob@example.com");
    ck_assert_str_eq(porg_str(hh, "label"), "Bob Smith");
    json_object_put(rep);
    /* read at each call: a revoked greeter has no human handle any more */
    porg_revoke(ut_srv, o->admin, "bob");
    rep = it_claim_expect(ut_srv, o->organization_id, tb, pclient_req("invite_info"), "ok");
    ck_assert(json_object_object_get_ex(rep, "greeter_human_handle", &hh));
    ck_assert_ptr_null(hh);
    json_object_put(rep);

    it_claim_no_trace(ut_srv, o->organization_id, tu,
                      set_json(pclient_req("invite_info"), "x", json_object_new_int(1)),
                      "bad_message", "x");
    free(tu);
    free(tr);
    free(tb);
    pclient_device_free(robot);
    pclient_device_free(bob);
    porg_free(o);
}
END_TEST

/* READY for 60 s after a claimer command, announced when it turns READY;
 * the invited ping counts for nothing. */
START_TEST(claimer_presence)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "USER", "p@example.com");
    char *other = it_invite(ut_srv, o->admin, "DEVICE", NULL);
    PGconn *ev = it_listen(ut_srv);
    const char *org = o->organization_id;

    /* ping: no presence, no event */
    json_object *ping = pclient_req("ping");
    json_object_object_add(ping, "ping", json_object_new_string("hi"));
    json_object_put(it_claim_expect(ut_srv, org, t, ping, "ok"));
    char *v = it_column(t, "claimer_ready_on IS NULL");
    ck_assert_str_eq(v, "t");
    free(v);
    it_expect_no_event(ev, 300);

    /* the first claimer command: READY, once */
    json_object_put(it_claim_expect(ut_srv, org, t, pclient_req("invite_info"), "ok"));
    json_object *e = it_expect_event(ev, "invite.status_changed", "admin", t, "READY");
    json_object *a;
    ck_assert(json_object_object_get_ex(e, "a", &a));
    ck_assert_ptr_null(a);
    json_object_put(e);
    json_object *rep;
    json_object *items = list_of(o->admin, &rep);
    ck_assert_str_eq(porg_str(json_object_array_get_idx(items, 0), "status"), "READY");
    ck_assert_str_eq(porg_str(json_object_array_get_idx(items, 1), "status"), "IDLE");
    json_object_put(rep);
    json_object_put(it_claim_expect(ut_srv, org, t, pclient_req("invite_info"), "ok"));
    /* a step out of turn still shows the claimer is there */
    json_object_put(it_claim_expect(ut_srv, org, t, it_claimer_req(3, "", 0), "invalid_state"));
    it_expect_no_event(ev, 300);

    /* 61 s later (the last request moved into the past rather than waiting
     * a minute) it is IDLE again, and its next request announces READY */
    free(ut_sql("UPDATE invitation SET claimer_ready_on = claimer_ready_on - interval '61 s'"
                " WHERE token = $1::uuid",
                t, NULL));
    items = list_of(o->admin, &rep);
    ck_assert_str_eq(porg_str(json_object_array_get_idx(items, 0), "status"), "IDLE");
    json_object_put(rep);
    uint8_t key[32] = {7};
    json_object_put(it_claim_expect(ut_srv, org, t, it_claimer_req(0, key, 32), "not_ready"));
    json_object_put(it_expect_event(ev, "invite.status_changed", "admin", t, "READY"));
    json_object_put(it_expect_event(ev, "invite.conduit_updated", "admin", t, NULL));
    items = list_of(o->admin, &rep);
    ck_assert_str_eq(porg_str(json_object_array_get_idx(items, 0), "status"), "READY");
    json_object_put(rep);
    /* a refused claimer request records nothing */
    free(ut_sql("UPDATE invitation SET claimer_ready_on = NULL WHERE token = $1::uuid", t, NULL));
    it_claim_no_trace(ut_srv, org, t, it_claimer_req(0, key, 31), "bad_message",
                      "claimer_public_key");
    it_expect_no_event(ev, 300);
    PQfinish(ev);
    free(t);
    free(other);
    porg_free(o);
}
END_TEST

TEST_SUITE(cmd_invite)
{
    Suite *s = suite_create("cmd_invite");
    TCase *tc = ut_tcase("invite_new");
    tcase_add_test(tc, new_user_is_admin_only);
    tcase_add_test(tc, new_token_reuse);
    tcase_add_test(tc, new_already_member);
    tcase_add_test(tc, new_device_mail_needs_human);
    tcase_add_test(tc, new_bad_input);
    suite_add_tcase(s, tc);
    tc = ut_tcase("list_delete_info");
    tcase_add_test(tc, list_own_pending_oldest_first);
    tcase_add_test(tc, delete_statuses);
    tcase_add_test(tc, info_answers_from_database);
    tcase_add_test(tc, claimer_presence);
    suite_add_tcase(s, tc);
    tc = ut_tcase("cap");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, pending_cap_1000);
    suite_add_tcase(s, tc);
    return s;
}
