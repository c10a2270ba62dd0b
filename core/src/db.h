/*
 * The storage engine: one SQLite connection in WAL mode with foreign keys on, every commit
 * durable before its replies (see the group commit below), versioned migrations, a cache of
 * statements prepared once, and the group-commit transaction that every state-changing request of a
 * loop iteration shares.
 *
 * All SQL text lives in core/src/store/ (one file per kind of record) and in the
 * migrations; the rest of the core calls the ykt_store_* functions, never SQLite.
 *
 * Group commit: the first write of an iteration opens a transaction; each request runs
 * inside its own SAVEPOINT so that a refused request changes nothing while the requests
 * around it still commit; at the end of the iteration the server commits once and only
 * then sends the replies. Work that must wait for the commit (updating in-memory state,
 * closing a revoked terminal's connections) registers an on-commit hook.
 */
#ifndef YKT_DB_H
#define YKT_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>
#include <uv.h>

typedef struct ykt_db ykt_db;

/* The schema version this binary writes; a newer database is refused. */
int ykt_db_latest_version(void);

/* SQLite's process-wide settings; before the first SQLite call (main). */
void ykt_db_global_init(void);
int ykt_db_open(ykt_db **out, const char *path, char *err, size_t errlen);
/* The WAL length in pages past which a checkpoint starts ([storage] checkpoint_pages). */
void ykt_db_set_checkpoint_pages(ykt_db *db, int pages);
/* Checkpoints beside the loop sync the database file every this many pages they copy (0:
 * once, at the end) ([storage] checkpoint_pace_pages). Takes effect when the committer
 * starts. */
void ykt_db_set_checkpoint_pace(ykt_db *db, int pages);
/* Checkpoint passes beside the loop run on a thread of their own this much below the loop's
 * priority (added to its nice value, at most 19), 1-19; 0: on libuv's thread pool, at the
 * loop's priority ([storage] checkpoint_nice). Takes effect when the committer starts. */
void ykt_db_set_checkpoint_nice(ykt_db *db, int nice);
void ykt_db_close(ykt_db *db);
int ykt_db_schema_version(ykt_db *db);
const char *ykt_db_errmsg(ykt_db *db);
/* Why the last batch commit failed (SQLite's message and the system error); for logs. */
const char *ykt_db_commit_error(ykt_db *db);
const char *ykt_db_path(ykt_db *db);
sqlite3 *ykt_db_handle(ykt_db *db);

/* Returns the statement for sql, prepared on first use and reset for reuse. sql must be a
 * string literal (the cache is keyed by its address). NULL if preparation failed (logged). */
sqlite3_stmt *ykt_db_stmt(ykt_db *db, const char *sql);
/* The statement for sql if ykt_db_stmt prepared it before (reset, bindings cleared), else
 * NULL without preparing anything. */
sqlite3_stmt *ykt_db_stmt_cached(ykt_db *db, const char *sql);
/* Runs one statement without results; YKT_OK or YKT_ESTORAGE (logged). */
int ykt_db_exec(ykt_db *db, const char *sql);

/* Opens the iteration's transaction if needed and a savepoint for one request. */
int ykt_db_cmd_begin(ykt_db *db);
/* The same without the savepoint, for a request that refuses before it writes anything
 * (YKT_VERB_UNGUARDED): ykt_db_cmd_end(db, false) after it changed a row fails the whole
 * batch instead of undoing the request alone. */
int ykt_db_cmd_begin_unguarded(ykt_db *db);
/* Keeps (RELEASE) or undoes (ROLLBACK TO) the request's changes. */
void ykt_db_cmd_end(ykt_db *db, bool keep);
bool ykt_db_in_cmd(ykt_db *db);
/* For a savepoint of its own inside a request: where the on-commit hooks stand now, and,
 * after ROLLBACK TO that savepoint, the hooks registered since run as rolled back (an event
 * of a change that was undone must not be delivered when the batch commits). */
size_t ykt_db_hooks_mark(ykt_db *db);
void ykt_db_hooks_rollback(ykt_db *db, size_t mark);
bool ykt_db_batch_open(ykt_db *db);
/* True once a write in this batch failed in a way that doomed the whole transaction. */
bool ykt_db_batch_failed(ykt_db *db);
/* Commits the iteration's transaction. YKT_OK, or YKT_ESTORAGE after rolling back. Runs
 * the on-commit hooks with committed = true or false. No-op without an open batch. */
int ykt_db_batch_commit(ykt_db *db);
/*
 * Asynchronous group commit. Normally (split mode) the loop runs COMMIT with
 * synchronous=NORMAL and a committer thread makes the WAL durable with fdatasync, and runs
 * checkpoints on a connection of its own, while the loop executes the next batch; if that
 * cannot be set up, the committer thread runs COMMIT itself with synchronous=FULL and the
 * loop waits. Either way the event loop keeps reading and parsing meanwhile. done(arg, rc) runs on
 * the loop once the batch has committed (rc YKT_OK) or rolled back (YKT_ESTORAGE), after the
 * on-commit hooks. While a commit is in flight (ykt_db_busy) nothing on the loop may use the
 * database: ykt_db_cmd_begin returns YKT_EAGAIN, and the server holds requests back.
 */
int ykt_db_committer_start(ykt_db *db, uv_loop_t *loop, void (*done)(void *arg, int rc), void *arg);
/* Starts committing the open batch on the committer thread. YKT_ESTATE if there is no
 * batch, no committer, or a commit already in flight. */
int ykt_db_commit_async(ykt_db *db);
/* The connection belongs to the committer thread now: nothing on the loop may use it. */
bool ykt_db_busy(ykt_db *db);
/* A batch is committing or waiting for the disk: its replies and hooks must wait, and the
 * next batch may not commit yet (it may run, unless ykt_db_busy). */
bool ykt_db_in_flight(ykt_db *db);
/* Closes the committer's loop handle (at shutdown, with nothing in flight). */
void ykt_db_committer_close_handle(ykt_db *db);
/* Stops and joins the committer thread (ykt_db_close does it too). */
void ykt_db_committer_stop(ykt_db *db);

/*
 * Copies of rows kept beside the database (cardcache.c) are valid while this number stays
 * the same. It moves when a cards, people or merchants row changes on this connection (unless
 * ykt_db_rows_quiet), when a change is rolled back after such a change, when a transaction
 * is rolled back, and when another connection has committed (PRAGMA data_version, checked
 * when a batch begins, and on each call outside one). Never 0.
 */
uint64_t ykt_db_rows_epoch(ykt_db *db);
/* While quiet, changes to those rows do not move the epoch: the copy's owner makes
 * them and updates its copy (and undoes that with an on-commit hook if rolled back). */
void ykt_db_rows_quiet(ykt_db *db, bool quiet);

/* Calls fn(arg, committed) once the current batch commits or rolls back (also when the
 * current request is rolled back to its savepoint). Outside a batch: called at once. */
void ykt_db_on_commit(ykt_db *db, void (*fn)(void *arg, bool committed), void *arg);

#endif
