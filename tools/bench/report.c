#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum entry_type { E_BEGIN, E_END, E_STR, E_INT, E_NUM, E_BOOL };

typedef struct entry {
    enum entry_type type;
    char *key;
    char *str;
    int64_t i;
    double d;
    int decimals;
} entry;

struct ykt_report {
    entry *e;
    size_t n, cap;
};

/* Like ykt_buf: a benchmark that cannot allocate a few bytes has nothing useful to say. */
static void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (p == NULL) {
        fputs("ykt-bench: out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

ykt_report *ykt_report_new(void)
{
    ykt_report *r = xrealloc(NULL, sizeof *r);
    memset(r, 0, sizeof *r);
    return r;
}

void ykt_report_free(ykt_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->e[i].key);
        free(r->e[i].str);
    }
    free(r->e);
    free(r);
}

static entry *add(ykt_report *r, enum entry_type type, const char *key)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->e = xrealloc(r->e, r->cap * sizeof *r->e);
    }
    entry *e = &r->e[r->n++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->key = key ? xstrdup(key) : NULL;
    return e;
}

void ykt_report_begin(ykt_report *r, const char *key)
{
    add(r, E_BEGIN, key);
}

void ykt_report_end(ykt_report *r)
{
    add(r, E_END, NULL);
}

void ykt_report_str(ykt_report *r, const char *key, const char *value)
{
    add(r, E_STR, key)->str = xstrdup(value ? value : "");
}

void ykt_report_int(ykt_report *r, const char *key, int64_t value)
{
    add(r, E_INT, key)->i = value;
}

void ykt_report_num(ykt_report *r, const char *key, double value, int decimals)
{
    entry *e = add(r, E_NUM, key);
    e->d = value;
    e->decimals = decimals;
}

void ykt_report_bool(ykt_report *r, const char *key, bool value)
{
    add(r, E_BOOL, key)->i = value;
}

/* ---- JSON ---- */

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out); /* UTF-8 passes through: JSON text is UTF-8 */
    }
    fputc('"', out);
}

static void scalar(FILE *out, const entry *e, bool json)
{
    switch (e->type) {
    case E_STR:
        if (json)
            json_string(out, e->str);
        else
            fputs(e->str, out);
        break;
    case E_INT:
        fprintf(out, "%lld", (long long)e->i);
        break;
    case E_NUM:
        if (isfinite(e->d))
            fprintf(out, "%.*f", e->decimals, e->d);
        else
            fputs(json ? "null" : "-", out);
        break;
    case E_BOOL:
        fputs(e->i ? (json ? "true" : "yes") : (json ? "false" : "no"), out);
        break;
    default:
        break;
    }
}

static void print_json(const ykt_report *r, FILE *out)
{
    bool first = true;
    fputc('{', out);
    for (size_t i = 0; i < r->n; i++) {
        const entry *e = &r->e[i];
        if (e->type == E_END) {
            fputc('}', out);
            first = false;
            continue;
        }
        if (!first)
            fputc(',', out);
        json_string(out, e->key);
        fputc(':', out);
        if (e->type == E_BEGIN) {
            fputc('{', out);
            first = true;
        } else {
            scalar(out, e, true);
            first = false;
        }
    }
    fputs("}\n", out);
}

/* ---- text ---- */

/* The index of the E_END closing the object opened at begin. */
static size_t object_end(const ykt_report *r, size_t begin)
{
    int depth = 0;
    for (size_t i = begin; i < r->n; i++) {
        if (r->e[i].type == E_BEGIN)
            depth++;
        else if (r->e[i].type == E_END && --depth == 0)
            return i;
    }
    return r->n;
}

static bool all_scalars(const ykt_report *r, size_t begin, size_t end)
{
    for (size_t i = begin + 1; i < end; i++)
        if (r->e[i].type == E_BEGIN)
            return false;
    return true;
}

static void print_text_range(const ykt_report *r, FILE *out, size_t from, size_t to, int indent)
{
    for (size_t i = from; i < to; i++) {
        const entry *e = &r->e[i];
        if (e->type == E_END)
            continue;
        if (e->type != E_BEGIN) {
            fprintf(out, "%*s%-*s  ", indent, "", indent ? 22 : 10, e->key);
            scalar(out, e, false);
            fputc('\n', out);
            continue;
        }
        size_t end = object_end(r, i);
        if (indent > 0 && all_scalars(r, i, end)) {
            /* A small record (one import run, one latency summary) reads best as one line. */
            fprintf(out, "%*s%-22s ", indent, "", e->key);
            for (size_t k = i + 1; k < end; k++) {
                fprintf(out, " %s=", r->e[k].key);
                scalar(out, &r->e[k], false);
            }
            fputc('\n', out);
        } else {
            fprintf(out, "%*s%s:\n", indent, "", e->key);
            print_text_range(r, out, i + 1, end, indent + 2);
        }
        i = end;
    }
}

void ykt_report_print(const ykt_report *r, FILE *out, bool json)
{
    if (json)
        print_json(r, out);
    else
        print_text_range(r, out, 0, r->n, 0);
    fflush(out);
}
