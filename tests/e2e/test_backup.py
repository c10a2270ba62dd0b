"""Backup and restore (R-S4): `yktctl backup FILE` copies the live database while terminals
keep paying; `yktctl restore FILE` puts a backup back, offline, after checking it; the
scheduled backup of [backup] dir / interval / keep.

Each test starts the real yktd. "Logically equal" means: every table's rows, compared in
primary-key order, are the same in both files.
"""

import json
import os
import sqlite3
import subprocess
import threading
import time

from harness import YKTCTL, Gateway, wait_until
from test_wallet import WalletCase


def dump(path):
    """{table: rows} of every table of a database, read-only, rows in rowid order. The
    audit rows of backups are left out: the source records a backup after the copy."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        out = {}
        for t in tables:
            where = " WHERE action != 'backup'" if t == "audit" else ""
            try:
                out[t] = con.execute('SELECT * FROM "%s"%s ORDER BY rowid' % (t, where)).fetchall()
            except sqlite3.OperationalError:  # WITHOUT ROWID tables
                out[t] = sorted(con.execute('SELECT * FROM "%s"' % t).fetchall(), key=repr)
        out["user_version"] = con.execute("PRAGMA user_version").fetchone()[0]
        return out
    finally:
        con.close()


def restore(*args, config=None):
    cmd = [YKTCTL] + (["-c", config] if config else []) + ["restore"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


class BackupCase(WalletCase):

    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")
        self.card, _, _ = self.holder("S1001", topup="500.00")

    def backup(self, path, check=True):
        return self.gw.ctl("backup", path, check=check)


class OnlineBackupTest(BackupCase):

    def test_backup_of_a_quiet_gateway_equals_the_source(self):
        for _ in range(5):
            self.assertIsInstance(self.pay(self.card, 100), list)
        path = os.path.join(self.gw.dir, "b1.db")
        rows = self.backup(path)
        self.assertEqual(rows[0]["file"], path)
        self.assertEqual(rows[0]["integrity"], "ok")
        self.assertGreater(rows[0]["bytes"], 0)
        self.assertEqual(rows[0]["bytes"], os.path.getsize(path))
        self.assertEqual(dump(path), dump(self.gw.db))
        # a self-contained file: no WAL beside it, rollback journal mode
        self.assertFalse(os.path.exists(path + "-wal"))
        con = sqlite3.connect(path)
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "delete")
        con.close()
        self.assertFalse(os.path.exists(path + ".partial"))
        # audited: who took it, where
        audit = self.gw.sql("SELECT action, target FROM audit WHERE action = 'backup'")
        self.assertEqual(audit, [("backup", path)])

    def test_backup_while_terminals_pay(self):
        """A copy taken under load is one consistent moment: it audits clean and holds a
        prefix of the payments the gateway acknowledged."""
        cards = [self.holder("S2%03d" % i, topup="300.00")[0] for i in range(4)]
        for i in range(4):
            self.terminal("POS-L%d" % i)
        stop = threading.Event()
        acked = [[] for _ in range(4)]
        errors = []

        def load(i):
            tid = "POS-L%d" % i
            while not stop.is_set():
                r = self.send(tid, self.signed(cards[i], tid, "PAY", 1))
                if isinstance(r, list):
                    acked[i].append(r[0])
                else:
                    errors.append(r)
                    return

        threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: sum(map(len, acked)) >= 50, timeout=30)
            path = os.path.join(self.gw.dir, "under-load.db")
            self.backup(path)
            wait_until(lambda: sum(map(len, acked)) >= 150, timeout=30)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        # the copy audits clean on its own
        p = restore(path, "--db", os.path.join(self.gw.dir, "scratch.db"))
        self.assertEqual(p.returncode, 0, p.stderr)
        con = sqlite3.connect(path)
        in_copy = {r[0] for r in con.execute("SELECT id FROM payments")}
        per_terminal = {}
        for tid, pid in con.execute("SELECT terminal, id FROM payments ORDER BY id"):
            per_terminal.setdefault(tid, []).append(pid)
        con.close()
        every = {pid for a in acked for pid in a}
        # Each load terminal pays one request at a time and every one was acknowledged
        # before the threads stopped, so a consistent copy holds, per terminal, exactly
        # the first k of its acknowledged payments: no gap, nothing unacknowledged.
        for i in range(4):
            mine = per_terminal.get("POS-L%d" % i, [])
            self.assertEqual(mine, acked[i][:len(mine)], "POS-L%d" % i)
        self.assertEqual(set(per_terminal) - {"POS-L%d" % i for i in range(4)}, set())
        self.assertTrue(in_copy <= every)
        self.assertGreaterEqual(len(in_copy), 50)
        self.assertLess(len(in_copy), len(every))  # the load went on after the copy
        # the copy's wallets are what its payments left (one consistent moment)
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        self.assertEqual(con.execute("SELECT coalesce(sum(balance), 0) FROM accounts")
                         .fetchone()[0], 0)
        con.close()
        # a quiet copy now equals the source
        quiet = os.path.join(self.gw.dir, "quiet.db")
        self.backup(quiet)
        self.assertEqual(dump(quiet), dump(self.gw.db))

    def test_refusals_change_nothing(self):
        existing = os.path.join(self.gw.dir, "exists.db")
        with open(existing, "w") as f:
            f.write("precious")
        p = self.backup(existing, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("EXISTS", p.stderr)
        self.assertIn("never overwrites", p.stderr)
        with open(existing) as f:
            self.assertEqual(f.read(), "precious")
        p = self.backup(self.gw.db, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("live database", p.stderr)
        p = self.backup(os.path.join(self.gw.dir, "no-such-dir", "b.db"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("BACKUP_FAILED", p.stderr)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM audit WHERE action = 'backup'"),
                         [(0,)])

    def test_relative_path_is_the_callers(self):
        sub = os.path.join(self.gw.dir, "here")
        os.mkdir(sub)
        p = subprocess.run([YKTCTL, "-s", self.gw.socket, "backup", "rel.db"], cwd=sub,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(os.path.join(sub, "rel.db")))

    def test_only_the_superuser_backs_up(self):
        self.gw.add_operator("fin1", "finance")
        p = self.gw.ctl("backup", os.path.join(self.gw.dir, "x.db"), user="fin1",
                        password="operator-pass-1", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("FORBIDDEN", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.gw.dir, "x.db")))


class RestoreTest(BackupCase):

    def test_restore_brings_back_the_backup_and_the_gateway_serves_it(self):
        self.assertIsInstance(self.pay(self.card, 1000), list)
        path = os.path.join(self.gw.dir, "before.db")
        self.backup(path)
        before = dump(path)
        # life goes on after the backup ...
        self.assertIsInstance(self.pay(self.card, 2000), list)
        self.assertEqual(self.balance("S1001"), 50000 - 1000 - 2000)
        # ... restore refuses while yktd runs
        p = restore(path, "--db", self.gw.db)
        self.assertEqual(p.returncode, 1)
        self.assertIn("yktd is running", p.stderr)
        self.assertIn("stop it first", p.stderr)
        self.assertEqual(self.gw.stop(), 0)
        p = restore(path, "--db", self.gw.db)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ledger audit clean", p.stdout)
        aside = [f for f in os.listdir(self.gw.dir) if ".before-restore-" in f]
        self.assertEqual(len([f for f in aside if f.endswith("Z")]), 1, aside)
        after = dump(self.gw.db)
        self.assertEqual(after, before)
        # the gateway starts on it and serves the restored balance
        self.gw.start()
        self.conns["POS-1"] = self.gw.terminal("POS-1", self.secrets["POS-1"])
        self.assertEqual(self.balance("S1001"), 50000 - 1000)
        self.assertIsInstance(self.pay(self.card, 100), list)
        self.assertAuditClean()
        # the replaced database is kept, whole
        old = os.path.join(self.gw.dir, [f for f in aside if f.endswith("Z")][0])
        con = sqlite3.connect("file:%s?mode=ro" % old, uri=True)
        self.assertEqual(con.execute("SELECT count(*) FROM payments").fetchone()[0], 2)
        con.close()

    def test_restore_takes_the_database_from_the_configuration(self):
        path = os.path.join(self.gw.dir, "b.db")
        self.backup(path)
        self.gw.stop()
        conf = os.path.join(self.gw.dir, "restore.ini")
        with open(conf, "w") as f:
            f.write("[storage]\npath = %s\n" % self.gw.db)
        p = restore(path, config=conf)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("restored %s from %s" % (self.gw.db, path), p.stdout)
        self.gw.start()

    def test_bad_backups_are_refused_and_change_nothing(self):
        self.gw.stop()
        live = dump(self.gw.db)
        junk = os.path.join(self.gw.dir, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"this is not a database" * 100)
        other = os.path.join(self.gw.dir, "other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE t (x)")
        con.close()
        good = os.path.join(self.gw.dir, "good.db")
        self.assertEqual(restore(self.gw.db, "--db", good).returncode, 0)  # a copy to spoil
        newer = os.path.join(self.gw.dir, "newer.db")
        restore(self.gw.db, "--db", newer)
        con = sqlite3.connect(newer)
        con.execute("PRAGMA user_version = 999")
        con.close()
        cooked = os.path.join(self.gw.dir, "cooked.db")
        restore(self.gw.db, "--db", cooked)
        con = sqlite3.connect(cooked)
        con.execute("UPDATE accounts SET balance = balance + 1 WHERE kind = 'wallet'")
        con.commit()
        con.close()
        cases = [(junk, "not a database"), (other, "not a ykt database"),
                 (newer, "schema version 999"), (cooked, "does not audit clean"),
                 (os.path.join(self.gw.dir, "missing.db"), "No such file")]
        for path, why in cases:
            with self.subTest(path=path):
                p = restore(path, "--db", self.gw.db)
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertIn(why, p.stderr)
                self.assertEqual(dump(self.gw.db), live)
        self.assertEqual([f for f in os.listdir(self.gw.dir) if "before-restore" in f], [])
        p = restore(junk)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--db PATH or -c CONFIG", p.stderr)
        self.gw.start()


class ScheduledBackupTest(WalletCase):

    def test_scheduled_backups_are_taken_and_pruned(self):
        self.gw.stop()
        bdir = os.path.join(self.gw.dir, "backups")
        os.mkdir(bdir)
        # two old ones from an earlier run, a file that is not ours, and keep = 2
        for stamp in ("20200101T000000Z", "20200102T000000Z"):
            open(os.path.join(bdir, "ykt-%s.db" % stamp), "w").close()
        open(os.path.join(bdir, "notes.txt"), "w").close()
        self.gw.sets.update({"backup.dir": bdir, "backup.interval": "1h", "backup.keep": "2"})
        self.gw.start()

        def names():
            return sorted(f for f in os.listdir(bdir) if f.startswith("ykt-"))

        wait_until(lambda: len(names()) == 2 and "ykt-20200101T000000Z.db" not in names(),
                   timeout=20)
        fresh = names()[-1]
        self.assertNotIn("2020", fresh)
        self.assertIn("notes.txt", os.listdir(bdir))
        self.assertEqual(dump(os.path.join(bdir, fresh))["user_version"],
                         dump(self.gw.db)["user_version"])
        self.assertIn("scheduled backup %s" % os.path.join(bdir, fresh), self.gw.log_text())
        # a healthy, self-contained copy of the quiet gateway, audited as the system's
        # (the start-up jobs may move meta's blacklist_version and write audit rows after
        # the copy; every other table is as the copy caught it)
        copy, live = dump(os.path.join(bdir, fresh)), dump(self.gw.db)
        self.assertEqual(set(copy), set(live))
        for t in set(copy) - {"meta", "audit"}:
            self.assertEqual(copy[t], live[t], t)
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(bdir, fresh), uri=True)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        self.assertEqual(con.execute("PRAGMA journal_mode").fetchone()[0], "delete")
        con.close()
        wait_until(lambda: self.gw.sql("SELECT count(*) FROM audit WHERE action = 'backup'")
                   == [(1,)])
        self.assertEqual(self.gw.sql("SELECT operator, target FROM audit WHERE action = 'backup'"),
                         [("system:backup", os.path.join(bdir, fresh))])
        p = restore(os.path.join(bdir, fresh), "--db", os.path.join(self.gw.dir, "check.db"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ledger audit clean", p.stdout)
        # a restart within the interval takes no second one
        self.gw.stop()
        self.gw.start()
        time.sleep(1)
        self.assertEqual(names()[-1], fresh)

    def test_bad_backup_configuration_stops_start_up(self):
        self.gw.stop()
        p = subprocess.run(self.gw.command() + ["--set", "backup.interval=10s"],
                           capture_output=True, text=True, timeout=30, cwd=self.gw.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("backup.interval", p.stderr)
        self.gw.start()


if __name__ == "__main__":
    import unittest
    unittest.main()
