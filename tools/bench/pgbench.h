/*
 * The PostgreSQL comparison of `ykt-bench pay --pgbench`: the same durable debit, run by
 * pgbench against a private PostgreSQL cluster on the same machine in the same session,
 * to put the gateway's group-commit figures in perspective.
 *
 * A new directory under $TMPDIR (or /tmp) receives a cluster made by initdb; the server
 * runs with fsync = on and synchronous_commit = on (the defaults, set explicitly), listens
 * on a Unix socket in that directory only (no TCP), and is stopped and removed at the end.
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
 * (Debian's package creates it); pgbench and psql are clients and run as we do.
 *
 * The schema has the shape of the gateway's ledger: accounts with cached balances (one
 * wallet per card, the merchant, a cash account the top-ups came from) and a transfers
 * table with the same columns and indexes, and, as the gateway's since its schema 13, no
 * foreign keys. Each pgbench transaction is one
 * debit: read the card's balance (FOR UPDATE) and check that it covers the amount, lower
 * the wallet, raise the merchant's account, insert the transfer, COMMIT. Client k uses
 * cards k, k + N, k + 2N, ... as ykt-bench's connection k does.
 */
#ifndef YKT_BENCH_PGBENCH_H
#define YKT_BENCH_PGBENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "latency.h"
#include "report.h"

typedef struct ykt_pgbench_spec {
    int connections; /* pgbench -c; -j is 2 (at most -c) */
    int cards;
    int seconds;           /* pgbench -T */
    int64_t rate;          /* pgbench -R (paced; latency from the scheduled start), 0: none */
    int64_t amount, topup; /* fen: each debit, and each card's starting balance */
} ykt_pgbench_spec;

typedef struct ykt_pgbench_result {
    char status[512]; /* "ran", "not installed (...)", or what went wrong */
    bool ran;
    char bindir[256], version[128], dir[1024], fs[16], server_user[64];
    int connections, threads, seconds, cards;
    int64_t rate;
    int64_t transactions, failed;
    double tps, latency_avg_ms;
    ykt_lat lat; /* every transaction's latency from pgbench's log (-l), microseconds */
    int64_t ledger_rows, balance_sum, merchant_balance;
    bool consistent; /* ledger_rows == transactions, balances sum to zero, merchant = sum */
    double pgbench_cpu_percent, postgres_cpu_percent;
} ykt_pgbench_result;

/*
 * Runs the comparison. Returns 0 when pgbench ran and its database is consistent, 1 when
 * PostgreSQL is not installed (nothing was run), -1 when something failed (status says
 * what). Progress and problems go to stderr. Free res with ykt_pgbench_result_free.
 */
int ykt_pgbench_run(const ykt_pgbench_spec *spec, ykt_pgbench_result *res);

/* Adds the "pgbench" section, with the ratios to ykt's throughput and latency; note, if not
 * NULL, says how ykt's run differed from pgbench's. */
void ykt_pgbench_report(ykt_report *r, ykt_pgbench_result *res, double ykt_per_s,
                        const ykt_lat_summary *ykt_summary, const char *note);

void ykt_pgbench_result_free(ykt_pgbench_result *res);

#endif
