/*
 * Money verbs on the terminal port: PAY, PAY.OFFLINE, HOLD, CAPTURE, VOID and TOPUP.
 * See docs/protocol.md ("Wallet verbs") for arguments, replies and error codes.
 */
#include "cardauth.h"
#include "cardpw.h"
#include "common.h"
#include "ledger.h"
#include "log.h"
#include "pay_verbs.h"
#include "store/store.h"
#include "util.h"
#include "verbs.h"
#include "wallet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The merchants terminals sell for, as last read, by a hash of the id: a copy is used while
 * the database's row epoch has not moved since it was read (db.h; any change to a merchant,
 * suspended or its fees, moves it). Loop thread only, like the database. */
#define MERCHANT_COPIES 64

static struct merchant_copy {
    const ykt_db *db;
    uint64_t epoch; /* 0: none */
    ykt_merchant m;
} merchant_copies[MERCHANT_COPIES];

static int merchant_get(ykt_db *db, const char *id, ykt_merchant *m)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    struct merchant_copy *k = &merchant_copies[h % MERCHANT_COPIES];
    uint64_t epoch = ykt_db_rows_epoch(db);
    if (k->db == db && k->epoch == epoch && strcmp(k->m.id, id) == 0) {
        *m = k->m;
        return YKT_OK;
    }
    int rc = ykt_store_merchant_get(db, id, m);
    if (rc == YKT_OK && strcmp(m->id, id) == 0)
        *k = (struct merchant_copy){db, epoch, *m};
    return rc;
}

/* The merchant a POS-like terminal sells for: the terminal's owner (R-W3). */
static bool terminal_merchant(ykt_req *req, ykt_merchant *m)
{
    int rc = merchant_get(req->gw->db, req->term->owner, m);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NO_MERCHANT", "terminal %s is not owned by a merchant",
                        req->term->id);
        return false;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return true;
}

static void reply_refusal(ykt_req *req, int rc, const ykt_refusal *no)
{
    if (rc == YKT_EPERM)
        ykt_reply_error(req, no->code, "%s", no->why);
    else
        ykt_reply_internal(req, rc);
}

/* ---- PAY seq uid atc time amount cryptogram [pin] ---- */

typedef struct pay_job {
    ykt_cardpw_job pw; /* first, so the job is also a password job */
    ykt_card card;
    ykt_person person;
    ykt_merchant merchant;
    ykt_presented presented;
    bool hold; /* HOLD rather than PAY */
} pay_job;

typedef struct atc_taker {
    ykt_req *req;
    pay_job *job;
} atc_taker;

static int take_atc(void *arg)
{
    atc_taker *t = arg;
    return ykt_card_take_atc(t->req, &t->job->presented, &t->job->card);
}

static void finish_pay(ykt_req *req, pay_job *job)
{
    atc_taker taker = {req, job};
    ykt_pay p = {.card = &job->card,
                 .person = &job->person,
                 .merchant = &job->merchant,
                 .terminal = req->term->id,
                 .seq = job->presented.seq,
                 .card_time = job->presented.time_ms,
                 .amount = job->presented.amount,
                 .before_writes = take_atc,
                 .arg = &taker};
    ykt_refusal no;
    if (job->hold) {
        int64_t hold_id, balance, expires;
        int rc = ykt_wallet_hold(req->gw, &p, req->gw->cfg.hold_timeout_ms, &hold_id, &balance,
                                 &expires, &no);
        if (rc != YKT_OK) {
            reply_refusal(req, rc, &no);
            return;
        }
        ykt_reply_array(req, 4);
        ykt_reply_int(req, hold_id);
        ykt_reply_int(req, p.amount);
        ykt_reply_int(req, balance);
        ykt_reply_int(req, expires);
        return;
    }
    ykt_pay_result r;
    int rc = ykt_wallet_pay(req->gw, &p, &r, &no);
    if (rc != YKT_OK) {
        if (!req->replied) /* take_atc replies REPLAY itself */
            reply_refusal(req, rc, &no);
        return;
    }
    ykt_reply_array(req, 3);
    ykt_reply_int(req, r.payment_id);
    ykt_reply_int(req, r.charged);
    ykt_reply_int(req, r.balance);
}

static void pin_work(void *data)
{
    ykt_cardpw_work(data);
}

static void pin_done(ykt_req *req, void *data)
{
    pay_job *job = data;
    if (!req->abandoned && ykt_cardpw_conclude(req, &job->pw) && ykt_card_still_usable(req))
        finish_pay(req, job);
    ykt_cardpw_job_wipe(&job->pw);
    free(job);
}

static void pay_or_hold(ykt_req *req, bool hold)
{
    pay_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    job->hold = hold;
    ykt_presented *p = &job->presented;
    if (!ykt_presented_parse(req, p))
        goto out;
    if (req->argc > 1 + YKT_CARD_ARGS + 1) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "usage: %s <seq> <uid> <atc> <time> <amount> "
                        "<cryptogram> [pin]",
                        req->argv[0]);
        goto out;
    }
    if (p->amount <= 0 || p->amount > YKT_AMOUNT_MAX) {
        ykt_reply_error(req, "BAD_REQUEST", "the amount must be 1 fen or more");
        goto out;
    }
    /* A PAY takes the card's ATC only once it will pay (ykt_wallet_pay's before_writes), or
     * before it waits for the password: its refusals write nothing, and it runs without a
     * savepoint (YKT_VERB_UNGUARDED). A HOLD takes it at once. */
    unsigned auth = YKT_CARDAUTH_ONLINE | (hold ? 0 : YKT_CARDAUTH_ATC_LATER);
    if (!ykt_card_authenticate(req, p, auth, &job->card, &job->person) ||
        !terminal_merchant(req, &job->merchant))
        goto out;
    ykt_refusal no;
    if (!ykt_wallet_card_may_pay(&job->card, &job->merchant, &no)) {
        ykt_reply_error(req, no.code, "%s", no.why);
        goto out;
    }
    const char *pin = req->argc == 1 + YKT_CARD_ARGS + 1 ? req->argv[7] : NULL;
    /* R-C10: at or above the threshold the payment password is required; a PIN sent below
     * it is checked too — a terminal that asked for one must not have it ignored. */
    if (pin == NULL && ykt_wallet_needs_pin(req->gw, p->amount)) {
        char threshold[32];
        ykt_format_fen(req->gw->cfg.pin_threshold, threshold, sizeof threshold);
        ykt_reply_error(req, "PIN_REQUIRED",
                        "a payment of %s CNY or more needs the payment password", threshold);
        goto out;
    }
    if (pin == NULL) {
        finish_pay(req, job);
        goto out;
    }
    if (!ykt_cardpw_valid(pin)) {
        ykt_reply_error(req, "BAD_PIN", "the payment password is 6 digits");
        goto out;
    }
    if (!ykt_cardpw_prepare(req, &job->pw, job->person.id, "pay"))
        goto out;
    ykt_strlcpy(job->pw.password, pin, sizeof job->pw.password);
    int rc = ykt_card_take_atc(req, p, &job->card);
    if (rc != YKT_OK) {
        if (rc != YKT_EPERM) /* EPERM: refused REPLAY */
            ykt_reply_internal(req, rc);
        goto out;
    }
    ykt_verbs_mark_waiting(req); /* its only change so far: the card's ATC */
    ykt_req_defer(req, pin_work, pin_done, job);
    return;
out:
    ykt_cardpw_job_wipe(&job->pw);
    free(job);
}

static void cmd_pay(ykt_req *req)
{
    pay_or_hold(req, false);
}

static void cmd_hold(ykt_req *req)
{
    pay_or_hold(req, true);
}

/* ---- CAPTURE seq hold amount / VOID seq hold ---- */

static bool parse_id(ykt_req *req, int i, int64_t min, const char *what, int64_t *out)
{
    if (strlen(req->argv[i]) != req->argl[i] ||
        ykt_parse_int64(req->argv[i], min, YKT_AMOUNT_MAX, out) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "%s must be a whole number >= %lld", what,
                        (long long)min);
        return false;
    }
    return true;
}

static void cmd_capture(ykt_req *req)
{
    int64_t hold, amount, seq;
    if (req->argc != 4) {
        ykt_reply_error(req, "BAD_REQUEST", "usage: CAPTURE <seq> <hold> <amount>");
        return;
    }
    if (!parse_id(req, 1, 1, "seq", &seq) || !parse_id(req, 2, 1, "hold", &hold) ||
        !parse_id(req, 3, 0, "amount", &amount))
        return;
    ykt_pay_result r;
    ykt_refusal no;
    int rc = ykt_wallet_capture(req->gw, hold, req->term->id, seq, amount, &r, &no);
    if (rc != YKT_OK) {
        reply_refusal(req, rc, &no);
        return;
    }
    ykt_reply_array(req, 3);
    if (r.payment_id)
        ykt_reply_int(req, r.payment_id);
    else
        ykt_reply_null(req);
    ykt_reply_int(req, r.charged);
    ykt_reply_int(req, r.balance);
}

static void cmd_void(ykt_req *req)
{
    int64_t hold, seq, balance;
    if (req->argc != 3) {
        ykt_reply_error(req, "BAD_REQUEST", "usage: VOID <seq> <hold>");
        return;
    }
    if (!parse_id(req, 1, 1, "seq", &seq) || !parse_id(req, 2, 1, "hold", &hold))
        return;
    ykt_refusal no;
    int rc = ykt_wallet_void(req->gw, hold, req->term->id, "voided", &balance, &no);
    if (rc != YKT_OK) {
        reply_refusal(req, rc, &no);
        return;
    }
    ykt_reply_int(req, balance);
}

/* ---- TOPUP seq uid atc time amount cryptogram (self-service kiosk taking cash) ---- */

static void cmd_topup(ykt_req *req)
{
    ykt_presented p;
    ykt_card card;
    ykt_person person;
    if (!ykt_presented_parse(req, &p))
        return;
    if (req->argc != 1 + YKT_CARD_ARGS || p.amount <= 0) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "usage: TOPUP <seq> <uid> <atc> <time> <amount> <cryptogram>, amount > 0");
        return;
    }
    if (!ykt_card_authenticate(req, &p, YKT_CARDAUTH_ONLINE, &card, &person))
        return;
    char owner[80];
    snprintf(owner, sizeof owner, "kiosk:%s", req->term->id);
    int64_t cash, balance;
    ykt_refusal no;
    int rc = ykt_ledger_account(req->gw->db, YKT_ACC_CASH, owner, &cash);
    if (rc == YKT_OK)
        rc = ykt_wallet_topup(req->gw, person.id, cash, p.amount, "topup_kiosk", card.card_no,
                              req->term->id, NULL, "cash at a self-service kiosk", &balance, &no);
    if (rc != YKT_OK) {
        reply_refusal(req, rc, &no);
        return;
    }
    ykt_reply_int(req, balance);
}

/* ---- PAY.OFFLINE seq uid atc time amount cryptogram: an offline sale uploaded (R-W11) ---- */

static void cmd_pay_offline(ykt_req *req)
{
    ykt_presented p;
    ykt_card card;
    ykt_person person;
    ykt_merchant m;
    if (!ykt_presented_parse(req, &p))
        return;
    if (req->argc != 1 + YKT_CARD_ARGS || p.amount <= 0) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "usage: PAY.OFFLINE <seq> <uid> <atc> <time> "
                        "<amount> <cryptogram>, amount > 0");
        return;
    }
    /* The card signed a PAY when it was at the terminal; the upload carries that. */
    if (!terminal_merchant(req, &m) ||
        !ykt_card_authenticate_op(req, &p, "PAY", YKT_CARDAUTH_OFFLINE, &card, &person))
        return;
    /* Judge the card as it was at the sale: lost, frozen or cancelled before it, or expired
     * on that day, and the holder is not charged; the sale is flagged for the card centre. */
    char day[YKT_DATE_LEN], then[16];
    ykt_date_of(p.time_ms, day);
    const char *refused = NULL;
    /* A card lost at the time of the sale stays refused when it was unlocked since. */
    if (ykt_store_card_status_at(req->gw->db, card.card_no, p.time_ms, then, sizeof then) !=
        YKT_OK) {
        ykt_reply_internal(req, YKT_ESTORAGE);
        return;
    }
    if (strcmp(card.status, "active") != 0 && card.status_at <= p.time_ms)
        refused = card.status;
    else if (strcmp(then, "active") != 0)
        refused = then;
    else if (strcmp(card.valid_until, day) < 0)
        refused = "expired";
    if (refused != NULL) {
        char detail[160];
        snprintf(detail, sizeof detail, "offline sale of %lld fen at %s after the card was %s",
                 (long long)p.amount, req->term->id, refused);
        if (ykt_card_event(req->gw->db, card.card_no, "offline_refused", req->term->id, false,
                           detail) != YKT_OK) {
            ykt_reply_internal(req, YKT_ESTORAGE);
            return;
        }
        ykt_warn("card %s: %s", card.card_no, detail);
        ykt_reply_array(req, 4);
        ykt_reply_null(req);
        ykt_reply_bulk(req, "refused");
        ykt_reply_bulk(req, refused);
        ykt_reply_int(req, 0);
        return;
    }
    const char *flag = p.amount > req->gw->cfg.offline_max_payment ? "over_offline_limit" : NULL;
    ykt_pay pay = {.card = &card,
                   .person = &person,
                   .merchant = &m,
                   .terminal = req->term->id,
                   .seq = p.seq,
                   .card_time = p.time_ms,
                   .amount = p.amount,
                   .offline = true,
                   .flag = flag};
    ykt_pay_result r;
    ykt_refusal no;
    int rc = ykt_wallet_pay(req->gw, &pay, &r, &no);
    /* The sale happened (the holder has the goods) and will not be charged: the card
     * centre's log says so, as for a sale refused for the card's status. Nothing else of it
     * stays: the refusal rolls back. */
    if (rc == YKT_EPERM && strcmp(no.code, "SEQ_REUSED") == 0)
        ykt_warn("card %s: offline sale of %lld fen at %s refused: %s", card.card_no,
                 (long long)p.amount, req->term->id, no.why);
    if (rc != YKT_OK) {
        reply_refusal(req, rc, &no);
        return;
    }
    if (r.debt)
        ykt_warn("card %s: offline sale at %s left a debt; balance %lld fen", card.card_no,
                 req->term->id, (long long)r.balance);
    ykt_reply_array(req, 4);
    ykt_reply_int(req, r.payment_id);
    /* Every flag the card centre sees, so the terminal learns both when both apply. */
    ykt_reply_bulk(req, r.debt && flag ? "debt,over_offline_limit"
                                       : (r.debt ? "debt" : (flag ? flag : "ok")));
    ykt_reply_int(req, r.charged);
    ykt_reply_int(req, r.balance);
}

int ykt_pay_verbs_register(ykt_verbs *v)
{
    const unsigned holders = YKT_TT_DISPENSER | YKT_TT_BOOKING | YKT_TT_POS;
    int rc = YKT_OK;
    rc |= ykt_verbs_register(v, "PAY", cmd_pay, YKT_TT_POS, YKT_VERB_SEQ | YKT_VERB_UNGUARDED, NULL,
                             "PAY <seq> <uid> <atc> <time> <amount> <cryptogram> [pin]");
    rc |= ykt_verbs_register(v, "PAY.OFFLINE", cmd_pay_offline, YKT_TT_POS | YKT_TT_DISPENSER,
                             YKT_VERB_SEQ, NULL,
                             "PAY.OFFLINE <seq> <uid> <atc> <time> <amount> <cryptogram>");
    rc |= ykt_verbs_register(v, "HOLD", cmd_hold, holders, YKT_VERB_SEQ, NULL,
                             "HOLD <seq> <uid> <atc> <time> <amount> <cryptogram> [pin]");
    rc |= ykt_verbs_register(v, "CAPTURE", cmd_capture, holders, YKT_VERB_SEQ, NULL,
                             "CAPTURE <seq> <hold> <amount>");
    rc |= ykt_verbs_register(v, "VOID", cmd_void, holders, YKT_VERB_SEQ, NULL, "VOID <seq> <hold>");
    rc |= ykt_verbs_register(v, "TOPUP", cmd_topup, YKT_TT_KIOSK, YKT_VERB_SEQ, NULL,
                             "TOPUP <seq> <uid> <atc> <time> <amount> <cryptogram>");
    return rc == YKT_OK ? YKT_OK : YKT_EINVAL;
}
