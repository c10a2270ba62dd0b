/* SQL for merchants, payments, daily spending, holder settings, holds, refunds, notices,
 * guardians and settlements. */
#include "store.h"
#include "util.h"
#include "../common.h"
#include "../util.h"

#include <string.h>

/* ---- merchants ---- */

#define MERCHANT_COLUMNS                                                                           \
    "id, name, category, status, fee_regular_bp, fee_temporary_bp, discount_bp, commission_bp, "   \
    "account, created_at"

static void read_merchant(sqlite3_stmt *st, ykt_merchant *m)
{
    memset(m, 0, sizeof *m);
    ykt_strlcpy(m->id, col_text(st, 0), sizeof m->id);
    ykt_strlcpy(m->name, col_text(st, 1), sizeof m->name);
    ykt_strlcpy(m->category, col_text(st, 2), sizeof m->category);
    ykt_strlcpy(m->status, col_text(st, 3), sizeof m->status);
    m->fee_regular_bp = sqlite3_column_int(st, 4);
    m->fee_temporary_bp = sqlite3_column_int(st, 5);
    m->discount_bp = sqlite3_column_int(st, 6);
    m->commission_bp = sqlite3_column_int(st, 7);
    m->account = sqlite3_column_int64(st, 8);
    m->created_at = sqlite3_column_int64(st, 9);
}

int ykt_store_merchant_insert(ykt_db *db, const ykt_merchant *m)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO merchants (" MERCHANT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "?)");
    bind_text(st, 1, m->id);
    bind_text(st, 2, m->name);
    bind_text(st, 3, m->category);
    bind_text(st, 4, m->status);
    bind_i64(st, 5, m->fee_regular_bp);
    bind_i64(st, 6, m->fee_temporary_bp);
    bind_i64(st, 7, m->discount_bp);
    bind_i64(st, 8, m->commission_bp);
    bind_i64(st, 9, m->account);
    bind_i64(st, 10, m->created_at);
    return ykt_store_step_done(db, st);
}

int ykt_store_merchant_update(ykt_db *db, const ykt_merchant *m)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE merchants SET name = ?, category = ?, status = ?, fee_regular_bp = ?, "
                 "fee_temporary_bp = ?, discount_bp = ?, commission_bp = ? WHERE id = ?");
    bind_text(st, 1, m->name);
    bind_text(st, 2, m->category);
    bind_text(st, 3, m->status);
    bind_i64(st, 4, m->fee_regular_bp);
    bind_i64(st, 5, m->fee_temporary_bp);
    bind_i64(st, 6, m->discount_bp);
    bind_i64(st, 7, m->commission_bp);
    bind_text(st, 8, m->id);
    return ykt_store_step_changed(db, st);
}

int ykt_store_merchant_get(ykt_db *db, const char *id, ykt_merchant *out)
{
    STMT_OR_FAIL(st, db, "SELECT " MERCHANT_COLUMNS " FROM merchants WHERE id = ?");
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_merchant(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_merchant_each(ykt_db *db, int (*fn)(const ykt_merchant *m, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db, "SELECT " MERCHANT_COLUMNS " FROM merchants ORDER BY id");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_merchant m;
        read_merchant(st, &m);
        int frc = fn(&m, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* ---- payments ---- */

#define PAYMENT_COLUMNS                                                                            \
    "id, at, card_time, day, card_no, person_id, terminal, seq, merchant, amount, discount, fee, " \
    "charged, refunded, offline, flag, coalesce(transfer, 0), coalesce(fee_transfer, 0)"

static void read_payment(sqlite3_stmt *st, ykt_payment_row *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    p->at = sqlite3_column_int64(st, 1);
    p->card_time = sqlite3_column_int64(st, 2);
    ykt_strlcpy(p->day, col_text(st, 3), sizeof p->day);
    ykt_strlcpy(p->card_no, col_text(st, 4), sizeof p->card_no);
    p->person_id = sqlite3_column_int64(st, 5);
    ykt_strlcpy(p->terminal, col_text(st, 6), sizeof p->terminal);
    p->seq = sqlite3_column_int64(st, 7);
    ykt_strlcpy(p->merchant, col_text(st, 8), sizeof p->merchant);
    p->amount = sqlite3_column_int64(st, 9);
    p->discount = sqlite3_column_int64(st, 10);
    p->fee = sqlite3_column_int64(st, 11);
    p->charged = sqlite3_column_int64(st, 12);
    p->refunded = sqlite3_column_int64(st, 13);
    p->offline = sqlite3_column_int(st, 14);
    ykt_strlcpy(p->flag, col_text(st, 15), sizeof p->flag);
    p->transfer = sqlite3_column_int64(st, 16);
    p->fee_transfer = sqlite3_column_int64(st, 17);
}

/* A payment joins its holder's chain (schema v10): it names the wallet's newest payment
 * before it, and becomes the newest. The wallet's row is the one the payment's debit
 * changed, so the chain costs no page of its own; it is found by its id (p->wallet), its
 * kind and owner checked; a missing wallet fails the payment. */
int ykt_store_payment_insert(ykt_db *db, ykt_payment_row *p)
{
    char owner[24];
    snprintf(owner, sizeof owner, "%lld", (long long)p->person_id);
    STMT_OR_FAIL(st, db,
                 "INSERT INTO payments (at, card_time, day, card_no, person_id, terminal, seq, "
                 "merchant, amount, discount, fee, charged, offline, flag, transfer, fee_transfer, "
                 "prev_payment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "(SELECT last_payment FROM accounts WHERE id = ?17 AND kind = 'wallet' "
                 "AND owner = ?18))");
    bind_i64(st, 1, p->at);
    bind_i64(st, 2, p->card_time);
    bind_text(st, 3, p->day);
    bind_text(st, 4, p->card_no);
    bind_i64(st, 5, p->person_id);
    bind_text(st, 6, p->terminal);
    bind_i64(st, 7, p->seq);
    bind_text(st, 8, p->merchant);
    bind_i64(st, 9, p->amount);
    bind_i64(st, 10, p->discount);
    bind_i64(st, 11, p->fee);
    bind_i64(st, 12, p->charged);
    bind_i64(st, 13, p->offline);
    bind_text(st, 14, p->flag);
    if (p->transfer > 0)
        bind_i64(st, 15, p->transfer);
    else
        sqlite3_bind_null(st, 15);
    if (p->fee_transfer > 0)
        bind_i64(st, 16, p->fee_transfer);
    else
        sqlite3_bind_null(st, 16);
    bind_i64(st, 17, p->wallet);
    bind_text(st, 18, owner);
    int rc = ykt_store_step_done(db, st);
    if (rc != YKT_OK)
        return rc;
    p->id = sqlite3_last_insert_rowid(ykt_db_handle(db));
    STMT_OR_FAIL(head, db,
                 "UPDATE accounts SET last_payment = ?1 WHERE id = ?2 AND kind = 'wallet' "
                 "AND owner = ?3");
    bind_i64(head, 1, p->id);
    bind_i64(head, 2, p->wallet);
    bind_text(head, 3, owner);
    rc = ykt_store_step_changed(db, head);
    return rc == YKT_ENOTFOUND ? YKT_ESTORAGE : rc;
}

int ykt_store_payment_get(ykt_db *db, int64_t id, ykt_payment_row *out)
{
    STMT_OR_FAIL(st, db, "SELECT " PAYMENT_COLUMNS " FROM payments WHERE id = ?");
    bind_i64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_payment(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_payment_add_refunded(ykt_db *db, int64_t id, int64_t amount)
{
    /* The CHECK (refunded <= charged) refuses an overdraft of the original. */
    STMT_OR_FAIL(st, db, "UPDATE payments SET refunded = refunded + ? WHERE id = ?");
    bind_i64(st, 1, amount);
    bind_i64(st, 2, id);
    return ykt_store_step_changed(db, st);
}

/* The filters every search applies; each search below leads with the one an index serves. */
#define PAYMENT_FILTERS                                                                            \
    "(?1 = '' OR card_no = ?1) AND (?2 = 0 OR person_id = ?2) AND (?3 = '' OR merchant = ?3) "     \
    "AND (?4 = '' OR terminal = ?4) AND at >= ?5 AND at < ?6 ORDER BY id DESC LIMIT ?7"

/* The payments of holder ?2, whose wallet's owner is the holder's id as text. */
#define HOLDERS_CHAIN HOLDER_PAYMENTS("kind = 'wallet' AND owner = CAST(?2 AS TEXT)", "?5")

/* A query whose filters are all optional cannot use an index, so a search picks the
 * statement for its most selective filter: the holder (the chain of their payments; a
 * card's payments are its holder's with that card number), the terminal (payments_once),
 * the merchant (payments_by_merchant), or else the newest payments first. */
static sqlite3_stmt *payment_search_stmt(ykt_db *db, const ykt_payment_filter *f,
                                         int64_t *person_id)
{
    *person_id = f->person_id;
    if (*person_id == 0 && f->card_no[0] != '\0') {
        sqlite3_stmt *st = ykt_db_stmt(db, "SELECT person_id FROM cards WHERE card_no = ?");
        if (st == NULL)
            return NULL;
        bind_text(st, 1, f->card_no);
        if (ykt_store_step_int64(st, person_id) == YKT_ESTORAGE)
            return NULL;
        if (*person_id == 0)
            *person_id = -1; /* no such card: nothing matches */
    }
    if (*person_id != 0)
        return ykt_db_stmt(db, "WITH RECURSIVE " HOLDERS_CHAIN " SELECT " PAYMENT_COLUMNS
                               " FROM chain JOIN payments ON payments.id = chain.pid "
                               "WHERE person_id = ?2 AND " PAYMENT_FILTERS);
    if (f->terminal[0] != '\0')
        return ykt_db_stmt(db, "SELECT " PAYMENT_COLUMNS " FROM payments WHERE terminal = ?4 "
                               "AND " PAYMENT_FILTERS);
    if (f->merchant[0] != '\0')
        return ykt_db_stmt(db, "SELECT " PAYMENT_COLUMNS " FROM payments WHERE merchant = ?3 "
                               "AND " PAYMENT_FILTERS);
    return ykt_db_stmt(db, "SELECT " PAYMENT_COLUMNS " FROM payments WHERE " PAYMENT_FILTERS);
}

int ykt_store_payment_search(ykt_db *db, const ykt_payment_filter *f,
                             int (*fn)(const ykt_payment_row *p, void *arg), void *arg)
{
    int64_t person_id;
    sqlite3_stmt *st = payment_search_stmt(db, f, &person_id);
    if (st == NULL)
        return YKT_ESTORAGE;
    bind_text(st, 1, f->card_no);
    bind_i64(st, 2, person_id);
    bind_text(st, 3, f->merchant);
    bind_text(st, 4, f->terminal);
    bind_i64(st, 5, f->from_ms);
    bind_i64(st, 6, f->to_ms > 0 ? f->to_ms : INT64_MAX);
    bind_i64(st, 7, f->limit > 0 ? f->limit : 100);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_payment_row p;
        read_payment(st, &p);
        int frc = fn(&p, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* ---- daily spending and holder settings ---- */

int ykt_store_daily_spend_get(ykt_db *db, int64_t person_id, const char *day, int64_t *amount)
{
    STMT_OR_FAIL(st, db, "SELECT amount FROM daily_spend WHERE person_id = ? AND day = ?");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, day);
    int rc = sqlite3_step(st);
    *amount = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_daily_spend_add(ykt_db *db, int64_t person_id, const char *day, int64_t amount)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO daily_spend (person_id, day, amount) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT (person_id, day) DO UPDATE SET amount = amount + ?3");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, day);
    bind_i64(st, 3, amount);
    return ykt_store_step_done(db, st);
}

int ykt_store_holder_settings_get(ykt_db *db, int64_t person_id, ykt_holder_settings *out)
{
    STMT_OR_FAIL(st, db,
                 "SELECT coalesce(daily_limit, -1), daily_limit_ref, coalesce(low_balance, -1), "
                 "coalesce(autotopup_below, -1), coalesce(autotopup_amount, 0) "
                 "FROM holder_settings WHERE person_id = ?");
    bind_i64(st, 1, person_id);
    int rc = sqlite3_step(st);
    memset(out, 0, sizeof *out);
    out->daily_limit = out->low_balance = out->autotopup_below = -1;
    if (rc == SQLITE_ROW) {
        out->daily_limit = sqlite3_column_int64(st, 0);
        ykt_strlcpy(out->daily_limit_ref, col_text(st, 1), sizeof out->daily_limit_ref);
        out->low_balance = sqlite3_column_int64(st, 2);
        out->autotopup_below = sqlite3_column_int64(st, 3);
        out->autotopup_amount = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_pay_context(ykt_db *db, int64_t person_id, const char *day, int64_t wallet,
                          const char *owner, ykt_holder_settings *s, int64_t *spent,
                          bool *wallet_ok, int64_t *balance)
{
    /* The four reads of ykt_store_holder_settings_get, ykt_store_daily_spend_get,
     * ykt_store_holds_pending_sum and ykt_store_account_balance_of, as one. */
    STMT_OR_FAIL(st, db,
                 "SELECT coalesce(h.daily_limit, -1), h.daily_limit_ref, "
                 "coalesce(h.low_balance, -1), coalesce(h.autotopup_below, -1), "
                 "coalesce(h.autotopup_amount, 0), "
                 "coalesce((SELECT amount FROM daily_spend WHERE person_id = ?1 AND day = ?2), 0), "
                 "(SELECT coalesce(sum(amount), 0) FROM holds WHERE person_id = ?1 "
                 "AND status = 'pending'), "
                 "(SELECT balance FROM accounts WHERE id = ?3 AND kind = 'wallet' AND owner = ?4) "
                 "FROM (SELECT 1) LEFT JOIN holder_settings h ON h.person_id = ?1");
    bind_i64(st, 1, person_id);
    bind_text(st, 2, day);
    bind_i64(st, 3, wallet);
    bind_text(st, 4, owner);
    int rc = sqlite3_step(st);
    memset(s, 0, sizeof *s);
    s->daily_limit = s->low_balance = s->autotopup_below = -1;
    *wallet_ok = false;
    if (rc == SQLITE_ROW) {
        s->daily_limit = sqlite3_column_int64(st, 0);
        ykt_strlcpy(s->daily_limit_ref, col_text(st, 1), sizeof s->daily_limit_ref);
        s->low_balance = sqlite3_column_int64(st, 2);
        s->autotopup_below = sqlite3_column_int64(st, 3);
        s->autotopup_amount = sqlite3_column_int64(st, 4);
        *spent = sqlite3_column_int64(st, 5) + sqlite3_column_int64(st, 6);
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
            *wallet_ok = true;
            *balance = sqlite3_column_int64(st, 7);
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? YKT_OK : YKT_ESTORAGE;
}

static void bind_opt_amount(sqlite3_stmt *st, int i, int64_t v)
{
    if (v < 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, v);
}

int ykt_store_holder_settings_put(ykt_db *db, int64_t person_id, const ykt_holder_settings *s)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO holder_settings (person_id, daily_limit, daily_limit_ref, "
                 "low_balance, autotopup_below, autotopup_amount) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                 "ON CONFLICT (person_id) DO UPDATE SET daily_limit = ?2, daily_limit_ref = ?3, "
                 "low_balance = ?4, autotopup_below = ?5, autotopup_amount = ?6");
    bind_i64(st, 1, person_id);
    bind_opt_amount(st, 2, s->daily_limit);
    bind_text(st, 3, s->daily_limit_ref);
    bind_opt_amount(st, 4, s->low_balance);
    bind_opt_amount(st, 5, s->autotopup_below);
    bind_i64(st, 6, s->autotopup_amount);
    return ykt_store_step_done(db, st);
}

/* ---- holds ---- */

#define HOLD_COLUMNS                                                                               \
    "id, at, card_no, person_id, terminal, merchant, amount, status, captured, expires_at, "       \
    "coalesce(resolved_at, 0), coalesce(payment, 0)"

static void read_hold(sqlite3_stmt *st, ykt_hold_row *h)
{
    memset(h, 0, sizeof *h);
    h->id = sqlite3_column_int64(st, 0);
    h->at = sqlite3_column_int64(st, 1);
    ykt_strlcpy(h->card_no, col_text(st, 2), sizeof h->card_no);
    h->person_id = sqlite3_column_int64(st, 3);
    ykt_strlcpy(h->terminal, col_text(st, 4), sizeof h->terminal);
    ykt_strlcpy(h->merchant, col_text(st, 5), sizeof h->merchant);
    h->amount = sqlite3_column_int64(st, 6);
    ykt_strlcpy(h->status, col_text(st, 7), sizeof h->status);
    h->captured = sqlite3_column_int64(st, 8);
    h->expires_at = sqlite3_column_int64(st, 9);
    h->resolved_at = sqlite3_column_int64(st, 10);
    h->payment = sqlite3_column_int64(st, 11);
}

int ykt_store_hold_insert(ykt_db *db, ykt_hold_row *h)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO holds (at, card_no, person_id, terminal, merchant, amount, "
                 "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    bind_i64(st, 1, h->at);
    bind_text(st, 2, h->card_no);
    bind_i64(st, 3, h->person_id);
    bind_text(st, 4, h->terminal);
    bind_text(st, 5, h->merchant);
    bind_i64(st, 6, h->amount);
    bind_i64(st, 7, h->expires_at);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK)
        h->id = sqlite3_last_insert_rowid(ykt_db_handle(db));
    return rc;
}

int ykt_store_hold_get(ykt_db *db, int64_t id, ykt_hold_row *out)
{
    STMT_OR_FAIL(st, db, "SELECT " HOLD_COLUMNS " FROM holds WHERE id = ?");
    bind_i64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_hold(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_hold_resolve(ykt_db *db, int64_t id, const char *status, int64_t captured,
                           int64_t payment, int64_t at)
{
    /* Only a pending hold changes: the WHERE clause is what makes a hold resolve once. */
    STMT_OR_FAIL(st, db,
                 "UPDATE holds SET status = ?, captured = ?, payment = ?, resolved_at = ? "
                 "WHERE id = ? AND status = 'pending'");
    bind_text(st, 1, status);
    bind_i64(st, 2, captured);
    if (payment > 0)
        bind_i64(st, 3, payment);
    else
        sqlite3_bind_null(st, 3);
    bind_i64(st, 4, at);
    bind_i64(st, 5, id);
    return ykt_store_step_changed(db, st);
}

int ykt_store_holds_expired(ykt_db *db, int64_t now, int limit, int64_t *ids, int *n)
{
    STMT_OR_FAIL(st, db,
                 "SELECT id FROM holds WHERE status = 'pending' AND expires_at <= ? "
                 "ORDER BY expires_at LIMIT ?");
    bind_i64(st, 1, now);
    bind_i64(st, 2, limit);
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit)
        ids[(*n)++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_holds_pending_sum(ykt_db *db, int64_t person_id, int64_t *sum)
{
    STMT_OR_FAIL(st, db,
                 "SELECT coalesce(sum(amount), 0) FROM holds WHERE person_id = ? AND "
                 "status = 'pending'");
    bind_i64(st, 1, person_id);
    int rc = sqlite3_step(st);
    *sum = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? YKT_OK : YKT_ESTORAGE;
}

/* ---- refunds ---- */

int ykt_store_refund_insert(ykt_db *db, int64_t payment, int64_t amount, const char *reason,
                            const char *operator_name, int64_t transfer, int64_t at, int64_t *id)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO refunds (at, payment, amount, reason, operator, transfer) "
                 "VALUES (?, ?, ?, ?, ?, ?)");
    bind_i64(st, 1, at);
    bind_i64(st, 2, payment);
    bind_i64(st, 3, amount);
    bind_text(st, 4, reason);
    bind_text(st, 5, operator_name);
    bind_i64(st, 6, transfer);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK && id != NULL)
        *id = sqlite3_last_insert_rowid(ykt_db_handle(db));
    return rc;
}

/* ---- notices ---- */

int ykt_store_notice_insert(ykt_db *db, int64_t person_id, const char *kind, const char *message,
                            int64_t amount, int64_t at)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO notices (at, person_id, kind, message, amount) "
                 "VALUES (?, ?, ?, ?, ?)");
    bind_i64(st, 1, at);
    bind_i64(st, 2, person_id);
    bind_text(st, 3, kind);
    bind_text(st, 4, message);
    bind_i64(st, 5, amount);
    return ykt_store_step_done(db, st);
}

int ykt_store_notice_statements(ykt_db *db, const char *month, int64_t month_start_ms,
                                int64_t month_end_ms, int64_t at, int64_t *count)
{
    /* The statement itself is made when it is read (account statement --month, the portal):
     * a closed month's transfers never change, so it reads the same every time. Told: each
     * holder whose wallet existed before the month ended and who held a card not cancelled
     * before the month began (a card cancelled since still had the month on it). */
    STMT_OR_FAIL(st, db,
                 "INSERT INTO notices (at, person_id, kind, message, amount) "
                 "SELECT ?1, p.id, 'statement', printf('your statement for %s is ready: the "
                 "portal''s statement page, or account statement %s --month %s at the card "
                 "centre', ?2, p.person_no, ?2), 0 "
                 "FROM people p JOIN accounts a ON a.kind = 'wallet' AND a.owner = "
                 "CAST(p.id AS TEXT) WHERE a.created_at < ?3 AND EXISTS (SELECT 1 FROM cards c "
                 "WHERE c.person_id = p.id AND (c.status <> 'cancelled' OR c.status_at >= ?4))");
    bind_i64(st, 1, at);
    bind_text(st, 2, month);
    bind_i64(st, 3, month_end_ms);
    bind_i64(st, 4, month_start_ms);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK)
        *count = sqlite3_changes64(ykt_db_handle(db));
    return rc;
}

int ykt_store_notice_each(ykt_db *db, int64_t person_id, const char *kind, int limit,
                          int (*fn)(const ykt_notice_row *n, void *arg), void *arg)
{
    /* Two statements, not one with "?1 = 0 OR": one holder's notices (the portal, each page
     * view) are searched by notices_by_person, which an OR of the two cases would not use. */
#define NOTICE_COLUMNS                                                                             \
    "SELECT n.id, n.at, n.person_id, coalesce(p.person_no, ''), n.kind, n.message, n.amount, "     \
    "n.state FROM notices n LEFT JOIN people p ON p.id = n.person_id "
    sqlite3_stmt *st;
    if (person_id != 0) {
        STMT_OR_FAIL(one, db,
                     NOTICE_COLUMNS "WHERE n.person_id = ?1 AND (?2 = '' OR n.kind = ?2) "
                                    "ORDER BY n.at DESC, n.id DESC LIMIT ?3");
        st = one;
    } else {
        STMT_OR_FAIL(all, db,
                     NOTICE_COLUMNS "WHERE (?2 = '' OR n.kind = ?2) ORDER BY n.id DESC LIMIT ?3");
        st = all;
    }
#undef NOTICE_COLUMNS
    bind_i64(st, 1, person_id);
    bind_text(st, 2, kind);
    bind_i64(st, 3, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_notice_row n = {
            .id = sqlite3_column_int64(st, 0),
            .at = sqlite3_column_int64(st, 1),
            .person_id = sqlite3_column_int64(st, 2),
            .person_no = col_text(st, 3),
            .kind = col_text(st, 4),
            .message = col_text(st, 5),
            .amount = sqlite3_column_int64(st, 6),
            .state = col_text(st, 7),
        };
        int frc = fn(&n, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* ---- guardians ---- */

int ykt_store_guardian_link(ykt_db *db, const char *operator_name, int64_t person_id)
{
    STMT_OR_FAIL(st, db, "INSERT INTO guardians (operator, person_id) VALUES (?, ?)");
    bind_text(st, 1, operator_name);
    bind_i64(st, 2, person_id);
    return ykt_store_step_done(db, st);
}

int ykt_store_guardian_of(ykt_db *db, const char *operator_name, int64_t person_id)
{
    STMT_OR_FAIL(st, db, "SELECT 1 FROM guardians WHERE operator = ? AND person_id = ?");
    bind_text(st, 1, operator_name);
    bind_i64(st, 2, person_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

/* ---- settlements ---- */

int ykt_store_settlement_sums(ykt_db *db, const ykt_merchant *m, int64_t before_ms,
                              ykt_settlement_row *out)
{
    /* Everything since the merchant's last settlement, up to the period's end: transfer ids
     * grow with time, so "after the last settled id" never counts a transfer twice. A card
     * payment never leaves a merchant's account; saying so lets SQLite read the merchant's
     * outgoing transfers from transfers_from (store/util.h, NOT_A_CARD_PAYMENT). */
    STMT_OR_FAIL(last, db,
                 "SELECT coalesce(max(upto_transfer), 0) FROM settlements WHERE merchant = ?");
    bind_text(last, 1, m->id);
    int rc = sqlite3_step(last);
    int64_t since = rc == SQLITE_ROW ? sqlite3_column_int64(last, 0) : 0;
    sqlite3_reset(last);
    if (rc != SQLITE_ROW)
        return YKT_ESTORAGE;
    STMT_OR_FAIL(
        st, db,
        "SELECT coalesce(max(id), ?1), "
        "coalesce(sum(CASE WHEN to_account = ?2 AND kind IN ('pay','pay_offline') "
        "             THEN amount END), 0), "
        "coalesce(sum(CASE WHEN from_account = ?2 AND kind = 'refund' THEN amount END), 0),"
        "count(CASE WHEN to_account = ?2 AND kind IN ('pay','pay_offline') THEN 1 END) "
        "FROM transfers WHERE id > ?1 AND at < ?3 AND (to_account = ?2 OR "
        "(from_account = ?2 AND " NOT_A_CARD_PAYMENT "))");
    bind_i64(st, 1, since);
    bind_i64(st, 2, m->account);
    bind_i64(st, 3, before_ms);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->upto_transfer = sqlite3_column_int64(st, 0);
        out->gross = sqlite3_column_int64(st, 1);
        out->refunds = sqlite3_column_int64(st, 2);
        out->payments = sqlite3_column_int64(st, 3);
        out->since_transfer = since;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return YKT_ESTORAGE;
    /* What the earlier settlements left on the account: everything up to the last settled
     * transfer, and the commissions and payouts themselves. Zero unless a refund of an
     * already settled payment took the account below zero. */
    STMT_OR_FAIL(
        carry, db,
        "SELECT coalesce(sum(CASE WHEN to_account = ?2 THEN amount ELSE -amount END), 0) "
        "FROM transfers WHERE (to_account = ?2 OR (from_account = ?2 AND " NOT_A_CARD_PAYMENT
        ")) AND (id <= ?1 OR kind IN ('commission', 'settlement'))");
    bind_i64(carry, 1, since);
    bind_i64(carry, 2, m->account);
    rc = sqlite3_step(carry);
    out->carry = rc == SQLITE_ROW ? sqlite3_column_int64(carry, 0) : 0;
    sqlite3_reset(carry);
    return rc == SQLITE_ROW ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_settlement_insert(ykt_db *db, ykt_settlement_row *s)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO settlements (at, merchant, period, payments, gross, refunds, "
                 "commission, net, upto_transfer, transfer, operator) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind_i64(st, 1, s->at);
    bind_text(st, 2, s->merchant);
    bind_text(st, 3, s->period);
    bind_i64(st, 4, s->payments);
    bind_i64(st, 5, s->gross);
    bind_i64(st, 6, s->refunds);
    bind_i64(st, 7, s->commission);
    bind_i64(st, 8, s->net);
    bind_i64(st, 9, s->upto_transfer);
    if (s->transfer > 0)
        bind_i64(st, 10, s->transfer);
    else
        sqlite3_bind_null(st, 10);
    bind_text(st, 11, s->operator_name);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK)
        s->id = sqlite3_last_insert_rowid(ykt_db_handle(db));
    return rc;
}

int ykt_store_settlement_each(ykt_db *db, const char *merchant, const char *period, int limit,
                              int (*fn)(const ykt_settlement_row *s, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT id, at, merchant, period, payments, gross, refunds, commission, net, "
                 "upto_transfer, coalesce(transfer, 0), operator FROM settlements "
                 "WHERE (?1 = '' OR merchant = ?1) AND (?2 = '' OR period LIKE ?2 || '%') "
                 "ORDER BY id DESC LIMIT ?3");
    bind_text(st, 1, merchant);
    bind_text(st, 2, period);
    bind_i64(st, 3, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_settlement_row s;
        memset(&s, 0, sizeof s);
        s.id = sqlite3_column_int64(st, 0);
        s.at = sqlite3_column_int64(st, 1);
        ykt_strlcpy(s.merchant, col_text(st, 2), sizeof s.merchant);
        ykt_strlcpy(s.period, col_text(st, 3), sizeof s.period);
        s.payments = sqlite3_column_int64(st, 4);
        s.gross = sqlite3_column_int64(st, 5);
        s.refunds = sqlite3_column_int64(st, 6);
        s.commission = sqlite3_column_int64(st, 7);
        s.net = sqlite3_column_int64(st, 8);
        s.upto_transfer = sqlite3_column_int64(st, 9);
        s.transfer = sqlite3_column_int64(st, 10);
        ykt_strlcpy(s.operator_name, col_text(st, 11), sizeof s.operator_name);
        int frc = fn(&s, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}
