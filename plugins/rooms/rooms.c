/*
 * rooms: bookable rooms (labs, venues) and public computer rooms (R-R).
 *
 * Booking stations (terminal type booking) book, cancel and check in by card; operators book
 * on a holder's behalf with yktctl. A slot is booked at most once: the plugin checks, and a
 * partial UNIQUE index on (room, start) refuses a second live booking whatever happens.
 * Fees and deposits move through the wallet (debit at booking, credit on a timely cancellation,
 * the deposit back at check-in). A timer releases no-shows after the room's grace period and
 * ends silent computer-room seats (rooms_seats.c). Lab doors ask this plugin through the
 * ACCESS_CHECK decision: ALLOW for a current booking, otherwise DEFER.
 *
 * See docs/plugins/rooms.md.
 */
#define _DEFAULT_SOURCE
#include "rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STMT(sql) s->host->db_stmt(s->self, sql)

static const char *const schema[] = {
    /* version 1 */
    "CREATE TABLE rooms_rooms ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('venue', 'lab', 'computer')),"
    " department TEXT NOT NULL DEFAULT '',"
    " capacity INTEGER NOT NULL CHECK (capacity > 0),"
    " open_min INTEGER NOT NULL,"
    " close_min INTEGER NOT NULL,"
    " days TEXT NOT NULL DEFAULT '1234567',"
    " slot_min INTEGER NOT NULL CHECK (slot_min BETWEEN 5 AND 1440),"
    " fee INTEGER NOT NULL DEFAULT 0 CHECK (fee >= 0),"
    " deposit INTEGER NOT NULL DEFAULT 0 CHECK (deposit >= 0),"
    " merchant TEXT NOT NULL DEFAULT '',"
    " departments TEXT NOT NULL DEFAULT '',"
    " kinds TEXT NOT NULL DEFAULT '',"
    " card_types TEXT NOT NULL DEFAULT '',"
    " list_only INTEGER NOT NULL DEFAULT 0,"
    " cancel_before INTEGER NOT NULL DEFAULT 0 CHECK (cancel_before >= 0),"
    " refund_before INTEGER NOT NULL DEFAULT 60 CHECK (refund_before >= 0),"
    " grace INTEGER NOT NULL DEFAULT 15 CHECK (grace >= 1),"
    " room_type TEXT NOT NULL DEFAULT 'public',"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),"
    " created_at INTEGER NOT NULL,"
    " CHECK (open_min >= 0 AND open_min < close_min AND close_min <= 1440)"
    ") STRICT;"
    "CREATE TABLE rooms_allow ("
    " room TEXT NOT NULL REFERENCES rooms_rooms (id),"
    " person_no TEXT NOT NULL,"
    " PRIMARY KEY (room, person_no)"
    ") STRICT;"
    "CREATE TABLE rooms_bookings ("
    " id INTEGER PRIMARY KEY,"
    " room TEXT NOT NULL REFERENCES rooms_rooms (id),"
    " day TEXT NOT NULL,"
    " slot INTEGER NOT NULL,"
    " start_ms INTEGER NOT NULL,"
    " end_ms INTEGER NOT NULL,"
    " person_id INTEGER NOT NULL,"
    " person_no TEXT NOT NULL,"
    " card_no TEXT NOT NULL,"
    " party INTEGER NOT NULL CHECK (party > 0),"
    " status TEXT NOT NULL CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled',"
    " 'no_show')),"
    " merchant TEXT NOT NULL DEFAULT '',"
    " fee INTEGER NOT NULL DEFAULT 0,"
    " deposit INTEGER NOT NULL DEFAULT 0,"
    " paid INTEGER NOT NULL DEFAULT 0 CHECK (paid >= 0),"
    " payment_id INTEGER,"
    " fee_due INTEGER NOT NULL DEFAULT 0 CHECK (fee_due >= 0),"
    " refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= paid),"
    " cancel_by_ms INTEGER NOT NULL,"
    " refund_by_ms INTEGER NOT NULL,"
    " due_ms INTEGER NOT NULL,"
    " terminal TEXT NOT NULL DEFAULT '',"
    " operator TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " checked_in_at INTEGER,"
    " ended_at INTEGER,"
    " reason TEXT NOT NULL DEFAULT '',"
    /* No double booking, ever: one live booking per room and slot. `live` is 1 for a booking
     * that holds its slot and NULL otherwise (NULLs never collide in a UNIQUE constraint). */
    " live INTEGER GENERATED ALWAYS AS (CASE WHEN status IN ('booked', 'checked_in',"
    " 'completed') THEN 1 END) VIRTUAL,"
    " UNIQUE (room, start_ms, live),"
    /* Indexes as constraints (written when plugins could not CREATE INDEX). */
    " UNIQUE (person_id, status, id),"
    " UNIQUE (status, due_ms, id),"
    " UNIQUE (day, room, id)"
    ") STRICT;"
    "CREATE TABLE rooms_credits ("
    " id INTEGER PRIMARY KEY,"
    " person_id INTEGER NOT NULL,"
    " person_no TEXT NOT NULL,"
    " booking INTEGER NOT NULL REFERENCES rooms_bookings (id),"
    " room TEXT NOT NULL,"
    " merchant TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " reason TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " paid_at INTEGER,"
    " terminal TEXT,"
    " UNIQUE (person_id, paid_at, id)"
    ") STRICT;"
    "CREATE TABLE rooms_seats ("
    " terminal TEXT PRIMARY KEY,"
    " room TEXT NOT NULL REFERENCES rooms_rooms (id),"
    " label TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE rooms_sessions ("
    " id INTEGER PRIMARY KEY,"
    " room TEXT NOT NULL,"
    " seat TEXT NOT NULL,"
    " day TEXT NOT NULL,"
    " person_id INTEGER NOT NULL,"
    " person_no TEXT NOT NULL,"
    " card_no TEXT NOT NULL,"
    " merchant TEXT NOT NULL,"
    " room_type TEXT NOT NULL,"
    " hold_id INTEGER NOT NULL,"
    " held INTEGER NOT NULL CHECK (held > 0),"
    " max_min INTEGER NOT NULL CHECK (max_min > 0),"
    " started_at INTEGER NOT NULL,"
    " last_seen INTEGER NOT NULL,"
    " ends_by INTEGER NOT NULL,"
    " ended_at INTEGER,"
    " minutes INTEGER NOT NULL DEFAULT 0,"
    " charged INTEGER NOT NULL DEFAULT 0 CHECK (charged >= 0 AND charged <= held),"
    " status TEXT NOT NULL CHECK (status IN ('active', 'logout', 'timeout', 'limit',"
    " 'expired')),"
    /* One active session per seat and per person. */
    " active_seat TEXT GENERATED ALWAYS AS (CASE WHEN status = 'active' THEN seat END)"
    " VIRTUAL UNIQUE,"
    " active_person INTEGER GENERATED ALWAYS AS (CASE WHEN status = 'active' THEN person_id"
    " END) VIRTUAL UNIQUE,"
    " UNIQUE (status, id),"
    " UNIQUE (day, room, id)"
    ") STRICT;"
    "CREATE TABLE rooms_moves ("
    " id INTEGER PRIMARY KEY,"
    " at INTEGER NOT NULL,"
    " day TEXT NOT NULL,"
    " room TEXT NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('booking', 'fee', 'refund', 'deposit_back', 'seat')),"
    " amount INTEGER NOT NULL,"
    " booking INTEGER,"
    " session INTEGER,"
    " payment INTEGER,"
    " UNIQUE (day, room, id)"
    ") STRICT;",
    /* version 2: whether a slot is free (ROOMS.BOOK, ROOMS.SLOTS once per slot) searched a
     * room's bookings by start only, so a free slot read every booking the room ever had;
     * a person's current booking (lab doors, ROOMS.CHECKIN) read all of theirs
     * (docs/performance.md, "Query plans of every verb"). */
    "CREATE INDEX rooms_bookings_room_end ON rooms_bookings(room, end_ms);"
    "CREATE INDEX rooms_bookings_person_room_end ON rooms_bookings(person_id, room, end_ms);",
};

/* ---- small helpers ---- */

void rooms_copy(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return;
    snprintf(dst, n, "%s", src ? src : "");
}

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

bool rooms_parse_cny(const char *s, int64_t *fen)
{
    if (s == NULL || *s == '\0')
        return false;
    int64_t whole = 0, frac = 0;
    int nfrac = -1, nwhole = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (nfrac >= 0 || nwhole == 0)
                return false;
            nfrac = 0;
            continue;
        }
        if (*p < '0' || *p > '9')
            return false;
        if (nfrac >= 0) {
            if (++nfrac > 2)
                return false;
            frac = frac * 10 + (*p - '0');
        } else {
            if (++nwhole > 9)
                return false;
            whole = whole * 10 + (*p - '0');
        }
    }
    if (nfrac == 0)
        return false; /* "12." */
    if (nfrac == 1)
        frac *= 10;
    *fen = whole * 100 + (nfrac > 0 ? frac : 0);
    return true;
}

void rooms_fmt_cny(int64_t fen, char out[32])
{
    int64_t a = fen < 0 ? -fen : fen;
    snprintf(out, 32, "%s%lld.%02lld", fen < 0 ? "-" : "", (long long)(a / 100),
             (long long)(a % 100));
}

bool rooms_in_list(const char *list, const char *item)
{
    if (list == NULL || list[0] == '\0')
        return true;
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, item, n) == 0)
            return true;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}

bool rooms_parse_hhmm(const char *s, int *minutes)
{
    if (s == NULL || strlen(s) != 5 || s[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return false;
    *minutes = h * 60 + m;
    return true;
}

void rooms_fmt_hhmm(int64_t minutes, char out[8])
{
    if (minutes < 0 || minutes > 1440)
        minutes = 0;
    snprintf(out, 8, "%02d:%02d", (int)(minutes / 60), (int)(minutes % 60));
}

static bool split_day(const char *s, int *y, int *m, int *d)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    *y = atoi(s);
    *m = atoi(s + 5);
    *d = atoi(s + 8);
    return *y >= 2000 && *y <= 2199 && *m >= 1 && *m <= 12 && *d >= 1 && *d <= 31;
}

/* yktd sets the process time zone to [campus] timezone before plugins load (checked in
 * init against host->campus_date), so mktime/localtime are campus time. */
static int64_t local_ms(int y, int m, int d, int64_t minutes, struct tm *out)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_min = (int)minutes;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (out != NULL)
        *out = tm;
    return (int64_t)t * 1000;
}

bool rooms_parse_day(const char *s, int *weekday)
{
    int y, m, d;
    if (!split_day(s, &y, &m, &d))
        return false;
    struct tm tm;
    local_ms(y, m, d, 12 * 60, &tm);
    if (tm.tm_mday != d || tm.tm_mon != m - 1)
        return false; /* 2026-02-30 */
    if (weekday != NULL)
        *weekday = tm.tm_wday == 0 ? 7 : tm.tm_wday;
    return true;
}

int64_t rooms_day_ms(const char *day, int64_t minutes)
{
    int y, m, d;
    if (!split_day(day, &y, &m, &d))
        return 0;
    return local_ms(y, m, d, minutes, NULL);
}

int rooms_room_get(rooms *s, const char *id, room *out)
{
    sqlite3_stmt *st =
        STMT("SELECT id, name, kind, department, days, merchant, departments, kinds, card_types,"
             " room_type, status, capacity, open_min, close_min, slot_min, fee, deposit,"
             " list_only, cancel_before, refund_before, grace FROM rooms_rooms WHERE id = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 1 : -1;
    }
    memset(out, 0, sizeof *out);
    rooms_copy(out->id, sizeof out->id, col(st, 0));
    rooms_copy(out->name, sizeof out->name, col(st, 1));
    rooms_copy(out->kind, sizeof out->kind, col(st, 2));
    rooms_copy(out->department, sizeof out->department, col(st, 3));
    rooms_copy(out->days, sizeof out->days, col(st, 4));
    rooms_copy(out->merchant, sizeof out->merchant, col(st, 5));
    rooms_copy(out->departments, sizeof out->departments, col(st, 6));
    rooms_copy(out->kinds, sizeof out->kinds, col(st, 7));
    rooms_copy(out->card_types, sizeof out->card_types, col(st, 8));
    rooms_copy(out->room_type, sizeof out->room_type, col(st, 9));
    rooms_copy(out->status, sizeof out->status, col(st, 10));
    int64_t *nums[] = {&out->capacity,      &out->open_min, &out->close_min, &out->slot_min,
                       &out->fee,           &out->deposit,  &out->list_only, &out->cancel_before,
                       &out->refund_before, &out->grace};
    for (int i = 0; i < 10; i++)
        *nums[i] = sqlite3_column_int64(st, 11 + i);
    sqlite3_reset(st);
    return 0;
}

const char *rooms_merchant(rooms *s, const room *rm, const ykt_terminal_info *t)
{
    if (rm != NULL && rm->merchant[0])
        return rm->merchant;
    if (s->merchant[0])
        return s->merchant;
    if (t != NULL && t->owner != NULL && t->owner[0])
        return t->owner;
    return NULL;
}

int rooms_record_move(rooms *s, const char *room_id, const char *kind, int64_t amount,
                      int64_t booking, int64_t session, int64_t payment)
{
    sqlite3_stmt *st =
        STMT("INSERT INTO rooms_moves (at, day, room, kind, amount, booking, session, payment)"
             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (st == NULL)
        return -1;
    int64_t now = s->host->now_ms();
    char day[11];
    s->host->campus_date(now, day);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, room_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, amount);
    if (booking > 0)
        sqlite3_bind_int64(st, 6, booking);
    if (session > 0)
        sqlite3_bind_int64(st, 7, session);
    if (payment > 0)
        sqlite3_bind_int64(st, 8, payment);
    return step_done(st) ? 0 : -1;
}

bool rooms_may_book(rooms *s, ykt_request *r, const room *rm, const ykt_card_info *card)
{
    const ykt_host *h = s->host;
    if (strcmp(card->card_type, "temporary") == 0 && !rooms_in_list(card->subsystems, "rooms")) {
        h->reply_error(r, "NOT_ALLOWED", "this temporary card may not use the rooms subsystem");
        return false;
    }
    sqlite3_stmt *st = STMT("SELECT 1 FROM rooms_allow WHERE room = ? AND person_no = ?");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the room's list");
        return false;
    }
    sqlite3_bind_text(st, 1, rm->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, card->person_no, -1, SQLITE_TRANSIENT);
    bool listed = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (listed)
        return true;
    if (rm->list_only) {
        h->reply_error(r, "NOT_ELIGIBLE", "room %s is for the people on its list only", rm->id);
        return false;
    }
    if (!rooms_in_list(rm->departments, card->department)) {
        h->reply_error(r, "NOT_ELIGIBLE", "room %s is for departments %s only", rm->id,
                       rm->departments);
        return false;
    }
    if (!rooms_in_list(rm->kinds, card->kind)) {
        h->reply_error(r, "NOT_ELIGIBLE", "room %s is for %s only", rm->id, rm->kinds);
        return false;
    }
    if (!rooms_in_list(rm->card_types, card->card_type)) {
        h->reply_error(r, "NOT_ELIGIBLE", "room %s is for %s cards only", rm->id, rm->card_types);
        return false;
    }
    return true;
}

/* ---- booking ---- */

int64_t rooms_book_slot(rooms *s, ykt_request *r, const room *rm, const ykt_card_info *card,
                        const char *day, int slot, int64_t party, int64_t fee_due,
                        const char *terminal, const char *operator_name)
{
    const ykt_host *h = s->host;
    char from[8], to[8];
    rooms_fmt_hhmm(rm->open_min, from);
    rooms_fmt_hhmm(rm->close_min, to);
    int weekday = 0;
    if (strcmp(rm->kind, "computer") == 0) {
        h->reply_error(r, "NOT_BOOKABLE",
                       "room %s is a computer room: seats are used by card, not booked", rm->id);
        return -1;
    }
    if (strcmp(rm->status, "open") != 0) {
        h->reply_error(r, "ROOM_CLOSED", "room %s is closed", rm->id);
        return -1;
    }
    if (!rooms_parse_day(day, &weekday)) {
        h->reply_error(r, "BAD_REQUEST", "bad date %.20s: YYYY-MM-DD", day);
        return -1;
    }
    if (strchr(rm->days, '0' + weekday) == NULL) {
        h->reply_error(r, "ROOM_CLOSED", "room %s is closed on %s (open on weekdays %s)", rm->id,
                       day, rm->days);
        return -1;
    }
    if (slot < rm->open_min || slot + rm->slot_min > rm->close_min ||
        (slot - rm->open_min) % rm->slot_min != 0) {
        h->reply_error(r, "BAD_SLOT",
                       "room %s has %lld-minute slots from %s to %s; no slot starts then", rm->id,
                       (long long)rm->slot_min, from, to);
        return -1;
    }
    if (party < 1 || party > rm->capacity) {
        h->reply_error(r, "OVER_CAPACITY", "room %s holds %lld people; the party is %lld", rm->id,
                       (long long)rm->capacity, (long long)party);
        return -1;
    }
    int64_t now = h->now_ms();
    int64_t start = rooms_day_ms(day, slot), end = rooms_day_ms(day, slot + rm->slot_min);
    if (now >= end) {
        h->reply_error(r, "TOO_LATE", "that slot of room %s is over", rm->id);
        return -1;
    }
    if (start > now + s->max_days_ahead * 86400000LL) {
        h->reply_error(r, "TOO_EARLY", "rooms are booked at most %lld days ahead",
                       (long long)s->max_days_ahead);
        return -1;
    }
    if (!rooms_may_book(s, r, rm, card))
        return -1;
    sqlite3_stmt *st = STMT("SELECT count(*) FROM rooms_bookings WHERE person_id = ? AND"
                            " status IN ('booked', 'checked_in') AND end_ms > ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_int64(st, 1, card->person_id);
    sqlite3_bind_int64(st, 2, now);
    int64_t active = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (active >= s->max_active) {
        h->reply_error(r, "BOOKING_LIMIT", "at most %lld open bookings per person",
                       (long long)s->max_active);
        return -1;
    }
    /* Any live booking overlapping the slot takes it: after `rooms update` changed the slot
     * length or the opening time, an old booking can cover part of a new slot. */
    st = STMT("SELECT id FROM rooms_bookings WHERE room = ? AND start_ms < ? AND end_ms > ? AND"
              " status IN ('booked', 'checked_in', 'completed') LIMIT 1");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, rm->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, end);
    sqlite3_bind_int64(st, 3, start);
    bool taken = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (taken) {
        char at[8];
        rooms_fmt_hhmm(slot, at);
        h->reply_error(r, "SLOT_TAKEN", "room %s is booked on %s at %s", rm->id, day, at);
        return -1;
    }
    const char *merchant = rooms_merchant(s, rm, h->terminal(r));
    st = STMT("INSERT INTO rooms_bookings (room, day, slot, start_ms, end_ms, person_id,"
              " person_no, card_no, party, status, merchant, fee, deposit, fee_due,"
              " cancel_by_ms, refund_by_ms, due_ms, terminal, operator, created_at)"
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'booked', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
              " RETURNING id");
    if (st == NULL)
        goto storage;
    int64_t due = (start > now ? start : now) + rm->grace * ROOMS_MIN_MS;
    sqlite3_bind_text(st, 1, rm->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, slot);
    sqlite3_bind_int64(st, 4, start);
    sqlite3_bind_int64(st, 5, end);
    sqlite3_bind_int64(st, 6, card->person_id);
    sqlite3_bind_text(st, 7, card->person_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, card->card_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 9, party);
    sqlite3_bind_text(st, 10, merchant ? merchant : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 11, rm->fee);
    sqlite3_bind_int64(st, 12, fee_due > 0 ? 0 : rm->deposit);
    sqlite3_bind_int64(st, 13, fee_due);
    sqlite3_bind_int64(st, 14, start - rm->cancel_before * ROOMS_MIN_MS);
    sqlite3_bind_int64(st, 15, start - rm->refund_before * ROOMS_MIN_MS);
    sqlite3_bind_int64(st, 16, due);
    sqlite3_bind_text(st, 17, terminal ? terminal : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 18, operator_name ? operator_name : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 19, now);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int ext = sqlite3_extended_errcode(sqlite3_db_handle(st));
    sqlite3_reset(st);
    if (id > 0)
        return id;
    if (ext == SQLITE_CONSTRAINT_UNIQUE) {
        /* The index caught what the check above did not: still one booking per slot. */
        h->reply_error(r, "SLOT_TAKEN", "room %s is booked on %s at that time", rm->id, day);
        return -1;
    }
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot record the booking");
    return -1;
}

/* The card arguments take argv[1..6]; verbs' own arguments start at argv[7]. */
#define CARD_ARGS 7

static void v_book(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    int64_t amount = 0;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    int argc = h->argc(r);
    if (argc != CARD_ARGS + 3 && argc != CARD_ARGS + 4) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.BOOK <card args> room date HH:MM [party]");
        return;
    }
    const char *room_id = h->arg(r, CARD_ARGS, NULL), *day = h->arg(r, CARD_ARGS + 1, NULL);
    int slot = 0;
    int64_t party = 1;
    if (!rooms_parse_hhmm(h->arg(r, CARD_ARGS + 2, NULL), &slot) ||
        (argc == CARD_ARGS + 4 &&
         !ykt_pu_parse_int(h->arg(r, CARD_ARGS + 3, NULL), 1, 100000, &party))) {
        h->reply_error(r, "BAD_REQUEST", "bad time or party: HH:MM and a whole number of people");
        return;
    }
    room rm;
    int found = rooms_room_get(s, room_id, &rm);
    if (found != 0) {
        if (found < 0)
            h->reply_error(r, "STORAGE_ERROR", "cannot read room %.32s", room_id);
        else
            h->reply_error(r, "NOT_FOUND", "no room %.32s", room_id);
        return;
    }
    int64_t price = rm.fee + rm.deposit;
    if (amount != price) {
        char p[32], a[32];
        rooms_fmt_cny(price, p);
        rooms_fmt_cny(amount, a);
        h->reply_error(r, "PRICE_MISMATCH",
                       "a booking of room %s costs %s CNY (fee and deposit); the card signed %s",
                       rm.id, p, a);
        return;
    }
    int64_t id = rooms_book_slot(s, r, &rm, &card, day, slot, party, 0, h->terminal(r)->id, NULL);
    if (id < 0)
        return;
    int64_t charged = 0, balance = 0;
    if (price > 0) {
        const char *merchant = rooms_merchant(s, &rm, h->terminal(r));
        if (merchant == NULL) {
            h->reply_error(r, "NO_MERCHANT", "room %s has no merchant to pay", rm.id);
            return;
        }
        ykt_money m;
        if (h->wallet_debit(r, &card, merchant, price, &m) != YKT_PLUGIN_OK)
            return; /* the refusal is replied; the booking is rolled back with it */
        charged = m.charged;
        balance = m.balance;
        sqlite3_stmt *st = STMT("UPDATE rooms_bookings SET paid = ?, payment_id = ? WHERE id = ?");
        if (st == NULL)
            goto storage;
        sqlite3_bind_int64(st, 1, m.charged);
        sqlite3_bind_int64(st, 2, m.payment_id);
        sqlite3_bind_int64(st, 3, id);
        if (!step_done(st) ||
            rooms_record_move(s, rm.id, "booking", m.charged, id, 0, m.payment_id) != 0)
            goto storage;
    } else {
        h->wallet_balance(card.person_id, &balance);
    }
    h->reply_array(r, 3);
    h->reply_int(r, id);
    h->reply_int(r, charged);
    h->reply_int(r, balance);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot record the booking's payment");
}

typedef struct booking {
    int64_t id, person_id, start_ms, end_ms, paid, deposit, refunded, fee_due, cancel_by_ms,
        refund_by_ms;
    char room[40], status[16], merchant[64], person_no[40], day[11];
    int64_t slot;
} booking;

/* 0 found, 1 not found, -1 storage error. */
static int booking_get(rooms *s, int64_t id, booking *b)
{
    sqlite3_stmt *st =
        STMT("SELECT id, person_id, start_ms, end_ms, paid, deposit, refunded, fee_due,"
             " cancel_by_ms, refund_by_ms, room, status, merchant, person_no, day, slot"
             " FROM rooms_bookings WHERE id = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t *nums[] = {&b->id,           &b->person_id,   &b->start_ms, &b->end_ms,
                           &b->paid,         &b->deposit,     &b->refunded, &b->fee_due,
                           &b->cancel_by_ms, &b->refund_by_ms};
        for (int i = 0; i < 10; i++)
            *nums[i] = sqlite3_column_int64(st, i);
        rooms_copy(b->room, sizeof b->room, col(st, 10));
        rooms_copy(b->status, sizeof b->status, col(st, 11));
        rooms_copy(b->merchant, sizeof b->merchant, col(st, 12));
        rooms_copy(b->person_no, sizeof b->person_no, col(st, 13));
        rooms_copy(b->day, sizeof b->day, col(st, 14));
        b->slot = sqlite3_column_int64(st, 15);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static bool booking_end(rooms *s, int64_t id, const char *status, int64_t refunded,
                        const char *reason)
{
    sqlite3_stmt *st = STMT("UPDATE rooms_bookings SET status = ?, ended_at = ?,"
                            " refunded = refunded + ?, reason = ? WHERE id = ?");
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, s->host->now_ms());
    sqlite3_bind_int64(st, 3, refunded);
    sqlite3_bind_text(st, 4, reason ? reason : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, id);
    return step_done(st);
}

static void v_cancel(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    if (h->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return;
    int64_t id = 0;
    if (h->argc(r) != CARD_ARGS + 1 ||
        !ykt_pu_parse_int(h->arg(r, CARD_ARGS, NULL), 1, INT64_MAX, &id)) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.CANCEL <card args> booking");
        return;
    }
    booking b;
    int found = booking_get(s, id, &b);
    if (found < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read booking %lld", (long long)id);
        return;
    }
    if (found > 0 || b.person_id != card.person_id) {
        h->reply_error(r, "NOT_FOUND", "no booking %lld of yours", (long long)id);
        return;
    }
    if (strcmp(b.status, "booked") != 0) {
        h->reply_error(r, "BAD_STATE", "booking %lld is %s", (long long)id, b.status);
        return;
    }
    int64_t now = h->now_ms();
    if (now >= b.cancel_by_ms) {
        char t[8];
        rooms_fmt_hhmm((b.cancel_by_ms - rooms_day_ms(b.day, 0)) / ROOMS_MIN_MS, t);
        h->reply_error(r, "TOO_LATE", "booking %lld could be cancelled until %s %s", (long long)id,
                       b.day, t);
        return;
    }
    /* In time: everything paid comes back; later: the deposit only, the fee is kept. */
    int64_t refund = now < b.refund_by_ms ? b.paid - b.refunded
                     : b.deposit < b.paid ? b.deposit - b.refunded
                                          : b.paid - b.refunded;
    if (refund < 0)
        refund = 0;
    if (!booking_end(s, id, "cancelled", refund, "cancelled by the holder"))
        goto storage;
    int64_t balance = 0;
    if (refund > 0) {
        char memo[64];
        snprintf(memo, sizeof memo, "room booking %lld cancelled", (long long)id);
        ykt_money m;
        if (h->wallet_credit(r, &card, b.merchant, refund, memo, &m) != YKT_PLUGIN_OK)
            return;
        balance = m.balance;
        if (rooms_record_move(s, b.room, "refund", -refund, id, 0, 0) != 0)
            goto storage;
    } else {
        h->wallet_balance(card.person_id, &balance);
    }
    h->reply_array(r, 2);
    h->reply_int(r, refund);
    h->reply_int(r, balance);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot cancel booking %lld", (long long)id);
}

static void v_checkin(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    int64_t amount = 0;
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    if (h->argc(r) != CARD_ARGS + 1) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.CHECKIN <card args> room");
        return;
    }
    const char *room_id = h->arg(r, CARD_ARGS, NULL);
    int64_t now = h->now_ms();
    /* A booking past its grace period is released even if the timer has not run yet; one
     * not yet checked in comes before one that is (back-to-back slots). */
    sqlite3_stmt *st = STMT("SELECT id FROM rooms_bookings WHERE room = ? AND person_id = ? AND"
                            " (status = 'checked_in' OR (status = 'booked' AND due_ms > ?4)) AND"
                            " start_ms - ?3 <= ?4 AND ?4 < end_ms"
                            " ORDER BY status = 'checked_in', start_ms LIMIT 1");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, card.person_id);
    sqlite3_bind_int64(st, 3, s->checkin_early_ms);
    sqlite3_bind_int64(st, 4, now);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    booking b;
    if (id == 0) {
        h->reply_error(r, "NO_BOOKING", "no booking of yours in room %.32s now", room_id);
        return;
    }
    if (booking_get(s, id, &b) != 0)
        goto storage;
    if (strcmp(b.status, "checked_in") == 0) {
        h->reply_error(r, "ALREADY_CHECKED_IN", "booking %lld is checked in", (long long)id);
        return;
    }
    if (amount != b.fee_due) {
        /* The holder approves what the card pays: the fee of an operator's booking, else 0. */
        char due[32], a[32];
        rooms_fmt_cny(b.fee_due, due);
        rooms_fmt_cny(amount, a);
        h->reply_error(r, "PRICE_MISMATCH",
                       "checking in to booking %lld costs %s CNY (the fee due); the card signed %s",
                       (long long)id, due, a);
        return;
    }
    st = STMT("UPDATE rooms_bookings SET status = 'checked_in', checked_in_at = ? WHERE id = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, id);
    if (!step_done(st))
        goto storage;
    int64_t back = 0, fee = 0, balance = 0;
    ykt_money m;
    if (b.fee_due > 0) {
        /* Booked by an operator: the fee is paid now, with the card present. */
        if (b.merchant[0] == '\0') {
            h->reply_error(r, "NO_MERCHANT", "room %s has no merchant to pay", b.room);
            return;
        }
        if (h->wallet_debit(r, &card, b.merchant, b.fee_due, &m) != YKT_PLUGIN_OK)
            return;
        fee = m.charged;
        balance = m.balance;
        st = STMT("UPDATE rooms_bookings SET paid = paid + ?, fee_due = 0, payment_id = ?"
                  " WHERE id = ?");
        if (st == NULL)
            goto storage;
        sqlite3_bind_int64(st, 1, m.charged);
        sqlite3_bind_int64(st, 2, m.payment_id);
        sqlite3_bind_int64(st, 3, id);
        if (!step_done(st) ||
            rooms_record_move(s, b.room, "fee", m.charged, id, 0, m.payment_id) != 0)
            goto storage;
    } else {
        back = b.deposit < b.paid - b.refunded ? b.deposit : b.paid - b.refunded;
        if (back > 0) {
            char memo[64];
            snprintf(memo, sizeof memo, "room booking %lld: deposit back", (long long)id);
            if (h->wallet_credit(r, &card, b.merchant, back, memo, &m) != YKT_PLUGIN_OK)
                return;
            balance = m.balance;
            st = STMT("UPDATE rooms_bookings SET refunded = refunded + ? WHERE id = ?");
            if (st == NULL)
                goto storage;
            sqlite3_bind_int64(st, 1, back);
            sqlite3_bind_int64(st, 2, id);
            if (!step_done(st) || rooms_record_move(s, b.room, "deposit_back", -back, id, 0, 0))
                goto storage;
        } else {
            h->wallet_balance(card.person_id, &balance);
        }
    }
    h->reply_array(r, 4);
    h->reply_int(r, id);
    h->reply_int(r, back);
    h->reply_int(r, fee);
    h->reply_int(r, balance);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot check in");
}

static void v_claim(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    if (h->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return;
    if (h->argc(r) != CARD_ARGS) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.CLAIM <card args>");
        return;
    }
    /* One request moves money once: the oldest merchant's refunds, all of them. */
    sqlite3_stmt *st = STMT("SELECT merchant, sum(amount) FROM rooms_credits WHERE person_id = ?"
                            " AND paid_at IS NULL GROUP BY merchant ORDER BY min(id) LIMIT 1");
    if (st == NULL)
        goto storage;
    sqlite3_bind_int64(st, 1, card.person_id);
    char merchant[64] = "";
    int64_t amount = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        rooms_copy(merchant, sizeof merchant, col(st, 0));
        amount = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (amount <= 0) {
        h->reply_error(r, "NOTHING_OWED", "no refund is waiting for this holder");
        return;
    }
    ykt_money m;
    if (h->wallet_credit(r, &card, merchant, amount, "room booking refunds", &m) != YKT_PLUGIN_OK)
        return;
    /* Each refund counts for its room in the revenue report. */
    int64_t rooms_ids[64];
    int n = 0;
    st = STMT("SELECT id FROM rooms_credits WHERE person_id = ? AND merchant = ? AND"
              " paid_at IS NULL");
    if (st == NULL)
        goto storage;
    sqlite3_bind_int64(st, 1, card.person_id);
    sqlite3_bind_text(st, 2, merchant, -1, SQLITE_TRANSIENT);
    while (n < 64 && sqlite3_step(st) == SQLITE_ROW)
        rooms_ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (n == 64) {
        h->reply_error(r, "LIMIT_EXCEEDED", "too many refunds at once; ask the room's office");
        return;
    }
    for (int i = 0; i < n; i++) {
        st = STMT("UPDATE rooms_credits SET paid_at = ?, terminal = ? WHERE id = ?"
                  " RETURNING room, amount, booking");
        if (st == NULL)
            goto storage;
        sqlite3_bind_int64(st, 1, h->now_ms());
        sqlite3_bind_text(st, 2, h->terminal(r)->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, rooms_ids[i]);
        if (sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_reset(st);
            goto storage;
        }
        char rid[40];
        rooms_copy(rid, sizeof rid, col(st, 0));
        int64_t a = sqlite3_column_int64(st, 1), bk = sqlite3_column_int64(st, 2);
        sqlite3_step(st);
        sqlite3_reset(st);
        if (rooms_record_move(s, rid, "refund", -a, bk, 0, 0) != 0)
            goto storage;
    }
    h->reply_array(r, 2);
    h->reply_int(r, amount);
    h->reply_int(r, m.balance);
    return;
storage:
    h->reply_error(r, "STORAGE_ERROR", "cannot pay the refunds");
}

static void v_mine(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    if (h->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return;
    sqlite3_stmt *st = STMT("SELECT id, room, day, slot, status, fee_due FROM rooms_bookings WHERE"
                            " person_id = ? AND status IN ('booked', 'checked_in') AND end_ms > ?"
                            " ORDER BY start_ms LIMIT 50");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the bookings");
        return;
    }
    struct {
        int64_t id, slot, fee_due;
        char room[40], day[11], status[16];
    } rows[50];
    int n = 0;
    sqlite3_bind_int64(st, 1, card.person_id);
    sqlite3_bind_int64(st, 2, h->now_ms());
    while (n < 50 && sqlite3_step(st) == SQLITE_ROW) {
        rows[n].id = sqlite3_column_int64(st, 0);
        rooms_copy(rows[n].room, sizeof rows[n].room, col(st, 1));
        rooms_copy(rows[n].day, sizeof rows[n].day, col(st, 2));
        rows[n].slot = sqlite3_column_int64(st, 3);
        rooms_copy(rows[n].status, sizeof rows[n].status, col(st, 4));
        rows[n].fee_due = sqlite3_column_int64(st, 5);
        n++;
    }
    sqlite3_reset(st);
    h->reply_array(r, n);
    for (int i = 0; i < n; i++) {
        char t[8];
        rooms_fmt_hhmm(rows[i].slot, t);
        h->reply_array(r, 6);
        h->reply_int(r, rows[i].id);
        h->reply_str(r, rows[i].room);
        h->reply_str(r, rows[i].day);
        h->reply_str(r, t);
        h->reply_str(r, rows[i].status);
        h->reply_int(r, rows[i].fee_due);
    }
}

static void v_slots(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    if (h->argc(r) != 3) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.SLOTS room date");
        return;
    }
    const char *room_id = h->arg(r, 1, NULL), *day = h->arg(r, 2, NULL);
    room rm;
    int found = rooms_room_get(s, room_id, &rm);
    int weekday = 0;
    if (found != 0) {
        if (found < 0)
            h->reply_error(r, "STORAGE_ERROR", "cannot read room %.32s", room_id);
        else
            h->reply_error(r, "NOT_FOUND", "no room %.32s", room_id);
        return;
    }
    if (!rooms_parse_day(day, &weekday)) {
        h->reply_error(r, "BAD_REQUEST", "bad date %.20s: YYYY-MM-DD", day);
        return;
    }
    if (strcmp(rm.kind, "computer") == 0) {
        h->reply_error(r, "NOT_BOOKABLE", "room %s is a computer room", rm.id);
        return;
    }
    if (strcmp(rm.status, "open") != 0 || strchr(rm.days, '0' + weekday) == NULL) {
        h->reply_error(r, "ROOM_CLOSED", "room %s is closed on %s", rm.id, day);
        return;
    }
    int64_t n = (rm.close_min - rm.open_min) / rm.slot_min, now = h->now_ms();
    h->reply_array(r, n);
    for (int64_t i = 0; i < n; i++) {
        int64_t slot = rm.open_min + i * rm.slot_min;
        int64_t start = rooms_day_ms(day, slot), end = rooms_day_ms(day, slot + rm.slot_min);
        sqlite3_stmt *st = STMT("SELECT 1 FROM rooms_bookings WHERE room = ? AND start_ms < ? AND"
                                " end_ms > ? AND status IN ('booked', 'checked_in', 'completed')"
                                " LIMIT 1");
        bool taken = false;
        if (st != NULL) {
            sqlite3_bind_text(st, 1, rm.id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, end);
            sqlite3_bind_int64(st, 3, start);
            taken = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_reset(st);
        }
        char t[8];
        rooms_fmt_hhmm(slot, t);
        h->reply_array(r, 2);
        h->reply_str(r, t);
        h->reply_str(r, taken ? "taken" : now >= end ? "over" : "free");
    }
}

/* ---- lab doors ---- */

/* A current booking of this person for this room: checked in, or booked and within the slot
 * (from checkin_early before its start to its end). */
static bool holds_current_booking(rooms *s, const char *room_id, int64_t person_id, int64_t at)
{
    sqlite3_stmt *st = STMT("SELECT 1 FROM rooms_bookings WHERE room = ? AND person_id = ? AND"
                            " (status = 'checked_in' OR (status = 'booked' AND due_ms > ?4)) AND"
                            " start_ms - ?3 <= ?4 AND ?4 < end_ms LIMIT 1");
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, room_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, person_id);
    sqlite3_bind_int64(st, 3, s->checkin_early_ms);
    sqlite3_bind_int64(st, 4, at);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return yes;
}

static int on_access(int event, void *data, void *ud)
{
    (void)event;
    rooms *s = ud;
    const ykt_ev_access *a = data;
    if (a == NULL || a->card == NULL || a->place == NULL || a->place_kind == NULL ||
        strcmp(a->place_kind, "lab") != 0)
        return YKT_DEFER;
    room rm;
    if (rooms_room_get(s, a->place, &rm) != 0)
        return YKT_DEFER; /* not one of ours */
    int64_t at = a->at_ms > 0 ? a->at_ms : s->host->now_ms();
    return holds_current_booking(s, rm.id, a->card->person_id, at) ? YKT_ALLOW : YKT_DEFER;
}

/* A lab door without an access plugin, and the end-to-end tests' way to ask the decision
 * chain exactly as the access plugin does (docs/plugins/rooms.md: ROOMS.DOOR). */
static void v_door(ykt_request *r, void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    ykt_card_info card;
    if (h->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return;
    if (h->argc(r) != CARD_ARGS + 1) {
        h->reply_error(r, "BAD_REQUEST", "usage: ROOMS.DOOR <card args> room");
        return;
    }
    ykt_ev_access ev = {.size = sizeof ev,
                        .card = &card,
                        .terminal = h->terminal(r),
                        .place = h->arg(r, CARD_ARGS, NULL),
                        .place_kind = "lab",
                        .building = "",
                        .direction = YKT_DIR_IN,
                        .at_ms = h->now_ms()};
    if (h->decide(YKT_EV_ACCESS_CHECK, &ev) == YKT_ALLOW)
        h->reply_ok(r);
    else
        h->reply_error(r, "DENIED", "%s", ev.reason[0] ? ev.reason : "no current booking");
}

/* ---- the timer: no-shows, finished slots, silent seats ---- */

static void on_tick(void *ud)
{
    rooms *s = ud;
    const ykt_host *h = s->host;
    int64_t now = h->now_ms();
    int64_t ids[128], people[128];
    char rids[128][40];
    int n = 0;
    sqlite3_stmt *st = STMT("SELECT id, person_id, room FROM rooms_bookings WHERE"
                            " status = 'booked' AND due_ms <= ? ORDER BY due_ms LIMIT 128");
    if (st == NULL)
        return;
    sqlite3_bind_int64(st, 1, now);
    while (n < 128 && sqlite3_step(st) == SQLITE_ROW) {
        ids[n] = sqlite3_column_int64(st, 0);
        people[n] = sqlite3_column_int64(st, 1);
        rooms_copy(rids[n], sizeof rids[n], col(st, 2));
        n++;
    }
    sqlite3_reset(st);
    for (int i = 0; i < n; i++) {
        /* The slot is released: the fee and any deposit are kept (no refund for a no-show). */
        if (!booking_end(s, ids[i], "no_show", 0, "not checked in within the grace period")) {
            h->log(s->self, YKT_PLUGIN_LOG_ERROR, "cannot release booking %lld", (long long)ids[i]);
            continue;
        }
        char msg[160];
        snprintf(msg, sizeof msg,
                 "room %.64s: booking %lld was not checked in in time and is released", rids[i],
                 (long long)ids[i]);
        h->notify(people[i], "room_no_show", msg, 0);
        h->log(s->self, YKT_PLUGIN_LOG_INFO, "booking %lld in room %s: no-show, slot released",
               (long long)ids[i], rids[i]);
    }
    st = STMT("UPDATE rooms_bookings SET status = 'completed', ended_at = end_ms WHERE"
              " status = 'checked_in' AND end_ms <= ?");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, now);
        if (!step_done(st))
            h->log(s->self, YKT_PLUGIN_LOG_ERROR, "cannot complete finished bookings");
    }
    rooms_seats_tick(s, now);
}

/* ---- options ---- */

/* "90" seconds, "500ms", "90s", "15m", "12h", "2d". */
static bool parse_duration_ms(const char *v, int64_t *out)
{
    if (v == NULL || *v == '\0')
        return false;
    char *end = NULL;
    long long n = strtoll(v, &end, 10);
    if (end == v || n < 0 || n > 100000000)
        return false;
    int64_t unit = 1000;
    if (strcmp(end, "ms") == 0)
        unit = 1, end += 2;
    else if (*end == 's')
        end++;
    else if (*end == 'm')
        unit = 60000, end++;
    else if (*end == 'h')
        unit = 3600000, end++;
    else if (*end == 'd')
        unit = 86400000, end++;
    if (*end != '\0')
        return false;
    *out = n * unit;
    return true;
}

static bool opt_duration(rooms *s, const char *key, int64_t def, int64_t lo, int64_t hi,
                         int64_t *out)
{
    const char *v = s->host->option(s->self, key);
    *out = def;
    if (v == NULL)
        return true;
    if (!parse_duration_ms(v, out) || *out < lo || *out > hi) {
        s->host->log(s->self, YKT_PLUGIN_LOG_ERROR,
                     "option %s = %s: a duration (90s, 15m, 12h) from %llds to %llds", key, v,
                     (long long)(lo / 1000), (long long)(hi / 1000));
        return false;
    }
    return true;
}

static bool opt_int(rooms *s, const char *key, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = s->host->option(s->self, key);
    *out = def;
    if (v == NULL)
        return true;
    if (!ykt_pu_parse_int(v, lo, hi, out)) {
        s->host->log(s->self, YKT_PLUGIN_LOG_ERROR, "option %s = %s: a number from %lld to %lld",
                     key, v, (long long)lo, (long long)hi);
        return false;
    }
    return true;
}

static bool read_options(rooms *s)
{
    const ykt_host *h = s->host;
    const char *merchant = h->option(s->self, "merchant");
    rooms_copy(s->merchant, sizeof s->merchant, merchant);
    int64_t max_session = 0, tick = 0;
    bool ok = opt_duration(s, "seat_timeout", 300000, 1000, 86400000, &s->seat_timeout_ms) &&
              opt_duration(s, "max_session", 12 * 3600000LL, 60000, 7 * 86400000LL - 3600000,
                           &max_session) &&
              opt_duration(s, "checkin_early", 15 * 60000, 0, 86400000, &s->checkin_early_ms) &&
              opt_duration(s, "tick", 1000, 100, 60000, &tick) &&
              opt_int(s, "max_days_ahead", 14, 0, 366, &s->max_days_ahead) &&
              opt_int(s, "max_active", 3, 1, 1000, &s->max_active);
    if (!ok)
        return false;
    if (merchant != NULL && (strlen(merchant) == 0 || strlen(merchant) >= sizeof s->merchant)) {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR, "option merchant: a merchant id of 1 to 63 bytes");
        return false;
    }
    /* The merchant is added with yktctl once yktd runs, so a missing one is not fatal here:
     * it is named now, and the wallet refuses the fees (NO_MERCHANT) until it exists. */
    const char *status = NULL;
    int mrc = merchant != NULL ? h->merchant_status(merchant, &status) : YKT_PLUGIN_OK;
    if (mrc == YKT_PLUGIN_ENOTFOUND)
        h->log(s->self, YKT_PLUGIN_LOG_WARN,
               "option merchant = %s: no such merchant yet; fees of rooms without their own "
               "--merchant are refused (NO_MERCHANT) until it is added (yktctl merchant add %s)",
               merchant, merchant);
    else if (mrc == YKT_PLUGIN_OK && status != NULL && strcmp(status, "active") != 0)
        h->log(s->self, YKT_PLUGIN_LOG_WARN, "option merchant = %s: the merchant is %s", merchant,
               status);
    s->max_session_min = max_session / ROOMS_MIN_MS;
    s->tick_ms = tick;
    return true;
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
    rooms *s = calloc(1, sizeof *s);
    if (s == NULL)
        return YKT_PLUGIN_EINVAL;
    *userdata = s;
    s->self = self;
    s->host = host;
    /* A yktd older than these host services would hand over a shorter table. */
    if (host->size < offsetof(ykt_host, merchant_status) + sizeof host->merchant_status) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "this yktd lacks the host services the plugin needs (terminal_get, "
                  "merchant_status): upgrade yktd");
        return YKT_PLUGIN_EINVAL;
    }
    if (!read_options(s))
        return YKT_PLUGIN_EINVAL;
    int64_t tick = s->tick_ms;
    /* Slots are campus time: the process's local time must be the campus time zone. */
    int64_t now = host->now_ms();
    char campus[11], local[11];
    host->campus_date(now, campus);
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(local, sizeof local, "%Y-%m-%d", &tm);
    if (strcmp(campus, local) != 0) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "the process time zone is not the campus time zone (%s here, %s on campus)",
                  local, campus);
        return YKT_PLUGIN_EINVAL;
    }
    if (host->db_migrate(self, schema, (int)(sizeof schema / sizeof schema[0])) != YKT_PLUGIN_OK)
        return YKT_PLUGIN_ESTORAGE;
    const unsigned money = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    int rc = host->verb_register(self, "ROOMS.BOOK", YKT_TERM_BOOKING, money, v_book, s,
                                 "ROOMS.BOOK <card args> room date HH:MM [party]");
    if (rc == 0)
        rc = host->verb_register(self, "ROOMS.CANCEL", YKT_TERM_BOOKING, money, v_cancel, s,
                                 "ROOMS.CANCEL <card args> booking");
    if (rc == 0)
        rc = host->verb_register(self, "ROOMS.CHECKIN", YKT_TERM_BOOKING, money, v_checkin, s,
                                 "ROOMS.CHECKIN <card args> room");
    if (rc == 0)
        rc = host->verb_register(self, "ROOMS.CLAIM", YKT_TERM_BOOKING, money, v_claim, s,
                                 "ROOMS.CLAIM <card args>");
    if (rc == 0)
        rc = host->verb_register(self, "ROOMS.MINE", YKT_TERM_BOOKING | YKT_TERM_KIOSK,
                                 YKT_VERB_CHANGES, v_mine, s, "ROOMS.MINE <card args>");
    if (rc == 0)
        rc = host->verb_register(self, "ROOMS.SLOTS", YKT_TERM_BOOKING | YKT_TERM_KIOSK, 0, v_slots,
                                 s, "ROOMS.SLOTS room date");
    if (rc == 0)
        rc = host->verb_register(self, "ROOMS.DOOR", YKT_TERM_GATE, YKT_VERB_CHANGES, v_door, s,
                                 "ROOMS.DOOR <card args> room");
    if (rc == 0)
        rc = host->subscribe(self, YKT_EV_ACCESS_CHECK, on_access, s);
    if (rc == 0)
        rc = rooms_seats_init(s);
    if (rc == 0)
        rc = rooms_admin_init(s);
    if (rc == 0)
        rc = host->timer_every(self, (uint64_t)tick, on_tick, s);
    if (rc == 0)
        host->log(self, YKT_PLUGIN_LOG_INFO,
                  "ready (merchant %s, seat timeout %llds, no-show and seat timer every %lldms)",
                  s->merchant[0] ? s->merchant : "of each room or terminal",
                  (long long)(s->seat_timeout_ms / 1000), (long long)tick);
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    free(userdata);
}
