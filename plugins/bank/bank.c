/*
 * bank: binding, transfer-in, reversal, automatic top-up requests and reconciliation with
 * the cooperating banks (R-B1..R-B3, R-W6). Entry points, options, keys and helpers.
 *
 * Options ([plugin.bank]): banks (the bank ids, required), key_file_<id> (each bank's HMAC
 * key, a file of mode 0600/0400), request_ttl (how long an automatic top-up request waits for
 * the bank, default 24h). See docs/plugins/bank.md.
 */
#include "bank.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/md.h>

/* ---- schema ---- */

static const char *const schema[] = {
    /* version 1 */
    "CREATE TABLE bank_bindings ("
    "  person_id INTEGER PRIMARY KEY,"
    "  person_no TEXT NOT NULL,"
    "  bank TEXT NOT NULL,"
    "  bank_card TEXT NOT NULL UNIQUE,"
    "  bound_at INTEGER NOT NULL,"
    "  bound_by TEXT NOT NULL"
    ") STRICT;"
    "CREATE TABLE bank_binding_log ("
    "  id INTEGER PRIMARY KEY,"
    "  person_id INTEGER NOT NULL,"
    "  person_no TEXT NOT NULL,"
    "  bank TEXT NOT NULL,"
    "  bank_card TEXT NOT NULL,"
    "  action TEXT NOT NULL CHECK (action IN ('bind', 'unbind')),"
    "  at INTEGER NOT NULL,"
    "  by TEXT NOT NULL,"
    "  why TEXT NOT NULL DEFAULT ''"
    ") STRICT;"
    "CREATE TABLE bank_requests ("
    "  id INTEGER PRIMARY KEY,"
    "  bank TEXT NOT NULL,"
    "  person_id INTEGER NOT NULL,"
    "  person_no TEXT NOT NULL,"
    "  bank_card TEXT NOT NULL,"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  requested_at INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN "
    "    ('pending', 'confirmed', 'declined', 'expired', 'cancelled')),"
    "  resolved_at INTEGER,"
    "  reference TEXT,"
    "  reason TEXT,"
    /* (plugins may not CREATE INDEX: the host's authorizer refuses SQLITE_REINDEX, which
     * SQLite asks for it; table constraints give the indexes instead) */
    "  UNIQUE (bank, status, id),"
    "  UNIQUE (person_id, id)"
    ") STRICT;"
    "CREATE TABLE bank_transfers ("
    "  id INTEGER PRIMARY KEY,"
    "  bank TEXT NOT NULL,"
    "  reference TEXT NOT NULL,"
    "  bank_card TEXT NOT NULL,"
    "  person_id INTEGER NOT NULL,"
    "  person_no TEXT NOT NULL,"
    "  card_no TEXT NOT NULL,"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  request_id INTEGER,"
    "  terminal TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  day TEXT NOT NULL,"
    "  balance_after INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'applied' CHECK (status IN ('applied', 'reversed')),"
    "  reversed INTEGER NOT NULL DEFAULT 0 CHECK (reversed >= 0),"
    "  debt INTEGER NOT NULL DEFAULT 0 CHECK (debt >= 0),"
    "  reversed_at INTEGER,"
    "  reverse_terminal TEXT,"
    "  reverse_seq INTEGER,"
    "  reverse_balance INTEGER,"
    "  debt_settled_at INTEGER,"
    "  debt_settled_by TEXT,"
    "  debt_note TEXT,"
    "  UNIQUE (bank, reference),"
    "  CHECK (reversed + debt <= amount),"
    "  CHECK (status = 'reversed' OR (reversed = 0 AND debt = 0)),"
    "  UNIQUE (bank, day, id),"
    "  UNIQUE (person_id, id)"
    ") STRICT;",
    /* version 2: reversals that arrived before their transfer (the transfer never came, or
     * is late): the reference is spent, so a late transfer cannot land after the bank gave
     * it up */
    "CREATE TABLE bank_early_reversals ("
    "  bank TEXT NOT NULL,"
    "  reference TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  terminal TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  PRIMARY KEY (bank, reference)"
    ") STRICT;",
    /* version 3: pending requests by index. The expiry timer (every second) and a holder's
     * pending request (AUTOTOPUP, BANK.UNBIND) read them; without these both went through
     * every request ever made (docs/performance.md, "Query plans of every verb"). */
    "CREATE INDEX bank_requests_pending ON bank_requests(requested_at) WHERE status = 'pending';"
    "CREATE INDEX bank_requests_pending_by_person ON bank_requests(person_id)"
    "  WHERE status = 'pending';",
};

/* ---- small helpers ---- */

const bank_key *bank_find(const bank_state *s, const char *id)
{
    for (int i = 0; id != NULL && i < s->nbanks; i++)
        if (strcmp(s->banks[i].id, id) == 0)
            return &s->banks[i];
    return NULL;
}

static void bank_list(const bank_state *s, char *out, size_t len)
{
    out[0] = '\0';
    for (int i = 0; i < s->nbanks; i++) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", i ? " " : "", s->banks[i].id);
    }
}

const bank_key *bank_of_terminal(bank_state *s, ykt_request *r)
{
    const ykt_host *h = s->host;
    const ykt_terminal_info *t = h->terminal(r);
    const char *owner = t != NULL && t->owner != NULL ? t->owner : "";
    const bank_key *b = owner[0] ? bank_find(s, owner) : s->nbanks == 1 ? &s->banks[0] : NULL;
    if (b == NULL) {
        char names[BANK_MAX_BANKS * (BANK_ID_MAX + 1) + 1];
        bank_list(s, names, sizeof names);
        h->reply_error(r, "NO_BANK",
                       "terminal %s belongs to no configured bank (its owner is '%.32s'; "
                       "banks: %s)",
                       t != NULL ? t->id : "?", owner, names);
    }
    return b;
}

const bank_key *bank_of_option(bank_state *s, ykt_request *r)
{
    const char *want = s->host->opt(r, "bank");
    const bank_key *b = want != NULL ? bank_find(s, want) : s->nbanks == 1 ? &s->banks[0] : NULL;
    if (b == NULL) {
        char names[BANK_MAX_BANKS * (BANK_ID_MAX + 1) + 1];
        bank_list(s, names, sizeof names);
        if (want != NULL)
            s->host->reply_error(r, "NO_BANK", "no bank '%.32s' is configured (banks: %s)", want,
                                 names);
        else
            s->host->reply_error(r, "NO_BANK",
                                 "several banks are configured: name one with "
                                 "--bank (%s)",
                                 names);
    }
    return b;
}

static bool all_digits(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (s[n] < '0' || s[n] > '9')
            return false;
    return n >= min && n <= max;
}

bool bank_card_valid(const char *s)
{
    return s != NULL && all_digits(s, BANK_CARD_MIN, BANK_CARD_MAX);
}

bool bank_word_valid(const char *s, size_t max)
{
    size_t n = 0;
    if (s == NULL)
        return false;
    for (; s[n] != '\0'; n++)
        if (!isalnum((unsigned char)s[n]) && s[n] != '-' && s[n] != '_')
            return false;
    return n >= 1 && n <= max;
}

bool bank_ref_valid(const char *s)
{
    return bank_word_valid(s, BANK_REF_MAX);
}

bool bank_parse_fen(const char *s, int64_t *out)
{
    if (s == NULL || !all_digits(s, 1, 12))
        return false;
    *out = strtoll(s, NULL, 10);
    return *out > 0;
}

void bank_mask_card(const char *card, char *out, size_t len)
{
    size_t n = strlen(card);
    if (n < 10) {
        snprintf(out, len, "****");
        return;
    }
    char buf[BANK_TEXT_MAX];
    size_t i = 0;
    for (; i < n && i < sizeof buf - 1; i++)
        buf[i] = i < 6 || i >= n - 4 ? card[i] : '*';
    buf[i] = '\0';
    snprintf(out, len, "%s", buf);
}

void bank_yuan(int64_t fen, char *out, size_t len)
{
    const char *sign = fen < 0 ? "-" : "";
    uint64_t a = fen < 0 ? (uint64_t)(-(fen + 1)) + 1 : (uint64_t)fen;
    snprintf(out, len, "%s%llu.%02llu", sign, (unsigned long long)(a / 100),
             (unsigned long long)(a % 100));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool bank_signature_ok(const bank_key *b, const char *msg, const char *sig_hex)
{
    if (sig_hex == NULL || strlen(sig_hex) != BANK_SIG_HEX)
        return false;
    uint8_t want[32], mac[32];
    for (int i = 0; i < 32; i++) {
        int hi = hexval((unsigned char)sig_hex[2 * i]),
            lo = hexval((unsigned char)sig_hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        want[i] = (uint8_t)(hi << 4 | lo);
    }
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (md == NULL ||
        mbedtls_md_hmac(md, b->key, b->len, (const unsigned char *)msg, strlen(msg), mac) != 0)
        return false;
    unsigned diff = 0;
    for (int i = 0; i < 32; i++)
        diff |= (unsigned)(mac[i] ^ want[i]);
    return diff == 0;
}

int bank_exec(bank_state *s, sqlite3_stmt *st)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        s->host->log(s->self, YKT_PLUGIN_LOG_ERROR, "statement failed: %d", rc);
        return -1;
    }
    return 0;
}

void bank_col(sqlite3_stmt *st, int i, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, len, "%s", t != NULL ? (const char *)t : "");
}

/* ---- bindings ---- */

static int binding_row(sqlite3_stmt *st, bank_binding *out)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (found == 1) {
        out->person_id = sqlite3_column_int64(st, 0);
        bank_col(st, 1, out->person_no, sizeof out->person_no);
        bank_col(st, 2, out->bank, sizeof out->bank);
        bank_col(st, 3, out->bank_card, sizeof out->bank_card);
    }
    sqlite3_reset(st);
    return found;
}

int bank_binding_by_person(bank_state *s, int64_t person_id, bank_binding *out)
{
    sqlite3_stmt *st = s->host->db_stmt(s->self, "SELECT person_id, person_no, bank, bank_card "
                                                 "FROM bank_bindings WHERE person_id = ?");
    if (st != NULL)
        sqlite3_bind_int64(st, 1, person_id);
    return binding_row(st, out);
}

int bank_binding_by_card(bank_state *s, const char *bank_card, bank_binding *out)
{
    sqlite3_stmt *st = s->host->db_stmt(s->self, "SELECT person_id, person_no, bank, bank_card "
                                                 "FROM bank_bindings WHERE bank_card = ?");
    if (st != NULL)
        sqlite3_bind_text(st, 1, bank_card, -1, SQLITE_TRANSIENT);
    return binding_row(st, out);
}

static int binding_log(bank_state *s, const bank_binding *b, const char *action, const char *by,
                       const char *why)
{
    sqlite3_stmt *st = s->host->db_stmt(
        s->self, "INSERT INTO bank_binding_log (person_id, person_no, bank, bank_card, action, "
                 "at, by, why) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, b->person_id);
    sqlite3_bind_text(st, 2, b->person_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, b->bank, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, b->bank_card, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, action, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, s->host->now_ms());
    sqlite3_bind_text(st, 7, by, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, why ? why : "", -1, SQLITE_TRANSIENT);
    return bank_exec(s, st);
}

int bank_bind(bank_state *s, const bank_binding *b, const char *by)
{
    sqlite3_stmt *st = s->host->db_stmt(
        s->self, "INSERT INTO bank_bindings (person_id, person_no, bank, bank_card, bound_at, "
                 "bound_by) VALUES (?, ?, ?, ?, ?, ?)");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, b->person_id);
    sqlite3_bind_text(st, 2, b->person_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, b->bank, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, b->bank_card, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, s->host->now_ms());
    sqlite3_bind_text(st, 6, by, -1, SQLITE_TRANSIENT);
    if (bank_exec(s, st) != 0 || binding_log(s, b, "bind", by, "") != 0)
        return -1;
    char masked[BANK_TEXT_MAX];
    bank_mask_card(b->bank_card, masked, sizeof masked);
    s->host->log(s->self, YKT_PLUGIN_LOG_INFO, "person %s bound to %s bank card %s by %s",
                 b->person_no, b->bank, masked, by);
    return 0;
}

int bank_unbind(bank_state *s, const bank_binding *b, const char *by, const char *why)
{
    sqlite3_stmt *st = s->host->db_stmt(s->self, "DELETE FROM bank_bindings WHERE person_id = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, b->person_id);
    if (bank_exec(s, st) != 0 || binding_log(s, b, "unbind", by, why) != 0)
        return -1;
    /* A request for a bank card that is no longer bound cannot be honoured. */
    st = s->host->db_stmt(s->self, "UPDATE bank_requests SET status = 'cancelled', "
                                   "resolved_at = ?, reason = 'unbound' "
                                   "WHERE person_id = ? AND status = 'pending'");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, s->host->now_ms());
    sqlite3_bind_int64(st, 2, b->person_id);
    if (bank_exec(s, st) != 0)
        return -1;
    char masked[BANK_TEXT_MAX];
    bank_mask_card(b->bank_card, masked, sizeof masked);
    s->host->log(s->self, YKT_PLUGIN_LOG_INFO, "person %s unbound from %s bank card %s by %s%s%s",
                 b->person_no, b->bank, masked, by, why && *why ? ": " : "", why ? why : "");
    return 0;
}

/* ---- events and the timer ---- */

/* R-W6: a wallet fell below the holder's automatic top-up threshold. The request waits in
 * bank_requests for the bank front-end (BANK.PENDING), which confirms it with a BANK.TRANSFER
 * naming it, or declines it. */
static int on_autotopup(int event, void *data, void *ud)
{
    (void)event;
    bank_state *s = ud;
    const ykt_ev_money *ev = data;
    bank_binding b;
    int found = bank_binding_by_person(s, ev->person_id, &b);
    if (found != 1) {
        if (found == 0)
            s->host->log(s->self, YKT_PLUGIN_LOG_INFO,
                         "automatic top-up for person id %lld not queued: no bank card is bound",
                         (long long)ev->person_id);
        return YKT_DEFER;
    }
    /* One pending request per holder: the event runs on the loop, so look, then insert. */
    sqlite3_stmt *st = s->host->db_stmt(s->self, "SELECT count(*) FROM bank_requests "
                                                 "WHERE person_id = ? AND status = 'pending'");
    if (st == NULL || ev->amount <= 0)
        return YKT_DEFER;
    sqlite3_bind_int64(st, 1, b.person_id);
    int64_t open = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (open != 0)
        return YKT_DEFER;
    st = s->host->db_stmt(s->self,
                          "INSERT INTO bank_requests (bank, person_id, person_no, bank_card, "
                          "amount, requested_at) VALUES (?, ?, ?, ?, ?, ?)");
    if (st == NULL)
        return YKT_DEFER;
    sqlite3_bind_text(st, 1, b.bank, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, b.person_id);
    sqlite3_bind_text(st, 3, b.person_no, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, b.bank_card, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, ev->amount);
    sqlite3_bind_int64(st, 6, s->host->now_ms());
    if (bank_exec(s, st) == 0) {
        char a[32];
        bank_yuan(ev->amount, a, sizeof a);
        s->host->log(s->self, YKT_PLUGIN_LOG_INFO,
                     "automatic top-up of %s CNY for person %s queued for bank %s", a, b.person_no,
                     b.bank);
    }
    return YKT_DEFER;
}

/* A holder whose last card is cancelled (not replaced) leaves: the binding goes with it, so
 * the bank card may be bound again and no transfer lands in a closed account. */
static int on_card_status(int event, void *data, void *ud)
{
    (void)event;
    bank_state *s = ud;
    const ykt_ev_card *ev = data;
    if (ev->new_status == NULL || strcmp(ev->new_status, "cancelled") != 0)
        return YKT_DEFER;
    bank_binding b;
    if (bank_binding_by_person(s, ev->person_id, &b) != 1)
        return YKT_DEFER;
    ykt_card_info card;
    if (s->host->person_card(b.person_no, &card) == YKT_PLUGIN_OK)
        return YKT_DEFER; /* replaced: the account lives on with the new card */
    bank_unbind(s, &b, "system", "the holder's card was cancelled");
    return YKT_DEFER;
}

static void on_timer(void *ud)
{
    bank_state *s = ud;
    int64_t now = s->host->now_ms();
    sqlite3_stmt *st =
        s->host->db_stmt(s->self, "UPDATE bank_requests SET status = 'expired', resolved_at = ?1 "
                                  "WHERE status = 'pending' AND requested_at <= ?1 - ?2");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, s->request_ttl_ms);
        bank_exec(s, st);
    }
    /* A password check takes well under a second; ten minutes means it will never come. */
    bank_pending_sweep(s, now - 600000);
}

/* ---- options and keys ---- */

/* Reads a key file: hex digits (32..128, i.e. 16..64 bytes), '#' comments and white space
 * allowed; a regular file of mode 0600 or 0400. The key is never logged. */
static int load_key(bank_state *s, bank_key *b, const char *path)
{
    const ykt_host *h = s->host;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR, "bank %s: cannot open key file %s: %s", b->id, path,
               strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR, "bank %s: key file %s is not a regular file", b->id,
               path);
        close(fd);
        return -1;
    }
    unsigned mode = (unsigned)(st.st_mode & 07777);
    if (mode != 0600 && mode != 0400) {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR,
               "bank %s: key file %s has mode %04o; it must be 0600 or 0400 (no group or other "
               "access)",
               b->id, path, mode);
        close(fd);
        return -1;
    }
    char buf[4097];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0 || n == (ssize_t)sizeof buf - 1) {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR, "bank %s: cannot read key file %s (%s)", b->id, path,
               n < 0 ? strerror(errno) : "larger than 4 KiB");
        return -1;
    }
    buf[n] = '\0';
    size_t digits = 0;
    int hi = -1, rc = 0;
    bool comment = false;
    for (ssize_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (comment) {
            comment = c != '\n';
            continue;
        }
        if (c == '#') {
            comment = true;
        } else if (isspace(c)) {
            continue;
        } else if (hexval(c) < 0 || digits == 2 * BANK_KEY_MAX) {
            rc = -1;
        } else if (hi < 0) {
            hi = hexval(c);
            digits++;
        } else {
            b->key[digits / 2] = (uint8_t)(hi << 4 | hexval(c));
            hi = -1;
            digits++;
        }
    }
    for (ssize_t i = 0; i < n; i++)
        ((volatile char *)buf)[i] = 0;
    if (rc != 0 || hi >= 0 || digits < 32) {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR,
               "bank %s: key file %s must hold the key as 32 to 128 hex digits (16 to 64 "
               "bytes)",
               b->id, path);
        return -1;
    }
    b->len = digits / 2;
    return 0;
}

static bool parse_duration(const char *v, int64_t *ms)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || n <= 0 || n > 1000000000LL)
        return false;
    int64_t unit = strcmp(end, "") == 0 || strcmp(end, "s") == 0 ? 1000
                   : strcmp(end, "m") == 0                       ? 60000
                   : strcmp(end, "h") == 0                       ? 3600000
                   : strcmp(end, "d") == 0                       ? 86400000
                                                                 : 0;
    *ms = (int64_t)n * unit;
    return unit != 0;
}

static int read_options(bank_state *s)
{
    const ykt_host *h = s->host;
    const char *banks = h->option(s->self, "banks");
    if (banks == NULL || banks[0] == '\0') {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR,
               "option banks is required: the ids of the cooperating banks (e.g. banks = icbc), "
               "each with key_file_<id>");
        return -1;
    }
    char list[256];
    snprintf(list, sizeof list, "%s", banks);
    for (char *save = NULL, *id = strtok_r(list, " ,", &save); id != NULL;
         id = strtok_r(NULL, " ,", &save)) {
        bool ok = strlen(id) <= BANK_ID_MAX;
        for (const char *p = id; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok || s->nbanks == BANK_MAX_BANKS || bank_find(s, id) != NULL) {
            h->log(s->self, YKT_PLUGIN_LOG_ERROR,
                   "option banks: '%.32s' is %s (at most %d distinct ids of lower-case letters, "
                   "digits and '_', up to %d characters)",
                   id, ok ? "one too many or repeated" : "not a bank id", BANK_MAX_BANKS,
                   BANK_ID_MAX);
            return -1;
        }
        bank_key *b = &s->banks[s->nbanks++];
        snprintf(b->id, sizeof b->id, "%s", id);
        char key[64];
        snprintf(key, sizeof key, "key_file_%s", id);
        const char *path = h->option(s->self, key);
        if (path == NULL || path[0] == '\0') {
            h->log(s->self, YKT_PLUGIN_LOG_ERROR, "bank %s: option %s (its key file) is required",
                   id, key);
            return -1;
        }
        if (load_key(s, b, path) != 0)
            return -1;
    }
    if (s->nbanks == 0) {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR, "option banks names no bank");
        return -1;
    }
    s->request_ttl_ms = 86400000;
    const char *ttl = h->option(s->self, "request_ttl");
    if (ttl != NULL && !parse_duration(ttl, &s->request_ttl_ms)) {
        h->log(s->self, YKT_PLUGIN_LOG_ERROR,
               "option request_ttl = '%.32s': expected a duration such as 90s, 30m, 24h or 2d",
               ttl);
        return -1;
    }
    return 0;
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
    bank_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return YKT_PLUGIN_EINVAL;
    *userdata = s;
    s->self = self;
    s->host = host;
    if (read_options(s) != 0)
        return YKT_PLUGIN_EINVAL;
    if (host->db_migrate(self, schema, (int)(sizeof schema / sizeof schema[0])) != YKT_PLUGIN_OK)
        return YKT_PLUGIN_ESTORAGE;
    int rc = bank_verbs_register(s);
    if (rc == YKT_PLUGIN_OK)
        rc = bank_admin_register(s);
    if (rc == YKT_PLUGIN_OK)
        rc = host->subscribe(self, YKT_EV_AUTOTOPUP, on_autotopup, s);
    if (rc == YKT_PLUGIN_OK)
        rc = host->subscribe(self, YKT_EV_CARD_STATUS, on_card_status, s);
    if (rc == YKT_PLUGIN_OK)
        rc = host->timer_every(self, 1000, on_timer, s);
    if (rc == YKT_PLUGIN_OK) {
        char names[BANK_MAX_BANKS * (BANK_ID_MAX + 1) + 1];
        bank_list(s, names, sizeof names);
        host->log(self, YKT_PLUGIN_LOG_INFO, "ready: banks %s", names);
    }
    return rc;
}

void ykt_plugin_cleanup(void *userdata)
{
    bank_state *s = userdata;
    if (s == NULL)
        return;
    bank_pending_sweep(s, INT64_MAX);
    volatile uint8_t *p = (volatile uint8_t *)s->banks;
    for (size_t i = 0; i < sizeof s->banks; i++)
        p[i] = 0;
    free(s);
}
