/*
 * common/metrics_share.c - the mapping the workers of one node share, and
 * each process's row of gauges (see metrics.h, metrics_internal.h)
 *
 * Counters add up across processes and survive a worker's exit: that is
 * what a Prometheus counter wants when mod_fcgid recycles processes.
 * Gauges (connections in use, waiting) would drift if a killed worker left
 * its +1 behind, so each process keeps its own in a row tagged with its
 * pid, and the rendering sums only rows of living processes.
 */
#include "metrics_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

m_shm_t *m_shm;
m_proc_t *m_row;
unsigned m_generation = 1;

static bool g_shared;
static m_proc_t g_private_row; /* when every row is taken */

bool m_proc_alive(const m_proc_t *p)
{
    int32_t pid = __atomic_load_n(&p->pid, __ATOMIC_ACQUIRE);
    if (pid <= 0)
        return false;
    return pid == (int32_t)getpid() || kill(pid, 0) == 0 || errno != ESRCH;
}

/* claim_row - a free row, or one whose process is gone, tagged with our pid. */
static m_proc_t *claim_row(m_shm_t *s)
{
    int32_t me = (int32_t)getpid();
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < M_PROCS; i++) {
            m_proc_t *p = &s->procs[i];
            int32_t pid = __atomic_load_n(&p->pid, __ATOMIC_ACQUIRE);
            if (pid == 0 || (pass == 1 && !m_proc_alive(p))) {
                if (!__atomic_compare_exchange_n(&p->pid, &pid, me, false, __ATOMIC_ACQ_REL,
                                                 __ATOMIC_ACQUIRE))
                    continue;
                __atomic_store_n(&p->db_in_use, 0, __ATOMIC_RELAXED);
                __atomic_store_n(&p->db_waiting, 0, __ATOMIC_RELAXED);
                __atomic_store_n(&p->nd_connections, 0, __ATOMIC_RELAXED);
                return p;
            }
        }
    }
    memset(&g_private_row, 0, sizeof g_private_row);
    return &g_private_row;
}

static m_shm_t *map_private(void)
{
    void *m =
        mmap(NULL, sizeof(m_shm_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        abort(); /* out of memory, as xalloc does */
    return m;
}

static m_shm_t *map_file(const char *dir, const char *name, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create --metrics-dir %s: %s", dir, strerror(errno));
        return NULL;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        snprintf(err, errlen, "--metrics-dir too long");
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    m_shm_t *m = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        goto cleanup;
    }
    /* Zero-filled is the empty state: concurrent creators both extend it
     * to the same size, and nothing else needs initialising. */
    if ((size_t)st.st_size < sizeof(m_shm_t) && ftruncate(fd, sizeof(m_shm_t)) != 0) {
        snprintf(err, errlen, "cannot size %s: %s", path, strerror(errno));
        goto cleanup;
    }
    void *p = mmap(NULL, sizeof(m_shm_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        goto cleanup;
    }
    m = p;
cleanup:
    close(fd);
    return m;
}

bool metrics_open(const char *dir, const char *name, char *err, size_t errlen)
{
    metrics_close();
    bool ok = true;
    m_shm_t *m = NULL;
    if (dir) {
        m = map_file(dir, name, err, errlen);
        ok = m != NULL;
    }
    g_shared = m != NULL;
    if (!m)
        m = map_private();
    m_row = claim_row(m);
    m_generation++;
    __atomic_store_n(&m_shm, m, __ATOMIC_RELEASE);
    return ok;
}

void metrics_close(void)
{
    m_shm_t *m = m_shm;
    if (!m)
        return;
    __atomic_store_n(&m_shm, NULL, __ATOMIC_RELEASE);
    /* A forked child closing what its parent opened leaves the parent's row
     * alone. */
    if (m_row && __atomic_load_n(&m_row->pid, __ATOMIC_ACQUIRE) == (int32_t)getpid()) {
        __atomic_store_n(&m_row->db_in_use, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&m_row->db_waiting, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&m_row->nd_connections, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&m_row->pid, 0, __ATOMIC_RELEASE);
    }
    m_row = NULL;
    munmap(m, sizeof(m_shm_t));
    g_shared = false;
}

bool metrics_shared(void)
{
    return m_shm && g_shared;
}
