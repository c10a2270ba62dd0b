#define _GNU_SOURCE /* struct ucred */
#include "server.h"
#include "backup_schedule.h"
#include "plugin.h"
#include "rules.h"
#include "admin.h"
#include "jobs.h"
#include "timers.h"
#include "common.h"
#include "log.h"
#include "resp.h"
#include "tls.h"
#include "util.h"
#include "verbs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK        65536
#define SWEEP_INTERVAL_MS 200
#define SHUTDOWN_GRACE_MS 5000
#define IDLE_BUFFER_KEEP  4096

/* A reply range [start, end) in a connection's output that depends on the open batch. */
typedef struct dep_range {
    size_t start, end;
} dep_range;

struct ykt_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    ykt_gw *gw;
    bool admin;
    uint64_t id;
    char peer[64];
    ykt_buf in;         /* plaintext received, not yet parsed */
    ykt_buf out;        /* replies not yet handed to the socket */
    ykt_buf cipher_out; /* TLS records not yet handed to the socket */
    dep_range *deps;
    size_t ndeps, capdeps;
    ykt_tls_conn *tls;
    int pending; /* replies produced and not yet fully written */
    int pipeline_peak;
    int writes_inflight;
    bool counted; /* counted in the connection totals */
    bool reading;
    bool closing;
    bool handle_closed;
    bool close_after_flush;
    bool quit;     /* ignore further input (QUIT, too many failed AUTHs) */
    bool notified; /* TLS close_notify sent */
    bool backlog;  /* complete requests wait in `in`: serve them before reading more */
    bool dirty;
    bool ready;
    bool waiting;           /* holds input back while a commit is in flight */
    bool held;              /* its replies wait for the batch in flight to reach the disk */
    bool parked;            /* a deferred request is on the thread pool */
    uint64_t last_activity; /* uv_now() */
    uint64_t partial_since; /* uv_now() when an incomplete request was first seen; 0: none */
    uint64_t write_since;   /* uv_now() when output started waiting for the client; 0: none */
    uint64_t connected_loop_ms;
    int64_t connected_at;
    ykt_terminal *term;
    ykt_session session;
    int auth_failures;
    uint64_t requests;
    ykt_conn *prev, *next;
    ykt_conn *next_dirty, *next_ready, *next_waiting;
};

typedef struct ykt_server {
    ykt_gw *gw;
    uv_tcp_t terminal_listener;
    uv_pipe_t admin_listener;
    bool terminal_listening, admin_listening;
    uv_check_t check;
    uv_idle_t idle;
    uv_timer_t sweep;
    uv_timer_t flush;
    uv_timer_t jobs;
    uv_timer_t force;
    uv_signal_t sigint, sigterm;
    ykt_conn *conns;
    ykt_conn *dirty;
    ykt_conn *ready;
    ykt_conn *committed;        /* replies waiting for the commit in flight */
    ykt_conn *waiting;          /* input held back until that commit lands */
    struct deferred *postponed; /* thread-pool results that came back during a commit */
    uint64_t next_id;
    int inflight_work;
    bool handles_closed;
    ykt_resp_cmd cmd;
    ykt_resp_limits limits;       /* terminal port */
    ykt_resp_limits admin_limits; /* admin channel: CSV imports travel in one request */
    char scratch[READ_CHUNK];
    ykt_server_stats stats;
} ykt_server;

static void conn_close(ykt_conn *c);
static void conn_process(ykt_conn *c);
static void maybe_finish_shutdown(ykt_server *srv);
static void on_idle(uv_idle_t *h);

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (p == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* ---- lists ---- */

static void mark_dirty(ykt_conn *c)
{
    if (c->dirty || c->closing)
        return;
    ykt_server *srv = c->gw->server;
    c->dirty = true;
    c->next_dirty = srv->dirty;
    srv->dirty = c;
}

static void mark_ready(ykt_conn *c)
{
    if (c->ready || c->closing)
        return;
    ykt_server *srv = c->gw->server;
    c->ready = true;
    c->next_ready = srv->ready;
    srv->ready = c;
    /* An active idle handle makes the next poll return at once. (libuv refuses a NULL
     * callback, so the callback must be given even when the handle is already running.) */
    uv_idle_start(&srv->idle, on_idle);
}

/* Requests that arrive while a commit is in flight wait for it: the database belongs to the
 * committer thread meanwhile. They are served, as one new batch, when it lands. */
static void mark_waiting(ykt_conn *c)
{
    if (c->waiting || c->closing)
        return;
    ykt_server *srv = c->gw->server;
    c->waiting = true;
    c->next_waiting = srv->waiting;
    srv->waiting = c;
}

static void unlink_from(ykt_conn **head, ykt_conn *c, size_t link_offset)
{
    for (ykt_conn **p = head; *p != NULL; p = (ykt_conn **)((char *)*p + link_offset)) {
        if (*p == c) {
            *p = *(ykt_conn **)((char *)c + link_offset);
            return;
        }
    }
}

/* ---- writing ---- */

typedef struct write_req {
    uv_write_t req;
    size_t len;
    char data[];
} write_req;

static void after_write_progress(ykt_conn *c);

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    ykt_conn *c = req->data;
    free(w);
    c->writes_inflight--;
    if (status < 0) {
        ykt_debug("conn %llu: write failed: %s", (unsigned long long)c->id, uv_strerror(status));
        conn_close(c);
        return;
    }
    after_write_progress(c);
}

static void write_raw(ykt_conn *c, const char *data, size_t len)
{
    size_t done = 0;
    if (c->writes_inflight == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write(&c->h.stream, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            ykt_debug("conn %llu: write failed: %s", (unsigned long long)c->id, uv_strerror(n));
            conn_close(c);
            return;
        }
        if (n > 0)
            done = (size_t)n;
    }
    if (done == len)
        return;
    write_req *w = malloc(sizeof *w + (len - done));
    if (w == NULL) {
        conn_close(c);
        return;
    }
    w->len = len - done;
    memcpy(w->data, data + done, w->len);
    w->req.data = c;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    int rc = uv_write(&w->req, &c->h.stream, &b, 1, on_write);
    if (rc != 0) {
        free(w);
        conn_close(c);
        return;
    }
    if (c->writes_inflight++ == 0)
        c->write_since = uv_now(c->gw->loop);
}

static void flush_cipher(ykt_conn *c)
{
    if (c->cipher_out.len == 0)
        return;
    write_raw(c, c->cipher_out.data, c->cipher_out.len);
    ykt_buf_reset(&c->cipher_out);
}

static void conn_flush(ykt_conn *c)
{
    if (c->closing)
        return;
    if (c->out.len > 0) {
        if (c->tls != NULL) {
            if (ykt_tls_conn_encrypt(c->tls, c->out.data, c->out.len, &c->cipher_out) != YKT_OK) {
                conn_close(c);
                return;
            }
            flush_cipher(c);
        } else {
            write_raw(c, c->out.data, c->out.len);
        }
        ykt_buf_reset(&c->out);
    }
    if (!c->closing)
        after_write_progress(c);
}

static void resume_reading(ykt_conn *c);

/* Called whenever output may have drained: releases the pipeline and closes if asked. */
static void after_write_progress(ykt_conn *c)
{
    if (c->closing || c->writes_inflight > 0 || c->out.len > 0)
        return;
    c->pending = 0;
    c->write_since = 0;
    if (c->close_after_flush) {
        /* End a TLS session with close_notify, so the terminal can tell a deliberate close
         * from a truncated stream; close once that alert is written. */
        if (c->tls != NULL && !c->notified) {
            c->notified = true;
            ykt_tls_conn_close_notify(c->tls, &c->cipher_out);
            flush_cipher(c);
            if (c->closing || c->writes_inflight > 0)
                return;
        }
        conn_close(c);
        return;
    }
    ykt_buf_shrink(&c->out, IDLE_BUFFER_KEEP);
    ykt_buf_shrink(&c->cipher_out, IDLE_BUFFER_KEEP);
    resume_reading(c);
    if (c->in.len > 0 && !c->parked)
        mark_ready(c);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ykt_conn *c = h->data;
    /* libuv calls alloc and read back to back, so one scratch buffer serves all. */
    buf->base = c->gw->server->scratch;
    buf->len = READ_CHUNK;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ykt_conn *c = s->data;
    if (c->closing)
        return;
    if (nread < 0) {
        /* The peer finished sending (or failed): answer what it sent, then close. */
        uv_read_stop(s);
        c->reading = false;
        if (nread != UV_EOF) {
            ykt_debug("conn %llu: read: %s", (unsigned long long)c->id, uv_strerror((int)nread));
            conn_close(c);
            return;
        }
        c->close_after_flush = true;
        conn_process(c);
        mark_dirty(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->tls != NULL) {
        const char *err = NULL;
        int rc = ykt_tls_conn_feed(c->tls, buf->base, (size_t)nread, &c->in, &c->cipher_out, &err);
        /* Logged before the alert in cipher_out goes out: whoever sees the connection fail
         * (a person, a test) then finds the reason already in the log. */
        if (rc == YKT_EPERM)
            ykt_info("conn %llu from %s: %s; refused", (unsigned long long)c->id, c->peer, err);
        else if (rc != YKT_OK)
            ykt_info("conn %llu from %s: %s", (unsigned long long)c->id, c->peer, err);
        flush_cipher(c);
        if (c->closing)
            return;
        if (rc == YKT_EPERM) {
            /* Tell a plain RESP client what went wrong, in its own language. */
            static const char msg[] = "-TLS_REQUIRED this port requires TLS\r\n";
            write_raw(c, msg, sizeof msg - 1);
            c->close_after_flush = true;
            uv_read_stop(s);
            c->reading = false;
            after_write_progress(c);
            return;
        }
        if (rc != YKT_OK) {
            conn_close(c);
            return;
        }
    } else {
        ykt_buf_append(&c->in, buf->base, (size_t)nread);
    }
    conn_process(c);
}

static void resume_reading(ykt_conn *c)
{
    if (c->reading || c->closing || c->close_after_flush || c->gw->stopping || c->backlog)
        return;
    if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
        c->reading = true;
}

static void pause_reading(ykt_conn *c)
{
    if (!c->reading)
        return;
    uv_read_stop(&c->h.stream);
    c->reading = false;
}

/* ---- requests ---- */

static void add_dep(ykt_conn *c, size_t start, size_t end)
{
    if (c->ndeps == c->capdeps) {
        c->capdeps = c->capdeps ? c->capdeps * 2 : 8;
        c->deps = realloc(c->deps, c->capdeps * sizeof *c->deps);
        if (c->deps == NULL) {
            fputs("ykt: out of memory\n", stderr);
            abort();
        }
    }
    c->deps[c->ndeps++] = (dep_range){start, end};
}

static void finish_reply(ykt_conn *c, size_t start)
{
    c->pending++;
    if (c->pending > c->pipeline_peak)
        c->pipeline_peak = c->pending;
    if (ykt_db_batch_open(c->gw->db))
        add_dep(c, start, c->out.len);
    mark_dirty(c);
}

static void init_req(ykt_conn *c, ykt_req *req, int argc, char **argv, size_t *argl)
{
    memset(req, 0, sizeof *req);
    req->gw = c->gw;
    req->conn = c;
    req->argc = argc;
    req->argv = argv;
    req->argl = argl;
    req->term = c->term;
    req->session = c->admin ? &c->session : NULL;
    req->out = &c->out;
}

static void handle_request(ykt_conn *c, ykt_resp_cmd *cmd)
{
    ykt_server *srv = c->gw->server;
    c->requests++;
    srv->stats.requests++;
    c->last_activity = uv_now(c->gw->loop);
    ykt_req req;
    init_req(c, &req, cmd->argc, cmd->argv, cmd->argl);
    size_t start = c->out.len;
    if (c->admin)
        ykt_admin_dispatch(&req);
    else
        ykt_verbs_dispatch(&req);
    if (req.deferred) {
        c->parked = true;
        return;
    }
    finish_reply(c, start);
}

/* Unread input a waiting connection may hold before its reading pauses. */
#define WAITING_INPUT_MAX (256 * 1024)

static void conn_process(ykt_conn *c)
{
    ykt_server *srv = c->gw->server;
    if (ykt_db_busy(c->gw->db) || c->held) {
        if (c->in.len > 0 && !c->parked) {
            mark_waiting(c);
            if (c->in.len > WAITING_INPUT_MAX)
                pause_reading(c);
        }
        return;
    }
    int max_pipeline = (int)c->gw->cfg.max_pipeline;
    size_t off = 0;
    bool need_more = false;
    while (!c->closing && !c->parked && c->pending < max_pipeline && off < c->in.len) {
        size_t used = 0;
        const char *err = NULL;
        int rc =
            ykt_resp_parse(c->in.data + off, c->in.len - off,
                           c->admin ? &srv->admin_limits : &srv->limits, &srv->cmd, &used, &err);
        if (rc == YKT_EAGAIN) {
            need_more = true;
            break;
        }
        if (rc != YKT_OK) {
            /* The stream cannot be resynchronised after a framing error: answer and close. */
            ykt_info("conn %llu from %s: protocol error: %s; closing", (unsigned long long)c->id,
                     c->peer, err);
            size_t start = c->out.len;
            ykt_resp_error(&c->out, "BAD_REQUEST", "%s", err);
            c->pending++;
            (void)start;
            c->close_after_flush = true;
            off = c->in.len;
            pause_reading(c);
            mark_dirty(c);
            break;
        }
        off += used;
        handle_request(c, &srv->cmd);
        if (c->quit) {
            off = c->in.len; /* QUIT, or too many failed AUTHs: ignore the rest */
            pause_reading(c);
            break;
        }
    }
    ykt_buf_consume(&c->in, off);
    if (c->in.len == 0)
        ykt_buf_shrink(&c->in, IDLE_BUFFER_KEEP);
    /* Requests already buffered are served before more input is read, so a client that
     * writes faster than it is answered costs at most one frame and one read chunk. */
    c->backlog = c->in.len > 0 && !need_more;
    if (!need_more || c->in.len == 0)
        c->partial_since = 0;
    else if (c->partial_since == 0)
        c->partial_since = uv_now(c->gw->loop);
    /* Backpressure: stop reading a client that does not read its replies. */
    if (c->pending >= max_pipeline || c->backlog)
        pause_reading(c);
}

/* ---- deferred requests (slow hashing on the thread pool) ---- */

typedef struct deferred deferred;
struct deferred {
    uv_work_t work;
    ykt_conn *c;
    void (*work_fn)(void *data);
    void (*after)(ykt_req *req, void *data);
    void *data;
    bool write;
    int64_t seq;
    /* The terminal whose seq waits (its outcome is not kept yet), or NULL; kept here, as
     * the connection forgets its terminal when it closes. */
    ykt_terminal *waiting_term;
    char plugin_card[24]; /* the plugin host's per-request state survives the wait */
    bool plugin_moved;
    char atc_card[24]; /* and the card check's */
    char atc_uid[21];
    bool atc_marked;
    bool status_checked;
    int argc;
    char **argv;
    size_t *argl;
    deferred *next; /* in the server's postponed list */
};

static void deferred_work(uv_work_t *w)
{
    deferred *d = w->data;
    d->work_fn(d->data);
}

static void conn_maybe_free(ykt_conn *c);

/* Lets `after` release its data for a request whose reply nobody will read. */
static void deferred_abandon(deferred *d)
{
    ykt_req req;
    init_req(d->c, &req, d->argc, d->argv, d->argl);
    ykt_buf sink;
    ykt_buf_init(&sink);
    req.out = &sink;
    req.abandoned = true;
    d->after(&req, d->data);
    ykt_buf_free(&sink);
}

static void deferred_finish(deferred *d);

static void deferred_done(uv_work_t *w, int status)
{
    deferred *d = w->data;
    (void)status;
    ykt_server *srv = d->c->gw->server;
    if (ykt_db_busy(d->c->gw->db) || d->c->held) {
        /* `after` uses the database, or its connection's earlier replies wait for the disk:
         * it runs once the commit in flight has landed. */
        d->next = srv->postponed;
        srv->postponed = d;
        return;
    }
    deferred_finish(d);
}

static void deferred_finish(deferred *d)
{
    ykt_conn *c = d->c;
    ykt_server *srv = c->gw->server;
    srv->inflight_work--;
    /* Within this callback the outcome is kept (below) or the request abandoned: no copy
     * can run in between. */
    if (d->waiting_term != NULL)
        ykt_terminal_seq_wait_end(d->waiting_term, d->seq);
    c->parked = false;
    if (c->closing) {
        if (!c->admin && d->seq > 0)
            ykt_info("conn %llu: %s seq %lld abandoned: the connection closed while it waited",
                     (unsigned long long)c->id, d->argv[0], (long long)d->seq);
        deferred_abandon(d);
        free(d);
        conn_maybe_free(c);
        maybe_finish_shutdown(srv);
        return;
    }
    ykt_req req;
    init_req(c, &req, d->argc, d->argv, d->argl);
    req.write = d->write;
    req.seq = d->seq;
    ykt_args args;
    if (c->admin)
        ykt_admin_reparse(&req, &args); /* --approval and the other options, for `after` */
    memcpy(req.plugin_card, d->plugin_card, sizeof req.plugin_card);
    memcpy(req.atc_card, d->atc_card, sizeof req.atc_card);
    memcpy(req.atc_uid, d->atc_uid, sizeof req.atc_uid);
    req.atc_marked = d->atc_marked;
    req.status_checked = d->status_checked;
    req.plugin_moved = d->plugin_moved;
    size_t start = c->out.len;
    ykt_db *db = c->gw->db;
    if (d->write && ykt_db_cmd_begin(db) != YKT_OK) {
        ykt_reply_internal(&req, YKT_ESTORAGE);
        deferred_abandon(d);
    } else {
        d->after(&req, d->data);
        if (req.deferred) {
            /* `after` waits again (a second check on the pool): the request stays parked
             * with what it wrote so far, as a first wait leaves it (handle_request). */
            if (d->write)
                ykt_db_cmd_end(db, true);
            c->parked = true;
            free(d);
            return;
        }
        if (!req.replied)
            ykt_reply_internal(&req, YKT_ESTATE);
        if (d->write && !c->admin) {
            ykt_verbs_end_write(&req, start, !req.failed || req.keep_changes);
        } else {
            if (d->write)
                ykt_db_cmd_end(db, !req.failed || req.keep_changes);
            if (!c->admin)
                ykt_verbs_record_outcome(&req, start);
        }
    }
    finish_reply(c, start);
    free(d);
    if (c->quit)
        ykt_buf_reset(&c->in);
    if (c->in.len > 0)
        mark_ready(c);
}

void ykt_req_defer(ykt_req *req, void (*work)(void *data), void (*after)(ykt_req *req, void *data),
                   void *data)
{
    ykt_conn *c = req->conn;
    size_t bytes = 0;
    for (int i = 0; i < req->argc; i++)
        bytes += req->argl[i] + 1;
    size_t nargs = (size_t)req->argc;
    deferred *d = xcalloc(1, sizeof *d + nargs * (sizeof(char *) + sizeof(size_t)) + bytes);
    d->argv = (char **)(d + 1);
    d->argl = (size_t *)(d->argv + nargs);
    char *p = (char *)(d->argl + nargs);
    for (int i = 0; i < req->argc; i++) {
        memcpy(p, req->argv[i], req->argl[i]);
        p[req->argl[i]] = '\0';
        d->argv[i] = p;
        d->argl[i] = req->argl[i];
        p += req->argl[i] + 1;
    }
    d->argc = req->argc;
    d->c = c;
    d->work_fn = work;
    d->after = after;
    d->data = data;
    d->write = req->write;
    d->seq = req->seq;
    if (!c->admin && req->term != NULL && req->seq > 0) {
        /* Untracked, a copy would run meanwhile: out of memory stops yktd, as xcalloc does. */
        if (!ykt_terminal_seq_wait_begin(req->term, req->seq)) {
            fputs("ykt: out of memory\n", stderr);
            abort();
        }
        d->waiting_term = req->term;
    }
    memcpy(d->plugin_card, req->plugin_card, sizeof d->plugin_card);
    memcpy(d->atc_card, req->atc_card, sizeof d->atc_card);
    memcpy(d->atc_uid, req->atc_uid, sizeof d->atc_uid);
    d->atc_marked = req->atc_marked;
    d->status_checked = req->status_checked;
    d->plugin_moved = req->plugin_moved;
    d->work.data = d;
    req->deferred = true;
    c->gw->server->inflight_work++;
    uv_queue_work(c->gw->loop, &d->work, deferred_work, deferred_done);
}

typedef struct background {
    uv_work_t work;
    ykt_gw *gw;
    void (*work_fn)(void *data);
    void (*after)(ykt_gw *gw, void *data);
    void *data;
} background;

static void background_work(uv_work_t *w)
{
    background *b = w->data;
    b->work_fn(b->data);
}

static void background_done(uv_work_t *w, int status)
{
    (void)status;
    background *b = w->data;
    ykt_server *srv = b->gw->server;
    srv->inflight_work--;
    b->after(b->gw, b->data);
    free(b);
    maybe_finish_shutdown(srv);
}

void ykt_server_queue_work(ykt_gw *gw, void (*work)(void *data),
                           void (*after)(ykt_gw *gw, void *data), void *data)
{
    background *b = xcalloc(1, sizeof *b);
    *b = (background){.gw = gw, .work_fn = work, .after = after, .data = data};
    b->work.data = b;
    gw->server->inflight_work++;
    uv_queue_work(gw->loop, &b->work, background_work, background_done);
}

/* ---- closing ---- */

static void conn_free(ykt_conn *c)
{
    ykt_tls_conn_free(c->tls);
    ykt_buf_free(&c->in);
    ykt_buf_free(&c->out);
    ykt_buf_free(&c->cipher_out);
    ykt_wipe(&c->session, sizeof c->session);
    free(c->deps);
    free(c);
}

static void conn_maybe_free(ykt_conn *c)
{
    if (c->handle_closed && !c->parked)
        conn_free(c);
}

static void on_conn_closed(uv_handle_t *h)
{
    ykt_conn *c = h->data;
    ykt_server *srv = c->gw->server;
    unlink_from(&srv->dirty, c, offsetof(ykt_conn, next_dirty));
    unlink_from(&srv->ready, c, offsetof(ykt_conn, next_ready));
    unlink_from(&srv->committed, c, offsetof(ykt_conn, next_dirty));
    unlink_from(&srv->waiting, c, offsetof(ykt_conn, next_waiting));
    c->handle_closed = true;
    conn_maybe_free(c);
    maybe_finish_shutdown(srv);
}

static void conn_close(ykt_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    ykt_server *srv = c->gw->server;
    if (c->counted) {
        if (c->admin)
            srv->stats.admin_conns--;
        else
            srv->stats.terminal_conns--;
        c->counted = false;
    }
    if (c->term != NULL) {
        c->term->connections--;
        srv->stats.authenticated_conns--;
        ykt_debug("terminal %s disconnected (conn %llu)", c->term->id, (unsigned long long)c->id);
        c->term = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    uv_close(&c->h.handle, on_conn_closed);
}

/* ---- accepting ---- */

static ykt_conn *conn_new(ykt_gw *gw, bool admin)
{
    ykt_server *srv = gw->server;
    ykt_conn *c = xcalloc(1, sizeof *c);
    c->gw = gw;
    c->admin = admin;
    c->id = ++srv->next_id;
    c->h.handle.data = c;
    c->connected_at = ykt_now_ms();
    c->connected_loop_ms = uv_now(gw->loop);
    c->last_activity = c->connected_loop_ms;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    return c;
}

static void peer_name(ykt_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0) {
        ykt_strlcpy(c->peer, "?", sizeof c->peer);
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
}

static void on_terminal_connection(uv_stream_t *listener, int status)
{
    ykt_gw *gw = listener->data;
    ykt_server *srv = gw->server;
    if (status < 0) {
        ykt_warn("terminal port: accept: %s", uv_strerror(status));
        return;
    }
    ykt_conn *c = conn_new(gw, false);
    uv_tcp_init(gw->loop, &c->h.tcp);
    if (uv_accept(listener, &c->h.stream) != 0) {
        conn_close(c);
        return;
    }
    srv->stats.accepted++;
    peer_name(c);
    if (srv->stats.terminal_conns >= gw->cfg.max_connections || gw->stopping) {
        srv->stats.refused_busy++;
        if (gw->tls == NULL) {
            static const char msg[] = "-BUSY too many connections; try again later\r\n";
            uv_buf_t b = uv_buf_init((char *)msg, sizeof msg - 1);
            uv_try_write(&c->h.stream, &b, 1);
        }
        ykt_warn("terminal port: refused %s: %d connections is the limit", c->peer,
                 (int)gw->cfg.max_connections);
        conn_close(c);
        return;
    }
    c->counted = true;
    srv->stats.terminal_conns++;
    uv_tcp_nodelay(&c->h.tcp, 1);
    int sndbuf = (int)gw->cfg.send_buffer;
    uv_send_buffer_size(&c->h.handle, &sndbuf);
    if (gw->tls != NULL && (c->tls = ykt_tls_conn_new(gw->tls)) == NULL) {
        conn_close(c);
        return;
    }
    ykt_debug("conn %llu: terminal connection from %s", (unsigned long long)c->id, c->peer);
    resume_reading(c);
}

static void admin_peer_identity(ykt_conn *c)
{
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    snprintf(c->peer, sizeof c->peer, "unix");
    if (uv_fileno(&c->h.handle, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return;
    snprintf(c->peer, sizeof c->peer, "unix:uid=%u,pid=%d", (unsigned)cred.uid, (int)cred.pid);
    if (!c->gw->cfg.admin_local_superuser || (cred.uid != 0 && cred.uid != geteuid()))
        return;
    char pwbuf[1024];
    struct passwd pw, *res = NULL;
    const char *user = "uid";
    if (getpwuid_r(cred.uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res != NULL)
        user = res->pw_name;
    ykt_session *s = &c->session;
    s->authenticated = true;
    s->local = true;
    s->role = YKT_ROLE_SUPERUSER;
    snprintf(s->operator_name, sizeof s->operator_name, "local:%s", user);
}

static void on_admin_connection(uv_stream_t *listener, int status)
{
    ykt_gw *gw = listener->data;
    ykt_server *srv = gw->server;
    if (status < 0) {
        ykt_warn("admin socket: accept: %s", uv_strerror(status));
        return;
    }
    ykt_conn *c = conn_new(gw, true);
    uv_pipe_init(gw->loop, &c->h.pipe, 0);
    if (uv_accept(listener, &c->h.stream) != 0) {
        conn_close(c);
        return;
    }
    if (gw->stopping) {
        conn_close(c);
        return;
    }
    c->counted = true;
    srv->stats.admin_conns++;
    admin_peer_identity(c);
    resume_reading(c);
}

/* ---- per-iteration commit and flush ---- */

static void rewrite_failed_replies(ykt_conn *c)
{
    static const char failed[] =
        "-STORAGE_ERROR the database could not commit; nothing was applied, retry\r\n";
    ykt_buf fresh;
    ykt_buf_init(&fresh);
    size_t pos = 0;
    for (size_t i = 0; i < c->ndeps; i++) {
        ykt_buf_append(&fresh, c->out.data + pos, c->deps[i].start - pos);
        ykt_buf_append(&fresh, failed, sizeof failed - 1);
        pos = c->deps[i].end;
    }
    ykt_buf_append(&fresh, c->out.data + pos, c->out.len - pos);
    ykt_buf_free(&c->out);
    c->out = fresh;
}

/* Sends the replies of a list of dirty connections; rewrites those that depended on a
 * batch that failed to commit. */
static void flush_list(ykt_conn *c, bool failed)
{
    while (c != NULL) {
        ykt_conn *next = c->next_dirty;
        c->dirty = false;
        c->next_dirty = NULL;
        if (failed && c->ndeps > 0)
            rewrite_failed_replies(c);
        c->ndeps = 0;
        conn_flush(c);
        c = next;
    }
}

static void count_commit(ykt_server *srv, int rc)
{
    if (rc == YKT_OK) {
        srv->stats.commits++;
        return;
    }
    srv->stats.commit_failures++;
    ykt_error("storage: commit failed: %s; replying STORAGE_ERROR to the batch",
              ykt_db_commit_error(srv->gw->db));
}

/* The committer thread has committed (or rolled back) the batch: send its replies, then
 * serve what arrived meanwhile as the next batch. */
static void on_commit_done(void *arg, int rc)
{
    ykt_server *srv = arg;
    count_commit(srv, rc);
    ykt_conn *c = srv->committed;
    srv->committed = NULL;
    for (ykt_conn *h = c; h != NULL; h = h->next_dirty)
        h->held = false;
    flush_list(c, rc != YKT_OK);
    c = srv->waiting;
    srv->waiting = NULL;
    while (c != NULL) {
        ykt_conn *next = c->next_waiting;
        c->waiting = false;
        c->next_waiting = NULL;
        mark_ready(c);
        c = next;
    }
    deferred *d = srv->postponed;
    srv->postponed = NULL;
    while (d != NULL) {
        deferred *next = d->next;
        deferred_finish(d);
        d = next;
    }
    maybe_finish_shutdown(srv);
}

static void on_check(uv_check_t *h)
{
    ykt_server *srv = h->data;
    ykt_gw *gw = srv->gw;
    /* What the plugin host lent plugins during this iteration's callbacks is freed now. */
    ykt_plugins_iteration_end();
    if (ykt_db_in_flight(gw->db))
        return; /* the replies go out when the commit in flight lands */
    if (ykt_db_batch_open(gw->db)) {
        if (ykt_db_commit_async(gw->db) == YKT_OK) {
            /* Their replies wait for the disk; meanwhile these connections are served no
             * further (their next replies would go out with these). */
            for (ykt_conn *d = srv->dirty; d != NULL; d = d->next_dirty)
                d->held = true;
            srv->committed = srv->dirty;
            srv->dirty = NULL;
            return;
        }
        int rc = ykt_db_batch_commit(gw->db); /* no committer thread: commit here */
        count_commit(srv, rc);
        ykt_conn *c = srv->dirty;
        srv->dirty = NULL;
        flush_list(c, rc != YKT_OK);
        maybe_finish_shutdown(srv);
        return;
    }
    ykt_conn *c = srv->dirty;
    srv->dirty = NULL;
    flush_list(c, false);
    maybe_finish_shutdown(srv);
}

static void on_idle(uv_idle_t *h)
{
    ykt_server *srv = h->data;
    if (ykt_db_busy(srv->gw->db)) {
        /* Park the ready connections until the commit lands, and let the loop sleep. */
        ykt_conn *w = srv->ready;
        srv->ready = NULL;
        while (w != NULL) {
            ykt_conn *next = w->next_ready;
            w->ready = false;
            w->next_ready = NULL;
            mark_waiting(w);
            w = next;
        }
        uv_idle_stop(h);
        return;
    }
    ykt_conn *c = srv->ready;
    srv->ready = NULL;
    while (c != NULL) {
        ykt_conn *next = c->next_ready;
        c->ready = false;
        c->next_ready = NULL;
        if (!c->closing && !c->parked) {
            conn_process(c);
            if (!c->close_after_flush && c->pending < c->gw->cfg.max_pipeline)
                resume_reading(c);
        }
        c = next;
    }
    /* Replies produced here are flushed by the check phase: keep the poll from blocking
     * until it has run. */
    if (srv->ready == NULL && srv->dirty == NULL)
        uv_idle_stop(h);
}

static void on_sweep(uv_timer_t *h)
{
    ykt_server *srv = h->data;
    ykt_gw *gw = srv->gw;
    uint64_t now = uv_now(gw->loop);
    ykt_conn *c = srv->conns;
    while (c != NULL) {
        ykt_conn *next = c->next;
        if (!c->closing && !c->parked) {
            uint64_t limit =
                (uint64_t)(c->admin ? gw->cfg.admin_idle_timeout_ms : gw->cfg.idle_timeout_ms);
            if (!c->admin && c->term == NULL &&
                now - c->connected_loop_ms >= (uint64_t)gw->cfg.auth_timeout_ms) {
                ykt_info("conn %llu from %s: not authenticated within %lld ms; closing",
                         (unsigned long long)c->id, c->peer, (long long)gw->cfg.auth_timeout_ms);
                conn_close(c);
            } else if (now - c->last_activity >= limit) {
                ykt_info("conn %llu from %s: idle for %llu ms; closing", (unsigned long long)c->id,
                         c->peer, (unsigned long long)(now - c->last_activity));
                conn_close(c);
            } else if (!c->admin && c->partial_since != 0 &&
                       now - c->partial_since >= (uint64_t)gw->cfg.request_timeout_ms) {
                ykt_info("conn %llu from %s: request not complete within %lld ms; closing",
                         (unsigned long long)c->id, c->peer, (long long)gw->cfg.request_timeout_ms);
                conn_close(c);
            } else if (!c->admin && c->write_since != 0 &&
                       now - c->write_since >= (uint64_t)gw->cfg.write_timeout_ms) {
                ykt_info("conn %llu from %s: replies unread for %lld ms; closing",
                         (unsigned long long)c->id, c->peer, (long long)gw->cfg.write_timeout_ms);
                conn_close(c);
            }
        }
        c = next;
    }
}

static void flush_last_seen(ykt_gw *gw)
{
    if (ykt_db_cmd_begin(gw->db) != YKT_OK)
        return;
    int rc = ykt_terminals_flush_last_seen(gw->terminals, gw->db);
    ykt_db_cmd_end(gw->db, rc == YKT_OK);
}

static void on_flush_timer(uv_timer_t *h)
{
    flush_last_seen(h->data);
}

static void on_jobs_timer(uv_timer_t *h)
{
    ykt_jobs_tick(h->data);
    ykt_backup_schedule_tick(h->data);
}

/* ---- shutdown ---- */

/* A repeat of the same signal this soon is the same request delivered twice (a signal to
 * the process group and a wrapper passing it on), not an operator insisting. */
#define SIGNAL_REPEAT_MS 500

static void on_signal(uv_signal_t *h, int signum)
{
    ykt_gw *gw = h->data;
    static int first_signum;
    static uint64_t first_at;
    if (gw->stopping) {
        if (signum == first_signum && uv_now(gw->loop) - first_at < SIGNAL_REPEAT_MS)
            return;
        ykt_warn("second signal: closing connections now");
        for (ykt_conn *c = gw->server->conns; c != NULL;) {
            ykt_conn *next = c->next;
            conn_close(c);
            c = next;
        }
        return;
    }
    first_signum = signum;
    first_at = uv_now(gw->loop);
    ykt_info("received %s; shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    ykt_server_shutdown(gw);
}

static void on_force(uv_timer_t *h)
{
    ykt_server *srv = h->data;
    ykt_warn("shutdown: connections still open after %d ms; closing them", SHUTDOWN_GRACE_MS);
    for (ykt_conn *c = srv->conns; c != NULL;) {
        ykt_conn *next = c->next;
        conn_close(c);
        c = next;
    }
}

static void close_if_open(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void maybe_finish_shutdown(ykt_server *srv)
{
    ykt_gw *gw = srv->gw;
    if (!gw->stopping || srv->handles_closed || srv->conns != NULL || srv->inflight_work > 0)
        return;
    if (ykt_db_batch_open(gw->db) || ykt_db_in_flight(gw->db))
        return; /* the check phase commits it first, or the commit in flight lands first */
    srv->handles_closed = true;
    ykt_db_committer_close_handle(gw->db);
    ykt_timers_remove(gw, NULL, 1);
    /* Nothing can call a rule any more; its file watch would keep the loop alive. */
    ykt_rules_close(gw->rules);
    gw->rules = NULL;
    close_if_open((uv_handle_t *)&srv->check);
    close_if_open((uv_handle_t *)&srv->idle);
    close_if_open((uv_handle_t *)&srv->sweep);
    close_if_open((uv_handle_t *)&srv->flush);
    close_if_open((uv_handle_t *)&srv->jobs);
    close_if_open((uv_handle_t *)&srv->force);
    close_if_open((uv_handle_t *)&srv->sigint);
    close_if_open((uv_handle_t *)&srv->sigterm);
    /* Closing the handles restored the default action, which would kill a gateway that is
     * already stopping (before the database is closed, with a non-zero status). */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
}

void ykt_server_shutdown(ykt_gw *gw)
{
    ykt_server *srv = gw->server;
    if (gw->stopping)
        return;
    gw->stopping = true;
    if (srv->terminal_listening)
        close_if_open((uv_handle_t *)&srv->terminal_listener);
    if (srv->admin_listening) {
        close_if_open((uv_handle_t *)&srv->admin_listener);
        unlink(gw->cfg.admin_socket);
    }
    flush_last_seen(gw);
    for (ykt_conn *c = srv->conns; c != NULL; c = c->next) {
        pause_reading(c);
        c->close_after_flush = true;
        mark_dirty(c);
    }
    uv_timer_start(&srv->force, on_force, SHUTDOWN_GRACE_MS, 0);
    uv_unref((uv_handle_t *)&srv->force);
    uv_idle_start(&srv->idle, on_idle); /* make sure a check phase runs promptly */
}

/* ---- start ---- */

static int bind_terminal(ykt_gw *gw, char *err, size_t errlen)
{
    ykt_server *srv = gw->server;
    char host[128];
    int port;
    ykt_parse_hostport(gw->cfg.terminal_listen, host, sizeof host, &port);
    struct sockaddr_storage addr;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)
                               : uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc != 0) {
        snprintf(err, errlen, "[terminal] listen %s: not a numeric IP address",
                 gw->cfg.terminal_listen);
        return YKT_EINVAL;
    }
    uv_tcp_init(gw->loop, &srv->terminal_listener);
    srv->terminal_listener.data = gw;
    if ((rc = uv_tcp_bind(&srv->terminal_listener, (struct sockaddr *)&addr, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&srv->terminal_listener, 511, on_terminal_connection)) !=
            0) {
        snprintf(err, errlen, "[terminal] listen %s: %s", gw->cfg.terminal_listen, uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->terminal_listener, NULL);
        return YKT_EIO;
    }
    srv->terminal_listening = true;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&srv->terminal_listener, (struct sockaddr *)&bound, &len);
    char ip[INET6_ADDRSTRLEN];
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        snprintf(srv->stats.terminal_addr, sizeof srv->stats.terminal_addr, "[%s]:%d", ip, port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        snprintf(srv->stats.terminal_addr, sizeof srv->stats.terminal_addr, "%s:%d", ip, port);
    }
    srv->stats.terminal_port = port;
    return YKT_OK;
}

/* A socket file left by a crash is removed; one that answers belongs to a running yktd. */
static int clear_stale_socket(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return YKT_OK;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "[admin] socket %s exists and is not a socket", path);
        return YKT_EEXIST;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    ykt_strlcpy(sa.sun_path, path, sizeof sa.sun_path);
    bool alive = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    if (alive) {
        snprintf(err, errlen, "[admin] socket %s is in use by another yktd", path);
        return YKT_EEXIST;
    }
    unlink(path);
    return YKT_OK;
}

static int bind_admin(ykt_gw *gw, char *err, size_t errlen)
{
    ykt_server *srv = gw->server;
    const char *path = gw->cfg.admin_socket;
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "[admin] socket %s: path too long for a Unix socket", path);
        return YKT_EINVAL;
    }
    int rc = clear_stale_socket(path, err, errlen);
    if (rc != YKT_OK)
        return rc;
    uv_pipe_init(gw->loop, &srv->admin_listener, 0);
    srv->admin_listener.data = gw;
    /* Create the socket with no access, then set the configured mode: no window in which
     * it is more open than asked. */
    mode_t old = umask(0777);
    rc = uv_pipe_bind(&srv->admin_listener, path);
    umask(old);
    if (rc == 0)
        rc =
            chmod(path, (mode_t)gw->cfg.admin_socket_mode) == 0 ? 0 : uv_translate_sys_error(errno);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->admin_listener, 64, on_admin_connection);
    if (rc != 0) {
        snprintf(err, errlen, "[admin] socket %s: %s", path, uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->admin_listener, NULL);
        return YKT_EIO;
    }
    srv->admin_listening = true;
    return YKT_OK;
}

int ykt_server_start(ykt_gw *gw, char *err, size_t errlen)
{
    ykt_server *srv = xcalloc(1, sizeof *srv);
    gw->server = srv;
    srv->gw = gw;
    srv->limits.max_frame = (size_t)gw->cfg.max_frame_bytes;
    srv->limits.max_args = (int)gw->cfg.max_args;
    srv->admin_limits.max_frame = (size_t)gw->cfg.admin_max_frame_bytes;
    srv->admin_limits.max_args = (int)gw->cfg.max_args;
    ykt_resp_cmd_init(&srv->cmd, (int)gw->cfg.max_args);

    uv_check_init(gw->loop, &srv->check);
    srv->check.data = srv;
    uv_check_start(&srv->check, on_check);
    if (ykt_db_committer_start(gw->db, gw->loop, on_commit_done, srv) != YKT_OK)
        ykt_warn("storage: no committer thread; commits run on the event loop");
    uv_idle_init(gw->loop, &srv->idle);
    srv->idle.data = srv;
    uv_timer_init(gw->loop, &srv->sweep);
    srv->sweep.data = srv;
    uv_timer_start(&srv->sweep, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    uv_timer_init(gw->loop, &srv->flush);
    srv->flush.data = gw;
    uv_timer_start(&srv->flush, on_flush_timer, (uint64_t)gw->cfg.last_seen_flush_ms,
                   (uint64_t)gw->cfg.last_seen_flush_ms);
    /* The daily jobs run at start and whenever the campus date changes. */
    uv_timer_init(gw->loop, &srv->jobs);
    srv->jobs.data = gw;
    uv_timer_start(&srv->jobs, on_jobs_timer, 0, 60000);
    uv_timer_init(gw->loop, &srv->force);
    srv->force.data = srv;
    uv_signal_init(gw->loop, &srv->sigint);
    srv->sigint.data = gw;
    uv_signal_start(&srv->sigint, on_signal, SIGINT);
    uv_signal_init(gw->loop, &srv->sigterm);
    srv->sigterm.data = gw;
    uv_signal_start(&srv->sigterm, on_signal, SIGTERM);

    int rc = bind_terminal(gw, err, errlen);
    if (rc == YKT_OK)
        rc = bind_admin(gw, err, errlen);
    if (rc != YKT_OK) {
        /* Let the caller run the loop once to close what was opened. */
        gw->stopping = true;
        maybe_finish_shutdown(srv);
        if (srv->terminal_listening)
            close_if_open((uv_handle_t *)&srv->terminal_listener);
        return rc;
    }
    return YKT_OK;
}

void ykt_server_free(ykt_gw *gw)
{
    ykt_server *srv = gw->server;
    if (srv == NULL)
        return;
    ykt_resp_cmd_free(&srv->cmd);
    free(srv);
    gw->server = NULL;
}

/* ---- queries and helpers for handlers ---- */

void ykt_server_get_stats(ykt_gw *gw, ykt_server_stats *out)
{
    *out = gw->server->stats;
}

void ykt_server_each_conn(ykt_gw *gw, void (*fn)(const ykt_conn_info *info, void *arg), void *arg)
{
    uint64_t now = uv_now(gw->loop);
    for (ykt_conn *c = gw->server->conns; c != NULL; c = c->next) {
        if (c->closing)
            continue;
        ykt_conn_info info = {
            .id = c->id,
            .admin = c->admin,
            .peer = c->peer,
            .terminal = c->admin ? (c->session.authenticated ? c->session.operator_name : NULL)
                                 : (c->term ? c->term->id : NULL),
            .tls = c->tls != NULL,
            .connected_at = c->connected_at,
            .idle_ms = (int64_t)(now - c->last_activity),
            .requests = c->requests,
            .pipeline_peak = c->pipeline_peak,
            .in_bytes = c->in.cap,
            .out_bytes = c->out.cap + c->cipher_out.cap,
        };
        fn(&info, arg);
    }
}

int ykt_server_close_terminal(ykt_gw *gw, const char *terminal_id)
{
    int n = 0;
    for (ykt_conn *c = gw->server->conns; c != NULL; c = c->next) {
        if (c->closing || c->term == NULL || strcmp(c->term->id, terminal_id) != 0)
            continue;
        ykt_info("terminal %s: closing conn %llu from %s", terminal_id, (unsigned long long)c->id,
                 c->peer);
        pause_reading(c);
        c->close_after_flush = true;
        mark_dirty(c);
        n++;
    }
    return n;
}

void ykt_conn_set_terminal(ykt_conn *c, ykt_terminal *t)
{
    c->term = t;
    t->connections++;
    c->gw->server->stats.authenticated_conns++;
}

void ykt_conn_close_after_reply(ykt_conn *c)
{
    c->quit = true;
    c->close_after_flush = true;
}

int ykt_conn_auth_failed(ykt_conn *c)
{
    return ++c->auth_failures;
}

const char *ykt_conn_peer(const ykt_conn *c)
{
    return c->peer;
}

const char *ykt_conn_tls_peer_cn(const ykt_conn *c)
{
    return c->tls ? ykt_tls_conn_peer_cn(c->tls) : NULL;
}

ykt_session *ykt_conn_session(ykt_conn *c)
{
    return &c->session;
}
