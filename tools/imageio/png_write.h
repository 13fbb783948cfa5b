/* tools/imageio/png_write.h - the PNG encoder behind aec_png_write (png_io.h).
 *
 * Writes width x height 8-bit RGB (alpha == NULL) or RGBA to f: the rows
 * filtered and deflated in parallel (OpenMP), the bytes the same for any
 * thread count. Returns 0, or -1 with the problem ("out of memory",
 * "write error: ...", "cannot compress the image (zlib error)", "cannot
 * write a WxH image") in problem. f is not flushed. */
#ifndef AEC_PNG_WRITE_H
#define AEC_PNG_WRITE_H

#include <stdint.h>
#include <stdio.h>

int aec_png_encode(FILE *f, const uint8_t *rgb, const uint8_t *alpha, int width, int height,
                   char *problem, size_t plen);

#endif
