#include "date.h"
#include "common.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ykt_tz_init(const char *tz, char *err, size_t errlen)
{
    /* glibc falls back to UTC without a word when a zone is missing; refuse instead. */
    char path[256];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    if (tz[0] == '\0' || strstr(tz, "..") != NULL || access(path, R_OK) != 0) {
        snprintf(err, errlen, "[campus] timezone '%s' is not in the tz database (%s)", tz, path);
        return YKT_EINVAL;
    }
    setenv("TZ", tz, 1);
    tzset();
    return YKT_OK;
}

void ykt_date_of(int64_t ms, char out[YKT_DATE_LEN])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, YKT_DATE_LEN, "%Y-%m-%d", &tm);
}

void ykt_today(char out[YKT_DATE_LEN])
{
    ykt_date_of(ykt_now_ms(), out);
}

static bool parse(const char *s, int *y, int *m, int *d)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    *y = atoi(s);
    *m = atoi(s + 5);
    *d = atoi(s + 8);
    return true;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

bool ykt_date_valid(const char *s)
{
    int y, m, d;
    return parse(s, &y, &m, &d) && y >= 1900 && y <= 2199 && m >= 1 && m <= 12 && d >= 1 &&
           d <= days_in_month(y, m);
}

void ykt_date_add_months(const char *date, int months, char out[YKT_DATE_LEN])
{
    int y, m, d;
    if (!parse(date, &y, &m, &d)) {
        ykt_strlcpy(out, date, YKT_DATE_LEN);
        return;
    }
    int total = y * 12 + (m - 1) + months;
    y = total / 12;
    m = total % 12 + 1;
    if (d > days_in_month(y, m))
        d = days_in_month(y, m);
    char tmp[32]; /* roomy, so the compiler can see nothing is cut */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
    ykt_strlcpy(out, tmp, YKT_DATE_LEN);
}

int64_t ykt_date_start_ms(const char *date)
{
    int y, m, d;
    if (!parse(date, &y, &m, &d))
        return 0;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_isdst = -1};
    return (int64_t)mktime(&tm) * 1000;
}
