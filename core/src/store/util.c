#include "util.h"
#include "../common.h"
#include "../log.h"

int ykt_store_step_done(ykt_db *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
        sqlite3_reset(st);
        return YKT_OK;
    }
    sqlite3_reset(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT &&
        (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE))
        return YKT_EEXIST;
    ykt_error("storage: %s (%s)", ykt_db_errmsg(db), sqlite3_sql(st));
    return YKT_ESTORAGE;
}

int ykt_store_step_int64(sqlite3_stmt *st, int64_t *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return YKT_OK;
    return rc == SQLITE_DONE ? YKT_ENOTFOUND : YKT_ESTORAGE;
}

int ykt_store_step_changed(ykt_db *db, sqlite3_stmt *st)
{
    int rc = ykt_store_step_done(db, st);
    if (rc == YKT_OK && sqlite3_changes(ykt_db_handle(db)) == 0)
        return YKT_ENOTFOUND;
    return rc;
}
