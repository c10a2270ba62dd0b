/*
 * yktd: the campus one-card gateway.
 *
 *   yktd -c FILE [--set section.key=value ...]
 *   yktd --check-config FILE [--set ...]
 *   yktd --print-config
 */
#include "admin.h"
#include "card_verbs.h"
#include "pay_verbs.h"
#include "events.h"
#include "plugin.h"
#include "rules.h"
#include "timers.h"
#include "wallet.h"
#include "cardcache.h"
#include "cardcrypto.h"
#include "date.h"
#include "common.h"
#include "config.h"
#include "db.h"
#include "gateway.h"
#include "log.h"
#include "server.h"
#include "terminal.h"
#include "tls.h"
#include "util.h"
#include "secret.h"
#include "verbs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SETS 128

static void usage(FILE *out)
{
    fprintf(out, "usage: yktd -c FILE [--set section.key=value ...]\n"
                 "       yktd --check-config FILE [--set section.key=value ...]\n"
                 "       yktd --print-config     (every key with its default)\n"
                 "       yktd --version\n");
}

/* Loads the file and applies the overrides; prints the reason and returns false if bad. */
static bool load_config(ykt_config *cfg, const char *path, const char **sets, int nsets)
{
    char err[512];
    ykt_config_defaults(cfg);
    if (ykt_config_load(cfg, path, err, sizeof err) != YKT_OK) {
        fprintf(stderr, "yktd: %s\n", err);
        return false;
    }
    for (int i = 0; i < nsets; i++) {
        if (ykt_config_set(cfg, sets[i], err, sizeof err) != YKT_OK) {
            fprintf(stderr, "yktd: %s\n", err);
            return false;
        }
    }
    if (ykt_config_validate(cfg, err, sizeof err) != YKT_OK) {
        fprintf(stderr, "yktd: %s: %s\n", path, err);
        return false;
    }
    return true;
}

/*
 * Each terminal connection is a file descriptor: raise the soft open-file limit (often
 * 1024) towards [terminal] max_connections plus what the gateway itself holds, as far as
 * the hard limit allows, and say so when it falls short — beyond the limit the system
 * drops connections before yktd can answer -BUSY.
 */
#define FDS_RESERVED 128 /* database, logs, rules, plugins, admin connections */

static void raise_open_file_limit(const ykt_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)cfg->max_connections + FDS_RESERVED;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        struct rlimit next = {.rlim_cur = cur, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &next) == 0)
            rl.rlim_cur = cur;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        ykt_warn("open-file limit %llu is below [terminal] max_connections %lld + %d: about "
                 "%llu terminals can connect; raise the hard limit (LimitNOFILE=, ulimit -Hn)",
                 (unsigned long long)rl.rlim_cur, (long long)cfg->max_connections, FDS_RESERVED,
                 (unsigned long long)(rl.rlim_cur > FDS_RESERVED ? rl.rlim_cur - FDS_RESERVED : 0));
}

/* One yktd per database: a second one would not see the first one's in-memory state. */
static int lock_database(const char *db_path)
{
    char path[YKT_PATH_MAX + 8];
    snprintf(path, sizeof path, "%s.lock", db_path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "yktd: cannot create lock file %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "yktd: %s is in use by another yktd (lock %s held)\n", db_path, path);
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct script_probe {
    const char *name;
    bool loaded;
} script_probe;

static void probe_script(const ykt_rule_info *info, void *arg)
{
    script_probe *p = arg;
    if (strcmp(info->name, p->name) == 0)
        p->loaded = info->loaded;
}

/*
 * Loads the rule scripts (watching them when loop is not NULL). Refused scripts are
 * reported; the fee script must load, or every payment would be refused — yktd stops
 * instead, as it does for a missing plugin. Returns YKT_OK or an error with err set.
 */
static int open_rules(const ykt_config *cfg, uv_loop_t *loop, ykt_rules **out, char *err,
                      size_t errlen)
{
    ykt_rules_limits lim = {.instructions = (uint64_t)cfg->rule_instructions,
                            .memory_bytes = (size_t)cfg->rule_memory,
                            .time_ms = (uint64_t)cfg->rule_time_ms};
    int rc = ykt_rules_open(out, loop, cfg->rules_dir, &lim, err, errlen);
    if (rc != YKT_OK) {
        char why[512];
        ykt_strlcpy(why, err, sizeof why);
        snprintf(err, errlen, "[rules] dir: %.400s", why);
        return rc;
    }
    if (err[0] != '\0')
        ykt_error("rules refused (they do not run until a good version is saved): %s", err);
    if (cfg->fee_script[0] != '\0') {
        script_probe probe = {.name = cfg->fee_script};
        ykt_rules_each(*out, probe_script, &probe);
        if (!probe.loaded) {
            snprintf(
                err, errlen,
                "[rules] fee_script: %.63s.lua in %.200s is missing or was refused (see above); "
                "every payment would be refused, so yktd stops",
                cfg->fee_script, cfg->rules_dir);
            ykt_rules_close(*out);
            *out = NULL;
            return YKT_EINVAL;
        }
    }
    err[0] = '\0';
    return YKT_OK;
}

/* Holds whose time is up are voided within a second (R-W6 holds: each resolves once). */
static void expire_holds(ykt_gw *gw, void *arg)
{
    (void)arg;
    if (ykt_db_cmd_begin(gw->db) != YKT_OK)
        return;
    int n = 0;
    int rc = ykt_wallet_expire_holds(gw, &n);
    ykt_db_cmd_end(gw->db, rc == YKT_OK);
    if (n > 0)
        ykt_info("wallet: %d holds expired and were voided", n);
}

static int run(ykt_config *cfg)
{
    ykt_gw gw;
    memset(&gw, 0, sizeof gw);
    gw.cfg = *cfg;
    gw.started_ms = ykt_now_ms();
    char err[512];
    int exit_code = 1;

    ykt_log_set_level(cfg->log_level);
    if (cfg->log_file[0] != '\0' && ykt_log_open(cfg->log_file) != YKT_OK) {
        fprintf(stderr, "yktd: cannot open log file %s: %s\n", cfg->log_file, strerror(errno));
        return 1;
    }
    ykt_info("yktd %s starting (campus: %s)", YKT_VERSION, cfg->campus_name);
#ifdef YKT_TEST_CLOCK
    if (ykt_test_clock_offset_ms() != 0)
        ykt_warn("test clock: the gateway's time is shifted by %lld ms "
                 "(YKT_TEST_CLOCK_OFFSET_MS; a test build)",
                 (long long)ykt_test_clock_offset_ms());
#endif

    if (ykt_tz_init(cfg->timezone, err, sizeof err) != YKT_OK) {
        ykt_error("%s", err);
        return 1;
    }
    if (ykt_master_key_load(cfg->master_key, gw.master_key, err, sizeof err) != YKT_OK) {
        ykt_error("[cards] master_key: %s", err);
        return 1;
    }
    int lock_fd = lock_database(cfg->storage_path);
    if (lock_fd < 0)
        return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    gw.loop = &loop;

    if (ykt_db_open(&gw.db, cfg->storage_path, err, sizeof err) != YKT_OK) {
        ykt_error("%s", err);
        goto out;
    }
    ykt_db_set_checkpoint_pages(gw.db, (int)cfg->checkpoint_pages);
    ykt_db_set_checkpoint_pace(gw.db, (int)cfg->checkpoint_pace_pages);
    ykt_db_set_checkpoint_nice(gw.db, (int)cfg->checkpoint_nice);
    gw.cards = ykt_cardcache_new((size_t)cfg->card_cache_entries);
    if (ykt_terminals_load(&gw.terminals, gw.db) != YKT_OK) {
        ykt_error("cannot load the terminal registry from %s", cfg->storage_path);
        goto out;
    }
    gw.verbs = ykt_verbs_new();
    gw.admin = ykt_admin_new();
    if (gw.verbs == NULL || gw.admin == NULL || ykt_core_verbs_register(gw.verbs) != YKT_OK ||
        ykt_card_verbs_register(gw.verbs) != YKT_OK || ykt_pay_verbs_register(gw.verbs) != YKT_OK ||
        ykt_admin_core_register(gw.admin) != YKT_OK) {
        ykt_error("cannot register the core verbs and commands");
        goto out;
    }
    /* Rules before plugins: a plugin may call a rule from its init. */
    if (open_rules(cfg, &loop, &gw.rules, err, sizeof err) != YKT_OK) {
        ykt_error("%s", err);
        uv_run(&loop, UV_RUN_DEFAULT); /* closes the rules' handles */
        goto out;
    }
    if (ykt_plugins_load(&gw, err, sizeof err) != YKT_OK) {
        ykt_error("%s; yktd stops so that the subsystem is not silently off", err);
        goto out;
    }
    if (cfg->tls_enabled && ykt_tls_init(&gw.tls, cfg, err, sizeof err) != YKT_OK) {
        ykt_error("%s", err);
        goto out;
    }
    raise_open_file_limit(&gw.cfg);
    if (ykt_server_start(&gw, err, sizeof err) != YKT_OK) {
        ykt_error("%s", err);
        uv_run(&loop, UV_RUN_DEFAULT); /* closes what was opened */
        goto out;
    }
    ykt_timer_every(&gw, 1000, 1000, expire_holds, NULL, NULL);
    ykt_events_clock_start(&gw);
    ykt_server_stats st;
    ykt_server_get_stats(&gw, &st);
    ykt_info("ready: terminal port %s (%s), admin socket %s, database %s (schema %d), "
             "%zu terminals",
             st.terminal_addr, gw.tls ? "TLS" : "plain TCP", cfg->admin_socket, cfg->storage_path,
             ykt_db_schema_version(gw.db), ykt_terminals_count(gw.terminals));
    uv_run(&loop, UV_RUN_DEFAULT);
    exit_code = 0;
    ykt_info("stopped; database closed cleanly");
out:
    ykt_plugins_unload(&gw);
    ykt_rules_close(gw.rules);
    ykt_server_free(&gw);
    ykt_admin_free(gw.admin);
    ykt_verbs_free(gw.verbs);
    ykt_tls_free(gw.tls);
    ykt_terminals_free(gw.terminals);
    ykt_db_close(gw.db);
    ykt_cardcache_free(gw.cards);
    if (uv_loop_close(&loop) != 0) {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    ykt_plugins_close();
    close(lock_fd);
    ykt_wipe(gw.master_key, sizeof gw.master_key);
    ykt_log_close();
    return exit_code;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    const char *sets[MAX_SETS];
    int nsets = 0;
    bool check_only = false;
    ykt_db_global_init();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(a, "--check-config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
            check_only = true;
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            if (nsets == MAX_SETS) {
                fprintf(stderr, "yktd: at most %d --set options\n", MAX_SETS);
                return 2;
            }
            sets[nsets++] = argv[++i];
        } else if (strcmp(a, "--print-config") == 0) {
            ykt_config_print_reference();
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("yktd %s\n", YKT_VERSION);
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "yktd: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (config_path == NULL) {
        usage(stderr);
        return 2;
    }
    static ykt_config cfg;
    if (!load_config(&cfg, config_path, sets, nsets))
        return 1;
    if (check_only) {
        /* A check runs just before a start (run-demo.sh, ExecStartPre=), which logs the same
         * loading again: keep warnings and errors, drop the routine "loaded" lines. */
        ykt_log_set_level(cfg.log_level > YKT_LOG_WARN ? cfg.log_level : YKT_LOG_WARN);
        /* Load the TLS material too: a wrong key or certificate is a configuration error. */
        char err[512];
        uint8_t key[16];
        if (ykt_tz_init(cfg.timezone, err, sizeof err) != YKT_OK ||
            ykt_master_key_load(cfg.master_key, key, err, sizeof err) != YKT_OK) {
            fprintf(stderr, "yktd: %s: %s\n", config_path, err);
            return 1;
        }
        ykt_wipe(key, sizeof key);
        if (cfg.tls_enabled) {
            struct ykt_tls *tls;
            if (ykt_tls_init(&tls, &cfg, err, sizeof err) != YKT_OK) {
                fprintf(stderr, "yktd: %s: %s\n", config_path, err);
                return 1;
            }
            ykt_tls_free(tls);
        }
        /* The rule scripts load and pass their self-tests; the plugins load and speak this
         * API (their init, which needs the database, runs only at start). */
        ykt_rules *rules = NULL;
        if (open_rules(&cfg, NULL, &rules, err, sizeof err) != YKT_OK ||
            ykt_plugins_check(&cfg, err, sizeof err) != YKT_OK) {
            fprintf(stderr, "yktd: %s: %s\n", config_path, err);
            ykt_rules_close(rules);
            return 1;
        }
        ykt_rules_close(rules);
        printf("%s: configuration OK\n", config_path);
        return 0;
    }
    /* A terminal that vanishes mid-write must not kill the gateway. */
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit (ulimit -f) must fail a write with EFBIG, which SQLite reports as a
     * full disk, not kill the gateway mid-commit. */
    signal(SIGXFSZ, SIG_IGN);
    /* The database holds personal data and hashes, the log names people: nobody else reads
     * what yktd creates (the admin socket gets its own mode). */
    umask(077);
    return run(&cfg);
}
