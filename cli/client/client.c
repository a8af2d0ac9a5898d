/*
 * cli/client/client.c - the client's command line: options, device, calls
 */
#include "client_internal.h"

#include "crypto.h"
#include "proto.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const struct {
    const char *name;
    int (*run)(client_ctx *);
    int min_args, max_args;
} commands[] = {
    {"bootstrap_organization", client_bootstrap, 1, 1},
    {"list_devices", client_list_devices, 0, 0},
    {"list_users", client_list_users, 0, 0},
    {"revoke_user", client_revoke_user, 1, 1},
    {"invite_user", client_invite_user, 1, 1},
    {"invite_device", client_invite_device, 0, 0},
    {"greet_invitation", client_greet, 1, 1},
    {"claim_invitation", client_claim, 1, 1},
    {"create_workspace", client_create_workspace, 1, 1},
    {"share_workspace", client_share_workspace, 3, 3},
    {"list_workspaces", client_list_workspaces, 0, 0},
    {"ls", client_ls, 1, 1},
    {"mkdir", client_mkdir, 1, 1},
    {"rm", client_rm, 1, 1},
    {"watch", client_watch, 0, 0},
    {"put", client_put, 2, 2},
    {"get", client_get, 2, 2},
    {"rsync", client_rsync, 2, 2},
};

bool client_has(const char *sub)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, sub))
            return true;
    return false;
}

const char *client_usage(void)
{
    return "\nclient commands (docs/client.md):\n"
           "  bootstrap_organization URL --email EMAIL --label NAME [--device-label LABEL]\n"
           "                            create the first user and device from the bootstrap\n"
           "                            address create_organization printed\n"
           "  list_devices              the devices stored on this machine\n"
           "  list_users                the organization's users, verified to its root key\n"
           "  revoke_user EMAIL|USER_ID revoke a user (ADMIN)\n"
           "  invite_user EMAIL [--send-email]   print the address a new user claims (ADMIN)\n"
           "  invite_device [--send-email]       the same for a new device of your own\n"
           "  greet_invitation TOKEN|EMAIL [--profile ADMIN|STANDARD|OUTSIDER]\n"
           "                            welcome the claimer: both compare two short codes\n"
           "  claim_invitation URL [--label NAME] [--device-label LABEL]\n"
           "                            join with the invitation address (--label: new users)\n"
           "  create_workspace NAME     a new workspace, its key made here\n"
           "  share_workspace NAME EMAIL|USER_ID OWNER|MANAGER|CONTRIBUTOR|READER|NONE\n"
           "  list_workspaces           name, role, id of the workspaces you can read\n"
           "  ls WORKSPACE[:PATH]       a folder's entries (folders end with /, files: size)\n"
           "  mkdir WORKSPACE:PATH      a new folder\n"
           "  rm WORKSPACE:PATH         remove a file or an empty folder\n"
           "  put LOCAL WORKSPACE:PATH  upload a file (into PATH if it is a folder or ends with "
           "/)\n"
           "  get WORKSPACE:PATH LOCAL  download a file (into LOCAL if it is a directory)\n"
           "  rsync LOCAL_DIR WORKSPACE:PATH   upload what changed, recursively (one way)\n"
           "  watch [--count N]         print remote changes as they happen (docs/events.md)\n"
           "\nclient options:\n"
           "  -D, --device ID|EMAIL            the device to act as (default: the only one)\n"
           "      --password-stdin             the device's passphrase: stdin's first line\n"
           "      --cacert FILE                CA certificates to check an https server with\n"
           "      --email, --label, --device-label, --profile   as each command says\n"
           "devices live in $XDG_DATA_HOME/parsec/devices (default ~/.local/share/...)\n"
           "exit status: 0 ok, 1 network or server, 2 usage, 3 not found, 4 already exists,\n"
           "5 not allowed, 6 verification failed (signature, trustchain, tampered data),\n"
           "7 no usable device (none, ambiguous, wrong passphrase)\n";
}

int client_fail(const client_ctx *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "parsec core %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* One line from fd into buf (without its newline); false if too long. */
static bool read_line(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || ch == '\n')
            break;
        if (n == cap)
            return false;
        buf[n++] = ch;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return true;
}

static bool ask(const char *prompt, char *buf, size_t cap, size_t *len)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    struct termios old, quiet;
    bool tty = tcgetattr(fd, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* the prompt is a courtesy; reading still works */
    }
    bool ok = read_line(fd, buf, cap, len);
    if (tty)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
        /* as above */
    }
    close(fd);
    return ok;
}

bool client_line(const client_ctx *c, char *buf, size_t cap, size_t *len)
{
    if (c->password_stdin)
        return read_line(STDIN_FILENO, buf, cap, len);
    return ask("", buf, cap, len);
}

bool client_password(const client_ctx *c, const char *prompt, bool confirm,
                     char buf[CLIENT_MAX_PASSWORD + 1], size_t *len)
{
    if (c->password_stdin) {
        if (!read_line(STDIN_FILENO, buf, CLIENT_MAX_PASSWORD, len)) {
            client_fail(c, CLIENT_EXIT_USAGE, "passphrase longer than %d bytes",
                        CLIENT_MAX_PASSWORD);
            return false;
        }
    } else if (!ask(prompt, buf, CLIENT_MAX_PASSWORD, len)) {
        client_fail(c, CLIENT_EXIT_USAGE,
                    "no terminal to ask the passphrase: use --password-stdin");
        return false;
    } else if (confirm) {
        char again[CLIENT_MAX_PASSWORD + 1];
        size_t alen;
        bool same = ask("Confirm passphrase: ", again, CLIENT_MAX_PASSWORD, &alen) &&
                    alen == *len && crypto_equal(again, buf, alen);
        ccrypto_wipe(again, sizeof again);
        if (!same) {
            client_fail(c, CLIENT_EXIT_USAGE, "the passphrases differ");
            return false;
        }
    }
    return true;
}

/* The device file --device names (device id, email, or "ORG/device id"),
 * or the only one; malloc'd path, or NULL after reporting. */
static char *pick_device(const client_ctx *c)
{
    size_t n, hit = 0, hits = 0;
    cdevice_entry *e = cdevice_list(&n);
    for (size_t i = 0; i < n; i++) {
        const char *s = c->device_sel;
        char full[128];
        snprintf(full, sizeof full, "%s/%s", e[i].org, e[i].device_id);
        if (s == NULL || !strcmp(s, e[i].device_id) || !strcmp(s, full) ||
            (e[i].email && !strcmp(s, e[i].email))) {
            hit = i;
            hits++;
        }
    }
    char *path = NULL;
    if (hits == 1) {
        path = xstrdup(e[hit].path);
    } else if (n == 0) {
        client_fail(c, CLIENT_EXIT_DEVICE,
                    "no device on this machine: bootstrap_organization or claim_invitation first");
    } else if (hits == 0) {
        client_fail(c, CLIENT_EXIT_DEVICE, "no device matches `%s` (see list_devices)",
                    c->device_sel);
    } else {
        client_fail(c, CLIENT_EXIT_DEVICE,
                    "%zu devices match: choose one with --device (see list_devices)", hits);
    }
    cdevice_list_free(e, n);
    return path;
}

int client_open(client_ctx *c)
{
    char *path = pick_device(c);
    if (path == NULL)
        return CLIENT_EXIT_DEVICE;
    char pass[CLIENT_MAX_PASSWORD + 1];
    size_t plen;
    int code = CLIENT_EXIT_USAGE;
    if (!client_password(c, "Device passphrase: ", false, pass, &plen))
        goto done;
    switch (cdevice_load(path, pass, plen, &c->dev)) {
    case CDEVICE_OK:
        c->have_dev = true;
        break;
    case CDEVICE_BAD_PASSWORD:
        code = client_fail(c, CLIENT_EXIT_DEVICE, "wrong passphrase for %s", path);
        goto done;
    case CDEVICE_NOT_FOUND:
    case CDEVICE_IO:
        code = client_fail(c, CLIENT_EXIT_DEVICE, "cannot read %s", path);
        goto done;
    case CDEVICE_CORRUPT:
        code = client_fail(c, CLIENT_EXIT_DEVICE, "%s is not a valid device file", path);
        goto done;
    }
    const char *why;
    c->rpc = crpc_new(c->dev.addr, c->dev.org, c->cacert, &why);
    if (c->rpc == NULL) {
        code = client_fail(c, CLIENT_EXIT_DEVICE, "%s: %s", path, why);
        goto done;
    }
    crpc_set_device(c->rpc, &c->dev);
    code = CLIENT_EXIT_OK;
done:
    ccrypto_wipe(pass, sizeof pass);
    free(path);
    return code;
}

int client_call_failed(const client_ctx *c, crpc_route route, long http, const char *err)
{
    int code = http == 401 || http == 410 ? CLIENT_EXIT_NOT_ALLOWED
               : http == 404              ? CLIENT_EXIT_NOT_FOUND
                                          : CLIENT_EXIT_SERVER;
    if (http == 401 && route == CRPC_INVITED)
        client_fail(c, code, "the invitation is unknown (%s)", err);
    else if (http == 410)
        client_fail(c, code, "the invitation was deleted");
    else if (http == 404)
        client_fail(c, code, "no such organization on this server (%s)", err);
    else
        client_fail(c, code, "%s", err);
    return code;
}

int client_call(client_ctx *c, crpc_route route, json_object *req, json_object **rep)
{
    long http;
    char *err;
    *rep = crpc_call(c->rpc, route, req, &http, &err);
    if (*rep)
        return CLIENT_EXIT_OK;
    int code = client_call_failed(c, route, http, err);
    free(err);
    return code;
}

int client_unexpected(const client_ctx *c, json_object *rep)
{
    const char *st = crpc_status(rep);
    const char *reason = client_get_str(rep, "reason");
    int code = !strcmp(st, "revoked_user") || !strcmp(st, "not_allowed") ||
                       !strcmp(st, "expired_organization")
                   ? CLIENT_EXIT_NOT_ALLOWED
               : !strcmp(st, "not_found")      ? CLIENT_EXIT_NOT_FOUND
               : !strcmp(st, "already_exists") ? CLIENT_EXIT_EXISTS
                                               : CLIENT_EXIT_SERVER;
    if (!strcmp(st, "revoked_user"))
        return client_fail(c, code, "this device's user is revoked");
    return client_fail(c, code, "the server answered %s%s%s", st, reason ? ": " : "",
                       reason ? reason : "");
}

json_object *client_req(const char *cmd)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "cmd", json_object_new_string(cmd));
    return o;
}

void client_add_bytes(json_object *o, const char *k, const void *data, size_t len)
{
    char *b = crypto_b64_encode(data, len);
    json_object_object_add(o, k, json_object_new_string(b));
    free(b);
}

const char *client_get_str(json_object *o, const char *k)
{
    json_object *v;
    if (o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return NULL;
}

uint8_t *client_get_bytes(json_object *o, const char *k, size_t *len)
{
    const char *s = client_get_str(o, k);
    return s ? crypto_b64_decode(s, strlen(s), len) : NULL;
}

enum {
    OPT_PW = 256,
    OPT_CACERT,
    OPT_EMAIL,
    OPT_LABEL,
    OPT_DLABEL,
    OPT_PROFILE,
    OPT_SEND,
    OPT_COUNT
};

int client_main(const char *sub, int argc, char **argv)
{
    client_ctx c = {.name = sub};
    static const struct option longopts[] = {
        {"device", required_argument, NULL, 'D'},
        {"password-stdin", no_argument, NULL, OPT_PW},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"email", required_argument, NULL, OPT_EMAIL},
        {"label", required_argument, NULL, OPT_LABEL},
        {"device-label", required_argument, NULL, OPT_DLABEL},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"quiet", no_argument, NULL, 'q'},
        {"send-email", no_argument, NULL, OPT_SEND},
        {"count", required_argument, NULL, OPT_COUNT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* getopt_long wants argv[0] to be the program */
    char **av = xcalloc((size_t)argc + 2, sizeof *av);
    av[0] = (char *)sub;
    for (int i = 0; i < argc; i++)
        av[i + 1] = argv[i];
    int code = CLIENT_EXIT_USAGE, opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc + 1, av, "D:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'D':
            c.device_sel = optarg;
            break;
        case OPT_PW:
            c.password_stdin = true;
            break;
        case OPT_CACERT:
            c.cacert = optarg;
            break;
        case OPT_EMAIL:
            c.email = optarg;
            break;
        case OPT_LABEL:
            c.label = optarg;
            break;
        case OPT_DLABEL:
            c.device_label = optarg;
            break;
        case OPT_PROFILE:
            c.profile = optarg;
            break;
        case 'q':
            c.quiet = true;
            break;
        case OPT_SEND:
            c.send_email = true;
            break;
        case OPT_COUNT: {
            char *end;
            c.count = strtol(optarg, &end, 10);
            if (*end || c.count < 1 || c.count > 1000000000L) {
                client_fail(&c, CLIENT_EXIT_USAGE, "--count: a number from 1");
                goto done;
            }
            break;
        }
        case 'h':
            fputs(client_usage(), stdout);
            code = CLIENT_EXIT_OK;
            goto done;
        default:
            client_fail(&c, CLIENT_EXIT_USAGE, "unknown or incomplete option `%s`", av[optind - 1]);
            goto done;
        }
    }
    c.argc = argc + 1 - optind;
    c.argv = av + optind;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, sub))
            continue;
        if (c.argc < commands[i].min_args || c.argc > commands[i].max_args) {
            client_fail(&c, CLIENT_EXIT_USAGE, "wrong number of arguments (see --help)");
            goto done;
        }
        code = commands[i].run(&c);
    }
done:
    client_blocks_free(c.blocks);
    crpc_free(c.rpc);
    free(c.known_dev);
    free(c.known_key);
    if (c.have_dev)
        cdevice_free(&c.dev);
    free(av);
    return code;
}
