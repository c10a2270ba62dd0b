#include "migrations.h"

const char *const ykt_migrations[] = {
    /* 1: terminals, operators, the audit trail. Times are epoch milliseconds, UTC. */
    "CREATE TABLE terminals ("
    "  id TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL CHECK (type IN ('pos','gate','dispenser','meter','bank','booking',"
    "                                     'kiosk','attendance')),"
    "  location TEXT NOT NULL DEFAULT '',"
    "  owner TEXT NOT NULL DEFAULT '',"
    "  secret_hash TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled','disabled','revoked')),"
    "  created_at INTEGER NOT NULL,"
    "  last_seen INTEGER,"
    "  health TEXT,"
    "  health_detail TEXT,"
    "  health_at INTEGER"
    ") STRICT;"
    "CREATE TABLE operators ("
    "  name TEXT PRIMARY KEY,"
    "  role TEXT NOT NULL CHECK (role IN ('operator','finance','dept_admin','dept_head',"
    "                                     'auditor','superuser','guardian')),"
    "  department TEXT NOT NULL DEFAULT '',"
    "  password_hash TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled')),"
    "  must_change_password INTEGER NOT NULL DEFAULT 1,"
    "  failed_logins INTEGER NOT NULL DEFAULT 0,"
    "  locked_until INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL"
    ") STRICT;"
    /* The audit trail is append-only: the triggers refuse any change to a written row. */
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  operator TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT NOT NULL DEFAULT '',"
    "  detail TEXT NOT NULL DEFAULT '',"
    "  approval TEXT NOT NULL DEFAULT ''"
    ") STRICT;"
    "CREATE INDEX audit_by_target ON audit(target, at);"
    "CREATE INDEX audit_by_operator ON audit(operator, at);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",

    /* 2: people, cards, passwords, approvals, the ledger, idempotency of terminal requests. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;"
    "INSERT INTO meta (key, value) VALUES ('blacklist_version', 0), ('card_seq', 0);"
    /* Cardholders (R-P1). Dates are campus-local calendar dates, 'YYYY-MM-DD'. */
    "CREATE TABLE people ("
    "  id INTEGER PRIMARY KEY,"
    "  person_no TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('student','staff','temporary')),"
    "  name TEXT NOT NULL,"
    "  gender TEXT NOT NULL CHECK (gender IN ('M','F')),"
    "  id_number TEXT NOT NULL UNIQUE,"
    "  phone TEXT NOT NULL DEFAULT '',"
    "  department TEXT NOT NULL,"
    "  class TEXT NOT NULL DEFAULT '',"
    "  enrolled_on TEXT,"
    "  study_years INTEGER,"
    "  valid_until TEXT NOT NULL,"
    "  validity_source TEXT NOT NULL CHECK (validity_source IN "
    "    ('study_length','contract','approved','extension')),"
    "  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN "
    "    ('active','graduated','withdrawn','suspended','left','deceased')),"
    "  host TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX people_by_department ON people(department, kind, status);"
    /* Approvals of a unit leader and of the functional department (R-C1), used once each. */
    "CREATE TABLE approvals ("
    "  id INTEGER PRIMARY KEY,"
    "  person_id INTEGER NOT NULL REFERENCES people(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('unit_leader','functional_dept')),"
    "  approver TEXT NOT NULL,"
    "  ref TEXT NOT NULL,"
    "  recorded_by TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  used_by_card TEXT"
    ") STRICT;"
    "CREATE INDEX approvals_by_person ON approvals(person_id, kind, used_by_card);"
    /* Query and payment passwords belong to the holder, so a replacement card keeps them. */
    "CREATE TABLE passwords ("
    "  person_id INTEGER NOT NULL REFERENCES people(id),"
    "  which TEXT NOT NULL CHECK (which IN ('query','pay')),"
    "  hash TEXT NOT NULL,"
    "  initial INTEGER NOT NULL DEFAULT 1,"
    "  failures INTEGER NOT NULL DEFAULT 0,"
    "  locked_until INTEGER NOT NULL DEFAULT 0,"
    "  changed_at INTEGER NOT NULL,"
    "  PRIMARY KEY (person_id, which)"
    ") STRICT;"
    /* Credentials: physical cards and phone cards (R-C11). One live credential per medium
     * per person (R-C1); a cancelled one stays for the record. */
    "CREATE TABLE cards ("
    "  card_no TEXT PRIMARY KEY,"
    "  uid TEXT NOT NULL UNIQUE,"
    "  person_id INTEGER NOT NULL REFERENCES people(id),"
    "  medium TEXT NOT NULL CHECK (medium IN ('card','phone')),"
    "  type TEXT NOT NULL CHECK (type IN ('regular','temporary')),"
    "  status TEXT NOT NULL CHECK (status IN ('active','lost','frozen','cancelled')),"
    "  valid_until TEXT NOT NULL,"
    "  subsystems TEXT NOT NULL DEFAULT '',"
    "  merchants TEXT NOT NULL DEFAULT '',"
    "  atc INTEGER NOT NULL DEFAULT 0,"
    "  list_version INTEGER NOT NULL DEFAULT 0,"
    "  expiry_listed INTEGER NOT NULL DEFAULT 0,"
    "  issued_at INTEGER NOT NULL,"
    "  issued_by TEXT NOT NULL,"
    "  fee INTEGER NOT NULL DEFAULT 0,"
    "  replaces TEXT REFERENCES cards(card_no),"
    "  replaced_by TEXT REFERENCES cards(card_no),"
    "  status_reason TEXT NOT NULL DEFAULT '',"
    "  status_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE UNIQUE INDEX one_live_card ON cards(person_id, medium) WHERE status <> 'cancelled';"
    "CREATE INDEX cards_by_version ON cards(list_version);"
    "CREATE INDEX cards_by_person ON cards(person_id);"
    /* What happened to each card, with the operator and the identity check (R-C4..R-C9). */
    "CREATE TABLE card_events ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  card_no TEXT NOT NULL REFERENCES cards(card_no),"
    "  event TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  id_checked INTEGER NOT NULL DEFAULT 0,"
    "  detail TEXT NOT NULL DEFAULT ''"
    ") STRICT;"
    "CREATE INDEX card_events_by_card ON card_events(card_no, at);"
    /* The ledger (R-W9): every account's balance is the sum of the transfers into it minus
     * those out of it; all balances together sum to zero. Transfers are never changed. */
    "CREATE TABLE accounts ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK (kind IN ('wallet','merchant','fee_income','dormant',"
    "                                     'bank_clearing','cash','deposit','escrow')),"
    "  owner TEXT NOT NULL DEFAULT '',"
    "  balance INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  UNIQUE (kind, owner)"
    ") STRICT;"
    "CREATE TABLE transfers ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  from_account INTEGER NOT NULL REFERENCES accounts(id),"
    "  to_account INTEGER NOT NULL REFERENCES accounts(id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  kind TEXT NOT NULL,"
    "  card_no TEXT,"
    "  terminal TEXT,"
    "  operator TEXT,"
    "  original INTEGER REFERENCES transfers(id),"
    "  memo TEXT NOT NULL DEFAULT '',"
    "  CHECK (from_account <> to_account)"
    ") STRICT;"
    "CREATE INDEX transfers_from ON transfers(from_account, at);"
    "CREATE INDEX transfers_to ON transfers(to_account, at);"
    "CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers"
    "  BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;"
    "CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers"
    "  BEGIN SELECT RAISE(ABORT, 'transfers are immutable'); END;"
    /* Outcome of each (terminal, seq): a retry gets the first reply, never a second effect. */
    "CREATE TABLE terminal_requests ("
    "  terminal TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  digest BLOB NOT NULL,"
    "  reply BLOB NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  PRIMARY KEY (terminal, seq)"
    ") STRICT, WITHOUT ROWID;",

    /* 3: the wallet — merchants, payments, holds, refunds, limits, settlements, notices. */
    "CREATE TABLE merchants ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  category TEXT NOT NULL CHECK (category IN ('canteen','shop','bath','laundry','printing',"
    "                                             'water','power','library','rooms','other')),"
    "  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','suspended')),"
    "  fee_regular_bp INTEGER NOT NULL DEFAULT 0 CHECK (fee_regular_bp BETWEEN 0 AND 10000),"
    "  fee_temporary_bp INTEGER NOT NULL DEFAULT 0 CHECK (fee_temporary_bp BETWEEN 0 AND 10000),"
    "  discount_bp INTEGER NOT NULL DEFAULT 0 CHECK (discount_bp BETWEEN 0 AND 10000),"
    "  commission_bp INTEGER NOT NULL DEFAULT 0 CHECK (commission_bp BETWEEN 0 AND 10000),"
    "  account INTEGER NOT NULL REFERENCES accounts(id),"
    "  created_at INTEGER NOT NULL"
    ") STRICT;"
    /* The business record of each card payment; the money is in the ledger. */
    "CREATE TABLE payments ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  card_time INTEGER NOT NULL,"
    "  day TEXT NOT NULL,"
    "  card_no TEXT NOT NULL,"
    "  person_id INTEGER NOT NULL REFERENCES people(id),"
    "  terminal TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  merchant TEXT NOT NULL REFERENCES merchants(id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  discount INTEGER NOT NULL DEFAULT 0,"
    "  fee INTEGER NOT NULL DEFAULT 0,"
    "  charged INTEGER NOT NULL,"
    "  refunded INTEGER NOT NULL DEFAULT 0,"
    "  offline INTEGER NOT NULL DEFAULT 0,"
    "  flag TEXT NOT NULL DEFAULT '',"
    "  transfer INTEGER REFERENCES transfers(id),"
    "  settlement INTEGER,"
    "  CHECK (refunded <= charged)"
    ") STRICT;"
    "CREATE INDEX payments_by_card ON payments(card_no, at);"
    "CREATE INDEX payments_by_person ON payments(person_id, at);"
    "CREATE INDEX payments_by_merchant ON payments(merchant, day);"
    /* A payment per (terminal, seq), whatever happens to the kept outcomes: a sale uploaded
     * again after the retention period is refused instead of charged twice. */
    "CREATE UNIQUE INDEX payments_once ON payments(terminal, seq);"
    "CREATE INDEX payments_unsettled ON payments(merchant, settlement);"
    /* Daily spending per holder, for the daily limit (R-W2). */
    "CREATE TABLE daily_spend ("
    "  person_id INTEGER NOT NULL,"
    "  day TEXT NOT NULL,"
    "  amount INTEGER NOT NULL,"
    "  PRIMARY KEY (person_id, day)"
    ") STRICT, WITHOUT ROWID;"
    /* Per-holder settings: a daily limit raised on application, reminders, auto top-up. */
    "CREATE TABLE holder_settings ("
    "  person_id INTEGER PRIMARY KEY REFERENCES people(id),"
    "  daily_limit INTEGER,"
    "  daily_limit_ref TEXT NOT NULL DEFAULT '',"
    "  low_balance INTEGER,"
    "  autotopup_below INTEGER,"
    "  autotopup_amount INTEGER"
    ") STRICT;"
    /* Pre-authorisations (water sessions, bookings): the money waits in escrow. */
    "CREATE TABLE holds ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  card_no TEXT NOT NULL,"
    "  person_id INTEGER NOT NULL REFERENCES people(id),"
    "  terminal TEXT NOT NULL,"
    "  merchant TEXT NOT NULL REFERENCES merchants(id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN "
    "    ('pending','captured','voided','expired')),"
    "  captured INTEGER NOT NULL DEFAULT 0,"
    "  expires_at INTEGER NOT NULL,"
    "  resolved_at INTEGER,"
    "  payment INTEGER REFERENCES payments(id)"
    ") STRICT;"
    "CREATE INDEX holds_pending ON holds(status, expires_at);"
    /* Refunds of over-deductions (R-W5), each naming its payment. */
    "CREATE TABLE refunds ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  payment INTEGER NOT NULL REFERENCES payments(id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  reason TEXT NOT NULL,"
    "  operator TEXT NOT NULL,"
    "  transfer INTEGER NOT NULL REFERENCES transfers(id),"
    "  settlement INTEGER"
    ") STRICT;"
    "CREATE INDEX refunds_by_payment ON refunds(payment);"
    /* Merchant settlements (R-W9): what was owed for a period, and the transfer that paid it. */
    "CREATE TABLE settlements ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  merchant TEXT NOT NULL REFERENCES merchants(id),"
    "  period TEXT NOT NULL,"
    "  payments INTEGER NOT NULL,"
    "  gross INTEGER NOT NULL,"
    "  refunds INTEGER NOT NULL,"
    "  commission INTEGER NOT NULL,"
    "  net INTEGER NOT NULL,"
    "  upto_transfer INTEGER NOT NULL,"
    "  transfer INTEGER REFERENCES transfers(id),"
    "  operator TEXT NOT NULL,"
    "  UNIQUE (merchant, period)"
    ") STRICT;"
    /* Messages to holders: low-balance reminders (R-W7), auto top-up requests (R-W6). */
    "CREATE TABLE notices ("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  person_id INTEGER NOT NULL REFERENCES people(id),"
    "  kind TEXT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  amount INTEGER NOT NULL DEFAULT 0,"
    "  state TEXT NOT NULL DEFAULT 'new'"
    ") STRICT;"
    "CREATE INDEX notices_by_person ON notices(person_id, at);"
    "CREATE INDEX notices_by_kind ON notices(kind, state);"
    /* Parents who may read a pupil's records (R-W8). */
    "CREATE TABLE guardians ("
    "  operator TEXT NOT NULL REFERENCES operators(name),"
    "  person_id INTEGER NOT NULL REFERENCES people(id),"
    "  PRIMARY KEY (operator, person_id)"
    ") STRICT;",

    /* v4: plugins keep their own tables (named <plugin>_*) with their own migrations; this
     * records how far each plugin's schema has come. */
    "CREATE TABLE plugin_schema ("
    "  plugin TEXT PRIMARY KEY,"
    "  version INTEGER NOT NULL"
    ") STRICT;",

    /* v5: the role 'portal', ykt-web's service account (docs/web.md). SQLite cannot change a
     * CHECK constraint, so the operators table is rebuilt as in SQLite's "other kinds of
     * table schema changes" (lang_altertable.html): a new table, copy, drop, rename. The
     * runner applies a migration in one transaction with foreign keys on, and PRAGMA
     * foreign_keys cannot be switched inside a transaction; so the rows that refer to an
     * operator (guardians; the audit trail names operators without a foreign key) are set
     * aside before the old table is dropped and put back after the rename. No key is ever
     * dangling, nothing is deferred, and every check stays on. Same columns, same order. */
    "CREATE TABLE operators_new ("
    "  name TEXT PRIMARY KEY,"
    "  role TEXT NOT NULL CHECK (role IN ('operator','finance','dept_admin','dept_head',"
    "                                     'auditor','superuser','guardian','portal')),"
    "  department TEXT NOT NULL DEFAULT '',"
    "  password_hash TEXT NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled')),"
    "  must_change_password INTEGER NOT NULL DEFAULT 1,"
    "  failed_logins INTEGER NOT NULL DEFAULT 0,"
    "  locked_until INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL"
    ") STRICT;"
    "INSERT INTO operators_new (name, role, department, password_hash, status,"
    "                           must_change_password, failed_logins, locked_until, created_at)"
    "  SELECT name, role, department, password_hash, status, must_change_password,"
    "         failed_logins, locked_until, created_at FROM operators;"
    "CREATE TEMP TABLE guardians_kept AS SELECT operator, person_id FROM guardians;"
    "DELETE FROM guardians;"
    "DROP TABLE operators;"
    "ALTER TABLE operators_new RENAME TO operators;"
    "INSERT INTO guardians (operator, person_id)"
    "  SELECT operator, person_id FROM temp.guardians_kept;"
    "DROP TABLE temp.guardians_kept;",

    /* v6: fewer index insertions at random places per card payment (docs/performance.md,
     * "Fewer random index insertions"). Every index keyed by the holder takes each payment's
     * entry on a different page, and each such page is written to the WAL at the next
     * commit: with four of them a PAY wrote about 21 KB. What stays keyed by the holder is
     * payments_by_person. A card's payments are found through it (a card belongs to one
     * person), so payments_by_card goes. transfers_from no longer lists the two transfers
     * of a card payment (`pay` or `pay_offline`, and `mgmt_fee`), which always leave a
     * wallet or the escrow: a wallet's history finds them through payments_by_person and
     * the payment's two transfer columns, so the payment now also names its fee transfer.
     * Nothing reads the escrow's history. The fee transfer was always written right after
     * the payment's own transfer (wallet.c, move_charge), which the backfill relies on;
     * one without a main transfer (a 100 % discount) is found by card, terminal, amount
     * and time. */
    "DROP INDEX payments_by_card;"
    "ALTER TABLE payments ADD COLUMN fee_transfer INTEGER REFERENCES transfers(id);"
    "UPDATE payments SET fee_transfer = transfer + 1 WHERE fee > 0 AND transfer IS NOT NULL"
    "  AND EXISTS (SELECT 1 FROM transfers t WHERE t.id = payments.transfer + 1"
    "              AND t.kind = 'mgmt_fee' AND t.card_no = payments.card_no"
    "              AND t.amount = payments.fee);"
    "UPDATE payments SET fee_transfer = (SELECT max(t.id) FROM transfers t"
    "    WHERE t.kind = 'mgmt_fee' AND t.card_no = payments.card_no"
    "    AND t.terminal = payments.terminal AND t.amount = payments.fee AND t.at <= payments.at)"
    "  WHERE fee > 0 AND fee_transfer IS NULL;"
    "DROP INDEX transfers_from;"
    "CREATE INDEX transfers_from ON transfers(from_account, at)"
    "  WHERE kind NOT IN ('pay', 'pay_offline', 'mgmt_fee');",

    /* v7: the same index, its condition written without NOT IN. SQLite tested a row against
     * `kind NOT IN (three kinds)` by building a temporary B-tree of the three, and did so on
     * every INSERT into transfers (two per card payment) to decide whether the row goes into
     * the index: a fifth of an INSERT's time (docs/performance.md, "A partial index without
     * NOT IN"). Queries say NOT_A_CARD_PAYMENT (store/util.h) to use it. */
    "DROP INDEX transfers_from;"
    "CREATE INDEX transfers_from ON transfers(from_account, at)"
    "  WHERE kind <> 'pay' AND kind <> 'pay_offline' AND kind <> 'mgmt_fee';",

    /* v8: a holder's pending holds by an index. Every PAY and HOLD adds them to the day's
     * spending (R-W2, store/wallet.c ykt_store_pay_context); through holds_pending (status,
     * expires_at) that read went through every pending hold on campus: 2.2 ms per payment
     * with 30,000 pending water sessions and bookings, and PAY fell to 572/s; unchanged now
     * (docs/performance.md, "A holder's pending holds"). Resolved holds leave the index. */
    "CREATE INDEX holds_pending_by_person ON holds(person_id) WHERE status = 'pending';",

    /* v9: cards past their validity by index, for the daily jobs that list them for the
     * blacklist and cancel them after the grace period (ykt_store_card_list_expired,
     * ykt_store_card_expired_before); they read every card ever issued, the cancelled ones
     * too (docs/performance.md, "Query plans of every verb"). Only a card's status or
     * validity changing touches it, not a payment. */
    "CREATE INDEX cards_live_by_valid_until ON cards(valid_until) WHERE status <> 'cancelled';",

    /* v10: a holder's payments as a chain instead of an index (docs/performance.md, "A
     * holder's payments by chain"). payments_by_person took every payment's entry at its
     * holder's place in the index, a page of its own per payment, and the campus's holders
     * keep that many pages changing: each commit wrote them to the WAL and each checkpoint
     * wrote them into the database file at random places, which the disk serves slowly.
     * Now each payment names the holder's payment before it (prev_payment), and the
     * holder's wallet names the newest (accounts.last_payment). The wallet's row changes
     * with every payment anyway. A holder's payments are read by walking back from there
     * (store/util.h, HOLDER_PAYMENTS); ids only fall along a chain, so a walk ends. */
    "ALTER TABLE payments ADD COLUMN prev_payment INTEGER;"
    "ALTER TABLE accounts ADD COLUMN last_payment INTEGER;"
    "UPDATE payments SET prev_payment = w.prev FROM"
    "  (SELECT id, lag(id) OVER (PARTITION BY person_id ORDER BY id) AS prev FROM payments) AS w"
    "  WHERE w.id = payments.id AND w.prev IS NOT NULL;"
    "UPDATE accounts SET last_payment ="
    "  (SELECT max(p.id) FROM payments p WHERE p.person_id = CAST(accounts.owner AS INTEGER))"
    "  WHERE kind = 'wallet';"
    "DROP INDEX payments_by_person;",

    /* v11: the day's spending per holder (R-W2) keyed by the day first. Keyed (person_id,
     * day), each holder's row of the day sat after all their earlier days, so once the
     * table held months, every payment changed a page of its own among as many as holders
     * paid, as payments_by_person did (v10). By (day, person_id), a day's rows are
     * together. With 200 days of history, PAY's p99 at 10,000/s was 5.6-5.8 ms keyed by
     * the holder and 2.7-2.9 ms keyed by the day (docs/performance.md, "A day's spending
     * together"). Every lookup names both columns. */
    "CREATE TABLE daily_spend_new ("
    "  day TEXT NOT NULL,"
    "  person_id INTEGER NOT NULL,"
    "  amount INTEGER NOT NULL,"
    "  PRIMARY KEY (day, person_id)"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO daily_spend_new (day, person_id, amount)"
    "  SELECT day, person_id, amount FROM daily_spend;"
    "DROP TABLE daily_spend;"
    "ALTER TABLE daily_spend_new RENAME TO daily_spend;",

    /* v12: the outcomes of (terminal, seq) appended, each terminal's as a chain, instead of
     * a table keyed by them. Keyed (terminal, seq), each terminal's newest outcome sat at a
     * place of its own, with its reply in the row: every batch changed a page per terminal
     * it served, and at 20,000 door decisions/s those were most of what each checkpoint's
     * finish copied while no transaction began (docs/performance.md, "A terminal's
     * outcomes by chain"). Now an outcome is appended after the last (its id one above the
     * highest in the table; the prune never deletes the newest, so an id is never used
     * again: store/cards.c ykt_store_request_prune) and names its terminal's outcome before
     * it (prev_id) and the highest seq among the terminal's outcomes before it that are not
     * archived yet (floor); terminal_heads holds each terminal's newest, its highest seq
     * ever (max_seq) and since the last archive (day_max), a few bytes per terminal. A
     * lookup walks back from the newest while the floor does not rule the seq out
     * (store/cards.c ykt_store_request_get). The walk covers the outcomes kept since the
     * last daily archive only: it marks them archived, which puts them into a partial index
     * by (terminal, seq), and starts every day_max again, so an old seq costs a walk of one
     * day of that terminal at most and an index search, and one stray huge seq stops
     * ruling seqs out at the next archive. The outcomes already kept are archived here. */
    "CREATE TABLE terminal_requests_new ("
    "  id INTEGER PRIMARY KEY,"
    "  terminal TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  digest BLOB NOT NULL,"
    "  reply BLOB NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  prev_id INTEGER,"
    "  floor INTEGER NOT NULL,"
    "  archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1))"
    ") STRICT;"
    /* Archived, they are never walked: no links, in the order of their key. */
    "INSERT INTO terminal_requests_new (terminal, seq, digest, reply, at, floor, archived)"
    "  SELECT terminal, seq, digest, reply, at, 0, 1 FROM terminal_requests;"
    "DROP TABLE terminal_requests;"
    "ALTER TABLE terminal_requests_new RENAME TO terminal_requests;"
    "CREATE INDEX terminal_requests_archived ON terminal_requests(terminal, seq)"
    "  WHERE archived = 1;"
    "CREATE TABLE terminal_heads ("
    "  terminal TEXT PRIMARY KEY,"
    "  last_id INTEGER NOT NULL,"
    "  max_seq INTEGER NOT NULL,"
    "  day_max INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO terminal_heads (terminal, last_id, max_seq, day_max)"
    "  SELECT terminal, max(id), max(seq), 0 FROM terminal_requests GROUP BY terminal;"
    "INSERT INTO meta (key, value)"
    "  SELECT 'outcomes_archived_upto', coalesce(max(id), 0) FROM terminal_requests;"
    /* In the INSERT's own statement: an outcome is never kept off its chain. */
    "CREATE TRIGGER terminal_requests_head AFTER INSERT ON terminal_requests BEGIN"
    "  INSERT INTO terminal_heads (terminal, last_id, max_seq, day_max)"
    "    VALUES (NEW.terminal, NEW.id, NEW.seq, NEW.seq)"
    "    ON CONFLICT (terminal) DO UPDATE SET last_id = excluded.last_id,"
    "      max_seq = max(max_seq, excluded.max_seq), day_max = max(day_max, excluded.day_max);"
    "END;",

    /* v13: fewer B-tree operations per card payment (docs/performance.md, "Fewer checks per
     * payment"). PAY's single writer spent a tenth of its time checking the foreign keys of
     * payments and transfers: eight parent lookups per payment (its holder, merchant and two
     * transfers; each transfer's two accounts), for rows the same request has just read or
     * written. Those declarations go; `yktctl audit` checks the references instead
     * (store/ledger_audit.c, "references"). Removing a FOREIGN KEY clause does not change
     * what is on disk, so it is done by editing the table's text in sqlite_schema, the
     * procedure of SQLite's ALTER TABLE documentation; RESET makes this connection read
     * the schema again, and the DROP INDEX below moves the schema cookie on for any other.
     * The temporary table's CHECK makes the migration fail, changing nothing, if a table's
     * text differed from what the replace() expects (no database yktd wrote does).
     * A payment was also marked with its settlement, which kept an index, payments_unsettled,
     * with an entry per payment to find them. Nothing read the mark: a payment's settlement is
     * the merchant's first whose upto_transfer reaches the payment's transfer, as the
     * settlements cover each merchant's transfers in ranges one after the other. The column
     * payments.settlement stays, no longer written (NULL costs a byte): dropping it would
     * rewrite the whole table in one transaction, a WAL as large as the table, and SQLite
     * 3.35.0-3.35.4 could corrupt other columns doing so. */
    "PRAGMA writable_schema = ON;"
    "UPDATE sqlite_schema SET sql = replace(replace(replace(sql,"
    "    ' REFERENCES people(id)', ''), ' REFERENCES merchants(id)', ''),"
    "    ' REFERENCES transfers(id)', '')"
    "  WHERE type = 'table' AND name = 'payments';"
    "UPDATE sqlite_schema SET sql = replace(replace(sql,"
    "    ' REFERENCES accounts(id)', ''), ' REFERENCES transfers(id)', '')"
    "  WHERE type = 'table' AND name = 'transfers';"
    "PRAGMA writable_schema = RESET;"
    "CREATE TEMP TABLE v13_foreign_keys_left (n INTEGER"
    "  CONSTRAINT payments_and_transfers_still_declare_foreign_keys CHECK (n = 0));"
    "INSERT INTO v13_foreign_keys_left SELECT (SELECT count(*) FROM"
    "  pragma_foreign_key_list('payments')) + (SELECT count(*) FROM"
    "  pragma_foreign_key_list('transfers'));"
    "DROP TABLE v13_foreign_keys_left;"
    "DROP INDEX payments_unsettled;",

    /* v14: the request that advanced a card's ATC and has not completed, (atc_terminal,
     * atc_seq, atc_digest). A PAY or HOLD that waits for the payment password keeps its card
     * check, and the ATC with it, before it waits; if it is then abandoned (its connection
     * closed) or undone (its outcome could not be kept), nothing of it is kept but the ATC,
     * and its terminal's retry, the same bytes again, was refused REPLAY though nothing was
     * paid. The card now names such a request, with the digest of its bytes, from its wait
     * until its outcome is kept (verbs.c ykt_verbs_mark_waiting, put_outcome), and the card
     * check lets exactly that request through once more (cardauth.c, retry_of_atc_request). */
    "ALTER TABLE cards ADD COLUMN atc_terminal TEXT;"
    "ALTER TABLE cards ADD COLUMN atc_seq INTEGER;"
    "ALTER TABLE cards ADD COLUMN atc_digest BLOB;",
};

const int ykt_migrations_count = (int)(sizeof ykt_migrations / sizeof ykt_migrations[0]);
