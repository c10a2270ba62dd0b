#include "terminal.h"
#include "common.h"
#include "log.h"
#include "map.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ykt_terminals {
    ykt_map *by_id;
};

static const char *const type_names[] = {"pos",  "gate",    "dispenser", "meter",
                                         "bank", "booking", "kiosk",     "attendance"};
static const char *const status_names[] = {"enabled", "disabled", "revoked"};

unsigned ykt_terminal_type_parse(const char *s)
{
    for (size_t i = 0; i < YKT_ARRAY_LEN(type_names); i++)
        if (strcmp(s, type_names[i]) == 0)
            return 1u << i;
    return 0;
}

const char *ykt_terminal_type_name(unsigned type)
{
    for (size_t i = 0; i < YKT_ARRAY_LEN(type_names); i++)
        if (type == 1u << i)
            return type_names[i];
    return "?";
}

void ykt_terminal_types_format(unsigned mask, char *buf, size_t len)
{
    buf[0] = '\0';
    if ((mask & YKT_TT_ALL) == YKT_TT_ALL) {
        ykt_strlcpy(buf, "all", len);
        return;
    }
    size_t used = 0;
    for (size_t i = 0; i < YKT_ARRAY_LEN(type_names); i++) {
        if (!(mask & (1u << i)))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", type_names[i]);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

const char *ykt_terminal_status_name(int status)
{
    return status >= 0 && status < (int)YKT_ARRAY_LEN(status_names) ? status_names[status] : "?";
}

static int load_one(const ykt_terminal *row, void *arg)
{
    ykt_terminals *reg = arg;
    ykt_terminal *t = malloc(sizeof *t);
    if (t == NULL)
        return YKT_ENOMEM;
    *t = *row;
    t->seq_floor_known = false;
    ykt_map_put(reg->by_id, t->id, t);
    return YKT_OK;
}

int ykt_terminals_load(ykt_terminals **out, ykt_db *db)
{
    ykt_terminals *reg = calloc(1, sizeof *reg);
    if (reg == NULL)
        return YKT_ENOMEM;
    reg->by_id = ykt_map_new();
    int rc = ykt_store_terminal_each(db, load_one, reg);
    if (rc != YKT_OK) {
        ykt_terminals_free(reg);
        return rc;
    }
    *out = reg;
    return YKT_OK;
}

void ykt_terminals_free(ykt_terminals *reg)
{
    if (reg == NULL)
        return;
    size_t pos = 0;
    const char *key;
    void *val;
    while (ykt_map_next(reg->by_id, &pos, &key, &val)) {
        free(((ykt_terminal *)val)->waiting_seqs);
        free(val);
    }
    ykt_map_free(reg->by_id);
    free(reg);
}

bool ykt_terminal_seq_wait_begin(ykt_terminal *t, int64_t seq)
{
    if (t->nwaiting == t->capwaiting) {
        int cap = t->capwaiting ? t->capwaiting * 2 : 4;
        int64_t *seqs = realloc(t->waiting_seqs, (size_t)cap * sizeof *seqs);
        if (seqs == NULL)
            return false;
        t->waiting_seqs = seqs;
        t->capwaiting = cap;
    }
    t->waiting_seqs[t->nwaiting++] = seq;
    return true;
}

void ykt_terminal_seq_wait_end(ykt_terminal *t, int64_t seq)
{
    for (int i = 0; i < t->nwaiting; i++) {
        if (t->waiting_seqs[i] == seq) {
            t->waiting_seqs[i] = t->waiting_seqs[--t->nwaiting];
            return;
        }
    }
}

bool ykt_terminal_seq_waiting(const ykt_terminal *t, int64_t seq)
{
    for (int i = 0; i < t->nwaiting; i++)
        if (t->waiting_seqs[i] == seq)
            return true;
    return false;
}

ykt_terminal *ykt_terminal_find(ykt_terminals *reg, const char *id)
{
    return ykt_map_get(reg->by_id, id);
}

size_t ykt_terminals_count(ykt_terminals *reg)
{
    return ykt_map_count(reg->by_id);
}

ykt_terminal *ykt_terminals_next(ykt_terminals *reg, size_t *pos)
{
    const char *key;
    void *val;
    return ykt_map_next(reg->by_id, pos, &key, &val) ? val : NULL;
}

/* ---- changes that wait for the commit ---- */

typedef struct pending_add {
    ykt_terminals *reg;
    ykt_terminal t;
} pending_add;

static void add_committed(void *arg, bool committed)
{
    pending_add *p = arg;
    if (committed) {
        ykt_terminal *t = malloc(sizeof *t);
        if (t != NULL) {
            *t = p->t;
            free(ykt_map_put(p->reg->by_id, t->id, t));
        }
    }
    free(p);
}

int ykt_terminal_add(ykt_terminals *reg, ykt_db *db, const ykt_terminal *t)
{
    int rc = ykt_store_terminal_insert(db, t);
    if (rc != YKT_OK)
        return rc;
    pending_add *p = malloc(sizeof *p);
    if (p == NULL)
        return YKT_ENOMEM;
    p->reg = reg;
    p->t = *t;
    p->t.connections = 0;
    p->t.seq_floor_known = false;
    ykt_db_on_commit(db, add_committed, p);
    return YKT_OK;
}

typedef struct pending_change {
    ykt_terminals *reg;
    char id[YKT_TERMINAL_ID_MAX + 1];
    int status;              /* -1: unchanged */
    char hash[YKT_HASH_MAX]; /* "": unchanged */
    void (*on_changed)(void *arg, const char *id);
    void *arg;
} pending_change;

static void change_committed(void *arg, bool committed)
{
    pending_change *p = arg;
    ykt_terminal *t = ykt_terminal_find(p->reg, p->id);
    if (committed && t != NULL) {
        if (p->status >= 0)
            t->status = p->status;
        if (p->hash[0] != '\0')
            ykt_strlcpy(t->secret_hash, p->hash, sizeof t->secret_hash);
        if (p->on_changed != NULL)
            p->on_changed(p->arg, p->id);
    }
    ykt_wipe(p->hash, sizeof p->hash);
    free(p);
}

static int queue_change(ykt_terminals *reg, ykt_db *db, const char *id, int status,
                        const char *hash, void (*on_changed)(void *arg, const char *id), void *arg)
{
    pending_change *p = calloc(1, sizeof *p);
    if (p == NULL)
        return YKT_ENOMEM;
    p->reg = reg;
    ykt_strlcpy(p->id, id, sizeof p->id);
    p->status = status;
    if (hash != NULL)
        ykt_strlcpy(p->hash, hash, sizeof p->hash);
    p->on_changed = on_changed;
    p->arg = arg;
    ykt_db_on_commit(db, change_committed, p);
    return YKT_OK;
}

int ykt_terminal_set_status(ykt_terminals *reg, ykt_db *db, const char *id, int status,
                            void (*on_changed)(void *arg, const char *id), void *arg)
{
    int rc = ykt_store_terminal_set_status(db, id, ykt_terminal_status_name(status));
    if (rc != YKT_OK)
        return rc;
    return queue_change(reg, db, id, status, NULL, on_changed, arg);
}

int ykt_terminal_set_secret(ykt_terminals *reg, ykt_db *db, const char *id, const char *hash,
                            void (*on_changed)(void *arg, const char *id), void *arg)
{
    int rc = ykt_store_terminal_set_secret(db, id, hash);
    if (rc != YKT_OK)
        return rc;
    return queue_change(reg, db, id, -1, hash, on_changed, arg);
}

void ykt_terminal_touch(ykt_terminal *t, int64_t now_ms)
{
    t->last_seen = now_ms;
    t->last_seen_dirty = true;
}

int ykt_terminal_report_health(ykt_terminals *reg, ykt_db *db, ykt_terminal *t, const char *health,
                               const char *detail, int64_t now_ms)
{
    YKT_UNUSED(reg);
    int rc = ykt_store_terminal_set_health(db, t->id, health, detail, now_ms);
    if (rc != YKT_OK)
        return rc;
    /* The registry entry outlives the batch, and a failed commit only loses a health
     * report that the terminal repeats; so memory is updated at once. */
    ykt_strlcpy(t->health, health, sizeof t->health);
    ykt_strlcpy(t->health_detail, detail, sizeof t->health_detail);
    t->health_at = now_ms;
    return YKT_OK;
}

int ykt_terminals_flush_last_seen(ykt_terminals *reg, ykt_db *db)
{
    size_t pos = 0;
    ykt_terminal *t;
    int flushed = 0;
    while ((t = ykt_terminals_next(reg, &pos)) != NULL) {
        if (!t->last_seen_dirty)
            continue;
        int rc = ykt_store_terminal_set_last_seen(db, t->id, t->last_seen);
        if (rc != YKT_OK)
            return rc;
        t->last_seen_dirty = false;
        flushed++;
    }
    if (flushed > 0)
        ykt_debug("terminals: wrote last-seen times of %d terminals", flushed);
    return YKT_OK;
}
