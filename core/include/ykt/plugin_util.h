/*
 * Small input checks every plugin needs, so that plugins parse a number or check a name
 * the way the core does (docs/plugin-api.md). Header-only: nothing to link.
 */
#ifndef YKT_PLUGIN_UTIL_H
#define YKT_PLUGIN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A plain decimal integer ("-" allowed first; no "+", blanks or hex) in [min, max]. */
static inline bool ykt_pu_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL)
        return false;
    bool neg = *s == '-';
    const char *p = neg ? s + 1 : s;
    if (*p == '\0')
        return false;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return false;
    int64_t n = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (n < min || n > max)
        return false;
    *out = n;
    return true;
}

/* An identifier: 1..maxlen letters, digits, '.', '_', '-', starting with a letter or digit
 * (as the core's ids: "-x" would read as an option). */
static inline bool ykt_pu_is_ident(const char *s, size_t maxlen)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (n == 0 || (c != '-' && c != '_' && c != '.')))
            return false;
    }
    return n > 0 && n <= maxlen;
}

/* Text for a name or a note: 1..maxlen bytes, no control characters (UTF-8 passes). */
static inline bool ykt_pu_valid_text(const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    if (n == 0 || n > maxlen)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* A terminal type bit (YKT_TERM_*) as `yktctl terminal add --type` spells it. */
static inline const char *ykt_pu_terminal_type(unsigned type)
{
    static const char *const names[] = {"pos",  "gate",    "dispenser", "meter",
                                        "bank", "booking", "kiosk",     "attendance"};
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        if (type == 1u << i)
            return names[i];
    return "unknown";
}

#endif
