/*
 * fcgi-api/front/front_stdout.c - a large response body as FastCGI
 * records of up to 64 KiB (see front.h)
 *
 * libfcgi cuts whatever it is given into records of its output buffer, a
 * fixed 8 KiB, each one write(): 64 writes for a 512 KiB block, and the web
 * server reads as many.  A body of FRONT_STDOUT_MIN bytes or more is
 * written here instead, as STDOUT records of up to FRONT_STDOUT_RECORD
 * bytes sent straight from the body (writev of the 8-byte header and the
 * slice: no copy), after front_serve() has flushed what libfcgi held, so
 * the records stay in order.  FCGX_Finish_r() then ends the stream and the
 * request as usual.  The record format is the FastCGI 1.0 specification's
 * (section 3.3): version 1, type 6, the request id and content length in
 * big endian, no padding (records need not be aligned).
 */
#include "front.h"

#include <errno.h>
#include <stdint.h>
#include <sys/uio.h>

#define FCGI_VERSION_1 1
#define FCGI_STDOUT    6

bool front_write_stdout(int fd, int request_id, const void *body, size_t len)
{
    const unsigned char *p = body;
    while (len > 0) {
        size_t n = len < FRONT_STDOUT_RECORD ? len : FRONT_STDOUT_RECORD;
        unsigned char head[8] = {FCGI_VERSION_1,
                                 FCGI_STDOUT,
                                 (unsigned char)((request_id >> 8) & 0xff),
                                 (unsigned char)(request_id & 0xff),
                                 (unsigned char)(n >> 8),
                                 (unsigned char)(n & 0xff),
                                 0,
                                 0};
        struct iovec iov[2] = {{head, sizeof head}, {(void *)p, n}};
        int k = 0;
        /* A blocking socket may still take part of a record: finish it. */
        while (k < 2) {
            ssize_t w = writev(fd, iov + k, 2 - k);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return false;
            }
            size_t done = (size_t)w;
            while (k < 2 && done >= iov[k].iov_len) {
                done -= iov[k].iov_len;
                k++;
            }
            if (k < 2) {
                iov[k].iov_base = (unsigned char *)iov[k].iov_base + done;
                iov[k].iov_len -= done;
            }
        }
        p += n;
        len -= n;
    }
    return true;
}
