/* One training step (forward, loss, backward, Adam) of the default
 * architecture and of a half-width one, batch 8 of 128x128 patches, timed
 * after a warm-up step, first with the batch on every thread, then split
 * over one single-threaded worker per thread (aec train --workers).
 * For scale (quoted, not measured here): PyTorch 1.13 with 2 threads,
 * CompressAI's scale hyperprior, the same batch on a 2-core machine:
 * 1.38 s (N=128, M=192) and 0.67 s (N=64, M=96) per step. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adam.h"
#include "blas.h"
#include "model.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Seconds per step (best of reps after a warm-up step) with the batch in
 * one state whose loops use every thread (workers 1), or split over
 * `workers` single-threaded workers (aec_model_train_split). */
static double time_step(int n, int m, int workers, int reps)
{
    aec_arch arch;
    aec_arch_default(&arch);
    arch.n = n;
    arch.m = m;
    aec_model model;
    nn_adam adam;
    aec_train_state s[AEC_MAX_WORKERS];
    float *grads[AEC_MAX_WORKERS] = {0};
    memset(s, 0, sizeof s);
    if (aec_model_create(&model, &arch) || nn_adam_init(&adam, model.p.count)) return -1;
    aec_model_init(&model, 1);
    nn_rng fill;
    nn_rng_seed(&fill, 2);
    int ok = 1;
    for (int w = 0, item = 0; w < workers; w++) {
        aec_train_state_init(&s[w], 2 + (uint64_t)w);
        int items = 8 / workers + (w < 8 % workers);
        ok &= nn_tensor_alloc(&s[w].x, items, 3, 128, 128) == 0;
        if (workers > 1) ok &= (grads[w] = malloc(model.p.count * sizeof(float))) != NULL;
        if (!ok) break;
        for (size_t k = 0; k < nn_tensor_numel(&s[w].x); k++) s[w].x.data[k] = nn_rng_uniform(&fill);
        for (int i = 0; i < items; i++, item++) s[w].level[i] = item % arch.levels;
    }
    double best = ok ? 1e30 : -1;
    for (int r = 0; ok && r <= reps; r++) {
        double t0 = now();
        if (aec_model_train_split(&model, s, workers, grads)) best = -1;
        if (best < 0) break;
        nn_adam_step(&adam, &model.p, 1e-4f);
        double dt = now() - t0;
        if (r > 0 && dt < best) best = dt; /* r == 0 warms caches and buffers */
    }
    for (int w = 0; w < workers; w++) {
        aec_train_state_free(&s[w]);
        free(grads[w]);
    }
    nn_adam_free(&adam);
    aec_model_free(&model);
    return best;
}

int main(int argc, char **argv)
{
    (void)argc;
    nn_blas_setup(argv);
    printf("== training step, batch 8 of 128x128 (BLAS kernel %s; best of 3)\n", nn_blas_corename());
    const int shapes[2][2] = {{128, 192}, {64, 96}};
    /* at most one worker per patch of the batch of 8 */
    int threads = omp_get_max_threads();
    if (threads > 8) threads = 8;
    for (int i = 0; i < 2; i++) {
        /* one batch on every thread (aec train's default), then the batch
         * split over one worker per thread (--workers) */
        double t1 = time_step(shapes[i][0], shapes[i][1], 1, 3);
        double tw = threads > 1 ? time_step(shapes[i][0], shapes[i][1], threads, 3) : -2;
        if (t1 < 0 || tw == -1) {
            printf("N=%d M=%d: out of memory\n", shapes[i][0], shapes[i][1]);
            return 1;
        }
        printf("N=%-3d M=%-3d  one batch on %d threads: %.3f s/step  %.1f patches/s\n", shapes[i][0],
               shapes[i][1], threads, t1, 8 / t1);
        if (tw > 0)
            printf("N=%-3d M=%-3d  %d workers of 1 thread:   %.3f s/step  %.1f patches/s  (%.2fx)\n",
                   shapes[i][0], shapes[i][1], threads, tw, 8 / tw, t1 / tw);
    }
    return 0;
}
