/* tests/tiny_codec.h - a tiny coding-ready model (N = 8, M = 12, 3 levels)
 * built in memory from a seed and smooth synthetic images, for
 * tests/test_codec.c and tests/fuzz_codec.c. Header-only (static
 * functions): the test harness links each test file on its own. */
#ifndef TESTS_TINY_CODEC_H
#define TESTS_TINY_CODEC_H

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#include "codec/codec.h"
#include "tools/train/calibrate.h"
#include "tools/train/model_train.h"

#define TINY_N 8
#define TINY_M 12
#define TINY_LEVELS 3

/* Smooth synthetic RGB (a few sinusoids, different for each k), malloc'd;
 * NULL when out of memory. */
static inline uint8_t *tiny_smooth_image(int w, int h, int k)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb) return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                rgb[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)(127.5 + 100 * sin(0.05 * (k + 1) * x + 0.07 * y + c) *
                                          cos(0.03 * y * (c + 1) + k));
    return rgb;
}

/* A seeded model whose latents are big enough to code something: gain 10
 * doubling per level (so qualities differ in rate) and hyper-gain 10 (a
 * freshly initialised h_a gives |z| < 0.5, all zeros once rounded, and the
 * hyper-synthesis cannot be calibrated on zeros). */
static inline int tiny_model(aec_model *m, uint64_t seed)
{
    aec_arch a;
    aec_arch_default(&a);
    a.n = TINY_N;
    a.m = TINY_M;
    a.levels = TINY_LEVELS;
    /* its own lambdas, not the default's, so that the golden values below
     * (the model id hashes the lambdas) stay those of this tiny model */
    static const float lambdas[] = {0.0018f, 0.0035f, 0.0067f, 0.0130f, 0.0250f, 0.0483f};
    for (int l = 0; l < a.levels; l++) a.lambda[l] = lambdas[l];
    if (aec_model_create(m, &a)) return -1;
    aec_model_init(m, seed);
    for (int l = 0; l < a.levels; l++) {
        float g = 10.0f * (float)(1 << l);
        for (int c = 0; c < a.m; c++) {
            m->p.value[m->gain + (size_t)l * a.m + c] = g;
            m->p.value[m->inv_gain + (size_t)l * a.m + c] = 1.0f / g;
        }
        for (int c = 0; c < a.n; c++) {
            m->p.value[m->hgain + (size_t)l * a.n + c] = 10.0f;
            m->p.value[m->hinv_gain + (size_t)l * a.n + c] = 0.1f;
        }
    }
    return 0;
}

/* The tiny model with a context model (arch.context) whose last layer is
 * random rather than zero, so that the context changes the parameters. */
static inline int tiny_model_context(aec_model *m, uint64_t seed)
{
    aec_model plain;
    if (tiny_model(&plain, seed)) return -1;
    aec_arch a = plain.arch;
    a.context = 1;
    int rc = aec_model_relevel(m, &plain, &a);
    aec_model_free(&plain);
    if (rc) return -1;
    nn_rng r;
    nn_rng_seed(&r, seed + 77);
    size_t n = (size_t)4 * a.m * a.m;
    for (size_t k = 0; k < n; k++) m->p.value[m->ep[1].w + k] = 0.2f * (nn_rng_uniform(&r) - 0.5f);
    return 0;
}

/* m made ready to code (m is taken over), calibrated on two smooth images
 * held in an aec_images filled by hand. */
static inline int tiny_codec_from(aec_codec *c, aec_model *m, char *err, size_t errlen)
{
    int width[2] = {64, 96}, height[2] = {64, 80};
    uint8_t *rgb[2] = {tiny_smooth_image(64, 64, 0), tiny_smooth_image(96, 80, 1)};
    char name_a[] = "a.png", name_b[] = "b.png";
    char *name[2] = {name_a, name_b};
    aec_images calib = {2, width, height, rgb, name};
    int rc = -1;
    if (rgb[0] && rgb[1]) {
        rc = aec_codec_from_model(c, m, &calib, err, errlen);
    } else {
        snprintf(err, errlen, "out of memory");
        aec_model_free(m);
    }
    free(rgb[0]);
    free(rgb[1]);
    return rc;
}

static inline int tiny_codec(aec_codec *c, uint64_t seed, char *err, size_t errlen)
{
    aec_model m;
    if (tiny_model(&m, seed)) return -1;
    return tiny_codec_from(c, &m, err, errlen);
}

#endif
