#!/bin/sh
# `make run`: start yktd with conf/ykt.ini in the foreground; on first start, fill the
# database with the demo campus through yktctl (the real admin path). Then start the web
# portal, ykt-web, beside it (conf/ykt-web.ini, http://127.0.0.1:8080/) with its own
# `portal` operator. Ctrl-C stops both gracefully (yktd commits in-flight work, closes the
# database and exits 0).
set -eu
BUILD=${1:-build/release}
CONF=conf/ykt.ini
YKTD=$BUILD/core/yktd
YKTCTL=$BUILD/tools/yktctl/yktctl
YKTWEB=$BUILD/tools/web/ykt-web
SOCKET=var/yktd.sock
WEBPID=

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
# The demo bank's transfer-in key (the bank plugin's HMAC key, docs/plugins/bank.md): fixed
# like the master key; a real bank exchanges its own with the card centre.
if [ ! -f var/demo-bank.key ]; then
    (umask 077; printf '# ykt DEMO bank key - never use in production\n%s\n' \
        00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff >var/demo-bank.key)
fi
chmod 600 var/demo-bank.key
# The subsystem plugins the demo's terminals talk to. conf/ykt.ini leaves them off (the
# tests enable each where they need it); a campus enables its own in [plugin.NAME].
set -- --set plugin.access.enabled=yes --set plugin.attendance.enabled=yes \
    --set plugin.library.enabled=yes --set plugin.library.prefix=LIB \
    --set plugin.library.merchant=library --set plugin.water.enabled=yes \
    --set plugin.power.enabled=yes --set plugin.power.merchant=logistics \
    --set plugin.rooms.enabled=yes --set plugin.rooms.merchant=library \
    --set plugin.bank.enabled=yes --set plugin.bank.banks=demo \
    --set plugin.bank.key_file_demo=var/demo-bank.key
"$YKTD" --check-config "$CONF" "$@" >/dev/null
"$YKTD" -c "$CONF" "$@" &
PID=$!
# Ctrl-C reaches yktd and ykt-web directly (same process group); a TERM sent to this script
# is passed on.
trap 'kill -TERM $PID $WEBPID 2>/dev/null || true' TERM
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

# The web portal's service account: an operator with role portal (docs/web.md), its
# password in var/ykt-web.password (0600), which conf/ykt-web.ini names.
web_account() {
    out=$("$YKTCTL" -s "$SOCKET" --json operator add ykt-web --role portal 2>/dev/null) ||
        out=$("$YKTCTL" -s "$SOCKET" --json operator reset-password ykt-web) || return 1
    initial=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["initial_password"])') || return 1
    pw=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))') || return 1
    YKTCTL_PASSWORD=$initial "$YKTCTL" -s "$SOCKET" -u ykt-web passwd "$initial" "$pw" \
        >>var/demo-seed.log 2>&1 || return 1
    (umask 077; printf '%s\n' "$pw" >var/ykt-web.password)
}
WEB_URL=
if [ -x "$YKTWEB" ]; then
    if [ -s var/ykt-web.password ] || web_account; then
        : >var/ykt-web.log
        "$YKTWEB" -c conf/ykt-web.ini 2>>var/ykt-web.log &
        WEBPID=$!
        i=0
        while ! grep -q 'listening on' var/ykt-web.log 2>/dev/null; do
            if ! kill -0 "$WEBPID" 2>/dev/null || [ $i -gt 50 ]; then
                echo "ykt: ykt-web did not start (port 8080 taken?); see var/ykt-web.log" >&2
                kill -TERM "$WEBPID" 2>/dev/null || true
                WEBPID=
                break
            fi
            i=$((i + 1))
            sleep 0.1
        done
        [ -n "$WEBPID" ] && WEB_URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' var/ykt-web.log | head -n 1)
    else
        echo "ykt: could not create the portal's service account; ykt-web not started" >&2
    fi
fi
if [ -n "$WEB_URL" ]; then
    WEB_GUIDE="  Web portal (ykt-web, pid $WEBPID): open $WEB_URL
    holders sign in with a person or card number and the query password, staff with an
    operator account (the initial one asks for a new password); log: var/ykt-web.log"
else
    WEB_GUIDE="  Web portal: not running (see docs/web.md to start ykt-web by hand)"
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
    $BUILD/tools/cardsim/ykt-cardsim -p 7070 --terminal GATE-MAIN-01 \\
        --secret demo-gate-main-01-secret swipe --uid 04DE000000B001 ACCESS.OPEN
    $YKTCTL plugin list    # all seven subsystem plugins are on in the demo
    $YKTCTL status
    $YKTCTL terminal list
    $YKTCTL person show S2025001
    $YKTCTL card history 8000000011
    $YKTCTL audit list
  Demo operators, cards and initial passwords: var/demo-credentials.txt
$WEB_GUIDE
  Stop with Ctrl-C: yktd finishes in-flight requests and exits 0.

GUIDE

status=0
while kill -0 "$PID" 2>/dev/null; do
    wait "$PID" && status=0 || status=$?
done
if [ -n "$WEBPID" ]; then
    kill -TERM "$WEBPID" 2>/dev/null || true
    wait "$WEBPID" 2>/dev/null || true
fi
exit $status
