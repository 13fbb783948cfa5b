/* One training step (forward, loss, backward, Adam) of the default
 * architecture and of a half-width one, batch 8 of 128x128 patches, timed
 * after a warm-up step. Reference, same batch on this 2-core machine:
 * PyTorch 1.13 with 2 threads, CompressAI's scale hyperprior: 1.38 s
 * (N=128, M=192) and 0.67 s (N=64, M=96) per step (issue 4). */
#include <stdio.h>
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

static double time_step(int n, int m, int reps)
{
    aec_arch arch;
    aec_arch_default(&arch);
    arch.n = n;
    arch.m = m;
    aec_model model;
    nn_adam adam;
    aec_train_state s;
    if (aec_model_create(&model, &arch) || nn_adam_init(&adam, model.p.count)) return -1;
    aec_model_init(&model, 1);
    aec_train_state_init(&s, 2);
    if (nn_tensor_alloc(&s.x, 8, 3, 128, 128)) return -1;
    for (size_t k = 0; k < nn_tensor_numel(&s.x); k++) s.x.data[k] = nn_rng_uniform(&s.rng);
    for (int i = 0; i < 8; i++) s.level[i] = i % arch.levels;
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        nn_params_zero_grad(&model.p);
        if (aec_model_train_forward(&model, &s) || aec_model_train_backward(&model, &s)) return -1;
        nn_adam_step(&adam, &model.p, 1e-4f);
        double dt = now() - t0;
        if (r > 0 && dt < best) best = dt; /* r == 0 warms caches and buffers */
    }
    aec_train_state_free(&s);
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
    for (int i = 0; i < 2; i++) {
        double t = time_step(shapes[i][0], shapes[i][1], 3);
        if (t < 0) {
            printf("N=%d M=%d: out of memory\n", shapes[i][0], shapes[i][1]);
            return 1;
        }
        printf("N=%-3d M=%-3d  %.3f s/step  %.1f patches/s\n", shapes[i][0], shapes[i][1], t, 8 / t);
    }
    return 0;
}
