"""Cards end to end (R-C1..R-C12): issuance with approvals and fees, one live card per
medium, status enforced by every verb (lost, frozen, expired, cancelled), loss and unlock at
the counter with the holder's own ID, loss at a kiosk with the query password, replacement
and its fee, cancellation and refunds, confiscation and found cards, registry and HR reports,
the dormant-funds rule, the blacklist with its versions, passwords and their lock, card
cryptograms (clones, forgeries, replays, clock skew), (terminal, seq) idempotency, and the
audit trail of every counter step.

Every test starts the real yktd and speaks its real protocols: RESP on the terminal port with
software cards (ykt_cards.SimCard, an independent implementation of the card cryptograms) and
yktctl on the admin socket.
"""

import calendar
import datetime
import json
import os
import pwd
import sqlite3
import subprocess
import time
import unittest

from harness import BUILD_DIR, MASTER_KEY, GatewayTest, prc_id
from ykt_cards import SimCard

LOCAL = "local:" + pwd.getpwuid(os.geteuid()).pw_name

TERMINALS = {"POS-1": "pos", "POS-2": "pos", "KIOSK-1": "kiosk", "GATE-1": "gate",
             "BANK-1": "bank"}

MERCHANT = "canteen-1"
FEE = 1000  # [cards] replacement_fee: 10.00 CNY in fen
STUDENT_UNTIL = "2029-07-31"  # enrolled 2025-09-01 for 4 years (R-C3)


def campus_today():
    """Today in the campus time zone (Asia/Shanghai, UTC+8, no daylight saving)."""
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()


def add_months(d, n):
    m = d.month - 1 + n
    y, m = d.year + m // 12, m % 12 + 1
    return datetime.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def other_password(pw):
    """A six-digit password that is surely not pw."""
    return "%06d" % ((int(pw) + 1) % 1000000)


class CardCase(GatewayTest):
    """A gateway with one terminal of each kind the tests need, and helpers to register
    people, issue cards and swipe them."""

    def setUp(self):
        super().setUp()
        # the POS terminals sell for a canteen (PAY needs the terminal's merchant)
        self.gw.ctl("merchant", "add", MERCHANT, "--name", "一食堂", "--category", "canteen")
        self.secrets = {}
        self.conns = {}
        self.seqs = {}
        self.people = 0

    # ---- terminals and swipes ----

    def secret(self, tid):
        """Registers the terminal on first use (with a generated secret: quick to check)."""
        if tid not in self.secrets:
            owner = ["--owner", MERCHANT] if TERMINALS[tid] == "pos" else []
            rec = self.gw.ctl("terminal", "add", tid, "--type", TERMINALS[tid], *owner)
            self.secrets[tid] = rec["secret"]
        return self.secrets[tid]

    def term(self, tid):
        if tid not in self.conns:
            self.conns[tid] = self.gw.terminal(tid, self.secret(tid))
        return self.conns[tid]

    def next_seq(self, tid):
        self.seqs[tid] = self.seqs.get(tid, 0) + 1
        return self.seqs[tid]

    def swipe(self, card, verb, *extra, tid="POS-1", **kw):
        args = card.swipe(tid, self.next_seq(tid), verb, extra=extra, **kw)
        return self.term(tid).call(*args)

    def info(self, card, tid="POS-1", **kw):
        return self.swipe(card, "CARD.INFO", tid=tid, **kw)

    def passwd(self, card, which, old, new, tid="KIOSK-1"):
        return self.swipe(card, "CARD.PASSWD", which, old, new, tid=tid)

    def report_loss(self, person_no, password, medium=None, tid="KIOSK-1"):
        args = ["CARD.REPORT_LOSS", self.next_seq(tid), person_no, password]
        if medium:
            args.append(medium)
        return self.term(tid).call(*args)

    def blacklist(self, since, tid="GATE-1"):
        """BLACKLIST since -> (version, more, [(uid, state, card_no)...])."""
        r = self.term(tid).call("BLACKLIST", since)
        self.assertIsInstance(r, list, r)
        return r[0], r[1], [tuple(e) for e in r[2:]]

    # ---- people and cards ----

    def new_id_number(self, birth="20050307"):
        self.people += 1
        return prc_id("110105" + birth + "%03d" % self.people)

    def add_person(self, no, kind="student", name="张三", department="CS", until=None,
                   enrolled="2025-09-01", years=4, phone="13812345678"):
        idn = self.new_id_number()
        args = ["person", "add", no, "--kind", kind, "--name", name, "--gender", "M",
                "--id-number", idn, "--department", department, "--phone", phone]
        if kind == "student":
            args += ["--class", department + "-2025-1", "--enrolled", enrolled,
                     "--study-years", str(years)]
        else:
            args += ["--valid-until", until]
        self.gw.ctl(*args)
        return idn

    def approve(self, no, ref="HR-2026-031"):
        self.gw.ctl("approval", "add", no, "--kind", "unit_leader", "--approver", "王主任",
                    "--ref", ref + "-U")
        self.gw.ctl("approval", "add", no, "--kind", "functional_dept", "--approver", "人事处",
                    "--ref", ref + "-F")

    def issue(self, no, *args):
        """card issue NO ARGS -> (SimCard for the new credential, the reply record)."""
        rec = self.gw.ctl("card", "issue", no, *args)
        return SimCard(MASTER_KEY, uid=rec["uid"], phone=rec["medium"] == "phone"), rec

    def student_card(self, no="S1", **kw):
        """A student with a card: (SimCard, issue record, ID number)."""
        idn = self.add_person(no, **kw)
        card, rec = self.issue(no)
        return card, rec, idn

    def topup(self, no, amount):
        return self.gw.ctl("account", "topup", no, "--amount", amount)["balance_fen"]

    def balance(self, no):
        """The holder's wallet balance in fen, from `account show`."""
        text = self.gw.ctl("account", "show", no)[0]
        return int(round(float(text) * 100))

    def show(self, card_no):
        return self.gw.ctl("card", "show", card_no)

    def history(self, card_no):
        return self.gw.ctl("card", "history", card_no)

    def account(self, kind, owner=None):
        """The balance of one account, or of all accounts of a kind (owner None)."""
        if owner is None:
            return self.gw.sql("SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = ?",
                               kind)[0][0]
        rows = self.gw.sql("SELECT balance FROM accounts WHERE kind = ? AND owner = ?", kind,
                           owner)
        return rows[0][0] if rows else 0

    def ledger_sum(self):
        return self.gw.sql("SELECT coalesce(sum(balance), 0) FROM accounts")[0][0]

    def audit(self, action):
        return self.gw.ctl("audit", "list", "--action", action)

    # ---- assertions ----

    def assertRefused(self, p, code):
        self.assertEqual(p.returncode, 1, "expected %s, got %d: %r %r"
                         % (code, p.returncode, p.stdout, p.stderr))
        self.assertTrue(p.stderr.startswith("yktctl: %s " % code), p.stderr)

    def ctl_fails(self, code, *args, **kw):
        p = self.gw.ctl(*args, check=False, **kw)
        self.assertRefused(p, code)
        return p.stderr

    def assertUnusable(self, card, person_no, code, topup=True):
        """Status is enforced by every verb: a read at a POS or kiosk, a password change at a
        kiosk, a payment at a POS, a self-service top-up at a kiosk and (for the holder's
        physical card) a cash top-up at the counter."""
        self.assertError(self.info(card), code)
        self.assertError(self.info(card, tid="KIOSK-1"), code)
        self.assertError(self.passwd(card, "query", "000000", "111111"), code)
        self.assertError(self.swipe(card, "PAY", amount=100), code)  # no payment
        self.assertError(self.swipe(card, "TOPUP", amount=100, tid="KIOSK-1"), code)
        if topup:
            self.ctl_fails(code, "account", "topup", person_no, "--amount", "1.00")


# ---- issuance (R-C1, R-C2, R-C11) ------------------------------------------------------------


class IssuanceTest(CardCase):
    def test_first_card_is_free_one_live_card_and_a_later_card_costs_the_fee(self):
        card, rec, idn = self.student_card("S1")
        self.assertRegex(rec["card_no"], r"^8\d{9}$")
        self.assertEqual((rec["person_no"], rec["medium"], rec["type"], rec["fee"]),
                         ("S1", "card", "regular", "0.00"))
        for which in ("initial_query_password", "initial_pay_password"):
            self.assertRegex(rec[which], r"^\d{6}$")
        self.assertEqual(self.info(card),
                         [rec["card_no"], "active", "regular", "张*", STUDENT_UNTIL, 0])
        show = self.show(rec["card_no"])
        self.assertEqual((show["uid"], show["status"], show["valid_until"], show["expired"],
                          show["issued_by"], show["last_atc"]),
                         (card.uid_hex, "active", STUDENT_UNTIL, "no", LOCAL, 1))
        # one person, one live card (一人一卡)
        self.ctl_fails("ALREADY_HAS_CARD", "card", "issue", "S1")
        # the passwords are stored only as salted hashes
        hashes = self.gw.sql("SELECT which, hash, initial FROM passwords")
        self.assertEqual(sorted(h[0] for h in hashes), ["pay", "query"])
        for which, h, initial in hashes:
            self.assertTrue(h.startswith("pbkdf2-sha256$"), h)
            self.assertNotIn(rec["initial_query_password"], h)
            self.assertEqual(initial, 1)
        # the card ends; a new card is not the first any more and costs the card fee
        self.gw.ctl("card", "cancel", rec["card_no"], "--id-number", idn, "--reason", "other")
        self.ctl_fails("INSUFFICIENT_FUNDS", "card", "issue", "S1")
        self.assertEqual(len(self.gw.ctl("card", "list", "--person", "S1")), 1)
        card2, rec2 = self.issue("S1", "--pay", "cash")
        self.assertEqual(rec2["fee"], "10.00")
        self.assertNotEqual(rec2["card_no"], rec["card_no"])
        # the holder keeps the passwords they have
        self.assertEqual(rec2["initial_query_password"], "(unchanged)")
        self.assertEqual(self.passwd(card2, "query", rec["initial_query_password"], "246810"),
                         "OK")
        self.assertEqual(self.gw.sql("SELECT kind, amount, card_no FROM transfers "
                                     "WHERE kind = 'card_fee'"),
                         [("card_fee", FEE, rec2["card_no"])])
        self.assertEqual(self.account("fee_income"), FEE)
        self.assertEqual(self.ledger_sum(), 0)

    def test_issue_refusals(self):
        self.add_person("S1")
        self.ctl_fails("NOT_FOUND", "card", "issue", "NOBODY")
        self.ctl_fails("BAD_REQUEST", "card", "issue", "S1", "--medium", "watch")
        self.ctl_fails("BAD_REQUEST", "card", "issue", "S1", "--type", "gold")
        self.ctl_fails("BAD_REQUEST", "card", "issue", "S1", "--uid", "XYZ")
        self.ctl_fails("BAD_REQUEST", "card", "issue", "S1", "--pay", "iou")
        card, rec = self.issue("S1", "--uid", "04a1b2c3d4e5f6")
        self.assertEqual(rec["uid"], "04A1B2C3D4E5F6")  # the chip's UID, as read by the printer
        self.assertEqual(self.info(card)[1], "active")
        # a UID belongs to one card only
        self.add_person("S2")
        self.ctl_fails("EXISTS", "card", "issue", "S2", "--uid", "04A1B2C3D4E5F6")
        # a person who left gets no card
        self.gw.ctl("person", "set-status", "S2", "withdrawn", "--ref", "REG-1")
        self.ctl_fails("BAD_STATE", "card", "issue", "S2")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM cards"), [(1,)])
        self.assertEqual(len(self.audit("card.issue")), 1)

    def test_batch_issue_by_department(self):
        for no in ("S1", "S2", "S3"):
            self.add_person(no, department="CS")
        self.add_person("S4", department="EE")
        self.add_person("T1", kind="staff", department="CS", until="2030-12-31")
        self.add_person("S5", department="CS")
        _, s5 = self.issue("S5")
        self.add_person("S6", department="CS")
        self.gw.ctl("person", "set-status", "S6", "graduated", "--ref", "REG-1")
        rows = self.gw.ctl("card", "batch-issue", "--department", "CS")
        self.assertEqual([r["person_no"] for r in rows], ["S1", "S2", "S3"])
        for r in rows:
            self.assertEqual(r["result"], "issued")
            self.assertRegex(r["initial_query_password"], r"^\d{6}$")
            self.assertRegex(r["initial_pay_password"], r"^\d{6}$")
            card = SimCard(MASTER_KEY, uid=r["uid"])
            self.assertEqual(self.info(card)[:2], [r["card_no"], "active"])
        # others are untouched: another department, staff, a holder, a graduate
        for no, count in (("S4", 0), ("T1", 0), ("S5", 1), ("S6", 0)):
            self.assertEqual(len(self.gw.ctl("card", "list", "--person", no)), count, no)
        # a second run finds nobody
        self.assertEqual(self.gw.ctl("card", "batch-issue", "--department", "CS"), [])
        # staff need their approvals even in a batch (R-C1); a refused row still gets its
        # line in the report, and makes yktctl's exit status 1 (a batch script notices)
        p = self.gw.ctl("card", "batch-issue", "--department", "CS", "--kind", "staff",
                        check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("1 of 1 rows refused", p.stderr)
        rows = json.loads(p.stdout)
        self.assertEqual([(r["person_no"], r["card_no"], r["result"]) for r in rows],
                         [("T1", None, "APPROVAL_REQUIRED")])
        self.assertIn("unit leader", rows[0]["reason"])
        p = self.gw.ctl("--csv", "card", "batch-issue", "--department", "CS", "--kind", "staff",
                        check=False, json_out=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("T1", p.stdout)
        self.assertIn("APPROVAL_REQUIRED", p.stdout)
        self.assertEqual(self.gw.ctl("card", "list", "--person", "T1"), [])
        self.assertEqual(len(self.audit("card.issue")), 4)  # S5 and the three of the batch

    def test_batch_row_refused_for_the_fee_issues_no_card(self):
        """A student whose card ended has had the first free card; a batch row that cannot
        pay the fee must not leave a card behind."""
        card, rec, idn = self.student_card("S1")
        self.gw.ctl("card", "cancel", rec["card_no"], "--id-number", idn, "--reason", "other")
        p = self.gw.ctl("card", "batch-issue", "--department", "CS", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        rows = json.loads(p.stdout)
        self.assertEqual([(r["person_no"], r["card_no"], r["result"]) for r in rows],
                         [("S1", None, "INSUFFICIENT_FUNDS")])
        self.assertIn("take it in cash (--pay cash)", rows[0]["reason"])
        cards = self.gw.ctl("card", "list", "--person", "S1")
        self.assertEqual([(c["card_no"], c["status"]) for c in cards],
                         [(rec["card_no"], "cancelled")])
        self.assertEqual(len(self.audit("card.issue")), 1)
        self.assertEqual(self.ledger_sum(), 0)

    def test_staff_card_needs_both_recorded_approvals(self):
        idn = self.add_person("T1", kind="staff", name="王建国", department="HR",
                              until="2030-12-31")
        self.ctl_fails("APPROVAL_REQUIRED", "card", "issue", "T1")
        self.gw.ctl("approval", "add", "T1", "--kind", "unit_leader", "--approver", "王主任",
                    "--ref", "HR-2026-031")
        self.ctl_fails("APPROVAL_REQUIRED", "card", "issue", "T1")
        self.ctl_fails("BAD_REQUEST", "approval", "add", "T1", "--kind", "dean", "--approver",
                       "x", "--ref", "y")
        self.ctl_fails("BAD_REQUEST", "approval", "add", "T1", "--kind", "functional_dept",
                       "--approver", "", "--ref", "y")
        self.gw.ctl("approval", "add", "T1", "--kind", "functional_dept", "--approver", "人事处",
                    "--ref", "HR-2026-032")
        card, rec = self.issue("T1")
        self.assertEqual(rec["fee"], "0.00")
        self.assertEqual(self.info(card), [rec["card_no"], "active", "regular", "王**",
                                           "2030-12-31", 0])
        approvals = self.gw.ctl("approval", "list", "T1")
        self.assertEqual(sorted((a["kind"], a["ref"], a["used_by_card"]) for a in approvals),
                         [("functional_dept", "HR-2026-032", rec["card_no"]),
                          ("unit_leader", "HR-2026-031", rec["card_no"])])
        audit = self.audit("card.issue")
        self.assertEqual(len(audit), 1)
        # every approval the issuance relied on is in the approval column
        self.assertEqual((audit[0]["target"], audit[0]["approval"]),
                         (rec["card_no"], "HR-2026-031,HR-2026-032"))
        self.assertIn("HR-2026-032", audit[0]["detail"])
        issued = [h for h in self.history(rec["card_no"]) if h["event"] == "issued"]
        self.assertIn("HR-2026-031", issued[0]["detail"])
        self.assertIn("HR-2026-032", issued[0]["detail"])
        # each approval is used by one issuance: a later card needs new ones
        self.gw.ctl("card", "cancel", rec["card_no"], "--id-number", idn, "--reason", "leaving")
        self.ctl_fails("APPROVAL_REQUIRED", "card", "issue", "T1", "--pay", "cash")
        self.approve("T1", "HR-2026-040")
        _, rec2 = self.issue("T1", "--pay", "cash")
        self.assertEqual(rec2["fee"], "10.00")

    def test_temporary_card_has_its_own_end_date_and_limits(self):
        today = campus_today()
        person_until = (today + datetime.timedelta(days=90)).isoformat()
        card_until = (today + datetime.timedelta(days=30)).isoformat()
        self.add_person("V1", kind="temporary", name="Chen Jing", department="国际交流处",
                        until=person_until)
        base = ["card", "issue", "V1", "--type", "temporary"]
        self.ctl_fails("APPROVAL_REQUIRED", *base, "--until", card_until)
        self.approve("V1")
        self.ctl_fails("BAD_REQUEST", *base)  # no end date
        self.ctl_fails("BAD_REQUEST", *base, "--until",
                       (today + datetime.timedelta(days=91)).isoformat())  # past the approval
        self.ctl_fails("BAD_REQUEST", *base, "--until",
                       (today - datetime.timedelta(days=1)).isoformat())
        self.ctl_fails("BAD_REQUEST", "card", "issue", "V1", "--until", card_until)
        self.ctl_fails("BAD_REQUEST", *base, "--until", card_until, "--medium", "phone")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM cards"), [(0,)])
        card, rec = self.issue("V1", "--type", "temporary", "--until", card_until,
                               "--subsystems", "library,canteen", "--merchants", "canteen-1")
        self.assertEqual(rec["type"], "temporary")
        show = self.show(rec["card_no"])
        self.assertEqual((show["type"], show["valid_until"], show["subsystems"],
                          show["merchants"]),
                         ("temporary", card_until, "library,canteen", "canteen-1"))
        self.assertEqual(self.info(card), [rec["card_no"], "active", "temporary", "C********",
                                           card_until, 0])

    def test_temporary_card_never_outlives_the_person_and_extends_on_proof(self):
        today = campus_today()

        def day(n):
            return (today + datetime.timedelta(days=n)).isoformat()

        self.add_person("V1", kind="temporary", department="国际交流处", until=day(200))
        self.approve("V1")
        card, rec = self.issue("V1", "--type", "temporary", "--until", day(100))
        no = rec["card_no"]
        version, _, _ = self.blacklist(0)
        # the approval is cut short: the card ends with it, and offline terminals hear of it
        self.gw.ctl("person", "update", "V1", "--valid-until", day(50))
        self.assertEqual(self.show(no)["valid_until"], day(50))
        self.assertEqual(self.info(card)[4], day(50))
        self.assertIn((card.uid_hex, "active", no), self.blacklist(version)[2])
        audit = self.audit("person.update")[0]
        self.assertIn("temporary card %s until %s -> %s" % (no, day(100), day(50)),
                      audit["detail"])
        shortened = [h for h in self.history(no) if h["event"] == "shortened"]
        self.assertEqual(len(shortened), 1, self.history(no))
        self.assertIn("until %s -> %s" % (day(100), day(50)), shortened[0]["detail"])
        # a longer approval does not lengthen the card: its end date is its own
        self.gw.ctl("person", "update", "V1", "--valid-until", day(300))
        self.assertEqual(self.show(no)["valid_until"], day(50))
        # card extend moves the card's own end, on proof, from the card's end date on
        self.ctl_fails("BAD_REQUEST", "card", "extend", "V1", "--until", day(40), "--proof", "P-0")
        self.gw.ctl("card", "extend", "V1", "--until", day(120), "--proof", "P-1")
        self.assertEqual(self.info(card)[4], day(120))
        person = self.gw.ctl("person", "show", "V1")
        self.assertEqual((person["valid_until"], person["validity_source"]),
                         (day(300), "approved"))
        audit = self.audit("card.extend")[0]
        self.assertEqual((audit["target"], audit["approval"]), ("V1", "P-1"))
        self.assertIn("temporary card %s until %s -> %s" % (no, day(50), day(120)),
                      audit["detail"])
        extended = [h for h in self.history(no) if h["event"] == "extended"]
        self.assertEqual(len(extended), 1)
        # beyond the person's validity both move; by card number as well
        self.gw.ctl("card", "extend", no, "--until", day(400), "--proof", "P-2")
        person = self.gw.ctl("person", "show", "V1")
        self.assertEqual((person["valid_until"], person["validity_source"]),
                         (day(400), "extension"))
        self.assertEqual(self.show(no)["valid_until"], day(400))
        self.assertIn("validity %s -> %s" % (day(300), day(400)),
                      self.audit("card.extend")[0]["detail"])
        # a new approved end date typed in later is the source again, and cuts the card
        self.gw.ctl("person", "update", "V1", "--valid-until", day(350))
        person = self.gw.ctl("person", "show", "V1")
        self.assertEqual((person["valid_until"], person["validity_source"]),
                         (day(350), "approved"))
        self.assertEqual(self.show(no)["valid_until"], day(350))

    def test_staff_validity_typed_in_after_an_extension_is_the_contracts(self):
        self.add_person("T1", kind="staff", until="2030-12-31")
        self.gw.ctl("card", "extend", "T1", "--until", "2031-06-30", "--proof", "HR-EXT-1")
        self.assertEqual(self.gw.ctl("person", "show", "T1")["validity_source"], "extension")
        self.gw.ctl("person", "update", "T1", "--valid-until", "2033-12-31")  # a new contract
        person = self.gw.ctl("person", "show", "T1")
        self.assertEqual((person["valid_until"], person["validity_source"]),
                         ("2033-12-31", "contract"))
        # other changes leave the source alone
        self.gw.ctl("card", "extend", "T1", "--until", "2034-06-30", "--proof", "HR-EXT-2")
        self.gw.ctl("person", "update", "T1", "--phone", "13900000000")
        self.assertEqual(self.gw.ctl("person", "show", "T1")["validity_source"], "extension")

    def test_temporary_card_subsystems_are_names_the_gateway_checks(self):
        until = (campus_today() + datetime.timedelta(days=30)).isoformat()
        self.add_person("V1", kind="temporary", until=until)
        self.approve("V1")
        base = ["card", "issue", "V1", "--type", "temporary", "--until", until, "--subsystems"]
        for bad in ("canteen,gym", "Canteen", "shop,,canteen", "shop,", ",shop"):
            with self.subTest(subsystems=bad):
                err = self.ctl_fails("BAD_REQUEST", *base, bad)
                self.assertIn("--subsystems", err)
        err = self.ctl_fails("BAD_REQUEST", *base, "gym")
        self.assertIn("unknown subsystem 'gym'", err)
        for name in ("canteen", "shop", "water", "power", "library", "rooms"):
            self.assertIn(name, err)  # the message lists the names to choose from
        # `gate` is what the access plugin's doors check: not a name while it is not loaded
        self.assertIn("unknown subsystem 'gate'", self.ctl_fails("BAD_REQUEST", *base, "gate"))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM cards"), [(0,)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM approvals WHERE used_by_card "
                                     "IS NOT NULL"), [(0,)])
        _, rec = self.issue("V1", "--type", "temporary", "--until", until, "--subsystems",
                            "shop,canteen,library,other")
        self.assertEqual(self.show(rec["card_no"])["subsystems"], "shop,canteen,library,other")

    def test_phone_credential_has_its_own_key_and_status(self):
        self.add_person("S1")
        self.ctl_fails("BAD_STATE", "card", "issue", "S1", "--medium", "phone")
        card, rec = self.issue("S1")
        phone, prec = self.issue("S1", "--medium", "phone")
        self.assertEqual((prec["medium"], prec["fee"], prec["initial_query_password"]),
                         ("phone", "0.00", "(unchanged)"))
        self.assertTrue(prec["uid"].startswith("50"), prec["uid"])
        self.assertNotEqual(prec["card_no"], rec["card_no"])
        self.ctl_fails("ALREADY_HAS_CARD", "card", "issue", "S1", "--medium", "phone")
        self.topup("S1", "3.00")
        self.assertEqual(self.info(phone), [prec["card_no"], "active", "regular", "张*",
                                            STUDENT_UNTIL, 300])
        # the card key does not open the phone credential, nor the phone key the card
        self.assertError(self.info(SimCard(MASTER_KEY, uid=phone.uid, phone=False)),
                         "BAD_CRYPTOGRAM")
        self.assertError(self.info(SimCard(MASTER_KEY, uid=card.uid, phone=True)),
                         "BAD_CRYPTOGRAM")
        # the phone's ATC is its own
        self.assertEqual(self.show(prec["card_no"])["last_atc"], 1)
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 0)
        # losing the phone follows R-C4 and leaves the card alone
        self.assertEqual(self.report_loss("S1", rec["initial_query_password"], "phone"), "OK")
        self.assertUnusable(phone, "S1", "CARD_LOST", topup=False)
        self.assertEqual(self.info(card)[1], "active")
        self.assertEqual(self.topup("S1", "1.00"), 400)
        cards = self.gw.ctl("person", "show", "S1")["cards"]
        self.assertEqual(cards, "%s:active, %s:lost(phone)" % (rec["card_no"], prec["card_no"]))


class PluginSubsystemsTest(CardCase):
    """A loaded plugin's name and its `subsystem` option are subsystem names too."""
    sets = {"plugin.testplug.enabled": "yes", "plugin.testplug.merchant": MERCHANT,
            "plugin.testplug.subsystem": "lab-doors"}

    def test_loaded_plugins_add_their_names(self):
        until = (campus_today() + datetime.timedelta(days=30)).isoformat()
        self.add_person("V1", kind="temporary", until=until)
        self.approve("V1")
        base = ["card", "issue", "V1", "--type", "temporary", "--until", until, "--subsystems"]
        err = self.ctl_fails("BAD_REQUEST", *base, "access")  # not loaded here
        self.assertIn("testplug", err)
        self.assertIn("lab-doors", err)
        _, rec = self.issue(*base[2:], "testplug,lab-doors,canteen")
        self.assertEqual(self.show(rec["card_no"])["subsystems"], "testplug,lab-doors,canteen")


# ---- status everywhere, loss, unlock, found, expiry (R-C3, R-C4, R-C5, R-C9) ----------------


class StatusTest(CardCase):
    def test_counter_loss_needs_the_holders_own_id_and_works_everywhere_at_once(self):
        card, rec, idn = self.student_card("S1")
        other = self.add_person("S2")
        self.topup("S1", "20.00")
        no = rec["card_no"]
        self.assertEqual(self.info(card)[1], "active")
        # 无证挂失、代办挂失不予办理: no ID, or someone else's ID, is refused
        self.ctl_fails("ID_REQUIRED", "card", "loss", no)
        self.ctl_fails("ID_REQUIRED", "card", "loss", no, "--id-number", "")
        self.ctl_fails("ID_MISMATCH", "card", "loss", no, "--id-number", other)
        self.assertEqual(self.info(card)[1], "active")
        self.assertEqual(self.audit("card.loss"), [])
        self.gw.ctl("card", "loss", no, "--id-number", idn, "--approval", "FORM-7")
        self.assertUnusable(card, "S1", "CARD_LOST")
        self.assertError(self.info(card, tid="POS-2"), "CARD_LOST")
        self.ctl_fails("BAD_STATE", "card", "loss", no, "--id-number", idn)
        self.assertEqual(self.show(no)["status"], "lost")
        self.assertEqual(self.balance("S1"), 2000)  # frozen, not lost
        # R-C9: every use after the loss report is traceable, with the terminal
        hist = self.history(no)
        lost = [h for h in hist if h["event"] == "status:lost"]
        self.assertEqual([(h["actor"], h["id_checked"]) for h in lost], [(LOCAL, "yes")])
        refused = [h for h in hist if h["event"] == "refused_use"]
        self.assertEqual(sorted(h["actor"] for h in refused),
                         ["KIOSK-1", "KIOSK-1", "KIOSK-1", "POS-1", "POS-1", "POS-2"])
        self.assertIn("CARD.INFO refused at terminal POS-2", refused[0]["detail"])
        self.assertIn("lost", refused[0]["detail"])
        self.assertEqual(self.audit("card.loss")[0]["approval"], "FORM-7")
        # the offline terminals learn it from the blacklist
        _, _, entries = self.blacklist(0)
        self.assertIn((card.uid_hex, "lost", no), entries)

    def test_unlock_only_at_the_counter_in_person(self):
        card, rec, idn = self.student_card("S1")
        other = self.add_person("S2")
        no = rec["card_no"]
        self.assertEqual(self.report_loss("S1", rec["initial_query_password"]), "OK")
        # no terminal verb unlocks a card
        kiosk = self.term("KIOSK-1")
        for verb in ("CARD.UNLOCK", "UNLOCK", "CARD.REPORT_FOUND"):
            self.assertError(kiosk.call(verb, self.next_seq("KIOSK-1"), "S1",
                                        rec["initial_query_password"]), "BAD_REQUEST")
        self.assertEqual(self.report_loss("S1", rec["initial_query_password"]),
                         "OK already reported lost")
        self.assertError(self.info(card), "CARD_LOST")
        # at the counter: only with the holder's own ID
        self.ctl_fails("ID_REQUIRED", "card", "unlock", no)
        self.ctl_fails("ID_MISMATCH", "card", "unlock", no, "--id-number", other)
        self.assertError(self.info(card), "CARD_LOST")
        self.gw.ctl("card", "unlock", no, "--id-number", idn)
        self.assertEqual(self.info(card)[1], "active")
        self.ctl_fails("BAD_STATE", "card", "unlock", no, "--id-number", idn)
        unlocked = [h for h in self.history(no) if h["event"] == "status:active"]
        self.assertEqual([(h["actor"], h["id_checked"]) for h in unlocked], [(LOCAL, "yes")])
        self.assertEqual(len(self.audit("card.unlock")), 1)

    def test_holder_reports_loss_at_a_kiosk_with_the_query_password(self):
        card, rec, idn = self.student_card("S1")
        no = rec["card_no"]
        q, p = rec["initial_query_password"], rec["initial_pay_password"]
        wrong = self.report_loss("S1", other_password(q))
        self.assertError(wrong, "WRONG_PASSWORD")
        unknown = self.report_loss("NOBODY", q)
        self.assertError(unknown, "WRONG_PASSWORD")
        self.assertEqual(unknown.message, wrong.message)  # a probe learns nothing
        self.assertError(self.report_loss("S1", "12ab"), "WRONG_PASSWORD")
        if p != q:
            self.assertError(self.report_loss("S1", p), "WRONG_PASSWORD")  # query password only
        self.assertError(self.report_loss("S1", q, "watch"), "BAD_REQUEST")
        self.assertError(self.report_loss("S1", q, tid="POS-1"), "FORBIDDEN")
        self.assertEqual(self.info(card)[1], "active")
        self.assertEqual(self.report_loss("S1", q), "OK")
        self.assertUnusable(card, "S1", "CARD_LOST")
        lost = [h for h in self.history(no) if h["event"] == "status:lost"]
        self.assertEqual(len(lost), 1)
        self.assertEqual(lost[0]["actor"], "holder:S1")
        self.assertIn("KIOSK-1", lost[0]["detail"])
        _, _, entries = self.blacklist(0)
        self.assertIn((card.uid_hex, "lost", no), entries)
        # the wrong tries before the right one are not a lock (fewer than five)
        self.assertEqual(self.report_loss("S1", q), "OK already reported lost")
        # with no live credential there is nothing to report
        self.gw.ctl("card", "cancel", no, "--id-number", idn, "--reason", "other")
        self.assertError(self.report_loss("S1", q), "NOT_FOUND")

    def test_found_card_is_held_until_its_holder_collects_it(self):
        card, rec, idn = self.student_card("S1")
        no = rec["card_no"]
        self.ctl_fails("BAD_REQUEST", "card", "found", no)  # --by is required
        self.gw.ctl("card", "found", no, "--by", "食堂 李师傅", "--approval", "FOUND-12")
        self.assertEqual(self.show(no)["status"], "frozen")
        self.assertUnusable(card, "S1", "CARD_FROZEN")
        _, _, entries = self.blacklist(0)
        self.assertIn((card.uid_hex, "frozen", no), entries)
        frozen = [h for h in self.history(no) if h["event"] == "status:frozen"]
        self.assertIn("found card handed in by 食堂 李师傅", frozen[0]["detail"])
        audit = self.audit("card.found")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]), (no, "FOUND-12"))
        # the holder collects it in person
        self.ctl_fails("ID_REQUIRED", "card", "unlock", no)
        self.gw.ctl("card", "unlock", no, "--id-number", idn)
        self.assertEqual(self.info(card)[1], "active")
        # a lost card that is handed in stays lost; the finding is recorded
        self.gw.ctl("card", "loss", no, "--id-number", idn)
        self.gw.ctl("card", "found", no, "--by", "保卫处")
        self.assertEqual(self.show(no)["status"], "lost")
        self.assertEqual(self.history(no)[0]["event"], "found")
        self.assertIn("保卫处", self.history(no)[0]["detail"])

    def test_expired_card_works_nowhere_until_extended_on_proof(self):
        card, rec, idn = self.student_card("S1")
        no = rec["card_no"]
        self.topup("S1", "5.00")
        # the registry corrects the enrolment: the validity ended in 2024
        self.gw.ctl("person", "update", "S1", "--enrolled", "2020-09-01")
        show = self.show(no)
        self.assertEqual((show["valid_until"], show["expired"], show["status"]),
                         ("2024-07-31", "yes", "active"))
        self.assertUnusable(card, "S1", "CARD_EXPIRED")
        refused = [h for h in self.history(no) if h["event"] == "refused_use"]
        self.assertTrue(refused and all("expired" in h["detail"] for h in refused), refused)
        _, _, entries = self.blacklist(0)
        self.assertIn((card.uid_hex, "expired", no), entries)
        # extension (延期毕业) only on the registry's proof, only to a later date
        until = "%d-07-31" % (campus_today().year + 2)
        self.ctl_fails("BAD_REQUEST", "card", "extend", no, "--until", until)
        self.ctl_fails("BAD_REQUEST", "card", "extend", no, "--until", "2024-01-31",
                       "--proof", "REG-2026-7")
        self.ctl_fails("BAD_REQUEST", "card", "extend", no, "--until", "2024-13-01",
                       "--proof", "REG-2026-7")
        self.ctl_fails("BAD_REQUEST", "card", "extend", no, "--until", until, "--proof", "")
        self.ctl_fails("NOT_FOUND", "card", "extend", "NOBODY", "--until", until, "--proof", "X")
        version, _, _ = self.blacklist(0)
        self.gw.ctl("card", "extend", no, "--until", until, "--proof", "REG-2026-7")
        self.assertEqual(self.info(card), [no, "active", "regular", "张*", until, 500])
        person = self.gw.ctl("person", "show", "S1")
        self.assertEqual((person["valid_until"], person["validity_source"]), (until, "extension"))
        audit = self.audit("card.extend")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]), ("S1", "REG-2026-7"))
        self.assertIn("2024-07-31 -> " + until, audit[0]["detail"])
        # offline terminals take it off their list
        _, _, entries = self.blacklist(version)
        self.assertEqual(entries, [(card.uid_hex, "active", no)])
        # by person number works as well
        later = "%d-07-31" % (campus_today().year + 3)
        self.gw.ctl("card", "extend", "S1", "--until", later, "--proof", "REG-2026-8")
        self.assertEqual(self.show(no)["valid_until"], later)


# ---- replacement (R-C6, R-C7) ----------------------------------------------------------------


class ReplacementTest(CardCase):
    def test_replacement_carries_the_balance_minus_the_fee(self):
        card, rec, idn = self.student_card("S1")
        other = self.add_person("S2")
        old = rec["card_no"]
        self.topup("S1", "50.00")
        self.gw.ctl("card", "loss", old, "--id-number", idn)
        self.ctl_fails("ID_REQUIRED", "card", "replace", old)
        self.ctl_fails("ID_MISMATCH", "card", "replace", old, "--id-number", other)
        self.ctl_fails("BAD_REQUEST", "card", "replace", old, "--id-number", idn, "--pay", "iou")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM cards"), [(1,)])
        new = self.gw.ctl("card", "replace", old, "--id-number", idn, "--approval", "R-1")
        self.assertNotEqual(new["card_no"], old)
        self.assertNotEqual(new["uid"], card.uid_hex)
        self.assertEqual((new["replaces"], new["fee"], new["balance"]), (old, "10.00", "40.00"))
        fresh = SimCard(MASTER_KEY, uid=new["uid"])
        self.assertEqual(self.info(fresh),
                         [new["card_no"], "active", "regular", "张*", STUDENT_UNTIL, 4000])
        paid = self.swipe(fresh, "PAY", amount=250)  # the new card pays from the same wallet
        self.assertIsInstance(paid, list, paid)
        self.assertEqual(paid[2], 4000 - paid[1])
        self.assertEqual(self.balance("S1"), paid[2])
        # the old card is cancelled for good and points to the new one
        show = self.show(old)
        self.assertEqual((show["status"], show["replaced_by"]), ("cancelled", new["card_no"]))
        self.assertEqual(self.show(new["card_no"])["replaces"], old)
        self.assertUnusable(card, "S1", "CARD_CANCELLED", topup=False)
        # the passwords are the holder's and carry over
        self.assertEqual(self.passwd(fresh, "query", rec["initial_query_password"], "135790"),
                         "OK")
        # the fee went to fee income; the books balance
        self.assertEqual(self.gw.sql("SELECT amount, card_no FROM transfers "
                                     "WHERE kind = 'replace_fee'"), [(FEE, new["card_no"])])
        self.assertEqual(self.account("fee_income"), FEE)
        self.assertEqual(self.ledger_sum(), 0)
        audit = self.audit("card.replace")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]), (old, "R-1"))
        self.assertIn(new["card_no"], audit[0]["detail"])
        cancelled = [h for h in self.history(old) if h["event"] == "status:cancelled"]
        self.assertEqual(cancelled[0]["id_checked"], "yes")
        self.assertEqual(self.gw.ctl("person", "show", "S1")["cards"],
                         "%s:cancelled, %s:active" % (old, new["card_no"]))

    def test_cancelled_old_card_fails_everywhere(self):
        card, rec, idn = self.student_card("S1")
        old = rec["card_no"]
        self.topup("S1", "20.00")
        version, _, _ = self.blacklist(0)
        new = self.gw.ctl("card", "replace", old, "--id-number", idn)
        self.assertUnusable(card, "S1", "CARD_CANCELLED", topup=False)
        self.assertError(self.info(card, tid="POS-2"), "CARD_CANCELLED")
        self.ctl_fails("BAD_STATE", "card", "loss", old, "--id-number", idn)
        self.ctl_fails("BAD_STATE", "card", "unlock", old, "--id-number", idn)
        self.ctl_fails("CARD_CANCELLED", "card", "replace", old, "--id-number", idn)
        self.ctl_fails("CARD_CANCELLED", "card", "cancel", old, "--id-number", idn,
                       "--reason", "other")
        self.ctl_fails("CARD_CANCELLED", "card", "confiscate", old, "--reason", "x")
        # nor does the old number reach its holder at the counter: no reset, no extension
        hashes = self.gw.sql("SELECT which, hash FROM passwords ORDER BY which")
        for which in ("query", "pay"):
            self.ctl_fails("CARD_CANCELLED", "card", "reset-password", old, "--which", which,
                           "--id-number", idn)
        until = "%d-07-31" % (campus_today().year + 6)
        err = self.ctl_fails("CARD_CANCELLED", "card", "extend", old, "--until", until,
                             "--proof", "REG-9")
        self.assertIn(new["card_no"], err)  # says where the holder's card is now
        self.assertEqual(self.gw.sql("SELECT which, hash FROM passwords ORDER BY which"), hashes)
        self.assertEqual(self.gw.ctl("person", "show", "S1")["valid_until"], STUDENT_UNTIL)
        self.assertEqual(self.audit("card.reset-password") + self.audit("card.extend"), [])
        self.assertEqual(self.show(old)["status"], "cancelled")
        # the kiosk's loss report reaches the new card, not the old one
        self.assertEqual(self.report_loss("S1", rec["initial_query_password"]), "OK")
        self.assertEqual(self.show(new["card_no"])["status"], "lost")
        # offline terminals: the old UID is cancelled, the new one listed as it changes
        _, _, entries = self.blacklist(version)
        self.assertIn((card.uid_hex, "cancelled", old), entries)
        self.assertEqual(entries[-1], (new["uid"], "lost", new["card_no"]))
        refused = [h for h in self.history(old) if h["event"] == "refused_use"]
        self.assertEqual(len(refused), 6)
        # the live card's number and the person number still work
        self.gw.ctl("card", "reset-password", new["card_no"], "--which", "query",
                    "--id-number", idn)
        self.gw.ctl("card", "extend", "S1", "--until", until, "--proof", "REG-9")
        self.assertEqual(self.show(new["card_no"])["valid_until"], until)
        self.assertEqual(self.show(old)["valid_until"], STUDENT_UNTIL)
        self.assertEqual(self.show(old)["status"], "cancelled")

    def test_damaged_card_with_a_quality_defect_is_replaced_free(self):
        card, rec, idn = self.student_card("S1")
        old = rec["card_no"]
        self.topup("S1", "50.00")
        new = self.gw.ctl("card", "replace", old, "--id-number", idn, "--defect",
                          "chip cracked, card-quality defect")
        self.assertEqual((new["fee"], new["balance"]), ("0.00", "50.00"))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM transfers WHERE kind = "
                                     "'replace_fee'"), [(0,)])
        self.assertIn("defect: chip cracked", self.history(new["card_no"])[0]["detail"])
        self.assertIn("defect: chip cracked", self.audit("card.replace")[0]["detail"])
        self.assertEqual(self.info(SimCard(MASTER_KEY, uid=new["uid"]))[5], 5000)
        self.assertError(self.info(card), "CARD_CANCELLED")

    def test_fee_needs_the_balance_or_cash_and_a_refusal_changes_nothing(self):
        card, rec, idn = self.student_card("S1")
        old = rec["card_no"]
        self.topup("S1", "5.00")
        before = self.gw.sql("SELECT card_no, status, list_version FROM cards")
        self.ctl_fails("INSUFFICIENT_FUNDS", "card", "replace", old, "--id-number", idn)
        self.assertEqual(self.gw.sql("SELECT card_no, status, list_version FROM cards"), before)
        self.assertEqual(self.info(card)[1], "active")
        self.assertEqual(self.audit("card.replace"), [])
        new = self.gw.ctl("card", "replace", old, "--id-number", idn, "--pay", "cash")
        self.assertEqual((new["fee"], new["balance"]), ("10.00", "5.00"))
        self.assertEqual(self.account("cash", "main"), -500 - FEE)  # the cash taken in
        self.assertEqual(self.ledger_sum(), 0)


# ---- cancellation, deposit, confiscation, registry and HR reports, dormant funds (R-C8, R-C9) --


class CancellationTest(CardCase):
    def test_cancel_refunds_the_balance_in_cash(self):
        card, rec, idn = self.student_card("S1")
        no = rec["card_no"]
        self.topup("S1", "30.00")
        self.ctl_fails("ID_REQUIRED", "card", "cancel", no, "--reason", "graduation")
        self.ctl_fails("BAD_REQUEST", "card", "cancel", no, "--id-number", idn, "--reason",
                       "bored")
        self.assertEqual(self.info(card)[1], "active")
        r = self.gw.ctl("card", "cancel", no, "--id-number", idn, "--reason", "graduation",
                        "--approval", "GRAD-2029")
        self.assertEqual(r, {"card_no": no, "status": "cancelled", "refunded_cash": "30.00",
                             "refunded_balance": "30.00", "refunded_deposit": "0.00"})
        self.assertEqual(self.balance("S1"), 0)
        self.assertEqual(self.gw.sql("SELECT amount, card_no FROM transfers "
                                     "WHERE kind = 'refund_cash'"), [(3000, no)])
        self.assertEqual(self.ledger_sum(), 0)
        self.assertUnusable(card, "S1", "CARD_CANCELLED")
        self.ctl_fails("CARD_CANCELLED", "card", "cancel", no, "--id-number", idn,
                       "--reason", "other")
        self.ctl_fails("NOTHING_TO_REFUND", "account", "refund", "S1", "--id-number", idn)
        audit = self.audit("card.cancel")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]), (no, "GRAD-2029"))
        self.assertIn("refunded 3000 fen", audit[0]["detail"])

    def test_balance_stays_while_another_credential_is_live(self):
        card, rec, idn = self.student_card("S1")
        phone, prec = self.issue("S1", "--medium", "phone")
        self.topup("S1", "10.00")
        r = self.gw.ctl("card", "cancel", rec["card_no"], "--id-number", idn, "--reason",
                        "other")
        self.assertEqual(r["refunded_cash"], "0.00")
        self.assertEqual(self.info(phone)[5], 1000)
        r = self.gw.ctl("card", "cancel", prec["card_no"], "--id-number", idn, "--reason",
                        "other")
        self.assertEqual(r["refunded_cash"], "10.00")
        self.assertEqual(self.ledger_sum(), 0)

    def test_confiscated_card_is_cancelled_and_the_balance_stays_claimable(self):
        card, rec, idn = self.student_card("S1")
        no = rec["card_no"]
        self.topup("S1", "8.00")
        self.ctl_fails("BAD_REQUEST", "card", "confiscate", no)  # --reason is required
        self.gw.ctl("card", "confiscate", no, "--reason", "lent to another student",
                    "--approval", "CC-2026-3")
        self.assertUnusable(card, "S1", "CARD_CANCELLED")
        cancelled = [h for h in self.history(no) if h["event"] == "status:cancelled"]
        self.assertIn("confiscated: lent to another student", cancelled[0]["detail"])
        audit = self.audit("card.confiscate")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]), (no, "CC-2026-3"))
        self.assertEqual(self.balance("S1"), 800)  # never lost
        self.assertEqual(self.gw.ctl("account", "refund", "S1", "--id-number", idn)["refunded_fen"],
                         800)
        self.assertEqual(self.ledger_sum(), 0)


class DepositTest(CardCase):
    sets = {"cards.deposit": "20.00"}

    def deposit_transfers(self):
        return self.gw.sql("SELECT kind, amount FROM transfers WHERE kind LIKE 'deposit%' "
                           "ORDER BY id")

    def test_deposit_is_taken_with_a_card_and_refunded_once(self):
        card, rec, idn = self.student_card("S1")
        self.assertEqual(self.account("deposit"), 2000)
        self.assertEqual(self.account("cash", "main"), -2000)  # taken in cash
        self.topup("S1", "5.00")
        r = self.gw.ctl("card", "cancel", rec["card_no"], "--id-number", idn, "--reason",
                        "leaving")
        self.assertEqual(r["refunded_cash"], "25.00")
        self.assertEqual(self.account("deposit"), 0)
        # a new card later takes a new deposit, and its cancellation returns just that
        _, rec2 = self.issue("S1", "--pay", "cash")
        self.assertEqual(self.account("deposit"), 2000)
        r = self.gw.ctl("card", "cancel", rec2["card_no"], "--id-number", idn, "--reason",
                        "leaving")
        self.assertEqual(r["refunded_cash"], "20.00")
        self.assertEqual(self.account("deposit"), 0)
        self.assertEqual(self.deposit_transfers(),
                         [("deposit", 2000), ("deposit_refund", 2000)] * 2)
        self.assertEqual(self.ledger_sum(), 0)

    def test_issue_and_cancel_say_what_the_deposit_is(self):
        """The counter must know to collect the deposit, and what the refund is made of."""
        idn = self.add_person("S1")
        text = self.gw.ctl("card", "issue", "S1", json_out=False)
        self.assertRegex(text, r"(?m)^deposit: +20\.00$")
        no = self.gw.ctl("card", "list", "--person", "S1")[0]["card_no"]
        audit = self.audit("card.issue")[0]
        self.assertIn("fee 0, deposit 2000", audit["detail"])
        issued = [h for h in self.history(no) if h["event"] == "issued"]
        self.assertIn("deposit 2000", issued[0]["detail"])
        # a phone credential takes no deposit
        _, prec = self.issue("S1", "--medium", "phone")
        self.assertEqual(prec["deposit"], "0.00")
        self.topup("S1", "5.00")
        self.gw.ctl("card", "cancel", prec["card_no"], "--id-number", idn, "--reason", "other")
        r = self.gw.ctl("card", "cancel", no, "--id-number", idn, "--reason", "leaving")
        self.assertEqual((r["refunded_cash"], r["refunded_balance"], r["refunded_deposit"]),
                         ("25.00", "5.00", "20.00"))
        self.assertIn("refunded 2500 fen in cash (balance 500, deposit 2000)",
                      self.audit("card.cancel")[0]["detail"])
        # in a batch each row says the deposit it takes
        self.add_person("S2", department="EE")
        rows = self.gw.ctl("card", "batch-issue", "--department", "EE")
        self.assertEqual([(r["person_no"], r["deposit"]) for r in rows], [("S2", "20.00")])
        self.assertEqual(self.ledger_sum(), 0)

    def test_a_deposit_still_held_is_not_taken_twice(self):
        card, rec, idn = self.student_card("S1")
        self.gw.ctl("card", "confiscate", rec["card_no"], "--reason", "lent")
        self.assertEqual(self.account("deposit"), 2000)  # nothing refunded yet
        card2, rec2 = self.issue("S1", "--pay", "cash")
        self.assertEqual(rec2["deposit"], "0.00")  # the one held covers it
        self.assertEqual(self.account("deposit"), 2000)
        self.assertEqual(self.deposit_transfers(), [("deposit", 2000)])
        r = self.gw.ctl("card", "cancel", rec2["card_no"], "--id-number", idn, "--reason",
                        "other")
        self.assertEqual(r["refunded_cash"], "20.00")
        self.assertEqual(self.account("deposit"), 0)
        self.assertEqual(self.ledger_sum(), 0)

    def test_replacement_keeps_the_deposit(self):
        card, rec, idn = self.student_card("S1")
        self.topup("S1", "15.00")
        new = self.gw.ctl("card", "replace", rec["card_no"], "--id-number", idn)
        self.assertEqual(self.account("deposit"), 2000)
        r = self.gw.ctl("card", "cancel", new["card_no"], "--id-number", idn, "--reason",
                        "graduation")
        self.assertEqual(r["refunded_cash"], "25.00")  # 5.00 balance + 20.00 deposit
        self.assertEqual(self.account("deposit"), 0)
        self.assertEqual(self.ledger_sum(), 0)

    def test_graduate_claims_balance_and_deposit(self):
        """R-C8: on graduation, leaving or death the deposit and the balance are refunded."""
        card, rec, idn = self.student_card("S1")
        self.topup("S1", "3.00")
        self.gw.ctl("person", "set-status", "S1", "graduated", "--ref", "REG-1")
        self.assertEqual(self.gw.ctl("account", "refund", "S1", "--id-number", idn)["refunded_fen"],
                         2300)
        self.assertEqual(self.account("deposit"), 0)
        self.ctl_fails("NOTHING_TO_REFUND", "account", "refund", "S1", "--id-number", idn)
        self.assertIn("balance 300, deposit 2000", self.audit("account.refund")[0]["detail"])
        self.assertEqual(self.ledger_sum(), 0)


class EndOfStudiesTest(CardCase):
    def test_registry_reports_end_every_card_and_the_balance_is_claimable(self):
        card, rec, idn = self.student_card("S1")
        phone, prec = self.issue("S1", "--medium", "phone")
        self.topup("S1", "25.00")
        self.ctl_fails("BAD_REQUEST", "person", "set-status", "S1", "expelled")
        r = self.gw.ctl("person", "set-status", "S1", "graduated", "--ref", "REG-2026-100")
        self.assertEqual(r, {"status": "OK 2 card(s) cancelled"})
        self.assertUnusable(card, "S1", "CARD_CANCELLED")
        self.assertError(self.info(phone), "CARD_CANCELLED")
        person = self.gw.ctl("person", "show", "S1")
        self.assertEqual(person["status"], "graduated")
        self.assertEqual(person["cards"], "%s:cancelled, %s:cancelled(phone)"
                         % (rec["card_no"], prec["card_no"]))
        self.ctl_fails("BAD_STATE", "person", "set-status", "S1", "graduated")
        self.ctl_fails("BAD_STATE", "card", "issue", "S1")
        audit = self.audit("person.set-status")
        self.assertEqual(audit[0]["target"], "S1")
        self.assertIn("cards_cancelled=2 ref=REG-2026-100", audit[0]["detail"])
        # the holder claims the balance in person, within the refund window
        self.ctl_fails("ID_REQUIRED", "account", "refund", "S1")
        self.assertEqual(self.gw.ctl("account", "refund", "S1", "--id-number", idn)["refunded_fen"],
                         2500)
        self.ctl_fails("NOTHING_TO_REFUND", "account", "refund", "S1", "--id-number", idn)
        self.assertEqual(self.ledger_sum(), 0)

    def test_withdrawal_suspension_and_leaving_end_the_cards(self):
        for no, status in (("S2", "withdrawn"), ("S3", "suspended"), ("S4", "left")):
            card, rec, idn = self.student_card(no)
            self.assertEqual(self.gw.ctl("person", "set-status", no, status),
                             {"status": "OK 1 card(s) cancelled"})
            self.assertError(self.info(card), "CARD_CANCELLED")
            self.assertEqual(self.gw.ctl("person", "show", no)["status"], status)
        # a live card prevents a refund claim
        card, rec, idn = self.student_card("S5")
        self.topup("S5", "1.00")
        self.ctl_fails("BAD_STATE", "account", "refund", "S5", "--id-number", idn)

    def shift_card_end(self, card_no, days):
        """Moves the moment a card ended `days` further into the past."""
        self.assertEqual(self.gw.sql_write(
            "UPDATE cards SET status_at = status_at - ? WHERE card_no = ?", days * 86400000,
            card_no), 1)

    def test_death_report_and_unclaimed_balance_goes_to_dormant_funds(self):
        card, rec, idn = self.student_card("S2")
        self.topup("S2", "7.00")
        self.ctl_fails("BAD_REQUEST", "person", "report-death", "S2", "--reported-by",
                       "police")
        r = self.gw.ctl("person", "report-death", "S2", "--reported-by", "hr", "--ref",
                        "HR-D-2026-1")
        self.assertEqual(r, {"status": "OK 1 card(s) cancelled"})
        self.assertEqual(self.gw.ctl("person", "show", "S2")["status"], "deceased")
        self.assertUnusable(card, "S2", "CARD_CANCELLED")
        self.assertIn("HR-D-2026-1", self.audit("person.report-death")[0]["detail"])
        # within the refund window (3 months) the balance waits for a claim
        self.assertEqual(self.gw.ctl("job", "run", "dormant")["items"], 0)
        self.assertEqual(self.balance("S2"), 700)
        # move the card's end into the past while the gateway is stopped: first just inside
        # the window, then past it (the job never accepts a day that has not come)
        self.shift_card_end(rec["card_no"], days=80)
        self.assertEqual(self.gw.ctl("job", "run", "dormant")["items"], 0)
        self.assertEqual(self.balance("S2"), 700)
        self.shift_card_end(rec["card_no"], days=20)
        r = self.gw.ctl("job", "run", "dormant")
        self.assertEqual((r["items"], r["moved_to_dormant_fen"]), (1, 700))
        r = self.gw.ctl("job", "run", "dormant")
        self.assertEqual((r["items"], r["moved_to_dormant_fen"]), (0, 0))
        self.assertEqual(self.gw.sql("SELECT amount FROM transfers WHERE kind = 'dormant'"),
                         [(700,)])
        self.assertEqual(self.balance("S2"), 0)
        self.assertEqual(self.account("dormant"), 700)
        self.assertEqual(self.ledger_sum(), 0)
        self.ctl_fails("NOTHING_TO_REFUND", "account", "refund", "S2", "--id-number", idn)
        self.assertEqual(len(self.audit("job.dormant")), 1)

    def test_auto_cancel_moves_the_balance_to_dormant_funds_exactly_once(self):
        card, rec, idn = self.student_card("S1")
        phone, prec = self.issue("S1", "--medium", "phone")
        self.topup("S1", "12.34")
        other, orec, _ = self.student_card("S2")
        self.topup("S2", "1.00")
        # The registry corrects S1's enrolment: the study ended 2029-07-31 -> 2024-07-31 (the
        # cards follow). S2's validity moves to two months ago: not six months yet.
        self.gw.ctl("person", "update", "S1", "--enrolled", "2020-09-01")
        self.assertEqual(self.gw.ctl("card", "show", rec["card_no"])["valid_until"], "2024-07-31")
        recent = (campus_today() - datetime.timedelta(days=60)).isoformat()
        self.gw.sql_write("UPDATE cards SET valid_until = ? WHERE card_no = ?", recent,
                          orec["card_no"])
        # a future day is refused: it would cancel valid cards for good
        future = (campus_today() + datetime.timedelta(days=1)).isoformat()
        self.ctl_fails("BAD_REQUEST", "job", "run", "auto-cancel", "--today", future)
        # six months after the validity ended, not before (catching up on past days)
        r = self.gw.ctl("job", "run", "auto-cancel", "--today", "2025-01-31")
        self.assertEqual((r["items"], r["moved_to_dormant_fen"]), (0, 0))
        self.assertEqual(self.gw.ctl("card", "show", rec["card_no"])["status"], "active")
        r = self.gw.ctl("job", "run", "auto-cancel", "--today", "2025-02-01")
        self.assertEqual((r["items"], r["moved_to_dormant_fen"]), (2, 1234))
        r = self.gw.ctl("job", "run", "auto-cancel", "--today", "2025-02-01")
        self.assertEqual((r["items"], r["moved_to_dormant_fen"]), (0, 0))
        r = self.gw.ctl("job", "run", "auto-cancel")
        self.assertEqual((r["items"], r["moved_to_dormant_fen"]), (0, 0))
        # exactly one dormant transfer, with the card number: never lost, always traceable
        moved = self.gw.sql("SELECT amount, card_no FROM transfers WHERE kind = 'dormant'")
        self.assertEqual(len(moved), 1, moved)
        self.assertEqual(moved[0][0], 1234)
        self.assertIn(moved[0][1], (rec["card_no"], prec["card_no"]))
        self.assertEqual(self.balance("S1"), 0)
        self.assertEqual(self.account("dormant"), 1234)
        self.assertEqual(self.ledger_sum(), 0)
        # the dormant sweep finds nothing more to move
        r = self.gw.ctl("job", "run", "dormant")
        self.assertEqual(r["moved_to_dormant_fen"], 0)
        self.assertEqual(self.account("dormant"), 1234)
        self.assertUnusable(card, "S1", "CARD_CANCELLED")
        self.assertError(self.info(phone), "CARD_CANCELLED")
        for no in (rec["card_no"], prec["card_no"]):
            cancelled = [h for h in self.history(no) if h["event"] == "status:cancelled"]
            self.assertEqual(len(cancelled), 1)
            self.assertIn("validity ended 2024-07-31", cancelled[0]["detail"])
        self.assertEqual(len(self.audit("job.auto-cancel")), 2)
        # the other student is not due yet: expired, but not cancelled
        self.assertEqual(self.gw.ctl("card", "show", orec["card_no"])["status"], "active")
        self.assertError(self.info(other), "CARD_EXPIRED")
        self.assertEqual(self.balance("S2"), 100)


# ---- the blacklist for offline terminals ------------------------------------------------------


class BlacklistTest(CardCase):
    def set_validity_behind_the_gateways_back(self, card_no, day):
        """Time passing: the date moves past a card's validity while nothing else changes
        (no version is bumped). Written beside the running gateway, as a second WAL writer;
        a restart would run the daily jobs at start-up and publish it at once."""
        con = sqlite3.connect(self.gw.db, timeout=10)
        try:
            con.execute("UPDATE cards SET valid_until = ? WHERE card_no = ?", (day, card_no))
            con.commit()
        finally:
            con.close()

    def test_offline_terminals_fetch_changes_incrementally(self):
        a, arec, aidn = self.student_card("S1")
        b, brec, bidn = self.student_card("S2")
        # new cards are on nobody's list: a full download is empty
        v0, more, entries = self.blacklist(0)
        self.assertEqual((more, entries), (0, []))
        self.assertEqual(self.blacklist(v0), (v0, 0, []))
        # a loss report: only that change
        self.gw.ctl("card", "loss", arec["card_no"], "--id-number", aidn)
        v1, more, entries = self.blacklist(v0)
        self.assertGreater(v1, v0)
        self.assertEqual((more, entries), (0, [(a.uid_hex, "lost", arec["card_no"])]))
        self.assertEqual(self.blacklist(v1), (v1, 0, []))
        # unlock: the terminal removes the card from its list
        self.gw.ctl("card", "unlock", arec["card_no"], "--id-number", aidn)
        v2, _, entries = self.blacklist(v1)
        self.assertEqual(entries, [(a.uid_hex, "active", arec["card_no"])])
        # replacement: the old UID is cancelled; the new card is simply not listed
        new = self.gw.ctl("card", "replace", brec["card_no"], "--id-number", bidn, "--defect",
                          "bent")
        v3, _, entries = self.blacklist(v2)
        self.assertEqual(entries, [(b.uid_hex, "cancelled", brec["card_no"])])
        # from 0: only the cards to refuse, each once, in its latest state
        _, _, entries = self.blacklist(0)
        self.assertEqual(entries, [(b.uid_hex, "cancelled", brec["card_no"])])
        # a card's validity ends: the daily expiry job publishes it
        past = (campus_today() - datetime.timedelta(days=10)).isoformat()
        self.set_validity_behind_the_gateways_back(arec["card_no"], past)
        self.assertEqual(self.blacklist(v3), (v3, 0, []))
        self.assertError(self.info(a), "CARD_EXPIRED")
        self.assertEqual(self.gw.ctl("job", "run", "expiry")["items"], 1)
        v4, _, entries = self.blacklist(v3)
        self.assertEqual(entries, [(a.uid_hex, "expired", arec["card_no"])])
        # once
        self.assertEqual(self.gw.ctl("job", "run", "expiry")["items"], 0)
        v5, _, entries = self.blacklist(v4)
        self.assertEqual(entries, [])
        self.assertGreaterEqual(v5, v4)

    def test_a_terminal_ahead_of_the_gateway_gets_the_whole_list_again(self):
        """After a restore of an older backup the gateway's version is behind what its
        terminals stored: such a terminal gets the whole list with the current version
        (lower than what it asked with: replace the list), and catches up from there."""
        a, arec, aidn = self.student_card("S1")
        b, brec, bidn = self.student_card("S2")
        self.gw.ctl("card", "loss", arec["card_no"], "--id-number", aidn)
        current, _, full = self.blacklist(0)
        self.assertEqual(full, [(a.uid_hex, "lost", arec["card_no"])])
        ahead = current + 50
        self.assertEqual(self.blacklist(ahead), (current, 0, full))
        # from the version it was given it learns what changes next
        self.gw.ctl("card", "found", brec["card_no"], "--by", "保卫处")
        version, more, entries = self.blacklist(current)
        self.assertGreater(version, current)
        self.assertEqual((more, entries), (0, [(b.uid_hex, "frozen", brec["card_no"])]))
        self.assertEqual(self.blacklist(version), (version, 0, []))

    def test_who_may_fetch_and_bad_arguments(self):
        self.student_card("S1")
        for tid in ("GATE-1", "POS-1", "KIOSK-1"):
            self.assertEqual(self.blacklist(0, tid=tid)[1], 0)
        self.assertError(self.term("BANK-1").call("BLACKLIST", "0"), "FORBIDDEN")
        gate = self.term("GATE-1")
        for args in (["BLACKLIST"], ["BLACKLIST", "x"], ["BLACKLIST", "-1"],
                     ["BLACKLIST", "1", "2"]):
            self.assertError(gate.call(*args), "BAD_REQUEST")


# ---- card security (R-C12), idempotency, terminal types --------------------------------------


class CryptogramTest(CardCase):
    def test_cloned_uid_without_the_key_fails(self):
        card, rec, _ = self.student_card("S1")
        other, orec, _ = self.student_card("S2")
        clone = SimCard(os.urandom(16), uid=card.uid)  # the UID copied, the key guessed
        self.assertError(self.info(clone), "BAD_CRYPTOGRAM")
        elsewhere = SimCard(MASTER_KEY, campus=b"OTHER", uid=card.uid)
        self.assertError(self.info(elsewhere), "BAD_CRYPTOGRAM")
        # a card signing with another card's key, as if it had that UID
        self.assertError(self.info(card, key_of=other), "BAD_CRYPTOGRAM")
        self.assertError(self.info(SimCard(MASTER_KEY)), "CARD_UNKNOWN")
        # the real card is untouched by all that
        self.assertEqual(self.info(card)[:2], [rec["card_no"], "active"])
        self.assertEqual(self.show(rec["card_no"])["last_atc"], card.atc)
        self.assertIn("bad cryptogram", self.gw.log_text())

    def test_any_altered_field_fails(self):
        card, rec, _ = self.student_card("S1")
        other, _, _ = self.student_card("S2")
        pos = self.term("POS-1")

        def sent(args):
            return pos.call(*args)

        def signed(verb="CARD.INFO", tid="POS-1", **kw):
            return card.swipe(tid, self.next_seq("POS-1"), verb, **kw)

        cases = {}
        args = signed()
        args[4] = str(int(args[4]) + 1)
        cases["time"] = args
        args = signed()
        args[1] = str(self.next_seq("POS-1"))
        cases["seq"] = args
        args = signed()
        args[3] = str(int(args[3]) + 1)
        cases["atc"] = args
        args = signed()
        args[2] = other.uid_hex
        cases["uid"] = args
        args = signed()
        args[6] = ("0" if args[6][0] != "0" else "1") + args[6][1:]
        cases["cryptogram"] = args
        args = signed("CARD.PASSWD")
        args[0] = "CARD.INFO"
        cases["verb"] = args
        cases["terminal"] = signed(tid="POS-2")
        cases["amount"] = signed(amount=100, tamper_amount=0)
        cases["payment amount"] = signed("PAY", amount=100, tamper_amount=1)
        for what, args in cases.items():
            with self.subTest(altered=what):
                self.assertError(sent(args), "BAD_CRYPTOGRAM")
        topup = card.swipe("KIOSK-1", self.next_seq("KIOSK-1"), "TOPUP", amount=100,
                           tamper_amount=10000)
        self.assertError(self.term("KIOSK-1").call(*topup), "BAD_CRYPTOGRAM")
        self.assertEqual(self.balance("S1"), 0)
        # CARD.INFO moves no money: any amount is malformed before the card is checked
        self.assertError(sent(signed(tamper_amount=5)), "BAD_REQUEST")
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 0)
        self.assertEqual(self.info(card)[1], "active")
        self.assertEqual(self.show(rec["card_no"])["last_atc"], card.atc)

    def test_replayed_swipe_fails(self):
        card, rec, _ = self.student_card("S1")
        self.assertEqual(self.info(card)[1], "active")  # ATC 1
        self.assertEqual(self.info(card)[1], "active")  # ATC 2
        # the card's own cryptogram, but for an ATC already used
        r = self.info(card, atc=2)
        self.assertError(r, "REPLAY")
        self.assertError(self.info(card, atc=1), "REPLAY")
        self.assertError(self.swipe(card, "CARD.PASSWD", "query",
                                    rec["initial_query_password"], "111111", tid="KIOSK-1",
                                    atc=2), "REPLAY")
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 2)
        self.assertEqual(self.info(card, atc=3)[1], "active")
        # a counter that jumps ahead is fine; going back is not
        self.assertEqual(self.info(card, atc=100)[1], "active")
        self.assertError(self.info(card, atc=99), "REPLAY")
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 100)
        self.assertIn("replayed ATC", self.gw.log_text())

    def test_clock_skew(self):
        card, rec, _ = self.student_card("S1")
        now = int(time.time() * 1000)
        self.assertError(self.info(card, time_ms=now - 3600 * 1000), "CLOCK_SKEW")
        self.assertError(self.info(card, time_ms=now + 3600 * 1000), "CLOCK_SKEW")
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 0)
        self.assertEqual(self.info(card, time_ms=now - 60 * 1000)[1], "active")  # within 10 min

    def test_terminal_types_may_use_only_their_verbs(self):
        card, rec, _ = self.student_card("S1")
        q = rec["initial_query_password"]
        self.assertError(self.info(card, tid="GATE-1"), "FORBIDDEN")
        self.assertError(self.info(card, tid="BANK-1"), "FORBIDDEN")
        self.assertError(self.passwd(card, "query", q, "111111", tid="POS-1"), "FORBIDDEN")
        self.assertError(self.passwd(card, "query", q, "111111", tid="GATE-1"), "FORBIDDEN")
        self.assertError(self.report_loss("S1", q, tid="POS-1"), "FORBIDDEN")
        self.assertError(self.report_loss("S1", q, tid="GATE-1"), "FORBIDDEN")
        self.assertEqual(self.show(rec["card_no"])["status"], "active")
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 0)
        self.assertEqual(self.info(card, tid="KIOSK-1")[1], "active")


class CardsimOfflineTest(CardCase):
    """ykt-cardsim, the reference terminal, against the real gateway: an offline sale it
    uploads with PAY.OFFLINE is accepted and charged (the card signed it as PAY)."""

    def cardsim(self, *args):
        cmd = [os.path.join(BUILD_DIR, "tools", "cardsim", "ykt-cardsim"), "--master-key",
               self.gw.master_key, "--state", os.path.join(self.gw.dir, "cardsim"), "-p",
               str(self.gw.port), "--terminal", "POS-1", "--secret", self.secret("POS-1"),
               "--json"] + [str(a) for a in args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def test_offline_sale_uploaded_by_cardsim_is_charged(self):
        card, rec, _ = self.student_card("S1")
        self.topup("S1", "5.00")
        sale = int(time.time() * 1000) - 3600 * 1000  # an hour ago, while offline
        p = self.cardsim("swipe", "--uid", card.uid_hex, "--amount", 300, "--time", sale,
                         "PAY.OFFLINE")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        reply = json.loads(p.stdout)["reply"]
        self.assertEqual(reply[1:], ["ok", 300, 200])
        self.assertEqual(self.gw.sql("SELECT amount, offline FROM payments"), [(300, 1)])
        # a payment online from the same software card still works (its ATC moved on)
        p = self.cardsim("swipe", "--uid", card.uid_hex, "--amount", 100, "PAY")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.balance("S1"), 100)


class IdempotencyTest(CardCase):
    def test_a_retry_gets_the_first_reply_and_nothing_runs_twice(self):
        card, rec, _ = self.student_card("S1")
        pos = self.term("POS-1")
        args = card.swipe("POS-1", 7, "CARD.INFO")
        first = pos.call(*args)
        self.assertEqual(first[5], 0)
        self.topup("S1", "3.00")
        self.assertEqual(pos.call(*args), first)  # the kept reply, not a second read
        again = self.gw.terminal("POS-1", self.secret("POS-1"))
        self.assertEqual(again.call(*args), first)  # also on a new connection
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 1)
        # the same seq with other arguments
        self.assertError(pos.call(*card.swipe("POS-1", 7, "CARD.INFO")), "SEQ_REUSED")
        # a seq is the terminal's own: POS-2 may use 7 too
        self.assertEqual(self.term("POS-2").call(*card.swipe("POS-2", 7, "CARD.INFO"))[5], 300)
        # refusals are kept as well
        replay = card.swipe("POS-1", 8, "CARD.INFO", atc=1)
        r1 = pos.call(*replay)
        self.assertError(r1, "REPLAY")
        r2 = pos.call(*replay)
        self.assertError(r2, "REPLAY")
        self.assertEqual(r1.message, r2.message)

    def test_seqs_need_not_rise(self):
        # A seq above every kept one is not looked up (verbs.c, replay_outcome); one below
        # is, before and after a restart, and a new lower seq still runs.
        card, rec, _ = self.student_card("S1")
        pos = self.term("POS-1")
        high = card.swipe("POS-1", 100, "CARD.INFO")
        r_high = pos.call(*high)
        self.assertEqual(r_high[5], 0)
        low = card.swipe("POS-1", 50, "CARD.INFO")  # a replaced device starting lower
        r_low = pos.call(*low)
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 2)
        self.assertEqual(pos.call(*low), r_low)
        self.assertEqual(pos.call(*high), r_high)
        self.assertError(pos.call(*card.swipe("POS-1", 50, "CARD.INFO")), "SEQ_REUSED")
        self.gw.stop()
        self.gw.start()
        self.conns.clear()
        pos = self.term("POS-1")
        self.assertEqual(pos.call(*high), r_high)  # the first after a restart: looked up
        self.assertEqual(pos.call(*low), r_low)
        self.assertEqual(pos.call(*card.swipe("POS-1", 101, "CARD.INFO"))[5], 0)
        self.assertEqual(self.show(rec["card_no"])["last_atc"], 4)
        self.assertEqual(self.gw.sql("SELECT seq FROM terminal_requests WHERE terminal = "
                                     "'POS-1' ORDER BY seq"), [(50,), (100,), (101,)])

    def test_outcomes_outlive_the_prune_job_and_restarts(self):
        # The daily prune job drops only outcomes older than [terminal] request_retention
        # (30 days), and a restart (which runs the daily jobs) keeps them too.
        card, rec, _ = self.student_card("S1")
        pos = self.term("POS-1")
        args = card.swipe("POS-1", 41, "CARD.INFO")
        first = pos.call(*args)
        self.assertEqual(self.gw.ctl("job", "run", "prune")["items"], 0)
        self.assertEqual(pos.call(*args), first)
        self.gw.stop()
        self.gw.start()
        self.conns.clear()  # those connections ended with the old process
        self.assertEqual(self.term("POS-1").call(*args), first)
        # an outcome older than the retention goes; the card's ATC still refuses the swipe
        self.assertEqual(self.gw.sql_write(
            "UPDATE terminal_requests SET at = at - ? WHERE terminal = 'POS-1' AND seq = 41",
            31 * 86400000), 1)
        self.assertEqual(self.gw.ctl("job", "run", "prune")["items"], 1)
        self.assertError(self.term("POS-1").call(*args), "REPLAY")

    def test_outcomes_are_walked_then_found_archived(self):
        # schema v12: a terminal's outcomes are a chain, walked back from its newest; the
        # daily job archives them into an index, where a retry still finds its first reply
        card, _, _ = self.student_card("S1")
        pos = self.term("POS-1")
        a, b = card.swipe("POS-1", 41, "CARD.INFO"), card.swipe("POS-1", 42, "CARD.INFO")
        ra, rb = pos.call(*a), pos.call(*b)
        chain = ("SELECT seq, floor, prev_id = (SELECT max(id) FROM terminal_requests o WHERE "
                 "o.terminal = r.terminal AND o.id < r.id), archived FROM terminal_requests r "
                 "WHERE terminal = 'POS-1' ORDER BY id")
        self.assertEqual(self.gw.sql(chain), [(41, 0, None, 0), (42, 41, 1, 0)])
        self.assertEqual((pos.call(*a), pos.call(*b)), (ra, rb))  # by the walk
        self.assertEqual(self.gw.ctl("job", "run", "prune")["items"], 0)
        self.assertEqual(self.gw.sql(chain), [(41, 0, None, 1), (42, 41, 1, 1)])
        self.assertEqual((pos.call(*a), pos.call(*b)), (ra, rb))  # by the index
        c = card.swipe("POS-1", 43, "CARD.INFO")
        rc = pos.call(*c)
        # its floor counts the outcomes not archived only: the walk stops at 43
        self.assertEqual(self.gw.sql(chain)[2], (43, 0, 1, 0))
        # the walk from 43 ends at the archived 42; the index has it
        self.assertEqual((pos.call(*b), pos.call(*c)), (rb, rc))
        self.assertError(pos.call(*card.swipe("POS-1", 42, "CARD.INFO")), "SEQ_REUSED")
        self.gw.stop()
        self.gw.start()  # runs the daily jobs: 43 is archived too
        self.conns.clear()
        pos = self.term("POS-1")
        self.assertEqual([r[3] for r in self.gw.sql(chain)], [1, 1, 1])
        self.assertEqual((pos.call(*c), pos.call(*a)), (rc, ra))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM terminal_requests WHERE terminal = "
                                     "'POS-1'"), [(3,)])

    def test_outcomes_are_archived_even_while_a_daily_job_fails(self):
        # the archive runs before the daily jobs and on its own: a job that keeps failing
        # (here the expiry job, by a trigger) would otherwise leave the walks growing
        card, _, _ = self.student_card("S1")
        pos = self.term("POS-1")
        a = card.swipe("POS-1", 41, "CARD.INFO")
        ra = pos.call(*a)
        self.gw.stop()
        self.gw.sql_write("CREATE TRIGGER fail_expiry BEFORE UPDATE ON meta WHEN "
                          "NEW.key = 'blacklist_version' BEGIN SELECT RAISE(ABORT, "
                          "'injected'); END")
        self.gw.start()  # runs the daily jobs
        self.conns.clear()
        # the jobs run on the loop just after the start, their batch commits after them
        deadline = time.time() + 10
        while "job expiry for" not in self.gw.log_text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("job expiry for", self.gw.log_text())
        self.assertEqual(self.term("POS-1").call("PING"), "PONG")  # after that commit
        self.assertEqual(self.gw.sql("SELECT archived FROM terminal_requests WHERE terminal = "
                                     "'POS-1' AND seq = 41"), [(1,)])
        self.assertEqual(self.term("POS-1").call(*a), ra)

    def test_a_pruned_outcome_id_is_never_used_again(self):
        # the prune empties the newest row instead of deleting it: SQLite would give the
        # next outcome that id again, and an old link to it would lead to the new one
        card, _, _ = self.student_card("S1")
        pos = self.term("POS-1")
        a = card.swipe("POS-1", 41, "CARD.INFO")
        pos.call(*a)
        top = self.gw.sql("SELECT max(id) FROM terminal_requests")[0][0]
        self.gw.sql_write("UPDATE terminal_requests SET at = at - ?", 31 * 86400000)
        self.assertEqual(self.gw.ctl("job", "run", "prune")["items"], top)
        self.assertEqual(self.gw.sql("SELECT id, terminal, seq FROM terminal_requests"),
                         [(top, "", 0)])
        self.assertError(pos.call(*a), "REPLAY")  # forgotten: runs, and the ATC refuses it
        self.assertEqual(self.gw.sql("SELECT id, seq FROM terminal_requests WHERE terminal = "
                                     "'POS-1'"), [(top + 1, 41)])

    def test_a_retried_password_change_runs_once(self):
        card, rec, _ = self.student_card("S1")
        kiosk = self.term("KIOSK-1")
        args = card.swipe("KIOSK-1", 1, "CARD.PASSWD",
                          extra=("query", rec["initial_query_password"], "654321"))
        self.assertEqual(kiosk.call(*args), "OK")
        # run again it would be a wrong old password; the kept reply says OK
        self.assertEqual(kiosk.call(*args), "OK")
        self.assertEqual(self.gw.sql("SELECT failures FROM passwords WHERE which = 'query'"),
                         [(0,)])
        self.seqs["KIOSK-1"] = 1
        self.assertEqual(self.passwd(card, "query", "654321", "111111"), "OK")

    def test_a_refused_use_retried_after_unlock_stays_refused(self):
        card, rec, idn = self.student_card("S1")
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        args = card.swipe("POS-1", 3, "CARD.INFO")
        self.assertError(self.term("POS-1").call(*args), "CARD_LOST")
        self.gw.ctl("card", "unlock", rec["card_no"], "--id-number", idn)
        self.assertError(self.term("POS-1").call(*args), "CARD_LOST")
        refused = [h for h in self.history(rec["card_no"]) if h["event"] == "refused_use"]
        self.assertEqual(len(refused), 1)  # the retry did not run again
        self.seqs["POS-1"] = 3
        self.assertEqual(self.info(card)[1], "active")


# ---- passwords (R-C10) -----------------------------------------------------------------------


class PasswordTest(CardCase):
    def test_holder_changes_both_passwords_at_a_kiosk(self):
        card, rec, _ = self.student_card("S1")
        q, p = rec["initial_query_password"], rec["initial_pay_password"]
        self.assertEqual(self.passwd(card, "query", q, "246810"), "OK")
        self.assertError(self.passwd(card, "query", q, "135790"), "WRONG_PASSWORD")
        self.assertEqual(self.passwd(card, "query", "246810", "135790"), "OK")
        self.assertError(self.passwd(card, "pay", other_password(p), "112233"), "BAD_PIN")
        self.assertEqual(self.passwd(card, "pay", p, "112233"), "OK")
        for new in ("12345", "1234567", "abcdef", "12 456", ""):
            with self.subTest(new=new):
                self.assertError(self.passwd(card, "pay", "112233", new), "BAD_PASSWORD")
        self.assertError(self.passwd(card, "atm", "112233", "223344"), "BAD_REQUEST")
        self.assertError(self.passwd(card, "pay", "", "223344"), "BAD_REQUEST")
        self.assertError(self.swipe(card, "CARD.PASSWD", "pay", "112233", tid="KIOSK-1"),
                         "BAD_REQUEST")
        # the new query password reports a loss; the changed ones are no longer initial
        self.assertEqual(self.gw.sql("SELECT which, initial FROM passwords ORDER BY which"),
                         [("pay", 0), ("query", 0)])
        self.assertEqual(self.report_loss("S1", "135790"), "OK")

    def test_the_old_password_is_checked_before_the_new_one(self):
        # R-C10 counts wrong tries: a wrong old password with a malformed new one is a wrong
        # try too, and BAD_PASSWORD only comes with the right old one, which ends the run.
        card, rec, _ = self.student_card("S1")
        q = rec["initial_query_password"]
        wrong = other_password(q)
        for i in range(2):
            self.assertError(self.passwd(card, "query", wrong, "12345"), "WRONG_PASSWORD")
        self.assertEqual(self.gw.sql("SELECT failures FROM passwords WHERE which = 'query'"),
                         [(2,)])
        self.assertError(self.passwd(card, "query", q, "abcdef"), "BAD_PASSWORD")
        self.assertEqual(self.gw.sql("SELECT failures, initial FROM passwords "
                                     "WHERE which = 'query'"), [(0, 1)])
        self.assertEqual(self.passwd(card, "query", q, "246810"), "OK")

    def test_sixth_try_is_locked_even_with_the_right_password(self):
        card, rec, idn = self.student_card("S1")
        q, p = rec["initial_query_password"], rec["initial_pay_password"]
        wrong = other_password(q)
        for i in range(5):
            r = self.passwd(card, "query", wrong, "111111")
            self.assertError(r, "WRONG_PASSWORD")
        self.assertIn("locked for 30 minutes", r.message)
        r = self.passwd(card, "query", q, "111111")
        self.assertError(r, "PASSWORD_LOCKED")
        # the lock answers first, whatever the new password looks like
        self.assertError(self.passwd(card, "query", q, "12345"), "PASSWORD_LOCKED")
        self.assertError(self.report_loss("S1", q), "PASSWORD_LOCKED")
        locked_until = self.gw.sql("SELECT locked_until FROM passwords WHERE which = 'query'")
        now = time.time() * 1000
        self.assertTrue(now + 29 * 60000 < locked_until[0][0] < now + 31 * 60000, locked_until)
        # the payment password is a separate one
        self.assertEqual(self.passwd(card, "pay", p, "222222"), "OK")
        # a forgotten or locked password is reset at the counter, with card and ID
        no = rec["card_no"]
        self.ctl_fails("ID_REQUIRED", "card", "reset-password", no, "--which", "query")
        self.ctl_fails("BAD_REQUEST", "card", "reset-password", no, "--which", "both",
                       "--id-number", idn)
        r = self.gw.ctl("card", "reset-password", no, "--which", "query", "--id-number", idn,
                        "--approval", "PW-1")
        self.assertEqual((r["card_no"], r["password"]), (no, "query"))
        self.assertRegex(r["initial_password"], r"^\d{6}$")
        self.assertError(self.passwd(card, "query", q, "333333"), "WRONG_PASSWORD")
        self.assertEqual(self.passwd(card, "query", r["initial_password"], "333333"), "OK")
        reset = [h for h in self.history(no) if h["event"] == "password_reset"]
        self.assertEqual([(h["detail"], h["id_checked"]) for h in reset], [("query", "yes")])
        audit = self.audit("card.reset-password")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]), (no, "PW-1"))
        self.assertNotIn(r["initial_password"], str(audit))

    def test_only_wrong_tries_in_a_row_count(self):
        card, rec, _ = self.student_card("S1")
        q = rec["initial_query_password"]
        wrong = other_password(q)
        for _ in range(2):
            for _ in range(4):
                self.assertError(self.passwd(card, "query", wrong, "111111"), "WRONG_PASSWORD")
            self.assertEqual(self.passwd(card, "query", q, q), "OK")
        self.assertEqual(self.gw.sql("SELECT failures, locked_until FROM passwords "
                                     "WHERE which = 'query'"), [(0, 0)])


    def test_right_pin_on_a_refused_payment_still_ends_the_wrong_tries(self):
        """R-C10 locks after five wrong tries *in a row*: a right PIN whose payment is then
        refused for the balance or a limit breaks the row like any right PIN."""
        card, rec, _ = self.student_card("S1")
        p = rec["initial_pay_password"]
        wrong = other_password(p)
        self.topup("S1", "1.00")
        for i in range(5):
            self.assertError(self.swipe(card, "PAY", wrong, amount=100), "BAD_PIN")
            if i % 2 == 0:  # more than the balance
                self.assertError(self.swipe(card, "PAY", p, amount=500), "INSUFFICIENT_FUNDS")
            else:  # more than [wallet] max_payment (500.00)
                self.assertError(self.swipe(card, "PAY", p, amount=50001), "LIMIT_EXCEEDED")
        self.assertEqual(self.gw.sql("SELECT failures, locked_until FROM passwords "
                                     "WHERE which = 'pay'"), [(0, 0)])
        # one more wrong try is the first of a new row, not the sixth: no lock
        r = self.swipe(card, "PAY", wrong, amount=100)
        self.assertError(r, "BAD_PIN")
        self.assertNotIn("locked", r.message)
        paid = self.swipe(card, "PAY", p, amount=100)
        self.assertIsInstance(paid, list, paid)
        # the refused payments moved no money
        self.assertEqual(self.balance("S1"), paid[2])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(1,)])


class PasswordLockSettingsTest(CardCase):
    sets = {"cards.password_lock": "2s", "cards.password_max_failures": "3"}

    def test_lock_length_and_tries_are_settings_and_the_lock_ends(self):
        card, rec, _ = self.student_card("S1")
        q = rec["initial_query_password"]
        wrong = other_password(q)
        for _ in range(3):
            r = self.passwd(card, "query", wrong, "111111")
            self.assertError(r, "WRONG_PASSWORD")
        self.assertIn("locked for 2 seconds", r.message)
        locked_at = time.time()
        self.assertError(self.passwd(card, "query", q, "111111"), "PASSWORD_LOCKED")
        time.sleep(max(0.0, locked_at + 2.3 - time.time()))
        self.assertEqual(self.passwd(card, "query", q, "111111"), "OK")


# ---- the audit trail of the counter (R-S6 for R-C*) -------------------------------------------


class CounterAuditTest(CardCase):
    def test_every_step_is_audited_with_operator_and_approval(self):
        pw = self.gw.add_operator("olga", "operator", password="olga-pass-123")

        def olga(*args):
            return self.gw.ctl(*args, user="olga", password=pw)

        idn = self.new_id_number()
        olga("person", "add", "T1", "--kind", "staff", "--name", "王建国", "--gender", "M",
             "--id-number", idn, "--department", "HR", "--valid-until", "2030-12-31",
             "--approval", "HR-IN-1")
        olga("approval", "add", "T1", "--kind", "unit_leader", "--approver", "王主任", "--ref",
             "HR-2026-031")
        olga("approval", "add", "T1", "--kind", "functional_dept", "--approver", "人事处",
             "--ref", "HR-2026-032")
        rec = olga("card", "issue", "T1")
        no = rec["card_no"]
        olga("account", "topup", "T1", "--amount", "20.00", "--approval", "RCPT-1")
        olga("card", "loss", no, "--id-number", idn, "--approval", "L-1")
        olga("card", "unlock", no, "--id-number", idn, "--approval", "U-1")
        new = olga("card", "replace", no, "--id-number", idn, "--approval", "R-1")
        new_no = new["card_no"]
        olga("card", "reset-password", new_no, "--which", "pay", "--id-number", idn,
             "--approval", "P-1")
        olga("card", "found", new_no, "--by", "保卫处", "--approval", "F-1")
        olga("card", "unlock", new_no, "--id-number", idn, "--approval", "U-2")
        olga("card", "extend", new_no, "--until", "2031-12-31", "--proof", "HR-EXT-9")
        olga("card", "confiscate", new_no, "--reason", "sold", "--approval", "C-1")
        olga("account", "refund", "T1", "--id-number", idn, "--approval", "RF-1")
        olga("person", "set-status", "T1", "left", "--ref", "HR-OUT-1", "--approval", "HR-OUT-1")
        rows = [r for r in reversed(self.gw.ctl("audit", "list", "--operator", "olga"))
                if r["action"] != "operator.passwd"]  # add_operator's own password change
        got = [(r["operator"], r["role"], r["action"], r["target"], r["approval"])
               for r in rows]
        self.assertEqual(got, [
            ("olga", "operator", "person.add", "T1", "HR-IN-1"),
            ("olga", "operator", "approval.add", "T1", None),
            ("olga", "operator", "approval.add", "T1", None),
            ("olga", "operator", "card.issue", no, "HR-2026-031,HR-2026-032"),
            ("olga", "operator", "account.topup", "T1", "RCPT-1"),
            ("olga", "operator", "card.loss", no, "L-1"),
            ("olga", "operator", "card.unlock", no, "U-1"),
            ("olga", "operator", "card.replace", no, "R-1"),
            ("olga", "operator", "card.reset-password", new_no, "P-1"),
            ("olga", "operator", "card.found", new_no, "F-1"),
            ("olga", "operator", "card.unlock", new_no, "U-2"),
            ("olga", "operator", "card.extend", "T1", "HR-EXT-9"),
            ("olga", "operator", "card.confiscate", new_no, "C-1"),
            ("olga", "operator", "account.refund", "T1", "RF-1"),
            ("olga", "operator", "person.set-status", "T1", "HR-OUT-1"),
        ])
        self.assertIn("HR-2026-031", rows[1]["detail"] + rows[3]["detail"])
        # no ID number in the trail (R-P3)
        self.assertNotIn(idn, str(rows))
        # the cards' histories: who did what, and whether the holder's ID was checked
        old_events = [(h["event"], h["actor"], h["id_checked"])
                      for h in reversed(self.history(no))]
        self.assertEqual(old_events, [("issued", "olga", "no"),
                                      ("status:lost", "olga", "yes"),
                                      ("status:active", "olga", "yes"),
                                      ("status:cancelled", "olga", "yes")])
        new_events = [(h["event"], h["actor"], h["id_checked"])
                      for h in reversed(self.history(new_no))]
        self.assertEqual(new_events, [("issued", "olga", "yes"),
                                      ("password_reset", "olga", "yes"),
                                      ("status:frozen", "olga", "no"),
                                      ("status:active", "olga", "yes"),
                                      ("status:cancelled", "olga", "no")])


if __name__ == "__main__":
    unittest.main()
