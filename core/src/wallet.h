/*
 * The wallet (R-W1..R-W11): card payments with limits and fee rules, holds, refunds,
 * top-ups, low-balance reminders. Every movement of money goes through the ledger
 * (ledger.h); this module decides what moves and keeps the business records (payments,
 * holds, refunds) that name the transfers.
 *
 * Amounts: `amount` is what the merchant asked; the fee rule turns it into a discount
 * (the merchant's, agreed) and a management fee (by card type, R-W4); the holder is charged
 * amount - discount + fee; the merchant receives amount - discount and fee income the fee.
 */
#ifndef YKT_WALLET_H
#define YKT_WALLET_H

#include <stdbool.h>
#include <stdint.h>

#include "card.h"
#include "gateway.h"
#include "person.h"

typedef struct ykt_merchant {
    char id[32];
    char name[64];
    char category[16];  /* canteen, shop, bath, laundry, printing, water, power, ... */
    char status[12];    /* active, suspended */
    int fee_regular_bp; /* management fee in basis points of the amount, by card type */
    int fee_temporary_bp;
    int discount_bp;   /* agreed discount */
    int commission_bp; /* the school's commission, taken at settlement */
    int64_t account;
    int64_t created_at;
} ykt_merchant;

/* A refusal: a stable code and a message for the reply. */
typedef struct ykt_refusal {
    const char *code;
    char why[160];
} ykt_refusal;

/* The fee rule's answer for one amount. */
typedef struct ykt_fee {
    int64_t discount;
    int64_t fee;
} ykt_fee;

/*
 * The built-in fee rule: discount = floor(amount * discount_bp / 10000), fee =
 * floor((amount - discount) * fee_bp(card type) / 10000). scripts/fees.lua computes the same
 * from the same rates and replaces it (ykt_wallet_fee); this stays for [rules] fee_script =
 * "" and as the benchmark's reference.
 */
void ykt_fee_builtin(const ykt_merchant *m, const char *card_type, int64_t amount, ykt_fee *out);

/*
 * The fee rule PAY and every charging plugin use: function fee of the rule script named by
 * [rules] fee_script (scripts/fees.lua by default, docs/rules.md#fees), given the amount,
 * the card type, the holder's kind, the merchant, its category, its agreed rates and the
 * campus hour of `at_ms`; with fee_script empty, the built-in formula. A rule that fails or
 * answers outside 0 <= discount <= amount, 0 <= fee <= amount - discount is refused:
 * YKT_EPERM with RULE_ERROR in *no.
 */
int ykt_wallet_fee(ykt_gw *gw, const ykt_merchant *m, const ykt_card *card, const char *kind,
                   int64_t amount, int64_t at_ms, ykt_fee *out, ykt_refusal *no);

typedef struct ykt_pay {
    const ykt_card *card;
    const ykt_person *person;
    const ykt_merchant *merchant;
    const char *terminal;
    int64_t seq;
    int64_t card_time;
    int64_t amount;
    bool offline;     /* uploaded later: may leave recorded debt (R-W11) */
    const char *flag; /* offline exceptions recorded with the payment */
    /* Called once every check has passed, before the first write (NULL: none): a PAY
     * takes the card's ATC there, so that a refusal writes nothing. */
    int (*before_writes)(void *arg);
    void *arg;
} ykt_pay;

typedef struct ykt_pay_result {
    int64_t payment_id;
    ykt_fee fee;
    int64_t charged;
    int64_t balance;
    bool debt; /* offline only: the wallet went below zero */
} ykt_pay_result;

/* Temporary cards may be limited to some merchants and subsystems (R-C2). */
bool ykt_wallet_card_may_pay(const ykt_card *card, const ykt_merchant *m, ykt_refusal *no);
/* Whether this amount needs the payment password ([cards] pin_threshold, inclusive). */
bool ykt_wallet_needs_pin(ykt_gw *gw, int64_t amount);

/*
 * Charges a card: fee rule, per-payment and daily limits (R-W2), balance (R-W1), transfers,
 * the payment record, daily spending, low-balance reminder (R-W7) and auto top-up request
 * (R-W6). YKT_OK, or YKT_EPERM with *no filled (LIMIT_EXCEEDED, INSUFFICIENT_FUNDS), or a
 * storage error. Nothing is written on a refusal.
 */
int ykt_wallet_pay(ykt_gw *gw, const ykt_pay *p, ykt_pay_result *out, ykt_refusal *no);

/* Pre-authorisation: moves amount from the wallet to escrow until captured or voided. */
int ykt_wallet_hold(ykt_gw *gw, const ykt_pay *p, int64_t timeout_ms, int64_t *hold_id,
                    int64_t *balance, int64_t *expires_at, ykt_refusal *no);
/* Captures at most the held amount (the rest goes back) — once. */
int ykt_wallet_capture(ykt_gw *gw, int64_t hold_id, const char *terminal, int64_t seq,
                       int64_t amount, ykt_pay_result *out, ykt_refusal *no);
/* Releases a hold — once. status is "voided" or "expired". */
int ykt_wallet_void(ykt_gw *gw, int64_t hold_id, const char *terminal, const char *status,
                    int64_t *balance, ykt_refusal *no);
/* Voids every pending hold whose time is up; returns how many. */
int ykt_wallet_expire_holds(ykt_gw *gw, int *count);

/* Money in: cash at a counter or kiosk, bank transfer-in. Checks [wallet] max_topup. */
/* Takes back at most amount from a person's wallet to to_account (a bank's reversal of a
 * transfer-in): as much as the wallet holds, never below zero. *moved is what moved (0 is
 * no error), *balance what the wallet holds after. */
int ykt_wallet_take_back(ykt_gw *gw, int64_t person_id, int64_t to_account, int64_t amount,
                         const char *kind, const char *card_no, const char *terminal,
                         const char *memo, int64_t *moved, int64_t *balance);

int ykt_wallet_topup(ykt_gw *gw, int64_t person_id, int64_t from_account, int64_t amount,
                     const char *kind, const char *card_no, const char *terminal,
                     const char *operator_name, const char *memo, int64_t *balance,
                     ykt_refusal *no);

/* An over-deduction refund naming its payment (R-W5): at most what is left unrefunded. */
int ykt_wallet_refund(ykt_gw *gw, int64_t payment_id, int64_t amount, const char *reason,
                      const char *operator_name, int64_t *refund_id, int64_t *balance,
                      ykt_refusal *no);

/* The wallet balance of a person. */
int ykt_wallet_balance(ykt_gw *gw, int64_t person_id, int64_t *balance);

#endif
