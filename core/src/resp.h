/*
 * RESP2 framing: the request parser used by the gateway, reply writers, and a
 * reply reader for clients (yktctl, ykt-cardsim, ykt-bench, tests).
 *
 * Requests are arrays of bulk strings ("*2\r\n$4\r\nAUTH\r\n...") or inline
 * lines ("PING\r\n") for diagnostics with telnet or nc. The parser never
 * allocates for a declared length: a length above the limit is refused as soon
 * as its header line is read.
 */
#ifndef YKT_RESP_H
#define YKT_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct ykt_resp_limits {
    size_t max_frame; /* largest whole request in bytes */
    int max_args;     /* largest argument count */
} ykt_resp_limits;

typedef struct ykt_resp_cmd {
    int argc;
    char **argv;  /* point into the parsed buffer, NUL-terminated in place */
    size_t *argl; /* lengths; arguments may contain NUL bytes */
    int cap;      /* capacity of argv/argl; must be >= max_args */
} ykt_resp_cmd;

/* Allocates argv/argl for up to max_args arguments. */
void ykt_resp_cmd_init(ykt_resp_cmd *cmd, int max_args);
void ykt_resp_cmd_free(ykt_resp_cmd *cmd);

/*
 * Parses one request from buf[0..len). On YKT_OK, *consumed bytes form the request and
 * cmd holds it (argc may be 0 for "*0", which callers reject). YKT_EAGAIN: incomplete, call
 * again with more bytes. YKT_EINVAL: malformed; YKT_ELIMIT: over a limit. On errors *err
 * names the problem and the connection cannot be resynchronised.
 * The buffer is modified in place (NUL terminators) only when a whole request was found.
 */
int ykt_resp_parse(char *buf, size_t len, const ykt_resp_limits *lim, ykt_resp_cmd *cmd,
                   size_t *consumed, const char **err);

/* Reply writers. Status and error texts have CR and LF replaced by spaces. */
void ykt_resp_status(ykt_buf *b, const char *status);
void ykt_resp_error(ykt_buf *b, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ykt_resp_verror(ykt_buf *b, const char *code, const char *fmt, va_list ap);
void ykt_resp_int(ykt_buf *b, int64_t v);
void ykt_resp_bulk(ykt_buf *b, const void *data, size_t len);
void ykt_resp_bulks(ykt_buf *b, const char *s); /* NULL writes a null bulk */
void ykt_resp_null(ykt_buf *b);
void ykt_resp_array(ykt_buf *b, int64_t n);

/* A parsed reply, for clients. */
enum ykt_reply_type {
    YKT_REPLY_STATUS,
    YKT_REPLY_ERROR,
    YKT_REPLY_INT,
    YKT_REPLY_BULK,
    YKT_REPLY_NULL,
    YKT_REPLY_ARRAY
};

typedef struct ykt_reply {
    int type;
    int64_t integer;
    char *str; /* STATUS, ERROR, BULK: NUL-terminated copy */
    size_t len;
    struct ykt_reply **elem; /* ARRAY */
    size_t nelem;
} ykt_reply;

/* Reads one reply from buf; YKT_OK with *consumed, YKT_EAGAIN or YKT_EINVAL. */
int ykt_reply_parse(const char *buf, size_t len, ykt_reply **out, size_t *consumed);
void ykt_reply_free(ykt_reply *r);

#endif
