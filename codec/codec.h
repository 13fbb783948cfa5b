/* codec/codec.h - the coding API inside aec (the tools, the tests and the
 * library's aec_api*.c; programs outside use aec.h): a model ready to code
 * (float transforms, integer hyper-synthesis, entropy tables, identity) and
 * the encode and decode of one image.
 *
 *   aec_codec c;
 *   aec_codec_load(&c, "butterfly.aecm", 0, err, sizeof err);
 *   aec_encode(&c, rgb, w, h, 75.0, &bytes, &len, err, sizeof err);
 *   aec_decode(&c, bytes, len, &rgb2, &w2, &h2, err, sizeof err);
 *   aec_codec_free(&c);
 *
 * spec/aec-format.md says what the bytes are; spec/model-format.md what
 * the model file holds. */
#ifndef AEC_CODEC_H
#define AEC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "codec/aec.h"
#include "codec/cdf_tables.h"
#include "codec/container.h"
#include "codec/context_int.h"
#include "codec/hyper_int.h"
#include "codec/images.h"
#include "codec/model.h"

/* The decoder refuses an image whose padded area (each side rounded up to a
 * multiple of 64, the size every stage works at) is above the codec's
 * max_pixels, so that a small hostile file cannot make it allocate without
 * bound. The default is 2^28 padded pixels (16384 x 16384, the format's
 * own 2^28-pixel limit when the sides are multiples of 64). Decoding takes
 * at most about 12 bytes per padded pixel (the integer latents, 3 x 4
 * bytes per latent, and the 8-bit image) plus a bounded amount for the
 * transforms, which run in tiles (below): 78 MB for 768 x 512, 285 MB
 * for 6000 x 4000 (24 MP; tests/bench_memory.c measures both), so about
 * 3.3 GB at the limit. Set
 * max_pixels lower on small machines. */
#define AEC_DECODE_MAX_PIXELS_DEFAULT ((uint64_t)1 << 28)

/* Tiling. The float transforms (g_a when encoding, g_s when decoding) keep
 * a few 128-channel activations at a quarter of the image's resolution
 * (g_s streams its last layers over bands of rows and never holds the one
 * at half resolution, codec/model.c), so on an image of more than
 * AEC_TILE_MIN_PIXELS padded pixels they run on
 * tiles: cores of AEC_TILE_LATENTS x AEC_TILE_LATENTS latents (512 x 512
 * pixels), each computed with a margin of 2 latents around it
 * that covers the transform's receptive field (codec.c), so a tile's core
 * is what the whole image gives up to float rounding and the seams do not
 * show. Below the threshold g_a runs whole too (its biggest activation is
 * 128 channels at half resolution: 75 MB at 768 x 768; the encoder's
 * refinement holds more). The integer hyper-synthesis runs in tiles of z^
 * whatever the size (exactly the whole run's integers); the entropy coder
 * sees the whole latent array. */
#define AEC_TILE_MIN_PIXELS ((uint64_t)768 * 768)
#define AEC_TILE_LATENTS 32

typedef struct {
    aec_model model;      /* float weights: all (can encode) or the synthesis only */
    aec_hs_int hs;        /* the hyper-synthesis in integers */
    aec_ctx_int ctx;      /* the context model in integers (model.arch.context) */
    aec_cdf_set z_tables; /* one table per hyper-latent channel */
    aec_cdf_set y_tables; /* Gaussian tables, chosen by scale */
    uint8_t id[AEC_MODEL_ID_SIZE];
    int can_encode;
    uint64_t max_pixels;  /* decoder's limit on the padded area; 0: the default above */
    int tile_latents;     /* 0: tiles of AEC_TILE_LATENTS above AEC_TILE_MIN_PIXELS; > 0: always
                           * tiles of this many latents a side; < 0: never tiles */
    int refine_iters;     /* encoder: refinement steps on the latent (aec_model_refine_latent),
                           * on images of at most AEC_REFINE_MAX_PIXELS padded pixels; 0: none */
    int search_steps;     /* encoder: steps of the latent search (search.h) before the
                           * refinement, on images of at most AEC_REFINE_MAX_PIXELS padded
                           * pixels (bigger ones too, in tiles, with search_tiles); 0: none */
    int search_tiles;
    float *fit_scores;    /* the domain-fit scores of the model's own images, ascending
                           * (the FITS chunk; tools/measure/domain_fit.h), or NULL */
    uint32_t fit_count;
} aec_codec;

/* The most domain-fit scores a model stores (FITS chunk). */
#define AEC_FIT_MAX_SCORES 4096

/* The latent refinement keeps training-style activations of the whole
 * image (about 1 KB per padded pixel), so it is skipped above this. */
#define AEC_REFINE_MAX_PIXELS ((uint64_t)1 << 20)
/* Encoder effort: how much time the encoder spends looking for better
 * latents than g_a's (the decoder and the format are the same at every
 * level). Level 0 codes g_a's latents as they are; the others run the
 * latent search (search.h), then a few refinement steps
 * (aec_model_refine_latent) against the integer means and scales the
 * decoder will use; level 1 searches images up to AEC_REFINE_MAX_PIXELS
 * padded pixels, levels 2 and 3 bigger ones too, in tiles. A context
 * model, which the search does not handle, gets 20 refinement steps at
 * every level above 0. The README and the model card give the levels'
 * measured sizes and times. AEC_EFFORT_MAX and AEC_EFFORT_DEFAULT come from
 * the public header, aec.h. */
/* Sets c's search_steps, search_tiles and refine_iters for the level
 * (clamped to 0 .. AEC_EFFORT_MAX). */
void aec_codec_set_effort(aec_codec *c, int effort);

/* The .aecm file as a malloc'd byte string; decoder_only keeps just what
 * aecd needs. */
int aec_codec_serialize(const aec_codec *c, int decoder_only, const char *meta, uint8_t **out,
                        size_t *len);
/* The same, written atomically to path. */
int aec_codec_save(const aec_codec *c, const char *path, int decoder_only, const char *meta,
                   char *err, size_t errlen);
/* Loads a model file made by aec_codec_save (from memory or a file).
 * decoder_only loads just the decoder's half, from either kind of file. */
int aec_codec_parse(aec_codec *c, const uint8_t *buf, size_t len, const char *name,
                    int decoder_only, char *err, size_t errlen);
int aec_codec_load(aec_codec *c, const char *path, int decoder_only, char *err, size_t errlen);
void aec_codec_free(aec_codec *c);

/* Encodes 8-bit interleaved RGB at quality 0-100 (higher is better) into a
 * malloc'd .aec byte string. */
int aec_encode(const aec_codec *c, const uint8_t *rgb, int w, int h, double quality,
               uint8_t **out, size_t *len, char *err, size_t errlen);
/* Decodes an .aec byte string into malloc'd 8-bit interleaved RGB. A file
 * of another model, a damaged or truncated file are errors. */
int aec_decode(const aec_codec *c, const uint8_t *data, size_t len, uint8_t **rgb, int *w,
               int *h, char *err, size_t errlen);

/* The integer half of decoding: everything before the float synthesis,
 * bit-identical on every machine (spec/aec-format.md, "Latent layout"). */
typedef struct {
    int width, height;        /* the image */
    uint16_t quality_x100;
    int32_t t_q16;            /* level position, Q16 */
    int n, zh, zw;            /* z: [n][zh][zw] */
    int m, yh, yw;            /* r, scale_q, mu_q: [m][yh][yw] */
    int32_t *z;               /* the hyper-latent z^ */
    int32_t *r;               /* the latent symbols, r = round(y - mu) */
    int32_t *scale_q, *mu_q;  /* the integer hyper-synthesis' output, Q16 */
} aec_latents;

/* Stages 1-4 of aec_decode: parses the file, checks it against the model
 * and the pixel limit, decodes z^, runs the integer hyper-synthesis and
 * decodes r. On error *lat is left empty. */
int aec_decode_latents(const aec_codec *c, const uint8_t *data, size_t len, aec_latents *lat,
                       char *err, size_t errlen);
void aec_latents_free(aec_latents *lat);

#endif
