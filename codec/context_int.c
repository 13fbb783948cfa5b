/* codec/context_int.c - the checkerboard context model in integers: build
 * from the float model, run, byte form. The layers are hyper_int.c's
 * integer layers, all 1x1: the context's 5x5 checkerboard convolution
 * becomes a 1x1 layer over the 12 anchor taps gathered per latent (the 13
 * other taps of the 5x5 kernel only ever see non-anchors, which the float
 * model zeroes, so they are left out). */
#include "codec/context_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/le32.h"

#define CTX_MAGIC "AECX"
#define CTX_VERSION 1
#define CTX_HEADER 28     /* magic, version, m, hs_mult, hs_shift, r_mult, r_shift */
#define HEADROOM 2.0      /* as the hyper-synthesis: range = calibrated max * 2 */
#define BAND_ROWS 8       /* latent rows per pass: bounds the scratch on big images */
#define OUT_MAX 2147483647
#define R_MAX (1 << 24)   /* symbols are clamped to +-2^24 before requantisation */
#define CTX_IN (2 * AEC_CTX_TAPS)   /* context inputs per latent channel: r and |r| at 12 taps */

/* the 12 taps (dy, dx), |dy|, |dx| <= 2 and dy + dx odd, in raster order */
static void anchor_taps(int dy[AEC_CTX_TAPS], int dx[AEC_CTX_TAPS])
{
    int n = 0;
    for (int y = -2; y <= 2; y++)
        for (int x = -2; x <= 2; x++)
            if ((y + x) % 2 != 0) {
                dy[n] = y;
                dx[n++] = x;
            }
}

void aec_ctx_int_free(aec_ctx_int *q)
{
    aec_int_layer_free(&q->ctx);
    aec_int_layer_free(&q->ep0);
    aec_int_layer_free(&q->ep1);
    memset(q, 0, sizeof *q);
}

static int dims_ok(int m)
{
    return m >= 1 && (size_t)CTX_IN * m <= AEC_CTX_MAX_CIN;
}

static int create(aec_ctx_int *q, int m)
{
    memset(q, 0, sizeof *q);
    if (!dims_ok(m)) return -1;
    q->m = m;
    if (aec_int_layer_alloc(&q->ctx, CTX_IN * m, m, 1, 1) ||
        aec_int_layer_alloc(&q->ep0, 3 * m, 2 * m, 1, 1) ||
        aec_int_layer_alloc(&q->ep1, 2 * m, 2 * m, 1, 1)) {
        aec_ctx_int_free(q);
        return -1;
    }
    return 0;
}

static int finish(aec_ctx_int *q, char *err, size_t errlen)
{
    if (q->hs_mult < 0 || q->hs_mult > 65535 || q->hs_shift < 0 || q->hs_shift > 62 ||
        q->r_mult < 0 || q->r_mult > 65535 || q->r_shift < 0 || q->r_shift > 62) {
        aec_int_error(err, errlen, "input multiplier or shift out of range");
        return -1;
    }
    if (aec_int_layer_finish(&q->ctx, 0, err, errlen) ||
        aec_int_layer_finish(&q->ep0, 1, err, errlen) ||
        aec_int_layer_finish(&q->ep1, 2, err, errlen))
        return -1;
    return 0;
}

/* ---- build ----------------------------------------------------------------- */

static double step_of(double max_abs)
{
    /* a floor, as the hyper-synthesis', so an untrained model still exports */
    return (max_abs > 1e-2 ? max_abs : 1e-2) * HEADROOM / AEC_HS_ACT_MAX;
}

int aec_ctx_int_build(aec_ctx_int *q, const aec_model *m, const aec_ctx_calib *c, char *err,
                      size_t errlen)
{
    const int M = m->arch.m;
    if (!m->arch.context || m->decoder_only || create(q, M)) {
        aec_int_error(err, errlen, "no context model, bad dimensions or out of memory");
        return -1;
    }
    const double s_e = step_of(fmax(c->max_abs[0], c->max_abs[2]));
    const double s_r = step_of(c->max_abs[1]), s_h = step_of(c->max_abs[3]);
    const double s_out = ldexp(1.0, -AEC_HS_OUT_FRAC);
    uint8_t sh;
    if (aec_int_multiplier(s_out / s_e, &q->hs_mult, &sh)) goto unrepresentable;
    q->hs_shift = sh;
    if (aec_int_multiplier(1.0 / s_r, &q->r_mult, &sh)) goto unrepresentable;
    q->r_shift = sh;

    /* the 5x5 kernel's anchor taps as a 1x1 layer over channel ci * 12 + tap
     * (ci < 2M: r of channel ci, then |r| of channel ci - M) */
    const float *v = m->p.value;
    float *w = malloc((size_t)M * CTX_IN * M * sizeof *w);
    if (!w) {
        aec_int_error(err, errlen, "out of memory");
        goto fail;
    }
    int dy[AEC_CTX_TAPS], dx[AEC_CTX_TAPS];
    anchor_taps(dy, dx);
    for (int co = 0; co < M; co++)
        for (int ci = 0; ci < 2 * M; ci++)
            for (int t = 0; t < AEC_CTX_TAPS; t++)
                w[((size_t)co * 2 * M + ci) * AEC_CTX_TAPS + t] =
                    v[m->ctx_conv.w + (((size_t)co * 2 * M + ci) * 5 + (size_t)(dy[t] + 2)) * 5 +
                      (size_t)(dx[t] + 2)];
    int bad = aec_int_layer_build(&q->ctx, w, v + m->ctx_conv.b, s_r, s_e, 0, err, errlen);
    free(w);
    if (bad || aec_int_layer_build(&q->ep0, v + m->ep[0].w, v + m->ep[0].b, s_e, s_h, 1, err, errlen) ||
        aec_int_layer_build(&q->ep1, v + m->ep[1].w, v + m->ep[1].b, s_h, s_out, 2, err, errlen) ||
        finish(q, err, errlen))
        goto fail;
    return 0;
unrepresentable:
    aec_int_error(err, errlen, "context model: input scale not representable");
fail:
    aec_ctx_int_free(q);
    return -1;
}

/* ---- run ------------------------------------------------------------------- */

static int32_t clamp_out(int64_t v)
{
    return (int32_t)(v < -OUT_MAX ? -OUT_MAX : v > OUT_MAX ? OUT_MAX : v);
}

int aec_ctx_int_run(const aec_ctx_int *q, int yh, int yw, const int32_t *r, int32_t *scale_q,
                    int32_t *mu_q)
{
    const int M = q->m;
    if (yh < 1 || yw < 1 || yh > 65536 || yw > 65536 || !r) return -1;
    const size_t plane = (size_t)yh * yw;
    /* the most non-anchors in a band */
    const size_t pmax = (size_t)BAND_ROWS * (size_t)((yw + 1) / 2);
    size_t xp_bytes = aec_int_layer_xp_bytes(&q->ctx, 1, (int)pmax);
    size_t b0 = aec_int_layer_xp_bytes(&q->ep0, 1, (int)pmax), b1 = aec_int_layer_xp_bytes(&q->ep1, 1, (int)pmax);
    if (b0 > xp_bytes) xp_bytes = b0;
    if (b1 > xp_bytes) xp_bytes = b1;
    int *pos = malloc(pmax * sizeof *pos);
    int16_t *a = malloc((size_t)3 * M * pmax * sizeof *a);
    int16_t *g = malloc((size_t)CTX_IN * M * pmax * sizeof *g);
    int16_t *hid = malloc((size_t)2 * M * pmax * sizeof *hid);
    int32_t *ds = malloc((size_t)M * pmax * sizeof *ds), *dm = malloc((size_t)M * pmax * sizeof *dm);
    int16_t *xp = malloc(xp_bytes);
    int ret = -1;
    if (!pos || !a || !g || !hid || !ds || !dm || !xp) goto done;
    int dy[AEC_CTX_TAPS], dx[AEC_CTX_TAPS];
    anchor_taps(dy, dx);
    for (int y0 = 0; y0 < yh; y0 += BAND_ROWS) {
        const int y1 = y0 + BAND_ROWS < yh ? y0 + BAND_ROWS : yh;
        int np = 0;
        for (int y = y0; y < y1; y++)
            for (int x = (y + 1) & 1; x < yw; x += 2) pos[np++] = y * yw + x;
        if (np == 0) continue;
        /* e_hs, channels [0, 2M): the scales, then the means */
        for (int c = 0; c < 2 * M; c++) {
            const int32_t *src = c < M ? scale_q + (size_t)c * plane : mu_q + (size_t)(c - M) * plane;
            int16_t *dst = a + (size_t)c * np;
            for (int p = 0; p < np; p++) dst[p] = aec_int_to_act(src[pos[p]], q->hs_mult, q->hs_shift);
        }
        /* the context's input: r, then |r|, of the anchors at the 12 taps */
        for (int ci = 0; ci < M; ci++)
            for (int t = 0; t < AEC_CTX_TAPS; t++) {
                int16_t *dr = g + ((size_t)ci * AEC_CTX_TAPS + t) * np;
                int16_t *dm_ = g + ((size_t)(M + ci) * AEC_CTX_TAPS + t) * np;
                for (int p = 0; p < np; p++) {
                    const int y = pos[p] / yw + dy[t], x = pos[p] % yw + dx[t];
                    if (y < 0 || y >= yh || x < 0 || x >= yw) {
                        dr[p] = dm_[p] = 0;
                        continue;
                    }
                    const int32_t rv = r[(size_t)ci * plane + (size_t)y * yw + (size_t)x];
                    const int64_t rc = rv < -R_MAX ? -R_MAX : rv > R_MAX ? R_MAX : rv;
                    dr[p] = aec_int_to_act(rc, q->r_mult, q->r_shift);
                    dm_[p] = aec_int_to_act(rc < 0 ? -rc : rc, q->r_mult, q->r_shift);
                }
            }
        aec_int_layer_run(&q->ctx, g, 1, np, xp, a + (size_t)2 * M * np, 0, NULL, NULL, 0);
        aec_int_layer_run(&q->ep0, a, 1, np, xp, hid, 1, NULL, NULL, 0);
        aec_int_layer_run(&q->ep1, hid, 1, np, xp, NULL, 0, ds, dm, M);
        for (int c = 0; c < M; c++) {
            int32_t *s = scale_q + (size_t)c * plane, *mu = mu_q + (size_t)c * plane;
            const int32_t *d1 = ds + (size_t)c * np, *d2 = dm + (size_t)c * np;
            for (int p = 0; p < np; p++) {
                s[pos[p]] = clamp_out((int64_t)s[pos[p]] + d1[p]);
                mu[pos[p]] = clamp_out((int64_t)mu[pos[p]] + d2[p]);
            }
        }
    }
    ret = 0;
done:
    free(pos);
    free(a);
    free(g);
    free(hid);
    free(ds);
    free(dm);
    free(xp);
    return ret;
}

/* ---- byte form --------------------------------------------------------------- */

static size_t blob_size(int m)
{
    return CTX_HEADER + aec_int_layer_bytes(CTX_IN * m, m, 1) +
           aec_int_layer_bytes(3 * m, 2 * m, 1) + aec_int_layer_bytes(2 * m, 2 * m, 1) + 4;
}

int aec_ctx_int_serialize(const aec_ctx_int *q, uint8_t **buf, size_t *len)
{
    const size_t size = blob_size(q->m);
    uint8_t *out = malloc(size), *p = out;
    if (!out) return -1;
    memcpy(p, CTX_MAGIC, 4);
    const uint32_t head[6] = {CTX_VERSION, (uint32_t)q->m, (uint32_t)q->hs_mult,
                              (uint32_t)q->hs_shift, (uint32_t)q->r_mult, (uint32_t)q->r_shift};
    for (int i = 0; i < 6; i++) aec_put_le32(p + 4 + 4 * i, head[i]);
    p += CTX_HEADER;
    p = aec_int_layer_write(&q->ctx, p);
    p = aec_int_layer_write(&q->ep0, p);
    p = aec_int_layer_write(&q->ep1, p);
    aec_put_le32(p, aec_crc32(out, size - 4));
    *buf = out;
    *len = size;
    return 0;
}

int aec_ctx_int_deserialize(aec_ctx_int *q, const uint8_t *buf, size_t len, char *err,
                            size_t errlen)
{
    memset(q, 0, sizeof *q);
    if (len < CTX_HEADER + 4 || memcmp(buf, CTX_MAGIC, 4) != 0) {
        aec_int_error(err, errlen, len < CTX_HEADER + 4 ? "integer context: truncated"
                                                  : "integer context: bad magic");
        return -1;
    }
    if (aec_get_le32(buf + 4) != CTX_VERSION) {
        aec_int_error(err, errlen, "integer context: unsupported version %u", aec_get_le32(buf + 4));
        return -1;
    }
    const uint32_t m = aec_get_le32(buf + 8);
    if (m > AEC_HS_MAX_CH || !dims_ok((int)m)) {
        aec_int_error(err, errlen, "integer context: bad dimensions");
        return -1;
    }
    const size_t size = blob_size((int)m);
    if (len != size) {
        aec_int_error(err, errlen, len < size ? "integer context: truncated" : "integer context: size mismatch");
        return -1;
    }
    if (aec_get_le32(buf + size - 4) != aec_crc32(buf, size - 4)) {
        aec_int_error(err, errlen, "integer context: CRC mismatch");
        return -1;
    }
    if (create(q, (int)m)) {
        aec_int_error(err, errlen, "integer context: out of memory");
        return -1;
    }
    q->hs_mult = aec_int_i32(aec_get_le32(buf + 12));
    q->hs_shift = aec_int_i32(aec_get_le32(buf + 16));
    q->r_mult = aec_int_i32(aec_get_le32(buf + 20));
    q->r_shift = aec_int_i32(aec_get_le32(buf + 24));
    const uint8_t *p = buf + CTX_HEADER;
    char why[160];
    if (!(p = aec_int_layer_read(&q->ctx, p)) || !(p = aec_int_layer_read(&q->ep0, p)) ||
        !(p = aec_int_layer_read(&q->ep1, p))) {
        aec_int_error(err, errlen, "integer context: unexpected layer shape");
        aec_ctx_int_free(q);
        return -1;
    }
    if (finish(q, why, sizeof why)) {
        aec_int_error(err, errlen, "integer context: %s", why);
        aec_ctx_int_free(q);
        return -1;
    }
    return 0;
}
