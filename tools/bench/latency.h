/*
 * Latency recording: every sample is kept (in microseconds), not a histogram, so the
 * percentiles are exact and a later analysis can use the raw data. Ten seconds at 50,000
 * requests per second is 2 MB of samples, which is cheap. Each load thread owns one
 * recorder; the main thread merges them once the run is over, so recording takes no lock.
 */
#ifndef YKT_BENCH_LATENCY_H
#define YKT_BENCH_LATENCY_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

typedef struct ykt_lat {
    uint32_t *us; /* samples; saturate at UINT32_MAX (71 minutes) */
    size_t n, cap;
} ykt_lat;

typedef struct ykt_lat_summary {
    size_t n;
    double mean;
    uint32_t min, p50, p90, p99, p999, max;
} ykt_lat_summary;

void ykt_lat_init(ykt_lat *l);
void ykt_lat_free(ykt_lat *l);
void ykt_lat_add(ykt_lat *l, uint64_t us);
void ykt_lat_merge(ykt_lat *dst, const ykt_lat *src);
/* Sorts the samples and computes the summary (nearest-rank percentiles); all 0 when empty. */
void ykt_lat_summarize(ykt_lat *l, ykt_lat_summary *s);
/* Adds the summary as an object named key: n, min, mean, p50, p90, p99, p99_9, max. */
void ykt_lat_report(ykt_report *r, const char *key, const ykt_lat_summary *s);

#endif
