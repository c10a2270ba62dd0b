"""The web portal's admin commands (core/src/admin_portal.c, docs/web.md): `portal verify`,
`portal report-loss`, `portal passwd`. The browser drives them in tests/web/run.js; here
their refusals: roles, the card-password lockout (R-C10), unknown logins, audit rows; the
`portal` role of ykt-web's service account (what it may run, and what it may not); and the
schema migration that brought the role in, on a database of the version before."""

import os
import sqlite3

from harness import (MASTER_KEY, SOURCE_DIR, Gateway, GatewayTest, RespError, migrations_text,
                     table_rows)
from test_wallet import WalletCase
from ykt_cards import SimCard

PASSWORD = "operator-pass-1"


class Portal(WalletCase):
    sets = {"cards.password_max_failures": "3", "cards.password_lock": "2s"}

    def setUp(self):
        super().setUp()
        self.card, self.rec, self.idn = self.holder("S1", topup="50")
        self.query = self.rec["initial_query_password"]

    def verify(self, login, password):
        return self.gw.admin().call("portal", "verify", "--", login, password)

    def test_verify_by_person_or_card_number(self):
        for login in ("S1", self.rec["card_no"]):
            r = table_rows(self.verify(login, self.query))[0]
            self.assertEqual((r["person_no"], r["card_no"], r["card_status"]),
                             ("S1", self.rec["card_no"], "active"))
        audit = self.gw.ctl("audit", "list", "--action", "portal.verify")
        self.assertEqual([a["target"] for a in audit], ["S1", "S1"])

    def test_unknown_login_and_wrong_password_look_the_same(self):
        for login, pw in (("NOBODY", "123456"), ("S1", "000000"), ("S1", "12ab56"),
                          ("8000000000", "123456")):
            r = self.verify(login, pw)
            self.assertError(r, "WRONG_PASSWORD")
            self.assertEqual(r.message, "wrong query password")

    def test_lockout_after_wrong_passwords(self):
        for _ in range(3):
            self.assertError(self.verify("S1", "000000"), "WRONG_PASSWORD")
        self.assertError(self.verify("S1", self.query), "PASSWORD_LOCKED")
        # The kiosk verb shares the lock: it is the card's password, not the portal's.
        kiosk = self.terminal("KIOSK-1", "kiosk")
        r = kiosk.call("CARD.REPORT_LOSS", 1, "S1", self.query)
        self.assertError(r, "PASSWORD_LOCKED")

    def test_only_the_portal_role_and_the_superuser(self):
        self.gw.add_operator("op1", "operator", password=PASSWORD)
        c = self.gw.admin()
        c.ok("login", "op1", PASSWORD)
        for args in (("verify", "S1", self.query), ("report-loss", "S1", self.query),
                     ("passwd", "S1", "query", self.query, "135790")):
            r = c.call("portal", *args)
            self.assertError(r, "FORBIDDEN")
            self.assertIn("needs role superuser, portal; you are operator", r.message)
        self.assertEqual(self.gw.ctl("card", "show", self.rec["card_no"])["status"], "active")

    def portal_client(self):
        """ykt-web's service connection: an operator with role portal."""
        self.gw.add_operator("ykt-web", "portal", password=PASSWORD)
        c = self.gw.admin()
        c.ok("login", "ykt-web", PASSWORD)
        return c

    def test_portal_role_runs_the_holders_commands(self):
        c = self.portal_client()
        who = table_rows(c.call("whoami"))[0]
        self.assertEqual((who["operator"], who["role"]), ("ykt-web", "portal"))
        r = table_rows(c.call("portal", "verify", "--", "S1", self.query))[0]
        self.assertEqual(r["person_no"], "S1")
        # the reads ykt-web makes for a signed-in holder (tools/web/http.c, routes[])
        for args in (("person", "show", "S1"), ("card", "list", "--person", "S1"),
                     ("account", "show", "S1", "--limit", "20"), ("merchant", "list"),
                     ("payment", "search", "--person", "S1"), ("account", "statement", "S1"),
                     ("portal", "account", "S1")):
            with self.subTest(args=args):
                self.assertNotIsInstance(c.call(*args), RespError)
        self.assertEqual(c.call("portal", "report-loss", "S1", self.query), "OK")
        audit = self.gw.ctl("audit", "list", "--operator", "ykt-web")
        self.assertEqual((audit[0]["action"], audit[0]["role"], audit[0]["target"]),
                         ("portal.verify", "portal", "S1"))
        loss = self.gw.ctl("audit", "list", "--action", "card.loss")
        self.assertEqual(loss[0]["operator"], "holder:S1")

    def test_portal_role_is_refused_everything_else(self):
        c = self.portal_client()
        rows = len(self.gw.ctl("audit", "list", "--limit", "1000"))
        for args, cname in (
                (("operator", "add", "evil", "--role", "superuser"), "operator add"),
                (("operator", "reset-password", "ykt-web"), "operator reset-password"),
                (("card", "issue", "S1"), "card issue"),
                (("card", "loss", self.rec["card_no"]), "card loss"),
                (("payment", "refund", "1", "--amount", "1", "--reason", "x"), "payment refund"),
                (("account", "topup", "S1", "--amount", "10"), "account topup"),
                (("backup", os.path.join(self.gw.dir, "copy.db")), "backup"),
                (("terminal", "add", "X1", "--type", "pos"), "terminal add"),
                (("audit", "list"), "audit list"),
                (("operator", "list"), "operator list"),
                (("person", "reveal", "S1"), "person reveal"),
                (("rules", "reload"), "rules reload")):
            with self.subTest(args=args):
                r = c.call(*args)
                self.assertError(r, "FORBIDDEN")
                self.assertIn("'%s' needs role" % cname, r.message)
                self.assertTrue(r.message.endswith("you are portal"), r.message)
        self.assertFalse(os.path.exists(os.path.join(self.gw.dir, "copy.db")))
        self.assertEqual([o["operator"] for o in self.gw.ctl("operator", "list")], ["ykt-web"])
        self.assertEqual(self.gw.ctl("card", "show", self.rec["card_no"])["status"], "active")
        self.assertEqual(len(self.gw.ctl("audit", "list", "--limit", "1000")), rows)
        # The service account has no pages of its own: ykt-web refuses its staff sign-in
        # (tests/web/run.js); yktd lets it change its own password.
        self.assertEqual(c.call("passwd", PASSWORD, "operator-pass-2"), "OK")

    def test_report_loss_and_passwd(self):
        a = self.gw.admin()
        self.assertError(a.call("portal", "report-loss", "S1", "000000"), "WRONG_PASSWORD")
        self.assertError(a.call("portal", "passwd", "S1", "query", self.query, "12345"),
                         "BAD_PASSWORD")
        # a wrong old password is a wrong try whatever the new one looks like
        self.assertError(a.call("portal", "passwd", "S1", "query", "000000", "12345"),
                         "WRONG_PASSWORD")
        self.assertEqual(self.gw.sql("SELECT failures FROM passwords WHERE which = 'query'"),
                         [(1,)])
        self.assertEqual(a.call("portal", "passwd", "S1", "query", self.query, "135790"), "OK")
        self.assertError(self.verify("S1", self.query), "WRONG_PASSWORD")
        self.assertEqual(a.call("portal", "report-loss", "S1", "135790"), "OK")
        self.assertEqual(a.call("portal", "report-loss", "S1", "135790"),
                         "OK already reported lost")
        self.assertEqual(self.gw.ctl("card", "show", self.rec["card_no"])["status"], "lost")
        self.terminal("POS-1", "pos")
        self.merchant("canteen-1")
        self.assertError(self.pay(SimCard(MASTER_KEY, uid=self.rec["uid"]), 100), "CARD_LOST")
        actions = {(x["action"], x["operator"]) for x in self.gw.ctl("audit", "list")}
        self.assertIn(("card.loss", "holder:S1"), actions)
        self.assertIn(("portal.passwd", "local:root"), actions)
        r = a.call("portal", "passwd", "S1", "pay", "000000", "246810")
        self.assertIsInstance(r, RespError)
        self.assertEqual(r.code, "BAD_PIN")

    def test_account_and_settings(self):
        a = self.gw.admin()
        pay_pw = self.rec["initial_pay_password"]
        before = table_rows(a.call("portal", "account", "S1"))[0]
        self.assertEqual(before["daily_limit"], before["daily_limit_default"])
        self.assertIsNone(before["autotopup_below"])
        self.assertError(a.call("portal", "settings", "S1", "000000", "--daily", "10"), "BAD_PIN")
        self.assertError(a.call("portal", "settings", "S1", pay_pw), "BAD_REQUEST")
        self.assertError(a.call("portal", "settings", "S1", pay_pw, "--daily", "100000"),
                         "LIMIT_EXCEEDED")
        self.assertError(a.call("portal", "settings", "S1", pay_pw, "--autotopup-below", "5"),
                         "BAD_REQUEST")
        self.assertEqual(a.call("portal", "settings", "S1", pay_pw, "--daily", "10",
                                "--autotopup-below", "5", "--autotopup-amount", "50"), "OK")
        after = table_rows(a.call("portal", "account", "S1"))[0]
        self.assertEqual((after["daily_limit"], after["autotopup_below"],
                          after["autotopup_amount"]), ("10.00", "5.00", "50.00"))
        self.assertEqual(a.call("portal", "settings", "S1", pay_pw, "--daily", "default",
                                "--autotopup-below", "off"), "OK")
        again = table_rows(a.call("portal", "account", "S1"))[0]
        self.assertEqual((again["daily_limit"], again["autotopup_below"]),
                         (before["daily_limit"], None))
        audit = self.gw.ctl("audit", "list", "--action", "portal.settings")
        self.assertEqual([x["target"] for x in audit], ["S1", "S1"])
        self.gw.add_operator("op2", "operator", password=PASSWORD)
        c = self.gw.admin()
        c.ok("login", "op2", PASSWORD)
        self.assertError(c.call("portal", "account", "S1"), "FORBIDDEN")
        self.assertError(c.call("portal", "settings", "S1", pay_pw, "--daily", "10"), "FORBIDDEN")


class PortalRoleMigration(GatewayTest):
    """Schema version 5 rebuilds the operators table for the role portal; a database of
    version 4 with operators, a guardian link and audit rows keeps all of them."""

    def setUp(self):
        self.gw = Gateway(start=False)
        self.addCleanup(self.gw.cleanup)

    def test_version_4_database_migrates(self):
        migs = migrations_text()
        self.assertGreaterEqual(len(migs), 5)
        con = sqlite3.connect(self.gw.db, isolation_level=None)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA foreign_keys = ON")
        for v, sql in enumerate(migs[:4], 1):
            con.executescript("BEGIN IMMEDIATE;%sPRAGMA user_version = %d;COMMIT;" % (sql, v))
        con.execute("INSERT INTO operators (name, role, department, password_hash, status,"
                    " must_change_password, failed_logins, locked_until, created_at) VALUES"
                    " ('mum', 'guardian', '', 'x', 'active', 0, 2, 0, 1),"
                    " ('head', 'dept_head', 'CS', 'y', 'disabled', 1, 0, 0, 2)")
        con.execute("INSERT INTO people (person_no, kind, name, gender, id_number, department,"
                    " valid_until, validity_source, created_at, updated_at) VALUES"
                    " ('S1', 'student', '张三', 'M', '110105200503070019', 'CS', '2030-07-31',"
                    " 'study_length', 1, 1)")
        con.execute("INSERT INTO guardians (operator, person_id) VALUES ('mum', 1)")
        con.execute("INSERT INTO audit (at, operator, role, action) VALUES"
                    " (1, 'mum', 'guardian', 'operator.passwd')")
        with self.assertRaises(sqlite3.IntegrityError):  # version 4 knows no portal role
            con.execute("INSERT INTO operators (name, role, password_hash, created_at)"
                        " VALUES ('w', 'portal', 'z', 3)")
        before = con.execute("SELECT * FROM operators ORDER BY name").fetchall()
        con.close()

        self.gw.start()
        self.assertEqual(self.gw.sql("PRAGMA user_version"), [(len(migs),)])
        self.assertIn("migrated %s to schema version %d" % (self.gw.db, len(migs)),
                      self.gw.log_text())
        self.assertEqual(self.gw.sql("SELECT * FROM operators ORDER BY name"), before)
        self.assertEqual(self.gw.sql("SELECT operator, person_id FROM guardians"), [("mum", 1)])
        self.assertEqual(self.gw.sql("PRAGMA foreign_key_check"), [])
        self.assertEqual(self.gw.sql("PRAGMA integrity_check"), [("ok",)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_master WHERE name LIKE "
                                     "'%_new' OR name LIKE '%_kept'"), [(0,)])
        self.gw.add_operator("ykt-web", "portal")
        self.assertEqual(self.gw.ctl("operator", "list")[-1]["role"], "portal")
        # the foreign keys still hold on the rebuilt table
        con = sqlite3.connect(self.gw.db, timeout=10, isolation_level=None)
        con.execute("PRAGMA foreign_keys = ON")
        with self.assertRaises(sqlite3.IntegrityError):
            con.execute("DELETE FROM operators WHERE name = 'mum'")
        with self.assertRaises(sqlite3.IntegrityError):
            con.execute("INSERT INTO guardians (operator, person_id) VALUES ('nobody', 1)")
        con.close()
        self.assertEqual([a["action"] for a in self.gw.ctl("audit", "list")][-1],
                         "operator.passwd")
