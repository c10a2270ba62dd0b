#include "walvfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The WAL file format (https://sqlite.org/fileformat2.html#walformat): a 32-byte file header,
 * then frames of a 24-byte header and a page. Bytes 4..7 of a frame header, big-endian, are
 * the database's size in pages after a commit for the commit's last frame, else zero. */
#define WAL_FRAME_HEADER 24
/* Collected bytes past this are written at once (a batch's frames are a few MiB at most). */
#define WAL_BUFFER_MAX  (8u << 20)
#define WAL_BUFFER_MIN  (256u << 10)
#define WAL_BUFFER_KEEP (2u << 20)
/* The unix VFS writes at most 128 KiB - 1 per call (it expects pages, of at most 64 KiB) and
 * reports a longer write as a full disk: the collected bytes go in chunks of 31 pages. */
#define WAL_WRITE_MAX (31u * 4096u)

enum wv_kind { WV_OTHER, WV_MAIN, WV_WAL };

typedef struct wv_file wv_file;
struct wv_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, allocated right after this struct */
    enum wv_kind kind;
    /* A main database file: the name SQLite opened it by (the same pointer is found from
     * its WAL's name, sqlite3_filename_database), and its connection's WAL file. */
    const char *db_name;
    wv_file *wal;
    wv_file *next_main;
    /* A WAL file: its connection's main file (NULL: not found, so nothing is collected),
     * and the bytes collected for [at, at + len). */
    wv_file *main;
    unsigned char *buf;
    size_t len, cap;
    sqlite3_int64 at;
    sqlite3_int64 end; /* past the last byte of the log written through this file */
    bool commit_frame; /* the frame header just collected ends a transaction */
    /* The main database file of a checkpointing connection (YKT_WALVFS_FCNTL_PACE): after
     * every `pace_pages` pages written (0: never) the file is synced, so that the disk never
     * has more than that many of its scattered pages queued ahead of the WAL's fdatasync;
     * and a failed sync stops the process (sync_or_stop). */
    bool checkpointer;
    int pace_pages;
    int unsynced;
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs wv_vfs;
static sqlite3_io_methods wv_methods;
static pthread_mutex_t mains_lock = PTHREAD_MUTEX_INITIALIZER;
static wv_file *mains;

static const sqlite3_io_methods *real_methods(sqlite3_file *pf)
{
    return ((wv_file *)pf)->real->pMethods;
}

/* ---- the WAL file's collected frames ---- */

/* Writes out what is collected. The error, if any, is returned; what failed is dropped, so
 * callers outside xWrite stop the process instead (wal_flush_or_stop). */
static int wal_flush(wv_file *w)
{
    if (w == NULL || w->len == 0)
        return SQLITE_OK;
    size_t n = w->len, done = 0;
    w->len = 0;
    int rc = SQLITE_OK;
    while (rc == SQLITE_OK && done < n) {
        size_t chunk = n - done < WAL_WRITE_MAX ? n - done : WAL_WRITE_MAX;
        rc = w->real->pMethods->xWrite(w->real, w->buf + done, (int)chunk,
                                       w->at + (sqlite3_int64)done);
        done += chunk;
    }
    /* One very large transaction does not keep its buffer for good. */
    if (w->cap > WAL_BUFFER_KEEP) {
        free(w->buf);
        w->buf = NULL;
        w->cap = 0;
    }
    return rc;
}

/* Every method but xWrite: SQLite has been told these frames were written, and an error
 * returned here would reach it from an operation it does not expect to lose them (a read
 * of a spilled page, taking or dropping a lock), where it may carry on without them. A
 * write that fails here stops yktd, as a failed fdatasync does (db.c): recovery at the next
 * start keeps exactly the transactions that reached the file, and none of these was
 * acknowledged. */
static void wal_flush_or_stop(wv_file *w)
{
    if (wal_flush(w) == SQLITE_OK)
        return;
    fprintf(stderr, "ykt: storage: writing WAL frames failed; stopping so that nothing is "
                    "lost or announced without its frames\n");
    abort();
}

static bool wal_room(wv_file *w, size_t more)
{
    if (w->len + more <= w->cap)
        return true;
    if (w->len + more > WAL_BUFFER_MAX)
        return false;
    size_t cap = w->cap ? w->cap : WAL_BUFFER_MIN;
    while (cap < w->len + more)
        cap *= 2;
    if (cap > WAL_BUFFER_MAX)
        cap = WAL_BUFFER_MAX;
    unsigned char *buf = realloc(w->buf, cap);
    if (buf == NULL)
        return false;
    w->buf = buf;
    w->cap = cap;
    return true;
}

static int write_through(wv_file *w, const void *data, int amt, sqlite3_int64 off)
{
    int rc = wal_flush(w);
    if (rc == SQLITE_OK)
        rc = w->real->pMethods->xWrite(w->real, data, amt, off);
    return rc;
}

static int wal_write(wv_file *w, const void *data, int amt, sqlite3_int64 off)
{
    if (off == 0) {
        /* The WAL header: the log starts again from its beginning (after a checkpoint), and
         * what follows are appends to the new log. */
        int rc = wal_flush(w);
        if (rc != SQLITE_OK)
            return rc;
        w->end = 0;
        w->commit_frame = false;
    } else if (off < w->end) {
        /* An overwrite of what was written before: a page SQLite had already written in
         * this transaction and changes again, or the frame headers whose checksums it
         * rewrites at the commit (walRewriteChecksums: the commit frame's header is then the
         * transaction's last write, not its page). Rare; written at once, after what is
         * collected, so that an error is this write's own and nothing stays behind the
         * commit. */
        w->commit_frame = false;
        return write_through(w, data, amt, off);
    }
    bool header = amt == WAL_FRAME_HEADER;
    bool ends_commit = !header && w->commit_frame;
    if (header) {
        const unsigned char *h = data;
        w->commit_frame = (h[4] | h[5] | h[6] | h[7]) != 0;
    } else {
        w->commit_frame = false;
    }
    sqlite3_int64 end = off + amt;
    if (end > w->end)
        w->end = end;
    if (w->len > 0 && off != w->at + (sqlite3_int64)w->len) {
        int rc = wal_flush(w); /* past a gap: what is collected goes first */
        if (rc != SQLITE_OK)
            return rc;
    }
    if (!wal_room(w, (size_t)amt)) {
        int rc = wal_flush(w);
        if (rc != SQLITE_OK)
            return rc;
        if (!wal_room(w, (size_t)amt))
            return w->real->pMethods->xWrite(w->real, data, amt, off);
    }
    if (w->len == 0)
        w->at = off;
    memcpy(w->buf + w->len, data, (size_t)amt);
    w->len += (size_t)amt;
    /* The commit frame's page is the transaction's last write: everything goes to the file
     * now, and a failure is the commit's. */
    return ends_commit ? wal_flush(w) : SQLITE_OK;
}

/* ---- the io methods: the WAL collects, the main file flushes its WAL before shared
 * memory, everything else passes through ---- */

static int wv_close(sqlite3_file *pf)
{
    wv_file *f = (wv_file *)pf;
    if (f->kind == WV_WAL)
        wal_flush_or_stop(f);
    pthread_mutex_lock(&mains_lock);
    if (f->kind == WV_WAL && f->main != NULL)
        f->main->wal = NULL;
    if (f->kind == WV_MAIN) {
        if (f->wal != NULL)
            f->wal->main = NULL;
        for (wv_file **p = &mains; *p != NULL; p = &(*p)->next_main) {
            if (*p == f) {
                *p = f->next_main;
                break;
            }
        }
    }
    pthread_mutex_unlock(&mains_lock);
    free(f->buf);
    f->buf = NULL;
    return f->real->pMethods != NULL ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
}

/* Before anything but a write, the WAL's collected frames go to the file. */
static void flush_if_wal(sqlite3_file *pf)
{
    wv_file *f = (wv_file *)pf;
    if (f->kind == WV_WAL)
        wal_flush_or_stop(f);
}

static int wv_read(sqlite3_file *pf, void *buf, int amt, sqlite3_int64 off)
{
    flush_if_wal(pf);
    return real_methods(pf)->xRead(((wv_file *)pf)->real, buf, amt, off);
}

/* A failed sync of a checkpointer's database file stops the process. SQLite syncs the file
 * only when a checkpoint reaches the end of the WAL, and a pass overtaken by commits moves
 * on (nBackfill) past pages it wrote and did not sync; a sync that fails may be the report
 * of their lost writeback, given once, after which the next sync succeeds and the WAL
 * starts again without them. Stopped here, the WAL stays whole: recovery at the next start
 * copies all of it again, as sync_wal in db.c does for the WAL. */
static int sync_or_stop(wv_file *f, int flags)
{
    int rc = f->real->pMethods->xSync(f->real, flags);
    if (rc == SQLITE_OK || !f->checkpointer)
        return rc;
    fprintf(stderr,
            "ykt: storage: syncing the database file during a checkpoint failed "
            "(SQLite error %d); stopping so that the WAL is copied again at the next "
            "start\n",
            rc);
    abort();
}

/* A checkpoint writes the pages it copies in page order but scattered over the file, and
 * leaves them to the kernel or syncs them when it reaches the end of the WAL: the disk then
 * has hundreds queued at once, and a commit's WAL sync waits behind them (1,500 pages:
 * about 12 ms, performance.md "A paced checkpoint"). Synced every few pages instead, the
 * checkpoint takes longer, beside the loop, and the WAL's sync waits for a few pages at
 * most. */
static int main_write(wv_file *f, const void *buf, int amt, sqlite3_int64 off)
{
    int rc = f->real->pMethods->xWrite(f->real, buf, amt, off);
    if (rc != SQLITE_OK || f->pace_pages <= 0 || ++f->unsynced < f->pace_pages)
        return rc;
    f->unsynced = 0;
    return sync_or_stop(f, SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY);
}

static int wv_write(sqlite3_file *pf, const void *buf, int amt, sqlite3_int64 off)
{
    wv_file *f = (wv_file *)pf;
    if (f->kind == WV_WAL && f->main != NULL)
        return wal_write(f, buf, amt, off);
    if (f->kind == WV_MAIN)
        return main_write(f, buf, amt, off);
    return real_methods(pf)->xWrite(f->real, buf, amt, off);
}

static int wv_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    wv_file *f = (wv_file *)pf;
    flush_if_wal(pf);
    if (f->kind == WV_WAL && f->end > size)
        f->end = size;
    return real_methods(pf)->xTruncate(f->real, size);
}

static int wv_sync(sqlite3_file *pf, int flags)
{
    flush_if_wal(pf);
    ((wv_file *)pf)->unsynced = 0;
    return sync_or_stop((wv_file *)pf, flags);
}

static int wv_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    flush_if_wal(pf);
    return real_methods(pf)->xFileSize(((wv_file *)pf)->real, size);
}

static int wv_lock(sqlite3_file *pf, int level)
{
    return real_methods(pf)->xLock(((wv_file *)pf)->real, level);
}

static int wv_unlock(sqlite3_file *pf, int level)
{
    return real_methods(pf)->xUnlock(((wv_file *)pf)->real, level);
}

static int wv_check_reserved_lock(sqlite3_file *pf, int *out)
{
    return real_methods(pf)->xCheckReservedLock(((wv_file *)pf)->real, out);
}

static int wv_file_control(sqlite3_file *pf, int op, void *arg)
{
    wv_file *f = (wv_file *)pf;
    if (op == YKT_WALVFS_FCNTL_PACE) {
        if (f->kind != WV_MAIN)
            return SQLITE_NOTFOUND;
        if (arg == NULL || *(int *)arg < 0)
            return SQLITE_MISUSE;
        f->checkpointer = true;
        f->pace_pages = *(int *)arg;
        f->unsynced = 0;
        return SQLITE_OK;
    }
    flush_if_wal(pf);
    return real_methods(pf)->xFileControl(((wv_file *)pf)->real, op, arg);
}

static int wv_sector_size(sqlite3_file *pf)
{
    return real_methods(pf)->xSectorSize(((wv_file *)pf)->real);
}

static int wv_device_characteristics(sqlite3_file *pf)
{
    return real_methods(pf)->xDeviceCharacteristics(((wv_file *)pf)->real);
}

/* Shared memory is how SQLite tells other connections (the checkpointer, backups, another
 * process) which frames are committed: the connection's WAL is written out first. */
static int wv_shm_map(sqlite3_file *pf, int region, int size, int extend, void volatile **out)
{
    wv_file *f = (wv_file *)pf;
    wal_flush_or_stop(f->wal);
    return real_methods(pf)->xShmMap(f->real, region, size, extend, out);
}

static int wv_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    wv_file *f = (wv_file *)pf;
    wal_flush_or_stop(f->wal); /* an unlock must reach the real lock whatever happens */
    return real_methods(pf)->xShmLock(f->real, offset, n, flags);
}

static void wv_shm_barrier(sqlite3_file *pf)
{
    wv_file *f = (wv_file *)pf;
    wal_flush_or_stop(f->wal);
    real_methods(pf)->xShmBarrier(f->real);
}

static int wv_shm_unmap(sqlite3_file *pf, int delete_flag)
{
    wv_file *f = (wv_file *)pf;
    wal_flush_or_stop(f->wal);
    return real_methods(pf)->xShmUnmap(f->real, delete_flag);
}

static int wv_fetch(sqlite3_file *pf, sqlite3_int64 off, int amt, void **out)
{
    flush_if_wal(pf);
    return real_methods(pf)->xFetch(((wv_file *)pf)->real, off, amt, out);
}

static int wv_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
    return real_methods(pf)->xUnfetch(((wv_file *)pf)->real, off, p);
}

/* ---- the VFS ---- */

static int wv_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *pf, int flags,
                   int *out_flags)
{
    (void)vfs;
    wv_file *f = (wv_file *)pf;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    /* As SQLite's own shims do: with the real file's methods set, even on failure, ours
     * are set too, so that SQLite closes it through us. */
    f->base.pMethods = f->real->pMethods != NULL ? &wv_methods : NULL;
    if (rc != SQLITE_OK || f->real->pMethods == NULL)
        return rc;
    /* The methods above are version 3; a real file of an older version would lack some. */
    if (f->real->pMethods->iVersion < 3) {
        f->real->pMethods->xClose(f->real);
        f->base.pMethods = NULL;
        return SQLITE_CANTOPEN;
    }
    if ((flags & SQLITE_OPEN_MAIN_DB) && name != NULL) {
        f->kind = WV_MAIN;
        f->db_name = name;
        pthread_mutex_lock(&mains_lock);
        f->next_main = mains;
        mains = f;
        pthread_mutex_unlock(&mains_lock);
    } else if ((flags & SQLITE_OPEN_WAL) && name != NULL) {
        f->kind = WV_WAL;
        const char *db_name = sqlite3_filename_database(name);
        pthread_mutex_lock(&mains_lock);
        for (wv_file *m = mains; m != NULL; m = m->next_main) {
            if (m->db_name == db_name && m->wal == NULL) {
                m->wal = f;
                f->main = m;
                break;
            }
        }
        pthread_mutex_unlock(&mains_lock);
    }
    return SQLITE_OK;
}

static int wv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int wv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int wv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *wv_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void wv_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    real_vfs->xDlError(real_vfs, n, msg);
}

static void (*wv_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void wv_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    real_vfs->xDlClose(real_vfs, h);
}

static int wv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int wv_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int wv_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int wv_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int wv_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static int register_rc = SQLITE_ERROR;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void register_vfs(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    /* Version 2 of the VFS (xCurrentTimeInt64) is what every method above needs. */
    if (real_vfs == NULL || real_vfs->iVersion < 2)
        return;
    wv_methods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = wv_close,
        .xRead = wv_read,
        .xWrite = wv_write,
        .xTruncate = wv_truncate,
        .xSync = wv_sync,
        .xFileSize = wv_file_size,
        .xLock = wv_lock,
        .xUnlock = wv_unlock,
        .xCheckReservedLock = wv_check_reserved_lock,
        .xFileControl = wv_file_control,
        .xSectorSize = wv_sector_size,
        .xDeviceCharacteristics = wv_device_characteristics,
        .xShmMap = wv_shm_map,
        .xShmLock = wv_shm_lock,
        .xShmBarrier = wv_shm_barrier,
        .xShmUnmap = wv_shm_unmap,
        .xFetch = wv_fetch,
        .xUnfetch = wv_unfetch,
    };
    wv_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(wv_file) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = YKT_WALVFS_NAME,
        .xOpen = wv_open,
        .xDelete = wv_delete,
        .xAccess = wv_access,
        .xFullPathname = wv_full_pathname,
        .xDlOpen = wv_dlopen,
        .xDlError = wv_dlerror,
        .xDlSym = wv_dlsym,
        .xDlClose = wv_dlclose,
        .xRandomness = wv_randomness,
        .xSleep = wv_sleep,
        .xCurrentTime = wv_current_time,
        .xGetLastError = wv_get_last_error,
        .xCurrentTimeInt64 = wv_current_time_int64,
    };
    register_rc = sqlite3_vfs_register(&wv_vfs, 0);
}

int ykt_walvfs_register(void)
{
    pthread_once(&register_once, register_vfs);
    return register_rc;
}
