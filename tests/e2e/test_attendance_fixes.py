"""The attendance plugin: fixes after review, end to end.

- reads and refused requests leave the roster alone: only an enrolment, a punch, an
  application or a correction puts a person on it, after the department check;
- a leave's days are counted again at approval (a holiday added since counts);
- the shipped policies say how far their calendar reaches, and days after it are not judged
  silently: an error is logged once a day naming the policy file, the days stay open, and
  leave over them is refused (CALENDAR_UNKNOWN);
- small ones: `holidays --year` checked, the kiosk's balance year, overtime dates bounded,
  the stored summary's time readable, no review of a month with open days, "1 day";
- punches around midnight: a sign-out before the day's sign-in is not that day's out (a day
  read "in 07:50, out 02:00"), every sign-out before overnight_until closes the night before
  and reads with its real date (2026-11-25 02:00, not 26:00);
- overnight_until's limit (12:00) is refused as documented;
- overtime replies show the day, minutes and hours of the application, not "days 0".

The tests share test_attendance.py's campus: "today" is 2026-11-25 at 12:30 (UTC+8), a
school day; one class lives on 2028-01-05, after the shipped policies' calendars.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import SOURCE_DIR, Gateway
from test_attendance import BASE_ENV, BASE_SETS, CAMPUS, AttendanceCase

TODAY = CAMPUS[2].isoformat()
YESTERDAY = (CAMPUS[2] - datetime.timedelta(days=1)).isoformat()


class ReadsLeaveTheRosterAlone(AttendanceCase):
    """Finding 1: a read, or a refused request, does not put anyone on the roster."""

    def roster(self):
        return {r[0]: r[1] for r in self.gw.sql(
            "SELECT person_no, active FROM attendance_people ORDER BY person_no")}

    def test_reads_and_refusals_do_not_enrol_and_nobody_is_marked_absent(self):
        self.staff("T1")
        self.staff("E1", department="EE")
        s3 = self.student("S3")
        self.cs_operators()
        self.operator("auditor1", "auditor")
        self.terminal("KIOSK-1", "kiosk")
        # Reads by every reader, allowed and refused.
        self.as_("auditor1", "attendance", "balances", "S3")
        self.as_("auditor1", "attendance", "records", "T1", "--month", "2026-11")
        self.as_("csadmin", "attendance", "balances", "T1", "--year", "2026")
        self.as_("cshead", "attendance", "leaves", "--person", "T1")
        self.as_("cshead", "attendance", "overtimes", "--person", "S3")
        self.fails_as("cshead", "NOT_YOUR_DEPARTMENT", "attendance", "records", "E1", "--month",
                      "2026-11")
        self.fails_as("cshead", "NOT_YOUR_DEPARTMENT", "attendance", "balances", "E1")
        self.fails_as("csadmin", "NOT_YOUR_DEPARTMENT", "attendance", "leaves", "--person", "E1")
        self.assertEqual(self.roster(), {})
        # Refused changes.
        self.fails_as("csadmin", "NOT_YOUR_DEPARTMENT", "attendance", "leave-apply", "E1",
                      "annual", "2026-12-14", "2026-12-14")
        self.fails_as("csadmin", "NOT_YOUR_DEPARTMENT", "attendance", "enrol", "T1", "E1")
        self.fails_as("csadmin", "INSUFFICIENT_BALANCE", "attendance", "leave-apply", "T1",
                      "annual", "2026-12-14", "2026-12-14")
        self.fails_as("csadmin", "NOT_YOUR_DEPARTMENT", "attendance", "overtime-apply", "E1",
                      TODAY)
        self.assertEqual(self.roster(), {})
        self.fails_as("csadmin", "BAD_STATE", "attendance", "unenrol", "T1")  # not on it
        # The kiosk: the holder's own balance and records, and a refused application.
        self.assertEqual(len(self.swipe(s3, "KIOSK-1", "ATTENDANCE.BALANCE", 0)), 6)
        self.assertEqual(self.swipe(s3, "KIOSK-1", "ATTENDANCE.RECORDS", 0, "2026-11"), [])
        self.assertError(self.swipe(s3, "KIOSK-1", "ATTENDANCE.LEAVE", 0, "sick", "2026-12-14",
                                    "2026-12-14"), "INSUFFICIENT_BALANCE")
        self.assertError(self.swipe(s3, "KIOSK-1", "ATTENDANCE.OVERTIME", 0, "2026-13-01"),
                         "BAD_DATE")
        self.assertEqual(self.roster(), {})
        self.assertEqual(self.as_("auditor1", "attendance", "people"), [])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM audit WHERE action LIKE "
                                     "'attendance.%'"), [(0,)])
        # Closing yesterday judges nobody: no one read about is absent.
        rec = self.gw.ctl("attendance", "close", YESTERDAY)
        self.assertEqual((rec["people"], rec["judged"], rec["absent"]), (0, 0, 0))
        for no in ("T1", "E1", "S3"):
            self.assertEqual(self.gw.ctl("attendance", "records", no, "--month", YESTERDAY[:7]),
                             [])
        self.assertEqual(self.stats("CS", YESTERDAY[:7]), {})
        self.assertEqual(self.stats("EE", YESTERDAY[:7]), {})

    def test_enrolment_punches_applications_and_corrections_still_enrol(self):
        self.staff("T1")
        self.staff("T2")
        self.staff("T3")
        s4 = self.student("S4")
        s5 = self.student("S5")
        self.cs_operators()
        self.terminal("ATT-1", "attendance")
        self.terminal("KIOSK-1", "kiosk")
        self.as_("csadmin", "attendance", "enrol", "T1")
        self.as_("csadmin", "attendance", "balance-set", "T2", "annual", "3", "--year", "2026")
        self.assertNotIn("T2", self.roster())  # a grant is not an enrolment
        self.as_("csadmin", "attendance", "leave-apply", "T2", "annual", "2026-12-14",
                 "2026-12-14")
        self.as_("csadmin", "attendance", "correct", "T3", YESTERDAY, "--in", "08:00",
                 "--reason", "forgot the card")
        self.punch(s4, "SIGNIN", "07:30")
        self.assertIsInstance(self.swipe(s5, "KIOSK-1", "ATTENDANCE.OVERTIME", 0, TODAY), int)
        self.assertEqual(self.roster(), {"S4": 1, "S5": 1, "T1": 1, "T2": 1, "T3": 1})


class LeaveDaysCountedAtApproval(AttendanceCase):
    """Finding 2: a holiday added after the application reduces the days approved."""

    def test_a_holiday_added_after_the_application_is_not_deducted(self):
        self.staff("E1001")
        self.cs_operators()
        self.as_("csadmin", "attendance", "balance-set", "E1001", "annual", "5", "--year", "2026")
        # Monday and Tuesday: two workdays when applied for.
        rec = self.as_("csadmin", "attendance", "leave-apply", "E1001", "annual", "2026-12-14",
                       "2026-12-15")
        self.assertEqual(rec["days"], 2)
        self.assertEqual(self.balance("E1001", "annual")["pending"], 2)
        self.as_("csadmin", "attendance", "holiday-add", "2026-12-15", "--department", "CS")
        rec = self.as_("cshead", "attendance", "leave-approve", str(rec["id"]))
        self.assertEqual((rec["status"], rec["days"]), ("approved", 1))
        b = self.balance("E1001", "annual")
        self.assertEqual((b["used"], b["pending"], b["left"]), (1, 0, 4))
        self.assertEqual([r["days"] for r in self.gw.ctl("attendance", "leaves", "--person",
                                                         "E1001")], [1])
        self.assertEqual(self.gw.sql("SELECT year, days FROM attendance_leave_years"),
                         [(2026, 1)])
        self.assertIn("annual leave 2026-12-14 to 2026-12-15 (1 day) approved",
                      [n["message"] for n in self.notices("E1001", "leave")])
        # Cancelled before it starts, the day deducted comes back.
        self.as_("csadmin", "attendance", "leave-cancel", str(rec["id"]))
        self.assertEqual(self.balance("E1001", "annual")["used"], 0)

    def test_no_workday_left_refuses_the_approval_and_changes_nothing(self):
        self.staff("E1001")
        self.cs_operators()
        self.as_("csadmin", "attendance", "balance-set", "E1001", "annual", "5", "--year", "2026")
        lid = self.as_("csadmin", "attendance", "leave-apply", "E1001", "annual", "2026-12-14",
                       "2026-12-14")["id"]
        self.as_("csadmin", "attendance", "holiday-add", "2026-12-14", "--department", "CS")
        err = self.fails_as("cshead", "NO_WORKDAYS", "attendance", "leave-approve", str(lid))
        self.assertIn("reject or cancel leave %d" % lid, err)
        self.assertEqual(self.gw.sql("SELECT status, days FROM attendance_leaves"),
                         [("pending", 1)])
        self.assertEqual(self.balance("E1001", "annual")["used"], 0)
        self.as_("cshead", "attendance", "leave-reject", str(lid), "--note", "a holiday now")


class EnrolmentDateTest(AttendanceCase):
    """Closing a past day judges only the people on the roster by then, or expected that day
    by a punch, a correction or an approved leave: enrolling someone today does not make
    them absent on every past day closed afterwards."""

    def test_a_day_before_the_enrolment_is_not_judged_without_a_sign_of_it(self):
        self.staff("T1")
        self.staff("T2")
        self.staff("T3")
        self.cs_operators()
        self.as_("csadmin", "attendance", "enrol", "T1", "T2", "T3")  # today, 2026-11-25
        self.correct("T2", "2026-11-23", "08:00", "17:00")  # a correction of that day
        self.as_("csadmin", "attendance", "balance-set", "T3", "sick", "2", "--year", "2026")
        lid = self.as_("csadmin", "attendance", "leave-apply", "T3", "sick", "2026-11-23",
                       "2026-11-23")["id"]
        self.as_("cshead", "attendance", "leave-approve", str(lid))
        rec = self.gw.ctl("attendance", "close", "2026-11-23")  # a Monday
        self.assertEqual((rec["judged"], rec["absent"]), (2, 0), rec)
        self.assertIsNone(self.day("T1", "2026-11-23"))
        self.assertEqual(self.day("T2", "2026-11-23")["status"], "ok")
        self.assertEqual(self.day("T3", "2026-11-23")["status"], "leave:sick")
        # on the roster since before it: judged, and absent without a punch
        self.enrolled_long_ago()
        rec = self.gw.ctl("attendance", "close", "2026-11-23")
        self.assertEqual(self.day("T1", "2026-11-23")["status"], "absent")


class ShiftedCampus(AttendanceCase):
    """A campus whose 'today' is 2028-01-05 (a Wednesday) at 12:30 UTC+8."""

    DAY = datetime.date(2028, 1, 5)
    OFFSET_MS = (int(datetime.datetime(2028, 1, 5, 12, 30, tzinfo=datetime.timezone(
        datetime.timedelta(hours=8))).timestamp() * 1000) - int(time.time() * 1000))
    env = dict(BASE_ENV, YKT_TEST_CLOCK_OFFSET_MS=str(OFFSET_MS))

    def signed(self, card, tid, verb, amount=0, *extra, seq=None, **kw):
        kw.setdefault("time_ms", int(time.time() * 1000) + self.OFFSET_MS)
        return super().signed(card, tid, verb, amount, *extra, seq=seq, **kw)


class CalendarsEnd(ShiftedCampus):
    """Finding 3: after the policy's calendar, days are not judged silently."""

    def calendar_errors(self, script):
        return [line for line in self.gw.log_text().splitlines()
                if "error" in line and "policy %s knows terms and holidays until" % script in line]

    def test_days_after_the_calendar_stay_open_with_an_error_a_day(self):
        self.terminal("ATT-1", "attendance")
        t1, s1 = self.staff("T1"), self.student("S1")
        self.cs_operators()
        # The punch is kept; the terminal says it is not judged.
        r = self.swipe(s1, "ATT-1", "ATTENDANCE.SIGNIN", 0,
                       time_ms=self.local_ms(self.DAY, "07:30"))
        self.assertEqual(r[:4], ["in", "2028-01-05", "07:30", "not judged: calendar"])
        self.swipe(t1, "ATT-1", "ATTENDANCE.SIGNIN", 0, time_ms=self.local_ms(self.DAY, "08:00"))
        # Closing a day after both calendars is refused with the reason, and changes nothing.
        self.enrolled_long_ago()
        err = self.ctl_fails("CALENDAR_UNKNOWN", "attendance", "close", "2028-01-04")
        self.assertIn("scripts/attendance_", err)
        self.assertIn("until 2027-12-31", err)
        # The day's end leaves those days open instead of calling them vacation or absence.
        self.gw.ctl("job", "run", "day-end", "--today", "2028-01-05")
        self.assertEqual(self.day("S1", "2028-01-04"), None)
        self.correct("T1", "2028-01-04", "08:00", "17:00")
        self.assertEqual(self.day("T1", "2028-01-04")["status"], "open")
        # Leave over such days is refused; the gate does not hold students on a guess.
        self.gw.ctl("attendance", "balance-set", "S1", "personal", "5", "--year", "2028")
        err = self.ctl_fails("CALENDAR_UNKNOWN", "attendance", "leave-apply", "S1", "personal",
                             "2028-01-06", "2028-01-07")
        self.assertIn("scripts/attendance_students.lua must be extended", err)
        self.assertEqual(self.gw.ctl("attendance", "gate-check", "S1", "--at",
                                     "2028-01-06 10:00")["attendance"], "defer")
        # The days before the calendar's end are judged as before.
        self.enrolled_long_ago()
        self.assertEqual(self.gw.ctl("attendance", "close", "2027-12-30")["absent"], 2)
        # One error line per policy and day, naming the file.
        for script in ("attendance_students", "attendance_teaching"):
            lines = self.calendar_errors(script)
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("extend the calendar of scripts/%s.lua" % script, lines[0])
        self.assertEqual(self.gw.sql("SELECT count(*) FROM attendance_leaves"), [(0,)])


class ShippedCalendars(AttendanceCase):
    """Finding 3: what the shipped policies know, and the sample terms of 2027."""

    def rule(self, script, fn, args):
        path = os.path.join(SOURCE_DIR, "scripts", script + ".lua")
        return json.loads(self.gw.ctl("rules", "test", path, "--function", fn, "--input",
                                      json.dumps(args), json_out=False))

    def test_the_policies_say_how_far_their_calendars_reach(self):
        for script in ("attendance_students", "attendance_teaching"):
            self.assertEqual(self.rule(script, "calendar", {}), {"known_until": "2027-12-31"})
        # 2027-03-01, a Monday of the sample spring term 2027: a school day, not vacation.
        self.assertEqual(self.rule("attendance_students", "classify", {
            "weekday": 1, "date": "2027-03-01"})["workday"], True)
        # An attempt to apply for leave after the calendar, from today (2026-11-25).
        self.staff("T1")
        self.gw.ctl("attendance", "balance-set", "T1", "annual", "5", "--year", "2028")
        self.ctl_fails("CALENDAR_UNKNOWN", "attendance", "leave-apply", "T1", "annual",
                       "2028-01-04", "2028-01-04")


class SmallFixes(AttendanceCase):
    """Finding 4."""

    def test_holidays_year_is_checked(self):
        self.gw.ctl("attendance", "holiday-add", "2026-12-14", "--department", "CS")
        for bad in ("abc", "26", "1999", "2026-12"):
            self.ctl_fails("BAD_REQUEST", "attendance", "holidays", "--year", bad)
        self.assertEqual([r["date"] for r in self.gw.ctl("attendance", "holidays", "--year",
                                                         "2026")], ["2026-12-14"])
        self.assertEqual(self.gw.ctl("attendance", "holidays", "--year", "2027"), [])

    def test_kiosk_balance_says_what_is_wrong_with_the_year(self):
        s1 = self.student("S1")
        self.terminal("KIOSK-1", "kiosk")
        r = self.swipe(s1, "KIOSK-1", "ATTENDANCE.BALANCE", 0, "1999")
        self.assertError(r, "BAD_REQUEST")
        self.assertIn("year 1999 is out of range: 2000 to 2199", r.line)
        r = self.swipe(s1, "KIOSK-1", "ATTENDANCE.BALANCE", 0, "abc")
        self.assertError(r, "BAD_REQUEST")
        self.assertIn("the year is a number like 2026, not 'abc'", r.line)
        r = self.swipe(s1, "KIOSK-1", "ATTENDANCE.BALANCE", 0, "2026", "x")
        self.assertError(r, "BAD_REQUEST")
        self.assertIn("usage", r.line)
        self.assertEqual(len(self.swipe(s1, "KIOSK-1", "ATTENDANCE.BALANCE", 0, "2026")), 6)

    def test_overtime_dates_within_a_year_of_today(self):
        s1 = self.student("S1")
        self.staff("T1")
        self.terminal("KIOSK-1", "kiosk")
        for date in ("2000-01-01", "2199-12-31", "2025-11-23", "2027-11-27"):
            err = self.ctl_fails("DATE_OUT_OF_RANGE", "attendance", "overtime-apply", "T1",
                                 date)
            self.assertIn("within 366 days of today (%s)" % TODAY, err)
            self.assertError(self.swipe(s1, "KIOSK-1", "ATTENDANCE.OVERTIME", 0, date),
                             "DATE_OUT_OF_RANGE")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM attendance_overtime"), [(0,)])
        self.gw.ctl("attendance", "overtime-apply", "T1", "2025-11-25")
        self.gw.ctl("attendance", "overtime-apply", "T1", "2026-12-20")

    def test_stored_summary_time_is_readable(self):
        self.staff("T1")
        self.operator("infocentre", "auditor")
        self.correct("T1", "2026-10-13", "08:20", "17:00")
        self.gw.ctl("attendance", "report", "--month", "2026-10")
        row = self.as_("infocentre", "attendance", "summary", "--month", "2026-10",
                       "--stored")[0]
        self.assertRegex(row["stored_at"], r"^2026-11-2[456]T\d\d:\d\d:\d\dZ$")
        live = self.as_("infocentre", "attendance", "summary", "--month", "2026-10")[0]
        self.assertEqual(live["stored_at"], "")

    def test_no_review_while_days_of_the_month_are_open(self):
        self.staff("T1")
        self.staff("E1", department="EE")
        self.cs_operators()
        self.gw.sql_write("INSERT INTO attendance_days (person_id, date, minutes_in) VALUES "
                          "(?, '2026-10-20', 480)", self.person_id("T1"))
        self.as_("csadmin", "attendance", "enrol", "T1")
        err = self.fails_as("cshead", "DAYS_OPEN", "attendance", "review", "CS", "--month",
                            "2026-10")
        self.assertIn("2026-10 of CS has 1 open day (the first on 2026-10-20)", err)
        self.assertIn("attendance close DATE", err)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM attendance_reviews"), [(0,)])
        self.gw.ctl("attendance", "close", "2026-10-20")
        self.as_("cshead", "attendance", "review", "CS", "--month", "2026-10")
        self.assertEqual(self.stats(who="cshead")["T1"]["reviewed_by"], "cshead")

    def test_one_day_is_singular(self):
        self.staff("T1")
        self.cs_operators()
        self.as_("csadmin", "attendance", "balance-set", "T1", "annual", "1", "--year", "2026")
        lid = self.as_("csadmin", "attendance", "leave-apply", "T1", "annual", "2026-12-14",
                       "2026-12-14")["id"]
        err = self.fails_as("csadmin", "INSUFFICIENT_BALANCE", "attendance", "leave-apply", "T1",
                            "annual", "2026-12-15", "2026-12-15")
        self.assertIn("annual leave 2026: asked 1 day, 0 left (1 granted, 0 used, 1 pending)",
                      err)
        err = self.fails_as("csadmin", "INSUFFICIENT_BALANCE", "attendance", "leave-apply", "T1",
                            "sick", "2026-12-15", "2026-12-15")
        self.assertIn("T1 has no sick leave balance for 2026 (asked 1 day)", err)
        self.as_("cshead", "attendance", "leave-approve", str(lid))
        self.assertIn("annual leave 2026-12-14 to 2026-12-14 (1 day) approved",
                      [n["message"] for n in self.notices("T1", "leave")])
        err = self.fails_as("csadmin", "BAD_BALANCE", "attendance", "balance-set", "T1",
                            "annual", "0", "--year", "2026")
        self.assertIn("1 day is used and 0 pending", err)
        details = [r[0] for r in self.gw.sql("SELECT detail FROM audit WHERE action IN "
                                             "('attendance.leave-apply', "
                                             "'attendance.balance-set') ORDER BY id")]
        self.assertEqual(details, ["annual 2026: 0 -> 1 day", "T1 annual 2026-12-14..2026-12-14 "
                                   "1 day"])
        self.assertFalse([d for d in details if re.search(r"\b1 days\b", d)])


class PunchesAroundMidnight(AttendanceCase):
    """A sign-out is the out of the stay it ends. One at 02:00 with nobody signed in the
    night before is no stay's end: the day's sign-in at 07:50 must not read "in 07:50, out
    02:00". One before overnight_until after a sign-in the day before belongs to that day
    (each of them, not only the first), and reads with its real date."""

    def setUp(self):
        super().setUp()
        self.terminal("ATT-1", "attendance")
        self.terminal("KIOSK-1", "kiosk")

    def at(self, card, verb, date, hhmm):
        return self.swipe(card, "ATT-1", "ATTENDANCE." + verb, 0,
                          time_ms=self.local_ms(datetime.date.fromisoformat(date), hhmm))

    def kiosk_days(self, card):
        return [r[:3] for r in self.swipe(card, "KIOSK-1", "ATTENDANCE.RECORDS", 0, TODAY[:7])]

    def punches(self):
        return self.gw.sql("SELECT date, direction, minutes FROM attendance_punches ORDER BY id")

    def test_a_sign_out_before_the_days_sign_in_is_not_its_out(self):
        t1 = self.staff("T1")
        # Nobody signed in yesterday: nothing to close, the punch is today's.
        self.assertEqual(self.punch(t1, "SIGNOUT", "02:00")[:3], ["out", TODAY, "02:00"])
        self.assertEqual(self.punch(t1, "SIGNIN", "07:50")[:4],
                         ["in", TODAY, "07:50", "on time"])
        d = self.day("T1", TODAY)
        self.assertEqual((d["in"], d["out"]), ("07:50", ""))
        self.assertEqual(self.kiosk_days(t1), [[TODAY, "07:50", ""]])
        # The stay's own sign-out is the day's; every punch is kept.
        self.assertEqual(self.punch(t1, "SIGNOUT", "17:10")[:4],
                         ["out", TODAY, "17:10", "on time"])
        d = self.day("T1", TODAY)
        self.assertEqual((d["in"], d["out"]), ("07:50", "17:10"))
        self.assertEqual(self.punches(), [(TODAY, "out", 120), (TODAY, "in", 470),
                                          (TODAY, "out", 1030)])

    def test_a_sign_out_after_midnight_does_not_reopen_a_stay_that_ended(self):
        t1 = self.staff("T1")
        self.cs_operators()
        self.enrolled_long_ago()
        yday = (CAMPUS[2] - datetime.timedelta(days=1)).isoformat()
        self.as_("csadmin", "attendance", "correct", "T1", yday, "--in", "08:00", "--out",
                 "17:00", "--reason", "forgot")
        # Yesterday's stay ended at 17:00: 02:00 is today's, not a 510-minute night.
        self.assertEqual(self.punch(t1, "SIGNOUT", "02:00")[:3], ["out", TODAY, "02:00"])
        d = self.day("T1", yday)
        self.assertEqual((d["in"], d["out"]), ("08:00", "17:00"))

    def test_a_correction_of_the_sign_in_drops_a_stray_earlier_sign_out(self):
        t1 = self.staff("T1")
        self.cs_operators()
        self.punch(t1, "SIGNOUT", "02:00")
        # as the card's sign-in would: the stray sign-out is not the day's out
        self.as_("csadmin", "attendance", "correct", "T1", TODAY, "--in", "07:50", "--reason",
                 "forgot")
        d = self.day("T1", TODAY)
        self.assertEqual((d["in"], d["out"]), ("07:50", ""))

    def test_every_sign_out_before_overnight_until_closes_the_night_before(self):
        t1 = self.staff("T1")
        self.cs_operators()
        # a night shift (a card's time is within a day of the gateway's: 22:00, not 07:50)
        self.assertEqual(self.at(t1, "SIGNIN", YESTERDAY, "22:00")[:3],
                         ["in", YESTERDAY, "22:00"])
        self.assertEqual(self.punch(t1, "SIGNOUT", "01:00")[:3],
                         ["out", YESTERDAY, TODAY + " 01:00"])
        # the second one stayed on today, and today's 07:50 sign-in read "out 02:00"
        self.assertEqual(self.punch(t1, "SIGNOUT", "02:00")[:3],
                         ["out", YESTERDAY, TODAY + " 02:00"])
        self.punch(t1, "SIGNIN", "07:50")
        self.assertEqual(self.kiosk_days(t1), [[YESTERDAY, "22:00", TODAY + " 02:00"],
                                               [TODAY, "07:50", ""]])
        self.assertEqual(self.day("T1", YESTERDAY)["out"], TODAY + " 02:00")
        self.assertEqual(self.day("T1", TODAY)["out"], "")
        self.assertEqual(self.punches(), [(YESTERDAY, "in", 1320), (YESTERDAY, "out", 1500),
                                          (YESTERDAY, "out", 1560), (TODAY, "in", 470)])
        # The night counts for yesterday's overtime: 22:00 to 02:00 next morning.
        oid = self.as_("csadmin", "attendance", "overtime-apply", "T1", YESTERDAY)["id"]
        rec = self.as_("cshead", "attendance", "overtime-approve", str(oid))
        self.assertEqual((rec["minutes"], rec["hours"]), (240, "4.00"))
        # A correction reads the same way, and says how to write a time after midnight.
        rec = self.correct("T1", "2026-11-23", "22:00", "26:30")
        self.assertEqual((rec["in"], rec["out"]), ("22:00", "2026-11-24 02:30"))
        err = self.ctl_fails("BAD_TIME", "attendance", "correct", "T1", "2026-11-20", "--in",
                             "07:50", "--out", "02:00", "--reason", "forgot the card")
        self.assertIn("the sign-out 02:00 is before the sign-in 07:50", err)
        self.assertIn("26:00", err)


class NoOvernightRule(AttendanceCase):
    """overnight_until = 00:00: no sign-out counts for the day before."""

    sets = dict(BASE_SETS, **{"plugin.attendance.overnight_until": "00:00"})

    def test_a_sign_out_at_two_is_its_own_days_and_not_the_out_of_its_sign_in(self):
        self.terminal("ATT-1", "attendance")
        t1 = self.staff("T1")
        self.swipe(t1, "ATT-1", "ATTENDANCE.SIGNIN", 0,
                   time_ms=self.local_ms(CAMPUS[2] - datetime.timedelta(days=1), "22:00"))
        self.assertEqual(self.punch(t1, "SIGNOUT", "02:00")[:3], ["out", TODAY, "02:00"])
        self.punch(t1, "SIGNIN", "07:50")
        self.assertEqual(self.day("T1", YESTERDAY)["out"], "")
        d = self.day("T1", TODAY)
        self.assertEqual((d["in"], d["out"]), ("07:50", ""))


class OvernightUntilLimit(unittest.TestCase):
    """overnight_until is HH:MM from 00:00 to 12:00; yktd refuses anything else at start,
    with the refusal docs/plugins/attendance.md quotes."""

    def start(self, value):
        gw = Gateway(sets=dict(BASE_SETS, **{"plugin.attendance.overnight_until": value}),
                     start=False, env=BASE_ENV)
        self.addCleanup(shutil.rmtree, gw.dir, True)
        return subprocess.run(gw.command(), capture_output=True, text=True, timeout=30,
                              cwd=gw.dir, env={**os.environ, **BASE_ENV}, stdin=subprocess.DEVNULL)

    def test_the_limit_is_enforced_and_documented(self):
        with open(os.path.join(SOURCE_DIR, "docs", "plugins", "attendance.md"),
                  encoding="utf-8") as f:
            doc = f.read()
        for value in ("12:01", "13:00", "6:00", "24:00"):
            p = self.start(value)
            self.assertNotEqual(p.returncode, 0)
            refusal = ("plugin attendance: overnight_until must be HH:MM from 00:00 to 12:00, "
                       "not '%s'" % value)
            self.assertIn(refusal, p.stderr)
            self.assertNotIn("ready:", p.stderr)
        row = re.search(r"^\| `overnight_until` \| `06:00` \|.*$", doc, re.M)
        self.assertTrue(row, "overnight_until has no row in docs/plugins/attendance.md")
        self.assertIn("from `00:00` to `12:00`", row.group(0))
        self.assertIn("`overnight_until must be HH:MM from 00:00 to 12:00, not '13:00'`",
                      row.group(0))
        gw = Gateway(sets=dict(BASE_SETS, **{"plugin.attendance.overnight_until": "12:00"}),
                     env=BASE_ENV)
        self.addCleanup(gw.cleanup)
        self.assertIn("ready:", gw.log_text())


class OvertimeRepliesInHours(AttendanceCase):
    """Overtime is counted in minutes and hours of a day: its replies say which day and how
    long (once known), not a leave's "days 0"."""

    def test_apply_approve_reject_and_list(self):
        self.staff("T1")
        self.cs_operators()
        past = self.as_("csadmin", "attendance", "overtime-apply", "T1", "2026-10-13",
                        "--reason", "迎评")
        self.assertNotIn("days", past)
        self.assertEqual(past, {"id": past["id"], "person": "T1", "date": "2026-10-13",
                                "status": "pending", "minutes": "", "hours": ""})
        text = self.as_("csadmin", "attendance", "overtime-apply", "T1", TODAY, json_out=False)
        self.assertNotIn("days", text)
        self.assertIn(TODAY, text)
        today = self.gw.sql("SELECT id FROM attendance_overtime WHERE date = ?", TODAY)[0][0]
        rejected = self.as_("csadmin", "attendance", "overtime-apply", "T1", "2026-10-14")["id"]
        # A past day's minutes are known at approval: 17:30 to 19:10, in half hours.
        self.correct("T1", "2026-10-13", "08:00", "19:10")
        rec = self.as_("cshead", "attendance", "overtime-approve", str(past["id"]))
        self.assertEqual(rec, {"id": past["id"], "person": "T1", "date": "2026-10-13",
                               "status": "approved", "minutes": 90, "hours": "1.50"})
        # Today is not over: not yet counted, rather than 0.
        rec = self.as_("cshead", "attendance", "overtime-approve", str(today))
        self.assertEqual((rec["date"], rec["status"], rec["minutes"], rec["hours"]),
                         (TODAY, "approved", "", ""))
        rec = self.as_("cshead", "attendance", "overtime-reject", str(rejected), "--note", "no")
        self.assertEqual((rec["date"], rec["status"], rec["minutes"], rec["hours"]),
                         ("2026-10-14", "rejected", "", ""))
        rows = {r["id"]: (r["date"], r["minutes"], r["hours"])
                for r in self.gw.ctl("attendance", "overtimes", "--person", "T1")}
        self.assertEqual(rows, {past["id"]: ("2026-10-13", 90, "1.50"), today: (TODAY, "", ""),
                                rejected: ("2026-10-14", "", "")})


if __name__ == "__main__":
    unittest.main()


UTC8 = datetime.timezone(datetime.timedelta(hours=8))


class NightSignOutIntoReviewedMonth(AttendanceCase):
    """A sign-out after midnight that would close the night before does not change a month
    the head has reviewed (corrections of it are refused MONTH_REVIEWED): it is the new
    day's. The clock is 2026-12-01 01:00, the night from 2026-11-30."""

    def setUp(self):
        self.offset = int(datetime.datetime(2026, 12, 1, 1, 0, tzinfo=UTC8).timestamp() *
                          1000) - int(time.time() * 1000)
        self.env = dict(BASE_ENV, YKT_TEST_CLOCK_OFFSET_MS=str(self.offset))
        super().setUp()
        self.terminal("ATT-1", "attendance")
        self.cs_operators()

    def at(self, date, hhmm):
        h, m = map(int, hhmm.split(":"))
        return int(datetime.datetime.fromisoformat(date).replace(
            hour=h, minute=m, tzinfo=UTC8).timestamp() * 1000)

    def test_a_night_sign_out_leaves_a_reviewed_month_alone(self):
        t1 = self.staff("T1")
        self.swipe(t1, "ATT-1", "ATTENDANCE.SIGNIN", 0, time_ms=self.at("2026-11-30", "22:00"))
        self.gw.ctl("attendance", "close", "2026-11-30")
        self.as_("cshead", "attendance", "review", "CS", "--month", "2026-11")
        before = self.day("T1", "2026-11-30")
        r = self.swipe(t1, "ATT-1", "ATTENDANCE.SIGNOUT", 0, time_ms=self.at("2026-12-01", "00:50"))
        self.assertEqual(r[:3], ["out", "2026-12-01", "00:50"])
        self.assertEqual(self.day("T1", "2026-11-30"), before)
