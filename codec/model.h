/* codec/model.h - the aec autoencoder: analysis and synthesis transforms,
 * the mean-scale hyperprior (Minnen et al. 2018, without the serial context
 * model) and per-level gain vectors (Cui et al. 2021) so that one model
 * serves every rate.
 *
 *   y   = g_a(x)                      x: RGB in [0,1], sides multiple of 64
 *   y_g = y * gain[l]                 per-channel gain of rate level l
 *   z   = h_a(y_g),  z_g = z * hgain[l]
 *   z^  = round(z_g)                  coded with the factorized density
 *   (scale, mu) = h_s(z^ * hinv[l])   the hyper-synthesis
 *   y^  = round(y_g - mu) + mu        coded as round(y_g - mu) under N(0, scale)
 *   x^  = g_s(y^ * inv[l])
 *
 * Levels are trained at the lambdas in the architecture; a real quality
 * between two levels interpolates their gain vectors geometrically.
 *
 * With arch.context (a checkerboard context model, after He et al. 2021)
 * the latents are coded in two passes: the anchors, latents whose row +
 * column is even, with h_s's parameters alone, then the others with
 * parameters that also see the decoded anchors around them, through their
 * residuals r = y^ - mu_hs (the symbols the coder sent) and |r|:
 *
 *   ctx = nonanchor(ctx_conv(anchor([r, |r|])))        5x5, 2M -> M
 *   (scale, mu) = h_s(..) + nonanchor(ep1(lrelu(ep0([h_s(..), ctx]))))
 *
 * anchor() zeroes the non-anchor positions, nonanchor() the anchors; ep0
 * and ep1 are 1x1 convolutions. |r| is there because what the neighbours
 * tell is mostly how large a residual is: on butterfly validation latents
 * of the plain model, |r / scale| of a latent correlates 0.3-0.5 with its
 * four neighbours' mean, r / scale only 0.1-0.14 with theirs (a context
 * fed y^ itself learned nothing in 1,500 steps). ep1 starts at zero: a
 * model given a context starts as the hyperprior it was. */
#ifndef AEC_MODEL_H
#define AEC_MODEL_H

#include <stdint.h>

#include "nn/conv2d.h"
#include "nn/deconv_winograd.h"
#include "nn/gdn.h"
#include "nn/likelihood.h"
#include "nn/params.h"
#include "nn/rng.h"
#include "nn/tensor.h"

#define AEC_MAX_LEVELS 16

typedef struct {
    int n;          /* channels inside the transforms */
    int m;          /* latent channels */
    int levels;     /* rate levels trained, lowest rate first */
    float lambda[AEC_MAX_LEVELS]; /* distortion weight per level (MSE on 0-255 scale) */
    int context;    /* 1: the checkerboard context model below; 0: the hyperprior alone */
} aec_arch;

typedef struct {
    aec_arch arch;
    int decoder_only; /* made by aec_model_create_decoder */
    nn_params p;
    nn_conv2d ga[4];
    nn_gdn ga_gdn[3];
    nn_deconv2d gs[4];
    nn_gdn gs_igdn[3];
    nn_conv2d ha[3];
    nn_deconv2d hs_up[2];
    nn_conv2d hs_out;
    nn_conv2d ctx_conv, ep[2];   /* arch.context only */
    nn_factorized z_density;
    size_t gain, inv_gain;    /* [levels][m] */
    size_t hgain, hinv_gain;  /* [levels][n] */
} aec_model;

/* The default architecture (N, M and the lambdas). */
void aec_arch_default(aec_arch *a);
/* Declares and allocates every parameter (initialised by training's
 * aec_model_init, or loaded). */
int aec_model_create(aec_model *m, const aec_arch *arch);
/* Declares only what the decoder needs in floating point: the synthesis
 * g_s and the inverse gains (the hyper-synthesis runs in integers, see
 * hyper_int.h). Such a model cannot be trained or encode. */
int aec_model_create_decoder(aec_model *m, const aec_arch *arch);
/* A copy with its own parameter buffer (gradients zero). */
int aec_model_clone(aec_model *dst, const aec_model *src);
void aec_model_free(aec_model *m);

/* Everything one training step keeps between forward and backward. */
typedef struct {
    int batch, h, w;
    int level[64];              /* rate level of each batch item */
    nn_tensor x;                /* input batch */
    nn_tensor ga_in[4], ga_pre[3], y, y_g;
    nn_tensor ha_in[3], ha_pre[2], z, z_g, z_noisy, z_hat, hs_in;
    nn_tensor hs_pre[2], hs_act[2], hs_params, scale, mu;
    nn_tensor ctx_in, ctx_out, ep_in, ep_pre, ep_act, params;  /* arch.context */
    nn_tensor d_hs;
    nn_tensor y_noisy, y_hat, gs_in[4], gs_pre[3], x_hat;
    nn_tensor d0, d1, d_scale, d_mu, d_yg, d_zg;   /* gradients */
    nn_workspace ws;
    nn_rng rng;
    /* NULL, or plans of the model's current weights (aec_model_make_plans)
     * that the passes use instead of making their own */
    const nn_winograd_plan *plans;
    nn_winograd_plan *step_plans; /* aec_model_train_split's, kept in its first state */
    /* 0 (aec_train_state_init): the 5x5 stride-2 layers' weight gradients
     * by Winograd where it applies; 1: by the plain passes, the reference
     * that tests and benchmarks compare them with */
    int plain_weight_grads;
    /* results of the last forward pass */
    double bits_y, bits_z;       /* whole batch */
    double mse[64];              /* per item, on [0,1] scale */
    double loss;
} aec_train_state;

void aec_train_state_init(aec_train_state *s, uint64_t seed);
void aec_train_state_free(aec_train_state *s);

/* The Winograd plans (deconv_winograd.h) of the model's current weights
 * for the training passes: [0, 4) g_a's layers forward, [4, 8) their input
 * gradients, [8, 12) g_s's forward, [12, 16) g_s's input gradients (empty
 * plans for layers the Winograd passes do not take). A pass makes its
 * plan at every call otherwise: aec_model_train_split makes them once a
 * step for all its workers, on all threads, a plan to a thread (rather
 * than each worker spending part of its step on its own). plans: zeroed, or an
 * earlier call's, whose memory is reused. 0, or -1 (out of memory, or a
 * decoder-only model: then the plans are freed). */
#define AEC_MODEL_PLANS 16
int aec_model_make_plans(const aec_model *m, nn_winograd_plan plans[AEC_MODEL_PLANS]);
void aec_model_free_plans(nn_winograd_plan plans[AEC_MODEL_PLANS]);

/* (s->scale, s->mu) from s->hs_params (h_s's output, [B][2M][h][w]) and,
 * for a context model, the anchors of ctx_src [B][M][h][w], the latents
 * whose residuals against h_s's mean the context reads (its non-anchors
 * are never read; the anchors' parameters are h_s's). The training forward
 * pass calls it with the noisy latents; evaluation and export's
 * calibration with rounded ones. */
int aec_model_entropy_params(const aec_model *m, aec_train_state *s, const nn_tensor *ctx_src);

/* Calibration of the integer context model (context_int.h): after
 * aec_model_analyze(m, s, x, t), runs the float hyper-synthesis and the two
 * passes of the context model as the coder would, and raises max_abs[]:
 * 0 h_s's output, 1 the anchors' residuals r the context reads, 2 the
 * context's output, 3 ep's hidden activation (after the leaky ReLU).
 * -1 when m has no context model, or out of memory. */
int aec_model_context_calibrate(const aec_model *m, aec_train_state *s, float t, double max_abs[4]);

/* Deterministic evaluation of one image at a real level position t in
 * [0, levels-1] (float path, for validation: bits estimated from the
 * likelihoods of the rounded latents). x: [1][3][H][W], H and W multiples
 * of 64. Writes x_hat (clamped to [0,1]) and returns the bits estimate. */
double aec_model_eval(const aec_model *m, aec_train_state *s, const nn_tensor *x, float t,
                      nn_tensor *x_hat);

/* The encoder's float half, for one image x [1][3][H][W] (H, W multiples
 * of 64) at level position t: leaves the gained latent in s->y_g
 * [1][M][H/16][W/16] and the rounded gained hyper-latent in s->z_hat
 * [1][N][H/64][W/64]. Runs the inference path below (s->ws is its
 * workspace; the other training tensors are left alone). */
int aec_model_analyze(const aec_model *m, aec_train_state *s, const nn_tensor *x, float t);
/* Its second half, for a y = g_a(x) computed elsewhere (tile by tile):
 * takes *y over (it becomes s->y_g, scaled in place; *y is left empty,
 * also on failure) and computes s->z_hat from it. */
int aec_model_analyze_y(const aec_model *m, aec_train_state *s, nn_tensor *y, float t);
/* The synthesis: x_hat = clamp(g_s(y_hat * inv_gain(t)), 0, 1). Works on
 * decoder-only models. */
int aec_model_synthesize(const aec_model *m, aec_train_state *s, const nn_tensor *y_hat, float t,
                         nn_tensor *x_hat);

/* Encoder-side refinement of a latent (content-adaptive optimisation,
 * Campos et al. 2019): the encoder may send any latent, not only g_a's
 * guess. For one image x [1][3][H][W] (padded planar; its first h rows and
 * w columns are the image), its gained latent y_g [1][M][H/16][W/16] at
 * level position t and the (mu, scale) the hyperprior gives it (kept
 * fixed), `iters` Adam steps on y_g lower the coded loss
 *   bits(y^) / (w h) + lambda(t) 255^2 mse(g_s(y^ inv_gain), x),
 *   y^ = mu + round(y_g - mu),
 * with the rounding passed straight through. y_g ends at the iterate with
 * the lowest loss (the starting one included), so it is never worse by this
 * measure; *gain (may be NULL) receives 1 - best / starting loss. Uses s's
 * synthesis buffers; the model is not changed. 0, or -1 (bad shapes, out
 * of memory). */
int aec_model_refine_latent(const aec_model *m, aec_train_state *s, const nn_tensor *x, int w,
                            int h, float t, nn_tensor *y_g, const nn_tensor *mu,
                            const nn_tensor *scale, int iters, double *gain);

/* Passes for the encoder's latent search (codec/search.c), on a const
 * model (no weight gradients). The synthesis: s->gs_in[0] -> s->x_hat,
 * keeping activations (plans: g_s's four forward plans, or NULL); its
 * input gradient: from **dcur = d loss / d x_hat to d loss / d gs_in[0],
 * the two pointers swapped as the layers go (s->d0 and s->d1 may be them;
 * plans: the four input-gradient plans). The hyper-synthesis of a model
 * without a context model: s->hs_in -> s->hs_params, s->scale, s->mu; its
 * input gradient d_in from d_params ([1][2M] scale then mu; uses s->d0 and
 * s->d1). 0, or -1. */
int aec_model_synthesis_train_forward(const aec_model *m, aec_train_state *s,
                                      const nn_winograd_plan *plans);
int aec_model_synthesis_backward_input(const aec_model *m, aec_train_state *s,
                                       const nn_winograd_plan *plans, nn_tensor **dcur,
                                       nn_tensor **dnext);
int aec_model_hyper_synthesis_train_forward(const aec_model *m, aec_train_state *s);
int aec_model_hyper_synthesis_backward_input(const aec_model *m, aec_train_state *s,
                                             const nn_tensor *d_params, nn_tensor *d_in);
/* lambda at level position t, interpolated like the gains (geometrically) */
double aec_model_lambda(const aec_arch *a, float t);

/* The transforms alone for inference, without training's saved
 * activations: each layer's input is freed once the next has read it, so
 * at most two activations, the convolutions' capped workspace and small
 * GDN bands are alive. y = g_a(x) (not on decoder-only models);
 * x_hat = g_s(y), unclamped, y already divided by the gain. x and y may
 * hold a batch. */
int aec_model_analysis(const aec_model *m, const nn_tensor *x, nn_tensor *y, nn_workspace *ws);
int aec_model_synthesis(const aec_model *m, const nn_tensor *y, nn_tensor *x_hat, nn_workspace *ws);

/* Gain vectors of level position t (geometric interpolation between the
 * two neighbouring levels). */
void aec_model_gains(const aec_model *m, float t, float *gain, float *inv_gain,
                     float *hgain, float *hinv_gain);

#endif
