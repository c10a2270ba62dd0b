#include "adminq.h"
#include "common.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

int ykt_adminq_run(ykt_client *c, size_t n, int window, ykt_adminq_build_fn build,
                   ykt_adminq_reply_fn on_reply, void *arg, char *err, size_t errlen)
{
    ykt_buf out;
    ykt_buf_init(&out);
    size_t sent = 0, done = 0;
    int rc = 0;
    while (done < n) {
        /* Refill in bursts: one write for many commands, not one per reply. */
        if (sent - done <= (size_t)window / 2 && sent < n) {
            ykt_buf_reset(&out);
            while (sent < n && sent - done < (size_t)window)
                build(arg, sent++, &out);
            if (ykt_client_send(c, out.data, out.len) != 0) {
                snprintf(err, errlen, "admin socket: %s", c->err);
                rc = -1;
                break;
            }
        }
        ykt_reply *r = ykt_client_read(c);
        if (r == NULL) {
            snprintf(err, errlen, "admin socket: %s", c->err);
            rc = -1;
            break;
        }
        char why[512] = "";
        int bad = on_reply(arg, done, r, why, sizeof why);
        ykt_reply_free(r);
        if (bad != 0) {
            snprintf(err, errlen, "command %zu: %s", done, why);
            rc = -1;
            break;
        }
        done++;
    }
    ykt_buf_free(&out);
    return rc;
}

const ykt_reply *ykt_adminq_field(const ykt_reply *r, const char *name)
{
    if (r == NULL || r->type != YKT_REPLY_ARRAY || r->nelem < 3 ||
        r->elem[0]->type != YKT_REPLY_STATUS || strcmp(r->elem[0]->str, "RECORD") != 0)
        return NULL;
    const ykt_reply *cols = r->elem[1], *vals = r->elem[2];
    if (cols->type != YKT_REPLY_ARRAY || vals->type != YKT_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i < cols->nelem && i < vals->nelem; i++)
        if (cols->elem[i]->str != NULL && strcmp(cols->elem[i]->str, name) == 0)
            return vals->elem[i];
    return NULL;
}

int64_t ykt_adminq_field_int(const ykt_reply *r, const char *name)
{
    const ykt_reply *v = ykt_adminq_field(r, name);
    int64_t out;
    if (v == NULL)
        return -1;
    if (v->type == YKT_REPLY_INT)
        return v->integer;
    if (v->type == YKT_REPLY_BULK && ykt_parse_int64(v->str, INT64_MIN, INT64_MAX, &out) == YKT_OK)
        return out;
    return -1;
}

void ykt_adminq_describe(const ykt_reply *r, char *out, size_t len)
{
    static const char *const types[] = {"status", "error", "integer", "bulk", "null", "array"};
    if (r->type == YKT_REPLY_ERROR || r->type == YKT_REPLY_STATUS)
        snprintf(out, len, "%s%s", r->type == YKT_REPLY_ERROR ? "-" : "+", r->str);
    else if (r->type == YKT_REPLY_ARRAY && r->nelem > 0 && r->elem[0]->type == YKT_REPLY_STATUS)
        snprintf(out, len, "%s reply", r->elem[0]->str); /* e.g. a REJECTED table */
    else
        snprintf(out, len, "unexpected %s reply",
                 r->type >= 0 && r->type < 6 ? types[r->type] : "unknown");
}

int ykt_adminq_status_get(ykt_client *c, ykt_adminq_status *st)
{
    memset(st, 0, sizeof *st);
    const char *argv[] = {"status"};
    ykt_reply *r = ykt_client_call(c, 1, argv, NULL);
    if (r == NULL) {
        fprintf(stderr, "ykt-bench: status: %s\n", c->err);
        return -1;
    }
    const ykt_reply *v = ykt_adminq_field(r, "version");
    ykt_strlcpy(st->version, v && v->str ? v->str : "unknown", sizeof st->version);
    st->requests = ykt_adminq_field_int(r, "requests");
    st->commits = ykt_adminq_field_int(r, "commits");
    int rc = 0;
    if (st->requests < 0 || st->commits < 0) {
        char why[256];
        ykt_adminq_describe(r, why, sizeof why);
        fprintf(stderr, "ykt-bench: status: %s\n", why);
        rc = -1;
    }
    ykt_reply_free(r);
    return rc;
}
