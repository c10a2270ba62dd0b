#include "person.h"
#include "common.h"
#include "privacy.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Text fields: non-empty when required, readable UTF-8. */
static bool text_ok(const char *s, bool required)
{
    return (!required || s[0] != '\0') && ykt_text_printable(s);
}

#define FAIL(f, w)                                                                                 \
    do {                                                                                           \
        *field = (f);                                                                              \
        *why = (w);                                                                                \
        return YKT_EINVAL;                                                                         \
    } while (0)

int ykt_person_validate(ykt_person *p, const char **field, const char **why)
{
    if (!ykt_is_ident(p->person_no, sizeof p->person_no - 1))
        FAIL("person_no", "1 to 31 letters, digits, '.', '_' or '-'");
    bool student = strcmp(p->kind, "student") == 0;
    bool staff = strcmp(p->kind, "staff") == 0;
    bool temporary = strcmp(p->kind, "temporary") == 0;
    if (!student && !staff && !temporary)
        FAIL("kind", "must be student, staff or temporary");
    if (!text_ok(p->name, true))
        FAIL("name", "required, printable UTF-8 text");
    if (strcmp(p->gender, "M") != 0 && strcmp(p->gender, "F") != 0)
        FAIL("gender", "must be M or F (男/女)");
    ykt_prc_id_normalize(p->id_number);
    const char *idwhy = NULL;
    if (!ykt_prc_id_valid(p->id_number, &idwhy))
        FAIL("id_number", idwhy);
    if (p->phone[0] != '\0' && !ykt_phone_valid(p->phone))
        FAIL("phone", "5 to 20 digits, spaces, '-' and a leading '+'");
    if (!text_ok(p->department, true))
        FAIL("department", "required");
    if (!text_ok(p->class_name, student))
        FAIL("class", student ? "required for students" : "printable text");
    if (!text_ok(p->host, false))
        FAIL("host", "printable text");
    if (p->status[0] == '\0')
        ykt_strlcpy(p->status, "active", sizeof p->status);
    if (student) {
        if (!ykt_date_valid(p->enrolled_on))
            FAIL("enrolled_on", "required for students, a date YYYY-MM-DD");
        if (p->study_years < 1 || p->study_years > 8)
            FAIL("study_years", "required for students, 1 to 8");
        int year = 0;
        sscanf(p->enrolled_on, "%d", &year);
        /* Expected graduation: the summer after the last year of study — unless the registry
         * extended it on proof (R-C3), which only `card extend` changes. */
        bool extended =
            strcmp(p->validity_source, "extension") == 0 && ykt_date_valid(p->valid_until);
        if (!extended) {
            char until[32];
            snprintf(until, sizeof until, "%04d-07-31", (year + p->study_years) % 10000);
            ykt_strlcpy(p->valid_until, until, sizeof p->valid_until);
            ykt_strlcpy(p->validity_source, "study_length", sizeof p->validity_source);
        }
    } else {
        p->enrolled_on[0] = '\0';
        p->study_years = 0;
        if (!ykt_date_valid(p->valid_until))
            FAIL("valid_until", staff ? "the contract end date is required (YYYY-MM-DD)"
                                      : "the approved end date is required (YYYY-MM-DD)");
        if (strcmp(p->validity_source, "extension") != 0)
            ykt_strlcpy(p->validity_source, staff ? "contract" : "approved",
                        sizeof p->validity_source);
    }
    return YKT_OK;
}

bool ykt_person_same(const ykt_person *a, const ykt_person *b)
{
    return strcmp(a->kind, b->kind) == 0 && strcmp(a->name, b->name) == 0 &&
           strcmp(a->gender, b->gender) == 0 && strcmp(a->id_number, b->id_number) == 0 &&
           strcmp(a->phone, b->phone) == 0 && strcmp(a->department, b->department) == 0 &&
           strcmp(a->class_name, b->class_name) == 0 &&
           strcmp(a->enrolled_on, b->enrolled_on) == 0 && a->study_years == b->study_years &&
           strcmp(a->valid_until, b->valid_until) == 0 && strcmp(a->host, b->host) == 0;
}

bool ykt_person_active(const ykt_person *p)
{
    return strcmp(p->status, "active") == 0;
}
