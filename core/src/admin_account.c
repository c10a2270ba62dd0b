/*
 * account show|topup|refund and job run|list: a holder's wallet at the counter, and the
 * scheduled jobs on demand. Cash top-up here is the counter part of R-W6; the wallet work
 * (payments, limits, kiosks, bank) builds on the same ledger.
 */
#include "admin_cmds.h"
#include "events.h"
#include "admin_util.h"
#include "common.h"
#include "jobs.h"
#include "ledger.h"
#include "log.h"
#include "store/store.h"
#include "util.h"
#include "wallet.h"

#include <stdio.h>
#include <string.h>

#define OPERATORS (YKT_ROLE_OPERATOR | YKT_ROLE_SUPERUSER)
#define READERS                                                                                    \
    (YKT_ROLE_OPERATOR | YKT_ROLE_FINANCE | YKT_ROLE_AUDITOR | YKT_ROLE_DEPT_ADMIN |               \
     YKT_ROLE_DEPT_HEAD)

typedef struct history {
    ykt_table *t;
    int64_t account;
} history;

static int transfer_row(const ykt_transfer_row *r, void *arg)
{
    history *h = arg;
    char amount[32];
    ykt_format_fen(r->to == h->account ? r->amount : -r->amount, amount, sizeof amount);
    ykt_table_row(h->t);
    ykt_table_int(h->t, r->id);
    ykt_table_time(h->t, r->at);
    ykt_table_str(h->t, r->kind);
    ykt_table_str(h->t, amount);
    ykt_table_str(h->t, r->card_no[0] ? r->card_no : NULL);
    ykt_table_str(h->t, r->terminal[0] ? r->terminal : r->operator_name);
    ykt_table_str(h->t, r->memo);
    return YKT_OK;
}

static void cmd_show(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    int64_t limit = 20, wallet, balance;
    if (!ykt_args_int(req, a, "limit", 1, 10000, &limit) || !ykt_admin_person(req, a->pos[0], &p) ||
        !ykt_admin_may_see(req, &p))
        return;
    int rc = ykt_ledger_wallet(req->gw->db, p.id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(req->gw->db, wallet, &balance);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    static const char *const cols[] = {"id", "at", "kind", "amount", "card_no", "by", "memo"};
    history h = {.t = ykt_table_new("TABLE", 7, cols), .account = wallet};
    rc = ykt_store_transfers_of(req->gw->db, wallet, (int)limit, transfer_row, &h);
    if (rc != YKT_OK) {
        ykt_table_free(h.t);
        ykt_reply_internal(req, rc);
        return;
    }
    char text[32];
    ykt_format_fen(balance, text, sizeof text);
    ykt_reply_array(req, 2);
    ykt_reply_status(req, text); /* the balance first, then the movements */
    ykt_table_send(req, h.t);
}

/* The holder's account may take money only while they hold a usable card. */
static bool usable_card(ykt_req *req, const ykt_person *p)
{
    ykt_card c;
    char today[YKT_DATE_LEN];
    ykt_today(today);
    int rc = ykt_store_card_live(req->gw->db, p->id, "card", &c);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "CARD_CANCELLED", "%s holds no live card", p->person_no);
        return false;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    if (strcmp(c.status, "lost") == 0) {
        ykt_reply_error(req, "CARD_LOST", "card %s is reported lost", c.card_no);
        return false;
    }
    if (strcmp(c.status, "frozen") == 0) {
        ykt_reply_error(req, "CARD_FROZEN", "card %s is frozen", c.card_no);
        return false;
    }
    if (strcmp(c.valid_until, today) < 0) {
        ykt_reply_error(req, "CARD_EXPIRED", "card %s expired on %s", c.card_no, c.valid_until);
        return false;
    }
    return true;
}

/* Money replies show CNY for people and fen for programs. */
static void money_record(ykt_req *req, const char *person_no, const char *what, int64_t amount,
                         int64_t balance)
{
    char a[32], b[32], what_fen[32];
    ykt_format_fen(amount, a, sizeof a);
    ykt_format_fen(balance, b, sizeof b);
    snprintf(what_fen, sizeof what_fen, "%s_fen", what);
    const char *cols[] = {"person_no", what, "balance", what_fen, "balance_fen"};
    ykt_table *t = ykt_table_new("RECORD", 5, cols);
    ykt_table_row(t);
    ykt_table_str(t, person_no);
    ykt_table_str(t, a);
    ykt_table_str(t, b);
    ykt_table_int(t, amount);
    ykt_table_int(t, balance);
    ykt_table_send(req, t);
}

static void cmd_topup(ykt_req *req, const ykt_args *a)
{
    int64_t amount;
    const char *counter = ykt_args_get(a, "counter");
    if (ykt_parse_yuan(ykt_args_get(a, "amount"), &amount) != YKT_OK || amount <= 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--amount is CNY with at most two decimals, above 0");
        return;
    }
    ykt_person p;
    if (!ykt_admin_person(req, a->pos[0], &p) || !usable_card(req, &p))
        return;
    int64_t cash, balance = 0;
    ykt_refusal no;
    int rc = ykt_ledger_account(req->gw->db, YKT_ACC_CASH, counter ? counter : "main", &cash);
    if (rc == YKT_OK)
        rc = ykt_wallet_topup(req->gw, p.id, cash, amount, "topup_cash", NULL, NULL,
                              ykt_admin_actor(req), "cash at the counter", &balance, &no);
    if (rc == YKT_EPERM) {
        ykt_reply_error(req, no.code, "%s", no.why);
        return;
    }
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "account.topup", p.person_no, "cash %lld fen at counter %s",
                       (long long)amount, counter ? counter : "main");
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    money_record(req, p.person_no, "amount", amount, balance);
}

/* A holder whose cards ended without a refund claims the balance within the window. */
static void cmd_refund(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    if (!ykt_admin_person(req, a->pos[0], &p) || !ykt_admin_id_check(req, a, &p))
        return;
    ykt_db *db = req->gw->db;
    ykt_card c;
    int rc = ykt_store_card_live(db, p.id, "card", &c);
    if (rc == YKT_OK || (rc = ykt_store_card_live(db, p.id, "phone", &c)) == YKT_OK) {
        ykt_reply_error(req, "BAD_STATE", "card %s is still live; cancel it (card cancel)",
                        c.card_no);
        return;
    }
    const char *counter = ykt_args_get(a, "counter");
    int64_t wallet = 0, cash = 0, balance = 0, deposits = 0, deposit = 0;
    rc = ykt_ledger_wallet(db, p.id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(db, wallet, &balance);
    /* The card deposit the holder paid (R-C8), kept in their own deposit account. */
    char owner[24];
    snprintf(owner, sizeof owner, "%lld", (long long)p.id);
    if (rc == YKT_OK) {
        rc = ykt_store_account_find(db, YKT_ACC_DEPOSIT, owner, &deposits);
        if (rc == YKT_OK)
            rc = ykt_ledger_balance(db, deposits, &deposit);
        else if (rc == YKT_ENOTFOUND)
            rc = YKT_OK;
    }
    if (rc == YKT_OK && balance <= 0 && deposit <= 0) {
        ykt_reply_error(req, "NOTHING_TO_REFUND", "%s has no balance to refund", p.person_no);
        return;
    }
    if (rc == YKT_OK)
        rc = ykt_ledger_account(db, YKT_ACC_CASH, counter ? counter : "main", &cash);
    ykt_transfer t = {.from = wallet,
                      .to = cash,
                      .amount = balance,
                      .kind = "refund_cash",
                      .operator_name = ykt_admin_actor(req),
                      .memo = "balance claimed after the card ended"};
    if (rc == YKT_OK && balance > 0)
        rc = ykt_ledger_transfer(db, &t, NULL);
    ykt_transfer d = {.from = deposits,
                      .to = cash,
                      .amount = deposit,
                      .kind = "deposit_refund",
                      .operator_name = ykt_admin_actor(req),
                      .memo = "deposit claimed after the card ended"};
    if (rc == YKT_OK && deposit > 0)
        rc = ykt_ledger_transfer(db, &d, NULL);
    int64_t refunded = (balance > 0 ? balance : 0) + deposit;
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "account.refund", p.person_no,
                       "%lld fen refunded in cash (balance %lld, deposit %lld)",
                       (long long)refunded, (long long)balance, (long long)deposit);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    money_record(req, p.person_no, "refunded", refunded, 0);
}

static void cmd_job_run(ykt_req *req, const ykt_args *a)
{
    const char *name = a->pos[0];
    const char *today_opt = ykt_args_get(a, "today");
    char today[YKT_DATE_LEN];
    ykt_today(today);
    if (today_opt != NULL) {
        if (!ykt_date_valid(today_opt)) {
            ykt_reply_error(req, "BAD_REQUEST", "--today is a date YYYY-MM-DD");
            return;
        }
        /* Catching up on a missed day is fine; running a day that has not come would cancel
         * valid cards and sweep balances for good. */
        if (strcmp(today_opt, today) > 0) {
            ykt_reply_error(req, "BAD_REQUEST", "--today %s is in the future (today is %s)",
                            today_opt, today);
            return;
        }
        ykt_strlcpy(today, today_opt, sizeof today);
    }
    ykt_job_result r = {0};
    int rc;
    if (strcmp(name, "day-end") == 0) {
        /* What the clock does at midnight: plugins close the day (attendance, passback). */
        ykt_events_day_end(req->gw, today);
        rc = YKT_OK;
    } else {
        rc = ykt_job_run(req->gw, name, today, ykt_admin_actor(req), &r);
    }
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "unknown job '%.32s' (auto-cancel, dormant, expiry, prune, statements, "
                        "day-end)",
                        name);
        return;
    }
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "job.run", name, "for %s: %lld items, %lld fen to dormant funds",
                       today, (long long)r.items, (long long)r.moved);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    static const char *const cols[] = {"job", "day", "items", "moved_to_dormant_fen"};
    ykt_table *t = ykt_table_new("RECORD", 4, cols);
    ykt_table_row(t);
    ykt_table_str(t, name);
    ykt_table_str(t, today);
    ykt_table_int(t, r.items);
    ykt_table_int(t, r.moved);
    ykt_table_send(req, t);
}

static const ykt_admin_cmd cmds[] = {
    {"account", "show", cmd_show, READERS | YKT_ROLE_PORTAL, false, 1, 1,
     "limit=", "account show NO [--limit N]", "Balance and latest money movements of a holder."},
    {"account", "topup", cmd_topup, OPERATORS, true, 1, 1,
     "amount=! counter=", "account topup NO --amount CNY [--counter C]",
     "Top up in cash at a counter (at most [wallet] max_topup per top-up)."},
    {"account", "refund", cmd_refund, OPERATORS, true, 1, 1,
     "id-number= counter=", "account refund NO --id-number ID [--counter C]",
     "Pay out the balance of a holder whose cards ended, within the refund window."},
    {"job", "run", cmd_job_run, YKT_ROLE_SUPERUSER, true, 1, 1,
     "today=", "job run auto-cancel|dormant|expiry|prune|statements|day-end [--today DATE]",
     "Run a daily job now (idempotent), optionally as of another day; day-end announces the "
     "day's end to the plugins as midnight does."},
};

int ykt_admin_account_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
