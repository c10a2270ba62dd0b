/*
 * library: the library's lending desk and self-service kiosks (R-L, 图书借阅).
 *
 * Titles and copies come from a CSV import; a holder borrows, returns and renews a copy by
 * card; a copy that is out can be reserved, and when it comes back it is held for the first
 * reader in the queue, who is notified. Limits (items at once, loan days) depend on the kind
 * of holder. A late return costs the fine of scripts/library.lua, paid from the wallet to
 * the library's merchant at the desk, or recorded as owed when the holder cannot or did not
 * agree to pay it there; owed fines block new loans until paid (LIB.PAY). Loans belong to
 * the person, not to the card number: a replacement card keeps them, a lost card is refused
 * by the host before the plugin sees it.
 *
 * The documentation is docs/plugins/library.md; the verbs are LIB.* ([plugin.library]
 * prefix = LIB).
 */
#include <ykt/plugin.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS   86400000LL
#define MAX_TEXT 256

enum { CLS_STUDENT, CLS_STAFF, CLS_TEMPORARY, NCLS };
static const char *const class_names[NCLS] = {"student", "staff", "temporary"};

typedef struct lib {
    ykt_plugin *self;
    const ykt_host *h;
    char merchant[64];
    char department[64];
    int items[NCLS];
    int days[NCLS];
    int max_renewals;
    int hold_days;
    int max_reservations;
    int64_t pin_threshold;
    int64_t max_import_rows;
    bool block_overdue;
    bool merchant_known; /* merchant_status found `merchant` (merchants are never deleted) */
} lib;

/* ---- schema ---- */

/* Indexes are UNIQUE table constraints (written when the host refused CREATE INDEX; it now
 * allows indexes named library_*, which a later schema version may use). The
 * "open_" and "active_" columns are set only while a loan is open or a reservation active, so
 * that UNIQUE (NULLs are distinct) keeps one open loan per copy and one active reservation
 * per reader and title. */
static const char *const schema[] = {
    /* version 1 */
    "CREATE TABLE library_titles ("
    "  id INTEGER PRIMARY KEY,"
    "  isbn TEXT NOT NULL UNIQUE,"
    "  title TEXT NOT NULL,"
    "  author TEXT NOT NULL DEFAULT '',"
    "  publisher TEXT NOT NULL DEFAULT '',"
    "  year INTEGER,"
    "  created_ms INTEGER NOT NULL) STRICT;"
    "CREATE TABLE library_copies ("
    "  barcode TEXT PRIMARY KEY,"
    "  title_id INTEGER NOT NULL REFERENCES library_titles (id),"
    "  location TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL DEFAULT 'available'"
    "    CHECK (status IN ('available', 'loaned', 'held', 'withdrawn')),"
    "  added_ms INTEGER NOT NULL,"
    "  UNIQUE (title_id, status, barcode)) STRICT;"
    "CREATE TABLE library_loans ("
    "  id INTEGER PRIMARY KEY,"
    "  barcode TEXT NOT NULL REFERENCES library_copies (barcode),"
    "  open_barcode TEXT UNIQUE,"
    "  title_id INTEGER NOT NULL,"
    "  person_id INTEGER NOT NULL,"
    "  person_no TEXT NOT NULL,"
    "  card_no TEXT NOT NULL,"
    "  card_type TEXT NOT NULL,"
    "  class TEXT NOT NULL,"
    "  borrowed_ms INTEGER NOT NULL,"
    "  borrowed_terminal TEXT NOT NULL,"
    "  due_date TEXT NOT NULL,"
    "  renewals INTEGER NOT NULL DEFAULT 0,"
    "  returned_ms INTEGER,"
    "  returned_terminal TEXT,"
    "  days_overdue INTEGER NOT NULL DEFAULT 0,"
    "  fine INTEGER NOT NULL DEFAULT 0,"
    "  CHECK ((open_barcode IS NULL) = (returned_ms IS NOT NULL)),"
    "  CHECK (open_barcode IS NULL OR open_barcode = barcode),"
    "  UNIQUE (person_id, id),"
    "  UNIQUE (person_no, id),"
    "  UNIQUE (due_date, id)) STRICT;"
    "CREATE TABLE library_fines ("
    "  id INTEGER PRIMARY KEY,"
    "  loan_id INTEGER NOT NULL UNIQUE REFERENCES library_loans (id),"
    "  person_id INTEGER NOT NULL,"
    "  person_no TEXT NOT NULL,"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  status TEXT NOT NULL CHECK (status IN ('owed', 'paid', 'waived')),"
    "  assessed_ms INTEGER NOT NULL,"
    "  settled_ms INTEGER,"
    "  settled_day TEXT,"
    "  payment_id INTEGER,"
    "  terminal TEXT,"
    "  note TEXT NOT NULL DEFAULT '',"
    /* The LIB.PAY waiting for its password that marked these: no longer written (it writes
     * nothing before the wait, so that its retry may run: v_pay). */
    "  pay_terminal TEXT,"
    "  pay_seq INTEGER,"
    "  pay_card TEXT,"
    "  UNIQUE (person_id, status, id),"
    "  UNIQUE (status, settled_day, id)) STRICT;"
    "CREATE TABLE library_reservations ("
    "  id INTEGER PRIMARY KEY,"
    "  title_id INTEGER NOT NULL REFERENCES library_titles (id),"
    "  person_id INTEGER NOT NULL,"
    "  person_no TEXT NOT NULL,"
    "  active_key TEXT UNIQUE,"
    "  created_ms INTEGER NOT NULL,"
    "  status TEXT NOT NULL"
    "    CHECK (status IN ('waiting', 'ready', 'fulfilled', 'cancelled', 'expired')),"
    "  barcode TEXT,"
    "  ready_ms INTEGER,"
    "  hold_until_ms INTEGER,"
    "  closed_ms INTEGER,"
    "  CHECK ((active_key IS NOT NULL) = (status IN ('waiting', 'ready'))),"
    "  UNIQUE (title_id, status, id),"
    "  UNIQUE (person_id, status, id),"
    "  UNIQUE (status, hold_until_ms, id)) STRICT;",
    /* version 2: a fine payment's fines (LIB.PAY after its PIN), the reservation a held copy
     * waits for (LIB.BORROW) and a holder's open loans (LIB.BORROW, LIB.RESERVE, LIB.STATUS)
     * by index; they went through every owed fine and ready reservation on campus, and
     * every loan the holder ever returned (docs/performance.md, "Query plans of every
     * verb"). */
    "CREATE INDEX library_fines_pay_attempt ON library_fines(pay_terminal, pay_seq)"
    "  WHERE status = 'owed';"
    "CREATE INDEX library_reservations_ready ON library_reservations(barcode)"
    "  WHERE status = 'ready';"
    "CREATE INDEX library_loans_open_by_person ON library_loans(person_id)"
    "  WHERE returned_ms IS NULL;",
};

/* ---- small helpers ---- */

static void copy_text(char *dst, size_t n, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    if (len >= n)
        len = n - 1;
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    copy_text(dst, n, (const char *)sqlite3_column_text(st, i));
}

static void yuan(int64_t fen, char *out, size_t n)
{
    const char *sign = fen < 0 ? "-" : "";
    int64_t a = fen < 0 ? -fen : fen;
    snprintf(out, n, "%s%lld.%02lld", sign, (long long)(a / 100), (long long)(a % 100));
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
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
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", (int)(y % 10000), (int)m, (int)d);
    copy_text(out, 11, tmp);
}

/* YYYY-MM-DD -> day number; false when it is not a real date. */
static bool parse_date(const char *s, int64_t *day)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        return false;
    *day = days_from_civil(y, m, d);
    return true;
}

static int64_t today(lib *L, char out[11])
{
    char buf[11];
    int64_t day = 0;
    L->h->campus_date(L->h->now_ms(), buf);
    parse_date(buf, &day);
    if (out)
        memcpy(out, buf, 11);
    return day;
}

/* Days past the due date today (0 or less: not overdue). */
static int64_t days_late(lib *L, const char *due)
{
    int64_t d;
    if (!parse_date(due, &d))
        return 0;
    return today(L, NULL) - d;
}

/* A temporary card's list of allowed subsystems ("" = all). */
static bool list_allows(const char *list, const char *item)
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

static int patron_class(const ykt_card_info *c)
{
    if (strcmp(c->card_type, "temporary") == 0 || strcmp(c->kind, "temporary") == 0)
        return CLS_TEMPORARY;
    return strcmp(c->kind, "staff") == 0 ? CLS_STAFF : CLS_STUDENT;
}

/* Barcodes: 1..32 of letters, digits, '-', '_', '.'. */
static bool barcode_valid(const char *s, size_t len)
{
    if (len == 0 || len > 32 || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* An ISBN-10 or ISBN-13 with its check digit; hyphens and spaces are dropped. */
static bool isbn_normalise(const char *s, char out[14], const char **why)
{
    char d[16];
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        if (n == 13) {
            *why = "an ISBN has 10 or 13 digits";
            return false;
        }
        d[n++] = *p == 'x' ? 'X' : *p;
    }
    d[n] = '\0';
    if (n == 13) {
        int sum = 0;
        for (int i = 0; i < 13; i++) {
            if (d[i] < '0' || d[i] > '9') {
                *why = "an ISBN-13 is digits only";
                return false;
            }
            sum += (d[i] - '0') * (i % 2 ? 3 : 1);
        }
        if (sum % 10 != 0) {
            *why = "the ISBN-13 check digit is wrong";
            return false;
        }
    } else if (n == 10) {
        int sum = 0;
        for (int i = 0; i < 10; i++) {
            int v;
            if (d[i] >= '0' && d[i] <= '9')
                v = d[i] - '0';
            else if (d[i] == 'X' && i == 9)
                v = 10;
            else {
                *why = "an ISBN-10 is nine digits and a digit or X";
                return false;
            }
            sum += v * (10 - i);
        }
        if (sum % 11 != 0) {
            *why = "the ISBN-10 check digit is wrong";
            return false;
        }
    } else {
        *why = "an ISBN has 10 or 13 digits";
        return false;
    }
    memcpy(out, d, n + 1);
    return true;
}

/* ---- storage ---- */

static sqlite3_stmt *stmt(lib *L, const char *sql)
{
    return L->h->db_stmt(L->self, sql);
}

/* Steps a statement that returns no rows; resets it. */
static bool run(sqlite3_stmt *st)
{
    if (st == NULL)
        return false;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

static void storage_error(lib *L, ykt_request *r, const char *what)
{
    L->h->log(L->self, YKT_PLUGIN_LOG_ERROR, "storage: cannot %s", what);
    L->h->reply_error(r, "STORAGE_ERROR", "the library cannot %s now", what);
}

typedef struct copy {
    char barcode[40];
    char status[16];
    int64_t title_id;
    char title[MAX_TEXT];
    char isbn[16];
} copy;

/* 1 found, 0 not found, -1 storage error. */
static int copy_get(lib *L, const char *barcode, copy *c)
{
    sqlite3_stmt *st = stmt(L, "SELECT c.status, c.title_id, t.title, t.isbn "
                               "FROM library_copies c JOIN library_titles t ON t.id = c.title_id "
                               "WHERE c.barcode = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_text(c->barcode, sizeof c->barcode, barcode);
        col_text(st, 0, c->status, sizeof c->status);
        c->title_id = sqlite3_column_int64(st, 1);
        col_text(st, 2, c->title, sizeof c->title);
        col_text(st, 3, c->isbn, sizeof c->isbn);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

typedef struct loan {
    int64_t id, person_id, title_id;
    char person_no[64];
    char card_type[16];
    char cls[16];
    char due[11];
    int renewals;
} loan;

static int loan_open(lib *L, const char *barcode, loan *l)
{
    sqlite3_stmt *st = stmt(L, "SELECT id, person_id, title_id, person_no, card_type, class, "
                               "due_date, renewals FROM library_loans "
                               "WHERE open_barcode = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        l->id = sqlite3_column_int64(st, 0);
        l->person_id = sqlite3_column_int64(st, 1);
        l->title_id = sqlite3_column_int64(st, 2);
        col_text(st, 3, l->person_no, sizeof l->person_no);
        col_text(st, 4, l->card_type, sizeof l->card_type);
        col_text(st, 5, l->cls, sizeof l->cls);
        col_text(st, 6, l->due, sizeof l->due);
        l->renewals = sqlite3_column_int(st, 7);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* What a reader owes in fines, or -1. */
static int64_t owed_total(lib *L, int64_t person_id)
{
    sqlite3_stmt *st = stmt(L, "SELECT coalesce(sum(amount), 0) FROM library_fines "
                               "WHERE person_id = ? AND status = 'owed'");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, person_id);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return v;
}

/* Open loans of a reader and how many of them are overdue today. */
static bool loans_count(lib *L, int64_t person_id, int64_t *open, int64_t *overdue)
{
    char day[11];
    today(L, day);
    sqlite3_stmt *st = stmt(L, "SELECT count(*), coalesce(sum(due_date < ?), 0) FROM library_loans "
                               "WHERE person_id = ? AND returned_ms IS NULL");
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, person_id);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        *open = sqlite3_column_int64(st, 0);
        *overdue = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return ok;
}

/*
 * A copy came back to the desk (a return, an expired or cancelled hold, a new copy): the
 * first reader waiting for its title gets it held for hold_days and is notified; otherwise
 * it goes back on the shelf. Returns 1 (held), 0 (shelf) or -1 (storage error).
 */
static int pass_on(lib *L, const char *barcode, int64_t title_id, const char *title)
{
    const ykt_host *h = L->h;
    int64_t now = h->now_ms();
    sqlite3_stmt *st = stmt(L, "SELECT id, person_id FROM library_reservations "
                               "WHERE title_id = ? AND status = 'waiting' ORDER BY id LIMIT 1");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, title_id);
    int rc = sqlite3_step(st);
    int64_t res = 0, person = 0;
    if (rc == SQLITE_ROW) {
        res = sqlite3_column_int64(st, 0);
        person = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    st = stmt(L, "UPDATE library_copies SET status = ? WHERE barcode = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, res ? "held" : "available", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, barcode, -1, SQLITE_TRANSIENT);
    if (!run(st))
        return -1;
    if (res == 0)
        return 0;
    int64_t until = now + (int64_t)L->hold_days * DAY_MS;
    st = stmt(L, "UPDATE library_reservations SET status = 'ready', barcode = ?, ready_ms = ?, "
                 "hold_until_ms = ? WHERE id = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, until);
    sqlite3_bind_int64(st, 4, res);
    if (!run(st))
        return -1;
    char day[11], msg[512];
    h->campus_date(until, day);
    snprintf(msg, sizeof msg, "《%s》 (copy %s) is waiting for you at the library until %s", title,
             barcode, day);
    if (h->notify(person, "reservation", msg, 0) != YKT_PLUGIN_OK)
        return -1;
    return 1;
}

/* ---- terminal verbs ---- */

/*
 * The common start of a card verb with one extra word (a barcode or an ISBN): checks the
 * words, then authenticates the card (the host refuses lost, frozen, cancelled and expired
 * cards, replays and forged cryptograms).
 */
static bool card_verb(lib *L, ykt_request *r, ykt_card_info *card, int64_t *amount,
                      const char **word, const char *usage)
{
    const ykt_host *h = L->h;
    if (h->argc(r) != 8) {
        h->reply_error(r, "BAD_REQUEST", "usage: %s", usage);
        return false;
    }
    size_t len;
    *word = h->arg(r, 7, &len);
    int64_t signed_amount = 0;
    if (h->card_present(r, card, &signed_amount) != YKT_PLUGIN_OK)
        return false;
    if (amount != NULL)
        *amount = signed_amount;
    else if (signed_amount != 0) {
        h->reply_error(r, "BAD_REQUEST", "the card signs the amount 0 for %s", usage);
        return false;
    }
    return true;
}

static bool barcode_arg(lib *L, ykt_request *r, const char *barcode)
{
    if (!barcode_valid(barcode, strlen(barcode))) {
        L->h->reply_error(r, "BAD_REQUEST",
                          "a barcode is 1 to 32 letters, digits, '-', '_' or '.'");
        return false;
    }
    return true;
}

/* A temporary card limited to some subsystems may use the library only when it is listed. */
static bool library_allowed(lib *L, ykt_request *r, const ykt_card_info *card)
{
    if (list_allows(card->subsystems, "library"))
        return true;
    L->h->reply_error(r, "NOT_ALLOWED", "this temporary card may not use the library");
    return false;
}

/* Looks a copy up; replies NO_COPY or STORAGE_ERROR. */
static bool find_copy(lib *L, ykt_request *r, const char *barcode, copy *c)
{
    int rc = copy_get(L, barcode, c);
    if (rc < 0)
        storage_error(L, r, "read the catalogue");
    else if (rc == 0)
        L->h->reply_error(r, "NO_COPY", "no copy %s in the catalogue", barcode);
    return rc == 1;
}

/* Owed fines block new loans and renewals. */
static bool no_fines_owed(lib *L, ykt_request *r, int64_t person_id)
{
    int64_t owed = owed_total(L, person_id);
    if (owed < 0) {
        storage_error(L, r, "read the fines");
        return false;
    }
    if (owed > 0) {
        char y[32];
        yuan(owed, y, sizeof y);
        L->h->reply_error(r, "FINES_OWED",
                          "%s CNY of library fines are owed; pay them (LIB.PAY) before borrowing",
                          y);
        return false;
    }
    return true;
}

/* The reader's own reservation of a title (waiting or ready): its id, status and copy. */
static int my_reservation(lib *L, int64_t title_id, int64_t person_id, int64_t *id, char *status,
                          size_t slen, char *barcode, size_t blen)
{
    sqlite3_stmt *st = stmt(L, "SELECT id, status, coalesce(barcode, '') FROM library_reservations "
                               "WHERE title_id = ? AND person_id = ? "
                               "AND status IN ('waiting', 'ready')");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, title_id);
    sqlite3_bind_int64(st, 2, person_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        col_text(st, 1, status, slen);
        col_text(st, 2, barcode, blen);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static bool close_reservation(lib *L, int64_t id, const char *status)
{
    sqlite3_stmt *st =
        stmt(L, "UPDATE library_reservations SET status = ?, closed_ms = ?, active_key = NULL "
                "WHERE id = ?");
    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, L->h->now_ms());
    sqlite3_bind_int64(st, 3, id);
    return run(st);
}

/* LIB.BORROW <card args> barcode -> [due_date, title, on_loan, limit] */
static void v_borrow(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    const char *barcode;
    copy c;
    if (!card_verb(L, r, &card, NULL, &barcode, "LIB.BORROW <card args> barcode") ||
        !barcode_arg(L, r, barcode) || !library_allowed(L, r, &card) ||
        !find_copy(L, r, barcode, &c))
        return;
    int64_t held_res = 0;
    if (strcmp(c.status, "withdrawn") == 0) {
        h->reply_error(r, "UNAVAILABLE", "copy %s has been withdrawn from lending", barcode);
        return;
    }
    if (strcmp(c.status, "loaned") == 0) {
        loan l;
        int rc = loan_open(L, barcode, &l);
        if (rc < 0) {
            storage_error(L, r, "read the loans");
            return;
        }
        if (rc == 1 && l.person_id == card.person_id)
            h->reply_error(r, "ALREADY_BORROWED", "you already have copy %s (due %s)", barcode,
                           l.due);
        else
            h->reply_error(r, "ON_LOAN", "copy %s is on loan; reserve the title instead", barcode);
        return;
    }
    if (strcmp(c.status, "held") == 0) {
        sqlite3_stmt *st = stmt(L, "SELECT id, person_id, hold_until_ms FROM library_reservations "
                                   "WHERE barcode = ? AND status = 'ready'");
        if (st == NULL) {
            storage_error(L, r, "read the reservations");
            return;
        }
        sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
        int64_t who = 0, until = 0;
        if (sqlite3_step(st) == SQLITE_ROW) {
            held_res = sqlite3_column_int64(st, 0);
            who = sqlite3_column_int64(st, 1);
            until = sqlite3_column_int64(st, 2);
        }
        sqlite3_reset(st);
        if (held_res != 0 && who != card.person_id) {
            char day[11];
            h->campus_date(until, day);
            h->reply_error(r, "HELD", "copy %s is held for another reader's reservation until %s",
                           barcode, day);
            return;
        }
    }
    int cls = patron_class(&card);
    int64_t open, overdue;
    if (!no_fines_owed(L, r, card.person_id))
        return;
    if (!loans_count(L, card.person_id, &open, &overdue)) {
        storage_error(L, r, "read the loans");
        return;
    }
    if (L->block_overdue && overdue > 0) {
        h->reply_error(r, "OVERDUE", "%lld overdue item(s) must be returned before borrowing",
                       (long long)overdue);
        return;
    }
    if (open >= L->items[cls]) {
        h->reply_error(r, "LOAN_LIMIT", "%s readers may have at most %d items at once",
                       class_names[cls], L->items[cls]);
        return;
    }
    char due[11];
    civil_from_days(today(L, NULL) + L->days[cls], due);
    const ykt_terminal_info *t = h->terminal(r);
    sqlite3_stmt *st =
        stmt(L, "INSERT INTO library_loans (barcode, open_barcode, title_id, person_id, person_no, "
                "card_no, card_type, class, borrowed_ms, borrowed_terminal, due_date) "
                "VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (st == NULL) {
        storage_error(L, r, "record the loan");
        return;
    }
    sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, c.title_id);
    sqlite3_bind_int64(st, 3, card.person_id);
    sqlite3_bind_text(st, 4, card.person_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, card.card_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, card.card_type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, class_names[cls], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, h->now_ms());
    sqlite3_bind_text(st, 9, t ? t->id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 10, due, -1, SQLITE_TRANSIENT);
    bool ok = run(st);
    st = stmt(L, "UPDATE library_copies SET status = 'loaned' WHERE barcode = ?");
    if (ok && st != NULL) {
        sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
        ok = run(st);
    } else {
        ok = false;
    }
    /* The reader's reservation of this title is fulfilled; a different copy held for it
     * goes to the next reader in the queue. */
    int64_t rid = 0;
    char rstatus[16], rbarcode[40];
    int rc = ok ? my_reservation(L, c.title_id, card.person_id, &rid, rstatus, sizeof rstatus,
                                 rbarcode, sizeof rbarcode)
                : -1;
    if (rc < 0)
        ok = false;
    if (ok && rc == 1) {
        ok = close_reservation(L, rid, "fulfilled");
        if (ok && strcmp(rstatus, "ready") == 0 && strcmp(rbarcode, barcode) != 0)
            ok = pass_on(L, rbarcode, c.title_id, c.title) >= 0;
    }
    if (!ok) {
        storage_error(L, r, "record the loan");
        return;
    }
    h->reply_array(r, 4);
    h->reply_str(r, due);
    h->reply_str(r, c.title);
    h->reply_int(r, open + 1);
    h->reply_int(r, L->items[cls]);
}

/* The fine of a loan returned today, by the library rule; -1 after replying RULE_ERROR (or
 * logging it when r is NULL). */
static int64_t loan_fine(lib *L, ykt_request *r, const loan *l, int64_t *days)
{
    *days = days_late(L, l->due);
    if (*days <= 0)
        return 0;
    ykt_rule_value args[] = {{.name = "days_overdue", .type = 'i', .i = *days},
                             {.name = "card_type", .type = 's', .s = l->card_type}};
    ykt_rule_value res[] = {{.name = "fine", .type = 'i'}};
    if (L->h->rule_call(r, "library", "fine", args, 2, res, 1) != YKT_PLUGIN_OK)
        return -1;
    if (res[0].i < 0 || res[0].i > 100000000) {
        if (r != NULL)
            L->h->reply_error(r, "RULE_ERROR", "rule library.fine answered %lld fen, out of range",
                              (long long)res[0].i);
        return -1;
    }
    return res[0].i;
}

/* Closes a loan today at this terminal and records its fine (as owed, for now). Returns the
 * fine's id (0: no fine) or -1 after replying. */
static int64_t close_loan(lib *L, ykt_request *r, const loan *l, int64_t fine, int64_t days)
{
    const ykt_host *h = L->h;
    const ykt_terminal_info *t = h->terminal(r);
    int64_t now = h->now_ms();
    sqlite3_stmt *st = stmt(L, "UPDATE library_loans SET returned_ms = ?, returned_terminal = ?, "
                               "days_overdue = ?, fine = ?, open_barcode = NULL WHERE id = ?");
    if (st == NULL) {
        storage_error(L, r, "record the return");
        return -1;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, t ? t->id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, days > 0 ? days : 0);
    sqlite3_bind_int64(st, 4, fine);
    sqlite3_bind_int64(st, 5, l->id);
    if (!run(st)) {
        storage_error(L, r, "record the return");
        return -1;
    }
    if (fine == 0)
        return 0;
    st = stmt(L, "INSERT INTO library_fines (loan_id, person_id, person_no, amount, status, "
                 "assessed_ms) VALUES (?, ?, ?, ?, 'owed', ?) RETURNING id");
    if (st == NULL) {
        storage_error(L, r, "record the fine");
        return -1;
    }
    sqlite3_bind_int64(st, 1, l->id);
    sqlite3_bind_int64(st, 2, l->person_id);
    sqlite3_bind_text(st, 3, l->person_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, fine);
    sqlite3_bind_int64(st, 5, now);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (id < 0)
        storage_error(L, r, "record the fine");
    return id;
}

/* Marks fines paid by a wallet payment: one fine (id > 0) or all the reader owes (id 0). */
static bool fines_paid(lib *L, ykt_request *r, int64_t fine_id, int64_t person_id,
                       int64_t payment_id)
{
    const ykt_host *h = L->h;
    const ykt_terminal_info *t = h->terminal(r);
    int64_t now = h->now_ms();
    char day[11];
    h->campus_date(now, day);
    sqlite3_stmt *st =
        stmt(L, "UPDATE library_fines SET status = 'paid', settled_ms = ?, settled_day = ?, "
                "payment_id = ?, terminal = ? WHERE status = 'owed' AND person_id = ? "
                "AND (? = 0 OR id = ?)");
    if (st == NULL)
        return false;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, payment_id);
    sqlite3_bind_text(st, 4, t ? t->id : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, person_id);
    sqlite3_bind_int64(st, 6, fine_id);
    sqlite3_bind_int64(st, 7, fine_id);
    return run(st);
}

/*
 * The end of a return (with or without the card): the copy goes to the next reservation or
 * back to the shelf, the reader hears of an unpaid fine, and the terminal gets
 * [fine, paid, owed, next].
 */
static void finish_return(lib *L, ykt_request *r, const copy *c, const loan *l, int64_t fine,
                          int64_t paid)
{
    const ykt_host *h = L->h;
    int held = pass_on(L, c->barcode, c->title_id, c->title);
    int64_t owed = owed_total(L, l->person_id);
    if (held < 0 || owed < 0) {
        storage_error(L, r, "record the return");
        return;
    }
    if (fine > 0 && paid == 0) {
        char y[32], msg[512];
        yuan(fine, y, sizeof y);
        snprintf(msg, sizeof msg,
                 "《%s》 was returned %s: a fine of %s CNY is owed; new loans wait until it is "
                 "paid",
                 c->title, "late", y);
        if (h->notify(l->person_id, "library", msg, fine) != YKT_PLUGIN_OK) {
            storage_error(L, r, "notify the reader");
            return;
        }
    }
    h->reply_array(r, 4);
    h->reply_int(r, fine);
    h->reply_int(r, paid);
    h->reply_int(r, owed);
    h->reply_str(r, held ? "hold" : "shelf");
}

/* The `merchant` option names a merchant that may be added only once yktd runs: init warns,
 * and the first payment checks it with merchant_status. Until it exists a return leaves its
 * fine owed (the book still comes back) and LIB.PAY is refused NO_MERCHANT before the card is
 * read; each is logged naming the option. Suspension is the wallet's refusal. */
static bool merchant_known(lib *L)
{
    if (L->merchant_known)
        return true;
    int rc = L->h->merchant_status(L->merchant, NULL);
    if (rc == YKT_PLUGIN_OK)
        return L->merchant_known = true;
    if (rc == YKT_PLUGIN_ENOTFOUND)
        L->h->log(L->self, YKT_PLUGIN_LOG_ERROR,
                  "option merchant = %s: no such merchant, so no fine can be paid (yktctl "
                  "merchant add %s --category library)",
                  L->merchant, L->merchant);
    else
        L->h->log(L->self, YKT_PLUGIN_LOG_ERROR, "option merchant = %s: cannot read the merchant",
                  L->merchant);
    return false;
}

/* LIB.RETURN <card args: amount = the most the holder agrees to pay now> barcode
 *   -> [fine, paid, owed, hold|shelf] */
static void v_return(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    int64_t amount;
    const char *barcode;
    copy c;
    loan l;
    if (!card_verb(L, r, &card, &amount, &barcode, "LIB.RETURN <card args> barcode") ||
        !barcode_arg(L, r, barcode) || !find_copy(L, r, barcode, &c))
        return;
    int rc = loan_open(L, barcode, &l);
    if (rc < 0) {
        storage_error(L, r, "read the loans");
        return;
    }
    if (rc == 0) {
        h->reply_error(r, "NOT_ON_LOAN", "copy %s is not on loan", barcode);
        return;
    }
    if (l.person_id != card.person_id) {
        h->reply_error(r, "NOT_BORROWER",
                       "copy %s was borrowed by another reader: return it without a card "
                       "(LIB.DROP)",
                       barcode);
        return;
    }
    int64_t days, fine = loan_fine(L, r, &l, &days);
    if (fine < 0)
        return;
    int64_t fine_id = close_loan(L, r, &l, fine, days);
    if (fine_id < 0)
        return;
    /* The desk takes no password at a return: a fine at or above pin_threshold is owed and
     * paid with LIB.PAY and the password. */
    int64_t paid = 0;
    if (fine > 0 && amount >= fine && fine < L->pin_threshold && merchant_known(L)) {
        int64_t balance = 0;
        if (h->wallet_balance(card.person_id, &balance) != YKT_PLUGIN_OK) {
            storage_error(L, r, "read the wallet");
            return;
        }
        if (balance >= fine) {
            ykt_money m;
            if (h->wallet_debit(r, &card, L->merchant, fine, &m) != YKT_PLUGIN_OK)
                return; /* LIMIT_EXCEEDED, NO_MERCHANT, ...: replied; the return is undone */
            if (!fines_paid(L, r, fine_id, card.person_id, m.payment_id)) {
                storage_error(L, r, "record the fine");
                return;
            }
            paid = fine;
        }
    }
    finish_return(L, r, &c, &l, fine, paid);
}

/* LIB.DROP seq barcode: a return without the borrower's card (book drop, another person);
 *   any fine is owed -> [fine, 0, owed, hold|shelf] */
static void v_drop(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    copy c;
    loan l;
    if (h->argc(r) != 3) {
        h->reply_error(r, "BAD_REQUEST", "usage: LIB.DROP seq barcode");
        return;
    }
    const char *barcode = h->arg(r, 2, NULL);
    if (!barcode_arg(L, r, barcode) || !find_copy(L, r, barcode, &c))
        return;
    int rc = loan_open(L, barcode, &l);
    if (rc < 0) {
        storage_error(L, r, "read the loans");
        return;
    }
    if (rc == 0) {
        h->reply_error(r, "NOT_ON_LOAN", "copy %s is not on loan", barcode);
        return;
    }
    int64_t days, fine = loan_fine(L, r, &l, &days);
    if (fine < 0 || close_loan(L, r, &l, fine, days) < 0)
        return;
    finish_return(L, r, &c, &l, fine, 0);
}

/* Waiting reservations of a title by other readers. */
static int64_t others_waiting(lib *L, int64_t title_id, int64_t person_id)
{
    sqlite3_stmt *st = stmt(L, "SELECT count(*) FROM library_reservations "
                               "WHERE title_id = ? AND status = 'waiting' AND person_id <> ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, title_id);
    sqlite3_bind_int64(st, 2, person_id);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

/* LIB.RENEW <card args> barcode -> [due_date, renewals] */
static void v_renew(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    const char *barcode;
    copy c;
    loan l;
    if (!card_verb(L, r, &card, NULL, &barcode, "LIB.RENEW <card args> barcode") ||
        !barcode_arg(L, r, barcode) || !library_allowed(L, r, &card) ||
        !find_copy(L, r, barcode, &c))
        return;
    int rc = loan_open(L, barcode, &l);
    if (rc < 0) {
        storage_error(L, r, "read the loans");
        return;
    }
    if (rc == 0) {
        h->reply_error(r, "NOT_ON_LOAN", "copy %s is not on loan", barcode);
        return;
    }
    if (l.person_id != card.person_id) {
        h->reply_error(r, "NOT_BORROWER", "copy %s was borrowed by another reader", barcode);
        return;
    }
    if (!no_fines_owed(L, r, card.person_id))
        return;
    if (days_late(L, l.due) > 0) {
        h->reply_error(r, "OVERDUE", "copy %s was due on %s: return it and pay the fine", barcode,
                       l.due);
        return;
    }
    if (l.renewals >= L->max_renewals) {
        h->reply_error(r, "RENEW_LIMIT", "copy %s has been renewed %d times, the most allowed",
                       barcode, l.renewals);
        return;
    }
    int64_t waiting = others_waiting(L, c.title_id, card.person_id);
    if (waiting < 0) {
        storage_error(L, r, "read the reservations");
        return;
    }
    if (waiting > 0) {
        h->reply_error(r, "RESERVED", "《%s》 is reserved by %lld other reader(s): return it by %s",
                       c.title, (long long)waiting, l.due);
        return;
    }
    int64_t due_day;
    parse_date(l.due, &due_day);
    char due[11];
    civil_from_days(due_day + L->days[patron_class(&card)], due);
    sqlite3_stmt *st =
        stmt(L, "UPDATE library_loans SET due_date = ?, renewals = renewals + 1 WHERE id = ?");
    if (st == NULL) {
        storage_error(L, r, "renew the loan");
        return;
    }
    sqlite3_bind_text(st, 1, due, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, l.id);
    if (!run(st)) {
        storage_error(L, r, "renew the loan");
        return;
    }
    h->reply_array(r, 2);
    h->reply_str(r, due);
    h->reply_int(r, l.renewals + 1);
}

/* A title by ISBN, or by the barcode of one of its copies. */
static bool find_title(lib *L, ykt_request *r, const char *word, int64_t *title_id, char *title,
                       size_t tlen)
{
    const ykt_host *h = L->h;
    char isbn[14];
    const char *why = NULL;
    bool by_isbn = isbn_normalise(word, isbn, &why);
    if (!by_isbn && !barcode_valid(word, strlen(word))) {
        h->reply_error(r, "BAD_REQUEST", "'%.40s' is neither an ISBN nor a barcode", word);
        return false;
    }
    sqlite3_stmt *st =
        by_isbn ? stmt(L, "SELECT id, title FROM library_titles WHERE isbn = ?")
                : stmt(L, "SELECT t.id, t.title FROM library_copies c "
                          "JOIN library_titles t ON t.id = c.title_id WHERE c.barcode = ?");
    if (st == NULL) {
        storage_error(L, r, "read the catalogue");
        return false;
    }
    sqlite3_bind_text(st, 1, by_isbn ? isbn : word, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *title_id = sqlite3_column_int64(st, 0);
        col_text(st, 1, title, tlen);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        h->reply_error(r, "NO_TITLE", "no title %.40s in the catalogue", word);
    else if (rc != SQLITE_ROW)
        storage_error(L, r, "read the catalogue");
    return rc == SQLITE_ROW;
}

/* LIB.RESERVE <card args> isbn|barcode -> [reservation, position] */
static void v_reserve(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    const char *word;
    int64_t title_id;
    char title[MAX_TEXT];
    if (!card_verb(L, r, &card, NULL, &word, "LIB.RESERVE <card args> isbn|barcode") ||
        !library_allowed(L, r, &card) || !find_title(L, r, word, &title_id, title, sizeof title))
        return;
    sqlite3_stmt *st =
        stmt(L, "SELECT (SELECT count(*) FROM library_loans WHERE title_id = ?1 "
                "        AND person_id = ?2 AND returned_ms IS NULL),"
                "       (SELECT count(*) FROM library_reservations WHERE title_id = ?1 "
                "        AND person_id = ?2 AND status IN ('waiting', 'ready')),"
                "       (SELECT count(*) FROM library_copies WHERE title_id = ?1 "
                "        AND status = 'available'),"
                "       (SELECT count(*) FROM library_copies WHERE title_id = ?1 "
                "        AND status <> 'withdrawn'),"
                "       (SELECT count(*) FROM library_reservations WHERE person_id = ?2 "
                "        AND status IN ('waiting', 'ready'))");
    if (st == NULL) {
        storage_error(L, r, "read the reservations");
        return;
    }
    sqlite3_bind_int64(st, 1, title_id);
    sqlite3_bind_int64(st, 2, card.person_id);
    int64_t v[5] = {0};
    int rc = sqlite3_step(st);
    for (int i = 0; rc == SQLITE_ROW && i < 5; i++)
        v[i] = sqlite3_column_int64(st, i);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        storage_error(L, r, "read the reservations");
        return;
    }
    if (v[0] > 0) {
        h->reply_error(r, "ALREADY_BORROWED", "you already have a copy of 《%s》", title);
        return;
    }
    if (v[1] > 0) {
        h->reply_error(r, "ALREADY_RESERVED", "you have already reserved 《%s》", title);
        return;
    }
    if (v[3] == 0) {
        h->reply_error(r, "UNAVAILABLE", "《%s》 has no copy in circulation", title);
        return;
    }
    if (v[2] > 0) {
        h->reply_error(r, "AVAILABLE", "a copy of 《%s》 is on the shelf: borrow it", title);
        return;
    }
    if (v[4] >= L->max_reservations) {
        h->reply_error(r, "RESERVATION_LIMIT", "at most %d reservations at once",
                       L->max_reservations);
        return;
    }
    st = stmt(L, "INSERT INTO library_reservations (title_id, person_id, person_no, created_ms, "
                 "status, active_key) VALUES (?1, ?2, ?3, ?4, 'waiting', ?1 || ':' || ?2) "
                 "RETURNING id");
    if (st == NULL) {
        storage_error(L, r, "record the reservation");
        return;
    }
    sqlite3_bind_int64(st, 1, title_id);
    sqlite3_bind_int64(st, 2, card.person_id);
    sqlite3_bind_text(st, 3, card.person_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, h->now_ms());
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    st = stmt(L, "SELECT count(*) FROM library_reservations WHERE title_id = ? "
                 "AND status = 'waiting' AND id <= ?");
    int64_t pos = 0;
    if (st != NULL && id != 0) {
        sqlite3_bind_int64(st, 1, title_id);
        sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            pos = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (id == 0 || pos == 0) {
        storage_error(L, r, "record the reservation");
        return;
    }
    h->reply_array(r, 2);
    h->reply_int(r, id);
    h->reply_int(r, pos);
}

/* LIB.CANCEL <card args> isbn|barcode -> OK */
static void v_cancel(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    const char *word;
    int64_t title_id, rid;
    char title[MAX_TEXT], status[16], barcode[40];
    if (!card_verb(L, r, &card, NULL, &word, "LIB.CANCEL <card args> isbn|barcode") ||
        !find_title(L, r, word, &title_id, title, sizeof title))
        return;
    int rc = my_reservation(L, title_id, card.person_id, &rid, status, sizeof status, barcode,
                            sizeof barcode);
    if (rc < 0) {
        storage_error(L, r, "read the reservations");
        return;
    }
    if (rc == 0) {
        h->reply_error(r, "NOT_RESERVED", "you have no reservation of 《%s》", title);
        return;
    }
    if (!close_reservation(L, rid, "cancelled") ||
        (strcmp(status, "ready") == 0 && pass_on(L, barcode, title_id, title) < 0)) {
        storage_error(L, r, "cancel the reservation");
        return;
    }
    h->reply_ok(r);
}

/* Pays everything the reader owes with one wallet payment -> [paid, balance]. */
static void settle_owed(lib *L, ykt_request *r, const ykt_card_info *card, int64_t owed)
{
    const ykt_host *h = L->h;
    ykt_money m;
    if (h->wallet_debit(r, card, L->merchant, owed, &m) != YKT_PLUGIN_OK)
        return; /* INSUFFICIENT_FUNDS, LIMIT_EXCEEDED, ...: replied */
    if (!fines_paid(L, r, 0, card->person_id, m.payment_id)) {
        storage_error(L, r, "record the payment of the fines");
        return;
    }
    h->reply_array(r, 2);
    h->reply_int(r, m.charged);
    h->reply_int(r, m.balance);
}

/* After the payment password matched: what is owed now is paid, if it is still what the card
 * signed (a fine returned or waived while the password was checked changes it). */
static void pay_after_pin(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    if (h->card_by_uid(h->arg(r, 2, NULL), &card) != YKT_PLUGIN_OK) {
        storage_error(L, r, "read the card again");
        return;
    }
    int64_t owed = owed_total(L, card.person_id);
    if (owed < 0) {
        storage_error(L, r, "read the fines");
        return;
    }
    if (owed != strtoll(h->arg(r, 5, NULL), NULL, 10)) {
        char a[32];
        yuan(owed, a, sizeof a);
        h->reply_error(r, "AMOUNT_MISMATCH",
                       "%s CNY is owed now: the fines changed while the password was checked", a);
        return;
    }
    settle_owed(L, r, &card, owed);
}

/* LIB.PAY <card args: amount = all that is owed> [pin] -> [paid, balance] */
static void v_pay(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    int64_t amount;
    int argc = h->argc(r);
    if (argc != 7 && argc != 8) {
        h->reply_error(r, "BAD_REQUEST", "usage: LIB.PAY <card args> [pin]");
        return;
    }
    if (!merchant_known(L)) {
        h->reply_error(r, "NO_MERCHANT",
                       "the library's merchant %s does not exist (option merchant)", L->merchant);
        return;
    }
    if (h->card_present(r, &card, &amount) != YKT_PLUGIN_OK)
        return;
    int64_t owed = owed_total(L, card.person_id);
    if (owed < 0) {
        storage_error(L, r, "read the fines");
        return;
    }
    if (owed == 0) {
        h->reply_error(r, "NOTHING_OWED", "no library fines are owed");
        return;
    }
    if (amount != owed) {
        char a[32], b[32];
        yuan(owed, a, sizeof a);
        yuan(amount, b, sizeof b);
        h->reply_error(r, "AMOUNT_MISMATCH", "%s CNY is owed, not %s: sign the amount owed", a, b);
        return;
    }
    if (argc == 7) {
        if (owed >= L->pin_threshold) {
            char a[32];
            yuan(L->pin_threshold, a, sizeof a);
            h->reply_error(r, "PIN_REQUIRED",
                           "a payment of %s CNY or more needs the payment password", a);
            return;
        }
        settle_owed(L, r, &card, owed);
        return;
    }
    /* The password is checked off the loop, and nothing is written before: a request whose
     * only change before the wait is the card's ATC is noted on the card by the host, so that
     * interrupted meanwhile (its connection closed, yktd stopped) its retry pays once instead
     * of being refused REPLAY (docs/protocol.md, Idempotency). pay_after_pin reads
     * what is owed again. */
    h->card_check_password(r, &card, "pay", h->arg(r, 7, NULL), pay_after_pin, L);
}

/* LIB.STATUS <card args> -> [on_loan, limit, overdue, owed, ready,
 *                            [[barcode, title, due_date, renewals], ...]] */
static void v_status(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    if (h->argc(r) != 7) {
        h->reply_error(r, "BAD_REQUEST", "usage: LIB.STATUS <card args>");
        return;
    }
    int64_t signed_amount = 0;
    if (h->card_present(r, &card, &signed_amount) != YKT_PLUGIN_OK)
        return;
    if (signed_amount != 0) {
        h->reply_error(r, "BAD_REQUEST", "the card signs the amount 0 for LIB.STATUS");
        return;
    }
    int64_t open, overdue, owed = owed_total(L, card.person_id), ready = -1;
    sqlite3_stmt *st = stmt(L, "SELECT count(*) FROM library_reservations "
                               "WHERE person_id = ? AND status = 'ready'");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, card.person_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            ready = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (owed < 0 || ready < 0 || !loans_count(L, card.person_id, &open, &overdue)) {
        storage_error(L, r, "read the reader's record");
        return;
    }
    st = stmt(L, "SELECT l.barcode, t.title, l.due_date, l.renewals FROM library_loans l "
                 "JOIN library_titles t ON t.id = l.title_id "
                 "WHERE l.person_id = ? AND l.returned_ms IS NULL ORDER BY l.due_date, l.id");
    if (st == NULL) {
        storage_error(L, r, "read the reader's record");
        return;
    }
    h->reply_array(r, 6);
    h->reply_int(r, open);
    h->reply_int(r, L->items[patron_class(&card)]);
    h->reply_int(r, overdue);
    h->reply_int(r, owed);
    h->reply_int(r, ready);
    h->reply_array(r, open);
    sqlite3_bind_int64(st, 1, card.person_id);
    for (int64_t i = 0; i < open; i++) {
        bool row = sqlite3_step(st) == SQLITE_ROW;
        h->reply_array(r, 4);
        h->reply_str(r, row ? (const char *)sqlite3_column_text(st, 0) : "");
        h->reply_str(r, row ? (const char *)sqlite3_column_text(st, 1) : "");
        h->reply_str(r, row ? (const char *)sqlite3_column_text(st, 2) : "");
        h->reply_int(r, row ? sqlite3_column_int64(st, 3) : 0);
    }
    sqlite3_reset(st);
}

/* LIB.HISTORY <card args> -> [[barcode, title, borrowed, due_date, returned|null, fine,
 *                              fine_status], ...]: the holder's own borrowing record, newest
 * first, at most HISTORY_MAX loans. */
#define HISTORY_MAX 50
static void v_history(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    ykt_card_info card;
    int64_t signed_amount = 0;
    if (h->argc(r) != 7) {
        h->reply_error(r, "BAD_REQUEST", "usage: LIB.HISTORY <card args>");
        return;
    }
    if (h->card_present(r, &card, &signed_amount) != YKT_PLUGIN_OK)
        return;
    if (signed_amount != 0) {
        h->reply_error(r, "BAD_REQUEST", "the card signs the amount 0 for LIB.HISTORY");
        return;
    }
    sqlite3_stmt *st = stmt(L, "SELECT count(*) FROM library_loans WHERE person_id = ?");
    int64_t n = -1;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, card.person_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    st = stmt(L, "SELECT l.barcode, t.title, l.borrowed_ms, l.due_date, l.returned_ms, l.fine, "
                 "coalesce(f.status, 'none') FROM library_loans l "
                 "JOIN library_titles t ON t.id = l.title_id "
                 "LEFT JOIN library_fines f ON f.loan_id = l.id "
                 "WHERE l.person_id = ? ORDER BY l.borrowed_ms DESC, l.id DESC LIMIT ?");
    if (n < 0 || st == NULL) {
        storage_error(L, r, "read the reader's record");
        return;
    }
    if (n > HISTORY_MAX)
        n = HISTORY_MAX;
    sqlite3_bind_int64(st, 1, card.person_id);
    sqlite3_bind_int64(st, 2, n);
    h->reply_array(r, n);
    for (int64_t i = 0; i < n; i++) {
        bool row = sqlite3_step(st) == SQLITE_ROW;
        char borrowed[11] = "", returned[11] = "";
        if (row) {
            h->campus_date(sqlite3_column_int64(st, 2), borrowed);
            if (sqlite3_column_type(st, 4) != SQLITE_NULL)
                h->campus_date(sqlite3_column_int64(st, 4), returned);
        }
        h->reply_array(r, 7);
        h->reply_str(r, row ? (const char *)sqlite3_column_text(st, 0) : "");
        h->reply_str(r, row ? (const char *)sqlite3_column_text(st, 1) : "");
        h->reply_str(r, borrowed);
        h->reply_str(r, row ? (const char *)sqlite3_column_text(st, 3) : "");
        h->reply_str(r, returned[0] ? returned : NULL);
        h->reply_int(r, row ? sqlite3_column_int64(st, 5) : 0);
        h->reply_str(r, row ? (const char *)sqlite3_column_text(st, 6) : "none");
    }
    sqlite3_reset(st);
}

/* LIB.FINE barcode -> [days_overdue, fine]: what returning the copy today costs. */
static void v_fine(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    copy c;
    loan l;
    if (h->argc(r) != 2) {
        h->reply_error(r, "BAD_REQUEST", "usage: LIB.FINE barcode");
        return;
    }
    const char *barcode = h->arg(r, 1, NULL);
    if (!barcode_arg(L, r, barcode) || !find_copy(L, r, barcode, &c))
        return;
    int rc = loan_open(L, barcode, &l);
    if (rc < 0) {
        storage_error(L, r, "read the loans");
        return;
    }
    if (rc == 0) {
        h->reply_error(r, "NOT_ON_LOAN", "copy %s is not on loan", barcode);
        return;
    }
    int64_t days, fine = loan_fine(L, r, &l, &days);
    if (fine < 0)
        return;
    h->reply_array(r, 2);
    h->reply_int(r, days > 0 ? days : 0);
    h->reply_int(r, fine);
}

/* ---- timer and events ---- */

/* Holds not collected in time expire; the copy passes to the next reader or the shelf. */
static void expire_holds(void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    struct {
        int64_t id, person, title_id;
        char barcode[40];
        char title[MAX_TEXT];
    } due[32];
    int n = 0;
    sqlite3_stmt *st = stmt(L, "SELECT r.id, r.person_id, r.title_id, r.barcode, t.title "
                               "FROM library_reservations r "
                               "JOIN library_titles t ON t.id = r.title_id "
                               "WHERE r.status = 'ready' AND r.hold_until_ms < ? "
                               "ORDER BY r.hold_until_ms LIMIT 32");
    if (st == NULL)
        return;
    sqlite3_bind_int64(st, 1, h->now_ms());
    while (n < 32 && sqlite3_step(st) == SQLITE_ROW) {
        due[n].id = sqlite3_column_int64(st, 0);
        due[n].person = sqlite3_column_int64(st, 1);
        due[n].title_id = sqlite3_column_int64(st, 2);
        col_text(st, 3, due[n].barcode, sizeof due[n].barcode);
        col_text(st, 4, due[n].title, sizeof due[n].title);
        n++;
    }
    sqlite3_reset(st);
    for (int i = 0; i < n; i++) {
        char msg[512];
        snprintf(msg, sizeof msg, "your reservation of 《%s》 expired: the copy was not collected",
                 due[i].title);
        if (!close_reservation(L, due[i].id, "expired") ||
            h->notify(due[i].person, "reservation", msg, 0) != YKT_PLUGIN_OK ||
            pass_on(L, due[i].barcode, due[i].title_id, due[i].title) < 0) {
            h->log(L->self, YKT_PLUGIN_LOG_ERROR, "cannot expire reservation %lld",
                   (long long)due[i].id);
            return;
        }
        h->log(L->self, YKT_PLUGIN_LOG_INFO, "reservation %lld expired; copy %s passed on",
               (long long)due[i].id, due[i].barcode);
    }
}

/* A replacement card keeps the loans (they belong to the person); the open loans show the
 * card now in use. */
static int on_replaced(int event, void *data, void *ud)
{
    lib *L = ud;
    const ykt_ev_card *ev = data;
    (void)event;
    sqlite3_stmt *st = stmt(L, "UPDATE library_loans SET card_no = ? "
                               "WHERE person_id = ? AND returned_ms IS NULL");
    if (st == NULL)
        return YKT_DEFER;
    sqlite3_bind_text(st, 1, ev->card_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, ev->person_id);
    if (!run(st))
        L->h->log(L->self, YKT_PLUGIN_LOG_ERROR, "cannot move loans to card %s", ev->card_no);
    return YKT_DEFER;
}

/* ---- admin commands ---- */

/* [plugin.library] department: only that department's administrators run the library. */
static bool may_manage(lib *L, ykt_request *r)
{
    unsigned role = 0;
    const char *dept = "";
    if (L->department[0] == '\0' || L->h->operator_info(r, &role, &dept) != YKT_PLUGIN_OK)
        return true;
    if ((role & (YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD)) &&
        strcmp(dept ? dept : "", L->department) != 0) {
        L->h->reply_error(r, "FORBIDDEN", "the library is run by %s, not by %s", L->department,
                          dept && dept[0] ? dept : "no department");
        return false;
    }
    return true;
}

static bool opt_date(lib *L, ykt_request *r, const char *name, const char *def, char out[11])
{
    const char *v = L->h->opt(r, name);
    int64_t d;
    if (v == NULL) {
        copy_text(out, 11, def);
        return true;
    }
    if (!parse_date(v, &d)) {
        L->h->reply_error(r, "BAD_REQUEST", "--%s is a date YYYY-MM-DD", name);
        return false;
    }
    copy_text(out, 11, v);
    return true;
}

static void cell_date(lib *L, ykt_request *r, sqlite3_stmt *st, int i)
{
    char day[11] = "";
    if (sqlite3_column_type(st, i) != SQLITE_NULL)
        L->h->campus_date(sqlite3_column_int64(st, i), day);
    L->h->table_str(r, day);
}

/* library catalogue [--isbn ISBN] */
static void a_catalogue(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    if (!may_manage(L, r))
        return;
    const char *isbn_opt = h->opt(r, "isbn");
    char isbn[14] = "";
    const char *why;
    if (isbn_opt != NULL && !isbn_normalise(isbn_opt, isbn, &why)) {
        h->reply_error(r, "BAD_REQUEST", "--isbn: %s", why);
        return;
    }
    sqlite3_stmt *st =
        stmt(L, "SELECT c.barcode, t.isbn, t.title, t.author, c.location, c.status, "
                "coalesce(l.due_date, ''), "
                "(SELECT count(*) FROM library_reservations r WHERE r.title_id = t.id "
                " AND r.status = 'waiting') "
                "FROM library_copies c JOIN library_titles t ON t.id = c.title_id "
                "LEFT JOIN library_loans l ON l.barcode = c.barcode AND l.returned_ms IS NULL "
                "WHERE ?1 = '' OR t.isbn = ?1 ORDER BY t.title, c.barcode");
    if (st == NULL) {
        storage_error(L, r, "read the catalogue");
        return;
    }
    static const char *const cols[] = {"barcode",  "isbn",   "title",    "author",
                                       "location", "status", "due_date", "waiting"};
    sqlite3_bind_text(st, 1, isbn, -1, SQLITE_TRANSIENT);
    h->table_begin(r, "TABLE", 8, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        for (int i = 0; i < 7; i++)
            h->table_str(r, (const char *)sqlite3_column_text(st, i));
        h->table_int(r, sqlite3_column_int64(st, 7));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* library loans [--person NO] and library overdue: the open loans, with the fine so far. */
static void list_loans(lib *L, ykt_request *r, bool overdue_only)
{
    const ykt_host *h = L->h;
    if (!may_manage(L, r))
        return;
    char day[11];
    today(L, day);
    const char *person = overdue_only ? NULL : h->opt(r, "person");
    sqlite3_stmt *st =
        stmt(L, "SELECT l.id, l.barcode, t.title, l.person_no, l.card_no, l.borrowed_ms, "
                "l.due_date, l.renewals, l.card_type, l.person_id "
                "FROM library_loans l JOIN library_titles t ON t.id = l.title_id "
                "WHERE l.returned_ms IS NULL AND (?1 = '' OR l.person_no = ?1) "
                "AND (?2 = 0 OR l.due_date < ?3) ORDER BY l.due_date, l.id");
    if (st == NULL) {
        storage_error(L, r, "read the loans");
        return;
    }
    static const char *const cols[] = {"loan",         "barcode",    "title",    "person",
                                       "card",         "borrowed",   "due_date", "renewals",
                                       "days_overdue", "fine_so_far"};
    sqlite3_bind_text(st, 1, person ? person : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, overdue_only);
    sqlite3_bind_text(st, 3, day, -1, SQLITE_TRANSIENT);
    h->table_begin(r, "TABLE", 10, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        loan l = {.id = sqlite3_column_int64(st, 0), .person_id = sqlite3_column_int64(st, 9)};
        col_text(st, 6, l.due, sizeof l.due);
        col_text(st, 8, l.card_type, sizeof l.card_type);
        int64_t days, fine = loan_fine(L, NULL, &l, &days); /* a failing rule: -1, logged */
        h->table_row(r);
        h->table_int(r, l.id);
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        h->table_str(r, (const char *)sqlite3_column_text(st, 2));
        h->table_str(r, (const char *)sqlite3_column_text(st, 3));
        h->table_str(r, (const char *)sqlite3_column_text(st, 4));
        cell_date(L, r, st, 5);
        h->table_str(r, l.due);
        h->table_int(r, sqlite3_column_int64(st, 7));
        h->table_int(r, days > 0 ? days : 0);
        h->table_int(r, fine);
    }
    sqlite3_reset(st);
    h->table_send(r);
}

static void a_loans(ykt_request *r, void *ud)
{
    list_loans(ud, r, false);
}

static void a_overdue(ykt_request *r, void *ud)
{
    list_loans(ud, r, true);
}

/* library record PERSON: the holder's borrowing record, newest first. */
static void a_record(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    if (!may_manage(L, r))
        return;
    const char *person = h->arg(r, 0, NULL);
    ykt_card_info card;
    sqlite3_stmt *st = stmt(L, "SELECT count(*) FROM library_loans WHERE person_no = ?");
    int64_t n = -1;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, person, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (n < 0) {
        storage_error(L, r, "read the loans");
        return;
    }
    if (n == 0 && h->person_card(person, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "NOT_FOUND", "no card holder %s", person);
        return;
    }
    st = stmt(L, "SELECT l.id, l.barcode, t.title, l.borrowed_ms, l.due_date, l.returned_ms, "
                 "l.renewals, l.days_overdue, l.fine, coalesce(f.status, 'none') "
                 "FROM library_loans l JOIN library_titles t ON t.id = l.title_id "
                 "LEFT JOIN library_fines f ON f.loan_id = l.id "
                 "WHERE l.person_no = ? ORDER BY l.borrowed_ms DESC, l.id DESC");
    if (st == NULL) {
        storage_error(L, r, "read the loans");
        return;
    }
    static const char *const cols[] = {"loan",     "barcode",    "title",    "borrowed",
                                       "due_date", "returned",   "renewals", "days_overdue",
                                       "fine",     "fine_status"};
    sqlite3_bind_text(st, 1, person, -1, SQLITE_TRANSIENT);
    h->table_begin(r, "TABLE", 10, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        h->table_str(r, (const char *)sqlite3_column_text(st, 2));
        cell_date(L, r, st, 3);
        h->table_str(r, (const char *)sqlite3_column_text(st, 4));
        cell_date(L, r, st, 5);
        h->table_int(r, sqlite3_column_int64(st, 6));
        h->table_int(r, sqlite3_column_int64(st, 7));
        h->table_int(r, sqlite3_column_int64(st, 8));
        h->table_str(r, (const char *)sqlite3_column_text(st, 9));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* library fines [--from DATE] [--to DATE]: fines collected per campus day, and the total. */
static void a_fines(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    char from[11], to[11];
    if (!may_manage(L, r) || !opt_date(L, r, "from", "0000-00-00", from) ||
        !opt_date(L, r, "to", "9999-99-99", to))
        return;
    sqlite3_stmt *st = stmt(L, "SELECT settled_day, count(*), sum(amount) FROM library_fines "
                               "WHERE status = 'paid' AND settled_day BETWEEN ? AND ? "
                               "GROUP BY settled_day ORDER BY settled_day");
    if (st == NULL) {
        storage_error(L, r, "read the fines");
        return;
    }
    static const char *const cols[] = {"day", "fines", "collected_fen", "collected"};
    sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
    h->table_begin(r, "TABLE", 4, cols);
    int64_t count = 0, total = 0;
    char y[32];
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t c = sqlite3_column_int64(st, 1), s = sqlite3_column_int64(st, 2);
        count += c;
        total += s;
        yuan(s, y, sizeof y);
        h->table_row(r);
        h->table_str(r, (const char *)sqlite3_column_text(st, 0));
        h->table_int(r, c);
        h->table_int(r, s);
        h->table_str(r, y);
    }
    sqlite3_reset(st);
    yuan(total, y, sizeof y);
    h->table_row(r);
    h->table_str(r, "total");
    h->table_int(r, count);
    h->table_int(r, total);
    h->table_str(r, y);
    h->table_send(r);
}

/* library owed: who owes fines, most first. */
static void a_owed(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    if (!may_manage(L, r))
        return;
    sqlite3_stmt *st =
        stmt(L, "SELECT person_no, count(*), sum(amount), min(id) FROM library_fines "
                "WHERE status = 'owed' GROUP BY person_id "
                "ORDER BY sum(amount) DESC, person_no");
    if (st == NULL) {
        storage_error(L, r, "read the fines");
        return;
    }
    static const char *const cols[] = {"person", "fines", "owed_fen", "owed", "oldest_fine"};
    h->table_begin(r, "TABLE", 5, cols);
    char y[32];
    while (sqlite3_step(st) == SQLITE_ROW) {
        yuan(sqlite3_column_int64(st, 2), y, sizeof y);
        h->table_row(r);
        h->table_str(r, (const char *)sqlite3_column_text(st, 0));
        h->table_int(r, sqlite3_column_int64(st, 1));
        h->table_int(r, sqlite3_column_int64(st, 2));
        h->table_str(r, y);
        h->table_int(r, sqlite3_column_int64(st, 3));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* library reservations [--isbn ISBN]: the queue and the holds on the shelf. */
static void a_reservations(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    if (!may_manage(L, r))
        return;
    const char *isbn_opt = h->opt(r, "isbn");
    char isbn[14] = "";
    const char *why;
    if (isbn_opt != NULL && !isbn_normalise(isbn_opt, isbn, &why)) {
        h->reply_error(r, "BAD_REQUEST", "--isbn: %s", why);
        return;
    }
    sqlite3_stmt *st =
        stmt(L, "SELECT r.id, t.isbn, t.title, r.person_no, r.status, coalesce(r.barcode, ''), "
                "r.created_ms, r.hold_until_ms FROM library_reservations r "
                "JOIN library_titles t ON t.id = r.title_id "
                "WHERE r.status IN ('waiting', 'ready') AND (?1 = '' OR t.isbn = ?1) "
                "ORDER BY t.title, r.id");
    if (st == NULL) {
        storage_error(L, r, "read the reservations");
        return;
    }
    static const char *const cols[] = {"reservation", "isbn", "title",    "person",
                                       "status",      "copy", "reserved", "hold_until"};
    sqlite3_bind_text(st, 1, isbn, -1, SQLITE_TRANSIENT);
    h->table_begin(r, "TABLE", 8, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        for (int i = 1; i < 6; i++)
            h->table_str(r, (const char *)sqlite3_column_text(st, i));
        cell_date(L, r, st, 6);
        cell_date(L, r, st, 7);
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* library waive FINE --reason TEXT: forgives an owed fine (audited). */
static void a_waive(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    if (!may_manage(L, r))
        return;
    const char *arg = h->arg(r, 0, NULL), *reason = h->opt(r, "reason");
    char *end;
    long long id = strtoll(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || id <= 0) {
        h->reply_error(r, "BAD_REQUEST", "FINE is a fine's number (library owed, library record)");
        return;
    }
    if (reason == NULL || reason[0] == '\0' || strlen(reason) > 200) {
        h->reply_error(r, "BAD_REQUEST", "--reason says why, in at most 200 bytes");
        return;
    }
    sqlite3_stmt *st = stmt(L, "SELECT status, amount, person_no FROM library_fines WHERE id = ?");
    if (st == NULL) {
        storage_error(L, r, "read the fines");
        return;
    }
    sqlite3_bind_int64(st, 1, id);
    char status[16] = "", person[64] = "";
    int64_t amount = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        col_text(st, 0, status, sizeof status);
        amount = sqlite3_column_int64(st, 1);
        col_text(st, 2, person, sizeof person);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        h->reply_error(r, "NOT_FOUND", "no fine %lld", id);
        return;
    }
    if (strcmp(status, "owed") != 0) {
        h->reply_error(r, "NOT_OWED", "fine %lld is already %s", id, status);
        return;
    }
    char day[11];
    int64_t now = h->now_ms();
    h->campus_date(now, day);
    st = stmt(L, "UPDATE library_fines SET status = 'waived', settled_ms = ?, settled_day = ?, "
                 "note = ? WHERE id = ?");
    if (st == NULL) {
        storage_error(L, r, "waive the fine");
        return;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, id);
    char target[32], detail[320], y[32];
    yuan(amount, y, sizeof y);
    snprintf(target, sizeof target, "fine %lld", id);
    snprintf(detail, sizeof detail, "%s CNY owed by %s: %s", y, person, reason);
    if (!run(st) || h->audit(r, "library.waive", target, detail) != YKT_PLUGIN_OK) {
        storage_error(L, r, "waive the fine");
        return;
    }
    static const char *const cols[] = {"fine", "person", "amount_fen", "status"};
    h->table_begin(r, "RECORD", 4, cols);
    h->table_row(r);
    h->table_int(r, id);
    h->table_str(r, person);
    h->table_int(r, amount);
    h->table_str(r, "waived");
    h->table_send(r);
}

/* library withdraw BARCODE --reason TEXT: takes a copy on the shelf out of lending (damaged,
 * discarded). Only a copy on the shelf: a copy on the shelf means nobody is waiting for its
 * title (a returned copy goes to the queue first), so no reservation is stranded. */
static void a_withdraw(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    if (!may_manage(L, r))
        return;
    const char *barcode = h->arg(r, 0, NULL), *reason = h->opt(r, "reason");
    if (!barcode_valid(barcode, strlen(barcode))) {
        h->reply_error(r, "BAD_REQUEST", "a barcode is 1 to 32 letters, digits, '-', '_' or '.'");
        return;
    }
    if (reason == NULL || reason[0] == '\0' || strlen(reason) > 200) {
        h->reply_error(r, "BAD_REQUEST", "--reason says why, in at most 200 bytes");
        return;
    }
    copy c;
    int rc = copy_get(L, barcode, &c);
    if (rc < 0) {
        storage_error(L, r, "read the catalogue");
        return;
    }
    if (rc == 0) {
        h->reply_error(r, "NOT_FOUND", "no copy %s in the catalogue", barcode);
        return;
    }
    if (strcmp(c.status, "available") != 0) {
        h->reply_error(r, "BAD_STATE", "copy %s is %s: %s", barcode, c.status,
                       strcmp(c.status, "loaned") == 0 ? "it must come back first (LIB.DROP)"
                       : strcmp(c.status, "held") == 0
                           ? "it is held for a reservation until collected, cancelled or expired"
                           : "already out of lending");
        return;
    }
    sqlite3_stmt *st = stmt(L, "UPDATE library_copies SET status = 'withdrawn' WHERE barcode = ?");
    if (st == NULL) {
        storage_error(L, r, "withdraw the copy");
        return;
    }
    sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
    if (!run(st)) {
        storage_error(L, r, "withdraw the copy");
        return;
    }
    st =
        stmt(L, "SELECT count(*) FROM library_copies WHERE title_id = ? AND status <> 'withdrawn'");
    int64_t left = -1;
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, c.title_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            left = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (left < 0) {
        storage_error(L, r, "withdraw the copy");
        return;
    }
    char target[48], detail[400];
    snprintf(target, sizeof target, "copy %s", barcode);
    snprintf(detail, sizeof detail, "《%.120s》: %s", c.title, reason);
    if (h->audit(r, "library.withdraw", target, detail) != YKT_PLUGIN_OK) {
        storage_error(L, r, "record the withdrawal");
        return;
    }
    static const char *const cols[] = {"barcode", "title", "status", "copies_left"};
    h->table_begin(r, "RECORD", 4, cols);
    h->table_row(r);
    h->table_str(r, barcode);
    h->table_str(r, c.title);
    h->table_str(r, "withdrawn");
    h->table_int(r, left);
    h->table_send(r);
}

/* ---- CSV import ---- */

enum { CSV_MAXF = 16, CSV_FIELD = 512 };

typedef struct csv {
    const char *p, *end;
    int line; /* the line the current record starts on */
    int next_line;
    char f[CSV_MAXF][CSV_FIELD];
    int n;
    const char *err;
} csv;

/* Reads one record; returns 1, 0 at the end, -1 when malformed (c->err says why). */
static int csv_record(csv *c)
{
    if (c->p >= c->end)
        return 0;
    c->line = c->next_line;
    c->n = 0;
    size_t len = 0;
    bool quoted = false, was_quoted = false;
    for (;;) {
        bool at_end = c->p >= c->end;
        char ch = at_end ? '\n' : *c->p;
        if (quoted) {
            if (at_end) {
                c->err = "a quoted field is not closed";
                return -1;
            }
            c->p++;
            if (ch == '"') {
                if (c->p < c->end && *c->p == '"') {
                    c->p++;
                } else {
                    quoted = false;
                    continue;
                }
            } else if (ch == '\n') {
                c->next_line++;
            }
        } else if (ch == '"' && len == 0 && !was_quoted) {
            c->p++;
            quoted = was_quoted = true;
            continue;
        } else if (ch == ',' || ch == '\n' || ch == '\r') {
            if (!at_end)
                c->p++;
            if (ch == '\r' && c->p < c->end && *c->p == '\n')
                c->p++;
            if (c->n == CSV_MAXF) {
                c->err = "more than 16 columns";
                return -1;
            }
            c->f[c->n][len] = '\0';
            c->n++;
            len = 0;
            was_quoted = false;
            if (ch != ',') {
                c->next_line++;
                return 1;
            }
            continue;
        } else {
            if (was_quoted) {
                c->err = "text after a closing quote";
                return -1;
            }
            c->p++;
        }
        if (c->n < CSV_MAXF) {
            if (len + 1 >= CSV_FIELD) {
                c->err = "a field is longer than 500 bytes";
                return -1;
            }
            c->f[c->n][len++] = ch;
        }
    }
}

static void trim(char *s)
{
    size_t n = strlen(s), i = 0;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (i)
        memmove(s, s + i, n - i + 1);
}

/* The offset of the first byte that is not UTF-8 text (no control characters but tab, CR,
 * LF), or -1 when all is well. */
static long utf8_bad(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (k == 0 || i + k > n || (k == 2 && c < 0xC2))
            return (long)i;
        if (k == 1 && c < 0x20 && c != '\t' && c != '\r' && c != '\n')
            return (long)i;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return (long)i;
        i += k;
    }
    return -1;
}

typedef struct import_cols {
    int barcode, isbn, title, author, publisher, year, location;
    int ncols;
} import_cols;

static bool import_header(csv *c, import_cols *ic, char *why, size_t wlen)
{
    *ic = (import_cols){-1, -1, -1, -1, -1, -1, -1, c->n};
    static const char *const names[] = {"barcode",   "isbn", "title",   "author",
                                        "publisher", "year", "location"};
    int *slots[] = {&ic->barcode,   &ic->isbn, &ic->title,   &ic->author,
                    &ic->publisher, &ic->year, &ic->location};
    for (int i = 0; i < c->n; i++) {
        trim(c->f[i]);
        for (char *p = c->f[i]; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        int k = 0;
        while (k < 7 && strcmp(c->f[i], names[k]) != 0)
            k++;
        if (k == 7) {
            snprintf(why, wlen,
                     "unknown column '%.40s' (barcode, isbn, title, author, "
                     "publisher, year, location)",
                     c->f[i]);
            return false;
        }
        if (*slots[k] >= 0) {
            snprintf(why, wlen, "column %s appears twice", names[k]);
            return false;
        }
        *slots[k] = i;
    }
    if (ic->barcode < 0 || ic->isbn < 0 || ic->title < 0) {
        snprintf(why, wlen, "the header needs the columns barcode, isbn and title");
        return false;
    }
    return true;
}

static const char *field(csv *c, int col)
{
    return col >= 0 && col < c->n ? c->f[col] : "";
}

/* Checks and stores one row; false with *why when it is refused. */
static bool import_row(lib *L, csv *c, const import_cols *ic, int64_t now, int *titles, char *why,
                       size_t wlen)
{
    if (c->n > ic->ncols) {
        snprintf(why, wlen, "%d fields, the header has %d (quote a field that holds a comma)", c->n,
                 ic->ncols);
        return false;
    }
    for (int i = 0; i < c->n; i++)
        trim(c->f[i]);
    const char *barcode = field(c, ic->barcode), *title = field(c, ic->title);
    const char *author = field(c, ic->author), *publisher = field(c, ic->publisher);
    const char *year_s = field(c, ic->year), *location = field(c, ic->location);
    char isbn[14];
    const char *bad;
    if (!barcode_valid(barcode, strlen(barcode))) {
        snprintf(why, wlen, "barcode '%.40s' is not 1 to 32 letters, digits, '-', '_' or '.'",
                 barcode);
        return false;
    }
    if (!isbn_normalise(field(c, ic->isbn), isbn, &bad)) {
        snprintf(why, wlen, "isbn '%.20s': %s", field(c, ic->isbn), bad);
        return false;
    }
    if (title[0] == '\0' || strlen(title) > 200) {
        snprintf(why, wlen, "the title is empty or longer than 200 bytes");
        return false;
    }
    if (strlen(author) > 100 || strlen(publisher) > 100 || strlen(location) > 64) {
        snprintf(why, wlen, "author or publisher over 100 bytes, or location over 64");
        return false;
    }
    long year = 0;
    if (year_s[0] != '\0') {
        char *end;
        year = strtol(year_s, &end, 10);
        if (*end != '\0' || year < 1000 || year > 2100) {
            snprintf(why, wlen, "year '%.10s' is not a year from 1000 to 2100", year_s);
            return false;
        }
    }
    sqlite3_stmt *st = stmt(L, "SELECT 1 FROM library_copies WHERE barcode = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) {
        snprintf(why, wlen, "barcode %s is already catalogued", barcode);
        return false;
    }
    st = stmt(L, "SELECT id, title FROM library_titles WHERE isbn = ?");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, isbn, -1, SQLITE_TRANSIENT);
    int64_t title_id = 0;
    char known[MAX_TEXT] = "";
    if (sqlite3_step(st) == SQLITE_ROW) {
        title_id = sqlite3_column_int64(st, 0);
        col_text(st, 1, known, sizeof known);
    }
    sqlite3_reset(st);
    if (title_id != 0 && strcmp(known, title) != 0) {
        snprintf(why, wlen, "ISBN %s is catalogued as 《%.80s》, not 《%.80s》", isbn, known,
                 title);
        return false;
    }
    if (title_id == 0) {
        st = stmt(L, "INSERT INTO library_titles (isbn, title, author, publisher, year, "
                     "created_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING id");
        if (st == NULL)
            goto storage;
        sqlite3_bind_text(st, 1, isbn, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, title, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, author, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, publisher, -1, SQLITE_TRANSIENT);
        if (year)
            sqlite3_bind_int64(st, 5, year);
        else
            sqlite3_bind_null(st, 5);
        sqlite3_bind_int64(st, 6, now);
        if (sqlite3_step(st) == SQLITE_ROW)
            title_id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (title_id == 0)
            goto storage;
        (*titles)++;
    }
    st = stmt(L, "INSERT INTO library_copies (barcode, title_id, location, status, added_ms) "
                 "VALUES (?, ?, ?, 'available', ?)");
    if (st == NULL)
        goto storage;
    sqlite3_bind_text(st, 1, barcode, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, title_id);
    sqlite3_bind_text(st, 3, location, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now);
    if (!run(st))
        goto storage;
    /* A new copy of a title readers are waiting for is held for the first of them. */
    if (pass_on(L, barcode, title_id, title) < 0)
        goto storage;
    return true;
storage:
    snprintf(why, wlen, "the database refused the row");
    return false;
}

/* library import CSV [--name FILE]: titles and copies; all rows or none. */
static void a_import(ykt_request *r, void *ud)
{
    lib *L = ud;
    const ykt_host *h = L->h;
    if (!may_manage(L, r))
        return;
    size_t len = 0;
    const char *data = h->arg(r, 0, &len);
    const char *name = h->opt(r, "name") ? h->opt(r, "name") : "CSV";
    long bad = utf8_bad((const unsigned char *)data, len);
    if (bad >= 0) {
        h->reply_error(r, "BAD_CSV",
                       "%s: byte %ld is not UTF-8 text (save the file as UTF-8; NUL and control "
                       "characters are refused)",
                       name, bad + 1);
        return;
    }
    csv *c = calloc(1, sizeof *c);
    if (c == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "out of memory");
        return;
    }
    c->p = data;
    c->end = data + len;
    c->next_line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        c->p += 3;
    import_cols ic;
    char why[400], errors[900] = "";
    size_t elen = 0;
    int rows = 0, rejected = 0, titles = 0;
    int rc = csv_record(c);
    if (rc <= 0 || !import_header(c, &ic, why, sizeof why)) {
        h->reply_error(r, "BAD_CSV", "%s: line 1: %s", name,
                       rc == 0  ? "the file is empty"
                       : rc < 0 ? c->err
                                : why);
        free(c);
        return;
    }
    int64_t now = h->now_ms();
    while ((rc = csv_record(c)) != 0) {
        bool blank = rc > 0 && c->n == 1 && c->f[0][strspn(c->f[0], " \t")] == '\0';
        if (blank)
            continue;
        if (++rows > L->max_import_rows) {
            free(c);
            h->reply_error(r, "BAD_CSV",
                           "%s: more than %lld rows, nothing imported: split the file "
                           "(max_import_rows)",
                           name, (long long)L->max_import_rows);
            return;
        }
        bool ok = rc > 0 && import_row(L, c, &ic, now, &titles, why, sizeof why);
        if (ok)
            continue;
        rejected++;
        if (rc < 0)
            copy_text(why, sizeof why, c->err);
        if (elen < sizeof errors - 1) {
            int w = snprintf(errors + elen, sizeof errors - elen, "%sline %d: %s", elen ? "; " : "",
                             c->line, why);
            elen = w < 0 ? elen : elen + (size_t)w;
            if (elen >= sizeof errors)
                elen = sizeof errors - 1;
        }
        if (rc < 0)
            break; /* a malformed record leaves the reader lost: stop there */
    }
    free(c);
    if (rejected > 0) {
        h->reply_error(r, "BAD_CSV", "%s: %d of %d rows refused, nothing imported: %s", name,
                       rejected, rows, errors);
        return;
    }
    if (rows == 0) {
        h->reply_error(r, "BAD_CSV", "%s: no rows after the header", name);
        return;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "%d copies, %d new titles", rows, titles);
    if (h->audit(r, "library.import", name, detail) != YKT_PLUGIN_OK) {
        storage_error(L, r, "record the import");
        return;
    }
    static const char *const cols[] = {"file", "copies", "new_titles"};
    h->table_begin(r, "RECORD", 3, cols);
    h->table_row(r);
    h->table_str(r, name);
    h->table_int(r, rows);
    h->table_int(r, titles);
    h->table_send(r);
}

/* ---- options and entry points ---- */

static bool int_option(lib *L, const char *key, const char *value, long min, long max, long def,
                       int64_t *out)
{
    if (value == NULL) {
        *out = def;
        return true;
    }
    char *end;
    long long v = strtoll(value, &end, 10);
    if (*value == '\0' || *end != '\0' || v < min || v > max) {
        L->h->log(L->self, YKT_PLUGIN_LOG_ERROR,
                  "[plugin.%s] %s = %s: expected a whole number from %ld to %ld",
                  L->h->name(L->self), key, value, min, max);
        return false;
    }
    *out = v;
    return true;
}

static bool read_options(lib *L, ykt_plugin *self, const ykt_host *host)
{
    const char *merchant = host->option(self, "merchant");
    if (merchant == NULL || merchant[0] == '\0' || strlen(merchant) >= sizeof L->merchant) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "option merchant is required: the merchant (yktctl merchant add) that "
                  "receives the library's fines");
        return false;
    }
    copy_text(L->merchant, sizeof L->merchant, merchant);
    const char *status = NULL;
    int mrc = host->merchant_status(merchant, &status);
    L->merchant_known = mrc == YKT_PLUGIN_OK;
    if (mrc == YKT_PLUGIN_ENOTFOUND)
        host->log(self, YKT_PLUGIN_LOG_WARN,
                  "option merchant = %s: no such merchant yet; fines are owed, not paid, until "
                  "it is added (yktctl merchant add %s --category library)",
                  merchant, merchant);
    else if (mrc == YKT_PLUGIN_OK && strcmp(status, "active") != 0)
        host->log(self, YKT_PLUGIN_LOG_WARN,
                  "option merchant = %s: the merchant is %s; the wallet refuses fines paid to it",
                  merchant, status);
    const char *dept = host->option(self, "department");
    copy_text(L->department, sizeof L->department, dept ? dept : "");
    const char *values[2 * NCLS] = {
        host->option(self, "student_items"),   host->option(self, "student_days"),
        host->option(self, "staff_items"),     host->option(self, "staff_days"),
        host->option(self, "temporary_items"), host->option(self, "temporary_days"),
    };
    static const char *const keys[2 * NCLS] = {"student_items",   "student_days",
                                               "staff_items",     "staff_days",
                                               "temporary_items", "temporary_days"};
    static const long defaults[2 * NCLS] = {10, 30, 20, 90, 2, 14};
    int64_t v;
    for (int i = 0; i < 2 * NCLS; i++) {
        if (!int_option(L, keys[i], values[i], i % 2 ? 1 : 0, i % 2 ? 3650 : 1000, defaults[i], &v))
            return false;
        if (i % 2)
            L->days[i / 2] = (int)v;
        else
            L->items[i / 2] = (int)v;
    }
    if (!int_option(L, "max_renewals", host->option(self, "max_renewals"), 0, 100, 2, &v))
        return false;
    L->max_renewals = (int)v;
    if (!int_option(L, "hold_days", host->option(self, "hold_days"), 1, 365, 3, &v))
        return false;
    L->hold_days = (int)v;
    if (!int_option(L, "max_reservations", host->option(self, "max_reservations"), 0, 100, 5, &v))
        return false;
    L->max_reservations = (int)v;
    /* The library may ask for the password at a lower amount than the core (a return takes no
     * password, so a fine from pin_threshold up is owed), never at a higher one (R-C10). */
    if (!int_option(L, "pin_threshold", host->option(self, "pin_threshold"), 1,
                    (long)host->pin_threshold(), (long)host->pin_threshold(), &L->pin_threshold))
        return false;
    if (!int_option(L, "max_import_rows", host->option(self, "max_import_rows"), 1, 1000000, 5000,
                    &L->max_import_rows))
        return false;
    const char *block = host->option(self, "block_overdue");
    if (block != NULL && strcmp(block, "yes") != 0 && strcmp(block, "no") != 0) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "block_overdue is yes or no, not %s", block);
        return false;
    }
    L->block_overdue = block == NULL || strcmp(block, "yes") == 0;
    return true;
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
    lib *L = calloc(1, sizeof *L);
    if (L == NULL)
        return YKT_PLUGIN_EINVAL;
    *userdata = L;
    L->self = self;
    L->h = host;
    if (host->size < offsetof(ykt_host, pin_threshold) + sizeof host->pin_threshold) {
        host->log(self, YKT_PLUGIN_LOG_ERROR, "this yktd lacks host services the library needs");
        return YKT_PLUGIN_EINVAL;
    }
    if (!read_options(L, self, host))
        return YKT_PLUGIN_EINVAL;
    const char *prefix = host->option(self, "prefix");
    if (prefix == NULL || strcmp(prefix, "LIB") != 0) {
        host->log(self, YKT_PLUGIN_LOG_ERROR,
                  "the library's verbs are LIB.*: set prefix = LIB in [plugin.%s]",
                  host->name(self));
        return YKT_PLUGIN_EINVAL;
    }
    if (host->db_migrate(self, schema, (int)(sizeof schema / sizeof schema[0])) != YKT_PLUGIN_OK)
        return YKT_PLUGIN_ESTORAGE;
    const unsigned desk = YKT_TERM_POS | YKT_TERM_KIOSK;
    const unsigned seq = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    int rc = host->verb_register(self, "LIB.BORROW", desk, seq, v_borrow, L,
                                 "LIB.BORROW seq uid atc time 0 cryptogram barcode");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.RETURN", desk, seq, v_return, L,
                                 "LIB.RETURN seq uid atc time max-fine cryptogram barcode");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.DROP", desk, seq, v_drop, L, "LIB.DROP seq barcode");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.RENEW", desk, seq, v_renew, L,
                                 "LIB.RENEW seq uid atc time 0 cryptogram barcode");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.RESERVE", desk, seq, v_reserve, L,
                                 "LIB.RESERVE seq uid atc time 0 cryptogram isbn|barcode");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.CANCEL", desk, seq, v_cancel, L,
                                 "LIB.CANCEL seq uid atc time 0 cryptogram isbn|barcode");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.PAY", desk, seq, v_pay, L,
                                 "LIB.PAY seq uid atc time owed cryptogram [pin]");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.STATUS", desk, 0, v_status, L,
                                 "LIB.STATUS seq uid atc time 0 cryptogram");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.FINE", desk, 0, v_fine, L, "LIB.FINE barcode");
    if (rc == 0)
        rc = host->verb_register(self, "LIB.HISTORY", desk, 0, v_history, L,
                                 "LIB.HISTORY seq uid atc time 0 cryptogram");
    const unsigned staff = YKT_PLUGIN_ROLE_DEPT_ADMIN;
    const unsigned readers = YKT_PLUGIN_ROLE_DEPT_ADMIN | YKT_PLUGIN_ROLE_DEPT_HEAD |
                             YKT_PLUGIN_ROLE_AUDITOR | YKT_PLUGIN_ROLE_OPERATOR;
    if (rc == 0)
        rc = host->admin_register(self, "library", "import", staff, 1, "name=", 1, 1, a_import, L,
                                  "library import CSV [--name FILE]",
                                  "Add titles and copies from CSV text (all rows or none).");
    if (rc == 0)
        rc = host->admin_register(self, "library", "catalogue", readers, 0, "isbn=", 0, 0,
                                  a_catalogue, L, "library catalogue [--isbn ISBN]",
                                  "Copies with their status, due date and queue.");
    if (rc == 0)
        rc = host->admin_register(self, "library", "loans", readers | YKT_PLUGIN_ROLE_PORTAL, 0,
                                  "person=", 0, 0, a_loans, L, "library loans [--person NO]",
                                  "Current loans.");
    if (rc == 0)
        rc = host->admin_register(self, "library", "overdue", readers, 0, "", 0, 0, a_overdue, L,
                                  "library overdue", "Overdue loans with the fine so far.");
    if (rc == 0)
        rc = host->admin_register(self, "library", "record", readers | YKT_PLUGIN_ROLE_PORTAL, 0,
                                  "", 1, 1, a_record, L, "library record PERSON",
                                  "A holder's borrowing record.");
    if (rc == 0)
        rc = host->admin_register(
            self, "library", "fines", readers | YKT_PLUGIN_ROLE_FINANCE, 0, "from= to=", 0, 0,
            a_fines, L, "library fines [--from DATE] [--to DATE]", "Fines collected per day.");
    if (rc == 0)
        rc = host->admin_register(self, "library", "owed", readers | YKT_PLUGIN_ROLE_FINANCE, 0, "",
                                  0, 0, a_owed, L, "library owed", "Fines owed, by holder.");
    if (rc == 0)
        rc = host->admin_register(self, "library", "reservations", readers | YKT_PLUGIN_ROLE_PORTAL,
                                  0, "isbn=", 0, 0, a_reservations, L,
                                  "library reservations [--isbn ISBN]",
                                  "Waiting reservations and copies held.");
    if (rc == 0)
        rc = host->admin_register(self, "library", "waive", staff, 1, "reason=!", 1, 1, a_waive, L,
                                  "library waive FINE --reason TEXT",
                                  "Forgive an owed fine (audited).");
    if (rc == 0)
        rc = host->admin_register(self, "library", "withdraw", staff, 1, "reason=!", 1, 1,
                                  a_withdraw, L, "library withdraw BARCODE --reason TEXT",
                                  "Take a copy on the shelf out of lending (audited).");
    if (rc == 0)
        rc = host->subscribe(self, YKT_EV_CARD_REPLACED, on_replaced, L);
    if (rc == 0)
        rc = host->timer_every(self, 1000, expire_holds, L);
    if (rc == 0)
        host->log(self, YKT_PLUGIN_LOG_INFO, "ready: fines to merchant %s, holds kept %d days",
                  L->merchant, L->hold_days);
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    free(userdata);
}
