/*
 * The ledger audit (`yktctl audit`): proves the invariants of the money on its own read-only
 * connection, so it sees one committed snapshot (WAL) and can run on the thread pool while
 * the gateway keeps serving.
 */
#include "store.h"
#include "util.h"
#include "../common.h"
#include "../util.h"

#include <stdio.h>
#include <string.h>

typedef struct check_sql {
    const char *name;
    const char *what;
    /* Returns one row: the number of violations and a sample for the report. */
    const char *sql;
} check_sql;

static const check_sql checks[] = {
    {"sum_zero", "all account balances sum to zero (double entry)",
     "SELECT CASE WHEN coalesce(sum(balance), 0) = 0 THEN 0 ELSE 1 END, "
     "'the sum is ' || coalesce(sum(balance), 0) FROM accounts"},
    {"balances_match_transfers", "each cached balance equals its transfers in minus out",
     /* One pass over the transfers: transfers_from does not list a card payment's
      * transfers (migration v6), so a lookup per account would read the whole table. */
     "WITH net AS (SELECT account, sum(amount) AS amount FROM ("
     "  SELECT to_account AS account, amount FROM transfers "
     "  UNION ALL SELECT from_account, -amount FROM transfers) GROUP BY account), "
     "flows AS (SELECT a.id, a.kind, a.owner, a.balance, coalesce(n.amount, 0) AS computed "
     "  FROM accounts a LEFT JOIN net n ON n.account = a.id) "
     "SELECT count(*), coalesce(group_concat(kind || ':' || owner || ' has ' || balance || "
     "' but transfers say ' || computed, '; '), '') FROM flows WHERE balance <> computed"},
    {"no_negative_wallet", "no wallet is below zero except recorded offline debt",
     "SELECT count(*), coalesce(group_concat('wallet ' || owner || ' at ' || balance, '; '), '') "
     "FROM accounts a WHERE kind = 'wallet' AND balance < 0 AND CAST(a.owner AS INTEGER) "
     "NOT IN (SELECT person_id FROM payments WHERE flag = 'debt' OR flag LIKE 'debt,%')"},
    {"payment_chains", "each payment is on its holder's chain of payments, once",
     /* A holder's history and payment searches read the chain (schema v10), so a payment
      * missing from it would be missing from both. */
     "WITH RECURSIVE walk(owner, pid) AS ("
     "  SELECT owner, last_payment FROM accounts WHERE kind = 'wallet' AND last_payment IS NOT NULL"
     "  UNION ALL SELECT w.owner, p.prev_payment FROM walk w JOIN payments p ON p.id = w.pid"
     "  WHERE p.prev_payment < p.id), "
     "chained AS (SELECT CAST(w.owner AS INTEGER) AS person_id, count(*) AS n FROM walk w"
     "  JOIN payments p ON p.id = w.pid AND p.person_id = CAST(w.owner AS INTEGER)"
     "  GROUP BY w.owner), "
     "actual AS (SELECT person_id, count(*) AS n FROM payments GROUP BY person_id) "
     "SELECT count(*), coalesce(group_concat('holder ' || a.person_id || ': ' || a.n || "
     "' payments, ' || coalesce(c.n, 0) || ' on the chain', '; '), '') FROM actual a "
     "LEFT JOIN chained c ON c.person_id = a.person_id WHERE coalesce(c.n, 0) <> a.n"},
    {"refunds_within_original", "refunds never exceed their original payment",
     "SELECT count(*), coalesce(group_concat('payment ' || id, '; '), '') FROM payments p "
     "WHERE refunded > charged OR refunded <> "
     "(SELECT coalesce(sum(amount), 0) FROM refunds r WHERE r.payment = p.id)"},
    {"idempotency_once", "each (terminal, seq) was applied at most once",
     "SELECT count(*), coalesce(group_concat(terminal || '#' || seq, '; '), '') FROM "
     "(SELECT terminal, seq FROM payments GROUP BY terminal, seq HAVING count(*) > 1)"},
    {"holds_resolved_once", "escrow holds exactly the pending holds; each hold resolved once",
     "SELECT CASE WHEN (SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = 'escrow') = "
     "(SELECT coalesce(sum(amount), 0) FROM holds WHERE status = 'pending') "
     "AND NOT EXISTS (SELECT 1 FROM holds WHERE status = 'captured' AND captured > amount) "
     "THEN 0 ELSE 1 END, 'escrow ' || (SELECT coalesce(sum(balance), 0) FROM accounts WHERE "
     "kind = 'escrow') || ' vs pending holds ' || (SELECT coalesce(sum(amount), 0) FROM holds "
     "WHERE status = 'pending')"},
    {"transfers_positive", "every transfer moves a positive amount between two accounts",
     "SELECT count(*), '' FROM transfers WHERE amount <= 0 OR from_account = to_account"},
    {"references",
     "each transfer's accounts and each payment's holder, merchant and transfers exist",
     /* Schema v13 took these foreign keys out of the tables, where every payment paid for
      * their checks; they are checked here instead. */
     "WITH bad(what) AS ("
     "  SELECT 'transfer ' || t.id FROM transfers t"
     "  WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.from_account)"
     "     OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.to_account)"
     "     OR (t.original IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transfers o"
     "                                              WHERE o.id = t.original))"
     "  UNION ALL SELECT 'payment ' || p.id FROM payments p"
     "  WHERE NOT EXISTS (SELECT 1 FROM people h WHERE h.id = p.person_id)"
     "     OR NOT EXISTS (SELECT 1 FROM merchants m WHERE m.id = p.merchant)"
     "     OR (p.transfer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transfers t"
     "                                              WHERE t.id = p.transfer))"
     "     OR (p.fee_transfer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transfers t"
     "                                                  WHERE t.id = p.fee_transfer))) "
     "SELECT (SELECT count(*) FROM bad), "
     "coalesce((SELECT group_concat(what, '; ') FROM (SELECT what FROM bad LIMIT 10)), '')"},
};

int ykt_store_ledger_audit(const char *db_path, ykt_ledger_report *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", db_path, h ? sqlite3_errmsg(h) : "?");
        sqlite3_close(h);
        return YKT_ESTORAGE;
    }
    sqlite3_busy_timeout(h, 5000);
    /* One read transaction: every check sees the same committed state. */
    rc = sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < YKT_ARRAY_LEN(checks); i++) {
        sqlite3_stmt *st;
        rc = sqlite3_prepare_v2(h, checks[i].sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
            break;
        ykt_audit_check *c = &r->checks[r->n++];
        c->name = checks[i].name;
        c->what = checks[i].what;
        if (sqlite3_step(st) == SQLITE_ROW) {
            c->violations = sqlite3_column_int64(st, 0);
            const unsigned char *d = sqlite3_column_text(st, 1);
            ykt_strlcpy(c->detail, d ? (const char *)d : "", sizeof c->detail);
        } else {
            rc = SQLITE_ERROR;
        }
        sqlite3_finalize(st);
    }
    sqlite3_stmt *st;
    if (rc == SQLITE_OK &&
        sqlite3_prepare_v2(h,
                           "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM "
                           "transfers), (SELECT coalesce(sum(balance), 0) FROM accounts WHERE "
                           "kind = 'wallet'), (SELECT count(*) FROM accounts WHERE kind = "
                           "'wallet' AND balance < 0), (SELECT coalesce(-sum(balance), 0) FROM "
                           "accounts WHERE kind = 'wallet' AND balance < 0)",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            r->accounts = sqlite3_column_int64(st, 0);
            r->transfers = sqlite3_column_int64(st, 1);
            r->wallets = sqlite3_column_int64(st, 2);
            r->debtors = sqlite3_column_int64(st, 3);
            r->debt = sqlite3_column_int64(st, 4);
        }
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK)
        snprintf(err, errlen, "audit query failed: %s", sqlite3_errmsg(h));
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h);
    return rc == SQLITE_OK ? YKT_OK : YKT_ESTORAGE;
}
