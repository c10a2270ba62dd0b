#include "timers.h"
#include "common.h"

#include <stdlib.h>

typedef struct ykt_timer {
    uv_timer_t handle;
    ykt_gw *gw;
    ykt_timer_fn fn;
    void *arg;
    const void *owner;
    void (*free_arg)(void *);
    struct ykt_timer *next;
} ykt_timer;

static ykt_timer *timers; /* one gateway per process */

static void on_timer(uv_timer_t *h)
{
    ykt_timer *t = h->data;
    if (!t->gw->stopping)
        t->fn(t->gw, t->arg);
}

int ykt_timer_every(ykt_gw *gw, uint64_t first_ms, uint64_t interval_ms, ykt_timer_fn fn, void *arg,
                    const void *owner)
{
    return ykt_timer_every_owned(gw, first_ms, interval_ms, fn, arg, owner, NULL);
}

int ykt_timer_every_owned(ykt_gw *gw, uint64_t first_ms, uint64_t interval_ms, ykt_timer_fn fn,
                          void *arg, const void *owner, void (*free_arg)(void *))
{
    ykt_timer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return YKT_ENOMEM;
    t->gw = gw;
    t->fn = fn;
    t->arg = arg;
    t->owner = owner;
    t->free_arg = free_arg;
    uv_timer_init(gw->loop, &t->handle);
    t->handle.data = t;
    uv_timer_start(&t->handle, on_timer, first_ms, interval_ms);
    t->next = timers;
    timers = t;
    return YKT_OK;
}

static void on_closed(uv_handle_t *h)
{
    ykt_timer *t = h->data;
    if (t->free_arg != NULL)
        t->free_arg(t->arg);
    free(t);
}

void ykt_timers_remove(ykt_gw *gw, const void *owner, int all)
{
    (void)gw;
    ykt_timer **p = &timers;
    while (*p != NULL) {
        ykt_timer *t = *p;
        if (all || t->owner == owner) {
            *p = t->next;
            uv_close((uv_handle_t *)&t->handle, on_closed);
        } else {
            p = &t->next;
        }
    }
}
