/* tools/train/dataset_load.c - loading a folder of training images (dataset.h).
 * Apart from dataset.c because it reads files (image_io.h, and with it
 * libjpeg). */
#include "tools/train/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/imageio/image_io.h"

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
        if (e->d_name[0] == '.' || !aec_image_name_ok(e->d_name)) continue;
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
        snprintf(err, errlen, "%s: no " AEC_IMAGE_KINDS " images in folder", dir);
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
        if (aec_image_read(path, &img, AEC_PNG_DEFAULT_MAX_PIXELS, err, errlen)) {
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
