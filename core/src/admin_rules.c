/*
 * rules list|reload|test and plugin list: what the departments' Lua rules and the loaded
 * plugins are, and a way for an administrator to try a rule before deploying it.
 */
#include "admin_cmds.h"
#include "common.h"
#include "plugin.h"
#include "rules.h"
#include "json.h"
#include "util.h"

#include <stdlib.h>

#include <stdio.h>
#include <string.h>

/* Rule sources sent by `yktctl rules test FILE` are the file's bytes. */
#define MAX_TEST_SOURCE YKT_RULES_MAX_SOURCE

static void limits_of(const ykt_gw *gw, ykt_rules_limits *lim)
{
    lim->instructions = (uint64_t)gw->cfg.rule_instructions;
    lim->memory_bytes = (size_t)gw->cfg.rule_memory;
    lim->time_ms = (uint64_t)gw->cfg.rule_time_ms;
}

static void rule_row(const ykt_rule_info *info, void *arg)
{
    ykt_table *tab = arg;
    ykt_table_row(tab);
    ykt_table_str(tab, info->name);
    ykt_table_str(tab, info->path);
    ykt_table_str(tab, info->loaded ? "yes" : "no");
    ykt_table_str(tab, info->sha[0] ? info->sha : NULL);
    ykt_table_time(tab, info->loaded_at_ms);
    ykt_table_str(tab, info->last);
    ykt_table_time(tab, info->last_at_ms);
    ykt_table_int(tab, (int64_t)info->calls);
    ykt_table_int(tab, (int64_t)info->failures);
    ykt_table_int(tab, (int64_t)info->memory_bytes);
}

static void cmd_rules_list(ykt_req *req, const ykt_args *a)
{
    (void)a;
    static const char *const cols[] = {"script", "file",    "loaded", "sha",      "loaded_at",
                                       "last",   "last_at", "calls",  "failures", "memory"};
    ykt_table *tab = ykt_table_new("TABLE", (int)YKT_ARRAY_LEN(cols), cols);
    if (req->gw->rules != NULL)
        ykt_rules_each(req->gw->rules, rule_row, tab);
    ykt_table_send(req, tab);
}

typedef struct find_rule {
    const char *name;
    bool found;
    bool loaded;
    char sha[16];
} find_rule;

static void find_one(const ykt_rule_info *info, void *arg)
{
    find_rule *f = arg;
    if (strcmp(info->name, f->name) == 0) {
        f->found = true;
        f->loaded = info->loaded;
        ykt_strlcpy(f->sha, info->sha, sizeof f->sha);
    }
}

static void cmd_rules_reload(ykt_req *req, const ykt_args *a)
{
    const char *name = a->pos[0];
    if (!ykt_is_ident(name, 63) || strchr(name, '.') != NULL) {
        ykt_reply_error(req, "BAD_REQUEST",
                        "a script is named by its file name without .lua "
                        "(letters, digits, '_' and '-')");
        return;
    }
    if (req->gw->rules == NULL) {
        ykt_reply_error(req, "NOT_FOUND", "no rule scripts are loaded");
        return;
    }
    char err[512];
    int rc = ykt_rules_reload(req->gw->rules, name, err, sizeof err);
    if (rc == YKT_ENOTFOUND) {
        ykt_reply_error(req, "NOT_FOUND", "no rule script %.64s.lua in %.200s", name,
                        req->gw->cfg.rules_dir);
        return;
    }
    if (rc != YKT_OK) {
        /* The running version stays; say so, so nobody thinks the rule is off. */
        ykt_reply_error(req, "RULE_REJECTED", "%s; the running version stays", err);
        return;
    }
    find_rule f = {.name = name};
    ykt_rules_each(req->gw->rules, find_one, &f);
    if (ykt_audit(req, a, "rules.reload", name, "sha %s", f.sha) != YKT_OK) {
        ykt_reply_internal(req, YKT_ESTORAGE);
        return;
    }
    static const char *const cols[] = {"script", "loaded", "sha"};
    ykt_table *tab = ykt_table_new("RECORD", 3, cols);
    ykt_table_row(tab);
    ykt_table_str(tab, name);
    ykt_table_str(tab, f.loaded ? "yes" : "no");
    ykt_table_str(tab, f.sha);
    ykt_table_send(req, tab);
}

/* A rule under test runs in a fresh sandbox on the thread pool: whatever it does within its
 * limits, the loop keeps serving terminals meanwhile. */
typedef struct rule_test_job {
    ykt_rules_limits lim;
    char name[64];
    char function[64];
    char *source;
    size_t len;
    char *input; /* NULL: {} */
    ykt_buf out;
    int rc;
    char err[512];
} rule_test_job;

static void rule_test_work(void *data)
{
    rule_test_job *job = data;
    job->rc = ykt_rules_test(&job->lim, job->name, job->source, job->len, job->function, job->input,
                             &job->out, job->err, sizeof job->err);
}

static void rule_test_done(ykt_req *req, void *data)
{
    rule_test_job *job = data;
    if (!req->abandoned) {
        if (job->rc == YKT_OK)
            ykt_reply_bulkn(req, job->out.data, job->out.len);
        else
            ykt_reply_error(req, "RULE_ERROR", "%s", job->err);
    }
    ykt_buf_free(&job->out);
    free(job->source);
    free(job->input);
    free(job);
}

/* --input must be one JSON object; say what is wrong before any rule runs. */
static bool input_is_object(const char *input, char *why, size_t whylen)
{
    ykt_json *v = NULL;
    if (ykt_json_parse(input, strlen(input), &v, why, whylen) != YKT_OK)
        return false;
    bool ok = v->type == YKT_JSON_OBJECT;
    if (!ok)
        snprintf(why, whylen, "must be a JSON object such as {\"amount\": 1250}");
    ykt_json_free(v);
    return ok;
}

static void cmd_rules_test(ykt_req *req, const ykt_args *a)
{
    const char *source = a->pos[0];
    size_t len = strlen(source);
    for (int i = 0; i < req->argc; i++) /* the file's real length: it may hold a NUL */
        if (req->argv[i] == source)
            len = req->argl[i];
    if (len > MAX_TEST_SOURCE) {
        ykt_reply_error(req, "LIMIT_EXCEEDED", "a rule script is at most %u bytes",
                        (unsigned)MAX_TEST_SOURCE);
        return;
    }
    const char *fn = ykt_args_get(a, "function");
    if (!ykt_is_ident(fn, 63) || strchr(fn, '.') != NULL || strchr(fn, '-') != NULL) {
        ykt_reply_error(req, "BAD_REQUEST", "--function names a global function of the script");
        return;
    }
    const char *input = ykt_args_get(a, "input");
    char why[160];
    if (input != NULL && !input_is_object(input, why, sizeof why)) {
        ykt_reply_error(req, "BAD_REQUEST", "--input: %s", why);
        return;
    }
    rule_test_job *job = calloc(1, sizeof *job);
    if (job == NULL || (job->source = malloc(len + 1)) == NULL ||
        (input != NULL && (job->input = strdup(input)) == NULL)) {
        if (job != NULL)
            free(job->source);
        free(job);
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    memcpy(job->source, source, len);
    job->source[len] = '\0';
    job->len = len;
    limits_of(req->gw, &job->lim);
    const char *name = ykt_args_get(a, "name");
    ykt_strlcpy(job->name, name ? name : "test.lua", sizeof job->name);
    ykt_strlcpy(job->function, fn, sizeof job->function);
    ykt_buf_init(&job->out);
    ykt_req_defer(req, rule_test_work, rule_test_done, job);
}

static void plugin_row(const char *name, const char *prefix, const char *path, int api, void *arg)
{
    ykt_table *tab = arg;
    ykt_table_row(tab);
    ykt_table_str(tab, name);
    ykt_table_str(tab, prefix);
    ykt_table_str(tab, path);
    ykt_table_int(tab, api);
}

static void cmd_plugin_list(ykt_req *req, const ykt_args *a)
{
    (void)a;
    static const char *const cols[] = {"plugin", "verb_prefix", "file", "api_version"};
    ykt_table *tab = ykt_table_new("TABLE", 4, cols);
    ykt_plugins_each(plugin_row, tab);
    ykt_table_send(req, tab);
}

#define RULE_ADMINS (YKT_ROLE_SUPERUSER | YKT_ROLE_DEPT_ADMIN)

static const ykt_admin_cmd cmds[] = {
    {"rules", "list", cmd_rules_list, YKT_ROLE_ANY, false, 0, 0, "", "rules list",
     "The rule scripts: loaded version, last (re)load and why it was refused, calls, memory."},
    {"rules", "reload", cmd_rules_reload, RULE_ADMINS, true, 1, 1, "", "rules reload SCRIPT",
     "Reload scripts/SCRIPT.lua now; a version that fails to load or its self-test is refused "
     "and the running one stays."},
    {"rules", "test", cmd_rules_test, RULE_ADMINS, false, 1, 1,
     "function=! input= name=", "rules test FILE --function FN [--input JSON]",
     "Load FILE in a fresh sandbox, run its self-test and call FN with the JSON object; "
     "prints the result as JSON. Nothing running changes."},
    {"plugin", "list", cmd_plugin_list, YKT_ROLE_ANY, false, 0, 0, "", "plugin list",
     "The loaded plugins, their verb prefix, file and plugin API version."},
};

int ykt_admin_rules_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
