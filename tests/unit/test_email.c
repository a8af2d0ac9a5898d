/*
 * tests/unit/test_email.c - composing mails without a mail server
 *
 * The message format (common/email_compose.c): header lines, folding,
 * RFC 2047 encoded words, quoted-printable round trips, header injection
 * attempts through every value; the invitation link (email_invite.c,
 * backend_addr.c) for every shape of --backend-addr; the invitation message
 * in both languages and its refusals, with the log checked for the token.
 * Delivery and what a real parser reads are in
 * tests/integration/test_email_smtp.c and test_email_invite.c.
 */
#include "backend_addr.h"
#include "crypto.h"
#include "email.h"
#include "html.h"
#include "log.h"
#include "logcap.h"
#include "proto.h"
#include "strbuf.h"
#include "testreg.h"
#include "xalloc.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN "0123456789abcdef0123456789abcdef"
#define NOW   ((time_t)1700000000) /* Tue, 14 Nov 2023 22:13:20 +0000 */

/* ---- helpers: a message split the way a reader does ---- */

/* the header block, unfolded (CRLF + space joined), one header per line,
 * lines separated by "\n" */
static char *unfolded_headers(const char *msg)
{
    const char *end = strstr(msg, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    strbuf_t b = STRBUF_INIT;
    for (const char *p = msg; p < end + 2; p++) {
        if (p[0] == '\r' && p[1] == '\n') {
            p++;
            if (p[1] != ' ' && p[1] != '\t')
                strbuf_putc(&b, '\n');
            continue;
        }
        strbuf_putc(&b, *p);
    }
    return strbuf_detach(&b);
}

/* the value of header name in the unfolded block (malloc'd), NULL if none */
static char *header(const char *msg, const char *name)
{
    char *h = unfolded_headers(msg);
    char *want = xasprintf("%s: ", name), *v = NULL;
    for (char *line = strtok(h, "\n"); line; line = strtok(NULL, "\n"))
        if (strncasecmp(line, want, strlen(want)) == 0) {
            ck_assert_msg(!v, "header %s twice", name);
            v = xstrdup(line + strlen(want));
        }
    free(want);
    free(h);
    return v;
}

/* does any header line (unfolded) start with name? */
static bool has_header(const char *msg, const char *name)
{
    char *v = header(msg, name);
    bool there = v != NULL;
    free(v);
    return there;
}

/* RFC 2047 "B" words of v (space separated) decoded and joined; plain text
 * kept.  Only what email_compose writes. */
static char *decode_words(const char *v)
{
    strbuf_t b = STRBUF_INIT;
    char *copy = xstrdup(v);
    bool prev_word = false;
    for (char *w = strtok(copy, " "); w; w = strtok(NULL, " ")) {
        size_t n = strlen(w);
        if (n > 12 && strncmp(w, "=?UTF-8?B?", 10) == 0 && strcmp(w + n - 2, "?=") == 0) {
            ck_assert_uint_le(n, 75);
            size_t len;
            uint8_t *raw = crypto_b64_decode(w + 10, n - 12, &len);
            ck_assert_ptr_nonnull(raw);
            /* each word holds whole characters */
            ck_assert(proto_valid_utf8(raw, len));
            strbuf_append(&b, raw, len);
            free(raw);
            prev_word = true;
        } else {
            if (b.len && !prev_word)
                strbuf_putc(&b, ' ');
            strbuf_puts(&b, w);
            prev_word = false;
        }
    }
    free(copy);
    return b.s ? strbuf_detach(&b) : xstrdup("");
}

static int hexval(char c)
{
    return crypto_hex_digit((unsigned char)c);
}

/* quoted-printable decoding (RFC 2045 6.7), CRLF kept as "\n" */
static char *qp_decode(const char *s, size_t n)
{
    strbuf_t b = STRBUF_INIT;
    strbuf_append(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=') {
            /* two uppercase hex digits (RFC 2045) */
            if (!(i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) ||
                (s[i + 1] >= 'a' && s[i + 1] <= 'f') || (s[i + 2] >= 'a' && s[i + 2] <= 'f'))
                ck_abort_msg("bad escape at %zu: %.3s", i, s + i);
            strbuf_putc(&b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
            strbuf_putc(&b, '\n');
            i++;
        } else {
            strbuf_putc(&b, s[i]);
        }
    }
    return strbuf_detach(&b);
}

/* the multipart boundary of msg (malloc'd) */
static char *boundary_of(const char *msg)
{
    char *ct = header(msg, "Content-Type");
    const char *q = strstr(ct, "boundary=\"");
    ck_assert_ptr_nonnull(q);
    char *boundary = xstrndup(q + 10, strcspn(q + 10, "\""));
    free(ct);
    return boundary;
}

/* part n (0 text, 1 html) of msg, still encoded; *len bytes */
static const char *part_body(const char *msg, int n, size_t *len)
{
    char *boundary = boundary_of(msg);
    char *delim = xasprintf("\r\n--%s", boundary);
    const char *p = msg;
    for (int i = 0; i <= n; i++) {
        p = strstr(p, delim);
        ck_assert_ptr_nonnull(p);
        p += strlen(delim);
    }
    const char *start = strstr(p, "\r\n\r\n");
    ck_assert_ptr_nonnull(start);
    start += 4;
    const char *end = strstr(start, delim);
    ck_assert_ptr_nonnull(end);
    *len = (size_t)(end - start);
    free(delim);
    free(boundary);
    return start;
}

static char *part_text(const char *msg, int n)
{
    size_t len;
    const char *body = part_body(msg, n, &len);
    return qp_decode(body, len);
}

/* wire_error - why msg is not 7-bit lines ending in CRLF of at most 78
 * characters, or NULL.  (Check's assertions are slow: one per message.) */
static const char *wire_error(const char *msg, size_t len, size_t *at)
{
    if (strlen(msg) != len)
        return "NUL byte";
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)msg[i];
        *at = i;
        if (c >= 0x80)
            return "8-bit byte";
        if (c == '\n') {
            if (i == 0 || msg[i - 1] != '\r')
                return "bare LF";
            col = 0;
        } else if (c == '\r') {
            if (i + 1 >= len || msg[i + 1] != '\n')
                return "bare CR";
        } else if (c < 0x20 && c != '\t') {
            return "control byte";
        } else if (++col > 78) {
            return "line longer than 78";
        }
    }
    if (len < 2 || msg[len - 2] != '\r' || msg[len - 1] != '\n')
        return "no final CRLF";
    return NULL;
}

static void assert_wire_format(const char *msg, size_t len)
{
    size_t at = 0;
    const char *why = wire_error(msg, len, &at);
    ck_assert_msg(!why, "%s at byte %zu", why, at);
}

static char *compose(const email_message_t *m, size_t *len)
{
    char *msg = email_compose(m, NOW, len);
    ck_assert_ptr_nonnull(msg);
    assert_wire_format(msg, *len);
    return msg;
}

static const email_message_t base_msg = {
    .from = "Parsec <no-reply@parsec.example.com>",
    .to = "alice@example.com",
    .subject = "Hello",
    .text = "text body\n",
    .html = "<p>html body</p>\n",
};

/* ---- the message format ---- */

START_TEST(compose_headers)
{
    size_t len;
    char *msg = compose(&base_msg, &len);
    char *h = unfolded_headers(msg);
    /* order: From, To, Subject, Date, Message-ID, MIME-Version, Content-Type */
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^From: \"Parsec\" <no-reply@parsec\\.example\\.com>\n"
                             "To: alice@example\\.com\n"
                             "Subject: Hello\n"
                             "Date: Tue, 14 Nov 2023 22:13:20 \\+0000\n"
                             "Message-ID: <[0-9a-f]{32}@parsec\\.example\\.com>\n"
                             "MIME-Version: 1\\.0\n"
                             "Content-Type: multipart/alternative; "
                             "boundary=\"=_parsec_[0-9a-f]{32}\"\n$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_msg(regexec(&re, h, 0, NULL, 0) == 0, "headers:\n%s", h);
    regfree(&re);
    ck_assert(!has_header(msg, "Reply-To"));

    char *text = part_text(msg, 0), *html = part_text(msg, 1);
    ck_assert_str_eq(text, "text body\n");
    ck_assert_str_eq(html, "<p>html body</p>\n");
    ck_assert_ptr_nonnull(strstr(msg, "Content-Type: text/plain; charset=utf-8\r\n"
                                      "Content-Transfer-Encoding: quoted-printable\r\n"));
    ck_assert_ptr_nonnull(strstr(msg, "Content-Type: text/html; charset=utf-8\r\n"
                                      "Content-Transfer-Encoding: quoted-printable\r\n"));
    /* the closing delimiter ends the message */
    char *b = boundary_of(msg);
    char *closing = xasprintf("\r\n--%s--\r\n", b);
    ck_assert_str_eq(msg + len - strlen(closing), closing);
    free(closing);
    free(b);
    free(text);
    free(html);
    free(h);
    free(msg);
}
END_TEST

/* Two messages never share a Message-ID or a boundary. */
START_TEST(compose_fresh_ids)
{
    size_t len;
    char *a = compose(&base_msg, &len), *b = compose(&base_msg, &len);
    char *ida = header(a, "Message-ID"), *idb = header(b, "Message-ID");
    char *cta = header(a, "Content-Type"), *ctb = header(b, "Content-Type");
    ck_assert_str_ne(ida, idb);
    ck_assert_str_ne(cta, ctb);
    free(ida);
    free(idb);
    free(cta);
    free(ctb);
    free(a);
    free(b);
}
END_TEST

START_TEST(compose_sender_forms)
{
    static const struct {
        const char *from, *want;
    } cases[] = {
        {"no-reply@parsec.example.com", "no-reply@parsec.example.com"},
        {"<no-reply@parsec.example.com>", "no-reply@parsec.example.com"},
        {"  Parsec Cloud   <a@b.example>", "\"Parsec Cloud\" <a@b.example>"},
        {"Say \"hi\" \\o/ <a@b.example>", "\"Say \\\"hi\\\" \\\\o/\" <a@b.example>"},
        /* non-ASCII: an encoded word; "=?" too, or a reader would decode it */
        {"Équipe Parsec <a@b.example>", "=?UTF-8?B?w4lxdWlwZSBQYXJzZWM=?= <a@b.example>"},
        {"=?x?= <a@b.example>", "=?UTF-8?B?PT94Pz0=?= <a@b.example>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        email_message_t m = base_msg;
        m.from = cases[i].from;
        size_t len;
        char *msg = compose(&m, &len);
        char *from = header(msg, "From");
        ck_assert_str_eq(from, cases[i].want);
        free(from);
        free(msg);
    }
}
END_TEST

START_TEST(compose_refuses_bad_addresses)
{
    static const char *const bad[] = {
        "",
        "nobody",
        "a@b.example\r\nBcc: eve@evil.example",
        "a@b.example\nBcc: eve@evil.example",
        "a b@c.example",
        "<a@b.example>",
        "a@b.example>",
        "a@b.example, eve@evil.example",
        "\"a\"@b.example",
    };
    size_t len;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        email_message_t m = base_msg;
        m.to = bad[i];
        ck_assert_msg(!email_compose(&m, NOW, &len), "to %s accepted", bad[i]);
        m = base_msg;
        m.reply_to_name = "Alice";
        m.reply_to_addr = bad[i];
        ck_assert_msg(!email_compose(&m, NOW, &len), "reply-to %s accepted", bad[i]);
        m = base_msg;
        char *from = xasprintf("Parsec <%s>", bad[i]);
        m.from = from;
        ck_assert_msg(!email_compose(&m, NOW, &len), "from %s accepted", from);
        free(from);
    }
    email_message_t m = base_msg;
    m.from = NULL;
    ck_assert_ptr_null(email_compose(&m, NOW, &len));
    m = base_msg;
    m.reply_to_name = "Alice"; /* a name without an address */
    ck_assert_ptr_null(email_compose(&m, NOW, &len));
}
END_TEST

/* Whatever a subject or a display name holds, the header block keeps its
 * seven or eight headers and the value decodes back to what was given. */
START_TEST(compose_no_header_injection)
{
    static const char *const evil[] = {
        "Hi\r\nBcc: eve@evil.example", "Hi\nBcc: eve@evil.example",   "Hi\rBcc: eve@evil.example",
        "Hi\r\n\r\n--body--",          "\r\nContent-Type: text/html", "x\x01y\x7fz\ttab",
        "=?UTF-8?B?QmNjOiBldmVA?=",    "Hi\xc2\x85NEL\xe2\x80\xa8LS",
    };
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        email_message_t m = base_msg;
        m.subject = evil[i];
        m.reply_to_name = evil[i];
        m.reply_to_addr = "greeter@example.com";
        char *from = xasprintf("%s <no-reply@parsec.example.com>", evil[i]);
        m.from = from;
        size_t len;
        char *msg = compose(&m, &len);
        char *h = unfolded_headers(msg);
        int lines = 0;
        for (const char *p = h; *p; p++)
            lines += *p == '\n';
        ck_assert_msg(lines == 8, "%d header lines for value %zu:\n%s", lines, i, h);
        ck_assert(!has_header(msg, "Bcc"));
        char *subject = header(msg, "Subject");
        char *decoded = decode_words(subject);
        ck_assert_str_eq(decoded, evil[i]);
        free(decoded);
        char *reply = header(msg, "Reply-To");
        ck_assert_ptr_nonnull(strstr(reply, " <greeter@example.com>"));
        *strstr(reply, " <greeter@example.com>") = '\0';
        decoded = decode_words(reply);
        ck_assert_str_eq(decoded, evil[i]);
        free(decoded);
        free(reply);
        free(subject);
        free(h);
        free(msg);
        free(from);
    }
}
END_TEST

START_TEST(compose_subject_encoding)
{
    /* plain ASCII stays readable, folded at spaces when long */
    email_message_t m = base_msg;
    m.subject = "[Parsec] Alice invited you to MyOrg and this subject is long enough to be folded";
    size_t len;
    char *msg = compose(&m, &len);
    ck_assert_ptr_nonnull(strstr(msg, "Subject: [Parsec] Alice invited you"));
    char *s = header(msg, "Subject");
    ck_assert_str_eq(s, m.subject);
    free(s);
    free(msg);

    /* long UTF-8: several words, each of whole characters (decode_words
     * checks), no line over 78 (compose checks) */
    strbuf_t b = STRBUF_INIT;
    for (int i = 0; i < 40; i++)
        strbuf_puts(&b, "é€😀a");
    m.subject = b.s;
    msg = compose(&m, &len);
    s = header(msg, "Subject");
    char *d = decode_words(s);
    ck_assert_str_eq(d, b.s);
    free(d);
    free(s);
    free(msg);

    /* one very long word: encoded too, never a line over 78 */
    strbuf_free(&b);
    for (int i = 0; i < 300; i++)
        strbuf_putc(&b, 'x');
    m.subject = b.s;
    msg = compose(&m, &len);
    s = header(msg, "Subject");
    d = decode_words(s);
    ck_assert_str_eq(d, b.s);
    free(d);
    free(s);
    free(msg);
    strbuf_free(&b);

    /* bytes that are not UTF-8 still produce a bounded, well-formed line */
    m.subject = "\xff\xfe\x80 broken";
    msg = email_compose(&m, NOW, &len);
    ck_assert_ptr_nonnull(msg);
    assert_wire_format(msg, len);
    free(msg);
}
END_TEST

START_TEST(qp_vectors)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain\n", "plain\r\n"},
        {"a=b\n", "a=3Db\r\n"},
        {"é\n", "=C3=A9\r\n"},
        {"trailing space \nand tab\t\n", "trailing space=20\r\nand tab=09\r\n"},
        {"end space ", "end space=20"},
        {".dot line\n", "=2Edot line\r\n"},
        {"From me\nFromage\n", "=46rom me\r\nFromage\r\n"},
        {"crlf\r\nkept\r\n", "crlf\r\nkept\r\n"},
        {"lone\rcr\n", "lone=0Dcr\r\n"},
        {"nul?\x01\n", "nul?=01\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        email_message_t m = base_msg;
        m.text = cases[i].in;
        size_t len, blen;
        char *msg = compose(&m, &len);
        const char *body = part_body(msg, 0, &blen);
        ck_assert_msg(blen == strlen(cases[i].out) && memcmp(body, cases[i].out, blen) == 0,
                      "case %zu: got %.*s", i, (int)blen, body);
        free(msg);
    }
}
END_TEST

/* Random texts (bytes of every value, long lines, line starts that need
 * care) come back byte for byte; every encoded line fits in 76. */
START_TEST(qp_round_trip)
{
    for (int round = 0; round < 200; round++) {
        uint8_t r[600];
        ck_assert(crypto_random(r, sizeof r));
        size_t n = 1 + r[0] * 2;
        char *text = xmalloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            uint8_t c = r[i + 1];
            /* favour the interesting bytes */
            static const char special[] = " \t=.F\n\n";
            text[i] = (c % 4 == 0) ? special[c / 4 % (sizeof special - 1)] : (char)(c ? c : 'z');
            if (text[i] == '\r')
                text[i] = 'r'; /* CR is a line break's half: tested above */
        }
        text[n] = '\0';
        email_message_t m = base_msg;
        m.text = text;
        size_t len, blen;
        char *msg = compose(&m, &len);
        const char *body = part_body(msg, 0, &blen);
        for (const char *p = body, *e; p < body + blen; p = e + 2) {
            e = strstr(p, "\r\n");
            if (!e || e > body + blen)
                e = body + blen;
            if ((size_t)(e - p) > 76 || (e > p && (e[-1] == ' ' || e[-1] == '\t')))
                ck_abort_msg("round %d: bad line %.*s", round, (int)(e - p), p);
        }
        char *back = qp_decode(body, blen);
        ck_assert_msg(strcmp(back, text) == 0, "round %d differs", round);
        free(back);
        free(msg);
        free(text);
    }
}
END_TEST

/* ---- the invitation link ---- */

START_TEST(backend_addr_forms)
{
    static const struct {
        const char *addr, *http;
    } ok[] = {
        {"parsec://parsec.example.com", "https://parsec.example.com"},
        {"parsec://parsec.example.com/", "https://parsec.example.com"},
        {"PARSEC://Parsec.Example.com:443", "https://Parsec.Example.com"},
        {"parsec://parsec.example.com:6777", "https://parsec.example.com:6777"},
        {"parsec://localhost:6777?no_ssl=true", "http://localhost:6777"},
        {"parsec://localhost/?no_ssl=TRUE", "http://localhost"},
        {"parsec://localhost:80?no_ssl=true", "http://localhost"},
        {"parsec://localhost:443?no_ssl=true", "http://localhost:443"},
        {"parsec://localhost:80?no_ssl=false", "https://localhost:80"},
        {"parsec://127.0.0.1:1", "https://127.0.0.1:1"},
        {"parsec://[::1]:6777?no_ssl=true", "http://[::1]:6777"},
        {"parsec://[2001:db8::1]", "https://[2001:db8::1]"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        backend_addr_t a;
        ck_assert_msg(backend_addr_parse(ok[i].addr, &a), "%s refused", ok[i].addr);
        char *http = backend_addr_http_url(&a);
        ck_assert_str_eq(http, ok[i].http);
        free(http);
    }
    static const char *const bad[] = {
        NULL,
        "",
        "https://parsec.example.com",
        "parsec://",
        "parsec://:6777",
        "parsec://host:0",
        "parsec://host:65536",
        "parsec://host:123456",
        "parsec://host:",
        "parsec://host:12a",
        "parsec://host/path",
        "parsec://host#frag",
        "parsec://host?no_ssl=maybe",
        "parsec://host?other=1",
        "parsec://host?no_ssl=true&x=1",
        "parsec://ho st",
        "parsec://host\r\n",
        "parsec://user@host",
        "parsec://[::1",
        "parsec://[::g]",
        "parsec://[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        backend_addr_t a;
        ck_assert_msg(!backend_addr_parse(bad[i], &a), "%s accepted", bad[i] ? bad[i] : "NULL");
    }
}
END_TEST

START_TEST(invitation_url)
{
    email_invitation_t inv = {
        .type = EMAIL_INVITE_USER, .organization_id = "My_Org-1", .token = TOKEN};
    char *u = email_invitation_url("parsec://parsec.example.com", &inv);
    ck_assert_str_eq(u,
                     "https://parsec.example.com/redirect/My_Org-1?action=claim_user&token=" TOKEN);
    free(u);
    inv.type = EMAIL_INVITE_DEVICE;
    u = email_invitation_url("parsec://127.0.0.1:6777?no_ssl=true", &inv);
    ck_assert_str_eq(u, "http://127.0.0.1:6777/redirect/My_Org-1?action=claim_device&token=" TOKEN);
    free(u);

    /* refused: bad address, organization or token */
    ck_assert_ptr_null(email_invitation_url(NULL, &inv));
    ck_assert_ptr_null(email_invitation_url("http://parsec.example.com", &inv));
    static const char *const bad_tokens[] = {
        NULL,
        "",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0",
        "0123456789abcdef0123456789abcdeg",
        "01234567-89ab-cdef-0123-456789abcdef",
        "0123456789abcdef&action=claim_user",
    };
    for (size_t i = 0; i < sizeof bad_tokens / sizeof *bad_tokens; i++) {
        inv.token = bad_tokens[i];
        ck_assert_ptr_null(email_invitation_url("parsec://h", &inv));
    }
    inv.token = TOKEN;
    static const char *const bad_orgs[] = {
        NULL, "", "a/b", "a?b", "a b", "Ünicode", "012345678901234567890123456789012"};
    for (size_t i = 0; i < sizeof bad_orgs / sizeof *bad_orgs; i++) {
        inv.organization_id = bad_orgs[i];
        ck_assert_ptr_null(email_invitation_url("parsec://h", &inv));
    }
}
END_TEST

/* ---- the invitation message ---- */

static cfg_t cfg_with(const char *lang, const char *backend, const char *sender)
{
    cfg_t c = {0};
    c.email_language = (char *)lang;
    c.backend_addr = (char *)backend;
    c.email_sender = (char *)sender;
    return c;
}

static const email_invitation_t user_inv = {
    .type = EMAIL_INVITE_USER,
    .organization_id = "MyOrg",
    .token = TOKEN,
    .claimer_email = "bob@example.com",
    .greeter_user_id = "alice",
    .greeter_label = "Alice & Ö'Brien",
    .greeter_email = "alice@example.com",
};

START_TEST(invitation_user_both_languages)
{
    static const struct {
        const char *lang, *subject, *html_lang, *text_has;
    } cases[] = {
        {"en", "[Parsec] Alice & Ö'Brien invited you to MyOrg", "<html lang=\"en\">",
         "Alice & Ö'Brien has invited you to join the MyOrg organization on Parsec."},
        {"fr", "[Parsec] Alice & Ö'Brien vous invite à rejoindre MyOrg", "<html lang=\"fr\">",
         "Alice & Ö'Brien vous invite à rejoindre l'organisation MyOrg sur Parsec."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfg_t c = cfg_with(cases[i].lang, "parsec://parsec.example.com",
                           "Parsec <no-reply@parsec.example.com>");
        size_t len;
        email_result why;
        char *msg = email_invitation_compose(&c, &user_inv, NOW, &len, &why);
        ck_assert_ptr_nonnull(msg);
        assert_wire_format(msg, len);
        char *subject = header(msg, "Subject"), *d = decode_words(subject);
        ck_assert_str_eq(d, cases[i].subject);
        char *to = header(msg, "To"), *reply = header(msg, "Reply-To");
        ck_assert_str_eq(to, "bob@example.com");
        ck_assert_str_eq(reply, "=?UTF-8?B?QWxpY2UgJiDDlidCcmllbg==?= <alice@example.com>");
        char *text = part_text(msg, 0), *html = part_text(msg, 1);
        const char *url =
            "https://parsec.example.com/redirect/MyOrg?action=claim_user&token=" TOKEN;
        ck_assert_ptr_nonnull(strstr(text, cases[i].text_has));
        ck_assert_ptr_nonnull(strstr(text, url));
        ck_assert_ptr_nonnull(strstr(text, "https://parsec.cloud/get-parsec"));
        ck_assert_ptr_nonnull(strstr(html, cases[i].html_lang));
        /* escaped in HTML, the link's & included */
        ck_assert_ptr_nonnull(strstr(html, "<strong>Alice &amp; Ö&#39;Brien</strong>"));
        ck_assert_ptr_null(strstr(html, "Alice & Ö'Brien"));
        ck_assert_ptr_nonnull(strstr(
            html,
            "href=\"https://parsec.example.com/redirect/MyOrg?action=claim_user&amp;token=" TOKEN
            "\""));
        ck_assert_ptr_null(strstr(html, "{"));
        ck_assert_ptr_null(strstr(text, "{"));
        free(text);
        free(html);
        free(to);
        free(reply);
        free(d);
        free(subject);
        free(msg);
    }
}
END_TEST

START_TEST(invitation_user_without_handle)
{
    cfg_t c = cfg_with("en", "parsec://parsec.example.com", "no-reply@parsec.example.com");
    email_invitation_t inv = user_inv;
    inv.greeter_label = NULL;
    inv.greeter_email = NULL;
    size_t len;
    email_result why;
    char *msg = email_invitation_compose(&c, &inv, NOW, &len, &why);
    ck_assert_ptr_nonnull(msg);
    char *s = header(msg, "Subject");
    ck_assert_str_eq(s, "[Parsec] alice invited you to MyOrg");
    ck_assert(!has_header(msg, "Reply-To"));
    free(s);
    free(msg);
}
END_TEST

START_TEST(invitation_device_both_languages)
{
    static const struct {
        const char *lang, *subject, *text_has;
    } cases[] = {
        {"en", "[Parsec] New device invitation to MyOrg",
         "invitation to add a new device to the MyOrg\norganization on Parsec."},
        {"fr", "[Parsec] Invitation à ajouter un appareil à MyOrg",
         "ajouter un nouvel appareil à l'organisation\nMyOrg sur Parsec."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cfg_t c = cfg_with(cases[i].lang, "parsec://localhost:6777?no_ssl=true",
                           "no-reply@parsec.example.com");
        email_invitation_t inv = user_inv;
        inv.type = EMAIL_INVITE_DEVICE;
        inv.claimer_email = "ignored@example.com";
        size_t len;
        email_result why;
        char *msg = email_invitation_compose(&c, &inv, NOW, &len, &why);
        ck_assert_ptr_nonnull(msg);
        assert_wire_format(msg, len);
        char *subject = header(msg, "Subject"), *d = decode_words(subject), *to = header(msg, "To");
        ck_assert_str_eq(d, cases[i].subject);
        ck_assert_str_eq(to, "alice@example.com");
        ck_assert(!has_header(msg, "Reply-To"));
        char *text = part_text(msg, 0);
        ck_assert_ptr_nonnull(strstr(text, cases[i].text_has));
        ck_assert_ptr_nonnull(
            strstr(text, "http://localhost:6777/redirect/MyOrg?action=claim_device&token=" TOKEN));
        ck_assert_ptr_null(strstr(text, "Alice"));
        free(text);
        free(to);
        free(d);
        free(subject);
        free(msg);
    }
}
END_TEST

/* Each refusal gives its result, logs why, and never logs the token. */
START_TEST(invitation_refusals)
{
    logcap_start();
    cfg_t good = cfg_with("en", "parsec://parsec.example.com", "no-reply@parsec.example.com");
    size_t len;
    email_result why;

    email_invitation_t inv = user_inv;
    inv.claimer_email = "bob@example.com\r\nBcc: eve@evil.example";
    ck_assert_ptr_null(email_invitation_compose(&good, &inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_BAD_RECIPIENT);
    inv.claimer_email = NULL;
    ck_assert_ptr_null(email_invitation_compose(&good, &inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_BAD_RECIPIENT);
    inv = user_inv;
    inv.type = EMAIL_INVITE_DEVICE;
    inv.greeter_email = NULL;
    ck_assert_ptr_null(email_invitation_compose(&good, &inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_BAD_RECIPIENT);

    cfg_t c = cfg_with("en", NULL, "no-reply@parsec.example.com");
    ck_assert_ptr_null(email_invitation_compose(&c, &user_inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_NOT_AVAILABLE);
    c = cfg_with("en", "parsec://parsec.example.com", NULL);
    ck_assert_ptr_null(email_invitation_compose(&c, &user_inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_NOT_AVAILABLE);
    c = cfg_with("en", "parsec://parsec.example.com", "Parsec <not an address>");
    ck_assert_ptr_null(email_invitation_compose(&c, &user_inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_NOT_AVAILABLE);

    inv = user_inv;
    inv.token = TOKEN "\r\nX";
    ck_assert_ptr_null(email_invitation_compose(&good, &inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_NOT_AVAILABLE);
    inv = user_inv;
    inv.organization_id = "My/Org";
    ck_assert_ptr_null(email_invitation_compose(&good, &inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_NOT_AVAILABLE);
    inv = user_inv;
    inv.greeter_label = NULL;
    inv.greeter_user_id = NULL;
    ck_assert_ptr_null(email_invitation_compose(&good, &inv, NOW, &len, &why));
    ck_assert_int_eq(why, EMAIL_NOT_AVAILABLE);

    /* a valid one: the token is in the mail, not in the log */
    char *msg = email_invitation_compose(&good, &user_inv, NOW, &len, &why);
    ck_assert_ptr_nonnull(strstr(msg, TOKEN));
    free(msg);

    char *log = logcap_end();
    ck_assert_ptr_nonnull(strstr(log, "no --backend-addr"));
    ck_assert_ptr_nonnull(strstr(log, "invalid token"));
    ck_assert_ptr_nonnull(strstr(log, "invalid organization id"));
    ck_assert_ptr_nonnull(strstr(log, "no --email-sender"));
    ck_assert_ptr_nonnull(strstr(log, "the recipient is not a valid address"));
    ck_assert_ptr_null(strstr(log, TOKEN));
    ck_assert_ptr_null(strstr(log, "0123456789abcdef"));
    ck_assert_ptr_null(strstr(log, "eve@evil"));
    free(log);
}
END_TEST

START_TEST(result_names)
{
    ck_assert_str_eq(email_result_name(EMAIL_SUCCESS), "SUCCESS");
    ck_assert_str_eq(email_result_name(EMAIL_BAD_RECIPIENT), "BAD_RECIPIENT");
    ck_assert_str_eq(email_result_name(EMAIL_NOT_AVAILABLE), "NOT_AVAILABLE");
}
END_TEST

/* A recipient that could smuggle an SMTP command never reaches a server,
 * nor does a mail without --email-host. */
START_TEST(send_refuses_before_connecting)
{
    cfg_t c = {0};
    c.email_host = "127.0.0.1";
    c.email_port = 1; /* nobody: a connection attempt would say so */
    c.email_sender = "no-reply@parsec.example.com";
    c.email_connect_timeout = c.email_timeout = 5;
    const char *msg = "Subject: x\r\n\r\nx\r\n";
    ck_assert_int_eq(email_send(&c, "bob@example.com\r\nRCPT TO:<eve@evil.example>", msg, 17),
                     EMAIL_BAD_RECIPIENT);
    ck_assert_int_eq(email_send(&c, "<bob@example.com>", msg, 17), EMAIL_BAD_RECIPIENT);
    c.email_host = NULL;
    ck_assert_int_eq(email_send(&c, "bob@example.com", msg, 17), EMAIL_NOT_AVAILABLE);
}
END_TEST

START_TEST(html_escaper)
{
    arena_t *a = arena_new();
    ck_assert_str_eq(html_escape(a, "<a href='x'>&\"</a>"),
                     "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    ck_assert_str_eq(html_escape(a, "Ö & é"), "Ö &amp; é");
    ck_assert_str_eq(html_escape(a, ""), "");
    ck_assert_str_eq(html_escape(a, NULL), "");
    arena_free(a);
}
END_TEST

/* The guide's meaning and Parsec's code's, each where the port says it. */
START_TEST(tls_mode_by_port)
{
    ck_assert_int_eq(email_tls_mode(false, false, 25), EMAIL_TLS_NONE);
    ck_assert_int_eq(email_tls_mode(false, false, 465), EMAIL_TLS_NONE);
    ck_assert_int_eq(email_tls_mode(false, false, 587), EMAIL_TLS_NONE);
    /* the guide: --email-use-ssl on 587 is STARTTLS, --email-use-tls on 465 implicit */
    ck_assert_int_eq(email_tls_mode(true, false, 587), EMAIL_TLS_STARTTLS);
    ck_assert_int_eq(email_tls_mode(false, true, 465), EMAIL_TLS_IMPLICIT);
    /* Parsec's code: the other way round, on the same standard ports */
    ck_assert_int_eq(email_tls_mode(true, false, 465), EMAIL_TLS_IMPLICIT);
    ck_assert_int_eq(email_tls_mode(false, true, 587), EMAIL_TLS_STARTTLS);
    /* elsewhere, Parsec's code */
    ck_assert_int_eq(email_tls_mode(true, false, 2525), EMAIL_TLS_IMPLICIT);
    ck_assert_int_eq(email_tls_mode(false, true, 2525), EMAIL_TLS_STARTTLS);
    ck_assert_int_eq(email_tls_mode(false, true, 25), EMAIL_TLS_STARTTLS);
}
END_TEST

TEST_SUITE(email)
{
    Suite *s = suite_create("email");
    TCase *tc = tcase_create("compose");
    tcase_add_test(tc, compose_headers);
    tcase_add_test(tc, tls_mode_by_port);
    tcase_add_test(tc, compose_fresh_ids);
    tcase_add_test(tc, compose_sender_forms);
    tcase_add_test(tc, compose_refuses_bad_addresses);
    tcase_add_test(tc, compose_no_header_injection);
    tcase_add_test(tc, compose_subject_encoding);
    tcase_add_test(tc, qp_vectors);
    tcase_add_test(tc, qp_round_trip);
    tcase_add_test(tc, html_escaper);
    suite_add_tcase(s, tc);
    tc = tcase_create("invitation");
    tcase_add_test(tc, backend_addr_forms);
    tcase_add_test(tc, invitation_url);
    tcase_add_test(tc, invitation_user_both_languages);
    tcase_add_test(tc, invitation_user_without_handle);
    tcase_add_test(tc, invitation_device_both_languages);
    tcase_add_test(tc, invitation_refusals);
    tcase_add_test(tc, result_names);
    tcase_add_test(tc, send_refuses_before_connecting);
    suite_add_tcase(s, tc);
    return s;
}
