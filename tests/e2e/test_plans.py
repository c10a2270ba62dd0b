"""Query plans of the statements that run per terminal request or per timer tick, on a
database with every plugin's tables (docs/performance.md, "Query plans of every verb").

A statement there that searched a growing table by the wrong index (every pending hold on
campus for one holder's, every booking a room ever had for one free slot) made its verb
slower with every day of use, which no benchmark of an empty campus shows. Each statement
below is the text of the core's or a plugin's own; the test fails when SQLite would no longer
use the index meant for it, for example after a schema change drops or reshapes it.
"""

import os
import shutil
import tempfile

from harness import GatewayTest
from test_bank import write_key

ICBC_KEY = bytes(range(32))

# (statement, number of parameters, what its plan must say: the index it searches[, the
# scans allowed: of tables that do not grow with use])
HOT = [
    # core: the daily limit's read of the holder's pending holds (PAY, HOLD)
    ("SELECT coalesce(sum(amount), 0) FROM holds WHERE person_id = ?1 AND status = 'pending'",
     1, "USING INDEX holds_pending_by_person"),
    # core: a wallet's outgoing transfers other than card payments (statements, settlement)
    ("SELECT * FROM transfers WHERE from_account = ?1 AND kind <> 'pay' "
     "AND kind <> 'pay_offline' AND kind <> 'mgmt_fee'", 1, "USING INDEX transfers_from"),
    # core: the daily jobs that list expired cards and cancel them after the grace period
    ("UPDATE cards SET list_version = ?, expiry_listed = 1 WHERE valid_until < ? "
     "AND expiry_listed = 0 AND status <> 'cancelled'", 2,
     "USING INDEX cards_live_by_valid_until"),
    ("SELECT card_no FROM cards WHERE status <> 'cancelled' "
     "AND valid_until < ? ORDER BY valid_until LIMIT ?", 2,
     "USING INDEX cards_live_by_valid_until"),
    # bank: the expiry timer (every second) and a holder's pending request
    ("UPDATE bank_requests SET status = 'expired', resolved_at = ?1 "
     "WHERE status = 'pending' AND requested_at <= ?1 - ?2", 2,
     "USING INDEX bank_requests_pending"),
    ("SELECT count(*) FROM bank_requests WHERE person_id = ? AND status = 'pending'", 1,
     "USING INDEX bank_requests_pending_by_person"),
    ("UPDATE bank_requests SET status = 'cancelled', resolved_at = ?, reason = 'unbound' "
     "WHERE person_id = ? AND status = 'pending'", 2,
     "USING INDEX bank_requests_pending_by_person"),
    # rooms: is a slot free (ROOMS.BOOK, ROOMS.SLOTS); a person's current booking (lab doors)
    ("SELECT id FROM rooms_bookings WHERE room = ? AND start_ms < ? AND end_ms > ? AND"
     " status IN ('booked', 'checked_in', 'completed') LIMIT 1", 3,
     "USING INDEX rooms_bookings_room_end"),
    ("SELECT 1 FROM rooms_bookings WHERE room = ? AND person_id = ? AND"
     " (status = 'checked_in' OR (status = 'booked' AND due_ms > ?4)) AND"
     " start_ms - ?3 <= ?4 AND ?4 < end_ms LIMIT 1", 4,
     "USING INDEX rooms_bookings_person_room_end"),
    # library: a fine payment's fines, the reservation a held copy waits for, open loans
    ("SELECT pay_card, sum(amount) FROM library_fines "
     "WHERE status = 'owed' AND pay_terminal = ? AND pay_seq = ? GROUP BY pay_card", 2,
     "USING INDEX library_fines_pay_attempt"),
    ("SELECT id, person_id, hold_until_ms FROM library_reservations "
     "WHERE barcode = ? AND status = 'ready'", 1, "USING INDEX library_reservations_ready"),
    ("SELECT count(*), coalesce(sum(due_date < ?), 0) FROM library_loans "
     "WHERE person_id = ? AND returned_ms IS NULL", 2, "USING INDEX library_loans_open_by_person"),
    # access: one person's white-list rows after a card status change
    # (access.c WL_WANTED for one person)
    ("SELECT dg, person_no, group_concat(sched, ';') FROM ("
     " SELECT g.door_group AS dg, m.person_no AS person_no, nullif(ag.schedule, '') AS sched"
     "  FROM access_grants g JOIN access_members m ON m.grp = g.grp"
     "  JOIN access_groups ag ON ag.name = g.grp"
     "  WHERE m.person_no = ?2 UNION"
     " SELECT d.door_group, r.person_no, printf('1234567H %02d:%02d-%02d:%02d',"
     "  dg.resident_from / 60, dg.resident_from % 60, dg.resident_to / 60, dg.resident_to % 60)"
     "  FROM access_doors d JOIN access_residents r ON r.building = d.building"
     "  JOIN access_door_groups dg ON dg.name = d.door_group"
     "  WHERE d.kind = 'dormitory' AND r.person_no = ?2"
     ") GROUP BY dg, person_no HAVING group_concat(sched, ';') IS NOT NULL", 2,
     "SEARCH m USING PRIMARY KEY (person_no=?)",
     ("SCAN d", "SCAN (subquery-2)")),  # the doors, which do not grow with use
    ("SELECT door_group, person_no FROM access_wl WHERE "
     "person_no = ?2 AND state != 'removed' AND stamp != ?3", 3, "USING INDEX access_wl_by_person"),
    # core: the holder's spending of the day, for the daily limit (schema v11: the day's
    # rows together)
    ("SELECT amount FROM daily_spend WHERE person_id = ? AND day = ?", 2,
     "SEARCH daily_spend USING PRIMARY KEY (day=? AND person_id=?)"),
    # core: a holder's payments walked along their chain from the wallet (schema v10;
    # store/util.h HOLDER_PAYMENTS), for payment search by holder or card ...
    ("WITH RECURSIVE " "chain(pid) AS (SELECT last_payment FROM accounts WHERE kind = 'wallet' AND owner = CAST(?2 AS TEXT)"
     " AND last_payment IS NOT NULL "
     "UNION ALL SELECT p.prev_payment FROM chain JOIN payments p ON p.id = chain.pid "
     "WHERE p.prev_payment < p.id AND p.at >= (?5) - 86400000)" " SELECT id, at, card_time, day, card_no, person_id, terminal, seq, merchant, "
     "amount, discount, fee, charged, refunded, offline, flag, coalesce(transfer, 0), "
     "coalesce(fee_transfer, 0) "
     "FROM chain JOIN payments ON payments.id = chain.pid WHERE person_id = ?2 AND "
     "(?1 = '' OR card_no = ?1) AND (?2 = 0 OR person_id = ?2) AND (?3 = '' OR merchant = ?3) "
     "AND (?4 = '' OR terminal = ?4) AND at >= ?5 AND at < ?6 ORDER BY id DESC LIMIT ?7", 7,
     "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)", ("SCAN chain",)),
    # ... and a wallet's history (store/ledger.c ACCOUNT_MOVES)
    ("WITH RECURSIVE " "chain(pid) AS (SELECT last_payment FROM accounts WHERE id = ?1 AND kind = 'wallet'"
     " AND last_payment IS NOT NULL "
     "UNION ALL SELECT p.prev_payment FROM chain JOIN payments p ON p.id = chain.pid "
     "WHERE p.prev_payment < p.id AND p.at >= (0) - 86400000)" ", moves AS ("
     "SELECT * FROM transfers WHERE to_account = ?1 "
     "UNION ALL SELECT * FROM transfers WHERE from_account = ?1 "
     "AND kind <> 'pay' AND kind <> 'pay_offline' AND kind <> 'mgmt_fee' "
     "UNION ALL SELECT t.* FROM chain JOIN payments p ON p.id = chain.pid JOIN transfers t "
     "ON t.id IN (p.transfer, p.fee_transfer) AND t.from_account = ?1) "
     "SELECT id, amount FROM moves ORDER BY id DESC LIMIT ?2", 2,
     "SEARCH p USING INTEGER PRIMARY KEY (rowid=?)", ("SCAN chain", "SCAN moves")),
    # access: a person's decisions along their chain (schema version 4; admin.c, access log)
    ("WITH RECURSIVE chain(lid) AS (SELECT last_id FROM access_log_heads "
     "WHERE person_no = ?1 UNION ALL SELECT l.prev_id FROM chain JOIN "
     "access_log l ON l.id = chain.lid WHERE l.prev_id < l.id AND "
     "l.at_ms >= ?3 - 86400000) "
     "SELECT id, at_ms, door, direction, person_no, card_no, "
     "visitor_id, plate, result, code, reason, uid FROM chain JOIN access_log ON "
     "access_log.id = chain.lid WHERE "
     "person_no = ?1 AND (?2 IS NULL OR door = ?2) AND at_ms BETWEEN "
     "?3 AND ?4 AND (?5 IS NULL OR card_no = ?5) AND (?6 IS NULL OR "
     "plate = ?6) AND (?7 IS NULL OR result = ?7) AND (?8 IS NULL OR "
     "visitor_id = ?8) AND (?10 IS NULL OR uid = ?10) "
     "ORDER BY at_ms DESC, id DESC LIMIT ?9", 10,
     "SEARCH l USING INTEGER PRIMARY KEY (rowid=?)", ("SCAN chain",)),
    # access: a door's decisions along its chain (schema version 5; admin.c, access log)
    ("WITH RECURSIVE chain(lid, found) AS (SELECT last_id, 0 FROM "
     "access_door_heads WHERE door = ?2 UNION ALL SELECT l.prev_door_id, "
     "chain.found + coalesce(l.at_ms BETWEEN ?3 AND ?4 AND (?5 IS NULL OR "
     "l.card_no = ?5) AND (?6 IS NULL OR l.plate = ?6) AND (?7 IS NULL OR "
     "l.result = ?7) AND (?8 IS NULL OR l.visitor_id = ?8) AND (?10 IS NULL OR "
     "l.uid = ?10), 0) FROM chain JOIN "
     "access_log l ON l.id = chain.lid WHERE l.prev_door_id < l.id AND l.at_ms >= ?3 "
     "- 86400000 AND chain.found < ?9) "
     "SELECT id, at_ms, door, direction, person_no, card_no, "
     "visitor_id, plate, result, code, reason, uid FROM chain JOIN access_log ON "
     "access_log.id = chain.lid WHERE (?1 IS NULL) AND door = ?2 AND at_ms "
     "BETWEEN ?3 AND ?4 AND (?5 IS NULL OR card_no = ?5) AND (?6 IS NULL OR "
     "plate = ?6) AND (?7 IS NULL OR result = ?7) AND (?8 IS NULL OR "
     "visitor_id = ?8) AND (?10 IS NULL OR uid = ?10) "
     "ORDER BY at_ms DESC, id DESC LIMIT ?9", 10,
     "SEARCH l USING INTEGER PRIMARY KEY (rowid=?)", ("SCAN chain",)),
    # ... and the door's newest decision, before each decision is logged (access.c)
    ("SELECT last_id FROM access_door_heads WHERE door = ?", 1,
     "SEARCH access_door_heads USING PRIMARY KEY (door=?)"),
    # core: a terminal's kept outcome of (terminal, seq): the day's walked back from its
    # newest, then the archived by their index (schema v12; store/cards.c)
    ("WITH RECURSIVE walk(rid) AS (SELECT last_id FROM terminal_heads WHERE "
     "terminal = ?1 UNION ALL SELECT r.prev_id FROM walk JOIN terminal_requests r "
     "ON r.id = walk.rid WHERE r.terminal = ?1 AND r.archived = 0 AND r.seq <> ?2 "
     "AND r.floor >= ?2 AND r.prev_id < r.id) "
     "SELECT r.digest, r.reply FROM walk JOIN terminal_requests r ON r.id = "
     "walk.rid WHERE r.terminal = ?1 AND r.archived = 0 AND r.seq = ?2 LIMIT 1", 2,
     "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)", ("SCAN walk",)),
    ("SELECT digest, reply FROM terminal_requests WHERE terminal = ? AND seq = ? "
     "AND archived = 1 ORDER BY id LIMIT 1", 2, "USING INDEX terminal_requests_archived"),
    # ... the terminal's newest, before an outcome is kept after it
    ("SELECT last_id, max_seq, day_max FROM terminal_heads WHERE terminal = ?", 1,
     "SEARCH terminal_heads USING PRIMARY KEY (terminal=?)"),
    # ... and the daily job's archiving of what was kept since its last run
    ("UPDATE terminal_requests SET archived = 1 WHERE id > ? AND id <= ?", 2,
     "SEARCH terminal_requests USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
    # core: one holder's notices (notice list --person: the portal's home page, each view)
    ("SELECT n.id, n.at, n.person_id, coalesce(p.person_no, ''), n.kind, n.message, n.amount, "
     "n.state FROM notices n LEFT JOIN people p ON p.id = n.person_id "
     "WHERE n.person_id = ?1 AND (?2 = '' OR n.kind = ?2) "
     "ORDER BY n.at DESC, n.id DESC LIMIT ?3", 3, "USING INDEX notices_by_person"),
    # access: the day's end expires open visitors
    ("UPDATE access_visitors SET status = 'expired', closed_at = ?1 "
     "WHERE status = 'open' AND until_ms < ?1", 1, "USING INDEX access_visitors_open"),
]


class PlanTest(GatewayTest):
    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="ykt-plankeys-")
        cls.sets = {
            "plugin.access.enabled": "yes",
            "plugin.attendance.enabled": "yes",
            "plugin.library.enabled": "yes",
            "plugin.library.prefix": "LIB",
            "plugin.library.merchant": "library",
            "plugin.water.enabled": "yes",
            "plugin.power.enabled": "yes",
            "plugin.power.merchant": "power",
            "plugin.rooms.enabled": "yes",
            "plugin.bank.enabled": "yes",
            "plugin.bank.banks": "icbc",
            "plugin.bank.key_file_icbc": write_key(os.path.join(cls.keydir, "icbc.key"),
                                                   ICBC_KEY),
        }

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.keydir, ignore_errors=True)

    def test_hot_statements_search_by_their_index(self):
        for sql, nparams, index, *allowed in HOT:
            with self.subTest(index=index, sql=sql[:60]):
                plan = [r[3] for r in self.gw.sql("EXPLAIN QUERY PLAN " + sql,
                                                  *([None] * nparams))]
                self.assertTrue(any(p == index or p.startswith(index + " ") or (" " + index)
                                    in p for p in plan), plan)
                allowed = allowed[0] if allowed else ()
                self.assertFalse(any(p.startswith("SCAN ") and p not in allowed for p in plan),
                                 plan)
