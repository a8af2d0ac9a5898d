/*
 * common/cfg_args.c - the environment of the configuration parser, and
 * PARSEC_CMD_ARGS split into words (see cfg_internal.h)
 */
#include "cfg_internal.h"

#include "xalloc.h"

#include <stdlib.h>
#include <string.h>

const char *cfg_env_getn(char **envp, const char *name, size_t len)
{
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* cfg_env_get - the variable's value; unset and empty are the same (as click). */
const char *cfg_env_get(char **envp, const char *name)
{
    const char *v = cfg_env_getn(envp, name, strlen(name));
    return v && *v ? v : NULL;
}

/*
 * expand_var - s[*i] is '$': append $NAME or ${NAME} expanded from envp, or
 * the text itself when the variable is unknown or it is no reference (what
 * Python's os.path.expandvars did for Parsec).  Advances *i past it.
 */
static void expand_var(cfg_parse_ctx *p, const char *s, size_t *i, strbuf_t *w)
{
    size_t start = *i, j = *i + 1, k;
    bool braces = s[j] == '{';
    if (braces)
        j++;
    for (k = j; cfg_is_name_char(s[k]); k++)
        ;
    if (k == j || (braces && s[k] != '}')) {
        strbuf_putc(w, '$');
        *i = start + 1;
        return;
    }
    const char *v = cfg_env_getn(p->envp, s + j, k - j);
    size_t end = braces ? k + 1 : k;
    if (v)
        strbuf_puts(w, v);
    else
        strbuf_append(w, s + start, end - start);
    *i = end;
}

/*
 * cfg_split_cmd_args - PARSEC_CMD_ARGS into words, into p->owned and words
 *
 * Whitespace separates words.  '...' is literal.  "..." keeps whitespace,
 * expands variables, and a backslash there escapes only " \ $.  Outside
 * quotes a backslash escapes only whitespace, quotes and $: any other
 * backslash, "\\" included, is kept as is, so blockstore specs written for
 * Parsec (which split on whitespace and did nothing else) keep their
 * escaped colons.  No command substitution, no globbing: unlike wordexp(3)
 * this never runs anything.
 */
bool cfg_split_cmd_args(cfg_parse_ctx *p, const char *s, strvec_t *words)
{
    strbuf_t w = STRBUF_INIT;
    size_t i = 0;
    if (strlen(s) > CFG_CMD_ARGS_MAX) {
        cfg_fail(p, "PARSEC_CMD_ARGS: longer than %d bytes", CFG_CMD_ARGS_MAX);
        return false;
    }
    for (;;) {
        while (cfg_is_space(s[i]))
            i++;
        if (!s[i])
            break;
        if (words->n == CFG_CMD_ARGS_WORDS) {
            cfg_fail(p, "PARSEC_CMD_ARGS: more than %d words", CFG_CMD_ARGS_WORDS);
            goto fail;
        }
        w.len = 0;
        while (s[i] && !cfg_is_space(s[i])) {
            char c = s[i];
            if (c == '\'') {
                const char *end = strchr(s + i + 1, '\'');
                if (!end) {
                    cfg_fail(p, "PARSEC_CMD_ARGS: unterminated ' quote");
                    goto fail;
                }
                strbuf_append(&w, s + i + 1, (size_t)(end - (s + i + 1)));
                i = (size_t)(end - s) + 1;
            } else if (c == '"') {
                i++;
                for (;;) {
                    if (!s[i]) {
                        cfg_fail(p, "PARSEC_CMD_ARGS: unterminated \" quote");
                        goto fail;
                    }
                    if (s[i] == '"') {
                        i++;
                        break;
                    }
                    if (s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\' || s[i + 1] == '$')) {
                        strbuf_putc(&w, s[i + 1]);
                        i += 2;
                    } else if (s[i] == '$') {
                        expand_var(p, s, &i, &w);
                    } else {
                        strbuf_putc(&w, s[i++]);
                    }
                    if (w.len > CFG_CMD_ARGS_MAX)
                        break;
                }
            } else if (c == '\\') {
                char nx = s[i + 1];
                if (nx && (cfg_is_space(nx) || nx == '\'' || nx == '"' || nx == '$')) {
                    strbuf_putc(&w, nx);
                    i += 2;
                } else if (nx == '\\') {
                    strbuf_append(&w, "\\\\", 2);
                    i += 2;
                } else {
                    strbuf_putc(&w, '\\');
                    i++;
                }
            } else if (c == '$') {
                expand_var(p, s, &i, &w);
            } else {
                strbuf_putc(&w, c);
                i++;
            }
            if (w.len > CFG_CMD_ARGS_MAX) {
                cfg_fail(p, "PARSEC_CMD_ARGS: a word is longer than %d bytes once expanded",
                         CFG_CMD_ARGS_MAX);
                goto fail;
            }
        }
        char *word = w.s ? xstrndup(w.s, w.len) : xstrdup("");
        strvec_push(&p->owned, word);
        strvec_push(words, word);
    }
    strbuf_free(&w);
    return true;
fail:
    strbuf_free(&w);
    return false;
}
