/*
 * common/proto_internal.h - what the files of the protocol mapping share
 *
 * Private to common/proto*.c; everything else includes proto.h.
 */
#ifndef PARSEC_PROTO_INTERNAL_H
#define PARSEC_PROTO_INTERNAL_H

#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* proto_is_digit - an ASCII decimal digit. */
static inline bool proto_is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* proto_digits - s[0..n) is all ASCII decimal digits; their value in *out
 * (n small enough not to overflow: callers pass at most 6).  proto_time.c. */
bool proto_digits(const char *s, size_t n, unsigned *out);

#endif
