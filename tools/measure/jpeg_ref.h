/* tools/measure/jpeg_ref.h - the JPEG baseline of `aec bench`: libjpeg-turbo,
 * linked in, set up as `cjpeg -quality Q -optimize` and `djpeg` are by
 * default (the referee's JPEG): 4:2:0 YCbCr, the islow DCT, Huffman tables
 * optimised per image, the quality scaling not forced to baseline tables,
 * fancy upsampling on decode. */
#ifndef AEC_JPEG_REF_H
#define AEC_JPEG_REF_H

#include <stddef.h>
#include <stdint.h>

/* Compresses 8-bit interleaved RGB at quality 1-100 into a malloc'd JPEG
 * byte string. Returns 0, or -1 with a one-line message in err. */
int jpeg_ref_encode(const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *len,
                    char *err, size_t errlen);

/* Decompresses a JPEG into malloc'd 8-bit interleaved RGB. */
int jpeg_ref_decode(const uint8_t *data, size_t len, uint8_t **rgb, int *w, int *h, char *err,
                    size_t errlen);

/* "libjpeg-turbo 2.1.5" */
const char *jpeg_ref_version(void);

#endif
