/*
 * Made-up but realistic students: what a student office (学生处) exports from its records.
 * Row i of a roster is a pure function of (seed, i), so the CSV benchmark and the swipe
 * provisioning describe the same people, and a re-run describes them again identically.
 *
 * Every ID number is valid (GB 11643: a real region code, a real birth date, a sequence
 * whose parity matches the gender, the ISO 7064 MOD 11-2 check character) and unique
 * within a roster of up to ROSTER_MAX rows; person numbers are unique too.
 */
#ifndef YKT_BENCH_ROSTER_H
#define YKT_BENCH_ROSTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "buf.h"

#define YKT_ROSTER_MAX 10000000

typedef struct ykt_roster_row {
    char person_no[16];     /* e.g. 2024003417: enrolment year and a running number */
    char name[32];          /* UTF-8, e.g. 欧阳晓燕 */
    char gender[2];         /* "M" or "F" */
    char id_number[19];     /* 18 characters */
    const char *department; /* e.g. 计算机学院 */
    char class_name[32];    /* e.g. 计科2401 */
    char enrolled[24];      /* YYYY-MM-DD */
    int enrol_year;
    int study_years;
    char phone[12]; /* 11-digit mobile number, or empty */
} ykt_roster_row;

/* The year of the most recent intake (September 1st) as of today. */
int ykt_roster_latest_cohort(void);

/* Row i of the roster of the four intakes up to this_year (ykt_roster_latest_cohort()). */
void ykt_roster_row_make(uint64_t seed, size_t i, int this_year, ykt_roster_row *out);

/*
 * Appends the whole roster as a student-office CSV, the way Excel's "CSV UTF-8" writes it:
 * a byte-order mark, Chinese headers, CRLF, quotes where needed, dates and lengths of study
 * in the mixed forms people type.
 */
void ykt_roster_csv(ykt_buf *out, size_t rows, uint64_t seed, int this_year);

/* Converts UTF-8 text (a leading BOM is dropped) to GBK with iconv. 0, or -1 and err. */
int ykt_roster_to_gbk(const char *in, size_t len, ykt_buf *out, char *err, size_t errlen);

/* The ISO 7064 MOD 11-2 check character of the first 17 digits of an ID number. */
char ykt_roster_id_check(const char *first17);

#endif
