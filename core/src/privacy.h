/*
 * Personal data rules (R-P1, R-P3): validating PRC resident identity numbers and phone
 * numbers, and masking them for every output except the counter's identity check.
 */
#ifndef YKT_PRIVACY_H
#define YKT_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True for an 18-character PRC resident identity number (GB 11643-1999): 17 digits, a valid
 * birth date (YYYYMMDD at offset 6, not before 1900), and the ISO 7064 MOD 11-2 check
 * character (0-9 or X; lower-case x accepted). why (may be NULL) gets the reason.
 */
bool ykt_prc_id_valid(const char *id, const char **why);
/* Upper-cases a trailing x so that the same person always compares equal. */
void ykt_prc_id_normalize(char *id);
/* Phone numbers: 5 to 20 characters of digits, spaces, '-' and a leading '+'. */
bool ykt_phone_valid(const char *phone);
/* "110105199003071234" -> "110***********1234"; keeps the first 3 and last 4 characters. */
void ykt_mask_id_number(const char *id, char *out, size_t len);
/* "13812345678" -> "138****5678"; keeps the first 3 and last 4 digits. */
void ykt_mask_phone(const char *phone, char *out, size_t len);
/* "张三丰" -> "张**", "Li Lei" -> "L*****": the first character only (UTF-8 aware). */
void ykt_mask_name(const char *name, char *out, size_t len);

#endif
