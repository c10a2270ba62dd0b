/*
 * Listeners and connections: the terminal port (TCP, optionally TLS) and the admin
 * channel (Unix socket), both speaking RESP; limits; group commit and reply flushing;
 * idle sweeps; graceful shutdown.
 *
 * One loop iteration: read callbacks parse and handle requests (writes join the batch
 * transaction), the check phase commits the batch once and only then sends every reply
 * produced in the iteration. If the commit fails, every reply that depended on it is
 * replaced by -STORAGE_ERROR before anything is sent.
 */
#ifndef YKT_SERVER_H
#define YKT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway.h"
#include "request.h"

typedef struct ykt_conn ykt_conn;

int ykt_server_start(ykt_gw *gw, char *err, size_t errlen);
/* Stops accepting, lets in-flight requests commit and replies drain, then closes every
 * handle so that uv_run returns. Safe to call twice. */
void ykt_server_shutdown(ykt_gw *gw);
void ykt_server_free(ykt_gw *gw);

typedef struct ykt_server_stats {
    char terminal_addr[128]; /* actual address, with the real port when 0 was asked */
    int terminal_port;
    int terminal_conns;
    int authenticated_conns;
    int admin_conns;
    uint64_t accepted;
    uint64_t refused_busy;
    uint64_t requests;
    uint64_t commits;
    uint64_t commit_failures;
} ykt_server_stats;

/*
 * Runs work(data) on libuv's thread pool, then after(gw, data) on the loop. Shutdown waits
 * for it. For work nobody's request started (scheduled backups); requests use
 * ykt_req_defer. work must not touch the gateway's database connection or loop state.
 */
void ykt_server_queue_work(ykt_gw *gw, void (*work)(void *data),
                           void (*after)(ykt_gw *gw, void *data), void *data);

void ykt_server_get_stats(ykt_gw *gw, ykt_server_stats *out);

typedef struct ykt_conn_info {
    uint64_t id;
    bool admin;
    const char *peer;
    const char *terminal; /* or operator name; NULL if not authenticated */
    bool tls;
    int64_t connected_at;
    int64_t idle_ms;
    uint64_t requests;
    int pipeline_peak; /* most replies it had waiting at once */
    size_t in_bytes, out_bytes;
} ykt_conn_info;

void ykt_server_each_conn(ykt_gw *gw, void (*fn)(const ykt_conn_info *info, void *arg), void *arg);
/* Closes every connection authenticated as terminal_id (after pending replies). */
int ykt_server_close_terminal(ykt_gw *gw, const char *terminal_id);

/* For verb handlers. */
void ykt_conn_set_terminal(ykt_conn *c, ykt_terminal *t);
void ykt_conn_close_after_reply(ykt_conn *c);
/* Counts a failed AUTH or LOGIN; returns the total for this connection. */
int ykt_conn_auth_failed(ykt_conn *c);
const char *ykt_conn_peer(const ykt_conn *c);
const char *ykt_conn_tls_peer_cn(const ykt_conn *c);
ykt_session *ykt_conn_session(ykt_conn *c);

#endif
