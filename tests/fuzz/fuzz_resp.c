/*
 * Fuzz target: the RESP request parser (ykt_resp_parse) and the reply reader clients use
 * (ykt_reply_parse).
 *
 * Input: byte 0 picks the limits (max_frame, max_args), the rest is what a client sends on
 * one connection. Invariants:
 *   - the parser never reads outside the bytes it is given (the stream is copied into an
 *     allocation of exactly that size, so AddressSanitizer sees any overread);
 *   - an accepted request lies inside the consumed bytes, every argument is NUL-terminated in
 *     place, argc is within max_args, and a request never exceeds the frame limit;
 *   - every strict prefix of an accepted request is "incomplete" (YKT_EAGAIN): feeding the same
 *     bytes in smaller pieces can never change the outcome; parsing exactly the consumed bytes
 *     again gives the same arguments;
 *   - "incomplete" never holds more bytes than the limits allow: a client cannot make the
 *     gateway buffer an unbounded request;
 *   - errors come with a message; the re-encoded request (multibulk) parses to the same
 *     arguments;
 *   - replies written with the reply writers read back as what was written.
 */
#include "fuzz.h"

#include "buf.h"
#include "common.h"
#include "resp.h"

#include <string.h>

/* Length lines, CRLFs and blank lines allowed in front of the frame limit. */
#define SLACK 64

static const size_t frame_limits[] = {16, 64, 256, 4096, 1 << 20};
static const int arg_limits[] = {1, 2, 4, 7, 16, 256};

typedef struct parsed {
    int rc;
    size_t consumed;
    int argc;
    const char *err;
} parsed;

static parsed parse_copy(const char *bytes, size_t len, const ykt_resp_limits *lim,
                         ykt_resp_cmd *cmd, char **copy_out)
{
    /* An allocation of exactly len bytes: reading past it is an ASan report. */
    char *copy = malloc(len ? len : 1);
    CHECK(copy != NULL);
    memcpy(copy, bytes, len);
    parsed p = {0};
    cmd->argc = -1;
    p.rc = ykt_resp_parse(copy, len, lim, cmd, &p.consumed, &p.err);
    p.argc = cmd->argc;
    if (copy_out != NULL)
        *copy_out = copy;
    else
        free(copy);
    return p;
}

static void check_request(const char *buf, size_t consumed, const ykt_resp_limits *lim,
                          const ykt_resp_cmd *cmd)
{
    CHECK(consumed > 0);
    CHECK(cmd->argc >= 0 && cmd->argc <= lim->max_args && cmd->argc <= cmd->cap);
    for (int i = 0; i < cmd->argc; i++) {
        const char *a = cmd->argv[i];
        CHECK(a >= buf && a + cmd->argl[i] < buf + consumed);
        CHECK(a[cmd->argl[i]] == '\0');
        /* No argument is larger than a frame. */
        CHECK(cmd->argl[i] <= lim->max_frame);
    }
}

/* Writes args as a multibulk request, the canonical form every client library sends. */
static void encode_request(ykt_buf *b, int argc, char **argv, const size_t *argl)
{
    ykt_resp_array(b, argc);
    for (int i = 0; i < argc; i++)
        ykt_resp_bulk(b, argv[i], argl[i]);
}

static void check_reencoded(const ykt_resp_cmd *cmd, const ykt_resp_limits *lim)
{
    if (cmd->argc == 0)
        return;
    ykt_buf b;
    ykt_buf_init(&b);
    encode_request(&b, cmd->argc, cmd->argv, cmd->argl);
    ykt_resp_limits wide = {.max_frame = b.len + SLACK, .max_args = lim->max_args};
    ykt_resp_cmd again;
    ykt_resp_cmd_init(&again, wide.max_args);
    char *copy;
    parsed p = parse_copy(b.data, b.len, &wide, &again, &copy);
    CHECK(p.rc == YKT_OK);
    CHECK(p.consumed == b.len);
    CHECK(again.argc == cmd->argc);
    for (int i = 0; i < cmd->argc; i++) {
        CHECK(again.argl[i] == cmd->argl[i]);
        CHECK(memcmp(again.argv[i], cmd->argv[i], cmd->argl[i]) == 0);
    }
    free(copy);
    ykt_resp_cmd_free(&again);
    ykt_buf_free(&b);
}

/* Prefixes of an accepted request must be incomplete; the request alone parses the same. */
static void check_prefixes(const char *orig, size_t consumed, const ykt_resp_limits *lim,
                           const ykt_resp_cmd *cmd)
{
    ykt_resp_cmd c2;
    ykt_resp_cmd_init(&c2, lim->max_args);
    /* All prefixes of short requests, a spread of them for long ones. */
    size_t step = consumed <= 256 ? 1 : consumed / 97 + 1;
    for (size_t k = 0; k < consumed; k += step) {
        parsed p = parse_copy(orig, k, lim, &c2, NULL);
        if (p.rc != YKT_EAGAIN) {
            fprintf(stderr, "prefix of %zu of a %zu-byte request: rc %d (%s)\n", k, consumed, p.rc,
                    p.err ? p.err : "");
            CHECK(p.rc == YKT_EAGAIN);
        }
    }
    char *copy;
    parsed p = parse_copy(orig, consumed, lim, &c2, &copy);
    CHECK(p.rc == YKT_OK && p.consumed == consumed && c2.argc == cmd->argc);
    for (int i = 0; i < cmd->argc; i++)
        CHECK(c2.argl[i] == cmd->argl[i] && memcmp(c2.argv[i], cmd->argv[i], c2.argl[i]) == 0);
    free(copy);
    ykt_resp_cmd_free(&c2);
}

static void fuzz_requests(const uint8_t *data, size_t size, const ykt_resp_limits *lim)
{
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, lim->max_args);
    size_t off = 0;
    for (int frames = 0; frames < 64; frames++) {
        const char *orig = (const char *)data + off;
        size_t len = size - off;
        char *copy;
        parsed p = parse_copy(orig, len, lim, &cmd, &copy);
        if (p.rc == YKT_OK) {
            CHECK(p.consumed <= len);
            CHECK(p.argc == cmd.argc);
            check_request(copy, p.consumed, lim, &cmd);
            check_prefixes(orig, p.consumed, lim, &cmd);
            check_reencoded(&cmd, lim);
            off += p.consumed;
            free(copy);
            if (off == size)
                break;
            continue;
        }
        free(copy);
        if (p.rc == YKT_EAGAIN) {
            /* What the gateway keeps buffering for this connection must stay bounded. */
            if (len > 2 * lim->max_frame + SLACK) {
                fprintf(stderr, "%zu bytes still incomplete with max_frame %zu\n", len,
                        lim->max_frame);
                CHECK(len <= 2 * lim->max_frame + SLACK);
            }
        } else {
            CHECK(p.rc == YKT_EINVAL || p.rc == YKT_ELIMIT);
            CHECK(p.err != NULL && p.err[0] != '\0');
        }
        break;
    }
    ykt_resp_cmd_free(&cmd);
}

static void free_reply_checked(ykt_reply *r, int depth)
{
    CHECK(depth <= 9);
    if (r->type == YKT_REPLY_ARRAY)
        for (size_t i = 0; i < r->nelem; i++)
            free_reply_checked(r->elem[i], depth + 1);
    else if (r->type == YKT_REPLY_STATUS || r->type == YKT_REPLY_ERROR || r->type == YKT_REPLY_BULK)
        CHECK(r->str != NULL && r->str[r->len] == '\0');
}

/* The reply reader (yktctl, ykt-cardsim, ykt-bench read the gateway with it). */
static void fuzz_replies(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    memcpy(copy, data, size);
    ykt_reply *r = NULL;
    size_t consumed = 0;
    int rc = ykt_reply_parse(copy, size, &r, &consumed);
    if (rc == YKT_OK) {
        CHECK(r != NULL && consumed > 0 && consumed <= size);
        free_reply_checked(r, 0);
        ykt_reply_free(r);
        /* Prefixes of an accepted reply are incomplete. */
        for (size_t k = 0; k < consumed; k += consumed <= 256 ? 1 : consumed / 97 + 1) {
            ykt_reply *pr = NULL;
            size_t pc = 0;
            int prc = ykt_reply_parse(copy, k, &pr, &pc);
            CHECK(prc == YKT_EAGAIN);
        }
    } else {
        CHECK(rc == YKT_EAGAIN || rc == YKT_EINVAL);
    }
    free(copy);

    /* Replies the gateway writes read back as written, whatever the bytes. */
    ykt_buf b;
    ykt_buf_init(&b);
    ykt_resp_array(&b, 3);
    ykt_resp_bulk(&b, data, size);
    char text[128];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    ykt_resp_error(&b, "BAD_REQUEST", "%s", text);
    ykt_resp_int(&b, (int64_t)size - 1000);
    r = NULL;
    CHECK(ykt_reply_parse(b.data, b.len, &r, &consumed) == YKT_OK);
    CHECK(consumed == b.len && r->type == YKT_REPLY_ARRAY && r->nelem == 3);
    CHECK(r->elem[0]->type == YKT_REPLY_BULK && r->elem[0]->len == size);
    CHECK(size == 0 || memcmp(r->elem[0]->str, data, size) == 0);
    CHECK(r->elem[1]->type == YKT_REPLY_ERROR);
    CHECK(strncmp(r->elem[1]->str, "BAD_REQUEST ", 12) == 0);
    CHECK(r->elem[2]->type == YKT_REPLY_INT && r->elem[2]->integer == (int64_t)size - 1000);
    ykt_reply_free(r);
    ykt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = fuzz_take(&data, &size);
    ykt_resp_limits lim = {
        .max_frame = frame_limits[(sel & 0x0f) % (sizeof frame_limits / sizeof *frame_limits)],
        .max_args = arg_limits[(sel >> 4) % (sizeof arg_limits / sizeof *arg_limits)],
    };
    fuzz_requests(data, size, &lim);
    fuzz_replies(data, size);
    return 0;
}
