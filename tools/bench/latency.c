#include "latency.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ykt_lat_init(ykt_lat *l)
{
    memset(l, 0, sizeof *l);
}

void ykt_lat_free(ykt_lat *l)
{
    free(l->us);
    memset(l, 0, sizeof *l);
}

static void reserve(ykt_lat *l, size_t want)
{
    if (want <= l->cap)
        return;
    size_t cap = l->cap ? l->cap : 4096;
    while (cap < want)
        cap *= 2;
    uint32_t *p = realloc(l->us, cap * sizeof *p);
    if (p == NULL) {
        fputs("ykt-bench: out of memory for latency samples\n", stderr);
        abort();
    }
    l->us = p;
    l->cap = cap;
}

void ykt_lat_add(ykt_lat *l, uint64_t us)
{
    reserve(l, l->n + 1);
    l->us[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

void ykt_lat_merge(ykt_lat *dst, const ykt_lat *src)
{
    if (src->n == 0)
        return;
    reserve(dst, dst->n + src->n);
    memcpy(dst->us + dst->n, src->us, src->n * sizeof *src->us);
    dst->n += src->n;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p percent of the samples at or below it. */
static uint32_t rank(const ykt_lat *l, double p)
{
    size_t k = (size_t)ceil(p / 100.0 * (double)l->n);
    if (k < 1)
        k = 1;
    if (k > l->n)
        k = l->n;
    return l->us[k - 1];
}

void ykt_lat_summarize(ykt_lat *l, ykt_lat_summary *s)
{
    memset(s, 0, sizeof *s);
    if (l->n == 0)
        return;
    qsort(l->us, l->n, sizeof *l->us, cmp_u32);
    double sum = 0;
    for (size_t i = 0; i < l->n; i++)
        sum += l->us[i];
    s->n = l->n;
    s->mean = sum / (double)l->n;
    s->min = l->us[0];
    s->max = l->us[l->n - 1];
    s->p50 = rank(l, 50);
    s->p90 = rank(l, 90);
    s->p99 = rank(l, 99);
    s->p999 = rank(l, 99.9);
}

void ykt_lat_report(ykt_report *r, const char *key, const ykt_lat_summary *s)
{
    ykt_report_begin(r, key);
    ykt_report_int(r, "n", (int64_t)s->n);
    ykt_report_int(r, "min", s->min);
    ykt_report_num(r, "mean", s->mean, 1);
    ykt_report_int(r, "p50", s->p50);
    ykt_report_int(r, "p90", s->p90);
    ykt_report_int(r, "p99", s->p99);
    ykt_report_int(r, "p99_9", s->p999);
    ykt_report_int(r, "max", s->max);
    ykt_report_end(r);
}
