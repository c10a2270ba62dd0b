"""ykt-bench still works: a tiny import and a one-second swipe run against the build's
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
YKTD_KEYS = {"binary", "version", "build_type", "sanitizers", "filesystem"}
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

    def test_usage_errors(self):
        for args in (["nosuch"], ["swipe", "--cards", "1", "--connections", "2"],
                     ["import", "--rows", "0"], ["swipe", "--bogus", "1"]):
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
