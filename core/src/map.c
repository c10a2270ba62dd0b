#include "map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOMBSTONE ((char *)(uintptr_t)1)

struct ykt_map {
    char **keys; /* NULL = empty, TOMBSTONE = deleted */
    void **vals;
    size_t cap;  /* power of two */
    size_t used; /* live + tombstones */
    size_t live;
};

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (p == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* FNV-1a: short keys (ids, verbs) dominate and it is good enough for them. */
static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

ykt_map *ykt_map_new(void)
{
    ykt_map *m = xcalloc(1, sizeof *m);
    m->cap = 16;
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
    return m;
}

void ykt_map_free(ykt_map *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i] != NULL && m->keys[i] != TOMBSTONE)
            free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    free(m);
}

static size_t find_slot(const ykt_map *m, const char *key, bool *found)
{
    size_t mask = m->cap - 1;
    size_t i = hash(key) & mask;
    size_t first_free = SIZE_MAX;
    for (;;) {
        char *k = m->keys[i];
        if (k == NULL) {
            *found = false;
            return first_free != SIZE_MAX ? first_free : i;
        }
        if (k == TOMBSTONE) {
            if (first_free == SIZE_MAX)
                first_free = i;
        } else if (strcmp(k, key) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static void grow(ykt_map *m)
{
    char **ok = m->keys;
    void **ov = m->vals;
    size_t ocap = m->cap;
    m->cap = m->live * 4 > ocap ? ocap * 2 : ocap; /* rehash in place if mostly tombstones */
    m->keys = xcalloc(m->cap, sizeof *m->keys);
    m->vals = xcalloc(m->cap, sizeof *m->vals);
    m->used = 0;
    m->live = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (ok[i] == NULL || ok[i] == TOMBSTONE)
            continue;
        bool found;
        size_t s = find_slot(m, ok[i], &found);
        m->keys[s] = ok[i];
        m->vals[s] = ov[i];
        m->used++;
        m->live++;
    }
    free(ok);
    free(ov);
}

void *ykt_map_get(const ykt_map *m, const char *key)
{
    bool found;
    size_t i = find_slot(m, key, &found);
    return found ? m->vals[i] : NULL;
}

void *ykt_map_put(ykt_map *m, const char *key, void *val)
{
    if ((m->used + 1) * 4 > m->cap * 3)
        grow(m);
    bool found;
    size_t i = find_slot(m, key, &found);
    if (found) {
        void *old = m->vals[i];
        m->vals[i] = val;
        return old;
    }
    if (m->keys[i] == NULL)
        m->used++;
    m->keys[i] = strdup(key);
    if (m->keys[i] == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    m->vals[i] = val;
    m->live++;
    return NULL;
}

void *ykt_map_del(ykt_map *m, const char *key)
{
    bool found;
    size_t i = find_slot(m, key, &found);
    if (!found)
        return NULL;
    void *old = m->vals[i];
    free(m->keys[i]);
    m->keys[i] = TOMBSTONE;
    m->vals[i] = NULL;
    m->live--;
    return old;
}

size_t ykt_map_count(const ykt_map *m)
{
    return m->live;
}

bool ykt_map_next(const ykt_map *m, size_t *pos, const char **key, void **val)
{
    for (size_t i = *pos; i < m->cap; i++) {
        if (m->keys[i] != NULL && m->keys[i] != TOMBSTONE) {
            *key = m->keys[i];
            *val = m->vals[i];
            *pos = i + 1;
            return true;
        }
    }
    *pos = m->cap;
    return false;
}
