/*
 * cli/client/client.h - `parsec core` commands of the end-to-end encrypted
 * client (docs/client.md)
 *
 * cli/core.c hands a subcommand it does not know to client_main when
 * client_has() says it is one of these.  Exit statuses, shared with the
 * administration commands where they mean the same thing:
 *
 *   0 success            3 not found          6 verification failed (a
 *   1 network or server  4 already exists       signature, a trustchain, a
 *   2 usage              5 not allowed          tampered blob)
 *                                             7 no usable device (none,
 *                                               wrong passphrase)
 */
#ifndef PARSEC_CLIENT_H
#define PARSEC_CLIENT_H

#include <stdbool.h>

enum {
    CLIENT_EXIT_OK = 0,
    CLIENT_EXIT_SERVER = 1,
    CLIENT_EXIT_USAGE = 2,
    CLIENT_EXIT_NOT_FOUND = 3,
    CLIENT_EXIT_EXISTS = 4,
    CLIENT_EXIT_NOT_ALLOWED = 5,
    CLIENT_EXIT_VERIFY = 6,
    CLIENT_EXIT_DEVICE = 7,
};

bool client_has(const char *subcommand);
/* client_usage - the client commands' lines for `parsec core --help`. */
const char *client_usage(void);
int client_main(const char *subcommand, int argc, char **argv);

#endif
