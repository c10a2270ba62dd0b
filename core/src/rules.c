/*
 * The Lua rule host (rules.h, docs/rules.md).
 *
 * A script's state is built in five protected steps: the sandbox (the allowed library and
 * the script's environment), the script's text (text mode only), its top level, the freeze
 * (globals and the tables they reach become read-only), and its self-test. Each Lua run —
 * those steps, and every call later — gets a fresh instruction budget; the allocator counts
 * the state's bytes against its cap.
 *
 * Everything that touches the Lua API runs under lua_pcall: a memory error outside a
 * protected call would reach the panic handler and end the process.
 */
#include "rules.h"
#include "common.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "util.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <mbedtls/sha256.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_LEN 64
/* print: lines per run, and bytes per line, that reach the log. */
#define PRINT_MAX_LINES 20
#define PRINT_MAX_BYTES 240
/* Script data nested deeper than this is refused when it is frozen. */
#define FREEZE_MAX_DEPTH 100
/* The table library's loops run in C, where the instruction hook cannot see them; with
 * __index/__newindex/__len metamethods written in C (rawlen, rawequal) they would not even
 * allocate. Ranges and lengths beyond this are refused. */
#define TABLE_RANGE_MAX (1 << 18)
/* Lua's pattern matcher backtracks in C, out of the hook's sight: ".-.-.-x" against a few
 * kilobytes would run for hours. Before matching, the work is bounded from above by
 * (pattern length + 1) x (subject length + 1)^(repetitions + 1 unless anchored); beyond
 * this bound the match is refused. Measured worst case at the bound: under 10 ms, a few times
 * what the default instruction budget allows (2-3 ms). Patterns over short fields (dates,
 * codes) are far below it. */
#define PATTERN_WORK_MAX 1e7

/* ---- one script's sandboxed state ---- */

typedef struct rule_state {
    lua_State *L;
    char name[NAME_MAX_LEN + 1]; /* for print's log lines */
    size_t used, limit;          /* the allocator's account, in bytes */
    bool mem_refused;            /* the allocator refused a request in this run */
    uint64_t budget, spent;      /* instructions allowed and counted in this run */
    int step;                    /* the count hook's period */
    bool killed;                 /* the budget ran out: every further instruction fails */
    bool timed_out;              /* ... because the run's time was up */
    uint64_t time_limit_ns;      /* wall-clock time one run may take */
    uint64_t deadline_ns;        /* when this run's time is up (CLOCK_MONOTONIC) */
    char killed_at[96];          /* where ("fees.lua:12") */
    int prints;                  /* print lines in this run */
    int env_ref;                 /* registry: the script's environment (_ENV, _G) */
    int globals_ref;             /* registry: its own frozen globals (calls name these) */
    char sha[65];                /* SHA-256 of the source, hex */
    int64_t loaded_at_ms;
} rule_state;

static rule_state *state_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* Lua's allocator contract: ptr NULL means a new block (osize then tells its kind, not a
 * size); nsize 0 frees. Shrinking must not fail, so only growth is checked against the cap.
 * A refused request makes Lua collect garbage and retry once, then raise "not enough
 * memory". */
#define HOOK_STEP 1000

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *rule_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rule_state *st = ud;
    size_t old = ptr != NULL ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        st->used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > st->limit - st->used) {
        st->mem_refused = true;
        return NULL;
    }
    /* Library functions (string.upper of a long string, table.concat) do work the
     * instruction count does not see, and they allocate as they go: a large allocation
     * after the run's time is up is refused, which ends the run. */
    if (nsize - old >= 16384 && nsize > old && st->deadline_ns != 0 &&
        mono_ns() > st->deadline_ns) {
        st->timed_out = true;
        st->mem_refused = true;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL)
        return NULL;
    st->used = st->used - old + nsize;
    return p;
}

static int rule_panic(lua_State *L)
{
    /* Unreachable by design: every use of the Lua API is protected. */
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    ykt_error("rules: Lua panic (unprotected error): %s", msg);
    abort();
    return 0;
}

static void rule_hook(lua_State *L, lua_Debug *ar)
{
    rule_state *st = state_of(L);
    if (!st->killed) {
        st->spent += (uint64_t)st->step;
        if (st->spent < st->budget && (st->deadline_ns == 0 || mono_ns() <= st->deadline_ns))
            return;
        st->timed_out = st->spent < st->budget;
        st->killed = true;
        st->killed_at[0] = '\0';
        if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
            snprintf(st->killed_at, sizeof st->killed_at, " at %s:%d", ar->short_src,
                     ar->currentline);
        /* From now on every instruction raises: the script may catch the error with pcall,
         * but the instruction after the pcall raises again, so the run ends. */
        lua_sethook(L, rule_hook, LUA_MASKCOUNT, 1);
    }
    luaL_error(L, "instruction limit exceeded");
}

/* Starts a run: a fresh budget and fresh flags. */
static void run_begin(rule_state *st)
{
    st->spent = 0;
    st->killed = false;
    st->timed_out = false;
    st->mem_refused = false;
    st->deadline_ns = st->time_limit_ns ? mono_ns() + st->time_limit_ns : 0;
    st->prints = 0;
    lua_sethook(st->L, rule_hook, LUA_MASKCOUNT, st->step);
}

/* The text of a failed run's error (at the top of the stack). */
static void run_error(rule_state *st, int status, char *err, size_t errlen)
{
    lua_State *L = st->L;
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (st->timed_out)
        snprintf(err, errlen, "time limit exceeded (%llu ms)%s",
                 (unsigned long long)(st->time_limit_ns / 1000000),
                 st->killed ? st->killed_at : "");
    else if (st->killed)
        snprintf(err, errlen, "instruction limit exceeded (%llu instructions)%s",
                 (unsigned long long)st->budget, st->killed_at);
    else if (status == LUA_ERRMEM ||
             (st->mem_refused && msg != NULL && strstr(msg, "not enough memory") != NULL))
        snprintf(err, errlen,
                 "memory limit exceeded (%zu bytes: a large string or table, or recursion "
                 "too deep)",
                 st->limit);
    else if (msg != NULL)
        snprintf(err, errlen, "%s", msg);
    else
        snprintf(err, errlen, "error object is a %s value", luaL_typename(L, -1));
}

/* ---- read-only views ---- */

enum view_kind { VIEW_LIBRARY, VIEW_GLOBALS, VIEW_DATA };

/* __newindex of a read-only view; upvalue 1: its kind, upvalue 2: its name. */
static int view_newindex(lua_State *L)
{
    int kind = (int)lua_tointeger(L, lua_upvalueindex(1));
    const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    if (kind == VIEW_LIBRARY)
        return luaL_error(L, "attempt to modify the read-only library table '%s'",
                          lua_tostring(L, lua_upvalueindex(2)));
    if (kind == VIEW_GLOBALS)
        return luaL_error(L,
                          "attempt to set global '%s': globals are read-only once the script "
                          "has loaded (use a local)",
                          key);
    return luaL_error(L, "attempt to modify script data: tables reachable from the script "
                         "are read-only once it has loaded (copy them)");
}

/* The table a view shows: its metatable's __index. */
static void push_view_target(lua_State *L, int view)
{
    if (!lua_getmetatable(L, view))
        luaL_error(L, "not a read-only view");
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
}

static int view_next(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_next(L, lua_upvalueindex(1)))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int view_pairs(lua_State *L)
{
    push_view_target(L, 1);
    lua_pushcclosure(L, view_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int view_len(lua_State *L)
{
    push_view_target(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/* Pushes a metatable that makes a table a read-only view of the table at target. */
static void push_view_mt(lua_State *L, int target, int kind, const char *name)
{
    target = lua_absindex(L, target);
    lua_createtable(L, 0, 5);
    lua_pushvalue(L, target);
    lua_setfield(L, -2, "__index");
    lua_pushinteger(L, kind);
    lua_pushstring(L, name);
    lua_pushcclosure(L, view_newindex, 2);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, view_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, view_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
}

/* True if the table at idx is one of our views; then pushes the table it shows. */
static bool view_contents(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return false;
    lua_pushliteral(L, "__len");
    lua_rawget(L, -2);
    bool view = lua_tocfunction(L, -1) == view_len;
    lua_pop(L, 1);
    if (!view) {
        lua_pop(L, 1);
        return false;
    }
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    return true;
}

/* ---- the sandbox's library ---- */

static int sb_print(lua_State *L)
{
    rule_state *st = state_of(L);
    if (ykt_log_level_current > YKT_LOG_DEBUG)
        return 0;
    if (st->prints >= PRINT_MAX_LINES) {
        if (st->prints++ == PRINT_MAX_LINES)
            ykt_debug("rule %s: (further print output of this run suppressed)", st->name);
        return 0;
    }
    st->prints++;
    char line[PRINT_MAX_BYTES + 4];
    size_t n = 0;
    int top = lua_gettop(L);
    for (int i = 1; i <= top && n < PRINT_MAX_BYTES; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1)
            line[n++] = '\t';
        for (size_t k = 0; k < len && n < PRINT_MAX_BYTES; k++) {
            unsigned char c = (unsigned char)s[k];
            line[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c; /* one log line per print */
        }
        lua_pop(L, 1);
    }
    if (n >= PRINT_MAX_BYTES) {
        memcpy(line + n, "...", 3);
        n += 3;
    }
    line[n] = '\0';
    ykt_debug("rule %s: %s", st->name, line);
    return 0;
}

/* load(chunk [, chunkname [, mode [, env]]]): source strings only, always text mode; the
 * default environment is the script's own. Upvalue 1: that environment. */
static int sb_load(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "load: rules may load source text (a string) only");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    const char *chunkname = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    bool own_env = lua_isnone(L, 4);
    if (strchr(mode, 't') == NULL) {
        lua_pushnil(L);
        lua_pushliteral(L, "binary chunks are not allowed in rules (mode must be 't')");
        return 2;
    }
    if (luaL_loadbufferx(L, s, len, chunkname, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2; /* nil, message */
    }
    lua_pushvalue(L, own_env ? lua_upvalueindex(1) : 4);
    if (lua_setupvalue(L, -2, 1) == NULL)
        lua_pop(L, 1);
    return 1;
}

/* setmetatable, refusing __gc: finalizers run inside the garbage collector with the
 * instruction hook off, so a looping one could never be stopped. (Lua marks an object for
 * finalization only when its metatable has __gc at this moment; adding it later is inert.)
 * Upvalue 1: the real setmetatable. */
static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "__gc metamethods are not allowed in rules");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* xpcall(f, msgh, ...), with the message handler run after the failed call has unwound.
 * Lua runs it before unwinding, and for an error raised by the instruction hook that is
 * still inside the hook, where hooks are off: a looping handler could never be stopped.
 * Without the debug library a handler cannot tell the difference. */
static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2); /* f msgh true f args... */
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 0);
    if (status == LUA_OK)
        return lua_gettop(L) - 2;
    if (state_of(L)->killed)
        return lua_error(L);
    if (status != LUA_ERRMEM) { /* as in Lua: no handler for memory errors */
        lua_pushvalue(L, 2);
        lua_insert(L, -2);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            if (state_of(L)->killed)
                return lua_error(L);
            lua_pop(L, 1);
            lua_pushliteral(L, "error in error handling");
        }
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

static int undefined_global(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "undefined global '%s'", lua_tostring(L, 2));
    return luaL_error(L, "undefined global");
}

/* Calls upvalue 1 (the original library function) with this call's arguments. */
static int call_original(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* How many repetitions (*, +, -, ?, %b) a pattern has, outside sets and escapes. */
static unsigned pattern_repeats(const char *p, size_t lp)
{
    unsigned q = 0;
    for (size_t i = 0; i < lp; i++) {
        char c = p[i];
        if (c == '%') {
            if (i + 1 < lp && p[i + 1] == 'b') {
                q++;
                i += 3;
            } else if (i + 1 < lp && p[i + 1] == 'f') {
                i++; /* the set that follows is skipped as a set */
            } else {
                i++;
            }
        } else if (c == '[') {
            /* As Lua reads a set: a ']' first (after an optional '^') is a member. */
            i++;
            if (i < lp && p[i] == '^')
                i++;
            do {
                if (i < lp && p[i] == '%')
                    i++;
                i++;
            } while (i < lp && p[i] != ']');
        } else if (c == '*' || c == '+' || c == '-' || c == '?') {
            q++;
        }
    }
    return q;
}

enum { PAT_FIND, PAT_MATCH, PAT_GMATCH, PAT_GSUB };

/* string.find/match/gmatch/gsub with the work bound (PATTERN_WORK_MAX). Upvalue 1: the
 * original, upvalue 2: which one. */
static int sb_pattern(lua_State *L)
{
    static const char *const names[] = {"find", "match", "gmatch", "gsub"};
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    size_t ls, lp;
    luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    bool plain = kind == PAT_FIND && lua_toboolean(L, 4);
    bool anchored = kind != PAT_GMATCH && lp > 0 && p[0] == '^';
    unsigned e = plain ? 1 : pattern_repeats(p, lp) + (anchored ? 0 : 1);
    double work = (double)lp + 1;
    for (unsigned k = 0; k < e && work <= PATTERN_WORK_MAX; k++)
        work *= (double)ls + 1;
    if (work > PATTERN_WORK_MAX)
        return luaL_error(L,
                          "string.%s: pattern too costly for a %d-byte subject (anchor it "
                          "with '^', use fewer repetitions, or shorter text)",
                          names[kind], (int)(ls > INT_MAX ? INT_MAX : ls));
    return call_original(L);
}

/* string.rep: an empty result of a huge count would loop in C without allocating. */
static int sb_rep(lua_State *L)
{
    size_t l, lsep = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0 && l + lsep == 0) {
        lua_settop(L, 0);
        lua_pushliteral(L, "");
        return 1;
    }
    return call_original(L);
}

static void check_range(lua_State *L, const char *fn, lua_Integer i, lua_Integer j)
{
    if (j >= i && (lua_Unsigned)j - (lua_Unsigned)i >= TABLE_RANGE_MAX)
        luaL_error(L, "table.%s: too many elements (rules handle at most %d)", fn, TABLE_RANGE_MAX);
}

enum { TAB_INSERT, TAB_REMOVE, TAB_SORT, TAB_CONCAT, TAB_UNPACK, TAB_MOVE };

/* The table functions with TABLE_RANGE_MAX. Upvalue 1: the original, 2: which one. */
static int sb_table(lua_State *L)
{
    static const char *const names[] = {"insert", "remove", "sort", "concat", "unpack", "move"};
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    if (lua_type(L, 1) == LUA_TTABLE) {
        switch (kind) {
        case TAB_INSERT:
        case TAB_REMOVE:
        case TAB_SORT:
            check_range(L, names[kind], 1, luaL_len(L, 1));
            break;
        case TAB_CONCAT:
            check_range(L, names[kind], luaL_optinteger(L, 3, 1),
                        lua_isnoneornil(L, 4) ? luaL_len(L, 1) : luaL_checkinteger(L, 4));
            break;
        case TAB_UNPACK:
            check_range(L, names[kind], luaL_optinteger(L, 2, 1),
                        lua_isnoneornil(L, 3) ? luaL_len(L, 1) : luaL_checkinteger(L, 3));
            break;
        }
    }
    if (kind == TAB_MOVE)
        check_range(L, names[kind], luaL_checkinteger(L, 2), luaL_checkinteger(L, 3));
    return call_original(L);
}

/* Replaces t[name] (t at idx) by fn with upvalues (original, kind). */
static void wrap_field(lua_State *L, int idx, const char *name, lua_CFunction fn, int kind)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, name);
    if (kind >= 0) {
        lua_pushinteger(L, kind);
        lua_pushcclosure(L, fn, 2);
    } else {
        lua_pushcclosure(L, fn, 1);
    }
    lua_setfield(L, idx, name);
}

static void drop_field(lua_State *L, int idx, const char *name)
{
    lua_pushnil(L);
    lua_setfield(L, idx, name);
}

/* Builds the sandbox (a protected function): opens the allowed libraries, trims and wraps
 * them, and makes the script's environment. */
static int sandbox_open(lua_State *L)
{
    rule_state *st = state_of(L);
    luaL_checkversion(L); /* the header and the library agree on version and number sizes */

    /* The real globals and library tables stay in the registry, out of the script's reach;
     * it sees read-only views of them. */
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    int g = lua_gettop(L);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
    int string = lua_gettop(L);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
    int table = lua_gettop(L);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
    int math = lua_gettop(L);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
    int utf8 = lua_gettop(L);

    /* string.dump makes binary chunks; math.random would make rules nondeterministic. */
    drop_field(L, string, "dump");
    drop_field(L, math, "random");
    drop_field(L, math, "randomseed");
    wrap_field(L, string, "find", sb_pattern, PAT_FIND);
    wrap_field(L, string, "match", sb_pattern, PAT_MATCH);
    wrap_field(L, string, "gmatch", sb_pattern, PAT_GMATCH);
    wrap_field(L, string, "gsub", sb_pattern, PAT_GSUB);
    wrap_field(L, string, "rep", sb_rep, -1);
    wrap_field(L, table, "insert", sb_table, TAB_INSERT);
    wrap_field(L, table, "remove", sb_table, TAB_REMOVE);
    wrap_field(L, table, "sort", sb_table, TAB_SORT);
    wrap_field(L, table, "concat", sb_table, TAB_CONCAT);
    wrap_field(L, table, "unpack", sb_table, TAB_UNPACK);
    wrap_field(L, table, "move", sb_table, TAB_MOVE);

    /* Strings' methods come from the string metatable; getmetatable("") would hand out the
     * real string table, so the metatable is protected. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    /* The sandbox's base: what an undefined name in the script resolves to. */
    static const char *const allowed[] = {
        "assert", "error",  "getmetatable", "ipairs",   "next",     "pairs", "pcall",    "rawequal",
        "rawget", "rawlen", "select",       "tonumber", "tostring", "type",  "_VERSION", NULL,
    };
    lua_createtable(L, 0, 24);
    int base = lua_gettop(L);
    for (int i = 0; allowed[i] != NULL; i++) {
        lua_getfield(L, g, allowed[i]);
        lua_setfield(L, base, allowed[i]);
    }
    lua_getfield(L, g, "setmetatable");
    lua_pushcclosure(L, sb_setmetatable, 1);
    lua_setfield(L, base, "setmetatable");
    lua_pushcfunction(L, sb_print);
    lua_setfield(L, base, "print");
    lua_pushcfunction(L, sb_xpcall);
    lua_setfield(L, base, "xpcall");
    const char *lib_names[] = {"string", "table", "math", "utf8"};
    int lib_tables[] = {string, table, math, utf8};
    for (size_t i = 0; i < YKT_ARRAY_LEN(lib_names); i++) {
        lua_newtable(L);
        push_view_mt(L, lib_tables[i], VIEW_LIBRARY, lib_names[i]);
        lua_setmetatable(L, -2);
        lua_setfield(L, base, lib_names[i]);
    }
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, undefined_global);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, base);

    /* The script's environment: its own globals, then the base. Writable while the top
     * level runs; frozen afterwards (sandbox_freeze). */
    lua_newtable(L);
    int env = lua_gettop(L);
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, base);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, env);
    lua_pushvalue(L, env);
    lua_pushcclosure(L, sb_load, 1);
    lua_setfield(L, base, "load");

    lua_pushvalue(L, env);
    st->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* ---- freezing ---- */

static void freeze_value(lua_State *L, int idx, int seen, int depth);

/* True if the key at idx is a string starting with "__" (a metamethod's name). */
static bool is_meta_key(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        return false;
    size_t len;
    const char *k = lua_tolstring(L, idx, &len);
    return len >= 2 && k[0] == '_' && k[1] == '_';
}

/* Moves the fields of table t into shadow, freezing keys and values on the way. With
 * keep_meta, "__" fields stay where they are: Lua reads a metatable's fields raw, so a
 * class table (Point.__index = Point) must keep them to go on working as a metatable. */
static void freeze_fields(lua_State *L, int t, int shadow, int seen, int depth, bool keep_meta)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        freeze_value(L, -2, seen, depth + 1);
        freeze_value(L, -1, seen, depth + 1);
        if (keep_meta && is_meta_key(L, -2)) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, shadow);
    }
    lua_pushnil(L);
    while (lua_next(L, shadow)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, t);
    }
}

/* Makes a table read-only in place (its fields move to a shadow table that it shows), and
 * walks into the fields and into functions' upvalues. Tables that already have a metatable
 * (the script's own objects, our views) are left as they are: giving them ours would break
 * them. So are C functions. */
static void freeze_value(lua_State *L, int idx, int seen, int depth)
{
    idx = lua_absindex(L, idx);
    int type = lua_type(L, idx);
    if (type != LUA_TTABLE && type != LUA_TFUNCTION)
        return;
    lua_pushvalue(L, idx);
    if (lua_rawget(L, seen) != LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);
    if (depth > FREEZE_MAX_DEPTH)
        luaL_error(L, "script data nests deeper than %d levels", FREEZE_MAX_DEPTH);
    luaL_checkstack(L, 8, "freezing script data");
    if (type == LUA_TFUNCTION) {
        if (lua_iscfunction(L, idx))
            return;
        for (int n = 1; lua_getupvalue(L, idx, n) != NULL; n++) {
            freeze_value(L, -1, seen, depth + 1);
            lua_pop(L, 1);
        }
        return;
    }
    if (lua_getmetatable(L, idx)) {
        lua_pop(L, 1);
        return;
    }
    lua_newtable(L);
    int shadow = lua_gettop(L);
    freeze_fields(L, idx, shadow, seen, depth, true);
    push_view_mt(L, shadow, VIEW_DATA, "");
    lua_setmetatable(L, idx);
    lua_pop(L, 1);
}

/* After the top level: the environment's globals move out, and everything they reach is
 * frozen. The env becomes an empty read-only view of one flat table holding the base and
 * the script's globals (one lookup for any global name, which matters: rules run on every
 * payment); a second table with only the script's own globals is what calls may name. */
static int sandbox_freeze(lua_State *L)
{
    rule_state *st = state_of(L);
    lua_newtable(L);
    int seen = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->env_ref);
    int env = lua_gettop(L);
    lua_pushvalue(L, env);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);

    lua_getmetatable(L, env);
    lua_getfield(L, -1, "__index"); /* the base */
    int base = lua_gettop(L);

    lua_newtable(L);
    int own = lua_gettop(L);
    freeze_fields(L, env, own, seen, 0, false);

    lua_newtable(L);
    int flat = lua_gettop(L);
    int sources[] = {base, own}; /* the script's names win */
    for (size_t i = 0; i < YKT_ARRAY_LEN(sources); i++) {
        lua_pushnil(L);
        while (lua_next(L, sources[i])) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, flat);
        }
    }
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, undefined_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, flat);

    push_view_mt(L, flat, VIEW_GLOBALS, "");
    lua_setmetatable(L, env);
    lua_pushvalue(L, own);
    st->globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Pushes the script's global fn (raw: the base is not searched), or nil. */
static int push_global(lua_State *L, rule_state *st, const char *fn)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->globals_ref);
    lua_pushstring(L, fn);
    int type = lua_rawget(L, -2);
    lua_remove(L, -2);
    return type;
}

static int run_selftest(lua_State *L)
{
    rule_state *st = state_of(L);
    int type = push_global(L, st, "selftest");
    if (type == LUA_TNIL) {
        lua_pushboolean(L, 0); /* no self-test */
        return 1;
    }
    if (type != LUA_TFUNCTION)
        return luaL_error(L, "selftest is a %s, not a function", lua_typename(L, type));
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TBOOLEAN || !lua_toboolean(L, -1))
        return luaL_error(L, "selftest returned %s (it must return true)",
                          lua_type(L, -1) == LUA_TBOOLEAN ? "false" : luaL_typename(L, -1));
    lua_pushboolean(L, 1);
    return 1;
}

static void state_free(rule_state *st)
{
    if (st == NULL)
        return;
    if (st->L != NULL)
        lua_close(st->L);
    free(st);
}

static void sha256_hex(const char *src, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    mbedtls_sha256_ret((const unsigned char *)src, len, d, 0);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = '\0';
}

static void normalize_limits(const ykt_rules_limits *in, ykt_rules_limits *out)
{
    out->instructions =
        in != NULL && in->instructions > 0 ? in->instructions : YKT_RULES_DEFAULT_INSTRUCTIONS;
    out->memory_bytes =
        in != NULL && in->memory_bytes > 0 ? in->memory_bytes : YKT_RULES_DEFAULT_MEMORY;
    out->time_ms = in != NULL && in->time_ms > 0 ? in->time_ms : YKT_RULES_DEFAULT_TIME_MS;
}

/*
 * Builds a script's state from its source: sandbox, text, top level, freeze, self-test.
 * chunkname is how messages name the file ("fees.lua"). Returns YKT_OK, YKT_EINVAL with
 * err saying why the script was refused, or YKT_ENOMEM.
 */
static int state_new(rule_state **out, const char *name, const char *chunkname, const char *src,
                     size_t len, const ykt_rules_limits *lim, char *err, size_t errlen)
{
    char why[256];
    const char *phase = "";
    *out = NULL;
    rule_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return YKT_ENOMEM;
    ykt_strlcpy(st->name, name, sizeof st->name);
    st->limit = lim->memory_bytes;
    st->budget = lim->instructions;
    /* The hook also watches the clock, so it runs every STEP instructions (about 20 ns each
     * time: well under 1 % of a rule's cost). */
    st->step = st->budget > HOOK_STEP ? HOOK_STEP : (int)st->budget;
    st->time_limit_ns = lim->time_ms * 1000000u;
    sha256_hex(src, len, st->sha);
    st->L = lua_newstate(rule_alloc, st);
    if (st->L == NULL) {
        snprintf(err, errlen, "the memory limit (%zu bytes) is too small for a Lua state",
                 st->limit);
        free(st);
        return YKT_EINVAL;
    }
    lua_State *L = st->L;
    lua_atpanic(L, rule_panic);

    run_begin(st);
    lua_pushcfunction(L, sandbox_open);
    int status = lua_pcall(L, 0, 0, 0);
    if (status != LUA_OK) {
        phase = "building the sandbox: ";
        goto fail;
    }

    char chunk[NAME_MAX_LEN + 16];
    snprintf(chunk, sizeof chunk, "@%s", chunkname);
    run_begin(st);
    /* Text only: a binary chunk could bypass the compiler's checks and crash the VM. */
    status = luaL_loadbufferx(L, src, len, chunk, "t");
    if (status != LUA_OK)
        goto fail;
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->env_ref);
    if (lua_setupvalue(L, -2, 1) == NULL)
        lua_pop(L, 1);
    run_begin(st);
    status = lua_pcall(L, 0, 0, 0);
    if (status != LUA_OK)
        goto fail;

    run_begin(st);
    lua_pushcfunction(L, sandbox_freeze);
    status = lua_pcall(L, 0, 0, 0);
    if (status != LUA_OK) {
        phase = "freezing the globals: ";
        goto fail;
    }

    run_begin(st);
    lua_pushcfunction(L, run_selftest);
    status = lua_pcall(L, 0, 1, 0);
    if (status != LUA_OK) {
        phase = "selftest failed: ";
        goto fail;
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
    st->loaded_at_ms = ykt_now_ms();
    *out = st;
    return YKT_OK;

fail:
    run_error(st, status, why, sizeof why);
    snprintf(err, errlen, "%s%s", phase, why);
    state_free(st);
    return YKT_EINVAL;
}

/* ---- calls ---- */

typedef struct call_ctx {
    rule_state *st;
    const char *fn;
    const ykt_rule_value *args;
    int nargs;
    ykt_rule_value *results;
    int nresults;
    ykt_buf *strings;
    size_t offsets[YKT_RULES_MAX_VALUES];
    bool notfound;
} call_ctx;

static const char *type_word(int t)
{
    return t == 'i' ? "an integer" : t == 's' ? "a string" : "a boolean";
}

/* Reads results from the table at index tbl. */
static void read_results(lua_State *L, call_ctx *c, int tbl)
{
    for (int k = 0; k < c->nresults; k++) {
        ykt_rule_value *v = &c->results[k];
        int got = 0;
        lua_getfield(L, tbl, v->name); /* __index of the script's own tables may run */
        switch (lua_type(L, -1)) {
        case LUA_TNUMBER:
            if (!lua_isinteger(L, -1))
                luaL_error(L,
                           "result '%s' is not an integer (%f): rules compute in integers "
                           "(use // and math.floor)",
                           v->name, lua_tonumber(L, -1));
            got = 'i';
            break;
        case LUA_TSTRING:
            got = 's';
            break;
        case LUA_TBOOLEAN:
            got = 'b';
            break;
        case LUA_TNIL:
            luaL_error(L, "result '%s' is missing", v->name);
            break;
        default:
            luaL_error(L, "result '%s' is a %s (integers, strings and booleans only)", v->name,
                       luaL_typename(L, -1));
        }
        if (v->type != 0 && v->type != got)
            luaL_error(L, "result '%s' is %s, expected %s", v->name, type_word(got),
                       type_word(v->type));
        v->type = got;
        v->s = NULL;
        v->i = 0;
        if (got == 'i') {
            v->i = (int64_t)lua_tointeger(L, -1);
        } else if (got == 'b') {
            v->i = lua_toboolean(L, -1);
        } else {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            if (memchr(s, '\0', len) != NULL)
                luaL_error(L, "result '%s' contains a NUL byte", v->name);
            c->offsets[k] = c->strings->len;
            ykt_buf_append(c->strings, s, len);
            ykt_buf_append(c->strings, "", 1);
        }
        lua_pop(L, 1);
    }
}

static void push_args(lua_State *L, const ykt_rule_value *args, int nargs)
{
    lua_createtable(L, 0, nargs);
    for (int k = 0; k < nargs; k++) {
        const ykt_rule_value *a = &args[k];
        if (a->type == 'i')
            lua_pushinteger(L, (lua_Integer)a->i);
        else if (a->type == 'b')
            lua_pushboolean(L, a->i != 0);
        else if (a->s != NULL)
            lua_pushstring(L, a->s);
        else
            continue;
        lua_setfield(L, -2, a->name);
    }
}

static int call_protected(lua_State *L)
{
    call_ctx *c = lua_touserdata(L, 1);
    if (push_global(L, c->st, c->fn) != LUA_TFUNCTION) {
        c->notfound = true;
        return 0;
    }
    push_args(L, c->args, c->nargs);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
        return luaL_error(L, "%s returned %s, expected a table", c->fn, luaL_typename(L, -1));
    read_results(L, c, lua_gettop(L));
    return 0;
}

/* ---- the set of scripts ---- */

typedef struct script {
    char name[NAME_MAX_LEN + 1];
    char *path;
    rule_state *st;     /* the running version, or NULL */
    char tried_sha[65]; /* the source last tried (loaded or refused) */
    char last[256];     /* "ok" or why the last try was refused */
    int64_t last_at_ms;
    uint64_t calls, failures;
    int64_t logged_at_ms; /* failures are logged at most once a second per script */
    uint64_t unlogged;
} script;

struct ykt_rules {
    char *dir;
    ykt_rules_limits lim;
    ykt_map *by_name;
    script **list; /* sorted by name */
    size_t count, cap;
    ykt_buf strings; /* string results of the last call */
    uv_loop_t *loop;
    uv_fs_event_t watch;
    uv_timer_t settle;
    ykt_map *pending; /* names changed on disk, reloaded when the directory settles */
    int handles;      /* open libuv handles; r is freed when the last one has closed */
};

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The script name of a file name ("fees.lua" -> "fees"), or false. */
static bool name_of_file(const char *file, char name[NAME_MAX_LEN + 1])
{
    size_t n = strlen(file);
    if (n <= 4 || strcmp(file + n - 4, ".lua") != 0 || !valid_name(file, n - 4))
        return false;
    memcpy(name, file, n - 4);
    name[n - 4] = '\0';
    return true;
}

static int read_source(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        return e == ENOENT ? YKT_ENOTFOUND : YKT_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        close(fd);
        return YKT_EIO;
    }
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    if (cap > YKT_RULES_MAX_SOURCE + 1)
        cap = YKT_RULES_MAX_SOURCE + 1;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return YKT_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            /* The file grew while we read it. */
            if (cap > YKT_RULES_MAX_SOURCE)
                break;
            char *more = realloc(buf, YKT_RULES_MAX_SOURCE + 1);
            if (more == NULL) {
                free(buf);
                close(fd);
                return YKT_ENOMEM;
            }
            buf = more;
            cap = YKT_RULES_MAX_SOURCE + 1;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
            free(buf);
            close(fd);
            return YKT_EIO;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (n > YKT_RULES_MAX_SOURCE) {
        snprintf(err, errlen, "%s is larger than %u bytes", path, YKT_RULES_MAX_SOURCE);
        free(buf);
        return YKT_EINVAL;
    }
    *out = buf;
    *len = n;
    return YKT_OK;
}

static script *script_find(ykt_rules *r, const char *name)
{
    return ykt_map_get(r->by_name, name);
}

static script *script_add(ykt_rules *r, const char *name)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        script **list = realloc(r->list, cap * sizeof *list);
        if (list == NULL)
            return NULL;
        r->list = list;
        r->cap = cap;
    }
    script *sc = calloc(1, sizeof *sc);
    if (sc == NULL)
        return NULL;
    ykt_strlcpy(sc->name, name, sizeof sc->name);
    size_t plen = strlen(r->dir) + strlen(name) + 6;
    if ((sc->path = malloc(plen)) == NULL) {
        free(sc);
        return NULL;
    }
    snprintf(sc->path, plen, "%s/%s.lua", r->dir, name);
    ykt_map_put(r->by_name, sc->name, sc);
    size_t at = r->count;
    while (at > 0 && strcmp(r->list[at - 1]->name, name) > 0)
        at--;
    memmove(r->list + at + 1, r->list + at, (r->count - at) * sizeof *r->list);
    r->list[at] = sc;
    r->count++;
    return sc;
}

static void script_free(script *sc)
{
    state_free(sc->st);
    free(sc->path);
    free(sc);
}

/*
 * (Re)loads a script from its file. With only_if_changed (file events), a source already
 * tried is skipped. A refused version leaves the running one in place. Returns YKT_OK,
 * YKT_EINVAL (refused), YKT_ENOTFOUND (no file) or YKT_EIO, with err saying why.
 */
static int script_load(ykt_rules *r, script *sc, bool only_if_changed, char *err, size_t errlen)
{
    char *src;
    size_t len;
    char why[256];
    int rc = read_source(sc->path, &src, &len, why, sizeof why);
    if (rc != YKT_OK) {
        if (rc == YKT_ENOTFOUND && sc->st != NULL)
            snprintf(why, sizeof why, "%s.lua was removed; the loaded version keeps running",
                     sc->name);
        snprintf(err, errlen, "%s", why);
        if (only_if_changed && strcmp(sc->last, why) == 0)
            return rc;
        ykt_strlcpy(sc->last, why, sizeof sc->last);
        sc->last_at_ms = ykt_now_ms();
        sc->tried_sha[0] = '\0';
        ykt_warn("rules: %s", why);
        return rc;
    }
    char sha[65];
    sha256_hex(src, len, sha);
    if (only_if_changed && strcmp(sha, sc->tried_sha) == 0) {
        free(src);
        return YKT_OK;
    }
    char chunk[NAME_MAX_LEN + 8];
    snprintf(chunk, sizeof chunk, "%s.lua", sc->name);
    rule_state *st;
    rc = state_new(&st, sc->name, chunk, src, len, &r->lim, why, sizeof why);
    free(src);
    memcpy(sc->tried_sha, sha, sizeof sha);
    sc->last_at_ms = ykt_now_ms();
    if (rc == YKT_OK) {
        bool reload = sc->st != NULL;
        state_free(sc->st);
        sc->st = st;
        ykt_strlcpy(sc->last, "ok", sizeof sc->last);
        ykt_info("rules: %s %s.lua (sha %.12s, %zu bytes of state)", reload ? "reloaded" : "loaded",
                 sc->name, sha, st->used);
        return YKT_OK;
    }
    ykt_strlcpy(sc->last, why, sizeof sc->last);
    snprintf(err, errlen, "%s", why);
    if (rc != YKT_EINVAL)
        return rc;
    if (sc->st != NULL)
        ykt_error("rules: %s.lua (sha %.12s) refused, version %.12s keeps running: %s", sc->name,
                  sha, sc->st->sha, why);
    else
        ykt_error("rules: %s.lua (sha %.12s) refused: %s", sc->name, sha, why);
    return rc;
}

/* Loads or reloads the script `name` (adding it when its file is new). */
static int load_by_name(ykt_rules *r, const char *name, bool only_if_changed, char *err,
                        size_t errlen)
{
    script *sc = script_find(r, name);
    if (sc == NULL) {
        char path[PATH_MAX];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s.lua", r->dir, name);
        if (stat(path, &sb) != 0) {
            snprintf(err, errlen, "no rule script %s", path);
            return YKT_ENOTFOUND;
        }
        if ((sc = script_add(r, name)) == NULL)
            return YKT_ENOMEM;
    }
    return script_load(r, sc, only_if_changed, err, errlen);
}

/* ---- watching the directory ---- */

static void on_settled(uv_timer_t *t)
{
    ykt_rules *r = t->data;
    size_t n = ykt_map_count(r->pending), i = 0;
    char(*names)[NAME_MAX_LEN + 1] = calloc(n ? n : 1, sizeof *names);
    ykt_map *fresh = ykt_map_new();
    if (names == NULL || fresh == NULL) {
        free(names);
        ykt_map_free(fresh);
        uv_timer_start(&r->settle, on_settled, YKT_RULES_SETTLE_MS, 0); /* try again */
        return;
    }
    size_t pos = 0;
    const char *key;
    void *val;
    while (ykt_map_next(r->pending, &pos, &key, &val) && i < n)
        ykt_strlcpy(names[i++], key, sizeof names[0]);
    ykt_map_free(r->pending);
    r->pending = fresh;
    for (size_t k = 0; k < i; k++) {
        char err[256];
        load_by_name(r, names[k], true, err, sizeof err);
    }
    free(names);
}

static void mark_all(ykt_rules *r)
{
    DIR *d = opendir(r->dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char name[NAME_MAX_LEN + 1];
    while ((e = readdir(d)) != NULL)
        if (name_of_file(e->d_name, name))
            ykt_map_put(r->pending, name, r);
    closedir(d);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    ykt_rules *r = h->data;
    (void)events;
    if (status < 0) {
        ykt_warn("rules: watching %s: %s", r->dir, uv_strerror(status));
        return;
    }
    char name[NAME_MAX_LEN + 1];
    if (filename == NULL)
        mark_all(r);
    else if (name_of_file(filename, name))
        ykt_map_put(r->pending, name, r);
    else
        return;
    uv_timer_start(&r->settle, on_settled, YKT_RULES_SETTLE_MS, 0);
}

/* ---- the public interface ---- */

static void on_handle_closed(uv_handle_t *h)
{
    ykt_rules *r = h->data;
    if (--r->handles == 0)
        free(r);
}

void ykt_rules_close(ykt_rules *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->count; i++)
        script_free(r->list[i]);
    free(r->list);
    r->list = NULL;
    r->count = 0;
    ykt_map_free(r->by_name);
    ykt_map_free(r->pending);
    r->by_name = r->pending = NULL;
    ykt_buf_free(&r->strings);
    free(r->dir);
    r->dir = NULL;
    if (r->handles == 0) {
        free(r);
        return;
    }
    int open = r->handles;
    if (open >= 1)
        uv_close((uv_handle_t *)&r->settle, on_handle_closed);
    if (open >= 2)
        uv_close((uv_handle_t *)&r->watch, on_handle_closed);
}

int ykt_rules_open(ykt_rules **out, uv_loop_t *loop, const char *dir, const ykt_rules_limits *lim,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    ykt_rules *r = calloc(1, sizeof *r);
    if (r == NULL)
        return YKT_ENOMEM;
    normalize_limits(lim, &r->lim);
    ykt_buf_init(&r->strings);
    r->loop = loop;
    r->dir = strdup(dir);
    r->by_name = ykt_map_new();
    r->pending = ykt_map_new();
    if (r->dir == NULL || r->by_name == NULL || r->pending == NULL) {
        ykt_rules_close(r);
        return YKT_ENOMEM;
    }

    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "cannot read the rules directory %s: %s", dir, strerror(errno));
        ykt_rules_close(r);
        return YKT_EIO;
    }
    struct dirent *e;
    char name[NAME_MAX_LEN + 1];
    int rc = YKT_OK;
    while (rc == YKT_OK && (e = readdir(d)) != NULL)
        if (name_of_file(e->d_name, name) && script_find(r, name) == NULL &&
            script_add(r, name) == NULL)
            rc = YKT_ENOMEM;
    closedir(d);
    if (rc != YKT_OK) {
        ykt_rules_close(r);
        return rc;
    }

    /* Load in name order; a refused script is listed with its reason and not run. */
    size_t used = 0;
    for (size_t i = 0; i < r->count; i++) {
        char why[256];
        int lrc = script_load(r, r->list[i], false, why, sizeof why);
        if (lrc == YKT_ENOMEM) {
            ykt_rules_close(r);
            return lrc;
        }
        if (lrc != YKT_OK && used < errlen) {
            int n = snprintf(err + used, errlen - used, "%s%s.lua: %s", used ? "; " : "",
                             r->list[i]->name, why);
            used = n < 0 ? errlen : used + (size_t)n;
        }
    }

    if (loop != NULL) {
        uv_timer_init(loop, &r->settle);
        r->settle.data = r;
        r->handles = 1;
        int urc = uv_fs_event_init(loop, &r->watch);
        if (urc == 0) {
            r->watch.data = r;
            r->handles = 2;
            urc = uv_fs_event_start(&r->watch, on_fs_event, dir, 0);
        }
        if (urc != 0) {
            snprintf(err, errlen, "cannot watch %s for changes: %s", dir, uv_strerror(urc));
            ykt_rules_close(r);
            return YKT_EIO;
        }
    }
    *out = r;
    return YKT_OK;
}

static void log_failure(script *sc, const char *fn, const char *why)
{
    int64_t now = ykt_now_ms();
    if (sc->logged_at_ms != 0 && now - sc->logged_at_ms < 1000) {
        sc->unlogged++;
        return;
    }
    if (sc->unlogged > 0)
        ykt_warn("rule %s.%s failed: %s (and %llu more failures of %s since the last line)",
                 sc->name, fn, why, (unsigned long long)sc->unlogged, sc->name);
    else
        ykt_warn("rule %s.%s failed: %s", sc->name, fn, why);
    sc->logged_at_ms = now;
    sc->unlogged = 0;
}

int ykt_rules_call(ykt_rules *r, const char *script_name, const char *fn,
                   const ykt_rule_value *args, int nargs, ykt_rule_value *results, int nresults,
                   char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    if (nargs < 0 || nargs > YKT_RULES_MAX_VALUES || nresults < 0 ||
        nresults > YKT_RULES_MAX_VALUES || fn == NULL || script_name == NULL) {
        snprintf(err, errlen, "bad call (at most %d arguments and %d results)",
                 YKT_RULES_MAX_VALUES, YKT_RULES_MAX_VALUES);
        return YKT_EINVAL;
    }
    for (int k = 0; k < nargs; k++) {
        int t = args[k].type;
        if (args[k].name == NULL || args[k].name[0] == '\0' || (t != 'i' && t != 's' && t != 'b')) {
            snprintf(err, errlen, "argument %d has no name or an unknown type", k + 1);
            return YKT_EINVAL;
        }
    }
    for (int k = 0; k < nresults; k++) {
        int t = results[k].type;
        if (results[k].name == NULL || (t != 0 && t != 'i' && t != 's' && t != 'b')) {
            snprintf(err, errlen, "result %d has no name or an unknown type", k + 1);
            return YKT_EINVAL;
        }
    }
    script *sc = script_find(r, script_name);
    if (sc == NULL || sc->st == NULL) {
        snprintf(err, errlen, "rule script '%s' is not %s", script_name,
                 sc == NULL ? "known" : "loaded");
        return YKT_ENOTFOUND;
    }
    rule_state *st = sc->st;
    lua_State *L = st->L;
    ykt_buf_reset(&r->strings);
    call_ctx c = {.st = st,
                  .fn = fn,
                  .args = args,
                  .nargs = nargs,
                  .results = results,
                  .nresults = nresults,
                  .strings = &r->strings};
    sc->calls++;
    run_begin(st);
    lua_pushcfunction(L, call_protected);
    lua_pushlightuserdata(L, &c);
    int status = lua_pcall(L, 1, 0, 0);
    if (status == LUA_OK && !c.notfound) {
        for (int k = 0; k < nresults; k++)
            if (results[k].type == 's')
                results[k].s = r->strings.data + c.offsets[k];
        return YKT_OK;
    }
    sc->failures++;
    if (c.notfound) {
        snprintf(err, errlen, "rule script '%s' has no function '%s'", script_name, fn);
        lua_settop(L, 0);
        return YKT_ENOTFOUND;
    }
    run_error(st, status, err, errlen);
    lua_settop(L, 0);
    /* A failed run may leave a grown stack and garbage; give the next call a clean start. */
    lua_gc(L, LUA_GCCOLLECT);
    log_failure(sc, fn, err);
    return YKT_EINVAL;
}

int ykt_rules_reload(ykt_rules *r, const char *script_name, char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    if (script_name == NULL || !valid_name(script_name, strlen(script_name))) {
        snprintf(err, errlen, "bad script name");
        return YKT_EINVAL;
    }
    return load_by_name(r, script_name, false, err, errlen);
}

void ykt_rules_each(ykt_rules *r, void (*fn)(const ykt_rule_info *info, void *arg), void *arg)
{
    for (size_t i = 0; i < r->count; i++) {
        script *sc = r->list[i];
        char sha[13] = "";
        if (sc->st != NULL)
            ykt_strlcpy(sha, sc->st->sha, sizeof sha);
        ykt_rule_info info = {
            .name = sc->name,
            .path = sc->path,
            .loaded = sc->st != NULL,
            .loaded_at_ms = sc->st != NULL ? sc->st->loaded_at_ms : 0,
            .sha = sha,
            .last = sc->last,
            .last_at_ms = sc->last_at_ms,
            .calls = sc->calls,
            .failures = sc->failures,
            .memory_bytes = sc->st != NULL ? sc->st->used : 0,
        };
        fn(&info, arg);
    }
}

/* ---- rules test: JSON in, JSON out ---- */

static void push_json(lua_State *L, const ykt_json *v)
{
    luaL_checkstack(L, 4, "JSON input");
    switch (v->type) {
    case YKT_JSON_NULL:
        lua_pushnil(L);
        break;
    case YKT_JSON_BOOL:
        lua_pushboolean(L, (int)v->i);
        break;
    case YKT_JSON_INT:
        lua_pushinteger(L, (lua_Integer)v->i);
        break;
    case YKT_JSON_STRING:
        lua_pushlstring(L, v->s, v->len);
        break;
    case YKT_JSON_ARRAY: {
        lua_createtable(L, (int)(v->len > INT_MAX ? INT_MAX : v->len), 0);
        lua_Integer i = 1;
        for (const ykt_json *m = v->first; m != NULL; m = m->next, i++) {
            push_json(L, m);
            lua_rawseti(L, -2, i); /* null leaves a hole */
        }
        break;
    }
    case YKT_JSON_OBJECT:
        lua_createtable(L, 0, (int)(v->len > INT_MAX ? INT_MAX : v->len));
        for (const ykt_json *m = v->first; m != NULL; m = m->next) {
            lua_pushlstring(L, m->key, m->keylen);
            push_json(L, m);
            lua_rawset(L, -3);
        }
        break;
    }
}

typedef struct key_ref {
    const char *s;
    size_t len;
} key_ref;

static int key_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static void write_json(lua_State *L, int idx, ykt_buf *b, int depth);

static void write_table(lua_State *L, int idx, ykt_buf *b, int depth)
{
    if (depth > YKT_JSON_MAX_DEPTH)
        luaL_error(L, "result nests deeper than %d levels", YKT_JSON_MAX_DEPTH);
    luaL_checkstack(L, 6, "JSON output");
    if (view_contents(L, idx))
        idx = lua_gettop(L); /* a frozen table: its fields are in the shadow */
    size_t n = 0, strings = 0;
    lua_Integer maxi = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
        if (lua_type(L, -1) == LUA_TSTRING)
            strings++;
        else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0)
            maxi = lua_tointeger(L, -1) > maxi ? lua_tointeger(L, -1) : maxi;
        else
            luaL_error(L, "a table with %s keys cannot be written as JSON", luaL_typename(L, -1));
    }
    if (n == 0) {
        ykt_buf_appends(b, "{}");
    } else if (strings == 0 && (size_t)maxi == n) {
        ykt_buf_append(b, "[", 1);
        for (lua_Integer i = 1; i <= maxi; i++) {
            if (i > 1)
                ykt_buf_append(b, ",", 1);
            lua_rawgeti(L, idx, i);
            write_json(L, -1, b, depth + 1);
            lua_pop(L, 1);
        }
        ykt_buf_append(b, "]", 1);
    } else if (strings == n) {
        /* Keys sorted, so the same result always prints the same. The key array is a
         * userdata: an error below must not leak it. */
        key_ref *keys = lua_newuserdatauv(L, n * sizeof *keys, 0);
        size_t k = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            keys[k].s = lua_tolstring(L, -1, &keys[k].len);
            k++;
        }
        qsort(keys, n, sizeof *keys, key_cmp);
        ykt_buf_append(b, "{", 1);
        for (k = 0; k < n; k++) {
            if (k > 0)
                ykt_buf_append(b, ",", 1);
            if (ykt_utf8_bad_offset((const unsigned char *)keys[k].s, keys[k].len) != keys[k].len)
                luaL_error(L, "a key is not valid UTF-8");
            ykt_json_write_string(b, keys[k].s, keys[k].len);
            ykt_buf_append(b, ":", 1);
            lua_pushlstring(L, keys[k].s, keys[k].len);
            lua_rawget(L, idx);
            write_json(L, -1, b, depth + 1);
            lua_pop(L, 1);
        }
        ykt_buf_append(b, "}", 1);
    } else if (strings == 0) {
        luaL_error(L, "an array with holes cannot be written as JSON");
    } else {
        luaL_error(L, "a table mixing string keys and array items cannot be written as JSON");
    }
    /* write_json restores the stack. */
}

static void write_json(lua_State *L, int idx, ykt_buf *b, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        ykt_buf_appends(b, "null");
        break;
    case LUA_TBOOLEAN:
        ykt_buf_appends(b, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TNUMBER:
        if (!lua_isinteger(L, idx))
            luaL_error(L, "a result is not an integer (%f): rules compute in integers",
                       lua_tonumber(L, idx));
        ykt_buf_appendf(b, "%lld", (long long)lua_tointeger(L, idx));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (ykt_utf8_bad_offset((const unsigned char *)s, len) != len)
            luaL_error(L, "a result string is not valid UTF-8");
        ykt_json_write_string(b, s, len);
        break;
    }
    case LUA_TTABLE: {
        int top = lua_gettop(L);
        write_table(L, idx, b, depth);
        lua_settop(L, top);
        break;
    }
    default:
        luaL_error(L, "a %s cannot be written as JSON", luaL_typename(L, idx));
    }
}

typedef struct test_ctx {
    rule_state *st;
    const char *fn;
    const ykt_json *input;
    ykt_buf *out;
    bool notfound;
} test_ctx;

static int test_protected(lua_State *L)
{
    test_ctx *c = lua_touserdata(L, 1);
    if (push_global(L, c->st, c->fn) != LUA_TFUNCTION) {
        c->notfound = true;
        return 0;
    }
    push_json(L, c->input);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
        return luaL_error(L, "%s returned %s, expected a table", c->fn, luaL_typename(L, -1));
    write_json(L, -1, c->out, 0);
    return 0;
}

int ykt_rules_test(const ykt_rules_limits *lim, const char *name, const char *source, size_t len,
                   const char *fn, const char *json_input, ykt_buf *out, char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    ykt_rules_limits l;
    normalize_limits(lim, &l);
    /* "scripts/fees.lua" -> messages say fees.lua, print lines say fees. */
    const char *base = strrchr(name, '/') != NULL ? strrchr(name, '/') + 1 : name;
    char chunk[NAME_MAX_LEN + 8], stem[NAME_MAX_LEN + 1];
    ykt_strlcpy(chunk, base, sizeof chunk);
    ykt_strlcpy(stem, base, sizeof stem);
    size_t sl = strlen(stem);
    if (sl > 4 && strcmp(stem + sl - 4, ".lua") == 0)
        stem[sl - 4] = '\0';
    if (fn == NULL || fn[0] == '\0') {
        snprintf(err, errlen, "no function named");
        return YKT_EINVAL;
    }

    ykt_json *input = NULL;
    const char *text = json_input != NULL ? json_input : "{}";
    char why[256];
    int rc = ykt_json_parse(text, strlen(text), &input, why, sizeof why);
    if (rc != YKT_OK) {
        snprintf(err, errlen, "input: %s", rc == YKT_ENOMEM ? "out of memory" : why);
        return rc;
    }
    if (input->type != YKT_JSON_OBJECT) {
        snprintf(err, errlen, "input: a JSON object is expected");
        ykt_json_free(input);
        return YKT_EINVAL;
    }

    rule_state *st;
    rc = state_new(&st, stem, chunk, source, len, &l, err, errlen);
    if (rc != YKT_OK) {
        ykt_json_free(input);
        return rc;
    }
    ykt_buf result;
    ykt_buf_init(&result);
    test_ctx c = {.st = st, .fn = fn, .input = input, .out = &result};
    run_begin(st);
    lua_pushcfunction(st->L, test_protected);
    lua_pushlightuserdata(st->L, &c);
    int status = lua_pcall(st->L, 1, 0, 0);
    if (status == LUA_OK && !c.notfound) {
        ykt_buf_append(out, result.data, result.len);
        rc = YKT_OK;
    } else if (c.notfound) {
        snprintf(err, errlen, "%s has no function '%s'", chunk, fn);
        rc = YKT_ENOTFOUND;
    } else {
        run_error(st, status, err, errlen);
        rc = YKT_EINVAL;
    }
    ykt_buf_free(&result);
    state_free(st);
    ykt_json_free(input);
    return rc;
}
