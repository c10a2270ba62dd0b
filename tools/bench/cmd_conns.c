/*
 * ykt-bench conns: many terminal connections held at once, and the limits that close the
 * ones that misbehave (issue 9, connection load).
 *
 * Phase "hold": a private yktd with [terminal] max_connections = N (auth_timeout raised to
 * 1h, so that connections left unauthenticated on purpose survive the hold). One thread and
 * epoll open N non-blocking connections, at most WINDOW of them being set up at a time (the
 * listen backlog is 511), and each either authenticates as a terminal of its own (--auth of
 * them; the terminals are provisioned with gateway-generated secrets, which AUTH checks with
 * one hash iteration) or sends a PING. yktd's RSS (/proc/PID/status) is read before, with all
 * N held and after they are closed, beside the kernel's TCP memory (/proc/net/sockstat). One
 * more connection must be refused with -BUSY. While all are held, sampled connections send
 * PING one at a time: the latency shows that yktd still serves.
 *
 * Phase "timeouts": a second private yktd with a short [terminal] idle_timeout and
 * auth_timeout, and small groups of clients whose fate is known in advance:
 *   idle     authenticate, then silent          -> closed at idle_timeout
 *   active   authenticate, PING every idle/4    -> stay open
 *   unauth   PING every idle/4, never AUTH      -> closed at auth_timeout
 *   dribble  authenticate, then a frame one byte at a time, never complete
 *                                               -> closed at idle_timeout (no request completes)
 *   partial  authenticate, then most of one large frame at once, then nothing
 *                                               -> closed at idle_timeout; yktd buffers it
 * meanwhile noread   authenticate, then pipeline PINGs as fast as yktd takes them, never read a
 * reply
 *                                               -> yktd stops reading it, closed at idle_timeout
 * yktd's RSS is read after the partial frames and after the non-readers stalled, so the
 * memory each such client costs is in the report.
 */
#include "adminq.h"
#include "bench.h"
#include "common.h"
#include "fleet.h"
#include "gateway.h"
#include "latency.h"
#include "util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WINDOW        256     /* connections being set up at once */
#define SETUP_TIMEOUT 120     /* seconds for connecting and authenticating all */
#define PING_TIMEOUT  5000    /* ms: a PING not answered by then is an error */
#define FD_SLACK      256     /* descriptors beyond the connections, both processes */
#define NOREAD_CAP    8388608 /* bytes a non-reader writes at most (yktd should stop first) */
#define MS            1000000ULL

enum kind { K_HOLD, K_IDLE, K_ACTIVE, K_UNAUTH, K_DRIBBLE, K_PARTIAL, K_NOREAD, K_BUSY, NKINDS };
static const char *const kind_names[NKINDS] = {"hold",    "idle",    "active", "unauth",
                                               "dribble", "partial", "noread", "busy"};
enum state { S_NEW, S_CONNECTING, S_HELLO, S_UP, S_CLOSED, S_FAILED };

typedef struct cc {
    int fd;
    uint8_t kind, state;
    bool auth;    /* authenticates (else its first request is PING) */
    bool waiting; /* a PING is unanswered */
    bool writing; /* out has bytes to send */
    bool stalled; /* noread: the gateway no longer takes our bytes */
    const ykt_fleet_terminal *term;
    char line[192];
    size_t linelen;
    uint64_t t_connected, t_ref, t_sent, t_next, t_closed;
    char *out;
    size_t outlen, outoff, written;
} cc;

typedef struct run {
    int ep;
    int port;
    cc *c;
    int n;
    int inflight; /* connections being set up */
    ykt_lat lat;
    int64_t idle_ms, auth_ms;
    int64_t partial_bytes;
    uint64_t phase_start;
    uint64_t errors, unexpected_closes;
    char first_error[256];
} run;

static void error_note(run *r, const char *fmt, const char *a, const char *b)
{
    r->errors++;
    if (r->first_error[0] == '\0')
        snprintf(r->first_error, sizeof r->first_error, fmt, a, b);
}

/* ---- yktd's memory and the kernel's ---- */

static int64_t proc_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    int64_t v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoll(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* The kernel's TCP buffer memory, all sockets (both ends of loopback), in kB; -1 unknown. */
static int64_t tcp_mem_kb(void)
{
    FILE *f = fopen("/proc/net/sockstat", "re");
    if (f == NULL)
        return -1;
    char line[256];
    int64_t v = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        char *m = strstr(line, " mem ");
        if (strncmp(line, "TCP:", 4) == 0 && m != NULL) {
            v = strtoll(m + 5, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
            break;
        }
    }
    fclose(f);
    return v;
}

typedef struct mem {
    int64_t rss_kb, hwm_kb, tcp_kb;
} mem;

static mem mem_now(pid_t pid)
{
    return (mem){proc_kb(pid, "VmRSS"), proc_kb(pid, "VmHWM"), tcp_mem_kb()};
}

static void mem_report(ykt_report *rep, const char *key, mem m)
{
    ykt_report_begin(rep, key);
    ykt_report_int(rep, "rss_kb", m.rss_kb);
    ykt_report_int(rep, "hwm_kb", m.hwm_kb);
    ykt_report_int(rep, "kernel_tcp_mem_kb", m.tcp_kb);
    ykt_report_end(rep);
}

/* ---- yktd's own counters (admin `status`) ---- */

typedef struct counters {
    int64_t terminal, authenticated, accepted, busy, requests;
    char version[32];
} counters;

static int status_get(const ykt_benchgw *gw, counters *out)
{
    ykt_client c;
    memset(out, 0, sizeof *out);
    if (ykt_benchgw_admin(gw, &c) != 0)
        return -1;
    const char *argv[] = {"status"};
    ykt_reply *r = ykt_client_call(&c, 1, argv, NULL);
    int rc = -1;
    if (r != NULL && r->type != YKT_REPLY_ERROR) {
        out->terminal = ykt_adminq_field_int(r, "terminal_connections");
        out->authenticated = ykt_adminq_field_int(r, "authenticated_connections");
        out->accepted = ykt_adminq_field_int(r, "connections_accepted");
        out->busy = ykt_adminq_field_int(r, "connections_refused_busy");
        out->requests = ykt_adminq_field_int(r, "requests");
        const ykt_reply *v = ykt_adminq_field(r, "version");
        ykt_strlcpy(out->version, v != NULL && v->type == YKT_REPLY_BULK ? v->str : "unknown",
                    sizeof out->version);
        rc = 0;
    }
    if (r != NULL)
        ykt_reply_free(r);
    ykt_client_close(&c);
    return rc;
}

/* ---- descriptors ---- */

/* Room for n connections here and in yktd (it inherits our limit): the soft limit raised to
 * what is needed, the hard one too if we may (root). 0, or -1 after saying why. */
static int raise_nofile(int64_t n, rlim_t *was)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("ykt-bench conns: getrlimit");
        return -1;
    }
    *was = rl.rlim_cur;
    rlim_t need = (rlim_t)n + FD_SLACK;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max < need) {
        struct rlimit hard = {need, need};
        if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
            return 0;
        fprintf(stderr,
                "ykt-bench conns: %lld connections need %llu open files per process; the hard "
                "limit is %llu (raise it: ulimit -Hn, or run as root)\n",
                (long long)n, (unsigned long long)need, (unsigned long long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("ykt-bench conns: setrlimit");
        return -1;
    }
    return 0;
}

static void set_soft_nofile(rlim_t v)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = v < rl.rlim_max ? v : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- the client side: one epoll loop ---- */

static void watch(run *r, cc *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(r->ep, op, c->fd, &ev);
}

static void conn_gone(run *r, cc *c, uint64_t now)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->state == S_CONNECTING || c->state == S_HELLO)
        r->inflight--;
    c->state = c->state == S_UP ? S_CLOSED : S_FAILED;
    c->t_closed = now;
    free(c->out);
    c->out = NULL;
    c->writing = false;
}

static bool send_all(cc *c, const char *data, size_t len)
{
    ssize_t w = send(c->fd, data, len, MSG_NOSIGNAL);
    return w == (ssize_t)len;
}

static void send_ping(run *r, cc *c, uint64_t now)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    if (send_all(c, ping, sizeof ping - 1)) {
        c->waiting = true;
        c->t_sent = now;
    } else if (c->kind != K_BUSY) {
        error_note(r, "PING to %s: %s", kind_names[c->kind], strerror(errno));
    }
}

/* Queues bytes to be written whenever the socket takes them (partial, noread). */
static void queue_out(run *r, cc *c, char *data, size_t len)
{
    free(c->out);
    c->out = data;
    c->outlen = len;
    c->outoff = 0;
    c->writing = true;
    watch(r, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
}

static void on_line(run *r, cc *c, const char *line, uint64_t now)
{
    bool ok = line[0] == '+';
    if (c->state == S_HELLO) {
        r->inflight--;
        if (c->kind == K_BUSY) {
            /* the one connection too many: -BUSY, then yktd closes it */
            c->state = strncmp(line, "-BUSY", 5) == 0 ? S_UP : S_FAILED;
            if (c->state == S_FAILED)
                error_note(r, "%s: expected -BUSY, got %s", "connection N+1", line);
            c->t_ref = now;
            return;
        }
        if (!ok) {
            c->state = S_FAILED;
            error_note(r, "%s: %s", c->auth ? "AUTH" : "PING", line);
            return;
        }
        c->state = S_UP;
        c->t_ref = now;
        return;
    }
    if (c->waiting && strcmp(line, "+PONG") == 0) {
        c->waiting = false;
        ykt_lat_add(&r->lat, (now - c->t_sent) / 1000);
        if (c->kind != K_UNAUTH) /* auth_timeout counts from the connection, not requests */
            c->t_ref = now;
        return;
    }
    error_note(r, "%s connection: unexpected reply %s", kind_names[c->kind], line);
}

static void on_readable(run *r, cc *c, uint64_t now)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            if (c->state == S_HELLO && c->kind != K_BUSY)
                error_note(r, "%s connection closed during set-up: %s", kind_names[c->kind],
                           n == 0 ? "end of stream" : strerror(errno));
            if (c->state == S_HELLO && c->kind == K_BUSY)
                error_note(r, "%s: closed without -BUSY (%s)", "connection N+1",
                           n == 0 ? "end of stream" : strerror(errno));
            conn_gone(r, c, now);
            return;
        }
        if (n < 0)
            return;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' && c->linelen > 0 && c->line[c->linelen - 1] == '\r') {
                c->line[c->linelen - 1] = '\0';
                on_line(r, c, c->line, now);
                c->linelen = 0;
                if (c->fd < 0)
                    return;
            } else if (c->linelen < sizeof c->line - 1) {
                c->line[c->linelen++] = buf[i];
            }
        }
    }
}

static void on_writable(run *r, cc *c, uint64_t now)
{
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            error_note(r, "connect: %s%s", strerror(err), "");
            conn_gone(r, c, now);
            return;
        }
        c->t_connected = now;
        c->state = S_HELLO;
        watch(r, c, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
        if (c->kind == K_BUSY)
            return; /* yktd speaks first: -BUSY */
        if (c->auth) {
            ykt_buf b;
            ykt_buf_init(&b);
            const char *argv[] = {"AUTH", c->term->id, c->term->secret};
            ykt_client_format(&b, 3, argv, NULL);
            if (!send_all(c, (const char *)b.data, b.len))
                error_note(r, "AUTH %s: %s", c->term->id, strerror(errno));
            ykt_buf_free(&b);
        } else {
            send_ping(r, c, now);
            c->waiting = false; /* its reply is the hello */
        }
        return;
    }
    while (c->writing && c->outoff < c->outlen) {
        ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->kind == K_NOREAD)
                    c->stalled = true;
                return;
            }
            conn_gone(r, c, now);
            return;
        }
        c->outoff += (size_t)w;
        c->written += (size_t)w;
        if (c->kind == K_NOREAD)
            c->t_ref = now; /* yktd took bytes: its last request is at most this recent */
        c->stalled = false;
        if (c->kind == K_NOREAD && c->outoff == c->outlen && c->written < NOREAD_CAP)
            c->outoff = 0; /* the same PINGs again */
    }
    if (c->writing && c->outoff >= c->outlen) {
        c->writing = false;
        watch(r, c, c->kind == K_NOREAD ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
    }
}

static void on_event(run *r, cc *c, uint32_t ev, uint64_t now)
{
    if (c->fd < 0)
        return;
    if (c->state == S_CONNECTING) {
        on_writable(r, c, now);
        return;
    }
    if (c->kind == K_NOREAD && c->state == S_UP) {
        /* never reads: a reset, a hang-up or the end of stream means yktd closed it */
        if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
            conn_gone(r, c, now);
            return;
        }
        if (ev & EPOLLOUT)
            on_writable(r, c, now);
        return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
        on_readable(r, c, now);
    if (c->fd >= 0 && (ev & EPOLLOUT))
        on_writable(r, c, now);
}

/* One epoll round, waiting at most ms. */
static void pump(run *r, int ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(r->ep, evs, 256, ms);
    uint64_t now = ykt_bench_now_ns();
    for (int i = 0; i < n; i++)
        on_event(r, evs[i].data.ptr, evs[i].events, now);
}

static void start_connect(run *r, cc *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        error_note(r, "socket: %s%s", strerror(errno), "");
        c->state = S_FAILED;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->kind == K_NOREAD) {
        /* small buffers on our side: yktd's limits, not ours, decide when it stalls */
        int small = 4096;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        error_note(r, "connect: %s%s", strerror(errno), "");
        close(c->fd);
        c->fd = -1;
        c->state = S_FAILED;
        return;
    }
    c->state = S_CONNECTING;
    r->inflight++;
    watch(r, c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* Connects and authenticates (or PINGs) connections [from, to), WINDOW at a time. Returns
 * how many are up. */
static int connect_range(run *r, int from, int to)
{
    uint64_t deadline = ykt_bench_now_ns() + SETUP_TIMEOUT * 1000 * MS;
    int next = from;
    while ((next < to || r->inflight > 0) && !ykt_bench_interrupted &&
           ykt_bench_now_ns() < deadline) {
        while (next < to && r->inflight < WINDOW)
            start_connect(r, &r->c[next++]);
        pump(r, 10);
    }
    int up = 0;
    for (int i = from; i < to; i++) {
        if (r->c[i].state == S_CONNECTING || r->c[i].state == S_HELLO) {
            error_note(r, "%s connection: %s", kind_names[r->c[i].kind], "not set up in time");
            conn_gone(r, &r->c[i], ykt_bench_now_ns());
        }
        up += r->c[i].state == S_UP;
    }
    return up;
}

static void close_all(run *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->c[i].fd >= 0) {
            close(r->c[i].fd);
            r->c[i].fd = -1;
        }
    for (int i = 0; i < r->n; i++)
        free(r->c[i].out);
}

/* Waits (at most ms) until yktd counts at most `want` terminal connections. */
static int wait_conns(const ykt_benchgw *gw, int64_t want, int ms, counters *st)
{
    for (int waited = 0;; waited += 50) {
        if (status_get(gw, st) == 0 && st->terminal <= want)
            return 0;
        if (waited >= ms)
            return -1;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- phase 1: hold N ---- */

typedef struct hold_result {
    int up, dropped, auth;
    double connect_s;
    mem before, held, after;
    counters st_held, st_after;
    bool busy_ok;
    int yktd_exit;
    double idle_cpu_pct, ping_cpu_pct;
    ykt_lat_summary ping;
    int closed_ok;
} hold_result;

static int phase_hold(const ykt_bench_ctx *ctx, ykt_report *rep, int64_t n, int64_t nauth,
                      int64_t hold_s, int64_t sample, int64_t yktd_nofile, hold_result *hr, run *r)
{
    char ini[256];
    snprintf(ini, sizeof ini, "[terminal]\nmax_connections = %lld\nauth_timeout = 1h\n",
             (long long)n);
    ykt_benchgw_opts o = {.yktd = ctx->yktd,
                          .keep_dir = ctx->keep,
                          .rules_dir = ctx->rules,
                          .ini = ini,
                          .note = "hold: [terminal] max_connections = N, auth_timeout = 1h"};
    ykt_benchgw gw;
    rlim_t mine = 0;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    mine = rl.rlim_cur;
    if (yktd_nofile > 0)
        set_soft_nofile((rlim_t)yktd_nofile); /* yktd inherits it; we take ours back below */
    int started = ykt_benchgw_start_opts(&gw, &o);
    set_soft_nofile(mine);
    if (started != 0)
        return -1;
    ykt_fleet fleet;
    ykt_fleet_spec spec = {.terminals = (int)nauth,
                           .terminal_type = "pos",
                           .cards = 0,
                           .seed = 1,
                           .generated_secrets = true};
    uint64_t p0 = ykt_bench_now_ns();
    if (ykt_fleet_provision(&fleet, &gw, &spec) != 0) {
        ykt_benchgw_log_tail(&gw);
        ykt_benchgw_stop(&gw);
        return -1;
    }
    double provision_s = (double)(ykt_bench_now_ns() - p0) / 1e9;
    counters st0;
    status_get(&gw, &st0);
    ykt_benchgw_report(&gw, rep, st0.version);

    r->port = gw.port;
    r->n = (int)n + 1;
    r->c = calloc((size_t)r->n, sizeof *r->c);
    if (r->c == NULL) {
        fprintf(stderr, "ykt-bench conns: out of memory\n");
        exit(YKT_BENCH_EXIT_USAGE);
    }
    /* The authenticated ones spread evenly over the N. */
    for (int i = 0; i < r->n; i++) {
        cc *c = &r->c[i];
        c->fd = -1;
        c->kind = i == n ? K_BUSY : K_HOLD;
    }
    int64_t a = 0;
    for (int64_t i = 0; i < n && a < nauth; i++) {
        if ((i + 1) * nauth / n > a) {
            r->c[i].auth = true;
            r->c[i].term = &fleet.terminals[a++];
        }
    }
    hr->auth = (int)a;

    hr->before = mem_now(gw.pid);
    uint64_t c0 = ykt_bench_now_ns();
    hr->up = connect_range(r, 0, (int)n);
    hr->connect_s = (double)(ykt_bench_now_ns() - c0) / 1e9;
    /* One too many must be refused (only meaningful when all N are held: otherwise yktd
     * would accept it and wait for it to speak). */
    if (hr->up == n) {
        connect_range(r, (int)n, (int)n + 1);
        for (int k = 0; k < 100 && r->c[n].state == S_UP; k++)
            pump(r, 10); /* yktd closes it after the -BUSY */
        hr->busy_ok = r->c[n].state == S_CLOSED;
        if (!hr->busy_ok && r->c[n].state == S_UP)
            error_note(r, "%s: %s", "connection N+1", "-BUSY but not closed");
    }

    /* A quiet second: what holding them costs yktd when nobody talks (its sweep timer). */
    double y0 = ykt_benchgw_cpu_seconds(&gw);
    uint64_t q0 = ykt_bench_now_ns();
    while (ykt_bench_now_ns() - q0 < 1000 * MS && !ykt_bench_interrupted)
        pump(r, 50);
    double y1 = ykt_benchgw_cpu_seconds(&gw);
    hr->idle_cpu_pct = 100 * (y1 - y0) / ((double)(ykt_bench_now_ns() - q0) / 1e9);
    hr->held = mem_now(gw.pid);
    status_get(&gw, &hr->st_held);

    /* PINGs from a sample, one at a time, for the rest of the hold. */
    int nsample = (int)(sample < hr->up ? sample : hr->up);
    int *pick = calloc((size_t)(nsample > 0 ? nsample : 1), sizeof *pick);
    for (int s = 0, i = 0; s < nsample && i < n; i++)
        if (r->c[i].state == S_UP && (int64_t)i * nsample / n >= s)
            pick[s++] = i;
    uint64_t h0 = ykt_bench_now_ns(), hend = q0 + (uint64_t)hold_s * 1000 * MS;
    y0 = ykt_benchgw_cpu_seconds(&gw);
    for (int s = 0; nsample > 0 && ykt_bench_now_ns() < hend && !ykt_bench_interrupted;
         s = (s + 1) % nsample) {
        cc *c = &r->c[pick[s]];
        if (c->state != S_UP)
            continue;
        send_ping(r, c, ykt_bench_now_ns());
        uint64_t limit = ykt_bench_now_ns() + PING_TIMEOUT * MS;
        while (c->waiting && c->state == S_UP && ykt_bench_now_ns() < limit)
            pump(r, 100);
        if (c->waiting && c->state == S_UP) {
            error_note(r, "PING: %s%s", "no reply within 5 s", "");
            c->waiting = false;
        }
    }
    while (ykt_bench_now_ns() < hend && !ykt_bench_interrupted)
        pump(r, 50);
    y1 = ykt_benchgw_cpu_seconds(&gw);
    hr->ping_cpu_pct = 100 * (y1 - y0) / ((double)(ykt_bench_now_ns() - h0) / 1e9);
    free(pick);
    hr->dropped = 0;
    for (int i = 0; i < n; i++)
        hr->dropped += r->c[i].state == S_CLOSED;
    if (hr->dropped > 0)
        error_note(r, "%s: %s", "hold", "yktd closed connections while they were held");
    ykt_lat_summarize(&r->lat, &hr->ping);

    close_all(r);
    hr->closed_ok = wait_conns(&gw, 0, 10000, &hr->st_after) == 0;
    if (!hr->closed_ok)
        error_note(r, "%s: %s", "after close", "yktd still counts terminal connections");
    hr->after = mem_now(gw.pid);
    hr->yktd_exit = ykt_benchgw_stop(&gw);

    ykt_report_begin(rep, "params");
    ykt_report_int(rep, "connections", n);
    ykt_report_int(rep, "authenticated", hr->auth);
    ykt_report_int(rep, "unauthenticated", n - hr->auth);
    ykt_report_int(rep, "hold_seconds", hold_s);
    ykt_report_int(rep, "ping_sample", nsample);
    ykt_report_int(rep, "setup_window", WINDOW);
    ykt_report_int(rep, "max_connections", n);
    ykt_report_int(rep, "nofile_limit", (int64_t)(yktd_nofile > 0 ? yktd_nofile : (int64_t)mine));
    ykt_report_num(rep, "provision_seconds", provision_s, 2);
    ykt_report_end(rep);

    ykt_report_begin(rep, "results"); /* ended by the caller, after the timeouts */
    ykt_report_begin(rep, "hold");
    ykt_report_int(rep, "held", hr->up);
    ykt_report_int(rep, "failed", (int64_t)n - hr->up);
    ykt_report_int(rep, "dropped_while_held", hr->dropped);
    ykt_report_num(rep, "connect_seconds", hr->connect_s, 2);
    ykt_report_num(rep, "connects_per_s", hr->connect_s > 0 ? hr->up / hr->connect_s : 0, 0);
    ykt_report_int(rep, "yktd_terminal_connections", hr->st_held.terminal);
    ykt_report_int(rep, "yktd_authenticated_connections", hr->st_held.authenticated);
    ykt_report_bool(rep, "extra_connection_refused_busy", hr->busy_ok);
    mem_report(rep, "memory_before", hr->before);
    mem_report(rep, "memory_held", hr->held);
    mem_report(rep, "memory_after_close", hr->after);
    ykt_report_num(rep, "rss_bytes_per_connection",
                   hr->up > 0 ? 1024.0 * (double)(hr->held.rss_kb - hr->before.rss_kb) / hr->up : 0,
                   0);
    ykt_report_num(rep, "kernel_tcp_bytes_per_connection",
                   hr->up > 0 ? 1024.0 * (double)(hr->held.tcp_kb - hr->before.tcp_kb) / hr->up : 0,
                   0);
    ykt_report_num(rep, "yktd_idle_cpu_percent", hr->idle_cpu_pct, 1);
    ykt_lat_report(rep, "ping_latency_us", &hr->ping);
    ykt_report_num(rep, "yktd_cpu_percent_while_pinging", hr->ping_cpu_pct, 0);
    ykt_report_int(rep, "yktd_terminal_connections_after_close", hr->st_after.terminal);
    ykt_report_int(rep, "yktd_exit_status", hr->yktd_exit);
    ykt_report_end(rep);

    ykt_fleet_free(&fleet);
    free(r->c);
    r->c = NULL;
    return 0;
}

/* ---- phase 2: timeouts and slow clients ---- */

typedef struct group {
    int count, closed, alive;
    int64_t min_ms, max_ms;
    int64_t expect_ms; /* 0: should stay open */
    bool ok;
} group;

static void summarize_group(const run *r, int kind, group *g)
{
    memset(g, 0, sizeof *g);
    g->min_ms = -1;
    for (int i = 0; i < r->n; i++) {
        const cc *c = &r->c[i];
        if (c->kind != kind)
            continue;
        g->count++;
        if (c->state == S_UP)
            g->alive++;
        if (c->state != S_CLOSED)
            continue;
        g->closed++;
        int64_t ms = (int64_t)((c->t_closed - c->t_ref) / MS);
        if (g->min_ms < 0 || ms < g->min_ms)
            g->min_ms = ms;
        if (ms > g->max_ms)
            g->max_ms = ms;
    }
}

static void timed_actions(run *r, uint64_t now)
{
    uint64_t quarter = (uint64_t)r->idle_ms * MS / 4;
    for (int i = 0; i < r->n; i++) {
        cc *c = &r->c[i];
        if (c->state != S_UP || c->fd < 0)
            continue;
        switch (c->kind) {
        case K_ACTIVE:
        case K_UNAUTH:
            if (!c->waiting && now >= c->t_next) {
                send_ping(r, c, now);
                c->t_next = now + quarter;
            }
            break;
        case K_DRIBBLE:
            if (now >= c->t_next) {
                /* a PING with a 1000-byte argument, one byte at a time: never complete */
                static const char head[] = "*2\r\n$4\r\nPING\r\n$1000\r\n";
                if (c->written == 0 ? send_all(c, head, sizeof head - 1) : send_all(c, "x", 1))
                    c->written++;
                c->t_next = now + quarter / 2;
            }
            break;
        case K_PARTIAL:
            if (c->out == NULL && now >= r->phase_start && c->written == 0) {
                /* most of one large frame at once, then nothing */
                size_t body = (size_t)r->partial_bytes;
                char head[64];
                int hl = snprintf(head, sizeof head, "*2\r\n$4\r\nPING\r\n$%zu\r\n", body);
                size_t len = (size_t)hl + body * 9 / 10;
                char *data = malloc(len);
                if (data == NULL)
                    break;
                memcpy(data, head, (size_t)hl);
                memset(data + hl, 'x', len - (size_t)hl);
                queue_out(r, c, data, len);
                on_writable(r, c, now);
            }
            break;
        case K_NOREAD:
            if (c->out == NULL && now >= r->phase_start + quarter && c->written == 0) {
                static const char ping[] = "*1\r\n$4\r\nPING\r\n";
                size_t reps = 4096, len = reps * (sizeof ping - 1);
                char *data = malloc(len);
                if (data == NULL)
                    break;
                for (size_t k = 0; k < reps; k++)
                    memcpy(data + k * (sizeof ping - 1), ping, sizeof ping - 1);
                queue_out(r, c, data, len);
                watch(r, c, EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_MOD);
                on_writable(r, c, now);
            }
            break;
        default:
            break;
        }
    }
}

typedef struct slow_result {
    group g[NKINDS];
    mem start, after_partial, after_noread;
    counters st_end;
    int64_t noread_bytes_min, noread_bytes_max;
    int noread_capped;
    int64_t requests_before_noread, requests_after_noread;
    int yktd_exit;
    double seconds;
} slow_result;

static int phase_timeouts(const ykt_bench_ctx *ctx, ykt_report *rep, int64_t idle_ms,
                          int64_t auth_ms, int64_t nidle, int64_t nslow, int64_t partial_bytes,
                          slow_result *sr, run *r)
{
    char ini[256], idle[32];
    snprintf(ini, sizeof ini, "[terminal]\nauth_timeout = %lldms\n", (long long)auth_ms);
    snprintf(idle, sizeof idle, "%lldms", (long long)idle_ms);
    char note[128];
    snprintf(note, sizeof note, "timeouts: [terminal] idle_timeout = %s, auth_timeout = %lldms",
             idle, (long long)auth_ms);
    ykt_benchgw_opts o = {.yktd = ctx->yktd,
                          .rules_dir = ctx->rules,
                          .ini = ini,
                          .note = note,
                          .terminal_idle_timeout = idle};
    ykt_benchgw gw;
    if (ykt_benchgw_start_opts(&gw, &o) != 0)
        return -1;
    const int counts[NKINDS] = {
        [K_IDLE] = (int)nidle,    [K_ACTIVE] = (int)nslow,  [K_UNAUTH] = (int)nslow,
        [K_DRIBBLE] = (int)nslow, [K_PARTIAL] = (int)nslow, [K_NOREAD] = (int)nslow};
    int total = 0, nterm = 0;
    for (int k = 0; k < NKINDS; k++) {
        total += counts[k];
        nterm += k == K_UNAUTH ? 0 : counts[k];
    }
    ykt_fleet fleet;
    ykt_fleet_spec spec = {.terminals = nterm,
                           .terminal_type = "pos",
                           .cards = 0,
                           .seed = 1,
                           .generated_secrets = true};
    if (ykt_fleet_provision(&fleet, &gw, &spec) != 0) {
        ykt_benchgw_log_tail(&gw);
        ykt_benchgw_stop(&gw);
        return -1;
    }
    r->port = gw.port;
    r->n = total;
    r->idle_ms = idle_ms;
    r->auth_ms = auth_ms;
    r->partial_bytes = partial_bytes;
    r->c = calloc((size_t)total, sizeof *r->c);
    if (r->c == NULL) {
        fprintf(stderr, "ykt-bench conns: out of memory\n");
        exit(YKT_BENCH_EXIT_USAGE);
    }
    int i = 0, t = 0;
    for (int k = 0; k < NKINDS; k++)
        for (int j = 0; j < counts[k]; j++, i++) {
            r->c[i].fd = -1;
            r->c[i].kind = (uint8_t)k;
            r->c[i].auth = k != K_UNAUTH;
            if (r->c[i].auth)
                r->c[i].term = &fleet.terminals[t++];
        }
    int up = connect_range(r, 0, total);
    uint64_t now = ykt_bench_now_ns();
    for (i = 0; i < total; i++) {
        if (r->c[i].kind == K_UNAUTH)
            r->c[i].t_ref = r->c[i].t_connected;
        r->c[i].t_next = now;
    }
    sr->start = mem_now(gw.pid);
    r->phase_start = now;
    int64_t longest = idle_ms > auth_ms ? idle_ms : auth_ms;
    uint64_t quarter = (uint64_t)idle_ms * MS / 4;
    uint64_t end = now + (uint64_t)(2 * longest + 1000) * MS;
    bool took_partial = false, took_noread = false;
    while (up == total && !ykt_bench_interrupted && (now = ykt_bench_now_ns()) < end) {
        timed_actions(r, now);
        if (!took_partial && now >= r->phase_start + quarter) {
            sr->after_partial = mem_now(gw.pid);
            counters st;
            if (status_get(&gw, &st) == 0)
                sr->requests_before_noread = st.requests;
            took_partial = true;
        }
        if (!took_noread && now >= r->phase_start + 2 * quarter) {
            sr->after_noread = mem_now(gw.pid);
            counters st;
            if (status_get(&gw, &st) == 0)
                sr->requests_after_noread = st.requests;
            took_noread = true;
        }
        pump(r, 10);
    }
    sr->seconds = (double)(ykt_bench_now_ns() - r->phase_start) / 1e9;
    status_get(&gw, &sr->st_end);
    sr->noread_bytes_min = -1;
    for (i = 0; i < total; i++) {
        const cc *c = &r->c[i];
        if (c->kind != K_NOREAD)
            continue;
        int64_t w = (int64_t)c->written;
        if (sr->noread_bytes_min < 0 || w < sr->noread_bytes_min)
            sr->noread_bytes_min = w;
        if (w > sr->noread_bytes_max)
            sr->noread_bytes_max = w;
        sr->noread_capped += c->written >= NOREAD_CAP;
    }
    close_all(r);
    sr->yktd_exit = ykt_benchgw_stop(&gw);

    const int64_t expect[NKINDS] = {
        [K_IDLE] = idle_ms,    [K_UNAUTH] = auth_ms, [K_DRIBBLE] = idle_ms,
        [K_PARTIAL] = idle_ms, [K_NOREAD] = idle_ms, [K_ACTIVE] = 0};
    /* The sweep runs every 200 ms; allow for a loaded machine on top. */
    const int64_t late = 2000, early = 150;
    ykt_report_begin(rep, "timeouts");
    ykt_report_int(rep, "idle_timeout_ms", idle_ms);
    ykt_report_int(rep, "auth_timeout_ms", auth_ms);
    ykt_report_str(rep, "config", note);
    ykt_report_num(rep, "seconds", sr->seconds, 2);
    ykt_report_int(rep, "set_up", up);
    ykt_report_int(rep, "of", total);
    for (int k = K_IDLE; k <= K_NOREAD; k++) {
        group *g = &sr->g[k];
        summarize_group(r, k, g);
        g->expect_ms = expect[k];
        if (g->expect_ms == 0)
            g->ok = g->alive == g->count;
        else if (k == K_NOREAD) /* yktd's last request may precede our last write */
            g->ok = g->closed == g->count && g->max_ms <= g->expect_ms + late;
        else
            g->ok = g->closed == g->count && g->min_ms >= g->expect_ms - early &&
                    g->max_ms <= g->expect_ms + late;
        ykt_report_begin(rep, kind_names[k]);
        ykt_report_int(rep, "connections", g->count);
        ykt_report_int(rep, "closed_by_yktd", g->closed);
        ykt_report_int(rep, "still_open", g->alive);
        if (g->expect_ms > 0) {
            ykt_report_int(rep, "expected_close_ms", g->expect_ms);
            ykt_report_int(rep, "close_after_ms_min", g->min_ms);
            ykt_report_int(rep, "close_after_ms_max", g->max_ms);
        }
        ykt_report_bool(rep, "as_expected", g->ok);
        ykt_report_end(rep);
        if (!g->ok)
            error_note(r, "%s connections: %s", kind_names[k],
                       g->expect_ms == 0 ? "closed although active" : "not closed in time");
    }
    mem_report(rep, "memory_start", sr->start);
    mem_report(rep, "memory_after_partial_frames", sr->after_partial);
    mem_report(rep, "memory_after_noread_stalled", sr->after_noread);
    ykt_report_num(rep, "partial_rss_bytes_per_connection",
                   nslow > 0 ? 1024.0 * (double)(sr->after_partial.rss_kb - sr->start.rss_kb) /
                                   (double)nslow
                             : 0,
                   0);
    ykt_report_num(rep, "noread_rss_bytes_per_connection",
                   nslow > 0
                       ? 1024.0 * (double)(sr->after_noread.rss_kb - sr->after_partial.rss_kb) /
                             (double)nslow
                       : 0,
                   0);
    ykt_report_int(rep, "partial_frame_bytes_sent", partial_bytes * 9 / 10);
    ykt_report_int(rep, "noread_bytes_sent_min", sr->noread_bytes_min);
    ykt_report_int(rep, "noread_bytes_sent_max", sr->noread_bytes_max);
    ykt_report_int(rep, "noread_never_stalled", sr->noread_capped);
    /* what yktd answered while the non-readers wrote (plus the few PINGs of active, unauth) */
    ykt_report_int(rep, "yktd_requests_during_noread",
                   sr->requests_after_noread - sr->requests_before_noread);
    ykt_report_int(rep, "yktd_terminal_connections_at_end", sr->st_end.terminal);
    ykt_report_int(rep, "yktd_exit_status", sr->yktd_exit);
    ykt_report_end(rep);
    if (sr->st_end.terminal != nslow)
        error_note(r, "%s: %s", "at the end", "yktd does not count just the active connections");

    ykt_fleet_free(&fleet);
    free(r->c);
    r->c = NULL;
    return 0;
}

int ykt_bench_conns(ykt_bench_ctx *ctx, int argc, char **argv)
{
    int64_t n = 10000, nauth = -1, hold_s = 5, sample = 100, idle_ms = 2000, auth_ms = 1000;
    int64_t nidle = 100, nslow = 5, partial = 1000000, yktd_nofile = 0;
    const ykt_bench_opt opts[] = {
        {"--connections", 1, 1000000, &n},
        {"--auth", 0, 1000000, &nauth},
        {"--hold", 2, 3600, &hold_s},
        {"--sample", 1, 1000000, &sample},
        {"--idle-timeout", 100, 60000, &idle_ms},
        {"--auth-timeout", 100, 60000, &auth_ms},
        {"--idle", 1, 10000, &nidle},
        {"--slow", 1, 1000, &nslow},
        {"--partial-bytes", 1000, 60000000, &partial},
        {"--yktd-nofile", 64, 10000000, &yktd_nofile},
    };
    if (ykt_bench_parse(ctx, argc, argv, opts, (int)YKT_ARRAY_LEN(opts)) != 0)
        return YKT_BENCH_EXIT_USAGE;
    if (nauth < 0 || nauth > n)
        nauth = n;
    rlim_t was;
    int64_t room = n + 1 > nidle + 6 * nslow ? n + 1 : nidle + 6 * nslow;
    if (raise_nofile(room, &was) != 0)
        return YKT_BENCH_EXIT_USAGE;

    ykt_report *rep = ykt_report_new();
    ykt_bench_report_head(rep, ctx, "conns");
    run r = {.ep = epoll_create1(EPOLL_CLOEXEC)};
    if (r.ep < 0) {
        perror("ykt-bench conns: epoll_create1");
        ykt_report_free(rep);
        return YKT_BENCH_EXIT_USAGE;
    }
    ykt_lat_init(&r.lat);
    hold_result hr;
    memset(&hr, 0, sizeof hr);
    if (phase_hold(ctx, rep, n, nauth, hold_s, sample, yktd_nofile, &hr, &r) != 0) {
        close(r.ep);
        ykt_lat_free(&r.lat);
        ykt_report_free(rep);
        return YKT_BENCH_EXIT_USAGE;
    }
    ykt_lat_free(&r.lat);
    ykt_lat_init(&r.lat);
    slow_result sr;
    memset(&sr, 0, sizeof sr);
    bool timed = false;
    if (!ykt_bench_interrupted) {
        timed = phase_timeouts(ctx, rep, idle_ms, auth_ms, nidle, nslow, partial, &sr, &r) == 0;
        if (!timed)
            error_note(&r, "%s: %s", "timeouts", "the second yktd could not be set up");
    }
    ykt_report_end(rep); /* results */
    close(r.ep);
    ykt_lat_free(&r.lat);

    int yktd_exit = hr.yktd_exit != 0 ? hr.yktd_exit : sr.yktd_exit;
    bool good = r.errors == 0 && yktd_exit == 0 && timed && hr.up == n && hr.dropped == 0 &&
                hr.busy_ok && hr.closed_ok && !ykt_bench_interrupted;
    ykt_report_begin(rep, "errors");
    ykt_report_int(rep, "total", (int64_t)r.errors);
    if (r.first_error[0] != '\0')
        ykt_report_str(rep, "first", r.first_error);
    ykt_report_int(rep, "yktd_exit_status", yktd_exit);
    ykt_report_end(rep);
    if (ykt_bench_interrupted)
        ykt_report_bool(rep, "interrupted", true);
    ykt_report_bool(rep, "ok", good);
    ykt_report_print(rep, stdout, ctx->json);
    ykt_report_free(rep);
    (void)was;
    return good ? 0 : YKT_BENCH_EXIT_FAIL;
}
