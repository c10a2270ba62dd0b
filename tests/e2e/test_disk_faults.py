"""Disk faults (issue 9): a disk that fills up under load makes writes fail with a clear
error and no corruption, and the gateway recovers by itself when space returns.

"Full" is made with the file-size limit (RLIMIT_FSIZE, `ulimit -f`) of the running yktd,
set and lifted with prlimit(2): a write that would grow a database file past it fails with
EFBIG, which SQLite reports as a write error (SQLITE_IOERR_WRITE, 778; a real full disk,
ENOSPC, is SQLITE_FULL: TmpfsFullDiskTest), and it needs no root and
no special filesystem. yktd ignores SIGXFSZ so the write fails instead of killing it.
"""

import os
import resource
import shutil
import sqlite3
import subprocess
import tempfile

from harness import DEMO_CONF, SOURCE_DIR, YKTD
from test_wallet import WalletCase


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class FullDiskTest(WalletCase):

    def files_size(self):
        return max(os.path.getsize(p) for p in (self.gw.db, self.gw.db + "-wal")
                   if os.path.exists(p))

    def limit(self, size):
        resource.prlimit(self.gw.proc.pid, resource.RLIMIT_FSIZE,
                         (size, resource.RLIM_INFINITY))

    def test_full_disk_refuses_cleanly_and_recovers(self):
        self.merchant("canteen-1")
        self.terminal("POS-1")
        cards = [self.holder("S%03d" % i, topup="500.00")[0] for i in range(20)]
        # Fill the database files up to the limit: every further page must grow one.
        self.limit(self.files_size() + 8192)
        acked, failed = [], []
        i = 0
        while len(failed) < 5 and i < 20000:
            card = cards[i % len(cards)]
            args = self.signed(card, "POS-1", "PAY", 100)
            r = self.send("POS-1", args)
            if isinstance(r, list):
                acked.append((args, r))
            else:
                self.assertEqual(str(r), "STORAGE_ERROR the database could not commit; "
                                         "nothing was applied, retry")
                failed.append((args, card))
            i += 1
        self.assertEqual(len(failed), 5, "the limit was never reached")
        # The log says why, in the system's words.
        self.assertRegex(self.gw.log_text(),
                         r"storage: commit failed: disk I/O error \(SQLite code \d+\)")

        # What was acknowledged is there; what was refused is not; the file is whole.
        con = sqlite3.connect("file:%s?mode=ro" % self.gw.db, uri=True)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        ids = {row[0] for row in con.execute("SELECT id FROM payments")}
        con.close()
        self.assertEqual(ids, {r[0] for _, r in acked})
        # Reads and the audit still work on a full disk.
        self.assertAuditClean()

        # Space returns: the very requests that failed go through once, with the card's
        # ATC and the terminal's sequence numbers as they were.
        self.limit(resource.RLIM_INFINITY)
        for args, _ in failed:
            r = self.send("POS-1", args)
            self.assertIsInstance(r, list, r)
            acked.append((args, r))
            again = self.send("POS-1", args)  # and once only
            self.assertEqual(again, r)
        r = self.pay(cards[0], 100)
        self.assertIsInstance(r, list, r)
        acked.append((None, r))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(len(acked),)])
        self.assertEqual(self.gw.ctl("status")["terminal_port"].split(":")[0], "127.0.0.1")
        # tearDown: the audit is clean

    def test_admin_writes_fail_clearly_on_a_full_disk(self):
        self.limit(self.files_size() + 4096)
        errors = []
        for i in range(200):
            p = self.gw.ctl("merchant", "add", "shop-%d" % i, "--name", "X" * 60,
                            "--category", "shop", check=False)
            if p.returncode != 0:
                errors.append(p.stderr)
                break
        self.assertTrue(errors, "the limit was never reached")
        self.assertIn("STORAGE_ERROR", errors[0])
        made = self.gw.sql("SELECT count(*) FROM merchants")[0][0]
        self.limit(resource.RLIM_INFINITY)
        self.gw.ctl("merchant", "add", "shop-after", "--name", "After", "--category", "shop")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM merchants"), [(made + 1,)])


class TmpfsFullDiskTest(WalletCase):
    """The same on a real full filesystem: the database on a small tmpfs (needs root or
    CAP_SYS_ADMIN to mount; skipped otherwise) filled to the last byte by another file.
    The write then fails with ENOSPC, which SQLite reports as SQLITE_FULL (code 13), not
    as the EFBIG of the file-size limit above. yktd's log stays outside the tmpfs."""

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="ykt-tmpfs-")
        self.addCleanup(os.rmdir, self.mnt)
        if os.geteuid() != 0 or subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", self.mnt],
                capture_output=True).returncode != 0:
            self.skipTest("cannot mount a tmpfs here (needs root)")
        self.addCleanup(subprocess.run, ["umount", "-l", self.mnt], capture_output=True)
        self.sets = {"storage.path": os.path.join(self.mnt, "ykt.db")}
        super().setUp()
        self.gw.db = os.path.join(self.mnt, "ykt.db")
        self.filler = os.path.join(self.mnt, "filler")

    def fill(self):
        """Takes every free block of the tmpfs."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)

    def test_enospc_refuses_cleanly_and_recovers(self):
        self.merchant("canteen-1")
        self.terminal("POS-1")
        cards = [self.holder("S%03d" % i, topup="500.00")[0] for i in range(10)]
        self.assertIsInstance(self.pay(cards[0], 100), list)
        self.fill()
        acked, failed = [], []
        i = 0
        while len(failed) < 3 and i < 20000:
            card = cards[i % len(cards)]
            args = self.signed(card, "POS-1", "PAY", 100)
            r = self.send("POS-1", args)
            if isinstance(r, list):
                acked.append(r)
            else:
                self.assertEqual(str(r), "STORAGE_ERROR the database could not commit; "
                                         "nothing was applied, retry")
                failed.append(args)
            i += 1
        self.assertEqual(len(failed), 3, "the filesystem never filled up")
        self.assertIn("storage: commit failed: database or disk is full (SQLite code 13)",
                      self.gw.log_text())
        # an admin write fails clearly too
        p = self.gw.ctl("merchant", "add", "shop-full", "--name", "X", "--category", "shop",
                        check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("STORAGE_ERROR", p.stderr)
        con = sqlite3.connect("file:%s?mode=ro" % self.gw.db, uri=True)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        con.close()
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(1 + len(acked),)])
        self.assertAuditClean()
        # space returns: the refused requests go through, once; the gateway never stopped
        os.unlink(self.filler)
        for args in failed:
            r = self.send("POS-1", args)
            self.assertIsInstance(r, list, r)
            self.assertEqual(self.send("POS-1", args), r)
        self.gw.ctl("merchant", "add", "shop-after", "--name", "After", "--category", "shop")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"),
                         [(1 + len(acked) + len(failed),)])
        # tearDown: the audit is clean; cleanup stops yktd (exit 0) before the unmount


class ReadOnlyDatabaseTest(WalletCase):

    def test_a_read_only_database_stops_start_up(self):
        """As a user who may read but not write the file (root writes anything, so the
        test runs yktd as nobody when it runs as root)."""
        self.gw.stop()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.gw.db + suffix):
                os.chmod(self.gw.db + suffix, 0o444)
        before = read_bytes(self.gw.db)
        preexec = None
        command = self.gw.command()
        if os.geteuid() == 0:
            # nobody owns the directory, the key and the lock; root keeps the database. The
            # checkout may be closed to nobody (a root home): yktd, its configuration and
            # the rules are copied into the gateway's directory.
            shutil.copy(YKTD, os.path.join(self.gw.dir, "yktd"))
            shutil.copy(DEMO_CONF, os.path.join(self.gw.dir, "ykt.ini"))
            shutil.copytree(os.path.join(SOURCE_DIR, "scripts"),
                            os.path.join(self.gw.dir, "scripts"))
            command = [os.path.join(self.gw.dir, "yktd"), "-c",
                       os.path.join(self.gw.dir, "ykt.ini")] + command[3:] + [
                           "--set", "rules.dir=" + os.path.join(self.gw.dir, "scripts")]
            for root, dirs, files in os.walk(self.gw.dir):
                for name in dirs + files:
                    path = os.path.join(root, name)
                    if path not in (self.gw.db, self.gw.db + "-wal", self.gw.db + "-shm"):
                        os.chown(path, 65534, -1)
            os.chown(self.gw.dir, 65534, -1)
            preexec = lambda: os.setuid(65534)  # noqa: E731
        try:
            p = subprocess.run(command, capture_output=True, text=True, timeout=30,
                               cwd="/", preexec_fn=preexec)
        except PermissionError as e:
            # A root directory closed to others (a chroot made with mktemp -d): nobody cannot
            # reach any file, and root writes any file; there is no reader-only user here.
            self.restore_owners()
            self.skipTest("nobody cannot run yktd on this system: %s" % e)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(self.gw.db, p.stderr)
        self.assertIn("the database is read-only", p.stderr)
        self.assertNotIn("ready:", p.stderr)
        self.assertEqual(read_bytes(self.gw.db), before)
        self.restore_owners()
        self.gw.start()

    def restore_owners(self):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.gw.db + suffix):
                os.chmod(self.gw.db + suffix, 0o644)
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(self.gw.dir):
                for name in dirs + files:
                    os.chown(os.path.join(root, name), 0, -1)
            os.chown(self.gw.dir, 0, -1)


if __name__ == "__main__":
    import unittest
    unittest.main()
