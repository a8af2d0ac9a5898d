/*
 * fcgi-api/admin.c - the administration REST API (/administration/...)
 */
#include "routes.h"

const http_route_t admin_routes[] = {
    {NULL, NULL, NULL},
};
