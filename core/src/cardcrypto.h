/*
 * Card cryptography: AES-128 CMAC, per-card key diversification and transaction cryptograms.
 *
 * The gateway holds one AES-128 master key and stores no per-card key. Every card key is
 * derived on demand from the master key, the card UID, the medium and the campus code by
 * the AES-128 diversification of NXP application note AN10922 (section 2.2). For each
 * transaction the card computes an AES-CMAC over a canonical encoding of the transaction
 * fields with its own key; the gateway recomputes it and compares in constant time. Only the
 * card and the gateway ever know the card key, so a terminal cannot forge or alter what the
 * card signed (R-C12).
 *
 * Everything here is a pure function except ykt_master_key_load(), which reads one file.
 * docs/card-crypto.md is the vendor-facing description of the same rules, with examples.
 */
#ifndef YKT_CARDCRYPTO_H
#define YKT_CARDCRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YKT_AES_KEY_LEN 16
#define YKT_CMAC_LEN    16

/*
 * Computes the AES-128 CMAC (NIST SP 800-38B) of len bytes of msg under key. msg may be
 * NULL when len is 0. Returns YKT_OK, YKT_EINVAL for bad arguments or YKT_EIO if mbedTLS
 * fails.
 */
int ykt_aes_cmac(const uint8_t key[16], const uint8_t *msg, size_t len, uint8_t mac[16]);

/* AN10922 allows at most 31 bytes of diversification input M = UID || AID || SysID. */
#define YKT_DIV_INPUT_MAX 31
#define YKT_AID_LEN       3

/*
 * Derives a diversified AES-128 key from master as in NXP AN10922 section 2.2: the CMAC
 * input is 0x01 || UID || AID || System Identifier, always processed as two blocks (32
 * bytes). When the input is shorter than 32 bytes it is padded with 0x80 and zeros and the
 * last block is masked with subkey K2, otherwise with K1. For inputs of 17 to 32 bytes this
 * equals the plain CMAC; for shorter inputs it does not, because plain CMAC would pad to one
 * block only.
 *
 * uid_len must be at least 1, and uid_len + 3 + sysid_len at most 31. sysid may be NULL
 * when sysid_len is 0. Returns YKT_OK, YKT_EINVAL or YKT_EIO.
 */
int ykt_card_diversify(const uint8_t master[16], const uint8_t *uid, size_t uid_len,
                       const uint8_t *aid3, const uint8_t *sysid, size_t sysid_len,
                       uint8_t out[16]);

/*
 * The ykt derivation convention. The application identifier names the medium, so the phone
 * credential of a card (R-C11) gets a key of its own: losing or revoking one medium never
 * exposes the other. The system identifier is the campus code, so two campuses sharing a
 * master key by mistake still derive different card keys.
 */
enum ykt_medium {
    YKT_MEDIUM_CARD = 1,  /* the physical card: AID 59 4B 54 ("YKT") */
    YKT_MEDIUM_PHONE = 2, /* the phone / virtual credential: AID 59 4B 56 ("YKV") */
};

#define YKT_UID_MAX 10 /* ISO 14443 UIDs are 4, 7 or 10 bytes */

/*
 * Derives the key of one card medium: ykt_card_diversify(master, uid, AID of medium,
 * campus). uid_len must be 1..10 and campus_len at least 1, with uid_len + 3 + campus_len
 * at most 31. Returns YKT_OK, YKT_EINVAL or YKT_EIO.
 */
int ykt_card_key(const uint8_t master[16], const uint8_t *uid, size_t uid_len, int medium,
                 const uint8_t *campus, size_t campus_len, uint8_t out[16]);

/*
 * Transaction cryptograms.
 *
 * Encoding, format version 1 (all integers big-endian, strings without NUL):
 *
 *   offset  size  field
 *   0       1     format version, 0x01
 *   1       1     T = length of the terminal id (1..63)
 *   2       T     terminal id bytes
 *           8     terminal sequence (uint64)
 *           1     U = length of the card UID (1..10)
 *           U     card UID bytes
 *           4     ATC, the card's transaction counter (uint32)
 *           1     P = length of the operation (1..31)
 *           P     operation bytes (the verb name in upper case, e.g. "PAY", "DOOR.ENTER")
 *           8     amount in fen (int64, two's complement; 0 when the operation moves no money)
 *           8     time in milliseconds since the Unix epoch (int64)
 *
 * The total is 32 + T + U + P bytes, at most 136. Every variable field has a length prefix
 * and every number a fixed width, so no two different inputs encode to the same bytes. The
 * cryptogram is the first 8 bytes of AES-CMAC(card key, encoding).
 */
#define YKT_CRYPTOGRAM_V1            1
#define YKT_CRYPTOGRAM_LEN           8
#define YKT_CRYPTOGRAM_TERMINAL_MAX  63 /* equals YKT_TERMINAL_ID_MAX */
#define YKT_CRYPTOGRAM_OPERATION_MAX 31 /* equals YKT_VERB_NAME_MAX */
#define YKT_CRYPTOGRAM_ENCODED_MAX                                                                 \
    (32 + YKT_CRYPTOGRAM_TERMINAL_MAX + YKT_UID_MAX + YKT_CRYPTOGRAM_OPERATION_MAX)

typedef struct ykt_cryptogram_input {
    const char *terminal_id; /* 1..63 bytes */
    uint64_t terminal_seq;
    uint8_t uid[YKT_UID_MAX];
    size_t uid_len; /* 1..10 */
    uint32_t atc;
    const char *operation; /* 1..31 bytes */
    int64_t amount;        /* fen */
    int64_t time_ms;       /* Unix epoch milliseconds */
    /* The format version byte. 0 stands for the current version (1), so a zero-initialised
     * struct encodes as version 1; every other value is refused until a later version
     * defines it. */
    uint8_t reserved;
} ykt_cryptogram_input;

/*
 * Writes the canonical encoding of in into out (outlen bytes; YKT_CRYPTOGRAM_ENCODED_MAX is
 * always enough) and its length into *written. Returns YKT_OK, or YKT_EINVAL for a field out
 * of range or a too small buffer.
 */
int ykt_cryptogram_encode(const ykt_cryptogram_input *in, uint8_t *out, size_t outlen,
                          size_t *written);

/* Computes the 8-byte cryptogram of in under card_key. Returns YKT_OK, YKT_EINVAL or YKT_EIO. */
int ykt_cryptogram_compute(const uint8_t card_key[16], const ykt_cryptogram_input *in,
                           uint8_t mac[8]);

/*
 * Returns true when mac is the cryptogram of in under card_key. The comparison takes the
 * same time wherever the first differing byte is. A malformed input is never valid.
 */
bool ykt_cryptogram_verify(const uint8_t card_key[16], const ykt_cryptogram_input *in,
                           const uint8_t mac[8]);

/*
 * Reads the master key file at path: one line of 32 hex digits, with blank lines and
 * comments from '#' to the end of a line allowed. The file must be a regular file (a
 * symbolic link is followed) with mode exactly 0600 or 0400, because anyone who can read it
 * can forge every card. On failure writes a message naming the path into err and returns
 * YKT_EPERM (wrong type or mode), YKT_EIO (cannot read) or YKT_EINVAL (malformed). The
 * message never contains any part of the file content.
 */
int ykt_master_key_load(const char *path, uint8_t key[16], char *err, size_t errlen);

#endif
