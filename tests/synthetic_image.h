/* tests/synthetic_image.h - a synthetic training image for the tests that
 * train through the aec program (test_cli, test_train_mpi): blocks,
 * gradients and noise, so that an untrained model's latents are not all
 * zero. Header-only: each test file links on its own. */
#ifndef TESTS_SYNTHETIC_IMAGE_H
#define TESTS_SYNTHETIC_IMAGE_H

#include <stdint.h>
#include <stdlib.h>

/* w x h interleaved RGB, malloc'd (aborts when out of memory) */
static inline uint8_t *synthetic_rgb(int w, int h, unsigned seed)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb) abort();
    unsigned s = seed;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = rgb + 3 * ((size_t)y * w + x);
            s = s * 1103515245u + 12345u;
            int n = (s >> 16) & 63, blk = ((x / 16) + (y / 16) + (int)seed) & 1;
            q[0] = (uint8_t)(blk ? 230 - n : 20 + n);
            q[1] = (uint8_t)((x * 255 / w + n) & 255);
            q[2] = (uint8_t)(blk ? (y * 2) & 255 : 255 - n);
        }
    return rgb;
}

#endif
