#include "admin.h"
#include "admin_cmds.h"
#include "common.h"
#include "log.h"
#include "store/store.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TABLES 256

struct ykt_admin {
    const ykt_admin_cmd *tables[MAX_TABLES];
    int sizes[MAX_TABLES];
    bool owned[MAX_TABLES]; /* allocated by ykt_admin_register_one */
    int ntables;
};

ykt_admin *ykt_admin_new(void)
{
    return calloc(1, sizeof(ykt_admin));
}

void ykt_admin_free(ykt_admin *adm)
{
    if (adm == NULL)
        return;
    for (int t = 0; t < adm->ntables; t++)
        if (adm->owned[t])
            free((void *)adm->tables[t]);
    free(adm);
}

int ykt_admin_register(ykt_admin *adm, const ykt_admin_cmd *cmds, int n)
{
    if (adm->ntables == MAX_TABLES)
        return YKT_ELIMIT;
    adm->tables[adm->ntables] = cmds;
    adm->sizes[adm->ntables] = n;
    adm->ntables++;
    return YKT_OK;
}

int ykt_admin_register_one(ykt_admin *adm, const ykt_admin_cmd *cmd)
{
    for (int t = 0; t < adm->ntables; t++)
        for (int i = 0; i < adm->sizes[t]; i++) {
            const ykt_admin_cmd *c = &adm->tables[t][i];
            if (strcasecmp(c->group, cmd->group) == 0 &&
                ((c->name == NULL && cmd->name == NULL) ||
                 (c->name && cmd->name && strcasecmp(c->name, cmd->name) == 0)))
                return YKT_EEXIST;
        }
    if (adm->ntables == MAX_TABLES)
        return YKT_ELIMIT;
    ykt_admin_cmd *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return YKT_ENOMEM;
    *copy = *cmd;
    adm->tables[adm->ntables] = copy;
    adm->sizes[adm->ntables] = 1;
    adm->owned[adm->ntables] = true;
    adm->ntables++;
    return YKT_OK;
}

void ykt_admin_unregister_owner(ykt_admin *adm, const void *owner)
{
    int j = 0;
    for (int t = 0; t < adm->ntables; t++) {
        if (adm->owned[t] && owner != NULL && adm->tables[t][0].owner == owner) {
            free((void *)adm->tables[t]);
            continue;
        }
        adm->tables[j] = adm->tables[t];
        adm->sizes[j] = adm->sizes[t];
        adm->owned[j] = adm->owned[t];
        j++;
    }
    adm->ntables = j;
}

const char *ykt_args_get(const ykt_args *a, const char *name)
{
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i].name, name) == 0)
            return a->opt[i].value;
    return NULL;
}

bool ykt_args_int(ykt_req *req, const ykt_args *a, const char *name, int64_t min, int64_t max,
                  int64_t *out)
{
    const char *v = ykt_args_get(a, name);
    if (v == NULL)
        return true;
    if (ykt_parse_int64(v, min, max, out) != YKT_OK) {
        ykt_reply_error(req, "BAD_REQUEST", "--%s must be a whole number from %lld to %lld", name,
                        (long long)min, (long long)max);
        return false;
    }
    return true;
}

/* Looks name up in a spec string; returns 0 unknown, 1 flag, 2 value, 3 required value. */
static int spec_kind(const char *spec, const char *name, size_t nlen)
{
    const char *p = spec;
    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ' && *end != '=')
            end++;
        size_t len = (size_t)(end - p);
        int kind = 1;
        if (*end == '=') {
            kind = end[1] == '!' ? 3 : 2;
            end += kind == 3 ? 2 : 1;
        }
        if (len == nlen && strncmp(p, name, len) == 0)
            return kind;
        p = end;
    }
    return 0;
}

static void command_name(const ykt_admin_cmd *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", c->group, c->name ? " " : "", c->name ? c->name : "");
}

static bool parse_args(ykt_req *req, const ykt_admin_cmd *c, int first, ykt_args *a)
{
    char cname[64];
    command_name(c, cname, sizeof cname);
    memset(a, 0, sizeof *a);
    bool options_done = false;
    for (int i = first; i < req->argc; i++) {
        char *w = req->argv[i];
        if (!options_done && strcmp(w, "--") == 0) {
            options_done = true; /* what follows is positional, whatever it looks like */
            continue;
        }
        if (options_done || strncmp(w, "--", 2) != 0 || w[2] == '\0') {
            if (a->npos == YKT_ADMIN_MAX_POS || a->npos == c->max_pos) {
                ykt_reply_error(req, "BAD_REQUEST", "too many arguments; usage: %s", c->usage);
                return false;
            }
            a->pos[a->npos++] = w;
            continue;
        }
        const char *name = w + 2;
        char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int kind = spec_kind(c->opts, name, nlen);
        if (kind == 0 && c->write && nlen == 8 && strncmp(name, "approval", 8) == 0)
            kind = 2;
        if (kind == 0) {
            ykt_reply_error(req, "BAD_REQUEST", "unknown option --%.*s for '%s'; usage: %s",
                            (int)(nlen > 40 ? 40 : nlen), name, cname, c->usage);
            return false;
        }
        if (a->nopt == YKT_ADMIN_MAX_OPTS) {
            ykt_reply_error(req, "BAD_REQUEST", "too many options");
            return false;
        }
        const char *value = "";
        if (kind >= 2) {
            if (eq != NULL) {
                value = eq + 1;
            } else if (i + 1 < req->argc) {
                value = req->argv[++i];
            } else {
                ykt_reply_error(req, "BAD_REQUEST", "--%s needs a value; usage: %s", name,
                                c->usage);
                return false;
            }
        } else if (eq != NULL) {
            ykt_reply_error(req, "BAD_REQUEST", "--%.*s takes no value", (int)nlen, name);
            return false;
        }
        if (eq != NULL)
            *eq = '\0'; /* the argument is ours to cut: names compare as C strings */
        a->opt[a->nopt].name = name;
        a->opt[a->nopt].value = value;
        a->nopt++;
    }
    if (a->npos < c->min_pos) {
        ykt_reply_error(req, "BAD_REQUEST", "missing arguments; usage: %s", c->usage);
        return false;
    }
    /* Required options. */
    const char *p = c->opts;
    while (p && *p) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        if (end - p > 2 && end[-1] == '!' && end[-2] == '=') {
            char opt[48];
            size_t len = (size_t)(end - p - 2);
            if (len < sizeof opt) {
                memcpy(opt, p, len);
                opt[len] = '\0';
                if (ykt_args_get(a, opt) == NULL) {
                    ykt_reply_error(req, "BAD_REQUEST", "--%s is required; usage: %s", opt,
                                    c->usage);
                    return false;
                }
            }
        }
        p = end;
    }
    return true;
}

static const ykt_admin_cmd *find_cmd(ykt_admin *adm, int argc, char **argv, int *consumed)
{
    const ykt_admin_cmd *one_word = NULL;
    for (int t = 0; t < adm->ntables; t++) {
        for (int i = 0; i < adm->sizes[t]; i++) {
            const ykt_admin_cmd *c = &adm->tables[t][i];
            if (strcasecmp(c->group, argv[0]) != 0)
                continue;
            if (c->name == NULL) {
                one_word = c;
            } else if (argc > 1 && strcasecmp(c->name, argv[1]) == 0) {
                *consumed = 2;
                return c;
            }
        }
    }
    *consumed = 1;
    return one_word;
}

static bool group_exists(ykt_admin *adm, const char *group)
{
    for (int t = 0; t < adm->ntables; t++)
        for (int i = 0; i < adm->sizes[t]; i++)
            if (strcasecmp(adm->tables[t][i].group, group) == 0)
                return true;
    return false;
}

/* The subcommands of a group, "add, list, show", in the order they were registered. */
static void group_subcommands(ykt_admin *adm, const char *group, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int t = 0; t < adm->ntables; t++)
        for (int i = 0; i < adm->sizes[t]; i++) {
            const ykt_admin_cmd *c = &adm->tables[t][i];
            if (c->name == NULL || strcasecmp(c->group, group) != 0)
                continue;
            int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", c->name);
            if (n < 0 || (size_t)n >= len - used) {
                buf[used] = '\0'; /* whole names only */
                return;
            }
            used += (size_t)n;
        }
}

/* No command matched: say what the caller can type instead. */
static void reply_unknown(ykt_req *req)
{
    ykt_admin *adm = req->gw->admin;
    char word[40];
    ykt_strlcpy(word, req->argv[0], sizeof word);
    if (!group_exists(adm, req->argv[0])) {
        ykt_reply_error(req, "BAD_REQUEST", "unknown command '%s'; try: help", word);
        return;
    }
    if (req->argc > 1) {
        ykt_reply_error(req, "BAD_REQUEST", "unknown command '%s %.30s'; try: help %s", word,
                        req->argv[1], word);
        return;
    }
    char names[400];
    group_subcommands(adm, req->argv[0], names, sizeof names);
    ykt_reply_error(req, "BAD_REQUEST", "'%s' needs a subcommand: %s", word, names);
}

static void roles_text(unsigned roles, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    for (unsigned bit = 1; bit <= YKT_ROLE_LAST; bit <<= 1) {
        if (!(roles & bit) && bit != YKT_ROLE_SUPERUSER)
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", ykt_role_name(bit));
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

static int audit_append(ykt_db *db, const char *operator_name, const char *role, const char *action,
                        const char *target, const char *approval, const char *fmt, va_list ap)
{
    char detail[512];
    vsnprintf(detail, sizeof detail, fmt, ap);
    ykt_audit_row row = {
        .at = ykt_now_ms(),
        .operator_name = operator_name,
        .role = role,
        .action = action,
        .target = target ? target : "",
        .detail = detail,
        .approval = approval ? approval : "",
    };
    return ykt_store_audit_append(db, &row);
}

int ykt_audit(ykt_req *req, const ykt_args *a, const char *action, const char *target,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc =
        audit_append(req->gw->db, req->session->operator_name, ykt_role_name(req->session->role),
                     action, target, a ? ykt_args_get(a, "approval") : NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int ykt_audit_write(ykt_db *db, const char *operator_name, const char *role, const char *action,
                    const char *target, const char *approval, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = audit_append(db, operator_name, role, action, target, approval, fmt, ap);
    va_end(ap);
    return rc;
}

static bool args_are_text(ykt_req *req)
{
    /* The bytes of a file (`person import DATA`, `rules test DATA`, a plugin's `library
     * import DATA` or `bank reconcile DATA`, as yktctl sends them,
     * after "--") are checked by the command, which says what is wrong: a UTF-16 file, a NUL
     * byte on line N. */
    size_t n = req->argc >= 2 ? strlen(req->argv[1]) : 0;
    bool data_cmd =
        req->argc >= 3 &&
        (strcasecmp(req->argv[1], "import") == 0 ||
         (n > 7 && strcasecmp(req->argv[1] + n - 7, "-import") == 0) ||
         strcasecmp(req->argv[1], "reconcile") == 0 ||
         (strcasecmp(req->argv[0], "rules") == 0 && strcasecmp(req->argv[1], "test") == 0));
    bool after_dashes = false;
    for (int i = 0; i < req->argc; i++) {
        if (data_cmd && (i == 2 || after_dashes))
            continue;
        if (strlen(req->argv[i]) != req->argl[i]) {
            ykt_reply_error(req, "BAD_REQUEST", "argument %d contains a NUL byte", i);
            return false;
        }
        if (ykt_utf8_bad_offset((const unsigned char *)req->argv[i], req->argl[i]) !=
            req->argl[i]) {
            ykt_reply_error(req, "BAD_REQUEST", "argument %d is not UTF-8 text", i);
            return false;
        }
        if (strcmp(req->argv[i], "--") == 0)
            after_dashes = true;
    }
    return true;
}

void ykt_admin_dispatch(ykt_req *req)
{
    ykt_admin *adm = req->gw->admin;
    if (req->argc == 0) {
        ykt_reply_error(req, "BAD_REQUEST", "empty request");
        return;
    }
    if (!args_are_text(req))
        return;
    int consumed;
    const ykt_admin_cmd *c = find_cmd(adm, req->argc, req->argv, &consumed);
    if (c == NULL) {
        reply_unknown(req);
        return;
    }
    ykt_session *s = req->session;
    bool open_cmd = c->roles == 0; /* login, help, ping: no session needed */
    if (!open_cmd) {
        if (!s->authenticated) {
            ykt_reply_error(req, "NOAUTH",
                            "log in first: LOGIN <operator> <password> (yktctl -u NAME)");
            return;
        }
        if (s->must_change_password && strcmp(c->group, "passwd") != 0 &&
            strcmp(c->group, "whoami") != 0) {
            ykt_reply_error(req, "FORBIDDEN",
                            "change your initial password first: yktctl -u %s passwd",
                            s->operator_name);
            return;
        }
        if (!(c->roles & s->role) && s->role != YKT_ROLE_SUPERUSER) {
            char cname[64], allowed[128];
            command_name(c, cname, sizeof cname);
            roles_text(c->roles, allowed, sizeof allowed);
            ykt_warn("admin: %s (%s) was refused '%s'", s->operator_name, ykt_role_name(s->role),
                     cname);
            ykt_reply_error(req, "FORBIDDEN", "'%s' needs role %s; you are %s", cname, allowed,
                            ykt_role_name(s->role));
            return;
        }
    }
    ykt_args a;
    if (!parse_args(req, c, consumed, &a))
        return;
    ykt_db *db = req->gw->db;
    req->write = c->write;
    if (c->write && ykt_db_cmd_begin(db) != YKT_OK) {
        ykt_reply_internal(req, YKT_ESTORAGE);
        return;
    }
    req->args = &a;
    if (c->pfn != NULL)
        c->pfn(req, c->userdata);
    else
        c->fn(req, &a);
    if (req->deferred) {
        if (c->write)
            ykt_db_cmd_end(db, true);
        return;
    }
    if (!req->replied) {
        ykt_error("admin command %s returned without a reply", c->group);
        ykt_reply_internal(req, YKT_ESTATE);
    }
    if (c->write)
        ykt_db_cmd_end(db, !req->failed || req->keep_changes);
}

bool ykt_admin_reparse(ykt_req *req, ykt_args *a)
{
    int consumed;
    const ykt_admin_cmd *c = find_cmd(req->gw->admin, req->argc, req->argv, &consumed);
    if (c == NULL)
        return false;
    /* It parsed before the request waited; the same words parse the same way. */
    if (!parse_args(req, c, consumed, a))
        return false;
    req->args = a;
    return true;
}

/* ---- help, ping, whoami ---- */

static void cmd_help(ykt_req *req, const ykt_args *a)
{
    ykt_admin *adm = req->gw->admin;
    const char *group = a->npos > 0 ? a->pos[0] : NULL;
    static const char *const cols[] = {"command", "roles", "summary"};
    ykt_table *t = ykt_table_new("TABLE", 3, cols);
    for (int ti = 0; ti < adm->ntables; ti++) {
        for (int i = 0; i < adm->sizes[ti]; i++) {
            const ykt_admin_cmd *c = &adm->tables[ti][i];
            if (group != NULL && strcasecmp(c->group, group) != 0)
                continue;
            char allowed[128];
            if (c->roles == 0)
                ykt_strlcpy(allowed, "anyone", sizeof allowed);
            else if ((c->roles & YKT_ROLE_EVERYONE) == YKT_ROLE_EVERYONE)
                ykt_strlcpy(allowed, "everyone signed in", sizeof allowed);
            else if ((c->roles & YKT_ROLE_ANY) == YKT_ROLE_ANY)
                ykt_strlcpy(allowed, "any operator", sizeof allowed);
            else
                roles_text(c->roles, allowed, sizeof allowed);
            ykt_table_row(t);
            ykt_table_str(t, c->usage);
            ykt_table_str(t, allowed);
            ykt_table_str(t, c->summary);
        }
    }
    ykt_table_send(req, t);
}

static void cmd_ping(ykt_req *req, const ykt_args *a)
{
    ykt_reply_status(req, "PONG");
}

static void cmd_whoami(ykt_req *req, const ykt_args *a)
{
    ykt_session *s = req->session;
    static const char *const cols[] = {"operator", "role", "department", "local",
                                       "must_change_password"};
    ykt_table *t = ykt_table_new("RECORD", 5, cols);
    ykt_table_row(t);
    ykt_table_str(t, s->operator_name);
    ykt_table_str(t, ykt_role_name(s->role));
    ykt_table_str(t, s->department);
    ykt_table_str(t, s->local ? "yes" : "no");
    ykt_table_str(t, s->must_change_password ? "yes" : "no");
    ykt_table_send(req, t);
}

static const ykt_admin_cmd session_cmds[] = {
    {"help", NULL, cmd_help, 0, false, 0, 1, "", "help [GROUP]",
     "List commands (of one group), with the roles allowed to run them."},
    {"ping", NULL, cmd_ping, 0, false, 0, 0, "", "ping", "Check that yktd answers."},
    {"whoami", NULL, cmd_whoami, YKT_ROLE_EVERYONE, false, 0, 0, "", "whoami",
     "Show the operator and role of this session."},
};

int ykt_admin_core_register(ykt_admin *adm)
{
    int rc = ykt_admin_register(adm, session_cmds, (int)YKT_ARRAY_LEN(session_cmds));
    if (rc == YKT_OK)
        rc = ykt_admin_operator_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_terminal_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_status_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_person_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_card_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_account_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_import_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_wallet_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_rules_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_backup_register(adm);
    if (rc == YKT_OK)
        rc = ykt_admin_portal_register(adm);
    return rc;
}
