/*
 * Levelled logging to stderr or a file. Lines look like
 *   2026-11-27T03:55:00.123Z info  terminal port listening on 127.0.0.1:7070
 * Callers must never pass secrets (keys, passwords, PINs, terminal secrets)
 * to these functions; request arguments are never logged by the core.
 */
#ifndef YKT_LOG_H
#define YKT_LOG_H

enum ykt_log_level { YKT_LOG_DEBUG = 0, YKT_LOG_INFO, YKT_LOG_WARN, YKT_LOG_ERROR };

extern int ykt_log_level_current;

/* Parses "debug", "info", "warn" or "error"; returns -1 if unknown. */
int ykt_log_level_parse(const char *s);
void ykt_log_set_level(int level);
/* Sends log lines to `path` (appending) instead of stderr; returns 0 or YKT_EIO. */
int ykt_log_open(const char *path);
void ykt_log_close(void);
void ykt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ykt_debug(...)                                                                             \
    do {                                                                                           \
        if (ykt_log_level_current <= YKT_LOG_DEBUG)                                                \
            ykt_log(YKT_LOG_DEBUG, __VA_ARGS__);                                                   \
    } while (0)
#define ykt_info(...)  ykt_log(YKT_LOG_INFO, __VA_ARGS__)
#define ykt_warn(...)  ykt_log(YKT_LOG_WARN, __VA_ARGS__)
#define ykt_error(...) ykt_log(YKT_LOG_ERROR, __VA_ARGS__)

#endif
