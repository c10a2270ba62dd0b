"""The water plugin end to end (R-H): a draw at a dispenser holds a pre-authorised amount on
the card (WATER.START), the dispenser reports readings, and WATER.STOP captures the price of
the measured volume from scripts/water.lua (with the holder's daily free quota) and releases
the rest; a dispenser that falls silent is settled by the gateway at its last reading, or
voided without one; one session per dispenser and per card; a pulled card and a dispenser
that restarted are settled; reports per building and day. `yktctl audit` is clean after each
test (WalletCase.tearDown).
"""

import time
import unittest

from harness import Gateway, wait_until
from test_wallet import WalletCase

WATER_SETS = {
    "plugin.water.enabled": "yes",
    "plugin.water.max_hold": "1000",
}


class WaterCase(WalletCase):
    sets = WATER_SETS

    def setUp(self):
        super().setUp()
        self.merchant("water-co", "water")
        self.merchant("canteen-1")
        for tid, building, service in (("DISP-1", "东1舍", "hot"), ("DISP-2", "东1舍", "hot"),
                                       ("DISP-3", "西2舍", "drinking")):
            self.terminal(tid, "dispenser", owner="water-co")
            self.gw.ctl("water", "dispenser-add", tid, "--building", building,
                        "--service", service)
        self.terminal("POS-1")

    # ---- a dispenser's side ----

    def start(self, card, amount, tid="DISP-1"):
        return self.swipe(card, tid, "WATER.START", amount)

    def reading(self, sid, ml, tid="DISP-1"):
        return self.conns[tid].call("WATER.READING", sid, ml)

    def stop(self, sid, ml, reason=None, tid="DISP-1", seq=None):
        args = ["WATER.STOP", seq if seq is not None else self.next_seq(tid), sid, ml]
        if reason:
            args.append(reason)
        return self.conns[tid].call(*args)

    def session(self, sid):
        rows = self.gw.sql("SELECT status, end_reason, litres_ml, free_ml, cost, charged, "
                           "uncharged, hold_id FROM water_sessions WHERE id = ?", sid)
        return rows[0] if rows else None

    def hold_status(self, hold_id):
        return self.gw.sql("SELECT status, captured FROM holds WHERE id = ?", hold_id)[0]

    def draw(self, card, ml, amount=500, tid="DISP-1"):
        """A whole draw: start, one reading, stop -> the STOP reply."""
        sid = self.start(card, amount, tid)[0]
        self.assertEqual(self.reading(sid, ml, tid)[1], amount)
        return self.stop(sid, ml, tid=tid)


class WaterSessionTest(WaterCase):
    def test_hold_captured_and_the_rest_released(self):
        card, _, _ = self.holder("S1", "50.00")
        sid, held, balance = self.start(card, 500)
        self.assertEqual((held, balance), (500, 4500))
        hold_id = self.session(sid)[7]
        self.assertEqual(self.hold_status(hold_id), ("pending", 0))
        # readings tell the dispenser what the draw costs so far: 20 L a day are free
        self.assertEqual(self.reading(sid, 10000), [0, 500, 0])
        self.assertEqual(self.reading(sid, 25000), [15, 500, 0])  # 5 L at 3 fen
        # 30 L of hot water: 20 L free, 10 L at 3 fen/L = 30 fen; 470 fen go back
        seq = self.next_seq("DISP-1")
        reply = self.stop(sid, 30000, seq=seq)
        self.assertEqual(reply, [30, 20000, 30000, 4970])
        self.assertEqual(self.stop(sid, 30000, seq=seq), reply)  # a retry: the first reply
        self.assertEqual(self.balance("S1"), 4970)
        self.assertEqual(self.hold_status(hold_id), ("captured", 30))
        self.assertEqual(self.gw.sql("SELECT merchant, terminal, charged FROM payments"),
                         [("water-co", "DISP-1", 30)])
        self.assertEqual(self.session(sid)[:7], ("closed", "done", 30000, 20000, 30, 30, 0))
        self.assertError(self.reading(sid, 31000), "SESSION_CLOSED")
        self.assertError(self.stop(sid, 31000), "SESSION_CLOSED")
        # the next draw is the card's again, at any dispenser
        self.assertEqual(self.draw(card, 2000, tid="DISP-2"), [6, 0, 2000, 4964])

    def test_all_free_draw_releases_the_whole_hold(self):
        card, _, _ = self.holder("S1", "10.00")
        sid = self.start(card, 300)[0]
        hold_id = self.session(sid)[7]
        self.assertEqual(self.stop(sid, 12000), [0, 12000, 12000, 1000])
        self.assertEqual(self.hold_status(hold_id)[0], "voided")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(0,)])
        # a draw of nothing (the holder changed their mind) costs nothing either
        sid = self.start(card, 300)[0]
        self.assertEqual(self.stop(sid, 0, "card_pulled"), [0, 0, 0, 1000])
        self.assertEqual(self.session(sid)[1], "card_pulled")

    def test_daily_free_quota_per_holder_and_service(self):
        card, _, _ = self.holder("S1", "50.00")
        self.assertEqual(self.draw(card, 15000), [0, 15000, 15000, 5000])
        # 5 L of the quota left: 10 L cost 5 L at 3 fen
        self.assertEqual(self.draw(card, 10000, tid="DISP-2"), [15, 5000, 10000, 4985])
        self.assertEqual(self.draw(card, 1000), [3, 0, 1000, 4982])
        # drinking water has its own quota and price (1 fen/L)
        self.assertEqual(self.draw(card, 25000, tid="DISP-3"), [5, 20000, 25000, 4977])
        self.assertEqual(self.gw.sql("SELECT service, ml FROM water_usage ORDER BY service"),
                         [("drinking", 25000), ("hot", 26000)])
        # a temporary card has no free quota
        tcard, _ = self.temporary_holder("V1", "20.00")
        self.assertEqual(self.draw(tcard, 10000), [30, 0, 10000, 1970])
        # a draw beyond what was held is charged the hold, and the rest is on record
        card2, _, _ = self.holder("S2", "50.00")
        sid = self.start(card2, 50)[0]
        self.assertEqual(self.reading(sid, 40000), [60, 50, 1])  # stop: the hold is used up
        self.assertEqual(self.stop(sid, 40000), [50, 20000, 40000, 4950])
        self.assertEqual(self.session(sid)[4:7], (60, 50, 10))

    def test_two_sessions_on_one_card_refused(self):
        card, _, _ = self.holder("S1", "50.00")
        sid = self.start(card, 500)[0]
        before = self.snapshot("S1")
        r = self.start(card, 500, tid="DISP-2")
        self.assertError(r, "CARD_BUSY")
        self.assertIn("DISP-1", r.message)
        self.assertEqual(self.snapshot("S1"), before)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM water_sessions"), [(1,)])
        self.stop(sid, 1000)
        self.assertIsInstance(self.start(card, 500, tid="DISP-2")[0], int)

    def test_second_session_on_one_dispenser_refused(self):
        card1, _, _ = self.holder("S1", "50.00")
        card2, _, _ = self.holder("S2", "50.00")
        sid = self.start(card1, 500)[0]
        before = self.snapshot("S2")
        r = self.start(card2, 500)
        self.assertError(r, "DISPENSER_BUSY")
        self.assertIn(str(sid), r.message)
        self.assertEqual(self.snapshot("S2"), before)
        # another dispenser serves the second holder
        self.assertIsInstance(self.start(card2, 500, tid="DISP-2")[0], int)

    def test_card_pulled_and_dispenser_restarted(self):
        card, _, _ = self.holder("S1", "50.00")
        sid = self.start(card, 500)[0]
        self.reading(sid, 21000)
        # the card is pulled mid-draw: the dispenser closes the valve and stops with a reason
        self.assertEqual(self.stop(sid, 21500, "card_pulled"), [4, 20000, 21500, 4996])
        self.assertEqual(self.session(sid)[:3], ("closed", "card_pulled", 21500))
        # a dispenser that lost power reconnects, asks what was open, and settles it at the
        # last reading it reported ("-": it lost its count)
        sid = self.start(card, 500)[0]
        self.reading(sid, 2000)
        self.conns["DISP-1"].close()
        self.conns["DISP-1"] = self.gw.terminal("DISP-1", self.secrets["DISP-1"])
        status = self.conns["DISP-1"].call("WATER.STATUS")
        self.assertEqual(status[:3], [sid, 500, 2000])
        self.assertError(self.start(card, 500), "DISPENSER_BUSY")
        self.assertEqual(self.stop(sid, "-", "reconnect"), [6, 0, 2000, 4990])
        self.assertIsNone(self.conns["DISP-1"].call("WATER.STATUS"))
        # without any reading, "-" releases the whole hold
        sid = self.start(card, 500)[0]
        self.assertEqual(self.stop(sid, "-", "fault"), [0, 0, 0, 4990])

    def test_refusals_change_nothing(self):
        card, rec, idn = self.holder("S1", "3.00")
        self.terminal("DISP-X", "dispenser", owner="water-co")
        before = self.snapshot("S1")
        self.assertError(self.start(card, 100, tid="DISP-X"), "UNKNOWN_DISPENSER")
        self.assertError(self.start(card, 0), "BAD_REQUEST")
        self.assertError(self.start(card, 1001), "LIMIT_EXCEEDED")
        self.assertError(self.start(card, 301), "INSUFFICIENT_FUNDS")
        self.assertError(self.swipe(card, "POS-1", "WATER.START", 100), "FORBIDDEN")
        self.assertError(self.conns["DISP-1"].call("WATER.START", self.next_seq("DISP-1")),
                         "BAD_REQUEST")
        self.assertEqual(self.snapshot("S1"), before)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM water_sessions"), [(0,)])
        sid = self.start(card, 300)[0]
        self.reading(sid, 5000)
        self.assertError(self.reading(sid, 4000), "BAD_READING")
        self.assertError(self.reading(sid, "lots"), "BAD_REQUEST")
        self.assertError(self.stop(sid, 4999), "BAD_READING")
        self.assertError(self.stop(sid, 6000, "bored"), "BAD_REQUEST")
        self.assertError(self.stop(sid, 6000, tid="DISP-2"), "NO_SESSION")
        self.assertError(self.reading(sid, 6000, tid="DISP-2"), "NO_SESSION")
        self.assertError(self.stop(999, 6000), "NO_SESSION")
        self.assertEqual(self.session(sid)[0], "open")
        self.assertEqual(self.stop(sid, 6000), [0, 6000, 6000, 300])
        # a lost card starts nothing
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        self.assertError(self.start(card, 100), "CARD_LOST")
        # a temporary card limited to the canteen may not draw water
        tcard, _ = self.temporary_holder("V1", "20.00", "--subsystems", "canteen")
        self.assertError(self.start(tcard, 100), "NOT_ALLOWED")
        # a dispenser without a merchant cannot sell: it is not registered (see
        # test_a_dispenser_must_be_a_dispenser_terminal_of_a_merchant); one registered before
        # that check, owned by no merchant, is refused at its first sale, before the card
        self.terminal("DISP-N", "dispenser", owner="ghost-co")
        self.gw.sql_write("INSERT INTO water_dispensers (id, building, service, added_at) "
                          "VALUES ('DISP-N', 'B', 'hot', 0)")
        card2, _, _ = self.holder("S2", "3.00")
        self.assertError(self.start(card2, 100, tid="DISP-N"), "NO_MERCHANT")
        self.assertIn("ghost-co, which is not a merchant", self.gw.log_text())


class WaterTimeoutTest(WaterCase):
    sets = dict(WATER_SETS, **{"plugin.water.timeout": "1"})

    def test_silent_dispenser_settles_at_its_last_reading(self):
        card, _, _ = self.holder("S1", "50.00")
        sid = self.start(card, 500)[0]
        self.assertEqual(self.reading(sid, 25000), [15, 500, 0])
        hold_id = self.session(sid)[7]
        self.assertTrue(wait_until(lambda: self.session(sid)[0] == "closed", 6),
                        self.session(sid))
        self.assertEqual(self.session(sid)[:7], ("closed", "timeout", 25000, 20000, 15, 15, 0))
        self.assertEqual(self.balance("S1"), 4985)
        self.assertEqual(self.hold_status(hold_id), ("captured", 15))
        # the payment is the dispenser's, numbered -hold (no request made it)
        self.assertEqual(self.gw.sql("SELECT terminal, seq, charged FROM payments"),
                         [("DISP-1", -hold_id, 15)])
        # the dispenser comes back and tries to stop: already settled, nothing moves twice
        self.assertError(self.stop(sid, 26000), "SESSION_CLOSED")
        self.assertEqual(self.gw.sql("SELECT ml FROM water_usage"), [(25000,)])

    def test_silent_dispenser_without_a_reading_is_voided(self):
        card, _, _ = self.holder("S1", "50.00")
        sid = self.start(card, 500)[0]
        hold_id = self.session(sid)[7]
        self.assertEqual(self.balance("S1"), 4500)
        self.assertTrue(wait_until(lambda: self.session(sid)[0] == "closed", 6))
        self.assertEqual(self.session(sid)[:6], ("closed", "timeout", 0, 0, 0, 0))
        self.assertEqual(self.hold_status(hold_id)[0], "voided")
        self.assertEqual(self.balance("S1"), 5000)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(0,)])
        # readings keep a session alive
        sid = self.start(card, 500)[0]
        for ml in (1000, 2000, 3000):
            time.sleep(0.4)
            self.reading(sid, ml)
        self.assertEqual(self.session(sid)[0], "open")
        self.assertEqual(self.stop(sid, 3500), [0, 3500, 3500, 5000])


class WaterLongSessionTest(WaterCase):
    """The default timeout (120 s): only an old session or an expired hold settles here."""

    def test_a_session_past_max_session_is_settled_although_it_reports(self):
        card, _, _ = self.holder("S1", "50.00")
        card2, _, _ = self.holder("S2", "50.00")
        sid = self.start(card, 500)[0]
        other = self.start(card2, 500, tid="DISP-2")[0]
        self.assertEqual(self.reading(sid, 22000), [6, 500, 0])
        open_ = self.gw.ctl("water", "sessions", "--open")
        self.assertEqual(sorted(s["session"] for s in open_), sorted([sid, other]))
        # the draw started longer ago than max_session (3600 s), yet the dispenser reports
        self.gw.sql_write("UPDATE water_sessions SET started_at = started_at - 3601000 "
                          "WHERE id = ?", sid)
        self.assertTrue(wait_until(lambda: self.session(sid)[0] == "closed", 6),
                        self.session(sid))
        self.assertEqual(self.session(sid)[:6], ("closed", "max_session", 22000, 20000, 6, 6))
        self.assertEqual(self.balance("S1"), 4994)
        self.assertError(self.reading(sid, 23000), "SESSION_CLOSED")
        self.assertError(self.stop(sid, 23000), "SESSION_CLOSED")
        # the other draw is young and stays open
        self.assertEqual(self.session(other)[0], "open")
        self.assertEqual([s["session"] for s in self.gw.ctl("water", "sessions", "--open")],
                         [other])
        self.assertEqual([(s["session"], s["reason"]) for s in
                          self.gw.ctl("water", "sessions", "--dispenser", "DISP-1")],
                         [(sid, "max_session")])
        listing = {d["dispenser"]: d for d in self.gw.ctl("water", "dispensers")}
        self.assertEqual((listing["DISP-1"]["open_session"], listing["DISP-2"]["open_session"]),
                         ("", other))
        self.assertGreater(listing["DISP-1"]["last_seen_ms"], 0)
        self.assertEqual(listing["DISP-3"]["last_seen_ms"], 0)
        self.stop(other, 0, tid="DISP-2")

    def test_a_hold_the_wallet_expired_first_is_closed_with_nothing_charged(self):
        card, _, _ = self.holder("S1", "50.00")
        sid = self.start(card, 500)[0]
        self.reading(sid, 30000)
        hold_id = self.session(sid)[7]
        # the plugin did not settle in time (it was off): the wallet expires the hold itself
        self.gw.sql_write("UPDATE holds SET expires_at = 0 WHERE id = ?", hold_id)
        self.assertTrue(wait_until(lambda: self.hold_status(hold_id)[0] != "pending", 6))
        self.assertEqual(self.balance("S1"), 5000)
        self.gw.sql_write("UPDATE water_sessions SET seen_at = 0 WHERE id = ?", sid)
        self.assertTrue(wait_until(lambda: self.session(sid)[0] == "closed", 6))
        self.assertEqual(self.session(sid)[:2], ("closed", "hold_expired"))
        self.assertEqual(self.session(sid)[5], 0)  # nothing charged
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(0,)])
        self.assertEqual(self.balance("S1"), 5000)
        # the card and the dispenser are free again
        self.assertIsInstance(self.start(card, 500)[0], int)


class WaterUndoTest(WaterCase):
    """A settlement from the timer is recorded whole or not at all: when the session's record
    cannot be written after hold_settle succeeded, the plugin calls undo_writes and the
    capture goes with it. A storage failure is forced with a trigger the test adds beside the
    gateway (plugins may not create triggers; a test may): it aborts the update that closes
    DISP-1's session."""

    FAIL = ("CREATE TRIGGER water_test_fail BEFORE UPDATE OF status ON water_sessions "
            "WHEN NEW.status = 'closed' AND OLD.dispenser = 'DISP-1' "
            "BEGIN SELECT RAISE(ABORT, 'injected storage failure'); END")

    def test_a_settlement_that_cannot_be_recorded_is_undone_and_retried(self):
        card, _, _ = self.holder("S1", "50.00")
        card2, _, _ = self.holder("S2", "50.00")
        sid = self.start(card, 500)[0]
        other = self.start(card2, 500, tid="DISP-2")[0]
        self.assertEqual(self.reading(sid, 25000), [15, 500, 0])
        self.assertEqual(self.reading(other, 25000, tid="DISP-2"), [15, 500, 0])
        hold_id, other_hold = self.session(sid)[7], self.session(other)[7]
        self.gw.sql_write(self.FAIL)
        # both dispensers fall silent
        self.gw.sql_write("UPDATE water_sessions SET seen_at = 0")
        # the normal path still records: DISP-2's session is settled although DISP-1's fails
        # (the failing one is left out of the next tick)
        self.assertTrue(wait_until(lambda: self.session(other)[0] == "closed", 6),
                        self.session(other))
        self.assertEqual(self.session(other)[:6], ("closed", "timeout", 25000, 20000, 15, 15))
        self.assertEqual(self.hold_status(other_hold), ("captured", 15))
        self.assertTrue(wait_until(lambda: "cannot record its settlement" in
                                   self.gw.log_text(), 6))
        time.sleep(1.5)  # a retry alone fails again
        # DISP-1's capture was undone with its record: the hold is untouched, no payment
        self.assertEqual(self.session(sid)[0], "open")
        self.assertEqual(self.hold_status(hold_id)[0], "pending")
        self.assertEqual(self.gw.sql("SELECT terminal, charged FROM payments"),
                         [("DISP-2", 15)])
        self.assertEqual(self.balance("S1"), 4500)
        # the storage heals: the session is settled once, with its payment
        self.gw.sql_write("DROP TRIGGER water_test_fail")
        self.assertTrue(wait_until(lambda: self.session(sid)[0] == "closed", 6),
                        self.session(sid))
        self.assertEqual(self.session(sid)[:6], ("closed", "timeout", 25000, 20000, 15, 15))
        self.assertEqual(self.hold_status(hold_id), ("captured", 15))
        self.assertEqual(sorted(self.gw.sql("SELECT terminal, charged FROM payments")),
                         [("DISP-1", 15), ("DISP-2", 15)])
        self.assertEqual(self.balance("S1"), 4985)


class WaterAdminTest(WaterCase):
    def test_a_dispenser_must_be_a_dispenser_terminal_of_a_merchant(self):
        """dispenser-add looks the terminal up (terminal_get) and its owner (merchant_status):
        a mistyped id, another type of terminal, or a dispenser that sells for no merchant
        would never sell; each is refused and nothing is registered."""
        base = ["--building", "B", "--service", "hot"]
        self.terminal("DISP-X", "dispenser", owner=None)
        self.terminal("DISP-G", "dispenser", owner="ghost-co")
        for code, tid, why in (("UNKNOWN_TERMINAL", "DISP-TYPO", "no terminal DISP-TYPO"),
                               ("WRONG_TERMINAL_TYPE", "POS-1", "a pos terminal"),
                               ("NO_MERCHANT", "DISP-X", "no owning merchant"),
                               ("NO_MERCHANT", "DISP-G", "ghost-co, which is not a merchant")):
            err = self.ctl_fails(code, "water", "dispenser-add", tid, *base)
            self.assertIn(why, err)
        self.assertEqual(sorted(d["dispenser"] for d in self.gw.ctl("water", "dispensers")),
                         ["DISP-1", "DISP-2", "DISP-3"])
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "water.dispenser_add",
                                     "--target", "DISP-G"), [])
        # once its merchant exists, it is accepted (a suspended merchant too: the wallet
        # refuses its sales until it is active again)
        self.merchant("ghost-co", "water")
        self.gw.ctl("water", "dispenser-add", "DISP-G", *base)

    def test_registry_and_reports_per_building_and_day(self):
        card, _, _ = self.holder("S1", "50.00")
        card2, _, _ = self.holder("S2", "50.00")
        self.draw(card, 30000)                   # 东1舍 hot: 30 fen
        self.draw(card2, 21000, tid="DISP-2")    # 东1舍 hot: 3 fen
        self.draw(card, 30000, tid="DISP-3")     # 西2舍 drinking: 10 fen
        rows = self.gw.ctl("water", "report")
        day = rows[0]["day"]
        self.assertEqual([(r["building"], r["day"], r["sessions"], r["ml"], r["litres"],
                           r["charged_fen"]) for r in rows],
                         [("东1舍", day, 2, 51000, "51.000", 33),
                          ("西2舍", day, 1, 30000, "30.000", 10)])
        by_day = self.gw.ctl("water", "report", "--by", "day", "--from", day, "--to", day)
        self.assertEqual([(r["sessions"], r["ml"], r["free_ml"], r["charged_fen"])
                          for r in by_day], [(3, 81000, 60000, 43)])
        self.assertEqual(self.gw.ctl("water", "report", "--from", "2000-01-01", "--to",
                                     "2000-01-02"), [])
        self.ctl_fails("BAD_REQUEST", "water", "report", "--from", "yesterday")
        self.ctl_fails("BAD_REQUEST", "water", "report", "--by", "week")
        # sessions of one holder
        sessions = self.gw.ctl("water", "sessions", "--person", "S1")
        self.assertEqual([s["charged"] for s in sessions], [10, 30])
        # the registry
        self.ctl_fails("EXISTS", "water", "dispenser-add", "DISP-1", "--building", "X",
                       "--service", "hot")
        self.ctl_fails("BAD_REQUEST", "water", "dispenser-add", "DISP-9", "--building", "X",
                       "--service", "cold")
        self.ctl_fails("BAD_REQUEST", "water", "dispenser-add", "DISP-9", "--service", "hot")
        self.gw.ctl("water", "dispenser-set", "DISP-2", "--service", "drinking",
                    "--approval", "LOG-7")
        self.ctl_fails("NOT_FOUND", "water", "dispenser-set", "DISP-9", "--service", "hot")
        listing = {d["dispenser"]: d for d in self.gw.ctl("water", "dispensers")}
        self.assertEqual(listing["DISP-2"]["service"], "drinking")
        sid = self.start(card, 300, tid="DISP-3")[0]
        self.ctl_fails("BAD_STATE", "water", "dispenser-remove", "DISP-3")
        self.stop(sid, 100, tid="DISP-3")
        self.gw.ctl("water", "dispenser-remove", "DISP-3")
        self.assertError(self.start(card, 300, tid="DISP-3"), "UNKNOWN_DISPENSER")
        audit = self.gw.ctl("audit", "list", "--action", "water.dispenser_set")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]), ("DISP-2", "LOG-7"))
        # readers may read, not change
        self.gw.add_operator("fin1", "finance")
        self.assertEqual(len(self.gw.ctl("water", "report", user="fin1",
                                         password="operator-pass-1")), 2)
        self.ctl_fails("FORBIDDEN", "water", "dispenser-add", "DISP-9", "--building", "X",
                       "--service", "hot", user="fin1", password="operator-pass-1")


class WaterDepartmentTest(WaterCase):
    sets = dict(WATER_SETS, **{"plugin.water.department": "后勤处"})

    def test_only_the_subsystems_department_administers_it(self):
        self.gw.add_operator("log1", "dept_admin", department="后勤处")
        self.gw.add_operator("cs1", "dept_admin", department="CS")
        self.terminal("DISP-7", "dispenser", owner="water-co")
        self.terminal("DISP-8", "dispenser", owner="water-co")
        self.gw.ctl("water", "dispenser-add", "DISP-7", "--building", "B", "--service", "hot",
                    user="log1", password="operator-pass-1")
        self.ctl_fails("FORBIDDEN", "water", "dispenser-add", "DISP-8", "--building", "B",
                       "--service", "hot", user="cs1", password="operator-pass-1")
        self.assertEqual(self.gw.sql("SELECT id FROM water_dispensers WHERE id IN "
                                     "('DISP-7', 'DISP-8')"), [("DISP-7",)])


class WaterStartTest(unittest.TestCase):
    def test_max_hold_must_stay_below_the_cores_pin_threshold(self):
        """A dispenser has no keypad: max_hold is checked against [cards] pin_threshold
        (host->pin_threshold()), not a constant."""
        gw = Gateway(sets=dict(WATER_SETS, **{"cards.pin_threshold": "10.00"}), start=False)
        self.addCleanup(gw.cleanup)
        with self.assertRaises(AssertionError) as e:
            gw.start()
        self.assertIn("option max_hold = 1000: must be a whole number from 1 to 999",
                      str(e.exception))
        gw.proc = None
        gw.log.close()


if __name__ == "__main__":
    unittest.main()
