#include "simcard.h"
#include "common.h"
#include "secret.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define UID_MIN 4 /* ISO 14443 UIDs are 4, 7 or 10 bytes; the gateway accepts 4..10 */

void ykt_simcard_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int ykt_simcard_parse_uid(const char *hex, uint8_t uid[YKT_UID_MAX], size_t *uid_len)
{
    size_t n = hex ? strlen(hex) : 0;
    if (n % 2 != 0 || n < 2 * UID_MIN || n > 2 * YKT_UID_MAX)
        return YKT_EINVAL;
    if (ykt_hex_decode(hex, uid, n / 2) != YKT_OK)
        return YKT_EINVAL;
    *uid_len = n / 2;
    return YKT_OK;
}

int ykt_simcard_new_uid(int medium, uint8_t uid[7])
{
    if (ykt_random_bytes(uid, 7) != YKT_OK)
        return YKT_EIO;
    uid[0] = medium == YKT_MEDIUM_PHONE ? 0x50 : 0x04;
    return YKT_OK;
}

int ykt_simcard_init(struct ykt_simcard *card, const uint8_t master[16], const char *campus,
                     const uint8_t *uid, size_t uid_len, int medium)
{
    if (card == NULL || master == NULL || campus == NULL || uid == NULL || uid_len < UID_MIN ||
        uid_len > YKT_UID_MAX)
        return YKT_EINVAL;
    memset(card, 0, sizeof *card);
    /* The same derivation the gateway runs; a personalisation station writes this key into
     * the card's chip when the card is issued. */
    int rc = ykt_card_key(master, uid, uid_len, medium, (const uint8_t *)campus, strlen(campus),
                          card->key);
    if (rc != YKT_OK)
        return rc == YKT_EIO ? YKT_EIO : YKT_EINVAL;
    memcpy(card->uid, uid, uid_len);
    card->uid_len = uid_len;
    card->medium = medium;
    card->atc = 0;
    return YKT_OK;
}

const char *ykt_simcard_operation(const char *verb)
{
    /* At the sale the card was asked for a PAY; the upload only carries that cryptogram. */
    return verb != NULL && strcmp(verb, "PAY.OFFLINE") == 0 ? "PAY" : verb;
}

int ykt_simcard_sign_args(const struct ykt_simcard *card, uint32_t atc,
                          const struct ykt_simcard_tx *tx, struct ykt_simcard_args *out)
{
    if (card == NULL || tx == NULL || out == NULL || tx->verb == NULL)
        return YKT_EINVAL;

    /* The fields, exactly as they will be sent, are what the card signs (with the operation
     * the card performed: PAY for an offline sale uploaded later). */
    ykt_cryptogram_input in = {0};
    in.terminal_id = tx->terminal_id;
    in.terminal_seq = tx->seq;
    memcpy(in.uid, card->uid, card->uid_len);
    in.uid_len = card->uid_len;
    in.atc = atc;
    in.operation = ykt_simcard_operation(tx->verb);
    in.amount = tx->amount;
    in.time_ms = tx->time_ms;
    int rc = ykt_cryptogram_compute(card->key, &in, out->cryptogram);
    if (rc != YKT_OK)
        return rc;

    out->atc = atc;
    snprintf(out->seq, sizeof out->seq, "%" PRIu64, tx->seq);
    ykt_simcard_hex(card->uid, card->uid_len, out->uid);
    snprintf(out->atc_text, sizeof out->atc_text, "%" PRIu32, atc);
    snprintf(out->time, sizeof out->time, "%" PRId64, tx->time_ms);
    snprintf(out->amount, sizeof out->amount, "%" PRId64, tx->amount);
    ykt_simcard_hex(out->cryptogram, sizeof out->cryptogram, out->mac);

    out->argv[YKT_SIMCARD_ARG_VERB] = tx->verb;
    out->argv[YKT_SIMCARD_ARG_SEQ] = out->seq;
    out->argv[YKT_SIMCARD_ARG_UID] = out->uid;
    out->argv[YKT_SIMCARD_ARG_ATC] = out->atc_text;
    out->argv[YKT_SIMCARD_ARG_TIME] = out->time;
    out->argv[YKT_SIMCARD_ARG_AMOUNT] = out->amount;
    out->argv[YKT_SIMCARD_ARG_CRYPTOGRAM] = out->mac;
    out->argc = YKT_SIMCARD_FIXED_ARGS;
    for (int i = 0; i < out->argc; i++)
        out->argl[i] = strlen(out->argv[i]);
    return YKT_OK;
}

int ykt_simcard_swipe_args(struct ykt_simcard *card, const struct ykt_simcard_tx *tx,
                           struct ykt_simcard_args *out)
{
    if (card == NULL)
        return YKT_EINVAL;
    /* A card never reuses a counter value and never wraps around. */
    if (card->atc == UINT32_MAX)
        return YKT_ELIMIT;
    int rc = ykt_simcard_sign_args(card, card->atc + 1, tx, out);
    if (rc == YKT_OK)
        card->atc++;
    return rc;
}

int ykt_simcard_args_push(struct ykt_simcard_args *out, const char *arg)
{
    if (out == NULL || arg == NULL)
        return YKT_EINVAL;
    if (out->argc >= YKT_SIMCARD_ARGS_MAX)
        return YKT_ELIMIT;
    out->argv[out->argc] = arg;
    out->argl[out->argc] = strlen(arg);
    out->argc++;
    return YKT_OK;
}
