/* Unit tests for core/src/csvimport.c: the people import parser (R-P2). */
#include "test.h"

#include "buf.h"
#include "common.h"
#include "csvimport.h"
#include "util.h"

#include <iconv.h>
#include <stdbool.h>
#include <time.h>

/* ---- helpers ---- */

/* A valid PRC ID number from its first 17 digits (ISO 7064 MOD 11-2 check character). */
static const char *make_id(const char *d17, char out[19])
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (d17[i] - '0') * weights[i];
    memcpy(out, d17, 17);
    out[17] = "10X98765432"[sum % 11];
    out[18] = '\0';
    return out;
}

/* The n-th distinct valid ID: birth dates from 2005-01-01 on, sequence numbers 000-999. */
static const char *nth_id(int n, char out[19])
{
    char d17[18];
    unsigned k = (unsigned)n / 1000u % 4000u;
    snprintf(d17, sizeof d17, "110105%04u%02u%02u%03u", 2005u + k / 336u, 1u + (k / 28u) % 12u,
             1u + k % 28u, (unsigned)n % 1000u);
    return make_id(d17, out);
}

static char err[256];

static int parse_with(const char *csv, const ykt_import_opts *o, ykt_import *imp)
{
    return ykt_import_parse(csv, strlen(csv), o, imp, err, sizeof err);
}

static int parse(const char *csv, ykt_import *imp)
{
    return parse_with(csv, NULL, imp);
}

static void dump(const ykt_import *imp)
{
    for (int i = 0; i < imp->nerrors; i++)
        fprintf(stderr, "    line %d %s: %s\n", imp->errors[i].line, imp->errors[i].field,
                imp->errors[i].reason);
}

/* The reason of the error at (line, field), or NULL. */
static const char *error_at(const ykt_import *imp, int line, const char *field)
{
    for (int i = 0; i < imp->nerrors; i++)
        if (imp->errors[i].line == line && strcmp(imp->errors[i].field, field) == 0)
            return imp->errors[i].reason;
    return NULL;
}

static int errors_on(const ykt_import *imp, int line)
{
    int n = 0;
    for (int i = 0; i < imp->nerrors; i++)
        n += imp->errors[i].line == line;
    return n;
}

#define ASSERT_ERROR(imp, line, field, text)                                                       \
    do {                                                                                           \
        const char *r_ = error_at((imp), (line), (field));                                         \
        if (r_ == NULL)                                                                            \
            dump(imp);                                                                             \
        ASSERT_CONTAINS(r_, (text));                                                               \
    } while (0)

#define ASSERT_CLEAN(imp)                                                                          \
    do {                                                                                           \
        if ((imp)->nerrors != 0)                                                                   \
            dump(imp);                                                                             \
        ASSERT_EQ((imp)->nerrors, 0);                                                              \
    } while (0)

static char *to_gbk(const char *utf8, size_t *outlen)
{
    iconv_t cd = iconv_open("GBK", "UTF-8");
    ASSERT(cd != (iconv_t)-1);
    size_t n = strlen(utf8), cap = n * 2 + 1, il = n, ol = cap;
    char *out = malloc(cap), *ip = (char *)utf8, *op = out;
    ASSERT(out != NULL);
    ASSERT(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
    iconv_close(cd);
    *outlen = (size_t)(op - out);
    return out;
}

static const char *STUDENT_HEADER =
    "person_no,kind,name,gender,id_number,phone,department,class,enrolled_on,study_years\n";

/* ---- well-formed files ---- */

static void test_clean_student_file(void)
{
    char a[19], b[19], csv[1024];
    snprintf(csv, sizeof csv,
             "%s"
             "2024001,student,张三,男,%s,13812345678,计算机学院,计科2401,2024-09-01,4\n"
             "2024002,student,Li Lei,F,%s,,计算机学院,计科2401,2024-09-01,5\n",
             STUDENT_HEADER, nth_id(1, a), nth_id(2, b));
    ykt_import imp;
    ASSERT_EQ(parse(csv, &imp), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_STREQ(imp.encoding, "utf-8");
    ASSERT_EQ(imp.nrows, 2);
    ASSERT_EQ(imp.data_rows, 2);
    ASSERT_EQ(imp.lines[0], 2);
    ASSERT_EQ(imp.lines[1], 3);
    const ykt_person *p = &imp.rows[0];
    ASSERT_STREQ(p->person_no, "2024001");
    ASSERT_STREQ(p->kind, "student");
    ASSERT_STREQ(p->name, "张三");
    ASSERT_STREQ(p->gender, "M");
    ASSERT_STREQ(p->id_number, a);
    ASSERT_STREQ(p->phone, "13812345678");
    ASSERT_STREQ(p->department, "计算机学院");
    ASSERT_STREQ(p->class_name, "计科2401");
    ASSERT_STREQ(p->enrolled_on, "2024-09-01");
    ASSERT_EQ(p->study_years, 4);
    /* Derived by ykt_person_validate: the July 31 after the last year of study. */
    ASSERT_STREQ(p->valid_until, "2028-07-31");
    ASSERT_STREQ(p->validity_source, "study_length");
    ASSERT_STREQ(p->status, "active");
    ASSERT_STREQ(imp.rows[1].valid_until, "2029-07-31");
    ASSERT_STREQ(imp.rows[1].gender, "F");
    ASSERT_STREQ(imp.rows[1].phone, "");
    ykt_import_free(&imp);
    ASSERT(imp.rows == NULL && imp.nrows == 0);
    ykt_import_free(&imp); /* twice is harmless */
}

static void test_staff_chinese_headers(void)
{
    char a[19], b[19], csv[1024];
    char xid[19];
    make_id("11010519491231002", xid); /* ends in X */
    ASSERT_EQ(xid[17], 'X');
    xid[17] = 'x';
    snprintf(csv, sizeof csv,
             "工号,姓名,性别,身份证号码,单位,合同截止,联系电话,人员类别\n"
             "T0001,李四,女,%s,人事处,2027/6/30,010-62751234,\n"
             "T0002,王五,男,%s,后勤处,20300101,,教师\n"
             "T0003,赵六,男,%s,保卫处,2029.1.1,,职工\n",
             nth_id(1, a), nth_id(2, b), xid);
    ykt_import_opts o = {.default_kind = "staff"};
    ykt_import imp;
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_EQ(imp.nrows, 3);
    ASSERT_STREQ(imp.rows[0].kind, "staff"); /* empty cell: the default kind */
    ASSERT_STREQ(imp.rows[0].valid_until, "2027-06-30");
    ASSERT_STREQ(imp.rows[0].validity_source, "contract");
    ASSERT_STREQ(imp.rows[0].phone, "010-62751234");
    ASSERT_STREQ(imp.rows[0].gender, "F");
    ASSERT_STREQ(imp.rows[1].valid_until, "2030-01-01");
    ASSERT_STREQ(imp.rows[2].valid_until, "2029-01-01");
    /* A lower-case x is stored upper-case so that the same person always compares equal. */
    ASSERT_EQ(imp.rows[2].id_number[17], 'X');
    ASSERT_STREQ(imp.rows[2].enrolled_on, "");
    ASSERT_EQ(imp.rows[2].study_years, 0);
    ykt_import_free(&imp);
}

static void test_bom_and_crlf(void)
{
    char a[19], b[19], csv[1024];
    snprintf(csv, sizeof csv,
             "\xEF\xBB\xBFperson_no,name,gender,id_number,department,valid_until\r\n"
             "V1,Ann,F,%s,外事处,2026-12-31\r\n"
             "\r\n"
             "V2,Bob,M,%s,外事处,2026-12-31\r\n"
             "\r\n\r\n",
             nth_id(1, a), nth_id(2, b));
    ykt_import_opts o = {.default_kind = "temporary"};
    ykt_import imp;
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_STREQ(imp.encoding, "utf-8");
    ASSERT_EQ(imp.nrows, 2);
    ASSERT_EQ(imp.lines[0], 2);
    ASSERT_EQ(imp.lines[1], 4);                /* an empty line in between still counts as a line */
    ASSERT_STREQ(imp.rows[0].person_no, "V1"); /* the BOM did not stick to the header */
    ASSERT_STREQ(imp.rows[1].valid_until, "2026-12-31");
    ASSERT_STREQ(imp.rows[1].validity_source, "approved");
    ykt_import_free(&imp);

    /* Old Mac exports end lines with a lone CR. */
    snprintf(csv, sizeof csv,
             "person_no,name,gender,id_number,department,valid_until\r"
             "V1,Ann,F,%s,外事处,2026-12-31\r"
             "V2,Bob,X,%s,外事处,2026-12-31\r",
             nth_id(1, a), nth_id(2, b));
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_EQ(imp.nrows, 1);
    ASSERT_ERROR(&imp, 3, "gender", "not a gender");
    ykt_import_free(&imp);
}

static void test_quoted_fields(void)
{
    char a[19], b[19], c[19], d[19], csv[1024];
    snprintf(csv, sizeof csv,
             "person_no,name,gender,id_number,department,host,valid_until\n"
             "V001,\"Smith, John\",M,%s,\"外事处, 接待科\",\"王\"\"老师\"\"\",2026-12-31\n"
             "V002,\"Anna\r\n"
             "Berg\",F,%s,外事处,,2026-12-31\n"
             "V003,  \"Carl\"  ,M,%s,外事处,\"\",2026-13-01\n"
             "  V004 ,Dora,F,%s,  外事处\xE3\x80\x80 ,\" \",2026-12-31\n",
             nth_id(1, a), nth_id(2, b), nth_id(3, c), nth_id(4, d));
    ykt_import_opts o = {.default_kind = "temporary"};
    ykt_import imp;
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_EQ(imp.nrows, 2);
    ASSERT_STREQ(imp.rows[0].name, "Smith, John");
    ASSERT_STREQ(imp.rows[0].department, "外事处, 接待科");
    ASSERT_STREQ(imp.rows[0].host, "王\"老师\"");
    ASSERT_EQ(imp.lines[0], 2);
    /* The line break inside the quoted name is reported where the row starts... */
    ASSERT_ERROR(&imp, 3, "name", "line break");
    /* ...and the next row is on line 5, the line an editor shows, not record 4. */
    ASSERT_ERROR(&imp, 5, "valid_until", "not a real date");
    ASSERT_EQ(errors_on(&imp, 5), 1);
    ASSERT_EQ(imp.nerrors, 2);
    /* Unquoted blanks (also the ideographic space) are trimmed; quoted ones are kept. */
    ASSERT_EQ(imp.lines[1], 6);
    ASSERT_STREQ(imp.rows[1].person_no, "V004");
    ASSERT_STREQ(imp.rows[1].department, "外事处");
    ASSERT_STREQ(imp.rows[1].host, " ");
    ykt_import_free(&imp);
}

static void test_malformed_quotes(void)
{
    char a[19], b[19], c[19], d[19], csv[1024];
    snprintf(csv, sizeof csv,
             "person_no,name,gender,id_number,department,valid_until\n"
             "T1,\"abc\"def,M,%s,d,2026-01-01\n"
             "T2,ab\"c,M,%s,d,2026-01-01\n"
             "T3,ok,M,%s,d,2026-01-01\n"
             "T4,\"never closed,M,%s,d,2026-01-01\n"
             "T5,x,M,x,d,2026-01-01\n",
             nth_id(1, a), nth_id(2, b), nth_id(3, c), nth_id(4, d));
    ykt_import_opts o = {.default_kind = "temporary"};
    ykt_import imp;
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_ERROR(&imp, 2, "name", "after a closing quote");
    ASSERT_ERROR(&imp, 3, "name", "inside an unquoted field");
    ASSERT_ERROR(&imp, 5, "name", "never closed");
    ASSERT_EQ(imp.nerrors, 3); /* the open quote swallowed line 6 */
    ASSERT_EQ(imp.nrows, 1);
    ASSERT_EQ(imp.lines[0], 4);
    ykt_import_free(&imp);
}

/* ---- encodings ---- */

static const char *GBK_SOURCE = "学号,类别,姓名,性别,身份证号,院系,班级,入学日期,学制\n"
                                "2024101,学生,张三,男,%s,计算机学院,计科2401,2024/9/1,4年\n"
                                "2024102,学生,欧阳娜娜,女,%s,外国语学院,英语2401,2024.9.1,4\n";

static char *gbk_file(size_t *len)
{
    char a[19], b[19], utf8[1024];
    snprintf(utf8, sizeof utf8, GBK_SOURCE, nth_id(1, a), nth_id(2, b));
    return to_gbk(utf8, len);
}

static void test_gbk_file(void)
{
    size_t len;
    char *gbk = gbk_file(&len);
    ykt_import imp;
    ASSERT_EQ(ykt_import_parse(gbk, len, NULL, &imp, err, sizeof err), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_STREQ(imp.encoding, "gbk");
    ASSERT_EQ(imp.nrows, 2);
    ASSERT_STREQ(imp.rows[0].name, "张三");
    ASSERT_STREQ(imp.rows[0].kind, "student");
    ASSERT_STREQ(imp.rows[0].department, "计算机学院");
    ASSERT_STREQ(imp.rows[0].enrolled_on, "2024-09-01");
    ASSERT_EQ(imp.rows[0].study_years, 4);
    ASSERT_STREQ(imp.rows[0].valid_until, "2028-07-31");
    ASSERT_STREQ(imp.rows[1].name, "欧阳娜娜");
    ASSERT_STREQ(imp.rows[1].gender, "F");
    ykt_import_free(&imp);

    /* Named explicitly, also by its aliases. */
    const char *names[] = {"gbk", "GBK", "gb18030", "GB2312", "cp936"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(names); i++) {
        ykt_import_opts o = {.encoding = names[i]};
        ASSERT_EQ(ykt_import_parse(gbk, len, &o, &imp, err, sizeof err), YKT_OK);
        ASSERT_CLEAN(&imp);
        ASSERT_EQ(imp.nrows, 2);
        ASSERT_STREQ(imp.encoding, "gbk");
        ykt_import_free(&imp);
    }
    free(gbk);
}

static void test_encoding_override(void)
{
    size_t len;
    char *gbk = gbk_file(&len);
    ykt_import imp;
    /* Told UTF-8, a GBK file is refused, not guessed at. */
    ykt_import_opts o = {.encoding = "utf-8"};
    ASSERT_EQ(ykt_import_parse(gbk, len, &o, &imp, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "line 1: not valid UTF-8");
    ASSERT_CONTAINS(err, "gbk");
    ASSERT_EQ(imp.nrows, 0);
    ASSERT(imp.rows == NULL && imp.errors == NULL);
    ykt_import_free(&imp);
    free(gbk);

    /* Told GBK, UTF-8 is decoded as GBK: often that fails (a lead byte before a comma)... */
    char a[19], utf8[1024];
    snprintf(utf8, sizeof utf8, GBK_SOURCE, nth_id(1, a), nth_id(2, a));
    o.encoding = "gbk";
    ASSERT_EQ(parse_with(utf8, &o, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "line 2: not valid GBK");
    /* ...and sometimes it gives other characters: the choice is the caller's, and honoured. */
    snprintf(utf8, sizeof utf8,
             "person_no,kind,name,gender,id_number,department,valid_until\n"
             "S1,staff,张三,M,%s,HR,2030-01-01\n",
             nth_id(3, a));
    ASSERT_EQ(parse_with(utf8, &o, &imp), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_STREQ(imp.encoding, "gbk");
    ASSERT_STREQ(imp.rows[0].name, "寮犱笁");
    ykt_import_free(&imp);
    o.encoding = NULL;
    ASSERT_EQ(parse_with(utf8, &o, &imp), YKT_OK);
    ASSERT_STREQ(imp.encoding, "utf-8");
    ASSERT_STREQ(imp.rows[0].name, "张三");
    ykt_import_free(&imp);
    o.encoding = "gbk";

    /* Plain ASCII is the same in both. */
    snprintf(utf8, sizeof utf8,
             "person_no,kind,name,gender,id_number,department,valid_until\n"
             "S1,staff,Wang,M,%s,HR,2030-01-01\n",
             nth_id(3, a));
    ASSERT_EQ(parse_with(utf8, &o, &imp), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_EQ(imp.nrows, 1);
    ASSERT_STREQ(imp.encoding, "gbk");
    ykt_import_free(&imp);
    o.encoding = "UTF8";
    ASSERT_EQ(parse_with(utf8, &o, &imp), YKT_OK);
    ASSERT_STREQ(imp.encoding, "utf-8");
    ykt_import_free(&imp);

    o.encoding = "latin1";
    ASSERT_EQ(parse_with(utf8, &o, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "unknown encoding 'latin1'");
}

static void test_invalid_bytes(void)
{
    ykt_import imp;
    /* 0xFF is neither UTF-8 nor GBK. */
    const char *bad = "person_no,name\nA,b\nC,\xff\n";
    ASSERT_EQ(parse(bad, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "neither UTF-8 (bad byte on line 3) nor GBK (bad byte on line 3)");
    ykt_import_free(&imp);

    /* A GBK lead byte followed by a space. */
    ykt_import_opts o = {.encoding = "gbk"};
    ASSERT_EQ(parse_with("person_no\n\x81 x\n", &o, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "line 2: not valid GBK (byte 0x81)");
    /* A lead byte cut off by the end of the file. */
    ASSERT_EQ(parse_with("person_no\nab\xb0", &o, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "line 2: not valid GBK");

    /* Overlong forms and surrogates are not UTF-8 even though they have the shape. */
    o.encoding = "utf-8";
    ASSERT_EQ(parse_with("a\n\xc0\xaf\n", &o, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "line 2: not valid UTF-8 (byte 0xc0)");
    ASSERT_EQ(parse_with("a\nb\n\xed\xa0\x80\n", &o, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "line 3: not valid UTF-8");
    ASSERT_EQ(parse_with("a\n\xe4\xb8", &o, &imp), YKT_EINVAL); /* cut off */

    /* A byte-order mark promises UTF-8: no falling back to GBK. */
    ASSERT_EQ(parse("\xEF\xBB\xBFperson_no\n\xb0\xa1\n", &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "byte-order mark");
    o.encoding = "gbk";
    ASSERT_EQ(parse_with("\xEF\xBB\xBFperson_no\n", &o, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "byte-order mark");

    /* NUL bytes and UTF-16. */
    static const char nul[] = "person_no\nab\0c\n";
    ASSERT_EQ(ykt_import_parse(nul, sizeof nul - 1, NULL, &imp, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "line 2: the file contains a NUL byte");
    static const char u16[] = "\xff\xfep\0e\0";
    ASSERT_EQ(ykt_import_parse(u16, sizeof u16 - 1, NULL, &imp, err, sizeof err), YKT_EINVAL);
    ASSERT_CONTAINS(err, "UTF-16");
    ykt_import_free(&imp);
}

/* ---- row errors ---- */

static void test_row_errors(void)
{
    char id[30][19];
    for (int i = 0; i < 30; i++)
        nth_id(i, id[i]);
    char bad_check[19];
    ykt_strlcpy(bad_check, id[5], sizeof bad_check);
    bad_check[17] = bad_check[17] == '0' ? '1' : '0';
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_buf_appends(&b, "person_no,kind,name,gender,id_number,phone,department,class,enrolled_on,"
                        "study_years,valid_until\n");
    const char *D = "计算机学院,计科2401,2024-09-01,4,";
    ykt_buf_appendf(&b, "20 24,student,A,M,%s,,%s\n", id[2], D);                        /* 2 */
    ykt_buf_appendf(&b, "S3,alien,A,M,%s,,%s\n", id[3], D);                             /* 3 */
    ykt_buf_appendf(&b, "S4,student,A,X,%s,,%s\n", id[4], D);                           /* 4 */
    ykt_buf_appendf(&b, "S5,student,A,M,%s,,%s\n", bad_check, D);                       /* 5 */
    ykt_buf_appendf(&b, "S6,student,A,M,%.17s,,%s\n", id[6], D);                        /* 6 */
    ykt_buf_appendf(&b, "S7,student,A,M,%s,abc,%s\n", id[7], D);                        /* 7 */
    ykt_buf_appendf(&b, "S8,student,A,M,%s,,,计科2401,2024-09-01,4,\n", id[8]);         /* 8 */
    ykt_buf_appendf(&b, "S9,student,A,M,%s,,计算机学院,,2024-09-01,4,\n", id[9]);       /* 9 */
    ykt_buf_appendf(&b, "S10,student,A,M,%s,,计算机学院,c,2024-02-30,4,\n", id[10]);    /* 10 */
    ykt_buf_appendf(&b, "S11,student,A,M,%s,,计算机学院,c,2024-09-01,four,\n", id[11]); /* 11 */
    ykt_buf_appendf(&b, "S12,student,A,M,%s,,计算机学院,c,2024-09-01,9,\n", id[12]);    /* 12 */
    ykt_buf_appendf(&b, "S13,staff,A,M,%s,,人事处,,,,\n", id[13]);                      /* 13 */
    ykt_buf_appendf(&b, "S14,staff,A,M,%s,,人事处,,2024-09-01,,2030-01-01\n", id[14]);  /* 14 */
    ykt_buf_appendf(&b, "S15,student,A,M,%s,,%s2028-06-30\n", id[15], D);               /* 15 */
    ykt_buf_appendf(&b, "S16,student,A,M,%s,,计算机学院\n", id[16]);                    /* 16 */
    ykt_buf_appendf(&b, "S17,student,A,M,%s,,%s,extra\n", id[17], D);                   /* 17 */
    ykt_buf_appendf(&b, "S18,student,%070d,M,%s,,%s\n", 0, id[18], D);                  /* 18 */
    ykt_buf_appendf(&b, "S19,student,A,M,1.10105E+17,,%s\n", D);                        /* 19 */
    ykt_buf_appendf(&b, "S20,student,,M,%s,,%s\n", id[20], D);                          /* 20 */
    ykt_buf_appendf(&b, "S21,student,A,?,%s,,计算机学院,c,2024-13-01,4,\n", id[21]);    /* 21 */
    ykt_buf_appendf(&b, "S22,,A,M,%s,,%s\n", id[22], D);                                /* 22 */
    ykt_buf_appendf(&b, "S23,student,A,M,%s,,%s\n", id[23], D);                         /* 23 ok */
    ykt_buf_appendf(&b, "S24,alien,A,M,%s,,计算机学院,,,,\n", id[24]);                  /* 24 */
    ykt_buf_appendf(&b, "S25,student,A,M,%s,,计算机学院,c,45536,4,\n", id[25]);         /* 25 */
    ykt_buf_appendf(&b, "S26,staff,A,M,%s,,人事处,,,,\"2030-01-01\n", id[26]);          /* 26 */
    ykt_buf_appendf(&b, "\"\n");                                                        /* 27 */
    ykt_buf_appendf(&b, "S28,student,%s,F,%s,,%s\n", "", "", D);                        /* 28 */
    ykt_buf_appendf(&b, "S 29,student,A,?,%s,,%s\n", id[29], D);                        /* 29 */

    ykt_import imp;
    ASSERT_EQ(ykt_import_parse(b.data, b.len, NULL, &imp, err, sizeof err), YKT_OK);
    ASSERT_ERROR(&imp, 2, "person_no", "letters, digits");
    ASSERT_ERROR(&imp, 3, "kind", "\"alien\" is not a kind");
    ASSERT_ERROR(&imp, 4, "gender", "\"X\" is not a gender");
    ASSERT_ERROR(&imp, 5, "id_number", "wrong check digit");
    ASSERT_ERROR(&imp, 6, "id_number", "18 characters");
    ASSERT_ERROR(&imp, 7, "phone", "digits");
    ASSERT_ERROR(&imp, 8, "department", "required");
    ASSERT_ERROR(&imp, 9, "class", "required for students");
    ASSERT_ERROR(&imp, 10, "enrolled_on", "\"2024-02-30\" is not a real date");
    ASSERT_ERROR(&imp, 11, "study_years", "\"four\" is not a number of years");
    ASSERT_ERROR(&imp, 12, "study_years", "1 to 8");
    ASSERT_ERROR(&imp, 13, "valid_until", "contract end date is required");
    ASSERT_ERROR(&imp, 14, "enrolled_on", "only for students");
    ASSERT_ERROR(&imp, 15, "valid_until", "follows from enrolled_on and study_years (2028-07-31)");
    ASSERT_ERROR(&imp, 16, "row", "has 7 fields, the header has 11");
    ASSERT_ERROR(&imp, 17, "row", "has 12 fields, the header has 11");
    ASSERT_ERROR(&imp, 18, "name", "too long: 70 bytes, at most 63");
    ASSERT_ERROR(&imp, 19, "id_number", "Excel");
    ASSERT_ERROR(&imp, 20, "name", "required");
    /* Every problem of a row, not only the first. */
    ASSERT_ERROR(&imp, 21, "gender", "\"?\" is not a gender");
    ASSERT_ERROR(&imp, 21, "enrolled_on", "\"2024-13-01\" is not a real date");
    ASSERT_EQ(errors_on(&imp, 21), 2);
    ASSERT_ERROR(&imp, 22, "kind", "required");
    /* With the kind unknown, what depends on it (class, dates) is not guessed at. */
    ASSERT_ERROR(&imp, 24, "kind", "not a kind");
    ASSERT_EQ(errors_on(&imp, 24), 1);
    ASSERT_ERROR(&imp, 25, "enrolled_on", "Excel date number");
    ASSERT_ERROR(&imp, 26, "valid_until", "line break");
    /* Line 28 has several problems, reported together. */
    ASSERT_ERROR(&imp, 28, "name", "required");
    ASSERT_ERROR(&imp, 28, "id_number", "18 characters");
    ASSERT_EQ(errors_on(&imp, 28), 2);
    /* In the order of the columns, whichever check found them. */
    ASSERT_EQ(errors_on(&imp, 29), 2);
    for (int i = 0; i < imp.nerrors; i++)
        if (imp.errors[i].line == 29) {
            ASSERT_STREQ(imp.errors[i].field, "person_no");
            ASSERT_STREQ(imp.errors[i + 1].field, "gender");
            break;
        }
    for (int line = 2; line <= 22; line++)
        if (errors_on(&imp, line) != 1 && line != 21) {
            dump(&imp);
            fprintf(stderr, "line %d\n", line);
            ASSERT(false);
        }
    ASSERT_EQ(errors_on(&imp, 23), 0);
    ASSERT_EQ(errors_on(&imp, 27), 0);
    ASSERT_EQ(imp.nrows, 1);
    ASSERT_EQ(imp.lines[0], 23);
    ASSERT_STREQ(imp.rows[0].person_no, "S23");
    ASSERT_EQ(imp.data_rows, 27);
    ASSERT_EQ(imp.errors_found, imp.nerrors);
    ASSERT(!imp.errors_truncated);
    /* R-P3: a report never repeats an ID number. */
    for (int i = 0; i < imp.nerrors; i++)
        ASSERT(strstr(imp.errors[i].reason, "110105") == NULL);
    ykt_import_free(&imp);
    ykt_buf_free(&b);
}

static void test_headers(void)
{
    ykt_import imp;
    char a[19], csv[1024];
    nth_id(1, a);
    /* Unknown column: reported on line 1, and the rows are not examined. */
    snprintf(csv, sizeof csv,
             "person_no,kind,name,gender,id_number,department,备注,valid_until\n"
             "S1,staff,A,?,%s,HR,note,2030-01-01\n",
             a);
    ASSERT_EQ(parse(csv, &imp), YKT_OK);
    ASSERT_ERROR(&imp, 1, "header", "column 7 \"备注\" is not a known column");
    ASSERT_EQ(imp.nerrors, 1);
    ASSERT_EQ(imp.nrows, 0);
    ykt_import_free(&imp);

    /* The same column twice, under two of its names. */
    ASSERT_EQ(parse("person_no,name,kind,姓名,gender,id_number,department\n", &imp), YKT_OK);
    ASSERT_ERROR(&imp, 1, "header", "column 4 \"姓名\" is name again (also column 2)");
    ASSERT_EQ(imp.nerrors, 1);
    ykt_import_free(&imp);

    /* Missing columns: each named with its Chinese names; kind only without a default. */
    ASSERT_EQ(parse("学号,姓名,性别,院系\n", &imp), YKT_OK);
    ASSERT_ERROR(&imp, 1, "header", "missing column kind (类别, 人员类别)");
    ASSERT_CONTAINS(imp.errors[0].reason, "missing column");
    ASSERT_EQ(imp.nerrors, 2);
    int found = 0;
    for (int i = 0; i < imp.nerrors; i++)
        found += strstr(imp.errors[i].reason, "id_number (身份证号, 身份证号码, 证件号)") != NULL;
    ASSERT_EQ(found, 1);
    ykt_import_free(&imp);

    /* With the kind given for the file, its own columns become required. */
    ykt_import_opts o = {.default_kind = "student"};
    ASSERT_EQ(parse_with("学号,姓名,性别,身份证号,院系\n", &o, &imp), YKT_OK);
    ASSERT_EQ(imp.nerrors, 3);
    ASSERT_CONTAINS(imp.errors[0].reason, "missing column class (班级)");
    ASSERT_CONTAINS(imp.errors[1].reason, "missing column enrolled_on");
    ASSERT_CONTAINS(imp.errors[2].reason, "missing column study_years (学制)");
    ykt_import_free(&imp);
    o.default_kind = "staff";
    ASSERT_EQ(parse_with("学号,姓名,性别,身份证号,院系\n", &o, &imp), YKT_OK);
    ASSERT_EQ(imp.nerrors, 1);
    ASSERT_CONTAINS(imp.errors[0].reason, "missing column valid_until");
    ASSERT_CONTAINS(imp.errors[0].reason, "needed for staff");
    ykt_import_free(&imp);

    /* A column without a name, and a stray quote. */
    ASSERT_EQ(parse("person_no,,kind,name,gender,id_number,department\n", &imp), YKT_OK);
    ASSERT_ERROR(&imp, 1, "header", "column 2 has no name");
    ykt_import_free(&imp);
    ASSERT_EQ(parse("person_no,na\"me\n", &imp), YKT_OK);
    ASSERT_ERROR(&imp, 1, "header", "stray double quote");
    ykt_import_free(&imp);

    /* English names match in any case; blanks around (even quoted) names do not matter. The
     * header may follow empty lines: numbers stay physical. */
    snprintf(csv, sizeof csv,
             "\n\nPerson_No, KIND ,\" Name \",Gender,ID_Number,Department,Valid_Until\n"
             "S1,staff,A,M,%s,HR,2030-01-01\n",
             a);
    ASSERT_EQ(parse(csv, &imp), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_EQ(imp.nrows, 1);
    ASSERT_EQ(imp.lines[0], 4);
    ykt_import_free(&imp);
}

static void test_duplicates_in_file(void)
{
    char a[19], b[19], c[19], x[19], csv[1024];
    make_id("11010519491231002", x);
    snprintf(csv, sizeof csv,
             "person_no,name,gender,id_number,department,valid_until\n"
             "A,One,M,%s,HR,2030-01-01\n"
             "B,Two,M,%s,HR,2030-01-01\n"
             "A,Three,M,%s,HR,2030-01-01\n"
             "C,Four,M,%.17sx,HR,2030-01-01\n"
             "B,Five,M,%s,HR,2030-01-01\n",
             nth_id(1, a), x, nth_id(2, b), x, nth_id(1, c));
    ykt_import_opts o = {.default_kind = "staff"};
    ykt_import imp;
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_ERROR(&imp, 4, "person_no", "also on line 2");
    ASSERT_EQ(errors_on(&imp, 4), 1);
    /* The check digit's case does not make a different person. */
    ASSERT_ERROR(&imp, 5, "id_number", "also on line 3");
    ASSERT_EQ(errors_on(&imp, 5), 1);
    ASSERT_ERROR(&imp, 6, "person_no", "also on line 3");
    ASSERT_ERROR(&imp, 6, "id_number", "also on line 2");
    ASSERT_EQ(imp.nerrors, 4);
    ASSERT_EQ(imp.nrows, 2);
    ykt_import_free(&imp);

    /* A duplicate of a row that failed for another reason is still a duplicate. */
    snprintf(csv, sizeof csv,
             "person_no,name,gender,id_number,department,valid_until\n"
             "A,One,?,%s,HR,2030-01-01\n"
             "A,Two,M,%s,HR,2030-01-01\n",
             a, b);
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_ERROR(&imp, 2, "gender", "not a gender");
    ASSERT_ERROR(&imp, 3, "person_no", "also on line 2");
    ykt_import_free(&imp);
}

static void test_dates(void)
{
    const char *good[][2] = {
        {"2026-12-31", "2026-12-31"},   {"2026/1/5", "2026-01-05"},
        {"2026.1.5", "2026-01-05"},     {"20260105", "2026-01-05"},
        {"2026-1-5", "2026-01-05"},     {"2026/01/05", "2026-01-05"},
        {"2026年1月5日", "2026-01-05"}, {"2026年12月31", "2026-12-31"},
        {"2028/2/29", "2028-02-29"},
    };
    const char *bad[][2] = {
        {"2026/01/05/1", "is not a date"},
        {"26-01-05", "is not a date"},
        {"2026-1/5", "is not a date"},
        {"2026-001-05", "is not a date"},
        {"2027/2/29", "not a real date"},
        {"20261301", "not a real date"},
        {"46022", "Excel date number"},
        {"tomorrow", "is not a date"},
        {"1899-12-31", "out of range (years 1900 to 2199)"},
    };
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_buf_appends(&b, "person_no,name,gender,id_number,department,valid_until\n");
    char id[19];
    int n = 0;
    for (size_t i = 0; i < YKT_ARRAY_LEN(good); i++, n++)
        ykt_buf_appendf(&b, "V%d,A,M,%s,d,%s\n", n, nth_id(n, id), good[i][0]);
    for (size_t i = 0; i < YKT_ARRAY_LEN(bad); i++, n++)
        ykt_buf_appendf(&b, "V%d,A,M,%s,d,%s\n", n, nth_id(n, id), bad[i][0]);
    ykt_import_opts o = {.default_kind = "temporary"};
    ykt_import imp;
    ASSERT_EQ(ykt_import_parse(b.data, b.len, &o, &imp, err, sizeof err), YKT_OK);
    ASSERT_EQ(imp.nrows, (int)YKT_ARRAY_LEN(good));
    for (size_t i = 0; i < YKT_ARRAY_LEN(good); i++)
        ASSERT_STREQ(imp.rows[i].valid_until, good[i][1]);
    ASSERT_EQ(imp.nerrors, (int)YKT_ARRAY_LEN(bad));
    for (size_t i = 0; i < YKT_ARRAY_LEN(bad); i++)
        ASSERT_ERROR(&imp, (int)(YKT_ARRAY_LEN(good) + i + 2), "valid_until", bad[i][1]);
    ykt_import_free(&imp);
    ykt_buf_free(&b);
}

static void test_kind_and_gender_values(void)
{
    const char *kinds[][2] = {
        {"学生", "student"},        {"Student", "student"},    {"教职工", "staff"},
        {"职工", "staff"},          {"教师", "staff"},         {"STAFF", "staff"},
        {"临时", "temporary"},      {"临时人员", "temporary"}, {"访客", "temporary"},
        {"temporary", "temporary"},
    };
    const char *genders[][2] = {{"男", "M"},   {"女", "F"},     {"M", "M"},    {"f", "F"},
                                {"male", "M"}, {"Female", "F"}, {"MALE", "M"}, {"女", "F"}};
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_buf_appends(&b, "person_no,类别,name,gender,id_number,department,class,enrolled_on,"
                        "study_years,valid_until\n");
    char id[19];
    for (size_t i = 0; i < YKT_ARRAY_LEN(kinds); i++) {
        bool student = strcmp(kinds[i][1], "student") == 0;
        ykt_buf_appendf(&b, "K%zu,%s,A,%s,%s,d,%s\n", i, kinds[i][0],
                        genders[i % YKT_ARRAY_LEN(genders)][0], nth_id((int)i, id),
                        student ? "c,2023-09-01,3," : ",,,2030-01-01");
    }
    ykt_import imp;
    ASSERT_EQ(ykt_import_parse(b.data, b.len, NULL, &imp, err, sizeof err), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_EQ(imp.nrows, (int)YKT_ARRAY_LEN(kinds));
    for (size_t i = 0; i < YKT_ARRAY_LEN(kinds); i++) {
        ASSERT_STREQ(imp.rows[i].kind, kinds[i][1]);
        ASSERT_STREQ(imp.rows[i].gender, genders[i % YKT_ARRAY_LEN(genders)][1]);
    }
    ASSERT_STREQ(imp.rows[0].valid_until, "2026-07-31");
    ykt_import_free(&imp);
    ykt_buf_free(&b);

    /* The kind in a row wins over the one given for the file. */
    char csv[512];
    snprintf(csv, sizeof csv,
             "person_no,kind,name,gender,id_number,department,valid_until\n"
             "K1,临时,A,M,%s,d,2026-01-01\n",
             nth_id(1, id));
    ykt_import_opts o = {.default_kind = "教职工"};
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_STREQ(imp.rows[0].kind, "temporary");
    ykt_import_free(&imp);
    o.default_kind = "alien";
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_EINVAL);
    ASSERT_CONTAINS(err, "unknown kind 'alien'");
    ASSERT_STREQ(ykt_import_kind("访客"), "temporary");
    ASSERT(ykt_import_kind("visitor") == NULL);
}

/* ---- limits and edge cases ---- */

static void test_limits(void)
{
    char a[19], b[19], c[19], csv[1024];
    snprintf(csv, sizeof csv,
             "person_no,name,gender,id_number,department,valid_until\n"
             "A,One,M,%s,HR,2030-01-01\n"
             "\n,,,,,\n"
             "B,Two,M,%s,HR,2030-01-01\n"
             "C,Three,M,%s,HR,2030-01-01\n",
             nth_id(1, a), nth_id(2, b), nth_id(3, c));
    ykt_import_opts o = {.default_kind = "staff", .max_rows = 3};
    ykt_import imp;
    /* Empty lines and Excel's empty rows (",,,,,") are not rows. */
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_EQ(imp.nrows, 3);
    ASSERT_EQ(imp.lines[2], 6);
    ykt_import_free(&imp);
    o.max_rows = 2;
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_ELIMIT);
    ASSERT_CONTAINS(err, "line 6: more than 2 data rows");
    ASSERT(imp.rows == NULL && imp.nrows == 0 && imp.errors == NULL);
    ykt_import_free(&imp);

    o.max_rows = 0;
    o.max_bytes = strlen(csv);
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_OK);
    ykt_import_free(&imp);
    o.max_bytes = strlen(csv) - 1;
    ASSERT_EQ(parse_with(csv, &o, &imp), YKT_ELIMIT);
    ASSERT_CONTAINS(err, "more than the limit");
    ykt_import_free(&imp);
}

static void test_max_errors(void)
{
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_buf_appends(&b, "person_no,name,gender,id_number,department,valid_until\n");
    char id[19];
    for (int i = 0; i < 10; i++)
        ykt_buf_appendf(&b, "P%d,A,?,%s,d,2030-01-01\n", i, nth_id(i, id));
    ykt_import_opts o = {.default_kind = "staff", .max_errors = 3};
    ykt_import imp;
    ASSERT_EQ(ykt_import_parse(b.data, b.len, &o, &imp, err, sizeof err), YKT_OK);
    ASSERT_EQ(imp.nerrors, 3);
    ASSERT_EQ(imp.errors_found, 10);
    ASSERT(imp.errors_truncated);
    ASSERT_EQ(imp.errors[0].line, 2);
    ASSERT_EQ(imp.errors[2].line, 4);
    ASSERT_EQ(imp.nrows, 0);
    ASSERT_EQ(imp.data_rows, 10);
    ykt_import_free(&imp);
    ykt_buf_free(&b);
}

static void test_empty_and_header_only(void)
{
    ykt_import imp;
    const char *empties[] = {"", "\n\n", "\xEF\xBB\xBF", "\xEF\xBB\xBF\r\n \r\n", ",,,\n"};
    for (size_t i = 0; i < YKT_ARRAY_LEN(empties); i++) {
        ASSERT_EQ(parse(empties[i], &imp), YKT_OK);
        ASSERT_EQ(imp.nerrors, 1);
        ASSERT_ERROR(&imp, 1, "header", "the file is empty");
        ASSERT_EQ(imp.nrows, 0);
        ykt_import_free(&imp);
    }
    ASSERT_EQ(ykt_import_parse(NULL, 0, NULL, &imp, err, sizeof err), YKT_OK);
    ASSERT_EQ(imp.nerrors, 1);
    ykt_import_free(&imp);

    /* A header and nothing else is a valid file with nothing to import. */
    ASSERT_EQ(parse("person_no,kind,name,gender,id_number,department\n\n,,,,,\n", &imp), YKT_OK);
    ASSERT_EQ(imp.nerrors, 0);
    ASSERT_EQ(imp.nrows, 0);
    ASSERT_EQ(imp.data_rows, 0);
    ykt_import_free(&imp);
    ASSERT_EQ(parse("person_no,kind,name,gender,id_number,department", &imp), YKT_OK);
    ASSERT_EQ(imp.nerrors, 0);
    ykt_import_free(&imp);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_fifty_thousand_rows(void)
{
    enum { N = 50000 };
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_buf_appends(&b, "学号,姓名,性别,身份证号,手机,学院,班级,入学日期,学制\r\n");
    char id[19];
    for (int i = 0; i < N; i++)
        ykt_buf_appendf(&b,
                        "2025%06d,学生%d,%s,%s,138%08d,\"计算机学院, 第%d系\",计科25%02d,%s,%d\r\n",
                        i, i, i % 2 ? "男" : "女", nth_id(i, id), i, i % 7, i % 40,
                        i % 3 ? "2025-09-01" : "2025/9/1", i % 5 ? 4 : 5);
    ykt_import_opts o = {.default_kind = "student"};
    ykt_import imp;
    double t0 = now_s();
    int rc = ykt_import_parse(b.data, b.len, &o, &imp, err, sizeof err);
    double t1 = now_s();
    printf("    %d rows, %zu bytes parsed in %.3f s\n", N, b.len, t1 - t0);
    ASSERT_EQ(rc, YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_EQ(imp.nrows, N);
    ASSERT_EQ(imp.lines[N - 1], N + 1);
    ASSERT_STREQ(imp.rows[N - 1].valid_until, "2029-07-31");
    ASSERT_STREQ(imp.rows[N - 5].valid_until, "2030-07-31");
    ykt_import_free(&imp);

    /* The same file from Chinese Excel, in GBK. */
    size_t len;
    char *gbk = to_gbk(ykt_buf_cstr(&b), &len);
    t0 = now_s();
    rc = ykt_import_parse(gbk, len, &o, &imp, err, sizeof err);
    t1 = now_s();
    printf("    the same as GBK, %zu bytes, parsed in %.3f s\n", len, t1 - t0);
    ASSERT_EQ(rc, YKT_OK);
    ASSERT_CLEAN(&imp);
    ASSERT_STREQ(imp.encoding, "gbk");
    ASSERT_EQ(imp.nrows, N);
    ASSERT_STREQ(imp.rows[N - 1].name, "学生49999");
    ykt_import_free(&imp);
    free(gbk);
    ykt_buf_free(&b);
}

int main(void)
{
    printf("test_csvimport\n");
    RUN(test_clean_student_file);
    RUN(test_staff_chinese_headers);
    RUN(test_bom_and_crlf);
    RUN(test_quoted_fields);
    RUN(test_malformed_quotes);
    RUN(test_gbk_file);
    RUN(test_encoding_override);
    RUN(test_invalid_bytes);
    RUN(test_row_errors);
    RUN(test_headers);
    RUN(test_duplicates_in_file);
    RUN(test_dates);
    RUN(test_kind_and_gender_values);
    RUN(test_limits);
    RUN(test_max_errors);
    RUN(test_empty_and_header_only);
    RUN(test_fifty_thousand_rows);
    printf("ok\n");
    return 0;
}
