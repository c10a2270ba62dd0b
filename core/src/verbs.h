/*
 * The terminal-port verb table. The core registers PING, AUTH, QUIT and its own verbs;
 * later parts and plugins register theirs (plugin verbs carry the plugin's prefix, e.g.
 * DOOR.ENTER). A verb names the terminal types that may use it.
 */
#ifndef YKT_VERBS_H
#define YKT_VERBS_H

#include "request.h"

enum ykt_verb_flags {
    YKT_VERB_PREAUTH = 1 << 0, /* allowed before AUTH (only PING, AUTH, QUIT) */
    YKT_VERB_WRITE = 1 << 1,   /* changes state: runs in a savepoint of the batch */
    /* argv[1] is the terminal's sequence number: the outcome is kept per (terminal, seq)
     * and a retry gets the first reply without running again (implies WRITE). */
    YKT_VERB_SEQ = 1 << 2,
    /* A write verb whose every refusal comes before its first write (PAY): it runs without
     * a savepoint of its own, which costs a copy of each page it changes. If it fails after
     * writing after all, the whole batch is undone and every request in it is answered
     * STORAGE_ERROR (db.h, ykt_db_cmd_begin_unguarded). Core verbs only. */
    YKT_VERB_UNGUARDED = 1 << 3,
};

#define YKT_VERB_NAME_MAX 31

typedef void (*ykt_verb_fn)(ykt_req *req);

typedef struct ykt_verb {
    char name[YKT_VERB_NAME_MAX + 1]; /* upper case */
    ykt_verb_fn fn;
    /* plugin verbs: the plugin's handler and its userdata (fn is NULL then) */
    void (*pfn)(struct ykt_req *req, void *userdata);
    void *userdata;
    unsigned types; /* YKT_TT_* mask */
    unsigned flags;
    const void *owner; /* NULL for the core, else the plugin that registered it */
    const char *usage;
} ykt_verb;

typedef struct ykt_verbs ykt_verbs;

ykt_verbs *ykt_verbs_new(void);
void ykt_verbs_free(ykt_verbs *v);
/* Registers a verb; YKT_EEXIST if the name is taken, YKT_EINVAL for a bad name
 * (upper-case letters, digits, '.' and '_'). */
int ykt_verbs_register(ykt_verbs *v, const char *name, ykt_verb_fn fn, unsigned types,
                       unsigned flags, const void *owner, const char *usage);
/* A plugin's verb: handler(req, userdata). */
int ykt_verbs_register_plugin(ykt_verbs *v, const char *name,
                              void (*handler)(ykt_req *req, void *userdata), void *userdata,
                              unsigned types, unsigned flags, const void *owner, const char *usage);
/* Removes every verb registered by owner; returns how many. */
int ykt_verbs_unregister_owner(ykt_verbs *v, const void *owner);
/* Looks a verb up case-insensitively (len bytes of name). */
const ykt_verb *ykt_verbs_find(ykt_verbs *v, const char *name, size_t len);
/* Iterates: start with *pos = 0. */
const ykt_verb *ykt_verbs_next(ykt_verbs *v, size_t *pos);

/*
 * Handles one terminal request: authentication state, type check, savepoint, handler.
 * Writes exactly one reply into out.
 */
void ykt_verbs_dispatch(ykt_req *req);

/* Keeps the reply written since reply_start as the outcome of (terminal, req->seq), unless
 * it is a transient error (STORAGE_ERROR, INTERNAL) worth retrying. */
void ykt_verbs_record_outcome(ykt_req *req, size_t reply_start);
/* Ends a write request's savepoint (keep: its changes stay) and keeps its outcome. A
 * request whose outcome cannot be kept is undone and answered STORAGE_ERROR. */
void ykt_verbs_end_write(ykt_req *req, size_t reply_start, bool keep);
/* A write request whose only change so far is its card's ATC is about to wait (PAY or HOLD
 * waiting for the payment password): the card names it, with the digest of its bytes, in
 * its savepoint, until its outcome is kept, so that its retry passes the card check if it
 * never completes (cardauth.c). Not for a request that changed more before its wait: its
 * retry would change that again. */
void ykt_verbs_mark_waiting(ykt_req *req);
/* A digest of the whole request, to tell a retry from a different request reusing a seq. */
void ykt_verbs_request_digest(const ykt_req *req, uint8_t out[16]);

/* Registers PING, AUTH, QUIT, HEALTH and TIME. */
int ykt_core_verbs_register(ykt_verbs *v);

#endif
