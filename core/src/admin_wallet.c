/*
 * The wallet on the admin channel: merchant add|update|list|show, payment search|show|refund,
 * account statement|limit|settings, notice list, guardian link, settlement run|list, and the
 * ledger audit (`audit`). Finance settles merchants (R-W9); the card centre refunds
 * over-deductions (R-W5); investigators search transactions (R-W10); holders and guardians
 * read statements (R-W8).
 */
#include "admin_cmds.h"
#include "admin_util.h"
#include "common.h"
#include "date.h"
#include "ledger.h"
#include "log.h"
#include "resp.h"
#include "store/store.h"
#include "util.h"
#include "wallet.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPERATORS     (YKT_ROLE_OPERATOR | YKT_ROLE_SUPERUSER)
#define FINANCE       (YKT_ROLE_FINANCE | YKT_ROLE_SUPERUSER)
#define INVESTIGATORS (YKT_ROLE_OPERATOR | YKT_ROLE_FINANCE | YKT_ROLE_AUDITOR)
#define READERS                                                                                    \
    (YKT_ROLE_OPERATOR | YKT_ROLE_FINANCE | YKT_ROLE_AUDITOR | YKT_ROLE_DEPT_ADMIN |               \
     YKT_ROLE_DEPT_HEAD | YKT_ROLE_GUARDIAN)

/* "10", "2.5", "12.25%" -> basis points (0..10000). */
static bool parse_percent(const char *s, int *bp)
{
    int64_t fen; /* the same shape as an amount with two decimals */
    char tmp[16];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n + 1);
    if (tmp[n - 1] == '%')
        tmp[n - 1] = '\0';
    if (ykt_parse_yuan(tmp, &fen) != YKT_OK || fen > 10000)
        return false;
    *bp = (int)fen;
    return true;
}

static void percent_text(int bp, char *buf, size_t len)
{
    snprintf(buf, len, "%d.%02d%%", bp / 100, bp % 100);
}

static bool merchant_or_reply(ykt_req *req, const char *id, ykt_merchant *m)
{
    int rc = ykt_store_merchant_get(req->gw->db, id, m);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no merchant %.32s", id);
        return false;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return true;
}

/* ---- merchants ---- */

/* Keep in step with the CHECK constraint on merchants.category (store/migrations.c). */
const char *const ykt_merchant_categories[] = {"canteen",  "shop",  "bath",  "laundry",
                                               "printing", "water", "power", "library",
                                               "rooms",    "other", NULL};

static bool apply_merchant_options(ykt_req *req, const ykt_args *a, ykt_merchant *m)
{
    const char *name, *category = ykt_args_get(a, "category"), *status = ykt_args_get(a, "status");
    if (!ykt_admin_text(req, a, "name", sizeof m->name - 1, &name))
        return false;
    if (name != NULL)
        ykt_strlcpy(m->name, name, sizeof m->name);
    if (category != NULL) {
        bool ok = false;
        for (size_t i = 0; ykt_merchant_categories[i] != NULL; i++)
            ok |= strcmp(category, ykt_merchant_categories[i]) == 0;
        if (!ok) {
            ykt_reply_error(req, "BAD_REQUEST",
                            "--category is canteen, shop, bath, laundry, printing, water, power, "
                            "library, rooms or other");
            return false;
        }
        ykt_strlcpy(m->category, category, sizeof m->category);
    }
    if (status != NULL) {
        if (strcmp(status, "active") != 0 && strcmp(status, "suspended") != 0) {
            ykt_reply_error(req, "BAD_REQUEST", "--status is active or suspended");
            return false;
        }
        ykt_strlcpy(m->status, status, sizeof m->status);
    }
    static const struct {
        const char *opt;
        size_t off;
    } rates[] = {
        {"fee-regular", offsetof(ykt_merchant, fee_regular_bp)},
        {"fee-temporary", offsetof(ykt_merchant, fee_temporary_bp)},
        {"discount", offsetof(ykt_merchant, discount_bp)},
        {"commission", offsetof(ykt_merchant, commission_bp)},
    };
    for (size_t i = 0; i < YKT_ARRAY_LEN(rates); i++) {
        const char *v = ykt_args_get(a, rates[i].opt);
        if (v != NULL && !parse_percent(v, (int *)((char *)m + rates[i].off))) {
            ykt_reply_error(req, "BAD_REQUEST", "--%s is a percentage from 0 to 100, e.g. 2.5",
                            rates[i].opt);
            return false;
        }
    }
    if (m->name[0] == '\0') {
        ykt_reply_error(req, "BAD_REQUEST", "--name is required");
        return false;
    }
    return true;
}

static void cmd_merchant_add(ykt_req *req, const ykt_args *a)
{
    ykt_merchant m;
    memset(&m, 0, sizeof m);
    if (!ykt_is_ident(a->pos[0], sizeof m.id - 1)) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "a merchant id has 1 to 31 letters, digits, '.', '_' or '-'");
        return;
    }
    ykt_strlcpy(m.id, a->pos[0], sizeof m.id);
    ykt_strlcpy(m.status, "active", sizeof m.status);
    ykt_strlcpy(m.category, "other", sizeof m.category);
    if (!apply_merchant_options(req, a, &m))
        return;
    m.created_at = ykt_now_ms();
    ykt_merchant existing;
    int rc = ykt_store_merchant_get(req->gw->db, m.id, &existing);
    if (rc == YKT_OK) {
        ykt_reply_error(req, "EXISTS", "merchant %s already exists", m.id);
        return;
    }
    rc = ykt_ledger_account(req->gw->db, YKT_ACC_MERCHANT, m.id, &m.account);
    if (rc == YKT_OK)
        rc = ykt_store_merchant_insert(req->gw->db, &m);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "merchant.add", m.id,
                       "%s, %s, fee %d/%d bp, discount %d bp, commission %d bp", m.name, m.category,
                       m.fee_regular_bp, m.fee_temporary_bp, m.discount_bp, m.commission_bp);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

static void cmd_merchant_update(ykt_req *req, const ykt_args *a)
{
    ykt_merchant m;
    if (!merchant_or_reply(req, a->pos[0], &m) || !apply_merchant_options(req, a, &m))
        return;
    int rc = ykt_store_merchant_update(req->gw->db, &m);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "merchant.update", m.id,
                       "%s, %s, %s, fee %d/%d bp, discount %d bp, commission %d bp", m.name,
                       m.category, m.status, m.fee_regular_bp, m.fee_temporary_bp, m.discount_bp,
                       m.commission_bp);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

static int merchant_row(const ykt_merchant *m, void *arg)
{
    ykt_req *req = ((void **)arg)[0];
    ykt_table *t = ((void **)arg)[1];
    int64_t payable = 0;
    ykt_ledger_balance(req->gw->db, m->account, &payable);
    char a[16], b[16], c[16], d[16], bal[32];
    percent_text(m->fee_regular_bp, a, sizeof a);
    percent_text(m->fee_temporary_bp, b, sizeof b);
    percent_text(m->discount_bp, c, sizeof c);
    percent_text(m->commission_bp, d, sizeof d);
    ykt_format_fen(payable, bal, sizeof bal);
    ykt_table_row(t);
    ykt_table_str(t, m->id);
    ykt_table_str(t, m->name);
    ykt_table_str(t, m->category);
    ykt_table_str(t, m->status);
    ykt_table_str(t, a);
    ykt_table_str(t, b);
    ykt_table_str(t, c);
    ykt_table_str(t, d);
    ykt_table_str(t, bal);
    return YKT_OK;
}

static const char *const merchant_cols[] = {"merchant", "name",        "category",
                                            "status",   "fee_regular", "fee_temporary",
                                            "discount", "commission",  "payable"};

static void cmd_merchant_list(ykt_req *req, const ykt_args *a)
{
    ykt_table *t = ykt_table_new("TABLE", (int)YKT_ARRAY_LEN(merchant_cols), merchant_cols);
    void *arg[2] = {req, t};
    int rc = ykt_store_merchant_each(req->gw->db, merchant_row, arg);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

static void cmd_merchant_show(ykt_req *req, const ykt_args *a)
{
    ykt_merchant m;
    if (!merchant_or_reply(req, a->pos[0], &m))
        return;
    ykt_table *t = ykt_table_new("RECORD", (int)YKT_ARRAY_LEN(merchant_cols), merchant_cols);
    void *arg[2] = {req, t};
    merchant_row(&m, arg);
    ykt_table_send(req, t);
}

/* ---- payments: search, show, refund ---- */

static bool date_range(ykt_req *req, const ykt_args *a, int64_t *from, int64_t *to)
{
    const char *f = ykt_args_get(a, "from"), *u = ykt_args_get(a, "to");
    const char *month = ykt_args_get(a, "month");
    *from = 0;
    *to = 0;
    if (month != NULL) {
        char first[YKT_DATE_LEN], next[YKT_DATE_LEN];
        snprintf(first, sizeof first, "%.7s-01", month);
        if (strlen(month) != 7 || !ykt_date_valid(first)) {
            ykt_reply_error(req, "BAD_REQUEST", "--month is YYYY-MM");
            return false;
        }
        ykt_date_add_months(first, 1, next);
        *from = ykt_date_start_ms(first);
        *to = ykt_date_start_ms(next);
        return true;
    }
    if ((f && !ykt_date_valid(f)) || (u && !ykt_date_valid(u))) {
        ykt_reply_error(req, "BAD_REQUEST", "--from and --to are dates YYYY-MM-DD");
        return false;
    }
    if (f != NULL)
        *from = ykt_date_start_ms(f);
    if (u != NULL) {
        /* --to is inclusive: up to the start of the next day. */
        *to = ykt_date_start_ms(u) + 86400000LL;
    }
    return true;
}

static int payment_row(const ykt_payment_row *p, void *arg)
{
    ykt_table *t = arg;
    char amount[32], charged[32], refunded[32];
    ykt_format_fen(p->amount, amount, sizeof amount);
    ykt_format_fen(p->charged, charged, sizeof charged);
    ykt_format_fen(p->refunded, refunded, sizeof refunded);
    ykt_table_row(t);
    ykt_table_int(t, p->id);
    ykt_table_time(t, p->at);
    ykt_table_str(t, p->card_no);
    ykt_table_str(t, p->merchant);
    ykt_table_str(t, p->terminal);
    ykt_table_int(t, p->seq);
    ykt_table_str(t, amount);
    ykt_table_str(t, charged);
    ykt_table_str(t, refunded);
    ykt_table_str(t, p->offline ? "offline" : "online");
    ykt_table_str(t, p->flag[0] ? p->flag : NULL);
    return YKT_OK;
}

static const char *const payment_cols[] = {"payment",  "at",   "card_no", "merchant",
                                           "terminal", "seq",  "amount",  "charged",
                                           "refunded", "mode", "flag"};

static void cmd_payment_search(ykt_req *req, const ykt_args *a)
{
    ykt_payment_filter f = {.card_no = ykt_args_get(a, "card"),
                            .merchant = ykt_args_get(a, "merchant"),
                            .terminal = ykt_args_get(a, "terminal"),
                            .limit = 100};
    int64_t limit = 100;
    if (!ykt_args_int(req, a, "limit", 1, 100000, &limit) ||
        !date_range(req, a, &f.from_ms, &f.to_ms))
        return;
    f.limit = (int)limit;
    const char *person_no = ykt_args_get(a, "person");
    ykt_person p;
    if (person_no != NULL) {
        if (!ykt_admin_person(req, person_no, &p) || !ykt_admin_may_see(req, &p))
            return;
        f.person_id = p.id;
    } else if (req->session->role == YKT_ROLE_GUARDIAN) {
        ykt_reply_error(req, "FORBIDDEN", "guardians search their own pupils' records (--person)");
        return;
    }
    if (f.card_no == NULL)
        f.card_no = "";
    if (f.merchant == NULL)
        f.merchant = "";
    if (f.terminal == NULL)
        f.terminal = "";
    ykt_table *t = ykt_table_new("TABLE", (int)YKT_ARRAY_LEN(payment_cols), payment_cols);
    int rc = ykt_store_payment_search(req->gw->db, &f, payment_row, t);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

static bool payment_id(ykt_req *req, const char *s, int64_t *id)
{
    if (ykt_parse_int64(s, 1, INT64_MAX, id) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "a payment id is a whole number");
        return false;
    }
    return true;
}

static void cmd_payment_show(ykt_req *req, const ykt_args *a)
{
    int64_t id;
    ykt_payment_row p;
    if (!payment_id(req, a->pos[0], &id))
        return;
    int rc = ykt_store_payment_get(req->gw->db, id, &p);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no payment %lld", (long long)id);
        return;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table *t = ykt_table_new("RECORD", (int)YKT_ARRAY_LEN(payment_cols), payment_cols);
    payment_row(&p, t);
    ykt_table_send(req, t);
}

static void cmd_payment_refund(ykt_req *req, const ykt_args *a)
{
    int64_t id, amount, refund_id, balance;
    const char *reason;
    if (!payment_id(req, a->pos[0], &id) || !ykt_admin_text(req, a, "reason", 200, &reason))
        return;
    if (ykt_parse_yuan(ykt_args_get(a, "amount"), &amount) != YKT_OK || amount <= 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--amount is CNY with at most two decimals, above 0");
        return;
    }
    ykt_refusal no;
    int rc = ykt_wallet_refund(req->gw, id, amount, reason, ykt_admin_actor(req), &refund_id,
                               &balance, &no);
    if (rc == YKT_EPERM) {
        ykt_reply_error(req, no.code, "%s", no.why);
        return;
    }
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "payment.refund", a->pos[0], "refund %lld of %lld fen: %s",
                       (long long)refund_id, (long long)amount, reason);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    static const char *const cols[] = {"refund", "payment", "amount", "balance"};
    char amt[32], bal[32];
    ykt_format_fen(amount, amt, sizeof amt);
    ykt_format_fen(balance, bal, sizeof bal);
    ykt_table *t = ykt_table_new("RECORD", 4, cols);
    ykt_table_row(t);
    ykt_table_int(t, refund_id);
    ykt_table_int(t, id);
    ykt_table_str(t, amt);
    ykt_table_str(t, bal);
    ykt_table_send(req, t);
}

/* ---- statements (R-W8) ---- */

typedef struct statement {
    int64_t wallet;
    int64_t running;
    ykt_table *t;
    ykt_buf *csv;
    int rows;
} statement;

static void csv_field(ykt_buf *b, const char *s, bool last)
{
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) {
        ykt_buf_append(b, "\"", 1);
        for (; *s; s++) {
            if (*s == '"')
                ykt_buf_append(b, "\"", 1);
            ykt_buf_append(b, s, 1);
        }
        ykt_buf_append(b, "\"", 1);
    } else {
        ykt_buf_appends(b, s);
    }
    ykt_buf_appends(b, last ? "\r\n" : ",");
}

static int statement_row(const ykt_transfer_row *r, void *arg)
{
    statement *s = arg;
    int64_t delta = r->to == s->wallet ? r->amount : -r->amount;
    s->running += delta;
    char when[32], amount[32], balance[32];
    ykt_format_time(r->at, when, sizeof when);
    ykt_format_fen(delta, amount, sizeof amount);
    ykt_format_fen(s->running, balance, sizeof balance);
    const char *where = r->terminal[0] ? r->terminal : r->operator_name;
    if (s->csv != NULL) {
        csv_field(s->csv, when, false);
        csv_field(s->csv, r->kind, false);
        csv_field(s->csv, amount, false);
        csv_field(s->csv, balance, false);
        csv_field(s->csv, r->card_no, false);
        csv_field(s->csv, where, false);
        csv_field(s->csv, r->memo, true);
    } else {
        ykt_table_row(s->t);
        ykt_table_str(s->t, when);
        ykt_table_str(s->t, r->kind);
        ykt_table_str(s->t, amount);
        ykt_table_str(s->t, balance);
        ykt_table_str(s->t, r->card_no[0] ? r->card_no : NULL);
        ykt_table_str(s->t, where);
        ykt_table_str(s->t, r->memo);
    }
    s->rows++;
    return YKT_OK;
}

static void cmd_statement(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    int64_t from, to, wallet, opening;
    if (!date_range(req, a, &from, &to) || !ykt_admin_person(req, a->pos[0], &p) ||
        !ykt_admin_may_see(req, &p))
        return;
    if (to == 0)
        to = INT64_MAX;
    const char *format = ykt_args_get(a, "format");
    if (format != NULL && strcmp(format, "csv") != 0 && strcmp(format, "table") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--format is table or csv");
        return;
    }
    int rc = ykt_ledger_wallet(req->gw->db, p.id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_store_account_flow(req->gw->db, wallet, from, &opening);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    static const char *const cols[] = {"at",      "kind",  "amount", "balance",
                                       "card_no", "where", "memo"};
    statement s = {.wallet = wallet, .running = opening};
    ykt_buf csv;
    ykt_buf_init(&csv);
    char opening_text[32];
    ykt_format_fen(opening, opening_text, sizeof opening_text);
    if (format != NULL && strcmp(format, "csv") == 0) {
        s.csv = &csv;
        ykt_buf_appendf(&csv, "# statement of %s (%s), opening balance %s CNY\r\n", p.person_no,
                        p.name, opening_text);
        ykt_buf_appends(&csv, "at,kind,amount,balance,card_no,where,memo\r\n");
    } else {
        s.t = ykt_table_new("TABLE", 7, cols);
        ykt_table_row(s.t);
        ykt_table_str(s.t, NULL);
        ykt_table_str(s.t, "opening");
        ykt_table_str(s.t, NULL);
        ykt_table_str(s.t, opening_text);
        ykt_table_str(s.t, NULL);
        ykt_table_str(s.t, NULL);
        ykt_table_str(s.t, p.person_no);
    }
    rc = ykt_store_transfers_between(req->gw->db, wallet, from, to, 100000, statement_row, &s);
    if (rc != YKT_OK) {
        if (s.t)
            ykt_table_free(s.t);
        ykt_buf_free(&csv);
        ykt_reply_internal(req, rc);
        return;
    }
    char closing[32];
    ykt_format_fen(s.running, closing, sizeof closing);
    if (s.csv != NULL) {
        /* As the first line names the opening balance, the last names the closing one. */
        ykt_buf_appendf(&csv, "# closing balance %s CNY\r\n", closing);
        ykt_reply_bulkn(req, csv.data, csv.len);
    } else {
        ykt_table_row(s.t);
        ykt_table_str(s.t, NULL);
        ykt_table_str(s.t, "closing");
        ykt_table_str(s.t, NULL);
        ykt_table_str(s.t, closing);
        ykt_table_str(s.t, NULL);
        ykt_table_str(s.t, NULL);
        ykt_table_str(s.t, NULL);
        ykt_table_send(req, s.t);
    }
    ykt_buf_free(&csv);
}

/* ---- holder limits and settings (R-W2, R-W6, R-W7) ---- */

static bool amount_option(ykt_req *req, const ykt_args *a, const char *name, int64_t *out)
{
    const char *v = ykt_args_get(a, name);
    if (v == NULL)
        return true;
    if (strcmp(v, "default") == 0 || strcmp(v, "off") == 0) {
        *out = -1;
        return true;
    }
    if (ykt_parse_yuan(v, out) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "--%s is CNY (or 'default'/'off')", name);
        return false;
    }
    return true;
}

static void cmd_limit(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    const char *ref;
    if (!ykt_admin_text(req, a, "ref", 100, &ref) || !ykt_admin_person(req, a->pos[0], &p))
        return;
    ykt_holder_settings s;
    int rc = ykt_store_holder_settings_get(req->gw->db, p.id, &s);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    if (!amount_option(req, a, "daily", &s.daily_limit))
        return;
    /* R-W2: a limit other than the card type's is raised on the holder's application. */
    if (s.daily_limit >= 0 && (ref == NULL || ref[0] == '\0')) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "--ref is required: the holder's application for the daily limit");
        return;
    }
    ykt_strlcpy(s.daily_limit_ref, ref ? ref : "", sizeof s.daily_limit_ref);
    rc = ykt_store_holder_settings_put(req->gw->db, p.id, &s);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "account.limit", p.person_no, "daily limit %lld fen on %s",
                       (long long)s.daily_limit, ref ? ref : "");
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

static void cmd_settings(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    if (!ykt_admin_person(req, a->pos[0], &p))
        return;
    ykt_holder_settings s;
    int rc = ykt_store_holder_settings_get(req->gw->db, p.id, &s);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    if (!amount_option(req, a, "low-balance", &s.low_balance) ||
        !amount_option(req, a, "autotopup-below", &s.autotopup_below) ||
        !amount_option(req, a, "autotopup-amount", &s.autotopup_amount))
        return;
    if (s.autotopup_below >= 0 && s.autotopup_amount <= 0) {
        ykt_reply_error(req, "BAD_REQUEST", "automatic top-up needs --autotopup-amount");
        return;
    }
    rc = ykt_store_holder_settings_put(req->gw->db, p.id, &s);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "account.settings", p.person_no,
                       "reminder below %lld, auto top-up %lld below %lld (fen)",
                       (long long)s.low_balance, (long long)s.autotopup_amount,
                       (long long)s.autotopup_below);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

static int notice_row(const ykt_notice_row *n, void *arg)
{
    ykt_table *t = arg;
    ykt_table_row(t);
    ykt_table_int(t, n->id);
    ykt_table_time(t, n->at);
    ykt_table_str(t, n->person_no);
    ykt_table_str(t, n->kind);
    ykt_table_str(t, n->message);
    ykt_table_int(t, n->amount);
    ykt_table_str(t, n->state);
    return YKT_OK;
}

static void cmd_notice_list(ykt_req *req, const ykt_args *a)
{
    const char *person_no = ykt_args_get(a, "person"), *kind = ykt_args_get(a, "kind");
    int64_t limit = 100, person_id = 0;
    if (!ykt_args_int(req, a, "limit", 1, 10000, &limit))
        return;
    ykt_person p;
    if (person_no != NULL) {
        if (!ykt_admin_person(req, person_no, &p) || !ykt_admin_may_see(req, &p))
            return;
        person_id = p.id;
    } else if (req->session->role == YKT_ROLE_GUARDIAN) {
        ykt_reply_error(req, "FORBIDDEN", "guardians list their own pupils' notices (--person)");
        return;
    } else if (req->session->role == YKT_ROLE_PORTAL) {
        /* The portal shows a holder their own notices, never everyone's. */
        ykt_reply_error(req, "FORBIDDEN", "the portal lists one holder's notices (--person)");
        return;
    }
    static const char *const cols[] = {"notice",  "at",     "person", "kind",
                                       "message", "amount", "state"};
    ykt_table *t = ykt_table_new("TABLE", 7, cols);
    int rc =
        ykt_store_notice_each(req->gw->db, person_id, kind ? kind : "", (int)limit, notice_row, t);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

static void cmd_guardian_link(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    ykt_operator_row op;
    if (!ykt_admin_person(req, ykt_args_get(a, "person"), &p))
        return;
    int rc = ykt_store_operator_get(req->gw->db, a->pos[0], &op);
    if (rc == YKT_ENOTFOUND || (rc == YKT_OK && strcmp(op.role, "guardian") != 0)) {
        ykt_reply_error(req, "BAD_REQUEST", "%.64s is not a guardian account", a->pos[0]);
        return;
    }
    if (rc == YKT_OK)
        rc = ykt_store_guardian_link(req->gw->db, op.name, p.id);
    if (rc == YKT_EEXIST) {
        ykt_reply_error(req, "EXISTS", "%s is already a guardian of %s", op.name, p.person_no);
        return;
    }
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "guardian.link", p.person_no, "guardian %s", op.name);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

/* ---- settlement (R-W9) ---- */

typedef struct settle_ctx {
    ykt_req *req;
    const char *period;
    int64_t before_ms;
    ykt_table *t;
    int rc;
} settle_ctx;

/* state: NULL for a settlement's own (paid or not). */
static void settlement_cells(ykt_table *t, const ykt_settlement_row *s, const char *state)
{
    char g[32], r[32], c[32], n[32];
    ykt_format_fen(s->gross, g, sizeof g);
    ykt_format_fen(s->refunds, r, sizeof r);
    ykt_format_fen(s->commission, c, sizeof c);
    ykt_format_fen(s->net, n, sizeof n);
    ykt_table_row(t);
    ykt_table_str(t, s->merchant);
    ykt_table_str(t, s->period);
    ykt_table_int(t, s->payments);
    ykt_table_str(t, g);
    ykt_table_str(t, r);
    ykt_table_str(t, c);
    ykt_table_str(t, n);
    ykt_table_str(t, state ? state : s->transfer ? "paid" : "nothing to pay");
}

static int settle_one(const ykt_merchant *m, void *arg)
{
    settle_ctx *ctx = arg;
    ykt_gw *gw = ctx->req->gw;
    ykt_settlement_row s;
    memset(&s, 0, sizeof s);
    int rc = ykt_store_settlement_sums(gw->db, m, ctx->before_ms, &s);
    if (rc != YKT_OK || (s.gross == 0 && s.refunds == 0))
        return rc;
    s.at = ykt_now_ms();
    ykt_strlcpy(s.merchant, m->id, sizeof s.merchant);
    ykt_strlcpy(s.period, ctx->period, sizeof s.period);
    ykt_strlcpy(s.operator_name, ykt_admin_actor(ctx->req), sizeof s.operator_name);
    /* A refund of a payment settled earlier left the account below zero (carry < 0): it is
     * taken from this payout; what cannot be taken now waits for the next one. */
    int64_t base = s.gross - s.refunds + s.carry;
    s.commission = base > 0 ? base * m->commission_bp / 10000 : 0;
    s.net = base > 0 ? base - s.commission : 0;
    int64_t fee_income, clearing;
    rc = ykt_ledger_account(gw->db, YKT_ACC_FEE_INCOME, "", &fee_income);
    if (rc == YKT_OK)
        rc = ykt_ledger_account(gw->db, YKT_ACC_BANK_CLEARING, "", &clearing);
    if (rc == YKT_OK && s.commission > 0) {
        ykt_transfer t = {.from = m->account,
                          .to = fee_income,
                          .amount = s.commission,
                          .kind = "commission",
                          .operator_name = s.operator_name,
                          .memo = ctx->period};
        rc = ykt_ledger_transfer(gw->db, &t, NULL);
    }
    if (rc == YKT_OK && s.net > 0) {
        ykt_transfer t = {.from = m->account,
                          .to = clearing,
                          .amount = s.net,
                          .kind = "settlement",
                          .operator_name = s.operator_name,
                          .memo = ctx->period};
        rc = ykt_ledger_transfer(gw->db, &t, &s.transfer);
    }
    if (rc == YKT_OK)
        rc = ykt_store_settlement_insert(gw->db, &s);
    if (rc == YKT_OK)
        settlement_cells(ctx->t, &s, NULL);
    return rc;
}

static void cmd_settlement_run(ykt_req *req, const ykt_args *a)
{
    const char *period = ykt_args_get(a, "period");
    char start[YKT_DATE_LEN], end[YKT_DATE_LEN];
    if (strlen(period) == 10 && ykt_date_valid(period)) {
        ykt_strlcpy(start, period, sizeof start);
        ykt_date_add_months(start, 0, end);
        int64_t next = ykt_date_start_ms(start) + 86400000LL;
        ykt_date_of(next + 3600000LL, end); /* DST-proof: one hour into the next day */
    } else if (strlen(period) == 7) {
        snprintf(start, sizeof start, "%.7s-01", period);
        if (!ykt_date_valid(start)) {
            ykt_reply_error(req, "BAD_REQUEST", "--period is YYYY-MM-DD (a day) or YYYY-MM");
            return;
        }
        ykt_date_add_months(start, 1, end);
    } else {
        ykt_reply_error(req, "BAD_REQUEST", "--period is YYYY-MM-DD (a day) or YYYY-MM");
        return;
    }
    char today[YKT_DATE_LEN];
    ykt_today(today);
    if (strcmp(end, today) > 0) {
        ykt_reply_error(req, "BAD_STATE", "period %s has not ended yet", period);
        return;
    }
    static const char *const cols[] = {"merchant", "period",     "payments", "gross",
                                       "refunds",  "commission", "net",      "state"};
    settle_ctx ctx = {.req = req,
                      .period = period,
                      .before_ms = ykt_date_start_ms(end),
                      .t = ykt_table_new("TABLE", 8, cols)};
    int rc = ykt_store_merchant_each(req->gw->db, settle_one, &ctx);
    if (rc == YKT_EEXIST) {
        ykt_table_free(ctx.t);
        ykt_reply_error(req, "EXISTS", "a merchant's period %s is settled already", period);
        return;
    }
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "settlement.run", period, "settled before %s", end);
    if (rc != YKT_OK) {
        ykt_table_free(ctx.t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, ctx.t);
}

static int settlement_list_row(const ykt_settlement_row *s, void *arg)
{
    settlement_cells(arg, s, NULL);
    return YKT_OK;
}

/* A month's figures per merchant: the sum of its settlements in that month (each settles
 * what no earlier one did, so daily and monthly runs add up without overlap). */
typedef struct month_totals {
    ykt_settlement_row *rows;
    int n, cap;
} month_totals;

static int month_total_row(const ykt_settlement_row *s, void *arg)
{
    month_totals *mt = arg;
    int i = 0;
    while (i < mt->n && strcmp(mt->rows[i].merchant, s->merchant) != 0)
        i++;
    if (i == mt->n) {
        if (mt->n == mt->cap) {
            int cap = mt->cap ? 2 * mt->cap : 16;
            ykt_settlement_row *rows = realloc(mt->rows, (size_t)cap * sizeof *rows);
            if (rows == NULL)
                return YKT_ENOMEM;
            mt->rows = rows;
            mt->cap = cap;
        }
        memset(&mt->rows[i], 0, sizeof mt->rows[i]);
        ykt_strlcpy(mt->rows[i].merchant, s->merchant, sizeof mt->rows[i].merchant);
        mt->n++;
    }
    ykt_settlement_row *t = &mt->rows[i];
    t->payments += s->payments;
    t->gross += s->gross;
    t->refunds += s->refunds;
    t->commission += s->commission;
    t->net += s->net;
    return YKT_OK;
}

/* Appends one "month total" row per merchant listed for the month. */
static int month_totals_append(ykt_db *db, const char *merchant, const char *month, ykt_table *t)
{
    month_totals mt = {0};
    int rc = ykt_store_settlement_each(db, merchant ? merchant : "", month, INT32_MAX,
                                       month_total_row, &mt);
    for (int i = 0; rc == YKT_OK && i < mt.n; i++) {
        ykt_strlcpy(mt.rows[i].period, month, sizeof mt.rows[i].period);
        settlement_cells(t, &mt.rows[i], "month total");
    }
    free(mt.rows);
    return rc;
}

static void cmd_settlement_list(ykt_req *req, const ykt_args *a)
{
    const char *merchant = ykt_args_get(a, "merchant"), *period = ykt_args_get(a, "period");
    int64_t limit = 100;
    if (!ykt_args_int(req, a, "limit", 1, 100000, &limit))
        return;
    static const char *const cols[] = {"merchant", "period",     "payments", "gross",
                                       "refunds",  "commission", "net",      "state"};
    ykt_table *t = ykt_table_new("TABLE", 8, cols);
    int rc = ykt_store_settlement_each(req->gw->db, merchant ? merchant : "", period ? period : "",
                                       (int)limit, settlement_list_row, t);
    /* --period YYYY-MM: the month's settlements, then each merchant's month (R-W9). */
    if (rc == YKT_OK && period != NULL && strlen(period) == 7)
        rc = month_totals_append(req->gw->db, merchant, period, t);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

/* ---- the ledger audit (R-W9, R-W10) ---- */

typedef struct audit_job {
    char path[YKT_PATH_MAX];
    ykt_ledger_report report;
    int rc;
    char err[256];
} audit_job;

static void audit_work(void *data)
{
    audit_job *job = data;
    job->rc = ykt_store_ledger_audit(job->path, &job->report, job->err, sizeof job->err);
}

static void audit_done(ykt_req *req, void *data)
{
    audit_job *job = data;
    if (req->abandoned)
        goto out;
    if (job->rc != YKT_OK) {
        ykt_reply_error(req, "STORAGE_ERROR", "%s", job->err);
        goto out;
    }
    int64_t violations = 0;
    for (int i = 0; i < job->report.n; i++)
        violations += job->report.checks[i].violations;
    static const char *const cols[] = {"check", "result", "detail", "what"};
    ykt_table *t = ykt_table_new(violations ? "VIOLATIONS" : "TABLE", 4, cols);
    for (int i = 0; i < job->report.n; i++) {
        const ykt_audit_check *c = &job->report.checks[i];
        ykt_table_row(t);
        ykt_table_str(t, c->name);
        ykt_table_str(t, c->violations ? "VIOLATION" : "ok");
        ykt_table_str(t, c->violations ? c->detail : NULL);
        ykt_table_str(t, c->what);
    }
    char wallets[32], debt[32], summary[192];
    ykt_format_fen(job->report.wallets, wallets, sizeof wallets);
    ykt_format_fen(job->report.debt, debt, sizeof debt);
    snprintf(summary, sizeof summary,
             "%lld accounts, %lld transfers, wallets hold %s CNY; offline debt: %lld wallets, "
             "%s CNY",
             (long long)job->report.accounts, (long long)job->report.transfers, wallets,
             (long long)job->report.debtors, debt);
    ykt_table_row(t);
    ykt_table_str(t, "summary");
    ykt_table_str(t, violations ? "FAILED" : "ok");
    ykt_table_str(t, summary);
    ykt_table_str(t, "");
    if (violations)
        ykt_error("ledger audit: %lld violations", (long long)violations);
    ykt_table_send(req, t);
out:
    free(job);
}

static void cmd_audit(ykt_req *req, const ykt_args *a)
{
    audit_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    ykt_strlcpy(job->path, ykt_db_path(req->gw->db), sizeof job->path);
    ykt_req_defer(req, audit_work, audit_done, job);
}

static const ykt_admin_cmd cmds[] = {
    {"merchant", "add", cmd_merchant_add, FINANCE, true, 1, 1,
     "name=! category= fee-regular= fee-temporary= discount= commission=",
     "merchant add ID --name N [--category C] [--fee-regular PCT] [--fee-temporary PCT] "
     "[--discount PCT] [--commission PCT]",
     "Register a merchant with its fee rule (management fee by card type, discount)."},
    {"merchant", "update", cmd_merchant_update, FINANCE, true, 1, 1,
     "name= category= status= fee-regular= fee-temporary= discount= commission=",
     "merchant update ID [--status active|suspended] [--fee-regular PCT] ...",
     "Change a merchant's data, fee rule or status."},
    {"merchant", "list", cmd_merchant_list, INVESTIGATORS | YKT_ROLE_SUPERUSER | YKT_ROLE_PORTAL,
     false, 0, 0, "", "merchant list", "Merchants with their fee rules and what they are owed."},
    {"merchant", "show", cmd_merchant_show, INVESTIGATORS | YKT_ROLE_SUPERUSER, false, 1, 1, "",
     "merchant show ID", "One merchant."},
    {"payment", "search", cmd_payment_search, INVESTIGATORS | YKT_ROLE_GUARDIAN | YKT_ROLE_PORTAL,
     false, 0, 0, "card= person= merchant= terminal= from= to= month= limit=",
     "payment search [--card C] [--person NO] [--merchant M] [--terminal T] [--from DATE] "
     "[--to DATE] [--month YYYY-MM] [--limit N]",
     "Find payments for an investigation (R-W10), newest first."},
    {"payment", "show", cmd_payment_show, INVESTIGATORS, false, 1, 1, "", "payment show ID",
     "One payment with its fee, refunds and flags."},
    {"payment", "refund", cmd_payment_refund, OPERATORS, true, 1, 1, "amount=! reason=!",
     "payment refund ID --amount CNY --reason TEXT",
     "Refund an over-deduction (R-W5); all refunds of a payment stay within it."},
    {"account", "statement", cmd_statement, READERS | YKT_ROLE_PORTAL, false, 1, 1,
     "from= to= month= format=",
     "account statement NO [--from DATE] [--to DATE] [--month YYYY-MM] [--format table|csv]",
     "A holder's statement with opening and closing balance (R-W8)."},
    {"account", "limit", cmd_limit, OPERATORS, true, 1, 1,
     "daily=! ref=", "account limit NO --daily CNY|default --ref DOC",
     "Raise (or restore) a holder's daily limit on their application (R-W2)."},
    {"account", "settings", cmd_settings, OPERATORS, true, 1, 1,
     "low-balance= autotopup-below= autotopup-amount=",
     "account settings NO [--low-balance CNY|default] [--autotopup-below CNY|off "
     "--autotopup-amount CNY]",
     "A holder's reminder threshold and automatic top-up from the bound bank card."},
    {"notice", "list", cmd_notice_list,
     INVESTIGATORS | YKT_ROLE_SUPERUSER | YKT_ROLE_GUARDIAN | YKT_ROLE_PORTAL, false, 0, 0,
     "person= kind= limit=", "notice list [--person NO] [--kind K] [--limit N]",
     "Low-balance reminders, automatic top-up requests, monthly statements ready."},
    {"guardian", "link", cmd_guardian_link, OPERATORS, true, 1, 1, "person=!",
     "guardian link OPERATOR --person NO",
     "Let a guardian account read a pupil's records, read-only."},
    {"settlement", "run", cmd_settlement_run, FINANCE, true, 0, 0, "period=!",
     "settlement run --period YYYY-MM-DD|YYYY-MM",
     "Settle every merchant up to the period's end and pay out the net (R-W9)."},
    {"settlement", "list", cmd_settlement_list, FINANCE | YKT_ROLE_AUDITOR, false, 0, 0,
     "merchant= period= limit=",
     "settlement list [--merchant M] [--period YYYY-MM[-DD]] [--limit N]",
     "Settlements by merchant and period (monthly: --period YYYY-MM)."},
    {"audit", NULL, cmd_audit, FINANCE | YKT_ROLE_AUDITOR, false, 0, 0, "", "audit",
     "Prove the ledger: sums to zero, balances match transfers, no overdraft, refunds within "
     "originals, each request applied once. Exits 1 on any violation."},
};

int ykt_admin_wallet_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
