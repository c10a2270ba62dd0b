/*
 * Periodic work for core modules and plugins: "call fn every N milliseconds on the loop".
 * The server owns the handles and closes them all at shutdown; a callback that changes the
 * database opens its own request savepoint (ykt_db_cmd_begin/_end) and the change commits
 * with the iteration's batch.
 */
#ifndef YKT_TIMERS_H
#define YKT_TIMERS_H

#include <stdint.h>

#include "gateway.h"

typedef void (*ykt_timer_fn)(ykt_gw *gw, void *arg);

/* Calls fn(gw, arg) every interval_ms, the first time after first_ms. owner (NULL for the
 * core) lets a plugin's timers be removed together. Returns YKT_OK or YKT_ENOMEM. */
int ykt_timer_every(ykt_gw *gw, uint64_t first_ms, uint64_t interval_ms, ykt_timer_fn fn, void *arg,
                    const void *owner);
/* The same, and free_arg(arg) once the timer is removed (a plugin's timer record). */
int ykt_timer_every_owned(ykt_gw *gw, uint64_t first_ms, uint64_t interval_ms, ykt_timer_fn fn,
                          void *arg, const void *owner, void (*free_arg)(void *));
/* Stops and frees every timer of owner (or all, for NULL at shutdown with all = 1). */
void ykt_timers_remove(ykt_gw *gw, const void *owner, int all);

#endif
