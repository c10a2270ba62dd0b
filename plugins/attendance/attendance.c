/*
 * attendance: sign-in and sign-out by card, judged by each department's Lua attendance policy;
 * leave and overtime applications approved by the head of the person's department; records,
 * department statistics, the head's monthly review and the information centre's summary
 * (R-T1..R-T5). Also answers the gate's ACCESS_CHECK: a student may not leave campus during
 * class hours without an approved leave (R-A).
 *
 * Documentation: docs/plugins/attendance.md. Everything goes through <ykt/plugin.h>.
 *
 * Data model (tables attendance_*):
 *   people     the roster: who is subject to attendance, with kind, department and an
 *              optional per-person policy (kept in step with the card whenever attendance
 *              changes for them: enrolment, a punch, an application, a correction)
 *   punches    every sign-in and sign-out (card or correction), kept
 *   days       one row per person and campus day: first sign-in, last sign-out, and once
 *              the day is closed the policy's verdict (workday, late, early, absent, leave)
 *   leaves     applications; leave_years splits their days by calendar year (balances are
 *              per year); balances per person, leave type and year
 *   overtime   applications; minutes computed by the policy from the actual punches
 *   holidays   the department's extra days off (the scripts know the public holidays)
 *   reviews    the head's review of a department's month; summaries the stored monthly
 *              report for the information centre; meta the last closed day
 */
#include <ykt/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MAP        64
#define MAX_TYPES      16
#define TYPE_LEN       24
#define MAX_IDS        16 /* positional person numbers per `attendance enrol` */
#define NO_PUNCH       (-1)
#define MINUTES_MAX    2880
#define MAX_CAL        32  /* policies whose calendar() is followed */
#define OVERTIME_REACH 366 /* days before or after today an overtime application may name */
#define PUNCH_LEN      20  /* "HH:MM", or "YYYY-MM-DD HH:MM" for a sign-out after midnight */

typedef struct pmap {
    char key[96];
    char script[64];
} pmap;

typedef struct att {
    ykt_plugin *self;
    const ykt_host *h;
    pmap kinds[MAX_MAP];
    int nkinds;
    pmap depts[MAX_MAP];
    int ndepts;
    char types[MAX_TYPES][TYPE_LEN];
    int ntypes;
    int max_leave_days;
    int overnight_until; /* minutes: a sign-out before this may close yesterday */
    int gate_check;
    struct {
        char date[11];
        int64_t ms;
    } mid[8];
    int mid_next;
    struct {
        char script[64];
        int has;         /* answers calendar(): 1 yes, 0 no (not checked), -1 not asked yet */
        char logged[11]; /* the campus date its short calendar was last logged */
    } cal[MAX_CAL];
    int ncal;
} att;

typedef struct person {
    int64_t id;
    char no[48];
    char name[96];
    char kind[16];
    char dept[96];
    char override[64]; /* per-person policy ("" = by department or kind) */
    char policy[64];   /* the effective policy script ("" = none) */
    int active;
    int listed; /* on the roster (attendance_people) */
} person;

typedef struct dayres {
    int workday, late, early, absent;
} dayres;

/* ---- small helpers ---- */

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

static void bind_s(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

/* "day" or "days" after a count. */
static const char *days_word(long long n)
{
    return n == 1 ? "day" : "days";
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    if (s == NULL || *s == '\0')
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* ---- dates (proleptic Gregorian; campus dates are YYYY-MM-DD) ---- */

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = mm;
    *d = dd;
}

/* A strict YYYY-MM-DD between 2000 and 2199; its day number. */
static int parse_date(const char *s, int64_t *days)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 2000 || y > 2199 || m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    int64_t n = days_from_civil(y, m, d);
    int yy, mm, dd;
    civil_from_days(n, &yy, &mm, &dd);
    if (yy != y || mm != m || dd != d)
        return 0; /* 2026-02-30 */
    *days = n;
    return 1;
}

static void format_date(int64_t days, char out[11])
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
}

/* 1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday). */
static int weekday_of(int64_t days)
{
    return (int)(((days + 3) % 7 + 7) % 7) + 1;
}

/* YYYY-MM: its first day and the first day of the next month. */
static int parse_month(const char *s, char from[11], char to[11])
{
    if (s == NULL || strlen(s) != 7)
        return 0;
    char buf[11];
    snprintf(buf, sizeof buf, "%s-01", s);
    int64_t d;
    if (!parse_date(buf, &d))
        return 0;
    int y = atoi(s), m = atoi(s + 5);
    copy(from, 11, buf);
    format_date(days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1), to);
    return 1;
}

/* HH:MM, HH up to 47 (a sign-out after midnight belongs to the day before). */
static int parse_hhmm(const char *s, int *minutes)
{
    if (s == NULL || strlen(s) != 5 || s[2] != ':')
        return 0;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return 0;
    int hh = atoi(s), mm = atoi(s + 3);
    if (hh > 47 || mm > 59)
        return 0;
    *minutes = hh * 60 + mm;
    return 1;
}

/* An instant as the core's tables show it: UTC, ISO 8601 (2026-11-01T00:00:05Z). */
static void iso_time(int64_t ms, char *out, size_t len)
{
    if (ms <= 0) {
        copy(out, len, "-");
        return;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void format_hhmm(int minutes, char out[8])
{
    if (minutes < 0)
        copy(out, 8, "");
    else
        snprintf(out, 8, "%02u:%02u", (unsigned)minutes / 60u % 100u, (unsigned)minutes % 60u);
}

/* A punch of the campus day `days` as people read it: HH:MM, and a sign-out after midnight
 * that counts for the day before (minutes from 1440) with its real date, "2026-11-25
 * 02:00", so that it reads as the next morning and after the day's sign-in. "" for none. */
static void format_punch(int64_t days, int minutes, char out[PUNCH_LEN])
{
    if (minutes < 1440) {
        format_hhmm(minutes, out);
        return;
    }
    char date[11];
    format_date(days + minutes / 1440, date);
    snprintf(out, PUNCH_LEN, "%s %02u:%02u", date, (unsigned)minutes / 60u % 24u,
             (unsigned)minutes % 60u);
}

/* Minutes as hours with two decimals (90 -> "1.50"), as the statistics show overtime. */
static void format_hours(int64_t minutes, char out[32])
{
    snprintf(out, 32, "%lld.%02lld", (long long)(minutes / 60),
             (long long)((minutes % 60) * 100 / 60));
}

static void today(att *a, char out[11])
{
    a->h->campus_date(a->h->now_ms(), out);
}

/* The instant the campus date `date` begins: searched with the host's campus_date, so the
 * campus time zone is the gateway's own (whatever [campus] timezone says). Cached. */
static int64_t midnight_of(att *a, const char *date, int64_t days)
{
    for (int i = 0; i < 8; i++)
        if (strcmp(a->mid[i].date, date) == 0)
            return a->mid[i].ms;
    int64_t lo = days * 86400000LL - 16 * 3600000LL, hi = days * 86400000LL + 16 * 3600000LL;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        char s[11];
        a->h->campus_date(mid, s);
        if (strcmp(s, date) >= 0)
            hi = mid;
        else
            lo = mid;
    }
    copy(a->mid[a->mid_next].date, 11, date);
    a->mid[a->mid_next].ms = hi;
    a->mid_next = (a->mid_next + 1) % 8;
    return hi;
}

/* The campus date, its day number and the minute of that day of an instant. */
static void campus_time(att *a, int64_t ms, char date[11], int64_t *days, int *minutes)
{
    a->h->campus_date(ms, date);
    parse_date(date, days);
    int64_t m = (ms - midnight_of(a, date, *days)) / 60000;
    *minutes = m < 0 ? 0 : m > MINUTES_MAX ? MINUTES_MAX : (int)m;
}

/* ---- options ---- */

/* "key:script,key:script" */
static int parse_map(att *a, const char *opt, const char *text, pmap *map, int *n)
{
    *n = 0;
    if (text == NULL)
        return 1;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon == NULL || colon == p || colon + 1 == p + len || *n == MAX_MAP) {
            a->h->log(a->self, YKT_PLUGIN_LOG_ERROR,
                      "option %s: expected KEY:SCRIPT pairs separated by commas (at most %d)", opt,
                      MAX_MAP);
            return 0;
        }
        size_t klen = (size_t)(colon - p), slen = len - klen - 1;
        while (slen > 0 && colon[slen] == ' ')
            slen--;
        if (klen >= sizeof map[0].key || slen >= sizeof map[0].script) {
            a->h->log(a->self, YKT_PLUGIN_LOG_ERROR, "option %s: a name is too long", opt);
            return 0;
        }
        memcpy(map[*n].key, p, klen);
        map[*n].key[klen] = '\0';
        memcpy(map[*n].script, colon + 1, slen);
        map[*n].script[slen] = '\0';
        (*n)++;
        p += len;
    }
    return 1;
}

static int parse_types(att *a, const char *text)
{
    a->ntypes = 0;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, ", ");
        if (len >= TYPE_LEN || a->ntypes == MAX_TYPES) {
            a->h->log(a->self, YKT_PLUGIN_LOG_ERROR,
                      "option leave_types: at most %d types of at most %d characters", MAX_TYPES,
                      TYPE_LEN - 1);
            return 0;
        }
        for (size_t i = 0; i < len; i++)
            if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_')) {
                a->h->log(a->self, YKT_PLUGIN_LOG_ERROR,
                          "option leave_types: a type is lower-case letters, digits and _");
                return 0;
            }
        memcpy(a->types[a->ntypes], p, len);
        a->types[a->ntypes][len] = '\0';
        a->ntypes++;
        p += len;
    }
    if (a->ntypes == 0) {
        a->h->log(a->self, YKT_PLUGIN_LOG_ERROR, "option leave_types: name at least one type");
        return 0;
    }
    return 1;
}

static int leave_type_known(att *a, const char *t)
{
    for (int i = 0; i < a->ntypes; i++)
        if (strcmp(a->types[i], t) == 0)
            return 1;
    return 0;
}

static const char *map_find(const pmap *map, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(map[i].key, key) == 0)
            return map[i].script;
    return NULL;
}

/* Person override, else the department's policy, else the kind's; "" when none applies.
 * A department or person mapped to "none" is exempt. */
static const char *policy_for(att *a, const char *override, const char *kind, const char *dept)
{
    const char *p = NULL;
    if (override && override[0])
        p = override;
    if (p == NULL)
        p = map_find(a->depts, a->ndepts, dept ? dept : "");
    if (p == NULL)
        p = map_find(a->kinds, a->nkinds, kind ? kind : "");
    if (p == NULL || strcmp(p, "none") == 0)
        return "";
    return p;
}

/* ---- storage helpers ---- */

static sqlite3_stmt *S(att *a, const char *sql)
{
    return a->h->db_stmt(a->self, sql);
}

static void storage_error(att *a, ykt_request *r, const char *what)
{
    a->h->log(a->self, YKT_PLUGIN_LOG_ERROR, "storage: %s", what);
    if (r != NULL)
        a->h->reply_error(r, "STORAGE_ERROR", "cannot %s", what);
}

/* Runs a statement that returns no rows; 1 on success. */
static int done(sqlite3_stmt *st)
{
    if (st == NULL)
        return 0;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

static const char *meta_get(att *a, const char *key, char *out, size_t n)
{
    sqlite3_stmt *st = S(a, "SELECT value FROM attendance_meta WHERE key = ?");
    out[0] = '\0';
    if (st == NULL)
        return out;
    bind_s(st, 1, key);
    if (sqlite3_step(st) == SQLITE_ROW)
        copy(out, n, col_text(st, 0));
    sqlite3_reset(st);
    return out;
}

static int meta_set(att *a, const char *key, const char *value)
{
    sqlite3_stmt *st = S(a, "INSERT INTO attendance_meta (key, value) VALUES (?, ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (st == NULL)
        return 0;
    bind_s(st, 1, key);
    bind_s(st, 2, value);
    return done(st);
}

/* ---- the roster ---- */

static void resolve(att *a, person *p)
{
    copy(p->policy, sizeof p->policy, policy_for(a, p->override, p->kind, p->dept));
}

static int person_row(att *a, sqlite3_stmt *st, person *p)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        p->id = sqlite3_column_int64(st, 0);
        copy(p->no, sizeof p->no, col_text(st, 1));
        copy(p->name, sizeof p->name, col_text(st, 2));
        copy(p->kind, sizeof p->kind, col_text(st, 3));
        copy(p->dept, sizeof p->dept, col_text(st, 4));
        copy(p->override, sizeof p->override, col_text(st, 5));
        p->active = sqlite3_column_int(st, 6);
        p->listed = 1;
        resolve(a, p);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW;
}

static int person_by_id(att *a, int64_t id, person *p)
{
    sqlite3_stmt *st = S(a, "SELECT person_id, person_no, name, kind, department, policy, active "
                            "FROM attendance_people WHERE person_id = ?");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, id);
    return person_row(a, st, p);
}

static int person_by_no(att *a, const char *no, person *p)
{
    sqlite3_stmt *st = S(a, "SELECT person_id, person_no, name, kind, department, policy, active "
                            "FROM attendance_people WHERE person_no = ?");
    if (st == NULL)
        return 0;
    bind_s(st, 1, no);
    return person_row(a, st, p);
}

/* A person as the registry knows them from their card, with what the roster adds (their
 * own policy, whether they are on it). Writes nothing. */
static void person_from_card(att *a, const ykt_card_info *c, person *p)
{
    person listed;
    int on = person_by_id(a, c->person_id, &listed);
    memset(p, 0, sizeof *p);
    p->id = c->person_id;
    copy(p->no, sizeof p->no, c->person_no);
    copy(p->name, sizeof p->name, c->name);
    copy(p->kind, sizeof p->kind, c->kind);
    copy(p->dept, sizeof p->dept, c->department);
    if (on) {
        copy(p->override, sizeof p->override, listed.override);
        p->active = listed.active;
        p->listed = 1;
    }
    resolve(a, p);
}

/* Puts a person on the roster, or keeps their row in step with the card: number, name, kind
 * and department follow the registry; a replacement card (R-C6) is the same person. A new
 * row is active; `activate` makes an existing one active again. Only what changes attendance
 * calls it (enrol, a punch, an application, a correction), after its checks: reads and
 * refusals leave the roster alone. Returns 1, or 0 on storage error. */
static int roster_put(att *a, person *p, int activate)
{
    sqlite3_stmt *st = S(a, "INSERT INTO attendance_people (person_id, person_no, name, kind, "
                            "department, policy, active, enrolled_at) VALUES (?, ?, ?, ?, ?, '', "
                            "1, ?) ON CONFLICT (person_id) DO UPDATE SET person_no = "
                            "excluded.person_no, name = excluded.name, kind = excluded.kind, "
                            "department = excluded.department, active = CASE WHEN ? THEN 1 "
                            "ELSE active END");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, p->id);
    bind_s(st, 2, p->no);
    bind_s(st, 3, p->name);
    bind_s(st, 4, p->kind);
    bind_s(st, 5, p->dept);
    sqlite3_bind_int64(st, 6, a->h->now_ms());
    sqlite3_bind_int(st, 7, activate);
    if (!done(st))
        return 0;
    return person_by_id(a, p->id, p);
}

/* A person named by an admin command: from the registry (their live card) when they have
 * one, else from the roster. Writes nothing. Replies NOT_FOUND. */
static int person_for_admin(att *a, ykt_request *r, const char *no, person *p)
{
    ykt_card_info c;
    if (a->h->person_card(no, &c) == YKT_PLUGIN_OK) {
        person_from_card(a, &c, p);
        return 1;
    }
    if (person_by_no(a, no, p))
        return 1;
    a->h->reply_error(r, "NOT_FOUND", "no person %s with a card", no);
    return 0;
}

/* ---- operators: department scope and the head's approvals ---- */

/* The operator may act for `dept`: the superuser, an auditor (reads only: the commands'
 * roles see to that), the web portal's service account (a holder's own applications and
 * balances: the commands' roles see to that too), or an operator of that department. */
static int scope_ok(att *a, ykt_request *r, const char *dept)
{
    unsigned role = 0;
    const char *od = NULL;
    if (a->h->operator_info(r, &role, &od) != YKT_PLUGIN_OK) {
        a->h->reply_error(r, "INTERNAL", "no operator");
        return 0;
    }
    if (role & (YKT_PLUGIN_ROLE_SUPERUSER | YKT_PLUGIN_ROLE_AUDITOR | YKT_PLUGIN_ROLE_PORTAL))
        return 1;
    if (od != NULL && od[0] != '\0' && strcmp(od, dept) == 0)
        return 1;
    a->h->reply_error(r, "NOT_YOUR_DEPARTMENT", "this concerns department %s; you act for %s", dept,
                      od && od[0] ? od : "no department");
    return 0;
}

/* Approvals are the department head's own (R-T2, R-T3): role dept_head, same department. */
static int head_ok(att *a, ykt_request *r, const char *dept)
{
    unsigned role = 0;
    const char *od = NULL;
    if (a->h->operator_info(r, &role, &od) != YKT_PLUGIN_OK) {
        a->h->reply_error(r, "INTERNAL", "no operator");
        return 0;
    }
    if (role != YKT_PLUGIN_ROLE_DEPT_HEAD) {
        a->h->reply_error(r, "NOT_DEPT_HEAD", "only the head of department %s approves or rejects",
                          dept);
        return 0;
    }
    if (od == NULL || strcmp(od, dept) != 0) {
        a->h->reply_error(r, "NOT_YOUR_DEPARTMENT",
                          "this concerns department %s; you are the head of %s", dept,
                          od && od[0] ? od : "no department");
        return 0;
    }
    return 1;
}

static int month_reviewed(att *a, const char *dept, const char *date)
{
    char month[8];
    snprintf(month, sizeof month, "%.7s", date);
    sqlite3_stmt *st = S(a, "SELECT 1 FROM attendance_reviews WHERE department = ? AND month = ?");
    if (st == NULL)
        return 0;
    bind_s(st, 1, dept);
    bind_s(st, 2, month);
    int yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return yes;
}

/* Refuses MONTH_REVIEWED when any month of from..to is reviewed for the department. */
static int months_open(att *a, ykt_request *r, const char *dept, int64_t from, int64_t to)
{
    for (int64_t d = from; d <= to; d++) {
        char date[11];
        format_date(d, date);
        if (d != from && strcmp(date + 8, "01") != 0)
            continue;
        if (month_reviewed(a, dept, date)) {
            a->h->reply_error(r, "MONTH_REVIEWED",
                              "%.7s of department %s is reviewed by its head; nothing in it "
                              "changes any more",
                              date, dept);
            return 0;
        }
    }
    return 1;
}

/* ---- the policy (Lua) ---- */

static int is_holiday(att *a, const char *date, const char *dept)
{
    sqlite3_stmt *st = S(a, "SELECT 1 FROM attendance_holidays WHERE date = ? AND "
                            "(department = '' OR department = ?)");
    if (st == NULL)
        return 0;
    bind_s(st, 1, date);
    bind_s(st, 2, dept);
    int yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return yes;
}

static int bad_result(att *a, ykt_request *r, const char *script, const char *fn, const char *what,
                      int64_t v)
{
    if (r != NULL)
        a->h->reply_error(r, "RULE_ERROR", "rule %s.%s: result %s = %lld is out of range", script,
                          fn, what, (long long)v);
    else
        a->h->log(a->self, YKT_PLUGIN_LOG_WARN, "rule %s.%s: result %s = %lld is out of range",
                  script, fn, what, (long long)v);
    return 0;
}

/*
 * Whether the policy's calendar reaches `date`. A policy may define calendar() -> {known_until =
 * "YYYY-MM-DD"}: the last day its terms and public holidays are listed for. After it the
 * policy can only guess (a term not listed reads as vacation, a holiday not listed as a
 * workday), so attendance does not judge such a day: the error is logged once a campus day
 * per policy, naming its file, and with r it is replied as CALENDAR_UNKNOWN. calendar() is
 * asked at every check, so a policy extended by a hot reload counts at once; a policy
 * without it is not checked (the host logs once that it has no such function).
 * Returns 1 when the date is within the calendar (or not checked), 0 after it.
 */
static int calendar_ok(att *a, ykt_request *r, const char *script, const char *date)
{
    int i = 0;
    while (i < a->ncal && strcmp(a->cal[i].script, script) != 0)
        i++;
    if (i == a->ncal) {
        if (i == MAX_CAL || strlen(script) >= sizeof a->cal[0].script)
            return 1;
        copy(a->cal[i].script, sizeof a->cal[i].script, script);
        a->cal[i].has = -1;
        a->cal[i].logged[0] = '\0';
        a->ncal++;
    }
    if (a->cal[i].has == 0)
        return 1;
    ykt_rule_value arg = {.name = "date", .type = 's', .s = date};
    ykt_rule_value res[1] = {{.name = "known_until", .type = 's'}};
    int64_t until;
    if (a->h->rule_call(NULL, script, "calendar", &arg, 1, res, 1) != YKT_PLUGIN_OK ||
        res[0].s == NULL || !parse_date(res[0].s, &until)) {
        if (a->cal[i].has == 1)
            a->h->log(a->self, YKT_PLUGIN_LOG_ERROR,
                      "policy %s: calendar() failed or its known_until is not a date: its "
                      "calendar is not checked until yktd restarts",
                      script);
        a->cal[i].has = 0;
        return 1;
    }
    a->cal[i].has = 1;
    if (strcmp(date, res[0].s) <= 0)
        return 1;
    char t[11];
    today(a, t);
    if (strcmp(a->cal[i].logged, t) != 0) {
        copy(a->cal[i].logged, sizeof a->cal[i].logged, t);
        a->h->log(a->self, YKT_PLUGIN_LOG_ERROR,
                  "policy %s knows terms and holidays until %s only, and was asked about %s: "
                  "extend the calendar of scripts/%s.lua; until then days after %s are not "
                  "judged (they stay open) and leave over them is refused",
                  script, res[0].s, date, script, res[0].s);
    }
    if (r != NULL)
        a->h->reply_error(r, "CALENDAR_UNKNOWN",
                          "policy %s knows terms and holidays until %s only (%s is after it): "
                          "scripts/%s.lua must be extended",
                          script, res[0].s, date, script);
    return 0;
}

/* classify{weekday, date, holiday, minutes_in, minutes_out}; a missing punch is left out.
 * Returns 1, or 0 after replying RULE_ERROR or CALENDAR_UNKNOWN (r) or logging (no r). */
static int classify(att *a, ykt_request *r, const char *script, const char *date, int64_t days,
                    int holiday, int min_in, int min_out, dayres *o)
{
    ykt_rule_value args[5];
    int n = 0;
    args[n++] = (ykt_rule_value){.name = "weekday", .type = 'i', .i = weekday_of(days)};
    args[n++] = (ykt_rule_value){.name = "date", .type = 's', .s = date};
    args[n++] = (ykt_rule_value){.name = "holiday", .type = 'b', .i = holiday};
    if (min_in >= 0)
        args[n++] = (ykt_rule_value){.name = "minutes_in", .type = 'i', .i = min_in};
    if (min_out >= 0 && (min_in < 0 || min_out >= min_in))
        args[n++] = (ykt_rule_value){.name = "minutes_out", .type = 'i', .i = min_out};
    if (!calendar_ok(a, r, script, date))
        return 0;
    ykt_rule_value res[4] = {{.name = "late", .type = 'i'},
                             {.name = "early", .type = 'i'},
                             {.name = "absent", .type = 'b'},
                             {.name = "workday", .type = 'b'}};
    if (a->h->rule_call(r, script, "classify", args, n, res, 4) != YKT_PLUGIN_OK)
        return 0;
    if (res[0].i < 0 || res[0].i > MINUTES_MAX)
        return bad_result(a, r, script, "classify", "late", res[0].i);
    if (res[1].i < 0 || res[1].i > MINUTES_MAX)
        return bad_result(a, r, script, "classify", "early", res[1].i);
    o->late = (int)res[0].i;
    o->early = (int)res[1].i;
    o->absent = res[2].i != 0;
    o->workday = res[3].i != 0;
    return 1;
}

static int overtime_minutes(att *a, ykt_request *r, const char *script, const char *date,
                            int64_t days, int holiday, int min_in, int min_out, int *minutes)
{
    ykt_rule_value args[] = {{.name = "minutes_in", .type = 'i', .i = min_in},
                             {.name = "minutes_out", .type = 'i', .i = min_out},
                             {.name = "weekday", .type = 'i', .i = weekday_of(days)},
                             {.name = "date", .type = 's', .s = date},
                             {.name = "holiday", .type = 'b', .i = holiday}};
    ykt_rule_value res[1] = {{.name = "minutes", .type = 'i'}};
    if (a->h->rule_call(r, script, "overtime", args, 5, res, 1) != YKT_PLUGIN_OK)
        return 0;
    if (res[0].i < 0 || res[0].i > MINUTES_MAX)
        return bad_result(a, r, script, "overtime", "minutes", res[0].i);
    *minutes = (int)res[0].i;
    return 1;
}

/* Whether class (or work) is in session at `minutes` by the policy: someone arriving now
 * would be late, and someone leaving now would leave early. */
static int in_session(att *a, const char *script, const char *date, int64_t days, int holiday,
                      int minutes, int *yes)
{
    dayres arrive, leave;
    *yes = 0;
    if (!classify(a, NULL, script, date, days, holiday, minutes, MINUTES_MAX, &arrive))
        return 0;
    if (!arrive.workday)
        return 1;
    if (!classify(a, NULL, script, date, days, holiday, 0, minutes, &leave))
        return 0;
    *yes = (arrive.late > 0 || arrive.absent) && (leave.early > 0 || leave.absent);
    return 1;
}

/* ---- days ---- */

typedef struct dayrow {
    int exists, min_in, min_out, closed, workday, late, early, absent, corrected;
    char leave[TYPE_LEN];
} dayrow;

static int day_get(att *a, int64_t pid, const char *date, dayrow *d)
{
    memset(d, 0, sizeof *d);
    d->min_in = d->min_out = NO_PUNCH;
    sqlite3_stmt *st =
        S(a, "SELECT minutes_in, minutes_out, closed, workday, late, early, absent, "
             "leave_type, corrected FROM attendance_days WHERE person_id = ? AND date = ?");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, pid);
    bind_s(st, 2, date);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        d->exists = 1;
        d->min_in =
            sqlite3_column_type(st, 0) == SQLITE_NULL ? NO_PUNCH : sqlite3_column_int(st, 0);
        d->min_out =
            sqlite3_column_type(st, 1) == SQLITE_NULL ? NO_PUNCH : sqlite3_column_int(st, 1);
        d->closed = sqlite3_column_int(st, 2);
        d->workday = sqlite3_column_int(st, 3);
        d->late = sqlite3_column_int(st, 4);
        d->early = sqlite3_column_int(st, 5);
        d->absent = sqlite3_column_int(st, 6);
        copy(d->leave, sizeof d->leave, col_text(st, 7));
        d->corrected = sqlite3_column_int(st, 8);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

static void bind_punch(sqlite3_stmt *st, int i, int m)
{
    if (m < 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int(st, i, m);
}

/* Sets a day's punches (keeping its verdict until it is closed again). */
static int day_set_punches(att *a, int64_t pid, const char *date, int min_in, int min_out,
                           int corrected)
{
    sqlite3_stmt *st =
        S(a, "INSERT INTO attendance_days (person_id, date, minutes_in, minutes_out, corrected) "
             "VALUES (?, ?, ?, ?, ?) ON CONFLICT (person_id, date) DO UPDATE SET minutes_in = "
             "excluded.minutes_in, minutes_out = excluded.minutes_out, corrected = "
             "max(corrected, excluded.corrected)");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, pid);
    bind_s(st, 2, date);
    bind_punch(st, 3, min_in);
    bind_punch(st, 4, min_out);
    sqlite3_bind_int(st, 5, corrected);
    return done(st);
}

static int approved_leave_on(att *a, int64_t pid, const char *date, char type[TYPE_LEN])
{
    sqlite3_stmt *st = S(a, "SELECT leave_type FROM attendance_leaves WHERE person_id = ? AND "
                            "status = 'approved' AND from_date <= ?2 AND to_date >= ?2 LIMIT 1");
    type[0] = '\0';
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, pid);
    bind_s(st, 2, date);
    if (sqlite3_step(st) == SQLITE_ROW)
        copy(type, TYPE_LEN, col_text(st, 0));
    sqlite3_reset(st);
    return type[0] != '\0';
}

/* Closes (or closes again) one person's day: the policy's verdict on the punches, an
 * approved leave, and the minutes of an approved overtime application. Returns 1, 0 after a
 * reply (r) or a log line, -1 when the person has no policy (nothing to judge). */
static int close_day(att *a, ykt_request *r, const person *p, const char *date, int64_t days)
{
    if (p->policy[0] == '\0')
        return -1;
    dayrow d;
    if (!day_get(a, p->id, date, &d)) {
        storage_error(a, r, "read the day");
        return 0;
    }
    int holiday = is_holiday(a, date, p->dept);
    dayres v;
    if (!classify(a, r, p->policy, date, days, holiday, d.min_in, d.min_out, &v))
        return 0;
    char leave[TYPE_LEN];
    if (v.workday && approved_leave_on(a, p->id, date, leave)) {
        v.late = v.early = v.absent = 0;
    } else {
        leave[0] = '\0';
    }
    sqlite3_stmt *st =
        S(a, "INSERT INTO attendance_days (person_id, date, minutes_in, minutes_out, policy, "
             "workday, late, early, absent, leave_type, closed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
             "?, 1) ON CONFLICT (person_id, date) DO UPDATE SET policy = excluded.policy, "
             "workday = excluded.workday, late = excluded.late, early = excluded.early, absent = "
             "excluded.absent, leave_type = excluded.leave_type, closed = 1");
    if (st == NULL) {
        storage_error(a, r, "close the day");
        return 0;
    }
    sqlite3_bind_int64(st, 1, p->id);
    bind_s(st, 2, date);
    bind_punch(st, 3, d.min_in);
    bind_punch(st, 4, d.min_out);
    bind_s(st, 5, p->policy);
    sqlite3_bind_int(st, 6, v.workday);
    sqlite3_bind_int(st, 7, v.late);
    sqlite3_bind_int(st, 8, v.early);
    sqlite3_bind_int(st, 9, v.absent);
    bind_s(st, 10, leave);
    if (!done(st)) {
        storage_error(a, r, "close the day");
        return 0;
    }
    /* Overtime (R-T3): from the actual sign-in and sign-out, by the policy. */
    st = S(a, "SELECT id FROM attendance_overtime WHERE person_id = ? AND date = ? AND "
              "status = 'approved'");
    if (st == NULL) {
        storage_error(a, r, "read overtime");
        return 0;
    }
    sqlite3_bind_int64(st, 1, p->id);
    bind_s(st, 2, date);
    int64_t ot = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (ot != 0) {
        int minutes = 0;
        if (d.min_in >= 0 && d.min_out >= d.min_in &&
            !overtime_minutes(a, r, p->policy, date, days, holiday, d.min_in, d.min_out, &minutes))
            return 0;
        st = S(a, "UPDATE attendance_overtime SET minutes = ? WHERE id = ?");
        if (st == NULL) {
            storage_error(a, r, "record overtime");
            return 0;
        }
        sqlite3_bind_int(st, 1, minutes);
        sqlite3_bind_int64(st, 2, ot);
        if (!done(st)) {
            storage_error(a, r, "record overtime");
            return 0;
        }
    }
    return 1;
}

/* Closes the day again if it was closed (a late punch, a correction, an approval). */
static int reclose_if_closed(att *a, ykt_request *r, const person *p, const char *date,
                             int64_t days)
{
    dayrow d;
    if (!day_get(a, p->id, date, &d)) {
        storage_error(a, r, "read the day");
        return 0;
    }
    if (!d.closed)
        return 1;
    return close_day(a, r, p, date, days) != 0;
}

typedef struct closing {
    int people, judged, workdays, absent, failed;
} closing;

/* Closes `date` for everyone on the roster. With r, a rule failure fails the request. */
static int close_all(att *a, ykt_request *r, const char *date, int64_t days, closing *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = S(a, "SELECT person_id, enrolled_at FROM attendance_people WHERE active "
                            "= 1 ORDER BY person_id");
    if (st == NULL) {
        storage_error(a, r, "read the roster");
        return 0;
    }
    size_t n = 0, cap = 64;
    struct enrolled {
        int64_t id, at;
    } *ids = malloc(cap * sizeof *ids);
    if (ids == NULL) {
        sqlite3_reset(st);
        storage_error(a, r, "allocate");
        return 0;
    }
    int rc_step;
    while ((rc_step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            struct enrolled *more = realloc(ids, cap * 2 * sizeof *ids);
            if (more == NULL)
                break;
            ids = more;
            cap *= 2;
        }
        ids[n].id = sqlite3_column_int64(st, 0);
        ids[n].at = sqlite3_column_int64(st, 1);
        n++;
    }
    sqlite3_reset(st);
    if (rc_step != SQLITE_DONE) { /* a roster read short (memory, storage): judge nobody */
        free(ids);
        storage_error(a, r, "read the roster");
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        person p;
        if (!person_by_id(a, ids[i].id, &p))
            continue;
        out->people++;
        if (month_reviewed(a, p.dept, date))
            continue; /* a reviewed month stays as the head saw it */
        /* A day before the person was put on the roster is judged only when something of
         * that day says they were expected: a punch or correction, or an approved leave.
         * Otherwise closing a past day would mark everyone enrolled since absent. */
        char enrolled_on[11];
        dayrow seen;
        char leave[TYPE_LEN];
        a->h->campus_date(ids[i].at, enrolled_on);
        if (strcmp(enrolled_on, date) > 0 && (!day_get(a, p.id, date, &seen) || !seen.exists) &&
            !approved_leave_on(a, p.id, date, leave))
            continue;
        int rc = close_day(a, r, &p, date, days);
        if (rc == 0) {
            out->failed++;
            if (r != NULL)
                ok = 0;
            continue;
        }
        if (rc < 0)
            continue;
        out->judged++;
        dayrow d;
        if (day_get(a, p.id, date, &d)) {
            out->workdays += d.workday;
            out->absent += d.absent;
        }
    }
    free(ids);
    return ok;
}

/* ---- punches ---- */

static int record_punch(att *a, int64_t pid, const char *date, int minutes, const char *dir,
                        int64_t at_ms, const char *terminal, const char *card_no,
                        const char *source, const char *by)
{
    sqlite3_stmt *st =
        S(a, "INSERT INTO attendance_punches (person_id, date, minutes, direction, at, "
             "terminal, card_no, source, by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, pid);
    bind_s(st, 2, date);
    sqlite3_bind_int(st, 3, minutes);
    bind_s(st, 4, dir);
    sqlite3_bind_int64(st, 5, at_ms);
    bind_s(st, 6, terminal);
    bind_s(st, 7, card_no);
    bind_s(st, 8, source);
    bind_s(st, 9, by);
    return done(st);
}

/* A card at an attendance terminal (R-T1): the time is the card's own, authenticated by its
 * cryptogram and bounded by [cards] max_clock_skew. */
static void punch(ykt_request *r, att *a, int in)
{
    const ykt_host *h = a->h;
    ykt_card_info card;
    if (h->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return;
    if (h->argc(r) != 7) {
        h->reply_error(r, "BAD_REQUEST", "usage: %s seq uid atc time 0 cryptogram",
                       h->arg(r, 0, NULL));
        return;
    }
    long long at_ms;
    if (!parse_int(h->arg(r, 4, NULL), 0, (long long)1 << 52, &at_ms)) {
        h->reply_error(r, "BAD_REQUEST", "bad time");
        return;
    }
    person p;
    person_from_card(a, &card, &p);
    if (p.policy[0] == '\0') {
        h->reply_error(r, "NO_POLICY", "no attendance policy applies to %s of %s", p.kind, p.dept);
        return;
    }
    if (!roster_put(a, &p, 1)) {
        storage_error(a, r, "update the roster");
        return;
    }
    char date[11];
    int64_t days;
    int minutes;
    campus_time(a, at_ms, date, &days, &minutes);
    dayrow d;
    if (!day_get(a, p.id, date, &d)) {
        storage_error(a, r, "read the day");
        return;
    }
    /* A sign-out before overnight_until, while today has no sign-in yet, ends the stay that
     * began with yesterday's sign-in (a night shift): it counts for yesterday as a minute past
     * 24:00. Each such sign-out does, the latest kept, not only the first: a second one left
     * on today read as the out of today's sign-in ("in 07:50, out 02:00"). */
    if (!in && minutes < a->overnight_until && d.min_in < 0) {
        char y[11];
        format_date(days - 1, y);
        dayrow yd;
        if (!day_get(a, p.id, y, &yd)) {
            storage_error(a, r, "read the day");
            return;
        }
        /* Not a stay that ended already (a sign-out before midnight, or corrected so), and
         * not into a month the head has reviewed: then it stays on today as a punch. */
        if (yd.min_in >= 0 && (yd.min_out < 0 || yd.min_out >= 1440) &&
            !month_reviewed(a, p.dept, y)) {
            copy(date, sizeof date, y);
            days -= 1;
            minutes += 1440;
            d = yd;
        }
    }
    const char *tid = h->terminal(r)->id;
    if (!record_punch(a, p.id, date, minutes, in ? "in" : "out", at_ms, tid, card.card_no, "card",
                      "")) {
        storage_error(a, r, "record the punch");
        return;
    }
    int min_in = d.min_in, min_out = d.min_out;
    if (in)
        min_in = min_in < 0 || minutes < min_in ? minutes : min_in;
    else
        min_out = minutes > min_out ? minutes : min_out;
    /* The day's sign-out ends the stay its sign-in began: one before the sign-in (02:00 with
     * nothing to close the night before, then a sign-in at 07:50) is kept as a punch but is
     * not the day's sign-out. */
    if (min_in >= 0 && min_out < min_in)
        min_out = NO_PUNCH;
    if (!day_set_punches(a, p.id, date, min_in, min_out, 0)) {
        storage_error(a, r, "record the punch");
        return;
    }
    if (!reclose_if_closed(a, r, &p, date, days))
        return;
    /* What the terminal shows: the policy's provisional verdict on this punch. After the
     * policy's calendar the punch is kept and the day waits, unjudged (logged). */
    int holiday = is_holiday(a, date, p.dept);
    int known = calendar_ok(a, NULL, p.policy, date);
    dayres v = {0};
    if (known &&
        !classify(a, r, p.policy, date, days, holiday, in ? minutes : (min_in < 0 ? 0 : min_in),
                  in ? MINUTES_MAX : minutes, &v))
        return;
    char note[64];
    if (!known)
        copy(note, sizeof note, "not judged: calendar");
    else if (!v.workday)
        copy(note, sizeof note, "rest day");
    else if (v.absent)
        copy(note, sizeof note, in ? "absent: too late" : "absent: too early");
    else if (in && v.late > 0)
        snprintf(note, sizeof note, "late %d min", v.late);
    else if (!in && v.early > 0)
        snprintf(note, sizeof note, "early %d min", v.early);
    else
        copy(note, sizeof note, "on time");
    char hhmm[PUNCH_LEN], masked[96];
    format_punch(days, minutes, hhmm);
    h->mask_name(p.name, masked, sizeof masked);
    h->reply_array(r, 5);
    h->reply_str(r, in ? "in" : "out");
    h->reply_str(r, date);
    h->reply_str(r, hhmm);
    h->reply_str(r, note);
    h->reply_str(r, masked);
}

static void v_signin(ykt_request *r, void *ud)
{
    punch(r, ud, 1);
}

static void v_signout(ykt_request *r, void *ud)
{
    punch(r, ud, 0);
}

/* ---- leave (R-T2) ---- */

typedef struct yearsplit {
    int year[8];
    int days[8];
    int n;
} yearsplit;

static int split_add(yearsplit *s, int year)
{
    for (int i = 0; i < s->n; i++)
        if (s->year[i] == year) {
            s->days[i]++;
            return 1;
        }
    if (s->n == 8)
        return 0;
    s->year[s->n] = year;
    s->days[s->n] = 1;
    s->n++;
    return 1;
}

/* Leave days are the policy's workdays in the period (the department's holidays and the
 * script's public holidays and terms do not count). */
static int count_workdays(att *a, ykt_request *r, const person *p, int64_t from, int64_t to,
                          yearsplit *s)
{
    memset(s, 0, sizeof *s);
    for (int64_t dd = from; dd <= to; dd++) {
        char date[11];
        format_date(dd, date);
        dayres v;
        if (!classify(a, r, p->policy, date, dd, is_holiday(a, date, p->dept), NO_PUNCH, NO_PUNCH,
                      &v))
            return 0;
        if (v.workday && !split_add(s, atoi(date))) {
            a->h->reply_error(r, "BAD_PERIOD", "a leave spans too many years");
            return 0;
        }
    }
    return 1;
}

/* Granted, used and pending days of a balance (pending excludes leave `except`). */
static int balance_of(att *a, int64_t pid, const char *type, int year, int64_t except, int *granted,
                      int *used, int *pending, int *exists)
{
    sqlite3_stmt *st = S(a, "SELECT days, used FROM attendance_balances WHERE person_id = ? AND "
                            "leave_type = ? AND year = ?");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, pid);
    bind_s(st, 2, type);
    sqlite3_bind_int(st, 3, year);
    *granted = *used = *pending = *exists = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *exists = 1;
        *granted = sqlite3_column_int(st, 0);
        *used = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    st = S(a, "SELECT coalesce(sum(y.days), 0) FROM attendance_leave_years y JOIN "
              "attendance_leaves l ON l.id = y.leave_id WHERE l.person_id = ? AND "
              "l.leave_type = ? AND y.year = ? AND l.status = 'pending' AND l.id <> ?");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, pid);
    bind_s(st, 2, type);
    sqlite3_bind_int(st, 3, year);
    sqlite3_bind_int64(st, 4, except);
    if (sqlite3_step(st) == SQLITE_ROW)
        *pending = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return 1;
}

/* Refuses INSUFFICIENT_BALANCE when a year's balance cannot cover the split. */
static int balance_covers(att *a, ykt_request *r, const person *p, const char *type,
                          const yearsplit *s, int64_t except)
{
    for (int i = 0; i < s->n; i++) {
        int granted, used, pending, exists;
        if (!balance_of(a, p->id, type, s->year[i], except, &granted, &used, &pending, &exists)) {
            storage_error(a, r, "read the balance");
            return 0;
        }
        int left = granted - used - pending;
        if (s->days[i] > left) {
            if (!exists)
                a->h->reply_error(r, "INSUFFICIENT_BALANCE",
                                  "%s has no %s leave balance for %d (asked %d %s)", p->no, type,
                                  s->year[i], s->days[i], days_word(s->days[i]));
            else
                a->h->reply_error(r, "INSUFFICIENT_BALANCE",
                                  "%s leave %d: asked %d %s, %d left (%d granted, %d used, "
                                  "%d pending)",
                                  type, s->year[i], s->days[i], days_word(s->days[i]),
                                  left < 0 ? 0 : left, granted, used, pending);
            return 0;
        }
    }
    return 1;
}

/* Applies for leave; replies the refusal and returns 0, or returns the new id. */
static int64_t leave_apply(att *a, ykt_request *r, const person *p, const char *type,
                           const char *from_s, const char *to_s, const char *reason, const char *by,
                           int *total)
{
    const ykt_host *h = a->h;
    int64_t from, to;
    if (!leave_type_known(a, type)) {
        char list[MAX_TYPES * TYPE_LEN + 1] = "";
        for (int i = 0; i < a->ntypes; i++) {
            if (i)
                strcat(list, ",");
            strcat(list, a->types[i]);
        }
        h->reply_error(r, "UNKNOWN_LEAVE_TYPE", "no leave type '%.24s' (types: %s)", type, list);
        return 0;
    }
    if (!parse_date(from_s, &from) || !parse_date(to_s, &to)) {
        h->reply_error(r, "BAD_DATE", "dates are YYYY-MM-DD, e.g. 2026-10-12");
        return 0;
    }
    if (to < from) {
        h->reply_error(r, "BAD_PERIOD", "the leave ends (%s) before it starts (%s)", to_s, from_s);
        return 0;
    }
    if (to - from + 1 > a->max_leave_days) {
        h->reply_error(r, "BAD_PERIOD", "one application covers at most %d calendar %s",
                       a->max_leave_days, days_word(a->max_leave_days));
        return 0;
    }
    if (strlen(reason) > 200) {
        h->reply_error(r, "BAD_REQUEST", "the reason is at most 200 bytes");
        return 0;
    }
    if (p->policy[0] == '\0') {
        h->reply_error(r, "NO_POLICY", "no attendance policy applies to %s of %s", p->kind,
                       p->dept);
        return 0;
    }
    sqlite3_stmt *st = S(a, "SELECT id, leave_type, from_date, to_date, status FROM "
                            "attendance_leaves WHERE person_id = ? AND status IN ('pending', "
                            "'approved') AND from_date <= ? AND to_date >= ? LIMIT 1");
    if (st == NULL) {
        storage_error(a, r, "read leaves");
        return 0;
    }
    sqlite3_bind_int64(st, 1, p->id);
    bind_s(st, 2, to_s);
    bind_s(st, 3, from_s);
    if (sqlite3_step(st) == SQLITE_ROW) {
        h->reply_error(r, "LEAVE_OVERLAP", "overlaps %s leave %lld (%s to %s, %s); cancel it first",
                       col_text(st, 1), (long long)sqlite3_column_int64(st, 0), col_text(st, 2),
                       col_text(st, 3), col_text(st, 4));
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    yearsplit s;
    if (!count_workdays(a, r, p, from, to, &s))
        return 0;
    int sum = 0;
    for (int i = 0; i < s.n; i++)
        sum += s.days[i];
    if (sum == 0) {
        h->reply_error(r, "NO_WORKDAYS",
                       "%s to %s has no workday under policy %s: no leave is needed", from_s, to_s,
                       p->policy);
        return 0;
    }
    if (!balance_covers(a, r, p, type, &s, 0))
        return 0;
    person listed = *p;
    if (!roster_put(a, &listed, 0)) {
        storage_error(a, r, "update the roster");
        return 0;
    }
    st = S(a, "INSERT INTO attendance_leaves (person_id, leave_type, from_date, to_date, days, "
              "status, reason, applied_by, applied_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) "
              "RETURNING id");
    if (st == NULL) {
        storage_error(a, r, "record the application");
        return 0;
    }
    sqlite3_bind_int64(st, 1, p->id);
    bind_s(st, 2, type);
    bind_s(st, 3, from_s);
    bind_s(st, 4, to_s);
    sqlite3_bind_int(st, 5, sum);
    bind_s(st, 6, reason);
    bind_s(st, 7, by);
    sqlite3_bind_int64(st, 8, h->now_ms());
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (id == 0) {
        storage_error(a, r, "record the application");
        return 0;
    }
    for (int i = 0; i < s.n; i++) {
        st = S(a, "INSERT INTO attendance_leave_years (leave_id, year, days) VALUES (?, ?, ?)");
        if (st == NULL) {
            storage_error(a, r, "record the application");
            return 0;
        }
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, s.year[i]);
        sqlite3_bind_int(st, 3, s.days[i]);
        if (!done(st)) {
            storage_error(a, r, "record the application");
            return 0;
        }
    }
    *total = sum;
    return id;
}

typedef struct leave {
    int64_t id, person_id;
    char type[TYPE_LEN], from[11], to[11], status[16];
    int days;
} leave;

static int leave_get(att *a, ykt_request *r, const char *id_s, leave *l)
{
    long long id;
    if (!parse_int(id_s, 1, INT64_MAX, &id)) {
        a->h->reply_error(r, "BAD_REQUEST", "an application id is a positive number");
        return 0;
    }
    sqlite3_stmt *st = S(a, "SELECT id, person_id, leave_type, from_date, to_date, status, days "
                            "FROM attendance_leaves WHERE id = ?");
    if (st == NULL) {
        storage_error(a, r, "read the application");
        return 0;
    }
    sqlite3_bind_int64(st, 1, id);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        l->id = sqlite3_column_int64(st, 0);
        l->person_id = sqlite3_column_int64(st, 1);
        copy(l->type, sizeof l->type, col_text(st, 2));
        copy(l->from, sizeof l->from, col_text(st, 3));
        copy(l->to, sizeof l->to, col_text(st, 4));
        copy(l->status, sizeof l->status, col_text(st, 5));
        l->days = sqlite3_column_int(st, 6);
    }
    sqlite3_reset(st);
    if (!found)
        a->h->reply_error(r, "NOT_FOUND", "no leave application %lld", id);
    return found;
}

static int leave_split(att *a, int64_t id, yearsplit *s)
{
    memset(s, 0, sizeof *s);
    sqlite3_stmt *st = S(a, "SELECT year, days FROM attendance_leave_years WHERE leave_id = ? "
                            "ORDER BY year");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, id);
    while (s->n < 8 && sqlite3_step(st) == SQLITE_ROW) {
        s->year[s->n] = sqlite3_column_int(st, 0);
        s->days[s->n] = sqlite3_column_int(st, 1);
        s->n++;
    }
    sqlite3_reset(st);
    return 1;
}

/* Records a leave's days counted again: its total and its split by year. */
static int leave_resplit(att *a, int64_t id, const yearsplit *s, int total)
{
    sqlite3_stmt *st = S(a, "UPDATE attendance_leaves SET days = ? WHERE id = ?");
    if (st == NULL)
        return 0;
    sqlite3_bind_int(st, 1, total);
    sqlite3_bind_int64(st, 2, id);
    if (!done(st))
        return 0;
    st = S(a, "DELETE FROM attendance_leave_years WHERE leave_id = ?");
    if (st == NULL)
        return 0;
    sqlite3_bind_int64(st, 1, id);
    if (!done(st))
        return 0;
    for (int i = 0; i < s->n; i++) {
        st = S(a, "INSERT INTO attendance_leave_years (leave_id, year, days) VALUES (?, ?, ?)");
        if (st == NULL)
            return 0;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, s->year[i]);
        sqlite3_bind_int(st, 3, s->days[i]);
        if (!done(st))
            return 0;
    }
    return 1;
}

/* used += sign * days for each year of the leave. */
static int balance_move(att *a, int64_t pid, const char *type, const yearsplit *s, int sign)
{
    for (int i = 0; i < s->n; i++) {
        sqlite3_stmt *st = S(a, "UPDATE attendance_balances SET used = used + ? WHERE person_id = "
                                "? AND leave_type = ? AND year = ?");
        if (st == NULL)
            return 0;
        sqlite3_bind_int(st, 1, sign * s->days[i]);
        sqlite3_bind_int64(st, 2, pid);
        bind_s(st, 3, type);
        sqlite3_bind_int(st, 4, s->year[i]);
        if (!done(st))
            return 0;
    }
    return 1;
}

/* Closes again the already closed days of a period (a leave approved or cancelled late). */
static int reclose_period(att *a, ykt_request *r, const person *p, const char *from_s,
                          const char *to_s)
{
    int64_t from, to;
    if (!parse_date(from_s, &from) || !parse_date(to_s, &to))
        return 1;
    for (int64_t d = from; d <= to; d++) {
        char date[11];
        format_date(d, date);
        if (!reclose_if_closed(a, r, p, date, d))
            return 0;
    }
    return 1;
}

static void decision_record(att *a, ykt_request *r, int64_t id, const char *status, int days)
{
    static const char *const cols[] = {"id", "status", "days"};
    a->h->table_begin(r, "RECORD", 3, cols);
    a->h->table_row(r);
    a->h->table_int(r, id);
    a->h->table_str(r, status);
    a->h->table_int(r, days);
    a->h->table_send(r);
}

/* ---- overtime (R-T3) ---- */

/* An overtime application as its commands reply it: the day it is for, and its minutes and
 * hours once known (the policy counts them from the day's punches when it is approved and
 * the day is over; empty until then, and for a rejection). Overtime has no leave days. */
static void overtime_record(att *a, ykt_request *r, int64_t id)
{
    sqlite3_stmt *st = S(a, "SELECT p.person_no, o.date, o.status, o.minutes FROM "
                            "attendance_overtime o JOIN attendance_people p ON p.person_id = "
                            "o.person_id WHERE o.id = ?");
    if (st == NULL) {
        storage_error(a, r, "read overtime");
        return;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        storage_error(a, r, "read overtime");
        return;
    }
    static const char *const cols[] = {"id", "person", "date", "status", "minutes", "hours"};
    a->h->table_begin(r, "RECORD", 6, cols);
    a->h->table_row(r);
    a->h->table_int(r, id);
    a->h->table_str(r, col_text(st, 0));
    a->h->table_str(r, col_text(st, 1));
    a->h->table_str(r, col_text(st, 2));
    if (sqlite3_column_type(st, 3) == SQLITE_NULL) {
        a->h->table_str(r, "");
        a->h->table_str(r, "");
    } else {
        char hours[32];
        format_hours(sqlite3_column_int64(st, 3), hours);
        a->h->table_int(r, sqlite3_column_int64(st, 3));
        a->h->table_str(r, hours);
    }
    sqlite3_reset(st);
    a->h->table_send(r);
}

static int64_t overtime_apply(att *a, ykt_request *r, const person *p, const char *date_s,
                              const char *reason, const char *by)
{
    int64_t days, now;
    if (!parse_date(date_s, &days)) {
        a->h->reply_error(r, "BAD_DATE", "dates are YYYY-MM-DD, e.g. 2026-10-12");
        return 0;
    }
    char t[11];
    today(a, t);
    if (parse_date(t, &now) && (days < now - OVERTIME_REACH || days > now + OVERTIME_REACH)) {
        a->h->reply_error(r, "DATE_OUT_OF_RANGE",
                          "overtime is applied for within %d days of today (%s), not on %s",
                          OVERTIME_REACH, t, date_s);
        return 0;
    }
    if (strlen(reason) > 200) {
        a->h->reply_error(r, "BAD_REQUEST", "the reason is at most 200 bytes");
        return 0;
    }
    if (p->policy[0] == '\0') {
        a->h->reply_error(r, "NO_POLICY", "no attendance policy applies to %s of %s", p->kind,
                          p->dept);
        return 0;
    }
    sqlite3_stmt *st = S(a, "SELECT id, status FROM attendance_overtime WHERE person_id = ? AND "
                            "date = ? AND status IN ('pending', 'approved')");
    if (st == NULL) {
        storage_error(a, r, "read overtime");
        return 0;
    }
    sqlite3_bind_int64(st, 1, p->id);
    bind_s(st, 2, date_s);
    if (sqlite3_step(st) == SQLITE_ROW) {
        a->h->reply_error(r, "OVERTIME_EXISTS", "overtime application %lld for %s is %s",
                          (long long)sqlite3_column_int64(st, 0), date_s, col_text(st, 1));
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    person listed = *p;
    if (!roster_put(a, &listed, 0)) {
        storage_error(a, r, "update the roster");
        return 0;
    }
    st = S(a, "INSERT INTO attendance_overtime (person_id, date, status, reason, applied_by, "
              "applied_at) VALUES (?, ?, 'pending', ?, ?, ?) RETURNING id");
    if (st == NULL) {
        storage_error(a, r, "record the application");
        return 0;
    }
    sqlite3_bind_int64(st, 1, p->id);
    bind_s(st, 2, date_s);
    bind_s(st, 3, reason);
    bind_s(st, 4, by);
    sqlite3_bind_int64(st, 5, a->h->now_ms());
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (id == 0)
        storage_error(a, r, "record the application");
    return id;
}

/* ---- kiosk verbs ---- */

/* The holder of the presented card; writes nothing (an application puts them on the
 * roster when it is recorded). */
static int kiosk_person(att *a, ykt_request *r, ykt_card_info *card, person *p)
{
    if (a->h->card_present(r, card, NULL) != YKT_PLUGIN_OK)
        return 0;
    person_from_card(a, card, p);
    return 1;
}

static void v_leave(ykt_request *r, void *ud)
{
    att *a = ud;
    ykt_card_info card;
    person p;
    if (!kiosk_person(a, r, &card, &p))
        return;
    int n = a->h->argc(r);
    if (n < 10 || n > 11) {
        a->h->reply_error(r, "BAD_REQUEST",
                          "usage: ATTENDANCE.LEAVE <card args> type from to [reason]");
        return;
    }
    char by[80];
    snprintf(by, sizeof by, "card %s", card.card_no);
    int days = 0;
    int64_t id =
        leave_apply(a, r, &p, a->h->arg(r, 7, NULL), a->h->arg(r, 8, NULL), a->h->arg(r, 9, NULL),
                    n == 11 ? a->h->arg(r, 10, NULL) : "", by, &days);
    if (id == 0)
        return;
    a->h->reply_array(r, 2);
    a->h->reply_int(r, id);
    a->h->reply_int(r, days);
}

static void v_overtime(ykt_request *r, void *ud)
{
    att *a = ud;
    ykt_card_info card;
    person p;
    if (!kiosk_person(a, r, &card, &p))
        return;
    int n = a->h->argc(r);
    if (n < 8 || n > 9) {
        a->h->reply_error(r, "BAD_REQUEST", "usage: ATTENDANCE.OVERTIME <card args> date [reason]");
        return;
    }
    char by[80];
    snprintf(by, sizeof by, "card %s", card.card_no);
    int64_t id =
        overtime_apply(a, r, &p, a->h->arg(r, 7, NULL), n == 9 ? a->h->arg(r, 8, NULL) : "", by);
    if (id != 0)
        a->h->reply_int(r, id);
}

static void day_status(const dayrow *d, char *out, size_t n)
{
    if (!d->closed)
        copy(out, n, "open");
    else if (d->leave[0])
        snprintf(out, n, "leave:%s", d->leave);
    else if (!d->workday)
        copy(out, n, "rest");
    else if (d->absent)
        copy(out, n, "absent");
    else if (d->late && d->early)
        snprintf(out, n, "late %d, early %d", d->late, d->early);
    else if (d->late)
        snprintf(out, n, "late %d", d->late);
    else if (d->early)
        snprintf(out, n, "early %d", d->early);
    else
        copy(out, n, "ok");
}

static void v_records(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    ykt_card_info card;
    person p;
    if (!kiosk_person(a, r, &card, &p))
        return;
    int n = h->argc(r);
    char month[8], from[11], to[11];
    if (n == 8) {
        copy(month, sizeof month, h->arg(r, 7, NULL));
    } else if (n == 7) {
        char t[11];
        today(a, t);
        snprintf(month, sizeof month, "%.7s", t);
    } else {
        h->reply_error(r, "BAD_REQUEST", "usage: ATTENDANCE.RECORDS <card args> [YYYY-MM]");
        return;
    }
    if (!parse_month(month, from, to)) {
        h->reply_error(r, "BAD_DATE", "a month is YYYY-MM, e.g. 2026-10");
        return;
    }
    sqlite3_stmt *st =
        S(a, "SELECT d.date, d.minutes_in, d.minutes_out, d.closed, d.workday, d.late, d.early, "
             "d.absent, d.leave_type, (SELECT o.minutes FROM attendance_overtime o WHERE "
             "o.person_id = d.person_id AND o.date = d.date AND o.status = 'approved') FROM "
             "attendance_days d WHERE d.person_id = ? AND d.date >= ? AND d.date < ? ORDER BY "
             "d.date");
    if (st == NULL) {
        storage_error(a, r, "read records");
        return;
    }
    sqlite3_bind_int64(st, 1, p.id);
    bind_s(st, 2, from);
    bind_s(st, 3, to);
    /* At most 31 rows: count first, then send. */
    int rows = 0;
    char dates[32][11];
    dayrow ds[32];
    int ot[32];
    while (rows < 32 && sqlite3_step(st) == SQLITE_ROW) {
        dayrow *d = &ds[rows];
        memset(d, 0, sizeof *d);
        copy(dates[rows], 11, col_text(st, 0));
        d->min_in =
            sqlite3_column_type(st, 1) == SQLITE_NULL ? NO_PUNCH : sqlite3_column_int(st, 1);
        d->min_out =
            sqlite3_column_type(st, 2) == SQLITE_NULL ? NO_PUNCH : sqlite3_column_int(st, 2);
        d->closed = sqlite3_column_int(st, 3);
        d->workday = sqlite3_column_int(st, 4);
        d->late = sqlite3_column_int(st, 5);
        d->early = sqlite3_column_int(st, 6);
        d->absent = sqlite3_column_int(st, 7);
        copy(d->leave, sizeof d->leave, col_text(st, 8));
        ot[rows] = sqlite3_column_type(st, 9) == SQLITE_NULL ? 0 : sqlite3_column_int(st, 9);
        rows++;
    }
    sqlite3_reset(st);
    h->reply_array(r, rows);
    for (int i = 0; i < rows; i++) {
        char in_s[PUNCH_LEN], out_s[PUNCH_LEN], status[64];
        int64_t days = 0;
        parse_date(dates[i], &days);
        format_punch(days, ds[i].min_in, in_s);
        format_punch(days, ds[i].min_out, out_s);
        day_status(&ds[i], status, sizeof status);
        h->reply_array(r, 5);
        h->reply_str(r, dates[i]);
        h->reply_str(r, in_s);
        h->reply_str(r, out_s);
        h->reply_str(r, status);
        h->reply_int(r, ot[i]);
    }
}

static void v_balance(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    ykt_card_info card;
    person p;
    if (!kiosk_person(a, r, &card, &p))
        return;
    int n = h->argc(r);
    long long year;
    char t[11];
    today(a, t);
    if (n == 7) {
        year = atoi(t);
    } else if (n != 8) {
        h->reply_error(r, "BAD_REQUEST", "usage: ATTENDANCE.BALANCE <card args> [year]");
        return;
    } else if (!parse_int(h->arg(r, 7, NULL), 0, 9999, &year)) {
        h->reply_error(r, "BAD_REQUEST", "the year is a number like 2026, not '%.16s'",
                       h->arg(r, 7, NULL));
        return;
    } else if (year < 2000 || year > 2199) {
        h->reply_error(r, "BAD_REQUEST", "year %lld is out of range: 2000 to 2199", year);
        return;
    }
    h->reply_array(r, a->ntypes);
    for (int i = 0; i < a->ntypes; i++) {
        int granted = 0, used = 0, pending = 0, exists = 0;
        balance_of(a, p.id, a->types[i], (int)year, 0, &granted, &used, &pending, &exists);
        h->reply_array(r, 4);
        h->reply_str(r, a->types[i]);
        h->reply_int(r, granted);
        h->reply_int(r, used);
        h->reply_int(r, pending);
    }
}

/* ---- the gate (R-A, conventions): students stay in during class hours ---- */

static int on_access(int event, void *data, void *ud)
{
    (void)event;
    att *a = ud;
    ykt_ev_access *e = data;
    if (!a->gate_check || e == NULL || e->card == NULL || e->place_kind == NULL ||
        e->card->kind == NULL || strcmp(e->card->kind, "student") != 0 ||
        strcmp(e->place_kind, "campus_gate") != 0 || e->direction != YKT_DIR_OUT)
        return YKT_DEFER;
    person p;
    const char *override = "";
    if (person_by_id(a, e->card->person_id, &p))
        override = p.override;
    const char *policy = policy_for(a, override, e->card->kind, e->card->department);
    if (policy[0] == '\0')
        return YKT_DEFER;
    char date[11];
    int64_t days;
    int minutes, yes;
    campus_time(a, e->at_ms > 0 ? e->at_ms : a->h->now_ms(), date, &days, &minutes);
    const char *dept = e->card->department ? e->card->department : "";
    if (!in_session(a, policy, date, days, is_holiday(a, date, dept), minutes, &yes)) {
        /* A broken policy must not lock students in: logged (rate-limited by the host). */
        return YKT_DEFER;
    }
    if (!yes)
        return YKT_DEFER;
    char type[TYPE_LEN];
    if (approved_leave_on(a, e->card->person_id, date, type))
        return YKT_DEFER;
    snprintf(e->reason, sizeof e->reason,
             "class hours (%s): a student needs an approved leave to leave campus", policy);
    return YKT_DENY;
}

/* ---- the day's end ---- */

static void store_summary(att *a, const char *month);

static int on_day_end(int event, void *data, void *ud)
{
    (void)event;
    att *a = ud;
    const ykt_ev_day *ev = data;
    int64_t now_day;
    if (ev == NULL || !parse_date(ev->day, &now_day))
        return YKT_DEFER;
    char last[16];
    int64_t from = now_day - 1, last_day;
    if (parse_date(meta_get(a, "last_closed", last, sizeof last), &last_day) && last_day + 1 < from)
        from = last_day + 1 < now_day - 31 ? now_day - 31 : last_day + 1;
    for (int64_t d = from; d < now_day; d++) {
        char date[11];
        format_date(d, date);
        closing c;
        close_all(a, NULL, date, d, &c);
        a->h->log(a->self, YKT_PLUGIN_LOG_INFO,
                  "closed %s: %d people, %d judged, %d workdays, %d absent%s", date, c.people,
                  c.judged, c.workdays, c.absent, c.failed ? " (some failed: see above)" : "");
        meta_set(a, "last_closed", date);
        /* The last day of a month closed: store that month's summary for the information
         * centre — also when yktd was stopped over the 1st and the days are closed late. */
        char next[11];
        format_date(d + 1, next);
        if (strcmp(next + 8, "01") == 0) {
            date[7] = '\0';
            store_summary(a, date);
        }
    }
    return YKT_DEFER;
}

/* ---- admin commands ---- */

static const char *opt_or(att *a, ykt_request *r, const char *name, const char *dflt)
{
    const char *v = a->h->opt(r, name);
    return v ? v : dflt;
}

static void a_enrol(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *policy = h->opt(r, "policy");
    if (policy != NULL && strlen(policy) >= sizeof((person *)0)->override) {
        h->reply_error(r, "BAD_REQUEST", "policy name too long");
        return;
    }
    if (policy != NULL && policy[0] != '\0' && strcmp(policy, "none") != 0) {
        /* The script must exist and answer. */
        dayres v;
        if (!classify(a, r, policy, "2026-01-05", days_from_civil(2026, 1, 5), 0, NO_PUNCH,
                      NO_PUNCH, &v))
            return;
    }
    static const char *const cols[] = {"person", "name", "kind", "department", "policy"};
    person ps[MAX_IDS];
    int n = h->argc(r);
    for (int i = 0; i < n; i++)
        if (!person_for_admin(a, r, h->arg(r, i, NULL), &ps[i]) || !scope_ok(a, r, ps[i].dept))
            return;
    for (int i = 0; i < n; i++) {
        person *p = &ps[i];
        if (!roster_put(a, p, 1)) {
            storage_error(a, r, "enrol");
            return;
        }
        sqlite3_stmt *st = S(a, "UPDATE attendance_people SET active = 1, policy = coalesce(?, "
                                "policy) WHERE person_id = ?");
        if (st == NULL) {
            storage_error(a, r, "enrol");
            return;
        }
        if (policy)
            bind_s(st, 1, policy);
        else
            sqlite3_bind_null(st, 1);
        sqlite3_bind_int64(st, 2, p->id);
        if (!done(st) || !person_by_id(a, p->id, p)) {
            storage_error(a, r, "enrol");
            return;
        }
        if (h->audit(r, "attendance.enrol", p->no, p->policy) != YKT_PLUGIN_OK) {
            storage_error(a, r, "audit");
            return;
        }
    }
    h->table_begin(r, "TABLE", 5, cols);
    for (int i = 0; i < n; i++) {
        h->table_row(r);
        h->table_str(r, ps[i].no);
        h->table_str(r, ps[i].name);
        h->table_str(r, ps[i].kind);
        h->table_str(r, ps[i].dept);
        h->table_str(r, ps[i].policy[0] ? ps[i].policy : "(none)");
    }
    h->table_send(r);
}

static void a_unenrol(ykt_request *r, void *ud)
{
    att *a = ud;
    person p;
    if (!person_for_admin(a, r, a->h->arg(r, 0, NULL), &p) || !scope_ok(a, r, p.dept))
        return;
    if (!p.listed) {
        a->h->reply_error(r, "BAD_STATE", "%s is not on the attendance roster", p.no);
        return;
    }
    sqlite3_stmt *st = S(a, "UPDATE attendance_people SET active = 0 WHERE person_id = ?");
    if (st == NULL) {
        storage_error(a, r, "unenrol");
        return;
    }
    sqlite3_bind_int64(st, 1, p.id);
    if (!done(st) || a->h->audit(r, "attendance.unenrol", p.no, "") != YKT_PLUGIN_OK) {
        storage_error(a, r, "unenrol");
        return;
    }
    a->h->reply_ok(r);
}

static void a_people(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *dept = h->opt(r, "department");
    if (dept != NULL && !scope_ok(a, r, dept))
        return;
    if (dept == NULL) {
        unsigned role = 0;
        const char *od = NULL;
        h->operator_info(r, &role, &od);
        if (!(role & (YKT_PLUGIN_ROLE_SUPERUSER | YKT_PLUGIN_ROLE_AUDITOR)))
            dept = od ? od : "";
    }
    sqlite3_stmt *st = S(a, "SELECT person_id, person_no, name, kind, department, policy, active "
                            "FROM attendance_people WHERE (?1 IS NULL OR department = ?1) ORDER "
                            "BY person_no");
    if (st == NULL) {
        storage_error(a, r, "read the roster");
        return;
    }
    if (dept)
        bind_s(st, 1, dept);
    static const char *const cols[] = {"person", "name", "kind", "department", "policy", "active"};
    h->table_begin(r, "TABLE", 6, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, col_text(st, 1));
        h->table_str(r, col_text(st, 2));
        h->table_str(r, col_text(st, 3));
        h->table_str(r, col_text(st, 4));
        const char *pol = policy_for(a, col_text(st, 5), col_text(st, 3), col_text(st, 4));
        h->table_str(r, pol[0] ? pol : "(none)");
        h->table_int(r, sqlite3_column_int(st, 6));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_holiday_add(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *date = h->arg(r, 0, NULL);
    const char *dept = opt_or(a, r, "department", "");
    const char *name = opt_or(a, r, "name", "");
    int64_t d;
    if (!parse_date(date, &d)) {
        h->reply_error(r, "BAD_DATE", "dates are YYYY-MM-DD, e.g. 2026-10-12");
        return;
    }
    if (dept[0] == '\0') {
        unsigned role = 0;
        h->operator_info(r, &role, NULL);
        if (role != YKT_PLUGIN_ROLE_SUPERUSER) {
            h->reply_error(r, "NOT_YOUR_DEPARTMENT",
                           "a campus-wide holiday is the information centre's; name "
                           "--department");
            return;
        }
    } else if (!scope_ok(a, r, dept)) {
        return;
    }
    if (dept[0] && month_reviewed(a, dept, date)) {
        h->reply_error(r, "MONTH_REVIEWED", "%.7s of department %s is reviewed by its head", date,
                       dept);
        return;
    }
    sqlite3_stmt *st = S(a, "INSERT INTO attendance_holidays (date, department, name) VALUES "
                            "(?, ?, ?) ON CONFLICT DO NOTHING");
    if (st == NULL) {
        storage_error(a, r, "add the holiday");
        return;
    }
    bind_s(st, 1, date);
    bind_s(st, 2, dept);
    bind_s(st, 3, name);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_reset(st);
        storage_error(a, r, "add the holiday");
        return;
    }
    sqlite3_reset(st);
    char detail[160];
    snprintf(detail, sizeof detail, "%s %s", dept[0] ? dept : "(all)", name);
    if (h->audit(r, "attendance.holiday-add", date, detail) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    h->reply_ok(r);
}

static void a_holiday_remove(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *date = h->arg(r, 0, NULL);
    const char *dept = opt_or(a, r, "department", "");
    if (dept[0] == '\0') {
        unsigned role = 0;
        h->operator_info(r, &role, NULL);
        if (role != YKT_PLUGIN_ROLE_SUPERUSER) {
            h->reply_error(r, "NOT_YOUR_DEPARTMENT",
                           "a campus-wide holiday is the information centre's");
            return;
        }
    } else if (!scope_ok(a, r, dept)) {
        return;
    }
    sqlite3_stmt *st = S(a, "DELETE FROM attendance_holidays WHERE date = ? AND department = ?");
    if (st == NULL) {
        storage_error(a, r, "remove the holiday");
        return;
    }
    bind_s(st, 1, date);
    bind_s(st, 2, dept);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    if (!ok) {
        storage_error(a, r, "remove the holiday");
        return;
    }
    if (sqlite3_changes(sqlite3_db_handle(st)) == 0) {
        h->reply_error(r, "NOT_FOUND", "no holiday %.10s for %s", date, dept[0] ? dept : "(all)");
        return;
    }
    if (h->audit(r, "attendance.holiday-remove", date, dept) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    h->reply_ok(r);
}

static void a_holidays(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *year = opt_or(a, r, "year", "");
    long long y;
    if (year[0] != '\0' && !parse_int(year, 2000, 2199, &y)) {
        h->reply_error(r, "BAD_REQUEST", "--year is a year from 2000 to 2199, like 2026");
        return;
    }
    sqlite3_stmt *st = S(a, "SELECT date, department, name FROM attendance_holidays WHERE "
                            "date LIKE ? || '%' ORDER BY date, department");
    if (st == NULL) {
        storage_error(a, r, "read holidays");
        return;
    }
    bind_s(st, 1, year);
    static const char *const cols[] = {"date", "department", "name"};
    h->table_begin(r, "TABLE", 3, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, col_text(st, 0));
        h->table_str(r, col_text(st, 1)[0] ? col_text(st, 1) : "(all)");
        h->table_str(r, col_text(st, 2));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_balance_set(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *type = h->arg(r, 1, NULL);
    long long days, year;
    char t[11];
    today(a, t);
    if (!leave_type_known(a, type)) {
        h->reply_error(r, "UNKNOWN_LEAVE_TYPE", "no leave type '%.24s'", type);
        return;
    }
    if (!parse_int(h->arg(r, 2, NULL), 0, 366, &days)) {
        h->reply_error(r, "BAD_REQUEST", "days is a whole number from 0 to 366");
        return;
    }
    const char *ys = h->opt(r, "year");
    if (ys == NULL)
        year = atoi(t);
    else if (!parse_int(ys, 2000, 2199, &year)) {
        h->reply_error(r, "BAD_REQUEST", "--year is a year like 2026");
        return;
    }
    person p;
    if (!person_for_admin(a, r, h->arg(r, 0, NULL), &p) || !scope_ok(a, r, p.dept))
        return;
    int granted, used, pending, exists;
    if (!balance_of(a, p.id, type, (int)year, 0, &granted, &used, &pending, &exists)) {
        storage_error(a, r, "read the balance");
        return;
    }
    if (days < used + pending) {
        h->reply_error(r, "BAD_BALANCE",
                       "%s leave %lld of %s: %d %s used and %d pending; the balance "
                       "cannot be less",
                       type, year, p.no, used, used == 1 ? "day is" : "days are", pending);
        return;
    }
    sqlite3_stmt *st = S(a, "INSERT INTO attendance_balances (person_id, leave_type, year, days, "
                            "used) VALUES (?, ?, ?, ?, 0) ON CONFLICT (person_id, leave_type, "
                            "year) DO UPDATE SET days = excluded.days");
    if (st == NULL) {
        storage_error(a, r, "set the balance");
        return;
    }
    sqlite3_bind_int64(st, 1, p.id);
    bind_s(st, 2, type);
    sqlite3_bind_int(st, 3, (int)year);
    sqlite3_bind_int(st, 4, (int)days);
    if (!done(st)) {
        storage_error(a, r, "set the balance");
        return;
    }
    char target[96], detail[96];
    snprintf(target, sizeof target, "%s", p.no);
    snprintf(detail, sizeof detail, "%s %lld: %d -> %lld %s", type, year, granted, days,
             days_word((int)days));
    if (h->audit(r, "attendance.balance-set", target, detail) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    static const char *const cols[] = {"person", "type", "year", "days", "used", "pending", "left"};
    h->table_begin(r, "RECORD", 7, cols);
    h->table_row(r);
    h->table_str(r, p.no);
    h->table_str(r, type);
    h->table_int(r, year);
    h->table_int(r, days);
    h->table_int(r, used);
    h->table_int(r, pending);
    h->table_int(r, days - used - pending);
    h->table_send(r);
}

static void a_balances(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    long long year;
    char t[11];
    today(a, t);
    const char *ys = h->opt(r, "year");
    if (ys == NULL)
        year = atoi(t);
    else if (!parse_int(ys, 2000, 2199, &year)) {
        h->reply_error(r, "BAD_REQUEST", "--year is a year like 2026");
        return;
    }
    person p;
    if (!person_for_admin(a, r, h->arg(r, 0, NULL), &p) || !scope_ok(a, r, p.dept))
        return;
    static const char *const cols[] = {"type", "year", "days", "used", "pending", "left"};
    h->table_begin(r, "TABLE", 6, cols);
    for (int i = 0; i < a->ntypes; i++) {
        int granted, used, pending, exists;
        if (!balance_of(a, p.id, a->types[i], (int)year, 0, &granted, &used, &pending, &exists))
            continue;
        h->table_row(r);
        h->table_str(r, a->types[i]);
        h->table_int(r, year);
        h->table_int(r, granted);
        h->table_int(r, used);
        h->table_int(r, pending);
        h->table_int(r, granted - used - pending);
    }
    h->table_send(r);
}

/* Who applied, as the record keeps it: the web portal applies for the signed-in holder
 * themselves (its service account may apply only so), an operator for someone else. */
static void applicant(att *a, ykt_request *r, const person *p, char *out, size_t len)
{
    unsigned role = 0;
    a->h->operator_info(r, &role, NULL);
    if (role & YKT_PLUGIN_ROLE_PORTAL)
        snprintf(out, len, "holder %.40s (web portal)", p->no);
    else
        snprintf(out, len, "operator %s", a->h->operator_name(r));
}

static void a_leave_apply(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    person p;
    if (!person_for_admin(a, r, h->arg(r, 0, NULL), &p) || !scope_ok(a, r, p.dept))
        return;
    char by[80];
    applicant(a, r, &p, by, sizeof by);
    int days = 0;
    int64_t id = leave_apply(a, r, &p, h->arg(r, 1, NULL), h->arg(r, 2, NULL), h->arg(r, 3, NULL),
                             opt_or(a, r, "reason", ""), by, &days);
    if (id == 0)
        return;
    char target[32], detail[160];
    snprintf(target, sizeof target, "leave %lld", (long long)id);
    snprintf(detail, sizeof detail, "%s %s %s..%s %d %s", p.no, h->arg(r, 1, NULL),
             h->arg(r, 2, NULL), h->arg(r, 3, NULL), days, days_word(days));
    if (h->audit(r, "attendance.leave-apply", target, detail) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    decision_record(a, r, id, "pending", days);
}

static void a_leave_decide(ykt_request *r, att *a, int approve)
{
    const ykt_host *h = a->h;
    leave l;
    person p;
    if (!leave_get(a, r, h->arg(r, 0, NULL), &l))
        return;
    if (!person_by_id(a, l.person_id, &p)) {
        storage_error(a, r, "read the person");
        return;
    }
    if (!head_ok(a, r, p.dept))
        return;
    if (strcmp(l.status, "pending") != 0) {
        h->reply_error(r, "BAD_STATE", "leave %lld is %s, not pending", (long long)l.id, l.status);
        return;
    }
    const char *note = opt_or(a, r, "note", "");
    if (!approve && note[0] == '\0') {
        h->reply_error(r, "BAD_REQUEST", "a rejection says why: --note TEXT");
        return;
    }
    yearsplit s;
    if (!leave_split(a, l.id, &s)) {
        storage_error(a, r, "read the application");
        return;
    }
    if (approve) {
        int64_t from, to;
        parse_date(l.from, &from);
        parse_date(l.to, &to);
        if (!months_open(a, r, p.dept, from, to))
            return;
        /* The workdays are counted again: a holiday added (or removed) since the
         * application changes the days the leave takes. */
        if (!count_workdays(a, r, &p, from, to, &s))
            return;
        int sum = 0;
        for (int i = 0; i < s.n; i++)
            sum += s.days[i];
        if (sum == 0) {
            h->reply_error(r, "NO_WORKDAYS",
                           "%s to %s has no workday left under policy %s (a holiday was added "
                           "since the application): reject or cancel leave %lld",
                           l.from, l.to, p.policy, (long long)l.id);
            return;
        }
        if (!leave_resplit(a, l.id, &s, sum)) {
            storage_error(a, r, "recount the leave days");
            return;
        }
        l.days = sum;
        /* Balances may have changed since the application: check again, then deduct. */
        if (!balance_covers(a, r, &p, l.type, &s, l.id))
            return;
        if (!balance_move(a, p.id, l.type, &s, +1)) {
            storage_error(a, r, "deduct the balance");
            return;
        }
    }
    sqlite3_stmt *st = S(a, "UPDATE attendance_leaves SET status = ?, decided_by = ?, "
                            "decided_at = ?, decision_note = ? WHERE id = ?");
    if (st == NULL) {
        storage_error(a, r, "record the decision");
        return;
    }
    bind_s(st, 1, approve ? "approved" : "rejected");
    bind_s(st, 2, h->operator_name(r));
    sqlite3_bind_int64(st, 3, h->now_ms());
    bind_s(st, 4, note);
    sqlite3_bind_int64(st, 5, l.id);
    if (!done(st)) {
        storage_error(a, r, "record the decision");
        return;
    }
    if (approve && !reclose_period(a, r, &p, l.from, l.to))
        return;
    char msg[200], target[32];
    snprintf(msg, sizeof msg, "%s leave %s to %s (%d %s) %s", l.type, l.from, l.to, l.days,
             days_word(l.days), approve ? "approved" : "rejected");
    snprintf(target, sizeof target, "leave %lld", (long long)l.id);
    if (h->notify(p.id, "leave", msg, 0) != YKT_PLUGIN_OK ||
        h->audit(r, approve ? "attendance.leave-approve" : "attendance.leave-reject", target,
                 msg) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    decision_record(a, r, l.id, approve ? "approved" : "rejected", l.days);
}

static void a_leave_approve(ykt_request *r, void *ud)
{
    a_leave_decide(r, ud, 1);
}

static void a_leave_reject(ykt_request *r, void *ud)
{
    a_leave_decide(r, ud, 0);
}

static void a_leave_cancel(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    leave l;
    person p;
    if (!leave_get(a, r, h->arg(r, 0, NULL), &l))
        return;
    if (!person_by_id(a, l.person_id, &p)) {
        storage_error(a, r, "read the person");
        return;
    }
    if (!scope_ok(a, r, p.dept))
        return;
    int approved = strcmp(l.status, "approved") == 0;
    if (!approved && strcmp(l.status, "pending") != 0) {
        h->reply_error(r, "BAD_STATE", "leave %lld is %s", (long long)l.id, l.status);
        return;
    }
    char t[11];
    today(a, t);
    if (approved && strcmp(l.from, t) <= 0) {
        h->reply_error(r, "LEAVE_STARTED",
                       "leave %lld began on %s: an approved leave is cancelled only before it "
                       "starts",
                       (long long)l.id, l.from);
        return;
    }
    if (approved) {
        yearsplit s;
        if (!leave_split(a, l.id, &s) || !balance_move(a, p.id, l.type, &s, -1)) {
            storage_error(a, r, "restore the balance");
            return;
        }
    }
    sqlite3_stmt *st = S(a, "UPDATE attendance_leaves SET status = 'cancelled' WHERE id = ?");
    if (st == NULL) {
        storage_error(a, r, "cancel");
        return;
    }
    sqlite3_bind_int64(st, 1, l.id);
    char target[32];
    snprintf(target, sizeof target, "leave %lld", (long long)l.id);
    if (!done(st) || h->audit(r, "attendance.leave-cancel", target,
                              approved ? "balance restored" : "") != YKT_PLUGIN_OK) {
        storage_error(a, r, "cancel");
        return;
    }
    decision_record(a, r, l.id, "cancelled", l.days);
}

/* A --status filter must name one of the states (NULL-terminated list), else BAD_REQUEST. */
static int status_ok(att *a, ykt_request *r, const char *status, const char *const *states,
                     const char *names)
{
    if (status == NULL)
        return 1;
    for (int i = 0; states[i] != NULL; i++)
        if (strcmp(status, states[i]) == 0)
            return 1;
    a->h->reply_error(r, "BAD_REQUEST", "--status is %s", names);
    return 0;
}

/*
 * Whose applications a listing shows: --person NO (within the caller's scope), --department
 * D (likewise), or by default the caller's own department (everyone's for the superuser and
 * auditors). Sets *person_id (0: anyone) and *dept (NULL: any); replies and returns 0
 * when the caller may not see them.
 */
static int list_scope(att *a, ykt_request *r, int64_t *person_id, const char **dept)
{
    const ykt_host *h = a->h;
    const char *no = h->opt(r, "person");
    *person_id = 0;
    *dept = h->opt(r, "department");
    if (no != NULL) {
        person p;
        if (!person_for_admin(a, r, no, &p) || !scope_ok(a, r, p.dept))
            return 0;
        *person_id = p.id;
        return 1;
    }
    if (*dept != NULL)
        return scope_ok(a, r, *dept);
    unsigned role = 0;
    const char *own = NULL;
    h->operator_info(r, &role, &own);
    if (!(role & (YKT_PLUGIN_ROLE_SUPERUSER | YKT_PLUGIN_ROLE_AUDITOR)))
        *dept = own ? own : "";
    return 1;
}

static void a_leaves(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *status = h->opt(r, "status");
    int64_t person_id;
    const char *dept;
    static const char *const states[] = {"pending", "approved", "rejected", "cancelled", NULL};
    if (!status_ok(a, r, status, states, "pending, approved, rejected or cancelled") ||
        !list_scope(a, r, &person_id, &dept))
        return;
    sqlite3_stmt *st =
        S(a, "SELECT l.id, p.person_no, p.department, l.leave_type, l.from_date, l.to_date, "
             "l.days, l.status, l.reason, l.applied_by, l.decided_by, l.decision_note FROM "
             "attendance_leaves l JOIN attendance_people p ON p.person_id = l.person_id WHERE "
             "(?1 IS NULL OR l.person_id = ?1) AND (?2 IS NULL OR p.department = ?2) AND (?3 IS "
             "NULL OR l.status = ?3) ORDER BY l.id");
    if (st == NULL) {
        storage_error(a, r, "read leaves");
        return;
    }
    if (person_id != 0)
        sqlite3_bind_int64(st, 1, person_id);
    if (dept)
        bind_s(st, 2, dept);
    if (status)
        bind_s(st, 3, status);
    static const char *const cols[] = {"id",     "person",     "department", "type",
                                       "from",   "to",         "days",       "status",
                                       "reason", "applied_by", "decided_by", "note"};
    h->table_begin(r, "TABLE", 12, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        for (int i = 1; i < 12; i++) {
            if (i == 6)
                h->table_int(r, sqlite3_column_int64(st, i));
            else
                h->table_str(r, col_text(st, i));
        }
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_overtime_apply(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    person p;
    if (!person_for_admin(a, r, h->arg(r, 0, NULL), &p) || !scope_ok(a, r, p.dept))
        return;
    char by[80];
    applicant(a, r, &p, by, sizeof by);
    int64_t id = overtime_apply(a, r, &p, h->arg(r, 1, NULL), opt_or(a, r, "reason", ""), by);
    if (id == 0)
        return;
    char target[32], detail[96];
    snprintf(target, sizeof target, "overtime %lld", (long long)id);
    snprintf(detail, sizeof detail, "%s %s", p.no, h->arg(r, 1, NULL));
    if (h->audit(r, "attendance.overtime-apply", target, detail) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    overtime_record(a, r, id);
}

static void a_overtime_decide(ykt_request *r, att *a, int approve)
{
    const ykt_host *h = a->h;
    long long id;
    if (!parse_int(h->arg(r, 0, NULL), 1, INT64_MAX, &id)) {
        h->reply_error(r, "BAD_REQUEST", "an application id is a positive number");
        return;
    }
    sqlite3_stmt *st = S(a, "SELECT person_id, date, status FROM attendance_overtime WHERE id = ?");
    if (st == NULL) {
        storage_error(a, r, "read overtime");
        return;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        h->reply_error(r, "NOT_FOUND", "no overtime application %lld", id);
        return;
    }
    int64_t pid = sqlite3_column_int64(st, 0);
    char date[11], status[16];
    copy(date, sizeof date, col_text(st, 1));
    copy(status, sizeof status, col_text(st, 2));
    sqlite3_reset(st);
    person p;
    if (!person_by_id(a, pid, &p)) {
        storage_error(a, r, "read the person");
        return;
    }
    if (!head_ok(a, r, p.dept))
        return;
    if (strcmp(status, "pending") != 0) {
        h->reply_error(r, "BAD_STATE", "overtime %lld is %s, not pending", id, status);
        return;
    }
    const char *note = opt_or(a, r, "note", "");
    if (!approve && note[0] == '\0') {
        h->reply_error(r, "BAD_REQUEST", "a rejection says why: --note TEXT");
        return;
    }
    int64_t days;
    parse_date(date, &days);
    if (approve && !months_open(a, r, p.dept, days, days))
        return;
    st = S(a, "UPDATE attendance_overtime SET status = ?, decided_by = ?, decided_at = ?, "
              "decision_note = ? WHERE id = ?");
    if (st == NULL) {
        storage_error(a, r, "record the decision");
        return;
    }
    bind_s(st, 1, approve ? "approved" : "rejected");
    bind_s(st, 2, h->operator_name(r));
    sqlite3_bind_int64(st, 3, h->now_ms());
    bind_s(st, 4, note);
    sqlite3_bind_int64(st, 5, id);
    if (!done(st)) {
        storage_error(a, r, "record the decision");
        return;
    }
    /* A past day is over: its hours are known now. */
    char t[11];
    today(a, t);
    if (approve && strcmp(date, t) < 0 && calendar_ok(a, NULL, p.policy, date) &&
        close_day(a, r, &p, date, days) == 0)
        return;
    char msg[160], target[32];
    snprintf(msg, sizeof msg, "overtime on %s %s", date, approve ? "approved" : "rejected");
    snprintf(target, sizeof target, "overtime %lld", id);
    if (h->notify(p.id, "overtime", msg, 0) != YKT_PLUGIN_OK ||
        h->audit(r, approve ? "attendance.overtime-approve" : "attendance.overtime-reject", target,
                 msg) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    overtime_record(a, r, id);
}

static void a_overtime_approve(ykt_request *r, void *ud)
{
    a_overtime_decide(r, ud, 1);
}

static void a_overtime_reject(ykt_request *r, void *ud)
{
    a_overtime_decide(r, ud, 0);
}

static void a_overtimes(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *status = h->opt(r, "status");
    int64_t person_id;
    const char *dept;
    static const char *const states[] = {"pending", "approved", "rejected", NULL};
    if (!status_ok(a, r, status, states, "pending, approved or rejected") ||
        !list_scope(a, r, &person_id, &dept))
        return;
    sqlite3_stmt *st =
        S(a, "SELECT o.id, p.person_no, p.department, o.date, o.status, o.minutes, o.reason, "
             "o.applied_by, o.decided_by, o.decision_note FROM attendance_overtime o JOIN "
             "attendance_people p ON p.person_id = o.person_id WHERE (?1 IS NULL OR o.person_id "
             "= ?1) AND (?2 IS NULL OR p.department = ?2) AND (?3 IS NULL OR o.status = ?3) "
             "ORDER BY o.id");
    if (st == NULL) {
        storage_error(a, r, "read overtime");
        return;
    }
    if (person_id != 0)
        sqlite3_bind_int64(st, 1, person_id);
    if (dept)
        bind_s(st, 2, dept);
    if (status)
        bind_s(st, 3, status);
    static const char *const cols[] = {"id",         "person",     "department", "date",
                                       "status",     "minutes",    "hours",      "reason",
                                       "applied_by", "decided_by", "note"};
    h->table_begin(r, "TABLE", 11, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        for (int i = 1; i < 10; i++) {
            if (i != 5) {
                h->table_str(r, col_text(st, i));
            } else if (sqlite3_column_type(st, 5) == SQLITE_NULL) {
                h->table_str(r, ""); /* not counted (yet): pending, rejected, day not over */
                h->table_str(r, "");
            } else {
                char hours[32];
                format_hours(sqlite3_column_int64(st, 5), hours);
                h->table_int(r, sqlite3_column_int64(st, 5));
                h->table_str(r, hours);
            }
        }
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_correct(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *date = h->arg(r, 1, NULL);
    const char *in_s = h->opt(r, "in"), *out_s = h->opt(r, "out");
    const char *reason = opt_or(a, r, "reason", "");
    int64_t days;
    int min_in = NO_PUNCH, min_out = NO_PUNCH;
    if (!parse_date(date, &days)) {
        h->reply_error(r, "BAD_DATE", "dates are YYYY-MM-DD, e.g. 2026-10-12");
        return;
    }
    if (in_s == NULL && out_s == NULL) {
        h->reply_error(r, "BAD_REQUEST", "name the corrected --in and/or --out time (HH:MM)");
        return;
    }
    if ((in_s && (!parse_hhmm(in_s, &min_in) || min_in >= 1440)) ||
        (out_s && !parse_hhmm(out_s, &min_out))) {
        h->reply_error(r, "BAD_TIME",
                       "times are HH:MM (a sign-out after midnight: 24:00 to 47:59)");
        return;
    }
    char t[11];
    today(a, t);
    if (strcmp(date, t) > 0) {
        h->reply_error(r, "FUTURE_DATE", "%s has not happened yet", date);
        return;
    }
    person p;
    if (!person_for_admin(a, r, h->arg(r, 0, NULL), &p) || !scope_ok(a, r, p.dept))
        return;
    if (p.policy[0] == '\0') {
        h->reply_error(r, "NO_POLICY", "no attendance policy applies to %s of %s", p.kind, p.dept);
        return;
    }
    if (!months_open(a, r, p.dept, days, days))
        return;
    dayrow d;
    if (!day_get(a, p.id, date, &d)) {
        storage_error(a, r, "read the day");
        return;
    }
    if (min_in < 0)
        min_in = d.min_in;
    /* A sign-out the correction does not name that is earlier than the sign-in it gives (a
     * stray punch before the day began) is not the day's out, as for a card (punch). */
    if (min_out < 0)
        min_out = d.min_out >= 0 && in_s && d.min_out < min_in ? NO_PUNCH : d.min_out;
    if (min_in >= 0 && min_out >= 0 && min_out < min_in) {
        char in_t[8], out_t[8];
        format_hhmm(min_in, in_t);
        format_hhmm(min_out, out_t);
        h->reply_error(r, "BAD_TIME",
                       "the sign-out %s is before the sign-in %s: a sign-out after midnight is "
                       "24:00 to 47:59 (26:00 for 02:00 the next morning)",
                       out_t, in_t);
        return;
    }
    const char *by = h->operator_name(r);
    if (!roster_put(a, &p, 0)) {
        storage_error(a, r, "update the roster");
        return;
    }
    if ((in_s &&
         !record_punch(a, p.id, date, min_in, "in", h->now_ms(), "", "", "correction", by)) ||
        (out_s &&
         !record_punch(a, p.id, date, min_out, "out", h->now_ms(), "", "", "correction", by)) ||
        !day_set_punches(a, p.id, date, min_in, min_out, 1)) {
        storage_error(a, r, "record the correction");
        return;
    }
    if (strcmp(date, t) < 0 && calendar_ok(a, NULL, p.policy, date) &&
        close_day(a, r, &p, date, days) == 0)
        return;
    char detail[200], in_b[PUNCH_LEN], out_b[PUNCH_LEN];
    format_punch(days, min_in, in_b);
    format_punch(days, min_out, out_b);
    snprintf(detail, sizeof detail, "%s in %s out %s: %s", date, in_b, out_b, reason);
    if (h->audit(r, "attendance.correct", p.no, detail) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    if (!day_get(a, p.id, date, &d)) {
        storage_error(a, r, "read the day");
        return;
    }
    char status[64];
    day_status(&d, status, sizeof status);
    static const char *const cols[] = {"person", "date", "in", "out", "status"};
    h->table_begin(r, "RECORD", 5, cols);
    h->table_row(r);
    h->table_str(r, p.no);
    h->table_str(r, date);
    h->table_str(r, in_b);
    h->table_str(r, out_b);
    h->table_str(r, status);
    h->table_send(r);
}

static void a_close(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *date = h->arg(r, 0, NULL);
    int64_t days;
    if (!parse_date(date, &days)) {
        h->reply_error(r, "BAD_DATE", "dates are YYYY-MM-DD, e.g. 2026-10-12");
        return;
    }
    char t[11];
    today(a, t);
    if (strcmp(date, t) >= 0) {
        h->reply_error(r, "DAY_NOT_OVER", "%s is not over yet (today is %s)", date, t);
        return;
    }
    closing c;
    if (!close_all(a, r, date, days, &c))
        return;
    char last[16];
    meta_get(a, "last_closed", last, sizeof last);
    if (strcmp(date, last) > 0)
        meta_set(a, "last_closed", date);
    char detail[96];
    snprintf(detail, sizeof detail, "%d judged, %d absent", c.judged, c.absent);
    if (h->audit(r, "attendance.close", date, detail) != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    static const char *const cols[] = {"date", "people", "judged", "workdays", "absent"};
    h->table_begin(r, "RECORD", 5, cols);
    h->table_row(r);
    h->table_str(r, date);
    h->table_int(r, c.people);
    h->table_int(r, c.judged);
    h->table_int(r, c.workdays);
    h->table_int(r, c.absent);
    h->table_send(r);
}

static void a_records(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    char from[11], to[11];
    if (!parse_month(h->opt(r, "month"), from, to)) {
        h->reply_error(r, "BAD_DATE", "a month is YYYY-MM, e.g. 2026-10");
        return;
    }
    person p;
    if (!person_for_admin(a, r, h->arg(r, 0, NULL), &p) || !scope_ok(a, r, p.dept))
        return;
    sqlite3_stmt *st =
        S(a, "SELECT d.date, d.minutes_in, d.minutes_out, d.closed, d.workday, d.late, d.early, "
             "d.absent, d.leave_type, d.corrected, d.policy, (SELECT o.minutes FROM "
             "attendance_overtime o WHERE o.person_id = d.person_id AND o.date = d.date AND "
             "o.status = 'approved') FROM attendance_days d WHERE d.person_id = ? AND d.date >= ? "
             "AND d.date < ? ORDER BY d.date");
    if (st == NULL) {
        storage_error(a, r, "read records");
        return;
    }
    sqlite3_bind_int64(st, 1, p.id);
    bind_s(st, 2, from);
    bind_s(st, 3, to);
    static const char *const cols[] = {"date",  "in",     "out",   "status",           "late",
                                       "early", "absent", "leave", "overtime_minutes", "corrected",
                                       "policy"};
    h->table_begin(r, "TABLE", 11, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        dayrow d;
        memset(&d, 0, sizeof d);
        d.min_in = sqlite3_column_type(st, 1) == SQLITE_NULL ? NO_PUNCH : sqlite3_column_int(st, 1);
        d.min_out =
            sqlite3_column_type(st, 2) == SQLITE_NULL ? NO_PUNCH : sqlite3_column_int(st, 2);
        d.closed = sqlite3_column_int(st, 3);
        d.workday = sqlite3_column_int(st, 4);
        d.late = sqlite3_column_int(st, 5);
        d.early = sqlite3_column_int(st, 6);
        d.absent = sqlite3_column_int(st, 7);
        copy(d.leave, sizeof d.leave, col_text(st, 8));
        char in_b[PUNCH_LEN], out_b[PUNCH_LEN], status[64];
        int64_t days = 0;
        parse_date(col_text(st, 0), &days);
        format_punch(days, d.min_in, in_b);
        format_punch(days, d.min_out, out_b);
        day_status(&d, status, sizeof status);
        h->table_row(r);
        h->table_str(r, col_text(st, 0));
        h->table_str(r, in_b);
        h->table_str(r, out_b);
        h->table_str(r, status);
        h->table_int(r, d.late);
        h->table_int(r, d.early);
        h->table_int(r, d.absent);
        h->table_str(r, d.leave);
        h->table_int(r,
                     sqlite3_column_type(st, 11) == SQLITE_NULL ? 0 : sqlite3_column_int(st, 11));
        h->table_int(r, sqlite3_column_int(st, 9));
        h->table_str(r, col_text(st, 10));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* Department statistics per person for a month (R-T4). */
static void a_stats(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *dept = h->arg(r, 0, NULL);
    const char *month = h->opt(r, "month");
    char from[11], to[11];
    if (!parse_month(month, from, to)) {
        h->reply_error(r, "BAD_DATE", "a month is YYYY-MM, e.g. 2026-10");
        return;
    }
    if (!scope_ok(a, r, dept))
        return;
    enum { FIXED = 11 };
    const char *cols[FIXED + MAX_TYPES + 3];
    char names[MAX_TYPES][TYPE_LEN + 8];
    static const char *const fixed[FIXED] = {"person", "name",         "workdays",  "present",
                                             "late",   "late_minutes", "early",     "early_minutes",
                                             "absent", "open",         "leave_days"};
    int nc = 0;
    for (int i = 0; i < FIXED; i++)
        cols[nc++] = fixed[i];
    for (int i = 0; i < a->ntypes; i++) {
        snprintf(names[i], sizeof names[i], "leave_%s", a->types[i]);
        cols[nc++] = names[i];
    }
    cols[nc++] = "overtime_minutes";
    cols[nc++] = "overtime_hours";
    cols[nc++] = "reviewed_by";
    char reviewed[96] = "";
    sqlite3_stmt *st = S(a, "SELECT reviewed_by FROM attendance_reviews WHERE department = ? AND "
                            "month = ?");
    if (st != NULL) {
        bind_s(st, 1, dept);
        bind_s(st, 2, month);
        if (sqlite3_step(st) == SQLITE_ROW)
            copy(reviewed, sizeof reviewed, col_text(st, 0));
        sqlite3_reset(st);
    }
    st = S(a, "SELECT p.person_id, p.person_no, p.name, coalesce(sum(d.closed AND d.workday), 0), "
              "coalesce(sum(d.closed AND d.workday AND NOT d.absent AND d.leave_type = ''), 0), "
              "coalesce(sum(d.closed AND d.late > 0), 0), coalesce(sum(CASE WHEN d.closed THEN "
              "d.late ELSE 0 END), 0), coalesce(sum(d.closed AND d.early > 0), 0), "
              "coalesce(sum(CASE WHEN d.closed THEN d.early ELSE 0 END), 0), "
              "coalesce(sum(d.closed AND d.absent), 0), coalesce(sum(NOT d.closed), 0), "
              "coalesce(sum(d.closed AND d.leave_type <> ''), 0) FROM attendance_people p LEFT "
              "JOIN attendance_days d ON d.person_id = p.person_id AND d.date >= ?2 AND d.date < "
              "?3 WHERE p.department = ?1 AND (p.active = 1 OR d.date IS NOT NULL) GROUP BY "
              "p.person_id ORDER BY p.person_no");
    if (st == NULL) {
        storage_error(a, r, "read statistics");
        return;
    }
    bind_s(st, 1, dept);
    bind_s(st, 2, from);
    bind_s(st, 3, to);
    h->table_begin(r, "TABLE", nc, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t pid = sqlite3_column_int64(st, 0);
        h->table_row(r);
        h->table_str(r, col_text(st, 1));
        h->table_str(r, col_text(st, 2));
        for (int i = 3; i <= 11; i++)
            h->table_int(r, sqlite3_column_int64(st, i));
        for (int i = 0; i < a->ntypes; i++) {
            sqlite3_stmt *lt = S(a, "SELECT count(*) FROM attendance_days WHERE person_id = ? AND "
                                    "closed = 1 AND date >= ? AND date < ? AND leave_type = ?");
            int64_t n = 0;
            if (lt != NULL) {
                sqlite3_bind_int64(lt, 1, pid);
                bind_s(lt, 2, from);
                bind_s(lt, 3, to);
                bind_s(lt, 4, a->types[i]);
                if (sqlite3_step(lt) == SQLITE_ROW)
                    n = sqlite3_column_int64(lt, 0);
                sqlite3_reset(lt);
            }
            h->table_int(r, n);
        }
        sqlite3_stmt *ot = S(a, "SELECT coalesce(sum(minutes), 0) FROM attendance_overtime WHERE "
                                "person_id = ? AND status = 'approved' AND date >= ? AND date < ?");
        int64_t minutes = 0;
        if (ot != NULL) {
            sqlite3_bind_int64(ot, 1, pid);
            bind_s(ot, 2, from);
            bind_s(ot, 3, to);
            if (sqlite3_step(ot) == SQLITE_ROW)
                minutes = sqlite3_column_int64(ot, 0);
            sqlite3_reset(ot);
        }
        char hours[32];
        format_hours(minutes, hours);
        h->table_int(r, minutes);
        h->table_str(r, hours);
        h->table_str(r, reviewed);
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_review(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *dept = h->arg(r, 0, NULL);
    const char *month = h->opt(r, "month");
    char from[11], to[11], t[11];
    if (!parse_month(month, from, to)) {
        h->reply_error(r, "BAD_DATE", "a month is YYYY-MM, e.g. 2026-10");
        return;
    }
    if (!head_ok(a, r, dept))
        return;
    today(a, t);
    if (strcmp(to, t) > 0) {
        h->reply_error(r, "MONTH_OPEN", "%s is not over yet: review it from %s", month, to);
        return;
    }
    if (month_reviewed(a, dept, from)) {
        h->reply_error(r, "BAD_STATE", "%s of %s is already reviewed", month, dept);
        return;
    }
    /* A review freezes the month: every day of it must have been judged first. */
    sqlite3_stmt *st = S(a, "SELECT count(*), min(d.date) FROM attendance_days d JOIN "
                            "attendance_people p ON p.person_id = d.person_id WHERE "
                            "p.department = ? AND d.date >= ? AND d.date < ? AND d.closed = 0");
    if (st == NULL) {
        storage_error(a, r, "read the month");
        return;
    }
    bind_s(st, 1, dept);
    bind_s(st, 2, from);
    bind_s(st, 3, to);
    int nopen = 0;
    char first[11] = "";
    if (sqlite3_step(st) == SQLITE_ROW) {
        nopen = sqlite3_column_int(st, 0);
        copy(first, sizeof first, col_text(st, 1));
    }
    sqlite3_reset(st);
    if (nopen > 0) {
        h->reply_error(r, "DAYS_OPEN",
                       "%s of %s has %d open %s (the first on %s): they are judged with "
                       "`attendance close DATE` (the card centre's superuser) before the review",
                       month, dept, nopen, nopen == 1 ? "day" : "days", first);
        return;
    }
    st = S(a, "INSERT INTO attendance_reviews (department, month, reviewed_by, "
              "reviewed_at, note) VALUES (?, ?, ?, ?, ?)");
    if (st == NULL) {
        storage_error(a, r, "record the review");
        return;
    }
    bind_s(st, 1, dept);
    bind_s(st, 2, month);
    bind_s(st, 3, h->operator_name(r));
    sqlite3_bind_int64(st, 4, h->now_ms());
    bind_s(st, 5, opt_or(a, r, "note", ""));
    char target[128];
    snprintf(target, sizeof target, "%s %s", dept, month);
    if (!done(st) ||
        h->audit(r, "attendance.review", target, opt_or(a, r, "note", "")) != YKT_PLUGIN_OK) {
        storage_error(a, r, "record the review");
        return;
    }
    h->reply_ok(r);
}

/* One row per department of the month's totals. */
static sqlite3_stmt *summary_stmt(att *a, const char *from, const char *to, const char *month)
{
    sqlite3_stmt *st =
        S(a, "SELECT p.department, count(DISTINCT p.person_id), "
             "coalesce(sum(d.closed AND d.workday), 0), coalesce(sum(d.closed AND d.late > 0), 0), "
             "coalesce(sum(d.closed AND d.early > 0), 0), coalesce(sum(d.closed AND d.absent), 0), "
             "coalesce(sum(d.closed AND d.leave_type <> ''), 0), (SELECT coalesce(sum(o.minutes), "
             "0) FROM attendance_overtime o JOIN attendance_people q ON q.person_id = o.person_id "
             "WHERE q.department = p.department AND o.status = 'approved' AND o.date >= ?1 AND "
             "o.date < ?2), (SELECT reviewed_by FROM attendance_reviews v WHERE v.department = "
             "p.department AND v.month = ?3) FROM attendance_people p LEFT JOIN attendance_days d "
             "ON d.person_id = p.person_id AND d.date >= ?1 AND d.date < ?2 WHERE p.active = 1 OR "
             "d.date IS NOT NULL GROUP BY p.department ORDER BY p.department");
    if (st == NULL)
        return NULL;
    bind_s(st, 1, from);
    bind_s(st, 2, to);
    bind_s(st, 3, month);
    return st;
}

/* The periodic report to the information centre: kept in attendance_summaries. */
static void store_summary(att *a, const char *month)
{
    char from[11], to[11];
    if (!parse_month(month, from, to))
        return;
    sqlite3_stmt *st = summary_stmt(a, from, to, month);
    if (st == NULL)
        return;
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_stmt *ins =
            S(a, "INSERT INTO attendance_summaries (month, department, people, workdays, late, "
                 "early, absent, leave_days, overtime_minutes, reviewed_by, generated_at) VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (month, department) DO UPDATE SET "
                 "people = excluded.people, workdays = excluded.workdays, late = excluded.late, "
                 "early = excluded.early, absent = excluded.absent, leave_days = "
                 "excluded.leave_days, overtime_minutes = excluded.overtime_minutes, reviewed_by "
                 "= excluded.reviewed_by, generated_at = excluded.generated_at");
        if (ins == NULL)
            break;
        bind_s(ins, 1, month);
        bind_s(ins, 2, col_text(st, 0));
        for (int i = 1; i <= 7; i++)
            sqlite3_bind_int64(ins, i + 2, sqlite3_column_int64(st, i));
        bind_s(ins, 10, col_text(st, 8));
        sqlite3_bind_int64(ins, 11, a->h->now_ms());
        if (done(ins))
            rows++;
    }
    sqlite3_reset(st);
    a->h->log(a->self, YKT_PLUGIN_LOG_INFO, "summary of %s stored: %d departments", month, rows);
}

static void a_summary(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *month = h->opt(r, "month");
    char from[11], to[11];
    if (!parse_month(month, from, to)) {
        h->reply_error(r, "BAD_DATE", "a month is YYYY-MM, e.g. 2026-10");
        return;
    }
    static const char *const cols[] = {"department",  "people",   "workdays",   "late",
                                       "early",       "absent",   "leave_days", "overtime_hours",
                                       "reviewed_by", "stored_at"};
    int stored = h->opt(r, "stored") != NULL;
    sqlite3_stmt *st;
    if (stored) {
        st = S(a, "SELECT department, people, workdays, late, early, absent, leave_days, "
                  "overtime_minutes, reviewed_by, generated_at FROM attendance_summaries WHERE "
                  "month = ? ORDER BY department");
        if (st != NULL)
            bind_s(st, 1, month);
    } else {
        st = summary_stmt(a, from, to, month);
    }
    if (st == NULL) {
        storage_error(a, r, "read the summary");
        return;
    }
    h->table_begin(r, "TABLE", 10, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, col_text(st, 0));
        for (int i = 1; i <= 6; i++)
            h->table_int(r, sqlite3_column_int64(st, i));
        int64_t m = sqlite3_column_int64(st, 7);
        char hours[32];
        snprintf(hours, sizeof hours, "%lld.%02lld", (long long)(m / 60),
                 (long long)((m % 60) * 100 / 60));
        h->table_str(r, hours);
        h->table_str(r, col_text(st, 8));
        if (stored) {
            char at[32];
            iso_time(sqlite3_column_int64(st, 9), at, sizeof at);
            h->table_str(r, at);
        } else {
            h->table_str(r, "");
        }
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_report(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    const char *month = h->opt(r, "month");
    char from[11], to[11];
    if (!parse_month(month, from, to)) {
        h->reply_error(r, "BAD_DATE", "a month is YYYY-MM, e.g. 2026-10");
        return;
    }
    store_summary(a, month);
    if (h->audit(r, "attendance.report", month, "") != YKT_PLUGIN_OK) {
        storage_error(a, r, "audit");
        return;
    }
    h->reply_ok(r);
}

/* What the gate would hear from attendance for this person (R-A). */
static void a_gate_check(ykt_request *r, void *ud)
{
    att *a = ud;
    const ykt_host *h = a->h;
    ykt_card_info card;
    const char *no = h->arg(r, 0, NULL);
    if (h->person_card(no, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "NOT_FOUND", "no person %s with a card", no);
        return;
    }
    int64_t at = h->now_ms();
    const char *at_s = h->opt(r, "at");
    if (at_s != NULL) {
        char date[11];
        int64_t days;
        int minutes;
        if (strlen(at_s) != 16 || at_s[10] != ' ' ||
            (snprintf(date, sizeof date, "%.10s", at_s), !parse_date(date, &days)) ||
            !parse_hhmm(at_s + 11, &minutes) || minutes >= 1440) {
            h->reply_error(r, "BAD_TIME", "--at is 'YYYY-MM-DD HH:MM' (campus time)");
            return;
        }
        at = midnight_of(a, date, days) + (int64_t)minutes * 60000;
    }
    ykt_terminal_info term = {
        .size = sizeof term, .id = "", .type = YKT_TERM_GATE, .location = "", .owner = ""};
    ykt_ev_access ev = {.size = sizeof ev,
                        .card = &card,
                        .terminal = &term,
                        .place = "campus-gate",
                        .place_kind = "campus_gate",
                        .building = "",
                        .direction = YKT_DIR_OUT,
                        .at_ms = at};
    int mine = on_access(YKT_EV_ACCESS_CHECK, &ev, a);
    static const char *const cols[] = {"person", "attendance", "reason"};
    h->table_begin(r, "RECORD", 3, cols);
    h->table_row(r);
    h->table_str(r, card.person_no);
    h->table_str(r, mine == YKT_DENY ? "deny" : "defer");
    h->table_str(r, ev.reason);
    h->table_send(r);
}

/* ---- schema ---- */

static const char *const schema[] = {
    /* v1. Indexes come from UNIQUE constraints: the host's authorizer refuses CREATE INDEX
     * (SQLite asks it about a REINDEX then). */
    "CREATE TABLE attendance_people (person_id INTEGER PRIMARY KEY, person_no TEXT NOT NULL "
    "UNIQUE, name TEXT NOT NULL, kind TEXT NOT NULL, department TEXT NOT NULL, policy TEXT NOT "
    "NULL DEFAULT '', active INTEGER NOT NULL DEFAULT 1, enrolled_at INTEGER NOT NULL, UNIQUE "
    "(department, person_id)) STRICT;"
    "CREATE TABLE attendance_punches (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, date "
    "TEXT NOT NULL, minutes INTEGER NOT NULL, direction TEXT NOT NULL CHECK (direction IN ('in', "
    "'out')), at INTEGER NOT NULL, terminal TEXT NOT NULL, card_no TEXT NOT NULL, source TEXT "
    "NOT NULL, by TEXT NOT NULL, UNIQUE (person_id, date, id)) STRICT;"
    "CREATE TABLE attendance_days (person_id INTEGER NOT NULL, date TEXT NOT NULL, minutes_in "
    "INTEGER, minutes_out INTEGER, policy TEXT NOT NULL DEFAULT '', workday INTEGER NOT NULL "
    "DEFAULT 0, late INTEGER NOT NULL DEFAULT 0, early INTEGER NOT NULL DEFAULT 0, absent "
    "INTEGER NOT NULL DEFAULT 0, leave_type TEXT NOT NULL DEFAULT '', closed INTEGER NOT NULL "
    "DEFAULT 0, corrected INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (person_id, date)) STRICT;"
    "CREATE TABLE attendance_holidays (date TEXT NOT NULL, department TEXT NOT NULL, name TEXT "
    "NOT NULL, PRIMARY KEY (date, department)) STRICT;"
    "CREATE TABLE attendance_balances (person_id INTEGER NOT NULL, leave_type TEXT NOT NULL, "
    "year INTEGER NOT NULL, days INTEGER NOT NULL CHECK (days >= 0), used INTEGER NOT NULL "
    "CHECK (used >= 0 AND used <= days), PRIMARY KEY (person_id, leave_type, year)) STRICT;"
    "CREATE TABLE attendance_leaves (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, "
    "leave_type TEXT NOT NULL, from_date TEXT NOT NULL, to_date TEXT NOT NULL, days INTEGER NOT "
    "NULL, status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', "
    "'cancelled')), reason TEXT NOT NULL, applied_by TEXT NOT NULL, applied_at INTEGER NOT NULL, "
    "decided_by TEXT NOT NULL DEFAULT '', decided_at INTEGER, decision_note TEXT NOT NULL "
    "DEFAULT '', UNIQUE (person_id, from_date, id)) STRICT;"
    "CREATE TABLE attendance_leave_years (leave_id INTEGER NOT NULL, year INTEGER NOT NULL, days "
    "INTEGER NOT NULL, PRIMARY KEY (leave_id, year)) STRICT;"
    "CREATE TABLE attendance_overtime (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, date "
    "TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')), "
    "reason TEXT NOT NULL, applied_by TEXT NOT NULL, applied_at INTEGER NOT NULL, decided_by "
    "TEXT NOT NULL DEFAULT '', decided_at INTEGER, decision_note TEXT NOT NULL DEFAULT '', "
    "minutes INTEGER, UNIQUE (person_id, date, id)) STRICT;"
    "CREATE TABLE attendance_reviews (department TEXT NOT NULL, month TEXT NOT NULL, "
    "reviewed_by TEXT NOT NULL, reviewed_at INTEGER NOT NULL, note TEXT NOT NULL, PRIMARY KEY "
    "(department, month)) STRICT;"
    "CREATE TABLE attendance_summaries (month TEXT NOT NULL, department TEXT NOT NULL, people "
    "INTEGER NOT NULL, workdays INTEGER NOT NULL, late INTEGER NOT NULL, early INTEGER NOT NULL, "
    "absent INTEGER NOT NULL, leave_days INTEGER NOT NULL, overtime_minutes INTEGER NOT NULL, "
    "reviewed_by TEXT NOT NULL, generated_at INTEGER NOT NULL, PRIMARY KEY (month, department)) "
    "STRICT;"
    "CREATE TABLE attendance_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;",
};

/* ---- entry points ---- */

int ykt_plugin_version(int count, const int *supported)
{
    for (int i = 0; i < count; i++)
        if (supported[i] == YKT_PLUGIN_API_VERSION)
            return YKT_PLUGIN_API_VERSION;
    return -1;
}

#define R_ADMIN (YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD)
#define R_READ  (YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD | YKT_PLUGIN_ROLE_AUDITOR)
#define R_HEAD  YKT_PLUGIN_ROLE_DEPT_HEAD
/* ykt-web's service account, for a signed-in holder's own applications and balances */
#define R_PORTAL YKT_PLUGIN_ROLE_PORTAL

typedef struct cmd {
    const char *name;
    unsigned roles;
    int changes;
    const char *opts;
    int min, max;
    ykt_handler_fn fn;
    const char *usage, *summary;
} cmd;

int ykt_plugin_init(ykt_plugin *self, const ykt_host *host, void **userdata)
{
    att *a = calloc(1, sizeof *a);
    if (a == NULL)
        return YKT_PLUGIN_EINVAL;
    *userdata = a;
    a->self = self;
    a->h = host;
    const char *v;
    if (!parse_map(a, "policies",
                   (v = host->option(self, "policies"))
                       ? v
                       : "student:attendance_students,staff:attendance_teaching",
                   a->kinds, &a->nkinds) ||
        !parse_map(a, "department_policies", host->option(self, "department_policies"), a->depts,
                   &a->ndepts) ||
        !parse_types(a, (v = host->option(self, "leave_types"))
                            ? v
                            : "annual,sick,personal,marriage,maternity,bereavement"))
        return YKT_PLUGIN_EINVAL;
    long long n = 180;
    v = host->option(self, "max_leave_days");
    if (v != NULL && !parse_int(v, 1, 366, &n)) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "max_leave_days must be 1 to 366, not '%s'", v);
        return YKT_PLUGIN_EINVAL;
    }
    a->max_leave_days = (int)n;
    v = host->option(self, "overnight_until");
    a->overnight_until = 6 * 60;
    /* Up to noon: later, a morning's sign-out on a day whose sign-in was forgotten would be
     * taken for the end of yesterday's stay. */
    if (v != NULL && (!parse_hhmm(v, &a->overnight_until) || a->overnight_until > 720)) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "overnight_until must be HH:MM from 00:00 to 12:00, not '%.32s'", v);
        return YKT_PLUGIN_EINVAL;
    }
    v = host->option(self, "gate_check");
    a->gate_check = v == NULL || strcmp(v, "yes") == 0;
    if (v != NULL && strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "gate_check must be yes or no");
        return YKT_PLUGIN_EINVAL;
    }
    /* Every configured policy must exist and answer classify (R-T5). */
    for (int k = 0; k < 2; k++) {
        const pmap *map = k ? a->depts : a->kinds;
        int cnt = k ? a->ndepts : a->nkinds;
        for (int i = 0; i < cnt; i++) {
            if (strcmp(map[i].script, "none") == 0)
                continue;
            dayres res;
            if (!classify(a, NULL, map[i].script, "2026-01-05", days_from_civil(2026, 1, 5), 0,
                          NO_PUNCH, NO_PUNCH, &res)) {
                host->log(self, YKT_PLUGIN_LOG_ERROR,
                          "policy %s for %s does not answer classify (is scripts/%s.lua "
                          "loaded?)",
                          map[i].script, map[i].key, map[i].script);
                return YKT_PLUGIN_EINVAL;
            }
        }
    }
    if (host->db_migrate(self, schema, 1) != YKT_PLUGIN_OK)
        return YKT_PLUGIN_ESTORAGE;

    const unsigned seq = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    const unsigned kiosk = YKT_TERM_KIOSK | YKT_TERM_ATTENDANCE;
    int rc = host->verb_register(self, "ATTENDANCE.SIGNIN", YKT_TERM_ATTENDANCE, seq, v_signin, a,
                                 "ATTENDANCE.SIGNIN seq uid atc time 0 cryptogram");
    if (rc == 0)
        rc = host->verb_register(self, "ATTENDANCE.SIGNOUT", YKT_TERM_ATTENDANCE, seq, v_signout, a,
                                 "ATTENDANCE.SIGNOUT seq uid atc time 0 cryptogram");
    if (rc == 0)
        rc = host->verb_register(self, "ATTENDANCE.LEAVE", kiosk, seq, v_leave, a,
                                 "ATTENDANCE.LEAVE seq uid atc time 0 cryptogram type from to "
                                 "[reason]");
    if (rc == 0)
        rc = host->verb_register(self, "ATTENDANCE.OVERTIME", kiosk, seq, v_overtime, a,
                                 "ATTENDANCE.OVERTIME seq uid atc time 0 cryptogram date "
                                 "[reason]");
    if (rc == 0)
        rc = host->verb_register(self, "ATTENDANCE.RECORDS", kiosk, 0, v_records, a,
                                 "ATTENDANCE.RECORDS seq uid atc time 0 cryptogram [YYYY-MM]");
    if (rc == 0)
        rc = host->verb_register(self, "ATTENDANCE.BALANCE", kiosk, 0, v_balance, a,
                                 "ATTENDANCE.BALANCE seq uid atc time 0 cryptogram [year]");

    static const cmd cmds[] = {
        {"enrol", R_ADMIN, 1, "policy=", 1, MAX_IDS, a_enrol,
         "attendance enrol PERSON... [--policy SCRIPT|none]",
         "Put people on the attendance roster (optionally with their own policy)."},
        {"unenrol", R_ADMIN, 1, "", 1, 1, a_unenrol, "attendance unenrol PERSON",
         "Take a person off the roster (days are no longer judged)."},
        {"people", R_READ, 0, "department=", 0, 0, a_people, "attendance people [--department D]",
         "The roster with each person's policy."},
        {"holiday-add", R_ADMIN, 1, "department= name=", 1, 1, a_holiday_add,
         "attendance holiday-add DATE [--department D] [--name TEXT]",
         "A day off for a department (or, superuser, for everyone)."},
        {"holiday-remove", R_ADMIN, 1, "department=", 1, 1, a_holiday_remove,
         "attendance holiday-remove DATE [--department D]", "Remove a day off."},
        {"holidays", R_READ, 0, "year=", 0, 0, a_holidays, "attendance holidays [--year YYYY]",
         "The departments' extra days off."},
        {"balance-set", YKT_PLUGIN_ROLE_DEPT_ADMIN, 1, "year=", 3, 3, a_balance_set,
         "attendance balance-set PERSON TYPE DAYS [--year YYYY]",
         "Grant a year's leave days of a type."},
        {"balances", R_READ | R_PORTAL, 0, "year=", 1, 1, a_balances,
         "attendance balances PERSON [--year Y]", "Leave balances: granted, used, pending, left."},
        {"leave-apply", R_ADMIN | R_PORTAL, 1, "reason=", 4, 4, a_leave_apply,
         "attendance leave-apply PERSON TYPE FROM TO [--reason TEXT]",
         "Apply for leave on a person's behalf."},
        {"leave-approve", R_HEAD, 1, "note=", 1, 1, a_leave_approve,
         "attendance leave-approve ID [--note TEXT]",
         "The department head approves: the balance is deducted."},
        {"leave-reject", R_HEAD, 1, "note=!", 1, 1, a_leave_reject,
         "attendance leave-reject ID --note TEXT", "The department head rejects."},
        {"leave-cancel", R_ADMIN, 1, "", 1, 1, a_leave_cancel, "attendance leave-cancel ID",
         "Withdraw a pending leave, or an approved one before it starts (balance restored)."},
        {"leaves", R_READ | R_PORTAL, 0, "person= department= status=", 0, 0, a_leaves,
         "attendance leaves [--person NO] [--department D] [--status S]", "Leave applications."},
        {"overtime-apply", R_ADMIN | R_PORTAL, 1, "reason=", 2, 2, a_overtime_apply,
         "attendance overtime-apply PERSON DATE [--reason TEXT]",
         "Apply for overtime on a person's behalf."},
        {"overtime-approve", R_HEAD, 1, "note=", 1, 1, a_overtime_approve,
         "attendance overtime-approve ID [--note TEXT]",
         "The department head approves; hours come from the punches."},
        {"overtime-reject", R_HEAD, 1, "note=!", 1, 1, a_overtime_reject,
         "attendance overtime-reject ID --note TEXT", "The department head rejects."},
        {"overtimes", R_READ | R_PORTAL, 0, "person= department= status=", 0, 0, a_overtimes,
         "attendance overtimes [--person NO] [--department D] [--status S]",
         "Overtime applications with their computed minutes."},
        {"correct", R_ADMIN, 1, "in= out= reason=!", 2, 2, a_correct,
         "attendance correct PERSON DATE [--in HH:MM] [--out HH:MM] --reason TEXT",
         "Put right a forgotten or wrong punch (audited)."},
        {"close", 0, 1, "", 1, 1, a_close, "attendance close DATE",
         "Judge a past day for everyone now (the day's end does it by itself)."},
        {"records", R_READ, 0, "month=!", 1, 1, a_records, "attendance records PERSON --month M",
         "A person's days: punches and the policy's verdict."},
        {"stats", R_READ, 0, "month=!", 1, 1, a_stats, "attendance stats DEPT --month YYYY-MM",
         "Department statistics per person (use --csv for a spreadsheet)."},
        {"review", R_HEAD, 1, "month=! note=", 1, 1, a_review,
         "attendance review DEPT --month YYYY-MM [--note TEXT]",
         "The head marks a month reviewed; it is then frozen."},
        {"summary", YKT_PLUGIN_ROLE_AUDITOR, 0, "month=! stored", 0, 0, a_summary,
         "attendance summary --month YYYY-MM [--stored]",
         "Per-department totals for the information centre."},
        {"report", 0, 1, "month=!", 0, 0, a_report, "attendance report --month YYYY-MM",
         "Store the month's summary now (done on the 1st by itself)."},
        {"gate-check", R_READ | YKT_PLUGIN_ROLE_OPERATOR, 0, "at=", 1, 1, a_gate_check,
         "attendance gate-check PERSON [--at 'YYYY-MM-DD HH:MM']",
         "Whether attendance would stop this student leaving campus then."},
    };
    for (size_t i = 0; rc == 0 && i < sizeof cmds / sizeof cmds[0]; i++)
        rc = host->admin_register(self, "attendance", cmds[i].name, cmds[i].roles, cmds[i].changes,
                                  cmds[i].opts, cmds[i].min, cmds[i].max, cmds[i].fn, a,
                                  cmds[i].usage, cmds[i].summary);
    if (rc == 0)
        rc = host->subscribe(self, YKT_EV_ACCESS_CHECK, on_access, a);
    if (rc == 0)
        rc = host->subscribe(self, YKT_EV_DAY_END, on_day_end, a);
    if (rc == 0)
        host->log(self, YKT_PLUGIN_LOG_INFO,
                  "ready: %d kind and %d department policies, %d leave "
                  "types",
                  a->nkinds, a->ndepts, a->ntypes);
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    free(userdata);
}
