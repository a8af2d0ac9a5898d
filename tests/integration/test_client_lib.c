/*
 * tests/integration/test_client_lib.c - what the client suites share
 * (test_client_lib.h)
 */
#include "test_client_lib.h"

#include "testenv.h"
#include "testsh.h"
#include "xalloc.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void ct_person_init(ct_person_t *p, const char *pass)
{
    strcpy(p->home, "/tmp/parsec-client-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(p->home));
    p->pass = pass;
}

void ct_person_free(ct_person_t *p)
{
    int st;
    free(testsh_runf(&st, "rm -rf '%s'", p->home));
}

/* The end of a test with two people. */
void ct_two_users_free(ct_person_t *alice, ct_person_t *bob, char *org)
{
    free(org);
    ct_person_free(alice);
    ct_person_free(bob);
}

/*
 * ct_client - run `parsec core ARGS` as p (args: one shell-quoted string built
 * by the caller), the passphrase on stdin; stdout into *out (malloc'd),
 * stderr into *err, the exit status returned.
 */
int ct_client(const ct_person_t *p, char **out, char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args;
    ck_assert_int_ge(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    char *bin = testenv_build_path("parsec");
    char *errf = xasprintf("%s/stderr", p->home);
    int st;
    char *o = testsh_runf(&st, "printf '%%s\\n' '%s' | XDG_DATA_HOME='%s' '%s' core %s 2>'%s'",
                          p->pass, p->home, bin, args, errf);
    int e;
    char *eo = testsh_runf(&e, "cat '%s'", errf);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = eo;
    else
        free(eo);
    free(errf);
    free(bin);
    free(args);
    return st;
}

/* A fresh organization and its bootstrap address (malloc'd), the server
 * reached on port. */
char *ct_new_org_at(porg_srv_t *srv, char **org, int port)
{
    *org = porg_org_id("Client");
    char *tok = porg_create_org(srv, *org, "");
    char *url = xasprintf("parsec://127.0.0.1:%d/%s?no_ssl=true&action=bootstrap_organization"
                          "&token=%s",
                          port, *org, tok);
    free(tok);
    return url;
}

int ct_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

void ct_bg_start(ct_bg_t *b, const ct_person_t *p, const char *const *args)
{
    int in[2], out[2];
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    char *bin = testenv_build_path("parsec");
    char *errf = xasprintf("%s/stderr-bg", p->home);
    char *xdg = xasprintf("XDG_DATA_HOME=%s", p->home);
    b->pid = fork();
    ck_assert_int_ge(b->pid, 0);
    if (b->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(e, 2);
        close(in[1]);
        close(out[0]);
        putenv(xdg);
        const char *argv[24] = {bin, "core"};
        size_t n = 2;
        for (size_t i = 0; args[i] && n < 23; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    b->in = in[1];
    b->out = out[0];
    b->len = 0;
    b->buf[0] = '\0';
    free(bin);
    free(errf);
    free(xdg);
}

void ct_bg_write(ct_bg_t *b, const char *s)
{
    ck_assert_int_eq(write(b->in, s, strlen(s)), (ssize_t)strlen(s));
}

/* Waits (at most 120 s) until stdout holds a whole line starting with
 * prefix; returns where the line starts. */
const char *ct_bg_line(ct_bg_t *b, const char *prefix)
{
    time_t until = time(NULL) + 120;
    for (;;) {
        const char *at = strstr(b->buf, prefix);
        if (at && strchr(at, '\n'))
            return at;
        struct pollfd p = {.fd = b->out, .events = POLLIN};
        ck_assert_msg(time(NULL) < until, "no `%s` in: %s", prefix, b->buf);
        if (poll(&p, 1, 1000) <= 0)
            continue;
        ssize_t n = read(b->out, b->buf + b->len, sizeof b->buf - 1 - b->len);
        ck_assert_msg(n > 0, "ended without `%s`: %s", prefix, b->buf);
        b->len += (size_t)n;
        b->buf[b->len] = '\0';
    }
}

int ct_bg_end(ct_bg_t *b, const ct_person_t *p)
{
    close(b->in);
    int ws = 0;
    for (int i = 0; i < 1200; i++) {
        pid_t r = waitpid(b->pid, &ws, WNOHANG);
        if (r == b->pid)
            break;
        if (i == 1199) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &ws, 0);
        }
        struct timespec t = {0, 100 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    /* the rest of stdout, for messages */
    ssize_t n;
    while ((n = read(b->out, b->buf + b->len, sizeof b->buf - 1 - b->len)) > 0)
        b->len += (size_t)n;
    b->buf[b->len] = '\0';
    close(b->out);
    (void)p;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The two codes a side printed ("GGGG CCCC"), malloc'd. */
static char *codes_of(ct_bg_t *b)
{
    const char *c = ct_bg_line(b, "Claimer code: ");
    const char *g = strstr(b->buf, "Greeter code: ");
    ck_assert_ptr_nonnull(g);
    return xasprintf("%.4s %.4s", g + 14, c + 14);
}

/* invite, greet and claim, the people comparing codes; answers[0] is the
 * greeter's yes/no, answers[1] the claimer's; returns both exit statuses. */
void ct_exchange(const ct_person_t *greeter, const char *who, const char *profile,
                 const ct_person_t *claimer, const char *url, const char *label, bool yes,
                 int st[2])
{
    ct_bg_t g, c;
    ct_bg_start(
        &g, greeter,
        (const char *[]){"greet_invitation", who, "--password-stdin", "--profile", profile, NULL});
    ct_bg_write(&g, greeter->pass);
    ct_bg_write(&g, "\n");
    const char *cargs[] = {"claim_invitation",
                           url,
                           "--password-stdin",
                           "--device-label",
                           "phone",
                           "--label",
                           label,
                           NULL};
    ct_bg_start(&c, claimer, cargs);
    ct_bg_write(&c, claimer->pass);
    ct_bg_write(&c, "\n");
    char *gc = codes_of(&g), *cc = codes_of(&c);
    /* what two people compare */
    ck_assert_str_eq(gc, cc);
    ct_bg_write(&c, "y\n");
    ct_bg_write(&g, yes ? "y\n" : "n\n");
    st[0] = ct_bg_end(&g, greeter);
    st[1] = ct_bg_end(&c, claimer);
    free(gc);
    free(cc);
}

/* The invitation address `invite_user`/`invite_device` printed (malloc'd). */
char *ct_invite(const ct_person_t *p, const char *args, int want)
{
    char *out, *err;
    int st = ct_client(p, &out, &err, "%s --password-stdin", args);
    CT_EXPECT(st, want, out, err);
    char *url = NULL;
    const char *at = strstr(out, "Invitation URL: ");
    if (want == 0) {
        ck_assert_ptr_nonnull(at);
        url = xstrndup(at + 16, strcspn(at + 16, "\n"));
    }
    free(out);
    free(err);
    return url;
}

/* Runs and expects status want; returns stdout (malloc'd). */
char *ct_run_ok(const ct_person_t *p, int want, const char *args)
{
    char *out, *err;
    int st = ct_client(p, &out, &err, "%s --password-stdin", args);
    CT_EXPECT(st, want, out, err);
    free(err);
    return out;
}

/* A bootstrapped alice and a claimed bob (STANDARD) in a fresh org, both
 * devices reaching the server on port. */
void ct_two_users_at(porg_srv_t *srv, ct_person_t *alice, ct_person_t *bob, char **org, int port)
{
    ct_person_init(alice, "alice passphrase");
    ct_person_init(bob, "bob passphrase");
    char *burl = ct_new_org_at(srv, org, port);
    char *args =
        xasprintf("bootstrap_organization '%s' --email alice@example.com --label Alice", burl);
    free(ct_run_ok(alice, 0, args));
    free(args);
    char *url = ct_invite(alice, "invite_user bob@example.com", 0);
    int sts[2];
    ct_exchange(alice, "bob@example.com", "STANDARD", bob, url, "Bob", true, sts);
    ck_assert_msg(sts[0] == 0 && sts[1] == 0, "greeter %d, claimer %d", sts[0], sts[1]);
    free(url);
    free(burl);
}

/* two_users_at, then alice's workspace ws shared with bob as role. */
void ct_two_users_sharing(porg_srv_t *srv, ct_person_t *alice, ct_person_t *bob, char **org,
                          int port, const char *ws, const char *role)
{
    ct_two_users_at(srv, alice, bob, org, port);
    char *args = xasprintf("create_workspace %s", ws);
    free(ct_run_ok(alice, 0, args));
    free(args);
    args = xasprintf("share_workspace %s bob@example.com %s", ws, role);
    free(ct_run_ok(alice, 0, args));
    free(args);
}

void ct_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* What `get` returns for WORKSPACE:PATH, as bob (malloc'd). */
char *ct_got(const ct_person_t *bob, const char *remote)
{
    char *local = xasprintf("%s/got", bob->home);
    char *args = xasprintf("get '%s' '%s'", remote, local);
    free(ct_run_ok(bob, 0, args));
    int st;
    char *text = testsh_runf(&st, "cat '%s' && rm -f '%s'", local, local);
    ck_assert_int_eq(st, 0);
    free(args);
    free(local);
    return text;
}
