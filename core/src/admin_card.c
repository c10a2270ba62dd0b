/*
 * The card counter: card issue|batch-issue|show|list|history|extend|loss|unlock|replace|
 * cancel|confiscate|found|reset-password (R-C1..R-C10). Every step is audited with the
 * operator and the approval or proof it relied on; steps that need the holder in person
 * compare the ID number the operator types with the holder's record.
 */
#include "admin_cmds.h"
#include "admin_util.h"
#include "cardpw.h"
#include "events.h"
#include "common.h"
#include "ledger.h"
#include "log.h"
#include "privacy.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPERATORS (YKT_ROLE_OPERATOR | YKT_ROLE_SUPERUSER)
#define READERS                                                                                    \
    (YKT_ROLE_OPERATOR | YKT_ROLE_FINANCE | YKT_ROLE_AUDITOR | YKT_ROLE_DEPT_ADMIN |               \
     YKT_ROLE_DEPT_HEAD)
#define BATCH_MAX 20000

/* A fresh UID for a software or phone credential: 7 random bytes, NXP-style 0x04 first
 * for cards, 0x50 for phone credentials, so the two never collide. */
static int random_uid(bool phone, char out[YKT_UID_HEX_MAX])
{
    uint8_t raw[7];
    if (ykt_random_bytes(raw, sizeof raw) != YKT_OK)
        return YKT_EIO;
    raw[0] = phone ? 0x50 : 0x04;
    ykt_hex_encode(raw, sizeof raw, out);
    ykt_uid_normalize(out, out);
    return YKT_OK;
}

static int counter_account(ykt_req *req, const ykt_args *a, int64_t *id)
{
    const char *counter = ykt_args_get(a, "counter");
    return ykt_ledger_account(req->gw->db, YKT_ACC_CASH, counter ? counter : "main", id);
}

/* The deposit a holder has paid is kept in their own deposit account, so that exactly what
 * was taken is refunded, once (R-C8). *held is 0 when there is none. */
static int deposit_held(ykt_db *db, int64_t person_id, bool create, int64_t *account, int64_t *held)
{
    char owner[24];
    snprintf(owner, sizeof owner, "%lld", (long long)person_id);
    *account = 0;
    *held = 0;
    int rc = create ? ykt_ledger_account(db, YKT_ACC_DEPOSIT, owner, account)
                    : ykt_store_account_find(db, YKT_ACC_DEPOSIT, owner, account);
    if (rc == YKT_ENOTFOUND)
        return YKT_OK;
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(db, *account, held);
    return rc;
}

/* ---- issuance ---- */

typedef struct issue_item {
    ykt_person person;
    bool new_passwords;
    char query_pw[YKT_CARDPW_LEN + 1], pay_pw[YKT_CARDPW_LEN + 1];
    char query_hash[YKT_HASH_MAX], pay_hash[YKT_HASH_MAX];
    int hashed;
    /* results */
    char card_no[YKT_CARD_NO_LEN];
    char uid[YKT_UID_HEX_MAX];
    int64_t fee;
    int64_t deposit;     /* taken in cash with this card; 0 when none is due or one is held */
    const char *skipped; /* batch: why this person got no card */
} issue_item;

typedef struct issue_job {
    bool batch;
    int n;
    issue_item *items;
    uint32_t iterations;
    bool phone;
    bool temporary;
    char until[YKT_DATE_LEN];
    char subsystems[128];
    char merchants[256];
    char uid[YKT_UID_HEX_MAX]; /* given by the card printer; "" = generate */
    bool pay_cash;
    char counter[64];
    char approval[128];
} issue_job;

static void issue_job_free(issue_job *job)
{
    if (job->items != NULL)
        ykt_wipe(job->items, (size_t)job->n * sizeof *job->items);
    free(job->items);
    free(job);
}

static void issue_work(void *data)
{
    issue_job *job = data;
    for (int i = 0; i < job->n; i++) {
        issue_item *it = &job->items[i];
        if (!it->new_passwords)
            continue;
        it->hashed =
            ykt_password_hash(it->query_pw, job->iterations, it->query_hash, sizeof it->query_hash);
        if (it->hashed == YKT_OK)
            it->hashed =
                ykt_password_hash(it->pay_pw, job->iterations, it->pay_hash, sizeof it->pay_hash);
    }
}

/* Finds both approvals a staff or temporary card needs (R-C1). */
static int find_approvals(ykt_db *db, int64_t person_id, int64_t ids[2], char refs[2][101])
{
    static const char *const kinds[2] = {"unit_leader", "functional_dept"};
    for (int k = 0; k < 2; k++) {
        int rc = ykt_store_approval_unused(db, person_id, kinds[k], &ids[k], refs[k], 101);
        if (rc != YKT_OK)
            return rc;
    }
    return YKT_OK;
}

/* The card.issue audit row. Its approval column names every approval the issuance relied
 * on — the operator's --approval and both recorded approvals — so an auditor sees them all. */
static int audit_issue(ykt_req *req, const issue_job *job, const char *card_no,
                       const char *person_no, char refs[2][101], const char *detail)
{
    char all[sizeof job->approval + 2 * 102] = "";
    const char *parts[3] = {job->approval, refs[0], refs[1]};
    for (int i = 0; i < 3; i++) {
        if (parts[i][0] == '\0')
            continue;
        size_t used = strlen(all);
        snprintf(all + used, sizeof all - used, "%s%s", used ? "," : "", parts[i]);
    }
    ykt_args approval = {0};
    approval.nopt = 1;
    approval.opt[0].name = "approval";
    approval.opt[0].value = all;
    return ykt_audit(req, &approval, "card.issue", card_no, "person=%s %s", person_no, detail);
}

/*
 * Issues one credential inside the request's savepoint. Returns YKT_OK, or a refusal code
 * with *code and *why set for the reply (single issue) or the skip note (batch).
 */
static int issue_one(ykt_req *req, issue_job *job, issue_item *it, const char **code,
                     const char **why)
{
    ykt_db *db = req->gw->db;
    ykt_person *p = &it->person;
    const char *medium = job->phone ? "phone" : "card";
    char today[YKT_DATE_LEN];
    ykt_today(today);
    ykt_card existing;
    int rc = ykt_store_card_live(db, p->id, medium, &existing);
    if (rc == YKT_OK) {
        *code = "ALREADY_HAS_CARD";
        *why = "already holds a live credential of this kind (one person, one card)";
        return YKT_EEXIST;
    }
    if (rc != YKT_ENOTFOUND)
        return rc;
    /* Staff and temporary cards need both recorded approvals; students are issued in
     * batch by their department at enrolment (R-C1). */
    int64_t approval_ids[2] = {0, 0};
    char approval_refs[2][101] = {"", ""};
    bool needs_approval = !job->phone && (strcmp(p->kind, "student") != 0 || job->temporary);
    if (needs_approval) {
        rc = find_approvals(db, p->id, approval_ids, approval_refs);
        if (rc == YKT_ENOTFOUND) {
            *code = "APPROVAL_REQUIRED";
            *why = "needs recorded approvals of the unit leader and the functional department "
                   "(approval add)";
            return YKT_EPERM;
        }
        if (rc != YKT_OK)
            return rc;
    }
    /* A phone credential is a second medium of a holder who has a card (R-C11). */
    if (job->phone) {
        rc = ykt_store_card_live(db, p->id, "card", &existing);
        if (rc == YKT_ENOTFOUND) {
            *code = "BAD_STATE";
            *why = "a phone credential is bound to an existing card account; issue the card first";
            return YKT_ESTATE;
        }
        if (rc != YKT_OK)
            return rc;
    }
    /* The first physical card is free; a later new card costs the card fee (工本费). */
    int64_t issued_before = 0;
    rc = ykt_store_card_count_for_person(db, p->id, &issued_before);
    if (rc != YKT_OK)
        return rc;
    it->fee = (!job->phone && issued_before > 0) ? req->gw->cfg.replacement_fee : 0;
    int64_t wallet, fee_account, cash, balance = 0;
    rc = ykt_ledger_wallet(db, p->id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_account(db, YKT_ACC_FEE_INCOME, "", &fee_account);
    if (rc == YKT_OK)
        rc = ykt_ledger_account(db, YKT_ACC_CASH, job->counter, &cash);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(db, wallet, &balance);
    if (rc != YKT_OK)
        return rc;
    /* Refuse before anything is written: in a batch the other rows' writes are kept. */
    if (it->fee > 0 && !job->pay_cash && balance < it->fee) {
        *code = "INSUFFICIENT_FUNDS";
        *why = "the balance does not cover the card fee; take it in cash (--pay cash)";
        return YKT_ELIMIT;
    }
    int64_t seq;
    rc = ykt_store_meta_next(db, "card_seq", &seq);
    if (rc != YKT_OK)
        return rc;
    ykt_card c;
    memset(&c, 0, sizeof c);
    ykt_card_number(seq, c.card_no);
    ykt_strlcpy(c.medium, medium, sizeof c.medium);
    ykt_strlcpy(c.type, job->temporary ? "temporary" : "regular", sizeof c.type);
    ykt_strlcpy(c.status, "active", sizeof c.status);
    ykt_strlcpy(c.valid_until, job->temporary ? job->until : p->valid_until, sizeof c.valid_until);
    ykt_strlcpy(c.subsystems, job->subsystems, sizeof c.subsystems);
    ykt_strlcpy(c.merchants, job->merchants, sizeof c.merchants);
    c.person_id = p->id;
    c.issued_at = c.status_at = ykt_now_ms();
    ykt_strlcpy(c.issued_by, ykt_admin_actor(req), sizeof c.issued_by);
    c.fee = it->fee;
    /* A new card is on nobody's blacklist: it is published only when its state changes. */
    c.list_version = 0;
    for (int attempt = 0; rc == YKT_OK && attempt < 3; attempt++) {
        if (job->uid[0] != '\0')
            ykt_strlcpy(c.uid, job->uid, sizeof c.uid);
        else if ((rc = random_uid(job->phone, c.uid)) != YKT_OK)
            break;
        rc = ykt_store_card_insert(db, &c);
        if (rc != YKT_EEXIST || job->uid[0] != '\0')
            break;
    }
    if (rc == YKT_EEXIST) {
        *code = "EXISTS";
        *why = "a card with this uid exists";
        return rc;
    }
    if (rc == YKT_OK && it->fee > 0) {
        ykt_transfer t = {.from = job->pay_cash ? cash : wallet,
                          .to = fee_account,
                          .amount = it->fee,
                          .kind = "card_fee",
                          .card_no = c.card_no,
                          .operator_name = ykt_admin_actor(req),
                          .memo = "new card after the first"};
        rc = ykt_ledger_transfer(db, &t, NULL);
        if (rc == YKT_ELIMIT) {
            *code = "INSUFFICIENT_FUNDS";
            *why = "the balance does not cover the card fee; take it in cash (--pay cash)";
            return rc;
        }
    }
    if (rc == YKT_OK && !job->phone && req->gw->cfg.deposit > 0) {
        int64_t deposits, held;
        rc = deposit_held(db, p->id, true, &deposits, &held);
        ykt_transfer t = {.from = cash,
                          .to = deposits,
                          .amount = req->gw->cfg.deposit,
                          .kind = "deposit",
                          .card_no = c.card_no,
                          .operator_name = ykt_admin_actor(req),
                          .memo = "card deposit taken in cash"};
        if (rc == YKT_OK && held == 0) {
            rc = ykt_ledger_transfer(db, &t, NULL);
            it->deposit = t.amount;
        }
    }
    if (rc == YKT_OK && it->new_passwords) {
        rc = it->hashed;
        if (rc == YKT_OK)
            rc = ykt_store_password_set(db, p->id, "query", it->query_hash, 1, ykt_now_ms());
        if (rc == YKT_OK)
            rc = ykt_store_password_set(db, p->id, "pay", it->pay_hash, 1, ykt_now_ms());
    }
    for (int k = 0; rc == YKT_OK && needs_approval && k < 2; k++)
        rc = ykt_store_approval_use(db, approval_ids[k], c.card_no);
    if (rc == YKT_OK) {
        char detail[512];
        snprintf(detail, sizeof detail,
                 "%s %s credential, valid until %s, fee %lld, deposit %lld%s%s%s%s", c.type,
                 c.medium, c.valid_until, (long long)it->fee, (long long)it->deposit,
                 needs_approval ? ", approvals " : "", approval_refs[0],
                 needs_approval ? " + " : "", approval_refs[1]);
        rc = ykt_card_event(db, c.card_no, "issued", ykt_admin_actor(req), false, detail);
        if (rc == YKT_OK)
            rc = audit_issue(req, job, c.card_no, p->person_no, approval_refs, detail);
    }
    if (rc == YKT_OK) {
        ykt_strlcpy(it->card_no, c.card_no, sizeof it->card_no);
        ykt_strlcpy(it->uid, c.uid, sizeof it->uid);
    }
    return rc;
}

static void issue_done(ykt_req *req, void *data)
{
    issue_job *job = data;
    if (req->abandoned)
        goto out;
    if (!job->batch) {
        issue_item *it = &job->items[0];
        const char *code = NULL, *why = NULL;
        int rc = issue_one(req, job, it, &code, &why);
        if (code != NULL) {
            ykt_reply_error(req, code, "%s %s", it->person.person_no, why);
            goto out;
        }
        if (rc != YKT_OK) {
            ykt_reply_internal(req, rc);
            goto out;
        }
        static const char *const cols[] = {"card_no",
                                           "uid",
                                           "person_no",
                                           "medium",
                                           "type",
                                           "fee",
                                           "deposit",
                                           "initial_query_password",
                                           "initial_pay_password",
                                           "note"};
        ykt_table *t = ykt_table_new("RECORD", (int)YKT_ARRAY_LEN(cols), cols);
        char fee[32], deposit[32];
        ykt_format_fen(it->fee, fee, sizeof fee);
        ykt_format_fen(it->deposit, deposit, sizeof deposit);
        ykt_table_row(t);
        ykt_table_str(t, it->card_no);
        ykt_table_str(t, it->uid);
        ykt_table_str(t, it->person.person_no);
        ykt_table_str(t, job->phone ? "phone" : "card");
        ykt_table_str(t, job->temporary ? "temporary" : "regular");
        ykt_table_str(t, fee);
        ykt_table_str(t, deposit);
        ykt_table_str(t, it->new_passwords ? it->query_pw : "(unchanged)");
        ykt_table_str(t, it->new_passwords ? it->pay_pw : "(unchanged)");
        ykt_table_str(t, it->new_passwords ? "initial passwords shown once; the holder should "
                                             "change them"
                                           : "the holder's passwords are unchanged");
        ykt_table_send(req, t);
        goto out;
    }
    static const char *const cols[] = {
        "person_no", "name",   "card_no", "uid", "initial_query_password", "initial_pay_password",
        "deposit",   "result", "reason"};
    ykt_table *t = ykt_table_new("TABLE", (int)YKT_ARRAY_LEN(cols), cols);
    int issued = 0;
    for (int i = 0; i < job->n; i++) {
        issue_item *it = &job->items[i];
        const char *code = NULL, *why = NULL;
        int rc = issue_one(req, job, it, &code, &why);
        if (code == NULL && rc != YKT_OK) {
            /* A storage failure: nothing of the batch is kept. */
            ykt_table_free(t);
            ykt_reply_internal(req, rc);
            goto out;
        }
        ykt_table_row(t);
        ykt_table_str(t, it->person.person_no);
        ykt_table_str(t, it->person.name);
        ykt_table_str(t, code ? NULL : it->card_no);
        ykt_table_str(t, code ? NULL : it->uid);
        ykt_table_str(t, code || !it->new_passwords ? NULL : it->query_pw);
        ykt_table_str(t, code || !it->new_passwords ? NULL : it->pay_pw);
        char deposit[32];
        ykt_format_fen(it->deposit, deposit, sizeof deposit);
        ykt_table_str(t, code ? NULL : deposit);
        ykt_table_str(t, code ? code : "issued");
        ykt_table_str(t, code ? why : NULL); /* what the operator does about it, too */
        issued += code == NULL;
    }
    ykt_info("admin: %s issued %d of %d cards in batch", ykt_admin_actor(req), issued, job->n);
    ykt_table_send(req, t);
out:
    issue_job_free(job);
}

static issue_job *issue_job_new(ykt_req *req, const ykt_args *a, int n)
{
    issue_job *job = calloc(1, sizeof *job);
    if (job != NULL)
        job->items = calloc((size_t)(n ? n : 1), sizeof *job->items);
    if (job == NULL || job->items == NULL) {
        free(job);
        return NULL;
    }
    job->iterations = (uint32_t)req->gw->cfg.password_iterations;
    const char *counter = ykt_args_get(a, "counter");
    ykt_strlcpy(job->counter, counter ? counter : "main", sizeof job->counter);
    const char *approval = ykt_args_get(a, "approval");
    ykt_strlcpy(job->approval, approval ? approval : "", sizeof job->approval);
    return job;
}

/* New initial passwords for a holder who has none yet; false after replying. */
static bool prepare_passwords(ykt_req *req, issue_item *it)
{
    ykt_password_row row;
    int rc = ykt_store_password_get(req->gw->db, it->person.id, "query", &row);
    if (rc == YKT_OK)
        return true;
    if (rc != YKT_ENOTFOUND) {
        ykt_reply_internal(req, rc);
        return false;
    }
    it->new_passwords = true;
    if (ykt_cardpw_initial(it->query_pw) != YKT_OK || ykt_cardpw_initial(it->pay_pw) != YKT_OK) {
        ykt_reply_internal(req, YKT_EIO);
        return false;
    }
    return true;
}

static bool person_can_hold_card(ykt_req *req, const ykt_person *p, bool reply)
{
    char today[YKT_DATE_LEN];
    ykt_today(today);
    const char *why = NULL;
    if (!ykt_person_active(p))
        why = "is not active";
    else if (strcmp(p->valid_until, today) < 0)
        why = "is past their validity (extend it first)";
    if (why != NULL && reply)
        ykt_reply_error(req, "BAD_STATE", "%s %s", p->person_no, why);
    return why == NULL;
}

/* True when the comma list `list` holds the name of len bytes at name. */
static bool list_has(const char *list, const char *name, size_t len)
{
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, len) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static void list_add(char *list, size_t size, const char *name)
{
    size_t used = strlen(list);
    if (name[0] != '\0' && !list_has(list, name, strlen(name)))
        snprintf(list + used, size - used, "%s%s", used ? "," : "", name);
}

/*
 * The names a temporary card's --subsystems may list (R-C2): what is checked where the card
 * is used. Payments (PAY, HOLD and every plugin's payment) check the merchant's category;
 * plugins check their own name (library, rooms) or their `subsystem` option (access: doors,
 * `gate` unless configured otherwise, and only while the access plugin is loaded). A name
 * nothing checks would silently allow nothing.
 */
static void allowed_subsystems(const ykt_config *cfg, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; ykt_merchant_categories[i] != NULL; i++)
        list_add(out, size, ykt_merchant_categories[i]);
    for (int i = 0; i < cfg->nplugins; i++) {
        const ykt_plugin_conf *pc = &cfg->plugins[i];
        if (!pc->enabled)
            continue;
        list_add(out, size, pc->name);
        bool named = false;
        for (int k = 0; k < pc->nopts; k++) {
            if (strcmp(pc->opts[k].key, "subsystem") == 0) {
                list_add(out, size, pc->opts[k].value);
                named = true;
            }
        }
        /* The access plugin's doors check `gate` when its `subsystem` option is not set
         * (docs/plugins/access.md). */
        if (!named && strcmp(pc->name, "access") == 0)
            list_add(out, size, "gate");
    }
}

/* Refuses a --subsystems list with an empty or unknown name; false after replying. */
static bool check_subsystems(ykt_req *req, const char *list)
{
    char allowed[2048];
    allowed_subsystems(&req->gw->cfg, allowed, sizeof allowed);
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n == 0 || !list_has(allowed, p, n)) {
            ykt_reply_error(req, "BAD_REQUEST",
                            "--subsystems: unknown subsystem '%.*s'; the names are %s", (int)n, p,
                            allowed);
            return false;
        }
        p += n;
        if (*p == ',' && *++p == '\0') {
            ykt_reply_error(req, "BAD_REQUEST", "--subsystems: empty name at the end");
            return false;
        }
    }
    return true;
}

static void cmd_issue(ykt_req *req, const ykt_args *a)
{
    const char *medium = ykt_args_get(a, "medium");
    const char *type = ykt_args_get(a, "type");
    const char *until = ykt_args_get(a, "until");
    const char *uid = ykt_args_get(a, "uid");
    const char *pay = ykt_args_get(a, "pay");
    const char *subsystems, *merchants;
    if (!ykt_admin_text(req, a, "subsystems", 127, &subsystems) ||
        !ykt_admin_text(req, a, "merchants", 255, &merchants))
        return;
    if (medium && strcmp(medium, "card") && strcmp(medium, "phone")) {
        ykt_reply_error(req, "BAD_REQUEST", "--medium is card or phone");
        return;
    }
    if (type && strcmp(type, "regular") && strcmp(type, "temporary")) {
        ykt_reply_error(req, "BAD_REQUEST", "--type is regular or temporary");
        return;
    }
    if (pay && strcmp(pay, "wallet") && strcmp(pay, "cash")) {
        ykt_reply_error(req, "BAD_REQUEST", "--pay is wallet or cash");
        return;
    }
    bool temporary = type && strcmp(type, "temporary") == 0;
    bool phone = medium && strcmp(medium, "phone") == 0;
    if (temporary && phone) {
        ykt_reply_error(req, "BAD_REQUEST", "a temporary card is a physical card");
        return;
    }
    if (!temporary && (until || subsystems || merchants)) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "--until, --subsystems and --merchants are for --type temporary");
        return;
    }
    if (subsystems != NULL && !check_subsystems(req, subsystems))
        return;
    char uid_norm[YKT_UID_HEX_MAX] = "";
    if (uid && !ykt_uid_normalize(uid, uid_norm)) {
        ykt_reply_error(req, "BAD_REQUEST", "--uid must be 4 to 10 bytes in hex");
        return;
    }
    ykt_person p;
    if (!ykt_admin_person(req, a->pos[0], &p) || !person_can_hold_card(req, &p, true))
        return;
    char today[YKT_DATE_LEN];
    ykt_today(today);
    if (temporary && (until == NULL || !ykt_date_valid(until) || strcmp(until, today) < 0 ||
                      strcmp(until, p.valid_until) > 0)) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "a temporary card needs --until DATE from today to the person's "
                        "validity (%s)",
                        p.valid_until);
        return;
    }
    issue_job *job = issue_job_new(req, a, 1);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    job->n = 1;
    job->phone = phone;
    job->temporary = temporary;
    job->pay_cash = pay && strcmp(pay, "cash") == 0;
    ykt_strlcpy(job->until, until ? until : "", sizeof job->until);
    ykt_strlcpy(job->subsystems, subsystems ? subsystems : "", sizeof job->subsystems);
    ykt_strlcpy(job->merchants, merchants ? merchants : "", sizeof job->merchants);
    ykt_strlcpy(job->uid, uid_norm, sizeof job->uid);
    job->items[0].person = p;
    if (!prepare_passwords(req, &job->items[0])) {
        issue_job_free(job);
        return;
    }
    ykt_req_defer(req, issue_work, issue_done, job);
}

typedef struct batch_collect {
    ykt_req *req;
    issue_job *job;
    int cap;
} batch_collect;

static int batch_candidate(const ykt_person *p, void *arg)
{
    batch_collect *bc = arg;
    if (!person_can_hold_card(bc->req, p, false))
        return YKT_OK;
    ykt_card live;
    int rc = ykt_store_card_live(bc->req->gw->db, p->id, "card", &live);
    if (rc == YKT_OK)
        return YKT_OK; /* already has a card */
    if (rc != YKT_ENOTFOUND)
        return rc;
    if (bc->job->n == BATCH_MAX)
        return YKT_ELIMIT;
    if (bc->job->n == bc->cap) {
        int cap = bc->cap * 2;
        issue_item *grown = realloc(bc->job->items, (size_t)cap * sizeof *grown);
        if (grown == NULL)
            return YKT_ENOMEM;
        memset(grown + bc->cap, 0, (size_t)(cap - bc->cap) * sizeof *grown);
        bc->job->items = grown;
        bc->cap = cap;
    }
    issue_item *it = &bc->job->items[bc->job->n++];
    it->person = *p;
    return YKT_OK;
}

static void cmd_batch_issue(ykt_req *req, const ykt_args *a)
{
    const char *dept = ykt_args_get(a, "department");
    const char *kind = ykt_args_get(a, "kind");
    if (kind == NULL)
        kind = "student";
    if (strcmp(kind, "student") && strcmp(kind, "staff") && strcmp(kind, "temporary")) {
        ykt_reply_error(req, "BAD_REQUEST", "--kind is student, staff or temporary");
        return;
    }
    issue_job *job = issue_job_new(req, a, 64);
    if (job == NULL) {
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    job->batch = true;
    batch_collect bc = {.req = req, .job = job, .cap = 64};
    int rc =
        ykt_store_person_each(req->gw->db, dept, kind, "active", 10000000, batch_candidate, &bc);
    if (rc == YKT_ENOMEM) {
        ykt_reply_internal(req, rc);
        issue_job_free(job);
        return;
    }
    if (rc == YKT_ELIMIT) {
        ykt_reply_error(req, "LIMIT_EXCEEDED", "more than %d people; issue by class or kind",
                        BATCH_MAX);
        issue_job_free(job);
        return;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        issue_job_free(job);
        return;
    }
    for (int i = 0; i < job->n; i++) {
        if (!prepare_passwords(req, &job->items[i])) {
            issue_job_free(job);
            return;
        }
    }
    ykt_info("admin: %s batch-issuing cards to %d %s of %s", ykt_admin_actor(req), job->n, kind,
             dept);
    ykt_req_defer(req, issue_work, issue_done, job);
}

/* ---- show, list, history ---- */

static void card_record(ykt_req *req, const ykt_card *c, const ykt_person *p)
{
    char today[YKT_DATE_LEN], balance_text[32];
    ykt_today(today);
    int64_t wallet, balance = 0;
    int rc = ykt_ledger_wallet(req->gw->db, p->id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(req->gw->db, wallet, &balance);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_format_fen(balance, balance_text, sizeof balance_text);
    static const char *const cols[] = {
        "card_no",   "uid",           "person_no",   "name",        "medium",     "type",
        "status",    "status_reason", "valid_until", "expired",     "subsystems", "merchants",
        "issued_at", "issued_by",     "replaces",    "replaced_by", "last_atc",   "balance"};
    ykt_table *t = ykt_table_new("RECORD", (int)YKT_ARRAY_LEN(cols), cols);
    ykt_table_row(t);
    ykt_table_str(t, c->card_no);
    ykt_table_str(t, c->uid);
    ykt_table_str(t, p->person_no);
    ykt_table_str(t, p->name);
    ykt_table_str(t, c->medium);
    ykt_table_str(t, c->type);
    ykt_table_str(t, c->status);
    ykt_table_str(t, c->status_reason[0] ? c->status_reason : NULL);
    ykt_table_str(t, c->valid_until);
    ykt_table_str(t, strcmp(c->valid_until, today) < 0 ? "yes" : "no");
    ykt_table_str(t, c->subsystems[0] ? c->subsystems : "all");
    ykt_table_str(t, c->merchants[0] ? c->merchants : "all");
    ykt_table_time(t, c->issued_at);
    ykt_table_str(t, c->issued_by);
    ykt_table_str(t, c->replaces[0] ? c->replaces : NULL);
    ykt_table_str(t, c->replaced_by[0] ? c->replaced_by : NULL);
    ykt_table_int(t, c->atc);
    ykt_table_str(t, balance_text);
    ykt_table_send(req, t);
}

/* Loads card and holder and checks the caller may see them. */
static bool load_card(ykt_req *req, const char *card_no, ykt_card *c, ykt_person *p)
{
    if (!ykt_admin_card(req, card_no, c))
        return false;
    int rc = ykt_store_person_by_id(req->gw->db, c->person_id, p);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return ykt_admin_may_see(req, p);
}

/* A cancelled card is over for good (R-C6, R-C8): a counter step named by its number must not
 * reach its holder through it. Replies CARD_CANCELLED and returns true when c is cancelled. */
static bool refuse_cancelled(ykt_req *req, const ykt_card *c)
{
    if (strcmp(c->status, "cancelled") != 0)
        return false;
    ykt_reply_error(req, "CARD_CANCELLED", "card %s is cancelled%s%s", c->card_no,
                    c->replaced_by[0] ? " and replaced by " : "", c->replaced_by);
    return true;
}

static void cmd_show(ykt_req *req, const ykt_args *a)
{
    ykt_card c;
    ykt_person p;
    if (load_card(req, a->pos[0], &c, &p))
        card_record(req, &c, &p);
}

static int card_row(const ykt_card *c, void *arg)
{
    ykt_table *t = arg;
    ykt_table_row(t);
    ykt_table_str(t, c->card_no);
    ykt_table_str(t, c->uid);
    ykt_table_str(t, c->medium);
    ykt_table_str(t, c->type);
    ykt_table_str(t, c->status);
    ykt_table_str(t, c->valid_until);
    ykt_table_time(t, c->issued_at);
    ykt_table_str(t, c->replaced_by[0] ? c->replaced_by : NULL);
    return YKT_OK;
}

static void cmd_list(ykt_req *req, const ykt_args *a)
{
    const char *person_no = ykt_args_get(a, "person");
    const char *status = ykt_args_get(a, "status");
    int64_t limit = 100;
    if (!ykt_args_int(req, a, "limit", 1, 100000, &limit))
        return;
    int64_t person_id = 0;
    ykt_person p;
    if (person_no != NULL) {
        if (!ykt_admin_person(req, person_no, &p) || !ykt_admin_may_see(req, &p))
            return;
        person_id = p.id;
    } else if (req->session->role == YKT_ROLE_DEPT_ADMIN ||
               req->session->role == YKT_ROLE_DEPT_HEAD) {
        ykt_reply_error(req, "FORBIDDEN", "department roles list one person's cards (--person)");
        return;
    }
    static const char *const cols[] = {"card_no", "uid",         "medium",    "type",
                                       "status",  "valid_until", "issued_at", "replaced_by"};
    ykt_table *t = ykt_table_new("TABLE", (int)YKT_ARRAY_LEN(cols), cols);
    int rc =
        ykt_store_card_each(req->gw->db, person_id, status ? status : "", (int)limit, card_row, t);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

static int event_row(const ykt_card_event_row *e, void *arg)
{
    ykt_table *t = arg;
    ykt_table_row(t);
    ykt_table_time(t, e->at);
    ykt_table_str(t, e->event);
    ykt_table_str(t, e->actor);
    ykt_table_str(t, e->id_checked ? "yes" : "no");
    ykt_table_str(t, e->detail);
    return YKT_OK;
}

static void cmd_history(ykt_req *req, const ykt_args *a)
{
    ykt_card c;
    ykt_person p;
    int64_t limit = 100;
    if (!ykt_args_int(req, a, "limit", 1, 10000, &limit) || !load_card(req, a->pos[0], &c, &p))
        return;
    static const char *const cols[] = {"at", "event", "actor", "id_checked", "detail"};
    ykt_table *t = ykt_table_new("TABLE", 5, cols);
    int rc = ykt_store_card_events(req->gw->db, c.card_no, (int)limit, event_row, t);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

/* ---- lifecycle ---- */

/* Ends a request that changed a card: audit row, then +OK. */
static void finish(ykt_req *req, const ykt_args *a, int rc, const char *action, const ykt_card *c,
                   const char *detail)
{
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, action, c->card_no, "%s", detail);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_info("admin: %s: %s %s (%s)", ykt_admin_actor(req), action, c->card_no, detail);
    ykt_reply_ok(req);
}

/* Loss report at the counter (R-C4): only the holder in person, with their own ID. */
static void cmd_loss(ykt_req *req, const ykt_args *a)
{
    ykt_card c;
    ykt_person p;
    if (!load_card(req, a->pos[0], &c, &p) || !ykt_admin_id_check(req, a, &p))
        return;
    if (strcmp(c.status, "active") != 0) {
        ykt_reply_error(req, "BAD_STATE", "card %s is %s", c.card_no, c.status);
        return;
    }
    int rc = ykt_card_set_status(req->gw->db, &c, "lost", "reported lost at the counter",
                                 ykt_admin_actor(req), true, "holder's ID checked");
    finish(req, a, rc, "card.loss", &c, "reported lost at the counter, holder's ID checked");
}

/* Unlock (R-C5): at the counter only — no terminal verb exists for it — with the ID. */
static void cmd_unlock(ykt_req *req, const ykt_args *a)
{
    ykt_card c;
    ykt_person p;
    if (!load_card(req, a->pos[0], &c, &p) || !ykt_admin_id_check(req, a, &p))
        return;
    if (strcmp(c.status, "lost") != 0 && strcmp(c.status, "frozen") != 0) {
        ykt_reply_error(req, "BAD_STATE", "card %s is %s; only a lost or frozen card unlocks",
                        c.card_no, c.status);
        return;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "%s -> active, holder's ID checked", c.status);
    int rc = ykt_card_set_status(req->gw->db, &c, "active", "unlocked at the counter",
                                 ykt_admin_actor(req), true, detail);
    finish(req, a, rc, "card.unlock", &c, detail);
}

/* Replacement (R-C6, R-C7): a new number and uid; the old card is cancelled for good; the
 * account — balance, passwords and everything linked to the person — carries over. */
static void cmd_replace(ykt_req *req, const ykt_args *a)
{
    ykt_card old;
    ykt_person p;
    const char *defect, *uid = ykt_args_get(a, "uid"), *pay = ykt_args_get(a, "pay");
    if (!ykt_admin_text(req, a, "defect", 200, &defect) || !load_card(req, a->pos[0], &old, &p) ||
        !ykt_admin_id_check(req, a, &p))
        return;
    if (pay && strcmp(pay, "wallet") && strcmp(pay, "cash")) {
        ykt_reply_error(req, "BAD_REQUEST", "--pay is wallet or cash");
        return;
    }
    if (refuse_cancelled(req, &old))
        return;
    char uid_norm[YKT_UID_HEX_MAX] = "";
    if (uid && !ykt_uid_normalize(uid, uid_norm)) {
        ykt_reply_error(req, "BAD_REQUEST", "--uid must be 4 to 10 bytes in hex");
        return;
    }
    ykt_db *db = req->gw->db;
    ykt_card fresh = old;
    int64_t seq, wallet, fee_account, cash;
    int64_t fee = defect ? 0 : req->gw->cfg.replacement_fee;
    int rc = ykt_store_meta_next(db, "card_seq", &seq);
    if (rc == YKT_OK)
        rc = ykt_ledger_wallet(db, p.id, &wallet);
    if (rc == YKT_OK)
        rc = ykt_ledger_account(db, YKT_ACC_FEE_INCOME, "", &fee_account);
    if (rc == YKT_OK)
        rc = counter_account(req, a, &cash);
    ykt_card_number(seq, fresh.card_no);
    char why[200];
    snprintf(why, sizeof why, "replaced by %s%s%s", fresh.card_no,
             defect ? "; card-quality defect: " : "", defect ? defect : "");
    /* The old card goes first: the one-live-card rule holds at every step. */
    if (rc == YKT_OK)
        rc = ykt_card_set_status(db, &old, "cancelled", why, ykt_admin_actor(req), true, why);
    if (rc == YKT_OK) {
        ykt_strlcpy(fresh.status, "active", sizeof fresh.status);
        fresh.status_reason[0] = '\0';
        fresh.atc = 0;
        fresh.fee = fee;
        fresh.issued_at = fresh.status_at = ykt_now_ms();
        ykt_strlcpy(fresh.issued_by, ykt_admin_actor(req), sizeof fresh.issued_by);
        ykt_strlcpy(fresh.replaces, old.card_no, sizeof fresh.replaces);
        fresh.replaced_by[0] = '\0';
        fresh.list_version = 0;
        for (int attempt = 0; rc == YKT_OK && attempt < 3; attempt++) {
            if (uid_norm[0])
                ykt_strlcpy(fresh.uid, uid_norm, sizeof fresh.uid);
            else if ((rc = random_uid(strcmp(old.medium, "phone") == 0, fresh.uid)) != YKT_OK)
                break;
            rc = ykt_store_card_insert(db, &fresh);
            if (rc != YKT_EEXIST || uid_norm[0])
                break;
        }
        if (rc == YKT_EEXIST) {
            ykt_reply_error(req, "EXISTS", "a card with uid %s exists", fresh.uid);
            return;
        }
    }
    if (rc == YKT_OK)
        rc = ykt_store_card_set_replaced_by(db, old.card_no, fresh.card_no);
    if (rc == YKT_OK)
        ykt_events_card_replaced_later(db, old.card_no, fresh.card_no, old.person_id);
    if (rc == YKT_OK && fee > 0) {
        bool cash_fee = pay && strcmp(pay, "cash") == 0;
        ykt_transfer t = {.from = cash_fee ? cash : wallet,
                          .to = fee_account,
                          .amount = fee,
                          .kind = "replace_fee",
                          .card_no = fresh.card_no,
                          .operator_name = ykt_admin_actor(req),
                          .memo = "replacement card fee"};
        rc = ykt_ledger_transfer(db, &t, NULL);
        if (rc == YKT_ELIMIT) {
            ykt_reply_error(req, "INSUFFICIENT_FUNDS",
                            "the balance does not cover the %lld fen fee; take it in cash "
                            "(--pay cash)",
                            (long long)fee);
            return;
        }
    }
    char detail[256];
    snprintf(detail, sizeof detail, "replaces %s; fee %lld%s%s", old.card_no, (long long)fee,
             defect ? "; defect: " : "", defect ? defect : "");
    if (rc == YKT_OK)
        rc = ykt_card_event(db, fresh.card_no, "issued", ykt_admin_actor(req), true, detail);
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "card.replace", old.card_no, "new card %s; %s", fresh.card_no,
                       detail);
    int64_t balance = 0;
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(db, wallet, &balance);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    char fee_text[32], balance_text[32];
    ykt_format_fen(fee, fee_text, sizeof fee_text);
    ykt_format_fen(balance, balance_text, sizeof balance_text);
    static const char *const cols[] = {"card_no", "uid", "replaces", "fee", "balance", "note"};
    ykt_table *t = ykt_table_new("RECORD", 6, cols);
    ykt_table_row(t);
    ykt_table_str(t, fresh.card_no);
    ykt_table_str(t, fresh.uid);
    ykt_table_str(t, old.card_no);
    ykt_table_str(t, fee_text);
    ykt_table_str(t, balance_text);
    ykt_table_str(t, "the old card is cancelled for good; balance and passwords carried over");
    ykt_table_send(req, t);
}

/* What a cancellation paid out in cash, in fen. */
typedef struct refund {
    int64_t balance, deposit;
} refund;

/* Moves everything left in the wallet and any deposit out in cash at the counter. */
static int refund_in_cash(ykt_req *req, const ykt_args *a, const ykt_person *p, const char *card_no,
                          bool with_deposit, refund *refunded)
{
    ykt_db *db = req->gw->db;
    int64_t wallet, cash, balance;
    int rc = ykt_ledger_wallet(db, p->id, &wallet);
    if (rc == YKT_OK)
        rc = counter_account(req, a, &cash);
    if (rc == YKT_OK)
        rc = ykt_ledger_balance(db, wallet, &balance);
    *refunded = (refund){0, 0};
    if (rc == YKT_OK && balance > 0) {
        ykt_transfer t = {.from = wallet,
                          .to = cash,
                          .amount = balance,
                          .kind = "refund_cash",
                          .card_no = card_no,
                          .operator_name = ykt_admin_actor(req),
                          .memo = "balance refunded in cash"};
        rc = ykt_ledger_transfer(db, &t, NULL);
        refunded->balance = balance;
    }
    if (rc == YKT_OK && with_deposit) {
        int64_t deposits, held;
        rc = deposit_held(db, p->id, false, &deposits, &held);
        ykt_transfer t = {.from = deposits,
                          .to = cash,
                          .amount = held,
                          .kind = "deposit_refund",
                          .card_no = card_no,
                          .operator_name = ykt_admin_actor(req),
                          .memo = "deposit refunded in cash"};
        if (rc == YKT_OK && held > 0) {
            rc = ykt_ledger_transfer(db, &t, NULL);
            refunded->deposit = held;
        }
    }
    return rc;
}

/* The cash handed over, and what it is: the balance and the deposit (R-C8). */
static void cancel_reply(ykt_req *req, const char *card_no, const refund *r)
{
    char total[32], balance[32], deposit[32];
    ykt_format_fen(r->balance + r->deposit, total, sizeof total);
    ykt_format_fen(r->balance, balance, sizeof balance);
    ykt_format_fen(r->deposit, deposit, sizeof deposit);
    static const char *const cols[] = {"card_no", "status", "refunded_cash", "refunded_balance",
                                       "refunded_deposit"};
    ykt_table *t = ykt_table_new("RECORD", (int)YKT_ARRAY_LEN(cols), cols);
    ykt_table_row(t);
    ykt_table_str(t, card_no);
    ykt_table_str(t, "cancelled");
    ykt_table_str(t, total);
    ykt_table_str(t, balance);
    ykt_table_str(t, deposit);
    ykt_table_send(req, t);
}

/* Cancellation with refund (R-C8): the card is returned; balance and deposit are paid out
 * when it is the holder's last credential. */
static void cmd_cancel(ykt_req *req, const ykt_args *a)
{
    static const char *const reasons[] = {"graduation", "leaving", "death", "other"};
    const char *reason = ykt_args_get(a, "reason");
    bool known = false;
    for (size_t i = 0; i < YKT_ARRAY_LEN(reasons); i++)
        known |= strcmp(reason, reasons[i]) == 0;
    if (!known) {
        ykt_reply_error(req, "BAD_REQUEST", "--reason is graduation, leaving, death or other");
        return;
    }
    ykt_card c;
    ykt_person p;
    if (!load_card(req, a->pos[0], &c, &p) || !ykt_admin_id_check(req, a, &p))
        return;
    if (strcmp(c.status, "cancelled") == 0) {
        ykt_reply_error(req, "CARD_CANCELLED", "card %s is already cancelled", c.card_no);
        return;
    }
    ykt_db *db = req->gw->db;
    char why[64];
    snprintf(why, sizeof why, "cancelled at the counter: %s", reason);
    int rc = ykt_card_set_status(db, &c, "cancelled", why, ykt_admin_actor(req), true, why);
    ykt_card other;
    bool last = true;
    if (rc == YKT_OK) {
        int orc =
            ykt_store_card_live(db, p.id, strcmp(c.medium, "card") ? "card" : "phone", &other);
        last = orc == YKT_ENOTFOUND;
        if (orc != YKT_OK && orc != YKT_ENOTFOUND)
            rc = orc;
    }
    refund refunded = {0, 0};
    if (rc == YKT_OK && last)
        rc = refund_in_cash(req, a, &p, c.card_no, strcmp(c.medium, "card") == 0, &refunded);
    char detail[192];
    snprintf(detail, sizeof detail, "%s; refunded %lld fen in cash (balance %lld, deposit %lld)%s",
             why, (long long)(refunded.balance + refunded.deposit), (long long)refunded.balance,
             (long long)refunded.deposit, last ? "" : " (another credential stays live)");
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, "card.cancel", c.card_no, "%s", detail);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    cancel_reply(req, c.card_no, &refunded);
}

/* Confiscation (R-C9): a card lent, sold or transferred is cancelled; the holder may still
 * claim the balance within the refund window. */
static void cmd_confiscate(ykt_req *req, const ykt_args *a)
{
    ykt_card c;
    ykt_person p;
    const char *reason;
    if (!ykt_admin_text(req, a, "reason", 200, &reason) || !load_card(req, a->pos[0], &c, &p))
        return;
    if (strcmp(c.status, "cancelled") == 0) {
        ykt_reply_error(req, "CARD_CANCELLED", "card %s is already cancelled", c.card_no);
        return;
    }
    char why[240];
    snprintf(why, sizeof why, "confiscated: %s", reason);
    int rc =
        ykt_card_set_status(req->gw->db, &c, "cancelled", why, ykt_admin_actor(req), false, why);
    finish(req, a, rc, "card.confiscate", &c, why);
}

/* A found card handed in (R-C9) is held: frozen until its holder collects it (unlock). */
static void cmd_found(ykt_req *req, const ykt_args *a)
{
    ykt_card c;
    ykt_person p;
    const char *by;
    if (!ykt_admin_text(req, a, "by", 100, &by) || !load_card(req, a->pos[0], &c, &p))
        return;
    char detail[160];
    snprintf(detail, sizeof detail, "found card handed in by %s", by);
    int rc;
    if (strcmp(c.status, "active") == 0)
        rc = ykt_card_set_status(req->gw->db, &c, "frozen", "held at the card centre",
                                 ykt_admin_actor(req), false, detail);
    else
        rc = ykt_card_event(req->gw->db, c.card_no, "found", ykt_admin_actor(req), false, detail);
    finish(req, a, rc, "card.found", &c, detail);
}

/* ---- passwords reset at the counter (R-C10) ---- */

typedef struct reset_job {
    ykt_cardpw_job pw;
    char card_no[YKT_CARD_NO_LEN];
    char approval[128];
} reset_job;

static void reset_work(void *data)
{
    ykt_cardpw_work(data);
}

static void reset_done(ykt_req *req, void *data)
{
    reset_job *job = data;
    if (req->abandoned)
        goto out;
    int rc = job->pw.hashed;
    if (rc == YKT_OK)
        rc = ykt_store_password_set(req->gw->db, job->pw.person_id, job->pw.which,
                                    job->pw.fresh_hash, 1, ykt_now_ms());
    if (rc == YKT_OK)
        rc = ykt_card_event(req->gw->db, job->card_no, "password_reset", ykt_admin_actor(req), true,
                            job->pw.which);
    if (rc == YKT_OK) {
        ykt_args approval = {0};
        approval.nopt = job->approval[0] ? 1 : 0;
        approval.opt[0].name = "approval";
        approval.opt[0].value = job->approval;
        rc = ykt_audit(req, &approval, "card.reset-password", job->card_no,
                       "%s password reset, holder's ID checked", job->pw.which);
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        goto out;
    }
    static const char *const cols[] = {"card_no", "password", "initial_password", "note"};
    ykt_table *t = ykt_table_new("RECORD", 4, cols);
    ykt_table_row(t);
    ykt_table_str(t, job->card_no);
    ykt_table_str(t, job->pw.which);
    ykt_table_str(t, job->pw.fresh);
    ykt_table_str(t, "shown once; the holder should change it");
    ykt_table_send(req, t);
out:
    ykt_cardpw_job_wipe(&job->pw);
    free(job);
}

static void cmd_reset_password(ykt_req *req, const ykt_args *a)
{
    const char *which = ykt_args_get(a, "which");
    if (strcmp(which, "query") != 0 && strcmp(which, "pay") != 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--which is query or pay");
        return;
    }
    ykt_card c;
    ykt_person p;
    if (!load_card(req, a->pos[0], &c, &p) || refuse_cancelled(req, &c) ||
        !ykt_admin_id_check(req, a, &p))
        return;
    reset_job *job = calloc(1, sizeof *job);
    if (job == NULL || ykt_cardpw_initial(job->pw.fresh) != YKT_OK) {
        free(job);
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    job->pw.person_id = p.id;
    ykt_strlcpy(job->pw.which, which, sizeof job->pw.which);
    job->pw.iterations = (uint32_t)req->gw->cfg.password_iterations;
    ykt_strlcpy(job->card_no, c.card_no, sizeof job->card_no);
    const char *approval = ykt_args_get(a, "approval");
    ykt_strlcpy(job->approval, approval ? approval : "", sizeof job->approval);
    ykt_req_defer(req, reset_work, reset_done, job);
}

/* ---- validity extension (R-C3) ---- */

/* The person's live physical card when it is a temporary one (its own end date is what an
 * extension moves); *found false otherwise. False after replying. */
static bool live_temporary(ykt_req *req, const ykt_person *p, ykt_card *tmp, bool *found)
{
    int rc = ykt_store_card_live(req->gw->db, p->id, "card", tmp);
    *found = rc == YKT_OK && strcmp(tmp->type, "temporary") == 0;
    if (rc != YKT_OK && rc != YKT_ENOTFOUND) {
        ykt_reply_internal(req, rc);
        return false;
    }
    return true;
}

/* The person's validity moves to `until` (it is later): regular cards follow. */
static int extend_person(ykt_db *db, ykt_person *p, const char *until, const char *actor)
{
    ykt_strlcpy(p->valid_until, until, sizeof p->valid_until);
    ykt_strlcpy(p->validity_source, "extension", sizeof p->validity_source);
    p->updated_at = ykt_now_ms();
    int rc = ykt_store_person_update(db, p);
    if (rc == YKT_OK)
        rc = ykt_card_set_validity(db, p->id, until, actor);
    return rc;
}

/*
 * card extend CARD|NO --until DATE --proof DOC. The date must be after the current one: the
 * person's validity, or a temporary card's own end date. The person's validity moves when the
 * new date is later than it; a live temporary card gets the new date too — the proof covers
 * the card the holder carries (R-C2, R-C3).
 */
static void cmd_extend(ykt_req *req, const ykt_args *a)
{
    const char *until = ykt_args_get(a, "until");
    const char *proof;
    if (!ykt_admin_text(req, a, "proof", 100, &proof))
        return;
    ykt_card c, tmp;
    ykt_person p;
    bool temporary;
    /* Accepts a card number (not a cancelled one) or a person number. */
    if (ykt_card_number_valid(a->pos[0])) {
        if (!load_card(req, a->pos[0], &c, &p) || refuse_cancelled(req, &c))
            return;
    } else if (!ykt_admin_person(req, a->pos[0], &p)) {
        return;
    }
    if (!live_temporary(req, &p, &tmp, &temporary))
        return;
    const char *current = temporary ? tmp.valid_until : p.valid_until;
    if (!ykt_date_valid(until) || strcmp(until, current) <= 0) {
        ykt_reply_error(req, "BAD_REQUEST", "--until must be a date after the current %s %s",
                        temporary ? "end of temporary card" : "validity", current);
        return;
    }
    if (proof[0] == '\0') {
        ykt_reply_error(req, "BAD_REQUEST", "--proof names the registry's document");
        return;
    }
    char before[YKT_DATE_LEN], card_before[YKT_DATE_LEN];
    ykt_strlcpy(before, p.valid_until, sizeof before);
    ykt_strlcpy(card_before, temporary ? tmp.valid_until : "", sizeof card_before);
    ykt_db *db = req->gw->db;
    bool person_moves = strcmp(until, p.valid_until) > 0;
    int rc = person_moves ? extend_person(db, &p, until, ykt_admin_actor(req)) : YKT_OK;
    if (rc == YKT_OK && temporary)
        rc = ykt_card_set_end(db, &tmp, until);
    char card_part[80] = "";
    if (temporary)
        snprintf(card_part, sizeof card_part, "; temporary card %s until %s -> %s", tmp.card_no,
                 card_before, until);
    if (rc == YKT_OK && temporary)
        rc =
            ykt_card_event(db, tmp.card_no, "extended", ykt_admin_actor(req), false, card_part + 2);
    ykt_args approval = *a;
    if (ykt_args_get(a, "approval") == NULL && approval.nopt < YKT_ADMIN_MAX_OPTS) {
        approval.opt[approval.nopt].name = "approval";
        approval.opt[approval.nopt].value = proof;
        approval.nopt++;
    }
    char person_part[64];
    if (person_moves)
        snprintf(person_part, sizeof person_part, "validity %s -> %s", before, until);
    else
        snprintf(person_part, sizeof person_part, "validity stays %s", before);
    if (rc == YKT_OK)
        rc = ykt_audit(req, &approval, "card.extend", p.person_no, "%s%s, proof %s", person_part,
                       card_part, proof);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

static const ykt_admin_cmd cmds[] = {
    {"card", "issue", cmd_issue, OPERATORS, true, 1, 1,
     "medium= type= until= subsystems= merchants= uid= pay= counter=",
     "card issue NO [--medium card|phone] [--type regular|temporary --until DATE "
     "[--subsystems LIST] [--merchants LIST]] [--uid HEX] [--pay wallet|cash] [--counter C]",
     "Issue a card (staff/temporary: needs both approvals; the first card is free)."},
    {"card", "batch-issue", cmd_batch_issue, OPERATORS, true, 0, 0,
     "department=! kind=", "card batch-issue --department D [--kind student|staff|temporary]",
     "Issue cards to everyone of a department who has none (new students at enrolment)."},
    {"card", "show", cmd_show, READERS, false, 1, 1, "", "card show CARD",
     "Show a card with its holder, status, validity and balance."},
    {"card", "list", cmd_list, READERS | YKT_ROLE_PORTAL, false, 0, 0,
     "person= status= limit=", "card list [--person NO] [--status S] [--limit N]", "List cards."},
    {"card", "history", cmd_history, READERS, false, 1, 1,
     "limit=", "card history CARD [--limit N]",
     "Everything that happened to a card, including refused uses after a loss report."},
    {"card", "extend", cmd_extend, OPERATORS, true, 1, 1, "until=! proof=!",
     "card extend CARD|NO --until DATE --proof DOC",
     "Extend validity on the registry's proof (postponed graduation)."},
    {"card", "loss", cmd_loss, OPERATORS, true, 1, 1, "id-number=", "card loss CARD --id-number ID",
     "Report a card lost at the counter; the holder's own ID is required."},
    {"card", "unlock", cmd_unlock, OPERATORS, true, 1, 1, "id-number=",
     "card unlock CARD --id-number ID", "Unlock a lost or frozen card, in person with ID."},
    {"card", "replace", cmd_replace, OPERATORS, true, 1, 1, "id-number= defect= uid= pay= counter=",
     "card replace CARD --id-number ID [--defect TEXT] [--uid HEX] [--pay wallet|cash]",
     "Replace a lost or damaged card; the fee is waived for a recorded card-quality defect."},
    {"card", "cancel", cmd_cancel, OPERATORS, true, 1, 1, "id-number= reason=! counter=",
     "card cancel CARD --id-number ID --reason graduation|leaving|death|other [--counter C]",
     "Cancel a returned card and refund balance and deposit in cash."},
    {"card", "confiscate", cmd_confiscate, OPERATORS, true, 1, 1, "reason=!",
     "card confiscate CARD --reason TEXT", "Cancel a card that was lent, sold or transferred."},
    {"card", "found", cmd_found, OPERATORS, true, 1, 1, "by=!", "card found CARD --by TEXT",
     "Record a found card handed in; an active one is held (frozen)."},
    {"card", "reset-password", cmd_reset_password, OPERATORS, true, 1, 1,
     "which=! id-number=", "card reset-password CARD --which query|pay --id-number ID",
     "Reset a forgotten password at the counter, with card and ID; prints it once."},
};

int ykt_admin_card_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
