/*
 * person import (also `people import`): bulk import from the student office and HR (R-P2).
 * The file's bytes arrive as one argument; parsing and validation run on the thread pool,
 * then the database checks and the upsert run on the loop in one savepoint: every row is
 * taken or none is. A refused import replies a REJECTED table with every bad row.
 */
#include "admin_cmds.h"
#include "admin_util.h"
#include "common.h"
#include "csvimport.h"
#include "log.h"
#include "store/store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPERATORS (YKT_ROLE_OPERATOR | YKT_ROLE_SUPERUSER)

typedef struct import_job {
    /* input (copied: the request's arguments stay valid, but the job owns its copy) */
    char *data;
    size_t len;
    char encoding[16];
    char kind[16];
    ykt_import_opts opts;
    bool dry_run;
    char name[128];
    char approval[128];
    /* output of the thread-pool part */
    int rc;
    char err[256];
    ykt_import imp;
} import_job;

static void import_free(import_job *job)
{
    ykt_import_free(&job->imp);
    free(job->data);
    free(job);
}

static void import_work(void *data)
{
    import_job *job = data;
    job->rc =
        ykt_import_parse(job->data, job->len, &job->opts, &job->imp, job->err, sizeof job->err);
}

/* Sends every problem as a REJECTED table: the request fails and nothing is kept. */
static void reject(ykt_req *req, const ykt_import_error *errors, int n, int found)
{
    static const char *const cols[] = {"line", "field", "reason"};
    ykt_table *t = ykt_table_new("REJECTED", 3, cols);
    for (int i = 0; i < n; i++) {
        ykt_table_row(t);
        ykt_table_int(t, errors[i].line);
        ykt_table_str(t, errors[i].field);
        ykt_table_str(t, errors[i].reason);
    }
    if (found > n) {
        char more[64];
        snprintf(more, sizeof more, "%d more problems not listed", found - n);
        ykt_table_row(t);
        ykt_table_str(t, NULL);
        ykt_table_str(t, "");
        ykt_table_str(t, more);
    }
    ykt_table_send(req, t);
    req->failed = true;
}

typedef struct conflicts {
    ykt_import_error *list;
    int n, cap, found;
} conflicts;

static void conflict(conflicts *c, int line, const char *field, const char *fmt, const char *arg)
{
    c->found++;
    if (c->n == c->cap)
        return;
    ykt_import_error *e = &c->list[c->n++];
    e->line = line;
    ykt_strlcpy(e->field, field, sizeof e->field);
    snprintf(e->reason, sizeof e->reason, fmt, arg);
}

static void import_done(ykt_req *req, void *data)
{
    import_job *job = data;
    if (req->abandoned)
        goto out;
    if (job->rc != YKT_OK) {
        ykt_reply_error(req, job->rc == YKT_ELIMIT ? "LIMIT_EXCEEDED" : "BAD_REQUEST", "%s",
                        job->err);
        goto out;
    }
    ykt_import *imp = &job->imp;
    if (imp->nerrors > 0) {
        reject(req, imp->errors, imp->nerrors, imp->errors_found);
        goto out;
    }
    ykt_db *db = req->gw->db;
    /* Compare with the database: an ID number must not belong to another person. */
    conflicts c = {.cap = 1000};
    c.list = calloc((size_t)c.cap, sizeof *c.list);
    int64_t *existing = calloc((size_t)(imp->nrows ? imp->nrows : 1), sizeof *existing);
    if (c.list == NULL || existing == NULL) {
        free(c.list);
        free(existing);
        ykt_reply_internal(req, YKT_ENOMEM);
        goto out;
    }
    int rc = YKT_OK;
    for (int i = 0; rc == YKT_OK && i < imp->nrows; i++) {
        ykt_person *row = &imp->rows[i];
        ykt_person have;
        rc = ykt_store_person_by_no(db, row->person_no, &have);
        if (rc == YKT_OK)
            existing[i] = have.id;
        else if (rc == YKT_ENOTFOUND)
            rc = YKT_OK;
        if (rc != YKT_OK)
            break;
        rc = ykt_store_person_by_id_number(db, row->id_number, &have);
        if (rc == YKT_OK && have.id != existing[i])
            conflict(&c, imp->lines[i], "id_number", "belongs to person %s already",
                     have.person_no);
        if (rc == YKT_ENOTFOUND)
            rc = YKT_OK;
    }
    if (rc != YKT_OK) {
        ykt_reply_internal(req, rc);
    } else if (c.n > 0) {
        reject(req, c.list, c.n, c.found);
    } else {
        int inserted = 0, updated = 0, unchanged = 0;
        int64_t now = ykt_now_ms();
        for (int i = 0; rc == YKT_OK && i < imp->nrows; i++) {
            ykt_person *row = &imp->rows[i];
            if (existing[i] == 0) {
                row->created_at = row->updated_at = now;
                rc = job->dry_run ? YKT_OK : ykt_store_person_insert(db, row);
                inserted++;
                continue;
            }
            ykt_person have;
            rc = ykt_store_person_by_id(db, existing[i], &have);
            if (rc != YKT_OK)
                break;
            /* The file does not say what happened since: keep the status, and keep a
             * validity the registry extended on proof (R-C3). */
            ykt_strlcpy(row->status, have.status, sizeof row->status);
            if (strcmp(have.validity_source, "extension") == 0 &&
                strcmp(have.valid_until, row->valid_until) > 0) {
                ykt_strlcpy(row->valid_until, have.valid_until, sizeof row->valid_until);
                ykt_strlcpy(row->validity_source, "extension", sizeof row->validity_source);
            }
            if (ykt_person_same(&have, row)) {
                unchanged++;
                continue;
            }
            row->id = have.id;
            row->created_at = have.created_at;
            row->updated_at = now;
            if (!job->dry_run) {
                rc = ykt_store_person_update(db, row);
                if (rc == YKT_OK && strcmp(have.valid_until, row->valid_until) != 0)
                    rc = ykt_card_set_validity(db, have.id, row->valid_until, ykt_admin_actor(req));
            }
            updated++;
        }
        ykt_args approval = {0};
        approval.nopt = job->approval[0] ? 1 : 0;
        approval.opt[0].name = "approval";
        approval.opt[0].value = job->approval;
        if (rc == YKT_OK && !job->dry_run)
            rc = ykt_audit(req, &approval, "person.import", job->name,
                           "%s, %d rows: %d inserted, %d updated, %d unchanged", imp->encoding,
                           imp->nrows, inserted, updated, unchanged);
        if (rc != YKT_OK) {
            ykt_reply_internal(req, rc);
        } else {
            ykt_info("admin: %s imported %s: %d inserted, %d updated, %d unchanged%s",
                     ykt_admin_actor(req), job->name, inserted, updated, unchanged,
                     job->dry_run ? " (dry run)" : "");
            static const char *const cols[] = {"file",    "encoding",  "rows",   "inserted",
                                               "updated", "unchanged", "dry_run"};
            ykt_table *t = ykt_table_new("RECORD", 7, cols);
            ykt_table_row(t);
            ykt_table_str(t, job->name);
            ykt_table_str(t, imp->encoding);
            ykt_table_int(t, imp->nrows);
            ykt_table_int(t, inserted);
            ykt_table_int(t, updated);
            ykt_table_int(t, unchanged);
            ykt_table_str(t, job->dry_run ? "yes" : "no");
            ykt_table_send(req, t);
        }
    }
    free(c.list);
    free(existing);
out:
    import_free(job);
}

static void cmd_import(ykt_req *req, const ykt_args *a)
{
    const char *kind = ykt_args_get(a, "kind");
    const char *encoding = ykt_args_get(a, "encoding");
    const char *name = ykt_args_get(a, "name");
    if (kind != NULL && ykt_import_kind(kind) == NULL) {
        ykt_reply_error(req, "BAD_REQUEST", "--kind is student, staff or temporary");
        return;
    }
    if (encoding != NULL && strcmp(encoding, "auto") && strcmp(encoding, "utf-8") &&
        strcmp(encoding, "gbk")) {
        ykt_reply_error(req, "BAD_REQUEST", "--encoding is auto, utf-8 or gbk");
        return;
    }
    /* The data is the only positional argument; find its length among the raw arguments. */
    size_t len = 0;
    for (int i = 0; i < req->argc; i++)
        if (req->argv[i] == a->pos[0])
            len = req->argl[i];
    if ((int64_t)len > req->gw->cfg.import_max_bytes) {
        ykt_reply_error(req, "LIMIT_EXCEEDED", "the file has %zu bytes; at most %lld", len,
                        (long long)req->gw->cfg.import_max_bytes);
        return;
    }
    import_job *job = calloc(1, sizeof *job);
    if (job != NULL)
        job->data = malloc(len ? len : 1);
    if (job == NULL || job->data == NULL) {
        free(job);
        ykt_reply_internal(req, YKT_ENOMEM);
        return;
    }
    memcpy(job->data, a->pos[0], len);
    job->len = len;
    ykt_strlcpy(job->encoding, encoding ? encoding : "auto", sizeof job->encoding);
    ykt_strlcpy(job->kind, kind ? ykt_import_kind(kind) : "", sizeof job->kind);
    ykt_strlcpy(job->name, name ? name : "(unnamed)", sizeof job->name);
    const char *approval = ykt_args_get(a, "approval");
    ykt_strlcpy(job->approval, approval ? approval : "", sizeof job->approval);
    job->dry_run = ykt_args_get(a, "dry-run") != NULL;
    job->opts.encoding = job->encoding;
    job->opts.default_kind = job->kind[0] ? job->kind : NULL;
    job->opts.max_bytes = (size_t)req->gw->cfg.import_max_bytes;
    job->opts.max_rows = (int)req->gw->cfg.import_max_rows;
    ykt_req_defer(req, import_work, import_done, job);
}

#define IMPORT_USAGE                                                                               \
    "person import FILE [--kind student|staff|temporary] [--encoding auto|utf-8|gbk] [--dry-run]"

static const ykt_admin_cmd cmds[] = {
    {"person", "import", cmd_import, OPERATORS, true, 1, 1, "kind= encoding= name= dry-run",
     IMPORT_USAGE, "Import people from CSV (UTF-8 or GBK); all rows or none; re-import updates."},
    {"people", "import", cmd_import, OPERATORS, true, 1, 1, "kind= encoding= name= dry-run",
     "people import FILE [...]", "Same as person import."},
};

int ykt_admin_import_register(ykt_admin *adm)
{
    return ykt_admin_register(adm, cmds, (int)YKT_ARRAY_LEN(cmds));
}
