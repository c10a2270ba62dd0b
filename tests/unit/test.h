/*
 * A minimal unit-test framework: each test is a function; a failed assertion prints where
 * and exits non-zero, so ctest reports the program as failed.
 */
#ifndef YKT_TEST_H
#define YKT_TEST_H

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                              \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %s failed: %" PRId64 " != %" PRId64 "\n", __FILE__,      \
                    __LINE__, #a, #b, a_, b_);                                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define ASSERT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                                     \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a,  \
                    #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ == NULL || strstr(h_, n_) == NULL) {                                                \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,         \
                    h_ ? h_ : "(null)", n_);                                                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define RUN(test)                                                                                  \
    do {                                                                                           \
        printf("  %s\n", #test);                                                                   \
        fflush(stdout);                                                                            \
        test();                                                                                    \
    } while (0)

/* A private temporary directory per test program; it and its files are removed at exit,
 * also when an assertion ends the program early. */
__attribute__((unused)) static char test_tmpdir[64];

static inline void test_tmpdir_cleanup(void)
{
    DIR *d = opendir(test_tmpdir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", test_tmpdir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(test_tmpdir);
}

static inline void test_tmpdir_create(const char *name)
{
    snprintf(test_tmpdir, sizeof test_tmpdir, "/tmp/ykt-%s-XXXXXX", name);
    ASSERT(mkdtemp(test_tmpdir) != NULL);
    atexit(test_tmpdir_cleanup);
}

#endif
