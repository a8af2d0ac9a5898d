/*
 * fcgi-api/rpc.c - the protocol RPC routes (/anonymous, /invited, /authenticated)
 */
#include "routes.h"

const http_route_t rpc_routes[] = {
    {NULL, NULL, NULL},
};
