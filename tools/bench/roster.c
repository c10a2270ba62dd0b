#include "roster.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A few real county-level codes (GB/T 2260) from all over the country. */
static const char *const regions[] = {
    "110101", "110105", "110108", "120101", "130102", "140105", "150102", "210102",
    "220102", "230103", "310104", "310115", "320106", "320508", "330106", "340104",
    "350102", "360102", "370102", "410105", "420111", "430104", "440106", "440305",
    "450103", "500103", "510107", "520102", "530102", "610113", "620102", "650102",
};
#define NREGIONS   (sizeof regions / sizeof regions[0])
#define BIRTH_DAYS (4 * 365) /* four cohorts of birth dates */
#define SEQ_SLOTS  500       /* sequence numbers per (region, day, gender) */

static const char *const surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴",   "周",   "徐",   "孙",   "马",
    "朱", "胡", "郭", "何", "高", "林", "罗", "郑", "梁",   "谢",   "宋",   "唐",   "许",
    "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董",   "袁",   "潘",   "于",   "蒋",
    "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",   "任",   "沈",   "姚",   "卢",
    "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "欧阳", "司马", "诸葛", "上官", "慕容",
};
/* Characters of given names; many are used for both, as in life. */
static const char *const given_m[] = {
    "伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "建", "文", "鹏",
    "辉", "宇", "浩", "博", "俊", "泽", "晨", "阳", "昊", "天", "睿", "凯", "鑫", "翔",
    "航", "皓", "楠", "硕", "铭", "锦", "一", "子", "嘉", "思", "然", "轩", "瑞", "华",
};
static const char *const given_f[] = {
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "秀", "霞", "桂", "英", "华", "玉", "晓",
    "燕", "欣", "怡", "涵", "梓", "雨", "佳", "琪", "诺", "萱", "瑶", "婷", "倩", "雪",
    "颖", "宁", "悦", "彤", "琳", "子", "嘉", "思", "一", "晨", "然", "瑞", "楠", "文",
};
static const struct {
    const char *name, *class_prefix;
} departments[] = {
    {"计算机学院", "计科"},
    {"软件学院", "软件"},
    {"数学科学学院", "数学"},
    {"物理学院", "物理"},
    {"化学与分子工程学院", "化学"},
    {"生命科学学院", "生科"},
    {"经济管理学院", "经管"},
    {"外国语学院", "英语"},
    {"法学院", "法学"},
    {"新闻与传播学院", "新传"},
    {"电子信息工程学院", "电信"},
    {"机械工程学院", "机械"},
    {"土木工程学院", "土木"},
    {"医学院", "临床"},
    {"艺术学院", "美术"},
    {"环境科学与工程学院", "环境"},
    {"信息科学技术学院（智能科学系）", "智能"},
    {"人文学院, 历史系", "历史"}, /* a comma: the CSV must quote it */
};
#define NDEPTS (sizeof departments / sizeof departments[0])

/* splitmix64: a tiny, good, stateless mixer; row i draws from mix(seed, i, k). */
static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static uint64_t draw(uint64_t seed, size_t i, unsigned k)
{
    return mix(mix(seed ^ ((uint64_t)k << 56)) ^ (uint64_t)i);
}

#define NPAIRS (NREGIONS * BIRTH_DAYS)
_Static_assert(NPAIRS <= 65536, "pairs are numbered in 16 bits");
_Static_assert((uint64_t)NPAIRS *SEQ_SLOTS >= YKT_ROSTER_MAX, "room for unique ID numbers");

/*
 * The shuffled (region, birth day) pairs of a seed, computed once and cached (so the
 * roster functions are not thread-safe; the benchmark generates rosters on one thread).
 */
static const uint16_t *pairs(uint64_t seed)
{
    static uint16_t perm[NPAIRS];
    static uint64_t cached_seed;
    static bool cached;
    if (!cached || cached_seed != seed) {
        for (size_t i = 0; i < NPAIRS; i++)
            perm[i] = (uint16_t)i;
        for (size_t i = NPAIRS - 1; i > 0; i--) { /* Fisher-Yates */
            size_t k = (size_t)(draw(seed, i, 6) % (i + 1));
            uint16_t t = perm[i];
            perm[i] = perm[k];
            perm[k] = t;
        }
        cached_seed = seed;
        cached = true;
    }
    return perm;
}

char ykt_roster_id_check(const char *first17)
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int k = 0; k < 17; k++)
        sum += (first17[k] - '0') * weights[k];
    return "10X98765432"[sum % 11];
}

int ykt_roster_latest_cohort(void)
{
    /* Until September the newest students are those of last year's intake. */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900 - (tm.tm_mon < 8 ? 1 : 0);
}

/* Day d after January 1st of year as y, m, d (UTC noon avoids any DST edge). */
static void civil_from_days(int year, int day, int *y, int *m, int *dd)
{
    struct tm tm = {.tm_year = year - 1900, .tm_mon = 0, .tm_mday = 1 + day, .tm_hour = 12};
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
    *dd = tm.tm_mday;
}

void ykt_roster_row_make(uint64_t seed, size_t i, int this_year, ykt_roster_row *out)
{
    memset(out, 0, sizeof *out);
    /*
     * Uniqueness of the ID number: a seeded shuffle of all (region, birth day) pairs gives
     * row i its pair, and rows that share a pair (i apart by a multiple of the pair count)
     * get different sequence slots. The gender only sets the parity of the sequence, so it
     * cannot make two rows collide.
     */
    const uint16_t *perm = pairs(seed);
    size_t pair = perm[i % NPAIRS];
    size_t region = pair % NREGIONS;
    int day = (int)(pair / NREGIONS);
    int slot = (int)((i / NPAIRS + draw(seed, pair, 5)) % SEQ_SLOTS);
    bool male = draw(seed, i, 1) & 1;

    /* Four cohorts: born in year B, enrolled at 18 in year B + 18, up to this_year. */
    int cohort = day / 365;
    int birth_year = this_year - 3 - 18 + cohort;
    int by, bm, bd;
    civil_from_days(birth_year, day % 365, &by, &bm, &bd);
    out->enrol_year = birth_year + 18;
    out->study_years = 4;
    snprintf(out->enrolled, sizeof out->enrolled, "%04d-09-01", out->enrol_year);

    char first17[40]; /* 17 digits; room for what the compiler cannot rule out */
    snprintf(first17, sizeof first17, "%s%04d%02d%02d%03d", regions[region], by, bm, bd,
             slot * 2 + (male ? 1 : 0));
    memcpy(out->id_number, first17, 17);
    out->id_number[17] = ykt_roster_id_check(first17);
    out->id_number[18] = '\0';
    snprintf(out->gender, sizeof out->gender, "%s", male ? "M" : "F");
    snprintf(out->person_no, sizeof out->person_no, "%04d%07zu", out->enrol_year, i);

    uint64_t r = draw(seed, i, 2);
    const char *sur = surnames[r % (sizeof surnames / sizeof surnames[0])];
    const char *const *given = male ? given_m : given_f;
    size_t ngiven = male ? sizeof given_m / sizeof given_m[0] : sizeof given_f / sizeof given_f[0];
    const char *g1 = given[(r >> 8) % ngiven];
    const char *g2 = given[(r >> 16) % ngiven];
    bool two = (r >> 24) % 10 < 7; /* most given names have two characters */
    snprintf(out->name, sizeof out->name, "%s%s%s", sur, g1, two ? g2 : "");

    size_t dept = (size_t)((r >> 32) % NDEPTS);
    out->department = departments[dept].name;
    snprintf(out->class_name, sizeof out->class_name, "%s%02d%02d", departments[dept].class_prefix,
             out->enrol_year % 100, (int)((r >> 40) % 6) + 1);

    if ((r >> 48) % 100 >= 15) {
        static const char *const prefixes[] = {"13", "15", "17", "18", "19"};
        uint64_t p = draw(seed, i, 3);
        snprintf(out->phone, sizeof out->phone, "%s%09llu", prefixes[p % 5],
                 (unsigned long long)((p >> 8) % 1000000000ULL));
    }
}

/* Appends a CSV field, quoted when it must be (RFC 4180). */
static void csv_field(ykt_buf *out, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n") != NULL) {
        ykt_buf_append(out, "\"", 1);
        for (; *s; s++) {
            if (*s == '"')
                ykt_buf_append(out, "\"", 1);
            ykt_buf_append(out, s, 1);
        }
        ykt_buf_append(out, "\"", 1);
    } else {
        ykt_buf_appends(out, s);
    }
    ykt_buf_appends(out, last ? "\r\n" : ",");
}

void ykt_roster_csv(ykt_buf *out, size_t rows, uint64_t seed, int this_year)
{
    ykt_buf_append(out, "\xEF\xBB\xBF", 3);
    ykt_buf_appends(out, "学号,姓名,性别,身份证号,学院,班级,入学日期,学制,手机\r\n");
    for (size_t i = 0; i < rows; i++) {
        ykt_roster_row p;
        ykt_roster_row_make(seed, i, this_year, &p);
        uint64_t r = draw(seed, i, 4);
        char date[32], years[16];
        /* Mostly Excel's own form, some typed by hand. */
        switch (r % 10) {
        case 0:
            snprintf(date, sizeof date, "%d年9月1日", p.enrol_year);
            break;
        case 1:
        case 2:
            snprintf(date, sizeof date, "%s", p.enrolled);
            break;
        default:
            snprintf(date, sizeof date, "%d/9/1", p.enrol_year);
            break;
        }
        snprintf(years, sizeof years, "%d%s", p.study_years, (r >> 8) % 4 == 0 ? "年" : "");
        csv_field(out, p.person_no, false);
        csv_field(out, p.name, false);
        csv_field(out, p.gender[0] == 'M' ? "男" : "女", false);
        csv_field(out, p.id_number, false);
        csv_field(out, p.department, false);
        csv_field(out, p.class_name, false);
        csv_field(out, date, false);
        csv_field(out, years, false);
        csv_field(out, p.phone, true);
    }
}

int ykt_roster_to_gbk(const char *in, size_t len, ykt_buf *out, char *err, size_t errlen)
{
    if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0) {
        in += 3; /* Excel's plain "CSV" (GBK) has no byte-order mark */
        len -= 3;
    }
    iconv_t cd = iconv_open("GBK", "UTF-8");
    if (cd == (iconv_t)-1) {
        snprintf(err, errlen, "iconv cannot convert UTF-8 to GBK: %s", strerror(errno));
        return -1;
    }
    ykt_buf_reserve(out, len + 16); /* GBK is never longer than UTF-8 for CJK text */
    char *src = (char *)in;
    size_t left = len;
    int rc = 0;
    while (left > 0) {
        ykt_buf_reserve(out, left + 16);
        char *dst = out->data + out->len;
        size_t room = out->cap - out->len - 1;
        size_t before = room;
        if (iconv(cd, &src, &left, &dst, &room) == (size_t)-1 && errno != E2BIG) {
            snprintf(err, errlen, "iconv: byte %zu: %s", len - left, strerror(errno));
            rc = -1;
            break;
        }
        out->len += before - room;
    }
    iconv_close(cd);
    return rc;
}
