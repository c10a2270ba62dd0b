"""ykt-bench conns still works: 200 connections held for two seconds, then the timeout
phase with a one-second idle_timeout, against the build's yktd. Checks the exit status, the
JSON report's keys, that every connection was held and one more refused with -BUSY, that
yktd's RSS is reported, and that idle, unauthenticated, dribbling, partial-frame and
non-reading clients were closed by yktd while active ones stayed open.

No assertion on speed or on the amount of memory (docs/performance.md): the sanitizer build
this usually runs in says nothing about either.
"""

import unittest

import test_bench

MEMORY_KEYS = {"rss_kb", "hwm_kb", "kernel_tcp_mem_kb"}
CLOSED_GROUPS = ("idle", "unauth", "dribble", "partial", "noread")


class BenchConnsTest(unittest.TestCase):
    def test_conns(self):
        report = test_bench.run_bench(
            "conns", "--connections", "200", "--auth", "150", "--hold", "2", "--sample", "20",
            "--idle-timeout", "1000", "--auth-timeout", "500", "--idle", "20", "--slow", "3",
            "--partial-bytes", "200000")
        test_bench.BenchTest.check_head(self, report, "conns")
        params = report["params"]
        self.assertEqual(params["connections"], 200)
        self.assertEqual(params["authenticated"], 150)
        self.assertEqual(params["unauthenticated"], 50)
        self.assertEqual(params["max_connections"], 200)
        self.assertGreaterEqual(params["nofile_limit"], 200)

        hold = report["results"]["hold"]
        self.assertEqual(hold["held"], 200)
        self.assertEqual(hold["failed"], 0)
        self.assertEqual(hold["dropped_while_held"], 0)
        self.assertEqual(hold["yktd_terminal_connections"], 200)
        self.assertEqual(hold["yktd_authenticated_connections"], 150)
        self.assertIs(hold["extra_connection_refused_busy"], True)
        for key in ("memory_before", "memory_held", "memory_after_close"):
            self.assertLessEqual(MEMORY_KEYS, set(hold[key]), key)
            self.assertGreater(hold[key]["rss_kb"], 0, key)
            self.assertGreaterEqual(hold[key]["hwm_kb"], hold[key]["rss_kb"], key)
        self.assertIn("rss_bytes_per_connection", hold)
        self.assertLessEqual(test_bench.LATENCY_KEYS, set(hold["ping_latency_us"]))
        self.assertGreater(hold["ping_latency_us"]["n"], 0)
        self.assertEqual(hold["yktd_terminal_connections_after_close"], 0)
        self.assertEqual(hold["yktd_exit_status"], 0)

        t = report["results"]["timeouts"]
        self.assertEqual(t["idle_timeout_ms"], 1000)
        self.assertEqual(t["auth_timeout_ms"], 500)
        self.assertEqual(t["set_up"], t["of"])
        self.assertEqual(t["idle"]["connections"], 20)
        for group in CLOSED_GROUPS:
            g = t[group]
            self.assertEqual(g["closed_by_yktd"], g["connections"], (group, g))
            self.assertEqual(g["still_open"], 0, group)
            self.assertIs(g["as_expected"], True, (group, g))
        # idle_timeout counts from the last completed request, auth_timeout from the connection
        for group in ("idle", "dribble", "partial"):
            self.assertGreaterEqual(t[group]["close_after_ms_min"], 1000 - 150, group)
        self.assertGreaterEqual(t["unauth"]["close_after_ms_min"], 500 - 150)
        self.assertEqual(t["active"]["still_open"], 3)
        self.assertEqual(t["active"]["closed_by_yktd"], 0)
        self.assertEqual(t["yktd_terminal_connections_at_end"], 3)
        for key in ("memory_start", "memory_after_partial_frames", "memory_after_noread_stalled"):
            self.assertLessEqual(MEMORY_KEYS, set(t[key]), key)
        self.assertIn("partial_rss_bytes_per_connection", t)
        self.assertIn("noread_rss_bytes_per_connection", t)
        # the non-readers were stopped by yktd, not by our own cap
        self.assertEqual(t["noread_never_stalled"], 0)
        self.assertEqual(t["yktd_exit_status"], 0)
        self.assertIs(report["ok"], True)


if __name__ == "__main__":
    unittest.main()
