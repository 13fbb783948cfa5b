/* tools/imageio/image_io.c - PNG or JPEG by the first bytes; see image_io.h. */
#include "tools/imageio/image_io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/model_file.h"
#include "tools/imageio/jpeg_io.h"

/* aec encode's limit on an input file's size */
#define MAX_FILE_BYTES ((size_t)1 << 31)

aec_image_format aec_image_format_of(const void *data, size_t size)
{
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t jpeg[3] = {0xff, 0xd8, 0xff};
    if (!data) return AEC_IMAGE_UNKNOWN;
    if (size >= sizeof png && !memcmp(data, png, sizeof png)) return AEC_IMAGE_PNG;
    if (size >= sizeof jpeg && !memcmp(data, jpeg, sizeof jpeg)) return AEC_IMAGE_JPEG;
    return AEC_IMAGE_UNKNOWN;
}

aec_image_format aec_image_file_format(const char *path)
{
    uint8_t head[8];
    FILE *f = fopen(path, "rb");
    if (!f) return AEC_IMAGE_UNKNOWN;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return aec_image_format_of(head, n);
}

int aec_image_read_mem(const void *data, size_t size, const char *name, aec_image *img,
                       long max_pixels, char *err, size_t errlen)
{
    if (!name) name = "<memory>";
    switch (aec_image_format_of(data, size)) {
    case AEC_IMAGE_JPEG:
        return aec_jpeg_read_mem(data, size, name, img, max_pixels, err, errlen);
    case AEC_IMAGE_PNG:
        return aec_png_read_mem(data, size, name, img, max_pixels, err, errlen);
    default:
        memset(img, 0, sizeof *img);
        if (err && errlen) snprintf(err, errlen, "%s: not a " AEC_IMAGE_KINDS " file", name);
        return -1;
    }
}

int aec_image_read(const char *path, aec_image *img, long max_pixels, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    size_t len = 0;
    uint8_t *bytes = aec_read_file(path, MAX_FILE_BYTES, &len, err, err ? errlen : 0);
    if (!bytes) return -1;
    int rc = aec_image_read_mem(bytes, len, path, img, max_pixels, err, errlen);
    free(bytes);
    return rc;
}

const char *aec_image_suffix(const char *name)
{
    static const char *const suffixes[] = {".png", ".jpg", ".jpeg"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && !strcasecmp(name + n - k, suffixes[i])) return name + n - k;
    }
    return NULL;
}

int aec_image_name_ok(const char *name)
{
    return aec_image_suffix(name) != NULL;
}
