/*
 * cli/main.c - the parsec command: dispatch to a subcommand
 *
 *   parsec backend run [SETTINGS]
 *   parsec backend migrate --db URL [--dry-run]
 *   parsec backend blockstore check [--repair] [--json] --db URL --blockstore ...
 *   parsec backend sequester <command> ... (docs/sequester.md)
 *   parsec backend human_accesses --organization ID [--filter WORDS] [--json]
 *   parsec core create_organization ORG --addr URL --administration-token TOKEN
 *   parsec core status_organization|update_organization|stats_organization ...
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: parsec backend run [SETTINGS]        serve (see --help)\n"
          "       parsec backend migrate --db URL [--dry-run]\n"
          "       parsec backend blockstore check [--repair] [--json] --db URL --blockstore ...\n"
          "       parsec backend sequester COMMAND ...   sequester services (--help)\n"
          "       parsec backend human_accesses --organization ID [--filter WORDS] [--json]\n"
          "       parsec core create_organization ORG --addr URL --administration-token TOKEN\n"
          "       parsec core status_organization ORG --addr URL --administration-token TOKEN\n"
          "       parsec core update_organization ORG --addr URL --administration-token TOKEN ...\n"
          "       parsec core stats_organization ORG --addr URL --administration-token TOKEN\n"
          "       parsec core stats_server --addr URL --administration-token TOKEN\n"
          "       parsec --version\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
        printf("parsec %s\n", PARSEC_VERSION);
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "backend")) {
        if (!strcmp(argv[2], "run"))
            return cli_backend_run(argc - 3, argv + 3);
        if (!strcmp(argv[2], "migrate"))
            return cli_backend_migrate(argc - 3, argv + 3);
        if (!strcmp(argv[2], "blockstore"))
            return cli_backend_blockstore(argc - 3, argv + 3);
        if (!strcmp(argv[2], "sequester"))
            return cli_backend_sequester(argc - 3, argv + 3);
        if (!strcmp(argv[2], "human_accesses"))
            return cli_backend_human_accesses(argc - 3, argv + 3);
    }
    if (argc >= 3 && !strcmp(argv[1], "core"))
        return cli_core(argv[2], argc - 3, argv + 3);
    usage(stderr);
    return 2;
}
