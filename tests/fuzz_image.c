/* tests/fuzz_image.c - libFuzzer harness for the image readers of
 * tools/imageio/image_io.h: the bytes aec encode, train and bench read from users'
 * files, PNG (libpng) or JPEG (libjpeg-turbo) by their first bytes, and the
 * code of our own around them: the EXIF orientation parser and the
 * turning of the pixels, the CMYK conversion, the warnings taken as
 * damage, the scan limit, the size check. Run with
 * `make fuzz-image SECONDS=N` (clang, -fsanitize=fuzzer,address,undefined;
 * libpng and libjpeg are the system's, not instrumented: the sanitizers
 * watch our code and what it is handed).
 *
 * Each input is read with a pixel limit of 256 x 256, so each read is
 * quick; an image that is read must have its size within the limit and
 * every byte of its pixels readable. The input is also given to the EXIF
 * parser as an APP1 payload.
 *
 * Built with -DAEC_FUZZ_WRITE_CORPUS instead, it writes seed files (small
 * JPEGs of every kind tests/test_jpeg.c checks, EXIF orientations in both
 * byte orders, a PNG) into the folder given:
 *   make build/fuzz/fuzz_image_corpus && build/fuzz/fuzz_image_corpus tests/fuzz_corpus_image */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/imageio/image_io.h"
#include "tools/imageio/jpeg_io.h"

#define FUZZ_MAX_PIXELS (256 * 256)

#ifndef AEC_FUZZ_WRITE_CORPUS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aec_image img;
    char err[512];
    if (aec_image_read_mem(data, size, "fuzz", &img, FUZZ_MAX_PIXELS, err, sizeof err) == 0) {
        if (img.width < 1 || img.height < 1 || (long)img.width * img.height > FUZZ_MAX_PIXELS ||
            !img.rgb)
            abort();
        /* a copy of the planes: ASan checks that every byte of them is there */
        size_t n = (size_t)img.width * img.height;
        uint8_t *copy = malloc(n * 3);
        if (copy) {
            memcpy(copy, img.rgb, n * 3);
            if (img.alpha) memcpy(copy, img.alpha, n);
            free(copy);
        }
        aec_image_free(&img);
    } else if (img.rgb || img.alpha || !strchr(err, ':') || strchr(err, '\n')) {
        abort(); /* a failure leaves the image empty and says so in one line */
    }
    int o = aec_exif_orientation(data, size);
    if (o < 0 || o > 8) abort();
    return 0;
}

#else /* the seed writer */

#include "tests/jpeg_files.h"

static int write_seed(const char *dir, const char *name, const uint8_t *bytes, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(bytes, 1, len, f) == len;
    if (f && fclose(f)) ok = 0;
    if (!ok) fprintf(stderr, "fuzz_image_corpus: %s: cannot write\n", path);
    return ok ? 0 : -1;
}

/* 24 x 16 pixels with colour and edges, in 1, 3 or 4 samples a pixel */
static void seed_pixels(uint8_t *px, int components)
{
    for (int i = 0; i < 24 * 16; i++)
        for (int c = 0; c < components; c++)
            px[i * components + c] = (uint8_t)((i % 24) * 9 + (i / 24) * 13 * (c + 1) + ((i / 4) % 2) * 60);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    static const struct {
        const char *name;
        test_jpeg opt;
    } kinds[] = {
        {"baseline.jpg", {.components = 3}},
        {"progressive.jpg", {.components = 3, .progressive = 1}},
        {"full-chroma.jpg", {.components = 3, .full_chroma = 1, .quality = 97}},
        {"gray.jpg", {.components = 1}},
        {"cmyk.jpg", {.components = 4}},
        {"cmyk-adobe.jpg", {.components = 4, .adobe = 1}},
        {"ycck.jpg", {.components = 4, .ycck = 1, .progressive = 1}},
        {"exif3-ii.jpg", {.components = 3, .orientation = 3}},
        {"exif6-mm.jpg", {.components = 3, .orientation = 6, .big_endian = 1}},
        {"exif7-ii-progressive.jpg", {.components = 3, .orientation = 7, .progressive = 1}},
    };
    uint8_t px[24 * 16 * 4];
    int failed = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        uint8_t *bytes;
        size_t len;
        seed_pixels(px, kinds[k].opt.components);
        if (test_jpeg_encode(px, 24, 16, &kinds[k].opt, &bytes, &len)) {
            fprintf(stderr, "fuzz_image_corpus: %s: not encoded\n", kinds[k].name);
            failed = 1;
            continue;
        }
        failed |= write_seed(argv[1], kinds[k].name, bytes, len) != 0;
        free(bytes);
    }
    char path[4096], err[256];
    seed_pixels(px, 3);
    snprintf(path, sizeof path, "%s/rgb.png", argv[1]);
    if (aec_png_write(path, px, NULL, 24, 16, err, sizeof err)) {
        fprintf(stderr, "fuzz_image_corpus: %s\n", err);
        failed = 1;
    }
    return failed;
}

#endif
