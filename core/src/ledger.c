#include "ledger.h"
#include "common.h"
#include "log.h"
#include "store/store.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int ykt_ledger_account(ykt_db *db, const char *kind, const char *owner, int64_t *id)
{
    int rc = ykt_store_account_find(db, kind, owner, id);
    if (rc != YKT_ENOTFOUND)
        return rc;
    return ykt_store_account_create(db, kind, owner, ykt_now_ms(), id);
}

int ykt_ledger_wallet(ykt_db *db, int64_t person_id, int64_t *id)
{
    char owner[24];
    snprintf(owner, sizeof owner, "%lld", (long long)person_id);
    return ykt_ledger_account(db, YKT_ACC_WALLET, owner, id);
}

int ykt_ledger_balance(ykt_db *db, int64_t account, int64_t *balance)
{
    char kind[16];
    return ykt_store_account_get(db, account, kind, sizeof kind, balance);
}

int ykt_ledger_transfer(ykt_db *db, const ykt_transfer *t, int64_t *transfer_id)
{
    if (t->amount <= 0 || t->amount > YKT_AMOUNT_MAX || t->from == t->to)
        return YKT_EINVAL;
    char kind[16];
    int64_t from_balance;
    int rc = ykt_store_account_get(db, t->from, kind, sizeof kind, &from_balance);
    if (rc != YKT_OK)
        return rc;
    /* R-W1: no wallet goes below zero online; only recorded offline debt may. */
    if (strcmp(kind, YKT_ACC_WALLET) == 0 && from_balance < t->amount && !t->allow_negative)
        return YKT_ELIMIT;
    rc = ykt_store_account_add(db, t->from, -t->amount);
    if (rc == YKT_OK)
        rc = ykt_store_account_add(db, t->to, t->amount);
    if (rc == YKT_OK)
        rc = ykt_store_transfer_insert(db, t, ykt_now_ms(), transfer_id);
    return rc;
}

void ykt_format_fen(int64_t fen, char *buf, size_t len)
{
    uint64_t a = fen < 0 ? (uint64_t)(-(fen + 1)) + 1 : (uint64_t)fen;
    snprintf(buf, len, "%s%llu.%02llu", fen < 0 ? "-" : "", (unsigned long long)(a / 100),
             (unsigned long long)(a % 100));
}

int ykt_parse_yuan(const char *s, int64_t *fen)
{
    int64_t whole = 0;
    int digits = 0, decimals = 0, frac = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        if (++digits > 10)
            return YKT_EINVAL;
        whole = whole * 10 + (*p - '0');
    }
    if (digits == 0)
        return YKT_EINVAL;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++) {
            if (++decimals > 2)
                return YKT_EINVAL;
            frac = frac * 10 + (*p - '0');
        }
        if (decimals == 0)
            return YKT_EINVAL;
        if (decimals == 1)
            frac *= 10;
    }
    if (*p != '\0')
        return YKT_EINVAL;
    int64_t v = whole * 100 + frac;
    if (v > YKT_AMOUNT_MAX)
        return YKT_EINVAL;
    *fen = v;
    return YKT_OK;
}
