"""The attendance plugin end to end (R-T1..R-T5, and R-A's "a student leaves campus during
class hours only with an approved leave"), with both shipped policies: scripts/
attendance_teaching.lua (staff) and scripts/attendance_students.lua (students).

- sign-in and sign-out by card at attendance terminals: the card's own time, authenticated by
  its cryptogram; the policy's verdict on the terminal; every card refusal;
- the days judged by the policy: late, early leave, absence, rest days, public holidays and
  weekend workdays from the scripts, the department's own holidays;
- leave by type and period: applied for by yktctl and at a kiosk, approved or rejected by the
  head of the person's department only, the balance deducted, overlaps and over-balance
  refused with the reason;
- overtime: applied for, approved, its minutes computed by the policy from the punches;
- records, department statistics per person per month (table and CSV), the head's review
  that freezes the month, the information centre's summary;
- the campus gate: a student going out during class hours is denied without an approved leave
  covering the day (through `attendance gate-check`, and through the access plugin's gate
  when that plugin loads).

Times: most tests judge fixed past days of October 2026 (corrections by the department's
operator, then `attendance close`). Card punches carry the card's own time, which the gateway
accepts within [cards] max_clock_skew (1d here) of its clock. "Today" is a fixed school day,
2026-11-25 (CAMPUS_DAY), with "now" in class hours: yktd's clock is shifted there by the test
builds' YKT_TEST_CLOCK_OFFSET_MS, and the cards sign the shifted time, so no test depends
on the machine's date.
"""

import datetime
import os
import re
import time

from harness import MASTER_KEY, Gateway, RespError, wait_until
from test_wallet import WalletCase
from ykt_cards import SimCard

# ---- the shipped policies' calendars, as far as the tests need them (copied from scripts/) ----

TERMS = [("2026-02-23", "2026-07-03"), ("2026-09-07", "2027-01-15")]  # students


def _days(first, last):
    d0, d1 = datetime.date.fromisoformat(first), datetime.date.fromisoformat(last)
    return {(d0 + datetime.timedelta(days=i)).isoformat() for i in range((d1 - d0).days + 1)}


HOLIDAYS = set().union(_days("2026-01-01", "2026-01-03"), _days("2026-02-15", "2026-02-23"),
                       _days("2026-04-04", "2026-04-06"), _days("2026-05-01", "2026-05-05"),
                       _days("2026-06-19", "2026-06-21"), _days("2026-09-25", "2026-09-27"),
                       _days("2026-10-01", "2026-10-07"))


def school_day(day):
    """A weekday both policies expect attendance on (in term, not a public holiday)."""
    iso = day.isoformat()
    return (day.isoweekday() <= 5 and iso not in HOLIDAYS
            and any(a <= iso <= b for a, b in TERMS))


# The day the tests live on: a Wednesday of the autumn term 2026, a school day for both
# shipped policies, at 12:30 campus time (UTC+8) when the module is imported. yktd runs with
# its clock shifted there (YKT_TEST_CLOCK_OFFSET_MS, honoured by test builds only), and the
# cards sign that time, so the tests that need "today" in class hours run whatever the
# machine's date: on a weekend, in a vacation, in years to come.
CAMPUS_DAY = datetime.date(2026, 11, 25)
assert school_day(CAMPUS_DAY)
_UTC8 = datetime.timezone(datetime.timedelta(hours=8))
CLOCK_OFFSET_MS = (int(datetime.datetime(2026, 11, 25, 12, 30, tzinfo=_UTC8).timestamp() * 1000)
                   - int(time.time() * 1000))
CAMPUS = ("Asia/Shanghai", 8, CAMPUS_DAY)


def campus_now_ms():
    """The gateway's clock: the machine's, shifted to CAMPUS_DAY."""
    return int(time.time() * 1000) + CLOCK_OFFSET_MS


PASSWORD = "operator-pass-1"
BASE_SETS = {"plugin.attendance.enabled": "yes", "cards.max_clock_skew": "1d",
             "campus.timezone": CAMPUS[0]}
BASE_ENV = {"YKT_TEST_CLOCK_OFFSET_MS": str(CLOCK_OFFSET_MS)}


class AttendanceCase(WalletCase):
    sets = BASE_SETS
    env = BASE_ENV

    def setUp(self):
        super().setUp()
        self.ops = {}

    # ---- people, operators, terminals ----

    def staff(self, no, department="CS"):
        self.person(no, kind="staff", department=department, until="2030-12-31")
        for kind, approver in (("unit_leader", "王主任"), ("functional_dept", "人事处")):
            self.gw.ctl("approval", "add", no, "--kind", kind, "--approver", approver, "--ref",
                        "HR-%s-%s" % (no, kind))
        return SimCard(MASTER_KEY, uid=self.gw.ctl("card", "issue", no)["uid"])

    def student(self, no, department="CS"):
        card, _, _ = self.holder(no, kind="student", department=department)
        return card

    def operator(self, name, role, department=None):
        self.gw.add_operator(name, role, department=department, password=PASSWORD)
        self.ops[name] = True

    def as_(self, who, *args, check=True, json_out=True):
        return self.gw.ctl(*args, user=who, password=PASSWORD, check=check, json_out=json_out)

    def fails_as(self, who, code, *args):
        p = self.as_(who, *args, check=False)
        self.assertRefused(p, code)
        return p.stderr

    def cs_operators(self):
        self.operator("csadmin", "dept_admin", "CS")
        self.operator("cshead", "dept_head", "CS")
        self.operator("eehead", "dept_head", "EE")

    # ---- the campus clock ----

    def signed(self, card, tid, verb, amount=0, *extra, seq=None, **kw):
        """A card verb signed at the gateway's (shifted) time unless the test gives one."""
        kw.setdefault("time_ms", campus_now_ms())
        return super().signed(card, tid, verb, amount, *extra, seq=seq, **kw)

    def local_ms(self, day, hhmm):
        """Epoch ms of HH:MM on `day` (a date) in the campus zone CAMPUS."""
        tz = datetime.timezone(datetime.timedelta(hours=CAMPUS[1]))
        h, m = map(int, hhmm.split(":"))
        return int(datetime.datetime(day.year, day.month, day.day, h, m, tzinfo=tz)
                   .timestamp() * 1000)

    def punch(self, card, verb, hhmm, tid="ATT-1", **kw):
        return self.swipe(card, tid, "ATTENDANCE." + verb, 0,
                          time_ms=self.local_ms(CAMPUS[2], hhmm), **kw)

    # ---- reading ----

    def day(self, no, date):
        rows = self.gw.ctl("attendance", "records", no, "--month", date[:7])
        return {r["date"]: r for r in rows}.get(date)

    def stats(self, dept="CS", month="2026-10", who=None):
        args = ("attendance", "stats", dept, "--month", month)
        rows = self.as_(who, *args) if who else self.gw.ctl(*args)
        return {r["person"]: r for r in rows}

    def correct(self, no, date, t_in=None, t_out=None, who=None):
        args = ["attendance", "correct", no, date, "--reason", "forgot the card"]
        if t_in:
            args += ["--in", t_in]
        if t_out:
            args += ["--out", t_out]
        return self.as_(who, *args) if who else self.gw.ctl(*args)

    def enrolled_long_ago(self):
        """The tests' people stand for people on the roster since before the past days the
        tests judge: a day before a person's enrolment is judged only when a punch, a
        correction or an approved leave says they were expected (EnrolmentDateTest)."""
        self.gw.sql_write("UPDATE attendance_people SET enrolled_at = 0")

    def close(self, *dates):
        self.enrolled_long_ago()
        for d in dates:
            self.gw.ctl("attendance", "close", d)

    def balance(self, no, leave_type, year=2026):
        rows = self.gw.ctl("attendance", "balances", no, "--year", str(year))
        return {r["type"]: r for r in rows}[leave_type]


class SignInOut(AttendanceCase):
    """R-T1: card punches at attendance terminals, judged by the policy on the terminal."""

    def setUp(self):
        super().setUp()
        self.terminal("ATT-1", "attendance")

    def test_both_policies_judge_punches_by_the_cards_time(self):
        today = CAMPUS[2].isoformat()
        t1, s1, s2 = self.staff("T1"), self.student("S1"), self.student("S2")
        # Staff (attendance_teaching): 08:00-17:00 with five minutes' grace.
        self.assertEqual(self.punch(t1, "SIGNIN", "08:04"), ["in", today, "08:04", "on time", "张*"])
        self.assertEqual(self.punch(t1, "SIGNIN", "08:10")[3], "late 10 min")
        self.assertEqual(self.punch(t1, "SIGNOUT", "16:50")[3], "early 10 min")
        self.assertEqual(self.punch(t1, "SIGNOUT", "17:40")[3], "on time")
        # Students (attendance_students): 07:40-17:10, absent beyond 30 minutes.
        self.assertEqual(self.punch(s1, "SIGNIN", "08:10")[3], "late 30 min")
        self.assertEqual(self.punch(s2, "SIGNIN", "08:11")[3], "absent: too late")
        self.assertEqual(self.punch(s1, "SIGNOUT", "16:39")[3], "absent: too early")
        self.assertEqual(self.punch(s1, "SIGNOUT", "17:10")[3], "on time")
        # The day keeps the first sign-in and the last sign-out; every punch is kept.
        d = self.day("T1", today)
        self.assertEqual((d["in"], d["out"], d["status"]), ("08:04", "17:40", "open"))
        self.assertEqual(self.day("S1", today)["in"], "08:10")
        rows = self.gw.sql("SELECT p.direction, p.minutes, p.terminal, p.source FROM "
                           "attendance_punches p JOIN attendance_people q USING (person_id) "
                           "WHERE q.person_no = 'T1' ORDER BY p.id")
        self.assertEqual(rows, [("in", 484, "ATT-1", "card"), ("in", 490, "ATT-1", "card"),
                                ("out", 1010, "ATT-1", "card"), ("out", 1060, "ATT-1", "card")])
        people = {r["person"]: r["policy"] for r in self.gw.ctl("attendance", "people")}
        self.assertEqual(people, {"T1": "attendance_teaching", "S1": "attendance_students",
                                  "S2": "attendance_students"})

    def test_a_sign_out_after_midnight_closes_the_night_before(self):
        t1 = self.staff("T1")
        yesterday = CAMPUS[2] - datetime.timedelta(days=1)
        night = self.swipe(t1, "ATT-1", "ATTENDANCE.SIGNIN", 0,
                           time_ms=self.local_ms(yesterday, "22:00"))
        self.assertEqual(night[:3], ["in", yesterday.isoformat(), "22:00"])
        # it counts for yesterday, and reads with its real date: after the sign-in
        self.assertEqual(self.punch(t1, "SIGNOUT", "02:30")[:3],
                         ["out", yesterday.isoformat(), CAMPUS[2].isoformat() + " 02:30"])
        self.assertIsNone(self.day("T1", CAMPUS[2].isoformat()))
        d = self.day("T1", yesterday.isoformat())
        self.assertEqual((d["in"], d["out"]), ("22:00", CAMPUS[2].isoformat() + " 02:30"))

    def test_a_retry_gets_the_first_reply_and_one_punch(self):
        s1 = self.student("S1")
        args = self.signed(s1, "ATT-1", "ATTENDANCE.SIGNIN", 0,
                           time_ms=self.local_ms(CAMPUS[2], "07:30"))
        first = self.send("ATT-1", args)
        self.assertEqual(first[3], "on time")
        self.assertEqual(self.send("ATT-1", args), first)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM attendance_punches"), [(1,)])

    def test_card_refusals_record_nothing(self):
        s1, s2 = self.student("S1"), self.student("S2")
        self.terminal("KIOSK-1", "kiosk")
        self.terminal("POS-1", "pos")
        # Only attendance terminals take punches.
        self.assertError(self.punch(s1, "SIGNIN", "07:30", tid="KIOSK-1"), "FORBIDDEN")
        self.assertError(self.punch(s1, "SIGNIN", "07:30", tid="POS-1"), "FORBIDDEN")
        # A cloned card (another card's key), a replayed ATC, a time outside the skew.
        self.assertError(self.punch(s1, "SIGNIN", "07:30", key_of=s2), "BAD_CRYPTOGRAM")
        self.assertEqual(self.punch(s1, "SIGNIN", "07:30")[0], "in")
        self.assertError(self.punch(s1, "SIGNIN", "07:31", atc=s1.atc), "REPLAY")
        far = self.signed(s1, "ATT-1", "ATTENDANCE.SIGNIN", 0,
                          time_ms=self.local_ms(CAMPUS[2], "07:30") - 2 * 86400000)
        self.assertError(self.send("ATT-1", far), "CLOCK_SKEW")
        self.assertError(self.swipe(s1, "ATT-1", "ATTENDANCE.SIGNOUT", 0, "extra"), "BAD_REQUEST")
        # A lost card is refused.
        idn = self.gw.sql("SELECT id_number FROM people WHERE person_no = 'S2'")[0][0]
        card_no = self.gw.ctl("card", "list", "--person", "S2")[0]["card_no"]
        self.gw.ctl("card", "loss", card_no, "--id-number", idn)
        self.assertError(self.punch(s2, "SIGNIN", "07:30"), "CARD_LOST")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM attendance_punches"), [(1,)])


class NoPolicy(AttendanceCase):
    sets = dict(BASE_SETS, **{"plugin.attendance.department_policies":
                              "Library:none,EE:attendance_teaching"})

    def test_department_policies_and_exempt_departments(self):
        self.terminal("ATT-1", "attendance")
        lib, ee = self.staff("L1", department="Library"), self.student("E1", department="EE")
        self.assertError(self.punch(lib, "SIGNIN", "08:00"), "NO_POLICY")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM attendance_punches"), [(0,)])
        # EE's students keep the staff's hours: 08:04 is on time there (late for students).
        self.assertEqual(self.punch(ee, "SIGNIN", "08:04")[3], "on time")
        self.gw.ctl("attendance", "enrol", "E1", "--policy", "attendance_students")
        self.assertEqual(self.punch(ee, "SIGNIN", "08:04")[3], "late 24 min")
        p = self.gw.ctl("attendance", "enrol", "E1", "--policy", "nosuch", check=False)
        self.assertRefused(p, "RULE_ERROR")


class Days(AttendanceCase):
    """R-T1, R-T5, R-T4: the days of October 2026 judged by both policies; statistics."""

    def test_days_judged_by_both_policies_and_the_statistics(self):
        self.staff("T1")
        self.student("S1")
        self.cs_operators()
        # The department's own day off (sports meeting) overrides both policies' workday.
        self.as_("csadmin", "attendance", "holiday-add", "2026-10-16", "--department", "CS",
                 "--name", "校运会")
        for no, date, t_in, t_out in [
                ("T1", "2026-10-12", "08:05", "17:00"),   # on time (grace)
                ("T1", "2026-10-13", "08:20", "17:00"),   # late 20
                ("T1", "2026-10-14", "08:00", "16:40"),   # early 20
                ("T1", "2026-10-15", "10:30", "17:00"),   # late by more than 120: absent
                ("S1", "2026-10-12", "07:40", "17:10"),   # on time
                ("S1", "2026-10-13", "08:10", "17:10"),   # late 30
                ("S1", "2026-10-14", "07:40", "16:39"),   # early 31: absent
                ("S1", "2026-10-15", "07:45", "16:50")]:  # late 5 and early 20
            self.correct(no, date, t_in, t_out, who="csadmin")
        self.correct("T1", "2026-10-16", "08:00")          # a holiday: no verdict
        self.close("2026-10-01", "2026-10-10", "2026-10-16", "2026-10-17")
        status = {(no, d): self.day(no, d)["status"] for no in ("T1", "S1")
                  for d in ("2026-10-01", "2026-10-10", "2026-10-12", "2026-10-13",
                            "2026-10-14", "2026-10-15", "2026-10-16", "2026-10-17")}
        self.assertEqual(status, {
            ("T1", "2026-10-01"): "rest",      # National Day (both scripts)
            ("T1", "2026-10-10"): "absent",    # a Saturday worked instead: no punches
            ("T1", "2026-10-12"): "ok",
            ("T1", "2026-10-13"): "late 20",
            ("T1", "2026-10-14"): "early 20",
            ("T1", "2026-10-15"): "absent",
            ("T1", "2026-10-16"): "rest",
            ("T1", "2026-10-17"): "rest",
            ("S1", "2026-10-01"): "rest",
            ("S1", "2026-10-10"): "absent",
            ("S1", "2026-10-12"): "ok",
            ("S1", "2026-10-13"): "late 30",
            ("S1", "2026-10-14"): "absent",
            ("S1", "2026-10-15"): "late 5, early 20",
            ("S1", "2026-10-16"): "rest",
            ("S1", "2026-10-17"): "rest"})
        self.assertEqual(self.day("T1", "2026-10-13")["policy"], "attendance_teaching")
        self.assertEqual(self.day("S1", "2026-10-13")["policy"], "attendance_students")
        st = self.stats(who="cshead")
        pick = ("workdays", "present", "late", "late_minutes", "early", "early_minutes",
                "absent", "open", "leave_days", "overtime_hours")
        self.assertEqual({no: tuple(st[no][k] for k in pick) for no in st}, {
            "T1": (5, 3, 1, 20, 1, 20, 2, 0, 0, "0.00"),
            "S1": (5, 3, 2, 35, 1, 20, 2, 0, 0, "0.00")})
        for t in ("annual", "sick", "personal", "marriage", "maternity", "bereavement"):
            self.assertEqual(st["T1"]["leave_" + t], 0)
        # The same as CSV for a spreadsheet.
        text = self.gw.ctl("--csv", "attendance", "stats", "CS", "--month", "2026-10",
                           json_out=False)
        lines = text.strip().splitlines()
        self.assertTrue(lines[0].startswith("person,name,workdays,present,late,late_minutes,"),
                        lines[0])
        self.assertTrue(any(line.startswith("S1,") and ",5,3,2,35,1,20,2," in line
                            for line in lines), lines)
        # A correction is audited with the operator; the holiday too.
        self.assertEqual(self.gw.sql("SELECT count(*) FROM audit WHERE action = "
                                     "'attendance.correct' AND operator = 'csadmin'"), [(8,)])

    def test_corrections_and_department_scope_refusals(self):
        self.staff("T1")
        self.staff("E1", department="EE")
        self.cs_operators()
        self.fails_as("csadmin", "NOT_YOUR_DEPARTMENT", "attendance", "correct", "E1",
                      "2026-10-12", "--in", "08:00", "--reason", "x")
        self.fails_as("csadmin", "NOT_YOUR_DEPARTMENT", "attendance", "stats", "EE",
                      "--month", "2026-10")
        self.fails_as("csadmin", "NOT_YOUR_DEPARTMENT", "attendance", "holiday-add",
                      "2026-10-16")
        for args, code in [
                (["T1", "2026-10-32", "--in", "08:00"], "BAD_DATE"),
                (["T1", "2026-10-12", "--in", "8:00"], "BAD_TIME"),
                (["T1", "2026-10-12", "--in", "09:00", "--out", "08:00"], "BAD_TIME"),
                (["T1", "2026-10-12"], "BAD_REQUEST"),
                (["T1", "2099-01-05", "--in", "08:00"], "FUTURE_DATE"),
                (["NOBODY", "2026-10-12", "--in", "08:00"], "NOT_FOUND")]:
            self.ctl_fails(code, "attendance", "correct", *args, "--reason", "x")
        self.ctl_fails("DAY_NOT_OVER", "attendance", "close", "2099-01-05")
        self.ctl_fails("NOT_FOUND", "attendance", "holiday-remove", "2026-10-16",
                       "--department", "CS")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM attendance_punches"), [(0,)])


class Leave(AttendanceCase):
    """R-T2: leave by type and period; the department head approves; balances."""

    def test_the_portal_applies_for_the_holder_and_the_record_says_so(self):
        self.staff("T1")
        self.cs_operators()
        self.operator("ykt-web", "portal")
        self.as_("csadmin", "attendance", "balance-set", "T1", "annual", "5", "--year", "2026")
        rec = self.as_("ykt-web", "attendance", "leave-apply", "T1", "annual", "2026-10-19",
                       "2026-10-20")
        ot = self.as_("ykt-web", "attendance", "overtime-apply", "T1", "2026-10-24")
        self.assertEqual(self.gw.sql("SELECT applied_by FROM attendance_leaves WHERE id = ?",
                                     rec["id"]), [("holder T1 (web portal)",)])
        self.assertEqual(self.gw.sql("SELECT applied_by FROM attendance_overtime WHERE id = ?",
                                     ot["id"]), [("holder T1 (web portal)",)])
        rec = self.as_("csadmin", "attendance", "leave-apply", "T1", "annual", "2026-10-21",
                       "2026-10-21")
        self.assertEqual(self.gw.sql("SELECT applied_by FROM attendance_leaves WHERE id = ?",
                                     rec["id"]), [("operator csadmin",)])

    def test_apply_refusals_approval_by_the_head_and_the_balance(self):
        self.staff("T1")
        self.cs_operators()
        self.as_("csadmin", "attendance", "balance-set", "T1", "annual", "5", "--year", "2026")
        self.as_("csadmin", "attendance", "balance-set", "T1", "personal", "3", "--year", "2026")
        rec = self.as_("csadmin", "attendance", "leave-apply", "T1", "annual", "2026-10-19",
                       "2026-10-23", "--reason", "回家")
        self.assertEqual((rec["status"], rec["days"]), ("pending", 5))
        lid = rec["id"]
        before = self.gw.sql("SELECT count(*) FROM attendance_leaves")
        for args, code, text in [
                (["annual", "2026-10-26", "2026-10-26"], "INSUFFICIENT_BALANCE",
                 "annual leave 2026: asked 1 day, 0 left (5 granted, 0 used, 5 pending)"),
                (["sick", "2026-10-26", "2026-10-26"], "INSUFFICIENT_BALANCE",
                 "T1 has no sick leave balance for 2026"),
                (["personal", "2026-10-22", "2026-10-27"], "LEAVE_OVERLAP",
                 "overlaps annual leave %d (2026-10-19 to 2026-10-23, pending)" % lid),
                (["personal", "2026-10-24", "2026-10-25"], "NO_WORKDAYS", "no workday"),
                (["holiday", "2026-10-26", "2026-10-26"], "UNKNOWN_LEAVE_TYPE", "types: annual"),
                (["personal", "2026-10-27", "2026-10-26"], "BAD_PERIOD", "ends"),
                (["personal", "2026-02-30", "2026-03-02"], "BAD_DATE", "YYYY-MM-DD"),
                (["personal", "2026-01-01", "2026-12-31"], "BAD_PERIOD", "at most 180")]:
            err = self.fails_as("csadmin", code, "attendance", "leave-apply", "T1", *args)
            self.assertIn(text, err)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM attendance_leaves"), before)
        # Only the head of T1's department decides.
        self.fails_as("csadmin", "FORBIDDEN", "attendance", "leave-approve", str(lid))
        self.fails_as("eehead", "NOT_YOUR_DEPARTMENT", "attendance", "leave-approve", str(lid))
        self.ctl_fails("NOT_DEPT_HEAD", "attendance", "leave-approve", str(lid))
        self.assertEqual(self.balance("T1", "annual")["used"], 0)
        rec = self.as_("cshead", "attendance", "leave-approve", str(lid))
        self.assertEqual((rec["status"], rec["days"]), ("approved", 5))
        b = self.balance("T1", "annual")
        self.assertEqual((b["days"], b["used"], b["pending"], b["left"]), (5, 5, 0, 0))
        self.fails_as("cshead", "BAD_STATE", "attendance", "leave-approve", str(lid))
        self.fails_as("csadmin", "BAD_BALANCE", "attendance", "balance-set", "T1", "annual", "4",
                      "--year", "2026")
        self.assertIn("annual leave 2026-10-19 to 2026-10-23 (5 days) approved",
                      [n["message"] for n in self.notices("T1", "leave")][0])
        # An approved leave overlaps too; a started one is not cancelled.
        self.fails_as("csadmin", "LEAVE_OVERLAP", "attendance", "leave-apply", "T1", "personal",
                      "2026-10-23", "2026-10-23")
        self.fails_as("csadmin", "LEAVE_STARTED", "attendance", "leave-cancel", str(lid))
        # The leave days are leave in the records and the statistics.
        self.correct("T1", "2026-10-19", "09:30", "17:00")
        self.close("2026-10-20", "2026-10-24")
        self.assertEqual(self.day("T1", "2026-10-19")["status"], "leave:annual")
        self.assertEqual(self.day("T1", "2026-10-20")["status"], "leave:annual")
        self.assertEqual(self.day("T1", "2026-10-24")["status"], "rest")
        st = self.stats()["T1"]
        self.assertEqual((st["leave_days"], st["leave_annual"], st["late"], st["absent"]),
                         (2, 2, 0, 0))
        # A rejection says why and leaves the balance alone.
        lid2 = self.as_("csadmin", "attendance", "leave-apply", "T1", "personal", "2026-10-26",
                        "2026-10-27")["id"]
        self.fails_as("cshead", "BAD_REQUEST", "attendance", "leave-reject", str(lid2))
        self.fails_as("eehead", "NOT_YOUR_DEPARTMENT", "attendance", "leave-reject", str(lid2),
                      "--note", "x")
        self.fails_as("csadmin", "FORBIDDEN", "attendance", "leave-reject", str(lid2), "--note",
                      "x")
        self.ctl_fails("NOT_DEPT_HEAD", "attendance", "leave-reject", str(lid2), "--note", "x")
        self.assertEqual([r["status"] for r in self.gw.ctl("attendance", "leaves", "--status",
                                                           "pending")], ["pending"])
        rec = self.as_("cshead", "attendance", "leave-reject", str(lid2), "--note", "项目验收")
        self.assertEqual(rec["status"], "rejected")
        self.assertEqual(self.balance("T1", "personal")["used"], 0)
        rows = {r["id"]: r for r in self.as_("cshead", "attendance", "leaves", "--person", "T1")}
        self.assertEqual((rows[lid]["decided_by"], rows[lid2]["note"]), ("cshead", "项目验收"))
        self.fails_as("eehead", "NOT_YOUR_DEPARTMENT", "attendance", "leaves", "--person", "T1")
        self.ctl_fails("BAD_REQUEST", "attendance", "leaves", "--status", "done")
        self.ctl_fails("BAD_REQUEST", "attendance", "overtimes", "--status", "cancelled")
        self.assertEqual([r["status"] for r in self.gw.ctl("attendance", "leaves", "--status",
                                                           "rejected")], ["rejected"])

    def test_cancelling_an_approved_leave_before_it_starts_restores_the_balance(self):
        self.staff("T1")
        self.cs_operators()
        today = datetime.date.fromisoformat(self.campus_today())
        monday = today + datetime.timedelta(days=8 - today.isoweekday())
        self.as_("csadmin", "attendance", "balance-set", "T1", "personal", "3", "--year",
                 str(monday.year))
        lid = self.as_("csadmin", "attendance", "leave-apply", "T1", "personal",
                       monday.isoformat(), monday.isoformat())["id"]
        self.as_("cshead", "attendance", "leave-approve", str(lid))
        self.assertEqual(self.balance("T1", "personal", monday.year)["used"], 1)
        rec = self.as_("csadmin", "attendance", "leave-cancel", str(lid))
        self.assertEqual(rec["status"], "cancelled")
        self.assertEqual(self.balance("T1", "personal", monday.year)["used"], 0)
        self.fails_as("csadmin", "BAD_STATE", "attendance", "leave-cancel", str(lid))

    def test_a_leave_over_new_year_takes_each_years_balance(self):
        self.staff("T1")
        self.cs_operators()
        # 2025-12-31 (Wed) is a workday; 2026-01-01..03 are public holidays, 2026-01-04 (Sun)
        # a weekend workday, 2026-01-05 a Monday: 1 day of 2025 and 2 of 2026.
        self.as_("csadmin", "attendance", "balance-set", "T1", "personal", "2", "--year", "2026")
        err = self.fails_as("csadmin", "INSUFFICIENT_BALANCE", "attendance", "leave-apply", "T1",
                            "personal", "2025-12-31", "2026-01-05")
        self.assertIn("2025", err)
        self.as_("csadmin", "attendance", "balance-set", "T1", "personal", "1", "--year", "2025")
        rec = self.as_("csadmin", "attendance", "leave-apply", "T1", "personal", "2025-12-31",
                       "2026-01-05")
        self.assertEqual(rec["days"], 3)
        self.as_("cshead", "attendance", "leave-approve", str(rec["id"]))
        self.assertEqual((self.balance("T1", "personal", 2025)["used"],
                          self.balance("T1", "personal", 2026)["used"]), (1, 2))

    def campus_today(self):
        return datetime.datetime.fromtimestamp(campus_now_ms() / 1000, _UTC8).date().isoformat()


class Kiosk(AttendanceCase):
    """R-T2, R-T3, R-T4 at a kiosk: the person applies and reads their own records."""

    def test_kiosk_leave_overtime_balance_and_records(self):
        s1, t1 = self.student("S1"), self.staff("T1")
        self.cs_operators()
        self.terminal("KIOSK-1", "kiosk")
        self.terminal("POS-1", "pos")
        self.gw.ctl("attendance", "balance-set", "S1", "sick", "4", "--year", "2026")
        self.assertEqual(self.swipe(s1, "KIOSK-1", "ATTENDANCE.BALANCE", 0, "2026"),
                         [["annual", 0, 0, 0], ["sick", 4, 0, 0], ["personal", 0, 0, 0],
                          ["marriage", 0, 0, 0], ["maternity", 0, 0, 0],
                          ["bereavement", 0, 0, 0]])
        lid, days = self.swipe(s1, "KIOSK-1", "ATTENDANCE.LEAVE", 0, "sick", "2026-10-13",
                               "2026-10-14", "发烧")
        self.assertEqual(days, 2)
        self.assertError(self.swipe(s1, "KIOSK-1", "ATTENDANCE.LEAVE", 0, "sick", "2026-10-14",
                                    "2026-10-14"), "LEAVE_OVERLAP")
        self.assertError(self.swipe(s1, "KIOSK-1", "ATTENDANCE.LEAVE", 0, "sick", "2026-10-19",
                                    "2026-10-21"), "INSUFFICIENT_BALANCE")
        self.assertError(self.swipe(s1, "KIOSK-1", "ATTENDANCE.LEAVE", 0, "sick"), "BAD_REQUEST")
        self.assertError(self.swipe(s1, "POS-1", "ATTENDANCE.LEAVE", 0, "sick", "2026-10-19",
                                    "2026-10-19"), "FORBIDDEN")
        self.assertError(self.swipe(s1, "KIOSK-1", "ATTENDANCE.LEAVE", 0, "sick", "2026-10-19",
                                    "2026-10-19", key_of=t1), "BAD_CRYPTOGRAM")
        self.assertEqual(self.swipe(s1, "KIOSK-1", "ATTENDANCE.BALANCE", 0, "2026")[1],
                         ["sick", 4, 0, 2])
        rows = self.gw.ctl("attendance", "leaves", "--person", "S1")
        self.assertEqual([(r["id"], r["status"], r["applied_by"][:5]) for r in rows],
                         [(lid, "pending", "card ")])
        self.as_("cshead", "attendance", "leave-approve", str(lid))
        self.assertEqual(self.swipe(s1, "KIOSK-1", "ATTENDANCE.BALANCE", 0, "2026")[1],
                         ["sick", 4, 2, 0])
        # Overtime (work-study hours) from the kiosk; the head approves; hours from punches.
        oid = self.swipe(s1, "KIOSK-1", "ATTENDANCE.OVERTIME", 0, "2026-10-15", "图书馆勤工")
        self.assertIsInstance(oid, int)
        self.assertError(self.swipe(s1, "KIOSK-1", "ATTENDANCE.OVERTIME", 0, "2026-10-15"),
                         "OVERTIME_EXISTS")
        self.correct("S1", "2026-10-15", "07:40", "19:00")
        rec = self.as_("cshead", "attendance", "overtime-approve", str(oid))
        self.assertEqual((rec["status"], rec["minutes"]), ("approved", 105))
        self.close("2026-10-13", "2026-10-14")
        self.assertEqual(self.swipe(s1, "KIOSK-1", "ATTENDANCE.RECORDS", 0, "2026-10"), [
            ["2026-10-13", "", "", "leave:sick", 0],
            ["2026-10-14", "", "", "leave:sick", 0],
            ["2026-10-15", "07:40", "19:00", "ok", 105]])
        self.assertError(self.swipe(s1, "KIOSK-1", "ATTENDANCE.RECORDS", 0, "2026-13"),
                         "BAD_DATE")


class Overtime(AttendanceCase):
    """R-T3: overtime applications, the head's approval, minutes from the actual punches."""

    def test_minutes_come_from_the_punches_by_the_policy(self):
        self.staff("T1")
        self.staff("E1", department="EE")
        self.cs_operators()

        def apply(no, date, who="csadmin"):
            return self.as_(who, "attendance", "overtime-apply", no, date, "--reason", "迎评")["id"]

        weekday, saturday, late = (apply("T1", "2026-10-13"), apply("T1", "2026-10-17"),
                                   apply("T1", "2026-10-14"))
        self.fails_as("csadmin", "OVERTIME_EXISTS", "attendance", "overtime-apply", "T1",
                      "2026-10-13")
        self.fails_as("csadmin", "NOT_YOUR_DEPARTMENT", "attendance", "overtime-apply", "E1",
                      "2026-10-13")
        self.fails_as("csadmin", "BAD_DATE", "attendance", "overtime-apply", "T1", "13.10.2026")
        self.correct("T1", "2026-10-13", "08:00", "19:10")
        self.correct("T1", "2026-10-17", "09:00", "12:30")
        self.fails_as("eehead", "NOT_YOUR_DEPARTMENT", "attendance", "overtime-approve",
                      str(weekday))
        self.fails_as("csadmin", "FORBIDDEN", "attendance", "overtime-approve", str(weekday))
        # Workday: from 17:30 in half hours (19:10 -> 90); rest day less lunch (12:00-13:00).
        self.assertEqual(self.as_("cshead", "attendance", "overtime-approve",
                                  str(weekday))["minutes"], 90)
        self.assertEqual(self.as_("cshead", "attendance", "overtime-approve",
                                  str(saturday))["minutes"], 180)
        self.fails_as("cshead", "BAD_STATE", "attendance", "overtime-approve", str(weekday))
        # Approved before the punches are put right: the minutes follow the punches.
        self.assertEqual(self.as_("cshead", "attendance", "overtime-approve",
                                  str(late))["minutes"], 0)
        self.correct("T1", "2026-10-14", "08:00", "18:30")
        rows = {r["id"]: r for r in self.gw.ctl("attendance", "overtimes", "--person", "T1")}
        self.assertEqual([rows[i]["minutes"] for i in (weekday, saturday, late)], [90, 180, 60])
        st = self.stats()["T1"]
        self.assertEqual((st["overtime_minutes"], st["overtime_hours"]), (330, "5.50"))
        # A rejection names the reason; rejected overtime counts nothing.
        other = apply("T1", "2026-10-15")
        self.fails_as("cshead", "BAD_REQUEST", "attendance", "overtime-reject", str(other))
        self.assertEqual(self.as_("cshead", "attendance", "overtime-reject", str(other),
                                  "--note", "no")["status"], "rejected")
        self.assertEqual(self.stats()["T1"]["overtime_minutes"], 330)
        self.assertEqual([n["kind"] for n in self.notices("T1", "overtime")].count("overtime"), 4)


class OvertimeFromCardPunches(AttendanceCase):
    """R-T3 with real card punches: the minutes come from the sign-in and sign-out the
    attendance terminal recorded (yesterday, within the card clock skew)."""

    def test_minutes_from_the_cards_sign_in_and_sign_out(self):
        self.terminal("ATT-1", "attendance")
        t1 = self.staff("T1")
        self.cs_operators()
        day = CAMPUS[2] - datetime.timedelta(days=1)
        for verb, at in (("SIGNIN", "16:00"), ("SIGNOUT", "19:10")):
            r = self.swipe(t1, "ATT-1", "ATTENDANCE." + verb, 0, time_ms=self.local_ms(day, at))
            self.assertEqual(r[1:3], [day.isoformat(), at], r)
        oid = self.as_("csadmin", "attendance", "overtime-apply", "T1", day.isoformat())["id"]
        self.assertEqual(self.as_("cshead", "attendance", "overtime-approve", str(oid))["minutes"],
                         self.teaching_overtime(day, 16 * 60, 19 * 60 + 10))
        d = self.day("T1", day.isoformat())
        self.assertEqual((d["in"], d["out"]), ("16:00", "19:10"))
        # a later card sign-out the same evening moves the minutes with it
        r = self.swipe(t1, "ATT-1", "ATTENDANCE.SIGNOUT", 0, time_ms=self.local_ms(day, "20:10"))
        self.assertEqual(r[2], "20:10")
        rows = {r["id"]: r for r in self.gw.ctl("attendance", "overtimes", "--person", "T1")}
        self.assertEqual(rows[oid]["minutes"], self.teaching_overtime(day, 16 * 60, 20 * 60 + 10))

    @staticmethod
    def teaching_overtime(day, t_in, t_out):
        """scripts/attendance_teaching.lua's overtime: on workdays from 17:30, else the time
        worked less the lunch hour; in whole half hours."""
        makeup = {"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
                  "2026-10-10"}
        iso = day.isoformat()
        workday = iso in makeup or (day.isoweekday() <= 5 and iso not in HOLIDAYS)
        if workday:
            minutes = max(0, t_out - max(t_in, 17 * 60 + 30))
        else:
            minutes = t_out - t_in - max(0, min(t_out, 13 * 60) - max(t_in, 12 * 60))
        return minutes // 30 * 30


class ReviewAndSummary(AttendanceCase):
    """R-T4: the head's review freezes a month; the information centre's summary."""

    def test_review_freezes_the_month_and_the_summary_is_stored(self):
        self.staff("T1")
        self.student("E1", department="EE")
        self.cs_operators()
        self.operator("infocentre", "auditor")
        self.correct("T1", "2026-10-13", "08:20", "17:00")
        self.correct("E1", "2026-10-13", "07:40", "17:10")
        self.gw.ctl("attendance", "balance-set", "T1", "annual", "5", "--year", "2026")
        lid = self.gw.ctl("attendance", "leave-apply", "T1", "annual", "2026-10-20",
                          "2026-10-20")["id"]
        self.fails_as("csadmin", "FORBIDDEN", "attendance", "review", "CS", "--month", "2026-10")
        self.fails_as("eehead", "NOT_YOUR_DEPARTMENT", "attendance", "review", "CS", "--month",
                      "2026-10")
        self.fails_as("cshead", "MONTH_OPEN", "attendance", "review", "CS", "--month", "2099-01")
        self.as_("cshead", "attendance", "review", "CS", "--month", "2026-10", "--note", "已核")
        self.fails_as("cshead", "BAD_STATE", "attendance", "review", "CS", "--month", "2026-10")
        self.assertEqual(self.stats(who="cshead")["T1"]["reviewed_by"], "cshead")
        # Nothing in a reviewed month changes any more.
        self.fails_as("csadmin", "MONTH_REVIEWED", "attendance", "correct", "T1", "2026-10-14",
                      "--in", "08:00", "--reason", "x")
        self.fails_as("cshead", "MONTH_REVIEWED", "attendance", "leave-approve", str(lid))
        self.correct("E1", "2026-10-14", "07:40", "17:10")  # EE is not reviewed
        # The information centre's summary: per department, live and stored.
        summary = {r["department"]: r for r in self.as_("infocentre", "attendance", "summary",
                                                        "--month", "2026-10")}
        self.assertEqual((summary["CS"]["late"], summary["CS"]["reviewed_by"]), (1, "cshead"))
        self.assertEqual((summary["EE"]["workdays"], summary["EE"]["late"]), (2, 0))
        self.assertEqual(self.as_("infocentre", "attendance", "summary", "--month", "2026-10",
                                  "--stored"), [])
        self.fails_as("cshead", "FORBIDDEN", "attendance", "summary", "--month", "2026-10")
        self.fails_as("infocentre", "FORBIDDEN", "attendance", "report", "--month", "2026-10")
        self.gw.ctl("attendance", "report", "--month", "2026-10")
        stored = {r["department"]: r for r in self.as_("infocentre", "attendance", "summary",
                                                       "--month", "2026-10", "--stored")}
        self.assertEqual(sorted(stored), ["CS", "EE"])
        self.assertEqual(stored["CS"]["late"], 1)
        self.assertRegex(stored["CS"]["stored_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class DayEnd(AttendanceCase):
    """The day's end closes days by itself, and the last day of a month stores that month's
    summary. `yktctl job run day-end --today DATE` announces DAY_END as the campus midnight
    (or the first tick after a restart that missed it) does."""

    def day_end(self, today):
        self.enrolled_long_ago()
        self.gw.ctl("job", "run", "day-end", "--today", today)

    def test_the_day_end_closes_yesterday_and_catches_up_missed_days(self):
        self.staff("T1")
        self.cs_operators()
        self.operator("infocentre", "auditor")
        self.correct("T1", "2026-10-27", "08:20", "17:00")  # judged at once: late 20
        self.assertEqual(self.day("T1", "2026-10-27")["status"], "late 20")
        self.assertIsNone(self.day("T1", "2026-10-29"))     # a Thursday without punches
        # Midnight of 10-30: yesterday is judged, and only yesterday.
        self.day_end("2026-10-30")
        self.assertEqual(self.day("T1", "2026-10-29")["status"], "absent")
        self.assertIsNone(self.day("T1", "2026-10-28"))
        self.assertEqual(self.gw.sql("SELECT value FROM attendance_meta WHERE key = "
                                     "'last_closed'"), [("2026-10-29",)])
        self.assertEqual(self.as_("infocentre", "attendance", "summary", "--month", "2026-10",
                                  "--stored"), [])
        # yktd was down from 10-30 to 11-02: every missed day is closed at the next day's
        # end, and closing 10-31 (the month's last day) stores October's summary.
        self.day_end("2026-11-02")
        self.assertEqual(self.day("T1", "2026-10-30")["status"], "absent")  # a Friday
        self.assertEqual(self.day("T1", "2026-10-31")["status"], "rest")    # a Saturday
        self.assertEqual(self.day("T1", "2026-11-01")["status"], "rest")
        self.assertIsNone(self.day("T1", "2026-11-02"))                     # today: open
        self.assertEqual(self.gw.sql("SELECT value FROM attendance_meta WHERE key = "
                                     "'last_closed'"), [("2026-11-01",)])
        stored = {r["department"]: r for r in self.as_("infocentre", "attendance", "summary",
                                                       "--month", "2026-10", "--stored")}
        self.assertEqual(sorted(stored), ["CS"])
        self.assertEqual((stored["CS"]["late"], stored["CS"]["absent"]), (1, 2))
        self.assertRegex(stored["CS"]["stored_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # The stored summary is what the live one says for the days closed.
        live = {r["department"]: r for r in self.as_("infocentre", "attendance", "summary",
                                                     "--month", "2026-10")}
        self.assertEqual((live["CS"]["late"], live["CS"]["absent"]), (1, 2))
        self.assertEqual(self.as_("infocentre", "attendance", "summary", "--month", "2026-11",
                                  "--stored"), [])
        # a day end in the future is refused by the host; nothing more is closed
        p = self.gw.ctl("job", "run", "day-end", "--today", "2099-01-05", check=False)
        self.assertRefused(p, "BAD_REQUEST")
        self.assertEqual(self.gw.sql("SELECT value FROM attendance_meta WHERE key = "
                                     "'last_closed'"), [("2026-11-01",)])


class Gate(AttendanceCase):
    """R-A: a student goes out through a campus gate during class hours only on leave."""

    def test_gate_check_by_the_student_policy(self):
        self.student("S1")
        self.staff("T1")
        self.cs_operators()

        def check(no, at):
            return self.gw.ctl("attendance", "gate-check", no, "--at", at)["attendance"]

        self.assertEqual(check("S1", "2026-10-13 10:00"), "deny")
        self.assertEqual(check("S1", "2026-10-13 07:30"), "defer")  # before class
        self.assertEqual(check("S1", "2026-10-13 17:30"), "defer")  # after class
        self.assertEqual(check("S1", "2026-10-17 10:00"), "defer")  # a Saturday
        self.assertEqual(check("S1", "2026-10-02 10:00"), "defer")  # National Day
        self.assertEqual(check("S1", "2026-08-04 10:00"), "defer")  # summer vacation
        self.assertEqual(check("T1", "2026-10-13 10:00"), "defer")  # staff are not held
        self.as_("csadmin", "attendance", "holiday-add", "2026-10-16", "--department", "CS")
        self.assertEqual(check("S1", "2026-10-16 10:00"), "defer")
        # A pending leave is not enough; an approved one covering the day is.
        self.gw.ctl("attendance", "balance-set", "S1", "personal", "2", "--year", "2026")
        lid = self.gw.ctl("attendance", "leave-apply", "S1", "personal", "2026-10-13",
                          "2026-10-13")["id"]
        self.assertEqual(check("S1", "2026-10-13 10:00"), "deny")
        self.as_("cshead", "attendance", "leave-approve", str(lid))
        self.assertEqual(check("S1", "2026-10-13 10:00"), "defer")
        self.assertEqual(check("S1", "2026-10-14 10:00"), "deny")
        self.ctl_fails("BAD_TIME", "attendance", "gate-check", "S1", "--at", "2026-10-14")


class GateOff(AttendanceCase):
    sets = dict(BASE_SETS, **{"plugin.attendance.gate_check": "no"})

    def test_gate_check_can_be_switched_off(self):
        self.student("S1")
        self.assertEqual(self.gw.ctl("attendance", "gate-check", "S1", "--at",
                                     "2026-10-13 10:00")["attendance"], "defer")


class GateThroughAccess(AttendanceCase):
    """The campus gate end to end: the access plugin asks the decision chain."""

    sets = dict(BASE_SETS, **{"plugin.access.enabled": "yes"})

    def setUp(self):
        self.gw = Gateway(sets=self.sets, env=self.env)
        self.addCleanup(self.gw.cleanup)
        self.secrets, self.conns, self.seqs, self.people, self.ops = {}, {}, {}, 0, {}

    def test_students_go_out_in_class_hours_only_on_leave(self):
        s1, t1 = self.student("S1"), self.staff("T1")
        self.cs_operators()
        self.gw.ctl("access", "doorgroup-add", "gates", "--public", "yes")
        self.terminal("GATE-OUT", "gate")
        self.terminal("GATE-IN", "gate")
        self.gw.ctl("access", "door-add", "south-out", "--terminal", "GATE-OUT", "--kind",
                    "campus_gate", "--group", "gates", "--direction", "out")
        self.gw.ctl("access", "door-add", "south-in", "--terminal", "GATE-IN", "--kind",
                    "campus_gate", "--group", "gates", "--direction", "in")
        self.terminal("GATE-BOTH", "gate")
        self.gw.ctl("access", "door-add", "west", "--terminal", "GATE-BOTH", "--kind",
                    "campus_gate", "--group", "gates", "--direction", "both")
        out = self.swipe(s1, "GATE-OUT", "ACCESS.OPEN", 0)
        self.assertError(out, "DENIED")
        self.assertIn("class hours (attendance_students): a student needs an approved leave",
                      out.line)
        # a two-way reader that says "out" is held the same way
        self.assertError(self.swipe(s1, "GATE-BOTH", "ACCESS.OPEN", 0, "out"), "DENIED")
        self.assertEqual(self.swipe(t1, "GATE-OUT", "ACCESS.OPEN", 0)[0], "OPEN")
        self.assertEqual(self.swipe(s1, "GATE-IN", "ACCESS.OPEN", 0)[0], "OPEN")
        today = CAMPUS[2].isoformat()
        self.gw.ctl("attendance", "balance-set", "S1", "personal", "2", "--year", today[:4])
        lid = self.gw.ctl("attendance", "leave-apply", "S1", "personal", today, today)["id"]
        # pending is not enough
        self.assertError(self.swipe(s1, "GATE-OUT", "ACCESS.OPEN", 0), "DENIED")
        self.as_("cshead", "attendance", "leave-approve", str(lid))
        self.assertEqual(self.swipe(s1, "GATE-OUT", "ACCESS.OPEN", 0)[0], "OPEN")
        # every decision is in the access log, the denials with attendance's reason
        self.assertTrue(wait_until(lambda: self.gw.sql(
            "SELECT count(*) FROM access_log")[0][0] >= 6))
        rows = [(r["person"], r["door"], r["result"], r["code"])
                for r in reversed(self.gw.ctl("access", "log"))]
        self.assertEqual(rows, [("S1", "south-out", "deny", "DENIED"),
                                ("S1", "west", "deny", "DENIED"),
                                ("T1", "south-out", "allow", ""),
                                ("S1", "south-in", "allow", ""),
                                ("S1", "south-out", "deny", "DENIED"),
                                ("S1", "south-out", "allow", "")])
        denied = self.gw.ctl("access", "log", "--result", "deny")
        self.assertTrue(all("approved leave" in r["reason"] for r in denied), denied)


if __name__ == "__main__":
    import unittest
    unittest.main()
