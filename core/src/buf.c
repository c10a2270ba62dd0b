#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL && n != 0) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    return q;
}

void ykt_buf_init(ykt_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ykt_buf_free(ykt_buf *b)
{
    free(b->data);
    ykt_buf_init(b);
}

void ykt_buf_reserve(ykt_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1; /* +1 keeps room for ykt_buf_cstr's NUL */
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void ykt_buf_append(ykt_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    ykt_buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void ykt_buf_appends(ykt_buf *b, const char *s)
{
    ykt_buf_append(b, s, strlen(s));
}

void ykt_buf_vappendf(ykt_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n <= 0)
        return;
    ykt_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void ykt_buf_appendf(ykt_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ykt_buf_vappendf(b, fmt, ap);
    va_end(ap);
}

void ykt_buf_consume(ykt_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void ykt_buf_reset(ykt_buf *b)
{
    b->len = 0;
}

const char *ykt_buf_cstr(ykt_buf *b)
{
    ykt_buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return b->data;
}

void ykt_buf_shrink(ykt_buf *b, size_t keep)
{
    if (b->cap <= keep || b->len >= keep)
        return;
    if (b->len == 0) {
        ykt_buf_free(b);
        return;
    }
    b->data = xrealloc(b->data, keep);
    b->cap = keep;
}
