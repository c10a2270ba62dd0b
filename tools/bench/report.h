/*
 * The benchmark report: an ordered tree of named values that prints either as plain text
 * for a person or as one JSON object for scripts and tests (--json). Subcommands add what
 * they measured in the order a reader wants it; the writer knows nothing about benchmarks.
 */
#ifndef YKT_BENCH_REPORT_H
#define YKT_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ykt_report ykt_report;

ykt_report *ykt_report_new(void);
void ykt_report_free(ykt_report *r);

/* Opens a nested object under key; every begin needs its end. */
void ykt_report_begin(ykt_report *r, const char *key);
void ykt_report_end(ykt_report *r);

void ykt_report_str(ykt_report *r, const char *key, const char *value);
void ykt_report_int(ykt_report *r, const char *key, int64_t value);
/* A measured quantity printed with a fixed number of decimals (NaN prints as null). */
void ykt_report_num(ykt_report *r, const char *key, double value, int decimals);
void ykt_report_bool(ykt_report *r, const char *key, bool value);

/*
 * Text: top-level values one per line, objects as indented sections; an object inside a
 * section whose values are all scalars fits on one line ("first  rows=50000 seconds=...").
 * JSON: one object, keys in insertion order, then a newline.
 */
void ykt_report_print(const ykt_report *r, FILE *out, bool json);

#endif
