#!/bin/sh
# `make run`: start yktd with conf/ykt.ini in the foreground; on first start, fill the
# database with the demo campus through yktctl (the real admin path). Ctrl-C stops yktd
# gracefully (it commits in-flight work, closes the database and exits 0).
set -eu
BUILD=${1:-build/release}
CONF=conf/ykt.ini
YKTD=$BUILD/core/yktd
YKTCTL=$BUILD/tools/yktctl/yktctl
SOCKET=var/yktd.sock

mkdir -p var
# Seed when the database is new (a marker alone could outlive a deleted database).
if [ ! -f var/ykt.db ]; then
    rm -f var/.demo-seeded
fi
# The demo's card master key: fixed, so the examples in docs/cardsim.md work. A real campus
# generates its own (docs/operations.md) and keeps it out of the database and the logs.
if [ ! -f var/demo-master.key ]; then
    (umask 077; printf '# ykt DEMO master key - never use in production\n00112233445566778899aabbccddeeff\n' \
        >var/demo-master.key)
fi
chmod 600 var/demo-master.key
"$YKTD" --check-config "$CONF" >/dev/null
"$YKTD" -c "$CONF" &
PID=$!
# Ctrl-C reaches yktd directly (same process group); a TERM sent to this script is passed on.
trap 'kill -TERM $PID 2>/dev/null || true' TERM
trap ':' INT

i=0
while [ ! -S "$SOCKET" ]; do
    if ! kill -0 "$PID" 2>/dev/null; then
        wait "$PID" || exit $?
        exit 1
    fi
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "ykt: yktd did not open $SOCKET" >&2; kill -TERM $PID; exit 1; }
    sleep 0.1
done

if [ ! -f var/.demo-seeded ]; then
    YKTCTL_SOCKET=$SOCKET tools/scripts/demo-campus.sh "$YKTCTL" >var/demo-seed.log 2>&1 || {
        echo "ykt: seeding the demo campus failed; see var/demo-seed.log" >&2
        kill -TERM $PID
        exit 1
    }
    touch var/.demo-seeded
fi

cat <<GUIDE

  ykt demo campus is running (yktd pid $PID).
    terminal port  127.0.0.1:7070  (RESP, plain TCP, loopback only)
    admin socket   $SOCKET
    database       var/ykt.db

  Try, in another shell from this folder:
    redis-cli -p 7070 PING
    redis-cli -p 7070 --user POS-C1-01 --pass demo-pos-c1-01-secret TIME
    redis-cli -p 7070 --user T1 --pass wrong PING         # refused: NOAUTH
    $BUILD/tools/cardsim/ykt-cardsim -p 7070 --terminal POS-C1-01 \\
        --secret demo-pos-c1-01-secret swipe --uid 04DE000000A001 CARD.INFO
    $YKTCTL status
    $YKTCTL terminal list
    $YKTCTL person show S2025001
    $YKTCTL card history 8000000011
    $YKTCTL audit list
  Demo operators, cards and initial passwords: var/demo-credentials.txt
  Stop with Ctrl-C: yktd finishes in-flight requests and exits 0.

GUIDE

status=0
while kill -0 "$PID" 2>/dev/null; do
    wait "$PID" && status=0 || status=$?
done
exit $status
