/* codec/hyper_int.c - integer hyper-synthesis: build from the float model,
 * run, and the byte form.
 *
 * Every layer runs as matrix products, one per output phase: a transposed
 * convolution with stride 2 is, for the outputs (2Y + py, 2X + px) of one
 * phase, an ordinary convolution on the input grid whose taps are the
 * kernel entries with ky = py + pad (mod 2); a stride-1 convolution is one
 * phase. For a phase the input is unrolled into
 *
 *     xp[t][kp][p][j] = input value of reduction index k = 2 kp + j at pixel
 *     t TILE_PIX + p,  k = (ci * taps_y + ty) * taps_x + tx,  pixel Y w + X
 *
 * (each tile of pixels contiguous, so that it stays in cache while every
 * block of output channels reads it),
 *
 * and the weights of output channels 4b .. 4b+3 into
 *
 *     pack[b][kp][c][j] = weight of channel 4b + c at k = 2 kp + j,
 *
 * so that one step of the kernel multiplies int16 pairs and adds them into
 * int32 (x86's pmaddwd). int32 sums are flushed into int64 every
 * KP_CHUNK pairs: 2 KP_CHUNK |w| |x| <= 256 * 128 * 32768 = 2^30 < 2^31 (a
 * weight byte reads as -128..127, an input is int16), so the int32 sums
 * cannot overflow whatever the weights and inputs, and the int64
 * total is bounded when the model is finished (check_layer). Integer sums
 * are exact, so the kernel, the blocking and the thread count cannot change
 * a result. */
#include "codec/hyper_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/le32.h"
#include "nn/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HS_X86 1
#else
#define HS_X86 0
#endif

#define CO_BLOCK 4      /* output channels per kernel call */
#define KP_CHUNK 128    /* int16 pairs summed in int32 before the int64 flush (at most 255) */
#define TILE_PIX 16     /* pixels per tile (the widest kernel); phases are padded to whole tiles */
#define K_BLOCK 128     /* pairs per pass over a group of blocks: the tile's 8 KiB of xp stay in L1 */
#define GROUP_BLOCKS 16 /* blocks of output channels per job: 64 channels, 8 KiB of int64 sums */
#define HEADROOM 2.0    /* activation range = calibrated max * HEADROOM */
#define LRELU_MUL 41    /* leaky ReLU slope 41 / 4096 ~ 0.01 */
#define LRELU_SHIFT 12
#define HIDDEN_CLAMP (1 << 24)
#define OUT_MAX 2147483647

void aec_int_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the integer arithmetic (spec/model-format.md) ----------------------- */

/* floor(v / 2^s), 0 <= s <= 62, without right-shifting a negative value */
static inline int64_t floor_shift(int64_t v, int s)
{
    return v >= 0 ? v >> s : -((-v - 1) >> s) - 1;
}

/* floor((v * mult + 2^(s-1)) / 2^s): v * mult / 2^s rounded half up */
static inline int64_t requant(int64_t v, int32_t mult, int s)
{
    int64_t half = s > 0 ? (int64_t)1 << (s - 1) : 0;
    return floor_shift(v * mult + half, s);
}

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int16_t aec_int_to_act(int64_t v, int32_t mult, int shift)
{
    return (int16_t)clamp64(requant(v, mult, shift), -AEC_HS_ACT_MAX, AEC_HS_ACT_MAX);
}

/* requantised value -> leaky ReLU -> int16 */
static inline int16_t hidden_act(int64_t acc, int32_t mult, int s)
{
    int64_t r = clamp64(requant(acc, mult, s), -HIDDEN_CLAMP, HIDDEN_CLAMP);
    if (r < 0) r = floor_shift(r * LRELU_MUL + (1 << (LRELU_SHIFT - 1)), LRELU_SHIFT);
    return (int16_t)clamp64(r, -AEC_HS_ACT_MAX, AEC_HS_ACT_MAX);
}

static inline int32_t output_val(int64_t acc, int32_t mult, int s)
{
    return (int32_t)clamp64(requant(acc, mult, s), -OUT_MAX, OUT_MAX);
}

/* ---- layer geometry ------------------------------------------------------ */

/* Taps along one axis for output phase `ph`: kernel index kidx[i] reads input
 * offset d[i] (output Y of the phase reads input Y + d). Returns the count. */
static int axis_taps(int k, int stride, int ph, int *kidx, int *d)
{
    int pad = k / 2, n = 0;
    for (int kk = 0; kk < k; kk++) {
        if (stride == 1) {
            kidx[n] = kk; d[n++] = kk - pad;
        } else if ((ph + pad - kk) % stride == 0) {
            /* transposed: o = s i - pad + kk, o = s Y + ph -> i = Y + (ph + pad - kk) / s */
            kidx[n] = kk; d[n++] = (ph + pad - kk) / stride;
        }
    }
    return n;
}

static int layer_phases(const aec_hs_int_layer *L) { return L->stride * L->stride; }

static size_t layer_wcount(const aec_hs_int_layer *L)
{
    return (size_t)L->cin * L->cout * L->k * L->k;
}

static int cout_blocks(const aec_hs_int_layer *L) { return (L->cout + CO_BLOCK - 1) / CO_BLOCK; }

/* ---- construction -------------------------------------------------------- */

void aec_int_layer_free(aec_hs_int_layer *L)
{
    free(L->w); free(L->b); free(L->mult); free(L->shift);
    for (int f = 0; f < 4; f++) free(L->pack[f]);
    memset(L, 0, sizeof *L);
}

void aec_hs_int_free(aec_hs_int *q)
{
    free(q->hinv_q);
    for (int i = 0; i < 3; i++) aec_int_layer_free(&q->layer[i]);
    memset(q, 0, sizeof *q);
}

int aec_int_layer_alloc(aec_hs_int_layer *L, int cin, int cout, int k, int stride)
{
    memset(L, 0, sizeof *L);
    L->cin = cin; L->cout = cout; L->k = k; L->stride = stride;
    L->w = calloc(layer_wcount(L), sizeof *L->w);
    L->b = calloc((size_t)cout, sizeof *L->b);
    L->mult = calloc((size_t)cout, sizeof *L->mult);
    L->shift = calloc((size_t)cout, sizeof *L->shift);
    return L->w && L->b && L->mult && L->shift ? 0 : -1;
}

static int dims_ok(int n, int m, int levels)
{
    return n >= 1 && n <= AEC_HS_MAX_CH && m >= 2 && m % 2 == 0 && 2 * m <= AEC_HS_MAX_CH &&
           levels >= 1 && levels <= AEC_MAX_LEVELS;
}

int aec_hs_int_create(aec_hs_int *q, int n, int m, int levels)
{
    memset(q, 0, sizeof *q);
    if (!dims_ok(n, m, levels)) return -1;
    q->n = n; q->m = m; q->levels = levels;
    q->hinv_q = calloc((size_t)levels * n, sizeof *q->hinv_q);
    if (!q->hinv_q || aec_int_layer_alloc(&q->layer[0], n, m, 5, 2) ||
        aec_int_layer_alloc(&q->layer[1], m, m * 3 / 2, 5, 2) ||
        aec_int_layer_alloc(&q->layer[2], m * 3 / 2, 2 * m, 3, 1)) {
        aec_hs_int_free(q);
        return -1;
    }
    return 0;
}

/* Every value in range and, per output channel, |acc| * mult + 2^(shift-1)
 * within int64, where |acc| <= |b| + 32767 sum |w| bounds the exact sum.
 * Under the other limits the bound always holds (|acc| < 2^44, mult < 2^16);
 * checking it directly keeps the proof next to the code that relies on it. */
static int check_layer(const aec_hs_int_layer *L, int li, char *err, size_t errlen)
{
    size_t nw = layer_wcount(L), kk = (size_t)L->k * L->k;
    /* the range in one branch-free pass, the index only on failure; in
     * blocks of 16 so that GCC's -O2 vectorises it (this runs at every
     * model load) */
    int16_t lo[16] = {0}, hi[16] = {0};
    size_t i0 = 0;
    for (; i0 + 16 <= nw; i0 += 16)
        for (int u = 0; u < 16; u++) {
            lo[u] = L->w[i0 + u] < lo[u] ? L->w[i0 + u] : lo[u];
            hi[u] = L->w[i0 + u] > hi[u] ? L->w[i0 + u] : hi[u];
        }
    for (; i0 < nw; i0++) {
        lo[0] = L->w[i0] < lo[0] ? L->w[i0] : lo[0];
        hi[0] = L->w[i0] > hi[0] ? L->w[i0] : hi[0];
    }
    int range_ok = 1;
    for (int u = 0; u < 16; u++) range_ok &= lo[u] >= -AEC_HS_W_MAX && hi[u] <= AEC_HS_W_MAX;
    if (!range_ok)
        for (size_t i = 0; i < nw; i++)
            if (L->w[i] < -AEC_HS_W_MAX || L->w[i] > AEC_HS_W_MAX) {
                aec_int_error(err, errlen, "layer %d: weight %zu out of range", li, i);
                return -1;
            }
    /* sum |w| per output channel, <= 4096 * 25 * 127, in one pass over the
     * weights in their stored order (this runs at every model load) */
    int64_t *sum = calloc((size_t)L->cout, sizeof *sum);
    if (!sum) {
        aec_int_error(err, errlen, "out of memory");
        return -1;
    }
    /* stored [cout][cin][k][k] at stride 1, [cin][cout][k][k] at stride 2 */
    size_t outer = L->stride == 1 ? 1 : (size_t)L->cin;
    size_t run = L->stride == 1 ? (size_t)L->cin * kk : kk;
    const int16_t *w = L->w;
    for (size_t o = 0; o < outer; o++)
        for (int co = 0; co < L->cout; co++, w += run) {
            /* <= 4096 * 9 * 127 for h_s, 8192 * 127 for the context model's
             * 1x1 layers (branch-free: the signs are random) */
            int32_t s[8] = {0};
            size_t j = 0;
            for (; j + 8 <= run; j += 8)
                for (int u = 0; u < 8; u++) s[u] += abs(w[j + u]);
            for (; j < run; j++) s[0] += abs(w[j]);
            sum[co] += s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
        }
    for (int co = 0; co < L->cout; co++) {
        if (L->mult[co] < 0 || L->mult[co] > 65535 || L->shift[co] > 62) {
            aec_int_error(err, errlen, "layer %d: channel %d: multiplier or shift out of range", li, co);
            free(sum);
            return -1;
        }
        int64_t bound = (L->b[co] < 0 ? -(int64_t)L->b[co] : L->b[co]) + sum[co] * AEC_HS_ACT_MAX;
        int64_t half = L->shift[co] ? (int64_t)1 << (L->shift[co] - 1) : 0;
        if (L->mult[co] > 0 && bound > (INT64_MAX - half) / L->mult[co]) {
            aec_int_error(err, errlen, "layer %d: channel %d: accumulator could overflow", li, co);
            free(sum);
            return -1;
        }
    }
    free(sum);
    return 0;
}

static int pack_layer(aec_hs_int_layer *L)
{
    int kyi[8], dy[8], kxi[8], dx[8];
    for (int f = 0; f < layer_phases(L); f++) {
        int ny = axis_taps(L->k, L->stride, f / L->stride, kyi, dy);
        int nx = axis_taps(L->k, L->stride, f % L->stride, kxi, dx);
        int K = L->cin * ny * nx, kp = (K + 1) / 2;
        L->kpad[f] = 2 * kp;
        size_t count = (size_t)cout_blocks(L) * kp * 2 * CO_BLOCK;
        free(L->pack[f]);
        L->pack[f] = calloc(count, sizeof(int16_t));
        if (!L->pack[f]) return -1;
        /* written in order (this runs at every model load): within a block
         * of CO_BLOCK output channels, pairs of k = (ci * ny + ty) * nx + tx,
         * each pair as CO_BLOCK (k even, k odd) couples. Serial on
         * purpose, like everything of model loading: aec encode/decode -j
         * load the model once and then fork their workers, and a child
         * forked after libgomp started its threads waits forever in its
         * first parallel region (test_cli hung so). */
        int off[64];   /* the phase's taps as offsets into one k x k kernel */
        for (int ty = 0; ty < ny; ty++)
            for (int tx = 0; tx < nx; tx++) off[ty * nx + tx] = kyi[ty] * L->k + kxi[tx];
        const size_t kk = (size_t)L->k * L->k;
        /* from one input channel's kernel of output channel co to the next */
        const size_t ci_step = L->stride == 1 ? kk : (size_t)L->cout * kk;
        for (int b = 0; b < cout_blocks(L); b++) {
            int16_t *dst = L->pack[f] + (size_t)b * kp * 2 * CO_BLOCK;
            int k = 0, cend = L->cout - b * CO_BLOCK < CO_BLOCK ? L->cout - b * CO_BLOCK : CO_BLOCK;
            const int16_t *src[CO_BLOCK];   /* (ci, co) = (0, b * CO_BLOCK + c)'s kernel */
            for (int c = 0; c < cend; c++)
                src[c] = &L->w[0] + (L->stride == 1 ? (size_t)(b * CO_BLOCK + c) * L->cin * kk
                                                    : (size_t)(b * CO_BLOCK + c) * kk);
            for (int ci = 0; ci < L->cin; ci++) {
                for (int t = 0; t < ny * nx; t++, k++) {
                    int16_t *d = dst + (size_t)(k / 2) * 2 * CO_BLOCK + k % 2;
                    for (int c = 0; c < cend; c++) d[2 * c] = src[c][off[t]];
                }
                for (int c = 0; c < cend; c++) src[c] += ci_step;
            }
        }
    }
    return 0;
}

int aec_hs_int_finish(aec_hs_int *q, char *err, size_t errlen)
{
    if (!dims_ok(q->n, q->m, q->levels)) {
        aec_int_error(err, errlen, "bad dimensions");
        return -1;
    }
    for (size_t i = 0; i < (size_t)q->levels * q->n; i++)
        if (q->hinv_q[i] < -AEC_HS_HINV_MAX || q->hinv_q[i] > AEC_HS_HINV_MAX) {
            aec_int_error(err, errlen, "hyper inverse gain %zu out of range", i);
            return -1;
        }
    /* |clamp(z) * hinv_q| <= 2^39, times mult < 2^16, plus 2^61: < 2^63 */
    if (q->in_mult < 0 || q->in_mult > 65535 || q->in_shift < 0 || q->in_shift > 62) {
        aec_int_error(err, errlen, "input multiplier or shift out of range");
        return -1;
    }
    for (int i = 0; i < 3; i++)
        if (aec_int_layer_finish(&q->layer[i], i, err, errlen)) return -1;
    return 0;
}

int aec_int_layer_finish(aec_hs_int_layer *L, int li, char *err, size_t errlen)
{
    if (check_layer(L, li, err, errlen)) return -1;
    if (pack_layer(L)) {
        aec_int_error(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- build from the float model ------------------------------------------ */

void aec_hs_calib_init(aec_hs_calib *c)
{
    memset(c, 0, sizeof *c);
}

static void raise_max(double *mx, const nn_tensor *t)
{
    size_t n = nn_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)t->data[i]);
        if (a > *mx) *mx = a;
    }
}

int aec_hs_int_calibrate(aec_hs_calib *c, const aec_model *m, const nn_tensor *z_hat,
                         const float *hinv)
{
    nn_tensor a = {0}, b = {0};
    nn_workspace ws = {0};
    int rc = -1;
    if (z_hat->c != m->arch.n || nn_tensor_resize(&a, z_hat->n, z_hat->c, z_hat->h, z_hat->w))
        goto out;
    size_t plane = (size_t)z_hat->h * z_hat->w;
    for (size_t i = 0; i < nn_tensor_numel(z_hat); i++)
        a.data[i] = z_hat->data[i] * hinv[(i / plane) % (size_t)z_hat->c];
    raise_max(&c->max_abs[0], &a);
    for (int i = 0; i < 2; i++) {
        if (nn_deconv2d_forward(&m->hs_up[i], &m->p, &a, &b, &ws)) goto out;
        size_t n = nn_tensor_numel(&b);
        for (size_t k = 0; k < n; k++)
            if (b.data[k] < 0) b.data[k] *= 0.01f;
        raise_max(&c->max_abs[i + 1], &b);
        nn_tensor t = a; a = b; b = t;
    }
    if (nn_conv2d_forward(&m->hs_out, &m->p, &a, &b, &ws)) goto out;
    raise_max(&c->max_abs[3], &b);
    rc = 0;
out:
    nn_tensor_free(&a);
    nn_tensor_free(&b);
    nn_workspace_free(&ws);
    return rc;
}

/* mult / 2^shift ~ r with mult in [2^15, 2^16) where possible */
int aec_int_multiplier(double r, int32_t *mult, uint8_t *shift)
{
    *mult = 0; *shift = 0;
    if (!(r > 0)) return r == 0 ? 0 : -1;
    int e;
    double f = frexp(r, &e);       /* r = f 2^e, f in [0.5, 1) */
    int s = 16 - e;
    long mv = lrint(ldexp(f, 16));
    if (mv == 65536) { mv = 32768; s--; }
    if (s < 0 || !isfinite(r)) return -1;
    if (s > 62) { mv = lrint(ldexp(r, 62)); s = 62; }
    *mult = (int32_t)mv;
    *shift = (uint8_t)s;
    return 0;
}

int aec_int_layer_build(aec_hs_int_layer *L, const float *w, const float *b, double s_in,
                        double s_out, int li, char *err, size_t errlen)
{
    for (int co = 0; co < L->cout; co++) {
        double wmax = 0;
        for (int ci = 0; ci < L->cin; ci++)
            for (int t = 0; t < L->k * L->k; t++) {
                size_t i = L->stride == 1 ? ((size_t)co * L->cin + ci) * L->k * L->k + t
                                          : ((size_t)ci * L->cout + co) * L->k * L->k + t;
                if (fabs(w[i]) > wmax) wmax = fabs(w[i]);
            }
        /* weight step: max |w| -> W_MAX, but coarse enough that the bias
         * fits in 2^30 accumulator units */
        double sw = wmax / AEC_HS_W_MAX;
        double bmin = fabs((double)b[co]) / (s_in * 1073741824.0);
        if (bmin > sw) sw = bmin;
        if (!(sw > 0)) sw = 1;
        for (int ci = 0; ci < L->cin; ci++)
            for (int t = 0; t < L->k * L->k; t++) {
                size_t i = L->stride == 1 ? ((size_t)co * L->cin + ci) * L->k * L->k + t
                                          : ((size_t)ci * L->cout + co) * L->k * L->k + t;
                long v = lrint(w[i] / sw);
                L->w[i] = (int16_t)(v > AEC_HS_W_MAX ? AEC_HS_W_MAX : v < -AEC_HS_W_MAX ? -AEC_HS_W_MAX : v);
            }
        L->b[co] = (int32_t)lrint(b[co] / (s_in * sw));
        if (!isfinite(sw) || aec_int_multiplier(s_in * sw / s_out, &L->mult[co], &L->shift[co])) {
            aec_int_error(err, errlen, "layer %d: channel %d: scale not representable", li, co);
            return -1;
        }
    }
    return 0;
}

int aec_hs_int_build(aec_hs_int *q, const aec_model *m, const aec_hs_calib *c, char *err,
                     size_t errlen)
{
    const aec_arch *a = &m->arch;
    if (aec_hs_int_create(q, a->n, a->m, a->levels)) {
        aec_int_error(err, errlen, "bad dimensions or out of memory");
        return -1;
    }
    const float *v = m->p.value;
    for (size_t i = 0; i < (size_t)a->levels * a->n; i++) {
        double h = ldexp(v[m->hinv_gain + i], AEC_HS_HINV_FRAC);
        if (!(fabs(h) <= AEC_HS_HINV_MAX)) {
            aec_int_error(err, errlen, "hyper inverse gain %zu too large", i);
            goto fail;
        }
        q->hinv_q[i] = (int32_t)lrint(h);
    }
    double s_act[4];
    for (int i = 0; i < 3; i++) {
        /* a floor on the range: a model whose calibration saw (almost) no
         * activity, e.g. an untrained one with all-zero hyper-latents, must
         * still export; 1e-2 keeps every multiplier representable */
        double mx = c->max_abs[i] > 1e-2 ? c->max_abs[i] : 1e-2;
        s_act[i] = mx * HEADROOM / AEC_HS_ACT_MAX;
    }
    s_act[3] = ldexp(1.0, -AEC_HS_OUT_FRAC);
    uint8_t sh;
    if (aec_int_multiplier(ldexp(1.0, -AEC_HS_HINV_FRAC) / s_act[0], &q->in_mult, &sh)) {
        aec_int_error(err, errlen, "input scale not representable");
        goto fail;
    }
    q->in_shift = sh;
    const size_t wo[3] = {m->hs_up[0].w, m->hs_up[1].w, m->hs_out.w};
    const size_t bo[3] = {m->hs_up[0].b, m->hs_up[1].b, m->hs_out.b};
    for (int i = 0; i < 3; i++)
        if (aec_int_layer_build(&q->layer[i], v + wo[i], v + bo[i], s_act[i], s_act[i + 1], i, err, errlen))
            goto fail;
    if (aec_hs_int_finish(q, err, errlen)) goto fail;
    return 0;
fail:
    aec_hs_int_free(q);
    return -1;
}

/* ---- hinv interpolation ------------------------------------------------- */

void aec_hs_int_hinv(const aec_hs_int *q, int32_t t_q16, int32_t *hinv_q)
{
    int32_t tmax = (q->levels - 1) * (1 << AEC_HS_T_FRAC);
    int32_t t = t_q16 < 0 ? 0 : t_q16 > tmax ? tmax : t_q16;
    int l0 = t >> AEC_HS_T_FRAC;
    if (l0 > q->levels - 2) l0 = q->levels > 1 ? q->levels - 2 : 0;
    int l1 = q->levels > 1 ? l0 + 1 : 0;
    int64_t f = (int64_t)t - ((int64_t)l0 << AEC_HS_T_FRAC);   /* 0 .. 2^16 */
    const int32_t *h0 = q->hinv_q + (size_t)l0 * q->n, *h1 = q->hinv_q + (size_t)l1 * q->n;
    for (int c = 0; c < q->n; c++) {
        int64_t d = (int64_t)h1[c] - h0[c];
        hinv_q[c] = (int32_t)(h0[c] + floor_shift(d * f + (1 << (AEC_HS_T_FRAC - 1)), AEC_HS_T_FRAC));
    }
}

/* ---- the kernels --------------------------------------------------------- */

/* acc[c][p] += sum over kp < kp_count of channel c's weight pair kp times
 * pixel p's pair, p < width (8 here); xp's rows of pairs are row_pix pixels
 * apart. */
static void kernel_generic(const int16_t *wp, const int16_t *xp, size_t row_pix, int kp_count,
                           int64_t acc[CO_BLOCK][16])
{
    for (int k0 = 0; k0 < kp_count; k0 += KP_CHUNK) {
        int k1 = k0 + KP_CHUNK < kp_count ? k0 + KP_CHUNK : kp_count;
        int32_t a[CO_BLOCK][8] = {{0}};
        for (int kp = k0; kp < k1; kp++) {
            const int16_t *x = xp + (size_t)kp * row_pix * 2, *w = wp + (size_t)kp * 2 * CO_BLOCK;
            for (int c = 0; c < CO_BLOCK; c++)
                for (int p = 0; p < 8; p++)
                    a[c][p] += w[2 * c] * x[2 * p] + w[2 * c + 1] * x[2 * p + 1];
        }
        for (int c = 0; c < CO_BLOCK; c++)
            for (int p = 0; p < 8; p++) acc[c][p] += a[c][p];
    }
}

#if HS_X86
/* a weight pair (two int16) as one int32 (memcpy: the pack is
 * int16-aligned only) */
static inline int32_t load_i32(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void flush_sse(__m128i v, int64_t *dst)
{
    __m128i sign = _mm_srai_epi32(v, 31);
    __m128i lo = _mm_unpacklo_epi32(v, sign), hi = _mm_unpackhi_epi32(v, sign);
    _mm_storeu_si128((__m128i *)dst, _mm_add_epi64(_mm_loadu_si128((const __m128i *)dst), lo));
    _mm_storeu_si128((__m128i *)(dst + 2), _mm_add_epi64(_mm_loadu_si128((const __m128i *)(dst + 2)), hi));
}

/* as kernel_generic, width 8, with SSE2 */
static void kernel_sse2(const int16_t *wp, const int16_t *xp, size_t row_pix, int kp_count,
                        int64_t acc[CO_BLOCK][16])
{
    for (int k0 = 0; k0 < kp_count; k0 += KP_CHUNK) {
        int k1 = k0 + KP_CHUNK < kp_count ? k0 + KP_CHUNK : kp_count;
        __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int kp = k0; kp < k1; kp++) {
            const int16_t *x = xp + (size_t)kp * row_pix * 2;
            __m128i x0 = _mm_loadu_si128((const __m128i *)x);
            __m128i x1 = _mm_loadu_si128((const __m128i *)(x + 8));
            /* as in kernel_avx2: pairs broadcast one at a time, sums pinned */
            const int16_t *w = wp + (size_t)kp * 2 * CO_BLOCK;
            __m128i w0 = _mm_set1_epi32(load_i32(w + 0));
            a0 = _mm_add_epi32(a0, _mm_madd_epi16(x0, w0));
            a1 = _mm_add_epi32(a1, _mm_madd_epi16(x1, w0));
            __m128i w1 = _mm_set1_epi32(load_i32(w + 2));
            a2 = _mm_add_epi32(a2, _mm_madd_epi16(x0, w1));
            a3 = _mm_add_epi32(a3, _mm_madd_epi16(x1, w1));
            __m128i w2 = _mm_set1_epi32(load_i32(w + 4));
            a4 = _mm_add_epi32(a4, _mm_madd_epi16(x0, w2));
            a5 = _mm_add_epi32(a5, _mm_madd_epi16(x1, w2));
            __m128i w3 = _mm_set1_epi32(load_i32(w + 6));
            a6 = _mm_add_epi32(a6, _mm_madd_epi16(x0, w3));
            a7 = _mm_add_epi32(a7, _mm_madd_epi16(x1, w3));
            __asm__("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7));
        }
        flush_sse(a0, acc[0]); flush_sse(a1, acc[0] + 4);
        flush_sse(a2, acc[1]); flush_sse(a3, acc[1] + 4);
        flush_sse(a4, acc[2]); flush_sse(a5, acc[2] + 4);
        flush_sse(a6, acc[3]); flush_sse(a7, acc[3] + 4);
    }
}

__attribute__((target("avx2"))) static inline void flush_avx2(__m256i v, int64_t *dst)
{
    __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
    __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
    _mm256_storeu_si256((__m256i *)dst, _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)dst), lo));
    _mm256_storeu_si256((__m256i *)(dst + 4), _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(dst + 4)), hi));
}

/* as kernel_generic, width 16, with AVX2 */
__attribute__((target("avx2"))) static void kernel_avx2(const int16_t *wp, const int16_t *xp,
                                                        size_t row_pix, int kp_count,
                                                        int64_t acc[CO_BLOCK][16])
{
    for (int k0 = 0; k0 < kp_count; k0 += KP_CHUNK) {
        int k1 = k0 + KP_CHUNK < kp_count ? k0 + KP_CHUNK : kp_count;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int kp = k0; kp < k1; kp++) {
            const int16_t *x = xp + (size_t)kp * row_pix * 2;
            __m256i x0 = _mm256_loadu_si256((const __m256i *)x);
            __m256i x1 = _mm256_loadu_si256((const __m256i *)(x + 16));
            /* each channel's weight pair broadcast from memory as one
             * 32-bit value (no shuffles: fewer live registers) */
            const int16_t *w = wp + (size_t)kp * 2 * CO_BLOCK;
            __m256i w0 = _mm256_set1_epi32(load_i32(w + 0));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x0, w0));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(x1, w0));
            __m256i w1 = _mm256_set1_epi32(load_i32(w + 2));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(x0, w1));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(x1, w1));
            __m256i w2 = _mm256_set1_epi32(load_i32(w + 4));
            a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(x0, w2));
            a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(x1, w2));
            __m256i w3 = _mm256_set1_epi32(load_i32(w + 6));
            a6 = _mm256_add_epi32(a6, _mm256_madd_epi16(x0, w3));
            a7 = _mm256_add_epi32(a7, _mm256_madd_epi16(x1, w3));
            /* keeps the eight sums in registers: without it GCC 12 moved
             * each through a temporary and kept one on the stack, so every
             * iteration waited on a store-to-load round trip (perf
             * annotate: half the kernel's samples on that add) */
            __asm__("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7));
        }
        flush_avx2(a0, acc[0]); flush_avx2(a1, acc[0] + 8);
        flush_avx2(a2, acc[1]); flush_avx2(a3, acc[1] + 8);
        flush_avx2(a4, acc[2]); flush_avx2(a5, acc[2] + 8);
        flush_avx2(a6, acc[3]); flush_avx2(a7, acc[3] + 8);
    }
}
#endif

typedef void (*kernel_fn)(const int16_t *, const int16_t *, size_t, int, int64_t[CO_BLOCK][16]);

/* the widest kernel nn/cpu.h's switch allows; all give the same sums */
static kernel_fn pick_kernel(int *width)
{
#if HS_X86
    if (nn_cpu_has(NN_CPU_AVX2)) {
        *width = 16;
        return kernel_avx2;
    }
    if (nn_cpu_has(NN_CPU_SSE2)) {
        *width = 8;
        return kernel_sse2;
    }
#endif
    *width = 8;
    return kernel_generic;
}

/* ---- running ------------------------------------------------------------- */

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

/* int16 elements of the largest xp over the layers and phases */
static size_t xp_elems(const aec_hs_int *q, int h, int w)
{
    size_t best = 0;
    for (int i = 0; i < 3; i++) {
        const aec_hs_int_layer *L = &q->layer[i];
        size_t ih = (size_t)h << (i == 0 ? 0 : 1 + (i == 2)), iw = (size_t)w << (i == 0 ? 0 : 1 + (i == 2));
        size_t ppad = round_up(ih * iw, TILE_PIX);
        for (int f = 0; f < layer_phases(L); f++)
            if ((size_t)L->kpad[f] * ppad > best) best = (size_t)L->kpad[f] * ppad;
    }
    return best;
}

size_t aec_int_layer_xp_bytes(const aec_hs_int_layer *L, int h, int w)
{
    size_t ppad = round_up((size_t)h * w, TILE_PIX), best = 0;
    for (int f = 0; f < layer_phases(L); f++)
        if ((size_t)L->kpad[f] * ppad > best) best = (size_t)L->kpad[f] * ppad;
    return best * sizeof(int16_t);
}

size_t aec_hs_int_scratch_bytes(const aec_hs_int *q, int h, int w)
{
    if (h < 1 || w < 1 || h > 4096 || w > 4096) return 0;
    size_t hw = (size_t)h * w;
    size_t bytes = 64;   /* alignment slack */
    bytes += round_up((size_t)q->n * hw * 2, 64);
    bytes += round_up((size_t)q->m * hw * 4 * 2, 64);
    bytes += round_up((size_t)q->m * 3 / 2 * hw * 16 * 2, 64);
    bytes += round_up(xp_elems(q, h, w) * 2, 64);
    return bytes;
}

/* v[j] = the input value that reduction row (ci, oy, ox) reads at pixel
 * p0 + j, j < TILE_PIX: src[(y + oy) w + x + ox] for the pixel (y, x), 0
 * outside the image and past the last pixel P. A tile inside one row and
 * away from the edges (most of them) is one copy. */
static inline void tap_values(const int16_t *src, int h, int w, size_t P, size_t p0, int oy, int ox,
                              int16_t v[TILE_PIX])
{
    int y = (int)(p0 / (size_t)w), x = (int)(p0 % (size_t)w);
    if (p0 + TILE_PIX <= P && x + TILE_PIX <= w && y + oy >= 0 && y + oy < h && x + ox >= 0 &&
        x + ox + TILE_PIX <= w) {
        memcpy(v, src + (size_t)(y + oy) * w + x + ox, TILE_PIX * sizeof *v);
        return;
    }
    for (int j = 0; j < TILE_PIX; j++) {
        const int iy = y + oy, ix = x + ox;
        v[j] = p0 + (size_t)j < P && iy >= 0 && iy < h && ix >= 0 && ix < w ? src[(size_t)iy * w + ix] : 0;
        if (++x == w) {
            x = 0;
            y++;
        }
    }
}

/* dst = a[0], b[0], a[1], b[1], ... (TILE_PIX pairs): SSE2's unpacks where
 * sse2 (nn/cpu.h's switch), else one value at a time */
static inline void interleave(const int16_t *a, const int16_t *b, int16_t *dst, int sse2)
{
#if defined(__SSE2__)
    if (sse2) {
        _Static_assert(TILE_PIX == 16, "two vectors of 8 a tile");
        const __m128i a0 = _mm_loadu_si128((const __m128i *)a), a1 = _mm_loadu_si128((const __m128i *)(a + 8));
        const __m128i b0 = _mm_loadu_si128((const __m128i *)b), b1 = _mm_loadu_si128((const __m128i *)(b + 8));
        _mm_storeu_si128((__m128i *)dst, _mm_unpacklo_epi16(a0, b0));
        _mm_storeu_si128((__m128i *)(dst + 8), _mm_unpackhi_epi16(a0, b0));
        _mm_storeu_si128((__m128i *)(dst + 16), _mm_unpacklo_epi16(a1, b1));
        _mm_storeu_si128((__m128i *)(dst + 24), _mm_unpackhi_epi16(a1, b1));
        return;
    }
#endif
    (void)sse2;
    for (int j = 0; j < TILE_PIX; j++) {
        dst[2 * j] = a[j];
        dst[2 * j + 1] = b[j];
    }
}

/* Unrolls phase (py, px) of layer L on the input in [cin][h][w] into xp,
 * a pair of reduction rows at a time: each (tile, pair) is one block of
 * TILE_PIX interleaved pairs, 64 bytes, written whole. (Row by row, with
 * a bounds check per value, unrolling would take a large share of the
 * h_s's time.) */
static void unroll(const aec_hs_int_layer *L, int py, int px, const int16_t *in, int h, int w,
                   int16_t *xp, size_t ppad)
{
    int kyi[8], dy[8], kxi[8], dx[8];
    int ny = axis_taps(L->k, L->stride, py, kyi, dy);
    int nx = axis_taps(L->k, L->stride, px, kxi, dx);
    const int K = L->cin * ny * nx, kp_count = (K + 1) / 2, taps = ny * nx;
    const size_t hw = (size_t)h * w, tiles = ppad / TILE_PIX;
    const int sse2 = nn_cpu_has(NN_CPU_SSE2);
#pragma omp parallel for schedule(static) if ((size_t)kp_count * 2 * ppad > 65536)
    for (int kp = 0; kp < kp_count; kp++) {
        const int k0 = 2 * kp, k1 = k0 + 1, t0 = k0 % taps, t1 = k1 % taps;
        const int16_t *src0 = in + (size_t)(k0 / taps) * hw, *src1 = in + (size_t)(k1 / taps) * hw;
        for (size_t t = 0; t < tiles; t++) {
            int16_t a[TILE_PIX], b[TILE_PIX];
            tap_values(src0, h, w, hw, t * TILE_PIX, dy[t0 / nx], dx[t0 % nx], a);
            if (k1 < K) tap_values(src1, h, w, hw, t * TILE_PIX, dy[t1 / nx], dx[t1 % nx], b);
            else memset(b, 0, sizeof b);
            interleave(a, b, xp + (t * (size_t)kp_count + (size_t)kp) * TILE_PIX * 2, sse2);
        }
    }
}

void aec_int_layer_run(const aec_hs_int_layer *L, const int16_t *in, int h, int w, int16_t *xp,
                       int16_t *out_act, int lrelu, int32_t *out_lo, int32_t *out_hi, int split)
{
    int width;
    kernel_fn kernel = pick_kernel(&width);
    const int s = L->stride, ow = w * s;
    const size_t P = (size_t)h * w, ppad = round_up(P, TILE_PIX);
    const size_t out_plane = P * s * s;
    const int nb = cout_blocks(L);
    const int tiles = (int)(ppad / TILE_PIX);
    for (int f = 0; f < layer_phases(L); f++) {
        const int py = f / s, px = f % s, kp_count = L->kpad[f] / 2;
        unroll(L, py, px, in, h, w, xp, ppad);
        const int16_t *pack = L->pack[f];
        /* one job: one tile of pixels, one group of channel blocks */
        const int groups = (nb + GROUP_BLOCKS - 1) / GROUP_BLOCKS;
#pragma omp parallel for schedule(static) if ((size_t)kp_count * ppad * L->cout > 1000000)
        for (int job = 0; job < tiles * groups; job++) {
            const int tile = job / groups, b0 = job % groups * GROUP_BLOCKS;
            const int b1 = b0 + GROUP_BLOCKS < nb ? b0 + GROUP_BLOCKS : nb;
            const int16_t *xt = xp + (size_t)tile * kp_count * TILE_PIX * 2;
            int64_t acc[GROUP_BLOCKS][CO_BLOCK][16];
            memset(acc, 0, sizeof acc);
            for (int k0 = 0; k0 < kp_count; k0 += K_BLOCK) {
                const int kn = kp_count - k0 < K_BLOCK ? kp_count - k0 : K_BLOCK;
                for (int b = b0; b < b1; b++) {
                    const int16_t *wp = pack + ((size_t)b * kp_count + (size_t)k0) * 2 * CO_BLOCK;
                    for (int j0 = 0; j0 < TILE_PIX; j0 += width)
                        kernel(wp, xt + ((size_t)k0 * TILE_PIX + (size_t)j0) * 2, TILE_PIX, kn,
                               (int64_t(*)[16])&acc[b - b0][0][j0]);
                }
            }
            for (int b = b0; b < b1; b++)
                for (int c = 0; c < CO_BLOCK; c++) {
                    const int co = b * CO_BLOCK + c;
                    if (co >= L->cout) break;
                    int16_t *dst16 = out_act ? out_act + (size_t)co * out_plane : NULL;
                    int32_t *dst32 = out_act ? NULL
                                   : co < split ? out_lo + (size_t)co * out_plane
                                                : out_hi + (size_t)(co - split) * out_plane;
                    for (int j = 0; j < TILE_PIX && (size_t)tile * TILE_PIX + (size_t)j < P; j++) {
                        const size_t p = (size_t)tile * TILE_PIX + (size_t)j;
                        const int y = (int)(p / (size_t)w), x = (int)(p % (size_t)w);
                        const size_t o = (size_t)(y * s + py) * ow + (size_t)(x * s + px);
                        const int64_t v = acc[b - b0][c][j] + L->b[co];
                        if (dst16)
                            dst16[o] = lrelu ? hidden_act(v, L->mult[co], L->shift[co])
                                             : aec_int_to_act(v, L->mult[co], L->shift[co]);
                        else
                            dst32[o] = output_val(v, L->mult[co], L->shift[co]);
                    }
                }
        }
    }
}

int aec_hs_int_run(const aec_hs_int *q, const int32_t *z_hat, int h, int w,
                   const int32_t *hinv_q, int32_t *scale_q, int32_t *mu_q, void *scratch,
                   size_t scratch_bytes)
{
    size_t need = aec_hs_int_scratch_bytes(q, h, w);
    if (!need || !scratch || scratch_bytes < need) return -1;
    for (int c = 0; c < q->n; c++)
        if (hinv_q[c] < -AEC_HS_HINV_MAX || hinv_q[c] > AEC_HS_HINV_MAX) return -1;
    const size_t hw = (size_t)h * w;
    uint8_t *base = (uint8_t *)round_up((size_t)(uintptr_t)scratch, 64);
    int16_t *a0 = (int16_t *)base;
    base += round_up((size_t)q->n * hw * 2, 64);
    int16_t *a1 = (int16_t *)base;
    base += round_up((size_t)q->m * hw * 4 * 2, 64);
    int16_t *a2 = (int16_t *)base;
    base += round_up((size_t)q->m * 3 / 2 * hw * 16 * 2, 64);
    int16_t *xp = (int16_t *)base;

    for (int c = 0; c < q->n; c++)
        for (size_t i = 0; i < hw; i++) {
            int64_t z = clamp64(z_hat[(size_t)c * hw + i], -AEC_HS_Z_MAX, AEC_HS_Z_MAX);
            a0[(size_t)c * hw + i] = aec_int_to_act(z * hinv_q[c], q->in_mult, q->in_shift);
        }
    aec_int_layer_run(&q->layer[0], a0, h, w, xp, a1, 1, NULL, NULL, 0);
    aec_int_layer_run(&q->layer[1], a1, 2 * h, 2 * w, xp, a2, 1, NULL, NULL, 0);
    /* output channels [0, M) are the scales, [M, 2M) the means */
    aec_int_layer_run(&q->layer[2], a2, 4 * h, 4 * w, xp, NULL, 0, scale_q, mu_q, q->m);
    return 0;
}

/* ---- byte form ----------------------------------------------------------- */

#define HS_MAGIC "AEHS"
#define HS_VERSION 2   /* 2: weights stored as i8 (1 had i16) */
#define HS_HEADER 28   /* magic, version, n, m, levels, out_frac, hinv_frac */

static size_t blob_size(int n, int m, int levels)
{
    const int cin[3] = {n, m, m * 3 / 2}, cout[3] = {m, m * 3 / 2, 2 * m}, k[3] = {5, 5, 3};
    size_t size = HS_HEADER + (size_t)levels * n * 4 + 8;
    for (int i = 0; i < 3; i++) size += aec_int_layer_bytes(cin[i], cout[i], k[i]);
    return size + 4;
}

typedef struct {
    uint8_t *p;
} writer;

static void put32(writer *w, uint32_t v)
{
    aec_put_le32(w->p, v);
    w->p += 4;
}

int aec_hs_int_serialize(const aec_hs_int *q, uint8_t **buf, size_t *len)
{
    size_t size = blob_size(q->n, q->m, q->levels);
    uint8_t *out = malloc(size);
    if (!out) return -1;
    writer w = {out};
    memcpy(w.p, HS_MAGIC, 4); w.p += 4;
    put32(&w, HS_VERSION);
    put32(&w, (uint32_t)q->n); put32(&w, (uint32_t)q->m); put32(&w, (uint32_t)q->levels);
    put32(&w, AEC_HS_OUT_FRAC); put32(&w, AEC_HS_HINV_FRAC);
    for (size_t i = 0; i < (size_t)q->levels * q->n; i++) put32(&w, (uint32_t)q->hinv_q[i]);
    put32(&w, (uint32_t)q->in_mult); put32(&w, (uint32_t)q->in_shift);
    for (int l = 0; l < 3; l++) w.p = aec_int_layer_write(&q->layer[l], w.p);
    put32(&w, aec_crc32(out, size - 4));
    *buf = out;
    *len = size;
    return 0;
}

/* two's complement u32 -> int32 without an implementation-defined conversion */
int32_t aec_int_i32(uint32_t v)
{
    return v < 0x80000000u ? (int32_t)v : (int32_t)(v - 0x80000000u) - 0x7fffffff - 1;
}

size_t aec_int_layer_bytes(int cin, int cout, int k)
{
    return 16 + (size_t)cin * cout * k * k + (size_t)cout * 9;
}

uint8_t *aec_int_layer_write(const aec_hs_int_layer *L, uint8_t *p)
{
    writer w = {p};
    put32(&w, (uint32_t)L->cin); put32(&w, (uint32_t)L->cout);
    put32(&w, (uint32_t)L->k); put32(&w, (uint32_t)L->stride);
    size_t nw = layer_wcount(L);
    for (size_t i = 0; i < nw; i++) *w.p++ = (uint8_t)(L->w[i] & 0xff); /* |w| <= 127 */
    for (int c = 0; c < L->cout; c++) put32(&w, (uint32_t)L->b[c]);
    for (int c = 0; c < L->cout; c++) put32(&w, (uint32_t)L->mult[c]);
    for (int c = 0; c < L->cout; c++) *w.p++ = L->shift[c];
    return w.p;
}

const uint8_t *aec_int_layer_read(aec_hs_int_layer *L, const uint8_t *p)
{
    if (aec_get_le32(p) != (uint32_t)L->cin || aec_get_le32(p + 4) != (uint32_t)L->cout ||
        aec_get_le32(p + 8) != (uint32_t)L->k || aec_get_le32(p + 12) != (uint32_t)L->stride)
        return NULL;
    p += 16;
    size_t nw = layer_wcount(L);
    /* blocks of 16 through restrict pointers: GCC's -O2 vectorises those */
    int16_t *restrict dst = L->w;
    const uint8_t *restrict src = p;
    size_t i = 0;
    for (; i + 16 <= nw; i += 16)
        for (int u = 0; u < 16; u++) dst[i + u] = (int8_t)src[i + u];
    for (; i < nw; i++) dst[i] = (int8_t)src[i];
    p += nw;
    for (int c = 0; c < L->cout; c++, p += 4) L->b[c] = aec_int_i32(aec_get_le32(p));
    for (int c = 0; c < L->cout; c++, p += 4) L->mult[c] = aec_int_i32(aec_get_le32(p));
    for (int c = 0; c < L->cout; c++) L->shift[c] = *p++;
    return p;
}

int aec_hs_int_deserialize(aec_hs_int *q, const uint8_t *buf, size_t len, char *err,
                           size_t errlen)
{
    memset(q, 0, sizeof *q);
    if (len < 4 || memcmp(buf, HS_MAGIC, 4) != 0) {
        aec_int_error(err, errlen, "integer h_s: bad magic");
        return -1;
    }
    if (len < HS_HEADER + 4) {
        aec_int_error(err, errlen, "integer h_s: truncated");
        return -1;
    }
    if (aec_get_le32(buf + 4) != HS_VERSION) {
        aec_int_error(err, errlen, "integer h_s: unsupported version %u", aec_get_le32(buf + 4));
        return -1;
    }
    uint32_t n = aec_get_le32(buf + 8), m = aec_get_le32(buf + 12), levels = aec_get_le32(buf + 16);
    if (n > AEC_HS_MAX_CH || m > AEC_HS_MAX_CH || levels > AEC_MAX_LEVELS ||
        !dims_ok((int)n, (int)m, (int)levels)) {
        aec_int_error(err, errlen, "integer h_s: bad dimensions");
        return -1;
    }
    if (aec_get_le32(buf + 20) != AEC_HS_OUT_FRAC || aec_get_le32(buf + 24) != AEC_HS_HINV_FRAC) {
        aec_int_error(err, errlen, "integer h_s: unsupported fixed-point format");
        return -1;
    }
    size_t size = blob_size((int)n, (int)m, (int)levels);
    if (len != size) {
        aec_int_error(err, errlen, len < size ? "integer h_s: truncated" : "integer h_s: size mismatch");
        return -1;
    }
    if (aec_get_le32(buf + size - 4) != aec_crc32(buf, size - 4)) {
        aec_int_error(err, errlen, "integer h_s: CRC mismatch");
        return -1;
    }
    if (aec_hs_int_create(q, (int)n, (int)m, (int)levels)) {
        aec_int_error(err, errlen, "integer h_s: out of memory");
        return -1;
    }
    const uint8_t *p = buf + HS_HEADER;
    for (size_t i = 0; i < (size_t)levels * n; i++, p += 4) q->hinv_q[i] = aec_int_i32(aec_get_le32(p));
    q->in_mult = aec_int_i32(aec_get_le32(p)); p += 4;
    q->in_shift = aec_int_i32(aec_get_le32(p)); p += 4;
    for (int l = 0; l < 3; l++) {
        if (!(p = aec_int_layer_read(&q->layer[l], p))) {
            aec_int_error(err, errlen, "integer h_s: layer %d: unexpected shape", l);
            aec_hs_int_free(q);
            return -1;
        }
    }
    char why[160];
    if (aec_hs_int_finish(q, why, sizeof why)) {
        aec_int_error(err, errlen, "integer h_s: %s", why);
        aec_hs_int_free(q);
        return -1;
    }
    return 0;
}
