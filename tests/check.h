/* tests/check.h - the test harness: one binary per test file, each check
 * counted, the binary's last line "NAME: N passed, N failed", exit status 1
 * if anything failed. tests/run.sh adds the counts up. */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            check_passed++;                                                  \
        } else {                                                             \
            check_failed++;                                                  \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* |a - b| <= tol * max(1, |a|, |b|) */
#define CHECK_CLOSE(a, b, tol, what)                                          \
    do {                                                                     \
        double check_a_ = (a), check_b_ = (b);                               \
        double check_m_ = fmax(1.0, fmax(fabs(check_a_), fabs(check_b_)));   \
        CHECK(fabs(check_a_ - check_b_) <= (tol) * check_m_,                 \
              "%s: %.9g vs %.9g (tol %g)", (what), check_a_, check_b_,       \
              (double)(tol));                                                \
    } while (0)

static inline int check_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
