/* Checks of nn/winograd_dw: the Winograd weight gradients of the 5x5
 * stride-2 transposed convolution and convolution against direct
 * double-precision references written here from the definition, against
 * the plain backward passes' gradients (nn_*_backward, dx NULL), and
 * against central finite differences of L = sum(y * dy); on odd sizes
 * (partial tiles), batches, channel counts that are not multiples of 16,
 * chunks forced small by the workspace cap, the training's layer shapes,
 * and one and two threads (the same bits). The gradients accumulate (+=);
 * layers the Winograd passes do not take give the plain passes' gradients
 * exactly. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "nn/cpu.h"
#include "nn/deconv_winograd.h"
#include "tests/check.h"

/* error / (sum of |terms| + 1) of the float gradients: F(4x4, 3x3) in
 * float, its transforms scaling terms by up to 15 x 15 before G^T . G
 * scales them back; the worst seen in these checks stays near 1e-6 */
#define REF_TOL 2e-5
/* central differences, as tests/test_conv2d.c: L is linear in each weight,
 * so only the forward pass's float rounding remains */
#define FD_TOL 2e-3

static void fill_uniform(float *v, size_t count, nn_rng *rng)
{
    for (size_t i = 0; i < count; i++) v[i] = 2.0f * nn_rng_uniform(rng) - 1.0f;
}

typedef struct {
    int deconv; /* 1: transposed convolution, 0: convolution */
    int n, cin, cout, h, w; /* x's shape */
    size_t cap;             /* the workspace's cap in bytes, 0: the default */
} shape;

/* One layer of either kind behind one interface. */
typedef struct {
    int deconv;
    nn_conv2d c;
    nn_deconv2d d;
    size_t w, b, wcount;
} layer;

static int layer_declare(layer *l, nn_params *p, const shape *s)
{
    l->deconv = s->deconv;
    l->wcount = (size_t)s->cin * s->cout * 25;
    int rc = s->deconv ? nn_deconv2d_declare(&l->d, p, "l", s->cin, s->cout, 5, 2)
                       : nn_conv2d_declare(&l->c, p, "l", s->cin, s->cout, 5, 2, NN_PAD_ZERO);
    l->w = s->deconv ? l->d.w : l->c.w;
    l->b = s->deconv ? l->d.b : l->c.b;
    return rc;
}

static int dw_winograd(const layer *l, nn_params *p, const nn_tensor *x, const nn_tensor *dy,
                       nn_workspace *ws)
{
    return l->deconv ? nn_deconv2d_backward_dw_winograd(&l->d, p, x, dy, ws)
                     : nn_conv2d_backward_dw_winograd(&l->c, p, x, dy, ws);
}

static int dw_plain(const layer *l, nn_params *p, const nn_tensor *x, const nn_tensor *dy,
                    nn_workspace *ws)
{
    return l->deconv ? nn_deconv2d_backward(&l->d, p, x, dy, NULL, ws)
                     : nn_conv2d_backward(&l->c, p, x, dy, NULL, ws);
}

static int forward(const layer *l, const nn_params *p, const nn_tensor *x, nn_tensor *y,
                   nn_workspace *ws)
{
    return l->deconv ? nn_deconv2d_forward(&l->d, p, x, y, ws) : nn_conv2d_forward(&l->c, p, x, y, ws);
}

/* dy's shape for x's */
static void out_shape(const shape *s, int *oh, int *ow)
{
    *oh = s->deconv ? 2 * s->h : (s->h + 1) / 2;
    *ow = s->deconv ? 2 * s->w : (s->w + 1) / 2;
}

/* The weight gradient at (i0, i1, ky, kx) from the definition, in double
 * (weights [i0][i1][5][5]: [cin][cout] transposed, [cout][cin] not): the sum
 * over the images and input pixels (iy, ix) of x dy at the output pixel
 * that tap reaches, the transposed convolution's output (2iy - 2 + ky, ...)
 * or the convolution's input (2oy - 2 + ky, ...). *mag: sum of |terms|. */
static double ref_dw(const shape *s, const float *x, const float *dy, int i0, int i1, int ky,
                     int kx, double *mag)
{
    int oh, ow;
    out_shape(s, &oh, &ow);
    double acc = 0.0, abs_sum = 0.0;
    for (int b = 0; b < s->n; b++) {
        const int ci = s->deconv ? i0 : i1, co = s->deconv ? i1 : i0;
        const float *xp = x + ((size_t)b * s->cin + ci) * s->h * s->w;
        const float *dp = dy + ((size_t)b * s->cout + co) * oh * ow;
        /* (py, px) runs over the smaller grid: x's (transposed) or dy's */
        const int gh = s->deconv ? s->h : oh, gw = s->deconv ? s->w : ow;
        for (int py = 0; py < gh; py++) {
            const int qy = 2 * py - 2 + ky;
            if (qy < 0 || qy >= (s->deconv ? oh : s->h)) continue;
            for (int px = 0; px < gw; px++) {
                const int qx = 2 * px - 2 + kx;
                if (qx < 0 || qx >= (s->deconv ? ow : s->w)) continue;
                const double t = s->deconv ? (double)xp[py * s->w + px] * dp[qy * ow + qx]
                                           : (double)dp[py * ow + px] * xp[qy * s->w + qx];
                acc += t;
                abs_sum += fabs(t);
            }
        }
    }
    *mag = abs_sum;
    return acc;
}

static const float GRAD_FILL = 0.5f; /* what the gradient holds before: it must accumulate */

/* gradient of the layer's weights and bias by f, added to GRAD_FILL, with
 * GRAD_FILL taken off again */
static int grads_by(int (*f)(const layer *, nn_params *, const nn_tensor *, const nn_tensor *,
                             nn_workspace *),
                    const layer *l, nn_params *p, const nn_tensor *x, const nn_tensor *dy,
                    nn_workspace *ws, int cout)
{
    float *gw = p->grad + l->w, *gb = p->grad + l->b;
    for (size_t i = 0; i < l->wcount; i++) gw[i] = GRAD_FILL;
    for (int i = 0; i < cout; i++) gb[i] = GRAD_FILL;
    int rc = f(l, p, x, dy, ws);
    for (size_t i = 0; i < l->wcount; i++) gw[i] -= GRAD_FILL;
    for (int i = 0; i < cout; i++) gb[i] -= GRAD_FILL;
    return rc;
}

static void describe(char *buf, size_t len, const shape *s)
{
    snprintf(buf, len, "%s n%d %d->%d %dx%d cap %zu", s->deconv ? "deconv" : "conv", s->n, s->cin,
             s->cout, s->h, s->w, s->cap);
}

/* The gradients against the double reference (every weight, or with
 * `plain_only` the plain pass's gradient alone: the training's big shapes),
 * the plain pass's, finite differences at a few weights, and one thread
 * against two. */
static void test_shape(const shape *s, int plain_only, uint64_t seed)
{
    char what[96];
    describe(what, sizeof what, s);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nn_params p;
    nn_params_init(&p);
    layer l;
    if (layer_declare(&l, &p, s) != 0 || nn_params_alloc(&p) != 0) abort();
    fill_uniform(p.value, p.count, &rng);
    int oh, ow;
    out_shape(s, &oh, &ow);
    nn_tensor x = {0}, dy = {0}, y = {0};
    nn_workspace ws = {.max_bytes = s->cap};
    if (nn_tensor_alloc(&x, s->n, s->cin, s->h, s->w) != 0 ||
        nn_tensor_alloc(&dy, s->n, s->cout, oh, ow) != 0)
        abort();
    fill_uniform(x.data, nn_tensor_numel(&x), &rng);
    fill_uniform(dy.data, nn_tensor_numel(&dy), &rng);
    const size_t wc = l.wcount;
    float *wino = malloc((wc + s->cout) * sizeof(float)), *plain = malloc((wc + s->cout) * sizeof(float));
    if (!wino || !plain) abort();

    CHECK(grads_by(dw_winograd, &l, &p, &x, &dy, &ws, s->cout) == 0, "%s: winograd", what);
    memcpy(wino, p.grad + l.w, wc * sizeof(float));
    memcpy(wino + wc, p.grad + l.b, (size_t)s->cout * sizeof(float));
    if (s->cap >= 2 << 20)
        CHECK(ws.cap * sizeof(float) <= s->cap, "%s: workspace of %zu bytes over the cap", what,
              ws.cap * sizeof(float));
    CHECK(grads_by(dw_plain, &l, &p, &x, &dy, &ws, s->cout) == 0, "%s: plain", what);
    memcpy(plain, p.grad + l.w, wc * sizeof(float));
    memcpy(plain + wc, p.grad + l.b, (size_t)s->cout * sizeof(float));

    /* against the plain pass, which rounds too: each weight's error
     * relative to sqrt(sum x_ci^2 sum dy_co^2), a bound on its sum of
     * |terms| (Cauchy-Schwarz) cheap enough for the big shapes */
    double *sx = calloc((size_t)s->cin, sizeof(double)), *sy = calloc((size_t)s->cout, sizeof(double));
    if (!sx || !sy) abort();
    for (int b = 0; b < s->n; b++)
        for (int ci = 0; ci < s->cin; ci++)
            for (int k = 0; k < s->h * s->w; k++) {
                const double v = x.data[((size_t)b * s->cin + ci) * s->h * s->w + k];
                sx[ci] += v * v;
            }
    for (int b = 0; b < s->n; b++)
        for (int co = 0; co < s->cout; co++)
            for (int k = 0; k < oh * ow; k++) {
                const double v = dy.data[((size_t)b * s->cout + co) * oh * ow + k];
                sy[co] += v * v;
            }
    double diff = 0.0;
    for (size_t i = 0; i < wc; i++) {
        const size_t pair = i / 25, d1 = (size_t)(s->deconv ? s->cout : s->cin);
        const size_t ci = s->deconv ? pair / d1 : pair % d1, co = s->deconv ? pair % d1 : pair / d1;
        const double e = fabs(wino[i] - plain[i]) / (sqrt(sx[ci] * sy[co]) + 1.0);
        if (!(e <= diff)) diff = e; /* NaN sticks */
    }
    free(sx);
    free(sy);
    CHECK(diff <= REF_TOL, "%s: dW differs from the plain pass's by %g", what, diff);
    double bdiff = 0.0;
    for (int i = 0; i < s->cout; i++) bdiff = fmax(bdiff, fabs(wino[wc + i] - plain[wc + i]));
    /* (the plain convolution sums dy in another order) */
    CHECK(bdiff <= 1e-6 * ((double)s->n * oh * ow + 1.0), "%s: db differs from the plain pass's by %g",
          what, bdiff);

    if (!plain_only) {
        const int d0 = s->deconv ? s->cin : s->cout, d1 = s->deconv ? s->cout : s->cin;
        double worst = 0.0;
        for (int i0 = 0; i0 < d0; i0++)
            for (int i1 = 0; i1 < d1; i1++)
                for (int k = 0; k < 25; k++) {
                    double mag;
                    const double ref = ref_dw(s, x.data, dy.data, i0, i1, k / 5, k % 5, &mag);
                    const double e = fabs(wino[((size_t)i0 * d1 + i1) * 25 + k] - ref) / (mag + 1.0);
                    if (!(e <= worst)) worst = e;
                }
        CHECK(worst <= REF_TOL, "%s: dW relative error %g", what, worst);
        double bworst = 0.0;
        for (int co = 0; co < s->cout; co++) {
            double acc = 0.0;
            for (int b = 0; b < s->n; b++)
                for (int k = 0; k < oh * ow; k++) acc += dy.data[((size_t)b * s->cout + co) * oh * ow + k];
            bworst = fmax(bworst, fabs(wino[wc + co] - acc) / ((double)s->n * oh * ow + 1.0));
        }
        CHECK(bworst <= 1e-6, "%s: db relative error %g", what, bworst);

        /* finite differences of L = sum(y * dy) at a few weights, the
         * taps of every phase among them */
        double fd_worst = 0.0;
        static const size_t phase_taps[4] = {0, 1, 5, 6}; /* (ky, kx) even/odd */
        for (int t = 0; t < 12; t++) {
            const size_t i = t < 4 ? phase_taps[t] : nn_rng_below(&rng, (uint32_t)wc);
            float *v = p.value + l.w + i;
            const float keep = *v, eps = 1e-2f;
            double lv[2];
            for (int side = 0; side < 2; side++) {
                *v = side ? keep - eps : keep + eps;
                if (forward(&l, &p, &x, &y, &ws)) abort();
                double sum = 0.0;
                for (size_t k = 0; k < nn_tensor_numel(&y); k++) sum += (double)y.data[k] * dy.data[k];
                lv[side] = sum;
            }
            *v = keep;
            const double fd = (lv[0] - lv[1]) / ((double)(keep + eps) - (double)(keep - eps));
            const double e = fabs(fd - wino[i]) / fmax(1.0, fmax(fabs(fd), fabs(wino[i])));
            if (!(e <= fd_worst)) fd_worst = e;
        }
        CHECK(fd_worst <= FD_TOL, "%s: dW vs finite differences, rel err %g", what, fd_worst);
    }

    /* one thread and two: the same bits */
    const int threads = omp_get_max_threads();
    float *again = plain;
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        CHECK(grads_by(dw_winograd, &l, &p, &x, &dy, &ws, s->cout) == 0, "%s: %d threads", what, t);
        memcpy(again, p.grad + l.w, wc * sizeof(float));
        memcpy(again + wc, p.grad + l.b, (size_t)s->cout * sizeof(float));
        CHECK(memcmp(again, wino, (wc + s->cout) * sizeof(float)) == 0,
              "%s: %d threads change the gradient", what, t);
    }
    omp_set_num_threads(threads);
    free(wino);
    free(plain);
    nn_tensor_free(&x);
    nn_tensor_free(&dy);
    nn_tensor_free(&y);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

/* Layers and inputs the Winograd passes do not take (3 output channels of
 * a transposed convolution, 3 input channels of a convolution, an odd
 * input size, kernel 3) or leave to the plain passes (under 64 tiles): the
 * plain backward pass's gradients exactly. */
static void test_fallbacks(void)
{
    static const int cases[][6] = {/* deconv, k, cin, cout, h, w */
                                   {1, 5, 16, 3, 5, 6},
                                   {0, 5, 3, 16, 8, 8},
                                   {0, 5, 16, 8, 9, 8},
                                   {0, 3, 16, 8, 8, 8},
                                   {1, 3, 16, 16, 4, 4},
                                   {1, 5, 16, 16, 20, 12},
                                   {0, 5, 16, 16, 40, 24}};
    for (int c = 0; c < 7; c++) {
        const int *k = cases[c];
        nn_rng rng;
        nn_rng_seed(&rng, 300 + c);
        nn_params p;
        nn_params_init(&p);
        nn_conv2d cl;
        nn_deconv2d dl;
        const int rc = k[0] ? nn_deconv2d_declare(&dl, &p, "l", k[2], k[3], k[1], 2)
                            : nn_conv2d_declare(&cl, &p, "l", k[2], k[3], k[1], 2, NN_PAD_ZERO);
        if (rc != 0 || nn_params_alloc(&p) != 0) abort();
        fill_uniform(p.value, p.count, &rng);
        nn_tensor x = {0}, y = {0};
        nn_workspace ws = {0};
        if (nn_tensor_alloc(&x, 2, k[2], k[4], k[5]) != 0) abort();
        fill_uniform(x.data, nn_tensor_numel(&x), &rng);
        if ((k[0] ? nn_deconv2d_forward(&dl, &p, &x, &y, &ws) : nn_conv2d_forward(&cl, &p, &x, &y, &ws)) != 0)
            abort();
        fill_uniform(y.data, nn_tensor_numel(&y), &rng); /* dy */
        float *want = malloc(p.count * sizeof(float));
        if (!want) abort();
        nn_params_zero_grad(&p);
        int r1 = k[0] ? nn_deconv2d_backward(&dl, &p, &x, &y, NULL, &ws)
                      : nn_conv2d_backward(&cl, &p, &x, &y, NULL, &ws);
        memcpy(want, p.grad, p.count * sizeof(float));
        nn_params_zero_grad(&p);
        int r2 = k[0] ? nn_deconv2d_backward_dw_winograd(&dl, &p, &x, &y, &ws)
                      : nn_conv2d_backward_dw_winograd(&cl, &p, &x, &y, &ws);
        CHECK(r1 == 0 && r2 == 0 && memcmp(want, p.grad, p.count * sizeof(float)) == 0,
              "fallback case %d: not the plain pass's gradient", c);
        free(want);
        nn_tensor_free(&x);
        nn_tensor_free(&y);
        nn_workspace_free(&ws);
        nn_params_free(&p);
    }
}

/* dy of the wrong shape is refused; without p->grad nothing happens */
static void test_refusals(void)
{
    nn_params p;
    nn_params_init(&p);
    nn_deconv2d d;
    nn_conv2d c;
    if (nn_deconv2d_declare(&d, &p, "d", 16, 16, 5, 2) != 0 ||
        nn_conv2d_declare(&c, &p, "c", 16, 16, 5, 2, NN_PAD_ZERO) != 0 || nn_params_alloc(&p) != 0)
        abort();
    nn_tensor x = {0}, dy = {0};
    nn_workspace ws = {0};
    if (nn_tensor_alloc(&x, 1, 16, 8, 8) != 0 || nn_tensor_alloc(&dy, 1, 16, 8, 8) != 0) abort();
    nn_tensor_zero(&x);
    nn_tensor_zero(&dy);
    CHECK(nn_deconv2d_backward_dw_winograd(&d, &p, &x, &dy, &ws) != 0, "deconv: dy of x's size refused");
    CHECK(nn_conv2d_backward_dw_winograd(&c, &p, &x, &dy, &ws) != 0, "conv: dy of x's size refused");
    float *grad = p.grad;
    p.grad = NULL;
    if (nn_tensor_resize(&dy, 1, 16, 4, 4) != 0) abort();
    CHECK(nn_conv2d_backward_dw_winograd(&c, &p, &x, &dy, &ws) == 0, "conv: no gradient, no work");
    p.grad = grad;
    nn_tensor_free(&x);
    nn_tensor_free(&dy);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

int main(void)
{
    /* at least 64 tiles each (fewer go to the plain passes) */
    static const shape shapes[] = {
        /* deconv, n, cin, cout, h, w, cap */
        {1, 64, 3, 16, 1, 1, 0}, /* one-pixel images */
        {1, 2, 5, 17, 21, 26, 0}, {1, 3, 4, 16, 17, 19, 0}, {1, 1, 20, 16, 33, 29, 0},
        {1, 2, 3, 16, 41, 37, 1},        /* chunks of 64 tiles (the floor), across images */
        {1, 1, 16, 20, 60, 64, 2 << 20}, /* chunked by the cap, parallel loops */
        {0, 1, 16, 3, 64, 64, 0}, {0, 2, 16, 5, 46, 50, 0},
        {0, 64, 20, 7, 2, 2, 0}, /* one-tile images */
        {0, 1, 17, 4, 66, 70, 0}, {0, 3, 16, 9, 50, 42, 1},
        {0, 1, 32, 24, 36, 140, 2 << 20},
    };
    uint64_t seed = 500;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_shape(&shapes[i], 0, seed++);
    /* and with the portable GEMM kernel */
    if (nn_cpu_has(NN_CPU_AVX2 | NN_CPU_FMA)) {
        nn_cpu_set_mask(NN_CPU_ALL & ~(NN_CPU_AVX2 | NN_CPU_FMA));
        test_shape(&shapes[1], 0, seed++);
        test_shape(&shapes[10], 0, seed++);
        nn_cpu_set_mask(NN_CPU_ALL);
    }
    /* the process-wide cap forces chunks too */
    const size_t old = nn_conv_set_workspace_cap((size_t)1 << 20);
    const shape capped[] = {{1, 2, 24, 16, 20, 28, 0}, {0, 2, 24, 18, 40, 56, 0}};
    test_shape(&capped[0], 0, seed++);
    test_shape(&capped[1], 0, seed++);
    nn_conv_set_workspace_cap(old);
    /* the training's layers (N = 128, M = 192, batch 8 of 128x128; a batch
     * of 2 under the sanitizers), against the plain passes */
    const int batch = getenv("AEC_TEST_SANITIZED") ? 2 : 8;
    const shape training[] = {
        {1, batch, 192, 128, 8, 8, 0},   {1, batch, 128, 128, 16, 16, 0},
        {1, batch, 128, 128, 32, 32, 0}, {0, batch, 128, 128, 64, 64, 0},
        {0, batch, 128, 128, 32, 32, 0}, {0, batch, 128, 192, 16, 16, 0},
    };
    for (size_t i = 0; i < sizeof training / sizeof training[0]; i++) test_shape(&training[i], 1, seed++);
    test_fallbacks();
    test_refusals();
    return check_report("test_winograd_dw");
}
