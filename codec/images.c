/* codec/images.c - an image as the model's planar input. */
#include "codec/images.h"

#include <stdlib.h>

int aec_image_to_planar(const uint8_t *rgb, int w, int h, int multiple, float **dst,
                        int *pw, int *ph)
{
    int W = (w + multiple - 1) / multiple * multiple;
    int H = (h + multiple - 1) / multiple * multiple;
    size_t plane = (size_t)W * H;
    float *out = malloc(3 * plane * sizeof(float));
    if (!out) return -1;
    for (int y = 0; y < H; y++) {
        int sy = y < h ? y : h - 1;
        for (int x = 0; x < W; x++) {
            int sx = x < w ? x : w - 1;
            const uint8_t *px = rgb + ((size_t)sy * w + sx) * 3;
            for (int c = 0; c < 3; c++) out[c * plane + (size_t)y * W + x] = px[c] * (1.0f / 255.0f);
        }
    }
    *dst = out;
    *pw = W;
    *ph = H;
    return 0;
}
