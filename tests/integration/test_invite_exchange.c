/*
 * tests/integration/test_invite_exchange.c - whole greetings between two
 * real clients, each in its own thread, through lighttpd, PostgreSQL and
 * parsec-notifyd
 *
 * The greeter is a device of the organization that waits on its websocket
 * (notifyd) for invite.conduit_updated instead of polling; the claimer has
 * only its token and polls.  Each exchange goes through the six steps as a
 * Parsec client does them (keys, hashed nonce, nonces, trust, then step 4
 * twice: the claimer's keys, the greeter's confirmation), and ends with the
 * claimer's user (USER invitation) or device (DEVICE invitation) created by
 * the greeter's user_create / device_create, invite_delete(FINISHED), and
 * the claimer authenticating as what was created.  Also: every reply lost
 * once on both sides (each call repeated after its ok must answer the
 * same), two claimers racing on one token, a claimer using its token on
 * another organization mid-exchange.
 *
 * The clients' payloads are not encrypted (the server never reads them);
 * each side checks what it received against what the other sent, and both
 * derive the same short authentication string from the exchange.
 */
#include "test_invite_lib.h"
#include "test_user_lib.h"
#include "testreg.h"
#include "xalloc.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A client gives up after this long (sanitized workers on a busy machine). */
#define DEADLINE_S 90
/* In a race, a side whose peers all gave up waits this long before it does. */
#define RACE_DEADLINE_S 15

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the humans compare in a race: each side shows its short
 * authentication string (SAS) once step 2b gave it both keys and nonces;
 * an exchange goes on only when the greeter's and a claimer's agree, as a
 * Parsec user checks the code on the other's screen. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool greeter_shown;
    uint8_t greeter_sas[32];
    bool claimer_shown[2];
    uint8_t claimer_sas[2][32];
} board_t;

/* One side of an exchange, run by its own thread.  Threads never call
 * Check's assertions: they record what went wrong in err. */
typedef struct party {
    /* set up by the test */
    bool greeter;
    const char *url, *org, *token;
    const pclient_device_t *dev; /* the greeter's device */
    bool device_invite;          /* a DEVICE invitation (else USER) */
    const char *claimer_email;   /* USER */
    wsclient_t *ws;              /* the greeter's websocket (NULL: it polls) */
    bool lose_replies;           /* every ok is lost once: the call is repeated */
    bool give_up_on_invalid;     /* a racing claimer stops at invalid_state */
    bool wait_claimer_done;      /* the greeter deletes once the claimer says so */
    pthread_mutex_t *mu;         /* with done_cond: the claimer's "done" */
    pthread_cond_t *done_cond;
    bool *claimer_done;
    pthread_barrier_t *start;
    board_t *board; /* a race: SAS compared before going on (NULL: trusted) */
    int idx;        /* the claimer's place on the board */
    /* what this side says */
    uint8_t key[32];     /* public key of step 1 */
    uint8_t nonce[48];   /* greeter_nonce / claimer_nonce */
    pclient_key_t sign;  /* claimer: the new device's signing key */
    uint8_t user_pk[32]; /* claimer: the new user's public key */
    /* what it got */
    uint8_t peer_key[32], peer_hash[32], peer_nonce[48];
    uint8_t sas[32];
    char *confirmation; /* claimer: the greeter's step-4 payload */
    char *created;      /* greeter: the device id it created */
    int calls, not_ready, invalid, restarts, events;
    bool saw_ready; /* the greeter's websocket announced the claimer */
    bool finished, gave_up;
    char err[512];
} party_t;

static void party_fail(party_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void party_fail(party_t *p, const char *fmt, ...)
{
    if (p->err[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
}

static void sas_of(party_t *p, const uint8_t gk[32], const uint8_t ck[32], const uint8_t gn[48],
                   const uint8_t cn[48])
{
    uint8_t buf[32 + 32 + 48 + 48];
    memcpy(buf, gk, 32);
    memcpy(buf + 32, ck, 32);
    memcpy(buf + 64, gn, 48);
    memcpy(buf + 112, cn, 48);
    SHA256(buf, sizeof buf, p->sas);
}

/* One HTTP request of p; the reply (NULL after party_fail()). */
static json_object *send_once(party_t *p, json_object *req, long *http)
{
    pclient_resp_t r;
    bool came;
    if (p->greeter) {
        came = pclient_cmd(p->url, "authenticated", p->org, p->dev, req, &r);
    } else {
        pclient_opts_t o = {.invitation_token = p->token};
        came = pclient_cmd_ex(p->url, "invited", p->org, NULL, &o, req, &r);
    }
    p->calls++;
    *http = r.status;
    json_object *reply = NULL;
    if (!came)
        party_fail(p, "%s: no answer", porg_str(req, "cmd"));
    else if (r.status == 200 && r.json && pclient_status(&r))
        reply = json_object_get(r.json);
    else if (!(r.status == 410 && !p->greeter))
        party_fail(p, "%s: HTTP %ld %s", porg_str(req, "cmd"), r.status, r.body);
    pclient_resp_free(&r);
    return reply;
}

/* The greeter waits for its websocket to say the claimer did something;
 * the claimer sleeps a little (a real one polls about once a second). */
static void wait_peer(party_t *p)
{
    if (!p->ws) {
        usleep(p->greeter ? 10000 : 20000);
        return;
    }
    json_object *e = wsclient_recv_json(p->ws, 15000);
    if (!e) {
        party_fail(p, "no event on the websocket within 15 s");
        return;
    }
    const char *name = porg_str(e, "event");
    const char *tok = porg_str(e, "token");
    if (!name || !tok || strcmp(tok, p->token) != 0 ||
        (strcmp(name, "invite.conduit_updated") && strcmp(name, "invite.status_changed")))
        party_fail(p, "unexpected event %s", json_object_to_json_string(e));
    p->events++;
    const char *st = porg_str(e, "invitation_status");
    if (st && !strcmp(st, "READY"))
        p->saw_ready = true;
    json_object_put(e);
}

typedef enum { STEP_OK, STEP_INVALID, STEP_GONE, STEP_FAILED } step_outcome;

/*
 * Step i saying data until it answers ok (repeating it while not_ready,
 * with the same payload); with lose_replies, the ok is "lost" and the call
 * repeated, which must answer exactly the same.  *out: the ok field
 * decoded (into out, at most cap bytes; *len set).
 */
static step_outcome run_step(party_t *p, int i, const void *data, size_t len, uint8_t *out,
                             size_t cap, size_t *out_len)
{
    const it_step_t *s = p->greeter ? &it_greeter_steps[i] : &it_claimer_steps[i];
    int64_t deadline = mono_ms() + (p->board ? RACE_DEADLINE_S : DEADLINE_S) * 1000;
    char *first_ok = NULL;
    for (;;) {
        if (p->err[0])
            return STEP_FAILED;
        if (mono_ms() > deadline) {
            if (p->board) /* a race: its peer gave up, so does it */
                p->gave_up = true;
            else
                party_fail(p, "%s: no ok within %d s", s->cmd, DEADLINE_S);
            return STEP_FAILED;
        }
        json_object *req =
            p->greeter ? it_greeter_req(i, p->token, data, len) : it_claimer_req(i, data, len);
        long http;
        json_object *rep = send_once(p, req, &http);
        json_object_put(req);
        if (!rep) {
            free(first_ok);
            return http == 410 ? STEP_GONE : STEP_FAILED;
        }
        const char *st = porg_status(rep);
        if (!strcmp(st, "not_ready")) {
            p->not_ready++;
            json_object_put(rep);
            if (first_ok) {
                party_fail(p, "%s: ok, then not_ready when repeated", s->cmd);
                free(first_ok);
                return STEP_FAILED;
            }
            wait_peer(p);
            continue;
        }
        if (!strcmp(st, "invalid_state")) {
            p->invalid++;
            json_object_put(rep);
            free(first_ok);
            return STEP_INVALID;
        }
        if (strcmp(st, "ok") != 0) {
            party_fail(p, "%s: %s", s->cmd, json_object_to_json_string(rep));
            json_object_put(rep);
            free(first_ok);
            return STEP_FAILED;
        }
        const char *text = json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN);
        if (p->lose_replies && !first_ok) {
            first_ok = xstrdup(text); /* lost: send it again */
            json_object_put(rep);
            continue;
        }
        if (first_ok && strcmp(first_ok, text) != 0)
            party_fail(p, "%s: a repeated call answered %s, then %s", s->cmd, first_ok, text);
        free(first_ok);
        *out_len = 0;
        if (s->out) {
            size_t n;
            uint8_t *b = it_bytes(rep, s->out, &n);
            if (n > cap)
                party_fail(p, "%s: %zu bytes, expected at most %zu", s->cmd, n, cap);
            else
                memcpy(out, b, n);
            *out_len = n;
            free(b);
        }
        json_object_put(rep);
        return p->err[0] ? STEP_FAILED : STEP_OK;
    }
}

/* ---- the greeter ---- */

/* The certificates of what the claimer asked for, signed by the greeter:
 * a new user and its first device, or a new device of the greeter's user. */
static pclient_device_t *certify(const party_t *p, const uint8_t verify_key[32],
                                 const uint8_t user_pk[32], const char *device_id)
{
    pclient_device_t *d = xcalloc(1, sizeof *d);
    const pclient_device_t *g = p->dev;
    int64_t ts = pclient_now_us();
    d->organization_id = xstrdup(g->organization_id);
    d->device_id = xstrdup(device_id);
    d->user_id = xstrndup(device_id, (size_t)(strchr(device_id, '@') - device_id));
    d->device_label = xasprintf("%s's new laptop", d->user_id);
    d->created_on = ts;
    memcpy(d->key.pub, verify_key, 32);
    if (p->device_invite) {
        d->user_certificate.data = NULL;
    } else {
        d->profile = xstrdup("STANDARD");
        d->human_email = xstrdup(p->claimer_email);
        d->human_label = xstrdup("Claire Mer");
        memcpy(d->user_public_key, user_pk, 32);
        pclient_user_certif_t uc = {.author = g->device_id,
                                    .timestamp = ts,
                                    .user_id = d->user_id,
                                    .human_email = d->human_email,
                                    .human_label = d->human_label,
                                    .profile = d->profile,
                                    .is_admin = -1};
        memcpy(uc.public_key, user_pk, 32);
        d->user_certificate = pclient_user_certif(&g->key, &uc, false);
        d->redacted_user_certificate = pclient_user_certif(&g->key, &uc, true);
    }
    pclient_device_certif_t dc = {.author = g->device_id,
                                  .timestamp = ts,
                                  .device_id = d->device_id,
                                  .device_label = d->device_label};
    memcpy(dc.verify_key, verify_key, 32);
    d->device_certificate = pclient_device_certif(&g->key, &dc, false);
    d->redacted_device_certificate = pclient_device_certif(&g->key, &dc, true);
    return d;
}

/* agree - show p's SAS on the board and wait (5 s at most) for the other
 * side's to be the same: the greeter, any claimer's; a claimer, the
 * greeter's.  False: the codes differ, this side stops. */
static bool agree(party_t *p)
{
    board_t *b = p->board;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&b->mu);
    if (p->greeter) {
        memcpy(b->greeter_sas, p->sas, 32);
        b->greeter_shown = true;
    } else {
        memcpy(b->claimer_sas[p->idx], p->sas, 32);
        b->claimer_shown[p->idx] = true;
    }
    pthread_cond_broadcast(&b->cv);
    bool same = false;
    for (;;) {
        if (p->greeter)
            for (int i = 0; i < 2; i++)
                same = same || (b->claimer_shown[i] && !memcmp(b->claimer_sas[i], p->sas, 32));
        else
            same = b->greeter_shown && !memcmp(b->greeter_sas, p->sas, 32);
        if (same || pthread_cond_timedwait(&b->cv, &b->mu, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&b->mu);
    return same;
}

/* The greeter: steps 1 to 3 (again from step 1 whenever the conduit was
 * reset under it), step 4 twice, the creation, the deletion. */
static void greet(party_t *p)
{
    uint8_t hn[32], cn[48], buf[256];
    size_t n;
    for (;;) {
        step_outcome o = run_step(p, 0, p->key, 32, p->peer_key, 32, &n);
        if (o == STEP_OK)
            o = run_step(p, 1, "", 0, hn, 32, &n);
        if (o == STEP_OK)
            o = run_step(p, 2, p->nonce, 48, cn, 48, &n);
        if (o == STEP_OK && (n != 48 || !(SHA256(cn, 48, buf), !memcmp(buf, hn, 32)))) {
            if (!p->board)
                party_fail(p, "the claimer's nonce does not match its hash");
            p->gave_up = true; /* in a race: another claimer's nonce */
            return;
        }
        if (o == STEP_OK && p->board) {
            sas_of(p, p->key, p->peer_key, p->nonce, cn);
            if (!agree(p)) {
                p->gave_up = true;
                return;
            }
        }
        if (o == STEP_OK)
            o = run_step(p, 3, "", 0, buf, 0, &n);
        if (o == STEP_OK)
            o = run_step(p, 4, "", 0, buf, 0, &n);
        /* round 1 of step 4: what the claimer asks for */
        if (o == STEP_OK)
            o = run_step(p, 5, "", 0, buf, sizeof buf, &n);
        if (o == STEP_INVALID && p->restarts < 20) {
            /* a claimer started over (or another one came): so do we */
            p->restarts++;
            RAND_bytes(p->key, 32);
            continue;
        }
        if (o != STEP_OK)
            return;
        memcpy(p->peer_hash, hn, 32);
        memcpy(p->peer_nonce, cn, 48);
        break;
    }
    sas_of(p, p->key, p->peer_key, p->nonce, p->peer_nonce);
    if (n != 64) {
        party_fail(p, "claim request of %zu bytes", n);
        return;
    }
    /* create what was asked */
    char *device_id =
        p->device_invite ? xasprintf("%s@newdev", p->dev->user_id) : xstrdup("claire@laptop");
    pclient_device_t *d = certify(p, buf, buf + 32, device_id);
    json_object *req = p->device_invite ? pclient_req_device_create(d) : pclient_req_user_create(d);
    long http;
    json_object *rep = send_once(p, req, &http);
    json_object_put(req);
    pclient_device_free(d);
    if (!rep || strcmp(porg_status(rep), "ok") != 0) {
        party_fail(p, "%s: %s", p->device_invite ? "device_create" : "user_create",
                   rep ? json_object_to_json_string(rep) : "no reply");
        json_object_put(rep);
        free(device_id);
        return;
    }
    json_object_put(rep);
    p->created = device_id;
    /* round 2: the confirmation; its ok comes once the claimer has it */
    char *conf = xasprintf("{\"device_id\":\"%s\",\"organization_id\":\"%s\"}", device_id, p->org);
    if (run_step(p, 5, conf, strlen(conf), buf, 0, &n) != STEP_OK) {
        free(conf);
        return;
    }
    free(conf);
    if (p->wait_claimer_done) {
        pthread_mutex_lock(p->mu);
        while (!*p->claimer_done)
            pthread_cond_wait(p->done_cond, p->mu);
        pthread_mutex_unlock(p->mu);
    }
    req = it_delete_req(p->token, "FINISHED");
    rep = send_once(p, req, &http);
    json_object_put(req);
    if (!rep || strcmp(porg_status(rep), "ok") != 0)
        party_fail(p, "invite_delete: %s", rep ? json_object_to_json_string(rep) : "no reply");
    json_object_put(rep);
    p->finished = !p->err[0];
}

/* ---- the claimer ---- */

static void claim(party_t *p)
{
    uint8_t hn[32], buf[512];
    size_t n;
    SHA256(p->nonce, 48, hn);
    long http;
    json_object *info = pclient_req("invite_info");
    json_object *rep = send_once(p, info, &http);
    json_object_put(info);
    if (!rep || strcmp(porg_status(rep), "ok") != 0) {
        party_fail(p, "invite_info: %ld", http);
        json_object_put(rep);
        return;
    }
    json_object_put(rep);
    step_outcome o = run_step(p, 0, p->key, 32, p->peer_key, 32, &n);
    if (o == STEP_OK)
        o = run_step(p, 1, hn, 32, p->peer_nonce, 48, &n);
    if (o == STEP_OK)
        o = run_step(p, 2, p->nonce, 48, buf, 0, &n);
    if (o == STEP_OK && p->board) {
        sas_of(p, p->peer_key, p->key, p->peer_nonce, p->nonce);
        if (!agree(p)) {
            p->gave_up = true;
            return;
        }
    }
    if (o == STEP_OK)
        o = run_step(p, 3, "", 0, buf, 0, &n);
    if (o == STEP_OK)
        o = run_step(p, 4, "", 0, buf, 0, &n);
    /* round 1 of step 4: the keys of what to create */
    uint8_t ask[64];
    memcpy(ask, p->sign.pub, 32);
    memcpy(ask + 32, p->user_pk, 32);
    if (o == STEP_OK)
        o = run_step(p, 5, ask, 64, buf, sizeof buf, &n);
    if (o == STEP_OK && n != 0)
        party_fail(p, "round 1 answered %zu bytes", n);
    if (o == STEP_OK)
        o = run_step(p, 5, "", 0, buf, sizeof buf - 1, &n);
    if ((o == STEP_INVALID || o == STEP_GONE) && p->give_up_on_invalid) {
        p->gave_up = true;
        return;
    }
    if (o != STEP_OK) {
        if (!p->err[0] && !p->gave_up)
            party_fail(p, "claimer stopped (%s)", o == STEP_GONE ? "410" : "invalid_state");
        return;
    }
    buf[n] = '\0';
    p->confirmation = xstrdup((char *)buf);
    sas_of(p, p->peer_key, p->key, p->peer_nonce, p->nonce);
    /* what was created answers to our key */
    json_object *c = json_tokener_parse(p->confirmation);
    const char *device_id = c ? porg_str(c, "device_id") : NULL;
    if (!device_id) {
        party_fail(p, "confirmation %s", p->confirmation);
        json_object_put(c);
        return;
    }
    pclient_device_t me = {0};
    me.organization_id = (char *)p->org;
    me.device_id = (char *)device_id;
    me.key = p->sign;
    json_object *ping = pclient_req("ping");
    json_object_object_add(ping, "ping", json_object_new_string("I am in"));
    pclient_resp_t r;
    pclient_cmd(p->url, "authenticated", p->org, &me, ping, &r);
    json_object_put(ping);
    if (r.status != 200 || !pclient_status(&r) || strcmp(pclient_status(&r), "ok") != 0)
        party_fail(p, "ping as %s: %ld %s", device_id, r.status, r.body);
    pclient_resp_free(&r);
    json_object_put(c);
    p->finished = !p->err[0];
}

static void *party_main(void *arg)
{
    party_t *p = arg;
    if (p->start)
        pthread_barrier_wait(p->start);
    if (p->greeter) {
        greet(p);
    } else {
        claim(p);
        if (p->mu) {
            pthread_mutex_lock(p->mu);
            *p->claimer_done = true;
            pthread_cond_broadcast(p->done_cond);
            pthread_mutex_unlock(p->mu);
        }
    }
    return NULL;
}

static void party_init(party_t *p, bool greeter, const porg_t *o, const char *token)
{
    memset(p, 0, sizeof *p);
    p->greeter = greeter;
    p->url = porg_srv_url(ut_srv);
    p->org = o->organization_id;
    p->token = token;
    RAND_bytes(p->key, 32);
    RAND_bytes(p->nonce, 48);
    pclient_key_generate(&p->sign);
    RAND_bytes(p->user_pk, 32);
}

/* ---- running exchanges ---- */

typedef struct {
    bool device;         /* a DEVICE invitation */
    bool lose_replies;   /* both sides lose every ok once */
    bool cross_org_poke; /* a claimer of this token knocks on another organization meanwhile */
} exchange_opts_t;

static void exchange(const exchange_opts_t *opt)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    porg_t *other = opt->cross_org_poke ? porg_bootstrap(ut_srv, NULL) : NULL;
    pclient_device_t *greeter_dev = o->admin;
    pclient_device_t *bob = NULL;
    if (opt->device) { /* a STANDARD user adding a device */
        bob = porg_user(ut_srv, o, o->admin, "bob@dev1", "STANDARD", "bob@example.com", "Bob");
        greeter_dev = bob;
    }
    /* the greeter's websocket, before the invitation exists */
    ndt_proc_t *nd = ndt_start(porg_srv_db(ut_srv), NULL);
    wsclient_ctx_t *ctx = wsclient_ctx_new(4);
    ndt_dev_t ndev;
    it_ndt_dev(o, greeter_dev, &ndev);
    wsclient_t *ws = ndt_connect(ctx, nd->port, &ndev);

    char *t = opt->device ? it_invite(ut_srv, greeter_dev, "DEVICE", NULL)
                          : it_invite(ut_srv, greeter_dev, "USER", "claire@example.com");
    json_object *e = ndt_expect(ws, "invite.status_changed", NDT_WAIT);
    ck_assert_str_eq(porg_str(e, "token"), t);
    ck_assert_str_eq(porg_str(e, "invitation_status"), "IDLE");
    json_object_put(e);

    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    bool done = false;
    party_t g, c;
    party_init(&g, true, o, t);
    party_init(&c, false, o, t);
    g.dev = greeter_dev;
    g.device_invite = c.device_invite = opt->device;
    g.claimer_email = "claire@example.com";
    g.ws = ws;
    g.lose_replies = c.lose_replies = opt->lose_replies;
    /* a lost last reply of the claimer cannot be asked again once the
     * invitation is deleted (docs/protocol.md 7.2): with lost replies the
     * greeter waits for the claimer; otherwise its last ok suffices */
    g.wait_claimer_done = opt->lose_replies;
    c.mu = g.mu = &mu;
    c.done_cond = g.done_cond = &cond;
    c.claimer_done = g.claimer_done = &done;
    pthread_t tg, tc;
    ck_assert_int_eq(pthread_create(&tg, NULL, party_main, &g), 0);
    ck_assert_int_eq(pthread_create(&tc, NULL, party_main, &c), 0);
    if (opt->cross_org_poke) {
        /* meanwhile, the same token on another organization: refused, and
         * the exchange goes on unharmed */
        for (int k = 0; k < 6; k++) {
            uint8_t d[32] = {9};
            it_claim_error(ut_srv, other->organization_id, t,
                           it_claimer_req(k, d, it_claimer_steps[k].in_exact ? 32 : 8), 401,
                           "bad_invitation");
        }
        it_claim_error(ut_srv, other->organization_id, t, pclient_req("invite_info"), 401,
                       "bad_invitation");
    }
    pthread_join(tc, NULL);
    pthread_join(tg, NULL);
    ck_assert_msg(!g.err[0], "greeter: %s", g.err);
    ck_assert_msg(!c.err[0], "claimer: %s", c.err);
    ck_assert(g.finished && c.finished);

    /* each got what the other said, and they agree on the SAS */
    ck_assert(!memcmp(g.peer_key, c.key, 32));
    ck_assert(!memcmp(c.peer_key, g.key, 32));
    ck_assert(!memcmp(g.peer_nonce, c.nonce, 48));
    ck_assert(!memcmp(c.peer_nonce, g.nonce, 48));
    ck_assert(!memcmp(g.sas, c.sas, 32));
    ck_assert_ptr_nonnull(strstr(c.confirmation, g.created));
    /* the greeter waited on events, never polling blindly */
    ck_assert_int_gt(g.events, 0);
    if (opt->lose_replies) /* every ok was asked twice */
        ck_assert_int_ge(c.calls, 2 * 7 + 1);

    /* what was created */
    if (opt->device) {
        char *v = ut_sql("SELECT d.device_label FROM device d JOIN organization o"
                         " ON o._id = d.organization WHERE o.organization_id = $1"
                         " AND d.device_id = 'bob@newdev'",
                         o->organization_id, NULL);
        ck_assert_str_eq(v, "bob's new laptop");
        free(v);
    } else {
        char *v = ut_sql("SELECT u.human_email || ' ' || u.profile FROM user_ u JOIN organization o"
                         " ON o._id = u.organization WHERE o.organization_id = $1"
                         " AND u.user_id = 'claire'",
                         o->organization_id, NULL);
        ck_assert_str_eq(v, "claire@example.com STANDARD");
        free(v);
    }
    /* the invitation is finished; its claimer is turned away */
    char *v = it_column(t, "deleted_reason");
    ck_assert_str_eq(v, "FINISHED");
    free(v);
    it_claim_error(ut_srv, o->organization_id, t, pclient_req("invite_info"), 410,
                   "invitation_already_deleted");
    /* the greeter's websocket got READY during the exchange and DELETED at
     * its end (events after the greeter's last wait are still queued) */
    bool deleted = false;
    for (json_object *m; !deleted && (m = wsclient_recv_json(ws, NDT_WAIT)) != NULL;) {
        const char *st = porg_str(m, "invitation_status");
        deleted = st && !strcmp(st, "DELETED");
        g.saw_ready = g.saw_ready || (st && !strcmp(st, "READY"));
        json_object_put(m);
    }
    ck_assert_msg(deleted, "no DELETED event");
    ck_assert_msg(g.saw_ready, "no READY event");
    /* the token never reached the worker's log */
    char *log = websrv_error_log(porg_srv_websrv(ut_srv));
    ck_assert_ptr_nonnull(log);
    ck_assert_ptr_null(strstr(log, t));
    free(log);

    wsclient_ctx_free(ctx);
    ck_assert_int_eq(ndt_stop(nd), 0);
    free(g.created);
    free(c.confirmation);
    free(t);
    pclient_device_free(bob);
    porg_free(other);
    porg_free(o);
}

START_TEST(user_exchange)
{
    exchange(&(exchange_opts_t){.device = false});
}
END_TEST

START_TEST(device_exchange)
{
    exchange(&(exchange_opts_t){.device = true});
}
END_TEST

START_TEST(user_exchange_lost_replies)
{
    exchange(&(exchange_opts_t){.device = false, .lose_replies = true, .cross_org_poke = true});
}
END_TEST

START_TEST(device_exchange_lost_replies)
{
    exchange(&(exchange_opts_t){.device = true, .lose_replies = true});
}
END_TEST

/* Two claimers racing on one token, from the same instant, each checking
 * with the greeter's human that their codes agree (as Parsec users do)
 * before going past step 2b; the greeter starts over whenever the conduit
 * is reset under it.  The conduit is shared, so a late claimer can slip its
 * payloads into another's exchange: the codes then differ and that side
 * stops.  What must hold: every answer is a documented status; either the
 * greeter and exactly one claimer finish, agreeing on everything, the
 * claimer created once, or nobody does and the invitation still serves a
 * claimer alone. */
START_TEST(two_claimers_race)
{
    porg_t *o = porg_bootstrap(ut_srv, NULL);
    char *t = it_invite(ut_srv, o->admin, "USER", "claire@example.com");
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 3);
    board_t board = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    party_t g, c[2];
    party_init(&g, true, o, t);
    g.dev = o->admin;
    g.claimer_email = "claire@example.com";
    g.start = &start;
    g.board = &board;
    for (int i = 0; i < 2; i++) {
        party_init(&c[i], false, o, t);
        c[i].give_up_on_invalid = true;
        c[i].start = &start;
        c[i].board = &board;
        c[i].idx = i;
    }
    pthread_t th[3];
    ck_assert_int_eq(pthread_create(&th[0], NULL, party_main, &g), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[1 + i], NULL, party_main, &c[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);

    ck_assert_msg(!g.err[0], "greeter: %s", g.err);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(!c[i].err[0], "claimer %d: %s", i, c[i].err);
    int finished = c[0].finished + c[1].finished;
    char *users =
        ut_sql("SELECT count(*) FROM user_ u JOIN organization o ON o._id = u.organization"
               " WHERE o.organization_id = $1 AND u.user_id = 'claire'",
               o->organization_id, NULL);
    if (g.finished) {
        ck_assert_int_eq(finished, 1);
        party_t *w = c[0].finished ? &c[0] : &c[1];
        ck_assert((c[0].finished ? &c[1] : &c[0])->gave_up);
        ck_assert(!memcmp(g.peer_key, w->key, 32));
        ck_assert(!memcmp(w->peer_key, g.key, 32));
        ck_assert(!memcmp(g.peer_nonce, w->nonce, 48));
        ck_assert(!memcmp(w->peer_nonce, g.nonce, 48));
        ck_assert(!memcmp(g.sas, w->sas, 32));
        ck_assert_ptr_nonnull(strstr(w->confirmation, g.created));
        ck_assert_str_eq(users, "1");
    } else {
        /* nobody got through: nothing was created, and the invitation
         * still serves one claimer, from step 1 */
        ck_assert(g.gave_up);
        ck_assert_int_eq(finished, 0);
        ck_assert_str_eq(users, "0");
        party_t g2, c2;
        party_init(&g2, true, o, t);
        party_init(&c2, false, o, t);
        g2.dev = o->admin;
        g2.claimer_email = "claire@example.com";
        pthread_t tg, tc;
        ck_assert_int_eq(pthread_create(&tg, NULL, party_main, &g2), 0);
        ck_assert_int_eq(pthread_create(&tc, NULL, party_main, &c2), 0);
        pthread_join(tc, NULL);
        pthread_join(tg, NULL);
        ck_assert_msg(!g2.err[0] && !c2.err[0], "after the race: %s %s", g2.err, c2.err);
        ck_assert(g2.finished && c2.finished);
        ck_assert(!memcmp(g2.sas, c2.sas, 32));
        free(g2.created);
        free(c2.confirmation);
    }
    free(users);
    free(g.created);
    for (int i = 0; i < 2; i++)
        free(c[i].confirmation);
    free(t);
    porg_free(o);
}
END_TEST

TEST_SUITE(invite_exchange)
{
    Suite *s = suite_create("invite_exchange");
    TCase *tc = ut_tcase("exchange");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, user_exchange);
    tcase_add_test(tc, device_exchange);
    tcase_add_test(tc, user_exchange_lost_replies);
    tcase_add_test(tc, device_exchange_lost_replies);
    tcase_add_test(tc, two_claimers_race);
    suite_add_tcase(s, tc);
    return s;
}
