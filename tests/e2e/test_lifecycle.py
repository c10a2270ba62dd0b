"""yktd's life: configuration checking and overrides, start-up refusals, signals and clean
shutdown, what survives a restart, the admin socket's mode, and logs that never hold a
secret."""

import os
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest

from harness import DEMO_CONF, SOURCE_DIR, YKTD, ConnectionClosed, GatewayTest, demo_cwd, encode

SECRET = "lifecycle-secret-0123456789"


def run_yktd(*args, timeout=30):
    return subprocess.run([YKTD, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=demo_cwd())


def db_facts(path):
    con = sqlite3.connect(path)
    try:
        return {
            "integrity": con.execute("PRAGMA integrity_check").fetchall(),
            "journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0],
            "user_version": con.execute("PRAGMA user_version").fetchone()[0],
        }
    finally:
        con.close()


class CheckConfigTest(unittest.TestCase):
    """yktd --check-config FILE: 0 for a good file; FILE:LINE: reason for a bad one."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ykt-e2e-conf-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.dir]))

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertBad(self, text, line, reason, *sets):
        path = self.write("bad.ini", text)
        args = ["--check-config", path]
        for s in sets:
            args += ["--set", s]
        p = run_yktd(*args)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr, "yktd: %s:%d: %s\n" % (path, line, reason))

    def test_demo_config_is_valid(self):
        p = run_yktd("--check-config", DEMO_CONF)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "%s: configuration OK\n" % DEMO_CONF)

    def test_check_logs_only_warnings_and_errors(self):
        """run-demo.sh and ExecStartPre= check right before a start, which logs the loading
        again: the check keeps its errors (a refused rule script) but not the info lines."""
        p = run_yktd("--check-config", DEMO_CONF)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        rules = os.path.join(self.dir, "scripts")
        shutil.copytree(os.path.join(SOURCE_DIR, "scripts"), rules)
        with open(os.path.join(rules, "broken.lua"), "w") as f:
            f.write("this is not lua\n")
        p = run_yktd("--check-config", DEMO_CONF, "--set", "rules.dir=" + rules)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("error rules: broken.lua", p.stderr)
        self.assertNotIn("rules: loaded", p.stderr)

    def test_unknown_key(self):
        self.assertBad("[campus]\nname = X\ncolour = blue\n", 3,
                       "unknown key 'colour' in [campus]")
        self.assertBad("; demo\n\n[terminal]\nlisten = 127.0.0.1:1\nmax_frame = 4k\n", 5,
                       "unknown key 'max_frame' in [terminal]")

    def test_unknown_section(self):
        self.assertBad("[campus]\nname = X\n\n[termnial]\nlisten = 127.0.0.1:1\n", 4,
                       "unknown section [termnial]")
        # even an empty one is refused: it is a typo waiting to bite
        self.assertBad("[campus]\nname = X\n[bogus]\n", 3, "unknown section [bogus]")
        self.assertBad("name = X\n", 1, "unknown section []")

    def test_bad_values(self):
        for text, line, reason in [
            ("[terminal]\nmax_args = lots\n", 2,
             "[terminal] max_args: expected an integer, got 'lots'"),
            ("[terminal]\nmax_args = 2\n", 2,
             "[terminal] max_args: must be between 4 and 4096 (got '2')"),
            ("[terminal]\nidle_timeout = 5 minutes\n", 2,
             "[terminal] idle_timeout: expected a duration such as 500ms, 30s, 5m or 2h, "
             "got '5 minutes'"),
            ("[terminal]\nmax_frame_bytes = 128\n", 2,
             "[terminal] max_frame_bytes: must be between 256 and 67108864 bytes "
             "(got '128')"),
            ("[terminal]\nlisten = nowhere\n", 2,
             "[terminal] listen: expected HOST:PORT, got 'nowhere'"),
            ("[tls]\nenabled = maybe\n", 2, "[tls] enabled: expected yes or no, got 'maybe'"),
            ("[tls]\nverify_client = sometimes\n", 2,
             "[tls] verify_client: unknown value 'sometimes'"),
            ("[admin]\nsocket_mode = 0999\n", 2,
             "[admin] socket_mode: expected an octal mode such as 0660, got '0999'"),
            ("[log]\nlevel = loud\n", 2,
             "[log] level: expected debug, info, warn or error, got 'loud'"),
        ]:
            with self.subTest(text=text):
                self.assertBad(text, line, reason)

    def test_duplicate_key(self):
        self.assertBad("[terminal]\nmax_args = 8\nidle_timeout = 5s\nmax_args = 9\n", 4,
                       "[terminal] max_args is set twice")
        # a section may be reopened, but a key is still set once
        self.assertBad("[campus]\nname = X\n[log]\nlevel = info\n[campus]\nname = Y\n", 6,
                       "[campus] name is set twice")

    def test_syntax_error(self):
        self.assertBad("[campus]\nname = X\njust some words\n", 3,
                       "syntax error (expected [section] or key = value)")

    def test_set_overrides(self):
        ok = run_yktd("--check-config", DEMO_CONF, "--set", "terminal.max_args=8",
                      "--set", "terminal.listen=127.0.0.1:0")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        for assignment, reason in [
            ("terminal.max_args=lots", "expected an integer, got 'lots'"),
            ("terminal.max_args=1", "must be between 4 and 4096 (got '1')"),
            ("terminal.nokey=1", "unknown key"),
            ("nosection.key=1", "unknown section"),
            ("garbage", "expected section.key=value"),
            ("=x", "expected section.key=value"),
        ]:
            with self.subTest(assignment=assignment):
                p = run_yktd("--check-config", DEMO_CONF, "--set", assignment)
                self.assertEqual(p.returncode, 1)
                self.assertEqual(p.stderr, "yktd: --set %s: %s\n" % (assignment, reason))
        # a bad value in the file is reported even when --set would replace it
        path = self.write("bad.ini", "[terminal]\nmax_args = 2\n")
        p = run_yktd("--check-config", path, "--set", "terminal.max_args=8")
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s:2:" % path, p.stderr)

    def test_bad_command_lines(self):
        p = run_yktd()
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: yktd -c FILE", p.stderr)
        p = run_yktd("-c", DEMO_CONF, "--frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unexpected argument '--frobnicate'", p.stderr)
        p = run_yktd("--check-config", os.path.join(self.dir, "missing.ini"))
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"missing\.ini: cannot open: No such file")

    def test_print_config_lists_every_section_and_is_itself_valid(self):
        p = run_yktd("--print-config")
        self.assertEqual(p.returncode, 0, p.stderr)
        sections = re.findall(r"^\[([a-z.]+)\]$", p.stdout, re.M)
        self.assertEqual(sections, ["campus", "terminal", "tls", "admin", "cards", "wallet",
                                    "import", "storage", "log", "plugins", "rules",
                                    "backup"])
        # every key the demo file sets is documented there
        with open(DEMO_CONF) as f:
            demo = f.read()
        printed = set(re.findall(r"^([a-z_]+) = ", p.stdout, re.M))
        for key in re.findall(r"^([a-z_]+) = ", demo, re.M):
            self.assertIn(key, printed)
        # every key has a comment line above it
        lines = p.stdout.splitlines()
        for i, line in enumerate(lines):
            if " = " in line and not line.startswith(";"):
                self.assertTrue(lines[i - 1].startswith("; "), line)
        self.assertEqual(self.write_and_check(p.stdout).returncode, 0)

    def write_and_check(self, text):
        return run_yktd("--check-config", self.write("printed.ini", text))


class SignalTest(GatewayTest):
    def setUp(self):
        super().setUp()
        self.gw.add_terminal("POS-1", "pos", SECRET)

    def assertIntactAfterStop(self, sig):
        schema = self.gw.ctl("status")["schema_version"]
        self.assertGreaterEqual(schema, 1)
        c = self.gw.terminal("POS-1", SECRET)
        self.assertEqual(c.call("HEALTH", "degraded", "before stop"), "OK")
        self.assertEqual(self.gw.stop(sig), 0)
        self.assertTrue(c.closed_by_server())
        facts = db_facts(self.gw.db)
        self.assertEqual(facts["integrity"], [("ok",)])
        self.assertEqual(facts["journal_mode"], "wal")
        self.assertEqual(facts["user_version"], schema)
        self.assertEqual(self.gw.sql("SELECT health, health_detail FROM terminals"),
                         [("degraded", "before stop")])
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        log = self.gw.log_text()
        self.assertIn("received %s; shutting down" % name, log)
        self.assertIn("stopped; database closed cleanly", log)
        self.assertFalse(os.path.exists(self.gw.socket), "the admin socket was left behind")

    def test_sigterm_exits_0_and_leaves_the_database_intact(self):
        self.assertIntactAfterStop(signal.SIGTERM)

    def test_sigint_exits_0_and_leaves_the_database_intact(self):
        self.assertIntactAfterStop(signal.SIGINT)

    def test_sigterm_stops_accepting(self):
        idle = self.gw.client()
        self.assertEqual(idle.call("PING"), "PONG")
        port = self.gw.port
        self.gw.proc.send_signal(signal.SIGTERM)
        self.assertTrue(idle.closed_by_server())
        self.assertEqual(self.gw.proc.wait(20), 0)
        self.gw.stop()
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_requests_pipelined_before_sigterm_are_answered_or_not_applied(self):
        c = self.gw.terminal("POS-1", SECRET)
        n = 200
        c.send_raw(b"".join(encode("HEALTH", "ok", "n=%d" % i) for i in range(n)))
        self.gw.proc.send_signal(signal.SIGTERM)
        answered = 0
        try:
            while answered < n:
                self.assertEqual(c.read(), "OK")
                answered += 1
        except ConnectionClosed:
            pass
        self.assertTrue(answered == n or c.closed_by_server())
        self.assertEqual(self.gw.stop(), 0)
        rows = self.gw.sql("SELECT health, health_detail, health_at FROM terminals")
        if answered == 0:
            # the signal won the race: nothing was read, nothing was applied
            self.assertEqual(rows, [(None, None, None)])
        else:
            # every answered request is on disk, and nothing beyond the last answer
            health, detail, at = rows[0]
            self.assertEqual((health, detail), ("ok", "n=%d" % (answered - 1)))
            self.assertIsNotNone(at)
        self.assertEqual(db_facts(self.gw.db)["integrity"], [("ok",)])
        # Today a pipeline's worth (max_pipeline, 128) is usually answered and the rest,
        # already received, is dropped unapplied: the client sees exactly which requests
        # took effect and retries the others under the same sequence numbers.

    def test_repeated_signals_while_stopping_still_exit_0(self):
        # an impatient operator (or a supervisor) signalling again and again: every signal
        # that lands during the shutdown, including its last moments, must be harmless
        c = self.gw.terminal("POS-1", SECRET)
        self.assertEqual(c.call("HEALTH", "ok", "last words"), "OK")
        proc = self.gw.proc
        deadline = time.time() + 20
        while proc.poll() is None and time.time() < deadline:
            try:
                proc.send_signal(signal.SIGTERM if int(time.time() * 1000) % 2 else
                                 signal.SIGINT)
            except ProcessLookupError:
                pass
            time.sleep(0.001)
        self.assertEqual(self.gw.stop(), 0)
        self.assertIn("stopped; database closed cleanly", self.gw.log_text())
        self.assertEqual(self.gw.sql("SELECT health_detail FROM terminals"), [("last words",)])


    def test_a_signal_delivered_twice_is_one_request(self):
        # kill -TERM to a process group and a wrapper passing the signal on: the same signal
        # twice within moments drains the connections as one would; a different signal
        # (an operator's Ctrl-C after a TERM) closes them at once
        c = self.gw.terminal("POS-1", SECRET)
        proc = self.gw.proc
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.gw.stop(), 0)
        self.assertNotIn("second signal", self.gw.log_text())
        self.assertTrue(c.closed_by_server())
        self.gw.start()
        c = self.gw.terminal("POS-1", SECRET)
        proc = self.gw.proc
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGINT)
        self.assertEqual(self.gw.stop(), 0)
        self.assertIn("second signal: closing connections now", self.gw.log_text())


class CheckpointTest(GatewayTest):
    """Checkpoint passes beside the loop run on a thread of their own [storage]
    checkpoint_nice below the loop's priority (docs/performance.md, "A checkpoint pass at
    low priority"); 0 runs them on the thread pool. Either way the WAL starts again after
    checkpoint_pages."""

    sets = {"storage.checkpoint_pages": "100"}

    def nices(self):
        """The nice values of yktd's threads, and of its main thread (the event loop)."""
        task = "/proc/%d/task" % self.gw.proc.pid

        def nice(tid):
            with open(os.path.join(task, tid, "stat")) as f:
                return int(f.read().rsplit(")", 1)[1].split()[16])
        return sorted(nice(t) for t in os.listdir(task)), nice(str(self.gw.proc.pid))

    def write_a_lot(self):
        for i in range(150):
            self.gw.add_terminal("POS-%d" % i, "pos", SECRET)
        wal = os.path.getsize(self.gw.db + "-wal")
        # 150 commits of a few pages each, about 600 frames: without checkpoints the WAL
        # would hold them all; with them it starts again after about 100
        self.assertLess(wal, 400 * 4120, wal)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM terminals"), [(150,)])

    def test_passes_run_19_below_the_loop_by_default(self):
        nices, loop = self.nices()
        if loop < 19:  # (a test run at nice 19 has no lower priority to give)
            # the checkpoint thread lowers its own priority as it starts, which on a busy
            # machine may be a moment after yktd said it was ready
            deadline = time.monotonic() + 10
            while [n for n in nices if n != loop] == [] and time.monotonic() < deadline:
                time.sleep(0.05)
                nices, loop = self.nices()
            self.assertEqual([n for n in nices if n != loop], [min(19, loop + 19)], nices)
        self.write_a_lot()
        self.assertEqual(self.gw.stop(), 0)
        self.assertEqual(db_facts(self.gw.db)["integrity"], [("ok",)])

    def test_passes_on_the_thread_pool_with_nice_0(self):
        self.gw.stop()
        self.gw.sets["storage.checkpoint_nice"] = "0"
        self.gw.start()
        nices, loop = self.nices()
        self.assertEqual(set(nices), {loop})
        self.write_a_lot()
        self.assertEqual(self.gw.stop(), 0)


class StartupTest(GatewayTest):
    def test_restart_keeps_terminals_operators_and_audit(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        generated = self.gw.add_terminal("GATE-1", "gate")
        self.gw.ctl("terminal", "disable", "GATE-1", "--reason", "maintenance")
        self.gw.add_operator("olga", "operator", password="olga-pass-123")
        audit_before = self.gw.ctl("audit", "list")
        self.assertEqual(self.gw.stop(), 0)
        self.gw.start()
        self.assertIn("2 terminals", self.gw.log_text())
        self.assertIsInstance(self.gw.terminal("POS-1", SECRET).call("TIME"), int)
        r = self.gw.client().call("AUTH", "GATE-1", generated)
        self.assertEqual(r.line, "NOAUTH terminal GATE-1 is disabled")
        who = self.gw.ctl("whoami", user="olga", password="olga-pass-123")
        self.assertEqual((who["operator"], who["role"], who["must_change_password"]),
                         ("olga", "operator", "no"))
        self.assertEqual(self.gw.ctl("audit", "list"), audit_before)

    def test_restart_after_a_crash(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        self.gw.proc.kill()  # no clean shutdown: the socket file stays behind
        self.gw.proc.wait()
        self.gw.log.close()
        self.gw.proc = None
        self.assertTrue(os.path.exists(self.gw.socket))
        self.gw.start()
        self.assertIsInstance(self.gw.terminal("POS-1", SECRET).call("TIME"), int)
        self.assertEqual(db_facts(self.gw.db)["integrity"], [("ok",)])

    def test_database_newer_than_the_binary_is_refused(self):
        self.assertEqual(self.gw.stop(), 0)
        con = sqlite3.connect(self.gw.db)
        con.execute("PRAGMA user_version = 999")
        con.close()
        p = subprocess.run(self.gw.command(), capture_output=True, text=True, timeout=30,
                           cwd=self.gw.dir)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("database schema version 999 is newer than this yktd supports", p.stderr)
        self.assertNotIn("ready:", p.stderr)
        self.assertEqual(db_facts(self.gw.db)["user_version"], 999)  # left as it was
        self.assertFalse(os.path.exists(self.gw.socket))

    def test_second_yktd_on_the_same_database_is_refused(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        cmd = self.gw.command()
        other_socket = os.path.join(self.gw.dir, "other.sock")
        p = subprocess.run(cmd + ["--set", "admin.socket=" + other_socket],
                           capture_output=True, text=True, timeout=30, cwd=self.gw.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s is in use by another yktd" % self.gw.db, p.stderr)
        self.assertFalse(os.path.exists(other_socket))
        # a second one with its own database but the first one's admin socket is refused too
        p = subprocess.run(cmd + ["--set", "storage.path=" + os.path.join(self.gw.dir, "b.db")],
                           capture_output=True, text=True, timeout=30, cwd=self.gw.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("socket %s is in use by another yktd" % self.gw.socket, p.stderr)
        # and the first one never noticed
        self.assertIsInstance(self.gw.terminal("POS-1", SECRET).call("TIME"), int)
        self.assertEqual(self.gw.ctl("status")["terminals_registered"], 1)

    def test_harness_runs_with_a_set_port_and_sets_override_the_file(self):
        self.assertIn("--set", self.gw.command())
        self.assertIn("terminal.listen=127.0.0.1:0", self.gw.command())
        self.assertNotEqual(self.gw.port, 7070)  # the file says 7070; --set said 0
        status = self.gw.ctl("status")
        self.assertEqual(status["terminal_port"], "127.0.0.1:%d" % self.gw.port)
        self.assertEqual(status["database"], self.gw.db)
        self.assertEqual(status["admin_socket"], self.gw.socket)
        self.gw.stop()
        self.gw.sets["campus.name"] = "Override U"
        self.gw.start()
        self.assertEqual(self.gw.ctl("status")["campus"], "Override U")

    def test_bad_set_value_stops_start_up_naming_the_key(self):
        cmd = self.gw.command() + ["--set", "terminal.idle_timeout=soon"]
        self.gw.stop()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=self.gw.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("terminal.idle_timeout=soon", p.stderr)
        self.assertIn("expected a duration", p.stderr)


class AdminSocketTest(GatewayTest):
    def test_socket_mode_is_0660_and_removed_on_shutdown(self):
        st = os.stat(self.gw.socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(self.gw.stop(), 0)
        self.assertFalse(os.path.exists(self.gw.socket))

    def test_socket_mode_is_configurable(self):
        self.gw.stop()
        self.gw.sets["admin.socket_mode"] = "0600"
        self.gw.start()
        self.assertEqual(stat.S_IMODE(os.stat(self.gw.socket).st_mode), 0o600)
        self.assertEqual(self.gw.admin().call("ping"), "PONG")


class LogTest(GatewayTest):
    LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) \S")

    def test_no_secret_is_ever_logged(self):
        gw = self.gw  # log.level = debug (the harness default)
        secrets = []
        secrets.append(gw.add_terminal("GATE-1", "gate"))  # generated
        given = "given-secret-abcdef0123456789"
        gw.add_terminal("POS-1", "pos", given)
        secrets.append(given)
        gw.terminal("GATE-1", secrets[0])
        gw.terminal("POS-1", given)
        wrong = "wrong-secret-9876543210"
        secrets.append(wrong)
        self.assertEqual(gw.client().call("AUTH", "POS-1", wrong).code, "NOAUTH")
        self.assertEqual(gw.client().call("AUTH", "NO-SUCH", wrong).code, "NOAUTH")
        rotated = gw.ctl("terminal", "rotate-secret", "POS-1")["secret"]
        secrets.append(rotated)
        gw.terminal("POS-1", rotated)
        initial = gw.ctl("operator", "add", "olga", "--role", "operator")["initial_password"]
        secrets.append(initial)
        chosen = "olga-chosen-pw-42"
        secrets.append(chosen)
        gw.ctl("passwd", initial, chosen, user="olga", password=initial)
        gw.ctl("whoami", user="olga", password=chosen)
        bad = "olga-bad-guess-77"
        secrets.append(bad)
        self.assertNotEqual(gw.ctl("whoami", user="olga", password=bad, check=False)
                            .returncode, 0)
        # redis-cli's AUTH on the admin socket, too
        a = gw.admin()
        self.assertEqual(a.call("auth", "olga", chosen), "OK")
        self.assertEqual(gw.stop(), 0)
        log = gw.log_text()
        # the session really was logged at debug level
        self.assertIn("terminal GATE-1 (gate) authenticated", log)
        self.assertIn("AUTH refused for terminal 'POS-1'", log)
        self.assertIn("login refused for 'olga'", log)
        self.assertRegex(log, r"\bdebug\b")
        for s in secrets:
            self.assertNotIn(s, log)
            self.assertNotIn(s[:12], log)  # nor a recognisable part of it
        with open(gw.log_path, "rb") as f:
            raw = f.read()
        for s in secrets:
            self.assertNotIn(s.encode(), raw)
        # every line has a time and a level
        for line in log.splitlines():
            self.assertRegex(line, self.LINE)

    def test_level_info_hides_debug_lines(self):
        self.gw.stop()
        self.gw.sets["log.level"] = "info"
        self.gw.start()
        self.assertEqual(self.gw.client().call("PING"), "PONG")
        self.gw.ctl("status")
        self.assertEqual(self.gw.stop(), 0)
        log = self.gw.log_text()
        self.assertIn(" info  ready: terminal port", log)
        self.assertNotIn(" debug ", log)


if __name__ == "__main__":
    unittest.main()
