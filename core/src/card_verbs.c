/*
 * Card verbs on the terminal port: CARD.INFO, BLACKLIST, CARD.PASSWD and CARD.REPORT_LOSS.
 * See docs/protocol.md for their arguments and replies.
 */
#include "card_verbs.h"
#include "cardauth.h"
#include "cardpw.h"
#include "admin.h"
#include "common.h"
#include "ledger.h"
#include "log.h"
#include "privacy.h"
#include "resp.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLACKLIST_PAGE 1000

/* CARD.INFO seq uid atc time 0 cryptogram -> [card_no, status, type, masked name,
 * valid_until, balance_fen] */
static void cmd_card_info(ykt_req *req)
{
    ykt_presented p;
    ykt_card card;
    ykt_person person;
    if (!ykt_presented_parse(req, &p))
        return;
    if (req->argc != 1 + YKT_CARD_ARGS || p.amount != 0) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "usage: CARD.INFO <seq> <uid> <atc> <time> 0 <cryptogram>");
        return;
    }
    if (!ykt_card_authenticate(req, &p, YKT_CARDAUTH_ONLINE, &card, &person))
        return;
    int64_t wallet, balance = 0;
    int rc = ykt_ledger_wallet(req->gw->db, person.id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(req->gw->db, wallet, &balance);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    char masked[64];
    ykt_mask_name(person.name, masked, sizeof masked);
    ykt_reply_array(req, 6);
    ykt_reply_bulk(req, card.card_no);
    ykt_reply_bulk(req, card.status);
    ykt_reply_bulk(req, card.type);
    ykt_reply_bulk(req, masked);
    ykt_reply_bulk(req, card.valid_until);
    ykt_reply_int(req, balance);
}

typedef struct blacklist_page {
    ykt_buf entries;
    int n;
    int64_t last_version;
    int scanned;
    bool full;
    const char *today;
} blacklist_page;

static int blacklist_entry(const ykt_card *c, void *arg)
{
    blacklist_page *pg = arg;
    /* What an offline terminal should do with this uid from now on. */
    const char *state = c->status;
    if (strcmp(state, "active") == 0 && strcmp(c->valid_until, pg->today) < 0)
        state = "expired";
    pg->last_version = c->list_version;
    pg->scanned++;
    /* A terminal starting from nothing needs only the cards to refuse. */
    if (pg->full && strcmp(state, "active") == 0)
        return YKT_OK;
    ykt_resp_array(&pg->entries, 3);
    ykt_resp_bulks(&pg->entries, c->uid);
    ykt_resp_bulks(&pg->entries, state);
    ykt_resp_bulks(&pg->entries, c->card_no);
    pg->n++;
    return YKT_OK;
}

/* BLACKLIST since-version -> [version, more, [uid, state, card_no]...]: every credential
 * whose state changed after since-version; "active" means "remove from the list". */
static void cmd_blacklist(ykt_req *req)
{
    int64_t since;
    if (req->argc != 2 || ykt_parse_int64(req->argv[1], 0, INT64_MAX, &since) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "usage: BLACKLIST <since-version>");
        return;
    }
    int64_t current;
    int rc = ykt_store_meta_get(req->gw->db, "blacklist_version", &current);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    /* A terminal ahead of the gateway (its list came from before a restore of an older
     * backup) holds versions this gateway never published: it starts again from nothing,
     * or it would never learn the changes made since the restore. */
    if (since > current)
        since = 0;
    char today[YKT_DATE_LEN];
    ykt_today(today);
    blacklist_page pg = {.last_version = since, .today = today, .full = since == 0};
    ykt_buf_init(&pg.entries);
    rc = ykt_store_card_changed_since(req->gw->db, since, BLACKLIST_PAGE, blacklist_entry, &pg);
    if (rc != YKT_OK) {
        ykt_buf_free(&pg.entries);
        ykt_reply_internal(req, rc);
        return;
    }
    bool more = pg.scanned == BLACKLIST_PAGE && pg.last_version < current;
    ykt_reply_array(req, 2 + pg.n);
    ykt_reply_int(req, more ? pg.last_version : current);
    ykt_reply_int(req, more ? 1 : 0);
    ykt_buf_append(req->out, pg.entries.data, pg.entries.len);
    ykt_buf_free(&pg.entries);
}

/* ---- CARD.PASSWD seq uid atc time 0 cryptogram query|pay old new ---- */

static void passwd_work(void *data)
{
    ykt_cardpw_work(data);
}

static void passwd_done(ykt_req *req, void *data)
{
    ykt_cardpw_job *job = data;
    if (!req->abandoned && ykt_cardpw_conclude(req, job)) {
        if (job->fresh_malformed) {
            ykt_reply_error(req, "BAD_PASSWORD", "a card password is exactly 6 digits");
            goto out;
        }
        int rc = job->hashed;
        if (rc == YKT_OK)
            rc = ykt_store_password_set(req->gw->db, job->person_id, job->which, job->fresh_hash, 0,
                                        ykt_now_ms());
        if (rc != YKT_OK)
            ykt_reply_internal(req, rc);
        else
            ykt_reply_ok(req);
    }
out:
    ykt_cardpw_job_wipe(job);
    free(job);
}

static void cmd_card_passwd(ykt_req *req)
{
    ykt_presented p;
    ykt_card card;
    ykt_person person;
    if (!ykt_presented_parse(req, &p))
        return;
    if (req->argc != 1 + YKT_CARD_ARGS + 3 || p.amount != 0) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "usage: CARD.PASSWD <seq> <uid> <atc> <time> 0 <cryptogram> query|pay "
                        "<old> <new>");
        return;
    }
    const char *which = req->argv[7], *old = req->argv[8], *fresh = req->argv[9];
    if (strcmp(which, "query") != 0 && strcmp(which, "pay") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "the password is query or pay");
        return;
    }
    if (old[0] == '\0') {
        ykt_reply_error(req, "BAD_REQUEST", "the old password is empty");
        return;
    }
    if (!ykt_card_authenticate(req, &p, YKT_CARDAUTH_ONLINE, &card, &person))
        return;
    ykt_cardpw_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    if (!ykt_cardpw_prepare(req, job, person.id, which)) {
        free(job);
        return;
    }
    ykt_strlcpy(job->password, old, sizeof job->password);
    ykt_cardpw_set_fresh(job, fresh);
    ykt_req_defer(req, passwd_work, passwd_done, job);
}

/* ---- CARD.REPORT_LOSS seq person_no query-password [card|phone] (R-C4, by the holder) ---- */

typedef struct loss_job {
    ykt_cardpw_job pw; /* first: passwd_work's job pointer is the loss_job too */
    char medium[8];
    char person_no[32];
} loss_job;

void ykt_card_holder_loss(ykt_req *req, int64_t person_id, const char *person_no,
                          const char *medium, const char *where)
{
    ykt_db *db = req->gw->db;
    ykt_card card;
    int rc = ykt_store_card_live(db, person_id, medium, &card);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no live %s credential to report lost", medium);
        return;
    }
    if (rc == YKT_OK && strcmp(card.status, "lost") == 0) {
        ykt_reply_status(req, "OK already reported lost");
        return;
    }
    char actor[48];
    snprintf(actor, sizeof actor, "holder:%s", person_no);
    if (rc == YKT_OK)
        rc = ykt_card_set_status(db, &card, "lost", "reported lost by the holder", actor, false,
                                 where);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_info("card %s reported lost by its holder at %s", card.card_no, where);
    /* The holder acted, not an operator; the audit trail still records who and where. */
    if (ykt_audit_write(db, actor, "holder", "card.loss", card.card_no, "",
                        "reported lost by the holder with the query password at %s",
                        where) != YKT_OK) {
        ykt_reply_internal(req, YKT_ESTORAGE);
        return;
    }
    ykt_reply_ok(req);
}

static void loss_done(ykt_req *req, void *data)
{
    loss_job *job = data;
    if (!req->abandoned && ykt_cardpw_conclude(req, &job->pw))
        ykt_card_holder_loss(req, job->pw.person_id, job->person_no, job->medium, req->term->id);
    ykt_cardpw_job_wipe(&job->pw);
    free(job);
}

static void cmd_report_loss(ykt_req *req)
{
    if (req->argc < 4 || req->argc > 5) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "usage: CARD.REPORT_LOSS <seq> <person-no> <query-password> [card|phone]");
        return;
    }
    const char *medium = req->argc == 5 ? req->argv[4] : "card";
    if (strcmp(medium, "card") != 0 && strcmp(medium, "phone") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "the credential is card or phone");
        return;
    }
    ykt_person person;
    int rc = ykt_store_person_by_no(req->gw->db, req->argv[2], &person);
    if (rc == YKT_ENOTFOUND || !ykt_cardpw_valid(req->argv[3])) {
        /* The same words as for a wrong password: a probe learns nothing (cardpw.c). */
        ykt_reply_error(req, "WRONG_PASSWORD", "wrong query password");
        return;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    loss_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    if (!ykt_cardpw_prepare(req, &job->pw, person.id, "query")) {
        free(job);
        return;
    }
    ykt_strlcpy(job->pw.password, req->argv[3], sizeof job->pw.password);
    ykt_strlcpy(job->medium, medium, sizeof job->medium);
    ykt_strlcpy(job->person_no, person.person_no, sizeof job->person_no);
    ykt_req_defer(req, passwd_work, loss_done, job);
}

int ykt_card_verbs_register(ykt_verbs *v)
{
    const unsigned info_types =
        YKT_TT_POS | YKT_TT_KIOSK | YKT_TT_BOOKING | YKT_TT_DISPENSER | YKT_TT_ATTENDANCE;
    int rc = YKT_OK;
    rc |= ykt_verbs_register(v, "CARD.INFO", cmd_card_info, info_types, YKT_VERB_SEQ, NULL,
                             "CARD.INFO <seq> <uid> <atc> <time> 0 <cryptogram>");
    rc |= ykt_verbs_register(v, "BLACKLIST", cmd_blacklist, YKT_TT_ALL & ~YKT_TT_BANK, 0, NULL,
                             "BLACKLIST <since-version>");
    rc |= ykt_verbs_register(v, "CARD.PASSWD", cmd_card_passwd, YKT_TT_KIOSK, YKT_VERB_SEQ, NULL,
                             "CARD.PASSWD <seq> <uid> <atc> <time> 0 <cryptogram> query|pay "
                             "<old> <new>");
    rc |=
        ykt_verbs_register(v, "CARD.REPORT_LOSS", cmd_report_loss, YKT_TT_KIOSK, YKT_VERB_SEQ, NULL,
                           "CARD.REPORT_LOSS <seq> <person-no> <query-password> [card|phone]");
    return rc == YKT_OK ? YKT_OK : YKT_EINVAL;
}
