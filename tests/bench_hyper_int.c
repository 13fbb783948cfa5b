/* tests/bench_hyper_int.c - what the integer hyper-synthesis costs in rate.
 *
 *   bench_hyper_int [MODEL.aecm [PNG_DIR]]   (default samples/butterfly.aecm, samples/)
 *
 * For every PNG (at most MAX_IMAGES) and every trained level, runs the float
 * model (aec_model_eval) and compares the estimated bits of y under the
 * float (mu, scale) with the bits under the integer h_s's (mu, scale): the
 * symbol is round(y_g - mu_int), its likelihood the Gaussian bin under
 * scale_int (nn_gaussian_bits with the same y_g). The integer h_s is built
 * with calibration on the same images' z^ at every level, as an exporter
 * would on training images. Skips (exit 0) without a model file. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/hyper_int.h"
#include "codec/model_file.h"
#include "nn/ops.h"
#include "tools/imageio/png_io.h"
#include "tools/train/dataset.h"

#define MAX_IMAGES 8

typedef struct {
    nn_tensor x[MAX_IMAGES];
    char name[MAX_IMAGES][256];
    int count;
} image_set;

static int load_images(image_set *set, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    char path[4096], err[256];
    while ((e = readdir(d)) != NULL && set->count < MAX_IMAGES) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".png") != 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        aec_image img;
        if (aec_png_read(path, &img, 0, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            continue;
        }
        float *planar = NULL;
        int pw = 0, ph = 0;
        nn_tensor *x = &set->x[set->count];
        if (aec_image_to_planar(img.rgb, img.width, img.height, 64, &planar, &pw, &ph) == 0 &&
            nn_tensor_alloc(x, 1, 3, ph, pw) == 0) {
            memcpy(x->data, planar, (size_t)3 * pw * ph * sizeof(float));
            snprintf(set->name[set->count], sizeof set->name[0], "%s", e->d_name);
            set->count++;
        }
        free(planar);
        aec_image_free(&img);
    }
    closedir(d);
    return 0;
}

static const float *level_hinv(const aec_model *m, int l)
{
    return m->p.value + m->hinv_gain + (size_t)l * m->arch.n;
}

int main(int argc, char **argv)
{
    const char *model_path = argc > 1 ? argv[1] : "samples/butterfly.aecm";
    const char *dir = argc > 2 ? argv[2] : "samples";
    FILE *f = fopen(model_path, "rb");
    if (!f) {
        printf("bench_hyper_int: skipped: no model file %s (usage: bench_hyper_int MODEL.aecm [PNG_DIR])\n",
               model_path);
        return 0;
    }
    fclose(f);
    char err[512];
    aec_model m;
    if (aec_model_load(model_path, &m, NULL, err, sizeof err)) {
        fprintf(stderr, "bench_hyper_int: %s\n", err);
        return 1;
    }
    image_set set = {0};
    if (load_images(&set, dir) || set.count == 0) {
        printf("bench_hyper_int: skipped: no PNG in %s\n", dir);
        aec_model_free(&m);
        return 0;
    }
    const int L = m.arch.levels, N = m.arch.n, M = m.arch.m;
    aec_train_state s;
    aec_train_state_init(&s, 1);
    nn_tensor xhat = {0};
    int rc = 1;

    aec_hs_calib cal;
    aec_hs_calib_init(&cal);
    for (int i = 0; i < set.count; i++)
        for (int l = 0; l < L; l++) {
            if (aec_model_eval(&m, &s, &set.x[i], (float)l, &xhat) < 0 ||
                aec_hs_int_calibrate(&cal, &m, &s.z_hat, level_hinv(&m, l))) {
                fprintf(stderr, "bench_hyper_int: evaluation failed\n");
                goto out;
            }
        }
    aec_hs_int q;
    if (aec_hs_int_build(&q, &m, &cal, err, sizeof err)) {
        fprintf(stderr, "bench_hyper_int: build: %s\n", err);
        goto out;
    }
    printf("calibration max |a|: input %.3g, layer 1 %.3g, layer 2 %.3g, output %.3g\n",
           cal.max_abs[0], cal.max_abs[1], cal.max_abs[2], cal.max_abs[3]);
    printf("level  images  bits y float  bits y int  difference\n");
    double all_f = 0, all_i = 0;
    for (int l = 0; l < L; l++) {
        double bits_f = 0, bits_i = 0;
        for (int i = 0; i < set.count; i++) {
            if (aec_model_eval(&m, &s, &set.x[i], (float)l, &xhat) < 0) goto out_q;
            const nn_tensor *zh = &s.z_hat, *yg = &s.y_g;
            bits_f += nn_gaussian_bits(&s.y_hat, &s.mu, &s.scale);
            size_t nz = nn_tensor_numel(zh), ny = nn_tensor_numel(yg);
            int32_t *zi = malloc(nz * 4), *hq = malloc((size_t)N * 4);
            int32_t *sq = malloc(ny * 4), *mq = malloc(ny * 4);
            size_t sb = aec_hs_int_scratch_bytes(&q, zh->h, zh->w);
            void *scratch = malloc(sb);
            nn_tensor mu = {0}, sc = {0}, yh = {0};
            int ok = zi && hq && sq && mq && scratch && (size_t)M * 16 * zh->h * zh->w == ny &&
                     !nn_tensor_alloc(&mu, 1, M, yg->h, yg->w) && !nn_tensor_alloc(&sc, 1, M, yg->h, yg->w) &&
                     !nn_tensor_alloc(&yh, 1, M, yg->h, yg->w);
            if (ok) {
                for (size_t k = 0; k < nz; k++) zi[k] = (int32_t)zh->data[k];
                aec_hs_int_hinv(&q, l << AEC_HS_T_FRAC, hq);
                ok = aec_hs_int_run(&q, zi, zh->h, zh->w, hq, sq, mq, scratch, sb) == 0;
            }
            if (ok) {
                for (size_t k = 0; k < ny; k++) {
                    mu.data[k] = (float)ldexp(mq[k], -AEC_HS_OUT_FRAC);
                    sc.data[k] = (float)ldexp(sq[k], -AEC_HS_OUT_FRAC);
                    yh.data[k] = yg->data[k] - mu.data[k];
                }
                nn_round(yh.data, yh.data, ny);
                for (size_t k = 0; k < ny; k++) yh.data[k] += mu.data[k];
                bits_i += nn_gaussian_bits(&yh, &mu, &sc);
            }
            free(zi); free(hq); free(sq); free(mq); free(scratch);
            nn_tensor_free(&mu); nn_tensor_free(&sc); nn_tensor_free(&yh);
            if (!ok) {
                fprintf(stderr, "bench_hyper_int: integer h_s failed on %s\n", set.name[i]);
                goto out_q;
            }
        }
        printf("%5d  %6d  %12.0f  %10.0f  %+9.4f%%\n", l, set.count, bits_f, bits_i,
               bits_f > 0 ? 100.0 * (bits_i - bits_f) / bits_f : 0.0);
        all_f += bits_f;
        all_i += bits_i;
    }
    printf("all levels: integer h_s costs %+.4f%% bits of y\n",
           all_f > 0 ? 100.0 * (all_i - all_f) / all_f : 0.0);
    rc = 0;
out_q:
    aec_hs_int_free(&q);
out:
    for (int i = 0; i < set.count; i++) nn_tensor_free(&set.x[i]);
    nn_tensor_free(&xhat);
    aec_train_state_free(&s);
    aec_model_free(&m);
    return rc;
}
