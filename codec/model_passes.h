/* codec/model_passes.h - the parts of the model's passes (codec/model.c)
 * that its training passes (tools/train/model_train.c) share: each keeps
 * what it computes in the aec_train_state, for a backward pass to use. */
#ifndef AEC_MODEL_PASSES_H
#define AEC_MODEL_PASSES_H

#include "codec/model.h"

/* the slope of every leaky ReLU of the model */
#define AEC_MODEL_LRELU_SLOPE 0.01f

/* batch item i of t, as a tensor of one item sharing t's data */
nn_tensor aec_model_item_view(const nn_tensor *t, int i);
/* t resized to like's shape */
int aec_model_resize_like(nn_tensor *t, const nn_tensor *like);

/* y[i] = x[i] * g_i, g_i = gains of item i (per-item vectors at base + level*c) */
void aec_model_scale_items(const nn_tensor *x, nn_tensor *y, const float *const *g);

/* Analysis transform g_a: x -> y, keeping each layer's input (its
 * convolutions by nn/deconv_winograd where it applies). */
int aec_model_analysis_forward(const aec_model *m, aec_train_state *s, const nn_tensor *x);

/* Hyper-analysis h_a: y_g -> z. */
int aec_model_hyper_analysis_forward(const aec_model *m, aec_train_state *s);

/* Hyper-synthesis h_s: hs_in -> hs_params -> (scale, mu). */
int aec_model_hyper_synthesis_forward(const aec_model *m, aec_train_state *s);

/* Zeroes the positions of t that are not anchors (keep_anchors) or that
 * are (!keep_anchors). Anchors: row + column even. */
void aec_model_checker_mask(nn_tensor *t, int keep_anchors);

/* Synthesis g_s: gs_in[0] -> x_hat (its transposed convolutions by
 * nn/deconv_winograd where it applies, with the layers' plans when given,
 * else plans made for the call). */
int aec_model_synthesis_forward(const aec_model *m, aec_train_state *s,
                                const nn_winograd_plan *plans);

#endif
