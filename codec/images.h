/* codec/images.h - images held in memory, and an image as the model's
 * planar float input. */
#ifndef AEC_IMAGES_H
#define AEC_IMAGES_H

#include <stdint.h>

/* count 8-bit interleaved RGB images, with their sizes and names (for
 * messages): the calibration set of aec_codec_from_model
 * (tools/train/calibrate.h) and of the domain-fit scores, and the
 * training data set (aec_dataset) */
typedef struct {
    int count;
    int *width, *height;
    uint8_t **rgb;      /* interleaved 8-bit RGB */
    char **name;        /* file names, sorted */
} aec_images;

/* Image i as planar float RGB [3][H'][W'], H' and W' rounded up to a
 * multiple of `multiple`, the border replicated into the padding. */
int aec_image_to_planar(const uint8_t *rgb, int w, int h, int multiple, float **dst,
                        int *pw, int *ph);

#endif
