/*
 * Record-level storage functions: the only callers of SQL in the core. Each returns
 * YKT_OK, YKT_ENOTFOUND, YKT_EEXIST (unique key taken) or YKT_ESTORAGE (logged).
 */
#ifndef YKT_STORE_H
#define YKT_STORE_H

#include <stdint.h>

#include "../buf.h"
#include "../card.h"
#include "../db.h"
#include "../ledger.h"
#include "../person.h"
#include "../terminal.h"
#include "../wallet.h"

/* ---- terminals ---- */
int ykt_store_terminal_insert(ykt_db *db, const ykt_terminal *t);
int ykt_store_terminal_set_status(ykt_db *db, const char *id, const char *status);
int ykt_store_terminal_set_secret(ykt_db *db, const char *id, const char *hash);
int ykt_store_terminal_set_last_seen(ykt_db *db, const char *id, int64_t at);
int ykt_store_terminal_set_health(ykt_db *db, const char *id, const char *health,
                                  const char *detail, int64_t at);
/* Calls fn for every stored terminal (t is only valid during the call). */
int ykt_store_terminal_each(ykt_db *db, int (*fn)(const ykt_terminal *t, void *arg), void *arg);

/* ---- operators ---- */
typedef struct ykt_operator_row {
    char name[64];
    char role[16];
    char department[64];
    char password_hash[YKT_HASH_MAX];
    char status[16];
    int must_change_password;
    int failed_logins;
    int64_t locked_until;
    int64_t created_at;
} ykt_operator_row;

int ykt_store_operator_insert(ykt_db *db, const ykt_operator_row *op);
int ykt_store_operator_get(ykt_db *db, const char *name, ykt_operator_row *out);
int ykt_store_operator_set_password(ykt_db *db, const char *name, const char *hash,
                                    int must_change);
int ykt_store_operator_set_status(ykt_db *db, const char *name, const char *status);
int ykt_store_operator_set_login_state(ykt_db *db, const char *name, int failed,
                                       int64_t locked_until);
int ykt_store_operator_each(ykt_db *db, int (*fn)(const ykt_operator_row *op, void *arg),
                            void *arg);

/* ---- audit trail ---- */
typedef struct ykt_audit_row {
    int64_t id;
    int64_t at;
    const char *operator_name;
    const char *role;
    const char *action;
    const char *target;
    const char *detail;
    const char *approval;
} ykt_audit_row;

int ykt_store_audit_append(ykt_db *db, const ykt_audit_row *row);
/* Newest first; empty filters match everything; since_ms 0 means no lower bound. */
int ykt_store_audit_query(ykt_db *db, const char *operator_name, const char *target,
                          const char *action, int64_t since_ms, int limit,
                          int (*fn)(const ykt_audit_row *row, void *arg), void *arg);

/* ---- people, approvals, passwords ---- */
int ykt_store_person_by_no(ykt_db *db, const char *person_no, ykt_person *out);
int ykt_store_person_by_id(ykt_db *db, int64_t id, ykt_person *out);
int ykt_store_person_by_id_number(ykt_db *db, const char *id_number, ykt_person *out);
/* Sets p->id. */
int ykt_store_person_insert(ykt_db *db, ykt_person *p);
int ykt_store_person_update(ykt_db *db, const ykt_person *p);
/* Empty filters match everything. */
int ykt_store_person_each(ykt_db *db, const char *department, const char *kind, const char *status,
                          int limit, int (*fn)(const ykt_person *p, void *arg), void *arg);

typedef struct ykt_approval_row {
    int64_t id;
    const char *kind;
    const char *approver;
    const char *ref;
    const char *recorded_by;
    int64_t at;
    const char *used_by_card;
} ykt_approval_row;

int ykt_store_approval_insert(ykt_db *db, int64_t person_id, const char *kind, const char *approver,
                              const char *ref, const char *recorded_by, int64_t at);
/* The newest approval of this kind not yet used by an issuance. */
int ykt_store_approval_unused(ykt_db *db, int64_t person_id, const char *kind, int64_t *id,
                              char *ref, size_t reflen);
int ykt_store_approval_use(ykt_db *db, int64_t id, const char *card_no);
int ykt_store_approval_each(ykt_db *db, int64_t person_id,
                            int (*fn)(const ykt_approval_row *a, void *arg), void *arg);

typedef struct ykt_password_row {
    char hash[YKT_HASH_MAX];
    int initial;
    int failures;
    int64_t locked_until;
    int64_t changed_at;
} ykt_password_row;

int ykt_store_password_get(ykt_db *db, int64_t person_id, const char *which, ykt_password_row *out);
/* Sets (or replaces) a password; clears failures and locks. */
int ykt_store_password_set(ykt_db *db, int64_t person_id, const char *which, const char *hash,
                           int initial, int64_t at);
int ykt_store_password_failures(ykt_db *db, int64_t person_id, const char *which, int failures,
                                int64_t locked_until);

/* ---- cards ---- */
int ykt_store_card_by_no(ykt_db *db, const char *card_no, ykt_card *out);
int ykt_store_card_by_uid(ykt_db *db, const char *uid, ykt_card *out);
/* The person's credential of this medium that is not cancelled. */
int ykt_store_card_live(ykt_db *db, int64_t person_id, const char *medium, ykt_card *out);
/* Physical cards ever issued to the person (the first one is free). */
int ykt_store_card_count_for_person(ykt_db *db, int64_t person_id, int64_t *count);
int ykt_store_card_insert(ykt_db *db, const ykt_card *c);
int ykt_store_card_set_status(ykt_db *db, const char *card_no, const char *status,
                              const char *reason, int64_t version, int64_t at);
int ykt_store_card_set_replaced_by(ykt_db *db, const char *card_no, const char *by);
/* Raises the card's last ATC; YKT_ENOTFOUND when it is not below atc (a replay). */
int ykt_store_card_set_atc(ykt_db *db, const ykt_card *card, int64_t atc);
/* The card's ATC was advanced by the request (terminal, seq) with these bytes (their
 * digest), which has not completed: it waits for a password check. Unmarked when its
 * outcome is kept (schema 14). */
int ykt_store_card_mark_atc(ykt_db *db, const char *card_no, const char *terminal, int64_t seq,
                            const uint8_t digest[16]);
int ykt_store_card_unmark_atc(ykt_db *db, const char *card_no, const char *terminal, int64_t seq);
/* Follows a person's new validity on their cards that are not cancelled: regular cards take
 * it; a temporary card keeps its own earlier end date and is only cut back to the new one.
 * Also takes the cards off the expiry blacklist (version) so offline terminals accept them
 * again. */
int ykt_store_card_set_validity(ykt_db *db, int64_t person_id, const char *valid_until,
                                int64_t version);
/* One card's own end date (a temporary card extended on proof), published as version. */
int ykt_store_card_set_end(ykt_db *db, const char *card_no, const char *valid_until,
                           int64_t version);
int ykt_store_card_each(ykt_db *db, int64_t person_id, const char *status, int limit,
                        int (*fn)(const ykt_card *c, void *arg), void *arg);
int ykt_store_card_changed_since(ykt_db *db, int64_t version, int limit,
                                 int (*fn)(const ykt_card *c, void *arg), void *arg);
int ykt_store_card_expired_before(ykt_db *db, const char *cutoff, int limit,
                                  int (*fn)(const ykt_card *c, void *arg), void *arg);

typedef struct ykt_card_event_row {
    int64_t id;
    int64_t at;
    const char *card_no;
    const char *event;
    const char *actor;
    int id_checked;
    const char *detail;
} ykt_card_event_row;

int ykt_store_card_event(ykt_db *db, const char *card_no, const char *event, const char *actor,
                         int id_checked, const char *detail, int64_t at);
/* The card's status as of `at` (from its status changes); "active" before any. */
int ykt_store_card_status_at(ykt_db *db, const char *card_no, int64_t at, char *status, size_t len);
int ykt_store_card_events(ykt_db *db, const char *card_no, int limit,
                          int (*fn)(const ykt_card_event_row *e, void *arg), void *arg);

/* ---- plugins' schema versions ---- */
int ykt_store_plugin_schema_get(ykt_db *db, const char *plugin, int64_t *version);
int ykt_store_plugin_schema_set(ykt_db *db, const char *plugin, int64_t version);

/* ---- counters in the meta table (blacklist_version, card_seq) ---- */
int ykt_store_meta_next(ykt_db *db, const char *key, int64_t *value);
int ykt_store_meta_get(ykt_db *db, const char *key, int64_t *value);
int ykt_store_meta_set(ykt_db *db, const char *key, int64_t value);

/* ---- outcomes of terminal requests, by (terminal, seq) ---- */
int ykt_store_request_get(ykt_db *db, const char *terminal, int64_t seq, uint8_t digest[16],
                          ykt_buf *reply);
/* YKT_EEXIST when (terminal, seq) has an outcome already: the first stays. */
int ykt_store_request_put(ykt_db *db, const char *terminal, int64_t seq, const uint8_t digest[16],
                          const char *reply, size_t len, int64_t at);
/* Moves the outcomes kept since the last call from the walk to the index (daily). */
int ykt_store_request_archive(ykt_db *db, int64_t *archived);
/* Forgets archived outcomes kept before `before` (epoch ms). */
int ykt_store_request_prune(ykt_db *db, int64_t before, int64_t *removed);
/* The highest seq the terminal has had an outcome kept for (pruned or not), or 0. */
int ykt_store_request_max_seq(ykt_db *db, const char *terminal, int64_t *seq);

/* ---- wallet: merchants, payments, spending, settings, holds, refunds, notices ---- */
int ykt_store_merchant_insert(ykt_db *db, const ykt_merchant *m);
int ykt_store_merchant_update(ykt_db *db, const ykt_merchant *m);
int ykt_store_merchant_get(ykt_db *db, const char *id, ykt_merchant *out);
int ykt_store_merchant_each(ykt_db *db, int (*fn)(const ykt_merchant *m, void *arg), void *arg);

typedef struct ykt_payment_row {
    int64_t id;
    int64_t at;
    int64_t card_time;
    char day[YKT_DATE_LEN];
    char card_no[YKT_CARD_NO_LEN];
    int64_t person_id;
    char terminal[YKT_TERMINAL_ID_MAX + 1];
    int64_t seq;
    char merchant[32];
    int64_t amount, discount, fee, charged, refunded;
    int offline;
    char flag[32];
    int64_t transfer;     /* the charge less the discount, to the merchant; 0 if none */
    int64_t fee_transfer; /* the management fee, to fee income; 0 if none */
    int64_t wallet;       /* insert only: the holder's wallet account, which the debit found */
} ykt_payment_row;

typedef struct ykt_payment_filter {
    const char *card_no; /* "" = any */
    int64_t person_id;   /* 0 = any */
    const char *merchant;
    const char *terminal;
    int64_t from_ms, to_ms; /* to_ms 0 = no upper bound */
    int limit;
} ykt_payment_filter;

/* Sets p->id. */
int ykt_store_payment_insert(ykt_db *db, ykt_payment_row *p);
int ykt_store_payment_get(ykt_db *db, int64_t id, ykt_payment_row *out);
int ykt_store_payment_add_refunded(ykt_db *db, int64_t id, int64_t amount);
/* Newest first. */
int ykt_store_payment_search(ykt_db *db, const ykt_payment_filter *f,
                             int (*fn)(const ykt_payment_row *p, void *arg), void *arg);

int ykt_store_daily_spend_get(ykt_db *db, int64_t person_id, const char *day, int64_t *amount);
int ykt_store_daily_spend_add(ykt_db *db, int64_t person_id, const char *day, int64_t amount);

typedef struct ykt_holder_settings {
    int64_t daily_limit; /* -1: the card type's default */
    char daily_limit_ref[101];
    int64_t low_balance;     /* -1: [wallet] low_balance */
    int64_t autotopup_below; /* -1: off */
    int64_t autotopup_amount;
} ykt_holder_settings;

/* Fills defaults (-1) when the holder has no settings. */
int ykt_store_holder_settings_get(ykt_db *db, int64_t person_id, ykt_holder_settings *out);
int ykt_store_holder_settings_put(ykt_db *db, int64_t person_id, const ykt_holder_settings *s);
/*
 * What a payment reads of its holder, in one statement: the settings (defaults as above),
 * the day's spending plus the pending holds (*spent), and the balance of account `wallet`
 * if that is the wallet (kind, owner) of the holder, else *wallet_ok = false.
 */
int ykt_store_pay_context(ykt_db *db, int64_t person_id, const char *day, int64_t wallet,
                          const char *owner, ykt_holder_settings *s, int64_t *spent,
                          bool *wallet_ok, int64_t *balance);

typedef struct ykt_hold_row {
    int64_t id;
    int64_t at;
    char card_no[YKT_CARD_NO_LEN];
    int64_t person_id;
    char terminal[YKT_TERMINAL_ID_MAX + 1];
    char merchant[32];
    int64_t amount;
    char status[12];
    int64_t captured;
    int64_t expires_at;
    int64_t resolved_at;
    int64_t payment;
} ykt_hold_row;

/* Sets h->id. */
int ykt_store_hold_insert(ykt_db *db, ykt_hold_row *h);
int ykt_store_hold_get(ykt_db *db, int64_t id, ykt_hold_row *out);
/* Resolves a pending hold; YKT_ENOTFOUND when it is not pending (already resolved). */
int ykt_store_hold_resolve(ykt_db *db, int64_t id, const char *status, int64_t captured,
                           int64_t payment, int64_t at);
int ykt_store_holds_expired(ykt_db *db, int64_t now, int limit, int64_t *ids, int *n);
/* The money a holder has on pending holds: spent once captured, so it counts against the
 * daily limit while it is held. */
int ykt_store_holds_pending_sum(ykt_db *db, int64_t person_id, int64_t *sum);

int ykt_store_refund_insert(ykt_db *db, int64_t payment, int64_t amount, const char *reason,
                            const char *operator_name, int64_t transfer, int64_t at, int64_t *id);

typedef struct ykt_notice_row {
    int64_t id;
    int64_t at;
    int64_t person_id;
    const char *person_no; /* "" when the person is gone */
    const char *kind;
    const char *message;
    int64_t amount;
    const char *state;
} ykt_notice_row;

int ykt_store_notice_insert(ykt_db *db, int64_t person_id, const char *kind, const char *message,
                            int64_t amount, int64_t at);
int ykt_store_notice_each(ykt_db *db, int64_t person_id, const char *kind, int limit,
                          int (*fn)(const ykt_notice_row *n, void *arg), void *arg);
/* R-W8: a `statement` notice for month (YYYY-MM) to every holder with a wallet opened before
 * the month ended (month_end_ms) and a card not cancelled before it began (month_start_ms);
 * *count is how many. */
int ykt_store_notice_statements(ykt_db *db, const char *month, int64_t month_start_ms,
                                int64_t month_end_ms, int64_t at, int64_t *count);

typedef struct ykt_settlement_row {
    int64_t id;
    int64_t at;
    char merchant[32];
    char period[16]; /* YYYY-MM-DD or YYYY-MM */
    int64_t payments, gross, refunds, commission, net;
    int64_t since_transfer, upto_transfer;
    int64_t carry; /* what is left on the merchant's account from before: negative after a
                    * refund of an already settled payment, taken from this payout */
    int64_t transfer;
    char operator_name[64];
} ykt_settlement_row;

/* Sums a merchant's unsettled payments and refunds before the period's end. */
int ykt_store_settlement_sums(ykt_db *db, const ykt_merchant *m, int64_t before_ms,
                              ykt_settlement_row *out);
/* Sets s->id; YKT_EEXIST when the merchant's period is settled already. */
int ykt_store_settlement_insert(ykt_db *db, ykt_settlement_row *s);
int ykt_store_settlement_each(ykt_db *db, const char *merchant, const char *period, int limit,
                              int (*fn)(const ykt_settlement_row *s, void *arg), void *arg);

int ykt_store_guardian_link(ykt_db *db, const char *operator_name, int64_t person_id);
/* YKT_OK when operator_name is a guardian of the person. */
int ykt_store_guardian_of(ykt_db *db, const char *operator_name, int64_t person_id);

/* ---- the ledger audit (its own read-only connection; safe on the thread pool) ---- */
typedef struct ykt_audit_check {
    const char *name;
    const char *what;
    int64_t violations;
    char detail[256];
} ykt_audit_check;

typedef struct ykt_ledger_report {
    ykt_audit_check checks[12];
    int n;
    int64_t accounts, transfers, wallets;
    int64_t debtors, debt; /* wallets below zero from offline sales, and how much */
} ykt_ledger_report;

int ykt_store_ledger_audit(const char *db_path, ykt_ledger_report *r, char *err, size_t errlen);

/* ---- ledger ---- */
int ykt_store_account_find(ykt_db *db, const char *kind, const char *owner, int64_t *id);
int ykt_store_account_create(ykt_db *db, const char *kind, const char *owner, int64_t at,
                             int64_t *id);
int ykt_store_account_get(ykt_db *db, int64_t id, char *kind, size_t kindlen, int64_t *balance);
int ykt_store_account_add(ykt_db *db, int64_t id, int64_t delta);
/* The balance of account id if it is the account (kind, owner), else YKT_ENOTFOUND: an id
 * remembered in memory is checked this way on every use. */
int ykt_store_account_balance_of(ykt_db *db, int64_t id, const char *kind, const char *owner,
                                 int64_t *balance);
/* Takes amount out of account id. YKT_ENOTFOUND when no row changed: no such account, or a
 * wallet that would go below zero without allow_negative (nothing is written then). */
int ykt_store_account_debit(ykt_db *db, int64_t id, int64_t amount, bool allow_negative);
/* Adds amount to account id; with kind (and owner) only if it is that account. YKT_ENOTFOUND
 * when no row changed. */
int ykt_store_account_credit(ykt_db *db, int64_t id, int64_t amount, const char *kind,
                             const char *owner);
int ykt_store_transfer_insert(ykt_db *db, const ykt_transfer *t, int64_t at, int64_t *id);

typedef struct ykt_transfer_row {
    int64_t id;
    int64_t at;
    int64_t from, to, amount;
    const char *kind;
    const char *card_no;
    const char *terminal;
    const char *operator_name;
    int64_t original;
    const char *memo;
} ykt_transfer_row;

/* Newest first: transfers into or out of an account. */
int ykt_store_transfers_of(ykt_db *db, int64_t account, int limit,
                           int (*fn)(const ykt_transfer_row *t, void *arg), void *arg);
/* The net of an account's transfers before a time (its balance then). */
int ykt_store_account_flow(ykt_db *db, int64_t account, int64_t before_ms, int64_t *net);
/* Oldest first: an account's transfers in [from_ms, to_ms). */
int ykt_store_transfers_between(ykt_db *db, int64_t account, int64_t from_ms, int64_t to_ms,
                                int limit, int (*fn)(const ykt_transfer_row *t, void *arg),
                                void *arg);
/* Wallets with a positive balance whose holder's last credential ended before the cutoff. */
int ykt_store_wallets_unclaimed(ykt_db *db, int64_t ended_before, int limit,
                                int (*fn)(int64_t account, int64_t person_id, int64_t balance,
                                          void *arg),
                                void *arg);
/* Puts newly expired credentials on the blacklist (version); *count says how many. */
int ykt_store_card_list_expired(ykt_db *db, const char *today, int64_t version, int64_t *count);

#endif
