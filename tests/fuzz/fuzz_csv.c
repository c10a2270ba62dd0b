/*
 * Fuzz target: the people CSV importer (ykt_import_parse), which reads files the student
 * office and HR export from Excel — UTF-8 or GBK, any bytes at all.
 *
 * Input: byte 0 picks the options (encoding, default kind, small or default row and error
 * limits), the rest is the file. Invariants:
 *   - the result is YKT_OK, YKT_EINVAL or YKT_ELIMIT; on an error the import is empty and the
 *     message says why;
 *   - all or nothing: without errors every data row is an accepted row; with errors the
 *     caller rejects the file, and every data row is either accepted or named in the report
 *     (the report counts are consistent, truncation is flagged);
 *   - every accepted row passes ykt_person_validate again unchanged, is valid UTF-8, and the
 *     rows and errors are in file order with line numbers inside the file;
 *   - a report about an identity or phone number never quotes the number (R-P3);
 *   - the same text sent as GBK (GB18030) instead of UTF-8 gives the same rows and errors.
 */
#include "fuzz.h"

#include "common.h"
#include "csvimport.h"
#include "person.h"
#include "util.h"

#include <iconv.h>
#include <string.h>

static const char *const encodings[] = {"auto", "utf-8", "gbk", NULL};
static const char *const kinds[] = {NULL, "student", "staff", "temporary"};

static int count_lines(const uint8_t *s, size_t n)
{
    int lines = 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '\r')
            lines++;
    return lines;
}

static void check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    CHECK(n < cap);
    CHECK(ykt_utf8_bad_offset((const unsigned char *)s, n) == n);
}

static void check_person(const ykt_person *p)
{
    check_text(p->person_no, sizeof p->person_no);
    check_text(p->kind, sizeof p->kind);
    check_text(p->name, sizeof p->name);
    check_text(p->gender, sizeof p->gender);
    check_text(p->id_number, sizeof p->id_number);
    check_text(p->phone, sizeof p->phone);
    check_text(p->department, sizeof p->department);
    check_text(p->class_name, sizeof p->class_name);
    check_text(p->host, sizeof p->host);
    ykt_person again = *p;
    const char *field = NULL, *why = NULL;
    CHECK(ykt_person_validate(&again, &field, &why) == YKT_OK);
    CHECK(ykt_person_same(&again, p));
}

static void check_import(const uint8_t *data, size_t size, const ykt_import_opts *opts, int rc,
                         const ykt_import *imp, const char *err)
{
    CHECK(rc == YKT_OK || rc == YKT_EINVAL || rc == YKT_ELIMIT);
    CHECK(strnlen(err, 256) < 256);
    if (rc != YKT_OK) {
        CHECK(err[0] != '\0');
        CHECK(imp->rows == NULL && imp->nrows == 0 && imp->errors == NULL && imp->nerrors == 0);
        return;
    }
    CHECK(strcmp(imp->encoding, "utf-8") == 0 || strcmp(imp->encoding, "gbk") == 0);
    int max_errors = opts->max_errors > 0 ? opts->max_errors : YKT_IMPORT_MAX_ERRORS;
    int max_rows = opts->max_rows > 0 ? opts->max_rows : YKT_IMPORT_MAX_ROWS;
    int lines = count_lines(data, size);
    CHECK(imp->nerrors >= 0 && imp->nerrors <= max_errors);
    CHECK(imp->errors_found >= imp->nerrors);
    CHECK(imp->errors_truncated == (imp->errors_found > imp->nerrors));
    CHECK(imp->nrows >= 0 && imp->nrows <= imp->data_rows && imp->data_rows <= max_rows);
    /* All or nothing: a file without errors is taken whole. */
    if (imp->errors_found == 0)
        CHECK(imp->nrows == imp->data_rows);
    /* Errors in file order, with real line numbers; each row is accepted or reported. */
    int distinct = 0, header_errors = 0;
    for (int i = 0; i < imp->nerrors; i++) {
        const ykt_import_error *e = &imp->errors[i];
        CHECK(e->line >= 1 && e->line <= lines);
        CHECK(i == 0 || e->line >= imp->errors[i - 1].line);
        check_text(e->field, sizeof e->field);
        check_text(e->reason, sizeof e->reason);
        CHECK(e->field[0] != '\0' && e->reason[0] != '\0');
        if (strcmp(e->field, "header") == 0)
            header_errors++;
        else if (i == 0 || e->line != imp->errors[i - 1].line)
            distinct++;
    }
    if (header_errors > 0)
        CHECK(imp->nrows == 0 && imp->data_rows == 0);
    else if (!imp->errors_truncated)
        CHECK(imp->nrows + distinct == imp->data_rows);
    for (int i = 0; i < imp->nrows; i++) {
        check_person(&imp->rows[i]);
        CHECK(imp->lines[i] >= 2 && imp->lines[i] <= lines);
        CHECK(i == 0 || imp->lines[i] > imp->lines[i - 1]);
    }
    /* R-P3: what is reported about an identity or phone number never quotes it. */
    for (int i = 0; i < imp->nerrors; i++) {
        const ykt_import_error *e = &imp->errors[i];
        if (strcmp(e->field, "id_number") != 0 && strcmp(e->field, "phone") != 0)
            continue;
        int run = 0;
        for (const char *c = e->reason; *c; c++) {
            run = (*c >= '0' && *c <= '9') ? run + 1 : 0;
            CHECK(run < 8);
        }
    }
}

/* Converts UTF-8 text to GB18030; false when iconv cannot. */
static bool to_gbk(const uint8_t *in, size_t n, char **out, size_t *outlen)
{
    iconv_t cd = iconv_open("GB18030", "UTF-8");
    if (cd == (iconv_t)-1)
        return false;
    size_t cap = 2 * n + 16;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    char *ip = (char *)in, *op = buf;
    size_t il = n, ol = cap;
    bool ok = iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 && il == 0;
    iconv_close(cd);
    if (!ok) {
        free(buf);
        return false;
    }
    *out = buf;
    *outlen = (size_t)(op - buf);
    return true;
}

static void check_same(const ykt_import *a, const ykt_import *b)
{
    CHECK(a->nrows == b->nrows && a->nerrors == b->nerrors && a->data_rows == b->data_rows);
    CHECK(a->errors_found == b->errors_found);
    for (int i = 0; i < a->nrows; i++) {
        CHECK(ykt_person_same(&a->rows[i], &b->rows[i]));
        CHECK(a->lines[i] == b->lines[i]);
    }
    for (int i = 0; i < a->nerrors; i++) {
        CHECK(a->errors[i].line == b->errors[i].line);
        CHECK(strcmp(a->errors[i].field, b->errors[i].field) == 0);
        CHECK(strcmp(a->errors[i].reason, b->errors[i].reason) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = fuzz_take(&data, &size);
    ykt_import_opts opts = {
        .encoding = encodings[sel & 3],
        .default_kind = kinds[(sel >> 2) & 3],
        .max_rows = (sel & 0x10) ? 3 : 0,
        .max_errors = (sel & 0x20) ? 2 : 0,
        .max_bytes = (sel & 0x40) ? 512 : 0,
    };
    /* An exact-size copy, so that reading past the end is an ASan report. */
    char *copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    memcpy(copy, data, size);
    ykt_import imp;
    char err[256] = "";
    int rc = ykt_import_parse(copy, size, &opts, &imp, err, sizeof err);
    check_import(data, size, &opts, rc, &imp, err);

    /* The same text as GBK reads the same (a UTF-8 BOM has no GBK form: skip those). */
    bool bom = size >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf;
    char *gbk;
    size_t gbklen;
    if (rc == YKT_OK && strcmp(imp.encoding, "utf-8") == 0 && !bom && opts.max_bytes == 0 &&
        to_gbk(data, size, &gbk, &gbklen)) {
        ykt_import_opts gopts = opts;
        gopts.encoding = "gbk";
        ykt_import g;
        char gerr[256] = "";
        int grc = ykt_import_parse(gbk, gbklen, &gopts, &g, gerr, sizeof gerr);
        if (grc != YKT_OK)
            fprintf(stderr, "as GBK: %s\n", gerr);
        CHECK(grc == YKT_OK);
        CHECK(strcmp(g.encoding, "gbk") == 0);
        check_same(&imp, &g);
        ykt_import_free(&g);
        free(gbk);
    }
    ykt_import_free(&imp);
    ykt_import_free(&imp); /* safe twice, as documented */
    free(copy);
    return 0;
}
