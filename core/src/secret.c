#include "secret.h"
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>

#define SALT_LEN 16
#define DK_LEN   32

int ykt_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return YKT_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return YKT_OK;
}

void ykt_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ykt_hex_decode(const char *hex, uint8_t *out, size_t len)
{
    if (strlen(hex) != 2 * len)
        return YKT_EINVAL;
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return YKT_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return YKT_OK;
}

bool ykt_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

void ykt_wipe(void *p, size_t len)
{
    mbedtls_platform_zeroize(p, len);
}

int ykt_secret_generate(char *out, size_t outlen)
{
    uint8_t raw[16];
    if (outlen < 2 * sizeof raw + 1)
        return YKT_EINVAL;
    if (ykt_random_bytes(raw, sizeof raw) != YKT_OK)
        return YKT_EIO;
    ykt_hex_encode(raw, sizeof raw, out);
    ykt_wipe(raw, sizeof raw);
    return YKT_OK;
}

static int pbkdf2(const char *password, const uint8_t *salt, uint32_t iterations,
                  uint8_t out[DK_LEN])
{
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    int rc = mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
    if (rc == 0)
        rc = mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const unsigned char *)password, strlen(password),
                                       salt, SALT_LEN, iterations, DK_LEN, out);
    mbedtls_md_free(&ctx);
    return rc == 0 ? YKT_OK : YKT_EIO;
}

int ykt_password_hash(const char *password, uint32_t iterations, char *out, size_t outlen)
{
    uint8_t salt[SALT_LEN], dk[DK_LEN];
    char salt_hex[2 * SALT_LEN + 1], dk_hex[2 * DK_LEN + 1];
    if (iterations == 0 || ykt_random_bytes(salt, sizeof salt) != YKT_OK)
        return YKT_EIO;
    if (pbkdf2(password, salt, iterations, dk) != YKT_OK)
        return YKT_EIO;
    ykt_hex_encode(salt, sizeof salt, salt_hex);
    ykt_hex_encode(dk, sizeof dk, dk_hex);
    ykt_wipe(dk, sizeof dk);
    int n = snprintf(out, outlen, "pbkdf2-sha256$%u$%s$%s", iterations, salt_hex, dk_hex);
    return n > 0 && (size_t)n < outlen ? YKT_OK : YKT_EINVAL;
}

int ykt_password_verify(const char *password, const char *stored)
{
    unsigned iterations;
    char salt_hex[2 * SALT_LEN + 1], dk_hex[2 * DK_LEN + 1];
    int end = 0;
    /* %u alone would accept "-1" (4294967295 rounds), a sign or spaces, and %64[...] would
     * ignore anything after the 64th digit: require plain digits and the end of the string. */
    static const char prefix[] = "pbkdf2-sha256$";
    if (strncmp(stored, prefix, sizeof prefix - 1) != 0)
        return YKT_EINVAL;
    size_t ndigits = strspn(stored + sizeof prefix - 1, "0123456789");
    if (ndigits == 0 || ndigits > 9 ||
        sscanf(stored, "pbkdf2-sha256$%u$%32[0-9a-f]$%64[0-9a-f]%n", &iterations, salt_hex, dk_hex,
               &end) != 3 ||
        stored[end] != '\0' || iterations == 0)
        return YKT_EINVAL;
    uint8_t salt[SALT_LEN], want[DK_LEN], got[DK_LEN];
    if (ykt_hex_decode(salt_hex, salt, sizeof salt) != YKT_OK ||
        ykt_hex_decode(dk_hex, want, sizeof want) != YKT_OK)
        return YKT_EINVAL;
    if (pbkdf2(password, salt, iterations, got) != YKT_OK)
        return YKT_EIO;
    bool ok = ykt_ct_equal(got, want, DK_LEN);
    ykt_wipe(got, sizeof got);
    return ok ? 1 : 0;
}
