/*
 * bank: the cooperating banks' plugin (R-B1..R-B3, the automatic top-up of R-W6).
 *
 * bank.c        entry points, options, the banks' keys, signatures, shared helpers
 * bank_verbs.c  the bank terminals' verbs (BANK.*)
 * bank_admin.c  the admin commands (`bank ...`) and the statement reconciliation
 *
 * Everything runs on yktd's loop thread; see docs/plugins/bank.md.
 */
#ifndef BANK_H
#define BANK_H

#include <ykt/plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BANK_MAX_BANKS     8
#define BANK_ID_MAX        15 /* a bank id: lower-case letters, digits, '_' */
#define BANK_KEY_MAX       64 /* bytes of an HMAC key */
#define BANK_CARD_MIN      12 /* bank card numbers: 12..19 digits */
#define BANK_CARD_MAX      19
#define BANK_REF_MAX       32  /* the bank's reference: letters, digits, '-', '_' */
#define BANK_REASON_MAX    32  /* a decline reason: a code word */
#define BANK_SIG_HEX       64  /* HMAC-SHA256 as hex */
#define BANK_PENDING_BATCH 100 /* requests per BANK.PENDING reply */
#define BANK_TEXT_MAX      64  /* person numbers, card numbers, terminal ids we copy */

typedef struct bank_key {
    char id[BANK_ID_MAX + 1];
    uint8_t key[BANK_KEY_MAX];
    size_t len;
} bank_key;

/* A binding waiting for the holder's password check (BANK.BIND / BANK.UNBIND, `bank bind` /
 * `bank unbind`): the check runs off the loop and its done callback finds this by (terminal,
 * seq), or for an operator by its own address (bank_pending_find). When the password is
 * wrong the host replies and done never runs: the sweep frees what is left. */
typedef struct bank_pending {
    struct bank_pending *next;
    char terminal[BANK_TEXT_MAX]; /* empty for an operator's */
    int64_t seq;
    int64_t created_ms;
    bool unbind;
    char operator_name[BANK_TEXT_MAX]; /* an operator's: who */
    char bank[BANK_ID_MAX + 1];
    char bank_card[BANK_CARD_MAX + 1];
    char card_no[BANK_TEXT_MAX];
    char person_no[BANK_TEXT_MAX];
    int64_t person_id;
} bank_pending;

typedef struct bank_state {
    ykt_plugin *self;
    const ykt_host *host;
    bank_key banks[BANK_MAX_BANKS];
    int nbanks;
    int64_t request_ttl_ms;
    bank_pending *pending;
} bank_state;

/* ---- bank.c: shared helpers ---- */

const bank_key *bank_find(const bank_state *s, const char *id);
/* The bank of the calling terminal (its owner, or the only bank configured); replies
 * NO_BANK and returns NULL otherwise. */
const bank_key *bank_of_terminal(bank_state *s, ykt_request *r);
/* The bank named by an admin command's --bank option, or the only one configured; replies
 * NO_BANK and returns NULL otherwise. */
const bank_key *bank_of_option(bank_state *s, ykt_request *r);

bool bank_card_valid(const char *s);
bool bank_ref_valid(const char *s);
bool bank_word_valid(const char *s, size_t max);
/* Strictly decimal fen: 1..12 digits, above 0. */
bool bank_parse_fen(const char *s, int64_t *out);
/* 622202******1234: the first six and last four digits. */
void bank_mask_card(const char *card, char *out, size_t len);
/* 12345 -> "123.45" */
void bank_yuan(int64_t fen, char *out, size_t len);

/* HMAC-SHA256 of msg with the bank's key, compared in constant time with sig_hex. */
bool bank_signature_ok(const bank_key *b, const char *msg, const char *sig_hex);

/* The binding of a person (by_person) or of a bank card: 1 found, 0 none, -1 storage. */
typedef struct bank_binding {
    int64_t person_id;
    char person_no[BANK_TEXT_MAX];
    char bank[BANK_ID_MAX + 1];
    char bank_card[BANK_CARD_MAX + 1];
} bank_binding;
int bank_binding_by_person(bank_state *s, int64_t person_id, bank_binding *out);
int bank_binding_by_card(bank_state *s, const char *bank_card, bank_binding *out);
/* Binds or unbinds (and cancels the person's pending top-up requests), with a log row. */
int bank_bind(bank_state *s, const bank_binding *b, const char *by);
int bank_unbind(bank_state *s, const bank_binding *b, const char *by, const char *why);

/* Steps a statement that returns no row; resets it. */
int bank_exec(bank_state *s, sqlite3_stmt *st);
/* Copies column i as text (empty for NULL). */
void bank_col(sqlite3_stmt *st, int i, char *out, size_t len);

/* ---- bank_verbs.c, bank_admin.c ---- */

int bank_verbs_register(bank_state *s);
int bank_admin_register(bank_state *s);
void bank_pending_sweep(bank_state *s, int64_t older_than_ms);
/* Unlinks p from the pending list if it is still there (not swept); false otherwise. */
bool bank_pending_unlink(bank_state *s, const bank_pending *p);
/* The binding rules for p (one to one both ways; for an unbind, that exact binding): replies
 * ALREADY_BOUND / NOT_BOUND / STORAGE_ERROR and returns false when p may not go ahead. */
bool bank_binding_allowed(bank_state *s, ykt_request *r, const bank_pending *p);
/* The binding a pending request asks for, once its password was checked. */
void bank_binding_of(const bank_pending *p, bank_binding *b);

#endif
