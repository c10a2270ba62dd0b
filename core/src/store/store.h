/*
 * Record-level storage functions: the only callers of SQL in the core. Each returns
 * YKT_OK, YKT_ENOTFOUND, YKT_EEXIST (unique key taken) or YKT_ESTORAGE (logged).
 */
#ifndef YKT_STORE_H
#define YKT_STORE_H

#include <stdint.h>

#include "../db.h"
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

#endif
