#!/bin/sh
# Fills a fresh database with the demo campus, using yktctl as an administrator would.
# Terminal secrets are fixed here so the README's examples work; a real campus lets
# `terminal add` generate them. Operator passwords go to var/demo-credentials.txt (0600).
set -eu
YKTCTL=${1:?usage: demo-campus.sh PATH-TO-YKTCTL}

terminal() { # id type location owner
    "$YKTCTL" terminal add "$1" --type "$2" --location "$3" --owner "$4" \
        --secret "demo-$(echo "$1" | tr 'A-Z' 'a-z')-secret" --approval DEMO-SETUP >/dev/null
}
terminal POS-C1-01    pos        "一食堂 Canteen 1, window 1"      canteen-1
terminal POS-C1-02    pos        "一食堂 Canteen 1, window 2"      canteen-1
terminal POS-SHOP-01  pos        "校园超市 Campus supermarket"     supermarket
terminal GATE-MAIN-01 gate       "南大门 South gate"               security
terminal GATE-D3-01   gate       "3号宿舍楼 Dormitory 3 entrance"  housing
terminal WATER-D3-01  dispenser  "3号宿舍楼 Dormitory 3 showers"   logistics
terminal METER-D3-101 meter      "3号宿舍楼 101 Dormitory 3 room 101" logistics
terminal BANK-01      bank       "图书馆大厅 Library hall, bank kiosk" bank-front
terminal BOOK-LIB-01  booking    "图书馆 Library study rooms"      library
terminal KIOSK-01     kiosk      "一卡通中心 Card centre self-service" card-centre
terminal ATT-CS-01    attendance "计算机学院 School of CS office"  cs

umask 077
: >var/demo-credentials.txt
operator() { # name role [department]
    if [ $# -ge 3 ]; then
        out=$("$YKTCTL" --json operator add "$1" --role "$2" --department "$3")
    else
        out=$("$YKTCTL" --json operator add "$1" --role "$2")
    fi
    pw=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["initial_password"])')
    printf '%-10s %-10s %s\n' "$1" "$2" "$pw" >>var/demo-credentials.txt
}
operator counter1 operator
operator finance1 finance
operator auditor1 auditor
operator csadmin  dept_admin cs
operator cshead   dept_head  cs
echo "demo campus created"
