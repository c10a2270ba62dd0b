/*
 * ykt-bench pay: durable card payments (PAY) at the rate POS terminals can send them.
 *
 * PAY is the verb the group commit exists for: the gateway authenticates the card, checks
 * the merchant, the limits and the balance, prices the payment (the fee rule), moves the
 * money in the ledger, records the payment, the day's spending and the outcome of
 * (terminal, seq), and replies only after the transaction holding all of it has committed
 * with synchronous = FULL. So a reply counted here is a payment on disk, and the run
 * proves it afterwards: yktd is stopped with SIGTERM, the database is opened read-only and
 * must hold exactly the payments that were answered with success, every wallet must hold
 * what the replies said, and the ledger audit (the checks of `yktctl audit`) must be clean.
 *
 * One merchant (MERCHANT: a discount, and a management fee on regular cards, so that the
 * fee rule does real arithmetic) owns the POS terminals, one per connection. Every reply
 * must charge exactly what the built-in formula says for the amount (which scripts/fees.lua
 * reproduces when given the merchant's rates) and leave the card's balance lower by exactly
 * that. Each connection pays with its own share of the cards (as in swipe: a card's ATC
 * must rise from one accepted payment to the next).
 *
 * --fee lua (default, as a stock yktd: scripts/fees.lua prices every payment) or builtin
 * ([rules] fee_script empty: the C formula). --compare-fee runs the same load with both,
 * each against a fresh yktd, in rounds of two runs: builtin then lua, then lua then
 * builtin (so that a machine getting busier or quieter over the runs favours neither),
 * and reports both and the ratio lua/builtin.
 *
 * Closed loop (default): --pipeline K requests in flight per connection (1, as a real POS
 * works, by default); a reply frees a slot for the next request. Latency is send to reply,
 * so with K > 1 it includes the wait behind the connection's earlier requests.
 * Open loop (--rate R): the slots of swipe (connection k of N at start + (k + i*N)/R, here
 * computed exactly), latency measured from the scheduled time, at most K in flight per connection;
 * a slot that finds K in flight waits, and its wait counts.
 *
 * --threads T driver threads (default 1) send and read for the connections, each for a
 * contiguous share, multiplexed with ppoll(): a thread per connection blocking on it costs
 * two context switches per request, CPU that the gateway's own core needs on a small
 * machine and scheduling noise in the latencies measured. --crash keeps a thread per
 * connection (its reconnect and resend logic blocks).
 *
 * --pgbench afterwards runs the same debit on a private PostgreSQL with pgbench (pgbench.h).
 *
 * --crash N (issue 9's crash test): during the run the main thread kills the private yktd
 * with SIGKILL N times at random moments spread over --seconds (seeded: --crash-seed) and
 * restarts it on the same directory and database each time (a new port). A connection that
 * loses its gateway connects to the new one, authenticates again and resends every request
 * it has no reply for, byte for byte (same seq, same card signature), in order, until it is
 * answered; a -STORAGE_ERROR, -INTERNAL or -BUSY reply is resent the same way. So every
 * request has exactly one outcome, and the checks after the run are those of a run without
 * kills, plus: every success reply's payment id is in the database with the terminal, seq
 * and charge replied, and no (terminal, seq) is there twice.
 */
#define _GNU_SOURCE /* ppoll */

#include "adminq.h"
#include "bench.h"
#include "common.h"
#include "fleet.h"
#include "gateway.h"
#include "latency.h"
#include "ledger.h"
#include "pgbench.h"
#include "store/store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define VERB              "PAY"
#define MERCHANT          "bench-canteen"
#define MERCHANT_NAME     "Bench"
#define MERCHANT_CATEGORY "canteen"
/* The merchant's rates, as `merchant add` takes them and in basis points: non-zero, so that
 * the fee rule computes a discount and a fee (rounded down) on every payment. The cards
 * the benchmark issues are regular cards, so fee-regular is the rate that applies. */
#define MERCHANT_DISCOUNT       "2.5"
#define MERCHANT_DISCOUNT_BP    250
#define MERCHANT_FEE_REGULAR    "1.5"
#define MERCHANT_FEE_REGULAR_BP 150
#define FEE_SCRIPT              "fees" /* yktd's default [rules] fee_script: scripts/fees.lua */
#define TARGET_RATIO            0.85   /* lua/builtin throughput the rules issue asks for */
#define PIN_THRESHOLD           20000 /* fen: yktd's default [cards] pin_threshold; no PIN is sent */
#define DEFAULT_MAX_TOPUP       100000 /* fen: yktd's default [wallet] max_topup */
#define MAX_PIPELINE            128    /* yktd's default [terminal] max_pipeline */
/* Payments per second assumed at most in a closed-loop run, to fund the cards: five times
 * the target of docs/performance.md. */
#define CLOSED_LOOP_CEILING 250000
#define MAX_CODES           16
#define REPLY_TIMEOUT       30 /* seconds; a reply later than this is a failure, not a latency */
/* --crash: kills at most; seconds without a gateway before a connection gives up; the pause
 * between attempts to connect while yktd restarts; resends of one request after retryable
 * error replies; load after the last restart, at least; the random pause after a restart
 * before the next kill may come, at most. */
#define MAX_CRASH          10000
#define RECONNECT_GIVE_UP  120
#define RECONNECT_PAUSE_MS 5
#define MAX_RETRIES        100
#define CRASH_TAIL_NS      1000000000ULL
#define CRASH_PAUSE_MAX_NS 250000000ULL

typedef struct code_count {
    char code[32];
    uint64_t n;
} code_count;

typedef struct shared {
    pthread_barrier_t ready, go;
    uint64_t start_ns, end_ns;
    bool abort; /* a connection could not be set up: nobody starts (set between barriers) */
    int port;
    int nconn;
    int pipeline;
    int64_t rate; /* 0: closed loop */
    int64_t amount;
    int64_t charged; /* what every payment must charge: the built-in formula's answer */
    bool crash;      /* --crash: a lost connection is made again and its requests resent */
    int dead;        /* --crash, atomic: yktd could not be restarted, so connections give up */
} shared;

/* With --crash the main thread moves the port (each restart) and the end (after the last
 * kill) while the connections run: both are read and written atomically. */
static uint64_t run_end(const shared *sh)
{
    return __atomic_load_n(&sh->end_ns, __ATOMIC_ACQUIRE);
}

typedef struct card_state {
    ykt_fleet_card *fc;
    int64_t balance;      /* what the card's wallet must hold: the top-up minus the charges */
    int64_t last_payment; /* the last payment id replied for this card */
} card_state;

/* A request in flight: replies come back in the order the requests went out. */
typedef struct slot {
    card_state *card;
    uint64_t t0;      /* sent (closed loop) or scheduled (open loop) */
    uint64_t sent_ns; /* sent: its reply is due within REPLY_TIMEOUT of this */
    uint64_t seq;     /* the request's (terminal, seq) */
    ykt_buf req;      /* the request as sent: what a resend sends again, byte for byte */
    bool resent;      /* sent more than once */
    int retries;      /* resent after a retryable error reply */
    int64_t lost_ms;  /* wall clock when its connection was last lost unanswered, or 0 */
} slot;

/* A success reply, kept with --crash: its payment must be in the database as replied. */
typedef struct reply_rec {
    uint64_t seq;
    int64_t id, charged;
    int64_t lost_ms; /* the slot's: a payment made before it was applied by a yktd now dead */
} reply_rec;

/*
 * One connection (one POS terminal): its requests in flight and its results. With --crash
 * a thread of its own drives it (worker_main); otherwise a driver thread drives it along
 * with others (driver_main).
 */
typedef struct worker {
    int index;
    shared *sh;
    const ykt_fleet_terminal *term;
    card_state **cards; /* this connection's share */
    int ncards;
    bool up; /* connected and authenticated; read by main after the first barrier (a
              * driver thread clears it when it drops the connection) */
    ykt_client c;
    slot *ring;
    int head, count;
    /* the load: the next of its slots (connection k sends slots k, k + N, ...), seq and card */
    uint64_t next_slot, seq;
    int next_card;
    bool sending;      /* false once the run's end, an error or Ctrl-C stops new requests */
    uint64_t next_due; /* paced, set by send_due: when the next slot may go, or 0 */
    ykt_buf out;       /* what one send_due writes */
    /* results, read by main after join */
    ykt_lat lat;
    uint64_t sent, paid, ok, errors, behind, last_reply_ns;
    int64_t charged; /* the sum of charged_fen over every payment replied */
    code_count codes[MAX_CODES];
    int ncodes;
    char sample[256]; /* the first error, for the person reading the report */
    /* --crash */
    uint64_t resent, resends, reconnects; /* requests resent, sends of them, new connections */
    code_count retried[MAX_CODES];        /* retryable error replies (resent), by code */
    int nretried;
    reply_rec *recs; /* every success reply */
    size_t nrecs, caprecs;
} worker;

static void count_code(code_count *codes, int *ncodes, const char *code, uint64_t n)
{
    int i = 0;
    while (i < *ncodes && strcmp(codes[i].code, code) != 0)
        i++;
    if (i == *ncodes) {
        if (*ncodes == MAX_CODES) {
            i = MAX_CODES - 1; /* lump the rarest into the last slot */
        } else {
            ykt_strlcpy(codes[i].code, code, sizeof codes[i].code);
            codes[i].n = 0;
            (*ncodes)++;
        }
    }
    codes[i].n += n;
}

static void count_error(worker *w, const char *code, const char *detail)
{
    w->errors++;
    if (w->sample[0] == '\0')
        ykt_strlcpy(w->sample, detail, sizeof w->sample);
    count_code(w->codes, &w->ncodes, code, 1);
}

/* The expected reply: [payment_id, charged_fen, balance_fen], charged as the built-in
 * formula says, and the card's balance lower by exactly that. */
static void keep_reply(worker *w, const slot *s, int64_t id, int64_t charged)
{
    if (w->nrecs == w->caprecs) {
        size_t cap = w->caprecs ? 2 * w->caprecs : 4096;
        reply_rec *n = realloc(w->recs, cap * sizeof *n);
        if (n == NULL) {
            fprintf(stderr, "ykt-bench: out of memory\n");
            exit(YKT_BENCH_EXIT_USAGE);
        }
        w->recs = n;
        w->caprecs = cap;
    }
    w->recs[w->nrecs++] =
        (reply_rec){.seq = s->seq, .id = id, .charged = charged, .lost_ms = s->lost_ms};
}

static void check_reply(worker *w, const ykt_reply *r, const slot *s)
{
    card_state *card = s->card;
    char detail[400];
    const char *no = card->fc->card_no;
    if (r->type == YKT_REPLY_ERROR) {
        char code[32];
        size_t n = strcspn(r->str, " ");
        snprintf(code, sizeof code, "%.*s", (int)(n < sizeof code ? n : sizeof code - 1), r->str);
        snprintf(detail, sizeof detail, "card %s: -%s", no, r->str);
        count_error(w, code, detail);
        return;
    }
    bool shape = r->type == YKT_REPLY_ARRAY && r->nelem == 3;
    for (size_t i = 0; shape && i < 3; i++)
        shape = r->elem[i]->type == YKT_REPLY_INT;
    if (!shape || r->elem[0]->integer <= 0) {
        snprintf(detail, sizeof detail, "card %s: not [payment_id, charged_fen, balance_fen]", no);
        count_error(w, "UNEXPECTED_REPLY", detail);
        return;
    }
    int64_t id = r->elem[0]->integer, charged = r->elem[1]->integer, balance = r->elem[2]->integer;
    /* The gateway says a payment was made: it must be in the database afterwards. */
    w->paid++;
    w->charged += charged;
    if (w->sh->crash)
        keep_reply(w, s, id, charged);
    int64_t expected = card->balance - w->sh->charged;
    if (id <= card->last_payment) {
        snprintf(detail, sizeof detail, "card %s: payment id %lld after %lld", no, (long long)id,
                 (long long)card->last_payment);
        count_error(w, "WRONG_PAYMENT_ID", detail);
    } else if (charged != w->sh->charged) {
        snprintf(detail, sizeof detail,
                 "card %s: charged %lld fen for a payment of %lld, expected %lld", no,
                 (long long)charged, (long long)w->sh->amount, (long long)w->sh->charged);
        count_error(w, "WRONG_CHARGE", detail);
    } else if (balance != expected) {
        snprintf(detail, sizeof detail, "card %s: balance %lld fen, expected %lld", no,
                 (long long)balance, (long long)expected);
        count_error(w, "WRONG_BALANCE", detail);
    } else {
        w->ok++;
    }
    /* Follow the gateway from here, so one wrong reply counts once, not for every later one. */
    card->balance = balance;
    if (id > card->last_payment)
        card->last_payment = id;
}

static void sleep_until(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ULL),
                          .tv_nsec = (long)(ns % 1000000000ULL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !ykt_bench_interrupted) {
    }
}

/*
 * Paced: slot j of the run (connection k sends slots k, k + N, k + 2N, ...) is due at
 * start + j/R, computed exactly, so that a run of S seconds has exactly R*S slots.
 */
static uint64_t slot_time(const shared *sh, uint64_t j)
{
    uint64_t r = (uint64_t)sh->rate;
    return sh->start_ns + j / r * 1000000000ULL + j % r * 1000000000ULL / r;
}

/* How many of this connection's slots, from slot j on, fall before the end. */
static uint64_t slots_before_end(const shared *sh, uint64_t j)
{
    uint64_t total = (uint64_t)sh->rate * (run_end(sh) - sh->start_ns) / 1000000000ULL;
    return j < total ? (total - j + (uint64_t)sh->nconn - 1) / (uint64_t)sh->nconn : 0;
}

/* Waits until fd is readable or the clock reaches deadline; true when readable. */
static bool wait_readable(int fd, uint64_t deadline)
{
    uint64_t now = ykt_bench_now_ns();
    if (now >= deadline)
        return false;
    uint64_t left = deadline - now;
    struct timespec ts = {.tv_sec = (time_t)(left / 1000000000ULL),
                          .tv_nsec = (long)(left % 1000000000ULL)};
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return ppoll(&p, 1, &ts, NULL) > 0;
}

/* A reply that is already complete in c's buffer, without touching the socket; or NULL. */
static ykt_reply *buffered_reply(ykt_client *c)
{
    ykt_reply *r;
    size_t used;
    if (c->in.len == 0 || ykt_reply_parse(c->in.data, c->in.len, &r, &used) != YKT_OK)
        return NULL; /* a malformed reply is reported by the next ykt_client_read */
    ykt_buf_consume(&c->in, used);
    return r;
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

/* The first word of an error reply, into code. */
static void error_code(const ykt_reply *r, char *code, size_t len)
{
    const char *str = r->str ? r->str : "";
    size_t n = strcspn(str, " ");
    snprintf(code, len, "%.*s", (int)(n < len ? n : len - 1), str);
}

/* --crash: an error that says nothing was applied and a retry runs normally
 * (docs/protocol.md): the request is resent as it was. */
static bool retryable(const ykt_reply *r)
{
    char code[32];
    if (r->type != YKT_REPLY_ERROR)
        return false;
    error_code(r, code, sizeof code);
    return strcmp(code, "STORAGE_ERROR") == 0 || strcmp(code, "INTERNAL") == 0 ||
           strcmp(code, "BUSY") == 0;
}

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/*
 * --crash: connects to the yktd running now (its port changes with every restart) and
 * authenticates, until that works, the main thread gives the gateway up, or
 * RECONNECT_GIVE_UP seconds pass. A refused connection, one lost during AUTH and -BUSY
 * are yktd being down or starting; any other AUTH refusal is an error.
 */
static int reconnect(worker *w, ykt_client *c)
{
    shared *sh = w->sh;
    uint64_t since = ykt_bench_now_ns();
    char detail[400];
    const char *why;
    for (;;) {
        if (__atomic_load_n(&sh->dead, __ATOMIC_ACQUIRE)) {
            why = "yktd could not be restarted";
            break;
        }
        if (ykt_bench_now_ns() - since > (uint64_t)RECONNECT_GIVE_UP * 1000000000ULL) {
            why = "no gateway to connect to in time";
            break;
        }
        int port = __atomic_load_n(&sh->port, __ATOMIC_ACQUIRE);
        if (ykt_client_connect_tcp(c, "127.0.0.1", port) == 0) {
            struct timeval tv = {.tv_sec = REPLY_TIMEOUT};
            setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            const char *auth[] = {"AUTH", w->term->id, w->term->secret};
            ykt_reply *r = ykt_client_call(c, 3, auth, NULL);
            bool ok = r != NULL && r->type == YKT_REPLY_STATUS;
            if (!ok && r != NULL && !retryable(r)) {
                snprintf(detail, sizeof detail, "AUTH %s after a restart: %s", w->term->id,
                         r->str ? r->str : "unexpected reply");
                ykt_reply_free(r);
                ykt_client_close(c);
                count_error(w, "AUTH", detail);
                return -1;
            }
            if (r != NULL)
                ykt_reply_free(r);
            if (ok) {
                w->reconnects++;
                return 0;
            }
            ykt_client_close(c);
        }
        pause_ms(RECONNECT_PAUSE_MS);
    }
    snprintf(detail, sizeof detail, "%s: gave up reconnecting after %d s: %s", w->term->id,
             (int)((ykt_bench_now_ns() - since) / 1000000000ULL), why);
    count_error(w, "CONNECTION", detail);
    return -1;
}

/* --crash: one more send of slot s's request. */
static void count_resend(worker *w, slot *s)
{
    w->resends++;
    if (!s->resent) {
        s->resent = true;
        w->resent++;
    }
}

/*
 * The send phase, for both kinds of thread: sends what may go now, in one write: up to K
 * in flight, and paced only the slots that are due. Sets w->next_due when there is room for
 * a paced slot that is not due yet. Returns 0, or -1 when the write failed (w->c.err).
 */
static int send_due(worker *w)
{
    shared *sh = w->sh;
    if (ykt_bench_interrupted)
        w->sending = false; /* what is in flight is still read and checked */
    struct ykt_simcard_tx tx = {.terminal_id = w->term->id, .verb = VERB, .amount = sh->amount};
    struct ykt_simcard_args args;
    uint64_t now = ykt_bench_now_ns(), end = run_end(sh);
    int fresh = 0;
    w->next_due = 0;
    ykt_buf_reset(&w->out);
    while (w->sending && w->count < sh->pipeline) {
        uint64_t j = w->index + w->next_slot * (uint64_t)sh->nconn;
        uint64_t scheduled = sh->rate > 0 ? slot_time(sh, j) : 0;
        if (sh->rate > 0 && scheduled >= end) {
            w->sending = false;
            break;
        }
        if (now >= end) {
            if (sh->rate > 0) /* the slots from here to the end were never sent */
                w->behind += slots_before_end(sh, j);
            w->sending = false;
            break;
        }
        if (sh->rate > 0 && scheduled > now) {
            w->next_due = scheduled;
            break;
        }
        card_state *card = w->cards[w->next_card];
        w->next_card = (w->next_card + 1) % w->ncards;
        /* The card signs first: that is the card's work, not the gateway's. */
        tx.seq = ++w->seq;
        tx.time_ms = ykt_now_ms();
        if (ykt_simcard_swipe_args(&card->fc->sim, &tx, &args) != YKT_OK) {
            count_error(w, "SIGN", "the software card could not sign (ATC exhausted?)");
            w->sending = false;
            break;
        }
        slot *s = &w->ring[(w->head + w->count) % sh->pipeline];
        ykt_buf_reset(&s->req);
        ykt_client_format(&s->req, args.argc, args.argv, args.argl);
        ykt_buf_append(&w->out, s->req.data, s->req.len);
        s->card = card;
        s->t0 = scheduled;
        s->sent_ns = now;
        s->seq = tx.seq;
        s->resent = false;
        s->retries = 0;
        s->lost_ms = 0;
        w->count++;
        fresh++;
        w->next_slot++;
    }
    if (fresh == 0)
        return 0;
    if (sh->rate == 0) {
        uint64_t t0 = ykt_bench_now_ns();
        for (int k = w->count - fresh; k < w->count; k++) {
            slot *s = &w->ring[(w->head + k) % sh->pipeline];
            s->t0 = s->sent_ns = t0;
        }
    }
    w->sent += (uint64_t)fresh;
    return ykt_client_send(&w->c, w->out.data, w->out.len);
}

/*
 * The reply phase, for both kinds of thread: takes reply r and every complete reply
 * buffered behind it, each for the request at the head of the ring. Returns 0, or -1 when
 * --crash resent a request after a retryable error reply and the write failed (the
 * connection is lost).
 */
static int take_replies(worker *w, ykt_reply *r)
{
    shared *sh = w->sh;
    do {
        uint64_t t1 = ykt_bench_now_ns();
        int from = w->head;
        slot *s = &w->ring[from];
        w->head = (w->head + 1) % sh->pipeline;
        w->count--;
        if (sh->crash && retryable(r) && s->retries < MAX_RETRIES) {
            /* Nothing was applied: the same request again, behind those in flight (no
             * card has two requests in flight, so the ATCs stay in order per card). */
            char code[32];
            error_code(r, code, sizeof code);
            count_code(w->retried, &w->nretried, code, 1);
            ykt_reply_free(r);
            int to = (w->head + w->count) % sh->pipeline;
            if (to != from) {
                slot tmp = w->ring[to];
                w->ring[to] = w->ring[from];
                w->ring[from] = tmp;
            }
            w->count++;
            s = &w->ring[to];
            s->retries++;
            count_resend(w, s);
            pause_ms(1);
            if (ykt_client_send(&w->c, s->req.data, s->req.len) != 0)
                return -1;
            continue;
        }
        ykt_lat_add(&w->lat, (t1 - s->t0) / 1000);
        w->last_reply_ns = t1;
        check_reply(w, r, s);
        ykt_reply_free(r);
    } while (w->count > 0 && (r = buffered_reply(&w->c)) != NULL);
    return 0;
}

/*
 * --crash: one thread per connection, blocking on it. A lost connection (yktd killed) is
 * made again and every request without a reply resent.
 */
static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    w->up = connect_terminal(w, &w->c) == 0;
    pthread_barrier_wait(&sh->ready);
    pthread_barrier_wait(&sh->go);
    if (!w->up || sh->abort) {
        if (w->up)
            ykt_client_close(&w->c);
        return NULL;
    }

    bool lost = false;
    char detail[400];
    w->sending = true;
    while (w->sending || w->count > 0) {
        if (lost) {
            /* --crash: yktd died under this connection. Connect to the new one and resend
             * every request without a reply, byte for byte and in order: each has exactly
             * one outcome, the first one's if it had committed. */
            ykt_client_close(&w->c);
            int64_t lost_ms = ykt_now_ms();
            for (int k = 0; k < w->count; k++)
                w->ring[(w->head + k) % sh->pipeline].lost_ms = lost_ms;
            if (reconnect(w, &w->c) != 0)
                break;
            lost = false;
            ykt_buf_reset(&w->out);
            for (int k = 0; k < w->count; k++) {
                slot *s = &w->ring[(w->head + k) % sh->pipeline];
                ykt_buf_append(&w->out, s->req.data, s->req.len);
                count_resend(w, s);
            }
            if (w->out.len > 0 && ykt_client_send(&w->c, w->out.data, w->out.len) != 0) {
                lost = true;
                continue;
            }
        }

        if (send_due(w) != 0) {
            if (sh->crash) {
                lost = true;
                continue;
            }
            snprintf(detail, sizeof detail, "%s: %s", w->term->id, w->c.err);
            count_error(w, "CONNECTION", detail);
            break; /* the connection is gone; the others carry on */
        }
        if (w->count == 0) {
            if (w->next_due != 0)
                sleep_until(w->next_due);
            continue;
        }
        /* Paced, with room for another request: wait for a reply only until it is due. */
        if (w->next_due != 0 && w->count < sh->pipeline && w->c.in.len == 0 &&
            !wait_readable(w->c.fd, w->next_due))
            continue;

        ykt_reply *r = ykt_client_read(&w->c);
        if (r == NULL) {
            if (sh->crash) { /* killed (or a reply timeout): reconnect and resend */
                lost = true;
                continue;
            }
            snprintf(detail, sizeof detail, "%s: %s", w->term->id, w->c.err);
            count_error(w, "CONNECTION", detail);
            break;
        }
        /* This reply, and any others that came in the same read. */
        if (take_replies(w, r) != 0)
            lost = true;
    }
    ykt_client_close(&w->c);
    return NULL;
}

/* A load thread: with --crash one connection (worker_main), else a share (driver_main). */
typedef struct driver {
    pthread_t thread;
    shared *sh;
    worker *ws; /* its connections: ws[0 .. n-1] */
    int n;
} driver;

/* A driver's connection failed: count it, and carry on with the others. */
static void drop_connection(worker *w, const char *why)
{
    char detail[400];
    snprintf(detail, sizeof detail, "%s: %s", w->term->id, why);
    count_error(w, "CONNECTION", detail);
    ykt_client_close(&w->c);
    w->up = false;
    w->sending = false; /* its requests in flight stay unanswered: the run fails */
}

/*
 * A driver thread: its share of the connections, multiplexed with ppoll() (the default,
 * without --crash). A thread per connection costs two context switches per request, which
 * on a small machine is CPU the gateway needs and noise in its latency; a driver sends and
 * reads for all its connections at each wake-up. Each turn: the send phase on every
 * connection, then a wait for replies on those with requests in flight, until the earliest
 * due slot (paced) or reply deadline (REPLY_TIMEOUT after the oldest request in flight was
 * sent), then the reply phase on each readable one. yktd writes whole replies, so
 * ykt_client_read after POLLIN does not wait long (SO_RCVTIMEO still bounds it).
 */
static void *driver_main(void *arg)
{
    driver *d = arg;
    shared *sh = d->sh;
    for (int i = 0; i < d->n; i++)
        d->ws[i].up = connect_terminal(&d->ws[i], &d->ws[i].c) == 0;
    pthread_barrier_wait(&sh->ready);
    pthread_barrier_wait(&sh->go);
    struct pollfd *pfd = calloc((size_t)d->n, sizeof *pfd);
    worker **polled = calloc((size_t)d->n, sizeof *polled);
    if (pfd == NULL || polled == NULL) {
        fprintf(stderr, "ykt-bench: out of memory\n");
        exit(YKT_BENCH_EXIT_USAGE);
    }
    const uint64_t reply_timeout = (uint64_t)REPLY_TIMEOUT * 1000000000ULL;
    for (int i = 0; i < d->n; i++)
        d->ws[i].sending = d->ws[i].up && !sh->abort;
    for (;;) {
        uint64_t now = ykt_bench_now_ns(), wake = UINT64_MAX; /* the earliest due or deadline */
        int npoll = 0;
        bool busy = false;
        for (int i = 0; i < d->n; i++) {
            worker *w = &d->ws[i];
            if (!w->up)
                continue;
            /* The send phase where a request may go: room for one, and paced its slot due
             * (next_due 0: not known since the last reply). */
            bool may_send = w->sending && w->count < sh->pipeline &&
                            (w->next_due == 0 || w->next_due <= now || ykt_bench_interrupted);
            if (may_send && send_due(w) != 0) {
                drop_connection(w, w->c.err);
                continue;
            }
            if (w->next_due != 0 && w->next_due < wake)
                wake = w->next_due;
            if (w->count > 0) {
                uint64_t deadline = w->ring[w->head].sent_ns + reply_timeout;
                if (deadline < wake)
                    wake = deadline;
                pfd[npoll] = (struct pollfd){.fd = w->c.fd, .events = POLLIN};
                polled[npoll++] = w;
            }
            busy |= w->sending || w->count > 0;
        }
        if (!busy)
            break;
        now = ykt_bench_now_ns();
        uint64_t left = wake > now ? wake - now : 0;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000000000ULL),
                              .tv_nsec = (long)(left % 1000000000ULL)};
        int ready = ppoll(pfd, (nfds_t)npoll, &ts, NULL);
        now = ykt_bench_now_ns();
        for (int k = 0; k < npoll; k++) {
            worker *w = polled[k];
            if (ready > 0 && pfd[k].revents != 0) {
                ykt_reply *r = ykt_client_read(&w->c);
                if (r == NULL)
                    drop_connection(w, w->c.err);
                else
                    take_replies(w, r); /* no resends without --crash: always 0 */
            } else if (now >= w->ring[w->head].sent_ns + reply_timeout) {
                char why[64];
                snprintf(why, sizeof why, "no reply within %d s", REPLY_TIMEOUT);
                drop_connection(w, why);
            }
        }
    }
    for (int i = 0; i < d->n; i++)
        if (d->ws[i].up)
            ykt_client_close(&d->ws[i].c);
    free(pfd);
    free(polled);
    return NULL;
}

/* ---- after the run: the database of the stopped gateway ---- */

typedef struct verdict {
    bool opened;
    char err[1400];
    int64_t payments, charged;   /* rows in payments, and the sum of their charges */
    int64_t discounts, fees;     /* the sums of their discounts and fees */
    int64_t merchant_balance;    /* what the merchant's account holds */
    int64_t fee_income;          /* what the fee-income account holds (0 if none) */
    int64_t wallets, wallets_ok; /* cards checked, and those whose wallet holds the expected */
    char wallet_sample[160];
    bool audit_ran, audit_clean;
    char audit[512]; /* "audit clean", or the failed checks */
    /* --crash: the success replies looked up one by one */
    bool replies_ran;
    int64_t replies, replies_found; /* replied, and found with the terminal, seq and charge */
    int64_t seq_twice;              /* (terminal, seq) pairs with more than one payment */
    int64_t resent_paid;            /* success replies to resent requests */
    int64_t resent_applied_before;  /* of those, made before the connection was lost: the
                                     * resend was answered with the kept outcome */
    char reply_sample[200];
} verdict;

static int64_t query_int(sqlite3 *h, const char *sql, const char *param, int col, bool *ok)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        *ok = false;
        return -1;
    }
    if (param != NULL)
        sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, col);
    else
        *ok = false;
    sqlite3_finalize(st);
    return v;
}

/*
 * Opens the database read-only, as anyone could after the gateway stopped, and compares it
 * with what the replies said; then runs the checks of `yktctl audit` on it.
 */
static void verify(const ykt_benchgw *gw, card_state *cards, int ncards, verdict *v)
{
    memset(v, 0, sizeof *v);
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(gw->db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(v->err, sizeof v->err, "cannot open %s read-only: %s", gw->db,
                 h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        return;
    }
    bool ok = sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    const char *totals = "SELECT count(*), coalesce(sum(charged), 0), coalesce(sum(discount), 0), "
                         "coalesce(sum(fee), 0) FROM payments";
    v->payments = query_int(h, totals, NULL, 0, &ok);
    v->charged = query_int(h, totals, NULL, 1, &ok);
    v->discounts = query_int(h, totals, NULL, 2, &ok);
    v->fees = query_int(h, totals, NULL, 3, &ok);
    v->fee_income = query_int(h,
                              "SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = "
                              "'" YKT_ACC_FEE_INCOME "'",
                              NULL, 0, &ok);
    v->merchant_balance = query_int(h,
                                    "SELECT a.balance FROM merchants m JOIN accounts a ON "
                                    "a.id = m.account WHERE m.id = ?",
                                    MERCHANT, 0, &ok);
    sqlite3_stmt *st = NULL;
    if (ok && sqlite3_prepare_v2(h,
                                 "SELECT a.balance FROM people p JOIN accounts a ON a.kind = "
                                 "'wallet' AND a.owner = CAST(p.id AS TEXT) WHERE p.person_no = ?",
                                 -1, &st, NULL) != SQLITE_OK)
        ok = false;
    for (int i = 0; ok && i < ncards; i++) {
        sqlite3_bind_text(st, 1, cards[i].fc->person_no, -1, SQLITE_STATIC);
        int64_t b = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_reset(st);
        v->wallets++;
        if (b == cards[i].balance)
            v->wallets_ok++;
        else if (v->wallet_sample[0] == '\0')
            snprintf(v->wallet_sample, sizeof v->wallet_sample,
                     "card %s: the wallet holds %lld fen, the last reply said %lld",
                     cards[i].fc->card_no, (long long)b, (long long)cards[i].balance);
    }
    sqlite3_finalize(st);
    if (!ok)
        snprintf(v->err, sizeof v->err, "query failed: %s", sqlite3_errmsg(h));
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h);
    v->opened = ok;

    /* The checks of `yktctl audit`: the same function on the same kind of connection. */
    ykt_ledger_report rep;
    char err[256];
    if (ykt_store_ledger_audit(gw->db, &rep, err, sizeof err) != YKT_OK) {
        snprintf(v->audit, sizeof v->audit, "audit could not run: %s", err);
        return;
    }
    v->audit_ran = true;
    v->audit_clean = true;
    size_t len = 0;
    for (int i = 0; i < rep.n; i++) {
        const ykt_audit_check *c = &rep.checks[i];
        if (c->violations == 0)
            continue;
        if (v->audit_clean)
            len = (size_t)snprintf(v->audit, sizeof v->audit, "audit FAILED:");
        v->audit_clean = false;
        if (len < sizeof v->audit)
            len += (size_t)snprintf(v->audit + len, sizeof v->audit - len, " %s (%lld: %s)",
                                    c->name, (long long)c->violations, c->detail);
    }
    if (v->audit_clean)
        snprintf(v->audit, sizeof v->audit, "audit clean");
}

/*
 * --crash: every success reply's payment id must be a row of payments with the terminal,
 * seq and charge of the reply (so no reply is lost, and two replies never share a
 * payment), and no (terminal, seq) may have two payments.
 */
static void verify_replies(const ykt_benchgw *gw, const worker *ws, int nconn, verdict *v)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    v->replies_ran = true;
    if (sqlite3_open_v2(gw->db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_exec(h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, "SELECT terminal, seq, charged, at FROM payments WHERE id = ?", -1,
                           &st, NULL) != SQLITE_OK) {
        snprintf(v->reply_sample, sizeof v->reply_sample, "cannot look the replies up: %s",
                 h ? sqlite3_errmsg(h) : "out of memory");
        v->replies_ran = false;
        sqlite3_close(h);
        return;
    }
    for (int k = 0; k < nconn; k++) {
        const worker *w = &ws[k];
        for (size_t i = 0; i < w->nrecs; i++) {
            const reply_rec *rr = &w->recs[i];
            v->replies++;
            sqlite3_bind_int64(st, 1, rr->id);
            bool found = sqlite3_step(st) == SQLITE_ROW;
            const char *term = found ? (const char *)sqlite3_column_text(st, 0) : NULL;
            if (found && term != NULL && strcmp(term, w->term->id) == 0 &&
                sqlite3_column_int64(st, 1) == (int64_t)rr->seq &&
                sqlite3_column_int64(st, 2) == rr->charged) {
                v->replies_found++;
                if (rr->lost_ms > 0) {
                    v->resent_paid++;
                    v->resent_applied_before += sqlite3_column_int64(st, 3) < rr->lost_ms;
                }
            } else if (v->reply_sample[0] == '\0')
                snprintf(v->reply_sample, sizeof v->reply_sample,
                         "%s seq %llu: replied payment %lld (charged %lld) is %s", w->term->id,
                         (unsigned long long)rr->seq, (long long)rr->id, (long long)rr->charged,
                         found ? "in the database for another request" : "not in the database");
            sqlite3_reset(st);
        }
    }
    sqlite3_finalize(st);
    bool ok = true;
    v->seq_twice = query_int(h,
                             "SELECT count(*) FROM (SELECT 1 FROM payments GROUP BY terminal, "
                             "seq HAVING count(*) > 1)",
                             NULL, 0, &ok);
    if (!ok)
        v->replies_ran = false;
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(h);
}

/* ---- the run ---- */

/* What every run of one invocation shares. */
typedef struct pay_params {
    int64_t nconn, ncards, seconds, rate, amount, pipeline;
    int64_t threads; /* load threads: --threads drivers, or with --crash one per connection */
    int64_t discount, fee, charged; /* per payment, from the built-in formula */
    int64_t topup_fen;
    char topup[32];
    char ini[256], note[256];
    int64_t crash;       /* --crash N: kills during the run; 0 for none */
    uint64_t crash_seed; /* --crash-seed */
} pay_params;

/* What --crash did. */
typedef struct crash_stats {
    int64_t kills;    /* SIGKILLs that ended yktd */
    int64_t restarts; /* restarts that reached "ready:" */
    int64_t exited;   /* times yktd was found dead before its kill: a crash of its own */
    bool failed;      /* a restart failed: the connections gave up */
    char problem[256];
    ykt_lat ready; /* µs from each restart's exec to its "ready:" line */
    ykt_lat down;  /* µs from each kill to the next "ready:" */
    ykt_lat_summary ready_sum, down_sum;
    uint64_t resent, resends, reconnects;
    code_count retried[MAX_CODES];
    int nretried;
    double load_seconds; /* --seconds, extended until CRASH_TAIL_NS after the last restart */
} crash_stats;

/* One run against one fresh yktd: what the report needs of it. */
typedef struct pay_run {
    bool builtin; /* the built-in formula; else the Lua rule */
    bool measured;
    ykt_benchgw gw; /* stopped by now; for the report's yktd section */
    char version[32];
    char loadavg[64]; /* /proc/loadavg at the start of the run */
    double provision_seconds, auth_seconds;
    uint64_t sent, paid, ok, errors, behind, completed;
    int64_t charged;
    code_count codes[MAX_CODES];
    int ncodes;
    char sample[256];
    ykt_lat lat;
    ykt_lat_summary sum;
    double elapsed, throughput, yktd_cpu, bench_cpu;
    bool have_commits;
    int64_t commits;
    int rc; /* yktd's exit status */
    bool aborted;
    verdict v;
    bool durable;
    crash_stats crash; /* with --crash */
} pay_run;

static void fen_text(int64_t fen, char *out, size_t len)
{
    snprintf(out, len, "%lld.%02lld", (long long)(fen / 100), (long long)(fen % 100));
}

static const char *fee_name(bool builtin)
{
    return builtin ? "builtin" : "lua";
}

static const char *fee_text(bool builtin)
{
    return builtin ? "builtin (the C formula: [rules] fee_script empty)"
                   : "lua (" FEE_SCRIPT ".lua fee: yktd's default [rules] fee_script)";
}

static void loadavg_now(char *out, size_t len)
{
    ykt_strlcpy(out, "unknown", len);
    FILE *f = fopen("/proc/loadavg", "re");
    if (f == NULL)
        return;
    char line[128];
    if (fgets(line, sizeof line, f) != NULL) {
        /* the three averages: "0.52 0.58 0.59 1/234 5678" */
        char *p = line;
        for (int spaces = 0; *p && spaces < 3; p++)
            spaces += *p == ' ';
        if (p > line)
            p[-1] = '\0';
        for (p = line; *p; p++) /* one word: runs are reported one per line */
            if (*p == ' ')
                *p = '/';
        ykt_strlcpy(out, line, len);
    }
    fclose(f);
}

/* The random moments of --crash, from --crash-seed: splitmix64, as a number in [0, 1). */
static double crash_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/*
 * --crash N, the main thread's part of the run: kill k (of N) falls at a random moment of
 * the k-th of N equal parts of --seconds, but not before the previous restart's "ready:"
 * plus a random pause of up to a quarter of a part (at most 250 ms: sometimes while the
 * connections are still coming back, sometimes in full load). Each kill is SIGKILL to yktd,
 * then a restart on the same directory and database; the new port is published to the
 * connections. Afterwards the load goes on for the rest of --seconds, and at least 1 s
 * after the last restart.
 */
static void crash_loop(shared *sh, ykt_benchgw *gw, const pay_params *pp, crash_stats *cs)
{
    uint64_t rng = pp->crash_seed;
    uint64_t part = (uint64_t)pp->seconds * 1000000000ULL / (uint64_t)pp->crash;
    uint64_t pause_max = part / 4 < CRASH_PAUSE_MAX_NS ? part / 4 : CRASH_PAUSE_MAX_NS;
    uint64_t ready = sh->start_ns;
    for (int64_t k = 0; k < pp->crash && !ykt_bench_interrupted; k++) {
        uint64_t at =
            sh->start_ns + (uint64_t)k * part + (uint64_t)(crash_random(&rng) * (double)part);
        uint64_t earliest = ready + (uint64_t)(crash_random(&rng) * (double)pause_max);
        sleep_until(at > earliest ? at : earliest);
        if (ykt_bench_interrupted)
            break;
        uint64_t killed = ykt_bench_now_ns();
        if (ykt_benchgw_kill(gw) == 0) {
            cs->kills++;
        } else {
            /* yktd died before we killed it: that is a crash of its own, a core bug. */
            cs->exited++;
            if (cs->problem[0] == '\0')
                snprintf(cs->problem, sizeof cs->problem,
                         "yktd had exited by itself (status %d) before kill %lld", gw->exit_status,
                         (long long)k + 1);
        }
        uint64_t t0 = ykt_bench_now_ns();
        if (ykt_benchgw_restart(gw) != 0) {
            cs->failed = true;
            snprintf(cs->problem, sizeof cs->problem,
                     "restart %lld failed (see stderr); the connections gave up",
                     (long long)cs->restarts + 1);
            __atomic_store_n(&sh->dead, 1, __ATOMIC_RELEASE);
            break;
        }
        ready = ykt_bench_now_ns();
        cs->restarts++;
        ykt_lat_add(&cs->ready, (ready - t0) / 1000);
        ykt_lat_add(&cs->down, (ready - killed) / 1000);
        __atomic_store_n(&sh->port, gw->port, __ATOMIC_RELEASE);
    }
    uint64_t end = sh->start_ns + (uint64_t)pp->seconds * 1000000000ULL;
    uint64_t tail = ykt_bench_now_ns() + CRASH_TAIL_NS;
    if (tail > end)
        end = tail;
    cs->load_seconds = (double)(end - sh->start_ns) / 1e9;
    __atomic_store_n(&sh->end_ns, end, __ATOMIC_RELEASE);
}

/*
 * Starts a fresh yktd (builtin: [rules] fee_script empty), provisions it, drives the load,
 * stops it and checks its database. Returns 0 when it measured (run says how it went), -1
 * when the gateway could not be set up (the reason is on stderr).
 */
static int pay_run_once(const ykt_bench_ctx *ctx, const pay_params *pp, bool builtin,
                        const char *keep_dir, pay_run *run)
{
    memset(run, 0, sizeof *run);
    run->builtin = builtin;
    ykt_lat_init(&run->lat);
    ykt_lat_init(&run->crash.ready);
    ykt_lat_init(&run->crash.down);
    ykt_strlcpy(run->version, "unknown", sizeof run->version);
    loadavg_now(run->loadavg, sizeof run->loadavg);
    int64_t nconn = pp->nconn, ncards = pp->ncards;

    ykt_benchgw_opts go = {.yktd = ctx->yktd,
                           .keep_dir = keep_dir,
                           .rules_dir = ctx->rules,
                           .fee_script = builtin ? "" : NULL,
                           .ini = pp->ini,
                           .note = pp->note};
    ykt_benchgw *gw = &run->gw;
    if (ykt_benchgw_start_opts(gw, &go) != 0)
        return -1;
    ykt_fleet fleet;
    ykt_fleet_spec spec = {.terminals = (int)nconn,
                           .terminal_type = "pos",
                           .merchant = MERCHANT,
                           .merchant_name = MERCHANT_NAME,
                           .merchant_category = MERCHANT_CATEGORY,
                           .merchant_discount = MERCHANT_DISCOUNT,
                           .merchant_fee_regular = MERCHANT_FEE_REGULAR,
                           .cards = (int)ncards,
                           .topup = pp->topup,
                           .seed = 1,
                           /* --crash: every connection authenticates again after each
                            * restart; a generated secret (one hash iteration) keeps that
                            * from being the cost of recovery. */
                           .generated_secrets = pp->crash > 0};
    uint64_t p0 = ykt_bench_now_ns();
    if (ykt_fleet_provision(&fleet, gw, &spec) != 0) {
        ykt_benchgw_stop(gw);
        return -1;
    }
    run->provision_seconds = (double)(ykt_bench_now_ns() - p0) / 1e9;

    ykt_client adm;
    ykt_adminq_status st0 = {0}, st1 = {0};
    bool have_admin = ykt_benchgw_admin(gw, &adm) == 0;

    shared sh = {.port = gw->port,
                 .nconn = (int)nconn,
                 .pipeline = (int)pp->pipeline,
                 .rate = pp->rate,
                 .amount = pp->amount,
                 .charged = pp->charged,
                 .crash = pp->crash > 0};
    int nthreads = (int)pp->threads;
    worker *ws = calloc((size_t)nconn, sizeof *ws);
    driver *ds = calloc((size_t)nthreads, sizeof *ds);
    card_state *cards = calloc((size_t)ncards, sizeof *cards);
    card_state **shares = calloc((size_t)ncards, sizeof *shares);
    if (ws == NULL || ds == NULL || cards == NULL || shares == NULL) {
        fprintf(stderr, "ykt-bench: out of memory\n");
        exit(YKT_BENCH_EXIT_USAGE);
    }
    for (int i = 0; i < ncards; i++)
        cards[i] = (card_state){.fc = &fleet.cards[i], .balance = pp->topup_fen};
    pthread_barrier_init(&sh.ready, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&sh.go, NULL, (unsigned)nthreads + 1);
    /* Connection k pays with cards k, k + N, k + 2N, ...: disjoint shares. */
    int filled = 0;
    uint64_t c0 = ykt_bench_now_ns();
    for (int k = 0; k < nconn; k++) {
        worker *w = &ws[k];
        w->index = k;
        w->sh = &sh;
        w->term = &fleet.terminals[k];
        w->cards = shares + filled;
        for (int i = k; i < ncards; i += (int)nconn)
            shares[filled++] = &cards[i];
        w->ncards = (int)(shares + filled - w->cards);
        w->ring = calloc((size_t)pp->pipeline, sizeof *w->ring);
        if (w->ring == NULL) {
            fprintf(stderr, "ykt-bench: out of memory\n");
            exit(YKT_BENCH_EXIT_USAGE);
        }
        for (int i = 0; i < pp->pipeline; i++)
            ykt_buf_init(&w->ring[i].req);
        ykt_buf_init(&w->out);
        ykt_lat_init(&w->lat);
    }
    /* With --crash a thread per connection; else thread t drives connections
     * [t*N/T, (t+1)*N/T). */
    for (int t = 0; t < nthreads; t++) {
        driver *d = &ds[t];
        int lo = (int)((int64_t)t * nconn / nthreads),
            hi = (int)((int64_t)(t + 1) * nconn / nthreads);
        *d = (driver){.sh = &sh, .ws = &ws[lo], .n = hi - lo};
        int rc = pp->crash > 0 ? pthread_create(&d->thread, NULL, worker_main, d->ws)
                               : pthread_create(&d->thread, NULL, driver_main, d);
        if (rc != 0) {
            fprintf(stderr, "ykt-bench: cannot start thread %d\n", t);
            exit(YKT_BENCH_EXIT_USAGE);
        }
    }
    pthread_barrier_wait(&sh.ready);
    run->auth_seconds = (double)(ykt_bench_now_ns() - c0) / 1e9;
    for (int k = 0; k < nconn; k++)
        sh.abort |= !ws[k].up;
    /* Every connection is up and authenticated: snapshot the counters, then go. */
    if (have_admin && ykt_adminq_status_get(&adm, &st0) != 0)
        have_admin = false;
    if (have_admin && pp->crash > 0) {
        /* The counters (and the CPU time) die with each yktd: only the version is kept. */
        ykt_strlcpy(run->version, st0.version, sizeof run->version);
        ykt_client_close(&adm);
        have_admin = false;
    }
    double ycpu0 = ykt_benchgw_cpu_seconds(gw), bcpu0 = ykt_bench_cpu_seconds();
    sh.start_ns = ykt_bench_now_ns() + 1000000; /* 1 ms: every thread is past the barrier */
    /* --crash: no end until the kills are done (crash_loop sets it). */
    sh.end_ns = pp->crash > 0 ? UINT64_MAX : sh.start_ns + (uint64_t)pp->seconds * 1000000000ULL;
    pthread_barrier_wait(&sh.go);
    if (pp->crash > 0 && !sh.abort)
        crash_loop(&sh, gw, pp, &run->crash);
    else if (pp->crash > 0) /* nobody started: let the connections see an end */
        __atomic_store_n(&sh.end_ns, sh.start_ns, __ATOMIC_RELEASE);
    for (int t = 0; t < nthreads; t++)
        pthread_join(ds[t].thread, NULL);
    double ycpu1 = ykt_benchgw_cpu_seconds(gw), bcpu1 = ykt_bench_cpu_seconds();
    if (pp->crash > 0)
        ycpu0 = -1;
    if (have_admin && ykt_adminq_status_get(&adm, &st1) != 0)
        have_admin = false;
    if (have_admin) {
        ykt_client_close(&adm);
        ykt_strlcpy(run->version, st0.version, sizeof run->version);
        run->have_commits = true;
        run->commits = st1.commits - st0.commits;
    }
    pthread_barrier_destroy(&sh.ready);
    pthread_barrier_destroy(&sh.go);

    uint64_t last = sh.start_ns;
    for (int k = 0; k < nconn; k++) {
        worker *w = &ws[k];
        ykt_lat_merge(&run->lat, &w->lat);
        run->sent += w->sent;
        run->paid += w->paid;
        run->ok += w->ok;
        run->errors += w->errors;
        run->behind += w->behind;
        run->charged += w->charged;
        if (w->last_reply_ns > last)
            last = w->last_reply_ns;
        if (run->sample[0] == '\0')
            ykt_strlcpy(run->sample, w->sample, sizeof run->sample);
        for (int i = 0; i < w->ncodes; i++)
            count_code(run->codes, &run->ncodes, w->codes[i].code, w->codes[i].n);
        run->crash.resent += w->resent;
        run->crash.resends += w->resends;
        run->crash.reconnects += w->reconnects;
        for (int i = 0; i < w->nretried; i++)
            count_code(run->crash.retried, &run->crash.nretried, w->retried[i].code,
                       w->retried[i].n);
    }
    if (pp->crash > 0) {
        crash_stats *cs = &run->crash;
        ykt_lat_summarize(&cs->ready, &cs->ready_sum);
        ykt_lat_summarize(&cs->down, &cs->down_sum);
        if (cs->exited > 0) {
            run->errors += (uint64_t)cs->exited;
            count_code(run->codes, &run->ncodes, "YKTD_EXITED", (uint64_t)cs->exited);
        }
        if (cs->failed) {
            run->errors++;
            count_code(run->codes, &run->ncodes, "RESTART", 1);
        }
        if (run->sample[0] == '\0' && cs->problem[0] != '\0')
            ykt_strlcpy(run->sample, cs->problem, sizeof run->sample);
    }
    run->aborted = sh.abort;
    ykt_lat_summarize(&run->lat, &run->sum);
    run->elapsed = (double)(last - sh.start_ns) / 1e9;
    run->completed = (uint64_t)run->sum.n;
    run->throughput = run->elapsed > 0 ? (double)run->paid / run->elapsed : 0;
    run->yktd_cpu =
        ycpu0 >= 0 && ycpu1 >= 0 && run->elapsed > 0 ? 100 * (ycpu1 - ycpu0) / run->elapsed : -1;
    run->bench_cpu = run->elapsed > 0 ? 100 * (bcpu1 - bcpu0) / run->elapsed : -1;

    /* Durability: stop yktd as an operator would, then read what it left on disk. */
    run->rc = ykt_benchgw_halt(gw);
    verdict *v = &run->v;
    verify(gw, cards, (int)ncards, v);
    if (pp->crash > 0)
        verify_replies(gw, ws, (int)nconn, v);
    int64_t paid = (int64_t)run->paid;
    run->durable = v->opened && v->payments == paid && v->charged == run->charged &&
                   v->discounts == paid * pp->discount && v->fees == paid * pp->fee &&
                   v->merchant_balance == paid * (pp->amount - pp->discount) &&
                   v->fee_income == paid * pp->fee && v->wallets_ok == v->wallets;
    if (pp->crash > 0)
        run->durable &=
            v->replies_ran && v->replies == paid && v->replies_found == paid && v->seq_twice == 0;
    if (!run->durable) {
        run->errors++;
        count_code(run->codes, &run->ncodes, "DURABILITY", 1);
    }
    if (!v->audit_clean) {
        run->errors++;
        count_code(run->codes, &run->ncodes, "LEDGER", 1);
    }
    ykt_benchgw_stop(gw); /* removes the directory (unless --keep) */
    run->measured = true;

    for (int k = 0; k < nconn; k++) {
        ykt_lat_free(&ws[k].lat);
        ykt_buf_free(&ws[k].out);
        for (int i = 0; i < pp->pipeline; i++)
            ykt_buf_free(&ws[k].ring[i].req);
        free(ws[k].ring);
        free(ws[k].recs);
    }
    free(ws);
    free(ds);
    free(shares);
    free(cards);
    ykt_fleet_free(&fleet);
    return 0;
}

static void free_run(pay_run *run)
{
    ykt_lat_free(&run->lat);
    ykt_lat_free(&run->crash.ready);
    ykt_lat_free(&run->crash.down);
}

static bool run_good(const pay_run *run, const pay_params *pp)
{
    bool crash_ok =
        pp->crash == 0 || (run->crash.kills == pp->crash && run->crash.restarts == pp->crash &&
                           !run->crash.failed && run->crash.exited == 0);
    return run->measured && run->errors == 0 && run->rc == 0 && !run->aborted &&
           run->completed > 0 && run->sent == run->completed && crash_ok;
}

static void report_params(ykt_report *rep, const pay_params *pp, const char *fee)
{
    char merchant[160];
    snprintf(merchant, sizeof merchant,
             MERCHANT " (" MERCHANT_CATEGORY ", discount " MERCHANT_DISCOUNT
                      " %%, fee " MERCHANT_FEE_REGULAR " %% on regular cards)");
    ykt_report_begin(rep, "params");
    ykt_report_str(rep, "verb", VERB);
    ykt_report_int(rep, "connections", pp->nconn);
    ykt_report_int(rep, "terminals", pp->nconn);
    ykt_report_int(rep, "threads", pp->threads);
    ykt_report_int(rep, "cards", pp->ncards);
    ykt_report_int(rep, "seconds", pp->seconds);
    ykt_report_str(rep, "mode", pp->rate > 0 ? "open loop (paced)" : "closed loop");
    ykt_report_int(rep, "rate", pp->rate);
    ykt_report_int(rep, "pipeline", pp->pipeline);
    ykt_report_str(rep, "pipelining",
                   pp->pipeline > 1 ? "on (up to pipeline requests in flight per connection)"
                                    : "off (one request in flight per connection)");
    ykt_report_int(rep, "amount_fen", pp->amount);
    ykt_report_str(rep, "merchant", merchant);
    ykt_report_str(rep, "fee", fee);
    /* What every reply must say: the built-in formula, which fees.lua reproduces. */
    ykt_report_begin(rep, "expected_fen");
    ykt_report_int(rep, "discount", pp->discount);
    ykt_report_int(rep, "fee", pp->fee);
    ykt_report_int(rep, "charged", pp->charged);
    ykt_report_end(rep);
    ykt_report_str(rep, "topup_per_card", pp->topup);
}

static void report_latency_results(ykt_report *rep, const pay_params *pp, const pay_run *run)
{
    ykt_report_int(rep, "requests", (int64_t)run->completed);
    ykt_report_int(rep, "succeeded", (int64_t)run->ok);
    ykt_report_int(rep, "payments", (int64_t)run->paid);
    ykt_report_num(rep, "seconds", run->elapsed, 3);
    ykt_report_num(rep, "throughput_per_s", run->throughput, 0);
    if (pp->rate > 0) {
        ykt_report_int(rep, "target_rate_per_s", pp->rate);
        ykt_report_num(rep, "achieved_rate_per_s",
                       run->elapsed > 0 ? (double)run->completed / run->elapsed : 0, 0);
        ykt_report_int(rep, "behind_schedule", (int64_t)run->behind);
    }
}

static void report_verify(ykt_report *rep, const pay_run *run)
{
    const verdict *v = &run->v;
    if (v->err[0] != '\0')
        ykt_report_str(rep, "problem", v->err);
    ykt_report_int(rep, "success_replies", (int64_t)run->paid);
    ykt_report_int(rep, "payments_in_db", v->payments);
    ykt_report_int(rep, "charged_fen_replied", run->charged);
    ykt_report_int(rep, "charged_fen_in_db", v->charged);
    ykt_report_int(rep, "discount_fen_in_db", v->discounts);
    ykt_report_int(rep, "fee_fen_in_db", v->fees);
    ykt_report_int(rep, "merchant_balance_fen", v->merchant_balance);
    ykt_report_int(rep, "fee_income_fen", v->fee_income);
    ykt_report_int(rep, "wallets_checked", v->wallets);
    ykt_report_int(rep, "wallets_as_replied", v->wallets_ok);
    if (v->wallet_sample[0] != '\0')
        ykt_report_str(rep, "first_wallet_mismatch", v->wallet_sample);
    if (v->replies_ran || v->reply_sample[0] != '\0') { /* --crash */
        ykt_report_int(rep, "replies_found_in_db", v->replies_found);
        ykt_report_int(rep, "terminal_seq_twice", v->seq_twice);
        /* A resent request paid by the yktd that died (its reply lost with it) got the kept
         * outcome; one paid after the restart ran then. Both are one payment. */
        ykt_report_int(rep, "resent_paid", v->resent_paid);
        ykt_report_int(rep, "resent_already_paid", v->resent_applied_before);
        if (v->reply_sample[0] != '\0')
            ykt_report_str(rep, "first_reply_mismatch", v->reply_sample);
    }
    ykt_report_bool(rep, "durable", run->durable);
    ykt_report_str(rep, "ledger", v->audit);
}

static void report_ms(ykt_report *rep, const char *key, const ykt_lat_summary *s)
{
    ykt_report_begin(rep, key);
    ykt_report_int(rep, "n", (int64_t)s->n);
    ykt_report_num(rep, "p50", s->p50 / 1000.0, 1);
    ykt_report_num(rep, "mean", s->mean / 1000.0, 1);
    ykt_report_num(rep, "max", s->max / 1000.0, 1);
    ykt_report_end(rep);
}

/* --crash: what was killed, how fast yktd came back, and what the connections resent. */
static void report_crash(ykt_report *rep, const pay_params *pp, const crash_stats *cs)
{
    ykt_report_begin(rep, "crash");
    ykt_report_int(rep, "kills_requested", pp->crash);
    ykt_report_int(rep, "kills", cs->kills);
    ykt_report_int(rep, "restarts", cs->restarts);
    ykt_report_int(rep, "seed", (int64_t)pp->crash_seed);
    ykt_report_str(rep, "schedule",
                   "SIGKILL at a random moment of each of N equal parts of --seconds, not "
                   "before the last restart's ready: plus a random pause");
    ykt_report_int(rep, "resent_requests", (int64_t)cs->resent);
    ykt_report_int(rep, "resends", (int64_t)cs->resends);
    ykt_report_int(rep, "reconnects", (int64_t)cs->reconnects);
    uint64_t retried = 0;
    for (int i = 0; i < cs->nretried; i++)
        retried += cs->retried[i].n;
    ykt_report_begin(rep, "retried_replies");
    ykt_report_int(rep, "total", (int64_t)retried);
    for (int i = 0; i < cs->nretried; i++)
        ykt_report_int(rep, cs->retried[i].code, (int64_t)cs->retried[i].n);
    ykt_report_end(rep);
    report_ms(rep, "time_to_ready_ms", &cs->ready_sum);
    report_ms(rep, "kill_to_ready_ms", &cs->down_sum);
    ykt_report_num(rep, "load_seconds", cs->load_seconds, 2);
    if (cs->exited > 0)
        ykt_report_int(rep, "yktd_exited_by_itself", cs->exited);
    if (cs->problem[0] != '\0')
        ykt_report_str(rep, "problem", cs->problem);
    ykt_report_end(rep);
}

/* The report of one run (the whole report without --compare-fee). */
static bool report_single(ykt_report *rep, const pay_params *pp, pay_run *run, bool pgbench)
{
    ykt_benchgw_report(&run->gw, rep, run->version);
    report_params(rep, pp, fee_text(run->builtin));
    ykt_report_num(rep, "provision_seconds", run->provision_seconds, 2);
    ykt_report_num(rep, "connect_auth_seconds", run->auth_seconds, 2);
    ykt_report_end(rep);

    ykt_report_begin(rep, "results");
    report_latency_results(rep, pp, run);
    if (pp->rate > 0 && run->behind > 0)
        ykt_report_str(rep, "note",
                       "the target rate was not reached: latencies include the wait "
                       "behind schedule");
    ykt_lat_report(rep, "latency_us", &run->sum);
    ykt_bench_note_short_run(rep, pp->rate, pp->seconds);
    if (run->have_commits) {
        ykt_report_int(rep, "commits", run->commits);
        ykt_report_num(rep, "requests_per_commit",
                       run->commits > 0 ? (double)run->completed / (double)run->commits : 0, 2);
    }
    ykt_report_num(rep, "yktd_cpu_percent", run->yktd_cpu, 0);
    ykt_report_num(rep, "bench_cpu_percent", run->bench_cpu, 0);
    ykt_report_end(rep);

    if (pp->crash > 0)
        report_crash(rep, pp, &run->crash);

    ykt_report_begin(rep, "verify");
    ykt_report_str(rep, "after",
                   pp->crash > 0 ? "yktd killed with SIGKILL and restarted during the run, "
                                   "then stopped with SIGTERM; its database opened read-only"
                                 : "yktd stopped with SIGTERM; its database opened read-only");
    report_verify(rep, run);
    ykt_report_end(rep);

    /* The same debit on PostgreSQL, after yktd has stopped: one machine, one session. */
    bool pg_good = true;
    if (pgbench && !ykt_bench_interrupted) {
        ykt_pgbench_spec ps = {.connections = (int)pp->nconn,
                               .cards = (int)pp->ncards,
                               .seconds = (int)pp->seconds,
                               .rate = pp->rate,
                               .amount = pp->amount,
                               .topup = pp->topup_fen};
        ykt_pgbench_result pr;
        int prc = ykt_pgbench_run(&ps, &pr);
        pg_good = prc >= 0;
        /* pgbench keeps one transaction in flight per connection. */
        char note[200];
        snprintf(note, sizeof note,
                 "ykt ran with --pipeline %d (that many requests in flight per connection), "
                 "pgbench with one: for like with like, run with --pipeline 1",
                 (int)pp->pipeline);
        ykt_pgbench_report(rep, &pr, run->throughput, &run->sum,
                           pp->pipeline > 1 && pp->rate == 0 ? note : NULL);
        ykt_pgbench_result_free(&pr);
    } else {
        ykt_report_begin(rep, "pgbench");
        ykt_report_str(rep, "status",
                       pgbench ? "not run (interrupted)"
                               : "not requested (--pgbench compares with "
                                 "PostgreSQL)");
        ykt_report_end(rep);
    }
    return pg_good;
}

/* The runs of one fee variant taken together: payments over seconds, and every latency. */
typedef struct variant {
    int runs;
    uint64_t paid;
    double seconds, yktd_cpu, bench_cpu, per_commit;
    ykt_lat lat;
    ykt_lat_summary sum;
    double throughput;
} variant;

static void variant_add(variant *va, pay_run *run)
{
    va->runs++;
    va->paid += run->paid;
    va->seconds += run->elapsed;
    va->yktd_cpu += run->yktd_cpu;
    va->bench_cpu += run->bench_cpu;
    va->per_commit +=
        run->have_commits && run->commits > 0 ? (double)run->completed / (double)run->commits : 0;
    ykt_lat_merge(&va->lat, &run->lat);
}

static void variant_finish(variant *va)
{
    ykt_lat_summarize(&va->lat, &va->sum);
    va->throughput = va->seconds > 0 ? (double)va->paid / va->seconds : 0;
}

static void report_variant(ykt_report *rep, const char *key, const variant *va)
{
    int n = va->runs > 0 ? va->runs : 1;
    ykt_report_begin(rep, key);
    ykt_report_int(rep, "runs", va->runs);
    ykt_report_int(rep, "payments", (int64_t)va->paid);
    ykt_report_num(rep, "seconds", va->seconds, 3);
    ykt_report_num(rep, "throughput_per_s", va->throughput, 0);
    ykt_lat_report(rep, "latency_us", &va->sum);
    ykt_report_num(rep, "requests_per_commit", va->per_commit / n, 2);
    ykt_report_num(rep, "yktd_cpu_percent", va->yktd_cpu / n, 0);
    ykt_report_num(rep, "bench_cpu_percent", va->bench_cpu / n, 0);
    ykt_report_end(rep);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : (double)NAN;
}

/* The report of --compare-fee: both variants, their ratio, and every run on one line. */
static void report_compare(ykt_report *rep, const pay_params *pp, pay_run *runs, int nruns,
                           int rounds, const char *order)
{
    /* The yktd section of the first run, but the directory and the fee script vary. */
    ykt_benchgw gw = runs[0].gw;
    ykt_strlcpy(gw.dir, nruns > 1 ? "one per run, removed afterwards (unless --keep)" : gw.dir,
                sizeof gw.dir);
    ykt_strlcpy(gw.fee_script, "per run: empty (builtin) or " FEE_SCRIPT " (lua)",
                sizeof gw.fee_script);
    gw.fee_script_set = false; /* not in config: it differs from run to run */
    ykt_benchgw_report(&gw, rep, runs[0].version);
    char fee[160];
    snprintf(fee, sizeof fee, "compare: %s", order);
    report_params(rep, pp, fee);
    ykt_report_int(rep, "rounds", rounds);
    ykt_report_end(rep);

    variant va[2];
    memset(va, 0, sizeof va);
    for (int i = 0; i < nruns; i++)
        if (runs[i].measured)
            variant_add(&va[runs[i].builtin ? 0 : 1], &runs[i]);
    variant_finish(&va[0]);
    variant_finish(&va[1]);
    double r = ratio(va[1].throughput, va[0].throughput);

    ykt_report_begin(rep, "results");
    report_variant(rep, "builtin", &va[0]);
    report_variant(rep, "lua", &va[1]);
    ykt_bench_note_short_run(rep, pp->rate, pp->seconds);
    ykt_report_num(rep, "ratio_lua_over_builtin", r, 3);
    ykt_report_num(rep, "p99_ratio_lua_over_builtin", ratio(va[1].sum.p99, va[0].sum.p99), 2);
    ykt_report_num(rep, "target_ratio", TARGET_RATIO, 2);
    ykt_report_bool(rep, "meets_target", isfinite(r) && r >= TARGET_RATIO);
    /* Each round's own ratio: how much of the difference is noise. */
    ykt_report_begin(rep, "round_ratios");
    for (int k = 0; k + 1 < nruns; k += 2) {
        if (!runs[k].measured || !runs[k + 1].measured)
            break;
        const pay_run *b = runs[k].builtin ? &runs[k] : &runs[k + 1];
        const pay_run *l = runs[k].builtin ? &runs[k + 1] : &runs[k];
        char key[16];
        snprintf(key, sizeof key, "round%d", k / 2 + 1);
        ykt_report_num(rep, key, ratio(l->throughput, b->throughput), 3);
    }
    ykt_report_end(rep);
    ykt_report_begin(rep, "runs");
    for (int i = 0; i < nruns; i++) {
        const pay_run *run = &runs[i];
        if (!run->measured)
            continue;
        char key[16];
        snprintf(key, sizeof key, "run%d", i + 1);
        ykt_report_begin(rep, key);
        ykt_report_str(rep, "fee", fee_name(run->builtin));
        report_latency_results(rep, pp, run);
        ykt_report_int(rep, "p50_us", run->sum.p50);
        ykt_report_int(rep, "p99_us", run->sum.p99);
        ykt_report_int(rep, "p99_9_us", run->sum.p999);
        if (run->have_commits)
            ykt_report_num(rep, "requests_per_commit",
                           run->commits > 0 ? (double)run->completed / (double)run->commits : 0, 2);
        ykt_report_num(rep, "yktd_cpu_percent", run->yktd_cpu, 0);
        ykt_report_num(rep, "bench_cpu_percent", run->bench_cpu, 0);
        ykt_report_str(rep, "loadavg_at_start", run->loadavg);
        ykt_report_int(rep, "errors", (int64_t)run->errors);
        ykt_report_end(rep);
    }
    ykt_report_end(rep);
    ykt_report_end(rep);

    ykt_report_begin(rep, "verify");
    ykt_report_str(rep, "after", "each yktd stopped with SIGTERM; its database opened read-only");
    bool durable = true, clean = true;
    for (int i = 0; i < nruns; i++) {
        if (!runs[i].measured)
            continue;
        char key[16];
        snprintf(key, sizeof key, "run%d", i + 1);
        ykt_report_begin(rep, key);
        ykt_report_str(rep, "fee", fee_name(runs[i].builtin));
        report_verify(rep, &runs[i]);
        ykt_report_end(rep);
        durable &= runs[i].durable;
        clean &= runs[i].v.audit_clean;
    }
    ykt_report_bool(rep, "durable", durable);
    ykt_report_str(rep, "ledger", clean ? "audit clean" : "audit FAILED (see the runs)");
    ykt_report_end(rep);

    ykt_report_begin(rep, "pgbench");
    ykt_report_str(rep, "status", "not requested (--pgbench compares with PostgreSQL)");
    ykt_report_end(rep);
    ykt_lat_free(&va[0].lat);
    ykt_lat_free(&va[1].lat);
}

/* Takes the flags and string options of pay out of argv (into a copy: argv is also the
 * reported command). Returns the remaining count, or -1 after printing the problem. */
static int pay_flags(int argc, char **argv, char **rest, bool *pgbench, bool *compare,
                     const char **fee)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--pgbench") == 0) {
            *pgbench = true;
        } else if (i > 0 && strcmp(argv[i], "--compare-fee") == 0) {
            *compare = true;
        } else if (i > 0 && strcmp(argv[i], "--fee") == 0) {
            if (i + 1 >= argc ||
                (strcmp(argv[i + 1], "lua") != 0 && strcmp(argv[i + 1], "builtin") != 0)) {
                fprintf(stderr, "ykt-bench pay: --fee is lua or builtin\n");
                return -1;
            }
            *fee = argv[++i];
        } else {
            rest[n++] = argv[i];
        }
    }
    return n;
}

int ykt_bench_pay(ykt_bench_ctx *ctx, int argc, char **argv)
{
    pay_params pp = {
        .nconn = 8, .ncards = 1000, .seconds = 10, .amount = 100, .pipeline = 1, .threads = 1};
    int64_t rounds = 2, crash = 0, crash_seed = -1;
    const ykt_bench_opt opts[] = {
        {"--connections", 1, 1000, &pp.nconn},
        {"--cards", 1, 1000000, &pp.ncards},
        {"--seconds", 1, 3600, &pp.seconds},
        {"--rate", 0, 10000000, &pp.rate},
        {"--amount", 1, PIN_THRESHOLD - 1, &pp.amount},
        {"--pipeline", 1, MAX_PIPELINE, &pp.pipeline},
        {"--threads", 1, 1000, &pp.threads},
        {"--rounds", 1, 50, &rounds},
        {"--crash", 1, MAX_CRASH, &crash},
        {"--crash-seed", 0, INT64_MAX, &crash_seed},
    };
    bool pgbench = false, compare = false;
    const char *fee = NULL;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (args == NULL) {
        fprintf(stderr, "ykt-bench: out of memory\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    int nargs = pay_flags(argc, argv, args, &pgbench, &compare, &fee);
    int parsed = nargs < 0 ? -1 : ykt_bench_parse(ctx, nargs, args, opts, (int)YKT_ARRAY_LEN(opts));
    bool rounds_given = false, threads_given = false;
    for (int i = 0; i < nargs; i++) {
        rounds_given |= strcmp(args[i], "--rounds") == 0;
        threads_given |= strcmp(args[i], "--threads") == 0;
    }
    free(args);
    if (parsed != 0)
        return YKT_BENCH_EXIT_USAGE;
    if (compare && (fee != NULL || pgbench)) {
        fprintf(stderr, "ykt-bench pay: --compare-fee runs both fees and no --pgbench; leave "
                        "out --fee and --pgbench\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    if (rounds_given && !compare) {
        fprintf(stderr, "ykt-bench pay: --rounds goes with --compare-fee\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    if (crash > 0 && (compare || pgbench)) {
        fprintf(stderr, "ykt-bench pay: --crash is a test of one gateway, not a measurement: "
                        "leave out --compare-fee and --pgbench\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    if (crash_seed >= 0 && crash == 0) {
        fprintf(stderr, "ykt-bench pay: --crash-seed goes with --crash\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    if (crash > 0 && pp.ncards < pp.nconn * pp.pipeline) {
        /* A request resent after a retryable error goes behind those in flight; with two
         * of one card's requests in flight, the later ATC could be accepted first. */
        fprintf(stderr, "ykt-bench pay: --crash needs --cards of at least --connections x "
                        "--pipeline, so that no card has two requests in flight\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    if (threads_given && crash > 0) {
        fprintf(stderr, "ykt-bench pay: --crash runs one thread per connection; leave out "
                        "--threads\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    if (pp.threads > pp.nconn) {
        fprintf(stderr, "ykt-bench pay: --threads is at most --connections: each thread "
                        "drives connections of its own\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    pp.crash = crash;
    if (crash > 0)
        pp.threads = pp.nconn;
    if (crash > 0 && crash_seed < 0) {
        uint32_t r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint32_t)ykt_bench_now_ns();
        crash_seed = r & 0x7fffffff;
    }
    pp.crash_seed = (uint64_t)(crash_seed < 0 ? 0 : crash_seed);
    if (pp.ncards < pp.nconn) {
        fprintf(stderr, "ykt-bench pay: --cards must be at least --connections: each "
                        "connection pays with cards of its own\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    bool builtin = fee != NULL && strcmp(fee, "builtin") == 0;
    /* The Lua runs need fees.lua in the rules directory; say so now, not as RULE_ERRORs. */
    if (compare || !builtin) {
        char dir[YKT_BENCH_PATH_MAX], script[YKT_BENCH_PATH_MAX + 32];
        if (ykt_benchgw_rules_dir(ctx->rules, dir, sizeof dir) != 0)
            return YKT_BENCH_EXIT_USAGE;
        snprintf(script, sizeof script, "%s/" FEE_SCRIPT ".lua", dir);
        if (access(script, R_OK) != 0) {
            fprintf(stderr,
                    "ykt-bench pay: %s: %s; the Lua fee needs it (give --rules DIR, or --fee "
                    "builtin)\n",
                    script, strerror(errno));
            return YKT_BENCH_EXIT_USAGE;
        }
    }
    /* Every payment's price: the built-in formula (ykt_fee_builtin in core/src/wallet.c),
     * computed here independently; fees.lua gives the same when passed the rates. */
    pp.discount = pp.amount * MERCHANT_DISCOUNT_BP / 10000;
    pp.fee = (pp.amount - pp.discount) * MERCHANT_FEE_REGULAR_BP / 10000;
    pp.charged = pp.amount - pp.discount + pp.fee;
    /*
     * Fund every card for the whole run in one top-up: twice what the card can spend at
     * the rate bound (connections do not share the load exactly evenly).
     */
    int64_t unit = pp.charged > pp.amount ? pp.charged : pp.amount;
    int64_t bound = pp.rate > 0 ? pp.rate : CLOSED_LOOP_CEILING;
    int64_t per_card = (bound * pp.seconds * 2 + pp.ncards - 1) / pp.ncards + 1;
    if (per_card > YKT_AMOUNT_MAX / unit) {
        fprintf(stderr,
                "ykt-bench pay: %lld cards cannot be funded for %lld s of payments of %lld "
                "fen (one balance is at most %lld fen); give more --cards\n",
                (long long)pp.ncards, (long long)pp.seconds, (long long)pp.amount,
                (long long)YKT_AMOUNT_MAX);
        return YKT_BENCH_EXIT_USAGE;
    }
    pp.topup_fen = per_card * unit;
    char max_topup[32], daily[32];
    fen_text(pp.topup_fen, pp.topup, sizeof pp.topup);
    fen_text(pp.topup_fen > DEFAULT_MAX_TOPUP ? pp.topup_fen : DEFAULT_MAX_TOPUP, max_topup,
             sizeof max_topup);
    fen_text(YKT_AMOUNT_MAX, daily, sizeof daily);
    /* The work per payment is unchanged (the limits are still read and checked); only the
     * limits are out of the way of a long run. */
    snprintf(pp.ini, sizeof pp.ini, "[wallet]\nmax_topup = %s\ndaily_limit_regular = %s\n",
             max_topup, daily);
    snprintf(pp.note, sizeof pp.note, "[wallet] max_topup = %s, daily_limit_regular = %s",
             max_topup, daily);

    /* --compare-fee: rounds of builtin, lua, then lua, builtin, ... each on a fresh yktd. */
    int nruns = compare ? 2 * (int)rounds : 1;
    pay_run *runs = calloc((size_t)nruns, sizeof *runs);
    if (runs == NULL) {
        fprintf(stderr, "ykt-bench: out of memory\n");
        return YKT_BENCH_EXIT_USAGE;
    }
    char order[256] = "";
    for (int i = 0; i < nruns; i++) {
        runs[i].builtin = compare ? (i % 4 == 0 || i % 4 == 3) : builtin;
        if (compare && strlen(order) + 16 < sizeof order)
            snprintf(order + strlen(order), sizeof order - strlen(order), "%s%s", i ? ", " : "",
                     fee_name(runs[i].builtin));
    }
    if (compare && ctx->keep != NULL && mkdir(ctx->keep, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "ykt-bench: --keep %s: %s\n", ctx->keep, strerror(errno));
        free(runs);
        return YKT_BENCH_EXIT_USAGE;
    }
    /* The head first: its date and load average are those at the start of the first run. */
    ykt_report *rep = ykt_report_new();
    ykt_bench_report_head(rep, ctx, "pay");
    int done = 0;
    bool setup_failed = false;
    for (int i = 0; i < nruns && !ykt_bench_interrupted; i++) {
        char keep[YKT_BENCH_PATH_MAX + 32];
        const char *keep_dir = ctx->keep;
        if (compare && ctx->keep != NULL) {
            snprintf(keep, sizeof keep, "%s/run%d-%s", ctx->keep, i + 1, fee_name(runs[i].builtin));
            keep_dir = keep;
        }
        if (compare)
            fprintf(stderr, "ykt-bench pay: run %d of %d, fee %s\n", i + 1, nruns,
                    fee_name(runs[i].builtin));
        if (pay_run_once(ctx, &pp, runs[i].builtin, keep_dir, &runs[i]) != 0) {
            setup_failed = true;
            break;
        }
        done++;
    }
    if (done == 0 || (setup_failed && !compare)) {
        for (int i = 0; i < nruns; i++)
            free_run(&runs[i]);
        free(runs);
        ykt_report_free(rep);
        return YKT_BENCH_EXIT_USAGE;
    }

    bool good = !setup_failed && done == nruns;
    if (compare) {
        report_compare(rep, &pp, runs, done, (int)rounds, order);
    } else {
        good &= report_single(rep, &pp, &runs[0], pgbench);
    }

    /* Errors of every run together. */
    code_count codes[MAX_CODES];
    int ncodes = 0, rc = 0;
    uint64_t errors = 0;
    const char *sample = "";
    for (int i = 0; i < done; i++) {
        const pay_run *run = &runs[i];
        good &= run_good(run, &pp);
        errors += run->errors;
        for (int k = 0; k < run->ncodes; k++)
            count_code(codes, &ncodes, run->codes[k].code, run->codes[k].n);
        if (sample[0] == '\0')
            sample = run->sample;
        if (rc == 0)
            rc = run->rc;
    }
    ykt_report_begin(rep, "errors");
    ykt_report_int(rep, "total", (int64_t)errors);
    for (int i = 0; i < ncodes; i++)
        ykt_report_int(rep, codes[i].code, (int64_t)codes[i].n);
    if (sample[0] != '\0')
        ykt_report_str(rep, "first", sample);
    if (setup_failed)
        ykt_report_str(rep, "setup", "a later run's gateway could not be set up (see stderr)");
    ykt_report_int(rep, "yktd_exit_status", rc);
    ykt_report_end(rep);
    if (ykt_bench_interrupted) {
        good = false;
        ykt_report_bool(rep, "interrupted", true);
    }
    ykt_report_bool(rep, "ok", good);
    ykt_report_print(rep, stdout, ctx->json);

    ykt_report_free(rep);
    for (int i = 0; i < nruns; i++)
        free_run(&runs[i]);
    free(runs);
    return good ? 0 : YKT_BENCH_EXIT_FAIL;
}
