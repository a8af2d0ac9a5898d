/*
 * common/cfg_file.c - a setting's value read from a file (--NAME-file,
 * PARSEC_NAME_FILE; see cfg.h, cfg_secret_file)
 *
 * Why files at all: the environment of a process can be read by every
 * other process of the same user (/proc/PID/environ) and is inherited by
 * whatever it starts; a file has its own owner and mode, and systemd can
 * hand one to a single service (LoadCredential=).  docs/configuration.md
 * says the same to administrators.
 */
#include "cfg_internal.h"

#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* inherited_fd - N when path names descriptor N of this process
 * ("/dev/fd/N", "/proc/self/fd/N"), else -1. */
static int inherited_fd(const char *path)
{
    const char *n = NULL;
    if (!strncmp(path, "/dev/fd/", 8))
        n = path + 8;
    else if (!strncmp(path, "/proc/self/fd/", 14))
        n = path + 14;
    unsigned long long v;
    if (!n || !cfg_parse_uint(n, 1 << 20, &v))
        return -1;
    return (int)v;
}

bool cfg_secret_file(const char *path, size_t max, char **value, bool *others_may_read, char *err,
                     size_t errlen)
{
    *value = NULL;
    if (others_may_read)
        *others_may_read = false;
    char *buf = NULL;
    bool ok = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "\"%s\": not a regular file", path);
        goto cleanup;
    }
    buf = xmalloc(max + 2);
    size_t got = 0;
    while (got <= max) {
        ssize_t n = read(fd, buf + got, max + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot read \"%s\": %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got > max) {
        snprintf(err, errlen, "\"%s\": longer than %zu bytes", path, max);
        goto cleanup;
    }
    /* The newline editors and `echo` add is not part of the value. */
    while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
        got--;
    buf[got] = '\0';
    if (!got) {
        snprintf(err, errlen, "\"%s\" is empty", path);
        goto cleanup;
    }
    if (memchr(buf, '\0', got)) {
        snprintf(err, errlen, "\"%s\": holds a NUL byte", path);
        goto cleanup;
    }
    int inherited = inherited_fd(path);
    /* A descriptor handed down by a parent is its own access control; a
     * file's is its mode. */
    if (others_may_read && inherited < 0)
        *others_may_read = (st.st_mode & S_IROTH) != 0;
    if (inherited > STDERR_FILENO) {
        /* Read once: nothing else in this process needs it open, and an
         * open descriptor is as readable as the environment (/proc/PID/fd). */
        close(inherited);
    }
    *value = buf;
    buf = NULL;
    ok = true;
cleanup:
    if (buf)
        explicit_bzero(buf, max + 2);
    free(buf);
    close(fd);
    return ok;
}
