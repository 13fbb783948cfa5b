/* tests/gemm_cases.h - random matrix products and their double-precision
 * reference, for tests/test_gemm.c and tests/test_cpu_paths.c.
 * Header-only: each test file is linked on its own. */
#ifndef TESTS_GEMM_CASES_H
#define TESTS_GEMM_CASES_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* a value no computation produces, to see that C's padding is untouched */
#define SENTINEL -12345.0f

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint32_t next_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static inline float next_sym(void) { return (float)next_u32() / 4294967296.0f * 2.0f - 1.0f; }

typedef struct {
    int ta, tb, m, n, k;
    float alpha, beta;
    int pad; /* extra floats per row of A, B and C */
} case_t;

typedef struct {
    float *a, *b, *c, *c0; /* c0: C before the call */
    int lda, ldb, ldc;
    size_t a_len, b_len, c_len;
    float *buf[4];         /* what a, b, c and c0 point into */
} mats;

/* The operands of case t, random; each starts `shift` floats into its
 * buffer (1: not 16-byte aligned, for kernels that take any pointer). 0,
 * or -1 when out of memory (mats_free frees what was allocated). */
static inline int mats_make_at(const case_t *t, int shift, mats *x)
{
    /* stored A is M x K, or K x M when transposed; likewise B */
    const int a_rows = t->ta ? t->k : t->m, a_cols = t->ta ? t->m : t->k;
    const int b_rows = t->tb ? t->n : t->k, b_cols = t->tb ? t->k : t->n;
    x->lda = a_cols + t->pad;
    x->ldb = b_cols + t->pad;
    x->ldc = t->n + t->pad;
    x->a_len = (size_t)(a_rows ? a_rows : 1) * x->lda;
    x->b_len = (size_t)(b_rows ? b_rows : 1) * x->ldb;
    x->c_len = (size_t)t->m * x->ldc;
    const size_t len[4] = {x->a_len, x->b_len, x->c_len, x->c_len};
    int failed = 0;
    for (int i = 0; i < 4; i++) {
        x->buf[i] = malloc((len[i] + (size_t)shift) * sizeof(float));
        failed |= !x->buf[i];
    }
    if (failed) return -1;
    x->a = x->buf[0] + shift;
    x->b = x->buf[1] + shift;
    x->c = x->buf[2] + shift;
    x->c0 = x->buf[3] + shift;
    for (size_t i = 0; i < x->a_len; i++) x->a[i] = next_sym();
    for (size_t i = 0; i < x->b_len; i++) x->b[i] = next_sym();
    for (int i = 0; i < t->m; i++)
        for (int j = 0; j < x->ldc; j++)
            x->c0[(size_t)i * x->ldc + j] = j < t->n ? next_sym() : SENTINEL;
    memcpy(x->c, x->c0, x->c_len * sizeof(float));
    return 0;
}

static inline int mats_make(const case_t *t, mats *x) { return mats_make_at(t, 0, x); }

static inline void mats_free(mats *x)
{
    for (int i = 0; i < 4; i++) free(x->buf[i]);
}

/* Largest error of C against the double-precision triple loop, relative to
 * the size of the terms (alpha sum |a b| + |beta c|, at least 1e-30), so a
 * sum that cancels to near 0 is judged by what was added, not by the small
 * result. Also counts changed padding elements. */
static inline double max_rel_error(const case_t *t, const mats *x, int *bad_padding)
{
    double worst = 0.0;
    *bad_padding = 0;
    for (int i = 0; i < t->m; i++) {
        for (int j = 0; j < t->n; j++) {
            double sum = 0.0, mag = 0.0;
            for (int p = 0; p < t->k; p++) {
                double a = t->ta ? x->a[(size_t)p * x->lda + i] : x->a[(size_t)i * x->lda + p];
                double b = t->tb ? x->b[(size_t)j * x->ldb + p] : x->b[(size_t)p * x->ldb + j];
                sum += a * b;
                mag += fabs(a * b);
            }
            const double c0 = x->c0[(size_t)i * x->ldc + j];
            const double want = t->alpha * sum + (t->beta == 0.0f ? 0.0 : t->beta * c0);
            const double scale = fabs(t->alpha) * mag + (t->beta == 0.0f ? 0.0 : fabs(t->beta * c0));
            const double err = fabs(x->c[(size_t)i * x->ldc + j] - want) / fmax(scale, 1e-30);
            if (!(err <= worst)) worst = err; /* NaN counts as the worst */
        }
        for (int j = t->n; j < x->ldc; j++)
            *bad_padding += x->c[(size_t)i * x->ldc + j] != SENTINEL;
    }
    return worst;
}

#endif
