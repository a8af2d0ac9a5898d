/*
 * common/proto_json.c - strict UTF-8 and strict JSON: what every request and
 * signed payload goes through before json-c reads it (see proto.h,
 * proto_json_parse)
 */
#include "proto_internal.h"

#include "crypto.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 --------------------------------------------------------------- */

bool proto_valid_utf8(const void *s, size_t len)
{
    const uint8_t *p = s;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* continuation byte first, or 0xf8..0xff */
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            uint8_t b = p[i + k];
            if ((b & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (b & 0x3f);
        }
        /* overlong forms, surrogates, past Unicode */
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---- strict JSON ------------------------------------------------------------- */

static int hex4(const uint8_t *p)
{
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int d = crypto_hex_digit(p[k]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* A string starting at p[*i] == '"'; leaves *i after the closing quote. */
static bool lex_string(const uint8_t *p, size_t len, size_t *i, const char **why)
{
    size_t j = *i + 1;
    for (;;) {
        if (j >= len) {
            *why = "unterminated string";
            return false;
        }
        uint8_t c = p[j];
        if (c == '"') {
            *i = j + 1;
            return true;
        }
        if (c < 0x20) {
            *why = "control character in a string";
            return false;
        }
        if (c != '\\') {
            j++;
            continue;
        }
        if (j + 1 >= len) {
            *why = "unterminated string";
            return false;
        }
        switch (p[j + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            j += 2;
            break;
        case 'u': {
            int v = len - j >= 6 ? hex4(p + j + 2) : -1;
            if (v < 0) {
                *why = "bad \\u escape";
                return false;
            }
            if (v == 0) {
                /* json-c would cut C strings there: keys and values could
                 * then differ from what a client's parser sees. */
                *why = "\\u0000 in a string";
                return false;
            }
            if (v >= 0xdc00 && v <= 0xdfff) {
                *why = "lone surrogate in a string";
                return false;
            }
            if (v >= 0xd800 && v <= 0xdbff) {
                int lo =
                    len - j >= 12 && p[j + 6] == '\\' && p[j + 7] == 'u' ? hex4(p + j + 8) : -1;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    *why = "lone surrogate in a string";
                    return false;
                }
                j += 12;
            } else {
                j += 6;
            }
            break;
        }
        default:
            *why = "bad escape in a string";
            return false;
        }
    }
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool lex_number(const uint8_t *p, size_t len, size_t *i, const char **why)
{
    size_t j = *i;
    if (p[j] == '-')
        j++;
    if (j >= len || !proto_is_digit(p[j]))
        goto bad;
    if (p[j] == '0') {
        j++;
    } else {
        while (j < len && proto_is_digit(p[j]))
            j++;
    }
    if (j < len && p[j] == '.') {
        j++;
        if (j >= len || !proto_is_digit(p[j]))
            goto bad;
        while (j < len && proto_is_digit(p[j]))
            j++;
    }
    if (j < len && (p[j] == 'e' || p[j] == 'E')) {
        j++;
        if (j < len && (p[j] == '+' || p[j] == '-'))
            j++;
        if (j >= len || !proto_is_digit(p[j]))
            goto bad;
        while (j < len && proto_is_digit(p[j]))
            j++;
    }
    /* "01", "1.", "1.2.3": the number must end at a delimiter */
    if (j < len && (proto_is_digit(p[j]) || p[j] == '.' || p[j] == 'e' || p[j] == 'E' ||
                    p[j] == '+' || p[j] == '-'))
        goto bad;
    *i = j;
    return true;
bad:
    *why = "malformed number";
    return false;
}

static bool lex_word(const uint8_t *p, size_t len, size_t *i, const char *word)
{
    size_t n = strlen(word);
    if (len - *i < n || memcmp(p + *i, word, n) != 0)
        return false;
    *i += n;
    return true;
}

/*
 * The lexical half of strictness (see proto_json_parse): every token is a
 * JSON token; counts the ":" separators, i.e. the object members.
 */
static bool json_lex_check(const uint8_t *p, size_t len, size_t *members, const char **why)
{
    size_t i = 0, n = 0;
    while (i < len) {
        uint8_t c = p[i];
        switch (c) {
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case '{':
        case '}':
        case '[':
        case ']':
        case ',':
            i++;
            break;
        case ':':
            n++;
            i++;
            break;
        case '"':
            if (!lex_string(p, len, &i, why))
                return false;
            break;
        case 't':
        case 'f':
        case 'n':
            if (!lex_word(p, len, &i, c == 't' ? "true" : c == 'f' ? "false" : "null")) {
                *why = "not JSON (bad literal)";
                return false;
            }
            break;
        default:
            if (c == '-' || proto_is_digit(c)) {
                if (!lex_number(p, len, &i, why))
                    return false;
                break;
            }
            *why = "not JSON (unexpected character)";
            return false;
        }
    }
    *members = n;
    return true;
}

static size_t json_count_members(json_object *o)
{
    size_t n = 0;
    if (json_object_is_type(o, json_type_object)) {
        json_object_object_foreach(o, key, val)
        {
            (void)key;
            n += 1 + json_count_members(val);
        }
    } else if (json_object_is_type(o, json_type_array)) {
        size_t len = json_object_array_length(o);
        for (size_t k = 0; k < len; k++)
            n += json_count_members(json_object_array_get_idx(o, k));
    }
    return n;
}

static void json_put(void *o)
{
    json_object_put(o);
}

json_object *proto_json_parse(arena_t *a, const void *text, size_t len, const char **why)
{
    size_t members = 0;
    if (len > (size_t)INT_MAX) {
        *why = "too large";
        return NULL;
    }
    if (!proto_valid_utf8(text, len)) {
        *why = "not valid UTF-8";
        return NULL;
    }
    if (!json_lex_check(text, len, &members, why))
        return NULL;

    json_tokener *tok = json_tokener_new_ex(PROTO_JSON_MAX_DEPTH);
    if (!tok) {
        fputs("parsec: out of memory (json_tokener)\n", stderr);
        abort();
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error err = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o) {
        *why = err == json_tokener_error_depth ? "nested too deeply"
               : err == json_tokener_continue  ? "not a JSON object (truncated or a bare value)"
                                               : "not valid JSON";
        return NULL;
    }
    if (!json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        *why = "not a JSON object";
        return NULL;
    }
    for (size_t k = end; k < len; k++) {
        const char *t = text;
        if (t[k] != ' ' && t[k] != '\t' && t[k] != '\n' && t[k] != '\r') {
            json_object_put(o);
            *why = "data after the JSON object";
            return NULL;
        }
    }
    if (json_count_members(o) != members) {
        json_object_put(o);
        *why = "duplicate key in a JSON object";
        return NULL;
    }
    arena_defer(a, json_put, o);
    return o;
}
