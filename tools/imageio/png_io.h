/* tools/imageio/png_io.h - read any PNG into 8-bit RGB plus an optional alpha plane,
 * write 8-bit RGB or RGBA PNGs atomically. Built on libpng.
 *
 * Every function returns 0 on success and -1 on failure; on failure a single
 * line "NAME: problem" (no trailing newline) is written to err, and nothing
 * is printed: libpng's own warnings and errors are caught. NAME is the path,
 * or the name given to the memory and FILE* variants (e.g. "<stdin>").
 *
 *   aec_image img;
 *   char err[256];
 *   if (aec_png_read("in.png", &img, 0, err, sizeof err) != 0) {
 *       fprintf(stderr, "%s\n", err);
 *       return 1;
 *   }
 *   ... img.rgb holds width*height*3 bytes, row by row ...
 *   aec_png_write("out.png", img.rgb, img.alpha, img.width, img.height, err, sizeof err);
 *   aec_image_free(&img);
 */
#ifndef AEC_PNG_IO_H
#define AEC_PNG_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Default pixel limit (max_pixels <= 0): 2^28 pixels is a 1 GiB RGBA buffer,
 * the most a reader should allocate on the word of a file's header. */
#define AEC_PNG_DEFAULT_MAX_PIXELS (1L << 28)
/* Each side is limited too, so width * height * 4 cannot overflow. */
#define AEC_PNG_MAX_SIDE 65535

typedef struct {
    int width, height;
    uint8_t *rgb;     /* width * height * 3 bytes, rows top to bottom */
    uint8_t *alpha;   /* width * height bytes, or NULL when has_alpha is 0 */
    int has_alpha;    /* the source had an alpha channel or a tRNS chunk */
    int alpha_used;   /* some alpha value is below 255 */
    int source_gray;  /* the source was grayscale (gray or gray+alpha) */
    int source_16bit; /* the source had 16-bit samples, rounded to 8 bits */
    int source_cmyk;  /* the source was a CMYK or YCCK JPEG (jpeg_io.h), converted */
} aec_image;

/* Reads the PNG at path. Every PNG kind is accepted: gray, gray+alpha,
 * palette (with or without tRNS), RGB, RGBA, 1 to 16 bits per sample,
 * Adam7 interlaced or not. Gray is replicated into R, G and B; 16-bit
 * samples become (v * 255 + 32767) / 65535. No gamma correction is done.
 * The size in the header is checked against max_pixels (<= 0: the default)
 * and AEC_PNG_MAX_SIDE before anything is allocated. On failure *img is
 * left empty (safe to pass to aec_image_free). */
int aec_png_read(const char *path, aec_image *img, long max_pixels,
                 char *err, size_t errlen);

/* The same, from size bytes at data; name is used in error messages. */
int aec_png_read_mem(const void *data, size_t size, const char *name,
                     aec_image *img, long max_pixels, char *err, size_t errlen);

/* Writes width x height 8-bit RGB (alpha == NULL) or RGBA (alpha holds
 * width * height bytes) to path atomically: the PNG goes to a temporary
 * file PATH.tmp.PID in the same directory, is flushed to disk and renamed
 * over path. On failure the temporary file is removed and path untouched. */
int aec_png_write(const char *path, const uint8_t *rgb, const uint8_t *alpha,
                  int width, int height, char *err, size_t errlen);

/* The same to an open stream (e.g. stdout), flushed but not closed; name is
 * used in error messages. */
int aec_png_write_file(FILE *f, const char *name, const uint8_t *rgb,
                       const uint8_t *alpha, int width, int height,
                       char *err, size_t errlen);

/* Frees the planes and empties *img. */
void aec_image_free(aec_image *img);

#endif
