#include "backup.h"
#include "../common.h"
#include "../config.h"
#include "../db.h"
#include "../util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Tables every ykt database has since its first migration: a file without them is not
 * one of ours, whatever its user_version says. */
static const char *const core_tables[] = {"terminals", "operators", "audit",    "people",
                                          "cards",     "accounts",  "transfers"};

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Syncs a file, or a directory (so that a rename in it survives a power cut). */
static int sync_path(const char *path, bool dir, char *err, size_t errlen)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return YKT_EIO;
    }
    close(fd);
    return YKT_OK;
}

static int sync_parent(const char *path, char *err, size_t errlen)
{
    char copy[YKT_PATH_MAX];
    ykt_strlcpy(copy, path, sizeof copy);
    return sync_path(dirname(copy), true, err, errlen);
}

static int storage_error(sqlite3 *h, const char *what, const char *path, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s %s: %s", what, path, h ? sqlite3_errmsg(h) : "out of memory");
    return YKT_ESTORAGE;
}

/* The first column of the first row of sql, as text, into out. */
static int query_text(sqlite3 *h, const char *sql, char *out, size_t len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        return YKT_ESTORAGE;
    int rc = sqlite3_step(st);
    out[0] = '\0';
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        ykt_strlcpy(out, t ? (const char *)t : "", len);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? YKT_OK : YKT_ESTORAGE;
}

/* Integrity, our tables and a schema version this binary knows, on an open handle. */
static int verify_handle(sqlite3 *h, const char *path, ykt_backup_info *info, char *err,
                         size_t errlen)
{
    char result[256];
    if (query_text(h, "PRAGMA integrity_check(20)", result, sizeof result) != YKT_OK) {
        /* "file is not a database" arrives here. */
        return storage_error(h, "cannot check", path, err, errlen);
    }
    if (strcmp(result, "ok") != 0) {
        snprintf(err, errlen, "%s fails its integrity check: %s", path, result);
        return YKT_EINVAL;
    }
    for (size_t i = 0; i < YKT_ARRAY_LEN(core_tables); i++) {
        char sql[128], name[64];
        snprintf(sql, sizeof sql,
                 "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
                 core_tables[i]);
        if (query_text(h, sql, name, sizeof name) != YKT_OK)
            return storage_error(h, "cannot read the schema of", path, err, errlen);
        if (name[0] == '\0') {
            snprintf(err, errlen, "%s is not a ykt database (no table %s)", path, core_tables[i]);
            return YKT_EINVAL;
        }
    }
    char version[32];
    if (query_text(h, "PRAGMA user_version", version, sizeof version) != YKT_OK)
        return storage_error(h, "cannot read the schema version of", path, err, errlen);
    int v = atoi(version);
    if (v < 1 || v > ykt_db_latest_version()) {
        snprintf(err, errlen,
                 "%s has schema version %d; this build knows versions 1 to %d (use the yktd "
                 "that wrote it)",
                 path, v, ykt_db_latest_version());
        return YKT_EINVAL;
    }
    info->schema_version = v;
    return YKT_OK;
}

int ykt_backup_verify(const char *path, ykt_backup_info *info, char *err, size_t errlen)
{
    if (!exists(path)) {
        snprintf(err, errlen, "%s: %s", path, strerror(ENOENT));
        return YKT_EINVAL;
    }
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        rc = storage_error(h, "cannot open", path, err, errlen);
        sqlite3_close(h);
        return rc;
    }
    sqlite3_busy_timeout(h, 5000);
    rc = verify_handle(h, path, info, err, errlen);
    sqlite3_close(h);
    return rc;
}

/* src -> tmp with the backup API, in one step: one read snapshot of src, whatever the
 * writer does meanwhile (a stepwise copy would restart at every commit). */
static int copy_pages(const char *src, const char *tmp, ykt_backup_info *info, char *err,
                      size_t errlen)
{
    sqlite3 *from = NULL, *to = NULL;
    int rc = sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        rc = storage_error(from, "cannot open", src, err, errlen);
        goto out;
    }
    sqlite3_busy_timeout(from, 5000);
    rc = sqlite3_open_v2(tmp, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        rc = storage_error(to, "cannot create", tmp, err, errlen);
        goto out;
    }
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    if (b == NULL) {
        rc = storage_error(to, "cannot start copying into", tmp, err, errlen);
        goto out;
    }
    int step;
    for (int tries = 0;; tries++) {
        step = sqlite3_backup_step(b, -1);
        if ((step != SQLITE_BUSY && step != SQLITE_LOCKED) || tries == 50)
            break;
        sqlite3_sleep(100);
    }
    info->pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (step != SQLITE_DONE) {
        snprintf(err, errlen, "copying %s: %s", src, sqlite3_errstr(step));
        rc = YKT_ESTORAGE;
        goto out;
    }
    /* The copy carries the source's WAL flag; a backup is one self-contained file. */
    if (sqlite3_exec(to, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = storage_error(to, "cannot finish", tmp, err, errlen);
        goto out;
    }
    rc = verify_handle(to, tmp, info, err, errlen);
out:
    sqlite3_close(from);
    sqlite3_close(to);
    return rc;
}

int ykt_backup_copy(const char *src, const char *dest, ykt_backup_info *info, char *err,
                    size_t errlen)
{
    memset(info, 0, sizeof *info);
    int64_t start = ykt_now_ms();
    char tmp[YKT_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.partial", dest) >= (int)sizeof tmp) {
        snprintf(err, errlen, "the backup path is too long");
        return YKT_EINVAL;
    }
    if (exists(dest)) {
        snprintf(err, errlen, "%s exists; a backup never overwrites a file", dest);
        return YKT_EEXIST;
    }
    if (exists(tmp)) {
        snprintf(err, errlen, "%s exists (another backup running, or one interrupted: remove it)",
                 tmp);
        return YKT_EEXIST;
    }
    int rc = copy_pages(src, tmp, info, err, errlen);
    if (rc == YKT_OK)
        rc = sync_path(tmp, false, err, errlen);
    if (rc == YKT_OK) {
        /* link(2) refuses an existing dest, where rename(2) would replace it. */
        if (link(tmp, dest) != 0) {
            snprintf(err, errlen, "cannot create %s: %s", dest, strerror(errno));
            rc = errno == EEXIST ? YKT_EEXIST : YKT_EIO;
        }
    }
    unlink(tmp);
    char journal[YKT_PATH_MAX + 16];
    snprintf(journal, sizeof journal, "%s-journal", tmp);
    unlink(journal);
    if (rc == YKT_OK)
        rc = sync_parent(dest, err, errlen);
    if (rc == YKT_OK) {
        struct stat st;
        info->bytes = stat(dest, &st) == 0 ? (int64_t)st.st_size : 0;
    }
    info->ms = ykt_now_ms() - start;
    return rc;
}

/* Renames path (and its -wal and -shm) to path.before-restore-STAMP. */
static int move_aside(const char *db_path, char *aside, size_t asidelen, char *err, size_t errlen)
{
    aside[0] = '\0';
    if (!exists(db_path))
        return YKT_OK;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    char target[YKT_PATH_MAX];
    if (snprintf(target, sizeof target, "%s.before-restore-%s", db_path, stamp) >=
        (int)sizeof target) {
        snprintf(err, errlen, "the database path is too long");
        return YKT_EINVAL;
    }
    if (exists(target)) {
        snprintf(err, errlen, "%s exists; try again in a second", target);
        return YKT_EEXIST;
    }
    static const char *const suffixes[] = {"-wal", "-shm"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(suffixes); i++) {
        char from[YKT_PATH_MAX + 8], to[YKT_PATH_MAX + 8];
        snprintf(from, sizeof from, "%s%s", db_path, suffixes[i]);
        snprintf(to, sizeof to, "%s%s", target, suffixes[i]);
        if (exists(from) && rename(from, to) != 0) {
            snprintf(err, errlen, "cannot move %s aside: %s", from, strerror(errno));
            return YKT_EIO;
        }
    }
    if (rename(db_path, target) != 0) {
        snprintf(err, errlen, "cannot move %s aside: %s", db_path, strerror(errno));
        return YKT_EIO;
    }
    ykt_strlcpy(aside, target, asidelen);
    return YKT_OK;
}

/* Undoes move_aside after a failed restore: the live database goes back where it was. */
static void put_back(const char *aside, const char *db_path)
{
    if (aside[0] == '\0')
        return;
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(suffixes); i++) {
        char from[YKT_PATH_MAX + 8], to[YKT_PATH_MAX + 8];
        snprintf(from, sizeof from, "%s%s", aside, suffixes[i]);
        snprintf(to, sizeof to, "%s%s", db_path, suffixes[i]);
        if (exists(from))
            rename(from, to);
    }
}

int ykt_backup_restore(const char *backup, const char *db_path, char *aside, size_t asidelen,
                       ykt_backup_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    aside[0] = '\0';
    int64_t start = ykt_now_ms();
    int rc = ykt_backup_verify(backup, info, err, errlen);
    if (rc != YKT_OK)
        return rc;
    char tmp[YKT_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.restoring", db_path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "the database path is too long");
        return YKT_EINVAL;
    }
    unlink(tmp); /* left by an interrupted restore; the lock says nobody else is here */
    rc = copy_pages(backup, tmp, info, err, errlen);
    if (rc == YKT_OK)
        rc = sync_path(tmp, false, err, errlen);
    if (rc == YKT_OK)
        rc = move_aside(db_path, aside, asidelen, err, errlen);
    if (rc == YKT_OK && rename(tmp, db_path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, db_path, strerror(errno));
        rc = YKT_EIO;
        put_back(aside, db_path);
        aside[0] = '\0';
    }
    if (rc != YKT_OK)
        unlink(tmp);
    if (rc == YKT_OK)
        rc = sync_parent(db_path, err, errlen);
    struct stat st;
    info->bytes = rc == YKT_OK && stat(db_path, &st) == 0 ? (int64_t)st.st_size : 0;
    info->ms = ykt_now_ms() - start;
    return rc;
}
