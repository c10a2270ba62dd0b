#include "log.h"
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int ykt_log_level_current = YKT_LOG_INFO;
static FILE *log_file; /* NULL means stderr */

static const char *level_names[] = {"debug", "info", "warn", "error"};

int ykt_log_level_parse(const char *s)
{
    for (size_t i = 0; i < YKT_ARRAY_LEN(level_names); i++)
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    return -1;
}

void ykt_log_set_level(int level)
{
    ykt_log_level_current = level;
}

int ykt_log_open(const char *path)
{
    FILE *f = fopen(path, "ae");
    if (f == NULL)
        return YKT_EIO;
    setvbuf(f, NULL, _IOLBF, 0);
    ykt_log_close();
    log_file = f;
    return YKT_OK;
}

void ykt_log_close(void)
{
    if (log_file != NULL)
        fclose(log_file);
    log_file = NULL;
}

void ykt_log(int level, const char *fmt, ...)
{
    if (level < ykt_log_level_current)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);

    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One fprintf per line so concurrent writers (tests read stderr) see whole lines. */
    FILE *out = log_file ? log_file : stderr;
    fprintf(out, "%s.%03ldZ %-5s %s\n", ts, (long)(tv.tv_usec / 1000), level_names[level], msg);
    fflush(out);
}
