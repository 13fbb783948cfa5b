/* tools/train/calibrate.h - making a trained model ready to code, what
 * `aec export` and the end of `aec train` do: the codec (codec/codec.h)
 * of a model, its tables built and calibrated on a few images. */
#ifndef AEC_CALIBRATE_H
#define AEC_CALIBRATE_H

#include <stddef.h>

#include "codec/codec.h"
#include "codec/images.h"

/* How many images of the calibration set aec_codec_from_model uses (the
 * first ones). */
#define AEC_CALIB_IMAGES 8

/* Makes a trained model ready to code: builds the integer hyper-synthesis
 * (and context model) with activation ranges calibrated on `calib`, a few
 * images of the domain, then the entropy tables, the latents' fitted to
 * those images' symbols. Takes ownership of *m. */
int aec_codec_from_model(aec_codec *c, aec_model *m, const aec_images *calib, char *err,
                         size_t errlen);

#endif
