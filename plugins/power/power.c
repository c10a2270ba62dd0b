/*
 * power: dormitory electricity bought by card for a room (R-E).
 *
 * Rooms (with a meter terminal and a building) and their residents are registered by admin
 * commands. Any resident buys electricity for their room with their card:
 *
 *   POWER.BUY     <card args, amount = fen to spend> room [pin]   at a kiosk or POS
 *   POWER.ROOM    room                                            the room's balance
 *   POWER.READING reading_wh                                      the meter's register
 *   POWER.POLL                                                    the meter's pending commands
 *   POWER.ACK     command                                         the meter carried one out
 *
 * The energy a payment buys comes from scripts/power.lua `price` (monthly tiers by what the
 * room bought this month). Each room gets `free_wh` every campus month, used before what it
 * bought. Readings decrease the room's balance; when free quota and balance are used up the
 * meter is told to cut the supply off, and to restore it once the room has energy again. The
 * commands wait in a queue the meter polls (POWER.POLL, POWER.ACK), so a meter that was
 * offline receives them when it comes back; only the latest command of a room is pending.
 */
#include <ykt/plugin.h>
#include <ykt/plugin_util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POWER_MAX_WH      100000000LL /* the rule's bound: 100 MWh */
#define POWER_MAX_READING 1000000000000LL
#define POWER_PIN_SLOTS   64

/* A purchase waiting for its payment password, by (terminal, seq): done() gets another
 * request handle than the handler had, and is not called at all after a wrong password. */
typedef struct pin_wait {
    char terminal[40];
    int64_t seq; /* 0: free */
    char card_no[40];
} pin_wait;

typedef struct power {
    ykt_plugin *self;
    const ykt_host *host;
    char merchant[64];
    int64_t free_wh;      /* per room and campus month */
    int64_t max_purchase; /* fen */
    int merchant_known;   /* merchant_status found `merchant` (merchants are never deleted) */
    char department[64];
    pin_wait pins[POWER_PIN_SLOTS]; /* purchases waiting for their payment password */
    int next_pin;
    char rolled_month[8]; /* every room has this month's quota ("": not checked yet) */
} power;

typedef struct room {
    char id[40];
    char building[80];
    char meter[40]; /* "" = none */
    int64_t balance_wh;
    int64_t free_wh;
    char free_month[8];
    int64_t reading_wh; /* -1: none yet */
    int on;
} room;

static const char *const schema[] = {
    /* version 1 */
    "CREATE TABLE power_rooms ("
    " id TEXT PRIMARY KEY,"
    " building TEXT NOT NULL,"
    " meter TEXT UNIQUE,"
    " balance_wh INTEGER NOT NULL DEFAULT 0," /* bought, not used; below 0: used beyond it */
    " free_wh INTEGER NOT NULL DEFAULT 0 CHECK (free_wh >= 0)," /* this month's quota left */
    " free_month TEXT NOT NULL DEFAULT '',"
    " reading_wh INTEGER,"
    " reading_at INTEGER,"
    " supply TEXT NOT NULL DEFAULT 'on' CHECK (supply IN ('on', 'off')),"
    " supply_at INTEGER,"
    " meter_state TEXT NOT NULL DEFAULT 'unknown' CHECK (meter_state IN ('unknown', 'on', "
    "'off')),"
    " polled_at INTEGER,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (building, id)) STRICT;"
    "CREATE TABLE power_residents ("
    " person_no TEXT PRIMARY KEY,"
    " person_id INTEGER NOT NULL UNIQUE,"
    " room TEXT NOT NULL REFERENCES power_rooms (id),"
    " added_at INTEGER NOT NULL,"
    " UNIQUE (room, person_no)) STRICT;"
    "CREATE TABLE power_purchases ("
    " id INTEGER PRIMARY KEY,"
    " room TEXT NOT NULL,"
    " person_id INTEGER NOT NULL,"
    " person_no TEXT NOT NULL,"
    " card_no TEXT NOT NULL,"
    " terminal TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " charged INTEGER NOT NULL,"
    " wh INTEGER NOT NULL CHECK (wh > 0),"
    " month TEXT NOT NULL,"
    " payment_id INTEGER NOT NULL,"
    " at INTEGER NOT NULL,"
    " UNIQUE (room, id)) STRICT;"
    "CREATE TABLE power_usage ("
    " room TEXT NOT NULL,"
    " month TEXT NOT NULL,"
    " bought_wh INTEGER NOT NULL DEFAULT 0,"
    " bought_fen INTEGER NOT NULL DEFAULT 0,"
    " used_wh INTEGER NOT NULL DEFAULT 0,"
    " free_used_wh INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (room, month)) STRICT;"
    "CREATE TABLE power_commands ("
    " id INTEGER PRIMARY KEY,"
    " room TEXT NOT NULL,"
    " meter TEXT NOT NULL,"
    " command TEXT NOT NULL CHECK (command IN ('cut', 'restore')),"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'acked', 'superseded')),"
    " created_at INTEGER NOT NULL,"
    " delivered_at INTEGER,"
    " acked_at INTEGER,"
    " UNIQUE (meter, status, id)) STRICT;",
    /* version 2: a room's pending command (superseding it, the rooms listing) is found by
     * index, not by scanning every command ever queued. */
    "CREATE INDEX power_commands_room ON power_commands (room, status);",
};

/* ---- small helpers ---- */

static int valid_month(const char *s)
{
    if (strlen(s) != 7 || s[4] != '-')
        return 0;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return s[5] == '0' ? s[6] >= '1' : s[5] == '1' && s[6] <= '2';
}

static void copy(char *dst, size_t len, const unsigned char *src)
{
    snprintf(dst, len, "%s", src ? (const char *)src : "");
}

static void this_month(power *p, char out[8])
{
    char day[11];
    p->host->campus_date(p->host->now_ms(), day);
    memcpy(out, day, 7);
    out[7] = '\0';
}

static int64_t option_int(power *p, const char *key, const char *value, int64_t def, int64_t min,
                          int64_t max, int *bad)
{
    int64_t v = def;
    if (value != NULL && !ykt_pu_parse_int(value, min, max, &v)) {
        p->host->log(p->self, YKT_PLUGIN_LOG_ERROR,
                     "option %s = %s: must be a whole number from %lld to %lld", key, value,
                     (long long)min, (long long)max);
        *bad = 1;
    }
    return v;
}

static int admin_allowed(power *p, ykt_request *r)
{
    if (p->department[0] == '\0')
        return 1;
    unsigned role = 0;
    const char *dept = "";
    if (p->host->operator_info(r, &role, &dept) != YKT_PLUGIN_OK)
        return 1;
    if ((role & (YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD)) == 0 ||
        strcmp(dept ? dept : "", p->department) == 0)
        return 1;
    p->host->reply_error(r, "FORBIDDEN", "the electricity subsystem is run by department %s",
                         p->department);
    return 0;
}

/* Runs a prepared write to completion; 0 or -1. */
static int step_done(sqlite3_stmt *st)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- rooms ---- */

static void room_read(sqlite3_stmt *st, room *rm)
{
    memset(rm, 0, sizeof *rm);
    copy(rm->id, sizeof rm->id, sqlite3_column_text(st, 0));
    copy(rm->building, sizeof rm->building, sqlite3_column_text(st, 1));
    copy(rm->meter, sizeof rm->meter, sqlite3_column_text(st, 2));
    rm->balance_wh = sqlite3_column_int64(st, 3);
    rm->free_wh = sqlite3_column_int64(st, 4);
    copy(rm->free_month, sizeof rm->free_month, sqlite3_column_text(st, 5));
    rm->reading_wh = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6);
    rm->on = strcmp((const char *)sqlite3_column_text(st, 7), "on") == 0;
}

/* A room by id (meter NULL) or by meter (id NULL): 1 found, 0 not, -1 storage error. */
static int room_get(power *p, const char *id, const char *meter, room *rm)
{
    sqlite3_stmt *st = p->host->db_stmt(
        p->self, "SELECT id, building, meter, balance_wh, free_wh, free_month, reading_wh, "
                 "supply FROM power_rooms WHERE id = ?1 OR meter = ?2");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, meter, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        room_read(st, rm);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int room_save(power *p, const room *rm)
{
    sqlite3_stmt *st = p->host->db_stmt(
        p->self, "UPDATE power_rooms SET balance_wh = ?, free_wh = ?, free_month = ?, "
                 "supply = ? WHERE id = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, rm->balance_wh);
    sqlite3_bind_int64(st, 2, rm->free_wh);
    sqlite3_bind_text(st, 3, rm->free_month, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, rm->on ? "on" : "off", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, rm->id, -1, SQLITE_TRANSIENT);
    return step_done(st);
}

/* Tells every resident of the room. */
static void notify_residents(power *p, const room *rm, const char *kind, const char *message)
{
    int64_t ids[64];
    int n = 0;
    sqlite3_stmt *st =
        p->host->db_stmt(p->self, "SELECT person_id FROM power_residents WHERE room = ?");
    if (st == NULL)
        return;
    sqlite3_bind_text(st, 1, rm->id, -1, SQLITE_TRANSIENT);
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    for (int i = 0; i < n; i++)
        if (p->host->notify(ids[i], kind, message, 0) != YKT_PLUGIN_OK)
            p->host->log(p->self, YKT_PLUGIN_LOG_WARN, "cannot notify a resident of %s", rm->id);
}

/* Queues `command` for the room's meter; an older pending command is superseded (only the
 * latest state matters to a meter that comes back). */
static int enqueue(power *p, const room *rm, const char *command)
{
    if (rm->meter[0] == '\0')
        return 0; /* no meter yet: room-set --meter queues the state then */
    sqlite3_stmt *st = p->host->db_stmt(
        p->self, "UPDATE power_commands SET status = 'superseded' WHERE room = ? AND "
                 "status = 'pending'");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, rm->id, -1, SQLITE_TRANSIENT);
    if (step_done(st) != 0)
        return -1;
    st = p->host->db_stmt(p->self, "INSERT INTO power_commands (room, meter, command, status, "
                                   "created_at) VALUES (?, ?, ?, 'pending', ?)");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, rm->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, rm->meter, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, command, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, p->host->now_ms());
    return step_done(st);
}

/* After any change of the room's energy: cut off when nothing is left, restore when there is
 * energy again. Saves the room. */
static int room_settle(power *p, room *rm)
{
    int have = rm->free_wh + rm->balance_wh > 0;
    if (have != rm->on) {
        rm->on = have;
        sqlite3_stmt *st =
            p->host->db_stmt(p->self, "UPDATE power_rooms SET supply_at = ? WHERE id = ?");
        if (st == NULL)
            return -1;
        sqlite3_bind_int64(st, 1, p->host->now_ms());
        sqlite3_bind_text(st, 2, rm->id, -1, SQLITE_TRANSIENT);
        if (step_done(st) != 0 || enqueue(p, rm, have ? "restore" : "cut") != 0)
            return -1;
        char msg[200];
        if (have)
            snprintf(msg, sizeof msg, "房间 %s 已恢复供电 / power restored in room %s", rm->id,
                     rm->id);
        else
            snprintf(msg, sizeof msg,
                     "房间 %s 电量已用完，已断电；请充值 / room %s has no electricity left and is "
                     "cut off: buy more",
                     rm->id, rm->id);
        notify_residents(p, rm, have ? "power_restore" : "power_cutoff", msg);
        p->host->log(p->self, YKT_PLUGIN_LOG_INFO, "room %s: supply %s", rm->id,
                     have ? "restored" : "cut off");
    }
    return room_save(p, rm);
}

/* A new campus month gives the room its free quota again (what was left does not carry). */
static int room_month(power *p, room *rm)
{
    char month[8];
    this_month(p, month);
    if (strcmp(rm->free_month, month) == 0)
        return 0;
    rm->free_wh = p->free_wh;
    snprintf(rm->free_month, sizeof rm->free_month, "%s", month);
    return room_settle(p, rm);
}

static int usage_add(power *p, const char *room_id, const char *month, int64_t bought_wh,
                     int64_t bought_fen, int64_t used_wh, int64_t free_used_wh)
{
    sqlite3_stmt *st = p->host->db_stmt(
        p->self, "INSERT INTO power_usage (room, month, bought_wh, bought_fen, used_wh, "
                 "free_used_wh) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (room, month) DO UPDATE "
                 "SET bought_wh = bought_wh + excluded.bought_wh, bought_fen = bought_fen + "
                 "excluded.bought_fen, used_wh = used_wh + excluded.used_wh, free_used_wh = "
                 "free_used_wh + excluded.free_used_wh");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, month, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, bought_wh);
    sqlite3_bind_int64(st, 4, bought_fen);
    sqlite3_bind_int64(st, 5, used_wh);
    sqlite3_bind_int64(st, 6, free_used_wh);
    return step_done(st);
}

static int64_t bought_this_month(power *p, const char *room_id, const char *month)
{
    sqlite3_stmt *st =
        p->host->db_stmt(p->self, "SELECT bought_wh FROM power_usage WHERE room = ? AND month = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, month, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int64_t wh = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return wh;
}

/* Loads the room named by argument i and brings its month up to date; replies on failure. */
static int load_room(power *p, ykt_request *r, const char *id, room *rm)
{
    int rc = ykt_pu_is_ident(id, 32) ? room_get(p, id, NULL, rm) : 0;
    if (rc < 0) {
        p->host->reply_error(r, "STORAGE_ERROR", "cannot read the room");
        return 0;
    }
    if (rc == 0) {
        p->host->reply_error(r, "UNKNOWN_ROOM", "no room %.32s in the electricity registry", id);
        return 0;
    }
    if (room_month(p, rm) != 0) {
        p->host->reply_error(r, "STORAGE_ERROR", "cannot update the room");
        return 0;
    }
    return 1;
}

/* The meter's room; replies on failure. */
static int meter_room(power *p, ykt_request *r, room *rm)
{
    const char *meter = p->host->terminal(r)->id;
    int rc = room_get(p, NULL, meter, rm);
    if (rc < 0) {
        p->host->reply_error(r, "STORAGE_ERROR", "cannot read the room");
        return 0;
    }
    if (rc == 0) {
        p->host->reply_error(r, "UNKNOWN_METER", "meter %s is not assigned to a room", meter);
        return 0;
    }
    if (room_month(p, rm) != 0) {
        p->host->reply_error(r, "STORAGE_ERROR", "cannot update the room");
        return 0;
    }
    return 1;
}

/* ---- buying ---- */

/* The rule's price of wh for a room that bought `used` this month. */
static int price_of(power *p, ykt_request *r, int64_t wh, int64_t used, int64_t *charge)
{
    ykt_rule_value args[] = {{.name = "kwh_milli", .type = 'i', .i = wh},
                             {.name = "used_month_milli", .type = 'i', .i = used}};
    ykt_rule_value res[] = {{.name = "charge", .type = 'i'}};
    if (p->host->rule_call(r, "power", "price", args, 2, res, 1) != YKT_PLUGIN_OK)
        return -1;
    if (res[0].i < 0) {
        p->host->reply_error(r, "RULE_ERROR", "rule power.price answered a negative charge");
        return -1;
    }
    *charge = res[0].i;
    return 0;
}

/* The most energy `amount` fen buys (price never above amount), by doubling then bisection
 * over the rule, so the tiers stay the rule's business. */
static int energy_for(power *p, ykt_request *r, int64_t amount, int64_t used, int64_t *wh,
                      int64_t *charge)
{
    int64_t cap = POWER_MAX_WH - used;
    int64_t lo = 0, hi = 1, c = 0, lo_charge = 0;
    if (cap <= 0) {
        *wh = 0;
        *charge = 0;
        return 0;
    }
    for (;;) {
        if (hi > cap)
            hi = cap;
        if (price_of(p, r, hi, used, &c) != 0)
            return -1;
        if (c > amount)
            break;
        lo = hi;
        lo_charge = c;
        if (hi == cap) {
            *wh = lo;
            *charge = lo_charge;
            return 0;
        }
        hi *= 2;
    }
    while (hi - lo > 1) { /* price(lo) <= amount < price(hi) */
        int64_t mid = lo + (hi - lo) / 2;
        if (price_of(p, r, mid, used, &c) != 0)
            return -1;
        if (c <= amount) {
            lo = mid;
            lo_charge = c;
        } else {
            hi = mid;
        }
    }
    *wh = lo;
    *charge = lo_charge;
    return 0;
}

/* The purchase itself, once the card (and the payment password, if any) is accepted. */
static void buy(power *p, ykt_request *r, const ykt_card_info *card)
{
    const ykt_host *h = p->host;
    int64_t amount = 0;
    ykt_pu_parse_int(h->arg(r, 5, NULL), 1, INT64_MAX,
                     &amount); /* checked by the card presentation */
    room rm;
    if (!load_room(p, r, h->arg(r, 7, NULL), &rm))
        return;
    char month[8];
    this_month(p, month);
    int64_t used = bought_this_month(p, rm.id, month);
    if (used < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the room's month");
        return;
    }
    int64_t wh = 0, charge = 0;
    if (energy_for(p, r, amount, used, &wh, &charge) != 0)
        return; /* RULE_ERROR replied */
    if (wh <= 0 || charge <= 0) {
        h->reply_error(r, "BAD_REQUEST", "%lld fen buys no electricity; pay more",
                       (long long)amount);
        return;
    }
    ykt_money m;
    if (h->wallet_debit(r, card, p->merchant, charge, &m) != YKT_PLUGIN_OK)
        return; /* INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, NOT_ALLOWED, ... replied */
    rm.balance_wh += wh;
    int64_t id = 0;
    sqlite3_stmt *st = h->db_stmt(
        p->self, "INSERT INTO power_purchases (room, person_id, person_no, card_no, terminal, "
                 "seq, amount, charged, wh, month, payment_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?, ?, ?) RETURNING id");
    if (st != NULL) {
        int64_t seq = 0;
        ykt_pu_parse_int(h->arg(r, 1, NULL), 1, INT64_MAX, &seq);
        sqlite3_bind_text(st, 1, rm.id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, card->person_id);
        sqlite3_bind_text(st, 3, card->person_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, card->card_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, h->terminal(r)->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, seq);
        sqlite3_bind_int64(st, 7, charge);
        sqlite3_bind_int64(st, 8, m.charged);
        sqlite3_bind_int64(st, 9, wh);
        sqlite3_bind_text(st, 10, month, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 11, m.payment_id);
        sqlite3_bind_int64(st, 12, h->now_ms());
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (id == 0 || usage_add(p, rm.id, month, wh, m.charged, 0, 0) != 0 ||
        room_settle(p, &rm) != 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the purchase"); /* undoes the debit */
        return;
    }
    h->reply_array(r, 5);
    h->reply_int(r, id);
    h->reply_int(r, wh);
    h->reply_int(r, m.charged);
    h->reply_int(r, rm.balance_wh + rm.free_wh);
    h->reply_int(r, m.balance);
}

static void buy_after_pin(ykt_request *r, void *ud)
{
    power *p = ud;
    const char *terminal = p->host->terminal(r)->id;
    int64_t seq = 0;
    ykt_pu_parse_int(p->host->arg(r, 1, NULL), 1, INT64_MAX, &seq);
    char card_no[40] = "";
    for (int i = 0; i < POWER_PIN_SLOTS; i++)
        if (p->pins[i].seq == seq && strcmp(p->pins[i].terminal, terminal) == 0) {
            snprintf(card_no, sizeof card_no, "%s", p->pins[i].card_no);
            p->pins[i].seq = 0;
            break;
        }
    ykt_card_info card;
    if (card_no[0] == '\0' || p->host->card_by_no(card_no, &card) != YKT_PLUGIN_OK) {
        p->host->reply_error(r, "INTERNAL", "the purchase was lost while checking the password");
        return;
    }
    buy(p, r, &card);
}

/* POWER.BUY seq uid atc time amount cryptogram room [pin] */
/* The `merchant` option names a merchant that may not exist yet when yktd starts (it is
 * added with yktctl once yktd runs): init only warns, and the first purchase checks it with
 * merchant_status — a clear refusal before the card is read, and a log line naming the
 * option. Suspension is the wallet's refusal (MERCHANT_SUSPENDED). */
static int merchant_ready(power *p, ykt_request *r)
{
    if (p->merchant_known)
        return 1;
    int rc = p->host->merchant_status(p->merchant, NULL);
    if (rc == YKT_PLUGIN_OK) {
        p->merchant_known = 1;
        return 1;
    }
    if (rc == YKT_PLUGIN_ENOTFOUND) {
        p->host->log(p->self, YKT_PLUGIN_LOG_ERROR,
                     "option merchant = %s: no such merchant, so no electricity can be sold "
                     "(yktctl merchant add %s --category power)",
                     p->merchant, p->merchant);
        p->host->reply_error(r, "NO_MERCHANT",
                             "the power office's merchant %s does not exist (option merchant)",
                             p->merchant);
    } else {
        p->host->reply_error(r, "STORAGE_ERROR", "cannot read merchant %s", p->merchant);
    }
    return 0;
}

static void v_buy(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    int argc = h->argc(r);
    if (argc != 8 && argc != 9) {
        h->reply_error(r, "BAD_REQUEST",
                       "usage: POWER.BUY seq uid atc time amount cryptogram room [pin]");
        return;
    }
    room rm;
    if (!load_room(p, r, h->arg(r, 7, NULL), &rm) || !merchant_ready(p, r))
        return;
    ykt_card_info card;
    int64_t amount = 0;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    sqlite3_stmt *st =
        h->db_stmt(p->self, "SELECT room FROM power_residents WHERE person_id = ? AND room = ?");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the residents");
        return;
    }
    sqlite3_bind_int64(st, 1, card.person_id);
    sqlite3_bind_text(st, 2, rm.id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        h->reply_error(r, "NOT_RESIDENT", "the card's holder is not a resident of room %s", rm.id);
        return;
    }
    if (amount <= 0) {
        h->reply_error(r, "BAD_REQUEST", "the amount to spend must be 1 fen or more");
        return;
    }
    if (amount > p->max_purchase) {
        h->reply_error(r, "LIMIT_EXCEEDED", "one purchase is at most %lld.%02lld CNY",
                       (long long)(p->max_purchase / 100), (long long)(p->max_purchase % 100));
        return;
    }
    /* R-C10: the payment password from the amount the core asks it for ([cards]
     * pin_threshold): one setting, so a kiosk never asks at another amount than a POS. */
    const char *pin = argc == 9 ? h->arg(r, 8, NULL) : NULL;
    int64_t threshold = h->pin_threshold();
    if (pin == NULL && amount >= threshold) {
        h->reply_error(r, "PIN_REQUIRED",
                       "a purchase of %lld.%02lld CNY or more needs the payment password",
                       (long long)(threshold / 100), (long long)(threshold % 100));
        return;
    }
    if (pin == NULL) {
        buy(p, r, &card);
        return;
    }
    /* R-C10: the password is checked off the loop; a PIN sent below the threshold too. */
    const char *terminal = h->terminal(r)->id;
    int64_t seq = 0;
    ykt_pu_parse_int(h->arg(r, 1, NULL), 1, INT64_MAX, &seq); /* checked by the card presentation */
    pin_wait *slot = &p->pins[p->next_pin];
    for (int i = 0; i < POWER_PIN_SLOTS; i++)
        if (p->pins[i].seq == seq && strcmp(p->pins[i].terminal, terminal) == 0)
            slot = &p->pins[i]; /* the terminal's retry after a transient failure */
    if (slot == &p->pins[p->next_pin])
        p->next_pin = (p->next_pin + 1) % POWER_PIN_SLOTS;
    snprintf(slot->terminal, sizeof slot->terminal, "%s", terminal);
    slot->seq = seq;
    snprintf(slot->card_no, sizeof slot->card_no, "%s", card.card_no);
    if (h->card_check_password(r, &card, "pay", pin, buy_after_pin, p) != YKT_PLUGIN_OK)
        slot->seq = 0; /* refused and replied */
}

/* POWER.ROOM room -> [energy_wh, free_wh, balance_wh, supply] */
static void v_room(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    if (h->argc(r) != 2) {
        h->reply_error(r, "BAD_REQUEST", "usage: POWER.ROOM room");
        return;
    }
    room rm;
    if (!load_room(p, r, h->arg(r, 1, NULL), &rm))
        return;
    h->reply_array(r, 4);
    h->reply_int(r, rm.free_wh + rm.balance_wh);
    h->reply_int(r, rm.free_wh);
    h->reply_int(r, rm.balance_wh);
    h->reply_str(r, rm.on ? "on" : "off");
}

/* ---- the meter's side ---- */

static int64_t pending_count(power *p, const char *meter)
{
    sqlite3_stmt *st = p->host->db_stmt(
        p->self, "SELECT count(*) FROM power_commands WHERE meter = ? AND status = 'pending'");
    if (st == NULL)
        return 0;
    sqlite3_bind_text(st, 1, meter, -1, SQLITE_TRANSIENT);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

/* POWER.READING reading_wh -> [energy_wh, free_wh, supply, pending_commands] */
static void v_reading(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    int64_t reading;
    if (h->argc(r) != 2 || !ykt_pu_parse_int(h->arg(r, 1, NULL), 0, POWER_MAX_READING, &reading)) {
        h->reply_error(r, "BAD_REQUEST",
                       "usage: POWER.READING reading_wh (the meter's register, 0 to %lld Wh)",
                       (long long)POWER_MAX_READING);
        return;
    }
    room rm;
    if (!meter_room(p, r, &rm))
        return;
    if (reading < rm.reading_wh) {
        h->reply_error(r, "BAD_READING",
                       "reading %lld Wh is below the last one, %lld Wh (a new meter is assigned "
                       "with power room-set)",
                       (long long)reading, (long long)rm.reading_wh);
        return;
    }
    int64_t used = rm.reading_wh < 0 ? 0 : reading - rm.reading_wh;
    int64_t from_free = used < rm.free_wh ? used : rm.free_wh;
    rm.free_wh -= from_free;
    rm.balance_wh -= used - from_free;
    char month[8];
    this_month(p, month);
    sqlite3_stmt *st =
        h->db_stmt(p->self, "UPDATE power_rooms SET reading_wh = ?, reading_at = ? WHERE id = ?");
    int ok = st != NULL;
    if (ok) {
        sqlite3_bind_int64(st, 1, reading);
        sqlite3_bind_int64(st, 2, h->now_ms());
        sqlite3_bind_text(st, 3, rm.id, -1, SQLITE_TRANSIENT);
        ok = step_done(st) == 0;
    }
    if (ok && used > 0)
        ok = usage_add(p, rm.id, month, 0, 0, used, from_free) == 0;
    if (ok)
        ok = room_settle(p, &rm) == 0;
    if (!ok) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the reading");
        return;
    }
    h->reply_array(r, 4);
    h->reply_int(r, rm.free_wh + rm.balance_wh);
    h->reply_int(r, rm.free_wh);
    h->reply_str(r, rm.on ? "on" : "off");
    h->reply_int(r, pending_count(p, h->terminal(r)->id));
}

/* POWER.POLL -> [[command_id, "cut"|"restore"], ...] oldest first */
static void v_poll(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    if (h->argc(r) != 1) {
        h->reply_error(r, "BAD_REQUEST", "usage: POWER.POLL");
        return;
    }
    room rm;
    if (!meter_room(p, r, &rm))
        return;
    const char *meter = h->terminal(r)->id;
    int64_t now = h->now_ms();
    int64_t ids[16];
    int is_cut[16];
    int n = 0;
    sqlite3_stmt *st = h->db_stmt(p->self, "SELECT id, command FROM power_commands WHERE meter = "
                                           "? AND status = 'pending' ORDER BY id LIMIT 16");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the commands");
        return;
    }
    sqlite3_bind_text(st, 1, meter, -1, SQLITE_TRANSIENT);
    while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
        ids[n] = sqlite3_column_int64(st, 0);
        is_cut[n] = strcmp((const char *)sqlite3_column_text(st, 1), "cut") == 0;
        n++;
    }
    sqlite3_reset(st);
    st = h->db_stmt(p->self, "UPDATE power_commands SET delivered_at = coalesce(delivered_at, "
                             "?) WHERE meter = ? AND status = 'pending'");
    int ok = st != NULL;
    if (ok) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, meter, -1, SQLITE_TRANSIENT);
        ok = step_done(st) == 0;
    }
    st = h->db_stmt(p->self, "UPDATE power_rooms SET polled_at = ? WHERE meter = ?");
    if (ok && st != NULL) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, meter, -1, SQLITE_TRANSIENT);
        ok = step_done(st) == 0;
    }
    if (!ok) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the poll");
        return;
    }
    h->reply_array(r, n);
    for (int i = 0; i < n; i++) {
        h->reply_array(r, 2);
        h->reply_int(r, ids[i]);
        h->reply_str(r, is_cut[i] ? "cut" : "restore");
    }
}

/* POWER.ACK command -> +OK */
static void v_ack(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    int64_t id;
    if (h->argc(r) != 2 || !ykt_pu_parse_int(h->arg(r, 1, NULL), 1, INT64_MAX, &id)) {
        h->reply_error(r, "BAD_REQUEST", "usage: POWER.ACK command (an id from POWER.POLL)");
        return;
    }
    const char *meter = h->terminal(r)->id;
    sqlite3_stmt *st = h->db_stmt(
        p->self, "SELECT command, status, room FROM power_commands WHERE id = ? AND meter = ?");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the command");
        return;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, meter, -1, SQLITE_TRANSIENT);
    char command[16] = "", status[16] = "", room_id[40] = "";
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy(command, sizeof command, sqlite3_column_text(st, 0));
        copy(status, sizeof status, sqlite3_column_text(st, 1));
        copy(room_id, sizeof room_id, sqlite3_column_text(st, 2));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        h->reply_error(r, "UNKNOWN_COMMAND", "no command %lld for meter %s", (long long)id, meter);
        return;
    }
    if (strcmp(status, "acked") == 0) {
        h->reply_ok(r); /* a retry */
        return;
    }
    if (strcmp(status, "superseded") == 0) {
        h->reply_error(r, "SUPERSEDED",
                       "command %lld was replaced by a newer one: poll again and carry that out",
                       (long long)id);
        return;
    }
    int64_t now = h->now_ms();
    st = h->db_stmt(p->self,
                    "UPDATE power_commands SET status = 'acked', acked_at = ? WHERE id = ?");
    int ok = st != NULL;
    if (ok) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, id);
        ok = step_done(st) == 0;
    }
    st = h->db_stmt(p->self, "UPDATE power_rooms SET meter_state = ? WHERE id = ? AND meter = ?");
    if (ok && st != NULL) {
        sqlite3_bind_text(st, 1, strcmp(command, "cut") == 0 ? "off" : "on", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, room_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, meter, -1, SQLITE_TRANSIENT);
        ok = step_done(st) == 0;
    }
    if (!ok) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the acknowledgement");
        return;
    }
    h->reply_ok(r);
}

/* ---- a new month ---- */

/* Once a second: when the campus month has changed (while yktd ran, or across a restart),
 * gives the rooms still on an earlier month their new quota, 64 a tick, until none is left
 * (a room touched before then — a reading, a poll, a purchase — rolls over at once). */
static void on_tick(void *ud)
{
    power *p = ud;
    char month[8];
    this_month(p, month);
    if (strcmp(p->rolled_month, month) == 0)
        return;
    room due[64];
    int n = 0;
    sqlite3_stmt *st = p->host->db_stmt(
        p->self, "SELECT id, building, meter, balance_wh, free_wh, free_month, reading_wh, "
                 "supply FROM power_rooms WHERE free_month <> ? LIMIT 64");
    if (st == NULL)
        return;
    sqlite3_bind_text(st, 1, month, -1, SQLITE_TRANSIENT);
    int rc = SQLITE_DONE;
    while (n < 64 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        room_read(st, &due[n++]);
    sqlite3_reset(st);
    int failed = n == 64 ? 0 : rc != SQLITE_DONE;
    for (int i = 0; i < n; i++)
        if (room_month(p, &due[i]) != 0) {
            p->host->log(p->self, YKT_PLUGIN_LOG_ERROR, "room %s: cannot start the month",
                         due[i].id);
            failed = 1;
        }
    if (n > 0)
        p->host->log(p->self, YKT_PLUGIN_LOG_INFO, "month %s: %d rooms got their free quota", month,
                     n);
    if (n < 64 && !failed)
        snprintf(p->rolled_month, sizeof p->rolled_month, "%s", month);
}

/* ---- admin commands ---- */

static int audit_or_fail(power *p, ykt_request *r, const char *action, const char *target,
                         const char *detail)
{
    if (p->host->audit(r, action, target, detail) == YKT_PLUGIN_OK)
        return 1;
    p->host->reply_error(r, "STORAGE_ERROR", "cannot audit");
    return 0;
}

/* The meter is a registered terminal of type meter (only meters send POWER.READING, POLL and
 * ACK) that serves no other room. Replies and returns 0 otherwise. */
static int meter_free(power *p, ykt_request *r, const char *meter, const char *room_id)
{
    ykt_terminal_info t;
    if (p->host->terminal_get(meter, &t) != YKT_PLUGIN_OK) {
        p->host->reply_error(r, "UNKNOWN_TERMINAL",
                             "no terminal %s is registered (yktctl terminal add %s --type meter)",
                             meter, meter);
        return 0;
    }
    if (t.type != YKT_TERM_METER) {
        p->host->reply_error(r, "WRONG_TERMINAL_TYPE",
                             "terminal %s is a %s terminal, not a meter: only meters send "
                             "POWER.READING",
                             meter, ykt_pu_terminal_type(t.type));
        return 0;
    }
    room other;
    int rc = room_get(p, NULL, meter, &other);
    if (rc < 0) {
        p->host->reply_error(r, "STORAGE_ERROR", "cannot read the rooms");
        return 0;
    }
    if (rc == 1 && strcmp(other.id, room_id) != 0) {
        p->host->reply_error(r, "EXISTS", "meter %s already serves room %s", meter, other.id);
        return 0;
    }
    return 1;
}

static void a_room_add(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    if (!admin_allowed(p, r))
        return;
    const char *id = h->arg(r, 0, NULL);
    const char *building = h->opt(r, "building");
    const char *meter = h->opt(r, "meter");
    if (!ykt_pu_is_ident(id, 32)) {
        h->reply_error(r, "BAD_REQUEST", "a room id is letters, digits, -_. (at most 32)");
        return;
    }
    if (!ykt_pu_valid_text(building, 64)) {
        h->reply_error(r, "BAD_REQUEST", "--building is 1 to 64 printable bytes");
        return;
    }
    if (meter != NULL && !ykt_pu_is_ident(meter, 32)) {
        h->reply_error(r, "BAD_REQUEST", "--meter is the meter's terminal id");
        return;
    }
    room rm;
    int rc = room_get(p, id, NULL, &rm);
    if (rc != 0) {
        if (rc < 0)
            h->reply_error(r, "STORAGE_ERROR", "cannot read the rooms");
        else
            h->reply_error(r, "EXISTS", "room %s is already registered", id);
        return;
    }
    if (meter != NULL && !meter_free(p, r, meter, id))
        return;
    sqlite3_stmt *st = h->db_stmt(p->self, "INSERT INTO power_rooms (id, building, meter, "
                                           "created_at) VALUES (?, ?, ?, ?)");
    int ok = st != NULL;
    if (ok) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, building, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, meter, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, h->now_ms());
        ok = step_done(st) == 0;
    }
    /* The room starts with this month's free quota (and is cut off at once without one). */
    ok = ok && room_get(p, id, NULL, &rm) == 1 && room_month(p, &rm) == 0;
    if (!ok) {
        h->reply_error(r, "STORAGE_ERROR", "cannot register the room");
        return;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "building=%s meter=%s", building, meter ? meter : "");
    if (!audit_or_fail(p, r, "power.room_add", id, detail))
        return;
    static const char *const cols[] = {"room", "building", "meter", "energy_wh", "supply"};
    h->table_begin(r, "RECORD", 5, cols);
    h->table_row(r);
    h->table_str(r, rm.id);
    h->table_str(r, rm.building);
    h->table_str(r, rm.meter);
    h->table_int(r, rm.free_wh + rm.balance_wh);
    h->table_str(r, rm.on ? "on" : "off");
    h->table_send(r);
}

static void a_room_set(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    if (!admin_allowed(p, r))
        return;
    const char *id = h->arg(r, 0, NULL);
    const char *building = h->opt(r, "building");
    const char *meter = h->opt(r, "meter");
    if (building == NULL && meter == NULL) {
        h->reply_error(r, "BAD_REQUEST", "give --building or --meter");
        return;
    }
    if (building != NULL && !ykt_pu_valid_text(building, 64)) {
        h->reply_error(r, "BAD_REQUEST", "--building is 1 to 64 printable bytes");
        return;
    }
    if (meter != NULL && !ykt_pu_is_ident(meter, 32)) {
        h->reply_error(r, "BAD_REQUEST", "--meter is the meter's terminal id");
        return;
    }
    room rm;
    if (!load_room(p, r, id, &rm))
        return;
    if (meter != NULL && !meter_free(p, r, meter, id))
        return;
    int new_meter = meter != NULL && strcmp(meter, rm.meter) != 0;
    sqlite3_stmt *st = h->db_stmt(
        p->self, "UPDATE power_rooms SET building = coalesce(?1, building), meter = coalesce(?2, "
                 "meter), reading_wh = CASE WHEN ?3 THEN NULL ELSE reading_wh END, "
                 "meter_state = CASE WHEN ?3 THEN 'unknown' ELSE meter_state END WHERE id = ?4");
    int ok = st != NULL;
    if (ok) {
        sqlite3_bind_text(st, 1, building, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, meter, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, new_meter);
        sqlite3_bind_text(st, 4, id, -1, SQLITE_TRANSIENT);
        ok = step_done(st) == 0;
    }
    if (ok && new_meter) {
        /* The old meter's pending commands are void; the new one learns the room's state. */
        st = h->db_stmt(p->self, "UPDATE power_commands SET status = 'superseded' WHERE room = ? "
                                 "AND status = 'pending'");
        ok = st != NULL;
        if (ok) {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
            ok = step_done(st) == 0;
        }
        snprintf(rm.meter, sizeof rm.meter, "%s", meter);
        if (ok)
            ok = enqueue(p, &rm, rm.on ? "restore" : "cut") == 0;
    }
    if (!ok) {
        h->reply_error(r, "STORAGE_ERROR", "cannot change the room");
        return;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "building=%s meter=%s", building ? building : "(same)",
             meter ? meter : "(same)");
    if (audit_or_fail(p, r, "power.room_set", id, detail))
        h->reply_ok(r);
}

/* power rooms [--building B] [--cut-off] */
static void a_rooms(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    const char *building = h->opt(r, "building");
    int cut_only = h->opt(r, "cut-off") != NULL;
    sqlite3_stmt *st = h->db_stmt(
        p->self,
        "SELECT r.id, r.building, coalesce(r.meter, ''), r.free_wh + r.balance_wh, r.free_wh, "
        "r.balance_wh, r.supply, coalesce(r.supply_at, 0), r.meter_state, "
        "coalesce(r.reading_wh, -1), coalesce(r.polled_at, 0), "
        "(SELECT count(*) FROM power_residents x WHERE x.room = r.id), "
        "coalesce((SELECT c.command FROM power_commands c WHERE c.room = r.id AND c.status = "
        "'pending'), '') FROM power_rooms r WHERE (?1 IS NULL OR r.building = ?1) AND "
        "(?2 = 0 OR r.supply = 'off') ORDER BY r.building, r.id");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list the rooms");
        return;
    }
    sqlite3_bind_text(st, 1, building, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, cut_only);
    static const char *const cols[] = {"room",        "building",   "meter",        "energy_wh",
                                       "free_wh",     "balance_wh", "supply",       "supply_at_ms",
                                       "meter_state", "reading_wh", "polled_at_ms", "residents",
                                       "pending"};
    h->table_begin(r, "TABLE", 13, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        for (int c = 0; c < 13; c++) {
            if (sqlite3_column_type(st, c) == SQLITE_INTEGER)
                h->table_int(r, sqlite3_column_int64(st, c));
            else
                h->table_str(r, (const char *)sqlite3_column_text(st, c));
        }
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_resident_add(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    if (!admin_allowed(p, r))
        return;
    const char *room_id = h->arg(r, 0, NULL);
    const char *person_no = h->arg(r, 1, NULL);
    room rm;
    if (!load_room(p, r, room_id, &rm))
        return;
    ykt_card_info card;
    if (!ykt_pu_is_ident(person_no, 32) || h->person_card(person_no, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "NOT_FOUND", "no person %.32s with a live card", person_no);
        return;
    }
    sqlite3_stmt *st = h->db_stmt(p->self, "SELECT room FROM power_residents WHERE person_id = ?");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the residents");
        return;
    }
    sqlite3_bind_int64(st, 1, card.person_id);
    char current[40] = "";
    if (sqlite3_step(st) == SQLITE_ROW)
        copy(current, sizeof current, sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (current[0] != '\0') {
        h->reply_error(r, "EXISTS", "%s is already a resident of room %s (resident-remove first)",
                       person_no, current);
        return;
    }
    st = h->db_stmt(p->self, "INSERT INTO power_residents (person_no, person_id, room, "
                             "added_at) VALUES (?, ?, ?, ?)");
    int ok = st != NULL;
    if (ok) {
        sqlite3_bind_text(st, 1, card.person_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, card.person_id);
        sqlite3_bind_text(st, 3, rm.id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, h->now_ms());
        ok = step_done(st) == 0;
    }
    if (!ok) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the resident");
        return;
    }
    if (audit_or_fail(p, r, "power.resident_add", person_no, rm.id))
        h->reply_ok(r);
}

static void a_resident_remove(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    if (!admin_allowed(p, r))
        return;
    const char *room_id = h->arg(r, 0, NULL);
    const char *person_no = h->arg(r, 1, NULL);
    sqlite3_stmt *st =
        h->db_stmt(p->self, "DELETE FROM power_residents WHERE room = ? AND person_no = ?");
    int rc = SQLITE_ERROR, changed = 0;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, person_no, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        changed = sqlite3_changes(sqlite3_db_handle(st));
        sqlite3_reset(st);
    }
    if (rc != SQLITE_DONE) {
        h->reply_error(r, "STORAGE_ERROR", "cannot remove the resident");
        return;
    }
    if (changed == 0) {
        h->reply_error(r, "NOT_FOUND", "%.32s is not a resident of room %.32s", person_no, room_id);
        return;
    }
    if (audit_or_fail(p, r, "power.resident_remove", person_no, room_id))
        h->reply_ok(r);
}

static void a_residents(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    sqlite3_stmt *st =
        h->db_stmt(p->self, "SELECT person_no, room, added_at FROM power_residents WHERE room = ? "
                            "ORDER BY person_no");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list the residents");
        return;
    }
    sqlite3_bind_text(st, 1, h->arg(r, 0, NULL), -1, SQLITE_TRANSIENT);
    static const char *const cols[] = {"person", "room", "added_at_ms"};
    h->table_begin(r, "TABLE", 3, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, (const char *)sqlite3_column_text(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        h->table_int(r, sqlite3_column_int64(st, 2));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* power report [--month YYYY-MM] [--by room|building] */
static void a_report(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    char month[8];
    const char *m = h->opt(r, "month");
    const char *by = h->opt(r, "by") ? h->opt(r, "by") : "room";
    if (m != NULL && !valid_month(m)) {
        h->reply_error(r, "BAD_REQUEST", "--month is YYYY-MM");
        return;
    }
    if (m != NULL)
        snprintf(month, sizeof month, "%s", m);
    else
        this_month(p, month);
    int by_room = strcmp(by, "room") == 0;
    if (!by_room && strcmp(by, "building") != 0) {
        h->reply_error(r, "BAD_REQUEST", "--by is room or building");
        return;
    }
    sqlite3_stmt *st = h->db_stmt(
        p->self,
        "SELECT rm.building, CASE WHEN ?2 THEN rm.id ELSE '*' END AS k, count(DISTINCT rm.id), "
        "coalesce(sum(u.used_wh), 0), coalesce(sum(u.free_used_wh), 0), "
        "coalesce(sum(u.bought_wh), 0), coalesce(sum(u.bought_fen), 0), "
        "sum(rm.supply = 'off') FROM power_rooms rm LEFT JOIN power_usage u ON u.room = rm.id "
        "AND u.month = ?1 GROUP BY rm.building, k ORDER BY rm.building, k");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot compute the report");
        return;
    }
    sqlite3_bind_text(st, 1, month, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, by_room);
    static const char *const cols[] = {"month",     "building",   "room",
                                       "rooms",     "used_wh",    "free_used_wh",
                                       "bought_wh", "bought_fen", "cut_off"};
    h->table_begin(r, "TABLE", 9, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, month);
        h->table_str(r, (const char *)sqlite3_column_text(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        for (int c = 2; c < 8; c++)
            h->table_int(r, sqlite3_column_int64(st, c));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* power commands [--room R] [--pending] */
static void a_commands(ykt_request *r, void *ud)
{
    power *p = ud;
    const ykt_host *h = p->host;
    const char *room_id = h->opt(r, "room");
    int pending = h->opt(r, "pending") != NULL;
    sqlite3_stmt *st = h->db_stmt(
        p->self, "SELECT id, room, meter, command, status, created_at, coalesce(delivered_at, "
                 "0), coalesce(acked_at, 0) FROM power_commands WHERE (?1 IS NULL OR room = ?1) "
                 "AND (?2 = 0 OR status = 'pending') ORDER BY id DESC LIMIT 500");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot list the commands");
        return;
    }
    sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, pending);
    static const char *const cols[] = {"command_id",      "room",       "meter",
                                       "command",         "status",     "created_ms",
                                       "delivered_at_ms", "acked_at_ms"};
    h->table_begin(r, "TABLE", 8, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        for (int c = 0; c < 8; c++) {
            if (sqlite3_column_type(st, c) == SQLITE_INTEGER)
                h->table_int(r, sqlite3_column_int64(st, c));
            else
                h->table_str(r, (const char *)sqlite3_column_text(st, c));
        }
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
    power *p = calloc(1, sizeof *p);
    if (p == NULL)
        return YKT_PLUGIN_EINVAL;
    *userdata = p;
    p->self = self;
    p->host = host;
    /* A yktd older than these host services would hand over a shorter table. */
    if (host->size < offsetof(ykt_host, pin_threshold) + sizeof host->pin_threshold) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "this yktd lacks the host services the plugin needs (terminal_get, "
                  "merchant_status, pin_threshold): upgrade yktd");
        return YKT_PLUGIN_EINVAL;
    }
    int bad = 0;
    const char *merchant = host->option(self, "merchant");
    if (merchant == NULL || !ykt_pu_is_ident(merchant, 32)) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "option merchant is required: the merchant id (yktctl merchant add) that "
                  "electricity purchases pay");
        bad = 1;
    } else {
        snprintf(p->merchant, sizeof p->merchant, "%s", merchant);
        const char *status = NULL;
        int mrc = host->merchant_status(merchant, &status);
        if (mrc == YKT_PLUGIN_OK)
            p->merchant_known = 1;
        if (mrc == YKT_PLUGIN_ENOTFOUND)
            host->log(self, YKT_PLUGIN_LOG_WARN,
                      "option merchant = %s: no such merchant yet; purchases are refused "
                      "(NO_MERCHANT) until it is added (yktctl merchant add %s --category power)",
                      merchant, merchant);
        else if (mrc == YKT_PLUGIN_OK && strcmp(status, "active") != 0)
            host->log(self, YKT_PLUGIN_LOG_WARN,
                      "option merchant = %s: the merchant is %s; purchases are refused until it "
                      "is active",
                      merchant, status);
    }
    p->free_wh =
        option_int(p, "free_wh", host->option(self, "free_wh"), 10000, 0, POWER_MAX_WH, &bad);
    p->max_purchase =
        option_int(p, "max_purchase", host->option(self, "max_purchase"), 50000, 1, 10000000, &bad);
    /* pin_threshold was this plugin's own copy of [cards] pin_threshold; the host now tells
     * it. An old configuration that agrees is accepted with a warning; one that differs
     * would change when a password is asked for, so it stops yktd. */
    const char *old_pin = host->option(self, "pin_threshold");
    if (old_pin != NULL) {
        int64_t v = 0;
        if (ykt_pu_parse_int(old_pin, 1, INT64_MAX, &v) && v == host->pin_threshold()) {
            host->log(self, YKT_PLUGIN_LOG_WARN,
                      "option pin_threshold is obsolete: purchases ask for the payment password "
                      "at [cards] pin_threshold (%lld fen); remove it",
                      (long long)host->pin_threshold());
        } else {
            host->log(self, YKT_PLUGIN_LOG_ERROR,
                      "option pin_threshold = %s is no longer read: purchases ask for the "
                      "payment password at [cards] pin_threshold (%lld fen); remove the option, "
                      "or set [cards] pin_threshold",
                      old_pin, (long long)host->pin_threshold());
            bad = 1;
        }
    }
    const char *dept = host->option(self, "department");
    if (dept != NULL && strlen(dept) >= sizeof p->department) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "option department is too long");
        bad = 1;
    }
    snprintf(p->department, sizeof p->department, "%s", dept ? dept : "");
    if (bad)
        return YKT_PLUGIN_EINVAL;
    if (host->db_migrate(self, schema, 2) != YKT_PLUGIN_OK)
        return YKT_PLUGIN_ESTORAGE;

    const unsigned money = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    const unsigned admin = YKT_PLUGIN_ROLE_DEPT_ADMIN;
    const unsigned readers = YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD |
                             YKT_PLUGIN_ROLE_FINANCE | YKT_PLUGIN_ROLE_AUDITOR |
                             YKT_PLUGIN_ROLE_OPERATOR;
    int rc = host->verb_register(self, "POWER.BUY", YKT_TERM_KIOSK | YKT_TERM_POS, money, v_buy, p,
                                 "POWER.BUY seq uid atc time amount cryptogram room [pin]");
    /* ROOM writes when it starts a room's new month. */
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "POWER.ROOM", YKT_TERM_KIOSK | YKT_TERM_POS,
                                 YKT_VERB_CHANGES, v_room, p, "POWER.ROOM room");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "POWER.READING", YKT_TERM_METER, YKT_VERB_CHANGES, v_reading,
                                 p, "POWER.READING reading_wh");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "POWER.POLL", YKT_TERM_METER, YKT_VERB_CHANGES, v_poll, p,
                                 "POWER.POLL");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "POWER.ACK", YKT_TERM_METER, YKT_VERB_CHANGES, v_ack, p,
                                 "POWER.ACK command");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "power", "room-add", admin, 1, "building=! meter=", 1, 1,
                                  a_room_add, p, "power room-add ROOM --building B [--meter M]",
                                  "Register a dormitory room (and its meter terminal).");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "power", "room-set", admin, 1, "building= meter=", 1, 1,
                                  a_room_set, p, "power room-set ROOM [--building B] [--meter M]",
                                  "Change a room's building or meter (a new meter gets the "
                                  "room's state).");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "power", "rooms", readers, 0, "building= cut-off", 0, 0,
                                  a_rooms, p, "power rooms [--building B] [--cut-off]",
                                  "Rooms with their energy and supply; --cut-off: rooms cut off.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "power", "resident-add", admin, 1, "", 2, 2, a_resident_add,
                                  p, "power resident-add ROOM PERSON_NO",
                                  "Make a person a resident of a room.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "power", "resident-remove", admin, 1, "", 2, 2,
                                  a_resident_remove, p, "power resident-remove ROOM PERSON_NO",
                                  "A person moves out of a room.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "power", "residents", readers, 0, "", 1, 1, a_residents, p,
                                  "power residents ROOM", "A room's residents.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "power", "report", readers, 0, "month= by=", 0, 0, a_report,
                                  p, "power report [--month YYYY-MM] [--by room|building]",
                                  "Usage, free quota and purchases per room or building.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->admin_register(self, "power", "commands", readers, 0, "room= pending", 0, 0,
                                  a_commands, p, "power commands [--room R] [--pending]",
                                  "The meters' command queue, newest first.");
    if (rc == YKT_PLUGIN_OK)
        rc = host->timer_every(self, 1000, on_tick, p);
    if (rc == YKT_PLUGIN_OK)
        host->log(self, YKT_PLUGIN_LOG_INFO,
                  "ready: purchases pay %s, %lld Wh free per room and month", p->merchant,
                  (long long)p->free_wh);
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    free(userdata);
}
