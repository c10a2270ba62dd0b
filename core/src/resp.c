#include "resp.h"
#include "common.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest header line we accept ("*123\r\n", "$1048576\r\n"): no honest length needs more. */
#define MAX_LENGTH_LINE 24
/* Inline requests are for people typing at nc/telnet; they never need much room. */
#define MAX_INLINE 4096

void ykt_resp_cmd_init(ykt_resp_cmd *cmd, int max_args)
{
    cmd->cap = max_args > 0 ? max_args : 1;
    cmd->argv = calloc((size_t)cmd->cap, sizeof *cmd->argv);
    cmd->argl = calloc((size_t)cmd->cap, sizeof *cmd->argl);
    if (cmd->argv == NULL || cmd->argl == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    cmd->argc = 0;
}

void ykt_resp_cmd_free(ykt_resp_cmd *cmd)
{
    free(cmd->argv);
    free(cmd->argl);
    cmd->argv = NULL;
    cmd->argl = NULL;
    cmd->cap = 0;
}

/*
 * Reads "<prefix><digits>\r\n" at buf[pos]. Returns YKT_OK and the value and the position
 * after the line, YKT_EAGAIN when the line is not complete yet, YKT_EINVAL when malformed.
 */
static int read_length_line(const char *buf, size_t len, size_t pos, char prefix, int64_t *value,
                            size_t *next, const char **err)
{
    if (pos >= len)
        return YKT_EAGAIN;
    if (buf[pos] != prefix) {
        *err = prefix == '$' ? "expected '$' (bulk string)" : "expected '*' (array)";
        return YKT_EINVAL;
    }
    size_t i = pos + 1;
    int64_t v = 0;
    int digits = 0;
    int negative = 0;
    if (i < len && buf[i] == '-') {
        negative = 1;
        i++;
    }
    for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        if (++digits > 18) {
            *err = "length out of range";
            return YKT_EINVAL;
        }
        v = v * 10 + (buf[i] - '0');
    }
    if (i >= len) {
        if (i - pos > MAX_LENGTH_LINE) {
            *err = "length line too long";
            return YKT_EINVAL;
        }
        return YKT_EAGAIN;
    }
    if (buf[i] != '\r') {
        *err = "invalid length";
        return YKT_EINVAL;
    }
    if (i + 1 >= len)
        return YKT_EAGAIN;
    if (buf[i + 1] != '\n' || digits == 0) {
        *err = "invalid length";
        return YKT_EINVAL;
    }
    *value = negative ? -v : v;
    *next = i + 2;
    return YKT_OK;
}

static int parse_multibulk(char *buf, size_t len, const ykt_resp_limits *lim, ykt_resp_cmd *cmd,
                           size_t *consumed, const char **err)
{
    int64_t n;
    size_t pos;
    int rc = read_length_line(buf, len, 0, '*', &n, &pos, err);
    if (rc != YKT_OK)
        return rc;
    if (n < 0) {
        *err = "negative array length";
        return YKT_EINVAL;
    }
    if (n > lim->max_args || n > cmd->cap) {
        *err = "too many arguments";
        return YKT_ELIMIT;
    }
    /* First pass: validate and locate every argument without touching the buffer. */
    for (int64_t i = 0; i < n; i++) {
        int64_t blen;
        rc = read_length_line(buf, len, pos, '$', &blen, &pos, err);
        if (rc != YKT_OK)
            return rc;
        if (blen < 0) {
            *err = "null or negative bulk length";
            return YKT_EINVAL;
        }
        if ((uint64_t)blen > lim->max_frame || pos + (size_t)blen > lim->max_frame) {
            *err = "request larger than the frame limit";
            return YKT_ELIMIT;
        }
        if (pos + (size_t)blen + 2 > len)
            return YKT_EAGAIN;
        if (buf[pos + blen] != '\r' || buf[pos + blen + 1] != '\n') {
            *err = "bulk string not terminated by CRLF";
            return YKT_EINVAL;
        }
        cmd->argv[i] = buf + pos;
        cmd->argl[i] = (size_t)blen;
        pos += (size_t)blen + 2;
    }
    if (pos > lim->max_frame) {
        *err = "request larger than the frame limit";
        return YKT_ELIMIT;
    }
    /* Second pass: the request is whole; terminate arguments in place (over the '\r'). */
    for (int64_t i = 0; i < n; i++)
        cmd->argv[i][cmd->argl[i]] = '\0';
    cmd->argc = (int)n;
    *consumed = pos;
    return YKT_OK;
}

static int parse_inline(char *buf, size_t len, const ykt_resp_limits *lim, ykt_resp_cmd *cmd,
                        size_t *consumed, const char **err)
{
    size_t limit = lim->max_frame < MAX_INLINE ? lim->max_frame : MAX_INLINE;
    char *nl = memchr(buf, '\n', len < limit ? len : limit);
    if (nl == NULL) {
        if (len >= limit) {
            *err = "inline request too long";
            return YKT_ELIMIT;
        }
        return YKT_EAGAIN;
    }
    size_t line_len = (size_t)(nl - buf);
    int argc = 0;
    size_t i = 0;
    while (i < line_len) {
        while (i < line_len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r'))
            i++;
        if (i >= line_len)
            break;
        size_t start = i;
        while (i < line_len && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r')
            i++;
        if (argc >= lim->max_args || argc >= cmd->cap) {
            *err = "too many arguments";
            return YKT_ELIMIT;
        }
        cmd->argv[argc] = buf + start;
        cmd->argl[argc] = i - start;
        argc++;
        if (i < line_len)
            buf[i++] = '\0';
    }
    /* A blank line is skipped by the caller, which may then return YKT_EAGAIN with the line
     * still in the buffer: leave it intact so that the next parse finds its '\n' again. */
    if (argc > 0)
        *nl = '\0';
    cmd->argc = argc;
    *consumed = line_len + 1;
    return YKT_OK;
}

int ykt_resp_parse(char *buf, size_t len, const ykt_resp_limits *lim, ykt_resp_cmd *cmd,
                   size_t *consumed, const char **err)
{
    size_t skipped = 0;
    *err = NULL;
    for (;;) {
        if (len == 0)
            return YKT_EAGAIN;
        int rc;
        size_t used = 0;
        if (buf[0] == '*')
            rc = parse_multibulk(buf, len, lim, cmd, &used, err);
        else
            rc = parse_inline(buf, len, lim, cmd, &used, err);
        if (rc != YKT_OK)
            return rc;
        /* Empty inline lines (a bare Enter in telnet) are skipped, as Redis does. They count
         * towards the frame of the request they precede: the caller keeps them buffered until
         * a request is complete, so without a limit a stream of them would grow without end. */
        if (cmd->argc == 0 && buf[0] != '*') {
            buf += used;
            len -= used;
            skipped += used;
            *consumed = skipped;
            if (skipped > lim->max_frame) {
                *err = "too many empty lines";
                return YKT_ELIMIT;
            }
            continue;
        }
        *consumed = skipped + used;
        return YKT_OK;
    }
}

static void append_line_text(ykt_buf *b, const char *s, size_t n)
{
    ykt_buf_reserve(b, n);
    for (size_t i = 0; i < n; i++)
        b->data[b->len + i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    b->len += n;
}

void ykt_resp_status(ykt_buf *b, const char *status)
{
    ykt_buf_append(b, "+", 1);
    append_line_text(b, status, strlen(status));
    ykt_buf_append(b, "\r\n", 2);
}

void ykt_resp_verror(ykt_buf *b, const char *code, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    ykt_buf_append(b, "-", 1);
    append_line_text(b, code, strlen(code));
    ykt_buf_append(b, " ", 1);
    append_line_text(b, msg, strlen(msg));
    ykt_buf_append(b, "\r\n", 2);
}

void ykt_resp_error(ykt_buf *b, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ykt_resp_verror(b, code, fmt, ap);
    va_end(ap);
}

void ykt_resp_int(ykt_buf *b, int64_t v)
{
    ykt_buf_appendf(b, ":%" PRId64 "\r\n", v);
}

void ykt_resp_bulk(ykt_buf *b, const void *data, size_t len)
{
    ykt_buf_appendf(b, "$%zu\r\n", len);
    ykt_buf_append(b, data, len);
    ykt_buf_append(b, "\r\n", 2);
}

void ykt_resp_bulks(ykt_buf *b, const char *s)
{
    if (s == NULL)
        ykt_resp_null(b);
    else
        ykt_resp_bulk(b, s, strlen(s));
}

void ykt_resp_null(ykt_buf *b)
{
    ykt_buf_append(b, "$-1\r\n", 5);
}

void ykt_resp_array(ykt_buf *b, int64_t n)
{
    ykt_buf_appendf(b, "*%" PRId64 "\r\n", n);
}

/* ---- reply reader (clients) ---- */

#define MAX_REPLY_DEPTH 8

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (p == NULL) {
        fputs("ykt: out of memory\n", stderr);
        abort();
    }
    return p;
}

void ykt_reply_free(ykt_reply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nelem; i++)
        ykt_reply_free(r->elem[i]);
    free(r->elem);
    free(r->str);
    free(r);
}

static int read_line(const char *buf, size_t len, size_t pos, size_t *line_end)
{
    const char *cr = memchr(buf + pos, '\r', len - pos);
    if (cr == NULL || (size_t)(cr - buf) + 1 >= len)
        return YKT_EAGAIN;
    if (cr[1] != '\n')
        return YKT_EINVAL;
    *line_end = (size_t)(cr - buf);
    return YKT_OK;
}

static int parse_reply_at(const char *buf, size_t len, size_t *pos, int depth, ykt_reply **out)
{
    if (depth > MAX_REPLY_DEPTH)
        return YKT_EINVAL;
    if (*pos >= len)
        return YKT_EAGAIN;
    size_t end;
    int rc = read_line(buf, len, *pos + 1, &end);
    if (rc != YKT_OK)
        return rc;
    char type = buf[*pos];
    const char *line = buf + *pos + 1;
    size_t line_len = end - (*pos + 1);
    ykt_reply *r = xcalloc(1, sizeof *r);
    size_t next = end + 2;
    switch (type) {
    case '+':
    case '-':
        r->type = type == '+' ? YKT_REPLY_STATUS : YKT_REPLY_ERROR;
        r->str = xcalloc(line_len + 1, 1);
        memcpy(r->str, line, line_len);
        r->len = line_len;
        break;
    case ':':
    case '$':
    case '*': {
        char num[32];
        if (line_len == 0 || line_len >= sizeof num)
            goto bad;
        memcpy(num, line, line_len);
        num[line_len] = '\0';
        char *e;
        long long v = strtoll(num, &e, 10);
        if (*e != '\0')
            goto bad;
        if (type == ':') {
            r->type = YKT_REPLY_INT;
            r->integer = v;
        } else if (v < 0) {
            r->type = YKT_REPLY_NULL;
        } else if (type == '$') {
            if ((size_t)v > len || next + (size_t)v + 2 > len) {
                ykt_reply_free(r);
                return YKT_EAGAIN;
            }
            if (buf[next + (size_t)v] != '\r' || buf[next + (size_t)v + 1] != '\n')
                goto bad;
            r->type = YKT_REPLY_BULK;
            r->str = xcalloc((size_t)v + 1, 1);
            memcpy(r->str, buf + next, (size_t)v);
            r->len = (size_t)v;
            next += (size_t)v + 2;
        } else {
            if ((size_t)v > len) { /* each element needs at least 3 bytes; cheap sanity bound */
                ykt_reply_free(r);
                return YKT_EAGAIN;
            }
            r->type = YKT_REPLY_ARRAY;
            r->elem = xcalloc((size_t)v, sizeof *r->elem);
            for (long long i = 0; i < v; i++) {
                rc = parse_reply_at(buf, len, &next, depth + 1, &r->elem[i]);
                if (rc != YKT_OK) {
                    r->nelem = (size_t)i;
                    ykt_reply_free(r);
                    return rc;
                }
            }
            r->nelem = (size_t)v;
        }
        break;
    }
    default:
        goto bad;
    }
    *pos = next;
    *out = r;
    return YKT_OK;
bad:
    ykt_reply_free(r);
    return YKT_EINVAL;
}

int ykt_reply_parse(const char *buf, size_t len, ykt_reply **out, size_t *consumed)
{
    size_t pos = 0;
    int rc = parse_reply_at(buf, len, &pos, 0, out);
    if (rc == YKT_OK)
        *consumed = pos;
    return rc;
}
