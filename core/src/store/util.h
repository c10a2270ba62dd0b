/* Helpers shared by the store files: binding, stepping and mapping SQLite results. */
#ifndef YKT_STORE_UTIL_H
#define YKT_STORE_UTIL_H

#include <sqlite3.h>
#include <stdint.h>

#include "../db.h"

/* "Not a card payment's transfer": the kinds of a card payment's transfers (`pay`,
 * `pay_offline`, `mgmt_fee`) always leave a wallet or the escrow, and transfers_from does not
 * list them (migrations v6 and v7). A query that reads an account's outgoing transfers
 * through that index says this, written exactly as in the index, or SQLite does not use the
 * index and reads the whole table. Not `kind NOT IN (...)`: for a list of three SQLite builds
 * a temporary B-tree of it to test each row, and so did every INSERT into transfers, to
 * decide whether the row goes into the index (v7, docs/performance.md). */
#define NOT_A_CARD_PAYMENT "kind <> 'pay' AND kind <> 'pay_offline' AND kind <> 'mgmt_fee'"

/* A holder's card payments, newest first, as the recursive table `chain(pid)`, for a
 * WITH RECURSIVE list: the wallet (the accounts row WALLET_WHERE selects) names its newest
 * payment and each payment the one before it (schema v10). A payment's predecessor always
 * has a smaller id, and the walk stops where one would not, so even a damaged chain ends;
 * `yktctl audit` checks that every payment is on its holder's chain once. The walk also
 * stops past the first payment older than SINCE_MS (an expression; 0 for the whole
 * history) by more than a day: `at` rises along a chain, as ids do, but for a step of the
 * clock, which the day covers. A search for a month then reads that month, not the
 * holder's years (the query still filters on `at` itself). */
#define HOLDER_PAYMENTS(wallet_where, since_ms)                                                    \
    "chain(pid) AS (SELECT last_payment FROM accounts WHERE " wallet_where                         \
    " AND last_payment IS NOT NULL "                                                               \
    "UNION ALL SELECT p.prev_payment FROM chain JOIN payments p ON p.id = chain.pid "              \
    "WHERE p.prev_payment < p.id AND p.at >= (" since_ms ") - 86400000)"

#define STMT_OR_FAIL(st, db, sql)                                                                  \
    sqlite3_stmt *st = ykt_db_stmt((db), (sql));                                                   \
    if (st == NULL)                                                                                \
    return YKT_ESTORAGE

static inline void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

static inline void bind_i64(sqlite3_stmt *st, int i, int64_t v)
{
    sqlite3_bind_int64(st, i, v);
}

static inline const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

/* Steps a statement that returns no rows: YKT_OK, YKT_EEXIST or YKT_ESTORAGE. */
int ykt_store_step_done(ykt_db *db, sqlite3_stmt *st);
/* Like ykt_store_step_done, and YKT_ENOTFOUND when no row changed. */
int ykt_store_step_changed(ykt_db *db, sqlite3_stmt *st);
/* Steps a query of one integer column and resets it: YKT_OK with *out set, YKT_ENOTFOUND
 * for no row, or YKT_ESTORAGE. */
int ykt_store_step_int64(sqlite3_stmt *st, int64_t *out);

#endif
