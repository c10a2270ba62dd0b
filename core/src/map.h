/*
 * A string-keyed hash map (open addressing, linear probing, tombstones).
 * Keys are copied; values are borrowed pointers the caller owns.
 */
#ifndef YKT_MAP_H
#define YKT_MAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ykt_map ykt_map;

ykt_map *ykt_map_new(void);
void ykt_map_free(ykt_map *m);
void *ykt_map_get(const ykt_map *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *ykt_map_put(ykt_map *m, const char *key, void *val);
/* Removes the key; returns its value or NULL. */
void *ykt_map_del(ykt_map *m, const char *key);
size_t ykt_map_count(const ykt_map *m);
/* Iterates: start with *pos = 0; returns false at the end. Do not modify the map meanwhile. */
bool ykt_map_next(const ykt_map *m, size_t *pos, const char **key, void **val);

#endif
