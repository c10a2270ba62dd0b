/*
 * The software card of ykt-cardsim and ykt-bench (tools/cardsim/simcard.c): its key is the
 * gateway's derivation, its swipe arguments carry exactly what ykt_cryptogram_compute signs,
 * and its ATC only moves forward.
 */
#include "test.h"

#include <stdbool.h>

#include "cardcrypto.h"
#include "common.h"
#include "secret.h"
#include "simcard.h"

static const char master_hex[] = "00112233445566778899AABBCCDDEEFF";
static const char uid_hex[] = "04782E21801D80";

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    ASSERT_EQ(ykt_hex_decode(hex, out, len), YKT_OK);
}

static void new_card(struct ykt_simcard *card, int medium)
{
    uint8_t master[16], uid[7];
    unhex(master_hex, master, sizeof master);
    unhex(uid_hex, uid, sizeof uid);
    ASSERT_EQ(ykt_simcard_init(card, master, "DEMO", uid, sizeof uid, medium), YKT_OK);
}

/* The cryptogram the gateway expects for these fields, as upper-case hex. */
static void expected_mac(const struct ykt_simcard *card, const struct ykt_simcard_tx *tx,
                         uint32_t atc, char out[17])
{
    uint8_t master[16], key[16], mac[8];
    unhex(master_hex, master, sizeof master);
    ASSERT_EQ(ykt_card_key(master, card->uid, card->uid_len, card->medium, (const uint8_t *)"DEMO",
                           4, key),
              YKT_OK);
    ykt_cryptogram_input in = {0};
    in.terminal_id = tx->terminal_id;
    in.terminal_seq = tx->seq;
    memcpy(in.uid, card->uid, card->uid_len);
    in.uid_len = card->uid_len;
    in.atc = atc;
    in.operation = tx->verb;
    in.amount = tx->amount;
    in.time_ms = tx->time_ms;
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_OK);
    ykt_simcard_hex(mac, sizeof mac, out);
}

static void test_init_derives_the_card_key(void)
{
    struct ykt_simcard card, phone;
    uint8_t want[16];
    new_card(&card, YKT_MEDIUM_CARD);
    new_card(&phone, YKT_MEDIUM_PHONE);
    /* The values of docs/card-crypto.md. */
    unhex("5D017015CB29127AEF957471C434518C", want, sizeof want);
    ASSERT(memcmp(card.key, want, 16) == 0);
    unhex("5DACD82DC0286DE7DA50F02D2556D583", want, sizeof want);
    ASSERT(memcmp(phone.key, want, 16) == 0);
    ASSERT_EQ(card.atc, 0);
    ASSERT_EQ(card.uid_len, 7);
    ASSERT_EQ(phone.medium, YKT_MEDIUM_PHONE);

    uint8_t master[16], uid[11] = {0x04};
    unhex(master_hex, master, sizeof master);
    ASSERT_EQ(ykt_simcard_init(&card, master, "DEMO", uid, 3, YKT_MEDIUM_CARD), YKT_EINVAL);
    ASSERT_EQ(ykt_simcard_init(&card, master, "DEMO", uid, 11, YKT_MEDIUM_CARD), YKT_EINVAL);
    ASSERT_EQ(ykt_simcard_init(&card, master, "", uid, 7, YKT_MEDIUM_CARD), YKT_EINVAL);
    ASSERT_EQ(ykt_simcard_init(&card, master, "DEMO", uid, 7, 0), YKT_EINVAL);
}

/* The worked example of docs/card-crypto.md, sent as a card verb. */
static void test_swipe_args_match_the_worked_example(void)
{
    struct ykt_simcard card;
    struct ykt_simcard_args a;
    new_card(&card, YKT_MEDIUM_CARD);
    card.atc = 6;
    struct ykt_simcard_tx tx = {"POS-0001", 42, "PAY", 1250, 1700000000000};
    ASSERT_EQ(ykt_simcard_swipe_args(&card, &tx, &a), YKT_OK);
    ASSERT_EQ(card.atc, 7);
    ASSERT_EQ(a.atc, 7);
    ASSERT_EQ(a.argc, YKT_SIMCARD_FIXED_ARGS);
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_VERB], "PAY");
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_SEQ], "42");
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_UID], "04782E21801D80");
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_ATC], "7");
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_TIME], "1700000000000");
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_AMOUNT], "1250");
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_CRYPTOGRAM], "0523EE6E58A012F9");
    for (int i = 0; i < a.argc; i++)
        ASSERT_EQ(a.argl[i], strlen(a.argv[i]));

    /* The next swipe of the same fields uses ATC 8 (the doc's second value). */
    ASSERT_EQ(ykt_simcard_swipe_args(&card, &tx, &a), YKT_OK);
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_ATC], "8");
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_CRYPTOGRAM], "ED74C3FAEEEAE4FB");

    /* The phone credential signs the same fields with its own key. */
    struct ykt_simcard phone;
    new_card(&phone, YKT_MEDIUM_PHONE);
    phone.atc = 6;
    ASSERT_EQ(ykt_simcard_swipe_args(&phone, &tx, &a), YKT_OK);
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_CRYPTOGRAM], "73925F53C936F604");
}

static void test_swipe_args_match_cryptogram_compute(void)
{
    struct ykt_simcard card;
    struct ykt_simcard_args a;
    char want[17];
    static const char *verbs[] = {"CARD.INFO", "PAY", "DOOR.ENTER", "TOPUP"};
    for (int medium = YKT_MEDIUM_CARD; medium <= YKT_MEDIUM_PHONE; medium++) {
        new_card(&card, medium);
        for (uint32_t i = 0; i < 40; i++) {
            struct ykt_simcard_tx tx = {"POS-C1-01", 1000 + i, verbs[i % 4], (int64_t)i * 137,
                                        1700000000000 + i};
            ASSERT_EQ(ykt_simcard_swipe_args(&card, &tx, &a), YKT_OK);
            ASSERT_EQ(card.atc, i + 1);
            expected_mac(&card, &tx, i + 1, want);
            ASSERT_STREQ(a.mac, want);
            ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_CRYPTOGRAM], want);
            char buf[32];
            snprintf(buf, sizeof buf, "%u", (unsigned)(i + 1));
            ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_ATC], buf);
            ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_VERB], verbs[i % 4]);
        }
    }
}

static void test_sign_args_leaves_the_card_alone(void)
{
    struct ykt_simcard card;
    struct ykt_simcard_args a;
    char want[17];
    new_card(&card, YKT_MEDIUM_CARD);
    card.atc = 10;
    struct ykt_simcard_tx tx = {"GATE-MAIN-01", 5, "DOOR.ENTER", 0, 1700000000000};
    ASSERT_EQ(ykt_simcard_sign_args(&card, 3, &tx, &a), YKT_OK);
    ASSERT_EQ(card.atc, 10);
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_ATC], "3");
    expected_mac(&card, &tx, 3, want);
    ASSERT_STREQ(a.mac, want);
}

static void test_extra_args_follow_unsigned(void)
{
    struct ykt_simcard card;
    struct ykt_simcard_args a, b;
    new_card(&card, YKT_MEDIUM_CARD);
    struct ykt_simcard_tx tx = {"POS-C1-01", 7, "PAY", 2500, 1700000000000};
    ASSERT_EQ(ykt_simcard_sign_args(&card, 1, &tx, &a), YKT_OK);
    b = a;
    ASSERT_EQ(ykt_simcard_args_push(&a, "123456"), YKT_OK);
    ASSERT_EQ(a.argc, YKT_SIMCARD_FIXED_ARGS + 1);
    ASSERT_STREQ(a.argv[YKT_SIMCARD_FIXED_ARGS], "123456");
    ASSERT_EQ(a.argl[YKT_SIMCARD_FIXED_ARGS], 6);
    /* The cryptogram does not cover extra arguments. */
    ASSERT_STREQ(a.mac, b.mac);
    for (int i = 1; i < YKT_SIMCARD_EXTRA_MAX; i++)
        ASSERT_EQ(ykt_simcard_args_push(&a, "x"), YKT_OK);
    ASSERT_EQ(a.argc, YKT_SIMCARD_ARGS_MAX);
    ASSERT_EQ(ykt_simcard_args_push(&a, "x"), YKT_ELIMIT);
}

static void test_bad_input_and_exhausted_atc(void)
{
    struct ykt_simcard card;
    struct ykt_simcard_args a;
    new_card(&card, YKT_MEDIUM_CARD);
    card.atc = 4;
    struct ykt_simcard_tx tx = {"", 1, "PAY", 0, 1};
    ASSERT_EQ(ykt_simcard_swipe_args(&card, &tx, &a), YKT_EINVAL);
    ASSERT_EQ(card.atc, 4); /* a refused swipe uses no ATC */
    tx.terminal_id = "POS-C1-01";
    tx.verb = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"; /* 32 bytes, one too many */
    ASSERT_EQ(ykt_simcard_swipe_args(&card, &tx, &a), YKT_EINVAL);
    ASSERT_EQ(card.atc, 4);

    tx.verb = "PAY";
    card.atc = UINT32_MAX - 1;
    ASSERT_EQ(ykt_simcard_swipe_args(&card, &tx, &a), YKT_OK);
    ASSERT_STREQ(a.argv[YKT_SIMCARD_ARG_ATC], "4294967295");
    ASSERT_EQ(ykt_simcard_swipe_args(&card, &tx, &a), YKT_ELIMIT);
    ASSERT(card.atc == UINT32_MAX);
}

static void test_uids(void)
{
    uint8_t uid[YKT_UID_MAX], fresh[7];
    size_t len = 0;
    ASSERT_EQ(ykt_simcard_parse_uid("04782e21801d80", uid, &len), YKT_OK);
    ASSERT_EQ(len, 7);
    char hex[2 * YKT_UID_MAX + 1];
    ykt_simcard_hex(uid, len, hex);
    ASSERT_STREQ(hex, "04782E21801D80");
    ASSERT_EQ(ykt_simcard_parse_uid("DEADBEEF", uid, &len), YKT_OK);
    ASSERT_EQ(len, 4);
    ASSERT_EQ(ykt_simcard_parse_uid("00112233445566778899", uid, &len), YKT_OK);
    ASSERT_EQ(len, 10);
    ASSERT_EQ(ykt_simcard_parse_uid("ABCDEF", uid, &len), YKT_EINVAL);
    ASSERT_EQ(ykt_simcard_parse_uid("0011223344556677889900", uid, &len), YKT_EINVAL);
    ASSERT_EQ(ykt_simcard_parse_uid("0478G", uid, &len), YKT_EINVAL);
    ASSERT_EQ(ykt_simcard_parse_uid("04782E21801D8", uid, &len), YKT_EINVAL);
    ASSERT_EQ(ykt_simcard_parse_uid("04782X21801D80", uid, &len), YKT_EINVAL);

    ASSERT_EQ(ykt_simcard_new_uid(YKT_MEDIUM_CARD, fresh), YKT_OK);
    ASSERT_EQ(fresh[0], 0x04);
    ASSERT_EQ(ykt_simcard_new_uid(YKT_MEDIUM_PHONE, fresh), YKT_OK);
    ASSERT_EQ(fresh[0], 0x50);
}

int main(void)
{
    printf("test_simcard\n");
    RUN(test_init_derives_the_card_key);
    RUN(test_swipe_args_match_the_worked_example);
    RUN(test_swipe_args_match_cryptogram_compute);
    RUN(test_sign_args_leaves_the_card_alone);
    RUN(test_extra_args_follow_unsigned);
    RUN(test_bad_input_and_exhausted_atc);
    RUN(test_uids);
    return 0;
}
