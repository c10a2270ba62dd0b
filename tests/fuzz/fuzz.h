/*
 * Shared by the libFuzzer targets: an invariant check that aborts (so libFuzzer records the
 * input as a crash) and a little reader that takes option bytes off the front of an input.
 */
#ifndef YKT_FUZZ_H
#define YKT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant is a finding like a crash: print it and abort. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Takes one byte off the front of the input (0 when it is used up). */
static inline uint8_t fuzz_take(const uint8_t **data, size_t *size)
{
    if (*size == 0)
        return 0;
    uint8_t b = **data;
    (*data)++;
    (*size)--;
    return b;
}

#endif
