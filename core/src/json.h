/*
 * A small, strict JSON reader and string writer (RFC 8259), for the places where an
 * administrator hands yktd a JSON document: `yktctl rules test --input JSON` and the like.
 *
 * What it accepts, and why it is stricter than most parsers:
 *   - numbers are integers only (optional minus, no leading zeros) within int64. A fraction
 *     or an exponent is refused, even when exact (12.0, 1e3): every quantity in ykt is an
 *     integer (fen, millilitres, minutes), and "12.50" is far more likely to be a mistaken
 *     amount in yuan than a deliberate 12 fen;
 *   - strings must be valid UTF-8; escapes include \uXXXX with surrogate pairs; a lone
 *     surrogate and \u0000 are refused (the values end up as C strings);
 *   - an object may not repeat a key; nesting is limited to YKT_JSON_MAX_DEPTH levels;
 *   - nothing may follow the value but whitespace. No comments, no trailing commas.
 * Errors name the byte offset: "offset 12: expected ':' after an object key".
 */
#ifndef YKT_JSON_H
#define YKT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define YKT_JSON_MAX_DEPTH 32

typedef enum ykt_json_type {
    YKT_JSON_NULL,
    YKT_JSON_BOOL,
    YKT_JSON_INT,
    YKT_JSON_STRING,
    YKT_JSON_ARRAY,
    YKT_JSON_OBJECT,
} ykt_json_type;

/* A parsed value. Arrays and objects keep their members in order as a list (first/next). */
typedef struct ykt_json {
    ykt_json_type type;
    int64_t i;  /* INT: the value; BOOL: 0 or 1 */
    char *s;    /* STRING: NUL-terminated (no NUL inside) */
    size_t len; /* STRING: bytes; ARRAY, OBJECT: number of members */
    char *key;  /* the member's name when the value is an object member */
    size_t keylen;
    struct ykt_json *first; /* ARRAY, OBJECT: the first member */
    struct ykt_json *next;  /* the next member of the enclosing array or object */
} ykt_json;

/* Parses the len bytes at text into *out (free it with ykt_json_free). Returns YKT_OK,
 * YKT_EINVAL with err saying what and where, or YKT_ENOMEM. */
int ykt_json_parse(const char *text, size_t len, ykt_json **out, char *err, size_t errlen);
void ykt_json_free(ykt_json *v);
/* The member named key of an object, or NULL. */
const ykt_json *ykt_json_member(const ykt_json *obj, const char *key);

/* Appends s (len bytes, expected to be UTF-8) as a quoted JSON string: quote, backslash and
 * control characters are escaped, everything else is copied. */
void ykt_json_write_string(ykt_buf *b, const char *s, size_t len);
/* Appends v as compact JSON (members in their order). */
void ykt_json_write(ykt_buf *b, const ykt_json *v);

#endif
