/*
 * Randomness, hex, constant-time comparison and password hashing.
 *
 * Stored password hashes look like "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX", so the
 * iteration count can be raised later without invalidating existing hashes. Operator and
 * card passwords use a slow count; terminal secrets are 128-bit random strings and use one
 * iteration, because stretching adds nothing to a secret nobody can guess and AUTH must stay
 * cheap when thousands of terminals reconnect at once.
 */
#ifndef YKT_SECRET_H
#define YKT_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YKT_HASH_MAX            160 /* room for any stored hash string */
#define YKT_PASSWORD_ITERATIONS 100000
#define YKT_SECRET_ITERATIONS   1

int ykt_random_bytes(void *buf, size_t len);
/* Writes 2*len hex digits and a NUL into out. */
void ykt_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly `len` bytes from 2*len hex digits; YKT_EINVAL otherwise. */
int ykt_hex_decode(const char *hex, uint8_t *out, size_t len);
bool ykt_ct_equal(const void *a, const void *b, size_t len);
void ykt_wipe(void *p, size_t len);

/* A fresh terminal secret: 32 lowercase hex digits (128 bits) + NUL; out must hold 33. */
int ykt_secret_generate(char *out, size_t outlen);
int ykt_password_hash(const char *password, uint32_t iterations, char *out, size_t outlen);
/* Returns 1 when the password matches, 0 when not, YKT_EINVAL for a malformed stored hash. */
int ykt_password_verify(const char *password, const char *stored);

#endif
