/* Benchmark of nn/deconv_winograd against nn_deconv2d_forward (im2col +
 * GEMM + col2im), the baseline measured in the same run: the synthesis'
 * transposed convolutions for a 768x512 image (N=128, M=192), with the
 * coder's 8 MB workspace cap, at one and two threads, best of REPS runs of
 * each, interleaved. Random weights and inputs: the time does not depend
 * on the values. The last layer (128 -> 3) is passed on to the direct pass
 * by nn_deconv2d_forward_winograd, so it shows ~1.0. In this build the
 * direct pass multiplies with OpenBLAS (nn_gemm), as bin/aec does; bin/aecd
 * uses nn_sgemm for both (the Winograd products always do). */
#include <stdio.h>
#include <time.h>

#include "blas.h"
#include "conv2d.h"
#include "deconv_winograd.h"

#define REPS 5

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *name;
    int cin, cout, h, w; /* input size */
} layer_shape;

static const layer_shape layers[] = {
    {"g_s deconv0 192->128 48x32 ", 192, 128, 32, 48},
    {"g_s deconv1 128->128 96x64 ", 128, 128, 64, 96},
    {"g_s deconv2 128->128 192x128", 128, 128, 128, 192},
    {"g_s deconv3 128->3 384x256 ", 128, 3, 256, 384},
};

int main(int argc, char **argv)
{
    (void)argc;
    nn_blas_setup(argv);
    printf("== g_s transposed convolutions, 768x512 image, 8 MB workspace cap: direct "
           "(im2col/col2im + GEMM) vs Winograd F(4x4,3x3), best of %d\n", REPS);
    printf("threads  layer                          direct ms  winograd ms  speed-up\n");
    for (int threads = 1; threads <= 2; threads++) {
        nn_blas_set_threads(threads);
        double sum_d = 0.0, sum_w = 0.0;
        for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
            const layer_shape *ls = &layers[li];
            nn_params p;
            nn_params_init(&p);
            nn_deconv2d l;
            nn_rng rng;
            nn_rng_seed(&rng, 1);
            nn_tensor x = {0}, y = {0};
            nn_workspace ws = {.max_bytes = (size_t)8 << 20};
            if (nn_deconv2d_declare(&l, &p, "l", ls->cin, ls->cout, 5, 2) || nn_params_alloc(&p) ||
                nn_tensor_alloc(&x, 1, ls->cin, ls->h, ls->w)) {
                printf("bench_winograd: out of memory\n");
                return 1;
            }
            nn_deconv2d_init(&l, &p, &rng);
            for (size_t i = 0; i < nn_tensor_numel(&x); i++) x.data[i] = nn_rng_uniform(&rng);
            double best_d = -1, best_w = -1;
            for (int r = 0; r < REPS; r++) {
                double t0 = now();
                if (nn_deconv2d_forward(&l, &p, &x, &y, &ws)) return 1;
                double t1 = now();
                if (nn_deconv2d_forward_winograd(&l, &p, &x, &y, &ws)) return 1;
                double t2 = now();
                if (best_d < 0 || t1 - t0 < best_d) best_d = t1 - t0;
                if (best_w < 0 || t2 - t1 < best_w) best_w = t2 - t1;
            }
            printf("%7d  %s  %9.1f  %11.1f  %8.2f\n", threads, ls->name, 1e3 * best_d, 1e3 * best_w,
                   best_d / best_w);
            sum_d += best_d;
            sum_w += best_w;
            nn_tensor_free(&x);
            nn_tensor_free(&y);
            nn_workspace_free(&ws);
            nn_params_free(&p);
        }
        printf("%7d  %-29s  %9.1f  %11.1f  %8.2f\n", threads, "all four", 1e3 * sum_d, 1e3 * sum_w,
               sum_d / sum_w);
    }
    return 0;
}
