/* codec/context_int.h - the checkerboard context model in integers.
 *
 * A context model (model.h, arch.context) codes the anchors (latents whose
 * row + column is even) with h_s's (scale, mu), then corrects the others'
 * with a small network that reads the decoded anchors around them. Like the
 * hyper-synthesis (hyper_int.h), at inference it runs on integers only, so
 * that encoder and decoder pick the same tables on every machine. At each
 * non-anchor:
 *
 *   e_hs  = act(params_hs, hs_mult)              int16 [2M], h_s's (scale, mu) in Q16
 *   e_ctx = ctx(act(r, r_mult), act(|r|, r_mult) of the 12 anchors at
 *           |dy|, |dx| <= 2, dy + dx odd)           int16 [M], no activation
 *   h     = lrelu(ep0([e_hs, e_ctx]))              int16 [2M]
 *   (scale, mu) = params_hs + ep1(h)               Q16 [M] each
 *
 * where r are the anchors' decoded symbols (their residuals against h_s's
 * mean), and ctx, ep0, ep1 are 1x1 integer layers (aec_int_layer_*): ctx
 * over the 24 M gathered values, channel ci * 12 + tap (ci < M: r of
 * channel ci; ci >= M: |r| of channel ci - M). spec/model-format.md
 * "Integer context model" has the arithmetic and the byte form. */
#ifndef AEC_CONTEXT_INT_H
#define AEC_CONTEXT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "codec/hyper_int.h"
#include "codec/model.h"

#define AEC_CTX_TAPS 12
#define AEC_CTX_MAX_CIN 8192   /* 24 M: M <= 341 */

typedef struct {
    int m;
    int32_t hs_mult, hs_shift;   /* Q16 params_hs -> e_hs */
    int32_t r_mult, r_shift;     /* symbols r, |r| -> the context's input */
    aec_hs_int_layer ctx, ep0, ep1;
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
 * entry) at the non-anchors, from the anchors' symbols in r ([M][yh][yw];
 * its non-anchors are not read). The anchors' values are left as they
 * are. Results do not depend on the thread count or the kernel (nn/cpu.h).
 * 0, or -1 (bad arguments, out of memory). */
int aec_ctx_int_run(const aec_ctx_int *q, int yh, int yw, const int32_t *r, int32_t *scale_q,
                    int32_t *mu_q);

/* The byte form (the model file's CTXQ chunk). */
int aec_ctx_int_serialize(const aec_ctx_int *q, uint8_t **buf, size_t *len);
int aec_ctx_int_deserialize(aec_ctx_int *q, const uint8_t *buf, size_t len, char *err,
                            size_t errlen);

#endif
