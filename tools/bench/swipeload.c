/*
 * The load of `ykt-bench swipe` and `ykt-bench door`: card swipes of one verb from many
 * terminals, each swipe signed by a software card, against a private yktd.
 *
 * Each connection is one terminal with one request in flight (no pipelining), as a real
 * reader works. Each connection swipes its own share of the cards round-robin: a card's ATC
 * must rise from one accepted swipe to the next, and two connections swiping the same card
 * concurrently could deliver the ATCs out of order.
 *
 * Closed loop (default): send, wait for the reply, send the next. Latency is send to reply.
 * Open loop (--rate R): connection k of N sends at start + k/R + i*N/R and latency is
 * measured from that scheduled time, so a slow reply delays the next send and its latency
 * counts that wait (no coordinated omission). Slots left unsent at the end are reported as
 * behind_schedule: the gateway (or this machine) could not keep the rate.
 *
 * The connections are driven by a few driver threads (--threads, default 1), each owning a
 * contiguous share of them and multiplexing them with ppoll(): a pass sends what is due on
 * each of its connections, then waits for replies or the next due slot. A thread per
 * connection with blocking I/O costs two context switches per request, and this generator
 * shares the machine with the gateway it measures: its CPU and scheduling noise would show
 * up in the latencies.
 */
#define _GNU_SOURCE /* ppoll */
#include "adminq.h"
#include "bench.h"
#include "common.h"
#include "fleet.h"
#include "gateway.h"
#include "swipeload.h"
#include "latency.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#define MAX_CODES     16
#define SLOW_US       1000 /* the door target's p99 (issue 6): replies slower are counted */
#define LATE_US       500  /* ... with those of them sent at least this late */
#define REPLY_TIMEOUT 30   /* seconds; a reply later than this is a failure, not a latency */
#define NS            1000000000ULL

typedef struct code_count {
    char code[32];
    uint64_t n;
} code_count;

typedef struct shared {
    const ykt_swipe_profile *profile;
    pthread_barrier_t ready, go;
    uint64_t start_ns, end_ns;
    bool abort; /* a connection could not be set up: nobody starts (set between barriers) */
    int port;
    int nconn;
    int64_t rate;      /* 0: closed loop */
    uint64_t interval; /* paced: between two slots of one connection, N/R */
} shared;

/* One connection: its terminal, its cards, the swipe it has prepared or in flight, and its
 * results. Only its driver thread touches it until the driver is joined. */
typedef struct conn {
    int index;
    shared *sh;
    const ykt_fleet_terminal *term;
    ykt_fleet_card **cards; /* this connection's share */
    int ncards;
    bool up; /* connected and authenticated; read by main after the first barrier */
    ykt_client c;
    bool live;            /* still sending or waiting: not finished, not failed */
    bool prepared;        /* out holds the next swipe, signed, not sent yet */
    bool in_flight;       /* sent, its reply not read yet */
    ykt_buf out;          /* the next swipe, as sent */
    ykt_fleet_card *card; /* of the prepared or in-flight swipe */
    uint64_t phase;       /* paced: its first slot's offset from the start, k/R */
    uint64_t slot;        /* paced: the index of the next slot to prepare */
    uint64_t scheduled;   /* paced: the slot time of the prepared swipe */
    uint64_t t0, sent_ns; /* latency start and send time of the swipe in flight */
    uint64_t seq;         /* of the last swipe signed */
    int next_card;
    /* results, read by main after join */
    ykt_lat lat;
    ykt_lat late;                  /* paced: how late each swipe was sent after its slot */
    uint64_t slow, slow_sent_late; /* paced: replies over SLOW_US, and of them sent late */
    uint64_t ok, errors, behind, last_reply_ns;
    code_count codes[MAX_CODES];
    int ncodes;
    char sample[256]; /* the first error, for the person reading the report */
} conn;

/* A driver thread and its contiguous share of the connections. */
typedef struct driver {
    pthread_t thread;
    shared *sh;
    conn *conns;
    int nconns;
} driver;

static void count_error(conn *w, const char *code, const char *detail)
{
    w->errors++;
    if (w->sample[0] == '\0')
        snprintf(w->sample, sizeof w->sample, "%s", detail);
    int i = 0;
    while (i < w->ncodes && strcmp(w->codes[i].code, code) != 0)
        i++;
    if (i == w->ncodes) {
        if (w->ncodes == MAX_CODES)
            i = MAX_CODES - 1; /* lump the rarest into the last slot */
        else
            ykt_strlcpy(w->codes[w->ncodes++].code, code, sizeof w->codes[0].code);
    }
    w->codes[i].n++;
}

/* An error reply is counted by its code; any other reply must be what the profile expects. */
static void check_reply(conn *w, const ykt_reply *r, const ykt_fleet_card *card)
{
    char detail[400];
    if (r->type == YKT_REPLY_ERROR) {
        char code[32];
        size_t n = strcspn(r->str, " ");
        snprintf(code, sizeof code, "%.*s", (int)(n < sizeof code ? n : sizeof code - 1), r->str);
        snprintf(detail, sizeof detail, "card %s: -%s", card->card_no, r->str);
        count_error(w, code, detail);
        return;
    }
    char why[200] = "";
    if (w->sh->profile->reply_ok(r, card, why, sizeof why)) {
        w->ok++;
        return;
    }
    snprintf(detail, sizeof detail, "card %s: %s", card->card_no, why);
    count_error(w, "UNEXPECTED_REPLY", detail);
}

/* Connects as this connection's terminal and sends its AUTH, whose reply read_auth reads:
 * all connections of a driver send theirs before any waits, as a terminal's AUTH may verify
 * a slow password hash. */
static int send_auth(conn *w)
{
    char detail[400];
    if (ykt_client_connect_tcp(&w->c, "127.0.0.1", w->sh->port) != 0) {
        snprintf(detail, sizeof detail, "connect: %s", w->c.err);
        count_error(w, "CONNECT", detail);
        return -1;
    }
    /* A reply read blocks at most this long (the socket stays blocking: a readable socket
     * holds the start of a reply, and yktd writes whole replies). */
    struct timeval tv = {.tv_sec = REPLY_TIMEOUT};
    setsockopt(w->c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *auth[] = {"AUTH", w->term->id, w->term->secret};
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_client_format(&b, 3, auth, NULL);
    int rc = ykt_client_send(&w->c, b.data, b.len);
    ykt_buf_free(&b);
    if (rc != 0) {
        snprintf(detail, sizeof detail, "AUTH %s: %s", w->term->id, w->c.err);
        count_error(w, "AUTH", detail);
        ykt_client_close(&w->c);
    }
    return rc;
}

static int read_auth(conn *w)
{
    ykt_reply *r = ykt_client_read(&w->c);
    int rc = 0;
    if (r == NULL || r->type != YKT_REPLY_STATUS) {
        char detail[400];
        snprintf(detail, sizeof detail, "AUTH %s: %s", w->term->id,
                 r == NULL ? w->c.err
                 : r->str  ? r->str
                           : "unexpected reply");
        count_error(w, "AUTH", detail);
        rc = -1;
    }
    if (r != NULL)
        ykt_reply_free(r);
    if (rc != 0)
        ykt_client_close(&w->c);
    return rc;
}

/* The connection is done: closed, never polled again. */
static void conn_finish(conn *w)
{
    ykt_client_close(&w->c);
    w->live = false;
    w->prepared = false;
    w->in_flight = false;
}

/* The connection failed: counted as before (CONNECTION) and dropped; the others carry on. */
static void conn_fail(conn *w, const char *why)
{
    char detail[400];
    snprintf(detail, sizeof detail, "%s: %s", w->term->id, why);
    count_error(w, "CONNECTION", detail);
    conn_finish(w);
}

/*
 * The send phase of one connection. With nothing in flight it prepares the next swipe (the
 * card signs first: that is the card's work, not the gateway's) and sends it when it is due:
 * at once in the closed loop, at its slot when paced. now is the time of the driver's pass
 * (one clock read for all its connections). Returns the time the prepared swipe is due when
 * that is still ahead, or 0. Past the end (or on Ctrl-C) the connection finishes; paced
 * slots it never got to send by the end count as behind schedule.
 */
static uint64_t send_phase(conn *w, uint64_t now)
{
    shared *sh = w->sh;
    if (!w->live || w->in_flight)
        return 0;
    if (ykt_bench_interrupted) {
        conn_finish(w);
        return 0;
    }
    if (!w->prepared) {
        uint64_t scheduled = sh->start_ns + w->phase + w->slot * sh->interval;
        if (sh->rate > 0 && scheduled >= sh->end_ns) {
            conn_finish(w);
            return 0;
        }
        if (now >= sh->end_ns) {
            if (sh->rate > 0) /* the slots from here to the end were never sent */
                w->behind += (sh->end_ns - scheduled + sh->interval - 1) / sh->interval;
            conn_finish(w);
            return 0;
        }
        ykt_fleet_card *card = w->cards[w->next_card];
        w->next_card = (w->next_card + 1) % w->ncards;
        struct ykt_simcard_tx tx = {.terminal_id = w->term->id,
                                    .verb = sh->profile->verb,
                                    .seq = ++w->seq,
                                    .time_ms = ykt_now_ms()};
        struct ykt_simcard_args args;
        if (ykt_simcard_swipe_args(&card->sim, &tx, &args) != YKT_OK) {
            count_error(w, "SIGN", "the software card could not sign (ATC exhausted?)");
            conn_finish(w);
            return 0;
        }
        ykt_buf_reset(&w->out);
        ykt_client_format(&w->out, args.argc, args.argv, args.argl);
        w->card = card;
        w->scheduled = scheduled;
        w->slot++;
        w->prepared = true;
    }
    if (sh->rate > 0 && now < w->scheduled)
        return w->scheduled;
    uint64_t t = ykt_bench_now_ns();
    if (ykt_client_send(&w->c, w->out.data, w->out.len) != 0) {
        conn_fail(w, w->c.err);
        return 0;
    }
    w->prepared = false;
    w->in_flight = true;
    w->t0 = sh->rate > 0 ? w->scheduled : t;
    w->sent_ns = t;
    return 0;
}

/*
 * The reply phase of one connection whose socket is readable: takes the reply (at least one
 * recv), records its latency and checks it. With one request in flight nothing may be
 * buffered behind it; a reply nobody asked for puts the stream out of step, so the
 * connection is dropped as failed.
 */
static void reply_phase(conn *w)
{
    ykt_reply *r = ykt_client_read(&w->c);
    uint64_t t1 = ykt_bench_now_ns();
    if (r == NULL) {
        conn_fail(w, w->c.err);
        return;
    }
    ykt_lat_add(&w->lat, (t1 - w->t0) / 1000);
    /* Paced, t0 is the slot and the send is at it or after; otherwise they are equal. */
    uint64_t late_us = w->sent_ns > w->t0 ? (w->sent_ns - w->t0) / 1000 : 0;
    ykt_lat_add(&w->late, late_us);
    if ((t1 - w->t0) / 1000 > SLOW_US) {
        w->slow++;
        if (late_us > LATE_US)
            w->slow_sent_late++;
    }
    w->last_reply_ns = t1;
    w->in_flight = false;
    check_reply(w, r, w->card);
    ykt_reply_free(r);
    if (w->c.in.len > 0)
        conn_fail(w, "a reply to no request (one request in flight)");
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Connects its connections, waits at the start barrier, then drives them until every one
 * has finished: the send phase of each, one ppoll() for the replies or the next due slot,
 * the reply phase of each readable one. */
static void *driver_main(void *arg)
{
    driver *d = arg;
    shared *sh = d->sh;
    for (int k = 0; k < d->nconns; k++)
        d->conns[k].up = send_auth(&d->conns[k]) == 0;
    for (int k = 0; k < d->nconns; k++)
        if (d->conns[k].up)
            d->conns[k].up = read_auth(&d->conns[k]) == 0;
    pthread_barrier_wait(&sh->ready);
    pthread_barrier_wait(&sh->go);
    if (sh->abort) {
        for (int k = 0; k < d->nconns; k++)
            if (d->conns[k].up)
                ykt_client_close(&d->conns[k].c);
        return NULL;
    }

    char timeout_why[64];
    snprintf(timeout_why, sizeof timeout_why, "no reply within %d s", REPLY_TIMEOUT);
    struct pollfd *pfd = calloc((size_t)d->nconns, sizeof *pfd);
    conn **polled = calloc((size_t)d->nconns, sizeof *polled);
    if (pfd == NULL || polled == NULL) {
        fprintf(stderr, "ykt-bench: out of memory\n");
        exit(YKT_BENCH_EXIT_USAGE);
    }
    for (int k = 0; k < d->nconns; k++) {
        d->conns[k].live = d->conns[k].up;
        ykt_buf_init(&d->conns[k].out);
    }
    for (;;) {
        uint64_t deadline = UINT64_MAX, now = ykt_bench_now_ns();
        for (int k = 0; k < d->nconns; k++) {
            uint64_t due = send_phase(&d->conns[k], now);
            if (due != 0)
                deadline = min_u64(deadline, due);
        }
        nfds_t np = 0;
        for (int k = 0; k < d->nconns; k++) {
            conn *w = &d->conns[k];
            if (!w->in_flight)
                continue;
            pfd[np] = (struct pollfd){.fd = w->c.fd, .events = POLLIN};
            polled[np++] = w;
            deadline = min_u64(deadline, w->sent_ns + REPLY_TIMEOUT * NS);
        }
        if (deadline == UINT64_MAX)
            break; /* nothing in flight, nothing to send: all finished */
        now = ykt_bench_now_ns();
        uint64_t wait = deadline > now ? deadline - now : 0;
        struct timespec ts = {.tv_sec = (time_t)(wait / NS), .tv_nsec = (long)(wait % NS)};
        int n = ppoll(np > 0 ? pfd : NULL, np, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            char why[300];
            snprintf(why, sizeof why, "ppoll: %s", strerror(errno));
            for (nfds_t i = 0; i < np; i++)
                conn_fail(polled[i], why);
            continue;
        }
        now = ykt_bench_now_ns();
        for (nfds_t i = 0; i < np; i++) {
            conn *w = polled[i];
            if (n > 0 && pfd[i].revents != 0)
                reply_phase(w);
            else if (now - w->sent_ns >= REPLY_TIMEOUT * NS)
                conn_fail(w, timeout_why);
        }
    }
    for (int k = 0; k < d->nconns; k++)
        ykt_buf_free(&d->conns[k].out);
    free(pfd);
    free(polled);
    return NULL;
}

static void merge_codes(code_count *all, int *nall, const conn *w)
{
    for (int k = 0; k < w->ncodes; k++) {
        int i = 0;
        while (i < *nall && strcmp(all[i].code, w->codes[k].code) != 0)
            i++;
        if (i == *nall) {
            if (*nall == MAX_CODES) {
                i = MAX_CODES - 1;
            } else {
                all[i] = w->codes[k];
                all[i].n = 0;
                (*nall)++;
            }
        }
        all[i].n += w->codes[k].n;
    }
}

int ykt_swipeload_run(ykt_bench_ctx *ctx, int argc, char **argv, const ykt_swipe_profile *p)
{
    int64_t nconn = 8, ncards = 1000, seconds = 10, rate = 0, nthreads = 1;
    const ykt_bench_opt opts[] = {
        {"--connections", 1, 1000, &nconn}, {"--cards", 1, 1000000, &ncards},
        {"--seconds", 1, 3600, &seconds},   {"--rate", 0, 10000000, &rate},
        {"--threads", 1, 1000, &nthreads},
    };
    if (ykt_bench_parse(ctx, argc, argv, opts, (int)YKT_ARRAY_LEN(opts)) != 0)
        return YKT_BENCH_EXIT_USAGE;
    if (ncards < nconn) {
        fprintf(stderr,
                "ykt-bench %s: --cards must be at least --connections: each connection "
                "swipes cards of its own\n",
                p->name);
        return YKT_BENCH_EXIT_USAGE;
    }
    if (nthreads > nconn) {
        fprintf(stderr,
                "ykt-bench %s: --threads must be at most --connections: each driver thread "
                "drives connections of its own\n",
                p->name);
        return YKT_BENCH_EXIT_USAGE;
    }

    /* The head first: its date and load average are those at the start of the run. */
    ykt_report *rep = ykt_report_new();
    ykt_bench_report_head(rep, ctx, p->name);
    ykt_benchgw gw;
    char ini[YKT_BENCH_PATH_MAX + 256] = "";
    if (p->gateway_ini != NULL && p->gateway_ini(ctx, ini, sizeof ini) != 0) {
        ykt_report_free(rep);
        return YKT_BENCH_EXIT_USAGE;
    }
    ykt_benchgw_opts gopts = {.yktd = ctx->yktd,
                              .keep_dir = ctx->keep,
                              .rules_dir = ctx->rules,
                              .ini = ini[0] ? ini : NULL,
                              .note = p->gateway_note};
    if (ykt_benchgw_start_opts(&gw, &gopts) != 0) {
        ykt_report_free(rep);
        return YKT_BENCH_EXIT_USAGE;
    }
    ykt_fleet fleet;
    ykt_fleet_spec spec = {.terminals = (int)nconn,
                           .terminal_type = p->terminal_type,
                           .cards = (int)ncards,
                           .topup = p->topup,
                           .seed = 1};
    uint64_t p0 = ykt_bench_now_ns();
    if (ykt_fleet_provision(&fleet, &gw, &spec) != 0 ||
        (p->setup != NULL && p->setup(&gw, &fleet) != 0)) {
        ykt_benchgw_log_tail(&gw);
        ykt_benchgw_stop(&gw);
        ykt_report_free(rep);
        return YKT_BENCH_EXIT_USAGE;
    }
    double provision_seconds = (double)(ykt_bench_now_ns() - p0) / 1e9;

    ykt_client adm;
    ykt_adminq_status st0 = {0}, st1 = {0};
    bool have_admin = ykt_benchgw_admin(&gw, &adm) == 0;

    shared sh = {.profile = p,
                 .port = gw.port,
                 .nconn = (int)nconn,
                 .rate = rate,
                 .interval = rate > 0 ? (uint64_t)nconn * NS / (uint64_t)rate : 0};
    conn *ws = calloc((size_t)nconn, sizeof *ws);
    driver *ds = calloc((size_t)nthreads, sizeof *ds);
    ykt_fleet_card **shares = calloc((size_t)ncards, sizeof *shares);
    if (ws == NULL || ds == NULL || shares == NULL) {
        fprintf(stderr, "ykt-bench: out of memory\n");
        exit(YKT_BENCH_EXIT_USAGE);
    }
    pthread_barrier_init(&sh.ready, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&sh.go, NULL, (unsigned)nthreads + 1);
    /* Connection k swipes cards k, k + N, k + 2N, ...: disjoint shares. */
    int filled = 0;
    for (int k = 0; k < nconn; k++) {
        conn *w = &ws[k];
        w->index = k;
        w->sh = &sh;
        w->term = &fleet.terminals[k];
        w->cards = shares + filled;
        for (int i = k; i < ncards; i += (int)nconn)
            shares[filled++] = &fleet.cards[i];
        w->ncards = (int)(shares + filled - w->cards);
        w->phase = rate > 0 ? (uint64_t)k * NS / (uint64_t)rate : 0;
        w->c.fd = -1;
        ykt_lat_init(&w->lat);
        ykt_lat_init(&w->late);
    }
    /* Driver thread t drives connections t*N/T up to (t+1)*N/T. */
    uint64_t c0 = ykt_bench_now_ns();
    for (int t = 0; t < nthreads; t++) {
        driver *d = &ds[t];
        int first = (int)(t * nconn / nthreads), last = (int)((t + 1) * nconn / nthreads);
        d->sh = &sh;
        d->conns = ws + first;
        d->nconns = last - first;
        if (pthread_create(&d->thread, NULL, driver_main, d) != 0) {
            fprintf(stderr, "ykt-bench: cannot start thread %d\n", t);
            exit(YKT_BENCH_EXIT_USAGE);
        }
    }
    pthread_barrier_wait(&sh.ready);
    /* Not part of the measurement, but worth seeing: AUTH of a terminal whose secret an
     * operator chose verifies a slow password hash. */
    double auth_seconds = (double)(ykt_bench_now_ns() - c0) / 1e9;
    for (int k = 0; k < nconn; k++)
        sh.abort |= !ws[k].up;
    /* Every connection is up and authenticated: snapshot the counters, then go. */
    if (have_admin && ykt_adminq_status_get(&adm, &st0) != 0)
        have_admin = false;
    double ycpu0 = ykt_benchgw_cpu_seconds(&gw), bcpu0 = ykt_bench_cpu_seconds();
    sh.start_ns = ykt_bench_now_ns() + 1000000; /* 1 ms: every thread is past the barrier */
    sh.end_ns = sh.start_ns + (uint64_t)seconds * NS;
    pthread_barrier_wait(&sh.go);
    for (int t = 0; t < nthreads; t++)
        pthread_join(ds[t].thread, NULL);
    double ycpu1 = ykt_benchgw_cpu_seconds(&gw), bcpu1 = ykt_bench_cpu_seconds();
    if (have_admin && ykt_adminq_status_get(&adm, &st1) != 0)
        have_admin = false;
    if (have_admin)
        ykt_client_close(&adm);
    pthread_barrier_destroy(&sh.ready);
    pthread_barrier_destroy(&sh.go);

    ykt_lat all, late;
    ykt_lat_init(&all);
    ykt_lat_init(&late);
    uint64_t slow = 0, slow_sent_late = 0;
    code_count codes[MAX_CODES];
    int ncodes = 0;
    uint64_t ok = 0, errors = 0, behind = 0, last = sh.start_ns;
    const char *sample = "";
    for (int k = 0; k < nconn; k++) {
        conn *w = &ws[k];
        ykt_lat_merge(&all, &w->lat);
        ykt_lat_merge(&late, &w->late);
        slow += w->slow;
        slow_sent_late += w->slow_sent_late;
        ok += w->ok;
        errors += w->errors;
        behind += w->behind;
        if (w->last_reply_ns > last)
            last = w->last_reply_ns;
        if (sample[0] == '\0')
            sample = w->sample;
        merge_codes(codes, &ncodes, w);
    }
    ykt_lat_summary sum;
    ykt_lat_summarize(&all, &sum);
    double elapsed = (double)(last - sh.start_ns) / 1e9;
    uint64_t completed = (uint64_t)sum.n;

    ykt_benchgw_report(&gw, rep, have_admin ? st0.version : "unknown");
    ykt_report_begin(rep, "params");
    ykt_report_str(rep, "verb", p->verb);
    ykt_report_int(rep, "connections", nconn);
    ykt_report_int(rep, "threads", nthreads);
    ykt_report_int(rep, "terminals", nconn);
    ykt_report_int(rep, "cards", ncards);
    ykt_report_int(rep, "seconds", seconds);
    ykt_report_str(rep, "mode", rate > 0 ? "open loop (paced)" : "closed loop");
    ykt_report_int(rep, "rate", rate);
    ykt_report_str(rep, "pipelining", "off (one request in flight per connection)");
    if (p->topup != NULL)
        ykt_report_str(rep, "topup_per_card", p->topup);
    if (p->report_params != NULL)
        p->report_params(rep, (int)nconn);
    ykt_report_num(rep, "provision_seconds", provision_seconds, 2);
    ykt_report_num(rep, "connect_auth_seconds", auth_seconds, 2);
    ykt_report_end(rep);

    ykt_report_begin(rep, "results");
    ykt_report_int(rep, "requests", (int64_t)completed);
    ykt_report_int(rep, "succeeded", (int64_t)ok);
    ykt_report_num(rep, "seconds", elapsed, 3);
    ykt_report_num(rep, "throughput_per_s", elapsed > 0 ? (double)completed / elapsed : 0, 0);
    if (rate > 0) {
        ykt_report_int(rep, "target_rate_per_s", rate);
        ykt_report_num(rep, "achieved_rate_per_s", elapsed > 0 ? (double)completed / elapsed : 0,
                       0);
        ykt_report_int(rep, "behind_schedule", (int64_t)behind);
        if (behind > 0)
            ykt_report_str(rep, "note",
                           "the target rate was not reached: latencies include the wait "
                           "behind schedule");
    }
    ykt_lat_report(rep, "latency_us", &sum);
    if (rate > 0) {
        /* This machine's load generator shares its cores with yktd: a swipe it sends late
         * counts the wait in its latency. How much of the tail is the generator's own. */
        ykt_lat_summary ls;
        ykt_lat_summarize(&late, &ls);
        ykt_lat_report(rep, "send_late_us", &ls);
        ykt_report_int(rep, "over_1ms", (int64_t)slow);
        ykt_report_int(rep, "over_1ms_sent_over_0_5ms_late", (int64_t)slow_sent_late);
    }
    ykt_bench_note_short_run(rep, rate, seconds);
    if (have_admin) {
        int64_t commits = st1.commits - st0.commits;
        ykt_report_int(rep, "commits", commits);
        ykt_report_num(rep, "requests_per_commit",
                       commits > 0 ? (double)completed / (double)commits : 0, 2);
    }
    ykt_report_num(rep, "yktd_cpu_percent",
                   ycpu0 >= 0 && ycpu1 >= 0 && elapsed > 0 ? 100 * (ycpu1 - ycpu0) / elapsed : -1,
                   0);
    ykt_report_num(rep, "bench_cpu_percent", elapsed > 0 ? 100 * (bcpu1 - bcpu0) / elapsed : -1, 0);
    ykt_report_end(rep);

    int rc = ykt_benchgw_stop(&gw);
    ykt_report_begin(rep, "errors");
    ykt_report_int(rep, "total", (int64_t)errors);
    for (int i = 0; i < ncodes; i++)
        ykt_report_int(rep, codes[i].code, (int64_t)codes[i].n);
    if (sample[0] != '\0')
        ykt_report_str(rep, "first", sample);
    ykt_report_int(rep, "yktd_exit_status", rc);
    ykt_report_end(rep);
    bool good = errors == 0 && rc == 0 && !sh.abort && !ykt_bench_interrupted && completed > 0;
    if (ykt_bench_interrupted)
        ykt_report_bool(rep, "interrupted", true);
    ykt_report_bool(rep, "ok", good);
    ykt_report_print(rep, stdout, ctx->json);

    ykt_report_free(rep);
    ykt_lat_free(&all);
    ykt_lat_free(&late);
    for (int k = 0; k < nconn; k++) {
        ykt_lat_free(&ws[k].lat);
        ykt_lat_free(&ws[k].late);
    }
    free(ws);
    free(ds);
    free(shares);
    ykt_fleet_free(&fleet);
    return good ? 0 : YKT_BENCH_EXIT_FAIL;
}
