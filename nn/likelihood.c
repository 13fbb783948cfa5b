/* nn/likelihood.c - bits of a quantised latent under the factorized density
 * (hyper-latent z) and under a Gaussian with predicted mean and scale
 * (latent y). The maths is in likelihood.h; this file is the forward and
 * backward passes side by side.
 *
 * Both run in float per element (the sums of bits in double) and recompute
 * the forward in the backward pass instead of caching activations, so the
 * two calls need no state and no allocation. Sums go through fixed chunks
 * summed in order, so the bit count does not depend on the thread count. */
#include "nn/likelihood.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>

#include "nn/rng.h"

#define LN2 0.69314718055994530942
#define SQRT1_2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

/* Parallel sums: at most SUM_CHUNKS partial sums, each over a contiguous
 * range, added up in order afterwards. */
#define SUM_CHUNKS 256

/* -log2 of a likelihood after the floor. Written as a comparison rather than
 * fmaxf so that a NaN likelihood stays NaN instead of becoming the floor. */
static inline float floored_bits(float p)
{
    return -log2f(p < NN_LIKELIHOOD_MIN ? NN_LIKELIHOOD_MIN : p);
}

/* ======================================================================
 * Factorized density
 * ====================================================================== */

#define FACT_LAYERS 4
#define FACT_MAXW 3
static const int fact_width[FACT_LAYERS + 1] = {1, 3, 3, 3, 1};

int nn_factorized_declare(nn_factorized *l, nn_params *p, const char *name, int channels)
{
    char full[NN_PARAM_NAME_MAX];
    l->c = channels;
    for (int k = 0; k < FACT_LAYERS; k++) {
        int fin = fact_width[k], fout = fact_width[k + 1];
        int len = snprintf(full, sizeof full, "%s.matrix%d", name, k);
        if (len < 0 || len >= (int)sizeof full) return -1;
        l->matrix[k] = nn_params_declare(p, full, channels, fout, fin, 1);
        if (l->matrix[k] == (size_t)-1) return -1;

        len = snprintf(full, sizeof full, "%s.bias%d", name, k);
        if (len < 0 || len >= (int)sizeof full) return -1;
        l->bias[k] = nn_params_declare(p, full, channels, fout, 1, 1);
        if (l->bias[k] == (size_t)-1) return -1;

        if (k < FACT_LAYERS - 1) {
            len = snprintf(full, sizeof full, "%s.factor%d", name, k);
            if (len < 0 || len >= (int)sizeof full) return -1;
            l->factor[k] = nn_params_declare(p, full, channels, fout, 1, 1);
            if (l->factor[k] == (size_t)-1) return -1;
        }
    }
    return 0;
}

void nn_factorized_init(const nn_factorized *l, nn_params *p, float init_scale, unsigned seed)
{
    /* Spread init_scale evenly over the four layers (CompressAI's
     * EntropyBottleneck), so the initial density is roughly uniform over
     * [-init_scale/2, init_scale/2]: softplus(H) = 1 / (scale * f_out)
     * makes every layer average its inputs and shrink them by `scale`. */
    double scale = pow((double)init_scale, 1.0 / FACT_LAYERS);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    for (int k = 0; k < FACT_LAYERS; k++) {
        int fin = fact_width[k], fout = fact_width[k + 1];
        float h = (float)log(expm1(1.0 / scale / fout));
        float *matrix = p->value + l->matrix[k];
        for (size_t i = 0; i < (size_t)l->c * fout * fin; i++) matrix[i] = h;
        float *bias = p->value + l->bias[k];
        for (size_t i = 0; i < (size_t)l->c * fout; i++) bias[i] = nn_rng_uniform(&rng) - 0.5f;
        if (k < FACT_LAYERS - 1) {
            float *factor = p->value + l->factor[k];
            for (size_t i = 0; i < (size_t)l->c * fout; i++) factor[i] = 0.0f;
        }
    }
}

/* softplus and its derivative (the sigmoid), stable for any h */
static inline float softplusf(float h) { return h > 20.0f ? h : log1pf(expf(h)); }
static inline float sigmoidf(float h) { return 1.0f / (1.0f + expf(-h)); }

/* tanh through one expf, faster than glibc's tanhf, and the gate
 * nonlinearity is most of the factorized density's cost. The error is
 * absolute (~1e-7, from 1 - e near v = 0), which is what matters here: the
 * result is added to v and to O(1) biases. */
static inline float fast_tanhf(float v)
{
    float e = expf(-2.0f * fabsf(v));
    float t = (1.0f - e) / (1.0f + e);
    return v < 0.0f ? -t : t;
}

/* One channel's parameters, transformed once: the network uses softplus(H)
 * (positive weights keep f monotonic) and tanh(a) (|gate| < 1 keeps every
 * gated layer monotonic too). */
typedef struct {
    float weight[FACT_LAYERS][FACT_MAXW][FACT_MAXW]; /* softplus(H_k) [out][in] */
    float bias[FACT_LAYERS][FACT_MAXW];
    float gate[FACT_LAYERS - 1][FACT_MAXW];          /* tanh(a_k) */
} fact_coeffs;

/* Gradients of one channel with respect to softplus(H), b and tanh(a); the
 * chain rule through softplus and tanh is applied once per channel at the end. */
typedef struct {
    double weight[FACT_LAYERS][FACT_MAXW][FACT_MAXW];
    double bias[FACT_LAYERS][FACT_MAXW];
    double gate[FACT_LAYERS - 1][FACT_MAXW];
} fact_grads;

static void fact_load(const nn_factorized *l, const nn_params *p, int c, fact_coeffs *cf)
{
    for (int k = 0; k < FACT_LAYERS; k++) {
        int fin = fact_width[k], fout = fact_width[k + 1];
        const float *matrix = p->value + l->matrix[k] + (size_t)c * fout * fin;
        const float *bias = p->value + l->bias[k] + (size_t)c * fout;
        for (int o = 0; o < fout; o++) {
            for (int m = 0; m < fin; m++) cf->weight[k][o][m] = softplusf(matrix[o * fin + m]);
            cf->bias[k][o] = bias[o];
            if (k < FACT_LAYERS - 1) cf->gate[k][o] = tanhf(p->value[l->factor[k] + (size_t)c * fout + o]);
        }
    }
}

/* Elements are processed in blocks; each element x is evaluated at two
 * points, x + .5 (first half of the block) and x - .5 (second half). The
 * network runs layer by layer over the whole block so the inner loops are
 * plain vectorisable loops over points. */
#define FACT_BLOCK 64
#define FACT_POINTS (2 * FACT_BLOCK)

typedef struct {
    float point[FACT_POINTS];
    float act[FACT_LAYERS - 1][FACT_MAXW][FACT_POINTS];  /* layer outputs, after the gate */
    float tanh_v[FACT_LAYERS - 1][FACT_MAXW][FACT_POINTS]; /* tanh of outputs before the gate */
    float logit[FACT_POINTS];
} fact_block;

static void fact_forward_block(const fact_coeffs *cf, fact_block *b, int np)
{
    for (int k = 0; k < FACT_LAYERS; k++) {
        int fin = fact_width[k], fout = fact_width[k + 1];
        for (int o = 0; o < fout; o++) {
            float *out = k < FACT_LAYERS - 1 ? b->act[k][o] : b->logit;
            float bias = cf->bias[k][o];
            for (int i = 0; i < np; i++) out[i] = bias;
            for (int m = 0; m < fin; m++) {
                const float *in = k == 0 ? b->point : b->act[k - 1][m];
                float w = cf->weight[k][o][m];
                for (int i = 0; i < np; i++) out[i] += w * in[i];
            }
            if (k < FACT_LAYERS - 1) {
                float gate = cf->gate[k][o];
                float *t = b->tanh_v[k][o];
                for (int i = 0; i < np; i++) {
                    t[i] = fast_tanhf(out[i]);
                    out[i] += gate * t[i];
                }
            }
        }
    }
}

/* dlogit[i] = d loss / d logit at point i (consumed); dpoint[i] receives
 * d loss / d point; parameter gradients are added to g. */
static void fact_backward_block(const fact_coeffs *cf, const fact_block *b, int np,
                                const float *dlogit, float *dpoint, fact_grads *g)
{
    float buf_a[FACT_MAXW][FACT_POINTS], buf_b[FACT_MAXW][FACT_POINTS];
    float (*dout)[FACT_POINTS] = buf_a; /* d loss / d this layer's output */
    float (*din)[FACT_POINTS] = buf_b;  /* d loss / d this layer's input */
    for (int i = 0; i < np; i++) dout[0][i] = dlogit[i];

    for (int k = FACT_LAYERS - 1; k >= 0; k--) {
        int fin = fact_width[k], fout = fact_width[k + 1];
        if (k < FACT_LAYERS - 1) {
            /* gate: out = v + g tanh(v), so dv = dout (1 + g (1 - tanh^2 v)), dg = dout tanh v */
            for (int o = 0; o < fout; o++) {
                const float *t = b->tanh_v[k][o];
                float gate = cf->gate[k][o], dgate = 0.0f;
                for (int i = 0; i < np; i++) {
                    dgate += dout[o][i] * t[i];
                    dout[o][i] *= 1.0f + gate * (1.0f - t[i] * t[i]);
                }
                g->gate[k][o] += dgate;
            }
        }
        /* affine: v = W in + b */
        for (int o = 0; o < fout; o++) {
            float dbias = 0.0f;
            for (int i = 0; i < np; i++) dbias += dout[o][i];
            g->bias[k][o] += dbias;
            for (int m = 0; m < fin; m++) {
                const float *in = k == 0 ? b->point : b->act[k - 1][m];
                float dw = 0.0f;
                for (int i = 0; i < np; i++) dw += dout[o][i] * in[i];
                g->weight[k][o][m] += dw;
            }
        }
        for (int m = 0; m < fin; m++) {
            float *d = k == 0 ? dpoint : din[m];
            for (int i = 0; i < np; i++) d[i] = 0.0f;
            for (int o = 0; o < fout; o++) {
                float w = cf->weight[k][o][m];
                for (int i = 0; i < np; i++) d[i] += w * dout[o][i];
            }
        }
        float (*swap)[FACT_POINTS] = dout;
        dout = din;
        din = swap;
    }
}

/* Bits of one element from its logits at x + .5 (upper) and x - .5 (lower),
 * and d bits / d logit for each (zero where the floor is active).
 *
 * The likelihood sigmoid(upper) - sigmoid(lower) is evaluated on the side of
 * the median where both sigmoids are small: with s = -1 above the median
 * (upper + lower > 0) it becomes sigmoid(-lower) - sigmoid(-upper), which
 * avoids 1 - 1 cancellation in the upper tail. Where upper + lower == 0
 * exactly (sign 0 in the paper's formula, which would give likelihood 0) we
 * take s = +1; both signs are exact there, the choice only matters for
 * rounding. Since f is increasing, the difference is positive either way;
 * the absolute value (and its sign in the gradient) only guards rounding. */
static inline float fact_element(float upper, float lower, float *dupper, float *dlower)
{
    float s = upper + lower > 0.0f ? -1.0f : 1.0f;
    float zu = s * upper, zl = s * lower;
    /* sigmoid and its derivative from one exp each: e = exp(-|z|),
     * sigmoid = 1/(1+e) or e/(1+e), derivative e/(1+e)^2, all accurate */
    float eu = expf(-fabsf(zu)), el = expf(-fabsf(zl));
    float ru = 1.0f / (1.0f + eu), rl = 1.0f / (1.0f + el);
    float cu = zu >= 0.0f ? ru : eu * ru;
    float cl = zl >= 0.0f ? rl : el * rl;
    float diff = cu - cl;
    float lik = fabsf(diff);
    if (lik < NN_LIKELIHOOD_MIN) {
        *dupper = *dlower = 0.0f;
        return -log2f(NN_LIKELIHOOD_MIN);
    }
    /* d bits / d lik = -1 / (lik ln 2); d lik / d upper = sign(diff) s sigmoid'(zu) */
    float dlik = (float)(-1.0 / LN2) / lik * (diff < 0.0f ? -s : s);
    *dupper = dlik * eu * ru * ru;
    *dlower = -dlik * el * rl * rl;
    return -log2f(lik);
}

/* Position in x of element e of channel c, counting over batch then space. */
static inline size_t fact_index(const nn_tensor *x, int c, size_t e)
{
    size_t hw = (size_t)x->h * x->w;
    return ((e / hw) * x->c + c) * hw + e % hw;
}

/* One channel's bits; when dx is not NULL also its backward, writing
 * dx (scaled by dbits) and adding parameter gradients to g. */
static double fact_channel(const fact_coeffs *cf, const nn_tensor *x, int c,
                           float dbits, nn_tensor *dx, fact_grads *g)
{
    fact_block b;
    float dlogit[FACT_POINTS], dpoint[FACT_POINTS];
    size_t count = (size_t)x->n * x->h * x->w;
    double bits = 0.0;
    for (size_t e0 = 0; e0 < count; e0 += FACT_BLOCK) {
        int ne = count - e0 < FACT_BLOCK ? (int)(count - e0) : FACT_BLOCK;
        for (int i = 0; i < ne; i++) {
            float v = x->data[fact_index(x, c, e0 + i)];
            b.point[i] = v + 0.5f;
            b.point[ne + i] = v - 0.5f;
        }
        fact_forward_block(cf, &b, 2 * ne);
        for (int i = 0; i < ne; i++) {
            float du, dl;
            bits += fact_element(b.logit[i], b.logit[ne + i], &du, &dl);
            dlogit[i] = dbits * du;
            dlogit[ne + i] = dbits * dl;
        }
        if (!dx && !g) continue;
        fact_backward_block(cf, &b, 2 * ne, dlogit, dpoint, g);
        if (dx)
            for (int i = 0; i < ne; i++) dx->data[fact_index(x, c, e0 + i)] = dpoint[i] + dpoint[ne + i];
    }
    return bits;
}

/* Adds one channel's gradients to p->grad, through softplus and tanh. */
static void fact_store_grads(const nn_factorized *l, nn_params *p, int c, const fact_coeffs *cf,
                             const fact_grads *g)
{
    for (int k = 0; k < FACT_LAYERS; k++) {
        int fin = fact_width[k], fout = fact_width[k + 1];
        const float *matrix = p->value + l->matrix[k] + (size_t)c * fout * fin;
        float *dmatrix = p->grad + l->matrix[k] + (size_t)c * fout * fin;
        float *dbias = p->grad + l->bias[k] + (size_t)c * fout;
        for (int o = 0; o < fout; o++) {
            for (int m = 0; m < fin; m++) /* d softplus(h) / dh = sigmoid(h) */
                dmatrix[o * fin + m] += (float)g->weight[k][o][m] * sigmoidf(matrix[o * fin + m]);
            dbias[o] += (float)g->bias[k][o];
            if (k < FACT_LAYERS - 1) { /* d tanh(a) / da = 1 - tanh^2(a) */
                float t = cf->gate[k][o];
                p->grad[l->factor[k] + (size_t)c * fout + o] += (float)g->gate[k][o] * (1.0f - t * t);
            }
        }
    }
}

double nn_factorized_bits(const nn_factorized *l, const nn_params *p, const nn_tensor *x)
{
    assert(x->c == l->c);
    double partial[SUM_CHUNKS];
    int per = (l->c + SUM_CHUNKS - 1) / SUM_CHUNKS; /* channels per partial sum */
    int chunks = (l->c + per - 1) / per;
    #pragma omp parallel for schedule(static) if (chunks > 1)
    for (int ch = 0; ch < chunks; ch++) {
        double sum = 0.0;
        for (int c = ch * per; c < l->c && c < (ch + 1) * per; c++) {
            fact_coeffs cf;
            fact_load(l, p, c, &cf);
            sum += fact_channel(&cf, x, c, 0.0f, NULL, NULL);
        }
        partial[ch] = sum;
    }
    double total = 0.0;
    for (int ch = 0; ch < chunks; ch++) total += partial[ch];
    return total;
}

/* Same channel groups and summation order as nn_factorized_bits, so the
 * returned bit count is bit-for-bit the forward's. Channels own disjoint
 * parameter slices, so threads never share a gradient. */
double nn_factorized_bits_backward(const nn_factorized *l, nn_params *p, const nn_tensor *x,
                                   float dbits, nn_tensor *dx)
{
    assert(x->c == l->c);
    assert(!dx || nn_tensor_numel(dx) == nn_tensor_numel(x));
    double partial[SUM_CHUNKS];
    int per = (l->c + SUM_CHUNKS - 1) / SUM_CHUNKS;
    int chunks = (l->c + per - 1) / per;
    #pragma omp parallel for schedule(static) if (chunks > 1)
    for (int ch = 0; ch < chunks; ch++) {
        double sum = 0.0;
        for (int c = ch * per; c < l->c && c < (ch + 1) * per; c++) {
            fact_coeffs cf;
            fact_grads g = {0};
            fact_load(l, p, c, &cf);
            sum += fact_channel(&cf, x, c, dbits, dx, &g);
            if (p->grad) fact_store_grads(l, p, c, &cf, &g);
        }
        partial[ch] = sum;
    }
    double total = 0.0;
    for (int ch = 0; ch < chunks; ch++) total += partial[ch];
    return total;
}

double nn_factorized_logit(const nn_factorized *l, const nn_params *p, int channel, double v)
{
    double act[FACT_MAXW] = {v}, next[FACT_MAXW];
    for (int k = 0; k < FACT_LAYERS; k++) {
        int fin = fact_width[k], fout = fact_width[k + 1];
        const float *matrix = p->value + l->matrix[k] + (size_t)channel * fout * fin;
        const float *bias = p->value + l->bias[k] + (size_t)channel * fout;
        for (int o = 0; o < fout; o++) {
            double sum = bias[o];
            for (int m = 0; m < fin; m++) {
                double h = matrix[o * fin + m];
                sum += (h > 30.0 ? h : log1p(exp(h))) * act[m];
            }
            if (k < FACT_LAYERS - 1)
                sum += tanh((double)p->value[l->factor[k] + (size_t)channel * fout + o]) * tanh(sum);
            next[o] = sum;
        }
        for (int o = 0; o < fout; o++) act[o] = next[o];
    }
    return act[0];
}

/* ======================================================================
 * Gaussian conditional
 * ====================================================================== */

/* The bin [x - .5, x + .5] is mirrored onto the side of mu where it lies
 * below mu (d = |x - mu| >= 0), so both CDF values are lower-tail values
 * that erfc gives with full relative accuracy:
 *   Phi((.5 - d) / s) = .5 erfc((d - .5) / (s sqrt 2)),
 *   Phi((-.5 - d) / s) = .5 erfc((d + .5) / (s sqrt 2)). */
static inline float gauss_likelihood(float x, float mu, float scale)
{
    float s = scale < NN_SCALE_MIN ? NN_SCALE_MIN : scale;
    float d = fabsf(x - mu);
    float k = SQRT1_2 / s;
    return 0.5f * (erfcf((d - 0.5f) * k) - erfcf((d + 0.5f) * k));
}

static inline size_t sum_chunk_len(size_t n)
{
    size_t len = (n + SUM_CHUNKS - 1) / SUM_CHUNKS;
    return len < 2048 ? 2048 : len; /* small inputs: one or few chunks, little threading */
}

double nn_gaussian_bits(const nn_tensor *x, const nn_tensor *mu, const nn_tensor *scale)
{
    size_t n = nn_tensor_numel(x);
    assert(nn_tensor_numel(mu) == n && nn_tensor_numel(scale) == n);
    const float *xd = x->data, *md = mu->data, *sd = scale->data;
    size_t len = sum_chunk_len(n);
    int chunks = (int)((n + len - 1) / len);
    double partial[SUM_CHUNKS];
    #pragma omp parallel for schedule(static) if (chunks > 1)
    for (int ch = 0; ch < chunks; ch++) {
        size_t end = (size_t)(ch + 1) * len < n ? (size_t)(ch + 1) * len : n;
        double sum = 0.0;
        for (size_t i = (size_t)ch * len; i < end; i++)
            sum += floored_bits(gauss_likelihood(xd[i], md[i], sd[i]));
        partial[ch] = sum;
    }
    double total = 0.0;
    for (int ch = 0; ch < chunks; ch++) total += partial[ch];
    return total;
}

/* Recomputes the forward per element (the same float operations in the same
 * order, so the returned bit count equals nn_gaussian_bits exactly). */
double nn_gaussian_bits_backward(const nn_tensor *x, const nn_tensor *mu, const nn_tensor *scale,
                                 float dbits, nn_tensor *dx, nn_tensor *dmu, nn_tensor *dscale)
{
    size_t n = nn_tensor_numel(x);
    assert(nn_tensor_numel(mu) == n && nn_tensor_numel(scale) == n);
    assert(!dx || nn_tensor_numel(dx) == n);
    assert(!dmu || nn_tensor_numel(dmu) == n);
    assert(!dscale || nn_tensor_numel(dscale) == n);
    const float *xd = x->data, *md = mu->data, *sd = scale->data;
    float *dxd = dx ? dx->data : NULL, *dmd = dmu ? dmu->data : NULL;
    float *dsd = dscale ? dscale->data : NULL;
    size_t len = sum_chunk_len(n);
    int chunks = (int)((n + len - 1) / len);
    double partial[SUM_CHUNKS];
    #pragma omp parallel for schedule(static) if (chunks > 1)
    for (int ch = 0; ch < chunks; ch++) {
        size_t end = (size_t)(ch + 1) * len < n ? (size_t)(ch + 1) * len : n;
        double sum = 0.0;
        for (size_t i = (size_t)ch * len; i < end; i++) {
            float lik = gauss_likelihood(xd[i], md[i], sd[i]);
            sum += floored_bits(lik);
            float s = sd[i] < NN_SCALE_MIN ? NN_SCALE_MIN : sd[i];
            float diff = xd[i] - md[i];
            float d = fabsf(diff);
            float dd = 0.0f, ds = 0.0f;
            if (!(lik < NN_LIKELIHOOD_MIN)) { /* floored elements get no gradient; NaN passes */
                /* lik = Phi(u) - Phi(l), u = (.5 - d)/s, l = (-.5 - d)/s:
                 * dlik/dd = (phi(l) - phi(u)) / s, dlik/ds = (l phi(l) - u phi(u)) / s */
                float inv_s = 1.0f / s;
                float u = (0.5f - d) * inv_s, l = (-0.5f - d) * inv_s;
                float phi_u = INV_SQRT_2PI * expf(-0.5f * u * u);
                float phi_l = INV_SQRT_2PI * expf(-0.5f * l * l);
                float dlik = dbits * (float)(-1.0 / LN2) / lik;
                dd = dlik * (phi_l - phi_u) * inv_s;
                ds = dlik * (l * phi_l - u * phi_u) * inv_s;
            }
            /* d = |x - mu|; at x == mu the likelihood is even in x - mu, so 0 is exact */
            float sign = diff > 0.0f ? 1.0f : diff < 0.0f ? -1.0f : 0.0f;
            if (dxd) dxd[i] = dd * sign;
            if (dmd) dmd[i] = -dd * sign;
            /* lower bound on the scale: below it the gradient still passes
             * when descending would raise the scale (ds < 0), so a scale
             * stuck under the bound can recover (CompressAI's LowerBound) */
            if (dsd) dsd[i] = sd[i] >= NN_SCALE_MIN || ds < 0.0f ? ds : 0.0f;
        }
        partial[ch] = sum;
    }
    double total = 0.0;
    for (int ch = 0; ch < chunks; ch++) total += partial[ch];
    return total;
}
