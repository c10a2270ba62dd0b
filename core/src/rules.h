/*
 * The Lua rule host: each department's fee rules and attendance policies, written in Lua 5.4
 * (scripts/<name>.lua), run in sandboxed states (docs/rules.md).
 *
 * Every script gets its own lua_State holding only the safe part of the standard library
 * (base without dofile/loadfile/rawset/collectgarbage, a text-only load, string without
 * dump, table, math without random, utf8; print goes to the debug log), bounded by an
 * instruction budget per call and a byte cap per state. After the script's top level has
 * run, its globals and the tables they reach are frozen: a call cannot change what the next
 * call sees, so a rule is a function of its arguments. A rule that fails — an error, a
 * runaway loop, a memory bomb, a stack overflow — fails that one call with a clear message;
 * the state stays usable and the gateway keeps serving.
 *
 * Scripts may define `function selftest()`, which must return true; it runs at every load,
 * and a script that fails to load or fails its self-test is refused. With a loop, the
 * directory is watched: a changed script is reloaded, and a new version that is refused
 * leaves the old one running.
 *
 * Everything here runs on the loop's thread; a ykt_rules is not thread-safe.
 */
#ifndef YKT_RULES_H
#define YKT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include <ykt/plugin.h>

#define YKT_RULES_DEFAULT_INSTRUCTIONS 1000000
#define YKT_RULES_DEFAULT_MEMORY       (8u << 20)
#define YKT_RULES_DEFAULT_TIME_MS      50
/* A script's source may be at most this large. */
#define YKT_RULES_MAX_SOURCE (1u << 20)
/* At most this many arguments and results per call. */
#define YKT_RULES_MAX_VALUES 64
/* A changed file is reloaded once it has been quiet this long (editors write in steps). */
#define YKT_RULES_SETTLE_MS 100

typedef struct ykt_rules ykt_rules;

typedef struct ykt_rules_limits {
    /* Lua VM instructions per call (and for a script's top level, and for its self-test);
     * 0 means YKT_RULES_DEFAULT_INSTRUCTIONS. */
    uint64_t instructions;
    /* Bytes one script's state may hold, its code and data included; 0 means
     * YKT_RULES_DEFAULT_MEMORY. */
    size_t memory_bytes;
    /* Wall-clock milliseconds one run may take: library functions (string.upper of a long
     * string, table.concat) work without counting instructions. 0 means
     * YKT_RULES_DEFAULT_TIME_MS. */
    uint64_t time_ms;
} ykt_rules_limits;

/* What `yktctl rules list` shows about a script. Strings are valid during the callback. */
typedef struct ykt_rule_info {
    const char *name;     /* "fees" */
    const char *path;     /* "scripts/fees.lua" */
    bool loaded;          /* a version is running */
    int64_t loaded_at_ms; /* when the running version was loaded; 0 if none */
    const char *sha;      /* the running version's SHA-256, first 12 hex digits ("" if none) */
    const char *last;     /* the last load or reload: "ok" or why it was refused */
    int64_t last_at_ms;   /* when that was */
    uint64_t calls;       /* calls since start, over all versions */
    uint64_t failures;    /* calls that failed */
    size_t memory_bytes;  /* the running state's size now */
} ykt_rule_info;

/*
 * Loads every <name>.lua in dir (name: letters, digits, '_' and '-'; other files are
 * ignored), each in its own sandbox. A script that fails to load or fails its self-test is
 * logged, listed (loaded = false, last = the reason) and not run; its reasons are also
 * written to err ("" when all loaded) — the rest still load and YKT_OK is returned. lim may
 * be NULL (defaults). If loop is not NULL the directory is watched and changed scripts are
 * reloaded (see ykt_rules_reload); new files are picked up too. A removed file keeps its
 * loaded version running until restart.
 * Returns YKT_OK, YKT_EIO (dir unreadable, or the watch could not start) or YKT_ENOMEM,
 * with err saying why.
 */
int ykt_rules_open(ykt_rules **out, uv_loop_t *loop, const char *dir, const ykt_rules_limits *lim,
                   char *err, size_t errlen);
/* Frees the scripts at once and closes the watch handles; with a loop, the loop must run
 * for the rest of the memory to be released. r may be NULL. */
void ykt_rules_close(ykt_rules *r);

/*
 * Calls global function fn of script `script` with one table argument holding args ('i' an
 * integer, 's' a string — NULL leaves the field out —, 'b' a boolean from .i). The function
 * returns a table; each results[k] names a field (.name, set by the caller) and receives
 * .type, .i (integers; booleans as 0/1) and .s (strings). If the caller sets .type to 'i',
 * 's' or 'b' beforehand, the field must have that type; 0 accepts any of the three. A
 * missing field, a float, or any other type is an error. String results stay valid until
 * the next call on r.
 * Returns YKT_OK; YKT_ENOTFOUND when the script is not loaded or has no such function;
 * YKT_EINVAL when the rule failed (error, instruction or memory limit, stack overflow,
 * wrong result) or the arguments are malformed — err says which, the state stays usable.
 */
int ykt_rules_call(ykt_rules *r, const char *script, const char *fn, const ykt_rule_value *args,
                   int nargs, ykt_rule_value *results, int nresults, char *err, size_t errlen);

/* Reloads <dir>/<script>.lua from disk (a new file is added). A version that fails to load
 * or fails its self-test is refused and the running one, if any, stays. Returns YKT_OK,
 * YKT_EINVAL (refused; err says why), YKT_ENOTFOUND (no such file) or YKT_EIO. */
int ykt_rules_reload(ykt_rules *r, const char *script, char *err, size_t errlen);

/* Calls fn for every known script, in name order. */
void ykt_rules_each(ykt_rules *r, void (*fn)(const ykt_rule_info *info, void *arg), void *arg);

/*
 * For `yktctl rules test FILE --function FN --input JSON`: loads source (len bytes; name is
 * the script's name or file name, used in messages) in a fresh sandbox with the limits lim
 * (NULL: defaults), runs its self-test, calls fn with the JSON object json_input (NULL: {})
 * as its argument table, and appends the result table to out as compact JSON (object keys
 * sorted). JSON numbers must be integers; null leaves a field out. Nothing of any running
 * rule changes. Returns YKT_OK, or YKT_EINVAL / YKT_ENOTFOUND with err saying why.
 */
int ykt_rules_test(const ykt_rules_limits *lim, const char *name, const char *source, size_t len,
                   const char *fn, const char *json_input, ykt_buf *out, char *err, size_t errlen);

#endif
