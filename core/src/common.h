/*
 * Shared definitions for the ykt core: the error enum and small macros.
 * Every fallible core function returns 0 (YKT_OK) or a negative YKT_E* code;
 * ykt_strerror() turns a code into a short English phrase.
 */
#ifndef YKT_COMMON_H
#define YKT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define YKT_VERSION "0.1.0"

enum ykt_err {
    YKT_OK = 0,
    YKT_ENOMEM = -1,    /* allocation failed */
    YKT_EINVAL = -2,    /* invalid argument or malformed input */
    YKT_EIO = -3,       /* operating-system I/O error */
    YKT_ENOTFOUND = -4, /* no such object */
    YKT_EEXIST = -5,    /* object already exists */
    YKT_ESTORAGE = -6,  /* the database refused or failed */
    YKT_EPERM = -7,     /* not allowed */
    YKT_ELIMIT = -8,    /* a configured limit was exceeded */
    YKT_EAGAIN = -9,    /* not complete yet; call again with more input */
    YKT_ESTATE = -10,   /* the object is in the wrong state for this */
};

const char *ykt_strerror(int err);

#define YKT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define YKT_UNUSED(x)    (void)(x)

#endif
