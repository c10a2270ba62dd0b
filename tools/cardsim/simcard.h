/*
 * Software cards: what a ykt card (or phone credential) does for one transaction, in a form
 * the simulator and the load generator can share.
 *
 * A card holds its UID, its medium, its diversified AES-128 key and its application
 * transaction counter (ATC). For each swipe it increments the ATC, computes the cryptogram
 * over the transaction fields (docs/card-crypto.md) and hands the terminal everything the
 * gateway needs. The terminal then sends the card verb:
 *
 *   VERB <seq> <uid-hex> <atc> <time-ms> <amount-fen> <cryptogram-hex16> [extra args...]
 *
 * Nothing here allocates: a ykt_simcard_args owns the text of the numeric and hex fields
 * and borrows the terminal id, the verb and any extra arguments from the caller, who keeps
 * them alive until the command is sent.
 */
#ifndef YKT_SIMCARD_H
#define YKT_SIMCARD_H

#include <stddef.h>
#include <stdint.h>

#include "cardcrypto.h"

/* The seven fixed arguments of a card verb and room for a few extra ones (PIN, door, ...). */
#define YKT_SIMCARD_FIXED_ARGS 7
#define YKT_SIMCARD_EXTRA_MAX  8
#define YKT_SIMCARD_ARGS_MAX   (YKT_SIMCARD_FIXED_ARGS + YKT_SIMCARD_EXTRA_MAX)

/* Positions of the fixed arguments in ykt_simcard_args.argv. */
enum ykt_simcard_arg {
    YKT_SIMCARD_ARG_VERB = 0,
    YKT_SIMCARD_ARG_SEQ,
    YKT_SIMCARD_ARG_UID,
    YKT_SIMCARD_ARG_ATC,
    YKT_SIMCARD_ARG_TIME,
    YKT_SIMCARD_ARG_AMOUNT,
    YKT_SIMCARD_ARG_CRYPTOGRAM,
};

struct ykt_simcard {
    uint8_t uid[YKT_UID_MAX];
    size_t uid_len;
    int medium;                   /* YKT_MEDIUM_CARD or YKT_MEDIUM_PHONE */
    uint8_t key[YKT_AES_KEY_LEN]; /* the card key: what a real card keeps in its secure chip */
    uint32_t atc;                 /* the last ATC used; the next swipe uses atc + 1 */
};

/* One transaction as the terminal describes it to the card. */
struct ykt_simcard_tx {
    const char *terminal_id; /* 1..63 bytes, as registered with the gateway */
    uint64_t seq;            /* the terminal sequence number the request will carry */
    const char *verb;        /* sent as given, upper case, e.g. "PAY"; signed as
                              * ykt_simcard_operation(verb) */
    int64_t amount;          /* fen; 0 when no money moves */
    int64_t time_ms;         /* epoch milliseconds */
};

/* A ready-to-send card verb: pass argc, argv and argl to ykt_client_call(). */
struct ykt_simcard_args {
    int argc;
    const char *argv[YKT_SIMCARD_ARGS_MAX];
    size_t argl[YKT_SIMCARD_ARGS_MAX];
    uint32_t atc;                                     /* the ATC the cryptogram covers */
    uint8_t cryptogram[YKT_CRYPTOGRAM_LEN];           /* the raw cryptogram */
    char seq[21], atc_text[11], time[21], amount[21]; /* decimal text of the fields */
    char uid[2 * YKT_UID_MAX + 1];                    /* upper-case hex */
    char mac[2 * YKT_CRYPTOGRAM_LEN + 1];             /* upper-case hex of cryptogram */
};

/*
 * The operation the card signs for a verb: the verb itself, except for an offline upload.
 * PAY.OFFLINE sends a sale the card signed as PAY while the terminal was offline (the
 * gateway checks it as PAY, docs/protocol.md), so it returns "PAY" for "PAY.OFFLINE".
 */
const char *ykt_simcard_operation(const char *verb);

/*
 * Sets up card with its key derived from master, uid (4..10 bytes), medium and the campus
 * code (a NUL-terminated string, e.g. "DEMO"), and an ATC of 0. Returns YKT_OK or
 * YKT_EINVAL (bad UID length, medium or campus code).
 */
int ykt_simcard_init(struct ykt_simcard *card, const uint8_t master[16], const char *campus,
                     const uint8_t *uid, size_t uid_len, int medium);

/*
 * A normal swipe: increments card->atc, then fills out with the card verb for tx signed at
 * the new ATC. Returns YKT_OK, YKT_EINVAL for a malformed tx (card->atc is then unchanged),
 * or YKT_ELIMIT when the ATC is exhausted (a real card at FFFFFFFF must be replaced).
 */
int ykt_simcard_swipe_args(struct ykt_simcard *card, const struct ykt_simcard_tx *tx,
                           struct ykt_simcard_args *out);

/*
 * Fills out with the card verb for tx signed at the given ATC, without changing the card.
 * This is how the simulator replays an old ATC on purpose; a real card never does it.
 * Returns YKT_OK or YKT_EINVAL.
 */
int ykt_simcard_sign_args(const struct ykt_simcard *card, uint32_t atc,
                          const struct ykt_simcard_tx *tx, struct ykt_simcard_args *out);

/*
 * Appends one extra argument (not covered by the cryptogram) to out; arg is borrowed.
 * Returns YKT_OK or YKT_ELIMIT when YKT_SIMCARD_EXTRA_MAX extra arguments are already there.
 */
int ykt_simcard_args_push(struct ykt_simcard_args *out, const char *arg);

/* Formats a UID as upper-case hex into out (at least 2 * uid_len + 1 bytes). */
void ykt_simcard_hex(const uint8_t *in, size_t len, char *out);

/*
 * Parses a UID of 8..20 hex digits (4..10 bytes, either case) into uid. Returns YKT_OK or
 * YKT_EINVAL.
 */
int ykt_simcard_parse_uid(const char *hex, uint8_t uid[YKT_UID_MAX], size_t *uid_len);

/*
 * Makes a fresh random 7-byte UID. Physical cards start with 0x04 (the NXP manufacturer
 * code, as on real MIFARE DESFire cards); phone credentials start with 0x50 ("P"), so the
 * two kinds never collide. Returns YKT_OK or YKT_EIO when the system has no randomness.
 */
int ykt_simcard_new_uid(int medium, uint8_t uid[7]);

#endif
