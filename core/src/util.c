#include "util.h"
#include "common.h"

#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

const char *ykt_strerror(int err)
{
    switch (err) {
    case YKT_OK:
        return "success";
    case YKT_ENOMEM:
        return "out of memory";
    case YKT_EINVAL:
        return "invalid argument";
    case YKT_EIO:
        return "I/O error";
    case YKT_ENOTFOUND:
        return "not found";
    case YKT_EEXIST:
        return "already exists";
    case YKT_ESTORAGE:
        return "storage error";
    case YKT_EPERM:
        return "not permitted";
    case YKT_ELIMIT:
        return "limit exceeded";
    case YKT_EAGAIN:
        return "incomplete";
    case YKT_ESTATE:
        return "wrong state";
    default:
        return "unknown error";
    }
}

#ifdef YKT_TEST_CLOCK
/* Test builds only (CMake's YKT_TESTS): the environment's YKT_TEST_CLOCK_OFFSET_MS shifts
 * the gateway's clock, so tests that need a given day (a school day in class hours, for the
 * attendance policies) run on it whatever the machine's date. Read once, before any thread
 * may ask. Release builds have no such hook. */
static int64_t test_clock_offset;
static pthread_once_t test_clock_once = PTHREAD_ONCE_INIT;

static void test_clock_read(void)
{
    const char *s = getenv("YKT_TEST_CLOCK_OFFSET_MS");
    if (s != NULL)
        test_clock_offset = strtoll(s, NULL, 10);
}

int64_t ykt_test_clock_offset_ms(void)
{
    pthread_once(&test_clock_once, test_clock_read);
    return test_clock_offset;
}
#endif

int64_t ykt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#ifdef YKT_TEST_CLOCK
    ms += ykt_test_clock_offset_ms();
#endif
    return ms;
}

void ykt_format_time(int64_t ms, char *buf, size_t len)
{
    if (ms <= 0) {
        ykt_strlcpy(buf, "-", len);
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ykt_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    /* Plain decimal only: strtoll would also take "+1" and leading blanks, and a number
     * should have one spelling on the wire (signed card fields, idempotency digests). */
    if (s == NULL || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return YKT_EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return YKT_EINVAL;
    *out = v;
    return YKT_OK;
}

int ykt_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"};
    static const char *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return YKT_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return YKT_OK;
        }
    }
    return YKT_EINVAL;
}

/* Splits "123abc" into the number 123 and the suffix "abc". */
static int split_number(const char *s, int64_t *num, const char **suffix)
{
    if (s == NULL || !isdigit((unsigned char)*s))
        return YKT_EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || v < 0)
        return YKT_EINVAL;
    *num = v;
    *suffix = end;
    return YKT_OK;
}

static int scale(int64_t v, int64_t unit, int64_t *out)
{
    if (v > INT64_MAX / unit)
        return YKT_EINVAL;
    *out = v * unit;
    return YKT_OK;
}

int ykt_parse_size(const char *s, int64_t *out)
{
    int64_t v;
    const char *suf;
    if (split_number(s, &v, &suf) != YKT_OK)
        return YKT_EINVAL;
    if (*suf == '\0')
        return scale(v, 1, out);
    if (suf[1] != '\0' && strcasecmp(suf + 1, "b") != 0 && strcasecmp(suf + 1, "ib") != 0)
        return YKT_EINVAL;
    switch (tolower((unsigned char)*suf)) {
    case 'k':
        return scale(v, 1024, out);
    case 'm':
        return scale(v, 1024 * 1024, out);
    case 'g':
        return scale(v, 1024 * 1024 * 1024, out);
    default:
        return YKT_EINVAL;
    }
}

int ykt_parse_duration_ms(const char *s, int64_t *out)
{
    int64_t v;
    const char *suf;
    if (split_number(s, &v, &suf) != YKT_OK)
        return YKT_EINVAL;
    if (*suf == '\0' || strcmp(suf, "s") == 0)
        return scale(v, 1000, out);
    if (strcmp(suf, "ms") == 0)
        return scale(v, 1, out);
    if (strcmp(suf, "m") == 0 || strcmp(suf, "min") == 0)
        return scale(v, 60 * 1000, out);
    if (strcmp(suf, "h") == 0)
        return scale(v, 3600 * 1000, out);
    if (strcmp(suf, "d") == 0)
        return scale(v, 86400 * 1000, out);
    return YKT_EINVAL;
}

int ykt_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return YKT_EINVAL;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return YKT_EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return YKT_EINVAL;
    int64_t p;
    if (ykt_parse_int64(colon + 1, 0, 65535, &p) != YKT_OK)
        return YKT_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return YKT_OK;
}

size_t ykt_strlcpy(char *dst, const char *src, size_t len)
{
    size_t n = strlen(src);
    if (len > 0) {
        size_t c = n < len - 1 ? n : len - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

bool ykt_str_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

bool ykt_is_ident(const char *s, size_t maxlen)
{
    /* A letter or digit first: "-x" would read as an option on a command line. */
    if (!isalnum((unsigned char)s[0]))
        return false;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n > 0 && n <= maxlen;
}

/* Returns the offset of the first byte that is not part of well-formed UTF-8 (no overlong
 * forms, no surrogates, nothing above U+10FFFF), or n when all of it is. */
size_t ykt_utf8_bad_offset(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (n - i <= k)
            return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += k + 1;
    }
    return n;
}

bool ykt_text_printable(const char *s)
{
    size_t n = strlen(s);
    if (ykt_utf8_bad_offset((const unsigned char *)s, n) != n)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* U+0080..U+009F */
            return false;
    }
    return true;
}
