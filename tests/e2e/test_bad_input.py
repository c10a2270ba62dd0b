"""The bad-input catalogue (issue 9, docs/robustness.md): amounts that are negative, zero,
fractional, overflowing or not numbers; impossible dates; invalid UTF-8; quotes and
SQL-like strings in text fields. Each gets a clear, specific error and changes nothing —
or, for text that is merely unusual, is stored and shown exactly as given.

The other classes of the catalogue (malformed frames, huge lengths, slow clients, too many
connections, oversized CSV, runaway Lua) have their own tests, named in docs/robustness.md.
"""

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
        return (self.gw.sql("SELECT count(*) FROM transfers"),
                self.gw.sql("SELECT id, balance FROM accounts ORDER BY id"),
                self.gw.sql("SELECT count(*) FROM payments"))

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
        self.assertEqual(self.gw.sql("SELECT count(*) FROM merchants"), before)
        term = self.conns["POS-1"]
        r = term.call("HEALTH", "ok", b"\xff\xfe broken")
        self.assertEqual(str(r).split()[0], "BAD_REQUEST", r)

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


if __name__ == "__main__":
    import unittest
    unittest.main()
