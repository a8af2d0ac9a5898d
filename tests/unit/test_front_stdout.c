/*
 * tests/unit/test_front_stdout.c - front_write_stdout(): a large body as
 * FastCGI STDOUT records of up to 64 KiB, read back from the other end of
 * a socket pair and parsed as a web server would (FastCGI 1.0, 3.3)
 */
#include "front/front.h"
#include "testreg.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
    int request_id;
    const unsigned char *body;
    size_t len;
    bool ok;
} writer_t;

static void *write_side(void *arg)
{
    writer_t *w = arg;
    w->ok = front_write_stdout(w->fd, w->request_id, w->body, w->len);
    close(w->fd);
    return NULL;
}

static size_t read_all(int fd, unsigned char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n <= 0)
            return got;
        got += (size_t)n;
        ck_assert_uint_lt(got, cap); /* never more than the records */
    }
}

/* Writes len bytes through a socket pair (a writer thread: the records
 * are larger than the socket's buffer) and checks every record. */
static void check_records(size_t len, int request_id)
{
    unsigned char *body = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        body[i] = (unsigned char)(i * 7 + i / 251);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    writer_t w = {sv[1], request_id, body, len, false};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, write_side, &w), 0);
    size_t cap = len + 8 * (len / 65535 + 2) + 1;
    unsigned char *wire = malloc(cap);
    size_t got = read_all(sv[0], wire, cap);
    pthread_join(t, NULL);
    close(sv[0]);
    ck_assert(w.ok);

    unsigned char *back = malloc(len ? len : 1);
    size_t off = 0, at = 0, records = 0;
    while (at < got) {
        ck_assert_uint_le(at + 8, got);
        const unsigned char *h = wire + at;
        ck_assert_int_eq(h[0], 1); /* FCGI_VERSION_1 */
        ck_assert_int_eq(h[1], 6); /* FCGI_STDOUT */
        ck_assert_int_eq((h[2] << 8) | h[3], request_id);
        size_t n = ((size_t)h[4] << 8) | h[5];
        ck_assert_uint_gt(n, 0); /* an empty record would end the stream */
        ck_assert_uint_eq(h[6], 0);
        ck_assert_uint_le(at + 8 + n, got);
        memcpy(back + off, h + 8, n);
        off += n;
        at += 8 + n;
        records++;
    }
    ck_assert_uint_eq(off, len);
    ck_assert(len == 0 || memcmp(back, body, len) == 0);
    ck_assert_uint_eq(records, (len + FRONT_STDOUT_RECORD - 1) / FRONT_STDOUT_RECORD);
    free(back);
    free(wire);
    free(body);
}

START_TEST(block_in_64k_records)
{
    check_records(512 * 1024, 1);
}
END_TEST

START_TEST(lengths_around_a_record)
{
    check_records(FRONT_STDOUT_RECORD - 1, 2);
    check_records(FRONT_STDOUT_RECORD, 3);
    check_records(FRONT_STDOUT_RECORD + 1, 0x1234);
    check_records(3 * FRONT_STDOUT_RECORD, 0xfffe);
}
END_TEST

START_TEST(nothing_to_write_writes_nothing)
{
    check_records(0, 1);
}
END_TEST

/* The web server went away: an error, no crash, no hang. */
START_TEST(closed_peer_is_an_error)
{
    signal(SIGPIPE, SIG_IGN); /* as parsec-fcgi's main() */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[0]);
    static unsigned char body[200 * 1024];
    ck_assert(!front_write_stdout(sv[1], 1, body, sizeof body));
    close(sv[1]);
}
END_TEST

TEST_SUITE(front_stdout)
{
    Suite *s = suite_create("front_stdout");
    TCase *tc = tcase_create("records");
    tcase_add_test(tc, block_in_64k_records);
    tcase_add_test(tc, lengths_around_a_record);
    tcase_add_test(tc, nothing_to_write_writes_nothing);
    tcase_add_test(tc, closed_peer_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}
