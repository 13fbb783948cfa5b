/* nn/adam.h - Adam (Kingma & Ba, with bias correction) over a whole
 * nn_params buffer, optional global gradient-norm clipping, and the
 * learning-rate schedule. */
#ifndef NN_ADAM_H
#define NN_ADAM_H

#include <stddef.h>

#include "nn/params.h"

typedef struct {
    float beta1, beta2, eps;
    float clip_norm;   /* 0 = no clipping; else scale grads to this global L2 norm */
    long step;         /* steps taken so far (for bias correction) */
    size_t count;
    float *m, *v;      /* first and second moments, count floats each */
} nn_adam;

/* beta1 0.9, beta2 0.999, eps 1e-8, no clipping; m = v = 0 */
int nn_adam_init(nn_adam *a, size_t count);
void nn_adam_free(nn_adam *a);
/* One update of p->value from p->grad with learning rate lr. Returns the
 * global gradient L2 norm before clipping. Does not zero the gradients. */
double nn_adam_step(nn_adam *a, nn_params *p, float lr);
/* Same, over a sub-range [begin, end) of the buffer with its own lr (so
 * e.g. entropy-model parameters can use another rate); the caller calls
 * nn_adam_tick once per step before the range updates. Gradients are
 * multiplied by grad_scale first (clip_norm / norm when clipping, else 1);
 * nn_adam_update_range ignores clip_norm. end is clamped to the buffer. */
void nn_adam_tick(nn_adam *a);
void nn_adam_update_range(nn_adam *a, nn_params *p, size_t begin, size_t end, float lr, float grad_scale);
double nn_grad_norm(const nn_params *p);
/* nn_adam_step with a learning-rate factor per parameter entry
 * (entry_scale[p->n_entries]): entry e moves with lr * entry_scale[e]; an
 * entry with factor 0 is frozen (its moments stay as they are) and leaves
 * the clipping norm, which is summed over the moving entries only, in entry
 * order. Returns that norm. For fine-tuning some parts of a model faster
 * than others. */
double nn_adam_step_scaled(nn_adam *a, nn_params *p, float lr, const float *entry_scale);

/* Learning rate at `step` of `total`: linear warm-up from 0.1*base over
 * `warmup` steps, then constant, then cosine decay to final_frac*base over
 * the last `decay_frac` of the run, reaching final_frac*base at step ==
 * total and staying there. The warm-up and decay factors multiply, so the
 * curve is continuous even when they overlap. warmup 0 or decay_frac 0
 * turns that part off. */
typedef struct {
    float base, final_frac, decay_frac;
    long warmup, total;
} nn_lr_schedule;

float nn_lr_at(const nn_lr_schedule *s, long step);

#endif
