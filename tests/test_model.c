/* The assembled model: parameter layout, gradients of the parts of the loss
 * that do not pass through a rounding (checked against central finite
 * differences), and that a few Adam steps on one batch lower the loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/model.h"
#include "nn/adam.h"
#include "nn/deconv_winograd.h"
#include "nn/gdn.h"
#include "tests/check.h"
#include "tests/small_model.h"
#include "tools/train/model_train.h"

static void fill_batch(nn_tensor *x, unsigned seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    /* smooth-ish images: a few random gradients, so the codec has structure */
    for (int i = 0; i < x->n; i++)
        for (int c = 0; c < 3; c++) {
            float a = nn_rng_uniform(&r), b = nn_rng_uniform(&r), d = nn_rng_uniform(&r);
            for (int y = 0; y < x->h; y++)
                for (int xx = 0; xx < x->w; xx++)
                    x->data[((size_t)(i * 3 + c) * x->h + y) * x->w + xx] =
                        0.5f * a + 0.3f * b * (float)y / x->h + 0.2f * d * (float)xx / x->w;
        }
}

static double loss_at(aec_model *m, aec_train_state *s)
{
    nn_rng_seed(&s->rng, 99); /* same noise every evaluation */
    aec_model_train_forward(m, s);
    return s->loss;
}

/* The checkerboard context model, made from the plain model m by
 * relevel: it starts as m (its last layer is zero), its gradients match
 * finite differences, and an anchor's parameters never depend on a
 * non-anchor latent. */
static void test_context(const aec_model *m, aec_train_state *s)
{
    aec_arch a = m->arch;
    a.context = 1;
    aec_model c;
    CHECK(aec_model_relevel(&c, m, &a) == 0, "a context model from a plain one");
    CHECK(nn_params_find(&c.p, "ctx.conv.weight") && nn_params_find(&c.p, "ep.conv1.bias"),
          "context layers declared");
    nn_tensor one = {1, 3, 64, 64, s->x.data}, xh = {0};
    double plain = aec_model_eval(m, s, &one, 1.0f, &xh);
    double with = aec_model_eval(&c, s, &one, 1.0f, &xh);
    CHECK(plain == with, "a fresh context changes nothing: %g vs %g bits", plain, with);

    /* Gradients. The context's effect on the distortion passes through the
     * rounding y^ = mu + round(y - mu), whose mu-derivative training leaves
     * out on purpose (straight-through for y only), so the check runs with
     * the distortion weighted out: the rate alone. */
    for (int l = 0; l < c.arch.levels; l++) c.arch.lambda[l] = 1e-12f;
    nn_rng r;
    nn_rng_seed(&r, 11);
    const nn_param_entry *e1 = nn_params_find(&c.p, "ep.conv1.weight");
    for (size_t k = 0; k < e1->count; k++) c.p.value[e1->offset + k] = 0.2f * (nn_rng_uniform(&r) - 0.5f);
    loss_at(&c, s);
    nn_params_zero_grad(&c.p);
    CHECK(aec_model_train_backward(&c, s) == 0, "context backward");
    const char *blocks[] = {"ctx.conv.weight", "ctx.conv.bias", "ep.conv0.weight", "ep.conv1.weight",
                            "ep.conv1.bias", "h_s.conv2.weight"};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        const nn_param_entry *e = nn_params_find(&c.p, blocks[b]);
        double max_abs = 0;
        for (size_t k = 0; k < e->count; k++) max_abs = fmax(max_abs, fabs(c.p.grad[e->offset + k]));
        CHECK(max_abs > 0, "%s has a gradient", blocks[b]);
        for (int t = 0; t < 6; t++) {
            size_t k = e->offset + nn_rng_below(&r, (uint32_t)e->count);
            float saved = c.p.value[k];
            const float eps = 1e-3f;
            c.p.value[k] = saved + eps;
            double lp = loss_at(&c, s);
            c.p.value[k] = saved - eps;
            double lm = loss_at(&c, s);
            c.p.value[k] = saved;
            double fd = (lp - lm) / (2.0 * eps), an = c.p.grad[k];
            CHECK(fabs(fd - an) <= 0.02 * fmax(max_abs, 1e-3) + 0.05 * fabs(an),
                  "%s[%zu]: analytic %g vs finite difference %g", blocks[b], k - e->offset, an, fd);
        }
    }

    /* Causality: the parameters from a context source whose non-anchors
     * changed are all as before; with changed anchors, the anchors' are
     * as before and some non-anchor's moved. */
    loss_at(&c, s);
    nn_tensor src = {0}, mu0 = {0}, sc0 = {0};
    CHECK(nn_tensor_alloc(&src, s->y_g.n, s->y_g.c, s->y_g.h, s->y_g.w) == 0 &&
              nn_tensor_alloc(&mu0, s->mu.n, s->mu.c, s->mu.h, s->mu.w) == 0 &&
              nn_tensor_alloc(&sc0, s->mu.n, s->mu.c, s->mu.h, s->mu.w) == 0, "alloc");
    memcpy(mu0.data, s->mu.data, nn_tensor_numel(&mu0) * sizeof(float));
    memcpy(sc0.data, s->scale.data, nn_tensor_numel(&sc0) * sizeof(float));
    const int h = src.h, w = src.w;
    for (int parity = 1; parity >= 0; parity--) {
        memcpy(src.data, s->y_noisy.data, nn_tensor_numel(&src) * sizeof(float));
        for (int i = 0; i < src.n * src.c; i++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    if (((x + y) & 1) == parity) src.data[((size_t)i * h + y) * w + x] += 3.0f;
        CHECK(aec_model_entropy_params(&c, s, &src) == 0, "entropy params");
        int anchors_same = 1, others_same = 1;
        for (int i = 0; i < src.n * src.c; i++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    size_t k = ((size_t)i * h + y) * w + x;
                    int same = s->mu.data[k] == mu0.data[k] && s->scale.data[k] == sc0.data[k];
                    if (((x + y) & 1) == 0) anchors_same &= same;
                    else others_same &= same;
                }
        CHECK(anchors_same, "anchors' parameters unchanged (changed %s)", parity ? "non-anchors" : "anchors");
        CHECK(others_same == parity, "non-anchors' parameters %s (changed %s)",
              parity ? "unchanged" : "moved", parity ? "non-anchors" : "anchors");
    }
    nn_tensor_free(&src);
    nn_tensor_free(&mu0);
    nn_tensor_free(&sc0);
    nn_tensor_free(&xh);
    aec_model_free(&c);
}

/* aec_model_train_share: the shares of one batch that two processes of
 * aec train over MPI compute (here one worker each: 2 items and 1 of a
 * batch of 3) add up to the batch's gradient, which aec_model_train_split
 * gives with both workers in one process (up to float rounding: a lone
 * worker multiplies with OpenBLAS), and two workers that are half of a
 * batch give half its gradient; a batch smaller than the items is
 * refused. */
static void test_train_share(aec_model *m)
{
    const size_t n = m->p.count;
    aec_train_state w[2];
    memset(w, 0, sizeof w);
    float *g0 = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float));
    float *want = malloc(n * sizeof(float)), *got = calloc(n, sizeof(float));
    const int items[2] = {2, 1};
    int ok = g0 && g1 && want && got;
    for (int k = 0; ok && k < 2; k++) {
        aec_train_state_init(&w[k], 50 + (uint64_t)k);
        ok &= nn_tensor_alloc(&w[k].x, items[k], 3, 64, 64) == 0;
        if (ok) fill_batch(&w[k].x, 21 + (unsigned)k);
        for (int i = 0; i < items[k]; i++) w[k].level[i] = (2 * i + k) % m->arch.levels;
    }
    CHECK(ok, "allocations");
    float *grads[2] = {g0, g1};
    if (ok) CHECK(aec_model_train_split(m, w, 2, grads) == 0, "the batch in one process");
    if (ok) memcpy(want, m->p.grad, n * sizeof(float));
    for (int k = 0; ok && k < 2; k++) {
        nn_rng_seed(&w[k].rng, 50 + (uint64_t)k); /* the same noise again */
        CHECK(aec_model_train_share(m, &w[k], 1, NULL, 3) == 0, "process %d's share", k);
        for (size_t i = 0; i < n; i++) got[i] += m->p.grad[i];
    }
    if (ok) {
        double scale = 0, worst = 0;
        for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(got[i] - want[i]));
        CHECK(scale > 0 && worst <= 1e-4 * scale, "shares added vs the batch's gradient: %g of %g",
              worst, scale);
        /* both workers as half of a batch of 6: half the gradient */
        for (int k = 0; k < 2; k++) nn_rng_seed(&w[k].rng, 50 + (uint64_t)k);
        CHECK(aec_model_train_share(m, w, 2, grads, 6) == 0, "two workers' share");
        worst = 0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(2 * m->p.grad[i] - want[i]));
        CHECK(worst <= 1e-5 * scale, "two workers, half the batch: half its gradient (%g of %g)", worst,
              scale);
        CHECK(aec_model_train_share(m, w, 2, grads, 2) == -1, "a batch below the items refused");
    }
    for (int k = 0; k < 2; k++) aec_train_state_free(&w[k]);
    free(g0);
    free(g1);
    free(want);
    free(got);
}

/* aec_model_train_split: two workers (2 items and 1) in parallel give the
 * item-weighted mean of the gradients and losses the same states give run
 * one after the other (up to float rounding: the workers multiply with
 * nn_sgemm, the sequential runs with OpenBLAS); an idle worker counts for
 * nothing. */
static void test_train_split(aec_model *m)
{
    const size_t n = m->p.count;
    aec_train_state w[2], r[2];
    memset(w, 0, sizeof w);
    memset(r, 0, sizeof r);
    float *g0 = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float));
    float *want = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    const int items[2] = {2, 1};
    int ok = g0 && g1 && want && got;
    for (int k = 0; k < 2; k++) {
        aec_train_state_init(&w[k], 40 + (uint64_t)k);
        aec_train_state_init(&r[k], 40 + (uint64_t)k);
        ok &= nn_tensor_alloc(&w[k].x, items[k], 3, 64, 64) == 0 &&
              nn_tensor_alloc(&r[k].x, items[k], 3, 64, 64) == 0;
        if (!ok) break;
        fill_batch(&w[k].x, 11 + (unsigned)k);
        fill_batch(&r[k].x, 11 + (unsigned)k);
        for (int i = 0; i < items[k]; i++) w[k].level[i] = r[k].level[i] = (i + k) % m->arch.levels;
    }
    CHECK(ok, "allocations");
    if (ok) {
        float *grads[2] = {g0, g1};
        CHECK(aec_model_train_split(m, w, 2, grads) == 0, "split step");
        memcpy(got, m->p.grad, n * sizeof(float));
        for (int k = 0; k < 2; k++) {
            nn_params_zero_grad(&m->p);
            CHECK(aec_model_train_forward(m, &r[k]) == 0 && aec_model_train_backward(m, &r[k]) == 0,
                  "sequential step %d", k);
            for (size_t i = 0; i < n; i++)
                want[i] = (k ? want[i] : 0) + (float)items[k] / 3.0f * m->p.grad[i];
        }
        double scale = 0, worst = 0;
        for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(got[i] - want[i]));
        CHECK(scale > 0 && worst <= 1e-4 * scale, "split gradient vs weighted sequential: %g of %g",
              worst, scale);
        for (int k = 0; k < 2; k++)
            CHECK(fabs(w[k].loss - r[k].loss) <= 1e-5 * fabs(r[k].loss) && w[k].bits_y > 0,
                  "worker %d's loss %g vs %g", k, w[k].loss, r[k].loss);

        /* worker 1 idle: the gradient is worker 0's alone, whatever its
         * buffer holds (NaN here) */
        nn_tensor_free(&w[1].x);
        nn_rng_seed(&w[0].rng, 40);
        nn_rng_seed(&r[0].rng, 40);
        for (size_t i = 0; i < n; i++) g1[i] = NAN;
        CHECK(aec_model_train_split(m, w, 2, grads) == 0, "split step with an idle worker");
        memcpy(got, m->p.grad, n * sizeof(float));
        nn_params_zero_grad(&m->p);
        aec_model_train_forward(m, &r[0]);
        aec_model_train_backward(m, &r[0]);
        worst = 0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(got[i] - m->p.grad[i]));
        for (size_t i = 0; i < n; i++)
            if (!isfinite(got[i])) worst = INFINITY;
        CHECK(worst <= 1e-4 * scale, "idle worker: worker 0's gradient (%g)", worst);
        CHECK(aec_model_train_split(m, w, 0, grads) == -1 &&
                  aec_model_train_split(m, w, AEC_MAX_WORKERS + 1, grads) == -1,
              "worker counts out of range refused");
    }
    for (int k = 0; k < 2; k++) {
        aec_train_state_free(&w[k]);
        aec_train_state_free(&r[k]);
    }
    free(g0);
    free(g1);
    free(want);
    free(got);
}

/* The inference synthesis (aec_model_synthesis) streams its last layers
 * over bands of rows (synthesis_tail in codec/model.c); its output must be
 * the layers run one after the other on whole tensors, up to float
 * rounding, for bands forced small by the workspace cap (several bands, a
 * short last one, a batch of two) and for one band. N = 16: the third
 * transposed convolution must take the Winograd passes for the bands to
 * be used. */
static void test_banded_synthesis(void)
{
    aec_model m;
    if (small_model_create(&m, 16, 8, 2, 11)) {
        CHECK(0, "banded synthesis: create");
        return;
    }
    /* weights away from their initial values, so every tap matters */
    nn_rng r;
    nn_rng_seed(&r, 12);
    for (int i = 0; i < 4; i++) {
        float *w = m.p.value + m.gs[i].w;
        for (size_t k = 0; k < (size_t)m.gs[i].cin * m.gs[i].cout * 25; k++)
            w[k] += 0.05f * (nn_rng_uniform(&r) - 0.5f);
    }
    /* n, latent rows, latent columns, workspace cap: deconv2's output is
     * 8 rows a latent row, 16 channels x 8 columns a latent column, so the
     * bands are 8 rows (6 bands; 7 bands of a batch of two), 16 rows (16,
     * 16 and a last band of 8) and one band */
    static const int shapes[][4] = {
        {1, 6, 5, 30 << 10}, {2, 7, 3, 40 << 10}, {1, 5, 5, 18 * 2560}, {1, 5, 4, 0}};
    for (int t = 0; t < 4; t++) {
        const int n = shapes[t][0], h = shapes[t][1], w = shapes[t][2];
        nn_tensor y = {0}, a = {0}, b = {0}, x1 = {0}, x2 = {0};
        if (nn_tensor_alloc(&y, n, 8, h, w)) abort();
        for (size_t k = 0; k < nn_tensor_numel(&y); k++) y.data[k] = 4.0f * (nn_rng_uniform(&r) - 0.5f);
        nn_workspace banded = {.max_bytes = (size_t)shapes[t][3]}, whole = {0};
        CHECK(aec_model_synthesis(&m, &y, &x1, &banded) == 0, "banded synthesis %d: runs", t);
        /* the same layers on whole tensors */
        const nn_tensor *in = &y;
        int ok = 1;
        for (int i = 0; i < 4 && ok; i++) {
            nn_tensor *out = i == 3 ? &x2 : i % 2 ? &b : &a;
            ok = nn_deconv2d_forward_winograd(&m.gs[i], &m.p, in, out, &whole) == 0;
            if (ok && i < 3) {
                nn_tensor g = {0};
                ok = nn_gdn_forward(&m.gs_igdn[i], &m.p, out, &g, &whole) == 0;
                nn_tensor_free(out);
                *out = g;
            }
            in = out;
        }
        CHECK(ok && x1.n == x2.n && x1.c == 3 && x1.h == x2.h && x1.w == x2.w && x1.h == 16 * h,
              "banded synthesis %d: shapes", t);
        double worst = 0, top = 0;
        for (size_t k = 0; ok && k < nn_tensor_numel(&x1); k++) {
            worst = fmax(worst, fabs((double)x1.data[k] - x2.data[k]));
            top = fmax(top, fabs((double)x2.data[k]));
        }
        CHECK(ok && worst <= 1e-5 * fmax(1.0, top), "banded synthesis %d: differs by %g (values to %g)", t,
              worst, top);
        nn_tensor_free(&y);
        nn_tensor_free(&a);
        nn_tensor_free(&b);
        nn_tensor_free(&x1);
        nn_tensor_free(&x2);
        nn_workspace_free(&banded);
        nn_workspace_free(&whole);
    }
    aec_model_free(&m);
}

int main(void)
{
    aec_model m;
    if (small_model_create(&m, 6, 8, 3, 5)) {
        CHECK(0, "create");
        return check_report("test_model");
    }
    CHECK(nn_params_find(&m.p, "g_s.deconv3.weight") != NULL, "synthesis weight named");
    CHECK(nn_params_find(&m.p, "gain") && nn_params_find(&m.p, "gain")->count == 3 * 8, "gain shape");

    aec_train_state s;
    aec_train_state_init(&s, 1);
    CHECK(nn_tensor_alloc(&s.x, 2, 3, 64, 64) == 0, "alloc x");
    fill_batch(&s.x, 3);
    s.level[0] = 0;
    s.level[1] = 2;

    double loss = loss_at(&m, &s);
    CHECK(isfinite(loss) && loss > 0, "finite loss %g", loss);
    CHECK(s.y.c == 8 && s.y.h == 4 && s.z.h == 1 && s.x_hat.h == 64, "shapes");
    nn_params_zero_grad(&m.p);
    CHECK(aec_model_train_backward(&m, &s) == 0, "backward");

    /* Blocks whose effect on the loss bypasses every rounding: synthesis,
     * inverse gains, the z density. eps 1e-3 in float, tolerance 2% of the
     * gradient's scale (float forward of a 10-layer network). */
    const char *blocks[] = {"g_s.deconv3.weight", "g_s.deconv1.weight", "g_s.igdn2.beta",
                            "inv_gain", "z_density.matrix1", "z_density.bias3"};
    nn_rng pick;
    nn_rng_seed(&pick, 7);
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        const nn_param_entry *e = nn_params_find(&m.p, blocks[b]);
        CHECK(e != NULL, "block %s exists", blocks[b]);
        if (!e) continue;
        double max_abs = 0;
        for (size_t k = 0; k < e->count; k++) max_abs = fmax(max_abs, fabs(m.p.grad[e->offset + k]));
        for (int t = 0; t < 6; t++) {
            size_t k = e->offset + nn_rng_below(&pick, (uint32_t)e->count);
            float saved = m.p.value[k];
            const float eps = 1e-3f;
            m.p.value[k] = saved + eps;
            double lp = loss_at(&m, &s);
            m.p.value[k] = saved - eps;
            double lm = loss_at(&m, &s);
            m.p.value[k] = saved;
            double fd = (lp - lm) / (2.0 * eps);
            double an = m.p.grad[k];
            CHECK(fabs(fd - an) <= 0.02 * fmax(max_abs, 1e-3) + 0.05 * fabs(an),
                  "%s[%zu]: analytic %g vs finite difference %g", blocks[b], k - e->offset, an, fd);
        }
    }

    /* Overfitting one batch: 40 Adam steps lower the loss. */
    nn_adam adam;
    CHECK(nn_adam_init(&adam, m.p.count) == 0, "adam");
    double first = loss_at(&m, &s), last = first;
    for (int i = 0; i < 40; i++) {
        nn_params_zero_grad(&m.p);
        last = loss_at(&m, &s);
        aec_model_train_backward(&m, &s);
        nn_adam_step(&adam, &m.p, 3e-3f);
    }
    last = loss_at(&m, &s);
    CHECK(last < 0.8 * first, "loss fell: %g -> %g", first, last);

    /* evaluation path: deterministic, clamped output, positive bits */
    nn_tensor xh = {0}, one = {1, 3, 64, 64, s.x.data};
    double bits1 = aec_model_eval(&m, &s, &one, 1.0f, &xh);
    double bits2 = aec_model_eval(&m, &s, &one, 1.0f, &xh);
    CHECK(bits1 > 0 && bits1 == bits2, "eval bits %g %g", bits1, bits2);
    float lo = 1, hi = 0;
    for (size_t k = 0; k < nn_tensor_numel(&xh); k++) {
        lo = fminf(lo, xh.data[k]);
        hi = fmaxf(hi, xh.data[k]);
    }
    CHECK(lo >= 0 && hi <= 1, "clamped output [%g, %g]", lo, hi);
    double b_lo = aec_model_eval(&m, &s, &one, 0.0f, &xh);
    double b_hi = aec_model_eval(&m, &s, &one, 2.0f, &xh);
    CHECK(b_lo >= 0 && b_hi >= 0, "bits at both ends");

    /* Latent refinement on an image of 50x60 in its 64x64 padding, with the
     * (mu, scale) of the float hyperprior at t = 1 kept fixed. */
    aec_model_eval(&m, &s, &one, 1.0f, &xh);
    nn_tensor y = {0}, mu = {0}, sc = {0};
    CHECK(nn_tensor_alloc(&y, 1, 8, 4, 4) == 0 && nn_tensor_alloc(&mu, 1, 8, 4, 4) == 0 &&
              nn_tensor_alloc(&sc, 1, 8, 4, 4) == 0, "alloc latents");
    /* g_a's latent of this tiny model is already a local optimum of the
     * rounded loss (one step either way costs more), so refinement starts
     * from a damaged one: g_a's plus 1.6 on every other latent */
    memcpy(y.data, s.y_g.data, sizeof(float) * 128);
    for (int k = 0; k < 128; k += 2) y.data[k] += 1.6f;
    memcpy(mu.data, s.mu.data, sizeof(float) * 128);
    memcpy(sc.data, s.scale.data, sizeof(float) * 128);
    float y0[128], *weights = malloc(m.p.count * sizeof(float));
    memcpy(y0, y.data, sizeof y0);
    if (weights) memcpy(weights, m.p.value, m.p.count * sizeof(float));
    double gain = -1;
    CHECK(aec_model_refine_latent(&m, &s, &one, 50, 60, 1.0f, &y, &mu, &sc, 0, &gain) == 0 &&
              gain == 0 && !memcmp(y.data, y0, sizeof y0),
          "no steps: the latent is left alone (gain %g)", gain);
    CHECK(aec_model_refine_latent(&m, &s, &one, 50, 60, 1.0f, &y, &mu, &sc, 60, &gain) == 0,
          "refine");
    CHECK(gain > 0 && gain < 1, "60 steps lower the loss: by %.2f%%", 100 * gain);
    CHECK(memcmp(y.data, y0, sizeof y0) != 0, "the latent moved");
    double again = -1;
    CHECK(aec_model_refine_latent(&m, &s, &one, 50, 60, 1.0f, &y, &mu, &sc, 3, &again) == 0 &&
              again >= 0, "refining the result again never loses (%g)", again);
    CHECK(weights && !memcmp(weights, m.p.value, m.p.count * sizeof(float)),
          "the model's weights are untouched");
    nn_tensor bad = {1, 3, 64, 48, s.x.data};
    CHECK(aec_model_refine_latent(&m, &s, &bad, 50, 60, 1.0f, &y, &mu, &sc, 3, NULL) == -1,
          "an image that does not match the latent is refused");
    free(weights);
    nn_tensor_free(&y);
    nn_tensor_free(&mu);
    nn_tensor_free(&sc);

    /* Changing the rate levels: lambdas a/2 (extrapolated), a, sqrt(a b)
     * (between), c (the old top) and 2c (extrapolated). */
    {
        const aec_arch *o = &m.arch;
        aec_arch na = *o;
        const double la = o->lambda[0], lb = o->lambda[1], lc = o->lambda[2];
        na.levels = 5;
        na.lambda[0] = (float)(la / 2);
        na.lambda[1] = o->lambda[0];
        na.lambda[2] = (float)sqrt(la * lb);
        na.lambda[3] = o->lambda[2];
        na.lambda[4] = (float)(2 * lc);
        aec_model r;
        CHECK(aec_model_relevel(&r, &m, &na) == 0, "relevel");
        const nn_param_entry *w0 = nn_params_find(&m.p, "g_s.deconv1.weight");
        const nn_param_entry *w1 = nn_params_find(&r.p, "g_s.deconv1.weight");
        CHECK(w0 && w1 && !memcmp(m.p.value + w0->offset, r.p.value + w1->offset, w0->count * 4),
              "the transforms are copied");
        const float *g = m.p.value + m.gain, *ng = r.p.value + r.gain;
        double worst = 0;
        for (int c = 0; c < 8; c++) {
            double g0 = log(g[c]), g1 = log(g[8 + c]), g2 = log(g[16 + c]);
            double want[5] = {g0 - (g1 - g0) * log(2.0) / (log(lb) - log(la)), g0,
                              0.5 * (g0 + g1), g2, g2 + (g2 - g1) * log(2.0) / (log(lc) - log(lb))};
            for (int l = 0; l < 5; l++) worst = fmax(worst, fabs(log(ng[l * 8 + c]) - want[l]));
        }
        CHECK(worst < 1e-4, "gains interpolated in log(lambda): worst log error %g", worst);
        CHECK(ng[8] == g[0] && ng[3 * 8 + 5] == g[2 * 8 + 5], "a kept lambda keeps its gains exactly");
        aec_model_free(&r);
        na.lambda[2] = na.lambda[1];
        CHECK(aec_model_relevel(&r, &m, &na) == -1, "lambdas not increasing: refused");
    }

    test_context(&m, &s);
    test_train_split(&m);
    test_train_share(&m);
    test_banded_synthesis();

    nn_tensor_free(&xh);
    nn_adam_free(&adam);
    aec_train_state_free(&s);
    aec_model_free(&m);
    return check_report("test_model");
}
