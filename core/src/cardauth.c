#include "cardauth.h"
#include "cardcache.h"
#include "cardcrypto.h"
#include "common.h"
#include "log.h"
#include "secret.h"
#include "store/store.h"
#include "util.h"
#include "verbs.h"

#include <stdio.h>
#include <string.h>

static bool parse_i64(const char *s, size_t len, int64_t min, int64_t *out)
{
    return strlen(s) == len && ykt_parse_int64(s, min, INT64_MAX, out) == YKT_OK;
}

bool ykt_presented_parse(ykt_req *req, ykt_presented *p)
{
    memset(p, 0, sizeof *p);
    if (req->argc < 1 + YKT_CARD_ARGS) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "usage: %s <seq> <uid> <atc> <time-ms> <amount> <cryptogram> ...",
                        req->argv[0]);
        return false;
    }
    char **a = req->argv;
    size_t *l = req->argl;
    if (!parse_i64(a[1], l[1], 1, &p->seq)) {
        ykt_reply_error(req, "BAD_REQUEST", "seq must be a whole number >= 1");
        return false;
    }
    if (strlen(a[2]) != l[2] || !ykt_uid_normalize(a[2], p->uid_hex) ||
        ykt_hex_decode(p->uid_hex, p->uid, l[2] / 2) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "uid must be 4 to 10 bytes in hex");
        return false;
    }
    p->uid_len = l[2] / 2;
    if (!parse_i64(a[3], l[3], 1, &p->atc) || p->atc > UINT32_MAX) {
        ykt_reply_error(req, "BAD_REQUEST", "atc must be a whole number from 1 to 4294967295");
        return false;
    }
    if (!parse_i64(a[4], l[4], 1, &p->time_ms)) {
        ykt_reply_error(req, "BAD_REQUEST", "time must be epoch milliseconds");
        return false;
    }
    if (!parse_i64(a[5], l[5], 0, &p->amount)) {
        ykt_reply_error(req, "BAD_REQUEST", "amount must be a whole number of fen, 0 or more");
        return false;
    }
    if (l[6] != 16 || ykt_hex_decode(a[6], p->mac, sizeof p->mac) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "cryptogram must be 16 hex digits");
        return false;
    }
    return true;
}

/* Records that a card which may not be used was presented (R-C9: traceable misuse). */
static void refuse_use(ykt_req *req, ykt_card *card, const char *code, const char *why)
{
    char detail[160];
    snprintf(detail, sizeof detail, "%s refused at terminal %s: %s", req->argv[0],
             req->term ? req->term->id : "?", why);
    if (ykt_card_event(req->gw->db, card->card_no, "refused_use", req->term ? req->term->id : "?",
                       false, detail) == YKT_OK)
        req->keep_changes = true;
    ykt_warn("card %s: %s", card->card_no, detail);
    ykt_reply_error(req, code, "card %s %s", card->card_no, why);
}

/* Refuses a lost, frozen, cancelled or expired card (and says so: true). */
static bool refuse_unusable(ykt_req *req, ykt_card *card)
{
    if (strcmp(card->status, "lost") == 0) {
        refuse_use(req, card, "CARD_LOST", "is reported lost");
        return true;
    }
    if (strcmp(card->status, "frozen") == 0) {
        refuse_use(req, card, "CARD_FROZEN", "is frozen by the card centre");
        return true;
    }
    if (strcmp(card->status, "cancelled") == 0) {
        refuse_use(req, card, "CARD_CANCELLED", "is cancelled");
        return true;
    }
    char today[YKT_DATE_LEN];
    ykt_today(today);
    if (strcmp(card->valid_until, today) < 0) {
        refuse_use(req, card, "CARD_EXPIRED", "expired");
        return true;
    }
    return false;
}

bool ykt_card_still_usable(ykt_req *req)
{
    if (!req->status_checked || req->atc_uid[0] == '\0')
        return true;
    ykt_card card;
    int rc = ykt_cardcache_card(req->gw->cards, req->gw->db, req->atc_uid, &card);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return !refuse_unusable(req, &card);
}

/*
 * The retry of a request that advanced the card's ATC and has not completed. Such a request
 * (PAY or HOLD with a PIN) kept its card check, and the ATC, before it waited for the
 * password check, and the card names it, with the digest of its bytes (verbs.c marks it when
 * it waits), until its outcome is kept: abandoned (its connection closed) or undone (its
 * outcome could not be kept), it never is. Its retry, the same bytes again, may run once
 * more: the cryptogram binds the terminal and seq, and the digest the rest (the PIN), so
 * nothing else can present it. Once its outcome is kept the mark is gone; and a copy
 * presented after that outcome was pruned is refused by its time anyway (config.c:
 * request_retention is at least twice max_clock_skew).
 */
static bool retry_of_atc_request(const ykt_req *req, const ykt_presented *p, const ykt_card *card)
{
    if (p->atc != card->atc || p->seq != card->atc_seq || req->term == NULL ||
        strcmp(card->atc_terminal, req->term->id) != 0)
        return false;
    uint8_t digest[16];
    ykt_verbs_request_digest(req, digest);
    return ykt_ct_equal(digest, card->atc_digest, sizeof digest);
}

static int take_atc(ykt_req *req, const ykt_presented *p, ykt_card *card, bool offline)
{
    if (p->atc <= card->atc) /* an offline sale's, or the retry of a marked request */
        return YKT_OK;
    int rc = ykt_cardcache_set_atc(req->gw->cards, req->gw->db, card, p->atc);
    if (rc == YKT_ENOTFOUND && offline)
        return YKT_OK; /* an offline sale's ATC may be below the row's */
    if (rc == YKT_ENOTFOUND) {
        /* The row's ATC was at or above it already: the card as read was behind it (a kept
         * copy that should have been forgotten). Nothing was written; it is a replay. */
        ykt_warn("card %s: ATC %lld not taken at terminal %s: the card's row already had it",
                 card->card_no, (long long)p->atc, req->term->id);
        ykt_reply_error(req, "REPLAY", "ATC %lld is not above the last accepted",
                        (long long)p->atc);
        return YKT_EPERM;
    }
    if (rc != YKT_OK)
        return rc;
    ykt_strlcpy(req->atc_card, card->card_no, sizeof req->atc_card);
    ykt_strlcpy(req->atc_uid, card->uid, sizeof req->atc_uid);
    card->atc = p->atc;
    return YKT_OK;
}

int ykt_card_take_atc(ykt_req *req, const ykt_presented *p, ykt_card *card)
{
    return take_atc(req, p, card, false);
}

bool ykt_card_authenticate(ykt_req *req, const ykt_presented *p, unsigned flags, ykt_card *card,
                           ykt_person *person)
{
    return ykt_card_authenticate_op(req, p, req->argv[0], flags, card, person);
}

bool ykt_card_authenticate_op(ykt_req *req, const ykt_presented *p, const char *operation,
                              unsigned flags, ykt_card *card, ykt_person *person)
{
    ykt_db *db = req->gw->db;
    int rc = ykt_cardcache_card(req->gw->cards, db, p->uid_hex, card);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "CARD_UNKNOWN", "no card with this uid");
        return false;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    /* R-C12: only the card's own key produces this cryptogram over these fields. */
    uint8_t key[16];
    int medium = strcmp(card->medium, "phone") == 0 ? YKT_MEDIUM_PHONE : YKT_MEDIUM_CARD;
    const ykt_config *cfg = &req->gw->cfg;
    rc = ykt_card_key(req->gw->master_key, p->uid, p->uid_len, medium,
                      (const uint8_t *)cfg->campus_code, strlen(cfg->campus_code), key);
    ykt_cryptogram_input in = {
        .terminal_id = req->term->id,
        .terminal_seq = (uint64_t)p->seq,
        .uid_len = p->uid_len,
        .atc = (uint32_t)p->atc,
        .operation = operation,
        .amount = p->amount,
        .time_ms = p->time_ms,
    };
    memcpy(in.uid, p->uid, p->uid_len);
    bool ok = rc == YKT_OK && ykt_cryptogram_verify(key, &in, p->mac);
    ykt_wipe(key, sizeof key);
    if (!ok) {
        ykt_warn("card %s: bad cryptogram at terminal %s (%s)", card->card_no, req->term->id,
                 req->argv[0]);
        ykt_reply_error(req, "BAD_CRYPTOGRAM", "the cryptogram does not match this card");
        return false;
    }
    if (flags & YKT_CARDAUTH_OFFLINE) {
        if (p->time_ms > ykt_now_ms() + cfg->max_clock_skew_ms) {
            ykt_reply_error(req, "CLOCK_SKEW", "an offline transaction cannot be in the future");
            return false;
        }
        /* Nor older than the outcomes of (terminal, seq) are kept, less the skew an online
         * request may have had: an online PAY refused before it took the ATC (PIN_REQUIRED,
         * LIMIT_EXCEEDED, ...) carries a cryptogram over a PAY as well, and its seq uploaded
         * again is SEQ_REUSED only while its outcome is kept; after that it would be charged
         * without its checks. (A time before the card was issued is not refused: the card
         * signs the time the terminal gives it, so that shows a wrong terminal clock on a
         * sale that was made.) */
        int64_t window = cfg->request_retention_ms - cfg->max_clock_skew_ms;
        if (p->time_ms < ykt_now_ms() - window) {
            ykt_reply_error(req, "CLOCK_SKEW",
                            "an offline transaction is uploaded within %.1f hours of it "
                            "([terminal] request_retention less [cards] max_clock_skew)",
                            (double)window / 3600000.0);
            return false;
        }
        flags |= YKT_CARDAUTH_ANY_STATUS;
    } else if (flags & YKT_CARDAUTH_ONLINE) {
        int64_t skew = p->time_ms - ykt_now_ms();
        if (skew < 0)
            skew = -skew;
        if (skew > cfg->max_clock_skew_ms) {
            ykt_reply_error(req, "CLOCK_SKEW",
                            "transaction time is %lld s away from the gateway clock (TIME)",
                            (long long)(skew / 1000));
            return false;
        }
    }
    if (p->atc <= card->atc && !(flags & YKT_CARDAUTH_OFFLINE)) {
        if (!retry_of_atc_request(req, p, card)) {
            ykt_warn("card %s: replayed ATC %lld (last %lld) at terminal %s", card->card_no,
                     (long long)p->atc, (long long)card->atc, req->term->id);
            ykt_reply_error(req, "REPLAY", "ATC %lld is not above the last accepted %lld",
                            (long long)p->atc, (long long)card->atc);
            return false;
        }
        ykt_info("card %s: ATC %lld again from terminal %s seq %lld: the retry of a request "
                 "that did not complete",
                 card->card_no, (long long)p->atc, req->term->id, (long long)p->seq);
        ykt_strlcpy(req->atc_card, card->card_no, sizeof req->atc_card);
        ykt_strlcpy(req->atc_uid, card->uid, sizeof req->atc_uid);
        req->atc_marked = true;
    }
    if (!(flags & YKT_CARDAUTH_ANY_STATUS)) {
        if (refuse_unusable(req, card))
            return false;
        req->status_checked = true;
    }
    if (!(flags & YKT_CARDAUTH_ATC_LATER) &&
        (rc = take_atc(req, p, card, flags & YKT_CARDAUTH_OFFLINE)) == YKT_EPERM)
        return false; /* replied */
    if (rc == YKT_OK)
        rc = ykt_cardcache_holder(req->gw->cards, db, p->uid_hex, card->person_id, person);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return true;
}
