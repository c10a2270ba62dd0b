/*
 * The load of `ykt-bench swipe` and `ykt-bench door`: card swipes of one verb from many
 * terminals, each swipe signed by a software card, against a private yktd.
 *
 * One thread per connection, each connection one terminal with one request in flight
 * (no pipelining), as a real reader works. Each connection swipes its own share of the
 * cards round-robin: a card's ATC must rise from one accepted swipe to the next, and two
 * connections swiping the same card concurrently could deliver the ATCs out of order.
 *
 * Closed loop (default): send, wait for the reply, send the next. Latency is send to reply.
 * Open loop (--rate R): connection k of N sends at start + k/R + i*N/R and latency is
 * measured from that scheduled time, so a slow reply delays the next send and its latency
 * counts that wait (no coordinated omission). Slots left unsent at the end are reported as
 * behind_schedule: the gateway (or this machine) could not keep the rate.
 */
#include "adminq.h"
#include "bench.h"
#include "common.h"
#include "fleet.h"
#include "gateway.h"
#include "swipeload.h"
#include "latency.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#define MAX_CODES     16
#define REPLY_TIMEOUT 30 /* seconds; a reply later than this is a failure, not a latency */

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
    int64_t rate; /* 0: closed loop */
} shared;

typedef struct worker {
    pthread_t thread;
    int index;
    shared *sh;
    const ykt_fleet_terminal *term;
    ykt_fleet_card **cards; /* this connection's share */
    int ncards;
    bool up; /* connected and authenticated; read by main after the first barrier */
    /* results, read by main after join */
    ykt_lat lat;
    uint64_t ok, errors, behind, last_reply_ns;
    code_count codes[MAX_CODES];
    int ncodes;
    char sample[256]; /* the first error, for the person reading the report */
} worker;

static void count_error(worker *w, const char *code, const char *detail)
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
static void check_reply(worker *w, const ykt_reply *r, const ykt_fleet_card *card)
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

static void sleep_until(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ULL),
                          .tv_nsec = (long)(ns % 1000000000ULL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !ykt_bench_interrupted) {
    }
}

/* Connects and authenticates as this worker's terminal. */
static int connect_terminal(worker *w, ykt_client *c)
{
    char detail[400];
    if (ykt_client_connect_tcp(c, "127.0.0.1", w->sh->port) != 0) {
        snprintf(detail, sizeof detail, "connect: %s", c->err);
        count_error(w, "CONNECT", detail);
        return -1;
    }
    struct timeval tv = {.tv_sec = REPLY_TIMEOUT};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char *auth[] = {"AUTH", w->term->id, w->term->secret};
    ykt_reply *r = ykt_client_call(c, 3, auth, NULL);
    int rc = 0;
    if (r == NULL || r->type != YKT_REPLY_STATUS) {
        snprintf(detail, sizeof detail, "AUTH %s: %s", w->term->id,
                 r == NULL ? c->err
                 : r->str  ? r->str
                           : "unexpected reply");
        count_error(w, "AUTH", detail);
        rc = -1;
    }
    if (r != NULL)
        ykt_reply_free(r);
    if (rc != 0)
        ykt_client_close(c);
    return rc;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    ykt_client c;
    w->up = connect_terminal(w, &c) == 0;
    pthread_barrier_wait(&sh->ready);
    pthread_barrier_wait(&sh->go);
    if (!w->up || sh->abort) {
        if (w->up)
            ykt_client_close(&c);
        return NULL;
    }

    struct ykt_simcard_tx tx = {.terminal_id = w->term->id, .verb = sh->profile->verb};
    struct ykt_simcard_args args;
    ykt_buf out;
    ykt_buf_init(&out);
    const uint64_t interval =
        sh->rate > 0 ? (uint64_t)sh->nconn * 1000000000ULL / (uint64_t)sh->rate : 0;
    const uint64_t phase =
        sh->rate > 0 ? (uint64_t)w->index * 1000000000ULL / (uint64_t)sh->rate : 0;
    uint64_t seq = 0;
    int next_card = 0;
    for (uint64_t i = 0; !ykt_bench_interrupted; i++) {
        uint64_t scheduled = sh->start_ns + phase + i * interval;
        uint64_t now = ykt_bench_now_ns();
        if (sh->rate > 0 && scheduled >= sh->end_ns)
            break;
        if (now >= sh->end_ns) {
            if (sh->rate > 0) /* the slots from here to the end were never sent */
                w->behind += (sh->end_ns - scheduled + interval - 1) / interval;
            break;
        }
        ykt_fleet_card *card = w->cards[next_card];
        next_card = (next_card + 1) % w->ncards;
        /* The card signs first: that is the card's work, not the gateway's. */
        tx.seq = ++seq;
        tx.time_ms = ykt_now_ms();
        if (ykt_simcard_swipe_args(&card->sim, &tx, &args) != YKT_OK) {
            count_error(w, "SIGN", "the software card could not sign (ATC exhausted?)");
            break;
        }
        ykt_buf_reset(&out);
        ykt_client_format(&out, args.argc, args.argv, args.argl);
        if (sh->rate > 0 && now < scheduled)
            sleep_until(scheduled);
        uint64_t t0 = sh->rate > 0 ? scheduled : ykt_bench_now_ns();
        ykt_reply *r = ykt_client_send(&c, out.data, out.len) == 0 ? ykt_client_read(&c) : NULL;
        uint64_t t1 = ykt_bench_now_ns();
        if (r == NULL) {
            char detail[400];
            snprintf(detail, sizeof detail, "%s: %s", w->term->id, c.err);
            count_error(w, "CONNECTION", detail);
            break; /* the connection is gone; the others carry on */
        }
        ykt_lat_add(&w->lat, (t1 - t0) / 1000);
        w->last_reply_ns = t1;
        check_reply(w, r, card);
        ykt_reply_free(r);
    }
    ykt_buf_free(&out);
    ykt_client_close(&c);
    return NULL;
}

static void merge_codes(code_count *all, int *nall, const worker *w)
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
    int64_t nconn = 8, ncards = 1000, seconds = 10, rate = 0;
    const ykt_bench_opt opts[] = {
        {"--connections", 1, 1000, &nconn},
        {"--cards", 1, 1000000, &ncards},
        {"--seconds", 1, 3600, &seconds},
        {"--rate", 0, 10000000, &rate},
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

    shared sh = {.profile = p, .port = gw.port, .nconn = (int)nconn, .rate = rate};
    worker *ws = calloc((size_t)nconn, sizeof *ws);
    ykt_fleet_card **shares = calloc((size_t)ncards, sizeof *shares);
    if (ws == NULL || shares == NULL) {
        fprintf(stderr, "ykt-bench: out of memory\n");
        exit(YKT_BENCH_EXIT_USAGE);
    }
    pthread_barrier_init(&sh.ready, NULL, (unsigned)nconn + 1);
    pthread_barrier_init(&sh.go, NULL, (unsigned)nconn + 1);
    /* Connection k swipes cards k, k + N, k + 2N, ...: disjoint shares. */
    int filled = 0;
    uint64_t c0 = ykt_bench_now_ns();
    for (int k = 0; k < nconn; k++) {
        worker *w = &ws[k];
        w->index = k;
        w->sh = &sh;
        w->term = &fleet.terminals[k];
        w->cards = shares + filled;
        for (int i = k; i < ncards; i += (int)nconn)
            shares[filled++] = &fleet.cards[i];
        w->ncards = (int)(shares + filled - w->cards);
        ykt_lat_init(&w->lat);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "ykt-bench: cannot start thread %d\n", k);
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
    sh.end_ns = sh.start_ns + (uint64_t)seconds * 1000000000ULL;
    pthread_barrier_wait(&sh.go);
    for (int k = 0; k < nconn; k++)
        pthread_join(ws[k].thread, NULL);
    double ycpu1 = ykt_benchgw_cpu_seconds(&gw), bcpu1 = ykt_bench_cpu_seconds();
    if (have_admin && ykt_adminq_status_get(&adm, &st1) != 0)
        have_admin = false;
    if (have_admin)
        ykt_client_close(&adm);
    pthread_barrier_destroy(&sh.ready);
    pthread_barrier_destroy(&sh.go);

    ykt_lat all;
    ykt_lat_init(&all);
    code_count codes[MAX_CODES];
    int ncodes = 0;
    uint64_t ok = 0, errors = 0, behind = 0, last = sh.start_ns;
    const char *sample = "";
    for (int k = 0; k < nconn; k++) {
        worker *w = &ws[k];
        ykt_lat_merge(&all, &w->lat);
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
    for (int k = 0; k < nconn; k++)
        ykt_lat_free(&ws[k].lat);
    free(ws);
    free(shares);
    ykt_fleet_free(&fleet);
    return good ? 0 : YKT_BENCH_EXIT_FAIL;
}
