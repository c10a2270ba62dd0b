/*
 * Cards and their holders as the card check last read them, by uid. Every PAY and every
 * door swipe reads both, and a campus's cards come back many times a day: from memory that
 * is two statements fewer per request (docs/performance.md, "Cards kept in memory").
 *
 * A copy is used only while the database's row epoch (db.h, ykt_db_rows_epoch) has not
 * moved since it was taken: any other change to a cards or people row, any rollback after
 * one, and any commit by another connection move it. The card check's own write, the ATC,
 * updates the copy instead, and an on-commit hook forgets the copy if that write is rolled
 * back. Direct-mapped: a uid whose slot is taken replaces the copy there. Loop thread only,
 * like the database.
 */
#ifndef YKT_CARDCACHE_H
#define YKT_CARDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "card.h"
#include "db.h"
#include "person.h"

typedef struct ykt_cardcache ykt_cardcache;

/* A cache of up to `entries` cards (rounded up to a power of two), allocated as they come.
 * NULL when entries is 0 (nothing kept) or on no memory; a NULL cache reads the database
 * every time in the functions below. */
ykt_cardcache *ykt_cardcache_new(size_t entries);
/* After ykt_db_close: the batch's hooks may still name copies until then. */
void ykt_cardcache_free(ykt_cardcache *c);

/* As ykt_store_card_by_uid (uid upper-case hex), from the copy when it is current. */
int ykt_cardcache_card(ykt_cardcache *c, ykt_db *db, const char *uid, ykt_card *out);
/* As ykt_store_person_by_id for the holder of the card with this uid. */
int ykt_cardcache_holder(ykt_cardcache *c, ykt_db *db, const char *uid, int64_t person_id,
                         ykt_person *out);
/* As ykt_store_card_set_atc (card as ykt_cardcache_card read it), and the copy follows. */
int ykt_cardcache_set_atc(ykt_cardcache *c, ykt_db *db, const ykt_card *card, int64_t atc);

/* As ykt_store_card_mark_atc and ykt_store_card_unmark_atc: the card's copy is forgotten,
 * and the others stay (a change of the card's row through anything else forgets them all). */
int ykt_cardcache_mark_atc(ykt_cardcache *c, ykt_db *db, const char *uid, const char *card_no,
                           const char *terminal, int64_t seq, const uint8_t digest[16]);
int ykt_cardcache_unmark_atc(ykt_cardcache *c, ykt_db *db, const char *uid, const char *card_no,
                             const char *terminal, int64_t seq);

#endif
