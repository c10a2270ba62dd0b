#include "privacy.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool valid_date(int y, int m, int d)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= days[m - 1] + (m == 2 && leap(y));
}

bool ykt_prc_id_valid(const char *id, const char **why)
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
    const char *reason = NULL;
    if (strlen(id) != 18) {
        reason = "must have 18 characters";
        goto bad;
    }
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (!isdigit((unsigned char)id[i])) {
            reason = "the first 17 characters must be digits";
            goto bad;
        }
        sum += (id[i] - '0') * weights[i];
    }
    int y = (id[6] - '0') * 1000 + (id[7] - '0') * 100 + (id[8] - '0') * 10 + (id[9] - '0');
    int m = (id[10] - '0') * 10 + (id[11] - '0');
    int d = (id[12] - '0') * 10 + (id[13] - '0');
    if (!valid_date(y, m, d)) {
        reason = "the birth date (characters 7-14) is not a real date";
        goto bad;
    }
    if (toupper((unsigned char)id[17]) != check[sum % 11]) {
        reason = "wrong check digit";
        goto bad;
    }
    return true;
bad:
    if (why != NULL)
        *why = reason;
    return false;
}

void ykt_prc_id_normalize(char *id)
{
    size_t n = strlen(id);
    if (n > 0 && id[n - 1] == 'x')
        id[n - 1] = 'X';
}

bool ykt_phone_valid(const char *phone)
{
    size_t n = strlen(phone), digits = 0;
    if (n < 5 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = phone[i];
        if (isdigit((unsigned char)c))
            digits++;
        else if (!(c == ' ' || c == '-' || (c == '+' && i == 0)))
            return false;
    }
    return digits >= 5;
}

static void mask_keep(const char *s, size_t head, size_t tail, char *out, size_t len)
{
    size_t n = strlen(s);
    if (len == 0)
        return;
    if (n <= head + tail) {
        /* Too short to show anything safely. */
        size_t k = n < len - 1 ? n : len - 1;
        memset(out, '*', k);
        out[k] = '\0';
        return;
    }
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < len; i++)
        out[j++] = (i < head || i >= n - tail) ? s[i] : '*';
    out[j] = '\0';
}

void ykt_mask_id_number(const char *id, char *out, size_t len)
{
    mask_keep(id, 3, 4, out, len);
}

void ykt_mask_phone(const char *phone, char *out, size_t len)
{
    mask_keep(phone, 3, 4, out, len);
}

void ykt_mask_name(const char *name, char *out, size_t len)
{
    if (len == 0)
        return;
    size_t first = 1;
    unsigned char c = (unsigned char)name[0];
    if (c >= 0xf0)
        first = 4;
    else if (c >= 0xe0)
        first = 3;
    else if (c >= 0xc0)
        first = 2;
    size_t n = strlen(name);
    if (first > n)
        first = n;
    /* One asterisk per remaining character, counting UTF-8 lead bytes. */
    size_t rest = 0;
    for (size_t i = first; i < n; i++)
        if (((unsigned char)name[i] & 0xc0) != 0x80)
            rest++;
    if (first + rest + 1 > len) {
        ykt_strlcpy(out, "*", len);
        return;
    }
    memcpy(out, name, first);
    memset(out + first, '*', rest);
    out[first + rest] = '\0';
}
