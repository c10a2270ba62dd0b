#include "cardcache.h"
#include "common.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

typedef struct copy {
    uint64_t epoch;        /* the row epoch the card was read at; 0: none */
    uint64_t holder_epoch; /* the same for the holder; 0: none */
    ykt_card card;
    ykt_person holder;
} copy;

struct ykt_cardcache {
    copy **slots; /* allocated on first use */
    size_t mask;
};

ykt_cardcache *ykt_cardcache_new(size_t entries)
{
    if (entries == 0)
        return NULL;
    size_t n = 1;
    while (n < entries)
        n <<= 1;
    ykt_cardcache *c = calloc(1, sizeof *c);
    if (c == NULL || (c->slots = calloc(n, sizeof *c->slots)) == NULL) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    return c;
}

void ykt_cardcache_free(ykt_cardcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        free(c->slots[i]);
    free(c->slots);
    free(c);
}

static size_t uid_hash(const char *uid)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)uid; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The current copy for uid, or NULL. */
static copy *current(ykt_cardcache *c, ykt_db *db, const char *uid)
{
    copy *k = c->slots[uid_hash(uid) & c->mask];
    if (k == NULL || k->epoch == 0 || k->epoch != ykt_db_rows_epoch(db) ||
        strcmp(k->card.uid, uid) != 0)
        return NULL;
    return k;
}

int ykt_cardcache_card(ykt_cardcache *c, ykt_db *db, const char *uid, ykt_card *out)
{
    if (c == NULL)
        return ykt_store_card_by_uid(db, uid, out);
    copy *k = current(c, db, uid);
    if (k != NULL) {
        *out = k->card;
        return YKT_OK;
    }
    /* The epoch before the read: a change during it leaves the copy stale at once. */
    uint64_t epoch = ykt_db_rows_epoch(db);
    int rc = ykt_store_card_by_uid(db, uid, out);
    if (rc != YKT_OK || strcmp(out->uid, uid) != 0)
        return rc;
    copy **slot = &c->slots[uid_hash(uid) & c->mask];
    if (*slot == NULL && (*slot = malloc(sizeof **slot)) == NULL)
        return YKT_OK; /* kept nowhere; read again next time */
    (*slot)->epoch = epoch;
    (*slot)->holder_epoch = 0;
    (*slot)->card = *out;
    return YKT_OK;
}

int ykt_cardcache_holder(ykt_cardcache *c, ykt_db *db, const char *uid, int64_t person_id,
                         ykt_person *out)
{
    copy *k = c != NULL ? current(c, db, uid) : NULL;
    if (k == NULL || k->card.person_id != person_id)
        return ykt_store_person_by_id(db, person_id, out);
    if (k->holder_epoch == k->epoch) {
        *out = k->holder;
        return YKT_OK;
    }
    int rc = ykt_store_person_by_id(db, person_id, out);
    if (rc == YKT_OK) {
        k->holder = *out;
        k->holder_epoch = k->epoch;
    }
    return rc;
}

/* An on-commit hook of the copy's ATC write: undone, the copy is forgotten. */
static void atc_write_ended(void *arg, bool committed)
{
    if (!committed)
        ((copy *)arg)->epoch = 0;
}

int ykt_cardcache_set_atc(ykt_cardcache *c, ykt_db *db, const ykt_card *card, int64_t atc)
{
    copy *k = c != NULL ? current(c, db, card->uid) : NULL;
    if (k == NULL || strcmp(k->card.card_no, card->card_no) != 0)
        return ykt_store_card_set_atc(db, card, atc);
    ykt_db_rows_quiet(db, true);
    int rc = ykt_store_card_set_atc(db, card, atc);
    ykt_db_rows_quiet(db, false);
    if (rc != YKT_OK) {
        k->epoch = 0; /* the copy said the write would change the row */
        return rc;
    }
    /* As the statement wrote it: a new ATC ends any request's claim to the old one. */
    k->card.atc = atc;
    k->card.atc_terminal[0] = '\0';
    k->card.atc_seq = 0;
    memset(k->card.atc_digest, 0, sizeof k->card.atc_digest);
    ykt_db_on_commit(db, atc_write_ended, k);
    return YKT_OK;
}

/* Forgets uid's copy; then the row may change without moving the epoch. Nothing reads it
 * again before the change is done (or undone, which no copy then remembers). */
static void forget(ykt_cardcache *c, const char *uid)
{
    copy *k = c->slots[uid_hash(uid) & c->mask];
    if (k != NULL && strcmp(k->card.uid, uid) == 0)
        k->epoch = 0;
}

int ykt_cardcache_mark_atc(ykt_cardcache *c, ykt_db *db, const char *uid, const char *card_no,
                           const char *terminal, int64_t seq, const uint8_t digest[16])
{
    if (c == NULL || uid[0] == '\0')
        return ykt_store_card_mark_atc(db, card_no, terminal, seq, digest);
    forget(c, uid);
    ykt_db_rows_quiet(db, true);
    int rc = ykt_store_card_mark_atc(db, card_no, terminal, seq, digest);
    ykt_db_rows_quiet(db, false);
    return rc;
}

/* Defence in depth: a copy still naming a completed request would let that request's
 * bytes pass the ATC check again, but only once its outcome is pruned, when they are
 * refused by their time anyway (config.c: request_retention >= 2 x max_clock_skew). */
int ykt_cardcache_unmark_atc(ykt_cardcache *c, ykt_db *db, const char *uid, const char *card_no,
                             const char *terminal, int64_t seq)
{
    if (c == NULL || uid[0] == '\0')
        return ykt_store_card_unmark_atc(db, card_no, terminal, seq);
    forget(c, uid);
    ykt_db_rows_quiet(db, true);
    int rc = ykt_store_card_unmark_atc(db, card_no, terminal, seq);
    ykt_db_rows_quiet(db, false);
    return rc;
}
