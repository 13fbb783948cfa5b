/* tools/measure/domain_fit.h - how well an image fits the domain a model was trained
 * on. An autoencoder codes what it has learnt cheaply and what it has not
 * seen dearly, but an image's rate also depends on how much detail it has.
 * The score divides the one by the other: the bits aec needs for the image
 * against the bits JPEG, which knows no domain, needs for the same PSNR:
 *
 *   score = log2(aec bits at quality DOMAIN_FIT_QUALITY, effort 0
 *                / JPEG entropy-coded bits at aec's PSNR)
 *
 * on the image's central crop of at most DOMAIN_FIT_MAX_SIDE pixels a side.
 * JPEG's bits at that PSNR are interpolated (log of the size, linear in
 * PSNR) between libjpeg-turbo encodes at a fixed set of qualities; only the
 * entropy-coded data of either counts, not headers and tables, so that small
 * images are judged as big ones. Lower is better: -1 means half JPEG's bits.
 *
 * A model stores the scores of its own training images (the FITS chunk,
 * spec/model-format.md); an image scoring above DOMAIN_FIT_OFF_PERCENTILE
 * of them by more than DOMAIN_FIT_MARGIN is off the domain. */
#ifndef AEC_DOMAIN_FIT_H
#define AEC_DOMAIN_FIT_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

#define DOMAIN_FIT_QUALITY 50
/* Smaller images are not scored: the codec works on 64-pixel blocks, and
 * below that the padding's bits would weigh on the score. */
#define DOMAIN_FIT_MIN_SIDE 64
#define DOMAIN_FIT_MAX_SIDE 768
/* The threshold: the 97.5th percentile of the stored scores (a few
 * percent of any domain's own images are unusual; an estimate from a
 * sample of 256 has several scores above it, so it is steadier than the
 * 99th) plus a margin, so that in-domain images are flagged rarely. On
 * the shipped model, 0 of the 40 butterfly validation images and 9 of
 * Kodak's 24 general photos are above it (README, "The domain check"). */
#define DOMAIN_FIT_OFF_PERCENTILE 97.5
#define DOMAIN_FIT_MARGIN 0.05
/* how many images of a calibration folder the stored scores come from at
 * most (spread evenly over the folder) */
#define DOMAIN_FIT_CALIB_IMAGES 256

/* The score of 8-bit interleaved RGB w x h: NAN (and 0) for an image
 * under DOMAIN_FIT_MIN_SIDE pixels a side. 0, or -1 with a one-line
 * message in err. */
int domain_fit_score(const aec_codec *c, const uint8_t *rgb, int w, int h, double *score,
                     char *err, size_t errlen);

/* The percentage (0-100) of the model's stored scores below score (ties
 * count half); NAN when the model stores none or score is NAN. */
double domain_fit_percentile(const aec_codec *c, double score);

/* The stored scores' value at percentile p (0-100), interpolated between
 * neighbours; NAN when the model stores none. */
double domain_fit_quantile(const aec_codec *c, double p);

/* The score above which an image is off the model's domain; INFINITY when
 * the model stores no scores. */
double domain_fit_off_threshold(const aec_codec *c);

/* 1 when score is off the model's domain, 0 when not or when the model
 * stores no scores. */
int domain_fit_off(const aec_codec *c, double score);

/* Scores up to DOMAIN_FIT_CALIB_IMAGES images of set and stores them in
 * c->fit_scores (ascending; images too small to score left out),
 * replacing any there. 0, or -1 with err. */
int domain_fit_calibrate(aec_codec *c, const aec_images *set, char *err, size_t errlen);

#endif
