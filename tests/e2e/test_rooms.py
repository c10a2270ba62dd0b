"""The rooms plugin end to end (R-R): the registry and who may book; booking at booking
stations with a fee and a deposit through the wallet, and on a holder's behalf with yktctl;
no double booking, also with many connections racing for one slot (and the UNIQUE index
behind it); cancellation deadlines and refund rules; check-in with the deposit back; no-shows
released by the timer; lab doors through the ACCESS_CHECK decision; public computer rooms
charged per minute by scripts/rooms.lua through a hold, ended by logout, by a silent seat or by
the money held; the reports. `yktctl audit` is clean after every test (WalletCase).

Times: rooms are open around the clock with one-hour slots, so "the current slot" and "a slot
two hours ahead" exist whatever time the tests run; time passing is simulated by moving a
booking's or session's times into the past beside the running gateway.
"""

import datetime
import os
import sqlite3
import threading
import time

import unittest

from harness import BUILD_DIR, RespError, encode, wait_until
from test_wallet import WalletCase

ROOMS_SETS = {
    "plugin.rooms.enabled": "yes",
    "plugin.rooms.merchant": "rooms-office",
    "plugin.rooms.seat_timeout": "2s",
    "plugin.rooms.tick": "200ms",
}
HOUR_MS = 3600000
MIN_MS = 60000


def campus_now():
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)


def slot(hours_ahead=0):
    """(date, 'HH:00') of the one-hour slot `hours_ahead` after the current one."""
    t = campus_now().replace(minute=0, second=0, microsecond=0) + datetime.timedelta(
        hours=hours_ahead)
    return t.date().isoformat(), t.strftime("%H:00")


class RoomsCase(WalletCase):
    sets = ROOMS_SETS

    def setUp(self):
        super().setUp()
        self.merchant("rooms-office", "rooms")
        self.terminal("BOOK-1", "booking", owner="rooms-office")
        self.terminal("GATE-1", "gate")

    def room(self, rid, kind="venue", *opts):
        self.gw.ctl("rooms", "add", rid, "--name", rid.upper(), "--kind", kind, "--open",
                    "00:00", "--close", "24:00", *opts)

    def book(self, card, rid, when, amount=0, party=None, tid="BOOK-1", **kw):
        extra = [rid, when[0], when[1]] + ([party] if party is not None else [])
        return self.swipe(card, tid, "ROOMS.BOOK", amount, *extra, **kw)

    def cancel(self, card, booking, tid="BOOK-1"):
        return self.swipe(card, tid, "ROOMS.CANCEL", 0, booking)

    def checkin(self, card, rid, tid="BOOK-1", amount=0):
        return self.swipe(card, tid, "ROOMS.CHECKIN", amount, rid)

    def door(self, card, rid):
        return self.swipe(card, "GATE-1", "ROOMS.DOOR", 0, rid)

    def status(self, booking):
        return self.gw.sql("SELECT status FROM rooms_bookings WHERE id = ?", booking)[0][0]

    def live_bookings(self, rid):
        return self.gw.sql("SELECT count(*) FROM rooms_bookings WHERE room = ? AND status IN "
                           "('booked', 'checked_in', 'completed')", rid)[0][0]


# ---- the registry ----------------------------------------------------------------------------


class RegistryTest(RoomsCase):
    def test_add_update_list_show_and_audit(self):
        self.room("hall-1", "venue", "--capacity", "80", "--fee", "5.00", "--deposit", "10",
                  "--departments", "CS,EE", "--kinds", "student,staff", "--grace", "10")
        rec = self.gw.ctl("rooms", "show", "hall-1")
        self.assertEqual((rec["kind"], rec["capacity"], rec["fee"], rec["deposit"],
                          rec["departments"], rec["kinds"], rec["card_types"], rec["grace_min"],
                          rec["open"], rec["close"], rec["slot_min"], rec["status"]),
                         ("venue", 80, "5.00", "10.00", "CS,EE", "student,staff", "any", 10,
                          "00:00", "24:00", 60, "open"))
        self.gw.ctl("rooms", "update", "hall-1", "--fee", "6.5", "--kinds", "any",
                    "--status", "closed", "--approval", "DOC-7")
        rec = self.gw.ctl("rooms", "show", "hall-1")
        self.assertEqual((rec["fee"], rec["kinds"], rec["status"]), ("6.50", "any", "closed"))
        self.room("pc-1", "computer", "--room-type", "multimedia", "--capacity", "40")
        self.assertEqual([r["room"] for r in self.gw.ctl("rooms", "list")], ["hall-1", "pc-1"])
        self.assertEqual([r["room"] for r in self.gw.ctl("rooms", "list", "--kind", "computer")],
                         ["pc-1"])
        audit = self.gw.ctl("audit", "list", "--target", "hall-1")
        self.assertEqual(sorted(a["action"] for a in audit), ["rooms.add", "rooms.update"])
        self.assertIn("DOC-7", str(audit))

    def test_bad_registry_input_is_refused_and_changes_nothing(self):
        self.room("hall-1")
        self.ctl_fails("EXISTS", "rooms", "add", "hall-1", "--name", "X", "--kind", "venue")
        bad = [
            ["--kind", "ballroom"],
            ["--kind", "venue", "--open", "25:00"],
            ["--kind", "venue", "--open", "10:00", "--close", "09:00"],
            ["--kind", "venue", "--slot", "3"],
            ["--kind", "venue", "--open", "10:00", "--close", "10:30", "--slot", "60"],
            ["--kind", "venue", "--days", "1289"],
            ["--kind", "venue", "--fee", "-1"],
            ["--kind", "venue", "--fee", "1.234"],
            ["--kind", "venue", "--capacity", "0"],
            ["--kind", "venue", "--kinds", "student,alien"],
            ["--kind", "venue", "--card-types", "gold"],
            ["--kind", "venue", "--list-only", "maybe"],
            ["--kind", "venue", "--grace", "0"],
        ]
        for opts in bad:
            with self.subTest(opts=opts):
                self.ctl_fails("BAD_REQUEST", "rooms", "add", "r-2", "--name", "R2", *opts)
        self.ctl_fails("BAD_REQUEST", "rooms", "add", "bad id!", "--name", "R", "--kind", "lab")
        # the rule must know a computer room's type
        self.ctl_fails("RULE_ERROR", "rooms", "add", "pc-9", "--name", "PC", "--kind",
                       "computer", "--room-type", "ballroom")
        self.ctl_fails("BAD_REQUEST", "rooms", "update", "hall-1", "--kind", "lab")
        self.ctl_fails("NOT_FOUND", "rooms", "update", "nope", "--fee", "1")
        self.assertEqual([r["room"] for r in self.gw.ctl("rooms", "list")], ["hall-1"])
        self.assertEqual(len(self.gw.ctl("audit", "list", "--action", "rooms.add")), 1)

    def test_a_rooms_merchant_must_exist(self):
        """--merchant is checked with merchant_status when the room is added or changed, not
        when the first booking's payment is refused; nothing changes on a refusal."""
        err = self.ctl_fails("NO_MERCHANT", "rooms", "add", "hall-2", "--name", "H", "--kind",
                             "venue", "--merchant", "ghost-co")
        self.assertIn("ghost-co", err)
        self.room("hall-1")
        self.ctl_fails("NO_MERCHANT", "rooms", "update", "hall-1", "--merchant", "ghost-co",
                       "--fee", "3.00")
        rec = self.gw.ctl("rooms", "show", "hall-1")
        self.assertEqual((rec["merchant"], rec["fee"]), ("", "0.00"))
        self.assertEqual([r["room"] for r in self.gw.ctl("rooms", "list")], ["hall-1"])
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "rooms.update"), [])
        # an existing merchant, suspended or not, is accepted
        self.merchant("hall-co", "rooms")
        self.gw.ctl("rooms", "update", "hall-1", "--merchant", "hall-co")
        self.assertEqual(self.gw.ctl("rooms", "show", "hall-1")["merchant"], "hall-co")

    def test_bad_listing_filters_are_refused(self):
        self.room("hall-1")
        self.ctl_fails("BAD_REQUEST", "rooms", "list", "--kind", "ballroom")
        self.ctl_fails("BAD_REQUEST", "rooms", "bookings", "--status", "bogus")
        self.ctl_fails("BAD_REQUEST", "rooms", "bookings", "--date", "tomorrow")
        self.ctl_fails("BAD_REQUEST", "rooms", "bookings", "--limit", "0")
        self.ctl_fails("BAD_REQUEST", "rooms", "sessions", "--date", "2026-02-30")
        self.ctl_fails("BAD_REQUEST", "rooms", "occupancy", "--from", "2026-13-01")
        self.ctl_fails("BAD_REQUEST", "rooms", "revenue", "--from", "2026-02-02", "--to",
                       "2026-02-01")
        self.ctl_fails("NOT_FOUND", "rooms", "occupancy", "--from", "2026-02-01", "--room", "x")
        # "any" is the whole list or nothing
        self.ctl_fails("BAD_REQUEST", "rooms", "update", "hall-1", "--departments", "any,CS")
        self.ctl_fails("BAD_REQUEST", "rooms", "update", "hall-1", "--kinds", "staff,,student")
        self.assertEqual(self.gw.ctl("rooms", "show", "hall-1")["departments"], "any")
        self.assertEqual(self.gw.ctl("rooms", "bookings", "--status", "no_show"), [])

    def test_department_admins_manage_their_own_rooms_only(self):
        self.gw.add_operator("cs-admin", "dept_admin", department="CS")
        self.gw.add_operator("clerk", "operator")
        cs = dict(user="cs-admin", password="operator-pass-1")
        self.gw.ctl("rooms", "add", "cs-lab", "--name", "CS Lab", "--kind", "lab", **cs)
        self.assertEqual(self.gw.ctl("rooms", "show", "cs-lab")["department"], "CS")
        self.room("ee-lab", "lab", "--department", "EE")
        self.ctl_fails("FORBIDDEN", "rooms", "update", "ee-lab", "--fee", "1", **cs)
        self.ctl_fails("FORBIDDEN", "rooms", "add", "x-lab", "--name", "X", "--kind", "lab",
                       "--department", "EE", **cs)
        self.ctl_fails("FORBIDDEN", "rooms", "add", "y-lab", "--name", "Y", "--kind", "lab",
                       user="clerk", password="operator-pass-1")
        self.gw.ctl("rooms", "update", "cs-lab", "--capacity", "30", **cs)
        self.assertEqual(self.gw.ctl("rooms", "show", "cs-lab")["capacity"], 30)


# ---- booking ---------------------------------------------------------------------------------


class BookingTest(RoomsCase):
    def test_book_pay_retry_and_slot_taken(self):
        self.room("hall-1", "venue", "--fee", "5.00", "--deposit", "10.00", "--capacity", "20")
        a, _, _ = self.holder("S1", "50.00")
        b, _, _ = self.holder("S2", "50.00")
        when = slot(2)
        args = self.signed(a, "BOOK-1", "ROOMS.BOOK", 1500, "hall-1", when[0], when[1], 12)
        first = self.send("BOOK-1", args)
        self.assertIsInstance(first, list, first)
        bid, charged, balance = first
        self.assertEqual((charged, balance), (1500, 3500))
        # the station retries after a lost reply: the same reply, one booking, one payment
        self.assertEqual(self.send("BOOK-1", args), first)
        self.assertEqual(self.live_bookings("hall-1"), 1)
        self.assertEqual(self.gw.sql("SELECT count(*), sum(charged) FROM payments"), [(1, 1500)])
        self.assertEqual(self.gw.sql("SELECT merchant FROM payments"), [("rooms-office",)])
        # someone else, the same slot: refused, nothing paid
        before = self.snapshot("S2")
        self.assertError(self.book(b, "hall-1", when, 1500), "SLOT_TAKEN")
        self.assertEqual(self.snapshot("S2"), before)
        # the next slot is free
        self.assertIsInstance(self.book(b, "hall-1", slot(3), 1500), list)
        slots = dict(self.conns["BOOK-1"].call("ROOMS.SLOTS", "hall-1", when[0]))
        self.assertEqual(slots[when[1]], "taken")
        mine = self.swipe(a, "BOOK-1", "ROOMS.MINE")
        self.assertEqual(mine, [[bid, "hall-1", when[0], when[1], "booked", 0]])

    def test_booking_refusals_change_nothing(self):
        self.room("hall-1", "venue", "--fee", "5.00", "--capacity", "10")
        self.room("weekdays", "venue", "--days", "1")
        self.room("pc-1", "computer")
        card, _, _ = self.holder("S1", "50.00")
        poor, _, _ = self.holder("S2", "3.00")
        when = slot(2)
        before = self.snapshot("S1")
        cases = [
            (("nope", when, 500), "NOT_FOUND"),
            (("hall-1", when, 400), "PRICE_MISMATCH"),           # the card signed another price
            (("hall-1", (when[0], "10:30"), 500), "BAD_SLOT"),
            (("hall-1", ("2026-02-30", "10:00"), 500), "BAD_REQUEST"),
            (("hall-1", slot(-30), 500), "TOO_LATE"),             # over
            (("hall-1", slot(24 * 20), 500), "TOO_EARLY"),        # beyond max_days_ahead
            (("pc-1", when, 0), "NOT_BOOKABLE"),
        ]
        for (rid, w, amount), code in cases:
            with self.subTest(code=code):
                self.assertError(self.book(card, rid, w, amount), code)
        self.assertError(self.book(card, "hall-1", when, 500, party=11), "OVER_CAPACITY")
        # a weekday the room is closed
        day = campus_now().date() + datetime.timedelta(days=1)
        while day.isoweekday() == 1:
            day += datetime.timedelta(days=1)
        self.assertError(self.book(card, "weekdays", (day.isoformat(), "10:00")),
                         "ROOM_CLOSED")
        self.gw.ctl("rooms", "update", "hall-1", "--status", "closed")
        self.assertError(self.book(card, "hall-1", when, 500), "ROOM_CLOSED")
        self.assertEqual(self.snapshot("S1"), before)
        self.gw.ctl("rooms", "update", "hall-1", "--status", "open")
        # the wallet's own refusal undoes the booking too
        self.assertError(self.book(poor, "hall-1", when, 500, party=1), "INSUFFICIENT_FUNDS")
        self.assertEqual(self.live_bookings("hall-1"), 0)
        # a booking station only: a POS may not book
        self.terminal("POS-1", "pos", owner="rooms-office")
        self.assertError(self.book(card, "hall-1", when, 500, tid="POS-1"), "FORBIDDEN")
        # at most max_active (3) open bookings per person
        for h in (2, 3, 4):
            self.assertIsInstance(self.book(card, "hall-1", slot(h), 500), list)
        self.assertError(self.book(card, "hall-1", slot(5), 500), "BOOKING_LIMIT")

    def test_who_may_book(self):
        self.room("cs-only", "venue", "--departments", "CS", "--kinds", "staff,student")
        self.room("staff-room", "venue", "--kinds", "staff")
        self.room("vip", "lab", "--list-only", "yes")
        cs, _, _ = self.holder("S1", "10.00", department="CS")
        ee, _, _ = self.holder("S2", "10.00", department="EE")
        when = slot(2)
        self.assertError(self.book(ee, "cs-only", when), "NOT_ELIGIBLE")
        self.assertIsInstance(self.book(cs, "cs-only", when), list)
        self.assertError(self.book(cs, "staff-room", when), "NOT_ELIGIBLE")
        self.assertError(self.book(ee, "vip", when), "NOT_ELIGIBLE")
        self.gw.ctl("rooms", "allow", "vip", "S2")
        self.ctl_fails("BAD_STATE", "rooms", "allow", "vip", "S2")
        self.ctl_fails("NOT_FOUND", "rooms", "allow", "vip", "NOBODY")
        # the list also opens a room otherwise closed to the person's department
        self.gw.ctl("rooms", "allow", "cs-only", "S2")
        self.assertIsInstance(self.book(ee, "vip", when), list)
        self.assertIsInstance(self.book(ee, "cs-only", slot(3)), list)
        self.gw.ctl("rooms", "disallow", "vip", "S2")
        self.ctl_fails("NOT_FOUND", "rooms", "disallow", "vip", "S2")
        self.assertError(self.book(ee, "vip", slot(3)), "NOT_ELIGIBLE")
        # temporary cards need the rooms subsystem
        tmp, _ = self.temporary_holder("T1", "10.00", "--subsystems", "canteen")
        self.assertError(self.book(tmp, "cs-only", slot(4)), "NOT_ALLOWED")


class ConcurrentBookingTest(RoomsCase):
    def test_many_connections_race_for_one_slot_exactly_one_wins(self):
        self.room("hall-1", "venue", "--fee", "2.00")
        n = 12
        cards, conns, requests = [], [], []
        when = slot(2)
        for i in range(n):
            tid = "BOOK-R%d" % i
            self.terminal(tid, "booking", owner="rooms-office")
            card, _, _ = self.holder("R%d" % i, "10.00")
            requests.append(self.signed(card, tid, "ROOMS.BOOK", 200, "hall-1", *when))
            conns.append(self.conns[tid])
        replies = [None] * n
        barrier = threading.Barrier(n)

        def race(i):
            barrier.wait()
            replies[i] = conns[i].call(*requests[i])

        threads = [threading.Thread(target=race, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        wins = [r for r in replies if isinstance(r, list)]
        losses = [r for r in replies if isinstance(r, RespError)]
        self.assertEqual(len(wins), 1, replies)
        self.assertEqual(len(losses), n - 1, replies)
        self.assertTrue(all(r.code == "SLOT_TAKEN" for r in losses), replies)
        self.assertEqual(self.live_bookings("hall-1"), 1)
        # exactly one holder paid
        self.assertEqual(self.gw.sql("SELECT count(*), sum(charged) FROM payments"), [(1, 200)])
        self.assertEqual(sorted(self.balance("R%d" % i) for i in range(n)),
                         [800] + [1000] * (n - 1))
        # pipelined on one connection, the same: one wins
        self.terminal("BOOK-P", "booking", owner="rooms-office")
        other = slot(3)
        batch = []
        for i in range(4):
            card, _, _ = self.holder("P%d" % i, "10.00")
            batch.append(self.signed(card, "BOOK-P", "ROOMS.BOOK", 200, "hall-1", *other))
        self.conns["BOOK-P"].send_raw(b"".join(encode(*a) for a in batch))
        got = [self.conns["BOOK-P"].read() for _ in batch]
        self.assertEqual(sum(isinstance(r, list) for r in got), 1, got)
        self.assertEqual(self.live_bookings("hall-1"), 2)

    def test_the_unique_index_refuses_a_second_live_booking(self):
        """Behind the plugin's check: the database itself refuses a double booking."""
        self.room("hall-1")
        card, _, _ = self.holder("S1", "10.00")
        bid = self.book(card, "hall-1", slot(2))[0]
        copy = ("INSERT INTO rooms_bookings (room, day, slot, start_ms, end_ms, person_id, "
                "person_no, card_no, party, status, cancel_by_ms, refund_by_ms, due_ms, "
                "created_at) SELECT room, day, slot, start_ms, end_ms, person_id, person_no, "
                "card_no, party, ?, cancel_by_ms, refund_by_ms, due_ms, created_at "
                "FROM rooms_bookings WHERE id = ?")
        for status in ("booked", "checked_in", "completed"):
            with self.subTest(status=status):
                with self.assertRaises(sqlite3.IntegrityError):
                    self.gw.sql_write(copy, status, bid)
        # released bookings do not hold the slot
        self.assertEqual(self.gw.sql_write(copy, "cancelled", bid), 1)
        self.assertEqual(self.live_bookings("hall-1"), 1)


    def test_no_overlap_after_the_slots_change(self):
        """A room's slot length or opening time changes with bookings made: a new slot that
        overlaps an old booking is taken, not double booked."""
        self.room("hall-1")
        a, _, _ = self.holder("S1", "10.00")
        b, _, _ = self.holder("S2", "10.00")
        day, hhmm = slot(2)
        bid = self.book(a, "hall-1", (day, hhmm))[0]
        self.gw.ctl("rooms", "update", "hall-1", "--slot", "30")
        half = hhmm[:3] + "30"
        before = self.snapshot("S2")
        r = self.book(b, "hall-1", (day, half))
        self.assertError(r, "SLOT_TAKEN")
        self.assertEqual(self.snapshot("S2"), before)
        slots = dict(self.conns["BOOK-1"].call("ROOMS.SLOTS", "hall-1", day))
        self.assertEqual((slots[hhmm], slots[half]), ("taken", "taken"))
        # the opening time moves by a quarter: HH:15 overlaps HH:00-HH+1:00 too
        self.gw.ctl("rooms", "update", "hall-1", "--open", "00:15", "--close", "24:00")
        quarter = hhmm[:3] + "15"
        self.assertError(self.book(b, "hall-1", (day, quarter)), "SLOT_TAKEN")
        self.assertEqual(self.live_bookings("hall-1"), 1)
        self.assertEqual(self.status(bid), "booked")
        # a slot clear of the old booking is free
        later = slot(3)
        self.assertIsInstance(self.book(b, "hall-1", (later[0], later[1][:3] + "15")), list)


class CancellationTest(RoomsCase):
    def setUp(self):
        super().setUp()
        # cancel until 30 min before the start; the fee back only 3 hours before it
        self.room("hall-1", "venue", "--fee", "5.00", "--deposit", "10.00",
                  "--cancel-before", "30", "--refund-before", "180")
        self.room("hall-2", "venue", "--fee", "5.00", "--deposit", "10.00",
                  "--refund-before", "60")

    def test_in_time_everything_back_late_the_deposit_only(self):
        card, _, _ = self.holder("S1", "50.00")
        other, _, _ = self.holder("S2", "50.00")
        # hall-2: 2 hours ahead is before its 60-minute refund deadline: all back
        bid = self.book(card, "hall-2", slot(2), 1500)[0]
        self.assertEqual(self.balance("S1"), 3500)
        self.assertError(self.cancel(other, bid), "NOT_FOUND")   # not theirs
        self.assertEqual(self.cancel(card, bid), [1500, 5000])
        self.assertEqual(self.status(bid), "cancelled")
        self.assertError(self.cancel(card, bid), "BAD_STATE")    # once
        self.assertEqual(self.balance("S1"), 5000)
        # the slot is free again
        self.assertIsInstance(self.book(other, "hall-2", slot(2), 1500), list)
        # hall-1: less than 3 hours ahead: the fee is kept, the deposit comes back
        bid = self.book(card, "hall-1", slot(2), 1500)[0]
        self.assertEqual(self.cancel(card, bid), [1000, 4500])
        self.assertEqual(self.gw.sql("SELECT paid, refunded FROM rooms_bookings WHERE id = ?",
                                     bid), [(1500, 1000)])
        credits = self.gw.sql("SELECT kind, amount FROM transfers WHERE kind = "
                              "'credit_merchant' ORDER BY id")
        self.assertEqual(credits, [("credit_merchant", 1500), ("credit_merchant", 1000)])

    def test_no_cancellation_after_the_deadline(self):
        card, _, _ = self.holder("S1", "50.00")
        bid = self.book(card, "hall-1", slot(0), 1500)[0]   # the current slot: started
        before = self.snapshot("S1")
        self.assertError(self.cancel(card, bid), "TOO_LATE")
        self.assertEqual(self.snapshot("S1"), before)
        self.assertEqual(self.status(bid), "booked")
        # 30 minutes before the start is the deadline on hall-1
        bid = self.book(card, "hall-1", slot(2), 1500)[0]
        self.gw.sql_write("UPDATE rooms_bookings SET cancel_by_ms = ? WHERE id = ?",
                          int(time.time() * 1000) - 1, bid)
        self.assertError(self.cancel(card, bid), "TOO_LATE")


class CheckinAndNoShowTest(RoomsCase):
    def test_checkin_returns_the_deposit_once(self):
        self.room("hall-1", "venue", "--fee", "5.00", "--deposit", "10.00")
        card, _, _ = self.holder("S1", "50.00")
        other, _, _ = self.holder("S2", "50.00")
        later = self.book(card, "hall-1", slot(3), 1500)[0]
        self.assertError(self.checkin(card, "hall-1"), "NO_BOOKING")   # not yet
        bid = self.book(card, "hall-1", slot(0), 1500)[0]
        self.assertError(self.checkin(other, "hall-1"), "NO_BOOKING")
        self.assertEqual(self.checkin(card, "hall-1"), [bid, 1000, 0, 3000])
        self.assertError(self.checkin(card, "hall-1"), "ALREADY_CHECKED_IN")
        self.assertEqual(self.status(bid), "checked_in")
        self.assertEqual(self.status(later), "booked")
        self.assertEqual(self.balance("S1"), 3000)  # two fees kept, one deposit still held
        # the slot ends: the booking is completed by the timer
        self.gw.sql_write("UPDATE rooms_bookings SET end_ms = ? WHERE id = ?",
                          int(time.time() * 1000) - 1, bid)
        self.assertTrue(wait_until(lambda: self.status(bid) == "completed"))

    def test_no_show_releases_the_slot_after_the_grace_period(self):
        self.room("hall-1", "venue", "--fee", "5.00", "--deposit", "10.00", "--grace", "10")
        card, _, _ = self.holder("S1", "50.00")
        other, _, _ = self.holder("S2", "50.00")
        now = slot(0)
        bid = self.book(card, "hall-1", now, 1500)[0]
        due = self.gw.sql("SELECT due_ms - created_at FROM rooms_bookings WHERE id = ?", bid)
        self.assertEqual(due, [(10 * MIN_MS,)])   # booked after the start: grace from now
        time.sleep(0.5)                           # a few timer ticks: still held
        self.assertEqual(self.status(bid), "booked")
        self.assertError(self.book(other, "hall-1", now, 1500), "SLOT_TAKEN")
        # ten minutes pass without a check-in
        self.gw.sql_write("UPDATE rooms_bookings SET due_ms = due_ms - ? WHERE id = ?",
                          10 * MIN_MS, bid)
        self.assertTrue(wait_until(lambda: self.status(bid) == "no_show"))
        notes = self.notices("S1", "room_no_show")
        self.assertEqual(len(notes), 1, notes)
        # fee and deposit are kept; the slot is free for someone else; no late check-in
        self.assertEqual(self.balance("S1"), 3500)
        self.assertError(self.checkin(card, "hall-1"), "NO_BOOKING")
        self.assertIsInstance(self.book(other, "hall-1", now, 1500), list)
        occ = self.gw.ctl("rooms", "occupancy", "--from", now[0], "--room", "hall-1")
        self.assertEqual((occ[0]["slots"], occ[0]["booked"], occ[0]["no_show"]), (24, 1, 1))

    def test_operator_books_on_behalf_fee_due_at_checkin_and_cancel_owes_refund(self):
        self.room("hall-1", "venue", "--fee", "5.00", "--deposit", "10.00")
        self.gw.add_operator("clerk", "operator")
        clerk = dict(user="clerk", password="operator-pass-1")
        card, _, _ = self.holder("S1", "50.00")
        rec = self.gw.ctl("rooms", "book", "hall-1", *slot(0), "--person", "S1", **clerk)
        self.assertEqual(rec["fee_due"], "5.00")
        self.ctl_fails("SLOT_TAKEN", "rooms", "book", "hall-1", *slot(0), "--person", "S1")
        self.ctl_fails("NOT_FOUND", "rooms", "book", "hall-1", *slot(2), "--person", "NOBODY")
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "rooms.book")[0]["operator"],
                         "clerk")
        # no money moved yet; the station sees the fee due, and the card signs it at check-in
        self.assertEqual(self.balance("S1"), 5000)
        mine = self.swipe(card, "BOOK-1", "ROOMS.MINE")
        self.assertEqual((mine[0][0], mine[0][5]), (rec["booking"], 500))
        before = self.snapshot("S1")
        for wrong in (0, 400, 600):
            with self.subTest(signed=wrong):
                r = self.checkin(card, "hall-1", amount=wrong)
                self.assertError(r, "PRICE_MISMATCH")
                self.assertIn("5.00", r.message)
        self.assertEqual(self.snapshot("S1"), before)
        self.assertEqual(self.status(rec["booking"]), "booked")
        self.assertEqual(self.checkin(card, "hall-1", amount=500), [rec["booking"], 0, 500, 4500])
        # a paid booking cancelled by the office: owed back in full, paid at a station
        bid = self.book(card, "hall-1", slot(2), 1500)[0]
        self.ctl_fails("NOT_FOUND", "rooms", "cancel", "99999")
        out = self.gw.ctl("rooms", "cancel", str(bid), "--reason", "burst pipe", **clerk)
        self.assertEqual((out["refund_owed_fen"], out["status"]), (1500, "cancelled"))
        self.ctl_fails("BAD_STATE", "rooms", "cancel", str(bid))
        self.assertEqual(self.balance("S1"), 3000)
        self.assertEqual(len(self.notices("S1", "room_cancelled")), 1)
        self.assertEqual(self.swipe(card, "BOOK-1", "ROOMS.CLAIM"), [1500, 4500])
        self.assertError(self.swipe(card, "BOOK-1", "ROOMS.CLAIM"), "NOTHING_OWED")
        owed = self.gw.ctl("rooms", "owed", "--person", "S1")
        self.assertEqual([(o["amount_fen"], o["paid_at_terminal"]) for o in owed],
                         [(1500, "BOOK-1")])
        rev = self.gw.ctl("rooms", "revenue", "--from", slot(0)[0], "--to", slot(2)[0])
        total = rev[-1]
        # 5.00 fee at check-in + 15.00 booking - 15.00 refunded
        self.assertEqual((total["room"], total["bookings_fen"], total["refunds_fen"],
                          total["net_fen"]), ("total", 2000, 1500, 500))


class SlowTimerTest(RoomsCase):
    """The timer runs once a minute here: a booking past its grace period is released for
    check-in and for the lab door at once, not only when the timer comes round."""
    sets = dict(ROOMS_SETS, **{"plugin.rooms.tick": "60s", "plugin.rooms.checkin_early": "2h"})

    def test_past_the_grace_period_no_checkin_and_no_door(self):
        self.room("lab-1", "lab", "--grace", "10")
        card, _, _ = self.holder("S1", "10.00")
        bid = self.book(card, "lab-1", slot(0))[0]
        self.assertEqual(self.door(card, "lab-1"), "OK")
        self.gw.sql_write("UPDATE rooms_bookings SET due_ms = ? WHERE id = ?",
                          int(time.time() * 1000) - 1, bid)
        self.assertError(self.door(card, "lab-1"), "DENIED")
        self.assertError(self.checkin(card, "lab-1"), "NO_BOOKING")
        self.assertEqual(self.status(bid), "booked")   # the timer has not come round

    def test_back_to_back_slots_check_in_the_next_one(self):
        self.room("lab-1", "lab")
        card, _, _ = self.holder("S1", "10.00")
        first = self.book(card, "lab-1", slot(0))[0]
        second = self.book(card, "lab-1", slot(1))[0]    # within checkin_early (2h)
        self.assertEqual(self.checkin(card, "lab-1")[0], first)
        self.assertEqual(self.checkin(card, "lab-1")[0], second)
        self.assertError(self.checkin(card, "lab-1"), "ALREADY_CHECKED_IN")
        self.assertEqual((self.status(first), self.status(second)), ("checked_in", "checked_in"))


# ---- lab doors -------------------------------------------------------------------------------


class LabDoorTest(RoomsCase):
    def test_a_current_booking_opens_the_lab_door(self):
        self.room("lab-101", "lab")
        self.room("lab-102", "lab")
        card, _, _ = self.holder("S1", "10.00")
        other, _, _ = self.holder("S2", "10.00")
        # nobody allows: the decision is deny (all-defer)
        self.assertError(self.door(card, "lab-101"), "DENIED")
        future = self.book(card, "lab-101", slot(3))[0]
        self.assertError(self.door(card, "lab-101"), "DENIED")     # not within its slot
        bid = self.book(card, "lab-101", slot(0))[0]
        self.assertEqual(self.door(card, "lab-101"), "OK")         # within the slot
        self.assertError(self.door(other, "lab-101"), "DENIED")    # no booking
        self.assertError(self.door(card, "lab-102"), "DENIED")     # another room
        self.assertError(self.door(card, "not-a-room"), "DENIED")
        self.assertEqual(self.checkin(card, "lab-101")[0], bid)
        self.assertEqual(self.door(card, "lab-101"), "OK")         # checked in
        # the booking released as a no-show no longer opens the door
        self.gw.sql_write("UPDATE rooms_bookings SET status = 'booked', due_ms = 0 "
                          "WHERE id = ?", bid)
        self.assertTrue(wait_until(lambda: self.status(bid) == "no_show"))
        self.assertError(self.door(card, "lab-101"), "DENIED")
        self.assertEqual(self.status(future), "booked")


class AccessPluginLabDoorTest(RoomsCase):
    """With the access plugin: its lab door (place = the room id) asks the decision chain;
    access defers for people in no access group, rooms allows the holder of a booking."""
    sets = dict(ROOMS_SETS, **{"plugin.access.enabled": "yes"})

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(os.path.join(BUILD_DIR, "plugins", "access.so")):
            raise unittest.SkipTest("the access plugin is not built")
        super().setUpClass()

    def test_the_access_plugins_lab_door_opens_for_a_booking(self):
        self.room("lab-101", "lab")
        self.terminal("GATE-L101", "gate")
        self.gw.ctl("access", "doorgroup-add", "labs")
        self.gw.ctl("access", "door-add", "lab-101-door", "--terminal", "GATE-L101", "--kind",
                    "lab", "--building", "B7", "--group", "labs", "--place", "lab-101")
        card, _, _ = self.holder("S1", "10.00")
        other, _, _ = self.holder("S2", "10.00")
        self.assertError(self.swipe(card, "GATE-L101", "ACCESS.OPEN", 0), "NO_ACCESS")
        self.book(card, "lab-101", slot(0))
        self.assertEqual(self.swipe(card, "GATE-L101", "ACCESS.OPEN", 0)[0], "OPEN")
        self.assertError(self.swipe(other, "GATE-L101", "ACCESS.OPEN", 0), "NO_ACCESS")


# ---- public computer rooms -------------------------------------------------------------------


class ComputerRoomTest(RoomsCase):
    def setUp(self):
        super().setUp()
        self.room("pc-1", "computer", "--room-type", "public", "--capacity", "2")
        for tid in ("SEAT-1", "SEAT-2"):
            self.terminal(tid, "pos", owner="rooms-office")
            self.gw.ctl("rooms", "seat", tid, "--room", "pc-1")

    def logon(self, card, tid="SEAT-1", cap=0):
        return self.swipe(card, tid, "ROOMS.LOGON", cap)

    def logout(self, tid="SEAT-1"):
        return self.conns[tid].call("ROOMS.LOGOUT", self.next_seq(tid))

    def session(self, sid):
        return self.gw.sql("SELECT status, minutes, charged FROM rooms_sessions WHERE id = ?",
                           sid)[0]

    def test_charged_per_minute_by_the_lua_rule(self):
        card, _, _ = self.holder("S1", "20.00")
        sid, held, balance, max_min = self.logon(card)
        # it holds what 12 hours cost (2 fen/min), the longest session
        self.assertEqual((held, balance, max_min), (1440, 560, 720))
        hb = self.conns["SEAT-1"].call("ROOMS.HEARTBEAT")
        self.assertEqual(hb[0], sid)
        # a started minute is a whole one, and the minimum is 0.50 CNY
        out = self.logout()
        self.assertEqual(out[:3], [sid, 1, 50])
        self.assertEqual(out[3], 1950)
        self.assertEqual(self.session(sid), ("logout", 1, 50))
        self.assertError(self.logout(), "NO_SESSION")
        # 90 minutes and a bit: 91 minutes at 2 fen
        sid = self.logon(card)[0]
        self.gw.sql_write("UPDATE rooms_sessions SET started_at = started_at - ? WHERE id = ?",
                          90 * MIN_MS, sid)
        self.assertEqual(self.logout()[1:], [91, 182, 1768])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM holds WHERE status = 'pending'"),
                         [(0,)])
        self.assertEqual(self.gw.sql("SELECT sum(charged) FROM payments WHERE merchant = "
                                     "'rooms-office'"), [(232,)])
        rev = self.gw.ctl("rooms", "revenue", "--from", slot(0)[0])
        self.assertEqual((rev[0]["room"], rev[0]["seats_fen"]), ("pc-1", 232))
        occ = self.gw.ctl("rooms", "occupancy", "--from", slot(0)[0], "--room", "pc-1")
        self.assertEqual((occ[0]["sessions"], occ[0]["seat_minutes"]), (2, 92))

    def test_no_balance_for_the_minimum_is_refused(self):
        card, _, _ = self.holder("S1", "0.30")
        before = self.snapshot("S1")
        r = self.logon(card)
        self.assertError(r, "INSUFFICIENT_FUNDS")
        self.assertIn("0.50", r.message)
        self.assertEqual(self.snapshot("S1"), before)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM rooms_sessions"), [(0,)])
        # a cap below the minimum is refused too, even with money
        rich, _, _ = self.holder("S2", "20.00")
        self.assertError(self.logon(rich, cap=30), "INSUFFICIENT_FUNDS")
        # a seat must be registered; only pos seats
        self.terminal("POS-X", "pos", owner="rooms-office")
        self.assertError(self.logon(rich, tid="POS-X"), "NOT_A_SEAT")
        self.assertError(self.swipe(rich, "BOOK-1", "ROOMS.LOGON"), "FORBIDDEN")

    def test_a_seat_must_be_a_registered_pos_terminal(self):
        """rooms seat looks the terminal up (terminal_get): seats log on with ROOMS.LOGON, a
        pos verb, so a mistyped id or a booking station is refused and nothing changes."""
        err = self.ctl_fails("UNKNOWN_TERMINAL", "rooms", "seat", "SEAT-TYPO", "--room", "pc-1")
        self.assertIn("SEAT-TYPO", err)
        err = self.ctl_fails("WRONG_TERMINAL_TYPE", "rooms", "seat", "BOOK-1", "--room", "pc-1")
        self.assertIn("not a pos terminal", err)
        self.assertEqual(sorted(x["seat"] for x in self.gw.ctl("rooms", "seats")),
                         ["SEAT-1", "SEAT-2"])
        self.assertEqual(len(self.gw.ctl("audit", "list", "--action", "rooms.seat")), 2)

    def test_a_session_ends_at_closing_time_and_not_outside_hours(self):
        now = campus_now()
        close = (now + datetime.timedelta(minutes=3)).replace(second=0, microsecond=0)
        if close.date() != now.date() or (close.hour == 0 and close.minute < 5):
            self.skipTest("too close to midnight")
        self.room("pc-2", "computer", "--slot", "5")
        self.gw.ctl("rooms", "update", "pc-2", "--close", close.strftime("%H:%M"))
        self.terminal("SEAT-9", "pos", owner="rooms-office")
        self.gw.ctl("rooms", "seat", "SEAT-9", "--room", "pc-2")
        card, _, _ = self.holder("S1", "20.00")
        sid, held, balance, max_min = self.logon(card, tid="SEAT-9")
        # at most 3 minutes to the closing time: holds what they cost (the 0.50 minimum)
        self.assertLessEqual(max_min, 3)
        self.assertEqual((held, balance), (50, 1950))
        ends_by = self.gw.sql("SELECT ends_by FROM rooms_sessions WHERE id = ?", sid)[0][0]
        close_ms = int(close.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
                       .timestamp() * 1000)
        self.assertLessEqual(ends_by, close_ms)
        self.logout("SEAT-9")
        # not on a weekday the room is closed
        other_days = "".join(str(d) for d in range(1, 8) if d != now.isoweekday())
        self.gw.ctl("rooms", "update", "pc-2", "--days", other_days)
        before = self.snapshot("S1")
        self.assertError(self.logon(card, tid="SEAT-9"), "ROOM_CLOSED")
        self.assertEqual(self.snapshot("S1"), before)

    def test_one_session_per_seat_and_per_person(self):
        a, _, _ = self.holder("S1", "20.00")
        b, _, _ = self.holder("S2", "20.00")
        self.assertIsInstance(self.logon(a), list)
        self.assertError(self.logon(b), "SEAT_BUSY")
        self.assertError(self.logon(a, tid="SEAT-2"), "ALREADY_SEATED")
        self.assertIsInstance(self.logon(b, tid="SEAT-2"), list)
        self.ctl_fails("SEAT_BUSY", "rooms", "unseat", "SEAT-1")
        self.assertEqual(len(self.gw.ctl("rooms", "sessions", "--active")), 2)
        self.logout("SEAT-1")
        self.logout("SEAT-2")
        self.gw.ctl("rooms", "unseat", "SEAT-1")
        self.assertError(self.logon(a), "NOT_A_SEAT")

    def test_a_silent_seat_ends_at_its_last_heartbeat(self):
        card, _, _ = self.holder("S1", "20.00")
        sid = self.logon(card)[0]
        # heartbeats keep it open beyond the 2-second timeout
        for _ in range(6):
            time.sleep(0.5)
            self.assertEqual(self.conns["SEAT-1"].call("ROOMS.HEARTBEAT")[0], sid)
        self.assertEqual(self.session(sid)[0], "active")
        # the last heartbeat came 30 minutes after the start; then silence
        self.gw.sql_write("UPDATE rooms_sessions SET started_at = last_seen - ? WHERE id = ?",
                          30 * MIN_MS, sid)
        self.assertTrue(wait_until(lambda: self.session(sid)[0] != "active", 6))
        self.assertEqual(self.session(sid), ("timeout", 30, 60))
        self.assertEqual(self.balance("S1"), 1940)
        self.assertEqual(self.gw.sql("SELECT terminal, seq FROM payments"),
                         [("SEAT-1", -self.gw.sql("SELECT hold_id FROM rooms_sessions")[0][0])])
        self.assertError(self.conns["SEAT-1"].call("ROOMS.HEARTBEAT"), "NO_SESSION")
        self.assertEqual(len(self.notices("S1", "room_session")), 1)

    def test_the_session_ends_when_the_money_held_is_used_up(self):
        card, _, _ = self.holder("S1", "1.00")
        sid, held, balance, max_min = self.logon(card)
        self.assertEqual((held, balance, max_min), (100, 0, 50))
        self.gw.sql_write("UPDATE rooms_sessions SET started_at = started_at - ?, "
                          "ends_by = ends_by - ?, last_seen = ? WHERE id = ?",
                          50 * MIN_MS, 50 * MIN_MS, int(time.time() * 1000) + 60000, sid)
        self.assertTrue(wait_until(lambda: self.session(sid)[0] != "active", 6))
        self.assertEqual(self.session(sid), ("limit", 50, 100))
        self.assertEqual(self.balance("S1"), 0)


if __name__ == "__main__":
    unittest.main()
