"""The admin channel: yktctl over the Unix socket. Terminal registry (R-S1), operator
accounts and roles (R-S2), the append-only audit trail (R-S6), status (R-S3), readable and
JSON output, and redis-cli as an independent client on both ports."""

import calendar
import json
import os
import pwd
import re
import sqlite3
import subprocess
import time
import unicodedata
import unittest

from harness import YKTCTL, GatewayTest, wait_until

SECRET = "admin-secret-0123456789"
LOCAL = "local:" + pwd.getpwuid(os.geteuid()).pw_name


def refused(p, code):
    """The stderr line of a refused yktctl run, after checking its code and exit status, and
    (yktctl --json, as GatewayTest.ctl runs it) the same error as a JSON object on stdout."""
    line = p.stderr.strip()
    if p.returncode != 1 or not p.stderr.startswith("yktctl: %s " % code):
        raise AssertionError("expected yktctl to fail with %s, got %d: %r %r"
                             % (code, p.returncode, p.stdout, p.stderr))
    if "--json" in p.args:
        message = line[len("yktctl: %s " % code):]
        if json.loads(p.stdout) != {"error": code, "message": message}:
            raise AssertionError("--json: %r is not the error %r" % (p.stdout, line))
    elif p.stdout != "":
        raise AssertionError("a refusal printed %r on stdout" % p.stdout)
    return line


def width(text):
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def at_display_column(line, col):
    """The character that starts at display column `col` (None past the end)."""
    w = 0
    for ch in line:
        if w == col:
            return ch
        w += width(ch)
    return None


def epoch(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def redis_cli(*args):
    return subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=30)


class TerminalRegistryTest(GatewayTest):
    def test_add_prints_the_secret_once_and_stores_only_a_hash(self):
        rec = self.gw.ctl("terminal", "add", "POS-1", "--type", "pos", "--location", "Canteen 1",
                          "--owner", "canteen")
        secret = rec["secret"]
        self.assertRegex(secret, r"^[0-9a-f]{32}$")
        self.assertEqual(rec["terminal"], "POS-1")
        self.assertEqual(rec["note"], "shown once; configure it in the terminal now")
        self.gw.terminal("POS-1", secret)
        # never again: not in show, list, either output format, nor the audit trail
        outputs = [
            self.gw.ctl("terminal", "show", "POS-1", json_out=False),
            self.gw.ctl("terminal", "list", json_out=False),
            self.gw.ctl("audit", "list", json_out=False),
            repr(self.gw.ctl("terminal", "show", "POS-1")),
            repr(self.gw.ctl("terminal", "list")),
            repr(self.gw.ctl("audit", "list")),
        ]
        for out in outputs:
            self.assertNotIn(secret, out)
        self.assertNotIn("secret", self.gw.ctl("terminal", "show", "POS-1"))
        # the database holds a salted PBKDF2 hash, and the secret nowhere (file or WAL)
        stored = self.gw.sql("SELECT secret_hash FROM terminals WHERE id='POS-1'")[0][0]
        self.assertRegex(stored, r"^pbkdf2-sha256\$\d+\$[0-9a-f]{32}\$[0-9a-f]{64}$")
        for suffix in ("", "-wal"):
            if os.path.exists(self.gw.db + suffix):
                with open(self.gw.db + suffix, "rb") as f:
                    self.assertNotIn(secret.encode(), f.read())
        # the same secret given twice gives two different hashes (salted)
        self.gw.ctl("terminal", "add", "POS-2", "--type", "pos", "--secret", SECRET)
        self.gw.ctl("terminal", "add", "POS-3", "--type", "pos", "--secret", SECRET)
        h2, h3 = [r[0] for r in self.gw.sql(
            "SELECT secret_hash FROM terminals WHERE id IN ('POS-2','POS-3') ORDER BY id")]
        self.assertNotEqual(h2, h3)
        given = self.gw.ctl("terminal", "show", "POS-2")
        self.assertEqual(given["type"], "pos")

    def test_given_secret_is_not_echoed(self):
        rec = self.gw.ctl("terminal", "add", "POS-1", "--type", "pos", "--secret", SECRET)
        self.assertEqual(rec["secret"], "(as given)")
        self.gw.terminal("POS-1", SECRET)

    def test_bad_inputs_are_refused_and_change_nothing(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        terminals = self.gw.ctl("terminal", "list")
        audit = self.gw.ctl("audit", "list")
        usage = ("usage: terminal add ID --type TYPE [--location TEXT] [--owner NAME] "
                 "[--secret S]")
        cases = [
            (["terminal", "add", "T2", "--type", "toaster"], "BAD_REQUEST",
             "unknown terminal type 'toaster' (pos, gate, dispenser, meter, bank, booking, "
             "kiosk, attendance)"),
            (["terminal", "add", "a b", "--type", "pos"], "BAD_REQUEST",
             "a terminal id has 1 to 63 letters, digits, '.', '_' or '-'"),
            (["terminal", "add", "x" * 100, "--type", "pos"], "BAD_REQUEST",
             "a terminal id has 1 to 63 letters, digits, '.', '_' or '-'"),
            (["terminal", "add", "T/2", "--type", "pos"], "BAD_REQUEST",
             "a terminal id has 1 to 63 letters, digits, '.', '_' or '-'"),
            (["terminal", "add", "T2", "--type", "pos", "--secret", "too-short"], "BAD_REQUEST",
             "--secret must be 16 to 128 printable characters without spaces"),
            (["terminal", "add", "T2", "--type", "pos", "--secret", "has a space in it!!"],
             "BAD_REQUEST", "--secret must be 16 to 128 printable characters without spaces"),
            (["terminal", "add", "T2", "--type", "pos", "--colour", "red"], "BAD_REQUEST",
             "unknown option --colour for 'terminal add'; " + usage),
            (["terminal", "add", "T2"], "BAD_REQUEST", "--type is required; " + usage),
            (["terminal", "add", "T2", "--type"], "BAD_REQUEST", "--type needs a value; " + usage),
            (["terminal", "add", "--type", "pos"], "BAD_REQUEST", "missing arguments; " + usage),
            (["terminal", "add", "T2", "T3", "--type", "pos"], "BAD_REQUEST",
             "too many arguments; " + usage),
            (["terminal", "add", "T2", "--type", "pos", "--location", "L" * 300], "BAD_REQUEST",
             "--location is at most 127 bytes"),
            (["terminal", "add", "POS-1", "--type", "gate"], "EXISTS",
             "terminal POS-1 already exists"),
            (["terminal", "disable", "NOPE"], "NOT_FOUND", "no terminal NOPE"),
            (["terminal", "frob"], "BAD_REQUEST", "unknown command 'terminal frob'; try: help "
             "terminal"),
            (["frob"], "BAD_REQUEST", "unknown command 'frob'; try: help"),
            (["terminal"], "BAD_REQUEST", "'terminal' needs a subcommand: add, list, show, "
             "disable, enable, revoke, rotate-secret"),
            (["terminal", "list", "--approval", "X"], "BAD_REQUEST",
             "unknown option --approval for 'terminal list'; usage: terminal list [--type TYPE] "
             "[--status S] [--silent MINUTES] [--faulty]"),
        ]
        for args, code, message in cases:
            with self.subTest(args=args[:3]):
                p = self.gw.ctl(*args, check=False)
                self.assertEqual(refused(p, code), "yktctl: %s %s" % (code, message))
        self.assertEqual(self.gw.ctl("terminal", "list"), terminals)
        self.assertEqual(self.gw.ctl("audit", "list"), audit)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM terminals"), [(1,)])

    def test_pos_owner_that_is_no_merchant_is_warned_about(self):
        """A POS (a dispenser, a booking terminal) sells for its owner: a missing or mistyped
        merchant would only show at the first sale (NO_MERCHANT), so `terminal add` says so
        at once. It still adds the terminal: finance adds merchants, the information centre
        terminals, in either order."""
        warning = ("no merchant canteen1 yet: sales here are refused (NO_MERCHANT) until it is "
                   "added (yktctl merchant add canteen1 --name NAME)")
        rec = self.gw.ctl("terminal", "add", "POS-1", "--type", "pos", "--owner", "canteen1")
        self.assertEqual((rec["owner"], rec["warning"]), ("canteen1", warning))
        self.assertIn("warn  admin: terminal POS-1: " + warning, self.gw.log_text())
        text = self.gw.ctl("terminal", "add", "POS-2", "--type", "pos", "--owner", "canteen1",
                           json_out=False)
        self.assertEqual(text.splitlines()[-1], "warning:  " + warning)
        # with the merchant added first, nothing to say
        self.gw.ctl("merchant", "add", "canteen-1", "--name", "Canteen 1")
        rec = self.gw.ctl("terminal", "add", "POS-3", "--type", "pos", "--owner", "canteen-1")
        self.assertNotIn("warning", rec)
        # the other selling types alike, and one without an owner at all
        rec = self.gw.ctl("terminal", "add", "DISP-1", "--type", "dispenser", "--owner", "water")
        self.assertTrue(rec["warning"].startswith("no merchant water yet: sales here are "
                                                  "refused (NO_MERCHANT)"), rec)
        rec = self.gw.ctl("terminal", "add", "BOOK-1", "--type", "booking", "--owner", "library")
        self.assertTrue(rec["warning"].startswith("no merchant library yet"), rec)
        rec = self.gw.ctl("terminal", "add", "POS-4", "--type", "pos")
        self.assertTrue(rec["warning"].startswith("no owner: sales here are refused"), rec)
        # types that sell nothing, whatever their owner: nothing to say
        for args in (["GATE-1", "--type", "gate", "--owner", "security"],
                     ["KIOSK-1", "--type", "kiosk", "--owner", "card-centre"]):
            self.assertNotIn("warning", self.gw.ctl("terminal", "add", *args))
        self.assertEqual(len(self.gw.ctl("terminal", "list")), 8)

    def test_location_limit_matches_the_column(self):
        # the limit in the message is the real one: 127 bytes pass
        self.gw.ctl("terminal", "add", "T2", "--type", "pos", "--location", "L" * 127)
        self.assertEqual(self.gw.ctl("terminal", "show", "T2")["location"], "L" * 127)

    def test_disable_enable_revoke(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        p = self.gw.ctl("terminal", "enable", "POS-1", check=False)
        self.assertEqual(refused(p, "BAD_STATE"),
                         "yktctl: BAD_STATE terminal POS-1 is already enabled")
        self.gw.ctl("terminal", "disable", "POS-1")
        self.assertEqual(self.gw.ctl("terminal", "show", "POS-1")["status"], "disabled")
        self.gw.ctl("terminal", "revoke", "POS-1", "--reason", "stolen")
        self.assertEqual(self.gw.ctl("terminal", "show", "POS-1")["status"], "revoked")
        for verb in ("enable", "disable", "revoke", "rotate-secret"):
            p = self.gw.ctl("terminal", verb, "POS-1", check=False)
            self.assertEqual(refused(p, "REVOKED"),
                             "yktctl: REVOKED terminal POS-1 is revoked for good; add a new one")
        self.assertEqual([t["status"] for t in self.gw.ctl("terminal", "list", "--status",
                                                             "revoked")], ["revoked"])
        self.assertEqual(self.gw.sql("SELECT status FROM terminals"), [("revoked",)])


class OutputTest(GatewayTest):
    def test_text_table_is_aligned_with_a_header_row(self):
        self.assertEqual(self.gw.ctl("terminal", "list", json_out=False),
                         "terminal  type  status  location  owner  connected  last_seen  "
                         "health\n(none)\n")
        self.gw.ctl("terminal", "add", "POS-1", "--type", "pos", "--secret", SECRET,
                    "--location", "一食堂 North", "--owner", "canteen")
        self.gw.ctl("terminal", "add", "GATE-EAST-12", "--type", "gate", "--location", "East",
                    "--owner", "保卫处")
        self.gw.terminal("POS-1", SECRET).call("HEALTH", "degraded", "paper low")
        out = self.gw.ctl("terminal", "list", json_out=False)
        lines = out.splitlines()
        self.assertEqual(len(lines), 3)
        cols = ["terminal", "type", "status", "location", "owner", "connected", "last_seen",
                "health"]
        self.assertEqual(lines[0].split(), cols)
        starts = [width(lines[0][:lines[0].index(c)]) for c in cols]
        for line in lines[1:]:
            for s in starts:
                self.assertNotEqual(at_display_column(line, s), " ", (line, s))
                if s:
                    self.assertEqual(at_display_column(line, s - 1), " ", (line, s))
                    self.assertEqual(at_display_column(line, s - 2), " ", (line, s))
        self.assertRegex(lines[1], r"^GATE-EAST-12  gate  enabled  East  +保卫处 +0 +- +-$")
        self.assertRegex(lines[2], r"^POS-1 +pos +enabled  一食堂 North  canteen  1 +"
                                   r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  degraded$")

    def test_text_record_is_aligned(self):
        out = self.gw.ctl("status", json_out=False)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("version:"))
        value_cols = set()
        for line in lines:
            key, sep, _ = line.partition(":")
            self.assertEqual(sep, ":")
            rest = line[len(key) + 1:]
            value_cols.add(width(key) + 1 + len(rest) - len(rest.lstrip(" ")))
        self.assertEqual(len(value_cols), 1, out)
        self.assertIn("uptime_s:", out)

    def test_csv_output(self):
        import csv
        import io
        self.gw.add_terminal("POS-CSV", "pos")
        self.gw.ctl("terminal", "add", "GATE-CSV", "--type", "gate", "--location",
                    'South gate, "main"')
        out = self.gw.ctl("--csv", "terminal", "list", json_out=False)
        rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual([r["terminal"] for r in rows], ["GATE-CSV", "POS-CSV"])
        self.assertEqual(rows[0]["location"], 'South gate, "main"')
        self.assertEqual(rows[1]["last_seen"], "")  # null is an empty cell

    def test_json_output(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        p = self.gw.ctl("terminal", "list", check=False)
        rows = json.loads(p.stdout)
        self.assertEqual(list(rows[0].keys()), ["terminal", "type", "status", "location",
                                                "owner", "connected", "last_seen", "health"])
        self.assertEqual((rows[0]["connected"], rows[0]["last_seen"]), (0, None))
        self.assertEqual(self.gw.ctl("terminal", "list", "--type", "gate"), [])
        self.assertEqual(self.gw.ctl("ping"), {"status": "PONG"})
        self.assertIsInstance(self.gw.ctl("help"), list)

    def test_help_reads_on_an_80_column_terminal(self):
        """help as text: each command's usage from column 0, its roles and summary indented
        below it, no line wider than 79 columns; --json stays one object per command."""
        rows = self.gw.ctl("help")
        self.assertEqual(list(rows[0].keys()), ["command", "roles", "summary"])
        for group in (None, "terminal", "portal", "card"):
            with self.subTest(group=group):
                out = self.gw.ctl("help", *([group] if group else []), json_out=False)
                lines = out.splitlines()
                self.assertLessEqual(max(width(line) for line in lines), 79,
                                     max(lines, key=width))
                blocks = out.split("\n\n")
                want = [r for r in rows if group is None or r["command"].startswith(group + " ")]
                self.assertEqual(len(blocks), len(want))
                for block, row in zip(blocks, want):
                    lines = block.splitlines()
                    at = [i for i, ln in enumerate(lines) if ln.startswith("    roles: ")]
                    self.assertEqual(len(at), 1, block)
                    # the usage from column 0, wrapped only between options
                    self.assertFalse(lines[0].startswith(" "), block)
                    usage = " ".join(ln.strip() for ln in lines[:at[0]])
                    self.assertEqual(usage, row["command"])
        terminal = self.gw.ctl("help", "terminal", json_out=False)
        self.assertTrue(terminal.startswith(
            "terminal add ID --type TYPE [--location TEXT] [--owner NAME] [--secret S]\n"
            "    roles: superuser\n"
            "    Admit a terminal; prints its secret once"), terminal)
        self.assertIn("\n\nterminal show ID\n    roles: any operator\n"
                      "    Show one terminal with its health report.\n", terminal)
        # a usage longer than a line breaks between bracketed options
        portal = self.gw.ctl("help", "portal", json_out=False)
        self.assertIn("portal settings NO PAY_PASSWORD [--daily CNY|default]\n"
                      "        [--low-balance CNY|default]", portal)

    def test_group_without_subcommand_lists_its_subcommands(self):
        groups = {}
        for row in self.gw.ctl("help"):
            words = row["command"].split()
            if len(words) > 1 and re.match(r"^[a-z][a-z-]*$", words[1]):
                groups.setdefault(words[0], []).append(words[1])
        self.assertEqual(groups["terminal"], ["add", "list", "show", "disable", "enable",
                                              "revoke", "rotate-secret"])
        for group in ("terminal", "operator", "merchant", "portal"):
            with self.subTest(group=group):
                p = self.gw.ctl(group, check=False)
                self.assertEqual(refused(p, "BAD_REQUEST"),
                                 "yktctl: BAD_REQUEST '%s' needs a subcommand: %s"
                                 % (group, ", ".join(groups[group])))

    def test_json_errors_are_objects_on_stdout(self):
        p = self.gw.ctl("terminal", "disable", "NOPE", check=False)
        self.assertEqual((p.returncode, json.loads(p.stdout)),
                         (1, {"error": "NOT_FOUND", "message": "no terminal NOPE"}))
        self.assertEqual(p.stderr, "yktctl: NOT_FOUND no terminal NOPE\n")
        self.gw.add_terminal("POS-1", "pos", SECRET)
        p = self.gw.ctl("terminal", "add", "POS-1", "--type", "pos", check=False)
        self.assertEqual(json.loads(p.stdout),
                         {"error": "EXISTS", "message": "terminal POS-1 already exists"})
        # a refused login too; text output keeps stdout empty
        self.gw.add_operator("olga", "operator")
        p = self.gw.ctl("whoami", user="olga", password="wrong-password", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["error"], "NOAUTH")
        p = self.gw.ctl("terminal", "disable", "NOPE", check=False, json_out=False)
        self.assertEqual((p.returncode, p.stdout, p.stderr),
                         (1, "", "yktctl: NOT_FOUND no terminal NOPE\n"))

    def test_yktctl_usage_errors(self):
        p = self.gw.ctl("--frob", "status", json_out=False, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option --frob", p.stderr)
        p = subprocess.run([YKTCTL, "-s", os.path.join(self.gw.dir, "nope.sock"), "status"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("is yktd running?", p.stderr)


class OperatorTest(GatewayTest):
    def test_new_operator_must_change_the_initial_password(self):
        rec = self.gw.ctl("operator", "add", "olga", "--role", "operator")
        initial = rec["initial_password"]
        self.assertRegex(initial, r"^[a-km-zA-HJ-NP-Z2-9]{14}$")
        self.assertEqual(rec["note"], "shown once; the operator must change it at first login")
        self.assertNotIn(initial, self.gw.ctl("operator", "list", json_out=False))
        stored = self.gw.sql("SELECT password_hash FROM operators WHERE name='olga'")[0][0]
        self.assertTrue(stored.startswith("pbkdf2-sha256$"))
        self.assertNotIn(initial, stored)
        # everything but whoami and passwd is refused until the password is changed
        p = self.gw.ctl("terminal", "list", user="olga", password=initial, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout), {
            "error": "FORBIDDEN",
            "message": "change your initial password first: yktctl -u olga passwd"})
        self.assertEqual(p.stderr.splitlines(), [
            "yktctl: change your initial password: passwd",  # yktctl's notice at login
            "yktctl: FORBIDDEN change your initial password first: yktctl -u olga passwd"])
        who = self.gw.ctl("whoami", user="olga", password=initial)
        self.assertEqual(who["must_change_password"], "yes")
        for old, new, code in [("wrong-old-pass", "olga-new-pass", "NOAUTH"),
                               (initial, "short", "BAD_PASSWORD"),
                               (initial, initial, "BAD_PASSWORD")]:
            p = self.gw.ctl("passwd", old, new, user="olga", password=initial, check=False)
            self.assertIn("yktctl: %s " % code, p.stderr)
            self.assertEqual(p.returncode, 1)
        self.gw.ctl("passwd", initial, "olga-new-pass", user="olga", password=initial)
        self.assertEqual(self.gw.ctl("terminal", "list", user="olga", password="olga-new-pass"),
                         [])
        self.assertEqual(self.gw.ctl("whoami", user="olga", password="olga-new-pass")
                         ["must_change_password"], "no")
        p = self.gw.ctl("whoami", user="olga", password=initial, check=False)
        self.assertEqual(refused(p, "NOAUTH"),
                         "yktctl: NOAUTH invalid operator name or password")
        # reset-password issues a new initial password, and the change is required again
        again = self.gw.ctl("operator", "reset-password", "olga")["initial_password"]
        self.assertNotEqual(again, initial)
        p = self.gw.ctl("status", user="olga", password=again, check=False)
        self.assertIn("FORBIDDEN change your initial password first", p.stderr)

    def test_operator_add_bad_inputs(self):
        audit = self.gw.ctl("audit", "list")
        for args, code, message in [
            (["operator", "add", "x", "--role", "wizard"], "BAD_REQUEST",
             "unknown role 'wizard' (operator, finance, dept_admin, dept_head, auditor, "
             "superuser, guardian, portal)"),
            (["operator", "add", "a b", "--role", "operator"], "BAD_REQUEST",
             "an operator name has 1 to 63 letters, digits, '.', '_' or '-'"),
            (["operator", "add", "x"], "BAD_REQUEST",
             "--role is required; usage: operator add NAME --role ROLE [--department DEPT]"),
            (["operator", "add", "x", "--role", "dept_head"], "BAD_REQUEST",
             "role dept_head needs --department"),
        ]:
            with self.subTest(args=args):
                p = self.gw.ctl(*args, check=False)
                self.assertEqual(refused(p, code), "yktctl: %s %s" % (code, message))
        self.gw.add_operator("olga", "operator")
        p = self.gw.ctl("operator", "add", "olga", "--role", "auditor", check=False)
        self.assertEqual(refused(p, "EXISTS"), "yktctl: EXISTS operator olga already exists")
        self.assertEqual([o["operator"] for o in self.gw.ctl("operator", "list")], ["olga"])
        # only olga's creation and her password change were audited
        self.assertEqual([a["action"] for a in self.gw.ctl("audit", "list")][:2],
                         ["operator.passwd", "operator.add"])
        self.assertEqual(len(self.gw.ctl("audit", "list")), len(audit) + 2)

    def test_roles(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        self.gw.add_operator("aud", "auditor", password="auditor-pass-1")
        self.gw.add_operator("op", "operator", password="operator-pass-1")
        audit_rows = len(self.gw.ctl("audit", "list"))

        def run(user, password, *args):
            return self.gw.ctl(*args, user=user, password=password, check=False)

        # the auditor reads everything and changes nothing
        for args in (["audit", "list"], ["terminal", "list"], ["terminal", "show", "POS-1"],
                     ["status"], ["conn", "list"], ["operator", "list"]):
            p = run("aud", "auditor-pass-1", *args)
            self.assertEqual(p.returncode, 0, (args, p.stderr))
        for args, cname in ((["terminal", "add", "X1", "--type", "pos"], "terminal add"),
                            (["operator", "add", "z", "--role", "auditor"], "operator add"),
                            (["terminal", "disable", "POS-1"], "terminal disable"),
                            (["operator", "disable", "op"], "operator disable")):
            p = run("aud", "auditor-pass-1", *args)
            self.assertEqual(refused(p, "FORBIDDEN"),
                             "yktctl: FORBIDDEN '%s' needs role superuser; you are auditor"
                             % cname)
        # an operator sees terminals and status, and of the audit trail their own actions only
        for args in (["terminal", "list"], ["status"], ["whoami"]):
            self.assertEqual(run("op", "operator-pass-1", *args).returncode, 0, args)
        own = json.loads(run("op", "operator-pass-1", "audit", "list").stdout)
        self.assertEqual({a["operator"] for a in own}, {"op"})  # op's password change
        for args in (["audit", "list", "--operator", "aud"],
                     ["audit", "list", "--operator", "local:root"]):
            p = run("op", "operator-pass-1", *args)
            self.assertEqual(refused(p, "FORBIDDEN"),
                             "yktctl: FORBIDDEN you may read your own actions only "
                             "(--operator op)")
        for args, cname in ((["conn", "list"], "conn list"),
                            (["operator", "list"], "operator list")):
            p = run("op", "operator-pass-1", *args)
            self.assertEqual(refused(p, "FORBIDDEN"),
                             "yktctl: FORBIDDEN '%s' needs role auditor, superuser; you are "
                             "operator" % cname)
        p = run("op", "operator-pass-1", "terminal", "add", "X1", "--type", "pos")
        self.assertIn("FORBIDDEN", p.stderr)
        # refused commands changed nothing and wrote no audit row
        self.assertEqual(len(self.gw.ctl("audit", "list")), audit_rows)
        self.assertEqual(self.gw.ctl("terminal", "show", "POS-1")["status"], "enabled")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM terminals"), [(1,)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM operators"), [(2,)])
        self.assertIn("admin: aud (auditor) was refused 'terminal add'", self.gw.log_text())

    def test_disabled_operator_cannot_log_in(self):
        self.gw.add_operator("olga", "operator", password="olga-pass-123")
        self.gw.ctl("operator", "disable", "olga", "--approval", "HR-7")
        p = self.gw.ctl("whoami", user="olga", password="olga-pass-123", check=False)
        self.assertEqual(refused(p, "NOAUTH"), "yktctl: NOAUTH operator olga is disabled")
        self.assertEqual(self.gw.ctl("operator", "list")[0]["status"], "disabled")
        self.gw.ctl("operator", "enable", "olga")
        self.assertEqual(self.gw.ctl("whoami", user="olga", password="olga-pass-123")
                         ["operator"], "olga")
        p = self.gw.ctl("whoami", user="nobody", password="olga-pass-123", check=False)
        self.assertEqual(refused(p, "NOAUTH"), "yktctl: NOAUTH invalid operator name or password")


class LoginLockTest(GatewayTest):
    sets = {"admin.login_lock": "2s"}

    def test_wrong_passwords_lock_the_account_for_a_while(self):
        self.gw.add_operator("olga", "operator", password="olga-pass-123")
        # four wrong ones, then the right one: the count starts again
        for _ in range(4):
            p = self.gw.ctl("whoami", user="olga", password="guess-pass-1", check=False)
            self.assertEqual(refused(p, "NOAUTH"),
                             "yktctl: NOAUTH invalid operator name or password")
        self.gw.ctl("whoami", user="olga", password="olga-pass-123")
        for _ in range(4):
            self.gw.ctl("whoami", user="olga", password="guess-pass-1", check=False)
        self.gw.ctl("whoami", user="olga", password="olga-pass-123")
        # five in a row lock it, even against the right password
        for _ in range(5):
            p = self.gw.ctl("whoami", user="olga", password="guess-pass-1", check=False)
            self.assertIn("NOAUTH", p.stderr)
        locked_at = time.time()
        p = self.gw.ctl("whoami", user="olga", password="olga-pass-123", check=False)
        self.assertRegex(refused(p, "LOCKED"),
                         r"^yktctl: LOCKED operator olga is locked until "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ after repeated wrong passwords$")
        self.assertIsNotNone(self.gw.ctl("operator", "list")[0]["locked_until"])
        self.assertIn("admin: operator olga locked", self.gw.log_text())
        # the lock ends by itself
        self.assertTrue(wait_until(lambda: self.gw.ctl(
            "whoami", user="olga", password="olga-pass-123", check=False).returncode == 0,
            timeout=5, interval=0.2))
        self.assertGreaterEqual(time.time() - locked_at, 1.0)
        self.assertIsNone(self.gw.ctl("operator", "list")[0]["locked_until"])

    def test_one_connection_is_closed_after_repeated_failures(self):
        self.gw.add_operator("olga", "operator", password="olga-pass-123")
        a = self.gw.admin()
        for _ in range(5):
            self.assertEqual(a.call("login", "olga", "guess-pass-1").code, "NOAUTH")
        self.assertTrue(a.closed_by_server())


class LocalSuperuserOffTest(GatewayTest):
    def setUp(self):
        super().setUp()
        self.gw.ctl("operator", "add", "boss", "--role", "superuser")
        initial = self.gw.ctl("operator", "reset-password", "boss")["initial_password"]
        self.gw.ctl("passwd", initial, "boss-pass-123", user="boss", password=initial)
        self.gw.stop()
        self.gw.sets["admin.local_superuser"] = "no"
        self.gw.start()

    def test_login_is_required(self):
        a = self.gw.admin()
        r = a.call("status")
        self.assertError(r, "NOAUTH")
        self.assertEqual(r.message,
                         "log in first: LOGIN <operator> <password> (yktctl -u NAME)")
        self.assertEqual(a.call("ping"), "PONG")  # open commands stay open
        p = self.gw.ctl("terminal", "list", check=False)
        self.assertIn("yktctl: NOAUTH log in first", p.stderr)
        # yktctl -u with YKTCTL_PASSWORD
        who = self.gw.ctl("whoami", user="boss", password="boss-pass-123")
        self.assertEqual((who["operator"], who["role"], who["local"]),
                         ("boss", "superuser", "no"))
        secret = self.gw.ctl("terminal", "add", "POS-1", "--type", "pos", user="boss",
                             password="boss-pass-123")["secret"]
        self.gw.terminal("POS-1", secret)
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "terminal.add", user="boss",
                                     password="boss-pass-123")[0]["operator"], "boss")
        # logging in on a raw connection, and out again
        self.assertEqual(a.call("login", "boss", "boss-pass-123"), "OK")
        self.assertEqual(a.call("ping"), "PONG")
        self.assertEqual(a.call("logout"), "OK")
        self.assertError(a.call("status"), "NOAUTH")

    def test_redis_cli_logs_in_with_user_and_pass(self):
        p = redis_cli("-s", self.gw.socket, "status")
        self.assertIn("NOAUTH", p.stdout + p.stderr)
        p = redis_cli("-s", self.gw.socket, "--user", "boss", "--pass", "boss-pass-123",
                      "whoami")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("boss\nsuperuser\n", p.stdout)


class AuditTrailTest(GatewayTest):
    def test_state_changes_are_audited_with_who_when_what_and_approval(self):
        start = int(time.time())
        self.gw.ctl("terminal", "add", "POS-1", "--type", "pos", "--location", "Canteen 1",
                    "--owner", "canteen", "--approval", "IC-2024-001")
        self.gw.ctl("terminal", "add", "POS-2", "--type", "pos", "--secret", SECRET)
        self.gw.ctl("terminal", "disable", "POS-1", "--reason", "maintenance",
                    "--approval", "IC-2024-002")
        self.gw.ctl("terminal", "revoke", "POS-1", "--reason", "stolen", "--approval=IC-2024-003")
        self.gw.ctl("operator", "add", "olga", "--role", "operator", "--approval", "HR-88")
        end = int(time.time()) + 1
        rows = self.gw.ctl("audit", "list")
        self.assertEqual(len(rows), 5)
        self.assertEqual([r["id"] for r in rows], [5, 4, 3, 2, 1])  # newest first
        got = [(r["operator"], r["role"], r["action"], r["target"], r["detail"], r["approval"])
               for r in reversed(rows)]
        self.assertEqual(got, [
            (LOCAL, "superuser", "terminal.add", "POS-1",
             "type=pos location=Canteen 1 owner=canteen", "IC-2024-001"),
            (LOCAL, "superuser", "terminal.add", "POS-2",
             "type=pos location= owner= secret=provided", None),
            (LOCAL, "superuser", "terminal.disable", "POS-1",
             "status enabled -> disabled; reason: maintenance", "IC-2024-002"),
            (LOCAL, "superuser", "terminal.revoke", "POS-1",
             "status disabled -> revoked; reason: stolen", "IC-2024-003"),
            (LOCAL, "superuser", "operator.add", "olga", "role=operator department=", "HR-88"),
        ])
        for r in rows:
            self.assertTrue(start <= epoch(r["at"]) <= end, r["at"])
        # the same in the table itself, with millisecond times
        db = self.gw.sql("SELECT at, operator, action, approval FROM audit ORDER BY id")
        self.assertEqual([(d[1], d[2], d[3]) for d in db][0],
                         (LOCAL, "terminal.add", "IC-2024-001"))
        for d in db:
            self.assertTrue(start * 1000 <= d[0] <= end * 1000)
        # filters
        self.assertEqual([r["action"] for r in self.gw.ctl("audit", "list", "--target", "POS-1")],
                         ["terminal.revoke", "terminal.disable", "terminal.add"])
        self.assertEqual(len(self.gw.ctl("audit", "list", "--action", "terminal.add")), 2)
        self.assertEqual(len(self.gw.ctl("audit", "list", "--limit", "1")), 1)
        self.assertEqual(self.gw.ctl("audit", "list", "--operator", "nobody"), [])
        # an operator's own actions carry their name and role
        self.gw.add_operator("boss", "superuser", password="boss-pass-123")
        self.gw.ctl("terminal", "disable", "POS-2", "--approval", "IC-9", user="boss",
                    password="boss-pass-123")
        last = self.gw.ctl("audit", "list", "--limit", "1")[0]
        self.assertEqual((last["operator"], last["role"], last["action"], last["approval"]),
                         ("boss", "superuser", "terminal.disable", "IC-9"))

    def test_refused_commands_write_no_audit_row(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        before = self.gw.ctl("audit", "list")
        for args in (["terminal", "add", "POS-1", "--type", "pos", "--approval", "A"],
                     ["terminal", "add", "X", "--type", "toaster", "--approval", "A"],
                     ["terminal", "enable", "POS-1", "--approval", "A"],
                     ["terminal", "disable", "NOPE", "--approval", "A"],
                     ["operator", "add", "x", "--role", "wizard", "--approval", "A"],
                     ["operator", "disable", "nobody", "--approval", "A"]):
            self.assertEqual(self.gw.ctl(*args, check=False).returncode, 1, args)
        self.assertEqual(self.gw.ctl("audit", "list"), before)

    def test_audit_table_is_append_only(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        before = self.gw.sql("SELECT * FROM audit")
        self.assertEqual(len(before), 1)
        con = sqlite3.connect(self.gw.db, timeout=10)
        try:
            for sql in ("UPDATE audit SET approval = 'forged'",
                        "UPDATE audit SET operator = 'someone-else' WHERE id = 1",
                        "DELETE FROM audit",
                        "DELETE FROM audit WHERE id = 1"):
                with self.subTest(sql=sql):
                    with self.assertRaisesRegex(sqlite3.DatabaseError,
                                                "the audit trail is append-only"):
                        con.execute(sql)
                    con.rollback()
        finally:
            con.close()
        self.assertEqual(self.gw.sql("SELECT * FROM audit"), before)
        # and the gateway keeps appending
        self.gw.ctl("terminal", "disable", "POS-1")
        self.assertEqual(len(self.gw.sql("SELECT * FROM audit")), 2)


class StatusTest(GatewayTest):
    def test_status_reports_uptime_connections_and_terminals(self):
        self.gw.add_terminal("POS-1", "pos", SECRET)
        self.gw.add_terminal("GATE-1", "gate", SECRET)
        s = self.gw.ctl("status")
        self.assertEqual((s["terminals_registered"], s["terminals_enabled"],
                          s["terminals_seen_last_10m"], s["terminals_silent_10m"]), (2, 2, 0, 2))
        self.assertEqual((s["terminal_connections"], s["authenticated_connections"],
                          s["admin_connections"]), (0, 0, 1))
        self.assertLess(abs(epoch(s["started_at"]) - time.time()), 30)
        t = self.gw.terminal("POS-1", SECRET)
        self.assertEqual(t.call("HEALTH", "fault", "jam"), "OK")
        self.gw.client()
        time.sleep(1.05)
        s2 = self.gw.ctl("status", "--minutes", "5")
        self.assertGreaterEqual(s2["uptime_s"], s["uptime_s"] + 1)
        self.assertEqual((s2["terminals_seen_last_5m"], s2["terminals_silent_5m"],
                          s2["terminals_reporting_faults"]), (1, 1, 1))
        self.assertEqual((s2["terminal_connections"], s2["authenticated_connections"],
                          s2["connections_accepted"]), (2, 1, 2))
        self.assertEqual(s2["campus"], "示范大学 Demo University")
        self.assertEqual(s2["schema_version"], self.gw.sql("PRAGMA user_version")[0][0])
        p = self.gw.ctl("status", "--minutes", "0", check=False)
        self.assertEqual(refused(p, "BAD_REQUEST"),
                         "yktctl: BAD_REQUEST --minutes must be a whole number from 1 to 525600")


class RedisCliTest(GatewayTest):
    def test_redis_cli_on_the_admin_socket(self):
        p = redis_cli("-s", self.gw.socket, "status")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[:3], ["RECORD", "version", "campus"])
        self.assertIn("uptime_s", lines)
        p = redis_cli("-s", self.gw.socket, "terminal", "add", "T1", "--type", "pos",
                      "--secret", SECRET)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.gw.ctl("terminal", "show", "T1")["type"], "pos")

    def test_redis_cli_on_the_terminal_port(self):
        self.gw.add_terminal("T1", "pos", SECRET)
        port = str(self.gw.port)
        p = redis_cli("-p", port, "PING")
        self.assertEqual((p.returncode, p.stdout), (0, "PONG\n"))
        p = redis_cli("-p", port, "--user", "T1", "--pass", "wrong", "PING")
        self.assertIn("AUTH failed: NOAUTH", p.stdout + p.stderr)
        p = redis_cli("-p", port, "--user", "T1", "--pass", SECRET, "TIME")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("AUTH failed", p.stderr)
        self.assertGreater(int(p.stdout), 1_700_000_000_000)
        p = redis_cli("-p", port, "TIME")
        self.assertIn("NOAUTH", p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
