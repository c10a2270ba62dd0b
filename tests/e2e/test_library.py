"""The library plugin end to end (R-L; R-C4 and R-C6 as they touch loans): the real yktd loads
plugins/library (prefix LIB) and the library desk (a POS terminal owned by the library's
merchant) and a self-service kiosk speak LIB.* with software cards.

Covered: the CSV import (all rows or none), borrowing within the limits of the holder's kind,
renewals (limit, reserved by someone else, overdue), reservations with the next reader notified
and the copy held for them (and passed on when the hold expires), overdue fines from
scripts/library.lua paid from the wallet at return or recorded as owed (owed fines block
borrowing until LIB.PAY, with the payment password above the threshold), a lost card blocked,
a replacement card keeping its loans, returns without the card, the reports and the
department's administrators, the holder's own record (LIB.HISTORY), withdrawing a copy, and bad
input (CSV rows, oversized fields, negative numbers, signed amounts) refused with nothing
changed. `yktctl audit` is clean after every test (WalletCase.tearDown).
"""

import datetime
import signal
import unittest

from harness import MASTER_KEY, Gateway, RespError, encode, wait_until
from test_wallet import WalletCase, abandon_request, campus_today, other_password, retry_request
from ykt_cards import SimCard

LIB_SETS = {
    "plugin.library.enabled": "yes",
    "plugin.library.prefix": "LIB",
    "plugin.library.merchant": "library",
    "plugin.library.student_items": "2",
    "plugin.library.student_days": "30",
    "plugin.library.staff_items": "5",
    "plugin.library.staff_days": "60",
    "plugin.library.max_renewals": "2",
    "plugin.library.hold_days": "3",
    "plugin.library.pin_threshold": "100",
    "plugin.library.department": "图书馆",
}

CATALOGUE = (
    "barcode,isbn,title,author,publisher,year,location\r\n"
    "B001,978-7-111-40701-0,算法导论,Cormen,机械工业出版社,2013,A3-01\r\n"
    "B002,9787111407010,算法导论,Cormen,机械工业出版社,2013,A3-01\r\n"
    "B003,978-7-115-27579-0,\"SICP, 2nd ed.\",Abelson,人民邮电出版社,2012,A3-02\r\n"
    "B004,0-306-40615-2,The C Book,\"Banahan, Brady\",,1991,A4-07\r\n"
    "B005,978-0-13-110362-7,The C Programming Language,K&R,Prentice Hall,1988,A4-08\r\n"
)
ALGO = "9787111407010"  # two copies: B001, B002
SICP = "9787115275790"  # one copy: B003


def day(offset):
    return (campus_today() + datetime.timedelta(days=offset)).isoformat()


class LibraryCase(WalletCase):
    sets = LIB_SETS

    def setUp(self):
        super().setUp()
        self.merchant("library", "library")
        self.terminal("DESK-1", "pos", owner="library")
        self.terminal("KIOSK-1", "kiosk")
        self.gw.add_operator("lib1", "dept_admin", department="图书馆")
        rec = self.lib_ctl("library", "import", self.gw.data_file(CATALOGUE))
        self.assertEqual((rec["copies"], rec["new_titles"]), (5, 4))

    def lib_ctl(self, *args, check=True):
        return self.gw.ctl(*args, user="lib1", password="operator-pass-1", check=check)

    # ---- the desk ----

    def borrow(self, card, barcode, tid="DESK-1"):
        return self.swipe(card, tid, "LIB.BORROW", 0, barcode)

    def give_back(self, card, barcode, max_fine=0, tid="DESK-1"):
        return self.swipe(card, tid, "LIB.RETURN", max_fine, barcode)

    def renew(self, card, barcode, tid="KIOSK-1"):
        return self.swipe(card, tid, "LIB.RENEW", 0, barcode)

    def reserve(self, card, what, tid="KIOSK-1"):
        return self.swipe(card, tid, "LIB.RESERVE", 0, what)

    def status(self, card, tid="KIOSK-1"):
        return self.send(tid, self.signed(card, tid, "LIB.STATUS", 0))

    def make_overdue(self, barcode, days):
        """Moves an open loan's due date `days` into the past."""
        self.assertEqual(self.gw.sql_write("UPDATE library_loans SET due_date = ? WHERE "
                                           "barcode = ? AND returned_ms IS NULL",
                                           day(-days), barcode), 1)

    def copy_status(self, barcode):
        return self.gw.sql("SELECT status FROM library_copies WHERE barcode = ?", barcode)[0][0]

    def open_loans(self):
        return self.gw.sql("SELECT barcode, person_no FROM library_loans WHERE returned_ms IS "
                           "NULL ORDER BY barcode")

    def library_account(self):
        return self.account("merchant", "library")


class LibraryCatalogueTest(LibraryCase):
    def test_import_all_rows_or_none(self):
        rows = self.lib_ctl("library", "catalogue")
        self.assertEqual(len(rows), 5)
        sicp = [r for r in rows if r["barcode"] == "B003"][0]
        self.assertEqual((sicp["isbn"], sicp["title"], sicp["status"], sicp["location"]),
                         (SICP, "SICP, 2nd ed.", "available", "A3-02"))
        self.assertEqual(len(self.lib_ctl("library", "catalogue", "--isbn", "978-7-111-40701-0")),
                         2)
        self.assertEqual(self.gw.sql("SELECT author FROM library_titles WHERE isbn = "
                                     "'0306406152'"), [("Banahan, Brady",)])
        before = self.gw.sql("SELECT count(*) FROM library_copies")
        bad = ("barcode,isbn,title\n"
               "B010,9787111407010,算法导论\n"       # fine on its own
               "B011,9787111407011,Bad check digit\n"
               "B001,9780131103627,The C Programming Language\n"  # barcode taken
               "B012,9780131103627,Another title\n"                # ISBN has another title
               "B 13,9780131103627,The C Programming Language\n")
        p = self.lib_ctl("library", "import", self.gw.data_file(bad), check=False)
        self.assertRefused(p, "BAD_CSV")
        for text in ("4 of 5 rows refused, nothing imported", "line 3: isbn",
                     "check digit", "line 4: barcode B001 is already catalogued",
                     "line 5: ISBN 9780131103627 is catalogued as", "line 6: barcode"):
            self.assertIn(text, p.stderr)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM library_copies"), before)
        for text, why in (("isbn,title\n9787111407010,x\n", "barcode, isbn and title"),
                          ("barcode,isbn,title,colour\nB1,9787111407010,x,red\n",
                           "unknown column 'colour'"),
                          ("", "empty"), ("barcode,isbn,title\n", "no rows"),
                          ("barcode,isbn,title\nB20,\"9787111407010,x\n", "not closed"),
                          (b"barcode,isbn,title\nB20,9787111407010,\xff\n", "not UTF-8 text")):
            p = self.lib_ctl("library", "import", self.gw.data_file(text), check=False)
            self.assertRefused(p, "BAD_CSV")
            self.assertIn(why, p.stderr)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM library_copies"), before)
        # only the library's administrators import (department = 图书馆)
        self.gw.add_operator("cs1", "dept_admin", department="CS")
        p = self.gw.ctl("library", "import", self.gw.data_file("barcode,isbn,title\nB30,9787111407010,算法导论\n"),
                        user="cs1", password="operator-pass-1", check=False)
        self.assertRefused(p, "FORBIDDEN")
        self.gw.add_operator("fin1", "finance")
        p = self.gw.ctl("library", "import", self.gw.data_file("barcode,isbn,title\nB30,9787111407010,算法导论\n"),
                        user="fin1", password="operator-pass-1", check=False)
        self.assertRefused(p, "FORBIDDEN")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM library_copies"), before)
        audit = self.gw.ctl("audit", "list", "--action", "library.import")
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit[0]["operator"], "lib1")


class LibraryLoanTest(LibraryCase):
    def test_borrow_return_on_time_and_the_record(self):
        card, _, _ = self.holder("S1", "20.00")
        self.assertEqual(self.borrow(card, "B003"), [day(30), "SICP, 2nd ed.", 1, 2])
        self.assertEqual(self.copy_status("B003"), "loaned")
        st = self.status(card)
        self.assertEqual(st, [1, 2, 0, 0, 0, [["B003", "SICP, 2nd ed.", day(30), 0]]])
        # the same copy again, by the same reader or another
        self.assertError(self.borrow(card, "B003"), "ALREADY_BORROWED")
        other, _, _ = self.holder("S2")
        self.assertError(self.borrow(other, "B003"), "ON_LOAN")
        self.assertError(self.borrow(card, "NOPE"), "NO_COPY")
        self.assertError(self.borrow(card, "B 1"), "BAD_REQUEST")
        self.assertEqual(self.conns["DESK-1"].call("LIB.FINE", "B003"), [0, 0])
        self.assertEqual(self.give_back(card, "B003"), [0, 0, 0, "shelf"])
        self.assertEqual(self.copy_status("B003"), "available")
        self.assertError(self.give_back(card, "B003"), "NOT_ON_LOAN")
        rec = self.lib_ctl("library", "record", "S1")
        self.assertEqual([(r["barcode"], r["due_date"], r["returned"], r["fine"],
                           r["fine_status"]) for r in rec],
                         [("B003", day(30), day(0), 0, "none")])
        self.assertEqual(self.lib_ctl("library", "record", "S2"), [])
        self.assertRefused(self.lib_ctl("library", "record", "NOBODY", check=False), "NOT_FOUND")
        self.assertEqual(self.balance("S1"), 2000)
        # the verbs are the library's terminals' only
        self.terminal("GATE-1", "gate")
        self.assertError(self.borrow(card, "B003", tid="GATE-1"), "FORBIDDEN")

    def test_borrow_over_the_limit_is_refused(self):
        card, _, _ = self.holder("S1")
        self.assertEqual(self.borrow(card, "B001")[2:], [1, 2])
        self.assertEqual(self.borrow(card, "B003")[2:], [2, 2])
        before = (self.open_loans(), self.copy_status("B004"))
        r = self.borrow(card, "B004")
        self.assertError(r, "LOAN_LIMIT")
        self.assertIn("at most 2 items", r.message)
        self.assertEqual((self.open_loans(), self.copy_status("B004")), before)
        # staff have their own limit and loan days
        self.person("T1", kind="staff", until=day(400))
        for kind in ("unit_leader", "functional_dept"):
            self.gw.ctl("approval", "add", "T1", "--kind", kind, "--approver", "王主任",
                        "--ref", "HR-T1-" + kind)
        staff = SimCard(MASTER_KEY, uid=self.gw.ctl("card", "issue", "T1")["uid"])
        self.assertEqual(self.borrow(staff, "B004"), [day(60), "The C Book", 1, 5])
        # returning one makes room again
        self.assertEqual(self.give_back(card, "B001")[3], "shelf")
        self.assertEqual(self.borrow(card, "B005")[2:], [2, 2])

    def test_renew_limit_and_reserved_copy(self):
        card, _, _ = self.holder("S1")
        other, _, _ = self.holder("S2")
        self.borrow(card, "B003")
        self.assertEqual(self.renew(card, "B003"), [day(60), 1])
        self.assertEqual(self.renew(card, "B003"), [day(90), 2])
        r = self.renew(card, "B003")
        self.assertError(r, "RENEW_LIMIT")
        self.assertEqual(self.gw.sql("SELECT due_date, renewals FROM library_loans"),
                         [(day(90), 2)])
        self.assertError(self.renew(other, "B003"), "NOT_BORROWER")
        self.assertError(self.renew(card, "B004"), "NOT_ON_LOAN")
        # a reserved copy cannot be renewed: the other reader is waiting for it
        self.borrow(card, "B001")
        self.borrow(other, "B002")  # both copies of 算法导论 are out
        third, _, _ = self.holder("S3")
        self.assertEqual(self.reserve(third, ALGO), [1, 1])
        r = self.renew(card, "B001")
        self.assertError(r, "RESERVED")
        self.assertIn("reserved by 1 other reader", r.message)
        self.assertEqual(self.gw.sql("SELECT renewals FROM library_loans WHERE barcode = 'B001'"),
                         [(0,)])
        # an overdue loan is not renewed either
        self.make_overdue("B003", 1)
        self.gw.ctl("library", "overdue")
        self.assertError(self.renew(card, "B003"), "OVERDUE")

    def test_reservation_notifies_the_next_reader_and_holds_the_copy(self):
        a, _, _ = self.holder("S1")
        b, _, _ = self.holder("S2")
        c, _, _ = self.holder("S3")
        # a copy on the shelf is borrowed, not reserved
        self.assertError(self.reserve(b, SICP), "AVAILABLE")
        self.borrow(a, "B003")
        self.assertError(self.reserve(a, SICP), "ALREADY_BORROWED")
        self.assertEqual(self.reserve(b, "B003")[1], 1)  # by a copy's barcode
        self.assertError(self.reserve(b, SICP), "ALREADY_RESERVED")
        self.assertEqual(self.reserve(c, SICP)[1], 2)
        self.assertError(self.reserve(c, "9780000000000"), "NO_TITLE")
        self.assertError(self.reserve(c, "no such"), "BAD_REQUEST")
        self.assertEqual(self.notices("S2", "reservation"), [])
        # the copy comes back: held for S2, who is told
        self.assertEqual(self.give_back(a, "B003"), [0, 0, 0, "hold"])
        self.assertEqual(self.copy_status("B003"), "held")
        n = self.notices("S2", "reservation")
        self.assertEqual(len(n), 1, n)
        self.assertIn("SICP, 2nd ed.", n[0]["message"])
        self.assertIn(day(3), n[0]["message"])
        self.assertEqual(self.notices("S3", "reservation"), [])
        self.assertEqual(self.status(b)[4], 1)  # one reservation ready
        res = self.lib_ctl("library", "reservations", "--isbn", SICP)
        self.assertEqual([(r["person"], r["status"], r["copy"]) for r in res],
                         [("S2", "ready", "B003"), ("S3", "waiting", "")])
        # nobody else may take the held copy
        r = self.borrow(c, "B003")
        self.assertError(r, "HELD")
        self.assertError(self.borrow(a, "B003"), "HELD")
        self.assertEqual(self.borrow(b, "B003")[1], "SICP, 2nd ed.")
        self.assertEqual(self.gw.sql("SELECT person_no, status FROM library_reservations "
                                     "ORDER BY id"), [("S2", "fulfilled"), ("S3", "waiting")])
        # S2 brings it back: now S3's turn; S3 cancels, and the copy goes to the shelf
        self.assertEqual(self.give_back(b, "B003")[3], "hold")
        self.assertEqual(len(self.notices("S3", "reservation")), 1)
        self.assertEqual(self.swipe(c, "KIOSK-1", "LIB.CANCEL", 0, SICP), "OK")
        self.assertEqual(self.copy_status("B003"), "available")
        self.assertError(self.swipe(c, "KIOSK-1", "LIB.CANCEL", 0, SICP), "NOT_RESERVED")

    def test_a_hold_not_collected_expires_and_passes_on(self):
        a, _, _ = self.holder("S1")
        b, _, _ = self.holder("S2")
        c, _, _ = self.holder("S3")
        self.borrow(a, "B003")
        self.reserve(b, SICP)
        self.reserve(c, SICP)
        self.give_back(a, "B003")
        self.gw.sql_write("UPDATE library_reservations SET hold_until_ms = 1000 "
                          "WHERE person_no = 'S2'")

        def passed():
            return self.gw.sql("SELECT person_no, status, barcode FROM library_reservations "
                               "ORDER BY id") == [("S2", "expired", "B003"),
                                                  ("S3", "ready", "B003")]
        self.assertTrue(self.wait(passed), self.gw.sql("SELECT * FROM library_reservations"))
        self.assertTrue(any("expired" in n["message"] for n in self.notices("S2", "reservation")))
        self.assertEqual(len(self.notices("S3", "reservation")), 1)
        self.gw.sql_write("UPDATE library_reservations SET hold_until_ms = 1000 "
                          "WHERE person_no = 'S3'")
        self.assertTrue(self.wait(lambda: self.copy_status("B003") == "available"))
        self.assertEqual(self.borrow(a, "B003")[0], day(30))

    def wait(self, predicate):
        from harness import wait_until
        return wait_until(predicate, 5)


class LibraryFineTest(LibraryCase):
    def test_fine_paid_from_the_wallet_at_return(self):
        card, _, _ = self.holder("S1", "20.00")
        self.borrow(card, "B003")
        self.make_overdue("B003", 5)
        self.assertEqual(self.conns["DESK-1"].call("LIB.FINE", "B003"), [5, 50])
        over = self.lib_ctl("library", "overdue")
        self.assertEqual([(r["barcode"], r["person"], r["days_overdue"], r["fine_so_far"])
                          for r in over], [("B003", "S1", 5, 50)])
        args = self.signed(card, "DESK-1", "LIB.RETURN", 50, "B003")
        first = self.send("DESK-1", args)
        self.assertEqual(first, [50, 50, 0, "shelf"])
        # the terminal retries: the same reply, the money moved once
        self.assertEqual(self.send("DESK-1", args), first)
        self.assertEqual(self.balance("S1"), 1950)
        self.assertEqual(self.library_account(), 50)
        self.assertEqual(self.gw.sql("SELECT merchant, terminal, charged FROM payments"),
                         [("library", "DESK-1", 50)])
        self.assertEqual(self.gw.sql("SELECT amount, status, settled_day FROM library_fines"),
                         [(50, "paid", day(0))])
        fines = self.lib_ctl("library", "fines")
        self.assertEqual([(r["day"], r["fines"], r["collected_fen"], r["collected"])
                          for r in fines], [(day(0), 1, 50, "0.50"), ("total", 1, 50, "0.50")])
        self.assertEqual(self.lib_ctl("library", "fines", "--to", day(-1))[-1]["collected_fen"],
                         0)
        self.assertRefused(self.lib_ctl("library", "fines", "--from", "2025-02-30",
                                        check=False), "BAD_REQUEST")
        self.assertEqual(self.lib_ctl("library", "overdue"), [])
        rec = self.lib_ctl("library", "record", "S1")[0]
        self.assertEqual((rec["days_overdue"], rec["fine"], rec["fine_status"]), (5, 50, "paid"))
        # a temporary card pays twice as much a day (scripts/library.lua)
        tcard, _ = self.temporary_holder("V1", "20.00")
        self.borrow(tcard, "B004")
        self.make_overdue("B004", 4)
        self.assertEqual(self.give_back(tcard, "B004", 80), [80, 80, 0, "shelf"])

    def test_fine_owed_blocks_borrowing_until_paid(self):
        card, _, _ = self.holder("S1", "0.30")
        self.borrow(card, "B003")
        self.borrow(card, "B004")
        self.make_overdue("B003", 5)
        # the holder agrees to pay 0.50 but the wallet holds 0.30: the fine is owed
        self.assertEqual(self.give_back(card, "B003", 50), [50, 0, 50, "shelf"])
        self.assertEqual(self.balance("S1"), 30)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(0,)])
        n = self.notices("S1", "library")
        self.assertEqual([x["amount"] for x in n], [50])
        self.assertIn("0.50", n[0]["message"])
        r = self.borrow(card, "B005")
        self.assertError(r, "FINES_OWED")
        self.assertIn("0.50 CNY", r.message)
        self.assertError(self.renew(card, "B004"), "FINES_OWED")
        self.assertEqual(self.status(card)[3], 50)
        self.assertEqual([(r["person"], r["owed_fen"]) for r in self.lib_ctl("library", "owed")],
                         [("S1", 50)])
        self.assertEqual(self.lib_ctl("library", "fines")[-1]["collected_fen"], 0)
        # paying later by card: the amount owed exactly, and the wallet must hold it
        self.assertError(self.swipe(card, "KIOSK-1", "LIB.PAY", 20), "AMOUNT_MISMATCH")
        self.assertError(self.swipe(card, "DESK-1", "LIB.PAY", 50), "INSUFFICIENT_FUNDS")
        self.assertEqual(self.gw.sql("SELECT status FROM library_fines"), [("owed",)])
        self.topup("S1", "1.00")
        self.assertEqual(self.swipe(card, "DESK-1", "LIB.PAY", 50), [50, 80])
        self.assertError(self.swipe(card, "DESK-1", "LIB.PAY", 50), "NOTHING_OWED")
        self.assertEqual(self.gw.sql("SELECT status, terminal FROM library_fines"),
                         [("paid", "DESK-1")])
        self.assertEqual(self.borrow(card, "B005")[2], 2)
        self.assertEqual(self.lib_ctl("library", "owed"), [])
        self.assertEqual(self.lib_ctl("library", "fines")[-1]["collected_fen"], 50)

    def test_declined_fine_is_owed_and_can_be_waived(self):
        card, _, _ = self.holder("S1", "20.00")
        self.borrow(card, "B003")
        self.make_overdue("B003", 3)
        # the card signed 0: the holder did not agree to pay now
        self.assertEqual(self.give_back(card, "B003", 0), [30, 0, 30, "shelf"])
        self.assertEqual(self.balance("S1"), 2000)
        fine_id = self.lib_ctl("library", "owed")[0]["oldest_fine"]
        self.assertRefused(self.lib_ctl("library", "waive", str(fine_id), check=False),
                           "BAD_REQUEST")
        rec = self.lib_ctl("library", "waive", str(fine_id), "--reason", "book drop jammed",
                           "--approval", "LIB-2025-7")
        self.assertEqual(rec["status"], "waived")
        self.assertRefused(self.lib_ctl("library", "waive", str(fine_id), "--reason", "again",
                                        check=False), "NOT_OWED")
        self.assertRefused(self.lib_ctl("library", "waive", "999", "--reason", "x", check=False),
                           "NOT_FOUND")
        audit = self.gw.ctl("audit", "list", "--action", "library.waive")
        self.assertEqual(len(audit), 1)
        self.assertIn("book drop jammed", audit[0]["detail"])
        self.assertEqual(self.borrow(card, "B003")[2], 1)

    def test_pay_owed_fines_needs_the_payment_password_above_the_threshold(self):
        card, rec, _ = self.holder("S1", "5.50")
        self.borrow(card, "B003")
        self.make_overdue("B003", 15)
        # the holder agrees to 1.50 and the wallet holds it, but the desk takes no password at
        # a return: a fine at or above pin_threshold (1.00 here) is owed, paid with LIB.PAY
        self.assertEqual(self.give_back(card, "B003", 150), [150, 0, 150, "shelf"])
        self.assertEqual((self.balance("S1"), self.gw.sql("SELECT count(*) FROM payments")),
                         (550, [(0,)]))
        pin = rec["initial_pay_password"]
        wrong = "%06d" % ((int(pin) + 1) % 1000000)
        self.assertError(self.swipe(card, "DESK-1", "LIB.PAY", 150), "PIN_REQUIRED")
        self.assertError(self.swipe(card, "DESK-1", "LIB.PAY", 150, wrong), "BAD_PIN")
        self.assertEqual(self.gw.sql("SELECT status FROM library_fines"), [("owed",)])
        self.assertEqual(self.balance("S1"), 550)
        self.assertEqual(self.swipe(card, "DESK-1", "LIB.PAY", 150, pin), [150, 400])
        self.assertEqual(self.gw.sql("SELECT status FROM library_fines"), [("paid",)])
        self.assertNotIn(pin, self.gw.log_text())


class LibraryCardTest(LibraryCase):
    def test_lost_card_blocks_borrowing(self):
        card, rec, idn = self.holder("S1", "20.00")
        self.borrow(card, "B001")
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        before = self.open_loans()
        self.assertError(self.borrow(card, "B003"), "CARD_LOST")
        self.assertError(self.renew(card, "B001"), "CARD_LOST")
        self.assertError(self.reserve(card, SICP), "CARD_LOST")
        self.assertError(self.give_back(card, "B001"), "CARD_LOST")
        self.assertEqual(self.open_loans(), before)
        # the book itself can still come back, without the card
        seq = self.next_seq("DESK-1")
        self.assertEqual(self.conns["DESK-1"].call("LIB.DROP", seq, "B001"), [0, 0, 0, "shelf"])
        self.assertEqual(self.open_loans(), [])

    def test_replacement_card_keeps_the_loans(self):
        card, rec, idn = self.holder("S1", "50.00")
        self.borrow(card, "B001")
        self.borrow(card, "B003")
        old = rec["card_no"]
        self.gw.ctl("card", "loss", old, "--id-number", idn)
        new = self.gw.ctl("card", "replace", old, "--id-number", idn)
        fresh = SimCard(MASTER_KEY, uid=new["uid"])
        self.assertError(self.borrow(card, "B004"), "CARD_CANCELLED")
        st = self.status(fresh)
        self.assertEqual(st[:5], [2, 2, 0, 0, 0])
        self.assertEqual(sorted(x[0] for x in st[5]), ["B001", "B003"])
        # the limit counts the loans made with the old card
        self.assertError(self.borrow(fresh, "B004"), "LOAN_LIMIT")
        self.assertEqual(self.renew(fresh, "B003")[1], 1)
        self.assertTrue(self.wait_loans_on(new["card_no"]))
        self.assertEqual(self.give_back(fresh, "B001"), [0, 0, 0, "shelf"])
        self.assertEqual(self.borrow(fresh, "B004")[2], 2)
        loans = self.lib_ctl("library", "loans", "--person", "S1")
        self.assertEqual(sorted((r["barcode"], r["card"]) for r in loans),
                         [("B003", new["card_no"]), ("B004", new["card_no"])])

    def wait_loans_on(self, card_no):
        from harness import wait_until
        return wait_until(lambda: self.gw.sql(
            "SELECT DISTINCT card_no FROM library_loans WHERE returned_ms IS NULL") ==
            [(card_no,)], 5)

    def test_return_by_someone_else_and_the_book_drop(self):
        card, _, _ = self.holder("S1", "20.00")
        friend, _, _ = self.holder("S2", "20.00")
        self.borrow(card, "B003")
        self.make_overdue("B003", 2)
        self.assertError(self.give_back(friend, "B003", 100), "NOT_BORROWER")
        self.assertEqual(self.balance("S2"), 2000)
        seq = self.next_seq("KIOSK-1")
        r = self.conns["KIOSK-1"].call("LIB.DROP", seq, "B003")
        self.assertEqual(r, [20, 0, 20, "shelf"])
        self.assertEqual(self.conns["KIOSK-1"].call("LIB.DROP", seq, "B003"), r)  # a retry
        self.assertEqual(self.gw.sql("SELECT person_no, amount, status FROM library_fines"),
                         [("S1", 20, "owed")])
        self.assertError(self.conns["KIOSK-1"].call("LIB.DROP", self.next_seq("KIOSK-1"),
                                                    "B003"), "NOT_ON_LOAN")
        self.assertError(self.conns["KIOSK-1"].call("LIB.DROP", self.next_seq("KIOSK-1")),
                         "BAD_REQUEST")

    def test_temporary_card_limited_to_other_subsystems(self):
        tcard, _ = self.temporary_holder("V1", "20.00", "--subsystems", "canteen")
        r = self.borrow(tcard, "B003")
        self.assertError(r, "NOT_ALLOWED")
        self.assertEqual(self.open_loans(), [])
        self.assertError(self.reserve(tcard, SICP), "NOT_ALLOWED")
        ok, _ = self.temporary_holder("V2", "20.00", "--subsystems", "canteen,library")
        self.assertEqual(self.borrow(ok, "B003"), [day(14), "SICP, 2nd ed.", 1, 2])


class LibraryInputTest(LibraryCase):
    """Bad input gets a clear error and changes nothing."""

    def test_import_refuses_bad_rows_oversized_fields_and_negative_numbers(self):
        before = self.gw.sql("SELECT (SELECT count(*) FROM library_copies), "
                             "(SELECT count(*) FROM library_titles)")
        long_title = "书" * 67 + "x"  # 202 bytes
        cases = (
            # a row with more fields than the header: an unquoted comma
            ("barcode,isbn,title\nB40,9787111407010,算法导论, 3rd ed.\n",
             "line 2: 4 fields, the header has 3"),
            ("barcode,isbn,title,year\nB41,9787111407010,算法导论,-2013\n",
             "line 2: year '-2013' is not a year"),
            ("barcode,isbn,title,year\nB42,9787111407010,算法导论,20x3\n", "year '20x3'"),
            ("barcode,isbn,title\nB43,9787111407010,%s\n" % long_title,
             "the title is empty or longer than 200 bytes"),
            ("barcode,isbn,title\nB44,9787111407010,\n", "the title is empty"),
            ("barcode,isbn,title,author\nB45,9787111407010,算法导论,%s\n" % ("a" * 101),
             "author or publisher over 100 bytes"),
            ("barcode,isbn,title\nB46,9787111407010,%s\n" % ("x" * 600),
             "a field is longer than 500 bytes"),
            ("barcode,isbn,title\n%s,9787111407010,算法导论\n" % ("B" * 33),
             "is not 1 to 32 letters"),
            ("barcode,isbn,title\nB47,97871114070,算法导论\n", "10 or 13 digits"),
            ("barcode,isbn,title\nB48,-9787111407010,算法导论\nB48,9787111407010,算法导论\n"
             "B48,9787111407010,算法导论\n", "line 4: barcode B48 is already catalogued"),
            ("barcode,isbn,title,title\nB49,9787111407010,算法导论,x\n",
             "column title appears twice"),
        )
        for text, why in cases:
            with self.subTest(why=why):
                p = self.lib_ctl("library", "import", self.gw.data_file(text), check=False)
                self.assertRefused(p, "BAD_CSV")
                self.assertIn(why, p.stderr)
                self.assertIn("nothing imported" if "line" in why else "", p.stderr)
        self.assertEqual(self.gw.sql("SELECT (SELECT count(*) FROM library_copies), "
                                     "(SELECT count(*) FROM library_titles)"), before)
        self.assertEqual(len(self.gw.ctl("audit", "list", "--action", "library.import")), 1)

    def test_card_verbs_check_their_words(self):
        card, _, _ = self.holder("S1", "20.00")
        # a verb that moves no money is signed over 0
        r = self.swipe(card, "DESK-1", "LIB.BORROW", 500, "B003")
        self.assertError(r, "BAD_REQUEST")
        self.assertIn("signs the amount 0", r.message)
        self.assertError(self.swipe(card, "KIOSK-1", "LIB.STATUS", 1), "BAD_REQUEST")
        self.assertEqual(self.open_loans(), [])
        # a negative amount or a missing word
        self.assertError(self.swipe(card, "DESK-1", "LIB.BORROW", -1, "B003"), "BAD_REQUEST")
        self.assertError(self.swipe(card, "DESK-1", "LIB.BORROW", 0), "BAD_REQUEST")
        self.assertError(self.swipe(card, "DESK-1", "LIB.BORROW", 0, "B003", "B004"),
                         "BAD_REQUEST")
        self.assertError(self.borrow(card, "B" * 33), "BAD_REQUEST")
        # an oversized word is refused without being echoed whole
        r = self.reserve(card, "Z" * 5000)
        self.assertError(r, "BAD_REQUEST")
        self.assertLess(len(r.message), 200)
        self.assertEqual(self.open_loans(), [])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM library_reservations"), [(0,)])
        self.assertEqual(self.balance("S1"), 2000)
        # LIB.RETURN with a negative max-fine
        self.borrow(card, "B003")
        self.make_overdue("B003", 2)
        self.assertError(self.give_back(card, "B003", -20), "BAD_REQUEST")
        self.assertEqual(self.open_loans(), [("B003", "S1")])
        self.assertEqual(self.balance("S1"), 2000)

    def test_withdraw_a_copy(self):
        card, _, _ = self.holder("S1")
        other, _, _ = self.holder("S2")
        rec = self.lib_ctl("library", "withdraw", "B004", "--reason", "water damage",
                           "--approval", "LIB-W-1")
        self.assertEqual((rec["status"], rec["copies_left"]), ("withdrawn", 0))
        self.assertEqual(self.copy_status("B004"), "withdrawn")
        self.assertError(self.borrow(card, "B004"), "UNAVAILABLE")
        self.assertError(self.reserve(card, "0306406152"), "UNAVAILABLE")
        self.assertRefused(self.lib_ctl("library", "withdraw", "B004", "--reason", "again",
                                        check=False), "BAD_STATE")
        # a copy out or held for a reservation stays in lending
        self.borrow(card, "B003")
        p = self.lib_ctl("library", "withdraw", "B003", "--reason", "x", check=False)
        self.assertRefused(p, "BAD_STATE")
        self.assertIn("loaned", p.stderr)
        self.reserve(other, SICP)
        self.give_back(card, "B003")
        self.assertRefused(self.lib_ctl("library", "withdraw", "B003", "--reason", "x",
                                        check=False), "BAD_STATE")
        self.assertEqual(self.copy_status("B003"), "held")
        for args, code in ((("NOPE", "--reason", "x"), "NOT_FOUND"),
                           (("B 1", "--reason", "x"), "BAD_REQUEST"),
                           (("B005", "--reason", ""), "BAD_REQUEST"),
                           (("B005", "--reason", "r" * 201), "BAD_REQUEST")):
            self.assertRefused(self.lib_ctl("library", "withdraw", *args, check=False), code)
        self.assertEqual(self.copy_status("B005"), "available")
        self.gw.add_operator("cs1", "dept_admin", department="CS")
        self.assertRefused(self.gw.ctl("library", "withdraw", "B005", "--reason", "x",
                                       user="cs1", password="operator-pass-1", check=False),
                           "FORBIDDEN")
        audit = self.gw.ctl("audit", "list", "--action", "library.withdraw")
        self.assertEqual([(a["target"], a["approval"]) for a in audit], [("copy B004", "LIB-W-1")])
        self.assertIn("water damage", audit[0]["detail"])


class LibraryImportLimitTest(LibraryCase):
    sets = dict(LIB_SETS, **{"plugin.library.max_import_rows": "5"})

    def test_an_import_over_max_import_rows_is_refused_whole(self):
        rows = "".join("C%d,9787111407010,算法导论\n" % i for i in range(6))
        p = self.lib_ctl("library", "import", self.gw.data_file("barcode,isbn,title\n" + rows), check=False)
        self.assertRefused(p, "BAD_CSV")
        self.assertIn("more than 5 rows, nothing imported", p.stderr)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM library_copies"), [(5,)])
        self.assertEqual(self.lib_ctl("library", "import", self.gw.data_file("barcode,isbn,title\n" +
                                      rows.split("\n", 1)[1]))["copies"], 5)


class LibraryHistoryTest(LibraryCase):
    def test_the_holder_sees_their_own_record_at_the_kiosk(self):
        card, _, _ = self.holder("S1", "20.00")
        other, _, _ = self.holder("S2")
        self.borrow(card, "B003")
        self.borrow(card, "B004")
        self.make_overdue("B003", 2)
        self.assertEqual(self.give_back(card, "B003", 0), [20, 0, 20, "shelf"])  # owed
        self.borrow(other, "B005")
        h = self.swipe(card, "KIOSK-1", "LIB.HISTORY")
        self.assertEqual(len(h), 2)
        self.assertEqual(sorted((x[0], x[4], x[5], x[6]) for x in h),
                         [("B003", day(0), 20, "owed"), ("B004", None, 0, "none")])
        self.assertEqual({x[2] for x in h}, {day(0)})
        self.assertEqual(self.swipe(other, "KIOSK-1", "LIB.HISTORY"),
                         [["B005", "The C Programming Language", day(0), day(30), None, 0,
                           "none"]])
        self.assertError(self.swipe(card, "KIOSK-1", "LIB.HISTORY", 0, "x"), "BAD_REQUEST")


class LibraryMerchantTest(LibraryCase):
    """The merchant option is checked with merchant_status: at start (a warning: merchants are
    added with yktctl once yktd runs) and when a fine is to be paid. Until it exists a book
    still comes back (its fine is owed, not paid) and LIB.PAY is refused NO_MERCHANT."""
    sets = dict(LIB_SETS, **{"plugin.library.merchant": "library-late"})

    def test_a_missing_merchant_leaves_fines_owed(self):
        self.assertIn("option merchant = library-late: no such merchant yet",
                      self.gw.log_text())
        card, _, _ = self.holder("S1", "5.00")
        self.borrow(card, "B003")
        self.make_overdue("B003", 5)
        fine, paid, owed, where = self.give_back(card, "B003", 99)
        self.assertGreater(fine, 0)
        self.assertLess(fine, 100)          # below pin_threshold: paid at a return normally
        self.assertEqual((paid, owed, where), (0, fine, "shelf"))
        self.assertEqual(self.open_loans(), [])
        self.assertIn("option merchant = library-late: no such merchant, so no fine",
                      self.gw.log_text())
        r = self.swipe(card, "DESK-1", "LIB.PAY", fine)
        self.assertError(r, "NO_MERCHANT")
        self.assertEqual((self.balance("S1"), self.gw.sql("SELECT count(*) FROM payments")),
                         (500, [(0,)]))
        self.merchant("library-late", "library")
        self.assertEqual(self.swipe(card, "DESK-1", "LIB.PAY", fine), [fine, 500 - fine])
        self.assertEqual(self.gw.sql("SELECT merchant FROM payments"), [("library-late",)])


class LibraryPinPayCase(LibraryCase):
    """LIB.PAY with the payment password, which is checked beside the loop."""

    def owing(self, barcode="B003", card=None):
        """S1 owes 1.50 for `barcode` (at or above pin_threshold: LIB.PAY needs the PIN)."""
        rec = None
        if card is None:
            card, rec, _ = self.holder("S1", "5.50")
        self.borrow(card, barcode)
        self.make_overdue(barcode, 15)
        fine, paid, _, _ = self.give_back(card, barcode, 0)
        self.assertEqual((fine, paid), (150, 0))
        return card, rec and rec["initial_pay_password"]

    def fines(self):
        return self.gw.sql("SELECT status, count(*) FROM library_fines GROUP BY status "
                           "ORDER BY status")

    def marks(self):
        return self.gw.sql("SELECT atc_terminal, atc_seq FROM cards")

    def waiting_pay(self, card, pin):
        """A LIB.PAY of 1.50 sent on a new connection of DESK-1, waiting for its password
        check: (connection, args)."""
        args = self.signed(card, "DESK-1", "LIB.PAY", 150, pin)
        c = self.gw.terminal("DESK-1", self.secrets["DESK-1"])
        c.send_raw(encode(*args))
        self.assertTrue(wait_until(lambda: self.gw.sql("SELECT atc FROM cards") ==
                                   [(int(args[3]),)], timeout=10))
        r = self.send("DESK-1", args)
        self.assertTrue(isinstance(r, RespError) and r.code == "IN_PROGRESS", r)
        return c, args

    def interrupted_by_a_stop(self, card, pin, *signals):
        """A LIB.PAY waiting for its password check when yktd is sent SIGNALS; yktd is
        started again once it has stopped: (its connection, its args, yktd's log)."""
        c, args = self.waiting_pay(card, pin)
        for sig in signals:
            self.gw.proc.send_signal(sig)
        self.assertEqual(self.gw.stop(), 0)
        log = self.gw.log_text()
        self.gw.start()
        for tid in list(self.conns):
            self.conns[tid] = self.gw.terminal(tid, self.secrets[tid])
        return c, args, log


class LibraryLostDuringPasswordTest(LibraryPinPayCase):
    """R-C4: a card reported lost while LIB.PAY's password is checked beside the loop pays
    nothing: the request is refused CARD_LOST when the check ends, the fine stays owed."""

    # slow enough that the loss report comes while the check runs
    sets = dict(LIB_SETS, **{"cards.password_iterations": "1500000"})

    def test_a_card_reported_lost_during_the_password_check_pays_nothing(self):
        card, rec, idn = self.holder("S1", "5.50")
        self.owing(card=card)
        c, args = self.waiting_pay(card, rec["initial_pay_password"])
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        r = c.read()
        self.assertTrue(isinstance(r, RespError) and r.code == "CARD_LOST", r)
        self.assertEqual(self.balance("S1"), 550)
        self.assertEqual(self.fines(), [("owed", 1)])


class LibraryInterruptedPayTest(LibraryPinPayCase):
    """LIB.PAY with the payment password, interrupted while the password check runs beside
    the loop (the desk's connection resets, or yktd is stopped at once): its card check, and
    the card's ATC, were kept before the wait, and nothing else. The terminal's retry, the
    same bytes under the same seq, pays once (as a core PAY with a PIN does), unless the card
    has been used since; a check that completed answers its retry with its first outcome.
    Never REPLAY for the retry, never charged twice, and a replayed ATC stays REPLAY."""

    # a password check slow enough that the interruption comes before it ends
    sets = dict(LIB_SETS, **{"cards.password_iterations": "200000"})

    def test_the_retry_of_a_pay_abandoned_during_its_password_check_pays_once(self):
        card, pin = self.owing()
        args = self.signed(card, "DESK-1", "LIB.PAY", 150, pin)
        abandon_request(self, "DESK-1", args)
        self.assertEqual((self.balance("S1"), self.fines()), (550, [("owed", 1)]))
        # only the card's ATC changed before the wait: the card names the request
        self.assertEqual(self.marks(), [("DESK-1", int(args[1]))])
        r = retry_request(self, "DESK-1", args)
        self.assertEqual(r, [150, 400])
        self.assertIn("ATC %s again from terminal DESK-1 seq %s" % (args[3], args[1]),
                      self.gw.log_text())
        # completed: its outcome answers from now on, and the card names it no more
        self.assertEqual(self.send("DESK-1", args), r)
        self.assertEqual(self.marks(), [(None, None)])
        self.assertEqual((self.balance("S1"), self.fines()), (400, [("paid", 1)]))
        self.assertEqual((len(self.payments("S1")), self.library_account()), (1, 150))
        # the same ATC under another seq is a replay
        again = self.signed(card, "DESK-1", "LIB.PAY", 150, pin, atc=int(args[3]))
        self.assertError(self.send("DESK-1", again), "REPLAY")
        # abandoned again, but the card is used elsewhere first: its ATC moved on, and the
        # retry is a replay (nothing paid; a new swipe pays)
        self.owing("B004", card)
        args = self.signed(card, "DESK-1", "LIB.PAY", 150, pin)
        abandon_request(self, "DESK-1", args)
        self.assertEqual(self.status(card)[3], 150)
        self.assertError(retry_request(self, "DESK-1", args), "REPLAY")
        self.assertEqual((self.balance("S1"), self.fines()), (400, [("owed", 1), ("paid", 1)]))
        # abandoned again; the same cryptogram with another PIN is not its retry
        args = self.signed(card, "DESK-1", "LIB.PAY", 150, pin)
        abandon_request(self, "DESK-1", args)
        self.assertError(retry_request(self, "DESK-1", args[:7] + [other_password(pin)]),
                         "REPLAY")
        self.assertError(self.send("DESK-1", args), "SEQ_REUSED")
        self.assertEqual(self.swipe(card, "DESK-1", "LIB.PAY", 150, pin), [150, 250])
        self.assertEqual((len(self.payments("S1")), self.library_account()), (2, 300))
        self.assertEqual(self.fines(), [("paid", 2)])

    def test_the_retry_of_a_pay_cut_off_by_a_stop_pays_once(self):
        card, pin = self.owing()
        # a stop (SIGTERM), then another fine and a stop that closes the connections at once
        # (a second signal)
        for n, (barcode, signals) in enumerate(((None, (signal.SIGTERM,)),
                                                ("B004", (signal.SIGTERM, signal.SIGINT))), 1):
            if barcode is not None:
                self.owing(barcode, card)
            balance = self.balance("S1")
            c, args, log = self.interrupted_by_a_stop(card, pin, *signals)
            if len(signals) > 1:
                self.assertIn("second signal: closing connections now", log)
            if "LIB.PAY seq %s abandoned" % args[1] in log:
                # its connection closed while it waited: nothing is paid yet
                self.assertEqual((self.balance("S1"), dict(self.fines()).get("owed")),
                                 (balance, 1))
            else:
                # it completed before yktd exited, and was answered
                self.assertEqual(c.read(), [150, balance - 150])
            # either way its retry pays once, or gets the first outcome
            r = self.send("DESK-1", args)
            self.assertEqual(r, [150, balance - 150])
            self.assertEqual(self.send("DESK-1", args), r)
            self.assertEqual(self.balance("S1"), balance - 150)
            self.assertEqual((self.fines(), len(self.payments("S1"))), ([("paid", n)], n))


class LibraryPayRereadTest(LibraryPinPayCase):
    """LIB.PAY with the payment password writes nothing before its password check (so that
    its retry may run: LibraryInterruptedPayTest): after the check it reads what is owed
    again, and pays only if that is still the amount the card signed."""

    # a check slow enough (about a second here) for an admin command to run meanwhile
    sets = dict(LIB_SETS, **{"cards.password_iterations": "1500000"})

    def test_fines_changed_during_the_password_check_pay_nothing(self):
        card, pin = self.owing()
        # the fine is waived while the password is checked: what the card signed is no
        # longer what is owed, and the payment reads it again after the check
        c, args = self.waiting_pay(card, pin)
        fine = self.gw.sql("SELECT id FROM library_fines")[0][0]
        self.lib_ctl("library", "waive", str(fine), "--reason", "waived at the desk")
        r = c.read()
        self.assertError(r, "AMOUNT_MISMATCH")
        self.assertIn("0.00 CNY is owed now", r.message)
        self.assertEqual(c.call(*args).line, r.line)  # its outcome
        self.assertEqual((self.balance("S1"), self.fines()), (550, [("waived", 1)]))
        # a book returned late meanwhile adds a fine: it is not paid without being charged
        self.borrow(card, "B004")
        self.owing("B005", card)
        self.make_overdue("B004", 15)
        c, args = self.waiting_pay(card, pin)
        self.assertEqual(self.give_back(card, "B004", 0, tid="KIOSK-1")[:3], [150, 0, 300])
        r = c.read()
        self.assertError(r, "AMOUNT_MISMATCH")
        self.assertIn("3.00 CNY is owed now", r.message)
        self.assertEqual((self.balance("S1"), self.fines()), (550, [("owed", 2), ("waived", 1)]))
        self.assertEqual(self.payments("S1"), [])


class LibraryStartTest(unittest.TestCase):
    """Start-up refusals: a department must know its subsystem is off."""

    def test_prefix_and_merchant_are_required(self):
        for sets, why in (({"plugin.library.merchant": "library"}, "set prefix = LIB"),
                          ({"plugin.library.prefix": "LIB"}, "option merchant is required"),
                          ({"plugin.library.prefix": "LIB", "plugin.library.merchant": "library",
                            "plugin.library.student_days": "0"}, "student_days = 0"),
                          # never above the core's [cards] pin_threshold (host->pin_threshold())
                          ({"plugin.library.prefix": "LIB", "plugin.library.merchant": "library",
                            "cards.pin_threshold": "50.00", "plugin.library.pin_threshold":
                            "5001"}, "pin_threshold = 5001: expected a whole number from 1 to "
                            "5000")):
            gw = Gateway(sets=dict({"plugin.library.enabled": "yes"}, **sets), start=False)
            self.addCleanup(gw.cleanup)
            with self.assertRaises(AssertionError) as e:
                gw.start()
            self.assertIn(why, str(e.exception))
            gw.proc = None
            gw.log.close()


if __name__ == "__main__":
    unittest.main()
