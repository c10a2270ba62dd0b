/* SQL for the operators table. */
#include "store.h"
#include "util.h"
#include "../common.h"
#include "../util.h"

#include <string.h>

int ykt_store_operator_insert(ykt_db *db, const ykt_operator_row *op)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO operators (name, role, department, password_hash, status, "
                 "must_change_password, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    bind_text(st, 1, op->name);
    bind_text(st, 2, op->role);
    bind_text(st, 3, op->department);
    bind_text(st, 4, op->password_hash);
    bind_text(st, 5, op->status);
    bind_i64(st, 6, op->must_change_password);
    bind_i64(st, 7, op->created_at);
    return ykt_store_step_done(db, st);
}

static void read_operator(sqlite3_stmt *st, ykt_operator_row *op)
{
    memset(op, 0, sizeof *op);
    ykt_strlcpy(op->name, col_text(st, 0), sizeof op->name);
    ykt_strlcpy(op->role, col_text(st, 1), sizeof op->role);
    ykt_strlcpy(op->department, col_text(st, 2), sizeof op->department);
    ykt_strlcpy(op->password_hash, col_text(st, 3), sizeof op->password_hash);
    ykt_strlcpy(op->status, col_text(st, 4), sizeof op->status);
    op->must_change_password = sqlite3_column_int(st, 5);
    op->failed_logins = sqlite3_column_int(st, 6);
    op->locked_until = sqlite3_column_int64(st, 7);
    op->created_at = sqlite3_column_int64(st, 8);
}

#define OPERATOR_COLUMNS                                                                           \
    "name, role, department, password_hash, status, must_change_password, failed_logins, "         \
    "locked_until, created_at"

int ykt_store_operator_get(ykt_db *db, const char *name, ykt_operator_row *out)
{
    STMT_OR_FAIL(st, db, "SELECT " OPERATOR_COLUMNS " FROM operators WHERE name = ?");
    bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_operator(st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_operator_set_password(ykt_db *db, const char *name, const char *hash, int must_change)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE operators SET password_hash = ?, must_change_password = ?, "
                 "failed_logins = 0, locked_until = 0 WHERE name = ?");
    bind_text(st, 1, hash);
    bind_i64(st, 2, must_change);
    bind_text(st, 3, name);
    return ykt_store_step_changed(db, st);
}

int ykt_store_operator_set_status(ykt_db *db, const char *name, const char *status)
{
    STMT_OR_FAIL(st, db, "UPDATE operators SET status = ? WHERE name = ?");
    bind_text(st, 1, status);
    bind_text(st, 2, name);
    return ykt_store_step_changed(db, st);
}

int ykt_store_operator_set_login_state(ykt_db *db, const char *name, int failed,
                                       int64_t locked_until)
{
    STMT_OR_FAIL(st, db, "UPDATE operators SET failed_logins = ?, locked_until = ? WHERE name = ?");
    bind_i64(st, 1, failed);
    bind_i64(st, 2, locked_until);
    bind_text(st, 3, name);
    return ykt_store_step_changed(db, st);
}

int ykt_store_operator_each(ykt_db *db, int (*fn)(const ykt_operator_row *op, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db, "SELECT " OPERATOR_COLUMNS " FROM operators ORDER BY name");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_operator_row op;
        read_operator(st, &op);
        int frc = fn(&op, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}
