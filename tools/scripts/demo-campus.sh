#!/bin/sh
# Fills a fresh database with the demo campus, using yktctl as an administrator would.
# Terminal secrets are fixed here so the README's examples work; a real campus lets
# `terminal add` generate them. Operator passwords go to var/demo-credentials.txt (0600).
set -eu
YKTCTL=${1:?usage: demo-campus.sh PATH-TO-YKTCTL}

# Merchants own the POS and water terminals: the canteen charges temporary cards a
# management fee, the supermarket gives a small discount (docs/wallet.md).
"$YKTCTL" merchant add canteen-1 --name "一食堂 Canteen 1" --category canteen \
    --fee-temporary 10 --commission 1 >/dev/null
"$YKTCTL" merchant add supermarket --name "校园超市 Campus supermarket" --category shop \
    --discount 2 --commission 2 >/dev/null
"$YKTCTL" merchant add logistics --name "后勤 Logistics (water, power)" --category water >/dev/null
"$YKTCTL" merchant add library --name "图书馆 Library (study rooms)" --category library >/dev/null

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
operator csadmin  dept_admin CS
operator cshead   dept_head  CS
# People: two students of the School of CS, a staff member, a visitor. ID numbers are
# made up but valid (check digit and birth date), as the gateway insists.
"$YKTCTL" person add S2025001 --kind student --name 张三 --gender M \
    --id-number 110105200503071230 --department CS --class CS-2025-1 \
    --enrolled 2025-09-01 --study-years 4 --phone 13812345678 >/dev/null
"$YKTCTL" person add S2025002 --kind student --name 李四 --gender F \
    --id-number 310104200601152342 --department CS --class CS-2025-1 \
    --enrolled 2025-09-01 --study-years 4 >/dev/null
"$YKTCTL" person add E1001 --kind staff --name 王老师 --gender F \
    --id-number 320102198001017525 --department CS --valid-until 2031-08-31 >/dev/null
"$YKTCTL" person add V0001 --kind temporary --name "Visiting Lecturer" --gender M \
    --id-number 440106197502281218 --department CS --valid-until 2027-06-30 --host E1001 >/dev/null

# Cards: fixed UIDs so `ykt-cardsim swipe --uid ...` works from the README.
card() { # person uid [more issue options]
    person=$1 uid=$2
    shift 2
    out=$("$YKTCTL" --json card issue "$person" --uid "$uid" "$@")
    printf '%s' "$out" | python3 -c 'import json,sys
r = json.load(sys.stdin)
print("card %-10s %s uid %s query %s pay %s" % (r["person_no"], r["card_no"], r["uid"],
      r["initial_query_password"], r["initial_pay_password"]))' >>var/demo-credentials.txt
}
card S2025001 04DE000000A001
card S2025002 04DE000000A002
"$YKTCTL" approval add E1001 --kind unit_leader --approver "CS dean" --ref DEMO-HR-1 >/dev/null
"$YKTCTL" approval add E1001 --kind functional_dept --approver "HR office" --ref DEMO-HR-2 >/dev/null
card E1001 04DE000000B001
"$YKTCTL" approval add V0001 --kind unit_leader --approver "CS dean" --ref DEMO-V-1 >/dev/null
"$YKTCTL" approval add V0001 --kind functional_dept --approver "Foreign affairs" --ref DEMO-V-2 >/dev/null
card V0001 04DE000000C001 --type temporary --until 2027-06-30 --subsystems canteen,library
# The south gate opens for every valid card (the attendance plugin holds students leaving in
# class hours without an approved leave); the CS students and staff are on the attendance
# roster of the card-punch terminal in the CS office.
"$YKTCTL" access doorgroup-add campus-gates --public yes >/dev/null
"$YKTCTL" access door-add south-gate --terminal GATE-MAIN-01 --kind campus_gate \
    --group campus-gates --direction both >/dev/null
for p in S2025001 S2025002 E1001; do
    "$YKTCTL" attendance enrol "$p" >/dev/null
done
"$YKTCTL" account topup S2025001 --amount 200.00 --counter demo >/dev/null
"$YKTCTL" account topup E1001 --amount 500.00 --counter demo >/dev/null
echo "demo campus created"
