/*
 * cli/backend_sequester.h - what the operator's sequester commands share
 * (backend_sequester.c, backend_sequester_export.c,
 * backend_human_accesses.c): their own flags, the settings they read, the
 * database, the organization
 *
 * Exit statuses (docs/sequester.md, parsec(1)): 0 done; 1 refused or
 * failed at run time (unknown organization, service or realm, a service
 * already enabled or disabled, a bad key or certificate, the database or
 * the output failed), one line on stderr; 2 bad usage.
 *
 * Ownership: strings in a seq_ctx_t live in its arena, freed by
 * seq_close().
 */
#ifndef PARSEC_BACKEND_SEQUESTER_H
#define PARSEC_BACKEND_SEQUESTER_H

#include "arena.h"
#include "cfg.h"
#include "db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A command's own flags, taken out of argv before the settings are parsed. */
typedef struct {
    const char *name;  /* "--organization" */
    bool has_value;    /* takes one argument */
    const char *value; /* the argument, or "" for a flag given; NULL: absent */
} seq_flag_t;

typedef struct {
    const char *prog; /* "parsec backend sequester create_service" */
    cfg_t cfg;
    bool have_cfg, logging;
    arena_t *arena;
    db_pool_t *pool;
    db_conn_t *db;
    bool failed; /* sticky database failure (DB_RUN) */
    /* the organization (seq_org) */
    int64_t org;
    const char *org_id;
    bool bootstrapped;
    const uint8_t *root_verify_key; /* 32 bytes, NULL before bootstrap */
    const uint8_t *authority_der;   /* NULL: not sequestered */
    size_t authority_der_len;
} seq_ctx_t;

/*
 * seq_open - take flags[0..nflags) out of argv (each may appear once),
 * then parse the remaining settings (the database ones, the log ones,
 * plus "blockstore" when with_blockstore), print --help (usage: the flags'
 * help text, then the settings) and connect.  Returns -1 to go on, or the
 * exit status to return now (0 after --help, 2 bad usage, 1 no database).
 */
int seq_open(seq_ctx_t *c, const char *prog, const char *help, int argc, char **argv,
             seq_flag_t *flags, size_t nflags, bool with_blockstore, bool need_db);

/* seq_close - release everything of c. */
void seq_close(seq_ctx_t *c);

/* seq_org - load organization id: 0 found; 1 (message printed) when it is
 * unknown, or not bootstrapped / not sequestered when required. */
int seq_org(seq_ctx_t *c, const char *id, bool need_sequestered);

/* seq_fail - print "<prog>: <message>" on stderr and return 1. */
int seq_fail(const seq_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* seq_usage - "<prog>: <message>" on stderr, return 2. */
int seq_usage(const seq_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* seq_read_file - the whole of a regular file of at most max bytes
 * (malloc'd, caller frees), or NULL after printing why. */
uint8_t *seq_read_file(const seq_ctx_t *c, const char *path, size_t max, size_t *len);

/* seq_parse_uuid - 32 hex digits, hyphens allowed (what the listings
 * print and what Parsec's CLI took). */
bool seq_parse_uuid(const char *s, uint8_t out[16]);

/* The subcommands (argv after the subcommand word). */
int seq_export_realm(int argc, char **argv);

#endif
