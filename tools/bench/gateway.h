/*
 * A private yktd for one benchmark run: its own temporary directory (configuration,
 * database, admin socket, log, a fresh 0600 master key), a free terminal port, and nothing
 * shared with a gateway the user may be running. The benchmark knows the master key, so
 * its software cards derive the same keys the gateway does.
 */
#ifndef YKT_BENCH_GATEWAY_H
#define YKT_BENCH_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"
#include "report.h"

#define YKT_BENCH_PATH_MAX 1024
/* The campus code written into the private configuration; cards diversify with it. */
#define YKT_BENCH_CAMPUS "BENCH"

typedef struct ykt_benchgw {
    char yktd[YKT_BENCH_PATH_MAX]; /* the binary */
    char dir[YKT_BENCH_PATH_MAX];  /* the temporary (or --keep) directory */
    char socket[YKT_BENCH_PATH_MAX + 16], log[YKT_BENCH_PATH_MAX + 16];
    char db[YKT_BENCH_PATH_MAX + 16];   /* the database, for checks after yktd stopped */
    char conf[YKT_BENCH_PATH_MAX + 16]; /* the configuration file; a restart uses it again */
    bool keep;                          /* --keep: leave dir as it is at the end */
    bool created;                       /* we made dir, so we may remove it */
    uint8_t master[16];
    pid_t pid;
    int exit_status; /* yktd's, once halted: what a later ykt_benchgw_stop returns again */
    int port;
    char build_type[64];                 /* CMAKE_BUILD_TYPE of yktd's build tree, or "unknown" */
    char sanitizers[32];                 /* "none", "asan", "asan+ubsan", ... or "unknown" */
    char fs[16];                         /* file system under dir: fsync costs depend on it */
    char config[2 * YKT_BENCH_PATH_MAX]; /* what differs from yktd's defaults, for the report,
                                          * except fee_script (added by ykt_benchgw_report) */
    char note[512];                      /* the caller's part of config */
    char rules[YKT_BENCH_PATH_MAX];      /* [rules] dir, absolute */
    char fee_script[64];                 /* [rules] fee_script in effect ("" = built-in formula) */
    bool fee_script_set;                 /* written into the configuration (else the default) */
} ykt_benchgw;

/* How to start one: every field may be NULL (zero-initialise and set what you need). */
typedef struct ykt_benchgw_opts {
    const char *yktd;       /* --yktd; NULL: the yktd of this build tree */
    const char *keep_dir;   /* --keep; NULL: a new temporary directory */
    const char *rules_dir;  /* --rules; NULL: the source tree's scripts/ (built in) */
    const char *fee_script; /* [rules] fee_script; NULL: not written (yktd's default, "fees"),
                             * "": the built-in formula */
    const char *ini;        /* whole sections appended to the configuration */
    const char *note;       /* added to the report's yktd.config */
    const char *terminal_idle_timeout; /* [terminal] idle_timeout; NULL: "1h" */
} ykt_benchgw_opts;

/*
 * Finds yktd (given, or ../../core/yktd next to this binary), prepares the directory
 * (keep_dir, created if missing and refused if it already holds a database; otherwise a
 * new one under $TMPDIR or /tmp), writes the key and configuration, starts yktd and waits
 * for its "ready:" log line. Returns 0, or -1 with the reason (and yktd's last log lines)
 * on stderr; on failure everything is cleaned up.
 */
int ykt_benchgw_start(ykt_benchgw *gw, const char *yktd, const char *keep_dir,
                      const char *rules_dir);

/*
 * The same, with more configuration (ykt_benchgw_opts above): the fee script, ini
 * (whole sections, e.g. "[wallet]\nmax_topup = ...\n") appended to the private
 * configuration, and note (e.g. "[wallet] max_topup raised") added to the report's
 * yktd.config.
 */
int ykt_benchgw_start_opts(ykt_benchgw *gw, const ykt_benchgw_opts *opts);

/*
 * The rules directory yktd is given ([rules] dir): given (--rules), or the source tree's
 * scripts/ baked in at build time. Resolves it to an absolute path in out (yktd runs in
 * its own directory) and checks that it is a readable directory; returns 0, or -1 after
 * saying why on stderr.
 */
int ykt_benchgw_rules_dir(const char *given, char *out, size_t len);

/*
 * Stops yktd with SIGTERM (it commits in-flight work and closes the database) and removes
 * the directory unless kept. Returns yktd's exit status, or -1 if it had to be killed.
 */
int ykt_benchgw_stop(ykt_benchgw *gw);

/*
 * Stops yktd like ykt_benchgw_stop but leaves the directory, so that the database can be
 * checked after a clean shutdown; ykt_benchgw_stop then only removes the directory.
 */
int ykt_benchgw_halt(ykt_benchgw *gw);

/*
 * Kills yktd (its process group) with SIGKILL, as a crash would, and reaps it; the
 * directory and database stay for ykt_benchgw_restart. Returns 0 when SIGKILL is what
 * ended it, -1 if it had already exited by itself (gw->exit_status says how) or was not
 * running.
 */
int ykt_benchgw_kill(ykt_benchgw *gw);

/*
 * Starts yktd again after ykt_benchgw_kill: the same binary, configuration, directory and
 * database (so the same master key, terminals and cards), and waits for a "ready:" line it
 * logs (lines of earlier processes do not count). The terminal port is chosen afresh
 * (listen = 127.0.0.1:0): gw->port is the new one. Returns 0, or -1 with the reason and
 * yktd's last log lines on stderr (yktd then is not running; the directory stays).
 */
int ykt_benchgw_restart(ykt_benchgw *gw);

/* Connects c to the admin socket; as the user yktd runs as, we are its superuser. */
int ykt_benchgw_admin(const ykt_benchgw *gw, ykt_client *c);

/* CPU time yktd has used so far, in seconds (user + system), or -1 if unknown. */
double ykt_benchgw_cpu_seconds(const ykt_benchgw *gw);

/* Adds the "yktd" section: binary, build type, sanitizers, version, directory, fs, rules. */
void ykt_benchgw_report(const ykt_benchgw *gw, ykt_report *r, const char *version);

/* The file system under dir ("ext4", "tmpfs", ...; "unknown"): fsync costs depend on it. */
const char *ykt_benchgw_fs_name(const char *dir);

/* Prints the last lines of yktd's log to stderr (after a failure). */
void ykt_benchgw_log_tail(const ykt_benchgw *gw);

#endif
