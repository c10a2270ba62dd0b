/* Unit tests for core/src/walvfs.c: the VFS that writes a transaction's WAL frames at once. */
#include "test.h"

#include "common.h"
#include "db.h"
#include "walvfs.h"

#include <errno.h>
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

/* Waits for a forked child; returns its wait status. */
static int child_status(pid_t pid)
{
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    return status;
}

/* Waits for a forked child that must exit 0 (its other exit codes say which step failed). */
static void child_ok(pid_t pid)
{
    int status = child_status(pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
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
    child_ok(pid);
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
    child_ok(pid);
    sqlite3 *r = open_reader(path);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 20);
    integrity_ok(r);
    sqlite3_close(r);
}

/* ---- failed writes, injected below the VFS (the unix VFS's pwrite) ---- */

static int fail_mode; /* 0: none, 1: every write, 2: a lone rewritten commit-frame header */
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);

static bool should_fail(const void *buf, size_t n)
{
    const unsigned char *h = buf;
    return fail_mode == 1 || (fail_mode == 2 && n == 24 && (h[4] | h[5] | h[6] | h[7]) != 0);
}

static ssize_t failing_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (should_fail(buf, n)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite(fd, buf, n, off);
}

static ssize_t failing_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    if (should_fail(buf, n)) {
        errno = EIO;
        return -1;
    }
    return real_pwrite64(fd, buf, n, off);
}

static void inject_write_failures(void)
{
    sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
    ASSERT(unix_vfs != NULL && unix_vfs->iVersion >= 3);
    real_pwrite =
        (ssize_t(*)(int, const void *, size_t, off_t))unix_vfs->xGetSystemCall(unix_vfs, "pwrite");
    real_pwrite64 = (ssize_t(*)(int, const void *, size_t, off_t))unix_vfs->xGetSystemCall(
        unix_vfs, "pwrite64");
    if (real_pwrite != NULL)
        unix_vfs->xSetSystemCall(unix_vfs, "pwrite", (sqlite3_syscall_ptr)failing_pwrite);
    if (real_pwrite64 != NULL)
        unix_vfs->xSetSystemCall(unix_vfs, "pwrite64", (sqlite3_syscall_ptr)failing_pwrite64);
}

/* A transaction larger than the page cache that changes again pages it had already written
 * to the WAL: SQLite then overwrites those frames and, at the commit, rewrites the frame
 * headers' checksums, the commit frame's header last (walRewriteChecksums). */
static int rewrite_spilled(sqlite3 *w)
{
    exec_ok(w, "PRAGMA cache_size = 10; BEGIN IMMEDIATE;"
               "UPDATE t SET v = randomblob(3000);"
               "UPDATE t SET v = randomblob(3000) WHERE id <= 5;");
    return sqlite3_exec(w, "COMMIT", NULL, NULL, NULL);
}

static void fill(sqlite3 *w)
{
    exec_ok(w, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 60) "
               "INSERT INTO t (id, k, v) SELECT i, i, randomblob(3000) FROM s;");
}

/* The rewritten headers reach the file before COMMIT returns (a process killed right after
 * keeps the transaction), and a failure to write them fails the COMMIT. */
static void test_rewritten_checksums(void)
{
    const char *path = db_path("rewrite");
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        sqlite3 *w = open_writer(path);
        fill(w);
        if (rewrite_spilled(w) != SQLITE_OK)
            _exit(2);
        sqlite3 *r = open_reader(path);
        if (query_int(r, "SELECT count(*) FROM t WHERE length(v) = 3000") != 60)
            _exit(3);
        exec_ok(w, "UPDATE t SET k = -1 WHERE id = 1"); /* what the next test looks for */
        _exit(0);                                       /* no close: as a SIGKILL */
    }
    child_ok(pid);
    sqlite3 *r = open_reader(path);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 60);
    ASSERT_EQ(query_int(r, "SELECT k FROM t WHERE id = 1"), -1);
    integrity_ok(r);
    sqlite3_close(r);

    path = db_path("rewrite-fails");
    pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        inject_write_failures();
        sqlite3 *w = open_writer(path);
        fill(w);
        fail_mode = 2;
        int rc = rewrite_spilled(w);
        fail_mode = 0;
        if (rc == SQLITE_OK)
            _exit(4); /* the commit's header is not in the file: COMMIT must say so */
        sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
        _exit(0);
    }
    child_ok(pid);
    r = open_reader(path);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 60);
    integrity_ok(r);
    sqlite3_close(r);
}

/* Writes failing in the middle of a transaction that spills: the transaction fails, or yktd
 * stops (a write that failed where SQLite takes no error); either way the database keeps
 * exactly what committed before, and nothing is left locked. */
static void test_failure_mid_transaction(void)
{
    const char *path = db_path("mid");
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        inject_write_failures();
        sqlite3 *w = open_writer(path);
        fill(w);
        exec_ok(w, "PRAGMA cache_size = 10; BEGIN IMMEDIATE; UPDATE t SET v = randomblob(3000);");
        fail_mode = 1;
        int rc = sqlite3_exec(w, "UPDATE t SET v = randomblob(2000); COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            _exit(5);
        sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
        fail_mode = 0;
        sqlite3 *other = open_reader(path);
        rc = sqlite3_exec(other, "INSERT INTO t (id, k, v) VALUES (1000, 1, x'00')", NULL, NULL,
                          NULL);
        _exit(rc == SQLITE_OK ? 0 : 6);
    }
    int status = child_status(pid);
    ASSERT((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
           (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
    sqlite3 *r = open_reader(path);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t WHERE length(v) = 3000"), 60);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t WHERE length(v) = 2000"), 0);
    exec_ok(r, "INSERT OR REPLACE INTO t (id, k, v) VALUES (1001, 1, x'00')");
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
    RUN(test_rewritten_checksums);
    RUN(test_failure_mid_transaction);
    return 0;
}
