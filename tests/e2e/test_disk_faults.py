"""Disk faults (issue 9): a disk that fills up under load makes writes fail with a clear
error and no corruption, and the gateway recovers by itself when space returns.

"Full" is made with the file-size limit (RLIMIT_FSIZE, `ulimit -f`) of the running yktd,
set and lifted with prlimit(2): a write that would grow a database file past it fails with
EFBIG, which SQLite reports as SQLITE_FULL exactly as for ENOSPC, and it needs no root and
no special filesystem. yktd ignores SIGXFSZ so the write fails instead of killing it.
"""

import os
import resource
import sqlite3
import subprocess

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
        if os.geteuid() == 0:
            # nobody owns the directory, the key and the lock; root keeps the database
            for path in (self.gw.dir, self.gw.master_key, self.gw.db + ".lock"):
                if os.path.exists(path):
                    os.chown(path, 65534, -1)
            preexec = lambda: os.setuid(65534)  # noqa: E731
        p = subprocess.run(self.gw.command(), capture_output=True, text=True, timeout=30,
                           cwd="/", preexec_fn=preexec)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(self.gw.db, p.stderr)
        self.assertIn("the database is read-only", p.stderr)
        self.assertNotIn("ready:", p.stderr)
        self.assertEqual(read_bytes(self.gw.db), before)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.gw.db + suffix):
                os.chmod(self.gw.db + suffix, 0o644)
        if os.geteuid() == 0:
            for path in (self.gw.dir, self.gw.master_key, self.gw.db + ".lock"):
                if os.path.exists(path):
                    os.chown(path, 0, -1)
        self.gw.start()


if __name__ == "__main__":
    import unittest
    unittest.main()
