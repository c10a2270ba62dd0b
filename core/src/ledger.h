/*
 * The double-entry ledger (R-W9): accounts and immutable transfers. Every movement of money
 * is one transfer from one account to another; an account's cached balance always equals
 * the transfers into it minus those out of it, so all balances sum to zero. Money only ever
 * moves through ykt_ledger_transfer. Amounts are integer fen.
 *
 * Accounts: each holder's wallet (owner: person id), fee income, the dormant-funds account
 * (呆账), bank clearing, the cash drawer of each counter (owner: counter name), deposits held,
 * and (with the wallet part) merchants. Source accounts such as cash and bank clearing go
 * negative as money enters the system through them.
 */
#ifndef YKT_LEDGER_H
#define YKT_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"

#define YKT_ACC_WALLET        "wallet"
#define YKT_ACC_MERCHANT      "merchant"
#define YKT_ACC_FEE_INCOME    "fee_income"
#define YKT_ACC_DORMANT       "dormant"
#define YKT_ACC_BANK_CLEARING "bank_clearing"
#define YKT_ACC_CASH          "cash"
#define YKT_ACC_DEPOSIT       "deposit"
#define YKT_ACC_ESCROW        "escrow" /* held money (pre-authorisations) */

/* The largest amount one transfer may carry: 10,000,000.00 CNY, far above any limit, and
 * small enough that sums of many never overflow. */
#define YKT_AMOUNT_MAX 1000000000LL

typedef struct ykt_transfer {
    int64_t from;
    int64_t to;
    int64_t amount;
    const char *kind;     /* "topup_cash", "replace_fee", "refund_cash", "dormant", ... */
    const char *card_no;  /* may be NULL */
    const char *terminal; /* may be NULL */
    const char *operator_name;
    int64_t original; /* the transfer this one corrects, or 0 */
    const char *memo;
    bool allow_negative; /* let a wallet go below zero (recorded offline debt only) */
    /* When set, `to` must be the account (to_kind, to_owner), else YKT_ENOTFOUND and nothing
     * is written: how an account id remembered in memory is checked. */
    const char *to_kind;
    const char *to_owner;
} ykt_transfer;

/* Finds or creates the account (kind, owner). */
int ykt_ledger_account(ykt_db *db, const char *kind, const char *owner, int64_t *id);
/* The wallet of a person (created on first use). */
int ykt_ledger_wallet(ykt_db *db, int64_t person_id, int64_t *id);
int ykt_ledger_balance(ykt_db *db, int64_t account, int64_t *balance);
/*
 * Records a transfer and updates both balances. YKT_EINVAL for an amount outside
 * 1..YKT_AMOUNT_MAX or from == to; YKT_ELIMIT when a wallet would go below zero (and
 * allow_negative is off) — nothing is written then.
 */
int ykt_ledger_transfer(ykt_db *db, const ykt_transfer *t, int64_t *transfer_id);
/*
 * A transfer to the account (kind, owner), found or created: fee income, escrow. The ids of
 * such accounts never change, so it is remembered after the first use; every use checks
 * that the row at the remembered id is still that account (a batch that created it may have
 * been rolled back), and looks it up again when it is not. t->to is ignored.
 */
int ykt_ledger_transfer_to(ykt_db *db, const ykt_transfer *t, const char *kind, const char *owner,
                           int64_t *transfer_id);
/*
 * The wallet of a person (created on first use) and its balance, in one statement when the
 * wallet's id is remembered from an earlier call; the remembered id is checked on every
 * use (it is the row's kind and owner that make it the person's wallet).
 */
int ykt_ledger_wallet_balance(ykt_db *db, int64_t person_id, int64_t *id, int64_t *balance);
/* The same without creating the wallet: *id 0 and *balance 0 when the person has none yet
 * (a refused PAY writes nothing). */
int ykt_ledger_wallet_find(ykt_db *db, int64_t person_id, int64_t *id, int64_t *balance);
/* The wallet id remembered for a person, or 0: a hint only, to be checked where it is used
 * (the row's kind must be wallet and its owner the person's id in decimal). */
int64_t ykt_ledger_wallet_hint(ykt_db *db, int64_t person_id);
/* Formats fen as "1234.56" (with a sign when negative). */
void ykt_format_fen(int64_t fen, char *buf, size_t len);
/* Parses "12", "12.3", "12.34" CNY into fen; YKT_EINVAL for anything else or > max. */
int ykt_parse_yuan(const char *s, int64_t *fen);

#endif
