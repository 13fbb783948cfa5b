/* tools/train/dataset.c - drawing crops from a training set. Loading a folder is
 * dataset_load.c's. */
#include "tools/train/dataset.h"

#include <stdlib.h>
#include <string.h>

void aec_dataset_free(aec_dataset *d)
{
    for (int i = 0; i < d->count; i++) {
        free(d->rgb[i]);
        free(d->name[i]);
    }
    free(d->width);
    free(d->height);
    free(d->rgb);
    free(d->name);
    memset(d, 0, sizeof *d);
}

void aec_dataset_random_crop(const aec_dataset *d, nn_rng *rng, int patch, float *dst)
{
    int i = (int)nn_rng_below(rng, (uint32_t)d->count);
    int w = d->width[i], h = d->height[i];
    int x0 = (int)nn_rng_below(rng, (uint32_t)(w - patch + 1));
    int y0 = (int)nn_rng_below(rng, (uint32_t)(h - patch + 1));
    int flip = (int)(nn_rng_u64(rng) >> 63);
    if (!dst) return;
    size_t plane = (size_t)patch * patch;
    for (int y = 0; y < patch; y++) {
        const uint8_t *row = d->rgb[i] + ((size_t)(y0 + y) * w + x0) * 3;
        for (int x = 0; x < patch; x++) {
            int sx = flip ? patch - 1 - x : x;
            for (int c = 0; c < 3; c++)
                dst[c * plane + (size_t)y * patch + x] = row[sx * 3 + c] * (1.0f / 255.0f);
        }
    }
}
