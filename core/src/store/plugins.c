/* Plugins' schema versions (migration 4): how far each plugin's own tables have come. */
#include "store.h"
#include "util.h"
#include "../common.h"

int ykt_store_plugin_schema_get(ykt_db *db, const char *plugin, int64_t *version)
{
    STMT_OR_FAIL(st, db, "SELECT version FROM plugin_schema WHERE plugin = ?");
    bind_text(st, 1, plugin);
    return ykt_store_step_int64(st, version);
}

int ykt_store_plugin_schema_set(ykt_db *db, const char *plugin, int64_t version)
{
    STMT_OR_FAIL(st, db,
                 "INSERT INTO plugin_schema (plugin, version) VALUES (?, ?) "
                 "ON CONFLICT (plugin) DO UPDATE SET version = excluded.version");
    bind_text(st, 1, plugin);
    bind_i64(st, 2, version);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}
