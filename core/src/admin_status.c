/* status, conn list, audit list: what the gateway is doing and what operators did. */
#include "admin_cmds.h"
#include "common.h"
#include "server.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static void cmd_status(ykt_req *req, const ykt_args *a)
{
    ykt_gw *gw = req->gw;
    int64_t minutes = 10;
    if (!ykt_args_int(req, a, "minutes", 1, 525600, &minutes))
        return;
    ykt_server_stats st;
    ykt_server_get_stats(gw, &st);
    int64_t now = ykt_now_ms();
    int registered = 0, enabled = 0, seen = 0, silent = 0, faulty = 0;
    size_t pos = 0;
    ykt_terminal *t;
    while ((t = ykt_terminals_next(gw->terminals, &pos)) != NULL) {
        registered++;
        if (t->status != YKT_TS_ENABLED)
            continue;
        enabled++;
        if (t->last_seen > now - minutes * 60000)
            seen++;
        else
            silent++;
        if (strcmp(t->health, "fault") == 0 || strcmp(t->health, "degraded") == 0)
            faulty++;
    }
    char seen_col[48], silent_col[48];
    snprintf(seen_col, sizeof seen_col, "terminals_seen_last_%lldm", (long long)minutes);
    snprintf(silent_col, sizeof silent_col, "terminals_silent_%lldm", (long long)minutes);
    const char *cols[] = {"version",
                          "campus",
                          "started_at",
                          "uptime_s",
                          "terminal_port",
                          "tls",
                          "admin_socket",
                          "database",
                          "schema_version",
                          "terminals_registered",
                          "terminals_enabled",
                          seen_col,
                          silent_col,
                          "terminals_reporting_faults",
                          "terminal_connections",
                          "authenticated_connections",
                          "admin_connections",
                          "connections_accepted",
                          "connections_refused_busy",
                          "requests",
                          "commits",
                          "commit_failures"};
    ykt_table *tab = ykt_table_new("RECORD", (int)YKT_ARRAY_LEN(cols), cols);
    ykt_table_row(tab);
    ykt_table_str(tab, YKT_VERSION);
    ykt_table_str(tab, gw->cfg.campus_name);
    ykt_table_time(tab, gw->started_ms);
    ykt_table_int(tab, (now - gw->started_ms) / 1000);
    ykt_table_str(tab, st.terminal_addr);
    ykt_table_str(tab, gw->tls ? "on" : "off");
    ykt_table_str(tab, gw->cfg.admin_socket);
    ykt_table_str(tab, ykt_db_path(gw->db));
    ykt_table_int(tab, ykt_db_schema_version(gw->db));
    ykt_table_int(tab, registered);
    ykt_table_int(tab, enabled);
    ykt_table_int(tab, seen);
    ykt_table_int(tab, silent);
    ykt_table_int(tab, faulty);
    ykt_table_int(tab, st.terminal_conns);
    ykt_table_int(tab, st.authenticated_conns);
    ykt_table_int(tab, st.admin_conns);
    ykt_table_int(tab, (int64_t)st.accepted);
    ykt_table_int(tab, (int64_t)st.refused_busy);
    ykt_table_int(tab, (int64_t)st.requests);
    ykt_table_int(tab, (int64_t)st.commits);
    ykt_table_int(tab, (int64_t)st.commit_failures);
    ykt_table_send(req, tab);
}

static void conn_row(const ykt_conn_info *c, void *arg)
{
    ykt_table *tab = arg;
    ykt_table_row(tab);
    ykt_table_int(tab, (int64_t)c->id);
    ykt_table_str(tab, c->admin ? "admin" : "terminal");
    ykt_table_str(tab, c->peer);
    ykt_table_str(tab, c->terminal);
    ykt_table_str(tab, c->tls ? "yes" : "no");
    ykt_table_time(tab, c->connected_at);
    ykt_table_int(tab, c->idle_ms);
    ykt_table_int(tab, (int64_t)c->requests);
    ykt_table_int(tab, c->pipeline_peak);
    ykt_table_int(tab, (int64_t)(c->in_bytes + c->out_bytes));
}

static void cmd_conn_list(ykt_req *req, const ykt_args *a)
{
    static const char *const cols[] = {"conn",          "kind",        "peer",    "who",
                                       "tls",           "since",       "idle_ms", "requests",
                                       "pipeline_peak", "buffer_bytes"};
    ykt_table *tab = ykt_table_new("TABLE", (int)YKT_ARRAY_LEN(cols), cols);
    ykt_server_each_conn(req->gw, conn_row, tab);
    ykt_table_send(req, tab);
}

static int audit_row(const ykt_audit_row *r, void *arg)
{
    ykt_table *tab = arg;
    ykt_table_row(tab);
    ykt_table_int(tab, r->id);
    ykt_table_time(tab, r->at);
    ykt_table_str(tab, r->operator_name);
    ykt_table_str(tab, r->role);
    ykt_table_str(tab, r->action);
    ykt_table_str(tab, r->target);
    ykt_table_str(tab, r->detail);
    ykt_table_str(tab, r->approval[0] ? r->approval : NULL);
    return YKT_OK;
}

static void cmd_audit_list(ykt_req *req, const ykt_args *a)
{
    int64_t limit = 50, since_hours = 0;
    if (!ykt_args_int(req, a, "limit", 1, 100000, &limit) ||
        !ykt_args_int(req, a, "hours", 1, 24 * 3660, &since_hours))
        return;
    const char *op = ykt_args_get(a, "operator");
    unsigned role = req->session->role;
    if (!(role & (YKT_ROLE_SUPERUSER | YKT_ROLE_AUDITOR))) {
        /* Card-centre operators read their own actions only (the portal's counter view). */
        if (op != NULL && strcmp(op, req->session->operator_name) != 0) {
            ykt_reply_error(req, "FORBIDDEN", "you may read your own actions only (--operator %s)",
                            req->session->operator_name);
            return;
        }
        op = req->session->operator_name;
    }
    const char *target = ykt_args_get(a, "target");
    const char *action = ykt_args_get(a, "action");
    int64_t since = since_hours ? ykt_now_ms() - since_hours * 3600000 : 0;
    static const char *const cols[] = {"id",     "at",     "operator", "role",
                                       "action", "target", "detail",   "approval"};
    ykt_table *tab = ykt_table_new("TABLE", 8, cols);
    int rc = ykt_store_audit_query(req->gw->db, op ? op : "", target ? target : "",
                                   action ? action : "", since, (int)limit, audit_row, tab);
    if (rc != YKT_OK) {
        ykt_table_free(tab);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, tab);
}

#define READERS (YKT_ROLE_SUPERUSER | YKT_ROLE_AUDITOR)

static const ykt_admin_cmd cmds[] = {
    {"status", NULL, cmd_status, YKT_ROLE_ANY, false, 0, 0, "minutes=", "status [--minutes N]",
     "Uptime, connections, and terminals seen or silent in the last N minutes (default 10)."},
    {"conn", "list", cmd_conn_list, READERS, false, 0, 0, "", "conn list",
     "List open connections with their idle time and pipeline peak."},
    {"audit", "list", cmd_audit_list, READERS | YKT_ROLE_OPERATOR, false, 0, 0,
     "operator= target= action= hours= limit=",
     "audit list [--operator NAME] [--target ID] [--action A] [--hours N] [--limit N]",
     "Read the audit trail, newest first (operators: their own actions)."},
};

int ykt_admin_status_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
