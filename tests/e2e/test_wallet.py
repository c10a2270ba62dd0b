"""The wallet end to end (R-W1..R-W11, R-C10): payments at POS terminals with the PIN threshold,
per-payment and daily limits, the merchants' fee rule, card status, replays and (terminal, seq)
idempotency; holds with capture, void and timeout; over-deduction refunds; counter and kiosk
top-ups with the low-balance reminder and the automatic top-up request; merchant settlement;
statements, transaction search and guardians; offline uploads with debt and flags; and the
ledger audit, which must be clean after every test and must fail on a tampered ledger.

Every test starts the real yktd: RESP on the terminal port with software cards (ykt_cards.SimCard)
and yktctl on the admin socket. Amounts are checked to the fen.
"""

import csv
import datetime
import io
import json
import socket
import sqlite3
import struct
import time

from harness import (MASTER_KEY, Gateway, GatewayTest, RespError, encode, migrations_text,
                     prc_id, table_rows, wait_until)
from ykt_cards import SimCard

AUDIT_CHECKS = {"sum_zero", "balances_match_transfers", "no_negative_wallet",
                "refunds_within_original", "idempotency_once", "holds_resolved_once",
                "transfers_positive", "payment_chains", "references"}
DAY_MS = 86400000


def campus_today():
    """Today in the campus time zone (Asia/Shanghai, UTC+8, no daylight saving)."""
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()


def campus_day_start_ms(day):
    """The first millisecond of a campus date (UTC+8), as the gateway's --from reads it."""
    midnight = datetime.datetime.combine(day, datetime.time(),
                                         tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    return int(midnight.timestamp() * 1000)


def now_ms():
    return int(time.time() * 1000)


def yuan(fen):
    """Fen as the gateway prints CNY: 1234 -> '12.34'."""
    sign = "-" if fen < 0 else ""
    return "%s%d.%02d" % (sign, abs(fen) // 100, abs(fen) % 100)


def fen(text):
    """'12.34' -> 1234, '-0.05' -> -5."""
    neg = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    v = int(whole) * 100 + int((frac + "00")[:2])
    return -v if neg else v


def other_password(pw):
    return "%06d" % ((int(pw) + 1) % 1000000)


class WalletCase(GatewayTest):
    """A gateway with helpers for merchants, terminals, holders and swipes. tearDown proves
    the ledger with `yktctl audit`: the audit must be clean after every test."""

    def setUp(self):
        super().setUp()
        self.secrets = {}
        self.conns = {}
        self.seqs = {}
        self.people = 0

    def tearDown(self):
        if self.gw.proc is not None and self.gw.proc.poll() is None:
            self.assertAuditClean()
        super().tearDown()

    # ---- the audit ----

    def run_audit(self):
        """yktctl audit -> (exit status, {check: row}, stderr)."""
        p = self.gw.ctl("audit", check=False)
        rows = json.loads(p.stdout) if p.stdout.strip() else []
        return p.returncode, {r["check"]: r for r in rows}, p.stderr

    def assertAuditClean(self):
        rc, checks, err = self.run_audit()
        bad = {k: v for k, v in checks.items() if v["result"] != "ok"}
        self.assertEqual((rc, bad), (0, {}), "yktctl audit is not clean: %s %s" % (bad, err))
        self.assertTrue(AUDIT_CHECKS <= set(checks), sorted(checks))
        self.assertEqual(self.gw.sql("SELECT coalesce(sum(balance), 0) FROM accounts"), [(0,)])

    # ---- merchants and terminals ----

    def merchant(self, mid, category="canteen", *opts):
        self.gw.ctl("merchant", "add", mid, "--name", mid.upper(), "--category", category, *opts)

    def terminal(self, tid, ttype="pos", owner="canteen-1"):
        """Registers a terminal (POS-like ones owned by `owner`) and connects it."""
        args = ["terminal", "add", tid, "--type", ttype]
        if owner and ttype in ("pos", "dispenser", "booking"):
            args += ["--owner", owner]
        self.secrets[tid] = self.gw.ctl(*args)["secret"]
        self.conns[tid] = self.gw.terminal(tid, self.secrets[tid])
        return self.conns[tid]

    def next_seq(self, tid):
        self.seqs[tid] = self.seqs.get(tid, 0) + 1
        return self.seqs[tid]

    def signed(self, card, tid, verb, amount=0, *extra, seq=None, **kw):
        """The RESP arguments of a card verb, signed by the card (nothing is sent)."""
        return card.swipe(tid, seq if seq is not None else self.next_seq(tid), verb,
                          amount=amount, extra=extra, **kw)

    def send(self, tid, args):
        return self.conns[tid].call(*args)

    def swipe(self, card, tid, verb, amount=0, *extra, **kw):
        return self.send(tid, self.signed(card, tid, verb, amount, *extra, **kw))

    def pay(self, card, amount, pin=None, tid="POS-1", **kw):
        extra = (pin,) if pin is not None else ()
        return self.swipe(card, tid, "PAY", amount, *extra, **kw)

    def hold(self, card, amount, tid="DISP-1", pin=None):
        extra = (pin,) if pin is not None else ()
        return self.swipe(card, tid, "HOLD", amount, *extra)

    def capture(self, hold_id, amount, tid="DISP-1"):
        return self.conns[tid].call("CAPTURE", self.next_seq(tid), hold_id, amount)

    def void(self, hold_id, tid="DISP-1"):
        return self.conns[tid].call("VOID", self.next_seq(tid), hold_id)

    def offline(self, card, amount, time_ms, tid="POS-OFF", seq=None, atc=None):
        """An offline sale as the terminal made it (the card signs a PAY), ready to upload."""
        args = self.signed(card, tid, "PAY", amount, seq=seq, time_ms=time_ms, atc=atc)
        args[0] = "PAY.OFFLINE"
        return args

    # ---- people and cards ----

    def person(self, no, kind="student", department="CS", until=None, enrolled="2025-09-01"):
        self.people += 1
        idn = prc_id("110105" + "20050307" + "%03d" % self.people)
        args = ["person", "add", no, "--kind", kind, "--name", "张三", "--gender", "M",
                "--id-number", idn, "--department", department, "--phone", "13812345678"]
        if kind == "student":
            args += ["--class", department + "-2025-1", "--enrolled", enrolled,
                     "--study-years", "4"]
        else:
            args += ["--valid-until", until]
        self.gw.ctl(*args)
        return idn

    def holder(self, no, topup=None, **kw):
        """A student with a card and, optionally, a cash top-up: (SimCard, record, ID number)."""
        idn = self.person(no, **kw)
        rec = self.gw.ctl("card", "issue", no)
        card = SimCard(MASTER_KEY, uid=rec["uid"])
        if topup:
            self.topup(no, topup)
        return card, rec, idn

    def temporary_holder(self, no, topup=None, *issue_opts):
        today = campus_today()
        self.person(no, kind="temporary", department="国际交流处",
                    until=(today + datetime.timedelta(days=90)).isoformat())
        self.gw.ctl("approval", "add", no, "--kind", "unit_leader", "--approver", "王主任",
                    "--ref", "HR-%s-U" % no)
        self.gw.ctl("approval", "add", no, "--kind", "functional_dept", "--approver", "人事处",
                    "--ref", "HR-%s-F" % no)
        rec = self.gw.ctl("card", "issue", no, "--type", "temporary", "--until",
                          (today + datetime.timedelta(days=30)).isoformat(), *issue_opts)
        self.assertEqual(rec["type"], "temporary")
        if topup:
            self.topup(no, topup)
        return SimCard(MASTER_KEY, uid=rec["uid"]), rec

    def topup(self, no, amount, *opts):
        return self.gw.ctl("account", "topup", no, "--amount", amount, *opts)["balance_fen"]

    # ---- reading the books ----

    def person_id(self, no):
        return self.gw.sql("SELECT id FROM people WHERE person_no = ?", no)[0][0]

    def balance(self, no):
        rows = self.gw.sql("SELECT balance FROM accounts WHERE kind = 'wallet' AND owner = ?",
                           str(self.person_id(no)))
        return rows[0][0] if rows else 0

    def account(self, kind, owner=""):
        rows = self.gw.sql("SELECT balance FROM accounts WHERE kind = ? AND owner = ?", kind,
                           owner)
        return rows[0][0] if rows else 0

    def payments(self, no=None):
        """(amount, discount, fee, charged, refunded, offline, flag) of a holder's payments."""
        q = ("SELECT amount, discount, fee, charged, refunded, offline, flag FROM payments "
             "WHERE (? IS NULL OR person_id = ?) ORDER BY id")
        pid = self.person_id(no) if no else None
        return self.gw.sql(q, pid, pid)

    def spent_today(self, no):
        rows = self.gw.sql("SELECT amount FROM daily_spend WHERE person_id = ? AND day = ?",
                           self.person_id(no), campus_today().isoformat())
        return rows[0][0] if rows else 0

    def snapshot(self, no):
        """Everything a refused payment must leave alone."""
        return (self.balance(no), self.payments(no), self.spent_today(no),
                self.gw.sql("SELECT count(*) FROM transfers")[0][0],
                self.gw.sql("SELECT count(*) FROM holds")[0][0])

    def notices(self, no, kind=None):
        args = ["notice", "list", "--person", no] + (["--kind", kind] if kind else [])
        return self.gw.ctl(*args)

    # ---- assertions ----

    def assertRefused(self, p, code):
        self.assertEqual(p.returncode, 1, "expected %s, got %d: %r %r"
                         % (code, p.returncode, p.stdout, p.stderr))
        self.assertTrue(p.stderr.startswith("yktctl: %s " % code), p.stderr)

    def ctl_fails(self, code, *args, **kw):
        p = self.gw.ctl(*args, check=False, **kw)
        self.assertRefused(p, code)
        return p.stderr

    def assertPaid(self, reply, charged, balance):
        """A PAY reply [payment_id, charged_fen, balance_fen]; returns the payment id."""
        self.assertIsInstance(reply, list, reply)
        self.assertEqual(reply[1:], [charged, balance], reply)
        self.assertIsInstance(reply[0], int)
        return reply[0]

    # ---- time passing behind the gateway's back ----

    def with_stopped_gateway(self, *statements):
        """Stops yktd, runs SQL on its database, starts it again (new terminal connections)."""
        self.assertEqual(self.gw.stop(), 0)
        con = sqlite3.connect(self.gw.db)
        try:
            for st in statements:
                if callable(st):
                    st(con)
                else:
                    con.execute(st)
            con.commit()
        finally:
            con.close()
        self.gw.start()
        for tid in list(self.conns):
            self.conns[tid] = self.gw.terminal(tid, self.secrets[tid])

    def move_back(self, con, days=1):
        """Days pass: every movement and record happened `days` days earlier. Transfers
        are immutable (a trigger), so the trigger is lifted for this and put back as it was."""
        trigger = con.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND "
                              "name = 'transfers_no_update'").fetchone()[0]
        con.execute("DROP TRIGGER transfers_no_update")
        con.execute("UPDATE transfers SET at = at - ?", (days * DAY_MS,))
        con.execute(trigger)
        for table in ("payments", "refunds", "holds", "settlements"):
            con.execute("UPDATE %s SET at = at - ?" % table, (days * DAY_MS,))

    def days_pass(self, days):
        self.with_stopped_gateway(lambda con: self.move_back(con, days))


# ---- payments: PIN, limits, fees (R-W1, R-W2, R-W4, R-C10) ------------------------------------


class PaymentRulesTest(WalletCase):
    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")

    def test_pin_threshold_is_inclusive_and_wrong_pins_lock(self):
        card, rec, _ = self.holder("S1", "1000.00")
        self.gw.ctl("account", "limit", "S1", "--daily", "1000", "--ref", "APP-PIN")
        pin = rec["initial_pay_password"]
        wrong = other_password(pin)
        # 199.99 CNY needs no payment password
        self.assertPaid(self.pay(card, 19999), 19999, 80001)
        # 200.00 CNY exactly does (第二十六条: 200 元以上, inclusive)
        before = self.snapshot("S1")
        r = self.pay(card, 20000)
        self.assertError(r, "PIN_REQUIRED")
        self.assertIn("200.00", r.message)
        self.assertError(self.pay(card, 20000, pin=wrong), "BAD_PIN")
        self.assertError(self.pay(card, 20000, pin="12345"), "BAD_PIN")  # not 6 digits
        # a PIN sent below the threshold is checked as well
        self.assertError(self.pay(card, 500, pin=wrong), "BAD_PIN")
        self.assertEqual(self.snapshot("S1"), before)
        # the initial payment password printed by `card issue` pays (and resets the count)
        self.assertPaid(self.pay(card, 20000, pin=pin), 20000, 60001)
        # five wrong tries in a row lock the password; then even the right one is refused
        for i in range(5):
            r = self.pay(card, 20000, pin=wrong)
            self.assertError(r, "BAD_PIN")
        self.assertIn("locked", r.message)
        before = self.snapshot("S1")
        self.assertError(self.pay(card, 20000, pin=pin), "PASSWORD_LOCKED")
        self.assertError(self.hold(card, 20000, tid="POS-1", pin=pin), "PASSWORD_LOCKED")
        self.assertEqual(self.snapshot("S1"), before)
        # payments below the threshold need no password and still work
        self.assertPaid(self.pay(card, 100), 100, 59901)
        self.assertEqual([p[3] for p in self.payments("S1")], [19999, 20000, 100])

    def test_daily_limit_by_card_type_raised_on_application(self):
        card, rec, _ = self.holder("S1", "1000.00")
        self.assertPaid(self.pay(card, 15000), 15000, 85000)
        self.assertPaid(self.pay(card, 15000), 15000, 70000)  # 300.00 CNY today: at the limit
        self.assertEqual(self.spent_today("S1"), 30000)
        before = self.snapshot("S1")
        r = self.pay(card, 1)
        self.assertError(r, "LIMIT_EXCEEDED")
        self.assertIn("300.00", r.message)
        self.assertEqual(self.snapshot("S1"), before)  # a refusal changes nothing
        # the holder applies for a higher limit (R-W2)
        self.ctl_fails("BAD_REQUEST", "account", "limit", "S1", "--daily", "lots", "--ref", "X")
        # raised only on an application, which the card centre records
        self.ctl_fails("BAD_REQUEST", "account", "limit", "S1", "--daily", "600")
        self.assertError(self.pay(card, 1), "LIMIT_EXCEEDED")
        self.gw.ctl("account", "limit", "S1", "--daily", "600", "--ref", "APP-1")
        audit = self.gw.ctl("audit", "list", "--action", "account.limit")
        self.assertEqual(audit[0]["target"], "S1")
        self.assertIn("60000", audit[0]["detail"])
        self.assertIn("APP-1", audit[0]["detail"])
        self.assertPaid(self.pay(card, 25000, pin=rec["initial_pay_password"]), 25000, 45000)
        before = self.snapshot("S1")
        self.assertError(self.pay(card, 5001), "LIMIT_EXCEEDED")  # 600.01
        self.assertEqual(self.snapshot("S1"), before)
        self.assertPaid(self.pay(card, 5000), 5000, 40000)  # exactly 600.00
        self.assertEqual(self.spent_today("S1"), 60000)
        # back to the card type's default
        self.gw.ctl("account", "limit", "S1", "--daily", "default")  # no application needed
        self.assertError(self.pay(card, 1), "LIMIT_EXCEEDED")

    def test_per_payment_limit(self):
        card, rec, _ = self.holder("S2", "1000.00")
        self.gw.ctl("account", "limit", "S2", "--daily", "2000", "--ref", "APP-2")
        pin = rec["initial_pay_password"]
        before = self.snapshot("S2")
        r = self.pay(card, 50001, pin=pin)
        self.assertError(r, "LIMIT_EXCEEDED")
        self.assertIn("500.00", r.message)  # [wallet] max_payment
        self.assertEqual(self.snapshot("S2"), before)
        self.assertPaid(self.pay(card, 50000, pin=pin), 50000, 50000)

    def test_temporary_card_daily_limit_and_no_overdraft(self):
        tcard, _ = self.temporary_holder("V1", "150.00")
        self.assertPaid(self.pay(tcard, 10000), 10000, 5000)  # 100.00 CNY: the temporary limit
        before = self.snapshot("V1")
        r = self.pay(tcard, 1)
        self.assertError(r, "LIMIT_EXCEEDED")
        self.assertIn("100.00", r.message)
        self.assertEqual(self.snapshot("V1"), before)
        # R-W1: never below zero online
        card, _, _ = self.holder("S1", "5.00")
        before = self.snapshot("S1")
        self.assertError(self.pay(card, 501), "INSUFFICIENT_FUNDS")
        self.assertEqual(self.snapshot("S1"), before)
        self.assertPaid(self.pay(card, 500), 500, 0)
        self.assertError(self.pay(card, 1), "INSUFFICIENT_FUNDS")
        self.assertEqual(self.balance("S1"), 0)

    def test_fee_rule_discount_and_management_fee_by_card_type(self):
        self.merchant("canteen-2", "canteen", "--fee-temporary", "10", "--discount", "5")
        self.terminal("POS-2", owner="canteen-2")
        card, _, _ = self.holder("S1", "200.00")
        tcard, _ = self.temporary_holder("V1", "150.00")
        # a regular card: the discount only (5% of 100.00)
        self.assertPaid(self.pay(card, 10000, tid="POS-2"), 9500, 10500)
        # a temporary card: 33.33 - 5% (1.66, floor) = 31.67; fee 10% of it = 3.16 (floor)
        self.assertPaid(self.pay(tcard, 3333, tid="POS-2"), 3483, 11517)
        # 50.00 - 2.50 = 47.50 + 4.75
        self.assertPaid(self.pay(tcard, 5000, tid="POS-2"), 5225, 6292)
        self.assertEqual(self.payments("S1"), [(10000, 500, 0, 9500, 0, 0, "")])
        self.assertEqual(self.payments("V1"), [(3333, 166, 316, 3483, 0, 0, ""),
                                               (5000, 250, 475, 5225, 0, 0, "")])
        # the merchant gets what the holder paid less the fee; fee income gets the fee
        self.assertEqual(self.account("merchant", "canteen-2"), 9500 + 3167 + 4750)
        self.assertEqual(self.account("fee_income"), 316 + 475)
        vcard_no = self.gw.sql("SELECT card_no FROM cards WHERE uid = ?", tcard.uid_hex)[0][0]
        self.assertEqual(self.gw.sql("SELECT kind, amount, memo FROM transfers WHERE card_no = ? "
                                     "AND kind IN ('pay', 'mgmt_fee') ORDER BY id", vcard_no),
                         [("pay", 3167, "canteen-2"), ("mgmt_fee", 316, "canteen-2"),
                          ("pay", 4750, "canteen-2"), ("mgmt_fee", 475, "canteen-2")])
        show = self.gw.ctl("merchant", "show", "canteen-2")
        self.assertEqual((show["discount"], show["fee_temporary"], show["payable"]),
                         ("5.00%", "10.00%", yuan(17417)))
        # the daily limit counts what is charged: 87.08 spent, 12.92 left; 12.50 charges 13.06
        self.assertEqual(self.spent_today("V1"), 8708)
        before = self.snapshot("V1")
        self.assertError(self.pay(tcard, 1250, tid="POS-2"), "LIMIT_EXCEEDED")
        self.assertEqual(self.snapshot("V1"), before)
        # no fee at a merchant without one
        self.assertPaid(self.pay(tcard, 1000), 1000, 5292)

    def test_merchant_refusals(self):
        self.merchant("shop-1", "shop")
        self.terminal("POS-3", owner="shop-1")
        self.terminal("POS-9", owner=None)
        card, _, _ = self.holder("S1", "50.00")
        tcard, _ = self.temporary_holder("V1", "50.00", "--merchants", "canteen-1")
        # a temporary card limited to some merchants (R-C2)
        self.assertError(self.pay(tcard, 100, tid="POS-3"), "NOT_ALLOWED")
        self.assertPaid(self.pay(tcard, 100), 100, 4900)
        # a suspended merchant sells nothing
        self.gw.ctl("merchant", "update", "shop-1", "--status", "suspended")
        self.assertError(self.pay(card, 100, tid="POS-3"), "MERCHANT_SUSPENDED")
        self.gw.ctl("merchant", "update", "shop-1", "--status", "active")
        self.assertPaid(self.pay(card, 100, tid="POS-3"), 100, 4900)
        # a POS that sells for nobody
        self.assertError(self.pay(card, 100, tid="POS-9"), "NO_MERCHANT")
        self.assertEqual(self.balance("S1"), 4900)
        self.ctl_fails("BAD_REQUEST", "merchant", "add", "x-1", "--name", "X", "--fee-regular",
                       "101")
        self.ctl_fails("EXISTS", "merchant", "add", "shop-1", "--name", "again")


# ---- card status, replays and idempotency (R-C4, R-C12) ---------------------------------------


class CardStatusAndReplayTest(WalletCase):
    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")
        self.terminal("DISP-1", "dispenser")
        self.terminal("KIOSK-1", "kiosk")

    def test_lost_expired_and_cancelled_cards_are_refused(self):
        lost, lrec, lidn = self.holder("S1", "50.00")
        old, orec, _ = self.holder("S2", "50.00")
        gone, grec, gidn = self.holder("S3", "50.00")
        self.gw.ctl("card", "loss", lrec["card_no"], "--id-number", lidn)
        self.gw.ctl("person", "update", "S2", "--enrolled", "2020-09-01")  # ended 2024-07-31
        self.gw.ctl("card", "cancel", grec["card_no"], "--id-number", gidn, "--reason", "leaving")
        cases = [(lost, "S1", lrec, "CARD_LOST", 5000), (old, "S2", orec, "CARD_EXPIRED", 5000),
                 (gone, "S3", grec, "CARD_CANCELLED", 0)]
        for card, no, rec, code, balance in cases:
            with self.subTest(code=code):
                before = self.snapshot(no)
                self.assertEqual(before[0], balance)
                self.assertError(self.pay(card, 100), code)
                self.assertError(self.hold(card, 100), code)
                self.assertError(self.swipe(card, "KIOSK-1", "TOPUP", 100), code)
                self.ctl_fails(code, "account", "topup", no, "--amount", "1.00")
                self.assertEqual(self.snapshot(no), before)
                refused = [h["detail"] for h in self.gw.ctl("card", "history", rec["card_no"])
                           if h["event"] == "refused_use"]
                for verb in ("PAY", "HOLD", "TOPUP"):
                    self.assertTrue(any(d.startswith(verb + " refused") for d in refused),
                                    (verb, refused))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(0,)])

    def test_replay_retry_and_reused_seq(self):
        card, rec, _ = self.holder("S1", "100.00")
        args = self.signed(card, "POS-1", "PAY", 1234)
        first = self.send("POS-1", args)
        self.assertPaid(first, 1234, 8766)
        # the same bytes again (a lost reply), also on a new connection: the first reply
        self.assertEqual(self.send("POS-1", args), first)
        self.assertEqual(self.gw.terminal("POS-1", self.secrets["POS-1"]).call(*args), first)
        self.assertEqual(self.balance("S1"), 8766)
        self.assertEqual(len(self.payments("S1")), 1)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM transfers WHERE kind = 'pay'"), [(1,)])
        # the same seq for another amount
        before = self.snapshot("S1")
        reused = card.swipe("POS-1", int(args[1]), "PAY", amount=1235)
        self.assertError(self.send("POS-1", reused), "SEQ_REUSED")
        # a replayed swipe: the old ATC under a new seq
        self.assertError(self.pay(card, 1234, atc=int(args[3])), "REPLAY")
        self.assertError(self.pay(card, 1234, atc=1), "REPLAY")
        self.assertEqual(self.snapshot("S1"), before)
        atc = self.gw.ctl("card", "show", rec["card_no"])["last_atc"]
        # a refusal is kept too: its retry gets the same refusal, and the ATC stays
        refused = self.signed(card, "POS-1", "PAY", 20000)
        r1 = self.send("POS-1", refused)
        self.assertError(r1, "PIN_REQUIRED")
        self.assertEqual(self.send("POS-1", refused).line, r1.line)
        self.assertEqual(self.gw.ctl("card", "show", rec["card_no"])["last_atc"], atc)
        self.assertEqual(self.snapshot("S1"), before)
        # the next honest swipe pays
        self.assertPaid(self.pay(card, 66), 66, 8700)
        self.assertEqual(self.gw.ctl("card", "show", rec["card_no"])["last_atc"], card.atc)

    def test_a_copy_sent_while_the_pin_is_checked_pays_nothing_more(self):
        # A payment with a PIN waits for its password check beside the loop; the same bytes
        # sent meanwhile on a second connection of the terminal find no kept outcome yet.
        # The copy is answered IN_PROGRESS (or, if the first has landed, with its reply),
        # and keeps nothing: run, it would have been refused (the card's ATC is taken) and
        # its refusal kept as the outcome every later retry of the payment got.
        card, rec, _ = self.holder("S1", "1000.00")
        self.gw.ctl("account", "limit", "S1", "--daily", "1000", "--ref", "APP-COPY")
        pin = rec["initial_pay_password"]
        second = self.gw.terminal("POS-1", self.secrets["POS-1"])
        first = self.conns["POS-1"]
        for i in range(1, 5):
            args = self.signed(card, "POS-1", "PAY", 20000, pin)
            first.send_raw(encode(*args))
            second.send_raw(encode(*args))
            replies = [first.read(), second.read()]
            # either connection may be served first: one pays, the other gets that reply
            # or IN_PROGRESS
            paid = [r for r in replies if not isinstance(r, RespError)]
            self.assertTrue(paid, replies)
            r1 = paid[0]
            self.assertPaid(r1, 20000, 100000 - 20000 * i)
            for r in replies:
                self.assertTrue(r == r1 or (isinstance(r, RespError) and
                                            r.code == "IN_PROGRESS"), replies)
            self.assertEqual(self.balance("S1"), 100000 - 20000 * i)
            self.assertEqual(len(self.payments("S1")), i)
            # a retry after both gets the first reply
            self.assertEqual(self.send("POS-1", args), r1)


    def test_a_payment_whose_outcome_cannot_be_kept_is_undone(self):
        # Kept without its outcome, a payment would be run again by its retry (or refused
        # REPLAY by the card's ATC, though paid: a terminal whose reply was lost would take
        # a payment made for one refused). A failure to keep it (injected here by a trigger)
        # undoes the payment and answers STORAGE_ERROR, which is not kept.
        card, rec, _ = self.holder("S1", "1000.00")
        self.gw.ctl("account", "limit", "S1", "--daily", "1000", "--ref", "APP-FAIL")
        pin = rec["initial_pay_password"]

        def failing(args, balance, npayments, message):
            self.gw.sql_write("CREATE TRIGGER fail_outcome BEFORE INSERT ON terminal_requests "
                              "WHEN NEW.seq = %d BEGIN SELECT RAISE(ABORT, 'injected'); END"
                              % int(args[1]))
            r = self.send("POS-1", args)
            self.assertError(r, "STORAGE_ERROR")
            self.assertIn(message, r.message)
            self.gw.sql_write("DROP TRIGGER fail_outcome")
            self.assertEqual(self.balance("S1"), balance)
            self.assertEqual(len(self.payments("S1")), npayments)

        # without a PIN a PAY has no savepoint of its own (YKT_VERB_UNGUARDED): failing
        # after it wrote, it takes its whole batch with it, the card's ATC too; the retry of
        # the same bytes pays, once
        args = self.signed(card, "POS-1", "PAY", 1500)
        failing(args, 100000, 0, "nothing was applied")
        r = self.send("POS-1", args)
        self.assertPaid(r, 1500, 98500)
        self.assertEqual(self.send("POS-1", args), r)
        # with a PIN the card was checked (its ATC kept) before the payment waited for the
        # password check: the card knows which request advanced its ATC (schema 14), so the
        # retry of the same bytes passes the card check once more and pays, once
        args = self.signed(card, "POS-1", "PAY", 20000, pin)
        failing(args, 98500, 1, "could not be kept; it was undone")
        r = self.send("POS-1", args)
        self.assertPaid(r, 20000, 78500)
        self.assertEqual(self.send("POS-1", args), r)
        self.assertEqual(len(self.payments("S1")), 2)


class UnguardedPaymentTest(WalletCase):
    """A PAY runs without a savepoint of its own: every refusal comes before its first write
    (the card's ATC is taken once it will pay), and one that fails after writing undoes
    its whole batch."""

    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")

    def test_refusals_write_nothing_and_keep_their_outcome(self):
        card, rec, _ = self.holder("S1", "10.00")
        newcomer, nrec, _ = self.holder("S2")
        poor, prec, _ = self.holder("S3", "1.00")
        self.gw.ctl("account", "limit", "S1", "--daily", "5.00", "--ref", "APP-1")
        # a holder whose wallet was never made (issuing a card makes one): a PAY finds it
        # missing and must not make it before it refuses
        self.with_stopped_gateway("DELETE FROM accounts WHERE kind = 'wallet' AND owner = '%d'"
                                  % self.person_id("S2"))
        before = self.gw.sql("SELECT count(*) FROM accounts")
        cases = [(poor, 200, "INSUFFICIENT_FUNDS"), (card, 600, "LIMIT_EXCEEDED"),
                 (card, 20000, "PIN_REQUIRED"), (newcomer, 100, "INSUFFICIENT_FUNDS")]
        for c, amount, code in cases:
            with self.subTest(code=code, amount=amount):
                args = self.signed(c, "POS-1", "PAY", amount)
                r = self.send("POS-1", args)
                self.assertError(r, code)
                self.assertEqual(self.send("POS-1", args).line, r.line)  # kept
        self.assertEqual(self.gw.sql("SELECT count(*) FROM accounts"), before)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(0,)])
        self.assertEqual(self.gw.ctl("card", "show", rec["card_no"])["last_atc"], 0)
        self.assertEqual(self.gw.ctl("card", "show", nrec["card_no"])["last_atc"], 0)
        self.assertEqual(self.gw.ctl("card", "show", prec["card_no"])["last_atc"], 0)
        self.assertPaid(self.pay(card, 100), 100, 900)

    def test_a_failure_after_writing_undoes_the_batch_it_was_in(self):
        card, _, _ = self.holder("S1", "100.00")
        other, _, _ = self.holder("S2", "100.00")
        failing = self.signed(card, "POS-1", "PAY", 1500)
        mate = self.signed(other, "POS-1", "PAY", 700)
        self.gw.sql_write("CREATE TRIGGER fail_outcome BEFORE INSERT ON terminal_requests "
                          "WHEN NEW.seq = %d BEGIN SELECT RAISE(ABORT, 'injected'); END"
                          % int(failing[1]))
        conn = self.conns["POS-1"]
        conn.send_raw(encode(*failing) + encode(*mate))  # one batch
        first, second = conn.read(), conn.read()
        self.assertError(first, "STORAGE_ERROR")
        self.assertError(second, "STORAGE_ERROR")
        self.assertIn("a request without a savepoint failed after writing", self.gw.log_text())
        self.gw.sql_write("DROP TRIGGER fail_outcome")
        self.assertEqual((self.balance("S1"), self.balance("S2")), (10000, 10000))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(0,)])
        # both retried byte for byte: each pays, once
        self.assertPaid(self.send("POS-1", failing), 1500, 8500)
        self.assertPaid(self.send("POS-1", mate), 700, 9300)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(2,)])

    def test_a_seq_used_before_runs_in_a_savepoint(self):
        # A seq at or below the terminal's highest (its outcome pruned, or never kept) may
        # have a payment already: its INSERT fails after the payment wrote (payments_once),
        # so such a PAY runs in a savepoint and fails alone, and its batch-mate pays.
        card, _, _ = self.holder("S1", "100.00")
        other, _, _ = self.holder("S2", "100.00")
        self.assertPaid(self.send("POS-1", self.signed(card, "POS-1", "PAY", 100, seq=5)),
                        100, 9900)
        self.gw.sql_write("DELETE FROM terminal_requests WHERE terminal = 'POS-1'")  # pruned
        again = self.signed(card, "POS-1", "PAY", 200, seq=5)  # a new swipe, the same seq
        mate = self.signed(other, "POS-1", "PAY", 700, seq=100)
        conn = self.conns["POS-1"]
        conn.send_raw(encode(*again) + encode(*mate))  # one batch
        first, second = conn.read(), conn.read()
        # the terminal used the seq again: said so, as when the outcome is kept
        self.assertError(first, "SEQ_REUSED")
        self.assertIn("no longer kept", first.message)
        self.assertPaid(second, 700, 9300)
        self.assertEqual((self.balance("S1"), self.balance("S2")), (9900, 9300))
        self.assertNotIn("its batch is undone", self.gw.log_text())
        retried = self.send("POS-1", again)  # its refusal is kept, and answers the retry
        self.assertError(retried, "SEQ_REUSED")
        self.assertEqual(retried.message, first.message)
        self.assertEqual(self.balance("S1"), 9900)


class CardsKeptInMemoryTest(WalletCase):
    """The card check keeps the cards and holders it read in memory ([cards]
    cache_entries). Whatever changes them afterwards must show at the very next swipe:
    a change through yktctl, an ATC whose request was refused and undone, and a change
    another program commits to the database."""

    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")

    def info(self, card):
        reply = self.swipe(card, "POS-1", "CARD.INFO")
        self.assertIsInstance(reply, list, reply)
        return reply

    def test_a_refused_payment_leaves_its_atc_to_the_next(self):
        card, rec, _ = self.holder("S1", "10.00")
        self.assertPaid(self.pay(card, 100), 100, 900)
        self.assertError(self.pay(card, 5000), "INSUFFICIENT_FUNDS")
        refused_atc = card.atc
        # undone with the refusal: the card's next request may use that ATC again
        self.assertEqual(self.gw.ctl("card", "show", rec["card_no"])["last_atc"],
                         refused_atc - 1)
        self.assertPaid(self.pay(card, 100, atc=refused_atc), 100, 800)
        self.assertEqual(self.gw.ctl("card", "show", rec["card_no"])["last_atc"], refused_atc)
        self.assertError(self.pay(card, 100, atc=refused_atc), "REPLAY")

    def test_changes_through_yktctl_show_at_the_next_swipe(self):
        card, rec, idn = self.holder("S1", "10.00")
        self.assertPaid(self.pay(card, 100), 100, 900)
        self.assertTrue(self.info(card)[3].startswith("张"))  # kept from here on
        self.gw.ctl("person", "update", "S1", "--name", "李四")
        self.assertTrue(self.info(card)[3].startswith("李"), self.info(card))
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        self.assertError(self.pay(card, 100), "CARD_LOST")
        self.assertEqual(self.balance("S1"), 900)

    def test_a_change_another_program_commits_shows_at_the_next_swipe(self):
        card, rec, _ = self.holder("S1", "10.00")
        self.assertPaid(self.pay(card, 100), 100, 900)
        con = sqlite3.connect(self.gw.db, timeout=10)
        try:
            con.execute("UPDATE cards SET status = 'frozen' WHERE card_no = ?",
                        (rec["card_no"],))
            con.commit()
            self.assertError(self.pay(card, 100), "CARD_FROZEN")
            con.execute("UPDATE cards SET status = 'active' WHERE card_no = ?",
                        (rec["card_no"],))
            con.execute("UPDATE people SET name = '王五' WHERE person_no = 'S1'")
            con.commit()
        finally:
            con.close()
        self.assertTrue(self.info(card)[3].startswith("王"), self.info(card))
        self.assertPaid(self.pay(card, 100), 100, 800)


class NoCardsInMemoryTest(CardsKeptInMemoryTest):
    """The same with nothing kept in memory."""

    sets = {"cards.cache_entries": "0"}


def abandon_request(case, tid, args):
    """Sends ARGS on a new connection of terminal TID and, once the request waits for its
    password check, resets that connection; returns when yktd has abandoned the request.
    The password check must be slow ([cards] password_iterations)."""
    c = case.gw.terminal(tid, case.secrets[tid])
    c.send_raw(encode(*args))
    # its card check is committed before it waits; a copy then proves that it waits
    case.assertTrue(wait_until(lambda: case.gw.sql("SELECT atc FROM cards WHERE uid = ?",
                                                   args[2].upper()) == [(int(args[3]),)],
                               timeout=10), "the first attempt was not checked")
    r = case.send(tid, args)
    case.assertTrue(isinstance(r, RespError) and r.code == "IN_PROGRESS", r)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    line = "%s seq %s abandoned: the connection closed while it waited" % (args[0], args[1])
    case.assertTrue(wait_until(lambda: line in case.gw.log_text(), timeout=30),
                    "not abandoned: the first attempt must not complete")


def retry_request(case, tid, args):
    """The terminal's retry: IN_PROGRESS while the first attempt still waits."""
    for _ in range(300):
        r = case.send(tid, args)
        if not (isinstance(r, RespError) and r.code == "IN_PROGRESS"):
            return r
        time.sleep(0.1)
    case.fail("still IN_PROGRESS")


class PinPaymentCase(WalletCase):
    """PIN payments at POS-1, with a password check slow enough to be interrupted."""

    # a password check slow enough that the reset is seen before it ends
    sets = {"cards.password_iterations": "200000"}

    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")

    def abandon(self, args):
        abandon_request(self, "POS-1", args)

    def retry(self, args):
        return retry_request(self, "POS-1", args)

    def pin_holder(self, ref):
        card, rec, _ = self.holder("S1", "1000.00")
        self.gw.ctl("account", "limit", "S1", "--daily", "1000", "--ref", ref)
        return card, rec["initial_pay_password"]

    def marks(self):
        return self.gw.sql("SELECT atc_terminal, atc_seq, atc_digest IS NOT NULL FROM cards")


class LostDuringPinCheckTest(PinPaymentCase):
    """R-C4: a loss report takes effect at once. A PIN payment whose card is reported lost
    while its password is checked beside the loop is refused CARD_LOST when the check ends,
    not paid with the card as it was before the wait."""

    # slow enough that the loss report comes while the check runs
    sets = {"cards.password_iterations": "1500000"}

    def test_a_card_reported_lost_during_the_pin_check_pays_nothing(self):
        card, rec, idn = self.holder("S1", "1000.00")
        self.gw.ctl("account", "limit", "S1", "--daily", "1000", "--ref", "LOST-PIN")
        args = self.signed(card, "POS-1", "PAY", 20000, rec["initial_pay_password"])
        c = self.gw.terminal("POS-1", self.secrets["POS-1"])
        c.send_raw(encode(*args))
        self.assertTrue(wait_until(lambda: self.gw.sql("SELECT atc FROM cards") ==
                                   [(int(args[3]),)], timeout=10))
        r = self.send("POS-1", args)
        self.assertTrue(isinstance(r, RespError) and r.code == "IN_PROGRESS", r)
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        r = c.read()
        self.assertTrue(isinstance(r, RespError) and r.code == "CARD_LOST", r)
        self.assertEqual(self.balance("S1"), 100000)
        self.assertEqual(self.payments("S1"), [])
        # its retry gets the same refusal, kept as that seq's outcome
        self.assertError(self.send("POS-1", args), "CARD_LOST")
        self.assertEqual(self.balance("S1"), 100000)


class AbandonedPinPaymentTest(PinPaymentCase):
    """A PIN payment whose connection resets during its password check is abandoned; its
    card check, and the card's ATC, were kept before the wait. The terminal's retry, the
    same bytes, pays once, unless the card has been used since."""

    def test_the_retry_of_an_abandoned_pin_payment_pays_once(self):
        card, pin = self.pin_holder("APP-RST")
        args = self.signed(card, "POS-1", "PAY", 20000, pin)
        self.abandon(args)
        self.assertEqual(self.balance("S1"), 100000)
        self.assertEqual(self.marks(), [("POS-1", int(args[1]), 1)])
        r = self.retry(args)
        self.assertPaid(r, 20000, 80000)
        self.assertIn("the retry of a request that did not complete", self.gw.log_text())
        # completed: the card names it no more, and its outcome answers from now on
        self.assertEqual(self.marks(), [(None, None, 0)])
        self.assertEqual(self.send("POS-1", args), r)
        self.assertEqual(len(self.payments("S1")), 1)
        # abandoned again, but the card pays elsewhere first: its ATC moved on, and the
        # retry is a replay
        args = self.signed(card, "POS-1", "PAY", 20000, pin)
        self.abandon(args)
        self.assertPaid(self.pay(card, 100, tid="POS-1"), 100, 79900)
        self.assertEqual(self.marks(), [(None, None, 0)])
        self.assertError(self.retry(args), "REPLAY")
        self.assertEqual(self.balance("S1"), 79900)
        # abandoned again; the same cryptogram with other bytes (another PIN) is not its
        # retry but a replay, and as the outcome of that seq it answers the retry too
        args = self.signed(card, "POS-1", "PAY", 20000, pin)
        self.abandon(args)
        self.assertError(self.retry(args[:7] + [other_password(pin)]), "REPLAY")
        self.assertError(self.retry(args), "SEQ_REUSED")
        self.assertEqual(self.balance("S1"), 79900)
        self.assertEqual(len(self.payments("S1")), 2)

    def test_the_retry_of_an_abandoned_pin_hold_holds_once(self):
        card, pin = self.pin_holder("APP-RSTH")
        args = self.signed(card, "POS-1", "HOLD", 30000, pin)
        self.abandon(args)
        self.assertEqual(self.account("escrow"), 0)
        r = self.retry(args)
        self.assertIsInstance(r, list, r)
        self.assertEqual(r[1:3], [30000, 70000])
        self.assertIn("ATC %s again from terminal POS-1 seq %s" % (args[3], args[1]),
                      self.gw.log_text())
        self.assertEqual(self.marks(), [(None, None, 0)])
        self.assertEqual(self.send("POS-1", args), r)
        self.assertEqual(self.account("escrow"), 30000)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM holds"), [(1,)])
        self.assertEqual(self.void(r[0], tid="POS-1"), 100000)


class CompletedPinPaymentTest(PinPaymentCase):
    """A PIN payment that completed is never run again, even once its outcome is pruned:
    the card stops naming it when its outcome is kept, and a copy is a replay."""

    def prune_all(self):
        self.gw.sql_write("UPDATE terminal_requests SET at = at - ?", 31 * 86400000)
        self.assertGreater(self.gw.ctl("job", "run", "prune")["items"], 0)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM terminal_requests WHERE "
                                     "terminal = 'POS-1' AND seq > 0"), [(0,)])

    def test_a_completed_pin_payment_is_a_replay_once_its_outcome_is_pruned(self):
        card, pin = self.pin_holder("APP-PRUNE")
        args = self.signed(card, "POS-1", "PAY", 20000, pin)
        r = self.send("POS-1", args)
        self.assertPaid(r, 20000, 80000)
        self.assertEqual(self.marks(), [(None, None, 0)])
        self.prune_all()
        # the card's ATC is this payment's: only the missing mark refuses the copy
        self.assertError(self.send("POS-1", args), "REPLAY")
        self.assertEqual(self.balance("S1"), 80000)
        # a wrong password is kept too, and ends the claim as well
        bad = self.signed(card, "POS-1", "PAY", 20000, other_password(pin))
        self.assertError(self.send("POS-1", bad), "BAD_PIN")
        self.assertEqual(self.marks(), [(None, None, 0)])
        self.prune_all()
        self.assertError(self.send("POS-1", bad), "REPLAY")
        self.assertEqual(self.balance("S1"), 80000)
        self.assertEqual(len(self.payments("S1")), 1)


# ---- holds (pre-authorisation) --------------------------------------------------------------


class HoldTest(WalletCase):
    def setUp(self):
        super().setUp()
        self.merchant("water-1", "water")
        self.terminal("DISP-1", "dispenser", owner="water-1")
        self.terminal("DISP-2", "dispenser", owner="water-1")

    def hold_row(self, hold_id):
        return self.gw.sql("SELECT status, amount, captured, coalesce(payment, 0) FROM holds "
                           "WHERE id = ?", hold_id)[0]

    def test_capture_releases_the_rest_and_each_hold_resolves_once(self):
        card, _, _ = self.holder("S1", "50.00")
        t0 = now_ms()
        h = self.hold(card, 1000)
        self.assertIsInstance(h, list, h)
        hold_id = h[0]
        self.assertEqual(h[1:3], [1000, 4000])
        self.assertTrue(t0 + 600000 - 5000 <= h[3] <= now_ms() + 600000, h)  # 10 min default
        self.assertEqual(self.account("escrow"), 1000)
        self.assertEqual(self.hold_row(hold_id), ("pending", 1000, 0, 0))
        # more than held; another terminal's hold; an unknown hold
        before = self.snapshot("S1")
        self.assertError(self.capture(hold_id, 1001), "LIMIT_EXCEEDED")
        self.assertError(self.capture(hold_id, 300, tid="DISP-2"), "FORBIDDEN")
        self.assertError(self.void(hold_id, tid="DISP-2"), "FORBIDDEN")
        self.assertError(self.capture(hold_id + 1000, 300), "NOT_FOUND")
        self.assertEqual(self.snapshot("S1"), before)
        # capture less than held: the rest goes back
        frame = ("CAPTURE", self.next_seq("DISP-1"), hold_id, 350)
        cap = self.conns["DISP-1"].call(*frame)
        payment = self.assertPaid(cap, 350, 4650)
        self.assertEqual(self.conns["DISP-1"].call(*frame), cap)  # a retry: the first reply
        self.assertEqual(self.hold_row(hold_id), ("captured", 1000, 350, payment))
        self.assertEqual(self.account("escrow"), 0)
        self.assertEqual(self.account("merchant", "water-1"), 350)
        self.assertEqual(self.spent_today("S1"), 350)
        # resolved exactly once
        before = self.snapshot("S1")
        self.assertError(self.capture(hold_id, 100), "HOLD_RESOLVED")
        self.assertError(self.void(hold_id), "HOLD_RESOLVED")
        self.assertEqual(self.snapshot("S1"), before)
        # VOID gives everything back
        h2 = self.hold(card, 500)
        self.assertEqual(h2[2], 4150)
        self.assertEqual(self.void(h2[0]), 4650)
        self.assertEqual(self.hold_row(h2[0])[0], "voided")
        self.assertError(self.capture(h2[0], 100), "HOLD_RESOLVED")
        # CAPTURE 0 releases everything
        h3 = self.hold(card, 300)
        self.assertEqual(self.capture(h3[0], 0), [None, 0, 4650])
        self.assertEqual(self.hold_row(h3[0])[:3], ("captured", 300, 0))
        # the same checks as PAY
        self.assertError(self.hold(card, 4651), "INSUFFICIENT_FUNDS")
        self.assertError(self.hold(card, 20000), "PIN_REQUIRED")
        self.assertEqual(self.balance("S1"), 4650)
        self.assertEqual(self.account("escrow"), 0)
        self.assertEqual(self.gw.sql("SELECT kind, amount FROM transfers WHERE kind LIKE 'hold%' "
                                     "OR kind = 'pay' ORDER BY id"),
                         [("hold", 1000), ("pay", 350), ("hold_release", 650), ("hold", 500),
                          ("hold_void", 500), ("hold", 300), ("hold_release", 300)])


    def test_a_capture_under_a_seq_paid_before_is_refused_and_the_hold_stays(self):
        # the terminal paid under seq 7 (a capture), that outcome was pruned, and it numbers
        # another hold's capture 7 again: refused, nothing of it stays
        card, _, _ = self.holder("S1", "50.00")
        first = self.hold(card, 1000)[0]
        self.assertPaid(self.conns["DISP-1"].call("CAPTURE", 7, first, 300), 300, 4700)
        self.gw.sql_write("DELETE FROM terminal_requests WHERE terminal = 'DISP-1'")
        second = self.hold(card, 500)[0]
        before = (self.snapshot("S1"), self.account("escrow"))
        reply = self.conns["DISP-1"].call("CAPTURE", 7, second, 200)
        self.assertError(reply, "SEQ_REUSED")
        self.assertIn("no longer kept", reply.message)
        self.assertEqual((self.snapshot("S1"), self.account("escrow")), before)
        self.assertEqual(self.hold_row(second), ("pending", 500, 0, 0))
        # a new seq captures it
        self.assertPaid(self.capture(second, 200), 200, 4500)
        self.assertAuditClean()

    def test_money_held_counts_against_the_daily_limit(self):
        card, _, _ = self.holder("S1", "500.00")
        held = [self.hold(card, 15000), self.hold(card, 15000)]  # 300.00 CNY held today
        self.assertEqual([h[1] for h in held], [15000, 15000])
        before = self.snapshot("S1")
        r = self.hold(card, 15000)
        self.assertError(r, "LIMIT_EXCEEDED")  # captured, it would make 450.00 today
        self.assertEqual(self.snapshot("S1"), before)
        self.assertPaid(self.capture(held[0][0], 15000), 15000, 20000)
        self.assertPaid(self.capture(held[1][0], 15000), 15000, 20000)
        self.assertEqual(self.spent_today("S1"), 30000)
        self.assertEqual(self.balance("S1"), 20000)

    def test_a_holders_pending_holds_are_read_by_index(self):
        # Schema v8: the daily limit's read of a holder's pending holds searches
        # holds_pending_by_person, which lists pending holds only, instead of going through
        # every pending hold on campus; another holder's holds do not count.
        self.merchant("canteen-1")
        self.terminal("POS-1")
        card, _, _ = self.holder("S1", "500.00")
        other, _, _ = self.holder("S2", "500.00")
        held = self.hold(other, 15000)
        self.assertPaid(self.pay(card, 15000), 15000, 35000)  # S2's hold is not S1's spending
        mine = self.hold(card, 10000)
        self.assertError(self.pay(card, 5001), "LIMIT_EXCEEDED")  # 150 + 100 held + 50.01
        by_index = ("SELECT person_id, amount FROM holds INDEXED BY holds_pending_by_person "
                    "WHERE status = 'pending' ORDER BY person_id")
        self.assertEqual(self.gw.sql(by_index), [(self.person_id("S1"), 10000),
                                                 (self.person_id("S2"), 15000)])
        plan = " ".join(r[3] for r in self.gw.sql(
            "EXPLAIN QUERY PLAN SELECT coalesce(sum(amount), 0) FROM holds "
            "WHERE person_id = ?1 AND status = 'pending'", 1))
        self.assertIn("USING INDEX holds_pending_by_person (person_id=?)", plan)
        self.assertEqual(self.void(mine[0]), 35000)
        self.assertPaid(self.capture(held[0], 100), 100, 50000 - 100)
        self.assertEqual(self.gw.sql(by_index), [])  # resolved holds leave the index
        self.assertPaid(self.pay(card, 15000), 15000, 20000)


class HoldTimeoutTest(WalletCase):
    sets = {"wallet.hold_timeout": "1s"}

    def test_a_hold_nobody_resolves_is_voided_at_its_timeout(self):
        self.merchant("water-1", "water")
        self.terminal("DISP-1", "dispenser", owner="water-1")
        card, _, _ = self.holder("S1", "20.00")
        h = self.hold(card, 800)
        self.assertEqual(h[1:3], [800, 1200])
        self.assertLessEqual(h[3] - now_ms(), 1000)
        self.assertEqual(self.account("escrow"), 800)
        self.assertTrue(wait_until(lambda: self.gw.sql(
            "SELECT status FROM holds WHERE id = ?", h[0]) == [("expired",)], timeout=10),
            "the hold did not expire")
        self.assertEqual(self.balance("S1"), 2000)
        self.assertEqual(self.account("escrow"), 0)
        self.assertEqual(self.gw.sql("SELECT amount FROM transfers WHERE kind = 'hold_expired'"),
                         [(800,)])
        self.assertError(self.capture(h[0], 100), "HOLD_RESOLVED")
        self.assertError(self.void(h[0]), "HOLD_RESOLVED")
        self.assertEqual(self.balance("S1"), 2000)
        self.assertEqual(self.payments("S1"), [])


# ---- refunds of over-deductions (R-W5) -------------------------------------------------------


class RefundTest(WalletCase):
    def test_partial_refunds_never_exceed_the_original_merchant_share_first(self):
        self.merchant("canteen-1", "canteen", "--fee-regular", "10")
        self.terminal("POS-1")
        card, _, _ = self.holder("S1", "100.00")
        pid = self.assertPaid(self.pay(card, 2000), 2200, 7800)  # 20.00 + 10% fee
        self.assertEqual((self.account("merchant", "canteen-1"), self.account("fee_income")),
                         (2000, 200))
        clerk = self.gw.add_operator("clerk", "operator")
        ivy = self.gw.add_operator("ivy", "auditor")
        refund = ["payment", "refund", str(pid)]
        # an auditor reads, never changes
        self.ctl_fails("FORBIDDEN", *refund, "--amount", "1.00", "--reason", "x", user="ivy",
                       password=ivy)
        self.ctl_fails("BAD_REQUEST", *refund, "--amount", "0", "--reason", "x")
        self.ctl_fails("NOT_FOUND", "payment", "refund", str(pid + 100), "--amount", "1.00",
                       "--reason", "x")
        self.assertEqual(self.balance("S1"), 7800)
        # partial refunds by a card-centre operator
        r = self.gw.ctl(*refund, "--amount", "15.00", "--reason", "scanned twice, at lunch",
                        user="clerk", password=clerk)
        self.assertEqual((r["payment"], r["amount"], r["balance"]), (pid, "15.00", "93.00"))
        self.assertEqual((self.account("merchant", "canteen-1"), self.account("fee_income")),
                         (500, 200))
        # the rest: the merchant's 5.00 first, then 2.00 of the fee
        r = self.gw.ctl(*refund, "--amount", "7.00", "--reason", "fee too", user="clerk",
                        password=clerk)
        self.assertEqual(r["balance"], "100.00")
        self.assertEqual((self.account("merchant", "canteen-1"), self.account("fee_income")),
                         (0, 0))
        # one more fen is refused, also by the database
        err = self.ctl_fails("REFUND_EXCEEDS", *refund, "--amount", "0.01", "--reason", "x",
                             user="clerk", password=clerk)
        self.assertIn("0.00", err)
        self.assertEqual(self.balance("S1"), 10000)
        self.assertEqual(self.payments("S1"), [(2000, 0, 200, 2200, 2200, 0, "")])
        self.assertEqual(self.gw.ctl("payment", "show", str(pid))["refunded"], "22.00")
        # each refund transfer names the original
        original = self.gw.sql("SELECT transfer FROM payments WHERE id = ?", pid)[0][0]
        self.assertEqual(self.gw.sql("SELECT kind, amount, original, operator FROM transfers "
                                     "WHERE kind LIKE 'refund%' ORDER BY id"),
                         [("refund", 1500, original, "clerk"), ("refund", 500, original, "clerk"),
                          ("refund_fee", 200, original, "clerk")])
        self.assertEqual(self.gw.sql("SELECT amount, reason, operator FROM refunds ORDER BY id"),
                         [(1500, "scanned twice, at lunch", "clerk"), (700, "fee too", "clerk")])
        audit = self.gw.ctl("audit", "list", "--action", "payment.refund")
        self.assertEqual([(a["operator"], a["target"]) for a in audit],
                         [("clerk", str(pid)), ("clerk", str(pid))])
        self.assertIn("scanned twice", audit[1]["detail"])


# ---- top-ups and reminders (R-W2, R-W6, R-W7) ------------------------------------------------


class TopupTest(WalletCase):
    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")
        self.terminal("KIOSK-1", "kiosk")

    def test_counter_and_kiosk_topups_within_the_limit(self):
        card, _, _ = self.holder("S1")
        err = self.ctl_fails("LIMIT_EXCEEDED", "account", "topup", "S1", "--amount", "1000.01")
        self.assertIn("1000.00", err)
        self.assertEqual(self.topup("S1", "1000.00", "--counter", "C1"), 100000)
        self.assertEqual(self.account("cash", "C1"), -100000)
        before = self.snapshot("S1")
        self.assertError(self.swipe(card, "KIOSK-1", "TOPUP", 100001), "LIMIT_EXCEEDED")
        self.assertError(self.swipe(card, "POS-1", "TOPUP", 100), "FORBIDDEN")  # kiosks only
        self.assertEqual(self.snapshot("S1"), before)
        self.assertEqual(self.swipe(card, "KIOSK-1", "TOPUP", 5000), 105000)
        self.assertEqual(self.account("cash", "kiosk:KIOSK-1"), -5000)
        self.assertEqual(self.balance("S1"), 105000)
        self.assertEqual(self.gw.sql("SELECT kind, amount, coalesce(terminal, '') FROM transfers "
                                     "ORDER BY id"),
                         [("topup_cash", 100000, ""), ("topup_kiosk", 5000, "KIOSK-1")])
        audit = self.gw.ctl("audit", "list", "--action", "account.topup")
        self.assertEqual(len(audit), 1)
        self.assertIn("C1", audit[0]["detail"])

    def test_low_balance_reminder_and_automatic_topup_request(self):
        card, _, _ = self.holder("S1", "25.00")
        self.assertPaid(self.pay(card, 400), 400, 2100)
        self.assertEqual(self.notices("S1"), [])
        self.assertPaid(self.pay(card, 200), 200, 1900)  # below 20.00 CNY ([wallet] low_balance)
        n = self.notices("S1")
        self.assertEqual([(x["kind"], x["amount"]) for x in n], [("low_balance", 1900)])
        self.assertIn("19.00", n[0]["message"])
        self.assertPaid(self.pay(card, 100), 100, 1800)  # still below: no second reminder
        self.assertEqual(len(self.notices("S1")), 1)
        # a holder's own thresholds: reminder below 40.00, automatic top-up below 50.00
        card2, _, _ = self.holder("S2", "60.00")
        self.ctl_fails("BAD_REQUEST", "account", "settings", "S2", "--autotopup-below", "50")
        self.gw.ctl("account", "settings", "S2", "--autotopup-below", "50",
                    "--autotopup-amount", "100", "--low-balance", "40")
        self.assertPaid(self.pay(card2, 1000), 1000, 5000)  # exactly 50.00: not below
        self.assertEqual(self.notices("S2"), [])
        self.assertPaid(self.pay(card2, 1), 1, 4999)
        self.assertEqual([(x["kind"], x["amount"]) for x in self.notices("S2")],
                         [("autotopup", 10000)])
        self.assertPaid(self.pay(card2, 1000), 1000, 3999)
        self.assertEqual([x["kind"] for x in self.notices("S2", "low_balance")], ["low_balance"])
        self.assertEqual(len(self.notices("S2", "autotopup")), 1)
        self.assertEqual(len(self.notices("S1")), 1)  # nobody else's


# ---- merchant settlement (R-W3, R-W9) --------------------------------------------------------


class SettlementTest(WalletCase):
    def test_daily_settlement_pays_the_net_once(self):
        self.merchant("canteen-1", "canteen", "--commission", "1.5")
        self.merchant("shop-1", "shop")
        self.terminal("POS-1")
        self.terminal("POS-2", owner="shop-1")
        c1, _, _ = self.holder("S1", "300.00")
        c2, _, _ = self.holder("S2", "100.00")
        p1 = self.assertPaid(self.pay(c1, 10000), 10000, 20000)
        self.assertPaid(self.pay(c2, 5000), 5000, 5000)
        self.assertPaid(self.pay(c1, 3000, tid="POS-2"), 3000, 17000)
        self.gw.ctl("payment", "refund", str(p1), "--amount", "10.00", "--reason", "double")
        today = campus_today()
        yesterday = today - datetime.timedelta(days=1)
        # a period that has not ended is not settled
        self.ctl_fails("BAD_STATE", "settlement", "run", "--period", today.isoformat())
        self.ctl_fails("BAD_STATE", "settlement", "run", "--period", today.isoformat()[:7])
        self.ctl_fails("BAD_REQUEST", "settlement", "run", "--period", "2026-13")
        # a day passes: all of that was yesterday's business
        self.days_pass(1)
        self.assertPaid(self.pay(c1, 2000), 2000, 16000)  # today's: not in yesterday's period
        rows = self.gw.ctl("settlement", "run", "--period", yesterday.isoformat())
        got = {r["merchant"]: r for r in rows}
        self.assertEqual(sorted(got), ["canteen-1", "shop-1"])
        # canteen: 150.00 gross - 10.00 refunded = 140.00; commission 1.5% = 2.10; net 137.90
        self.assertEqual({k: got["canteen-1"][k] for k in ("payments", "gross", "refunds",
                                                            "commission", "net", "state")},
                         {"payments": 2, "gross": "150.00", "refunds": "10.00",
                          "commission": "2.10", "net": "137.90", "state": "paid"})
        self.assertEqual({k: got["shop-1"][k] for k in ("payments", "gross", "refunds",
                                                         "commission", "net", "state")},
                         {"payments": 1, "gross": "30.00", "refunds": "0.00",
                          "commission": "0.00", "net": "30.00", "state": "paid"})
        # the payouts left through bank clearing; the commission is fee income
        self.assertEqual(self.account("bank_clearing"), 13790 + 3000)
        self.assertEqual(self.account("fee_income"), 210)
        self.assertEqual(self.account("merchant", "canteen-1"), 2000)  # today's payment only
        self.assertEqual(self.account("merchant", "shop-1"), 0)
        self.assertEqual(self.gw.sql("SELECT kind, amount, memo FROM transfers WHERE kind IN "
                                     "('commission', 'settlement') ORDER BY id"),
                         [("commission", 210, yesterday.isoformat()),
                          ("settlement", 13790, yesterday.isoformat()),
                          ("settlement", 3000, yesterday.isoformat())])
        # a payment's settlement is its merchant's first that reaches its transfer (wallet.md)
        self.assertEqual(self.gw.sql("SELECT p.amount, (SELECT min(s.id) FROM settlements s "
                                     "WHERE s.merchant = p.merchant AND s.upto_transfer >= "
                                     "p.transfer) IS NOT NULL FROM payments p ORDER BY p.id"),
                         [(10000, 1), (5000, 1), (3000, 1), (2000, 0)])
        # settled once: a second run settles nothing more
        p = self.gw.ctl("settlement", "run", "--period", yesterday.isoformat(), check=False)
        if p.returncode == 0:
            self.assertEqual(json.loads(p.stdout), [])
        else:
            self.assertRefused(p, "EXISTS")
        self.assertEqual(self.account("bank_clearing"), 16790)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM settlements"), [(2,)])
        month = yesterday.isoformat()[:7]
        listed = self.gw.ctl("settlement", "list", "--period", month)
        self.assertEqual(sorted((r["merchant"], r["period"], r["net"], r["state"])
                                for r in listed),
                         [("canteen-1", month, "137.90", "month total"),
                          ("canteen-1", yesterday.isoformat(), "137.90", "paid"),
                          ("shop-1", month, "30.00", "month total"),
                          ("shop-1", yesterday.isoformat(), "30.00", "paid")])
        # the month's figures per merchant are the sum of its settlements in the month (a
        # second one written beside the gateway, and taken out again for the audit)
        self.gw.sql_write("INSERT INTO settlements (at, merchant, period, payments, gross, "
                          "refunds, commission, net, upto_transfer, operator) "
                          "SELECT at, merchant, ?, 1, 1000, 100, 10, 890, upto_transfer, "
                          "operator FROM settlements WHERE merchant = 'shop-1'", month + "-00")
        total = [r for r in self.gw.ctl("settlement", "list", "--period", month,
                                        "--merchant", "shop-1") if r["state"] == "month total"]
        self.assertEqual([(r["payments"], r["gross"], r["refunds"], r["commission"], r["net"])
                          for r in total], [(2, "40.00", "1.00", "0.10", "38.90")])
        self.gw.sql_write("DELETE FROM settlements WHERE period = ?", month + "-00")
        self.assertEqual(len(self.gw.ctl("settlement", "list", "--merchant", "shop-1")), 1)
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "settlement.run")[0]["target"],
                         yesterday.isoformat())
        self.assertAuditClean()


    def settle(self, day):
        rows = self.gw.ctl("settlement", "run", "--period", day.isoformat())
        return {r["merchant"]: (r["payments"], r["gross"], r["refunds"], r["net"], r["state"])
                for r in rows}

    def test_a_refund_after_settlement_is_taken_from_the_next_payout(self):
        self.merchant("canteen-1")
        self.terminal("POS-1")
        card, _, _ = self.holder("S1", "300.00")
        today = campus_today()
        p1 = self.assertPaid(self.pay(card, 10000), 10000, 20000)
        self.days_pass(3)
        self.assertEqual(self.settle(today - datetime.timedelta(days=3)),
                         {"canteen-1": (1, "100.00", "0.00", "100.00", "paid")})
        # the payment was over-deducted: refunded after the merchant was paid
        self.gw.ctl("payment", "refund", str(p1), "--amount", "10.00", "--reason", "double")
        self.days_pass(2)
        self.assertEqual(self.settle(today - datetime.timedelta(days=2)),
                         {"canteen-1": (0, "0.00", "10.00", "0.00", "nothing to pay")})
        self.assertEqual(self.account("merchant", "canteen-1"), -1000)
        # the next payout is what the merchant is owed: 50.00 sold - 10.00 refunded
        self.assertPaid(self.pay(card, 5000), 5000, 16000)
        self.days_pass(1)
        got = self.settle(today - datetime.timedelta(days=1))
        self.assertEqual((got["canteen-1"][3], self.account("merchant", "canteen-1"),
                          self.account("bank_clearing")), ("40.00", 0, 14000),
                         "a refund made after its payment was settled must be taken from the "
                         "merchant's next payout, not left as a negative payable: %s" % (got,))
        # the month's settlements add up to what was paid out
        listed = self.gw.ctl("settlement", "list", "--merchant", "canteen-1")
        self.assertEqual(sum(fen(r["net"]) for r in listed), self.account("bank_clearing"))


# ---- records: statements, search, guardians (R-W8, R-W10) -----------------------------------


class RecordsTest(WalletCase):
    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.merchant("shop-1", "shop")
        self.terminal("POS-1")
        self.terminal("POS-2")
        self.terminal("POS-3", owner="shop-1")
        self.terminal("KIOSK-1", "kiosk")

    def test_statement_opening_closing_and_csv(self):
        card, _, _ = self.holder("S1", "100.00")
        p1 = self.assertPaid(self.pay(card, 1234), 1234, 8766)
        self.assertPaid(self.pay(card, 500, tid="POS-3"), 500, 8266)
        self.gw.ctl("payment", "refund", str(p1), "--amount", "1.00", "--reason",
                    'scanned twice, "at lunch"')
        self.assertEqual(self.swipe(card, "KIOSK-1", "TOPUP", 2000), 10366)
        st = self.gw.ctl("account", "statement", "S1")
        self.assertEqual((st[0]["kind"], st[0]["balance"]), ("opening", "0.00"))
        self.assertEqual((st[-1]["kind"], st[-1]["balance"]), ("closing", "103.66"))
        moves = st[1:-1]
        self.assertEqual([(m["kind"], m["amount"]) for m in moves],
                         [("topup_cash", "100.00"), ("pay", "-12.34"), ("pay", "-5.00"),
                          ("refund", "1.00"), ("topup_kiosk", "20.00")])
        running = fen(st[0]["balance"])
        for m in moves:
            running += fen(m["amount"])
            self.assertEqual(fen(m["balance"]), running, m)
        self.assertEqual(running, self.balance("S1"))
        self.assertEqual([m["where"] for m in moves][1:3], ["POS-1", "POS-3"])
        # a period after all of it: opening = closing = the balance; before it: zero
        tomorrow = (campus_today() + datetime.timedelta(days=1)).isoformat()
        yesterday = (campus_today() - datetime.timedelta(days=1)).isoformat()
        later = self.gw.ctl("account", "statement", "S1", "--from", tomorrow)
        self.assertEqual([(r["kind"], r["balance"]) for r in later],
                         [("opening", "103.66"), ("closing", "103.66")])
        earlier = self.gw.ctl("account", "statement", "S1", "--to", yesterday)
        self.assertEqual([(r["kind"], r["balance"]) for r in earlier],
                         [("opening", "0.00"), ("closing", "0.00")])
        month = self.gw.ctl("account", "statement", "S1", "--month", campus_today().isoformat()[:7])
        self.assertEqual(month, st)
        self.ctl_fails("BAD_REQUEST", "account", "statement", "S1", "--format", "pdf")
        self.ctl_fails("NOT_FOUND", "account", "statement", "NOBODY")
        # CSV a holder can keep: parses with any CSV reader, quotes and commas intact
        text = self.gw.ctl("account", "statement", "S1", "--format", "csv")
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("# statement of S1"), lines[0])
        self.assertIn("opening balance 0.00", lines[0])
        self.assertEqual(lines[-1], "# closing balance 103.66 CNY")
        rows = list(csv.DictReader(io.StringIO("\n".join(lines[1:-1]) + "\n")))
        self.assertEqual([(r["kind"], r["amount"], r["balance"]) for r in rows],
                         [(m["kind"], m["amount"], m["balance"]) for m in moves])
        self.assertEqual(rows[3]["memo"], 'scanned twice, "at lunch"')
        self.assertEqual(rows[-1]["balance"], "103.66")

    def test_payment_search_by_card_person_merchant_terminal_and_time(self):
        c1, r1, _ = self.holder("S1", "50.00")
        c2, r2, _ = self.holder("S2", "50.00")
        self.pay(c1, 100, tid="POS-1")
        self.pay(c1, 200, tid="POS-3")
        self.pay(c2, 300, tid="POS-2")
        self.pay(c2, 400, tid="POS-3")

        def amounts(*args):
            return sorted(fen(r["amount"]) for r in self.gw.ctl("payment", "search", *args))

        today = campus_today()
        self.assertEqual(amounts(), [100, 200, 300, 400])
        self.assertEqual(amounts("--card", r1["card_no"]), [100, 200])
        self.assertEqual(amounts("--person", "S2"), [300, 400])
        self.assertEqual(amounts("--merchant", "canteen-1"), [100, 300])
        self.assertEqual(amounts("--merchant", "shop-1", "--card", r2["card_no"]), [400])
        self.assertEqual(amounts("--terminal", "POS-2"), [300])
        self.assertEqual(amounts("--from", today.isoformat(), "--to", today.isoformat()),
                         [100, 200, 300, 400])
        self.assertEqual(amounts("--from", (today + datetime.timedelta(days=1)).isoformat()), [])
        self.assertEqual(amounts("--to", (today - datetime.timedelta(days=1)).isoformat()), [])
        self.assertEqual(amounts("--month", today.isoformat()[:7], "--person", "S1"), [100, 200])
        found = self.gw.ctl("payment", "search", "--terminal", "POS-3", "--person", "S1")
        self.assertEqual(len(found), 1)
        show = self.gw.ctl("payment", "show", str(found[0]["payment"]))
        self.assertEqual((show["card_no"], show["merchant"], show["terminal"], show["amount"],
                          show["charged"], show["mode"]),
                         (r1["card_no"], "shop-1", "POS-3", "2.00", "2.00", "online"))
        self.ctl_fails("NOT_FOUND", "payment", "search", "--person", "NOBODY")
        self.ctl_fails("BAD_REQUEST", "payment", "search", "--from", "yesterday")

    def test_each_holder_is_told_once_a_month_that_the_statement_is_ready(self):
        """R-W8: a periodic (monthly) statement. The daily job tells each holder once a month
        has ended; the statement is the one `account statement --month` makes."""
        c1, r1, _ = self.holder("S1", "50.00")
        self.holder("S2", "20.00")
        _, r3, idn3 = self.holder("S3", "10.00")
        self.holder("S4")
        self.gw.ctl("card", "cancel", r3["card_no"], "--id-number", idn3, "--reason", "leaving")
        self.pay(c1, 1000)
        today = campus_today()
        last = (today.replace(day=1) - datetime.timedelta(days=1)).isoformat()[:7]
        month_start = campus_day_start_ms(today.replace(day=1))
        # S1, S2 and S3 had their wallets before this month began; S4's is new this month
        self.gw.sql_write("UPDATE accounts SET created_at = ? WHERE kind = 'wallet' AND owner IN "
                          "(SELECT CAST(id AS TEXT) FROM people WHERE person_no IN "
                          "('S1', 'S2', 'S3'))", month_start - 70 * DAY_MS)
        # S3's card was cancelled before last month began: last month was not on it
        self.gw.sql_write("UPDATE cards SET status_at = ? WHERE card_no = ?",
                          month_start - 65 * DAY_MS, r3["card_no"])
        # yktd ran the job at start, before the wallets were moved back: nothing was told
        # then, and the month counts as told (a stop over a month's turn tells the latest)
        self.gw.sql_write("DELETE FROM meta WHERE key = 'statements_month'")
        run = self.gw.ctl("job", "run", "statements")
        self.assertEqual(run["items"], 2, run)  # S1 and S2: S3's card is cancelled
        told = self.gw.ctl("notice", "list", "--kind", "statement")
        self.assertEqual(sorted(n["person"] for n in told), ["S1", "S2"])
        mine = [n for n in told if n["person"] == "S1"][0]
        self.assertIn(last, mine["message"])
        self.assertIn("account statement S1 --month " + last, mine["message"])
        # what it points to is there: the month's statement
        st = self.gw.ctl("account", "statement", "S1", "--month", last)
        self.assertEqual([r["kind"] for r in st], ["opening", "closing"])
        # once a month: the next days' runs tell nobody again
        self.assertEqual(self.gw.ctl("job", "run", "statements")["items"], 0)
        self.assertEqual(len(self.gw.ctl("notice", "list", "--kind", "statement")), 2)
        self.assertEqual(self.gw.sql("SELECT value FROM meta WHERE key = 'statements_month'"),
                         [(int(last[:4]) * 100 + int(last[5:]),)])
        # the portal (ykt-web's account) shows a holder their own notices, not everyone's
        pw = self.gw.add_operator("web", "portal")
        self.ctl_fails("FORBIDDEN", "notice", "list", user="web", password=pw)
        own = self.gw.ctl("notice", "list", "--person", "S2", user="web", password=pw)
        self.assertEqual([n["kind"] for n in own], ["statement"])

    def test_a_stop_across_months_tells_each_month_missed_to_that_months_holders(self):
        """R-W8 after yktd was stopped (or the job failed) over three months' turns: each
        month missed is told, in order, to the holders that month had."""
        self.holder("A1", "10.00")  # a wallet all three months
        self.holder("B1", "10.00")  # a wallet opened inside the last month
        _, rc1, idc = self.holder("C1", "10.00")  # a card cancelled two months ago
        self.holder("D1", "10.00")  # a wallet opened this month: nothing to tell yet
        first = campus_today().replace(day=1)
        months = []  # the three months before this one, oldest first
        m = first
        for _ in range(3):
            m = (m - datetime.timedelta(days=1)).replace(day=1)
            months.insert(0, m)
        start = campus_day_start_ms(first)

        def wallet_created(no, at):
            self.gw.sql_write("UPDATE accounts SET created_at = ? WHERE kind = 'wallet' AND "
                              "owner = (SELECT CAST(id AS TEXT) FROM people WHERE "
                              "person_no = ?)", at, no)

        wallet_created("A1", start - 100 * DAY_MS)
        wallet_created("C1", start - 100 * DAY_MS)
        wallet_created("B1", start - 5 * DAY_MS)  # inside the last month: told for it
        self.gw.ctl("card", "cancel", rc1["card_no"], "--id-number", idc, "--reason", "leaving")
        # cancelled during the month before last: told for it and the one before, not after
        cancelled = campus_day_start_ms(months[1]) + 3 * DAY_MS
        self.gw.sql_write("UPDATE cards SET status_at = ? WHERE card_no = ?", cancelled,
                          rc1["card_no"])
        # the last month told: the one before the three
        before = (months[0] - datetime.timedelta(days=1)).replace(day=1)
        self.gw.sql_write("INSERT OR REPLACE INTO meta (key, value) VALUES "
                          "('statements_month', ?)", before.year * 100 + before.month)
        run = self.gw.ctl("job", "run", "statements")
        self.assertEqual(run["items"], 3 + 1 + 2, run)
        told = {}
        for n in self.gw.ctl("notice", "list", "--kind", "statement"):
            told.setdefault(n["person"], []).append(n["message"].split()[3])
        names = [m.isoformat()[:7] for m in months]
        self.assertEqual({p: sorted(ms) for p, ms in told.items()},
                         {"A1": names, "B1": names[2:], "C1": names[:2]})
        last = months[2]
        self.assertEqual(self.gw.sql("SELECT value FROM meta WHERE key = 'statements_month'"),
                         [(last.year * 100 + last.month,)])
        self.assertEqual(self.gw.ctl("job", "run", "statements")["items"], 0)

    def test_guardian_reads_a_pupils_records_and_nothing_else(self):
        c1, r1, _ = self.holder("P1", "30.00")
        c2, r2, _ = self.holder("P2", "30.00")
        self.pay(c1, 1500)  # below 20.00: a reminder for P1
        self.pay(c2, 1600)
        pw = self.gw.add_operator("mother", "guardian")
        self.gw.add_operator("clerk", "operator")
        self.ctl_fails("BAD_REQUEST", "guardian", "link", "clerk", "--person", "P1")
        self.gw.ctl("guardian", "link", "mother", "--person", "P1")
        self.ctl_fails("EXISTS", "guardian", "link", "mother", "--person", "P1")

        def mother(*args, **kw):
            return self.gw.ctl(*args, user="mother", password=pw, **kw)

        st = mother("account", "statement", "P1")
        self.assertEqual((st[-1]["kind"], st[-1]["balance"]), ("closing", "15.00"))
        found = mother("payment", "search", "--person", "P1")
        self.assertEqual([(r["card_no"], r["amount"]) for r in found], [(r1["card_no"], "15.00")])
        self.assertEqual([n["kind"] for n in mother("notice", "list", "--person", "P1")],
                         ["low_balance"])
        # another pupil's records, searches without a pupil, and every change: refused
        refused = [("account", "statement", "P2"),
                   ("payment", "search", "--person", "P2"),
                   ("payment", "search"),
                   ("payment", "search", "--card", r2["card_no"]),
                   ("notice", "list", "--person", "P2"),
                   ("notice", "list"),
                   ("payment", "show", str(found[0]["payment"])),
                   ("payment", "refund", str(found[0]["payment"]), "--amount", "1.00",
                    "--reason", "x"),
                   ("account", "topup", "P1", "--amount", "10.00"),
                   ("account", "limit", "P1", "--daily", "600", "--ref", "X"),
                   ("account", "settings", "P1", "--low-balance", "5"),
                   ("guardian", "link", "mother", "--person", "P2"),
                   ("card", "loss", r1["card_no"], "--id-number", "x"),
                   ("settlement", "list")]
        for args in refused:
            with self.subTest(args=args):
                p = mother(*args, check=False)
                self.assertRefused(p, "FORBIDDEN")
        self.assertEqual((self.balance("P1"), self.balance("P2")), (1500, 1400))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM refunds"), [(0,)])


# ---- offline terminals (R-W11) ---------------------------------------------------------------


class OfflineTest(WalletCase):
    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")
        self.terminal("POS-OFF")

    def test_offline_sales_are_applied_once_with_debt_recorded(self):
        card, rec, _ = self.holder("S1", "30.00")
        hour_ago = now_ms() - 3600000
        # sold offline an hour ago (ATC 1 and 2), uploaded after an online sale (ATC 3)
        o1 = self.offline(card, 1000, hour_ago)
        o2 = self.offline(card, 300, hour_ago + 60000)
        self.assertPaid(self.pay(card, 500), 500, 2500)
        r1 = self.send("POS-OFF", o1)
        self.assertIsInstance(r1, list, r1)
        self.assertEqual(r1[1:], ["ok", 1000, 1500])
        # uploaded twice: the first reply, charged once
        self.assertEqual(self.send("POS-OFF", o1), r1)
        self.assertEqual(self.balance("S1"), 1500)
        # an ATC below the card's current one is fine offline (it was signed earlier)
        self.assertLess(int(o2[3]), self.gw.ctl("card", "show", rec["card_no"])["last_atc"])
        self.assertEqual(self.send("POS-OFF", o2)[1:], ["ok", 300, 1200])
        self.assertEqual(self.gw.sql("SELECT card_time, offline, flag FROM payments WHERE id = ?",
                                     r1[0]), [(hour_ago, 1, "")])
        # overspending offline: charged anyway, the wallet goes below zero, the debt recorded
        o3 = self.offline(card, 4500, hour_ago + 120000)
        r3 = self.send("POS-OFF", o3)
        self.assertEqual(r3[1:], ["debt", 4500, -3300])
        self.assertEqual(self.balance("S1"), -3300)
        self.assertEqual(self.payments("S1")[-1], (4500, 0, 0, 4500, 0, 1, "debt"))
        self.assertAuditClean()  # recorded debt is allowed
        self.assertEqual(self.send("POS-OFF", o3), r3)
        self.assertEqual(self.balance("S1"), -3300)
        # online the debt blocks payments until the holder tops up
        self.assertError(self.pay(card, 1), "INSUFFICIENT_FUNDS")
        self.topup("S1", "100.00")
        self.assertEqual(self.balance("S1"), 6700)
        # above [wallet] offline_max_payment (50.00): charged, flagged for the card centre
        r4 = self.send("POS-OFF", self.offline(card, 5001, now_ms() - 60000))
        self.assertEqual(r4[1:], ["over_offline_limit", 5001, 1699])
        self.assertEqual(self.gw.ctl("payment", "show", str(r4[0]))["flag"],
                         "over_offline_limit")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(5,)])
        # reported to the card centre: the search shows each upload with its flag
        self.assertEqual(sorted((fen(r["amount"]), r["mode"], r["flag"]) for r in
                                self.gw.ctl("payment", "search", "--terminal", "POS-OFF")),
                         [(300, "offline", None), (1000, "offline", None),
                          (4500, "offline", "debt"), (5001, "offline", "over_offline_limit")])

    def test_over_the_offline_limit_and_into_debt_keeps_both_flags(self):
        card, _, _ = self.holder("S2", "10.00")
        r = self.send("POS-OFF", self.offline(card, 6000, now_ms() - 600000))
        # the terminal hears of both, as the card centre sees them
        self.assertEqual(r[1:], ["debt,over_offline_limit", 6000, -5000])
        flag = self.gw.sql("SELECT flag FROM payments WHERE id = ?", r[0])[0][0]
        self.assertIn("debt", flag.split(","))
        self.assertIn("over_offline_limit", flag.split(","))
        # the holder's only debt came from this sale: the audit must accept it as recorded
        rc, checks, err = self.run_audit()
        self.assertEqual(checks["no_negative_wallet"]["result"], "ok",
                         "an offline sale that was both over the offline limit and into debt "
                         "is not recorded as debt: %s" % checks["no_negative_wallet"])
        self.assertEqual(rc, 0, err)

    def test_offline_sales_are_judged_as_of_their_time(self):
        card, rec, idn = self.holder("S1", "50.00")
        before_loss = self.offline(card, 500, now_ms() - 1800000)
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        time.sleep(0.01)
        after_loss = self.offline(card, 700, now_ms())
        # sold before the loss report: charged; after it: not charged, in the card's history
        self.assertEqual(self.send("POS-OFF", before_loss)[1:], ["ok", 500, 4500])
        refused = self.send("POS-OFF", after_loss)
        self.assertEqual(refused, [None, "refused", "lost", 0])
        self.assertEqual(self.send("POS-OFF", after_loss), refused)
        self.assertEqual(self.balance("S1"), 4500)
        self.assertEqual(len(self.payments("S1")), 1)
        events = [h for h in self.gw.ctl("card", "history", rec["card_no"])
                  if h["event"] == "offline_refused"]
        self.assertEqual(len(events), 1, events)
        self.assertIn("700 fen at POS-OFF", events[0]["detail"])
        self.assertIn("lost", events[0]["detail"])
        self.assertError(self.pay(card, 100), "CARD_LOST")
        # a time in the future is not an offline sale
        self.assertError(self.send("POS-OFF", self.offline(card, 100, now_ms() + 3600000)),
                         "CLOCK_SKEW")
        # a card that expired: a sale on a day it was valid is charged, a later one is not
        # (its validity ended yesterday: changed by another program, as a card centre tool might)
        card2, rec2, _ = self.holder("S2", "20.00")
        yesterday = campus_today() - datetime.timedelta(days=1)
        self.gw.sql_write("UPDATE cards SET valid_until = ? WHERE card_no = ?",
                          yesterday.isoformat(), rec2["card_no"])
        valid_day = int(datetime.datetime(yesterday.year, yesterday.month, yesterday.day, 4, 0,
                                          tzinfo=datetime.timezone.utc)
                        .timestamp() * 1000)  # 12:00 campus time
        self.assertEqual(self.send("POS-OFF", self.offline(card2, 300, valid_day))[1:],
                         ["ok", 300, 1700])
        self.assertEqual(self.send("POS-OFF", self.offline(card2, 300, now_ms() - 1000)),
                         [None, "refused", "expired", 0])
        self.assertEqual(self.balance("S2"), 1700)
        # a forged upload is refused like any card verb
        forged = self.offline(card2, 300, now_ms() - 1000)
        forged[5] = "30"
        self.assertError(self.send("POS-OFF", forged), "BAD_CRYPTOGRAM")


    def test_an_upload_is_no_older_than_the_outcomes_kept(self):
        # [terminal] request_retention 30d less [cards] max_clock_skew 10m (the defaults)
        card, _, _ = self.holder("S1", "50.00")
        window = 30 * 86400000 - 600000
        too_old = self.send("POS-OFF", self.offline(card, 500, now_ms() - window - 60000))
        self.assertError(too_old, "CLOCK_SKEW")
        self.assertIn("request_retention", too_old.message)
        self.assertEqual(self.balance("S1"), 5000)
        self.assertEqual(self.payments("S1"), [])
        self.assertEqual(self.send("POS-OFF", self.offline(card, 500, now_ms() - window +
                                                           3600000))[1:], ["ok", 500, 4500])
        # why: an online PAY refused before it took the ATC carries a PAY cryptogram too;
        # uploaded under its seq it is SEQ_REUSED only while its outcome is kept
        online = self.signed(card, "POS-OFF", "PAY", 20000)
        self.assertError(self.send("POS-OFF", online), "PIN_REQUIRED")
        upload = list(online)
        upload[0] = "PAY.OFFLINE"
        self.assertError(self.send("POS-OFF", upload), "SEQ_REUSED")
        self.assertEqual(self.balance("S1"), 4500)

    def test_a_sale_while_the_card_was_lost_stays_refused_after_unlock(self):
        card, rec, idn = self.holder("S1", "20.00")
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        time.sleep(0.01)
        while_lost = self.offline(card, 700, now_ms())  # the finder buys lunch offline
        time.sleep(0.01)
        self.gw.ctl("card", "unlock", rec["card_no"], "--id-number", idn)
        time.sleep(0.01)
        after_unlock = self.offline(card, 300, now_ms())
        r = self.send("POS-OFF", while_lost)
        self.assertEqual(r, [None, "refused", "lost", 0],
                         "a sale made while the card was reported lost must not be charged, "
                         "even when it is uploaded after the unlock")
        self.assertEqual(self.send("POS-OFF", after_unlock)[1:], ["ok", 300, 1700])
        self.assertEqual(self.balance("S1"), 1700)


# ---- the audit can fail ------------------------------------------------------------------------

    def test_an_offline_sale_under_a_seq_paid_before_is_refused_and_logged(self):
        # A terminal that numbers a sale with a seq it used before, that payment's outcome
        # pruned: not told apart from the same sale uploaded again, so not charged, and the
        # card centre's log names the card, the amount and the terminal.
        card, rec, _ = self.holder("S1", "30.00")
        hour_ago = now_ms() - 3600000
        self.assertEqual(self.send("POS-OFF", self.offline(card, 1000, hour_ago, seq=5))[1:],
                         ["ok", 1000, 2000])
        self.gw.sql_write("DELETE FROM terminal_requests WHERE terminal = 'POS-OFF'")
        again = self.offline(card, 200, hour_ago + 60000, seq=5)
        reply = self.send("POS-OFF", again)
        self.assertError(reply, "SEQ_REUSED")
        self.assertIn("no longer kept", reply.message)
        self.assertEqual(self.balance("S1"), 2000)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(1,)])
        self.assertIn("card %s: offline sale of 200 fen at POS-OFF refused" % rec["card_no"],
                      self.gw.log_text())
        self.assertAuditClean()


class AuditTest(WalletCase):
    def test_audit_fails_on_a_tampered_ledger_and_names_the_check(self):
        self.merchant("canteen-1")
        self.terminal("POS-1")
        card, _, _ = self.holder("S1", "50.00")
        pid = self.assertPaid(self.pay(card, 1000), 1000, 4000)
        self.assertAuditClean()
        wallet = str(self.person_id("S1"))
        cols = ("at, card_time, day, card_no, person_id, terminal, seq, merchant, amount, "
                "discount, fee, charged, refunded, offline, flag")
        unique = []

        def apply_twice(con):
            # the database may refuse a second payment of a (terminal, seq) by itself: the
            # audit must find one anyway, so that protection is lifted for the tampering
            unique.extend(con.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                "tbl_name = 'payments' AND sql LIKE 'CREATE UNIQUE%'").fetchall())
            for name, _ in unique:
                con.execute("DROP INDEX %s" % name)
            con.execute("INSERT INTO payments (%s) SELECT %s FROM payments WHERE id = %d"
                        % (cols, cols, pid))

        def put_right(con):
            con.execute("DELETE FROM payments WHERE id > %d" % pid)
            for _, sql in unique:
                con.execute(sql)

        # behind the gateway's back: one fen more in the wallet, the payment applied twice
        self.with_stopped_gateway(
            "UPDATE accounts SET balance = balance + 1 WHERE kind = 'wallet' AND owner = '%s'"
            % wallet, apply_twice)
        rc, checks, err = self.run_audit()
        self.assertEqual(rc, 1, err)
        self.assertIn("AUDIT_FAILED", err)
        failed = {k for k, v in checks.items() if v["result"] != "ok"}
        # the copy is on no holder's chain of payments either
        self.assertEqual(failed, {"sum_zero", "balances_match_transfers", "idempotency_once",
                                  "payment_chains", "summary"})
        self.assertEqual(checks["summary"]["result"], "FAILED")
        self.assertIn("the sum is 1", checks["sum_zero"]["detail"])
        self.assertIn("wallet:%s has 4001 but transfers say 4000" % wallet,
                      checks["balances_match_transfers"]["detail"])
        self.assertIn("POS-1#1", checks["idempotency_once"]["detail"])
        # the plain-text report fails the same way
        p = self.gw.ctl("audit", check=False, json_out=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("VIOLATION", p.stdout)
        # a refund record that does not match the payment
        self.with_stopped_gateway(
            "UPDATE accounts SET balance = balance - 1 WHERE kind = 'wallet' AND owner = '%s'"
            % wallet,
            put_right,
            "UPDATE payments SET refunded = 1 WHERE id = %d" % pid)
        rc, checks, _ = self.run_audit()
        self.assertEqual(rc, 1)
        self.assertEqual({k for k, v in checks.items() if v["result"] != "ok"},
                         {"refunds_within_original", "summary"})
        self.assertIn("payment %d" % pid, checks["refunds_within_original"]["detail"])
        # put right: clean again (and tearDown proves it once more)
        self.with_stopped_gateway("UPDATE payments SET refunded = 0 WHERE id = %d" % pid)
        self.assertAuditClean()

    def test_the_audit_finds_references_to_nothing(self):
        # payments and transfers declare no foreign keys (schema v13): the audit checks them
        self.merchant("canteen-1")
        self.terminal("POS-1")
        card, _, _ = self.holder("S1", "50.00")
        pid = self.assertPaid(self.pay(card, 1000), 1000, 4000)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM pragma_foreign_key_list('payments')"
                                     " UNION ALL SELECT count(*) FROM "
                                     "pragma_foreign_key_list('transfers')"), [(0,), (0,)])
        self.assertAuditClean()
        self.with_stopped_gateway(
            "UPDATE payments SET merchant = 'nobody' WHERE id = %d" % pid,
            # between two accounts that do not exist: the sums cannot see it
            "INSERT INTO transfers (at, from_account, to_account, amount, kind) "
            "VALUES (1, 9998, 9999, 5, 'pay')")
        rc, checks, _ = self.run_audit()
        self.assertEqual(rc, 1)
        self.assertEqual({k for k, v in checks.items() if v["result"] != "ok"},
                         {"references", "summary"})
        tid = self.gw.sql("SELECT max(id) FROM transfers")[0][0]
        self.assertEqual(checks["references"]["detail"], "transfer %d; payment %d" % (tid, pid))

        def put_right(con):  # transfers cannot be deleted (a trigger): lifted for this
            trigger = con.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND "
                                  "name = 'transfers_no_delete'").fetchone()[0]
            con.execute("DROP TRIGGER transfers_no_delete")
            con.execute("DELETE FROM transfers WHERE id = ?", (tid,))
            con.execute(trigger)

        self.with_stopped_gateway(
            "UPDATE payments SET merchant = 'canteen-1' WHERE id = %d" % pid, put_right)
        self.assertAuditClean()
        # each of a payment's other references, one at a time
        for column in ("person_id", "transfer", "fee_transfer"):
            was = self.gw.sql("SELECT %s FROM payments WHERE id = ?" % column, pid)[0][0]
            self.with_stopped_gateway("UPDATE payments SET %s = 99999 WHERE id = %d"
                                      % (column, pid))
            rc, checks, _ = self.run_audit()
            self.assertEqual(rc, 1, column)
            self.assertEqual(checks["references"]["detail"], "payment %d" % pid, column)
            self.with_stopped_gateway("UPDATE payments SET %s = %s WHERE id = %d"
                                      % (column, "NULL" if was is None else was, pid))
        self.assertAuditClean()


class LedgerIndexTest(WalletCase):
    """Schema v6 (store/migrations.c): transfers_from leaves out a card payment's transfers,
    which a wallet's history finds through the holder's payments; payments_by_card is gone.
    Every view of the ledger must still show every movement exactly once."""

    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")
        self.merchant("canteen-2", "canteen", "--fee-temporary", "10", "--discount", "5")
        self.merchant("water-1", "water")
        self.terminal("POS-2", owner="canteen-2")
        self.terminal("DISP-1", "dispenser", owner="water-1")

    def test_a_wallets_history_lists_payments_fees_and_holds_once(self):
        tcard, _ = self.temporary_holder("V1", "150.00")
        self.assertPaid(self.pay(tcard, 3333, tid="POS-2"), 3483, 11517)  # 31.67 + fee 3.16
        hold_id = self.hold(tcard, 1000)[0]
        self.assertPaid(self.capture(hold_id, 350), 350, 11167)  # paid from escrow
        pid = self.gw.sql("SELECT id FROM payments WHERE fee > 0")[0][0]
        p1 = self.gw.sql("SELECT transfer, fee_transfer FROM payments WHERE id = ?", pid)[0]
        self.assertEqual(self.gw.sql("SELECT kind, amount FROM transfers WHERE id IN (?, ?) "
                                     "ORDER BY id", *p1), [("pay", 3167), ("mgmt_fee", 316)])
        self.gw.ctl("payment", "refund", str(pid), "--amount", "1.00", "--reason", "twice")
        st = self.gw.ctl("account", "statement", "V1")
        moves = [(m["kind"], m["amount"]) for m in st[1:-1]]
        self.assertEqual(moves, [("topup_cash", "150.00"), ("pay", "-31.67"),
                                 ("mgmt_fee", "-3.16"), ("hold", "-10.00"),
                                 ("hold_release", "6.50"), ("refund", "1.00")])
        self.assertEqual(st[-1]["balance"], yuan(self.balance("V1")))
        shown = table_rows(self.gw.ctl("account", "show", "V1")[1])
        self.assertEqual(sorted((r["kind"], r["amount"].lstrip("-")) for r in shown),
                         sorted((k, a.lstrip("-")) for k, a in moves))
        # a statement from just after the payment: its opening balance counts the fee too
        self.assertEqual(self.gw.ctl("account", "statement", "V1", "--from",
                                     (campus_today() + datetime.timedelta(days=1)).isoformat()
                                     )[0]["balance"], yuan(self.balance("V1")))
        # the schema: transfers_from no longer lists card payments, payments_by_card is gone
        self.assertIn("WHERE kind <> 'pay' AND kind <> 'pay_offline' AND kind <> 'mgmt_fee'",
                      self.gw.sql("SELECT sql FROM sqlite_master WHERE name = 'transfers_from'")
                      [0][0])
        # v7: deciding whether a transfer goes into that index needs no temporary B-tree
        # (a NOT IN list built one on every INSERT)
        plan = [r[1] for r in self.gw.sql(
            "EXPLAIN INSERT INTO transfers (at, from_account, to_account, amount, kind, "
            "card_no, terminal, operator, original, memo) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", *([None] * 10))]
        self.assertIn("IdxInsert", plan)
        self.assertNotIn("OpenEphemeral", plan)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_master "
                                     "WHERE name = 'payments_by_card'"), [(0,)])

    def test_search_by_card_finds_each_cards_own_payments_after_replacement(self):
        card, rec, idn = self.holder("S1", "100.00")
        self.pay(card, 100)
        new = self.gw.ctl("card", "replace", rec["card_no"], "--id-number", idn, "--defect",
                          "chip")
        card2 = SimCard(MASTER_KEY, uid=new["uid"])
        self.pay(card2, 200)
        self.pay(card2, 300)

        def amounts(*args):
            return sorted(fen(r["amount"]) for r in self.gw.ctl("payment", "search", *args))

        self.assertEqual(amounts("--card", rec["card_no"]), [100])
        self.assertEqual(amounts("--card", new["card_no"]), [200, 300])
        self.assertEqual(amounts("--person", "S1"), [100, 200, 300])
        self.assertEqual(amounts("--card", "9999999999"), [])


class PaymentChainTest(WalletCase):
    """Schema v10 (store/migrations.c): a holder's payments are a chain, from the wallet's
    newest payment (accounts.last_payment) back through each payment's prev_payment, instead
    of the index payments_by_person. Histories, searches and the audit read the chain."""

    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")
        self.merchant("water-1", "water")
        self.terminal("DISP-1", "dispenser", owner="water-1")

    def chain(self, no):
        """Payment ids along a holder's chain, newest first, read straight from the tables."""
        ids = []
        row = self.gw.sql("SELECT last_payment FROM accounts WHERE kind = 'wallet' AND owner = ?",
                          str(self.person_id(no)))
        pid = row[0][0] if row else None
        while pid is not None:
            ids.append(pid)
            pid = self.gw.sql("SELECT prev_payment FROM payments WHERE id = ?", pid)[0][0]
        return ids

    def test_interleaved_holders_each_walk_their_own_payments(self):
        c1, _, _ = self.holder("S1", "100.00")
        c2, _, _ = self.holder("S2", "100.00")
        paid = {"S1": [], "S2": []}
        for no, card, amount in (("S1", c1, 100), ("S2", c2, 200), ("S1", c1, 300),
                                 ("S2", c2, 400), ("S1", c1, 500)):
            paid[no].append(self.pay(card, amount)[0])
        hold_id = self.hold(c1, 1000)[0]
        paid["S1"].append(self.capture(hold_id, 350)[0])  # a captured hold is a payment too
        self.assertEqual(self.chain("S1"), paid["S1"][::-1])
        self.assertEqual(self.chain("S2"), paid["S2"][::-1])
        found = self.gw.ctl("payment", "search", "--person", "S1")
        self.assertEqual([fen(r["amount"]) for r in found], [350, 500, 300, 100])
        self.assertEqual([fen(r["amount"]) for r in self.gw.ctl("payment", "search", "--person",
                                                                 "S2")], [400, 200])
        st = self.gw.ctl("account", "statement", "S1")
        self.assertEqual([(m["kind"], m["amount"]) for m in st[1:-1]],
                         [("topup_cash", "100.00"), ("pay", "-1.00"), ("pay", "-3.00"),
                          ("pay", "-5.00"), ("hold", "-10.00"), ("hold_release", "6.50")])
        self.assertEqual(st[-1]["balance"], yuan(self.balance("S1")))
        # nothing keyed by the holder is left to insert into at a random place
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_master "
                                     "WHERE name = 'payments_by_person'"), [(0,)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                                     "AND tbl_name = 'payments' AND sql LIKE '%person_id%'"),
                         [(0,)])

    def test_a_search_from_a_date_walks_back_a_day_past_it(self):
        c1, _, _ = self.holder("S1", "100.00")
        ids = [self.pay(c1, amount)[0] for amount in (100, 200, 300)]
        day = DAY_MS
        start = campus_day_start_ms(campus_today() - datetime.timedelta(days=6))
        # the oldest 20 days back, the middle one 5 days back, and the newest, as after a
        # step of the clock, half a day before --from: the walk must pass it to find the
        # middle one, and may stop after the oldest
        self.with_stopped_gateway(*("UPDATE payments SET at = %d WHERE id = %d" % (at, pid)
                                    for pid, at in zip(ids, (start - 14 * day, start + day,
                                                             start - day // 2))))
        since = (campus_today() - datetime.timedelta(days=6)).isoformat()
        self.assertEqual([fen(r["amount"]) for r in self.gw.ctl(
            "payment", "search", "--person", "S1", "--from", since)], [200])
        self.assertEqual([fen(r["amount"]) for r in self.gw.ctl(
            "payment", "search", "--person", "S1", "--from", "1970-01-01")], [300, 200, 100])

    def test_the_audit_finds_a_payment_off_its_chain(self):
        c1, _, _ = self.holder("S1", "100.00")
        first = self.pay(c1, 100)[0]
        second = self.pay(c1, 200)[0]
        self.assertEqual(self.chain("S1"), [second, first])
        pid = self.person_id("S1")
        for damage in ("UPDATE payments SET prev_payment = NULL WHERE id = %d" % second,
                       # a link that does not lead back is not followed: the walk ends
                       "UPDATE payments SET prev_payment = %d WHERE id = %d" % (second, second)):
            self.with_stopped_gateway(damage)
            rc, checks, _ = self.run_audit()
            self.assertEqual(rc, 1)
            self.assertEqual({k for k, v in checks.items() if v["result"] != "ok"},
                             {"payment_chains", "summary"})
            self.assertIn("holder %d: 2 payments, 1 on the chain" % pid,
                          checks["payment_chains"]["detail"])
            # what is off the chain is missing from the holder's search: hence the check
            self.assertEqual(len(self.gw.ctl("payment", "search", "--person", "S1")), 1)
        self.with_stopped_gateway("UPDATE payments SET prev_payment = %d WHERE id = %d"
                                  % (first, second))
        self.assertAuditClean()


class OldSchemaCase(WalletCase):
    """A test that starts yktd on a database an older yktd wrote (database_at)."""

    def setUp(self):
        self.gw = Gateway(start=False)
        self.addCleanup(self.gw.cleanup)
        self.secrets, self.conns, self.seqs, self.people = {}, {}, {}, 0

    def database_at(self, version, rows):
        """Creates the database at schema VERSION with the SQL ROWS in it, as that yktd
        left it (not started); returns every migration's text."""
        migs = migrations_text()
        con = sqlite3.connect(self.gw.db, isolation_level=None)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA foreign_keys = ON")
        for v, sql in enumerate(migs[:version], 1):
            con.executescript("BEGIN IMMEDIATE;%sPRAGMA user_version = %d;COMMIT;" % (sql, v))
        con.executescript(rows)
        con.close()
        return migs


class SchemaV10MigrationTest(OldSchemaCase):
    """A database of schema version 9, whose holders' payments were found by the index
    payments_by_person, comes up with each holder's payments chained from the wallet, the
    index gone, and the same histories and searches (v10), and the day's spending keyed by
    the day first (v11)."""

    def test_version_9_payments_are_chained_per_holder(self):
        migs = self.database_at(9, """
            INSERT INTO people (id, person_no, kind, name, gender, id_number, department,
                valid_until, validity_source, created_at, updated_at) VALUES
                (1, 'S1', 'student', '张三', 'M', '110105200503070019', 'CS', '2030-07-31',
                 'study_length', 1, 1),
                (2, 'S2', 'student', '李四', 'M', '110105200503070027', 'CS', '2030-07-31',
                 'study_length', 1, 1);
            INSERT INTO accounts (id, kind, owner, balance, created_at) VALUES
                (1, 'wallet', '1', 9600, 1), (2, 'wallet', '2', 9800, 1),
                (3, 'merchant', 'canteen-1', 600, 1), (4, 'cash', 'main', -20000, 1);
            INSERT INTO merchants (id, name, category, account, created_at) VALUES
                ('canteen-1', 'C1', 'canteen', 3, 1);
            INSERT INTO transfers (id, at, from_account, to_account, amount, kind, card_no,
                terminal, memo) VALUES
                (1, 1000, 4, 1, 10000, 'topup_cash', NULL, NULL, ''),
                (2, 1000, 4, 2, 10000, 'topup_cash', NULL, NULL, ''),
                (3, 2000, 1, 3, 100, 'pay', '8000000001', 'POS-1', 'canteen-1'),
                (4, 3000, 2, 3, 200, 'pay', '8000000002', 'POS-1', 'canteen-1'),
                (5, 4000, 1, 3, 300, 'pay', '8000000001', 'POS-1', 'canteen-1');
            INSERT INTO payments (id, at, card_time, day, card_no, person_id, terminal, seq,
                merchant, amount, charged, transfer) VALUES
                (1, 2001, 2000, '2026-01-01', '8000000001', 1, 'POS-1', 1, 'canteen-1', 100,
                 100, 3),
                (2, 3001, 3000, '2026-01-01', '8000000002', 2, 'POS-1', 2, 'canteen-1', 200,
                 200, 4),
                (3, 4001, 4000, '2026-01-01', '8000000001', 1, 'POS-1', 3, 'canteen-1', 300,
                 300, 5);
            INSERT INTO daily_spend (person_id, day, amount) VALUES
                (1, '2026-01-01', 400), (2, '2026-01-01', 200), (1, '2025-12-31', 50);
        """)
        self.gw.start()
        self.assertEqual(self.gw.sql("PRAGMA user_version"), [(len(migs),)])
        self.assertEqual(self.gw.sql("SELECT id, prev_payment FROM payments ORDER BY id"),
                         [(1, None), (2, None), (3, 1)])
        self.assertEqual(self.gw.sql("SELECT owner, last_payment FROM accounts "
                                     "ORDER BY id"),
                         [("1", 3), ("2", 2), ("canteen-1", None), ("main", None)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_master "
                                     "WHERE name = 'payments_by_person'"), [(0,)])
        st = self.gw.ctl("account", "statement", "S1", "--from", "1970-01-01")
        self.assertEqual([(m["kind"], m["amount"]) for m in st[1:-1]],
                         [("topup_cash", "100.00"), ("pay", "-1.00"), ("pay", "-3.00")])
        self.assertEqual(st[-1]["balance"], "96.00")
        self.assertEqual([fen(r["amount"]) for r in self.gw.ctl(
            "payment", "search", "--person", "S2", "--from", "1970-01-01")], [200])
        self.assertEqual([fen(r["amount"]) for r in self.gw.ctl(
            "payment", "search", "--person", "S1", "--from", "1970-01-01")], [300, 100])
        # v11: the day's spending, keyed by the day first, with every row kept
        self.assertIn("PRIMARY KEY (day, person_id)", self.gw.sql(
            "SELECT sql FROM sqlite_master WHERE name = 'daily_spend'")[0][0])
        self.assertEqual(self.gw.sql("SELECT day, person_id, amount FROM daily_spend "
                                     "ORDER BY day, person_id"),
                         [("2025-12-31", 1, 50), ("2026-01-01", 1, 400),
                          ("2026-01-01", 2, 200)])
        self.assertEqual(self.gw.sql("PRAGMA foreign_key_check"), [])
        self.assertEqual(self.gw.sql("PRAGMA integrity_check"), [("ok",)])


class SchemaV12MigrationTest(OldSchemaCase):
    """A database of schema version 11, whose outcomes of (terminal, seq) were keyed by
    them, comes up with them archived (v12): in the partial index a lookup searches once
    the walk of the day's outcomes ends, with terminal_heads holding each terminal's newest
    and highest seq, after which its next outcome is chained."""

    def test_version_11_outcomes_are_archived(self):
        # kept within the hour: the prune job at start leaves them
        t = int(time.time() * 1000) - 3600000
        migs = self.database_at(11, """
            INSERT INTO terminal_requests (terminal, seq, digest, reply, at) VALUES
                ('POS-1', 1, x'01', CAST('+OK' AS BLOB), %d),
                ('POS-2', 7, x'02', CAST('+OK' AS BLOB), %d),
                ('POS-1', 2, x'03', CAST('-NO_FUNDS x' AS BLOB), %d),
                ('POS-1', 5, x'04', CAST('+OK' AS BLOB), %d),
                ('POS-1', 3, x'05', CAST(':7' AS BLOB), %d);
        """ % (t + 1000, t + 1500, t + 2000, t + 3000, t + 4000))
        self.gw.start()
        self.assertEqual(self.gw.sql("PRAGMA user_version"), [(len(migs),)])
        # in the order of their old key; archived, they are never walked: no links
        self.assertEqual(self.gw.sql("SELECT id, terminal, seq, prev_id, floor, archived, "
                                     "digest, CAST(reply AS TEXT), at FROM terminal_requests "
                                     "ORDER BY id"),
                         [(1, "POS-1", 1, None, 0, 1, b"\x01", "+OK", t + 1000),
                          (2, "POS-1", 2, None, 0, 1, b"\x03", "-NO_FUNDS x", t + 2000),
                          (3, "POS-1", 3, None, 0, 1, b"\x05", ":7", t + 4000),
                          (4, "POS-1", 5, None, 0, 1, b"\x04", "+OK", t + 3000),
                          (5, "POS-2", 7, None, 0, 1, b"\x02", "+OK", t + 1500)])
        self.assertEqual(self.gw.sql("SELECT terminal, last_id, max_seq, day_max FROM "
                                     "terminal_heads ORDER BY terminal"),
                         [("POS-1", 4, 5, 0), ("POS-2", 5, 7, 0)])
        self.assertEqual(self.gw.sql("SELECT value FROM meta WHERE key = "
                                     "'outcomes_archived_upto'"), [(5,)])
        # each is found by the index the lookup of store/cards.c searches
        find = ("SELECT digest FROM terminal_requests WHERE terminal = ? AND seq = ? "
                "AND archived = 1 ORDER BY id LIMIT 1")
        for term, seq, digest in (("POS-1", 1, b"\x01"), ("POS-1", 2, b"\x03"),
                                  ("POS-1", 3, b"\x05"), ("POS-1", 5, b"\x04"),
                                  ("POS-2", 7, b"\x02")):
            self.assertEqual(self.gw.sql(find, term, seq), [(digest,)], (term, seq))
        self.assertIn("USING INDEX terminal_requests_archived",
                      " ".join(r[3] for r in self.gw.sql("EXPLAIN QUERY PLAN " + find,
                                                         "POS-1", 4)))
        # a new outcome joins its terminal's chain in its own statement (the trigger)
        self.gw.sql_write("INSERT INTO terminal_requests (terminal, seq, digest, reply, at, "
                          "prev_id, floor) SELECT 'POS-2', 8, x'06', x'00', ?, h.last_id, "
                          "h.day_max FROM terminal_heads h WHERE h.terminal = 'POS-2'", t + 5000)
        self.assertEqual(self.gw.sql("SELECT last_id, max_seq, day_max FROM terminal_heads "
                                     "WHERE terminal = 'POS-2'"), [(6, 8, 8)])
        self.assertEqual(self.gw.sql("SELECT prev_id, floor, archived FROM terminal_requests "
                                     "WHERE id = 6"), [(5, 0, 0)])
        self.assertEqual(self.gw.sql("PRAGMA integrity_check"), [("ok",)])


class SchemaV13MigrationTest(OldSchemaCase):
    """A database of schema version 12 comes up without the foreign keys of payments and
    transfers (the audit checks those references now), without payments_unsettled and the
    settlement mark it served, and with everything else as it was (v13)."""

    def test_version_12_payments_and_transfers_lose_their_foreign_keys_only(self):
        migs = self.database_at(12, """
            INSERT INTO people (id, person_no, kind, name, gender, id_number, department,
                valid_until, validity_source, created_at, updated_at) VALUES
                (1, 'S1', 'student', '张三', 'M', '110105200503070019', 'CS', '2030-07-31',
                 'study_length', 1, 1);
            INSERT INTO accounts (id, kind, owner, balance, created_at, last_payment) VALUES
                (1, 'wallet', '1', 8950, 1, 2), (2, 'merchant', 'canteen-2', 0, 1, NULL),
                (3, 'fee_income', '', 50, 1, NULL), (4, 'cash', 'main', -10000, 1, NULL),
                (5, 'bank_clearing', '', 1000, 1, NULL);
            INSERT INTO merchants (id, name, category, account, created_at) VALUES
                ('canteen-2', 'C2', 'canteen', 2, 1);
            INSERT INTO transfers (id, at, from_account, to_account, amount, kind, card_no,
                terminal, memo) VALUES
                (1, 1000, 4, 1, 10000, 'topup_cash', NULL, NULL, ''),
                (2, 2000, 1, 2, 1000, 'pay', '8000000001', 'POS-2', 'canteen-2'),
                (3, 2000, 1, 3, 50, 'mgmt_fee', '8000000001', 'POS-2', 'canteen-2'),
                (4, 5000, 2, 5, 1000, 'settlement', NULL, NULL, '1970-01-01');
            INSERT INTO payments (id, at, card_time, day, card_no, person_id, terminal, seq,
                merchant, amount, discount, fee, charged, transfer, fee_transfer, settlement)
                VALUES (1, 2001, 2000, '1970-01-01', '8000000001', 1, 'POS-2', 1, 'canteen-2',
                        1000, 0, 50, 1050, 2, 3, 1);
            UPDATE payments SET prev_payment = NULL;
            UPDATE accounts SET last_payment = 1 WHERE id = 1;
            INSERT INTO settlements (id, at, merchant, period, payments, gross, refunds,
                commission, net, upto_transfer, transfer, operator) VALUES
                (1, 5000, 'canteen-2', '1970-01-01', 1, 1000, 0, 0, 1000, 2, 4, 'fin');
        """)
        self.gw.start()
        self.assertEqual(self.gw.sql("PRAGMA user_version"), [(len(migs),)])
        for table in ("payments", "transfers"):
            self.assertEqual(self.gw.sql("SELECT count(*) FROM pragma_foreign_key_list(?)",
                                         table), [(0,)], table)
        # the other tables keep theirs
        self.assertEqual(self.gw.sql("SELECT \"table\" FROM pragma_foreign_key_list('refunds') "
                                     "ORDER BY 1"), [("payments",), ("transfers",)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_schema WHERE "
                                     "name = 'payments_unsettled'"), [(0,)])
        # the mark stays as it was, no longer written (dropping it would rewrite the table)
        self.assertEqual(self.gw.sql("SELECT settlement FROM payments"), [(1,)])
        # only the REFERENCES clauses went: the checks of both tables are as they were
        sql = dict(self.gw.sql("SELECT name, sql FROM sqlite_schema WHERE name IN "
                               "('payments', 'transfers')"))
        self.assertIn("CHECK (refunded <= charged)", sql["payments"])
        self.assertIn("CHECK (from_account <> to_account)", sql["transfers"])
        self.assertNotIn("REFERENCES", sql["payments"] + sql["transfers"])
        self.assertEqual(self.gw.sql("SELECT id, transfer, fee_transfer, charged FROM payments"),
                         [(1, 2, 3, 1050)])
        # v14: which request advanced each card's ATC; unknown for the ATCs before it
        self.assertEqual([r[1] for r in self.gw.sql("PRAGMA table_info(cards)")][-3:],
                         ["atc_terminal", "atc_seq", "atc_digest"])
        self.assertEqual(self.gw.sql("PRAGMA foreign_key_check"), [])
        self.assertEqual(self.gw.sql("PRAGMA integrity_check"), [("ok",)])
        self.assertAuditClean()

    def test_a_table_text_it_does_not_expect_fails_the_migration_and_changes_nothing(self):
        self.database_at(12, "")
        con = sqlite3.connect(self.gw.db, isolation_level=None)
        con.executescript("PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = "
                          "replace(sql, 'REFERENCES transfers(id)', 'REFERENCES transfers (id)') "
                          "WHERE name = 'payments'; PRAGMA writable_schema = RESET;")
        con.close()
        with self.assertRaises(AssertionError) as e:
            self.gw.start()
        self.gw.proc = None  # it exited, as it should
        self.gw.log.close()
        self.assertIn("migration to schema version 13 failed: CHECK constraint failed: "
                      "payments_and_transfers_still_declare_foreign_keys", str(e.exception))
        self.assertEqual(self.gw.sql("PRAGMA user_version"), [(12,)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM pragma_foreign_key_list('transfers')"),
                         [(3,)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_schema WHERE "
                                     "name = 'payments_unsettled'"), [(1,)])


class SchemaV6MigrationTest(OldSchemaCase):
    """A database of schema version 5, with card payments made by the yktd of that version
    (the fee transfer right after the payment's own; a fee without a main transfer), comes
    up at version 6 with every fee transfer named by its payment and the same statement."""

    def test_version_5_payments_get_their_fee_transfers(self):
        migs = self.database_at(5, """
            INSERT INTO people (id, person_no, kind, name, gender, id_number, department,
                valid_until, validity_source, created_at, updated_at) VALUES
                (1, 'S1', 'student', '张三', 'M', '110105200503070019', 'CS', '2030-07-31',
                 'study_length', 1, 1);
            INSERT INTO accounts (id, kind, owner, balance, created_at) VALUES
                (1, 'wallet', '1', 5467, 1), (2, 'merchant', 'canteen-2', 4167, 1),
                (3, 'fee_income', '', 366, 1), (4, 'cash', 'main', -10000, 1);
            INSERT INTO merchants (id, name, category, account, created_at) VALUES
                ('canteen-2', 'C2', 'canteen', 2, 1);
            INSERT INTO transfers (id, at, from_account, to_account, amount, kind, card_no,
                terminal, memo) VALUES
                (1, 1000, 4, 1, 10000, 'topup_cash', NULL, NULL, ''),
                (2, 2000, 1, 2, 3167, 'pay', '8000000001', 'POS-2', 'canteen-2'),
                (3, 2000, 1, 3, 316, 'mgmt_fee', '8000000001', 'POS-2', 'canteen-2'),
                (4, 3000, 1, 2, 1000, 'pay', '8000000001', 'POS-2', 'canteen-2'),
                (5, 4000, 1, 3, 50, 'mgmt_fee', '8000000001', 'POS-2', 'canteen-2');
            INSERT INTO payments (id, at, card_time, day, card_no, person_id, terminal, seq,
                merchant, amount, discount, fee, charged, transfer) VALUES
                (1, 2001, 2000, '2026-01-01', '8000000001', 1, 'POS-2', 1, 'canteen-2',
                 3333, 166, 316, 3483, 2),
                (2, 3001, 3000, '2026-01-01', '8000000001', 1, 'POS-2', 2, 'canteen-2',
                 1000, 0, 0, 1000, 4),
                (3, 4001, 4000, '2026-01-01', '8000000001', 1, 'POS-2', 3, 'canteen-2',
                 500, 500, 50, 50, NULL);
        """)
        self.gw.start()
        self.assertEqual(self.gw.sql("PRAGMA user_version"), [(len(migs),)])
        self.assertEqual(self.gw.sql("SELECT id, coalesce(transfer, 0), coalesce(fee_transfer, 0) "
                                     "FROM payments ORDER BY id"),
                         [(1, 2, 3), (2, 4, 0), (3, 0, 5)])
        st = self.gw.ctl("account", "statement", "S1", "--from", "1970-01-01")
        self.assertEqual([(m["kind"], m["amount"]) for m in st[1:-1]],
                         [("topup_cash", "100.00"), ("pay", "-31.67"), ("mgmt_fee", "-3.16"),
                          ("pay", "-10.00"), ("mgmt_fee", "-0.50")])
        self.assertEqual(st[-1]["balance"], "54.67")
        self.assertEqual(self.gw.sql("PRAGMA foreign_key_check"), [])
        self.assertEqual(self.gw.sql("PRAGMA integrity_check"), [("ok",)])
