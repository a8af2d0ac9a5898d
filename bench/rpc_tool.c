/*
 * bench/rpc_tool.c - the client side of bench/rpc-bench
 *
 *   rpc_tool setup URL ADMIN_TOKEN ORG   create ORG (administration API),
 *                                        bootstrap it (organization_bootstrap)
 *                                        and print "<device id> <seed hex>"
 *                                        of its first device
 *   rpc_tool token ORG DEVICE SEED_HEX   print an Authorization value for now
 *   rpc_tool verify-rate SECONDS         raw Ed25519 verifications per second,
 *                                        one thread (crypto_ed25519_verify, the
 *                                        server's own function, on a token-sized
 *                                        message)
 *
 * Built from tests/lib/pclient.c (keys, certificates, tokens), so the
 * benchmark exercises the same protocol as the integration tests.
 */
#include "crypto.h"
#include "pclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void)
{
    fputs("usage: rpc_tool setup URL ADMIN_TOKEN ORG | token ORG DEVICE SEED_HEX |"
          " verify-rate SECONDS\n",
          stderr);
    return 2;
}

static int setup(const char *url, const char *admin_token, const char *org)
{
    char *u = NULL, *auth = NULL, *body = NULL;
    if (asprintf(&u, "%s/administration/organizations", url) < 0 ||
        asprintf(&auth, "Authorization: Bearer %s", admin_token) < 0 ||
        asprintf(&body, "{\"organization_id\":\"%s\"}", org) < 0)
        return 1;
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    pclient_resp_t r;
    bool ok = pclient_http_post(u, h, body, strlen(body), &r);
    json_object *tok = NULL;
    if (!ok || r.status != 200 || !r.json ||
        !json_object_object_get_ex(r.json, "bootstrap_token", &tok)) {
        fprintf(stderr, "rpc_tool: organization creation failed: %ld %s\n", r.status, r.body);
        pclient_resp_free(&r);
        return 1;
    }
    char *token = strdup(json_object_get_string(tok));
    pclient_resp_free(&r);

    pclient_key_t root;
    pclient_key_generate(&root);
    pclient_device_t *d = pclient_user_new(org, "alice@dev1", "ADMIN", "alice@example.com", "Alice",
                                           "bench", NULL, &root, pclient_now_us());
    json_object *req = pclient_req_bootstrap(token, &root, d);
    ok = pclient_cmd(url, "anonymous", org, NULL, req, &r);
    json_object_put(req);
    const char *st = ok ? pclient_status(&r) : NULL;
    if (!st || strcmp(st, "ok") != 0) {
        fprintf(stderr, "rpc_tool: bootstrap failed: %ld %s\n", r.status, r.body);
        pclient_resp_free(&r);
        return 1;
    }
    pclient_resp_free(&r);
    printf("%s ", d->device_id);
    for (int i = 0; i < 32; i++)
        printf("%02x", d->key.seed[i]);
    printf("\n");
    pclient_device_free(d);
    free(token);
    free(u);
    free(auth);
    free(body);
    return 0;
}

static int token(const char *org, const char *device, const char *seed_hex)
{
    uint8_t seed[32];
    if (strlen(seed_hex) != 64)
        return usage();
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(seed_hex + 2 * i, "%2x", &v) != 1)
            return usage();
        seed[i] = (uint8_t)v;
    }
    pclient_key_t k;
    pclient_key_from_seed(&k, seed);
    char *t = pclient_auth_token(org, device, &k, pclient_now_us() / 1000000);
    printf("PARSEC-SIGN-ED25519 %s\n", t);
    free(t);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int verify_rate(double seconds)
{
    pclient_key_t k;
    pclient_key_generate(&k);
    /* the size of a token's signed text */
    static const char msg[] = "PARSEC-SIGN-ED25519.QmVuY2hPcmc.YWxpY2VAZGV2MQ.1700000000";
    uint8_t sig[64];
    pclient_sign(&k, msg, sizeof msg - 1, sig);
    long n = 0;
    double start = now_s(), end;
    do {
        for (int i = 0; i < 100; i++)
            if (!crypto_ed25519_verify(k.pub, msg, sizeof msg - 1, sig))
                return 1;
        n += 100;
        end = now_s();
    } while (end - start < seconds);
    printf("%.0f\n", (double)n / (end - start));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "setup") == 0)
        return setup(argv[2], argv[3], argv[4]);
    if (argc == 5 && strcmp(argv[1], "token") == 0)
        return token(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "verify-rate") == 0)
        return verify_rate(atof(argv[2]));
    return usage();
}
