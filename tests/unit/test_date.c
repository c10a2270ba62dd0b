/* Unit tests for date.c: campus dates in the campus time zone. */
#include "test.h"

#include "common.h"
#include "date.h"

static void test_date_of(void)
{
    char err[200], day[YKT_DATE_LEN];
    ASSERT_EQ(ykt_tz_init("Asia/Shanghai", err, sizeof err), YKT_OK);
    ykt_date_of(1767196799000LL, day); /* 2025-12-31T15:59:59Z = 23:59:59 in Beijing */
    ASSERT_STREQ(day, "2025-12-31");
    ykt_date_of(1767196800000LL, day); /* 2026-01-01 00:00:00 in Beijing */
    ASSERT_STREQ(day, "2026-01-01");
    ASSERT_EQ(ykt_date_start_ms("2026-01-01"), 1767196800000LL);
    ASSERT(ykt_tz_init("Nowhere/Atlantis", err, sizeof err) != YKT_OK);
    ASSERT_CONTAINS(err, "not in the tz database");
}

static void test_valid_and_add_months(void)
{
    ASSERT(ykt_date_valid("2028-02-29"));
    ASSERT(!ykt_date_valid("2027-02-29"));
    ASSERT(!ykt_date_valid("2026-13-01"));
    ASSERT(!ykt_date_valid("2026-1-01"));
    ASSERT(!ykt_date_valid("1899-12-31"));
    char out[YKT_DATE_LEN];
    ykt_date_add_months("2026-01-31", 1, out); /* clamped to February's last day */
    ASSERT_STREQ(out, "2026-02-28");
    ykt_date_add_months("2026-03-15", -15, out);
    ASSERT_STREQ(out, "2024-12-15");
    ykt_date_add_months("2026-09-01", 48, out); /* a four-year course */
    ASSERT_STREQ(out, "2030-09-01");
}

int main(void)
{
    printf("test_date\n");
    RUN(test_date_of);
    RUN(test_valid_and_add_months);
    return 0;
}
