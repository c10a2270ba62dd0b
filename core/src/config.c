#include "config.h"
#include "common.h"
#include "ledger.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum key_type {
    T_STR,
    T_INT,
    T_SIZE,
    T_DURATION,
    T_BOOL,
    T_ENUM,
    T_HOSTPORT,
    T_MODE,
    T_LOGLEVEL,
    T_MONEY
};

typedef struct key_spec {
    const char *section;
    const char *key;
    enum key_type type;
    size_t offset;
    size_t size;                /* T_STR, T_HOSTPORT: buffer size */
    int64_t min, max;           /* numeric types (durations in ms, sizes in bytes) */
    const char *const *choices; /* T_ENUM: NULL-terminated names, value = index */
    const char *def;            /* default, parsed like a value from the file */
    const char *doc;
} key_spec;

#define OFF(field) offsetof(ykt_config, field)
#define STR(field) OFF(field), sizeof(((ykt_config *)0)->field)

static const char *const verify_choices[] = {"none", "optional", "required", NULL};

/* Every configuration key. The order is the order of `yktd --print-config`. */
static const key_spec keys[] = {
    {"campus", "name", T_STR, STR(campus_name), 0, 0, NULL, "Demo University",
     "Campus name shown by `yktctl status`."},
    {"campus", "timezone", T_STR, STR(timezone), 0, 0, NULL, "Asia/Shanghai",
     "Time zone for days and reports; times are stored in UTC."},
    {"campus", "code", T_STR, STR(campus_code), 0, 0, NULL, "DEMO",
     "Campus code (1-16 bytes): the system identifier in every card key's diversification."},

    {"terminal", "listen", T_HOSTPORT, STR(terminal_listen), 0, 0, NULL, "127.0.0.1:7070",
     "Address of the terminal port (RESP). Port 0 picks a free port (tests)."},
    {"terminal", "max_connections", T_INT, OFF(max_connections), 0, 1, 1000000, NULL, "10000",
     "Most terminal connections at once; more are answered -BUSY and closed."},
    {"terminal", "max_frame_bytes", T_SIZE, OFF(max_frame_bytes), 0, 256, 64 << 20, NULL, "1m",
     "Largest request in bytes; a larger declared length is refused before reading it."},
    {"terminal", "max_args", T_INT, OFF(max_args), 0, 4, 4096, NULL, "256",
     "Most arguments in one request."},
    {"terminal", "max_pipeline", T_INT, OFF(max_pipeline), 0, 1, 100000, NULL, "128",
     "Most requests of one connection answered but not yet sent; beyond it the gateway stops "
     "reading that connection until the client reads its replies."},
    {"terminal", "idle_timeout", T_DURATION, OFF(idle_timeout_ms), 0, 100, 86400000LL, NULL, "300s",
     "A connection that completes no request for this long is closed."},
    {"terminal", "auth_timeout", T_DURATION, OFF(auth_timeout_ms), 0, 100, 3600000LL, NULL, "10s",
     "A connection that has not authenticated within this time is closed."},
    {"terminal", "request_timeout", T_DURATION, OFF(request_timeout_ms), 0, 100, 3600000LL, NULL,
     "10s",
     "A request whose first bytes arrived must be complete within this time, or the "
     "connection is closed (a client sending a byte at a time holds no buffer for long)."},
    {"terminal", "write_timeout", T_DURATION, OFF(write_timeout_ms), 0, 100, 3600000LL, NULL, "30s",
     "Replies the client does not read for this long close the connection."},
    {"terminal", "send_buffer", T_SIZE, OFF(send_buffer), 0, 4096, 16LL << 20, NULL, "64k",
     "The kernel's send buffer per terminal connection (SO_SNDBUF): what a client that "
     "does not read its replies can make the system hold for it."},
    {"terminal", "max_auth_failures", T_INT, OFF(max_auth_failures), 0, 1, 100, NULL, "3",
     "Failed AUTH attempts after which the connection is closed."},
    {"terminal", "last_seen_flush", T_DURATION, OFF(last_seen_flush_ms), 0, 100, 3600000LL, NULL,
     "10s", "How often terminals' last-seen times are written to the database."},
    {"terminal", "request_retention", T_DURATION, OFF(request_retention_ms), 0, 3600000LL,
     3660LL * 86400000LL, NULL, "30d",
     "How long the outcome of each (terminal, seq) is kept to answer retries."},

    {"tls", "enabled", T_BOOL, OFF(tls_enabled), 0, 0, 0, NULL, "no",
     "Serve the terminal port over TLS (mbedTLS)."},
    {"tls", "cert", T_STR, STR(tls_cert), 0, 0, NULL, "",
     "PEM certificate chain of the gateway (required when TLS is on)."},
    {"tls", "key", T_STR, STR(tls_key), 0, 0, NULL, "",
     "PEM private key of the gateway (required when TLS is on; keep it mode 0600)."},
    {"tls", "ca", T_STR, STR(tls_ca), 0, 0, NULL, "",
     "PEM CA certificates that sign terminal client certificates."},
    {"tls", "verify_client", T_ENUM, OFF(tls_verify_client), 0, 0, 0, verify_choices, "none",
     "Client certificates: none, optional (verified when sent) or required."},
    {"tls", "client_cn_is_terminal", T_BOOL, OFF(tls_client_cn_is_terminal), 0, 0, 0, NULL, "no",
     "When yes, AUTH succeeds only for the terminal id equal to the client certificate's CN."},

    {"admin", "socket", T_STR, STR(admin_socket), 0, 0, NULL, "var/yktd.sock",
     "Unix socket of the admin channel (yktctl)."},
    {"admin", "socket_mode", T_MODE, OFF(admin_socket_mode), 0, 0, 0777, NULL, "0660",
     "File mode of the admin socket (octal)."},
    {"admin", "local_superuser", T_BOOL, OFF(admin_local_superuser), 0, 0, 0, NULL, "yes",
     "A client running as root or as yktd's own user is the superuser without LOGIN."},
    {"admin", "idle_timeout", T_DURATION, OFF(admin_idle_timeout_ms), 0, 100, 86400000LL, NULL,
     "1h", "An admin connection idle for this long is closed."},
    {"admin", "login_max_failures", T_INT, OFF(login_max_failures), 0, 1, 100, NULL, "5",
     "Wrong operator passwords in a row after which the account is locked."},
    {"admin", "login_lock", T_DURATION, OFF(login_lock_ms), 0, 1000, 86400000LL, NULL, "30m",
     "How long an operator account stays locked after too many wrong passwords."},
    {"admin", "max_frame_bytes", T_SIZE, OFF(admin_max_frame_bytes), 0, 4096, 1LL << 30, NULL,
     "64m", "Largest admin request (a CSV import travels in one)."},

    {"cards", "master_key", T_STR, STR(master_key), 0, 0, NULL, "var/demo-master.key",
     "File with the AES-128 master key (32 hex digits); must be mode 0600 or 0400."},
    {"cards", "replacement_fee", T_MONEY, OFF(replacement_fee), 0, 0, 100000, NULL, "10.00",
     "Fee in CNY for a replacement card, waived for a recorded card-quality defect."},
    {"cards", "deposit", T_MONEY, OFF(deposit), 0, 0, 100000, NULL, "0.00",
     "Deposit in CNY collected at issuance and refunded at cancellation (0: none)."},
    {"cards", "password_iterations", T_INT, OFF(password_iterations), 0, 1000, 10000000, NULL,
     "10000", "PBKDF2-HMAC-SHA256 iterations for query and payment passwords."},
    {"cards", "cache_entries", T_INT, OFF(card_cache_entries), 0, 0, 1 << 22, NULL, "65536",
     "Cards, with their holders, kept in memory for card checks, about 1.3 KB each as they "
     "come (0: read both from the database every time)."},
    {"cards", "password_max_failures", T_INT, OFF(password_max_failures), 0, 1, 100, NULL, "5",
     "Wrong card passwords in a row after which the password is locked."},
    {"cards", "password_lock", T_DURATION, OFF(password_lock_ms), 0, 1000, 86400000LL, NULL, "30m",
     "How long a card password stays locked after too many wrong tries."},
    {"cards", "pin_threshold", T_MONEY, OFF(pin_threshold), 0, 1, YKT_AMOUNT_MAX, NULL, "200.00",
     "A single payment of this many CNY or more needs the payment password."},
    {"cards", "max_clock_skew", T_DURATION, OFF(max_clock_skew_ms), 0, 1000, 86400000LL, NULL,
     "10m",
     "An online card transaction stamped further than this from the gateway clock is "
     "refused."},
    {"cards", "auto_cancel_after", T_INT, OFF(auto_cancel_months), 0, 0, 120, NULL, "6",
     "Months after validity ends at which a card is cancelled automatically and its balance "
     "moved to the dormant-funds account."},
    {"cards", "refund_window", T_INT, OFF(refund_window_months), 0, 0, 120, NULL, "3",
     "Months after a card ends without a refund during which the holder may still claim "
     "the balance; after that it goes to the dormant-funds account."},

    {"wallet", "max_topup", T_MONEY, OFF(max_topup), 0, 1, YKT_AMOUNT_MAX, NULL, "1000.00",
     "The most one top-up may add, in CNY."},
    {"wallet", "max_payment", T_MONEY, OFF(max_payment), 0, 1, YKT_AMOUNT_MAX, NULL, "500.00",
     "The most one card payment may be, in CNY."},
    {"wallet", "daily_limit_regular", T_MONEY, OFF(daily_limit_regular), 0, 1, YKT_AMOUNT_MAX, NULL,
     "300.00", "A regular card's daily payment limit in CNY (raised per holder)."},
    {"wallet", "daily_limit_temporary", T_MONEY, OFF(daily_limit_temporary), 0, 1, YKT_AMOUNT_MAX,
     NULL, "100.00", "A temporary card's daily payment limit in CNY."},
    {"wallet", "low_balance", T_MONEY, OFF(low_balance), 0, 0, YKT_AMOUNT_MAX, NULL, "20.00",
     "Default balance in CNY under which a holder is reminded (holders may set their own)."},
    {"wallet", "hold_timeout", T_DURATION, OFF(hold_timeout_ms), 0, 1000, 7LL * 86400000LL, NULL,
     "10m", "A hold not captured or voided within this time is voided automatically."},
    {"wallet", "offline_max_payment", T_MONEY, OFF(offline_max_payment), 0, 1, YKT_AMOUNT_MAX, NULL,
     "50.00", "The most an offline terminal may sell in one payment; larger uploads are flagged."},

    {"import", "max_bytes", T_SIZE, OFF(import_max_bytes), 0, 1024, 1LL << 30, NULL, "32m",
     "Largest CSV file `person import` accepts."},
    {"import", "max_rows", T_INT, OFF(import_max_rows), 0, 1, 10000000, NULL, "200000",
     "Most data rows in one CSV import."},

    {"storage", "path", T_STR, STR(storage_path), 0, 0, NULL, "var/ykt.db",
     "SQLite database file (WAL mode; the -wal and -shm files live beside it)."},
    {"storage", "checkpoint_pages", T_INT, OFF(checkpoint_pages), 0, 100, 1000000, NULL, "16384",
     "WAL length in pages (4 KiB) past which yktd copies the WAL into the database."},
    {"storage", "checkpoint_pace_pages", T_INT, OFF(checkpoint_pace_pages), 0, 0, 1000000, NULL,
     "16",
     "A checkpoint pass syncs the database file after every this many pages it copies, so "
     "that commits do not wait behind its writes; 0 leaves the syncs to SQLite."},
    {"storage", "checkpoint_nice", T_INT, OFF(checkpoint_nice), 0, 0, 19, NULL, "19",
     "Checkpoint passes run on a thread this much below the event loop's priority (added "
     "to its nice value, up to 19), yielding the cores to it; 0: the thread pool."},

    {"log", "level", T_LOGLEVEL, OFF(log_level), 0, 0, 0, NULL, "info",
     "debug, info, warn or error."},
    {"log", "file", T_STR, STR(log_file), 0, 0, NULL, "",
     "Append log lines to this file; empty means standard error."},

    {"plugins", "dir", T_STR, STR(plugins_dir), 0, 0, NULL, "build/release/plugins",
     "Where [plugin.NAME] finds NAME.so unless its section gives a path."},

    {"rules", "dir", T_STR, STR(rules_dir), 0, 0, NULL, "scripts",
     "Directory of the departments' Lua rules (NAME.lua), watched and reloaded on change."},
    {"rules", "instructions", T_INT, OFF(rule_instructions), 0, 1000, 1000000000LL, NULL, "1000000",
     "Most Lua instructions one rule call may run before it is stopped."},
    {"rules", "memory", T_SIZE, OFF(rule_memory), 0, 65536, 1LL << 30, NULL, "8m",
     "Most memory one rule script's Lua state may use."},
    {"rules", "time_limit", T_DURATION, OFF(rule_time_ms), 0, 1, 10000, NULL, "50ms",
     "Most wall-clock time one rule call may take (library functions work without counting "
     "instructions)."},
    {"rules", "fee_script", T_STR, STR(fee_script), 0, 0, NULL, "fees",
     "The rule script whose fee function prices every payment (PAY, captures, plugins); "
     "empty uses the built-in formula instead."},

    {"backup", "dir", T_STR, STR(backup_dir), 0, 0, NULL, "",
     "Directory for scheduled online backups (ykt-YYYYMMDDTHHMMSSZ.db); empty: none."},
    {"backup", "interval", T_DURATION, OFF(backup_interval_ms), 0, 60000, 30LL * 86400000LL, NULL,
     "24h", "How often a scheduled backup is taken (checked every minute)."},
    {"backup", "keep", T_INT, OFF(backup_keep), 0, 1, 10000, NULL, "7",
     "How many scheduled backups are kept; older ones are deleted after a new one succeeds."},
};

static const key_spec *find_key(const char *section, const char *key, bool *section_known)
{
    *section_known = false;
    for (size_t i = 0; i < YKT_ARRAY_LEN(keys); i++) {
        if (strcmp(keys[i].section, section) != 0)
            continue;
        *section_known = true;
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    }
    return NULL;
}

/* Parses value for spec into cfg; on failure writes the reason (no location) into err. */
static int set_value(ykt_config *cfg, const key_spec *k, const char *value, char *err,
                     size_t errlen)
{
    char *base = (char *)cfg;
    int64_t v = 0;
    switch (k->type) {
    case T_STR:
        if (strlen(value) >= k->size) {
            snprintf(err, errlen, "value longer than %zu bytes", k->size - 1);
            return YKT_EINVAL;
        }
        ykt_strlcpy(base + k->offset, value, k->size);
        return YKT_OK;
    case T_HOSTPORT: {
        char host[128];
        int port;
        if (strlen(value) >= k->size ||
            ykt_parse_hostport(value, host, sizeof host, &port) != YKT_OK) {
            snprintf(err, errlen, "expected HOST:PORT, got '%s'", value);
            return YKT_EINVAL;
        }
        ykt_strlcpy(base + k->offset, value, k->size);
        return YKT_OK;
    }
    case T_BOOL:
        if (ykt_parse_bool(value, (bool *)(base + k->offset)) != YKT_OK) {
            snprintf(err, errlen, "expected yes or no, got '%s'", value);
            return YKT_EINVAL;
        }
        return YKT_OK;
    case T_ENUM:
        for (int i = 0; k->choices[i] != NULL; i++) {
            if (strcmp(k->choices[i], value) == 0) {
                *(int *)(base + k->offset) = i;
                return YKT_OK;
            }
        }
        snprintf(err, errlen, "unknown value '%s'", value);
        return YKT_EINVAL;
    case T_LOGLEVEL: {
        int level = ykt_log_level_parse(value);
        if (level < 0) {
            snprintf(err, errlen, "expected debug, info, warn or error, got '%s'", value);
            return YKT_EINVAL;
        }
        *(int *)(base + k->offset) = level;
        return YKT_OK;
    }
    case T_INT:
        if (ykt_parse_int64(value, INT64_MIN, INT64_MAX, &v) != YKT_OK) {
            snprintf(err, errlen, "expected an integer, got '%s'", value);
            return YKT_EINVAL;
        }
        break;
    case T_SIZE:
        if (ykt_parse_size(value, &v) != YKT_OK) {
            snprintf(err, errlen, "expected a size such as 4096, 64k or 1m, got '%s'", value);
            return YKT_EINVAL;
        }
        break;
    case T_DURATION:
        if (ykt_parse_duration_ms(value, &v) != YKT_OK) {
            snprintf(err, errlen, "expected a duration such as 500ms, 30s, 5m or 2h, got '%s'",
                     value);
            return YKT_EINVAL;
        }
        break;
    case T_MONEY:
        if (ykt_parse_yuan(value, &v) != YKT_OK) {
            snprintf(err, errlen, "expected an amount in CNY such as 10 or 10.00, got '%s'", value);
            return YKT_EINVAL;
        }
        break;
    case T_MODE: {
        char *end;
        errno = 0;
        long m = strtol(value, &end, 8);
        if (*value == '\0' || *end != '\0' || errno != 0) {
            snprintf(err, errlen, "expected an octal mode such as 0660, got '%s'", value);
            return YKT_EINVAL;
        }
        v = m;
        break;
    }
    }
    if (v < k->min || v > k->max) {
        snprintf(err, errlen, "must be between %lld and %lld%s (got '%s')", (long long)k->min,
                 (long long)k->max,
                 k->type == T_DURATION ? " ms"
                 : k->type == T_SIZE   ? " bytes"
                 : k->type == T_MONEY  ? " fen"
                                       : "",
                 value);
        return YKT_EINVAL;
    }
    *(int64_t *)(base + k->offset) = v;
    return YKT_OK;
}

void ykt_config_defaults(ykt_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char err[256];
    for (size_t i = 0; i < YKT_ARRAY_LEN(keys); i++) {
        if (set_value(cfg, &keys[i], keys[i].def, err, sizeof err) != YKT_OK) {
            /* A bad default is a programming error caught by the first test run. */
            fprintf(stderr, "ykt: bad default for %s.%s: %s\n", keys[i].section, keys[i].key, err);
            abort();
        }
    }
}

/* inih calls our reader once per line, so counting calls gives the line number that the
 * stock Debian build (INI_HANDLER_LINENO off) does not pass to the handler. */
typedef struct load_ctx {
    ykt_config *cfg;
    FILE *file;
    const char *path;
    int line;
    bool too_long;
    int too_long_line;
    char *err;
    size_t errlen;
    bool failed;
    /* keys already set by this file, to refuse duplicates */
    bool seen[YKT_ARRAY_LEN(keys)];
} load_ctx;

/* inih calls the handler only for keys, so a section header is checked here: an unknown
 * section is an error even when it holds no key. */
/* [plugin.NAME] sections: NAME is an identifier; their keys are the plugin's own. */
static bool plugin_section(const char *section, size_t len)
{
    if (len <= 7 || strncmp(section, "plugin.", 7) != 0 || len - 7 >= 32)
        return false;
    for (size_t i = 7; i < len; i++) {
        char c = section[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static ykt_plugin_conf *plugin_conf(ykt_config *cfg, const char *name, int line)
{
    for (int i = 0; i < cfg->nplugins; i++)
        if (strcmp(cfg->plugins[i].name, name) == 0)
            return &cfg->plugins[i];
    if (cfg->nplugins == YKT_MAX_PLUGINS)
        return NULL;
    ykt_plugin_conf *pc = &cfg->plugins[cfg->nplugins++];
    memset(pc, 0, sizeof *pc);
    ykt_strlcpy(pc->name, name, sizeof pc->name);
    pc->line = line;
    return pc;
}

/* Sets a key of a [plugin.NAME] section; in a file a key may appear once, --set replaces. */
static int plugin_key(ykt_config *cfg, const char *section, const char *key, const char *value,
                      int line, bool replace, char *reason, size_t len)
{
    ykt_plugin_conf *pc = plugin_conf(cfg, section + 7, line);
    if (pc == NULL) {
        snprintf(reason, len, "at most %d plugins", YKT_MAX_PLUGINS);
        return YKT_ELIMIT;
    }
    if (strcmp(key, "enabled") == 0) {
        if (ykt_parse_bool(value, &pc->enabled) != YKT_OK) {
            snprintf(reason, len, "expected yes or no, got '%s'", value);
            return YKT_EINVAL;
        }
        pc->enabled_set = true;
        return YKT_OK;
    }
    if (strcmp(key, "path") == 0) {
        if (strlen(value) >= sizeof pc->path) {
            snprintf(reason, len, "path too long");
            return YKT_EINVAL;
        }
        ykt_strlcpy(pc->path, value, sizeof pc->path);
        return YKT_OK;
    }
    if (!ykt_is_ident(key, sizeof pc->opts[0].key - 1) ||
        strlen(value) >= sizeof pc->opts[0].value) {
        snprintf(reason, len,
                 "a plugin option is a name of at most 47 characters with a value "
                 "of at most 255");
        return YKT_EINVAL;
    }
    for (int i = 0; i < pc->nopts; i++) {
        if (strcmp(pc->opts[i].key, key) == 0) {
            if (!replace) {
                snprintf(reason, len, "%s is set twice", key);
                return YKT_EINVAL;
            }
            ykt_strlcpy(pc->opts[i].value, value, sizeof pc->opts[i].value);
            return YKT_OK;
        }
    }
    if (pc->nopts == YKT_MAX_PLUGIN_OPTIONS) {
        snprintf(reason, len, "at most %d options per plugin", YKT_MAX_PLUGIN_OPTIONS);
        return YKT_ELIMIT;
    }
    ykt_strlcpy(pc->opts[pc->nopts].key, key, sizeof pc->opts[0].key);
    ykt_strlcpy(pc->opts[pc->nopts].value, value, sizeof pc->opts[0].value);
    pc->nopts++;
    return YKT_OK;
}

static void check_section_header(load_ctx *ctx, const char *line)
{
    if (ctx->line == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3; /* UTF-8 BOM, which inih skips */
    line += strspn(line, " \t");
    const char *end = line[0] == '[' ? strchr(line, ']') : NULL;
    if (end == NULL || ctx->failed)
        return;
    size_t len = (size_t)(end - line - 1);
    for (size_t i = 0; i < YKT_ARRAY_LEN(keys); i++)
        if (strlen(keys[i].section) == len && strncmp(keys[i].section, line + 1, len) == 0)
            return;
    if (plugin_section(line + 1, len))
        return;
    snprintf(ctx->err, ctx->errlen, "%s:%d: unknown section [%.*s]", ctx->path, ctx->line,
             (int)(len > 64 ? 64 : len), line + 1);
    ctx->failed = true;
}

static char *reader(char *str, int num, void *stream)
{
    load_ctx *ctx = stream;
    /* fgets would hide how much it read when a line holds a NUL byte: the rest of a long
     * line then came back as a line of its own, with the wrong line numbers after it. */
    size_t n = 0;
    bool nul = false;
    int ch;
    while (n < (size_t)num - 1 && (ch = fgetc(ctx->file)) != EOF) {
        str[n++] = (char)ch;
        nul |= ch == '\0';
        if (ch == '\n')
            break;
    }
    if (n == 0)
        return NULL;
    str[n] = '\0';
    ctx->line++;
    if (nul && !ctx->failed) {
        snprintf(ctx->err, ctx->errlen, "%s:%d: contains a NUL byte (not a text file)", ctx->path,
                 ctx->line);
        ctx->failed = true;
    }
    if (nul)
        str[0] = '\0';
    check_section_header(ctx, str);
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(ctx->file)) {
        if (!ctx->too_long)
            ctx->too_long_line = ctx->line;
        ctx->too_long = true;
        /* Swallow the rest of the line; the handler-less error is reported below. */
        int c;
        while ((c = fgetc(ctx->file)) != EOF && c != '\n')
            ;
        str[0] = '\0';
    }
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *ctx = user;
    if (ctx->failed)
        return 0;
    if (plugin_section(section, strlen(section))) {
        char reason[256];
        if (plugin_key(ctx->cfg, section, name, value, ctx->line, false, reason, sizeof reason) !=
            YKT_OK) {
            snprintf(ctx->err, ctx->errlen, "%s:%d: [%s] %s: %s", ctx->path, ctx->line, section,
                     name, reason);
            ctx->failed = true;
            return 0;
        }
        return 1;
    }
    bool section_known;
    const key_spec *k = find_key(section, name, &section_known);
    if (!section_known) {
        snprintf(ctx->err, ctx->errlen, "%s:%d: unknown section [%s]", ctx->path, ctx->line,
                 section);
        ctx->failed = true;
        return 0;
    }
    if (k == NULL) {
        snprintf(ctx->err, ctx->errlen, "%s:%d: unknown key '%s' in [%s]", ctx->path, ctx->line,
                 name, section);
        ctx->failed = true;
        return 0;
    }
    size_t idx = (size_t)(k - keys);
    if (ctx->seen[idx]) {
        snprintf(ctx->err, ctx->errlen, "%s:%d: [%s] %s is set twice", ctx->path, ctx->line,
                 section, name);
        ctx->failed = true;
        return 0;
    }
    ctx->seen[idx] = true;
    char reason[256];
    if (set_value(ctx->cfg, k, value, reason, sizeof reason) != YKT_OK) {
        snprintf(ctx->err, ctx->errlen, "%s:%d: [%s] %s: %s", ctx->path, ctx->line, section, name,
                 reason);
        ctx->failed = true;
        return 0;
    }
    return 1;
}

int ykt_config_load(ykt_config *cfg, const char *path, char *err, size_t errlen)
{
    load_ctx ctx = {.cfg = cfg, .path = path, .err = err, .errlen = errlen};
    ctx.file = fopen(path, "re");
    if (ctx.file == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return YKT_EIO;
    }
    /* Continuation lines would call the handler twice for one key; we want plain INI. */
    ini_allow_multiline = false;
    ini_stop_on_first_error = true;
    int rc = ini_parse_stream(reader, &ctx, handler, &ctx);
    fclose(ctx.file);
    if (ctx.too_long) {
        snprintf(err, errlen, "%s:%d: line too long (at most %d characters)", path,
                 ctx.too_long_line, ini_max_line - 3);
        return YKT_EINVAL;
    }
    if (ctx.failed)
        return YKT_EINVAL;
    if (rc != 0) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path,
                 rc > 0 ? rc : ctx.line);
        return YKT_EINVAL;
    }
    return YKT_OK;
}

int ykt_config_set(ykt_config *cfg, const char *assignment, char *err, size_t errlen)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (eq == NULL || dot == NULL || dot > eq) {
        snprintf(err, errlen, "--set %s: expected section.key=value", assignment);
        return YKT_EINVAL;
    }
    if (strncmp(assignment, "plugin.", 7) == 0) {
        /* plugin.NAME.key=value: the section is everything before the last dot. */
        const char *last = dot;
        for (const char *q = dot; q < eq; q++)
            if (*q == '.')
                last = q;
        char section[64], key[64], reason[256];
        size_t slen = (size_t)(last - assignment), klen = (size_t)(eq - last - 1);
        if (last == dot || slen >= sizeof section || klen == 0 || klen >= sizeof key) {
            snprintf(err, errlen, "--set %s: expected plugin.NAME.key=value", assignment);
            return YKT_EINVAL;
        }
        memcpy(section, assignment, slen);
        section[slen] = '\0';
        memcpy(key, last + 1, klen);
        key[klen] = '\0';
        if (!plugin_section(section, slen) ||
            plugin_key(cfg, section, key, eq + 1, 0, true, reason, sizeof reason) != YKT_OK) {
            snprintf(err, errlen, "--set %s: %s", assignment,
                     plugin_section(section, slen) ? reason : "bad plugin name");
            return YKT_EINVAL;
        }
        return YKT_OK;
    }
    char section[64], key[64];
    size_t slen = (size_t)(dot - assignment), klen = (size_t)(eq - dot - 1);
    if (slen == 0 || slen >= sizeof section || klen == 0 || klen >= sizeof key) {
        snprintf(err, errlen, "--set %s: expected section.key=value", assignment);
        return YKT_EINVAL;
    }
    memcpy(section, assignment, slen);
    section[slen] = '\0';
    memcpy(key, dot + 1, klen);
    key[klen] = '\0';
    bool section_known;
    const key_spec *k = find_key(section, key, &section_known);
    if (k == NULL) {
        snprintf(err, errlen, "--set %s: unknown %s", assignment,
                 section_known ? "key" : "section");
        return YKT_EINVAL;
    }
    char reason[256];
    if (set_value(cfg, k, eq + 1, reason, sizeof reason) != YKT_OK) {
        snprintf(err, errlen, "--set %s: %s", assignment, reason);
        return YKT_EINVAL;
    }
    return YKT_OK;
}

static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
    if (path[0] == '\0') {
        snprintf(err, errlen, "%s is required", what);
        return YKT_EINVAL;
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return YKT_EINVAL;
    }
    return YKT_OK;
}

int ykt_config_validate(const ykt_config *cfg, char *err, size_t errlen)
{
    if (cfg->tls_enabled) {
        if (check_readable("[tls] cert", cfg->tls_cert, err, errlen) != YKT_OK ||
            check_readable("[tls] key", cfg->tls_key, err, errlen) != YKT_OK)
            return YKT_EINVAL;
        if (cfg->tls_verify_client != YKT_TLS_VERIFY_NONE &&
            check_readable("[tls] ca (needed by verify_client)", cfg->tls_ca, err, errlen) !=
                YKT_OK)
            return YKT_EINVAL;
        if (cfg->tls_client_cn_is_terminal && cfg->tls_verify_client != YKT_TLS_VERIFY_REQUIRED) {
            snprintf(err, errlen, "[tls] client_cn_is_terminal needs verify_client = required");
            return YKT_EINVAL;
        }
    }
    if (cfg->admin_socket[0] == '\0') {
        snprintf(err, errlen, "[admin] socket is required");
        return YKT_EINVAL;
    }
    size_t code_len = strlen(cfg->campus_code);
    if (code_len == 0 || code_len > 16) {
        snprintf(err, errlen, "[campus] code must have 1 to 16 bytes");
        return YKT_EINVAL;
    }
    if (cfg->master_key[0] == '\0') {
        snprintf(err, errlen, "[cards] master_key is required");
        return YKT_EINVAL;
    }
    if (cfg->storage_path[0] == '\0') {
        snprintf(err, errlen, "[storage] path is required");
        return YKT_EINVAL;
    }
    /* A copy of a request presented once its outcome is no longer kept must be refused by
     * its time (CLOCK_SKEW), whatever else it may pass (docs/protocol.md, Idempotency). */
    if (cfg->request_retention_ms < 2 * cfg->max_clock_skew_ms) {
        snprintf(err, errlen,
                 "[terminal] request_retention must be at least twice [cards] max_clock_skew "
                 "(%lld s against %lld s): a copy of a request whose outcome is no longer kept "
                 "must be refused by its time",
                 (long long)(cfg->request_retention_ms / 1000),
                 (long long)(cfg->max_clock_skew_ms / 1000));
        return YKT_EINVAL;
    }
    return YKT_OK;
}

void ykt_config_print_reference(void)
{
    const char *section = "";
    for (size_t i = 0; i < YKT_ARRAY_LEN(keys); i++) {
        if (strcmp(section, keys[i].section) != 0) {
            section = keys[i].section;
            printf("%s[%s]\n", i ? "\n" : "", section);
        }
        printf("; %s\n%s = %s\n", keys[i].doc, keys[i].key, keys[i].def);
    }
}
