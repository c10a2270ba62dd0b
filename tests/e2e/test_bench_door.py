"""ykt-bench door still works: a one-second run of ACCESS.OPEN swipes against the build's
yktd with the access plugin loaded, checking the exit status, the shape of the JSON report and
that every swipe opened. No assertion on speed (docs/performance.md)."""

import unittest

import test_bench


class BenchDoorTest(unittest.TestCase):
    def test_door(self):
        report = test_bench.run_bench("door", "--connections", "2", "--cards", "10", "--seconds", "1")
        # the head every report has (test_bench.BenchTest.check_head, not its tests)
        test_bench.BenchTest.check_head(self, report, "door")
        self.assertEqual(report["params"]["verb"], "ACCESS.OPEN")
        self.assertEqual(report["params"]["doors"], 2)
        results = report["results"]
        self.assertGreater(results["requests"], 0)
        self.assertEqual(results["succeeded"], results["requests"])
        self.assertLessEqual(test_bench.LATENCY_KEYS, set(results["latency_us"]))
        self.assertTrue(report["ok"])


if __name__ == "__main__":
    unittest.main()
