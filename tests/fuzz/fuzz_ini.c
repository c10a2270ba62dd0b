/*
 * Fuzz target: the configuration loader (ykt_config_load over inih) and the --set overrides
 * (ykt_config_set).
 *
 * Input: the bytes of an INI file. Invariants:
 *   - the result is YKT_OK or YKT_EINVAL;
 *   - every error names the file and a line that exists: "PATH:LINE: reason" with
 *     1 <= LINE <= the file's line count (lines end with LF, as inih reads them);
 *   - an accepted file leaves every value within its documented range (the ones checked
 *     below), every string NUL-terminated, at most 16 plugins of at most 32 options;
 *   - loading the same file twice gives the same configuration;
 *   - each line of the input, given to --set, is accepted or refused with a message that
 *     names the assignment.
 */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz.h"

#include "common.h"
#include "config.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int count_lines(const uint8_t *s, size_t n)
{
    int lines = 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n')
            lines++;
    return lines;
}

#define STR_OK(field)     CHECK(strnlen(cfg->field, sizeof cfg->field) < sizeof cfg->field)
#define IN(field, lo, hi) CHECK(cfg->field >= (lo) && cfg->field <= (hi))

static void check_config(const ykt_config *cfg)
{
    STR_OK(campus_name);
    STR_OK(timezone);
    STR_OK(campus_code);
    STR_OK(terminal_listen);
    STR_OK(tls_cert);
    STR_OK(admin_socket);
    STR_OK(master_key);
    STR_OK(storage_path);
    STR_OK(log_file);
    STR_OK(plugins_dir);
    STR_OK(rules_dir);
    STR_OK(fee_script);
    STR_OK(backup_dir);
    IN(max_connections, 1, 1000000);
    IN(max_frame_bytes, 256, 64 << 20);
    IN(max_args, 4, 4096);
    IN(max_pipeline, 1, 100000);
    IN(idle_timeout_ms, 100, 86400000LL);
    IN(admin_socket_mode, 0, 0777);
    IN(admin_max_frame_bytes, 4096, 1LL << 30);
    IN(password_iterations, 1000, 10000000);
    IN(import_max_bytes, 1024, 1LL << 30);
    IN(rule_memory, 65536, 1LL << 30);
    IN(tls_verify_client, YKT_TLS_VERIFY_NONE, YKT_TLS_VERIFY_REQUIRED);
    IN(nplugins, 0, YKT_MAX_PLUGINS);
    for (int i = 0; i < cfg->nplugins; i++) {
        const ykt_plugin_conf *pc = &cfg->plugins[i];
        CHECK(strnlen(pc->name, sizeof pc->name) < sizeof pc->name && pc->name[0] != '\0');
        CHECK(strnlen(pc->path, sizeof pc->path) < sizeof pc->path);
        CHECK(pc->nopts >= 0 && pc->nopts <= YKT_MAX_PLUGIN_OPTIONS);
        for (int j = 0; j < pc->nopts; j++) {
            CHECK(strnlen(pc->opts[j].key, sizeof pc->opts[j].key) < sizeof pc->opts[j].key);
            CHECK(strnlen(pc->opts[j].value, sizeof pc->opts[j].value) < sizeof pc->opts[j].value);
        }
    }
}

/* The configuration file lives in memory: no disk in the loop. */
static int load(const uint8_t *data, size_t size, ykt_config *cfg, char *path, size_t pathlen,
                char *err, size_t errlen)
{
    int fd = memfd_create("ykt-fuzz.ini", 0);
    CHECK(fd >= 0);
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        CHECK(n > 0);
        off += (size_t)n;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    ykt_config_defaults(cfg);
    err[0] = '\0';
    int rc = ykt_config_load(cfg, path, err, errlen);
    close(fd);
    return rc;
}

static ykt_config cfg_a, cfg_b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[512];
    int rc = load(data, size, &cfg_a, path, sizeof path, err, sizeof err);
    CHECK(rc == YKT_OK || rc == YKT_EINVAL);
    if (rc == YKT_OK) {
        CHECK(err[0] == '\0');
        check_config(&cfg_a);
        char err2[512];
        CHECK(load(data, size, &cfg_b, path, sizeof path, err2, sizeof err2) == YKT_OK);
        CHECK(memcmp(&cfg_a, &cfg_b, sizeof cfg_a) == 0);
    } else {
        /* "PATH:LINE: reason" with a line of the file. */
        size_t plen = strlen(path);
        CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':');
        char *end;
        long line = strtol(err + plen + 1, &end, 10);
        if (end == err + plen + 1 || *end != ':' || line < 1 || line > count_lines(data, size)) {
            fprintf(stderr, "error without a line of the %d-line file: %s\n",
                    count_lines(data, size), err);
            CHECK(0);
        }
        CHECK(end[1] == ' ' && end[2] != '\0');
    }

    /* Each line as a --set override, on top of the defaults. */
    ykt_config_defaults(&cfg_b);
    const char *p = (const char *)data, *stop = p + size;
    for (int n = 0; p < stop && n < 16; n++) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(stop - p);
        char assignment[1024];
        if (len < sizeof assignment) {
            memcpy(assignment, p, len);
            assignment[len] = '\0';
            char serr[1200] = "";
            int src = ykt_config_set(&cfg_b, assignment, serr, sizeof serr);
            CHECK(src == YKT_OK || src == YKT_EINVAL);
            if (src == YKT_OK)
                check_config(&cfg_b);
            else
                CHECK(strncmp(serr, "--set ", 6) == 0);
        }
        p += len + 1;
    }
    return 0;
}
