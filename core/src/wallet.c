#include "wallet.h"
#include "common.h"
#include "date.h"
#include "events.h"
#include "ledger.h"
#include "log.h"
#include "rules.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int refuse(ykt_refusal *no, const char *code, const char *fmt, const char *a, const char *b)
{
    no->code = code;
    snprintf(no->why, sizeof no->why, fmt, a, b);
    return YKT_EPERM;
}

static void yuan(int64_t fen, char *buf, size_t len)
{
    ykt_format_fen(fen, buf, len);
}

void ykt_fee_builtin(const ykt_merchant *m, const char *card_type, int64_t amount, ykt_fee *out)
{
    int bp = strcmp(card_type, "temporary") == 0 ? m->fee_temporary_bp : m->fee_regular_bp;
    out->discount = amount * m->discount_bp / 10000;
    out->fee = (amount - out->discount) * bp / 10000;
}

int ykt_wallet_fee(ykt_gw *gw, const ykt_merchant *m, const ykt_card *card, const char *kind,
                   int64_t amount, int64_t at_ms, ykt_fee *out, ykt_refusal *no)
{
    const char *script = gw->cfg.fee_script;
    if (script[0] == '\0') {
        ykt_fee_builtin(m, card->type, amount, out);
        return YKT_OK;
    }
    time_t secs = (time_t)(at_ms / 1000);
    struct tm local;
    localtime_r(&secs, &local);
    bool temporary = strcmp(card->type, "temporary") == 0;
    ykt_rule_value args[] = {
        {.name = "amount", .type = 'i', .i = amount},
        {.name = "card_type", .type = 's', .s = card->type},
        {.name = "kind", .type = 's', .s = kind},
        {.name = "merchant", .type = 's', .s = m->id},
        {.name = "category", .type = 's', .s = m->category},
        {.name = "discount_bp", .type = 'i', .i = m->discount_bp},
        {.name = "fee_bp", .type = 'i', .i = temporary ? m->fee_temporary_bp : m->fee_regular_bp},
        {.name = "hour", .type = 'i', .i = local.tm_hour},
    };
    ykt_rule_value res[] = {{.name = "discount", .type = 'i'}, {.name = "fee", .type = 'i'}};
    char err[200];
    int rc = gw->rules == NULL
                 ? (snprintf(err, sizeof err, "no rule scripts are loaded"), YKT_ENOTFOUND)
                 : ykt_rules_call(gw->rules, script, "fee", args, (int)YKT_ARRAY_LEN(args), res,
                                  (int)YKT_ARRAY_LEN(res), err, sizeof err);
    if (rc != YKT_OK)
        return refuse(no, "RULE_ERROR", "fee rule %.32s.fee: %.100s", script, err);
    out->discount = res[0].i;
    out->fee = res[1].i;
    if (out->discount < 0 || out->discount > amount || out->fee < 0 ||
        out->fee > amount - out->discount) {
        char answer[80];
        snprintf(answer, sizeof answer, "discount %lld and fee %lld for amount %lld",
                 (long long)out->discount, (long long)out->fee, (long long)amount);
        return refuse(no, "RULE_ERROR", "fee rule %.32s.fee answered %s, out of bounds", script,
                      answer);
    }
    return YKT_OK;
}

bool ykt_wallet_card_may_pay(const ykt_card *card, const ykt_merchant *m, ykt_refusal *no)
{
    if (strcmp(m->status, "active") != 0) {
        refuse(no, "MERCHANT_SUSPENDED", "merchant %s is %s", m->id, m->status);
        return false;
    }
    if (!ykt_card_allows(card->merchants, m->id) ||
        !ykt_card_allows(card->subsystems, m->category)) {
        refuse(no, "NOT_ALLOWED", "this temporary card may not pay at %s (%s)", m->id, m->category);
        return false;
    }
    return true;
}

bool ykt_wallet_needs_pin(ykt_gw *gw, int64_t amount)
{
    return amount >= gw->cfg.pin_threshold;
}

int ykt_wallet_balance(ykt_gw *gw, int64_t person_id, int64_t *balance)
{
    int64_t wallet;
    return ykt_ledger_wallet_balance(gw->db, person_id, &wallet, balance);
}

/* The daily limit of a holder: raised on application, else the card type's default. */
static int64_t daily_limit(ykt_gw *gw, const ykt_card *card, const ykt_holder_settings *s)
{
    if (s->daily_limit >= 0)
        return s->daily_limit;
    return strcmp(card->type, "temporary") == 0 ? gw->cfg.daily_limit_temporary
                                                : gw->cfg.daily_limit_regular;
}

/* R-W2: one payment's upper limit and the holder's daily limit. spent: the day's payments
 * plus the pending holds (money on pending holds is spent once captured), or -1 to read
 * them here. */
static int check_limits(ykt_gw *gw, const ykt_pay *p, int64_t charged, const char *day,
                        int64_t spent, const ykt_holder_settings *s, ykt_refusal *no)
{
    char a[32], b[32];
    if (p->amount > gw->cfg.max_payment) {
        yuan(gw->cfg.max_payment, a, sizeof a);
        return refuse(no, "LIMIT_EXCEEDED", "one payment is at most %s CNY%s", a, "");
    }
    if (spent < 0) {
        int64_t held;
        int rc = ykt_store_daily_spend_get(gw->db, p->person->id, day, &spent);
        if (rc == YKT_OK)
            rc = ykt_store_holds_pending_sum(gw->db, p->person->id, &held);
        if (rc != YKT_OK)
            return rc;
        spent += held;
    }
    int64_t limit = daily_limit(gw, p->card, s);
    if (spent + charged > limit) {
        yuan(limit, a, sizeof a);
        yuan(limit - spent > 0 ? limit - spent : 0, b, sizeof b);
        return refuse(no, "LIMIT_EXCEEDED", "the daily limit is %s CNY; %s CNY left today", a, b);
    }
    return YKT_OK;
}

/* R-W7 and R-W6: a reminder when the balance falls below the holder's threshold, and an
 * automatic top-up request for the bank front-end when it falls below theirs. */
static int after_debit(ykt_gw *gw, int64_t person_id, int64_t before, int64_t after,
                       const ykt_holder_settings *s)
{
    int64_t low = s->low_balance >= 0 ? s->low_balance : gw->cfg.low_balance;
    int64_t now = ykt_now_ms();
    int rc = YKT_OK;
    if (before >= low && after < low) {
        char msg[96], a[32];
        yuan(after, a, sizeof a);
        snprintf(msg, sizeof msg, "balance %s CNY is below the reminder threshold", a);
        rc = ykt_store_notice_insert(gw->db, person_id, "low_balance", msg, after, now);
        ykt_events_money_later(gw->db, YKT_EV_LOW_BALANCE, person_id, NULL, NULL, 0, after);
    }
    if (rc == YKT_OK && s->autotopup_below >= 0 && before >= s->autotopup_below &&
        after < s->autotopup_below && s->autotopup_amount > 0) {
        rc = ykt_store_notice_insert(gw->db, person_id, "autotopup", "automatic top-up requested",
                                     s->autotopup_amount, now);
        ykt_events_money_later(gw->db, YKT_EV_AUTOTOPUP, person_id, NULL, NULL, s->autotopup_amount,
                               after);
    }
    return rc;
}

/* The transfers of one charge; the payment row names both, because a wallet's history finds
 * them through the payment (store/migrations.c, v6). */
typedef struct charge_transfers {
    int64_t main, fee; /* 0: none */
} charge_transfers;

/* Moves a charge out of `from` (the wallet, or escrow for a captured hold). */
static int move_charge(ykt_gw *gw, int64_t from, const ykt_pay *p, const ykt_fee *fee,
                       bool allow_negative, charge_transfers *ids)
{
    int rc = YKT_OK;
    int64_t to_merchant = p->amount - fee->discount;
    ids->main = ids->fee = 0;
    if (to_merchant > 0) {
        ykt_transfer t = {.from = from,
                          .to = p->merchant->account,
                          .amount = to_merchant,
                          .kind = p->offline ? "pay_offline" : "pay",
                          .card_no = p->card->card_no,
                          .terminal = p->terminal,
                          .memo = p->merchant->id,
                          .allow_negative = allow_negative};
        rc = ykt_ledger_transfer(gw->db, &t, &ids->main);
    }
    if (rc == YKT_OK && fee->fee > 0) {
        ykt_transfer t = {.from = from,
                          .amount = fee->fee,
                          .kind = "mgmt_fee",
                          .card_no = p->card->card_no,
                          .terminal = p->terminal,
                          .memo = p->merchant->id,
                          .allow_negative = allow_negative};
        rc = ykt_ledger_transfer_to(gw->db, &t, YKT_ACC_FEE_INCOME, "", &ids->fee);
    }
    return rc;
}

static int record_payment(ykt_gw *gw, const ykt_pay *p, int64_t wallet, const ykt_fee *fee,
                          int64_t charged, const charge_transfers *ids, const char *day,
                          const char *flag, int64_t *id)
{
    ykt_payment_row row;
    memset(&row, 0, sizeof row);
    row.at = ykt_now_ms();
    row.card_time = p->card_time;
    ykt_strlcpy(row.day, day, sizeof row.day);
    ykt_strlcpy(row.card_no, p->card->card_no, sizeof row.card_no);
    row.person_id = p->person->id;
    ykt_strlcpy(row.terminal, p->terminal, sizeof row.terminal);
    row.seq = p->seq;
    ykt_strlcpy(row.merchant, p->merchant->id, sizeof row.merchant);
    row.amount = p->amount;
    row.discount = fee->discount;
    row.fee = fee->fee;
    row.charged = charged;
    row.offline = p->offline;
    ykt_strlcpy(row.flag, flag ? flag : "", sizeof row.flag);
    row.transfer = ids->main;
    row.fee_transfer = ids->fee;
    row.wallet = wallet;
    int rc = ykt_store_payment_insert(gw->db, &row);
    if (rc == YKT_OK)
        rc = ykt_store_daily_spend_add(gw->db, p->person->id, day, charged);
    *id = row.id;
    return rc;
}

/* record_payment's YKT_EEXIST: a payment under this (terminal, seq) already
 * (payments_once, the one unique key of payments besides its id), whose outcome is no longer
 * kept to answer it: a terminal that used the seq again. Only a seq at or below the
 * terminal's highest gets here, and such a request runs in a savepoint (verbs.c), which this
 * refusal rolls back. */
static int seq_reused(ykt_refusal *no, const ykt_pay *p)
{
    char seq[24];
    snprintf(seq, sizeof seq, "%lld", (long long)p->seq);
    return refuse(no, "SEQ_REUSED",
                  "terminal %.40s paid with sequence number %.20s already (its outcome is no "
                  "longer kept)",
                  p->terminal, seq);
}

int ykt_wallet_pay(ykt_gw *gw, const ykt_pay *p, ykt_pay_result *out, ykt_refusal *no)
{
    memset(out, 0, sizeof *out);
    ykt_db *db = gw->db;
    int64_t at = p->offline ? p->card_time : ykt_now_ms();
    int rc =
        ykt_wallet_fee(gw, p->merchant, p->card, p->person->kind, p->amount, at, &out->fee, no);
    if (rc != YKT_OK)
        return rc;
    out->charged = p->amount - out->fee.discount + out->fee.fee;
    char day[YKT_DATE_LEN];
    ykt_date_of(at, day);
    /* The holder's settings, the day's spending and the wallet's balance in one read when
     * the wallet's id is remembered (and still the wallet's); else the wallet is found, or
     * created, first. */
    ykt_holder_settings s;
    int64_t wallet = ykt_ledger_wallet_hint(db, p->person->id), before = 0, spent = 0;
    char owner[24];
    snprintf(owner, sizeof owner, "%lld", (long long)p->person->id);
    bool known;
    rc = ykt_store_pay_context(db, p->person->id, day, wallet, owner, &s, &spent, &known, &before);
    if (rc == YKT_OK && !known) /* found, not created: a refusal below writes nothing */
        rc = ykt_ledger_wallet_find(db, p->person->id, &wallet, &before);
    if (rc != YKT_OK)
        return rc;
    /* Offline sales already happened: they are recorded whatever the limits said, and
     * the terminal's offline limit (docs) bounds them. */
    if (!p->offline) {
        rc = check_limits(gw, p, out->charged, day, spent, &s, no);
        if (rc != YKT_OK)
            return rc;
        if (before < out->charged) {
            char a[32], b[32];
            yuan(out->charged, a, sizeof a);
            yuan(before, b, sizeof b);
            return refuse(no, "INSUFFICIENT_FUNDS", "the payment is %s CNY; the balance is %s CNY",
                          a, b);
        }
    }
    if (p->before_writes != NULL && (rc = p->before_writes(p->arg)) != YKT_OK)
        return rc;
    if (wallet == 0 && (rc = ykt_ledger_wallet(db, p->person->id, &wallet)) != YKT_OK)
        return rc; /* its first payment: an offline sale, or one charged nothing */
    charge_transfers ids = {0, 0};
    rc = move_charge(gw, wallet, p, &out->fee, p->offline, &ids);
    /* The wallet's balance now, without reading it again: this request alone has written
     * it since `before` was read, and took exactly the charge out of it. */
    int64_t after = before - out->charged;
    out->balance = after;
    out->debt = after < 0;
    /* Debt is recorded even on a sale also flagged for the terminal's offline limit: it is
     * what the audit accepts below zero (R-W11). */
    char flag[32];
    if (out->debt && p->flag != NULL)
        snprintf(flag, sizeof flag, "debt,%s", p->flag);
    else
        ykt_strlcpy(flag, out->debt ? "debt" : (p->flag ? p->flag : ""), sizeof flag);
    if (rc == YKT_OK)
        rc = record_payment(gw, p, wallet, &out->fee, out->charged, &ids, day, flag,
                            &out->payment_id);
    if (rc == YKT_EEXIST)
        return seq_reused(no, p);
    if (rc == YKT_OK)
        rc = after_debit(gw, p->person->id, before, after, &s);
    if (rc == YKT_OK)
        ykt_events_money_later(db, YKT_EV_PAYMENT, p->person->id, p->card->card_no, p->merchant->id,
                               out->charged, out->balance);
    return rc;
}

/* ---- holds ---- */

static int escrow_account(ykt_gw *gw, int64_t *id)
{
    return ykt_ledger_account(gw->db, YKT_ACC_ESCROW, "", id);
}

int ykt_wallet_hold(ykt_gw *gw, const ykt_pay *p, int64_t timeout_ms, int64_t *hold_id,
                    int64_t *balance, int64_t *expires_at, ykt_refusal *no)
{
    ykt_db *db = gw->db;
    char day[YKT_DATE_LEN];
    ykt_today(day);
    ykt_holder_settings s;
    int64_t wallet, before;
    int rc = ykt_store_holder_settings_get(db, p->person->id, &s);
    if (rc == YKT_OK)
        rc = check_limits(gw, p, p->amount, day, -1, &s, no);
    if (rc == YKT_OK)
        rc = ykt_ledger_wallet_balance(db, p->person->id, &wallet, &before);
    if (rc != YKT_OK)
        return rc;
    if (before < p->amount) {
        char a[32], b[32];
        yuan(p->amount, a, sizeof a);
        yuan(before, b, sizeof b);
        return refuse(no, "INSUFFICIENT_FUNDS", "the hold is %s CNY; the balance is %s CNY", a, b);
    }
    ykt_hold_row h;
    memset(&h, 0, sizeof h);
    h.at = ykt_now_ms();
    ykt_strlcpy(h.card_no, p->card->card_no, sizeof h.card_no);
    h.person_id = p->person->id;
    ykt_strlcpy(h.terminal, p->terminal, sizeof h.terminal);
    ykt_strlcpy(h.merchant, p->merchant->id, sizeof h.merchant);
    h.amount = p->amount;
    h.expires_at = h.at + timeout_ms;
    rc = ykt_store_hold_insert(db, &h);
    ykt_transfer t = {.from = wallet,
                      .amount = p->amount,
                      .kind = "hold",
                      .card_no = p->card->card_no,
                      .terminal = p->terminal,
                      .memo = p->merchant->id};
    if (rc == YKT_OK)
        rc = ykt_ledger_transfer_to(db, &t, YKT_ACC_ESCROW, "", NULL);
    if (rc == YKT_OK)
        rc = after_debit(gw, p->person->id, before, before - p->amount, &s);
    if (rc == YKT_OK) /* as in ykt_wallet_pay: exactly the hold left the wallet */
        *balance = before - p->amount;
    *hold_id = h.id;
    *expires_at = h.expires_at;
    return rc;
}

/* Loads a pending hold placed by `terminal` (NULL: any terminal, for the expiry job). */
static int pending_hold(ykt_gw *gw, int64_t id, const char *terminal, ykt_hold_row *h,
                        ykt_refusal *no)
{
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", (long long)id);
    int rc = ykt_store_hold_get(gw->db, id, h);
    if (rc == YKT_ENOTFOUND)
        return refuse(no, "NOT_FOUND", "no hold %s%s", idtext, "");
    if (rc != YKT_OK)
        return rc;
    if (terminal != NULL && strcmp(h->terminal, terminal) != 0)
        return refuse(no, "FORBIDDEN", "hold %s belongs to terminal %s", idtext, h->terminal);
    if (strcmp(h->status, "pending") != 0)
        return refuse(no, "HOLD_RESOLVED", "hold %s is already %s", idtext, h->status);
    return YKT_OK;
}

int ykt_wallet_capture(ykt_gw *gw, int64_t hold_id, const char *terminal, int64_t seq,
                       int64_t amount, ykt_pay_result *out, ykt_refusal *no)
{
    memset(out, 0, sizeof *out);
    ykt_db *db = gw->db;
    ykt_hold_row h;
    int rc = pending_hold(gw, hold_id, terminal, &h, no);
    if (rc != YKT_OK)
        return rc;
    ykt_card card;
    ykt_person person;
    ykt_merchant m;
    rc = ykt_store_card_by_no(db, h.card_no, &card);
    if (rc == YKT_OK)
        rc = ykt_store_person_by_id(db, h.person_id, &person);
    if (rc == YKT_OK)
        rc = ykt_store_merchant_get(db, h.merchant, &m);
    if (rc != YKT_OK)
        return rc;
    /* Without a terminal (a plugin settling a silent dispenser's hold from a timer) the
     * payment is the hold's terminal's, numbered -hold: one capture per hold, so unique. */
    ykt_pay p = {.card = &card,
                 .person = &person,
                 .merchant = &m,
                 .terminal = terminal ? terminal : h.terminal,
                 .seq = terminal ? seq : -hold_id,
                 .card_time = h.at,
                 .amount = amount};
    if (amount > 0) {
        rc = ykt_wallet_fee(gw, &m, &card, person.kind, amount, ykt_now_ms(), &out->fee, no);
        if (rc != YKT_OK)
            return rc;
        out->charged = amount - out->fee.discount + out->fee.fee;
    }
    if (out->charged > h.amount) {
        char a[32], b[32];
        yuan(out->charged, a, sizeof a);
        yuan(h.amount, b, sizeof b);
        return refuse(no, "LIMIT_EXCEEDED", "capturing %s CNY exceeds the %s CNY held", a, b);
    }
    int64_t escrow, wallet;
    charge_transfers ids = {0, 0};
    rc = escrow_account(gw, &escrow);
    if (rc == YKT_OK)
        rc = ykt_ledger_wallet(db, person.id, &wallet);
    if (rc == YKT_OK && out->charged > 0)
        rc = move_charge(gw, escrow, &p, &out->fee, false, &ids);
    if (rc == YKT_OK && h.amount - out->charged > 0) {
        ykt_transfer t = {.from = escrow,
                          .to = wallet,
                          .amount = h.amount - out->charged,
                          .kind = "hold_release",
                          .card_no = card.card_no,
                          .terminal = terminal,
                          .memo = "rest of a captured hold"};
        rc = ykt_ledger_transfer(db, &t, NULL);
    }
    char day[YKT_DATE_LEN];
    ykt_today(day);
    if (rc == YKT_OK && out->charged > 0)
        rc = record_payment(gw, &p, wallet, &out->fee, out->charged, &ids, day, "",
                            &out->payment_id);
    if (rc == YKT_EEXIST) /* CAPTURE always runs in a savepoint: nothing of it stays */
        return seq_reused(no, &p);
    if (rc == YKT_OK)
        rc = ykt_store_hold_resolve(db, hold_id, "captured", out->charged, out->payment_id,
                                    ykt_now_ms());
    if (rc == YKT_ENOTFOUND) /* resolved meanwhile: nothing of this request may stay */
        return refuse(no, "HOLD_RESOLVED", "hold was resolved meanwhile%s%s", "", "");
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(db, wallet, &out->balance);
    if (rc == YKT_OK && out->charged > 0)
        ykt_events_money_later(db, YKT_EV_PAYMENT, person.id, card.card_no, m.id, out->charged,
                               out->balance);
    return rc;
}

int ykt_wallet_void(ykt_gw *gw, int64_t hold_id, const char *terminal, const char *status,
                    int64_t *balance, ykt_refusal *no)
{
    ykt_db *db = gw->db;
    ykt_hold_row h;
    int rc = pending_hold(gw, hold_id, terminal, &h, no);
    if (rc != YKT_OK)
        return rc;
    int64_t escrow = 0, wallet = 0;
    rc = escrow_account(gw, &escrow);
    if (rc == YKT_OK)
        rc = ykt_ledger_wallet(db, h.person_id, &wallet);
    ykt_transfer t = {.from = escrow,
                      .to = wallet,
                      .amount = h.amount,
                      .kind = strcmp(status, "expired") == 0 ? "hold_expired" : "hold_void",
                      .card_no = h.card_no,
                      .terminal = h.terminal,
                      .memo = status};
    if (rc == YKT_OK)
        rc = ykt_ledger_transfer(db, &t, NULL);
    if (rc == YKT_OK)
        rc = ykt_store_hold_resolve(db, hold_id, status, 0, 0, ykt_now_ms());
    if (rc == YKT_ENOTFOUND)
        return refuse(no, "HOLD_RESOLVED", "hold was resolved meanwhile%s%s", "", "");
    if (rc == YKT_OK && balance != NULL)
        rc = ykt_ledger_balance(db, wallet, balance);
    return rc;
}

int ykt_wallet_expire_holds(ykt_gw *gw, int *count)
{
    int64_t ids[256];
    int n = 0;
    *count = 0;
    int rc = ykt_store_holds_expired(gw->db, ykt_now_ms(), 256, ids, &n);
    for (int i = 0; rc == YKT_OK && i < n; i++) {
        ykt_refusal no;
        rc = ykt_wallet_void(gw, ids[i], NULL, "expired", NULL, &no);
        if (rc == YKT_EPERM) /* resolved by its terminal in the meantime */
            rc = YKT_OK;
        else if (rc == YKT_OK)
            (*count)++;
    }
    return rc;
}

/* ---- top-ups and refunds ---- */

int ykt_wallet_take_back(ykt_gw *gw, int64_t person_id, int64_t to_account, int64_t amount,
                         const char *kind, const char *card_no, const char *terminal,
                         const char *memo, int64_t *moved, int64_t *balance)
{
    int64_t wallet = 0, held = 0;
    int rc = ykt_ledger_wallet(gw->db, person_id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(gw->db, wallet, &held);
    if (rc != YKT_OK)
        return rc;
    int64_t take = amount < held ? amount : held;
    if (take > 0) {
        ykt_transfer t = {.from = wallet,
                          .to = to_account,
                          .amount = take,
                          .kind = kind,
                          .card_no = card_no,
                          .terminal = terminal,
                          .memo = memo};
        rc = ykt_ledger_transfer(gw->db, &t, NULL);
        if (rc != YKT_OK)
            return rc;
    }
    *moved = take > 0 ? take : 0;
    *balance = held - *moved;
    return YKT_OK;
}

int ykt_wallet_topup(ykt_gw *gw, int64_t person_id, int64_t from_account, int64_t amount,
                     const char *kind, const char *card_no, const char *terminal,
                     const char *operator_name, const char *memo, int64_t *balance, ykt_refusal *no)
{
    if (amount <= 0)
        return refuse(no, "BAD_REQUEST", "a top-up is more than 0%s%s", "", "");
    if (amount > gw->cfg.max_topup) {
        char a[32];
        yuan(gw->cfg.max_topup, a, sizeof a);
        return refuse(no, "LIMIT_EXCEEDED", "one top-up is at most %s CNY%s", a, "");
    }
    int64_t wallet;
    int rc = ykt_ledger_wallet(gw->db, person_id, &wallet);
    ykt_transfer t = {.from = from_account,
                      .to = wallet,
                      .amount = amount,
                      .kind = kind,
                      .card_no = card_no,
                      .terminal = terminal,
                      .operator_name = operator_name,
                      .memo = memo};
    if (rc == YKT_OK)
        rc = ykt_ledger_transfer(gw->db, &t, NULL);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(gw->db, wallet, balance);
    return rc;
}

int ykt_wallet_refund(ykt_gw *gw, int64_t payment_id, int64_t amount, const char *reason,
                      const char *operator_name, int64_t *refund_id, int64_t *balance,
                      ykt_refusal *no)
{
    ykt_db *db = gw->db;
    ykt_payment_row p;
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", (long long)payment_id);
    int rc = ykt_store_payment_get(db, payment_id, &p);
    if (rc == YKT_ENOTFOUND)
        return refuse(no, "NOT_FOUND", "no payment %s%s", idtext, "");
    if (rc != YKT_OK)
        return rc;
    if (amount <= 0 || p.refunded + amount > p.charged) {
        char a[32];
        yuan(p.charged - p.refunded, a, sizeof a);
        return refuse(no, "REFUND_EXCEEDS", "payment %s has %s CNY left to refund", idtext, a);
    }
    ykt_merchant m;
    int64_t wallet, fee_account, transfer = 0;
    rc = ykt_store_merchant_get(db, p.merchant, &m);
    if (rc == YKT_OK)
        rc = ykt_ledger_wallet(db, p.person_id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_account(db, YKT_ACC_FEE_INCOME, "", &fee_account);
    /* The merchant's share comes back first; what is left of the fee after it. */
    int64_t merchant_share = p.charged - p.fee;
    int64_t from_merchant = merchant_share - p.refunded;
    if (from_merchant < 0)
        from_merchant = 0;
    if (from_merchant > amount)
        from_merchant = amount;
    int64_t from_fee = amount - from_merchant;
    if (rc == YKT_OK && from_merchant > 0) {
        ykt_transfer t = {.from = m.account,
                          .to = wallet,
                          .amount = from_merchant,
                          .kind = "refund",
                          .card_no = p.card_no,
                          .operator_name = operator_name,
                          .original = p.transfer,
                          .memo = reason};
        rc = ykt_ledger_transfer(db, &t, &transfer);
    }
    if (rc == YKT_OK && from_fee > 0) {
        int64_t fee_transfer;
        ykt_transfer t = {.from = fee_account,
                          .to = wallet,
                          .amount = from_fee,
                          .kind = "refund_fee",
                          .card_no = p.card_no,
                          .operator_name = operator_name,
                          .original = p.transfer,
                          .memo = reason};
        rc = ykt_ledger_transfer(db, &t, &fee_transfer);
        if (transfer == 0)
            transfer = fee_transfer;
    }
    if (rc == YKT_OK)
        rc = ykt_store_payment_add_refunded(db, payment_id, amount);
    if (rc == YKT_OK)
        rc = ykt_store_refund_insert(db, payment_id, amount, reason, operator_name, transfer,
                                     ykt_now_ms(), refund_id);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(db, wallet, balance);
    return rc;
}
