/*
 * check.h - the CHECK macro of jnce's C tests: counts a failure and prints where, then goes on.
 * A test's main() returns failures != 0.
 */
#ifndef JNCE_TEST_CHECK_H
#define JNCE_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            failures++;                                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                        \
            fprintf(stderr, __VA_ARGS__);                                               \
            fprintf(stderr, "\n");                                                      \
        }                                                                               \
    } while (0)

#endif
