/*
 * terminal add|list|show|disable|enable|revoke|rotate-secret: the registry of devices on the
 * card network (R-S1). Only the superuser (the information centre) admits or removes a
 * device; every change is audited and takes effect on the terminal's live connections.
 */
#include "admin_cmds.h"
#include "common.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SECRET_LEN 16
#define MAX_SECRET_LEN 128

static bool secret_text_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < MIN_SECRET_LEN || n > MAX_SECRET_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] >= 127)
            return false;
    return true;
}

static bool text_ok(ykt_req *req, const char *what, const char *s, size_t max)
{
    if (s != NULL && strlen(s) > max) {
        ykt_reply_error(req, "BAD_REQUEST", "--%s is at most %zu bytes", what, max);
        return false;
    }
    return true;
}

static ykt_terminal *find_or_reply(ykt_req *req, const char *id)
{
    ykt_terminal *t = ykt_terminal_find(req->gw->terminals, id);
    if (t == NULL)
        ykt_reply_error(req, "NOT_FOUND", "no terminal %.64s", id);
    return t;
}

/* The types that take money for their owner, the merchant: PAY, PAY.OFFLINE, HOLD and
 * CAPTURE (pay_verbs.c) refuse NO_MERCHANT without one. */
#define SELLING_TYPES (YKT_TT_POS | YKT_TT_DISPENSER | YKT_TT_BOOKING)

/*
 * A POS, a dispenser or a booking terminal sells for its owner, the merchant
 * (docs/wallet.md): a missing or mistyped owner would only show at the first sale, as
 * NO_MERCHANT at the till (or in an offline upload). It is not refused: finance adds
 * merchants, the information centre terminals, and a till may be installed before the
 * contract is signed (the rooms and power plugins likewise accept a merchant added later).
 * The reply says so instead. Other types' owners are departments or banks, names yktd does
 * not keep. Returns false after replying when the lookup itself failed.
 */
static bool pos_owner_check(ykt_req *req, unsigned type, const char *owner, char *warning,
                            size_t len)
{
    warning[0] = '\0';
    if ((type & SELLING_TYPES) == 0)
        return true;
    if (owner == NULL || owner[0] == '\0') {
        snprintf(warning, len,
                 "no owner: sales here are refused (NO_MERCHANT) until the terminal is added "
                 "again with --owner MERCHANT");
        return true;
    }
    ykt_merchant m;
    int rc = ykt_store_merchant_get(req->gw->db, owner, &m);
    if (rc == YKT_ENOTFOUND) {
        snprintf(warning, len,
                 "no merchant %.63s yet: sales here are refused (NO_MERCHANT) until it is added "
                 "(yktctl merchant add %.63s --name NAME)",
                 owner, owner);
        return true;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return true;
}

/* The new terminal, with its secret once, and the warning when there is one. */
static void reply_added(ykt_req *req, const ykt_terminal *t, const char *type, const char *secret,
                        bool given, const char *warning)
{
    static const char *const cols[] = {"terminal", "type", "location", "owner",
                                       "secret",   "note", "warning"};
    ykt_table *tab = ykt_table_new("RECORD", warning[0] ? 7 : 6, cols);
    ykt_table_row(tab);
    ykt_table_str(tab, t->id);
    ykt_table_str(tab, type);
    ykt_table_str(tab, t->location);
    ykt_table_str(tab, t->owner);
    ykt_table_str(tab, given ? "(as given)" : secret);
    ykt_table_str(tab, given ? "secret provided by the operator"
                             : "shown once; configure it in the terminal now");
    if (warning[0])
        ykt_table_str(tab, warning);
    ykt_table_send(req, tab);
}

static void cmd_add(ykt_req *req, const ykt_args *a)
{
    const char *id = a->pos[0];
    const char *type = ykt_args_get(a, "type");
    const char *location = ykt_args_get(a, "location");
    const char *owner = ykt_args_get(a, "owner");
    const char *given = ykt_args_get(a, "secret");
    if (!ykt_is_ident(id, YKT_TERMINAL_ID_MAX)) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "a terminal id has 1 to %d letters, digits, '.', '_' or '-'",
                        YKT_TERMINAL_ID_MAX);
        return;
    }
    ykt_terminal t;
    memset(&t, 0, sizeof t);
    t.type = ykt_terminal_type_parse(type);
    if (t.type == 0) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "unknown terminal type '%.32s' (pos, gate, dispenser, meter, bank, "
                        "booking, kiosk, attendance)",
                        type);
        return;
    }
    if (!text_ok(req, "location", location, sizeof t.location - 1) ||
        !text_ok(req, "owner", owner, sizeof t.owner - 1))
        return;
    if (given != NULL && !secret_text_ok(given)) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "--secret must be %d to %d printable characters without spaces",
                        MIN_SECRET_LEN, MAX_SECRET_LEN);
        return;
    }
    if (ykt_terminal_find(req->gw->terminals, id) != NULL) {
        ykt_reply_error(req, "EXISTS", "terminal %s already exists", id);
        return;
    }
    char warning[256];
    if (!pos_owner_check(req, t.type, owner, warning, sizeof warning))
        return;
    char secret[MAX_SECRET_LEN + 1];
    if (given != NULL)
        ykt_strlcpy(secret, given, sizeof secret);
    else if (ykt_secret_generate(secret, sizeof secret) != YKT_OK) {
        ykt_reply_internal(req, YKT_EIO);
        return;
    }
    ykt_strlcpy(t.id, id, sizeof t.id);
    ykt_strlcpy(t.location, location ? location : "", sizeof t.location);
    ykt_strlcpy(t.owner, owner ? owner : "", sizeof t.owner);
    t.status = YKT_TS_ENABLED;
    t.created_at = ykt_now_ms();
    /* A generated secret has 128 random bits and needs no stretching; one an operator chose
     * may be guessable, so it gets the slow hash of passwords. */
    int rc = ykt_password_hash(secret, given ? YKT_PASSWORD_ITERATIONS : YKT_SECRET_ITERATIONS,
                               t.secret_hash, sizeof t.secret_hash);
    if (rc == YKT_OK)
        rc = ykt_terminal_add(req->gw->terminals, req->gw->db, &t);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "terminal.add", id, "type=%s location=%s owner=%s%s", type,
                       t.location, t.owner, given ? " secret=provided" : "");
    if (rc != YKT_OK) {
        ykt_wipe(secret, sizeof secret);
        if (rc == YKT_EEXIST)
            ykt_reply_error(req, "EXISTS", "terminal %s already exists", id);
        else
            ykt_reply_internal(req, rc);
        return;
    }
    ykt_info("admin: %s added terminal %s (%s)", req->session->operator_name, t.id, type);
    if (warning[0])
        ykt_warn("admin: terminal %s: %s", t.id, warning);
    reply_added(req, &t, type, secret, given != NULL, warning);
    ykt_wipe(secret, sizeof secret);
}

static int by_id(const void *x, const void *y)
{
    const ykt_terminal *a = *(ykt_terminal *const *)x, *b = *(ykt_terminal *const *)y;
    return strcmp(a->id, b->id);
}

static void cmd_list(ykt_req *req, const ykt_args *a)
{
    const char *type = ykt_args_get(a, "type");
    const char *status = ykt_args_get(a, "status");
    int64_t silent_min = -1;
    if (!ykt_args_int(req, a, "silent", 0, 525600, &silent_min))
        return;
    bool faulty = ykt_args_get(a, "faulty") != NULL;
    unsigned want_type = type ? ykt_terminal_type_parse(type) : 0;
    if (type != NULL && want_type == 0) {
        ykt_reply_error(req, "BAD_REQUEST", "unknown terminal type '%.32s'", type);
        return;
    }
    if (status != NULL && strcmp(status, "enabled") && strcmp(status, "disabled") &&
        strcmp(status, "revoked")) {
        ykt_reply_error(req, "BAD_REQUEST", "status is enabled, disabled or revoked");
        return;
    }
    size_t n = ykt_terminals_count(req->gw->terminals), k = 0, pos = 0;
    ykt_terminal **all = calloc(n ? n : 1, sizeof *all);
    if (all == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    ykt_terminal *t;
    int64_t now = ykt_now_ms();
    while ((t = ykt_terminals_next(req->gw->terminals, &pos)) != NULL) {
        if (want_type && t->type != want_type)
            continue;
        if (status && strcmp(status, ykt_terminal_status_name(t->status)) != 0)
            continue;
        /* Silent: enabled, and not heard from within the window (R-S3). */
        if (silent_min >= 0 &&
            (t->status != YKT_TS_ENABLED || t->last_seen > now - silent_min * 60000))
            continue;
        if (faulty && strcmp(t->health, "fault") != 0 && strcmp(t->health, "degraded") != 0)
            continue;
        all[k++] = t;
    }
    qsort(all, k, sizeof *all, by_id);
    static const char *const cols[] = {"terminal", "type",      "status",    "location",
                                       "owner",    "connected", "last_seen", "health"};
    ykt_table *tab = ykt_table_new("TABLE", 8, cols);
    for (size_t i = 0; i < k; i++) {
        t = all[i];
        ykt_table_row(tab);
        ykt_table_str(tab, t->id);
        ykt_table_str(tab, ykt_terminal_type_name(t->type));
        ykt_table_str(tab, ykt_terminal_status_name(t->status));
        ykt_table_str(tab, t->location);
        ykt_table_str(tab, t->owner);
        ykt_table_int(tab, t->connections);
        ykt_table_time(tab, t->last_seen);
        ykt_table_str(tab, t->health[0] ? t->health : NULL);
    }
    free(all);
    ykt_table_send(req, tab);
}

static void cmd_show(ykt_req *req, const ykt_args *a)
{
    ykt_terminal *t = find_or_reply(req, a->pos[0]);
    if (t == NULL)
        return;
    static const char *const cols[] = {"terminal", "type",          "status",    "location",
                                       "owner",    "created_at",    "connected", "last_seen",
                                       "health",   "health_detail", "health_at"};
    ykt_table *tab = ykt_table_new("RECORD", 11, cols);
    ykt_table_row(tab);
    ykt_table_str(tab, t->id);
    ykt_table_str(tab, ykt_terminal_type_name(t->type));
    ykt_table_str(tab, ykt_terminal_status_name(t->status));
    ykt_table_str(tab, t->location);
    ykt_table_str(tab, t->owner);
    ykt_table_time(tab, t->created_at);
    ykt_table_int(tab, t->connections);
    ykt_table_time(tab, t->last_seen);
    ykt_table_str(tab, t->health[0] ? t->health : NULL);
    ykt_table_str(tab, t->health_detail[0] ? t->health_detail : NULL);
    ykt_table_time(tab, t->health_at);
    ykt_table_send(req, tab);
}

static void close_connections(void *arg, const char *id)
{
    ykt_gw *gw = arg;
    ykt_server_close_terminal(gw, id);
}

static void change_status(ykt_req *req, const ykt_args *a, int status, const char *action)
{
    ykt_terminal *t = find_or_reply(req, a->pos[0]);
    if (t == NULL)
        return;
    if (t->status == YKT_TS_REVOKED) {
        ykt_reply_error(req, "REVOKED", "terminal %s is revoked for good; add a new one", t->id);
        return;
    }
    if (t->status == status) {
        ykt_reply_error(req, "BAD_STATE", "terminal %s is already %s", t->id,
                        ykt_terminal_status_name(status));
        return;
    }
    const char *reason = ykt_args_get(a, "reason");
    if (!text_ok(req, "reason", reason, 200))
        return;
    int rc = ykt_terminal_set_status(req->gw->terminals, req->gw->db, t->id, status,
                                     status == YKT_TS_ENABLED ? NULL : close_connections, req->gw);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, action, t->id, "status %s -> %s%s%s",
                       ykt_terminal_status_name(t->status), ykt_terminal_status_name(status),
                       reason ? "; reason: " : "", reason ? reason : "");
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_info("admin: %s set terminal %s %s", req->session->operator_name, t->id,
             ykt_terminal_status_name(status));
    ykt_reply_ok(req);
}

static void cmd_disable(ykt_req *req, const ykt_args *a)
{
    change_status(req, a, YKT_TS_DISABLED, "terminal.disable");
}

static void cmd_enable(ykt_req *req, const ykt_args *a)
{
    change_status(req, a, YKT_TS_ENABLED, "terminal.enable");
}

static void cmd_revoke(ykt_req *req, const ykt_args *a)
{
    change_status(req, a, YKT_TS_REVOKED, "terminal.revoke");
}

static void cmd_rotate(ykt_req *req, const ykt_args *a)
{
    ykt_terminal *t = find_or_reply(req, a->pos[0]);
    if (t == NULL)
        return;
    if (t->status == YKT_TS_REVOKED) {
        ykt_reply_error(req, "REVOKED", "terminal %s is revoked for good; add a new one", t->id);
        return;
    }
    char secret[40], hash[YKT_HASH_MAX];
    int rc = ykt_secret_generate(secret, sizeof secret);
    if (rc == YKT_OK)
        rc = ykt_password_hash(secret, YKT_SECRET_ITERATIONS, hash, sizeof hash);
    if (rc == YKT_OK)
        /* The old secret may be known to someone else: end the sessions it opened. */
        rc = ykt_terminal_set_secret(req->gw->terminals, req->gw->db, t->id, hash,
                                     close_connections, req->gw);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "terminal.rotate-secret", t->id, "new secret issued");
    if (rc != YKT_OK) {
        ykt_wipe(secret, sizeof secret);
        ykt_reply_internal(req, rc);
        return;
    }
    static const char *const cols[] = {"terminal", "secret", "note"};
    ykt_table *tab = ykt_table_new("RECORD", 3, cols);
    ykt_table_row(tab);
    ykt_table_str(tab, t->id);
    ykt_table_str(tab, secret);
    ykt_table_str(tab, "shown once; existing connections of this terminal are closed");
    ykt_table_send(req, tab);
    ykt_wipe(secret, sizeof secret);
}

static const ykt_admin_cmd cmds[] = {
    {"terminal", "add", cmd_add, YKT_ROLE_SUPERUSER, true, 1, 1, "type=! location= owner= secret=",
     "terminal add ID --type TYPE [--location TEXT] [--owner NAME] [--secret S]",
     "Admit a terminal; prints its secret once (or takes --secret, 16+ characters). A pos "
     "terminal's --owner is its merchant: warns when there is none yet."},
    {"terminal", "list", cmd_list, YKT_ROLE_ANY, false, 0, 0, "type= status= silent= faulty",
     "terminal list [--type TYPE] [--status S] [--silent MINUTES] [--faulty]",
     "List terminals; --silent shows enabled ones not heard from in MINUTES."},
    {"terminal", "show", cmd_show, YKT_ROLE_ANY, false, 1, 1, "", "terminal show ID",
     "Show one terminal with its health report."},
    {"terminal", "disable", cmd_disable, YKT_ROLE_SUPERUSER, true, 1, 1,
     "reason=", "terminal disable ID [--reason TEXT]",
     "Refuse the terminal until enabled again; closes its connections."},
    {"terminal", "enable", cmd_enable, YKT_ROLE_SUPERUSER, true, 1, 1,
     "reason=", "terminal enable ID [--reason TEXT]", "Allow a disabled terminal again."},
    {"terminal", "revoke", cmd_revoke, YKT_ROLE_SUPERUSER, true, 1, 1,
     "reason=", "terminal revoke ID [--reason TEXT]",
     "Refuse the terminal for good (lost or stolen device); closes its connections."},
    {"terminal", "rotate-secret", cmd_rotate, YKT_ROLE_SUPERUSER, true, 1, 1, "",
     "terminal rotate-secret ID", "Issue a new secret; prints it once."},
};

int ykt_admin_terminal_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
