"""The power plugin end to end (R-E): residents buy electricity for their dormitory room by
card at a kiosk or POS, at the tiered price of scripts/power.lua; each room has a monthly free
quota used before what it bought; the meter's readings use the room's energy up, and when it
is gone the meter is told to cut the supply off, and to restore it when the room is topped up
— through a command queue the meter polls, so a meter that was offline gets the command when
it comes back; residents are notified; reports per room and building and the rooms cut off.
`yktctl audit` is clean after each test (WalletCase.tearDown).
"""

import unittest

from harness import MASTER_KEY, Gateway, wait_until
from test_wallet import WalletCase
from ykt_cards import SimCard

POWER_SETS = {
    "plugin.power.enabled": "yes",
    "plugin.power.merchant": "power-office",
    "plugin.power.free_wh": "2000",
    "plugin.power.max_purchase": "10000",
    # the plugin asks for the payment password where the core does (host->pin_threshold())
    "cards.pin_threshold": "50.00",
}

TIERS = [(60000, 52), (120000, 57), (10 ** 18, 82)]  # scripts/power.lua: Wh, fen per kWh


def tier_price(wh, used):
    """scripts/power.lua price(): milli-fen summed over the tiers, rounded down once."""
    milli, lower = 0, 0
    for upto, rate in TIERS:
        a, b = max(used, lower), min(used + wh, upto)
        if b > a:
            milli += (b - a) * rate
        lower = upto
    return milli // 1000


def energy_for(amount, used):
    """The most Wh `amount` fen buys after `used` Wh this month."""
    lo, hi = 0, 1
    while tier_price(hi, used) <= amount:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tier_price(mid, used) <= amount:
            lo = mid
        else:
            hi = mid
    return lo


class PowerCase(WalletCase):
    sets = POWER_SETS

    def setUp(self):
        super().setUp()
        self.merchant("power-office", "power")
        self.merchant("canteen-1")
        self.terminal("KIOSK-1", "kiosk")
        self.terminal("POS-1")
        self.terminal("METER-101", "meter")
        self.terminal("METER-102", "meter")
        self.gw.ctl("power", "room-add", "E1-101", "--building", "东1舍", "--meter",
                    "METER-101")
        self.gw.ctl("power", "room-add", "E1-102", "--building", "东1舍", "--meter",
                    "METER-102")
        self.s1, rec1, self.idn1 = self.holder("S1", "100.00")
        self.s2, rec2, _ = self.holder("S2", "100.00")
        # the initial payment passwords, for purchases at or above pin_threshold (50.00)
        self.pins = {"S1": rec1["initial_pay_password"], "S2": rec2["initial_pay_password"]}
        self.s3, _, _ = self.holder("S3", "100.00")
        self.gw.ctl("power", "resident-add", "E1-101", "S1")
        self.gw.ctl("power", "resident-add", "E1-101", "S2")
        self.gw.ctl("power", "resident-add", "E1-102", "S3")

    def buy(self, card, amount, room="E1-101", tid="KIOSK-1", pin=None):
        extra = (room,) if pin is None else (room, pin)
        return self.swipe(card, tid, "POWER.BUY", amount, *extra)

    def reading(self, wh, meter="METER-101"):
        return self.conns[meter].call("POWER.READING", wh)

    def poll(self, meter="METER-101"):
        return self.conns[meter].call("POWER.POLL")

    def ack(self, cid, meter="METER-101"):
        return self.conns[meter].call("POWER.ACK", cid)

    def room(self, room_id="E1-101"):
        rows = {r["room"]: r for r in self.gw.ctl("power", "rooms")}
        return rows[room_id]

    def reconnect(self, tid):
        self.conns[tid].close()
        self.conns[tid] = self.gw.terminal(tid, self.secrets[tid])


class PowerPurchaseTest(PowerCase):
    def test_purchase_at_the_tiered_price(self):
        # 10.00 CNY in the first tier (0.52 CNY/kWh): 19.249 kWh, charged exactly 10.00
        self.assertEqual(energy_for(1000, 0), 19249)
        pid, wh, charged, energy, balance = self.buy(self.s1, 1000)
        self.assertEqual((wh, charged, energy, balance), (19249, 1000, 2000 + 19249, 9000))
        # 60.00 CNY more spans the first and second tiers (and the third at the end)
        expected = energy_for(6000, 19249)
        self.assertEqual(tier_price(expected, 19249), 6000)
        r = self.buy(self.s2, 6000, tid="POS-1", pin=self.pin("S2"))
        self.assertEqual(r[1:4], [expected, 6000, 2000 + 19249 + expected])
        self.assertGreater(19249 + expected, 60000)  # it crossed into the second tier
        self.assertLess(expected / 6000, 19249 / 1000)  # and so bought less per fen
        used = 19249 + expected
        r = self.buy(self.s1, 5000, pin=self.pin("S1"))
        self.assertEqual(r[1], energy_for(5000, used))
        # the money went to the power office's merchant account, once per purchase
        self.assertEqual(self.gw.sql("SELECT merchant, charged FROM payments ORDER BY id"),
                         [("power-office", 1000), ("power-office", 6000),
                          ("power-office", 5000)])
        self.assertEqual(self.gw.sql("SELECT room, person_no, wh, charged FROM power_purchases "
                                     "ORDER BY id")[0], ("E1-101", "S1", 19249, 1000))
        # a retry of the same (terminal, seq) gets the first reply and buys nothing more
        args = self.signed(self.s1, "KIOSK-1", "POWER.BUY", 100, "E1-101")
        first = self.send("KIOSK-1", args)
        self.assertEqual(self.send("KIOSK-1", args), first)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM power_purchases"), [(4,)])
        # the kiosk shows the room's energy
        self.assertEqual(self.conns["KIOSK-1"].call("POWER.ROOM", "E1-101")[0],
                         2000 + used + energy_for(5000, used) + first[1])

    def pin(self, no):
        return self.pins[no]


class PowerRefusalTest(PowerCase):
    def test_non_resident_and_other_refusals_change_nothing(self):
        before = self.snapshot("S3")
        r = self.buy(self.s3, 1000, room="E1-101")
        self.assertError(r, "NOT_RESIDENT")
        self.assertIn("E1-101", r.message)
        self.assertError(self.buy(self.s3, 1000, room="E9-999"), "UNKNOWN_ROOM")
        self.assertError(self.buy(self.s3, 10001, room="E1-102"), "LIMIT_EXCEEDED")
        self.assertError(self.buy(self.s3, 0, room="E1-102"), "BAD_REQUEST")
        self.assertError(self.buy(self.s3, 5000, room="E1-102"), "PIN_REQUIRED")
        self.assertError(self.swipe(self.s3, "KIOSK-1", "POWER.BUY", 100), "BAD_REQUEST")
        self.assertError(self.swipe(self.s3, "METER-101", "POWER.BUY", 100, "E1-102"),
                         "FORBIDDEN")
        self.assertEqual(self.snapshot("S3"), before)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM power_purchases"), [(0,)])
        # residence is the person's, not the card's: a replacement card buys for the room
        card_no = self.gw.sql("SELECT c.card_no FROM cards c JOIN people p ON p.id = "
                              "c.person_id WHERE p.person_no = 'S1'")[0][0]
        self.gw.ctl("card", "loss", card_no, "--id-number", self.idn1)
        self.assertError(self.buy(self.s1, 100), "CARD_LOST")
        new = self.gw.ctl("card", "replace", card_no, "--id-number", self.idn1)
        fresh = SimCard(MASTER_KEY, uid=new["uid"])
        self.assertEqual(self.buy(fresh, 100)[2], 100)
        # a resident moves out
        self.gw.ctl("power", "resident-remove", "E1-101", "S2")
        self.assertError(self.buy(self.s2, 100), "NOT_RESIDENT")
        self.ctl_fails("NOT_FOUND", "power", "resident-remove", "E1-101", "S2")
        # a temporary card limited to the canteen may not buy electricity
        tcard, _ = self.temporary_holder("V1", "20.00", "--subsystems", "canteen")
        self.gw.ctl("power", "resident-add", "E1-102", "V1")
        self.assertError(self.buy(tcard, 100, room="E1-102"), "NOT_ALLOWED")

    def test_payment_password_at_the_threshold(self):
        card, rec, _ = self.holder("S4", "100.00")
        self.gw.ctl("power", "resident-add", "E1-102", "S4")
        good = rec["initial_pay_password"]
        wrong = "%06d" % ((int(good) + 1) % 1000000)
        before = self.snapshot("S4")
        self.assertError(self.buy(card, 5000, room="E1-102"), "PIN_REQUIRED")
        self.assertError(self.buy(card, 5000, room="E1-102", pin=wrong), "BAD_PIN")
        self.assertError(self.buy(card, 100, room="E1-102", pin=wrong), "BAD_PIN")
        self.assertEqual(self.snapshot("S4")[:2], before[:2])
        r = self.buy(card, 5000, room="E1-102", pin=good)
        self.assertIsInstance(r, list, r)
        self.assertEqual((r[1], r[2]), (energy_for(5000, 0), 5000))
        self.assertNotIn(good, self.gw.log_text())


class PowerMeterTest(PowerCase):
    def test_cut_off_and_restore_through_the_poll_queue(self):
        self.assertEqual(self.reading(1000), [2000, 2000, "on", 0])  # the first: a baseline
        self.assertEqual(self.reading(2500), [500, 500, "on", 0])    # 1.5 kWh of the quota
        self.assertEqual(self.poll(), [])
        # the quota is used up: the meter is told to cut off, the residents are told why
        self.assertEqual(self.reading(3000), [0, 0, "off", 1])
        self.assertEqual(len(self.notices("S1", "power_cutoff")), 1)
        self.assertEqual(len(self.notices("S2", "power_cutoff")), 1)
        self.assertEqual(self.notices("S3", "power_cutoff"), [])
        cut = self.poll()
        self.assertEqual([c[1] for c in cut], ["cut"])
        self.assertEqual(self.poll(), cut)  # pending until acknowledged
        self.assertEqual(self.ack(cut[0][0]), "OK")
        self.assertEqual(self.poll(), [])
        cut_off = self.gw.ctl("power", "rooms", "--cut-off")
        self.assertEqual([(r["room"], r["supply"], r["meter_state"]) for r in cut_off],
                         [("E1-101", "off", "off")])
        # the meter goes offline; a resident tops the room up at the kiosk meanwhile
        self.conns["METER-101"].close()
        wh = self.buy(self.s1, 1000)[1]
        self.assertEqual(len(self.notices("S2", "power_restore")), 1)
        pending = self.gw.ctl("power", "commands", "--pending")
        self.assertEqual([(c["room"], c["command"], c["delivered_at_ms"]) for c in pending],
                         [("E1-101", "restore", 0)])
        self.assertEqual(self.gw.ctl("power", "rooms", "--cut-off"), [])
        # it comes back, polls and gets the restore command
        self.conns["METER-101"] = self.gw.terminal("METER-101", self.secrets["METER-101"])
        restore = self.poll()
        self.assertEqual([c[1] for c in restore], ["restore"])
        self.assertEqual(self.ack(restore[0][0]), "OK")
        self.assertEqual(self.ack(restore[0][0]), "OK")  # a retried ACK is harmless
        self.assertEqual(self.room()["meter_state"], "on")
        self.assertEqual(self.reading(3000), [wh, 0, "on", 0])
        # refusals
        self.assertError(self.ack(9999), "UNKNOWN_COMMAND")
        self.assertError(self.ack(restore[0][0], meter="METER-102"), "UNKNOWN_COMMAND")
        self.assertError(self.reading(2999), "BAD_READING")
        self.assertError(self.reading("x"), "BAD_REQUEST")
        self.assertError(self.conns["KIOSK-1"].call("POWER.POLL"), "FORBIDDEN")
        self.terminal("METER-999", "meter")
        self.assertError(self.conns["METER-999"].call("POWER.READING", 5), "UNKNOWN_METER")

    def test_only_the_latest_command_waits_for_an_offline_meter(self):
        self.reading(0)
        self.assertEqual(self.reading(2000)[2], "off")
        cut_id = self.gw.ctl("power", "commands", "--pending")[0]["command_id"]
        # the meter did not poll; the room is topped up: the cut is void, the restore waits
        self.buy(self.s2, 100)
        self.assertEqual([c[1] for c in self.poll()], ["restore"])
        self.assertError(self.ack(cut_id), "SUPERSEDED")
        statuses = [(c["command"], c["status"]) for c in self.gw.ctl("power", "commands")]
        self.assertEqual(statuses, [("restore", "pending"), ("cut", "superseded")])
        # used beyond what was left (the meter had not cut yet): the debt comes first
        self.reconnect("METER-101")
        energy = self.reading(2000)[0]
        self.assertEqual(self.reading(2000 + energy + 500)[:3], [-500, 0, "off"])
        self.assertEqual(self.buy(self.s1, 10)[3], energy_for(10, energy_for(100, 0)) - 500)
        self.assertEqual(self.room()["supply"], "off")  # 10 fen did not cover the debt
        r = self.buy(self.s1, 100)
        self.assertGreater(r[3], 0)
        self.assertEqual(self.room()["supply"], "on")

    def test_monthly_free_quota_per_room_used_first(self):
        self.buy(self.s1, 1000)  # 19249 Wh bought
        self.reading(10000)
        self.assertEqual(self.reading(11500), [2000 + 19249 - 1500, 500, "on", 0])
        self.assertEqual(self.reading(13000), [2000 + 19249 - 3000, 0, "on", 0])
        # the other room's quota is its own
        self.assertEqual(self.reading(0, meter="METER-102"), [2000, 2000, "on", 0])
        # a new month: the quota is back (what was left does not carry over)
        self.gw.sql_write("UPDATE power_rooms SET free_month = '2000-01'")
        self.assertEqual(self.reading(13000), [2000 + 19249 - 1000, 2000, "on", 0])
        report = {r["room"]: r for r in self.gw.ctl("power", "report")}
        self.assertEqual((report["E1-101"]["used_wh"], report["E1-101"]["free_used_wh"],
                          report["E1-101"]["bought_wh"], report["E1-101"]["bought_fen"]),
                         (3000, 2000, 19249, 1000))
        self.assertEqual(report["E1-102"]["used_wh"], 0)
        by_building = self.gw.ctl("power", "report", "--by", "building")
        self.assertEqual([(r["building"], r["rooms"], r["used_wh"], r["cut_off"])
                          for r in by_building], [("东1舍", 2, 3000, 0)])
        self.assertEqual(self.gw.ctl("power", "report", "--month", "1999-12")[0]["used_wh"], 0)
        self.ctl_fails("BAD_REQUEST", "power", "report", "--month", "1999-13")

    def test_a_new_month_restores_a_room_cut_off(self):
        self.reading(0)
        self.assertEqual(self.reading(2000)[2], "off")
        self.gw.sql_write("UPDATE power_rooms SET free_month = '2000-01'")
        self.assertEqual(self.conns["KIOSK-1"].call("POWER.ROOM", "E1-101"),
                         [2000, 2000, 0, "on"])
        self.assertEqual([c[1] for c in self.poll()], ["restore"])
        self.assertEqual(len(self.notices("S1", "power_restore")), 1)


class PowerMonthTest(PowerCase):
    def test_a_new_month_reaches_every_room_without_a_word_from_its_meter(self):
        self.reading(0)
        self.assertEqual(self.reading(2000)[2], "off")          # E1-101 used its quota
        self.reading(0, meter="METER-102")
        self.assertEqual(self.reading(1500, meter="METER-102")[1], 500)
        cut = self.poll()[0][0]
        self.ack(cut)
        # yktd was down across the month's end: no day-end event, and no meter speaks after
        self.gw.stop()
        self.gw.sql_write("UPDATE power_rooms SET free_month = '2000-01'")
        self.gw.start()
        for tid in list(self.conns):
            self.conns[tid] = self.gw.terminal(tid, self.secrets[tid])
        self.assertTrue(wait_until(lambda: self.gw.ctl("power", "rooms", "--cut-off") == [],
                                   6))
        rooms = {r["room"]: r for r in self.gw.ctl("power", "rooms")}
        self.assertEqual([(rooms[r]["free_wh"], rooms[r]["supply"]) for r in sorted(rooms)],
                         [(2000, "on"), (2000, "on")])
        self.assertEqual([(c["room"], c["command"]) for c in
                          self.gw.ctl("power", "commands", "--pending")],
                         [("E1-101", "restore")])
        self.assertEqual(len(self.notices("S1", "power_restore")), 1)
        self.assertEqual(self.notices("S3", "power_restore"), [])  # E1-102 was never cut
        self.assertEqual([c[1] for c in self.poll()], ["restore"])


class PowerMoreRefusalsTest(PowerCase):
    def test_every_refusal_changes_nothing(self):
        poor, _, _ = self.holder("S5", "0.50")
        self.gw.ctl("power", "resident-add", "E1-102", "S5")
        before = (self.snapshot("S5"), self.room("E1-102"))
        self.assertError(self.buy(poor, 100, room="E1-102"), "INSUFFICIENT_FUNDS")
        self.assertError(self.buy(poor, 50, room="bad room"), "UNKNOWN_ROOM")
        self.assertError(self.buy(poor, 50, room="E1-102", tid="POS-1", pin="12"),
                         "BAD_REQUEST")  # a payment password is six digits
        self.assertEqual((self.snapshot("S5"), self.room("E1-102")), before)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM power_purchases"), [(0,)])
        kiosk = self.conns["KIOSK-1"]
        self.assertError(kiosk.call("POWER.ROOM", "E9-999"), "UNKNOWN_ROOM")
        self.assertError(kiosk.call("POWER.ROOM"), "BAD_REQUEST")
        self.assertError(kiosk.call("POWER.ROOM", "E1-101", "x"), "BAD_REQUEST")
        self.assertError(self.conns["METER-101"].call("POWER.ROOM", "E1-101"), "FORBIDDEN")
        self.assertError(self.conns["METER-101"].call("POWER.ACK"), "BAD_REQUEST")
        self.assertError(self.ack("first"), "BAD_REQUEST")
        self.assertError(self.ack(-1), "BAD_REQUEST")
        self.assertError(self.conns["METER-101"].call("POWER.POLL", "now"), "BAD_REQUEST")
        self.assertError(self.reading(-5), "BAD_REQUEST")
        self.assertError(self.reading(10 ** 12 + 1), "BAD_REQUEST")
        self.assertError(self.conns["METER-101"].call("POWER.READING"), "BAD_REQUEST")
        self.assertEqual(self.room()["reading_wh"], -1)
        # the admin commands check their words
        self.ctl_fails("BAD_REQUEST", "power", "room-add", "E1-103")
        self.ctl_fails("BAD_REQUEST", "power", "room-add", "E1-103", "--building", "B",
                       "--meter", "bad meter")
        self.ctl_fails("EXISTS", "power", "room-add", "E1-103", "--building", "B",
                       "--meter", "METER-101")
        self.ctl_fails("BAD_REQUEST", "power", "room-set", "E1-101")
        self.ctl_fails("UNKNOWN_ROOM", "power", "room-set", "E9-9", "--building", "B")
        # the meter is a registered terminal of type meter (terminal_get)
        for cmd in (("room-add", "E1-103", "--building", "B"), ("room-set", "E1-101")):
            err = self.ctl_fails("UNKNOWN_TERMINAL", "power", *cmd, "--meter", "METER-TYPO")
            self.assertIn("METER-TYPO", err)
            err = self.ctl_fails("WRONG_TERMINAL_TYPE", "power", *cmd, "--meter", "KIOSK-1")
            self.assertIn("a kiosk terminal, not a meter", err)
        self.assertEqual(self.room()["meter"], "METER-101")
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "power.room_set"), [])
        self.ctl_fails("BAD_REQUEST", "power", "report", "--by", "floor")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM power_rooms"), [(2,)])
        # readers read, and change nothing
        self.gw.add_operator("fin1", "finance")
        self.assertEqual(len(self.gw.ctl("power", "rooms", user="fin1",
                                         password="operator-pass-1")), 2)
        self.ctl_fails("FORBIDDEN", "power", "resident-add", "E1-102", "S4",
                       user="fin1", password="operator-pass-1")


class PowerDepartmentTest(PowerCase):
    sets = dict(POWER_SETS, **{"plugin.power.department": "后勤处"})

    def test_only_the_subsystems_department_administers_it(self):
        self.gw.add_operator("log1", "dept_admin", department="后勤处")
        self.gw.add_operator("cs1", "dept_admin", department="CS")
        self.gw.ctl("power", "room-add", "E1-201", "--building", "东1舍",
                    user="log1", password="operator-pass-1")
        self.ctl_fails("FORBIDDEN", "power", "room-add", "E1-202", "--building", "东1舍",
                       user="cs1", password="operator-pass-1")
        self.ctl_fails("FORBIDDEN", "power", "resident-remove", "E1-101", "S1",
                       user="cs1", password="operator-pass-1")
        self.assertEqual(self.gw.sql("SELECT id FROM power_rooms WHERE id LIKE 'E1-20%'"),
                         [("E1-201",)])
        self.assertEqual(len(self.gw.ctl("power", "residents", "E1-101")), 2)


class PowerNoQuotaTest(PowerCase):
    sets = dict(POWER_SETS, **{"plugin.power.free_wh": "0"})

    def test_a_room_without_energy_starts_cut_off_and_a_new_meter_learns_it(self):
        self.assertEqual(self.room()["supply"], "off")
        self.assertEqual([c[1] for c in self.poll()], ["cut"])
        # the meter is replaced: the new one gets the room's state, from a fresh baseline
        self.terminal("METER-201", "meter")
        self.gw.ctl("power", "room-set", "E1-101", "--meter", "METER-201", "--approval", "W-9")
        self.assertEqual(self.conns["METER-201"].call("POWER.POLL")[0][1], "cut")
        # the old meter is out of service: its command is void
        self.assertError(self.poll(), "UNKNOWN_METER")
        self.assertError(self.reading(5), "UNKNOWN_METER")
        self.assertEqual([(c["meter"], c["command"], c["status"])
                          for c in self.gw.ctl("power", "commands", "--room", "E1-101")],
                         [("METER-201", "cut", "pending"), ("METER-101", "cut", "superseded")])
        self.ctl_fails("EXISTS", "power", "room-set", "E1-102", "--meter", "METER-201")
        self.ctl_fails("EXISTS", "power", "room-add", "E1-101", "--building", "X")
        self.ctl_fails("EXISTS", "power", "resident-add", "E1-102", "S1")
        self.ctl_fails("NOT_FOUND", "power", "resident-add", "E1-102", "NOBODY")
        self.ctl_fails("UNKNOWN_ROOM", "power", "resident-add", "E9-1", "S1")
        self.ctl_fails("BAD_REQUEST", "power", "room-add", "bad room", "--building", "X")
        audit = self.gw.ctl("audit", "list", "--action", "power.room_set")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]), ("E1-101", "W-9"))
        self.assertEqual([r["person"] for r in self.gw.ctl("power", "residents", "E1-101")],
                         ["S1", "S2"])
        self.buy(self.s1, 100)
        self.assertEqual(self.conns["METER-201"].call("POWER.POLL")[-1][1], "restore")


class PowerMerchantTest(PowerCase):
    """The merchant option is checked with merchant_status: at start (a warning, since the
    merchant is added with yktctl once yktd runs) and at the first purchase (a clear refusal
    before the card is read, and a log line naming the option)."""
    sets = dict(POWER_SETS, **{"plugin.power.merchant": "power-late"})

    def test_a_missing_merchant_is_named_at_start_and_at_the_first_purchase(self):
        self.assertIn("option merchant = power-late: no such merchant yet", self.gw.log_text())
        before = self.snapshot("S1")
        r = self.buy(self.s1, 1000)
        self.assertError(r, "NO_MERCHANT")
        self.assertIn("power-late", r.line)
        self.assertIn("option merchant = power-late: no such merchant, so no electricity",
                      self.gw.log_text())
        self.assertEqual(self.snapshot("S1"), before)
        self.merchant("power-late", "power")
        self.assertEqual(self.buy(self.s1, 1000)[2], 1000)
        self.assertEqual(self.gw.sql("SELECT merchant FROM payments"), [("power-late",)])


class PowerStartTest(unittest.TestCase):
    """pin_threshold is no longer the plugin's option: a configuration that still sets it to
    another amount than [cards] pin_threshold stops yktd (it would change when a password is
    asked for); one that agrees starts with a warning."""

    def start(self, sets):
        gw = Gateway(sets=dict(POWER_SETS, **sets), start=False)
        self.addCleanup(gw.cleanup)
        return gw

    def test_an_obsolete_pin_threshold(self):
        gw = self.start({"plugin.power.pin_threshold": "20000"})
        with self.assertRaises(AssertionError) as e:
            gw.start()
        self.assertIn("option pin_threshold = 20000 is no longer read", str(e.exception))
        gw.proc = None
        gw.log.close()
        gw = self.start({"plugin.power.pin_threshold": "5000"})
        gw.start()
        self.assertIn("option pin_threshold is obsolete", gw.log_text())


if __name__ == "__main__":
    unittest.main()
