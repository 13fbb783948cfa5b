/* codec/codec_parts.h - the parts of the encoder (codec.c) that making a
 * model ready to code (tools/train/calibrate.c) builds on: the latents'
 * shape, the analysis tile by tile, the latents as the encoder codes them,
 * and the identity of a codec. */
#ifndef AEC_CODEC_PARTS_H
#define AEC_CODEC_PARTS_H

#include <stdint.h>

#include "codec/codec.h"

/* the padded image (pw x ph, multiples of 64), its hyper-latents (zw x zh)
 * and latents (yw x yh) */
typedef struct {
    int pw, ph, zh, zw, yh, yw;
} aec_latent_shape;

aec_latent_shape aec_latent_shape_of(int w, int h);

/* y = g_a(x) of the image, x being the RGB padded to ls (edge pixels
 * repeated, as aec_image_to_planar does), computed tile by tile straight
 * from the 8-bit pixels, so that the float image is never whole. */
int aec_analyze_tiles(const aec_codec *c, const uint8_t *rgb, int w, int h,
                      const aec_latent_shape *ls, nn_tensor *y);

/* Everything the encoder sends, before entropy coding: z^, and r with the
 * scale_q its table comes from (and mu_q, which r was rounded against). */
typedef struct {
    aec_latent_shape ls;
    int32_t *z, *scale_q, *mu_q, *r;
} aec_coded_latents;

void aec_coded_latents_free(aec_coded_latents *cl);

/* The latents of the image at level position t_q16, as the decoder will
 * read them, from y_ga = g_a(image) (aec_analyze_tiles; it does not depend
 * on the level, so a caller coding several levels computes it once and
 * sets keep_y; otherwise *y_ga is taken over and left empty, which saves a
 * copy of the latents on big images), the latent refined first when
 * refine_on (and c->refine_iters and the image's size allow): 0, or -1
 * when out of memory (cl left empty). */
int aec_encoder_latents(const aec_codec *c, const uint8_t *rgb, int w, int h, nn_tensor *y_ga,
                        int keep_y, int32_t t_q16, int refine_on, aec_coded_latents *cl);

/* c->id from the decoder half as it would be stored. 0, or -1 when out of
 * memory. */
int aec_codec_set_identity(aec_codec *c);

#endif
