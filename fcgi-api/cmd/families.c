/*
 * fcgi-api/cmd/families.c - the list of command families, searched by the
 * dispatcher
 *
 * Adding a family is one line here and its extern in cmd.h; adding a
 * command is one line in its family's table.  A name appears in one table
 * only (tests/unit/test_cmd_tables.c checks it).
 */
#include "cmd.h"

#include <string.h>

const cmd_def_t *const cmd_families[] = {
    cmd_family_organization, cmd_family_user,   cmd_family_realm, cmd_family_vlob,
    cmd_family_message,      cmd_family_invite, cmd_family_block, NULL,
};

const cmd_def_t *cmd_find(const char *name, unsigned routes)
{
    for (const cmd_def_t *const *f = cmd_families; *f; f++)
        for (const cmd_def_t *c = *f; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return (c->routes & routes) ? c : NULL;
    return NULL;
}
