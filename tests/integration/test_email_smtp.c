/*
 * tests/integration/test_email_smtp.c - delivering mail to a real SMTP server
 *
 * email_send_invitation() against aiosmtpd on loopback (tests/lib/smtppeer.h)
 * in every way a deployment meets: plain, STARTTLS (required, never falling
 * back to clear text), implicit TLS, a certificate trusted only through
 * --email-ca-file, AUTH PLAIN and LOGIN, and each failure with the outcome
 * it maps to: a refused recipient (BAD_RECIPIENT), and NOT_AVAILABLE for a
 * temporary refusal, a refused sender or message, refused or missing
 * credentials, a server that never answers, one that cannot be connected
 * to in time, and a closed port.  Every test reads the log it produced
 * and checks that no password or token reached it.
 */
#include "test_email_lib.h"

#include "logcap.h"
#include "testenv.h"
#include "testreg.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A test's peer, settings and log, undone by finish(). */
typedef struct {
    smtppeer_t *peer;
    cfg_t cfg;
    char *log;
} env_t;

static smtppeer_t *start_peer(const smtppeer_opts_t *o)
{
    smtppeer_t *p = smtppeer_start(o);
    ck_assert_msg(p, "the SMTP peer did not start");
    return p;
}

/* finish - stop the peer (it must stop cleanly), check the log for secrets,
 * free everything. */
static void finish(env_t *e)
{
    if (!e->log)
        e->log = logcap_end();
    et_assert_no_secret(e->log);
    bool clean = smtppeer_stop(e->peer);
    cfg_free(&e->cfg);
    free(e->log);
    ck_assert_msg(clean, "the SMTP peer did not stop by itself");
}

/* send_user - the USER invitation, the log captured around it. */
static email_result send_user(env_t *e)
{
    logcap_start();
    email_result r = email_send_invitation(&e->cfg, &et_user_inv);
    e->log = logcap_end();
    return r;
}

static void assert_log_has(const env_t *e, const char *what)
{
    ck_assert_msg(strstr(e->log, what), "the log lacks \"%s\":\n%s", what, e->log);
}

/* the envelope and transport of message n as the peer saw them */
static void assert_delivered(const env_t *e, int n, bool tls, const char *mechanism)
{
    json_object *m = smtppeer_message(e->peer, n);
    ck_assert_msg(m, "message %d not received", n);
    char *from = et_str(m, "mail_from", NULL), *to = et_str(m, "rcpt_tos", "0", NULL);
    ck_assert_str_eq(from, "no-reply@parsec.test");
    ck_assert_str_eq(to, "bob@example.com");
    ck_assert_int_eq(json_object_array_length(et_get(m, "rcpt_tos", NULL)), 1);
    ck_assert_int_eq(json_object_get_boolean(et_get(m, "tls", NULL)), tls);
    if (mechanism) {
        char *mech = et_str(m, "auth_mechanism", NULL), *user = et_str(m, "auth_user", NULL);
        ck_assert_str_eq(mech, mechanism);
        ck_assert_str_eq(user, ET_USER);
        free(mech);
        free(user);
    } else {
        ck_assert(json_object_is_type(et_get(m, "auth_mechanism", NULL), json_type_null));
    }
    free(from);
    free(to);
    json_object_put(m);
}

/* ---- successful deliveries ---- */

START_TEST(plain)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){0})};
    et_cfg(&e.cfg, e.peer, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_SUCCESS);
    ck_assert_int_eq(smtppeer_count(e.peer), 1);
    assert_delivered(&e, 0, false, NULL);
    assert_log_has(&e, "email to bob@example.com accepted by 127.0.0.1:");
    finish(&e);
}
END_TEST

START_TEST(starttls)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.tls = "starttls"})};
    et_cfg(&e.cfg, e.peer, "--email-use-tls", "--email-ca-file", smtppeer_ca_file(e.peer), NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_SUCCESS);
    assert_delivered(&e, 0, true, NULL);
    finish(&e);
}
END_TEST

START_TEST(implicit_tls)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.tls = "implicit"})};
    et_cfg(&e.cfg, e.peer, "--email-use-ssl", "--email-ca-file", smtppeer_ca_file(e.peer), NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_SUCCESS);
    assert_delivered(&e, 0, true, NULL);
    finish(&e);
}
END_TEST

START_TEST(auth_plain_over_starttls)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){
                   .tls = "starttls", .auth = "plain", .user = ET_USER, .password = ET_PASSWORD})};
    et_cfg(&e.cfg, e.peer, "--email-use-tls", "--email-ca-file", smtppeer_ca_file(e.peer),
           "--email-host-user", ET_USER, "--email-host-password", ET_PASSWORD, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_SUCCESS);
    assert_delivered(&e, 0, true, "PLAIN");
    finish(&e);
}
END_TEST

START_TEST(auth_login_over_implicit_tls)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){
                   .tls = "implicit", .auth = "login", .user = ET_USER, .password = ET_PASSWORD})};
    et_cfg(&e.cfg, e.peer, "--email-use-ssl", "--email-ca-file", smtppeer_ca_file(e.peer),
           "--email-host-user", ET_USER, "--email-host-password", ET_PASSWORD, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_SUCCESS);
    assert_delivered(&e, 0, true, "LOGIN");
    finish(&e);
}
END_TEST

START_TEST(auth_login_in_clear)
{
    /* Parsec's rule: login whenever user and password are set */
    env_t e = {.peer = start_peer(
                   &(smtppeer_opts_t){.auth = "login", .user = ET_USER, .password = ET_PASSWORD})};
    et_cfg(&e.cfg, e.peer, "--email-host-user", ET_USER, "--email-host-password", ET_PASSWORD,
           NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_SUCCESS);
    assert_delivered(&e, 0, false, "LOGIN");
    finish(&e);
}
END_TEST

START_TEST(credentials_unused_when_auth_not_offered)
{
    /* libcurl logs in only where the server offers AUTH; a server that
     * relays for us without it gets the mail (Parsec's smtplib would have
     * failed with "AUTH not supported") */
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){0})};
    et_cfg(&e.cfg, e.peer, "--email-host-user", ET_USER, "--email-host-password", ET_PASSWORD,
           NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_SUCCESS);
    assert_delivered(&e, 0, false, NULL);
    finish(&e);
}
END_TEST

/* Worker threads send at once, each with its own handle. */
#define THREADS 6
static void *send_thread(void *arg)
{
    const cfg_t *c = arg;
    return (void *)(intptr_t)email_send_invitation(c, &et_user_inv);
}

START_TEST(concurrent_threads)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.tls = "starttls"})};
    et_cfg(&e.cfg, e.peer, "--email-use-tls", "--email-ca-file", smtppeer_ca_file(e.peer), NULL);
    logcap_start();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, send_thread, &e.cfg), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        ck_assert_int_eq((int)(intptr_t)r, EMAIL_SUCCESS);
    }
    e.log = logcap_end();
    ck_assert_int_eq(smtppeer_count(e.peer), THREADS);
    for (int i = 0; i < THREADS; i++)
        assert_delivered(&e, i, true, NULL);
    finish(&e);
}
END_TEST

/* ---- TLS is never optional once asked for ---- */

START_TEST(starttls_not_offered)
{
    /* a plain server: --email-use-tls must not fall back to clear text */
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){0})};
    et_cfg(&e.cfg, e.peer, "--email-use-tls", "--email-host-user", ET_USER, "--email-host-password",
           ET_PASSWORD, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    ck_assert_int_eq(smtppeer_count(e.peer), 0);
    assert_log_has(&e, "email to bob@example.com not sent (NOT_AVAILABLE)");
    assert_log_has(&e, "last command EHLO");
    ck_assert_ptr_null(strstr(e.log, "AUTH"));
    finish(&e);
}
END_TEST

START_TEST(untrusted_certificate)
{
    /* the system's CAs do not know the peer's private CA */
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.tls = "starttls"})};
    et_cfg(&e.cfg, e.peer, "--email-use-tls", NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    ck_assert_int_eq(smtppeer_count(e.peer), 0);
    assert_log_has(&e, "certificate");
    free(e.log);
    e.log = NULL;
    cfg_free(&e.cfg);

    /* the same with implicit TLS, on a server of its own */
    smtppeer_t *implicit = start_peer(&(smtppeer_opts_t){.tls = "implicit"});
    et_cfg(&e.cfg, implicit, "--email-use-ssl", NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    ck_assert_int_eq(smtppeer_count(implicit), 0);
    assert_log_has(&e, "certificate");
    ck_assert(smtppeer_stop(implicit));
    free(e.log);
    e.log = NULL;
    cfg_free(&e.cfg);

    /* trusted through --email-ca-file, the first server takes it */
    et_cfg(&e.cfg, e.peer, "--email-use-tls", "--email-ca-file", smtppeer_ca_file(e.peer), NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_SUCCESS);
    ck_assert_int_eq(smtppeer_count(e.peer), 1);
    finish(&e);
}
END_TEST

START_TEST(certificate_for_another_name)
{
    /* signed by the trusted CA, but for smtp.elsewhere.test, not for the
     * 127.0.0.1 we connect to: the name check still refuses it */
    env_t e = {.peer = start_peer(
                   &(smtppeer_opts_t){.tls = "implicit", .cert_name = "smtp.elsewhere.test"})};
    et_cfg(&e.cfg, e.peer, "--email-use-ssl", "--email-ca-file", smtppeer_ca_file(e.peer), NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    ck_assert_int_eq(smtppeer_count(e.peer), 0);
    assert_log_has(&e, "certificate");
    finish(&e);
}
END_TEST

/* ---- refusals ---- */

START_TEST(recipient_refused)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.refuse_rcpt = "bob@example.com"})};
    et_cfg(&e.cfg, e.peer, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_BAD_RECIPIENT);
    ck_assert_int_eq(smtppeer_count(e.peer), 0);
    assert_log_has(&e, "not sent (BAD_RECIPIENT)");
    assert_log_has(&e, "last command RCPT, reply 550");
    assert_log_has(&e, "Recipient address rejected");
    finish(&e);
}
END_TEST

START_TEST(recipient_temporarily_refused)
{
    /* 4xx is "try later", not a bad address */
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.tempfail_rcpt = "bob@example.com"})};
    et_cfg(&e.cfg, e.peer, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    assert_log_has(&e, "last command RCPT, reply 450");
    finish(&e);
}
END_TEST

START_TEST(sender_refused)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.refuse_mail = true})};
    et_cfg(&e.cfg, e.peer, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    assert_log_has(&e, "last command MAIL, reply 550");
    finish(&e);
}
END_TEST

START_TEST(message_refused)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.refuse_data = true})};
    et_cfg(&e.cfg, e.peer, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    assert_log_has(&e, "reply 554");
    ck_assert_int_eq(smtppeer_count(e.peer), 0);
    finish(&e);
}
END_TEST

START_TEST(authentication_refused)
{
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){
                   .tls = "starttls", .auth = "any", .user = ET_USER, .password = "other"})};
    et_cfg(&e.cfg, e.peer, "--email-use-tls", "--email-ca-file", smtppeer_ca_file(e.peer),
           "--email-host-user", ET_USER, "--email-host-password", ET_PASSWORD, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    ck_assert_int_eq(smtppeer_count(e.peer), 0);
    assert_log_has(&e, "last command AUTH, reply 535");
    finish(&e);
}
END_TEST

START_TEST(authentication_not_configured)
{
    /* a user without a password: no login (Parsec's rule), and the server
     * that wants one says no at MAIL */
    env_t e = {.peer = start_peer(
                   &(smtppeer_opts_t){.auth = "any", .user = ET_USER, .password = ET_PASSWORD})};
    et_cfg(&e.cfg, e.peer, "--email-host-user", ET_USER, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    assert_log_has(&e, "last command MAIL, reply 530");
    ck_assert_int_eq(smtppeer_count(e.peer), 0);
    finish(&e);
}
END_TEST

/* ---- servers that are not there ---- */

START_TEST(connection_refused)
{
    env_t e = {0};
    char port[16];
    snprintf(port, sizeof port, "%d", testenv_free_port());
    et_cfg(&e.cfg, NULL, "--email-host", "127.0.0.1", "--email-port", port, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    assert_log_has(&e, "last command none");
    finish(&e);
}
END_TEST

START_TEST(server_never_answers)
{
    /* connected, then silence: --email-timeout ends it */
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.mode = "silent"})};
    et_cfg(&e.cfg, e.peer, "--email-timeout", "1", NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    assert_log_has(&e, "timed out");
    assert_log_has(&e, "last command none");
    finish(&e);
}
END_TEST

START_TEST(connect_never_completes)
{
    /* the connection itself hangs: --email-connect-timeout ends it, well
     * before --email-timeout */
    env_t e = {.peer = start_peer(&(smtppeer_opts_t){.mode = "backlog"})};
    et_cfg(&e.cfg, e.peer, "--email-connect-timeout", "0.5", "--email-timeout", "600", NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    /* libcurl words it after whichever of its timers fires first: its
     * connect attempt's ("Failed to connect ... Timeout was reached") or
     * the transfer's connect phase ("Connection timeout after 500 ms");
     * either is the connect timeout, long before --email-timeout. */
    ck_assert_msg((strstr(e.log, "Failed to connect") && strstr(e.log, "Timeout was reached")) ||
                      strstr(e.log, "Connection timeout after"),
                  "the log names no connect timeout:\n%s", e.log);
    finish(&e);
}
END_TEST

START_TEST(not_configured)
{
    /* no --email-host at all */
    env_t e = {0};
    et_cfg(&e.cfg, NULL, NULL);
    ck_assert_int_eq(send_user(&e), EMAIL_NOT_AVAILABLE);
    assert_log_has(&e, "no --email-host");
    finish(&e);
}
END_TEST

TEST_SUITE(email_smtp)
{
    Suite *s = suite_create("email_smtp");
    TCase *tc = tcase_create("delivered");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, plain);
    tcase_add_test(tc, starttls);
    tcase_add_test(tc, implicit_tls);
    tcase_add_test(tc, auth_plain_over_starttls);
    tcase_add_test(tc, auth_login_over_implicit_tls);
    tcase_add_test(tc, auth_login_in_clear);
    tcase_add_test(tc, credentials_unused_when_auth_not_offered);
    tcase_add_test(tc, concurrent_threads);
    suite_add_tcase(s, tc);
    tc = tcase_create("not_delivered");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, starttls_not_offered);
    tcase_add_test(tc, untrusted_certificate);
    tcase_add_test(tc, certificate_for_another_name);
    tcase_add_test(tc, recipient_refused);
    tcase_add_test(tc, recipient_temporarily_refused);
    tcase_add_test(tc, sender_refused);
    tcase_add_test(tc, message_refused);
    tcase_add_test(tc, authentication_refused);
    tcase_add_test(tc, authentication_not_configured);
    tcase_add_test(tc, connection_refused);
    tcase_add_test(tc, server_never_answers);
    tcase_add_test(tc, connect_never_completes);
    tcase_add_test(tc, not_configured);
    suite_add_tcase(s, tc);
    return s;
}
