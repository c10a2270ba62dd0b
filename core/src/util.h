/*
 * Small helpers: clocks, strict number/size/duration parsing, string copies.
 * Parsers accept the whole string or nothing: "12x" is not 12.
 */
#ifndef YKT_UTIL_H
#define YKT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall-clock time in milliseconds since the Unix epoch (UTC). */
int64_t ykt_now_ms(void);
#ifdef YKT_TEST_CLOCK
int64_t ykt_test_clock_offset_ms(void); /* test builds: YKT_TEST_CLOCK_OFFSET_MS, or 0 */
#endif
/* Formats epoch milliseconds as 2026-11-27T03:55:00Z into buf (at least 24 bytes). */
void ykt_format_time(int64_t ms, char *buf, size_t len);

int ykt_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);
/* yes/no, true/false, on/off, 1/0 (case-insensitive). */
int ykt_parse_bool(const char *s, bool *out);
/* Bytes with an optional k/m/g suffix (powers of 1024): "64k", "1m", "4096". */
int ykt_parse_size(const char *s, int64_t *out);
/* A duration in milliseconds: "500ms", "30s", "5m", "2h", "1d"; a bare number is seconds. */
int ykt_parse_duration_ms(const char *s, int64_t *out);
/* "host:port" or "[v6]:port"; port 0 means "any free port". */
int ykt_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

/* Copies at most len-1 bytes and always terminates; returns strlen(src). */
size_t ykt_strlcpy(char *dst, const char *src, size_t len);
bool ykt_str_ieq(const char *a, const char *b);
/* True when s is non-empty and only [A-Za-z0-9._-] — the shape of ids and names. */
bool ykt_is_ident(const char *s, size_t maxlen);

/* The offset of the first byte that is not well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), or n when all of it is. */
size_t ykt_utf8_bad_offset(const unsigned char *s, size_t n);
/* Well-formed UTF-8 without control characters (C0, DEL, C1): text a person can read. */
bool ykt_text_printable(const char *s);

#endif
