"""Cardholders end to end (R-P1..R-P3, R-S2): registering people with their ID numbers checked
and their validity derived, masked personal data everywhere except the audited identity check,
department roles that see only their own people, auditors who change nothing, and the CSV
import from the student office and HR (UTF-8 and GBK, all or nothing, every bad row reported,
re-import updates, dry runs, extensions kept, 5,000 rows).

Every test starts the real yktd and drives it with yktctl over the admin socket (and, for the
masked name of CARD.INFO, a software card on the terminal port).
"""

import datetime
import json
import os
import unittest

from harness import MASTER_KEY, GatewayTest, prc_id
from ykt_cards import SimCard

ROLE_PASSWORD = "role-pass-12345"


def masked_id(idn):
    return idn[:3] + "*" * 11 + idn[-4:]


class PeopleCase(GatewayTest):
    def setUp(self):
        super().setUp()
        self.people = 0

    def new_id_number(self, birth="20050307"):
        self.people += 1
        return prc_id("110105" + birth + "%03d" % self.people)

    def person_args(self, no, kind="student", name="张三", gender="M", idn=None,
                    department="CS", klass="CS-2025-1", enrolled="2025-09-01", years="4",
                    until="2030-12-31", phone="13812345678"):
        idn = idn or self.new_id_number()
        args = ["person", "add", no, "--kind", kind, "--name", name, "--gender", gender,
                "--id-number", idn, "--department", department]
        if phone:
            args += ["--phone", phone]
        if kind == "student":
            if klass is not None:
                args += ["--class", klass]
            if enrolled is not None:
                args += ["--enrolled", enrolled]
            if years is not None:
                args += ["--study-years", years]
        elif until is not None:
            args += ["--valid-until", until]
        return args, idn

    def add_person(self, no, **kw):
        args, idn = self.person_args(no, **kw)
        self.gw.ctl(*args)
        return idn

    def ctl_fails(self, code, *args, **kw):
        p = self.gw.ctl(*args, check=False, **kw)
        self.assertEqual(p.returncode, 1, "expected %s, got %d: %r %r"
                         % (code, p.returncode, p.stdout, p.stderr))
        self.assertTrue(p.stderr.startswith("yktctl: %s " % code), p.stderr)
        return p.stderr

    def write(self, name, text, encoding="utf-8"):
        path = os.path.join(self.gw.dir, name)
        with open(path, "wb") as f:
            f.write(text.encode(encoding) if isinstance(text, str) else text)
        return path

    def import_file(self, path, *args):
        return self.gw.ctl("person", "import", path, *args)

    def rejected(self, path, *args):
        """Runs an import that must be refused; returns [(line, field, reason)]."""
        p = self.gw.ctl("person", "import", path, *args, check=False)
        self.assertEqual(p.returncode, 1, (p.stdout, p.stderr))
        self.assertIn("REJECTED", p.stderr)
        return [(r["line"], r["field"], r["reason"]) for r in json.loads(p.stdout)], p

    def count_people(self):
        return self.gw.sql("SELECT count(*) FROM people")[0][0]


# ---- registering people (R-P1, R-P2) ---------------------------------------------------------


class PersonAddTest(PeopleCase):
    def test_every_field_is_checked(self):
        good = prc_id("11010520050307123")
        bad_check = good[:17] + ("0" if good[17] != "0" else "1")
        bad_date = prc_id("11010520051332123")  # right check digit, 13th month
        feb30 = prc_id("11010520050230123")
        cases = [
            (dict(idn=bad_check), "id_number: wrong check digit"),
            (dict(idn=bad_date), "id_number: the birth date"),
            (dict(idn=feb30), "id_number: the birth date"),
            (dict(idn="1101052005030712"), "id_number: must have 18 characters"),
            (dict(idn="11010520050307A23X"), "id_number"),
            (dict(gender="X"), "gender"),
            (dict(gender="X"), "gender"),
            (dict(klass=None), "class: required for students"),
            (dict(enrolled=None), "enrolled_on"),
            (dict(enrolled="2025-02-30"), "enrolled_on"),
            (dict(years=None), "study_years"),
            (dict(years="9"), "study-years"),
            (dict(kind="visitor"), "kind"),
            (dict(phone="call me"), "phone"),
            (dict(name=""), "name"),
            (dict(department=""), "department"),
            (dict(kind="staff", until=None), "valid_until"),
            (dict(kind="temporary", until="2030-13-01"), "valid_until"),
        ]
        for kw, why in cases:
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                args, _ = self.person_args("S1", **kw)
                err = self.ctl_fails("BAD_REQUEST", *args)
                self.assertIn(why, err)
        self.ctl_fails("BAD_REQUEST", *self.person_args("bad no!")[0])
        self.assertEqual(self.count_people(), 0)
        self.assertEqual(self.gw.ctl("audit", "list"), [])
        # one person per person number and per ID number
        self.add_person("S1", idn=good)
        self.ctl_fails("EXISTS", *self.person_args("S1")[0])
        err = self.ctl_fails("EXISTS", *self.person_args("S2", idn=good)[0])
        self.assertIn("belongs to person S1", err)
        self.assertNotIn(good, err)
        self.add_person("S2")
        err = self.ctl_fails("EXISTS", "person", "update", "S2", "--id-number", good)
        self.assertEqual(self.count_people(), 2)
        # a lower-case x is the same check character
        x_id = next(prc_id("110105" + "19900101" + "%03d" % n) for n in range(1000)
                    if prc_id("110105" + "19900101" + "%03d" % n).endswith("X"))
        self.add_person("S3", idn=x_id[:17] + "x")
        self.assertEqual(self.gw.sql("SELECT id_number FROM people WHERE person_no = 'S3'"),
                         [(x_id,)])

    def test_gender_as_the_import_takes_it(self):
        for no, gender, stored in (("G1", "男", "M"), ("G2", "女", "F"), ("G3", "female", "F")):
            args, _ = self.person_args(no, gender=gender)
            self.gw.ctl(*args)
            self.assertEqual(self.gw.ctl("person", "show", no)["gender"], stored)

    def test_validity_comes_from_enrolment_contract_or_approval(self):
        self.add_person("S1", enrolled="2025-09-01", years="4")
        self.add_person("S2", enrolled="2025-09-01", years="5")
        self.add_person("S3", enrolled="2024-03-01", years="2")
        self.add_person("T1", kind="staff", until="2031-06-30")
        self.add_person("V1", kind="temporary", until="2027-01-15")
        got = {no: (p["valid_until"], p["validity_source"]) for no, p in
               ((no, self.gw.ctl("person", "show", no)) for no in ("S1", "S2", "S3", "T1",
                                                                  "V1"))}
        self.assertEqual(got, {
            "S1": ("2029-07-31", "study_length"),   # July 31 of enrolment year + length
            "S2": ("2030-07-31", "study_length"),
            "S3": ("2026-07-31", "study_length"),
            "T1": ("2031-06-30", "contract"),
            "V1": ("2027-01-15", "approved"),
        })
        # a student's validity is always derived: a given one is not taken
        args, _ = self.person_args("S4")
        self.gw.ctl(*args, "--valid-until", "2040-01-01")
        self.assertEqual(self.gw.ctl("person", "show", "S4")["valid_until"], "2029-07-31")
        # a changed length of study reaches the cards
        card = self.gw.ctl("card", "issue", "S1")
        self.gw.ctl("person", "update", "S1", "--study-years", "5")
        self.assertEqual(self.gw.ctl("person", "show", "S1")["valid_until"], "2030-07-31")
        self.assertEqual(self.gw.ctl("card", "show", card["card_no"])["valid_until"],
                         "2030-07-31")
        self.assertEqual(self.gw.ctl("person", "update", "S1", "--study-years", "5"),
                         {"status": "OK unchanged"})
        audit = self.gw.ctl("audit", "list", "--action", "person.update")
        self.assertEqual(len(audit), 1)
        self.assertIn("2029-07-31 -> 2030-07-31", audit[0]["detail"])


# ---- personal data is confidential (R-P3) ----------------------------------------------------


class PrivacyTest(PeopleCase):
    def test_id_and_phone_are_masked_everywhere_but_the_audited_reveal(self):
        secret = self.gw.add_terminal("POS-1", "pos")
        idn = self.add_person("S1", name="欧阳娜娜", phone="13812345678")
        rec = self.gw.ctl("card", "issue", "S1")
        show = self.gw.ctl("person", "show", "S1")
        self.assertEqual((show["id_number"], show["phone"]), (masked_id(idn), "138****5678"))
        rows = self.gw.ctl("person", "list")
        self.assertEqual([(r["id_number"], r["phone"]) for r in rows],
                         [(masked_id(idn), "138****5678")])
        outputs = [self.gw.ctl("person", "show", "S1", json_out=False),
                   self.gw.ctl("person", "list", json_out=False),
                   self.gw.ctl("card", "show", rec["card_no"], json_out=False),
                   self.gw.ctl("card", "list", "--person", "S1", json_out=False),
                   self.gw.ctl("card", "history", rec["card_no"], json_out=False),
                   self.gw.ctl("approval", "list", "S1", json_out=False),
                   self.gw.ctl("account", "show", "S1", json_out=False),
                   str(rec)]
        # a terminal sees the name masked to its first character
        pos = self.gw.terminal("POS-1", secret)
        card = SimCard(MASTER_KEY, uid=rec["uid"])
        info = pos.call(*card.swipe("POS-1", 1, "CARD.INFO"))
        self.assertEqual(info[3], "欧***")
        outputs.append(str(info))
        for out in outputs:
            self.assertNotIn(idn, out)
            self.assertNotIn("13812345678", out)
        # the counter's identity check shows them, with a reason, and is audited
        self.ctl_fails("BAD_REQUEST", "person", "reveal", "S1")
        self.ctl_fails("NOT_FOUND", "person", "reveal", "NOBODY", "--reason", "x")
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "person.reveal"), [])
        shown = self.gw.ctl("person", "reveal", "S1", "--reason", "replacement at counter 2")
        self.assertEqual((shown["id_number"], shown["phone"]), (idn, "13812345678"))
        audit = self.gw.ctl("audit", "list", "--action", "person.reveal")
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit[0]["target"], "S1")
        self.assertIn("replacement at counter 2", audit[0]["detail"])
        # neither the audit trail nor the log holds the numbers
        trail = str(self.gw.ctl("audit", "list"))
        self.assertNotIn(idn, trail)
        self.assertNotIn("13812345678", trail)
        log = self.gw.log_text()
        self.assertNotIn(idn, log)
        self.assertNotIn("13812345678", log)

    def test_terminal_names_are_masked_by_character(self):
        pos = self.gw.terminal("POS-1", self.gw.add_terminal("POS-1", "pos"))
        for i, (name, masked) in enumerate((("张三", "张*"), ("Chen Jing", "C********"),
                                            ("李", "李"))):
            no = "S%d" % i
            self.add_person(no, name=name)
            rec = self.gw.ctl("card", "issue", no)
            card = SimCard(MASTER_KEY, uid=rec["uid"])
            self.assertEqual(pos.call(*card.swipe("POS-1", i + 1, "CARD.INFO"))[3], masked)


# ---- roles (R-S2) ----------------------------------------------------------------------------


class RolesTest(PeopleCase):
    def setUp(self):
        super().setUp()
        self.add_person("S1", department="CS")
        self.add_person("S2", department="EE")
        self.cs_card = self.gw.ctl("card", "issue", "S1")["card_no"]
        self.ee_card = self.gw.ctl("card", "issue", "S2")["card_no"]

    def as_user(self, user, *args, check=True):
        return self.gw.ctl(*args, user=user, password=ROLE_PASSWORD, check=check)

    def refused_as(self, user, code, *args):
        return self.ctl_fails(code, *args, user=user, password=ROLE_PASSWORD)

    def test_department_roles_see_only_their_own_department(self):
        self.gw.add_operator("csadmin", "dept_admin", department="CS", password=ROLE_PASSWORD)
        self.gw.add_operator("cshead", "dept_head", department="CS", password=ROLE_PASSWORD)
        audit_rows = len(self.gw.ctl("audit", "list"))
        for user in ("csadmin", "cshead"):
            with self.subTest(user=user):
                self.assertEqual(self.as_user(user, "person", "show", "S1")["person_no"], "S1")
                self.assertEqual([p["person_no"] for p in self.as_user(user, "person", "list")],
                                 ["S1"])
                self.assertEqual(len(self.as_user(user, "person", "list", "--department",
                                                  "CS")), 1)
                self.assertEqual(self.as_user(user, "card", "show", self.cs_card)["person_no"],
                                 "S1")
                self.assertEqual(len(self.as_user(user, "card", "list", "--person", "S1")), 1)
                self.as_user(user, "card", "history", self.cs_card)
                self.as_user(user, "account", "show", "S1")
                self.as_user(user, "approval", "list", "S1")
                for args in (["person", "show", "S2"],
                             ["person", "list", "--department", "EE"],
                             ["card", "show", self.ee_card],
                             ["card", "history", self.ee_card],
                             ["card", "list", "--person", "S2"],
                             ["card", "list"],
                             ["account", "show", "S2"],
                             ["approval", "list", "S2"]):
                    err = self.refused_as(user, "FORBIDDEN", *args)
                    self.assertNotIn("needs role", err)  # refused for the department
                # and they change nothing at the counter
                for args in (["person", "reveal", "S1", "--reason", "x"],
                             ["person", "add"] + self.person_args("S9")[0][3:],
                             ["card", "loss", self.cs_card, "--id-number", "x"],
                             ["card", "batch-issue", "--department", "CS"],
                             ["account", "topup", "S1", "--amount", "1.00"],
                             ["audit", "list"]):
                    err = self.refused_as(user, "FORBIDDEN", *args)
                    self.assertIn("needs role", err)
        self.assertEqual(len(self.gw.ctl("audit", "list")) - audit_rows, 0)
        self.assertEqual(self.count_people(), 2)

    def test_auditors_read_everything_and_change_nothing(self):
        self.gw.add_operator("aud", "auditor", password=ROLE_PASSWORD)
        idn = self.gw.ctl("person", "reveal", "S1", "--reason", "setup")["id_number"]
        path = self.write("new.csv", "person_no,kind,name,gender,id_number,department,"
                          "valid_until\nT9,staff,王五,M,%s,HR,2030-12-31\n"
                          % self.new_id_number())
        for args in (["person", "show", "S2"], ["person", "list"],
                     ["card", "show", self.ee_card], ["card", "list"],
                     ["card", "history", self.cs_card], ["account", "show", "S1"],
                     ["approval", "list", "S1"], ["audit", "list"]):
            self.as_user("aud", *args)
        self.assertEqual(len(self.as_user("aud", "person", "list")), 2)
        audit_before = self.gw.ctl("audit", "list", "--limit", "1000")
        state = lambda: (self.gw.sql("SELECT * FROM people ORDER BY id"),
                         self.gw.sql("SELECT card_no, status, valid_until FROM cards"),
                         self.gw.sql("SELECT * FROM accounts"),
                         self.gw.sql("SELECT * FROM passwords"))
        before = state()
        for args in (["person", "add"] + self.person_args("S9")[0][3:],
                     ["person", "update", "S1", "--name", "李四"],
                     ["person", "import", path],
                     ["person", "reveal", "S1", "--reason", "curious"],
                     ["person", "set-status", "S1", "graduated"],
                     ["person", "report-death", "S1", "--reported-by", "hr"],
                     ["approval", "add", "S1", "--kind", "unit_leader", "--approver", "a",
                      "--ref", "b"],
                     ["card", "issue", "S1", "--medium", "phone"],
                     ["card", "batch-issue", "--department", "CS"],
                     ["card", "loss", self.cs_card, "--id-number", idn],
                     ["card", "unlock", self.cs_card, "--id-number", idn],
                     ["card", "replace", self.cs_card, "--id-number", idn],
                     ["card", "cancel", self.cs_card, "--id-number", idn, "--reason", "other"],
                     ["card", "extend", self.cs_card, "--until", "2035-01-01", "--proof", "x"],
                     ["card", "reset-password", self.cs_card, "--which", "query",
                      "--id-number", idn],
                     ["card", "found", self.cs_card, "--by", "x"],
                     ["card", "confiscate", self.cs_card, "--reason", "x"],
                     ["account", "topup", "S1", "--amount", "1.00"],
                     ["account", "refund", "S1", "--id-number", idn],
                     ["job", "run", "auto-cancel"]):
            with self.subTest(args=args[:2]):
                err = self.refused_as("aud", "FORBIDDEN", *args)
                self.assertIn("you are auditor", err)
        self.assertEqual(state(), before)
        self.assertEqual(self.gw.ctl("audit", "list", "--limit", "1000"), audit_before)

    def test_daily_jobs_are_for_the_superuser(self):
        self.gw.add_operator("op", "operator", password=ROLE_PASSWORD)
        self.refused_as("op", "FORBIDDEN", "job", "run", "auto-cancel")
        self.assertEqual(self.as_user("op", "person", "show", "S2")["person_no"], "S2")


# ---- CSV import (R-P2) -----------------------------------------------------------------------


STUDENT_HEADER = "学号,姓名,性别,身份证号,学院,班级,入学日期,学制,手机\n"


class ImportTest(PeopleCase):
    def students_csv(self, ids, phone1="13800000001"):
        return ("\ufeff" + STUDENT_HEADER +
                "2025010101,张三,男,%s,计算机学院,计科2501,2025/9/1,4,%s\n"
                "2025010102,李四,女,%s,计算机学院,计科2501,2025/9/1,4年,\n"
                "2025010103,欧阳娜娜,女,%s,\"外国语学院\",英语2501,2025-09-01,4,\n"
                % (ids[0], phone1, ids[1], ids[2]))

    def three_ids(self):
        return [self.new_id_number("2006%04d" % md) for md in (315, 722, 1109)]

    def test_utf8_students_with_bom_and_chinese_headers(self):
        ids = self.three_ids()
        path = self.write("students.csv", self.students_csv(ids))
        with open(path, "rb") as f:
            self.assertEqual(f.read(9), bytes.fromhex("EFBBBF") + "学号".encode())
        r = self.import_file(path, "--kind", "student", "--approval", "XSC-2025-01")
        self.assertEqual((r["file"], r["encoding"], r["rows"], r["inserted"], r["updated"],
                          r["unchanged"], r["dry_run"]),
                         ("students.csv", "utf-8", 3, 3, 0, 0, "no"))
        s1 = self.gw.ctl("person", "show", "2025010101")
        self.assertEqual((s1["name"], s1["kind"], s1["gender"], s1["department"], s1["class"],
                          s1["enrolled_on"], s1["study_years"], s1["valid_until"],
                          s1["validity_source"], s1["id_number"], s1["phone"]),
                         ("张三", "student", "M", "计算机学院", "计科2501", "2025-09-01", 4,
                          "2029-07-31", "study_length", masked_id(ids[0]), "138****0001"))
        s3 = self.gw.ctl("person", "show", "2025010103")
        self.assertEqual((s3["name"], s3["gender"], s3["department"], s3["valid_until"]),
                         ("欧阳娜娜", "F", "外国语学院", "2029-07-31"))
        audit = self.gw.ctl("audit", "list", "--action", "person.import")
        self.assertEqual((audit[0]["target"], audit[0]["approval"]),
                         ("students.csv", "XSC-2025-01"))
        self.assertIn("3 inserted", audit[0]["detail"])
        # importing the same file again changes nothing; a changed row is updated in place
        r = self.import_file(path, "--kind", "student")
        self.assertEqual((r["inserted"], r["updated"], r["unchanged"]), (0, 0, 3))
        path = self.write("students2.csv", self.students_csv(ids, phone1="13900000009"))
        r = self.import_file(path, "--kind", "student")
        self.assertEqual((r["inserted"], r["updated"], r["unchanged"]), (0, 1, 2))
        self.assertEqual(self.count_people(), 3)
        self.assertEqual(self.gw.ctl("person", "show", "2025010101")["phone"], "139****0009")
        # students can then be issued their cards in batch by department
        rows = self.gw.ctl("card", "batch-issue", "--department", "计算机学院")
        self.assertEqual([r["person_no"] for r in rows], ["2025010101", "2025010102"])

    def test_gbk_staff_file_from_hr(self):
        ids = [self.new_id_number("19800214"), self.new_id_number("19750830")]
        text = ("工号,姓名,性别,身份证号码,单位,合同截止,联系电话\r\n"
                "T19980012,王建国,男,%s,后勤处,2030-12-31,010-62751234\r\n"
                "T20150033,刘芳,女,%s,\"计算机学院, 软件系\",2028/8/31,\r\n" % tuple(ids))
        path = self.write("staff.csv", text, encoding="gbk")
        with open(path, "rb") as f:
            self.assertEqual(f.read(9), bytes.fromhex("B9A4BAC52CD0D5C3FB"))
        # read as UTF-8 only, it is refused whole
        p = self.gw.ctl("person", "import", path, "--kind", "staff", "--encoding", "utf-8",
                        check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("UTF-8", p.stderr)
        self.assertEqual(self.count_people(), 0)
        r = self.import_file(path, "--kind", "staff")
        self.assertEqual((r["encoding"], r["inserted"]), ("gbk", 2))
        t1 = self.gw.ctl("person", "show", "T19980012")
        self.assertEqual((t1["name"], t1["kind"], t1["department"], t1["valid_until"],
                          t1["validity_source"], t1["phone"]),
                         ("王建国", "staff", "后勤处", "2030-12-31", "contract", "010*****1234"))
        t2 = self.gw.ctl("person", "show", "T20150033")
        self.assertEqual((t2["name"], t2["gender"], t2["department"], t2["valid_until"]),
                         ("刘芳", "F", "计算机学院, 软件系", "2028-08-31"))
        r = self.import_file(path, "--kind", "staff", "--encoding", "gbk")
        self.assertEqual((r["encoding"], r["unchanged"]), ("gbk", 2))
        # imported staff still need their approvals for a card (R-C1)
        self.ctl_fails("APPROVAL_REQUIRED", "card", "issue", "T19980012")

    def test_kind_column_with_english_headers(self):
        ids = [self.new_id_number("19900101"), self.new_id_number("19850505"),
               self.new_id_number("20070101")]
        text = ("person_no,kind,name,gender,id_number,department,host,valid_until,class,"
                "enrolled_on,study_years\n"
                "V2025-001,temporary,Chen Jing,F,%s,国际交流处,王老师,2025-12-20,,,\n"
                "S20100007,staff,Zhou Ming,M,%s,Physics,,20300831,,,\n"
                "2025990001,学生,Li Lei,male,%s,Physics,,,P-2025,2025年9月1日,4\n" % tuple(ids))
        path = self.write("mixed.csv", text)
        self.assertEqual(self.import_file(path)["inserted"], 3)
        got = {no: self.gw.ctl("person", "show", no) for no in
               ("V2025-001", "S20100007", "2025990001")}
        self.assertEqual((got["V2025-001"]["kind"], got["V2025-001"]["host"],
                          got["V2025-001"]["valid_until"], got["V2025-001"]["validity_source"]),
                         ("temporary", "王老师", "2025-12-20", "approved"))
        self.assertEqual((got["S20100007"]["kind"], got["S20100007"]["valid_until"]),
                         ("staff", "2030-08-31"))
        self.assertEqual((got["2025990001"]["kind"], got["2025990001"]["gender"],
                          got["2025990001"]["enrolled_on"], got["2025990001"]["valid_until"]),
                         ("student", "M", "2025-09-01", "2029-07-31"))

    def test_bad_file_is_refused_whole_with_every_bad_row(self):
        a, b, c = (self.new_id_number("2006%04d" % md) for md in (315, 722, 1109))
        a_wrong = a[:17] + ("0" if a[17] != "0" else "1")
        text = ("学号,姓名,性别,身份证号,学院,班级,入学日期,学制\n"
                "2025010101,张三,男,%s,计算机学院,计科2501,2025/9/1,4\n"
                "2025010102,李四,X,%s,计算机学院,计科2501,2025/9/31,4\n"
                "2025010101,\"王\n五\",男,%s,计算机学院,计科2501,2025/9/1,4\n"
                "2025010105,赵六,女,%s,计算机学院,,2025/9/1,4\n"
                "2025010106,钱七,女,%s,计算机学院,计科2501,2025/9/1\n"
                % (a, b, a_wrong, a, c))
        path = self.write("mistakes.csv", text)
        rows, p = self.rejected(path, "--kind", "student")
        self.assertEqual([(line, field) for line, field, _ in rows], [
            (3, "gender"), (3, "enrolled_on"),
            (4, "person_no"), (4, "name"), (4, "id_number"),
            (6, "id_number"), (6, "class"),
            (7, "row"),
        ])
        reasons = {(line, field): why for line, field, why in rows}
        self.assertIn("also on line 2", reasons[(4, "person_no")])
        self.assertIn("check", reasons[(4, "id_number")])
        self.assertIn("also on line 2", reasons[(6, "id_number")])
        self.assertIn("required for students", reasons[(6, "class")])
        self.assertIn("7 fields", reasons[(7, "row")])
        # nothing was imported, not even the good first row, and nothing was audited
        self.assertEqual(self.count_people(), 0)
        self.assertEqual(self.gw.ctl("audit", "list"), [])
        # the report never repeats an ID number (R-P3)
        for idn in (a, b, c, a_wrong):
            self.assertNotIn(idn, p.stdout + p.stderr)
        # the text form is a table with the same rows
        p = self.gw.ctl("person", "import", path, "--kind", "student", check=False,
                        json_out=False)
        self.assertEqual(p.returncode, 1)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["line", "field", "reason"])
        self.assertEqual(len(lines), 1 + 8)

    def test_file_level_problems(self):
        path = self.write("empty.csv", "")
        rows, _ = self.rejected(path, "--kind", "student")
        self.assertEqual([(line, field) for line, field, _ in rows], [(1, "header")])
        path = self.write("notes.csv", STUDENT_HEADER.strip() + ",备注\n")
        rows, _ = self.rejected(path, "--kind", "student")
        self.assertEqual([(line, field) for line, field, _ in rows], [(1, "header")])
        path = self.write("unicode.csv", STUDENT_HEADER, encoding="utf-16")
        p = self.gw.ctl("person", "import", path, "--kind", "student", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("UTF-16", p.stderr)
        path = self.write("binary.csv", STUDENT_HEADER.encode() + b"1,\x00\n")
        p = self.gw.ctl("person", "import", path, "--kind", "student", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("NUL", p.stderr)
        self.assertIn("line 2", p.stderr)
        path = self.write("header-only.csv", STUDENT_HEADER)
        self.assertEqual(self.import_file(path, "--kind", "student")["rows"], 0)
        self.assertEqual(self.count_people(), 0)

    def test_id_number_of_another_person_is_refused(self):
        taken = self.add_person("S0001", name="赵一")
        ids = self.three_ids()
        text = (STUDENT_HEADER +
                "2025010101,张三,男,%s,计算机学院,计科2501,2025/9/1,4,\n"
                "2025010102,李四,女,%s,计算机学院,计科2501,2025/9/1,4,\n" % (ids[0], taken))
        path = self.write("conflict.csv", text)
        rows, p = self.rejected(path, "--kind", "student")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][:2], (3, "id_number"))
        self.assertIn("S0001", rows[0][2])
        self.assertNotIn(taken, p.stdout + p.stderr)
        rows, _ = self.rejected(path, "--kind", "student", "--dry-run")
        self.assertEqual(rows[0][:2], (3, "id_number"))
        self.assertEqual(self.count_people(), 1)
        self.assertEqual(self.gw.ctl("person", "show", "S0001")["department"], "CS")
        # the holder's own number in a row for the holder is no conflict: an update
        text = (STUDENT_HEADER +
                "S0001,赵一,男,%s,计算机学院,计科2501,2025/9/1,4,\n" % taken)
        r = self.import_file(self.write("own.csv", text), "--kind", "student")
        self.assertEqual((r["inserted"], r["updated"]), (0, 1))
        self.assertEqual(self.gw.ctl("person", "show", "S0001")["department"], "计算机学院")
        self.assertEqual(self.count_people(), 1)

    def test_dry_run_changes_nothing(self):
        ids = self.three_ids()
        path = self.write("students.csv", self.students_csv(ids))
        r = self.import_file(path, "--kind", "student", "--dry-run")
        self.assertEqual((r["dry_run"], r["inserted"], r["rows"]), ("yes", 3, 3))
        self.assertEqual(self.count_people(), 0)
        self.assertEqual(self.gw.ctl("audit", "list"), [])
        self.import_file(path, "--kind", "student")
        path2 = self.write("students2.csv", self.students_csv(ids, phone1="13900000009"))
        r = self.import_file(path2, "--kind", "student", "--dry-run")
        self.assertEqual((r["dry_run"], r["updated"], r["unchanged"]), ("yes", 1, 2))
        self.assertEqual(self.gw.ctl("person", "show", "2025010101")["phone"], "138****0001")
        self.assertEqual(len(self.gw.ctl("audit", "list", "--action", "person.import")), 1)
        # a dry run of a bad file reports the same problems
        bad = self.write("bad.csv", STUDENT_HEADER + "x,y,z\n")
        rows, _ = self.rejected(bad, "--kind", "student", "--dry-run")
        self.assertEqual(rows[0][:2], (2, "row"))

    def test_reimport_keeps_the_registry_extension_and_the_status(self):
        ids = self.three_ids()
        path = self.write("students.csv", self.students_csv(ids))
        self.import_file(path, "--kind", "student")
        card = self.gw.ctl("card", "issue", "2025010101")
        self.gw.ctl("card", "extend", "2025010101", "--until", "2030-07-31", "--proof",
                    "REG-YQ-2029-7")
        self.gw.ctl("person", "set-status", "2025010102", "suspended", "--ref", "REG-9")
        r = self.import_file(path, "--kind", "student")
        self.assertEqual((r["inserted"], r["updated"], r["unchanged"]), (0, 0, 3))
        path2 = self.write("students2.csv", self.students_csv(ids, phone1="13900000009"))
        r = self.import_file(path2, "--kind", "student")
        self.assertEqual(r["updated"], 1)
        s1 = self.gw.ctl("person", "show", "2025010101")
        self.assertEqual((s1["valid_until"], s1["validity_source"], s1["phone"]),
                         ("2030-07-31", "extension", "139****0009"))
        self.assertEqual(self.gw.ctl("card", "show", card["card_no"])["valid_until"],
                         "2030-07-31")
        self.assertEqual(self.gw.ctl("person", "show", "2025010102")["status"], "suspended")

    def test_roles_for_import(self):
        self.gw.add_operator("csadmin", "dept_admin", department="CS", password=ROLE_PASSWORD)
        self.gw.add_operator("olga", "operator", password=ROLE_PASSWORD)
        path = self.write("students.csv", self.students_csv(self.three_ids()))
        self.ctl_fails("FORBIDDEN", "person", "import", path, "--kind", "student",
                       user="csadmin", password=ROLE_PASSWORD)
        r = self.gw.ctl("people", "import", path, "--kind", "student", user="olga",
                        password=ROLE_PASSWORD)
        self.assertEqual(r["inserted"], 3)
        self.assertEqual(self.gw.ctl("audit", "list", "--action", "person.import")[0]["operator"],
                         "olga")

    def test_five_thousand_rows(self):
        n = 5000
        start = datetime.date(1990, 1, 1)
        lines = [STUDENT_HEADER]
        for i in range(n):
            birth = (start + datetime.timedelta(days=i)).strftime("%Y%m%d")
            idn = prc_id("110105" + birth + "%03d" % (i % 1000))
            lines.append("2025%06d,学生%d,%s,%s,院系%d,班%d,2025/9/1,4,138%08d\n"
                         % (i, i, "男女"[i % 2], idn, i % 10, i % 100, i))
        path = self.write("big.csv", "".join(lines))
        r = self.import_file(path, "--kind", "student")
        self.assertEqual((r["rows"], r["inserted"]), (n, n))
        self.assertEqual(self.count_people(), n)
        self.assertEqual(len(self.gw.ctl("person", "list", "--department", "院系3",
                                         "--limit", "100000")), n // 10)
        r = self.import_file(path, "--kind", "student")
        self.assertEqual((r["inserted"], r["updated"], r["unchanged"]), (0, 0, n))
        self.assertEqual(self.count_people(), n)


if __name__ == "__main__":
    unittest.main()
