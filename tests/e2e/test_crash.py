"""The crash test (issue 9): POS terminals pay without pause while yktd is killed with
SIGKILL at random moments and restarted on the same database, again and again. Every
payment a terminal got a success reply for must be in the ledger exactly as replied; none
may be there twice; a request in flight when yktd died is retried with the same sequence
number and must be applied at most once (the retry gets the original reply if the first
attempt had committed); and `yktctl audit` is clean at the end.

Two versions, both in CI:

- BenchCrashTest: `ykt-bench pay --crash 10` (the load generator kills, restarts, resends
  and verifies; docs/performance.md). The long run is tools/scripts/crash-test.sh
  (50 kills by default on the release build; docs/robustness.md has its figures).
- CrashTest: the same proof with its own Python load, 12 kills (random amounts, a
  checked reply per seq). Longer: YKT_CRASH_KILLS=200 python3 -m unittest -v test_crash
  (in tests/e2e). YKT_CRASH_SEED fixes the random moments (printed on failure).
"""

import os
import random
import signal
import subprocess
import threading
import time

import unittest

import harness
from harness import ConnectionClosed, RespClient, RespError
from test_bench import BENCH, run_bench
from test_wallet import WalletCase

KILLS = int(os.environ.get("YKT_CRASH_KILLS", "12"))
SEED = int(os.environ.get("YKT_CRASH_SEED", str(random.randrange(1 << 30))))
TERMINALS = 4
CARDS_PER_TERMINAL = 3
TOPUP_FEN = 500000


class Terminal(threading.Thread):
    """One POS terminal's loop: pay, and after a lost connection resend the very same
    request (same sequence number, same card signature) until it is answered."""

    def __init__(self, case, tid, cards, rng):
        super().__init__(daemon=True)
        self.case, self.tid, self.cards, self.rng = case, tid, cards, rng
        self.stop = threading.Event()
        self.seq = 0
        self.acked = {}    # seq -> (card index, [payment_id, charged, balance])
        self.refused = []  # (seq, error): none expected
        self.retries = 0   # requests resent after a crash
        self.failure = None

    def connect(self):
        gw = self.case.gw
        c = RespClient.tcp(gw.port, timeout=10)
        if c.call("AUTH", self.tid, self.case.secrets[self.tid]) != "OK":
            c.close()
            raise ConnectionClosed()
        return c

    def run(self):
        try:
            self.loop()
        except Exception as e:  # reported by the test, not lost in a thread
            self.failure = repr(e)

    def loop(self):
        conn, pending = None, None
        while pending is not None or not self.stop.is_set():
            if pending is None:
                self.seq += 1
                k = self.seq % len(self.cards)
                amount = self.rng.randrange(1, 200)
                pending = (k, self.cards[k].swipe(self.tid, self.seq, "PAY", amount=amount))
                sent_before = False
            try:
                if conn is None:
                    conn = self.connect()
                if sent_before:
                    self.retries += 1
                sent_before = True
                reply = conn.call(*pending[1])
            except (OSError, ConnectionClosed):
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)  # yktd is down or starting; the request stays pending
                continue
            if isinstance(reply, list):
                self.acked[self.seq] = (pending[0], reply)
            else:
                self.refused.append((self.seq, str(reply)))
            pending = None
        if conn is not None:
            conn.close()


class CrashTest(WalletCase):

    def setUp(self):
        super().setUp()
        self.gw.stop()
        self.gw.sets.update({"wallet.max_topup": "10000.00",
                             "wallet.daily_limit_regular": "100000.00"})
        self.gw.start()

    def test_sigkill_loses_nothing_acknowledged_and_applies_nothing_twice(self):
        rng = random.Random(SEED)
        self.merchant("canteen-1")
        terminals = []
        for t in range(TERMINALS):
            tid = "POS-C%d" % t
            self.terminal(tid)
            cards = []
            for c in range(CARDS_PER_TERMINAL):
                card, _, _ = self.holder("S%d%02d" % (t, c), topup="%d.00" % (TOPUP_FEN // 100))
                cards.append(card)
            terminals.append(Terminal(self, tid, cards, random.Random(rng.random())))
        for t in terminals:
            t.start()
        kills = 0
        try:
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.05, 0.6))
                self.assertEqual(self.gw.stop(sig=signal.SIGKILL), -signal.SIGKILL)
                kills += 1
                self.gw.start()
            time.sleep(0.3)  # some quiet payments after the last restart
        finally:
            for t in terminals:
                t.stop.set()
            for t in terminals:
                t.join(60)
        msg = "seed %d, %d kills" % (SEED, kills)
        for t in terminals:
            self.assertIsNone(t.failure, msg)
            self.assertFalse(t.is_alive(), msg)
            self.assertEqual(t.refused, [], msg)
        self.assertGreater(sum(t.retries for t in terminals), 0,
                           "no request was in flight at any kill: %s" % msg)

        # Every acknowledged payment is in the ledger, exactly as replied; nothing else is.
        rows = self.gw.sql("SELECT terminal, seq, id, charged FROM payments")
        in_db = {(r[0], r[1]): (r[2], r[3]) for r in rows}
        self.assertEqual(len(in_db), len(rows), "a (terminal, seq) paid twice: " + msg)
        acked = {(t.tid, seq): (reply[0], reply[1])
                 for t in terminals for seq, (_, reply) in t.acked.items()}
        self.assertEqual(in_db, acked, msg)
        self.assertEqual(self.gw.sql("SELECT count(*) FROM transfers WHERE kind = 'pay'"),
                         [(len(acked),)], msg)
        # Each wallet holds its top-up minus what its replies charged, and the last reply's
        # balance (one terminal serves each card, so replies are in order).
        for t in terminals:
            for k in range(CARDS_PER_TERMINAL):
                mine = [reply for seq, (kk, reply) in sorted(t.acked.items()) if kk == k]
                no = "S%s%02d" % (t.tid[-1], k)
                expected = TOPUP_FEN - sum(r[1] for r in mine)
                self.assertEqual(self.balance(no), expected, msg)
                if mine:
                    self.assertEqual(mine[-1][2], expected, msg)
        print("\ncrash test: %d kills, %d payments acknowledged, %d resent after a kill, "
              "seed %d" % (kills, len(acked), sum(t.retries for t in terminals), SEED))
        # tearDown: yktctl audit must be clean


class BenchCrashTest(unittest.TestCase):
    """CI's short version of tools/scripts/crash-test.sh: ykt-bench kills its private yktd
    10 times in 5 s of PAY load, restarts it, resends what had no reply, then checks the
    database against every reply and runs the ledger audit. It exits non-zero (run_bench
    fails the test) when any check fails."""

    def test_ykt_bench_pay_crash(self):
        r = run_bench("pay", "--crash", "10", "--crash-seed", str(SEED), "--seconds", "5",
                      "--connections", "4", "--cards", "40")
        msg = "seed %d" % SEED
        self.assertIs(r["ok"], True, msg)
        self.assertEqual(r["errors"]["total"], 0, r["errors"])
        self.assertEqual(r["errors"]["yktd_exit_status"], 0, msg)
        c, v = r["crash"], r["verify"]
        self.assertEqual((c["kills_requested"], c["kills"], c["restarts"]), (10, 10, 10), msg)
        self.assertEqual(c["seed"], SEED)
        self.assertGreater(c["resent_requests"], 0, "no request was in flight at any kill: " + msg)
        self.assertGreaterEqual(c["resends"], c["resent_requests"])
        self.assertEqual(c["time_to_ready_ms"]["n"], 10)
        self.assertGreater(c["time_to_ready_ms"]["max"], 0)
        # Every success reply is one payment, as replied; nothing else; nothing twice.
        self.assertIs(v["durable"], True, v)
        self.assertEqual(v["ledger"], "audit clean", v)
        self.assertGreater(v["success_replies"], 0)
        self.assertEqual(v["payments_in_db"], v["success_replies"], v)
        self.assertEqual(v["replies_found_in_db"], v["success_replies"], v)
        self.assertEqual(v["terminal_seq_twice"], 0, v)
        self.assertEqual(v["wallets_as_replied"], v["wallets_checked"], v)
        self.assertEqual(v["charged_fen_in_db"], v["charged_fen_replied"], v)
        self.assertLessEqual(v["resent_paid"], c["resent_requests"])
        res = r["results"]
        self.assertEqual(res["succeeded"], res["requests"])
        print("\nykt-bench pay --crash: %d kills, %d payments, %d resent (%d already paid), "
              "ready p50 %.1f ms max %.1f ms, seed %d"
              % (c["kills"], v["success_replies"], c["resent_requests"], v["resent_already_paid"],
                 c["time_to_ready_ms"]["p50"], c["time_to_ready_ms"]["max"], SEED))

    def test_crash_refuses_compare_fee_and_pgbench(self):
        for extra in (["--compare-fee"], ["--pgbench"]):
            p = subprocess.run([BENCH, "pay", "--crash", "2", "--seconds", "1", *extra,
                                "--yktd", harness.YKTD],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("--crash", p.stderr)


if __name__ == "__main__":
    unittest.main()
