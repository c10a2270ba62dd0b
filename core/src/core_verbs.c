/* The core's own terminal verbs: PING, AUTH, QUIT, HEALTH, TIME. */
#include "common.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "util.h"
#include "verbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cmd_ping(ykt_req *req)
{
    if (req->argc > 2) {
        ykt_reply_error(req, "BAD_REQUEST", "usage: PING [message]");
        return;
    }
    if (req->argc == 2)
        ykt_reply_bulkn(req, req->argv[1], req->argl[1]);
    else
        ykt_reply_status(req, "PONG");
}

/* Verified against when the id is unknown, so that a wrong id and a wrong secret take the
 * same time and cannot be told apart. */
static const char dummy_hash[] = "pbkdf2-sha256$1$00000000000000000000000000000000$"
                                 "0000000000000000000000000000000000000000000000000000000000000000";

static void auth_refused(ykt_req *req, const char *id, const char *why_log)
{
    int failures = ykt_conn_auth_failed(req->conn);
    char safe[YKT_TERMINAL_ID_MAX + 1];
    ykt_strlcpy(safe, ykt_is_ident(id, YKT_TERMINAL_ID_MAX) ? id : "(malformed)", sizeof safe);
    ykt_warn("AUTH refused for terminal '%s' from %s: %s", safe, ykt_conn_peer(req->conn), why_log);
    if (failures >= req->gw->cfg.max_auth_failures) {
        ykt_warn("closing %s after %d failed AUTH attempts", ykt_conn_peer(req->conn), failures);
        ykt_conn_close_after_reply(req->conn);
    }
}

/* The part of AUTH after the secret was checked. */
static void auth_finish(ykt_req *req, ykt_terminal *t, int ok, const char *id)
{
    if (t == NULL || ok != 1) {
        ykt_reply_error(req, "NOAUTH", "invalid terminal id or secret");
        auth_refused(req, id, t == NULL ? "unknown terminal" : "wrong secret");
        return;
    }
    if (t->status != YKT_TS_ENABLED) {
        ykt_reply_error(req, "NOAUTH", "terminal %s is %s", t->id,
                        ykt_terminal_status_name(t->status));
        auth_refused(req, id, ykt_terminal_status_name(t->status));
        return;
    }
    if (req->gw->cfg.tls_client_cn_is_terminal) {
        const char *cn = ykt_conn_tls_peer_cn(req->conn);
        if (cn == NULL || strcmp(cn, t->id) != 0) {
            ykt_reply_error(req, "NOAUTH", "client certificate does not belong to terminal %s",
                            t->id);
            auth_refused(req, id, "client certificate CN mismatch");
            return;
        }
    }
    ykt_conn_set_terminal(req->conn, t);
    ykt_terminal_touch(t, ykt_now_ms());
    ykt_info("terminal %s (%s) authenticated from %s", t->id, ykt_terminal_type_name(t->type),
             ykt_conn_peer(req->conn));
    ykt_reply_ok(req);
}

/* A secret an operator chose is hashed slowly (admin_terminal.c): checking it on the thread
 * pool keeps a reconnect storm from stalling every other terminal. */
typedef struct auth_job {
    char secret[160];
    char hash[YKT_HASH_MAX];
    int ok;
} auth_job;

static void auth_work(void *data)
{
    auth_job *job = data;
    job->ok = ykt_password_verify(job->secret, job->hash);
}

static void auth_done(ykt_req *req, void *data)
{
    auth_job *job = data;
    if (!req->abandoned) {
        /* The registry may have changed meanwhile: look the terminal up again. */
        ykt_terminal *t = ykt_terminal_find(req->gw->terminals, req->argv[1]);
        if (t != NULL && strcmp(t->secret_hash, job->hash) != 0)
            job->ok = 0; /* the secret was rotated while we checked the old one */
        auth_finish(req, t, job->ok, req->argv[1]);
    }
    ykt_wipe(job, sizeof *job);
    free(job);
}

static void cmd_auth(ykt_req *req)
{
    if (req->argc != 3) {
        ykt_reply_error(req, "BAD_REQUEST", "usage: AUTH <terminal-id> <secret>");
        return;
    }
    if (req->term != NULL) {
        ykt_reply_error(req, "BAD_REQUEST", "already authenticated as %s", req->term->id);
        return;
    }
    const char *id = req->argv[1];
    const char *secret = req->argv[2];
    bool well_formed = strlen(id) == req->argl[1] && strlen(secret) == req->argl[2];
    ykt_terminal *t = well_formed ? ykt_terminal_find(req->gw->terminals, id) : NULL;
    const char *hash = t ? t->secret_hash : dummy_hash;
    unsigned iterations = 0;
    sscanf(hash, "pbkdf2-sha256$%u$", &iterations);
    if (iterations > 1 && strlen(secret) < sizeof(((auth_job *)0)->secret)) {
        auth_job *job = calloc(1, sizeof *job);
        if (job == NULL) {
            ykt_reply_internal(req, YKT_ENOMEM);
            return;
        }
        ykt_strlcpy(job->secret, secret, sizeof job->secret);
        ykt_strlcpy(job->hash, hash, sizeof job->hash);
        ykt_req_defer(req, auth_work, auth_done, job);
        return;
    }
    auth_finish(req, t, ykt_password_verify(secret, hash), id);
}

static void cmd_quit(ykt_req *req)
{
    ykt_reply_ok(req);
    ykt_conn_close_after_reply(req->conn);
}

/* HEALTH <ok|degraded|fault> [detail]: a terminal's own report of its state (R-S3). */
static void cmd_health(ykt_req *req)
{
    if (req->argc < 2 || req->argc > 3) {
        ykt_reply_error(req, "BAD_REQUEST", "usage: HEALTH <ok|degraded|fault> [detail]");
        return;
    }
    const char *state = req->argv[1];
    if (strcmp(state, "ok") != 0 && strcmp(state, "degraded") != 0 && strcmp(state, "fault") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "health must be ok, degraded or fault");
        return;
    }
    const char *detail = req->argc == 3 ? req->argv[2] : "";
    if (req->argc == 3 && (req->argl[2] > 120 || strlen(detail) != req->argl[2])) {
        ykt_reply_error(req, "BAD_REQUEST", "detail must be text of at most 120 bytes");
        return;
    }
    int rc = ykt_terminal_report_health(req->gw->terminals, req->gw->db, req->term, state, detail,
                                        ykt_now_ms());
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    if (strcmp(state, "ok") != 0)
        ykt_warn("terminal %s reports %s", req->term->id, state);
    ykt_reply_ok(req);
}

/* TIME: the gateway's clock in epoch milliseconds, for terminals to stamp transactions. */
static void cmd_time(ykt_req *req)
{
    if (req->argc != 1) {
        ykt_reply_error(req, "BAD_REQUEST", "usage: TIME");
        return;
    }
    ykt_reply_int(req, ykt_now_ms());
}

int ykt_core_verbs_register(ykt_verbs *v)
{
    int rc = YKT_OK;
    rc |= ykt_verbs_register(v, "PING", cmd_ping, YKT_TT_ALL, YKT_VERB_PREAUTH, NULL,
                             "PING [message]");
    rc |= ykt_verbs_register(v, "AUTH", cmd_auth, YKT_TT_ALL, YKT_VERB_PREAUTH, NULL,
                             "AUTH <terminal-id> <secret>");
    rc |= ykt_verbs_register(v, "QUIT", cmd_quit, YKT_TT_ALL, YKT_VERB_PREAUTH, NULL, "QUIT");
    rc |= ykt_verbs_register(v, "HEALTH", cmd_health, YKT_TT_ALL, YKT_VERB_WRITE, NULL,
                             "HEALTH <ok|degraded|fault> [detail]");
    rc |= ykt_verbs_register(v, "TIME", cmd_time, YKT_TT_ALL, 0, NULL, "TIME");
    return rc == YKT_OK ? YKT_OK : YKT_EINVAL;
}
