/*
 * ykt plugin API — everything a subsystem plugin may use.
 *
 * A plugin is a shared object (MODULE library) that yktd loads with dlopen when the
 * configuration says `[plugin.NAME] enabled = yes`. It exports three functions:
 *
 *   int  ykt_plugin_version(int count, const int *supported);
 *        The host lists the API versions it speaks; the plugin returns the one it was built
 *        for (YKT_PLUGIN_API_VERSION) when that is among them, or -1. yktd refuses to start
 *        with a plugin that answers -1 (a department must know its subsystem is off).
 *   int  ykt_plugin_init(ykt_plugin *self, const ykt_host *host, void **userdata);
 *        Registers verbs, admin commands, event callbacks, timers and tables through the
 *        host table; returns 0 or a negative YKT_PLUGIN_E* code (yktd then stops).
 *   void ykt_plugin_cleanup(void *userdata);
 *        Releases what init allocated; also called when init fails, with whatever init had
 *        stored in *userdata (NULL if nothing). Everything the plugin registered is removed by the
 *        host in one place; the plugin need not (and cannot) unregister.
 *
 * Rules of the road:
 *   - Everything runs on yktd's event loop thread; never block (no sleeping, no network).
 *   - A plugin's tables are its own: their names start with the plugin's name and an
 *     underscore (plugin "library" -> "library_loans"); SQL prepared through the host may
 *     touch no other table (SQLite's authorizer enforces it).
 *   - Money moves only through the wallet services (debit, hold, capture, void, credit);
 *     they keep the double-entry ledger whole and the request's outcome idempotent.
 *   - A verb handler writes exactly one reply; an error reply undoes the request's
 *     database changes, including the plugin's own tables.
 *   - Strings the host hands out are valid until the callback returns.
 *
 * Compatibility: the host table and every struct the host fills carry their size; new
 * members are only ever appended, so a plugin built against an older header keeps working.
 * Event structs end with spare pointers for the same reason (see mosquitto's plugin ABI).
 */
#ifndef YKT_PLUGIN_H
#define YKT_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

#define YKT_PLUGIN_API_VERSION 1

/* ---- results ---- */

#define YKT_PLUGIN_OK        0
#define YKT_PLUGIN_EINVAL    (-2) /* bad argument */
#define YKT_PLUGIN_ENOTFOUND (-4)
#define YKT_PLUGIN_EEXIST    (-5) /* a name is taken */
#define YKT_PLUGIN_ESTORAGE  (-6) /* the database refused */
#define YKT_PLUGIN_EPERM     (-7) /* refused: the reply already says why */

/* Decisions that several plugins may take ("may this card open this door now"). When
 * every subscriber defers, the answer is deny. */
#define YKT_DEFER 0
#define YKT_ALLOW 1
#define YKT_DENY  2

/* Log levels (as yktd's). Never log secrets, PINs or card keys. */
#define YKT_PLUGIN_LOG_DEBUG 0
#define YKT_PLUGIN_LOG_INFO  1
#define YKT_PLUGIN_LOG_WARN  2
#define YKT_PLUGIN_LOG_ERROR 3

/* Terminal types, as bits: a verb names the types that may use it. */
#define YKT_TERM_POS        (1u << 0)
#define YKT_TERM_GATE       (1u << 1)
#define YKT_TERM_DISPENSER  (1u << 2)
#define YKT_TERM_METER      (1u << 3)
#define YKT_TERM_BANK       (1u << 4)
#define YKT_TERM_BOOKING    (1u << 5)
#define YKT_TERM_KIOSK      (1u << 6)
#define YKT_TERM_ATTENDANCE (1u << 7)

/* Verb flags. */
#define YKT_VERB_CHANGES   1u /* the verb writes: runs in a savepoint of the batch */
#define YKT_VERB_SEQUENCED 2u /* argv[1] is the terminal's seq: retries get the first reply */

/* Operator roles for admin commands, as bits. */
#define YKT_PLUGIN_ROLE_OPERATOR   (1u << 0)
#define YKT_PLUGIN_ROLE_FINANCE    (1u << 1)
#define YKT_PLUGIN_ROLE_DEPT_ADMIN (1u << 2)
#define YKT_PLUGIN_ROLE_DEPT_HEAD  (1u << 3)
#define YKT_PLUGIN_ROLE_AUDITOR    (1u << 4)
#define YKT_PLUGIN_ROLE_SUPERUSER  (1u << 5)
/* The web portal's service account (ykt-web): give it only to commands it runs for a
 * signed-in cardholder, for that holder's own person number (docs/web.md). Not staff: a
 * portal operator has no department. */
#define YKT_PLUGIN_ROLE_PORTAL (1u << 7)

typedef struct ykt_plugin ykt_plugin;   /* the host's record of a loaded plugin */
typedef struct ykt_request ykt_request; /* a terminal request or an admin command */

/* ---- what the host tells about cards, people, terminals ---- */

typedef struct ykt_card_info {
    size_t size; /* filled by the host: sizeof as the host knows it */
    const char *card_no;
    const char *uid;
    int64_t person_id;
    const char *person_no;
    const char *name; /* the holder's name; mask it before showing it on a terminal */
    const char *kind; /* student, staff, temporary */
    const char *department;
    const char *card_type; /* regular, temporary */
    const char *status;    /* active, lost, frozen, cancelled */
    const char *valid_until;
    const char *subsystems; /* temporary cards: allowed subsystems, "" = all */
    int64_t atc;
    void *future[6];
} ykt_card_info;

typedef struct ykt_terminal_info {
    size_t size;
    const char *id;
    unsigned type; /* one YKT_TERM_* bit */
    const char *location;
    const char *owner; /* owning merchant or department */
    void *future[4];
} ykt_terminal_info;

typedef struct ykt_money {
    size_t size;
    int64_t payment_id; /* debit/capture: the payment record; 0 otherwise */
    int64_t hold_id;    /* hold: the new hold */
    int64_t charged;    /* fen actually moved */
    int64_t balance;    /* the wallet afterwards */
    void *future[4];
} ykt_money;

/* ---- events ---- */

enum ykt_event {
    YKT_EV_CARD_STATUS = 1, /* ykt_ev_card: a card's status changed */
    YKT_EV_CARD_REPLACED,   /* ykt_ev_card: old_card_no replaced by card_no */
    YKT_EV_PAYMENT,         /* ykt_ev_money: a payment committed */
    YKT_EV_LOW_BALANCE,     /* ykt_ev_money: a wallet fell below its reminder threshold */
    YKT_EV_TICK,            /* NULL: once a second */
    YKT_EV_DAY_END,         /* ykt_ev_day: the campus date changed */
    YKT_EV_ACCESS_CHECK,    /* ykt_ev_access: may this card pass here now? (a decision) */
    YKT_EV_AUTOTOPUP,       /* ykt_ev_money: a wallet fell below the holder's auto top-up
                               threshold; amount = the top-up the holder asked for */
};

typedef struct ykt_ev_card {
    size_t size;
    const char *card_no;
    const char *old_card_no; /* CARD_REPLACED */
    int64_t person_id;
    const char *old_status, *new_status;
    void *future[4];
} ykt_ev_card;

typedef struct ykt_ev_money {
    size_t size;
    int64_t person_id;
    const char *card_no;
    const char *merchant;
    int64_t amount;
    int64_t balance;
    void *future[4];
} ykt_ev_money;

typedef struct ykt_ev_day {
    size_t size;
    const char *day; /* the new campus date, YYYY-MM-DD */
    void *future[4];
} ykt_ev_day;

typedef struct ykt_ev_access {
    size_t size;
    const ykt_card_info *card;
    const ykt_terminal_info *terminal;
    const char *place;      /* door or room the terminal guards, e.g. "lab-101" */
    const char *place_kind; /* campus_gate, building, dormitory, lab, room, parking, ... */
    const char *building;   /* the building it belongs to ("" if none) */
    int direction;          /* YKT_DIR_IN, YKT_DIR_OUT or 0 (unknown) */
    int64_t at_ms;
    char reason[96]; /* a subscriber that denies says why here */
    void *future[4];
} ykt_ev_access;

#define YKT_DIR_IN  1
#define YKT_DIR_OUT 2

/* An event callback. For decisions (ACCESS_CHECK) it returns YKT_ALLOW, YKT_DENY or
 * YKT_DEFER; for notifications the return value is ignored. */
typedef int (*ykt_event_fn)(int event, void *event_data, void *userdata);

/* A verb or admin command handler. */
typedef void (*ykt_handler_fn)(ykt_request *req, void *userdata);
typedef void (*ykt_plugin_timer_fn)(void *userdata);

/* ---- rule calls (Lua) ---- */

/* A value passed to or returned from a rule: Lua numbers are integers here (fen, litres
 * in millilitres, minutes); strings and booleans as Lua has them. */
typedef struct ykt_rule_value {
    const char *name; /* argument or result field name */
    int type;         /* 'i' integer, 's' string, 'b' boolean */
    int64_t i;
    const char *s;
} ykt_rule_value;

/* ---- the host table ---- */

typedef struct ykt_host {
    int api_version;
    size_t size; /* sizeof(ykt_host) in the host: members beyond it are absent */

    /* Logging, tagged with the plugin's name. */
    void (*log)(ykt_plugin *p, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* An option of the plugin's [plugin.NAME] section, or NULL. */
    const char *(*option)(ykt_plugin *p, const char *key);
    /* The plugin's name (its section), e.g. "library". */
    const char *(*name)(ykt_plugin *p);

    /* Terminal verbs: the name must start with the plugin's prefix in upper case and a dot
     * ("LIB.BORROW" for plugin "lib"/"library" — the prefix is [plugin.NAME] prefix, by
     * default the upper-cased name). */
    int (*verb_register)(ykt_plugin *p, const char *verb, unsigned terminal_types, unsigned flags,
                         ykt_handler_fn fn, void *userdata, const char *usage);
    /* Admin commands ("library import", "door add"): group + name, allowed roles, whether
     * it changes state (then it runs in a savepoint and the plugin audits it with audit()),
     * the options it takes ("title=! copies= dry-run": name= takes a value, name=! is
     * required, a bare name is a flag; --approval is always accepted when it changes), and
     * how many positional arguments. */
    int (*admin_register)(ykt_plugin *p, const char *group, const char *name, unsigned roles,
                          int changes, const char *options, int min_args, int max_args,
                          ykt_handler_fn fn, void *userdata, const char *usage,
                          const char *summary);

    /* The request's words. For a terminal verb, argv[0] is the verb and argv[1..] its
     * arguments; for an admin command, argv[0..] are the positional arguments after the
     * command's name. Each is NUL-terminated; *len (may be NULL) gives its length. */
    int (*argc)(ykt_request *r);
    const char *(*arg)(ykt_request *r, int i, size_t *len);
    /* Admin commands: --name value options (NULL when absent, "" for a flag). */
    const char *(*opt)(ykt_request *r, const char *name);
    /* The terminal that sent a verb (NULL for admin commands). */
    const ykt_terminal_info *(*terminal)(ykt_request *r);
    /* The operator of an admin command (NULL for terminal verbs). */
    const char *(*operator_name)(ykt_request *r);

    /* Replies: exactly one top-level reply per request. */
    void (*reply_ok)(ykt_request *r);
    void (*reply_error)(ykt_request *r, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void (*reply_int)(ykt_request *r, int64_t v);
    void (*reply_str)(ykt_request *r, const char *s); /* NULL: null */
    void (*reply_array)(ykt_request *r, int64_t n);
    /* Admin tables: begin(kind "TABLE"/"RECORD", columns), then rows of cells, then send. */
    void (*table_begin)(ykt_request *r, const char *kind, int ncols, const char *const *cols);
    void (*table_row)(ykt_request *r);
    void (*table_str)(ykt_request *r, const char *s);
    void (*table_int)(ykt_request *r, int64_t v);
    void (*table_send)(ykt_request *r);

    /* Card presentation: authenticates the card whose six standard arguments start at
     * argv[1] (seq uid atc time amount cryptogram) for this verb, exactly as core verbs do
     * (cryptogram, replay, status, validity). Returns YKT_PLUGIN_OK, or YKT_PLUGIN_EPERM
     * after replying the refusal. The first extra argument is argv[7]. */
    int (*card_present)(ykt_request *r, ykt_card_info *out, int64_t *amount);
    int (*card_by_no)(const char *card_no, ykt_card_info *out);
    int (*person_card)(const char *person_no, ykt_card_info *out); /* the live card */

    /* Money, for the presented card of this request. The verb must be YKT_VERB_SEQUENCED:
     * its (terminal, seq) makes the movement happen once, whatever the retries — and so a
     * request moves money at most once (one debit, hold, capture or void). Each returns
     * YKT_PLUGIN_OK, or YKT_PLUGIN_EPERM after replying the refusal (INSUFFICIENT_FUNDS,
     * LIMIT_EXCEEDED, ...). merchant: the id of the merchant to credit. */
    int (*wallet_debit)(ykt_request *r, const ykt_card_info *card, const char *merchant,
                        int64_t amount, ykt_money *out);
    int (*wallet_hold)(ykt_request *r, const ykt_card_info *card, const char *merchant,
                       int64_t amount, int64_t timeout_ms, ykt_money *out);
    int (*wallet_capture)(ykt_request *r, int64_t hold_id, int64_t amount, ykt_money *out);
    int (*wallet_void)(ykt_request *r, int64_t hold_id, ykt_money *out);
    /* Undoes a credit (a bank reversal): moves at most amount from the card's wallet back to
     * merchant's account, or with merchant NULL to bank clearing — as much as the balance
     * holds; out->charged says how much moved (the plugin records any shortfall). */
    int (*wallet_reverse)(ykt_request *r, const ykt_card_info *card, const char *merchant,
                          int64_t amount, const char *memo, ykt_money *out);
    /* Money back into the presented card's wallet: from merchant's account (a refund of
     * unused service, say), or with merchant NULL from bank clearing (a bank transfer-in).
     * At most [wallet] max_topup at once; memo is kept with the transfer. */
    int (*wallet_credit)(ykt_request *r, const ykt_card_info *card, const char *merchant,
                         int64_t amount, const char *memo, ykt_money *out);
    int (*wallet_balance)(int64_t person_id, int64_t *balance);

    /* The plugin's own tables: scripts[i] is schema version i+1 of the plugin; applied once,
     * in order, at start. */
    int (*db_migrate)(ykt_plugin *p, const char *const *scripts, int count);
    /* A statement on the plugin's own tables, prepared once and reset for reuse (sql must
     * be a literal). NULL if it does not compile or touches another table (logged). */
    sqlite3_stmt *(*db_stmt)(ykt_plugin *p, const char *sql);
    /* An audit row for an admin command (who, when, what, approval from --approval). */
    int (*audit)(ykt_request *r, const char *action, const char *target, const char *detail);

    /* Events and decisions. */
    int (*subscribe)(ykt_plugin *p, int event, ykt_event_fn fn, void *userdata);
    /* Asks every subscriber of a decision event; returns YKT_ALLOW or YKT_DENY. */
    int (*decide)(int event, void *event_data);
    /* Calls fn every interval_ms on the loop; DB work inside is part of the next batch. */
    int (*timer_every)(ykt_plugin *p, uint64_t interval_ms, ykt_plugin_timer_fn fn, void *userdata);

    /* Lua rules: calls function `fn` of the department's rule script `script` (a name in
     * scripts/, e.g. "water") with named arguments; results are named values. Returns
     * YKT_PLUGIN_OK or YKT_PLUGIN_EPERM after replying RULE_ERROR (when r is not NULL). */
    int (*rule_call)(ykt_request *r, const char *script, const char *fn, const ykt_rule_value *args,
                     int nargs, ykt_rule_value *results, int nresults);

    /* The gateway clock (epoch ms) and the campus date (YYYY-MM-DD) of an instant. */
    int64_t (*now_ms)(void);
    void (*campus_date)(int64_t ms, char out[11]);

    /* Settling a hold with no request (a dispenser that fell silent, from a timer): as
     * wallet_capture (amount > 0) or wallet_void (amount 0), once per hold; on a refusal
     * *code says why (HOLD_RESOLVED, ...) and nothing moves. Returns YKT_PLUGIN_OK or
     * YKT_PLUGIN_EPERM. Use it only for holds this plugin placed. */
    int (*hold_settle)(ykt_plugin *p, int64_t hold_id, int64_t amount, ykt_money *out,
                       const char **code);
    /* The holder's password (which = "pay" or "query"), checked off the loop thread (its
     * hash is slow on purpose) with the same lockout as the core's. On a match, done(r,
     * userdata) runs later on the loop and must reply; on a mismatch or a lock the host
     * replies (BAD_PIN / WRONG_PASSWORD, PASSWORD_LOCKED) and done is not called. Returns
     * YKT_PLUGIN_OK — the handler then returns without replying — or YKT_PLUGIN_EPERM after
     * replying. Copy what done needs (card.card_no): the card info does not outlive the
     * handler. Write nothing before calling it if the request may be retried: a request
     * that changed nothing but its card's ATC before the wait is noted on the card, so that,
     * interrupted meanwhile, its retry runs once more; one that wrote more is not (its retry
     * is refused REPLAY: run again, it would write that again). docs/plugin-api.md. */
    int (*card_check_password)(ykt_request *r, const ykt_card_info *card, const char *which,
                               const char *password, ykt_handler_fn done, void *userdata);
    /* An admin command's operator: role (one YKT_PLUGIN_ROLE_* bit) and department ("" if
     * none). Returns YKT_PLUGIN_EINVAL for a terminal verb. */
    int (*operator_info)(ykt_request *r, unsigned *role, const char **department);
    /* A message to a holder (shown by `yktctl notice list` and the portal): kind is a short
     * word ("reservation", "cutoff"), amount in fen or 0. Part of the current changes. */
    int (*notify)(int64_t person_id, const char *kind, const char *message, int64_t amount);
    /* PRC resident identity numbers: valid (check digit, birth date; *why says what is
     * wrong), and masked for output; names masked for terminals (张三 -> 张*). */
    int (*id_number_valid)(const char *id, const char **why);
    void (*mask_id_number)(const char *id, char *out, size_t len);
    void (*mask_name)(const char *name, char *out, size_t len);

    /* Lookups, so that configuration naming a terminal or a merchant is checked when it is
     * made, not when a device first fails. terminal_get: a registered terminal (strings
     * valid until the handler returns); YKT_PLUGIN_OK or YKT_PLUGIN_ENOTFOUND.
     * merchant_status: "active" or "suspended" (valid until the next call); YKT_PLUGIN_OK
     * or YKT_PLUGIN_ENOTFOUND. */
    int (*terminal_get)(const char *id, ykt_terminal_info *out);
    int (*merchant_status)(const char *id, const char **status);
    /* A card by its UID (hex, as presented), whatever its status: to log who a refused
     * card belonged to. YKT_PLUGIN_OK or YKT_PLUGIN_ENOTFOUND. */
    int (*card_by_uid)(const char *uid, ykt_card_info *out);
    /* [cards] pin_threshold in fen: the core asks for the payment password at or above it;
     * a plugin that takes payments asks at the same amount. */
    int64_t (*pin_threshold)(void);
    /* From a timer callback: when it returns, roll back every write it made (the plugin's
     * tables and any hold_settle), e.g. because a later step failed. Elsewhere a no-op:
     * a request's writes roll back with an error reply. */
    void (*undo_writes)(ykt_plugin *p);
} ykt_host;

/* The entry points a plugin exports (declared here so the compiler checks them). */
int ykt_plugin_version(int count, const int *supported);
int ykt_plugin_init(ykt_plugin *self, const ykt_host *host, void **userdata);
void ykt_plugin_cleanup(void *userdata);

#ifdef __cplusplus
}
#endif

#endif
