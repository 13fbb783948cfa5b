/* One training step (forward, loss, backward, Adam) of the default
 * architecture and of a half-width one, batch 8 of 128x128 patches, timed
 * after a warm-up step, first with the batch on every thread, then split
 * over one single-threaded worker per thread (aec train --workers).
 * For scale (quoted, not measured here): PyTorch 1.13 with 2 threads,
 * CompressAI's scale hyperprior, the same batch on a 2-core machine:
 * 1.38 s (N=128, M=192) and 0.67 s (N=64, M=96) per step.
 *
 * Then (alone with --compare) the step of the default architecture with
 * the 5x5 stride-2 layers' weight gradients by the plain passes
 * (aec_train_state.plain_weight_grads) against the same by Winograd, for
 * batch 8 of 128x128 and batch 2 of 256x256, on every thread and split
 * over workers: ROUNDS rounds, the two alternating, each the best of 2
 * steps after a warm-up; the range of the rounds' times and ratios. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/model.h"
#include "nn/adam.h"
#include "nn/blas.h"
#include "tools/train/model_train.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Seconds per step (best of reps after a warm-up step) with the batch in
 * one state whose loops use every thread (workers 1), or split over
 * `workers` single-threaded workers (aec_model_train_split). */
static double time_step(int n, int m, int workers, int reps, int batch, int patch, int plain_dw)
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
        s[w].plain_weight_grads = plain_dw;
        int items = batch / workers + (w < batch % workers);
        ok &= nn_tensor_alloc(&s[w].x, items, 3, patch, patch) == 0;
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

#define ROUNDS 3

/* plain weight gradients against Winograd ones, alternating (see above) */
static int compare_weight_grads(int threads)
{
    static const int settings[2][2] = {{8, 128}, {2, 256}}; /* batch, patch */
    printf("== training step (N=128, M=192), weight gradients of the 5x5 stride-2 layers: plain vs "
           "Winograd, %d rounds alternating, best of 2 steps each\n", ROUNDS);
    printf("batch  patch  workers x threads  plain s/step  winograd s/step  speed-up\n");
    /* the batch on every thread, then one single-threaded worker a thread */
    const int worker_counts[2] = {1, threads};
    for (int si = 0; si < 2; si++)
        for (int wi = 0; wi < (threads > 1 ? 2 : 1); wi++) {
            const int workers = worker_counts[wi];
            double lo[3] = {1e30, 1e30, 1e30}, hi[3] = {0, 0, 0};
            for (int r = 0; r < ROUNDS; r++) {
                const double tp = time_step(128, 192, workers, 2, settings[si][0], settings[si][1], 1);
                const double tw = time_step(128, 192, workers, 2, settings[si][0], settings[si][1], 0);
                if (tp < 0 || tw < 0) {
                    printf("out of memory\n");
                    return -1;
                }
                const double v[3] = {tp, tw, tp / tw};
                for (int k = 0; k < 3; k++) {
                    lo[k] = v[k] < lo[k] ? v[k] : lo[k];
                    hi[k] = v[k] > hi[k] ? v[k] : hi[k];
                }
            }
            printf("%5d  %5d  %7d x %-7d  %5.3f-%5.3f    %5.3f-%5.3f      %4.2f-%4.2f\n",
                   settings[si][0], settings[si][1], workers, workers > 1 ? 1 : threads, lo[0], hi[0],
                   lo[1], hi[1], lo[2], hi[2]);
        }
    return 0;
}

int main(int argc, char **argv)
{
    nn_blas_setup(argv);
    /* at most one worker per patch of the batch of 8 */
    int threads = omp_get_max_threads();
    if (threads > 8) threads = 8;
    if (argc > 1 && strcmp(argv[1], "--compare") == 0) return compare_weight_grads(threads) ? 1 : 0;
    printf("== training step, batch 8 of 128x128 (BLAS kernel %s; best of 3)\n", nn_blas_corename());
    const int shapes[2][2] = {{128, 192}, {64, 96}};
    for (int i = 0; i < 2; i++) {
        /* one batch on every thread (aec train's default), then the batch
         * split over one worker per thread (--workers) */
        double t1 = time_step(shapes[i][0], shapes[i][1], 1, 3, 8, 128, 0);
        double tw = threads > 1 ? time_step(shapes[i][0], shapes[i][1], threads, 3, 8, 128, 0) : -2;
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
