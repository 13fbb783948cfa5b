/* Checks of nn/conv2d: the fast im2col + sgemm forward passes against naive
 * direct-loop references written only here, and the backward passes against
 * central finite differences of the scalar loss L = sum(y * R), R random. */
#include <stdint.h>
#include <string.h>

#include "nn/conv2d.h"
#include "tests/check.h"

static void fill_uniform(float *v, size_t count, nn_rng *rng)
{
    for (size_t i = 0; i < count; i++) v[i] = 2.0f * nn_rng_uniform(rng) - 1.0f;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Direct convolution, double accumulation. Padding (k-1)/2; a tap outside the
 * image reads 0 (zero) or the nearest edge pixel (replicate). */
static void ref_conv(const float *x, int n, int cin, int h, int w, const float *wt,
                     const float *bias, int cout, int k, int s, int replicate,
                     double *y, int oh, int ow)
{
    int pad = (k - 1) / 2;
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cout; co++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double acc = bias[co];
                    for (int ci = 0; ci < cin; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                                    if (!replicate) continue;
                                    iy = clampi(iy, 0, h - 1);
                                    ix = clampi(ix, 0, w - 1);
                                }
                                acc += (double)x[((b * cin + ci) * h + iy) * w + ix] *
                                       wt[((co * cin + ci) * k + ky) * k + kx];
                            }
                    y[((b * cout + co) * oh + oy) * ow + ox] = acc;
                }
}

/* Direct transposed convolution as PyTorch defines it: every input pixel
 * (iy, ix) adds x * W[ci][co][ky][kx] to output (iy*s - pad + ky, ix*s - pad
 * + kx) when that lies inside the H*s x W*s output (padding = k/2,
 * output_padding = s-1 only sets the output size). */
static void ref_deconv(const float *x, int n, int cin, int h, int w, const float *wt,
                       const float *bias, int cout, int k, int s, double *y)
{
    int pad = (k - 1) / 2, oh = h * s, ow = w * s;
    for (int b = 0; b < n; b++)
        for (int co = 0; co < cout; co++)
            for (int i = 0; i < oh * ow; i++) y[(b * cout + co) * oh * ow + i] = bias[co];
    for (int b = 0; b < n; b++)
        for (int ci = 0; ci < cin; ci++)
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < w; ix++) {
                    double xv = x[((b * cin + ci) * h + iy) * w + ix];
                    for (int co = 0; co < cout; co++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int oy = iy * s - pad + ky, ox = ix * s - pad + kx;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                                y[((b * cout + co) * oh + oy) * ow + ox] +=
                                    xv * wt[((ci * cout + co) * k + ky) * k + kx];
                            }
                }
}

typedef struct {
    int n, cin, cout, k, s, h, w, pad_mode;
} shape;

/* One layer of either kind behind one interface, so the gradient check is
 * written once. */
typedef struct {
    int is_deconv;
    nn_conv2d conv;
    nn_deconv2d deconv;
} layer;

static int layer_forward(const layer *l, const nn_params *p, const nn_tensor *x,
                         nn_tensor *y, nn_workspace *ws)
{
    return l->is_deconv ? nn_deconv2d_forward(&l->deconv, p, x, y, ws)
                        : nn_conv2d_forward(&l->conv, p, x, y, ws);
}

static int layer_backward(const layer *l, nn_params *p, const nn_tensor *x,
                          const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws)
{
    return l->is_deconv ? nn_deconv2d_backward(&l->deconv, p, x, dy, dx, ws)
                        : nn_conv2d_backward(&l->conv, p, x, dy, dx, ws);
}

/* L = sum(y * R), accumulated in double */
static double loss(const layer *l, const nn_params *p, const nn_tensor *x, nn_tensor *y,
                   const float *r, nn_workspace *ws)
{
    if (layer_forward(l, p, x, y, ws) != 0) return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < nn_tensor_numel(y); i++) sum += (double)y->data[i] * r[i];
    return sum;
}

/* Central difference of L in the float *v. L is linear in every single
 * parameter and input, so the difference quotient has no truncation error and
 * only float rounding of the forward remains: with eps = 1e-2 and O(1)
 * values that is ~1e-7 * sqrt(terms) / eps, below 1e-4 for these sizes; the
 * checks use a relative tolerance of 2e-3 to leave a wide margin. */
static double finite_diff(const layer *l, const nn_params *p, const nn_tensor *x,
                          nn_tensor *y, const float *r, nn_workspace *ws, float *v)
{
    const float eps = 1e-2f;
    float keep = *v;
    *v = keep + eps;
    double up = loss(l, p, x, y, r, ws);
    *v = keep - eps;
    double down = loss(l, p, x, y, r, ws);
    *v = keep;
    /* divide by the step actually taken after float rounding */
    return (up - down) / ((double)(keep + eps) - (double)(keep - eps));
}

#define FD_TOL 2e-3

static int samples; /* coordinates checked per gradient block */

/* Compares one gradient block (analytic) with finite differences in up to
 * `samples` coordinates of `values`; returns the worst relative error. */
static double check_block(const layer *l, nn_params *p, const nn_tensor *x, nn_tensor *y,
                          const float *r, nn_workspace *ws, float *values,
                          const float *analytic, size_t count, nn_rng *rng)
{
    double worst = 0.0;
    size_t todo = count < (size_t)samples ? count : (size_t)samples;
    for (size_t t = 0; t < todo; t++) {
        size_t i = count <= (size_t)samples ? t : nn_rng_below(rng, (uint32_t)count);
        double fd = finite_diff(l, p, x, y, r, ws, &values[i]);
        double err = fabs(fd - analytic[i]) / fmax(1.0, fmax(fabs(fd), fabs(analytic[i])));
        if (err > worst) worst = err;
    }
    return worst;
}

static void describe(char *buf, size_t len, const char *kind, const shape *sh)
{
    snprintf(buf, len, "%s n%d %d->%d k%d s%d %dx%d %s", kind, sh->n, sh->cin, sh->cout,
             sh->k, sh->s, sh->h, sh->w, sh->pad_mode ? "replicate" : "zero");
}

static void test_shape(const shape *sh, int is_deconv, uint64_t seed)
{
    char what[128];
    describe(what, sizeof what, is_deconv ? "deconv" : "conv", sh);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nn_params p;
    nn_params_init(&p);
    layer l = {.is_deconv = is_deconv};
    int rc = is_deconv ? nn_deconv2d_declare(&l.deconv, &p, "l", sh->cin, sh->cout, sh->k, sh->s)
                       : nn_conv2d_declare(&l.conv, &p, "l", sh->cin, sh->cout, sh->k, sh->s,
                                           sh->pad_mode);
    CHECK(rc == 0 && nn_params_alloc(&p) == 0, "%s: declare/alloc", what);
    if (rc != 0 || !p.value) { nn_params_free(&p); return; }
    size_t wcount = (size_t)sh->cin * sh->cout * sh->k * sh->k;
    size_t w_off = is_deconv ? l.deconv.w : l.conv.w, b_off = is_deconv ? l.deconv.b : l.conv.b;
    fill_uniform(p.value + w_off, wcount, &rng);
    fill_uniform(p.value + b_off, (size_t)sh->cout, &rng);

    nn_tensor x = {0}, y = {0}, dy = {0}, dx = {0};
    nn_workspace ws = {0};
    int oh, ow;
    if (is_deconv) {
        oh = sh->h * sh->s;
        ow = sh->w * sh->s;
    } else {
        nn_conv2d_out_shape(&l.conv, sh->h, sh->w, &oh, &ow);
    }
    CHECK(oh == (is_deconv ? sh->h * sh->s : (sh->h + sh->s - 1) / sh->s) &&
          ow == (is_deconv ? sh->w * sh->s : (sh->w + sh->s - 1) / sh->s),
          "%s: output %dx%d", what, oh, ow);
    size_t ycount = (size_t)sh->n * sh->cout * oh * ow;
    double *ref = malloc(ycount * sizeof *ref);
    if (nn_tensor_alloc(&x, sh->n, sh->cin, sh->h, sh->w) != 0 ||
        nn_tensor_alloc(&dy, sh->n, sh->cout, oh, ow) != 0 || !ref) {
        CHECK(0, "%s: out of memory", what);
        goto done;
    }
    fill_uniform(x.data, nn_tensor_numel(&x), &rng);
    fill_uniform(dy.data, nn_tensor_numel(&dy), &rng); /* dy = R = dL/dy */

    /* forward against the naive reference */
    CHECK(layer_forward(&l, &p, &x, &y, &ws) == 0, "%s: forward", what);
    CHECK(y.n == sh->n && y.c == sh->cout && y.h == oh && y.w == ow, "%s: y shape %dx%dx%dx%d",
          what, y.n, y.c, y.h, y.w);
    if (is_deconv)
        ref_deconv(x.data, sh->n, sh->cin, sh->h, sh->w, p.value + w_off, p.value + b_off,
                   sh->cout, sh->k, sh->s, ref);
    else
        ref_conv(x.data, sh->n, sh->cin, sh->h, sh->w, p.value + w_off, p.value + b_off,
                 sh->cout, sh->k, sh->s, sh->pad_mode, ref, oh, ow);
    double scale = 1.0, err = 0.0;
    for (size_t i = 0; i < ycount; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < ycount; i++) err = fmax(err, fabs(y.data[i] - ref[i]));
    CHECK(err <= 1e-4 * scale, "%s: forward max error %g (scale %g)", what, err, scale);

    /* backward: grads accumulate, dx is overwritten (prefilled with junk) */
    float *gw = p.grad + w_off, *gb = p.grad + b_off;
    for (size_t i = 0; i < wcount; i++) gw[i] = 0.5f;
    for (int i = 0; i < sh->cout; i++) gb[i] = -0.25f;
    CHECK(nn_tensor_alloc(&dx, sh->n, sh->cin, sh->h, sh->w) == 0, "%s: dx alloc", what);
    for (size_t i = 0; i < nn_tensor_numel(&dx); i++) dx.data[i] = 1e3f;
    CHECK(layer_backward(&l, &p, &x, &dy, &dx, &ws) == 0, "%s: backward", what);
    for (size_t i = 0; i < wcount; i++) gw[i] -= 0.5f;
    for (int i = 0; i < sh->cout; i++) gb[i] += 0.25f;

    err = check_block(&l, &p, &x, &y, dy.data, &ws, p.value + w_off, gw, wcount, &rng);
    CHECK(err <= FD_TOL, "%s: dW vs finite differences, rel err %g", what, err);
    err = check_block(&l, &p, &x, &y, dy.data, &ws, p.value + b_off, gb, (size_t)sh->cout, &rng);
    CHECK(err <= FD_TOL, "%s: db vs finite differences, rel err %g", what, err);
    err = check_block(&l, &p, &x, &y, dy.data, &ws, x.data, dx.data, nn_tensor_numel(&x), &rng);
    CHECK(err <= FD_TOL, "%s: dx vs finite differences, rel err %g", what, err);

    /* dx == NULL gives the same parameter gradients */
    float *gw_copy = malloc(wcount * sizeof *gw_copy);
    if (gw_copy) {
        memcpy(gw_copy, gw, wcount * sizeof *gw_copy);
        memset(gw, 0, wcount * sizeof *gw);
        CHECK(layer_backward(&l, &p, &x, &dy, NULL, &ws) == 0, "%s: backward without dx", what);
        double diff = 0.0, big = 1.0;
        for (size_t i = 0; i < wcount; i++) {
            diff = fmax(diff, fabs(gw[i] - gw_copy[i]));
            big = fmax(big, fabs(gw_copy[i]));
        }
        CHECK(diff <= 1e-6 * big, "%s: dW without dx differs by %g", what, diff);
        free(gw_copy);
    }
    /* a transposed convolution without p->grad: the same dx, no gradients */
    if (is_deconv) {
        nn_tensor dx2 = {0};
        float *grad = p.grad;
        p.grad = NULL;
        int ok = layer_backward(&l, &p, &x, &dy, &dx2, &ws) == 0;
        p.grad = grad;
        CHECK(ok && dx2.n == dx.n && dx2.c == dx.c && dx2.h == dx.h && dx2.w == dx.w &&
                  !memcmp(dx2.data, dx.data, nn_tensor_numel(&dx) * sizeof(float)),
              "%s: backward without p->grad gives the same dx", what);
        nn_tensor_free(&dx2);
    }
done:
    free(ref);
    nn_tensor_free(&x); nn_tensor_free(&y); nn_tensor_free(&dy); nn_tensor_free(&dx);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

static void test_init(void)
{
    nn_params p;
    nn_params_init(&p);
    nn_conv2d c;
    nn_deconv2d d;
    CHECK(nn_conv2d_declare(&c, &p, "enc.conv0", 64, 32, 5, 2, NN_PAD_ZERO) == 0, "declare conv");
    CHECK(nn_deconv2d_declare(&d, &p, "dec.deconv0", 64, 32, 5, 2) == 0, "declare deconv");
    CHECK(nn_conv2d_declare(&c, &p, "x", 3, 3, 4, 1, NN_PAD_ZERO) == -1, "even k refused");
    CHECK(nn_conv2d_declare(&c, &p, "a_name_that_is_far_too_long_for_the_parameter_table", 3, 3,
                            3, 1, NN_PAD_ZERO) == -1, "long name refused");
    CHECK(nn_params_alloc(&p) == 0, "alloc");
    const nn_param_entry *e = nn_params_find(&p, "enc.conv0.weight");
    CHECK(e && e->shape[0] == 32 && e->shape[1] == 64 && e->shape[2] == 5, "conv weight shape");
    e = nn_params_find(&p, "dec.deconv0.weight");
    CHECK(e && e->shape[0] == 64 && e->shape[1] == 32 && e->shape[3] == 5, "deconv weight shape");
    CHECK(nn_params_find(&p, "dec.deconv0.bias") != NULL, "deconv bias declared");
    nn_rng rng;
    nn_rng_seed(&rng, 7);
    nn_conv2d_init(&c, &p, &rng);
    nn_deconv2d_init(&d, &p, &rng);
    size_t count = (size_t)64 * 32 * 25;
    double want[2] = {1.0 / (64 * 25), 4.0 / (64 * 25)}; /* deconv: fan_in / stride^2 */
    const float *w[2] = {p.value + c.w, p.value + d.w};
    for (int t = 0; t < 2; t++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < count; i++) mean += w[t][i];
        mean /= count;
        for (size_t i = 0; i < count; i++) var += (w[t][i] - mean) * (w[t][i] - mean);
        var /= count;
        CHECK(fabs(mean) < 0.05 * sqrt(want[t]) && fabs(var / want[t] - 1) < 0.05,
              "init %d: mean %g var %g want %g", t, mean, var, want[t]);
    }
    int zero = 1;
    for (int i = 0; i < 32; i++) zero &= p.value[c.b + i] == 0.0f && p.value[d.b + i] == 0.0f;
    CHECK(zero, "biases start at 0");
    nn_params_free(&p);
}

/* Forward passes in chunks (the workspace cap forced down to single rows,
 * bands of a few rows, and a couple of whole images) against the same pass in
 * one piece: the same values up to float rounding, and within the cap. */
static void test_chunking(void)
{
    static const shape shapes[] = {
        {3, 4, 5, 5, 2, 23, 19, 0}, {3, 4, 5, 5, 2, 23, 19, 1}, {2, 3, 4, 3, 1, 17, 21, 1},
        {1, 6, 4, 5, 2, 31, 9, 0},  {3, 5, 3, 1, 2, 12, 10, 0},
    };
    static const size_t caps[] = {1, 3000, 20000, 60000, 400000};
    nn_rng rng;
    nn_rng_seed(&rng, 99);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        for (int is_deconv = 0; is_deconv < 2; is_deconv++) {
            const shape *sh = &shapes[si];
            if (is_deconv && sh->pad_mode) continue;
            char what[128];
            describe(what, sizeof what, is_deconv ? "chunked deconv" : "chunked conv", sh);
            nn_params p;
            nn_params_init(&p);
            layer l = {.is_deconv = is_deconv};
            int rc = is_deconv ? nn_deconv2d_declare(&l.deconv, &p, "l", sh->cin, sh->cout, sh->k, sh->s)
                               : nn_conv2d_declare(&l.conv, &p, "l", sh->cin, sh->cout, sh->k, sh->s,
                                                   sh->pad_mode);
            if (rc != 0 || nn_params_alloc(&p) != 0) {
                CHECK(0, "%s: declare/alloc", what);
                nn_params_free(&p);
                continue;
            }
            fill_uniform(p.value, p.count, &rng);
            nn_tensor x = {0}, whole = {0}, part = {0};
            nn_workspace ws = {0};
            if (nn_tensor_alloc(&x, sh->n, sh->cin, sh->h, sh->w) != 0) abort();
            fill_uniform(x.data, nn_tensor_numel(&x), &rng);
            CHECK(layer_forward(&l, &p, &x, &whole, &ws) == 0, "%s: whole forward", what);
            for (size_t ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
                nn_workspace small = {0};
                size_t old = nn_conv_set_workspace_cap(caps[ci]);
                /* junk in the output: every element must be written */
                if (nn_tensor_resize(&part, whole.n, whole.c, whole.h, whole.w) != 0) abort();
                for (size_t i = 0; i < nn_tensor_numel(&part); i++) part.data[i] = 1e30f;
                int frc = layer_forward(&l, &p, &x, &part, &small);
                nn_conv_set_workspace_cap(old);
                CHECK(frc == 0, "%s cap %zu: forward", what, caps[ci]);
                double err = 0.0, scale = 1.0;
                for (size_t i = 0; i < nn_tensor_numel(&whole); i++) {
                    err = fmax(err, fabs(part.data[i] - whole.data[i]));
                    scale = fmax(scale, fabs(whole.data[i]));
                }
                CHECK(part.n == whole.n && part.c == whole.c && part.h == whole.h &&
                          part.w == whole.w && err <= 1e-5 * scale,
                      "%s cap %zu: differs from the whole pass by %g (scale %g)", what, caps[ci],
                      err, scale);
                /* a cap above one output row's scratch is kept */
                if (caps[ci] >= 20000)
                    CHECK(small.cap * sizeof(float) <= caps[ci], "%s cap %zu: used %zu bytes",
                          what, caps[ci], small.cap * sizeof(float));
                nn_workspace_free(&small);
            }
            nn_tensor_free(&x);
            nn_tensor_free(&whole);
            nn_tensor_free(&part);
            nn_workspace_free(&ws);
            nn_params_free(&p);
        }
    }
}

int main(void)
{
    const char *san = getenv("AEC_TEST_SANITIZED");
    int sanitized = san && san[0] == '1';
    samples = sanitized ? 6 : 16;
    test_init();

    static const int ks[] = {1, 3, 5};
    static const int hw[][2] = {{7, 9}, {8, 6}, {5, 5}};
    uint64_t seed = 1;
    for (int ki = 0; ki < 3; ki++)
        for (int s = 1; s <= 2; s++)
            for (int pm = 0; pm < 2; pm++)
                for (int si = 0; si < 3; si++) {
                    shape sh = {1 + (ki + si + pm) % 3, 2 + si % 2, 3 - pm, ks[ki], s,
                                hw[si][0], hw[si][1], pm};
                    test_shape(&sh, 0, seed++);
                    if (pm == 0) test_shape(&sh, 1, seed++);
                }
    /* stride 3, tiny images (kernel larger than the image), and shapes big
     * enough that the OpenMP loops run in parallel */
    static const shape extra[] = {
        {2, 3, 2, 5, 3, 10, 7, 0}, {1, 2, 3, 3, 3, 4, 5, 1}, {2, 2, 2, 5, 2, 1, 2, 0},
        {1, 2, 2, 5, 1, 2, 3, 1},  {2, 8, 16, 5, 2, 24, 20, 0}, {2, 12, 10, 3, 1, 16, 18, 1},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        test_shape(&extra[i], 0, seed++);
        if (!extra[i].pad_mode) test_shape(&extra[i], 1, seed++);
    }
    test_chunking();
    return check_report("test_conv2d");
}
