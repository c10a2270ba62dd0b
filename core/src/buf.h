/*
 * A growable byte buffer. Used for connection input and output and for
 * building replies. Memory is released with ykt_buf_free(); a failed
 * allocation aborts the process, because a gateway that silently drops a
 * reply is worse than one that restarts (and the ledger survives restarts).
 */
#ifndef YKT_BUF_H
#define YKT_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct ykt_buf {
    char *data;
    size_t len;
    size_t cap;
} ykt_buf;

void ykt_buf_init(ykt_buf *b);
void ykt_buf_free(ykt_buf *b);
/* Makes room for at least `extra` more bytes after len. */
void ykt_buf_reserve(ykt_buf *b, size_t extra);
void ykt_buf_append(ykt_buf *b, const void *data, size_t len);
void ykt_buf_appends(ykt_buf *b, const char *s);
void ykt_buf_appendf(ykt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ykt_buf_vappendf(ykt_buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes, moving the rest to the front. */
void ykt_buf_consume(ykt_buf *b, size_t n);
void ykt_buf_reset(ykt_buf *b);
/* Returns a NUL-terminated view of the contents (the NUL is not counted). */
const char *ykt_buf_cstr(ykt_buf *b);
/* Releases spare capacity above `keep` bytes (idle connections stay small). */
void ykt_buf_shrink(ykt_buf *b, size_t keep);

#endif
