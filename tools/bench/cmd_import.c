/*
 * ykt-bench import: how fast does `person import` take a term's intake of students?
 *
 * Three runs against one private gateway, each one admin request exactly as yktctl sends
 * it ("person" "import" <file bytes> "--kind" "student" "--name" <file name>):
 *   first     N new rows: parse, validate, check the database, insert in one transaction
 *   reimport  the same file: every row found and compared, nothing written ("unchanged")
 *   gbk       the same people saved as GBK (Excel on Chinese Windows): decoding included
 * The time is from sending the request to reading the reply, so it includes the copy over
 * the socket, the parse on the thread pool and the database work on the loop.
 */
#include "adminq.h"
#include "bench.h"
#include "common.h"
#include "gateway.h"
#include "roster.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
    const char *key;                      /* report key */
    const char *file;                     /* file name sent as --name */
    const ykt_buf *data;                  /* the file's bytes */
    const char *encoding;                 /* what the reply should say */
    int64_t inserted, updated, unchanged; /* expected counts */
} run;

static int write_csv(const ykt_benchgw *gw, const char *name, const ykt_buf *b)
{
    char path[YKT_BENCH_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", gw->dir, name);
    FILE *f = fopen(path, "wbe");
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len || fclose(f) != 0) {
        fprintf(stderr, "ykt-bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Prints the first problems of a REJECTED reply: the generator made a bad row. */
static void print_rejected(const ykt_reply *r)
{
    fprintf(stderr, "ykt-bench: the gateway rejected the file:\n");
    for (size_t i = 2; i < r->nelem && i < 12; i++) {
        const ykt_reply *row = r->elem[i];
        if (row->type != YKT_REPLY_ARRAY || row->nelem < 3)
            continue;
        fprintf(stderr, "  line %lld  %s  %s\n", (long long)row->elem[0]->integer,
                row->elem[1]->str ? row->elem[1]->str : "",
                row->elem[2]->str ? row->elem[2]->str : "");
    }
}

/* Runs one import and adds its result to the report; returns true if it went as expected. */
static bool import_once(ykt_client *c, const run *x, size_t rows, ykt_report *rep)
{
    const char *argv[] = {"person",  "import", x->data->data, "--kind",
                          "student", "--name", x->file};
    size_t argl[] = {6, 6, x->data->len, 6, 7, 6, strlen(x->file)};
    ykt_buf req;
    ykt_buf_init(&req);
    ykt_client_format(&req, 7, argv, argl);

    uint64_t t0 = ykt_bench_now_ns();
    ykt_reply *r = ykt_client_send(c, req.data, req.len) == 0 ? ykt_client_read(c) : NULL;
    double seconds = (double)(ykt_bench_now_ns() - t0) / 1e9;
    ykt_buf_free(&req);

    int64_t got_rows = -1, ins = -1, upd = -1, unch = -1;
    char encoding[16] = "", why[512] = "";
    if (r == NULL) {
        snprintf(why, sizeof why, "admin socket: %s", c->err);
    } else {
        got_rows = ykt_adminq_field_int(r, "rows");
        ins = ykt_adminq_field_int(r, "inserted");
        upd = ykt_adminq_field_int(r, "updated");
        unch = ykt_adminq_field_int(r, "unchanged");
        const ykt_reply *enc = ykt_adminq_field(r, "encoding");
        if (enc != NULL && enc->str != NULL)
            ykt_strlcpy(encoding, enc->str, sizeof encoding);
        if (got_rows < 0) {
            ykt_adminq_describe(r, why, sizeof why);
            if (r->type == YKT_REPLY_ARRAY && r->nelem > 0 && r->elem[0]->str != NULL &&
                strcmp(r->elem[0]->str, "REJECTED") == 0)
                print_rejected(r);
        }
        ykt_reply_free(r);
    }
    bool expected = got_rows == (int64_t)rows && ins == x->inserted && upd == x->updated &&
                    unch == x->unchanged && strcmp(encoding, x->encoding) == 0;
    if (!expected && why[0] == '\0')
        snprintf(why, sizeof why,
                 "expected rows=%zu inserted=%lld updated=%lld unchanged=%lld encoding=%s", rows,
                 (long long)x->inserted, (long long)x->updated, (long long)x->unchanged,
                 x->encoding);
    if (!expected)
        fprintf(stderr, "ykt-bench: import %s: %s\n", x->key, why);

    ykt_report_begin(rep, x->key);
    ykt_report_int(rep, "rows", got_rows);
    ykt_report_int(rep, "bytes", (int64_t)x->data->len);
    ykt_report_num(rep, "seconds", seconds, 3);
    ykt_report_num(rep, "rows_per_s", seconds > 0 ? (double)rows / seconds : 0, 0);
    ykt_report_str(rep, "encoding", encoding);
    ykt_report_int(rep, "inserted", ins);
    ykt_report_int(rep, "updated", upd);
    ykt_report_int(rep, "unchanged", unch);
    ykt_report_bool(rep, "as_expected", expected);
    ykt_report_end(rep);
    return expected;
}

int ykt_bench_import(ykt_bench_ctx *ctx, int argc, char **argv)
{
    int64_t rows = 50000, seed = 1;
    const ykt_bench_opt opts[] = {
        {"--rows", 1, 1000000, &rows},
        {"--seed", 0, INT64_MAX, &seed},
    };
    if (ykt_bench_parse(ctx, argc, argv, opts, (int)YKT_ARRAY_LEN(opts)) != 0)
        return YKT_BENCH_EXIT_USAGE;

    /* Generate before yktd starts, so the generator's CPU time cannot disturb it. */
    uint64_t t0 = ykt_bench_now_ns();
    ykt_buf utf8, gbk;
    ykt_buf_init(&utf8);
    ykt_buf_init(&gbk);
    ykt_roster_csv(&utf8, (size_t)rows, (uint64_t)seed, ykt_roster_latest_cohort());
    char err[256];
    if (ykt_roster_to_gbk(utf8.data, utf8.len, &gbk, err, sizeof err) != 0) {
        fprintf(stderr, "ykt-bench: %s\n", err);
        ykt_buf_free(&utf8);
        ykt_buf_free(&gbk);
        return YKT_BENCH_EXIT_USAGE;
    }
    double gen_seconds = (double)(ykt_bench_now_ns() - t0) / 1e9;

    ykt_benchgw gw;
    if (ykt_benchgw_start(&gw, ctx->yktd, ctx->keep, ctx->rules) != 0) {
        ykt_buf_free(&utf8);
        ykt_buf_free(&gbk);
        return YKT_BENCH_EXIT_USAGE;
    }
    int status = 0;
    ykt_client c;
    ykt_adminq_status st;
    if (write_csv(&gw, "students-utf8.csv", &utf8) != 0 ||
        write_csv(&gw, "students-gbk.csv", &gbk) != 0 || ykt_benchgw_admin(&gw, &c) != 0) {
        ykt_benchgw_stop(&gw);
        ykt_buf_free(&utf8);
        ykt_buf_free(&gbk);
        return YKT_BENCH_EXIT_USAGE;
    }
    if (ykt_adminq_status_get(&c, &st) != 0)
        ykt_strlcpy(st.version, "unknown", sizeof st.version);

    ykt_report *rep = ykt_report_new();
    ykt_bench_report_head(rep, ctx, "import");
    ykt_benchgw_report(&gw, rep, st.version);
    ykt_report_begin(rep, "params");
    ykt_report_int(rep, "rows", rows);
    ykt_report_int(rep, "seed", seed);
    ykt_report_str(rep, "kind", "student");
    ykt_report_int(rep, "utf8_bytes", (int64_t)utf8.len);
    ykt_report_int(rep, "gbk_bytes", (int64_t)gbk.len);
    ykt_report_num(rep, "generate_seconds", gen_seconds, 3);
    ykt_report_end(rep);

    const int64_t n = rows;
    const run runs[] = {
        {"first", "students-utf8.csv", &utf8, "utf-8", n, 0, 0},
        {"reimport", "students-utf8.csv", &utf8, "utf-8", 0, 0, n},
        {"gbk", "students-gbk.csv", &gbk, "gbk", 0, 0, n},
    };
    int failed = 0;
    double cpu0 = ykt_benchgw_cpu_seconds(&gw);
    ykt_report_begin(rep, "results");
    for (size_t i = 0; i < YKT_ARRAY_LEN(runs) && !ykt_bench_interrupted; i++)
        if (!import_once(&c, &runs[i], (size_t)rows, rep))
            failed++;
    double cpu1 = ykt_benchgw_cpu_seconds(&gw);
    ykt_report_num(rep, "yktd_cpu_seconds", cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1, 2);
    ykt_report_end(rep);
    ykt_client_close(&c);

    int rc = ykt_benchgw_stop(&gw);
    ykt_report_begin(rep, "errors");
    ykt_report_int(rep, "total", failed);
    ykt_report_int(rep, "yktd_exit_status", rc);
    ykt_report_end(rep);
    bool ok = failed == 0 && rc == 0 && !ykt_bench_interrupted;
    if (ykt_bench_interrupted)
        ykt_report_bool(rep, "interrupted", true);
    ykt_report_bool(rep, "ok", ok);
    ykt_report_print(rep, stdout, ctx->json);
    ykt_report_free(rep);
    ykt_buf_free(&utf8);
    ykt_buf_free(&gbk);
    status = ok ? 0 : YKT_BENCH_EXIT_FAIL;
    return status;
}
