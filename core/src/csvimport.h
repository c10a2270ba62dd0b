/*
 * Bulk import of cardholders from CSV (R-P2): the student office and HR send a spreadsheet
 * each term. This module only parses and validates; it never touches the database, so the
 * caller can check the whole file first and then import all of it or nothing.
 *
 * Columns, accepted values, encodings and limits are described for users in
 * docs/people-import.md; keep the two in step.
 */
#ifndef YKT_CSVIMPORT_H
#define YKT_CSVIMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "person.h"

/* Defaults for the limits below when an option is 0. */
#define YKT_IMPORT_MAX_BYTES  (32u * 1024 * 1024)
#define YKT_IMPORT_MAX_ROWS   100000
#define YKT_IMPORT_MAX_ERRORS 1000

/* One rejected row (or header) problem; line is the physical line in the file, header = 1. */
typedef struct ykt_import_error {
    int line;
    char field[24];   /* a column name (person_no, kind, ...), "header" or "row" */
    char reason[128]; /* English; never contains an ID or phone number (R-P3) */
} ykt_import_error;

typedef struct ykt_import_opts {
    const char *encoding;     /* "auto" (also NULL), "utf-8" or "gbk" */
    const char *default_kind; /* kind for rows without one: student, staff, temporary, or NULL */
    size_t max_bytes;         /* larger input is refused (YKT_ELIMIT); 0 = default */
    int max_rows;             /* more data rows are refused (YKT_ELIMIT); 0 = default */
    int max_errors;           /* errors kept in the report; 0 = default */
} ykt_import_opts;

typedef struct ykt_import {
    ykt_person *rows; /* the valid rows, in file order, already through ykt_person_validate */
    int *lines;       /* lines[i] is the line on which rows[i] starts */
    int nrows;
    ykt_import_error *errors; /* in file order */
    int nerrors;              /* errors kept (at most max_errors) */
    int errors_found;         /* errors found in all; more than nerrors when truncated */
    bool errors_truncated;
    int data_rows;    /* non-empty data rows seen, valid or not */
    char encoding[8]; /* "utf-8" or "gbk": what the bytes were decoded as */
} ykt_import;

/*
 * Parses and validates `len` bytes of CSV. Returns YKT_OK when the file could be examined:
 * then out holds the valid rows and a report of every rejected row (and of header problems,
 * in which case no data row is examined). Import only when out->nerrors == 0: a file is taken
 * whole or not at all. Otherwise returns, with a message in err and out empty:
 *   YKT_EINVAL  the bytes are not text in the chosen encoding, contain NUL bytes, or the
 *               options are wrong (unknown encoding or default kind);
 *   YKT_ELIMIT  more than max_bytes bytes or more than max_rows data rows;
 *   YKT_ENOMEM  out of memory.
 * out must be released with ykt_import_free() in every case (it is safe on an empty one).
 */
int ykt_import_parse(const char *data, size_t len, const ykt_import_opts *opts, ykt_import *out,
                     char *err, size_t errlen);
void ykt_import_free(ykt_import *imp);

/* "student", "staff", "temporary" for the values the kind column accepts (学生, 教职工, ...),
 * NULL otherwise. For the command line's --kind as well as the column. */
const char *ykt_import_kind(const char *value);

#endif
