#ifndef YKT_BACKUP_H
#define YKT_BACKUP_H

/*
 * Backups of the database file (R-S4): an online copy taken with SQLite's backup API from
 * one read snapshot, so it can run on a worker thread while yktd keeps writing (WAL lets a
 * reader and the writer work side by side), and an offline restore that checks the copy
 * before it replaces the live database. No libuv here: callers choose the thread.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct ykt_backup_info {
    int64_t pages;      /* database pages copied */
    int64_t bytes;      /* size of the file written */
    int schema_version; /* the copy's user_version */
    int64_t ms;         /* how long it took */
} ykt_backup_info;

/*
 * Copies the database at src into dest, which must not exist (a backup never overwrites
 * anything). The copy is written as dest.partial, checked (PRAGMA integrity_check), turned
 * into a self-contained rollback-journal file, synced, and only then renamed to dest; a
 * failure leaves no dest behind. Returns YKT_OK, YKT_EEXIST, YKT_EIO or YKT_ESTORAGE with
 * err set.
 */
int ykt_backup_copy(const char *src, const char *dest, ykt_backup_info *info, char *err,
                    size_t errlen);

/*
 * Checks that the file at path is a ykt database this build can open: integrity_check ok,
 * the migration table present, a schema version from 1 to the latest this binary knows.
 * Fills info->schema_version. YKT_OK, or YKT_EINVAL / YKT_ESTORAGE with err set.
 */
int ykt_backup_verify(const char *path, ykt_backup_info *info, char *err, size_t errlen);

/*
 * Offline restore: replaces the database at db_path with a copy of backup. The caller holds
 * the database's lock file (no yktd runs on it). The backup is verified first; the live
 * database, with its -wal and -shm files, is renamed aside to db_path.before-restore-STAMP
 * (written into aside; empty if there was none) and the copy takes its place, atomically
 * by rename. Returns YKT_OK or an error with err set; on error the live database is as it
 * was.
 */
int ykt_backup_restore(const char *backup, const char *db_path, char *aside, size_t asidelen,
                       ykt_backup_info *info, char *err, size_t errlen);

#endif
