/*
 * ykt-bench swipe: CARD.INFO at the rate POS terminals can send it.
 *
 * CARD.INFO is the lightest card verb, yet a write: the gateway checks the cryptogram,
 * stores the card's new ATC and the request's outcome under (terminal, seq), and replies
 * only after the group commit. So this measures the card path and group commit without
 * money movements. The load (driver threads, pacing, latency, report) is swipeload.c's.
 */
#include "swipeload.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TOPUP     "100.00"
#define TOPUP_FEN 10000

/* The expected reply: [card_no, "active", type, masked name, valid_until, balance]. */
static bool card_info_ok(const ykt_reply *r, const ykt_fleet_card *card, char *why, size_t len)
{
    bool ok = r->type == YKT_REPLY_ARRAY && r->nelem == 6;
    for (size_t i = 0; ok && i < 5; i++)
        ok = r->elem[i]->type == YKT_REPLY_BULK;
    ok = ok && strcmp(r->elem[0]->str, card->card_no) == 0 &&
         strcmp(r->elem[1]->str, "active") == 0 && r->elem[5]->type == YKT_REPLY_INT &&
         r->elem[5]->integer == TOPUP_FEN;
    if (!ok)
        snprintf(why, len, "not [card_no, active, ..., %d]", TOPUP_FEN);
    return ok;
}

int ykt_bench_swipe(ykt_bench_ctx *ctx, int argc, char **argv)
{
    static const ykt_swipe_profile profile = {.name = "swipe",
                                              .verb = "CARD.INFO",
                                              .terminal_type = "pos",
                                              .topup = TOPUP,
                                              .reply_ok = card_info_ok};
    return ykt_swipeload_run(ctx, argc, argv, &profile);
}
