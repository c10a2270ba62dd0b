/*
 * The bank plugin's admin commands: bindings by an operator (R-B1, audited), listings of
 * transfers, requests and debts, settling a debt, and the reconciliation of a bank's daily
 * statement with the transfers recorded here (R-B3), which changes no money.
 */
#include "bank.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROLES_READ          (YKT_PLUGIN_ROLE_OPERATOR | YKT_PLUGIN_ROLE_FINANCE | YKT_PLUGIN_ROLE_AUDITOR)
#define STATEMENT_MAX_LINES 100000

static void iso_time(int64_t ms, char *out, size_t len)
{
    if (ms <= 0) {
        snprintf(out, len, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void cell_time(const ykt_host *h, ykt_request *r, int64_t ms)
{
    char buf[32];
    iso_time(ms, buf, sizeof buf);
    h->table_str(r, ms > 0 ? buf : NULL);
}

static void cell_yuan(const ykt_host *h, ykt_request *r, int64_t fen)
{
    char buf[32];
    bank_yuan(fen, buf, sizeof buf);
    h->table_str(r, buf);
}

static void cell_card(const ykt_host *h, ykt_request *r, const char *card)
{
    char buf[BANK_TEXT_MAX];
    bank_mask_card(card, buf, sizeof buf);
    h->table_str(r, card[0] ? buf : NULL);
}

static bool date_valid(const char *d)
{
    if (d == NULL || strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)d[i]))
            return false;
    int m = atoi(d + 5), day = atoi(d + 8);
    return m >= 1 && m <= 12 && day >= 1 && day <= 31;
}

/* ---- bindings (R-B1) ---- */

/* The plugin's state for the password check's done callback, whose userdata is the pending
 * binding itself: that may have been swept (a check that never concluded), so it is looked up
 * in the live list before it is touched. yktd loads the plugin once. */
static bank_state *admin_state;

/* After the holder's payment password matched: bind or unbind as the operator asked. */
static void admin_binding_done(ykt_request *r, void *ud)
{
    bank_state *s = admin_state;
    const ykt_host *h = s->host;
    bank_pending *p = ud;
    const char *op = h->operator_name(r);
    if (!bank_pending_unlink(s, p)) {
        h->reply_error(r, "INTERNAL", "the binding request was lost; retry");
        return;
    }
    if (op == NULL || strcmp(op, p->operator_name) != 0) {
        free(p);
        h->reply_error(r, "INTERNAL", "the binding request was lost; retry");
        return;
    }
    /* Bindings may have changed while the password was checked. */
    if (!bank_binding_allowed(s, r, p)) {
        free(p);
        return;
    }
    bank_binding b;
    bank_binding_of(p, &b);
    char masked[BANK_TEXT_MAX], detail[256];
    bank_mask_card(b.bank_card, masked, sizeof masked);
    /* The host keeps the request's options across the password check: audit() records
     * --approval in the audit row's approval column. */
    snprintf(detail, sizeof detail, "bank=%s card=%s pay password checked", b.bank, masked);
    bool unbind = p->unbind;
    int rc = unbind ? bank_unbind(s, &b, op, "by an operator") : bank_bind(s, &b, op);
    free(p);
    if (rc != 0 ||
        h->audit(r, unbind ? "bank.unbind" : "bank.bind", b.person_no, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot %s",
                       unbind ? "remove the binding" : "keep the binding");
        return;
    }
    if (unbind) {
        h->reply_ok(r);
        return;
    }
    static const char *const cols[] = {"person", "bank", "bank_card"};
    h->table_begin(r, "RECORD", 3, cols);
    h->table_row(r);
    h->table_str(r, b.person_no);
    h->table_str(r, b.bank);
    h->table_str(r, masked);
    h->table_send(r);
}

/* Checks the holder's payment password (--pay-password, typed by the holder at the counter),
 * then admin_binding_done binds or unbinds. */
static void admin_binding(ykt_request *r, bank_state *s, const ykt_card_info *card,
                          const char *bank, const char *bank_card, bool unbind)
{
    const ykt_host *h = s->host;
    const char *op = h->operator_name(r);
    bank_pending *p = calloc(1, sizeof *p);
    if (p == NULL || op == NULL || strlen(op) >= sizeof p->operator_name ||
        strlen(card->person_no) >= sizeof p->person_no ||
        strlen(card->card_no) >= sizeof p->card_no) {
        free(p);
        h->reply_error(r, "BAD_REQUEST", "cannot keep the binding request (an overlong value)");
        return;
    }
    p->created_ms = h->now_ms();
    p->unbind = unbind;
    snprintf(p->operator_name, sizeof p->operator_name, "%s", op);
    snprintf(p->bank, sizeof p->bank, "%s", bank);
    snprintf(p->bank_card, sizeof p->bank_card, "%s", bank_card);
    snprintf(p->card_no, sizeof p->card_no, "%s", card->card_no);
    snprintf(p->person_no, sizeof p->person_no, "%s", card->person_no);
    p->person_id = card->person_id;
    /* Refuse what cannot succeed before asking for the (slow) password check. */
    if (!bank_binding_allowed(s, r, p)) {
        free(p);
        return;
    }
    p->next = s->pending;
    s->pending = p;
    if (h->card_check_password(r, card, "pay", h->opt(r, "pay-password"), admin_binding_done, p) !=
            YKT_PLUGIN_OK &&
        bank_pending_unlink(s, p))
        free(p); /* refused (BAD_REQUEST, NO_PASSWORD, PASSWORD_LOCKED): the host has replied */
}

/* bank bind PERSON BANK_CARD --pay-password PIN [--bank ID] */
static void a_bind(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const char *person_no = h->arg(r, 0, NULL), *bank_card = h->arg(r, 1, NULL);
    const bank_key *bank = bank_of_option(s, r);
    if (bank == NULL)
        return;
    if (!bank_card_valid(bank_card)) {
        h->reply_error(r, "BAD_REQUEST", "a bank card number is %d to %d digits", BANK_CARD_MIN,
                       BANK_CARD_MAX);
        return;
    }
    ykt_card_info card;
    if (h->person_card(person_no, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "NOT_FOUND", "no person %.64s with a live campus card", person_no);
        return;
    }
    admin_binding(r, s, &card, bank->id, bank_card, false);
}

/* bank unbind PERSON --pay-password PIN */
static void a_unbind(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const char *person_no = h->arg(r, 0, NULL);
    ykt_card_info card;
    if (h->person_card(person_no, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "NOT_FOUND", "no person %.64s with a live campus card", person_no);
        return;
    }
    bank_binding b;
    int found = bank_binding_by_person(s, card.person_id, &b);
    if (found < 0) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the bindings");
        return;
    }
    if (found == 0) {
        h->reply_error(r, "NOT_BOUND", "%.64s has no bank card bound", person_no);
        return;
    }
    admin_binding(r, s, &card, b.bank, b.bank_card, true);
}

/* bank bindings [--person NO] [--bank ID] */
static void a_bindings(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    sqlite3_stmt *st = h->db_stmt(
        s->self, "SELECT person_no, bank, bank_card, bound_at, bound_by FROM bank_bindings "
                 "WHERE (?1 IS NULL OR person_no = ?1) AND (?2 IS NULL OR bank = ?2) "
                 "ORDER BY person_no");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the bindings");
        return;
    }
    sqlite3_bind_text(st, 1, h->opt(r, "person"), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, h->opt(r, "bank"), -1, SQLITE_TRANSIENT);
    static const char *const cols[] = {"person", "bank", "bank_card", "bound_at", "bound_by"};
    h->table_begin(r, "TABLE", 5, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char card[BANK_CARD_MAX + 1];
        bank_col(st, 2, card, sizeof card);
        h->table_row(r);
        h->table_str(r, (const char *)sqlite3_column_text(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        cell_card(h, r, card);
        cell_time(h, r, sqlite3_column_int64(st, 3));
        h->table_str(r, (const char *)sqlite3_column_text(st, 4));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* ---- transfers, requests, debts ---- */

/* bank transfers [--person NO] [--bank ID] [--date D] [--reference R] */
static void a_transfers(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const char *date = h->opt(r, "date");
    if (date != NULL && !date_valid(date)) {
        h->reply_error(r, "BAD_REQUEST", "--date is YYYY-MM-DD");
        return;
    }
    sqlite3_stmt *st =
        h->db_stmt(s->self, "SELECT id, bank, reference, bank_card, person_no, amount, at, status, "
                            "reversed, debt, coalesce(request_id, 0), terminal FROM bank_transfers "
                            "WHERE (?1 IS NULL OR person_no = ?1) AND (?2 IS NULL OR bank = ?2) "
                            "AND (?3 IS NULL OR day = ?3) AND (?4 IS NULL OR reference = ?4) "
                            "ORDER BY id DESC LIMIT 1000");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the transfers");
        return;
    }
    sqlite3_bind_text(st, 1, h->opt(r, "person"), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, h->opt(r, "bank"), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, date, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, h->opt(r, "reference"), -1, SQLITE_TRANSIENT);
    static const char *const cols[] = {"transfer", "bank",   "reference", "bank_card",
                                       "person",   "amount", "at",        "status",
                                       "reversed", "debt",   "request",   "terminal"};
    h->table_begin(r, "TABLE", 12, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char card[BANK_CARD_MAX + 1];
        bank_col(st, 3, card, sizeof card);
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        h->table_str(r, (const char *)sqlite3_column_text(st, 2));
        cell_card(h, r, card);
        h->table_str(r, (const char *)sqlite3_column_text(st, 4));
        cell_yuan(h, r, sqlite3_column_int64(st, 5));
        cell_time(h, r, sqlite3_column_int64(st, 6));
        h->table_str(r, (const char *)sqlite3_column_text(st, 7));
        cell_yuan(h, r, sqlite3_column_int64(st, 8));
        cell_yuan(h, r, sqlite3_column_int64(st, 9));
        if (sqlite3_column_int64(st, 10) > 0)
            h->table_int(r, sqlite3_column_int64(st, 10));
        else
            h->table_str(r, NULL);
        h->table_str(r, (const char *)sqlite3_column_text(st, 11));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* bank requests [--person NO] [--status S] */
static void a_requests(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const char *status = h->opt(r, "status");
    static const char *const statuses[] = {"pending", "confirmed", "declined", "expired",
                                           "cancelled"};
    bool ok = status == NULL;
    for (size_t i = 0; !ok && i < sizeof statuses / sizeof statuses[0]; i++)
        ok = strcmp(status, statuses[i]) == 0;
    if (!ok) {
        h->reply_error(r, "BAD_REQUEST",
                       "--status is pending, confirmed, declined, expired or cancelled");
        return;
    }
    sqlite3_stmt *st =
        h->db_stmt(s->self, "SELECT id, bank, person_no, bank_card, amount, requested_at, status, "
                            "resolved_at, reference, reason FROM bank_requests "
                            "WHERE (?1 IS NULL OR person_no = ?1) AND (?2 IS NULL OR status = ?2) "
                            "ORDER BY id DESC LIMIT 1000");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the requests");
        return;
    }
    sqlite3_bind_text(st, 1, h->opt(r, "person"), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
    static const char *const cols[] = {"request",   "bank",   "person",   "bank_card", "amount",
                                       "requested", "status", "resolved", "reference", "reason"};
    h->table_begin(r, "TABLE", 10, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char card[BANK_CARD_MAX + 1];
        bank_col(st, 3, card, sizeof card);
        h->table_row(r);
        h->table_int(r, sqlite3_column_int64(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        h->table_str(r, (const char *)sqlite3_column_text(st, 2));
        cell_card(h, r, card);
        cell_yuan(h, r, sqlite3_column_int64(st, 4));
        cell_time(h, r, sqlite3_column_int64(st, 5));
        h->table_str(r, (const char *)sqlite3_column_text(st, 6));
        cell_time(h, r, sqlite3_column_int64(st, 7));
        h->table_str(r, (const char *)sqlite3_column_text(st, 8));
        h->table_str(r, (const char *)sqlite3_column_text(st, 9));
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* bank debts [--all]: what reversals could not take back, owed to the banks */
static void a_debts(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    bool all = h->opt(r, "all") != NULL;
    sqlite3_stmt *st = h->db_stmt(
        s->self, "SELECT bank, reference, person_no, amount, reversed, debt, reversed_at, "
                 "debt_settled_at, coalesce(debt_settled_by, ''), coalesce(debt_note, '') "
                 "FROM bank_transfers WHERE debt > 0 AND (?1 OR debt_settled_at IS NULL) "
                 "ORDER BY reversed_at, id");
    if (st == NULL) {
        h->reply_error(r, "STORAGE_ERROR", "cannot read the debts");
        return;
    }
    sqlite3_bind_int(st, 1, all);
    static const char *const cols[] = {"bank", "reference", "person",  "amount",     "reversed",
                                       "debt", "since",     "settled", "settled_by", "note"};
    h->table_begin(r, "TABLE", 10, cols);
    while (sqlite3_step(st) == SQLITE_ROW) {
        h->table_row(r);
        h->table_str(r, (const char *)sqlite3_column_text(st, 0));
        h->table_str(r, (const char *)sqlite3_column_text(st, 1));
        h->table_str(r, (const char *)sqlite3_column_text(st, 2));
        cell_yuan(h, r, sqlite3_column_int64(st, 3));
        cell_yuan(h, r, sqlite3_column_int64(st, 4));
        cell_yuan(h, r, sqlite3_column_int64(st, 5));
        cell_time(h, r, sqlite3_column_int64(st, 6));
        cell_time(h, r, sqlite3_column_int64(st, 7));
        const char *by = (const char *)sqlite3_column_text(st, 8);
        const char *note = (const char *)sqlite3_column_text(st, 9);
        h->table_str(r, by != NULL && by[0] ? by : NULL);
        h->table_str(r, note != NULL && note[0] ? note : NULL);
    }
    sqlite3_reset(st);
    h->table_send(r);
}

/* bank debt-settle BANK REFERENCE --note TEXT: the bank recovered the debt itself (from the
 * holder, say); no money moves here, the debt is marked settled with who and why. */
static void a_debt_settle(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const char *bank = h->arg(r, 0, NULL), *ref = h->arg(r, 1, NULL);
    const char *note = h->opt(r, "note");
    if (bank_find(s, bank) == NULL) {
        h->reply_error(r, "NO_BANK", "no bank '%.32s' is configured", bank);
        return;
    }
    if (note == NULL || note[0] == '\0' || strlen(note) > 200) {
        h->reply_error(r, "BAD_REQUEST",
                       "--note says how the debt was settled (at most 200 "
                       "bytes)");
        return;
    }
    sqlite3_stmt *st = h->db_stmt(s->self, "SELECT debt, debt_settled_at IS NOT NULL, person_no "
                                           "FROM bank_transfers WHERE bank = ? AND reference = ?");
    int64_t debt = -1;
    int settled = 0;
    char person[BANK_TEXT_MAX] = "";
    if (st != NULL) {
        sqlite3_bind_text(st, 1, bank, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, ref, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            debt = sqlite3_column_int64(st, 0);
            settled = sqlite3_column_int(st, 1);
            bank_col(st, 2, person, sizeof person);
        }
        sqlite3_reset(st);
    }
    if (debt < 0) {
        h->reply_error(r, "NOT_FOUND", "no transfer %.40s of %s", ref, bank);
        return;
    }
    if (debt == 0 || settled) {
        h->reply_error(r, "BAD_STATE", "transfer %s of %s has %s", ref, bank,
                       debt == 0 ? "no debt" : "its debt settled already");
        return;
    }
    st = h->db_stmt(s->self, "UPDATE bank_transfers SET debt_settled_at = ?, debt_settled_by = ?, "
                             "debt_note = ? WHERE bank = ? AND reference = ?");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, h->now_ms());
        sqlite3_bind_text(st, 2, h->operator_name(r), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, note, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, bank, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, ref, -1, SQLITE_TRANSIENT);
    }
    char target[64], detail[256], a[32];
    bank_yuan(debt, a, sizeof a);
    snprintf(target, sizeof target, "%s/%s", bank, ref);
    snprintf(detail, sizeof detail, "person=%s debt=%s note=%s", person, a, note);
    if (bank_exec(s, st) != 0 || h->audit(r, "bank.debt-settle", target, detail) != YKT_PLUGIN_OK) {
        h->reply_error(r, "STORAGE_ERROR", "cannot record the settlement");
        return;
    }
    h->reply_ok(r);
}

/* ---- reconciliation (R-B3) ---- */

typedef struct stmt_entry {
    char ref[BANK_REF_MAX + 1];
    char card[BANK_CARD_MAX + 1];
    int64_t net; /* transfers minus reversals, fen */
    int lines;
    int line; /* first line */
    bool card_conflict;
} stmt_entry;

typedef struct diff_row {
    int cls; /* index into classes[] */
    char ref[BANK_REF_MAX + 1];
    char card[BANK_CARD_MAX + 1];
    int64_t bank_fen, here_fen;
    bool has_bank, has_here;
    char person[BANK_TEXT_MAX];
    char note[160];
} diff_row;

static const char *const classes[] = {"only_bank", "only_here", "amount_differs", "card_differs",
                                      "matched"};
enum { ONLY_BANK, ONLY_HERE, AMOUNT_DIFFERS, CARD_DIFFERS, MATCHED };

typedef struct recon {
    stmt_entry *entries;
    size_t n, cap;
    diff_row *rows;
    size_t nrows, caprows;
    char date[11];
    char err[200];
} recon;

static void recon_free(recon *c)
{
    free(c->entries);
    free(c->rows);
}

static diff_row *recon_row(recon *c)
{
    if (c->nrows == c->caprows) {
        size_t cap = c->caprows ? c->caprows * 2 : 64;
        diff_row *p = realloc(c->rows, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        c->rows = p;
        c->caprows = cap;
    }
    diff_row *d = &c->rows[c->nrows++];
    memset(d, 0, sizeof *d);
    return d;
}

/* Splits one CSV line in place (RFC 4180 quoting within the line); returns the field count
 * or -1 for a broken quote. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max)
            return n;
        char *out = p, *start = p;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"') {
            p++;
            out = start;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *out++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *out++ = *p++;
            }
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p != ',' && *p != '\0')
                return -1;
        } else {
            out = start = p;
            while (*p != ',' && *p != '\0')
                p++;
            out = p;
            while (out > start && (out[-1] == ' ' || out[-1] == '\t'))
                out--;
        }
        char end = *p;
        *out = '\0';
        fields[n++] = start;
        if (end == '\0')
            return n;
        p++;
    }
}

/* "123.45", "123.4", "123" CNY -> fen; above 0. */
static bool parse_cny(const char *s, int64_t *fen)
{
    int64_t whole = 0;
    int i = 0, digits = 0;
    for (; isdigit((unsigned char)s[i]); i++, digits++) {
        if (digits == 12)
            return false;
        whole = whole * 10 + (s[i] - '0');
    }
    if (digits == 0)
        return false;
    int64_t frac = 0;
    if (s[i] == '.') {
        i++;
        int f = 0;
        for (; isdigit((unsigned char)s[i]); i++, f++) {
            if (f == 2)
                return false;
            frac = frac * 10 + (s[i] - '0');
        }
        if (f == 0)
            return false;
        if (f == 1)
            frac *= 10;
    }
    if (s[i] != '\0')
        return false;
    *fen = whole * 100 + frac;
    return *fen > 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const stmt_entry *)a)->ref, ((const stmt_entry *)b)->ref);
}

/* Reads the statement into c->entries, one per reference (sorted); false with c->err. */
static bool parse_statement(recon *c, char *text, size_t len, const char *want_date)
{
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    int col_ref = -1, col_amount = -1, col_card = -1, col_kind = -1, col_date = -1, ncols = 0;
    int lineno = 0, data_lines = 0;
    if (want_date != NULL)
        snprintf(c->date, sizeof c->date, "%s", want_date);
    char *next = text;
    while (next != NULL && *next != '\0') {
        char *line = next;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        size_t l = strlen(line);
        if (l > 0 && line[l - 1] == '\r')
            line[--l] = '\0';
        bool blank = true;
        for (size_t i = 0; i < l && blank; i++)
            blank = isspace((unsigned char)line[i]);
        if (blank)
            continue;
        char *f[16];
        int nf = csv_split(line, f, 16);
        if (nf < 0) {
            snprintf(c->err, sizeof c->err, "line %d: a quoted field is not closed", lineno);
            return false;
        }
        if (ncols == 0) {
            ncols = nf;
            for (int i = 0; i < nf; i++) {
                for (char *p = f[i]; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                int *slot = strcmp(f[i], "reference") == 0   ? &col_ref
                            : strcmp(f[i], "amount") == 0    ? &col_amount
                            : strcmp(f[i], "bank_card") == 0 ? &col_card
                            : strcmp(f[i], "kind") == 0      ? &col_kind
                            : strcmp(f[i], "date") == 0      ? &col_date
                                                             : NULL;
                if (slot != NULL && *slot >= 0) {
                    snprintf(c->err, sizeof c->err, "line %d: column %.20s appears twice", lineno,
                             f[i]);
                    return false;
                }
                if (slot != NULL)
                    *slot = i;
            }
            if (col_ref < 0 || col_amount < 0) {
                snprintf(c->err, sizeof c->err,
                         "line %d: the header must name the columns reference and amount "
                         "(optional: bank_card, kind, date)",
                         lineno);
                return false;
            }
            continue;
        }
        if (++data_lines > STATEMENT_MAX_LINES) {
            snprintf(c->err, sizeof c->err, "more than %d lines", STATEMENT_MAX_LINES);
            return false;
        }
        if (nf != ncols) {
            snprintf(c->err, sizeof c->err, "line %d: %d fields; the header has %d", lineno, nf,
                     ncols);
            return false;
        }
        const char *ref = f[col_ref], *card = col_card >= 0 ? f[col_card] : "";
        const char *kind = col_kind >= 0 ? f[col_kind] : "transfer";
        int64_t fen;
        if (!bank_ref_valid(ref)) {
            snprintf(c->err, sizeof c->err, "line %d: '%.40s' is not a reference", lineno, ref);
            return false;
        }
        if (!parse_cny(f[col_amount], &fen)) {
            snprintf(c->err, sizeof c->err,
                     "line %d: amount '%.20s' is not CNY above 0 (like 100.00)", lineno,
                     f[col_amount]);
            return false;
        }
        if (card[0] != '\0' && !bank_card_valid(card)) {
            snprintf(c->err, sizeof c->err, "line %d: the bank card number is not %d to %d digits",
                     lineno, BANK_CARD_MIN, BANK_CARD_MAX);
            return false;
        }
        if (strcmp(kind, "transfer") != 0 && strcmp(kind, "reversal") != 0) {
            snprintf(c->err, sizeof c->err, "line %d: kind '%.20s' is not transfer or reversal",
                     lineno, kind);
            return false;
        }
        if (col_date >= 0) {
            const char *d = f[col_date];
            if (!date_valid(d)) {
                snprintf(c->err, sizeof c->err, "line %d: date '%.20s' is not YYYY-MM-DD", lineno,
                         d);
                return false;
            }
            if (c->date[0] == '\0') {
                snprintf(c->date, sizeof c->date, "%s", d);
            } else if (strcmp(c->date, d) != 0) {
                snprintf(c->err, sizeof c->err,
                         "line %d: date %s, but the statement is of %s (one day per statement)",
                         lineno, d, c->date);
                return false;
            }
        }
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            stmt_entry *p = realloc(c->entries, cap * sizeof *p);
            if (p == NULL) {
                snprintf(c->err, sizeof c->err, "out of memory");
                return false;
            }
            c->entries = p;
            c->cap = cap;
        }
        stmt_entry *e = &c->entries[c->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->ref, sizeof e->ref, "%s", ref);
        snprintf(e->card, sizeof e->card, "%s", card);
        e->net = strcmp(kind, "reversal") == 0 ? -fen : fen;
        e->lines = 1;
        e->line = lineno;
    }
    if (ncols == 0) {
        snprintf(c->err, sizeof c->err, "the statement is empty (not even a header line)");
        return false;
    }
    if (c->date[0] == '\0') {
        snprintf(c->err, sizeof c->err,
                 "the statement has no date column: give the day with --date YYYY-MM-DD");
        return false;
    }
    /* One entry per reference: a bank listing a reference twice is reported, not refused. */
    if (c->n > 0)
        qsort(c->entries, c->n, sizeof *c->entries, entry_cmp);
    size_t j = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (j > 0 && strcmp(c->entries[j - 1].ref, c->entries[i].ref) == 0) {
            stmt_entry *m = &c->entries[j - 1];
            m->net += c->entries[i].net;
            m->lines++;
            if (m->card[0] == '\0')
                memcpy(m->card, c->entries[i].card, sizeof m->card); /* same-size arrays */
            else if (c->entries[i].card[0] && strcmp(m->card, c->entries[i].card) != 0)
                m->card_conflict = true;
            continue;
        }
        c->entries[j++] = c->entries[i];
    }
    c->n = j;
    return true;
}

typedef struct here_row {
    char ref[BANK_REF_MAX + 1];
    char card[BANK_CARD_MAX + 1];
    char person[BANK_TEXT_MAX];
    char status[16];
    char day[11];
    int64_t amount, reversed, debt;
} here_row;

static void here_fill(sqlite3_stmt *st, here_row *o)
{
    bank_col(st, 0, o->ref, sizeof o->ref);
    bank_col(st, 1, o->card, sizeof o->card);
    bank_col(st, 2, o->person, sizeof o->person);
    bank_col(st, 3, o->status, sizeof o->status);
    bank_col(st, 4, o->day, sizeof o->day);
    o->amount = sqlite3_column_int64(st, 5);
    o->reversed = sqlite3_column_int64(st, 6);
    o->debt = sqlite3_column_int64(st, 7);
}

/* What the bank should show for a transfer recorded here: the amount, or nothing once it
 * was reversed (the bank could not complete it). */
static int64_t here_net(const here_row *t)
{
    return strcmp(t->status, "reversed") == 0 ? 0 : t->amount;
}

static void here_note(const here_row *t, const char *date, char *out, size_t len)
{
    char a[32], d[32];
    out[0] = '\0';
    if (strcmp(t->status, "reversed") == 0) {
        bank_yuan(t->reversed, a, sizeof a);
        bank_yuan(t->debt, d, sizeof d);
        snprintf(out, len, "reversed here (%s CNY taken back, %s CNY debt)", a, d);
    }
    if (strcmp(t->day, date) != 0) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%srecorded here on %s", used ? "; " : "", t->day);
    }
}

static int diff_cmp(const void *a, const void *b)
{
    const diff_row *x = a, *y = b;
    return x->cls != y->cls ? x->cls - y->cls : strcmp(x->ref, y->ref);
}

static bool add_diff(recon *c, int cls, const char *ref, const char *card, const stmt_entry *e,
                     const here_row *t, const char *note)
{
    diff_row *d = recon_row(c);
    if (d == NULL)
        return false;
    d->cls = cls;
    snprintf(d->ref, sizeof d->ref, "%s", ref);
    snprintf(d->card, sizeof d->card, "%s", card);
    if (e != NULL) {
        d->has_bank = true;
        d->bank_fen = e->net;
    }
    if (t != NULL) {
        d->has_here = true;
        d->here_fen = here_net(t);
        snprintf(d->person, sizeof d->person, "%s", t->person);
    }
    snprintf(d->note, sizeof d->note, "%s", note ? note : "");
    return true;
}

/* bank reconcile STATEMENT [--bank ID] [--date D] [--all] [--name FILE] */
static void a_reconcile(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const bank_key *bank = bank_of_option(s, r);
    if (bank == NULL)
        return;
    const char *want_date = h->opt(r, "date");
    if (want_date != NULL && !date_valid(want_date)) {
        h->reply_error(r, "BAD_REQUEST", "--date is YYYY-MM-DD");
        return;
    }
    bool all = h->opt(r, "all") != NULL;
    size_t len = 0;
    const char *data = h->arg(r, 0, &len);
    char *text = malloc(len + 1);
    recon c = {0};
    if (text == NULL) {
        h->reply_error(r, "INTERNAL", "out of memory");
        return;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    bool ok = parse_statement(&c, text, len, want_date);
    free(text);
    if (!ok) {
        const char *name = h->opt(r, "name");
        h->reply_error(r, "BAD_STATEMENT", "%s%s%s", name ? name : "", name ? ": " : "", c.err);
        recon_free(&c);
        return;
    }
    /* The statement's references, against the transfers recorded here (any day). */
    sqlite3_stmt *one = h->db_stmt(
        s->self, "SELECT reference, bank_card, person_no, status, day, amount, reversed, debt "
                 "FROM bank_transfers WHERE bank = ? AND reference = ?");
    sqlite3_stmt *day = h->db_stmt(
        s->self, "SELECT reference, bank_card, person_no, status, day, amount, reversed, debt "
                 "FROM bank_transfers WHERE bank = ? AND day = ? ORDER BY reference");
    if (one == NULL || day == NULL) {
        recon_free(&c);
        h->reply_error(r, "STORAGE_ERROR", "cannot read the transfers");
        return;
    }
    int matched = 0;
    ok = true;
    for (size_t i = 0; ok && i < c.n; i++) {
        stmt_entry *e = &c.entries[i];
        sqlite3_bind_text(one, 1, bank->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(one, 2, e->ref, -1, SQLITE_TRANSIENT);
        here_row t;
        bool found = sqlite3_step(one) == SQLITE_ROW;
        if (found)
            here_fill(one, &t);
        sqlite3_reset(one);
        char note[160] = "";
        if (e->lines > 1)
            snprintf(note, sizeof note, "listed %d times by the bank; ", e->lines);
        if (!found) {
            size_t used = strlen(note);
            if (e->net == 0) {
                /* transferred and reversed at the bank, never applied here: they agree */
                snprintf(note + used, sizeof note - used,
                         "reversed at the bank; never applied here");
                if ((matched++, all))
                    ok = add_diff(&c, MATCHED, e->ref, e->card, e, NULL, note);
                continue;
            }
            snprintf(note + used, sizeof note - used, "no such transfer here");
            ok = add_diff(&c, ONLY_BANK, e->ref, e->card, e, NULL, note);
            continue;
        }
        char hn[120];
        here_note(&t, c.date, hn, sizeof hn);
        size_t used = strlen(note);
        snprintf(note + used, sizeof note - used, "%s", hn);
        if (e->net != here_net(&t))
            ok = add_diff(&c, AMOUNT_DIFFERS, e->ref, t.card, e, &t, note);
        else if ((e->card[0] && strcmp(e->card, t.card) != 0) || e->card_conflict)
            ok = add_diff(&c, CARD_DIFFERS, e->ref, e->card, e, &t,
                          note[0] ? note : "the bank names another bank card");
        else if ((matched++, all))
            ok = add_diff(&c, MATCHED, e->ref, t.card, e, &t, note);
    }
    /* The day's transfers here that the bank does not list. */
    sqlite3_bind_text(day, 1, bank->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(day, 2, c.date, -1, SQLITE_TRANSIENT);
    while (ok && sqlite3_step(day) == SQLITE_ROW) {
        here_row t;
        here_fill(day, &t);
        stmt_entry key;
        snprintf(key.ref, sizeof key.ref, "%s", t.ref);
        if (c.n > 0 && bsearch(&key, c.entries, c.n, sizeof *c.entries, entry_cmp) != NULL)
            continue;
        char note[120];
        here_note(&t, c.date, note, sizeof note);
        if (here_net(&t) != 0)
            ok = add_diff(&c, ONLY_HERE, t.ref, t.card, NULL, &t, "not on the statement");
        else if ((matched++, all))
            ok = add_diff(&c, MATCHED, t.ref, t.card, NULL, &t, note);
    }
    sqlite3_reset(day);
    if (!ok) {
        recon_free(&c);
        h->reply_error(r, "INTERNAL", "out of memory");
        return;
    }
    if (c.nrows > 0)
        qsort(c.rows, c.nrows, sizeof *c.rows, diff_cmp);
    size_t differences = 0;
    for (size_t i = 0; i < c.nrows; i++)
        differences += c.rows[i].cls != MATCHED;
    h->log(s->self, YKT_PLUGIN_LOG_INFO,
           "statement of %s for %s reconciled by %s: %zu references, %d matched, %zu "
           "differences",
           bank->id, c.date, h->operator_name(r), c.n, matched, differences);
    static const char *const cols[] = {"class",       "reference", "bank_card", "bank_amount",
                                       "here_amount", "person",    "note"};
    h->table_begin(r, "TABLE", 7, cols);
    for (size_t i = 0; i < c.nrows; i++) {
        const diff_row *d = &c.rows[i];
        h->table_row(r);
        h->table_str(r, classes[d->cls]);
        h->table_str(r, d->ref);
        cell_card(h, r, d->card);
        if (d->has_bank)
            cell_yuan(h, r, d->bank_fen);
        else
            h->table_str(r, NULL);
        if (d->has_here)
            cell_yuan(h, r, d->here_fen);
        else
            h->table_str(r, NULL);
        h->table_str(r, d->person[0] ? d->person : NULL);
        h->table_str(r, d->note[0] ? d->note : NULL);
    }
    h->table_send(r);
    recon_free(&c);
}

int bank_admin_register(bank_state *s)
{
    const ykt_host *h = s->host;
    ykt_plugin *p = s->self;
    admin_state = s;
    int rc =
        h->admin_register(p, "bank", "bind", YKT_PLUGIN_ROLE_OPERATOR, 1, "bank= pay-password=!", 2,
                          2, a_bind, s, "bank bind PERSON BANK_CARD --pay-password PIN [--bank ID]",
                          "Bind a bank card to a holder's account, one to one, with the "
                          "holder's payment password (R-B1).");
    if (rc == YKT_PLUGIN_OK)
        rc = h->admin_register(p, "bank", "unbind", YKT_PLUGIN_ROLE_OPERATOR, 1, "pay-password=!",
                               1, 1, a_unbind, s, "bank unbind PERSON --pay-password PIN",
                               "Remove a holder's bank card binding, with the holder's payment "
                               "password.");
    if (rc == YKT_PLUGIN_OK)
        rc = h->admin_register(p, "bank", "bindings", ROLES_READ, 0, "person= bank=", 0, 0,
                               a_bindings, s, "bank bindings [--person NO] [--bank ID]",
                               "Bank card bindings (card numbers masked).");
    if (rc == YKT_PLUGIN_OK)
        rc = h->admin_register(p, "bank", "transfers", ROLES_READ, 0,
                               "person= bank= date= reference=", 0, 0, a_transfers, s,
                               "bank transfers [--person NO] [--bank ID] [--date YYYY-MM-DD] "
                               "[--reference REF]",
                               "Bank transfer-ins, newest first, with reversals and debt.");
    if (rc == YKT_PLUGIN_OK)
        rc = h->admin_register(p, "bank", "requests", ROLES_READ, 0, "person= status=", 0, 0,
                               a_requests, s, "bank requests [--person NO] [--status S]",
                               "Automatic top-up requests for the bank front-end (R-W6).");
    if (rc == YKT_PLUGIN_OK)
        rc = h->admin_register(p, "bank", "debts", ROLES_READ, 0, "all", 0, 0, a_debts, s,
                               "bank debts [--all]",
                               "What reversals could not take back: owed to the banks.");
    if (rc == YKT_PLUGIN_OK)
        rc = h->admin_register(p, "bank", "debt-settle", YKT_PLUGIN_ROLE_FINANCE, 1, "note=!", 2, 2,
                               a_debt_settle, s, "bank debt-settle BANK REFERENCE --note TEXT",
                               "Mark a reversal's debt settled outside the system (audited).");
    if (rc == YKT_PLUGIN_OK)
        rc = h->admin_register(
            p, "bank", "reconcile", YKT_PLUGIN_ROLE_FINANCE | YKT_PLUGIN_ROLE_AUDITOR, 0,
            "bank= date= all name=", 1, 1, a_reconcile, s,
            "bank reconcile STATEMENT_CSV [--bank ID] [--date YYYY-MM-DD] [--all]",
            "Match a bank's daily statement with the transfers here; report the differences.");
    return rc;
}
