/*
 * tests/unit/test_cmd_tables.c - the command tables and the statement
 * registry hold together: every command name and every prepared-statement
 * name appears once, each table line is complete, and each statement
 * declares as many parameters as its SQL uses
 *
 * A clash used to show only at run time, as SQLSTATE 42P05 on the second
 * statement prepared under one name; here it fails the build's tests.
 * tests/integration/test_db_stmts.c prepares every statement against the
 * migrated schema.
 */
#include "cmd/cmd.h"
#include "db.h"
#include "testreg.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

START_TEST(command_lookup)
{
    ck_assert_ptr_nonnull(cmd_find("ping", AUTH_ANONYMOUS));
    ck_assert_ptr_nonnull(cmd_find("ping", AUTH_INVITED));
    ck_assert_ptr_nonnull(cmd_find("ping", AUTH_AUTHENTICATED));
    ck_assert_ptr_nonnull(cmd_find("organization_bootstrap", AUTH_ANONYMOUS));
    ck_assert_ptr_null(cmd_find("organization_bootstrap", AUTH_AUTHENTICATED));
    ck_assert_ptr_null(cmd_find("organization_bootstrap", AUTH_INVITED));
    ck_assert_ptr_nonnull(cmd_find("organization_config", AUTH_AUTHENTICATED));
    ck_assert_ptr_null(cmd_find("organization_config", AUTH_ANONYMOUS));
    ck_assert_ptr_nonnull(cmd_find("organization_stats", AUTH_AUTHENTICATED));
    ck_assert_int_eq(cmd_find("organization_stats", AUTH_AUTHENTICATED)->who, CMD_ADMIN);
    ck_assert_int_eq(cmd_find("human_find", AUTH_AUTHENTICATED)->who, CMD_NOT_OUTSIDER);
    ck_assert_ptr_null(cmd_find("nope", AUTH_AUTHENTICATED));
    ck_assert_ptr_null(cmd_find("", AUTH_AUTHENTICATED));
}
END_TEST

START_TEST(command_names_unique_and_lines_complete)
{
    size_t n = 0;
    const char *names[512];
    for (const cmd_def_t *const *f = cmd_families; *f; f++) {
        for (const cmd_def_t *c = *f; c->name; c++) {
            ck_assert_msg(n < sizeof names / sizeof names[0], "more than %zu commands", n);
            for (size_t k = 0; k < n; k++)
                ck_assert_msg(strcmp(names[k], c->name) != 0, "command %s in two table lines",
                              c->name);
            names[n++] = c->name;
            ck_assert_msg(c->handler != NULL, "%s: no handler", c->name);
            ck_assert_msg(c->routes != 0 && (c->routes & ~7u) == 0, "%s: routes %#x", c->name,
                          c->routes);
            ck_assert_msg(c->who == CMD_ANYONE || c->routes == AUTH_AUTHENTICATED,
                          "%s: a profile rule needs the authenticated route only", c->name);
            for (const char *p = c->name; *p; p++)
                ck_assert_msg(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_',
                              "%s: not a command name", c->name);
        }
    }
    ck_assert_uint_ge(n, 9);
}
END_TEST

/* The highest $N the SQL text uses (outside string literals). */
static int max_param(const char *sql)
{
    int max = 0;
    bool quoted = false;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        if (quoted || *p != '$' || !isdigit((unsigned char)p[1]))
            continue;
        int v = atoi(p + 1);
        if (v > max)
            max = v;
    }
    return max;
}

START_TEST(statement_names_unique_and_counts_match)
{
    size_t n = db_stmt_count();
    /* every command family's statements are linked into this binary */
    ck_assert_uint_ge(n, 15);
    for (size_t i = 0; i < n; i++) {
        const db_stmt_t *s = db_stmt_at(i);
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(s->name && *s->name, "statement %zu has no name", i);
        ck_assert_msg(s->sql && *s->sql, "%s: no SQL", s->name);
        ck_assert_msg(max_param(s->sql) == s->nparams, "%s: declares %d parameters, uses $%d",
                      s->name, s->nparams, max_param(s->sql));
        for (size_t k = 0; k < i; k++)
            ck_assert_msg(strcmp(db_stmt_at(k)->name, s->name) != 0, "two statements named %s",
                          s->name);
    }
}
END_TEST

TEST_SUITE(cmd_tables)
{
    Suite *s = suite_create("cmd_tables");
    TCase *tc = tcase_create("tables");
    tcase_add_test(tc, command_lookup);
    tcase_add_test(tc, command_names_unique_and_lines_complete);
    tcase_add_test(tc, statement_names_unique_and_counts_match);
    suite_add_tcase(s, tc);
    return s;
}
