#include "admin_util.h"
#include "common.h"
#include "privacy.h"
#include "secret.h"
#include "store/store.h"
#include "util.h"

#include <string.h>

bool ykt_admin_person(ykt_req *req, const char *person_no, ykt_person *out)
{
    int rc = ykt_store_person_by_no(req->gw->db, person_no, out);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no person %.32s", person_no);
        return false;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return true;
}

bool ykt_admin_card(ykt_req *req, const char *card_no, ykt_card *out)
{
    int rc = ykt_store_card_by_no(req->gw->db, card_no, out);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no card %.16s", card_no);
        return false;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return true;
}

bool ykt_admin_may_see(ykt_req *req, const ykt_person *p)
{
    ykt_session *s = req->session;
    if (s->role == YKT_ROLE_GUARDIAN) {
        /* A parent sees their own pupils' records, nobody else's (R-W8, R-S2). */
        int rc = ykt_store_guardian_of(req->gw->db, s->operator_name, p->id);
        if (rc == YKT_OK)
            return true;
        if (rc == YKT_ENOTFOUND)
            ykt_reply_error(req, "FORBIDDEN", "you are not a guardian of %s", p->person_no);
        else
            ykt_reply_internal(req, rc);
        return false;
    }
    if (s->role != YKT_ROLE_DEPT_ADMIN && s->role != YKT_ROLE_DEPT_HEAD)
        return true;
    if (strcmp(s->department, p->department) == 0)
        return true;
    ykt_reply_error(req, "FORBIDDEN", "%s belongs to another department", p->person_no);
    return false;
}

bool ykt_admin_id_check(ykt_req *req, const ykt_args *a, const ykt_person *p)
{
    const char *given = ykt_args_get(a, "id-number");
    if (given == NULL || given[0] == '\0') {
        ykt_reply_error(req, "ID_REQUIRED",
                        "the holder's own valid ID is required (--id-number); reports without "
                        "ID or by proxy are refused");
        return false;
    }
    char norm[24];
    ykt_strlcpy(norm, given, sizeof norm);
    ykt_prc_id_normalize(norm);
    size_t n = strlen(p->id_number);
    if (strlen(norm) != n || !ykt_ct_equal(norm, p->id_number, n)) {
        ykt_reply_error(req, "ID_MISMATCH",
                        "the ID presented is not %s's; only the holder in person may do this",
                        p->person_no);
        return false;
    }
    return true;
}

const char *ykt_admin_actor(ykt_req *req)
{
    return req->session->operator_name;
}

bool ykt_admin_text(ykt_req *req, const ykt_args *a, const char *name, size_t max, const char **out)
{
    const char *v = ykt_args_get(a, name);
    *out = v;
    if (v == NULL)
        return true;
    if (strlen(v) > max) {
        ykt_reply_error(req, "BAD_REQUEST", "--%s is at most %zu bytes", name, max);
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            ykt_reply_error(req, "BAD_REQUEST", "--%s must be printable text", name);
            return false;
        }
    }
    return true;
}
