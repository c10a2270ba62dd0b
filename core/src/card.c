#include "card.h"
#include "events.h"
#include "common.h"
#include "store/store.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int luhn_digit(const char *digits)
{
    /* The check digit makes the Luhn sum of digits + check a multiple of 10. */
    int sum = 0;
    size_t n = strlen(digits);
    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10;
}

void ykt_card_number(int64_t seq, char out[YKT_CARD_NO_LEN])
{
    char body[16];
    snprintf(body, sizeof body, "8%08lld", (long long)(seq % 100000000));
    snprintf(out, YKT_CARD_NO_LEN, "%.9s%d", body, luhn_digit(body));
}

bool ykt_card_number_valid(const char *s)
{
    if (strlen(s) != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    char body[10];
    memcpy(body, s, 9);
    body[9] = '\0';
    return luhn_digit(body) == s[9] - '0';
}

bool ykt_uid_normalize(const char *s, char out[YKT_UID_HEX_MAX])
{
    size_t n = strlen(s);
    if (n < 8 || n > 20 || n % 2 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        out[i] = (char)toupper((unsigned char)s[i]);
    }
    out[n] = '\0';
    return true;
}

bool ykt_card_usable(const ykt_card *c, const char *today)
{
    return strcmp(c->status, "active") == 0 && strcmp(c->valid_until, today) >= 0;
}

bool ykt_card_allows(const char *list, const char *item)
{
    if (list[0] == '\0')
        return true;
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, item, n) == 0)
            return true;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}

int ykt_card_event(ykt_db *db, const char *card_no, const char *event, const char *actor,
                   bool id_checked, const char *detail)
{
    return ykt_store_card_event(db, card_no, event, actor, id_checked ? 1 : 0, detail ? detail : "",
                                ykt_now_ms());
}

int ykt_card_set_status(ykt_db *db, ykt_card *c, const char *status, const char *reason,
                        const char *actor, bool id_checked, const char *detail)
{
    int64_t version;
    int64_t now = ykt_now_ms();
    int rc = ykt_store_meta_next(db, "blacklist_version", &version);
    if (rc == YKT_OK)
        rc = ykt_store_card_set_status(db, c->card_no, status, reason ? reason : "", version, now);
    if (rc == YKT_OK) {
        char event[32];
        snprintf(event, sizeof event, "status:%s", status);
        rc = ykt_card_event(db, c->card_no, event, actor, id_checked, detail);
    }
    if (rc == YKT_OK) {
        ykt_events_card_status_later(db, c->card_no, c->person_id, c->status, status);
        ykt_strlcpy(c->status, status, sizeof c->status);
        ykt_strlcpy(c->status_reason, reason ? reason : "", sizeof c->status_reason);
        c->list_version = version;
        c->status_at = now;
    }
    return rc;
}

typedef struct card_list {
    ykt_card items[16];
    int n;
} card_list;

static int collect_live(const ykt_card *c, void *arg)
{
    card_list *l = arg;
    if (strcmp(c->status, "cancelled") != 0 && l->n < (int)YKT_ARRAY_LEN(l->items))
        l->items[l->n++] = *c;
    return YKT_OK;
}

int ykt_card_end_all(ykt_db *db, int64_t person_id, const char *reason, const char *actor,
                     int *count)
{
    card_list l = {.n = 0};
    int rc = ykt_store_card_each(db, person_id, "", 100, collect_live, &l);
    for (int i = 0; rc == YKT_OK && i < l.n; i++)
        rc = ykt_card_set_status(db, &l.items[i], "cancelled", reason, actor, false, reason);
    if (count != NULL)
        *count = rc == YKT_OK ? l.n : 0;
    return rc;
}

int ykt_card_follow_validity(ykt_db *db, int64_t person_id, const char *valid_until,
                             const char *actor, char *note, size_t note_len)
{
    if (note_len > 0)
        note[0] = '\0';
    /* The live temporary card as it was, to say in the audit what became of its end date. */
    ykt_card tmp;
    int rc = ykt_store_card_live(db, person_id, "card", &tmp);
    bool cut = rc == YKT_OK && strcmp(tmp.type, "temporary") == 0 &&
               strcmp(tmp.valid_until, valid_until) > 0;
    if (rc != YKT_OK && rc != YKT_ENOTFOUND)
        return rc;
    int64_t version;
    rc = ykt_store_meta_next(db, "blacklist_version", &version);
    if (rc == YKT_OK)
        rc = ykt_store_card_set_validity(db, person_id, valid_until, version);
    if (rc == YKT_OK && cut) {
        char detail[96];
        snprintf(detail, sizeof detail, "until %s -> %s: the holder's validity ends then",
                 tmp.valid_until, valid_until);
        rc = ykt_card_event(db, tmp.card_no, "shortened", actor, false, detail);
    }
    if (rc == YKT_OK && cut && note_len > 0)
        snprintf(note, note_len, "temporary card %s until %s -> %s", tmp.card_no, tmp.valid_until,
                 valid_until);
    return rc;
}

int ykt_card_set_validity(ykt_db *db, int64_t person_id, const char *valid_until, const char *actor)
{
    return ykt_card_follow_validity(db, person_id, valid_until, actor, NULL, 0);
}

int ykt_card_set_end(ykt_db *db, ykt_card *c, const char *valid_until)
{
    int64_t version;
    int rc = ykt_store_meta_next(db, "blacklist_version", &version);
    if (rc == YKT_OK)
        rc = ykt_store_card_set_end(db, c->card_no, valid_until, version);
    if (rc == YKT_OK) {
        ykt_strlcpy(c->valid_until, valid_until, sizeof c->valid_until);
        c->list_version = version;
    }
    return rc;
}
