/* Checks of nn/deconv_winograd: the Winograd forward pass of a 5x5 stride-2
 * transposed convolution, and its input gradient, and the same for the 5x5
 * stride-2 convolution, against direct double-precision references
 * written here from the definition (every output pixel gathers the input
 * pixels whose kernel footprint covers it), on odd sizes (partial tiles),
 * batches, one-pixel images, chunks forced small, a 3-channel output (the
 * synthesis' last layer) and a shape big enough for the parallel loops.
 * The tolerance scales with the sum of |terms| at each pixel, as float
 * rounding does. Other kernels/strides must give nn_deconv2d_forward's
 * result exactly (they are passed on to it). Plans made once and bands of
 * output rows must give the per-call whole passes' results exactly. */
#include <stdint.h>
#include <string.h>

#include "nn/cpu.h"
#include "nn/deconv_winograd.h"
#include "tests/check.h"

static void fill_uniform(float *v, size_t count, nn_rng *rng)
{
    for (size_t i = 0; i < count; i++) v[i] = 2.0f * nn_rng_uniform(rng) - 1.0f;
}

/* Output (oy, ox) of ConvTranspose2d(k 5, stride 2, padding 2,
 * output_padding 1): the sum over input (iy, ix) and taps with
 * oy = 2 iy - 2 + ky, ox = 2 ix - 2 + kx. *mag gets the sum of |terms|. */
static double ref_pixel(const float *x, int cin, int h, int w, const float *wt, int cout,
                        int b, int co, int oy, int ox, double *mag)
{
    double acc = 0.0, abs_sum = 0.0;
    for (int ci = 0; ci < cin; ci++)
        for (int ky = 0; ky < 5; ky++) {
            if ((oy + 2 - ky) % 2) continue;
            const int iy = (oy + 2 - ky) / 2;
            if (oy + 2 - ky < 0 || iy >= h) continue;
            for (int kx = 0; kx < 5; kx++) {
                if ((ox + 2 - kx) % 2) continue;
                const int ix = (ox + 2 - kx) / 2;
                if (ox + 2 - kx < 0 || ix >= w) continue;
                const double term = (double)x[((b * cin + ci) * h + iy) * w + ix] *
                                    wt[((ci * cout + co) * 5 + ky) * 5 + kx];
                acc += term;
                abs_sum += fabs(term);
            }
        }
    *mag = abs_sum;
    return acc;
}

/* dx (ci, iy, ix) of the same layer for the output gradient dy
 * ([n][cout][2h][2w]): the sum over co, ky, kx of W dy at output
 * (2 iy - 2 + ky, 2 ix - 2 + kx) where that is inside. *mag: sum of |terms|. */
static double ref_dx_pixel(const float *dy, int h, int w, const float *wt, int cout, int b,
                           int ci, int iy, int ix, double *mag)
{
    double acc = 0.0, abs_sum = 0.0;
    for (int co = 0; co < cout; co++)
        for (int ky = 0; ky < 5; ky++) {
            const int oy = 2 * iy - 2 + ky;
            if (oy < 0 || oy >= 2 * h) continue;
            for (int kx = 0; kx < 5; kx++) {
                const int ox = 2 * ix - 2 + kx;
                if (ox < 0 || ox >= 2 * w) continue;
                const double term = (double)dy[((size_t)(b * cout + co) * 2 * h + oy) * 2 * w + ox] *
                                    wt[((ci * cout + co) * 5 + ky) * 5 + kx];
                acc += term;
                abs_sum += fabs(term);
            }
        }
    *mag = abs_sum;
    return acc;
}

typedef struct {
    int n, cin, cout, h, w;
    size_t cap; /* workspace cap in bytes, 0: the default */
} shape;

static void test_shape(const shape *sh, uint64_t seed)
{
    char what[96];
    snprintf(what, sizeof what, "n%d cin%d cout%d %dx%d cap %zu", sh->n, sh->cin, sh->cout, sh->h,
             sh->w, sh->cap);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nn_params p;
    nn_params_init(&p);
    nn_deconv2d l;
    if (nn_deconv2d_declare(&l, &p, "l", sh->cin, sh->cout, 5, 2) != 0 || nn_params_alloc(&p) != 0) {
        CHECK(0, "%s: declare/alloc", what);
        nn_params_free(&p);
        return;
    }
    fill_uniform(p.value, p.count, &rng);
    nn_tensor x = {0}, y = {0};
    nn_workspace ws = {.max_bytes = sh->cap};
    if (nn_tensor_alloc(&x, sh->n, sh->cin, sh->h, sh->w) != 0) abort();
    fill_uniform(x.data, nn_tensor_numel(&x), &rng);
    /* junk in the output: every element must be written */
    if (nn_tensor_resize(&y, sh->n, sh->cout, 2 * sh->h, 2 * sh->w) != 0) abort();
    for (size_t i = 0; i < nn_tensor_numel(&y); i++) y.data[i] = 1e30f;
    CHECK(nn_deconv2d_forward_winograd(&l, &p, &x, &y, &ws) == 0, "%s: forward", what);
    CHECK(y.n == sh->n && y.c == sh->cout && y.h == 2 * sh->h && y.w == 2 * sh->w, "%s: shape", what);
    double worst = 0.0; /* error / (sum of |terms| + 1) */
    const float *bias = p.value + l.b;
    for (int b = 0; b < sh->n; b++)
        for (int co = 0; co < sh->cout; co++)
            for (int oy = 0; oy < 2 * sh->h; oy++)
                for (int ox = 0; ox < 2 * sh->w; ox++) {
                    double mag;
                    double ref = bias[co] + ref_pixel(x.data, sh->cin, sh->h, sh->w, p.value + l.w,
                                                      sh->cout, b, co, oy, ox, &mag);
                    double got = y.data[(((size_t)b * sh->cout + co) * y.h + oy) * y.w + ox];
                    double e = fabs(got - ref) / (mag + fabs(bias[co]) + 1.0);
                    if (!(e <= worst)) worst = e; /* NaN sticks */
                }
    /* F(4x4, 3x3) in float: ~1e-6 of the terms' size seen; 2e-5 allows for
     * other compilers' contraction choices */
    CHECK(worst <= 2e-5, "%s: relative error %g", what, worst);
    if (sh->cap >= 2 << 20)
        CHECK(ws.cap * sizeof(float) <= sh->cap, "%s: workspace of %zu bytes over the cap", what,
              ws.cap * sizeof(float));

    /* the input gradient for a random dy, into junk */
    nn_tensor dy = {0}, dx = {0};
    if (nn_tensor_alloc(&dy, sh->n, sh->cout, 2 * sh->h, 2 * sh->w) != 0 ||
        nn_tensor_resize(&dx, sh->n, sh->cin, sh->h, sh->w) != 0)
        abort();
    fill_uniform(dy.data, nn_tensor_numel(&dy), &rng);
    for (size_t i = 0; i < nn_tensor_numel(&dx); i++) dx.data[i] = 1e30f;
    CHECK(nn_deconv2d_backward_dx_winograd(&l, &p, &x, &dy, &dx, &ws) == 0, "%s: dx", what);
    CHECK(dx.n == sh->n && dx.c == sh->cin && dx.h == sh->h && dx.w == sh->w, "%s: dx shape", what);
    worst = 0.0;
    for (int b = 0; b < sh->n; b++)
        for (int ci = 0; ci < sh->cin; ci++)
            for (int iy = 0; iy < sh->h; iy++)
                for (int ix = 0; ix < sh->w; ix++) {
                    double mag;
                    double ref = ref_dx_pixel(dy.data, sh->h, sh->w, p.value + l.w, sh->cout,
                                              b, ci, iy, ix, &mag);
                    double got = dx.data[(((size_t)b * sh->cin + ci) * sh->h + iy) * sh->w + ix];
                    double e = fabs(got - ref) / (mag + 1.0);
                    if (!(e <= worst)) worst = e;
                }
    CHECK(worst <= 2e-5, "%s: dx relative error %g", what, worst);
    nn_tensor_free(&dy);
    nn_tensor_free(&dx);
    nn_tensor_free(&x);
    nn_tensor_free(&y);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

/* The stride-2 convolution by the same arithmetic: forward (with bias) and
 * input gradient against direct double references. y[co][oy][ox] = b[co] +
 * sum W[co][ci][ky][kx] x[ci][2oy - 2 + ky][2ox - 2 + kx]. */
static void test_conv_shape(int n, int cin, int cout, int h, int w, size_t cap, uint64_t seed)
{
    char what[96];
    snprintf(what, sizeof what, "conv n%d cin%d cout%d %dx%d cap %zu", n, cin, cout, h, w, cap);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nn_params p;
    nn_params_init(&p);
    nn_conv2d l;
    if (nn_conv2d_declare(&l, &p, "l", cin, cout, 5, 2, NN_PAD_ZERO) != 0 || nn_params_alloc(&p) != 0)
        abort();
    fill_uniform(p.value, p.count, &rng);
    nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};
    nn_workspace ws = {.max_bytes = cap};
    const int oh = h / 2, ow = w / 2;
    if (nn_tensor_alloc(&x, n, cin, h, w) != 0 || nn_tensor_alloc(&dy, n, cout, oh, ow) != 0 ||
        nn_tensor_resize(&y, n, cout, oh, ow) != 0 || nn_tensor_resize(&dx, n, cin, h, w) != 0)
        abort();
    fill_uniform(x.data, nn_tensor_numel(&x), &rng);
    fill_uniform(dy.data, nn_tensor_numel(&dy), &rng);
    for (size_t i = 0; i < nn_tensor_numel(&y); i++) y.data[i] = 1e30f;
    for (size_t i = 0; i < nn_tensor_numel(&dx); i++) dx.data[i] = 1e30f;
    CHECK(nn_conv2d_forward_winograd(&l, &p, &x, &y, &ws) == 0, "%s: forward", what);
    CHECK(nn_conv2d_backward_dx_winograd(&l, &p, &x, &dy, &dx, &ws) == 0, "%s: dx", what);
    const float *wt = p.value + l.w, *bias = p.value + l.b;
    double worst_y = 0.0, worst_dx = 0.0;
    for (int b = 0; b < n; b++) {
        for (int co = 0; co < cout; co++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double acc = bias[co], mag = fabs(bias[co]);
                    for (int ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < 5; ky++)
                            for (int kx = 0; kx < 5; kx++) {
                                int iy = 2 * oy - 2 + ky, ix = 2 * ox - 2 + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                double t = (double)wt[((co * cin + ci) * 5 + ky) * 5 + kx] *
                                           x.data[((size_t)(b * cin + ci) * h + iy) * w + ix];
                                acc += t;
                                mag += fabs(t);
                            }
                    double got = y.data[((size_t)(b * cout + co) * oh + oy) * ow + ox];
                    double e = fabs(got - acc) / (mag + 1.0);
                    if (!(e <= worst_y)) worst_y = e;
                }
        for (int ci = 0; ci < cin; ci++)
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < w; ix++) {
                    double acc = 0.0, mag = 0.0;
                    for (int co = 0; co < cout; co++)
                        for (int ky = 0; ky < 5; ky++) {
                            if ((iy + 2 - ky) % 2 || iy + 2 - ky < 0 || (iy + 2 - ky) / 2 >= oh) continue;
                            for (int kx = 0; kx < 5; kx++) {
                                if ((ix + 2 - kx) % 2 || ix + 2 - kx < 0 || (ix + 2 - kx) / 2 >= ow)
                                    continue;
                                double t = (double)wt[((co * cin + ci) * 5 + ky) * 5 + kx] *
                                           dy.data[((size_t)(b * cout + co) * oh + (iy + 2 - ky) / 2) * ow +
                                                   (ix + 2 - kx) / 2];
                                acc += t;
                                mag += fabs(t);
                            }
                        }
                    double got = dx.data[((size_t)(b * cin + ci) * h + iy) * w + ix];
                    double e = fabs(got - acc) / (mag + 1.0);
                    if (!(e <= worst_dx)) worst_dx = e;
                }
    }
    CHECK(worst_y <= 2e-5, "%s: forward relative error %g", what, worst_y);
    CHECK(worst_dx <= 2e-5, "%s: dx relative error %g", what, worst_dx);
    if (cap >= 2 << 20)
        CHECK(ws.cap * sizeof(float) <= cap, "%s: workspace of %zu bytes over the cap", what,
              ws.cap * sizeof(float));
    nn_tensor_free(&x);
    nn_tensor_free(&y);
    nn_tensor_free(&dy);
    nn_tensor_free(&dx);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

/* convolutions it does not take (kernel 3, replicate padding, an odd size,
 * 3 input channels): the plain passes' results exactly */
static void test_conv_fallbacks(void)
{
    static const int cases[][5] = {/* k, pad_mode, cin, h, w */
                                   {3, NN_PAD_ZERO, 16, 8, 8},
                                   {5, NN_PAD_REPLICATE, 16, 8, 8},
                                   {5, NN_PAD_ZERO, 16, 9, 8},
                                   {5, NN_PAD_ZERO, 3, 8, 8}};
    for (int i = 0; i < 4; i++) {
        nn_rng rng;
        nn_rng_seed(&rng, 60 + i);
        nn_params p;
        nn_params_init(&p);
        nn_conv2d l;
        if (nn_conv2d_declare(&l, &p, "l", cases[i][2], 5, cases[i][0], 2, cases[i][1]) != 0 ||
            nn_params_alloc(&p) != 0)
            abort();
        fill_uniform(p.value, p.count, &rng);
        nn_tensor x = {0}, y1 = {0}, y2 = {0}, dx1 = {0}, dx2 = {0};
        nn_workspace ws = {0};
        if (nn_tensor_alloc(&x, 2, cases[i][2], cases[i][3], cases[i][4]) != 0) abort();
        fill_uniform(x.data, nn_tensor_numel(&x), &rng);
        int r1 = nn_conv2d_forward(&l, &p, &x, &y1, &ws);
        int r2 = nn_conv2d_forward_winograd(&l, &p, &x, &y2, &ws);
        CHECK(r1 == 0 && r2 == 0 && nn_tensor_numel(&y1) == nn_tensor_numel(&y2) &&
                  memcmp(y1.data, y2.data, nn_tensor_numel(&y1) * sizeof(float)) == 0,
              "conv case %d: not nn_conv2d_forward's result", i);
        for (size_t k = 0; k < nn_tensor_numel(&y1); k++) y1.data[k] = 0.5f - (float)(k % 5) * 0.2f;
        nn_params view = p;
        view.grad = NULL;
        r1 = nn_conv2d_backward(&l, &view, &x, &y1, &dx1, &ws);
        r2 = nn_conv2d_backward_dx_winograd(&l, &p, &x, &y1, &dx2, &ws);
        CHECK(r1 == 0 && r2 == 0 && nn_tensor_numel(&dx1) == nn_tensor_numel(&dx2) &&
                  memcmp(dx1.data, dx2.data, nn_tensor_numel(&dx1) * sizeof(float)) == 0,
              "conv case %d: dx not nn_conv2d_backward's", i);
        /* and the backward pass without parameter gradients gives the dx
         * of the one with them */
        r2 = nn_conv2d_backward(&l, &p, &x, &y1, &dx2, &ws);
        CHECK(r2 == 0 && memcmp(dx1.data, dx2.data, nn_tensor_numel(&dx1) * sizeof(float)) == 0,
              "conv case %d: dx with and without the parameter gradients differ", i);
        nn_tensor_free(&x);
        nn_tensor_free(&y1);
        nn_tensor_free(&y2);
        nn_tensor_free(&dx1);
        nn_tensor_free(&dx2);
        nn_workspace_free(&ws);
        nn_params_free(&p);
    }
}

/* kernel 3, stride 1 or 3 output channels: handed to nn_deconv2d_forward,
 * the same result */
static void test_other_shapes(void)
{
    static const int ks[][3] = {{3, 2, 4}, {5, 1, 4}, {1, 2, 4}, {5, 2, 3}};
    for (int i = 0; i < 4; i++) {
        nn_rng rng;
        nn_rng_seed(&rng, 40 + i);
        nn_params p;
        nn_params_init(&p);
        nn_deconv2d l;
        if (nn_deconv2d_declare(&l, &p, "l", 3, ks[i][2], ks[i][0], ks[i][1]) != 0 ||
            nn_params_alloc(&p) != 0)
            abort();
        fill_uniform(p.value, p.count, &rng);
        nn_tensor x = {0}, y1 = {0}, y2 = {0};
        nn_workspace ws = {0};
        if (nn_tensor_alloc(&x, 2, 3, 5, 6) != 0) abort();
        fill_uniform(x.data, nn_tensor_numel(&x), &rng);
        int r1 = nn_deconv2d_forward(&l, &p, &x, &y1, &ws);
        int r2 = nn_deconv2d_forward_winograd(&l, &p, &x, &y2, &ws);
        CHECK(r1 == 0 && r2 == 0 && nn_tensor_numel(&y1) == nn_tensor_numel(&y2) &&
                  memcmp(y1.data, y2.data, nn_tensor_numel(&y1) * sizeof(float)) == 0,
              "k%d s%d cout %d: not nn_deconv2d_forward's result", ks[i][0], ks[i][1], ks[i][2]);
        /* dx: nn_deconv2d_backward's, with no parameter gradients */
        nn_tensor dx1 = {0}, dx2 = {0};
        for (size_t k = 0; k < nn_tensor_numel(&y1); k++) y1.data[k] = 0.5f - (float)(k % 7) * 0.1f;
        nn_params view = p;
        view.grad = NULL;
        r1 = nn_deconv2d_backward(&l, &view, &x, &y1, &dx1, &ws);
        r2 = nn_deconv2d_backward_dx_winograd(&l, &p, &x, &y1, &dx2, &ws);
        CHECK(r1 == 0 && r2 == 0 && nn_tensor_numel(&dx1) == nn_tensor_numel(&dx2) &&
                  memcmp(dx1.data, dx2.data, nn_tensor_numel(&dx1) * sizeof(float)) == 0,
              "k%d s%d cout %d: dx not nn_deconv2d_backward's", ks[i][0], ks[i][1], ks[i][2]);
        nn_tensor_free(&dx1);
        nn_tensor_free(&dx2);
        nn_tensor_free(&x);
        nn_tensor_free(&y1);
        nn_tensor_free(&y2);
        nn_workspace_free(&ws);
        nn_params_free(&p);
    }
    /* a wrong channel count is refused */
    nn_params p;
    nn_params_init(&p);
    nn_deconv2d l;
    if (nn_deconv2d_declare(&l, &p, "l", 3, 4, 5, 2) != 0 || nn_params_alloc(&p) != 0) abort();
    nn_tensor x = {0}, y = {0};
    nn_workspace ws = {0};
    if (nn_tensor_alloc(&x, 1, 2, 4, 4) != 0) abort();
    nn_tensor_zero(&x);
    CHECK(nn_deconv2d_forward_winograd(&l, &p, &x, &y, &ws) != 0, "2 channels into a 3-channel layer");
    nn_tensor_free(&x);
    nn_tensor_free(&y);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

/* A plan made once gives the per-call passes' results exactly, pass after
 * pass; a band of rows (nn_deconv2d_forward_winograd_rows) gives the whole
 * pass's rows exactly and leaves the rest of its output alone; plans for
 * the other direction or another layer, and bands off the 8-row grid, are
 * refused. Shapes: n, cin, cout, h, w (odd h: a last band shorter than 8
 * rows; w past a block of 8 tiles). */
static void test_plans_and_bands(int n, int cin, int cout, int h, int w, uint64_t seed)
{
    char what[96];
    snprintf(what, sizeof what, "plan/bands n%d %d->%d %dx%d", n, cin, cout, h, w);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nn_params p;
    nn_params_init(&p);
    nn_deconv2d l, other, twin;
    if (nn_deconv2d_declare(&l, &p, "l", cin, cout, 5, 2) != 0 ||
        nn_deconv2d_declare(&other, &p, "o", cin, cout + 1, 5, 2) != 0 ||
        nn_deconv2d_declare(&twin, &p, "t", cin, cout, 5, 2) != 0 || nn_params_alloc(&p) != 0)
        abort();
    fill_uniform(p.value, p.count, &rng);
    nn_tensor x = {0}, y = {0}, yp = {0}, dy = {0}, dx = {0}, dxp = {0}, band = {0};
    nn_workspace ws = {.max_bytes = (size_t)1 << 20};
    if (nn_tensor_alloc(&x, n, cin, h, w) != 0 || nn_tensor_alloc(&dy, n, cout, 2 * h, 2 * w) != 0)
        abort();
    fill_uniform(x.data, nn_tensor_numel(&x), &rng);
    fill_uniform(dy.data, nn_tensor_numel(&dy), &rng);
    nn_winograd_plan fwd, bwd;
    CHECK(nn_deconv2d_winograd_plan(&l, &p, 0, &fwd) == 0 && nn_deconv2d_winograd_plan(&l, &p, 1, &bwd) == 0,
          "%s: plans", what);
    CHECK(nn_deconv2d_forward_winograd(&l, &p, &x, &y, &ws) == 0 &&
              nn_deconv2d_backward_dx_winograd(&l, &p, &x, &dy, &dx, &ws) == 0,
          "%s: per-call passes", what);
    for (int pass = 0; pass < 2; pass++) {
        CHECK(nn_deconv2d_forward_winograd_planned(&l, &p, &fwd, &x, &yp, &ws) == 0 &&
                  memcmp(y.data, yp.data, nn_tensor_numel(&y) * sizeof(float)) == 0,
              "%s: planned forward, pass %d", what, pass);
        CHECK(nn_deconv2d_backward_dx_winograd_planned(&l, &p, &bwd, &x, &dy, &dxp, &ws) == 0 &&
                  memcmp(dx.data, dxp.data, nn_tensor_numel(&dx) * sizeof(float)) == 0,
              "%s: planned dx, pass %d", what, pass);
    }
    /* bands of 8 and 16 rows, each written 3 rows down into a band tensor
     * of sentinels */
    const int rows = 2 * h, ow = 2 * w;
    for (int step = 8; step <= 16; step += 8)
        for (int r0 = 0; r0 < rows; r0 += step) {
            const int r1 = r0 + step < rows ? r0 + step : rows, at = 3;
            if (nn_tensor_resize(&band, n, cout, at + (r1 - r0) + 2, ow) != 0) abort();
            for (size_t k = 0; k < nn_tensor_numel(&band); k++) band.data[k] = 1234.5f;
            CHECK(nn_deconv2d_forward_winograd_rows(&l, &p, &fwd, &x, r0, r1, &band, at, &ws) == 0,
                  "%s: band %d..%d", what, r0, r1);
            int same = 1, untouched = 1;
            for (int i = 0; i < n * cout; i++)
                for (int r = 0; r < band.h; r++) {
                    const float *b = band.data + ((size_t)i * band.h + r) * ow;
                    if (r >= at && r < at + r1 - r0) {
                        const float *a = y.data + ((size_t)i * rows + r0 + r - at) * ow;
                        same &= memcmp(a, b, (size_t)ow * sizeof(float)) == 0;
                    } else {
                        for (int c = 0; c < ow; c++) untouched &= b[c] == 1234.5f;
                    }
                }
            CHECK(same, "%s: band %d..%d differs from the whole pass", what, r0, r1);
            CHECK(untouched, "%s: band %d..%d wrote outside its rows", what, r0, r1);
        }
    /* refusals */
    if (nn_tensor_resize(&band, n, cout, rows, ow) != 0) abort();
    CHECK(nn_deconv2d_forward_winograd_rows(&l, &p, &bwd, &x, 0, rows, &band, 0, &ws) != 0,
          "%s: a dx plan for a forward band", what);
    CHECK(nn_deconv2d_forward_winograd_rows(&l, &p, NULL, &x, 0, rows, &band, 0, &ws) != 0,
          "%s: a band without a plan", what);
    CHECK(nn_deconv2d_forward_winograd_rows(&l, &p, &fwd, &x, 4, rows, &band, 0, &ws) != 0,
          "%s: a band starting off the 8-row grid", what);
    CHECK(nn_deconv2d_forward_winograd_rows(&l, &p, &fwd, &x, 0, rows, &band, 1, &ws) != 0,
          "%s: a band past the output's rows", what);
    CHECK(nn_deconv2d_forward_winograd_planned(&other, &p, &fwd, &x, &yp, &ws) != 0,
          "%s: another layer's plan", what);
    CHECK(nn_deconv2d_forward_winograd_planned(&twin, &p, &fwd, &x, &yp, &ws) != 0,
          "%s: the plan of another layer of the same shape", what);
    nn_winograd_plan_free(&fwd);
    nn_winograd_plan_free(&bwd);
    nn_tensor_free(&x);
    nn_tensor_free(&y);
    nn_tensor_free(&yp);
    nn_tensor_free(&dy);
    nn_tensor_free(&dx);
    nn_tensor_free(&dxp);
    nn_tensor_free(&band);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

/* Plans for the training passes: a convolution's planned passes give its
 * per-call passes' results exactly; plans remade for new weights
 * (nn_*_winograd_replan) give the per-call passes' results for those
 * weights, in the same memory; a plan remade for another layer's shape
 * too; a convolution the passes never take gets an empty plan. */
static void test_replans(void)
{
    nn_rng rng;
    nn_rng_seed(&rng, 77);
    nn_params p;
    nn_params_init(&p);
    nn_conv2d c, small;
    nn_deconv2d d, wide;
    if (nn_conv2d_declare(&c, &p, "c", 16, 12, 5, 2, NN_PAD_ZERO) != 0 ||
        nn_conv2d_declare(&small, &p, "s", 3, 16, 5, 2, NN_PAD_ZERO) != 0 ||
        nn_deconv2d_declare(&d, &p, "d", 12, 16, 5, 2) != 0 ||
        nn_deconv2d_declare(&wide, &p, "w", 12, 24, 5, 2) != 0 || nn_params_alloc(&p) != 0)
        abort();
    nn_tensor x = {0}, dy = {0}, y = {0}, yp = {0}, dx = {0}, dxp = {0}, xd = {0}, dyd = {0};
    nn_workspace ws = {0};
    if (nn_tensor_alloc(&x, 2, 16, 12, 10) != 0 || nn_tensor_alloc(&dy, 2, 12, 6, 5) != 0 ||
        nn_tensor_alloc(&xd, 1, 12, 7, 9) != 0 || nn_tensor_alloc(&dyd, 1, 16, 14, 18) != 0)
        abort();
    fill_uniform(x.data, nn_tensor_numel(&x), &rng);
    fill_uniform(dy.data, nn_tensor_numel(&dy), &rng);
    fill_uniform(xd.data, nn_tensor_numel(&xd), &rng);
    fill_uniform(dyd.data, nn_tensor_numel(&dyd), &rng);
    nn_winograd_plan cf, cb, df, db, empty;
    memset(&cf, 0, sizeof cf);
    memset(&cb, 0, sizeof cb);
    memset(&df, 0, sizeof df);
    memset(&db, 0, sizeof db);
    memset(&empty, 0, sizeof empty);
    CHECK(nn_conv2d_winograd_replan(&small, &p, 0, &empty) == 0 && empty.packed[0].data == NULL,
          "replan: a convolution the passes do not take gets an empty plan");
    for (int round = 0; round < 2; round++) {
        /* new weights every round; the plans remade in place the second time */
        fill_uniform(p.value, p.count, &rng);
        const float *mem = round ? cf.packed[0].data : NULL, *dmem = round ? df.packed[0].data : NULL;
        int ok = nn_conv2d_winograd_replan(&c, &p, 0, &cf) == 0 &&
                 nn_conv2d_winograd_replan(&c, &p, 1, &cb) == 0;
        ok &= nn_deconv2d_winograd_replan(&d, &p, 0, &df) == 0 &&
              nn_deconv2d_winograd_replan(&d, &p, 1, &db) == 0;
        CHECK(ok, "replan: plans, round %d", round);
        if (round)
            CHECK(cf.packed[0].data == mem && df.packed[0].data == dmem,
                  "replan: the same layer's plan keeps its memory");
        CHECK(nn_conv2d_forward_winograd(&c, &p, &x, &y, &ws) == 0 &&
                  nn_conv2d_forward_winograd_planned(&c, &p, &cf, &x, &yp, &ws) == 0 &&
                  memcmp(y.data, yp.data, nn_tensor_numel(&y) * sizeof(float)) == 0,
              "replan: planned convolution forward, round %d", round);
        CHECK(nn_conv2d_backward_dx_winograd(&c, &p, &x, &dy, &dx, &ws) == 0 &&
                  nn_conv2d_backward_dx_winograd_planned(&c, &p, &cb, &x, &dy, &dxp, &ws) == 0 &&
                  memcmp(dx.data, dxp.data, nn_tensor_numel(&dx) * sizeof(float)) == 0,
              "replan: planned convolution dx, round %d", round);
        CHECK(nn_conv2d_forward_winograd_planned(&c, &p, &cb, &x, &yp, &ws) != 0,
              "replan: a dx plan refused for the forward pass");
        CHECK(nn_deconv2d_forward_winograd(&d, &p, &xd, &y, &ws) == 0 &&
                  nn_deconv2d_forward_winograd_planned(&d, &p, &df, &xd, &yp, &ws) == 0 &&
                  memcmp(y.data, yp.data, nn_tensor_numel(&y) * sizeof(float)) == 0,
              "replan: planned deconvolution forward, round %d", round);
        CHECK(nn_deconv2d_backward_dx_winograd(&d, &p, &xd, &dyd, &dx, &ws) == 0 &&
                  nn_deconv2d_backward_dx_winograd_planned(&d, &p, &db, &xd, &dyd, &dxp, &ws) == 0 &&
                  memcmp(dx.data, dxp.data, nn_tensor_numel(&dx) * sizeof(float)) == 0,
              "replan: planned deconvolution dx, round %d", round);
    }
    /* the forward plan remade for a layer of another shape */
    CHECK(nn_deconv2d_winograd_replan(&wide, &p, 0, &df) == 0 &&
              nn_deconv2d_forward_winograd(&wide, &p, &xd, &y, &ws) == 0 &&
              nn_deconv2d_forward_winograd_planned(&wide, &p, &df, &xd, &yp, &ws) == 0 &&
              memcmp(y.data, yp.data, nn_tensor_numel(&y) * sizeof(float)) == 0,
          "replan: a plan remade for another layer's shape");
    nn_winograd_plan_free(&cf);
    nn_winograd_plan_free(&cb);
    nn_winograd_plan_free(&df);
    nn_winograd_plan_free(&db);
    nn_winograd_plan_free(&empty);
    nn_tensor *all[] = {&x, &dy, &y, &yp, &dx, &dxp, &xd, &dyd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nn_tensor_free(all[i]);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

int main(void)
{
    static const shape shapes[] = {
        {1, 3, 16, 4, 4, 0},   {1, 3, 16, 5, 7, 0}, {2, 4, 17, 9, 6, 0},  {1, 2, 16, 1, 1, 0},
        {3, 2, 16, 1, 6, 0},    {1, 5, 16, 13, 11, 0}, /* the fewest output channels it takes */
        {2, 3, 16, 41, 37, 1},  /* chunks of 64 tiles (the floor), across images */
        {1, 16, 20, 60, 64, 2 << 20}, /* chunked by the cap (3 chunks), parallel loops */
        {1, 24, 16, 20, 28, 0},
        {1, 4, 16, 9, 70, 0}, /* blocks of 8 tiles inside the image (tiles 24-31, 40-47) */
        /* the products' depth over the GEMM's K block of 256 (two blocks, the
         * last shorter): the input gradient's 4 x 80 = 320, the forward's 257 */
        {1, 8, 80, 6, 10, 0},   {1, 257, 16, 5, 9, 0},
    };
    uint64_t seed = 7;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_shape(&shapes[i], seed++);
    /* and with the portable GEMM kernel, whose slivers (8 wide) the input
     * transform then writes */
    if (nn_cpu_has(NN_CPU_AVX2 | NN_CPU_FMA)) {
        nn_cpu_set_mask(NN_CPU_ALL & ~(NN_CPU_AVX2 | NN_CPU_FMA));
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) test_shape(&shapes[i], seed++);
        nn_cpu_set_mask(NN_CPU_ALL);
    }
    test_other_shapes();
    static const int conv_shapes[][5] = {/* n, cin, cout, h, w */
                                         {1, 16, 3, 8, 8},   {2, 16, 5, 6, 10}, {1, 20, 7, 2, 2},
                                         {1, 17, 4, 26, 18}, {1, 16, 8, 36, 140}};
    for (int i = 0; i < 5; i++)
        test_conv_shape(conv_shapes[i][0], conv_shapes[i][1], conv_shapes[i][2], conv_shapes[i][3],
                        conv_shapes[i][4], i == 4 ? (size_t)2 << 20 : 0, 100 + i);
    test_conv_fallbacks();
    test_plans_and_bands(1, 16, 16, 13, 40, 200);
    test_plans_and_bands(2, 20, 17, 16, 9, 201);
    test_plans_and_bands(1, 32, 24, 37, 70, 202); /* several chunks, parallel loops */
    test_plans_and_bands(1, 16, 16, 20, 300, 203); /* a band's tiles in chunks across tile rows */
    test_replans();
    return check_report("test_deconv_winograd");
}
