#define _GNU_SOURCE /* wait4 */

#include "pgbench.h"
#include "bench.h"
#include "gateway.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT          "5432" /* names the socket file in our own directory: nothing to collide with */
#define DBUSER        "bench"
#define MERCHANT      "bench-canteen"
#define SETUP_TIMEOUT 300 /* seconds for initdb, start, load, stop on a busy machine */

static const char *const tools[] = {"initdb", "pg_ctl", "postgres", "pgbench", "psql"};

typedef struct pg {
    ykt_pgbench_result *res;
    const ykt_pgbench_spec *spec;
    bool drop; /* root: the server side runs as server_uid/gid */
    uid_t uid;
    gid_t gid;
    char data[1100], log[1100];
    bool started;
} pg;

static bool has_tools(const char *dir)
{
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", dir, tools[i]);
        if (access(path, X_OK) != 0)
            return false;
    }
    return true;
}

/* Debian's /usr/lib/postgresql/VERSION/bin (the newest), else the directory of pg_ctl on
 * PATH (following links) if it holds the other tools too. */
static bool find_bindir(char *out, size_t len)
{
    glob_t g;
    int best = -1;
    if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int v = atoi(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"));
            if (v > best && has_tools(g.gl_pathv[i])) {
                best = v;
                ykt_strlcpy(out, g.gl_pathv[i], len);
            }
        }
        globfree(&g);
    }
    if (best >= 0)
        return true;
    const char *path = getenv("PATH");
    char *copy = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin"), *save = NULL;
    bool found = false;
    for (char *d = strtok_r(copy, ":", &save); d != NULL && !found;
         d = strtok_r(NULL, ":", &save)) {
        char cand[1024], real[PATH_MAX];
        snprintf(cand, sizeof cand, "%s/pg_ctl", d);
        if (realpath(cand, real) == NULL)
            continue;
        char *slash = strrchr(real, '/');
        *slash = '\0';
        if (has_tools(real)) {
            ykt_strlcpy(out, real, len);
            found = true;
        }
    }
    free(copy);
    return found;
}

/*
 * Runs argv (argv[0] a tool name in bindir) with stdout and stderr appended to out, as the
 * server's user when as_server; returns its exit status, or -1 (killed after timeout_s or
 * not run). ru receives its resource usage when not NULL.
 */
static int run(pg *p, bool as_server, const char *const *argv, const char *out, int timeout_s,
               struct rusage *ru)
{
    char exe[512];
    snprintf(exe, sizeof exe, "%s/%s", p->res->bindir, argv[0]);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || null < 0)
            _exit(126);
        if (as_server && p->drop &&
            (setgroups(0, NULL) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0))
            _exit(126);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(exe, (char *const *)argv);
        dprintf(2, "ykt-bench: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    struct rusage usage;
    int status = 0;
    pid_t w;
    uint64_t deadline = ykt_bench_now_ns() + (uint64_t)timeout_s * 1000000000ULL;
    while ((w = wait4(pid, &status, WNOHANG, &usage)) == 0 && ykt_bench_now_ns() < deadline) {
        struct timespec ts = {.tv_nsec = 10000000};
        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        fprintf(stderr, "ykt-bench: %s did not finish within %d s; killing it\n", argv[0],
                timeout_s);
        kill(pid, SIGKILL);
        wait4(pid, &status, 0, &usage);
        return -1;
    }
    if (w < 0)
        return -1;
    if (ru != NULL)
        *ru = usage;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last non-empty line of a file, for "failed: ..." messages. */
static void last_line(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0')
            ykt_strlcpy(out, line, len);
    }
    fclose(f);
}

static int fail(pg *p, const char *what, const char *log)
{
    char line[300] = "";
    if (log != NULL)
        last_line(log, line, sizeof line);
    if (log == NULL)
        snprintf(p->res->status, sizeof p->res->status, "failed: %s", what);
    else
        snprintf(p->res->status, sizeof p->res->status, "failed: %s: %s (see %s)", what,
                 line[0] ? line : "no output", log);
    fprintf(stderr, "ykt-bench: pgbench: %s\n", p->res->status);
    return -1;
}

static int write_text(const char *path, const char *text, bool append)
{
    FILE *f = fopen(path, append ? "ae" : "we");
    if (f == NULL)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

/* CPU seconds of the postmaster and its children (backends, writers), living or reaped. */
static double server_cpu(pid_t postmaster)
{
    double total = 0;
    long tick = sysconf(_SC_CLK_TCK);
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], text[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        char *q = strrchr(text, ')');
        int ppid;
        unsigned long long ut, st;
        long long cut, cst;
        if (q == NULL ||
            sscanf(q + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ppid,
                   &ut, &st, &cut, &cst) != 5)
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid == postmaster)
            total += (double)(ut + st) + (double)(cut + cst);
        else if (ppid == postmaster)
            total += (double)(ut + st);
    }
    closedir(d);
    return total / (double)tick;
}

static pid_t postmaster_pid(pg *p)
{
    char path[1200], line[64] = "";
    snprintf(path, sizeof path, "%s/postmaster.pid", p->data);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    fclose(f);
    return (pid_t)atoi(line);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int setup(pg *p)
{
    ykt_pgbench_result *res = p->res;
    const ykt_pgbench_spec *spec = p->spec;
    if (!find_bindir(res->bindir, sizeof res->bindir)) {
        snprintf(res->status, sizeof res->status, "not installed (apt-get install postgresql)");
        fprintf(stderr, "ykt-bench: pgbench: %s\n", res->status);
        return 1;
    }
    ykt_strlcpy(res->server_user, "(this user)", sizeof res->server_user);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (pw == NULL) {
            snprintf(res->status, sizeof res->status,
                     "failed: PostgreSQL will not run as root, and there is no postgres user");
            return -1;
        }
        p->drop = true;
        p->uid = pw->pw_uid;
        p->gid = pw->pw_gid;
        ykt_strlcpy(res->server_user, "postgres", sizeof res->server_user);
    }
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(res->dir, sizeof res->dir, "%s/ykt-pgbench-XXXXXX", tmp);
    /* The socket path must fit sun_path, and the directory goes into a quoted setting. */
    if (strlen(res->dir) + 24 > 107 || strchr(res->dir, '\'') != NULL) {
        snprintf(res->status, sizeof res->status,
                 "failed: %s is not usable for a socket directory; set TMPDIR", tmp);
        res->dir[0] = '\0';
        return -1;
    }
    if (mkdtemp(res->dir) == NULL) {
        snprintf(res->status, sizeof res->status, "failed: cannot create a directory in %s: %s",
                 tmp, strerror(errno));
        res->dir[0] = '\0';
        return -1;
    }
    if (p->drop && chown(res->dir, p->uid, p->gid) != 0)
        return fail(p, "chown of the directory", NULL);
    ykt_strlcpy(res->fs, ykt_benchgw_fs_name(res->dir), sizeof res->fs);
    snprintf(p->data, sizeof p->data, "%s/data", res->dir);
    snprintf(p->log, sizeof p->log, "%s/setup.log", res->dir);
    if (p->drop && (write_text(p->log, "", false) != 0 || chown(p->log, p->uid, p->gid) != 0))
        return fail(p, "cannot write the log", NULL);

    char version[1100];
    snprintf(version, sizeof version, "%s/version.txt", res->dir);
    const char *ver[] = {"postgres", "--version", NULL};
    if (run(p, false, ver, version, 30, NULL) == 0) {
        last_line(version, res->version, sizeof res->version);
        const char *v = strstr(res->version, "(PostgreSQL) ");
        if (v != NULL)
            memmove(res->version, v + 13, strlen(v + 13) + 1);
    }

    fprintf(stderr, "ykt-bench: pgbench: initdb in %s\n", res->dir);
    const char *initdb[] = {"initdb",
                            "-D",
                            p->data,
                            "-U",
                            DBUSER,
                            "-A",
                            "trust",
                            "-E",
                            "UTF8",
                            "--locale=C",
                            "--no-instructions",
                            NULL};
    if (run(p, true, initdb, p->log, SETUP_TIMEOUT, NULL) != 0)
        return fail(p, "initdb", p->log);

    /* Durable as shipped: fsync and synchronous_commit on (the defaults, stated), full page
     * writes on; a Unix socket in our directory and no TCP at all. */
    char conf[1200], text[2048];
    snprintf(conf, sizeof conf, "%s/postgresql.conf", p->data);
    snprintf(text, sizeof text,
             "\n# ykt-bench pay --pgbench\n"
             "listen_addresses = ''\n"
             "unix_socket_directories = '%s'\n"
             "port = " PORT "\n"
             "max_connections = %d\n"
             "fsync = on\n"
             "synchronous_commit = on\n"
             "full_page_writes = on\n",
             res->dir, spec->connections + 10);
    if (write_text(conf, text, true) != 0)
        return fail(p, "cannot write postgresql.conf", NULL);

    char srvlog[1200];
    snprintf(srvlog, sizeof srvlog, "%s/postgres.log", res->dir);
    if (p->drop && (write_text(srvlog, "", false) != 0 || chown(srvlog, p->uid, p->gid) != 0))
        return fail(p, "cannot write the server log", NULL);
    const char *start[] = {"pg_ctl", "-D", p->data, "-l", srvlog, "-w", "-t", "120", "start", NULL};
    if (run(p, true, start, p->log, SETUP_TIMEOUT, NULL) != 0)
        return fail(p, "pg_ctl start", srvlog);
    p->started = true;

    char schema[1200], sql[4096];
    snprintf(schema, sizeof schema, "%s/schema.sql", res->dir);
    long long ncards = spec->cards, topup = (long long)spec->topup;
    snprintf(sql, sizeof sql,
             /* the gateway's accounts and transfers (core/src/store/migrations.c) */
             "CREATE TABLE accounts (\n"
             "  id bigint PRIMARY KEY,\n"
             "  kind text NOT NULL,\n"
             "  owner text NOT NULL DEFAULT '',\n"
             "  balance bigint NOT NULL DEFAULT 0,\n"
             "  created_at bigint NOT NULL,\n"
             "  UNIQUE (kind, owner));\n"
             "CREATE TABLE transfers (\n"
             "  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
             "  at bigint NOT NULL,\n"
             /* no foreign keys, as the gateway's since its schema 13 */
             "  from_account bigint NOT NULL,\n"
             "  to_account bigint NOT NULL,\n"
             "  amount bigint NOT NULL CHECK (amount > 0),\n"
             "  kind text NOT NULL,\n"
             "  card_no text,\n"
             "  terminal text,\n"
             "  operator text,\n"
             "  original bigint,\n"
             "  memo text NOT NULL DEFAULT '',\n"
             "  CHECK (from_account <> to_account));\n"
             "CREATE INDEX transfers_from ON transfers(from_account, at);\n"
             "CREATE INDEX transfers_to ON transfers(to_account, at);\n"
             /* wallets 1..N funded from a cash account, so the balances sum to zero */
             "INSERT INTO accounts SELECT g, 'wallet', g::text, %lld, 0 "
             "FROM generate_series(1, %lld) g;\n"
             "INSERT INTO accounts VALUES (%lld, 'merchant', '" MERCHANT "', 0, 0);\n"
             "INSERT INTO accounts VALUES (%lld, 'cash', 'bench', %lld, 0);\n"
             "VACUUM ANALYZE accounts;\n"
             "CHECKPOINT;\n",
             topup, ncards, ncards + 1, ncards + 2, -topup * ncards);
    if (write_text(schema, sql, false) != 0)
        return fail(p, "cannot write the schema", NULL);
    const char *psql[] = {"psql", "-X", "-q",   "-v", "ON_ERROR_STOP=1", "-h", res->dir, "-p",
                          PORT,   "-U", DBUSER, "-d", "postgres",        "-f", schema,   NULL};
    if (run(p, false, psql, p->log, SETUP_TIMEOUT, NULL) != 0)
        return fail(p, "creating and loading the schema", p->log);
    return 0;
}

/* The debit, as pgbench runs it: :client_id is pgbench's, the rest come from -D. */
static const char script[] =
    "\\set aid 1 + :client_id + :nconn * random(0, (:ncards - 1 - :client_id) / :nconn)\n"
    "BEGIN;\n"
    "SELECT balance FROM accounts WHERE id = :aid FOR UPDATE \\gset\n"
    "\\if :balance >= :amount\n"
    "UPDATE accounts SET balance = balance - :amount WHERE id = :aid;\n"
    "UPDATE accounts SET balance = balance + :amount WHERE id = :merchant;\n"
    "INSERT INTO transfers (at, from_account, to_account, amount, kind, card_no, terminal, memo) "
    "VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, :aid, :merchant, :amount, "
    "'pay', :aid::text, 'PGBENCH-' || :client_id::text, '" MERCHANT "');\n"
    "COMMIT;\n"
    "\\else\n"
    "ROLLBACK;\n"
    "\\endif\n";

static void parse_output(ykt_pgbench_result *res, const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        long long n;
        double d;
        if (sscanf(line, "number of transactions actually processed: %lld", &n) == 1)
            res->transactions = n;
        else if (sscanf(line, "number of failed transactions: %lld", &n) == 1)
            res->failed = n;
        else if (sscanf(line, "latency average = %lf ms", &d) == 1)
            res->latency_avg_ms = d;
        else if (sscanf(line, "tps = %lf", &d) == 1)
            res->tps = d;
    }
    fclose(f);
}

/* pgbench -l writes PREFIX.PID (and .PID.THREAD) files: "client tx latency_us script ...". */
static void read_logs(ykt_pgbench_result *res)
{
    DIR *d = opendir(res->dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "pglog.", 6) != 0)
            continue;
        char path[1400], line[256];
        snprintf(path, sizeof path, "%s/%s", res->dir, e->d_name);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL) {
            long long us;
            if (sscanf(line, "%*d %*d %lld", &us) == 1 && us >= 0)
                ykt_lat_add(&res->lat, (uint64_t)us);
        }
        fclose(f);
    }
    closedir(d);
}

static int measure(pg *p)
{
    ykt_pgbench_result *res = p->res;
    const ykt_pgbench_spec *spec = p->spec;
    char file[1200], out[1200], prefix[1200];
    snprintf(file, sizeof file, "%s/pay.sql", res->dir);
    snprintf(out, sizeof out, "%s/pgbench.out", res->dir);
    snprintf(prefix, sizeof prefix, "--log-prefix=%s/pglog", res->dir);
    if (write_text(file, script, false) != 0)
        return fail(p, "cannot write the script", NULL);
    char c[16], j[16], t[16], ncards[32], nconn[32], amount[48], merchant[48];
    res->threads = spec->connections < 2 ? spec->connections : 2;
    snprintf(c, sizeof c, "%d", spec->connections);
    snprintf(j, sizeof j, "%d", res->threads);
    snprintf(t, sizeof t, "%d", spec->seconds);
    snprintf(ncards, sizeof ncards, "ncards=%d", spec->cards);
    snprintf(nconn, sizeof nconn, "nconn=%d", spec->connections);
    snprintf(amount, sizeof amount, "amount=%lld", (long long)spec->amount);
    snprintf(merchant, sizeof merchant, "merchant=%d", spec->cards + 1);
    /* Connection and protocol; the run; the script and its variables; -R when paced. */
    const char *argv[40] = {"pgbench", "-h", res->dir, "-p", PORT, "-U", DBUSER, "-n"};
    int argc = 8;
    const char *more[] = {"-M", "prepared", "-c", c,        "-j",   j,     "-T",
                          t,    "-f",       file, "-D",     ncards, "-D",  nconn,
                          "-D", amount,     "-D", merchant, "-l",   prefix};
    for (size_t k = 0; k < sizeof more / sizeof more[0]; k++)
        argv[argc++] = more[k];
    char rate[32] = "";
    if (spec->rate > 0) {
        snprintf(rate, sizeof rate, "%lld", (long long)spec->rate);
        argv[argc++] = "-R";
        argv[argc++] = rate;
    }
    argv[argc++] = "postgres";
    argv[argc] = NULL;
    fprintf(stderr, "ykt-bench: pgbench: -c %s -j %s -T %s%s%s\n", c, j, t,
            spec->rate > 0 ? " -R " : "", rate);
    pid_t pm = postmaster_pid(p);
    double cpu0 = pm > 0 ? server_cpu(pm) : -1;
    uint64_t t0 = ykt_bench_now_ns();
    struct rusage ru;
    int rc = run(p, false, argv, out, spec->seconds + SETUP_TIMEOUT, &ru);
    double wall = (double)(ykt_bench_now_ns() - t0) / 1e9;
    /* The backends exit when their clients do; give the postmaster a moment to reap them. */
    struct timespec ts = {.tv_nsec = 200000000};
    nanosleep(&ts, NULL);
    double cpu1 = pm > 0 ? server_cpu(pm) : -1;
    if (rc != 0)
        return fail(p, "pgbench", out);
    parse_output(res, out);
    read_logs(res);
    res->pgbench_cpu_percent = 100 *
                               ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6) /
                               (double)spec->seconds;
    res->postgres_cpu_percent = cpu0 >= 0 && cpu1 >= 0 ? 100 * (cpu1 - cpu0) / wall : -1;

    /* The same kind of check as for ykt: one ledger row per transaction, books balanced. */
    char check[1200], line[256];
    snprintf(check, sizeof check, "%s/check.out", res->dir);
    const char *q[] = {"psql",
                       "-X",
                       "-A",
                       "-t",
                       "-h",
                       res->dir,
                       "-p",
                       PORT,
                       "-U",
                       DBUSER,
                       "-d",
                       "postgres",
                       "-c",
                       "SELECT (SELECT count(*) FROM transfers) || ' ' || (SELECT sum(balance) "
                       "FROM accounts) || ' ' || (SELECT balance FROM accounts WHERE kind = "
                       "'merchant')",
                       NULL};
    if (run(p, false, q, check, SETUP_TIMEOUT, NULL) != 0)
        return fail(p, "checking the ledger", check);
    last_line(check, line, sizeof line);
    long long rows, sum, merchant_balance;
    if (sscanf(line, "%lld %lld %lld", &rows, &sum, &merchant_balance) != 3)
        return fail(p, "checking the ledger", check);
    res->ledger_rows = rows;
    res->balance_sum = sum;
    res->merchant_balance = merchant_balance;
    res->consistent =
        rows == res->transactions && sum == 0 && merchant_balance == rows * (long long)spec->amount;
    res->ran = true;
    if (res->transactions <= 0 || res->failed != 0 || !res->consistent) {
        snprintf(res->status, sizeof res->status,
                 "ran, but %lld transactions, %lld failed, %lld ledger rows, balances sum to %lld",
                 (long long)res->transactions, (long long)res->failed, rows, sum);
        fprintf(stderr, "ykt-bench: pgbench: %s (see %s)\n", res->status, out);
        return -1;
    }
    snprintf(res->status, sizeof res->status, "ran");
    return 0;
}

static void teardown(pg *p)
{
    ykt_pgbench_result *res = p->res;
    if (p->started) {
        const char *stop[] = {"pg_ctl", "-D", p->data, "-m",   "fast",
                              "-w",     "-t", "120",   "stop", NULL};
        if (run(p, true, stop, p->log, SETUP_TIMEOUT, NULL) != 0)
            fprintf(stderr,
                    "ykt-bench: pgbench: pg_ctl stop failed; the server in %s may still "
                    "run\n",
                    res->dir);
        p->started = false;
    }
    /* Kept when something failed, for the logs. */
    if (res->dir[0] != '\0' && strncmp(res->status, "ran", 3) == 0 && res->consistent &&
        nftw(res->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "ykt-bench: could not remove %s: %s\n", res->dir, strerror(errno));
}

int ykt_pgbench_run(const ykt_pgbench_spec *spec, ykt_pgbench_result *res)
{
    memset(res, 0, sizeof *res);
    ykt_lat_init(&res->lat);
    res->connections = spec->connections;
    res->seconds = spec->seconds;
    res->cards = spec->cards;
    res->rate = spec->rate;
    pg p = {.res = res, .spec = spec};
    int rc = setup(&p);
    if (rc == 0)
        rc = measure(&p);
    if (rc != 1)
        teardown(&p);
    return rc;
}

void ykt_pgbench_report(ykt_report *r, ykt_pgbench_result *res, double ykt_per_s,
                        const ykt_lat_summary *ykt_summary, const char *note)
{
    ykt_report_begin(r, "pgbench");
    ykt_report_str(r, "status", res->status);
    if (res->bindir[0] == '\0') {
        ykt_report_end(r);
        return;
    }
    ykt_report_str(r, "postgresql", res->version[0] ? res->version : "unknown");
    ykt_report_str(r, "bindir", res->bindir);
    ykt_report_str(r, "directory", res->dir);
    ykt_report_str(r, "filesystem", res->fs);
    ykt_report_str(r, "server_user", res->server_user);
    ykt_report_str(r, "settings",
                   "defaults, plus fsync = on, synchronous_commit = on, full_page_writes = on "
                   "(all default), Unix socket only");
    ykt_report_str(r, "transaction",
                   "SELECT balance FOR UPDATE, check, UPDATE wallet, UPDATE merchant, INSERT "
                   "transfer, COMMIT");
    ykt_report_int(r, "connections", res->connections);
    ykt_report_int(r, "threads", res->threads);
    ykt_report_int(r, "seconds", res->seconds);
    ykt_report_int(r, "cards", res->cards);
    ykt_report_int(r, "rate", res->rate);
    if (res->ran) {
        ykt_lat_summary s;
        ykt_lat_summarize(&res->lat, &s);
        ykt_report_int(r, "transactions", res->transactions);
        ykt_report_int(r, "failed", res->failed);
        ykt_report_num(r, "tps", res->tps, 0);
        ykt_report_num(r, "latency_avg_ms", res->latency_avg_ms, 3);
        ykt_lat_report(r, "latency_us", &s);
        ykt_report_int(r, "ledger_rows", res->ledger_rows);
        ykt_report_bool(r, "consistent", res->consistent);
        ykt_report_num(r, "pgbench_cpu_percent", res->pgbench_cpu_percent, 0);
        ykt_report_num(r, "postgres_cpu_percent", res->postgres_cpu_percent, 0);
        ykt_report_num(r, "ratio_ykt_over_pgbench", res->tps > 0 ? ykt_per_s / res->tps : 0, 2);
        ykt_report_num(r, "p99_ratio_ykt_over_pg",
                       s.p99 > 0 ? (double)ykt_summary->p99 / (double)s.p99 : 0, 2);
        if (note != NULL)
            ykt_report_str(r, "ratio_note", note);
    }
    ykt_report_end(r);
}

void ykt_pgbench_result_free(ykt_pgbench_result *res)
{
    ykt_lat_free(&res->lat);
}
