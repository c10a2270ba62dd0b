/*
 * access: the administrators' commands (`yktctl access ...`): doors and door groups, access
 * groups with their windows, grants and members, the holiday calendar, the dormitories'
 * residents, the decision log, visitors, vehicles, anti-passback resets and the white list.
 * Every command that changes something is audited; an error reply undoes it.
 */
#include "access.h"

#include <ykt/plugin_util.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_ADMIN (YKT_PLUGIN_ROLE_DEPT_ADMIN)
#define ROLE_DESK  (YKT_PLUGIN_ROLE_OPERATOR | YKT_PLUGIN_ROLE_DEPT_ADMIN)
#define ROLE_VIEW  (YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_AUDITOR)

static const char *const kinds[] = {"campus_gate", "teaching", "dormitory",
                                    "lab",         "parking",  "building"};

static void copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* Replies a table of the statement's rows, every column as text, and resets it. */
static void send_text_rows(const ykt_host *h, ykt_request *r, sqlite3_stmt *st, int ncols,
                           const char *const *cols)
{
    h->table_begin(r, "TABLE", ncols, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        for (int i = 0; i < ncols; i++)
            h->table_str(r, col(st, i));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    h->table_send(r);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Names: letters, digits, '-', '_', '.', at most ACC_ID_MAX - 1 bytes. */
static bool ident_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ACC_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static bool check_ident(acc_state *s, ykt_request *r, const char *what, const char *v)
{
    if (ident_ok(v))
        return true;
    s->h->reply_error(r, "BAD_REQUEST", "%s must be 1 to %d letters, digits, '-', '_' or '.'", what,
                      ACC_ID_MAX - 1);
    return false;
}

/* [plugin.access] department: only that department's business administrators manage doors
 * (R-D); the superuser and other roles the command admits are not restricted. */
static bool may_manage(acc_state *s, ykt_request *r)
{
    unsigned role = 0;
    const char *dept = NULL;
    if (s->department[0] == '\0' || s->h->operator_info(r, &role, &dept) != YKT_PLUGIN_OK ||
        role != YKT_PLUGIN_ROLE_DEPT_ADMIN || (dept != NULL && strcmp(dept, s->department) == 0))
        return true;
    s->h->reply_error(r, "FORBIDDEN", "access control is run by department %s, not %s",
                      s->department, dept ? dept : "");
    return false;
}

static bool step_done(acc_state *s, ykt_request *r, sqlite3_stmt *st)
{
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    if (st)
        sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return true;
    s->h->reply_error(r, "STORAGE_ERROR", "the database refused the change");
    return false;
}

/* Ends a successful change: audit, caches, reply. */
static void changed(acc_state *s, ykt_request *r, const char *action, const char *target,
                    const char *detail)
{
    if (s->h->audit(r, action, target, detail) != YKT_PLUGIN_OK) {
        s->h->reply_error(r, "STORAGE_ERROR", "cannot write the audit trail");
        return;
    }
    if (acc_reload(s) != YKT_PLUGIN_OK) {
        s->h->reply_error(r, "STORAGE_ERROR", "cannot reload the access configuration");
        return;
    }
    s->h->reply_ok(r);
}

static bool refresh(acc_state *s, ykt_request *r, const char *door_group, const char *person)
{
    if (acc_wl_refresh(s, door_group, person) == YKT_PLUGIN_OK)
        return true;
    s->h->reply_error(r, "STORAGE_ERROR", "cannot update the white list");
    return false;
}

/* The white list of every door group a group opens. */
static bool refresh_group(acc_state *s, ykt_request *r, const char *grp)
{
    sqlite3_stmt *st = acc_db(s, "SELECT door_group FROM access_grants WHERE grp = ?");
    if (st == NULL)
        return refresh(s, r, NULL, NULL);
    char(*dgs)[ACC_ID_MAX] = NULL;
    int n = 0;
    sqlite3_bind_text(st, 1, grp, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        void *p = realloc(dgs, (size_t)(n + 1) * sizeof *dgs);
        if (p == NULL)
            break;
        dgs = p;
        copy(dgs[n++], ACC_ID_MAX, col(st, 0));
    }
    sqlite3_reset(st);
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        ok = refresh(s, r, dgs[i], NULL);
    free(dgs);
    return ok;
}

static bool exists(acc_state *s, sqlite3_stmt *st, const char *a, const char *b)
{
    (void)s;
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b != NULL)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

static bool yes_no(acc_state *s, ykt_request *r, const char *name, int *out)
{
    const char *v = s->h->opt(r, name);
    if (v == NULL)
        return true;
    if (strcmp(v, "yes") == 0 || strcmp(v, "") == 0)
        *out = 1;
    else if (strcmp(v, "no") == 0)
        *out = 0;
    else {
        s->h->reply_error(r, "BAD_REQUEST", "--%s is yes or no", name);
        return false;
    }
    return true;
}

static bool hours_range(const char *v, int *from, int *to)
{
    char a[8], b[8];
    const char *dash = strchr(v, '-');
    if (dash == NULL || dash - v != 5 || strlen(dash + 1) != 5)
        return false;
    memcpy(a, v, 5);
    a[5] = '\0';
    copy(b, sizeof b, dash + 1);
    return acc_parse_hhmm(a, from) && acc_parse_hhmm(b, to) && *from < *to;
}

static const char *person_or_null(acc_state *s, ykt_request *r, const char *person,
                                  ykt_card_info *c)
{
    if (s->h->person_card(person, c) == YKT_PLUGIN_OK)
        return c->person_no;
    s->h->reply_error(r, "UNKNOWN_PERSON", "no person %s with a live card", person);
    return NULL;
}

/* ---- door groups ---- */

static void doorgroup_save(acc_state *s, ykt_request *r, bool add)
{
    const ykt_host *h = s->h;
    const char *name = h->arg(r, 0, NULL);
    if (!may_manage(s, r) || !check_ident(s, r, "a door group name", name))
        return;
    const acc_door_group *old = acc_door_group_by_name(s, name);
    if (add && old != NULL) {
        h->reply_error(r, "EXISTS", "door group %s exists", name);
        return;
    }
    if (!add && old == NULL) {
        h->reply_error(r, "NOT_FOUND", "no door group %s", name);
        return;
    }
    int ap = old ? old->anti_passback : 0, pub = old ? old->public_ : 0;
    int from = old ? old->resident_from : 0, to = old ? old->resident_to : ACC_DAY_MINUTES;
    if (!yes_no(s, r, "anti-passback", &ap) || !yes_no(s, r, "public", &pub))
        return;
    const char *hours = h->opt(r, "resident-hours");
    if (hours != NULL && !hours_range(hours, &from, &to)) {
        h->reply_error(r, "BAD_REQUEST", "--resident-hours is HH:MM-HH:MM, e.g. 06:00-23:30");
        return;
    }
    sqlite3_stmt *st =
        acc_db(s, "INSERT INTO access_door_groups (name, anti_passback, public, resident_from, "
                  "resident_to, note) VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, '')) ON CONFLICT "
                  "DO UPDATE SET anti_passback = ?2, public = ?3, resident_from = ?4, resident_to "
                  "= ?5, note = coalesce(?6, note)");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, ap);
    sqlite3_bind_int(st, 3, pub);
    sqlite3_bind_int(st, 4, from);
    sqlite3_bind_int(st, 5, to);
    bind_text(st, 6, h->opt(r, "note"));
    if (!step_done(s, r, st) || !refresh(s, r, name, NULL))
        return;
    char detail[96];
    snprintf(detail, sizeof detail, "anti_passback=%d public=%d resident_hours=%02d:%02d-%02d:%02d",
             ap, pub, from / 60, from % 60, to / 60, to % 60);
    changed(s, r, add ? "access.doorgroup-add" : "access.doorgroup-set", name, detail);
}

static void a_doorgroup_add(ykt_request *r, void *ud)
{
    doorgroup_save(ud, r, true);
}

static void a_doorgroup_set(ykt_request *r, void *ud)
{
    doorgroup_save(ud, r, false);
}

static void a_doorgroup_remove(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *name = h->arg(r, 0, NULL);
    if (!may_manage(s, r))
        return;
    if (acc_door_group_by_name(s, name) == NULL) {
        h->reply_error(r, "NOT_FOUND", "no door group %s", name);
        return;
    }
    if (exists(s, acc_db(s, "SELECT 1 FROM access_doors WHERE door_group = ?"), name, NULL) ||
        exists(s, acc_db(s, "SELECT 1 FROM access_grants WHERE door_group = ?"), name, NULL)) {
        h->reply_error(r, "IN_USE", "door group %s still has doors or grants", name);
        return;
    }
    sqlite3_stmt *st = acc_db(s, "DELETE FROM access_door_groups WHERE name = ?");
    if (st)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (!step_done(s, r, st) || !refresh(s, r, name, NULL))
        return;
    changed(s, r, "access.doorgroup-remove", name, "");
}

static void a_doorgroups(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    sqlite3_stmt *st =
        acc_db(s, "SELECT g.name, g.anti_passback, g.public, g.resident_from, g.resident_to, "
                  "(SELECT count(*) FROM access_doors d WHERE d.door_group = g.name), "
                  "(SELECT group_concat(grp, ',') FROM access_grants a WHERE a.door_group = "
                  "g.name), g.note FROM access_door_groups g ORDER BY g.name");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    static const char *const cols[] = {"door_group", "anti_passback", "public", "resident_hours",
                                       "doors",      "groups",        "note"};
    h->table_begin(r, "TABLE", 7, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int from = sqlite3_column_int(st, 3), to = sqlite3_column_int(st, 4);
        char hours[48];
        snprintf(hours, sizeof hours, "%02d:%02d-%02d:%02d", from / 60, from % 60, to / 60,
                 to % 60);
        h->table_row(r);
        h->table_str(r, col(st, 0));
        h->table_str(r, sqlite3_column_int(st, 1) ? "yes" : "no");
        h->table_str(r, sqlite3_column_int(st, 2) ? "yes" : "no");
        h->table_str(r, hours);
        h->table_int(r, sqlite3_column_int64(st, 5));
        h->table_str(r, col(st, 6));
        h->table_str(r, col(st, 7));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* ---- doors ---- */

static void a_door_add(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *id = h->arg(r, 0, NULL);
    const char *terminal = h->opt(r, "terminal"), *kind = h->opt(r, "kind");
    const char *building = h->opt(r, "building"), *dir = h->opt(r, "direction");
    const char *dg = h->opt(r, "group"), *place = h->opt(r, "place");
    if (!may_manage(s, r) || !check_ident(s, r, "a door id", id) ||
        !check_ident(s, r, "--terminal", terminal) ||
        (place && !check_ident(s, r, "--place", place)) ||
        (building && !check_ident(s, r, "--building", building)))
        return;
    bool kind_ok = false;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        kind_ok |= strcmp(kind, kinds[i]) == 0;
    if (!kind_ok) {
        h->reply_error(r, "BAD_REQUEST",
                       "--kind is campus_gate, teaching, dormitory, lab, "
                       "parking or building");
        return;
    }
    if (dir == NULL)
        dir = "in";
    if (strcmp(dir, "in") != 0 && strcmp(dir, "out") != 0 && strcmp(dir, "both") != 0) {
        h->reply_error(r, "BAD_REQUEST", "--direction is in, out or both");
        return;
    }
    if (strcmp(kind, "dormitory") == 0 && (building == NULL || building[0] == '\0')) {
        h->reply_error(r, "BAD_REQUEST", "a dormitory door needs --building");
        return;
    }
    if (acc_door_group_by_name(s, dg) == NULL) {
        h->reply_error(r, "NOT_FOUND", "no door group %s (access doorgroup-add)", dg);
        return;
    }
    /* A door on a mistyped id, or on a terminal that may not send ACCESS.OPEN, would simply
     * never open: refuse it now. */
    ykt_terminal_info t;
    if (h->terminal_get(terminal, &t) != YKT_PLUGIN_OK) {
        h->reply_error(r, "UNKNOWN_TERMINAL",
                       "no terminal %s is registered (yktctl terminal add %s --type gate)",
                       terminal, terminal);
        return;
    }
    if (t.type != YKT_TERM_GATE) {
        h->reply_error(r, "WRONG_TERMINAL_TYPE",
                       "terminal %s is a %s terminal, not a gate: only gates send ACCESS.OPEN",
                       terminal, ykt_pu_terminal_type(t.type));
        return;
    }
    if (acc_door_by_id(s, id) != NULL ||
        exists(s, acc_db(s, "SELECT 1 FROM access_doors WHERE terminal = ?"), terminal, NULL)) {
        h->reply_error(r, "EXISTS", "door %s or a door at terminal %s exists", id, terminal);
        return;
    }
    sqlite3_stmt *st = acc_db(s, "INSERT INTO access_doors (id, terminal, place, kind, "
                                 "building, direction, door_group) VALUES (?, ?, ?, ?, "
                                 "?, ?, ?)");
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, terminal, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, place ? place : id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, building ? building : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, dir, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, dg, -1, SQLITE_STATIC);
    }
    if (!step_done(s, r, st) || !refresh(s, r, dg, NULL))
        return;
    char detail[200];
    snprintf(detail, sizeof detail, "terminal=%s kind=%s building=%s direction=%s group=%s",
             terminal, kind, building ? building : "", dir, dg);
    changed(s, r, "access.door-add", id, detail);
}

static void a_door_remove(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *id = h->arg(r, 0, NULL);
    if (!may_manage(s, r))
        return;
    const acc_door *d = acc_door_by_id(s, id);
    if (d == NULL) {
        h->reply_error(r, "NOT_FOUND", "no door %s", id);
        return;
    }
    char dg[ACC_ID_MAX];
    copy(dg, sizeof dg, s->door_groups[d->dg].name);
    sqlite3_stmt *st = acc_db(s, "DELETE FROM access_doors WHERE id = ?");
    if (st)
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (!step_done(s, r, st) || !refresh(s, r, dg, NULL))
        return;
    changed(s, r, "access.door-remove", id, "");
}

static void a_doors(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    sqlite3_stmt *st = acc_db(s, "SELECT id, terminal, place, kind, building, "
                                 "direction, door_group FROM access_doors WHERE (?1 IS "
                                 "NULL OR door_group = ?1) ORDER BY id");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    bind_text(st, 1, h->opt(r, "group"));
    static const char *const cols[] = {"door",     "terminal",  "place",     "kind",
                                       "building", "direction", "door_group"};
    send_text_rows(h, r, st, 7, cols);
}

/* ---- access groups, grants, windows ---- */

static bool group_exists(acc_state *s, const char *name)
{
    return exists(s, acc_db(s, "SELECT 1 FROM access_groups WHERE name = ?"), name, NULL);
}

static bool need_group(acc_state *s, ykt_request *r, const char *name)
{
    if (group_exists(s, name))
        return true;
    s->h->reply_error(r, "NOT_FOUND", "no access group %s", name);
    return false;
}

static void a_group_add(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *name = h->arg(r, 0, NULL);
    if (!may_manage(s, r) || !check_ident(s, r, "a group name", name))
        return;
    if (group_exists(s, name)) {
        h->reply_error(r, "EXISTS", "access group %s exists", name);
        return;
    }
    sqlite3_stmt *st =
        acc_db(s, "INSERT INTO access_groups (name, note) VALUES (?, coalesce(?, ''))");
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        bind_text(st, 2, h->opt(r, "note"));
    }
    if (step_done(s, r, st))
        changed(s, r, "access.group-add", name, "");
}

static void a_group_remove(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *name = h->arg(r, 0, NULL);
    if (!may_manage(s, r) || !need_group(s, r, name))
        return;
    /* The door groups it opened lose its members: collect them before the grants go. */
    static const char *const dels[] = {
        "DELETE FROM access_windows WHERE grp = ?", "DELETE FROM access_members WHERE grp = ?",
        "DELETE FROM access_grants WHERE grp = ?", "DELETE FROM access_groups WHERE name = ?"};
    sqlite3_stmt *st = acc_db(s, "SELECT door_group FROM access_grants WHERE grp = ?");
    char(*dgs)[ACC_ID_MAX] = NULL;
    int n = 0;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            void *p = realloc(dgs, (size_t)(n + 1) * sizeof *dgs);
            if (p == NULL)
                break;
            dgs = p;
            copy(dgs[n++], ACC_ID_MAX, col(st, 0));
        }
        sqlite3_reset(st);
    }
    bool ok = true;
    for (int i = 0; ok && i < 4; i++) {
        sqlite3_stmt *d = acc_db(s, dels[i]);
        if (d)
            sqlite3_bind_text(d, 1, name, -1, SQLITE_STATIC);
        ok = step_done(s, r, d);
    }
    for (int i = 0; ok && i < n; i++)
        ok = refresh(s, r, dgs[i], NULL);
    free(dgs);
    if (ok)
        changed(s, r, "access.group-remove", name, "");
}

static void a_groups(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    sqlite3_stmt *st =
        acc_db(s, "SELECT g.name, g.schedule, (SELECT group_concat(door_group, ',') FROM "
                  "access_grants a WHERE a.grp = g.name), (SELECT count(*) FROM access_members m "
                  "WHERE m.grp = g.name), (SELECT group_concat(id, ',') FROM access_windows w "
                  "WHERE w.grp = g.name), g.note FROM access_groups g ORDER BY g.name");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    static const char *const cols[] = {"group",   "windows",    "door_groups",
                                       "members", "window_ids", "note"};
    h->table_begin(r, "TABLE", 6, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, col(st, 0));
        h->table_str(r, col(st, 1));
        h->table_str(r, col(st, 2));
        h->table_int(r, sqlite3_column_int64(st, 3));
        h->table_str(r, col(st, 4));
        h->table_str(r, col(st, 5));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void grant_change(acc_state *s, ykt_request *r, bool grant)
{
    const ykt_host *h = s->h;
    const char *grp = h->arg(r, 0, NULL), *dg = h->arg(r, 1, NULL);
    if (!may_manage(s, r) || !need_group(s, r, grp))
        return;
    if (acc_door_group_by_name(s, dg) == NULL) {
        h->reply_error(r, "NOT_FOUND", "no door group %s", dg);
        return;
    }
    bool had = exists(s,
                      acc_db(s, "SELECT 1 FROM access_grants WHERE grp = ? AND "
                                "door_group = ?"),
                      grp, dg);
    if (had == grant) {
        h->reply_error(r, "BAD_STATE", "group %s %s door group %s", grp,
                       grant ? "already opens" : "does not open", dg);
        return;
    }
    sqlite3_stmt *st = grant ? acc_db(s, "INSERT INTO access_grants (grp, door_group) "
                                         "VALUES (?, ?)")
                             : acc_db(s, "DELETE FROM access_grants WHERE grp = ? AND "
                                         "door_group = ?");
    if (st) {
        sqlite3_bind_text(st, 1, grp, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, dg, -1, SQLITE_STATIC);
    }
    if (!step_done(s, r, st) || !refresh(s, r, dg, NULL))
        return;
    changed(s, r, grant ? "access.grant" : "access.ungrant", grp, dg);
}

static void a_grant(ykt_request *r, void *ud)
{
    grant_change(ud, r, true);
}

static void a_ungrant(ykt_request *r, void *ud)
{
    grant_change(ud, r, false);
}

/* access_groups.schedule: the group's windows in the white list's notation. */
static bool schedule_update(acc_state *s, ykt_request *r, const char *grp)
{
    sqlite3_stmt *st = acc_db(s, "SELECT days, from_min, to_min FROM access_windows "
                                 "WHERE grp = ? ORDER BY id");
    char sched[512] = "";
    size_t n = 0;
    if (st == NULL)
        return step_done(s, r, NULL);
    sqlite3_bind_text(st, 1, grp, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW && n + 24 < sizeof sched) {
        char days[10];
        int from = sqlite3_column_int(st, 1), to = sqlite3_column_int(st, 2);
        acc_days_text((unsigned)sqlite3_column_int(st, 0), days, sizeof days);
        n += (size_t)snprintf(sched + n, sizeof sched - n, "%s%s %02d:%02d-%02d:%02d", n ? ";" : "",
                              days, from / 60, from % 60, to / 60, to % 60);
    }
    sqlite3_reset(st);
    st = acc_db(s, "UPDATE access_groups SET schedule = ? WHERE name = ?");
    if (st) {
        sqlite3_bind_text(st, 1, sched, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, grp, -1, SQLITE_STATIC);
    }
    return step_done(s, r, st) && refresh_group(s, r, grp);
}

static void a_window_add(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *grp = h->arg(r, 0, NULL);
    if (!may_manage(s, r) || !need_group(s, r, grp))
        return;
    unsigned days = acc_parse_days(h->opt(r, "days"));
    int from, to;
    if (days == 0) {
        h->reply_error(r, "BAD_REQUEST", "--days is e.g. mon-fri, sat,sun, daily, hol or all");
        return;
    }
    if (!acc_parse_hhmm(h->opt(r, "from"), &from) || !acc_parse_hhmm(h->opt(r, "to"), &to) ||
        from >= to) {
        h->reply_error(r, "BAD_REQUEST",
                       "--from and --to are HH:MM within a day, from before "
                       "to (24:00 ends the day)");
        return;
    }
    sqlite3_stmt *st = acc_db(s, "INSERT INTO access_windows (grp, days, from_min, "
                                 "to_min) VALUES (?, ?, ?, ?) RETURNING id");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_text(st, 1, grp, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)days);
    sqlite3_bind_int(st, 3, from);
    sqlite3_bind_int(st, 4, to);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (id == 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot add the window");
        return;
    }
    if (!schedule_update(s, r, grp))
        return;
    char detail[64], idtxt[24], dtext[10];
    acc_days_text(days, dtext, sizeof dtext);
    snprintf(detail, sizeof detail, "window %lld: %s %s-%s", (long long)id, dtext,
             h->opt(r, "from"), h->opt(r, "to"));
    snprintf(idtxt, sizeof idtxt, "%lld", (long long)id);
    if (h->audit(r, "access.window-add", grp, detail) != YKT_PLUGIN_OK ||
        acc_reload(s) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the window");
        return;
    }
    h->reply_int(r, id);
}

static void a_window_remove(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *id = h->arg(r, 0, NULL);
    if (!may_manage(s, r))
        return;
    sqlite3_stmt *st = acc_db(s, "DELETE FROM access_windows WHERE id = ? RETURNING grp");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_int64(st, 1, strtoll(id, NULL, 10));
    char grp[ACC_ID_MAX] = "";
    if (sqlite3_step(st) == SQLITE_ROW)
        copy(grp, sizeof grp, col(st, 0));
    sqlite3_reset(st);
    if (grp[0] == '\0') {
        h->reply_error(r, "NOT_FOUND", "no window %s", id);
        return;
    }
    if (schedule_update(s, r, grp))
        changed(s, r, "access.window-remove", grp, id);
}

/* ---- members ---- */

static bool member_put(acc_state *s, ykt_request *r, const char *grp, const char *person)
{
    sqlite3_stmt *st = acc_db(s, "INSERT INTO access_members (person_no, grp, "
                                 "added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    if (st) {
        sqlite3_bind_text(st, 1, person, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, grp, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, s->h->now_ms());
    }
    return step_done(s, r, st);
}

static void a_member_add(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *grp = h->arg(r, 0, NULL);
    if (!may_manage(s, r) || !need_group(s, r, grp))
        return;
    char detail[400] = "";
    size_t n = 0;
    for (int i = 1; i < h->argc(r); i++) {
        char person[ACC_ID_MAX];
        ykt_card_info c;
        copy(person, sizeof person, h->arg(r, i, NULL));
        if (person_or_null(s, r, person, &c) == NULL || !member_put(s, r, grp, person) ||
            !refresh(s, r, NULL, person))
            return;
        if (n + strlen(person) + 2 < sizeof detail)
            n += (size_t)snprintf(detail + n, sizeof detail - n, "%s%s", n ? " " : "", person);
    }
    changed(s, r, "access.member-add", grp, detail);
}

static void a_member_remove(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *grp = h->arg(r, 0, NULL), *person = h->arg(r, 1, NULL);
    if (!may_manage(s, r) || !need_group(s, r, grp))
        return;
    sqlite3_stmt *st = acc_db(s, "DELETE FROM access_members WHERE grp = ? AND "
                                 "person_no = ? RETURNING 1");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_text(st, 1, grp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, person, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (!found) {
        h->reply_error(r, "NOT_FOUND", "%s is not a member of %s", person, grp);
        return;
    }
    if (refresh(s, r, NULL, person))
        changed(s, r, "access.member-remove", grp, person);
}

static void a_members(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *grp = h->opt(r, "group"), *person = h->opt(r, "person");
    sqlite3_stmt *st = acc_db(s, "SELECT grp, person_no, added_at FROM access_members "
                                 "WHERE (?1 IS NULL OR grp = ?1) AND (?2 IS NULL OR "
                                 "person_no = ?2) ORDER BY grp, person_no");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    bind_text(st, 1, grp);
    bind_text(st, 2, person);
    static const char *const cols[] = {"group", "person_no", "added"};
    h->table_begin(r, "TABLE", 3, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char t[20];
        acc_format_time(s, sqlite3_column_int64(st, 2), t);
        h->table_row(r);
        h->table_str(r, col(st, 0));
        h->table_str(r, col(st, 1));
        h->table_str(r, t);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    h->table_send(r);
}

/* ---- CSV imports (members, residents): all rows or none ---- */

typedef struct csv_row {
    int line;
    char f[3][ACC_ID_MAX];
    int nf;
} csv_row;

/* Splits text into rows of up to 3 trimmed fields; skips blank lines and a header whose first
 * field is "person_no". Returns the rows (free them) or NULL after replying. */
static csv_row *csv_parse(acc_state *s, ykt_request *r, const char *text, int want, int *nrows)
{
    csv_row *rows = NULL;
    int n = 0, cap = 0, line = 0;
    char bad[600] = "";
    size_t bl = 0;
    int nbad = 0;
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        line++;
        char buf[512];
        if (len >= sizeof buf)
            len = sizeof buf - 1;
        memcpy(buf, p, len);
        buf[len] = '\0';
        p = end ? end + 1 : NULL;
        if (line == 1 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
            (unsigned char)buf[2] == 0xBF)
            memmove(buf, buf + 3, strlen(buf + 3) + 1); /* UTF-8 BOM */
        csv_row row = {.line = line};
        char *q = buf;
        bool blank = true;
        while (q != NULL && row.nf < 3) {
            char *comma = strchr(q, ',');
            if (comma)
                *comma = '\0';
            while (*q == ' ' || *q == '\t')
                q++;
            size_t l = strlen(q);
            while (l > 0 && (q[l - 1] == ' ' || q[l - 1] == '\t' || q[l - 1] == '\r'))
                q[--l] = '\0';
            if (l > 0)
                blank = false;
            copy(row.f[row.nf++], ACC_ID_MAX, q);
            q = comma ? comma + 1 : NULL;
        }
        if (blank || (line == 1 && strcmp(row.f[0], "person_no") == 0))
            continue;
        const char *why = NULL;
        if (!ident_ok(row.f[0]))
            why = "bad person number";
        else if (want >= 2 && (row.nf < 2 || !ident_ok(row.f[1])))
            why = "bad building";
        else if (q != NULL || row.nf > want)
            why = "too many fields";
        else if (want >= 3 && row.nf > 2 && strlen(row.f[2]) > ACC_ROOM_MAX)
            why = "room too long";
        ykt_card_info c;
        if (why == NULL && s->h->person_card(row.f[0], &c) != YKT_PLUGIN_OK)
            why = "no such person with a live card";
        if (why != NULL) {
            if (nbad++ < 10 && bl + 80 < sizeof bad)
                bl += (size_t)snprintf(bad + bl, sizeof bad - bl, "%sline %d: %s", bl ? "; " : "",
                                       line, why);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            csv_row *nr = realloc(rows, (size_t)cap * sizeof *nr);
            if (nr == NULL) {
                free(rows);
                s->h->reply_error(r, "INTERNAL", "out of memory");
                return NULL;
            }
            rows = nr;
        }
        rows[n++] = row;
    }
    if (nbad > 0) {
        free(rows);
        s->h->reply_error(r, "REJECTED", "%d bad rows, nothing imported: %s%s", nbad, bad,
                          nbad > 10 ? "; ..." : "");
        return NULL;
    }
    if (n == 0) {
        free(rows);
        s->h->reply_error(r, "REJECTED", "no rows");
        return NULL;
    }
    *nrows = n;
    return rows;
}

static void a_member_import(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *grp = h->opt(r, "group");
    if (!may_manage(s, r) || !need_group(s, r, grp))
        return;
    int n = 0;
    csv_row *rows = csv_parse(s, r, h->arg(r, 0, NULL), 1, &n);
    if (rows == NULL)
        return;
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        ok = member_put(s, r, grp, rows[i].f[0]);
    free(rows);
    if (!ok || !refresh_group(s, r, grp))
        return;
    char detail[48];
    snprintf(detail, sizeof detail, "%d rows", n);
    if (h->audit(r, "access.member-import", grp, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot write the audit trail");
        return;
    }
    h->reply_int(r, n);
}

/* ---- holidays ---- */

static void a_holiday_add(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *day = h->arg(r, 0, NULL);
    int64_t start;
    if (!may_manage(s, r))
        return;
    if (acc_day_start(s, day, &start) != YKT_PLUGIN_OK) {
        h->reply_error(r, "BAD_REQUEST", "a holiday is a date YYYY-MM-DD");
        return;
    }
    sqlite3_stmt *st = acc_db(s, "INSERT INTO access_holidays (day, name) VALUES (?, "
                                 "coalesce(?, '')) ON CONFLICT DO UPDATE SET name = "
                                 "excluded.name");
    if (st) {
        sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
        bind_text(st, 2, h->opt(r, "name"));
    }
    if (step_done(s, r, st))
        changed(s, r, "access.holiday-add", day, h->opt(r, "name"));
}

static void a_holiday_remove(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *day = h->arg(r, 0, NULL);
    if (!may_manage(s, r))
        return;
    sqlite3_stmt *st = acc_db(s, "DELETE FROM access_holidays WHERE day = ? RETURNING 1");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (!found) {
        h->reply_error(r, "NOT_FOUND", "%s is not a holiday", day);
        return;
    }
    changed(s, r, "access.holiday-remove", day, "");
}

static void a_holidays(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    sqlite3_stmt *st = acc_db(s, "SELECT day, name FROM access_holidays ORDER BY day");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    static const char *const cols[] = {"day", "name"};
    h->table_begin(r, "TABLE", 2, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, col(st, 0));
        h->table_str(r, col(st, 1));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* ---- residents ---- */

static bool resident_put(acc_state *s, ykt_request *r, const char *person, const char *building,
                         const char *room)
{
    if (room != NULL) {
        bool ok = strlen(room) <= ACC_ROOM_MAX;
        for (const unsigned char *c = (const unsigned char *)room; ok && *c; c++)
            ok = *c >= 0x20 && *c != 0x7f;
        if (!ok) {
            s->h->reply_error(r, "BAD_REQUEST", "a room is at most %d bytes of printable text (%s)",
                              ACC_ROOM_MAX, person);
            return false;
        }
    }
    sqlite3_stmt *st =
        acc_db(s, "INSERT INTO access_residents (person_no, building, room, added_at) VALUES (?1, "
                  "?2, ?3, ?4) ON CONFLICT DO UPDATE SET building = ?2, room = ?3, added_at = ?4");
    if (st) {
        sqlite3_bind_text(st, 1, person, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, building, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, room ? room : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, s->h->now_ms());
    }
    return step_done(s, r, st) && refresh(s, r, NULL, person);
}

static void a_resident_add(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    char person[ACC_ID_MAX];
    copy(person, sizeof person, h->arg(r, 0, NULL));
    const char *building = h->opt(r, "building"), *room = h->opt(r, "room");
    ykt_card_info c;
    if (!may_manage(s, r) || !check_ident(s, r, "--building", building) ||
        person_or_null(s, r, person, &c) == NULL || !resident_put(s, r, person, building, room))
        return;
    char detail[120];
    snprintf(detail, sizeof detail, "building=%s room=%s", building, room ? room : "");
    changed(s, r, "access.resident-add", person, detail);
}

static void a_resident_remove(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *person = h->arg(r, 0, NULL);
    if (!may_manage(s, r))
        return;
    sqlite3_stmt *st =
        acc_db(s, "DELETE FROM access_residents WHERE person_no = ? RETURNING building");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_text(st, 1, person, -1, SQLITE_STATIC);
    char building[ACC_ID_MAX] = "";
    if (sqlite3_step(st) == SQLITE_ROW)
        copy(building, sizeof building, col(st, 0));
    sqlite3_reset(st);
    if (building[0] == '\0') {
        h->reply_error(r, "NOT_FOUND", "%s is not a resident", person);
        return;
    }
    if (refresh(s, r, NULL, person))
        changed(s, r, "access.resident-remove", person, building);
}

static void a_residents(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    sqlite3_stmt *st = acc_db(s, "SELECT person_no, building, room FROM "
                                 "access_residents WHERE (?1 IS NULL OR building = ?1) "
                                 "ORDER BY building, room, person_no");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    bind_text(st, 1, h->opt(r, "building"));
    static const char *const cols[] = {"person_no", "building", "room"};
    send_text_rows(h, r, st, 3, cols);
}

static void a_resident_import(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    if (!may_manage(s, r))
        return;
    int n = 0;
    csv_row *rows = csv_parse(s, r, h->arg(r, 0, NULL), 3, &n);
    if (rows == NULL)
        return;
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        ok = resident_put(s, r, rows[i].f[0], rows[i].f[1], rows[i].nf > 2 ? rows[i].f[2] : "");
    free(rows);
    if (!ok)
        return;
    char detail[48];
    snprintf(detail, sizeof detail, "%d rows", n);
    if (h->audit(r, "access.resident-import", "residents", detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot write the audit trail");
        return;
    }
    h->reply_int(r, n);
}

/* A whole number of decimal digits only, from lo to hi: "12abc", "", "-1" and overflow are
 * refused rather than read as 12, 0 or a wrapped value. */
static bool whole_in(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (*s == '\0' || strlen(s) > 18)
        return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ---- the decision log ---- */

static void a_log(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *person = h->opt(r, "person"), *door = h->opt(r, "door");
    const char *card = h->opt(r, "card"), *plate_in = h->opt(r, "plate");
    const char *result = h->opt(r, "result"), *visitor = h->opt(r, "visitor");
    const char *from = h->opt(r, "from"), *to = h->opt(r, "to"), *lim = h->opt(r, "limit");
    int64_t from_ms = 0, to_ms = INT64_MAX, limit = 100;
    if ((from && acc_parse_time(s, from, false, &from_ms) != YKT_PLUGIN_OK) ||
        (to && acc_parse_time(s, to, true, &to_ms) != YKT_PLUGIN_OK)) {
        h->reply_error(r, "BAD_REQUEST", "--from and --to are YYYY-MM-DD [HH:MM]");
        return;
    }
    if (lim && !whole_in(lim, 1, 100000, &limit)) {
        h->reply_error(r, "BAD_REQUEST", "--limit is a whole number from 1 to 100000");
        return;
    }
    int64_t visitor_id = 0;
    if (visitor && !whole_in(visitor, 1, INT64_MAX, &visitor_id)) {
        h->reply_error(r, "BAD_REQUEST",
                       "--visitor is a visit's number, as `access visitors` lists it");
        return;
    }
    if (result && strcmp(result, "allow") != 0 && strcmp(result, "deny") != 0 &&
        strcmp(result, "refused") != 0) {
        h->reply_error(r, "BAD_REQUEST", "--result is allow, deny or refused");
        return;
    }
    char plate[ACC_ID_MAX];
    if (plate_in && !acc_plate_normalise(plate_in, plate, sizeof plate)) {
        h->reply_error(r, "BAD_PLATE", "not a licence plate: %s", plate_in);
        return;
    }
    /* A UID by the host's rule for the cards' UIDs (as ACCESS.OPEN gets them), logged in
     * upper case: what the rule refuses is in no row of the log. */
    const char *uid_in = h->opt(r, "uid");
    char uid[ACC_UID_MAX] = "";
    if (uid_in && !acc_uid_normalise(uid_in, uid)) {
        h->reply_error(r, "BAD_REQUEST",
                       "--uid must be 4 to 10 bytes in hex (an even number of 8 to 20 digits)");
        return;
    }
    /* What narrows most: the person's chain of decisions (schema version 4, walked from
     * the newest back; a link that would not lead back ends it, and so does a decision
     * more than a day before --from: times rise along a chain but for a step of the clock
     * or a denial logged a moment after a later allow), the door's chain (version 5, the
     * same way; a door has many decisions, so the walk also ends once it has found
     * --limit of them: the newest in the order they were logged), else the time's
     * index. */
    sqlite3_stmt *st;
    if (person)
        st = acc_db(s, "WITH RECURSIVE chain(lid) AS (SELECT last_id FROM access_log_heads "
                       "WHERE person_no = ?1 UNION ALL SELECT l.prev_id FROM chain JOIN "
                       "access_log l ON l.id = chain.lid WHERE l.prev_id < l.id AND "
                       "l.at_ms >= ?3 - 86400000) "
                       "SELECT id, at_ms, door, direction, person_no, card_no, "
                       "visitor_id, plate, result, code, reason, uid FROM chain JOIN access_log ON "
                       "access_log.id = chain.lid WHERE "
                       "person_no = ?1 AND (?2 IS NULL OR door = ?2) AND at_ms BETWEEN "
                       "?3 AND ?4 AND (?5 IS NULL OR card_no = ?5) AND (?6 IS NULL OR "
                       "plate = ?6) AND (?7 IS NULL OR result = ?7) AND (?8 IS NULL OR "
                       "visitor_id = ?8) AND (?10 IS NULL OR uid = ?10) ORDER BY at_ms DESC, "
                       "id DESC LIMIT ?9");
    else if (door)
        st = acc_db(s, "WITH RECURSIVE chain(lid, found) AS (SELECT last_id, 0 FROM "
                       "access_door_heads WHERE door = ?2 UNION ALL SELECT l.prev_door_id, "
                       "chain.found + coalesce(l.at_ms BETWEEN ?3 AND ?4 AND (?5 IS NULL OR "
                       "l.card_no = ?5) AND (?6 IS NULL OR l.plate = ?6) AND (?7 IS NULL OR "
                       "l.result = ?7) AND (?8 IS NULL OR l.visitor_id = ?8) AND (?10 IS NULL OR "
                       "l.uid = ?10), 0) FROM chain JOIN "
                       "access_log "
                       "l ON l.id = chain.lid WHERE l.prev_door_id < l.id AND l.at_ms >= ?3 "
                       "- 86400000 AND chain.found < ?9) "
                       "SELECT id, at_ms, door, direction, person_no, card_no, "
                       "visitor_id, plate, result, code, reason, uid FROM chain JOIN access_log ON "
                       "access_log.id = chain.lid WHERE (?1 IS NULL) AND door = ?2 AND at_ms "
                       "BETWEEN ?3 AND ?4 AND (?5 IS NULL OR card_no = ?5) AND (?6 IS NULL OR "
                       "plate = ?6) AND (?7 IS NULL OR result = ?7) AND (?8 IS NULL OR "
                       "visitor_id = ?8) AND (?10 IS NULL OR uid = ?10) ORDER BY at_ms DESC, "
                       "id DESC LIMIT ?9");
    else
        st = acc_db(s, "SELECT id, at_ms, door, direction, person_no, card_no, "
                       "visitor_id, plate, result, code, reason, uid FROM access_log WHERE "
                       "(?1 IS NULL) AND (?2 IS NULL) AND at_ms BETWEEN ?3 AND ?4 AND "
                       "(?5 IS NULL OR card_no = ?5) AND (?6 IS NULL OR plate = ?6) AND "
                       "(?7 IS NULL OR result = ?7) AND (?8 IS NULL OR visitor_id = ?8) "
                       "AND (?10 IS NULL OR uid = ?10) ORDER BY at_ms DESC, id DESC LIMIT ?9");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    bind_text(st, 1, person);
    bind_text(st, 2, door);
    sqlite3_bind_int64(st, 3, from_ms);
    sqlite3_bind_int64(st, 4, to_ms);
    bind_text(st, 5, card);
    bind_text(st, 6, plate_in ? plate : NULL);
    bind_text(st, 7, result);
    if (visitor)
        sqlite3_bind_int64(st, 8, visitor_id);
    sqlite3_bind_int64(st, 9, limit);
    bind_text(st, 10, uid_in ? uid : NULL);
    static const char *const cols[] = {"id",  "time",    "door",  "direction", "person", "card",
                                       "uid", "visitor", "plate", "result",    "code",   "reason"};
    h->table_begin(r, "TABLE", 12, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char t[20];
        acc_format_time(s, sqlite3_column_int64(st, 1), t);
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        h->table_str(r, t);
        h->table_str(r, col(st, 2));
        h->table_str(r, col(st, 3));
        h->table_str(r, col(st, 4));
        h->table_str(r, col(st, 5));
        h->table_str(r, col(st, 11));
        /* No visitor: an empty cell, as an empty card or plate (not the visitor id 0). */
        if (sqlite3_column_type(st, 6) == SQLITE_NULL)
            h->table_str(r, "");
        else
            h->table_int(r, sqlite3_column_int64(st, 6));
        h->table_str(r, col(st, 7));
        h->table_str(r, col(st, 8));
        h->table_str(r, col(st, 9));
        h->table_str(r, col(st, 10));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    h->table_send(r);
}

/* ---- visitors ---- */

static void a_visitor_add(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *name = h->opt(r, "name"), *idn = h->opt(r, "id-number");
    const char *host_no = h->opt(r, "host"), *purpose = h->opt(r, "purpose");
    const char *from = h->opt(r, "from"), *until = h->opt(r, "until");
    const char *card_no = h->opt(r, "card"), *plate_in = h->opt(r, "plate");
    const char *dg = h->opt(r, "door-group");
    const char *why = "";
    if (!may_manage(s, r))
        return;
    if (name[0] == '\0' || strlen(name) > 60 || purpose[0] == '\0' || strlen(purpose) > 200) {
        h->reply_error(r, "BAD_REQUEST",
                       "--name (at most 60 bytes) and --purpose (at most 200) "
                       "are required");
        return;
    }
    if (!h->id_number_valid(idn, &why)) {
        h->reply_error(r, "BAD_ID_NUMBER", "the visitor's ID number is not valid: %s", why);
        return;
    }
    ykt_card_info hc;
    if (person_or_null(s, r, host_no, &hc) == NULL)
        return;
    int64_t host_id = hc.person_id;
    char host_person[ACC_ID_MAX];
    copy(host_person, sizeof host_person, hc.person_no);
    int64_t now = h->now_ms(), from_ms = now, until_ms;
    if (from && acc_parse_time(s, from, false, &from_ms) != YKT_PLUGIN_OK) {
        h->reply_error(r, "BAD_REQUEST", "--from is YYYY-MM-DD HH:MM or HH:MM (campus time)");
        return;
    }
    if (until) {
        if (acc_parse_time(s, until, true, &until_ms) != YKT_PLUGIN_OK) {
            h->reply_error(r, "BAD_REQUEST", "--until is YYYY-MM-DD HH:MM or HH:MM (campus time)");
            return;
        }
    } else {
        char d[11];
        h->campus_date(from_ms, d);
        acc_parse_time(s, d, true, &until_ms); /* the end of the visit's day */
    }
    if (until_ms <= from_ms || until_ms <= now) {
        h->reply_error(r, "BAD_REQUEST", "the visit must end after it starts, and in the future");
        return;
    }
    char plate[ACC_ID_MAX] = "";
    if (plate_in && !acc_plate_normalise(plate_in, plate, sizeof plate)) {
        h->reply_error(r, "BAD_PLATE", "not a licence plate: %s", plate_in);
        return;
    }
    if (dg && acc_door_group_by_name(s, dg) == NULL) {
        h->reply_error(r, "NOT_FOUND", "no door group %s", dg);
        return;
    }
    if (card_no) {
        ykt_card_info c;
        if (h->card_by_no(card_no, &c) != YKT_PLUGIN_OK) {
            h->reply_error(r, "NOT_FOUND", "no card %s", card_no);
            return;
        }
        if (strcmp(c.card_type, "temporary") != 0 || strcmp(c.status, "active") != 0) {
            h->reply_error(r, "BAD_CARD",
                           "a visitor gets an active temporary card (card issue "
                           "--type temporary); %s is a %s card, %s",
                           card_no, c.card_type, c.status);
            return;
        }
        /* A card that cannot open a door is no visitor's card (R-C2). */
        if (!acc_card_allows(c.subsystems, s->subsystem)) {
            h->reply_error(r, "BAD_CARD",
                           "card %s is limited to subsystems %s and opens no door (%s): "
                           "give the visitor a card valid for %s",
                           card_no, c.subsystems, s->subsystem, s->subsystem);
            return;
        }
        /* Where the visitor desk is a department's (the department option), its cards are
         * that department's temporary cards: another department's is someone's own card
         * (a visiting lecturer's), unless it is the visitor's own. */
        if (s->department[0] && strcmp(c.department ? c.department : "", s->department) != 0 &&
            strcmp(c.name ? c.name : "", name) != 0) {
            h->reply_error(r, "BAD_CARD",
                           "card %s is the personal card of %s (department %s), not a card of "
                           "the visitor desk (department %s)",
                           card_no, c.person_no, c.department ? c.department : "", s->department);
            return;
        }
        if (exists(s,
                   acc_db(s, "SELECT 1 FROM access_visitors WHERE card_no = ? AND "
                             "status = 'open'"),
                   card_no, NULL)) {
            h->reply_error(r, "IN_USE", "card %s is linked to another open visit", card_no);
            return;
        }
    }
    sqlite3_stmt *st =
        acc_db(s, "INSERT INTO access_visitors (name, id_number, host_person_no, purpose, from_ms, "
                  "until_ms, card_no, plate, door_group, status, registered_by, registered_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, ''), ?, 'open', ?, ?) RETURNING id");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, idn, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, host_person, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, purpose, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, from_ms);
    sqlite3_bind_int64(st, 6, until_ms);
    bind_text(st, 7, card_no);
    sqlite3_bind_text(st, 8, plate, -1, SQLITE_STATIC);
    bind_text(st, 9, dg);
    bind_text(st, 10, h->operator_name(r));
    sqlite3_bind_int64(st, 11, now);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (id == 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot register the visitor");
        return;
    }
    char mname[64], mid[64], tfrom[20], tuntil[20], msg[300], idtxt[24], detail[300];
    h->mask_name(name, mname, sizeof mname);
    h->mask_id_number(idn, mid, sizeof mid);
    acc_format_time(s, from_ms, tfrom);
    acc_format_time(s, until_ms, tuntil);
    snprintf(msg, sizeof msg, "访客 %s 来访登记 (visitor %lld): %s, %s - %s", mname, (long long)id,
             purpose, tfrom, tuntil);
    h->notify(host_id, "visitor", msg, 0);
    snprintf(idtxt, sizeof idtxt, "%lld", (long long)id);
    snprintf(detail, sizeof detail, "visitor %s (%s) host=%s card=%s plate=%s until=%s", mname, mid,
             host_person, card_no ? card_no : "", plate, tuntil);
    if (h->audit(r, "access.visitor-add", idtxt, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot write the audit trail");
        return;
    }
    static const char *const cols[] = {"visitor", "name",  "id_number", "host",
                                       "from",    "until", "card",      "plate"};
    h->table_begin(r, "RECORD", 8, cols);
    h->table_row(r);
    h->table_int(r, id);
    h->table_str(r, mname);
    h->table_str(r, mid);
    h->table_str(r, host_person);
    h->table_str(r, tfrom);
    h->table_str(r, tuntil);
    h->table_str(r, card_no ? card_no : "");
    h->table_str(r, plate);
    h->table_send(r);
}

static void a_visitor_leave(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *id = h->arg(r, 0, NULL);
    if (!may_manage(s, r))
        return;
    sqlite3_stmt *st = acc_db(s, "UPDATE access_visitors SET status = 'closed', "
                                 "closed_at = ?2, last_out_ms = coalesce(last_out_ms, "
                                 "?2) WHERE id = ?1 AND status = 'open' RETURNING id");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_int64(st, 1, strtoll(id, NULL, 10));
    sqlite3_bind_int64(st, 2, h->now_ms());
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (!found) {
        st = acc_db(s, "SELECT status FROM access_visitors WHERE id = ?");
        char status[16] = "";
        if (st != NULL) {
            sqlite3_bind_int64(st, 1, strtoll(id, NULL, 10));
            if (sqlite3_step(st) == SQLITE_ROW)
                copy(status, sizeof status, col(st, 0));
            sqlite3_reset(st);
        }
        if (status[0])
            h->reply_error(r, "BAD_STATE", "visit %s is already %s", id, status);
        else
            h->reply_error(r, "NOT_FOUND", "no visit %s", id);
        return;
    }
    changed(s, r, "access.visitor-leave", id, "");
}

static void a_visitors(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *host_no = h->opt(r, "host"), *idn = h->opt(r, "id-number");
    const char *status = h->opt(r, "status"), *day = h->opt(r, "date");
    int64_t from_ms = 0, to_ms = INT64_MAX;
    if (status && strcmp(status, "open") != 0 && strcmp(status, "closed") != 0 &&
        strcmp(status, "expired") != 0) {
        h->reply_error(r, "BAD_REQUEST", "--status is open, closed or expired");
        return;
    }
    if (day && (acc_parse_time(s, day, false, &from_ms) != YKT_PLUGIN_OK ||
                acc_parse_time(s, day, true, &to_ms) != YKT_PLUGIN_OK)) {
        h->reply_error(r, "BAD_REQUEST", "--date is YYYY-MM-DD");
        return;
    }
    sqlite3_stmt *st =
        acc_db(s, "SELECT id, name, id_number, host_person_no, purpose, from_ms, until_ms, "
                  "coalesce(card_no, ''), coalesce(plate, ''), status, registered_by, "
                  "coalesce(first_in_ms, 0), coalesce(last_out_ms, 0) FROM access_visitors WHERE "
                  "(?1 IS NULL OR host_person_no = ?1) AND (?2 IS NULL OR id_number = upper(?2)) "
                  "AND (?3 IS NULL OR status = ?3) AND from_ms <= ?5 AND until_ms >= ?4 ORDER BY "
                  "id DESC LIMIT 1000");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    bind_text(st, 1, host_no);
    bind_text(st, 2, idn);
    bind_text(st, 3, status);
    sqlite3_bind_int64(st, 4, from_ms);
    sqlite3_bind_int64(st, 5, to_ms);
    static const char *const cols[] = {"visitor",       "name",     "id_number", "host",  "purpose",
                                       "from",          "until",    "card",      "plate", "status",
                                       "registered_by", "first_in", "last_out"};
    h->table_begin(r, "TABLE", 13, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char mname[64], mid[64], t[4][20];
        h->mask_name(col(st, 1), mname, sizeof mname);
        h->mask_id_number(col(st, 2), mid, sizeof mid);
        acc_format_time(s, sqlite3_column_int64(st, 5), t[0]);
        acc_format_time(s, sqlite3_column_int64(st, 6), t[1]);
        int64_t in = sqlite3_column_int64(st, 11), out = sqlite3_column_int64(st, 12);
        if (in)
            acc_format_time(s, in, t[2]);
        if (out)
            acc_format_time(s, out, t[3]);
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        h->table_str(r, mname);
        h->table_str(r, mid);
        h->table_str(r, col(st, 3));
        h->table_str(r, col(st, 4));
        h->table_str(r, t[0]);
        h->table_str(r, t[1]);
        h->table_str(r, col(st, 7));
        h->table_str(r, col(st, 8));
        h->table_str(r, col(st, 9));
        h->table_str(r, col(st, 10));
        h->table_str(r, in ? t[2] : "");
        h->table_str(r, out ? t[3] : "");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    h->table_send(r);
}

/* ---- vehicles ---- */

static bool plate_arg(acc_state *s, ykt_request *r, char *plate)
{
    if (acc_plate_normalise(s->h->arg(r, 0, NULL), plate, ACC_ID_MAX))
        return true;
    s->h->reply_error(r, "BAD_PLATE",
                      "not a licence plate: a province character, then 5 to 7 "
                      "letters and digits");
    return false;
}

/* A vehicle's --until: a date, today or later (an approval that ended already would open
 * nothing). */
static bool until_ok(acc_state *s, ykt_request *r, const char *until, int64_t *start)
{
    if (until == NULL)
        return true;
    if (acc_day_start(s, until, start) != YKT_PLUGIN_OK) {
        s->h->reply_error(r, "BAD_REQUEST", "--until is a date YYYY-MM-DD");
        return false;
    }
    char today[11];
    s->h->campus_date(s->h->now_ms(), today);
    if (strcmp(until, today) < 0) {
        s->h->reply_error(r, "BAD_REQUEST", "--until %s has passed (today is %s)", until, today);
        return false;
    }
    return true;
}

static void a_vehicle_add(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    char plate[ACC_ID_MAX];
    const char *owner = h->opt(r, "owner"), *until = h->opt(r, "until");
    ykt_card_info c;
    int64_t d;
    if (!may_manage(s, r) || !plate_arg(s, r, plate) || person_or_null(s, r, owner, &c) == NULL)
        return;
    if (!until_ok(s, r, until, &d))
        return;
    if (exists(s,
               acc_db(s, "SELECT 1 FROM access_vehicles WHERE plate = ? AND status "
                         "IN ('pending', 'approved')"),
               plate, NULL)) {
        h->reply_error(r, "EXISTS", "vehicle %s is registered", plate);
        return;
    }
    sqlite3_stmt *st = acc_db(
        s, "INSERT INTO access_vehicles (plate, owner_person_no, status, valid_until, note, "
           "requested_by, requested_at) VALUES (?1, ?2, 'pending', ?3, coalesce(?4, ''), ?5, "
           "?6) ON CONFLICT DO UPDATE SET owner_person_no = ?2, status = 'pending', "
           "valid_until = ?3, note = coalesce(?4, ''), requested_by = ?5, requested_at = ?6, "
           "decided_by = NULL, decided_at = NULL");
    if (st) {
        sqlite3_bind_text(st, 1, plate, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
        bind_text(st, 3, until);
        bind_text(st, 4, h->opt(r, "note"));
        bind_text(st, 5, h->operator_name(r));
        sqlite3_bind_int64(st, 6, h->now_ms());
    }
    if (!step_done(s, r, st))
        return;
    char detail[120];
    snprintf(detail, sizeof detail, "owner=%s until=%s", owner, until ? until : "");
    changed(s, r, "access.vehicle-add", plate, detail);
}

static void vehicle_decide(acc_state *s, ykt_request *r, const char *from, const char *to,
                           const char *action)
{
    const ykt_host *h = s->h;
    char plate[ACC_ID_MAX];
    if (!may_manage(s, r) || !plate_arg(s, r, plate))
        return;
    const char *until = h->opt(r, "until");
    int64_t d;
    if (!until_ok(s, r, until, &d))
        return;
    sqlite3_stmt *st = acc_db(s, "SELECT status FROM access_vehicles WHERE plate = ?");
    char status[16] = "";
    if (st) {
        sqlite3_bind_text(st, 1, plate, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            copy(status, sizeof status, col(st, 0));
        sqlite3_reset(st);
    }
    if (status[0] == '\0') {
        h->reply_error(r, "NOT_FOUND", "no vehicle %s", plate);
        return;
    }
    if (strcmp(status, from) != 0) {
        h->reply_error(r, "BAD_STATE", "vehicle %s is %s, not %s", plate, status, from);
        return;
    }
    st = acc_db(s, "UPDATE access_vehicles SET status = ?2, decided_by = ?3, "
                   "decided_at = ?4, valid_until = coalesce(?5, valid_until), note = "
                   "coalesce(?6, note) WHERE plate = ?1");
    if (st) {
        sqlite3_bind_text(st, 1, plate, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
        bind_text(st, 3, h->operator_name(r));
        sqlite3_bind_int64(st, 4, h->now_ms());
        bind_text(st, 5, until);
        bind_text(st, 6, h->opt(r, "reason"));
    }
    const char *reason = h->opt(r, "reason");
    char detail[300];
    snprintf(detail, sizeof detail, "%s%s%s%.200s", until ? "until=" : "", until ? until : "",
             until && reason ? " " : "", reason ? reason : "");
    if (step_done(s, r, st))
        changed(s, r, action, plate, detail);
}

static void a_vehicle_approve(ykt_request *r, void *ud)
{
    vehicle_decide(ud, r, "pending", "approved", "access.vehicle-approve");
}

static void a_vehicle_reject(ykt_request *r, void *ud)
{
    vehicle_decide(ud, r, "pending", "rejected", "access.vehicle-reject");
}

static void a_vehicle_revoke(ykt_request *r, void *ud)
{
    vehicle_decide(ud, r, "approved", "revoked", "access.vehicle-revoke");
}

static void a_vehicles(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *status = h->opt(r, "status");
    if (status && strcmp(status, "pending") != 0 && strcmp(status, "approved") != 0 &&
        strcmp(status, "rejected") != 0 && strcmp(status, "revoked") != 0) {
        h->reply_error(r, "BAD_REQUEST", "--status is pending, approved, rejected or revoked");
        return;
    }
    sqlite3_stmt *st =
        acc_db(s, "SELECT plate, owner_person_no, status, coalesce(valid_until, ''), requested_by, "
                  "coalesce(decided_by, ''), note FROM access_vehicles WHERE (?1 IS NULL OR status "
                  "= ?1) AND (?2 IS NULL OR owner_person_no = ?2) ORDER BY plate");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    bind_text(st, 1, status);
    bind_text(st, 2, h->opt(r, "owner"));
    static const char *const cols[] = {"plate",        "owner",      "status", "valid_until",
                                       "requested_by", "decided_by", "note"};
    send_text_rows(h, r, st, 7, cols);
}

/* ---- anti-passback, white list ---- */

static void a_passback_reset(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const char *who = h->arg(r, 0, NULL);
    if (!may_manage(s, r))
        return;
    char subject[ACC_ID_MAX + 8], plate[ACC_ID_MAX];
    if (acc_plate_normalise(who, plate, sizeof plate) &&
        exists(s, acc_db(s, "SELECT 1 FROM access_vehicles WHERE plate = ?"), plate, NULL))
        snprintf(subject, sizeof subject, "plate:%s", plate);
    else
        copy(subject, sizeof subject, who);
    const char *dg = h->opt(r, "door-group");
    if (dg && acc_door_group_by_name(s, dg) == NULL) {
        h->reply_error(r, "NOT_FOUND", "no door group %s", dg);
        return;
    }
    /* A person (with a live card), a registered vehicle, or anyone with a passback state:
     * another name is a mistake, not zero states. */
    ykt_card_info c;
    if (strncmp(subject, "plate:", 6) != 0 && h->person_card(subject, &c) != YKT_PLUGIN_OK &&
        !exists(s, acc_db(s, "SELECT 1 FROM access_passback WHERE subject = ?"), subject, NULL)) {
        h->reply_error(r, "NOT_FOUND", "no person or vehicle %s", who);
        return;
    }
    sqlite3_stmt *st = acc_db(s, "DELETE FROM access_passback WHERE subject = ?1 AND "
                                 "(?2 IS NULL OR door_group = ?2) RETURNING 1");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "no statement");
        return;
    }
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    bind_text(st, 2, dg);
    int64_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        n++;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    char detail[32];
    snprintf(detail, sizeof detail, "%lld states", (long long)n);
    if (h->audit(r, "access.passback-reset", subject, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot write the audit trail");
        return;
    }
    h->reply_int(r, n);
}

static void a_whitelist(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const char *since = s->h->opt(r, "since");
    int64_t v = 0;
    if (since != NULL && !whole_in(since, 0, INT64_MAX, &v)) {
        s->h->reply_error(r, "BAD_REQUEST", "--since is a version number (0 or more)");
        return;
    }
    acc_whitelist_page(s, r, s->h->arg(r, 0, NULL), v, true);
}

/* ---- registration ---- */

int acc_admin_register(acc_state *s)
{
    const ykt_host *h = s->h;
    ykt_plugin *self = s->self;
    int rc = 0;
#define REG(name, roles, changes, opts, min, max, fn, usage, summary)                              \
    if (rc == 0)                                                                                   \
    rc = h->admin_register(self, "access", name, roles, changes, opts, min, max, fn, s, usage,     \
                           summary)
    REG("doorgroup-add", ROLE_ADMIN, 1, "anti-passback= public= resident-hours= note=", 1, 1,
        a_doorgroup_add,
        "access doorgroup-add NAME [--anti-passback yes|no] [--public yes|no] "
        "[--resident-hours HH:MM-HH:MM] [--note TEXT]",
        "Add a door group (doors that share rules).");
    REG("doorgroup-set", ROLE_ADMIN, 1, "anti-passback= public= resident-hours= note=", 1, 1,
        a_doorgroup_set,
        "access doorgroup-set NAME [--anti-passback yes|no] [--public yes|no] "
        "[--resident-hours HH:MM-HH:MM] [--note TEXT]",
        "Change a door group.");
    REG("doorgroup-remove", ROLE_ADMIN, 1, "", 1, 1, a_doorgroup_remove,
        "access doorgroup-remove NAME", "Remove an unused door group.");
    REG("doorgroups", ROLE_VIEW, 0, "", 0, 0, a_doorgroups, "access doorgroups",
        "Door groups with their options.");
    REG("door-add", ROLE_ADMIN, 1, "terminal=! kind=! group=! building= direction= place=", 1, 1,
        a_door_add,
        "access door-add ID --terminal T --kind KIND --group DOORGROUP [--building B] "
        "[--direction in|out|both] [--place PLACE]",
        "Register a gate terminal as a door.");
    REG("door-remove", ROLE_ADMIN, 1, "", 1, 1, a_door_remove, "access door-remove ID",
        "Remove a door.");
    REG("doors", ROLE_VIEW, 0, "group=", 0, 0, a_doors, "access doors [--group DOORGROUP]",
        "The door registry.");
    REG("group-add", ROLE_ADMIN, 1, "note=", 1, 1, a_group_add,
        "access group-add NAME [--note TEXT]", "Add an access group.");
    REG("group-remove", ROLE_ADMIN, 1, "", 1, 1, a_group_remove, "access group-remove NAME",
        "Remove an access group with its windows, grants and members.");
    REG("groups", ROLE_VIEW, 0, "", 0, 0, a_groups, "access groups",
        "Access groups: windows, door groups, member counts.");
    REG("grant", ROLE_ADMIN, 1, "", 2, 2, a_grant, "access grant GROUP DOORGROUP",
        "Let an access group open a door group.");
    REG("ungrant", ROLE_ADMIN, 1, "", 2, 2, a_ungrant, "access ungrant GROUP DOORGROUP",
        "Withdraw a grant.");
    REG("window-add", ROLE_ADMIN, 1, "days=! from=! to=!", 1, 1, a_window_add,
        "access window-add GROUP --days mon-fri|sat,sun|daily|hol|all --from HH:MM --to HH:MM",
        "Add a weekly time window to an access group.");
    REG("window-remove", ROLE_ADMIN, 1, "", 1, 1, a_window_remove, "access window-remove ID",
        "Remove a time window.");
    REG("member-add", ROLE_ADMIN, 1, "", 2, 16, a_member_add,
        "access member-add GROUP PERSON_NO...", "Add people to an access group.");
    REG("member-remove", ROLE_ADMIN, 1, "", 2, 2, a_member_remove,
        "access member-remove GROUP PERSON_NO", "Remove a person from an access group.");
    REG("members", ROLE_VIEW, 0, "group= person=", 0, 0, a_members,
        "access members [--group GROUP] [--person NO]", "Group members.");
    REG("member-import", ROLE_ADMIN, 1, "name= group=!", 1, 1, a_member_import,
        "access member-import FILE --group GROUP (person_no per line)",
        "Import group members from CSV: every row or none.");
    REG("holiday-add", ROLE_ADMIN, 1, "name=", 1, 1, a_holiday_add,
        "access holiday-add YYYY-MM-DD [--name TEXT]", "Mark a campus holiday.");
    REG("holiday-remove", ROLE_ADMIN, 1, "", 1, 1, a_holiday_remove,
        "access holiday-remove YYYY-MM-DD", "Unmark a holiday.");
    REG("holidays", ROLE_VIEW, 0, "", 0, 0, a_holidays, "access holidays", "The holiday calendar.");
    REG("resident-add", ROLE_ADMIN, 1, "building=! room=", 1, 1, a_resident_add,
        "access resident-add PERSON_NO --building B [--room R]",
        "Register a dormitory resident (one building per person).");
    REG("resident-remove", ROLE_ADMIN, 1, "", 1, 1, a_resident_remove,
        "access resident-remove PERSON_NO", "Remove a resident.");
    REG("residents", ROLE_VIEW, 0, "building=", 0, 0, a_residents,
        "access residents [--building B]", "Dormitory residents.");
    REG("resident-import", ROLE_ADMIN, 1, "name=", 1, 1, a_resident_import,
        "access resident-import FILE (person_no,building,room)",
        "Import residents from CSV: every row or none.");
    REG("log", ROLE_VIEW, 0, "person= door= card= uid= plate= visitor= result= from= to= limit=", 0,
        0, a_log,
        "access log [--person NO] [--door ID] [--card NO] [--uid HEX] [--plate P] [--visitor ID] "
        "[--result allow|deny|refused] [--from DATE[ HH:MM]] [--to DATE[ HH:MM]] [--limit N]",
        "The decision log, newest first.");
    REG("visitor-add", ROLE_DESK, 1,
        "name=! id-number=! host=! purpose=! from= until= card= plate= door-group=", 0, 0,
        a_visitor_add,
        "access visitor-add --name N --id-number ID --host PERSON_NO --purpose TEXT [--from T] "
        "[--until T] [--card TEMP_CARD_NO] [--plate P] [--door-group DG]",
        "Register a visitor (ID number kept, shown masked).");
    REG("visitor-leave", ROLE_DESK, 1, "", 1, 1, a_visitor_leave, "access visitor-leave ID",
        "Close a visit.");
    REG("visitors", ROLE_DESK | ROLE_VIEW, 0, "host= id-number= status= date=", 0, 0, a_visitors,
        "access visitors [--host NO] [--id-number ID] [--status open|closed|expired] "
        "[--date YYYY-MM-DD]",
        "Visits, newest first (names and ID numbers masked).");
    REG("vehicle-add", ROLE_DESK, 1, "owner=! until= note=", 1, 1, a_vehicle_add,
        "access vehicle-add PLATE --owner PERSON_NO [--until YYYY-MM-DD] [--note TEXT]",
        "Register a vehicle; it awaits approval.");
    REG("vehicle-approve", ROLE_ADMIN, 1, "until= reason=", 1, 1, a_vehicle_approve,
        "access vehicle-approve PLATE [--until YYYY-MM-DD]", "Approve a vehicle.");
    REG("vehicle-reject", ROLE_ADMIN, 1, "reason=", 1, 1, a_vehicle_reject,
        "access vehicle-reject PLATE [--reason TEXT]", "Reject a vehicle.");
    REG("vehicle-revoke", ROLE_ADMIN, 1, "reason=", 1, 1, a_vehicle_revoke,
        "access vehicle-revoke PLATE [--reason TEXT]", "Withdraw an approval.");
    REG("vehicles", ROLE_DESK | ROLE_VIEW, 0, "status= owner=", 0, 0, a_vehicles,
        "access vehicles [--status pending|approved|rejected|revoked] [--owner NO]",
        "The vehicle registry.");
    REG("passback-reset", ROLE_DESK, 1, "door-group=", 1, 1, a_passback_reset,
        "access passback-reset PERSON_NO|PLATE [--door-group DG]",
        "Forget where someone is, after a guard let them through.");
    REG("whitelist", ROLE_VIEW, 0, "since=", 1, 1, a_whitelist,
        "access whitelist DOORGROUP [--since VERSION]",
        "The offline readers' white list of a door group.");
#undef REG
    return rc;
}
