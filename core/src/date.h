/*
 * Campus calendar dates ('YYYY-MM-DD' in the campus time zone). Validity, expiry and
 * daily limits are about the campus's days, while stored instants stay UTC milliseconds.
 */
#ifndef YKT_DATE_H
#define YKT_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YKT_DATE_LEN 11 /* "YYYY-MM-DD" + NUL */

/* Sets the process time zone (TZ) after checking the zone exists in the tz database. */
int ykt_tz_init(const char *tz, char *err, size_t errlen);
/* The campus date of an instant (epoch ms), and of now. */
void ykt_date_of(int64_t ms, char out[YKT_DATE_LEN]);
void ykt_today(char out[YKT_DATE_LEN]);
/* True for a real calendar date written YYYY-MM-DD (years 1900-2199). */
bool ykt_date_valid(const char *s);
/* Adds months (may be negative); the day is clamped to the month's last day. */
void ykt_date_add_months(const char *date, int months, char out[YKT_DATE_LEN]);
/* Epoch ms of the campus-local midnight that starts `date`. */
int64_t ykt_date_start_ms(const char *date);

#endif
