/*
 * The admin channel's commands (yktctl speaks them over the Unix socket in RESP).
 * A command is one or two words ("status", "terminal add") followed by positional
 * arguments and --options, declared in a table so that parsing, role checks (R-S2),
 * usage text and `help` come from one place. Every command that changes state writes an
 * audit row (R-S6) in the same savepoint as its change and accepts --approval REF, the
 * approval it relied on.
 */
#ifndef YKT_ADMIN_H
#define YKT_ADMIN_H

#include <stdbool.h>

#include "request.h"

#define YKT_ADMIN_MAX_POS  16
#define YKT_ADMIN_MAX_OPTS 24

typedef struct ykt_args {
    int npos;
    const char *pos[YKT_ADMIN_MAX_POS];
    int nopt;
    struct {
        const char *name;
        const char *value; /* "" for flags */
    } opt[YKT_ADMIN_MAX_OPTS];
} ykt_args;

/* A deferred admin request comes back with its words but not their parse: parses them
 * again into a (which must outlive the request) and sets req->args. */
bool ykt_admin_reparse(ykt_req *req, ykt_args *a);

/* The value of --name, or NULL when absent ("" for a flag that is present). */
const char *ykt_args_get(const ykt_args *a, const char *name);
/* Parses --name as an integer in [min, max]; replies BAD_REQUEST and returns false if bad.
 * An absent option leaves *out unchanged and returns true. */
bool ykt_args_int(ykt_req *req, const ykt_args *a, const char *name, int64_t min, int64_t max,
                  int64_t *out);

typedef void (*ykt_admin_fn)(ykt_req *req, const ykt_args *a);

typedef struct ykt_admin_cmd {
    const char *group; /* first word */
    const char *name;  /* second word, or NULL for one-word commands */
    ykt_admin_fn fn;
    unsigned roles; /* YKT_ROLE_* allowed; the superuser may run everything */
    bool write;
    int min_pos, max_pos;
    /* Options: space-separated names; "name=" takes a value, "name=!" is required, a bare
     * name is a flag. Write commands also accept --approval REF. */
    const char *opts;
    const char *usage;
    const char *summary;
    /* plugin commands: the plugin's handler (fn is NULL), its userdata and the plugin */
    void (*pfn)(ykt_req *req, void *userdata);
    void *userdata;
    const void *owner;
} ykt_admin_cmd;

typedef struct ykt_admin ykt_admin;

ykt_admin *ykt_admin_new(void);
void ykt_admin_free(ykt_admin *adm);
/* Registers a table of commands (kept by pointer; must outlive the gateway). */
int ykt_admin_register(ykt_admin *adm, const ykt_admin_cmd *cmds, int n);
/* Registers one command given at run time (a plugin's); copies it. YKT_EEXIST if taken. */
int ykt_admin_register_one(ykt_admin *adm, const ykt_admin_cmd *cmd);
/* Removes every command registered by owner. */
void ykt_admin_unregister_owner(ykt_admin *adm, const void *owner);
void ykt_admin_dispatch(ykt_req *req);

/*
 * Appends an audit row for the request's operator: action ("terminal.add"), target, and a
 * detail text that must never contain a secret. The approval is taken from --approval.
 * Returns YKT_OK or YKT_ESTORAGE (then reply with ykt_reply_internal).
 */
int ykt_audit(ykt_req *req, const ykt_args *a, const char *action, const char *target,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The same for work nobody's request started (scheduled jobs): operator and role given. */
int ykt_audit_write(ykt_db *db, const char *operator_name, const char *role, const char *action,
                    const char *target, const char *approval, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Registers the core's admin commands (login, help, status, terminal, operator, audit). */
int ykt_admin_core_register(ykt_admin *adm);

#endif
