/*
 * ykt-bench: load generator and benchmark report.
 *
 *   ykt-bench [--json] import [--rows N] [--seed N] [--yktd PATH] [--keep DIR]
 *   ykt-bench [--json] swipe [--connections N] [--cards N] [--seconds N] [--rate R]
 *                            [--threads N] ...
 *   ykt-bench [--json] pay [--connections N] [--cards N] [--seconds N] [--rate R]
 *                          [--amount FEN] [--pipeline K] [--threads N] [--fee lua|builtin]
 *                          [--compare-fee [--rounds N]] [--pgbench]
 *                          [--crash N [--crash-seed S]] ...
 *   ykt-bench [--json] door [--connections N] [--cards N] [--seconds N] [--rate R]
 *                           [--threads N] ...
 *   ykt-bench [--json] conns [--connections N] [--auth N] [--hold S] [--idle-timeout MS] ...
 *
 * See usage() and docs/performance.md. Performance is measured here, never by timed
 * assertions in tests; tests/e2e/test_bench.py only checks that the tool still works.
 */
#include "bench.h"
#include "buf.h"
#include "common.h"
#include "util.h"

#include <errno.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef YKT_BENCH_BUILD_TYPE
#define YKT_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef YKT_BENCH_SCRIPTS_DIR
#define YKT_BENCH_SCRIPTS_DIR "scripts"
#endif

volatile sig_atomic_t ykt_bench_interrupted;

static const struct subcommand {
    const char *name;
    int (*run)(ykt_bench_ctx *ctx, int argc, char **argv);
} subcommands[] = {
    {"import", ykt_bench_import}, {"swipe", ykt_bench_swipe}, {"pay", ykt_bench_pay},
    {"door", ykt_bench_door},     {"conns", ykt_bench_conns},
};

static void usage(FILE *out)
{
    fputs("usage: ykt-bench [--json] SUBCOMMAND [OPTIONS]\n"
          "\n"
          "Each run starts a private yktd on a free port in a temporary directory, provisions\n"
          "it through the admin socket, measures, stops it and prints a report.\n"
          "\n"
          "  import [--rows N] [--seed N]\n"
          "        generate a student CSV of N rows (default 50000) in UTF-8 and GBK and time\n"
          "        `person import`: first import, re-import (all unchanged), GBK (unchanged)\n"
          "  swipe [--connections N] [--cards N] [--seconds N] [--rate R] [--threads N]\n"
          "        N POS terminals (default 8), one connection each, send CARD.INFO swipes\n"
          "        of N software cards (default 1000) for N seconds (default 10), one request\n"
          "        in flight per connection; --rate R paces R requests/s in total (open loop,\n"
          "        latency measured from the scheduled send time); --threads N driver\n"
          "        threads (default 1, at most the connections) share the connections, each\n"
          "        multiplexing its own with ppoll\n"
          "  pay [--connections N] [--cards N] [--seconds N] [--rate R] [--amount FEN]\n"
          "      [--pipeline K] [--threads N] [--fee lua|builtin]\n"
          "      [--compare-fee [--rounds N]] [--pgbench] [--crash N [--crash-seed S]]\n"
          "        N POS terminals of one merchant (2.5 % discount, 1.5 % fee on regular\n"
          "        cards) send PAY of FEN fen (default 100) with N software cards, as swipe\n"
          "        (and its --threads), with K requests in flight per connection (default\n"
          "        1); then yktd is stopped and its database checked: one payment per\n"
          "        success reply, each charged what the built-in formula says, wallets as\n"
          "        replied, ledger audit clean. --fee: the fee from the Lua rule\n"
          "        scripts/fees.lua (lua, the default, as a stock yktd) or from the built-in\n"
          "        C formula ([rules] fee_script empty). --compare-fee runs the same load\n"
          "        with both, each on a fresh yktd, in the order builtin, lua, then lua,\n"
          "        builtin (N rounds, default 2), and reports both and the ratio\n"
          "        lua/builtin. --pgbench then runs the same debit with pgbench on a private\n"
          "        PostgreSQL, for the ratio. --crash N kills yktd with SIGKILL N times at\n"
          "        random moments of the run (seeded by S) and restarts it on the same\n"
          "        database; connections (one thread each) resend unanswered requests byte\n"
          "        for byte; the same checks follow, plus every success reply's payment in\n"
          "        the database once (the crash test)\n"
          "  door [--connections N] [--cards N] [--seconds N] [--rate R] [--threads N]\n"
          "        as swipe, with the access plugin loaded: N gate terminals registered as\n"
          "        doors (default 8) send ACCESS.OPEN; every holder is in an access group\n"
          "        open all week, so each swipe is decided, logged and opens\n"
          "  conns [--connections N] [--auth N] [--hold S] [--sample N] [--idle-timeout MS]\n"
          "        [--auth-timeout MS] [--idle N] [--slow N] [--partial-bytes N]\n"
          "        [--yktd-nofile N]\n"
          "        holds N connections (default 10000; --auth of them authenticated, default\n"
          "        all) for S seconds (default 5): yktd's RSS before, held and after, PING\n"
          "        latency from N sampled connections (default 100), -BUSY for one more; then\n"
          "        a second yktd with idle_timeout MS (default 2000) and auth_timeout MS\n"
          "        (default 1000) must close idle (N, default 100), unauthenticated, dribbling,\n"
          "        partial-frame (N bytes declared, default 1000000) and non-reading clients\n"
          "        (N of each, default 5) and keep active ones\n"
          "\n"
          "Common options (anywhere after the subcommand, too):\n"
          "  --yktd PATH     the yktd to run (default: ../../core/yktd next to ykt-bench)\n"
          "  --rules DIR     the rules directory of the private yktd ([rules] dir; default:\n"
          "                  the source tree's scripts/, " YKT_BENCH_SCRIPTS_DIR ")\n"
          "  --keep DIR      run yktd in DIR (created; must hold no database) and keep it\n"
          "  --set SECTION.KEY=VALUE\n"
          "                  configure the private yktd so (repeatable, up to 16): to\n"
          "                  measure a setting; the report's yktd.config names each\n"
          "  --json          print the report as one JSON object\n"
          "  --help          this text\n"
          "\n"
          "Exit status: 0 all went as expected, 1 errors or unexpected results (the report\n"
          "says which), 2 usage or set-up problem.\n",
          out);
}

static char config_sets[YKT_BENCH_SETS_MAX * 160];
static char config_sets_note[YKT_BENCH_SETS_MAX * 160];
static int nconfig_sets;

const char *ykt_bench_config_sets(void)
{
    return config_sets;
}

const char *ykt_bench_config_sets_note(void)
{
    return config_sets_note;
}

/* SECTION.KEY=VALUE: the key after the last '.' before '=' (sections such as
 * plugin.access have dots), names of letters, digits, '_', '-' and (the section) '.', a
 * value without ';', '#' or a line break (they would end or comment it in the INI file). */
static int add_config_set(const char *arg)
{
    const char *eq = strchr(arg, '='), *dot = NULL;
    if (nconfig_sets == YKT_BENCH_SETS_MAX) {
        fprintf(stderr, "ykt-bench: at most %d --set options\n", YKT_BENCH_SETS_MAX);
        return -1;
    }
    for (const char *p = arg; eq != NULL && p < eq; p++)
        if (*p == '.')
            dot = p;
    if (dot == NULL || dot == arg || eq == dot + 1 || strlen(arg) > 120) {
        fprintf(stderr, "ykt-bench: --set %s: expected SECTION.KEY=VALUE\n", arg);
        return -1;
    }
    for (const char *p = arg; p < eq; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || (*p == '.' && p <= dot))) {
            fprintf(stderr, "ykt-bench: --set %s: a section or key name holds '%c'\n", arg, *p);
            return -1;
        }
    }
    size_t n = strlen(config_sets), m = strlen(config_sets_note);
    snprintf(config_sets + n, sizeof config_sets - n, "[%.*s]\n%.*s = %s\n", (int)(dot - arg), arg,
             (int)(eq - dot - 1), dot + 1, eq + 1);
    snprintf(config_sets_note + m, sizeof config_sets_note - m, "%s%.*s = %s", m ? "; " : "",
             (int)(eq - arg), arg, eq + 1);
    nconfig_sets++;
    return 0;
}

int ykt_bench_parse(ykt_bench_ctx *ctx, int argc, char **argv, const ykt_bench_opt *opts, int nopts)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            ctx->json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ykt-bench %s: %s %s\n", argv[0], a,
                    a[0] == '-' ? "needs a value (or is unknown)" : "is not an option");
            return -1;
        }
        const char *v = argv[i + 1];
        if (strcmp(a, "--yktd") == 0) {
            ctx->yktd = v;
            i++;
            continue;
        }
        if (strcmp(a, "--keep") == 0) {
            ctx->keep = v;
            i++;
            continue;
        }
        if (strcmp(a, "--rules") == 0) {
            ctx->rules = v;
            i++;
            continue;
        }
        if (strcmp(a, "--set") == 0) {
            if (add_config_set(v) != 0)
                return -1;
            i++;
            continue;
        }
        int k = 0;
        while (k < nopts && strcmp(a, opts[k].name) != 0)
            k++;
        if (k == nopts) {
            fprintf(stderr, "ykt-bench %s: unknown option %s\n", argv[0], a);
            return -1;
        }
        if (ykt_parse_int64(v, opts[k].min, opts[k].max, opts[k].value) != YKT_OK) {
            fprintf(stderr, "ykt-bench %s: %s must be a whole number from %lld to %lld\n", argv[0],
                    a, (long long)opts[k].min, (long long)opts[k].max);
            return -1;
        }
        i++;
    }
    return 0;
}

uint64_t ykt_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

double ykt_bench_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The command line as a shell would accept it again: words with odd characters quoted. */
static void command_line(const ykt_bench_ctx *ctx, ykt_buf *out)
{
    for (int i = 0; i < ctx->argc; i++) {
        const char *a = ctx->argv[i];
        if (i > 0)
            ykt_buf_appends(out, " ");
        if (a[0] != '\0' && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_./=:,+@%") == strlen(a)) {
            ykt_buf_appends(out, a);
            continue;
        }
        ykt_buf_appends(out, "'");
        for (; *a; a++)
            ykt_buf_appends(out, *a == '\'' ? "'\\''" : (char[]){*a, '\0'});
        ykt_buf_appends(out, "'");
    }
}

/* The first line of /proc/FILE starting with key, after its colon; or "unknown". */
static void proc_field(const char *file, const char *key, char *out, size_t len)
{
    ykt_strlcpy(out, "unknown", len);
    FILE *f = fopen(file, "re");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, strlen(key)) != 0)
            continue;
        char *v = strchr(line, ':');
        if (v == NULL)
            continue;
        v += 1 + strspn(v + 1, " \t");
        v[strcspn(v, "\n")] = '\0';
        ykt_strlcpy(out, v, len);
        break;
    }
    fclose(f);
}

void ykt_bench_note_short_run(ykt_report *r, int64_t rate, int64_t seconds)
{
    if (rate <= 0 || seconds >= YKT_BENCH_TAIL_SECONDS)
        return;
    char note[160];
    snprintf(note, sizeof note,
             "shorter than %d s: p99 and p99.9 understate the tail of a longer run "
             "(docs/performance.md, Open targets)",
             YKT_BENCH_TAIL_SECONDS);
    ykt_report_str(r, "tail_note", note);
}

void ykt_bench_report_head(ykt_report *r, const ykt_bench_ctx *ctx, const char *name)
{
    ykt_buf cmd;
    ykt_buf_init(&cmd);
    command_line(ctx, &cmd);
    ykt_report_str(r, "bench", name);
    ykt_report_str(r, "command", ykt_buf_cstr(&cmd));
    ykt_buf_free(&cmd);

    char date[64], cpu[256], mem[64], load[64] = "unknown";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    proc_field("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    proc_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
    FILE *f = fopen("/proc/loadavg", "re");
    if (f != NULL) {
        if (fgets(load, sizeof load, f) != NULL) {
            /* "0.52 0.58 0.59 1/234 5678": the three averages are what matter */
            char *p = load;
            for (int spaces = 0; *p && spaces < 3; p++)
                spaces += *p == ' ';
            if (p > load)
                p[-1] = '\0';
        }
        fclose(f);
    }
    struct utsname un;
    char kernel[256] = "unknown";
    if (uname(&un) == 0)
        snprintf(kernel, sizeof kernel, "%s %s %s", un.sysname, un.release, un.machine);

    ykt_report_begin(r, "machine");
    ykt_report_str(r, "date", date);
    ykt_report_int(r, "nproc", sysconf(_SC_NPROCESSORS_ONLN));
    ykt_report_str(r, "cpu", cpu);
    ykt_report_str(r, "memory", mem);
    ykt_report_str(r, "kernel", kernel);
    ykt_report_str(r, "loadavg_at_start", load);
    ykt_report_str(r, "bench_build_type", YKT_BENCH_BUILD_TYPE);
    ykt_report_str(r, "note", "yktd and the load generator share these CPUs");
    ykt_report_end(r);
}

static void on_signal(int sig)
{
    (void)sig;
    ykt_bench_interrupted = 1;
}

int main(int argc, char **argv)
{
    ykt_bench_ctx ctx = {.argc = argc, .argv = argv};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ykt-bench: unknown option %s before the subcommand\n", argv[i]);
            usage(stderr);
            return YKT_BENCH_EXIT_USAGE;
        }
    }
    if (i == argc) {
        usage(stderr);
        return YKT_BENCH_EXIT_USAGE;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (size_t k = 0; k < YKT_ARRAY_LEN(subcommands); k++)
        if (strcmp(argv[i], subcommands[k].name) == 0)
            return subcommands[k].run(&ctx, argc - i, argv + i);
    fprintf(stderr, "ykt-bench: unknown subcommand %s\n", argv[i]);
    usage(stderr);
    return YKT_BENCH_EXIT_USAGE;
}
