/* Benchmark of nn_sgemm (nn/gemm) against OpenBLAS's cblas_sgemm on the
 * products the decoder's synthesis transform runs for a 768x512 image:
 * the four transposed convolutions (col = W^T x: M = cout*25, N = the input's
 * pixels, K = cin) and the three inverse GDNs (gamma x^2: 128 x 128 by the
 * pixels). GFLOP/s at one and two threads, both libraries measured
 * alternately in the same run, best of a few runs each (the best is the one
 * least disturbed by other processes). `bench_gemm generic` measures the
 * portable kernel instead of the best one. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/blas.h"
#include "nn/cpu.h"
#include "nn/gemm.h"

#define MIN_REPS 2
#define MAX_REPS 10
#define SHAPE_SECONDS 1.5

#include "tests/synthesis_shapes.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void run(int own, const shape *s, const float *a, const float *b, float *c)
{
    const int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    if (own)
        nn_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
    else
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, a, lda, b, ldb,
                    0.0f, c, s->n);
}

/* best seconds of nn_sgemm (best[0]) and cblas_sgemm (best[1]), measured
 * alternately */
static void bench_shape(const shape *s, int threads, const float *a, const float *b, float *c,
                        double best[2])
{
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    best[0] = best[1] = 1e30;
    const double start = now();
    /* rep 0 warms up (page faults on C, thread pools) */
    for (int rep = 0; rep <= MAX_REPS && (rep <= MIN_REPS || now() - start < SHAPE_SECONDS); rep++)
        for (int lib = 0; lib < 2; lib++) {
            const double t0 = now();
            run(lib == 0, s, a, b, c); /* best[0]: nn_sgemm, best[1]: OpenBLAS */
            const double t = now() - t0;
            if (rep > 0 && t < best[lib]) best[lib] = t;
        }
}

int main(int argc, char **argv)
{
    nn_blas_setup(argv);
    if (argc > 1 && strcmp(argv[1], "generic") == 0) nn_cpu_set_mask(NN_CPU_ALL & ~(NN_CPU_AVX2 | NN_CPU_FMA));
    printf("bench_gemm: nn_sgemm kernel %s against OpenBLAS kernel %s; GFLOP/s, best of %d-%d runs\n",
           nn_gemm_kernel_name(), nn_blas_corename(), MIN_REPS, MAX_REPS);
    printf("%-29s %5s %6s %4s | %8s %8s %5s | %8s %8s %5s\n", "product (768x512 image)", "M", "N",
           "K", "own 1t", "blas 1t", "ratio", "own 2t", "blas 2t", "ratio");
    size_t a_max, b_max, c_max;
    shapes_max_sizes(&a_max, &b_max, &c_max);
    float *a = malloc(a_max * sizeof(float)), *b = malloc(b_max * sizeof(float));
    float *c = malloc(c_max * sizeof(float));
    if (!a || !b || !c) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < a_max; i++) a[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < b_max; i++) b[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
    double total[2][2] = {{0}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        const double gflop = 2.0 * s->m * s->n * s->k * 1e-9;
        double t1[2], t2[2];
        bench_shape(s, 1, a, b, c, t1);
        bench_shape(s, 2, a, b, c, t2);
        for (int lib = 0; lib < 2; lib++) {
            total[0][lib] += t1[lib];
            total[1][lib] += t2[lib];
        }
        printf("%-29s %5d %6d %4d | %8.1f %8.1f %5.2f | %8.1f %8.1f %5.2f\n", s->name, s->m, s->n,
               s->k, gflop / t1[0], gflop / t1[1], t1[1] / t1[0], gflop / t2[0], gflop / t2[1],
               t2[1] / t2[0]);
        fflush(stdout);
    }
    printf("%-29s %18s | %8.1f %8.1f %5.2f | %8.1f %8.1f %5.2f   (ms, all products)\n", "total", "",
           total[0][0] * 1e3, total[0][1] * 1e3, total[0][1] / total[0][0], total[1][0] * 1e3,
           total[1][1] * 1e3, total[1][1] / total[1][0]);
    free(a); free(b); free(c);
    return 0;
}
