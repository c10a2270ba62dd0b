/*
 * The "ykt" SQLite VFS: the system's default VFS with two changes. First, how the gateway's
 * connection writes its WAL file. SQLite writes every WAL frame with two system calls (the
 * 24-byte frame header, then the page), each a separate trip through the kernel's page
 * cache; this VFS collects the frames of a transaction in memory and writes them in a few
 * large pwrites when the transaction's commit frame is complete (docs/performance.md, "One
 * write per commit").
 *
 * What the rest of SQLite sees does not change: every other operation on the WAL file
 * (read, sync, size, truncate, close) and every operation on the database's shared-memory
 * index (which is how other connections learn that frames were committed) first writes
 * what is collected, and a write that does not extend the log (a page rewritten in place,
 * a rewritten checksum) is written at once. A failed write of collected frames inside a
 * write is that write's error (the COMMIT fails); one found anywhere else stops the
 * process, as a failed fdatasync does (db.c), because SQLite would carry on without frames
 * it was told were written.
 *
 * Second, for the connection that checkpoints: its writes to the database file can be
 * paced, synced every few pages, so that a checkpoint does not queue hundreds of scattered
 * pages on the disk ahead of the next commit's WAL sync; and a failed sync of that file
 * stops the process, so that the WAL is copied again from its start at the next start
 * (YKT_WALVFS_FCNTL_PACE).
 */
#ifndef YKT_WALVFS_H
#define YKT_WALVFS_H

#define YKT_WALVFS_NAME "ykt"

/* sqlite3_file_control(db, "main", YKT_WALVFS_FCNTL_PACE, &pages): the connection
 * checkpoints. From then on its writes to the database file are synced every `pages` pages
 * (0: not paced), and a failed sync of that file stops the process. SQLITE_NOTFOUND on a
 * file not opened through this VFS, SQLITE_MISUSE for a negative count. Beyond SQLite's own
 * opcodes (below 100 as of 3.40). */
#define YKT_WALVFS_FCNTL_PACE 0x796b7401

/* Registers the VFS (not as the default); idempotent. SQLITE_OK or an SQLite error code. */
int ykt_walvfs_register(void);

#endif
