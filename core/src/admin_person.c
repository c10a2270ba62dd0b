/*
 * person add|update|show|reveal|list|set-status|report-death and approval add|list: the
 * registry of cardholders (R-P1), their end of studies or employment (R-C8), and the
 * approvals that staff and temporary cards need (R-C1). ID and phone numbers are masked in
 * every output except `person reveal`, the counter's audited identity check (R-P3).
 */
#include "admin_cmds.h"
#include "admin_util.h"
#include "common.h"
#include "ledger.h"
#include "log.h"
#include "privacy.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define OPERATORS (YKT_ROLE_OPERATOR | YKT_ROLE_SUPERUSER)
#define READERS                                                                                    \
    (YKT_ROLE_OPERATOR | YKT_ROLE_FINANCE | YKT_ROLE_AUDITOR | YKT_ROLE_DEPT_ADMIN |               \
     YKT_ROLE_DEPT_HEAD)

/* Copies the person options of add/update into p; returns false after replying. */
static bool apply_options(ykt_req *req, const ykt_args *a, ykt_person *p)
{
    static const struct {
        const char *opt;
        size_t off, size;
    } text[] = {
        {"kind", offsetof(ykt_person, kind), sizeof(((ykt_person *)0)->kind)},
        {"name", offsetof(ykt_person, name), sizeof(((ykt_person *)0)->name)},
        {"id-number", offsetof(ykt_person, id_number), sizeof(((ykt_person *)0)->id_number)},
        {"phone", offsetof(ykt_person, phone), sizeof(((ykt_person *)0)->phone)},
        {"department", offsetof(ykt_person, department), sizeof(((ykt_person *)0)->department)},
        {"class", offsetof(ykt_person, class_name), sizeof(((ykt_person *)0)->class_name)},
        {"enrolled", offsetof(ykt_person, enrolled_on), sizeof(((ykt_person *)0)->enrolled_on)},
        {"valid-until", offsetof(ykt_person, valid_until), sizeof(((ykt_person *)0)->valid_until)},
        {"host", offsetof(ykt_person, host), sizeof(((ykt_person *)0)->host)},
    };
    for (size_t i = 0; i < YKT_ARRAY_LEN(text); i++) {
        const char *v = ykt_args_get(a, text[i].opt);
        if (v == NULL)
            continue;
        if (strlen(v) >= text[i].size) {
            ykt_reply_error(req, "BAD_REQUEST", "--%s is at most %zu bytes", text[i].opt,
                            text[i].size - 1);
            return false;
        }
        ykt_strlcpy((char *)p + text[i].off, v, text[i].size);
    }
    /* The command line takes what the import takes: M/F, 男/女, male/female. */
    const char *gender = ykt_args_get(a, "gender");
    if (gender != NULL) {
        if (strcmp(gender, "男") == 0 || strcasecmp(gender, "male") == 0 ||
            strcmp(gender, "M") == 0)
            ykt_strlcpy(p->gender, "M", sizeof p->gender);
        else if (strcmp(gender, "女") == 0 || strcasecmp(gender, "female") == 0 ||
                 strcmp(gender, "F") == 0)
            ykt_strlcpy(p->gender, "F", sizeof p->gender);
        else
            ykt_strlcpy(p->gender, "?", sizeof p->gender); /* refused just below */
    }
    int64_t years = p->study_years;
    if (!ykt_args_int(req, a, "study-years", 1, 8, &years))
        return false;
    p->study_years = (int)years;
    const char *field, *why;
    if (ykt_person_validate(p, &field, &why) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "%s: %s", field, why);
        return false;
    }
    return true;
}

static int check_id_number_free(ykt_req *req, const ykt_person *p)
{
    ykt_person other;
    int rc = ykt_store_person_by_id_number(req->gw->db, p->id_number, &other);
    if (rc == YKT_OK && other.id != p->id) {
        ykt_reply_error(req, "EXISTS", "this ID number belongs to person %s", other.person_no);
        return YKT_EEXIST;
    }
    if (rc != YKT_OK && rc != YKT_ENOTFOUND) {
        ykt_reply_internal(req, rc);
        return rc;
    }
    return YKT_OK;
}

static void cmd_add(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    memset(&p, 0, sizeof p);
    if (strlen(a->pos[0]) >= sizeof p.person_no) {
        ykt_reply_error(req, "BAD_REQUEST", "person_no: at most 31 characters");
        return;
    }
    ykt_strlcpy(p.person_no, a->pos[0], sizeof p.person_no);
    if (!apply_options(req, a, &p) || check_id_number_free(req, &p) != YKT_OK)
        return;
    p.created_at = p.updated_at = ykt_now_ms();
    int rc = ykt_store_person_insert(req->gw->db, &p);
    if (rc == YKT_EEXIST) {
        ykt_reply_error(req, "EXISTS", "person %s already exists", p.person_no);
        return;
    }
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "person.add", p.person_no, "kind=%s department=%s valid_until=%s",
                       p.kind, p.department, p.valid_until);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

static void cmd_update(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    if (!ykt_admin_person(req, a->pos[0], &p))
        return;
    ykt_person before = p;
    /* For staff and temporary people a date typed here is HR's contract end or the approved
     * end date: that is where the validity comes from now, even after an extension
     * (ykt_person_validate names the source). A student's comes from the study length. */
    const char *kind = ykt_args_get(a, "kind");
    if (ykt_args_get(a, "valid-until") != NULL && strcmp(kind ? kind : p.kind, "student") != 0)
        p.validity_source[0] = '\0';
    if (!apply_options(req, a, &p) || check_id_number_free(req, &p) != YKT_OK)
        return;
    if (ykt_person_same(&before, &p)) {
        ykt_reply_status(req, "OK unchanged");
        return;
    }
    p.updated_at = ykt_now_ms();
    int rc = ykt_store_person_update(req->gw->db, &p);
    /* A new validity reaches the person's cards too: regular cards take it, a temporary
     * card is cut back if it would outlive it. */
    char note[96] = "";
    if (rc == YKT_OK && strcmp(before.valid_until, p.valid_until) != 0)
        rc = ykt_card_follow_validity(req->gw->db, p.id, p.valid_until, ykt_admin_actor(req), note,
                                      sizeof note);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "person.update", p.person_no, "valid_until %s -> %s (%s)%s%s",
                       before.valid_until, p.valid_until, p.validity_source, note[0] ? "; " : "",
                       note);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

typedef struct cards_text {
    char text[256];
} cards_text;

static int add_card_text(const ykt_card *c, void *arg)
{
    cards_text *t = arg;
    size_t used = strlen(t->text);
    snprintf(t->text + used, sizeof t->text - used, "%s%s:%s%s", used ? ", " : "", c->card_no,
             c->status, strcmp(c->medium, "phone") == 0 ? "(phone)" : "");
    return YKT_OK;
}

static void person_record(ykt_req *req, const ykt_person *p, bool reveal)
{
    char id[24], phone[24], balance_text[32];
    if (reveal) {
        ykt_strlcpy(id, p->id_number, sizeof id);
        ykt_strlcpy(phone, p->phone, sizeof phone);
    } else {
        ykt_mask_id_number(p->id_number, id, sizeof id);
        ykt_mask_phone(p->phone, phone, sizeof phone);
    }
    cards_text cards = {.text = ""};
    int64_t wallet, balance = 0;
    int rc = ykt_store_card_each(req->gw->db, p->id, "", 20, add_card_text, &cards);
    if (rc == YKT_OK)
        rc = ykt_ledger_wallet(req->gw->db, p->id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(req->gw->db, wallet, &balance);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_format_fen(balance, balance_text, sizeof balance_text);
    static const char *const cols[] = {
        "person_no",  "kind",  "name",        "gender",      "id_number",   "phone",
        "department", "class", "enrolled_on", "study_years", "valid_until", "validity_source",
        "status",     "host",  "cards",       "balance"};
    ykt_table *t = ykt_table_new("RECORD", (int)YKT_ARRAY_LEN(cols), cols);
    ykt_table_row(t);
    ykt_table_str(t, p->person_no);
    ykt_table_str(t, p->kind);
    ykt_table_str(t, p->name);
    ykt_table_str(t, p->gender);
    ykt_table_str(t, id);
    ykt_table_str(t, phone);
    ykt_table_str(t, p->department);
    ykt_table_str(t, p->class_name);
    ykt_table_str(t, p->enrolled_on[0] ? p->enrolled_on : NULL);
    if (p->study_years)
        ykt_table_int(t, p->study_years);
    else
        ykt_table_str(t, NULL);
    ykt_table_str(t, p->valid_until);
    ykt_table_str(t, p->validity_source);
    ykt_table_str(t, p->status);
    ykt_table_str(t, p->host);
    ykt_table_str(t, cards.text);
    ykt_table_str(t, balance_text);
    ykt_table_send(req, t);
}

static void cmd_show(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    if (!ykt_admin_person(req, a->pos[0], &p) || !ykt_admin_may_see(req, &p))
        return;
    person_record(req, &p, false);
}

/* The counter's identity check: the full ID and phone numbers, audited with a reason. */
static void cmd_reveal(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    const char *reason;
    if (!ykt_admin_text(req, a, "reason", 200, &reason) || !ykt_admin_person(req, a->pos[0], &p))
        return;
    int rc = ykt_audit(req, a, "person.reveal", p.person_no, "identity check: %s", reason);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    person_record(req, &p, true);
}

static int list_row(const ykt_person *p, void *arg)
{
    ykt_table *t = arg;
    char id[24], phone[24];
    ykt_mask_id_number(p->id_number, id, sizeof id);
    ykt_mask_phone(p->phone, phone, sizeof phone);
    ykt_table_row(t);
    ykt_table_str(t, p->person_no);
    ykt_table_str(t, p->kind);
    ykt_table_str(t, p->name);
    ykt_table_str(t, p->department);
    ykt_table_str(t, p->class_name);
    ykt_table_str(t, id);
    ykt_table_str(t, phone);
    ykt_table_str(t, p->valid_until);
    ykt_table_str(t, p->status);
    return YKT_OK;
}

static void cmd_list(ykt_req *req, const ykt_args *a)
{
    const char *dept = ykt_args_get(a, "department");
    const char *kind = ykt_args_get(a, "kind");
    const char *status = ykt_args_get(a, "status");
    int64_t limit = 100;
    if (!ykt_args_int(req, a, "limit", 1, 100000, &limit))
        return;
    ykt_session *s = req->session;
    if (s->role == YKT_ROLE_DEPT_ADMIN || s->role == YKT_ROLE_DEPT_HEAD) {
        if (dept != NULL && strcmp(dept, s->department) != 0) {
            ykt_reply_error(req, "FORBIDDEN", "you may list only department %s", s->department);
            return;
        }
        dept = s->department;
    }
    static const char *const cols[] = {"person_no", "kind",  "name",        "department", "class",
                                       "id_number", "phone", "valid_until", "status"};
    ykt_table *t = ykt_table_new("TABLE", (int)YKT_ARRAY_LEN(cols), cols);
    int rc = ykt_store_person_each(req->gw->db, dept ? dept : "", kind ? kind : "",
                                   status ? status : "", (int)limit, list_row, t);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

/* Ends a person's studies or employment as the registry or HR reports (R-C8): the status
 * changes and every live card is cancelled; the balance waits for a refund claim. */
static void end_person(ykt_req *req, const ykt_args *a, const char *status, const char *action)
{
    ykt_person p;
    const char *ref;
    if (!ykt_admin_text(req, a, "ref", 100, &ref) || !ykt_admin_person(req, a->pos[0], &p))
        return;
    if (strcmp(p.status, status) == 0) {
        ykt_reply_error(req, "BAD_STATE", "%s is already %s", p.person_no, status);
        return;
    }
    ykt_strlcpy(p.status, status, sizeof p.status);
    p.updated_at = ykt_now_ms();
    char reason[96];
    snprintf(reason, sizeof reason, "person %s (%s)", status, ref ? ref : "no reference");
    int ended = 0;
    int rc = ykt_store_person_update(req->gw->db, &p);
    if (rc == YKT_OK && strcmp(status, "active") != 0)
        rc = ykt_card_end_all(req->gw->db, p.id, reason, ykt_admin_actor(req), &ended);
    /* The registry's or HR's document is the approval this step relies on (R-S6). */
    ykt_args approval = *a;
    if (ykt_args_get(a, "approval") == NULL && ref != NULL && approval.nopt < YKT_ADMIN_MAX_OPTS) {
        approval.opt[approval.nopt].name = "approval";
        approval.opt[approval.nopt].value = ref;
        approval.nopt++;
    }
    if (rc == YKT_OK)
        rc = ykt_audit(req, &approval, action, p.person_no, "status=%s cards_cancelled=%d ref=%s",
                       status, ended, ref ? ref : "");
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    char msg[64];
    snprintf(msg, sizeof msg, "OK %d card(s) cancelled", ended);
    ykt_reply_status(req, msg);
}

static void cmd_set_status(ykt_req *req, const ykt_args *a)
{
    static const char *const allowed[] = {"active", "graduated", "withdrawn", "suspended", "left"};
    const char *status = a->pos[1];
    for (size_t i = 0; i < YKT_ARRAY_LEN(allowed); i++) {
        if (strcmp(status, allowed[i]) == 0) {
            end_person(req, a, status, "person.set-status");
            return;
        }
    }
    ykt_reply_error(req, "BAD_REQUEST",
                    "status is active, graduated, withdrawn, suspended or left (deaths: "
                    "person report-death)");
}

static void cmd_report_death(ykt_req *req, const ykt_args *a)
{
    const char *by = ykt_args_get(a, "reported-by");
    if (strcmp(by, "hr") != 0 && strcmp(by, "student_office") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--reported-by is hr or student_office");
        return;
    }
    end_person(req, a, "deceased", "person.report-death");
}

/* ---- approvals (R-C1) ---- */

static void cmd_approval_add(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    const char *kind = ykt_args_get(a, "kind");
    const char *approver, *ref;
    if (!ykt_admin_text(req, a, "approver", 63, &approver) ||
        !ykt_admin_text(req, a, "ref", 100, &ref) || !ykt_admin_person(req, a->pos[0], &p))
        return;
    if (strcmp(kind, "unit_leader") != 0 && strcmp(kind, "functional_dept") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--kind is unit_leader or functional_dept");
        return;
    }
    if (approver[0] == '\0' || ref[0] == '\0') {
        ykt_reply_error(req, "BAD_REQUEST", "--approver and --ref must not be empty");
        return;
    }
    int rc = ykt_store_approval_insert(req->gw->db, p.id, kind, approver, ref, ykt_admin_actor(req),
                                       ykt_now_ms());
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "approval.add", p.person_no, "%s approved by %s, ref %s", kind,
                       approver, ref);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

static int approval_row(const ykt_approval_row *r, void *arg)
{
    ykt_table *t = arg;
    ykt_table_row(t);
    ykt_table_int(t, r->id);
    ykt_table_str(t, r->kind);
    ykt_table_str(t, r->approver);
    ykt_table_str(t, r->ref);
    ykt_table_str(t, r->recorded_by);
    ykt_table_time(t, r->at);
    ykt_table_str(t, r->used_by_card[0] ? r->used_by_card : NULL);
    return YKT_OK;
}

static void cmd_approval_list(ykt_req *req, const ykt_args *a)
{
    ykt_person p;
    if (!ykt_admin_person(req, a->pos[0], &p) || !ykt_admin_may_see(req, &p))
        return;
    static const char *const cols[] = {"id",          "kind", "approver",    "ref",
                                       "recorded_by", "at",   "used_by_card"};
    ykt_table *t = ykt_table_new("TABLE", (int)YKT_ARRAY_LEN(cols), cols);
    int rc = ykt_store_approval_each(req->gw->db, p.id, approval_row, t);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

#define PERSON_OPTS                                                                                \
    "kind= name= gender= id-number= phone= department= class= enrolled= study-years= "             \
    "valid-until= host="

static const ykt_admin_cmd cmds[] = {
    {"person", "add", cmd_add, OPERATORS, true, 1, 1, PERSON_OPTS,
     "person add NO --kind student|staff|temporary --name N --gender M|F --id-number ID "
     "--department D [--class C] [--phone P] [--enrolled DATE --study-years N] "
     "[--valid-until DATE] [--host H]",
     "Register a cardholder (students: validity from enrolment and length of study)."},
    {"person", "update", cmd_update, OPERATORS, true, 1, 1, PERSON_OPTS,
     "person update NO [--name N] [--phone P] [--department D] [--class C] ...",
     "Change a cardholder's data; a new validity reaches their cards."},
    {"person", "show", cmd_show, READERS | YKT_ROLE_PORTAL, false, 1, 1, "", "person show NO",
     "Show a cardholder with masked ID and phone numbers, cards and balance."},
    {"person", "reveal", cmd_reveal, OPERATORS, false, 1, 1, "reason=!",
     "person reveal NO --reason TEXT",
     "The counter's identity check: full ID and phone numbers, audited."},
    {"person", "list", cmd_list, READERS, false, 0, 0, "department= kind= status= limit=",
     "person list [--department D] [--kind K] [--status S] [--limit N]",
     "List cardholders (masked); department roles see their own department."},
    {"person", "set-status", cmd_set_status, OPERATORS, true, 2, 2,
     "ref=", "person set-status NO active|graduated|withdrawn|suspended|left [--ref DOC]",
     "Record the registry's or HR's report; ending it cancels the person's cards."},
    {"person", "report-death", cmd_report_death, OPERATORS, true, 1, 1,
     "reported-by=! ref=", "person report-death NO --reported-by hr|student_office [--ref DOC]",
     "Record a death reported by HR or the student office; cancels the cards."},
    {"approval", "add", cmd_approval_add, OPERATORS, true, 1, 1, "kind=! approver=! ref=!",
     "approval add NO --kind unit_leader|functional_dept --approver NAME --ref DOC",
     "Record an approval needed to issue a staff or temporary card."},
    {"approval", "list", cmd_approval_list, READERS, false, 1, 1, "", "approval list NO",
     "List a person's approvals and the cards they were used for."},
};

int ykt_admin_person_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
