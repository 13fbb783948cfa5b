/* Checks of the Adam optimiser, gradient clipping and the learning-rate
 * schedule. */
#include <string.h>

#include "nn/adam.h"
#include "nn/params.h"
#include "tests/check.h"

/* Two steps on a 3-vector against values worked out by hand (and with a
 * double-precision script): lr 0.1, default betas, gradients
 * (0.5, -2, 0) then (0.1, 1, 3) from x = (1, 2, -1).
 *   step 1: m = 0.1 g, v = 0.001 g^2, m/c1 = g, v/c2 = g^2, so each moving
 *           coordinate moves by lr * sign(g); a zero gradient moves nothing.
 *   step 2, coordinate 0: m = 0.055, v = 2.5975e-4, c1 = 0.19,
 *           c2 = 1.999e-3: 0.9 - 0.1 * 0.28947 / 0.36047 = 0.81970. */
static void test_hand_step(void)
{
    nn_params p;
    nn_params_init(&p);
    size_t off = nn_params_declare(&p, "x", 3, 1, 1, 1);
    nn_adam a;
    int ok = off == 0 && nn_params_alloc(&p) == 0 && nn_adam_init(&a, p.count) == 0;
    CHECK(ok, "setup");
    if (!ok) { nn_params_free(&p); return; }
    CHECK(a.beta1 == 0.9f && a.beta2 == 0.999f && a.eps == 1e-8f && a.clip_norm == 0 && a.step == 0,
          "defaults");
    const float x0[3] = {1, 2, -1};
    const float g1[3] = {0.5f, -2, 0}, g2[3] = {0.1f, 1, 3};
    memcpy(p.value, x0, sizeof x0);
    memcpy(p.grad, g1, sizeof g1);
    double norm = nn_adam_step(&a, &p, 0.1f);
    CHECK_CLOSE(norm, sqrt(0.25 + 4), 1e-7, "returned norm");
    CHECK(a.step == 1, "step counted");
    const double want1[3] = {0.900000002, 2.100000000, -1.0};
    for (int i = 0; i < 3; i++) CHECK_CLOSE(p.value[i], want1[i], 1e-6, "step 1");
    CHECK(p.grad[0] == g1[0], "gradients are not zeroed");
    memcpy(p.grad, g2, sizeof g2);
    nn_adam_step(&a, &p, 0.1f);
    const double want2[3] = {0.819695906, 2.126633703, -1.074413682};
    for (int i = 0; i < 3; i++) CHECK_CLOSE(p.value[i], want2[i], 1e-6, "step 2");

    /* the same two steps through tick + update_range in two pieces */
    nn_adam b;
    CHECK(nn_adam_init(&b, p.count) == 0, "init b");
    memcpy(p.value, x0, sizeof x0);
    for (int s = 0; s < 2; s++) {
        memcpy(p.grad, s ? g2 : g1, sizeof g1);
        nn_adam_tick(&b);
        nn_adam_update_range(&b, &p, 0, 1, 0.1f, 1.0f);
        nn_adam_update_range(&b, &p, 1, 3, 0.1f, 1.0f);
    }
    for (int i = 0; i < 3; i++) CHECK_CLOSE(p.value[i], want2[i], 1e-6, "range updates");

    /* a range with lr 0 leaves its values alone; outside the range untouched */
    float before[3];
    memcpy(before, p.value, sizeof before);
    nn_adam_tick(&b);
    nn_adam_update_range(&b, &p, 1, 2, 0.0f, 1.0f);
    CHECK(memcmp(before, p.value, sizeof before) == 0, "lr 0 and out-of-range untouched");
    nn_adam_free(&a);
    nn_adam_free(&b);
    nn_params_free(&p);
}

/* f(x) = sum_i 0.5 k_i (x_i - t_i)^2 with curvatures over three decades;
 * 3000 steps with the cosine schedule must land within 1e-3 of t. */
static void test_quadratic(void)
{
    enum { N = 40 };
    nn_params p;
    nn_params_init(&p);
    nn_params_declare(&p, "a", 7, 1, 1, 1);
    nn_params_declare(&p, "b", N - 7, 1, 1, 1);
    nn_adam a;
    int ok = nn_params_alloc(&p) == 0 && nn_adam_init(&a, p.count) == 0;
    CHECK(ok, "setup");
    if (!ok) { nn_params_free(&p); return; }
    double k[64], t[64];
    for (size_t i = 0; i < p.count; i++) {
        k[i] = pow(10.0, -1.0 + 3.0 * (double)(i % 10) / 9.0);
        t[i] = sin(0.7 * (double)i) * 3.0;
        p.value[i] = 0.0f;
    }
    nn_lr_schedule s = {.base = 0.05f, .final_frac = 0.001f, .decay_frac = 0.5f, .warmup = 100, .total = 3000};
    double f0 = 0, f = 0;
    for (size_t i = 0; i < p.count; i++) f0 += 0.5 * k[i] * t[i] * t[i];
    for (long step = 0; step < s.total; step++) {
        for (size_t i = 0; i < p.count; i++) p.grad[i] = (float)(k[i] * (p.value[i] - t[i]));
        nn_adam_step(&a, &p, nn_lr_at(&s, step));
    }
    double worst = 0;
    for (size_t i = 0; i < p.count; i++) {
        double d = p.value[i] - t[i];
        f += 0.5 * k[i] * d * d;
        if (fabs(d) > worst) worst = fabs(d);
    }
    CHECK(worst < 1e-3, "quadratic minimised: worst |x - t| = %g", worst);
    CHECK(f < 1e-6 * f0, "loss %g from %g", f, f0);
    nn_adam_free(&a);
    nn_params_free(&p);
}

static void test_clipping(void)
{
    nn_params p;
    nn_params_init(&p);
    nn_params_declare(&p, "w", 4, 1, 1, 1);
    nn_adam a;
    int ok = nn_params_alloc(&p) == 0 && nn_adam_init(&a, p.count) == 0;
    CHECK(ok, "setup");
    if (!ok) { nn_params_free(&p); return; }
    const float g[4] = {6, -8, 0, 0}; /* norm 10 */
    memcpy(p.grad, g, sizeof g);
    CHECK_CLOSE(nn_grad_norm(&p), 10.0, 1e-12, "grad norm");

    /* clipped to norm 2: the first moment is (1 - beta1) * g * 2/10 */
    a.clip_norm = 2.0f;
    double norm = nn_adam_step(&a, &p, 0.01f);
    CHECK_CLOSE(norm, 10.0, 1e-12, "norm before clipping returned");
    double m_norm = 0;
    for (int i = 0; i < 4; i++) {
        CHECK_CLOSE(a.m[i], 0.1 * g[i] * 0.2, 1e-6, "clipped first moment");
        m_norm += (double)a.m[i] * a.m[i];
    }
    CHECK_CLOSE(sqrt(m_norm) / (1 - 0.9), 2.0, 1e-6, "clipped gradient has the clip norm");
    CHECK(p.grad[0] == 6.0f, "clipping does not touch p->grad");

    /* below the threshold nothing is scaled */
    nn_adam b;
    CHECK(nn_adam_init(&b, p.count) == 0, "init b");
    b.clip_norm = 50.0f;
    nn_adam_step(&b, &p, 0.01f);
    for (int i = 0; i < 4; i++) CHECK_CLOSE(b.m[i], 0.1 * g[i], 1e-6, "unclipped first moment");
    nn_adam_free(&a);
    nn_adam_free(&b);
    nn_params_free(&p);
}

static void test_schedule(void)
{
    nn_lr_schedule s = {.base = 1e-3f, .final_frac = 0.01f, .decay_frac = 0.2f, .warmup = 100, .total = 1000};
    CHECK_CLOSE(nn_lr_at(&s, 0), 1e-4, 1e-9, "warm-up starts at 0.1 base");
    CHECK_CLOSE(nn_lr_at(&s, 50), 0.55e-3, 1e-9, "half-way through warm-up");
    CHECK_CLOSE(nn_lr_at(&s, 100), 1e-3, 1e-9, "end of warm-up");
    CHECK_CLOSE(nn_lr_at(&s, 500), 1e-3, 1e-9, "hold");
    CHECK_CLOSE(nn_lr_at(&s, 800), 1e-3, 1e-9, "decay starts at 1 - decay_frac");
    CHECK_CLOSE(nn_lr_at(&s, 900), 1e-3 * (0.01 + 0.99 * 0.5), 1e-9, "cosine midpoint");
    CHECK_CLOSE(nn_lr_at(&s, 1000), 1e-5, 1e-9, "final_frac at the end");
    CHECK_CLOSE(nn_lr_at(&s, 5000), 1e-5, 1e-9, "stays at final_frac after the end");
    int monotone = 1;
    for (long t = 101; t <= 1000; t++) monotone &= nn_lr_at(&s, t) <= nn_lr_at(&s, t - 1);
    CHECK(monotone, "non-increasing after warm-up");
    monotone = 1;
    for (long t = 1; t <= 100; t++) monotone &= nn_lr_at(&s, t) > nn_lr_at(&s, t - 1);
    CHECK(monotone, "increasing during warm-up");

    nn_lr_schedule flat = {.base = 2e-4f, .final_frac = 0.1f, .decay_frac = 0.0f, .warmup = 0, .total = 100};
    CHECK(nn_lr_at(&flat, 0) == 2e-4f && nn_lr_at(&flat, 99) == 2e-4f, "no warm-up, no decay: constant");
}

/* Per-entry factors: all 1 is nn_adam_step; 0 freezes an entry (values
 * and moments) and leaves its gradient out of the clipping norm; 2 moves
 * an entry twice as far on the first step (each coordinate moves by
 * lr * factor * sign(g) there). Three entries of 2, 3 and 1 floats. */
static const int scaled_sizes[3] = {2, 3, 1};

/* Copies six floats into (or out of, when out) the three entries. */
static void scaled_copy(nn_params *p, float *six, int out)
{
    for (int e = 0, k = 0; e < 3; e++)
        for (int i = 0; i < scaled_sizes[e]; i++, k++) {
            float *x = p->value + p->entries[e].offset + i;
            if (out) six[k] = *x;
            else *x = six[k];
        }
}

static void scaled_grad(nn_params *p, const float *six)
{
    for (int e = 0, k = 0; e < 3; e++)
        for (int i = 0; i < scaled_sizes[e]; i++, k++) p->grad[p->entries[e].offset + i] = six[k];
}

static void test_scaled(void)
{
    nn_params p, q;
    nn_params_init(&p);
    nn_params_init(&q);
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        nn_params *x = k ? &q : &p;
        const char *names[3] = {"a", "b", "c"};
        for (int e = 0; e < 3; e++) ok &= nn_params_declare(x, names[e], scaled_sizes[e], 1, 1, 1) != (size_t)-1;
        ok &= nn_params_alloc(x) == 0;
    }
    nn_adam a, b, c;
    ok = ok && nn_adam_init(&a, p.count) == 0 && nn_adam_init(&b, q.count) == 0 &&
         nn_adam_init(&c, q.count) == 0;
    CHECK(ok, "setup");
    if (!ok) { nn_params_free(&p); nn_params_free(&q); return; }
    float x0[6] = {1, 2, 3, 4, 5, 6}, xp[6], xq[6];
    const float g[2][6] = {{3, 4, 100, -50, 7, 0.5f}, {-1, 2, 3, 4, 5, -6}};
    const float ones[3] = {1, 1, 1};
    scaled_copy(&p, x0, 0);
    scaled_copy(&q, x0, 0);
    for (int s = 0; s < 2; s++) {
        scaled_grad(&p, g[s]);
        scaled_grad(&q, g[s]);
        double n1 = nn_adam_step(&a, &p, 0.01f);
        double n2 = nn_adam_step_scaled(&b, &q, 0.01f, ones);
        CHECK_CLOSE(n2, n1, 1e-9, "all-1 factors: the same norm");
    }
    scaled_copy(&p, xp, 1);
    scaled_copy(&q, xq, 1);
    for (int i = 0; i < 6; i++) CHECK_CLOSE(xq[i], xp[i], 1e-6, "all-1 factors: nn_adam_step");

    /* factors (1, 0, 2), clipping to 1: the norm is |(3, 4, 0.5)|, b frozen */
    c.clip_norm = 1.0f;
    const float f[3] = {1, 0, 2};
    scaled_copy(&q, x0, 0);
    scaled_grad(&q, g[0]);
    double n = nn_adam_step_scaled(&c, &q, 0.1f, f);
    CHECK_CLOSE(n, sqrt(9 + 16 + 0.25), 1e-9, "norm over the moving entries");
    const float want[6] = {0.9f, 1.9f, 3, 4, 5, 5.8f};
    scaled_copy(&q, xq, 1);
    for (int i = 0; i < 6; i++) CHECK_CLOSE(xq[i], want[i], 1e-6, "factor 1, 0 and 2");
    const size_t ob = q.entries[1].offset;
    for (size_t i = ob; i < ob + 3; i++) CHECK(c.m[i] == 0 && c.v[i] == 0, "a frozen entry's moments stay 0");
    CHECK(c.step == 1, "one step counted");
    nn_adam_free(&a); nn_adam_free(&b); nn_adam_free(&c);
    nn_params_free(&p); nn_params_free(&q);
}

int main(void)
{
    test_scaled();
    test_hand_step();
    test_quadratic();
    test_clipping();
    test_schedule();
    return check_report("test_adam");
}
