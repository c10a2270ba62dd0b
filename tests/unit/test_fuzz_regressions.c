/*
 * Regression tests for what the fuzz targets (tests/fuzz, docs/fuzzing.md) found. Each test
 * names the input kept in tests/fuzz/regressions/<target>/, which tools/scripts/fuzz.sh
 * replays through the target as well; this file pins the intended behaviour in the normal
 * test suite, without clang.
 */
#include "test.h"

#include "common.h"
#include "config.h"
#include "resp.h"

/* ---- resp: tests/fuzz/regressions/resp/blank-line-flood ---- */

/*
 * Empty lines before a request are skipped, but the caller keeps them buffered until a
 * request is complete (YKT_EAGAIN consumes nothing). A client sending only empty lines made
 * the gateway buffer them without end; they now count towards the frame of the request they
 * precede.
 */
static void test_resp_blank_line_flood(void)
{
    ykt_resp_limits lim = {.max_frame = 16, .max_args = 7};
    ykt_resp_cmd cmd;
    ykt_resp_cmd_init(&cmd, lim.max_args);
    size_t consumed = 0;
    const char *err = NULL;
    char buf[256];

    /* 200 empty lines and the start of a request: refused, not buffered. */
    memset(buf, '\n', 200);
    memcpy(buf + 200, "PI", 2);
    ASSERT_EQ(ykt_resp_parse(buf, 202, &lim, &cmd, &consumed, &err), YKT_ELIMIT);
    ASSERT_STREQ(err, "too many empty lines");
    /* Only empty lines: refused as soon as they exceed the frame limit... */
    memset(buf, '\n', 17);
    ASSERT_EQ(ykt_resp_parse(buf, 17, &lim, &cmd, &consumed, &err), YKT_ELIMIT);
    /* ...and up to it still "nothing to do yet", as before. */
    ASSERT_EQ(ykt_resp_parse(buf, 16, &lim, &cmd, &consumed, &err), YKT_EAGAIN);

    /* Empty lines within the limit are still skipped, also with CRLF and blanks. */
    memcpy(buf, "\r\n\n \r\n\nPING\r\n", 13);
    ASSERT_EQ(ykt_resp_parse(buf, 13, &lim, &cmd, &consumed, &err), YKT_OK);
    ASSERT_EQ(consumed, 13);
    ASSERT_EQ(cmd.argc, 1);
    ASSERT_STREQ(cmd.argv[0], "PING");

    /* Every prefix of an accepted request is incomplete, never an error: the limit counts
     * the same bytes however they arrive. */
    memset(buf, '\n', 16);
    memcpy(buf + 16, "*1\r\n$4\r\nPING\r\n", 14);
    for (size_t k = 0; k < 30; k++) {
        char copy[64];
        memcpy(copy, buf, k);
        ASSERT_EQ(ykt_resp_parse(copy, k, &lim, &cmd, &consumed, &err), YKT_EAGAIN);
    }
    ASSERT_EQ(ykt_resp_parse(buf, 30, &lim, &cmd, &consumed, &err), YKT_OK);
    ASSERT_EQ(consumed, 30);
    ykt_resp_cmd_free(&cmd);
}

/* ---- ini: tests/fuzz/regressions/ini/ ---- */

static int nfiles;

static const char *write_bytes(const char *content, size_t len)
{
    static char paths[16][128];
    ASSERT(nfiles < 16);
    char *path = paths[nfiles];
    snprintf(path, sizeof paths[0], "%s/f%02d.ini", test_tmpdir, nfiles);
    nfiles++;
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(content, 1, len, f), len);
    ASSERT_EQ(fclose(f), 0);
    return path;
}

/* Loads len bytes; expects YKT_EINVAL with exactly "PATH:" + rest. */
static void expect_error(const char *content, size_t len, const char *rest)
{
    ykt_config cfg;
    ykt_config_defaults(&cfg);
    char err[512] = "", want[512];
    const char *path = write_bytes(content, len);
    int rc = ykt_config_load(&cfg, path, err, sizeof err);
    snprintf(want, sizeof want, "%s:%s", path, rest);
    if (rc != YKT_EINVAL || strcmp(err, want) != 0)
        fprintf(stderr, "rc %d\n got: %s\nwant: %s\n", rc, err, want);
    ASSERT_EQ(rc, YKT_EINVAL);
    ASSERT_STREQ(err, want);
}

/*
 * nul-long-line-comment: a NUL byte hid how long a line was, so the rest of a line longer
 * than inih's buffer came back as a line of its own. Here that turned the tail of a comment
 * into "enabled = yes" in [tls] and the file loaded; the fuzzer's inputs (crash-nul-*) showed
 * it as errors naming a line the file does not have. Such a line is now too long, where it
 * is, and a NUL byte anywhere is refused.
 */
static void test_ini_nul_byte(void)
{
    char file[256];
    size_t n = 0;
    memcpy(file, "[tls]\n; \0", 9);
    n = 9;
    memset(file + n, 'x', 196);
    n += 196;
    memcpy(file + n, "enabled = yes\n", 14);
    n += 14;
    expect_error(file, n, "2: line too long (at most 197 characters)");

    /* crash-nul-long-line: NUL bytes and a long line, all on line 1. */
    memset(file, 0, 128);
    memcpy(file + 128, "p*******luein.wplugn/.n", 23);
    memset(file + 151, 0x16, 60);
    expect_error(file, 211, "1: line too long (at most 197 characters)");

    /* A short line with a NUL byte is refused too, naming its line. */
    expect_error("[campus]\nname = a\0b\n", 20, "2: contains a NUL byte (not a text file)");
}

/* Lines longer than inih's buffer are still reported where they are, and lines after them
 * keep their numbers (the reader no longer uses fgets). */
static void test_ini_long_line_numbers(void)
{
    char file[512];
    size_t n = 0;
    memcpy(file, "[campus]\nname = ", 16);
    n = 16;
    memset(file + n, 'a', 300);
    n += 300;
    memcpy(file + n, "\n[nowhere]\n", 11);
    n += 11;
    expect_error(file, n, "2: line too long (at most 197 characters)");

    expect_error("[campus]\n\n\nname = a\n[nowhere]\n", 29, "5: unknown section [nowhere]");

    /* A file without a final newline still loads. */
    ykt_config cfg;
    ykt_config_defaults(&cfg);
    char err[512] = "";
    const char *path = write_bytes("[campus]\nname = Last Line", 25);
    ASSERT_EQ(ykt_config_load(&cfg, path, err, sizeof err), YKT_OK);
    ASSERT_STREQ(cfg.campus_name, "Last Line");
}

int main(void)
{
    printf("test_fuzz_regressions\n");
    test_tmpdir_create("test-fuzz-regressions");
    RUN(test_resp_blank_line_flood);
    RUN(test_ini_nul_byte);
    RUN(test_ini_long_line_numbers);
    printf("ok\n");
    return 0;
}
