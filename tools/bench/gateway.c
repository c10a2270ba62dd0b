#include "gateway.h"
#include "bench.h"
#include "common.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 60000 /* a sanitizer build on a busy machine starts slowly */
#define STOP_TIMEOUT_MS  60000

/* The source tree's scripts/ (tools/bench/CMakeLists.txt): the rules a stock yktd runs. */
#ifndef YKT_BENCH_SCRIPTS_DIR
#define YKT_BENCH_SCRIPTS_DIR "scripts"
#endif
#define DEFAULT_FEE_SCRIPT "fees" /* yktd's default [rules] fee_script */

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* --yktd, or the yktd of the build tree this binary belongs to (tools/bench/ -> core/). */
static int find_yktd(const char *given, char *out, size_t len)
{
    char self[PATH_MAX], guess[PATH_MAX + 32];
    if (given == NULL) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "ykt-bench: cannot find my own binary; give --yktd PATH\n");
            return -1;
        }
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(guess, sizeof guess, "%s/../../core/yktd", self);
        given = guess;
    }
    char real[PATH_MAX];
    if (realpath(given, real) == NULL || access(real, X_OK) != 0) {
        fprintf(stderr, "ykt-bench: yktd not found or not executable at %s; give --yktd PATH\n",
                given);
        return -1;
    }
    if (ykt_strlcpy(out, real, len) >= len) {
        fprintf(stderr, "ykt-bench: %s: path too long\n", real);
        return -1;
    }
    return 0;
}

int ykt_benchgw_rules_dir(const char *given, char *out, size_t len)
{
    const char *dir = given != NULL ? given : YKT_BENCH_SCRIPTS_DIR;
    char real[PATH_MAX];
    struct stat st;
    DIR *d = NULL;
    int e = 0;
    if (realpath(dir, real) == NULL || stat(real, &st) != 0)
        e = errno;
    else if (!S_ISDIR(st.st_mode))
        e = ENOTDIR;
    else if ((d = opendir(real)) == NULL)
        e = errno;
    if (e != 0) {
        if (given != NULL)
            fprintf(stderr, "ykt-bench: --rules %s: %s\n", given, strerror(e));
        else
            fprintf(stderr,
                    "ykt-bench: the rules directory %s (the source tree's scripts/, the built-in "
                    "default) cannot be read: %s; give --rules DIR\n",
                    dir, strerror(e));
        return -1;
    }
    closedir(d);
    if (ykt_strlcpy(out, real, len) >= len) {
        fprintf(stderr, "ykt-bench: %s: path too long\n", real);
        return -1;
    }
    return 0;
}

/* Reads CMakeCache.txt of yktd's build tree (BUILD/core/yktd -> BUILD/CMakeCache.txt). */
static void detect_build(ykt_benchgw *gw)
{
    ykt_strlcpy(gw->build_type, "unknown", sizeof gw->build_type);
    ykt_strlcpy(gw->sanitizers, "unknown", sizeof gw->sanitizers);
    char path[YKT_BENCH_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s", gw->yktd);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(path, '/');
        if (slash == NULL)
            return;
        *slash = '\0';
    }
    strcat(path, "/CMakeCache.txt");
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    char line[1024];
    bool asan = false, ubsan = false, seen = false;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *v;
        if (strncmp(line, "CMAKE_BUILD_TYPE:", 17) == 0 && (v = strchr(line, '=')) != NULL) {
            ykt_strlcpy(gw->build_type, v[1] ? v + 1 : "(none)", sizeof gw->build_type);
            seen = true;
        } else if (strncmp(line, "YKT_ASAN:", 9) == 0 && (v = strchr(line, '=')) != NULL) {
            asan = strcmp(v + 1, "ON") == 0;
        } else if (strncmp(line, "YKT_UBSAN:", 10) == 0 && (v = strchr(line, '=')) != NULL) {
            ubsan = strcmp(v + 1, "ON") == 0;
        }
    }
    fclose(f);
    if (seen)
        snprintf(gw->sanitizers, sizeof gw->sanitizers, "%s",
                 asan && ubsan ? "asan+ubsan"
                 : asan        ? "asan"
                 : ubsan       ? "ubsan"
                               : "none");
}

const char *ykt_benchgw_fs_name(const char *dir)
{
    struct statfs sf;
    const char *name = "unknown";
    if (statfs(dir, &sf) == 0) {
        switch ((unsigned long)sf.f_type) {
        case 0xEF53UL:
            name = "ext4";
            break;
        case 0x01021994UL:
            name = "tmpfs"; /* fsync is free: durability figures are meaningless here */
            break;
        case 0x58465342UL:
            name = "xfs";
            break;
        case 0x9123683EUL:
            name = "btrfs";
            break;
        case 0x794C7630UL:
            name = "overlayfs";
            break;
        case 0x2FC12FC1UL:
            name = "zfs";
            break;
        default:
            break;
        }
    }
    return name;
}

static void detect_fs(ykt_benchgw *gw)
{
    ykt_strlcpy(gw->fs, ykt_benchgw_fs_name(gw->dir), sizeof gw->fs);
}

/* A value in the INI file runs to the end of the line, and " ;" would start a comment. */
static bool ini_safe(const char *s)
{
    return strpbrk(s, ";#\r\n") == NULL && s[0] != ' ' && s[strlen(s) - 1] != ' ';
}

static int prepare_dir(ykt_benchgw *gw, const char *keep_dir)
{
    if (keep_dir != NULL) {
        char db[YKT_BENCH_PATH_MAX + 16];
        if (mkdir(keep_dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "ykt-bench: --keep %s: %s\n", keep_dir, strerror(errno));
            return -1;
        }
        if (realpath(keep_dir, gw->dir) == NULL) {
            fprintf(stderr, "ykt-bench: --keep %s: %s\n", keep_dir, strerror(errno));
            return -1;
        }
        /* A database from an earlier run would change every count this run checks. */
        snprintf(db, sizeof db, "%s/ykt.db", gw->dir);
        if (access(db, F_OK) == 0) {
            fprintf(stderr,
                    "ykt-bench: --keep %s already holds a database; name an empty or new "
                    "directory\n",
                    keep_dir);
            return -1;
        }
        gw->keep = true;
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    snprintf(gw->dir, sizeof gw->dir, "%s/ykt-bench-XXXXXX", tmp);
    if (mkdtemp(gw->dir) == NULL) {
        fprintf(stderr, "ykt-bench: cannot create a directory in %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    gw->created = true;
    return 0;
}

static void remove_dir(ykt_benchgw *gw)
{
    if (gw->keep || !gw->created)
        return;
    /* Only yktd and we write here, and neither makes subdirectories. */
    DIR *d = opendir(gw->dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[YKT_BENCH_PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", gw->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    if (rmdir(gw->dir) != 0)
        fprintf(stderr, "ykt-bench: could not remove %s: %s\n", gw->dir, strerror(errno));
    gw->created = false;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fchmod(fd, mode) != 0) {
        fprintf(stderr, "ykt-bench: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int write_files(ykt_benchgw *gw, char *conf, size_t conflen, const char *ini,
                       const char *idle_timeout)
{
    char key[YKT_BENCH_PATH_MAX + 16], text[5 * YKT_BENCH_PATH_MAX + 1024];
    snprintf(key, sizeof key, "%s/master.key", gw->dir);
    snprintf(gw->db, sizeof gw->db, "%s/ykt.db", gw->dir);
    snprintf(conf, conflen, "%s/bench.ini", gw->dir);
    snprintf(gw->socket, sizeof gw->socket, "%s/yktd.sock", gw->dir);
    snprintf(gw->log, sizeof gw->log, "%s/yktd.log", gw->dir);
    if (strlen(gw->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr,
                "ykt-bench: %s is too long for a Unix socket; set TMPDIR to a shorter "
                "directory\n",
                gw->socket);
        return -1;
    }
    const char *unsafe = !ini_safe(gw->dir) ? gw->dir : !ini_safe(gw->rules) ? gw->rules : NULL;
    if (unsafe != NULL) {
        fprintf(stderr,
                "ykt-bench: %s: a directory with ';', '#' or surrounding spaces cannot "
                "be written into yktd's configuration\n",
                unsafe);
        return -1;
    }

    /* A fresh master key per run: the cards of one run are worthless anywhere else. */
    if (getrandom(gw->master, sizeof gw->master, 0) != (ssize_t)sizeof gw->master) {
        fprintf(stderr, "ykt-bench: no randomness for the master key\n");
        return -1;
    }
    char hex[2 * sizeof gw->master + 2];
    for (size_t i = 0; i < sizeof gw->master; i++)
        snprintf(hex + 2 * i, 3, "%02x", gw->master[i]);
    strcat(hex, "\n");
    if (write_file(key, hex, 0600) != 0)
        return -1;

    /*
     * Everything else is yktd's default, so the figures are those of a stock gateway. The
     * exceptions: limits raised so --rows is not capped by the import limits, and card
     * password hashing at its minimum, because provisioning issues every card with two
     * passwords and that is not what any benchmark here measures. [rules] dir is yktd's
     * default ("scripts") made absolute, since yktd runs in the temporary directory;
     * fee_script only when the caller asks for one.
     */
    char rules[YKT_BENCH_PATH_MAX + 128];
    int n = snprintf(rules, sizeof rules, "[rules]\ndir = %s\n", gw->rules);
    if (gw->fee_script_set)
        snprintf(rules + n, sizeof rules - (size_t)n, "fee_script =%s%s\n",
                 gw->fee_script[0] ? " " : "", gw->fee_script);
    snprintf(text, sizeof text,
             "; written by ykt-bench for one run\n"
             "[campus]\ncode = %s\n"
             "[terminal]\nlisten = 127.0.0.1:0\nidle_timeout = %s\n"
             "[admin]\nsocket = %s\nsocket_mode = 0600\nmax_frame_bytes = 1g\n"
             "[cards]\nmaster_key = %s\npassword_iterations = 1000\n"
             "[import]\nmax_bytes = 1g\nmax_rows = 10000000\n"
             "[storage]\npath = %s\n"
             "[log]\nlevel = info\n"
             "%s"
             "%s"
             "%s",
             YKT_BENCH_CAMPUS, idle_timeout ? idle_timeout : "1h", gw->socket, key, gw->db, rules,
             ini ? ini : "", ykt_bench_config_sets());
    return write_file(conf, text, 0600);
}

void ykt_benchgw_log_tail(const ykt_benchgw *gw)
{
    FILE *f = fopen(gw->log, "re");
    if (f == NULL)
        return;
    char *lines[20] = {0};
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        free(lines[n % 20]);
        lines[n % 20] = strdup(line);
        n++;
    }
    fclose(f);
    fprintf(stderr, "ykt-bench: last lines of %s:\n", gw->log);
    for (int i = n > 20 ? n - 20 : 0; i < n; i++) {
        fprintf(stderr, "  %s", lines[i % 20] ? lines[i % 20] : "\n");
        free(lines[i % 20]);
        lines[i % 20] = NULL;
    }
}

/* Looks for "ready: terminal port 127.0.0.1:PORT" in the log from byte offset from on (a
 * restart appends to the same log: the earlier lines name the old port); returns the port
 * or 0. Only a complete line counts, so a line read while yktd writes it is not misread. */
static int ready_port(const ykt_benchgw *gw, off_t from)
{
    FILE *f = fopen(gw->log, "re");
    if (f == NULL)
        return 0;
    if (from > 0 && fseeko(f, from, SEEK_SET) != 0) {
        fclose(f);
        return 0;
    }
    char line[4096];
    int port = 0;
    while (port == 0 && fgets(line, sizeof line, f) != NULL) {
        char *p = strstr(line, "ready: terminal port ");
        if (p == NULL || strchr(p, '\n') == NULL)
            continue;
        p += strlen("ready: terminal port ");
        p[strcspn(p, " \r\n")] = '\0';
        char *colon = strrchr(p, ':');
        int64_t v;
        if (colon != NULL && ykt_parse_int64(colon + 1, 1, 65535, &v) == YKT_OK)
            port = (int)v;
    }
    fclose(f);
    return port;
}

/* The size of yktd's log now: where the lines of a process started after this begin. */
static off_t log_size(const ykt_benchgw *gw)
{
    struct stat st;
    return stat(gw->log, &st) == 0 ? st.st_size : 0;
}

static void spawn_child(const ykt_benchgw *gw, pid_t parent)
{
    /* Its own process group: Ctrl-C reaches the benchmark, which stops yktd in order. */
    setpgid(0, 0);
    /* If the benchmark dies, yktd must not outlive it holding the temporary directory. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    int log = open(gw->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int null = open("/dev/null", O_RDONLY);
    if (log < 0 || null < 0 || chdir(gw->dir) != 0)
        _exit(126);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    execl(gw->yktd, gw->yktd, "-c", gw->conf, (char *)NULL);
    dprintf(2, "ykt-bench: cannot run %s: %s\n", gw->yktd, strerror(errno));
    _exit(127);
}

/*
 * Starts yktd on gw->conf and waits (polling every poll_ms) for a "ready:" line written
 * after byte from of the log. Returns 0 with gw->pid and gw->port set; -1 after saying why
 * on stderr, with gw->pid -1 if yktd exited or could not be started, or still set if it is
 * running but never became ready (the caller stops it).
 */
static int launch(ykt_benchgw *gw, off_t from, int poll_ms)
{
    fflush(NULL);
    pid_t parent = getpid();
    gw->pid = fork();
    if (gw->pid < 0) {
        fprintf(stderr, "ykt-bench: fork: %s\n", strerror(errno));
        gw->pid = -1;
        return -1;
    }
    if (gw->pid == 0)
        spawn_child(gw, parent);
    setpgid(gw->pid, gw->pid); /* also here, so stop() finds the group even if we are fast */

    for (int waited = 0; waited < START_TIMEOUT_MS; waited += poll_ms) {
        int status;
        if (waitpid(gw->pid, &status, WNOHANG) == gw->pid) {
            fprintf(stderr, "ykt-bench: yktd exited during start-up (status %d)\n",
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            ykt_benchgw_log_tail(gw);
            gw->pid = -1;
            return -1;
        }
        int port = ready_port(gw, from);
        if (port > 0) {
            gw->port = port;
            return 0;
        }
        sleep_ms(poll_ms);
    }
    fprintf(stderr, "ykt-bench: yktd did not log \"ready:\" within %d s\n",
            START_TIMEOUT_MS / 1000);
    ykt_benchgw_log_tail(gw);
    return -1;
}

int ykt_benchgw_start(ykt_benchgw *gw, const char *yktd, const char *keep_dir,
                      const char *rules_dir)
{
    ykt_benchgw_opts o = {.yktd = yktd, .keep_dir = keep_dir, .rules_dir = rules_dir};
    return ykt_benchgw_start_opts(gw, &o);
}

int ykt_benchgw_start_opts(ykt_benchgw *gw, const ykt_benchgw_opts *o)
{
    memset(gw, 0, sizeof *gw);
    gw->pid = -1;
    if (find_yktd(o->yktd, gw->yktd, sizeof gw->yktd) != 0 ||
        ykt_benchgw_rules_dir(o->rules_dir, gw->rules, sizeof gw->rules) != 0)
        return -1;
    gw->fee_script_set = o->fee_script != NULL;
    if (ykt_strlcpy(gw->fee_script, o->fee_script ? o->fee_script : DEFAULT_FEE_SCRIPT,
                    sizeof gw->fee_script) >= sizeof gw->fee_script ||
        !ini_safe(gw->fee_script[0] ? gw->fee_script : "x")) {
        fprintf(stderr, "ykt-bench: %s: not a fee script name\n", o->fee_script);
        return -1;
    }
    snprintf(gw->config, sizeof gw->config,
             "defaults, plus [cards] password_iterations = 1000; [rules] dir = %s%s%s", gw->rules,
             ykt_bench_config_sets_note()[0] ? "; --set " : "", ykt_bench_config_sets_note());
    ykt_strlcpy(gw->note, o->note ? o->note : "", sizeof gw->note);
    detect_build(gw);
    if (prepare_dir(gw, o->keep_dir) != 0)
        return -1;
    detect_fs(gw);
    if (write_files(gw, gw->conf, sizeof gw->conf, o->ini, o->terminal_idle_timeout) != 0) {
        remove_dir(gw);
        return -1;
    }
    if (launch(gw, 0, 10) != 0) {
        if (gw->pid > 0)
            ykt_benchgw_stop(gw);
        else
            remove_dir(gw);
        return -1;
    }
    return 0;
}

int ykt_benchgw_stop(ykt_benchgw *gw)
{
    int rc = ykt_benchgw_halt(gw);
    remove_dir(gw);
    memset(gw->master, 0, sizeof gw->master);
    return rc;
}

int ykt_benchgw_halt(ykt_benchgw *gw)
{
    int rc = 0;
    if (gw->pid > 0) {
        /* To the process group: a wrapper given as --yktd (strace, perf) stops with it. */
        if (kill(-gw->pid, SIGTERM) != 0)
            kill(gw->pid, SIGTERM);
        int status = 0, waited = 0;
        pid_t w;
        while ((w = waitpid(gw->pid, &status, WNOHANG)) == 0 && waited < STOP_TIMEOUT_MS) {
            sleep_ms(10);
            waited += 10;
        }
        if (w == 0) {
            fprintf(stderr, "ykt-bench: yktd did not stop within %d s; killing it\n",
                    STOP_TIMEOUT_MS / 1000);
            kill(-gw->pid, SIGKILL);
            kill(gw->pid, SIGKILL);
            waitpid(gw->pid, &status, 0);
            rc = -1;
        } else if (w < 0) {
            rc = -1;
        } else {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (rc != 0) {
            fprintf(stderr, "ykt-bench: yktd exited with status %d\n", rc);
            ykt_benchgw_log_tail(gw);
        }
        gw->pid = -1;
        gw->exit_status = rc;
    }
    return gw->exit_status;
}

int ykt_benchgw_kill(ykt_benchgw *gw)
{
    if (gw->pid <= 0)
        return -1;
    /* The group, as halt does: a wrapper given as --yktd dies with it. */
    if (kill(-gw->pid, SIGKILL) != 0)
        kill(gw->pid, SIGKILL);
    int status = 0;
    pid_t w;
    while ((w = waitpid(gw->pid, &status, 0)) < 0 && errno == EINTR) {
    }
    gw->pid = -1;
    if (w < 0)
        return -1;
    gw->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

int ykt_benchgw_restart(ykt_benchgw *gw)
{
    if (gw->pid > 0) {
        fprintf(stderr, "ykt-bench: restart: yktd is still running\n");
        return -1;
    }
    gw->exit_status = 0;
    /* 2 ms polls: the time to "ready:" is reported, and a restart takes tens of ms. */
    if (launch(gw, log_size(gw), 2) != 0) {
        if (gw->pid > 0)
            ykt_benchgw_kill(gw);
        return -1;
    }
    return 0;
}

int ykt_benchgw_admin(const ykt_benchgw *gw, ykt_client *c)
{
    if (ykt_client_connect_unix(c, gw->socket) != 0) {
        fprintf(stderr, "ykt-bench: %s\n", c->err);
        return -1;
    }
    /* An import of a large file takes a while; a hung gateway should not hang us forever. */
    struct timeval tv = {.tv_sec = 600};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return 0;
}

double ykt_benchgw_cpu_seconds(const ykt_benchgw *gw)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)gw->pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* Fields after the command name (which may contain spaces) start after the last ')';
     * utime and stime are fields 14 and 15 of the line, 12 and 13 after it. */
    char *p = strrchr(text, ')');
    unsigned long long utime, stime;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

void ykt_benchgw_report(const ykt_benchgw *gw, ykt_report *r, const char *version)
{
    ykt_report_begin(r, "yktd");
    ykt_report_str(r, "binary", gw->yktd);
    ykt_report_str(r, "version", version);
    ykt_report_str(r, "build_type", gw->build_type);
    ykt_report_str(r, "sanitizers", gw->sanitizers);
    ykt_report_str(r, "directory", gw->dir);
    ykt_report_bool(r, "kept", gw->keep);
    ykt_report_str(r, "filesystem", gw->fs);
    char config[sizeof gw->config + sizeof gw->note + 128];
    snprintf(config, sizeof config, "%s%s%s%s%s", gw->config,
             gw->fee_script_set ? ", fee_script = " : "",
             !gw->fee_script_set ? ""
             : gw->fee_script[0] ? gw->fee_script
                                 : "(empty: the built-in formula)",
             gw->note[0] ? "; " : "", gw->note);
    ykt_report_str(r, "config", config);
    ykt_report_str(r, "rules_dir", gw->rules);
    ykt_report_str(r, "fee_script",
                   gw->fee_script[0] ? gw->fee_script : "(empty: the built-in formula)");
    ykt_report_end(r);
}
