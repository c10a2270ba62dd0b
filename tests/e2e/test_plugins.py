"""The plugin host and the Lua rules end to end: the real yktd loads tests/plugins/testplug.so
(built like an out-of-tree plugin) from [plugins] dir and serves its verbs, admin commands,
events, timers, tables and rule calls; plugins of another API version, missing ones, shared
objects that are not plugins and plugins whose init fails stop start-up with a precise line;
PAY's fee comes from scripts/fees.lua, a failing rule gives -RULE_ERROR and changes nothing,
hot reload of a broken script keeps the old one, and `yktctl rules list|reload|test` work.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

from harness import BUILD_DIR, SOURCE_DIR, Gateway, encode, wait_until
from test_wallet import WalletCase, abandon_request, retry_request, yuan

PLUGIN_SETS = {
    "plugin.testplug.enabled": "yes",
    "plugin.testplug.merchant": "canteen-1",
    "plugin.testplug.greeting": "你好",
}


def private_rules():
    """A copy of scripts/ the test may change (the gateway watches it)."""
    d = tempfile.mkdtemp(prefix="ykt-rules-")
    for name in os.listdir(os.path.join(SOURCE_DIR, "scripts")):
        if name.endswith(".lua"):
            shutil.copy(os.path.join(SOURCE_DIR, "scripts", name), d)
    return d


def save(path, text):
    """Writes a script the way editors do: a new file renamed over the old one."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class PluginCase(WalletCase):
    sets = PLUGIN_SETS

    def setUp(self):
        super().setUp()
        self.merchant("canteen-1")
        self.terminal("POS-1")
        self.terminal("GATE-1", "gate")
        self.terminal("DISP-1", "dispenser")

    def events(self):
        return self.conns["POS-1"].call("TESTPLUG.EVENTS")


class PluginHostTest(PluginCase):
    def test_loaded_plugin_is_listed_with_its_schema(self):
        rows = self.gw.ctl("plugin", "list")
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows[0]["plugin"], rows[0]["verb_prefix"], rows[0]["api_version"]),
                         ("testplug", "TESTPLUG", 1))
        self.assertTrue(rows[0]["file"].endswith("/plugins/testplug.so"), rows[0])
        # its two migrations ran once, into its own tables
        self.assertEqual(self.gw.sql("SELECT version FROM plugin_schema WHERE plugin = ?",
                                     "testplug"), [(2,)])
        tables = {r[0] for r in self.gw.sql("SELECT name FROM sqlite_schema WHERE type='table'")}
        self.assertTrue({"testplug_events", "testplug_notes"} <= tables, tables)
        self.assertIn("plugin testplug loaded from", self.gw.log_text())
        # a restart does not migrate again
        self.assertEqual(self.gw.stop(), 0)
        self.gw.start()
        self.assertNotIn("plugin testplug: migrated", self.gw.log_text())
        self.conns["POS-1"] = self.gw.terminal("POS-1", self.secrets["POS-1"])
        self.assertIsInstance(self.events(), list)

    def test_tables_of_a_newer_plugin_build_are_refused(self):
        # testplug knows two schema versions; its tables say a newer build wrote them
        self.assertEqual(self.gw.stop(), 0)
        con = sqlite3.connect(self.gw.db)
        con.execute("UPDATE plugin_schema SET version = 3 WHERE plugin = 'testplug'")
        con.commit()
        con.close()
        p = subprocess.run(self.gw.command(), capture_output=True, text=True, timeout=30,
                           cwd=self.gw.dir)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("plugin testplug: its tables are at schema version 3, newer than this "
                      "build of the plugin supports (2)", p.stderr)
        self.assertNotIn("ready:", p.stderr)
        con = sqlite3.connect(self.gw.db)
        self.assertEqual(con.execute("SELECT version FROM plugin_schema WHERE plugin = "
                                     "'testplug'").fetchall(), [(3,)])
        con.execute("UPDATE plugin_schema SET version = 2 WHERE plugin = 'testplug'")
        con.commit()
        con.close()
        self.gw.start()  # and tearDown's audit runs on it

    def test_plugin_verbs_only_for_their_terminal_types(self):
        self.assertEqual(self.conns["GATE-1"].call("TESTPLUG.ECHO", "hi"), "你好 hi @GATE-1")
        self.assertError(self.conns["POS-1"].call("TESTPLUG.ECHO", "hi"), "FORBIDDEN")
        self.assertError(self.conns["DISP-1"].call("TESTPLUG.ECHO", "hi"), "FORBIDDEN")
        self.assertError(self.conns["GATE-1"].call("TESTPLUG.CHARGE", "1"), "FORBIDDEN")
        self.assertError(self.conns["GATE-1"].call("TESTPLUG.NOPE"), "BAD_REQUEST")
        # a plugin's verbs need an authenticated terminal like any other
        anon = self.gw.client()
        self.assertError(anon.call("TESTPLUG.ECHO", "hi"), "NOAUTH")

    def test_charge_moves_money_once_through_the_wallet(self):
        card, rec, _ = self.holder("S1", "50.00")
        args = self.signed(card, "POS-1", "TESTPLUG.CHARGE", 1250)
        first = self.send("POS-1", args)
        pid = self.assertPaid(first, 1250, 3750)
        # the terminal retries: the same reply, the money moved once
        self.assertEqual(self.send("POS-1", args), first)
        self.assertEqual(self.gw.sql("SELECT count(*), sum(charged) FROM payments"), [(1, 1250)])
        self.assertEqual(self.gw.sql("SELECT merchant, terminal FROM payments WHERE id = ?", pid),
                         [("canteen-1", "POS-1")])
        # refusals are the wallet's own, and the plugin's table change is undone with them
        self.assertError(self.swipe(card, "POS-1", "TESTPLUG.CHARGE", 999999), "LIMIT_EXCEEDED")
        self.assertError(self.swipe(card, "POS-1", "TESTPLUG.CHARGE", 5000),
                           "INSUFFICIENT_FUNDS")
        self.assertEqual(self.gw.sql("SELECT n FROM testplug_events WHERE kind = 'charged'"),
                         [(1,)])
        self.assertEqual(self.balance("S1"), 3750)
        # a card that is not accepted never reaches the plugin
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", _)
        self.assertError(self.swipe(card, "POS-1", "TESTPLUG.CHARGE", 100), "CARD_LOST")

    def test_credit_hold_capture_and_void(self):
        card, _, _ = self.holder("S1", "50.00")
        self.assertEqual(self.swipe(card, "POS-1", "TESTPLUG.CREDIT", 300), [300, 5300])
        self.assertEqual(self.gw.sql("SELECT kind, memo FROM transfers WHERE amount = 300"),
                         [("credit_merchant", "unused service")])
        hold, balance = self.swipe(card, "DISP-1", "TESTPLUG.HOLD", 1000)
        self.assertEqual(balance, 4300)
        seq = self.next_seq("DISP-1")
        self.assertEqual(self.conns["DISP-1"].call("TESTPLUG.SETTLE", seq, hold, 400), [400, 4900])
        # captured once: a second settle of the same hold is refused, nothing moves
        self.assertError(self.conns["DISP-1"].call("TESTPLUG.SETTLE", self.next_seq("DISP-1"),
                                                     hold, 0), "HOLD_RESOLVED")
        hold2, balance = self.swipe(card, "DISP-1", "TESTPLUG.HOLD", 700)
        self.assertEqual(balance, 4200)
        self.assertEqual(self.conns["DISP-1"].call("TESTPLUG.SETTLE", self.next_seq("DISP-1"),
                                                   hold2, 0), [0, 4900])
        self.assertEqual(self.balance("S1"), 4900)

    def test_money_services_keep_their_rules_whatever_the_plugin_does(self):
        card, _, _ = self.holder("S1", "50.00")
        other, orec, _ = self.holder("S2", "50.00")
        before = (self.snapshot("S1"), self.snapshot("S2"))
        # a debit of a card that was not presented in this request
        self.assertError(self.swipe(card, "POS-1", "TESTPLUG.MISUSE", 500, "other-card",
                                    orec["card_no"]), "INTERNAL")
        # money moves once per request: the second credit undoes the whole request
        self.assertError(self.swipe(card, "POS-1", "TESTPLUG.MISUSE", 500, "twice"), "INTERNAL")
        r = self.swipe(card, "POS-1", "TESTPLUG.MISUSE", 500, "negative")
        self.assertError(r, "BAD_REQUEST")
        self.assertIn("amount", r.message)
        self.assertEqual((self.snapshot("S1"), self.snapshot("S2")), before)
        log = self.gw.log_text()
        self.assertIn("the card is not the one presented in this request", log)
        self.assertIn("money already moved in this request", log)
        # triggers (and views) would run later, beyond the authorizer: refused
        self.assertError(self.swipe(card, "POS-1", "TESTPLUG.MISUSE", 0, "trigger"), "DENIED")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' "
                                     "AND name = 'testplug_t'"), [(0,)])

    def test_own_tables_only(self):
        self.assertIsInstance(self.conns["POS-1"].call("TESTPLUG.PEEK", "own"), int)
        before = self.gw.sql("SELECT id, balance FROM accounts ORDER BY id")
        self.assertError(self.conns["POS-1"].call("TESTPLUG.PEEK", "people"), "DENIED")
        self.assertError(self.conns["POS-1"].call("TESTPLUG.PEEK", "accounts"), "DENIED")
        # SQLite's tables: the schema may be read, the core's AUTOINCREMENT counters not written
        self.assertGreater(self.conns["POS-1"].call("TESTPLUG.PEEK", "schema"), 10)
        self.gw.sql_write("CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT)")
        self.gw.sql_write("INSERT INTO counters DEFAULT VALUES")
        self.assertError(self.conns["POS-1"].call("TESTPLUG.PEEK", "sequence"), "DENIED")
        self.assertIn("statement writes sqlite_sequence; refused", self.gw.log_text())
        self.assertEqual(self.gw.sql("SELECT seq FROM sqlite_sequence"), [(1,)])
        self.assertEqual(self.gw.sql("SELECT id, balance FROM accounts ORDER BY id"), before)
        self.assertIn("statement touches table people, not its own; refused", self.gw.log_text())

    def test_events_reach_the_plugin_after_commit(self):
        card, rec, idn = self.holder("S1", "25.00")
        self.assertPaid(self.pay(card, 600), 600, 1900)  # below the 20.00 reminder threshold
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", idn)
        self.gw.ctl("card", "replace", rec["card_no"], "--id-number", idn)
        # a refused payment is no event
        self.assertError(self.pay(card, 100), "CARD_CANCELLED")

        def seen():
            e = self.events()
            return e[0] == 1 and e[1] >= 2 and e[2] == 1 and e[3] == 1 and e[4] > 0 and e[6] > 0
        self.assertTrue(wait_until(seen, 5), self.events())
        # loss, then cancellation of the replaced card
        self.assertIn("-> lost", self.gw.log_text())
        self.assertIn("-> cancelled", self.gw.log_text())

    def test_autotopup_request_reaches_the_plugin(self):
        card, _, _ = self.holder("S1", "60.00")
        self.gw.ctl("account", "settings", "S1", "--autotopup-below", "50",
                    "--autotopup-amount", "100")
        self.assertPaid(self.pay(card, 1500), 1500, 4500)
        self.assertTrue(wait_until(lambda: self.events()[5] == 1, 5), self.events())
        self.assertPaid(self.pay(card, 100), 100, 4400)  # already below: no second request
        time.sleep(0.2)
        self.assertEqual(self.events()[5], 1)

    def test_reverse_takes_back_what_is_there(self):
        card, _, _ = self.holder("S1", "50.00")
        self.assertEqual(self.swipe(card, "POS-1", "TESTPLUG.REVERSE", 3000), [3000, 2000])
        self.assertEqual(self.swipe(card, "POS-1", "TESTPLUG.REVERSE", 3000), [2000, 0])
        self.assertEqual(self.gw.sql("SELECT kind, amount FROM transfers WHERE kind LIKE "
                                     "'reversal%' ORDER BY id"),
                         [("reversal_bank", 3000), ("reversal_bank", 2000)])
        self.assertEqual(self.balance("S1"), 0)

    def test_password_check_off_the_loop(self):
        card, rec, _ = self.holder("S1", "10.00")
        pin = rec["initial_pay_password"]
        wrong = "%06d" % ((int(pin) + 1) % 1000000)
        self.assertEqual(self.swipe(card, "POS-1", "TESTPLUG.SECRET", 0, pin), "OK")
        self.assertError(self.swipe(card, "POS-1", "TESTPLUG.SECRET", 0, wrong), "BAD_PIN")
        self.assertError(self.swipe(card, "POS-1", "TESTPLUG.SECRET", 0, "12ab"), "BAD_REQUEST")
        self.assertNotIn(pin, self.gw.log_text())

    def test_a_callback_that_waits_again_gets_one_reply(self):
        card, rec, _ = self.holder("S1", "10.00")
        pin = rec["initial_pay_password"]
        wrong = "%06d" % ((int(pin) + 1) % 1000000)
        conn = self.conns["POS-1"]
        # pipelined behind it, a PING must get its own reply, after the one answer
        conn.send_raw(encode(*self.signed(card, "POS-1", "TESTPLUG.TWOPINS", 0, pin)) +
                      encode("PING"))
        self.assertEqual((conn.read(), conn.read()), ("OK", "PONG"))
        conn.send_raw(encode(*self.signed(card, "POS-1", "TESTPLUG.TWOPINS", 0, wrong)) +
                      encode("PING"))
        first = conn.read()
        self.assertError(first, "BAD_PIN")
        self.assertEqual(conn.read(), "PONG")
        self.assertEqual(conn.call("PING"), "PONG")  # and nothing more was queued
        self.assertNotIn("INTERNAL", self.gw.log_text())

    def test_hold_settled_without_a_request(self):
        card, _, _ = self.holder("S1", "50.00")
        hold, _ = self.swipe(card, "DISP-1", "TESTPLUG.HOLD", 1000)
        rec = self.gw.ctl("testplug", "settle", str(hold), "400")
        self.assertEqual((rec["charged"], rec["balance"]), (400, 4600))
        self.assertEqual(self.gw.sql("SELECT terminal, seq FROM payments WHERE id = ?",
                                     rec["payment"]), [("DISP-1", -hold)])
        self.ctl_fails("HOLD_RESOLVED", "testplug", "settle", str(hold), "0")
        hold2, _ = self.swipe(card, "DISP-1", "TESTPLUG.HOLD", 700)
        self.assertEqual(self.gw.ctl("testplug", "settle", str(hold2), "0")["balance"], 4600)
        # more than was held is refused whole: nothing moves
        hold3, _ = self.swipe(card, "DISP-1", "TESTPLUG.HOLD", 300)
        before = self.snapshot("S1")
        self.ctl_fails("LIMIT_EXCEEDED", "testplug", "settle", str(hold3), "301")
        self.assertEqual(self.snapshot("S1"), before)

    def test_operator_info_notify_and_id_numbers(self):
        card, _, idn = self.holder("S1", "50.00")
        self.assertPaid(self.swipe(card, "POS-1", "TESTPLUG.CHARGE", 100), 100, 4900)
        notes = self.notices("S1", "testplug")
        self.assertEqual(len(notes), 1, notes)
        self.gw.add_operator("head1", "dept_head", department="CS")
        who = self.gw.ctl("testplug", "whoami", user="head1", password="operator-pass-1")
        self.assertEqual((who["role_bit"], who["department"]), (8, "CS"))
        ok = self.gw.ctl("testplug", "idcheck", idn)
        self.assertEqual(ok["valid"], 1)
        self.assertNotIn(idn[6:14], ok["masked"])
        bad = self.gw.ctl("testplug", "idcheck", idn[:-1] + ("0" if idn[-1] != "0" else "1"))
        self.assertEqual(bad["valid"], 0)
        self.assertTrue(bad["why"])

    def test_access_decision_all_defer_is_deny(self):
        card, _, _ = self.holder("S1")
        self.assertError(self.swipe(card, "GATE-1", "TESTPLUG.DOOR"), "DENIED")

    def test_rule_call_from_a_plugin(self):
        # water.price: 30 L hot water, 20 L a day free, 3 fen a litre
        self.assertEqual(self.conns["POS-1"].call("TESTPLUG.PRICE", 30000, 0), [30, 20000])
        self.assertEqual(self.conns["POS-1"].call("TESTPLUG.PRICE", 1000, 25000), [3, 0])
        r = self.conns["POS-1"].call("TESTPLUG.PRICE", -5, 0)
        self.assertError(r, "RULE_ERROR")
        self.assertIn("rule water.price:", r.message)

    def test_admin_commands_of_a_plugin(self):
        self.assertEqual(self.gw.ctl("testplug", "stats")["greeting"], "你好")
        self.gw.add_operator("ops1", "operator")
        self.gw.add_operator("aud1", "auditor")
        nid = self.gw.ctl("testplug", "note", "第一条", "--approval", "N-1", user="ops1",
                          password="operator-pass-1")
        self.assertIsInstance(nid, int)
        self.assertEqual(self.gw.sql("SELECT text, by FROM testplug_notes"), [("第一条", "ops1")])
        audit = self.gw.ctl("audit", "list", "--action", "testplug.note")
        self.assertEqual((audit[0]["operator"], audit[0]["target"], audit[0]["approval"]),
                         ("ops1", "第一条", "N-1"))
        p = self.gw.ctl("testplug", "note", "x", user="aud1", password="operator-pass-1",
                        check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FORBIDDEN", p.stderr)
        help_text = self.gw.ctl("help", json_out=False)
        self.assertIn("testplug note TEXT", help_text)


class HostServicesTest(PluginCase):
    """The lookups, the timer's undo, DAY_END on demand and across a restart."""

    def test_lookups(self):
        card, rec, _ = self.holder("S1", topup="10.00")
        row = self.gw.ctl("testplug", "lookup", "--terminal", "POS-1", "--merchant", "canteen-1",
                          "--uid", rec["uid"])
        self.assertEqual(row["terminal_type"], 1)  # YKT_TERM_POS
        self.assertEqual(row["terminal_owner"], "canteen-1")
        self.assertEqual(row["merchant_status"], "active")
        self.assertEqual(row["card_no"], rec["card_no"])
        self.assertEqual(row["card_status"], "active")
        self.assertEqual(row["pin_threshold"], 20000)
        self.gw.ctl("card", "loss", rec["card_no"], "--id-number", self.gw.sql(
            "SELECT id_number FROM people WHERE person_no = 'S1'")[0][0])
        row = self.gw.ctl("testplug", "lookup", "--uid", rec["uid"])
        self.assertEqual(row["card_status"], "lost")
        row = self.gw.ctl("testplug", "lookup", "--terminal", "NOPE", "--merchant", "nope",
                          "--uid", "00112233445566")
        self.assertEqual((row["terminal_type"], row["terminal_owner"], row["merchant_status"],
                          row["card_no"]), (-1, None, None, None))

    def notes(self, text):
        return self.gw.sql("SELECT count(*) FROM testplug_notes WHERE text = ?", text)[0][0]

    def test_a_timer_may_undo_its_writes(self):
        self.gw.ctl("testplug", "timer-write", "undo")
        wait_until(lambda: self.gw.ctl("testplug", "stats")["timer_ticks"] > 0, timeout=5)
        ticks = self.gw.ctl("testplug", "stats")["timer_ticks"]
        wait_until(lambda: self.gw.ctl("testplug", "stats")["timer_ticks"] > ticks + 2)
        self.assertEqual(self.notes("undo"), 0)
        self.gw.ctl("testplug", "timer-write", "keep")
        wait_until(lambda: self.notes("keep") == 1, timeout=5)

    def test_day_end_on_demand_and_after_a_restart(self):
        self.assertEqual(self.gw.ctl("testplug", "stats")["day_ends"], 0)
        row = self.gw.ctl("job", "run", "day-end")
        self.assertEqual(row["job"], "day-end")
        stats = self.gw.ctl("testplug", "stats")
        self.assertEqual((stats["day_ends"], stats["last_day_end"]), (1, row["day"]))
        self.assertIn("job.run", [a["action"] for a in self.gw.ctl("audit", "list")])
        # yktd was down across midnight: the first tick after the start announces the day
        self.gw.stop()
        con = __import__("sqlite3").connect(self.gw.db)
        con.execute("UPDATE meta SET value = 20200101 WHERE key = 'day_end_announced'")
        con.commit()
        con.close()
        self.gw.start()
        wait_until(lambda: self.gw.ctl("testplug", "stats")["day_ends"] == 2, timeout=5)
        self.assertEqual(self.gw.ctl("testplug", "stats")["last_day_end"], row["day"])
        # and only once: a second restart the same day announces nothing
        self.gw.stop()
        self.gw.start()
        time.sleep(1.5)
        stats = self.gw.ctl("testplug", "stats")
        self.assertEqual((stats["day_ends"], stats["last_day_end"]), (2, ""))


class AbandonedPluginWaitTest(PluginCase):
    """A plugin verb that waits for a password check after its card check is not noted on
    the card (only PAY and HOLD are, whose only change before the wait is the ATC): a
    plugin may have changed more by then, which its retry would change again. Interrupted,
    its retry is refused REPLAY."""

    sets = dict(PLUGIN_SETS, **{"cards.password_iterations": "200000"})

    def test_an_interrupted_plugin_wait_is_not_run_again(self):
        card, rec, _ = self.holder("S1", "10.00")
        # a sequenced verb that writes a note, then waits for the password
        args = self.signed(card, "POS-1", "TESTPLUG.NOTEPIN", 0, rec["initial_pay_password"])
        abandon_request(self, "POS-1", args)
        self.assertEqual(self.gw.sql("SELECT atc_terminal, atc_seq FROM cards"), [(None, None)])
        self.assertError(retry_request(self, "POS-1", args), "REPLAY")
        self.assertEqual(self.gw.sql("SELECT count(*) FROM testplug_notes WHERE "
                                     "text = 'before the wait'"), [(1,)])


class DoorPolicyTest(PluginCase):
    sets = dict(PLUGIN_SETS, **{"plugin.testplug.door": "staff-only"})

    def test_allow_deny_defer(self):
        student, _, _ = self.holder("S1")
        self.person("T1", kind="staff", until="2030-12-31")
        for kind, ref in (("unit_leader", "U-1"), ("functional_dept", "F-1")):
            self.gw.ctl("approval", "add", "T1", "--kind", kind, "--approver", "人事处",
                        "--ref", ref)
        staff_rec = self.gw.ctl("card", "issue", "T1")
        from ykt_cards import SimCard
        from harness import MASTER_KEY
        staff = SimCard(MASTER_KEY, uid=staff_rec["uid"])
        visitor, _ = self.temporary_holder("V1")
        self.assertEqual(self.swipe(staff, "GATE-1", "TESTPLUG.DOOR"), "OK")
        self.assertError(self.swipe(student, "GATE-1", "TESTPLUG.DOOR"), "DENIED")
        r = self.swipe(visitor, "GATE-1", "TESTPLUG.DOOR")
        self.assertError(r, "DENIED")
        self.assertIn("temporary cards may not enter lab-101", r.message)


class StartupRefusalTest(WalletCase):
    """A department must know its subsystem is off: yktd does not start."""

    sets = {}

    def refused(self, sets, expect):
        gw = Gateway(sets=sets, start=False)
        self.addCleanup(shutil.rmtree, gw.dir, True)
        p = subprocess.run(gw.command(), capture_output=True, text=True, timeout=30, cwd=gw.dir)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(expect, p.stderr)
        self.assertIn("yktd stops so that the subsystem is not silently off", p.stderr)
        self.assertNotIn("ready:", p.stderr)
        return p.stderr

    def test_wrong_api_version(self):
        err = self.refused({"plugin.oldplug.enabled": "yes"},
                           "plugin oldplug: ")
        self.assertIn("speaks another plugin API (it answered -1; yktd speaks version 1)", err)
        self.assertNotIn("init must not run", err)

    def test_missing_plugin(self):
        self.refused({"plugin.nosuch.enabled": "yes"}, "plugin nosuch: cannot load ")

    def test_not_a_plugin(self):
        self.refused({"plugin.notaplug.enabled": "yes"},
                     "is not a ykt plugin (it must export ykt_plugin_version")

    def test_init_failure(self):
        self.refused({"plugin.testplug.enabled": "yes"}, "option merchant is required")
        self.refused({"plugin.testplug.enabled": "yes", "plugin.testplug.merchant": "m",
                      "plugin.testplug.fail_init": "yes"},
                     "plugin testplug: its initialisation failed")

    def test_a_misspelt_option_stops_the_start(self):
        # gate_chek = no would have left the gate check on without a word (the plugin's own
        # "ready:" line comes before the refusal: refused() would not allow it)
        gw = Gateway(sets={"plugin.attendance.enabled": "yes",
                           "plugin.attendance.gate_chek": "no"}, start=False)
        self.addCleanup(shutil.rmtree, gw.dir, True)
        p = subprocess.run(gw.command(), capture_output=True, text=True, timeout=30, cwd=gw.dir)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("plugin attendance: it has no option 'gate_chek' (misspelt?", p.stderr)
        self.assertNotIn("ready: terminal port", p.stderr)
        self.refused({"plugin.testplug.enabled": "yes", "plugin.testplug.merchant": "m",
                      "plugin.testplug.greting": "hi"},
                     "plugin testplug: it has no option 'greting'")

    def test_a_section_without_its_enabled_key_stops_the_start(self):
        # enabeld = yes left the access plugin off with one info line
        self.refused({"plugin.access.enabeld": "yes"},
                     "plugin access: [plugin.access] has options but no enabled key (enabled = "
                     "yes or no; misspelt? its first key is enabeld)")
        gw = Gateway(sets={"plugin.access.enabeld": "yes"}, start=False)
        self.addCleanup(shutil.rmtree, gw.dir, True)
        cmd = gw.command()
        p = subprocess.run([cmd[0], "--check-config"] + cmd[2:], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("has options but no enabled key", p.stderr)

    def test_plugin_names_that_would_own_core_tables(self):
        for name, table in (("daily", "daily_spend"), ("holder", "holder_settings"),
                            ("plugin", "plugin_schema"), ("terminal", "terminal_requests")):
            self.refused({"plugin.%s.enabled" % name: "yes"},
                         "plugin %s: the name would make the core's table %s its own"
                         % (name, table))
        self.refused({"plugin.lib_x.enabled": "yes"}, "lower-case letters and digits")

    def test_check_config_loads_the_plugins(self):
        gw = Gateway(sets={"plugin.oldplug.enabled": "yes"}, start=False)
        self.addCleanup(shutil.rmtree, gw.dir, True)
        cmd = gw.command()
        p = subprocess.run([cmd[0], "--check-config"] + cmd[2:], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("speaks another plugin API", p.stderr)

    def test_disabled_plugin_is_not_loaded(self):
        self.gw.stop()
        self.gw.sets.update({"plugin.testplug.enabled": "no", "plugin.testplug.merchant": "m"})
        self.gw.start()
        self.assertIn("plugin testplug is configured but not enabled", self.gw.log_text())
        self.assertEqual(self.gw.ctl("plugin", "list"), [])
        self.terminal("POS-1")
        self.assertError(self.conns["POS-1"].call("TESTPLUG.EVENTS"), "BAD_REQUEST")


class FeeRuleTest(WalletCase):
    """PAY's fee is the Lua rule's (scripts/fees.lua), with hot reload and RULE_ERROR."""

    def setUp(self):
        self.rules = private_rules()
        self.sets = {"rules.dir": self.rules}
        super().setUp()
        self.addCleanup(shutil.rmtree, self.rules, True)
        self.merchant("canteen-1", "canteen", "--fee-temporary", "10", "--discount", "5")
        self.terminal("POS-1")
        self.fees = os.path.join(self.rules, "fees.lua")
        with open(self.fees) as f:
            self.original = f.read()

    def rule(self, name="fees"):
        return [r for r in self.gw.ctl("rules", "list") if r["script"] == name][0]

    def wait_reload(self, name, sha_before=None, refused=False):
        def changed():
            r = self.rule(name)
            return r["sha"] != sha_before if not refused else r["last"] != "ok"
        self.assertTrue(wait_until(changed, 5), self.rule(name))

    def test_pay_uses_the_lua_rule(self):
        card, _ = self.temporary_holder("V1", "100.00")
        # discount 5 % of 12.50 = 0.62; fee 10 % of 11.88 = 1.18; charged 12.50 - 0.62 + 1.18
        self.assertPaid(self.pay(card, 1250), 1306, 10000 - 1306)
        self.assertEqual(self.gw.sql("SELECT discount, fee FROM payments"), [(62, 118)])
        # an administrator changes the rule: temporary cards pay a flat 0.50 fee
        sha = self.rule()["sha"]
        changed = self.original.replace(
            "    return { discount = discount, fee = (amount - discount) * fee_bp // 10000 }",
            "    if merchant == \"canteen-1\" and card_type == \"temporary\" and amount > 0 then\n"
            "        return { discount = discount, fee = 50 }\n"
            "    end\n"
            "    return { discount = discount, fee = (amount - discount) * fee_bp // 10000 }")
        changed = changed.replace(
            'check({ amount = 1000, card_type = "temporary", merchant = "canteen-1", '
            'category = "canteen" }, 0, 100)',
            'check({ amount = 1000, card_type = "temporary", merchant = "canteen-1", '
            'category = "canteen" }, 0, 50)')
        self.assertNotEqual(changed, self.original)
        save(self.fees, changed)
        self.wait_reload("fees", sha)
        r = self.rule()
        if r["last"] != "ok":
            self.fail(r)
        self.assertPaid(self.pay(card, 1250), 1250 - 62 + 50, 10000 - 1306 - 1238)

    def test_broken_rule_is_rejected_and_the_old_one_stays(self):
        card, _ = self.temporary_holder("V1", "100.00")
        sha = self.rule()["sha"]
        save(self.fees, self.original + "\nfunction selftest() return false end\n")
        self.wait_reload("fees", refused=True)
        r = self.rule()
        self.assertEqual((r["sha"], r["loaded"]), (sha, "yes"))
        self.assertIn("selftest", r["last"])
        self.assertPaid(self.pay(card, 1250), 1306, 10000 - 1306)
        save(self.fees, "this is not lua")
        wait_until(lambda: "syntax" in self.rule()["last"] or "expected" in self.rule()["last"])
        self.assertEqual(self.rule()["sha"], sha)
        self.assertPaid(self.pay(card, 1250), 1306, 10000 - 2 * 1306)
        # yktctl rules reload says the same
        p = self.gw.ctl("rules", "reload", "fees", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("RULE_REJECTED", p.stderr)
        self.assertIn("the running version stays", p.stderr)

    def test_failing_rule_gives_rule_error_and_changes_nothing(self):
        card, _, _ = self.holder("S1", "100.00")
        # a rule that runs away for one amount and returns nonsense for another; its
        # self-test passes, so it is deployed
        save(self.fees, self.original.replace(
            "function fee(a)\n",
            "function fee(a)\n"
            "    if a.amount == 777 then while true do end end\n"
            "    if a.amount == 778 then return { discount = -1, fee = 0 } end\n"
            "    if a.amount == 779 then local t = {} for i = 1, 1e9 do t[i] = i end end\n", 1))
        sha = self.rule()["sha"]
        self.gw.ctl("rules", "reload", "fees")
        self.assertNotEqual(self.rule()["sha"], sha)
        before = self.snapshot("S1")
        seq = self.next_seq("POS-1")
        r = self.pay(card, 777, seq=seq)
        self.assertError(r, "RULE_ERROR")
        self.assertIn("fees.fee", r.message)
        r = self.pay(card, 778)
        self.assertError(r, "RULE_ERROR")
        self.assertIn("out of bounds", r.message)
        self.assertError(self.pay(card, 779), "RULE_ERROR")
        self.assertEqual(self.snapshot("S1"), before)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM payments"), [(0,)])
        # the gateway keeps serving (the merchant gives 5 % off)
        self.assertPaid(self.pay(card, 500), 475, 9525)
        self.assertGreaterEqual(self.rule()["failures"], 2)  # 778 is refused by the wallet
        # the rule is fixed: the terminal's retry of the same seq now succeeds
        save(self.fees, self.original)
        self.gw.ctl("rules", "reload", "fees")
        retry = self.send("POS-1", self.signed(card, "POS-1", "PAY", 777, seq=seq))
        self.assertPaid(retry, 777 - 38, 9525 - 777 + 38)

    def test_missing_or_refused_fee_script_stops_start_up(self):
        self.gw.stop()
        os.unlink(self.fees)
        p = subprocess.run(self.gw.command(), capture_output=True, text=True, timeout=30,
                           cwd=self.gw.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("[rules] fee_script: fees.lua in %s is missing or was refused" % self.rules,
                      p.stderr)
        check = subprocess.run(self.gw.command()[:1] + ["--check-config"] +
                               self.gw.command()[2:], capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 1, check.stdout)
        self.assertIn("fee_script", check.stderr)
        save(self.fees, self.original + "\nfunction selftest() return false end\n")
        p = subprocess.run(self.gw.command(), capture_output=True, text=True, timeout=30,
                           cwd=self.gw.dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn("selftest", p.stderr)
        save(self.fees, self.original)
        self.gw.start()

    def test_builtin_formula_when_fee_script_is_empty(self):
        self.gw.stop()
        self.gw.sets["rules.fee_script"] = ""
        self.gw.start()
        self.conns["POS-1"] = self.gw.terminal("POS-1", self.secrets["POS-1"])
        card, _ = self.temporary_holder("V1", "100.00")
        self.assertPaid(self.pay(card, 1250), 1306, 10000 - 1306)


class OutOfTreePluginTest(WalletCase):
    """docs/plugin-api.md's example builds against the installed header and pkg-config file
    alone, and the real yktd loads and serves it."""

    def setUp(self):
        self.prefix = tempfile.mkdtemp(prefix="ykt-install-")
        self.addCleanup(shutil.rmtree, self.prefix, True)
        subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", self.prefix],
                       check=True, capture_output=True)
        src = os.path.join(self.prefix, "hello-plugin")
        shutil.copytree(os.path.join(SOURCE_DIR, "examples", "hello-plugin"), src)
        pc = [os.path.join(d, "pkgconfig") for d, _, _ in os.walk(self.prefix)
              if os.path.isdir(os.path.join(d, "pkgconfig"))]
        env = dict(os.environ, PKG_CONFIG_PATH=pc[0])
        env.pop("CFLAGS", None)
        p = subprocess.run(["make", "-C", src], env=env, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.sets = {"plugin.hello.enabled": "yes",
                     "plugin.hello.path": os.path.join(src, "hello.so"),
                     "plugin.hello.price": "150"}
        super().setUp()

    def test_hello_plugin(self):
        self.merchant("cafe-1", "shop")
        self.terminal("POS-9", owner="cafe-1")
        card, _, _ = self.holder("S1", "5.00")
        self.assertEqual(self.swipe(card, "POS-9", "HELLO.COFFEE"), [150, 350])
        self.assertEqual(self.swipe(card, "POS-9", "HELLO.COFFEE"), [150, 200])
        self.assertEqual(self.swipe(card, "POS-9", "HELLO.CUPS"), 2)
        self.assertEqual(self.gw.sql("SELECT sum(charged) FROM payments WHERE merchant = ?",
                                     "cafe-1"), [(300,)])


class RulesCommandTest(WalletCase):
    def test_rules_list(self):
        rows = {r["script"]: r for r in self.gw.ctl("rules", "list")}
        self.assertEqual(set(rows), {"fees", "water", "power", "library", "rooms",
                                     "attendance_teaching", "attendance_students"})
        for r in rows.values():
            self.assertEqual((r["loaded"], r["last"]), ("yes", "ok"), r)
            self.assertEqual(len(r["sha"]), 12)

    def test_rules_test_tries_a_file_without_deploying_it(self):
        path = os.path.join(SOURCE_DIR, "scripts", "fees.lua")
        out = self.gw.ctl("rules", "test", path, "--function", "fee", "--input",
                          json.dumps({"amount": 1250, "card_type": "temporary",
                                      "discount_bp": 500, "fee_bp": 1000}), json_out=False)
        self.assertEqual(json.loads(out), {"discount": 62, "fee": 118})
        p = self.gw.ctl("rules", "test", path, "--function", "fee", "--input",
                        '{"amount": -5}', check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("RULE_ERROR", p.stderr)
        self.assertIn("amount must be an integer", p.stderr)
        p = self.gw.ctl("rules", "test", path, "--function", "fee", "--input",
                        '{"amount": 12.5}', check=False)
        self.assertIn("BAD_REQUEST --input: offset 11: only integers", p.stderr)
        # an escape attempt in a file under test is contained like any rule
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write("function f(a) return { r = io.open('/etc/passwd') } end\n")
        self.addCleanup(os.unlink, f.name)
        p = self.gw.ctl("rules", "test", f.name, "--function", "f", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("RULE_ERROR", p.stderr)
        # the running rules did not change
        self.assertEqual(self.gw.ctl("rules", "list")[0]["last"], "ok")
        p = self.gw.ctl("rules", "test", path, check=False)
        self.assertIn("--function", p.stderr)

    def test_sandbox_escapes_are_contained_and_the_gateway_keeps_serving(self):
        attempts = {
            "io": "return { r = io.open('/etc/passwd'):read('a') }",
            "os.execute": "return { r = os.execute('touch /tmp/ykt-pwned') }",
            "require": "return { r = require('os') }",
            "binary chunk": "return { r = load(string.dump(function() end)) }",
            "binary literal": "return { r = assert(load('\\27Lua\\84\\0'))() }",
            "memory bomb": "return { r = #string.rep('x', 1e9) }",
            "endless loop": "while true do end",
            "pcall loop": "while true do pcall(function() while true do end end) end",
            "deep recursion": "local function f(n) return f(n + 1) + 1 end return { r = f(1) }",
            "table bomb": "local t = {} for i = 1, 1e9 do t[i] = {} end",
        }
        for what, body in attempts.items():
            with self.subTest(what):
                with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                    f.write("function f(a)\n%s\nend\n" % body)
                self.addCleanup(os.unlink, f.name)
                t = time.time()
                p = self.gw.ctl("rules", "test", f.name, "--function", "f", check=False)
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertIn("RULE_ERROR", p.stderr)
                self.assertLess(time.time() - t, 20)
        self.assertFalse(os.path.exists("/tmp/ykt-pwned"))
        self.assertEqual(self.gw.client().call("PING"), "PONG")

    def test_time_limit_stops_work_the_instruction_count_does_not_see(self):
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write('local s = ("x"):rep(2000000)\n'
                    "function f(a) for i = 1, a.n do local t = s:upper() end return {x = 1} end\n")
        self.addCleanup(os.unlink, f.name)
        p = self.gw.ctl("rules", "test", f.name, "--function", "f", "--input", '{"n": 20000}',
                        check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("time limit exceeded (50 ms)", p.stderr)

    def test_bad_requests_are_told_apart_from_failing_rules(self):
        path = os.path.join(SOURCE_DIR, "scripts", "fees.lua")
        for bad in ('{"amount": ', "[1, 2]", '{"a": 1.5}'):
            p = self.gw.ctl("rules", "test", path, "--function", "fee", "--input", bad,
                            check=False)
            self.assertTrue(p.stderr.startswith("yktctl: BAD_REQUEST --input"), p.stderr)
        p = self.gw.ctl("rules", "reload", "../etc/passwd", check=False)
        self.assertTrue(p.stderr.startswith("yktctl: BAD_REQUEST"), p.stderr)
        self.gw.add_operator("aud1", "auditor")
        p = self.gw.ctl("rules", "test", path, "--function", "fee", user="aud1",
                        password="operator-pass-1", check=False)
        self.assertIn("FORBIDDEN", p.stderr)

    def test_rules_reload_is_audited(self):
        self.gw.ctl("rules", "reload", "water")
        audit = self.gw.ctl("audit", "list", "--action", "rules.reload")
        self.assertEqual(audit[0]["target"], "water")
        p = self.gw.ctl("rules", "reload", "nosuch", check=False)
        self.assertIn("NOT_FOUND", p.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
