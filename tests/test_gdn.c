/* Checks of GDN and inverse GDN: the forward pass against a direct
 * per-pixel implementation in double, every gradient (x, beta, gamma, for
 * both directions) against central finite differences of
 * loss = sum(y * R) with R random, and the reparametrisation's bound. */
#include <string.h>

#include "nn/gdn.h"
#include "nn/params.h"
#include "nn/rng.h"
#include "nn/tensor.h"
#include "tests/check.h"

static void fill_uniform(float *v, size_t n, nn_rng *rng, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * nn_rng_uniform(rng);
}

/* One layer with its parameters, input, weights R and scratch tensors. */
typedef struct {
    nn_params p;
    nn_gdn layer;
    nn_tensor x, y, r, dx;
    nn_workspace ws;
} rig;

static int rig_setup(rig *g, int inverse, int n, int c, int h, int w, nn_rng *rng)
{
    memset(g, 0, sizeof *g);
    nn_params_init(&g->p);
    /* a block declared first so the layer's offsets are not 0 */
    if (nn_params_declare(&g->p, "other", 5, 1, 1, 1) == (size_t)-1) return -1;
    if (nn_gdn_declare(&g->layer, &g->p, inverse ? "igdn" : "gdn", c, inverse) != 0) return -1;
    if (nn_params_alloc(&g->p) != 0) return -1;
    if (nn_tensor_alloc(&g->x, n, c, h, w) != 0 || nn_tensor_alloc(&g->r, n, c, h, w) != 0)
        return -1;
    size_t count = nn_tensor_numel(&g->x);
    fill_uniform(g->x.data, count, rng, -2.0f, 2.0f);
    fill_uniform(g->r.data, count, rng, -1.0f, 1.0f);
    /* stored values well above the bounds, so the map is smooth there */
    fill_uniform(g->p.value + g->layer.beta, (size_t)c, rng, 0.5f, 1.2f);
    fill_uniform(g->p.value + g->layer.gamma, (size_t)c * c, rng, 0.05f, 0.5f);
    return 0;
}

static void rig_free(rig *g)
{
    nn_params_free(&g->p);
    nn_tensor_free(&g->x); nn_tensor_free(&g->y); nn_tensor_free(&g->r); nn_tensor_free(&g->dx);
    nn_workspace_free(&g->ws);
}

static double rig_loss(rig *g)
{
    if (nn_gdn_forward(&g->layer, &g->p, &g->x, &g->y, &g->ws) != 0) return NAN;
    double s = 0.0;
    size_t count = nn_tensor_numel(&g->y);
    for (size_t i = 0; i < count; i++) s += (double)g->y.data[i] * g->r.data[i];
    return s;
}

/* Central difference of the loss in one float; divides by the step actually
 * taken (x + eps rounds in float). */
static double central_difference(rig *g, float *v, double eps)
{
    float keep = *v;
    float up = keep + (float)eps, down = keep - (float)eps;
    *v = up;
    double loss_up = rig_loss(g);
    *v = down;
    double loss_down = rig_loss(g);
    *v = keep;
    return (loss_up - loss_down) / ((double)up - (double)down);
}

static void test_init_and_effective(void)
{
    nn_params p;
    nn_params_init(&p);
    nn_gdn l;
    CHECK(nn_gdn_declare(&l, &p, "enc.gdn0", 3, 0) == 0, "declare");
    CHECK(nn_params_find(&p, "enc.gdn0.beta") && nn_params_find(&p, "enc.gdn0.gamma"), "names");
    const nn_param_entry *e = nn_params_find(&p, "enc.gdn0.gamma");
    CHECK(e && e->shape[0] == 3 && e->shape[1] == 3, "gamma shape");
    nn_gdn too_long;
    CHECK(nn_gdn_declare(&too_long, &p, "a_name_that_is_far_too_long_for_a_parameter_x", 3, 0) != 0,
          "over-long name refused");
    if (nn_params_alloc(&p) != 0) { CHECK(0, "alloc"); nn_params_free(&p); return; }
    nn_gdn_init(&l, &p);
    float beta[3], gamma[9];
    nn_gdn_effective(&l, &p, beta, gamma);
    for (int i = 0; i < 3; i++) {
        CHECK_CLOSE(beta[i], 1.0, 1e-7, "init beta = 1");
        for (int j = 0; j < 3; j++)
            if (i == j) CHECK_CLOSE(gamma[i * 3 + j], 0.1, 1e-7, "init gamma diagonal = 0.1");
            else CHECK(gamma[i * 3 + j] == 0.0f, "init gamma off-diagonal exactly 0: %g", gamma[i * 3 + j]);
    }

    /* The bounds: beta never below beta_min = 1e-6, gamma never below 0,
     * whatever the stored value; above the bound value = stored^2 - 2^-36. */
    float *sb = p.value + l.beta, *sg = p.value + l.gamma;
    sb[0] = 0.0f; sb[1] = -5.0f; sb[2] = 2.0f;
    sg[0] = 0.0f; sg[1] = -1.0f; sg[2] = 0.5f;
    nn_gdn_effective(&l, &p, beta, gamma);
    CHECK_CLOSE(beta[0] * 1e6, 1.0, 1e-5, "stored 0 -> beta_min");
    CHECK_CLOSE(beta[1] * 1e6, 1.0, 1e-5, "stored -5 -> beta_min");
    CHECK_CLOSE(beta[2], 4.0, 1e-7, "stored 2 -> 4");
    CHECK(gamma[0] == 0.0f && gamma[1] == 0.0f, "gamma bounded at 0: %g %g", gamma[0], gamma[1]);
    CHECK_CLOSE(gamma[2], 0.25, 1e-7, "stored 0.5 -> 0.25");
    nn_params_free(&p);
}

static void test_forward(int inverse, int n, int c, int h, int w, nn_rng *rng)
{
    rig g;
    if (rig_setup(&g, inverse, n, c, h, w, rng) != 0) { CHECK(0, "setup"); rig_free(&g); return; }
    float *beta = malloc((size_t)c * sizeof *beta), *gamma = malloc((size_t)c * c * sizeof *gamma);
    int ok = beta && gamma && nn_gdn_forward(&g.layer, &g.p, &g.x, &g.y, &g.ws) == 0;
    CHECK(ok, "forward runs");
    if (ok) {
        CHECK(g.y.n == n && g.y.c == c && g.y.h == h && g.y.w == w, "output shape");
        nn_gdn_effective(&g.layer, &g.p, beta, gamma);
        double worst = 0;
        size_t plane = (size_t)h * w;
        for (int b = 0; b < n; b++)
            for (size_t i = 0; i < plane; i++)
                for (int ci = 0; ci < c; ci++) {
                    double d = beta[ci];
                    for (int cj = 0; cj < c; cj++) {
                        double xj = g.x.data[((size_t)b * c + cj) * plane + i];
                        d += (double)gamma[ci * c + cj] * xj * xj;
                    }
                    size_t at = ((size_t)b * c + ci) * plane + i;
                    double want = inverse ? g.x.data[at] * sqrt(d) : g.x.data[at] / sqrt(d);
                    double err = fabs(g.y.data[at] - want) / fmax(1.0, fabs(want));
                    if (err > worst) worst = err;
                }
        CHECK(worst < 2e-6, "%s forward %dx%dx%dx%d vs direct: worst error %g",
              inverse ? "IGDN" : "GDN", n, c, h, w, worst);
    }
    free(beta); free(gamma);
    rig_free(&g);
}

/* Gradients against central differences. eps = 1e-3 on values of order 1;
 * the truncation error is O(eps^2) ~ 1e-6 and the float rounding of the
 * loss divided by 2 eps is ~1e-4, so the tolerance is 2e-3, relative above
 * magnitude 1 (CHECK_CLOSE). `samples` coordinates of each kind are checked
 * (all of them if there are fewer). */
static void test_gradients(int inverse, int n, int c, int h, int w, int samples, nn_rng *rng)
{
    const double eps = 1e-3, tol = 2e-3;
    rig g;
    if (rig_setup(&g, inverse, n, c, h, w, rng) != 0) { CHECK(0, "setup"); rig_free(&g); return; }
    /* parameter gradients accumulate: start from known values */
    for (size_t i = 0; i < g.p.count; i++) g.p.grad[i] = 0.25f;
    int ok = nn_gdn_forward(&g.layer, &g.p, &g.x, &g.y, &g.ws) == 0 &&
             nn_gdn_backward(&g.layer, &g.p, &g.x, &g.r, &g.dx, &g.ws) == 0;
    CHECK(ok, "backward runs");
    if (!ok) { rig_free(&g); return; }
    CHECK(g.dx.n == n && g.dx.c == c && g.dx.h == h && g.dx.w == w, "dx shape");
    CHECK(g.p.grad[0] == 0.25f, "other parameters' gradients untouched");
    const char *name = inverse ? "IGDN" : "GDN";
    {   /* without p->grad: the same dx, and no parameter gradients */
        nn_tensor dx2 = {0};
        float *grad = g.p.grad;
        g.p.grad = NULL;
        int ok2 = nn_gdn_backward(&g.layer, &g.p, &g.x, &g.r, &dx2, &g.ws) == 0;
        g.p.grad = grad;
        CHECK(ok2 && !memcmp(dx2.data, g.dx.data, nn_tensor_numel(&g.dx) * sizeof(float)),
              "%s: backward without p->grad gives the same dx", name);
        nn_tensor_free(&dx2);
    }
    char what[64];

    size_t count = nn_tensor_numel(&g.x);
    size_t stride = count <= (size_t)samples ? 1 : count / (size_t)samples;
    snprintf(what, sizeof what, "%s dx vs FD", name);
    for (size_t k = (size_t)nn_rng_below(rng, (uint32_t)stride); k < count; k += stride)
        CHECK_CLOSE(g.dx.data[k], central_difference(&g, &g.x.data[k], eps), tol, what);

    snprintf(what, sizeof what, "%s dbeta vs FD", name);
    for (int i = 0; i < c; i++) {
        size_t at = g.layer.beta + (size_t)i;
        CHECK_CLOSE(g.p.grad[at] - 0.25f, central_difference(&g, &g.p.value[at], eps), tol, what);
    }
    size_t gcount = (size_t)c * c;
    stride = gcount <= (size_t)samples ? 1 : gcount / (size_t)samples;
    snprintf(what, sizeof what, "%s dgamma vs FD", name);
    for (size_t k = (size_t)nn_rng_below(rng, (uint32_t)stride); k < gcount; k += stride) {
        size_t at = g.layer.gamma + k;
        CHECK_CLOSE(g.p.grad[at] - 0.25f, central_difference(&g, &g.p.value[at], eps), tol, what);
    }
    rig_free(&g);
}

/* Below the bound the gradient of the stored value passes only when it
 * would raise the value. With R = x (times the sign s of the exponent),
 * dloss/dbeta_0 = sum x^2 s D^(s-1) * sign has a known sign:
 *   GDN  (s = -1/2), R =  x: negative -> passes; R = -x: positive -> blocked.
 *   IGDN (s = +1/2): the other way round.
 * Where it passes it equals the gradient at stored = bound exactly (same
 * forward values, same chain factor 2 * bound). Same for gamma_01, whose
 * gradient sum E_0 x_1^2 has the sign of E_0. */
static void test_bound_gradient(int inverse, nn_rng *rng)
{
    const char *name = inverse ? "IGDN" : "GDN";
    rig g;
    if (rig_setup(&g, inverse, 2, 3, 4, 4, rng) != 0) { CHECK(0, "setup"); rig_free(&g); return; }
    const float beta_bound = sqrtf(1e-6f + 1.4551915228366852e-11f), gamma_bound = 0x1p-18f;
    size_t count = nn_tensor_numel(&g.x);
    size_t b0 = g.layer.beta, g01 = g.layer.gamma + 1;
    for (int push_up = 0; push_up < 2; push_up++) {
        /* R = +-x on channel 0 only, so only E_0 matters */
        float sign = (push_up ? 1.0f : -1.0f) * (inverse ? -1.0f : 1.0f);
        memset(g.r.data, 0, count * sizeof(float));
        for (int n = 0; n < g.x.n; n++)
            for (int i = 0; i < 16; i++) g.r.data[(size_t)n * 3 * 16 + i] = sign * g.x.data[(size_t)n * 3 * 16 + i];
        float below_beta, below_gamma, at_beta, at_gamma;
        g.p.value[b0] = 0.0f;
        g.p.value[g01] = -0.3f;
        nn_params_zero_grad(&g.p);
        int ok = nn_gdn_backward(&g.layer, &g.p, &g.x, &g.r, &g.dx, &g.ws) == 0;
        below_beta = g.p.grad[b0]; below_gamma = g.p.grad[g01];
        g.p.value[b0] = beta_bound;
        g.p.value[g01] = gamma_bound;
        nn_params_zero_grad(&g.p);
        ok &= nn_gdn_backward(&g.layer, &g.p, &g.x, &g.r, &g.dx, &g.ws) == 0;
        at_beta = g.p.grad[b0]; at_gamma = g.p.grad[g01];
        CHECK(ok, "backward runs");
        CHECK((at_beta < 0) == (push_up == 1) && at_beta != 0, "%s beta gradient sign at the bound: %g", name, at_beta);
        CHECK((at_gamma < 0) == (push_up == 1) && at_gamma != 0, "%s gamma gradient sign at the bound: %g", name, at_gamma);
        if (push_up) {
            CHECK(below_beta == at_beta, "%s beta: upward gradient passes below the bound: %g vs %g", name, below_beta, at_beta);
            CHECK(below_gamma == at_gamma, "%s gamma: upward gradient passes below the bound: %g vs %g", name, below_gamma, at_gamma);
        } else {
            CHECK(below_beta == 0.0f, "%s beta: downward gradient blocked below the bound: %g", name, below_beta);
            CHECK(below_gamma == 0.0f, "%s gamma: downward gradient blocked below the bound: %g", name, below_gamma);
        }
    }
    rig_free(&g);
}

static void test_errors(void)
{
    nn_params p;
    nn_params_init(&p);
    nn_gdn l;
    nn_tensor x = {0}, y = {0}, dx = {0};
    nn_workspace ws = {0};
    int ok = nn_gdn_declare(&l, &p, "g", 4, 0) == 0 && nn_params_alloc(&p) == 0 &&
             nn_tensor_alloc(&x, 1, 3, 2, 2) == 0;
    CHECK(ok, "setup");
    if (ok) {
        nn_gdn_init(&l, &p);
        CHECK(nn_gdn_forward(&l, &p, &x, &y, &ws) == -1, "channel mismatch refused (forward)");
        CHECK(nn_gdn_backward(&l, &p, &x, &x, &dx, &ws) == -1, "channel mismatch refused (backward)");
    }
    nn_tensor_free(&x); nn_tensor_free(&y); nn_tensor_free(&dx);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

/* nn_gdn_forward_inplace on rows r0 .. r1 - 1 of every image (channels a
 * plane apart) gives nn_gdn_forward's values there, up to the last bits
 * of the denominators' sums, and leaves the other rows alone. */
static void test_inplace(int inverse, int n, int c, int h, int w, int r0, int r1, nn_rng *rng)
{
    rig g;
    if (rig_setup(&g, inverse, n, c, h, w, rng) != 0) { CHECK(0, "setup"); rig_free(&g); return; }
    nn_tensor t = {0};
    int ok = nn_gdn_forward(&g.layer, &g.p, &g.x, &g.y, &g.ws) == 0 && nn_tensor_copy(&t, &g.x) == 0;
    const size_t plane = (size_t)h * w;
    for (int b = 0; ok && b < n; b++)
        ok = nn_gdn_forward_inplace(&g.layer, &g.p, t.data + (size_t)b * c * plane + (size_t)r0 * w,
                                    (size_t)(r1 - r0) * w, plane, &g.ws) == 0;
    CHECK(ok, "in-place %dx%dx%dx%d rows %d..%d runs", n, c, h, w, r0, r1);
    double worst = 0;
    int untouched = 1;
    for (size_t k = 0; ok && k < nn_tensor_numel(&t); k++) {
        const int row = (int)(k % plane / (size_t)w);
        if (row >= r0 && row < r1)
            worst = fmax(worst, fabs((double)t.data[k] - g.y.data[k]) / fmax(1.0, fabs(g.y.data[k])));
        else
            untouched &= t.data[k] == g.x.data[k];
    }
    CHECK(worst < 2e-6, "%s in place %dx%dx%dx%d rows %d..%d vs nn_gdn_forward: worst error %g",
          inverse ? "IGDN" : "GDN", n, c, h, w, r0, r1, worst);
    CHECK(untouched, "in place: rows outside %d..%d changed", r0, r1);
    nn_tensor_free(&t);
    rig_free(&g);
}

int main(void)
{
    nn_rng rng;
    nn_rng_seed(&rng, 2016);
    test_init_and_effective();
    for (int inverse = 0; inverse < 2; inverse++) {
        test_forward(inverse, 1, 1, 1, 1, &rng);
        test_forward(inverse, 3, 7, 5, 9, &rng);
        test_forward(inverse, 2, 16, 32, 32, &rng); /* large enough for the parallel path */
        test_gradients(inverse, 2, 4, 3, 5, 1000, &rng); /* every coordinate */
        test_gradients(inverse, 3, 12, 7, 9, 40, &rng);
        test_gradients(inverse, 2, 16, 32, 32, 12, &rng);
        test_bound_gradient(inverse, &rng);
        test_inplace(inverse, 1, 5, 7, 9, 0, 7, &rng);       /* one short block */
        test_inplace(inverse, 2, 32, 40, 33, 3, 37, &rng);  /* blocks of 256 and a rest, parallel */
        test_inplace(inverse, 1, 128, 20, 64, 8, 20, &rng); /* the decoder's channel count */
    }
    test_errors();
    return check_report("test_gdn");
}
