/*
 * Talking to yktd's admin channel the way yktctl does, but many commands at a time:
 * provisioning a thousand cards one round trip at a time would spend most of its time
 * waiting, so commands are pipelined (yktd answers them in order on one connection).
 */
#ifndef YKT_BENCH_ADMINQ_H
#define YKT_BENCH_ADMINQ_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* Appends command i to out (with ykt_client_format). */
typedef void (*ykt_adminq_build_fn)(void *arg, size_t i, ykt_buf *out);
/* Checks the reply to command i; returns 0, or -1 with a reason in err. */
typedef int (*ykt_adminq_reply_fn)(void *arg, size_t i, const ykt_reply *r, char *err,
                                   size_t errlen);

/*
 * Sends commands 0..n-1 with at most `window` unanswered (yktd's [terminal] max_pipeline
 * is 128 by default; past it yktd stops reading, which is harmless but slower). Stops at
 * the first bad reply. Returns 0, or -1 with err naming the command index and the reason.
 */
int ykt_adminq_run(ykt_client *c, size_t n, int window, ykt_adminq_build_fn build,
                   ykt_adminq_reply_fn on_reply, void *arg, char *err, size_t errlen);

/* The value of column `name` in a RECORD reply ["RECORD", [cols], [values]], or NULL. */
const ykt_reply *ykt_adminq_field(const ykt_reply *r, const char *name);
/* Integer value of a RECORD column (an integer or a decimal bulk string); -1 if absent. */
int64_t ykt_adminq_field_int(const ykt_reply *r, const char *name);

/* Describes a reply for an error message: the error text, or its type. */
void ykt_adminq_describe(const ykt_reply *r, char *out, size_t len);

typedef struct ykt_adminq_status {
    char version[32];
    int64_t requests; /* requests served since start, both ports */
    int64_t commits;  /* group commits since start */
} ykt_adminq_status;

/* `status`: the counters that show how many requests shared each commit. 0 or -1. */
int ykt_adminq_status_get(ykt_client *c, ykt_adminq_status *st);

#endif
