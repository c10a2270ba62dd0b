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
 *
 * Superuser only: the portal's service account. Every success is audited.
 */
#include "admin.h"
#include "admin_cmds.h"
#include "admin_util.h"
#include "card.h"
#include "cardpw.h"
#include "common.h"
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
    if (req->abandoned || !ykt_cardpw_conclude(req, &job->pw))
        goto out;
    ykt_db *db = req->gw->db;
    ykt_card card;
    int rc = ykt_store_card_live(db, job->pw.person_id, job->medium, &card);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no live %s credential to report lost", job->medium);
        goto out;
    }
    if (rc == YKT_OK && strcmp(card.status, "lost") == 0) {
        ykt_reply_status(req, "OK already reported lost");
        goto out;
    }
    char actor[48], where[80];
    snprintf(actor, sizeof actor, "holder:%s", job->person_no);
    snprintf(where, sizeof where, "web portal (%s)", job->service);
    if (rc == YKT_OK)
        rc = ykt_card_set_status(db, &card, "lost", "reported lost by the holder", actor, false,
                                 where);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        goto out;
    }
    ykt_info("card %s reported lost by its holder through the %s", card.card_no, where);
    if (ykt_audit_write(db, actor, "holder", "card.loss", card.card_no, "",
                        "reported lost by the holder with the query password at the %s",
                        where) != YKT_OK) {
        ykt_reply_internal(req, YKT_ESTORAGE);
        goto out;
    }
    ykt_reply_ok(req);
out:
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
    if (!ykt_cardpw_valid(a->pos[3])) {
        ykt_reply_error(req, "BAD_PASSWORD", "a card password is exactly 6 digits");
        return;
    }
    portal_job *job = job_start(req, a->pos[0], which, a->pos[2], false);
    if (job == NULL)
        return;
    ykt_strlcpy(job->pw.fresh, a->pos[3], sizeof job->pw.fresh);
    ykt_req_defer(req, portal_work, passwd_done, job);
}

static const ykt_admin_cmd portal_cmds[] = {
    {"portal", "verify", cmd_verify, YKT_ROLE_SUPERUSER, true, 2, 2, "",
     "portal verify LOGIN PASSWORD",
     "Web portal: check a holder's query password (LOGIN: person or card number); who they "
     "are."},
    {"portal", "report-loss", cmd_report_loss, YKT_ROLE_SUPERUSER, true, 2, 2,
     "medium=", "portal report-loss NO PASSWORD [--medium card|phone]",
     "Web portal: the holder reports their card lost with the query password (R-C4)."},
    {"portal", "passwd", cmd_passwd, YKT_ROLE_SUPERUSER, true, 4, 4, "",
     "portal passwd NO query|pay OLD NEW",
     "Web portal: the holder changes the query or payment password with the old one (R-C10)."},
};

int ykt_admin_portal_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, portal_cmds, (int)YKT_ARRAY_LEN(portal_cmds));
}
