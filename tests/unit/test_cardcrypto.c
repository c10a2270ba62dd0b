/*
 * Known-answer and property tests for the card cryptography: AES-CMAC against NIST SP 800-38B,
 * key diversification against NXP AN10922, the cryptogram encoding and the key-file loader.
 */
#include "test.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cardcrypto.h"
#include "common.h"
#include "secret.h"

static void unhex(const char *hex, uint8_t *out, size_t len)
{
    ASSERT_EQ(ykt_hex_decode(hex, out, len), YKT_OK);
}

static void assert_hex(const uint8_t *got, size_t len, const char *want)
{
    char buf[2 * 64 + 1];
    ASSERT(len <= 64);
    ykt_hex_encode(got, len, buf);
    ASSERT_STREQ(buf, want);
}

/* NIST SP 800-38B, appendix D.1 (AES-128). */
static const char nist_key[] = "2b7e151628aed2a6abf7158809cf4f3c";
static const char nist_msg[] = "6bc1bee22e409f96e93d7e117393172a"
                               "ae2d8a571e03ac9c9eb76fac45af8e51"
                               "30c81c46a35ce411e5fbc1191a0a52ef"
                               "f69f2445df4f9b17ad2b417be66c3710";

static void test_cmac_nist(void)
{
    uint8_t key[16], msg[64], mac[16];
    unhex(nist_key, key, sizeof key);
    unhex(nist_msg, msg, sizeof msg);

    ASSERT_EQ(ykt_aes_cmac(key, NULL, 0, mac), YKT_OK);
    assert_hex(mac, 16, "bb1d6929e95937287fa37d129b756746");
    ASSERT_EQ(ykt_aes_cmac(key, msg, 16, mac), YKT_OK);
    assert_hex(mac, 16, "070a16b46b4d4144f79bdd9dd04a287c");
    ASSERT_EQ(ykt_aes_cmac(key, msg, 40, mac), YKT_OK);
    assert_hex(mac, 16, "dfa66747de9ae63030ca32611497c827");
    ASSERT_EQ(ykt_aes_cmac(key, msg, 64, mac), YKT_OK);
    assert_hex(mac, 16, "51f0bebf7e3b9d92fc49741779363cfe");

    ASSERT_EQ(ykt_aes_cmac(key, NULL, 1, mac), YKT_EINVAL);
}

static const char an_master[] = "00112233445566778899AABBCCDDEEFF";
static const char an_uid[] = "04782E21801D80";

/* The AES-128 example of NXP AN10922 section 2.2.1. */
static void test_an10922_example(void)
{
    uint8_t master[16], uid[7], aid[3], sysid[7], out[16];
    unhex(an_master, master, sizeof master);
    unhex(an_uid, uid, sizeof uid);
    unhex("3042F5", aid, sizeof aid);
    unhex("4E585020416275", sysid, sizeof sysid);
    ASSERT_EQ(ykt_card_diversify(master, uid, sizeof uid, aid, sysid, sizeof sysid, out), YKT_OK);
    assert_hex(out, 16, "a8dd63a3b89d54b37ca802473fda9175");
}

/*
 * With M of 15 bytes or fewer AN10922 still pads to two blocks, so the result differs from
 * a plain CMAC over 0x01 || M. The expected value was computed independently in Python
 * (pyca/cryptography AES-ECB with the AN10922 steps written out).
 */
static void test_an10922_short_input(void)
{
    uint8_t master[16], uid[7], aid[3], out[16], d[11], plain[16];
    unhex(an_master, master, sizeof master);
    unhex(an_uid, uid, sizeof uid);
    unhex("3042F5", aid, sizeof aid);
    ASSERT_EQ(ykt_card_diversify(master, uid, sizeof uid, aid, NULL, 0, out), YKT_OK);
    assert_hex(out, 16, "0daa19eeea04340de38a20330013090d");

    d[0] = 0x01;
    memcpy(d + 1, uid, 7);
    memcpy(d + 8, aid, 3);
    ASSERT_EQ(ykt_aes_cmac(master, d, sizeof d, plain), YKT_OK);
    assert_hex(plain, 16, "5351d428bee43d9cf694523596a09eb6");
    ASSERT(memcmp(out, plain, 16) != 0);
}

/* For M of 16..31 bytes the AN10922 procedure coincides with plain CMAC over 0x01 || M. */
static void test_an10922_matches_cmac_for_long_input(void)
{
    uint8_t master[16], m[32], d[33], out[16], plain[16];
    unhex(an_master, master, sizeof master);
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (uint8_t)(i + 1);
    for (size_t mlen = 16; mlen <= 31; mlen++) {
        d[0] = 0x01;
        memcpy(d + 1, m, mlen);
        ASSERT_EQ(ykt_card_diversify(master, m, mlen - 3, m + mlen - 3, NULL, 0, out), YKT_OK);
        ASSERT_EQ(ykt_aes_cmac(master, d, mlen + 1, plain), YKT_OK);
        ASSERT(memcmp(out, plain, 16) == 0);
    }
    /* 31 bytes of M, computed independently in Python. */
    ASSERT_EQ(ykt_card_diversify(master, m, 28, m + 28, NULL, 0, out), YKT_OK);
    assert_hex(out, 16, "db1e697c02d65fadd04fda40ecaacff4");

    /* 32 bytes of M is over the AN10922 limit; so is an empty UID. */
    ASSERT_EQ(ykt_card_diversify(master, m, 29, m + 29, NULL, 0, out), YKT_EINVAL);
    ASSERT_EQ(ykt_card_diversify(master, m, 0, m, m, 4, out), YKT_EINVAL);
    ASSERT_EQ(ykt_card_diversify(master, m, 4, m, NULL, 2, out), YKT_EINVAL);
}

static const uint8_t campus[] = {'D', 'E', 'M', 'O'};

static void test_card_key_convention(void)
{
    uint8_t master[16], uid[7], card[16], phone[16], aid_card[3] = {0x59, 0x4B, 0x54}, div[16];
    unhex(an_master, master, sizeof master);
    unhex(an_uid, uid, sizeof uid);

    ASSERT_EQ(ykt_card_key(master, uid, 7, YKT_MEDIUM_CARD, campus, sizeof campus, card), YKT_OK);
    ASSERT_EQ(ykt_card_key(master, uid, 7, YKT_MEDIUM_PHONE, campus, sizeof campus, phone), YKT_OK);
    /* Both values cross-checked in Python. */
    assert_hex(card, 16, "5d017015cb29127aef957471c434518c");
    assert_hex(phone, 16, "5dacd82dc0286de7da50f02d2556d583");
    ASSERT(memcmp(card, phone, 16) != 0);

    ASSERT_EQ(ykt_card_diversify(master, uid, 7, aid_card, campus, sizeof campus, div), YKT_OK);
    ASSERT(memcmp(card, div, 16) == 0);

    ASSERT_EQ(ykt_card_key(master, uid, 7, 0, campus, sizeof campus, div), YKT_EINVAL);
    ASSERT_EQ(ykt_card_key(master, uid, 7, YKT_MEDIUM_CARD, campus, 0, div), YKT_EINVAL);
    ASSERT_EQ(ykt_card_key(master, uid, 11, YKT_MEDIUM_CARD, campus, 1, div), YKT_EINVAL);
}

static void test_card_key_differs_by_uid_and_campus(void)
{
    uint8_t master[16], uid_a[7], uid_b[7], ka[16], kb[16], kc[16];
    unhex(an_master, master, sizeof master);
    unhex(an_uid, uid_a, sizeof uid_a);
    memcpy(uid_b, uid_a, sizeof uid_b);
    uid_b[6] ^= 0x01;
    ASSERT_EQ(ykt_card_key(master, uid_a, 7, YKT_MEDIUM_CARD, campus, sizeof campus, ka), YKT_OK);
    ASSERT_EQ(ykt_card_key(master, uid_b, 7, YKT_MEDIUM_CARD, campus, sizeof campus, kb), YKT_OK);
    ASSERT(memcmp(ka, kb, 16) != 0);

    /* A 4-byte UID that is a prefix of the 7-byte one is a different card, too. */
    ASSERT_EQ(ykt_card_key(master, uid_a, 4, YKT_MEDIUM_CARD, campus, sizeof campus, kb), YKT_OK);
    ASSERT(memcmp(ka, kb, 16) != 0);

    static const uint8_t other[] = {'E', 'A', 'S', 'T'};
    ASSERT_EQ(ykt_card_key(master, uid_a, 7, YKT_MEDIUM_CARD, other, sizeof other, kc), YKT_OK);
    ASSERT(memcmp(ka, kc, 16) != 0);
}

/* The worked example of docs/card-crypto.md. */
static ykt_cryptogram_input demo_input(void)
{
    ykt_cryptogram_input in = {0};
    in.terminal_id = "POS-0001";
    in.terminal_seq = 42;
    unhex(an_uid, in.uid, 7);
    in.uid_len = 7;
    in.atc = 7;
    in.operation = "PAY";
    in.amount = 1250;
    in.time_ms = 1700000000000;
    return in;
}

static void demo_card_key(uint8_t key[16])
{
    uint8_t master[16], uid[7];
    unhex(an_master, master, sizeof master);
    unhex(an_uid, uid, sizeof uid);
    ASSERT_EQ(ykt_card_key(master, uid, 7, YKT_MEDIUM_CARD, campus, sizeof campus, key), YKT_OK);
}

static void test_cryptogram_demo_vector(void)
{
    uint8_t key[16], enc[YKT_CRYPTOGRAM_ENCODED_MAX], mac[8];
    size_t len = 0;
    ykt_cryptogram_input in = demo_input();
    demo_card_key(key);
    ASSERT_EQ(ykt_cryptogram_encode(&in, enc, sizeof enc, &len), YKT_OK);
    ASSERT_EQ(len, 32 + 8 + 7 + 3);
    assert_hex(enc, len,
               "0108504f532d30303031000000000000002a0704782e21801d800000000703504159"
               "00000000000004e20000018bcfe56800");
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_OK);
    assert_hex(mac, 8, "0523ee6e58a012f9");
    ASSERT(ykt_cryptogram_verify(key, &in, mac));

    /* A version byte of 1 is the same as the default 0; anything else is not defined yet. */
    uint8_t mac1[8];
    in.reserved = YKT_CRYPTOGRAM_V1;
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac1), YKT_OK);
    ASSERT(memcmp(mac, mac1, 8) == 0);
    in.reserved = 2;
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac1), YKT_EINVAL);
    ASSERT(!ykt_cryptogram_verify(key, &in, mac));
}

static void assert_mac_changes(const uint8_t key[16], const ykt_cryptogram_input *in,
                               const uint8_t base[8])
{
    uint8_t mac[8];
    ASSERT_EQ(ykt_cryptogram_compute(key, in, mac), YKT_OK);
    ASSERT(memcmp(mac, base, 8) != 0);
    ASSERT(!ykt_cryptogram_verify(key, in, base));
}

static void test_cryptogram_every_field_counts(void)
{
    uint8_t key[16], base[8];
    demo_card_key(key);
    ykt_cryptogram_input in = demo_input(), m;
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, base), YKT_OK);

    m = in;
    m.terminal_id = "POS-0002";
    assert_mac_changes(key, &m, base);
    m = in;
    m.terminal_seq++;
    assert_mac_changes(key, &m, base);
    m = in;
    m.uid[0] ^= 0x80;
    assert_mac_changes(key, &m, base);
    m = in;
    m.uid_len = 4;
    assert_mac_changes(key, &m, base);
    m = in;
    m.atc++;
    assert_mac_changes(key, &m, base);
    m = in;
    m.operation = "TOPUP";
    assert_mac_changes(key, &m, base);
    m = in;
    m.amount = 125000; /* a forged amount */
    assert_mac_changes(key, &m, base);
    m = in;
    m.amount = -1250;
    assert_mac_changes(key, &m, base);
    m = in;
    m.time_ms++;
    assert_mac_changes(key, &m, base);

    /* The same fields under another card's key (a cloned card number) do not verify. */
    uint8_t master[16], other_uid[7], other_key[16];
    unhex(an_master, master, sizeof master);
    memcpy(other_uid, in.uid, 7);
    other_uid[3] ^= 0x10;
    ASSERT_EQ(ykt_card_key(master, other_uid, 7, YKT_MEDIUM_CARD, campus, sizeof campus, other_key),
              YKT_OK);
    ASSERT(!ykt_cryptogram_verify(other_key, &in, base));
    /* Nor under the phone key of the same card. */
    ASSERT_EQ(ykt_card_key(master, in.uid, 7, YKT_MEDIUM_PHONE, campus, sizeof campus, other_key),
              YKT_OK);
    ASSERT(!ykt_cryptogram_verify(other_key, &in, base));
}

static void test_cryptogram_verify_rejects_bit_flips(void)
{
    uint8_t key[16], mac[8];
    demo_card_key(key);
    ykt_cryptogram_input in = demo_input();
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_OK);
    ASSERT(ykt_cryptogram_verify(key, &in, mac));
    for (int bit = 0; bit < 64; bit++) {
        mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ASSERT(!ykt_cryptogram_verify(key, &in, mac));
        mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    ASSERT(ykt_cryptogram_verify(key, &in, mac));
    ASSERT(!ykt_cryptogram_verify(key, &in, NULL));
}

static void encode_ok(const ykt_cryptogram_input *in, uint8_t *out, size_t *len)
{
    ASSERT_EQ(ykt_cryptogram_encode(in, out, YKT_CRYPTOGRAM_ENCODED_MAX, len), YKT_OK);
}

static void test_cryptogram_encoding_unambiguous(void)
{
    uint8_t a[YKT_CRYPTOGRAM_ENCODED_MAX], b[YKT_CRYPTOGRAM_ENCODED_MAX], key[16], ma[8], mb[8];
    size_t alen, blen;
    demo_card_key(key);

    /* Moving a byte from the terminal id into the operation changes the encoding. */
    ykt_cryptogram_input x = demo_input(), y = demo_input();
    x.terminal_id = "AB";
    x.operation = "C";
    y.terminal_id = "A";
    y.operation = "BC";
    encode_ok(&x, a, &alen);
    encode_ok(&y, b, &blen);
    ASSERT_EQ(alen, blen);
    ASSERT(memcmp(a, b, alen) != 0);
    ASSERT_EQ(ykt_cryptogram_compute(key, &x, ma), YKT_OK);
    ASSERT_EQ(ykt_cryptogram_compute(key, &y, mb), YKT_OK);
    ASSERT(memcmp(ma, mb, 8) != 0);

    /* So does moving a byte from the UID into the terminal id. */
    x = demo_input();
    y = demo_input();
    x.terminal_id = "T";
    x.uid[0] = 'U';
    x.uid_len = 2;
    y.terminal_id = "TU";
    y.uid[0] = x.uid[1];
    y.uid_len = 1;
    encode_ok(&x, a, &alen);
    encode_ok(&y, b, &blen);
    ASSERT_EQ(alen, blen);
    ASSERT(memcmp(a, b, alen) != 0);

    /* Exact layout with the longest fields: lengths and offsets as documented. */
    char tid[YKT_CRYPTOGRAM_TERMINAL_MAX + 1], op[YKT_CRYPTOGRAM_OPERATION_MAX + 1];
    memset(tid, 'T', sizeof tid - 1);
    tid[sizeof tid - 1] = '\0';
    memset(op, 'P', sizeof op - 1);
    op[sizeof op - 1] = '\0';
    x = demo_input();
    x.terminal_id = tid;
    x.operation = op;
    x.uid_len = YKT_UID_MAX;
    x.terminal_seq = UINT64_MAX;
    x.atc = 0x01020304;
    x.amount = INT64_MIN;
    x.time_ms = -1;
    encode_ok(&x, a, &alen);
    ASSERT_EQ(alen, YKT_CRYPTOGRAM_ENCODED_MAX);
    ASSERT_EQ(a[0], 1);
    ASSERT_EQ(a[1], 63);
    ASSERT_EQ(a[2 + 63], 0xff);
    ASSERT_EQ(a[2 + 63 + 8], 10);
    size_t p = 2 + 63 + 8 + 1 + 10;
    ASSERT(memcmp(a + p, "\x01\x02\x03\x04", 4) == 0);
    ASSERT_EQ(a[p + 4], 31);
    p += 4 + 1 + 31;
    ASSERT(memcmp(a + p, "\x80\0\0\0\0\0\0\0", 8) == 0);
    ASSERT(memcmp(a + p + 8, "\xff\xff\xff\xff\xff\xff\xff\xff", 8) == 0);
    ASSERT_EQ(ykt_cryptogram_encode(&x, a, YKT_CRYPTOGRAM_ENCODED_MAX - 1, &alen), YKT_EINVAL);
}

static void test_cryptogram_rejects_bad_fields(void)
{
    uint8_t key[16], mac[8];
    char longer[YKT_CRYPTOGRAM_TERMINAL_MAX + 2];
    memset(longer, 'X', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    demo_card_key(key);
    ykt_cryptogram_input in;

    in = demo_input();
    in.terminal_id = "";
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_EINVAL);
    in.terminal_id = longer;
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_EINVAL);
    in.terminal_id = NULL;
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_EINVAL);
    in = demo_input();
    in.operation = "";
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_EINVAL);
    in.operation = longer + (sizeof longer - 1 - (YKT_CRYPTOGRAM_OPERATION_MAX + 1));
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_EINVAL);
    in = demo_input();
    in.uid_len = 0;
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_EINVAL);
    in.uid_len = YKT_UID_MAX + 1;
    ASSERT_EQ(ykt_cryptogram_compute(key, &in, mac), YKT_EINVAL);
    ASSERT(!ykt_cryptogram_verify(key, &in, mac));
}

/* ---- key file ---- */

static const char key_hex[] = "8f3a5c0e91d24b76a0c3e5f719b2d4c6";

/* Creates a temporary file with content and mode; path must hold 64 bytes. */
static void make_keyfile(char *path, const char *content, mode_t mode)
{
    strcpy(path, "/tmp/ykt-test-key-XXXXXX");
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    size_t len = strlen(content);
    ASSERT_EQ(write(fd, content, len), (ssize_t)len);
    ASSERT_EQ(fchmod(fd, mode), 0);
    close(fd);
}

static void assert_no_key_material(const char *err)
{
    static const char *pieces[] = {"8f3a5c0e", "91d24b76", "a0c3e5f7", "19b2d4c6",
                                   "8F3A5C0E", "91D24B76", "A0C3E5F7", "19B2D4C6"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(pieces); i++)
        ASSERT(strstr(err, pieces[i]) == NULL);
}

static void expect_refused(const char *content, mode_t mode, int want_rc, const char *want_text)
{
    char path[64], err[512];
    uint8_t key[16] = {0}, zero[16] = {0};
    make_keyfile(path, content, mode);
    int rc = ykt_master_key_load(path, key, err, sizeof err);
    unlink(path);
    ASSERT_EQ(rc, want_rc);
    ASSERT_CONTAINS(err, path);
    ASSERT_CONTAINS(err, want_text);
    assert_no_key_material(err);
    ASSERT(memcmp(key, zero, 16) == 0); /* nothing is written on failure */
}

static void test_master_key_load_accepts(void)
{
    char path[64], err[256];
    uint8_t key[16], want[16];
    unhex(key_hex, want, sizeof want);

    make_keyfile(path, "8f3a5c0e91d24b76a0c3e5f719b2d4c6\n", 0600);
    ASSERT_EQ(ykt_master_key_load(path, key, err, sizeof err), YKT_OK);
    ASSERT(memcmp(key, want, 16) == 0);
    unlink(path);

    memset(key, 0, sizeof key);
    make_keyfile(path,
                 "# ykt master key, generated 2024-05-01\n"
                 "\n"
                 "  8F3A5C0E91D24B76A0C3E5F719B2D4C6  # upper case is fine\r\n"
                 "# end\n",
                 0400);
    ASSERT_EQ(ykt_master_key_load(path, key, err, sizeof err), YKT_OK);
    ASSERT(memcmp(key, want, 16) == 0);
    unlink(path);

    /* No trailing newline. */
    make_keyfile(path, key_hex, 0600);
    ASSERT_EQ(ykt_master_key_load(path, key, err, sizeof err), YKT_OK);
    ASSERT(memcmp(key, want, 16) == 0);
    unlink(path);
}

static void test_master_key_load_refuses(void)
{
    const char *good = "8f3a5c0e91d24b76a0c3e5f719b2d4c6\n";
    expect_refused(good, 0644, YKT_EPERM, "mode 0644");
    expect_refused(good, 0660, YKT_EPERM, "mode 0660");
    expect_refused(good, 0640, YKT_EPERM, "mode 0640");
    expect_refused(good, 0700, YKT_EPERM, "mode 0700");
    expect_refused(good, 0604, YKT_EPERM, "0600 or 0400");

    expect_refused("8f3a5c0e91d24b76a0c3e5f719b2d4cg\n", 0600, YKT_EINVAL, "not 32 hex digits");
    expect_refused("8f3a5c0e91d24b76a0c3e5f7 19b2d4c6\n", 0600, YKT_EINVAL, "33 characters");
    expect_refused("8f3a5c0e91d24b76a0c3e5f719b2d4c\n", 0600, YKT_EINVAL, "31 characters");
    expect_refused("8f3a5c0e91d24b76a0c3e5f719b2d4c6c6\n", 0600, YKT_EINVAL, "34 characters");
    expect_refused("8f3a5c0e91d24b76a0c3e5f719b2d4c6\n8f3a5c0e91d24b76a0c3e5f719b2d4c6\n", 0600,
                   YKT_EINVAL, "more than one key line");
    expect_refused("", 0600, YKT_EINVAL, "no key line");
    expect_refused("# only a comment\n", 0600, YKT_EINVAL, "no key line");
    expect_refused("00000000000000000000000000000000\n", 0600, YKT_EINVAL, "all-zero");

    /* A directory, even one with a strict mode. */
    char dir[64], err[256];
    uint8_t key[16];
    strcpy(dir, "/tmp/ykt-test-keydir-XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
    ASSERT_EQ(chmod(dir, 0600), 0);
    ASSERT_EQ(ykt_master_key_load(dir, key, err, sizeof err), YKT_EPERM);
    ASSERT_CONTAINS(err, dir);
    ASSERT_CONTAINS(err, "not a regular file");
    ASSERT_EQ(rmdir(dir), 0);

    /* A missing file names the path and the reason. */
    ASSERT_EQ(ykt_master_key_load("/tmp/ykt-test-no-such-key", key, err, sizeof err), YKT_EIO);
    ASSERT_CONTAINS(err, "/tmp/ykt-test-no-such-key");

    /* A tiny error buffer truncates the message but never overflows. */
    char small[8];
    ASSERT_EQ(ykt_master_key_load("/tmp/ykt-test-no-such-key", key, small, sizeof small), YKT_EIO);
    ASSERT_EQ(strlen(small), sizeof small - 1);
}

int main(void)
{
    printf("test_cardcrypto\n");
    RUN(test_cmac_nist);
    RUN(test_an10922_example);
    RUN(test_an10922_short_input);
    RUN(test_an10922_matches_cmac_for_long_input);
    RUN(test_card_key_convention);
    RUN(test_card_key_differs_by_uid_and_campus);
    RUN(test_cryptogram_demo_vector);
    RUN(test_cryptogram_every_field_counts);
    RUN(test_cryptogram_verify_rejects_bit_flips);
    RUN(test_cryptogram_encoding_unambiguous);
    RUN(test_cryptogram_rejects_bad_fields);
    RUN(test_master_key_load_accepts);
    RUN(test_master_key_load_refuses);
    printf("ok\n");
    return 0;
}
