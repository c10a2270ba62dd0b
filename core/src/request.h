/*
 * A request being handled, and the reply API handlers use.
 *
 * Every handler writes exactly one top-level reply. If that reply is an error, the
 * request's database changes are rolled back to its savepoint: a refused request changes
 * nothing. Replies are sent only after the iteration's transaction has committed.
 */
#ifndef YKT_REQUEST_H
#define YKT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "gateway.h"
#include "terminal.h"

/* Operator roles (R-S2), as bits so a command can allow several. */
enum ykt_role {
    YKT_ROLE_OPERATOR = 1 << 0, /* card-centre operator at the counter */
    YKT_ROLE_FINANCE = 1 << 1,
    YKT_ROLE_DEPT_ADMIN = 1 << 2, /* a department's business administrator */
    YKT_ROLE_DEPT_HEAD = 1 << 3,
    YKT_ROLE_AUDITOR = 1 << 4, /* reads everything, changes nothing */
    YKT_ROLE_SUPERUSER = 1 << 5,
    YKT_ROLE_GUARDIAN = 1 << 6, /* a parent: reads the records of their own pupils only */
    /* The web portal's service account (ykt-web): the `portal` commands and the reads and
     * applications it makes for a signed-in cardholder, nothing else (docs/web.md). */
    YKT_ROLE_PORTAL = 1 << 7,
};
/* Staff roles: everyone but guardians and the portal's service account. */
#define YKT_ROLE_ANY 0x3f
/* Every signed-in account (whoami, logout, passwd). */
#define YKT_ROLE_EVERYONE (YKT_ROLE_ANY | YKT_ROLE_GUARDIAN | YKT_ROLE_PORTAL)
/* The highest role bit (loops over all roles). */
#define YKT_ROLE_LAST     YKT_ROLE_PORTAL
#define YKT_ROLE_NAME_MAX 15

unsigned ykt_role_parse(const char *s);
const char *ykt_role_name(unsigned role);

/* Who is speaking on an admin connection. */
typedef struct ykt_session {
    bool authenticated;
    bool local; /* the peer is root or yktd's own user ([admin] local_superuser) */
    char operator_name[64];
    unsigned role;
    char department[64];
    bool must_change_password;
} ykt_session;

struct ykt_conn;

typedef struct ykt_req {
    ykt_gw *gw;
    /* The plugin host: the card presented in this request (its money services act for
     * that card only) and whether money already moved (once per request). */
    char plugin_card[24];
    bool plugin_moved;
    /* The card whose ATC this request advanced, or presented again as the retry of the
     * request that advanced it; atc_marked: the card names this request as one that has
     * not completed (it waited for a password check: verbs.c, cardauth.c). */
    char atc_card[24];
    char atc_uid[21]; /* its uid, upper-case hex: where the card check keeps it (cardcache.h) */
    bool atc_marked;
    /* The card check refused lost, frozen, cancelled and expired cards: after a wait the
     * card is checked again (ykt_card_still_usable). */
    bool status_checked;
    /* Its seq is above every one its terminal used before (verbs.c, replay_outcome): no
     * payment or outcome can have it yet, so a PAY may run without a savepoint. */
    bool seq_new;
    struct ykt_conn *conn;
    int argc;
    char **argv;
    size_t *argl;
    ykt_terminal *term;   /* terminal port: the authenticated terminal, NULL before AUTH */
    ykt_session *session; /* admin channel: the operator */
    bool write;           /* runs inside a savepoint of the batch transaction */
    int64_t seq;          /* YKT_VERB_SEQ verbs: the terminal's sequence number */
    ykt_buf *out;
    bool replied;
    bool failed;       /* the reply was an error */
    bool keep_changes; /* commit this request's changes even though it replied an error
                        * (counting a wrong password, recording a refusal) */
    bool deferred;
    const struct ykt_args *args; /* admin commands: the parsed options */
    bool abandoned; /* deferred request whose connection closed: release data, no changes */
} ykt_req;

void ykt_reply_ok(ykt_req *req);
void ykt_reply_status(ykt_req *req, const char *status);
void ykt_reply_error(ykt_req *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ykt_reply_int(ykt_req *req, int64_t v);
void ykt_reply_bulk(ykt_req *req, const char *s); /* NULL: null bulk */
void ykt_reply_bulkn(ykt_req *req, const void *data, size_t len);
void ykt_reply_null(ykt_req *req);
/* Starts an array of n elements; the next n replies are its elements. */
void ykt_reply_array(ykt_req *req, int64_t n);
/* Replies -STORAGE_ERROR or -INTERNAL for an unexpected YKT_E* code. */
void ykt_reply_internal(ykt_req *req, int err);

/*
 * Runs work(data) on libuv's thread pool (for slow hashing), then after(req, data) on the
 * loop, which must reply. The connection handles nothing else meanwhile, so replies stay
 * in order. work must not touch the database or any loop state. The request's arguments
 * are copied and stay valid. Changes made before deferring are kept whatever `after`
 * replies (so defer before changing anything that must depend on the outcome); `after`
 * runs in a savepoint of its own. If the connection closes meanwhile, after runs with
 * req->abandoned set: it must only release data.
 */
void ykt_req_defer(ykt_req *req, void (*work)(void *data), void (*after)(ykt_req *req, void *data),
                   void *data);

/*
 * Tables for the admin channel. A table reply is an array: the simple string TABLE or
 * RECORD, an array of column names, then one array per row. yktctl prints TABLE as
 * columns and RECORD (one row) as "name: value" lines, or either as JSON.
 */
typedef struct ykt_table ykt_table;
ykt_table *ykt_table_new(const char *kind, int ncols, const char *const *cols);
void ykt_table_row(ykt_table *t);
void ykt_table_str(ykt_table *t, const char *s); /* NULL: null */
void ykt_table_int(ykt_table *t, int64_t v);
void ykt_table_time(ykt_table *t, int64_t ms); /* ISO-8601 UTC, or null when 0 */
/* Sends the table as the reply and frees it. */
void ykt_table_send(ykt_req *req, ykt_table *t);
/* Frees a table that will not be sent. */
void ykt_table_free(ykt_table *t);

#endif
