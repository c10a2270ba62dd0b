"""The web portal's admin commands (core/src/admin_portal.c, docs/web.md): `portal verify`,
`portal report-loss`, `portal passwd`. The browser drives them in tests/web/run.js; here
their refusals: roles, the card-password lockout (R-C10), unknown logins, audit rows."""

from harness import MASTER_KEY, RespError, table_rows
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

    def test_only_the_superuser(self):
        self.gw.add_operator("op1", "operator", password=PASSWORD)
        c = self.gw.admin()
        c.ok("login", "op1", PASSWORD)
        for args in (("verify", "S1", self.query), ("report-loss", "S1", self.query),
                     ("passwd", "S1", "query", self.query, "135790")):
            self.assertError(c.call("portal", *args), "FORBIDDEN")
        self.assertEqual(self.gw.ctl("card", "show", self.rec["card_no"])["status"], "active")

    def test_report_loss_and_passwd(self):
        a = self.gw.admin()
        self.assertError(a.call("portal", "report-loss", "S1", "000000"), "WRONG_PASSWORD")
        self.assertError(a.call("portal", "passwd", "S1", "query", self.query, "12345"),
                         "BAD_PASSWORD")
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
