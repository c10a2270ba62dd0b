/*
 * ykt-bench: the load generator and benchmark reporter (docs/performance.md).
 *
 * Each subcommand starts its own private yktd (gateway.h), provisions it through the
 * admin channel (fleet.h), drives it, and prints one report (report.h) with the machine
 * facts and the exact command line, because figures from a shared, noisy machine mean
 * little without them. This header holds what the subcommands share with main.
 */
#ifndef YKT_BENCH_H
#define YKT_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "report.h"

#define YKT_BENCH_EXIT_FAIL  1 /* the run finished but something was wrong (errors, counts) */
#define YKT_BENCH_EXIT_USAGE 2 /* bad command line, or the gateway could not be set up */

typedef struct ykt_bench_ctx {
    int argc; /* the whole command line, for the report */
    char **argv;
    const char *yktd;  /* --yktd PATH, or NULL for the build tree's own */
    const char *keep;  /* --keep DIR, or NULL for a temporary directory */
    const char *rules; /* --rules DIR, or NULL for the source tree's scripts/ */
    bool json;         /* --json */
} ykt_bench_ctx;

/* --set SECTION.KEY=VALUE (repeatable): configuration of the private yktd that differs
 * from a stock gateway's, written after everything else and named in the report. */
#define YKT_BENCH_SETS_MAX 16

/* The --set options as INI text ("[section]\nkey = value\n" each), "" when none. */
const char *ykt_bench_config_sets(void);
/* The same for the report: "section.key = value; ...", "" when none. */
const char *ykt_bench_config_sets_note(void);

/* A numeric option of a subcommand: --name N with min <= N <= max. */
typedef struct ykt_bench_opt {
    const char *name;
    int64_t min, max;
    int64_t *value;
} ykt_bench_opt;

/* Set by SIGINT/SIGTERM: load loops stop early and the report says so. */
extern volatile sig_atomic_t ykt_bench_interrupted;

/*
 * Parses a subcommand's options (argv[0] is the subcommand): the common --yktd, --keep,
 * --rules and --json into ctx, and opts. Returns 0, or -1 after printing the problem.
 */
int ykt_bench_parse(ykt_bench_ctx *ctx, int argc, char **argv, const ykt_bench_opt *opts,
                    int nopts);

/* CLOCK_MONOTONIC in nanoseconds: for every interval the benchmarks measure. */
uint64_t ykt_bench_now_ns(void);
/* CPU time of this process (all threads), in seconds. */
double ykt_bench_cpu_seconds(void);

/* Paced runs (--rate) shorter than this understate the latency tail: the database has not
 * grown as a day of use grows it, and checkpoints come later and copy less
 * (docs/performance.md, "Open targets"). */
#define YKT_BENCH_TAIL_SECONDS 15

/* In a "results" section: for a paced run shorter than YKT_BENCH_TAIL_SECONDS, a
 * "tail_note" saying that its p99 and p99.9 understate the tail. */
void ykt_bench_note_short_run(ykt_report *r, int64_t rate, int64_t seconds);

/* Starts a report: "bench", "command" (the exact command line) and the "machine" section. */
void ykt_bench_report_head(ykt_report *r, const ykt_bench_ctx *ctx, const char *name);

int ykt_bench_import(ykt_bench_ctx *ctx, int argc, char **argv);
int ykt_bench_swipe(ykt_bench_ctx *ctx, int argc, char **argv);
int ykt_bench_pay(ykt_bench_ctx *ctx, int argc, char **argv);
int ykt_bench_door(ykt_bench_ctx *ctx, int argc, char **argv);
int ykt_bench_conns(ykt_bench_ctx *ctx, int argc, char **argv);

#endif
