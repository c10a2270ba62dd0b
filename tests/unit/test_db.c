/* Unit tests for core/src/db.c and the store (core/src/store/). */
#include "test.h"

#include "buf.h"
#include "common.h"
#include "db.h"
#include "secret.h"
#include "store/store.h"
#include "terminal.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* A fresh database path in the test directory (static storage). */
static const char *db_path(const char *name)
{
    static char paths[16][128];
    static int n;
    ASSERT(n < 16);
    snprintf(paths[n], sizeof paths[0], "%s/%s.db", test_tmpdir, name);
    return paths[n++];
}

static ykt_db *open_db(const char *path)
{
    ykt_db *db = NULL;
    char err[512] = "";
    int rc = ykt_db_open(&db, path, err, sizeof err);
    if (rc != YKT_OK)
        fprintf(stderr, "open %s: %s\n", path, err);
    ASSERT_EQ(rc, YKT_OK);
    ASSERT(db != NULL);
    return db;
}

/* Runs a query returning one integer (or -1 on any failure). */
static int64_t query_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_open_settings(void)
{
    const char *path = db_path("settings");
    ykt_db *db = open_db(path);
    ASSERT(ykt_db_latest_version() >= 2);
    ASSERT_EQ(ykt_db_schema_version(db), ykt_db_latest_version());
    ASSERT_STREQ(ykt_db_path(db), path);
    sqlite3 *h = ykt_db_handle(db);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    ASSERT_EQ(query_int(h, "PRAGMA foreign_keys"), 1);
    ASSERT_EQ(query_int(h, "PRAGMA synchronous"), 2); /* FULL */
    ASSERT_EQ(query_int(h, "PRAGMA user_version"), ykt_db_latest_version());
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                           "('terminals', 'operators', 'audit')"),
              3);
    /* append-only audit (2), immutable transfers (2), terminals' outcome chains (1) */
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 5);
    ASSERT(!ykt_db_batch_open(db));
    ASSERT(!ykt_db_in_cmd(db));
    ASSERT(!ykt_db_batch_failed(db));
    ykt_db_close(db);
    ykt_db_close(NULL);
    /* The WAL file sits beside the database while it is open. */
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", path);
    db = open_db(path);
    ASSERT_EQ(access(wal, F_OK), 0);
    ykt_db_close(db);
}

static ykt_terminal make_terminal(const char *id, unsigned type)
{
    ykt_terminal t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    t.type = type;
    t.status = YKT_TS_ENABLED;
    snprintf(t.location, sizeof t.location, "canteen 1");
    snprintf(t.owner, sizeof t.owner, "catering");
    snprintf(t.secret_hash, sizeof t.secret_hash, "pbkdf2-sha256$1$%032d$%064d", 0, 0);
    t.created_at = 1700000000000LL;
    return t;
}

static void test_reopen_idempotent(void)
{
    const char *path = db_path("reopen");
    ykt_db *db = open_db(path);
    ykt_terminal t = make_terminal("pos-1", YKT_TT_POS);
    ASSERT_EQ(ykt_store_terminal_insert(db, &t), YKT_OK);
    int64_t objects = query_int(ykt_db_handle(db), "SELECT count(*) FROM sqlite_master");
    ASSERT(objects >= 7); /* 3 tables, 2 indexes, 2 triggers (+ autoindexes) */
    ykt_db_close(db);
    for (int i = 0; i < 3; i++) {
        db = open_db(path);
        ASSERT_EQ(ykt_db_schema_version(db), ykt_db_latest_version());
        /* No migration ran again: same schema objects, data kept. */
        ASSERT_EQ(query_int(ykt_db_handle(db), "SELECT count(*) FROM sqlite_master"), objects);
        ASSERT_EQ(query_int(ykt_db_handle(db), "SELECT count(*) FROM terminals"), 1);
        ykt_db_close(db);
    }
}

static void test_refuses_newer_schema(void)
{
    const char *path = db_path("newer");
    ykt_db *db = open_db(path);
    ykt_db_close(db);
    sqlite3 *h;
    ASSERT_EQ(sqlite3_open(path, &h), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", ykt_db_latest_version() + 1);
    ASSERT_EQ(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);

    db = NULL;
    char err[512] = "";
    ASSERT_EQ(ykt_db_open(&db, path, err, sizeof err), YKT_ESTORAGE);
    ASSERT(db == NULL);
    ASSERT_CONTAINS(err, path);
    ASSERT_CONTAINS(err, "newer");
    char want[128];
    snprintf(want, sizeof want, "schema version %d is newer than this yktd supports (%d)",
             ykt_db_latest_version() + 1, ykt_db_latest_version());
    ASSERT_CONTAINS(err, want);
    /* The refused database was not touched. */
    ASSERT_EQ(sqlite3_open(path, &h), SQLITE_OK);
    ASSERT_EQ(query_int(h, "PRAGMA user_version"), ykt_db_latest_version() + 1);
    sqlite3_close(h);
}

static void test_refuses_non_database(void)
{
    const char *path = db_path("garbage");
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    for (int i = 0; i < 512; i++)
        fputs("this is not an SQLite database\n", f);
    ASSERT_EQ(fclose(f), 0);
    ykt_db *db = NULL;
    char err[512] = "";
    ASSERT_EQ(ykt_db_open(&db, path, err, sizeof err), YKT_ESTORAGE);
    ASSERT(db == NULL);
    ASSERT_CONTAINS(err, path);
    ASSERT_CONTAINS(err, "file is not a database");

    /* A directory cannot be opened either. */
    err[0] = '\0';
    ASSERT_EQ(ykt_db_open(&db, test_tmpdir, err, sizeof err), YKT_ESTORAGE);
    ASSERT(db == NULL);
    ASSERT_CONTAINS(err, test_tmpdir);
}

static void test_stmt_cache(void)
{
    ykt_db *db = open_db(db_path("stmt"));
    static const char sql_a[] = "SELECT ?1 + 1";
    static const char sql_a_copy[] = "SELECT ?1 + 1"; /* same text, another address */
    sqlite3_stmt *a = ykt_db_stmt(db, sql_a);
    ASSERT(a != NULL);
    ASSERT(ykt_db_stmt(db, sql_a) == a);
    sqlite3_stmt *b = ykt_db_stmt(db, sql_a_copy);
    ASSERT(b != NULL);
    ASSERT(b != a);

    /* A statement handed out again is reset and its bindings cleared. */
    ASSERT_EQ(sqlite3_bind_int(a, 1, 41), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(a), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(a, 0), 42);
    ASSERT(ykt_db_stmt(db, sql_a) == a);
    ASSERT_EQ(sqlite3_step(a), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_type(a, 0), SQLITE_NULL); /* NULL + 1 */
    sqlite3_reset(a);

    /* Many statements: the cache grows and still finds every one. */
    static char many[200][48];
    sqlite3_stmt *st[200];
    for (int i = 0; i < 200; i++) {
        snprintf(many[i], sizeof many[i], "SELECT %d", i);
        st[i] = ykt_db_stmt(db, many[i]);
        ASSERT(st[i] != NULL);
    }
    for (int i = 0; i < 200; i++) {
        ASSERT(ykt_db_stmt(db, many[i]) == st[i]);
        ASSERT_EQ(sqlite3_step(st[i]), SQLITE_ROW);
        ASSERT_EQ(sqlite3_column_int(st[i], 0), i);
        sqlite3_reset(st[i]);
    }
    ASSERT(ykt_db_stmt(db, sql_a) == a);
    ASSERT(ykt_db_stmt(db, sql_a_copy) == b);

    /* Bad SQL: NULL, and nothing cached. */
    ASSERT(ykt_db_stmt(db, "SELEKT nonsense") == NULL);
    ASSERT_EQ(ykt_db_exec(db, "CREATE TABLE t (x)"), YKT_OK);
    ASSERT_EQ(ykt_db_exec(db, "CREATE TABLE t (x)"), YKT_ESTORAGE);
    ykt_db_close(db);
}

/* ---- group commit ---- */

static void add_audit(ykt_db *db, const char *action)
{
    ykt_audit_row row = {.at = 1000,
                         .operator_name = "alice",
                         .role = "operator",
                         .action = action,
                         .target = "t",
                         .detail = "",
                         .approval = ""};
    ASSERT_EQ(ykt_store_audit_append(db, &row), YKT_OK);
}

static int64_t count_action(sqlite3 *h, const char *action)
{
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT count(*) FROM audit WHERE action = ?", -1, &st, NULL),
              SQLITE_OK);
    sqlite3_bind_text(st, 1, action, -1, SQLITE_STATIC);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_group_commit(void)
{
    const char *path = db_path("group");
    ykt_db *db = open_db(path);
    sqlite3 *h = ykt_db_handle(db);
    /* A second connection sees only committed data. */
    sqlite3 *reader;
    ASSERT_EQ(sqlite3_open(path, &reader), SQLITE_OK);

    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    ASSERT(ykt_db_batch_open(db));
    ASSERT(ykt_db_in_cmd(db));
    add_audit(db, "kept-1");
    ykt_db_cmd_end(db, true);
    ASSERT(!ykt_db_in_cmd(db));
    ASSERT(ykt_db_batch_open(db));

    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    add_audit(db, "undone");
    add_audit(db, "undone");
    ASSERT_EQ(count_action(h, "undone"), 2);
    ykt_db_cmd_end(db, false);
    ASSERT_EQ(count_action(h, "undone"), 0);
    ASSERT_EQ(count_action(h, "kept-1"), 1);

    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    add_audit(db, "kept-2");
    ykt_db_cmd_end(db, true);
    /* Ending a request twice does nothing. */
    ykt_db_cmd_end(db, false);
    ASSERT_EQ(count_action(h, "kept-2"), 1);

    /* Nothing is visible outside until the batch commits. */
    ASSERT_EQ(count_action(reader, "kept-1"), 0);
    ASSERT_EQ(count_action(reader, "kept-2"), 0);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT(!ykt_db_batch_open(db));
    ASSERT_EQ(count_action(reader, "kept-1"), 1);
    ASSERT_EQ(count_action(reader, "kept-2"), 1);
    ASSERT_EQ(count_action(reader, "undone"), 0);
    /* Committing without a batch is a no-op. */
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);

    /* A batch whose every request is undone commits nothing. */
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    add_audit(db, "undone-2");
    ykt_db_cmd_end(db, false);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT_EQ(count_action(reader, "undone-2"), 0);
    ASSERT_EQ(query_int(reader, "SELECT count(*) FROM audit"), 2);

    sqlite3_close(reader);
    ykt_db_close(db);
    /* And it is all still there after reopening. */
    db = open_db(path);
    ASSERT_EQ(count_action(ykt_db_handle(db), "kept-1"), 1);
    ASSERT_EQ(count_action(ykt_db_handle(db), "kept-2"), 1);
    ASSERT_EQ(query_int(ykt_db_handle(db), "SELECT count(*) FROM audit"), 2);
    ykt_db_close(db);
}

typedef struct hook_log {
    int n;
    int tag[16];
    bool committed[16];
} hook_log;

static hook_log hooks;
static int hook_tags[16];

static void hook(void *arg, bool committed)
{
    ASSERT(hooks.n < 16);
    hooks.tag[hooks.n] = *(int *)arg;
    hooks.committed[hooks.n] = committed;
    hooks.n++;
}

static void register_hook(ykt_db *db, int tag)
{
    hook_tags[tag] = tag;
    ykt_db_on_commit(db, hook, &hook_tags[tag]);
}

static void test_commit_hooks(void)
{
    ykt_db *db = open_db(db_path("hooks"));
    memset(&hooks, 0, sizeof hooks);

    /* No batch open: the hook runs at once, as committed. */
    register_hook(db, 1);
    ASSERT_EQ(hooks.n, 1);
    ASSERT_EQ(hooks.tag[0], 1);
    ASSERT(hooks.committed[0]);

    memset(&hooks, 0, sizeof hooks);
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    register_hook(db, 2);
    register_hook(db, 3);
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(hooks.n, 0); /* kept: waits for the commit */

    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    register_hook(db, 4);
    ykt_db_cmd_end(db, false);
    /* The undone request's hook runs at once, as not committed; the others still wait. */
    ASSERT_EQ(hooks.n, 1);
    ASSERT_EQ(hooks.tag[0], 4);
    ASSERT(!hooks.committed[0]);

    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    register_hook(db, 5);
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(hooks.n, 1);

    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT_EQ(hooks.n, 4);
    ASSERT_EQ(hooks.tag[1], 2);
    ASSERT_EQ(hooks.tag[2], 3);
    ASSERT_EQ(hooks.tag[3], 5);
    ASSERT(hooks.committed[1] && hooks.committed[2] && hooks.committed[3]);
    /* Each hook ran once: another commit runs nothing. */
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT_EQ(hooks.n, 4);
    ykt_db_close(db);
}

/* When the database aborts the whole transaction, the batch fails and every hook of it
 * (from kept requests too) runs as not committed. */
/* A request without a savepoint (a PAY): refused before writing, it leaves the batch alone;
 * kept, its rows stay; failed after writing, it takes the batch with it. */
static void test_unguarded_request(void)
{
    ykt_db *db = open_db(db_path("unguarded"));
    sqlite3 *h = ykt_db_handle(db);
    memset(&hooks, 0, sizeof hooks);
    ASSERT_EQ(ykt_db_cmd_begin_unguarded(db), YKT_OK);
    ASSERT(ykt_db_in_cmd(db));
    register_hook(db, 1);
    ykt_db_cmd_end(db, false);
    ASSERT(!ykt_db_batch_failed(db));
    ASSERT_EQ(hooks.n, 1);
    ASSERT(!hooks.committed[0]); /* what it registered is dropped */

    ASSERT_EQ(ykt_db_cmd_begin_unguarded(db), YKT_OK);
    ASSERT_EQ(sqlite3_exec(h, "INSERT INTO meta (key, value) VALUES ('kept', 1)", NULL, NULL, NULL),
              SQLITE_OK);
    ykt_db_cmd_end(db, true);
    ASSERT(!ykt_db_batch_failed(db));
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM meta WHERE key = 'kept'"), 1);

    ASSERT_EQ(ykt_db_cmd_begin_unguarded(db), YKT_OK);
    ASSERT_EQ(sqlite3_exec(h, "INSERT INTO meta (key, value) VALUES ('half', 1)", NULL, NULL, NULL),
              SQLITE_OK);
    ykt_db_cmd_end(db, false);
    ASSERT(ykt_db_batch_failed(db));
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_ESTORAGE); /* nothing more joins the doomed batch */
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_ESTORAGE);
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM meta WHERE key IN ('kept', 'half')"), 0);
    ASSERT(!ykt_db_batch_failed(db)); /* the next batch starts clean */
    ykt_db_close(db);
}

static void test_aborted_batch(void)
{
    const char *path = db_path("aborted");
    ykt_db *db = open_db(path);
    memset(&hooks, 0, sizeof hooks);
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    add_audit(db, "lost");
    register_hook(db, 6);
    ykt_db_cmd_end(db, true);

    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    register_hook(db, 7);
    /* Simulates SQLite rolling back the transaction by itself (SQLITE_FULL, IOERR). */
    ASSERT_EQ(sqlite3_exec(ykt_db_handle(db), "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    ykt_db_cmd_end(db, true);
    ASSERT(ykt_db_batch_failed(db));
    ASSERT_EQ(hooks.n, 0);
    /* No further request may start in the failed batch. */
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_ESTORAGE);

    ASSERT_EQ(ykt_db_batch_commit(db), YKT_ESTORAGE);
    ASSERT(!ykt_db_batch_open(db));
    ASSERT(!ykt_db_batch_failed(db));
    ASSERT_EQ(hooks.n, 2);
    ASSERT_EQ(hooks.tag[0], 6);
    ASSERT_EQ(hooks.tag[1], 7);
    ASSERT(!hooks.committed[0] && !hooks.committed[1]);
    ASSERT_EQ(count_action(ykt_db_handle(db), "lost"), 0);

    /* The next batch works again. */
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    add_audit(db, "after");
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT_EQ(count_action(ykt_db_handle(db), "after"), 1);
    ykt_db_close(db);
}

/* A request that changes several MiB of pages: its statement journal outgrows the memory
 * block (ykt_db_global_init) and continues in a temporary file. With a block of 128 KiB
 * or more SQLite answered SQLITE_FULL there (the unix VFS writes less than 128 KiB per
 * call): every big request failed (a prune of many rows, a migration dropping a large
 * index). */
static void test_large_request_spills(void)
{
    const char *path = db_path("spill");
    ykt_db *db = open_db(path);
    sqlite3 *h = ykt_db_handle(db);
    ASSERT_EQ(sqlite3_exec(h,
                           "CREATE TABLE big (x BLOB);"
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                           "WHERE i < 8000) INSERT INTO big SELECT randomblob(1000) FROM n;",
                           NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h, "UPDATE big SET x = randomblob(900)", NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "update: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    ASSERT_EQ(rc, SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "DELETE FROM big", NULL, NULL, NULL), SQLITE_OK);
    ykt_db_cmd_end(db, true);
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM big"), 0);
    ykt_db_close(db);
}

static void test_close_commits_open_batch(void)
{
    const char *path = db_path("close");
    ykt_db *db = open_db(path);
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    add_audit(db, "at-close");
    ykt_db_cmd_end(db, true);
    ykt_db_close(db);
    db = open_db(path);
    ASSERT_EQ(count_action(ykt_db_handle(db), "at-close"), 1);
    ykt_db_close(db);
}

/* ---- store ---- */

static void test_audit_append_only(void)
{
    ykt_db *db = open_db(db_path("audit-ro"));
    sqlite3 *h = ykt_db_handle(db);
    add_audit(db, "original");
    char *msg = NULL;
    ASSERT(sqlite3_exec(h, "UPDATE audit SET detail = 'forged'", NULL, NULL, &msg) != SQLITE_OK);
    ASSERT_CONTAINS(msg, "the audit trail is append-only");
    sqlite3_free(msg);
    msg = NULL;
    ASSERT(sqlite3_exec(h, "DELETE FROM audit", NULL, NULL, &msg) != SQLITE_OK);
    ASSERT_CONTAINS(msg, "the audit trail is append-only");
    sqlite3_free(msg);
    ASSERT_EQ(ykt_db_exec(db, "UPDATE audit SET action = 'x' WHERE action = 'original'"),
              YKT_ESTORAGE);
    ASSERT_EQ(ykt_db_exec(db, "DELETE FROM audit WHERE action = 'original'"), YKT_ESTORAGE);
    ASSERT_EQ(count_action(h, "original"), 1);
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM audit WHERE detail = ''"), 1);
    /* Inside a batch the refused change does not doom the requests around it. */
    ASSERT_EQ(ykt_db_cmd_begin(db), YKT_OK);
    add_audit(db, "in-batch");
    ASSERT_EQ(ykt_db_exec(db, "DELETE FROM audit"), YKT_ESTORAGE);
    ykt_db_cmd_end(db, true);
    ASSERT(!ykt_db_batch_failed(db));
    ASSERT_EQ(ykt_db_batch_commit(db), YKT_OK);
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM audit"), 2);
    ykt_db_close(db);
}

typedef struct term_list {
    int n;
    ykt_terminal t[8];
} term_list;

static int collect_terminal(const ykt_terminal *t, void *arg)
{
    term_list *l = arg;
    ASSERT(l->n < 8);
    l->t[l->n++] = *t;
    return YKT_OK;
}

static int stop_at_first(const ykt_terminal *t, void *arg)
{
    YKT_UNUSED(t);
    (*(int *)arg)++;
    return YKT_EPERM;
}

static void test_store_terminals(void)
{
    ykt_db *db = open_db(db_path("terminals"));
    ykt_terminal g = make_terminal("gate-7", YKT_TT_GATE);
    ykt_terminal p = make_terminal("pos-1", YKT_TT_POS);
    snprintf(p.location, sizeof p.location, "library, 2nd floor");
    p.status = YKT_TS_DISABLED;
    p.created_at = 1700000000123LL;
    ASSERT_EQ(ykt_store_terminal_insert(db, &p), YKT_OK);
    ASSERT_EQ(ykt_store_terminal_insert(db, &g), YKT_OK);
    ASSERT_EQ(ykt_store_terminal_insert(db, &p), YKT_EEXIST);

    term_list l = {0};
    ASSERT_EQ(ykt_store_terminal_each(db, collect_terminal, &l), YKT_OK);
    ASSERT_EQ(l.n, 2);
    /* Ordered by id. */
    ASSERT_STREQ(l.t[0].id, "gate-7");
    ASSERT_EQ(l.t[0].type, YKT_TT_GATE);
    ASSERT_EQ(l.t[0].status, YKT_TS_ENABLED);
    ASSERT_STREQ(l.t[1].id, "pos-1");
    ASSERT_EQ(l.t[1].type, YKT_TT_POS);
    ASSERT_EQ(l.t[1].status, YKT_TS_DISABLED);
    ASSERT_STREQ(l.t[1].location, "library, 2nd floor");
    ASSERT_STREQ(l.t[1].owner, "catering");
    ASSERT_STREQ(l.t[1].secret_hash, p.secret_hash);
    ASSERT_EQ(l.t[1].created_at, 1700000000123LL);
    ASSERT_EQ(l.t[1].last_seen, 0);
    ASSERT_STREQ(l.t[1].health, "");
    ASSERT_EQ(l.t[1].health_at, 0);

    ASSERT_EQ(ykt_store_terminal_set_status(db, "pos-1", "revoked"), YKT_OK);
    ASSERT_EQ(ykt_store_terminal_set_status(db, "nope", "revoked"), YKT_ENOTFOUND);
    ASSERT_EQ(ykt_store_terminal_set_status(db, "pos-1", "lost"), YKT_ESTORAGE); /* CHECK */
    ASSERT_EQ(ykt_store_terminal_set_secret(db, "gate-7", "pbkdf2-sha256$1$aa$bb"), YKT_OK);
    ASSERT_EQ(ykt_store_terminal_set_secret(db, "nope", "x"), YKT_ENOTFOUND);
    ASSERT_EQ(ykt_store_terminal_set_last_seen(db, "gate-7", 1800000000000LL), YKT_OK);
    ASSERT_EQ(
        ykt_store_terminal_set_health(db, "pos-1", "degraded", "printer jam", 1800000000001LL),
        YKT_OK);
    ASSERT_EQ(ykt_store_terminal_set_health(db, "nope", "ok", "", 1), YKT_ENOTFOUND);

    memset(&l, 0, sizeof l);
    ASSERT_EQ(ykt_store_terminal_each(db, collect_terminal, &l), YKT_OK);
    ASSERT_EQ(l.n, 2);
    ASSERT_STREQ(l.t[0].secret_hash, "pbkdf2-sha256$1$aa$bb");
    ASSERT_EQ(l.t[0].last_seen, 1800000000000LL);
    ASSERT_EQ(l.t[1].status, YKT_TS_REVOKED);
    ASSERT_STREQ(l.t[1].health, "degraded");
    ASSERT_STREQ(l.t[1].health_detail, "printer jam");
    ASSERT_EQ(l.t[1].health_at, 1800000000001LL);
    ASSERT_EQ(l.t[1].last_seen, 1800000000001LL);

    /* A callback's error stops the walk and is returned. */
    int calls = 0;
    ASSERT_EQ(ykt_store_terminal_each(db, stop_at_first, &calls), YKT_EPERM);
    ASSERT_EQ(calls, 1);

    /* An unknown type is refused by the schema. */
    ykt_terminal bad = make_terminal("bad-1", 1u << 12);
    ASSERT_EQ(ykt_store_terminal_insert(db, &bad), YKT_ESTORAGE);

    /* The registry loads what the store holds. */
    ykt_terminals *reg = NULL;
    ASSERT_EQ(ykt_terminals_load(&reg, db), YKT_OK);
    ASSERT_EQ(ykt_terminals_count(reg), 2);
    ykt_terminal *found = ykt_terminal_find(reg, "gate-7");
    ASSERT(found != NULL);
    ASSERT_EQ(found->type, YKT_TT_GATE);
    ASSERT(ykt_terminal_find(reg, "nope") == NULL);
    ykt_terminals_free(reg);
    ykt_db_close(db);
}

typedef struct op_list {
    int n;
    ykt_operator_row op[4];
} op_list;

static int collect_operator(const ykt_operator_row *op, void *arg)
{
    op_list *l = arg;
    ASSERT(l->n < 4);
    l->op[l->n++] = *op;
    return YKT_OK;
}

static ykt_operator_row make_operator(const char *name, const char *role)
{
    ykt_operator_row op;
    memset(&op, 0, sizeof op);
    snprintf(op.name, sizeof op.name, "%s", name);
    snprintf(op.role, sizeof op.role, "%s", role);
    snprintf(op.department, sizeof op.department, "card centre");
    snprintf(op.password_hash, sizeof op.password_hash, "hash-of-%s", name);
    snprintf(op.status, sizeof op.status, "active");
    op.must_change_password = 1;
    op.created_at = 1700000000000LL;
    return op;
}

static void test_store_operators(void)
{
    ykt_db *db = open_db(db_path("operators"));
    ykt_operator_row zed = make_operator("zed", "finance");
    ykt_operator_row amy = make_operator("amy", "superuser");
    amy.must_change_password = 0;
    ASSERT_EQ(ykt_store_operator_insert(db, &zed), YKT_OK);
    ASSERT_EQ(ykt_store_operator_insert(db, &amy), YKT_OK);
    ASSERT_EQ(ykt_store_operator_insert(db, &amy), YKT_EEXIST);
    ykt_operator_row bad = make_operator("bob", "janitor");
    ASSERT_EQ(ykt_store_operator_insert(db, &bad), YKT_ESTORAGE);

    ykt_operator_row got;
    ASSERT_EQ(ykt_store_operator_get(db, "zed", &got), YKT_OK);
    ASSERT_STREQ(got.name, "zed");
    ASSERT_STREQ(got.role, "finance");
    ASSERT_STREQ(got.department, "card centre");
    ASSERT_STREQ(got.password_hash, "hash-of-zed");
    ASSERT_STREQ(got.status, "active");
    ASSERT_EQ(got.must_change_password, 1);
    ASSERT_EQ(got.failed_logins, 0);
    ASSERT_EQ(got.locked_until, 0);
    ASSERT_EQ(got.created_at, 1700000000000LL);
    ASSERT_EQ(ykt_store_operator_get(db, "bob", &got), YKT_ENOTFOUND);

    ASSERT_EQ(ykt_store_operator_set_login_state(db, "zed", 3, 1800000000000LL), YKT_OK);
    ASSERT_EQ(ykt_store_operator_get(db, "zed", &got), YKT_OK);
    ASSERT_EQ(got.failed_logins, 3);
    ASSERT_EQ(got.locked_until, 1800000000000LL);
    /* A new password clears the lock. */
    ASSERT_EQ(ykt_store_operator_set_password(db, "zed", "new-hash", 0), YKT_OK);
    ASSERT_EQ(ykt_store_operator_get(db, "zed", &got), YKT_OK);
    ASSERT_STREQ(got.password_hash, "new-hash");
    ASSERT_EQ(got.must_change_password, 0);
    ASSERT_EQ(got.failed_logins, 0);
    ASSERT_EQ(got.locked_until, 0);
    ASSERT_EQ(ykt_store_operator_set_status(db, "zed", "disabled"), YKT_OK);
    ASSERT_EQ(ykt_store_operator_set_status(db, "zed", "gone"), YKT_ESTORAGE);
    ASSERT_EQ(ykt_store_operator_get(db, "zed", &got), YKT_OK);
    ASSERT_STREQ(got.status, "disabled");
    ASSERT_EQ(ykt_store_operator_set_status(db, "bob", "active"), YKT_ENOTFOUND);
    ASSERT_EQ(ykt_store_operator_set_password(db, "bob", "h", 1), YKT_ENOTFOUND);
    ASSERT_EQ(ykt_store_operator_set_login_state(db, "bob", 1, 0), YKT_ENOTFOUND);

    op_list l = {0};
    ASSERT_EQ(ykt_store_operator_each(db, collect_operator, &l), YKT_OK);
    ASSERT_EQ(l.n, 2);
    ASSERT_STREQ(l.op[0].name, "amy");
    ASSERT_STREQ(l.op[0].role, "superuser");
    ASSERT_EQ(l.op[0].must_change_password, 0);
    ASSERT_STREQ(l.op[1].name, "zed");
    ASSERT_STREQ(l.op[1].status, "disabled");
    ykt_db_close(db);
}

typedef struct audit_list {
    int n;
    int64_t id[8];
    int64_t at[8];
    char action[8][32];
    char operator_name[8][32];
    char target[8][32];
    char detail[8][32];
    char approval[8][32];
} audit_list;

static int collect_audit(const ykt_audit_row *row, void *arg)
{
    audit_list *l = arg;
    ASSERT(l->n < 8);
    l->id[l->n] = row->id;
    l->at[l->n] = row->at;
    snprintf(l->action[l->n], 32, "%s", row->action);
    snprintf(l->operator_name[l->n], 32, "%s", row->operator_name);
    snprintf(l->target[l->n], 32, "%s", row->target);
    snprintf(l->detail[l->n], 32, "%s", row->detail);
    snprintf(l->approval[l->n], 32, "%s", row->approval);
    l->n++;
    return YKT_OK;
}

static void test_store_audit(void)
{
    ykt_db *db = open_db(db_path("audit"));
    ykt_audit_row rows[] = {
        {.at = 100,
         .operator_name = "amy",
         .role = "superuser",
         .action = "terminal.add",
         .target = "pos-1",
         .detail = "type=pos",
         .approval = ""},
        {.at = 200,
         .operator_name = "zed",
         .role = "finance",
         .action = "terminal.disable",
         .target = "pos-1",
         .detail = "",
         .approval = "amy"},
        {.at = 300,
         .operator_name = "amy",
         .role = "superuser",
         .action = "terminal.add",
         .target = "gate-7",
         .detail = NULL,
         .approval = NULL},
    };
    for (size_t i = 0; i < YKT_ARRAY_LEN(rows); i++)
        ASSERT_EQ(ykt_store_audit_append(db, &rows[i]), YKT_OK);

    audit_list l;
    memset(&l, 0, sizeof l);
    ASSERT_EQ(ykt_store_audit_query(db, "", "", "", 0, 100, collect_audit, &l), YKT_OK);
    ASSERT_EQ(l.n, 3);
    /* Newest first. */
    ASSERT_EQ(l.at[0], 300);
    ASSERT_EQ(l.at[1], 200);
    ASSERT_EQ(l.at[2], 100);
    ASSERT(l.id[0] > l.id[1] && l.id[1] > l.id[2]);
    ASSERT_STREQ(l.target[0], "gate-7");
    ASSERT_STREQ(l.detail[0], "");
    ASSERT_STREQ(l.approval[1], "amy");
    ASSERT_STREQ(l.detail[2], "type=pos");
    ASSERT_STREQ(l.operator_name[1], "zed");

    memset(&l, 0, sizeof l);
    ASSERT_EQ(ykt_store_audit_query(db, "amy", "", "", 0, 100, collect_audit, &l), YKT_OK);
    ASSERT_EQ(l.n, 2);
    ASSERT_STREQ(l.target[0], "gate-7");
    ASSERT_STREQ(l.target[1], "pos-1");

    memset(&l, 0, sizeof l);
    ASSERT_EQ(ykt_store_audit_query(db, "", "pos-1", "", 0, 100, collect_audit, &l), YKT_OK);
    ASSERT_EQ(l.n, 2);
    ASSERT_STREQ(l.action[0], "terminal.disable");

    memset(&l, 0, sizeof l);
    ASSERT_EQ(ykt_store_audit_query(db, "amy", "pos-1", "terminal.add", 0, 100, collect_audit, &l),
              YKT_OK);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.at[0], 100);

    memset(&l, 0, sizeof l);
    ASSERT_EQ(ykt_store_audit_query(db, "", "", "", 200, 100, collect_audit, &l), YKT_OK);
    ASSERT_EQ(l.n, 2);
    ASSERT_EQ(l.at[1], 200);

    memset(&l, 0, sizeof l);
    ASSERT_EQ(ykt_store_audit_query(db, "", "", "", 0, 1, collect_audit, &l), YKT_OK);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.at[0], 300);

    memset(&l, 0, sizeof l);
    ASSERT_EQ(ykt_store_audit_query(db, "nobody", "", "", 0, 100, collect_audit, &l), YKT_OK);
    ASSERT_EQ(l.n, 0);
    ykt_db_close(db);
}

/* Looks up (terminal, seq): its reply as a C string in out, or "" when none is kept. */
static int get_outcome(ykt_db *db, const char *terminal, int64_t seq, char *out, size_t len)
{
    uint8_t digest[16];
    ykt_buf reply;
    ykt_buf_init(&reply);
    int rc = ykt_store_request_get(db, terminal, seq, digest, &reply);
    snprintf(out, len, "%.*s", (int)reply.len, reply.data ? reply.data : "");
    ykt_buf_free(&reply);
    return rc;
}

static int put_outcome(ykt_db *db, const char *terminal, int64_t seq, const char *reply, int64_t at)
{
    uint8_t digest[16] = {(uint8_t)seq};
    return ykt_store_request_put(db, terminal, seq, digest, reply, strlen(reply), at);
}

/* Schema v12: outcomes walked back along their terminal's chain, then archived by the daily
 * job into an index, pruned without an id ever being used again (store/cards.c). */
static void test_store_outcomes(void)
{
    ykt_db *db = open_db(db_path("outcomes"));
    sqlite3 *h = ykt_db_handle(db);
    char r[64];
    for (int seq = 1; seq <= 5; seq++) {
        snprintf(r, sizeof r, "+T1 %d", seq);
        ASSERT_EQ(put_outcome(db, "T1", seq, r, 1000 + seq), YKT_OK);
    }
    ASSERT_EQ(put_outcome(db, "T2", 3, "+T2 3", 1006), YKT_OK);
    ASSERT_EQ(put_outcome(db, "T1", 10, "+T1 10", 1007), YKT_OK);
    ASSERT_EQ(put_outcome(db, "T1", 7, "+T1 7", 1008), YKT_OK); /* below the highest */
    ASSERT_EQ(get_outcome(db, "T1", 3, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+T1 3");
    ASSERT_EQ(get_outcome(db, "T2", 3, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+T2 3");
    ASSERT_EQ(get_outcome(db, "T1", 7, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+T1 7");
    ASSERT_EQ(get_outcome(db, "T1", 6, r, sizeof r), YKT_ENOTFOUND);
    ASSERT_EQ(get_outcome(db, "T2", 4, r, sizeof r), YKT_ENOTFOUND);
    ASSERT_EQ(get_outcome(db, "T3", 1, r, sizeof r), YKT_ENOTFOUND);
    /* A second outcome of a (terminal, seq) is refused; the first stays the only one. */
    ASSERT_EQ(put_outcome(db, "T1", 3, "+again", 1009), YKT_EEXIST);
    ASSERT_EQ(put_outcome(db, "T1", 7, "+again", 1009), YKT_EEXIST);
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM terminal_requests WHERE seq IN (3, 7)"), 3);
    int64_t max = 0;
    ASSERT_EQ(ykt_store_request_max_seq(db, "T1", &max), YKT_OK);
    ASSERT_EQ(max, 10);
    ASSERT_EQ(ykt_store_request_max_seq(db, "T3", &max), YKT_OK);
    ASSERT_EQ(max, 0);

    /* The daily job archives them all; lookups then search the index. */
    int64_t n = 0;
    ASSERT_EQ(ykt_store_request_archive(db, &n), YKT_OK);
    ASSERT_EQ(n, 8);
    ASSERT_EQ(ykt_store_request_archive(db, &n), YKT_OK);
    ASSERT_EQ(n, 0); /* only what was kept since */
    ASSERT_EQ(get_outcome(db, "T1", 3, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+T1 3");
    ASSERT_EQ(get_outcome(db, "T1", 6, r, sizeof r), YKT_ENOTFOUND);
    ASSERT_EQ(put_outcome(db, "T1", 2, "+again", 1010), YKT_EEXIST);
    ASSERT_EQ(put_outcome(db, "T1", 11, "+T1 11", 1011), YKT_OK);
    ASSERT_EQ(get_outcome(db, "T1", 11, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+T1 11");
    ASSERT_EQ(get_outcome(db, "T1", 10, r, sizeof r), YKT_OK); /* past the walk's end */
    ASSERT_STREQ(r, "+T1 10");
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM terminal_requests WHERE archived = 0"), 1);

    /* A walk never takes another terminal's outcome for its own: T1's head pointed at T2's
     * outcome of the same seq finds nothing in the walk. */
    ASSERT_EQ(put_outcome(db, "T2", 12, "+T2 12", 1012), YKT_OK);
    ASSERT_EQ(put_outcome(db, "T1", 12, "+T1 12", 1013), YKT_OK);
    ASSERT_EQ(sqlite3_exec(h,
                           "UPDATE terminal_heads SET last_id = (SELECT id FROM "
                           "terminal_requests WHERE terminal = 'T2' AND seq = 12) WHERE "
                           "terminal = 'T1'",
                           NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_EQ(get_outcome(db, "T1", 12, r, sizeof r), YKT_ENOTFOUND);
    ASSERT_EQ(get_outcome(db, "T2", 12, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+T2 12");

    /* The prune forgets archived outcomes only, and empties the newest row instead of
     * deleting it: the next id is above every id ever used. */
    int64_t top = query_int(h, "SELECT max(id) FROM terminal_requests");
    ASSERT_EQ(ykt_store_request_prune(db, 5000, &n), YKT_OK);
    ASSERT_EQ(n, 8); /* not the three kept since the archive */
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM terminal_requests"), 3);
    ASSERT_EQ(ykt_store_request_archive(db, &n), YKT_OK);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(ykt_store_request_prune(db, 5000, &n), YKT_OK);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM terminal_requests"), 1);
    ASSERT_EQ(query_int(h, "SELECT id = (SELECT max(id) FROM terminal_requests) AND terminal = "
                           "'' AND seq = 0 AND length(reply) = 0 FROM terminal_requests"),
              1);
    ASSERT_EQ(ykt_store_request_prune(db, 5000, &n), YKT_OK);
    ASSERT_EQ(n, 0); /* the emptied row counts once */
    ASSERT_EQ(get_outcome(db, "T1", 12, r, sizeof r), YKT_ENOTFOUND);
    ASSERT_EQ(get_outcome(db, "T2", 12, r, sizeof r), YKT_ENOTFOUND);
    ASSERT_EQ(put_outcome(db, "T2", 13, "+T2 13", 6000), YKT_OK);
    ASSERT_EQ(query_int(h, "SELECT max(id) FROM terminal_requests"), top + 1);
    ASSERT_EQ(get_outcome(db, "T2", 13, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+T2 13");
    ASSERT_EQ(ykt_store_request_archive(db, &n), YKT_OK);
    ASSERT_EQ(n, 1);
    /* The highest seq outlives the outcomes: a seq at or below it is looked up. */
    ASSERT_EQ(ykt_store_request_max_seq(db, "T1", &max), YKT_OK);
    ASSERT_EQ(max, 12);

    /* One stray huge seq rules nothing out for the walk after the next archive: a device
     * numbering from 1 again has floors of its own, and each lookup of a new seq reads the
     * newest outcome only (the walk's steps: the outcomes it reads). */
    ASSERT_EQ(put_outcome(db, "T9", 900000000000LL, "+stray", 7000), YKT_OK);
    ASSERT_EQ(ykt_store_request_archive(db, &n), YKT_OK);
    ASSERT_EQ(query_int(h, "SELECT day_max FROM terminal_heads WHERE terminal = 'T9'"), 0);
    for (int seq = 1; seq <= 50; seq++) {
        snprintf(r, sizeof r, "+T9 %d", seq);
        ASSERT_EQ(put_outcome(db, "T9", seq, r, 7000 + seq), YKT_OK);
    }
    ASSERT_EQ(query_int(h, "SELECT count(*) FROM terminal_requests WHERE terminal = 'T9' AND "
                           "archived = 0 AND floor = seq - 1"),
              50);
    ASSERT_EQ(query_int(h, "WITH RECURSIVE walk(rid) AS (SELECT last_id FROM terminal_heads "
                           "WHERE terminal = 'T9' UNION ALL SELECT r.prev_id FROM walk JOIN "
                           "terminal_requests r ON r.id = walk.rid WHERE r.terminal = 'T9' AND "
                           "r.archived = 0 AND r.seq <> 51 AND r.floor >= 51 AND r.prev_id < "
                           "r.id) SELECT count(*) FROM walk"),
              1);
    ASSERT_EQ(get_outcome(db, "T9", 51, r, sizeof r), YKT_ENOTFOUND);
    ASSERT_EQ(get_outcome(db, "T9", 7, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+T9 7");
    ASSERT_EQ(get_outcome(db, "T9", 900000000000LL, r, sizeof r), YKT_OK);
    ASSERT_STREQ(r, "+stray");
    ASSERT_EQ(put_outcome(db, "T9", 900000000000LL, "+again", 8000), YKT_EEXIST);
    ykt_db_close(db);
}

int main(void)
{
    printf("test_db\n");
    test_tmpdir_create("test-db");
    ykt_db_global_init(); /* as yktd does, before anything else touches SQLite */
    RUN(test_open_settings);
    RUN(test_reopen_idempotent);
    RUN(test_refuses_newer_schema);
    RUN(test_refuses_non_database);
    RUN(test_stmt_cache);
    RUN(test_group_commit);
    RUN(test_commit_hooks);
    RUN(test_aborted_batch);
    RUN(test_unguarded_request);
    RUN(test_close_commits_open_batch);
    RUN(test_large_request_spills);
    RUN(test_audit_append_only);
    RUN(test_store_terminals);
    RUN(test_store_operators);
    RUN(test_store_audit);
    RUN(test_store_outcomes);
    printf("ok\n");
    return 0;
}
