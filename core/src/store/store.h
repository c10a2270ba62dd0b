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
int ykt_store_card_set_atc(ykt_db *db, const char *card_no, int64_t atc);
/* Follows a person's validity extension on their regular, not cancelled cards. */
/* Also takes them off the expiry blacklist (version) so offline terminals accept them again. */
int ykt_store_card_set_validity(ykt_db *db, int64_t person_id, const char *valid_until,
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
int ykt_store_card_events(ykt_db *db, const char *card_no, int limit,
                          int (*fn)(const ykt_card_event_row *e, void *arg), void *arg);

/* ---- counters in the meta table (blacklist_version, card_seq) ---- */
int ykt_store_meta_next(ykt_db *db, const char *key, int64_t *value);
int ykt_store_meta_get(ykt_db *db, const char *key, int64_t *value);

/* ---- outcomes of terminal requests, by (terminal, seq) ---- */
int ykt_store_request_get(ykt_db *db, const char *terminal, int64_t seq, uint8_t digest[16],
                          ykt_buf *reply);
int ykt_store_request_put(ykt_db *db, const char *terminal, int64_t seq, const uint8_t digest[16],
                          const char *reply, size_t len, int64_t at);
int ykt_store_request_prune(ykt_db *db, int64_t before, int64_t *removed);

/* ---- ledger ---- */
int ykt_store_account_find(ykt_db *db, const char *kind, const char *owner, int64_t *id);
int ykt_store_account_create(ykt_db *db, const char *kind, const char *owner, int64_t at,
                             int64_t *id);
int ykt_store_account_get(ykt_db *db, int64_t id, char *kind, size_t kindlen, int64_t *balance);
int ykt_store_account_add(ykt_db *db, int64_t id, int64_t delta);
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
/* Wallets with a positive balance whose holder's last credential ended before the cutoff. */
int ykt_store_wallets_unclaimed(ykt_db *db, int64_t ended_before, int limit,
                                int (*fn)(int64_t account, int64_t person_id, int64_t balance,
                                          void *arg),
                                void *arg);
/* Puts newly expired credentials on the blacklist (version); *count says how many. */
int ykt_store_card_list_expired(ykt_db *db, const char *today, int64_t version, int64_t *count);

#endif
