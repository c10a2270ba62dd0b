/* Unit tests for core/src/secret.c: hex, constant-time comparison, password hashing. */
#include "test.h"

#include "common.h"
#include "secret.h"

#include <stdbool.h>

/* Known answer, computed with Python:
 *   hashlib.pbkdf2_hmac('sha256', b'correct horse battery staple',
 *                       bytes(range(0x10, 0x20)), 1000, 32).hex() */
#define KAT_PASSWORD "correct horse battery staple"
#define KAT_SALT     "101112131415161718191a1b1c1d1e1f"
#define KAT_DK       "9524bfad492439ac20bd58f00812b0223604192c314b8f785dcc07a462edc132"
#define KAT_STORED   "pbkdf2-sha256$1000$" KAT_SALT "$" KAT_DK

/* Known answer for the empty password, one iteration (the terminal-secret count):
 *   hashlib.pbkdf2_hmac('sha256', b'', bytes(range(0x10, 0x20)), 1, 32).hex() */
#define KAT1_DK "6964738d6192de01d18236318e6b6c175b5cdadbb9a1f113daa1bb3e5496a3a9"

static void test_hex_round_trip(void)
{
    uint8_t in[256], out[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    char hex[2 * sizeof in + 1];
    ykt_hex_encode(in, sizeof in, hex);
    ASSERT_EQ(strlen(hex), 512);
    ASSERT(strncmp(hex, "000102030405060708090a0b0c0d0e0f10", 34) == 0);
    ASSERT_STREQ(hex + 500, "fafbfcfdfeff");
    memset(out, 0xaa, sizeof out);
    ASSERT_EQ(ykt_hex_decode(hex, out, sizeof out), YKT_OK);
    ASSERT(memcmp(in, out, sizeof in) == 0);

    /* Upper case decodes to the same bytes. */
    uint8_t two[2];
    ASSERT_EQ(ykt_hex_decode("ABcd", two, 2), YKT_OK);
    ASSERT_EQ(two[0], 0xab);
    ASSERT_EQ(two[1], 0xcd);

    char empty[1] = {'x'};
    ykt_hex_encode(in, 0, empty);
    ASSERT_STREQ(empty, "");
    ASSERT_EQ(ykt_hex_decode("", two, 0), YKT_OK);
}

static void test_hex_rejects(void)
{
    uint8_t out[4];
    memset(out, 0x55, sizeof out);
    ASSERT_EQ(ykt_hex_decode("0011223", out, 4), YKT_EINVAL);   /* too short */
    ASSERT_EQ(ykt_hex_decode("001122334", out, 4), YKT_EINVAL); /* too long */
    ASSERT_EQ(ykt_hex_decode("0011223g", out, 4), YKT_EINVAL);
    ASSERT_EQ(ykt_hex_decode("0x112233", out, 4), YKT_EINVAL);
    ASSERT_EQ(ykt_hex_decode(" 0112233", out, 4), YKT_EINVAL);
    ASSERT_EQ(ykt_hex_decode("-1122334", out, 4), YKT_EINVAL);
    ASSERT_EQ(ykt_hex_decode("", out, 4), YKT_EINVAL);
    ASSERT_EQ(ykt_hex_decode("00", out, 0), YKT_EINVAL);
}

static void test_ct_equal(void)
{
    uint8_t a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = b[i] = (uint8_t)(i * 7);
    ASSERT(ykt_ct_equal(a, b, sizeof a));
    ASSERT(ykt_ct_equal(a, b, 0));
    for (int i = 0; i < 32; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1 << bit);
            ASSERT(!ykt_ct_equal(a, b, sizeof a));
            /* Only the compared prefix matters. */
            ASSERT(ykt_ct_equal(a, b, (size_t)i));
            b[i] ^= (uint8_t)(1 << bit);
        }
    }
    ASSERT(ykt_ct_equal(a, b, sizeof a));
}

static void test_wipe_and_random(void)
{
    uint8_t buf[64];
    memset(buf, 0xff, sizeof buf);
    ykt_wipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        ASSERT_EQ(buf[i], 0);

    uint8_t r1[32], r2[32], zero[32] = {0};
    ASSERT_EQ(ykt_random_bytes(r1, sizeof r1), YKT_OK);
    ASSERT_EQ(ykt_random_bytes(r2, sizeof r2), YKT_OK);
    ASSERT(!ykt_ct_equal(r1, r2, sizeof r1));
    ASSERT(!ykt_ct_equal(r1, zero, sizeof r1));
}

static void test_secret_generate(void)
{
    char s1[33], s2[33];
    ASSERT_EQ(ykt_secret_generate(s1, sizeof s1), YKT_OK);
    ASSERT_EQ(ykt_secret_generate(s2, sizeof s2), YKT_OK);
    ASSERT_EQ(strlen(s1), 32);
    ASSERT_EQ(strspn(s1, "0123456789abcdef"), 32);
    ASSERT(strcmp(s1, s2) != 0);
    char small[32];
    ASSERT_EQ(ykt_secret_generate(small, sizeof small), YKT_EINVAL);
}

static void test_password_round_trip(void)
{
    char stored[YKT_HASH_MAX];
    ASSERT_EQ(ykt_password_hash("hunter2", 1000, stored, sizeof stored), YKT_OK);
    /* "pbkdf2-sha256$1000$" + 32 hex + "$" + 64 hex */
    ASSERT_EQ(strlen(stored), 19 + 32 + 1 + 64);
    ASSERT(strncmp(stored, "pbkdf2-sha256$1000$", 19) == 0);
    ASSERT_EQ(stored[51], '$');
    ASSERT_EQ(ykt_password_verify("hunter2", stored), 1);
    ASSERT_EQ(ykt_password_verify("hunter3", stored), 0);
    ASSERT_EQ(ykt_password_verify("hunter", stored), 0);
    ASSERT_EQ(ykt_password_verify("", stored), 0);

    /* A fresh salt each time: same password, different strings, both verify. */
    char again[YKT_HASH_MAX];
    ASSERT_EQ(ykt_password_hash("hunter2", 1000, again, sizeof again), YKT_OK);
    ASSERT(strcmp(stored, again) != 0);
    ASSERT_EQ(ykt_password_verify("hunter2", again), 1);

    /* The terminal-secret count and the empty password. */
    ASSERT_EQ(ykt_password_hash("", YKT_SECRET_ITERATIONS, stored, sizeof stored), YKT_OK);
    ASSERT(strncmp(stored, "pbkdf2-sha256$1$", 16) == 0);
    ASSERT_EQ(ykt_password_verify("", stored), 1);
    ASSERT_EQ(ykt_password_verify("x", stored), 0);

    /* Too small an output buffer, and zero iterations, are refused. */
    char tiny[64];
    ASSERT_EQ(ykt_password_hash("pw", 1, tiny, sizeof tiny), YKT_EINVAL);
    ASSERT(ykt_password_hash("pw", 0, stored, sizeof stored) != YKT_OK);
}

static void test_password_known_answer(void)
{
    ASSERT_EQ(ykt_password_verify(KAT_PASSWORD, KAT_STORED), 1);
    ASSERT_EQ(ykt_password_verify("correct horse battery stapler", KAT_STORED), 0);
    ASSERT_EQ(ykt_password_verify("Correct horse battery staple", KAT_STORED), 0);
    /* The iteration count is part of the key derivation. */
    ASSERT_EQ(ykt_password_verify(KAT_PASSWORD, "pbkdf2-sha256$999$" KAT_SALT "$" KAT_DK), 0);
    /* So is the salt (last byte changed). */
    ASSERT_EQ(ykt_password_verify(KAT_PASSWORD,
                                  "pbkdf2-sha256$1000$101112131415161718191a1b1c1d1e1e$" KAT_DK),
              0);
    /* And the last bit of the derived key is checked. */
    ASSERT_EQ(
        ykt_password_verify(KAT_PASSWORD,
                            "pbkdf2-sha256$1000$" KAT_SALT
                            "$9524bfad492439ac20bd58f00812b0223604192c314b8f785dcc07a462edc133"),
        0);
    ASSERT_EQ(ykt_password_verify("", "pbkdf2-sha256$1$" KAT_SALT "$" KAT1_DK), 1);
    ASSERT_EQ(ykt_password_verify("a", "pbkdf2-sha256$1$" KAT_SALT "$" KAT1_DK), 0);
}

static void test_password_malformed(void)
{
    static const char *const bad[] = {
        "",
        "pbkdf2-sha256$",
        "pbkdf2-sha256",
        "plain-text-password",
        "pbkdf2-sha1$1000$" KAT_SALT "$" KAT_DK,
        "PBKDF2-SHA256$1000$" KAT_SALT "$" KAT_DK,
        "pbkdf2-sha256$0$" KAT_SALT "$" KAT_DK,
        "pbkdf2-sha256$$" KAT_SALT "$" KAT_DK,
        "pbkdf2-sha256$x$" KAT_SALT "$" KAT_DK,
        /* A sign or space before the count (scanf's %u would take "-1" as 4294967295). */
        "pbkdf2-sha256$-1$" KAT_SALT "$" KAT_DK,
        "pbkdf2-sha256$+1000$" KAT_SALT "$" KAT_DK,
        "pbkdf2-sha256$ 1000$" KAT_SALT "$" KAT_DK,
        /* A count that wraps around 2^32. */
        "pbkdf2-sha256$4294967297$" KAT_SALT "$" KAT_DK,
        "pbkdf2-sha256$1000" KAT_SALT "$" KAT_DK,
        /* Salt: short, long, upper case, not hex, missing. */
        "pbkdf2-sha256$1000$101112131415161718191a1b1c1d1e1$" KAT_DK,
        "pbkdf2-sha256$1000$101112131415161718191a1b1c1d1e1f0$" KAT_DK,
        "pbkdf2-sha256$1000$101112131415161718191A1B1C1D1E1F$" KAT_DK,
        "pbkdf2-sha256$1000$10111213141516171819zz1b1c1d1e1f$" KAT_DK,
        "pbkdf2-sha256$1000$$" KAT_DK,
        /* Derived key: short, long, upper case, not hex, missing, trailing text. */
        "pbkdf2-sha256$1000$" KAT_SALT
        "$9524bfad492439ac20bd58f00812b0223604192c314b8f785dcc07a462edc13",
        "pbkdf2-sha256$1000$" KAT_SALT "$" KAT_DK "0",
        "pbkdf2-sha256$1000$" KAT_SALT
        "$9524BFAD492439AC20BD58F00812B0223604192C314B8F785DCC07A462EDC132",
        "pbkdf2-sha256$1000$" KAT_SALT
        "$9524bfad492439ac20bd58f00812b0223604192c314b8f785dcc07a462edc13g",
        "pbkdf2-sha256$1000$" KAT_SALT "$",
        "pbkdf2-sha256$1000$" KAT_SALT,
        "pbkdf2-sha256$1000$" KAT_SALT "$" KAT_DK "$",
        "pbkdf2-sha256$1000$" KAT_SALT "$" KAT_DK " ",
        "pbkdf2-sha256$1000$" KAT_SALT "$" KAT_DK "\n",
    };
    for (size_t i = 0; i < YKT_ARRAY_LEN(bad); i++) {
        int rc = ykt_password_verify(KAT_PASSWORD, bad[i]);
        if (rc != YKT_EINVAL)
            fprintf(stderr, "stored hash #%zu '%s' gave %d\n", i, bad[i], rc);
        ASSERT_EQ(rc, YKT_EINVAL);
    }
}

int main(void)
{
    printf("test_secret\n");
    RUN(test_hex_round_trip);
    RUN(test_hex_rejects);
    RUN(test_ct_equal);
    RUN(test_wipe_and_random);
    RUN(test_secret_generate);
    RUN(test_password_round_trip);
    RUN(test_password_known_answer);
    RUN(test_password_malformed);
    printf("ok\n");
    return 0;
}
