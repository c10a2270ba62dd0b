#!/bin/bash
# Checks the README's promises about `make run` on this machine: starts the demo in the
# background, tries what the guide says, stops it with SIGTERM and checks the database.
# Needs port 7070 free and takes over var/. Exit status 0 when every step worked.
set -u
cd "$(dirname "$0")/../.."
fail() { echo "smoke-demo: FAILED: $*" >&2; kill -TERM "$pid" 2>/dev/null; exit 1; }
make run >var-smoke.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    redis-cli -p 7070 PING 2>/dev/null | grep -q PONG && [ -f var/.demo-seeded ] && break
    kill -0 $pid 2>/dev/null || { cat var-smoke.log; fail "make run exited"; }
    sleep 1
done
B=build/release
[ "$(redis-cli -p 7070 PING)" = PONG ] || fail "PING"
redis-cli -p 7070 --user T1 --pass wrong PING 2>&1 | grep -q "AUTH failed: NOAUTH" || fail "NOAUTH"
redis-cli -p 7070 --user POS-C1-01 --pass demo-pos-c1-01-secret TIME | grep -qE '^[0-9]{13}$' ||
    fail "TIME"
$B/tools/cardsim/ykt-cardsim -p 7070 --terminal POS-C1-01 --secret demo-pos-c1-01-secret \
    swipe --uid 04DE000000A001 CARD.INFO || fail "CARD.INFO swipe"
$B/tools/cardsim/ykt-cardsim -p 7070 --terminal POS-C1-01 --secret demo-pos-c1-01-secret \
    swipe --uid 04DE000000A001 --amount 1250 PAY || fail "PAY swipe"
$B/tools/yktctl/yktctl status >/dev/null || fail "yktctl status"
$B/tools/yktctl/yktctl audit || fail "yktctl audit"
pkill -TERM -x yktd
wait $pid
grep -q "stopped; database closed cleanly" var-smoke.log || fail "clean stop"
[ "$(sqlite3 var/ykt.db 'PRAGMA integrity_check')" = ok ] || fail "integrity"
rm -f var-smoke.log
echo "smoke-demo: make run works as the README says"
