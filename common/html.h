/*
 * common/html.h - the one HTML escaper
 *
 * Every HTML byte that carries data (pages of the FastCGI worker, the HTML
 * part of invitation emails) leaves through html_escape(), so that a label,
 * an organization name or a path can never open a tag or an attribute.
 * Thread-safe (no state).
 */
#ifndef PARSEC_HTML_H
#define PARSEC_HTML_H

#include "arena.h"

/* html_escape - s with & < > " ' replaced by &amp; &lt; &gt; &quot; &#39;,
 * safe in element content and in quoted attribute values; allocated from a
 * (NULL gives "").  Other bytes, UTF-8 included, are kept as they are. */
char *html_escape(arena_t *a, const char *s);

#endif
