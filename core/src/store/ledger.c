/* SQL for accounts and transfers. */
#include "store.h"
#include "util.h"
#include "../common.h"
#include "../util.h"

int ykt_store_account_find(ykt_db *db, const char *kind, const char *owner, int64_t *id)
{
    STMT_OR_FAIL(st, db, "SELECT id FROM accounts WHERE kind = ? AND owner = ?");
    bind_text(st, 1, kind);
    bind_text(st, 2, owner);
    return ykt_store_step_int64(st, id);
}

int ykt_store_account_create(ykt_db *db, const char *kind, const char *owner, int64_t at,
                             int64_t *id)
{
    STMT_OR_FAIL(st, db, "INSERT INTO accounts (kind, owner, created_at) VALUES (?, ?, ?)");
    bind_text(st, 1, kind);
    bind_text(st, 2, owner);
    bind_i64(st, 3, at);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK)
        *id = sqlite3_last_insert_rowid(ykt_db_handle(db));
    return rc;
}

int ykt_store_account_get(ykt_db *db, int64_t id, char *kind, size_t kindlen, int64_t *balance)
{
    STMT_OR_FAIL(st, db, "SELECT kind, balance FROM accounts WHERE id = ?");
    bind_i64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        ykt_strlcpy(kind, col_text(st, 0), kindlen);
        *balance = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_account_add(ykt_db *db, int64_t id, int64_t delta)
{
    STMT_OR_FAIL(st, db, "UPDATE accounts SET balance = balance + ? WHERE id = ?");
    bind_i64(st, 1, delta);
    bind_i64(st, 2, id);
    return ykt_store_step_changed(db, st);
}

int ykt_store_account_balance_of(ykt_db *db, int64_t id, const char *kind, const char *owner,
                                 int64_t *balance)
{
    STMT_OR_FAIL(st, db, "SELECT balance FROM accounts WHERE id = ? AND kind = ? AND owner = ?");
    bind_i64(st, 1, id);
    bind_text(st, 2, kind);
    bind_text(st, 3, owner);
    return ykt_store_step_int64(st, balance);
}

int ykt_store_account_debit(ykt_db *db, int64_t id, int64_t amount, bool allow_negative)
{
    /* R-W1 in the statement itself: a wallet is only debited when the balance covers it.
     * (No RETURNING: SQLite buffers RETURNING rows in an ephemeral table, which cost more
     * than the SELECT it saves; the caller knows the balance it checked.) */
    STMT_OR_FAIL(st, db,
                 "UPDATE accounts SET balance = balance - ?1 WHERE id = ?2 "
                 "AND (?3 OR kind <> 'wallet' OR balance >= ?1)");
    bind_i64(st, 1, amount);
    bind_i64(st, 2, id);
    bind_i64(st, 3, allow_negative ? 1 : 0);
    return ykt_store_step_changed(db, st);
}

int ykt_store_account_credit(ykt_db *db, int64_t id, int64_t amount, const char *kind,
                             const char *owner)
{
    if (kind == NULL) {
        STMT_OR_FAIL(st, db, "UPDATE accounts SET balance = balance + ? WHERE id = ?");
        bind_i64(st, 1, amount);
        bind_i64(st, 2, id);
        return ykt_store_step_changed(db, st);
    }
    STMT_OR_FAIL(
        st, db,
        "UPDATE accounts SET balance = balance + ? WHERE id = ? AND kind = ? AND owner = ?");
    bind_i64(st, 1, amount);
    bind_i64(st, 2, id);
    bind_text(st, 3, kind);
    bind_text(st, 4, owner);
    return ykt_store_step_changed(db, st);
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

int ykt_store_transfer_insert(ykt_db *db, const ykt_transfer *t, int64_t at, int64_t *id)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO transfers (at, from_account, to_account, amount, kind, card_no, "
                 "terminal, operator, original, memo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind_i64(st, 1, at);
    bind_i64(st, 2, t->from);
    bind_i64(st, 3, t->to);
    bind_i64(st, 4, t->amount);
    bind_text(st, 5, t->kind);
    bind_opt_text(st, 6, t->card_no);
    bind_opt_text(st, 7, t->terminal);
    bind_opt_text(st, 8, t->operator_name);
    if (t->original > 0)
        bind_i64(st, 9, t->original);
    else
        sqlite3_bind_null(st, 9);
    bind_text(st, 10, t->memo);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK && id != NULL)
        *id = sqlite3_last_insert_rowid(ykt_db_handle(db));
    return rc;
}

int ykt_store_wallets_unclaimed(ykt_db *db, int64_t ended_before, int limit,
                                int (*fn)(int64_t account, int64_t person_id, int64_t balance,
                                          void *arg),
                                void *arg)
{
    /* Wallets with money whose holder has no live credential left, the last one having
     * ended before the cutoff: the refund window has passed. */
    STMT_OR_FAIL(st, db,
                 "SELECT a.id, p.id, a.balance FROM accounts a "
                 "JOIN people p ON a.kind = 'wallet' AND a.owner = CAST(p.id AS TEXT) "
                 "WHERE a.balance > 0 "
                 "AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.person_id = p.id "
                 "                AND c.status <> 'cancelled') "
                 "AND (SELECT max(c.status_at) FROM cards c WHERE c.person_id = p.id) < ? "
                 "ORDER BY a.id LIMIT ?");
    bind_i64(st, 1, ended_before);
    bind_i64(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int frc = fn(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                     sqlite3_column_int64(st, 2), arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* The transfers into or out of account ?1, as a table `moves` for the queries below, each
 * from an index or a chain: those into it (transfers_to), those out of it that
 * transfers_from lists (all but a card payment's), and a wallet's card payments along its
 * holder's chain of payments (v10), whose rows name both transfers (v6). A transfer never
 * goes from an account to itself, so no transfer is listed twice. */
#define WALLET_CHAIN HOLDER_PAYMENTS("id = ?1 AND kind = 'wallet'", "0")
#define ACCOUNT_MOVES                                                                              \
    "WITH RECURSIVE " WALLET_CHAIN ", moves AS ("                                                  \
    "SELECT * FROM transfers WHERE to_account = ?1 "                                               \
    "UNION ALL SELECT * FROM transfers WHERE from_account = ?1 "                                   \
    "AND " NOT_A_CARD_PAYMENT " "                                                                  \
    "UNION ALL SELECT t.* FROM chain JOIN payments p ON p.id = chain.pid JOIN transfers t "        \
    "ON t.id IN (p.transfer, p.fee_transfer) AND t.from_account = ?1) "

#define MOVE_COLUMNS                                                                               \
    "id, at, from_account, to_account, amount, kind, coalesce(card_no, ''), "                      \
    "coalesce(terminal, ''), coalesce(operator, ''), coalesce(original, 0), memo "

int ykt_store_transfers_of(ykt_db *db, int64_t account, int limit,
                           int (*fn)(const ykt_transfer_row *t, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 ACCOUNT_MOVES "SELECT " MOVE_COLUMNS "FROM moves ORDER BY id DESC LIMIT ?2");
    bind_i64(st, 1, account);
    bind_i64(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_transfer_row t = {
            .id = sqlite3_column_int64(st, 0),
            .at = sqlite3_column_int64(st, 1),
            .from = sqlite3_column_int64(st, 2),
            .to = sqlite3_column_int64(st, 3),
            .amount = sqlite3_column_int64(st, 4),
            .kind = col_text(st, 5),
            .card_no = col_text(st, 6),
            .terminal = col_text(st, 7),
            .operator_name = col_text(st, 8),
            .original = sqlite3_column_int64(st, 9),
            .memo = col_text(st, 10),
        };
        int frc = fn(&t, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_card_list_expired(ykt_db *db, const char *today, int64_t version, int64_t *count)
{
    /* Newly expired credentials join the blacklist so offline terminals refuse them too. */
    STMT_OR_FAIL(st, db,
                 "UPDATE cards SET list_version = ?, expiry_listed = 1 WHERE valid_until < ? "
                 "AND expiry_listed = 0 AND status <> 'cancelled'");
    bind_i64(st, 1, version);
    bind_text(st, 2, today);
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK)
        *count = sqlite3_changes(ykt_db_handle(db));
    return rc;
}

int ykt_store_account_flow(ykt_db *db, int64_t account, int64_t before_ms, int64_t *net)
{
    STMT_OR_FAIL(st, db,
                 ACCOUNT_MOVES
                 "SELECT coalesce(sum(CASE WHEN to_account = ?1 THEN amount ELSE -amount END), 0) "
                 "FROM moves WHERE at < ?2");
    bind_i64(st, 1, account);
    bind_i64(st, 2, before_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *net = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? YKT_OK : YKT_ESTORAGE;
}

int ykt_store_transfers_between(ykt_db *db, int64_t account, int64_t from_ms, int64_t to_ms,
                                int limit, int (*fn)(const ykt_transfer_row *t, void *arg),
                                void *arg)
{
    STMT_OR_FAIL(st, db,
                 ACCOUNT_MOVES "SELECT " MOVE_COLUMNS "FROM moves WHERE at >= ?2 AND at < ?3 "
                               "ORDER BY id LIMIT ?4");
    bind_i64(st, 1, account);
    bind_i64(st, 2, from_ms);
    bind_i64(st, 3, to_ms);
    bind_i64(st, 4, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_transfer_row t = {
            .id = sqlite3_column_int64(st, 0),
            .at = sqlite3_column_int64(st, 1),
            .from = sqlite3_column_int64(st, 2),
            .to = sqlite3_column_int64(st, 3),
            .amount = sqlite3_column_int64(st, 4),
            .kind = col_text(st, 5),
            .card_no = col_text(st, 6),
            .terminal = col_text(st, 7),
            .operator_name = col_text(st, 8),
            .original = sqlite3_column_int64(st, 9),
            .memo = col_text(st, 10),
        };
        int frc = fn(&t, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}
