/*
 * Cardholders (R-P1): students, staff and temporary persons. A person's validity comes from
 * their length of study (students), contract (staff) or approved end date (temporary), and
 * may be extended on proof (R-C3). ID and phone numbers are personal data (R-P3).
 */
#ifndef YKT_PERSON_H
#define YKT_PERSON_H

#include <stdbool.h>
#include <stdint.h>

#include "date.h"
#include "db.h"

typedef struct ykt_person {
    int64_t id;
    char person_no[32]; /* student or staff number, or the number given to a visitor */
    char kind[12];      /* student, staff, temporary */
    char name[64];
    char gender[2];     /* M or F */
    char id_number[20]; /* PRC resident identity number, 18 characters */
    char phone[24];
    char department[64];
    char class_name[64]; /* students */
    char enrolled_on[YKT_DATE_LEN];
    int study_years;
    char valid_until[YKT_DATE_LEN];
    char validity_source[16]; /* study_length, contract, approved, extension */
    char status[12];          /* active, graduated, withdrawn, suspended, left, deceased */
    char host[64];            /* temporary persons: who receives them */
    int64_t created_at;
    int64_t updated_at;
} ykt_person;

/*
 * Checks every field and derives what follows from the others: a student's valid_until is
 * July 31 of the year enrolment + length of study ends (source study_length); staff need a
 * contract end, temporary persons an approved end date. On failure returns YKT_EINVAL with
 * *field naming the field and *why the reason.
 */
int ykt_person_validate(ykt_person *p, const char **field, const char **why);
/* Fields as the database stores them (for "re-import updates instead of duplicating"). */
bool ykt_person_same(const ykt_person *a, const ykt_person *b);
/* True when the status allows a live card. */
bool ykt_person_active(const ykt_person *p);

#endif
