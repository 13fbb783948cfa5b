/* tools/train/calibrate.c - a trained model made ready to code
 * (calibrate.h): its entropy tables, its integer networks calibrated on a
 * few images, the latent tables fitted to their symbols, its identity. */
#include "tools/train/calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/cdf_tables.h"
#include "codec/codec_parts.h"
#include "codec/context_int.h"
#include "codec/hyper_int.h"
#include "nn/params.h"

/* Hyper-latent tables: integers lo..hi around the density's mass, tails
 * below this (each side) go to the escape. Gaussian tables: as CompressAI's
 * scale table, 64 scales log-spaced over [0.11, 256]. */
#define Z_TAIL 1e-7
#define Z_RANGE 4096
#define Y_SCALES 64
#define Y_SCALE_MIN 0.11
#define Y_SCALE_MAX 256.0
#define Y_TAIL 1e-9
#define TABLE_MAX_LENGTH 4095

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

static int build_z_tables(aec_cdf_set *set, const aec_model *m)
{
    int n = m->arch.n;
    int32_t *lo = malloc((size_t)n * sizeof *lo);
    uint32_t *len = malloc((size_t)n * sizeof *len);
    double *pmf = malloc((2 * Z_RANGE + 1) * sizeof *pmf);
    int ret = -1;
    if (!lo || !len || !pmf) goto done;
    for (int c = 0; c < n; c++) {
        /* the first and last integers whose bins hold more than the tail */
        int a = -Z_RANGE, b = Z_RANGE;
        while (a < 0 && sigmoid(nn_factorized_logit(&m->z_density, &m->p, c, a + 0.5)) < Z_TAIL) a++;
        while (b > 0 && 1 - sigmoid(nn_factorized_logit(&m->z_density, &m->p, c, b - 0.5)) < Z_TAIL) b--;
        if (b - a + 1 > TABLE_MAX_LENGTH) {
            int mid = (a + b) / 2;
            a = mid - TABLE_MAX_LENGTH / 2;
            b = a + TABLE_MAX_LENGTH - 1;
        }
        lo[c] = a;
        len[c] = (uint32_t)(b - a + 1);
    }
    if (aec_cdf_set_alloc(set, AEC_CDF_KIND_INDEXED, (uint32_t)n, len)) goto done;
    for (int c = 0; c < n; c++) {
        double below = sigmoid(nn_factorized_logit(&m->z_density, &m->p, c, lo[c] - 0.5)), prev = below;
        for (uint32_t k = 0; k < len[c]; k++) {
            double up = sigmoid(nn_factorized_logit(&m->z_density, &m->p, c, lo[c] + (double)k + 0.5));
            pmf[k] = fmax(up - prev, 0.0);
            prev = up;
        }
        double escape = below + (1 - prev);
        set->tables[c].offset = lo[c];
        if (aec_cdf_from_pmf(pmf, len[c], fmax(escape, 1e-12), set->tables[c].cdf)) {
            aec_cdf_set_free(set);
            goto done;
        }
    }
    ret = 0;
done:
    free(lo);
    free(len);
    free(pmf);
    return ret;
}

/* shapes: the scale each table's Gaussian has (NULL: the table's own) */
static int build_y_tables(aec_cdf_set *set, const double *shapes)
{
    double scales[Y_SCALES];
    aec_scales_logspace(Y_SCALE_MIN, Y_SCALE_MAX, Y_SCALES, scales);
    return aec_cdf_set_build_gaussian_shaped(set, scales, shapes, Y_SCALES, Y_TAIL, TABLE_MAX_LENGTH);
}

/* ---- the latent tables fitted to the coder's own symbols -----------------
 *
 * Training fits the scales to noisy latents (y + u), the coder sends
 * rounded residuals, and aec_scale_index rounds each scale up to the next
 * table (tables are about 13% apart): so a table built at its own scale is
 * wider than what lands in it. On the butterfly validation set, the
 * residuals of small-scale latents were coded best by Gaussians about 16%
 * narrower. So after the integer networks are built, the exporter encodes
 * the calibration images at every level (without refinement), counts the
 * symbols r that fall under each table and builds each table for the
 * scale f * s that codes its counts in the fewest bits, f in 2^(k/32),
 * k = -32 .. 16. Tables that saw fewer than FIT_MIN symbols take the
 * factor of the nearest table that did (1 when none did). The tables'
 * stored scales, which choose them, do not change: this is the encoder's
 * choice of tables, the format is the same. */
#define FIT_HALF 64      /* |r| counted one by one up to this; above, as one tail count */
#define FIT_MIN 2000

/* bits to code counts hist[0 .. 2 FIT_HALF] (r = -FIT_HALF ..), tail (|r|
 * beyond) under a discretised Gaussian of scale s */
static double fit_bits(const double *hist, double tail, double s)
{
    double bits = 0;
    for (int k = 0; k <= 2 * FIT_HALF; k++)
        if (hist[k] != 0) bits -= hist[k] * log2(fmax(aec_gaussian_bin_mass(k - FIT_HALF, s), 1e-12));
    if (tail > 0) bits -= tail * log2(fmax(aec_gaussian_tail_mass(FIT_HALF, s), 1e-12));
    return bits;
}

static int fit_y_tables(aec_codec *c, const aec_images *calib)
{
    const aec_model *m = &c->model;
    const int nt = (int)c->y_tables.n_tables, W = 2 * FIT_HALF + 1;
    double *hist = calloc((size_t)nt * W, sizeof *hist), *tail = calloc((size_t)nt, sizeof *tail);
    double *shape = malloc((size_t)nt * sizeof *shape), *f = malloc((size_t)nt * sizeof *f);
    int ret = -1, n_img = calib->count < AEC_CALIB_IMAGES ? calib->count : AEC_CALIB_IMAGES;
    if (!hist || !tail || !shape || !f) goto done;
    for (int i = 0; i < n_img; i++) {
        const aec_latent_shape shape = aec_latent_shape_of(calib->width[i], calib->height[i]);
        nn_tensor y_ga = {0};
        if (aec_analyze_tiles(c, calib->rgb[i], calib->width[i], calib->height[i], &shape, &y_ga)) {
            nn_tensor_free(&y_ga);
            goto done;
        }
        for (int l = 0; l < m->arch.levels; l++) {
            aec_coded_latents cl;
            if (aec_encoder_latents(c, calib->rgb[i], calib->width[i], calib->height[i], &y_ga, 1,
                                l * (1 << AEC_HS_T_FRAC), 0, &cl)) {
                nn_tensor_free(&y_ga);
                goto done;
            }
            /* the image's own latents: the padding's are not counted */
            const aec_latent_shape *ls = &cl.ls;
            const int yh = (calib->height[i] + 15) / 16, yw = (calib->width[i] + 15) / 16;
            for (int ch = 0; ch < m->arch.m; ch++)
                for (int y = 0; y < yh; y++)
                    for (int x = 0; x < yw; x++) {
                        size_t k = ((size_t)ch * ls->yh + y) * ls->yw + x;
                        uint32_t t = aec_scale_index(&c->y_tables, cl.scale_q[k]);
                        int32_t r = cl.r[k];
                        if (r >= -FIT_HALF && r <= FIT_HALF) hist[(size_t)t * W + (r + FIT_HALF)] += 1;
                        else tail[t] += 1;
                    }
            aec_coded_latents_free(&cl);
        }
        nn_tensor_free(&y_ga);
    }
    for (int t = 0; t < nt; t++) {
        double total = tail[t];
        for (int k = 0; k < W; k++) total += hist[(size_t)t * W + k];
        f[t] = 0;   /* not fitted */
        if (total < FIT_MIN) continue;
        const double s = c->y_tables.tables[t].scale_q16 / 65536.0;
        double best = -1;
        for (int k = -32; k <= 16; k++) {
            double fk = pow(2.0, k / 32.0), b = fit_bits(hist + (size_t)t * W, tail[t], s * fk);
            if (best < 0 || b < best) {
                best = b;
                f[t] = fk;
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        double ft = 1;
        for (int d = 0; d < nt; d++) {   /* the nearest fitted table */
            if (t - d >= 0 && f[t - d] > 0) { ft = f[t - d]; break; }
            if (t + d < nt && f[t + d] > 0) { ft = f[t + d]; break; }
        }
        shape[t] = c->y_tables.tables[t].scale_q16 / 65536.0 * ft;
    }
    aec_cdf_set fitted;
    if (build_y_tables(&fitted, shape)) goto done;
    aec_cdf_set_free(&c->y_tables);
    c->y_tables = fitted;
    ret = 0;
done:
    free(hist);
    free(tail);
    free(shape);
    free(f);
    return ret;
}

/* Makes a trained model ready to code: builds the integer hyper-synthesis
 * (and context model) with activation ranges calibrated on `calib`, a few
 * images of the domain, then the entropy tables, the latents' fitted to
 * those images' symbols. Takes ownership of *m. */
int aec_codec_from_model(aec_codec *c, aec_model *m, const aec_images *calib, char *err,
                         size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->model = *m;
    memset(m, 0, sizeof *m);
    c->can_encode = !c->model.decoder_only;
    aec_cdf_set_init(&c->z_tables);
    aec_cdf_set_init(&c->y_tables);
    if (!c->can_encode) {
        snprintf(err, errlen, "a decoder-only model cannot be exported");
        goto fail;
    }
    /* the file stores the weights as binary16: round them now, so that the
     * tables, the integer hyper-synthesis and the identity are made from
     * exactly the weights every loader will see */
    nn_params_round_f16(&c->model.p);
    if (build_z_tables(&c->z_tables, &c->model) || build_y_tables(&c->y_tables, NULL)) {
        snprintf(err, errlen, "building the entropy tables failed (out of memory?)");
        goto fail;
    }
    /* activation ranges of the hyper-synthesis, from real hyper-latents at
     * every level */
    aec_hs_calib cal;
    aec_hs_calib_init(&cal);
    aec_ctx_calib ctx_cal;
    memset(&ctx_cal, 0, sizeof ctx_cal);
    aec_train_state s;
    aec_train_state_init(&s, 1);
    int n_img = calib->count < AEC_CALIB_IMAGES ? calib->count : AEC_CALIB_IMAGES, failed = 0;
    const aec_arch *a = &c->model.arch;
    for (int i = 0; i < n_img && !failed; i++) {
        float *planar;
        int pw, ph;
        if (aec_image_to_planar(calib->rgb[i], calib->width[i], calib->height[i], 64, &planar, &pw, &ph)) {
            failed = 1;
            break;
        }
        nn_tensor x = {1, 3, ph, pw, planar}, y_ga = {0}, y = {0};
        /* g_a once: only the gains that follow it depend on the level */
        failed = aec_model_analysis(&c->model, &x, &y_ga, &s.ws);
        for (int l = 0; l < a->levels && !failed; l++) {
            const float *hinv = c->model.p.value + c->model.hinv_gain + (size_t)l * a->n;
            failed = nn_tensor_copy(&y, &y_ga);
            if (failed) break;
            failed = aec_model_analyze_y(&c->model, &s, &y, (float)l) ||
                     aec_hs_int_calibrate(&cal, &c->model, &s.z_hat, hinv) ||
                     (a->context &&
                      aec_model_context_calibrate(&c->model, &s, (float)l, ctx_cal.max_abs));
        }
        nn_tensor_free(&y_ga);
        nn_tensor_free(&y);
        free(planar);
    }
    aec_train_state_free(&s);
    if (failed) {
        snprintf(err, errlen, "calibrating the hyper-synthesis failed (out of memory?)");
        goto fail;
    }
    if (aec_hs_int_build(&c->hs, &c->model, &cal, err, errlen)) goto fail;
    if (a->context && aec_ctx_int_build(&c->ctx, &c->model, &ctx_cal, err, errlen)) goto fail;
    if (fit_y_tables(c, calib)) {
        snprintf(err, errlen, "fitting the latent tables failed (out of memory?)");
        goto fail;
    }
    if (aec_codec_set_identity(c)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    aec_codec_free(c);
    return -1;
}
