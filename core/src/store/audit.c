/* SQL for the append-only audit trail. */
#include "store.h"
#include "util.h"
#include "../common.h"

int ykt_store_audit_append(ykt_db *db, const ykt_audit_row *row)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO audit (at, operator, role, action, target, detail, approval) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)");
    bind_i64(st, 1, row->at);
    bind_text(st, 2, row->operator_name);
    bind_text(st, 3, row->role);
    bind_text(st, 4, row->action);
    bind_text(st, 5, row->target);
    bind_text(st, 6, row->detail);
    bind_text(st, 7, row->approval);
    return ykt_store_step_done(db, st);
}

int ykt_store_audit_query(ykt_db *db, const char *operator_name, const char *target,
                          const char *action, int64_t since_ms, int limit,
                          int (*fn)(const ykt_audit_row *row, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT id, at, operator, role, action, target, detail, approval FROM audit "
                 "WHERE (?1 = '' OR operator = ?1) AND (?2 = '' OR target = ?2) "
                 "AND (?3 = '' OR action = ?3) AND at >= ?4 ORDER BY id DESC LIMIT ?5");
    bind_text(st, 1, operator_name);
    bind_text(st, 2, target);
    bind_text(st, 3, action);
    bind_i64(st, 4, since_ms);
    bind_i64(st, 5, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_audit_row row = {
            .id = sqlite3_column_int64(st, 0),
            .at = sqlite3_column_int64(st, 1),
            .operator_name = col_text(st, 2),
            .role = col_text(st, 3),
            .action = col_text(st, 4),
            .target = col_text(st, 5),
            .detail = col_text(st, 6),
            .approval = col_text(st, 7),
        };
        int frc = fn(&row, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}
