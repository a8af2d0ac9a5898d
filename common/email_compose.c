/*
 * common/email_compose.c - a message as RFC 5322 + MIME bytes (see email.h)
 *
 * Why not libcurl's curl_mime: the same bytes must go to the SMTP server and,
 * with --email-host MOCKED, into a file, and curl_mime can only be rendered
 * by a transfer.  It would not write Subject, Date or Message-ID either.  So
 * the message is composed here, with three rules that keep it safe whatever
 * the labels hold:
 *   - a header value is either printable ASCII without "=?" (written as is,
 *     or as a quoted string for display names), or RFC 2047 "B" encoded
 *     words: no CR, LF or other control byte ever reaches a header line;
 *   - bodies are quoted-printable, whose output is printable ASCII lines of
 *     at most 76 characters where '=' only starts an escape: the boundary
 *     starts with "=_", which quoted-printable text can never contain;
 *   - every address is checked with proto_valid_email (docs/protocol.md
 *     2.6), whose alphabet has no space, quote, bracket or line break.
 */
#include "email_internal.h"

#include "crypto.h"
#include "proto.h"
#include "strbuf.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 5322 2.1.1: lines SHOULD be at most 78 characters. */
#define LINE_SOFT_MAX 78
/* RFC 2045 6.7: encoded lines at most 76 characters, a soft break's '='
 * included. */
#define QP_LINE_MAX 76
/* Bytes of text per encoded word: 48 base64 characters, 60 with the
 * "=?UTF-8?B?...?=" frame, so that one word and a header name fit in a
 * line (RFC 2047 2: at most 75). */
#define EW_CHUNK 36
/* A plain (unencoded) word longer than this cannot be folded into 78
 * columns: the value is encoded instead. */
#define PLAIN_WORD_MAX 60
/* Random bytes in a Message-ID and in a boundary. */
#define RANDOM_BYTES 16

bool email_split_sender(const char *sender, char **name, char **addr)
{
    if (!sender)
        return false;
    size_t len = strlen(sender);
    const char *lt = strchr(sender, '<');
    const char *a = sender, *a_end = sender + len, *n = sender, *n_end = sender;
    if (lt) {
        if (len == 0 || sender[len - 1] != '>')
            return false;
        a = lt + 1;
        a_end = sender + len - 1;
        n_end = lt;
    }
    while (n < n_end && (*n == ' ' || *n == '\t'))
        n++;
    while (n_end > n && (n_end[-1] == ' ' || n_end[-1] == '\t'))
        n_end--;
    char *ad = xstrndup(a, (size_t)(a_end - a));
    if (!proto_valid_email(ad)) {
        free(ad);
        return false;
    }
    *addr = ad;
    *name = xstrndup(n, (size_t)(n_end - n));
    return true;
}

/* ---- header lines ---------------------------------------------------------- */

/* One header being written: its line so far, to fold before 78 columns. */
typedef struct {
    strbuf_t *b;
    size_t col;      /* characters on the current line */
    size_t name_len; /* "Name:" */
} hdr_t;

static void hdr_start(hdr_t *h, strbuf_t *b, const char *name)
{
    h->b = b;
    strbuf_puts(b, name);
    strbuf_putc(b, ':');
    h->name_len = h->col = strlen(name) + 1;
}

/* hdr_token - " token", folded onto a new line first when it would pass
 * the soft limit (never right after the name: a line needs content). */
static void hdr_token(hdr_t *h, const char *t, size_t n)
{
    if (n > 0 && h->col > h->name_len && h->col + 1 + n > LINE_SOFT_MAX) {
        strbuf_puts(h->b, "\r\n");
        h->col = 0;
    }
    strbuf_putc(h->b, ' ');
    strbuf_append(h->b, t, n);
    h->col += 1 + n;
}

static void hdr_end(hdr_t *h)
{
    strbuf_puts(h->b, "\r\n");
}

/*
 * plain_ok - can s be written without encoding: printable ASCII, no "=?"
 * (a decoder would take it for an encoded word), words of at most
 * PLAIN_WORD_MAX characters, single spaces between them, none at either end
 * (folding happens at those spaces and must give back the same text).
 */
static bool plain_ok(const char *s)
{
    size_t word = 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7e || (c == '=' && p[1] == '?'))
            return false;
        if (c == ' ') {
            if (p == s || p[1] == ' ' || p[1] == '\0')
                return false;
            word = 0;
        } else if (++word > PLAIN_WORD_MAX) {
            return false;
        }
    }
    return true;
}

/* A UTF-8 continuation byte: a chunk must not start on one. */
static bool is_continuation(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/*
 * hdr_encoded - s as RFC 2047 "B" encoded words, one token each
 *
 * Decoders join adjacent words and drop the space between them.  Each word
 * holds whole characters, and when the text has a space a word ends right
 * after one: some readers (Python's email package, in display names) treat
 * the gap between words as a word break, and a cut there reads the same to
 * both kinds.
 */
static void hdr_encoded(hdr_t *h, const char *s)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        size_t cut = len - off < EW_CHUNK ? len - off : EW_CHUNK;
        if (off + cut < len) {
            size_t space = cut;
            while (space > 1 && s[off + space - 1] != ' ')
                space--;
            if (space > 1) {
                cut = space;
            } else {
                /* back off to a character start, unless the text is not
                 * UTF-8 at all (then any cut is as good as another) */
                size_t c = cut;
                while (c + 3 > cut && c > 1 && is_continuation((unsigned char)s[off + c]))
                    c--;
                if (!is_continuation((unsigned char)s[off + c]))
                    cut = c;
            }
        }
        char *b64 = crypto_b64_encode(s + off, cut);
        char *word = xasprintf("=?UTF-8?B?%s?=", b64);
        hdr_token(h, word, strlen(word));
        free(word);
        free(b64);
        off += cut;
    }
}

/* put_unstructured - "Name: value" for a free text (Subject). */
static void put_unstructured(strbuf_t *b, const char *name, const char *value)
{
    hdr_t h;
    hdr_start(&h, b, name);
    if (plain_ok(value)) {
        for (const char *p = value; *p;) {
            size_t n = strcspn(p, " ");
            hdr_token(&h, p, n);
            p += n;
            if (*p == ' ')
                p++;
        }
    } else {
        hdr_encoded(&h, value);
    }
    hdr_end(&h);
}

/* put_mailbox - "Name: addr" or "Name: display <addr>"; display is a quoted
 * string when plain, encoded words otherwise.  addr is already valid. */
static void put_mailbox(strbuf_t *b, const char *hname, const char *display, const char *addr)
{
    hdr_t h;
    hdr_start(&h, b, hname);
    if (display && *display) {
        if (plain_ok(display) && strlen(display) <= PLAIN_WORD_MAX) {
            strbuf_t q = STRBUF_INIT;
            strbuf_putc(&q, '"');
            for (const char *p = display; *p; p++) {
                if (*p == '"' || *p == '\\')
                    strbuf_putc(&q, '\\');
                strbuf_putc(&q, *p);
            }
            strbuf_putc(&q, '"');
            hdr_token(&h, q.s, q.len);
            strbuf_free(&q);
        } else {
            hdr_encoded(&h, display);
        }
        char *angle = xasprintf("<%s>", addr);
        hdr_token(&h, angle, strlen(angle));
        free(angle);
    } else {
        hdr_token(&h, addr, strlen(addr));
    }
    hdr_end(&h);
}

/* put_date - "Date: Tue, 14 Nov 2023 22:13:20 +0000" (RFC 5322 3.3), with
 * English names whatever the locale. */
static void put_date(strbuf_t *b, time_t now)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&now, &tm);
    strbuf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday % 7],
                  tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
}

/* ---- bodies ---------------------------------------------------------------- */

/*
 * put_qp - s as quoted-printable (RFC 2045 6.7) with CRLF line breaks
 *
 * "\n" and "\r\n" are line breaks.  Encoded: '=', bytes outside printable
 * ASCII, a space or tab ending a line, and a line's first character when
 * it is '.' or the 'F' of "From " (so that neither SMTP dot handling nor an
 * mbox file can alter the text).  Lines are cut with a soft break ("=") to
 * stay within 76 characters, never inside an escape.
 */
static void put_qp(strbuf_t *b, const char *s)
{
    size_t col = 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' && p[1] == '\n')
            continue;
        if (c == '\n') {
            strbuf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        bool line_end = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r' && p[2] == '\n');
        for (int pass = 0; pass < 2; pass++) {
            bool literal =
                (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
            if (literal && col == 0 && (c == '.' || (c == 'F' && strncmp(p, "From ", 5) == 0)))
                literal = false;
            size_t n = literal ? 1 : 3;
            /* room for the soft break's '=' on this line */
            if (pass == 0 && col + n > QP_LINE_MAX - 1) {
                strbuf_puts(b, "=\r\n");
                col = 0;
                continue; /* at a line start the rules may differ */
            }
            if (literal)
                strbuf_putc(b, (char)c);
            else
                strbuf_printf(b, "=%02X", c);
            col += n;
            break;
        }
    }
}

static void put_part(strbuf_t *b, const char *boundary, const char *type, const char *body)
{
    strbuf_printf(b,
                  "\r\n--%s\r\n"
                  "Content-Type: %s; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n"
                  "\r\n",
                  boundary, type);
    put_qp(b, body ? body : "");
}

/* random_hex - RANDOM_BYTES from RAND_bytes as hex (malloc'd), or NULL. */
static char *random_hex(void)
{
    uint8_t r[RANDOM_BYTES];
    if (!crypto_random(r, sizeof r))
        return NULL;
    return crypto_hex_encode(r, sizeof r);
}

char *email_compose(const email_message_t *m, time_t now, size_t *len)
{
    char *from_name = NULL, *from_addr = NULL, *id = NULL, *boundary_rand = NULL;
    char *out = NULL;
    strbuf_t b = STRBUF_INIT;

    if (!email_split_sender(m->from, &from_name, &from_addr))
        goto cleanup;
    if (!proto_valid_email(m->to))
        goto cleanup;
    if ((m->reply_to_addr || m->reply_to_name) && !proto_valid_email(m->reply_to_addr))
        goto cleanup;
    id = random_hex();
    boundary_rand = random_hex();
    if (!id || !boundary_rand)
        goto cleanup;
    char *boundary = xasprintf("=_parsec_%s", boundary_rand);

    put_mailbox(&b, "From", from_name, from_addr);
    put_mailbox(&b, "To", NULL, m->to);
    if (m->reply_to_addr)
        put_mailbox(&b, "Reply-To", m->reply_to_name, m->reply_to_addr);
    put_unstructured(&b, "Subject", m->subject ? m->subject : "");
    put_date(&b, now);
    strbuf_printf(&b, "Message-ID: <%s@%s>\r\n", id, strchr(from_addr, '@') + 1);
    strbuf_printf(&b,
                  "MIME-Version: 1.0\r\n"
                  "Content-Type: multipart/alternative;\r\n"
                  " boundary=\"%s\"\r\n"
                  "\r\n"
                  "This is a message in MIME format: a text part and an HTML part.\r\n",
                  boundary);
    put_part(&b, boundary, "text/plain", m->text);
    put_part(&b, boundary, "text/html", m->html);
    strbuf_printf(&b, "\r\n--%s--\r\n", boundary);
    free(boundary);

    *len = b.len;
    out = strbuf_detach(&b);
cleanup:
    strbuf_free(&b);
    free(from_name);
    free(from_addr);
    free(id);
    free(boundary_rand);
    return out;
}
