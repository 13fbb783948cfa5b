#include "nn/gdn.h"

#include "nn/blas.h"
#include "nn/gemm.h"
#include "nn/vector_copies.h"
#include <limits.h>
#include <omp.h>
#include <math.h>
#include <stdio.h>

/* The reparametrisation (see gdn.h). The pedestal keeps the square root's
 * derivative finite at zero; beta_min keeps the denominator away from 0. */
#define GDN_PEDESTAL 1.4551915228366852e-11f /* 2^-36 */
#define GDN_BETA_MIN 1e-6f

/* Element-wise passes are memory bound: below this many elements one thread
 * does them faster than waking the OpenMP team. */
#define GDN_PARALLEL_MIN 32768

static float beta_bound(void) { return sqrtf(GDN_BETA_MIN + GDN_PEDESTAL); }
static float gamma_bound(void) { return sqrtf(GDN_PEDESTAL); }

/* value = max(stored, bound)^2 - pedestal */
static float bounded_square(float stored, float bound)
{
    float b = stored > bound ? stored : bound;
    return b * b - GDN_PEDESTAL;
}

/* d loss / d stored, given d loss / d value. Below the bound the true
 * derivative is 0, which would leave a parameter stuck there forever; as in
 * tensorflow-compression's lower_bound, the gradient still passes when it
 * would move the parameter up (a negative gradient under descent). */
static float bounded_square_grad(float stored, float bound, float dvalue)
{
    if (stored >= bound) return dvalue * 2.0f * stored;
    if (dvalue < 0.0f) return dvalue * 2.0f * bound;
    return 0.0f;
}

int nn_gdn_declare(nn_gdn *l, nn_params *p, const char *name, int c, int inverse)
{
    char beta_name[NN_PARAM_NAME_MAX], gamma_name[NN_PARAM_NAME_MAX];
    int nb = snprintf(beta_name, sizeof beta_name, "%s.beta", name);
    int ng = snprintf(gamma_name, sizeof gamma_name, "%s.gamma", name);
    if (c < 1 || nb < 0 || ng < 0 || nb >= (int)sizeof beta_name || ng >= (int)sizeof gamma_name)
        return -1;
    l->c = c;
    l->inverse = inverse;
    l->beta = nn_params_declare(p, beta_name, c, 1, 1, 1);
    l->gamma = nn_params_declare(p, gamma_name, c, c, 1, 1);
    return l->beta == (size_t)-1 || l->gamma == (size_t)-1 ? -1 : 0;
}

void nn_gdn_init(const nn_gdn *l, nn_params *p)
{
    /* stored = sqrt(value + pedestal) inverts value = stored^2 - pedestal */
    float *beta = p->value + l->beta, *gamma = p->value + l->gamma;
    float one = sqrtf(1.0f + GDN_PEDESTAL), diag = sqrtf(0.1f + GDN_PEDESTAL);
    for (int i = 0; i < l->c; i++) {
        beta[i] = one;
        for (int j = 0; j < l->c; j++) gamma[i * l->c + j] = i == j ? diag : gamma_bound();
    }
}

void nn_gdn_effective(const nn_gdn *l, const nn_params *p, float *beta, float *gamma)
{
    const float *stored_beta = p->value + l->beta, *stored_gamma = p->value + l->gamma;
    float bb = beta_bound(), gb = gamma_bound();
    for (int i = 0; i < l->c; i++) beta[i] = bounded_square(stored_beta[i], bb);
    for (int k = 0; k < l->c * l->c; k++) gamma[k] = bounded_square(stored_gamma[k], gb);
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* The parts of the workspace both passes use. The batch is laid out as one
 * C x (N*H*W) matrix ("cols": column n*HW + i is pixel i of image n), so the
 * sum over j is a single sgemm however small each image is. */
typedef struct {
    int batch, c;
    size_t plane, cols;          /* H*W, N*H*W */
    float *gamma, *beta;         /* effective values, [C][C] and [C] */
    float *dgamma, *dbeta;       /* their gradients (backward only) */
    float *sq;                   /* x^2, [C][cols] */
    float *denom;                /* sum_j gamma_ij x_j^2 (+ beta_i later), [C][cols] */
} gdn_frame;

/* Checks shapes, carves the workspace (extra: further [C][cols] matrices
 * wanted after denom, the first returned in *more), fills gamma, beta and
 * sq, and computes denom = gamma . sq. */
static int gdn_prepare(const nn_gdn *l, const nn_params *p, const nn_tensor *x,
                       nn_workspace *ws, int extra, float **more, gdn_frame *f)
{
    if (x->c != l->c) return -1;
    f->batch = x->n;
    f->c = x->c;
    f->plane = (size_t)x->h * (size_t)x->w;
    f->cols = (size_t)x->n * f->plane;
    if (f->cols == 0) return 0;
    if (f->cols > (size_t)INT_MAX) return -1; /* BLAS dimensions are int */
    size_t C = (size_t)f->c, mat = round16(C * f->cols);
    size_t small = round16(C * C) + round16(C);
    float *w = nn_workspace_get(ws, 2 * small + (2 + (size_t)extra) * mat);
    if (!w) return -1;
    f->gamma = w;
    f->beta = f->gamma + round16(C * C);
    f->dgamma = w + small;
    f->dbeta = f->dgamma + round16(C * C);
    f->sq = w + 2 * small;
    f->denom = f->sq + mat;
    if (more) *more = f->denom + mat;
    nn_gdn_effective(l, p, f->beta, f->gamma);

    const float *xd = x->data;
    float *sq = f->sq;
    size_t plane = f->plane, cols = f->cols;
    int batch = f->batch, channels = f->c;
    #pragma omp parallel for collapse(2) schedule(static) if (C * cols >= GDN_PARALLEL_MIN)
    for (int c = 0; c < channels; c++)
        for (int n = 0; n < batch; n++) {
            const float *xp = xd + ((size_t)n * channels + c) * plane;
            float *sp = sq + (size_t)c * cols + (size_t)n * plane;
            #pragma omp simd
            for (size_t i = 0; i < plane; i++) sp[i] = xp[i] * xp[i];
        }
    /* denom[i][col] = sum_j gamma[i][j] sq[j][col] */
    nn_gemm(0, 0, f->c, (int)cols, f->c,
                1.0f, f->gamma, f->c, sq, (int)cols, 0.0f, f->denom, (int)cols);
    return 0;
}

/* y = x D^s over n values of one channel: D = d + b, s = +1/2 (IGDN) or
 * -1/2 (GDN); y may be x. `omp simd` because GCC's -O2 cost model leaves
 * these loops scalar (y may alias x or d, and checking costs too much for
 * it): sqrtss and divss one value at a time cost a visible share of a decode; an AVX2
 * copy (vector_copies.h) halves the vector work again. Vector square roots
 * and divisions round exactly as scalar ones, so the values are the same
 * bits. (Scalar too without -fno-math-errno: sqrtf's errno branch.) */
NN_VECTOR_BODY void gdn_scale_body(const float *x, const float *d, float b, size_t n, int inverse, float *y)
{
    if (inverse) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) y[i] = x[i] * sqrtf(d[i] + b);
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++) y[i] = x[i] / sqrtf(d[i] + b);
    }
}
NN_VECTOR_COPIES(gdn_scale,
                 (const float *x, const float *d, float b, size_t n, int inverse, float *y),
                 (x, d, b, n, inverse, y))

int nn_gdn_forward(const nn_gdn *l, const nn_params *p, const nn_tensor *x,
                   nn_tensor *y, nn_workspace *ws)
{
    gdn_frame f;
    if (gdn_prepare(l, p, x, ws, 0, NULL, &f) != 0) return -1;
    if (nn_tensor_resize(y, x->n, x->c, x->h, x->w) != 0) return -1;
    if (f.cols == 0) return 0;
    const float *xd = x->data, *denom = f.denom, *beta = f.beta;
    float *yd = y->data;
    size_t plane = f.plane, cols = f.cols;
    int batch = f.batch, channels = f.c, inverse = l->inverse;
    #pragma omp parallel for collapse(2) schedule(static) if ((size_t)channels * cols >= GDN_PARALLEL_MIN)
    for (int c = 0; c < channels; c++)
        for (int n = 0; n < batch; n++) {
            size_t at = ((size_t)n * channels + c) * plane;
            gdn_scale(xd + at, denom + (size_t)c * cols + (size_t)n * plane, beta[c], plane, inverse,
                      yd + at);
        }
    return 0;
}

/* With D_i = beta_i + sum_j gamma_ij x_j^2 and y_i = x_i D_i^s (s = -1/2 for
 * GDN, +1/2 for IGDN):
 *   E_i        = dy_i x_i s D_i^(s-1)          (d loss / d D_i)
 *   d beta_i   = sum over pixels of E_i
 *   d gamma_ij = sum over pixels of E_i x_j^2  (an sgemm: E . sq^T)
 *   dx_k       = dy_k D_k^s + 2 x_k sum_i gamma_ik E_i  (an sgemm: gamma^T . E)
 * then chained through the reparametrisation to the stored values. */
int nn_gdn_backward(const nn_gdn *l, nn_params *p, const nn_tensor *x,
                    const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws)
{
    if (dy->n != x->n || dy->c != x->c || dy->h != x->h || dy->w != x->w) return -1;
    gdn_frame f;
    float *err;
    if (gdn_prepare(l, p, x, ws, 1, &err, &f) != 0) return -1;
    if (nn_tensor_resize(dx, x->n, x->c, x->h, x->w) != 0) return -1;
    if (f.cols == 0) return 0;
    size_t C = (size_t)f.c;
    float *dgamma = f.dgamma, *dbeta = f.dbeta;

    const float *xd = x->data, *dyd = dy->data, *beta = f.beta;
    float *denom = f.denom; /* becomes D^s */
    size_t plane = f.plane, cols = f.cols;
    int batch = f.batch, channels = f.c, inverse = l->inverse;
    /* one thread per channel, so dbeta[c] is summed in a fixed order */
    #pragma omp parallel for schedule(static) if (C * cols >= GDN_PARALLEL_MIN)
    for (int c = 0; c < channels; c++) {
        double sum = 0.0;
        float b = beta[c];
        for (int n = 0; n < batch; n++) {
            size_t at = ((size_t)n * channels + c) * plane;
            size_t col = (size_t)c * cols + (size_t)n * plane;
            for (size_t i = 0; i < plane; i++) {
                float d = denom[col + i] + b;
                float root = sqrtf(d);
                float e, ds;
                if (inverse) { ds = root; e = 0.5f * dyd[at + i] * xd[at + i] / root; }
                else { ds = 1.0f / root; e = -0.5f * dyd[at + i] * xd[at + i] * ds / d; }
                denom[col + i] = ds;
                err[col + i] = e;
                sum += e;
            }
        }
        dbeta[c] = (float)sum;
    }
    /* dgamma[i][j] = sum_col err[i][col] sq[j][col] (not wanted without p->grad) */
    if (p->grad)
        nn_gemm(0, 1, f.c, f.c, (int)cols,
                    1.0f, err, (int)cols, f.sq, (int)cols, 0.0f, dgamma, f.c);
    /* back[k][col] = sum_i gamma[i][k] err[i][col], written over sq (done with it) */
    float *back = f.sq;
    nn_gemm(1, 0, f.c, (int)cols, f.c,
                1.0f, f.gamma, f.c, err, (int)cols, 0.0f, back, (int)cols);
    float *dxd = dx->data;
    #pragma omp parallel for collapse(2) schedule(static) if (C * cols >= GDN_PARALLEL_MIN)
    for (int c = 0; c < channels; c++)
        for (int n = 0; n < batch; n++) {
            size_t at = ((size_t)n * channels + c) * plane;
            size_t col = (size_t)c * cols + (size_t)n * plane;
            #pragma omp simd
            for (size_t i = 0; i < plane; i++)
                dxd[at + i] = dyd[at + i] * denom[col + i] + 2.0f * xd[at + i] * back[col + i];
        }

    if (!p->grad) return 0;
    const float *stored_beta = p->value + l->beta, *stored_gamma = p->value + l->gamma;
    float *grad_beta = p->grad + l->beta, *grad_gamma = p->grad + l->gamma;
    float bb = beta_bound(), gb = gamma_bound();
    for (size_t i = 0; i < C; i++) grad_beta[i] += bounded_square_grad(stored_beta[i], bb, dbeta[i]);
    for (size_t k = 0; k < C * C; k++) grad_gamma[k] += bounded_square_grad(stored_gamma[k], gb, dgamma[k]);
    return 0;
}

/* Pixels per block of nn_gdn_forward_inplace: a block's squares and
 * denominators (2 x 128 channels x 256 floats, 256 KB) stay in a core's
 * L2 between the three passes over it. */
#define GDN_BLOCK_PIXELS 256

int nn_gdn_forward_inplace(const nn_gdn *l, const nn_params *p, float *data, size_t pixels,
                           size_t ld, nn_workspace *ws)
{
    const size_t C = (size_t)l->c;
    if (pixels == 0) return 0;
    if (ld < pixels || C > (size_t)INT_MAX / GDN_BLOCK_PIXELS) return -1;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    const size_t per_thread = 2 * C * GDN_BLOCK_PIXELS;
    float *w = nn_workspace_get(ws, round16(C * C) + round16(C) + (size_t)threads * per_thread);
    if (!w) return -1;
    float *gamma = w, *beta = w + round16(C * C), *scratch = beta + round16(C);
    nn_gdn_effective(l, p, beta, gamma);
    /* gamma packed once for every block's product */
    nn_sgemm_apack packed;
    if (nn_sgemm_pack_a(&packed, 0, (int)C, (int)C, gamma, (int)C)) return -1;
    const long blocks = (long)((pixels + GDN_BLOCK_PIXELS - 1) / GDN_BLOCK_PIXELS);
    const int inverse = l->inverse;
    int failed = 0;
    #pragma omp parallel for schedule(static) num_threads(threads) reduction(| : failed) \
        if (threads > 1 && C * pixels >= GDN_PARALLEL_MIN)
    for (long b = 0; b < blocks; b++) {
        float *sq = scratch + (size_t)omp_get_thread_num() * per_thread, *den = sq + C * GDN_BLOCK_PIXELS;
        const size_t p0 = (size_t)b * GDN_BLOCK_PIXELS;
        const int np = (int)(pixels - p0 < GDN_BLOCK_PIXELS ? pixels - p0 : GDN_BLOCK_PIXELS);
        /* sq = x^2, written as the product reads it (nn_sgemm_b_at: no
         * copy into the GEMM's slivers), the spare columns zero */
        const nn_sgemm_blayout lay = nn_sgemm_b_layout(&packed, np);
        for (size_t c = 0; c < C; c++) {
            const float *x = data + c * ld + p0;
            for (int j0 = 0; j0 < np; j0 += lay.nr) {
                float *s = sq + nn_sgemm_b_at(&lay, (int)c, j0);
                const int n = np - j0 < lay.nr ? np - j0 : lay.nr;
                #pragma omp simd
                for (int i = 0; i < n; i++) s[i] = x[j0 + i] * x[j0 + i];
                for (int i = n; i < lay.nr; i++) s[i] = 0.0f;
            }
        }
        /* den[i][px] = sum_j gamma[i][j] sq[j][px], as nn_gdn_forward */
        failed |= nn_sgemm_packed_b(&packed, &lay, sq, den, np) != 0;
        for (size_t c = 0; c < C; c++)
            gdn_scale(data + c * ld + p0, den + c * (size_t)np, beta[c], (size_t)np, inverse,
                      data + c * ld + p0);
    }
    nn_sgemm_apack_free(&packed);
    return failed ? -1 : 0;
}
