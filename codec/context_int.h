/* codec/context_int.h - the checkerboard context model in integers.
 *
 * A context model (model.h, arch.context) refines each latent's (scale,
 * mu) from h_s's with a small network that, for the non-anchor latents,
 * also reads the decoded anchors around them. Like the hyper-synthesis
 * (hyper_int.h), at inference it runs on integers only, so that encoder
 * and decoder pick the same tables on every machine. For the latents of
 * one parity (0: anchors, row + column even; 1: the others):
 *
 *   e_hs  = act(params_hs, hs_mult)              int16 [2M], h_s's (scale, mu) in Q16
 *   e_ctx = 0 for anchors; for the others
 *           ctx(act(y^ of the 12 anchors at |dy|,|dx| <= 2, dy + dx odd, y_mult))
 *                                                 int16 [M], no activation
 *   h     = lrelu(ep0([e_hs, e_ctx]))              int16 [2M]
 *   (scale, mu) = params_hs + ep1(h)               Q16 [M] each
 *
 * where y^ = (r << 16) + mu_q of the anchor (Q16), and ctx, ep0, ep1 are
 * 1x1 integer layers (aec_int_layer_*): ctx over the 12 M gathered values,
 * channel ci * 12 + tap. spec/model-format.md "Integer context model" has
 * the arithmetic and the byte form. */
#ifndef AEC_CONTEXT_INT_H
#define AEC_CONTEXT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "hyper_int.h"
#include "model.h"

#define AEC_CTX_TAPS 12

typedef struct {
    int m;
    int32_t hs_mult, hs_shift;   /* Q16 params_hs -> e_hs */
    int32_t y_mult, y_shift;     /* Q16 y^ -> the context's input */
    aec_hs_int_layer ctx, ep0, ep1;
    int kernel;                  /* an aec_hs_kernel (tests) */
} aec_ctx_int;

/* Activation ranges seen by aec_model_context_calibrate. */
typedef struct {
    double max_abs[4];
} aec_ctx_calib;

/* Quantises m's context layers (m->arch.context) with ranges c. 0, or -1
 * with a message. */
int aec_ctx_int_build(aec_ctx_int *q, const aec_model *m, const aec_ctx_calib *c, char *err,
                      size_t errlen);
void aec_ctx_int_free(aec_ctx_int *q);

/* Updates, in place, scale_q and mu_q ([M][yh][yw], Q16, h_s's values on
 * entry) at the latents of one parity. For parity 1 the anchors' mu_q
 * must already be final and r ([M][yh][yw], the symbols) hold the
 * anchors' (its non-anchors are not read); for parity 0 r is not read.
 * Results do not depend on the thread count or the kernel. 0, or -1 (bad
 * arguments, out of memory). */
int aec_ctx_int_run(const aec_ctx_int *q, int parity, int yh, int yw, const int32_t *r,
                    int32_t *scale_q, int32_t *mu_q);

/* The byte form (the model file's CTXQ chunk). */
int aec_ctx_int_serialize(const aec_ctx_int *q, uint8_t **buf, size_t *len);
int aec_ctx_int_deserialize(aec_ctx_int *q, const uint8_t *buf, size_t len, char *err,
                            size_t errlen);

#endif
