/* Unit tests for core/src/walvfs.c: the VFS that writes a transaction's WAL frames at once. */
#include "test.h"

#include "common.h"
#include "db.h"
#include "walvfs.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>

static const char *db_path(const char *name)
{
    static char paths[8][128];
    static int n;
    ASSERT(n < 8);
    snprintf(paths[n], sizeof paths[0], "%s/%s.db", test_tmpdir, name);
    return paths[n++];
}

static void exec_ok(sqlite3 *h, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, msg ? msg : "?");
        exit(1);
    }
}

static int64_t query_int(sqlite3 *h, const char *sql)
{
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void integrity_ok(sqlite3 *h)
{
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* A connection as the gateway's: the "ykt" VFS, WAL, synchronous=NORMAL. */
static sqlite3 *open_writer(const char *path)
{
    ASSERT_EQ(ykt_walvfs_register(), SQLITE_OK);
    sqlite3 *h = NULL;
    ASSERT_EQ(
        sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, YKT_WALVFS_NAME),
        SQLITE_OK);
    exec_ok(h, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
               "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k INTEGER, v BLOB);"
               "CREATE INDEX IF NOT EXISTS t_k ON t(k);");
    return h;
}

/* Another connection, through SQLite's default VFS, as a checkpointer, a backup or another
 * process reads the database. */
static sqlite3 *open_reader(const char *path)
{
    sqlite3 *h = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    return h;
}

/* Inserts n rows of `bytes` random bytes each, with keys spread over the index, in one
 * transaction; returns SQLite's result of the COMMIT. */
static int insert_rows(sqlite3 *h, int n, int bytes)
{
    exec_ok(h, "BEGIN IMMEDIATE");
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(h, "INSERT INTO t (k, v) VALUES (abs(random()) % 100000, ?)", -1,
                                 &st, NULL),
              SQLITE_OK);
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(sqlite3_bind_zeroblob(st, 1, bytes), SQLITE_OK);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            return rc;
        }
    }
    sqlite3_finalize(st);
    return sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
}

static void test_gateway_connection_uses_it(void)
{
    ykt_db *db = NULL;
    char err[256] = "";
    ASSERT_EQ(ykt_db_open(&db, db_path("gateway"), err, sizeof err), YKT_OK);
    sqlite3_vfs *vfs = NULL;
    ASSERT_EQ(sqlite3_file_control(ykt_db_handle(db), "main", SQLITE_FCNTL_VFS_POINTER, &vfs),
              SQLITE_OK);
    ASSERT(vfs != NULL);
    ASSERT_STREQ(vfs->zName, YKT_WALVFS_NAME);
    ykt_db_close(db);
}

/* Every commit is in the file, for other connections, when COMMIT returns. */
static void test_other_connections_see_each_commit(void)
{
    const char *path = db_path("visible");
    sqlite3 *w = open_writer(path), *r = open_reader(path);
    for (int i = 1; i <= 200; i++) {
        ASSERT_EQ(insert_rows(w, i % 7 + 1, 300 + i * 10), SQLITE_OK);
        int64_t want = query_int(w, "SELECT count(*) FROM t");
        ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), want);
        /* a checkpoint from the other connection copies what it sees */
        if (i % 50 == 0)
            ASSERT_EQ(sqlite3_wal_checkpoint_v2(r, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL),
                      SQLITE_OK);
    }
    integrity_ok(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

/* A transaction larger than the page cache (SQLite writes frames before the commit) and
 * one larger than what the VFS collects (8 MiB) both commit whole. */
static void test_spilling_and_large_transactions(void)
{
    const char *path = db_path("large");
    sqlite3 *w = open_writer(path), *r = open_reader(path);
    exec_ok(w, "PRAGMA cache_size = 20");
    ASSERT_EQ(insert_rows(w, 3000, 700), SQLITE_OK);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 3000);
    exec_ok(w, "PRAGMA cache_size = -65536");
    ASSERT_EQ(insert_rows(w, 6000, 2000), SQLITE_OK); /* about 12 MiB of pages */
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 9000);
    ASSERT_EQ(query_int(r, "SELECT sum(length(v)) FROM t"), 3000 * 700 + 6000 * 2000);
    integrity_ok(r);
    sqlite3_close(r);
    sqlite3_close(w);
}

/* A process killed right after its COMMIT returned loses nothing: the frames are in the file
 * (the page cache), not in the process's memory. */
static void test_commit_survives_the_process(void)
{
    const char *path = db_path("killed");
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        sqlite3 *w = open_writer(path);
        for (int i = 0; i < 50; i++)
            if (insert_rows(w, 3, 500) != SQLITE_OK)
                _exit(2);
        _exit(0); /* no close: as a SIGKILL right after the last commit */
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sqlite3 *r = open_reader(path);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 150);
    integrity_ok(r);
    sqlite3_close(r);
}

/* A write that fails (here the file size limit, as a full disk) fails the COMMIT that
 * needed it, and the database keeps what committed before. */
static void test_failed_write_fails_the_commit(void)
{
    const char *path = db_path("full");
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        sqlite3 *w = open_writer(path);
        if (insert_rows(w, 20, 500) != SQLITE_OK)
            _exit(2);
        struct rlimit lim = {.rlim_cur = 512 << 10, .rlim_max = RLIM_INFINITY};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
            _exit(3);
        int rc = insert_rows(w, 400, 3000); /* about 1.2 MiB of WAL */
        if (rc == SQLITE_OK)
            _exit(4);
        sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(w);
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    sqlite3 *r = open_reader(path);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 20);
    integrity_ok(r);
    sqlite3_close(r);
}

int main(void)
{
    printf("test_walvfs\n");
    test_tmpdir_create("test-walvfs");
    RUN(test_gateway_connection_uses_it);
    RUN(test_other_connections_see_each_commit);
    RUN(test_spilling_and_large_transactions);
    RUN(test_commit_survives_the_process);
    RUN(test_failed_write_fails_the_commit);
    return 0;
}
