/*
 * tests/preload/slowdns.c - a getaddrinfo() that takes its time, for tests
 *
 * Loaded with LD_PRELOAD into a process under test.  While the file named
 * by $SLOWDNS_FLAG exists, a getaddrinfo() of the host name $SLOWDNS_NAME
 * first creates "$SLOWDNS_FLAG.started" (so the test knows it is under
 * way), sleeps $SLOWDNS_MS milliseconds, then resolves as usual.  Every
 * other call goes straight to the real getaddrinfo().
 *
 * Real resolution, made slow: what a resolver that answers late (a DNS
 * server gone during an outage) does to its caller, without a DNS server.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    const char *name = getenv("SLOWDNS_NAME");
    const char *flag = getenv("SLOWDNS_FLAG");
    const char *ms = getenv("SLOWDNS_MS");
    if (node && name && flag && ms && strcmp(node, name) == 0 && access(flag, F_OK) == 0) {
        char started[4096];
        snprintf(started, sizeof started, "%s.started", flag);
        int fd = open(started, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
        long n = atol(ms);
        struct timespec ts = {n / 1000, (n % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
    return real ? real(node, service, hints, res) : EAI_SYSTEM;
}
