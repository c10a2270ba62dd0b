/*
 * Card presentation: every verb a card takes part in is sent as
 *   VERB <seq> <uid-hex> <atc> <time-ms> <amount-fen> <cryptogram-hex16> [extra...]
 * and the gateway checks, in this order: the card is known (CARD_UNKNOWN), the cryptogram
 * is the card's own (BAD_CRYPTOGRAM), the time is near the gateway clock (CLOCK_SKEW), the
 * ATC is above the last accepted one (REPLAY), the card's status (CARD_LOST, CARD_FROZEN,
 * CARD_CANCELLED) and validity (CARD_EXPIRED). The ATC is consumed by the request; since
 * the cryptogram binds (terminal, seq) and a request's outcome is kept per (terminal, seq),
 * a refused swipe cannot be replayed to a different effect later.
 */
#ifndef YKT_CARDAUTH_H
#define YKT_CARDAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "card.h"
#include "person.h"
#include "request.h"

/* Arguments every card verb starts with (after the verb name). */
#define YKT_CARD_ARGS 6

typedef struct ykt_presented {
    int64_t seq;
    char uid_hex[YKT_UID_HEX_MAX];
    uint8_t uid[10];
    size_t uid_len;
    int64_t atc;
    int64_t time_ms;
    int64_t amount;
    uint8_t mac[8];
} ykt_presented;

/* Parses argv[1..6]; replies BAD_REQUEST and returns false when malformed. */
bool ykt_presented_parse(ykt_req *req, ykt_presented *p);

enum ykt_cardauth_flags {
    YKT_CARDAUTH_ONLINE = 1 << 0,     /* check the time against the gateway clock */
    YKT_CARDAUTH_ANY_STATUS = 1 << 1, /* verify the card but accept any status/validity */
    /* An offline transaction uploaded later (R-W11): the time may be old (not in the
     * future), the ATC may be below the last online one (uniqueness comes from the
     * (terminal, seq) the cryptogram binds), and the status is judged by the caller as it
     * was at the transaction's time. Implies ANY_STATUS. */
    YKT_CARDAUTH_OFFLINE = 1 << 2,
    /* Check the ATC but do not take it yet: the caller takes it with ykt_card_take_atc
     * before its first write, so that its refusals before then write nothing (a PAY runs
     * without a savepoint: YKT_VERB_UNGUARDED). */
    YKT_CARDAUTH_ATC_LATER = 1 << 3,
};

/*
 * Authenticates the presented card for the verb req->argv[0]. On success fills card and
 * person, consumes the ATC and returns true. On failure replies with the precise error and
 * returns false; a refused use of a lost, frozen or cancelled card is written to the card's
 * history (R-C9) and kept even though the request fails.
 */
bool ykt_card_authenticate(ykt_req *req, const ykt_presented *p, unsigned flags, ykt_card *card,
                           ykt_person *person);
/* After a wait (a password check off the loop): the card the request's check took the ATC
 * of, as it is now. A loss report (R-C4: at once, in every subsystem), a freeze, a
 * cancellation or the card's last day passing while it waited refuses the request as the
 * check would have (and writes the refused use to the card's history). True if it may go
 * on, or its check allowed any status; false after replying. */
bool ykt_card_still_usable(ykt_req *req);
/* Takes the presented ATC for the card that ykt_card_authenticate checked with
 * YKT_CARDAUTH_ATC_LATER, in the same turn of the loop. YKT_OK; YKT_EPERM after replying
 * REPLAY when the card's row already had it (nothing written); or a storage error. */
int ykt_card_take_atc(ykt_req *req, const ykt_presented *p, ykt_card *card);
/* The same, for a cryptogram the card computed for another operation than the verb name
 * (PAY.OFFLINE uploads what the card signed as PAY). */
bool ykt_card_authenticate_op(ykt_req *req, const ykt_presented *p, const char *operation,
                              unsigned flags, ykt_card *card, ykt_person *person);

#endif
