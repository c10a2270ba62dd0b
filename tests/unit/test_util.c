/* Unit tests for buf.c, map.c and util.c. */
#include "test.h"

#include "buf.h"
#include "common.h"
#include "map.h"
#include "util.h"

#include <stdbool.h>

/* ---- buf ---- */

static void test_buf_append_and_cstr(void)
{
    ykt_buf b;
    ykt_buf_init(&b);
    ASSERT(b.data == NULL);
    ASSERT_EQ(b.len, 0);
    ASSERT_STREQ(ykt_buf_cstr(&b), "");
    ykt_buf_append(&b, "abc", 3);
    ykt_buf_append(&b, "x", 0);
    ykt_buf_appends(&b, "def");
    ykt_buf_appendf(&b, "-%d-%s", 42, "z");
    ASSERT_EQ(b.len, 11);
    ASSERT_STREQ(ykt_buf_cstr(&b), "abcdef-42-z");
    /* cstr's NUL is not counted. */
    ASSERT_EQ(b.len, 11);
    ASSERT(b.cap > b.len);
    ykt_buf_appendf(&b, "%s", "");
    ASSERT_EQ(b.len, 11);
    ykt_buf_free(&b);
    ASSERT(b.data == NULL);
    ASSERT_EQ(b.len, 0);
    ASSERT_EQ(b.cap, 0);
}

static void test_buf_binary_and_growth(void)
{
    ykt_buf b;
    ykt_buf_init(&b);
    char chunk[1000];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)(i % 251);
    for (int i = 0; i < 100; i++)
        ykt_buf_append(&b, chunk, sizeof chunk);
    ASSERT_EQ(b.len, 100000);
    ASSERT(b.cap >= b.len + 1);
    for (int i = 0; i < 100; i++)
        ASSERT(memcmp(b.data + (size_t)i * sizeof chunk, chunk, sizeof chunk) == 0);
    /* A long formatted append. */
    ykt_buf_reset(&b);
    ASSERT_EQ(b.len, 0);
    ykt_buf_appendf(&b, "%05000d|", 7);
    ASSERT_EQ(b.len, 5001);
    ASSERT_EQ(b.data[4999], '7');
    ASSERT_EQ(b.data[0], '0');
    ASSERT_EQ(b.data[5000], '|');
    ykt_buf_free(&b);
}

static void test_buf_consume(void)
{
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_buf_appends(&b, "0123456789");
    ykt_buf_consume(&b, 3);
    ASSERT_EQ(b.len, 7);
    ASSERT_STREQ(ykt_buf_cstr(&b), "3456789");
    ykt_buf_consume(&b, 0);
    ASSERT_STREQ(ykt_buf_cstr(&b), "3456789");
    ykt_buf_consume(&b, 7);
    ASSERT_EQ(b.len, 0);
    ykt_buf_appends(&b, "ab");
    ykt_buf_consume(&b, 100);
    ASSERT_EQ(b.len, 0);
    ykt_buf_free(&b);
}

static void test_buf_reserve_and_shrink(void)
{
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_buf_reserve(&b, 100);
    ASSERT(b.cap >= 101);
    ASSERT_EQ(b.len, 0);
    ykt_buf_reserve(&b, 10000);
    size_t cap = b.cap;
    ASSERT(cap >= 10001);
    /* Shrinking keeps the contents when they fit. */
    ykt_buf_appends(&b, "hello");
    ykt_buf_shrink(&b, 64);
    ASSERT_EQ(b.cap, 64);
    ASSERT_STREQ(ykt_buf_cstr(&b), "hello");
    /* Nothing to release when the contents need the room. */
    ykt_buf_shrink(&b, 4);
    ASSERT_EQ(b.cap, 64);
    /* An empty buffer releases everything. */
    ykt_buf_reset(&b);
    ykt_buf_shrink(&b, 32);
    ASSERT(b.data == NULL);
    ASSERT_EQ(b.cap, 0);
    ykt_buf_appends(&b, "again");
    ASSERT_STREQ(ykt_buf_cstr(&b), "again");
    ykt_buf_free(&b);
}

/* ---- map ---- */

static void test_map_basic(void)
{
    ykt_map *m = ykt_map_new();
    int a = 1, b = 2, c = 3;
    ASSERT_EQ(ykt_map_count(m), 0);
    ASSERT(ykt_map_get(m, "a") == NULL);
    ASSERT(ykt_map_put(m, "a", &a) == NULL);
    ASSERT(ykt_map_put(m, "b", &b) == NULL);
    ASSERT_EQ(ykt_map_count(m), 2);
    ASSERT(ykt_map_get(m, "a") == &a);
    ASSERT(ykt_map_get(m, "b") == &b);
    /* Replacing returns the old value and keeps the count. */
    ASSERT(ykt_map_put(m, "a", &c) == &a);
    ASSERT_EQ(ykt_map_count(m), 2);
    ASSERT(ykt_map_get(m, "a") == &c);
    /* Keys are copied. */
    char key[8] = "k";
    ykt_map_put(m, key, &a);
    key[0] = 'x';
    ASSERT(ykt_map_get(m, "k") == &a);
    ASSERT(ykt_map_get(m, "x") == NULL);
    ASSERT(ykt_map_del(m, "b") == &b);
    ASSERT(ykt_map_del(m, "b") == NULL);
    ASSERT(ykt_map_get(m, "b") == NULL);
    ASSERT_EQ(ykt_map_count(m), 2);
    /* The empty string is a key like any other; keys are case-sensitive. */
    ASSERT(ykt_map_put(m, "", &b) == NULL);
    ASSERT(ykt_map_get(m, "") == &b);
    ASSERT(ykt_map_get(m, "A") == NULL);
    ykt_map_free(m);
    ykt_map_free(NULL);
}

static void key_name(char *buf, size_t len, int i)
{
    snprintf(buf, len, "key-%d", i);
}

/* Checks that iteration sees every live key exactly once and nothing else. */
static void check_iteration(ykt_map *m, const bool *live, int n, int *vals)
{
    int *seen = calloc((size_t)n, sizeof *seen);
    size_t pos = 0, count = 0;
    const char *key;
    void *val;
    while (ykt_map_next(m, &pos, &key, &val)) {
        int i = (int)((int *)val - vals);
        ASSERT(i >= 0 && i < n);
        char want[32];
        key_name(want, sizeof want, i);
        ASSERT_STREQ(key, want);
        ASSERT(live[i]);
        seen[i]++;
        count++;
    }
    /* At the end, next keeps returning false. */
    ASSERT(!ykt_map_next(m, &pos, &key, &val));
    ASSERT_EQ(count, ykt_map_count(m));
    for (int i = 0; i < n; i++)
        ASSERT_EQ(seen[i], live[i] ? 1 : 0);
    free(seen);
}

static void test_map_churn(void)
{
    enum { N = 5000 };
    static int vals[N];
    static bool live[N];
    ykt_map *m = ykt_map_new();
    char k[32];
    for (int i = 0; i < N; i++) {
        key_name(k, sizeof k, i);
        ASSERT(ykt_map_put(m, k, &vals[i]) == NULL);
        live[i] = true;
    }
    ASSERT_EQ(ykt_map_count(m), N);
    check_iteration(m, live, N, vals);
    /* Delete every odd key. */
    for (int i = 1; i < N; i += 2) {
        key_name(k, sizeof k, i);
        ASSERT(ykt_map_del(m, k) == &vals[i]);
        live[i] = false;
    }
    ASSERT_EQ(ykt_map_count(m), N / 2);
    for (int i = 0; i < N; i++) {
        key_name(k, sizeof k, i);
        ASSERT(ykt_map_get(m, k) == (live[i] ? &vals[i] : NULL));
    }
    check_iteration(m, live, N, vals);
    /* Reinsert a third of them; delete some of the even ones. */
    for (int i = 0; i < N; i++) {
        key_name(k, sizeof k, i);
        if (i % 2 == 1 && i % 3 == 0) {
            ASSERT(ykt_map_put(m, k, &vals[i]) == NULL);
            live[i] = true;
        } else if (i % 2 == 0 && i % 5 == 0) {
            ASSERT(ykt_map_del(m, k) == &vals[i]);
            live[i] = false;
        }
    }
    size_t want = 0;
    for (int i = 0; i < N; i++)
        want += live[i];
    ASSERT_EQ(ykt_map_count(m), want);
    for (int i = 0; i < N; i++) {
        key_name(k, sizeof k, i);
        ASSERT(ykt_map_get(m, k) == (live[i] ? &vals[i] : NULL));
    }
    check_iteration(m, live, N, vals);
    ykt_map_free(m);
}

/* Inserting and deleting the same few keys forever must reuse tombstones, not loop or grow. */
static void test_map_tombstone_reuse(void)
{
    ykt_map *m = ykt_map_new();
    int v[4];
    char k[32];
    for (int round = 0; round < 100000; round++) {
        snprintf(k, sizeof k, "t-%d", round);
        ASSERT(ykt_map_put(m, k, &v[round % 4]) == NULL);
        ASSERT(ykt_map_get(m, k) == &v[round % 4]);
        ASSERT(ykt_map_del(m, k) == &v[round % 4]);
        ASSERT_EQ(ykt_map_count(m), 0);
    }
    /* The same key deleted and reinserted. */
    for (int round = 0; round < 1000; round++) {
        ASSERT(ykt_map_put(m, "same", &v[0]) == NULL);
        ASSERT(ykt_map_put(m, "other", &v[1]) == NULL);
        ASSERT(ykt_map_del(m, "same") == &v[0]);
        ASSERT(ykt_map_get(m, "other") == &v[1]);
        ASSERT(ykt_map_del(m, "other") == &v[1]);
    }
    ASSERT_EQ(ykt_map_count(m), 0);
    size_t pos = 0;
    const char *key;
    void *val;
    ASSERT(!ykt_map_next(m, &pos, &key, &val));
    /* A lookup of a missing key terminates even after all that churn. */
    ASSERT(ykt_map_get(m, "missing") == NULL);
    ASSERT(ykt_map_del(m, "missing") == NULL);
    ykt_map_free(m);
}

/* ---- util parsers ---- */

static void test_parse_int64(void)
{
    int64_t v = 99;
    ASSERT_EQ(ykt_parse_int64("0", 0, 10, &v), YKT_OK);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(ykt_parse_int64("-5", -10, 10, &v), YKT_OK);
    ASSERT_EQ(v, -5);
    ASSERT_EQ(ykt_parse_int64("10", 0, 10, &v), YKT_OK);
    ASSERT_EQ(v, 10);
    ASSERT_EQ(ykt_parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), YKT_OK);
    ASSERT_EQ(v, INT64_MAX);
    ASSERT_EQ(ykt_parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), YKT_OK);
    ASSERT_EQ(v, INT64_MIN);
    v = 99;
    ASSERT_EQ(ykt_parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64("11", 0, 10, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64("-1", 0, 10, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64("", 0, 10, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64(NULL, 0, 10, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64(" 1", 0, 10, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64("1 ", 0, 10, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64("12x", 0, 100, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64("0x10", 0, 100, &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_int64("1.5", 0, 100, &v), YKT_EINVAL);
    ASSERT_EQ(v, 99); /* untouched on failure */
}

static void test_parse_bool(void)
{
    static const char *yes[] = {"yes", "YES", "true", "True", "on", "ON", "1"};
    static const char *no[] = {"no", "No", "false", "FALSE", "off", "Off", "0"};
    bool b;
    for (size_t i = 0; i < YKT_ARRAY_LEN(yes); i++) {
        b = false;
        ASSERT_EQ(ykt_parse_bool(yes[i], &b), YKT_OK);
        ASSERT(b);
    }
    for (size_t i = 0; i < YKT_ARRAY_LEN(no); i++) {
        b = true;
        ASSERT_EQ(ykt_parse_bool(no[i], &b), YKT_OK);
        ASSERT(!b);
    }
    static const char *bad[] = {"", "y", "n", "2", "yess", " yes", "enabled", "-1"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(bad); i++) {
        b = true;
        ASSERT_EQ(ykt_parse_bool(bad[i], &b), YKT_EINVAL);
        ASSERT(b);
    }
}

static void test_parse_size(void)
{
    int64_t v;
    ASSERT_EQ(ykt_parse_size("4096", &v), YKT_OK);
    ASSERT_EQ(v, 4096);
    ASSERT_EQ(ykt_parse_size("0", &v), YKT_OK);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(ykt_parse_size("64k", &v), YKT_OK);
    ASSERT_EQ(v, 65536);
    ASSERT_EQ(ykt_parse_size("64K", &v), YKT_OK);
    ASSERT_EQ(v, 65536);
    ASSERT_EQ(ykt_parse_size("1m", &v), YKT_OK);
    ASSERT_EQ(v, 1048576);
    ASSERT_EQ(ykt_parse_size("1MB", &v), YKT_OK);
    ASSERT_EQ(v, 1048576);
    ASSERT_EQ(ykt_parse_size("2KiB", &v), YKT_OK);
    ASSERT_EQ(v, 2048);
    ASSERT_EQ(ykt_parse_size("3g", &v), YKT_OK);
    ASSERT_EQ(v, 3221225472LL);
    /* The largest count of g that fits, and one more. */
    ASSERT_EQ(ykt_parse_size("8589934591g", &v), YKT_OK);
    ASSERT_EQ(v, 8589934591LL * 1073741824LL);
    ASSERT_EQ(ykt_parse_size("8589934592g", &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_size("9223372036854775807", &v), YKT_OK);
    ASSERT_EQ(v, INT64_MAX);
    ASSERT_EQ(ykt_parse_size("9223372036854775808", &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_size("9007199254740992k", &v), YKT_EINVAL);
    static const char *bad[] = {"",    "k",    "-1", "-1k",  " 1", "1 ", "1x",
                                "1kk", "1kbb", "1t", "1.5m", "+1", "1 k"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(bad); i++) {
        if (ykt_parse_size(bad[i], &v) != YKT_EINVAL) {
            fprintf(stderr, "size '%s' accepted\n", bad[i]);
            ASSERT(0);
        }
    }
}

static void test_parse_duration(void)
{
    int64_t v;
    ASSERT_EQ(ykt_parse_duration_ms("500ms", &v), YKT_OK);
    ASSERT_EQ(v, 500);
    ASSERT_EQ(ykt_parse_duration_ms("30s", &v), YKT_OK);
    ASSERT_EQ(v, 30000);
    ASSERT_EQ(ykt_parse_duration_ms("30", &v), YKT_OK); /* bare number: seconds */
    ASSERT_EQ(v, 30000);
    ASSERT_EQ(ykt_parse_duration_ms("5m", &v), YKT_OK);
    ASSERT_EQ(v, 300000);
    ASSERT_EQ(ykt_parse_duration_ms("5min", &v), YKT_OK);
    ASSERT_EQ(v, 300000);
    ASSERT_EQ(ykt_parse_duration_ms("2h", &v), YKT_OK);
    ASSERT_EQ(v, 7200000);
    ASSERT_EQ(ykt_parse_duration_ms("1d", &v), YKT_OK);
    ASSERT_EQ(v, 86400000);
    ASSERT_EQ(ykt_parse_duration_ms("0", &v), YKT_OK);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(ykt_parse_duration_ms("9223372036854775807ms", &v), YKT_OK);
    ASSERT_EQ(v, INT64_MAX);
    /* Overflow after scaling, and overflow of the number itself. */
    ASSERT_EQ(ykt_parse_duration_ms("9223372036854776s", &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_duration_ms("9223372036854775s", &v), YKT_OK);
    ASSERT_EQ(v, 9223372036854775000LL);
    ASSERT_EQ(ykt_parse_duration_ms("106751991167d", &v), YKT_OK);
    ASSERT_EQ(v, 9223372036828800000LL);
    ASSERT_EQ(ykt_parse_duration_ms("106751991168d", &v), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_duration_ms("99999999999999999999ms", &v), YKT_EINVAL);
    static const char *bad[] = {"", "s", "-1s", "1x", "1 s", "1S", "1.5s", "1sec", "1hh", " 1"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(bad); i++) {
        if (ykt_parse_duration_ms(bad[i], &v) != YKT_EINVAL) {
            fprintf(stderr, "duration '%s' accepted\n", bad[i]);
            ASSERT(0);
        }
    }
}

static void test_parse_hostport(void)
{
    char host[64];
    int port = -1;
    ASSERT_EQ(ykt_parse_hostport("127.0.0.1:7070", host, sizeof host, &port), YKT_OK);
    ASSERT_STREQ(host, "127.0.0.1");
    ASSERT_EQ(port, 7070);
    ASSERT_EQ(ykt_parse_hostport("[::1]:7070", host, sizeof host, &port), YKT_OK);
    ASSERT_STREQ(host, "::1");
    ASSERT_EQ(port, 7070);
    ASSERT_EQ(ykt_parse_hostport("[fe80::1%eth0]:1", host, sizeof host, &port), YKT_OK);
    ASSERT_STREQ(host, "fe80::1%eth0");
    ASSERT_EQ(port, 1);
    ASSERT_EQ(ykt_parse_hostport("localhost:0", host, sizeof host, &port), YKT_OK);
    ASSERT_STREQ(host, "localhost");
    ASSERT_EQ(port, 0);
    ASSERT_EQ(ykt_parse_hostport("0.0.0.0:65535", host, sizeof host, &port), YKT_OK);
    ASSERT_EQ(port, 65535);

    strcpy(host, "unchanged");
    port = 42;
    static const char *bad[] = {
        "localhost",  "localhost:", ":7070",
        "host:65536", "host:-1",    "host:99999999999999999999",
        "host:7070x", "host: 7070", "[::1]7070",
        "[::1]",      "[]:7070",    "[::1:7070",
        "host:0x10",  "",
    };
    for (size_t i = 0; i < YKT_ARRAY_LEN(bad); i++) {
        if (ykt_parse_hostport(bad[i], host, sizeof host, &port) != YKT_EINVAL) {
            fprintf(stderr, "hostport '%s' accepted\n", bad[i]);
            ASSERT(0);
        }
    }
    ASSERT_STREQ(host, "unchanged");
    ASSERT_EQ(port, 42);
    /* The host must fit the caller's buffer with its NUL. */
    char small[4];
    ASSERT_EQ(ykt_parse_hostport("abc:1", small, sizeof small, &port), YKT_OK);
    ASSERT_STREQ(small, "abc");
    ASSERT_EQ(ykt_parse_hostport("abcd:1", small, sizeof small, &port), YKT_EINVAL);
    ASSERT_EQ(ykt_parse_hostport("[abcd]:1", small, sizeof small, &port), YKT_EINVAL);
}

static void test_is_ident(void)
{
    ASSERT(ykt_is_ident("pos-01", 63));
    ASSERT(ykt_is_ident("A.b_c-9", 63));
    ASSERT(ykt_is_ident("x", 1));
    ASSERT(ykt_is_ident("abc", 3));
    ASSERT(!ykt_is_ident("abcd", 3));
    ASSERT(!ykt_is_ident("", 63));
    ASSERT(!ykt_is_ident("a b", 63));
    ASSERT(!ykt_is_ident("a/b", 63));
    ASSERT(!ykt_is_ident("a:b", 63));
    ASSERT(!ykt_is_ident("a\tb", 63));
    ASSERT(!ykt_is_ident("caf\xc3\xa9", 63));
    ASSERT(!ykt_is_ident("a\n", 63));
}

static void test_strlcpy_and_misc(void)
{
    char dst[4];
    ASSERT_EQ(ykt_strlcpy(dst, "abcdef", sizeof dst), 6);
    ASSERT_STREQ(dst, "abc");
    ASSERT_EQ(ykt_strlcpy(dst, "ab", sizeof dst), 2);
    ASSERT_STREQ(dst, "ab");
    dst[0] = 'q';
    ASSERT_EQ(ykt_strlcpy(dst, "xyz", 0), 3);
    ASSERT_EQ(dst[0], 'q');
    ASSERT(ykt_str_ieq("PING", "ping"));
    ASSERT(!ykt_str_ieq("PING", "pin"));
    ASSERT_STREQ(ykt_strerror(YKT_OK), "success");
    ASSERT_STREQ(ykt_strerror(YKT_ELIMIT), "limit exceeded");
    ASSERT_STREQ(ykt_strerror(YKT_EAGAIN), "incomplete");
    ASSERT_STREQ(ykt_strerror(-1000), "unknown error");
    char t[32];
    ykt_format_time(1795751700000LL, t, sizeof t);
    ASSERT_STREQ(t, "2026-11-27T03:55:00Z");
    ykt_format_time(0, t, sizeof t);
    ASSERT_STREQ(t, "-");
    int64_t now = ykt_now_ms();
    ASSERT(now > 1700000000000LL);
}

int main(void)
{
    printf("test_util\n");
    RUN(test_buf_append_and_cstr);
    RUN(test_buf_binary_and_growth);
    RUN(test_buf_consume);
    RUN(test_buf_reserve_and_shrink);
    RUN(test_map_basic);
    RUN(test_map_churn);
    RUN(test_map_tombstone_reuse);
    RUN(test_parse_int64);
    RUN(test_parse_bool);
    RUN(test_parse_size);
    RUN(test_parse_duration);
    RUN(test_parse_hostport);
    RUN(test_is_ident);
    RUN(test_strlcpy_and_misc);
    printf("ok\n");
    return 0;
}
