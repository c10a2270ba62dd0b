#include "db.h"
#include "common.h"
#include "log.h"
#include "util.h"
#include "store/migrations.h"
#include "walvfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>
#include <uv.h>

/* A WAL longer than this many pages is checkpointed beside the loop, after a commit:
 * SQLite's own auto-checkpoint would run inside the commit on the loop. yktd sets it from
 * [storage] checkpoint_pages. A long WAL is cheaper: a page changed by many batches between
 * two checkpoints (an account, a card, an index's last page) is copied into the database
 * once, not once per batch (docs/performance.md, "Fewer random index insertions"). */
#define CHECKPOINT_PAGES_DEFAULT 16384
/* A checkpoint beside the loop syncs the database file every this many pages (walvfs.h):
 * on this machine's disk a commit's WAL sync during a checkpoint then has a p99 of about
 * 0.5 ms instead of about 3 ms (performance.md, "A paced checkpoint"). yktd sets it from
 * [storage] checkpoint_pace_pages. */
#define CHECKPOINT_PACE_DEFAULT 16
/* A checkpoint beside the loop is followed by another while it left more than this many
 * frames behind the end of the WAL (committed while it ran), at most CATCHUP_PASSES times:
 * what the committer then finishes, with no transaction beginning meanwhile, is short.
 * At 20,000 door decisions/s (about 80,000 frames/s) four passes still left a few hundred
 * frames; twelve down to 16 took the finish from about 2.0 to 1.4 ms (performance.md).
 * Since passes are paced, 2 or 12 make no difference ("A paced checkpoint"). */
#define CATCHUP_FRAMES 16
#define CATCHUP_PASSES 12
/* Checkpoint passes beside the loop run on a thread of their own this much below the
 * loop's priority (nice, [storage] checkpoint_nice): a pass copies a whole WAL's pages for
 * about 13 ms, and at the loop's priority it took a core from the loop and the committer
 * thread on a small machine (performance.md, "A checkpoint pass at low priority"). */
#define CHECKPOINT_NICE_DEFAULT 19
/* ... unless the WAL is this many times checkpoint_pages long: then the passes run on the
 * thread pool at the loop's priority, so that busy cores cannot starve them and let the
 * WAL grow without bound. */
#define PASS_BEHIND_FACTOR 4
#define YKT_DB_PATH_MAX    4096

/* Statement cache: open addressing keyed by the address of the SQL literal. */
typedef struct stmt_slot {
    const char *sql;
    sqlite3_stmt *stmt;
} stmt_slot;

typedef struct commit_hook {
    void (*fn)(void *arg, bool committed);
    void *arg;
} commit_hook;

struct ykt_db {
    sqlite3 *h;
    char *path;
    stmt_slot *slots;
    size_t nslots; /* power of two */
    size_t nused;
    bool batch_open;
    bool batch_failed;
    bool in_cmd;
    bool cmd_unguarded;       /* the current request has no savepoint (cmd_begin_unguarded) */
    int64_t cmd_changes_mark; /* sqlite3_total_changes64 when it began */
    commit_hook *hooks;
    size_t nhooks, caphooks;
    size_t cmd_hook_mark; /* hooks registered by the current request start here */
    /* The committer thread: COMMIT (and its fsync) and checkpoints run there, so the event
     * loop keeps reading and parsing while the disk works. While `committing`, nothing on
     * the loop touches the connection. */
    bool committer_running;
    bool committing;
    bool commit_requested;
    bool stop_committer;
    bool checkpoint_due;
    int checkpoint_pages;
    int checkpoint_pace;
    int checkpoint_nice;
    int ckpt_pace; /* pages between syncs of the checkpoint connection's writes, 0: not paced */
    int commit_rc;
    char commit_error[256]; /* why the last commit failed, with the system's reason */
    /* Split commit (the normal mode once the committer runs): the loop runs COMMIT with
     * synchronous=NORMAL, which writes the batch's WAL frames without waiting for the disk,
     * and the committer thread makes them durable with fdatasync on its own descriptor of
     * the -wal file while the loop executes the next batch. Replies and on-commit hooks
     * wait for that fdatasync. Checkpoints run on the committer's own connection. */
    bool split;
    int wal_fd;
    sqlite3 *ckpt;
    /* Checkpoints in split mode: a PASSIVE one on `ckpt` on the thread pool copies the
     * WAL into the database beside the loop (again, while it left many frames behind:
     * CATCHUP_FRAMES); after the next COMMIT the committer thread
     * finishes it (the few frames committed since) on `ckpt`, right after its fdatasync,
     * and no transaction begins until it is done (`holding`), so that the transaction
     * after starts the WAL from its beginning. Without the second step the WAL would only
     * grow: the loop commits again before a checkpoint beside it can catch up. The second
     * step used to run on the loop, which then stalled for its two fsyncs (4-5 ms, the
     * p99 of PAY at 10,000/s; docs/performance.md). */
    uv_loop_t *loop;
    uv_work_t ckpt_work;
    bool ckpt_running, ckpt_finish;
    int wal_frames;        /* the WAL's length after the last commit (wal_hook) */
    int ckpt_done;         /* frames the last checkpoint beside the loop had copied */
    int ckpt_passes;       /* catch-up passes of the checkpoint under way */
    bool finish_requested; /* the committer finishes the checkpoint after its fdatasync */
    bool holding;          /* until then no transaction begins (ykt_db_busy) */
    /* The low-priority thread of the passes (CHECKPOINT_NICE_DEFAULT); pass_mutex guards
     * the pass_ flags and ckpt_done while it runs. */
    bool pass_thread_running;
    bool pass_on_thread; /* the pass under way runs there (not on the thread pool) */
    bool pass_requested, pass_landed, pass_stop, pass_async_closing;
    int pass_done; /* the frames the pass that landed had copied */
    uv_thread_t pass_thread;
    uv_mutex_t pass_mutex;
    uv_cond_t pass_cond;
    uv_async_t pass_async;
    commit_hook *flight_hooks; /* the hooks of the batch in flight (split mode) */
    size_t nflight;
    uv_thread_t thread;
    uv_mutex_t mutex;
    uv_cond_t cond;
    uv_async_t async;
    void (*commit_done)(void *arg, int rc);
    void *commit_arg;
    /* Copies of cards and people rows kept beside the database (cardcache.c) stay valid
     * while rows_epoch does (ykt_db_rows_epoch). Read and moved with atomics: a ROLLBACK
     * on the committer thread (unsplit mode) moves it too. */
    uint64_t rows_epoch;
    bool rows_quiet;      /* the change under way is a copy's own write (ykt_db_rows_quiet) */
    bool cmd_rows_dirty;  /* a cards, people or merchants row changed in the current request */
    int64_t data_version; /* PRAGMA data_version when last read: moves with other writers */
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    return q;
}

int ykt_db_latest_version(void)
{
    return ykt_migrations_count;
}

const char *ykt_db_errmsg(ykt_db *db)
{
    return sqlite3_errmsg(db->h);
}

const char *ykt_db_commit_error(ykt_db *db)
{
    return db->commit_error[0] ? db->commit_error : "the batch failed";
}

const char *ykt_db_path(ykt_db *db)
{
    return db->path;
}

sqlite3 *ykt_db_handle(ykt_db *db)
{
    return db->h;
}

/* Runs a cached control statement (BEGIN, SAVEPOINT, ...): parsed once, not per request. */
static int control(ykt_db *db, const char *sql)
{
    sqlite3_stmt *st = ykt_db_stmt(db, sql);
    if (st == NULL)
        return YKT_ESTORAGE;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        /* SQLite says "disk I/O error" for a short write, EFBIG and EROFS alike: add its
         * extended code and the system's reason when it kept one. */
        int sys = sqlite3_system_errno(db->h);
        snprintf(db->commit_error, sizeof db->commit_error, "%s (SQLite code %d)%s%s",
                 sqlite3_errmsg(db->h), sqlite3_extended_errcode(db->h), sys != 0 ? ": " : "",
                 sys != 0 ? strerror(sys) : "");
        ykt_error("storage: %s (in: %s)", db->commit_error, sql);
        return YKT_ESTORAGE;
    }
    return YKT_OK;
}

int ykt_db_exec(ykt_db *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ykt_error("storage: %s (in: %.60s)", msg ? msg : sqlite3_errmsg(db->h), sql);
        sqlite3_free(msg);
        return YKT_ESTORAGE;
    }
    return YKT_OK;
}

static int pragma_int(ykt_db *db, const char *sql, int *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return YKT_ESTORAGE;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? YKT_OK : YKT_ESTORAGE;
}

int ykt_db_schema_version(ykt_db *db)
{
    int v = -1;
    pragma_int(db, "PRAGMA user_version", &v);
    return v;
}

/* ---- the epoch of copied rows ---- */

static void rows_moved(ykt_db *db)
{
    __atomic_add_fetch(&db->rows_epoch, 1, __ATOMIC_RELAXED);
}

/* Every row change on this connection: a cards, people or merchants row changed other than by a
 * copy's own write makes every copy stale. SQLite does not call this for WITHOUT ROWID tables,
 * REPLACE deletions or a DELETE without WHERE; neither table is any of these, and nothing
 * deletes their rows. */
static void update_hook(void *arg, int op, const char *dbname, const char *table, sqlite3_int64 id)
{
    (void)op;
    (void)dbname;
    (void)id;
    ykt_db *db = arg;
    if ((table[0] != 'c' || strcmp(table, "cards") != 0) &&
        (table[0] != 'p' || strcmp(table, "people") != 0) &&
        (table[0] != 'm' || strcmp(table, "merchants") != 0))
        return;
    if (db->rows_quiet)
        return;
    db->cmd_rows_dirty = true;
    rows_moved(db);
}

/* A whole transaction undone (ROLLBACK, or SQLite aborting one on SQLITE_FULL or an I/O
 * error): whatever a copy took from it may be gone. */
static void rollback_hook(void *arg)
{
    rows_moved(arg);
}

/* Another connection (a second process, an administrator's sqlite3) may have committed. */
static void check_data_version(ykt_db *db)
{
    sqlite3_stmt *st = ykt_db_stmt(db, "PRAGMA data_version");
    if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
        if (st != NULL)
            sqlite3_reset(st);
        rows_moved(db); /* unknown: trust no copy */
        return;
    }
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (v != db->data_version) {
        db->data_version = v;
        rows_moved(db);
    }
}

uint64_t ykt_db_rows_epoch(ykt_db *db)
{
    /* In a batch the write lock keeps other writers out, and its BEGIN checked; outside one
     * each use checks. */
    if (!db->batch_open && !ykt_db_busy(db))
        check_data_version(db);
    return __atomic_load_n(&db->rows_epoch, __ATOMIC_RELAXED);
}

void ykt_db_rows_quiet(ykt_db *db, bool quiet)
{
    db->rows_quiet = quiet;
}

/* Called by SQLite after each commit with the WAL's size: note when to checkpoint. */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int pages)
{
    (void)h;
    (void)name;
    ykt_db *db = arg;
    db->wal_frames = pages;
    if (pages > db->checkpoint_pages)
        db->checkpoint_due = true;
    return SQLITE_OK;
}

/* Each request runs in a SAVEPOINT, so SQLite copies every page the request changes into a
 * statement journal first. On disk (past SQLITE_STMTJRNL_SPILL, 64 KiB by default) that is
 * two pwrite calls per page; in memory with `temp_store = MEMORY` it is a malloc per 1 KiB of
 * page and a free at the end of every request, 12 % of the loop's time in PAY. With the
 * spill set, the journal is one block of that size, in memory until a request changes more
 * (a large prune or migration: it then continues in a temporary file). docs/performance.md
 * has the figures. Less than 128 KiB: the block goes to that file in one write, and the
 * unix VFS writes at most 128 KiB - 1 bytes per call (as walvfs.c's WAL_WRITE_MAX says), a
 * longer write failing with SQLITE_FULL, "database or disk is full". With 1 MiB every
 * request that changed more than that failed (test_db.c, test_large_request_spills). A
 * PAY's journal is about 50 KiB. */
#define STATEMENT_JOURNAL_BYTES (120 << 10)

void ykt_db_global_init(void)
{
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, STATEMENT_JOURNAL_BYTES);
    /* No allocation statistics: nothing reads them, and keeping them costs a mutex per
     * malloc. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

void ykt_db_set_checkpoint_pages(ykt_db *db, int pages)
{
    db->checkpoint_pages = pages;
}

void ykt_db_set_checkpoint_pace(ykt_db *db, int pages)
{
    db->checkpoint_pace = pages;
}

void ykt_db_set_checkpoint_nice(ykt_db *db, int nice)
{
    db->checkpoint_nice = nice;
}

static void checkpoint_if_due(ykt_db *db)
{
    if (!db->checkpoint_due)
        return;
    db->checkpoint_due = false;
    int log = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(db->h, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) != SQLITE_OK)
        ykt_warn("storage: checkpoint: %s", sqlite3_errmsg(db->h));
}

static int apply_migrations(ykt_db *db, int have, char *err, size_t errlen)
{
    for (int v = have + 1; v <= ykt_migrations_count; v++) {
        char *msg = NULL;
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v);
        if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db->h, ykt_migrations[v - 1], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db->h, bump, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db->h, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "%s: migration to schema version %d failed: %s", db->path, v,
                     msg ? msg : sqlite3_errmsg(db->h));
            sqlite3_free(msg);
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
            return YKT_ESTORAGE;
        }
        ykt_info("storage: migrated %s to schema version %d", db->path, v);
    }
    return YKT_OK;
}

static int migrate(ykt_db *db, char *err, size_t errlen)
{
    int have = ykt_db_schema_version(db);
    if (have < 0) {
        snprintf(err, errlen, "%s: cannot read schema version: %s", db->path,
                 sqlite3_errmsg(db->h));
        return YKT_ESTORAGE;
    }
    if (have > ykt_migrations_count) {
        snprintf(err, errlen,
                 "%s: database schema version %d is newer than this yktd supports (%d); "
                 "run the yktd that wrote it or restore a backup",
                 db->path, have, ykt_migrations_count);
        return YKT_ESTATE;
    }
    if (have == ykt_migrations_count)
        return YKT_OK;
    /* Schema 13 edits table text in sqlite_schema (writable_schema), which a SQLite built
     * defensive by default refuses: off for the migrations, as it was afterwards. */
    int defensive = 0;
    sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive);
    sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 0, NULL);
    int rc = apply_migrations(db, have, err, errlen);
    sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, defensive, NULL);
    return rc;
}

int ykt_db_open(ykt_db **out, const char *path, char *err, size_t errlen)
{
    /* SQLite's memory statistics take a global mutex on every allocation; yktd does not read
     * them. Only possible before SQLite initialises (the first open), so ignore failures. */
    static bool configured;
    if (!configured) {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        configured = true;
    }
    ykt_db *db = calloc(1, sizeof *db);
    if (db == NULL)
        return YKT_ENOMEM;
    db->path = strdup(path);
    db->wal_fd = -1;
    db->checkpoint_pages = CHECKPOINT_PAGES_DEFAULT;
    db->checkpoint_pace = CHECKPOINT_PACE_DEFAULT;
    db->checkpoint_nice = CHECKPOINT_NICE_DEFAULT;
    db->nslots = 64;
    db->slots = calloc(db->nslots, sizeof *db->slots);
    /* The gateway's connection writes its WAL through the "ykt" VFS: one write per commit
     * instead of two per page (walvfs.h). Without it, SQLite's default VFS does as well. */
    const char *vfs = ykt_walvfs_register() == SQLITE_OK ? YKT_WALVFS_NAME : NULL;
    int rc = sqlite3_open_v2(path, &db->h,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open database: %s", path,
                 db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, 5000);
    /* SQLite opens a file it may not write read-only without a word; every write would
     * then fail. A gateway that cannot record payments must not start. */
    if (sqlite3_db_readonly(db->h, "main") == 1) {
        snprintf(err, errlen,
                 "%s: the database is read-only (file permissions or a read-only "
                 "filesystem); yktd needs to write it",
                 path);
        goto fail;
    }
    /* WAL lets readers (backups, yktctl audit) run beside the writer; synchronous=FULL
     * makes every commit durable before we reply — until the committer thread starts and
     * takes the durability over (split_start). */
    /* cache_size: a batch of a few hundred payments touches more than the default 2 MiB of
     * pages. Where each request's statement journal lives: ykt_db_global_init. */
    const char *setup = "PRAGMA journal_mode = WAL;"
                        "PRAGMA synchronous = FULL;"
                        "PRAGMA foreign_keys = ON;"
                        "PRAGMA cache_size = -65536;";
    char *msg = NULL;
    if (sqlite3_exec(db->h, setup, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot set up database: %s", path,
                 msg ? msg : sqlite3_errmsg(db->h));
        sqlite3_free(msg);
        goto fail;
    }
    int wal = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->h, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
        sqlite3_finalize(st);
    }
    if (!wal) {
        snprintf(err, errlen, "%s: the database refused WAL mode", path);
        goto fail;
    }
    if (migrate(db, err, errlen) != YKT_OK)
        goto fail;
    sqlite3_wal_hook(db->h, wal_hook, db);
    sqlite3_update_hook(db->h, update_hook, db);
    sqlite3_rollback_hook(db->h, rollback_hook, db);
    /* Never 0 (an empty copy), and apart from any other database opened in this process:
     * one opened later at the same address must not match a copy of this one's rows. */
    static uint64_t opened;
    db->rows_epoch = ++opened << 32;
    check_data_version(db);
    *out = db;
    return YKT_OK;
fail:
    ykt_db_close(db);
    return YKT_ESTORAGE;
}

void ykt_db_close(ykt_db *db)
{
    if (db == NULL)
        return;
    ykt_db_committer_stop(db);
    if (db->batch_open)
        ykt_db_batch_commit(db);
    for (size_t i = 0; i < db->nslots; i++)
        if (db->slots[i].stmt != NULL)
            sqlite3_finalize(db->slots[i].stmt);
    if (db->h != NULL && sqlite3_close(db->h) != SQLITE_OK)
        ykt_error("storage: closing %s: %s", db->path, sqlite3_errmsg(db->h));
    free(db->slots);
    free(db->hooks);
    free(db->flight_hooks);
    free(db->path);
    free(db);
}

static size_t ptr_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0xed5ad4bbU;
    x ^= x >> 11;
    return (size_t)x;
}

static stmt_slot *slot_for(ykt_db *db, const char *sql)
{
    size_t mask = db->nslots - 1;
    for (size_t i = ptr_hash(sql) & mask;; i = (i + 1) & mask)
        if (db->slots[i].sql == sql || db->slots[i].sql == NULL)
            return &db->slots[i];
}

static void grow_slots(ykt_db *db)
{
    stmt_slot *old = db->slots;
    size_t n = db->nslots;
    db->nslots *= 2;
    db->slots = calloc(db->nslots, sizeof *db->slots);
    if (db->slots == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    for (size_t i = 0; i < n; i++)
        if (old[i].sql != NULL)
            *slot_for(db, old[i].sql) = old[i];
    free(old);
}

sqlite3_stmt *ykt_db_stmt_cached(ykt_db *db, const char *sql)
{
    stmt_slot *s = slot_for(db, sql);
    if (s->sql == NULL)
        return NULL;
    sqlite3_reset(s->stmt);
    sqlite3_clear_bindings(s->stmt);
    return s->stmt;
}

sqlite3_stmt *ykt_db_stmt(ykt_db *db, const char *sql)
{
    stmt_slot *s = slot_for(db, sql);
    if (s->sql != NULL) {
        sqlite3_reset(s->stmt);
        sqlite3_clear_bindings(s->stmt);
        return s->stmt;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        ykt_error("storage: cannot prepare: %s (in: %.80s)", sqlite3_errmsg(db->h), sql);
        return NULL;
    }
    if ((db->nused + 1) * 2 > db->nslots) {
        grow_slots(db);
        s = slot_for(db, sql);
    }
    s->sql = sql;
    s->stmt = st;
    db->nused++;
    return st;
}

/* ---- group commit ---- */

static void run_hooks(ykt_db *db, size_t from, bool committed)
{
    /* Hooks may register hooks (rare); copy the slice first so that stays safe. */
    size_t n = db->nhooks - from;
    if (n == 0)
        return;
    commit_hook *copy = xrealloc(NULL, n * sizeof *copy);
    memcpy(copy, db->hooks + from, n * sizeof *copy);
    db->nhooks = from;
    for (size_t i = 0; i < n; i++)
        copy[i].fn(copy[i].arg, committed);
    free(copy);
}

void ykt_db_on_commit(ykt_db *db, void (*fn)(void *arg, bool committed), void *arg)
{
    if (!db->batch_open) {
        fn(arg, true);
        return;
    }
    if (db->nhooks == db->caphooks) {
        db->caphooks = db->caphooks ? db->caphooks * 2 : 16;
        db->hooks = xrealloc(db->hooks, db->caphooks * sizeof *db->hooks);
    }
    db->hooks[db->nhooks++] = (commit_hook){fn, arg};
}

/* Opens the batch's transaction if needed; then a request may begin. */
static int batch_begin(ykt_db *db)
{
    if (ykt_db_busy(db))
        return YKT_EAGAIN; /* the committer thread owns the connection, or finishes a
                            * checkpoint; try again later */
    if (db->batch_failed)
        return YKT_ESTORAGE;
    if (!db->batch_open) {
        if (control(db, "BEGIN IMMEDIATE") != YKT_OK)
            return YKT_ESTORAGE;
        db->batch_open = true;
        check_data_version(db);
    }
    return YKT_OK;
}

static void cmd_started(ykt_db *db, bool unguarded)
{
    db->in_cmd = true;
    db->cmd_unguarded = unguarded;
    db->cmd_changes_mark = unguarded ? sqlite3_total_changes64(db->h) : 0;
    db->cmd_rows_dirty = false;
    db->cmd_hook_mark = db->nhooks;
}

int ykt_db_cmd_begin(ykt_db *db)
{
    int rc = batch_begin(db);
    if (rc != YKT_OK)
        return rc;
    if (control(db, "SAVEPOINT cmd") != YKT_OK) {
        db->batch_failed = true;
        return YKT_ESTORAGE;
    }
    cmd_started(db, false);
    return YKT_OK;
}

int ykt_db_cmd_begin_unguarded(ykt_db *db)
{
    int rc = batch_begin(db);
    if (rc == YKT_OK)
        cmd_started(db, true);
    return rc;
}

void ykt_db_cmd_end(ykt_db *db, bool keep)
{
    if (!db->in_cmd)
        return;
    db->in_cmd = false;
    /* SQLite rolls back the whole transaction on some errors (SQLITE_FULL, IOERR); then
     * the savepoint is gone and so is everything this batch did before. */
    if (sqlite3_get_autocommit(db->h)) {
        ykt_error("storage: the transaction was aborted by the database: %s",
                  sqlite3_errmsg(db->h));
        db->batch_failed = true;
        return;
    }
    if (keep) {
        if (!db->cmd_unguarded && control(db, "RELEASE cmd") != YKT_OK)
            db->batch_failed = true;
        return;
    }
    if (db->cmd_unguarded) {
        /* Nothing to roll back to: a request that changed nothing leaves nothing behind
         * (SQLite counts a statement's changes once it completes, and undoes an aborted
         * statement's own); one that did takes the batch with it. */
        if (sqlite3_total_changes64(db->h) != db->cmd_changes_mark) {
            ykt_error("storage: a request without a savepoint failed after writing; the "
                      "whole batch is undone");
            db->batch_failed = true;
        }
    } else if (control(db, "ROLLBACK TO cmd") != YKT_OK || control(db, "RELEASE cmd") != YKT_OK) {
        db->batch_failed = true;
    }
    /* A copy taken after a row changed in this request holds what was just undone. The
     * copies' own writes undo themselves through their hooks. */
    if (db->cmd_rows_dirty)
        rows_moved(db);
    run_hooks(db, db->cmd_hook_mark, false);
}

size_t ykt_db_hooks_mark(ykt_db *db)
{
    return db->nhooks;
}

void ykt_db_hooks_rollback(ykt_db *db, size_t mark)
{
    if (db->cmd_rows_dirty) /* as in ykt_db_cmd_end */
        rows_moved(db);
    if (mark <= db->nhooks)
        run_hooks(db, mark, false);
}

bool ykt_db_in_cmd(ykt_db *db)
{
    return db->in_cmd;
}

bool ykt_db_batch_open(ykt_db *db)
{
    return db->batch_open;
}

bool ykt_db_batch_failed(ykt_db *db)
{
    return db->batch_failed;
}

/* COMMIT, or ROLLBACK when the batch failed; returns YKT_OK or YKT_ESTORAGE. Runs on the
 * loop (shutdown, tests) or on the committer thread. */
/* COMMIT (or ROLLBACK when the batch failed) without the checkpoint. */
static int commit_sql(ykt_db *db)
{
    db->commit_error[0] = '\0';
    if (db->batch_failed || control(db, "COMMIT") != YKT_OK) {
        if (!sqlite3_get_autocommit(db->h))
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        return YKT_ESTORAGE;
    }
    return YKT_OK;
}

/* Makes the WAL frames written so far durable (split mode). A failed fdatasync leaves
 * committed changes that may not be on disk: nothing more may be acknowledged, and the
 * pages the kernel dropped cannot be trusted — yktd stops, and recovery at the next start
 * keeps exactly what reached the disk (every retried request then applies once). */
static void sync_wal(ykt_db *db)
{
    if (fdatasync(db->wal_fd) == 0)
        return;
    fprintf(stderr,
            "ykt: storage: fdatasync of %s-wal failed: %s; stopping so that nothing "
            "unsynced is acknowledged\n",
            db->path, strerror(errno));
    abort();
}

static int commit_now(ykt_db *db)
{
    int rc = commit_sql(db);
    if (rc == YKT_OK && db->split)
        sync_wal(db);
    if (rc == YKT_OK)
        checkpoint_if_due(db);
    return rc;
}

static void commit_finish(ykt_db *db, int rc)
{
    db->batch_open = false;
    db->batch_failed = false;
    run_hooks(db, 0, rc == YKT_OK);
}

/* Split mode: the batch in flight has landed; its hooks run (the next batch's stay). */
static void flight_finish(ykt_db *db, int rc)
{
    size_t n = db->nflight;
    commit_hook *hooks = db->flight_hooks;
    db->flight_hooks = NULL;
    db->nflight = 0;
    for (size_t i = 0; i < n; i++)
        hooks[i].fn(hooks[i].arg, rc == YKT_OK);
    free(hooks);
}

int ykt_db_batch_commit(ykt_db *db)
{
    if (!db->batch_open)
        return YKT_OK;
    int rc = commit_now(db);
    commit_finish(db, rc);
    return rc;
}

/* ---- the committer thread ---- */

static void finish_checkpoint(ykt_db *db);
static void pass_thread_start(ykt_db *db);
static void pass_thread_stop(ykt_db *db);

static void committer_main(void *arg)
{
    ykt_db *db = arg;
    uv_mutex_lock(&db->mutex);
    for (;;) {
        while (!db->commit_requested && !db->stop_committer)
            uv_cond_wait(&db->cond, &db->mutex);
        if (!db->commit_requested && db->stop_committer)
            break;
        db->commit_requested = false;
        bool split = db->split, finish = db->finish_requested;
        db->finish_requested = false;
        uv_mutex_unlock(&db->mutex);
        int rc;
        if (split) {
            /* COMMIT already ran on the loop; only the disk is left, and the loop goes on. */
            sync_wal(db);
            if (finish)
                finish_checkpoint(db);
            rc = YKT_OK;
        } else {
            rc = commit_now(db);
        }
        uv_mutex_lock(&db->mutex);
        db->commit_rc = rc;
        uv_async_send(&db->async);
    }
    uv_mutex_unlock(&db->mutex);
}

static void on_committed(uv_async_t *h)
{
    ykt_db *db = h->data;
    uv_mutex_lock(&db->mutex);
    bool done = db->committing && !db->commit_requested;
    int rc = db->commit_rc;
    uv_mutex_unlock(&db->mutex);
    if (!done)
        return;
    db->committing = false;
    db->holding = false;
    if (db->split)
        flight_finish(db, rc);
    else
        commit_finish(db, rc);
    if (db->commit_done != NULL)
        db->commit_done(db->commit_arg, rc);
}

/* Turns the split commit on: our own descriptor of the -wal file, a connection for
 * checkpoints, synchronous=NORMAL. Any failure keeps the whole commit on the committer
 * thread with synchronous=FULL, as before (slower, as durable). */
static void split_start(ykt_db *db)
{
    char wal[YKT_DB_PATH_MAX];
    struct stat st;
    if (snprintf(wal, sizeof wal, "%s-wal", db->path) >= (int)sizeof wal ||
        stat(db->path, &st) != 0)
        return;
    /* SQLite keeps the WAL (the same file) while a connection is open; creating it first,
     * with the database's permissions, is what SQLite would do. */
    bool created = access(wal, F_OK) != 0;
    db->wal_fd = open(wal, O_RDWR | O_CREAT | O_CLOEXEC, st.st_mode & 0777);
    if (db->wal_fd < 0) {
        ykt_warn("storage: cannot open %s (%s); commits stay on the committer thread", wal,
                 strerror(errno));
        return;
    }
    if (created) {
        char dir[YKT_DB_PATH_MAX];
        ykt_strlcpy(dir, db->path, sizeof dir);
        char *slash = strrchr(dir, '/');
        int dfd = open(slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".",
                       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    /* Through the "ykt" VFS, whose main file can pace the checkpoint's writes (walvfs.h);
     * without it, the checkpoint syncs once at its end, as SQLite does. */
    const char *vfs = ykt_walvfs_register() == SQLITE_OK ? YKT_WALVFS_NAME : NULL;
    if (sqlite3_open_v2(db->path, &db->ckpt, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs) !=
            SQLITE_OK ||
        sqlite3_exec(db->ckpt, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db->h, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        ykt_warn("storage: cannot prepare the split commit (%s); commits stay on the "
                 "committer thread",
                 db->ckpt ? sqlite3_errmsg(db->ckpt) : "out of memory");
        sqlite3_close(db->ckpt);
        db->ckpt = NULL;
        close(db->wal_fd);
        db->wal_fd = -1;
        return;
    }
    sqlite3_busy_timeout(db->ckpt, 5000);
    /* The pace applied here is the one the finish restores (ykt_db_set_checkpoint_pace
     * after this does not reach the committer thread). */
    db->ckpt_pace = db->checkpoint_pace;
    if (vfs == NULL || sqlite3_file_control(db->ckpt, "main", YKT_WALVFS_FCNTL_PACE,
                                            &db->ckpt_pace) != SQLITE_OK) {
        if (db->ckpt_pace > 0)
            ykt_warn("storage: cannot pace checkpoints; SQLite syncs their pages itself");
        db->ckpt_pace = 0;
    }
    db->split = true;
}

static void split_stop(ykt_db *db)
{
    if (!db->split)
        return;
    db->split = false;
    /* Whatever commits after this (shutdown) syncs as before. */
    sqlite3_exec(db->h, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    sqlite3_close(db->ckpt);
    db->ckpt = NULL;
    close(db->wal_fd);
    db->wal_fd = -1;
}

int ykt_db_committer_start(ykt_db *db, uv_loop_t *loop, void (*done)(void *arg, int rc), void *arg)
{
    if (db->committer_running)
        return YKT_ESTATE;
    db->commit_done = done;
    db->commit_arg = arg;
    if (uv_mutex_init(&db->mutex) != 0)
        return YKT_ENOMEM;
    if (uv_cond_init(&db->cond) != 0) {
        uv_mutex_destroy(&db->mutex);
        return YKT_ENOMEM;
    }
    uv_async_init(loop, &db->async, on_committed);
    db->async.data = db;
    db->loop = loop;
    split_start(db);
    if (uv_thread_create(&db->thread, committer_main, db) != 0) {
        uv_close((uv_handle_t *)&db->async, NULL);
        uv_cond_destroy(&db->cond);
        uv_mutex_destroy(&db->mutex);
        return YKT_EIO;
    }
    db->committer_running = true;
    if (db->split)
        pass_thread_start(db); /* stopped by ykt_db_committer_stop */
    return YKT_OK;
}

void ykt_db_committer_close_handle(ykt_db *db)
{
    if (db->committer_running && !uv_is_closing((uv_handle_t *)&db->async))
        uv_close((uv_handle_t *)&db->async, NULL);
    /* A pass under way on its thread sends when it lands: the handle closes then. */
    if (db->pass_thread_running && !db->pass_async_closing) {
        db->pass_async_closing = true;
        if (!db->pass_on_thread)
            uv_close((uv_handle_t *)&db->pass_async, NULL);
    }
}

void ykt_db_committer_stop(ykt_db *db)
{
    if (!db->committer_running)
        return;
    uv_mutex_lock(&db->mutex);
    db->stop_committer = true;
    uv_cond_signal(&db->cond);
    uv_mutex_unlock(&db->mutex);
    uv_thread_join(&db->thread);
    uv_cond_destroy(&db->cond);
    uv_mutex_destroy(&db->mutex);
    db->committer_running = false;
    pass_thread_stop(db);
    if (db->split && db->nflight > 0)
        flight_finish(db, db->commit_rc); /* the thread synced it before it stopped */
    db->committing = false;
    db->holding = false;
    split_stop(db);
}

/* On the committer thread, with no transaction open on the loop (`holding`): copies what
 * was committed since the checkpoint beside the loop began. SQLite's own sync of the WAL
 * finds it just synced. */
static void finish_checkpoint(ykt_db *db)
{
    /* Not paced: no commit syncs the WAL meanwhile (this thread would), so syncing every
     * few pages only lengthens the wait of the requests held: the finish took 3.7-4.1 ms
     * paced and 2.2-2.4 ms not (performance.md, "A paced checkpoint"). */
    int unpaced = 0, log = 0, done = 0;
    if (db->ckpt_pace > 0)
        sqlite3_file_control(db->ckpt, "main", YKT_WALVFS_FCNTL_PACE, &unpaced);
    if (sqlite3_wal_checkpoint_v2(db->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) !=
        SQLITE_OK)
        fprintf(stderr, "ykt: storage: checkpoint: %s\n", sqlite3_errmsg(db->ckpt));
    if (db->ckpt_pace > 0)
        sqlite3_file_control(db->ckpt, "main", YKT_WALVFS_FCNTL_PACE, &db->ckpt_pace);
}

/* One pass: copies what the WAL holds beyond what earlier passes copied. */
static int run_pass(ykt_db *db)
{
    int log = 0, done = 0;
    if (sqlite3_wal_checkpoint_v2(db->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) !=
        SQLITE_OK)
        fprintf(stderr, "ykt: storage: checkpoint: %s\n", sqlite3_errmsg(db->ckpt));
    return done;
}

static int queue_pass(ykt_db *db);

/* On the loop after a pass: another while it left many frames behind, else the finish. */
static void after_pass(ykt_db *db)
{
    db->ckpt_running = false;
    db->pass_on_thread = false;
    if (db->split && db->ckpt_passes < CATCHUP_PASSES &&
        db->wal_frames - db->ckpt_done > CATCHUP_FRAMES) {
        db->ckpt_passes++;
        db->ckpt_running = true;
        if (queue_pass(db) == 0)
            return;
        db->ckpt_running = false;
    }
    db->ckpt_passes = 0;
    db->ckpt_finish = db->split;
}

static void ckpt_work_fn(uv_work_t *w)
{
    ykt_db *db = w->data;
    db->ckpt_done = run_pass(db); /* read on the loop in ckpt_after_fn, after this returns */
}

static void ckpt_after_fn(uv_work_t *w, int status)
{
    (void)status;
    after_pass(w->data);
}

static void pass_main(void *arg)
{
    ykt_db *db = arg;
    /* A thread may lower its own priority without privileges (not raise it again: hence a
     * thread of its own rather than one of the pool's). Below the loop's, whatever that
     * is: nice values are relative within the process's scheduling group. */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int base = getpriority(PRIO_PROCESS, tid);
    int nice = (errno != 0 ? 0 : base) + db->checkpoint_nice;
    if (nice > 19)
        nice = 19;
    if (setpriority(PRIO_PROCESS, tid, nice) != 0)
        fprintf(stderr, "ykt: storage: cannot lower the priority of checkpoints: %s\n",
                strerror(errno)); /* the log is the loop's */
    uv_mutex_lock(&db->pass_mutex);
    for (;;) {
        while (!db->pass_requested && !db->pass_stop)
            uv_cond_wait(&db->pass_cond, &db->pass_mutex);
        if (!db->pass_requested)
            break;
        db->pass_requested = false;
        uv_mutex_unlock(&db->pass_mutex);
        int done = run_pass(db);
        uv_mutex_lock(&db->pass_mutex);
        db->pass_done = done;
        db->pass_landed = true;
        uv_async_send(&db->pass_async);
    }
    uv_mutex_unlock(&db->pass_mutex);
}

static void on_pass_async(uv_async_t *h)
{
    ykt_db *db = h->data;
    uv_mutex_lock(&db->pass_mutex);
    bool landed = db->pass_landed;
    db->pass_landed = false;
    if (landed)
        db->ckpt_done = db->pass_done;
    uv_mutex_unlock(&db->pass_mutex);
    if (!landed)
        return;
    if (db->pass_async_closing) { /* shutting down: no more passes */
        db->ckpt_running = false;
        db->pass_on_thread = false;
        uv_close((uv_handle_t *)&db->pass_async, NULL);
        return;
    }
    after_pass(db);
}

/* Far behind, on the pool at the loop's priority (PASS_BEHIND_FACTOR); otherwise on the
 * low-priority thread. Returns 0, or libuv's error. */
static int queue_pass(ykt_db *db)
{
    if (db->pass_thread_running && !db->pass_async_closing &&
        (int64_t)db->wal_frames < (int64_t)PASS_BEHIND_FACTOR * db->checkpoint_pages) {
        db->pass_on_thread = true;
        uv_mutex_lock(&db->pass_mutex);
        db->pass_requested = true;
        uv_cond_signal(&db->pass_cond);
        uv_mutex_unlock(&db->pass_mutex);
        return 0;
    }
    db->ckpt_work.data = db;
    return uv_queue_work(db->loop, &db->ckpt_work, ckpt_work_fn, ckpt_after_fn);
}

static void pass_thread_start(ykt_db *db)
{
    if (db->checkpoint_nice <= 0)
        return; /* on the pool, at the loop's priority */
    if (uv_mutex_init(&db->pass_mutex) != 0)
        return;
    if (uv_cond_init(&db->pass_cond) != 0) {
        uv_mutex_destroy(&db->pass_mutex);
        return;
    }
    uv_async_init(db->loop, &db->pass_async, on_pass_async);
    db->pass_async.data = db;
    if (uv_thread_create(&db->pass_thread, pass_main, db) != 0) {
        ykt_warn("storage: no thread for checkpoints; they run on the thread pool");
        uv_close((uv_handle_t *)&db->pass_async, NULL);
        uv_cond_destroy(&db->pass_cond);
        uv_mutex_destroy(&db->pass_mutex);
        return;
    }
    db->pass_thread_running = true;
}

/* After the loop has ended: no pass is under way (the handle stayed open until it landed). */
static void pass_thread_stop(ykt_db *db)
{
    if (!db->pass_thread_running)
        return;
    uv_mutex_lock(&db->pass_mutex);
    db->pass_stop = true;
    uv_cond_signal(&db->pass_cond);
    uv_mutex_unlock(&db->pass_mutex);
    uv_thread_join(&db->pass_thread);
    uv_cond_destroy(&db->pass_cond);
    uv_mutex_destroy(&db->pass_mutex);
    db->pass_thread_running = false;
}

/* Right after a COMMIT on the loop (split mode): start a checkpoint, or have the committer
 * finish one after this commit's fdatasync, holding new transactions until then. */
static void checkpoint_step(ykt_db *db)
{
    if (db->ckpt_finish) {
        db->ckpt_finish = false;
        db->finish_requested = true;
        db->holding = true;
        /* The WAL starts again: the length that made this checkpoint due is gone. */
        db->checkpoint_due = false;
    } else if (db->checkpoint_due && !db->ckpt_running) {
        db->checkpoint_due = false;
        db->ckpt_running = true;
        if (queue_pass(db) != 0)
            db->ckpt_running = false;
    }
}

int ykt_db_commit_async(ykt_db *db)
{
    if (!db->committer_running || db->committing || !db->batch_open)
        return YKT_ESTATE;
    db->committing = true;
    if (db->split) {
        /* COMMIT here (no disk wait); the batch's hooks fly with it; the connection is free
         * for the next batch at once. */
        int rc = commit_sql(db);
        db->flight_hooks = db->hooks;
        db->nflight = db->nhooks;
        db->hooks = NULL;
        db->nhooks = db->caphooks = 0;
        db->batch_open = false;
        db->batch_failed = false;
        uv_mutex_lock(&db->mutex);
        if (rc == YKT_OK) {
            checkpoint_step(db);
            db->commit_requested = true;
            uv_cond_signal(&db->cond);
        } else {
            db->commit_rc = rc; /* nothing to sync: report the failure from the loop */
            uv_async_send(&db->async);
        }
        uv_mutex_unlock(&db->mutex);
        return YKT_OK;
    }
    uv_mutex_lock(&db->mutex);
    db->commit_requested = true;
    uv_cond_signal(&db->cond);
    uv_mutex_unlock(&db->mutex);
    return YKT_OK;
}

bool ykt_db_in_flight(ykt_db *db)
{
    return db->committing;
}

bool ykt_db_busy(ykt_db *db)
{
    return (db->committing && !db->split) || db->holding;
}
