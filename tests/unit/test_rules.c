/* Unit tests for the Lua rule host (rules.c), its JSON reader (json.c) and the shipped
 * scripts (every scripts/NAME.lua). */
#include "test.h"

#include "buf.h"
#include "common.h"
#include "json.h"
#include "log.h"
#include "rules.h"

#include <lauxlib.h>
#include <lua.h>

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

/* ---- helpers ---- */

static char scripts_dir[512];

static void find_scripts_dir(void)
{
    const char *src = getenv("YKT_SOURCE_DIR");
    if (src != NULL) {
        snprintf(scripts_dir, sizeof scripts_dir, "%s/scripts", src);
    } else {
        /* tests/unit/test_rules.c -> the project root */
        snprintf(scripts_dir, sizeof scripts_dir, "%s", __FILE__);
        char *cut = strstr(scripts_dir, "/tests/unit/");
        ASSERT(cut != NULL);
        strcpy(cut, "/scripts");
    }
}

static void write_file(const char *dir, const char *file, const char *text, size_t len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    /* Written in place (truncate, then write), as an editor without atomic saves would. */
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT(fwrite(text, 1, len, f) == len);
    ASSERT(fclose(f) == 0);
}

static void write_script(const char *dir, const char *name, const char *text)
{
    char file[128];
    snprintf(file, sizeof file, "%s.lua", name);
    write_file(dir, file, text, strlen(text));
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    ykt_buf b;
    ykt_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ykt_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    ykt_buf_append(&b, "", 1);
    return b.data;
}

/* A fresh directory under the test's temporary directory; removed by clean_dir. */
static void make_dir(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", test_tmpdir, name);
    ASSERT(mkdir(out, 0700) == 0);
}

static void clean_dir(const char *dir)
{
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    ASSERT(rmdir(dir) == 0);
}

static ykt_rule_value iarg(const char *name, int64_t v)
{
    return (ykt_rule_value){.name = name, .type = 'i', .i = v};
}

static ykt_rule_value sarg(const char *name, const char *s)
{
    return (ykt_rule_value){.name = name, .type = 's', .s = s};
}

static ykt_rule_value barg(const char *name, bool v)
{
    return (ykt_rule_value){.name = name, .type = 'b', .i = v};
}

/* Calls script.fn with args and one integer result `out`; asserts success. */
static int64_t call_int(ykt_rules *r, const char *script, const char *fn,
                        const ykt_rule_value *args, int nargs, const char *out)
{
    ykt_rule_value res[1] = {{.name = out, .type = 'i'}};
    char err[256];
    int rc = ykt_rules_call(r, script, fn, args, nargs, res, 1, err, sizeof err);
    if (rc != YKT_OK)
        fprintf(stderr, "%s.%s: %s\n", script, fn, err);
    ASSERT_EQ(rc, YKT_OK);
    ASSERT_EQ(res[0].type, 'i');
    return res[0].i;
}

/* Calls script.fn (no arguments, one result `x` of any type) and expects failure whose
 * message contains want. */
static void call_fails(ykt_rules *r, const char *script, const char *fn, int want_rc,
                       const char *want)
{
    ykt_rule_value res[1] = {{.name = "x"}};
    char err[256];
    int rc = ykt_rules_call(r, script, fn, NULL, 0, res, 1, err, sizeof err);
    if (rc == YKT_OK || strstr(err, want) == NULL)
        fprintf(stderr, "%s.%s: rc %d, err \"%s\", wanted \"%s\"\n", script, fn, rc, err, want);
    ASSERT_EQ(rc, want_rc);
    ASSERT_CONTAINS(err, want);
}

typedef struct found_info {
    const char *name;
    ykt_rule_info info;
    char last[256];
    char sha[16];
    int count;
} found_info;

static void find_cb(const ykt_rule_info *info, void *arg)
{
    found_info *f = arg;
    f->count++;
    if (strcmp(info->name, f->name) == 0) {
        f->info = *info;
        snprintf(f->last, sizeof f->last, "%s", info->last);
        snprintf(f->sha, sizeof f->sha, "%s", info->sha);
    }
}

static found_info info_of(ykt_rules *r, const char *name)
{
    found_info f = {.name = name};
    ykt_rules_each(r, find_cb, &f);
    return f;
}

/* ---- JSON ---- */

static void json_ok(const char *in, const char *canonical)
{
    ykt_json *v = NULL;
    char err[128];
    int rc = ykt_json_parse(in, strlen(in), &v, err, sizeof err);
    if (rc != YKT_OK)
        fprintf(stderr, "json %s: %s\n", in, err);
    ASSERT_EQ(rc, YKT_OK);
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_json_write(&b, v);
    ASSERT_STREQ(ykt_buf_cstr(&b), canonical);
    ykt_buf_free(&b);
    ykt_json_free(v);
}

static void json_bad(const char *in, size_t len, const char *want)
{
    ykt_json *v = (ykt_json *)1;
    char err[128];
    int rc = ykt_json_parse(in, len, &v, err, sizeof err);
    if (rc == YKT_OK || strstr(err, want) == NULL)
        fprintf(stderr, "json %.*s: rc %d err \"%s\" (wanted \"%s\")\n", (int)len, in, rc, err,
                want);
    ASSERT_EQ(rc, YKT_EINVAL);
    ASSERT(v == NULL);
    ASSERT_CONTAINS(err, want);
}

static void test_json_valid(void)
{
    json_ok("{}", "{}");
    json_ok(" [ ] ", "[]");
    json_ok("0", "0");
    json_ok("-0", "0");
    json_ok("9223372036854775807", "9223372036854775807");
    json_ok("-9223372036854775808", "-9223372036854775808");
    json_ok("[true,false,null]", "[true,false,null]");
    json_ok("{\"amount\": 1250, \"card_type\" : \"temporary\", \"hour\":12}",
            "{\"amount\":1250,\"card_type\":\"temporary\",\"hour\":12}");
    json_ok("{\"a\":{\"b\":[1,[2,{\"c\":\"d\"}]]}}", "{\"a\":{\"b\":[1,[2,{\"c\":\"d\"}]]}}");
    /* Escapes decode, and control characters are escaped again on output. */
    json_ok("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"", "\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t\"");
    json_ok("\"\\u00e9\\u4E00\\ud83d\\ude00\"", "\"\xc3\xa9\xe4\xb8\x80\xf0\x9f\x98\x80\"");
    json_ok("\"\\u0001\"", "\"\\u0001\"");
    json_ok("\"一卡通\"", "\"一卡通\"");

    /* A large object: the duplicate check switches to a map. */
    ykt_buf in, want;
    ykt_buf_init(&in);
    ykt_buf_init(&want);
    ykt_buf_appends(&in, "{");
    for (int i = 0; i < 100; i++)
        ykt_buf_appendf(&in, "%s\"k%d\":%d", i ? "," : "", i, i);
    ykt_buf_appends(&in, "}");
    json_ok(ykt_buf_cstr(&in), ykt_buf_cstr(&in));

    ykt_json *v;
    char err[64];
    ASSERT_EQ(ykt_json_parse(in.data, in.len, &v, err, sizeof err), YKT_OK);
    ASSERT_EQ(v->type, YKT_JSON_OBJECT);
    ASSERT_EQ(v->len, 100);
    const ykt_json *m = ykt_json_member(v, "k42");
    ASSERT(m != NULL && m->type == YKT_JSON_INT && m->i == 42);
    ASSERT(ykt_json_member(v, "k100") == NULL);
    ykt_json_free(v);
    ykt_buf_free(&in);
    ykt_buf_free(&want);

    /* Depth: exactly the limit is fine. */
    char deep[2 * YKT_JSON_MAX_DEPTH + 1];
    for (int i = 0; i < YKT_JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[2 * YKT_JSON_MAX_DEPTH - 1 - i] = ']';
    }
    deep[2 * YKT_JSON_MAX_DEPTH] = '\0';
    json_ok(deep, deep);
}

static void test_json_invalid(void)
{
#define BAD(s, want) json_bad(s, sizeof(s) - 1, want)
    BAD("", "expected a value");
    BAD("   ", "expected a value");
    BAD("1.5", "only integers");
    BAD("12.0", "only integers");
    BAD("1e3", "only integers");
    BAD("-1E3", "only integers");
    BAD("01", "leading zeros");
    BAD("-", "expected a digit");
    BAD("+1", "expected a value");
    BAD("9223372036854775808", "out of range");
    BAD("-9223372036854775809", "out of range");
    BAD("[1,]", "trailing comma");
    BAD("{\"a\":1,}", "trailing comma");
    BAD("[1 2]", "expected ',' or ']'");
    BAD("{\"a\" 1}", "expected ':'");
    BAD("{a:1}", "expected a string key");
    BAD("{\"a\":1,\"a\":2}", "duplicate key");
    BAD("\"abc", "unterminated string");
    BAD("\"a\nb\"", "control character");
    BAD("\"\\x\"", "unknown escape");
    BAD("\"\\u12\"", "four hex digits");
    BAD("\"\\udc00\"", "lone low surrogate");
    BAD("\"\\ud800\"", "without its low half");
    BAD("\"\\ud800\\u0041\"", "without its low half");
    BAD("\"\\u0000\"", "\\u0000");
    BAD("\"\xff\"", "not valid UTF-8");
    BAD("\"\xc0\xaf\"", "not valid UTF-8"); /* overlong '/' */
    BAD("{} x", "unexpected data");
    BAD("// comment\n{}", "expected a value");
    BAD("nul", "expected a value");
    BAD("tru", "expected a value");
    BAD("[\"a\" , nul]", "expected a value");
#undef BAD
    /* A NUL byte inside the text is data, not an end. */
    json_bad("{}\0", 3, "unexpected data");
    json_bad("\"a\0b\"", 5, "control character");

    /* A repeated key in a large object. */
    ykt_buf in;
    ykt_buf_init(&in);
    ykt_buf_appends(&in, "{");
    for (int i = 0; i < 50; i++)
        ykt_buf_appendf(&in, "\"k%d\":%d,", i, i);
    ykt_buf_appends(&in, "\"k7\":0}");
    json_bad(in.data, in.len, "duplicate key");
    ykt_buf_free(&in);

    /* One level too deep. */
    char deep[2 * (YKT_JSON_MAX_DEPTH + 1) + 1];
    for (int i = 0; i <= YKT_JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[2 * (YKT_JSON_MAX_DEPTH + 1) - 1 - i] = ']';
    }
    json_bad(deep, sizeof deep - 1, "nested deeper");

    /* Offsets point at the problem. */
    ykt_json *v;
    char err[128];
    ASSERT_EQ(ykt_json_parse("{\"a\": 1.5}", 10, &v, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "offset 6:");
}

static void test_json_write_string(void)
{
    ykt_buf b;
    ykt_buf_init(&b);
    static const char in[] = "a\"b\\c\x01\x1f\x7f\xe4\xb8\x80";
    ykt_json_write_string(&b, in, sizeof in - 1);
    ASSERT_STREQ(ykt_buf_cstr(&b), "\"a\\\"b\\\\c\\u0001\\u001f\x7f\xe4\xb8\x80\"");
    ykt_buf_reset(&b);
    ykt_json_write_string(&b, "", 0);
    ASSERT_STREQ(ykt_buf_cstr(&b), "\"\"");
    ykt_buf_free(&b);
}

/* ---- the shipped scripts ---- */

static const char *const shipped[] = {
    "attendance_students", "attendance_teaching", "fees", "library", "power", "rooms", "water"};

static ykt_rules *open_shipped(void)
{
    ykt_rules *r;
    char err[1024];
    int rc = ykt_rules_open(&r, NULL, scripts_dir, NULL, err, sizeof err);
    if (rc != YKT_OK || err[0] != '\0')
        fprintf(stderr, "open %s: %s\n", scripts_dir, err);
    ASSERT_EQ(rc, YKT_OK);
    ASSERT_STREQ(err, "");
    return r;
}

static void test_shipped_scripts_load(void)
{
    ykt_rules *r = open_shipped();
    for (size_t i = 0; i < YKT_ARRAY_LEN(shipped); i++) {
        found_info f = info_of(r, shipped[i]);
        ASSERT_EQ(f.count, (int)YKT_ARRAY_LEN(shipped)); /* README.md is not a script */
        ASSERT(f.info.loaded);
        ASSERT_STREQ(f.last, "ok");
        ASSERT_EQ(strlen(f.sha), 12);
        ASSERT(f.info.loaded_at_ms > 0);
        ASSERT(f.info.memory_bytes > 0 && f.info.memory_bytes < YKT_RULES_DEFAULT_MEMORY);
        ASSERT_CONTAINS(f.info.path, shipped[i]);
    }
    ykt_rules_close(r);
}

static void fee_is(ykt_rules *r, const ykt_rule_value *args, int nargs, int64_t discount,
                   int64_t fee)
{
    ykt_rule_value res[2] = {{.name = "discount", .type = 'i'}, {.name = "fee", .type = 'i'}};
    char err[256];
    int rc = ykt_rules_call(r, "fees", "fee", args, nargs, res, 2, err, sizeof err);
    if (rc != YKT_OK)
        fprintf(stderr, "fees.fee: %s\n", err);
    ASSERT_EQ(rc, YKT_OK);
    ASSERT_EQ(res[0].i, discount);
    ASSERT_EQ(res[1].i, fee);
}

static void test_fees(void)
{
    ykt_rules *r = open_shipped();
    /* The gateway's merchant rates: the built-in rule (docs/wallet.md), exactly. */
    int64_t amounts[] = {0, 1, 9, 99, 1250, 1999, 12345, 20000, 999999};
    int bps[][2] = {{0, 0}, {0, 1000}, {500, 1000}, {250, 0}, {333, 777}, {10000, 10000}};
    for (size_t i = 0; i < YKT_ARRAY_LEN(amounts); i++)
        for (size_t k = 0; k < YKT_ARRAY_LEN(bps); k++) {
            ykt_rule_value args[] = {iarg("amount", amounts[i]),     sarg("card_type", "temporary"),
                                     sarg("merchant", "canteen-1"),  sarg("category", "canteen"),
                                     iarg("discount_bp", bps[k][0]), iarg("fee_bp", bps[k][1])};
            int64_t discount = amounts[i] * bps[k][0] / 10000;
            int64_t fee = (amounts[i] - discount) * bps[k][1] / 10000;
            fee_is(r, args, YKT_ARRAY_LEN(args), discount, fee);
        }
    /* The script's own tables: 10 % on temporary cards at canteens, 0 % otherwise. */
    ykt_rule_value temp[] = {iarg("amount", 1250), sarg("card_type", "temporary"),
                             sarg("merchant", "canteen-1"), sarg("category", "canteen")};
    fee_is(r, temp, 4, 0, 125);
    ykt_rule_value staff[] = {iarg("amount", 1250), sarg("card_type", "regular"),
                              sarg("kind", "staff"), sarg("merchant", "canteen-1"),
                              sarg("category", "canteen")};
    fee_is(r, staff, 5, 0, 0);
    ykt_rule_value market[] = {iarg("amount", 1250), sarg("card_type", "temporary"),
                               sarg("merchant", "market-1"), sarg("category", "supermarket")};
    fee_is(r, market, 4, 0, 0);
    ykt_rule_value c3[] = {iarg("amount", 1000), sarg("card_type", "temporary"),
                           sarg("merchant", "canteen-3"), sarg("category", "canteen")};
    fee_is(r, c3, 4, 50, 95);
    /* The staff lunch offer: 5 % at 12:00, nothing at 13:00 or for students. */
    ykt_rule_value lunch[] = {iarg("amount", 2000),        sarg("card_type", "regular"),
                              sarg("kind", "staff"),       sarg("merchant", "canteen-staff"),
                              sarg("category", "canteen"), iarg("discount_bp", 0),
                              iarg("fee_bp", 0),           iarg("hour", 12)};
    fee_is(r, lunch, 8, 100, 0);
    lunch[7] = iarg("hour", 13);
    fee_is(r, lunch, 8, 0, 0);
    lunch[7] = iarg("hour", 12);
    lunch[2] = sarg("kind", "student");
    fee_is(r, lunch, 8, 0, 0);
    /* Bad input is an error, not a guess. */
    ykt_rule_value neg[] = {iarg("amount", -5)};
    ykt_rule_value res[2] = {{.name = "discount"}, {.name = "fee"}};
    char err[256];
    ASSERT_EQ(ykt_rules_call(r, "fees", "fee", neg, 1, res, 2, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "amount must be an integer");
    ykt_rule_value str[] = {sarg("amount", "12.50")};
    ASSERT_EQ(ykt_rules_call(r, "fees", "fee", str, 1, res, 2, err, sizeof err), YKT_EINVAL);
    ykt_rules_close(r);
}

static void test_water_power_library_rooms(void)
{
    ykt_rules *r = open_shipped();
    ykt_rule_value w1[] = {iarg("litres_ml", 10000), iarg("used_today_ml", 15000),
                           sarg("card_type", "regular")};
    ASSERT_EQ(call_int(r, "water", "price", w1, 3, "charge"), 15);
    ASSERT_EQ(call_int(r, "water", "price", w1, 3, "free_ml"), 5000);
    ykt_rule_value w2[] = {iarg("litres_ml", 15000), iarg("used_today_ml", 0),
                           sarg("card_type", "regular")};
    ASSERT_EQ(call_int(r, "water", "price", w2, 3, "charge"), 0);
    ykt_rule_value w3[] = {iarg("litres_ml", 10000), iarg("used_today_ml", 0),
                           sarg("card_type", "temporary")};
    ASSERT_EQ(call_int(r, "water", "price", w3, 3, "charge"), 30);
    ykt_rule_value w4[] = {iarg("litres_ml", 10000), iarg("used_today_ml", 20000),
                           sarg("card_type", "regular"), sarg("service", "drinking")};
    ASSERT_EQ(call_int(r, "water", "price", w4, 4, "charge"), 10);

    ykt_rule_value p1[] = {iarg("kwh_milli", 10000), iarg("used_month_milli", 0)};
    ASSERT_EQ(call_int(r, "power", "price", p1, 2, "charge"), 520);
    ykt_rule_value p2[] = {iarg("kwh_milli", 10000), iarg("used_month_milli", 55000)};
    ASSERT_EQ(call_int(r, "power", "price", p2, 2, "charge"), 545);
    ykt_rule_value p3[] = {iarg("kwh_milli", 150000), iarg("used_month_milli", 0)};
    ASSERT_EQ(call_int(r, "power", "price", p3, 2, "charge"), 60 * 52 + 60 * 57 + 30 * 82);
    ykt_rule_value p4[] = {iarg("kwh_milli", 10000), iarg("used_month_milli", 200000)};
    ASSERT_EQ(call_int(r, "power", "price", p4, 2, "charge"), 820);

    ykt_rule_value l1[] = {iarg("days_overdue", 5), sarg("card_type", "regular")};
    ASSERT_EQ(call_int(r, "library", "fine", l1, 2, "fine"), 50);
    ykt_rule_value l2[] = {iarg("days_overdue", 5), sarg("card_type", "temporary")};
    ASSERT_EQ(call_int(r, "library", "fine", l2, 2, "fine"), 100);
    ykt_rule_value l3[] = {iarg("days_overdue", 400), sarg("card_type", "regular")};
    ASSERT_EQ(call_int(r, "library", "fine", l3, 2, "fine"), 1000);
    ykt_rule_value l4[] = {iarg("days_overdue", 0), sarg("card_type", "regular")};
    ASSERT_EQ(call_int(r, "library", "fine", l4, 2, "fine"), 0);

    ykt_rule_value r1[] = {iarg("minutes", 10), sarg("room_type", "public")};
    ASSERT_EQ(call_int(r, "rooms", "price", r1, 2, "charge"), 50);
    ykt_rule_value r2[] = {iarg("minutes", 90), sarg("room_type", "public")};
    ASSERT_EQ(call_int(r, "rooms", "price", r2, 2, "charge"), 180);
    ykt_rule_value r3[] = {iarg("minutes", 0), sarg("room_type", "lab")};
    ASSERT_EQ(call_int(r, "rooms", "price", r3, 2, "charge"), 0);
    ykt_rule_value r4[] = {iarg("minutes", 60), sarg("room_type", "multimedia")};
    ASSERT_EQ(call_int(r, "rooms", "price", r4, 2, "charge"), 300);
    ykt_rule_value r5[] = {iarg("minutes", 60), sarg("room_type", "ballroom")};
    ykt_rule_value res[1] = {{.name = "charge"}};
    char err[256];
    ASSERT_EQ(ykt_rules_call(r, "rooms", "price", r5, 2, res, 1, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "unknown room_type ballroom");
    ykt_rules_close(r);
}

static void classify_is(ykt_rules *r, const char *script, const ykt_rule_value *args, int nargs,
                        int64_t late, int64_t early, bool absent, bool workday)
{
    ykt_rule_value res[4] = {{.name = "late", .type = 'i'},
                             {.name = "early", .type = 'i'},
                             {.name = "absent", .type = 'b'},
                             {.name = "workday", .type = 'b'}};
    char err[256];
    int rc = ykt_rules_call(r, script, "classify", args, nargs, res, 4, err, sizeof err);
    if (rc != YKT_OK)
        fprintf(stderr, "%s.classify: %s\n", script, err);
    ASSERT_EQ(rc, YKT_OK);
    ASSERT_EQ(res[0].i, late);
    ASSERT_EQ(res[1].i, early);
    ASSERT_EQ(res[2].i, absent);
    ASSERT_EQ(res[3].i, workday);
}

static void test_attendance(void)
{
    ykt_rules *r = open_shipped();
    const char *t = "attendance_teaching", *s = "attendance_students";
    /* Teaching staff: 08:00-17:00, 5 minutes' grace, absent beyond two hours. */
    ykt_rule_value a1[] = {iarg("weekday", 2), iarg("minutes_in", 486), iarg("minutes_out", 1030)};
    classify_is(r, t, a1, 3, 6, 0, false, true);
    ykt_rule_value a2[] = {iarg("weekday", 2), iarg("minutes_in", 484), iarg("minutes_out", 1010)};
    classify_is(r, t, a2, 3, 0, 10, false, true);
    ykt_rule_value a3[] = {iarg("weekday", 3), iarg("minutes_in", 630), iarg("minutes_out", 1020)};
    classify_is(r, t, a3, 3, 0, 0, true, true);
    ykt_rule_value a4[] = {iarg("weekday", 3)};
    classify_is(r, t, a4, 1, 0, 0, true, true);
    ykt_rule_value a5[] = {iarg("weekday", 6)};
    classify_is(r, t, a5, 1, 0, 0, false, false);
    ykt_rule_value a6[] = {iarg("weekday", 4), sarg("date", "2026-10-01")};
    classify_is(r, t, a6, 2, 0, 0, false, false);
    ykt_rule_value a7[] = {iarg("weekday", 6), sarg("date", "2026-10-10"), iarg("minutes_in", 480),
                           iarg("minutes_out", 1020)};
    classify_is(r, t, a7, 4, 0, 0, false, true);
    ykt_rule_value a8[] = {iarg("weekday", 1), barg("holiday", true)};
    classify_is(r, t, a8, 2, 0, 0, false, false);
    /* Students: 07:40-17:10, no grace, absent beyond 30 minutes, vacations. */
    ykt_rule_value b1[] = {iarg("weekday", 1), iarg("minutes_in", 470), iarg("minutes_out", 1030)};
    classify_is(r, s, b1, 3, 10, 0, false, true);
    ykt_rule_value b2[] = {iarg("weekday", 1), iarg("minutes_in", 491), iarg("minutes_out", 1030)};
    classify_is(r, s, b2, 3, 0, 0, true, true);
    ykt_rule_value b3[] = {iarg("weekday", 3), sarg("date", "2026-07-15")};
    classify_is(r, s, b3, 2, 0, 0, false, false);

    ykt_rule_value o1[] = {iarg("minutes_in", 480), iarg("minutes_out", 19 * 60 + 10)};
    ASSERT_EQ(call_int(r, t, "overtime", o1, 2, "minutes"), 90);
    ykt_rule_value o2[] = {iarg("minutes_in", 540), iarg("minutes_out", 17 * 60 + 15),
                           iarg("weekday", 7)};
    ASSERT_EQ(call_int(r, t, "overtime", o2, 3, "minutes"), 420);
    ykt_rule_value o3[] = {iarg("minutes_in", 460), iarg("minutes_out", 23 * 60),
                           iarg("weekday", 2)};
    ASSERT_EQ(call_int(r, s, "overtime", o3, 3, "minutes"), 285);
    ykt_rules_close(r);
}

/* ---- the sandbox ---- */

static const char good_lua[] = "function answer(a) return { x = 42 } end\n"
                               "function selftest() return answer({}).x == 42 end\n";

static const char evil_lua[] =
    "local CONFIG = { rate = 7, nested = { list = { 1, 2, 3 } } }\n"
    "local counter = { n = 0 }\n"
    "function ok() return { x = CONFIG.rate } end\n"
    "function nested() return { x = #CONFIG.nested.list + CONFIG.nested.list[3] } end\n"
    "function io_open() return { x = io.open('/etc/passwd') } end\n"
    "function os_execute() return { x = os.execute('touch /tmp/ykt-pwned') } end\n"
    "function os_getenv() return { x = os.getenv('HOME') } end\n"
    "function env_via_G() return { x = _G.os.getenv('HOME') } end\n"
    "function do_require() return { x = require('os') } end\n"
    "function do_dofile() return { x = dofile('/etc/passwd') } end\n"
    "function do_loadfile() return { x = loadfile('/etc/passwd') } end\n"
    "function do_package() return { x = package.loaded } end\n"
    "function do_debug() return { x = debug.getregistry() } end\n"
    "function do_collect() return { x = collectgarbage('count') } end\n"
    "function do_coroutine() return { x = coroutine.create(print) } end\n"
    "function do_dump() return { x = load(string.dump(ok)) } end\n"
    "function binary_literal()\n"
    "  local f, msg = load('\\27Lua\\x54\\0\\x19\\x93\\r\\n\\x1a\\n', 'x', 'bt')\n"
    "  return { x = msg }\n"
    "end\n"
    "function binary_mode()\n"
    "  local f, msg = load('return 1', 'x', 'b')\n"
    "  return { x = msg }\n"
    "end\n"
    "function text_load() return { x = load('return 6 * 7')() } end\n"
    "function load_sees_env() return { x = load('return CONFIG_NAME')() } end\n"
    "function memory_bomb() return { x = #string.rep('x', 1e9) } end\n"
    "function memory_doubling() local s = 'x' while true do s = s .. s end end\n"
    "function table_bomb() local t = {} for i = 1, 1e9 do t[i] = {} end end\n"
    "function endless() while true do end end\n"
    "function endless_pcall()\n"
    "  while true do pcall(function() while true do end end) end\n"
    "end\n"
    "function endless_xpcall()\n"
    "  local function loop() while true do end end\n"
    "  while true do xpcall(loop, loop) end\n"
    "end\n"
    "function xpcall_handler_loops()\n"
    "  xpcall(function() error('x') end, function() while true do end end)\n"
    "end\n"
    "function xpcall_works()\n"
    "  local ok1, sum = xpcall(function(a, b) return a + b end, print, 2, 3)\n"
    "  local ok2, msg = xpcall(function() error('boom', 0) end,\n"
    "    function(m) return 'handled ' .. m end)\n"
    "  local ok3, msg3 = xpcall(function() error('boom', 0) end, function() error('again') end)\n"
    "  return { x = tostring(ok1) .. sum .. tostring(ok2) .. msg .. tostring(ok3) .. msg3 }\n"
    "end\n"
    "function xpcall_recursion()\n"
    "  local function loop() assert(pcall(loop)) end\n"
    "  return { x = tostring(select(2, xpcall(loop, loop))) }\n"
    "end\n"
    "function recursion() local function f(n) return f(n + 1) + 1 end return { x = f(1) } "
    "end\n"
    "function c_recursion()\n"
    "  local t = setmetatable({}, { __index = function(t, k) return t[k] end })\n"
    "  return { x = t.x }\n"
    "end\n"
    "function tostring_loop()\n"
    "  local t = setmetatable({}, {}) getmetatable(t).__tostring = tostring\n"
    "  return { x = tostring(t) }\n"
    "end\n"
    "function set_string_len() string.len = function() return 0 end return { x = 1 } end\n"
    "function string_len() return { x = string.len('abc') + ('abcd'):len() } end\n"
    "function string_mt() getmetatable('').__index.len = nil return { x = 1 } end\n"
    "function set_G() _G.tostring = nil return { x = 1 } end\n"
    "function set_global() counter_global = 1 return { x = 1 } end\n"
    "function G_metatable() setmetatable(_G, nil) return { x = 1 } end\n"
    "function do_rawset() rawset(_G, 'tostring', nil) return { x = 1 } end\n"
    "function set_config() CONFIG.rate = 0 return { x = 1 } end\n"
    "function set_nested() table.insert(CONFIG.nested.list, 4) return { x = 1 } end\n"
    "function count() counter.n = counter.n + 1 return { x = counter.n } end\n"
    "function tostring_works() return { x = tostring(12) .. type(_G) .. math.max(1, 2) } end\n"
    "function pattern_bomb()\n"
    "  return { x = string.find(string.rep('a', 5000), '.-.-.-.-b') }\n"
    "end\n"
    "function pattern_method() return { x = (string.rep('a', 5000)):match('.-.-.-.-b') } end\n"
    "function pattern_ok()\n"
    "  local y, m, d = ('2026-11-27'):match('^(%d+)-(%d+)-(%d+)$')\n"
    "  local n = 0 for w in ('a,b,c'):gmatch('[^,]+') do n = n + 1 end\n"
    "  return { x = tonumber(y) + tonumber(m) + tonumber(d) + n }\n"
    "end\n"
    "function rep_empty() return { x = #string.rep('', 1 << 62) } end\n"
    "function move_bomb() table.move({}, 1, 1 << 40, 1, {}) return { x = 1 } end\n"
    "function sort_bomb()\n"
    "  local t = setmetatable({}, { __len = function() return 1 << 30 end,\n"
    "    __index = rawlen, __newindex = rawequal })\n"
    "  table.sort(t) return { x = 1 }\n"
    "end\n"
    "function insert_bomb()\n"
    "  local t = setmetatable({}, { __len = function() return 1 << 60 end,\n"
    "    __index = rawlen, __newindex = rawequal })\n"
    "  table.insert(t, 1, 0) return { x = 1 }\n"
    "end\n"
    "function gc_loop()\n"
    "  setmetatable({}, { __gc = function() while true do end end }) return { x = 1 }\n"
    "end\n"
    "function random() return { x = math.random(10) } end\n"
    "function raise_table() error({ code = 1 }) end\n"
    "function raise_string() error('out of paper') end\n"
    "function not_a_table() return 42 end\n"
    "function float_result() return { x = 12.5 } end\n"
    "function integral_float() return { x = 1250 * 0.1 } end\n"
    "function no_result() return { y = 1 } end\n"
    "function function_result() return { x = print } end\n"
    "function undefined() return { x = amout * 2 } end\n"
    "function probe()\n"
    "  local function absent(name) return not pcall(function() return _ENV[name] end) end\n"
    "  local bad = {}\n"
    "  for _, n in ipairs({ 'io', 'os', 'package', 'require', 'debug', 'dofile', 'loadfile',\n"
    "      'collectgarbage', 'rawset', 'coroutine', 'warn' }) do\n"
    "    if not absent(n) then bad[#bad + 1] = n end\n"
    "  end\n"
    "  if string.dump ~= nil then bad[#bad + 1] = 'string.dump' end\n"
    "  if math.random ~= nil then bad[#bad + 1] = 'math.random' end\n"
    "  if getmetatable('') ~= false then bad[#bad + 1] = 'string metatable' end\n"
    "  if getmetatable(_G) ~= false then bad[#bad + 1] = '_G metatable' end\n"
    "  if getmetatable(string) ~= false then bad[#bad + 1] = 'string metatable' end\n"
    "  return { x = table.concat(bad, ',') }\n"
    "end\n"
    "function pairs_globals()\n"
    "  local n = 0 for k in pairs(_G) do n = n + 1 end\n"
    "  local m = 0 for k in pairs(string) do m = m + 1 end\n"
    "  local l = 0 for _, v in ipairs(CONFIG.nested.list) do l = l + v end\n"
    "  return { x = n * 10000 + m * 100 + l }\n"
    "end\n"
    "CONFIG_NAME = 'evil'\n";

static void test_sandbox_contains_escapes(void)
{
    char dir[256];
    make_dir(dir, sizeof dir, "sandbox");
    write_script(dir, "good", good_lua);
    write_script(dir, "evil", evil_lua);
    ykt_rules *r;
    char err[512];
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, NULL, err, sizeof err), YKT_OK);
    ASSERT_STREQ(err, "");
    ASSERT_EQ(call_int(r, "evil", "ok", NULL, 0, "x"), 7);

    static const struct {
        const char *fn, *want;
    } cases[] = {
        {"io_open", "undefined global 'io'"},
        {"os_execute", "undefined global 'os'"},
        {"os_getenv", "undefined global 'os'"},
        {"env_via_G", "undefined global 'os'"},
        {"do_require", "undefined global 'require'"},
        {"do_dofile", "undefined global 'dofile'"},
        {"do_loadfile", "undefined global 'loadfile'"},
        {"do_package", "undefined global 'package'"},
        {"do_debug", "undefined global 'debug'"},
        {"do_collect", "undefined global 'collectgarbage'"},
        {"do_coroutine", "undefined global 'coroutine'"},
        {"do_dump", "attempt to call a nil value (field 'dump')"},
        {"memory_bomb", "memory limit exceeded"},
        {"memory_doubling", "memory limit exceeded"},
        {"table_bomb", "limit exceeded"},
        {"endless", "instruction limit exceeded (1000000 instructions) at evil.lua:"},
        {"endless_pcall", "instruction limit exceeded"},
        {"endless_xpcall", "instruction limit exceeded"},
        {"xpcall_handler_loops", "instruction limit exceeded"},
        {"recursion", "exceeded"},
        {"c_recursion", "stack overflow"},
        {"tostring_loop", "stack overflow"},
        {"set_string_len", "attempt to modify the read-only library table 'string'"},
        {"string_mt", "attempt to index a boolean value"},
        {"set_G", "attempt to set global 'tostring'"},
        {"set_global", "attempt to set global 'counter_global'"},
        {"G_metatable", "cannot change a protected metatable"},
        {"do_rawset", "undefined global 'rawset'"},
        {"set_config", "attempt to modify script data"},
        {"set_nested", "attempt to modify script data"},
        {"count", "attempt to modify script data"},
        {"pattern_bomb", "string.find: pattern too costly for a 5000-byte subject"},
        {"pattern_method", "string.match: pattern too costly"},
        {"move_bomb", "table.move: too many elements"},
        {"sort_bomb", "table.sort: too many elements"},
        {"insert_bomb", "table.insert: too many elements"},
        {"gc_loop", "__gc metamethods are not allowed"},
        {"random", "attempt to call a nil value (field 'random')"},
        {"raise_table", "error object is a table value"},
        {"raise_string", "evil.lua:"},
        {"not_a_table", "not_a_table returned number, expected a table"},
        {"float_result", "result 'x' is not an integer (12.5"},
        {"integral_float", "result 'x' is not an integer (125"},
        {"no_result", "result 'x' is missing"},
        {"function_result", "result 'x' is a function"},
        {"undefined", "undefined global 'amout'"},
    };
    for (size_t i = 0; i < YKT_ARRAY_LEN(cases); i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        call_fails(r, "evil", cases[i].fn, YKT_EINVAL, cases[i].want);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        /* Each is stopped promptly (sanitizer builds are slow; this is generous). */
        if (ms > 2000)
            fprintf(stderr, "%s took %.0f ms\n", cases[i].fn, ms);
        ASSERT(ms < 5000);
        /* The gateway keeps serving: the same state, and another script, still answer. */
        ASSERT_EQ(call_int(r, "evil", "ok", NULL, 0, "x"), 7);
        ASSERT_EQ(call_int(r, "good", "answer", NULL, 0, "x"), 42);
    }

    /* Nothing a call did is seen by the next one. */
    ASSERT_EQ(call_int(r, "evil", "string_len", NULL, 0, "x"), 7);
    ASSERT_EQ(call_int(r, "evil", "nested", NULL, 0, "x"), 6);
    ykt_rule_value res[1] = {{.name = "x", .type = 's'}};
    ASSERT_EQ(ykt_rules_call(r, "evil", "tostring_works", NULL, 0, res, 1, err, sizeof err),
              YKT_OK);
    ASSERT_STREQ(res[0].s, "12table2");
    ASSERT_EQ(ykt_rules_call(r, "evil", "xpcall_works", NULL, 0, res, 1, err, sizeof err), YKT_OK);
    ASSERT_STREQ(res[0].s, "true5falsehandled boomfalseerror in error handling");
    /* Lua 5.4.4's "C stack overflow while handling an error" case: a message handler that
     * recurses. Ours runs after unwinding, like any other function. */
    ASSERT_EQ(ykt_rules_call(r, "evil", "xpcall_recursion", NULL, 0, res, 1, err, sizeof err),
              YKT_OK);
    ASSERT_STREQ(res[0].s, "error in error handling");
    ASSERT_EQ(ykt_rules_call(r, "evil", "probe", NULL, 0, res, 1, err, sizeof err), YKT_OK);
    ASSERT_STREQ(res[0].s, "");
    /* Globals: the script's own (the 30-odd functions, CONFIG_NAME, _G); the library's
     * string table; the frozen list 1+2+3. */
    int64_t pg = call_int(r, "evil", "pairs_globals", NULL, 0, "x");
    ASSERT(pg / 10000 > 40 && pg / 10000 < 100);
    ASSERT_EQ(pg % 100, 6);
    ASSERT((pg / 100) % 100 >= 15);

    /* Binary chunks are refused; text loads, in the script's environment. */
    ASSERT_EQ(ykt_rules_call(r, "evil", "binary_literal", NULL, 0, res, 1, err, sizeof err),
              YKT_OK);
    ASSERT_CONTAINS(res[0].s, "binary chunk");
    ASSERT_EQ(ykt_rules_call(r, "evil", "binary_mode", NULL, 0, res, 1, err, sizeof err), YKT_OK);
    ASSERT_CONTAINS(res[0].s, "binary chunks are not allowed");
    ASSERT_EQ(call_int(r, "evil", "text_load", NULL, 0, "x"), 42);
    ASSERT_EQ(ykt_rules_call(r, "evil", "load_sees_env", NULL, 0, res, 1, err, sizeof err), YKT_OK);
    ASSERT_STREQ(res[0].s, "evil");

    /* Patterns of bounded cost still work, as do huge counts of nothing. */
    ASSERT_EQ(call_int(r, "evil", "pattern_ok", NULL, 0, "x"), 2026 + 11 + 27 + 3);
    ASSERT_EQ(call_int(r, "evil", "rep_empty", NULL, 0, "x"), 0);

    /* Unknown scripts and functions. */
    call_fails(r, "evil", "no_such_function", YKT_ENOTFOUND, "has no function");
    call_fails(r, "evil", "CONFIG_NAME", YKT_ENOTFOUND, "has no function");
    call_fails(r, "evil", "print", YKT_ENOTFOUND, "has no function");
    call_fails(r, "nobody", "ok", YKT_ENOTFOUND, "not known");

    /* Counters. */
    found_info f = info_of(r, "evil");
    ASSERT(f.info.calls > YKT_ARRAY_LEN(cases));
    ASSERT(f.info.failures >= YKT_ARRAY_LEN(cases));
    ASSERT(f.info.memory_bytes < YKT_RULES_DEFAULT_MEMORY / 2); /* garbage was collected */
    ykt_rules_close(r);
    clean_dir(dir);
}

static void test_call_values(void)
{
    char dir[256];
    make_dir(dir, sizeof dir, "values");
    write_script(dir, "echo",
                 "function echo(a)\n"
                 "  return { i = a.i, s = a.s, b = a.b, t = math.type(a.i), none = a.none == nil,\n"
                 "           name = 'caf\\u{e9}', nul = 'a\\0b' }\n"
                 "end\n");
    ykt_rules *r;
    char err[256];
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, NULL, err, sizeof err), YKT_OK);
    ykt_rule_value args[] = {iarg("i", INT64_MIN), sarg("s", "一卡通"), barg("b", true),
                             sarg("none", NULL)};
    ykt_rule_value res[5] = {
        {.name = "i"}, {.name = "s"}, {.name = "b"}, {.name = "t"}, {.name = "none"}};
    ASSERT_EQ(ykt_rules_call(r, "echo", "echo", args, 4, res, 5, err, sizeof err), YKT_OK);
    ASSERT_EQ(res[0].type, 'i');
    ASSERT(res[0].i == INT64_MIN);
    ASSERT_EQ(res[1].type, 's');
    ASSERT_STREQ(res[1].s, "一卡通");
    ASSERT_EQ(res[2].type, 'b');
    ASSERT_EQ(res[2].i, 1);
    ASSERT_STREQ(res[3].s, "integer");
    ASSERT_EQ(res[4].i, 1);
    /* A demanded type is checked. */
    ykt_rule_value typed[1] = {{.name = "s", .type = 'i'}};
    ASSERT_EQ(ykt_rules_call(r, "echo", "echo", args, 4, typed, 1, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "result 's' is a string, expected an integer");
    ykt_rule_value nul[1] = {{.name = "nul"}};
    ASSERT_EQ(ykt_rules_call(r, "echo", "echo", args, 4, nul, 1, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "NUL byte");
    ykt_rule_value name[1] = {{.name = "name"}};
    ASSERT_EQ(ykt_rules_call(r, "echo", "echo", args, 4, name, 1, err, sizeof err), YKT_OK);
    ASSERT_STREQ(name[0].s, "caf\xc3\xa9");
    /* Malformed calls. */
    ykt_rule_value bad[1] = {{.name = "i", .type = 'x'}};
    ASSERT_EQ(ykt_rules_call(r, "echo", "echo", bad, 1, res, 1, err, sizeof err), YKT_EINVAL);
    ASSERT_EQ(ykt_rules_call(r, "echo", "echo", args, -1, res, 1, err, sizeof err), YKT_EINVAL);
    ASSERT_EQ(ykt_rules_call(r, "echo", "echo", args, 4, res, 65, err, sizeof err), YKT_EINVAL);
    ykt_rules_close(r);
    clean_dir(dir);
}

/* Class-style tables (metatables with methods) keep working once frozen; their objects
 * made during a call are the call's own. */
static void test_class_tables(void)
{
    char dir[256];
    make_dir(dir, sizeof dir, "class");
    write_script(dir, "money",
                 "local Money = {}\n"
                 "Money.__index = Money\n"
                 "Money.__tostring = function(m)\n"
                 "  return string.format('%d.%02d', m.fen // 100, m.fen % 100)\n"
                 "end\n"
                 "Money.__eq = function(a, b) return a.fen == b.fen end\n"
                 "function Money.new(fen) return setmetatable({ fen = fen }, Money) end\n"
                 "function Money:plus(o) return Money.new(self.fen + o.fen) end\n"
                 "local FIVE = { fen = 5 }\n"
                 "function total(a)\n"
                 "  local m = Money.new(a.fen):plus(Money.new(FIVE.fen))\n"
                 "  m.note = 'mine'\n"
                 "  return { fen = m.fen, text = tostring(m), eq = m == Money.new(m.fen) }\n"
                 "end\n"
                 "function patch() Money.plus = nil return {} end\n"
                 "function selftest() return total({ fen = 1 }).fen == 6 end\n");
    ykt_rules *r;
    char err[256];
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, NULL, err, sizeof err), YKT_OK);
    ASSERT_STREQ(err, "");
    ykt_rule_value args[] = {iarg("fen", 1234)};
    ykt_rule_value res[3] = {{.name = "fen"}, {.name = "text"}, {.name = "eq"}};
    ASSERT_EQ(ykt_rules_call(r, "money", "total", args, 1, res, 3, err, sizeof err), YKT_OK);
    ASSERT_EQ(res[0].i, 1239);
    ASSERT_STREQ(res[1].s, "12.39");
    ASSERT_EQ(res[2].i, 1);
    ykt_rule_value none[1] = {{.name = "x"}};
    ASSERT_EQ(ykt_rules_call(r, "money", "patch", NULL, 0, none, 0, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "attempt to modify script data");
    ASSERT_EQ(ykt_rules_call(r, "money", "total", args, 1, res, 3, err, sizeof err), YKT_OK);
    ASSERT_EQ(res[0].i, 1239);
    ykt_rules_close(r);
    clean_dir(dir);
}

/* A binary chunk of `return 1`, made with the real Lua library. */
static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    ykt_buf_append(ud, p, sz);
    return 0;
}

static void binary_chunk(ykt_buf *out)
{
    lua_State *L = luaL_newstate();
    ASSERT(luaL_loadstring(L, "function selftest() return true end") == LUA_OK);
    ASSERT(lua_dump(L, dump_writer, out, 0) == 0);
    lua_close(L);
}

static void test_broken_scripts_refused(void)
{
    char dir[256];
    make_dir(dir, sizeof dir, "broken");
    write_script(dir, "good", good_lua);
    write_script(dir, "syntax", "function f( return 1 end");
    write_script(dir, "toplevel", "local x = nil\nx.y = 1\n");
    write_script(dir, "selftest_false", "function selftest() return false end");
    write_script(dir, "selftest_nil", "function selftest() end");
    write_script(dir, "selftest_raises",
                 "function f() return { x = 1 } end\n"
                 "function selftest() assert(f().x == 2, 'f is wrong') return true end");
    write_script(dir, "selftest_number", "selftest = 1");
    write_script(dir, "loops", "while true do end");
    write_script(dir, "bloats", "local t = {} for i = 1, 1e6 do t[i] = ('x'):rep(100) .. i end");
    write_script(dir, "libwrite", "function string.trim(s) return s end");
    write_script(dir, "gc", "setmetatable({}, { __gc = print })");
    write_script(dir, "deep", "local t = {} for i = 1, 200 do t = { t } end T = t");
    write_script(dir, "no_selftest", "function f() return { x = 5 } end");
    ykt_buf bin;
    ykt_buf_init(&bin);
    binary_chunk(&bin);
    write_file(dir, "binary.lua", bin.data, bin.len);
    ykt_buf_free(&bin);
    write_file(dir, "README.md", "not a script", 12);
    write_file(dir, "bad name.lua", "x", 1);

    ykt_rules *r;
    char err[4096];
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, NULL, err, sizeof err), YKT_OK);
    static const struct {
        const char *name, *why;
    } refused[] = {
        {"syntax", "syntax.lua:1: <name> or '...' expected near 'return'"},
        {"toplevel", "toplevel.lua:2: attempt to index a nil value (local 'x')"},
        {"selftest_false", "selftest failed: selftest returned false (it must return true)"},
        {"selftest_nil", "selftest returned nil"},
        {"selftest_raises", "selftest failed: selftest_raises.lua:2: f is wrong"},
        {"selftest_number", "selftest is a number, not a function"},
        {"loops", "instruction limit exceeded"},
        {"bloats", "limit exceeded"},
        {"libwrite", "read-only library table 'string'"},
        {"gc", "__gc metamethods are not allowed"},
        {"deep", "nests deeper than 100 levels"},
        {"binary", "attempt to load a binary chunk (mode is 't')"},
    };
    for (size_t i = 0; i < YKT_ARRAY_LEN(refused); i++) {
        found_info f = info_of(r, refused[i].name);
        if (strstr(f.last, refused[i].why) == NULL)
            fprintf(stderr, "%s: last \"%s\"\n", refused[i].name, f.last);
        ASSERT(!f.info.loaded);
        ASSERT_CONTAINS(f.last, refused[i].why);
        ASSERT_STREQ(f.sha, "");
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s.lua: ", refused[i].name);
        ASSERT_CONTAINS(err, prefix); /* open reports every refusal */
        ykt_rule_value res[1] = {{.name = "x"}};
        char why[256];
        ASSERT_EQ(ykt_rules_call(r, refused[i].name, "f", NULL, 0, res, 1, why, sizeof why),
                  YKT_ENOTFOUND);
        ASSERT_CONTAINS(why, "is not loaded");
    }
    /* The rest load and answer; other files are ignored. */
    ASSERT_EQ(call_int(r, "good", "answer", NULL, 0, "x"), 42);
    ASSERT_EQ(call_int(r, "no_selftest", "f", NULL, 0, "x"), 5);
    found_info all = info_of(r, "good");
    ASSERT_EQ(all.count, (int)YKT_ARRAY_LEN(refused) + 2);
    ASSERT(strstr(err, "good.lua") == NULL);
    ykt_rules_close(r);

    /* A missing directory. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    ASSERT_EQ(ykt_rules_open(&r, NULL, missing, NULL, err, sizeof err), YKT_EIO);
    ASSERT_CONTAINS(err, "cannot read the rules directory");
    ASSERT(r == NULL);
    clean_dir(dir);
}

static void test_limits_configurable(void)
{
    char dir[256];
    make_dir(dir, sizeof dir, "limits");
    write_script(dir, "work",
                 "function spin(a) local n = 0 for i = 1, a.n do n = n + i end return { x = n } "
                 "end\n"
                 "function grow(a) return { x = #string.rep('x', a.n) } end\n");
    ykt_rules *r;
    char err[256];
    ykt_rule_value n100k[] = {iarg("n", 100000)};
    ykt_rule_value n1m[] = {iarg("n", 1 << 20)};
    ykt_rule_value res[1] = {{.name = "x"}};

    /* Defaults: a million instructions, 8 MiB. */
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, NULL, err, sizeof err), YKT_OK);
    ASSERT_EQ(call_int(r, "work", "spin", n100k, 1, "x"), (int64_t)100000 * 100001 / 2);
    ASSERT_EQ(call_int(r, "work", "grow", n1m, 1, "x"), 1 << 20);
    ykt_rules_close(r);

    /* Tighter limits stop the same calls. */
    ykt_rules_limits tight = {.instructions = 10000, .memory_bytes = 512 * 1024};
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, &tight, err, sizeof err), YKT_OK);
    ASSERT_EQ(ykt_rules_call(r, "work", "spin", n100k, 1, res, 1, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "instruction limit exceeded (10000 instructions) at work.lua:1");
    ASSERT_EQ(ykt_rules_call(r, "work", "grow", n1m, 1, res, 1, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "memory limit exceeded (524288 bytes");
    ykt_rule_value n10[] = {iarg("n", 10)};
    ASSERT_EQ(call_int(r, "work", "spin", n10, 1, "x"), 55);
    ykt_rules_close(r);

    /* Looser ones let more through. */
    ykt_rules_limits loose = {
        .instructions = 50000000, .memory_bytes = 64u << 20, .time_ms = 60000};
    ykt_rule_value n10m[] = {iarg("n", 10000000)};
    ykt_rule_value n16m[] = {iarg("n", 16 << 20)};
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, &loose, err, sizeof err), YKT_OK);
    ASSERT_EQ(call_int(r, "work", "spin", n10m, 1, "x"), (int64_t)10000000 * 10000001 / 2);
    ASSERT_EQ(call_int(r, "work", "grow", n16m, 1, "x"), 16 << 20);
    ykt_rules_close(r);

    /* Too little memory for a state at all: refused, with the reason. */
    ykt_rules_limits tiny = {.memory_bytes = 4096};
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, &tiny, err, sizeof err), YKT_OK);
    ASSERT_CONTAINS(err, "work.lua: ");
    ASSERT(strstr(err, "memory") != NULL);
    ykt_rules_close(r);
    clean_dir(dir);
}

static void test_reload_api(void)
{
    char dir[256];
    make_dir(dir, sizeof dir, "reload");
    write_script(dir, "v",
                 "function f() return { x = 1 } end\n"
                 "function selftest() return f().x == 1 end\n");
    ykt_rules *r;
    char err[256];
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, NULL, err, sizeof err), YKT_OK);
    ASSERT_EQ(call_int(r, "v", "f", NULL, 0, "x"), 1);
    found_info before = info_of(r, "v");

    /* A broken version is refused; the old one answers. */
    write_script(dir, "v",
                 "function f() return { x = 2 } end\n"
                 "function selftest() return f().x == 3 end\n");
    ASSERT_EQ(ykt_rules_reload(r, "v", err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "selftest returned false");
    ASSERT_EQ(call_int(r, "v", "f", NULL, 0, "x"), 1);
    found_info refused = info_of(r, "v");
    ASSERT_STREQ(refused.sha, before.sha);
    ASSERT_CONTAINS(refused.last, "selftest returned false");
    ASSERT(refused.info.loaded);

    /* A good version replaces it. */
    write_script(dir, "v",
                 "function f() return { x = 3 } end\n"
                 "function selftest() return f().x == 3 end\n");
    ASSERT_EQ(ykt_rules_reload(r, "v", err, sizeof err), YKT_OK);
    ASSERT_EQ(call_int(r, "v", "f", NULL, 0, "x"), 3);
    found_info after = info_of(r, "v");
    ASSERT(strcmp(after.sha, before.sha) != 0);
    ASSERT_STREQ(after.last, "ok");
    ASSERT(after.info.calls == 3 && after.info.failures == 0);

    /* A new file is added; a missing one is reported; a bad name refused. */
    write_script(dir, "w", "function g() return { y = 'w' } end");
    ASSERT_EQ(ykt_rules_reload(r, "w", err, sizeof err), YKT_OK);
    ASSERT_EQ(info_of(r, "w").count, 2);
    ASSERT_EQ(ykt_rules_reload(r, "nothing", err, sizeof err), YKT_ENOTFOUND);
    ASSERT_EQ(ykt_rules_reload(r, "../etc/passwd", err, sizeof err), YKT_EINVAL);
    /* A removed file keeps its loaded version. */
    char path[300];
    snprintf(path, sizeof path, "%s/w.lua", dir);
    ASSERT(unlink(path) == 0);
    ASSERT_EQ(ykt_rules_reload(r, "w", err, sizeof err), YKT_ENOTFOUND);
    ASSERT_CONTAINS(err, "keeps running");
    ykt_rule_value res[1] = {{.name = "y"}};
    ASSERT_EQ(ykt_rules_call(r, "w", "g", NULL, 0, res, 1, err, sizeof err), YKT_OK);
    ASSERT_STREQ(res[0].s, "w");
    ykt_rules_close(r);
    clean_dir(dir);
}

/* ---- hot reload with a real loop ---- */

typedef struct wait_for {
    ykt_rules *r;
    const char *name;
    const char *last;    /* wait until last contains this ... */
    const char *not_sha; /* ... and the sha differs from this (NULL: any) */
} wait_for;

static bool wait_done(const wait_for *w)
{
    found_info f = info_of(w->r, w->name);
    if (f.count == 0 || strcmp(f.info.name ? f.info.name : "", w->name) != 0)
        return false;
    if (strstr(f.last, w->last) == NULL)
        return false;
    return w->not_sha == NULL || strcmp(f.sha, w->not_sha) != 0;
}

static void on_tick(uv_timer_t *t)
{
    (void)t; /* only wakes the loop */
}

/* Runs the loop until w is satisfied; at most 5 seconds. */
static void run_until(uv_loop_t *loop, const wait_for *w)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    uint64_t deadline = uv_now(loop) + 5000;
    while (!wait_done(w) && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (!wait_done(w)) {
        found_info f = info_of(w->r, w->name);
        fprintf(stderr, "waited in vain for %s: last \"%s\" sha %s\n", w->name, f.last, f.sha);
    }
    ASSERT(wait_done(w));
}

static void test_hot_reload(void)
{
    char dir[256];
    make_dir(dir, sizeof dir, "hot");
    write_script(dir, "hot",
                 "function f() return { x = 1 } end\n"
                 "function selftest() return f().x == 1 end\n");
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ykt_rules *r;
    char err[256];
    ASSERT_EQ(ykt_rules_open(&r, &loop, dir, NULL, err, sizeof err), YKT_OK);
    ASSERT_EQ(call_int(r, "hot", "f", NULL, 0, "x"), 1);
    found_info v1 = info_of(r, "hot");

    /* A version that fails its self-test: seen, refused, the old one keeps answering. */
    write_script(dir, "hot",
                 "function f() return { x = 2 } end\n"
                 "function selftest() return f().x == 1 end\n");
    wait_for refused = {r, "hot", "selftest returned false", NULL};
    run_until(&loop, &refused);
    ASSERT_EQ(call_int(r, "hot", "f", NULL, 0, "x"), 1);
    ASSERT_STREQ(info_of(r, "hot").sha, v1.sha);

    /* A syntax error: the same. */
    write_script(dir, "hot", "function f( return { x = 2 } end\n");
    wait_for syntax = {r, "hot", "expected near", NULL};
    run_until(&loop, &syntax);
    ASSERT_EQ(call_int(r, "hot", "f", NULL, 0, "x"), 1);

    /* A good version replaces it. */
    write_script(dir, "hot",
                 "function f() return { x = 3 } end\n"
                 "function selftest() return f().x == 3 end\n");
    wait_for good = {r, "hot", "ok", v1.sha};
    run_until(&loop, &good);
    ASSERT_EQ(call_int(r, "hot", "f", NULL, 0, "x"), 3);

    /* A new script appears, saved the atomic way (write a temporary file, rename). */
    char tmp[300], path[300];
    snprintf(tmp, sizeof tmp, "%s/.new.lua.swp", dir);
    snprintf(path, sizeof path, "%s/new.lua", dir);
    FILE *f = fopen(tmp, "w");
    ASSERT(f != NULL);
    fputs("function g() return { y = 7 } end\n", f);
    fclose(f);
    ASSERT(rename(tmp, path) == 0);
    wait_for added = {r, "new", "ok", NULL};
    run_until(&loop, &added);
    ASSERT_EQ(call_int(r, "new", "g", NULL, 0, "y"), 7);

    ykt_rules_close(r);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    clean_dir(dir);
}

/* ---- rules test ---- */

static void test_rules_test_json(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/fees.lua", scripts_dir);
    size_t len;
    char *src = read_all(path, &len);
    ykt_buf out;
    ykt_buf_init(&out);
    char err[256];

    ASSERT_EQ(ykt_rules_test(NULL, "scripts/fees.lua", src, len, "fee",
                             "{\"amount\":1250,\"card_type\":\"temporary\",\"merchant\":"
                             "\"canteen-1\",\"category\":\"canteen\",\"discount_bp\":500,"
                             "\"fee_bp\":1000}",
                             &out, err, sizeof err),
              YKT_OK);
    ASSERT_STREQ(ykt_buf_cstr(&out), "{\"discount\":62,\"fee\":118}");

    /* null leaves a field out. */
    ykt_buf_reset(&out);
    ASSERT_EQ(ykt_rules_test(NULL, "fees.lua", src, len, "fee",
                             "{\"amount\":1000,\"card_type\":\"temporary\",\"hour\":null}", &out,
                             err, sizeof err),
              YKT_OK);
    ASSERT_STREQ(ykt_buf_cstr(&out), "{\"discount\":0,\"fee\":100}");

    /* The rule's own refusal, bad JSON, a missing function, nothing appended on failure. */
    ykt_buf_reset(&out);
    ASSERT_EQ(
        ykt_rules_test(NULL, "fees.lua", src, len, "fee", "{\"amount\":-1}", &out, err, sizeof err),
        YKT_EINVAL);
    ASSERT_CONTAINS(err, "amount must be an integer");
    ASSERT_EQ(ykt_rules_test(NULL, "fees.lua", src, len, "fee", "{\"amount\":12.5}", &out, err,
                             sizeof err),
              YKT_EINVAL);
    ASSERT_CONTAINS(err, "input: offset 10: only integers");
    ASSERT_EQ(ykt_rules_test(NULL, "fees.lua", src, len, "fee", "[1]", &out, err, sizeof err),
              YKT_EINVAL);
    ASSERT_CONTAINS(err, "JSON object");
    ASSERT_EQ(ykt_rules_test(NULL, "fees.lua", src, len, "nope", "{}", &out, err, sizeof err),
              YKT_ENOTFOUND);
    ASSERT_CONTAINS(err, "fees.lua has no function 'nope'");
    ASSERT_EQ(out.len, 0);
    free(src);

    /* Nested input and output; keys sorted; arrays. */
    static const char shape[] =
        "function shape(a)\n"
        "  local total = 0 for _, v in ipairs(a.items) do total = total + v.n end\n"
        "  return { total = total, names = { a.items[1].name, a.items[2].name },\n"
        "           zeta = true, alpha = { b = 1, a = 'x\"y' }, empty = {} }\n"
        "end\n"
        "function frozen() return CONST end\n"
        "CONST = { b = 2, a = { 1, 2 } }\n"
        "function float() return { x = 0.5 } end\n"
        "function mixed() return { 1, 2, x = 3 } end\n"
        "function holes() return { list = { 1, nil, 3 } } end\n"
        "function selftest() return shape({ items = { { n = 1, name = 'a' }, { n = 2, name = "
        "'b' } } }).total == 3 end\n";
    ASSERT_EQ(ykt_rules_test(NULL, "shape", shape, strlen(shape), "shape",
                             "{\"items\":[{\"n\":5,\"name\":\"一\"},{\"n\":7,\"name\":\"b\\n\"}]}",
                             &out, err, sizeof err),
              YKT_OK);
    ASSERT_STREQ(ykt_buf_cstr(&out), "{\"alpha\":{\"a\":\"x\\\"y\",\"b\":1},\"empty\":{},"
                                     "\"names\":[\"一\",\"b\\n\"],\"total\":12,\"zeta\":true}");
    ykt_buf_reset(&out);
    ASSERT_EQ(
        ykt_rules_test(NULL, "shape", shape, strlen(shape), "frozen", NULL, &out, err, sizeof err),
        YKT_OK);
    ASSERT_STREQ(ykt_buf_cstr(&out), "{\"a\":[1,2],\"b\":2}");
    ykt_buf_reset(&out);
    ASSERT_EQ(
        ykt_rules_test(NULL, "shape", shape, strlen(shape), "float", NULL, &out, err, sizeof err),
        YKT_EINVAL);
    ASSERT_CONTAINS(err, "not an integer");
    ASSERT_EQ(
        ykt_rules_test(NULL, "shape", shape, strlen(shape), "mixed", NULL, &out, err, sizeof err),
        YKT_EINVAL);
    ASSERT_CONTAINS(err, "mixing string keys and array items cannot be written as JSON");
    ASSERT_EQ(
        ykt_rules_test(NULL, "shape", shape, strlen(shape), "holes", NULL, &out, err, sizeof err),
        YKT_EINVAL);
    ASSERT_CONTAINS(err, "an array with holes");

    /* A script that fails its self-test is refused before anything runs. */
    static const char failing[] = "function f() return {} end function selftest() return nil end";
    ASSERT_EQ(ykt_rules_test(NULL, "failing.lua", failing, strlen(failing), "f", "{}", &out, err,
                             sizeof err),
              YKT_EINVAL);
    ASSERT_CONTAINS(err, "selftest");

    /* The same limits apply. */
    static const char spin[] = "function f() while true do end end";
    ykt_rules_limits lim = {.instructions = 5000};
    ASSERT_EQ(
        ykt_rules_test(&lim, "spin.lua", spin, strlen(spin), "f", "{}", &out, err, sizeof err),
        YKT_EINVAL);
    ASSERT_CONTAINS(err, "instruction limit exceeded (5000 instructions) at spin.lua:1");
    ASSERT_EQ(out.len, 0);
    ykt_buf_free(&out);
}

static void test_print_goes_to_the_log(void)
{
    char dir[256];
    make_dir(dir, sizeof dir, "print");
    write_script(dir, "talk",
                 "function f() for i = 1, 50 do print('line', i, {}, nil) end "
                 "print(setmetatable({}, { __tostring = function() return "
                 "'custom' end })) return { x = 1 } end\n"
                 "function bad() print(setmetatable({}, { __tostring = function() "
                 "return {} end })) return { x = 1 } end\n");
    ykt_rules *r;
    char err[256];
    ASSERT_EQ(ykt_rules_open(&r, NULL, dir, NULL, err, sizeof err), YKT_OK);
    ASSERT_EQ(call_int(r, "talk", "f", NULL, 0, "x"), 1);
    int level = ykt_log_level_current;
    ykt_log_set_level(YKT_LOG_DEBUG);
    ASSERT_EQ(call_int(r, "talk", "f", NULL, 0, "x"), 1); /* 20 lines, then one "suppressed" */
    call_fails(r, "talk", "bad", YKT_EINVAL, "'__tostring' must return a string");
    ykt_log_set_level(level);
    ykt_rules_close(r);
    clean_dir(dir);
}

/* ---- cost per call ---- */

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void test_call_overhead(void)
{
    ykt_rules *r = open_shipped();
    ykt_rule_value args[] = {iarg("amount", 1250),        sarg("card_type", "temporary"),
                             sarg("kind", "student"),     sarg("merchant", "canteen-1"),
                             sarg("category", "canteen"), iarg("discount_bp", 0),
                             iarg("fee_bp", 1000),        iarg("hour", 12)};
    ykt_rule_value res[2] = {{.name = "discount", .type = 'i'}, {.name = "fee", .type = 'i'}};
    char err[256];
    const int n = 100000;
    double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        args[0].i = 1000 + i % 5000;
        ASSERT_EQ(ykt_rules_call(r, "fees", "fee", args, 8, res, 2, err, sizeof err), YKT_OK);
        ASSERT_EQ(res[1].i, (args[0].i * 1000) / 10000);
    }
    double per_call = (now_ns() - t0) / n;
    printf("    fees.fee: %.0f ns per call (%d calls, %zu bytes of state)\n", per_call, n,
           info_of(r, "fees").info.memory_bytes);
    found_info f = info_of(r, "fees");
    ASSERT(f.info.memory_bytes < 1u << 20); /* per-call garbage is collected as it goes */
    ykt_rules_close(r);
}

int main(void)
{
    test_tmpdir_create("rules");
    find_scripts_dir();
    /* Refusals are logged at error level on purpose; keep the test output readable. */
    ykt_log_set_level(YKT_LOG_ERROR + 1);
    RUN(test_json_valid);
    RUN(test_json_invalid);
    RUN(test_json_write_string);
    RUN(test_shipped_scripts_load);
    RUN(test_fees);
    RUN(test_water_power_library_rooms);
    RUN(test_attendance);
    RUN(test_sandbox_contains_escapes);
    RUN(test_call_values);
    RUN(test_class_tables);
    RUN(test_broken_scripts_refused);
    RUN(test_limits_configurable);
    RUN(test_reload_api);
    RUN(test_hot_reload);
    RUN(test_rules_test_json);
    RUN(test_print_goes_to_the_log);
    RUN(test_call_overhead);
    return 0;
}
