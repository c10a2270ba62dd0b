#include "jobs.h"
#include "admin.h"
#include "card.h"
#include "common.h"
#include "ledger.h"
#include "log.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_BATCH 500

const char *const ykt_job_names[] = {"auto-cancel", "dormant",    "expiry",
                                     "prune",       "statements", NULL};

typedef struct job_ctx {
    ykt_gw *gw;
    const char *actor;
    ykt_job_result *r;
    ykt_card cards[JOB_BATCH];
    int ncards;
    struct {
        int64_t account, person, balance;
    } wallets[JOB_BATCH];
    int nwallets;
} job_ctx;

static int to_dormant(job_ctx *ctx, int64_t wallet, int64_t balance, const char *card_no,
                      const char *why)
{
    int64_t dormant;
    int rc = ykt_ledger_account(ctx->gw->db, YKT_ACC_DORMANT, "", &dormant);
    ykt_transfer t = {.from = wallet,
                      .to = dormant,
                      .amount = balance,
                      .kind = "dormant",
                      .card_no = card_no,
                      .operator_name = ctx->actor,
                      .memo = why};
    if (rc == YKT_OK)
        rc = ykt_ledger_transfer(ctx->gw->db, &t, NULL);
    if (rc == YKT_OK)
        ctx->r->moved += balance;
    return rc;
}

static int collect_card(const ykt_card *c, void *arg)
{
    job_ctx *ctx = arg;
    ctx->cards[ctx->ncards++] = *c;
    return YKT_OK;
}

static int auto_cancel(job_ctx *ctx, const char *today)
{
    ykt_db *db = ctx->gw->db;
    char cutoff[YKT_DATE_LEN];
    ykt_date_add_months(today, -(int)ctx->gw->cfg.auto_cancel_months, cutoff);
    for (;;) {
        ctx->ncards = 0;
        int rc = ykt_store_card_expired_before(db, cutoff, JOB_BATCH, collect_card, ctx);
        if (rc != YKT_OK || ctx->ncards == 0)
            return rc;
        for (int i = 0; i < ctx->ncards; i++) {
            ykt_card *c = &ctx->cards[i];
            char why[96];
            snprintf(why, sizeof why, "auto-cancelled %lld months after validity ended %s",
                     (long long)ctx->gw->cfg.auto_cancel_months, c->valid_until);
            rc = ykt_card_set_status(db, c, "cancelled", why, ctx->actor, false, why);
            ykt_card other;
            int live = rc == YKT_OK ? ykt_store_card_live(db, c->person_id, "card", &other) : rc;
            if (live == YKT_ENOTFOUND)
                live = ykt_store_card_live(db, c->person_id, "phone", &other);
            int64_t wallet, balance = 0;
            if (rc == YKT_OK && live == YKT_ENOTFOUND) {
                rc = ykt_ledger_wallet(db, c->person_id, &wallet);
                if (rc == YKT_OK)
                    rc = ykt_ledger_balance(db, wallet, &balance);
                if (rc == YKT_OK && balance > 0)
                    rc = to_dormant(ctx, wallet, balance, c->card_no, why);
            } else if (rc == YKT_OK && live != YKT_OK) {
                rc = live;
            }
            if (rc == YKT_OK)
                rc = ykt_audit_write(db, ctx->actor, "system", "job.auto-cancel", c->card_no, "",
                                     "%s; %lld fen to dormant funds", why, (long long)balance);
            if (rc != YKT_OK)
                return rc;
            ctx->r->items++;
        }
    }
}

static int collect_wallet(int64_t account, int64_t person, int64_t balance, void *arg)
{
    job_ctx *ctx = arg;
    ctx->wallets[ctx->nwallets].account = account;
    ctx->wallets[ctx->nwallets].person = person;
    ctx->wallets[ctx->nwallets].balance = balance;
    ctx->nwallets++;
    return YKT_OK;
}

static int sweep_dormant(job_ctx *ctx, const char *today)
{
    char cutoff[YKT_DATE_LEN];
    ykt_date_add_months(today, -(int)ctx->gw->cfg.refund_window_months, cutoff);
    int64_t cutoff_ms = ykt_date_start_ms(cutoff);
    for (;;) {
        ctx->nwallets = 0;
        int rc =
            ykt_store_wallets_unclaimed(ctx->gw->db, cutoff_ms, JOB_BATCH, collect_wallet, ctx);
        if (rc != YKT_OK || ctx->nwallets == 0)
            return rc;
        for (int i = 0; i < ctx->nwallets; i++) {
            char why[96], target[24];
            snprintf(why, sizeof why, "unclaimed %lld months after the last card ended",
                     (long long)ctx->gw->cfg.refund_window_months);
            snprintf(target, sizeof target, "person:%lld", (long long)ctx->wallets[i].person);
            rc = to_dormant(ctx, ctx->wallets[i].account, ctx->wallets[i].balance, NULL, why);
            if (rc == YKT_OK)
                rc = ykt_audit_write(ctx->gw->db, ctx->actor, "system", "job.dormant", target, "",
                                     "%s; %lld fen to dormant funds", why,
                                     (long long)ctx->wallets[i].balance);
            if (rc != YKT_OK)
                return rc;
            ctx->r->items++;
        }
    }
}

/* R-W8: once a month has ended, each holder is told their statement for it is ready. The
 * meta row statements_month (YYYYMM) says which month was told last, so the job runs daily
 * and tells each month once; after a stop across several months' turns it tells each month
 * missed, in order, each judged by its own start and end. A new database starts with the
 * month just ended: there is nothing to tell about months before ykt was running. */
static int monthly_statements(ykt_gw *gw, const char *today, ykt_job_result *r)
{
    char this_month[YKT_DATE_LEN], month[YKT_DATE_LEN];
    snprintf(this_month, sizeof this_month, "%.7s-01", today);
    ykt_date_add_months(this_month, -1, month);
    int64_t told = 0;
    int rc = ykt_store_meta_get(gw->db, "statements_month", &told);
    if (rc != YKT_OK && rc != YKT_ENOTFOUND)
        return rc;
    unsigned told_year = (unsigned)(told / 100) % 10000u, told_month = (unsigned)(told % 100);
    if (told > 0 && told_month >= 1 && told_month <= 12) {
        /* The month after the last one told, which may be this month (nothing to do). */
        char next[YKT_DATE_LEN];
        snprintf(next, sizeof next, "%04u-%02u-01", told_year, told_month);
        ykt_date_add_months(next, 1, month);
    }
    for (;;) {
        if (strcmp(month, this_month) >= 0)
            return YKT_OK;
        char end[YKT_DATE_LEN], name[8];
        ykt_date_add_months(month, 1, end);
        snprintf(name, sizeof name, "%.7s", month);
        int64_t n = 0;
        rc = ykt_store_notice_statements(gw->db, name, ykt_date_start_ms(month),
                                         ykt_date_start_ms(end), ykt_now_ms(), &n);
        if (rc == YKT_OK)
            rc = ykt_store_meta_set(gw->db, "statements_month",
                                    (int64_t)atoi(month) * 100 + atoi(month + 5));
        if (rc != YKT_OK)
            return rc;
        r->items += n;
        memcpy(month, end, sizeof month);
    }
}

int ykt_job_run(ykt_gw *gw, const char *name, const char *today, const char *actor,
                ykt_job_result *r)
{
    memset(r, 0, sizeof *r);
    job_ctx *ctx = calloc(1, sizeof *ctx); /* two batches of records: not for the stack */
    if (ctx == NULL)
        return YKT_ENOMEM;
    ctx->gw = gw;
    ctx->actor = actor;
    ctx->r = r;
    int rc;
    if (strcmp(name, "auto-cancel") == 0) {
        rc = auto_cancel(ctx, today);
    } else if (strcmp(name, "dormant") == 0) {
        rc = sweep_dormant(ctx, today);
    } else if (strcmp(name, "expiry") == 0) {
        int64_t version;
        rc = ykt_store_meta_next(gw->db, "blacklist_version", &version);
        if (rc == YKT_OK)
            rc = ykt_store_card_list_expired(gw->db, today, version, &r->items);
    } else if (strcmp(name, "statements") == 0) {
        rc = monthly_statements(gw, today, r);
    } else if (strcmp(name, "prune") == 0) {
        /* Archived first: what has been kept for the retention period is archived. */
        rc = ykt_store_request_archive(gw->db, NULL);
        if (rc == YKT_OK)
            rc = ykt_store_request_prune(gw->db, ykt_now_ms() - gw->cfg.request_retention_ms,
                                         &r->items);
    } else {
        rc = YKT_ENOTFOUND;
    }
    free(ctx);
    return rc;
}

/* The day archived, and the day whose archive waits for its batch to commit. */
static char archived_day[YKT_DATE_LEN], archiving_day[YKT_DATE_LEN];

/* The archive counts as done for the day once its batch has committed. */
static void archive_committed(void *arg, bool committed)
{
    (void)arg;
    if (committed)
        memcpy(archived_day, archiving_day, sizeof archived_day);
    archiving_day[0] = '\0'; /* not committed: the next tick tries again */
}

void ykt_jobs_tick(ykt_gw *gw)
{
    static char last_day[YKT_DATE_LEN];
    char today[YKT_DATE_LEN];
    ykt_today(today);
    /* On its own, first: the walk of a terminal's outcomes stays one day long even while a
     * job below keeps failing, and a batch that failed to commit is tried again (the prune
     * archives too, for `job run prune`). */
    if (strcmp(today, archived_day) != 0 && strcmp(today, archiving_day) != 0 &&
        ykt_db_cmd_begin(gw->db) == YKT_OK) {
        int64_t n = 0;
        int rc = ykt_store_request_archive(gw->db, &n);
        if (rc == YKT_OK) {
            memcpy(archiving_day, today, sizeof archiving_day);
            ykt_db_on_commit(gw->db, archive_committed, NULL);
        }
        ykt_db_cmd_end(gw->db, rc == YKT_OK);
        if (rc != YKT_OK)
            ykt_error("archiving the outcomes of terminal requests for %s failed: %s; "
                      "retrying at the next tick",
                      today, ykt_strerror(rc));
    }
    if (strcmp(today, last_day) == 0)
        return;
    for (int i = 0; ykt_job_names[i] != NULL; i++) {
        ykt_job_result r;
        if (ykt_db_cmd_begin(gw->db) != YKT_OK)
            return;
        int rc = ykt_job_run(gw, ykt_job_names[i], today, "system:daily", &r);
        ykt_db_cmd_end(gw->db, rc == YKT_OK);
        if (rc != YKT_OK) {
            ykt_error("job %s for %s failed: %s; retrying at the next tick", ykt_job_names[i],
                      today, ykt_strerror(rc));
            return;
        }
        if (r.items > 0)
            ykt_info("job %s for %s: %lld items, %lld fen to dormant funds", ykt_job_names[i],
                     today, (long long)r.items, (long long)r.moved);
    }
    memcpy(last_day, today, sizeof last_day);
}
