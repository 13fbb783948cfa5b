/* tools/imageio/jpeg_io.h - read a JPEG into the 8-bit RGB of an aec_image
 * (png_io.h), upright. Built on libjpeg-turbo.
 *
 * As png_io: 0 on success, -1 on failure with a single line "NAME:
 * problem" in err; nothing is printed (libjpeg's messages are caught).
 *
 * What is accepted: baseline, extended and progressive JPEGs (Huffman or
 * arithmetic coded), 8 bits per sample, in
 *   - YCbCr or RGB: decoded to RGB as djpeg does (islow DCT, fancy
 *     upsampling);
 *   - grayscale: replicated into R, G and B (source_gray is set);
 *   - CMYK or YCCK: converted, not refused (source_cmyk is set), by the
 *     naive formula R = (255 - C)(255 - K) / 255, with no colour profile;
 *     an Adobe APP14 marker (Photoshop's CMYK JPEGs) means the samples are
 *     stored inverted, and is honoured. Colours can differ from what a
 *     colour-managed viewer shows.
 * An EXIF orientation (APP1 "Exif", tag 0x0112, values 2-8) is applied:
 * the pixels are rotated and flipped so that the image is the right way
 * up, as viewers show it (width and height swap for 5-8).
 *
 * What is refused: a damaged file, including one that libjpeg would
 * decode with a warning into grey or garbled blocks (truncated data, a
 * marker or bad code inside the entropy-coded data, an impossible
 * progression); more than AEC_JPEG_MAX_SCANS scans (a progressive file
 * can make libjpeg pass over the whole image once per scan); 12-bit
 * samples; other colour spaces. Harmless warnings (extraneous bytes
 * between markers, an unknown JFIF revision) are ignored, as viewers do.
 * The size in the frame header is checked against max_pixels (<= 0:
 * AEC_PNG_DEFAULT_MAX_PIXELS) before the image's memory is allocated. */
#ifndef AEC_JPEG_IO_H
#define AEC_JPEG_IO_H

#include <stddef.h>
#include <stdint.h>

#include "tools/imageio/png_io.h"

/* libjpeg-turbo's djpeg -maxscans suggests a limit of this order; real
 * progressive files have about 10 scans. */
#define AEC_JPEG_MAX_SCANS 500

/* Decodes the JPEG in size bytes at data; name is used in messages. On
 * failure *img is left empty. */
int aec_jpeg_read_mem(const void *data, size_t size, const char *name, aec_image *img,
                      long max_pixels, char *err, size_t errlen);

/* The EXIF orientation, 1-8, in the payload of an APP1 marker ("Exif\0\0"
 * and a TIFF header, IFD0's tag 0x0112), or 0 when the payload is no EXIF,
 * holds no orientation or a malformed or out-of-range one. Reads nothing
 * outside the len bytes at app1. */
int aec_exif_orientation(const uint8_t *app1, size_t len);

/* Turns width x height RGB pixels as stored, with EXIF orientation o, into
 * the image as shown: a new malloc'd buffer in *shown, its size in *w and
 * *h (swapped for 5-8). Orientation 1 (or 0) is a copy. -1 when out of
 * memory. */
int aec_orient_rgb(const uint8_t *stored, int width, int height, int o, uint8_t **shown,
                   int *w, int *h);

#endif
