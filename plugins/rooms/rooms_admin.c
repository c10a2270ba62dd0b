/*
 * rooms: the registry of rooms, seats and who may book (R-R, R-D), bookings on a holder's
 * behalf, and the reports (occupancy per room and day, revenue). Every command that changes
 * state is audited. A department administrator manages only the rooms of their department.
 */
#define _DEFAULT_SOURCE
#include "rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT(sql) s->host->db_stmt(s->self, sql)

#define READERS                                                                                    \
    (YKT_PLUGIN_ROLE_OPERATOR | YKT_PLUGIN_ROLE_FINANCE | YKT_PLUGIN_ROLE_DEPT_ADMIN |             \
     YKT_PLUGIN_ROLE_DEPT_HEAD | YKT_PLUGIN_ROLE_AUDITOR)
#define REPORTERS                                                                                  \
    (YKT_PLUGIN_ROLE_FINANCE | YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD |            \
     YKT_PLUGIN_ROLE_AUDITOR)
#define BOOKERS (YKT_PLUGIN_ROLE_OPERATOR | YKT_PLUGIN_ROLE_DEPT_ADMIN)

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static bool step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

static bool valid_id(const char *id, size_t max)
{
    size_t n = strlen(id);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* Every item of a comma list is one of `allowed` (a comma list too; NULL: any word). */
static bool valid_list(const char *list, const char *allowed, size_t max)
{
    if (strlen(list) > max)
        return false;
    if (list[0] == '\0')
        return true;
    char buf[300];
    rooms_copy(buf, sizeof buf, list);
    char *save = NULL;
    for (char *w = strtok_r(buf, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
        if (w[0] == '\0' || strcmp(w, "any") == 0 ||
            (allowed != NULL && !rooms_in_list(allowed, w)))
            return false;
    }
    return list[strlen(list) - 1] != ',' && strstr(list, ",,") == NULL && list[0] != ',';
}

static bool valid_days(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n > 7)
        return false;
    for (size_t i = 0; i < n; i++)
        if (d[i] < '1' || d[i] > '7' || strchr(d + i + 1, d[i]) != NULL)
            return false;
    return true;
}

static bool valid_kind(const char *kind)
{
    return strcmp(kind, "venue") == 0 || strcmp(kind, "lab") == 0 || strcmp(kind, "computer") == 0;
}

/* A listing's --date filter: a campus day, or nothing. */
static bool filter_day_ok(rooms *s, ykt_request *r, const char *day)
{
    if (day == NULL || rooms_parse_day(day, NULL))
        return true;
    s->host->reply_error(r, "BAD_REQUEST", "--date %.20s: YYYY-MM-DD", day);
    return false;
}

/* A department administrator manages only their own department's rooms. */
static bool may_manage(rooms *s, ykt_request *r, const char *department)
{
    const ykt_host *h = s->host;
    unsigned role = 0;
    const char *dept = "";
    if (h->operator_info(r, &role, &dept) != YKT_PLUGIN_OK) {
        h->reply_error(r, "FORBIDDEN", "no operator");
        return false;
    }
    if (role == YKT_PLUGIN_ROLE_DEPT_ADMIN && strcmp(dept ? dept : "", department) != 0) {
        h->reply_error(r, "FORBIDDEN", "the room belongs to department '%s'; you administer '%s'",
                       department, dept ? dept : "");
        return false;
    }
    return true;
}

static bool room_or_reply(rooms *s, ykt_request *r, const char *id, room *rm)
{
    int found = rooms_room_get(s, id, rm);
    if (found < 0)
        s->host->reply_error(r, "STORAGE_ERROR", "cannot read room %.32s", id);
    else if (found > 0)
        s->host->reply_error(r, "NOT_FOUND", "no room %.32s", id);
    return found == 0;
}

/* ---- the registry ---- */

#define ROOM_OPTS                                                                                  \
    "name= kind= department= capacity= open= close= days= slot= fee= deposit= merchant= "          \
    "departments= kinds= card-types= list-only= cancel-before= refund-before= grace= "             \
    "room-type= status="

static bool opt_minutes(rooms *s, ykt_request *r, const char *name, int64_t hi, int64_t *out)
{
    const char *v = s->host->opt(r, name);
    if (v == NULL)
        return true;
    if (!ykt_pu_parse_int(v, 0, hi, out)) {
        s->host->reply_error(r, "BAD_REQUEST", "--%s: minutes from 0 to %lld", name, (long long)hi);
        return false;
    }
    return true;
}

/* allowed: NULL for free text, "" for a free comma list, else the words a list may hold;
 * a list may be "any" (stored as "": everybody). */
static bool opt_text(rooms *s, ykt_request *r, const char *name, char *dst, size_t n,
                     const char *allowed, bool ident)
{
    const char *v = s->host->opt(r, name);
    if (v == NULL)
        return true;
    if (allowed != NULL && strcmp(v, "any") == 0) {
        dst[0] = '\0';
        return true;
    }
    bool ok = strlen(v) > 0 && strlen(v) < n;
    if (ok && ident)
        ok = valid_id(v, n - 1);
    else if (ok && allowed != NULL)
        ok = valid_list(v, allowed[0] ? allowed : NULL, n - 1);
    if (!ok) {
        s->host->reply_error(r, "BAD_REQUEST", "--%s %.40s: %s", name, v,
                             allowed && allowed[0] ? allowed
                             : allowed             ? "a comma-separated list, or any"
                             : ident               ? "letters, digits, '-', '_', '.'"
                                                   : "text of fitting length");
        return false;
    }
    rooms_copy(dst, n, v);
    return true;
}

/* Applies the options to rm (defaults already in it); replies and returns false on any error. */
static bool apply_room_opts(rooms *s, ykt_request *r, room *rm)
{
    const ykt_host *h = s->host;
    const char *v;
    int minutes = 0;
    if (!opt_text(s, r, "name", rm->name, 121, NULL, false) ||
        !opt_text(s, r, "department", rm->department, 64, NULL, false) ||
        !opt_text(s, r, "merchant", rm->merchant, 33, NULL, true) ||
        !opt_text(s, r, "departments", rm->departments, 256, "", false) ||
        !opt_text(s, r, "kinds", rm->kinds, 64, "student,staff,temporary", false) ||
        !opt_text(s, r, "card-types", rm->card_types, 64, "regular,temporary", false) ||
        !opt_text(s, r, "room-type", rm->room_type, 32, NULL, true))
        return false;
    if ((v = h->opt(r, "capacity")) != NULL && !ykt_pu_parse_int(v, 1, 100000, &rm->capacity)) {
        h->reply_error(r, "BAD_REQUEST", "--capacity: 1 to 100000 people or seats");
        return false;
    }
    if ((v = h->opt(r, "open")) != NULL) {
        if (!rooms_parse_hhmm(v, &minutes) || minutes >= 1440) {
            h->reply_error(r, "BAD_REQUEST", "--open: HH:MM");
            return false;
        }
        rm->open_min = minutes;
    }
    if ((v = h->opt(r, "close")) != NULL) {
        if (!rooms_parse_hhmm(v, &minutes) || minutes == 0) {
            h->reply_error(r, "BAD_REQUEST", "--close: HH:MM, up to 24:00");
            return false;
        }
        rm->close_min = minutes;
    }
    if ((v = h->opt(r, "days")) != NULL) {
        if (!valid_days(v)) {
            h->reply_error(r, "BAD_REQUEST", "--days: ISO weekdays, e.g. 12345 for Mon-Fri");
            return false;
        }
        rooms_copy(rm->days, sizeof rm->days, v);
    }
    if ((v = h->opt(r, "slot")) != NULL && !ykt_pu_parse_int(v, 5, 1440, &rm->slot_min)) {
        h->reply_error(r, "BAD_REQUEST", "--slot: 5 to 1440 minutes");
        return false;
    }
    if (((v = h->opt(r, "fee")) != NULL && (!rooms_parse_cny(v, &rm->fee) || rm->fee > 10000000)) ||
        ((v = h->opt(r, "deposit")) != NULL &&
         (!rooms_parse_cny(v, &rm->deposit) || rm->deposit > 10000000))) {
        h->reply_error(r, "BAD_REQUEST", "--fee and --deposit: CNY such as 5.00, at most 100000");
        return false;
    }
    if ((v = h->opt(r, "list-only")) != NULL) {
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
            h->reply_error(r, "BAD_REQUEST", "--list-only: yes or no");
            return false;
        }
        rm->list_only = strcmp(v, "yes") == 0;
    }
    if (!opt_minutes(s, r, "cancel-before", 10080, &rm->cancel_before) ||
        !opt_minutes(s, r, "refund-before", 10080, &rm->refund_before) ||
        !opt_minutes(s, r, "grace", 1440, &rm->grace))
        return false;
    if (rm->grace < 1) {
        h->reply_error(r, "BAD_REQUEST", "--grace: at least 1 minute");
        return false;
    }
    if ((v = h->opt(r, "status")) != NULL) {
        if (strcmp(v, "open") != 0 && strcmp(v, "closed") != 0) {
            h->reply_error(r, "BAD_REQUEST", "--status: open or closed");
            return false;
        }
        rooms_copy(rm->status, sizeof rm->status, v);
    }
    if (rm->open_min >= rm->close_min || rm->slot_min > rm->close_min - rm->open_min) {
        h->reply_error(r, "BAD_REQUEST", "opening hours must hold at least one slot");
        return false;
    }
    /* --merchant names the merchant the room's fees pay: a mistyped one would only show when
     * the first booking is refused. A suspended merchant is accepted (the wallet refuses its
     * payments until it is active again). "" falls back to the plugin's merchant. */
    if ((v = h->opt(r, "merchant")) != NULL && v[0] != '\0') {
        int mrc = h->merchant_status(v, NULL);
        if (mrc == YKT_PLUGIN_ENOTFOUND) {
            h->reply_error(r, "NO_MERCHANT",
                           "--merchant %s: no such merchant (yktctl merchant add)", v);
            return false;
        }
        if (mrc != YKT_PLUGIN_OK) {
            h->reply_error(r, "STORAGE_ERROR", "cannot read merchant %s", v);
            return false;
        }
    }
    if (strcmp(rm->kind, "computer") == 0) {
        /* The rule must know the room's type: try it once now rather than at the first seat. */
        ykt_rule_value args[] = {{.name = "minutes", .type = 'i', .i = 1},
                                 {.name = "room_type", .type = 's', .s = rm->room_type}};
        ykt_rule_value res[] = {{.name = "charge", .type = 'i'}};
        if (h->rule_call(r, "rooms", "price", args, 2, res, 1) != YKT_PLUGIN_OK)
            return false;
    }
    return true;
}

static bool room_save(rooms *s, const room *rm, bool adding)
{
    sqlite3_stmt *st =
        adding ? STMT("INSERT INTO rooms_rooms (name, kind, department, capacity, open_min,"
                      " close_min, days, slot_min, fee, deposit, merchant, departments, kinds,"
                      " card_types, list_only, cancel_before, refund_before, grace, room_type,"
                      " status, created_at, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                      " ?, ?, ?, ?, ?, ?, ?, ?, ?)")
               : STMT("UPDATE rooms_rooms SET name = ?, kind = ?, department = ?, capacity = ?,"
                      " open_min = ?, close_min = ?, days = ?, slot_min = ?, fee = ?,"
                      " deposit = ?, merchant = ?, departments = ?, kinds = ?, card_types = ?,"
                      " list_only = ?, cancel_before = ?, refund_before = ?, grace = ?,"
                      " room_type = ?, status = ?, created_at = coalesce(?, created_at)"
                      " WHERE id = ?");
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, rm->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, rm->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, rm->department, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, rm->capacity);
    sqlite3_bind_int64(st, 5, rm->open_min);
    sqlite3_bind_int64(st, 6, rm->close_min);
    sqlite3_bind_text(st, 7, rm->days, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, rm->slot_min);
    sqlite3_bind_int64(st, 9, rm->fee);
    sqlite3_bind_int64(st, 10, rm->deposit);
    sqlite3_bind_text(st, 11, rm->merchant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 12, rm->departments, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 13, rm->kinds, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 14, rm->card_types, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 15, rm->list_only);
    sqlite3_bind_int64(st, 16, rm->cancel_before);
    sqlite3_bind_int64(st, 17, rm->refund_before);
    sqlite3_bind_int64(st, 18, rm->grace);
    sqlite3_bind_text(st, 19, rm->room_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 20, rm->status, -1, SQLITE_TRANSIENT);
    if (adding)
        sqlite3_bind_int64(st, 21, s->host->now_ms());
    sqlite3_bind_text(st, 22, rm->id, -1, SQLITE_TRANSIENT);
    return step_done(st);
}

static void room_summary(char *out, size_t n, const room *rm)
{
    char fee[32], dep[32], from[8], to[8];
    rooms_fmt_cny(rm->fee, fee);
    rooms_fmt_cny(rm->deposit, dep);
    rooms_fmt_hhmm(rm->open_min, from);
    rooms_fmt_hhmm(rm->close_min, to);
    snprintf(out, n, "%s %s, %s-%s on %s, %lld-min slots, fee %s, deposit %s, status %s", rm->kind,
             rm->id, from, to, rm->days, (long long)rm->slot_min, fee, dep, rm->status);
}

static void a_add(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    const char *id = h->arg(r, 0, NULL), *kind = h->opt(r, "kind");
    if (!valid_id(id, 32)) {
        h->reply_error(r, "BAD_REQUEST", "a room id: 1 to 32 letters, digits, '-', '_', '.'");
        return;
    }
    if (kind == NULL || !valid_kind(kind)) {
        h->reply_error(r, "BAD_REQUEST", "--kind: venue, lab or computer");
        return;
    }
    room rm = {.capacity = 1,
               .open_min = 8 * 60,
               .close_min = 22 * 60,
               .slot_min = 60,
               .refund_before = 60,
               .grace = 15};
    rooms_copy(rm.id, sizeof rm.id, id);
    rooms_copy(rm.kind, sizeof rm.kind, kind);
    rooms_copy(rm.days, sizeof rm.days, "1234567");
    rooms_copy(rm.room_type, sizeof rm.room_type, strcmp(kind, "lab") == 0 ? "lab" : "public");
    rooms_copy(rm.status, sizeof rm.status, "open");
    unsigned role = 0;
    const char *dept = "";
    if (h->operator_info(r, &role, &dept) == YKT_PLUGIN_OK && dept != NULL)
        rooms_copy(rm.department, sizeof rm.department, dept);
    if (!apply_room_opts(s, r, &rm) || !may_manage(s, r, rm.department))
        return;
    room old;
    int found = rooms_room_get(s, id, &old);
    if (found == 0) {
        h->reply_error(r, "EXISTS", "room %s exists", id);
        return;
    }
    char detail[300];
    room_summary(detail, sizeof detail, &rm);
    if (found < 0 || !room_save(s, &rm, true) ||
        h->audit(r, "rooms.add", id, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot add room %s", id);
        return;
    }
    h->reply_ok(r);
}

static void a_update(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    room rm;
    if (!room_or_reply(s, r, h->arg(r, 0, NULL), &rm))
        return;
    if (h->opt(r, "kind") != NULL && strcmp(h->opt(r, "kind"), rm.kind) != 0) {
        h->reply_error(r, "BAD_REQUEST", "a room's kind does not change; add a new room");
        return;
    }
    if (!may_manage(s, r, rm.department) || !apply_room_opts(s, r, &rm) ||
        !may_manage(s, r, rm.department))
        return;
    char detail[300];
    room_summary(detail, sizeof detail, &rm);
    if (!room_save(s, &rm, false) || h->audit(r, "rooms.update", rm.id, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot update room %s", rm.id);
        return;
    }
    h->reply_ok(r);
}

static int64_t seat_count(rooms *s, const char *room_id)
{
    sqlite3_stmt *st = STMT("SELECT count(*) FROM rooms_seats WHERE room = ?");
    if (st == NULL)
        return 0;
    sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

static const char *const room_cols[] = {"room",
                                        "name",
                                        "kind",
                                        "department",
                                        "capacity",
                                        "open",
                                        "close",
                                        "days",
                                        "slot_min",
                                        "fee",
                                        "deposit",
                                        "merchant",
                                        "departments",
                                        "kinds",
                                        "card_types",
                                        "list_only",
                                        "cancel_before_min",
                                        "refund_before_min",
                                        "grace_min",
                                        "room_type",
                                        "status",
                                        "seats"};

static void room_row(rooms *s, ykt_request *r, const room *rm)
{
    const ykt_host *h = s->host;
    char from[8], to[8], fee[32], dep[32];
    rooms_fmt_hhmm(rm->open_min, from);
    rooms_fmt_hhmm(rm->close_min, to);
    rooms_fmt_cny(rm->fee, fee);
    rooms_fmt_cny(rm->deposit, dep);
    h->table_row(r);
    h->table_str(r, rm->id);
    h->table_str(r, rm->name);
    h->table_str(r, rm->kind);
    h->table_str(r, rm->department);
    h->table_int(r, rm->capacity);
    h->table_str(r, from);
    h->table_str(r, to);
    h->table_str(r, rm->days);
    h->table_int(r, rm->slot_min);
    h->table_str(r, fee);
    h->table_str(r, dep);
    h->table_str(r, rm->merchant);
    h->table_str(r, rm->departments[0] ? rm->departments : "any");
    h->table_str(r, rm->kinds[0] ? rm->kinds : "any");
    h->table_str(r, rm->card_types[0] ? rm->card_types : "any");
    h->table_str(r, rm->list_only ? "yes" : "no");
    h->table_int(r, rm->cancel_before);
    h->table_int(r, rm->refund_before);
    h->table_int(r, rm->grace);
    h->table_str(r, strcmp(rm->kind, "computer") == 0 ? rm->room_type : "");
    h->table_str(r, rm->status);
    h->table_int(r, seat_count(s, rm->id));
}

static void a_list(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    const char *kind = h->opt(r, "kind");
    if (kind != NULL && !valid_kind(kind)) {
        h->reply_error(r, "BAD_REQUEST", "--kind: venue, lab or computer");
        return;
    }
    char ids[500][40];
    int n = 0;
    sqlite3_stmt *st = STMT("SELECT id FROM rooms_rooms WHERE (?1 IS NULL OR kind = ?1)"
                            " ORDER BY id LIMIT 500");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list rooms");
        return;
    }
    if (kind)
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_TRANSIENT);
    while (n < 500 && sqlite3_step(st) == SQLITE_ROW)
        rooms_copy(ids[n++], 40, col(st, 0));
    sqlite3_reset(st);
    h->table_begin(r, "TABLE", 22, room_cols);
    for (int i = 0; i < n; i++) {
        room rm;
        if (rooms_room_get(s, ids[i], &rm) == 0)
            room_row(s, r, &rm);
    }
    h->table_send(r);
}

static void a_show(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    room rm;
    if (!room_or_reply(s, r, h->arg(r, 0, NULL), &rm))
        return;
    h->table_begin(r, "RECORD", 22, room_cols);
    room_row(s, r, &rm);
    h->table_send(r);
}

static void a_allow(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    room rm;
    const char *no = h->arg(r, 1, NULL);
    if (!room_or_reply(s, r, h->arg(r, 0, NULL), &rm) || !may_manage(s, r, rm.department))
        return;
    ykt_card_info card;
    if (h->person_card(no, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "NOT_FOUND", "no cardholder %.32s with a live card", no);
        return;
    }
    sqlite3_stmt *st = STMT("INSERT INTO rooms_allow (room, person_no) VALUES (?, ?)"
                            " ON CONFLICT DO NOTHING");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, rm.id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, no, -1, SQLITE_TRANSIENT);
    if (!step_done(st))
        goto storage;
    if (sqlite3_changes(sqlite3_db_handle(st)) == 0) {
        h->reply_error(r, "BAD_STATE", "%s is on room %s's list already", no, rm.id);
        return;
    }
    if (h->audit(r, "rooms.allow", rm.id, no) != YKT_PLUGIN_OK)
        goto storage;
    h->reply_ok(r);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot change the list");
}

static void a_disallow(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    room rm;
    const char *no = h->arg(r, 1, NULL);
    if (!room_or_reply(s, r, h->arg(r, 0, NULL), &rm) || !may_manage(s, r, rm.department))
        return;
    sqlite3_stmt *st = STMT("DELETE FROM rooms_allow WHERE room = ? AND person_no = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, rm.id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, no, -1, SQLITE_TRANSIENT);
    if (!step_done(st))
        goto storage;
    if (sqlite3_changes(sqlite3_db_handle(st)) == 0) {
        h->reply_error(r, "NOT_FOUND", "%.32s is not on room %s's list", no, rm.id);
        return;
    }
    if (h->audit(r, "rooms.disallow", rm.id, no) != YKT_PLUGIN_OK)
        goto storage;
    h->reply_ok(r);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot change the list");
}

static void a_seat(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    const char *terminal = h->arg(r, 0, NULL), *label = h->opt(r, "label");
    room rm;
    if (!valid_id(terminal, 63)) {
        h->reply_error(r, "BAD_REQUEST", "a terminal id");
        return;
    }
    if (!room_or_reply(s, r, h->opt(r, "room"), &rm) || !may_manage(s, r, rm.department))
        return;
    /* A seat is a pos terminal (ROOMS.LOGON, HEARTBEAT and LOGOUT are pos verbs): a mistyped
     * id or another type of terminal would never log anyone on. */
    ykt_terminal_info t;
    if (h->terminal_get(terminal, &t) != YKT_PLUGIN_OK) {
        h->reply_error(r, "UNKNOWN_TERMINAL",
                       "no terminal %s is registered (yktctl terminal add %s --type pos)", terminal,
                       terminal);
        return;
    }
    if (t.type != YKT_TERM_POS) {
        h->reply_error(r, "WRONG_TERMINAL_TYPE",
                       "terminal %s is not a pos terminal: a seat logs on with ROOMS.LOGON, a "
                       "pos verb",
                       terminal);
        return;
    }
    if (strcmp(rm.kind, "computer") != 0) {
        h->reply_error(r, "NOT_BOOKABLE", "room %s is a %s, not a computer room", rm.id, rm.kind);
        return;
    }
    if (label != NULL && strlen(label) > 60) {
        h->reply_error(r, "BAD_REQUEST", "--label: at most 60 bytes");
        return;
    }
    sqlite3_stmt *st = STMT("INSERT INTO rooms_seats (terminal, room, label, created_at)"
                            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, terminal, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, rm.id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, label ? label : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, h->now_ms());
    if (!step_done(st))
        goto storage;
    if (sqlite3_changes(sqlite3_db_handle(st)) == 0) {
        h->reply_error(r, "EXISTS", "terminal %s is a seat already", terminal);
        return;
    }
    if (h->audit(r, "rooms.seat", terminal, rm.id) != YKT_PLUGIN_OK)
        goto storage;
    h->reply_ok(r);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot add the seat");
}

static void a_unseat(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    const char *terminal = h->arg(r, 0, NULL);
    sqlite3_stmt *st = STMT("SELECT room FROM rooms_seats WHERE terminal = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, terminal, -1, SQLITE_TRANSIENT);
    char room_id[40] = "";
    if (sqlite3_step(st) == SQLITE_ROW)
        rooms_copy(room_id, sizeof room_id, col(st, 0));
    sqlite3_reset(st);
    room rm;
    if (room_id[0] == '\0') {
        h->reply_error(r, "NOT_FOUND", "terminal %.32s is not a seat", terminal);
        return;
    }
    if (!room_or_reply(s, r, room_id, &rm) || !may_manage(s, r, rm.department))
        return;
    st = STMT("SELECT 1 FROM rooms_sessions WHERE seat = ? AND status = 'active'");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, terminal, -1, SQLITE_TRANSIENT);
    bool busy = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (busy) {
        h->reply_error(r, "SEAT_BUSY", "seat %s has a session; it ends on logout or timeout",
                       terminal);
        return;
    }
    st = STMT("DELETE FROM rooms_seats WHERE terminal = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, terminal, -1, SQLITE_TRANSIENT);
    if (!step_done(st) || h->audit(r, "rooms.unseat", terminal, rm.id) != YKT_PLUGIN_OK)
        goto storage;
    h->reply_ok(r);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot remove the seat");
}

static void a_seats(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    const char *room_id = h->opt(r, "room");
    sqlite3_stmt *st =
        STMT("SELECT s.terminal, s.room, s.label, x.id, x.person_no, x.started_at FROM rooms_seats"
             " s LEFT JOIN rooms_sessions x ON x.seat = s.terminal AND x.status = 'active'"
             " WHERE (?1 IS NULL OR s.room = ?1) ORDER BY s.room, s.terminal LIMIT 2000");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list seats");
        return;
    }
    if (room_id)
        sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    static const char *const cols[] = {"seat", "room", "label", "session", "person", "since_ms"};
    h->table_begin(r, "TABLE", 6, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, col(st, 0));
        h->table_str(r, col(st, 1));
        h->table_str(r, col(st, 2));
        h->table_int(r, sqlite3_column_int64(st, 3));
        h->table_str(r, col(st, 4));
        h->table_int(r, sqlite3_column_int64(st, 5));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* ---- bookings on a holder's behalf ---- */

static void a_book(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    room rm;
    const char *day = h->arg(r, 1, NULL), *person = h->opt(r, "person");
    int slot = 0;
    int64_t party = 1;
    if (!rooms_parse_hhmm(h->arg(r, 2, NULL), &slot)) {
        h->reply_error(r, "BAD_REQUEST", "the time: HH:MM");
        return;
    }
    if (h->opt(r, "party") != NULL && !ykt_pu_parse_int(h->opt(r, "party"), 1, 100000, &party)) {
        h->reply_error(r, "BAD_REQUEST", "--party: a number of people");
        return;
    }
    if (!room_or_reply(s, r, h->arg(r, 0, NULL), &rm) || !may_manage(s, r, rm.department))
        return;
    ykt_card_info card;
    if (h->person_card(person, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "NOT_FOUND", "no cardholder %.32s with a live card", person);
        return;
    }
    if (rm.fee > 0 && rooms_merchant(s, &rm, NULL) == NULL) {
        h->reply_error(r, "NO_MERCHANT", "room %s has a fee but no merchant", rm.id);
        return;
    }
    /* No card here, so no money: the fee is charged at check-in; no deposit is taken. */
    int64_t id =
        rooms_book_slot(s, r, &rm, &card, day, slot, party, rm.fee, NULL, h->operator_name(r));
    if (id < 0)
        return;
    char target[32], detail[200], fee[32];
    snprintf(target, sizeof target, "booking %lld", (long long)id);
    rooms_fmt_cny(rm.fee, fee);
    snprintf(detail, sizeof detail, "room %s %s %s for %s, party %lld, fee %s due at check-in",
             rm.id, day, h->arg(r, 2, NULL), person, (long long)party, fee);
    if (h->audit(r, "rooms.book", target, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot audit the booking");
        return;
    }
    static const char *const cols[] = {"booking", "room", "day", "time", "person", "fee_due"};
    h->table_begin(r, "RECORD", 6, cols);
    h->table_row(r);
    h->table_int(r, id);
    h->table_str(r, rm.id);
    h->table_str(r, day);
    h->table_str(r, h->arg(r, 2, NULL));
    h->table_str(r, person);
    h->table_str(r, fee);
    h->table_send(r);
}

static void a_cancel(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    int64_t id = 0;
    const char *reason = h->opt(r, "reason");
    if (!ykt_pu_parse_int(h->arg(r, 0, NULL), 1, INT64_MAX, &id)) {
        h->reply_error(r, "BAD_REQUEST", "a booking number");
        return;
    }
    if (reason != NULL && strlen(reason) > 200) {
        h->reply_error(r, "BAD_REQUEST", "--reason: at most 200 bytes");
        return;
    }
    sqlite3_stmt *st = STMT("SELECT room, status, paid - refunded, person_id, person_no, merchant"
                            " FROM rooms_bookings WHERE id = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_int64(st, 1, id);
    char room_id[40] = "", status[16] = "", person_no[40] = "", merchant[64] = "";
    int64_t owed = 0, person_id = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        rooms_copy(room_id, sizeof room_id, col(st, 0));
        rooms_copy(status, sizeof status, col(st, 1));
        owed = sqlite3_column_int64(st, 2);
        person_id = sqlite3_column_int64(st, 3);
        rooms_copy(person_no, sizeof person_no, col(st, 4));
        rooms_copy(merchant, sizeof merchant, col(st, 5));
    }
    sqlite3_reset(st);
    room rm;
    if (room_id[0] == '\0') {
        h->reply_error(r, "NOT_FOUND", "no booking %lld", (long long)id);
        return;
    }
    if (!room_or_reply(s, r, room_id, &rm) || !may_manage(s, r, rm.department))
        return;
    if (strcmp(status, "booked") != 0) {
        h->reply_error(r, "BAD_STATE", "booking %lld is %s", (long long)id, status);
        return;
    }
    char why[240];
    snprintf(why, sizeof why, "cancelled by %s%s%s", h->operator_name(r), reason ? ": " : "",
             reason ? reason : "");
    st = STMT("UPDATE rooms_bookings SET status = 'cancelled', ended_at = ?, reason = ?"
              " WHERE id = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_int64(st, 1, h->now_ms());
    sqlite3_bind_text(st, 2, why, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, id);
    if (!step_done(st))
        goto storage;
    /* Whatever the holder paid is owed back in full; money moves when the card is present
     * (ROOMS.CLAIM at a booking station). */
    if (owed > 0) {
        st = STMT("INSERT INTO rooms_credits (person_id, person_no, booking, room, merchant,"
                  " amount, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        if (st == NULL)
            goto storage;
        sqlite3_bind_int64(st, 1, person_id);
        sqlite3_bind_text(st, 2, person_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, id);
        sqlite3_bind_text(st, 4, room_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, merchant, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, owed);
        sqlite3_bind_text(st, 7, why, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 8, h->now_ms());
        if (!step_done(st))
            goto storage;
        st = STMT("UPDATE rooms_bookings SET refunded = paid WHERE id = ?");
        if (st == NULL)
            goto storage;
        sqlite3_bind_int64(st, 1, id);
        if (!step_done(st))
            goto storage;
    }
    char msg[300], c[32], target[32];
    rooms_fmt_cny(owed, c);
    snprintf(msg, sizeof msg, "room %s: booking %lld was cancelled by the office%s%s%s", room_id,
             (long long)id, reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
    if (owed > 0)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
                 "; %s CNY waits for you at any booking station", c);
    snprintf(target, sizeof target, "booking %lld", (long long)id);
    if (h->notify(person_id, "room_cancelled", msg, owed) != YKT_PLUGIN_OK ||
        h->audit(r, "rooms.cancel", target, why) != YKT_PLUGIN_OK)
        goto storage;
    static const char *const cols[] = {"booking", "status", "refund_owed", "refund_owed_fen"};
    h->table_begin(r, "RECORD", 4, cols);
    h->table_row(r);
    h->table_int(r, id);
    h->table_str(r, "cancelled");
    h->table_str(r, c);
    h->table_int(r, owed);
    h->table_send(r);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot cancel booking %lld", (long long)id);
}

static void a_bookings(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    const char *room_id = h->opt(r, "room"), *day = h->opt(r, "date"),
               *person = h->opt(r, "person"), *status = h->opt(r, "status");
    int64_t limit = 200;
    if (h->opt(r, "limit") && !ykt_pu_parse_int(h->opt(r, "limit"), 1, 5000, &limit)) {
        h->reply_error(r, "BAD_REQUEST", "--limit: 1 to 5000");
        return;
    }
    if (!filter_day_ok(s, r, day))
        return;
    if (status != NULL && !rooms_in_list("booked,checked_in,completed,cancelled,no_show", status)) {
        h->reply_error(r, "BAD_REQUEST",
                       "--status: booked, checked_in, completed, cancelled or no_show");
        return;
    }
    sqlite3_stmt *st = STMT(
        "SELECT id, room, day, slot, end_ms, person_no, party, status, paid, refunded, fee_due,"
        " CASE WHEN operator <> '' THEN 'operator ' || operator ELSE terminal END, reason"
        " FROM rooms_bookings WHERE (?1 IS NULL OR room = ?1) AND (?2 IS NULL OR day = ?2) AND"
        " (?3 IS NULL OR person_no = ?3) AND (?4 IS NULL OR status = ?4)"
        " ORDER BY id DESC LIMIT ?5");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list bookings");
        return;
    }
    if (room_id)
        sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    if (day)
        sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    if (person)
        sqlite3_bind_text(st, 3, person, -1, SQLITE_TRANSIENT);
    if (status)
        sqlite3_bind_text(st, 4, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, limit);
    static const char *const cols[] = {"booking",      "room",        "day",    "time",
                                       "person",       "party",       "status", "paid_fen",
                                       "refunded_fen", "fee_due_fen", "by",     "reason"};
    h->table_begin(r, "TABLE", 12, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char t[8];
        rooms_fmt_hhmm(sqlite3_column_int64(st, 3), t);
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        h->table_str(r, col(st, 1));
        h->table_str(r, col(st, 2));
        h->table_str(r, t);
        h->table_str(r, col(st, 5));
        h->table_int(r, sqlite3_column_int64(st, 6));
        h->table_str(r, col(st, 7));
        h->table_int(r, sqlite3_column_int64(st, 8));
        h->table_int(r, sqlite3_column_int64(st, 9));
        h->table_int(r, sqlite3_column_int64(st, 10));
        h->table_str(r, col(st, 11));
        h->table_str(r, col(st, 12));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_sessions(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    const char *room_id = h->opt(r, "room"), *day = h->opt(r, "date");
    int active = h->opt(r, "active") != NULL;
    if (!filter_day_ok(s, r, day))
        return;
    sqlite3_stmt *st =
        STMT("SELECT id, room, seat, day, person_no, started_at, ended_at, minutes, held,"
             " charged, status FROM rooms_sessions WHERE (?1 IS NULL OR room = ?1) AND"
             " (?2 IS NULL OR day = ?2) AND (?3 = 0 OR status = 'active')"
             " ORDER BY id DESC LIMIT 1000");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list sessions");
        return;
    }
    if (room_id)
        sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    if (day)
        sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, active);
    static const char *const cols[] = {"session",  "room",        "seat",     "day",
                                       "person",   "started_ms",  "ended_ms", "minutes",
                                       "held_fen", "charged_fen", "status"};
    h->table_begin(r, "TABLE", 11, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        h->table_str(r, col(st, 1));
        h->table_str(r, col(st, 2));
        h->table_str(r, col(st, 3));
        h->table_str(r, col(st, 4));
        h->table_int(r, sqlite3_column_int64(st, 5));
        h->table_int(r, sqlite3_column_int64(st, 6));
        h->table_int(r, sqlite3_column_int64(st, 7));
        h->table_int(r, sqlite3_column_int64(st, 8));
        h->table_int(r, sqlite3_column_int64(st, 9));
        h->table_str(r, col(st, 10));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_owed(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    const char *person = h->opt(r, "person");
    int unpaid = h->opt(r, "unpaid") != NULL;
    sqlite3_stmt *st = STMT("SELECT id, person_no, booking, room, merchant, amount, reason,"
                            " created_at, paid_at, terminal FROM rooms_credits WHERE"
                            " (?1 IS NULL OR person_no = ?1) AND (?2 = 0 OR paid_at IS NULL)"
                            " ORDER BY id DESC LIMIT 1000");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list refunds");
        return;
    }
    if (person)
        sqlite3_bind_text(st, 1, person, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, unpaid);
    static const char *const cols[] = {"id",       "person",          "booking", "room",
                                       "merchant", "amount_fen",      "reason",  "created_ms",
                                       "paid_ms",  "paid_at_terminal"};
    h->table_begin(r, "TABLE", 10, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        h->table_str(r, col(st, 1));
        h->table_int(r, sqlite3_column_int64(st, 2));
        h->table_str(r, col(st, 3));
        h->table_str(r, col(st, 4));
        h->table_int(r, sqlite3_column_int64(st, 5));
        h->table_str(r, col(st, 6));
        h->table_int(r, sqlite3_column_int64(st, 7));
        h->table_int(r, sqlite3_column_int64(st, 8));
        h->table_str(r, col(st, 9));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* ---- reports ---- */

/* --from/--to as campus days (to defaults to from); replies and returns false when bad. */
static bool report_range(rooms *s, ykt_request *r, char from[11], char to[11], int64_t *days)
{
    const ykt_host *h = s->host;
    const char *f = h->opt(r, "from"), *t = h->opt(r, "to");
    if (!rooms_parse_day(f, NULL) || (t != NULL && !rooms_parse_day(t, NULL))) {
        h->reply_error(r, "BAD_REQUEST", "--from and --to: YYYY-MM-DD");
        return false;
    }
    rooms_copy(from, 11, f);
    rooms_copy(to, 11, t ? t : f);
    if (strcmp(to, from) < 0) {
        h->reply_error(r, "BAD_REQUEST", "--to is before --from");
        return false;
    }
    int64_t span = (rooms_day_ms(to, 720) - rooms_day_ms(from, 720) + 43200000) / 86400000 + 1;
    if (span > 366) {
        h->reply_error(r, "LIMIT_EXCEEDED", "at most 366 days at once");
        return false;
    }
    *days = span;
    return true;
}

static void next_day(rooms *s, char day[11])
{
    s->host->campus_date(rooms_day_ms(day, 720) + 86400000, day);
}

static void a_occupancy(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    char from[11], to[11];
    int64_t days = 0;
    if (!report_range(s, r, from, to, &days))
        return;
    const char *only = h->opt(r, "room");
    char ids[200][40];
    int n = 0;
    sqlite3_stmt *st = STMT("SELECT id FROM rooms_rooms WHERE (?1 IS NULL OR id = ?1)"
                            " ORDER BY id LIMIT 200");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read rooms");
        return;
    }
    if (only)
        sqlite3_bind_text(st, 1, only, -1, SQLITE_TRANSIENT);
    while (n < 200 && sqlite3_step(st) == SQLITE_ROW)
        rooms_copy(ids[n++], 40, col(st, 0));
    sqlite3_reset(st);
    if (only != NULL && n == 0) {
        h->reply_error(r, "NOT_FOUND", "no room %.32s", only);
        return;
    }
    if (n * days > 20000) {
        h->reply_error(r, "LIMIT_EXCEEDED", "%lld rows: ask for fewer rooms or days",
                       (long long)(n * days));
        return;
    }
    static const char *const cols[] = {"room",     "day",          "kind",         "slots",
                                       "booked",   "checked_in",   "no_show",      "cancelled",
                                       "sessions", "seat_minutes", "occupancy_pct"};
    h->table_begin(r, "TABLE", 11, cols);
    for (int i = 0; i < n; i++) {
        room rm;
        if (rooms_room_get(s, ids[i], &rm) != 0)
            continue;
        int64_t seats = seat_count(s, rm.id);
        char day[11];
        rooms_copy(day, sizeof day, from);
        for (int64_t d = 0; d < days; d++, next_day(s, day)) {
            int weekday = 0;
            rooms_parse_day(day, &weekday);
            bool open = strchr(rm.days, '0' + weekday) != NULL;
            int64_t span = rm.close_min - rm.open_min;
            int64_t slots = open ? span / rm.slot_min : 0;
            int64_t booked = 0, used = 0, noshow = 0, cancelled = 0, sessions = 0, minutes = 0;
            st = STMT("SELECT coalesce(sum(status IN ('booked', 'checked_in', 'completed')), 0),"
                      " coalesce(sum(status IN ('checked_in', 'completed')), 0),"
                      " coalesce(sum(status = 'no_show'), 0),"
                      " coalesce(sum(status = 'cancelled'), 0)"
                      " FROM rooms_bookings WHERE room = ? AND day = ?");
            if (st != NULL) {
                sqlite3_bind_text(st, 1, rm.id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW) {
                    booked = sqlite3_column_int64(st, 0);
                    used = sqlite3_column_int64(st, 1);
                    noshow = sqlite3_column_int64(st, 2);
                    cancelled = sqlite3_column_int64(st, 3);
                }
                sqlite3_reset(st);
            }
            st = STMT("SELECT count(*), coalesce(sum(minutes), 0) FROM rooms_sessions"
                      " WHERE room = ? AND day = ? AND status <> 'active'");
            if (st != NULL) {
                sqlite3_bind_text(st, 1, rm.id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW) {
                    sessions = sqlite3_column_int64(st, 0);
                    minutes = sqlite3_column_int64(st, 1);
                }
                sqlite3_reset(st);
            }
            int64_t pct = 0;
            if (strcmp(rm.kind, "computer") == 0)
                pct = open && seats > 0 ? minutes * 100 / (seats * span) : 0;
            else
                pct = slots > 0 ? booked * 100 / slots : 0;
            h->table_row(r);
            h->table_str(r, rm.id);
            h->table_str(r, day);
            h->table_str(r, rm.kind);
            h->table_int(r, slots);
            h->table_int(r, booked);
            h->table_int(r, used);
            h->table_int(r, noshow);
            h->table_int(r, cancelled);
            h->table_int(r, sessions);
            h->table_int(r, minutes);
            h->table_int(r, pct);
        }
    }
    h->table_send(r);
}

static void a_revenue(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    char from[11], to[11];
    int64_t days = 0;
    if (!report_range(s, r, from, to, &days))
        return;
    const char *only = h->opt(r, "room");
    sqlite3_stmt *st = STMT(
        "SELECT room, day, coalesce(sum(CASE WHEN kind IN ('booking', 'fee') THEN amount END), 0),"
        " coalesce(sum(CASE WHEN kind IN ('refund', 'deposit_back') THEN -amount END), 0),"
        " coalesce(sum(CASE WHEN kind = 'seat' THEN amount END), 0), sum(amount)"
        " FROM rooms_moves WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR room = ?3)"
        " GROUP BY room, day ORDER BY room, day");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the revenue");
        return;
    }
    sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
    if (only)
        sqlite3_bind_text(st, 3, only, -1, SQLITE_TRANSIENT);
    static const char *const cols[] = {"room",      "day",     "bookings_fen", "refunds_fen",
                                       "seats_fen", "net_fen", "net"};
    h->table_begin(r, "TABLE", 7, cols);
    int64_t tot[4] = {0, 0, 0, 0};
    while (sqlite3_step(st) == SQLITE_ROW) {
        char c[32];
        h->table_row(r);
        h->table_str(r, col(st, 0));
        h->table_str(r, col(st, 1));
        for (int i = 0; i < 4; i++) {
            int64_t v = sqlite3_column_int64(st, 2 + i);
            tot[i] += v;
            h->table_int(r, v);
        }
        rooms_fmt_cny(sqlite3_column_int64(st, 5), c);
        h->table_str(r, c);
    }
    sqlite3_reset(st);
    char c[32];
    rooms_fmt_cny(tot[3], c);
    h->table_row(r);
    h->table_str(r, "total");
    h->table_str(r, "");
    for (int i = 0; i < 4; i++)
        h->table_int(r, tot[i]);
    h->table_str(r, c);
    h->table_send(r);
}

int rooms_admin_init(rooms *s)
{
    const ykt_host *h = s->host;
    ykt_plugin *p = s->self;
    const unsigned admin = YKT_PLUGIN_ROLE_DEPT_ADMIN;
    int rc = h->admin_register(
        p, "rooms", "add", admin, 1, "name=! kind=! " ROOM_OPTS, 1, 1, a_add, s,
        "rooms add ID --name N --kind venue|lab|computer [--capacity N] [--open HH:MM] "
        "[--close HH:MM] [--days 1234567] [--slot MIN] [--fee CNY] [--deposit CNY] "
        "[--merchant M] [--departments A,B] [--kinds student,staff] [--card-types regular] "
        "[--list-only yes|no] [--cancel-before MIN] [--refund-before MIN] [--grace MIN] "
        "[--room-type public|lab|multimedia] [--department D] [--status open|closed]",
        "Register a bookable room or a computer room.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "update", admin, 1, ROOM_OPTS, 1, 1, a_update, s,
                               "rooms update ID [the options of rooms add]",
                               "Change a room; bookings made before keep their terms.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "list", READERS | YKT_PLUGIN_ROLE_PORTAL, 0, "kind=", 0,
                               0, a_list, s, "rooms list [--kind K]", "The rooms.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "show", READERS, 0, "", 1, 1, a_show, s, "rooms show ID",
                               "One room.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "allow", admin, 1, "", 2, 2, a_allow, s,
                               "rooms allow ID PERSON_NO", "Put a person on a room's list.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "disallow", admin, 1, "", 2, 2, a_disallow, s,
                               "rooms disallow ID PERSON_NO", "Take a person off a room's list.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "seat", admin, 1, "room=! label=", 1, 1, a_seat, s,
                               "rooms seat TERMINAL --room ROOM [--label L]",
                               "Make a pos terminal a seat of a computer room.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "unseat", admin, 1, "", 1, 1, a_unseat, s,
                               "rooms unseat TERMINAL", "Remove a seat.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "seats", READERS, 0, "room=", 0, 0, a_seats, s,
                               "rooms seats [--room ROOM]", "Seats and their sessions.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "book", BOOKERS | YKT_PLUGIN_ROLE_PORTAL, 1,
                               "person=! party=", 3, 3, a_book, s,
                               "rooms book ROOM DATE HH:MM --person NO [--party N]",
                               "Book a slot on a holder's behalf (fee due at check-in).");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "cancel", BOOKERS, 1, "reason=", 1, 1, a_cancel, s,
                               "rooms cancel BOOKING [--reason TEXT]",
                               "Cancel a booking; what was paid is owed back in full.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "bookings", READERS | YKT_PLUGIN_ROLE_PORTAL, 0,
                               "room= date= person= status= limit=", 0, 0, a_bookings, s,
                               "rooms bookings [--room R] [--date D] [--person NO] [--status S] "
                               "[--limit N]",
                               "Bookings, newest first.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "sessions", READERS, 0, "room= date= active", 0, 0,
                               a_sessions, s, "rooms sessions [--room R] [--date D] [--active]",
                               "Computer-room seat sessions, newest first.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "owed", READERS, 0, "person= unpaid", 0, 0, a_owed, s,
                               "rooms owed [--person NO] [--unpaid]",
                               "Refunds owed from office cancellations.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "occupancy", REPORTERS, 0, "from=! to= room=", 0, 0,
                               a_occupancy, s, "rooms occupancy --from DATE [--to DATE] [--room R]",
                               "Occupancy per room and day.");
    if (rc == 0)
        rc = h->admin_register(p, "rooms", "revenue", REPORTERS, 0, "from=! to= room=", 0, 0,
                               a_revenue, s, "rooms revenue --from DATE [--to DATE] [--room R]",
                               "Revenue per room and day.");
    return rc;
}
