/*
 * The gateway: everything one yktd process holds, reachable from every request.
 * There is exactly one, created in main.c; modules receive it rather than using globals,
 * so unit tests can build a partial one.
 */
#ifndef YKT_GATEWAY_H
#define YKT_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "db.h"
#include "terminal.h"

struct ykt_verbs;
struct ykt_admin;
struct ykt_server;
struct ykt_tls;
struct ykt_rules;
struct ykt_cardcache;

typedef struct ykt_gw {
    uv_loop_t *loop;
    ykt_config cfg;
    ykt_db *db;
    ykt_terminals *terminals;
    struct ykt_verbs *verbs; /* terminal-port verb table */
    struct ykt_admin *admin; /* admin command table */
    struct ykt_server *server;
    struct ykt_tls *tls;         /* NULL when [tls] enabled = no */
    struct ykt_rules *rules;     /* the Lua rule scripts ([rules] dir) */
    struct ykt_cardcache *cards; /* cards and holders the card check read ([cards] cache_entries) */
    uint8_t master_key[16];      /* card master key ([cards] master_key); never logged */
    int64_t started_ms;
    bool stopping;
} ykt_gw;

#endif
