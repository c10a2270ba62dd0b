/* Unit tests for core/src/resp.c: the request parser, the reply writers, the reply reader. */
#include "test.h"

#include "buf.h"
#include "common.h"
#include "resp.h"

#include <stdbool.h>

static const ykt_resp_limits LIM = {.max_frame = 1024, .max_args = 8};

/* Parses a copy of s (exactly len bytes on the heap, so ASan sees any over-read). */
static int parse_copy(const char *s, size_t len, const ykt_resp_limits *lim, ykt_resp_cmd *cmd,
                      size_t *consumed, const char **err, char **copy_out)
{
    char *copy = malloc(len ? len : 1);
    ASSERT(copy != NULL);
    memcpy(copy, s, len);
    int rc = ykt_resp_parse(copy, len, lim, cmd, consumed, err);
    if (copy_out != NULL)
        *copy_out = copy;
    else
        free(copy);
    return rc;
}

/* The rc of parsing the NUL-terminated string s with the given limits. */
static int parse_rc(const char *s, const ykt_resp_limits *lim, const char **err)
{
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, lim->max_args);
    size_t consumed = 12345;
    int rc = parse_copy(s, strlen(s), lim, &cmd, &consumed, err, NULL);
    ykt_resp_cmd_free(&cmd);
    return rc;
}

static void expect_arg(const ykt_resp_cmd *cmd, int i, const char *want)
{
    ASSERT(i < cmd->argc);
    ASSERT_EQ(cmd->argl[i], strlen(want));
    ASSERT(memcmp(cmd->argv[i], want, strlen(want)) == 0);
    ASSERT_EQ(cmd->argv[i][cmd->argl[i]], '\0');
}

static void test_multibulk_basic(void)
{
    const char *s = "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n";
    size_t len = strlen(s);
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    size_t consumed = 0;
    const char *err = "untouched";
    char *buf;
    ASSERT_EQ(parse_copy(s, len, &LIM, &cmd, &consumed, &err, &buf), YKT_OK);
    ASSERT(err == NULL);
    ASSERT_EQ(consumed, len);
    ASSERT_EQ(cmd.argc, 2);
    expect_arg(&cmd, 0, "AUTH");
    expect_arg(&cmd, 1, "secret");
    /* Arguments point into the buffer and are terminated in place, over the '\r'. */
    ASSERT(cmd.argv[0] == buf + 8);
    ASSERT(cmd.argv[1] == buf + 18);
    ASSERT_EQ(buf[12], '\0');
    ASSERT_EQ(buf[13], '\n');
    ASSERT_EQ(buf[24], '\0');
    free(buf);
    ykt_resp_cmd_free(&cmd);
    ASSERT(cmd.argv == NULL && cmd.argl == NULL);
    ASSERT_EQ(cmd.cap, 0);
}

static void test_multibulk_pipelined_consumed(void)
{
    const char *s = "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n";
    char *buf = strdup(s);
    size_t len = strlen(s);
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    size_t consumed = 0;
    const char *err;
    ASSERT_EQ(ykt_resp_parse(buf, len, &LIM, &cmd, &consumed, &err), YKT_OK);
    ASSERT_EQ(consumed, 14);
    ASSERT_EQ(cmd.argc, 1);
    expect_arg(&cmd, 0, "PING");
    /* The next request is untouched by the first parse. */
    ASSERT(memcmp(buf + 14, "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", len - 14) == 0);
    ASSERT_EQ(ykt_resp_parse(buf + 14, len - 14, &LIM, &cmd, &consumed, &err), YKT_OK);
    ASSERT_EQ(consumed, len - 14);
    ASSERT_EQ(cmd.argc, 2);
    expect_arg(&cmd, 0, "ECHO");
    expect_arg(&cmd, 1, "");
    free(buf);
    ykt_resp_cmd_free(&cmd);
}

static void test_multibulk_zero_args(void)
{
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    size_t consumed = 0;
    const char *err;
    ASSERT_EQ(parse_copy("*0\r\n*1\r\n", 8, &LIM, &cmd, &consumed, &err, NULL), YKT_OK);
    ASSERT_EQ(cmd.argc, 0);
    ASSERT_EQ(consumed, 4);
    ykt_resp_cmd_free(&cmd);
}

static void test_binary_safe_args(void)
{
    /* An argument holding NUL, CR and LF bytes; the length alone delimits it. */
    static const char s[] = "*2\r\n$3\r\nSET\r\n$7\r\na\0b\r\nc\0\r\n";
    size_t len = sizeof s - 1;
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    size_t consumed = 0;
    const char *err;
    char *buf;
    ASSERT_EQ(parse_copy(s, len, &LIM, &cmd, &consumed, &err, &buf), YKT_OK);
    ASSERT_EQ(consumed, len);
    ASSERT_EQ(cmd.argc, 2);
    expect_arg(&cmd, 0, "SET");
    ASSERT_EQ(cmd.argl[1], 7);
    ASSERT(memcmp(cmd.argv[1], "a\0b\r\nc\0", 7) == 0);
    ASSERT_EQ(cmd.argv[1][7], '\0');
    free(buf);
    ykt_resp_cmd_free(&cmd);
}

static void test_inline(void)
{
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    size_t consumed = 0;
    const char *err;
    char *buf;
    const char *s = "  AUTH\tt-1   s3cret \r\nPING\r\n";
    ASSERT_EQ(parse_copy(s, strlen(s), &LIM, &cmd, &consumed, &err, &buf), YKT_OK);
    ASSERT_EQ(consumed, 22);
    ASSERT_EQ(cmd.argc, 3);
    expect_arg(&cmd, 0, "AUTH");
    expect_arg(&cmd, 1, "t-1");
    expect_arg(&cmd, 2, "s3cret");
    ASSERT(cmd.argv[0] == buf + 2);
    /* The following request is not touched. */
    ASSERT(memcmp(buf + 22, "PING\r\n", 6) == 0);
    free(buf);

    /* A bare LF ends a line too, and the last word is still terminated. */
    ASSERT_EQ(parse_copy("PING\n", 5, &LIM, &cmd, &consumed, &err, &buf), YKT_OK);
    ASSERT_EQ(consumed, 5);
    ASSERT_EQ(cmd.argc, 1);
    expect_arg(&cmd, 0, "PING");
    free(buf);
    ykt_resp_cmd_free(&cmd);
}

static void test_inline_empty_lines_skipped(void)
{
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    size_t consumed = 0;
    const char *err;
    char *buf;
    const char *s = "\r\n\n   \r\nPING\r\n";
    ASSERT_EQ(parse_copy(s, strlen(s), &LIM, &cmd, &consumed, &err, &buf), YKT_OK);
    ASSERT_EQ(consumed, strlen(s));
    ASSERT_EQ(cmd.argc, 1);
    expect_arg(&cmd, 0, "PING");
    ASSERT(cmd.argv[0] == buf + 8);
    free(buf);

    /* Empty lines before a multibulk request are skipped too. */
    s = "\r\n*1\r\n$4\r\nPING\r\n";
    ASSERT_EQ(parse_copy(s, strlen(s), &LIM, &cmd, &consumed, &err, &buf), YKT_OK);
    ASSERT_EQ(consumed, strlen(s));
    ASSERT_EQ(cmd.argc, 1);
    expect_arg(&cmd, 0, "PING");
    free(buf);

    /* Only empty lines: nothing to do yet, and the lines are left as they were. */
    ASSERT_EQ(parse_copy("\r\n \r\n", 5, &LIM, &cmd, &consumed, &err, &buf), YKT_EAGAIN);
    ASSERT(memcmp(buf, "\r\n \r\n", 5) == 0);
    free(buf);
    ykt_resp_cmd_free(&cmd);
}

/*
 * A blank line arrives alone (Enter in telnet); the server keeps the unconsumed bytes after
 * YKT_EAGAIN and parses them again when more arrive. The retry must see the same request.
 */
static void test_inline_empty_line_then_more_in_same_buffer(void)
{
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    size_t consumed = 0;
    const char *err;
    char buf[32] = "\r\n";
    ASSERT_EQ(ykt_resp_parse(buf, 2, &LIM, &cmd, &consumed, &err), YKT_EAGAIN);
    memcpy(buf + 2, "PING\r\n", 6);
    ASSERT_EQ(ykt_resp_parse(buf, 8, &LIM, &cmd, &consumed, &err), YKT_OK);
    ASSERT_EQ(consumed, 8);
    ASSERT_EQ(cmd.argc, 1);
    expect_arg(&cmd, 0, "PING");
    ykt_resp_cmd_free(&cmd);
}

/* The requests of the stream used by the split tests, with their arguments. */
typedef struct expected_req {
    int argc;
    const char *argv[4];
    size_t argl[4];
} expected_req;

static const char STREAM[] = "*2\r\n$4\r\nAUTH\r\n$3\r\nt-1\r\n"
                             "\r\n"
                             "PING\r\n"
                             "*0\r\n"
                             "*3\r\n$3\r\nPAY\r\n$0\r\n\r\n$4\r\na\0\r\n\r\n"
                             "  \r\n"
                             "TIME  now\n"
                             "*1\r\n$10\r\n0123456789\r\n";
/* Offsets where each request (not the skipped blank lines) ends. */
static const size_t STREAM_ENDS[] = {23, 31, 35, 64, 78, 99};
static const expected_req STREAM_REQS[] = {
    {2, {"AUTH", "t-1"}, {4, 3}},           {1, {"PING"}, {4}},           {0, {NULL}, {0}},
    {3, {"PAY", "", "a\0\r\n"}, {3, 0, 4}}, {2, {"TIME", "now"}, {4, 3}}, {1, {"0123456789"}, {10}},
};

static void check_req(const ykt_resp_cmd *cmd, const expected_req *want)
{
    ASSERT_EQ(cmd->argc, want->argc);
    for (int i = 0; i < want->argc; i++) {
        ASSERT_EQ(cmd->argl[i], want->argl[i]);
        ASSERT(memcmp(cmd->argv[i], want->argv[i], want->argl[i]) == 0);
        ASSERT_EQ(cmd->argv[i][cmd->argl[i]], '\0');
    }
}

static void test_stream_layout(void)
{
    /* Guards the constants above: each request ends right after a '\n'. */
    ASSERT_EQ(sizeof STREAM - 1, 99);
    for (size_t i = 0; i < YKT_ARRAY_LEN(STREAM_ENDS); i++)
        ASSERT_EQ(STREAM[STREAM_ENDS[i] - 1], '\n');
}

/* Every prefix of the stream parses to exactly the requests it holds whole, then EAGAIN. */
static void test_every_split_point_copy(void)
{
    size_t total = sizeof STREAM - 1;
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    for (size_t k = 0; k <= total; k++) {
        char *buf = malloc(k ? k : 1);
        ASSERT(buf != NULL);
        memcpy(buf, STREAM, k);
        size_t off = 0, nreq = 0;
        for (;;) {
            size_t used = 0;
            const char *err = "untouched";
            int rc = ykt_resp_parse(buf + off, k - off, &LIM, &cmd, &used, &err);
            if (rc == YKT_EAGAIN) {
                ASSERT(err == NULL);
                break;
            }
            if (rc != YKT_OK)
                fprintf(stderr, "split %zu at %zu: rc %d (%s)\n", k, off, rc, err);
            ASSERT_EQ(rc, YKT_OK);
            ASSERT(nreq < YKT_ARRAY_LEN(STREAM_REQS));
            off += used;
            ASSERT_EQ(off, STREAM_ENDS[nreq]);
            check_req(&cmd, &STREAM_REQS[nreq]);
            nreq++;
        }
        size_t want = 0;
        while (want < YKT_ARRAY_LEN(STREAM_ENDS) && STREAM_ENDS[want] <= k)
            want++;
        if (nreq != want)
            fprintf(stderr, "split at %zu\n", k);
        ASSERT_EQ(nreq, want);
        /* What is left over was not modified by the EAGAIN parses. */
        ASSERT(memcmp(buf + off, STREAM + off, k - off) == 0);
        free(buf);
    }
    ykt_resp_cmd_free(&cmd);
}

/*
 * The same stream fed one byte at a time into one growing buffer, parsed the way the
 * server does it: unconsumed bytes stay in the buffer and are parsed again.
 */
static void test_byte_by_byte_same_buffer(void)
{
    size_t total = sizeof STREAM - 1;
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, LIM.max_args);
    ykt_buf in;
    ykt_buf_init(&in);
    size_t nreq = 0, stream_pos = 0;
    for (size_t k = 0; k < total; k++) {
        ykt_buf_append(&in, STREAM + k, 1);
        size_t off = 0;
        for (;;) {
            size_t used = 0;
            const char *err = NULL;
            int rc = ykt_resp_parse(in.data + off, in.len - off, &LIM, &cmd, &used, &err);
            if (rc == YKT_EAGAIN)
                break;
            ASSERT_EQ(rc, YKT_OK);
            ASSERT(nreq < YKT_ARRAY_LEN(STREAM_REQS));
            off += used;
            stream_pos += used;
            ASSERT_EQ(stream_pos, STREAM_ENDS[nreq]);
            check_req(&cmd, &STREAM_REQS[nreq]);
            nreq++;
        }
        ykt_buf_consume(&in, off);
    }
    ASSERT_EQ(nreq, YKT_ARRAY_LEN(STREAM_REQS));
    ASSERT_EQ(in.len, 0);
    ykt_buf_free(&in);
    ykt_resp_cmd_free(&cmd);
}

static void test_bulk_over_frame_limit_from_header_alone(void)
{
    ykt_resp_limits lim = {.max_frame = 64, .max_args = 8};
    const char *err = NULL;
    /* No payload byte follows the header: the limit is known from the declared length. */
    ASSERT_EQ(parse_rc("*1\r\n$65\r\n", &lim, &err), YKT_ELIMIT);
    ASSERT_STREQ(err, "request larger than the frame limit");
    ASSERT_EQ(parse_rc("*2\r\n$999999999999999999\r\n", &lim, &err), YKT_ELIMIT);
    /* Header plus payload must fit the frame: 9 bytes of headers + 56 > 64. */
    ASSERT_EQ(parse_rc("*1\r\n$56\r\n", &lim, &err), YKT_ELIMIT);
    /* Exactly at the limit is fine: header "*1\r\n$53\r\n" (9) + 53 + "\r\n" = 64. */
    ASSERT_EQ(parse_rc("*1\r\n$53\r\n", &lim, &err), YKT_EAGAIN);
    char whole[65];
    memcpy(whole, "*1\r\n$53\r\n", 9);
    memset(whole + 9, 'x', 53);
    memcpy(whole + 62, "\r\n", 3);
    ASSERT_EQ(strlen(whole), 64);
    ASSERT_EQ(parse_rc(whole, &lim, &err), YKT_OK);
    /* A second argument pushes the whole request over the limit. */
    ASSERT_EQ(parse_rc("*2\r\n$3\r\nabc\r\n$50\r\n", &lim, &err), YKT_ELIMIT);
}

static void test_too_many_args(void)
{
    ykt_resp_limits lim = {.max_frame = 1024, .max_args = 4};
    const char *err = NULL;
    ASSERT_EQ(parse_rc("*5\r\n", &lim, &err), YKT_ELIMIT);
    ASSERT_STREQ(err, "too many arguments");
    ASSERT_EQ(parse_rc("*4\r\n", &lim, &err), YKT_EAGAIN);
    ASSERT_EQ(parse_rc("A B C D\r\n", &lim, &err), YKT_OK);
    ASSERT_EQ(parse_rc("A B C D E\r\n", &lim, &err), YKT_ELIMIT);
    ASSERT_STREQ(err, "too many arguments");
}

static void test_negative_lengths(void)
{
    const char *err = NULL;
    ASSERT_EQ(parse_rc("*-1\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "negative array length");
    ASSERT_EQ(parse_rc("*1\r\n$-1\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "null or negative bulk length");
    ASSERT_EQ(parse_rc("*1\r\n$-5\r\nabc\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*1\r\n$-\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "invalid length");
}

static void test_missing_crlf(void)
{
    const char *err = NULL;
    ASSERT_EQ(parse_rc("*1\r\n$4\r\nPINGxx", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "bulk string not terminated by CRLF");
    ASSERT_EQ(parse_rc("*1\r\n$4\r\nPING\rx", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*1\r\n$4\r\nPING\n\r", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*1\n$4\r\nPING\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "invalid length");
    ASSERT_EQ(parse_rc("*1\rx", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*1\r\n$4\rx", &LIM, &err), YKT_EINVAL);
    /* Only the bulk marker may follow the array header. */
    ASSERT_EQ(parse_rc("*1\r\nPING\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "expected '$' (bulk string)");
}

static void test_non_digit_lengths(void)
{
    const char *err = NULL;
    ASSERT_EQ(parse_rc("*x\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "invalid length");
    ASSERT_EQ(parse_rc("*\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*1 \r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*+1\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*1\r\n$4a\r\nPING\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*1\r\n$0x4\r\nPING\r\n", &LIM, &err), YKT_EINVAL);
    ASSERT_EQ(parse_rc("*1\r\n$\r\n\r\n", &LIM, &err), YKT_EINVAL);
}

static void test_over_long_length_lines(void)
{
    const char *err = NULL;
    /* 19 digits are refused at once, without waiting for the end of the line. */
    ASSERT_EQ(parse_rc("*1234567890123456789", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "length out of range");
    ASSERT_EQ(parse_rc("*1\r\n$0000000000000000004", &LIM, &err), YKT_EINVAL);
    ASSERT_STREQ(err, "length out of range");
    /* 18 digits are a number (here over the limit), and still incomplete without CRLF. */
    ASSERT_EQ(parse_rc("*1\r\n$000000000000000004", &LIM, &err), YKT_EAGAIN);
    ASSERT_EQ(parse_rc("*1\r\n$000000000000000004\r\nPING\r\n", &LIM, &err), YKT_OK);
}

static void test_inline_too_long(void)
{
    ykt_resp_limits lim = {.max_frame = 100, .max_args = 8};
    char line[200];
    memset(line, 'a', sizeof line);
    line[99] = '\0';
    const char *err = NULL;
    ASSERT_EQ(parse_rc(line, &lim, &err), YKT_EAGAIN);
    line[99] = 'a';
    line[100] = '\0';
    ASSERT_EQ(parse_rc(line, &lim, &err), YKT_ELIMIT);
    ASSERT_STREQ(err, "inline request too long");
    /* A line of 99 bytes plus its LF fits in 100. */
    line[99] = '\n';
    ASSERT_EQ(parse_rc(line, &lim, &err), YKT_OK);
}

static void test_writers(void)
{
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_resp_status(&b, "OK");
    ykt_resp_status(&b, "two\r\nlines\n");
    ykt_resp_error(&b, "BAD\nCODE", "bad %s: %d\r\n+OK", "thing", 42);
    ykt_resp_int(&b, -9000000000LL);
    ykt_resp_bulk(&b, "a\0\r\n", 4);
    ykt_resp_bulks(&b, "hi");
    ykt_resp_bulks(&b, NULL);
    ykt_resp_null(&b);
    ykt_resp_array(&b, 3);
    ykt_resp_bulk(&b, "", 0);
    static const char want[] = "+OK\r\n"
                               "+two  lines \r\n"
                               "-BAD CODE bad thing: 42  +OK\r\n"
                               ":-9000000000\r\n"
                               "$4\r\na\0\r\n\r\n"
                               "$2\r\nhi\r\n"
                               "$-1\r\n"
                               "$-1\r\n"
                               "*3\r\n"
                               "$0\r\n\r\n";
    ASSERT_EQ(b.len, sizeof want - 1);
    ASSERT(memcmp(b.data, want, b.len) == 0);
    ykt_buf_free(&b);
}

static void test_reply_scalars(void)
{
    ykt_reply *r = NULL;
    size_t consumed = 0;
    ASSERT_EQ(ykt_reply_parse("+OK\r\nrest", 9, &r, &consumed), YKT_OK);
    ASSERT_EQ(consumed, 5);
    ASSERT_EQ(r->type, YKT_REPLY_STATUS);
    ASSERT_STREQ(r->str, "OK");
    ASSERT_EQ(r->len, 2);
    ykt_reply_free(r);

    ASSERT_EQ(ykt_reply_parse("-NOAUTH authenticate first\r\n", 28, &r, &consumed), YKT_OK);
    ASSERT_EQ(r->type, YKT_REPLY_ERROR);
    ASSERT_STREQ(r->str, "NOAUTH authenticate first");
    ykt_reply_free(r);

    ASSERT_EQ(ykt_reply_parse(":-42\r\n", 6, &r, &consumed), YKT_OK);
    ASSERT_EQ(r->type, YKT_REPLY_INT);
    ASSERT_EQ(r->integer, -42);
    ykt_reply_free(r);

    static const char bulk[] = "$5\r\na\0\r\nb\r\n";
    ASSERT_EQ(ykt_reply_parse(bulk, sizeof bulk - 1, &r, &consumed), YKT_OK);
    ASSERT_EQ(consumed, sizeof bulk - 1);
    ASSERT_EQ(r->type, YKT_REPLY_BULK);
    ASSERT_EQ(r->len, 5);
    ASSERT(memcmp(r->str, "a\0\r\nb", 6) == 0);
    ykt_reply_free(r);

    ASSERT_EQ(ykt_reply_parse("$-1\r\n", 5, &r, &consumed), YKT_OK);
    ASSERT_EQ(consumed, 5);
    ASSERT_EQ(r->type, YKT_REPLY_NULL);
    ASSERT(r->str == NULL);
    ykt_reply_free(r);

    ASSERT_EQ(ykt_reply_parse("*-1\r\n", 5, &r, &consumed), YKT_OK);
    ASSERT_EQ(r->type, YKT_REPLY_NULL);
    ykt_reply_free(r);
}

static void test_reply_nested_arrays(void)
{
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_resp_array(&b, 3);
    ykt_resp_status(&b, "TABLE");
    ykt_resp_array(&b, 2);
    ykt_resp_bulks(&b, "id");
    ykt_resp_null(&b);
    ykt_resp_array(&b, 0);
    ykt_resp_int(&b, 7); /* the next reply */
    ykt_reply *r = NULL;
    size_t consumed = 0;
    ASSERT_EQ(ykt_reply_parse(b.data, b.len, &r, &consumed), YKT_OK);
    ASSERT_EQ(consumed, b.len - 4);
    ASSERT_EQ(r->type, YKT_REPLY_ARRAY);
    ASSERT_EQ(r->nelem, 3);
    ASSERT_EQ(r->elem[0]->type, YKT_REPLY_STATUS);
    ASSERT_STREQ(r->elem[0]->str, "TABLE");
    ASSERT_EQ(r->elem[1]->type, YKT_REPLY_ARRAY);
    ASSERT_EQ(r->elem[1]->nelem, 2);
    ASSERT_EQ(r->elem[1]->elem[0]->type, YKT_REPLY_BULK);
    ASSERT_STREQ(r->elem[1]->elem[0]->str, "id");
    ASSERT_EQ(r->elem[1]->elem[1]->type, YKT_REPLY_NULL);
    ASSERT_EQ(r->elem[2]->type, YKT_REPLY_ARRAY);
    ASSERT_EQ(r->elem[2]->nelem, 0);
    ykt_reply_free(r);

    /* Every strict prefix is incomplete. */
    for (size_t k = 0; k < b.len - 4; k++) {
        char *copy = malloc(k ? k : 1);
        memcpy(copy, b.data, k);
        r = NULL;
        ASSERT_EQ(ykt_reply_parse(copy, k, &r, &consumed), YKT_EAGAIN);
        ASSERT(r == NULL);
        free(copy);
    }
    ykt_buf_free(&b);
}

static void test_reply_depth_limit(void)
{
    ykt_reply *r = NULL;
    size_t consumed = 0;
    for (int depth = 1; depth <= 12; depth++) {
        ykt_buf b;
        ykt_buf_init(&b);
        for (int i = 0; i < depth; i++)
            ykt_resp_array(&b, 1);
        ykt_resp_int(&b, 1);
        r = NULL;
        int rc = ykt_reply_parse(b.data, b.len, &r, &consumed);
        /* Eight nested arrays are accepted, nine are refused. */
        if (depth <= 8) {
            ASSERT_EQ(rc, YKT_OK);
            ASSERT_EQ(consumed, b.len);
            ykt_reply *e = r;
            for (int i = 0; i < depth; i++) {
                ASSERT_EQ(e->type, YKT_REPLY_ARRAY);
                ASSERT_EQ(e->nelem, 1);
                e = e->elem[0];
            }
            ASSERT_EQ(e->type, YKT_REPLY_INT);
            ykt_reply_free(r);
        } else {
            ASSERT_EQ(rc, YKT_EINVAL);
        }
        ykt_buf_free(&b);
    }
}

static void test_reply_incomplete_and_malformed(void)
{
    ykt_reply *r = NULL;
    size_t consumed = 0;
    ASSERT_EQ(ykt_reply_parse("", 0, &r, &consumed), YKT_EAGAIN);
    ASSERT_EQ(ykt_reply_parse("+OK", 3, &r, &consumed), YKT_EAGAIN);
    ASSERT_EQ(ykt_reply_parse("+OK\r", 4, &r, &consumed), YKT_EAGAIN);
    ASSERT_EQ(ykt_reply_parse("$5\r\nabc", 7, &r, &consumed), YKT_EAGAIN);
    ASSERT_EQ(ykt_reply_parse("$3\r\nabc\r", 8, &r, &consumed), YKT_EAGAIN);
    ASSERT_EQ(ykt_reply_parse("*2\r\n:1\r\n", 8, &r, &consumed), YKT_EAGAIN);
    ASSERT_EQ(ykt_reply_parse("$1000\r\nabc", 10, &r, &consumed), YKT_EAGAIN);
    ASSERT(r == NULL);

    ASSERT_EQ(ykt_reply_parse("?x\r\n", 4, &r, &consumed), YKT_EINVAL);
    ASSERT_EQ(ykt_reply_parse("+OK\rX", 5, &r, &consumed), YKT_EINVAL);
    ASSERT_EQ(ykt_reply_parse(":12a\r\n", 6, &r, &consumed), YKT_EINVAL);
    ASSERT_EQ(ykt_reply_parse(":\r\n", 3, &r, &consumed), YKT_EINVAL);
    ASSERT_EQ(ykt_reply_parse("$x\r\n", 4, &r, &consumed), YKT_EINVAL);
    ASSERT_EQ(ykt_reply_parse("*1\r\n?\r\n", 7, &r, &consumed), YKT_EINVAL);
    /* The bulk payload must end with CRLF. */
    ASSERT_EQ(ykt_reply_parse("$3\r\nabcXY", 9, &r, &consumed), YKT_EINVAL);
    ASSERT(r == NULL);
}

int main(void)
{
    printf("test_resp\n");
    RUN(test_multibulk_basic);
    RUN(test_multibulk_pipelined_consumed);
    RUN(test_multibulk_zero_args);
    RUN(test_binary_safe_args);
    RUN(test_inline);
    RUN(test_inline_empty_lines_skipped);
    RUN(test_inline_empty_line_then_more_in_same_buffer);
    RUN(test_stream_layout);
    RUN(test_every_split_point_copy);
    RUN(test_byte_by_byte_same_buffer);
    RUN(test_bulk_over_frame_limit_from_header_alone);
    RUN(test_too_many_args);
    RUN(test_negative_lengths);
    RUN(test_missing_crlf);
    RUN(test_non_digit_lengths);
    RUN(test_over_long_length_lines);
    RUN(test_inline_too_long);
    RUN(test_writers);
    RUN(test_reply_scalars);
    RUN(test_reply_nested_arrays);
    RUN(test_reply_depth_limit);
    RUN(test_reply_incomplete_and_malformed);
    printf("ok\n");
    return 0;
}
