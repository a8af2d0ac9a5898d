/*
 * cli/cli.h - the subcommands of the `parsec` command
 *
 * Each takes the arguments after its subcommand words (argv[0] is the first
 * option) and returns the process exit status: 0 success, 1 failure at run
 * time, 2 bad usage or settings (one line on stderr).
 */
#ifndef PARSEC_CLI_H
#define PARSEC_CLI_H

/* parsec backend run: the supervisor (cli/backend_run.c). */
int cli_backend_run(int argc, char **argv);
/* parsec backend migrate --db URL [--dry-run] (cli/backend_migrate.c). */
int cli_backend_migrate(int argc, char **argv);
/* parsec backend blockstore check [--repair] [--json] ... (cli/backend_blockstore.c):
 * argv[0] is "check". */
int cli_backend_blockstore(int argc, char **argv);
/* parsec backend sequester <create_service|generate_service_certificate|
 * list_services|update_service|export_realm> (cli/backend_sequester*.c):
 * argv[0] is the command. */
int cli_backend_sequester(int argc, char **argv);
/* parsec backend human_accesses --organization ID [--filter WORDS] [--json]
 * (cli/backend_human_accesses.c). */
int cli_backend_human_accesses(int argc, char **argv);
/* parsec core <create_organization|status_organization|update_organization|
 * stats_organization|stats_server> (cli/core.c): the administration client. */
int cli_core(const char *subcommand, int argc, char **argv);

#endif
