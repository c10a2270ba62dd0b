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
    static char paths[16][128];
    static int n;
    ASSERT(n < 16);
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

/* ---- a counting VFS under the "ykt" VFS: what reaches the system's VFS ---- */

/* Registered as the default before the "ykt" VFS first registers (which wraps the default):
 * counts, for main database files, the pages written and the syncs between them. */
typedef struct counted_file {
    sqlite3_file base;
    sqlite3_file *real;
    bool main_db;
} counted_file;

static sqlite3_vfs *under_vfs;
static sqlite3_vfs counting_vfs;
static sqlite3_io_methods counting_methods;
static int main_writes, main_syncs, unsynced_writes, most_unsynced_writes;
static int fail_main_sync_at; /* > 0: the main-file sync with this number (from 1) fails */

static void counts_reset(void)
{
    main_writes = main_syncs = unsynced_writes = most_unsynced_writes = 0;
}

static sqlite3_file *real_of(sqlite3_file *f)
{
    return ((counted_file *)f)->real;
}

static int c_close(sqlite3_file *f)
{
    return real_of(f)->pMethods->xClose(real_of(f));
}
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return real_of(f)->pMethods->xRead(real_of(f), b, n, o);
}
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    if (((counted_file *)f)->main_db) {
        main_writes++;
        if (++unsynced_writes > most_unsynced_writes)
            most_unsynced_writes = unsynced_writes;
    }
    return real_of(f)->pMethods->xWrite(real_of(f), b, n, o);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
static int c_sync(sqlite3_file *f, int flags)
{
    if (((counted_file *)f)->main_db) {
        main_syncs++;
        if (fail_main_sync_at > 0 && main_syncs == fail_main_sync_at)
            return SQLITE_IOERR_FSYNC; /* as a lost writeback reported to this sync */
        unsynced_writes = 0;
    }
    return real_of(f)->pMethods->xSync(real_of(f), flags);
}
static int c_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
static int c_lock(sqlite3_file *f, int level)
{
    return real_of(f)->pMethods->xLock(real_of(f), level);
}
static int c_unlock(sqlite3_file *f, int level)
{
    return real_of(f)->pMethods->xUnlock(real_of(f), level);
}
static int c_check_reserved(sqlite3_file *f, int *out)
{
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
static int c_file_control(sqlite3_file *f, int op, void *arg)
{
    return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
static int c_sector_size(sqlite3_file *f)
{
    return real_of(f)->pMethods->xSectorSize(real_of(f));
}
static int c_device_characteristics(sqlite3_file *f)
{
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}
static int c_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
    return real_of(f)->pMethods->xShmMap(real_of(f), region, size, extend, out);
}
static int c_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
static void c_shm_barrier(sqlite3_file *f)
{
    real_of(f)->pMethods->xShmBarrier(real_of(f));
}
static int c_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}
static int c_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
    return real_of(f)->pMethods->xFetch(real_of(f), off, amt, out);
}
static int c_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static int c_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                  int *out_flags)
{
    (void)vfs;
    counted_file *cf = (counted_file *)f;
    memset(cf, 0, sizeof *cf);
    cf->real = (sqlite3_file *)(cf + 1);
    cf->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    int rc = under_vfs->xOpen(under_vfs, name, cf->real, flags, out_flags);
    cf->base.pMethods = cf->real->pMethods != NULL ? &counting_methods : NULL;
    return rc;
}

/* The rest of the VFS is the system's own: the methods that take no file are copied. */
static void counting_vfs_register(void)
{
    under_vfs = sqlite3_vfs_find(NULL);
    ASSERT(under_vfs != NULL);
    counting_methods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = c_close,
        .xRead = c_read,
        .xWrite = c_write,
        .xTruncate = c_truncate,
        .xSync = c_sync,
        .xFileSize = c_file_size,
        .xLock = c_lock,
        .xUnlock = c_unlock,
        .xCheckReservedLock = c_check_reserved,
        .xFileControl = c_file_control,
        .xSectorSize = c_sector_size,
        .xDeviceCharacteristics = c_device_characteristics,
        .xShmMap = c_shm_map,
        .xShmLock = c_shm_lock,
        .xShmBarrier = c_shm_barrier,
        .xShmUnmap = c_shm_unmap,
        .xFetch = c_fetch,
        .xUnfetch = c_unfetch,
    };
    counting_vfs = *under_vfs;
    counting_vfs.pNext = NULL;
    counting_vfs.zName = "counting";
    counting_vfs.szOsFile = (int)sizeof(counted_file) + under_vfs->szOsFile;
    counting_vfs.xOpen = c_open;
    ASSERT_EQ(sqlite3_vfs_register(&counting_vfs, 1), SQLITE_OK);
}

/* Copies the WAL into the database on a connection through the "ykt" VFS, paced every
 * `pace` pages (0: not paced); returns the frames copied. */
static int checkpoint_paced(const char *path, int pace)
{
    sqlite3 *c = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, YKT_WALVFS_NAME), SQLITE_OK);
    exec_ok(c, "PRAGMA synchronous = NORMAL");
    ASSERT_EQ(sqlite3_file_control(c, "main", YKT_WALVFS_FCNTL_PACE, &pace), SQLITE_OK);
    counts_reset();
    int log = 0, done = 0;
    ASSERT_EQ(sqlite3_wal_checkpoint_v2(c, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done),
              SQLITE_OK);
    ASSERT_EQ(done, log);
    sqlite3_close(c);
    return done;
}

/* A paced checkpoint syncs the database file every `pace` pages it writes, so that the
 * disk never has more than that many of its pages queued; unpaced, SQLite syncs once at the
 * end. Either way the database then holds everything (docs/performance.md, "A paced
 * checkpoint"). */
static void test_paced_checkpoint(void)
{
    const char *path = db_path("paced");
    sqlite3 *w = open_writer(path);
    exec_ok(w, "PRAGMA wal_autocheckpoint = 0");
    for (int i = 0; i < 20; i++)
        ASSERT_EQ(insert_rows(w, 20, 3000), SQLITE_OK);
    ASSERT(checkpoint_paced(path, 8) > 0);
    ASSERT(main_writes >= 100);
    ASSERT(most_unsynced_writes <= 8);
    ASSERT(main_syncs >= main_writes / 8);
    ASSERT(main_syncs <= main_writes / 8 + 1); /* and not after every page */

    for (int i = 0; i < 20; i++)
        ASSERT_EQ(insert_rows(w, 20, 3000), SQLITE_OK);
    ASSERT(checkpoint_paced(path, 0) > 0);
    ASSERT(main_writes >= 100);
    ASSERT_EQ(main_syncs, 1);
    ASSERT_EQ(most_unsynced_writes, main_writes);

    ASSERT_EQ(query_int(w, "SELECT count(*) FROM t"), 800);
    integrity_ok(w);
    sqlite3_close(w);
    sqlite3 *r = open_reader(path);
    ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 800);
    integrity_ok(r);

    /* A connection not through the "ykt" VFS does not know the code; a count below 0 is
     * refused. */
    int pace = 4, negative = -1;
    ASSERT_EQ(sqlite3_file_control(r, "main", YKT_WALVFS_FCNTL_PACE, &pace), SQLITE_NOTFOUND);
    sqlite3_close(r);
    sqlite3 *c = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, YKT_WALVFS_NAME), SQLITE_OK);
    ASSERT_EQ(sqlite3_file_control(c, "main", YKT_WALVFS_FCNTL_PACE, &negative), SQLITE_MISUSE);
    ASSERT_EQ(sqlite3_file_control(c, "main", YKT_WALVFS_FCNTL_PACE, NULL), SQLITE_MISUSE);
    sqlite3_close(c);
}

/* A failed sync of the database file during a checkpoint, paced or SQLite's own, stops the
 * process: a pass overtaken by commits moves on past pages it did not sync, and the failure
 * may be the one report of their lost writeback. The WAL stays whole, and the next opening
 * copies it again: nothing committed is missing. */
static void test_failed_checkpoint_sync_stops(void)
{
    for (int pace = 0; pace <= 4; pace += 4) {
        const char *path = db_path(pace ? "ckpt-fail-paced" : "ckpt-fail");
        sqlite3 *w = open_writer(path);
        exec_ok(w, "PRAGMA wal_autocheckpoint = 0");
        for (int i = 0; i < 10; i++)
            ASSERT_EQ(insert_rows(w, 20, 3000), SQLITE_OK);
        /* Closed with its WAL left uncopied: the child starts from no connection at all. */
        ASSERT_EQ(sqlite3_db_config(w, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), SQLITE_OK);
        sqlite3_close(w);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            sqlite3 *c = NULL;
            if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, YKT_WALVFS_NAME) != SQLITE_OK ||
                sqlite3_file_control(c, "main", YKT_WALVFS_FCNTL_PACE, &pace) != SQLITE_OK)
                _exit(2);
            /* A read first: the connection finds the WAL there. */
            if (query_int(c, "SELECT count(*) FROM t") != 200)
                _exit(3);
            counts_reset();
            fail_main_sync_at = pace ? 3 : 1;
            sqlite3_wal_checkpoint_v2(c, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
            _exit(4); /* carried on after the failed sync */
        }
        int status = child_status(pid);
        ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        sqlite3 *r = open_reader(path);
        ASSERT_EQ(query_int(r, "SELECT count(*) FROM t"), 200);
        integrity_ok(r);
        sqlite3_close(r);
    }
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
    counting_vfs_register(); /* before the "ykt" VFS, which wraps the default one */
    RUN(test_gateway_connection_uses_it);
    RUN(test_other_connections_see_each_commit);
    RUN(test_spilling_and_large_transactions);
    RUN(test_commit_survives_the_process);
    RUN(test_failed_write_fails_the_commit);
    RUN(test_rewritten_checksums);
    RUN(test_failure_mid_transaction);
    RUN(test_paced_checkpoint);
    RUN(test_failed_checkpoint_sync_stops);
    return 0;
}
