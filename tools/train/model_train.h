/* tools/train/model_train.h - training the model (codec/model.h): its
 * initial weights, new rate levels or a wider latent for a model being
 * fine-tuned, and the training passes, forward and backward, alone or with
 * a batch split over workers. */
#ifndef AEC_MODEL_TRAIN_H
#define AEC_MODEL_TRAIN_H

#include <stdint.h>

#include "codec/model.h"

/* Random initial weights (seed), the levels' gains apart in rate. */
void aec_model_init(aec_model *m, uint64_t seed);
/* dst: src with its rate levels changed to arch's lambdas (N and M as
 * src's; arch->levels 1..AEC_MAX_LEVELS, lambdas increasing). Every
 * parameter is copied but the four gain blocks, whose rows are
 * interpolated, or extrapolated, linearly in log(gain) against
 * log(lambda) from the two nearest of src's levels (src's own row where a
 * lambda is one of src's). arch->context may differ from src's: a context
 * model made from a plain one gets fresh context layers that start as
 * nothing (codec/model.h); the other way round they are dropped. 0, or -1 (bad
 * arch, a decoder-only src, out of memory). */
int aec_model_relevel(aec_model *dst, const aec_model *src, const aec_arch *arch);
/* dst: src with m >= src's M latent channels (model_widen.c), its
 * first M src's. The new channels start out reaching no pixel (g_s's
 * weights from them are 0) and changing no old channel's mean or scale
 * (h_a's weights from them are 0, h_s's new hidden channels start at 0),
 * so dst codes every picture to src's pixels, the new channels' symbols
 * costing a few bits; their analysis rows are random (seed) so that they
 * learn. 0, or -1 (a decoder-only or context src, m below src's M, out
 * of memory). */
int aec_model_widen(aec_model *dst, const aec_model *src, int m, uint64_t seed);

/* Forward pass with training-time quantisation (noise for the rate terms,
 * straight-through rounding for the synthesis input) on s->x, whose batch
 * items use the rate levels s->level[]. Sets bits, mse and loss:
 *   loss = (bits_y + bits_z) / (B H W) + mean_i lambda_i 255^2 mse_i  */
int aec_model_train_forward(aec_model *m, aec_train_state *s);
/* Backward of the last forward: accumulates into m->p.grad. */
int aec_model_train_backward(aec_model *m, aec_train_state *s);

/* Forward and backward of one batch split over `workers` states run in
 * parallel, one thread each: worker w's items are s[w].x (levels
 * s[w].level, noise from s[w].rng; an empty x is an idle worker), its
 * gradient goes to grads[w] (m->p.count floats each, none of them
 * m->p.grad). Then m->p.grad = the gradient of the whole batch's loss,
 * sum over w of (items_w / items) grads[w] (overwritten, not accumulated),
 * and each state holds its own bits, mse and loss. One worker: s[0]'s
 * loops use every thread and its gradient goes to m->p.grad (grads is not
 * read). Either way the step's Winograd plans are made once
 * (aec_model_make_plans, codec/model.h). 0, or -1. */
#define AEC_MAX_WORKERS 16
int aec_model_train_split(aec_model *m, aec_train_state *s, int workers, float *const *grads);
/* The same for these workers' share of a batch of `batch` items, the
 * rest of which other processes take (aec train over MPI): m->p.grad =
 * sum over w of (items_w / batch) grads[w], so that the processes' results
 * add up to the batch's gradient; one worker's gradient is scaled by
 * items / batch. aec_model_train_split is this with batch = the workers'
 * items. -1 also when batch is below them. */
int aec_model_train_share(aec_model *m, aec_train_state *s, int workers, float *const *grads,
                          int batch);

#endif
