/* tests/test_search.c - the encoder's latent search (codec/search.c): its
 * gradient against finite differences of its own loss (relaxed, with the
 * noise held fixed), and what a search promises: never a worse rounded
 * loss than where it started, the same result every time, the model
 * untouched, a context model refused. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/search.h"
#include "nn/rng.h"
#include "tests/check.h"
#include "tests/small_model.h"
#include "tools/train/model_train.h"

#define PW 128
#define PH 128
#define IW 120
#define IH 100
#define TAU 0.4f

/* A smooth picture with some edges, in [0, 1], padded planar. */
static void make_image(nn_tensor *x)
{
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < PH; y++)
            for (int i = 0; i < PW; i++) {
                const int sy = y < IH ? y : IH - 1, si = i < IW ? i : IW - 1;
                double v = 0.5 + 0.3 * sin(0.11 * si + 0.7 * c) * cos(0.07 * sy) +
                           ((si / 17 + sy / 23) % 2 ? 0.15 : -0.15);
                x->data[((size_t)c * PH + y) * PW + i] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
            }
}

/* The relaxed loss, the noise held fixed (seed 3) */
static double relaxed_loss(const aec_model *m, aec_train_state *s, const nn_tensor *x, float t,
                           const nn_tensor *y, const nn_tensor *z)
{
    double loss = NAN;
    if (aec_search_loss(m, s, x, IW, IH, t, y, z, TAU, 3, &loss, NULL, NULL)) return NAN;
    return loss;
}

/* d loss / d v[at] by central differences: the median over five steps.
 * The relaxed loss is jagged at small scales (a latent crossing an integer
 * changes which two values it is relaxed between), so the difference at
 * any one step strays by a few percent, a different few on each BLAS
 * kernel; the median of several does not. */
static double median_difference(const aec_model *m, aec_train_state *s, const nn_tensor *x,
                                 float t, nn_tensor *y, nn_tensor *z, nn_tensor *v, size_t at,
                                 float at_value)
{
    const float steps[5] = {5e-5f, 1e-4f, 2.5e-4f, 5e-4f, 1e-3f};
    double e[5];
    for (int k = 0; k < 5; k++) {
        const float up = at_value + steps[k], down = at_value - steps[k];
        v->data[at] = up;
        const double lp = relaxed_loss(m, s, x, t, y, z);
        v->data[at] = down;
        const double lm = relaxed_loss(m, s, x, t, y, z);
        v->data[at] = at_value;
        /* the step as the floats took it, not as asked */
        e[k] = (lp - lm) / ((double)up - (double)down);
        if (isnan(e[k])) return NAN;
    }
    for (int i = 1; i < 5; i++) /* insertion sort */
        for (int j = i; j > 0 && e[j] < e[j - 1]; j--) {
            const double tmp = e[j];
            e[j] = e[j - 1];
            e[j - 1] = tmp;
        }
    return e[2];
}

/* d loss / d v against central differences: along the gradient itself
 * (the directional derivative is |grad|), and at the `picks` elements of
 * largest gradient. Single elements move the loss by little against the
 * float noise of a whole synthesis pass, so small gradients are checked
 * in the directional sum only. */
static void check_gradient(const aec_model *m, aec_train_state *s, const nn_tensor *x, float t,
                           nn_tensor *y, nn_tensor *z, nn_tensor *v, const nn_tensor *grad,
                           const char *name, int picks)
{
    const size_t n = nn_tensor_numel(v);
    float *keep = malloc(n * sizeof *keep);
    if (!keep) abort();
    memcpy(keep, v->data, n * sizeof *keep);
    double norm = 0;
    for (size_t i = 0; i < n; i++) norm += (double)grad->data[i] * grad->data[i];
    norm = sqrt(norm);
    const double eps = 1e-3;
    double l[2];
    for (int k = 0; k < 2; k++) {
        const double e = k ? -eps : eps;
        for (size_t i = 0; i < n; i++) v->data[i] = keep[i] + (float)(e * grad->data[i] / norm);
        l[k] = relaxed_loss(m, s, x, t, y, z);
    }
    memcpy(v->data, keep, n * sizeof *keep);
    const double fd = (l[0] - l[1]) / (2 * eps);
    CHECK(fabs(fd - norm) <= 0.02 * norm, "%s: along the gradient %.6g, finite differences %.6g",
          name, norm, fd);
    int bad = 0;
    for (int k = 0; k < picks; k++) {
        size_t at = 0;   /* the k-th largest |gradient| */
        float below = INFINITY;
        for (int j = 0; j <= k; j++) {
            float best = -1;
            for (size_t i = 0; i < n; i++) {
                const float g = fabsf(grad->data[i]);
                if (g < below && g > best) {
                    best = g;
                    at = i;
                }
            }
            below = best;
        }
        const double e = median_difference(m, s, x, t, y, z, v, at, keep[at]), a = grad->data[at];
        if (!(fabs(e - a) <= 0.03 * fabs(a))) {
            bad++;
            fprintf(stderr, "%s[%zu]: analytic %.6g, finite differences %.6g\n", name, at, a, e);
        }
    }
    CHECK(bad == 0, "%s: %d of the %d largest gradients off", name, bad, picks);
    free(keep);
}

int main(void)
{
    aec_model m;
    if (small_model_create(&m, 16, 24, 3, 11)) return 1;
    aec_train_state s;
    aec_train_state_init(&s, 5);
    nn_tensor x = {0}, y = {0}, z = {0}, dy = {0}, dz = {0};
    if (nn_tensor_alloc(&x, 1, 3, PH, PW)) return 1;
    make_image(&x);
    /* a fresh model's scales are mostly below the Gaussian's lower bound,
     * where the rate's gradient passes by design (nn/likelihood.h) and
     * finite differences see none: raise them (h_s's last bias, scales
     * first) */
    for (int c = 0; c < m.arch.m; c++) m.p.value[m.hs_out.b + (size_t)c] += 2.0f;
    const float t = 1.3f;
    CHECK(aec_model_analyze(&m, &s, &x, t) == 0, "analyze");
    CHECK(nn_tensor_copy(&y, &s.y_g) == 0 && nn_tensor_copy(&z, &s.z_g) == 0, "copy latents");
    CHECK(y.h == 8 && y.w == 8 && z.h == 2 && z.w == 2, "latent shapes %dx%d, %dx%d", y.h, y.w, z.h, z.w);

    /* the gradient of the relaxed loss, for y and for z */
    double loss, again;
    CHECK(aec_search_loss(&m, &s, &x, IW, IH, t, &y, &z, TAU, 3, &loss, &dy, &dz) == 0 &&
              aec_search_loss(&m, &s, &x, IW, IH, t, &y, &z, TAU, 3, &again, NULL, NULL) == 0 &&
              loss == again && loss > 0,
          "the relaxed loss is the same with the same noise (%g, %g)", loss, again);
    check_gradient(&m, &s, &x, t, &y, &z, &y, &dy, "d loss / d y", 8);
    check_gradient(&m, &s, &x, t, &y, &z, &z, &dz, "d loss / d z", 8);

    /* a search never ends above its start, by the rounded loss */
    float *weights = malloc(m.p.count * sizeof(float));
    if (!weights) return 1;
    memcpy(weights, m.p.value, m.p.count * sizeof(float));
    double start, end, gain = -1;
    CHECK(aec_search_loss(&m, &s, &x, IW, IH, t, &y, &z, 0, 0, &start, NULL, NULL) == 0, "start");
    nn_tensor y1 = {0}, z1 = {0};
    CHECK(nn_tensor_copy(&y1, &y) == 0 && nn_tensor_copy(&z1, &z) == 0, "copies");
    aec_search_opts o = {40, 1, 0, {0, 0, 0, 0}};
    CHECK(aec_search_latents(&m, &s, &x, IW, IH, t, &y, &z, &o, &gain) == 0, "search");
    CHECK(aec_search_loss(&m, &s, &x, IW, IH, t, &y, &z, 0, 0, &end, NULL, NULL) == 0, "end");
    printf("search, 40 steps: rounded loss %.5f -> %.5f (gain %.2f%%)\n", start, end, 100 * gain);
    CHECK(gain > 0 && end < start && fabs(end - start * (1 - gain)) <= 1e-9 * start,
          "the search's gain is what it did to the rounded loss (%g -> %g, %g)", start, end, gain);
    CHECK(aec_search_latents(&m, &s, &x, IW, IH, t, &y1, &z1, &o, NULL) == 0 &&
              !memcmp(y1.data, y.data, nn_tensor_numel(&y) * sizeof(float)) &&
              !memcmp(z1.data, z.data, nn_tensor_numel(&z) * sizeof(float)),
          "the same search gives the same latents");
    CHECK(!memcmp(weights, m.p.value, m.p.count * sizeof(float)), "the model's weights are untouched");

    /* keep_only: the hyper-latent (1, 0) and its 4x4 latents move, nothing else */
    CHECK(nn_tensor_copy(&y1, &s.y_g) == 0 && nn_tensor_copy(&z1, &s.z_g) == 0, "copies");
    aec_search_opts part = {40, 1, 1, {1, 2, 0, 1}};
    CHECK(aec_search_latents(&m, &s, &x, IW, IH, t, &y1, &z1, &part, &gain) == 0 && gain > 0,
          "a search of one hyper-latent's cells gains (%g)", gain);
    int moved_in = 0, moved_out = 0;
    for (int ch = 0; ch < y1.c; ch++)
        for (int r = 0; r < y1.h; r++)
            for (int q = 0; q < y1.w; q++) {
                const size_t k = ((size_t)ch * y1.h + r) * y1.w + q;
                const int inside = r >= 4 && r < 8 && q < 4, moved = y1.data[k] != s.y_g.data[k];
                moved_in += inside && moved;
                moved_out += !inside && moved;
            }
    for (int ch = 0; ch < z1.c; ch++)
        for (int k = 0; k < 4; k++)
            moved_out += k != 2 && z1.data[ch * 4 + k] != s.z_g.data[ch * 4 + k];
    CHECK(moved_in > 0 && moved_out == 0, "keep_only: %d latents moved inside, %d outside", moved_in,
          moved_out);

    /* refused: a latent that does not match the image, a context model */
    nn_tensor small = {1, 3, 64, 64, x.data};
    CHECK(aec_search_latents(&m, &s, &small, 50, 50, t, &y, &z, &o, NULL) == -1,
          "an image that does not match the latent is refused");
    aec_arch ca = m.arch;
    ca.context = 1;
    aec_model cm;
    if (aec_model_relevel(&cm, &m, &ca) == 0) {
        CHECK(aec_search_latents(&cm, &s, &x, IW, IH, t, &y, &z, &o, NULL) == -1,
              "a context model is refused");
        aec_model_free(&cm);
    } else {
        CHECK(0, "context model");
    }

    free(weights);
    nn_tensor *all[] = {&x, &y, &z, &dy, &dz, &y1, &z1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nn_tensor_free(all[i]);
    aec_train_state_free(&s);
    aec_model_free(&m);
    return check_report("test_search");
}
