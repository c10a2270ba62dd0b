/*
 * rooms: public computer rooms (R-R). A seat is a terminal of type pos registered with
 * `rooms seat`; a session starts by card at the seat (ROOMS.LOGON), holds money for its
 * longest affordable length (wallet_hold), and ends on ROOMS.LOGOUT (wallet_capture of the
 * price), or from the timer when the seat falls silent (ended at its last heartbeat) or the
 * held money or the longest session is used up (hold_settle). Prices come from
 * scripts/rooms.lua: price{minutes=, room_type=} -> {charge=}, a started minute counts whole.
 */
#define _DEFAULT_SOURCE
#include "rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT(sql) s->host->db_stmt(s->self, sql)

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

/* The rule's price of `minutes` in a room of `room_type`; r NULL from the timer (then a
 * failure is logged, not replied). */
static bool price(rooms *s, ykt_request *r, const char *room_type, int64_t minutes, int64_t *charge)
{
    ykt_rule_value args[] = {{.name = "minutes", .type = 'i', .i = minutes},
                             {.name = "room_type", .type = 's', .s = room_type}};
    ykt_rule_value res[] = {{.name = "charge", .type = 'i'}};
    if (s->host->rule_call(r, "rooms", "price", args, 2, res, 1) != YKT_PLUGIN_OK)
        return false;
    if (res[0].i < 0) {
        if (r != NULL)
            s->host->reply_error(r, "RULE_ERROR", "rule rooms.price: a negative charge");
        return false;
    }
    *charge = res[0].i;
    return true;
}

static int64_t minutes_between(int64_t from, int64_t to)
{
    if (to <= from)
        return 0;
    return (to - from + ROOMS_MIN_MS - 1) / ROOMS_MIN_MS; /* a started minute counts */
}

typedef struct session {
    int64_t id, person_id, hold_id, held, max_min, started_at, last_seen, ends_by;
    char room[40], room_type[32], seat[64];
} session;

/* The active session at a seat: 0 found, 1 none, -1 storage error. */
static int active_at_seat(rooms *s, const char *seat, session *out)
{
    sqlite3_stmt *st = STMT("SELECT id, person_id, hold_id, held, max_min, started_at, last_seen,"
                            " ends_by, room, room_type, seat FROM rooms_sessions"
                            " WHERE active_seat = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, seat, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t *nums[] = {&out->id,      &out->person_id,  &out->hold_id,   &out->held,
                           &out->max_min, &out->started_at, &out->last_seen, &out->ends_by};
        for (int i = 0; i < 8; i++)
            *nums[i] = sqlite3_column_int64(st, i);
        rooms_copy(out->room, sizeof out->room, col(st, 8));
        rooms_copy(out->room_type, sizeof out->room_type, col(st, 9));
        rooms_copy(out->seat, sizeof out->seat, col(st, 10));
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static bool session_end(rooms *s, int64_t id, const char *status, int64_t ended_at, int64_t minutes,
                        int64_t charged)
{
    sqlite3_stmt *st = STMT("UPDATE rooms_sessions SET status = ?, ended_at = ?, minutes = ?,"
                            " charged = ? WHERE id = ? AND status = 'active'");
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ended_at);
    sqlite3_bind_int64(st, 3, minutes);
    sqlite3_bind_int64(st, 4, charged);
    sqlite3_bind_int64(st, 5, id);
    return step_done(st);
}

static void v_logon(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    int64_t cap = 0;
    if (h->card_present(r, &card, &cap) != YKT_PLUGIN_OK)
        return;
    if (h->argc(r) != 7) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.LOGON <card args> (amount: 0 or a cap)");
        return;
    }
    const ykt_terminal_info *t = h->terminal(r);
    sqlite3_stmt *st = STMT("SELECT room FROM rooms_seats WHERE terminal = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, t->id, -1, SQLITE_TRANSIENT);
    char room_id[40] = "";
    if (sqlite3_step(st) == SQLITE_ROW)
        rooms_copy(room_id, sizeof room_id, col(st, 0));
    sqlite3_reset(st);
    if (room_id[0] == '\0') {
        h->reply_error(r, "NOT_A_SEAT", "terminal %s is not a seat of a computer room", t->id);
        return;
    }
    room rm;
    if (rooms_room_get(s, room_id, &rm) != 0)
        goto storage;
    int64_t now = h->now_ms();
    char day[11];
    h->campus_date(now, day);
    int weekday = 0;
    rooms_parse_day(day, &weekday);
    int64_t minute_of_day = (now - rooms_day_ms(day, 0)) / ROOMS_MIN_MS;
    if (strcmp(rm.status, "open") != 0 || strchr(rm.days, '0' + weekday) == NULL ||
        minute_of_day < rm.open_min || minute_of_day >= rm.close_min) {
        char from[8], to[8];
        rooms_fmt_hhmm(rm.open_min, from);
        rooms_fmt_hhmm(rm.close_min, to);
        h->reply_error(r, "ROOM_CLOSED", "room %s is closed now (open %s-%s on weekdays %s)", rm.id,
                       from, to, rm.days);
        return;
    }
    if (!rooms_may_book(s, r, &rm, &card))
        return;
    session cur;
    int busy = active_at_seat(s, t->id, &cur);
    if (busy < 0)
        goto storage;
    if (busy == 0) {
        h->reply_error(r, "SEAT_BUSY", "seat %s is in use", t->id);
        return;
    }
    st = STMT("SELECT seat FROM rooms_sessions WHERE active_person = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_int64(st, 1, card.person_id);
    char other[64] = "";
    if (sqlite3_step(st) == SQLITE_ROW)
        rooms_copy(other, sizeof other, col(st, 0));
    sqlite3_reset(st);
    if (other[0]) {
        h->reply_error(r, "ALREADY_SEATED", "this holder has a session at seat %s", other);
        return;
    }
    /* A session needs the minimum charge; it holds what its longest length would cost, or
     * the balance (or the cap the card signed) when that is less. */
    int64_t minimum = 0, longest = 0, balance = 0;
    if (!price(s, r, rm.room_type, 1, &minimum) ||
        !price(s, r, rm.room_type, s->max_session_min, &longest))
        return;
    if (h->wallet_balance(card.person_id, &balance) != YKT_PLUGIN_OK)
        goto storage;
    int64_t hold = longest < balance ? longest : balance;
    if (cap > 0 && cap < hold)
        hold = cap;
    if (minimum <= 0) {
        h->reply_error(r, "RULE_ERROR", "rule rooms.price: a free first minute for %s",
                       rm.room_type);
        return;
    }
    if (hold < minimum) {
        char need[32], have[32];
        rooms_fmt_cny(minimum, need);
        rooms_fmt_cny(cap > 0 && cap < balance ? cap : balance, have);
        h->reply_error(r, "INSUFFICIENT_FUNDS",
                       "a session in room %s needs at least %s CNY; %s %s CNY", rm.id, need,
                       cap > 0 && cap < balance ? "the card allows" : "the balance is", have);
        return;
    }
    /* The longest session the hold pays for (the rule's price grows with the minutes). */
    int64_t lo = 1, hi = s->max_session_min;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2, c = 0;
        if (!price(s, r, rm.room_type, mid, &c))
            return;
        if (c <= hold)
            lo = mid;
        else
            hi = mid - 1;
    }
    /* The room closes: the session ends then at the latest (and holds no more than that).
     * A room open 00:00-24:00 is open around the clock: it does not close at midnight. */
    int64_t close_ms = rooms_day_ms(day, rm.close_min);
    int64_t to_close = (close_ms - now + ROOMS_MIN_MS - 1) / ROOMS_MIN_MS;
    bool around_the_clock = rm.open_min == 0 && rm.close_min == 1440;
    int64_t ends_by = now + lo * ROOMS_MIN_MS;
    if (!around_the_clock && to_close >= 1 && to_close < lo) {
        int64_t c = 0;
        if (!price(s, r, rm.room_type, to_close, &c))
            return;
        lo = to_close;
        if (c < hold)
            hold = c;
        ends_by = close_ms;
    }
    const char *merchant = rooms_merchant(s, &rm, t);
    if (merchant == NULL) {
        h->reply_error(r, "NO_MERCHANT", "room %s has no merchant to pay", rm.id);
        return;
    }
    ykt_money m;
    /* The wallet's own expiry comes after the timer's: the timer settles first. */
    int64_t expiry = lo * ROOMS_MIN_MS + s->seat_timeout_ms + 10 * ROOMS_MIN_MS;
    if (h->wallet_hold(r, &card, merchant, hold, expiry, &m) != YKT_PLUGIN_OK)
        return;
    st = STMT("INSERT INTO rooms_sessions (room, seat, day, person_id, person_no, card_no,"
              " merchant, room_type, hold_id, held, max_min, started_at, last_seen, ends_by,"
              " status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active') RETURNING id");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, rm.id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, t->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, card.person_id);
    sqlite3_bind_text(st, 5, card.person_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, card.card_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, merchant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, rm.room_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, m.hold_id);
    sqlite3_bind_int64(st, 10, hold);
    sqlite3_bind_int64(st, 11, lo);
    sqlite3_bind_int64(st, 12, now);
    sqlite3_bind_int64(st, 13, now);
    sqlite3_bind_int64(st, 14, ends_by);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (id == 0)
        goto storage;
    h->reply_array(r, 4);
    h->reply_int(r, id);
    h->reply_int(r, hold);
    h->reply_int(r, m.balance);
    h->reply_int(r, lo);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot start the session");
}

static void v_heartbeat(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    if (h->argc(r) != 1) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.HEARTBEAT");
        return;
    }
    session cur;
    int found = active_at_seat(s, h->terminal(r)->id, &cur);
    if (found != 0) {
        if (found < 0)
            h->reply_error(r, "STORAGE_ERROR", "cannot read the session");
        else
            h->reply_error(r, "NO_SESSION", "no session at seat %s", h->terminal(r)->id);
        return;
    }
    int64_t now = h->now_ms();
    int64_t minutes = minutes_between(cur.started_at, now), charge = 0;
    if (minutes > cur.max_min)
        minutes = cur.max_min;
    if (!price(s, r, cur.room_type, minutes, &charge))
        return;
    sqlite3_stmt *st = STMT("UPDATE rooms_sessions SET last_seen = ? WHERE id = ?");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the heartbeat");
        return;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, cur.id);
    if (!step_done(st)) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the heartbeat");
        return;
    }
    h->reply_array(r, 4);
    h->reply_int(r, cur.id);
    h->reply_int(r, minutes);
    h->reply_int(r, charge < cur.held ? charge : cur.held);
    h->reply_int(r, cur.max_min - minutes);
}

static void v_logout(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    if (h->argc(r) != 2) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.LOGOUT seq");
        return;
    }
    session cur;
    int found = active_at_seat(s, h->terminal(r)->id, &cur);
    if (found != 0) {
        if (found < 0)
            h->reply_error(r, "STORAGE_ERROR", "cannot read the session");
        else
            h->reply_error(r, "NO_SESSION", "no session at seat %s", h->terminal(r)->id);
        return;
    }
    int64_t now = h->now_ms();
    int64_t minutes = minutes_between(cur.started_at, now), charge = 0;
    if (minutes > cur.max_min)
        minutes = cur.max_min;
    if (!price(s, r, cur.room_type, minutes, &charge))
        return;
    if (charge > cur.held)
        charge = cur.held;
    ykt_money m;
    int rc = charge > 0 ? h->wallet_capture(r, cur.hold_id, charge, &m)
                        : h->wallet_void(r, cur.hold_id, &m);
    if (rc != YKT_PLUGIN_OK)
        return;
    int64_t charged = charge > 0 ? m.charged : 0;
    if (!session_end(s, cur.id, "logout", now, minutes, charged) ||
        (charged > 0 &&
         rooms_record_move(s, cur.room, "seat", charged, 0, cur.id, m.payment_id) != 0)) {
        h->reply_error(r, "STORAGE_ERROR", "cannot end the session");
        return;
    }
    h->reply_array(r, 4);
    h->reply_int(r, cur.id);
    h->reply_int(r, minutes);
    h->reply_int(r, charged);
    h->reply_int(r, m.balance);
}

/* Seats silent for seat_timeout end at their last heartbeat; sessions that used up their
 * hold (or the longest session) end at that moment. The hold is settled without a request. */
void rooms_seats_tick(rooms *s, int64_t now)
{
    const ykt_host *h = s->host;
    session due[64];
    int n = 0;
    sqlite3_stmt *st = STMT("SELECT id, person_id, hold_id, held, max_min, started_at, last_seen,"
                            " ends_by, room, room_type, seat FROM rooms_sessions"
                            " WHERE status = 'active' AND (last_seen <= ? OR ends_by <= ?)"
                            " ORDER BY id LIMIT 64");
    if (st == NULL)
        return;
    sqlite3_bind_int64(st, 1, now - s->seat_timeout_ms);
    sqlite3_bind_int64(st, 2, now);
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
        session *d = &due[n++];
        int64_t *nums[] = {&d->id,      &d->person_id,  &d->hold_id,   &d->held,
                           &d->max_min, &d->started_at, &d->last_seen, &d->ends_by};
        for (int i = 0; i < 8; i++)
            *nums[i] = sqlite3_column_int64(st, i);
        rooms_copy(d->room, sizeof d->room, col(st, 8));
        rooms_copy(d->room_type, sizeof d->room_type, col(st, 9));
        rooms_copy(d->seat, sizeof d->seat, col(st, 10));
    }
    sqlite3_reset(st);
    for (int i = 0; i < n; i++) {
        session *d = &due[i];
        bool silent = d->last_seen <= now - s->seat_timeout_ms;
        int64_t end = silent && d->last_seen < d->ends_by ? d->last_seen : d->ends_by;
        const char *status = silent && d->last_seen < d->ends_by ? "timeout" : "limit";
        int64_t minutes = minutes_between(d->started_at, end), charge = 0;
        if (minutes > d->max_min)
            minutes = d->max_min;
        if (!price(s, NULL, d->room_type, minutes, &charge)) {
            if (now - s->last_rule_warn_ms > 60000) {
                s->last_rule_warn_ms = now;
                h->log(s->self, YKT_PLUGIN_LOG_ERROR,
                       "session %lld: rule rooms.price fails; the session stays open",
                       (long long)d->id);
            }
            continue;
        }
        if (charge > d->held)
            charge = d->held;
        ykt_money m = {.size = sizeof m};
        const char *code = NULL;
        int64_t charged = 0;
        if (h->hold_settle(s->self, d->hold_id, charge, &m, &code) == YKT_PLUGIN_OK) {
            charged = charge > 0 ? m.charged : 0;
        } else {
            /* The wallet voided the hold at its own expiry (yktd was down): nothing is owed. */
            h->log(s->self, YKT_PLUGIN_LOG_WARN, "session %lld: hold %lld not settled (%s)",
                   (long long)d->id, (long long)d->hold_id, code ? code : "?");
            status = "expired";
        }
        if (!session_end(s, d->id, status, end, minutes, charged) ||
            (charged > 0 &&
             rooms_record_move(s, d->room, "seat", charged, 0, d->id, m.payment_id) != 0)) {
            h->log(s->self, YKT_PLUGIN_LOG_ERROR, "session %lld: cannot record its end",
                   (long long)d->id);
            continue;
        }
        char msg[256], c[32];
        rooms_fmt_cny(charged, c);
        snprintf(msg, sizeof msg, "room %s seat %s: the session ended (%s) after %lld min, %s CNY",
                 d->room, d->seat, status, (long long)minutes, c);
        h->notify(d->person_id, "room_session", msg, charged);
        h->log(s->self, YKT_PLUGIN_LOG_INFO, "session %lld at %s ended (%s): %lld min, %lld fen",
               (long long)d->id, d->seat, status, (long long)minutes, (long long)charged);
    }
}

int rooms_seats_init(rooms *s)
{
    const ykt_host *h = s->host;
    const unsigned money = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    int rc = h->verb_register(s->self, "ROOMS.LOGON", YKT_TERM_POS, money, v_logon, s,
                              "ROOMS.LOGON <card args>");
    if (rc == 0)
        rc = h->verb_register(s->self, "ROOMS.HEARTBEAT", YKT_TERM_POS, YKT_VERB_CHANGES,
                              v_heartbeat, s, "ROOMS.HEARTBEAT");
    if (rc == 0)
        rc = h->verb_register(s->self, "ROOMS.LOGOUT", YKT_TERM_POS, money, v_logout, s,
                              "ROOMS.LOGOUT seq");
    return rc;
}
