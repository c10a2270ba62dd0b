/*
 * The bank terminals' verbs (terminal type bank): binding with the holder's payment password
 * (R-B1), signed transfer-in and reversal (R-B2), and the automatic top-up queue (R-W6).
 *
 * Every message that moves money or resolves a request carries an HMAC-SHA256 signature by
 * the bank's key over a canonical text (docs/plugins/bank.md); a transfer is applied once per
 * (bank, reference) whatever the retries, on top of the host's (terminal, seq) idempotency.
 */
#include "bank.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_PREFIX "ykt-bank-v1"

static void storage_error(bank_state *s, ykt_request *r, const char *what)
{
    s->host->log(s->self, YKT_PLUGIN_LOG_ERROR, "cannot %s", what);
    s->host->reply_error(r, "STORAGE_ERROR", "cannot %s; nothing was applied, retry", what);
}

/* ---- binding at a bank terminal (R-B1) ---- */

static bank_pending *pending_take(bank_state *s, const char *terminal, int64_t seq)
{
    for (bank_pending **pp = &s->pending; *pp != NULL; pp = &(*pp)->next) {
        bank_pending *p = *pp;
        if (p->seq == seq && strcmp(p->terminal, terminal) == 0) {
            *pp = p->next;
            return p;
        }
    }
    return NULL;
}

bool bank_pending_unlink(bank_state *s, const bank_pending *p)
{
    for (bank_pending **pp = &s->pending; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return true;
        }
    }
    return false;
}

void bank_pending_sweep(bank_state *s, int64_t older_than_ms)
{
    for (bank_pending **pp = &s->pending; *pp != NULL;) {
        bank_pending *p = *pp;
        if (p->created_ms <= older_than_ms) {
            *pp = p->next;
            free(p);
        } else {
            pp = &p->next;
        }
    }
}

/* Checks whether person and bank card may be bound (bind) or are bound to each other
 * (unbind); replies and returns false when not. */
void bank_binding_of(const bank_pending *p, bank_binding *b)
{
    memset(b, 0, sizeof *b);
    b->person_id = p->person_id;
    snprintf(b->person_no, sizeof b->person_no, "%s", p->person_no);
    snprintf(b->bank, sizeof b->bank, "%s", p->bank);
    snprintf(b->bank_card, sizeof b->bank_card, "%s", p->bank_card);
}

bool bank_binding_allowed(bank_state *s, ykt_request *r, const bank_pending *p)
{
    const ykt_host *h = s->host;
    bank_binding mine, theirs;
    char masked[BANK_TEXT_MAX];
    bank_mask_card(p->bank_card, masked, sizeof masked);
    int a = bank_binding_by_person(s, p->person_id, &mine);
    int b = bank_binding_by_card(s, p->bank_card, &theirs);
    if (a < 0 || b < 0) {
        storage_error(s, r, "read the bindings");
        return false;
    }
    if (!p->unbind) {
        if (a == 1) {
            char m2[BANK_TEXT_MAX];
            bank_mask_card(mine.bank_card, m2, sizeof m2);
            h->reply_error(r, "ALREADY_BOUND",
                           "this account is already bound to %s bank card %s; unbind it first",
                           mine.bank, m2);
            return false;
        }
        if (b == 1) {
            h->reply_error(r, "ALREADY_BOUND", "bank card %s is bound to another campus account",
                           masked);
            return false;
        }
        return true;
    }
    if (a == 0 || strcmp(mine.bank_card, p->bank_card) != 0 || strcmp(mine.bank, p->bank) != 0) {
        h->reply_error(r, "NOT_BOUND", "this account is not bound to %s bank card %s", p->bank,
                       masked);
        return false;
    }
    return true;
}

static void binding_done(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const ykt_terminal_info *t = h->terminal(r);
    int64_t seq = strtoll(h->arg(r, 1, NULL), NULL, 10);
    bank_pending *p = pending_take(s, t->id, seq);
    if (p == NULL) {
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
    char by[BANK_TEXT_MAX + 16];
    snprintf(by, sizeof by, "terminal:%s", t->id);
    int rc = p->unbind ? bank_unbind(s, &b, by, "at the bank terminal") : bank_bind(s, &b, by);
    bool unbind = p->unbind;
    free(p);
    if (rc != 0) {
        storage_error(s, r, unbind ? "remove the binding" : "keep the binding");
        return;
    }
    h->reply_ok(r);
}

/* BANK.BIND / BANK.UNBIND seq uid atc time 0 cryptogram bank-card pay-password */
static void binding_verb(ykt_request *r, bank_state *s, bool unbind)
{
    const ykt_host *h = s->host;
    const bank_key *bank = bank_of_terminal(s, r);
    if (bank == NULL)
        return;
    if (h->argc(r) != 9) {
        h->reply_error(r, "BAD_REQUEST",
                       "usage: BANK.%s seq uid atc time 0 cryptogram bank-card pay-password",
                       unbind ? "UNBIND" : "BIND");
        return;
    }
    ykt_card_info card;
    if (h->card_present(r, &card, NULL) != YKT_PLUGIN_OK)
        return;
    const char *bank_card = h->arg(r, 7, NULL);
    if (!bank_card_valid(bank_card)) {
        h->reply_error(r, "BAD_REQUEST", "a bank card number is %d to %d digits", BANK_CARD_MIN,
                       BANK_CARD_MAX);
        return;
    }
    const ykt_terminal_info *t = h->terminal(r);
    bank_pending *p = calloc(1, sizeof *p);
    if (p == NULL || strlen(t->id) >= sizeof p->terminal ||
        strlen(card.card_no) >= sizeof p->card_no ||
        strlen(card.person_no) >= sizeof p->person_no) {
        free(p);
        h->reply_error(r, "INTERNAL", "cannot keep the binding request");
        return;
    }
    snprintf(p->terminal, sizeof p->terminal, "%s", t->id);
    p->seq = strtoll(h->arg(r, 1, NULL), NULL, 10);
    p->created_ms = h->now_ms();
    p->unbind = unbind;
    snprintf(p->bank, sizeof p->bank, "%s", bank->id);
    snprintf(p->bank_card, sizeof p->bank_card, "%s", bank_card);
    snprintf(p->card_no, sizeof p->card_no, "%s", card.card_no);
    snprintf(p->person_no, sizeof p->person_no, "%s", card.person_no);
    p->person_id = card.person_id;
    /* Refuse what cannot succeed before asking for the (slow) password check. */
    if (!bank_binding_allowed(s, r, p)) {
        free(p);
        return;
    }
    free(pending_take(s, p->terminal, p->seq)); /* a stale one of a dead request */
    p->next = s->pending;
    s->pending = p;
    if (h->card_check_password(r, &card, "pay", h->arg(r, 8, NULL), binding_done, s) !=
        YKT_PLUGIN_OK)
        free(pending_take(s, p->terminal, p->seq)); /* refused: the host has replied */
}

static void v_bind(ykt_request *r, void *ud)
{
    binding_verb(r, ud, false);
}

static void v_unbind(ykt_request *r, void *ud)
{
    binding_verb(r, ud, true);
}

/* ---- transfer-in (R-B2) ---- */

typedef struct transfer_row {
    int64_t id, amount, request_id, balance_after, reversed, debt, reverse_balance, person_id;
    char bank_card[BANK_CARD_MAX + 1];
    char person_no[BANK_TEXT_MAX];
    char card_no[BANK_TEXT_MAX];
    char status[16];
} transfer_row;

static int transfer_get(bank_state *s, const char *bank, const char *reference, transfer_row *o)
{
    sqlite3_stmt *st = s->host->db_stmt(
        s->self, "SELECT id, amount, coalesce(request_id, 0), balance_after, reversed, debt, "
                 "coalesce(reverse_balance, 0), person_id, bank_card, person_no, card_no, status "
                 "FROM bank_transfers WHERE bank = ? AND reference = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, bank, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, reference, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (found == 1) {
        o->id = sqlite3_column_int64(st, 0);
        o->amount = sqlite3_column_int64(st, 1);
        o->request_id = sqlite3_column_int64(st, 2);
        o->balance_after = sqlite3_column_int64(st, 3);
        o->reversed = sqlite3_column_int64(st, 4);
        o->debt = sqlite3_column_int64(st, 5);
        o->reverse_balance = sqlite3_column_int64(st, 6);
        o->person_id = sqlite3_column_int64(st, 7);
        bank_col(st, 8, o->bank_card, sizeof o->bank_card);
        bank_col(st, 9, o->person_no, sizeof o->person_no);
        bank_col(st, 10, o->card_no, sizeof o->card_no);
        bank_col(st, 11, o->status, sizeof o->status);
    }
    sqlite3_reset(st);
    return found;
}

typedef struct request_row {
    int64_t id, person_id, amount;
    char bank_card[BANK_CARD_MAX + 1];
    char status[16];
    char reason[BANK_REASON_MAX + 1];
} request_row;

static int request_get(bank_state *s, const char *bank, int64_t id, request_row *o)
{
    sqlite3_stmt *st = s->host->db_stmt(s->self, "SELECT id, person_id, amount, bank_card, "
                                                 "status, coalesce(reason, '') FROM bank_requests "
                                                 "WHERE id = ? AND bank = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, bank, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (found == 1) {
        o->id = sqlite3_column_int64(st, 0);
        o->person_id = sqlite3_column_int64(st, 1);
        o->amount = sqlite3_column_int64(st, 2);
        bank_col(st, 3, o->bank_card, sizeof o->bank_card);
        bank_col(st, 4, o->status, sizeof o->status);
        bank_col(st, 5, o->reason, sizeof o->reason);
    }
    sqlite3_reset(st);
    return found;
}

/* 1 when the bank reversed this reference before any transfer arrived, 0 if not, -1. */
static int early_reversal(bank_state *s, const char *bank, const char *reference)
{
    sqlite3_stmt *st = s->host->db_stmt(s->self, "SELECT 1 FROM bank_early_reversals "
                                                 "WHERE bank = ? AND reference = ?");
    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, bank, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, reference, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static void reply_transfer(const ykt_host *h, ykt_request *r, int64_t id, int64_t amount,
                           int64_t balance)
{
    h->reply_array(r, 3);
    h->reply_int(r, id);
    h->reply_int(r, amount);
    h->reply_int(r, balance);
}

/* BANK.TRANSFER seq reference bank-card amount signature [request-id] */
static void v_transfer(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const bank_key *bank = bank_of_terminal(s, r);
    if (bank == NULL)
        return;
    int argc = h->argc(r);
    if (argc != 6 && argc != 7) {
        h->reply_error(r, "BAD_REQUEST",
                       "usage: BANK.TRANSFER seq reference bank-card amount signature "
                       "[request-id]");
        return;
    }
    const char *ref = h->arg(r, 2, NULL), *bank_card = h->arg(r, 3, NULL);
    const char *amount_s = h->arg(r, 4, NULL), *sig = h->arg(r, 5, NULL);
    const char *req_s = argc == 7 ? h->arg(r, 6, NULL) : "";
    int64_t amount = 0, request_id = 0;
    if (!bank_ref_valid(ref)) {
        h->reply_error(r, "BAD_REQUEST", "a reference is 1 to %d letters, digits, '-' or '_'",
                       BANK_REF_MAX);
        return;
    }
    if (!bank_card_valid(bank_card)) {
        h->reply_error(r, "BAD_REQUEST", "a bank card number is %d to %d digits", BANK_CARD_MIN,
                       BANK_CARD_MAX);
        return;
    }
    if (!bank_parse_fen(amount_s, &amount)) {
        h->reply_error(r, "BAD_REQUEST", "the amount is whole fen above 0, in digits");
        return;
    }
    if (argc == 7 && !bank_parse_fen(req_s, &request_id)) {
        h->reply_error(r, "BAD_REQUEST", "a request id is a number from BANK.PENDING");
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg, SIG_PREFIX "|TRANSFER|%s|%s|%s|%s|%s", bank->id, ref, bank_card,
             amount_s, req_s);
    if (!bank_signature_ok(bank, msg, sig)) {
        h->log(s->self, YKT_PLUGIN_LOG_WARN, "transfer %s/%s from terminal %s: bad signature",
               bank->id, ref, h->terminal(r)->id);
        h->reply_error(r, "BAD_SIGNATURE",
                       "the signature is not %s's HMAC-SHA256 over this transfer", bank->id);
        return;
    }
    char masked[BANK_TEXT_MAX], a[32];
    bank_mask_card(bank_card, masked, sizeof masked);
    bank_yuan(amount, a, sizeof a);

    /* Exactly once per reference: a retry, whatever its seq, gets the first outcome. */
    transfer_row prev;
    int found = transfer_get(s, bank->id, ref, &prev);
    if (found < 0) {
        storage_error(s, r, "read the transfers");
        return;
    }
    if (found == 1) {
        if (prev.amount != amount || strcmp(prev.bank_card, bank_card) != 0 ||
            prev.request_id != request_id) {
            h->reply_error(r, "REFERENCE_REUSED",
                           "reference %s was already used for another transfer (%s bank card, "
                           "amount or request)",
                           ref, strcmp(prev.bank_card, bank_card) != 0 ? "another" : "the same");
            return;
        }
        h->log(s->self, YKT_PLUGIN_LOG_INFO,
               "transfer %s/%s retried from terminal %s: the first outcome is returned", bank->id,
               ref, h->terminal(r)->id);
        reply_transfer(h, r, prev.id, prev.amount, prev.balance_after);
        return;
    }

    found = early_reversal(s, bank->id, ref);
    if (found < 0) {
        storage_error(s, r, "read the reversals");
        return;
    }
    if (found == 1) {
        h->log(s->self, YKT_PLUGIN_LOG_WARN,
               "transfer %s/%s from terminal %s refused: the bank reversed it before it arrived",
               bank->id, ref, h->terminal(r)->id);
        h->reply_error(r, "REVERSED",
                       "%s reversed transfer %s before it arrived here; nothing was applied",
                       bank->id, ref);
        return;
    }
    bank_binding b;
    found = bank_binding_by_card(s, bank_card, &b);
    if (found < 0) {
        storage_error(s, r, "read the bindings");
        return;
    }
    if (found == 0 || strcmp(b.bank, bank->id) != 0) {
        h->reply_error(r, "NOT_BOUND", "%s bank card %s is not bound to a campus account", bank->id,
                       masked);
        return;
    }
    if (request_id != 0) {
        request_row q;
        found = request_get(s, bank->id, request_id, &q);
        if (found < 0) {
            storage_error(s, r, "read the requests");
            return;
        }
        if (found == 0) {
            h->reply_error(r, "NOT_FOUND", "no automatic top-up request %" PRId64 " for %s",
                           request_id, bank->id);
            return;
        }
        if (strcmp(q.status, "pending") != 0) {
            h->reply_error(r, "REQUEST_RESOLVED", "request %" PRId64 " is already %s", request_id,
                           q.status);
            return;
        }
        if (q.person_id != b.person_id || strcmp(q.bank_card, bank_card) != 0 ||
            q.amount != amount) {
            char qa[32], qm[BANK_TEXT_MAX];
            bank_yuan(q.amount, qa, sizeof qa);
            bank_mask_card(q.bank_card, qm, sizeof qm);
            h->reply_error(r, "REQUEST_MISMATCH",
                           "request %" PRId64 " is for %s CNY from bank card %s; this transfer "
                           "is %s CNY from %s",
                           request_id, qa, qm, a, masked);
            return;
        }
    }
    ykt_card_info card;
    if (h->person_card(b.person_no, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "CARD_CANCELLED", "the holder of %s bank card %s has no live campus card",
                       bank->id, masked);
        return;
    }
    char memo[128];
    snprintf(memo, sizeof memo, "bank %s transfer-in %s from %s", bank->id, ref, masked);
    ykt_money m;
    if (h->wallet_credit(r, &card, NULL, amount, memo, &m) != YKT_PLUGIN_OK)
        return; /* LIMIT_EXCEEDED, ...: replied */
    int64_t now = h->now_ms();
    char day[11];
    h->campus_date(now, day);
    sqlite3_stmt *st = h->db_stmt(
        s->self, "INSERT INTO bank_transfers (bank, reference, bank_card, person_id, person_no, "
                 "card_no, amount, request_id, terminal, seq, at, day, balance_after) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, 0), ?, ?, ?, ?, ?) RETURNING id");
    int64_t id = 0;
    if (st != NULL) {
        sqlite3_bind_text(st, 1, bank->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, ref, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, bank_card, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, b.person_id);
        sqlite3_bind_text(st, 5, b.person_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, card.card_no, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, amount);
        sqlite3_bind_int64(st, 8, request_id);
        sqlite3_bind_text(st, 9, h->terminal(r)->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 10, strtoll(h->arg(r, 1, NULL), NULL, 10));
        sqlite3_bind_int64(st, 11, now);
        sqlite3_bind_text(st, 12, day, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 13, m.balance);
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    if (id == 0) {
        storage_error(s, r, "record the transfer");
        return;
    }
    if (request_id != 0) {
        st = h->db_stmt(s->self, "UPDATE bank_requests SET status = 'confirmed', "
                                 "resolved_at = ?, reference = ? WHERE id = ?");
        if (st != NULL) {
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_text(st, 2, ref, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 3, request_id);
        }
        if (bank_exec(s, st) != 0) {
            storage_error(s, r, "confirm the request");
            return;
        }
    }
    char note[160];
    snprintf(note, sizeof note, "%s%s CNY from %s bank card %s",
             request_id ? "automatic top-up: " : "bank transfer-in: ", a, bank->id, masked);
    h->notify(b.person_id, "bank", note, amount);
    h->log(s->self, YKT_PLUGIN_LOG_INFO, "transfer %s/%s: %s CNY to person %s (bank card %s)",
           bank->id, ref, a, b.person_no, masked);
    reply_transfer(h, r, id, amount, m.balance);
}

/* ---- reversal (冲正, R-B2) ---- */

static void reply_reversal(const ykt_host *h, ykt_request *r, int64_t moved, int64_t debt,
                           int64_t balance)
{
    h->reply_array(r, 3);
    h->reply_int(r, moved);
    h->reply_int(r, debt);
    h->reply_int(r, balance);
}

/* BANK.REVERSE seq reference signature */
static void v_reverse(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const bank_key *bank = bank_of_terminal(s, r);
    if (bank == NULL)
        return;
    if (h->argc(r) != 4) {
        h->reply_error(r, "BAD_REQUEST", "usage: BANK.REVERSE seq reference signature");
        return;
    }
    const char *ref = h->arg(r, 2, NULL), *sig = h->arg(r, 3, NULL);
    if (!bank_ref_valid(ref)) {
        h->reply_error(r, "BAD_REQUEST", "a reference is 1 to %d letters, digits, '-' or '_'",
                       BANK_REF_MAX);
        return;
    }
    char msg[128];
    snprintf(msg, sizeof msg, SIG_PREFIX "|REVERSE|%s|%s", bank->id, ref);
    if (!bank_signature_ok(bank, msg, sig)) {
        h->log(s->self, YKT_PLUGIN_LOG_WARN, "reversal %s/%s from terminal %s: bad signature",
               bank->id, ref, h->terminal(r)->id);
        h->reply_error(r, "BAD_SIGNATURE",
                       "the signature is not %s's HMAC-SHA256 over this reversal", bank->id);
        return;
    }
    transfer_row t;
    int found = transfer_get(s, bank->id, ref, &t);
    if (found < 0) {
        storage_error(s, r, "read the transfers");
        return;
    }
    if (found == 0) {
        /* The transfer never arrived, or is late: nothing to take back, but the reference is
         * spent so that it cannot land after the bank gave it up. The bank's retry is the
         * same outcome. */
        sqlite3_stmt *st = h->db_stmt(s->self, "INSERT INTO bank_early_reversals (bank, "
                                               "reference, at, terminal, seq) VALUES "
                                               "(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
        if (st != NULL) {
            sqlite3_bind_text(st, 1, bank->id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, ref, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 3, h->now_ms());
            sqlite3_bind_text(st, 4, h->terminal(r)->id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 5, strtoll(h->arg(r, 1, NULL), NULL, 10));
        }
        if (bank_exec(s, st) != 0) {
            storage_error(s, r, "record the reversal");
            return;
        }
        h->log(s->self, YKT_PLUGIN_LOG_WARN,
               "reversal %s/%s from terminal %s: no such transfer here; the reference is "
               "recorded as reversed and a late transfer with it will be refused",
               bank->id, ref, h->terminal(r)->id);
        reply_reversal(h, r, 0, 0, 0);
        return;
    }
    if (strcmp(t.status, "reversed") == 0) {
        /* Once: the bank's retry gets the first outcome. */
        reply_reversal(h, r, t.reversed, t.debt, t.reverse_balance);
        return;
    }
    ykt_card_info card;
    if (h->person_card(t.person_no, &card) != YKT_PLUGIN_OK &&
        h->card_by_no(t.card_no, &card) != YKT_PLUGIN_OK) {
        h->reply_error(r, "INTERNAL", "the card of transfer %s is gone", ref);
        return;
    }
    char memo[128];
    snprintf(memo, sizeof memo, "bank %s reversal of %s", bank->id, ref);
    ykt_money m;
    if (h->wallet_reverse(r, &card, NULL, t.amount, memo, &m) != YKT_PLUGIN_OK)
        return;
    int64_t debt = t.amount - m.charged;
    sqlite3_stmt *st = h->db_stmt(
        s->self, "UPDATE bank_transfers SET status = 'reversed', reversed = ?, debt = ?, "
                 "reversed_at = ?, reverse_terminal = ?, reverse_seq = ?, reverse_balance = ? "
                 "WHERE id = ? AND status = 'applied'");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, m.charged);
        sqlite3_bind_int64(st, 2, debt);
        sqlite3_bind_int64(st, 3, h->now_ms());
        sqlite3_bind_text(st, 4, h->terminal(r)->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, strtoll(h->arg(r, 1, NULL), NULL, 10));
        sqlite3_bind_int64(st, 6, m.balance);
        sqlite3_bind_int64(st, 7, t.id);
    }
    if (bank_exec(s, st) != 0) {
        storage_error(s, r, "record the reversal");
        return;
    }
    char a[32], d[32], note[160];
    bank_yuan(m.charged, a, sizeof a);
    bank_yuan(debt, d, sizeof d);
    if (debt > 0) {
        snprintf(note, sizeof note,
                 "bank reversal of %s: %s CNY taken back; %s CNY already spent is owed to %s", ref,
                 a, d, bank->id);
        h->log(s->self, YKT_PLUGIN_LOG_WARN,
               "reversal %s/%s: %s CNY taken back, %s CNY recorded as debt of person %s", bank->id,
               ref, a, d, t.person_no);
    } else {
        snprintf(note, sizeof note, "bank reversal of %s: %s CNY taken back", ref, a);
        h->log(s->self, YKT_PLUGIN_LOG_INFO, "reversal %s/%s: %s CNY taken back from person %s",
               bank->id, ref, a, t.person_no);
    }
    h->notify(t.person_id, "bank", note, m.charged);
    reply_reversal(h, r, m.charged, debt, m.balance);
}

/* ---- the automatic top-up queue (R-W6) ---- */

/* BANK.PENDING [after-id]: [[id, bank-card, amount, requested-at-ms], ...] */
static void v_pending(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const bank_key *bank = bank_of_terminal(s, r);
    if (bank == NULL)
        return;
    int64_t after = 0;
    if (h->argc(r) > 2 || (h->argc(r) == 2 && strcmp(h->arg(r, 1, NULL), "0") != 0 &&
                           !bank_parse_fen(h->arg(r, 1, NULL), &after))) {
        h->reply_error(r, "BAD_REQUEST", "usage: BANK.PENDING [after-id]");
        return;
    }
    sqlite3_stmt *st = h->db_stmt(s->self, "SELECT id, bank_card, amount, requested_at "
                                           "FROM bank_requests WHERE bank = ? AND status = "
                                           "'pending' AND id > ? ORDER BY id LIMIT ?");
    if (st == NULL) {
        storage_error(s, r, "read the requests");
        return;
    }
    struct {
        int64_t id, amount, at;
        char card[BANK_CARD_MAX + 1];
    } rows[BANK_PENDING_BATCH];
    int n = 0;
    sqlite3_bind_text(st, 1, bank->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, BANK_PENDING_BATCH);
    while (n < BANK_PENDING_BATCH && sqlite3_step(st) == SQLITE_ROW) {
        rows[n].id = sqlite3_column_int64(st, 0);
        bank_col(st, 1, rows[n].card, sizeof rows[n].card);
        rows[n].amount = sqlite3_column_int64(st, 2);
        rows[n].at = sqlite3_column_int64(st, 3);
        n++;
    }
    sqlite3_reset(st);
    h->reply_array(r, n);
    for (int i = 0; i < n; i++) {
        h->reply_array(r, 4);
        h->reply_int(r, rows[i].id);
        h->reply_str(r, rows[i].card);
        h->reply_int(r, rows[i].amount);
        h->reply_int(r, rows[i].at);
    }
}

/* BANK.DECLINE seq request-id reason signature */
static void v_decline(ykt_request *r, void *ud)
{
    bank_state *s = ud;
    const ykt_host *h = s->host;
    const bank_key *bank = bank_of_terminal(s, r);
    if (bank == NULL)
        return;
    int64_t id = 0;
    if (h->argc(r) != 5) {
        h->reply_error(r, "BAD_REQUEST", "usage: BANK.DECLINE seq request-id reason signature");
        return;
    }
    const char *id_s = h->arg(r, 2, NULL), *reason = h->arg(r, 3, NULL);
    if (!bank_parse_fen(id_s, &id) || !bank_word_valid(reason, BANK_REASON_MAX)) {
        h->reply_error(r, "BAD_REQUEST",
                       "the request id is a number and the reason a word of at most %d letters, "
                       "digits, '-' or '_'",
                       BANK_REASON_MAX);
        return;
    }
    char msg[128];
    snprintf(msg, sizeof msg, SIG_PREFIX "|DECLINE|%s|%s|%s", bank->id, id_s, reason);
    if (!bank_signature_ok(bank, msg, h->arg(r, 4, NULL))) {
        h->reply_error(r, "BAD_SIGNATURE",
                       "the signature is not %s's HMAC-SHA256 over this decline", bank->id);
        return;
    }
    request_row q;
    int found = request_get(s, bank->id, id, &q);
    if (found < 0) {
        storage_error(s, r, "read the requests");
        return;
    }
    if (found == 0) {
        h->reply_error(r, "NOT_FOUND", "no automatic top-up request %" PRId64 " for %s", id,
                       bank->id);
        return;
    }
    if (strcmp(q.status, "declined") == 0 && strcmp(q.reason, reason) == 0) {
        h->reply_ok(r); /* the bank's retry */
        return;
    }
    if (strcmp(q.status, "pending") != 0) {
        h->reply_error(r, "REQUEST_RESOLVED", "request %" PRId64 " is already %s", id, q.status);
        return;
    }
    sqlite3_stmt *st = h->db_stmt(s->self, "UPDATE bank_requests SET status = 'declined', "
                                           "resolved_at = ?, reason = ? WHERE id = ?");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, h->now_ms());
        sqlite3_bind_text(st, 2, reason, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, id);
    }
    if (bank_exec(s, st) != 0) {
        storage_error(s, r, "decline the request");
        return;
    }
    char a[32], note[160];
    bank_yuan(q.amount, a, sizeof a);
    snprintf(note, sizeof note, "automatic top-up of %s CNY declined by %s (%s)", a, bank->id,
             reason);
    h->notify(q.person_id, "bank", note, q.amount);
    h->log(s->self, YKT_PLUGIN_LOG_INFO, "request %" PRId64 " declined by %s: %s", id, bank->id,
           reason);
    h->reply_ok(r);
}

int bank_verbs_register(bank_state *s)
{
    const ykt_host *h = s->host;
    ykt_plugin *p = s->self;
    const unsigned money = YKT_VERB_CHANGES | YKT_VERB_SEQUENCED;
    int rc = h->verb_register(p, "BANK.BIND", YKT_TERM_BANK, money, v_bind, s,
                              "BANK.BIND seq uid atc time 0 cryptogram bank-card pay-password");
    if (rc == YKT_PLUGIN_OK)
        rc = h->verb_register(p, "BANK.UNBIND", YKT_TERM_BANK, money, v_unbind, s,
                              "BANK.UNBIND seq uid atc time 0 cryptogram bank-card pay-password");
    if (rc == YKT_PLUGIN_OK)
        rc = h->verb_register(p, "BANK.TRANSFER", YKT_TERM_BANK, money, v_transfer, s,
                              "BANK.TRANSFER seq reference bank-card amount signature "
                              "[request-id]");
    if (rc == YKT_PLUGIN_OK)
        rc = h->verb_register(p, "BANK.REVERSE", YKT_TERM_BANK, money, v_reverse, s,
                              "BANK.REVERSE seq reference signature");
    if (rc == YKT_PLUGIN_OK)
        rc = h->verb_register(p, "BANK.PENDING", YKT_TERM_BANK, 0, v_pending, s,
                              "BANK.PENDING [after-id]");
    if (rc == YKT_PLUGIN_OK)
        rc = h->verb_register(p, "BANK.DECLINE", YKT_TERM_BANK, money, v_decline, s,
                              "BANK.DECLINE seq request-id reason signature");
    return rc;
}
