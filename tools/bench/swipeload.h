#ifndef YKT_BENCH_SWIPELOAD_H
#define YKT_BENCH_SWIPELOAD_H

#include "bench.h"
#include "client.h"
#include "fleet.h"
#include "gateway.h"
#include "report.h"

#include <stdbool.h>
#include <stddef.h>

/* What one swipe benchmark sends and expects; the load itself is the same for all. */
typedef struct ykt_swipe_profile {
    const char *name;          /* the subcommand, in messages and the report */
    const char *verb;          /* the card verb every swipe sends */
    const char *terminal_type; /* of the terminals provisioned, one per connection */
    const char *topup;         /* cash top-up per card ("100.00"), or NULL for none */
    /* Configuration sections for the private yktd (out, NUL-terminated), or NULL for none;
     * returns 0, or -1 after saying why on stderr. */
    int (*gateway_ini)(const ykt_bench_ctx *ctx, char *out, size_t len);
    const char *gateway_note; /* for the report's yktd.config, with gateway_ini */
    /* After the cards and terminals are provisioned (doors, groups ...), or NULL. */
    int (*setup)(const ykt_benchgw *gw, const ykt_fleet *fleet);
    /* Whether a non-error reply is the one expected; if not, why (short). */
    bool (*reply_ok)(const ykt_reply *r, const ykt_fleet_card *card, char *why, size_t len);
    /* More `params` of the report, or NULL. */
    void (*report_params)(ykt_report *rep, int connections);
} ykt_swipe_profile;

/* Parses --connections --cards --seconds --rate --threads, runs the load and prints the
 * report; returns the exit status (0, YKT_BENCH_EXIT_FAIL or YKT_BENCH_EXIT_USAGE). */
int ykt_swipeload_run(ykt_bench_ctx *ctx, int argc, char **argv, const ykt_swipe_profile *p);

#endif
