/*
 * Provisioning through the admin channel, with the commands yktctl sends: optionally a
 * merchant owning the terminals, terminals with known secrets, students from the roster,
 * a card with a known UID for each, and a top-up. What comes back is everything a load
 * generator needs to act as those terminals and cards: ids and secrets, and software
 * cards keyed from the master key.
 */
#ifndef YKT_BENCH_FLEET_H
#define YKT_BENCH_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway.h"
#include "simcard.h"

typedef struct ykt_fleet_terminal {
    char id[40];
    char secret[64];
} ykt_fleet_terminal;

typedef struct ykt_fleet_card {
    struct ykt_simcard sim; /* UID, key and ATC */
    char card_no[32];       /* as the gateway numbered it; CARD.INFO replies must match */
    char person_no[16];
} ykt_fleet_card;

typedef struct ykt_fleet_spec {
    int terminals;
    const char *terminal_type; /* "pos", "gate", ... */
    /* A merchant added first (merchant add ID --name N --category C [--discount PCT]
     * [--fee-regular PCT]) and made the owner of every terminal; NULL for terminals without
     * an owner. The rates are percentages as yktctl takes them ("2.5"); NULL: 0. */
    const char *merchant;
    const char *merchant_name;
    const char *merchant_category;
    const char *merchant_discount;
    const char *merchant_fee_regular;
    int cards;
    const char *topup; /* CNY per card, e.g. "100.00" (at most [wallet] max_topup); NULL for none */
    uint64_t seed;     /* roster seed */
    /* Terminals added without --secret: the gateway generates each secret (hashed with one
     * iteration, so AUTH is cheap) and the reply's secret is kept. Otherwise a known secret
     * is given, which yktd hashes slowly, as any secret an operator chose. */
    bool generated_secrets;
} ykt_fleet_spec;

typedef struct ykt_fleet {
    ykt_fleet_terminal *terminals;
    int nterminals;
    ykt_fleet_card *cards;
    int ncards;
} ykt_fleet;

/* Provisions spec on gw. Returns 0, or -1 with the reason on stderr. */
int ykt_fleet_provision(ykt_fleet *f, const ykt_benchgw *gw, const ykt_fleet_spec *spec);
/* Wipes the card keys and frees everything. */
void ykt_fleet_free(ykt_fleet *f);

#endif
