"""ykt-bench still works: a tiny import, a one-second swipe run and one-second pay runs
(with the Lua fee rule, with the built-in formula, and both compared) against the build's
yktd, checking the exit status and the shape of the JSON report.

Deliberately no assertion on speed: performance is measured by ykt-bench itself
(docs/performance.md), on a quiet machine with a release build, never by timed tests.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness

BENCH = os.path.join(harness.BUILD_DIR, "tools", "bench", "ykt-bench")

# The sections and keys every report has, whatever the subcommand.
HEAD_KEYS = {"bench", "command", "machine", "yktd", "params", "results", "errors", "ok"}
MACHINE_KEYS = {"date", "nproc", "cpu", "kernel"}
YKTD_KEYS = {"binary", "version", "build_type", "sanitizers", "filesystem", "rules_dir",
             "fee_script"}
SCRIPTS = os.path.join(harness.SOURCE_DIR, "scripts")
LATENCY_KEYS = {"n", "min", "mean", "p50", "p90", "p99", "p99_9", "max"}


def run_bench(*args):
    """Runs ykt-bench --json with its own TMPDIR and checks that it cleaned up after itself."""
    tmp = tempfile.mkdtemp(prefix="ykt-bench-tmp-")
    try:
        cmd = [BENCH, "--json", *args, "--yktd", harness.YKTD]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, TMPDIR=tmp))
        if p.returncode != 0:
            raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                                 % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
        if "--keep" not in args:
            # yktd's temporary directory (database, key, socket) is gone.
            assert os.listdir(tmp) == [], os.listdir(tmp)
        return json.loads(p.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BenchTest(unittest.TestCase):

    def check_head(self, report, name):
        self.assertLessEqual(HEAD_KEYS, set(report), report)
        self.assertEqual(report["bench"], name)
        self.assertIn(" " + name + " ", report["command"])
        self.assertLessEqual(MACHINE_KEYS, set(report["machine"]))
        self.assertGreaterEqual(report["machine"]["nproc"], 1)
        self.assertLessEqual(YKTD_KEYS, set(report["yktd"]))
        self.assertEqual(report["yktd"]["binary"], os.path.realpath(harness.YKTD))
        # Without --rules: the source tree's scripts/, built into ykt-bench.
        self.assertEqual(report["yktd"]["rules_dir"], os.path.realpath(SCRIPTS))
        self.assertEqual(report["errors"]["total"], 0, report["errors"])
        self.assertEqual(report["errors"]["yktd_exit_status"], 0)
        self.assertIs(report["ok"], True)

    def test_import(self):
        r = run_bench("import", "--rows", "300")
        self.check_head(r, "import")
        self.assertEqual(r["params"]["rows"], 300)
        expected = {"first": (300, 0, 0, "utf-8"), "reimport": (0, 0, 300, "utf-8"),
                    "gbk": (0, 0, 300, "gbk")}
        for key, (ins, upd, unch, enc) in expected.items():
            run = r["results"][key]
            self.assertEqual(run["rows"], 300, key)
            self.assertEqual((run["inserted"], run["updated"], run["unchanged"]),
                             (ins, upd, unch), key)
            self.assertEqual(run["encoding"], enc, key)
            self.assertIs(run["as_expected"], True, key)
            self.assertIn("seconds", run)
            self.assertIn("rows_per_s", run)
        # The GBK file really is another encoding of the same text: fewer bytes.
        self.assertLess(r["params"]["gbk_bytes"], r["params"]["utf8_bytes"])

    def test_swipe(self):
        r = run_bench("swipe", "--connections", "2", "--cards", "20", "--seconds", "1")
        self.check_head(r, "swipe")
        p, res = r["params"], r["results"]
        self.assertEqual((p["connections"], p["cards"], p["seconds"], p["rate"]), (2, 20, 1, 0))
        self.assertEqual(p["verb"], "CARD.INFO")
        self.assertGreater(res["requests"], 0)
        self.assertEqual(res["succeeded"], res["requests"])
        self.assertLessEqual(LATENCY_KEYS, set(res["latency_us"]))
        self.assertEqual(res["latency_us"]["n"], res["requests"])
        self.assertIn("throughput_per_s", res)
        self.assertGreater(res["commits"], 0)
        self.assertNotIn("tail_note", res)  # a closed loop measures throughput, not the tail
        self.assertNotIn("send_late_us", res)  # nor sends late: it sends on each reply

    def test_config_set(self):
        """--set configures the private yktd and the report names it."""
        r = run_bench("swipe", "--connections", "2", "--cards", "20", "--seconds", "1",
                      "--set", "storage.checkpoint_pages=200", "--set",
                      "terminal.request_retention=2d", "--set", "plugin.access.enabled=no")
        self.check_head(r, "swipe")
        self.assertIn("--set storage.checkpoint_pages = 200; terminal.request_retention = 2d; "
                      "plugin.access.enabled = no",
                      r["yktd"]["config"])
        self.assertGreater(r["results"]["requests"], 0)

    def test_swipe_paced(self):
        r = run_bench("swipe", "--connections", "2", "--cards", "4", "--seconds", "1",
                      "--rate", "50")
        self.check_head(r, "swipe")
        res = r["results"]
        self.assertEqual(res["target_rate_per_s"], 50)
        self.assertIn("achieved_rate_per_s", res)
        self.assertIn("behind_schedule", res)
        self.assertGreater(res["requests"], 0)
        self.assertEqual(res["succeeded"], res["requests"])
        # A 1-second latency run says that its tail is not a long run's.
        self.assertIn("understate the tail", res["tail_note"])
        # How late the generator sent, and how much of the tail that was
        self.assertLessEqual(LATENCY_KEYS, set(res["send_late_us"]))
        self.assertEqual(res["send_late_us"]["n"], res["requests"])
        self.assertLessEqual(res["send_late_us"]["max"], res["latency_us"]["max"])
        self.assertLessEqual(res["over_1ms_sent_over_0_5ms_late"], res["over_1ms"])
        self.assertLessEqual(res["over_1ms"], res["requests"])

    def check_expected(self, p):
        """The merchant has a discount and a fee, so every payment costs the built-in
        formula's answer (which fees.lua reproduces), not the plain amount."""
        self.assertIn("discount", p["merchant"])
        e = p["expected_fen"]
        amount = p["amount_fen"]
        self.assertGreater(e["discount"], 0)
        self.assertGreater(e["fee"], 0)
        self.assertEqual(e["charged"], amount - e["discount"] + e["fee"])
        return e

    def check_verify(self, v, payments, cards, e, amount):
        """After yktd stopped: one payment on disk per success reply, and the books whole."""
        self.assertEqual(v["payments_in_db"], payments)
        self.assertEqual(v["success_replies"], payments)
        self.assertEqual(v["charged_fen_replied"], e["charged"] * payments)
        self.assertEqual(v["charged_fen_in_db"], e["charged"] * payments)
        self.assertEqual(v["discount_fen_in_db"], e["discount"] * payments)
        self.assertEqual(v["fee_fen_in_db"], e["fee"] * payments)
        self.assertEqual(v["merchant_balance_fen"], (amount - e["discount"]) * payments)
        self.assertEqual(v["fee_income_fen"], e["fee"] * payments)
        self.assertEqual((v["wallets_checked"], v["wallets_as_replied"]), (cards, cards))
        self.assertIs(v["durable"], True)
        self.assertEqual(v["ledger"], "audit clean")

    def check_pay(self, r, connections, cards, pipeline, fee="lua"):
        self.check_head(r, "pay")
        p, res, v = r["params"], r["results"], r["verify"]
        self.assertEqual((p["connections"], p["cards"], p["seconds"], p["rate"], p["pipeline"]),
                         (connections, cards, 1, 0, pipeline))
        self.assertEqual((p["verb"], p["amount_fen"]), ("PAY", 100))
        self.assertTrue(p["fee"].startswith(fee + " "), p["fee"])
        self.assertEqual(r["yktd"]["fee_script"],
                         "fees" if fee == "lua" else "(empty: the built-in formula)")
        e = self.check_expected(p)
        self.assertGreater(res["requests"], 0)
        self.assertEqual(res["succeeded"], res["requests"])
        self.assertEqual(res["payments"], res["requests"])
        self.assertEqual(res["latency_us"]["n"], res["requests"])
        self.assertGreater(res["commits"], 0)
        self.check_verify(v, res["payments"], cards, e, 100)
        self.assertIn("status", r["pgbench"])

    def test_pay(self):
        r = run_bench("pay", "--connections", "2", "--cards", "20", "--seconds", "1")
        self.check_pay(r, 2, 20, 1)

    def test_pay_pipelined(self):
        r = run_bench("pay", "--connections", "2", "--cards", "20", "--seconds", "1",
                      "--pipeline", "4")
        self.check_pay(r, 2, 20, 4)

    def test_pay_builtin_fee(self):
        """--fee builtin: [rules] fee_script empty, the same charges; --rules is honoured."""
        r = run_bench("pay", "--connections", "2", "--cards", "20", "--seconds", "1",
                      "--fee", "builtin", "--rules", SCRIPTS)
        self.check_pay(r, 2, 20, 1, fee="builtin")
        self.assertIn("fee_script = (empty: the built-in formula)", r["yktd"]["config"])

    def test_pay_compare_fee(self):
        """--compare-fee: builtin, lua, lua, builtin on fresh gateways; both figures and
        the ratio (no assertion on their values: this is not a benchmark)."""
        r = run_bench("pay", "--connections", "2", "--cards", "20", "--seconds", "1",
                      "--compare-fee")
        self.check_head(r, "pay")
        p, res, v = r["params"], r["results"], r["verify"]
        self.assertEqual(p["fee"], "compare: builtin, lua, lua, builtin")
        self.assertEqual(p["rounds"], 2)
        e = self.check_expected(p)
        for name in ("builtin", "lua"):
            va = res[name]
            self.assertEqual(va["runs"], 2, name)
            self.assertGreater(va["payments"], 0, name)
            self.assertGreater(va["throughput_per_s"], 0, name)
            self.assertLessEqual(LATENCY_KEYS, set(va["latency_us"]), name)
            self.assertEqual(va["latency_us"]["n"], va["payments"], name)
        self.assertIsInstance(res["ratio_lua_over_builtin"], float)
        self.assertGreater(res["ratio_lua_over_builtin"], 0)
        self.assertIn("p99_ratio_lua_over_builtin", res)
        self.assertEqual(res["target_ratio"], 0.85)
        self.assertIsInstance(res["meets_target"], bool)
        self.assertEqual(set(res["round_ratios"]), {"round1", "round2"})
        runs = res["runs"]
        self.assertEqual([runs["run%d" % i]["fee"] for i in range(1, 5)],
                         ["builtin", "lua", "lua", "builtin"])
        for i in range(1, 5):
            run, rv = runs["run%d" % i], v["run%d" % i]
            self.assertEqual(run["errors"], 0)
            self.assertEqual(run["succeeded"], run["requests"])
            self.assertEqual(rv["fee"], run["fee"])
            self.check_verify(rv, run["payments"], 20, e, 100)
        self.assertEqual(sum(runs["run%d" % i]["payments"] for i in (1, 4)),
                         res["builtin"]["payments"])
        self.assertIs(v["durable"], True)
        self.assertEqual(v["ledger"], "audit clean")

    def test_pay_text(self):
        """The plain-text report says the ledger audit was clean."""
        tmp = tempfile.mkdtemp(prefix="ykt-bench-tmp-")
        try:
            p = subprocess.run([BENCH, "pay", "--connections", "1", "--cards", "3",
                                "--seconds", "1", "--rate", "20", "--yktd", harness.YKTD],
                               capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, TMPDIR=tmp))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"(?m)^  ledger +audit clean$")
            # reported, whatever it is: how far a loaded machine falls behind is not a test
            self.assertRegex(p.stdout, r"(?m)^  behind_schedule +\d+$")
            self.assertRegex(p.stdout, r"(?m)^  tail_note +shorter than 15 s: ")
            self.assertRegex(p.stdout, r"(?m)^ok +yes$")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_usage_errors(self):
        for args in (["nosuch"], ["swipe", "--cards", "1", "--connections", "2"],
                     ["import", "--rows", "0"], ["swipe", "--bogus", "1"],
                     ["pay", "--amount", "20000"], ["pay", "--pipeline", "0"],
                     ["pay", "--cards", "1", "--connections", "2"],
                     ["pay", "--cards", "1", "--seconds", "3600", "--amount", "19999"],
                     ["pay", "--fee", "nope"], ["pay", "--fee"],
                     ["pay", "--compare-fee", "--fee", "lua"],
                     ["pay", "--compare-fee", "--pgbench"], ["pay", "--rounds", "2"],
                     ["pay", "--compare-fee", "--rounds", "0"],
                     ["pay", "--rules", "/nonexistent-ykt-rules"],
                     ["swipe", "--rules", "/nonexistent-ykt-rules"],
                     ["swipe", "--set", "checkpoint_pages=200"],
                     ["swipe", "--set", "storage.checkpoint_pages"],
                     ["swipe", "--set", "storage.check;point=1"],
                     ["swipe", "--set", "storage.checkpoint_pages=200;x"],
                     # yktd refuses it at start
                     ["swipe", "--seconds", "1", "--set", "storage.checkpoint_pages=5"]):
            p = subprocess.run([BENCH, *args, "--yktd", harness.YKTD], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, 2, (args, p.stdout, p.stderr))
            self.assertTrue(p.stderr.startswith("ykt-bench"), p.stderr)

    def test_keep_dir(self):
        """--keep leaves the database, the CSV files and a 0600 key behind."""
        parent = tempfile.mkdtemp(prefix="ykt-bench-test-")
        keep = os.path.join(parent, "run")
        try:
            run_bench("import", "--rows", "10", "--keep", keep)
            names = set(os.listdir(keep))
            self.assertLessEqual({"ykt.db", "students-utf8.csv", "students-gbk.csv",
                                  "master.key", "yktd.log"}, names)
            self.assertEqual(os.stat(os.path.join(keep, "master.key")).st_mode & 0o777, 0o600)
            # A second run into the same directory would reuse the database: refused.
            p = subprocess.run([BENCH, "import", "--rows", "10", "--keep", keep,
                                "--yktd", harness.YKTD], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
        finally:
            shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
