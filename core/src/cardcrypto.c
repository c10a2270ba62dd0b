#include "cardcrypto.h"
#include "common.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/aes.h>
#include <mbedtls/cipher.h>
#include <mbedtls/cmac.h>

/* A key file is one line; anything much larger is not a key file and is not read whole. */
#define KEYFILE_MAX 4096

int ykt_aes_cmac(const uint8_t key[16], const uint8_t *msg, size_t len, uint8_t mac[16])
{
    if (key == NULL || mac == NULL || (msg == NULL && len > 0))
        return YKT_EINVAL;
    const mbedtls_cipher_info_t *info = mbedtls_cipher_info_from_type(MBEDTLS_CIPHER_AES_128_ECB);
    if (info == NULL)
        return YKT_EIO;
    /* mbedTLS reads the message pointer even for an empty message, so give it a valid one. */
    static const uint8_t empty[1];
    int rc = mbedtls_cipher_cmac(info, key, 128, len > 0 ? msg : empty, len, mac);
    return rc == 0 ? YKT_OK : YKT_EIO;
}

/* Doubling in GF(2^128) as SP 800-38B defines it for the CMAC subkeys. */
static void gf_double(const uint8_t in[16], uint8_t out[16])
{
    uint8_t carry = in[0] >> 7;
    for (int i = 0; i < 15; i++)
        out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
    out[15] = (uint8_t)(in[15] << 1 ^ (carry ? 0x87 : 0));
}

int ykt_card_diversify(const uint8_t master[16], const uint8_t *uid, size_t uid_len,
                       const uint8_t *aid3, const uint8_t *sysid, size_t sysid_len, uint8_t out[16])
{
    if (master == NULL || uid == NULL || uid_len == 0 || aid3 == NULL || out == NULL ||
        (sysid == NULL && sysid_len > 0) || uid_len + YKT_AID_LEN + sysid_len > YKT_DIV_INPUT_MAX)
        return YKT_EINVAL;

    /*
     * AN10922 always runs CMAC over exactly two blocks: D = 0x01 || M, padded to 32 bytes.
     * mbedTLS's CMAC would pad a short D to one block only, which gives a different key when
     * M is 15 bytes or shorter, so the two blocks are computed here with the raw cipher.
     */
    uint8_t d[32] = {0};
    size_t n = 0;
    d[n++] = 0x01;
    memcpy(d + n, uid, uid_len);
    n += uid_len;
    memcpy(d + n, aid3, YKT_AID_LEN);
    n += YKT_AID_LEN;
    if (sysid_len > 0)
        memcpy(d + n, sysid, sysid_len);
    n += sysid_len;
    bool padded = n < sizeof d;
    if (padded)
        d[n] = 0x80;

    uint8_t l[16] = {0}, k1[16], k2[16], x[16];
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    int rc = mbedtls_aes_setkey_enc(&aes, master, 128);
    if (rc == 0)
        rc = mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, l, l);
    if (rc == 0) {
        gf_double(l, k1);
        gf_double(k1, k2);
        const uint8_t *sub = padded ? k2 : k1;
        for (int i = 0; i < 16; i++)
            d[16 + i] ^= sub[i];
        rc = mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, d, x);
    }
    if (rc == 0) {
        for (int i = 0; i < 16; i++)
            x[i] ^= d[16 + i];
        rc = mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, x, out);
    }
    mbedtls_aes_free(&aes);
    ykt_wipe(l, sizeof l);
    ykt_wipe(k1, sizeof k1);
    ykt_wipe(k2, sizeof k2);
    ykt_wipe(x, sizeof x);
    ykt_wipe(d, sizeof d);
    if (rc != 0) {
        ykt_wipe(out, 16);
        return YKT_EIO;
    }
    return YKT_OK;
}

int ykt_card_key(const uint8_t master[16], const uint8_t *uid, size_t uid_len, int medium,
                 const uint8_t *campus, size_t campus_len, uint8_t out[16])
{
    static const uint8_t aid_card[YKT_AID_LEN] = {0x59, 0x4B, 0x54};  /* "YKT" */
    static const uint8_t aid_phone[YKT_AID_LEN] = {0x59, 0x4B, 0x56}; /* "YKV" */
    const uint8_t *aid;
    if (medium == YKT_MEDIUM_CARD)
        aid = aid_card;
    else if (medium == YKT_MEDIUM_PHONE)
        aid = aid_phone;
    else
        return YKT_EINVAL;
    /* An empty campus code would make the key independent of the campus, which the
     * convention exists to prevent. */
    if (uid_len > YKT_UID_MAX || campus == NULL || campus_len == 0)
        return YKT_EINVAL;
    return ykt_card_diversify(master, uid, uid_len, aid, campus, campus_len, out);
}

static void put_be(uint8_t *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int ykt_cryptogram_encode(const ykt_cryptogram_input *in, uint8_t *out, size_t outlen,
                          size_t *written)
{
    if (in == NULL || out == NULL || written == NULL || in->terminal_id == NULL ||
        in->operation == NULL)
        return YKT_EINVAL;
    uint8_t version = in->reserved == 0 ? YKT_CRYPTOGRAM_V1 : in->reserved;
    if (version != YKT_CRYPTOGRAM_V1)
        return YKT_EINVAL;
    size_t tlen = strlen(in->terminal_id), plen = strlen(in->operation);
    if (tlen == 0 || tlen > YKT_CRYPTOGRAM_TERMINAL_MAX || in->uid_len == 0 ||
        in->uid_len > YKT_UID_MAX || plen == 0 || plen > YKT_CRYPTOGRAM_OPERATION_MAX)
        return YKT_EINVAL;
    size_t total = 32 + tlen + in->uid_len + plen;
    if (outlen < total)
        return YKT_EINVAL;

    uint8_t *p = out;
    *p++ = version;
    *p++ = (uint8_t)tlen;
    memcpy(p, in->terminal_id, tlen);
    p += tlen;
    put_be(p, in->terminal_seq, 8);
    p += 8;
    *p++ = (uint8_t)in->uid_len;
    memcpy(p, in->uid, in->uid_len);
    p += in->uid_len;
    put_be(p, in->atc, 4);
    p += 4;
    *p++ = (uint8_t)plen;
    memcpy(p, in->operation, plen);
    p += plen;
    /* Signed values go out as their two's-complement bit pattern; the cast is defined. */
    put_be(p, (uint64_t)in->amount, 8);
    p += 8;
    put_be(p, (uint64_t)in->time_ms, 8);
    p += 8;
    *written = (size_t)(p - out);
    return YKT_OK;
}

int ykt_cryptogram_compute(const uint8_t card_key[16], const ykt_cryptogram_input *in,
                           uint8_t mac[8])
{
    uint8_t enc[YKT_CRYPTOGRAM_ENCODED_MAX], full[YKT_CMAC_LEN];
    size_t len;
    if (card_key == NULL || mac == NULL)
        return YKT_EINVAL;
    int rc = ykt_cryptogram_encode(in, enc, sizeof enc, &len);
    if (rc == YKT_OK)
        rc = ykt_aes_cmac(card_key, enc, len, full);
    if (rc == YKT_OK)
        memcpy(mac, full, YKT_CRYPTOGRAM_LEN);
    ykt_wipe(full, sizeof full);
    return rc;
}

bool ykt_cryptogram_verify(const uint8_t card_key[16], const ykt_cryptogram_input *in,
                           const uint8_t mac[8])
{
    uint8_t want[YKT_CRYPTOGRAM_LEN];
    if (mac == NULL || ykt_cryptogram_compute(card_key, in, want) != YKT_OK)
        return false;
    bool ok = ykt_ct_equal(want, mac, sizeof want);
    ykt_wipe(want, sizeof want);
    return ok;
}

/* Reads at most KEYFILE_MAX bytes; *len is set to KEYFILE_MAX + 1 if the file is longer. */
static int read_bounded(int fd, char *buf, size_t *len)
{
    size_t n = 0;
    while (n < KEYFILE_MAX + 1) {
        ssize_t r = read(fd, buf + n, KEYFILE_MAX + 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return YKT_EIO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return YKT_OK;
}

/*
 * Finds the single key line in buf (NUL-terminated, modified in place). Messages mention
 * lengths and line numbers only, never content, because the content is the key.
 */
static int parse_keyfile(char *buf, uint8_t key[16], const char *path, char *err, size_t errlen)
{
    int found = 0, lineno = 0;
    char *next;
    for (char *line = buf; line != NULL; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;

        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (found) {
            snprintf(err, errlen, "key file %s: more than one key line (second at line %d)", path,
                     lineno);
            return YKT_EINVAL;
        }
        if (n != 2 * YKT_AES_KEY_LEN) {
            snprintf(err, errlen,
                     "key file %s: line %d must be 32 hex digits, it has %zu characters", path,
                     lineno, n);
            return YKT_EINVAL;
        }
        if (ykt_hex_decode(line, key, YKT_AES_KEY_LEN) != YKT_OK) {
            snprintf(err, errlen, "key file %s: line %d is not 32 hex digits", path, lineno);
            return YKT_EINVAL;
        }
        found = 1;
    }
    if (!found) {
        snprintf(err, errlen, "key file %s holds no key line", path);
        return YKT_EINVAL;
    }
    /* An all-zero key is a placeholder someone forgot to replace, not a key. */
    static const uint8_t zero[YKT_AES_KEY_LEN];
    if (ykt_ct_equal(key, zero, YKT_AES_KEY_LEN)) {
        snprintf(err, errlen, "key file %s holds an all-zero key; generate a real one", path);
        return YKT_EINVAL;
    }
    return YKT_OK;
}

int ykt_master_key_load(const char *path, uint8_t key[16], char *err, size_t errlen)
{
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (path == NULL || key == NULL) {
        snprintf(err, errlen, "no key file given");
        return YKT_EINVAL;
    }

    /* O_NONBLOCK keeps a FIFO from hanging the open; fstat then refuses it. Checking the
     * opened descriptor, not the path, means the file checked is the file read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open key file %s: %s", path, strerror(errno));
        return YKT_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat key file %s: %s", path, strerror(errno));
        close(fd);
        return YKT_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "key file %s is not a regular file", path);
        close(fd);
        return YKT_EPERM;
    }
    unsigned mode = (unsigned)(st.st_mode & 07777);
    if (mode != 0600 && mode != 0400) {
        snprintf(err, errlen,
                 "key file %s has mode %04o; it must be 0600 or 0400 (no group or other access)",
                 path, mode);
        close(fd);
        return YKT_EPERM;
    }

    char buf[KEYFILE_MAX + 2];
    uint8_t tmp[YKT_AES_KEY_LEN];
    size_t len = 0;
    int rc = read_bounded(fd, buf, &len);
    int saved_errno = errno;
    close(fd);
    if (rc != YKT_OK) {
        snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(saved_errno));
    } else if (len > KEYFILE_MAX) {
        snprintf(err, errlen, "key file %s is larger than %d bytes", path, KEYFILE_MAX);
        rc = YKT_EINVAL;
    } else if (memchr(buf, '\0', len) != NULL) {
        snprintf(err, errlen, "key file %s contains a NUL byte", path);
        rc = YKT_EINVAL;
    } else {
        buf[len] = '\0';
        rc = parse_keyfile(buf, tmp, path, err, errlen);
        if (rc == YKT_OK)
            memcpy(key, tmp, YKT_AES_KEY_LEN);
    }
    ykt_wipe(buf, sizeof buf);
    ykt_wipe(tmp, sizeof tmp);
    return rc;
}
