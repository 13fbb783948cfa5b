/* Benchmark of nn/deconv_winograd against nn_deconv2d_forward (im2col +
 * GEMM + col2im), the baseline measured in the same run: the synthesis'
 * transposed convolutions for a 768x512 image (N=128, M=192), with the
 * coder's 8 MB workspace cap, at one and two threads, best of REPS runs of
 * each, interleaved. Random weights and inputs: the time does not depend
 * on the values. The last layer (128 -> 3) is passed on to the direct pass
 * by nn_deconv2d_forward_winograd, so it shows ~1.0. In this build the
 * direct pass multiplies with OpenBLAS (nn_gemm), as bin/aec does; bin/aecd
 * uses nn_sgemm for both (the Winograd products always do).
 *
 * Then the weight gradients of the training's 5x5 stride-2 layers (batch 8
 * of 128x128 patches, N=128, M=192; the training's default workspace cap):
 * the plain pass (nn_*_backward with dx NULL: im2col + GEMM) against the
 * Winograd one (nn/winograd_dw.c), best of REPS each, interleaved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/blas.h"
#include "nn/conv2d.h"
#include "nn/deconv_winograd.h"

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

/* the training's layers taken by the Winograd passes: x's shape */
typedef struct {
    const char *name;
    int deconv, cin, cout, h, w;
} train_shape;

static const train_shape train_layers[] = {
    {"g_a conv1   128->128  64x64", 0, 128, 128, 64, 64},
    {"g_a conv2   128->128  32x32", 0, 128, 128, 32, 32},
    {"g_a conv3   128->192  16x16", 0, 128, 192, 16, 16},
    {"g_s deconv0 192->128   8x8 ", 1, 192, 128, 8, 8},
    {"g_s deconv1 128->128  16x16", 1, 128, 128, 16, 16},
    {"g_s deconv2 128->128  32x32", 1, 128, 128, 32, 32},
};

/* best seconds of the plain and the Winograd weight gradient of one layer */
static int time_dw(const train_shape *ts, int batch, double *plain, double *wino)
{
    nn_params p;
    nn_params_init(&p);
    nn_conv2d c;
    nn_deconv2d d;
    nn_rng rng;
    nn_rng_seed(&rng, 3);
    const int oh = ts->deconv ? 2 * ts->h : ts->h / 2, ow = ts->deconv ? 2 * ts->w : ts->w / 2;
    nn_tensor x = {0}, dy = {0};
    nn_workspace ws = {0};
    int rc = ts->deconv ? nn_deconv2d_declare(&d, &p, "l", ts->cin, ts->cout, 5, 2)
                        : nn_conv2d_declare(&c, &p, "l", ts->cin, ts->cout, 5, 2, NN_PAD_ZERO);
    if (rc || nn_params_alloc(&p) || nn_tensor_alloc(&x, batch, ts->cin, ts->h, ts->w) ||
        nn_tensor_alloc(&dy, batch, ts->cout, oh, ow))
        return -1;
    for (size_t i = 0; i < p.count; i++) p.value[i] = nn_rng_uniform(&rng) - 0.5f;
    for (size_t i = 0; i < nn_tensor_numel(&x); i++) x.data[i] = nn_rng_uniform(&rng);
    for (size_t i = 0; i < nn_tensor_numel(&dy); i++) dy.data[i] = nn_rng_uniform(&rng) - 0.5f;
    *plain = *wino = -1;
    for (int r = 0; r <= REPS && !rc; r++) {
        double t0 = now();
        rc |= ts->deconv ? nn_deconv2d_backward(&d, &p, &x, &dy, NULL, &ws)
                         : nn_conv2d_backward(&c, &p, &x, &dy, NULL, &ws);
        double t1 = now();
        rc |= ts->deconv ? nn_deconv2d_backward_dw_winograd(&d, &p, &x, &dy, &ws)
                         : nn_conv2d_backward_dw_winograd(&c, &p, &x, &dy, &ws);
        double t2 = now();
        if (r == 0) continue; /* the first run of each grows the workspace */
        if (*plain < 0 || t1 - t0 < *plain) *plain = t1 - t0;
        if (*wino < 0 || t2 - t1 < *wino) *wino = t2 - t1;
    }
    nn_tensor_free(&x);
    nn_tensor_free(&dy);
    nn_workspace_free(&ws);
    nn_params_free(&p);
    return rc ? -1 : 0;
}

static int bench_weight_gradients(int batch)
{
    printf("== weight gradients of the training's 5x5 stride-2 layers, batch %d of 128x128: plain "
           "(im2col + GEMM) vs Winograd F(4x4,3x3), best of %d\n", batch, REPS);
    printf("threads  layer                          plain ms  winograd ms  speed-up\n");
    for (int threads = 1; threads <= 2; threads++) {
        nn_blas_set_threads(threads);
        double sum_p = 0.0, sum_w = 0.0;
        for (size_t li = 0; li < sizeof train_layers / sizeof train_layers[0]; li++) {
            double tp, tw;
            if (time_dw(&train_layers[li], batch, &tp, &tw)) {
                printf("bench_winograd: out of memory\n");
                return -1;
            }
            printf("%7d  %s  %12.1f  %11.1f  %8.2f\n", threads, train_layers[li].name, 1e3 * tp,
                   1e3 * tw, tp / tw);
            sum_p += tp;
            sum_w += tw;
        }
        printf("%7d  %-28s  %12.1f  %11.1f  %8.2f\n", threads, "all six", 1e3 * sum_p, 1e3 * sum_w,
               sum_p / sum_w);
    }
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    nn_blas_setup(argv);
    /* --dw [BATCH]: the weight gradients alone, batch 8 or BATCH */
    if (argc > 1 && strcmp(argv[1], "--dw") == 0)
        return bench_weight_gradients(argc > 2 ? atoi(argv[2]) : 8) ? 1 : 0;
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
    return bench_weight_gradients(8) ? 1 : 0;
}
