/*
 * Scheduled jobs, run once per campus day (and on demand with `yktctl job run`):
 *   auto-cancel  cards whose validity ended [cards] auto_cancel_after months ago are
 *                cancelled and the balance moves to the dormant-funds account (R-C8);
 *   dormant      balances not claimed within [cards] refund_window months after a card
 *                ended move to the dormant-funds account;
 *   expiry       credentials that expired join the blacklist for offline terminals;
 *   prune        outcomes of (terminal, seq) older than [terminal] request_retention go;
 *   statements   once a month has ended, each holder is told their statement is ready (R-W8).
 * Each is idempotent: running it twice for the same day changes nothing the second time.
 */
#ifndef YKT_JOBS_H
#define YKT_JOBS_H

#include <stdint.h>

#include "date.h"
#include "gateway.h"

typedef struct ykt_job_result {
    int64_t items; /* cards cancelled, wallets swept, cards listed, rows pruned */
    int64_t moved; /* fen moved to the dormant-funds account */
} ykt_job_result;

/* Runs one job by name for `today` inside the current request; actor goes to the audit. */
int ykt_job_run(ykt_gw *gw, const char *name, const char *today, const char *actor,
                ykt_job_result *r);
/* Called every minute by the server: runs every job when the campus date has changed. */
void ykt_jobs_tick(ykt_gw *gw);
extern const char *const ykt_job_names[];

#endif
