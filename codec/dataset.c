/* codec/dataset.c - loading a training folder and drawing crops. */
#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "png_io.h"

static int has_png_suffix(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && strcasecmp(s + n - 4, ".png") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int aec_dataset_load(aec_dataset *d, const char *dir, int min_side, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    DIR *dh = opendir(dir);
    if (!dh) {
        snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (!has_png_suffix(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **q = realloc(names, (size_t)cap * sizeof *q);
            if (!q) goto oom;
            names = q;
        }
        if (!(names[n] = strdup(e->d_name))) goto oom;
        n++;
    }
    closedir(dh);
    dh = NULL;
    if (n == 0) {
        snprintf(err, errlen, "%s: no .png images in folder", dir);
        free(names);
        return -1;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    d->width = calloc((size_t)n, sizeof(int));
    d->height = calloc((size_t)n, sizeof(int));
    d->rgb = calloc((size_t)n, sizeof(uint8_t *));
    d->name = calloc((size_t)n, sizeof(char *));
    if (!d->width || !d->height || !d->rgb || !d->name) goto oom;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        aec_image img;
        if (aec_png_read(path, &img, AEC_PNG_DEFAULT_MAX_PIXELS, err, errlen)) {
            for (int k = i; k < n; k++) free(names[k]);
            free(names);
            aec_dataset_free(d);
            return -1;
        }
        if (img.width < min_side || img.height < min_side) {
            aec_image_free(&img);
            free(names[i]);
            continue;
        }
        int k = d->count++;
        d->width[k] = img.width;
        d->height[k] = img.height;
        d->rgb[k] = img.rgb;
        img.rgb = NULL;
        aec_image_free(&img);
        d->name[k] = names[i];
    }
    free(names);
    if (d->count == 0) {
        snprintf(err, errlen, "%s: no image of at least %dx%d pixels", dir, min_side, min_side);
        aec_dataset_free(d);
        return -1;
    }
    return 0;
oom:
    if (dh) closedir(dh);
    for (int k = 0; k < n; k++) free(names[k]);
    free(names);
    aec_dataset_free(d);
    snprintf(err, errlen, "%s: out of memory", dir);
    return -1;
}

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
