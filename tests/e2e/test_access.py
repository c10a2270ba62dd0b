"""The access-control plugin end to end (R-A): doors, gates and readers as gate terminals with
a place, a kind and a building; access groups with weekly time windows and the holiday
calendar; dormitory doors for that building's residents only; labs for authorised people, and
for the holder of a current booking through the rooms plugin (ALLOW/DENY/DEFER chain); lost,
expired and cancelled cards refused; every decision logged and queryable; visitors with a
masked ID number, a host, a purpose, an expected time and an optional temporary card; vehicles
with registration and approval at parking gates; anti-passback per door group; the offline
readers' versioned white list; the department restriction of the administrators.

Times: windows are chosen relative to the campus clock (UTC+8) so the tests hold whatever time
they run. `yktctl audit` is clean after every test (WalletCase).
"""

import csv
import datetime
import io
import json
import shutil
import subprocess
import time

from harness import MASTER_KEY, Gateway, RespError, wait_until
from test_wallet import DAY_MS, WalletCase, campus_day_start_ms, campus_today
from ykt_cards import SimCard

ACCESS_SETS = {"plugin.access.enabled": "yes"}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def campus_now():
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)


def hhmm(minute):
    return "%02d:%02d" % (minute // 60, minute % 60)


def window_not_now():
    """(from, to) of a window of today that does not hold the current minute."""
    now = campus_now()
    m = now.hour * 60 + now.minute
    if m + 120 <= 1440:
        return hhmm(m + 60), hhmm(m + 120)
    return hhmm(m - 120), hhmm(m - 60)


class AccessCase(WalletCase):
    sets = ACCESS_SETS

    def setUp(self):
        super().setUp()
        self.doors = {}

    # ---- configuration ----

    def acc(self, *args, **kw):
        return self.gw.ctl("access", *args, **kw)

    def door(self, did, kind="teaching", group="dg-main", building=None, direction=None,
             place=None, tid=None):
        """A gate terminal registered as a door (its door group created when missing)."""
        if not any(g["door_group"] == group for g in self.acc("doorgroups")):
            self.acc("doorgroup-add", group)
        tid = tid or "G-" + did.upper()
        self.terminal(tid, "gate")
        args = ["door-add", did, "--terminal", tid, "--kind", kind, "--group", group]
        if building:
            args += ["--building", building]
        if direction:
            args += ["--direction", direction]
        if place:
            args += ["--place", place]
        self.acc(*args)
        self.doors[did] = tid
        return tid

    def group(self, name, *doorgroups, days="all", frm="00:00", to="24:00", members=()):
        self.acc("group-add", name)
        if days:
            self.acc("window-add", name, "--days", days, "--from", frm, "--to", to)
        for dg in doorgroups:
            self.acc("grant", name, dg)
        if members:
            self.acc("member-add", name, *members)

    # ---- swipes ----

    def open(self, card, did, *direction, **kw):
        return self.swipe(card, self.doors[did], "ACCESS.OPEN", 0, *direction, **kw)

    def assertOpens(self, reply):
        self.assertIsInstance(reply, list, reply)
        self.assertEqual(reply[0], "OPEN", reply)
        return reply[2]

    def card_no(self, no):
        return self.gw.sql("SELECT c.card_no FROM cards c JOIN people p ON p.id = c.person_id "
                           "WHERE p.person_no = ? ORDER BY c.rowid DESC LIMIT 1", no)[0][0]

    def log(self, *filters):
        return self.acc("log", *filters)

    def wait_logged(self, n):
        """Denials are logged by the plugin's timer after the error reply (which undoes the
        request's own writes): wait until the log has n rows."""
        self.assertTrue(wait_until(lambda: self.gw.sql("SELECT count(*) FROM access_log")[0][0]
                                   >= n), self.gw.sql("SELECT * FROM access_log"))


# ---- doors ----------------------------------------------------------------------------------


class DoorRegistryTest(AccessCase):
    def test_doors_are_gate_terminals_with_place_kind_and_building(self):
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.door("lab-101", "lab", group="labs", building="B7")
        self.door("d1-in", "dormitory", group="dorm-1", building="D1")
        doors = {d["door"]: d for d in self.acc("doors")}
        self.assertEqual(set(doors), {"east-gate", "lab-101", "d1-in"})
        self.assertEqual((doors["lab-101"]["kind"], doors["lab-101"]["building"],
                          doors["lab-101"]["place"], doors["lab-101"]["door_group"],
                          doors["lab-101"]["terminal"]),
                         ("lab", "B7", "lab-101", "labs", "G-LAB-101"))
        self.assertEqual(doors["east-gate"]["direction"], "both")
        self.assertEqual([d["door"] for d in self.acc("doors", "--group", "labs")], ["lab-101"])
        actions = [a["action"] for a in self.gw.ctl("audit", "list", "--action",
                                                      "access.door-add")]
        self.assertEqual(len(actions), 3)

    def test_bad_door_configuration_is_refused_and_changes_nothing(self):
        self.door("east-gate", "campus_gate", group="gates")
        self.terminal("G-X", "gate")
        base = ["access", "door-add", "x", "--terminal", "G-X", "--group", "gates"]
        self.ctl_fails("BAD_REQUEST", *base, "--kind", "castle")
        self.ctl_fails("BAD_REQUEST", *base, "--kind", "dormitory")        # no --building
        self.ctl_fails("BAD_REQUEST", *base, "--kind", "teaching", "--direction", "up")
        self.ctl_fails("BAD_REQUEST", "access", "door-add", "bad id!", "--terminal", "G-X",
                       "--group", "gates", "--kind", "teaching")
        self.ctl_fails("NOT_FOUND", "access", "door-add", "x", "--terminal", "G-X", "--group",
                       "nope", "--kind", "teaching")
        self.ctl_fails("EXISTS", "access", "door-add", "east-gate", "--terminal", "G-X",
                       "--group", "gates", "--kind", "teaching")
        self.ctl_fails("EXISTS", "access", "door-add", "y", "--terminal", "G-EAST-GATE",
                       "--group", "gates", "--kind", "teaching")
        self.ctl_fails("EXISTS", "access", "doorgroup-add", "gates")
        self.ctl_fails("IN_USE", "access", "doorgroup-remove", "gates")
        self.ctl_fails("NOT_FOUND", "access", "door-remove", "nope")
        self.assertEqual([d["door"] for d in self.acc("doors")], ["east-gate"])

    def test_a_door_needs_a_registered_gate_terminal(self):
        """door-add looks the terminal up (terminal_get): a mistyped id or a terminal of
        another type, which could never send ACCESS.OPEN, is refused and nothing changes."""
        self.acc("doorgroup-add", "gates")
        self.terminal("POS-1", "pos")
        base = ["--group", "gates", "--kind", "campus_gate"]
        err = self.ctl_fails("UNKNOWN_TERMINAL", "access", "door-add", "x", "--terminal",
                             "G-TYPO", *base)
        self.assertIn("G-TYPO", err)
        err = self.ctl_fails("WRONG_TERMINAL_TYPE", "access", "door-add", "x", "--terminal",
                             "POS-1", *base)
        self.assertIn("pos terminal", err)
        self.assertEqual(self.acc("doors"), [])
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "access.door-add"), [])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_doors"), [(0,)])
        # the same door on a gate terminal is accepted
        self.terminal("G-X", "gate")
        self.acc("door-add", "x", "--terminal", "G-X", *base)
        self.assertEqual([d["terminal"] for d in self.acc("doors")], ["G-X"])

    def test_a_terminal_that_is_no_door_and_bad_directions(self):
        card, _, _ = self.holder("S1")
        self.door("in-only", "teaching", group="pub", direction="in")
        self.acc("doorgroup-set", "pub", "--public", "yes")
        self.terminal("G-NONE", "gate")
        self.assertError(self.swipe(card, "G-NONE", "ACCESS.OPEN", 0), "NO_DOOR")
        self.assertError(self.conns["G-NONE"].call("ACCESS.LIST", "0"), "NO_DOOR")
        self.assertError(self.open(card, "in-only", "out"), "BAD_REQUEST")  # an in reader
        self.assertError(self.open(card, "in-only", "sideways"), "BAD_REQUEST")
        self.assertError(self.conns["G-IN-ONLY"].call("ACCESS.OPEN", "9999", "x"), "BAD_REQUEST")
        self.assertOpens(self.open(card, "in-only", "in"))
        # only gate terminals may use the verbs
        self.terminal("POS-1", "pos")
        r = self.swipe(card, "POS-1", "ACCESS.OPEN", 0)
        self.assertIsInstance(r, RespError)


# ---- groups, windows, holidays --------------------------------------------------------------


class GroupWindowTest(AccessCase):
    def setUp(self):
        super().setUp()
        self.door("b3-main", "teaching", group="teaching-b3", building="B3")
        self.card, _, _ = self.holder("S1")
        self.other, _, _ = self.holder("S2")

    def test_a_group_window_opens_and_others_are_refused(self):
        self.group("b3-users", "teaching-b3", members=["S1"])
        self.assertOpens(self.open(self.card, "b3-main"))
        self.assertError(self.open(self.other, "b3-main"), "NO_ACCESS")
        groups = {g["group"]: g for g in self.acc("groups")}
        self.assertEqual((groups["b3-users"]["door_groups"], groups["b3-users"]["members"],
                          groups["b3-users"]["windows"]),
                         ("teaching-b3", 1, "1234567H 00:00-24:00"))
        # withdrawn membership closes the door again
        self.acc("member-remove", "b3-users", "S1")
        self.assertError(self.open(self.card, "b3-main"), "NO_ACCESS")

    def test_outside_the_weekly_window_and_on_other_days(self):
        frm, to = window_not_now()
        self.group("evening", "teaching-b3", days="all", frm=frm, to=to, members=["S1"])
        r = self.open(self.card, "b3-main")
        self.assertError(r, "OUTSIDE_HOURS")
        # another weekday, all day: still not today
        other_day = DAYS[(campus_now().weekday() + 3) % 7]
        self.group("other-day", "teaching-b3", days=other_day, members=["S1"])
        self.assertError(self.open(self.card, "b3-main"), "OUTSIDE_HOURS")
        # today's weekday: open
        wid = self.acc("window-add", "other-day", "--days", DAYS[campus_now().weekday()],
                       "--from", "00:00", "--to", "24:00")
        self.assertOpens(self.open(self.card, "b3-main"))
        self.acc("window-remove", str(wid))
        self.assertError(self.open(self.card, "b3-main"), "OUTSIDE_HOURS")

    def test_the_holiday_calendar_replaces_the_weekday(self):
        self.group("weekly", "teaching-b3", days="daily", members=["S1"])
        self.assertOpens(self.open(self.card, "b3-main"))
        today = campus_today().isoformat()
        self.acc("holiday-add", today, "--name", "国庆")
        self.assertEqual(self.acc("holidays"), [{"day": today, "name": "国庆"}])
        self.assertError(self.open(self.card, "b3-main"), "OUTSIDE_HOURS")
        # a window for holidays opens it
        self.acc("window-add", "weekly", "--days", "hol", "--from", "00:00", "--to", "24:00")
        self.assertOpens(self.open(self.card, "b3-main"))
        self.acc("holiday-remove", today)
        self.assertOpens(self.open(self.card, "b3-main"))

    def test_bad_group_input_is_refused(self):
        self.group("g1", members=["S1"])
        self.ctl_fails("EXISTS", "access", "group-add", "g1")
        self.ctl_fails("BAD_REQUEST", "access", "window-add", "g1", "--days", "someday",
                       "--from", "08:00", "--to", "09:00")
        self.ctl_fails("BAD_REQUEST", "access", "window-add", "g1", "--days", "mon",
                       "--from", "10:00", "--to", "09:00")
        self.ctl_fails("BAD_REQUEST", "access", "window-add", "g1", "--days", "mon",
                       "--from", "25:00", "--to", "26:00")
        self.ctl_fails("NOT_FOUND", "access", "window-add", "nope", "--days", "mon",
                       "--from", "08:00", "--to", "09:00")
        self.ctl_fails("NOT_FOUND", "access", "window-remove", "999")
        self.ctl_fails("NOT_FOUND", "access", "grant", "g1", "no-such-doors")
        self.acc("grant", "g1", "teaching-b3")
        self.ctl_fails("BAD_STATE", "access", "grant", "g1", "teaching-b3")
        self.ctl_fails("UNKNOWN_PERSON", "access", "member-add", "g1", "NOBODY")
        self.ctl_fails("BAD_REQUEST", "access", "holiday-add", "2025-02-30")
        self.ctl_fails("NOT_FOUND", "access", "holiday-remove", "2025-01-01")
        self.acc("ungrant", "g1", "teaching-b3")
        self.ctl_fails("BAD_STATE", "access", "ungrant", "g1", "teaching-b3")
        self.assertError(self.open(self.card, "b3-main"), "NO_ACCESS")

    def test_member_import_is_all_rows_or_none(self):
        self.acc("group-add", "club")
        self.ctl_fails("REJECTED", "access", "member-import",
                       self.gw.data_file("person_no\nS1\nNOBODY\n"), "--group", "club")
        self.assertEqual(self.acc("members", "--group", "club"), [])
        self.assertEqual(self.acc("member-import", self.gw.data_file("person_no\nS1\nS2\n"),
                                  "--group", "club"), 2)
        self.assertEqual([m["person_no"] for m in self.acc("members", "--group", "club")],
                         ["S1", "S2"])

    def test_public_door_group_opens_for_any_valid_card(self):
        self.assertError(self.open(self.card, "b3-main"), "NO_ACCESS")
        self.acc("doorgroup-set", "teaching-b3", "--public", "yes")
        self.assertOpens(self.open(self.card, "b3-main"))
        self.assertOpens(self.open(self.other, "b3-main"))


# ---- dormitories ----------------------------------------------------------------------------


class DormitoryTest(AccessCase):
    def test_a_dormitory_opens_for_its_residents_only(self):
        self.door("d1-main", "dormitory", group="dorm-1", building="D1")
        self.door("d2-main", "dormitory", group="dorm-2", building="D2")
        a, _, _ = self.holder("S1")
        b, _, _ = self.holder("S2")
        c, _, _ = self.holder("S3")
        self.acc("resident-add", "S1", "--building", "D1", "--room", "101")
        self.acc("resident-add", "S2", "--building", "D2", "--room", "201")
        self.assertOpens(self.open(a, "d1-main"))
        self.assertError(self.open(b, "d1-main"), "NOT_RESIDENT")
        self.assertError(self.open(c, "d1-main"), "NOT_RESIDENT")
        self.assertOpens(self.open(b, "d2-main"))
        self.assertError(self.open(a, "d2-main"), "NOT_RESIDENT")
        # moving house
        self.acc("resident-add", "S1", "--building", "D2", "--room", "202")
        self.assertError(self.open(a, "d1-main"), "NOT_RESIDENT")
        self.assertOpens(self.open(a, "d2-main"))
        self.assertEqual([(r["person_no"], r["room"]) for r in
                          self.acc("residents", "--building", "D2")], [("S2", "201"),
                                                                       ("S1", "202")])
        # the building's staff by an access group
        self.group("d1-staff", "dorm-1", members=["S3"])
        self.assertOpens(self.open(c, "d1-main"))
        self.acc("resident-remove", "S2")
        self.assertError(self.open(b, "d2-main"), "NOT_RESIDENT")
        self.ctl_fails("NOT_FOUND", "access", "resident-remove", "S2")
        self.ctl_fails("UNKNOWN_PERSON", "access", "resident-add", "NOBODY", "--building", "D1")

    def test_resident_hours_and_import(self):
        self.door("d1-main", "dormitory", group="dorm-1", building="D1")
        a, _, _ = self.holder("S1")
        self.holder("S2")
        self.ctl_fails("REJECTED", "access", "resident-import",
                       self.gw.data_file("person_no,building,room\nS1,D1,101\nNOBODY,D1,102\n"))
        self.assertEqual(self.acc("residents"), [])
        self.ctl_fails("REJECTED", "access", "resident-import",
                       self.gw.data_file("S1,D1,101\nS2,D1," + "9" * 40 + "\n"))
        self.ctl_fails("BAD_REQUEST", "access", "resident-add", "S1", "--building", "D1",
                       "--room", "9" * 33)
        self.assertEqual(self.acc("residents"), [])
        self.assertEqual(self.acc("resident-import", self.gw.data_file("S1,D1,101\nS2,D1,102\n")), 2)
        frm, to = window_not_now()
        self.acc("doorgroup-set", "dorm-1", "--resident-hours", "%s-%s" % (frm, to))
        self.assertError(self.open(a, "d1-main"), "OUTSIDE_HOURS")
        self.ctl_fails("BAD_REQUEST", "access", "doorgroup-set", "dorm-1", "--resident-hours",
                       "23:00-06:00")
        self.acc("doorgroup-set", "dorm-1", "--resident-hours", "00:00-24:00")
        self.assertOpens(self.open(a, "d1-main"))


# ---- cards the card centre refuses ----------------------------------------------------------


class CardStatusTest(AccessCase):
    def setUp(self):
        super().setUp()
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.acc("doorgroup-set", "gates", "--public", "yes")

    def test_lost_expired_and_cancelled_cards_are_refused_and_logged(self):
        lost, _, lost_idn = self.holder("S1")
        expired, _, _ = self.holder("S2")
        gone, grec, gone_idn = self.holder("S3")
        for card in (lost, expired, gone):
            self.assertOpens(self.open(card, "east-gate", "in"))
        self.gw.ctl("card", "loss", self.card_no("S1"), "--id-number", lost_idn)
        self.gw.ctl("person", "update", "S2", "--enrolled", "2020-09-01")
        self.gw.ctl("card", "cancel", grec["card_no"], "--id-number", gone_idn, "--reason",
                    "other")
        self.assertError(self.open(lost, "east-gate", "out"), "CARD_LOST")
        self.assertError(self.open(expired, "east-gate", "out"), "CARD_EXPIRED")
        self.assertError(self.open(gone, "east-gate", "out"), "CARD_CANCELLED")
        self.wait_logged(6)
        refused = {r["person"]: r for r in self.log("--result", "refused")}
        self.assertEqual({p: r["code"] for p, r in refused.items()},
                         {"S1": "CARD_LOST", "S2": "CARD_EXPIRED", "S3": "CARD_CANCELLED"})
        self.assertEqual(refused["S1"]["door"], "east-gate")
        self.assertEqual(refused["S1"]["direction"], "out")

    def test_an_unknown_or_forged_card_is_refused_and_logged(self):
        card, rec, _ = self.holder("S1")
        other, _, _ = self.holder("S2")
        # signed with another card's key: the host refuses the cryptogram; the card exists,
        # so the log names it and its holder (card_by_uid), though it never passed a door
        self.assertError(self.open(card, "east-gate", key_of=other), "BAD_CRYPTOGRAM")
        self.wait_logged(1)
        row = self.log()[0]
        self.assertEqual((row["result"], row["door"], row["code"], row["card"], row["person"]),
                         ("refused", "east-gate", "CARD_REFUSED", rec["card_no"], "S1"))
        self.assertIn(rec["card_no"], row["reason"])
        self.assertEqual(len(self.log("--card", rec["card_no"])), 1)
        # a UID no card has: logged with the UID alone
        stranger = SimCard(MASTER_KEY)
        self.assertError(self.open(stranger, "east-gate"), "CARD_UNKNOWN")
        self.wait_logged(2)
        row = self.log()[0]
        self.assertEqual((row["result"], row["code"], row["card"], row["person"]),
                         ("refused", "CARD_REFUSED", "", ""))
        self.assertEqual(self.gw.sql("SELECT uid FROM access_log WHERE id = ?", row["id"]),
                         [(stranger.uid_hex,)])
        # by door and card, past decisions that have no card at all: the door's walk goes on
        # past them (a column a filter names may be empty)
        self.assertError(self.open(SimCard(MASTER_KEY), "east-gate"), "CARD_UNKNOWN")
        self.wait_logged(3)
        self.assertEqual([r["card"] for r in self.log("--door", "east-gate", "--card",
                                                      rec["card_no"])], [rec["card_no"]])
        self.assertEqual(len(self.log("--door", "east-gate", "--card", rec["card_no"],
                                      "--limit", "1")), 1)

    def test_a_lost_card_never_seen_at_a_door_is_logged_as_lost(self):
        """Before card_by_uid the plugin knew only the cards that had passed one of its doors;
        now the first swipe of a lost card is logged with its number and CARD_LOST."""
        lost, rec, idn = self.holder("S1")
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        self.assertError(self.open(lost, "east-gate", "in"), "CARD_LOST")
        self.wait_logged(1)
        row = self.log()[0]
        self.assertEqual((row["code"], row["card"], row["person"]),
                         ("CARD_LOST", rec["card_no"], "S1"))

    def test_a_temporary_card_limited_to_other_subsystems_is_refused(self):
        card, rec = self.temporary_holder("V1", None, "--subsystems", "canteen")
        self.assertError(self.open(card, "east-gate"), "NOT_ALLOWED")
        ok, _ = self.temporary_holder("V2", None, "--subsystems", "gate,canteen")
        self.assertOpens(self.open(ok, "east-gate"))


# ---- the decision log -----------------------------------------------------------------------


class DecisionLogTest(AccessCase):
    def test_every_decision_is_logged_and_can_be_queried(self):
        self.door("b3-main", "teaching", group="teaching-b3", direction="in")
        self.door("b3-back", "teaching", group="teaching-b3", direction="out")
        a, arec, _ = self.holder("S1")
        b, _, _ = self.holder("S2")
        self.group("b3-users", "teaching-b3", members=["S1"])
        first = self.assertOpens(self.open(a, "b3-main"))
        self.assertOpens(self.open(a, "b3-back"))
        self.assertError(self.open(b, "b3-main"), "NO_ACCESS")
        self.wait_logged(3)
        rows = self.log()
        self.assertEqual([(r["person"], r["door"], r["direction"], r["result"], r["code"])
                          for r in rows],
                         [("S2", "b3-main", "in", "deny", "NO_ACCESS"),
                          ("S1", "b3-back", "out", "allow", ""),
                          ("S1", "b3-main", "in", "allow", "")])
        self.assertEqual(rows[-1]["id"], first)
        self.assertEqual(rows[-1]["card"], arec["card_no"])
        self.assertIn("b3-main", rows[0]["reason"])
        self.assertEqual(len(self.log("--person", "S1")), 2)
        self.assertEqual(len(self.log("--door", "b3-main")), 2)
        self.assertEqual(len(self.log("--card", arec["card_no"])), 2)
        self.assertEqual(len(self.log("--result", "deny")), 1)
        self.assertEqual(len(self.log("--limit", "1")), 1)
        today = campus_today()
        self.assertEqual(len(self.log("--from", today.isoformat())), 3)
        self.assertEqual(len(self.log("--to", (today - datetime.timedelta(days=1)).isoformat())),
                         0)
        self.ctl_fails("BAD_REQUEST", "access", "log", "--result", "maybe")
        self.ctl_fails("BAD_REQUEST", "access", "log", "--from", "yesterday")
        self.ctl_fails("BAD_REQUEST", "access", "log", "--limit", "0")
        # a terminal's retry gets the first reply and logs nothing more
        args = self.signed(a, "G-B3-MAIN", "ACCESS.OPEN", 0)
        again = self.send("G-B3-MAIN", args)
        self.assertEqual(self.send("G-B3-MAIN", args), again)
        self.assertEqual(len(self.log("--person", "S1")), 3)

    def chain(self, person_no=None, door=None):
        """A person's or a door's decision ids along their chain, newest first, read from
        the tables."""
        if door is None:
            head, prev = ("SELECT last_id FROM access_log_heads WHERE person_no = ?",
                          "SELECT prev_id FROM access_log WHERE id = ?")
        else:
            head, prev = ("SELECT last_id FROM access_door_heads WHERE door = ?",
                          "SELECT prev_door_id FROM access_log WHERE id = ?")
        ids = []
        row = self.gw.sql(head, person_no if door is None else door)
        lid = row[0][0] if row else None
        while lid is not None:
            ids.append(lid)
            lid = self.gw.sql(prev, lid)[0][0]
        return ids

    def test_each_doors_decisions_are_a_chain(self):
        # schema version 5: no index keyed by the door; `log --door` walks the door's chain
        self.door("b3-main", "teaching", group="teaching-b3", direction="in")
        self.door("b3-back", "teaching", group="teaching-b3", direction="out")
        a, _, _ = self.holder("S1")
        b, _, _ = self.holder("S2")
        self.group("b3-users", "teaching-b3", members=["S1"])
        for card, door in ((a, "b3-main"), (a, "b3-back"), (a, "b3-main"), (a, "b3-main")):
            self.assertOpens(self.open(card, door))
        self.assertError(self.open(b, "b3-back"), "NO_ACCESS")  # logged later, by the timer
        self.wait_logged(5)
        mine = {d: [r["id"] for r in self.log("--door", d)] for d in ("b3-main", "b3-back")}
        self.assertEqual([len(mine[d]) for d in ("b3-main", "b3-back")], [3, 2])
        for d in mine:
            self.assertEqual(self.chain(door=d), mine[d])
            self.assertEqual(mine[d], sorted(mine[d], reverse=True))
        # the filters apply along the walk, and --limit ends it
        self.assertEqual([r["person"] for r in self.log("--door", "b3-back", "--result",
                                                        "deny")], ["S2"])
        self.assertEqual([r["id"] for r in self.log("--door", "b3-main", "--limit", "2")],
                         mine["b3-main"][:2])
        self.assertEqual([r["id"] for r in self.log("--door", "b3-back", "--result", "allow",
                                                    "--limit", "1")], mine["b3-back"][1:])
        self.assertEqual(self.log("--door", "nowhere"), [])
        # a person at a door: the person's chain, filtered by the door
        self.assertEqual([r["id"] for r in self.log("--person", "S1", "--door", "b3-back")],
                         mine["b3-back"][1:])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_master WHERE tbl_name = "
                                     "'access_log' AND sql LIKE '%door%' AND type <> 'table'"),
                         [(0,)])

    def test_each_persons_decisions_are_a_chain(self):
        # schema version 4: no index keyed by the person; `log --person` walks the chain
        self.door("b3-main", "teaching", group="teaching-b3", direction="in")
        a, _, _ = self.holder("S1")
        b, _, _ = self.holder("S2")
        self.group("b3-users", "teaching-b3", members=["S1", "S2"])
        for card in (a, b, a, b, a):
            self.assertOpens(self.open(card, "b3-main"))
        c, _, _ = self.holder("S3")
        self.assertError(self.open(c, "b3-main"), "NO_ACCESS")  # logged later, by the timer
        self.wait_logged(6)
        mine = {no: [r["id"] for r in self.log("--person", no)] for no in ("S1", "S2", "S3")}
        self.assertEqual([len(mine[no]) for no in ("S1", "S2", "S3")], [3, 2, 1])
        for no in mine:
            self.assertEqual(self.chain(no), mine[no])
            self.assertEqual(mine[no], sorted(mine[no], reverse=True))
        self.assertEqual(len(self.log("--person", "S1", "--limit", "2")), 2)
        self.assertEqual(self.log("--person", "S9"), [])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_master WHERE tbl_name = "
                                     "'access_log' AND sql LIKE '%person_no%' AND type <> "
                                     "'table'"), [(0,)])
        # only the time's index is left (schema version 5 took the door's)
        self.assertEqual(self.gw.sql("SELECT group_concat(name) FROM pragma_index_list("
                                     "'access_log') WHERE name LIKE '%autoindex%'"),
                         [("sqlite_autoindex_access_log_1",)])

    def test_the_log_is_pruned_from_its_oldest_ids_so_chains_stay_whole(self):
        # retention (365 days) deletes a prefix of ids: a person's chain only shortens from
        # its old end, even when the times and the ids disagree (a late-logged denial, a
        # step of the clock)
        self.door("b3-main", "teaching", group="teaching-b3", direction="in")
        a, _, _ = self.holder("S1")
        self.group("b3-users", "teaching-b3", members=["S1"])
        first = self.assertOpens(self.open(a, "b3-main"))
        second = self.assertOpens(self.open(a, "b3-main"))
        day = DAY_MS
        self.gw.sql_write("UPDATE access_log SET at_ms = at_ms - 400 * ? WHERE id = ?", day,
                          second)
        self.gw.ctl("job", "run", "day-end")
        # the newer id stays while an older one is kept: nothing is cut out of the chain
        self.assertEqual(sorted(r["id"] for r in self.log("--person", "S1")), [first, second])
        self.assertEqual(self.chain("S1"), [second, first])
        self.gw.sql_write("UPDATE access_log SET at_ms = at_ms - 400 * ? WHERE id = ?", day,
                          first)
        self.gw.ctl("job", "run", "day-end")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_log"), [(0,)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_log_heads"), [(0,)])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_door_heads"), [(0,)])
        # a new chain starts, even where the ids start again
        third = self.assertOpens(self.open(a, "b3-main"))
        self.assertEqual([r["id"] for r in self.log("--person", "S1")], [third])
        self.assertEqual(self.chain("S1"), [third])
        self.assertEqual(self.chain(door="b3-main"), [third])

    def test_a_persons_or_doors_log_from_a_date_walks_back_a_day_past_it(self):
        self.door("b3-main", "teaching", group="teaching-b3", direction="in")
        a, _, _ = self.holder("S1")
        self.group("b3-users", "teaching-b3", members=["S1"])
        ids = [self.assertOpens(self.open(a, "b3-main")) for _ in range(3)]
        day = DAY_MS
        start = campus_day_start_ms(campus_today() - datetime.timedelta(days=6))
        # oldest 20 days back, the middle one 5 days back, and the newest, as after a step
        # of the clock, half a day before --from
        for lid, at in zip(ids, (start - 14 * day, start + day, start - day // 2)):
            self.gw.sql_write("UPDATE access_log SET at_ms = ? WHERE id = ?", at, lid)
        since = (campus_today() - datetime.timedelta(days=6)).isoformat()
        for chain in (("--person", "S1"), ("--door", "b3-main")):
            self.assertEqual([r["id"] for r in self.log(*chain, "--from", since)], [ids[1]])
            self.assertEqual(sorted(r["id"] for r in self.log(*chain)), ids)

    def test_a_version_3_log_gets_its_chains(self):
        self.door("b3-main", "teaching", group="teaching-b3", direction="in")
        a, _, _ = self.holder("S1")
        b, _, _ = self.holder("S2")
        self.group("b3-users", "teaching-b3", members=["S1", "S2"])
        for card in (a, b, a):
            self.assertOpens(self.open(card, "b3-main"))
        before = {no: [r["id"] for r in self.log("--person", no)] for no in ("S1", "S2")}

        def back_to_version_3(con):
            # the log as version 3 had it: the person's index, no chain
            con.executescript("""
                CREATE TABLE access_log_v3 (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                  terminal TEXT NOT NULL, door TEXT NOT NULL, direction TEXT NOT NULL,
                  card_no TEXT, uid TEXT, person_no TEXT, visitor_id INTEGER, plate TEXT,
                  result TEXT NOT NULL, code TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL
                  DEFAULT '', UNIQUE (at_ms, id), UNIQUE (person_no, at_ms, id),
                  UNIQUE (door, at_ms, id)) STRICT;
                INSERT INTO access_log_v3 SELECT id, at_ms, terminal, door, direction, card_no,
                  uid, person_no, visitor_id, plate, result, code, reason FROM access_log;
                DROP TABLE access_log;
                ALTER TABLE access_log_v3 RENAME TO access_log;
                DROP TABLE access_log_heads;
                DROP TABLE access_door_heads;
                DROP TABLE access_wl_cards;
                DROP TABLE access_blocked;
                UPDATE plugin_schema SET version = 3 WHERE plugin = 'access';
            """)

        self.with_stopped_gateway(back_to_version_3)
        self.assertEqual(self.gw.sql("SELECT version FROM plugin_schema WHERE plugin = "
                                     "'access'"), [(6,)])
        for no in ("S1", "S2"):
            self.assertEqual(self.chain(no), before[no])
            self.assertEqual([r["id"] for r in self.log("--person", no)], before[no])
        # and the chain goes on from there
        self.assertOpens(self.open(a, "b3-main"))
        self.assertEqual(self.chain("S1")[1:], before["S1"])
        self.assertEqual(self.gw.sql("PRAGMA integrity_check"), [("ok",)])

    def test_a_version_4_log_gets_its_doors_chains(self):
        self.door("b3-main", "teaching", group="teaching-b3", direction="in")
        self.door("b3-back", "teaching", group="teaching-b3", direction="out")
        a, _, _ = self.holder("S1")
        self.group("b3-users", "teaching-b3", members=["S1"])
        for door in ("b3-main", "b3-back", "b3-main"):
            self.assertOpens(self.open(a, door))
        before = {d: [r["id"] for r in self.log("--door", d)] for d in ("b3-main", "b3-back")}
        person = self.chain("S1")

        def back_to_version_4(con):
            # the log as version 4 had it: the door's index, no door chain
            con.executescript("""
                CREATE TABLE access_log_v4 (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                  terminal TEXT NOT NULL, door TEXT NOT NULL, direction TEXT NOT NULL,
                  card_no TEXT, uid TEXT, person_no TEXT, visitor_id INTEGER, plate TEXT,
                  result TEXT NOT NULL, code TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL
                  DEFAULT '', prev_id INTEGER, UNIQUE (at_ms, id),
                  UNIQUE (door, at_ms, id)) STRICT;
                INSERT INTO access_log_v4 SELECT id, at_ms, terminal, door, direction, card_no,
                  uid, person_no, visitor_id, plate, result, code, reason, prev_id
                  FROM access_log;
                DROP TABLE access_log;
                ALTER TABLE access_log_v4 RENAME TO access_log;
                DROP TABLE access_door_heads;
                DROP TABLE access_wl_cards;
                DROP TABLE access_blocked;
                UPDATE plugin_schema SET version = 4 WHERE plugin = 'access';
            """)

        self.with_stopped_gateway(back_to_version_4)
        self.assertEqual(self.gw.sql("SELECT version FROM plugin_schema WHERE plugin = "
                                     "'access'"), [(6,)])
        for d in before:
            self.assertEqual(self.chain(door=d), before[d])
            self.assertEqual([r["id"] for r in self.log("--door", d)], before[d])
        self.assertEqual(self.chain("S1"), person)  # the person's chain is kept as it was
        newest = self.assertOpens(self.open(a, "b3-back"))
        self.assertEqual(self.chain(door="b3-back"), [newest] + before["b3-back"])
        self.assertEqual(self.gw.sql("PRAGMA integrity_check"), [("ok",)])

    def test_another_plugins_denial_is_obeyed_and_logged_with_its_reason(self):
        # testplug (tests/plugins) denies temporary cards at every door and allows staff
        self.gw.stop()
        self.gw.sets.update({"plugin.testplug.enabled": "yes",
                             "plugin.testplug.merchant": "canteen-1",
                             "plugin.testplug.door": "staff-only"})
        self.gw.start()
        for tid in list(self.conns):
            self.conns[tid] = self.gw.terminal(tid, self.secrets[tid])
        self.door("b3-main", "teaching", group="pub")
        self.acc("doorgroup-set", "pub", "--public", "yes")
        visitor, _ = self.temporary_holder("V1")
        student, _, _ = self.holder("S1")
        self.assertOpens(self.open(student, "b3-main"))
        r = self.open(visitor, "b3-main")
        self.assertError(r, "DENIED")
        self.assertIn("temporary cards may not enter b3-main", r.message)
        self.wait_logged(2)
        row = self.log("--result", "deny")[0]
        self.assertEqual((row["person"], row["code"]), ("V1", "DENIED"))
        self.assertIn("temporary cards", row["reason"])


# ---- labs and the rooms plugin --------------------------------------------------------------


class LabTest(AccessCase):
    def test_a_lab_opens_for_authorised_people_and_defers_for_others(self):
        self.door("lab-101", "lab", group="labs", building="B7")
        a, _, _ = self.holder("S1")
        b, _, _ = self.holder("S2")
        self.group("lab-staff", "labs", members=["S1"])
        self.assertOpens(self.open(a, "lab-101"))
        # not authorised: access defers, nobody allows, so the chain denies
        r = self.open(b, "lab-101")
        self.assertError(r, "NO_ACCESS")
        self.assertIn("no current booking", r.message)


class LabBookingTest(AccessCase):
    sets = dict(ACCESS_SETS, **{"plugin.rooms.enabled": "yes",
                                "plugin.rooms.merchant": "rooms-office"})

    def test_a_current_booking_opens_the_lab_door_through_the_chain(self):
        self.merchant("rooms-office", "rooms")
        self.terminal("BOOK-1", "booking", owner="rooms-office")
        self.gw.ctl("rooms", "add", "lab-101", "--name", "Lab 101", "--kind", "lab", "--open",
                    "00:00", "--close", "24:00")
        # the lab door's place is the room id
        self.door("lab-101-door", "lab", group="labs", building="B7", place="lab-101")
        a, _, _ = self.holder("S1", "10.00")
        b, _, _ = self.holder("S2", "10.00")
        self.assertError(self.open(a, "lab-101-door"), "NO_ACCESS")
        now = campus_now().replace(minute=0, second=0, microsecond=0)
        booked = self.swipe(a, "BOOK-1", "ROOMS.BOOK", 0, "lab-101", now.date().isoformat(),
                            now.strftime("%H:00"))
        self.assertIsInstance(booked, list, booked)
        self.assertOpens(self.open(a, "lab-101-door"))
        self.assertError(self.open(b, "lab-101-door"), "NO_ACCESS")
        self.wait_logged(3)
        self.assertEqual([r["result"] for r in self.log("--door", "lab-101-door")],
                         ["deny", "allow", "deny"])


# ---- visitors -------------------------------------------------------------------------------


class VisitorTest(AccessCase):
    def setUp(self):
        super().setUp()
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.door("b3-main", "teaching", group="teaching-b3")
        self.door("b4-main", "teaching", group="teaching-b4")
        self.hostcard, _, _ = self.holder("T1")
        self.visitor_idn = self.person("V-POOL-1", kind="temporary", department="保卫处",
                                       until=(campus_today() + datetime.timedelta(days=90))
                                       .isoformat())

    def temp_card(self, no):
        card, rec = self.temporary_holder(no)
        return card, rec["card_no"]

    def test_register_a_visitor_with_a_temporary_card(self):
        card, card_no = self.temp_card("TMP1")
        idn = self.visitor_idn
        rec = self.acc("visitor-add", "--name", "李四", "--id-number", idn, "--host", "T1",
                       "--purpose", "学术交流", "--card", card_no, "--door-group", "teaching-b3",
                       "--until", (campus_now() + datetime.timedelta(hours=3))
                       .strftime("%Y-%m-%d %H:%M"))
        vid = rec["visitor"]
        self.assertEqual((rec["name"], rec["host"], rec["card"]), ("李*", "T1", card_no))
        self.assertNotIn(idn[6:14], rec["id_number"])
        self.assertEqual(len(rec["id_number"]), len(idn))
        # the host is told
        notes = self.notices("T1", "visitor")
        self.assertTrue(notes and "李*" in notes[0]["message"], notes)
        # the card opens the campus gate and the visit's door group, not other doors
        self.assertOpens(self.open(card, "east-gate", "in"))
        self.assertOpens(self.open(card, "b3-main"))
        self.assertError(self.open(card, "b4-main"), "NO_ACCESS")
        listed = self.acc("visitors", "--host", "T1")
        self.assertEqual((listed[0]["visitor"], listed[0]["purpose"], listed[0]["status"]),
                         (vid, "学术交流", "open"))
        self.assertNotEqual(listed[0]["first_in"], "")
        self.assertNotIn(idn, str(listed))
        self.assertEqual(len(self.acc("visitors", "--id-number", idn)), 1)
        self.wait_logged(3)
        # the refusal at b4-main is logged with the visit too
        self.assertEqual(len(self.log("--visitor", str(vid))), 3)
        # the visit ends: the card opens nothing any more
        self.acc("visitor-leave", str(vid))
        self.assertError(self.open(card, "east-gate", "out"), "NO_ACCESS")
        self.ctl_fails("BAD_STATE", "access", "visitor-leave", str(vid))
        # the ID number never reaches the log or the audit trail in clear
        self.assertNotIn(idn, self.gw.log_text())
        self.assertNotIn(idn, str(self.gw.ctl("audit", "list")))

    def test_visits_past_their_end_expire_at_the_day_end(self):
        """`yktctl job run day-end` announces DAY_END as midnight does: open visits whose end
        has passed become expired and their card opens nothing more."""
        card, card_no = self.temp_card("TMP1")
        ended = self.acc("visitor-add", "--name", "李四", "--id-number", self.visitor_idn,
                         "--host", "T1", "--purpose", "送货", "--card", card_no)["visitor"]
        current = self.acc("visitor-add", "--name", "王五", "--id-number", self.visitor_idn,
                           "--host", "T1", "--purpose", "面试")["visitor"]
        self.assertOpens(self.open(card, "east-gate", "in"))
        # the first visit's end moves into the past (a visit cannot be registered so)
        self.assertEqual(self.gw.sql_write("UPDATE access_visitors SET until_ms = ? WHERE id = ?",
                                           int(time.time() * 1000) - 60000, ended), 1)
        self.gw.ctl("job", "run", "day-end")
        status = {v["visitor"]: v["status"] for v in self.acc("visitors")}
        self.assertEqual(status, {ended: "expired", current: "open"})
        self.assertEqual([v["visitor"] for v in self.acc("visitors", "--status", "expired")],
                         [ended])
        self.assertError(self.open(card, "east-gate", "out"), "NO_ACCESS")
        # the card may be lent to the next visitor
        self.acc("visitor-add", "--name", "赵六", "--id-number", self.visitor_idn, "--host",
                 "T1", "--purpose", "送货", "--card", card_no)

    def test_a_visitor_without_a_card_and_the_refusals(self):
        idn = self.visitor_idn
        base = ["access", "visitor-add", "--name", "王五", "--host", "T1", "--purpose", "面试"]
        rec = self.acc(*base[1:], "--id-number", idn, "--from",
                       campus_now().strftime("%H:%M"))
        self.assertEqual(rec["card"], "")
        bad_idn = idn[:-1] + ("0" if idn[-1] != "0" else "1")
        self.ctl_fails("BAD_ID_NUMBER", *base, "--id-number", bad_idn)
        self.ctl_fails("UNKNOWN_PERSON", "access", "visitor-add", "--name", "王五",
                       "--id-number", idn, "--host", "NOBODY", "--purpose", "面试")
        self.ctl_fails("BAD_REQUEST", *base, "--id-number", idn, "--until", "2020-01-01 10:00")
        self.ctl_fails("BAD_REQUEST", *base, "--id-number", idn, "--from", "tomorrow")
        self.ctl_fails("NOT_FOUND", *base, "--id-number", idn, "--card", "NO-SUCH-CARD")
        # a student card is not a visitor's card
        _, srec, _ = self.holder("S1")
        self.ctl_fails("BAD_CARD", *base, "--id-number", idn, "--card", srec["card_no"])
        _, card_no = self.temp_card("TMP1")
        self.acc(*base[1:], "--id-number", idn, "--card", card_no)
        self.ctl_fails("IN_USE", *base, "--id-number", idn, "--card", card_no)
        self.ctl_fails("NOT_FOUND", *base, "--id-number", idn, "--door-group", "nope")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_visitors"), [(2,)])
        self.ctl_fails("BAD_REQUEST", "access", "visitors", "--status", "gone")
        self.ctl_fails("BAD_REQUEST", "access", "visitors", "--date", "today")
        self.assertEqual(len(self.acc("visitors", "--status", "open")), 2)


# ---- vehicles -------------------------------------------------------------------------------


class VehicleTest(AccessCase):
    def setUp(self):
        super().setUp()
        self.door("car-in", "parking", group="parking", direction="in")
        self.holder("T1")

    def plate(self, plate, *direction, did="car-in"):
        return self.conns[self.doors[did]].call("ACCESS.PLATE", plate, *direction)

    def test_registration_and_approval(self):
        self.assertError(self.plate("京A12345"), "UNKNOWN_VEHICLE")
        self.acc("vehicle-add", "京A 12345", "--owner", "T1", "--note", "faculty")
        self.assertEqual(self.acc("vehicles", "--status", "pending")[0]["plate"], "京A12345")
        self.assertError(self.plate("京A12345"), "VEHICLE_PENDING")
        self.ctl_fails("EXISTS", "access", "vehicle-add", "京A12345", "--owner", "T1")
        self.acc("vehicle-approve", "京A12345", "--until",
                 (campus_today() + datetime.timedelta(days=365)).isoformat())
        r = self.plate("京a-12345")
        self.assertEqual(r[:2], ["OPEN", "京A12345"])
        self.ctl_fails("BAD_STATE", "access", "vehicle-approve", "京A12345")
        self.acc("vehicle-revoke", "京A12345", "--reason", "left the university")
        self.assertError(self.plate("京A12345"), "VEHICLE_REFUSED")
        # an approval that ended
        self.acc("vehicle-add", "沪B54321", "--owner", "T1")
        self.acc("vehicle-approve", "沪B54321", "--until", campus_today().isoformat())
        self.gw.sql_write("UPDATE access_vehicles SET valid_until = ? WHERE plate = ?",
                          (campus_today() - datetime.timedelta(days=1)).isoformat(), "沪B54321")
        self.assertError(self.plate("沪B54321"), "VEHICLE_EXPIRED")
        self.acc("vehicle-add", "粤C11111", "--owner", "T1")
        self.acc("vehicle-reject", "粤C11111", "--reason", "no permit")
        self.assertError(self.plate("粤C11111"), "VEHICLE_REFUSED")
        self.ctl_fails("BAD_STATE", "access", "vehicle-revoke", "粤C11111")
        self.ctl_fails("NOT_FOUND", "access", "vehicle-approve", "粤C22222")
        self.ctl_fails("BAD_PLATE", "access", "vehicle-add", "12", "--owner", "T1")
        self.ctl_fails("UNKNOWN_PERSON", "access", "vehicle-add", "粤C33333", "--owner", "NOBODY")
        self.assertError(self.plate("!!"), "BAD_PLATE")
        self.ctl_fails("BAD_REQUEST", "access", "vehicles", "--status", "ok")
        self.assertEqual([v["plate"] for v in self.acc("vehicles", "--status", "rejected")],
                         ["粤C11111"])
        self.wait_logged(6)
        self.assertEqual([r["code"] for r in self.log("--plate", "京A12345")],
                         ["VEHICLE_REFUSED", "", "VEHICLE_PENDING", "UNKNOWN_VEHICLE"])
        self.assertEqual(len(self.gw.ctl("audit", "list", "--target", "京A12345")), 3)

    def test_a_visitors_car_and_non_parking_doors(self):
        idn = self.person("V-POOL-1", kind="temporary", department="保卫处",
                          until=(campus_today() + datetime.timedelta(days=90)).isoformat())
        self.acc("visitor-add", "--name", "李四", "--id-number", idn, "--host", "T1",
                 "--purpose", "送货", "--plate", "苏E99999")
        self.assertEqual(self.plate("苏E99999")[0], "OPEN")
        self.door("b3-main", "teaching", group="teaching-b3")
        self.assertError(self.plate("苏E99999", did="b3-main"), "NO_DOOR")


# ---- anti-passback --------------------------------------------------------------------------


class PassbackTest(AccessCase):
    def test_anti_passback_per_door_group(self):
        self.door("in", "campus_gate", group="gates", direction="in")
        self.door("out", "campus_gate", group="gates", direction="out")
        self.door("lib", "building", group="library")   # no anti-passback
        self.acc("doorgroup-set", "gates", "--public", "yes", "--anti-passback", "yes")
        self.acc("doorgroup-set", "library", "--public", "yes")
        card, _, _ = self.holder("S1")
        self.assertOpens(self.open(card, "in"))
        r = self.open(card, "in")          # the card passed back to a friend
        self.assertError(r, "PASSBACK")
        self.assertOpens(self.open(card, "out"))
        self.assertError(self.open(card, "out"), "PASSBACK")
        self.assertOpens(self.open(card, "in"))
        # a guard let them out without a swipe
        self.assertEqual(self.acc("passback-reset", "S1"), 1)
        self.assertOpens(self.open(card, "in"))
        # other door groups are not concerned
        self.assertOpens(self.open(card, "lib"))
        self.assertOpens(self.open(card, "lib"))
        self.wait_logged(8)
        self.assertEqual(len(self.log("--result", "deny")), 2)
        self.acc("doorgroup-set", "gates", "--anti-passback", "no")
        self.assertOpens(self.open(card, "in"))

    def test_the_day_end_forgets_every_passback_state(self):
        """passback_daily_reset (default yes): someone who left without a swipe is not locked
        out the next morning. The day end is announced with `yktctl job run day-end`."""
        self.door("in", "campus_gate", group="gates", direction="in")
        self.acc("doorgroup-set", "gates", "--public", "yes", "--anti-passback", "yes")
        card, _, _ = self.holder("S1")
        self.assertOpens(self.open(card, "in"))
        self.assertError(self.open(card, "in"), "PASSBACK")
        # the decision log keeps log_retention_days: a row from long ago goes at the day end
        self.wait_logged(2)
        old = self.gw.sql("SELECT min(id) FROM access_log")[0][0]
        self.gw.sql_write("UPDATE access_log SET at_ms = at_ms - 400 * 86400000 WHERE id = ?",
                          old)
        self.gw.ctl("job", "run", "day-end")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_passback"), [(0,)])
        self.assertOpens(self.open(card, "in"))
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_log WHERE id = ?", old),
                         [(0,)])
        self.assertEqual(len(self.gw.ctl("audit", "list", "--action", "job.run")), 1)

    def test_anti_passback_for_vehicles(self):
        self.door("car-in", "parking", group="parking", direction="in")
        self.acc("doorgroup-set", "parking", "--anti-passback", "yes")
        self.holder("T1")
        self.acc("vehicle-add", "京A12345", "--owner", "T1")
        self.acc("vehicle-approve", "京A12345")
        gate = self.conns[self.doors["car-in"]]
        self.assertEqual(gate.call("ACCESS.PLATE", "京A12345")[0], "OPEN")
        self.assertError(gate.call("ACCESS.PLATE", "京A12345"), "PASSBACK")
        self.assertEqual(self.acc("passback-reset", "京A12345"), 1)
        self.assertEqual(gate.call("ACCESS.PLATE", "京A12345")[0], "OPEN")


class PassbackKeptTest(AccessCase):
    sets = dict(ACCESS_SETS, **{"plugin.access.passback_daily_reset": "no"})

    def test_without_the_daily_reset_the_state_survives_the_day_end(self):
        self.door("in", "campus_gate", group="gates", direction="in")
        self.acc("doorgroup-set", "gates", "--public", "yes", "--anti-passback", "yes")
        card, _, _ = self.holder("S1")
        self.assertOpens(self.open(card, "in"))
        self.gw.ctl("job", "run", "day-end")
        self.assertError(self.open(card, "in"), "PASSBACK")


# ---- offline readers ------------------------------------------------------------------------


class WhitelistTest(AccessCase):
    sets = dict(ACCESS_SETS, **{"plugin.access.list_page": "2"})

    def page(self, since, did="b3-main"):
        return self.conns[self.doors[did]].call("ACCESS.LIST", str(since))

    def full(self, since, did="b3-main"):
        """All pages after since: (version, {uid: (state, card_no, schedule)})."""
        entries = {}
        while True:
            r = self.page(since, did)
            version, more, mode, _hol = r[:4]
            self.assertEqual(mode, "list")
            for uid, state, card_no, schedule, valid_until in r[4:]:
                self.assertRegex(valid_until, r"^\d{4}-\d\d-\d\d$")
                entries[uid] = (state, card_no, schedule)
            if version == since and not more:
                return version, entries
            since = version
            if not more:
                return version, entries

    def test_versioned_download_with_changes_only(self):
        self.door("b3-main", "teaching", group="teaching-b3")
        cards = {}
        for no in ("S1", "S2", "S3"):
            card, rec, idn = self.holder(no)
            cards[no] = (card, rec, idn)
        self.group("b3-users", "teaching-b3", days="mon-fri", frm="07:00", to="22:00",
                   members=["S1", "S2", "S3"])
        v1, entries = self.full(0)
        self.assertEqual(len(entries), 3)
        s1 = cards["S1"][0].uid_hex
        self.assertEqual(entries[s1], ("allow", cards["S1"][1]["card_no"], "12345 07:00-22:00"))
        # nothing new since v1
        r = self.page(v1)
        self.assertEqual(r[:2], [v1, 0])
        self.assertEqual(r[4:], [])
        # a lost card is blocked, a removed member removed: only those rows come again
        self.gw.ctl("card", "loss", cards["S1"][1]["card_no"], "--id-number", cards["S1"][2])
        self.acc("member-remove", "b3-users", "S2")
        v2, changes = self.full(v1)
        self.assertGreater(v2, v1)
        self.assertEqual({uid: e[0] for uid, e in changes.items()},
                         {s1: "blocked", cards["S2"][0].uid_hex: "removed"})
        # the holidays travel with the list
        day = (campus_today() + datetime.timedelta(days=3)).isoformat()
        self.acc("holiday-add", day)
        self.assertIn(day, self.page(v2)[3])
        table = self.acc("whitelist", "teaching-b3")
        self.assertEqual(len(table), 3)
        self.assertEqual(len(self.acc("whitelist", "teaching-b3", "--since", str(v1))), 2)
        self.ctl_fails("NOT_FOUND", "access", "whitelist", "nope")
        for bad in ("abc", "-1", "5x"):
            self.ctl_fails("BAD_REQUEST", "access", "whitelist", "teaching-b3", "--since", bad)
        self.assertError(self.conns["G-B3-MAIN"].call("ACCESS.LIST", "-1"), "BAD_REQUEST")

    def test_residents_are_on_the_dormitory_list(self):
        self.door("d1-main", "dormitory", group="dorm-1", building="D1")
        card, _, _ = self.holder("S1")
        self.acc("doorgroup-set", "dorm-1", "--resident-hours", "06:00-23:30")
        self.acc("resident-add", "S1", "--building", "D1")
        _, entries = self.full(0, "d1-main")
        self.assertEqual(entries[card.uid_hex][0], "allow")
        self.assertEqual(entries[card.uid_hex][2], "1234567H 06:00-23:30")


# ---- who may administer ---------------------------------------------------------------------


class SubsystemNameTest(AccessCase):
    """R-C2: with `subsystem` set, a temporary card must name that, and `gate` (the default)
    is no longer a name anything checks."""
    sets = dict(ACCESS_SETS, **{"plugin.access.subsystem": "campus-doors"})

    def test_the_configured_name_replaces_gate(self):
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.acc("doorgroup-set", "gates", "--public", "yes")
        card, _ = self.temporary_holder("V1", None, "--subsystems", "campus-doors,canteen")
        self.assertOpens(self.open(card, "east-gate"))
        refused, _ = self.temporary_holder("V2", None, "--subsystems", "canteen")
        self.assertError(self.open(refused, "east-gate"), "NOT_ALLOWED")
        with self.assertRaises(AssertionError) as cm:
            self.temporary_holder("V3", None, "--subsystems", "gate")
        self.assertIn("unknown subsystem 'gate'", str(cm.exception))
        self.assertIn("campus-doors", str(cm.exception))  # the names to choose from

    def test_a_name_cards_cannot_list_is_refused_at_start(self):
        for bad in ("", "doors,gates", "x" * 32):
            with self.subTest(subsystem=bad):
                gw = Gateway(sets=dict(ACCESS_SETS, **{"plugin.access.subsystem": bad}),
                             start=False)
                self.addCleanup(shutil.rmtree, gw.dir, True)
                p = subprocess.run(gw.command(), capture_output=True, text=True, timeout=30,
                                   cwd=gw.dir)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn("option subsystem = %s: one name of 1..31 characters" % bad,
                              p.stderr)


class DepartmentTest(AccessCase):
    sets = dict(ACCESS_SETS, **{"plugin.access.department": "保卫处"})

    def test_only_the_security_departments_admins_manage_doors(self):
        self.gw.add_operator("sec-admin", "dept_admin", department="保卫处")
        self.gw.add_operator("cs-admin", "dept_admin", department="CS")
        self.gw.add_operator("clerk", "operator")
        sec = dict(user="sec-admin", password="operator-pass-1")
        cs = dict(user="cs-admin", password="operator-pass-1")
        self.acc("doorgroup-add", "gates", **sec)
        self.ctl_fails("FORBIDDEN", "access", "doorgroup-add", "labs", **cs)
        self.ctl_fails("FORBIDDEN", "access", "group-add", "g", **cs)
        # the desk registers visitors, but does not configure doors
        p = self.gw.ctl("access", "doorgroup-add", "x", check=False, user="clerk",
                        password="operator-pass-1")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual([g["door_group"] for g in self.acc("doorgroups")], ["gates"])
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "access.doorgroup-add")[0]
                         ["operator"], "sec-admin")


# ---- second review: lists by UID, visitor cards, the log's UIDs, labs, small refusals -----


class WhitelistByUidTest(AccessCase):
    """Readers keep their lists by UID: a replaced card's UID must come back blocked, and a
    public door group's list ("any valid card; the list still blocks") carries the cards the
    card checks refuse."""

    def page(self, since, did):
        r = self.conns[self.doors[did]].call("ACCESS.LIST", str(since))
        self.assertIsInstance(r, list, r)
        return r

    def rows(self, reply):
        return {row[0]: row for row in reply[4:]}

    def test_a_replaced_cards_old_uid_is_blocked_in_the_delta(self):
        self.door("d3-main", "dormitory", group="dorm-3", building="D3")
        card, rec, idn = self.holder("S1", "50.00")
        self.acc("resident-add", "S1", "--building", "D3")
        first = self.page(0, "d3-main")
        self.assertEqual(self.rows(first)[card.uid_hex][1], "allow")
        v = first[0]
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        self.gw.ctl("card", "replace", rec["card_no"], "--id-number", idn, "--uid",
                    "04DE000000A0F1")
        # a reader synced before the loss learns the old UID is blocked, and the new one
        delta = self.rows(self.page(v, "d3-main"))
        self.assertEqual(delta[card.uid_hex][1:3], ["blocked", rec["card_no"]])
        self.assertEqual(delta["04DE000000A0F1"][1], "allow")
        # ... and so does a reader that starts from nothing
        full = self.rows(self.page(0, "d3-main"))
        self.assertEqual((full[card.uid_hex][1], full["04DE000000A0F1"][1]), ("blocked", "allow"))
        # nothing new since: the old UID's row does not come again
        now = self.page(0, "d3-main")[0]
        self.assertEqual(self.page(now, "d3-main")[4:], [])
        self.assertEqual([(w["uid"], w["state"]) for w in
                          self.acc("whitelist", "dorm-3", "--since", str(v))
                          if w["uid"] == card.uid_hex], [(card.uid_hex, "blocked")])

    def test_public_door_groups_list_the_blocked_cards(self):
        self.door("east-gate", "campus_gate", group="campus-gates", direction="both")
        self.acc("doorgroup-set", "campus-gates", "--public", "yes")
        lost, lrec, lidn = self.holder("S1")
        fine, _, _ = self.holder("S2")
        frozen, frec, fidn = self.holder("S3")
        self.assertEqual(self.page(0, "east-gate")[2:], ["public", ""])
        self.gw.ctl("card", "loss", lrec["card_no"], "--id-number", lidn)
        self.gw.ctl("card", "found", frec["card_no"], "--by", "a guard")   # held: frozen
        r = self.page(0, "east-gate")
        self.assertEqual(r[2], "public")
        rows = self.rows(r)
        self.assertEqual(set(rows), {lost.uid_hex, frozen.uid_hex})
        self.assertEqual(rows[lost.uid_hex][1:3], ["blocked", lrec["card_no"]])
        self.assertNotIn(fine.uid_hex, rows)
        # a public door group made later lists them too
        self.door("north-gate", "campus_gate", group="north", direction="both")
        self.acc("doorgroup-set", "north", "--public", "yes")
        self.assertEqual(set(self.rows(self.page(0, "north-gate"))),
                         {lost.uid_hex, frozen.uid_hex})
        # a card collected (unlocked) leaves the list: removed
        v = r[0]
        self.gw.ctl("card", "unlock", frec["card_no"], "--id-number", fidn)
        self.assertEqual([row[:2] for row in self.page(v, "east-gate")[4:]],
                         [[frozen.uid_hex, "removed"]])
        # the day's end keeps a blocked card until 30 days after its last valid day
        self.gw.ctl("job", "run", "day-end")
        self.assertEqual(self.rows(self.page(0, "east-gate"))[lost.uid_hex][1], "blocked")
        old = (campus_today() - datetime.timedelta(days=31)).isoformat()
        self.gw.sql_write("UPDATE cards SET valid_until = ? WHERE card_no = ?", old,
                          lrec["card_no"])
        self.gw.ctl("job", "run", "day-end")
        self.assertEqual(self.rows(self.page(0, "east-gate"))[lost.uid_hex][1], "removed")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_blocked"), [(0,)])

    def test_a_version_5_database_gets_its_blocked_cards(self):
        """Schema version 6: the blocked rows of the person lists seed the blocked cards; a
        public door group lists them from the next day's end."""
        self.door("b3-main", "teaching", group="teaching-b3")
        self.door("east-gate", "campus_gate", group="campus-gates", direction="both")
        self.acc("doorgroup-set", "campus-gates", "--public", "yes")
        card, rec, idn = self.holder("S1")
        self.group("b3-users", "teaching-b3", members=["S1"])
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)

        def back_to_version_5(con):
            con.executescript("""
                DROP TABLE access_wl_cards;
                DROP TABLE access_blocked;
                UPDATE plugin_schema SET version = 5 WHERE plugin = 'access';
            """)

        self.with_stopped_gateway(back_to_version_5)
        self.assertEqual(self.gw.sql("SELECT version FROM plugin_schema WHERE plugin = "
                                     "'access'"), [(6,)])
        self.assertEqual(self.gw.sql("SELECT uid, card_no, person_no FROM access_blocked"),
                         [(card.uid_hex, rec["card_no"], "S1")])
        self.gw.ctl("job", "run", "day-end")
        self.assertEqual(self.rows(self.page(0, "east-gate"))[card.uid_hex][1], "blocked")

    def test_a_reader_ahead_of_the_list_gets_the_whole_list(self):
        self.door("b3-main", "teaching", group="teaching-b3")
        card, _, _ = self.holder("S1")
        self.group("b3-users", "teaching-b3", members=["S1"])
        full = self.page(0, "b3-main")
        self.assertEqual(len(full[4:]), 1)
        ahead = self.page(99999, "b3-main")
        self.assertEqual(ahead, full)
        self.assertLess(ahead[0], 99999)


class VisitorCardTest(AccessCase):
    """A visitor's card must open doors: not a temporary card limited to other subsystems,
    and (where the visitor desk is a department's) not someone else's personal card."""
    sets = dict(ACCESS_SETS, **{"plugin.access.department": "保卫处"})

    def setUp(self):
        super().setUp()
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.holder("T1")
        self.idn = self.person("VX", kind="temporary", department="保卫处",
                               until=(campus_today() + datetime.timedelta(days=90)).isoformat())
        self.base = ["access", "visitor-add", "--name", "李四", "--id-number", self.idn,
                     "--host", "T1", "--purpose", "学术交流"]

    def desk_card(self, no, department="保卫处", *opts):
        today = campus_today()
        self.person(no, kind="temporary", department=department,
                    until=(today + datetime.timedelta(days=90)).isoformat())
        for kind in ("unit_leader", "functional_dept"):
            self.gw.ctl("approval", "add", no, "--kind", kind, "--approver", "王主任",
                        "--ref", "HR-%s-%s" % (no, kind))
        return self.gw.ctl("card", "issue", no, "--type", "temporary", "--until",
                           (today + datetime.timedelta(days=30)).isoformat(), *opts)["card_no"]

    def test_a_card_that_opens_no_door_is_refused(self):
        limited = self.desk_card("POOL1", "保卫处", "--subsystems", "canteen,library")
        err = self.ctl_fails("BAD_CARD", *self.base, "--card", limited)
        self.assertIn("canteen,library", err)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_visitors"), [(0,)])
        ok = self.desk_card("POOL2", "保卫处", "--subsystems", "gate,canteen")
        self.assertEqual(self.acc(*self.base[1:], "--card", ok)["card"], ok)

    def test_someone_elses_personal_card_is_refused(self):
        personal = self.desk_card("V0001", "CS")
        err = self.ctl_fails("BAD_CARD", *self.base, "--card", personal)
        self.assertIn("personal card of V0001", err)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM access_visitors"), [(0,)])
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "access.visitor-add"), [])
        desk = self.desk_card("POOL1")
        self.assertEqual(self.acc(*self.base[1:], "--card", desk)["card"], desk)


class LogUidTest(AccessCase):
    def test_the_log_shows_and_filters_by_uid(self):
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.acc("doorgroup-set", "gates", "--public", "yes")
        card, rec, _ = self.holder("S1")
        self.assertOpens(self.open(card, "east-gate"))
        stranger = SimCard(MASTER_KEY)
        self.assertError(self.open(stranger, "east-gate"), "CARD_UNKNOWN")
        self.wait_logged(2)
        rows = self.log()
        self.assertEqual([r["uid"] for r in rows], [stranger.uid_hex, card.uid_hex])
        only = self.log("--uid", stranger.uid_hex.lower())
        self.assertEqual([(r["uid"], r["person"], r["card"], r["result"]) for r in only],
                         [(stranger.uid_hex, "", "", "refused")])
        self.assertEqual(len(self.log("--door", "east-gate", "--uid", stranger.uid_hex)), 1)
        self.assertEqual(len(self.log("--door", "east-gate", "--uid", stranger.uid_hex,
                                      "--limit", "1")), 1)
        self.assertEqual([r["card"] for r in self.log("--person", "S1", "--uid",
                                                      card.uid_hex)], [rec["card_no"]])
        self.assertEqual(self.log("--person", "S1", "--uid", stranger.uid_hex), [])
        self.ctl_fails("BAD_REQUEST", "access", "log", "--uid", "not-hex")

    def test_a_uid_is_4_to_10_bytes_in_hex_as_the_host_takes_it(self):
        """`--uid` takes what the host takes as a card UID (docs/protocol.md): 8 to 20 hex
        digits, an even number, in any case. Anything else is refused with the rule, and a
        reader's request with no UID is logged without one."""
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.acc("doorgroup-set", "gates", "--public", "yes")
        card, _, _ = self.holder("S1")
        self.assertOpens(self.open(card, "east-gate"))
        tid = self.doors["east-gate"]
        for junk in ("abc", "0123456789ABCDEF012345"):    # 3 and 22 digits: no UID
            reply = self.send(tid, ["ACCESS.OPEN", str(self.next_seq(tid)), junk, "1",
                                    str(int(time.time() * 1000)), "0", "00" * 8])
            self.assertError(reply, "BAD_REQUEST")
        self.wait_logged(3)
        rows = self.log()
        self.assertEqual([(r["uid"], r["code"], r["reason"]) for r in rows[:2]],
                         [("", "CARD_REFUSED", "not a card UID (4 to 10 bytes in hex)")] * 2)
        for bad in ("0123456", "012345678", "0123456789ABCDEF012345",
                    "0123456789ABCDEF01234567", "0123456789abcdefg", "04A1-B2C3", "", "ABC"):
            err = self.ctl_fails("BAD_REQUEST", "access", "log", "--uid", bad)
            self.assertEqual(err.strip(), "yktctl: BAD_REQUEST --uid must be 4 to 10 bytes in "
                             "hex (an even number of 8 to 20 digits)", bad)
            p = self.gw.ctl("access", "log", "--uid", bad, check=False)
            self.assertEqual(json.loads(p.stdout)["error"], "BAD_REQUEST")
        self.assertEqual(self.log("--uid", "0123abcd"), [])                  # 8 digits
        self.assertEqual(self.log("--uid", "0123456789ABCDEF0123"), [])      # 20 digits
        self.assertEqual([r["person"] for r in self.log("--uid", card.uid_hex.lower())],
                         ["S1"])
        self.assertEqual(len(self.log()), 3)


    def test_visitor_and_limit_are_whole_numbers(self):
        """`--visitor 1abc` was read as visit 1, `--limit 5x` as 5, `--visitor abc` matched
        nothing without a word: each is refused now."""
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.acc("doorgroup-set", "gates", "--public", "yes")
        card, _, _ = self.holder("S1")
        self.assertOpens(self.open(card, "east-gate"))
        self.wait_logged(1)
        for bad in ("abc", "1abc", "0", "-1", "", "99999999999999999999999"):
            err = self.ctl_fails("BAD_REQUEST", "access", "log", "--visitor", bad)
            self.assertIn("--visitor is a visit's number", err, bad)
        for bad in ("5x", "0", "100001", "-3", ""):
            err = self.ctl_fails("BAD_REQUEST", "access", "log", "--limit", bad)
            self.assertIn("--limit is a whole number from 1 to 100000", err, bad)
        self.assertEqual(self.log("--visitor", "7"), [])
        self.assertEqual(len(self.log("--limit", "1")), 1)

class LogEmptyColumnsTest(AccessCase):
    def test_a_decision_without_a_visitor_shows_no_visitor_in_every_form(self):
        """The visitor column of `access log` is empty when no visit is involved, as the card
        and the plate are: in the table, in --csv and in --json (not visitor 0)."""
        self.door("east-gate", "campus_gate", group="gates", direction="both")
        self.acc("doorgroup-set", "gates", "--public", "yes")
        self.holder("T1")
        idn = self.person("V-POOL-1", kind="temporary", department="保卫处",
                          until=(campus_today() + datetime.timedelta(days=90)).isoformat())
        vcard, vrec = self.temporary_holder("TMP1")
        vid = self.acc("visitor-add", "--name", "李四", "--id-number", idn, "--host", "T1",
                       "--purpose", "面试", "--card", vrec["card_no"])["visitor"]
        self.assertOpens(self.open(vcard, "east-gate", "in"))
        card, rec, _ = self.holder("S1")
        self.assertOpens(self.open(card, "east-gate", "in"))
        self.assertError(self.open(SimCard(MASTER_KEY), "east-gate", "in"), "CARD_UNKNOWN")
        self.wait_logged(3)
        want = [("", "", "", ""), ("S1", rec["card_no"], "", ""),
                ("TMP1", vrec["card_no"], str(vid), "")]
        cols = ("person", "card", "visitor", "plate")
        rows = self.log()
        self.assertEqual([tuple(str(r[c]) for c in cols) for r in rows], want)
        self.assertEqual([r["visitor"] for r in rows], ["", "", vid])
        self.assertEqual([r["visitor"] for r in self.log("--visitor", str(vid))], [vid])
        # --csv: empty cells
        out = self.gw.ctl("--csv", "access", "log", json_out=False)
        csv_rows = list(csv.DictReader(io.StringIO(out)))
        self.assertEqual([tuple(r[c] for c in cols) for r in csv_rows], want)
        # the table: blank cells under the headers, as the card's and the plate's
        lines = self.gw.ctl("access", "log", json_out=False).splitlines()
        names = ["id", "time", "door", "direction", "person", "card", "uid", "visitor",
                 "plate", "result"]
        starts = [lines[0].index(n) for n in names]
        self.assertEqual(starts, sorted(starts), lines[0])
        cells = [{n: line[a:b].strip() for n, a, b in zip(names, starts, starts[1:])}
                 for line in lines[1:]]
        self.assertEqual([tuple(c[n] for n in cols) for c in cells], want)


class LabHoursTest(AccessCase):
    def test_a_lab_outside_the_groups_hours_says_outside_hours(self):
        self.door("lab-101", "lab", group="labs", building="B7")
        a, _, _ = self.holder("S1")
        frm, to = window_not_now()
        self.group("lab-staff", "labs", days="all", frm=frm, to=to, members=["S1"])
        r = self.open(a, "lab-101")
        self.assertError(r, "OUTSIDE_HOURS")
        self.assertIn("access hours of door lab-101", r.message)
        self.wait_logged(1)
        self.assertEqual(self.log()[0]["code"], "OUTSIDE_HOURS")
        # nobody in a group: still NO_ACCESS
        b, _, _ = self.holder("S2")
        self.assertError(self.open(b, "lab-101"), "NO_ACCESS")


class SmallRefusalsTest(AccessCase):
    def test_a_vehicle_approval_ending_in_the_past_is_refused(self):
        self.holder("T1")
        self.acc("vehicle-add", "京A12345", "--owner", "T1")
        self.ctl_fails("BAD_REQUEST", "access", "vehicle-approve", "京A12345", "--until",
                       "2026-01-01")
        self.ctl_fails("BAD_REQUEST", "access", "vehicle-add", "沪B54321", "--owner", "T1",
                       "--until", "2026-01-01")
        self.assertEqual([(v["plate"], v["status"]) for v in self.acc("vehicles")],
                         [("京A12345", "pending")])
        until = (campus_today() + datetime.timedelta(days=30)).isoformat()
        self.acc("vehicle-approve", "京A12345", "--until", until)
        audit = self.gw.ctl("audit", "list", "--action", "access.vehicle-approve")
        self.assertEqual(len(audit), 1)
        self.assertIn("until=" + until, audit[0]["detail"])

    def test_passback_reset_of_nobody_or_an_unknown_door_group_is_not_found(self):
        self.door("in", "campus_gate", group="gates", direction="in")
        self.holder("S1")
        self.ctl_fails("NOT_FOUND", "access", "passback-reset", "NOBODY")
        self.ctl_fails("NOT_FOUND", "access", "passback-reset", "S1", "--door-group", "nope")
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "access.passback-reset"), [])
        self.assertEqual(self.acc("passback-reset", "S1", "--door-group", "gates"), 0)

    def test_leaving_a_closed_visit_again_is_bad_state(self):
        self.holder("T1")
        idn = self.person("VX", kind="temporary", department="保卫处",
                          until=(campus_today() + datetime.timedelta(days=90)).isoformat())
        vid = self.acc("visitor-add", "--name", "李四", "--id-number", idn, "--host", "T1",
                       "--purpose", "面试")["visitor"]
        self.acc("visitor-leave", str(vid))
        err = self.ctl_fails("BAD_STATE", "access", "visitor-leave", str(vid))
        self.assertIn("already closed", err)
        self.ctl_fails("NOT_FOUND", "access", "visitor-leave", "999")
        self.assertEqual(len(self.gw.ctl("audit", "list", "--action", "access.visitor-leave")), 1)
