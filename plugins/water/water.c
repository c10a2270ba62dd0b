/*
 * water: hot water, showers and drinking water paid by card per use (R-H).
 *
 * A dispenser (a terminal of type dispenser, owned by the merchant it sells for) is registered
 * with its building and service (hot or drinking). A draw is a session:
 *
 *   WATER.START   <card args, amount = what to pre-authorise>   -> a hold on the wallet
 *   WATER.READING session ml                                      the cumulative volume so far
 *   WATER.STOP    seq session ml|- [reason]                       capture the price, release rest
 *   WATER.STATUS                                                  the dispenser's open session
 *
 * The price comes from scripts/water.lua `price` with the holder's volume already drawn that
 * campus day (kept here, per holder, day and service) for the daily free quota. A dispenser
 * that stays silent past `timeout` is settled by a timer at its last reading (voided without
 * one) through host->hold_settle. One open session per dispenser and per holder: the database
 * enforces both with unique columns (open_dispenser, open_person).
 */
#include <ykt/plugin.h>
#include <ykt/plugin_util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATER_MAX_ML       1000000000LL /* the rule's bound: 1000 m3 */
#define WATER_SETTLE_BATCH 64

typedef struct water {
    ykt_plugin *self;
    const ykt_host *host;
    int64_t timeout_ms;     /* silence after which a session is settled */
    int64_t max_session_ms; /* a session is settled at this age whatever it reports */
    int64_t max_hold;       /* fen: the largest pre-authorisation */
    int64_t hold_timeout_ms;
    char department[64]; /* "" = any department administrator */
    /* The silent-dispenser timer: a session whose settlement could not be recorded (its
     * tick was undone) is left out of the next tick and retried alone in the one after, so
     * that it does not hold every other silent session back. 0: none. */
    int64_t failed_id;
    int retry_turn;
} water;

static const char *const schema[] = {
    /* version 1 */
    "CREATE TABLE water_dispensers ("
    " id TEXT PRIMARY KEY,"
    " building TEXT NOT NULL,"
    " service TEXT NOT NULL CHECK (service IN ('hot', 'drinking')),"
    " added_at INTEGER NOT NULL) STRICT;"
    "CREATE TABLE water_sessions ("
    " id INTEGER PRIMARY KEY,"
    " dispenser TEXT NOT NULL,"
    " building TEXT NOT NULL,"
    " service TEXT NOT NULL,"
    " merchant TEXT NOT NULL,"
    " card_no TEXT NOT NULL,"
    " person_id INTEGER NOT NULL,"
    " person_no TEXT NOT NULL,"
    " card_type TEXT NOT NULL,"
    " hold_id INTEGER NOT NULL UNIQUE,"
    " held INTEGER NOT NULL CHECK (held > 0),"
    " day TEXT NOT NULL,"
    " started_at INTEGER NOT NULL,"
    " seen_at INTEGER NOT NULL,"
    " reading_ml INTEGER CHECK (reading_ml >= 0),"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),"
    /* One open session per dispenser and per holder, enforced by the database: these are
     * the dispenser and the holder while the session is open, NULL once it is closed. */
    " open_dispenser TEXT UNIQUE,"
    " open_person INTEGER UNIQUE,"
    " end_reason TEXT,"
    " litres_ml INTEGER,"
    " free_ml INTEGER,"
    " cost INTEGER,"
    " charged INTEGER,"
    " uncharged INTEGER,"
    " payment_id INTEGER,"
    " ended_at INTEGER,"
    " CHECK ((status = 'open') = (open_dispenser IS NOT NULL AND open_person IS NOT NULL)),"
    /* The reports' index (by campus day and building). */
    " UNIQUE (day, building, id)) STRICT;"
    "CREATE TABLE water_usage ("
    " person_id INTEGER NOT NULL,"
    " day TEXT NOT NULL,"
    " service TEXT NOT NULL,"
    " ml INTEGER NOT NULL CHECK (ml >= 0),"
    " PRIMARY KEY (person_id, day, service)) STRICT;",
    /* version 2: indexes for the listings by dispenser and by holder (a year of draws is
     * millions of rows; without them each listing scanned the whole table). */
    "CREATE INDEX water_sessions_dispenser ON water_sessions (dispenser, id);"
    "CREATE INDEX water_sessions_person ON water_sessions (person_no, id);",
};

/* An open session as the settlement needs it. */
typedef struct session {
    int64_t id;
    char dispenser[40];
    char service[16];
    char card_type[16];
    char day[11];
    int64_t person_id;
    int64_t hold_id;
    int64_t held;
    int64_t reading_ml; /* -1: no reading yet */
    int64_t started_at;
    int64_t seen_at;
    int open;
} session;

/* ---- small helpers ---- */

static int valid_service(const char *s)
{
    return strcmp(s, "hot") == 0 || strcmp(s, "drinking") == 0;
}

static int valid_day(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

static void copy(char *dst, size_t len, const unsigned char *src)
{
    snprintf(dst, len, "%s", src ? (const char *)src : "");
}

static int64_t option_int(water *w, const char *key, const char *value, int64_t def, int64_t min,
                          int64_t max, int *bad)
{
    int64_t v = def;
    if (value != NULL && !ykt_pu_parse_int(value, min, max, &v)) {
        w->host->log(w->self, YKT_PLUGIN_LOG_ERROR,
                     "option %s = %s: must be a whole number from %lld to %lld", key, value,
                     (long long)min, (long long)max);
        *bad = 1;
    }
    return v;
}

/* Department administrators of another department may not run the subsystem's commands
 * when `department` is set (R-D); the superuser and other roles the command admits may. */
static int admin_allowed(water *w, ykt_request *r)
{
    if (w->department[0] == '\0')
        return 1;
    unsigned role = 0;
    const char *dept = "";
    if (w->host->operator_info(r, &role, &dept) != YKT_PLUGIN_OK)
        return 1;
    if ((role & (YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD)) == 0 ||
        strcmp(dept ? dept : "", w->department) == 0)
        return 1;
    w->host->reply_error(r, "FORBIDDEN", "the water subsystem is run by department %s",
                         w->department);
    return 0;
}

/* ---- the registry and sessions ---- */

/* Loads a dispenser; returns 1 when registered. */
static int dispenser_get(water *w, const char *id, char *building, size_t blen, char *service,
                         size_t slen)
{
    sqlite3_stmt *st =
        w->host->db_stmt(w->self, "SELECT building, service FROM water_dispensers WHERE id = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy(building, blen, sqlite3_column_text(st, 0));
        copy(service, slen, sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static void session_read(sqlite3_stmt *st, session *s)
{
    memset(s, 0, sizeof *s);
    s->id = sqlite3_column_int64(st, 0);
    copy(s->dispenser, sizeof s->dispenser, sqlite3_column_text(st, 1));
    copy(s->service, sizeof s->service, sqlite3_column_text(st, 2));
    copy(s->card_type, sizeof s->card_type, sqlite3_column_text(st, 3));
    copy(s->day, sizeof s->day, sqlite3_column_text(st, 4));
    s->person_id = sqlite3_column_int64(st, 5);
    s->hold_id = sqlite3_column_int64(st, 6);
    s->held = sqlite3_column_int64(st, 7);
    s->reading_ml = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8);
    s->started_at = sqlite3_column_int64(st, 9);
    s->seen_at = sqlite3_column_int64(st, 10);
    s->open = strcmp((const char *)sqlite3_column_text(st, 11), "open") == 0;
}

/* Loads session `id`; 1 found, 0 not, -1 storage error. */
static int session_get(water *w, int64_t id, session *s)
{
    sqlite3_stmt *st = w->host->db_stmt(
        w->self, "SELECT id, dispenser, service, card_type, day, person_id, hold_id, held, "
                 "reading_ml, started_at, seen_at, status FROM water_sessions WHERE id = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        session_read(st, s);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The open session of a dispenser or of a holder (whichever is non-NULL / non-zero). */
static int session_open_of(water *w, const char *dispenser, int64_t person_id, session *s)
{
    sqlite3_stmt *st = w->host->db_stmt(
        w->self, "SELECT id, dispenser, service, card_type, day, person_id, hold_id, held, "
                 "reading_ml, started_at, seen_at, status FROM water_sessions "
                 "WHERE open_dispenser = ?1 OR open_person = ?2 LIMIT 1");
    if (st == NULL)
        return -1;
    if (dispenser)
        sqlite3_bind_text(st, 1, dispenser, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 1);
    if (person_id)
        sqlite3_bind_int64(st, 2, person_id);
    else
        sqlite3_bind_null(st, 2);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        session_read(st, s);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* What the holder already drew on `day` of `service`. */
static int usage_get(water *w, int64_t person_id, const char *day, const char *service, int64_t *ml)
{
    sqlite3_stmt *st = w->host->db_stmt(
        w->self, "SELECT ml FROM water_usage WHERE person_id = ? AND day = ? AND service = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, person_id);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, service, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    *ml = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The rule's price of `ml` millilitres for the session's holder. r NULL: from a timer. */
static int price(water *w, ykt_request *r, const session *s, int64_t ml, int64_t *charge,
                 int64_t *free_ml)
{
    int64_t used = 0;
    if (usage_get(w, s->person_id, s->day, s->service, &used) != 0) {
        if (r)
            w->host->reply_error(r, "STORAGE_ERROR", "cannot read the day's usage");
        return -1;
    }
    ykt_rule_value args[] = {
        {.name = "litres_ml", .type = 'i', .i = ml},
        {.name = "used_today_ml", .type = 'i', .i = used},
        {.name = "card_type", .type = 's', .s = s->card_type},
        {.name = "service", .type = 's', .s = s->service},
    };
    ykt_rule_value res[] = {{.name = "charge", .type = 'i'}, {.name = "free_ml", .type = 'i'}};
    if (w->host->rule_call(r, "water", "price", args, 4, res, 2) != YKT_PLUGIN_OK)
        return -1;
    if (res[0].i < 0 || res[1].i < 0 || res[1].i > ml) {
        if (r)
            w->host->reply_error(r, "RULE_ERROR",
                                 "rule water.price answered charge %lld free_ml %lld for %lld ml",
                                 (long long)res[0].i, (long long)res[1].i, (long long)ml);
        else
            w->host->log(w->self, YKT_PLUGIN_LOG_ERROR,
                         "rule water.price answered charge %lld free_ml %lld for %lld ml",
                         (long long)res[0].i, (long long)res[1].i, (long long)ml);
        return -1;
    }
    *charge = res[0].i;
    *free_ml = res[1].i;
    return 0;
}

/* Records the end of a session and the holder's day's volume. */
static int session_close(water *w, const session *s, const char *reason, int64_t ml,
                         int64_t free_ml, int64_t cost, int64_t charged, int64_t payment_id)
{
    sqlite3_stmt *st = w->host->db_stmt(
        w->self, "UPDATE water_sessions SET status = 'closed', open_dispenser = NULL, "
                 "open_person = NULL, end_reason = ?, litres_ml = ?, "
                 "free_ml = ?, cost = ?, charged = ?, uncharged = ?, payment_id = ?, "
                 "ended_at = ? WHERE id = ? AND status = 'open'");
    if (st == NULL)
        return -1;
    int64_t target = cost < s->held ? cost : s->held;
    sqlite3_bind_text(st, 1, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, ml);
    sqlite3_bind_int64(st, 3, free_ml);
    sqlite3_bind_int64(st, 4, cost);
    sqlite3_bind_int64(st, 5, charged);
    sqlite3_bind_int64(st, 6, cost - target);
    if (payment_id > 0)
        sqlite3_bind_int64(st, 7, payment_id);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 8, w->host->now_ms());
    sqlite3_bind_int64(st, 9, s->id);
    int rc = sqlite3_step(st);
    int changed = sqlite3_changes(sqlite3_db_handle(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE || changed != 1)
        return -1;
    if (ml == 0)
        return 0;
    st = w->host->db_stmt(
        w->self, "INSERT INTO water_usage (person_id, day, service, ml) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT (person_id, day, service) DO UPDATE SET ml = ml + excluded.ml");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, s->person_id);
    sqlite3_bind_text(st, 2, s->day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, s->service, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, ml);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- verbs ---- */

/* WATER.START seq uid atc time amount cryptogram */
static void v_start(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    if (h->argc(r) != 7) {
        h->reply_error(r, "BAD_REQUEST",
                       "usage: WATER.START seq uid atc time amount cryptogram (amount: the fen "
                       "to pre-authorise)");
        return;
    }
    const ykt_terminal_info *t = h->terminal(r);
    char building[128], service[16];
    int known = dispenser_get(w, t->id, building, sizeof building, service, sizeof service);
    if (known < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the dispenser registry");
        return;
    }
    if (known == 0) {
        h->reply_error(r, "UNKNOWN_DISPENSER",
                       "dispenser %s is not registered with the water subsystem (water "
                       "dispenser-add)",
                       t->id);
        return;
    }
    if (t->owner == NULL || t->owner[0] == '\0') {
        h->reply_error(r, "NO_MERCHANT", "dispenser %s is not owned by a merchant", t->id);
        return;
    }
    /* Checked before the card is presented (its ATC is not spent on a sale that cannot
     * happen); a suspended merchant is the wallet's refusal (MERCHANT_SUSPENDED). */
    int mrc = h->merchant_status(t->owner, NULL);
    if (mrc == YKT_PLUGIN_ENOTFOUND) {
        h->log(w->self, YKT_PLUGIN_LOG_WARN,
               "dispenser %s is owned by %s, which is not a merchant: it cannot sell "
               "(yktctl merchant add %s)",
               t->id, t->owner, t->owner);
        h->reply_error(r, "NO_MERCHANT", "the owner %s of dispenser %s is not a merchant", t->owner,
                       t->id);
        return;
    }
    if (mrc != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read merchant %s", t->owner);
        return;
    }
    session busy;
    int open = session_open_of(w, t->id, 0, &busy);
    if (open < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the sessions");
        return;
    }
    if (open) {
        h->reply_error(r, "DISPENSER_BUSY",
                       "session %lld is still open at %s: stop it first (WATER.STATUS tells it)",
                       (long long)busy.id, t->id);
        return;
    }
    ykt_card_info card;
    int64_t amount = 0;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    if (amount <= 0) {
        h->reply_error(r, "BAD_REQUEST", "the amount to pre-authorise must be 1 fen or more");
        return;
    }
    if (amount > w->max_hold) {
        h->reply_error(r, "LIMIT_EXCEEDED", "a draw pre-authorises at most %lld.%02lld CNY",
                       (long long)(w->max_hold / 100), (long long)(w->max_hold % 100));
        return;
    }
    open = session_open_of(w, NULL, card.person_id, &busy);
    if (open < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the sessions");
        return;
    }
    if (open) {
        h->reply_error(r, "CARD_BUSY", "the card's holder has session %lld open at %s",
                       (long long)busy.id, busy.dispenser);
        return;
    }
    ykt_money m;
    if (h->wallet_hold(r, &card, t->owner, amount, w->hold_timeout_ms, &m) != YKT_PLUGIN_OK)
        return; /* INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, NOT_ALLOWED, ... replied */
    int64_t now = h->now_ms();
    char day[11];
    h->campus_date(now, day);
    sqlite3_stmt *st = h->db_stmt(
        w->self,
        "INSERT INTO water_sessions (dispenser, building, service, merchant, card_no, person_id, "
        "person_no, card_type, hold_id, held, day, started_at, seen_at, open_dispenser, "
        "open_person) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?1, ?6) RETURNING id");
    int64_t id = 0;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, t->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, building, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, service, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, t->owner, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, card.card_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, card.person_id);
        sqlite3_bind_text(st, 7, card.person_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 8, card.card_type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 9, m.hold_id);
        sqlite3_bind_int64(st, 10, amount);
        sqlite3_bind_text(st, 11, day, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 12, now);
        sqlite3_bind_int64(st, 13, now);
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (id == 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the session"); /* undoes the hold */
        return;
    }
    h->reply_array(r, 3);
    h->reply_int(r, id);
    h->reply_int(r, amount);
    h->reply_int(r, m.balance);
}

/* Loads the session named by argument i for this dispenser; replies and returns 0 if none. */
static int own_session(water *w, ykt_request *r, int i, session *s)
{
    const ykt_host *h = w->host;
    int64_t id;
    if (!ykt_pu_parse_int(h->arg(r, i, NULL), 1, INT64_MAX, &id)) {
        h->reply_error(r, "BAD_REQUEST", "the session is a whole number (from WATER.START)");
        return 0;
    }
    int rc = session_get(w, id, s);
    if (rc < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the session");
        return 0;
    }
    if (rc == 0 || strcmp(s->dispenser, h->terminal(r)->id) != 0) {
        h->reply_error(r, "NO_SESSION", "no session %lld at this dispenser", (long long)id);
        return 0;
    }
    if (!s->open) {
        h->reply_error(r, "SESSION_CLOSED", "session %lld is already settled", (long long)id);
        return 0;
    }
    return 1;
}

/* A reading: cumulative millilitres of the session, never less than the last one. */
static int parse_reading(water *w, ykt_request *r, const char *text, const session *s, int64_t *ml)
{
    if (!ykt_pu_parse_int(text, 0, WATER_MAX_ML, ml)) {
        w->host->reply_error(r, "BAD_REQUEST",
                             "a reading is the session's volume so far in millilitres, 0 to %lld",
                             (long long)WATER_MAX_ML);
        return 0;
    }
    if (*ml < s->reading_ml) {
        w->host->reply_error(r, "BAD_READING",
                             "reading %lld ml is below the session's last reading %lld ml",
                             (long long)*ml, (long long)s->reading_ml);
        return 0;
    }
    return 1;
}

/* WATER.READING session ml -> [cost_fen, held_fen, stop] (stop 1: the hold is used up). */
static void v_reading(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    if (h->argc(r) != 3) {
        h->reply_error(r, "BAD_REQUEST", "usage: WATER.READING session ml");
        return;
    }
    session s;
    int64_t ml, charge, free_ml;
    if (!own_session(w, r, 1, &s) || !parse_reading(w, r, h->arg(r, 2, NULL), &s, &ml))
        return;
    if (price(w, r, &s, ml, &charge, &free_ml) != 0)
        return;
    sqlite3_stmt *st =
        h->db_stmt(w->self, "UPDATE water_sessions SET reading_ml = ?, seen_at = ? WHERE id = ?");
    int rc = SQLITE_ERROR;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, ml);
        sqlite3_bind_int64(st, 2, h->now_ms());
        sqlite3_bind_int64(st, 3, s.id);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the reading");
        return;
    }
    h->reply_array(r, 3);
    h->reply_int(r, charge);
    h->reply_int(r, s.held);
    h->reply_int(r, charge >= s.held ? 1 : 0);
}

static const char *const stop_reasons[] = {"done", "card_pulled", "reconnect", "fault", NULL};

/* WATER.STOP seq session ml|- [reason] -> [charged, free_ml, litres_ml, balance] */
static void v_stop(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    int argc = h->argc(r);
    if (argc != 4 && argc != 5) {
        h->reply_error(r, "BAD_REQUEST",
                       "usage: WATER.STOP seq session ml|- [done|card_pulled|reconnect|fault]");
        return;
    }
    const char *reason = argc == 5 ? h->arg(r, 4, NULL) : "done";
    int known = 0;
    for (int i = 0; stop_reasons[i]; i++)
        known |= strcmp(reason, stop_reasons[i]) == 0;
    if (!known) {
        h->reply_error(r, "BAD_REQUEST",
                       "the reason is done, card_pulled, reconnect or fault, not %.32s", reason);
        return;
    }
    session s;
    if (!own_session(w, r, 2, &s))
        return;
    /* "-": the dispenser lost its count (it restarted): settle at the last reading. */
    const char *text = h->arg(r, 3, NULL);
    int64_t ml = s.reading_ml < 0 ? 0 : s.reading_ml;
    if (strcmp(text, "-") != 0 && !parse_reading(w, r, text, &s, &ml))
        return;
    int64_t cost = 0, free_ml = 0;
    if (ml > 0 && price(w, r, &s, ml, &cost, &free_ml) != 0)
        return;
    int64_t target = cost < s.held ? cost : s.held;
    ykt_money m;
    int rc =
        target > 0 ? h->wallet_capture(r, s.hold_id, target, &m) : h->wallet_void(r, s.hold_id, &m);
    if (rc != YKT_PLUGIN_OK)
        return;
    int64_t charged = target > 0 ? m.charged : 0;
    if (session_close(w, &s, reason, ml, free_ml, cost, charged, target > 0 ? m.payment_id : 0) !=
        0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot close the session"); /* undoes the capture */
        return;
    }
    h->reply_array(r, 4);
    h->reply_int(r, charged);
    h->reply_int(r, free_ml);
    h->reply_int(r, ml);
    h->reply_int(r, m.balance);
}

/* WATER.STATUS -> [session, held, reading_ml or null, started_at_ms] or null */
static void v_status(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    if (h->argc(r) != 1) {
        h->reply_error(r, "BAD_REQUEST", "usage: WATER.STATUS");
        return;
    }
    session s;
    int rc = session_open_of(w, h->terminal(r)->id, 0, &s);
    if (rc < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the sessions");
        return;
    }
    if (rc == 0 || strcmp(s.dispenser, h->terminal(r)->id) != 0) {
        h->reply_str(r, NULL);
        return;
    }
    h->reply_array(r, 4);
    h->reply_int(r, s.id);
    h->reply_int(r, s.held);
    if (s.reading_ml < 0)
        h->reply_str(r, NULL);
    else
        h->reply_int(r, s.reading_ml);
    h->reply_int(r, s.started_at);
}

/* ---- the silent-dispenser timer ---- */

/* Settles one session with no request: at its last reading (void without one). Returns 1
 * when it was settled (*charged says how much), 0 when it was left for a later tick with
 * nothing written, -1 when the settlement could not be recorded: then everything this tick
 * wrote is undone (undo_writes), the hold's capture or void included, so that no hold is ever
 * settled without its session saying so. */
static int settle_silent(water *w, const session *s, const char **reason, int64_t *charged)
{
    const ykt_host *h = w->host;
    int64_t ml = s->reading_ml < 0 ? 0 : s->reading_ml;
    int64_t cost = 0, free_ml = 0;
    if (ml > 0 && price(w, NULL, s, ml, &cost, &free_ml) != 0)
        return 0; /* logged; tried again at the next tick */
    int64_t target = cost < s->held ? cost : s->held;
    ykt_money m;
    const char *code = NULL;
    int64_t payment = 0;
    *charged = 0;
    if (h->hold_settle(w->self, s->hold_id, target, &m, &code) == YKT_PLUGIN_OK) {
        *charged = target > 0 ? m.charged : 0;
        payment = target > 0 ? m.payment_id : 0;
    } else if (code != NULL && strcmp(code, "HOLD_RESOLVED") == 0) {
        /* The wallet expired the hold first (the plugin was off, say): nothing was charged. */
        *reason = "hold_expired";
    } else {
        h->log(w->self, YKT_PLUGIN_LOG_ERROR, "session %lld: hold %lld not settled: %s",
               (long long)s->id, (long long)s->hold_id, code ? code : "?");
        return 0;
    }
    if (session_close(w, s, *reason, ml, free_ml, cost, *charged, payment) != 0) {
        h->undo_writes(w->self);
        h->log(w->self, YKT_PLUGIN_LOG_ERROR,
               "session %lld: cannot record its settlement: the settlement of hold %lld and "
               "everything else this tick wrote are undone; the session is tried again alone",
               (long long)s->id, (long long)s->hold_id);
        return -1;
    }
    return 1;
}

static void on_timer(void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    int64_t now = h->now_ms();
    session due[WATER_SETTLE_BATCH];
    int n = 0;
    /* Every other tick after a failure: that session alone. */
    int alone = w->failed_id != 0 && w->retry_turn;
    if (w->failed_id != 0)
        w->retry_turn = !w->retry_turn;
    sqlite3_stmt *st = h->db_stmt(
        w->self, "SELECT id, dispenser, service, card_type, day, person_id, hold_id, held, "
                 "reading_ml, started_at, seen_at, status FROM water_sessions "
                 "WHERE open_dispenser > '' AND (seen_at <= ?1 OR started_at <= ?2) "
                 "AND (?3 = 0 OR (id = ?4) = (?3 = 2)) LIMIT 64");
    if (st == NULL)
        return;
    sqlite3_bind_int64(st, 1, now - w->timeout_ms);
    sqlite3_bind_int64(st, 2, now - w->max_session_ms);
    sqlite3_bind_int(st, 3, w->failed_id == 0 ? 0 : alone ? 2 : 1);
    sqlite3_bind_int64(st, 4, w->failed_id);
    while (n < WATER_SETTLE_BATCH && sqlite3_step(st) == SQLITE_ROW)
        session_read(st, &due[n++]);
    sqlite3_reset(st);
    if (alone && n == 0)
        w->failed_id = 0; /* settled or closed meanwhile, or not due any more */
    const char *reasons[WATER_SETTLE_BATCH];
    int64_t charged[WATER_SETTLE_BATCH];
    int settled[WATER_SETTLE_BATCH] = {0};
    for (int i = 0; i < n; i++) {
        reasons[i] = due[i].seen_at <= now - w->timeout_ms ? "timeout" : "max_session";
        int rc = settle_silent(w, &due[i], &reasons[i], &charged[i]);
        if (rc < 0) {
            /* The tick is undone: say nothing of the sessions settled before this one. */
            if (w->failed_id != due[i].id)
                w->retry_turn = 0;
            w->failed_id = due[i].id;
            return;
        }
        settled[i] = rc;
    }
    if (alone && n > 0 && settled[0])
        w->failed_id = 0;
    for (int i = 0; i < n; i++)
        if (settled[i])
            h->log(w->self, YKT_PLUGIN_LOG_INFO,
                   "session %lld at %s settled (%s): %lld ml, %lld fen charged",
                   (long long)due[i].id, due[i].dispenser, reasons[i],
                   (long long)(due[i].reading_ml < 0 ? 0 : due[i].reading_ml),
                   (long long)charged[i]);
}

/* ---- admin commands ---- */

/* A dispenser must be a registered terminal of type dispenser, owned by a merchant (the one
 * its sales pay): checked when it is registered, not when the first holder is refused.
 * Replies and returns 0 when it is not. A suspended merchant is accepted: the wallet refuses
 * its sales (MERCHANT_SUSPENDED) until it is active again. */
static int dispenser_terminal_ok(water *w, ykt_request *r, const char *id)
{
    const ykt_host *h = w->host;
    ykt_terminal_info t;
    if (h->terminal_get(id, &t) != YKT_PLUGIN_OK) {
        h->reply_error(r, "UNKNOWN_TERMINAL",
                       "no terminal %s is registered (yktctl terminal add %s --type dispenser "
                       "--owner MERCHANT)",
                       id, id);
        return 0;
    }
    if (t.type != YKT_TERM_DISPENSER) {
        h->reply_error(r, "WRONG_TERMINAL_TYPE",
                       "terminal %s is a %s terminal, not a dispenser: only dispensers send "
                       "WATER.*",
                       id, ykt_pu_terminal_type(t.type));
        return 0;
    }
    if (t.owner == NULL || t.owner[0] == '\0') {
        h->reply_error(r, "NO_MERCHANT",
                       "dispenser %s has no owning merchant to sell for (yktctl terminal add "
                       "--owner)",
                       id);
        return 0;
    }
    int rc = h->merchant_status(t.owner, NULL);
    if (rc == YKT_PLUGIN_ENOTFOUND) {
        h->reply_error(r, "NO_MERCHANT",
                       "dispenser %s is owned by %s, which is not a merchant (yktctl merchant "
                       "add %s)",
                       id, t.owner, t.owner);
        return 0;
    }
    if (rc != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read merchant %s", t.owner);
        return 0;
    }
    return 1;
}

static void a_dispenser_add(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    if (!admin_allowed(w, r))
        return;
    const char *id = h->arg(r, 0, NULL);
    const char *building = h->opt(r, "building");
    const char *service = h->opt(r, "service");
    if (!ykt_pu_is_ident(id, 32)) {
        h->reply_error(r, "BAD_REQUEST", "a dispenser is its terminal id (letters, digits, -_.)");
        return;
    }
    if (!ykt_pu_valid_text(building, 64)) {
        h->reply_error(r, "BAD_REQUEST", "--building is 1 to 64 printable bytes");
        return;
    }
    if (!valid_service(service)) {
        h->reply_error(r, "BAD_REQUEST", "--service is hot or drinking");
        return;
    }
    if (!dispenser_terminal_ok(w, r, id))
        return;
    sqlite3_stmt *st = h->db_stmt(w->self, "INSERT INTO water_dispensers (id, building, service, "
                                           "added_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    int rc = SQLITE_ERROR, changed = 0;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, building, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, service, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, h->now_ms());
        rc = sqlite3_step(st);
        changed = sqlite3_changes(sqlite3_db_handle(st));
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        h->reply_error(r, "STORAGE_ERROR", "cannot register the dispenser");
        return;
    }
    if (changed == 0) {
        h->reply_error(r, "EXISTS", "dispenser %s is already registered", id);
        return;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "building=%s service=%s", building, service);
    if (h->audit(r, "water.dispenser_add", id, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot audit");
        return;
    }
    static const char *const cols[] = {"dispenser", "building", "service"};
    h->table_begin(r, "RECORD", 3, cols);
    h->table_row(r);
    h->table_str(r, id);
    h->table_str(r, building);
    h->table_str(r, service);
    h->table_send(r);
}

static void a_dispenser_set(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    if (!admin_allowed(w, r))
        return;
    const char *id = h->arg(r, 0, NULL);
    const char *building = h->opt(r, "building");
    const char *service = h->opt(r, "service");
    if (building == NULL && service == NULL) {
        h->reply_error(r, "BAD_REQUEST", "give --building or --service");
        return;
    }
    if (building != NULL && !ykt_pu_valid_text(building, 64)) {
        h->reply_error(r, "BAD_REQUEST", "--building is 1 to 64 printable bytes");
        return;
    }
    if (service != NULL && !valid_service(service)) {
        h->reply_error(r, "BAD_REQUEST", "--service is hot or drinking");
        return;
    }
    sqlite3_stmt *st =
        h->db_stmt(w->self, "UPDATE water_dispensers SET building = coalesce(?, building), "
                            "service = coalesce(?, service) WHERE id = ?");
    int rc = SQLITE_ERROR, changed = 0;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, building, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, service, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, id, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        changed = sqlite3_changes(sqlite3_db_handle(st));
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        h->reply_error(r, "STORAGE_ERROR", "cannot change the dispenser");
        return;
    }
    if (changed == 0) {
        h->reply_error(r, "NOT_FOUND", "no dispenser %.40s", id);
        return;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "building=%s service=%s", building ? building : "(same)",
             service ? service : "(same)");
    if (h->audit(r, "water.dispenser_set", id, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot audit");
        return;
    }
    h->reply_ok(r);
}

static void a_dispenser_remove(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    if (!admin_allowed(w, r))
        return;
    const char *id = h->arg(r, 0, NULL);
    session s;
    int open = session_open_of(w, id, 0, &s);
    if (open < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the sessions");
        return;
    }
    if (open && strcmp(s.dispenser, id) == 0) {
        h->reply_error(r, "BAD_STATE", "dispenser %.40s has session %lld open", id,
                       (long long)s.id);
        return;
    }
    sqlite3_stmt *st = h->db_stmt(w->self, "DELETE FROM water_dispensers WHERE id = ?");
    int rc = SQLITE_ERROR, changed = 0;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        changed = sqlite3_changes(sqlite3_db_handle(st));
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        h->reply_error(r, "STORAGE_ERROR", "cannot remove the dispenser");
        return;
    }
    if (changed == 0) {
        h->reply_error(r, "NOT_FOUND", "no dispenser %.40s", id);
        return;
    }
    if (h->audit(r, "water.dispenser_remove", id, "") != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot audit");
        return;
    }
    h->reply_ok(r);
}

static void a_dispensers(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    const char *building = h->opt(r, "building");
    sqlite3_stmt *st = h->db_stmt(
        w->self, "SELECT d.id, d.building, d.service, "
                 "(SELECT s.id FROM water_sessions s WHERE s.open_dispenser = d.id), "
                 "(SELECT s.seen_at FROM water_sessions s WHERE s.dispenser = d.id "
                 "ORDER BY s.id DESC LIMIT 1) "
                 "FROM water_dispensers d WHERE ?1 IS NULL OR d.building = ?1 ORDER BY d.id");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list the dispensers");
        return;
    }
    static const char *const cols[] = {"dispenser", "building", "service", "open_session",
                                       "last_seen_ms"};
    sqlite3_bind_text(st, 1, building, -1, SQLITE_TRANSIENT);
    h->table_begin(r, "TABLE", 5, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, (const char *)sqlite3_column_text(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        h->table_str(r, (const char *)sqlite3_column_text(st, 2));
        if (sqlite3_column_type(st, 3) == SQLITE_NULL)
            h->table_str(r, "");
        else
            h->table_int(r, sqlite3_column_int64(st, 3));
        h->table_int(r, sqlite3_column_int64(st, 4));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_sessions(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    const char *dispenser = h->opt(r, "dispenser");
    const char *person = h->opt(r, "person");
    const char *limit_text = h->opt(r, "limit");
    int open_only = h->opt(r, "open") != NULL;
    int64_t limit = 100;
    if (limit_text != NULL && !ykt_pu_parse_int(limit_text, 1, 10000, &limit)) {
        h->reply_error(r, "BAD_REQUEST", "--limit is 1 to 10000");
        return;
    }
    /* One statement per filter, so that each searches its index (a "?1 IS NULL OR" filter
     * would scan the whole history). */
#define SESSION_COLUMNS                                                                            \
    "SELECT id, dispenser, building, service, person_no, card_no, day, started_at, held, "         \
    "coalesce(reading_ml, -1), status, coalesce(end_reason, ''), coalesce(litres_ml, 0), "         \
    "coalesce(free_ml, 0), coalesce(cost, 0), coalesce(charged, 0), coalesce(uncharged, 0) "       \
    "FROM water_sessions "
#define SESSION_FILTER                                                                             \
    "(?1 IS NULL OR dispenser = ?1) AND (?2 IS NULL OR person_no = ?2) AND "                       \
    "(?3 = 0 OR open_dispenser > '') ORDER BY id DESC LIMIT ?4"
    sqlite3_stmt *st;
    if (dispenser != NULL)
        st = h->db_stmt(w->self, SESSION_COLUMNS "WHERE dispenser = ?1 AND " SESSION_FILTER);
    else if (person != NULL)
        st = h->db_stmt(w->self, SESSION_COLUMNS "WHERE person_no = ?2 AND " SESSION_FILTER);
    else if (open_only)
        st = h->db_stmt(w->self, SESSION_COLUMNS "WHERE id IN (SELECT id FROM water_sessions WHERE "
                                                 "open_dispenser > '') AND " SESSION_FILTER);
    else
        st = h->db_stmt(w->self, SESSION_COLUMNS "WHERE " SESSION_FILTER);
#undef SESSION_COLUMNS
#undef SESSION_FILTER
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list the sessions");
        return;
    }
    sqlite3_bind_text(st, 1, dispenser, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, person, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, open_only);
    sqlite3_bind_int64(st, 4, limit);
    static const char *const cols[] = {
        "session", "dispenser",  "building", "service",    "person",   "card",
        "day",     "started_ms", "held",     "reading_ml", "status",   "reason",
        "ml",      "free_ml",    "cost",     "charged",    "uncharged"};
    h->table_begin(r, "TABLE", 17, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        for (int c = 0; c < 17; c++) {
            if (sqlite3_column_type(st, c) == SQLITE_INTEGER)
                h->table_int(r, sqlite3_column_int64(st, c));
            else
                h->table_str(r, (const char *)sqlite3_column_text(st, c));
        }
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* water report [--from DAY] [--to DAY] [--building B] [--by day|building|both] */
static void a_report(ykt_request *r, void *ud)
{
    water *w = ud;
    const ykt_host *h = w->host;
    const char *from = h->opt(r, "from");
    const char *to = h->opt(r, "to");
    const char *building = h->opt(r, "building");
    const char *by = h->opt(r, "by") ? h->opt(r, "by") : "both";
    if ((from && !valid_day(from)) || (to && !valid_day(to))) {
        h->reply_error(r, "BAD_REQUEST", "--from and --to are campus days, YYYY-MM-DD");
        return;
    }
    int group_day = strcmp(by, "day") == 0 || strcmp(by, "both") == 0;
    int group_building = strcmp(by, "building") == 0 || strcmp(by, "both") == 0;
    if (!group_day && !group_building) {
        h->reply_error(r, "BAD_REQUEST", "--by is day, building or both");
        return;
    }
    sqlite3_stmt *st = h->db_stmt(
        w->self, "SELECT CASE WHEN ?4 THEN building ELSE '*' END AS b, "
                 "CASE WHEN ?5 THEN day ELSE '*' END AS d, count(*), sum(litres_ml), sum(free_ml), "
                 "sum(charged), sum(uncharged) FROM water_sessions WHERE status = 'closed' AND "
                 "day >= coalesce(?1, '') AND day <= coalesce(?2, '9999-99-99') AND "
                 "(?3 IS NULL OR building = ?3) GROUP BY b, d ORDER BY d, b");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot compute the report");
        return;
    }
    sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, building, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, group_building);
    sqlite3_bind_int(st, 5, group_day);
    static const char *const cols[] = {"building", "day",     "sessions",    "ml",
                                       "litres",   "free_ml", "charged_fen", "uncharged_fen"};
    h->table_begin(r, "TABLE", 8, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t ml = sqlite3_column_int64(st, 3);
        char litres[32];
        snprintf(litres, sizeof litres, "%lld.%03lld", (long long)(ml / 1000),
                 (long long)(ml % 1000));
        h->table_row(r);
        h->table_str(r, (const char *)sqlite3_column_text(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        h->table_int(r, sqlite3_column_int64(st, 2));
        h->table_int(r, ml);
        h->table_str(r, litres);
        h->table_int(r, sqlite3_column_int64(st, 4));
        h->table_int(r, sqlite3_column_int64(st, 5));
        h->table_int(r, sqlite3_column_int64(st, 6));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* ---- entry points ---- */

int ykt_plugin_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == YKT_PLUGIN_API_VERSION)
            return YKT_PLUGIN_API_VERSION;
    return -1;
}

int ykt_plugin_init(ykt_plugin *self, const ykt_host *host, void **userdata)
{
    water *w = calloc(1, sizeof *w);
    if (w == NULL)
        return YKT_PLUGIN_EINVAL;
    *userdata = w;
    w->self = self;
    w->host = host;
    /* A yktd older than these host services would hand over a shorter table. */
    if (host->size < offsetof(ykt_host, undo_writes) + sizeof host->undo_writes) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "this yktd lacks the host services the plugin needs (terminal_get, "
                  "merchant_status, pin_threshold, undo_writes): upgrade yktd");
        return YKT_PLUGIN_EINVAL;
    }
    int bad = 0;
    w->timeout_ms =
        option_int(w, "timeout", host->option(self, "timeout"), 120, 1, 86400, &bad) * 1000;
    w->max_session_ms =
        option_int(w, "max_session", host->option(self, "max_session"), 3600, 60, 86400, &bad) *
        1000;
    /* Below the core's PIN threshold (200.00 CNY): a dispenser has no keypad. */
    /* A dispenser has no keypad: a hold must stay below the amount the core asks the
     * payment password for ([cards] pin_threshold). */
    int64_t below_pin = host->pin_threshold() - 1;
    if (below_pin < 1) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "[cards] pin_threshold is 1 fen: every hold would need a payment password, "
                  "which a dispenser cannot take");
        bad = 1;
        below_pin = 1;
    }
    w->max_hold = option_int(w, "max_hold", host->option(self, "max_hold"),
                             2000 < below_pin ? 2000 : below_pin, 1, below_pin, &bad);
    const char *dept = host->option(self, "department");
    if (dept != NULL && strlen(dept) >= sizeof w->department) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "option department is too long");
        bad = 1;
    }
    snprintf(w->department, sizeof w->department, "%s", dept ? dept : "");
    if (bad)
        return YKT_PLUGIN_EINVAL;
    /* The wallet voids a hold nobody resolves at its expiry; the timer settles first. */
    w->hold_timeout_ms = w->max_session_ms + w->timeout_ms + 600000;
    if (host->db_migrate(self, schema, 2) != YKT_PLUGIN_OK)
        return YKT_PLUGIN_ESTORAGE;

    const unsigned money = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    const unsigned admin = YKT_PLUGIN_ROLE_DEPT_ADMIN;
    const unsigned readers = YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD |
                             YKT_PLUGIN_ROLE_FINANCE | YKT_PLUGIN_ROLE_AUDITOR |
                             YKT_PLUGIN_ROLE_OPERATOR;
    int rc = host->verb_register(self, "WATER.START", YKT_TERM_DISPENSER, money, v_start, w,
                                 "WATER.START seq uid atc time amount cryptogram");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "WATER.READING", YKT_TERM_DISPENSER, YKT_VERB_CHANGES,
                                 v_reading, w, "WATER.READING session ml");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "WATER.STOP", YKT_TERM_DISPENSER, money, v_stop, w,
                                 "WATER.STOP seq session ml|- [done|card_pulled|reconnect|fault]");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "WATER.STATUS", YKT_TERM_DISPENSER, 0, v_status, w,
                                 "WATER.STATUS");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "water", "dispenser-add", admin, 1, "building=! service=!",
                                  1, 1, a_dispenser_add, w,
                                  "water dispenser-add TERMINAL --building B --service "
                                  "hot|drinking",
                                  "Register a dispenser with its building and service.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "water", "dispenser-set", admin, 1, "building= service=", 1,
                                  1, a_dispenser_set, w,
                                  "water dispenser-set TERMINAL [--building B] [--service S]",
                                  "Change a dispenser's building or service.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "water", "dispenser-remove", admin, 1, "", 1, 1,
                                  a_dispenser_remove, w, "water dispenser-remove TERMINAL",
                                  "Take a dispenser out of the registry (no open session).");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "water", "dispensers", readers, 0, "building=", 0, 0,
                                  a_dispensers, w, "water dispensers [--building B]",
                                  "The dispenser registry.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "water", "sessions", readers, 0,
                                  "dispenser= person= open limit=", 0, 0, a_sessions, w,
                                  "water sessions [--dispenser T] [--person NO] [--open] "
                                  "[--limit N]",
                                  "Draws, newest first.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "water", "report", readers, 0, "from= to= building= by=", 0,
                                  0, a_report, w,
                                  "water report [--from DAY] [--to DAY] [--building B] "
                                  "[--by day|building|both]",
                                  "Litres and money per building and per day.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->timer_every(self, 1000, on_timer, w);
    if (rc == YKT_PLUGIN_OK)
        host->log(self, YKT_PLUGIN_LOG_INFO,
                  "ready: timeout %llds, max session %llds, at most %lld fen held",
                  (long long)(w->timeout_ms / 1000), (long long)(w->max_session_ms / 1000),
                  (long long)w->max_hold);
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    free(userdata);
}
