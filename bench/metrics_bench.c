/*
 * bench/metrics_bench.c - what counting costs a request (common/metrics.h)
 *
 * The whole request pipeline of the worker without its I/O (front_handle()
 * and front_request_end(), as tests/unit/test_http.c drives it) for GET /,
 * alternately with the metrics closed (the baseline: metrics_request() is a
 * no-op) and open on a shared file, in the same run; the minimum of each
 * over the rounds, their ratio, and the bare cost of one metrics_request()
 * from one thread and from two threads counting the same series (the
 * contended cache line of a shared counter).
 *
 *     build/bench/metrics_bench [REQUESTS_PER_ROUND [ROUNDS]]
 */
#include "arena.h"
#include "cfg.h"
#include "front/front.h"
#include "metrics.h"
#include "xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static cfg_t g_cfg;

/* This thread's CPU time: the machine's other load (2 shared cores) does
 * not count, only what the loop itself spends. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double run_requests(long n)
{
    arena_t *a = arena_new();
    char *params[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", "HTTP_HOST=parsec.example.com",
                      "REMOTE_ADDR=127.0.0.1", NULL};
    http_env_t env = {&g_cfg, NULL, NULL};
    uint64_t t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        http_req_t *r = front_handle(a, &env, params, NULL, 0, 0);
        if (r->status != 200) {
            fprintf(stderr, "metrics_bench: GET / answered %d\n", r->status);
            exit(1);
        }
        front_request_end(r);
        arena_reset(a);
    }
    double ns = (double)(cpu_ns() - t0) / (double)n;
    arena_free(a);
    return ns;
}

static long g_calls;

static void *count_calls(void *arg)
{
    uint64_t t0 = cpu_ns();
    for (long i = 0; i < g_calls; i++)
        metrics_request("authenticated", "vlob_read", 200, 1234567);
    *(uint64_t *)arg = cpu_ns() - t0;
    return NULL;
}

/* CPU ns per metrics_request() of each of threads threads counting at
 * once (the slowest thread's). */
static double run_calls(int threads)
{
    pthread_t t[2];
    uint64_t spent[2] = {0, 0};
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, count_calls, &spent[i]) != 0)
            exit(1);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    uint64_t worst = spent[0] > spent[1] ? spent[0] : spent[1];
    return (double)worst / (double)g_calls;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 50000;
    int rounds = argc > 2 ? atoi(argv[2]) : 20;
    if (n <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: metrics_bench [REQUESTS_PER_ROUND [ROUNDS]]\n");
        return 2;
    }
    g_cfg.max_request_size = 1048576;
    g_cfg.db_max_connections = 7;
    char dir[] = "/tmp/parsec-metrics-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char err[256];
    double bare = 1e18, counted = 1e18;
    run_requests(n / 10); /* warm-up */
    for (int r = 0; r < rounds; r++) {
        /* alternate which goes first, so that a drift favours neither */
        double b = r % 2 ? run_requests(n) : 0;
        if (!metrics_open(dir, METRICS_FILE_FCGI, err, sizeof err)) {
            fprintf(stderr, "metrics_bench: %s\n", err);
            return 1;
        }
        double c = run_requests(n);
        metrics_close();
        if (r % 2 == 0)
            b = run_requests(n);
        bare = b < bare ? b : bare;
        counted = c < counted ? c : counted;
    }
    if (!metrics_open(dir, METRICS_FILE_FCGI, err, sizeof err)) {
        fprintf(stderr, "metrics_bench: %s\n", err);
        return 1;
    }
    g_calls = n * 5;
    double one = run_calls(1), two = run_calls(2);
    metrics_close();
    char *file = xasprintf("%s/%s", dir, METRICS_FILE_FCGI);
    unlink(file);
    free(file);
    rmdir(dir);

    printf("GET / through the worker's pipeline, no I/O (baseline): %8.1f ns/request\n", bare);
    printf("the same, counted in a shared metrics file:            %8.1f ns/request\n", counted);
    printf("ratio counted/baseline:                                 %8.3f\n", counted / bare);
    printf("metrics_request() alone, one thread:                    %8.1f ns/call\n", one);
    printf("metrics_request() alone, two threads on one series:     %8.1f ns/call (each)\n", two);
    printf("(CPU time of the measuring thread, min of %d rounds of %ld requests; reproduce: "
           "metrics_bench %ld %d)\n",
           rounds, n, n, rounds);
    return 0;
}
