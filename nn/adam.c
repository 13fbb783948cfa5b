#include "nn/adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many floats the update runs on one thread (team start-up costs
 * more than the work). */
#define ADAM_PARALLEL_MIN 65536
/* The norm is summed in this many fixed blocks, in block order, so it does
 * not depend on the thread count (clipping then scales reproducibly). */
#define ADAM_REDUCE_BLOCKS 64

int nn_adam_init(nn_adam *a, size_t count)
{
    memset(a, 0, sizeof *a);
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->m = calloc(count ? count : 1, sizeof(float));
    a->v = calloc(count ? count : 1, sizeof(float));
    if (!a->m || !a->v) {
        free(a->m); free(a->v);
        a->m = a->v = NULL;
        return -1;
    }
    a->count = count;
    return 0;
}

void nn_adam_free(nn_adam *a)
{
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof *a);
}

double nn_grad_norm(const nn_params *p)
{
    size_t n = p->count;
    if (n == 0 || !p->grad) return 0.0;
    const float *g = p->grad;
    double block_sum[ADAM_REDUCE_BLOCKS];
    size_t block = (n + ADAM_REDUCE_BLOCKS - 1) / ADAM_REDUCE_BLOCKS;
    #pragma omp parallel for schedule(static) if (n >= ADAM_PARALLEL_MIN)
    for (int k = 0; k < ADAM_REDUCE_BLOCKS; k++) {
        size_t begin = (size_t)k * block;
        size_t end = begin + block < n ? begin + block : n;
        double sum = 0.0;
        for (size_t i = begin; i < end; i++) sum += (double)g[i] * g[i];
        block_sum[k] = sum;
    }
    double total = 0.0;
    for (int k = 0; k < ADAM_REDUCE_BLOCKS; k++) total += block_sum[k];
    return sqrt(total);
}

void nn_adam_tick(nn_adam *a)
{
    a->step++;
}

void nn_adam_update_range(nn_adam *a, nn_params *p, size_t begin, size_t end, float lr, float grad_scale)
{
    if (end > a->count) end = a->count;
    if (end > p->count) end = p->count;
    if (begin >= end) return;
    /* Bias correction for moments that started at zero; a range update
     * before the first tick is treated as step 1 rather than dividing by 0. */
    long t = a->step > 0 ? a->step : 1;
    double correction1 = 1.0 - pow(a->beta1, (double)t);
    double correction2 = 1.0 - pow(a->beta2, (double)t);
    /* PyTorch's arrangement: value -= (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps) */
    float step_size = (float)(lr / correction1);
    float inv_sqrt_c2 = (float)(1.0 / sqrt(correction2));
    float beta1 = a->beta1, beta2 = a->beta2, eps = a->eps;
    float *m = a->m, *v = a->v, *value = p->value;
    const float *grad = p->grad;
    #pragma omp parallel for schedule(static) if (end - begin >= ADAM_PARALLEL_MIN)
    for (size_t i = begin; i < end; i++) {
        float g = grad[i] * grad_scale;
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        value[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_c2 + eps);
    }
}

double nn_adam_step(nn_adam *a, nn_params *p, float lr)
{
    double norm = nn_grad_norm(p);
    float scale = 1.0f;
    if (a->clip_norm > 0.0f && norm > a->clip_norm) scale = (float)(a->clip_norm / norm);
    nn_adam_tick(a);
    nn_adam_update_range(a, p, 0, p->count, lr, scale);
    return norm;
}

double nn_adam_step_scaled(nn_adam *a, nn_params *p, float lr, const float *entry_scale)
{
    double sum = 0.0;
    for (int e = 0; e < p->n_entries; e++) {
        if (!(entry_scale[e] > 0.0f)) continue;
        const float *g = p->grad + p->entries[e].offset;
        for (size_t i = 0; i < p->entries[e].count; i++) sum += (double)g[i] * g[i];
    }
    double norm = sqrt(sum);
    float scale = 1.0f;
    if (a->clip_norm > 0.0f && norm > a->clip_norm) scale = (float)(a->clip_norm / norm);
    nn_adam_tick(a);
    for (int e = 0; e < p->n_entries; e++) {
        if (!(entry_scale[e] > 0.0f)) continue;
        const nn_param_entry *en = &p->entries[e];
        nn_adam_update_range(a, p, en->offset, en->offset + en->count, lr * entry_scale[e], scale);
    }
    return norm;
}

float nn_lr_at(const nn_lr_schedule *s, long step)
{
    if (step < 0) step = 0;
    /* warm-up factor: 0.1 at step 0, rising linearly to 1 at `warmup` */
    double warm = 1.0;
    if (s->warmup > 0 && step < s->warmup)
        warm = 0.1 + 0.9 * (double)step / (double)s->warmup;
    /* cosine from 1 down to final_frac over the last decay_frac of the run,
     * reaching final_frac at step == total and staying there */
    double decay = 1.0;
    if (s->total > 0 && s->decay_frac > 0.0f) {
        double frac = s->decay_frac > 1.0f ? 1.0 : s->decay_frac;
        long decay_steps = (long)llround(frac * (double)s->total);
        long decay_start = s->total - decay_steps;
        if (decay_steps > 0 && step >= decay_start) {
            double progress = (double)(step - decay_start) / (double)decay_steps;
            if (progress > 1.0) progress = 1.0;
            double cosine = 0.5 * (1.0 + cos(3.14159265358979323846 * progress));
            decay = s->final_frac + (1.0 - s->final_frac) * cosine;
        }
    }
    /* the two factors multiply, so the curve stays continuous even when a
     * short run makes warm-up and decay overlap */
    return (float)(s->base * warm * decay);
}
