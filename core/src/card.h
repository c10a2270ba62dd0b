/*
 * Card credentials and their lifecycle (R-C1..R-C9, R-C11): physical cards and phone cards
 * bound to a person's account. A credential is active, lost (reported by the holder or at
 * the counter), frozen (held by the card centre: found, or pending confiscation) or
 * cancelled (for good). Expiry is not a status: a card is expired when its valid_until is
 * before the campus date. Every status change bumps the blacklist version that offline
 * terminals fetch incrementally.
 */
#ifndef YKT_CARD_H
#define YKT_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "date.h"
#include "db.h"
#include "person.h"

#define YKT_CARD_NO_LEN 11 /* 10 digits + NUL */
#define YKT_UID_HEX_MAX 21 /* 10 bytes in hex + NUL */

typedef struct ykt_card {
    char card_no[YKT_CARD_NO_LEN];
    char uid[YKT_UID_HEX_MAX]; /* upper-case hex */
    int64_t person_id;
    char medium[8]; /* card, phone */
    char type[12];  /* regular, temporary */
    char status[12];
    char valid_until[YKT_DATE_LEN];
    char subsystems[128];   /* temporary cards: comma list of allowed subsystems; "" = all */
    char merchants[256];    /* temporary cards: comma list of allowed merchants; "" = all */
    int64_t atc;            /* last accepted application transaction counter */
    char atc_terminal[64];  /* the request that advanced it, waited and has not completed: */
    int64_t atc_seq;        /* its terminal and seq ("", 0: none), */
    uint8_t atc_digest[16]; /* and the digest of its bytes */
    int64_t rowid;          /* where the row is: the ATC write goes straight there */
    int64_t list_version;
    int64_t issued_at;
    char issued_by[64];
    int64_t fee;
    char replaces[YKT_CARD_NO_LEN];
    char replaced_by[YKT_CARD_NO_LEN];
    char status_reason[128];
    int64_t status_at;
} ykt_card;

/* A card number: '8', eight digits of sequence, and a Luhn check digit. */
void ykt_card_number(int64_t seq, char out[YKT_CARD_NO_LEN]);
bool ykt_card_number_valid(const char *s);
/* True when s is the hex of 4 to 10 bytes; writes the upper-case form. */
bool ykt_uid_normalize(const char *s, char out[YKT_UID_HEX_MAX]);
/* True when the card is usable today (status active and not past valid_until). */
bool ykt_card_usable(const ykt_card *c, const char *today);
/* True when a temporary card's list allows `item` (an empty list allows everything). */
bool ykt_card_allows(const char *list, const char *item);

/*
 * Changes a card's status in the current request: bumps the blacklist version, records the
 * reason, and writes a card event (actor, whether the holder's ID was checked, detail).
 */
int ykt_card_set_status(ykt_db *db, ykt_card *c, const char *status, const char *reason,
                        const char *actor, bool id_checked, const char *detail);
/* Cancels every live credential of a person (the registry ended their studies, a death
 * report): the balance stays in the wallet, claimable within [cards] refund_window. */
int ykt_card_end_all(ykt_db *db, int64_t person_id, const char *reason, const char *actor,
                     int *count);
/*
 * A person's validity changed (registry, HR, an approval): their regular cards take the new
 * date; a temporary card keeps its own end date but never outlives the person, so it is cut
 * back when the validity now ends before it (R-C2, R-C3). Offline terminals are told.
 */
int ykt_card_set_validity(ykt_db *db, int64_t person_id, const char *valid_until,
                          const char *actor);
/* The same; note (NULL with note_len 0 for none) receives what became of the live temporary
 * card ("temporary card N until A -> B"), or "" when it was not cut back. A card cut back
 * has a `shortened` event in its history, by actor. */
int ykt_card_follow_validity(ykt_db *db, int64_t person_id, const char *valid_until,
                             const char *actor, char *note, size_t note_len);
/* Gives one card its own new end date (a temporary card extended on proof) and publishes it
 * to offline terminals. */
int ykt_card_set_end(ykt_db *db, ykt_card *c, const char *valid_until);
int ykt_card_event(ykt_db *db, const char *card_no, const char *event, const char *actor,
                   bool id_checked, const char *detail);

#endif
