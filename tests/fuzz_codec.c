/* tests/fuzz_codec.c - libFuzzer harness for the whole decoder, aec_decode,
 * with the tiny model of tests/tiny_codec.h built once at start-up. Run with
 * `make fuzz-codec SECONDS=N` (clang, -fsanitize=fuzzer,address,undefined).
 *
 * Each input is decoded three times over:
 *  1. as it is (nearly always refused: magic, CRC or model id);
 *  2. made to reach the entropy decoder, once for the tiny model and once
 *     for the tiny model with a context model (two-pass latents): its first
 *     12 bytes replaced by the magic, version 1 / RGB and that model's id, its last 4 by the right
 *     CRC-32; what lies between (sizes, quality, stream lengths, streams)
 *     is the fuzzer's. A decode that succeeds must give the header's size
 *     and decode to the same pixels a second time.
 * The decoder's pixel limit is 128 x 128 here, so each decode is quick.
 * Crashes, sanitizer reports, hangs and mismatches (abort) are findings.
 *
 * Built with -DAEC_FUZZ_WRITE_CORPUS instead, it writes seed files (real
 * encodings of small images at a few qualities) into the folder given:
 *   make build/fuzz/fuzz_codec_corpus && build/fuzz/fuzz_codec_corpus tests/fuzz_corpus_codec */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/codec.h"
#include "tests/tiny_codec.h"

#define FUZZ_MAX_PIXELS (128 * 128)
#define FUZZ_MAX_INPUT (1u << 16)
#define FUZZ_HEADER 12 /* magic, format byte, model id */

/* context: the tiny model with the context model (two-pass latents) */
static int build_codec(aec_codec *c, int context)
{
    char err[256];
    omp_set_num_threads(1);
    aec_model m;
    if ((context ? tiny_model_context : tiny_model)(&m, 1) || tiny_codec_from(c, &m, err, sizeof err)) {
        fprintf(stderr, "fuzz_codec: building the model: %s\n", err);
        return -1;
    }
    c->max_pixels = FUZZ_MAX_PIXELS;
    return 0;
}

#ifndef AEC_FUZZ_WRITE_CORPUS

/* built once: libFuzzer's entry point takes no context. [1] has the
 * context model. */
static aec_codec codecs[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (build_codec(&codecs[0], 0) || build_codec(&codecs[1], 1)) abort();
    return 0;
}

static void decode_checked(const aec_codec *c, const uint8_t *data, size_t size)
{
    uint8_t *rgb = NULL, *again = NULL;
    int w = 0, h = 0, w2 = 0, h2 = 0;
    char err[256] = "";
    if (aec_decode(c, data, size, &rgb, &w, &h, err, sizeof err) != 0) {
        if (rgb || !err[0] || strchr(err, '\n')) abort(); /* refused: one line, no image */
        return;
    }
    aec_container con;
    if (aec_container_parse(data, size, c->id, &con, err, sizeof err) != 0) abort();
    if (!rgb || (uint32_t)w != con.width || (uint32_t)h != con.height) abort();
    if (aec_decode(c, data, size, &again, &w2, &h2, err, sizeof err) != 0 || w2 != w ||
        h2 != h || memcmp(rgb, again, (size_t)w * h * 3) != 0)
        abort();
    free(rgb);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    /* 1: as it is */
    decode_checked(&codecs[0], data, size);
    /* 2: a header and a CRC each model accepts around the fuzzer's bytes */
    if (size < FUZZ_HEADER + 4) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    for (int k = 0; k < 2; k++) {
        memcpy(fixed, data, size);
        memcpy(fixed, "AEC", 3);
        fixed[3] = (uint8_t)(AEC_CONTAINER_VERSION << 4 | AEC_LAYOUT_RGB);
        memcpy(fixed + 4, codecs[k].id, AEC_MODEL_ID_SIZE);
        uint32_t crc = (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), fixed, size - 4);
        for (int i = 0; i < 4; i++) fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        decode_checked(&codecs[k], fixed, size);
    }
    free(fixed);
    return 0;
}

#else /* AEC_FUZZ_WRITE_CORPUS: write the seed files */

static int write_seed(const aec_codec *c, const char *dir, int w, int h, double quality)
{
    uint8_t *rgb = tiny_smooth_image(w, h, w + h), *file;
    size_t len;
    char err[256], path[512];
    if (!rgb || aec_encode(c, rgb, w, h, quality, &file, &len, err, sizeof err)) {
        fprintf(stderr, "seed %dx%d: %s\n", w, h, rgb ? err : "out of memory");
        free(rgb);
        return -1;
    }
    snprintf(path, sizeof path, "%s/seed-%dx%d-q%g.aec", dir, w, h, quality);
    FILE *f = fopen(path, "wb");
    int rc = f && fwrite(file, 1, len, f) == len ? 0 : -1;
    if (f && fclose(f)) rc = -1;
    free(rgb);
    free(file);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    aec_codec c;
    if (build_codec(&c, 0)) return 1;
    int bad = write_seed(&c, argv[1], 1, 1, 50);
    bad |= write_seed(&c, argv[1], 17, 33, 0);
    bad |= write_seed(&c, argv[1], 64, 64, 100);
    bad |= write_seed(&c, argv[1], 100, 50, 37.5);
    bad |= write_seed(&c, argv[1], 128, 128, 75);
    aec_codec_free(&c);
    return bad ? 1 : 0;
}

#endif
