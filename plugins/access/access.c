/*
 * access: the access-control subsystem (门禁 / 出入管理, R-A).
 *
 * Doors, gates and readers are gate terminals registered as doors (a place, a kind — campus
 * gate, teaching, dormitory, lab, parking, building —, a building, a direction and a door
 * group). A swipe (ACCESS.OPEN) authenticates the card with the host, then asks the decision
 * chain (YKT_EV_ACCESS_CHECK); this plugin is itself a subscriber that applies the access
 * groups with their weekly windows and the holiday calendar, the dormitories' residents, the
 * visitors' temporary cards and anti-passback. Every decision is logged. Vehicles pass
 * parking gates by plate (ACCESS.PLATE); offline readers download a versioned white list
 * (ACCESS.LIST). The administrators' commands are in admin.c.
 *
 * The decision path is a few indexed lookups: the door, the door groups, the groups' windows
 * and the holidays are cached in memory; membership, residence, visits and the passback state
 * are primary-key lookups.
 */
#include "access.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Indexes are UNIQUE table constraints (written when the host refused CREATE INDEX; it now
 * allows indexes named access_*). */
static const char *const schema[] = {
    /* version 1 */
    "CREATE TABLE access_door_groups (name TEXT PRIMARY KEY, anti_passback INTEGER NOT NULL "
    "DEFAULT 0, public INTEGER NOT NULL DEFAULT 0, resident_from INTEGER NOT NULL DEFAULT 0, "
    "resident_to INTEGER NOT NULL DEFAULT 1440, note TEXT NOT NULL DEFAULT '') STRICT;"
    "CREATE TABLE access_doors (id TEXT PRIMARY KEY, terminal TEXT NOT NULL UNIQUE, place TEXT "
    "NOT NULL, kind TEXT NOT NULL, building TEXT NOT NULL DEFAULT '', direction TEXT NOT NULL, "
    "door_group TEXT NOT NULL, UNIQUE (door_group, id)) STRICT;"
    "CREATE TABLE access_groups (name TEXT PRIMARY KEY, note TEXT NOT NULL DEFAULT '', "
    "schedule TEXT NOT NULL DEFAULT '') STRICT;"
    "CREATE TABLE access_windows (id INTEGER PRIMARY KEY, grp TEXT NOT NULL, days INTEGER NOT "
    "NULL, from_min INTEGER NOT NULL, to_min INTEGER NOT NULL, UNIQUE (grp, id)) STRICT;"
    "CREATE TABLE access_grants (door_group TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY "
    "(door_group, grp), UNIQUE (grp, door_group)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE access_members (person_no TEXT NOT NULL, grp TEXT NOT NULL, added_at INTEGER "
    "NOT NULL, PRIMARY KEY (person_no, grp), UNIQUE (grp, person_no)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE access_holidays (day TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '') STRICT;"
    "CREATE TABLE access_residents (person_no TEXT PRIMARY KEY, building TEXT NOT NULL, room "
    "TEXT NOT NULL DEFAULT '', added_at INTEGER NOT NULL, UNIQUE (building, person_no)) STRICT;"
    "CREATE TABLE access_cards (uid TEXT PRIMARY KEY, card_no TEXT NOT NULL) STRICT, "
    "WITHOUT ROWID;"
    "CREATE TABLE access_passback (subject TEXT NOT NULL, door_group TEXT NOT NULL, direction "
    "INTEGER NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY (subject, door_group)) STRICT, "
    "WITHOUT ROWID;"
    "CREATE TABLE access_log (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, terminal TEXT NOT "
    "NULL, door TEXT NOT NULL, direction TEXT NOT NULL, card_no TEXT, uid TEXT, person_no TEXT, "
    "visitor_id INTEGER, plate TEXT, result TEXT NOT NULL, code TEXT NOT NULL DEFAULT '', "
    "reason TEXT NOT NULL DEFAULT '', UNIQUE (at_ms, id), UNIQUE (person_no, at_ms, id), "
    "UNIQUE (door, at_ms, id)) STRICT;"
    "CREATE TABLE access_visitors (id INTEGER PRIMARY KEY, name TEXT NOT NULL, id_number TEXT "
    "NOT NULL, host_person_no TEXT NOT NULL, purpose TEXT NOT NULL, from_ms INTEGER NOT NULL, "
    "until_ms INTEGER NOT NULL, card_no TEXT, plate TEXT, door_group TEXT, status TEXT NOT NULL, "
    "registered_by TEXT NOT NULL, registered_at INTEGER NOT NULL, first_in_ms INTEGER, "
    "last_out_ms INTEGER, closed_at INTEGER, UNIQUE (card_no, status, id), UNIQUE (plate, "
    "status, id), UNIQUE (id_number, id)) STRICT;"
    "CREATE TABLE access_vehicles (plate TEXT PRIMARY KEY, owner_person_no TEXT NOT NULL, "
    "status TEXT NOT NULL, valid_until TEXT, note TEXT NOT NULL DEFAULT '', requested_by TEXT "
    "NOT NULL, requested_at INTEGER NOT NULL, decided_by TEXT, decided_at INTEGER) STRICT;"
    "CREATE TABLE access_wl (door_group TEXT NOT NULL, person_no TEXT NOT NULL, card_no TEXT NOT "
    "NULL, uid TEXT NOT NULL, state TEXT NOT NULL, schedule TEXT NOT NULL, valid_until TEXT NOT "
    "NULL DEFAULT '', version INTEGER NOT "
    "NULL, stamp INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (door_group, person_no), UNIQUE "
    "(version, door_group, person_no), UNIQUE (door_group, version, person_no)) STRICT;",
    /* version 2: refused cards are found by the host's card_by_uid; the UID cache goes */
    "DROP TABLE access_cards;",
    /* version 3: the day's end expires open visitors by index instead of reading every
     * visitor ever registered; one person's white-list rows by index (a card's status
     * change) (docs/performance.md, "Query plans of every verb"). */
    "CREATE INDEX access_visitors_open ON access_visitors(until_ms) WHERE status = 'open';"
    "CREATE INDEX access_wl_by_person ON access_wl(person_no);",
    /* version 4: a person's decisions as a chain instead of the index (person_no, at_ms,
     * id), as the core's holders' payments (docs/performance.md, "A holder's payments by
     * chain"). That index took every decision at its person's place, a page per decision
     * among as many pages as people pass the doors, and every checkpoint wrote those
     * pages into the database file at random places: at 20,000 decisions/s the tail
     * latency went from 4-5 ms to 17-19 ms within 15 s. Now each decision names the
     * person's decision before it (prev_id) and access_log_heads the newest, a row of a
     * few bytes per person; `access log --person` walks back from there. The table is
     * rebuilt without the constraint, which only a rebuild removes. */
    "CREATE TABLE access_log_new (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, terminal "
    "TEXT NOT NULL, door TEXT NOT NULL, direction TEXT NOT NULL, card_no TEXT, uid TEXT, "
    "person_no TEXT, visitor_id INTEGER, plate TEXT, result TEXT NOT NULL, code TEXT NOT NULL "
    "DEFAULT '', reason TEXT NOT NULL DEFAULT '', prev_id INTEGER, UNIQUE (at_ms, id), UNIQUE "
    "(door, at_ms, id)) STRICT;"
    "INSERT INTO access_log_new SELECT id, at_ms, terminal, door, direction, card_no, uid, "
    "person_no, visitor_id, plate, result, code, reason, CASE WHEN person_no IS NOT NULL THEN "
    "lag(id) OVER (PARTITION BY person_no ORDER BY id) END FROM access_log;"
    "DROP TABLE access_log;"
    "ALTER TABLE access_log_new RENAME TO access_log;"
    "CREATE TABLE access_log_heads (person_no TEXT PRIMARY KEY, last_id INTEGER NOT NULL) "
    "STRICT, WITHOUT ROWID;"
    "INSERT INTO access_log_heads SELECT person_no, max(id) FROM access_log WHERE person_no "
    "IS NOT NULL GROUP BY person_no;",
    /* version 5: a door's decisions as a chain too, instead of the index (door, at_ms, id).
     * Each door's newest decision sat at a place of its own in that index, so each
     * checkpoint copied a page per door into the database file: at 20,000 decisions/s,
     * 76-103 of the 215-263 pages its finish copied while no transaction began
     * (docs/performance.md, "A door's decisions by chain"). Now each decision names the
     * door's decision before it (prev_door_id) and access_door_heads the newest. */
    "CREATE TABLE access_log_new (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, terminal "
    "TEXT NOT NULL, door TEXT NOT NULL, direction TEXT NOT NULL, card_no TEXT, uid TEXT, "
    "person_no TEXT, visitor_id INTEGER, plate TEXT, result TEXT NOT NULL, code TEXT NOT NULL "
    "DEFAULT '', reason TEXT NOT NULL DEFAULT '', prev_id INTEGER, prev_door_id INTEGER, "
    "UNIQUE (at_ms, id)) STRICT;"
    "INSERT INTO access_log_new SELECT id, at_ms, terminal, door, direction, card_no, uid, "
    "person_no, visitor_id, plate, result, code, reason, prev_id, lag(id) OVER (PARTITION BY "
    "door ORDER BY id) FROM access_log;"
    "DROP TABLE access_log;"
    "ALTER TABLE access_log_new RENAME TO access_log;"
    "CREATE TABLE access_door_heads (door TEXT PRIMARY KEY, last_id INTEGER NOT NULL) STRICT, "
    "WITHOUT ROWID;"
    "INSERT INTO access_door_heads SELECT door, max(id) FROM access_log GROUP BY door;",
    /* version 6: readers keep their lists by UID, but access_wl has a row per person, so a
     * replaced card's UID was never blocked, and public door groups listed no refused card
     * at all. access_blocked holds the cards known to be refused (lost, frozen, cancelled,
     * expired) until ACC_BLOCK_KEEP_DAYS after their last valid day; access_wl_cards the
     * white lists' rows by UID: every blocked card on a public door group's list, and the
     * UID a person's row had before their card was replaced. The versions are shared with
     * access_wl. The blocked rows of person lists seed the blocked cards; the public lists
     * get them at the next day's end or change of the door group. */
    "CREATE TABLE access_blocked (uid TEXT PRIMARY KEY, card_no TEXT NOT NULL, person_no TEXT "
    "NOT NULL, status TEXT NOT NULL, valid_until TEXT NOT NULL DEFAULT '') STRICT, WITHOUT ROWID;"
    "CREATE TABLE access_wl_cards (door_group TEXT NOT NULL, uid TEXT NOT NULL, card_no TEXT NOT "
    "NULL, person_no TEXT NOT NULL, state TEXT NOT NULL, valid_until TEXT NOT NULL DEFAULT '', "
    "version INTEGER NOT NULL, stamp INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (door_group, uid), "
    "UNIQUE (version, door_group, uid), UNIQUE (door_group, version, uid)) STRICT;"
    "CREATE INDEX access_wl_cards_by_uid ON access_wl_cards(uid);"
    "INSERT OR IGNORE INTO access_blocked (uid, card_no, person_no, status, valid_until) "
    "SELECT uid, card_no, person_no, 'blocked', valid_until FROM access_wl WHERE state = "
    "'blocked' AND uid != '';",
};

/* A blocked card stays on the public lists until this many days after its last valid day
 * (an offline reader also gets the date, and refuses the card after it). */
#define ACC_BLOCK_KEEP_DAYS 30

/* ---- small helpers ---- */

/* A statement on the plugin's tables, reset and unbound (host->db_stmt). */
sqlite3_stmt *acc_db(acc_state *s, const char *sql)
{
    return s->h->db_stmt(s->self, sql);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static const char *col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static const char *dir_name(int d)
{
    return d == YKT_DIR_IN ? "in" : d == YKT_DIR_OUT ? "out" : "";
}

/* ---- the campus calendar ---- */

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, char out[11])
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    snprintf(out, 11, "%04d-%02d-%02d", (int)(y + (m <= 2)), (int)m, (int)d);
}

static bool date_parse(const char *s, int64_t *days)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    char back[11];
    civil_from_days(days_from_civil(y, m, d), back);
    if (strcmp(back, s) != 0)
        return false; /* 2025-02-30 */
    *days = days_from_civil(y, m, d);
    return true;
}

/* The first instant of a campus date: the host knows the campus time zone only through
 * campus_date(), which is monotonic, so the midnight is found by bisection (to the second). */
int acc_day_start(acc_state *s, const char *date, int64_t *out)
{
    int64_t days;
    if (!date_parse(date, &days))
        return YKT_PLUGIN_EINVAL;
    int64_t lo = days * 86400 - 26 * 3600, hi = days * 86400 + 26 * 3600;
    char d[11];
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        s->h->campus_date(mid * 1000, d);
        if (strcmp(d, date) >= 0)
            hi = mid;
        else
            lo = mid;
    }
    *out = hi * 1000;
    return YKT_PLUGIN_OK;
}

static bool is_holiday(acc_state *s, const char *date)
{
    int lo = 0, hi = s->nholidays - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(s->holidays[mid], date);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return false;
}

/* Brings the cached campus day to the one holding ms; returns the minute of that day. */
static int clock_at(acc_state *s, int64_t ms)
{
    if (ms < s->day_start || ms >= s->day_end) {
        char d[11], next[11];
        int64_t days;
        s->h->campus_date(ms, d);
        if (!date_parse(d, &days) || acc_day_start(s, d, &s->day_start) != YKT_PLUGIN_OK) {
            s->day_start = s->day_end = 0;
            return 0;
        }
        civil_from_days(days + 1, next);
        if (acc_day_start(s, next, &s->day_end) != YKT_PLUGIN_OK)
            s->day_end = s->day_start + 86400000;
        copy(s->day, sizeof s->day, d);
        s->weekday = (int)(((days + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        s->holiday = is_holiday(s, d);
    }
    int64_t minute = (ms - s->day_start) / 60000;
    return minute < 0 ? 0 : minute >= ACC_DAY_MINUTES ? ACC_DAY_MINUTES - 1 : (int)minute;
}

void acc_format_time(acc_state *s, int64_t ms, char out[20])
{
    char d[11];
    int64_t start;
    s->h->campus_date(ms, d);
    if (acc_day_start(s, d, &start) != YKT_PLUGIN_OK)
        start = ms;
    int64_t m = (ms - start) / 60000;
    snprintf(out, 20, "%s %02d:%02d", d, (int)(m / 60) % 100, (int)(m % 60));
}

bool acc_parse_hhmm(const char *p, int *minute)
{
    if (p == NULL || !isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
        p[2] != ':' || !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]) ||
        p[5] != '\0')
        return false;
    int h = (p[0] - '0') * 10 + p[1] - '0', m = (p[3] - '0') * 10 + p[4] - '0';
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return false;
    *minute = h * 60 + m;
    return true;
}

/* "YYYY-MM-DD HH:MM" (or with T), "YYYY-MM-DD" (start or end of that day) or "HH:MM" today,
 * in campus time. */
int acc_parse_time(acc_state *s, const char *text, bool end_of_day, int64_t *out)
{
    char date[11];
    int minute = end_of_day ? ACC_DAY_MINUTES : 0;
    size_t n = strlen(text);
    if (n == 5) {
        s->h->campus_date(s->h->now_ms(), date);
        if (!acc_parse_hhmm(text, &minute))
            return YKT_PLUGIN_EINVAL;
    } else if (n == 10) {
        copy(date, sizeof date, text);
    } else if (n == 16 && (text[10] == ' ' || text[10] == 'T')) {
        memcpy(date, text, 10);
        date[10] = '\0';
        if (!acc_parse_hhmm(text + 11, &minute))
            return YKT_PLUGIN_EINVAL;
    } else {
        return YKT_PLUGIN_EINVAL;
    }
    int64_t start;
    if (acc_day_start(s, date, &start) != YKT_PLUGIN_OK)
        return YKT_PLUGIN_EINVAL;
    *out = start + (int64_t)minute * 60000 - (minute == ACC_DAY_MINUTES ? 1 : 0);
    return YKT_PLUGIN_OK;
}

/* "mon-fri", "sat,sun", "daily" (mon-sun), "hol" (the holidays), "all" (daily and hol). */
unsigned acc_parse_days(const char *text)
{
    static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    unsigned days = 0;
    const char *p = text;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[16];
        if (len == 0 || len >= sizeof item)
            return 0;
        memcpy(item, p, len);
        item[len] = '\0';
        for (char *c = item; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        int a = -1, b = -1;
        char *dash = strchr(item, '-');
        if (strcmp(item, "daily") == 0) {
            days |= ACC_DAYS_WEEK;
        } else if (strcmp(item, "all") == 0) {
            days |= ACC_DAYS_WEEK | ACC_DAY_HOLIDAY;
        } else if (strcmp(item, "hol") == 0 || strcmp(item, "holiday") == 0) {
            days |= ACC_DAY_HOLIDAY;
        } else {
            if (dash)
                *dash = '\0';
            for (int i = 0; i < 7; i++) {
                if (strcmp(item, names[i]) == 0)
                    a = i;
                if (dash && strcmp(dash + 1, names[i]) == 0)
                    b = i;
            }
            if (a < 0 || (dash && (b < 0 || b < a)))
                return 0;
            if (!dash)
                b = a;
            for (int i = a; i <= b; i++)
                days |= 1u << i;
        }
        p = end ? end + 1 : NULL;
    }
    return days;
}

/* The schedule notation of the white list: day digits 1 (Monday) .. 7, H for holidays. */
void acc_days_text(unsigned days, char *out, size_t len)
{
    size_t n = 0;
    for (int i = 0; i < 7 && n + 1 < len; i++)
        if (days & (1u << i))
            out[n++] = (char)('1' + i);
    if ((days & ACC_DAY_HOLIDAY) && n + 1 < len)
        out[n++] = 'H';
    out[n] = '\0';
}

/* A card UID as the host accepts one (docs/protocol.md): 4 to 10 bytes in hex, that is an
 * even number of 8 to 20 hex digits, in any case; `out` gets it in upper case, as logged. */
bool acc_uid_normalise(const char *in, char out[ACC_UID_MAX])
{
    size_t n = strlen(in);
    if (n < 8 || n > 20 || n % 2 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)in[i]))
            return false;
        out[i] = (char)toupper((unsigned char)in[i]);
    }
    out[n] = '\0';
    return true;
}

/* Plates: spaces, dots and dashes dropped, letters upper case; an optional leading province
 * character (non-ASCII, 京 沪 ...) then 5 to 7 letters and digits, the first a letter. */
bool acc_plate_normalise(const char *in, char *out, size_t len)
{
    size_t n = 0, alnum = 0;
    const unsigned char *p = (const unsigned char *)in;
    if (*p >= 0x80) {
        size_t clen = (*p & 0xE0) == 0xC0   ? 2
                      : (*p & 0xF0) == 0xE0 ? 3
                      : (*p & 0xF8) == 0xF0 ? 4
                                            : 0;
        if (clen == 0 || n + clen >= len)
            return false;
        for (size_t i = 0; i < clen; i++) {
            if (i > 0 && (p[i] & 0xC0) != 0x80)
                return false;
            out[n++] = (char)p[i];
        }
        p += clen;
    }
    for (; *p; p++) {
        if (*p == ' ' || *p == '-' || *p == '.')
            continue;
        if (!isalnum(*p) || n + 1 >= len)
            return false;
        if (alnum == 0 && !isalpha(*p))
            return false;
        out[n++] = (char)toupper(*p);
        alnum++;
    }
    out[n] = '\0';
    return alnum >= 5 && alnum <= 7;
}

/* ---- caches ---- */

static int cmp_door(const void *a, const void *b)
{
    return strcmp(((const acc_door *)a)->terminal, ((const acc_door *)b)->terminal);
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp(((const acc_group *)a)->name, ((const acc_group *)b)->name);
}

static void free_caches(acc_state *s)
{
    for (int i = 0; i < s->ngroups; i++)
        free(s->groups[i].windows);
    free(s->groups);
    free(s->doors);
    free(s->door_groups);
    free(s->holidays);
    s->groups = NULL;
    s->doors = NULL;
    s->door_groups = NULL;
    s->holidays = NULL;
    s->ngroups = s->ndoors = s->ndoor_groups = s->nholidays = 0;
}

static int count_rows(acc_state *s, sqlite3_stmt *st)
{
    (void)s;
    int n = 0;
    if (st == NULL)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return n;
}

const acc_door_group *acc_door_group_by_name(acc_state *s, const char *name)
{
    for (int i = 0; i < s->ndoor_groups; i++)
        if (strcmp(s->door_groups[i].name, name) == 0)
            return &s->door_groups[i];
    return NULL;
}

const acc_door *acc_door_by_id(acc_state *s, const char *id)
{
    for (int i = 0; i < s->ndoors; i++)
        if (strcmp(s->doors[i].id, id) == 0)
            return &s->doors[i];
    return NULL;
}

static const acc_door *door_by_terminal(acc_state *s, const char *terminal)
{
    acc_door key;
    copy(key.terminal, sizeof key.terminal, terminal);
    return bsearch(&key, s->doors, (size_t)s->ndoors, sizeof *s->doors, cmp_door);
}

static const acc_group *group_by_name(acc_state *s, const char *name)
{
    acc_group key;
    copy(key.name, sizeof key.name, name);
    return bsearch(&key, s->groups, (size_t)s->ngroups, sizeof *s->groups, cmp_group);
}

/* Loads doors, door groups, groups with their windows and holidays into memory. */
int acc_reload(acc_state *s)
{
    free_caches(s);
    s->day_start = s->day_end = 0; /* the holiday flag of the day may have changed */
    int ndg = count_rows(s, acc_db(s, "SELECT count(*) FROM access_door_groups"));
    int nd = count_rows(s, acc_db(s, "SELECT count(*) FROM access_doors"));
    int ng = count_rows(s, acc_db(s, "SELECT count(*) FROM access_groups"));
    int nh = count_rows(s, acc_db(s, "SELECT count(*) FROM access_holidays"));
    if (ndg < 0 || nd < 0 || ng < 0 || nh < 0)
        return YKT_PLUGIN_ESTORAGE;
    s->door_groups = calloc((size_t)ndg + 1, sizeof *s->door_groups);
    s->doors = calloc((size_t)nd + 1, sizeof *s->doors);
    s->groups = calloc((size_t)ng + 1, sizeof *s->groups);
    s->holidays = calloc((size_t)nh + 1, sizeof *s->holidays);
    if (!s->door_groups || !s->doors || !s->groups || !s->holidays)
        return YKT_PLUGIN_ESTORAGE;

    sqlite3_stmt *st = acc_db(s, "SELECT name, anti_passback, public, resident_from, "
                                 "resident_to FROM access_door_groups ORDER BY name");
    if (st == NULL)
        return YKT_PLUGIN_ESTORAGE;
    while (s->ndoor_groups < ndg && sqlite3_step(st) == SQLITE_ROW) {
        acc_door_group *g = &s->door_groups[s->ndoor_groups++];
        copy(g->name, sizeof g->name, col(st, 0));
        g->anti_passback = sqlite3_column_int(st, 1) != 0;
        g->public_ = sqlite3_column_int(st, 2) != 0;
        g->resident_from = sqlite3_column_int(st, 3);
        g->resident_to = sqlite3_column_int(st, 4);
    }
    sqlite3_reset(st);

    st = acc_db(s, "SELECT id, terminal, place, kind, building, direction, door_group "
                   "FROM access_doors");
    if (st == NULL)
        return YKT_PLUGIN_ESTORAGE;
    while (s->ndoors < nd && sqlite3_step(st) == SQLITE_ROW) {
        acc_door *d = &s->doors[s->ndoors];
        copy(d->id, sizeof d->id, col(st, 0));
        copy(d->terminal, sizeof d->terminal, col(st, 1));
        copy(d->place, sizeof d->place, col(st, 2));
        copy(d->kind, sizeof d->kind, col(st, 3));
        copy(d->building, sizeof d->building, col(st, 4));
        const char *dir = col(st, 5);
        d->direction = strcmp(dir, "in") == 0    ? YKT_DIR_IN
                       : strcmp(dir, "out") == 0 ? YKT_DIR_OUT
                                                 : 0;
        d->dg = -1;
        for (int i = 0; i < s->ndoor_groups; i++)
            if (strcmp(s->door_groups[i].name, col(st, 6)) == 0)
                d->dg = i;
        if (d->dg >= 0)
            s->ndoors++;
    }
    sqlite3_reset(st);
    qsort(s->doors, (size_t)s->ndoors, sizeof *s->doors, cmp_door);

    st = acc_db(s, "SELECT name FROM access_groups ORDER BY name");
    if (st == NULL)
        return YKT_PLUGIN_ESTORAGE;
    while (s->ngroups < ng && sqlite3_step(st) == SQLITE_ROW)
        copy(s->groups[s->ngroups++].name, ACC_ID_MAX, col(st, 0));
    sqlite3_reset(st);
    st = acc_db(s, "SELECT days, from_min, to_min FROM access_windows WHERE grp = ? "
                   "ORDER BY id");
    if (st == NULL)
        return YKT_PLUGIN_ESTORAGE;
    for (int i = 0; i < s->ngroups; i++) {
        acc_group *g = &s->groups[i];
        int cap = 0;
        sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (g->nwindows == cap) {
                cap = cap ? cap * 2 : 4;
                acc_window *w = realloc(g->windows, (size_t)cap * sizeof *w);
                if (w == NULL) {
                    sqlite3_reset(st);
                    return YKT_PLUGIN_ESTORAGE;
                }
                g->windows = w;
            }
            g->windows[g->nwindows++] = (acc_window){.days = (unsigned)sqlite3_column_int(st, 0),
                                                     .from_min = sqlite3_column_int(st, 1),
                                                     .to_min = sqlite3_column_int(st, 2)};
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }

    st = acc_db(s, "SELECT day FROM access_holidays ORDER BY day");
    if (st == NULL)
        return YKT_PLUGIN_ESTORAGE;
    while (s->nholidays < nh && sqlite3_step(st) == SQLITE_ROW)
        copy(s->holidays[s->nholidays++], 11, col(st, 0));
    sqlite3_reset(st);
    return YKT_PLUGIN_OK;
}

/* ---- the rules ---- */

static bool window_open(acc_state *s, const acc_window *w, int minute)
{
    unsigned bit = s->holiday ? ACC_DAY_HOLIDAY : 1u << s->weekday;
    return (w->days & bit) && minute >= w->from_min && minute < w->to_min;
}

/* Which of the holder's groups open this door group: 2 one of them now, 1 one of them at
 * other times, 0 none. */
static int groups_grant(acc_state *s, const char *person_no, const acc_door_group *dg, int minute)
{
    sqlite3_stmt *st = acc_db(s, "SELECT m.grp FROM access_members m JOIN "
                                 "access_grants g ON g.grp = m.grp AND "
                                 "g.door_group = ?2 WHERE m.person_no = ?1");
    if (st == NULL)
        return 0;
    sqlite3_bind_text(st, 1, person_no, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, dg->name, -1, SQLITE_STATIC);
    int best = 0;
    while (best < 2 && sqlite3_step(st) == SQLITE_ROW) {
        const acc_group *g = group_by_name(s, col(st, 0));
        if (g == NULL)
            continue;
        if (best == 0)
            best = 1;
        for (int i = 0; i < g->nwindows; i++)
            if (window_open(s, &g->windows[i], minute))
                best = 2;
    }
    sqlite3_reset(st);
    return best;
}

static int passback_last(acc_state *s, const char *subject, const char *door_group)
{
    sqlite3_stmt *st = acc_db(s, "SELECT direction FROM access_passback WHERE "
                                 "subject = ? AND door_group = ?");
    if (st == NULL)
        return 0;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, door_group, -1, SQLITE_STATIC);
    int d = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    return d;
}

static int passback_note(acc_state *s, const char *subject, const char *door_group, int dir,
                         int64_t at)
{
    sqlite3_stmt *st = acc_db(s, "INSERT INTO access_passback (subject, door_group, "
                                 "direction, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT "
                                 "DO UPDATE SET direction = excluded.direction, "
                                 "at_ms = excluded.at_ms");
    if (st == NULL)
        return YKT_PLUGIN_ESTORAGE;
    sqlite3_bind_text(st, 1, subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, door_group, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, dir);
    sqlite3_bind_int64(st, 4, at);
    int rc = sqlite3_step(st) == SQLITE_DONE ? YKT_PLUGIN_OK : YKT_PLUGIN_ESTORAGE;
    sqlite3_reset(st);
    return rc;
}

static int deny(acc_state *s, ykt_ev_access *ev, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int deny(acc_state *s, ykt_ev_access *ev, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->reason, sizeof ev->reason, fmt, ap);
    va_end(ap);
    if (ev == s->cur_ev)
        copy(s->my_code, sizeof s->my_code, code);
    return YKT_DENY;
}

/* Whether a card's subsystem list ("" = all) names item. */
bool acc_card_allows(const char *list, const char *item)
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

/* The visit a temporary card is linked to, open now: its id, and whether it opens door d. */
static int64_t visit_of(acc_state *s, const char *card_no, const acc_door *d, int64_t at,
                        bool *opens)
{
    sqlite3_stmt *st = acc_db(s, "SELECT id, coalesce(door_group, '') FROM "
                                 "access_visitors WHERE card_no = ?1 AND status = "
                                 "'open' AND from_ms <= ?2 AND until_ms >= ?2 "
                                 "ORDER BY id DESC LIMIT 1");
    *opens = false;
    if (st == NULL)
        return 0;
    sqlite3_bind_text(st, 1, card_no, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at);
    int64_t id = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        *opens = strcmp(d->kind, "campus_gate") == 0 ||
                 (d->dg >= 0 && strcmp(col(st, 1), s->door_groups[d->dg].name) == 0);
    }
    sqlite3_reset(st);
    return id;
}

/* The plugin's own answer in the decision chain (see docs/plugins/access.md, "Decisions"). */
static int on_access(int event, void *data, void *ud)
{
    (void)event;
    acc_state *s = ud;
    ykt_ev_access *ev = data;
    const acc_door *d;
    if (ev == s->cur_ev) {
        d = s->cur_door;
    } else {
        /* Another plugin asks: answer only for a door of ours at its own place. */
        if (ev->terminal == NULL || ev->card == NULL || ev->place == NULL)
            return YKT_DEFER;
        d = door_by_terminal(s, ev->terminal->id);
        if (d == NULL || strcmp(d->place, ev->place) != 0)
            return YKT_DEFER;
    }
    const ykt_card_info *card = ev->card;
    const acc_door_group *dg = &s->door_groups[d->dg];
    int minute = clock_at(s, ev->at_ms);

    /* R-C2: a temporary card may be limited to some subsystems. */
    if (strcmp(card->card_type, "temporary") == 0 &&
        !acc_card_allows(card->subsystems, s->subsystem))
        return deny(s, ev, "NOT_ALLOWED", "card %s is not valid for access control (%s)",
                    card->card_no, s->subsystem);

    if (dg->anti_passback && ev->direction != 0 &&
        passback_last(s, card->person_no, dg->name) == ev->direction)
        return deny(s, ev, "PASSBACK", "anti-passback: already %s through door group %s",
                    ev->direction == YKT_DIR_IN ? "in" : "out", dg->name);

    if (strcmp(card->card_type, "temporary") == 0) {
        bool opens;
        int64_t visit = visit_of(s, card->card_no, d, ev->at_ms, &opens);
        if (ev == s->cur_ev)
            s->my_visitor = visit;
        if (visit != 0 && opens)
            return YKT_ALLOW;
    }

    int grant = groups_grant(s, card->person_no, dg, minute);
    if (strcmp(d->kind, "dormitory") == 0) {
        if (grant == 2)
            return YKT_ALLOW;
        sqlite3_stmt *st = acc_db(s, "SELECT building FROM access_residents WHERE "
                                     "person_no = ?");
        bool resident = false;
        if (st != NULL) {
            sqlite3_bind_text(st, 1, card->person_no, -1, SQLITE_STATIC);
            resident = sqlite3_step(st) == SQLITE_ROW && strcmp(col(st, 0), d->building) == 0;
            sqlite3_reset(st);
        }
        if (resident) {
            if (minute >= dg->resident_from && minute < dg->resident_to)
                return YKT_ALLOW;
            return deny(s, ev, "OUTSIDE_HOURS",
                        "building %s is open to its residents %02d:%02d-%02d:%02d", d->building,
                        dg->resident_from / 60, dg->resident_from % 60, dg->resident_to / 60,
                        dg->resident_to % 60);
        }
        if (grant == 1)
            return deny(s, ev, "OUTSIDE_HOURS", "not within the access hours of door %s", d->id);
        return deny(s, ev, "NOT_RESIDENT", "not a resident of building %s", d->building);
    }
    if (dg->public_ || grant == 2)
        return YKT_ALLOW;
    if (strcmp(d->kind, "lab") == 0) {
        /* The rooms plugin may allow the holder of a current booking; if nobody does, the
         * refusal says the group's hours are closed rather than that nobody may enter. */
        if (grant == 1 && ev == s->cur_ev)
            s->my_outside = true;
        return YKT_DEFER;
    }
    if (grant == 1)
        return deny(s, ev, "OUTSIDE_HOURS", "not within the access hours of door %s", d->id);
    return deny(s, ev, "NO_ACCESS", "no access group opens door %s", d->id);
}

/* ---- the decision log ---- */

/* Moves a door's head back to `prev` (0: the door had none) after a failed insert;
 * whether it did. */
static bool door_head_restore(acc_state *s, const char *door, int64_t prev)
{
    sqlite3_stmt *st = acc_db(s, prev != 0 ? "UPDATE access_door_heads SET last_id = ?2 WHERE "
                                             "door = ?1"
                                           : "DELETE FROM access_door_heads WHERE door = ?1");
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, door, -1, SQLITE_STATIC);
    if (prev != 0)
        sqlite3_bind_int64(st, 2, prev);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

/* A door's newest decision, 0 when it has none, or -1 when it could not be read: a
 * decision logged after a failed read would start the chain again and hide everything
 * before it. (A person's is read inside the INSERT, which fails with it.) */
static int64_t door_head(acc_state *s, const char *door)
{
    sqlite3_stmt *st = acc_db(s, "SELECT last_id FROM access_door_heads WHERE door = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, door, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return id;
}

/* Makes `id` the newest decision of a chain. */
static bool head_set(acc_state *s, const char *sql, const char *key, int64_t id)
{
    sqlite3_stmt *st = acc_db(s, sql);
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

#define DOOR_HEAD_SET                                                                              \
    "INSERT INTO access_door_heads (door, last_id) VALUES (?, ?) ON CONFLICT (door) DO "           \
    "UPDATE SET last_id = excluded.last_id"
#define PERSON_HEAD_SET                                                                            \
    "INSERT INTO access_log_heads (person_no, last_id) VALUES (?, ?) ON CONFLICT "                 \
    "(person_no) DO UPDATE SET last_id = excluded.last_id"

/* The new row's id from sqlite3_last_insert_rowid, not RETURNING: SQLite buffers RETURNING
 * rows in a temporary table, which cost more than the insert itself (docs/performance.md).
 * A decision joins two chains: its door's (schema version 5) and its person's (version 4).
 * It names the newest decision of each before it, and becomes the newest of both. Plugins
 * cannot open a savepoint, so a failure undoes by hand what went before it: a decision is
 * not logged at all rather than off a chain (a flush tries again next tick). */
static int64_t log_insert(acc_state *s, const acc_pending *p)
{
    int64_t prev_door = door_head(s, p->door);
    if (prev_door < 0)
        return 0;
    sqlite3_stmt *st =
        acc_db(s, "INSERT INTO access_log (at_ms, terminal, door, direction, card_no, uid, "
                  "person_no, visitor_id, plate, result, code, reason, prev_id, prev_door_id) "
                  "VALUES (?, ?, ?, ?, nullif(?, ''), nullif(?, ''), nullif(?7, ''), "
                  "nullif(?, 0), nullif(?, ''), ?, ?, ?, (SELECT last_id FROM "
                  "access_log_heads WHERE person_no = ?7), nullif(?13, 0))");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, p->at_ms);
    sqlite3_bind_text(st, 2, p->terminal, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->door, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, dir_name(p->direction), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, p->card_no, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, p->uid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, p->person_no, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, p->visitor_id);
    sqlite3_bind_text(st, 9, p->plate, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, p->result, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, p->code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, p->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, prev_door);
    int64_t id =
        sqlite3_step(st) == SQLITE_DONE ? sqlite3_last_insert_rowid(sqlite3_db_handle(st)) : 0;
    sqlite3_reset(st);
    if (id == 0)
        return 0;
    if (head_set(s, DOOR_HEAD_SET, p->door, id)) {
        if (p->person_no[0] == '\0' || head_set(s, PERSON_HEAD_SET, p->person_no, id))
            return id;
        /* The door's head names this decision: it stays, off its person's chain only,
         * unless the head goes back to the one before. */
        if (!door_head_restore(s, p->door, prev_door))
            return id;
    }
    sqlite3_stmt *undo = acc_db(s, "DELETE FROM access_log WHERE id = ?");
    if (undo != NULL) {
        sqlite3_bind_int64(undo, 1, id);
        sqlite3_step(undo);
        sqlite3_reset(undo);
    }
    return 0;
}

/* A denial or a refusal, logged by the next flush (the error reply undoes the request's own
 * writes). */
static void log_later(acc_state *s, const acc_pending *p)
{
    if (s->npending == ACC_PENDING_MAX) {
        if (s->dropped++ % 1000 == 0)
            s->h->log(s->self, YKT_PLUGIN_LOG_ERROR,
                      "decision log queue full: %lld denials not logged", (long long)s->dropped);
        return;
    }
    s->pending[s->npending++] = *p;
}

static void flush(void *ud)
{
    acc_state *s = ud;
    int done = 0;
    while (done < s->npending && log_insert(s, &s->pending[done]) != 0)
        done++;
    if (done < s->npending && done == 0)
        return; /* storage refused: keep them for the next tick */
    memmove(s->pending, s->pending + done, (size_t)(s->npending - done) * sizeof *s->pending);
    s->npending -= done;
}

/* The host refused the card (and replied). Which refusal it was is not handed to plugins, so
 * the card is looked up by the UID it presented (card_by_uid) and its state read: a lost,
 * frozen, cancelled or expired card is logged with that code, any other card that exists with
 * its number and CARD_REFUSED (cryptogram, clock or replay), an unknown UID as CARD_REFUSED
 * with the UID alone, and what is no UID at all as CARD_REFUSED without one. */
static void log_refusal(acc_state *s, ykt_request *r, const acc_door *d, int dir, int64_t at)
{
    const ykt_host *h = s->h;
    acc_pending p = {.at_ms = at, .direction = dir};
    copy(p.terminal, sizeof p.terminal, d->terminal);
    copy(p.door, sizeof p.door, d->id);
    copy(p.result, sizeof p.result, "refused");
    size_t uid_len = 0;
    const char *uid = h->argc(r) > 2 ? h->arg(r, 2, &uid_len) : "";
    copy(p.code, sizeof p.code, "CARD_REFUSED");
    copy(p.reason, sizeof p.reason, "no card has this UID");
    /* Only a UID by the host's rule is logged (and found by `access log --uid`): what the
     * reader sent instead is no card's, and may be any text. */
    char norm[ACC_UID_MAX];
    if (strlen(uid) == uid_len && acc_uid_normalise(uid, norm))
        copy(p.uid, sizeof p.uid, norm);
    else
        copy(p.reason, sizeof p.reason, "not a card UID (4 to 10 bytes in hex)");
    ykt_card_info c;
    if (p.uid[0] && h->card_by_uid(p.uid, &c) == YKT_PLUGIN_OK) {
        copy(p.card_no, sizeof p.card_no, c.card_no);
        copy(p.person_no, sizeof p.person_no, c.person_no);
        char today[11];
        h->campus_date(at, today);
        const char *code = strcmp(c.status, "lost") == 0        ? "CARD_LOST"
                           : strcmp(c.status, "frozen") == 0    ? "CARD_FROZEN"
                           : strcmp(c.status, "cancelled") == 0 ? "CARD_CANCELLED"
                           : strcmp(c.valid_until, today) < 0   ? "CARD_EXPIRED"
                                                                : NULL;
        if (code != NULL) {
            copy(p.code, sizeof p.code, code);
            snprintf(p.reason, sizeof p.reason, "card %s is %s", c.card_no,
                     strcmp(code, "CARD_EXPIRED") == 0 ? "expired" : c.status);
        } else {
            snprintf(p.reason, sizeof p.reason,
                     "card %s refused by the card checks (cryptogram, clock or replay)", c.card_no);
        }
    }
    log_later(s, &p);
}

/* ---- verbs ---- */

static bool door_and_direction(acc_state *s, ykt_request *r, int dir_arg, const acc_door **door,
                               int *dir)
{
    const ykt_host *h = s->h;
    const ykt_terminal_info *t = h->terminal(r);
    const acc_door *d = door_by_terminal(s, t->id);
    if (d == NULL) {
        h->reply_error(r, "NO_DOOR", "terminal %s is not registered as a door (access door-add)",
                       t->id);
        return false;
    }
    const char *a = h->argc(r) > dir_arg ? h->arg(r, dir_arg, NULL) : NULL;
    int asked = a == NULL               ? 0
                : strcmp(a, "in") == 0  ? YKT_DIR_IN
                : strcmp(a, "out") == 0 ? YKT_DIR_OUT
                                        : -1;
    if (asked < 0 || h->argc(r) > dir_arg + 1) {
        h->reply_error(r, "BAD_REQUEST", "the direction is in or out, and nothing follows it");
        return false;
    }
    if (d->direction != 0 && asked != 0 && asked != d->direction) {
        h->reply_error(r, "BAD_REQUEST", "door %s is an %s reader", d->id, dir_name(d->direction));
        return false;
    }
    *door = d;
    *dir = d->direction != 0 ? d->direction : asked;
    return true;
}

static void v_open(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const acc_door *d;
    int dir;
    if (h->argc(r) < 7) {
        h->reply_error(r, "BAD_REQUEST",
                       "usage: ACCESS.OPEN seq uid atc time 0 cryptogram [in|out]");
        return;
    }
    if (!door_and_direction(s, r, 7, &d, &dir))
        return;
    int64_t at = h->now_ms();
    ykt_card_info card;
    if (h->card_present(r, &card, NULL) != YKT_PLUGIN_OK) {
        log_refusal(s, r, d, dir, at);
        return;
    }
    const acc_door_group *dg = &s->door_groups[d->dg];
    ykt_ev_access ev = {.size = sizeof ev,
                        .card = &card,
                        .terminal = h->terminal(r),
                        .place = d->place,
                        .place_kind = d->kind,
                        .building = d->building,
                        .direction = dir,
                        .at_ms = at};
    s->cur_ev = &ev;
    s->cur_door = d;
    s->my_code[0] = '\0';
    s->my_visitor = 0;
    s->my_outside = false;
    int answer = h->decide(YKT_EV_ACCESS_CHECK, &ev);
    s->cur_ev = NULL;
    s->cur_door = NULL;

    acc_pending p = {.at_ms = at, .direction = dir, .visitor_id = s->my_visitor};
    copy(p.terminal, sizeof p.terminal, d->terminal);
    copy(p.door, sizeof p.door, d->id);
    copy(p.card_no, sizeof p.card_no, card.card_no);
    copy(p.uid, sizeof p.uid, card.uid);
    copy(p.person_no, sizeof p.person_no, card.person_no);
    if (answer != YKT_ALLOW) {
        copy(p.result, sizeof p.result, "deny");
        if (s->my_code[0]) {
            copy(p.code, sizeof p.code, s->my_code);
            copy(p.reason, sizeof p.reason, ev.reason);
        } else if (ev.reason[0]) {
            copy(p.code, sizeof p.code, "DENIED"); /* another subscriber, e.g. attendance */
            copy(p.reason, sizeof p.reason, ev.reason);
        } else if (s->my_outside) {
            copy(p.code, sizeof p.code, "OUTSIDE_HOURS");
            snprintf(p.reason, sizeof p.reason,
                     "not within the access hours of door %s (and no current booking)", d->id);
        } else {
            copy(p.code, sizeof p.code, "NO_ACCESS");
            snprintf(p.reason, sizeof p.reason, "nobody allowed %s at %s (no access group%s)",
                     card.card_no, d->id,
                     strcmp(d->kind, "lab") == 0 ? " and no current booking" : "");
        }
        log_later(s, &p);
        h->reply_error(r, p.code, "%s", p.reason);
        return;
    }
    copy(p.result, sizeof p.result, "allow");
    int64_t id = log_insert(s, &p);
    int rc = id != 0 ? YKT_PLUGIN_OK : YKT_PLUGIN_ESTORAGE;
    if (rc == YKT_PLUGIN_OK && dg->anti_passback && dir != 0)
        rc = passback_note(s, card.person_no, dg->name, dir, at);
    if (rc == YKT_PLUGIN_OK && s->my_visitor != 0 && dir != 0) {
        sqlite3_stmt *st =
            acc_db(s, "UPDATE access_visitors SET first_in_ms = CASE WHEN ?2 = 1 THEN "
                      "coalesce(first_in_ms, ?3) ELSE first_in_ms END, last_out_ms = "
                      "CASE WHEN ?2 = 2 THEN ?3 ELSE last_out_ms END WHERE id = ?1 "
                      "RETURNING host_person_no, first_in_ms = ?3 AND ?2 = 1");
        if (st == NULL) {
            rc = YKT_PLUGIN_ESTORAGE;
        } else {
            sqlite3_bind_int64(st, 1, s->my_visitor);
            sqlite3_bind_int(st, 2, dir);
            sqlite3_bind_int64(st, 3, at);
            char hostno[ACC_ID_MAX] = "";
            bool first = false;
            if (sqlite3_step(st) == SQLITE_ROW) {
                copy(hostno, sizeof hostno, col(st, 0));
                first = sqlite3_column_int(st, 1) != 0;
            }
            sqlite3_reset(st);
            ykt_card_info hc;
            if (first && h->person_card(hostno, &hc) == YKT_PLUGIN_OK) {
                char msg[160], masked[64];
                h->mask_name(card.name, masked, sizeof masked);
                snprintf(msg, sizeof msg, "访客 %s 已到达 %s (visitor %lld has arrived)", masked,
                         d->id, (long long)s->my_visitor);
                h->notify(hc.person_id, "visitor", msg, 0);
            }
        }
    }
    if (rc != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot log the decision");
        return;
    }
    char masked[64];
    h->mask_name(card.name, masked, sizeof masked);
    h->reply_array(r, 3);
    h->reply_str(r, "OPEN");
    h->reply_str(r, masked);
    h->reply_int(r, id);
}

/* Parking gates: a plate reader's decision, by the vehicle registry and the visits. The
 * decision chain is not asked: it is about cards (ykt_ev_access.card is required). */
static void v_plate(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    const acc_door *d;
    int dir;
    if (h->argc(r) < 2) {
        h->reply_error(r, "BAD_REQUEST", "usage: ACCESS.PLATE plate [in|out]");
        return;
    }
    char plate[ACC_ID_MAX];
    if (!acc_plate_normalise(h->arg(r, 1, NULL), plate, sizeof plate)) {
        h->reply_error(r, "BAD_PLATE",
                       "not a licence plate: a province character, then 5 to 7 "
                       "letters and digits");
        return;
    }
    if (!door_and_direction(s, r, 2, &d, &dir))
        return;
    if (strcmp(d->kind, "parking") != 0) {
        h->reply_error(r, "NO_DOOR", "door %s is not a parking gate", d->id);
        return;
    }
    const acc_door_group *dg = &s->door_groups[d->dg];
    int64_t at = h->now_ms();
    char today[11];
    h->campus_date(at, today);
    acc_pending p = {.at_ms = at, .direction = dir};
    copy(p.terminal, sizeof p.terminal, d->terminal);
    copy(p.door, sizeof p.door, d->id);
    copy(p.plate, sizeof p.plate, plate);
    const char *code = NULL;
    char reason[ACC_REASON_MAX] = "";
    sqlite3_stmt *st = acc_db(s, "SELECT owner_person_no, status, coalesce(valid_until, "
                                 "'') FROM access_vehicles WHERE plate = ?");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the vehicle registry");
        return;
    }
    sqlite3_bind_text(st, 1, plate, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        copy(p.person_no, sizeof p.person_no, col(st, 0));
        const char *status = col(st, 1), *until = col(st, 2);
        if (strcmp(status, "pending") == 0) {
            code = "VEHICLE_PENDING";
            snprintf(reason, sizeof reason, "vehicle %s awaits approval", plate);
        } else if (strcmp(status, "approved") != 0) {
            code = "VEHICLE_REFUSED";
            snprintf(reason, sizeof reason, "vehicle %s is %s", plate, status);
        } else if (until[0] && strcmp(until, today) < 0) {
            code = "VEHICLE_EXPIRED";
            snprintf(reason, sizeof reason, "the approval of vehicle %s ended on %s", plate, until);
        }
    } else {
        code = "UNKNOWN_VEHICLE";
        snprintf(reason, sizeof reason, "vehicle %s is not registered", plate);
    }
    sqlite3_reset(st);
    if (code != NULL) {
        /* A visitor's car, registered with the visit. */
        st = acc_db(s, "SELECT id, host_person_no FROM access_visitors WHERE plate = ?1 "
                       "AND status = 'open' AND from_ms <= ?2 AND until_ms >= ?2 ORDER "
                       "BY id DESC LIMIT 1");
        if (st != NULL) {
            sqlite3_bind_text(st, 1, plate, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, at);
            if (sqlite3_step(st) == SQLITE_ROW) {
                p.visitor_id = sqlite3_column_int64(st, 0);
                code = NULL;
            }
            sqlite3_reset(st);
        }
    }
    char subject[ACC_ID_MAX + 8];
    snprintf(subject, sizeof subject, "plate:%s", plate);
    if (code == NULL && dg->anti_passback && dir != 0 &&
        passback_last(s, subject, dg->name) == dir) {
        code = "PASSBACK";
        snprintf(reason, sizeof reason, "anti-passback: vehicle %s is already %s", plate,
                 dir_name(dir));
    }
    if (code != NULL) {
        copy(p.result, sizeof p.result, "deny");
        copy(p.code, sizeof p.code, code);
        copy(p.reason, sizeof p.reason, reason);
        log_later(s, &p);
        h->reply_error(r, code, "%s", reason);
        return;
    }
    copy(p.result, sizeof p.result, "allow");
    int64_t id = log_insert(s, &p);
    if (id == 0 || (dg->anti_passback && dir != 0 &&
                    passback_note(s, subject, dg->name, dir, at) != YKT_PLUGIN_OK)) {
        h->reply_error(r, "STORAGE_ERROR", "cannot log the decision");
        return;
    }
    h->reply_array(r, 3);
    h->reply_str(r, "OPEN");
    h->reply_str(r, plate);
    h->reply_int(r, id);
}

/* ---- the white list for offline readers ---- */

static int64_t wl_next_version(acc_state *s)
{
    sqlite3_stmt *st = acc_db(s, "SELECT max((SELECT coalesce(max(version), 0) FROM access_wl), "
                                 "(SELECT coalesce(max(version), 0) FROM access_wl_cards)) + 1");
    if (st == NULL)
        return 0;
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return v;
}

typedef struct wl_key {
    char door_group[ACC_ID_MAX], person_no[ACC_ID_MAX];
} wl_key;

/* Marks the rows a refresh wants (the others are stale); rises with every refresh. */
static int64_t wl_stamp(acc_state *s)
{
    static int64_t stamp;
    if (stamp == 0)
        stamp = s->h->now_ms();
    return ++stamp;
}

static bool card_valid(const ykt_card_info *c, const char *today)
{
    return strcmp(c->status, "active") == 0 && c->valid_until != NULL &&
           strcmp(c->valid_until, today) >= 0;
}

/* The last valid day a blocked card may have and still be listed (see ACC_BLOCK_KEEP_DAYS). */
static void block_cutoff(const char *today, char out[11])
{
    int64_t days;
    if (date_parse(today, &days))
        civil_from_days(days - ACC_BLOCK_KEEP_DAYS, out);
    else
        copy(out, 11, today);
}

/* Records whether a card is refused by the card checks (access_blocked): a lost, frozen,
 * cancelled or expired card is kept until ACC_BLOCK_KEEP_DAYS after its last valid day; a
 * valid one (found again, extended) leaves. */
static int blocked_note(acc_state *s, const ykt_card_info *c)
{
    char today[11], cutoff[11];
    s->h->campus_date(s->h->now_ms(), today);
    block_cutoff(today, cutoff);
    const char *until = c->valid_until ? c->valid_until : "";
    bool keep = c->uid != NULL && c->uid[0] && !card_valid(c, today) && strcmp(until, cutoff) >= 0;
    sqlite3_stmt *st =
        keep ? acc_db(s, "INSERT INTO access_blocked (uid, card_no, person_no, status, "
                         "valid_until) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET "
                         "card_no = ?2, person_no = ?3, status = ?4, valid_until = ?5")
             : acc_db(s, "DELETE FROM access_blocked WHERE uid = ?1");
    if (st == NULL)
        return YKT_PLUGIN_ESTORAGE;
    bind_text(st, 1, c->uid ? c->uid : "");
    if (keep) {
        bind_text(st, 2, c->card_no);
        bind_text(st, 3, c->person_no);
        bind_text(st, 4, strcmp(c->status, "active") == 0 ? "expired" : c->status);
        bind_text(st, 5, until);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? YKT_PLUGIN_OK : YKT_PLUGIN_ESTORAGE;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Writes a white-list row by UID (access_wl_cards) when it differs, else marks it wanted. */
static int wl_card_put(acc_state *s, const char *door_group, const char *uid, const char *card_no,
                       const char *person_no, const char *state, const char *until, int64_t stamp)
{
    sqlite3_stmt *old = acc_db(s, "SELECT card_no, state, valid_until FROM access_wl_cards "
                                  "WHERE door_group = ? AND uid = ?");
    sqlite3_stmt *touch = acc_db(s, "UPDATE access_wl_cards SET stamp = ?3 WHERE door_group = "
                                    "?1 AND uid = ?2");
    sqlite3_stmt *put =
        acc_db(s, "INSERT INTO access_wl_cards (door_group, uid, card_no, person_no, state, "
                  "valid_until, version, stamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON "
                  "CONFLICT DO UPDATE SET card_no = ?3, person_no = ?4, state = ?5, "
                  "valid_until = ?6, version = ?7, stamp = ?8");
    if (!old || !touch || !put)
        return YKT_PLUGIN_ESTORAGE;
    sqlite3_bind_text(old, 1, door_group, -1, SQLITE_STATIC);
    sqlite3_bind_text(old, 2, uid, -1, SQLITE_STATIC);
    bool same = sqlite3_step(old) == SQLITE_ROW && strcmp(col(old, 0), card_no) == 0 &&
                strcmp(col(old, 1), state) == 0 && strcmp(col(old, 2), until) == 0;
    sqlite3_reset(old);
    sqlite3_stmt *st = same ? touch : put;
    sqlite3_bind_text(st, 1, door_group, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, uid, -1, SQLITE_TRANSIENT);
    if (same) {
        sqlite3_bind_int64(st, 3, stamp);
    } else {
        sqlite3_bind_text(st, 3, card_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, person_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, until, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, wl_next_version(s));
        sqlite3_bind_int64(st, 8, stamp);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? YKT_PLUGIN_OK : YKT_PLUGIN_ESTORAGE;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* A person's row changed from UID `old_uid` to another card: the old UID gets a row of its
 * own, blocked while its card is refused (a replaced card is cancelled), else removed, so
 * that a reader that holds it learns it no longer opens. */
static int wl_card_displaced(acc_state *s, const char *door_group, const char *old_uid,
                             const char *person_no, int64_t stamp)
{
    ykt_card_info c;
    if (s->h->card_by_uid(old_uid, &c) == YKT_PLUGIN_OK) {
        int rc = blocked_note(s, &c);
        if (rc != YKT_PLUGIN_OK)
            return rc;
    }
    sqlite3_stmt *st = acc_db(s, "SELECT card_no, valid_until FROM access_blocked WHERE uid = ?");
    if (st == NULL)
        return YKT_PLUGIN_ESTORAGE;
    sqlite3_bind_text(st, 1, old_uid, -1, SQLITE_STATIC);
    char card_no[24] = "", until[11] = "";
    bool blocked = sqlite3_step(st) == SQLITE_ROW;
    if (blocked) {
        copy(card_no, sizeof card_no, col(st, 0));
        copy(until, sizeof until, col(st, 1));
    }
    sqlite3_reset(st);
    return wl_card_put(s, door_group, old_uid, card_no, person_no, blocked ? "blocked" : "removed",
                       until, stamp);
}

/*
 * Recomputes the white lists' rows by UID of one door group, one UID, or both (NULL: all):
 * every blocked card (access_blocked) on the list of every public door group, and the rows
 * of replaced UIDs while their card stays blocked. Rows no longer wanted become "removed".
 */
static int wl_cards_refresh(acc_state *s, const char *door_group, const char *uid)
{
    int64_t stamp = wl_stamp(s);
    /* One card alone (its status changed) has statements of its own, searched by the UID:
     * `?2 IS NULL OR uid = ?2` would read every blocked card and every row by UID. */
    bool one_card = door_group == NULL && uid != NULL;
    sqlite3_stmt *want =
        one_card
            ? acc_db(s, "SELECT g.name, b.uid, b.card_no, b.person_no, b.valid_until FROM "
                        "access_blocked b JOIN access_door_groups g WHERE b.uid = ?2 AND "
                        "g.public = 1 UNION SELECT c.door_group, b.uid, b.card_no, b.person_no, "
                        "b.valid_until FROM access_wl_cards c JOIN access_blocked b ON b.uid = "
                        "c.uid WHERE c.uid = ?2 AND c.state = 'blocked'")
            : acc_db(s,
                     "SELECT g.name, b.uid, b.card_no, b.person_no, b.valid_until FROM "
                     "access_door_groups g JOIN access_blocked b WHERE g.public = 1 AND (?1 IS "
                     "NULL OR g.name = ?1) AND (?2 IS NULL OR b.uid = ?2) UNION SELECT "
                     "c.door_group, b.uid, b.card_no, b.person_no, b.valid_until FROM "
                     "access_wl_cards c JOIN access_blocked b ON b.uid = c.uid WHERE c.state = "
                     "'blocked' AND (?1 IS NULL OR c.door_group = ?1) AND (?2 IS NULL OR c.uid = "
                     "?2)");
    if (want == NULL)
        return YKT_PLUGIN_ESTORAGE;
    bind_text(want, 1, door_group);
    bind_text(want, 2, uid);
    typedef struct {
        char dg[ACC_ID_MAX], uid[24], card_no[24], person_no[ACC_ID_MAX], until[11];
    } row;
    row *rows = NULL;
    int n = 0, cap = 0, rc = YKT_PLUGIN_OK;
    while (sqlite3_step(want) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            row *nr = realloc(rows, (size_t)cap * sizeof *nr);
            if (nr == NULL) {
                rc = YKT_PLUGIN_ESTORAGE;
                break;
            }
            rows = nr;
        }
        copy(rows[n].dg, sizeof rows[n].dg, col(want, 0));
        copy(rows[n].uid, sizeof rows[n].uid, col(want, 1));
        copy(rows[n].card_no, sizeof rows[n].card_no, col(want, 2));
        copy(rows[n].person_no, sizeof rows[n].person_no, col(want, 3));
        copy(rows[n].until, sizeof rows[n].until, col(want, 4));
        n++;
    }
    sqlite3_reset(want);
    sqlite3_clear_bindings(want);
    for (int i = 0; rc == YKT_PLUGIN_OK && i < n; i++)
        rc = wl_card_put(s, rows[i].dg, rows[i].uid, rows[i].card_no, rows[i].person_no, "blocked",
                         rows[i].until, stamp);
    free(rows);
    if (rc != YKT_PLUGIN_OK)
        return rc;

    sqlite3_stmt *gone =
        one_card ? acc_db(s, "SELECT door_group, uid FROM access_wl_cards WHERE uid = ?2 AND state "
                             "!= 'removed' AND stamp != ?3")
                 : acc_db(s, "SELECT door_group, uid FROM access_wl_cards WHERE (?1 IS NULL OR "
                             "door_group = ?1) AND (?2 IS NULL OR uid = ?2) AND state != 'removed' "
                             "AND stamp != ?3");
    sqlite3_stmt *drop = acc_db(s, "UPDATE access_wl_cards SET state = 'removed', version = ? "
                                   "WHERE door_group = ? AND uid = ?");
    if (!gone || !drop)
        return YKT_PLUGIN_ESTORAGE;
    bind_text(gone, 1, door_group);
    bind_text(gone, 2, uid);
    sqlite3_bind_int64(gone, 3, stamp);
    typedef struct {
        char dg[ACC_ID_MAX], uid[24];
    } key;
    key *keys = NULL;
    n = cap = 0;
    while (sqlite3_step(gone) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            key *nk = realloc(keys, (size_t)cap * sizeof *nk);
            if (nk == NULL) {
                rc = YKT_PLUGIN_ESTORAGE;
                break;
            }
            keys = nk;
        }
        copy(keys[n].dg, sizeof keys[n].dg, col(gone, 0));
        copy(keys[n].uid, sizeof keys[n].uid, col(gone, 1));
        n++;
    }
    sqlite3_reset(gone);
    sqlite3_clear_bindings(gone);
    for (int i = 0; rc == YKT_PLUGIN_OK && i < n; i++) {
        sqlite3_bind_int64(drop, 1, wl_next_version(s));
        sqlite3_bind_text(drop, 2, keys[i].dg, -1, SQLITE_STATIC);
        sqlite3_bind_text(drop, 3, keys[i].uid, -1, SQLITE_STATIC);
        if (sqlite3_step(drop) != SQLITE_DONE)
            rc = YKT_PLUGIN_ESTORAGE;
        sqlite3_reset(drop);
    }
    free(keys);
    return rc;
}

/* Who should be on the white lists, with which schedule: members of the groups that open a
 * door group, residents of its dormitories. MEMBERS and RESIDENTS narrow it down (?1: the
 * door group, ?2: the person). */
#define WL_WANTED(MEMBERS, RESIDENTS)                                                              \
    "SELECT dg, person_no, group_concat(sched, ';') FROM ("                                        \
    " SELECT g.door_group AS dg, m.person_no AS person_no, nullif(ag.schedule, '') AS sched"       \
    "  FROM access_grants g JOIN access_members m ON m.grp = g.grp"                                \
    "  JOIN access_groups ag ON ag.name = g.grp"                                                   \
    "  WHERE " MEMBERS " UNION"                                                                    \
    " SELECT d.door_group, r.person_no, printf('1234567H %02d:%02d-%02d:%02d',"                    \
    "  dg.resident_from / 60, dg.resident_from % 60, dg.resident_to / 60, dg.resident_to % 60)"    \
    "  FROM access_doors d JOIN access_residents r ON r.building = d.building"                     \
    "  JOIN access_door_groups dg ON dg.name = d.door_group"                                       \
    "  WHERE d.kind = 'dormitory' AND " RESIDENTS                                                  \
    ") GROUP BY dg, person_no HAVING group_concat(sched, ';') IS NOT NULL"

/*
 * Recomputes the white list rows of one door group, one person, or both (NULL: all): who
 * may open the door group's doors (members of the groups that open it, residents of its
 * dormitories), with which live card and schedule. Rows that change get a new version; rows
 * no longer wanted become "removed" with a new version. Readers ask for versions above the
 * last one they stored.
 */
int acc_wl_refresh(acc_state *s, const char *door_group, const char *person_no)
{
    const ykt_host *h = s->h;
    int64_t stamp = wl_stamp(s);
    /* One person alone (a card's status changed: loss, cancel, expiry) has statements of
     * its own: `?2 IS NULL OR person_no = ?2` keeps SQLite from using any index, and the
     * general ones read every membership, every resident and the whole list
     * (docs/performance.md, "Query plans of every verb"). */
    bool one_person = door_group == NULL && person_no != NULL;
    sqlite3_stmt *want = one_person ? acc_db(s, WL_WANTED("m.person_no = ?2", "r.person_no = ?2"))
                                    : acc_db(s, WL_WANTED("(?1 IS NULL OR g.door_group = ?1) AND "
                                                          "(?2 IS NULL OR m.person_no = ?2)",
                                                          "(?1 IS NULL OR d.door_group = ?1) AND "
                                                          "(?2 IS NULL OR r.person_no = ?2)"));
    sqlite3_stmt *old = acc_db(s, "SELECT card_no, uid, state, schedule, valid_until "
                                  "FROM access_wl WHERE door_group = ? AND person_no = ?");
    sqlite3_stmt *put =
        acc_db(s, "INSERT INTO access_wl (door_group, person_no, card_no, uid, state, schedule, "
                  "version, stamp, valid_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON "
                  "CONFLICT DO UPDATE SET card_no = ?3, uid = ?4, state = ?5, schedule = ?6, "
                  "version = ?7, stamp = ?8, valid_until = ?9");
    sqlite3_stmt *touch = acc_db(s, "UPDATE access_wl SET stamp = ?3 WHERE door_group = "
                                    "?1 AND person_no = ?2");
    if (!want || !old || !put || !touch)
        return YKT_PLUGIN_ESTORAGE;
    bind_text(want, 1, door_group);
    bind_text(want, 2, person_no);
    char today[11];
    h->campus_date(h->now_ms(), today);
    int rc = YKT_PLUGIN_OK;
    /* Collect first: the rows are written while the query would still be reading them. */
    typedef struct {
        wl_key k;
        char *schedule;
    } row;
    row *rows = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(want) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            row *nr = realloc(rows, (size_t)cap * sizeof *nr);
            if (nr == NULL) {
                rc = YKT_PLUGIN_ESTORAGE;
                break;
            }
            rows = nr;
        }
        copy(rows[n].k.door_group, ACC_ID_MAX, col(want, 0));
        copy(rows[n].k.person_no, ACC_ID_MAX, col(want, 1));
        rows[n].schedule = strdup(col(want, 2));
        n++;
    }
    sqlite3_reset(want);
    sqlite3_clear_bindings(want);
    /* The UIDs whose rows by UID follow a one-person refresh: the person's card and the
     * cards it replaced. */
    char uids[4][24];
    int nuids = 0;
    for (int i = 0; rc == YKT_PLUGIN_OK && i < n; i++) {
        ykt_card_info c;
        if (rows[i].schedule == NULL || h->person_card(rows[i].k.person_no, &c) != YKT_PLUGIN_OK)
            continue; /* no live card: nothing to put on a reader */
        /* An expired card is blocked too; the reader also gets the date (it may be offline
         * when the validity ends). */
        const char *until = c.valid_until ? c.valid_until : "";
        bool valid = card_valid(&c, today);
        const char *state = valid ? "allow" : "blocked";
        sqlite3_bind_text(old, 1, rows[i].k.door_group, -1, SQLITE_STATIC);
        sqlite3_bind_text(old, 2, rows[i].k.person_no, -1, SQLITE_STATIC);
        char old_uid[24] = "";
        bool found = sqlite3_step(old) == SQLITE_ROW;
        if (found && strcmp(col(old, 2), "removed") != 0)
            copy(old_uid, sizeof old_uid, col(old, 1));
        bool same = found && strcmp(col(old, 0), c.card_no) == 0 &&
                    strcmp(col(old, 1), c.uid) == 0 && strcmp(col(old, 2), state) == 0 &&
                    strcmp(col(old, 3), rows[i].schedule) == 0 && strcmp(col(old, 4), until) == 0;
        sqlite3_reset(old);
        if (!valid)
            rc = blocked_note(s, &c);
        /* A new card: readers key their lists by UID, so the old UID needs a row of its own
         * (blocked: the replaced card is cancelled), or it would go on opening offline. */
        if (rc == YKT_PLUGIN_OK && old_uid[0] && strcmp(old_uid, c.uid) != 0)
            rc = wl_card_displaced(s, rows[i].k.door_group, old_uid, rows[i].k.person_no, stamp);
        if (person_no != NULL) {
            const char *add[2] = {c.uid, old_uid};
            for (int a = 0; a < 2; a++) {
                bool seen = add[a][0] == '\0';
                for (int u = 0; !seen && u < nuids; u++)
                    seen = strcmp(uids[u], add[a]) == 0;
                if (!seen && nuids < 4)
                    copy(uids[nuids++], sizeof uids[0], add[a]);
            }
        }
        if (rc != YKT_PLUGIN_OK)
            break;
        sqlite3_stmt *st = same ? touch : put;
        sqlite3_bind_text(st, 1, rows[i].k.door_group, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, rows[i].k.person_no, -1, SQLITE_STATIC);
        if (same) {
            sqlite3_bind_int64(st, 3, stamp);
        } else {
            sqlite3_bind_text(st, 3, c.card_no, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 4, c.uid, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, rows[i].schedule, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 7, wl_next_version(s));
            sqlite3_bind_int64(st, 8, stamp);
            sqlite3_bind_text(st, 9, until, -1, SQLITE_TRANSIENT);
        }
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = YKT_PLUGIN_ESTORAGE;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    for (int i = 0; i < n; i++)
        free(rows[i].schedule);
    free(rows);
    if (rc != YKT_PLUGIN_OK)
        return rc;

    /* What is no longer wanted. */
    sqlite3_stmt *gone = one_person
                             ? acc_db(s, "SELECT door_group, person_no FROM access_wl WHERE "
                                         "person_no = ?2 AND state != 'removed' AND stamp != ?3")
                             : acc_db(s, "SELECT door_group, person_no FROM access_wl WHERE "
                                         "(?1 IS NULL OR door_group = ?1) AND (?2 IS NULL OR "
                                         "person_no = ?2) AND state != 'removed' AND stamp != "
                                         "?3");
    sqlite3_stmt *drop = acc_db(s, "UPDATE access_wl SET state = 'removed', version = ? "
                                   "WHERE door_group = ? AND person_no = ?");
    if (!gone || !drop)
        return YKT_PLUGIN_ESTORAGE;
    bind_text(gone, 1, door_group);
    bind_text(gone, 2, person_no);
    sqlite3_bind_int64(gone, 3, stamp);
    wl_key *keys = NULL;
    n = cap = 0;
    while (sqlite3_step(gone) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            wl_key *nk = realloc(keys, (size_t)cap * sizeof *nk);
            if (nk == NULL) {
                rc = YKT_PLUGIN_ESTORAGE;
                break;
            }
            keys = nk;
        }
        copy(keys[n].door_group, ACC_ID_MAX, col(gone, 0));
        copy(keys[n].person_no, ACC_ID_MAX, col(gone, 1));
        n++;
    }
    sqlite3_reset(gone);
    sqlite3_clear_bindings(gone);
    for (int i = 0; rc == YKT_PLUGIN_OK && i < n; i++) {
        sqlite3_bind_int64(drop, 1, wl_next_version(s));
        sqlite3_bind_text(drop, 2, keys[i].door_group, -1, SQLITE_STATIC);
        sqlite3_bind_text(drop, 3, keys[i].person_no, -1, SQLITE_STATIC);
        if (sqlite3_step(drop) != SQLITE_DONE)
            rc = YKT_PLUGIN_ESTORAGE;
        sqlite3_reset(drop);
    }
    free(keys);
    if (rc != YKT_PLUGIN_OK)
        return rc;
    /* The rows by UID: the whole door group's (or every one's), or the person's cards'. */
    if (person_no == NULL)
        return wl_cards_refresh(s, door_group, NULL);
    for (int u = 0; rc == YKT_PLUGIN_OK && u < nuids; u++)
        rc = wl_cards_refresh(s, NULL, uids[u]);
    return rc;
}

/* One page of a door group's white list: [version, more, mode, holidays, [uid, state,
 * card_no, schedule, valid_until]...] for a terminal; a table for an administrator. */
void acc_whitelist_page(acc_state *s, ykt_request *r, const char *door_group, int64_t since,
                        bool admin)
{
    const ykt_host *h = s->h;
    const acc_door_group *dg = acc_door_group_by_name(s, door_group);
    if (dg == NULL) {
        h->reply_error(r, "NOT_FOUND", "no door group %s", door_group);
        return;
    }
    /* Readers key their lists by UID: the rows by person and the rows by UID (blocked
     * cards, replaced UIDs), in the order of their shared versions. */
    sqlite3_stmt *st = acc_db(s, "SELECT uid, state, card_no, schedule, version, person_no, "
                                 "valid_until FROM access_wl WHERE door_group = ?1 AND version "
                                 "> ?2 UNION ALL SELECT uid, state, card_no, '', version, "
                                 "person_no, valid_until FROM access_wl_cards WHERE "
                                 "door_group = ?1 AND version > ?2 ORDER BY version LIMIT ?3");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the white list");
        return;
    }
    if (admin) {
        /* The administrators' view: every row after since, streamed (no page limit). */
        static const char *const cols[] = {"version", "person_no", "card_no",    "uid",
                                           "state",   "schedule",  "valid_until"};
        sqlite3_bind_text(st, 1, door_group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, since);
        sqlite3_bind_int(st, 3, INT32_MAX);
        h->table_begin(r, "TABLE", 7, cols);
        while (sqlite3_step(st) == SQLITE_ROW) {
            h->table_row(r);
            h->table_int(r, sqlite3_column_int64(st, 4));
            h->table_str(r, col(st, 5));
            h->table_str(r, col(st, 2));
            h->table_str(r, col(st, 0));
            h->table_str(r, col(st, 1));
            h->table_str(r, col(st, 3));
            h->table_str(r, col(st, 6));
        }
        sqlite3_reset(st);
        h->table_send(r);
        return;
    }
    /* A reader whose version is ahead of the list's (a list reset, a reader moved from
     * another gateway) would never hear of a change again: it gets the whole list, as for
     * version 0. */
    if (since > wl_next_version(s) - 1)
        since = 0;
    int limit = s->list_page;
    sqlite3_bind_text(st, 1, door_group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    sqlite3_bind_int(st, 3, limit + 1);
    typedef struct {
        char uid[24], state[8], card_no[24], schedule[256], person_no[ACC_ID_MAX], until[11];
        int64_t version;
    } entry;
    entry *e = calloc((size_t)limit + 1, sizeof *e);
    int n = 0;
    while (e != NULL && n <= limit && sqlite3_step(st) == SQLITE_ROW) {
        copy(e[n].uid, sizeof e[n].uid, col(st, 0));
        copy(e[n].state, sizeof e[n].state, col(st, 1));
        copy(e[n].card_no, sizeof e[n].card_no, col(st, 2));
        copy(e[n].schedule, sizeof e[n].schedule, col(st, 3));
        e[n].version = sqlite3_column_int64(st, 4);
        copy(e[n].person_no, sizeof e[n].person_no, col(st, 5));
        copy(e[n].until, sizeof e[n].until, col(st, 6));
        n++;
    }
    sqlite3_reset(st);
    if (e == NULL) {
        h->reply_error(r, "INTERNAL", "out of memory");
        return;
    }
    bool more = n > limit;
    if (more)
        n = limit;
    int64_t version = more ? e[n - 1].version : wl_next_version(s) - 1;
    if (version < since)
        version = since;
    /* The holidays of the coming year, for the readers' schedules. */
    char hol[11 * 64] = "";
    size_t hl = 0;
    clock_at(s, h->now_ms());
    for (int i = 0; i < s->nholidays && hl + 12 < sizeof hol; i++) {
        if (strcmp(s->holidays[i], s->day) < 0)
            continue;
        hl += (size_t)snprintf(hol + hl, sizeof hol - hl, "%s%s", hl ? "," : "", s->holidays[i]);
    }
    h->reply_array(r, 4 + n);
    h->reply_int(r, version);
    h->reply_int(r, more ? 1 : 0);
    h->reply_str(r, dg->public_ ? "public" : "list");
    h->reply_str(r, hol);
    for (int i = 0; i < n; i++) {
        h->reply_array(r, 5);
        h->reply_str(r, e[i].uid);
        h->reply_str(r, e[i].state);
        h->reply_str(r, e[i].card_no);
        h->reply_str(r, e[i].schedule);
        h->reply_str(r, e[i].until);
    }
    free(e);
}

static void v_list(ykt_request *r, void *ud)
{
    acc_state *s = ud;
    const ykt_host *h = s->h;
    int64_t since = 0;
    char *end = NULL;
    if (h->argc(r) != 2 || (since = strtoll(h->arg(r, 1, NULL), &end, 10)) < 0 || *end != '\0' ||
        end == h->arg(r, 1, NULL)) {
        h->reply_error(r, "BAD_REQUEST", "usage: ACCESS.LIST since-version (0 or more)");
        return;
    }
    const acc_door *d = door_by_terminal(s, h->terminal(r)->id);
    if (d == NULL) {
        h->reply_error(r, "NO_DOOR", "terminal %s is not registered as a door (access door-add)",
                       h->terminal(r)->id);
        return;
    }
    acc_whitelist_page(s, r, s->door_groups[d->dg].name, since, false);
}

/* ---- events ---- */

static int on_card(int event, void *data, void *ud)
{
    acc_state *s = ud;
    const ykt_ev_card *e = data;
    /* The card (and for a replacement the card it replaced): whether it is blocked, the
     * holder's rows, then the rows by UID (public door groups, replaced UIDs). */
    const char *nos[2] = {e->card_no, event == YKT_EV_CARD_REPLACED ? e->old_card_no : NULL};
    for (int i = 0; i < 2; i++) {
        ykt_card_info c;
        if (nos[i] == NULL || s->h->card_by_no(nos[i], &c) != YKT_PLUGIN_OK)
            continue;
        char person[ACC_ID_MAX], uid[24];
        copy(person, sizeof person, c.person_no);
        copy(uid, sizeof uid, c.uid);
        if (blocked_note(s, &c) != YKT_PLUGIN_OK ||
            acc_wl_refresh(s, NULL, person) != YKT_PLUGIN_OK ||
            wl_cards_refresh(s, NULL, uid) != YKT_PLUGIN_OK)
            s->h->log(s->self, YKT_PLUGIN_LOG_ERROR, "cannot refresh the white list of %s", person);
    }
    return YKT_DEFER;
}

/* The day's end: the blocked cards read again (a card extended or past its time on the
 * lists leaves them). */
static void blocked_recheck(acc_state *s)
{
    sqlite3_stmt *st = acc_db(s, "SELECT uid FROM access_blocked");
    sqlite3_stmt *del = acc_db(s, "DELETE FROM access_blocked WHERE uid = ?");
    if (st == NULL || del == NULL)
        return;
    char(*uids)[24] = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            void *p = realloc(uids, (size_t)cap * sizeof *uids);
            if (p == NULL)
                break;
            uids = p;
        }
        copy(uids[n++], sizeof uids[0], col(st, 0));
    }
    sqlite3_reset(st);
    for (int i = 0; i < n; i++) {
        ykt_card_info c;
        if (s->h->card_by_uid(uids[i], &c) == YKT_PLUGIN_OK) {
            blocked_note(s, &c);
        } else {
            sqlite3_bind_text(del, 1, uids[i], -1, SQLITE_STATIC);
            sqlite3_step(del);
            sqlite3_reset(del);
        }
    }
    free(uids);
}

static int on_day_end(int event, void *data, void *ud)
{
    (void)event;
    (void)data;
    acc_state *s = ud;
    const ykt_host *h = s->h;
    if (s->log_retention_days > 0) {
        /* By a prefix of ids, so that a person's or a door's chain only ever shortens from
         * its old end (a gap in the middle would hide everything older from `access log`):
         * the ids below the first decision within the retention period. A denial logged a
         * moment after a later allow, or a step of the clock, makes the two orders differ
         * by a moment; such a row goes a day sooner or later. */
        sqlite3_stmt *st =
            acc_db(s, "DELETE FROM access_log WHERE id < coalesce((SELECT id FROM access_log "
                      "WHERE at_ms >= ?1 ORDER BY at_ms, id LIMIT 1), (SELECT max(id) + 1 FROM "
                      "access_log))");
        if (st != NULL) {
            sqlite3_bind_int64(st, 1, h->now_ms() - s->log_retention_days * 86400000);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        /* The chains of people and doors whose decisions have all gone. */
        st = acc_db(s, "DELETE FROM access_log_heads WHERE last_id < "
                       "(SELECT coalesce(min(id), 9223372036854775807) FROM access_log)");
        if (st != NULL) {
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        st = acc_db(s, "DELETE FROM access_door_heads WHERE last_id < "
                       "(SELECT coalesce(min(id), 9223372036854775807) FROM access_log)");
        if (st != NULL) {
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
    if (s->passback_daily_reset) {
        sqlite3_stmt *st = acc_db(s, "DELETE FROM access_passback");
        if (st != NULL) {
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
    /* Cards whose validity ended today become blocked on the readers' lists; blocked
     * cards past their time leave them. */
    blocked_recheck(s);
    if (acc_wl_refresh(s, NULL, NULL) != YKT_PLUGIN_OK)
        h->log(s->self, YKT_PLUGIN_LOG_ERROR, "cannot refresh the white lists at the day's end");
    sqlite3_stmt *st = acc_db(s, "UPDATE access_visitors SET status = 'expired', "
                                 "closed_at = ?1 WHERE status = 'open' AND until_ms < ?1");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, h->now_ms());
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    return YKT_DEFER;
}

/* ---- entry points ---- */

static bool option_int(acc_state *s, const char *key, int64_t def, int64_t min, int64_t max,
                       int64_t *out)
{
    const char *v = s->h->option(s->self, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || x < min || x > max) {
        s->h->log(s->self, YKT_PLUGIN_LOG_ERROR, "option %s = %s: a whole number %lld..%lld", key,
                  v, (long long)min, (long long)max);
        return false;
    }
    *out = x;
    return true;
}

static bool option_bool(acc_state *s, const char *key, bool def, bool *out)
{
    const char *v = s->h->option(s->self, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return true;
    }
    s->h->log(s->self, YKT_PLUGIN_LOG_ERROR, "option %s = %s: yes or no", key, v);
    return false;
}

int ykt_plugin_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == YKT_PLUGIN_API_VERSION)
            return YKT_PLUGIN_API_VERSION;
    return -1;
}

int ykt_plugin_init(ykt_plugin *self, const ykt_host *host, void **userdata)
{
    acc_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return YKT_PLUGIN_EINVAL;
    *userdata = s;
    s->self = self;
    s->h = host;
    /* A yktd older than these host services would hand over a shorter table. */
    if (host->size < offsetof(ykt_host, card_by_uid) + sizeof host->card_by_uid) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "this yktd lacks the host services the plugin needs (terminal_get, card_by_uid): "
                  "upgrade yktd");
        return YKT_PLUGIN_EINVAL;
    }
    s->pending = calloc(ACC_PENDING_MAX, sizeof *s->pending);
    if (s->pending == NULL)
        return YKT_PLUGIN_EINVAL;

    /* The name a temporary card's --subsystems must contain: one name as card issue
     * accepts it (no comma, not empty), short enough to be compared whole. */
    const char *sub = host->option(self, "subsystem");
    if (sub != NULL &&
        (sub[0] == '\0' || strchr(sub, ',') != NULL || strlen(sub) >= sizeof s->subsystem)) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "option subsystem = %s: one name of 1..%zu characters, without commas", sub,
                  sizeof s->subsystem - 1);
        return YKT_PLUGIN_EINVAL;
    }
    copy(s->subsystem, sizeof s->subsystem, sub ? sub : "gate");
    const char *dept = host->option(self, "department");
    copy(s->department, sizeof s->department, dept ? dept : "");
    int64_t page;
    if (!option_int(s, "log_retention_days", 365, 0, 36500, &s->log_retention_days) ||
        !option_int(s, "list_page", 1000, 1, 10000, &page) ||
        !option_bool(s, "passback_daily_reset", true, &s->passback_daily_reset))
        return YKT_PLUGIN_EINVAL;
    s->list_page = (int)page;

    int rc = host->db_migrate(self, schema, (int)(sizeof schema / sizeof schema[0]));
    if (rc == YKT_PLUGIN_OK)
        rc = acc_reload(s);
    if (rc != YKT_PLUGIN_OK) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "cannot prepare the access tables");
        return YKT_PLUGIN_ESTORAGE;
    }
    const unsigned seq = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    rc = host->verb_register(self, "ACCESS.OPEN", YKT_TERM_GATE, seq, v_open, s,
                             "ACCESS.OPEN seq uid atc time 0 cryptogram [in|out]");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "ACCESS.PLATE", YKT_TERM_GATE, YKT_VERB_CHANGES, v_plate, s,
                                 "ACCESS.PLATE plate [in|out]");
    if (rc == YKT_PLUGIN_OK)
        rc = host->verb_register(self, "ACCESS.LIST", YKT_TERM_GATE, 0, v_list, s,
                                 "ACCESS.LIST since-version");
    if (rc == YKT_PLUGIN_OK)
        rc = host->subscribe(self, YKT_EV_ACCESS_CHECK, on_access, s);
    if (rc == YKT_PLUGIN_OK)
        rc = host->subscribe(self, YKT_EV_CARD_STATUS, on_card, s);
    if (rc == YKT_PLUGIN_OK)
        rc = host->subscribe(self, YKT_EV_CARD_REPLACED, on_card, s);
    if (rc == YKT_PLUGIN_OK)
        rc = host->subscribe(self, YKT_EV_DAY_END, on_day_end, s);
    if (rc == YKT_PLUGIN_OK)
        rc = host->timer_every(self, 50, flush, s);
    if (rc == YKT_PLUGIN_OK)
        rc = acc_admin_register(s);
    if (rc == YKT_PLUGIN_OK)
        host->log(self, YKT_PLUGIN_LOG_INFO, "ready: %d doors, %d door groups, %d access groups",
                  s->ndoors, s->ndoor_groups, s->ngroups);
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    acc_state *s = userdata;
    if (s == NULL)
        return;
    if (s->npending > 0)
        s->h->log(s->self, YKT_PLUGIN_LOG_WARN, "%d denials not yet logged at shutdown",
                  s->npending);
    free_caches(s);
    free(s->pending);
    free(s);
}
