#include "ledger.h"
#include "common.h"
#include "log.h"
#include "store/store.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Account ids kept in memory: the wallet of each person, and accounts such as fee income.
 * An account's id never changes once committed, but the batch that created it may still
 * roll back (the whole batch, a request's savepoint, a plugin's), and the database may be
 * another one (tests, a restore): so a remembered id is only a hint, and every use checks
 * that the row at that id is still the account (kind, owner) — unique, so then it is the
 * account — in the statement that uses it. Loop thread only, like the database.
 */
typedef struct wallet_slot {
    int64_t person;
    int64_t account; /* 0: empty */
} wallet_slot;

#define MEMO_FIXED       4
#define MEMO_WALLETS_MAX ((size_t)1 << 22) /* forget them all beyond this many */

static struct {
    const ykt_db *db;
    wallet_slot *wallets;
    size_t cap, used; /* cap: a power of two, or 0 */
    struct {
        char kind[16];
        char owner[24];
        int64_t id;
    } fixed[MEMO_FIXED];
} memo;

static void memo_reset(void)
{
    free(memo.wallets);
    memset(&memo, 0, sizeof memo);
}

static void memo_use(const ykt_db *db)
{
    if (memo.db != db) {
        memo_reset();
        memo.db = db;
    }
}

static size_t wallet_hash(int64_t person, size_t cap)
{
    return (size_t)(((uint64_t)person * 0x9E3779B97F4A7C15ULL) >> 17) & (cap - 1);
}

static int64_t memo_wallet(const ykt_db *db, int64_t person)
{
    memo_use(db);
    if (memo.cap == 0)
        return 0;
    for (size_t i = wallet_hash(person, memo.cap);; i = (i + 1) & (memo.cap - 1)) {
        if (memo.wallets[i].account == 0)
            return 0;
        if (memo.wallets[i].person == person)
            return memo.wallets[i].account;
    }
}

static void wallet_insert(wallet_slot *slots, size_t cap, int64_t person, int64_t account)
{
    size_t i = wallet_hash(person, cap);
    while (slots[i].account != 0 && slots[i].person != person)
        i = (i + 1) & (cap - 1);
    slots[i] = (wallet_slot){person, account};
}

static void memo_wallet_put(const ykt_db *db, int64_t person, int64_t account)
{
    memo_use(db);
    if (account <= 0)
        return;
    if ((memo.used + 1) * 2 > memo.cap) {
        size_t cap = memo.cap ? memo.cap * 2 : 1024;
        wallet_slot *slots = cap / 2 > MEMO_WALLETS_MAX ? NULL : calloc(cap, sizeof *slots);
        if (slots == NULL) { /* too many, or no memory: start again, it is only a hint */
            free(memo.wallets);
            memo.wallets = NULL;
            memo.cap = memo.used = 0;
            return;
        }
        for (size_t i = 0; i < memo.cap; i++)
            if (memo.wallets[i].account != 0)
                wallet_insert(slots, cap, memo.wallets[i].person, memo.wallets[i].account);
        free(memo.wallets);
        memo.wallets = slots;
        memo.cap = cap;
    }
    size_t i = wallet_hash(person, memo.cap);
    while (memo.wallets[i].account != 0 && memo.wallets[i].person != person)
        i = (i + 1) & (memo.cap - 1);
    if (memo.wallets[i].account == 0)
        memo.used++;
    memo.wallets[i] = (wallet_slot){person, account};
}

/* A wrong hint is replaced by the right id at once, so entries are never removed. */

static int memo_fixed_slot(const ykt_db *db, const char *kind, const char *owner)
{
    memo_use(db);
    for (int i = 0; i < MEMO_FIXED; i++)
        if (memo.fixed[i].id != 0 && strcmp(memo.fixed[i].kind, kind) == 0 &&
            strcmp(memo.fixed[i].owner, owner) == 0)
            return i;
    return -1;
}

static void memo_fixed_put(const ykt_db *db, const char *kind, const char *owner, int64_t id)
{
    if (strlen(kind) >= sizeof memo.fixed[0].kind || strlen(owner) >= sizeof memo.fixed[0].owner)
        return;
    int i = memo_fixed_slot(db, kind, owner);
    for (int j = 0; i < 0 && j < MEMO_FIXED; j++)
        if (memo.fixed[j].id == 0)
            i = j;
    if (i < 0)
        return; /* full: these few are all there are */
    ykt_strlcpy(memo.fixed[i].kind, kind, sizeof memo.fixed[i].kind);
    ykt_strlcpy(memo.fixed[i].owner, owner, sizeof memo.fixed[i].owner);
    memo.fixed[i].id = id;
}

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
    int rc = ykt_ledger_account(db, YKT_ACC_WALLET, owner, id);
    if (rc == YKT_OK)
        memo_wallet_put(db, person_id, *id);
    return rc;
}

int ykt_ledger_wallet_balance(ykt_db *db, int64_t person_id, int64_t *id, int64_t *balance)
{
    char owner[24];
    snprintf(owner, sizeof owner, "%lld", (long long)person_id);
    int64_t known = memo_wallet(db, person_id);
    if (known > 0) {
        int rc = ykt_store_account_balance_of(db, known, YKT_ACC_WALLET, owner, balance);
        if (rc != YKT_ENOTFOUND) {
            if (rc == YKT_OK)
                *id = known;
            return rc;
        }
    }
    int rc = ykt_ledger_account(db, YKT_ACC_WALLET, owner, id);
    if (rc == YKT_OK)
        rc = ykt_store_account_balance_of(db, *id, YKT_ACC_WALLET, owner, balance);
    if (rc == YKT_OK)
        memo_wallet_put(db, person_id, *id);
    return rc;
}

int ykt_ledger_wallet_find(ykt_db *db, int64_t person_id, int64_t *id, int64_t *balance)
{
    char owner[24];
    snprintf(owner, sizeof owner, "%lld", (long long)person_id);
    int rc = ykt_store_account_find(db, YKT_ACC_WALLET, owner, id);
    if (rc == YKT_ENOTFOUND) {
        *id = 0;
        *balance = 0;
        return YKT_OK;
    }
    if (rc == YKT_OK)
        rc = ykt_store_account_balance_of(db, *id, YKT_ACC_WALLET, owner, balance);
    if (rc == YKT_OK)
        memo_wallet_put(db, person_id, *id);
    return rc;
}

int64_t ykt_ledger_wallet_hint(ykt_db *db, int64_t person_id)
{
    return memo_wallet(db, person_id);
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
    /* R-W1: no wallet goes below zero online; only recorded offline debt may. The debit
     * checks it in the same statement. */
    int rc = ykt_store_account_debit(db, t->from, t->amount, t->allow_negative);
    if (rc == YKT_ENOTFOUND) {
        char kind[16];
        int64_t balance;
        rc = ykt_store_account_get(db, t->from, kind, sizeof kind, &balance);
        return rc == YKT_OK ? YKT_ELIMIT : rc; /* it exists: the balance did not cover it */
    }
    if (rc != YKT_OK)
        return rc;
    rc = ykt_store_account_credit(db, t->to, t->amount, t->to_kind,
                                  t->to_kind ? (t->to_owner ? t->to_owner : "") : NULL);
    if (rc == YKT_ENOTFOUND) { /* not that account: take the debit back, nothing is written */
        int urc = ykt_store_account_credit(db, t->from, t->amount, NULL, NULL);
        return urc == YKT_OK ? YKT_ENOTFOUND : urc;
    }
    if (rc == YKT_OK)
        rc = ykt_store_transfer_insert(db, t, ykt_now_ms(), transfer_id);
    return rc;
}

int ykt_ledger_transfer_to(ykt_db *db, const ykt_transfer *t, const char *kind, const char *owner,
                           int64_t *transfer_id)
{
    ykt_transfer c = *t;
    int slot = memo_fixed_slot(db, kind, owner);
    if (slot >= 0 && memo.fixed[slot].id != t->from) {
        c.to = memo.fixed[slot].id;
        c.to_kind = kind;
        c.to_owner = owner;
        int rc = ykt_ledger_transfer(db, &c, transfer_id);
        if (rc != YKT_ENOTFOUND)
            return rc;
    }
    int rc = ykt_ledger_account(db, kind, owner, &c.to);
    if (rc != YKT_OK)
        return rc;
    memo_fixed_put(db, kind, owner, c.to);
    c.to_kind = NULL;
    c.to_owner = NULL;
    return ykt_ledger_transfer(db, &c, transfer_id);
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
