/* tools/imageio/image_io.h - reading the images aec codes and trains on: PNG
 * (png_io.h) or JPEG (jpeg_io.h), told apart by their first bytes, not
 * their names, into the same aec_image.
 *
 *   aec_image img;
 *   char err[256];
 *   if (aec_image_read("photo.jpg", &img, 0, err, sizeof err) != 0) {
 *       fprintf(stderr, "%s\n", err);   one line, "photo.jpg: problem"
 *       return 1;
 *   }
 *   ... img.rgb: width * height * 3 bytes, upright ...
 *   aec_image_free(&img);
 *
 * Folder walks take the files whose names aec_image_name_ok accepts. */
#ifndef AEC_IMAGE_IO_H
#define AEC_IMAGE_IO_H

#include <stddef.h>

#include "tools/imageio/png_io.h"

typedef enum { AEC_IMAGE_UNKNOWN, AEC_IMAGE_PNG, AEC_IMAGE_JPEG } aec_image_format;

/* The format the first size bytes at data begin with: the PNG signature,
 * or FF D8 FF (a JPEG's SOI and the next marker's first byte). */
aec_image_format aec_image_format_of(const void *data, size_t size);

/* The same for the file at path (its first 8 bytes); UNKNOWN when it
 * cannot be read. */
aec_image_format aec_image_file_format(const char *path);

/* Reads a PNG or JPEG from path or from memory (name for messages), as
 * aec_png_read and aec_jpeg_read_mem do; anything else is "NAME: not a
 * PNG or JPEG file". On failure *img is left empty. */
int aec_image_read(const char *path, aec_image *img, long max_pixels, char *err, size_t errlen);
int aec_image_read_mem(const void *data, size_t size, const char *name, aec_image *img,
                       long max_pixels, char *err, size_t errlen);

/* The suffix of an image name that folder walks take, as it is spelt in
 * name: ".png", ".jpg" or ".jpeg" in any case (".JPG", ".Jpeg"); NULL for
 * other names and for a bare suffix. */
const char *aec_image_suffix(const char *name);

/* aec_image_suffix(name) != NULL */
int aec_image_name_ok(const char *name);

/* For messages: what aec reads. */
#define AEC_IMAGE_KINDS "PNG or JPEG"

#endif
