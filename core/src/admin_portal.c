/*
 * The web portal's holder commands (issue 10): ykt-web signs cardholders in with their card or
 * person number and query password, and lets them report their card lost and change their
 * passwords. Each command carries the holder's password and yktd checks it itself, with the
 * card-password lockout of R-C10 (cardpw.c): ykt-web's word that a holder is signed in is
 * never enough to change anything.
 *
 *   portal verify LOGIN PASSWORD                 who is this? (card or person number)
 *   portal report-loss NO PASSWORD [--medium M]  R-C4, as CARD.REPORT_LOSS at a kiosk
 *   portal passwd NO query|pay OLD NEW           R-C10, as CARD.PASSWD without the card
 *   portal account NO                            the holder's limit and top-up settings
 *   portal settings NO PAY_PASSWORD [--daily CNY|default] [--low-balance CNY|default]
 *                   [--autotopup-below CNY|off] [--autotopup-amount CNY]
 *                                                R-W2/R-W6/R-W7: the holder's own settings;
 *                                                a daily limit only up to the default
 *
 * Role portal (ykt-web's service account, `operator add NAME --role portal`) and the superuser.
 * Every change is audited.
 */
#include "admin.h"
#include "admin_cmds.h"
#include "admin_util.h"
#include "card.h"
#include "card_verbs.h"
#include "cardpw.h"
#include "common.h"
#include "ledger.h"
#include "log.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct portal_job {
    ykt_cardpw_job pw; /* first: the thread-pool side sees a ykt_cardpw_job */
    char person_no[32];
    char medium[8];
    char service[64]; /* the portal account that asked */
    /* portal settings: -2 leaves a value as it is, -1 is "default"/"off" */
    int64_t daily, low_balance, autotopup_below, autotopup_amount;
} portal_job;

static void portal_work(void *data)
{
    ykt_cardpw_work(data);
}

static void job_free(portal_job *job)
{
    ykt_cardpw_job_wipe(&job->pw);
    free(job);
}

/*
 * Resolves LOGIN (a person number, or a card number of one of their credentials) and loads
 * the query password into a new job. An unknown login and a malformed password get the
 * same refusal as a wrong password, so a probe learns nothing. NULL when it replied.
 */
static portal_job *job_start(ykt_req *req, const char *login, const char *which,
                             const char *password, bool by_card)
{
    ykt_db *db = req->gw->db;
    ykt_person person;
    int rc = ykt_store_person_by_no(db, login, &person);
    if (rc == YKT_ENOTFOUND && by_card && ykt_card_number_valid(login)) {
        ykt_card card;
        rc = ykt_store_card_by_no(db, login, &card);
        if (rc == YKT_OK)
            rc = ykt_store_person_by_id(db, card.person_id, &person);
    }
    bool pay = strcmp(which, "pay") == 0;
    if (rc == YKT_ENOTFOUND || !ykt_cardpw_valid(password)) {
        ykt_reply_error(req, pay ? "BAD_PIN" : "WRONG_PASSWORD", "wrong %s password", which);
        return NULL;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return NULL;
    }
    portal_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return NULL;
    }
    if (!ykt_cardpw_prepare(req, &job->pw, person.id, which)) {
        free(job);
        return NULL;
    }
    ykt_strlcpy(job->pw.password, password, sizeof job->pw.password);
    ykt_strlcpy(job->person_no, person.person_no, sizeof job->person_no);
    ykt_strlcpy(job->service, req->session->operator_name, sizeof job->service);
    return job;
}

/* ---- portal verify LOGIN PASSWORD ---- */

static void verify_done(ykt_req *req, void *data)
{
    portal_job *job = data;
    if (req->abandoned || !ykt_cardpw_conclude(req, &job->pw))
        goto out;
    ykt_db *db = req->gw->db;
    ykt_person p;
    ykt_card card;
    int rc = ykt_store_person_by_id(db, job->pw.person_id, &p);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        goto out;
    }
    rc = ykt_store_card_live(db, p.id, "card", &card);
    if (rc == YKT_ENOTFOUND)
        memset(&card, 0, sizeof card);
    else if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        goto out;
    }
    if (ykt_audit(req, NULL, "portal.verify", p.person_no,
                  "holder signed in to the web portal with the query password") != YKT_OK) {
        ykt_reply_internal(req, YKT_ESTORAGE);
        goto out;
    }
    static const char *const cols[] = {"person_no", "name",    "kind",       "department",
                                       "status",    "card_no", "card_status"};
    ykt_table *t = ykt_table_new("RECORD", 7, cols);
    ykt_table_row(t);
    ykt_table_str(t, p.person_no);
    ykt_table_str(t, p.name);
    ykt_table_str(t, p.kind);
    ykt_table_str(t, p.department);
    ykt_table_str(t, p.status);
    ykt_table_str(t, card.card_no[0] ? card.card_no : NULL);
    ykt_table_str(t, card.card_no[0] ? card.status : NULL);
    ykt_table_send(req, t);
out:
    job_free(job);
}

static void cmd_verify(ykt_req *req, const ykt_args *a)
{
    portal_job *job = job_start(req, a->pos[0], "query", a->pos[1], true);
    if (job != NULL)
        ykt_req_defer(req, portal_work, verify_done, job);
}

/* ---- portal report-loss NO PASSWORD [--medium card|phone] ---- */

static void loss_done(ykt_req *req, void *data)
{
    portal_job *job = data;
    if (!req->abandoned && ykt_cardpw_conclude(req, &job->pw)) {
        char where[sizeof job->service + 24];
        snprintf(where, sizeof where, "the web portal (%s)", job->service);
        ykt_card_holder_loss(req, job->pw.person_id, job->person_no, job->medium, where);
    }
    job_free(job);
}

static void cmd_report_loss(ykt_req *req, const ykt_args *a)
{
    const char *medium = ykt_args_get(a, "medium");
    if (medium == NULL)
        medium = "card";
    if (strcmp(medium, "card") != 0 && strcmp(medium, "phone") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--medium is card or phone");
        return;
    }
    portal_job *job = job_start(req, a->pos[0], "query", a->pos[1], false);
    if (job == NULL)
        return;
    ykt_strlcpy(job->medium, medium, sizeof job->medium);
    ykt_req_defer(req, portal_work, loss_done, job);
}

/* ---- portal passwd NO query|pay OLD NEW ---- */

static void passwd_done(ykt_req *req, void *data)
{
    portal_job *job = data;
    if (req->abandoned || !ykt_cardpw_conclude(req, &job->pw))
        goto out;
    if (job->pw.fresh_malformed) {
        ykt_reply_error(req, "BAD_PASSWORD", "a card password is exactly 6 digits");
        goto out;
    }
    int rc = job->pw.hashed;
    if (rc == YKT_OK)
        rc = ykt_store_password_set(req->gw->db, job->pw.person_id, job->pw.which,
                                    job->pw.fresh_hash, 0, ykt_now_ms());
    if (rc == YKT_OK)
        rc = ykt_audit(req, NULL, "portal.passwd", job->person_no,
                       "the holder changed the %s password in the web portal", job->pw.which);
    if (rc != YKT_OK)
        ykt_reply_internal(req, rc);
    else
        ykt_reply_ok(req);
out:
    job_free(job);
}

static void cmd_passwd(ykt_req *req, const ykt_args *a)
{
    const char *which = a->pos[1];
    if (strcmp(which, "query") != 0 && strcmp(which, "pay") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "the password is query or pay");
        return;
    }
    portal_job *job = job_start(req, a->pos[0], which, a->pos[2], false);
    if (job == NULL)
        return;
    ykt_cardpw_set_fresh(&job->pw, a->pos[3]);
    ykt_req_defer(req, portal_work, passwd_done, job);
}

/* ---- portal account NO ---- */

/* The holder's default daily limit: by the type of their live card (R-W2). */
static int64_t default_daily(ykt_req *req, int64_t person_id, int *rc)
{
    ykt_card card;
    *rc = ykt_store_card_live(req->gw->db, person_id, "card", &card);
    bool temporary = *rc == YKT_OK && strcmp(card.type, "temporary") == 0;
    if (*rc == YKT_ENOTFOUND)
        *rc = YKT_OK;
    return temporary ? req->gw->cfg.daily_limit_temporary : req->gw->cfg.daily_limit_regular;
}

static void money_cell(ykt_table *t, int64_t fen)
{
    char text[32];
    if (fen < 0) {
        ykt_table_str(t, NULL);
        return;
    }
    ykt_format_fen(fen, text, sizeof text);
    ykt_table_str(t, text);
}

static void cmd_account(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    if (!ykt_admin_person(req, a->pos[0], &p))
        return;
    ykt_holder_settings s;
    int rc = ykt_store_holder_settings_get(req->gw->db, p.id, &s);
    int64_t def = rc == YKT_OK ? default_daily(req, p.id, &rc) : 0;
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    static const char *const cols[] = {"daily_limit",     "daily_limit_default", "daily_limit_ref",
                                       "low_balance",     "low_balance_default", "autotopup_below",
                                       "autotopup_amount"};
    ykt_table *t = ykt_table_new("RECORD", 7, cols);
    ykt_table_row(t);
    money_cell(t, s.daily_limit >= 0 ? s.daily_limit : def);
    money_cell(t, def);
    ykt_table_str(t, s.daily_limit_ref[0] ? s.daily_limit_ref : NULL);
    money_cell(t, s.low_balance >= 0 ? s.low_balance : req->gw->cfg.low_balance);
    money_cell(t, req->gw->cfg.low_balance);
    money_cell(t, s.autotopup_below);
    money_cell(t, s.autotopup_below >= 0 ? s.autotopup_amount : -1);
    ykt_table_send(req, t);
}

/* ---- portal settings NO PAY_PASSWORD [...] ---- */

static bool settings_amount(ykt_req *req, const ykt_args *a, const char *name, const char *off,
                            int64_t *out)
{
    const char *v = ykt_args_get(a, name);
    *out = -2;
    if (v == NULL)
        return true;
    if (strcmp(v, off) == 0) {
        *out = -1;
        return true;
    }
    if (ykt_parse_yuan(v, out) != YKT_OK || *out <= 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--%s is CNY above 0 (or '%s')", name, off);
        return false;
    }
    return true;
}

static void settings_done(ykt_req *req, void *data)
{
    portal_job *job = data;
    if (req->abandoned || !ykt_cardpw_conclude(req, &job->pw))
        goto out;
    ykt_db *db = req->gw->db;
    ykt_holder_settings s;
    int rc = ykt_store_holder_settings_get(db, job->pw.person_id, &s);
    int64_t def = rc == YKT_OK ? default_daily(req, job->pw.person_id, &rc) : 0;
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        goto out;
    }
    if (job->daily >= 0 && job->daily > def) {
        char text[32];
        ykt_format_fen(def, text, sizeof text);
        ykt_reply_error(req, "LIMIT_EXCEEDED",
                        "a holder may lower the daily limit (at most %s); a higher one is "
                        "applied for at the card centre",
                        text);
        goto out;
    }
    if (job->daily != -2) {
        s.daily_limit = job->daily;
        ykt_strlcpy(s.daily_limit_ref, "holder (web portal)", sizeof s.daily_limit_ref);
    }
    if (job->low_balance != -2)
        s.low_balance = job->low_balance;
    if (job->autotopup_below != -2)
        s.autotopup_below = job->autotopup_below;
    if (job->autotopup_amount != -2)
        s.autotopup_amount = job->autotopup_amount;
    if (s.autotopup_below >= 0 && s.autotopup_amount <= 0) {
        ykt_reply_error(req, "BAD_REQUEST", "automatic top-up needs --autotopup-amount");
        goto out;
    }
    rc = ykt_store_holder_settings_put(db, job->pw.person_id, &s);
    if (rc == YKT_OK)
        rc = ykt_audit(req, NULL, "portal.settings", job->person_no,
                       "the holder set daily limit %lld, reminder below %lld, auto top-up %lld "
                       "below %lld (fen; -1 default/off) in the web portal",
                       (long long)s.daily_limit, (long long)s.low_balance,
                       (long long)s.autotopup_amount, (long long)s.autotopup_below);
    if (rc != YKT_OK)
        ykt_reply_internal(req, rc);
    else
        ykt_reply_ok(req);
out:
    job_free(job);
}

static void cmd_settings(ykt_req *req, const ykt_args *a)
{
    int64_t daily, low, below, amount;
    if (!settings_amount(req, a, "daily", "default", &daily) ||
        !settings_amount(req, a, "low-balance", "default", &low) ||
        !settings_amount(req, a, "autotopup-below", "off", &below) ||
        !settings_amount(req, a, "autotopup-amount", "off", &amount))
        return;
    if (amount == -1) {
        ykt_reply_error(req, "BAD_REQUEST", "turn automatic top-up off with --autotopup-below off");
        return;
    }
    if (daily == -2 && low == -2 && below == -2 && amount == -2) {
        ykt_reply_error(req, "BAD_REQUEST", "nothing to change");
        return;
    }
    portal_job *job = job_start(req, a->pos[0], "pay", a->pos[1], false);
    if (job == NULL)
        return;
    job->daily = daily;
    job->low_balance = low;
    job->autotopup_below = below;
    job->autotopup_amount = amount;
    ykt_req_defer(req, portal_work, settings_done, job);
}

static const ykt_admin_cmd portal_cmds[] = {
    {"portal", "verify", cmd_verify, YKT_ROLE_PORTAL, true, 2, 2, "",
     "portal verify LOGIN PASSWORD",
     "Web portal: check a holder's query password (LOGIN: person or card number); who they "
     "are."},
    {"portal", "report-loss", cmd_report_loss, YKT_ROLE_PORTAL, true, 2, 2,
     "medium=", "portal report-loss NO PASSWORD [--medium card|phone]",
     "Web portal: the holder reports their card lost with the query password (R-C4)."},
    {"portal", "passwd", cmd_passwd, YKT_ROLE_PORTAL, true, 4, 4, "",
     "portal passwd NO query|pay OLD NEW",
     "Web portal: the holder changes the query or payment password with the old one (R-C10)."},
    {"portal", "account", cmd_account, YKT_ROLE_PORTAL, false, 1, 1, "", "portal account NO",
     "Web portal: the holder's daily limit, reminder threshold and automatic top-up."},
    {"portal", "settings", cmd_settings, YKT_ROLE_PORTAL, true, 2, 2,
     "daily= low-balance= autotopup-below= autotopup-amount=",
     "portal settings NO PAY_PASSWORD [--daily CNY|default] [--low-balance CNY|default] "
     "[--autotopup-below CNY|off] [--autotopup-amount CNY]",
     "Web portal: the holder sets their own limit (lower only) and top-up settings with the "
     "payment password (R-W2, R-W6, R-W7)."},
};

int ykt_admin_portal_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, portal_cmds, (int)YKT_ARRAY_LEN(portal_cmds));
}
