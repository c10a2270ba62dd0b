#include "json.h"
#include "common.h"
#include "map.h"
#include "util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *start, *p, *end;
    int depth;
    char *err;
    size_t errlen;
} parser;

static int parse_value(parser *ps, ykt_json **out);

__attribute__((format(printf, 2, 3))) static int fail(parser *ps, const char *fmt, ...)
{
    if (ps->errlen == 0)
        return YKT_EINVAL;
    int n = snprintf(ps->err, ps->errlen, "offset %zu: ", (size_t)(ps->p - ps->start));
    if (n >= 0 && (size_t)n < ps->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return YKT_EINVAL;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static int hex4(parser *ps, unsigned *out)
{
    if (ps->end - ps->p < 4)
        return fail(ps, "\\u needs four hex digits");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(ps, "\\u needs four hex digits");
    }
    ps->p += 4;
    *out = v;
    return YKT_OK;
}

static void put_utf8(ykt_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    ykt_buf_append(b, u, n);
}

/* A string at ps->p (the opening quote), decoded into a fresh NUL-terminated copy. */
static int parse_string(parser *ps, char **out, size_t *outlen)
{
    const char *open = ps->p;
    ps->p++;
    ykt_buf b;
    ykt_buf_init(&b);
    int rc = YKT_OK;
    for (;;) {
        if (ps->p >= ps->end) {
            ps->p = open;
            rc = fail(ps, "unterminated string");
            goto done;
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) {
            rc = fail(ps, "control character in a string (escape it)");
            goto done;
        }
        if (c != '\\') {
            /* Copy a run of plain bytes at once. */
            const char *run = ps->p;
            while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
                   (unsigned char)*ps->p >= 0x20)
                ps->p++;
            ykt_buf_append(&b, run, (size_t)(ps->p - run));
            continue;
        }
        const char *esc = ps->p;
        ps->p++;
        if (ps->p >= ps->end) {
            rc = fail(ps, "unterminated string");
            goto done;
        }
        char e = *ps->p++;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            ykt_buf_append(&b, &e, 1);
            break;
        case 'b':
            ykt_buf_append(&b, "\b", 1);
            break;
        case 'f':
            ykt_buf_append(&b, "\f", 1);
            break;
        case 'n':
            ykt_buf_append(&b, "\n", 1);
            break;
        case 'r':
            ykt_buf_append(&b, "\r", 1);
            break;
        case 't':
            ykt_buf_append(&b, "\t", 1);
            break;
        case 'u': {
            unsigned cp;
            if ((rc = hex4(ps, &cp)) != YKT_OK)
                goto done;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                ps->p = esc;
                rc = fail(ps, "lone low surrogate \\u%04X", cp);
                goto done;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    ps->p = esc;
                    rc = fail(ps, "high surrogate \\u%04X without its low half", cp);
                    goto done;
                }
                ps->p += 2;
                if ((rc = hex4(ps, &lo)) != YKT_OK)
                    goto done;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    ps->p = esc;
                    rc = fail(ps, "high surrogate \\u%04X without its low half", cp);
                    goto done;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) {
                ps->p = esc;
                rc = fail(ps, "\\u0000 is not accepted");
                goto done;
            }
            put_utf8(&b, cp);
            break;
        }
        default:
            ps->p = esc;
            rc = fail(ps, "unknown escape \\%c", e >= 0x20 && e < 0x7f ? e : '?');
            goto done;
        }
    }
    /* Escapes always decode to well-formed UTF-8, so a bad offset comes from raw bytes. */
    if (ykt_utf8_bad_offset((const unsigned char *)b.data, b.len) != b.len) {
        ps->p = open;
        rc = fail(ps, "string is not valid UTF-8");
        goto done;
    }
    *outlen = b.len;
    *out = malloc(b.len + 1);
    if (*out == NULL) {
        rc = YKT_ENOMEM;
        goto done;
    }
    if (b.len > 0)
        memcpy(*out, b.data, b.len);
    (*out)[b.len] = '\0';
done:
    ykt_buf_free(&b);
    return rc;
}

static int parse_number(parser *ps, int64_t *out)
{
    const char *begin = ps->p;
    bool neg = false;
    if (*ps->p == '-') {
        neg = true;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
        ps->p = begin;
        return fail(ps, "expected a digit");
    }
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9') {
        ps->p = begin;
        return fail(ps, "a number may not have leading zeros");
    }
    /* Accumulate the magnitude; -9223372036854775808 is one more than the positive max. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        unsigned d = (unsigned)(*ps->p - '0');
        if (v > (limit - d) / 10) {
            ps->p = begin;
            return fail(ps, "integer out of range");
        }
        v = v * 10 + d;
        ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')) {
        ps->p = begin;
        return fail(ps, "only integers are accepted (amounts are in fen, volumes in ml)");
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return YKT_OK;
}

static ykt_json *node(ykt_json_type type)
{
    ykt_json *v = calloc(1, sizeof *v);
    if (v != NULL)
        v->type = type;
    return v;
}

/* Small objects are checked for a repeated key by a scan; larger ones by a map, so a
 * document with many keys stays linear. */
#define DUP_SCAN_MAX 8

static int parse_container(parser *ps, ykt_json *v, bool object)
{
    char close = object ? '}' : ']';
    ykt_json **tail = &v->first;
    ykt_map *keys = NULL;
    int rc = YKT_OK;
    if (++ps->depth > YKT_JSON_MAX_DEPTH)
        return fail(ps, "nested deeper than %d levels", YKT_JSON_MAX_DEPTH);
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return YKT_OK;
    }
    for (;;) {
        char *key = NULL;
        size_t keylen = 0;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                rc = fail(ps, "expected a string key");
                goto done;
            }
            const char *key_at = ps->p;
            if ((rc = parse_string(ps, &key, &keylen)) != YKT_OK)
                goto done;
            bool dup = false;
            if (keys != NULL) {
                dup = ykt_map_get(keys, key) != NULL;
            } else {
                for (ykt_json *m = v->first; m != NULL && !dup; m = m->next)
                    dup = strcmp(m->key, key) == 0;
            }
            if (dup) {
                ps->p = key_at;
                free(key);
                rc = fail(ps, "duplicate key");
                goto done;
            }
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                rc = fail(ps, "expected ':' after an object key");
                goto done;
            }
            ps->p++;
        }
        ykt_json *m = NULL;
        skip_ws(ps);
        if ((rc = parse_value(ps, &m)) != YKT_OK) {
            free(key);
            goto done;
        }
        m->key = key;
        m->keylen = keylen;
        *tail = m;
        tail = &m->next;
        v->len++;
        if (object && keys == NULL && v->len > DUP_SCAN_MAX) {
            if ((keys = ykt_map_new()) == NULL) {
                rc = YKT_ENOMEM;
                goto done;
            }
            for (ykt_json *k = v->first; k != NULL; k = k->next)
                ykt_map_put(keys, k->key, k);
        } else if (keys != NULL) {
            ykt_map_put(keys, key, m);
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == close) {
                rc = fail(ps, "trailing comma");
                goto done;
            }
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            break;
        }
        rc = fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        goto done;
    }
    ps->depth--;
done:
    ykt_map_free(keys);
    return rc;
}

static int parse_value(parser *ps, ykt_json **out)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "expected a value");
    ykt_json *v = NULL;
    int rc = YKT_OK;
    char c = *ps->p;
    if (c == '{' || c == '[') {
        if ((v = node(c == '{' ? YKT_JSON_OBJECT : YKT_JSON_ARRAY)) == NULL)
            return YKT_ENOMEM;
        rc = parse_container(ps, v, c == '{');
    } else if (c == '"') {
        if ((v = node(YKT_JSON_STRING)) == NULL)
            return YKT_ENOMEM;
        rc = parse_string(ps, &v->s, &v->len);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        if ((v = node(YKT_JSON_INT)) == NULL)
            return YKT_ENOMEM;
        rc = parse_number(ps, &v->i);
    } else if (literal(ps, "true") || literal(ps, "false")) {
        if ((v = node(YKT_JSON_BOOL)) == NULL)
            return YKT_ENOMEM;
        v->i = c == 't';
    } else if (literal(ps, "null")) {
        if ((v = node(YKT_JSON_NULL)) == NULL)
            return YKT_ENOMEM;
    } else {
        return fail(ps, "expected a value");
    }
    if (rc != YKT_OK) {
        ykt_json_free(v);
        return rc;
    }
    *out = v;
    return YKT_OK;
}

int ykt_json_parse(const char *text, size_t len, ykt_json **out, char *err, size_t errlen)
{
    parser ps = {.start = text, .p = text, .end = text + len, .err = err, .errlen = errlen};
    if (errlen > 0)
        err[0] = '\0';
    *out = NULL;
    ykt_json *v = NULL;
    int rc = parse_value(&ps, &v);
    if (rc != YKT_OK)
        return rc;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        ykt_json_free(v);
        return fail(&ps, "unexpected data after the value");
    }
    *out = v;
    return YKT_OK;
}

void ykt_json_free(ykt_json *v)
{
    while (v != NULL) {
        ykt_json *next = v->next;
        ykt_json_free(v->first); /* recursion is bounded by YKT_JSON_MAX_DEPTH */
        free(v->s);
        free(v->key);
        free(v);
        v = next;
    }
}

const ykt_json *ykt_json_member(const ykt_json *obj, const char *key)
{
    if (obj == NULL || obj->type != YKT_JSON_OBJECT)
        return NULL;
    for (const ykt_json *m = obj->first; m != NULL; m = m->next)
        if (strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

void ykt_json_write_string(ykt_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    ykt_buf_reserve(b, len + 2);
    ykt_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6] = {0};
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            if (c < 0x20) {
                memcpy(u, "\\u00", 4);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
            }
        }
        if (esc == NULL && c >= 0x20)
            continue;
        ykt_buf_append(b, s + run, i - run);
        if (esc != NULL)
            ykt_buf_appends(b, esc);
        else
            ykt_buf_append(b, u, sizeof u);
        run = i + 1;
    }
    ykt_buf_append(b, s + run, len - run);
    ykt_buf_append(b, "\"", 1);
}

void ykt_json_write(ykt_buf *b, const ykt_json *v)
{
    switch (v->type) {
    case YKT_JSON_NULL:
        ykt_buf_appends(b, "null");
        break;
    case YKT_JSON_BOOL:
        ykt_buf_appends(b, v->i ? "true" : "false");
        break;
    case YKT_JSON_INT:
        ykt_buf_appendf(b, "%lld", (long long)v->i);
        break;
    case YKT_JSON_STRING:
        ykt_json_write_string(b, v->s, v->len);
        break;
    case YKT_JSON_ARRAY:
    case YKT_JSON_OBJECT: {
        bool object = v->type == YKT_JSON_OBJECT;
        ykt_buf_append(b, object ? "{" : "[", 1);
        for (const ykt_json *m = v->first; m != NULL; m = m->next) {
            if (m != v->first)
                ykt_buf_append(b, ",", 1);
            if (object) {
                ykt_json_write_string(b, m->key, m->keylen);
                ykt_buf_append(b, ":", 1);
            }
            ykt_json_write(b, m);
        }
        ykt_buf_append(b, object ? "}" : "]", 1);
        break;
    }
    }
}
