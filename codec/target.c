/* codec/target.c - the bisection on quality for a target bpp or PSNR. */
#include "codec/target.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/psnr.h"

int aec_trial_encode(const aec_codec *c, const uint8_t *rgb, int w, int h, int qx, int want_psnr,
                     aec_trial *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->qx = qx;
    t->psnr = NAN;
    if (aec_encode(c, rgb, w, h, qx / 100.0, &t->bytes, &t->len, err, errlen)) return -1;
    t->bpp = 8.0 * (double)t->len / ((double)w * h);
    if (want_psnr) {
        uint8_t *dec;
        int dw, dh;
        if (aec_decode(c, t->bytes, t->len, &dec, &dw, &dh, err, errlen)) {
            free(t->bytes);
            t->bytes = NULL;
            return -1;
        }
        t->psnr = aec_psnr(dec, rgb, (size_t)dw * dh * 3);
        free(dec);
    }
    return 0;
}

double aec_target_value(const aec_target *g, const aec_trial *t)
{
    return g->by_psnr ? t->psnr : t->bpp;
}

/* how far from the target, in units of the tolerance (<= 1 is close enough) */
static double miss(const aec_target *g, double v)
{
    return g->by_psnr ? fabs(v - g->target) / AEC_TARGET_PSNR_TOLERANCE_DB
                      : fabs(v - g->target) / (AEC_TARGET_BPP_TOLERANCE * g->target);
}

int aec_target_reached(const aec_target *g, const aec_trial *t)
{
    return miss(g, aec_target_value(g, t)) <= 1;
}

/* Keeps the closer of *best and *t, freeing the other's bytes. */
static void keep_closer(const aec_target *g, aec_trial *best, aec_trial *t)
{
    if (!best->bytes || miss(g, aec_target_value(g, t)) < miss(g, aec_target_value(g, best))) {
        free(best->bytes);
        *best = *t;
    } else {
        free(t->bytes);
    }
    t->bytes = NULL;
}

/* One trial at qx kept if closer; its measure in *v. */
static int sample(const aec_codec *c, const uint8_t *rgb, int w, int h, const aec_target *g,
                  int qx, aec_trial *best, double *v, char *err, size_t errlen)
{
    aec_trial t;
    if (aec_trial_encode(c, rgb, w, h, qx, g->by_psnr, &t, err, errlen)) return -1;
    *v = aec_target_value(g, &t);
    keep_closer(g, best, &t);
    return 0;
}

int aec_encode_target(const aec_codec *c, const uint8_t *rgb, int w, int h, const aec_target *g,
                      aec_target_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    aec_trial *best = &r->best;
    int lo = 0, hi = AEC_QUALITY_MAX_X100;
    double v_lo, v_hi, v;
    if (sample(c, rgb, w, h, g, lo, best, &v_lo, err, errlen) ||
        sample(c, rgb, w, h, g, hi, best, &v_hi, err, errlen))
        goto fail;
    r->v_min = v_lo;
    r->v_max = v_hi;
    r->monotone = v_lo <= v_hi;
    r->bad_a = lo;
    r->bad_b = hi;
    r->bad_va = v_lo;
    r->bad_vb = v_hi;
    if (r->monotone && g->target > v_lo && g->target < v_hi) {
        while (hi - lo > 1 && !aec_target_reached(g, best)) {
            int mid = lo + (hi - lo) / 2;
            if (sample(c, rgb, w, h, g, mid, best, &v, err, errlen)) goto fail;
            if (r->monotone && (v < v_lo || v > v_hi)) {
                r->monotone = 0;
                r->bad_a = v < v_lo ? lo : mid;
                r->bad_va = v < v_lo ? v_lo : v;
                r->bad_b = v < v_lo ? mid : hi;
                r->bad_vb = v < v_lo ? v : v_hi;
            }
            if (v < g->target) {
                lo = mid;
                v_lo = v;
            } else {
                hi = mid;
                v_hi = v;
            }
        }
    }
    return 0;
fail:
    free(best->bytes);
    best->bytes = NULL;
    return -1;
}
