/* Unit tests for core/src/config.c: defaults, INI loading, --set overrides, validation. */
#include "test.h"

#include "common.h"
#include "config.h"
#include "log.h"

#include <stdbool.h>
#include <unistd.h>

static int nfiles;

/* Writes content into a fresh file in the test directory; returns its path (static). */
static const char *write_file(const char *content)
{
    static char paths[64][128];
    ASSERT(nfiles < 64);
    char *path = paths[nfiles];
    snprintf(path, sizeof paths[0], "%s/f%02d.ini", test_tmpdir, nfiles);
    nfiles++;
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(content, 1, strlen(content), f), strlen(content));
    ASSERT_EQ(fclose(f), 0);
    return path;
}

/* Loads content on top of the defaults; returns the rc and leaves the message in err. */
static int load(const char *content, ykt_config *cfg, char *err, size_t errlen,
                const char **path_out)
{
    const char *path = write_file(content);
    ykt_config_defaults(cfg);
    err[0] = '\0';
    int rc = ykt_config_load(cfg, path, err, errlen);
    if (path_out != NULL)
        *path_out = path;
    return rc;
}

/* Expects loading content to fail with exactly "PATH:" + rest. */
static void expect_load_error(const char *content, const char *rest)
{
    ykt_config cfg;
    char err[512], want[512];
    const char *path;
    int rc = load(content, &cfg, err, sizeof err, &path);
    snprintf(want, sizeof want, "%s:%s", path, rest);
    if (rc != YKT_EINVAL || strcmp(err, want) != 0)
        fprintf(stderr, "rc %d\n got: %s\nwant: %s\n", rc, err, want);
    ASSERT_EQ(rc, YKT_EINVAL);
    ASSERT_STREQ(err, want);
}

static void test_defaults(void)
{
    ykt_config cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    ykt_config_defaults(&cfg);
    ASSERT_STREQ(cfg.campus_name, "Demo University");
    ASSERT_STREQ(cfg.timezone, "Asia/Shanghai");
    ASSERT_STREQ(cfg.terminal_listen, "127.0.0.1:7070");
    ASSERT_EQ(cfg.max_connections, 10000);
    ASSERT_EQ(cfg.max_frame_bytes, 1048576);
    ASSERT_EQ(cfg.max_args, 256);
    ASSERT_EQ(cfg.max_pipeline, 128);
    ASSERT_EQ(cfg.idle_timeout_ms, 300000);
    ASSERT_EQ(cfg.auth_timeout_ms, 10000);
    ASSERT_EQ(cfg.max_auth_failures, 3);
    ASSERT_EQ(cfg.last_seen_flush_ms, 10000);
    ASSERT(!cfg.tls_enabled);
    ASSERT_STREQ(cfg.tls_cert, "");
    ASSERT_STREQ(cfg.tls_key, "");
    ASSERT_STREQ(cfg.tls_ca, "");
    ASSERT_EQ(cfg.tls_verify_client, YKT_TLS_VERIFY_NONE);
    ASSERT(!cfg.tls_client_cn_is_terminal);
    ASSERT_STREQ(cfg.admin_socket, "var/yktd.sock");
    ASSERT_EQ(cfg.admin_socket_mode, 0660);
    ASSERT(cfg.admin_local_superuser);
    ASSERT_EQ(cfg.admin_idle_timeout_ms, 3600000);
    ASSERT_EQ(cfg.login_max_failures, 5);
    ASSERT_EQ(cfg.login_lock_ms, 1800000);
    ASSERT_STREQ(cfg.storage_path, "var/ykt.db");
    ASSERT_EQ(cfg.log_level, YKT_LOG_INFO);
    ASSERT_STREQ(cfg.log_file, "");
    char err[256] = "";
    ASSERT_EQ(ykt_config_validate(&cfg, err, sizeof err), YKT_OK);
}

static void test_load_full_file(void)
{
    ykt_config cfg;
    char err[512];
    const char *content = "; a comment\n"
                          "# another comment\n"
                          "\n"
                          "[campus]\n"
                          "name = Test University ; inline comment\n"
                          "timezone=UTC\n"
                          "[terminal]\r\n"
                          "listen = [::1]:0\r\n"
                          "max_connections = 5\n"
                          "max_frame_bytes = 64k\n"
                          "max_args = 4096\n"
                          "max_pipeline = 1\n"
                          "idle_timeout = 500ms\n"
                          "auth_timeout = 2m\n"
                          "max_auth_failures = 100\n"
                          "last_seen_flush = 1h\n"
                          "[tls]\n"
                          "enabled = yes\n"
                          "cert = /etc/ykt/cert.pem\n"
                          "key = /etc/ykt/key.pem\n"
                          "ca = /etc/ykt/ca.pem\n"
                          "verify_client = required\n"
                          "client_cn_is_terminal = on\n"
                          "[admin]\n"
                          "socket = /run/ykt.sock\n"
                          "socket_mode = 0600\n"
                          "local_superuser = false\n"
                          "idle_timeout = 1d\n"
                          "login_max_failures = 1\n"
                          "login_lock = 1s\n"
                          "[storage]\n"
                          "path = /var/lib/ykt/ykt.db\n"
                          "[log]\n"
                          "level = debug\n"
                          "file = /var/log/ykt.log\n";
    ASSERT_EQ(load(content, &cfg, err, sizeof err, NULL), YKT_OK);
    ASSERT_STREQ(cfg.campus_name, "Test University");
    ASSERT_STREQ(cfg.timezone, "UTC");
    ASSERT_STREQ(cfg.terminal_listen, "[::1]:0");
    ASSERT_EQ(cfg.max_connections, 5);
    ASSERT_EQ(cfg.max_frame_bytes, 65536);
    ASSERT_EQ(cfg.max_args, 4096);
    ASSERT_EQ(cfg.max_pipeline, 1);
    ASSERT_EQ(cfg.idle_timeout_ms, 500);
    ASSERT_EQ(cfg.auth_timeout_ms, 120000);
    ASSERT_EQ(cfg.max_auth_failures, 100);
    ASSERT_EQ(cfg.last_seen_flush_ms, 3600000);
    ASSERT(cfg.tls_enabled);
    ASSERT_STREQ(cfg.tls_cert, "/etc/ykt/cert.pem");
    ASSERT_STREQ(cfg.tls_key, "/etc/ykt/key.pem");
    ASSERT_STREQ(cfg.tls_ca, "/etc/ykt/ca.pem");
    ASSERT_EQ(cfg.tls_verify_client, YKT_TLS_VERIFY_REQUIRED);
    ASSERT(cfg.tls_client_cn_is_terminal);
    ASSERT_STREQ(cfg.admin_socket, "/run/ykt.sock");
    ASSERT_EQ(cfg.admin_socket_mode, 0600);
    ASSERT(!cfg.admin_local_superuser);
    ASSERT_EQ(cfg.admin_idle_timeout_ms, 86400000);
    ASSERT_EQ(cfg.login_max_failures, 1);
    ASSERT_EQ(cfg.login_lock_ms, 1000);
    ASSERT_STREQ(cfg.storage_path, "/var/lib/ykt/ykt.db");
    ASSERT_EQ(cfg.log_level, YKT_LOG_DEBUG);
    ASSERT_STREQ(cfg.log_file, "/var/log/ykt.log");
}

static void test_load_keeps_unset_keys(void)
{
    ykt_config cfg;
    char err[512];
    ASSERT_EQ(load("[terminal]\nmax_args = 16\n", &cfg, err, sizeof err, NULL), YKT_OK);
    ASSERT_EQ(cfg.max_args, 16);
    ASSERT_EQ(cfg.max_pipeline, 128);
    ASSERT_STREQ(cfg.campus_name, "Demo University");
    /* A second file applies on top of the first; its own keys may repeat the first's. */
    const char *path = write_file("[terminal]\nmax_args = 32\n[campus]\nname = Two\n");
    ASSERT_EQ(ykt_config_load(&cfg, path, err, sizeof err), YKT_OK);
    ASSERT_EQ(cfg.max_args, 32);
    ASSERT_STREQ(cfg.campus_name, "Two");
    /* An empty file changes nothing. */
    ASSERT_EQ(load("", &cfg, err, sizeof err, NULL), YKT_OK);
    ASSERT_EQ(cfg.max_args, 256);
}

static void test_load_missing_file(void)
{
    ykt_config cfg;
    ykt_config_defaults(&cfg);
    char err[512], path[128];
    snprintf(path, sizeof path, "%s/does-not-exist.ini", test_tmpdir);
    ASSERT_EQ(ykt_config_load(&cfg, path, err, sizeof err), YKT_EIO);
    char want[256];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    ASSERT_STREQ(err, want);
}

static void test_unknown_section_and_key(void)
{
    /* An unknown section is reported at its header line, even when it holds no key. */
    expect_load_error("[campus]\nname = x\n\n[bogus]\nx = 1\n", "4: unknown section [bogus]");
    expect_load_error("[campus]\nname = x\n[empty]\n", "3: unknown section [empty]");
    expect_load_error("; top\nname = x\n", "2: unknown section []");
    expect_load_error("[campus]\nname = x\ncolour = blue\n", "3: unknown key 'colour' in [campus]");
    /* Section and key names are case-sensitive. */
    expect_load_error("[Campus]\nname = x\n", "1: unknown section [Campus]");
    expect_load_error("[campus]\nNAME = x\n", "2: unknown key 'NAME' in [campus]");
    /* A key of another section is unknown here. */
    expect_load_error("[tls]\n\n\n\nlisten = 127.0.0.1:1\n", "5: unknown key 'listen' in [tls]");
}

static void test_duplicate_key(void)
{
    expect_load_error("[campus]\nname = a\ntimezone = UTC\nname = b\n",
                      "4: [campus] name is set twice");
    /* Also when the section is opened twice. */
    expect_load_error("[terminal]\nmax_args = 8\n[campus]\nname = a\n[terminal]\n"
                      "max_args = 8\n",
                      "6: [terminal] max_args is set twice");
}

static void test_bad_values(void)
{
    expect_load_error("[terminal]\nmax_args = 5000\n",
                      "2: [terminal] max_args: must be between 4 and 4096 (got '5000')");
    expect_load_error("[terminal]\nmax_args = 3\n",
                      "2: [terminal] max_args: must be between 4 and 4096 (got '3')");
    expect_load_error("[terminal]\n\nmax_connections = 12x\n",
                      "3: [terminal] max_connections: expected an integer, got '12x'");
    expect_load_error("[terminal]\nmax_connections = 99999999999999999999\n",
                      "2: [terminal] max_connections: expected an integer, got "
                      "'99999999999999999999'");
    expect_load_error("[terminal]\nmax_frame_bytes = 1q\n",
                      "2: [terminal] max_frame_bytes: expected a size such as 4096, 64k or 1m, "
                      "got '1q'");
    expect_load_error("[terminal]\nmax_frame_bytes = 100\n",
                      "2: [terminal] max_frame_bytes: must be between 256 and 67108864 bytes "
                      "(got '100')");
    expect_load_error("[terminal]\nmax_frame_bytes = 65m\n",
                      "2: [terminal] max_frame_bytes: must be between 256 and 67108864 bytes "
                      "(got '65m')");
    expect_load_error("[terminal]\nidle_timeout = 5 minutes\n",
                      "2: [terminal] idle_timeout: expected a duration such as 500ms, 30s, 5m "
                      "or 2h, got '5 minutes'");
    expect_load_error("[terminal]\nidle_timeout = 99ms\n",
                      "2: [terminal] idle_timeout: must be between 100 and 86400000 ms "
                      "(got '99ms')");
    expect_load_error("[campus]\nname = x\n[tls]\nenabled = maybe\n",
                      "4: [tls] enabled: expected yes or no, got 'maybe'");
    expect_load_error("[tls]\nverify_client = always\n",
                      "2: [tls] verify_client: unknown value 'always'");
    expect_load_error("[tls]\nverify_client = Required\n",
                      "2: [tls] verify_client: unknown value 'Required'");
    expect_load_error("[terminal]\nlisten = localhost\n",
                      "2: [terminal] listen: expected HOST:PORT, got 'localhost'");
    expect_load_error("[terminal]\nlisten = 127.0.0.1:70000\n",
                      "2: [terminal] listen: expected HOST:PORT, got '127.0.0.1:70000'");
    expect_load_error("[terminal]\nlisten = [::1]7070\n",
                      "2: [terminal] listen: expected HOST:PORT, got '[::1]7070'");
    expect_load_error("[admin]\nsocket_mode = 0999\n",
                      "2: [admin] socket_mode: expected an octal mode such as 0660, got '0999'");
    expect_load_error("[admin]\nsocket_mode = 01000\n",
                      "2: [admin] socket_mode: must be between 0 and 511 (got '01000')");
    expect_load_error("[log]\nlevel = verbose\n",
                      "2: [log] level: expected debug, info, warn or error, got 'verbose'");
    /* An empty value is a bad value for every typed key. */
    expect_load_error("[terminal]\nmax_pipeline =\n",
                      "2: [terminal] max_pipeline: expected an integer, got ''");
    /* A string longer than its field. */
    char content[256];
    char name[140];
    memset(name, 'n', 128);
    name[128] = '\0';
    snprintf(content, sizeof content, "[campus]\nname = %s\n", name);
    expect_load_error(content, "2: [campus] name: value longer than 127 bytes");
    name[127] = '\0';
    ykt_config cfg;
    char err[512];
    snprintf(content, sizeof content, "[campus]\nname = %s\n", name);
    ASSERT_EQ(load(content, &cfg, err, sizeof err, NULL), YKT_OK);
    ASSERT_EQ(strlen(cfg.campus_name), 127);
}

static void test_first_error_wins(void)
{
    /* Loading stops at the first error; later lines are not reported. */
    expect_load_error("[terminal]\nmax_args = 1\nbogus = 2\n",
                      "2: [terminal] max_args: must be between 4 and 4096 (got '1')");
}

static void test_syntax_error(void)
{
    expect_load_error("[campus]\nname = x\nthis line has no equals sign\n",
                      "3: syntax error (expected [section] or key = value)");
    expect_load_error("[campus\nname = x\n", "1: syntax error (expected [section] or key = value)");
}

static void test_line_too_long(void)
{
    /* 197 characters is the longest line (inih needs room for CR, LF and NUL). */
    char line[400], content[600];
    memset(line, 'x', sizeof line);
    line[197 - 7] = '\0'; /* "name = " + 190 = 197 */
    ykt_config cfg;
    char err[512];
    snprintf(content, sizeof content, "[campus]\n\nname = %s\n", line);
    ASSERT_EQ(load(content, &cfg, err, sizeof err, NULL), YKT_EINVAL);
    /* 190 > 127: the value itself is refused, proving the line was read whole. */
    ASSERT_CONTAINS(err, ":3: [campus] name: value longer than 127 bytes");

    memset(line, 'x', sizeof line);
    line[300] = '\0';
    snprintf(content, sizeof content, "[campus]\n; fine\nname = %s\ntimezone = UTC\n", line);
    expect_load_error(content, "3: line too long (at most 197 characters)");
    /* A long comment line is too long as well, and the last line is counted too. */
    snprintf(content, sizeof content, "[campus]\nname = a\n;%s", line);
    expect_load_error(content, "3: line too long (at most 197 characters)");
}

static void test_set_overrides(void)
{
    ykt_config cfg;
    ykt_config_defaults(&cfg);
    char err[256] = "";
    ASSERT_EQ(ykt_config_set(&cfg, "campus.name=Override U", err, sizeof err), YKT_OK);
    ASSERT_STREQ(cfg.campus_name, "Override U");
    ASSERT_EQ(ykt_config_set(&cfg, "campus.name=a=b", err, sizeof err), YKT_OK);
    ASSERT_STREQ(cfg.campus_name, "a=b");
    ASSERT_EQ(ykt_config_set(&cfg, "terminal.max_args=8", err, sizeof err), YKT_OK);
    ASSERT_EQ(cfg.max_args, 8);
    ASSERT_EQ(ykt_config_set(&cfg, "terminal.listen=127.0.0.1:0", err, sizeof err), YKT_OK);
    ASSERT_STREQ(cfg.terminal_listen, "127.0.0.1:0");
    ASSERT_EQ(ykt_config_set(&cfg, "tls.verify_client=optional", err, sizeof err), YKT_OK);
    ASSERT_EQ(cfg.tls_verify_client, YKT_TLS_VERIFY_OPTIONAL);
    ASSERT_EQ(ykt_config_set(&cfg, "log.level=error", err, sizeof err), YKT_OK);
    ASSERT_EQ(cfg.log_level, YKT_LOG_ERROR);
    ASSERT_EQ(ykt_config_set(&cfg, "admin.idle_timeout=90s", err, sizeof err), YKT_OK);
    ASSERT_EQ(cfg.admin_idle_timeout_ms, 90000);
    /* --set may repeat a key (the last one wins). */
    ASSERT_EQ(ykt_config_set(&cfg, "terminal.max_args=9", err, sizeof err), YKT_OK);
    ASSERT_EQ(cfg.max_args, 9);
    ASSERT_EQ(ykt_config_set(&cfg, "storage.path=", err, sizeof err), YKT_OK);
    ASSERT_STREQ(cfg.storage_path, "");
}

static void expect_set_error(const char *assignment, const char *want)
{
    ykt_config cfg;
    ykt_config_defaults(&cfg);
    ykt_config before = cfg;
    char err[256] = "";
    ASSERT_EQ(ykt_config_set(&cfg, assignment, err, sizeof err), YKT_EINVAL);
    ASSERT_STREQ(err, want);
    /* A refused override changes nothing. */
    ASSERT(memcmp(&before, &cfg, sizeof cfg) == 0);
}

static void test_set_errors(void)
{
    expect_set_error("terminal.max_args=1",
                     "--set terminal.max_args=1: must be between 4 and 4096 (got '1')");
    expect_set_error("terminal.max_args=lots",
                     "--set terminal.max_args=lots: expected an integer, got 'lots'");
    expect_set_error("tls.enabled=perhaps",
                     "--set tls.enabled=perhaps: expected yes or no, got 'perhaps'");
    expect_set_error("nosuch.key=1", "--set nosuch.key=1: unknown section");
    expect_set_error("campus.nokey=1", "--set campus.nokey=1: unknown key");
    expect_set_error("campusname=1", "--set campusname=1: expected section.key=value");
    expect_set_error("campus.name", "--set campus.name: expected section.key=value");
    expect_set_error(".name=1", "--set .name=1: expected section.key=value");
    expect_set_error("campus.=1", "--set campus.=1: expected section.key=value");
    expect_set_error("name=a.b", "--set name=a.b: expected section.key=value");
    expect_set_error("", "--set : expected section.key=value");
    /* Over-long section and key names are refused, not truncated into a match. */
    char a[200];
    memset(a, 's', 70);
    snprintf(a + 70, sizeof a - 70, ".name=x");
    char want[300];
    snprintf(want, sizeof want, "--set %s: expected section.key=value", a);
    expect_set_error(a, want);
}

static const char *readable_file(void)
{
    return write_file("-----BEGIN NOTHING-----\n");
}

static void expect_validate(const ykt_config *cfg, int rc_want, const char *err_want)
{
    char err[512] = "";
    int rc = ykt_config_validate(cfg, err, sizeof err);
    if (rc != rc_want)
        fprintf(stderr, "validate: %d (%s)\n", rc, err);
    ASSERT_EQ(rc, rc_want);
    if (err_want != NULL)
        ASSERT_STREQ(err, err_want);
}

static void test_validate_tls(void)
{
    ykt_config cfg;
    ykt_config_defaults(&cfg);
    cfg.tls_enabled = true;
    expect_validate(&cfg, YKT_EINVAL, "[tls] cert is required");

    char missing[128], want[256];
    snprintf(missing, sizeof missing, "%s/missing.pem", test_tmpdir);
    snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", missing);
    snprintf(want, sizeof want, "[tls] cert %s: No such file or directory", missing);
    expect_validate(&cfg, YKT_EINVAL, want);

    snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", readable_file());
    expect_validate(&cfg, YKT_EINVAL, "[tls] key is required");
    snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", readable_file());
    expect_validate(&cfg, YKT_OK, NULL);

    /* client_cn_is_terminal needs verify_client = required. */
    cfg.tls_client_cn_is_terminal = true;
    expect_validate(&cfg, YKT_EINVAL, "[tls] client_cn_is_terminal needs verify_client = required");
    cfg.tls_verify_client = YKT_TLS_VERIFY_OPTIONAL;
    expect_validate(&cfg, YKT_EINVAL, "[tls] ca (needed by verify_client) is required");
    snprintf(cfg.tls_ca, sizeof cfg.tls_ca, "%s", readable_file());
    expect_validate(&cfg, YKT_EINVAL, "[tls] client_cn_is_terminal needs verify_client = required");
    cfg.tls_verify_client = YKT_TLS_VERIFY_REQUIRED;
    expect_validate(&cfg, YKT_OK, NULL);
    cfg.tls_client_cn_is_terminal = false;
    cfg.tls_verify_client = YKT_TLS_VERIFY_OPTIONAL;
    expect_validate(&cfg, YKT_OK, NULL);

    /* With TLS off, the TLS keys are not checked. */
    ykt_config_defaults(&cfg);
    snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", missing);
    expect_validate(&cfg, YKT_OK, NULL);
}

static void test_validate_required_paths(void)
{
    ykt_config cfg;
    char err[256];
    ykt_config_defaults(&cfg);
    ASSERT_EQ(ykt_config_set(&cfg, "admin.socket=", err, sizeof err), YKT_OK);
    expect_validate(&cfg, YKT_EINVAL, "[admin] socket is required");
    ykt_config_defaults(&cfg);
    ASSERT_EQ(ykt_config_set(&cfg, "storage.path=", err, sizeof err), YKT_OK);
    expect_validate(&cfg, YKT_EINVAL, "[storage] path is required");
}

/* A copy of a request presented once its outcome is gone must be refused by its time. */
static void test_validate_retention_against_clock_skew(void)
{
    ykt_config cfg;
    char err[256];
    ykt_config_defaults(&cfg);
    ASSERT_EQ(ykt_config_set(&cfg, "terminal.request_retention=1h", err, sizeof err), YKT_OK);
    ASSERT_EQ(ykt_config_set(&cfg, "cards.max_clock_skew=30m", err, sizeof err), YKT_OK);
    expect_validate(&cfg, YKT_OK, NULL); /* exactly twice */
    ASSERT_EQ(ykt_config_set(&cfg, "cards.max_clock_skew=1801s", err, sizeof err), YKT_OK);
    expect_validate(&cfg, YKT_EINVAL,
                    "[terminal] request_retention must be at least twice [cards] max_clock_skew "
                    "(3600 s against 1801 s): a copy of a request whose outcome is no longer "
                    "kept must be refused by its time");
}

int main(void)
{
    printf("test_config\n");
    test_tmpdir_create("test-config");
    RUN(test_defaults);
    RUN(test_load_full_file);
    RUN(test_load_keeps_unset_keys);
    RUN(test_load_missing_file);
    RUN(test_unknown_section_and_key);
    RUN(test_duplicate_key);
    RUN(test_bad_values);
    RUN(test_first_error_wins);
    RUN(test_syntax_error);
    RUN(test_line_too_long);
    RUN(test_set_overrides);
    RUN(test_set_errors);
    RUN(test_validate_tls);
    RUN(test_validate_required_paths);
    RUN(test_validate_retention_against_clock_skew);
    printf("ok\n");
    return 0;
}
