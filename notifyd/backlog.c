/*
 * notifyd/backlog.c - how far behind a client is (backlog.h)
 */
#include "backlog.h"

void nd_backlog_sent(nd_backlog_t *b, size_t len)
{
    b->sent_msgs++;
    b->sent_bytes += len;
}

bool nd_backlog_want_probe(const nd_backlog_t *b)
{
    return !b->probe_out && b->sent_msgs > b->acked_msgs;
}

void nd_backlog_probe(nd_backlog_t *b, uint8_t out[ND_PROBE_LEN])
{
    b->probe_seq++;
    b->probe_out = true;
    b->probe_msgs = b->sent_msgs;
    b->probe_bytes = b->sent_bytes;
    out[0] = 'n';
    out[1] = 'd';
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(b->probe_seq >> (56 - 8 * i));
}

bool nd_backlog_pong(nd_backlog_t *b, const void *payload, size_t len)
{
    const uint8_t *p = payload;
    if (!b->probe_out || len != ND_PROBE_LEN || p[0] != 'n' || p[1] != 'd')
        return false;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | p[2 + i];
    if (seq != b->probe_seq)
        return false;
    b->probe_out = false;
    b->acked_msgs = b->probe_msgs;
    b->acked_bytes = b->probe_bytes;
    return true;
}

uint64_t nd_backlog_unacked_msgs(const nd_backlog_t *b)
{
    return b->sent_msgs - b->acked_msgs;
}

uint64_t nd_backlog_unacked_bytes(const nd_backlog_t *b)
{
    return b->sent_bytes - b->acked_bytes;
}
