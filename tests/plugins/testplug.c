/*
 * testplug: a plugin that exercises every host service, loaded by the real yktd in
 * tests/e2e/test_plugins.py. It is built like an out-of-tree plugin: it includes only
 * <ykt/plugin.h> and calls the gateway through the host table.
 *
 * Options ([plugin.testplug]): merchant (required: whom TESTPLUG.CHARGE pays), greeting,
 * door ("staff-only": staff ALLOW, temporary cards DENY, others DEFER), fail_init = yes.
 *
 * Verbs:
 *   TESTPLUG.ECHO text                       gate, attendance: "<greeting> <text> @<terminal>"
 *   TESTPLUG.CHARGE <card args>              pos, dispenser: debit -> [payment, charged, balance]
 *   TESTPLUG.CREDIT <card args>              pos: credit from the merchant -> [charged, balance]
 *   TESTPLUG.HOLD <card args>                dispenser: hold -> [hold, balance]
 *   TESTPLUG.SETTLE seq hold amount          dispenser: capture (amount > 0) or void
 *   TESTPLUG.PRICE litres_ml used_ml         any: water.price rule -> [charge, free_ml]
 *   TESTPLUG.PEEK table                      any: "own" reads its table; else another's
 *   TESTPLUG.EVENTS                          any: [payment, status, replaced, low, tick, timer]
 *   TESTPLUG.DOOR <card args>                gate: ACCESS_CHECK decision -> +ALLOW / -DENIED
 *   TESTPLUG.REVERSE <card args>             pos: reverse a bank credit -> [moved, balance]
 *   TESTPLUG.SECRET <card args> pin          pos: the pay password, checked -> +OK
 *   TESTPLUG.NOTEPIN <card args> pin         pos, sequenced: a note, then the pay password
 *                                            checked -> +OK (a write before the wait)
 *   TESTPLUG.TWOPINS <card args> pin         pos: the pay password checked twice, the
 *                                            second from the first's callback -> +OK
 *   TESTPLUG.MISUSE <card args> how [card]   pos: what the host must refuse: "other-card"
 *                                            (debit another card), "twice" (two credits),
 *                                            "negative" (a debit of -amount), "trigger"
 *                                            (DDL the authorizer refuses) -> the host's reply
 * Admin: `testplug stats`, `testplug note TEXT` (audited), `testplug settle HOLD FEN`,
 * `testplug whoami`, `testplug idcheck ID`.
 */
#include <ykt/plugin.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct state {
    ykt_plugin *self;
    const ykt_host *host;
    const char *merchant;
    const char *greeting;
    int door_staff_only;
    long timer_ticks;
    char timer_write[8]; /* "keep" or "undo": the next tick writes a note (and undoes it) */
    char last_day_end[11];
} state;

static const char *const migrations[] = {
    /* v1 */
    "CREATE TABLE testplug_events (kind TEXT PRIMARY KEY, n INTEGER NOT NULL) STRICT;",
    /* v2 */
    "CREATE TABLE testplug_notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, "
    "by TEXT NOT NULL) STRICT;"
    "CREATE INDEX testplug_notes_by ON testplug_notes (by);",
};

static void count(state *s, const char *kind)
{
    sqlite3_stmt *st =
        s->host->db_stmt(s->self, "INSERT INTO testplug_events (kind, n) VALUES (?, 1) "
                                  "ON CONFLICT (kind) DO UPDATE SET n = n + 1");
    if (st == NULL)
        return;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        s->host->log(s->self, YKT_PLUGIN_LOG_ERROR, "cannot count %s", kind);
    sqlite3_reset(st);
}

static long counted(state *s, const char *kind)
{
    sqlite3_stmt *st = s->host->db_stmt(s->self, "SELECT n FROM testplug_events WHERE kind = ?");
    long n = 0;
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

/* ---- verbs ---- */

static void v_echo(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    if (h->argc(r) != 2) {
        h->reply_error(r, "BAD_REQUEST", "usage: TESTPLUG.ECHO text");
        return;
    }
    char out[300];
    snprintf(out, sizeof out, "%s %s @%s", s->greeting, h->arg(r, 1, NULL), h->terminal(r)->id);
    h->reply_str(r, out);
}

static void v_charge(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    int64_t amount;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    ykt_money m;
    if (h->wallet_debit(r, &card, s->merchant, amount, &m) != YKT_PLUGIN_OK)
        return;
    count(s, "charged");
    h->notify(card.person_id, "testplug", "charged by the test plugin", m.charged);
    h->reply_array(r, 3);
    h->reply_int(r, m.payment_id);
    h->reply_int(r, m.charged);
    h->reply_int(r, m.balance);
}

static void v_credit(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    int64_t amount;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    ykt_money m;
    if (h->wallet_credit(r, &card, s->merchant, amount, "unused service", &m) != YKT_PLUGIN_OK)
        return;
    h->reply_array(r, 2);
    h->reply_int(r, m.charged);
    h->reply_int(r, m.balance);
}

static void v_hold(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    int64_t amount;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    ykt_money m;
    if (h->wallet_hold(r, &card, s->merchant, amount, 0, &m) != YKT_PLUGIN_OK)
        return;
    h->reply_array(r, 2);
    h->reply_int(r, m.hold_id);
    h->reply_int(r, m.balance);
}

static void v_settle(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    if (h->argc(r) != 4) {
        h->reply_error(r, "BAD_REQUEST", "usage: TESTPLUG.SETTLE seq hold amount");
        return;
    }
    int64_t hold = strtoll(h->arg(r, 2, NULL), NULL, 10);
    int64_t amount = strtoll(h->arg(r, 3, NULL), NULL, 10);
    ykt_money m;
    int rc = amount > 0 ? h->wallet_capture(r, hold, amount, &m) : h->wallet_void(r, hold, &m);
    if (rc != YKT_PLUGIN_OK)
        return;
    h->reply_array(r, 2);
    h->reply_int(r, m.charged);
    h->reply_int(r, m.balance);
}

static void v_price(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    if (h->argc(r) != 3) {
        h->reply_error(r, "BAD_REQUEST", "usage: TESTPLUG.PRICE litres_ml used_ml");
        return;
    }
    ykt_rule_value args[] = {
        {.name = "litres_ml", .type = 'i', .i = strtoll(h->arg(r, 1, NULL), NULL, 10)},
        {.name = "used_today_ml", .type = 'i', .i = strtoll(h->arg(r, 2, NULL), NULL, 10)},
        {.name = "card_type", .type = 's', .s = "regular"},
        {.name = "service", .type = 's', .s = "hot"},
    };
    ykt_rule_value res[] = {{.name = "charge", .type = 'i'}, {.name = "free_ml", .type = 'i'}};
    if (h->rule_call(r, "water", "price", args, 4, res, 2) != YKT_PLUGIN_OK)
        return;
    h->reply_array(r, 2);
    h->reply_int(r, res[0].i);
    h->reply_int(r, res[1].i);
}

static void v_peek(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    const char *which = h->argc(r) == 2 ? h->arg(r, 1, NULL) : "own";
    const char *sql = strcmp(which, "own") == 0        ? "SELECT count(*) FROM testplug_events"
                      : strcmp(which, "people") == 0   ? "SELECT count(*) FROM people"
                      : strcmp(which, "sequence") == 0 ? "UPDATE sqlite_sequence SET seq = seq + 1"
                      : strcmp(which, "schema") == 0
                          ? "SELECT count(*) FROM sqlite_schema"
                          : "UPDATE accounts SET balance = balance + 100";
    sqlite3_stmt *st = h->db_stmt(s->self, sql);
    if (st == NULL) {
        h->reply_error(r, "DENIED", "the host refused the statement");
        return;
    }
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    h->reply_int(r, n);
}

static void v_events(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    static const char *const kinds[] = {"payment",     "card_status", "card_replaced",
                                        "low_balance", "tick",        "autotopup"};
    h->reply_array(r, 7);
    for (int i = 0; i < 6; i++)
        h->reply_int(r, counted(s, kinds[i]));
    h->reply_int(r, s->timer_ticks);
}

static void v_door(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    if (h->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return;
    ykt_ev_access ev = {.size = sizeof ev,
                        .card = &card,
                        .terminal = h->terminal(r),
                        .place = "lab-101",
                        .at_ms = h->now_ms()};
    if (h->decide(YKT_EV_ACCESS_CHECK, &ev) == YKT_ALLOW)
        h->reply_ok(r);
    else
        h->reply_error(r, "DENIED", "%s", ev.reason[0] ? ev.reason : "nobody allowed it");
}

static void v_reverse(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    int64_t amount;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    ykt_money m;
    if (h->wallet_reverse(r, &card, NULL, amount, "bank reversal", &m) != YKT_PLUGIN_OK)
        return;
    h->reply_array(r, 2);
    h->reply_int(r, m.charged);
    h->reply_int(r, m.balance);
}

static void secret_ok(ykt_request *r, void *ud)
{
    state *s = ud;
    s->host->reply_ok(r);
}

/* The card and the password after its arguments; false when it has replied. */
static bool card_and_pin(state *s, ykt_request *r, ykt_card_info *card, const char *verb)
{
    const ykt_host *h = s->host;
    if (h->card_present(r, card, NULL) != YKT_PLUGIN_OK)
        return false;
    if (h->argc(r) != 8) {
        h->reply_error(r, "BAD_REQUEST", "usage: %s <card args> pin", verb);
        return false;
    }
    return true;
}

static void v_secret(ykt_request *r, void *ud)
{
    state *s = ud;
    ykt_card_info card;
    if (card_and_pin(s, r, &card, "TESTPLUG.SECRET"))
        s->host->card_check_password(r, &card, "pay", s->host->arg(r, 7, NULL), secret_ok, s);
}

/* A write before the wait: its retry must not write it again. */
static void v_notepin(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    if (!card_and_pin(s, r, &card, "TESTPLUG.NOTEPIN"))
        return;
    sqlite3_stmt *st =
        h->db_stmt(s->self, "INSERT INTO testplug_notes (text, by) VALUES ('before the wait', ?)");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot prepare the note");
        return;
    }
    sqlite3_bind_text(st, 1, card.card_no, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        h->reply_error(r, "STORAGE_ERROR", "cannot keep the note");
        return;
    }
    h->card_check_password(r, &card, "pay", h->arg(r, 7, NULL), secret_ok, s);
}

/* A callback that waits again: the request must still get exactly one reply. */
static void second_pin(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    if (h->card_by_uid(h->arg(r, 2, NULL), &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the card again");
        return;
    }
    h->card_check_password(r, &card, "pay", h->arg(r, 7, NULL), secret_ok, s);
}

static void v_twopins(ykt_request *r, void *ud)
{
    state *s = ud;
    ykt_card_info card;
    if (card_and_pin(s, r, &card, "TESTPLUG.TWOPINS"))
        s->host->card_check_password(r, &card, "pay", s->host->arg(r, 7, NULL), second_pin, s);
}

static void v_misuse(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card, other;
    int64_t amount;
    ykt_money m;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    const char *how = h->argc(r) >= 8 ? h->arg(r, 7, NULL) : "";
    if (strcmp(how, "other-card") == 0 && h->argc(r) == 9) {
        if (h->card_by_no(h->arg(r, 8, NULL), &other) != YKT_PLUGIN_OK) {
            h->reply_error(r, "NOT_FOUND", "no such card");
            return;
        }
        if (h->wallet_debit(r, &other, s->merchant, amount, &m) == YKT_PLUGIN_OK)
            h->reply_str(r, "debited another card");
    } else if (strcmp(how, "twice") == 0) {
        if (h->wallet_credit(r, &card, NULL, amount, "first", &m) == YKT_PLUGIN_OK &&
            h->wallet_credit(r, &card, NULL, amount, "second", &m) == YKT_PLUGIN_OK)
            h->reply_str(r, "credited twice");
    } else if (strcmp(how, "negative") == 0) {
        if (h->wallet_debit(r, &card, s->merchant, -amount, &m) == YKT_PLUGIN_OK)
            h->reply_str(r, "debited a negative amount");
    } else if (strcmp(how, "trigger") == 0) {
        sqlite3_stmt *st = h->db_stmt(s->self, "CREATE TRIGGER testplug_t AFTER INSERT ON "
                                               "testplug_events BEGIN DELETE FROM accounts; END");
        if (st == NULL)
            h->reply_error(r, "DENIED", "the host refused the statement");
        else
            h->reply_str(r, "trigger prepared");
    } else {
        h->reply_error(r, "BAD_REQUEST", "usage: TESTPLUG.MISUSE <card args> how [card]");
    }
}

/* ---- events, timer ---- */

static int on_event(int event, void *data, void *ud)
{
    state *s = ud;
    switch (event) {
    case YKT_EV_PAYMENT:
        count(s, "payment");
        break;
    case YKT_EV_CARD_STATUS: {
        const ykt_ev_card *c = data;
        s->host->log(s->self, YKT_PLUGIN_LOG_INFO, "card %s: %s -> %s", c->card_no, c->old_status,
                     c->new_status);
        count(s, "card_status");
        break;
    }
    case YKT_EV_CARD_REPLACED:
        count(s, "card_replaced");
        break;
    case YKT_EV_LOW_BALANCE:
        count(s, "low_balance");
        break;
    case YKT_EV_TICK:
        count(s, "tick");
        break;
    case YKT_EV_DAY_END: {
        const ykt_ev_day *d = data;
        count(s, "day_end");
        snprintf(s->last_day_end, sizeof s->last_day_end, "%s", d->day);
        break;
    }
    case YKT_EV_AUTOTOPUP:
        count(s, "autotopup");
        break;
    default:
        break;
    }
    return YKT_DEFER;
}

static int on_access(int event, void *data, void *ud)
{
    (void)event;
    state *s = ud;
    ykt_ev_access *a = data;
    if (!s->door_staff_only)
        return YKT_DEFER;
    if (strcmp(a->card->card_type, "temporary") == 0) {
        snprintf(a->reason, sizeof a->reason, "temporary cards may not enter %s", a->place);
        return YKT_DENY;
    }
    return strcmp(a->card->kind, "staff") == 0 ? YKT_ALLOW : YKT_DEFER;
}

static void on_timer(void *ud)
{
    state *s = ud;
    s->timer_ticks++;
    if (s->timer_write[0] == '\0')
        return;
    sqlite3_stmt *st =
        s->host->db_stmt(s->self, "INSERT INTO testplug_notes (text, by) VALUES (?, 'timer')");
    if (st != NULL) {
        sqlite3_bind_text(st, 1, s->timer_write, -1, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (strcmp(s->timer_write, "undo") == 0)
        s->host->undo_writes(s->self);
    s->timer_write[0] = '\0';
}

/* ---- admin ---- */

static void a_stats(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    static const char *const cols[] = {"payments", "timer_ticks", "greeting", "day_ends",
                                       "last_day_end"};
    h->table_begin(r, "RECORD", 5, cols);
    h->table_row(r);
    h->table_int(r, counted(s, "payment"));
    h->table_int(r, s->timer_ticks);
    h->table_str(r, s->greeting);
    h->table_int(r, counted(s, "day_end"));
    h->table_str(r, s->last_day_end);
    h->table_send(r);
}

/* testplug lookup [--terminal ID] [--merchant ID] [--uid UID]: the host's lookups. */
static void a_lookup(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_terminal_info t;
    ykt_card_info c;
    const char *status = NULL;
    const char *tid = h->opt(r, "terminal"), *mid = h->opt(r, "merchant"), *uid = h->opt(r, "uid");
    int trc = tid ? h->terminal_get(tid, &t) : YKT_PLUGIN_ENOTFOUND;
    int mrc = mid ? h->merchant_status(mid, &status) : YKT_PLUGIN_ENOTFOUND;
    int crc = uid ? h->card_by_uid(uid, &c) : YKT_PLUGIN_ENOTFOUND;
    static const char *const cols[] = {"terminal_type", "terminal_owner", "merchant_status",
                                       "card_no",       "card_status",    "pin_threshold"};
    h->table_begin(r, "RECORD", 6, cols);
    h->table_row(r);
    h->table_int(r, trc == YKT_PLUGIN_OK ? (int64_t)t.type : -1);
    h->table_str(r, trc == YKT_PLUGIN_OK ? t.owner : NULL);
    h->table_str(r, mrc == YKT_PLUGIN_OK ? status : NULL);
    h->table_str(r, crc == YKT_PLUGIN_OK ? c.card_no : NULL);
    h->table_str(r, crc == YKT_PLUGIN_OK ? c.status : NULL);
    h->table_int(r, h->pin_threshold());
    h->table_send(r);
}

/* testplug timer-write keep|undo: the next timer tick writes a note, and undoes it. */
static void a_timer_write(ykt_request *r, void *ud)
{
    state *s = ud;
    const char *mode = s->host->arg(r, 0, NULL);
    if (strcmp(mode, "keep") != 0 && strcmp(mode, "undo") != 0) {
        s->host->reply_error(r, "BAD_REQUEST", "keep or undo");
        return;
    }
    snprintf(s->timer_write, sizeof s->timer_write, "%s", mode);
    s->host->reply_ok(r);
}

static void a_note(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    sqlite3_stmt *st =
        h->db_stmt(s->self, "INSERT INTO testplug_notes (text, by) VALUES (?, ?) RETURNING id");
    if (st == NULL) {
        h->reply_error(r, "INTERNAL", "no statement");
        return;
    }
    sqlite3_bind_text(st, 1, h->arg(r, 0, NULL), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, h->operator_name(r), -1, SQLITE_TRANSIENT);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (id == 0 || h->audit(r, "testplug.note", h->arg(r, 0, NULL), "") != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot keep the note");
        return;
    }
    h->reply_int(r, id);
}

static void a_settle(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    ykt_money m;
    const char *code = NULL;
    if (h->hold_settle(s->self, strtoll(h->arg(r, 0, NULL), NULL, 10),
                       strtoll(h->arg(r, 1, NULL), NULL, 10), &m, &code) != YKT_PLUGIN_OK) {
        h->reply_error(r, code ? code : "INTERNAL", "not settled");
        return;
    }
    static const char *const cols[] = {"payment", "charged", "balance"};
    h->table_begin(r, "RECORD", 3, cols);
    h->table_row(r);
    h->table_int(r, m.payment_id);
    h->table_int(r, m.charged);
    h->table_int(r, m.balance);
    h->table_send(r);
}

static void a_whoami(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    unsigned role = 0;
    const char *dept = NULL;
    if (h->operator_info(r, &role, &dept) != YKT_PLUGIN_OK) {
        h->reply_error(r, "INTERNAL", "no operator");
        return;
    }
    static const char *const cols[] = {"role_bit", "department"};
    h->table_begin(r, "RECORD", 2, cols);
    h->table_row(r);
    h->table_int(r, role);
    h->table_str(r, dept);
    h->table_send(r);
}

static void a_idcheck(ykt_request *r, void *ud)
{
    state *s = ud;
    const ykt_host *h = s->host;
    const char *id = h->arg(r, 0, NULL);
    const char *why = "";
    int ok = h->id_number_valid(id, &why);
    char masked[64];
    h->mask_id_number(id, masked, sizeof masked);
    static const char *const cols[] = {"valid", "why", "masked"};
    h->table_begin(r, "RECORD", 3, cols);
    h->table_row(r);
    h->table_int(r, ok);
    h->table_str(r, ok ? "" : why);
    h->table_str(r, masked);
    h->table_send(r);
}

/* ---- entry points ---- */

int ykt_plugin_version(int n, const int *supported)
{
    for (int i = 0; i < n; i++)
        if (supported[i] == YKT_PLUGIN_API_VERSION)
            return YKT_PLUGIN_API_VERSION;
    return -1;
}

int ykt_plugin_init(ykt_plugin *self, const ykt_host *host, void **userdata)
{
    const char *fail = host->option(self, "fail_init");
    if (fail != NULL && strcmp(fail, "yes") == 0) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "fail_init = yes: refusing to start");
        return YKT_PLUGIN_EINVAL;
    }
    state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return YKT_PLUGIN_EINVAL;
    s->self = self;
    s->host = host;
    s->merchant = host->option(self, "merchant");
    s->greeting = host->option(self, "greeting") ? host->option(self, "greeting") : "hello";
    const char *door = host->option(self, "door");
    s->door_staff_only = door != NULL && strcmp(door, "staff-only") == 0;
    *userdata = s;
    if (s->merchant == NULL) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "option merchant is required");
        return YKT_PLUGIN_EINVAL;
    }
    int rc = host->db_migrate(self, migrations, 2);
    const unsigned any = YKT_TERM_POS | YKT_TERM_GATE | YKT_TERM_DISPENSER | YKT_TERM_KIOSK;
    const unsigned money = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.ECHO", YKT_TERM_GATE | YKT_TERM_ATTENDANCE, 0,
                                 v_echo, s, "TESTPLUG.ECHO text");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.CHARGE", YKT_TERM_POS | YKT_TERM_DISPENSER, money,
                                 v_charge, s, "TESTPLUG.CHARGE <card args>");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.CREDIT", YKT_TERM_POS, money, v_credit, s,
                                 "TESTPLUG.CREDIT <card args>");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.HOLD", YKT_TERM_DISPENSER, money, v_hold, s,
                                 "TESTPLUG.HOLD <card args>");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.SETTLE", YKT_TERM_DISPENSER, money, v_settle, s,
                                 "TESTPLUG.SETTLE seq hold amount");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.PRICE", any, 0, v_price, s,
                                 "TESTPLUG.PRICE litres_ml used_ml");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.PEEK", any, YKT_VERB_CHANGES, v_peek, s,
                                 "TESTPLUG.PEEK [own|people|accounts|sequence|schema]");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.EVENTS", any, 0, v_events, s, "TESTPLUG.EVENTS");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.DOOR", YKT_TERM_GATE, 0, v_door, s,
                                 "TESTPLUG.DOOR <card args>");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.REVERSE", YKT_TERM_POS, money, v_reverse, s,
                                 "TESTPLUG.REVERSE <card args>");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.MISUSE", YKT_TERM_POS, money, v_misuse, s,
                                 "TESTPLUG.MISUSE <card args> how [card]");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.SECRET", YKT_TERM_POS, YKT_VERB_CHANGES, v_secret,
                                 s, "TESTPLUG.SECRET <card args> pin");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.NOTEPIN", YKT_TERM_POS, money, v_notepin, s,
                                 "TESTPLUG.NOTEPIN <card args> pin");
    if (rc == 0)
        rc = host->verb_register(self, "TESTPLUG.TWOPINS", YKT_TERM_POS, YKT_VERB_CHANGES,
                                 v_twopins, s, "TESTPLUG.TWOPINS <card args> pin");
    if (rc == 0)
        rc = host->admin_register(self, "testplug", "settle", 0, 1, "", 2, 2, a_settle, s,
                                  "testplug settle HOLD FEN", "Settle a hold (0: void).");
    if (rc == 0)
        rc = host->admin_register(self, "testplug", "whoami", YKT_PLUGIN_ROLE_DEPT_HEAD, 0, "", 0,
                                  0, a_whoami, s, "testplug whoami", "The operator.");
    if (rc == 0)
        rc = host->admin_register(self, "testplug", "idcheck", 0, 0, "", 1, 1, a_idcheck, s,
                                  "testplug idcheck ID", "Check an ID number.");
    if (rc == 0)
        rc = host->admin_register(self, "testplug", "stats", 0, 0, "", 0, 0, a_stats, s,
                                  "testplug stats", "What the test plugin has seen.");
    if (rc == 0)
        rc = host->admin_register(self, "testplug", "note", YKT_PLUGIN_ROLE_OPERATOR, 1, "", 1, 1,
                                  a_note, s, "testplug note TEXT", "Keep a note (audited).");
    if (rc == 0)
        rc = host->admin_register(
            self, "testplug", "lookup", 0, 0, "terminal= merchant= uid=", 0, 0, a_lookup, s,
            "testplug lookup [--terminal ID] [--merchant ID] [--uid UID]", "The host's lookups.");
    if (rc == 0)
        rc = host->admin_register(self, "testplug", "timer-write", 0, 0, "", 1, 1, a_timer_write, s,
                                  "testplug timer-write keep|undo",
                                  "The next tick writes a note (and undoes it).");
    static const int events[] = {YKT_EV_PAYMENT,     YKT_EV_CARD_STATUS, YKT_EV_CARD_REPLACED,
                                 YKT_EV_LOW_BALANCE, YKT_EV_TICK,        YKT_EV_AUTOTOPUP,
                                 YKT_EV_DAY_END};
    for (int i = 0; rc == 0 && i < 7; i++)
        rc = host->subscribe(self, events[i], on_event, s);
    if (rc == 0)
        rc = host->subscribe(self, YKT_EV_ACCESS_CHECK, on_access, s);
    if (rc == 0)
        rc = host->timer_every(self, 50, on_timer, s);
    host->log(self, YKT_PLUGIN_LOG_INFO, "ready (merchant %s)", s->merchant);
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    free(userdata);
}
