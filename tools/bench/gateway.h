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
    bool keep;    /* --keep: leave dir as it is at the end */
    bool created; /* we made dir, so we may remove it */
    uint8_t master[16];
    pid_t pid;
    int port;
    char build_type[64]; /* CMAKE_BUILD_TYPE of yktd's build tree, or "unknown" */
    char sanitizers[32]; /* "none", "asan", "asan+ubsan", ... or "unknown" */
    char fs[16];         /* file system under dir: fsync costs depend on it */
} ykt_benchgw;

/*
 * Finds yktd (given, or ../../core/yktd next to this binary), prepares the directory
 * (keep_dir, created if missing and refused if it already holds a database; otherwise a
 * new one under $TMPDIR or /tmp), writes the key and configuration, starts yktd and waits
 * for its "ready:" log line. Returns 0, or -1 with the reason (and yktd's last log lines)
 * on stderr; on failure everything is cleaned up.
 */
int ykt_benchgw_start(ykt_benchgw *gw, const char *yktd, const char *keep_dir);

/*
 * Stops yktd with SIGTERM (it commits in-flight work and closes the database) and removes
 * the directory unless kept. Returns yktd's exit status, or -1 if it had to be killed.
 */
int ykt_benchgw_stop(ykt_benchgw *gw);

/* Connects c to the admin socket; as the user yktd runs as, we are its superuser. */
int ykt_benchgw_admin(const ykt_benchgw *gw, ykt_client *c);

/* CPU time yktd has used so far, in seconds (user + system), or -1 if unknown. */
double ykt_benchgw_cpu_seconds(const ykt_benchgw *gw);

/* Adds the "yktd" section: binary, build type, sanitizers, version, directory, fs. */
void ykt_benchgw_report(const ykt_benchgw *gw, ykt_report *r, const char *version);

/* Prints the last lines of yktd's log to stderr (after a failure). */
void ykt_benchgw_log_tail(const ykt_benchgw *gw);

#endif
