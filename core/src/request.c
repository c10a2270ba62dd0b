#include "request.h"
#include "common.h"
#include "log.h"
#include "resp.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In YKT_ROLE_* bit order: role_names[i] is role 1 << i. */
static const char *const role_names[] = {"operator", "finance",   "dept_admin", "dept_head",
                                         "auditor",  "superuser", "guardian",   "portal"};
_Static_assert(1u << (YKT_ARRAY_LEN(role_names) - 1) == YKT_ROLE_LAST, "a name for every role");

unsigned ykt_role_parse(const char *s)
{
    for (size_t i = 0; i < YKT_ARRAY_LEN(role_names); i++)
        if (strcmp(s, role_names[i]) == 0)
            return 1u << i;
    return 0;
}

const char *ykt_role_name(unsigned role)
{
    for (size_t i = 0; i < YKT_ARRAY_LEN(role_names); i++)
        if (role == 1u << i)
            return role_names[i];
    return "?";
}

static void mark(ykt_req *req, bool is_error)
{
    if (!req->replied) {
        req->replied = true;
        req->failed = is_error;
    }
}

void ykt_reply_ok(ykt_req *req)
{
    ykt_reply_status(req, "OK");
}

void ykt_reply_status(ykt_req *req, const char *status)
{
    mark(req, false);
    ykt_resp_status(req->out, status);
}

void ykt_reply_error(ykt_req *req, const char *code, const char *fmt, ...)
{
    mark(req, true);
    va_list ap;
    va_start(ap, fmt);
    ykt_resp_verror(req->out, code, fmt, ap);
    va_end(ap);
}

void ykt_reply_int(ykt_req *req, int64_t v)
{
    mark(req, false);
    ykt_resp_int(req->out, v);
}

void ykt_reply_bulk(ykt_req *req, const char *s)
{
    mark(req, false);
    ykt_resp_bulks(req->out, s);
}

void ykt_reply_bulkn(ykt_req *req, const void *data, size_t len)
{
    mark(req, false);
    ykt_resp_bulk(req->out, data, len);
}

void ykt_reply_null(ykt_req *req)
{
    mark(req, false);
    ykt_resp_null(req->out);
}

void ykt_reply_array(ykt_req *req, int64_t n)
{
    mark(req, false);
    ykt_resp_array(req->out, n);
}

void ykt_reply_internal(ykt_req *req, int err)
{
    if (err == YKT_ESTORAGE)
        ykt_reply_error(req, "STORAGE_ERROR", "the database refused the change; nothing applied");
    else
        ykt_reply_error(req, "INTERNAL", "internal error (%s); nothing applied", ykt_strerror(err));
}

/* ---- tables ---- */

struct ykt_table {
    char kind[16];
    int ncols;
    ykt_buf header;
    ykt_buf rows;
    int64_t nrows;
};

ykt_table *ykt_table_new(const char *kind, int ncols, const char *const *cols)
{
    ykt_table *t = calloc(1, sizeof *t);
    if (t == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    ykt_strlcpy(t->kind, kind, sizeof t->kind);
    t->ncols = ncols;
    ykt_resp_array(&t->header, ncols);
    for (int i = 0; i < ncols; i++)
        ykt_resp_bulks(&t->header, cols[i]);
    return t;
}

void ykt_table_row(ykt_table *t)
{
    t->nrows++;
    ykt_resp_array(&t->rows, t->ncols);
}

void ykt_table_str(ykt_table *t, const char *s)
{
    ykt_resp_bulks(&t->rows, s);
}

void ykt_table_int(ykt_table *t, int64_t v)
{
    ykt_resp_int(&t->rows, v);
}

void ykt_table_time(ykt_table *t, int64_t ms)
{
    if (ms <= 0) {
        ykt_resp_null(&t->rows);
        return;
    }
    char buf[32];
    ykt_format_time(ms, buf, sizeof buf);
    ykt_resp_bulks(&t->rows, buf);
}

void ykt_table_free(ykt_table *t)
{
    ykt_buf_free(&t->header);
    ykt_buf_free(&t->rows);
    free(t);
}

void ykt_table_send(ykt_req *req, ykt_table *t)
{
    ykt_reply_array(req, 2 + t->nrows);
    ykt_resp_status(req->out, t->kind);
    ykt_buf_append(req->out, t->header.data, t->header.len);
    ykt_buf_append(req->out, t->rows.data, t->rows.len);
    ykt_table_free(t);
}
