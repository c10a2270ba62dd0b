#include "csvimport.h"
#include "buf.h"
#include "common.h"
#include "map.h"
#include "privacy.h"
#include "util.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- columns and values ---- */

enum column {
    C_PERSON_NO,
    C_KIND,
    C_NAME,
    C_GENDER,
    C_ID_NUMBER,
    C_PHONE,
    C_DEPARTMENT,
    C_CLASS,
    C_ENROLLED_ON,
    C_STUDY_YEARS,
    C_VALID_UNTIL,
    C_HOST,
    C_COUNT
};

/* The first name is the English one; it is also the field name in error reports and matches
 * the names ykt_person_validate uses. English names match without regard to case. */
static const char *const column_names[C_COUNT][6] = {
    [C_PERSON_NO] = {"person_no", "学号", "工号", "编号"},
    [C_KIND] = {"kind", "类别", "人员类别"},
    [C_NAME] = {"name", "姓名"},
    [C_GENDER] = {"gender", "性别"},
    [C_ID_NUMBER] = {"id_number", "身份证号", "身份证号码", "证件号"},
    [C_PHONE] = {"phone", "手机", "手机号", "电话", "联系电话"},
    [C_DEPARTMENT] = {"department", "院系", "学院", "部门", "单位"},
    [C_CLASS] = {"class", "班级"},
    [C_ENROLLED_ON] = {"enrolled_on", "入学日期", "入学时间"},
    [C_STUDY_YEARS] = {"study_years", "学制"},
    [C_VALID_UNTIL] = {"valid_until", "有效期至", "合同截止", "合同到期", "截止日期"},
    [C_HOST] = {"host", "接待人", "接待部门"},
};

static const struct {
    const char *value;
    const char *kind;
} kind_values[] = {
    {"student", "student"},     {"学生", "student"},   {"staff", "staff"},
    {"教职工", "staff"},        {"职工", "staff"},     {"教师", "staff"},
    {"temporary", "temporary"}, {"临时", "temporary"}, {"临时人员", "temporary"},
    {"访客", "temporary"},
};

static const struct {
    const char *value;
    const char *gender;
} gender_values[] = {
    {"M", "M"}, {"male", "M"}, {"男", "M"}, {"F", "F"}, {"female", "F"}, {"女", "F"},
};

/* ASCII-only case folding: strcasecmp follows the locale, and header names are UTF-8. */
static bool ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

const char *ykt_import_kind(const char *value)
{
    for (size_t i = 0; i < YKT_ARRAY_LEN(kind_values); i++)
        if (ascii_ieq(value, kind_values[i].value))
            return kind_values[i].kind;
    return NULL;
}

static const char *gender_of(const char *value)
{
    for (size_t i = 0; i < YKT_ARRAY_LEN(gender_values); i++)
        if (ascii_ieq(value, gender_values[i].value))
            return gender_values[i].gender;
    return NULL;
}

static int column_by_header(const char *name)
{
    for (int c = 0; c < C_COUNT; c++)
        for (int k = 0; k < 6 && column_names[c][k] != NULL; k++)
            if (ascii_ieq(name, column_names[c][k]))
                return c;
    return -1;
}

static int column_by_field(const char *field)
{
    for (int c = 0; field != NULL && c < C_COUNT; c++)
        if (strcmp(field, column_names[c][0]) == 0)
            return c;
    return -1;
}

/* ---- UTF-8 helpers ---- */

/* Drops a multi-byte character cut in half at the end of s (after a truncating copy), so
 * that reports stay valid UTF-8 for the terminal and the JSON that carries them. */
static void utf8_trim_cut(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0)
        return;
    unsigned char c = (unsigned char)s[i - 1];
    size_t need = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
    if (n - (i - 1) < need)
        s[i - 1] = '\0';
}

/* A short quotation of a cell for a message; long values end in "...". */
static const char *excerpt(const char *v, char *buf, size_t len)
{
    if (ykt_strlcpy(buf, v, len) >= len && len > 4) {
        buf[len - 4] = '\0';
        utf8_trim_cut(buf);
        strcat(buf, "...");
    }
    return buf;
}

/* The line (1-based) that holds byte `off`: LF, CRLF and a lone CR each end a line. */
static int line_at(const char *s, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n' || (s[i] == '\r' && (i + 1 >= off || s[i + 1] != '\n')))
            line++;
    return line;
}

/* ---- decoding ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* GB18030 is a superset of GBK (and of GB2312), so files from older and newer Chinese Excel
 * versions alike decode. On a bad sequence returns YKT_EINVAL with *bad at its offset. */
static int gbk_to_utf8(const char *in, size_t n, char **out, size_t *outlen, size_t *bad)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1)
        return YKT_EIO;
    /* Two GBK bytes become at most three UTF-8 bytes, four become at most four. */
    size_t cap = n + n / 2 + 16;
    char *buf = malloc(cap);
    if (buf == NULL) {
        iconv_close(cd);
        return YKT_ENOMEM;
    }
    char *ip = (char *)in, *op = buf;
    size_t il = n, ol = cap;
    int rc = YKT_OK;
    while (il > 0) {
        if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
            continue;
        if (errno == E2BIG) {
            /* Not expected given the bound above, but never write past the buffer. */
            size_t used = (size_t)(op - buf);
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                rc = YKT_ENOMEM;
                break;
            }
            buf = nb, op = buf + used, ol += cap, cap *= 2;
            continue;
        }
        /* EILSEQ: an invalid sequence; EINVAL: a sequence cut off by the end of the file. */
        *bad = (size_t)(ip - in);
        rc = YKT_EINVAL;
        break;
    }
    iconv_close(cd);
    if (rc != YKT_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = (size_t)(op - buf);
    return YKT_OK;
}

enum encoding { ENC_AUTO, ENC_UTF8, ENC_GBK };

static int encoding_of(const char *name, enum encoding *enc)
{
    if (name == NULL || name[0] == '\0' || ascii_ieq(name, "auto"))
        *enc = ENC_AUTO;
    else if (ascii_ieq(name, "utf-8") || ascii_ieq(name, "utf8"))
        *enc = ENC_UTF8;
    else if (ascii_ieq(name, "gbk") || ascii_ieq(name, "gb18030") || ascii_ieq(name, "gb2312") ||
             ascii_ieq(name, "cp936"))
        *enc = ENC_GBK;
    else
        return YKT_EINVAL;
    return YKT_OK;
}

/*
 * Turns the file's bytes into UTF-8 text. *text points into data (UTF-8 input) or to *owned
 * (converted input), which the caller frees.
 */
static int decode(const char *data, size_t len, enum encoding enc, const char **text, size_t *tlen,
                  char **owned, char encname[8], char *err, size_t errlen)
{
    const unsigned char *u = (const unsigned char *)data;
    *owned = NULL;
    if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
        set_err(err, errlen,
                "the file is UTF-16 (Excel \"Unicode Text\"); save it as \"CSV UTF-8\" instead");
        return YKT_EINVAL;
    }
    const char *nul = len > 0 ? memchr(data, '\0', len) : NULL;
    if (nul != NULL) {
        set_err(err, errlen, "line %d: the file contains a NUL byte; it is not a CSV text file",
                line_at(data, (size_t)(nul - data)));
        return YKT_EINVAL;
    }
    bool bom = len >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf;
    if (bom && enc == ENC_GBK) {
        set_err(err, errlen,
                "the file starts with a UTF-8 byte-order mark but the encoding gbk was asked for");
        return YKT_EINVAL;
    }
    if (bom || enc != ENC_GBK) {
        const char *s = bom ? data + 3 : data;
        size_t n = bom ? len - 3 : len;
        size_t bad = ykt_utf8_bad_offset((const unsigned char *)s, n);
        if (bad == n) {
            *text = s, *tlen = n;
            ykt_strlcpy(encname, "utf-8", 8);
            return YKT_OK;
        }
        if (bom || enc == ENC_UTF8) {
            set_err(err, errlen, "line %d: not valid UTF-8 (byte 0x%02x)%s", line_at(s, bad),
                    (unsigned char)s[bad],
                    bom ? " although the file starts with a UTF-8 byte-order mark"
                        : "; if the file is from Chinese Excel, try the encoding gbk");
            return YKT_EINVAL;
        }
        /* Auto: not UTF-8, so try GBK and report both when that fails too. */
        size_t gbad = 0;
        int rc = gbk_to_utf8(data, len, owned, tlen, &gbad);
        if (rc == YKT_EINVAL) {
            set_err(err, errlen,
                    "the file is neither UTF-8 (bad byte on line %d) nor GBK (bad byte on line "
                    "%d); save it as \"CSV UTF-8\"",
                    line_at(s, bad), line_at(data, gbad));
            return rc;
        }
        if (rc != YKT_OK) {
            set_err(err, errlen, "cannot convert from GBK: %s", ykt_strerror(rc));
            return rc;
        }
    } else {
        size_t gbad = 0;
        int rc = gbk_to_utf8(data, len, owned, tlen, &gbad);
        if (rc == YKT_EINVAL) {
            set_err(err, errlen, "line %d: not valid GBK (byte 0x%02x)", line_at(data, gbad),
                    (unsigned char)data[gbad]);
            return rc;
        }
        if (rc != YKT_OK) {
            set_err(err, errlen, "cannot convert from GBK: %s", ykt_strerror(rc));
            return rc;
        }
    }
    *text = *owned;
    ykt_strlcpy(encname, "gbk", 8);
    return YKT_OK;
}

/* ---- CSV records (RFC 4180) ---- */

enum quote_problem { Q_OK, Q_UNTERMINATED, Q_AFTER_QUOTE, Q_IN_UNQUOTED };

typedef struct scanner {
    const char *s;
    size_t n, pos;
    int line; /* physical line at pos */
} scanner;

typedef struct record {
    int line; /* physical line the record starts on */
    int nfields;
    int cap;
    size_t *off; /* field i is the NUL-terminated string text.data + off[i] */
    size_t *len;
    ykt_buf text;
    enum quote_problem bad;
    int bad_col;
    bool empty; /* every field empty: an empty line or Excel's ",,,," */
} record;

/* Bytes of blank at s[i]: space, tab, or U+3000 (the ideographic space Chinese input
 * methods type), which is never meaningful around a value either. */
static size_t blank_len(const char *s, size_t n, size_t i)
{
    if (s[i] == ' ' || s[i] == '\t')
        return 1;
    if (i + 2 < n && (unsigned char)s[i] == 0xe3 && (unsigned char)s[i + 1] == 0x80 &&
        (unsigned char)s[i + 2] == 0x80)
        return 3;
    return 0;
}

static size_t trim_end(const char *s, size_t start, size_t end)
{
    while (end > start) {
        if (s[end - 1] == ' ' || s[end - 1] == '\t')
            end--;
        else if (end - start >= 3 && (unsigned char)s[end - 3] == 0xe3 &&
                 (unsigned char)s[end - 2] == 0x80 && (unsigned char)s[end - 1] == 0x80)
            end -= 3;
        else
            break;
    }
    return end;
}

static int record_push(record *r, size_t off)
{
    if (r->nfields == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        size_t *o = realloc(r->off, (size_t)cap * sizeof *o);
        if (o == NULL)
            return YKT_ENOMEM;
        r->off = o;
        size_t *l = realloc(r->len, (size_t)cap * sizeof *l);
        if (l == NULL)
            return YKT_ENOMEM;
        r->len = l;
        r->cap = cap;
    }
    r->off[r->nfields] = off;
    r->len[r->nfields] = r->text.len - off;
    r->nfields++;
    if (r->text.len > off)
        r->empty = false;
    ykt_buf_append(&r->text, "", 1);
    return YKT_OK;
}

static void mark(record *r, enum quote_problem q, int col)
{
    if (r->bad == Q_OK) {
        r->bad = q;
        r->bad_col = col;
    }
}

/* Reads the next record; returns 1, 0 at the end of the input, or YKT_ENOMEM. */
static int scan_record(scanner *sc, record *r)
{
    const char *s = sc->s;
    size_t n = sc->n, i = sc->pos, w;
    if (i >= n)
        return 0;
    r->line = sc->line;
    r->nfields = 0;
    r->bad = Q_OK;
    r->bad_col = 0;
    r->empty = true;
    ykt_buf_reset(&r->text);
    for (;;) {
        while (i < n && (w = blank_len(s, n, i)) > 0)
            i += w;
        size_t off = r->text.len;
        int col = r->nfields;
        if (i < n && s[i] == '"') {
            i++;
            for (;;) {
                const char *q = memchr(s + i, '"', n - i);
                size_t end = q != NULL ? (size_t)(q - s) : n;
                /* Line breaks inside quotes still count: lines are physical lines. */
                for (size_t k = i; k < end; k++)
                    if (s[k] == '\n' || (s[k] == '\r' && (k + 1 >= n || s[k + 1] != '\n')))
                        sc->line++;
                ykt_buf_append(&r->text, s + i, end - i);
                if (q == NULL) {
                    mark(r, Q_UNTERMINATED, col);
                    sc->pos = n;
                    r->empty = false;
                    return record_push(r, off) == YKT_OK ? 1 : YKT_ENOMEM;
                }
                i = end + 1;
                if (i < n && s[i] == '"') {
                    ykt_buf_append(&r->text, "\"", 1);
                    i++;
                    continue;
                }
                break;
            }
            while (i < n && (w = blank_len(s, n, i)) > 0)
                i += w;
            if (i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n') {
                mark(r, Q_AFTER_QUOTE, col);
                while (i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n')
                    i++;
            }
        } else {
            size_t start = i;
            while (i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n') {
                if (s[i] == '"')
                    mark(r, Q_IN_UNQUOTED, col);
                i++;
            }
            ykt_buf_append(&r->text, s + start, trim_end(s, start, i) - start);
        }
        if (record_push(r, off) != YKT_OK)
            return YKT_ENOMEM;
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i < n && s[i] == '\r') {
            i++;
            if (i < n && s[i] == '\n')
                i++;
            sc->line++;
        } else if (i < n && s[i] == '\n') {
            i++;
            sc->line++;
        }
        sc->pos = i;
        if (r->bad != Q_OK)
            r->empty = false;
        return 1;
    }
}

static const char *field_text(const record *r, int i)
{
    return r->text.data + r->off[i];
}

/* ---- the report ---- */

typedef struct parser {
    ykt_import *out;
    int max_errors;
    int cap_errors;
    int cap_rows;
    int max_rows;
    int row_errors; /* errors found in the current row */
    bool nomem;
    const char *default_kind;
    ykt_map *seen_no; /* person_no -> first line, as a pointer-sized integer */
    ykt_map *seen_id; /* id_number -> first line */
} parser;

static void add_error(parser *ps, int line, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_error(parser *ps, int line, const char *field, const char *fmt, ...)
{
    ykt_import *out = ps->out;
    out->errors_found++;
    ps->row_errors++;
    if (out->nerrors >= ps->max_errors) {
        out->errors_truncated = true;
        return;
    }
    if (out->nerrors == ps->cap_errors) {
        int cap = ps->cap_errors == 0                   ? 16
                  : ps->cap_errors > ps->max_errors / 2 ? ps->max_errors
                                                        : ps->cap_errors * 2;
        if (cap > ps->max_errors)
            cap = ps->max_errors;
        ykt_import_error *e = realloc(out->errors, (size_t)cap * sizeof *e);
        if (e == NULL) {
            ps->nomem = true;
            return;
        }
        out->errors = e;
        ps->cap_errors = cap;
    }
    ykt_import_error *e = &out->errors[out->nerrors++];
    e->line = line;
    ykt_strlcpy(e->field, field, sizeof e->field);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof e->reason)
        utf8_trim_cut(e->reason);
}

static void add_row(parser *ps, const ykt_person *p, int line)
{
    ykt_import *out = ps->out;
    if (out->nrows == ps->cap_rows) {
        /* Never more than max_rows, which the caller checked before this row. */
        int cap = ps->cap_rows == 0                 ? 64
                  : ps->cap_rows > ps->max_rows / 2 ? ps->max_rows
                                                    : ps->cap_rows * 2;
        if (cap > ps->max_rows)
            cap = ps->max_rows;
        ykt_person *rows = realloc(out->rows, (size_t)cap * sizeof *rows);
        if (rows == NULL) {
            ps->nomem = true;
            return;
        }
        out->rows = rows;
        int *lines = realloc(out->lines, (size_t)cap * sizeof *lines);
        if (lines == NULL) {
            ps->nomem = true;
            return;
        }
        out->lines = lines;
        ps->cap_rows = cap;
    }
    out->rows[out->nrows] = *p;
    out->lines[out->nrows] = line;
    out->nrows++;
}

/* ---- header ---- */

/* Maps each column of the header record to a field; reports every problem at once. Returns
 * false when the header has errors (data rows are then not examined: a misread column would
 * turn every row into noise). */
static bool map_header(parser *ps, record *h, int *colmap)
{
    int where[C_COUNT];
    char ex[48];
    for (int c = 0; c < C_COUNT; c++)
        where[c] = -1;
    if (h->bad != Q_OK) {
        add_error(ps, h->line, "header", "column %d: %s", h->bad_col + 1,
                  h->bad == Q_UNTERMINATED ? "a quoted name is never closed"
                                           : "a stray double quote");
        return false;
    }
    for (int i = 0; i < h->nfields; i++) {
        colmap[i] = -1;
        /* Names are compared trimmed even when quoted: no header is meant to have blanks. */
        char *v = h->text.data + h->off[i];
        size_t len = trim_end(v, 0, h->len[i]);
        v[len] = '\0';
        size_t skip = 0, w;
        while (skip < len && (w = blank_len(v, len, skip)) > 0)
            skip += w;
        const char *name = v + skip;
        if (name[0] == '\0') {
            add_error(ps, h->line, "header", "column %d has no name", i + 1);
            continue;
        }
        int c = column_by_header(name);
        if (c < 0) {
            add_error(ps, h->line, "header",
                      "column %d \"%s\" is not a known column (see docs/people-import.md)", i + 1,
                      excerpt(name, ex, sizeof ex));
        } else if (where[c] >= 0) {
            add_error(ps, h->line, "header", "column %d \"%s\" is %s again (also column %d)", i + 1,
                      excerpt(name, ex, sizeof ex), column_names[c][0], where[c] + 1);
        } else {
            where[c] = i;
            colmap[i] = c;
        }
    }
    bool required[C_COUNT] = {
        [C_PERSON_NO] = true, [C_NAME] = true,       [C_GENDER] = true,
        [C_ID_NUMBER] = true, [C_DEPARTMENT] = true,
    };
    const char *kind = ps->default_kind;
    if (kind == NULL)
        required[C_KIND] = true;
    else if (where[C_KIND] < 0 && strcmp(kind, "student") == 0)
        required[C_CLASS] = required[C_ENROLLED_ON] = required[C_STUDY_YEARS] = true;
    else if (where[C_KIND] < 0)
        required[C_VALID_UNTIL] = true;
    for (int c = 0; c < C_COUNT; c++) {
        if (!required[c] || where[c] >= 0)
            continue;
        char alt[64] = "";
        for (int k = 1; k < 6 && column_names[c][k] != NULL; k++) {
            size_t l = strlen(alt);
            snprintf(alt + l, sizeof alt - l, "%s%s", k > 1 ? ", " : "", column_names[c][k]);
        }
        if (c == C_KIND)
            add_error(ps, h->line, "header",
                      "missing column kind (%s), or give the kind for the whole file (--kind)",
                      alt);
        else if (c == C_VALID_UNTIL)
            add_error(ps, h->line, "header", "missing column valid_until (%s), needed for %s", alt,
                      kind);
        else
            add_error(ps, h->line, "header", "missing column %s (%s)", column_names[c][0], alt);
    }
    return ps->out->errors_found == 0;
}

/* ---- cells ---- */

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* Reads 1..max digits at *p into *v. */
static bool take_number(const char **p, int max, int *v)
{
    int n = 0, x = 0;
    while (n < max && (*p)[n] >= '0' && (*p)[n] <= '9')
        x = x * 10 + ((*p)[n++] - '0');
    if (n == 0)
        return false;
    *p += n;
    *v = x;
    return true;
}

static bool take(const char **p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

enum date_result { DATE_OK, DATE_FORMAT, DATE_UNREAL, DATE_RANGE, DATE_SERIAL };

/* The ways Excel and people write a date: YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYYMMDD and
 * YYYY年M月D日. Normalised to YYYY-MM-DD. */
static enum date_result parse_date(const char *v, char out[YKT_DATE_LEN])
{
    size_t n = strlen(v);
    int y = 0, m = 0, d = 0;
    if (n == 8 && all_digits(v, n)) {
        y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
        m = (v[4] - '0') * 10 + (v[5] - '0');
        d = (v[6] - '0') * 10 + (v[7] - '0');
    } else if (n == 5 && all_digits(v, n)) {
        /* Days since 1899-12-30: Excel's own number for a date cell formatted as General. */
        return DATE_SERIAL;
    } else {
        const char *p = v;
        const char *seps[] = {"-", "/", ".", "年"};
        if (!take_number(&p, 4, &y) || p - v != 4)
            return DATE_FORMAT;
        size_t s = 0;
        while (s < YKT_ARRAY_LEN(seps) && !take(&p, seps[s]))
            s++;
        if (s == YKT_ARRAY_LEN(seps) || !take_number(&p, 2, &m))
            return DATE_FORMAT;
        if (!take(&p, s == 3 ? "月" : seps[s]) || !take_number(&p, 2, &d))
            return DATE_FORMAT;
        if (s == 3)
            take(&p, "日");
        if (*p != '\0')
            return DATE_FORMAT;
    }
    snprintf(out, YKT_DATE_LEN, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
             (unsigned)d % 100u);
    if (y < 1900 || y > 2199)
        return DATE_RANGE;
    return ykt_date_valid(out) ? DATE_OK : DATE_UNREAL;
}

/* Where each text column goes in the record, and how much fits. */
static char *slot(ykt_person *p, int c, size_t *cap)
{
    switch (c) {
    case C_PERSON_NO:
        *cap = sizeof p->person_no;
        return p->person_no;
    case C_NAME:
        *cap = sizeof p->name;
        return p->name;
    case C_ID_NUMBER:
        *cap = sizeof p->id_number;
        return p->id_number;
    case C_PHONE:
        *cap = sizeof p->phone;
        return p->phone;
    case C_DEPARTMENT:
        *cap = sizeof p->department;
        return p->department;
    case C_CLASS:
        *cap = sizeof p->class_name;
        return p->class_name;
    case C_HOST:
        *cap = sizeof p->host;
        return p->host;
    default:
        *cap = 0;
        return NULL;
    }
}

/* A value for a field that already failed, which ykt_person_validate accepts whatever the
 * kind: it lets validation go on and find the row's other problems. */
static void placeholder(ykt_person *p, int c)
{
    switch (c) {
    case C_PERSON_NO:
        ykt_strlcpy(p->person_no, "x", sizeof p->person_no);
        break;
    case C_KIND:
        ykt_strlcpy(p->kind, "staff", sizeof p->kind);
        break;
    case C_NAME:
        ykt_strlcpy(p->name, "x", sizeof p->name);
        break;
    case C_GENDER:
        ykt_strlcpy(p->gender, "M", sizeof p->gender);
        break;
    case C_ID_NUMBER:
        ykt_strlcpy(p->id_number, "11010519491231002X", sizeof p->id_number);
        break;
    case C_PHONE:
        p->phone[0] = '\0';
        break;
    case C_DEPARTMENT:
        ykt_strlcpy(p->department, "x", sizeof p->department);
        break;
    case C_CLASS:
        ykt_strlcpy(p->class_name, "x", sizeof p->class_name);
        break;
    case C_HOST:
        p->host[0] = '\0';
        break;
    case C_ENROLLED_ON:
        ykt_strlcpy(p->enrolled_on, "2000-09-01", sizeof p->enrolled_on);
        break;
    case C_STUDY_YEARS:
        p->study_years = 4;
        break;
    case C_VALID_UNTIL:
        ykt_strlcpy(p->valid_until, "2000-01-01", sizeof p->valid_until);
        break;
    }
}

static bool depends_on_kind(int c)
{
    return c == C_CLASS || c == C_ENROLLED_ON || c == C_STUDY_YEARS || c == C_VALID_UNTIL;
}

/* Puts one cell into p. Returns false (after reporting) when the cell cannot be used. */
static bool convert_cell(parser *ps, int line, int c, const char *v, size_t len, ykt_person *p)
{
    const char *f = column_names[c][0];
    char ex[40];
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch == 0x7f) {
            add_error(ps, line, f, "contains a line break or another control character");
            return false;
        }
    }
    size_t cap;
    char *dst = slot(p, c, &cap);
    if (dst != NULL) {
        if (c == C_ID_NUMBER && len > 0 && strpbrk(v, "Ee") != NULL && strchr(v, '+') != NULL) {
            add_error(ps, line, f,
                      "Excel turned the number into 1.2E+17 form: format the column as text "
                      "and enter the numbers again");
            return false;
        }
        if (len >= cap) {
            if (c == C_ID_NUMBER)
                add_error(ps, line, f, "must have 18 characters");
            else
                add_error(ps, line, f, "too long: %zu bytes, at most %zu", len, cap - 1);
            return false;
        }
        memcpy(dst, v, len + 1);
        return true;
    }
    if (len == 0)
        return true;
    switch (c) {
    case C_KIND: {
        const char *k = ykt_import_kind(v);
        if (k == NULL) {
            add_error(ps, line, f,
                      "\"%s\" is not a kind: student/学生, staff/教职工 or temporary/临时",
                      excerpt(v, ex, sizeof ex));
            return false;
        }
        ykt_strlcpy(p->kind, k, sizeof p->kind);
        return true;
    }
    case C_GENDER: {
        const char *g = gender_of(v);
        if (g == NULL) {
            add_error(ps, line, f, "\"%s\" is not a gender: M/男 or F/女",
                      excerpt(v, ex, sizeof ex));
            return false;
        }
        ykt_strlcpy(p->gender, g, sizeof p->gender);
        return true;
    }
    case C_ENROLLED_ON:
    case C_VALID_UNTIL: {
        char *date = c == C_ENROLLED_ON ? p->enrolled_on : p->valid_until;
        switch (parse_date(v, date)) {
        case DATE_OK:
            return true;
        case DATE_SERIAL:
            add_error(ps, line, f,
                      "\"%s\" is an Excel date number: format the column as a date (YYYY-MM-DD)",
                      excerpt(v, ex, sizeof ex));
            break;
        case DATE_UNREAL:
            add_error(ps, line, f, "\"%s\" is not a real date", excerpt(v, ex, sizeof ex));
            break;
        case DATE_RANGE:
            add_error(ps, line, f, "\"%s\" is out of range (years 1900 to 2199)",
                      excerpt(v, ex, sizeof ex));
            break;
        case DATE_FORMAT:
            add_error(
                ps, line, f,
                "\"%s\" is not a date: YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYYMMDD or YYYY年M月D日",
                excerpt(v, ex, sizeof ex));
            break;
        }
        date[0] = '\0';
        return false;
    }
    case C_STUDY_YEARS: {
        const char *q = v;
        int years = 0;
        if (!take_number(&q, 2, &years) || (*q != '\0' && strcmp(q, "年") != 0)) {
            add_error(ps, line, f, "\"%s\" is not a number of years: for example 4 or 4年",
                      excerpt(v, ex, sizeof ex));
            return false;
        }
        p->study_years = years;
        return true;
    }
    }
    return true;
}

static const char *quote_reason(enum quote_problem q)
{
    switch (q) {
    case Q_UNTERMINATED:
        return "a quoted field that starts on this line is never closed";
    case Q_AFTER_QUOTE:
        return "text after a closing quote; a quote inside a quoted field is written \"\"";
    case Q_IN_UNQUOTED:
        return "a double quote inside an unquoted field; quote the field and double the quote";
    default:
        return "malformed";
    }
}

/* A duplicate inside the file is reported on the later line; the first line keeps the key. */
static void check_unique(parser *ps, ykt_map *seen, int line, const char *field, const char *key)
{
    void *first = ykt_map_get(seen, key);
    if (first != NULL)
        add_error(ps, line, field, "also on line %d", (int)(intptr_t)first);
    else
        ykt_map_put(seen, key, (void *)(intptr_t)line);
}

/* A row's errors in the order of its columns in the file, as the person fixing it reads. */
static void sort_row_errors(ykt_import_error *e, int n, const int *colmap, int ncols)
{
    int pos[C_COUNT];
    for (int c = 0; c < C_COUNT; c++)
        pos[c] = ncols;
    for (int i = 0; i < ncols; i++)
        pos[colmap[i]] = i;
    for (int i = 1; i < n; i++) {
        ykt_import_error cur = e[i];
        int c = column_by_field(cur.field);
        int key = c >= 0 ? pos[c] : -1;
        int j = i;
        for (; j > 0; j--) {
            int pc = column_by_field(e[j - 1].field);
            if ((pc >= 0 ? pos[pc] : -1) <= key)
                break;
            e[j] = e[j - 1];
        }
        e[j] = cur;
    }
}

static void check_row(parser *ps, const record *r, const int *colmap, int ncols)
{
    int line = r->line;
    int first = ps->out->nerrors;
    ps->row_errors = 0;
    if (r->bad != Q_OK) {
        int c = r->bad_col < ncols ? colmap[r->bad_col] : -1;
        add_error(ps, line, c >= 0 ? column_names[c][0] : "row", "%s", quote_reason(r->bad));
        return;
    }
    if (r->nfields != ncols) {
        /* The columns no longer line up, so nothing else in the row can be trusted. */
        add_error(ps, line, "row", "has %d fields, the header has %d", r->nfields, ncols);
        return;
    }

    ykt_person p;
    memset(&p, 0, sizeof p);
    bool flagged[C_COUNT] = {false}, given[C_COUNT] = {false};
    for (int i = 0; i < ncols; i++) {
        int c = colmap[i];
        given[c] = r->len[i] > 0;
        if (!convert_cell(ps, line, c, field_text(r, i), r->len[i], &p))
            flagged[c] = true;
    }
    if (p.kind[0] == '\0' && !flagged[C_KIND]) {
        if (ps->default_kind != NULL) {
            ykt_strlcpy(p.kind, ps->default_kind, sizeof p.kind);
        } else {
            add_error(ps, line, "kind", "required: student/学生, staff/教职工 or temporary/临时");
            flagged[C_KIND] = true;
        }
    }
    bool kind_bad = flagged[C_KIND];
    bool student = !kind_bad && strcmp(p.kind, "student") == 0;
    /* Validation would drop these silently for staff and visitors; a value there is more
     * likely a row of the wrong kind than something to ignore. */
    if (!kind_bad && !student) {
        if (given[C_ENROLLED_ON] && !flagged[C_ENROLLED_ON]) {
            add_error(ps, line, "enrolled_on", "only for students (this row is %s)", p.kind);
            flagged[C_ENROLLED_ON] = true;
        }
        if (given[C_STUDY_YEARS] && !flagged[C_STUDY_YEARS]) {
            add_error(ps, line, "study_years", "only for students (this row is %s)", p.kind);
            flagged[C_STUDY_YEARS] = true;
        }
    }
    char file_valid_until[YKT_DATE_LEN];
    ykt_strlcpy(file_valid_until, student ? p.valid_until : "", sizeof file_valid_until);

    for (int c = 0; c < C_COUNT; c++)
        if (flagged[c])
            placeholder(&p, c);
    /* ykt_person_validate stops at the first problem; put a harmless value in its place and
     * ask again, so that the report names every problem of the row at once. */
    bool tried[C_COUNT] = {false};
    for (int round = 0; round <= C_COUNT; round++) {
        const char *f = NULL, *why = NULL;
        if (ykt_person_validate(&p, &f, &why) == YKT_OK)
            break;
        int c = column_by_field(f);
        bool quiet = c >= 0 && (flagged[c] || (kind_bad && depends_on_kind(c)));
        if (!quiet)
            add_error(ps, line, f != NULL ? f : "row", "%s", why != NULL ? why : "is not valid");
        if (c < 0 || tried[c])
            break;
        tried[c] = flagged[c] = true;
        placeholder(&p, c);
    }
    if (student && !flagged[C_ENROLLED_ON] && !flagged[C_STUDY_YEARS] &&
        file_valid_until[0] != '\0' && !flagged[C_VALID_UNTIL] &&
        strcmp(file_valid_until, p.valid_until) != 0)
        add_error(ps, line, "valid_until",
                  "for students it follows from enrolled_on and study_years (%s); leave it empty",
                  p.valid_until);

    if (!flagged[C_PERSON_NO])
        check_unique(ps, ps->seen_no, line, "person_no", p.person_no);
    if (!flagged[C_ID_NUMBER])
        check_unique(ps, ps->seen_id, line, "id_number", p.id_number);
    if (ps->row_errors == 0)
        add_row(ps, &p, line);
    else if (ps->out->nerrors - first > 1)
        sort_row_errors(ps->out->errors + first, ps->out->nerrors - first, colmap, ncols);
}

/* ---- entry points ---- */

void ykt_import_free(ykt_import *imp)
{
    if (imp == NULL)
        return;
    free(imp->rows);
    free(imp->lines);
    free(imp->errors);
    memset(imp, 0, sizeof *imp);
}

int ykt_import_parse(const char *data, size_t len, const ykt_import_opts *opts, ykt_import *out,
                     char *err, size_t errlen)
{
    static const ykt_import_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    memset(out, 0, sizeof *out);
    set_err(err, errlen, "%s", "");
    size_t max_bytes = opts->max_bytes > 0 ? opts->max_bytes : YKT_IMPORT_MAX_BYTES;
    int max_rows = opts->max_rows > 0 ? opts->max_rows : YKT_IMPORT_MAX_ROWS;
    int max_errors = opts->max_errors > 0 ? opts->max_errors : YKT_IMPORT_MAX_ERRORS;

    enum encoding enc;
    if (encoding_of(opts->encoding, &enc) != YKT_OK) {
        set_err(err, errlen, "unknown encoding '%s': use auto, utf-8 or gbk", opts->encoding);
        return YKT_EINVAL;
    }
    const char *default_kind = NULL;
    if (opts->default_kind != NULL && opts->default_kind[0] != '\0') {
        default_kind = ykt_import_kind(opts->default_kind);
        if (default_kind == NULL) {
            set_err(err, errlen, "unknown kind '%s': use student, staff or temporary",
                    opts->default_kind);
            return YKT_EINVAL;
        }
    }
    /* Checked before anything is allocated: the size is the sender's claim until now. */
    if (len > max_bytes || len > SIZE_MAX / 2) {
        set_err(err, errlen, "the file has %zu bytes, more than the limit of %zu", len, max_bytes);
        return YKT_ELIMIT;
    }
    if (data == NULL)
        data = "";

    const char *text = NULL;
    size_t tlen = 0;
    char *owned = NULL;
    int rc = decode(data, len, enc, &text, &tlen, &owned, out->encoding, err, errlen);
    if (rc != YKT_OK)
        return rc;

    parser ps = {
        .out = out, .max_errors = max_errors, .max_rows = max_rows, .default_kind = default_kind};
    ps.seen_no = ykt_map_new();
    ps.seen_id = ykt_map_new();
    scanner sc = {.s = text, .n = tlen, .pos = 0, .line = 1};
    record rec;
    memset(&rec, 0, sizeof rec);
    ykt_buf_init(&rec.text);
    int *colmap = NULL;

    int got;
    while ((got = scan_record(&sc, &rec)) == 1 && rec.empty)
        ;
    if (got < 0) {
        rc = got;
        goto fail;
    }
    if (got == 0) {
        add_error(&ps, 1, "header", "the file is empty: the first line must name the columns");
        goto done;
    }
    int ncols = rec.nfields;
    colmap = malloc((size_t)ncols * sizeof *colmap);
    if (colmap == NULL) {
        rc = YKT_ENOMEM;
        goto fail;
    }
    if (!map_header(&ps, &rec, colmap))
        goto done;
    while ((got = scan_record(&sc, &rec)) == 1) {
        if (rec.empty)
            continue;
        if (++out->data_rows > max_rows) {
            set_err(err, errlen, "line %d: more than %d data rows, the limit; split the file",
                    rec.line, max_rows);
            rc = YKT_ELIMIT;
            goto fail;
        }
        check_row(&ps, &rec, colmap, ncols);
        if (ps.nomem)
            break;
    }
    if (got < 0 || ps.nomem) {
        rc = YKT_ENOMEM;
        goto fail;
    }
done:
    if (ps.nomem) {
        rc = YKT_ENOMEM;
        goto fail;
    }
    rc = YKT_OK;
    goto out;
fail:
    if (rc == YKT_ENOMEM)
        set_err(err, errlen, "out of memory while reading the file");
    ykt_import_free(out);
out:
    free(colmap);
    free(rec.off);
    free(rec.len);
    ykt_buf_free(&rec.text);
    ykt_map_free(ps.seen_no);
    ykt_map_free(ps.seen_id);
    free(owned);
    return rc;
}
