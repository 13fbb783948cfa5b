/* codec/codec.h - aec's public coding API: a model ready to code (float
 * transforms, integer hyper-synthesis, entropy tables, identity) and the
 * encode and decode of one image.
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

#include "cdf_tables.h"
#include "container.h"
#include "dataset.h"
#include "hyper_int.h"
#include "model.h"

typedef struct {
    aec_model model;      /* float weights: all (can encode) or the synthesis only */
    aec_hs_int hs;        /* the hyper-synthesis in integers */
    aec_cdf_set z_tables; /* one table per hyper-latent channel */
    aec_cdf_set y_tables; /* Gaussian tables, chosen by scale */
    uint8_t id[AEC_MODEL_ID_SIZE];
    int can_encode;
} aec_codec;

/* Makes a trained model ready to code: builds the entropy tables and the
 * integer hyper-synthesis (its activation ranges calibrated on `calib`,
 * a few images of the domain). Takes ownership of *m. */
int aec_codec_from_model(aec_codec *c, aec_model *m, const aec_dataset *calib, char *err,
                         size_t errlen);
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

#endif
