/* SQL for the terminals table. */
#include "store.h"
#include "util.h"
#include "../common.h"
#include "../util.h"

#include <string.h>

int ykt_store_terminal_insert(ykt_db *db, const ykt_terminal *t)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO terminals (id, type, location, owner, secret_hash, status, "
                 "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    bind_text(st, 1, t->id);
    bind_text(st, 2, ykt_terminal_type_name(t->type));
    bind_text(st, 3, t->location);
    bind_text(st, 4, t->owner);
    bind_text(st, 5, t->secret_hash);
    bind_text(st, 6, ykt_terminal_status_name(t->status));
    bind_i64(st, 7, t->created_at);
    return ykt_store_step_done(db, st);
}

int ykt_store_terminal_set_status(ykt_db *db, const char *id, const char *status)
{
    STMT_OR_FAIL(st, db, "UPDATE terminals SET status = ? WHERE id = ?");
    bind_text(st, 1, status);
    bind_text(st, 2, id);
    return ykt_store_step_changed(db, st);
}

int ykt_store_terminal_set_secret(ykt_db *db, const char *id, const char *hash)
{
    STMT_OR_FAIL(st, db, "UPDATE terminals SET secret_hash = ? WHERE id = ?");
    bind_text(st, 1, hash);
    bind_text(st, 2, id);
    return ykt_store_step_changed(db, st);
}

int ykt_store_terminal_set_last_seen(ykt_db *db, const char *id, int64_t at)
{
    STMT_OR_FAIL(st, db, "UPDATE terminals SET last_seen = ? WHERE id = ?");
    bind_i64(st, 1, at);
    bind_text(st, 2, id);
    return ykt_store_step_done(db, st);
}

int ykt_store_terminal_set_health(ykt_db *db, const char *id, const char *health,
                                  const char *detail, int64_t at)
{
    STMT_OR_FAIL(st, db,
                 "UPDATE terminals SET health = ?, health_detail = ?, health_at = ?, "
                 "last_seen = ? WHERE id = ?");
    bind_text(st, 1, health);
    bind_text(st, 2, detail);
    bind_i64(st, 3, at);
    bind_i64(st, 4, at);
    bind_text(st, 5, id);
    return ykt_store_step_changed(db, st);
}

int ykt_store_terminal_each(ykt_db *db, int (*fn)(const ykt_terminal *t, void *arg), void *arg)
{
    STMT_OR_FAIL(st, db,
                 "SELECT id, type, location, owner, secret_hash, status, created_at, "
                 "coalesce(last_seen, 0), coalesce(health, ''), coalesce(health_detail, ''), "
                 "coalesce(health_at, 0) FROM terminals ORDER BY id");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ykt_terminal t;
        memset(&t, 0, sizeof t);
        ykt_strlcpy(t.id, col_text(st, 0), sizeof t.id);
        t.type = ykt_terminal_type_parse(col_text(st, 1));
        ykt_strlcpy(t.location, col_text(st, 2), sizeof t.location);
        ykt_strlcpy(t.owner, col_text(st, 3), sizeof t.owner);
        ykt_strlcpy(t.secret_hash, col_text(st, 4), sizeof t.secret_hash);
        const char *status = col_text(st, 5);
        t.status = strcmp(status, "enabled") == 0    ? YKT_TS_ENABLED
                   : strcmp(status, "disabled") == 0 ? YKT_TS_DISABLED
                                                     : YKT_TS_REVOKED;
        t.created_at = sqlite3_column_int64(st, 6);
        t.last_seen = sqlite3_column_int64(st, 7);
        ykt_strlcpy(t.health, col_text(st, 8), sizeof t.health);
        ykt_strlcpy(t.health_detail, col_text(st, 9), sizeof t.health_detail);
        t.health_at = sqlite3_column_int64(st, 10);
        int frc = fn(&t, arg);
        if (frc != YKT_OK) {
            sqlite3_reset(st);
            return frc;
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}
