"""The bad-input catalogue (issue 9, docs/robustness.md): amounts that are negative, zero,
fractional, overflowing or not numbers; impossible dates; invalid UTF-8; quotes and
SQL-like strings in text fields. Each gets a clear, specific error and changes nothing —
or, for text that is merely unusual, is stored and shown exactly as given.

The other classes of the catalogue (malformed frames, huge lengths, slow clients, too many
connections, oversized CSV, runaway Lua) have their own tests, named in docs/robustness.md.
"""

import ast
import glob
import os
import re
import unittest

from harness import SOURCE_DIR
from test_wallet import WalletCase

SQLISH = ["O'Brien", 'say "hi"', "x'); DROP TABLE people;--", "%", "_", "\\", "' OR '1'='1",
          "张三（测试）"]


class BadInputTest(WalletCase):

    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")
        self.card, _, _ = self.holder("S1", topup="100.00")

    def books(self):
        """The ledger, the payments and every card's ATC: what a refusal must not move."""
        return (self.gw.sql("SELECT count(*) FROM transfers"),
                self.gw.sql("SELECT id, balance FROM accounts ORDER BY id"),
                self.gw.sql("SELECT count(*) FROM payments"),
                self.gw.sql("SELECT card_no, atc FROM cards ORDER BY card_no"))

    def test_amounts_on_the_terminal_port(self):
        before = self.books()
        for amount in ("-1", "9223372036854775808", "99999999999999999999999", "1e3", "12.5",
                       "", "abc", "0x10", " 1", "1 ", "+1", "１"):
            with self.subTest(amount=amount):
                args = self.signed(self.card, "POS-1", "PAY", 1)
                args[5] = amount  # the card signed 1: a changed amount is refused first
                r = self.send("POS-1", args)
                self.assertEqual(str(r), "BAD_REQUEST amount must be a whole number of fen, "
                                         "0 or more")
        self.assertError(self.pay(self.card, 0), "BAD_REQUEST")
        # more than the largest amount the ledger takes, correctly signed
        r = self.pay(self.card, 2 ** 62)
        self.assertIn(str(r).split()[0], ("BAD_REQUEST", "LIMIT_EXCEEDED"))
        self.assertEqual(self.books(), before)

    def test_amounts_on_the_admin_channel(self):
        before = self.books()
        for amount in ("-1", "0", "0.001", "99999999999999999999", "1e3", "abc", "１００",
                       "1,000", "--1"):
            with self.subTest(amount=amount):
                p = self.gw.ctl("account", "topup", "S1", "--amount", amount, check=False)
                self.assertEqual(p.returncode, 1)
                self.assertIn("BAD_REQUEST --amount is CNY with at most two decimals", p.stderr)
        pay = self.pay(self.card, 500)
        after_pay = self.books()
        for amount in ("-1", "0", "0.001", "99999999999999999999"):
            p = self.gw.ctl("payment", "refund", str(pay[0]), "--amount", amount, "--reason",
                            "x", check=False)
            self.assertEqual(p.returncode, 1, amount)
            self.assertIn("BAD_REQUEST", p.stderr)
        self.assertEqual(self.books(), after_pay)
        self.assertNotEqual(after_pay, before)

    def test_impossible_dates(self):
        for date in ("2026-02-30", "2026-13-01", "2025-02-29", "2026-00-10", "2026-1-1",
                     "26-01-01", "2026/01/01", "", "2026-01-01T00:00"):
            with self.subTest(date=date):
                p = self.gw.ctl("account", "statement", "S1", "--from", date, check=False)
                self.assertEqual(p.returncode, 1)
                self.assertIn("BAD_REQUEST", p.stderr)
                self.assertIn("--from", p.stderr)  # the error names the option
        people = self.gw.sql("SELECT * FROM people")
        idn = self.person("S9")  # a valid person first, to reuse a valid ID number shape
        self.gw.ctl("person", "remove", "S9", check=False)
        for flag, value in (("--enrolled", "2026-02-30"), ("--enrolled", "2026-13-01")):
            p = self.gw.ctl("person", "add", "S8", "--kind", "student", "--name", "李四",
                            "--gender", "F", "--id-number", idn, "--department", "CS",
                            "--phone", "13812345679", "--class", "CS-1", flag, value,
                            "--study-years", "4", check=False)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("BAD_REQUEST", p.stderr)
            self.assertIn("enrolled_on", p.stderr)  # the field, as in a CSV import
        self.assertEqual(self.gw.sql("SELECT count(*) FROM people WHERE person_no = 'S8'"),
                         [(0,)])
        self.assertGreaterEqual(len(self.gw.sql("SELECT * FROM people")), len(people))

    def test_invalid_utf8_is_refused_on_both_ports(self):
        admin = self.gw.admin()
        before = self.gw.sql("SELECT count(*) FROM merchants")
        for raw in (b"\xff\xfe", b"caf\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"a\x00b"):
            with self.subTest(raw=raw):
                r = admin.call("merchant", "add", "m2", "--name", raw, "--category", "shop")
                self.assertEqual(str(r).split()[0], "BAD_REQUEST", r)
                # argument 4 (counting from the command word, 0): --name's value
                self.assertIn("argument 4", str(r))
                self.assertIn("contains a NUL byte" if b"\x00" in raw else "is not UTF-8 text",
                              str(r))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM merchants"), before)
        term = self.conns["POS-1"]
        health = self.gw.sql("SELECT health, health_detail, health_at FROM terminals")
        for raw in (b"\xff\xfe broken", b"a\x00b"):
            with self.subTest(terminal=raw):
                r = term.call("HEALTH", "ok", raw)
                self.assertEqual(str(r).split()[0], "BAD_REQUEST", r)
                self.assertIn("of HEALTH is not UTF-8 text", str(r))
        self.assertEqual(self.gw.sql("SELECT health, health_detail, health_at FROM terminals"),
                         health)
        self.assertEqual(term.call("PING"), "PONG")  # refused, not disconnected

    def test_quotes_and_sql_like_text_are_stored_verbatim(self):
        for i, text in enumerate(SQLISH):
            with self.subTest(text=text):
                mid = "m%d" % i
                self.gw.ctl("merchant", "add", mid, "--name", text, "--category", "shop")
                self.assertEqual(self.gw.ctl("merchant", "show", mid)["name"], text)
                self.assertEqual(self.gw.sql("SELECT name FROM merchants WHERE id = ?", mid),
                                 [(text,)])
                tid = "T-%d" % i
                self.gw.ctl("terminal", "add", tid, "--type", "kiosk", "--location", text)
                rows = {r["terminal"]: r for r in self.gw.ctl("terminal", "list")}
                self.assertEqual(rows[tid]["location"], text)
        # every table is still there and the wildcard characters matched nothing extra
        tables = {r[0] for r in self.gw.sql("SELECT name FROM sqlite_schema WHERE type='table'")}
        self.assertTrue({"people", "merchants", "terminals", "payments"} <= tables)
        for pattern in ("%", "_", "' OR '1'='1"):
            rows = self.gw.ctl("payment", "search", "--merchant", pattern)
            self.assertEqual(rows, [], pattern)

    def test_control_characters_in_text_are_refused(self):
        for text in ("a\tb", "a\nb", "a\x1bb", "a\x7fb"):
            with self.subTest(text=text):
                p = self.gw.ctl("merchant", "add", "m1", "--name", text, "--category", "shop",
                                check=False)
                self.assertEqual(p.returncode, 1)
                self.assertIn("BAD_REQUEST --name must be printable text", p.stderr)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM merchants"), [(1,)])

    def test_identifiers_with_quotes_are_refused(self):
        for ident in ("m'1", 'm"1', "m;1", "m 1", "-m", "m%", ""):
            with self.subTest(ident=ident):
                p = self.gw.ctl("merchant", "add", ident, "--name", "x", "--category", "shop",
                                check=False)
                self.assertNotEqual(p.returncode, 0)
                if ident and not ident.startswith("-"):  # else yktctl's own usage error
                    self.assertIn("BAD_REQUEST", p.stderr)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM merchants"), [(1,)])


class OversizedImportTest(WalletCase):
    sets = {"import.max_rows": "3", "import.max_bytes": "2k"}

    def test_csv_over_the_row_or_byte_limit_is_refused_whole(self):
        from test_people import STUDENT_HEADER
        rows = "".join("20250101%02d,张%d,男,,CS,CS-1,2025/9/1,4,\n" % (i, i) for i in range(4))
        p = self.gw.ctl("person", "import", self.gw.data_file(STUDENT_HEADER + rows), "--kind",
                        "student", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("LIMIT_EXCEEDED", p.stderr)
        self.assertIn("3", p.stderr)
        big = STUDENT_HEADER + "x" * 3000 + "\n"
        p = self.gw.ctl("person", "import", self.gw.data_file(big), "--kind", "student",
                        check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("LIMIT_EXCEEDED", p.stderr)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM people"), [(0,)])


class CatalogueTest(unittest.TestCase):
    """docs/robustness.md names a proof for every class of bad input; each name must be a
    real test: `file.Class.test` (or `file.*.test`, `file.Class`, `file`) under tests/e2e,
    a bare `test_name` that is a method of some e2e test or a function of a unit test, and
    every tests/unit/*.c and tests/fuzz file it or docs/fuzzing.md names must exist."""

    E2E = os.path.join(SOURCE_DIR, "tests", "e2e")

    def classes(self, module):
        path = os.path.join(self.E2E, module + ".py")
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        return {n.name: {m.name for m in n.body if isinstance(m, ast.FunctionDef)}
                for n in tree.body if isinstance(n, ast.ClassDef)}

    def test_every_proof_named_in_robustness_md_exists(self):
        with open(os.path.join(SOURCE_DIR, "docs", "robustness.md"), encoding="utf-8") as f:
            doc = f.read()
        methods = set()
        for path in glob.glob(os.path.join(self.E2E, "test_*.py")):
            for ms in self.classes(os.path.basename(path)[:-3]).values():
                methods |= ms
        unit = ""
        for path in glob.glob(os.path.join(SOURCE_DIR, "tests", "unit", "*.c")):
            with open(path, encoding="utf-8") as f:
                unit += f.read()
        names = set(re.findall(r"`(test_[A-Za-z0-9_]+(?:\.[A-Za-z0-9_*]+)*)`", doc))
        names |= set(re.findall(r"`(test_[A-Za-z0-9_]+)` \(", doc))
        for group in re.findall(r"\(((?:`test_[A-Za-z0-9_]+`(?:, )?)+)\)", doc):
            names |= set(re.findall(r"`(test_[A-Za-z0-9_]+)`", group))
        self.assertGreater(len(names), 30)
        for name in sorted(names):
            with self.subTest(name=name):
                parts = name.split(".")
                cls = self.classes(parts[0])
                if len(parts) == 1 and cls is None:
                    self.assertTrue(name in methods or
                                    re.search(r"\bstatic void %s\(" % name, unit), name)
                    continue
                self.assertIsNotNone(cls, "no tests/e2e/%s.py" % parts[0])
                if len(parts) == 1:
                    continue
                if parts[1] == "*":
                    self.assertTrue(any(parts[2] in ms for ms in cls.values()), name)
                    continue
                self.assertIn(parts[1], cls, name)
                if len(parts) == 3:
                    self.assertIn(parts[2], cls[parts[1]], name)
        for path in set(re.findall(r"`(tests/unit/[a-z_]+\.c)`", doc)):
            self.assertTrue(os.path.exists(os.path.join(SOURCE_DIR, path)), path)

    def test_every_regression_named_in_fuzzing_md_exists(self):
        with open(os.path.join(SOURCE_DIR, "docs", "fuzzing.md"), encoding="utf-8") as f:
            doc = f.read()
        fuzz = os.path.join(SOURCE_DIR, "tests", "fuzz")
        named = re.findall(r"`regressions/([a-z]+)/([A-Za-z0-9_*-]+)`", doc)
        self.assertTrue(named)
        for target, pattern in named:
            self.assertTrue(glob.glob(os.path.join(fuzz, "regressions", target, pattern)),
                            (target, pattern))
        # and every regression input is in the table
        for path in glob.glob(os.path.join(fuzz, "regressions", "*", "*")):
            name = os.path.basename(path)
            self.assertTrue(name in doc or any(name.startswith(p.rstrip("*"))
                                               for _, p in named if p.endswith("*")), path)
        for target in ("resp", "csv", "ini", "card"):
            self.assertTrue(os.path.exists(os.path.join(fuzz, "fuzz_%s.c" % target)), target)
            self.assertTrue(os.listdir(os.path.join(fuzz, "corpus", target)), target)


if __name__ == "__main__":
    unittest.main()
