/*
 * tests/integration/test_client_extra.c - the parts of the client the
 * `client` suite does not reach
 *
 * The built `parsec` binary run as a person runs it (test_client_lib.h):
 * - `invite_user --send-email`, `invite_device --send-email`: the mail a
 *   real SMTP server (tests/lib/smtppeer.h) receives from the workers,
 *   with the address the client printed, and what the client prints for
 *   each `email_sent` (SUCCESS, BAD_RECIPIENT, NOT_AVAILABLE with the SMTP
 *   server gone);
 * - an OUTSIDER greeted with `--profile OUTSIDER`: what it may do (read a
 *   workspace shared with it, through the redacted certificates the server
 *   gives it; create its own), what it may not (list users, invite, share,
 *   be MANAGER or OWNER), and the exit statuses docs/client.md promises;
 *   an organization refusing OUTSIDER users: the greeting refused, and
 *   restarted with another profile;
 * - the progress bar of `put` and `get`: on a terminal (a pseudo-terminal
 *   as stderr) it ends at 100%; not through a pipe, not with -q, not for a
 *   small file.
 */
#include "porg.h"
#include "smtppeer.h"
#include "test_client_lib.h"
#include "test_email_lib.h"
#include "testenv.h"
#include "testreg.h"
#include "testsh.h"
#include "websrv.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static porg_srv_t *srv;

static int srv_port(const porg_srv_t *s)
{
    return websrv_port(porg_srv_websrv(s));
}

/* alice bootstrapped as ADMIN (alice@example.com) in a fresh organization
 * of s; *org malloc'd. */
static void alice_at(porg_srv_t *s, ct_person_t *alice, char **org)
{
    ct_person_init(alice, "alice passphrase");
    char *burl = ct_new_org_at(s, org, srv_port(s));
    char *args =
        xasprintf("bootstrap_organization '%s' --email alice@example.com --label Alice", burl);
    free(ct_run_ok(alice, 0, args));
    free(args);
    free(burl);
}

/* ---- invitations sent by email ---- */

/* A server whose mails go to 127.0.0.1:port, links naming parsec.test. */
static porg_srv_t *mail_server(int port)
{
    return porg_srv_start_mail(WEBSRV_LIGHTTPD, port, NULL, NULL);
}

/* `ARGS --password-stdin` as p, exit 0: the invitation address printed
 * (malloc'd) and *email the `Email: ` line's status (malloc'd, NULL when
 * there is none). */
static char *invite_mailed(const ct_person_t *p, const char *args, char **email)
{
    char *out = ct_run_ok(p, 0, args);
    const char *at = strstr(out, "Invitation URL: ");
    ck_assert_msg(at, "no address: %s", out);
    char *url = xstrndup(at + 16, strcspn(at + 16, "\n"));
    at = strstr(out, "Email: ");
    *email = at ? xstrndup(at + 7, strcspn(at + 7, "\n")) : NULL;
    free(out);
    return url;
}

/*
 * mailed - `ARGS --send-email` as p prints `Email: SUCCESS`, and the SMTP
 * server's next message goes to rcpt with, in both parts, the link to the
 * address the client printed (its action and token) on the server's public
 * address.  Returns that address (malloc'd).
 */
static char *mailed(const smtppeer_t *peer, const ct_person_t *p, const char *args,
                    const char *rcpt, const char *org)
{
    int n = smtppeer_count(peer);
    char *email, *with = xasprintf("%s --send-email", args);
    char *url = invite_mailed(p, with, &email);
    free(with);
    ck_assert_str_eq(email, "SUCCESS");
    free(email);
    ck_assert_int_eq(smtppeer_count(peer), n + 1);
    json_object *m = smtppeer_message(peer, n);
    ck_assert_msg(m != NULL, "no message %d", n);
    char *to = et_str(m, "rcpt_tos", "0", NULL);
    ck_assert_str_eq(to, rcpt);
    const char *action = strstr(url, "action="), *tok = strstr(url, "&token=");
    ck_assert(action && tok);
    char *text = xasprintf("http://parsec.test:6777/redirect/%s?%s", org, action);
    char *html = xasprintf("http://parsec.test:6777/redirect/%s?%.*s&amp;%s", org,
                           (int)(tok - action), action, tok + 1);
    char *plain = et_str(m, "message", "parts", "0", "content", NULL);
    char *rich = et_str(m, "message", "parts", "1", "content", NULL);
    ck_assert_msg(strstr(plain, text), "no %s in the text part:\n%s", text, plain);
    ck_assert_msg(strstr(rich, html), "no %s in the HTML part:\n%s", html, rich);
    free(plain);
    free(rich);
    free(text);
    free(html);
    free(to);
    json_object_put(m);
    return url;
}

/*
 * invite_user and invite_device with --send-email: the mail arrives with
 * the address the client printed, which bob then claims; without the
 * option nothing is mailed and no status printed; a refused recipient is
 * BAD_RECIPIENT; with the SMTP server gone, NOT_AVAILABLE and the
 * invitation kept (the same address again).  Every case exits 0: the
 * invitation exists whatever became of the mail.
 */
START_TEST(invitations_mailed)
{
    smtppeer_opts_t po = {.refuse_rcpt = "nobody@example.com"};
    smtppeer_t *peer = smtppeer_start(&po);
    ck_assert_ptr_nonnull(peer);
    /* a server of its own: its workers' settings name this test's SMTP
     * server, whose port is only known now */
    porg_srv_t *s = mail_server(smtppeer_port(peer));
    ct_person_t alice, bob;
    char *org, *email;
    alice_at(s, &alice, &org);
    ct_person_init(&bob, "bob passphrase");

    char *url = mailed(peer, &alice, "invite_user bob@example.com", "bob@example.com", org);
    ck_assert_ptr_nonnull(strstr(url, "action=claim_user&token="));

    /* the device invitation goes to the greeter's own address */
    char *durl = mailed(peer, &alice, "invite_device", "alice@example.com", org);
    ck_assert_ptr_nonnull(strstr(durl, "action=claim_device&token="));
    ck_assert_int_eq(smtppeer_count(peer), 2);

    /* the mailed invitation is the live one: bob claims it */
    int sts[2];
    ct_exchange(&alice, "bob@example.com", "STANDARD", &bob, url, "Bob", true, sts);
    ck_assert_msg(sts[0] == 0 && sts[1] == 0, "greeter %d, claimer %d", sts[0], sts[1]);
    free(url);

    /* without --send-email: no mail, no status */
    url = invite_mailed(&alice, "invite_user carol@example.com", &email);
    ck_assert_ptr_null(email);
    ck_assert_int_eq(smtppeer_count(peer), 2);
    free(url);

    /* a recipient the SMTP server refuses */
    url = invite_mailed(&alice, "invite_user nobody@example.com --send-email", &email);
    ck_assert_str_eq(email, "BAD_RECIPIENT");
    free(email);
    ck_assert_int_eq(smtppeer_count(peer), 2);
    free(url);

    /* the SMTP server gone: not available, the invitations kept */
    ck_assert(smtppeer_stop(peer));
    url = invite_mailed(&alice, "invite_user dan@example.com --send-email", &email);
    ck_assert_str_eq(email, "NOT_AVAILABLE");
    free(email);
    char *again = invite_mailed(&alice, "invite_user dan@example.com", &email);
    ck_assert_str_eq(again, url);
    ck_assert_ptr_null(email);
    free(again);
    free(url);
    again = invite_mailed(&alice, "invite_device --send-email", &email);
    ck_assert_str_eq(email, "NOT_AVAILABLE");
    ck_assert_str_eq(again, durl);
    free(email);
    free(again);
    free(durl);

    ct_two_users_free(&alice, &bob, org);
    ck_assert(porg_srv_stop(s));
}
END_TEST

/* ---- OUTSIDER users ---- */

/* `ARGS --password-stdin` as p, which must exit want with needle on
 * stderr. */
static void refused(const ct_person_t *p, int want, const char *needle, const char *args)
{
    char *out, *err;
    int st = ct_client(p, &out, &err, "%s --password-stdin", args);
    CT_EXPECT(st, want, out, err);
    ck_assert_msg(strstr(err, needle), "no `%s` in: %s", needle, err);
    free(out);
    free(err);
}

/*
 * alice greets olga as OUTSIDER.  olga reads and fetches what alice shares
 * with her (every certificate she is given is redacted: no email, no
 * label, and the client verifies them all the same), has her own
 * workspace, invites her own devices; she may not list the organization's
 * users, invite users, share, nor be given MANAGER or OWNER, nor write
 * as READER: each refusal exit 5.
 */
START_TEST(outsider_profile)
{
    ct_person_t alice, olga;
    char *org;
    alice_at(srv, &alice, &org);
    ct_person_init(&olga, "olga passphrase");
    char *url = ct_invite(&alice, "invite_user olga@example.com", 0);
    int sts[2];
    ct_exchange(&alice, "olga@example.com", "OUTSIDER", &olga, url, "Olga", true, sts);
    ck_assert_msg(sts[0] == 0 && sts[1] == 0, "greeter %d, claimer %d", sts[0], sts[1]);
    free(url);

    /* alice sees her profile; olga's own device knows her name */
    char *out = ct_run_ok(&alice, 0, "list_users");
    ck_assert_ptr_nonnull(strstr(out, "\tolga@example.com\tOlga\tOUTSIDER\tactive\n"));
    const char *nl = strstr(out, "\talice@example.com\t");
    ck_assert_ptr_nonnull(nl);
    while (nl > out && nl[-1] != '\n')
        nl--;
    char *alice_id = xstrndup(nl, 32);
    free(out);
    out = ct_run_ok(&olga, 0, "list_devices");
    ck_assert_ptr_nonnull(strstr(out, "\tolga@example.com\tOlga\tphone\t"));
    free(out);

    /* the server names the organization's people to no OUTSIDER */
    refused(&olga, 5, "OUTSIDER", "list_users");
    refused(&olga, 5, "not_allowed", "invite_user someone@example.com");

    /* a workspace of her own, which she may not share */
    free(ct_run_ok(&olga, 0, "create_workspace Olga-notes"));
    out = ct_run_ok(&olga, 0, "list_workspaces");
    ck_assert_ptr_nonnull(strstr(out, "Olga-notes\tOWNER\t"));
    free(out);
    refused(&olga, 5, "OUTSIDER", "share_workspace Olga-notes alice@example.com READER");
    char *args = xasprintf("share_workspace Olga-notes %s READER", alice_id);
    refused(&olga, 5, "does not allow", args);
    free(args);

    /* alice's workspace: never MANAGER nor OWNER, READER then CONTRIBUTOR */
    free(ct_run_ok(&alice, 0, "create_workspace Team"));
    refused(&alice, 5, "incompatible_profile", "share_workspace Team olga@example.com MANAGER");
    refused(&alice, 5, "incompatible_profile", "share_workspace Team olga@example.com OWNER");
    free(ct_run_ok(&alice, 0, "share_workspace Team olga@example.com READER"));
    char *src = xasprintf("%s/plan.txt", alice.home), *dst = xasprintf("%s/plan.txt", olga.home);
    ct_write_file(src, "the plan, readable by an outsider\n");
    args = xasprintf("put '%s' Team:/", src);
    free(ct_run_ok(&alice, 0, args));
    free(args);
    out = ct_run_ok(&olga, 0, "list_workspaces");
    ck_assert_ptr_nonnull(strstr(out, "Team\tREADER\t"));
    free(out);
    out = ct_run_ok(&olga, 0, "ls Team");
    ck_assert_str_eq(out, "plan.txt\t34\n");
    free(out);
    args = xasprintf("get Team:/plan.txt '%s'", dst);
    free(ct_run_ok(&olga, 0, args));
    free(args);
    int st;
    char *o = testsh_runf(&st, "cmp '%s' '%s'", src, dst);
    ck_assert_msg(st == 0, "%s", o);
    free(o);
    args = xasprintf("put '%s' Team:/mine.txt", dst);
    refused(&olga, 5, "no write access", args);
    free(ct_run_ok(&alice, 0, "share_workspace Team olga@example.com CONTRIBUTOR"));
    free(ct_run_ok(&olga, 0, args));
    free(args);
    out = ct_run_ok(&alice, 0, "ls Team");
    ck_assert_str_eq(out, strstr(out, "mine") == out ? "mine.txt\t34\nplan.txt\t34\n"
                                                     : "plan.txt\t34\nmine.txt\t34\n");
    free(out);

    /* a device of her own she may invite */
    url = ct_invite(&olga, "invite_device", 0);
    ck_assert_ptr_nonnull(strstr(url, "action=claim_device&token="));
    free(url);

    free(src);
    free(dst);
    free(alice_id);
    ct_two_users_free(&alice, &olga, org);
}
END_TEST

/*
 * An organization that refuses OUTSIDER users: the greeter's user_create
 * is refused (exit 5, the server's reason said), no user made; greeting
 * again with a profile it allows restarts the exchange (the waiting
 * claimer is told, exit 1) and a new claim succeeds.
 */
START_TEST(outsider_refused_by_organization)
{
    ct_person_t alice, olga, olga2;
    char *org;
    alice_at(srv, &alice, &org);
    ct_person_init(&olga, "olga passphrase");
    ct_person_init(&olga2, "olga passphrase");
    porg_patch_org(srv, org, "{\"user_profile_outsider_allowed\": false}");
    char *url = ct_invite(&alice, "invite_user olga@example.com", 0);
    ct_bg_t g, c;
    ct_bg_start(&g, &alice,
                (const char *[]){"greet_invitation", "olga@example.com", "--password-stdin",
                                 "--profile", "OUTSIDER", NULL});
    ct_bg_write(&g, alice.pass);
    ct_bg_write(&g, "\n");
    ct_bg_start(
        &c, &olga,
        (const char *[]){"claim_invitation", url, "--password-stdin", "--label", "Olga", NULL});
    ct_bg_write(&c, olga.pass);
    ct_bg_write(&c, "\n");
    ct_bg_line(&g, "Claimer code: ");
    ct_bg_line(&c, "Claimer code: ");
    ct_bg_write(&c, "y\n");
    ct_bg_write(&g, "y\n");
    ck_assert_int_eq(ct_bg_end(&g, &alice), 5);
    int st;
    char *err = testsh_runf(&st, "cat '%s/stderr-bg'", alice.home);
    ck_assert_msg(strstr(err, "Outsider profile is not allowed"), "%s", err);
    free(err);
    char *out = ct_run_ok(&alice, 0, "list_users");
    ck_assert_int_eq(ct_count_lines(out), 1);
    free(out);

    /* again as STANDARD: the first claimer is told to start again */
    int sts[2];
    ct_exchange(&alice, "olga@example.com", "STANDARD", &olga2, url, "Olga", true, sts);
    ck_assert_msg(sts[0] == 0 && sts[1] == 0, "greeter %d, claimer %d", sts[0], sts[1]);
    ck_assert_int_eq(ct_bg_end(&c, &olga), 1);
    err = testsh_runf(&st, "cat '%s/stderr-bg'", olga.home);
    ck_assert_msg(strstr(err, "start again"), "%s", err);
    free(err);
    out = ct_run_ok(&olga, 0, "list_devices");
    ck_assert_str_eq(out, "");
    free(out);
    out = ct_run_ok(&olga2, 0, "list_users");
    ck_assert_ptr_nonnull(strstr(out, "\tolga@example.com\tOlga\tSTANDARD\tactive\n"));
    free(out);

    free(url);
    ct_person_free(&olga2);
    ct_two_users_free(&alice, &olga, org);
}
END_TEST

/* ---- the progress bar ---- */

/*
 * on_tty - `parsec core ARGS --password-stdin` as p (args NULL-terminated,
 * at most 16), its stderr a pseudo-terminal and its stdout a pipe: what
 * each received (malloc'd; the terminal's "\n" arrives as "\r\n"), the
 * exit status returned.  At most 120 s.
 */
static int on_tty(const ct_person_t *p, const char *const *args, char **tty, char **out)
{
    int master, slave, in[2], o[2];
    ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(o), 0);
    char *bin = testenv_build_path("parsec");
    char *xdg = xasprintf("XDG_DATA_HOME=%s", p->home);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        dup2(slave, 2);
        close(in[1]);
        close(o[0]);
        close(master);
        putenv(xdg);
        const char *argv[20] = {bin, "core"};
        size_t n = 2;
        for (size_t i = 0; args[i] && n < 18; i++)
            argv[n++] = args[i];
        argv[n++] = "--password-stdin";
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(slave);
    close(in[0]);
    close(o[1]);
    ck_assert_int_eq(write(in[1], p->pass, strlen(p->pass)), (ssize_t)strlen(p->pass));
    ck_assert_int_eq(write(in[1], "\n", 1), 1);
    close(in[1]);
    /* both read as they come, so neither fills up and blocks the client */
    size_t cap[2] = {4096, 4096}, len[2] = {0, 0};
    char *buf[2] = {xmalloc(cap[0]), xmalloc(cap[1])};
    struct pollfd fds[2] = {{.fd = master, .events = POLLIN}, {.fd = o[0], .events = POLLIN}};
    time_t until = time(NULL) + 120;
    int open_fds = 2;
    while (open_fds > 0 && time(NULL) < until) {
        if (poll(fds, 2, 1000) <= 0)
            continue;
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (cap[k] - len[k] < 1024)
                buf[k] = xrealloc(buf[k], cap[k] *= 2);
            ssize_t r = read(fds[k].fd, buf[k] + len[k], cap[k] - len[k] - 1);
            if (r > 0) {
                len[k] += (size_t)r;
            } else if (r == 0 || errno != EINTR) { /* a pty's end is EIO */
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
            }
        }
    }
    for (int k = 0; k < 2; k++) {
        if (fds[k].fd >= 0)
            close(fds[k].fd);
        buf[k][len[k]] = '\0';
    }
    int ws;
    if (open_fds > 0)
        kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert_msg(open_fds == 0, "the client ran for more than 120 s: %s", buf[0]);
    *tty = buf[0];
    *out = buf[1];
    free(bin);
    free(xdg);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The finished bar of file name: 20 '#', 100%, then the line's end. */
static void assert_bar(const char *tty, const char *name)
{
    char *want = xasprintf("\r%-30.30s [####################] 100%%", name);
    const char *at = strstr(tty, want);
    ck_assert_msg(at, "no finished bar `%s` on the terminal: %s", want, tty);
    ck_assert_msg(strstr(at, "MiB\r\n"), "the bar's line does not end: %s", tty);
    /* drawn first before the end, then redrawn in place */
    char *draw = xasprintf("\r%-30.30s [", name);
    int draws = 0;
    for (const char *d = tty; (d = strstr(d, draw)) != NULL; d++)
        draws++;
    ck_assert_msg(draws >= 2 && strstr(tty, draw) == tty && at != tty,
                  "the bar is not drawn during the transfer: %s", tty);
    free(draw);
    free(want);
}

/*
 * put and get of a 5-block file (2.5 MiB), stderr a terminal: the bar
 * ends at 100% with the file's size; stdout never carries it.  The same
 * through a pipe, with -q, or for a file under 2 MiB: no bar.
 */
START_TEST(progress_bar)
{
    ct_person_t alice;
    char *org;
    alice_at(srv, &alice, &org);
    free(ct_run_ok(&alice, 0, "create_workspace Bar"));
    char *big = xasprintf("%s/big-9f2c.bin", alice.home);
    char *small = xasprintf("%s/small-9f2c.bin", alice.home);
    char *back = xasprintf("%s/back.bin", alice.home);
    int st;
    free(testsh_runf(&st,
                     "head -c 2621440 /dev/urandom > '%s' && head -c 2097151 /dev/urandom > '%s'",
                     big, small));
    ck_assert_int_eq(st, 0);

    /* put, then get back */
    const char *const *both[] = {(const char *[]){"put", big, "Bar:/", NULL},
                                 (const char *[]){"get", "Bar:/big-9f2c.bin", back, NULL}};
    char *tty, *out;
    for (int i = 0; i < 2; i++) {
        st = on_tty(&alice, both[i], &tty, &out);
        CT_EXPECT(st, 0, out, tty);
        assert_bar(tty, "big-9f2c.bin");
        ck_assert_ptr_nonnull(strstr(tty, "100%      2.5 MiB"));
        ck_assert_ptr_null(strchr(out, '%'));
        free(tty);
        free(out);
    }
    char *o = testsh_runf(&st, "cmp '%s' '%s'", big, back);
    ck_assert_msg(st == 0, "%s", o);
    free(o);

    /* -q on a terminal: nothing */
    st = on_tty(&alice, (const char *[]){"get", "-q", "Bar:/big-9f2c.bin", back, NULL}, &tty, &out);
    CT_EXPECT(st, 0, out, tty);
    ck_assert_msg(!strchr(tty, '%'), "a bar with -q: %s", tty);
    free(tty);
    free(out);
    /* a short transfer on a terminal: no bar */
    st = on_tty(&alice, (const char *[]){"put", small, "Bar:/", NULL}, &tty, &out);
    CT_EXPECT(st, 0, out, tty);
    ck_assert_msg(!strchr(tty, '%'), "a bar under 2 MiB: %s", tty);
    free(tty);
    free(out);

    /* through pipes: no bar, the file all the same */
    char *err;
    char *args = xasprintf("put '%s' Bar:/again.bin --password-stdin", big);
    st = ct_client(&alice, &out, &err, "%s", args);
    CT_EXPECT(st, 0, out, err);
    ck_assert_msg(!strchr(err, '%') && !strchr(err, '\r'), "a bar into a pipe: %s", err);
    ck_assert_msg(!strchr(out, '%'), "a bar on stdout: %s", out);
    free(out);
    free(err);
    free(args);
    args = xasprintf("get Bar:/again.bin '%s' --password-stdin", back);
    st = ct_client(&alice, &out, &err, "%s", args);
    CT_EXPECT(st, 0, out, err);
    ck_assert_msg(!strchr(err, '%') && !strchr(err, '\r'), "a bar into a pipe: %s", err);
    free(out);
    free(err);
    free(args);
    o = testsh_runf(&st, "cmp '%s' '%s'", big, back);
    ck_assert_msg(st == 0, "%s", o);
    free(o);

    free(big);
    free(small);
    free(back);
    free(org);
    ct_person_free(&alice);
}
END_TEST

TEST_SUITE(client_extra)
{
    testenv_db_setup();
    Suite *s = suite_create("client_extra");
    static const char *const env[] = {"PARSEC_BLOCKSTORE=POSTGRESQL", NULL};
    TCase *tc = porg_tcase("client_extra", &srv, WEBSRV_LIGHTTPD, env);
    tcase_add_test(tc, outsider_profile);
    tcase_add_test(tc, outsider_refused_by_organization);
    tcase_add_test(tc, progress_bar);
    suite_add_tcase(s, tc);
    /* a server and an SMTP server of its own */
    tc = tcase_create("email");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, invitations_mailed);
    suite_add_tcase(s, tc);
    return s;
}
