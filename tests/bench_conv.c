/* Benchmark of nn/conv2d on every convolution of the default model (mean-scale
 * hyperprior, N=128, M=192) at batch 8 of 128x128 patches. For each layer it
 * prints forward and backward GFLOP/s next to plain cblas_sgemm on the very
 * same matrix products (same M, N, K and transposes), measured in the same
 * run, interleaved with the layer and taken as the best of a few runs, so
 * that the ratio shows what im2col/col2im and the layout changes cost. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/blas.h"
#include "nn/conv2d.h"

#define BATCH 8
#define MIN_REPS 3
#define MAX_REPS 20
#define LAYER_SECONDS 2.5

typedef struct {
    const char *name;
    int deconv, cin, cout, k, stride, h; /* h = w: the input size */
    int need_dx;                         /* the first layer has no dx */
} layer_shape;

static const layer_shape layers[] = {
    {"g_a conv5 s2 3->128    ", 0, 3, 128, 5, 2, 128, 0},
    {"g_a conv5 s2 128->128  ", 0, 128, 128, 5, 2, 64, 1},
    {"g_a conv5 s2 128->128  ", 0, 128, 128, 5, 2, 32, 1},
    {"g_a conv5 s2 128->192  ", 0, 128, 192, 5, 2, 16, 1},
    {"g_s deconv5 s2 192->128", 1, 192, 128, 5, 2, 8, 1},
    {"g_s deconv5 s2 128->128", 1, 128, 128, 5, 2, 16, 1},
    {"g_s deconv5 s2 128->128", 1, 128, 128, 5, 2, 32, 1},
    {"g_s deconv5 s2 128->3  ", 1, 128, 3, 5, 2, 64, 1},
    {"h_a conv3 s1 192->128  ", 0, 192, 128, 3, 1, 8, 1},
    {"h_a conv5 s2 128->128  ", 0, 128, 128, 5, 2, 8, 1},
    {"h_a conv5 s2 128->128  ", 0, 128, 128, 5, 2, 4, 1},
    {"h_s deconv5 s2 128->192", 1, 128, 192, 5, 2, 2, 1},
    {"h_s deconv5 s2 192->288", 1, 192, 288, 5, 2, 4, 1},
    {"h_s conv3 s1 288->384  ", 0, 288, 384, 3, 1, 8, 1},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* One row-major sgemm as the layer issues it. */
typedef struct {
    int ta, tb, m, n, k;
} gemm_shape;

typedef struct {
    float *a, *b, *c;
} gemm_bufs;

static int gemm_alloc(const gemm_shape *g, gemm_bufs *bufs)
{
    bufs->a = calloc((size_t)g->m * g->k, sizeof(float));
    bufs->b = calloc((size_t)g->k * g->n, sizeof(float));
    bufs->c = calloc((size_t)g->m * g->n, sizeof(float));
    return bufs->a && bufs->b && bufs->c ? 0 : -1;
}

static void gemm_free(gemm_bufs *bufs)
{
    free(bufs->a); free(bufs->b); free(bufs->c);
}

static void gemm_run(const gemm_shape *g, gemm_bufs *bufs)
{
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
                g->m, g->n, g->k, 1.0f, bufs->a, g->ta ? g->m : g->k, bufs->b, g->tb ? g->k : g->n,
                0.0f, bufs->c, g->n);
}

static void fill(float *v, size_t count, nn_rng *rng)
{
    for (size_t i = 0; i < count; i++) v[i] = nn_rng_uniform(rng) - 0.5f;
}

/* Benchmarks one layer; returns -1 when out of memory. */
static int bench_layer(const layer_shape *ls, nn_rng *rng)
{
    nn_params p;
    nn_params_init(&p);
    nn_conv2d conv = {0};
    nn_deconv2d deconv = {0};
    int rc = ls->deconv ? nn_deconv2d_declare(&deconv, &p, "l", ls->cin, ls->cout, ls->k, ls->stride)
                        : nn_conv2d_declare(&conv, &p, "l", ls->cin, ls->cout, ls->k, ls->stride,
                                            NN_PAD_ZERO);
    if (rc != 0 || nn_params_alloc(&p) != 0) { nn_params_free(&p); return -1; }
    if (ls->deconv) nn_deconv2d_init(&deconv, &p, rng);
    else nn_conv2d_init(&conv, &p, rng);

    int oh, ow;
    if (ls->deconv) {
        oh = ow = ls->h * ls->stride;
    } else {
        nn_conv2d_out_shape(&conv, ls->h, ls->h, &oh, &ow);
    }
    /* the matrix products the layer runs, with the layer's transposes */
    const int kk = (ls->deconv ? ls->cout : ls->cin) * ls->k * ls->k;
    gemm_shape fwd, bwd[2];
    int nbwd = ls->need_dx ? 2 : 1;
    if (!ls->deconv) {
        const int np = BATCH * oh * ow;
        fwd = (gemm_shape){0, 0, ls->cout, np, kk};
        bwd[0] = (gemm_shape){0, 1, ls->cout, kk, np}; /* dW += dY col^T */
        bwd[1] = (gemm_shape){1, 0, kk, np, ls->cout}; /* dcol = W^T dY */
    } else {
        const int np = BATCH * ls->h * ls->h;
        fwd = (gemm_shape){1, 0, kk, np, ls->cin};     /* col = W^T x */
        bwd[0] = (gemm_shape){0, 1, ls->cin, kk, np};  /* dW += x col^T */
        bwd[1] = (gemm_shape){0, 0, ls->cin, np, kk};  /* dx = W col */
    }
    const double flops_fwd = 2.0 * fwd.m * fwd.n * fwd.k;
    const double flops_bwd = flops_fwd * nbwd;

    nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};
    nn_workspace ws = {0};
    gemm_bufs gb[3] = {{0}};
    int ok = nn_tensor_alloc(&x, BATCH, ls->cin, ls->h, ls->h) == 0 &&
             nn_tensor_alloc(&dy, BATCH, ls->cout, oh, ow) == 0 && gemm_alloc(&fwd, &gb[0]) == 0;
    for (int i = 0; ok && i < nbwd; i++) ok = gemm_alloc(&bwd[i], &gb[1 + i]) == 0;
    if (ok) {
        fill(x.data, nn_tensor_numel(&x), rng);
        fill(dy.data, nn_tensor_numel(&dy), rng);
        fill(gb[0].a, (size_t)fwd.m * fwd.k, rng);
        fill(gb[0].b, (size_t)fwd.k * fwd.n, rng);
    }
    double t_fwd = 1e30, t_bwd = 1e30, t_gfwd = 1e30, t_gbwd = 1e30;
    /* rep 0 is a warm-up (page faults, workspace growth); then the best of
     * at least MIN_REPS, more while the layer has had under LAYER_SECONDS,
     * since the best time is the one least disturbed by other processes */
    double start = now();
    for (int rep = 0; ok && rep <= MAX_REPS && (rep <= MIN_REPS || now() - start < LAYER_SECONDS);
         rep++) {
        double t0 = now();
        ok = (ls->deconv ? nn_deconv2d_forward(&deconv, &p, &x, &y, &ws)
                         : nn_conv2d_forward(&conv, &p, &x, &y, &ws)) == 0;
        double t1 = now();
        gemm_run(&fwd, &gb[0]);
        double t2 = now();
        nn_tensor *dxp = ls->need_dx ? &dx : NULL;
        ok = ok && (ls->deconv ? nn_deconv2d_backward(&deconv, &p, &x, &dy, dxp, &ws)
                               : nn_conv2d_backward(&conv, &p, &x, &dy, dxp, &ws)) == 0;
        double t3 = now();
        for (int i = 0; i < nbwd; i++) gemm_run(&bwd[i], &gb[1 + i]);
        double t4 = now();
        if (rep == 0) continue;
        if (t1 - t0 < t_fwd) t_fwd = t1 - t0;
        if (t2 - t1 < t_gfwd) t_gfwd = t2 - t1;
        if (t3 - t2 < t_bwd) t_bwd = t3 - t2;
        if (t4 - t3 < t_gbwd) t_gbwd = t4 - t3;
    }
    if (ok) {
        double f = flops_fwd / t_fwd * 1e-9, fg = flops_fwd / t_gfwd * 1e-9;
        double b = flops_bwd / t_bwd * 1e-9, bg = flops_bwd / t_gbwd * 1e-9;
        printf("%s %4dx%-4d %8.1f %7.1f %7.1f %5.2f | %8.1f %7.1f %7.1f %5.2f%s\n", ls->name,
               ls->h, ls->h, t_fwd * 1e3, f, fg, f / fg, t_bwd * 1e3, b, bg, b / bg,
               ls->need_dx ? "" : "  (no dx)");
    }
    for (int i = 0; i < 3; i++) gemm_free(&gb[i]);
    nn_tensor_free(&x); nn_tensor_free(&y); nn_tensor_free(&dy); nn_tensor_free(&dx);
    nn_workspace_free(&ws);
    nn_params_free(&p);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    (void)argc;
    nn_blas_setup(argv);
    const char *env = getenv("OPENBLAS_CORETYPE"), *wait = getenv("OMP_WAIT_POLICY");
    printf("bench_conv: OpenBLAS kernel %s (OPENBLAS_CORETYPE %s), %d OpenBLAS threads, "
           "%d OpenMP threads (OMP_WAIT_POLICY %s), batch %d\n", nn_blas_corename(),
           env ? env : "unset", openblas_get_num_threads(), omp_get_max_threads(),
           wait ? wait : "unset", BATCH);
    printf("GFLOP/s; 'sgemm' = cblas_sgemm alone on the layer's own products; best of %d-%d runs\n",
           MIN_REPS, MAX_REPS);
    printf("%-23s %-9s %8s %7s %7s %5s | %8s %7s %7s %5s\n", "layer", "input", "fwd ms", "fwd",
           "sgemm", "ratio", "bwd ms", "bwd", "sgemm", "ratio");
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    double t0 = now();
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        if (bench_layer(&layers[i], &rng) != 0) {
            fprintf(stderr, "bench_conv: out of memory at layer %zu\n", i);
            return 1;
        }
        fflush(stdout);
    }
    printf("bench_conv: %.1f s\n", now() - t0);
    return 0;
}
