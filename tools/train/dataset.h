/* tools/train/dataset.h - a folder of training images held in memory, and the
 * random crops and flips a training step draws from it (dataset.c; the
 * loading, which reads PNG and JPEG files, is dataset_load.c, so that the
 * standalone decoder links neither image reader). */
#ifndef AEC_DATASET_H
#define AEC_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "codec/images.h"
#include "nn/rng.h"

/* the images, sorted by file name */
typedef aec_images aec_dataset;

/* Loads every *.png, *.jpg and *.jpeg (any case) in dir (not recursive,
 * sorted by name; hidden files skipped), read by image_io.h. Images
 * smaller than min_side on either side are skipped. An unreadable folder,
 * no image, an unreadable image or no image of at least min_side is an
 * error. */
int aec_dataset_load(aec_dataset *d, const char *dir, int min_side, char *err, size_t errlen);
void aec_dataset_free(aec_dataset *d);

/* A random patch x patch crop of a random image, mirrored left-right with
 * probability 1/2, as planar float RGB in [0,1] (3 * patch * patch floats).
 * dst NULL: only the draws, for a crop that another process of the run
 * takes (the generator moves on as it would with the crop). */
void aec_dataset_random_crop(const aec_dataset *d, nn_rng *rng, int patch, float *dst);

#endif
