#!/bin/sh
# The crash test of issue 9, long version: POS terminals pay without pause while yktd is
# killed with SIGKILL KILLS times (default 50) at random moments and restarted on the same
# database each time; afterwards every payment a terminal got a success reply for must be
# in the ledger exactly once, as replied, and `yktctl audit` must be clean. It is
# `ykt-bench pay --crash` (docs/performance.md, docs/robustness.md) on the release build
# (RelWithDebInfo, built here if needed, as `make build` does). CI runs a short version
# (tests/e2e/test_crash.py: 10 kills in the ASan build).
#
#   tools/scripts/crash-test.sh              # 50 kills over 50 s
#   tools/scripts/crash-test.sh 200          # 200 kills over 200 s
#   tools/scripts/crash-test.sh 50 --crash-seed 7 --pipeline 8   # more ykt-bench options
#
# The run takes a second per kill (at least 30 s): each kill falls at a random moment of its
# own second, so yktd is always up long enough to be under load again. The full report is
# kept in $BUILD/crash-test.txt (and .json). Exit status: 0 all checks held, 1 a check
# failed (the report says which), 2 usage or set-up problem.
#   BUILD=build/release (default), CONNECTIONS=8, PIPELINE=4, CARDS=1000
set -eu
cd "$(dirname "$0")/../.."

KILLS=${1:-50}
shift 2>/dev/null || true
case $KILLS in
'' | *[!0-9]* | 0)
    echo "usage: $0 [KILLS] [ykt-bench pay options...]   (KILLS: 1 or more, default 50)" >&2
    exit 2
    ;;
esac
BUILD=${BUILD:-build/release}
CONNECTIONS=${CONNECTIONS:-8}
PIPELINE=${PIPELINE:-4}
CARDS=${CARDS:-1000}
SECS=$KILLS
[ "$SECS" -ge 30 ] || SECS=30
JOBS=$(nproc 2>/dev/null || echo 2)

tools/scripts/deps.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DYKT_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target yktd ykt-bench >&2

BENCH="$BUILD/tools/bench/ykt-bench"
REPORT="$BUILD/crash-test"
echo "crash-test: $KILLS kills over $SECS s ($BENCH pay --crash $KILLS ...)" >&2
set +e
"$BENCH" --json pay --crash "$KILLS" --seconds "$SECS" --connections "$CONNECTIONS" \
    --pipeline "$PIPELINE" --cards "$CARDS" "$@" >"$REPORT.json"
rc=$?
set -e
if [ ! -s "$REPORT.json" ]; then
    echo "crash-test: ykt-bench produced no report (exit status $rc)" >&2
    exit 2
fi
python3 - "$REPORT.json" "$REPORT.txt" "$rc" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
rc = int(sys.argv[3])
c, v, res = r.get("crash", {}), r.get("verify", {}), r.get("results", {})
ready, down = c.get("time_to_ready_ms", {}), c.get("kill_to_ready_ms", {})
lines = [
    "command       %s" % r["command"],
    "yktd          %s, %s (%s), %s" % (r["yktd"]["binary"], r["yktd"]["build_type"],
                                        r["yktd"]["sanitizers"], r["yktd"]["filesystem"]),
    "kills         %s of %s (restarts %s, seed %s)" % (c.get("kills"), c.get("kills_requested"),
                                                       c.get("restarts"), c.get("seed")),
    "payments      %s success replies, %s in the database, %s found as replied"
    % (v.get("success_replies"), v.get("payments_in_db"), v.get("replies_found_in_db")),
    "resent        %s requests (%s paid: %s by the yktd that died, answered from the kept "
    "outcome); %s retryable error replies"
    % (c.get("resent_requests"), v.get("resent_paid"), v.get("resent_already_paid"),
       c.get("retried_replies", {}).get("total")),
    "restart       time to ready p50 %s ms, max %s ms; kill to ready p50 %s ms, max %s ms"
    % (ready.get("p50"), ready.get("max"), down.get("p50"), down.get("max")),
    "(terminal, seq) twice  %s" % v.get("terminal_seq_twice"),
    "wallets       %s of %s as replied" % (v.get("wallets_as_replied"), v.get("wallets_checked")),
    "ledger        %s" % v.get("ledger"),
    "errors        %s" % json.dumps(r.get("errors", {})),
]
ok = r.get("ok") is True and rc == 0
lines.append("verdict       %s" % ("PASS: durable, nothing lost or applied twice, audit clean"
                                   if ok else "FAIL (exit status %d; see %s)" % (rc, sys.argv[1])))
text = "\n".join(lines) + "\n"
open(sys.argv[2], "w").write(text)
sys.stdout.write(text)
EOF
exit $rc
