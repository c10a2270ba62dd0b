/*
 * Operator accounts and sessions: login, logout, passwd, operator add|list|disable|enable|
 * reset-password. Password hashing is slow on purpose, so it runs on the thread pool
 * (ykt_req_defer) and the loop keeps serving terminals meanwhile.
 */
#include "admin_cmds.h"
#include "common.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_PASSWORD_LEN 8
#define MAX_PASSWORD_LEN 128

/* Work shared by every deferred password job. */
typedef struct pw_job {
    ykt_operator_row row;
    char password[MAX_PASSWORD_LEN + 1];     /* to verify */
    char new_password[MAX_PASSWORD_LEN + 1]; /* to hash */
    char new_hash[YKT_HASH_MAX];
    int verified; /* 1 match, 0 mismatch, <0 error */
    int hashed;   /* YKT_OK when new_hash is set */
    bool exists;
} pw_job;

static pw_job *job_new(void)
{
    pw_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    return j;
}

static void job_free(pw_job *j)
{
    ykt_wipe(j, sizeof *j);
    free(j);
}

static void job_work(void *data)
{
    pw_job *j = data;
    static const char dummy[] = "pbkdf2-sha256$100000$00000000000000000000000000000000$"
                                "0000000000000000000000000000000000000000000000000000000000000000";
    if (j->password[0] != '\0')
        j->verified = ykt_password_verify(j->password, j->exists ? j->row.password_hash : dummy);
    if (j->new_password[0] != '\0')
        j->hashed = ykt_password_hash(j->new_password, YKT_PASSWORD_ITERATIONS, j->new_hash,
                                      sizeof j->new_hash);
}

static bool password_text_ok(ykt_req *req, const char *pw)
{
    size_t n = strlen(pw);
    if (n < MIN_PASSWORD_LEN || n > MAX_PASSWORD_LEN) {
        ykt_reply_error(req, "BAD_PASSWORD", "a password has %d to %d characters", MIN_PASSWORD_LEN,
                        MAX_PASSWORD_LEN);
        return false;
    }
    return true;
}

/* An initial password an operator can read aloud: no 0/O, 1/l/I. */
static int initial_password(char *out, size_t len)
{
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t raw[14];
    if (len < sizeof raw + 1 || ykt_random_bytes(raw, sizeof raw) != YKT_OK)
        return YKT_EIO;
    for (size_t i = 0; i < sizeof raw; i++)
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
    out[sizeof raw] = '\0';
    ykt_wipe(raw, sizeof raw);
    return YKT_OK;
}

/* ---- login ---- */

static void login_done(ykt_req *req, void *data)
{
    pw_job *j = data;
    if (req->abandoned) {
        job_free(j);
        return;
    }
    ykt_gw *gw = req->gw;
    int64_t now = ykt_now_ms();
    if (!j->exists || j->verified != 1 || strcmp(j->row.status, "active") != 0) {
        if (j->exists && j->verified == 0) {
            int failed = j->row.failed_logins + 1;
            int64_t locked = 0;
            if (failed >= gw->cfg.login_max_failures) {
                locked = now + gw->cfg.login_lock_ms;
                ykt_warn("admin: operator %s locked for %lld s after %d wrong passwords",
                         j->row.name, (long long)(gw->cfg.login_lock_ms / 1000), failed);
                failed = 0;
            }
            if (ykt_store_operator_set_login_state(gw->db, j->row.name, failed, locked) == YKT_OK)
                req->keep_changes = true;
        }
        ykt_warn("admin: login refused for '%s' from %s", j->exists ? j->row.name : "(unknown)",
                 ykt_conn_peer(req->conn));
        if (j->exists && j->verified == 1)
            ykt_reply_error(req, "NOAUTH", "operator %s is disabled", j->row.name);
        else
            ykt_reply_error(req, "NOAUTH", "invalid operator name or password");
        if (ykt_conn_auth_failed(req->conn) >= gw->cfg.login_max_failures)
            ykt_conn_close_after_reply(req->conn);
        job_free(j);
        return;
    }
    if (j->row.failed_logins != 0)
        ykt_store_operator_set_login_state(gw->db, j->row.name, 0, 0);
    ykt_session *s = req->session;
    memset(s, 0, sizeof *s);
    s->authenticated = true;
    ykt_strlcpy(s->operator_name, j->row.name, sizeof s->operator_name);
    s->role = ykt_role_parse(j->row.role);
    ykt_strlcpy(s->department, j->row.department, sizeof s->department);
    s->must_change_password = j->row.must_change_password != 0;
    ykt_info("admin: operator %s (%s) logged in from %s", s->operator_name, j->row.role,
             ykt_conn_peer(req->conn));
    ykt_reply_status(req,
                     s->must_change_password ? "OK change your initial password: passwd" : "OK");
    job_free(j);
}

static void cmd_login(ykt_req *req, const ykt_args *a)
{
    const char *name = a->pos[0];
    const char *password = a->pos[1];
    if (strlen(password) > MAX_PASSWORD_LEN || !ykt_is_ident(name, 63)) {
        ykt_reply_error(req, "NOAUTH", "invalid operator name or password");
        return;
    }
    pw_job *j = job_new();
    int rc = ykt_store_operator_get(req->gw->db, name, &j->row);
    if (rc != YKT_OK && rc != YKT_ENOTFOUND) {
        job_free(j);
        ykt_reply_internal(req, rc);
        return;
    }
    j->exists = rc == YKT_OK;
    if (j->exists && j->row.locked_until > ykt_now_ms()) {
        char until[32];
        ykt_format_time(j->row.locked_until, until, sizeof until);
        ykt_reply_error(req, "LOCKED",
                        "operator %s is locked until %s after repeated wrong passwords",
                        j->row.name, until);
        job_free(j);
        return;
    }
    ykt_strlcpy(j->password, password, sizeof j->password);
    ykt_req_defer(req, job_work, login_done, j);
}

static void cmd_logout(ykt_req *req, const ykt_args *a)
{
    ykt_session *s = req->session;
    if (s->local) {
        ykt_reply_error(req, "BAD_REQUEST", "a local superuser session cannot log out");
        return;
    }
    memset(s, 0, sizeof *s);
    ykt_reply_ok(req);
}

/* ---- passwd ---- */

static void passwd_done(ykt_req *req, void *data)
{
    pw_job *j = data;
    if (req->abandoned) {
        job_free(j);
        return;
    }
    if (j->verified != 1) {
        ykt_reply_error(req, "NOAUTH", "the current password is wrong");
        job_free(j);
        return;
    }
    if (j->hashed != YKT_OK) {
        ykt_reply_internal(req, YKT_EIO);
        job_free(j);
        return;
    }
    int rc = ykt_store_operator_set_password(req->gw->db, j->row.name, j->new_hash, 0);
    if (rc == YKT_OK)
        rc = ykt_audit(req, NULL, "operator.passwd", j->row.name, "changed own password");
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        job_free(j);
        return;
    }
    req->session->must_change_password = false;
    ykt_reply_ok(req);
    job_free(j);
}

static void cmd_passwd(ykt_req *req, const ykt_args *a)
{
    ykt_session *s = req->session;
    if (s->local) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "the local superuser has no password; log in as an operator first");
        return;
    }
    const char *old = a->pos[0], *fresh = a->pos[1];
    if (strlen(old) > MAX_PASSWORD_LEN || !password_text_ok(req, fresh))
        return;
    if (strcmp(old, fresh) == 0) {
        ykt_reply_error(req, "BAD_PASSWORD", "the new password must differ from the old one");
        return;
    }
    pw_job *j = job_new();
    int rc = ykt_store_operator_get(req->gw->db, s->operator_name, &j->row);
    if (rc != YKT_OK) {
        job_free(j);
        ykt_reply_internal(req, rc);
        return;
    }
    j->exists = true;
    ykt_strlcpy(j->password, old, sizeof j->password);
    ykt_strlcpy(j->new_password, fresh, sizeof j->new_password);
    ykt_req_defer(req, job_work, passwd_done, j);
}

/* ---- operator add | reset-password ---- */

typedef struct add_job {
    pw_job pw;
    bool reset;
    char approval[128];
} add_job;

static void add_done(ykt_req *req, void *data)
{
    add_job *j = data;
    if (req->abandoned || j->pw.hashed != YKT_OK) {
        if (!req->abandoned)
            ykt_reply_internal(req, YKT_EIO);
        job_free(&j->pw); /* pw is the first member: frees the whole job */
        return;
    }
    ykt_operator_row *op = &j->pw.row;
    ykt_args approval = {0};
    if (j->approval[0] != '\0') {
        approval.nopt = 1;
        approval.opt[0].name = "approval";
        approval.opt[0].value = j->approval;
    }
    int rc;
    if (j->reset) {
        rc = ykt_store_operator_set_password(req->gw->db, op->name, j->pw.new_hash, 1);
        if (rc == YKT_OK)
            rc = ykt_audit(req, &approval, "operator.reset-password", op->name,
                           "issued a new initial password");
    } else {
        ykt_strlcpy(op->password_hash, j->pw.new_hash, sizeof op->password_hash);
        rc = ykt_store_operator_insert(req->gw->db, op);
        if (rc == YKT_OK)
            rc = ykt_audit(req, &approval, "operator.add", op->name, "role=%s department=%s",
                           op->role, op->department);
        if (rc == YKT_OK)
            ykt_info("admin: %s added operator %s (%s)", req->session->operator_name, op->name,
                     op->role);
    }
    if (rc == YKT_EEXIST) {
        ykt_reply_error(req, "EXISTS", "operator %s already exists", op->name);
    } else if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no operator %s", op->name);
    } else if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
    } else {
        static const char *const cols[] = {"operator", "role", "department", "initial_password",
                                           "note"};
        ykt_table *t = ykt_table_new("RECORD", 5, cols);
        ykt_table_row(t);
        ykt_table_str(t, op->name);
        ykt_table_str(t, op->role);
        ykt_table_str(t, op->department);
        ykt_table_str(t, j->pw.new_password);
        ykt_table_str(t, "shown once; the operator must change it at first login");
        ykt_table_send(req, t);
    }
    job_free(&j->pw);
}

static add_job *add_job_new(const ykt_args *a)
{
    add_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    const char *approval = ykt_args_get(a, "approval");
    if (approval != NULL)
        ykt_strlcpy(j->approval, approval, sizeof j->approval);
    return j;
}

static void cmd_operator_add(ykt_req *req, const ykt_args *a)
{
    const char *name = a->pos[0];
    const char *role = ykt_args_get(a, "role");
    const char *dept = ykt_args_get(a, "department");
    unsigned r = ykt_role_parse(role);
    if (!ykt_is_ident(name, 63)) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "an operator name has 1 to 63 letters, digits, '.', '_' or '-'");
        return;
    }
    if (r == 0) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "unknown role '%.32s' (operator, finance, dept_admin, dept_head, auditor, "
                        "superuser, guardian, portal)",
                        role);
        return;
    }
    if ((r == YKT_ROLE_DEPT_ADMIN || r == YKT_ROLE_DEPT_HEAD) && (dept == NULL || !*dept)) {
        ykt_reply_error(req, "BAD_REQUEST", "role %s needs --department", role);
        return;
    }
    if (dept != NULL && strlen(dept) > 63) {
        ykt_reply_error(req, "BAD_REQUEST", "--department is at most 63 bytes");
        return;
    }
    add_job *j = add_job_new(a);
    ykt_operator_row *op = &j->pw.row;
    ykt_strlcpy(op->name, name, sizeof op->name);
    ykt_strlcpy(op->role, role, sizeof op->role);
    ykt_strlcpy(op->department, dept ? dept : "", sizeof op->department);
    ykt_strlcpy(op->status, "active", sizeof op->status);
    op->must_change_password = 1;
    op->created_at = ykt_now_ms();
    if (initial_password(j->pw.new_password, sizeof j->pw.new_password) != YKT_OK) {
        job_free(&j->pw);
        ykt_reply_internal(req, YKT_EIO);
        return;
    }
    ykt_req_defer(req, job_work, add_done, j);
}

static void cmd_operator_reset(ykt_req *req, const ykt_args *a)
{
    add_job *j = add_job_new(a);
    j->reset = true;
    int rc = ykt_store_operator_get(req->gw->db, a->pos[0], &j->pw.row);
    if (rc != YKT_OK) {
        job_free(&j->pw);
        if (rc == YKT_ENOTFOUND)
            ykt_reply_error(req, "NOT_FOUND", "no operator %.64s", a->pos[0]);
        else
            ykt_reply_internal(req, rc);
        return;
    }
    if (initial_password(j->pw.new_password, sizeof j->pw.new_password) != YKT_OK) {
        job_free(&j->pw);
        ykt_reply_internal(req, YKT_EIO);
        return;
    }
    ykt_req_defer(req, job_work, add_done, j);
}

static void set_operator_status(ykt_req *req, const ykt_args *a, const char *status)
{
    const char *name = a->pos[0];
    if (strcmp(name, req->session->operator_name) == 0) {
        ykt_reply_error(req, "BAD_REQUEST", "you cannot change your own account's status");
        return;
    }
    int rc = ykt_store_operator_set_status(req->gw->db, name, status);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no operator %.64s", name);
        return;
    }
    char action[32];
    snprintf(action, sizeof action, "operator.%s", strcmp(status, "active") ? "disable" : "enable");
    if (rc == YKT_OK)
        rc = ykt_audit(req, a, action, name, "status=%s", status);
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_reply_ok(req);
}

static void cmd_operator_disable(ykt_req *req, const ykt_args *a)
{
    set_operator_status(req, a, "disabled");
}

static void cmd_operator_enable(ykt_req *req, const ykt_args *a)
{
    set_operator_status(req, a, "active");
}

static int list_one(const ykt_operator_row *op, void *arg)
{
    ykt_table *t = arg;
    ykt_table_row(t);
    ykt_table_str(t, op->name);
    ykt_table_str(t, op->role);
    ykt_table_str(t, op->department);
    ykt_table_str(t, op->status);
    ykt_table_str(t, op->must_change_password ? "yes" : "no");
    ykt_table_time(t, op->locked_until > ykt_now_ms() ? op->locked_until : 0);
    ykt_table_time(t, op->created_at);
    return YKT_OK;
}

static void cmd_operator_list(ykt_req *req, const ykt_args *a)
{
    static const char *const cols[] = {"operator",    "role",         "department", "status",
                                       "must_change", "locked_until", "created_at"};
    ykt_table *t = ykt_table_new("TABLE", 7, cols);
    int rc = ykt_store_operator_each(req->gw->db, list_one, t);
    if (rc != YKT_OK) {
        ykt_table_free(t);
        ykt_reply_internal(req, rc);
        return;
    }
    ykt_table_send(req, t);
}

static const ykt_admin_cmd cmds[] = {
    {"login", NULL, cmd_login, 0, true, 2, 2, "", "login NAME PASSWORD",
     "Act as an operator for the rest of this connection (yktctl -u NAME prompts)."},
    {"auth", NULL, cmd_login, 0, true, 2, 2, "", "auth NAME PASSWORD",
     "Same as login (lets redis-cli --user/--pass log in)."},
    {"logout", NULL, cmd_logout, YKT_ROLE_EVERYONE, false, 0, 0, "", "logout",
     "End the operator session of this connection."},
    {"passwd", NULL, cmd_passwd, YKT_ROLE_EVERYONE, true, 2, 2, "", "passwd OLD NEW",
     "Change your own password (yktctl passwd prompts for both)."},
    {"operator", "add", cmd_operator_add, YKT_ROLE_SUPERUSER, true, 1, 1,
     "role=! department=", "operator add NAME --role ROLE [--department DEPT]",
     "Create an operator; prints a one-time initial password."},
    {"operator", "list", cmd_operator_list, YKT_ROLE_SUPERUSER | YKT_ROLE_AUDITOR, false, 0, 0, "",
     "operator list", "List operator accounts."},
    {"operator", "disable", cmd_operator_disable, YKT_ROLE_SUPERUSER, true, 1, 1, "",
     "operator disable NAME", "Stop an operator from logging in."},
    {"operator", "enable", cmd_operator_enable, YKT_ROLE_SUPERUSER, true, 1, 1, "",
     "operator enable NAME", "Allow a disabled operator to log in again."},
    {"operator", "reset-password", cmd_operator_reset, YKT_ROLE_SUPERUSER, true, 1, 1, "",
     "operator reset-password NAME", "Issue a new one-time initial password."},
};

int ykt_admin_operator_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
