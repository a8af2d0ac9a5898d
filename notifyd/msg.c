/*
 * notifyd/msg.c - reference-counted outgoing websocket messages
 */
#include "msg.h"

#include "xalloc.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

nd_msg_t *nd_msg_new(const char *data, size_t len)
{
    nd_msg_t *m = xmalloc(sizeof *m + LWS_PRE + len + 1);
    m->refs = 1;
    m->len = len;
    memcpy(m->buf + LWS_PRE, data, len);
    m->buf[LWS_PRE + len] = '\0';
    return m;
}

nd_msg_t *nd_msg_from_json(json_object *obj)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
    return nd_msg_new(s, len);
}

unsigned char *nd_msg_payload(nd_msg_t *m)
{
    return m->buf + LWS_PRE;
}

nd_msg_t *nd_msg_ref(nd_msg_t *m)
{
    m->refs++;
    return m;
}

void nd_msg_unref(nd_msg_t *m)
{
    if (m && --m->refs == 0)
        free(m);
}
