/*
 * tests/integration/test_email_invite.c - the invitation mail as received
 *
 * What a real SMTP server receives from email_send_invitation(), read back
 * by Python's email package (an independent parser): headers, the decoded
 * subject in English and French, both parts, the link; a greeter label full
 * of header and HTML tricks; --email-host MOCKED writing a readable .eml
 * where the log says; and the link followed through the real /redirect
 * endpoint (lighttpd + parsec-fcgi) to the parsec:// URL a client opens.
 */
#include "test_email_lib.h"

#include "logcap.h"
#include "log.h"
#include "strbuf.h"
#include "testenv.h"
#include "testreg.h"
#include "websrv.h"
#include "xalloc.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define URL_USER   "https://parsec.test:6777/redirect/MyOrg?action=claim_user&token=" ET_TOKEN
#define URL_DEVICE "https://parsec.test:6777/redirect/MyOrg?action=claim_device&token=" ET_TOKEN

static void assert_has(const char *hay, const char *needle, const char *where)
{
    ck_assert_msg(strstr(hay, needle), "%s lacks \"%s\":\n%s", where, needle, hay);
}

static void assert_matches(const char *s, const char *pattern)
{
    regex_t re;
    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int r = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    ck_assert_msg(r == 0, "\"%s\" does not match %s", s, pattern);
}

/* The checks every received invitation passes, whatever it says:
 * structure, transfer format, the headers' validity. */
static void assert_well_formed(json_object *msg, bool reply_to)
{
    static const char *const names[] = {"From", "To",         "Reply-To",     "Subject",
                                        "Date", "Message-ID", "MIME-Version", "Content-Type"};
    json_object *hn = et_get(msg, "header_names", NULL);
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!reply_to && strcmp(names[i], "Reply-To") == 0)
            continue;
        ck_assert_msg(n < json_object_array_length(hn), "too few headers: %s",
                      json_object_to_json_string(hn));
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(hn, n)), names[i]);
        n++;
    }
    ck_assert_msg(json_object_array_length(hn) == n, "headers: %s", json_object_to_json_string(hn));
    ck_assert_msg(json_object_array_length(et_get(msg, "defects", NULL)) == 0, "defects: %s",
                  json_object_to_json_string(et_get(msg, "defects", NULL)));
    ck_assert_int_eq(json_object_array_length(et_get(msg, "message_id_defects", NULL)), 0);
    char *mid = et_str(msg, "headers", "message-id", "0", NULL);
    assert_matches(mid, "^<[0-9a-f]{32}@parsec\\.test>$");
    char *date = et_str(msg, "date", NULL);
    assert_matches(date, "^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\+00:00$");
    char *from_name = et_str(msg, "addresses", "from", "0", "name", NULL);
    char *from_addr = et_str(msg, "addresses", "from", "0", "addr", NULL);
    ck_assert_str_eq(from_name, "Parsec");
    ck_assert_str_eq(from_addr, "no-reply@parsec.test");
    char *mime = et_str(msg, "headers", "mime-version", "0", NULL);
    ck_assert_str_eq(mime, "1.0");
    char *ct = et_str(msg, "content_type", NULL);
    ck_assert_str_eq(ct, "multipart/alternative");
    ck_assert_int_eq(json_object_array_length(et_get(msg, "parts", NULL)), 2);
    static const char *const types[] = {"text/plain", "text/html"};
    for (int i = 0; i < 2; i++) {
        char idx[2] = {(char)('0' + i), 0};
        char *t = et_str(msg, "parts", idx, "content_type", NULL);
        char *cs = et_str(msg, "parts", idx, "charset", NULL);
        char *cte = et_str(msg, "parts", idx, "cte", NULL);
        ck_assert_str_eq(t, types[i]);
        ck_assert_str_eq(cs, "utf-8");
        ck_assert_str_eq(cte, "quoted-printable");
        ck_assert_int_eq(json_object_array_length(et_get(msg, "parts", idx, "defects", NULL)), 0);
        free(t);
        free(cs);
        free(cte);
    }
    ck_assert_int_le(json_object_get_int(et_get(msg, "max_line", NULL)), 78);
    ck_assert(!json_object_get_boolean(et_get(msg, "bare_lf", NULL)));
    ck_assert(json_object_get_boolean(et_get(msg, "ascii_only", NULL)));
    free(mid);
    free(date);
    free(from_name);
    free(from_addr);
    free(mime);
    free(ct);
}

/* deliver - inv through a fresh plain peer with --email-language lang;
 * returns what the peer recorded (caller puts), log checked for secrets. */
static json_object *deliver(const email_invitation_t *inv, const char *lang)
{
    smtppeer_t *p = smtppeer_start(&(smtppeer_opts_t){0});
    ck_assert_msg(p, "the SMTP peer did not start");
    cfg_t c;
    et_cfg(&c, p, "--email-language", lang, NULL);
    logcap_start();
    email_result r = email_send_invitation(&c, inv);
    char *log = logcap_end();
    ck_assert_msg(r == EMAIL_SUCCESS, "%s; log:\n%s", email_result_name(r), log);
    et_assert_no_secret(log);
    json_object *m = smtppeer_message(p, 0);
    ck_assert_int_eq(smtppeer_count(p), 1);
    ck_assert(smtppeer_stop(p));
    cfg_free(&c);
    free(log);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* ---- the four mails ---- */

static const struct {
    const char *lang, *subject, *text[3], *html[3];
} user_cases[] = {
    {"en",
     "[Parsec] Alice Doe invited you to MyOrg",
     {"Alice Doe has invited you to join the MyOrg organization on Parsec.",
      "Get in touch with Alice Doe", "https://parsec.cloud/get-parsec"},
     {"<html lang=\"en\">", "<strong>Alice Doe</strong> has invited you",
      ">Open the invitation</a>"}},
    {"fr",
     "[Parsec] Alice Doe vous invite à rejoindre MyOrg",
     {"Alice Doe vous invite à rejoindre l'organisation MyOrg sur Parsec.",
      "Prenez contact avec Alice Doe", "Pour accepter l'invitation\u00a0:"},
     {"<html lang=\"fr\">", "<strong>Alice Doe</strong> vous invite à rejoindre",
      ">Ouvrir l'invitation</a>"}},
};

START_TEST(user_invitation)
{
    json_object *rec = deliver(&et_user_inv, user_cases[_i].lang);
    char *to = et_str(rec, "rcpt_tos", "0", NULL);
    ck_assert_str_eq(to, "bob@example.com");
    json_object *msg = et_get(rec, "message", NULL);
    assert_well_formed(msg, true);
    char *subject = et_str(msg, "headers", "subject", "0", NULL);
    ck_assert_str_eq(subject, user_cases[_i].subject);
    char *hto = et_str(msg, "addresses", "to", "0", "addr", NULL);
    char *rname = et_str(msg, "addresses", "reply-to", "0", "name", NULL);
    char *raddr = et_str(msg, "addresses", "reply-to", "0", "addr", NULL);
    ck_assert_str_eq(hto, "bob@example.com");
    ck_assert_str_eq(rname, "Alice Doe");
    ck_assert_str_eq(raddr, "alice@example.com");
    char *text = et_str(msg, "parts", "0", "content", NULL);
    char *html = et_str(msg, "parts", "1", "content", NULL);
    for (int i = 0; i < 3; i++) {
        assert_has(text, user_cases[_i].text[i], "the text part");
        assert_has(html, user_cases[_i].html[i], "the HTML part");
    }
    assert_has(text, "\n   " URL_USER "\n", "the text part");
    assert_has(
        html,
        "href=\"https://parsec.test:6777/redirect/MyOrg?action=claim_user&amp;token=" ET_TOKEN "\"",
        "the HTML part");
    assert_has(text, "https://docs.parsec.cloud", "the text part");
    free(to);
    free(subject);
    free(hto);
    free(rname);
    free(raddr);
    free(text);
    free(html);
    json_object_put(rec);
}
END_TEST

static const struct {
    const char *lang, *subject, *text, *html;
} device_cases[] = {
    {"en", "[Parsec] New device invitation to MyOrg", "start greeting\n   the new device",
     "a new device to the <strong>MyOrg</strong>"},
    {"fr", "[Parsec] Invitation à ajouter un appareil à MyOrg",
     "lancez l'accueil du nouvel appareil",
     "nouvel appareil à l'organisation <strong>MyOrg</strong>"},
};

START_TEST(device_invitation)
{
    json_object *rec = deliver(&et_device_inv, device_cases[_i].lang);
    char *to = et_str(rec, "rcpt_tos", "0", NULL);
    ck_assert_str_eq(to, "alice@example.com");
    json_object *msg = et_get(rec, "message", NULL);
    assert_well_formed(msg, false);
    char *subject = et_str(msg, "headers", "subject", "0", NULL);
    ck_assert_str_eq(subject, device_cases[_i].subject);
    char *text = et_str(msg, "parts", "0", "content", NULL);
    char *html = et_str(msg, "parts", "1", "content", NULL);
    assert_has(text, device_cases[_i].text, "the text part");
    assert_has(html, device_cases[_i].html, "the HTML part");
    assert_has(text, URL_DEVICE, "the text part");
    ck_assert_ptr_null(strstr(text, "Alice"));
    free(to);
    free(subject);
    free(text);
    free(html);
    json_object_put(rec);
}
END_TEST

/* squeeze_spaces - runs of spaces in s become one, in place. */
static void squeeze_spaces(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++)
        if (*p != ' ' || o == s || o[-1] != ' ')
            *o++ = *p;
    *o = '\0';
}

/* A label made to break out of a header or into the HTML stays text:
 * its line breaks become spaces, its markup is escaped. */
START_TEST(hostile_label)
{
    static const char label[] =
        "Eve\r\nBcc: victim@example.com\r\n\r\n<script>alert('x')</script> & \"Co\"";
    static const char shown[] =
        "Eve  Bcc: victim@example.com    <script>alert('x')</script> & \"Co\"";
    email_invitation_t inv = et_user_inv;
    inv.greeter_label = label;
    json_object *rec = deliver(&inv, "en");
    json_object *msg = et_get(rec, "message", NULL);
    assert_well_formed(msg, true); /* exactly the eight headers, no defect */
    ck_assert_int_eq(json_object_array_length(et_get(rec, "rcpt_tos", NULL)), 1);
    char *subject = et_str(msg, "headers", "subject", "0", NULL);
    char *want = xasprintf("[Parsec] %s invited you to MyOrg", shown);
    ck_assert_str_eq(subject, want);
    /* Python reads a display name made of several encoded words with a
     * space between them (RFC 2047 6.2 says to drop it; mail clients do),
     * and folds runs of spaces: compare the words */
    char *rname = et_str(msg, "addresses", "reply-to", "0", "name", NULL);
    squeeze_spaces(rname);
    ck_assert_str_eq(rname, "Eve Bcc: victim@example.com <script>alert('x')</script> & \"Co\"");
    char *text = et_str(msg, "parts", "0", "content", NULL);
    assert_has(text, shown, "the text part");
    char *html = et_str(msg, "parts", "1", "content", NULL);
    assert_has(html,
               "<strong>Eve  Bcc: victim@example.com    &lt;script&gt;alert(&#39;x&#39;)"
               "&lt;/script&gt; &amp; &quot;Co&quot;</strong>",
               "the HTML part");
    ck_assert_ptr_null(strstr(html, "<script>"));
    free(want);
    free(rname);
    free(text);
    free(subject);
    free(html);
    json_object_put(rec);
}
END_TEST

/* ---- MOCKED ---- */

static char *log_value_after(const char *log, const char *marker)
{
    const char *p = strstr(log, marker);
    ck_assert_msg(p, "the log lacks \"%s\":\n%s", marker, log);
    p += strlen(marker);
    return xstrndup(p, strcspn(p, "\n"));
}

START_TEST(mocked_writes_eml)
{
    /* a private TMPDIR: this test process is the only one writing there */
    const char *base = getenv("PARSEC_TEST_TMP");
    char *tmp = xasprintf("%s/mocked.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    setenv("TMPDIR", tmp, 1);

    cfg_t c;
    et_cfg(&c, NULL, "--email-host", "MOCKED", "--email-language", "fr", NULL);
    logcap_start();
    ck_assert_int_eq(email_send_invitation(&c, &et_user_inv), EMAIL_SUCCESS);
    ck_assert_int_eq(email_send_invitation(&c, &et_device_inv), EMAIL_SUCCESS);
    char *log = logcap_end();
    et_assert_no_secret(log);

    /* the directory, said once at INFO, is private */
    ck_assert_ptr_nonnull(strstr(log, " INFO test["));
    char *dir = log_value_after(log, "--email-host MOCKED: emails are written to ");
    char *prefix = xasprintf("%s/parsec-email-", tmp);
    ck_assert_msg(strncmp(dir, prefix, strlen(prefix)) == 0, "directory %s", dir);
    struct stat st;
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0700);

    /* one file per mail, each named in the log */
    char *first = log_value_after(log, "email to bob@example.com not sent (--email-host MOCKED), "
                                       "written to ");
    char *second = log_value_after(log, "email to alice@example.com not sent (--email-host "
                                        "MOCKED), written to ");
    ck_assert_str_ne(first, second);
    const char *files[2] = {first, second};
    const char *subjects[2] = {"[Parsec] Alice Doe vous invite à rejoindre MyOrg",
                               "[Parsec] Invitation à ajouter un appareil à MyOrg"};
    for (int i = 0; i < 2; i++) {
        char *want = xasprintf("%s/mail-", dir);
        ck_assert_msg(strncmp(files[i], want, strlen(want)) == 0, "file %s", files[i]);
        ck_assert_str_eq(files[i] + strlen(files[i]) - 4, ".eml");
        free(want);
        ck_assert_int_eq(stat(files[i], &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        json_object *msg = smtppeer_parse_file(files[i]);
        ck_assert_ptr_nonnull(msg);
        assert_well_formed(msg, i == 0);
        char *subject = et_str(msg, "headers", "subject", "0", NULL);
        ck_assert_str_eq(subject, subjects[i]);
        char *text = et_str(msg, "parts", "0", "content", NULL);
        assert_has(text, i == 0 ? URL_USER : URL_DEVICE, "the text part");
        free(subject);
        free(text);
        json_object_put(msg);
    }
    free(first);
    free(second);
    free(prefix);
    free(dir);
    free(log);
    cfg_free(&c);
    testenv_rm_rf(tmp);
    free(tmp);
}
END_TEST

/* ---- the link, followed ---- */

/* The path and query of the mail's link, GET through lighttpd to the
 * worker's /redirect, answer 302 to the parsec:// URL of the invitation. */
static void follow(const char *backend, const email_invitation_t *inv, const char *want)
{
    char *db = testenv_db_create();
    char *dbv = xasprintf("PARSEC_DB=%s", db);
    char *addr = xasprintf("PARSEC_BACKEND_ADDR=%s", backend);
    const char *env[] = {dbv, addr, "PARSEC_DB_MIN_CONNECTIONS=1", "PARSEC_DB_MAX_CONNECTIONS=2",
                         NULL};
    websrv_t *w = websrv_start(WEBSRV_LIGHTTPD, env, NULL);
    ck_assert_msg(w, "lighttpd did not start");

    char *link = email_invitation_url(backend, inv);
    ck_assert_ptr_nonnull(link);
    const char *path = strstr(link, "/redirect/");
    ck_assert_ptr_nonnull(path);
    char *url = websrv_urlf(w, path);
    http_result_t *r = testhttp_request("GET", url, NULL, NULL, 0);
    ck_assert_int_eq(r->status, 302);
    char *loc = testhttp_header(r, "Location");
    ck_assert_ptr_nonnull(loc);
    ck_assert_str_eq(loc, want);

    free(loc);
    testhttp_free(r);
    free(url);
    free(link);
    ck_assert(websrv_stop(w));
    testenv_db_drop(db);
    free(db);
    free(dbv);
    free(addr);
}

START_TEST(link_redirects_to_parsec_url)
{
    follow("parsec://parsec.test:6777", &et_user_inv,
           "parsec://parsec.test:6777/MyOrg?action=claim_user&token=" ET_TOKEN);
    follow("parsec://localhost:8080?no_ssl=true", &et_device_inv,
           "parsec://localhost:8080/MyOrg?action=claim_device&token=" ET_TOKEN "&no_ssl=true");
}
END_TEST

TEST_SUITE(email_invite)
{
    testenv_db_setup();
    Suite *s = suite_create("email_invite");
    TCase *tc = tcase_create("received");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, user_invitation, 0, 2);
    tcase_add_loop_test(tc, device_invitation, 0, 2);
    tcase_add_test(tc, hostile_label);
    tcase_add_test(tc, mocked_writes_eml);
    tcase_add_test(tc, link_redirects_to_parsec_url);
    suite_add_tcase(s, tc);
    return s;
}
