/* Checks of the rate terms (nn/likelihood.c): forward values against
 * double-precision formulas written out here, normalisation and
 * monotonicity of the densities, and every backward pass against central
 * finite differences of those double-precision references, including the
 * points where the likelihood floor and the scale bound switch gradients
 * off. */
#include <omp.h>
#include <string.h>

#include "nn/likelihood.h"
#include "nn/params.h"
#include "nn/rng.h"
#include "nn/tensor.h"
#include "tests/check.h"

#define LN2 0.69314718055994530942
#define FLOOR 1e-9
#define BOUND ((double)NN_SCALE_MIN)

static const int widths[5] = {1, 3, 3, 3, 1};

/* |a - b| <= rtol * max(|a|, |b|) + atol: gradients range over many orders
 * of magnitude, so CHECK_CLOSE's floor of 1 would be too lax here. */
#define CHECK_GRAD(a, b, rtol, atol, ...)                                        \
    do {                                                                         \
        double ga_ = (a), gb_ = (b);                                             \
        int ok_ = fabs(ga_ - gb_) <= (rtol) * fmax(fabs(ga_), fabs(gb_)) + (atol); \
        CHECK(ok_, __VA_ARGS__);                                                 \
        if (!ok_) fprintf(stderr, "  got %.9g, expected %.9g\n", ga_, gb_);     \
    } while (0)

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* ---- double-precision references -------------------------------------- */

/* f(v) of one channel from a double copy of every parameter value */
static double ref_logit(const double *val, const nn_factorized *l, int c, double v)
{
    double act[3] = {v, 0, 0};
    for (int k = 0; k < 4; k++) {
        int fin = widths[k], fout = widths[k + 1];
        double out[3];
        for (int o = 0; o < fout; o++) {
            double sum = val[l->bias[k] + (size_t)c * fout + o];
            for (int m = 0; m < fin; m++) {
                double h = val[l->matrix[k] + ((size_t)c * fout + o) * fin + m];
                sum += log(1.0 + exp(h)) * act[m];
            }
            if (k < 3) sum += tanh(val[l->factor[k] + (size_t)c * fout + o]) * tanh(sum);
            out[o] = sum;
        }
        memcpy(act, out, sizeof out);
    }
    return act[0];
}

/* likelihood of the bin around x, evaluated in the lower tail of whichever
 * side x is on so the tails keep full relative precision */
static double ref_fact_likelihood(const double *val, const nn_factorized *l, int c, double x)
{
    double up = ref_logit(val, l, c, x + 0.5), lo = ref_logit(val, l, c, x - 0.5);
    if (up + lo > 0) return sigmoid(-lo) - sigmoid(-up);
    return sigmoid(up) - sigmoid(lo);
}

static double ref_fact_bits(const double *val, const nn_factorized *l, const nn_tensor *x)
{
    double bits = 0;
    size_t hw = (size_t)x->h * x->w;
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++)
            for (size_t i = 0; i < hw; i++) {
                double lik = ref_fact_likelihood(val, l, c, x->data[((size_t)n * x->c + c) * hw + i]);
                bits -= log2(fmax(lik, FLOOR));
            }
    return bits;
}

/* Gaussian bin probability the textbook way, through erf (forward checks) */
static double ref_gauss_lik_erf(double x, double mu, double scale)
{
    double s = fmax(scale, BOUND);
    return 0.5 * (erf((x - mu + 0.5) / (s * sqrt(2.0))) - erf((x - mu - 0.5) / (s * sqrt(2.0))));
}

/* the same through erfc on the tail side, accurate enough to difference near
 * the floor; clamp = 0 drops the scale bound */
static double ref_gauss_bits(double x, double mu, double scale, int clamp)
{
    double s = clamp ? fmax(scale, BOUND) : scale, t = x - mu, k = 1.0 / (s * sqrt(2.0));
    double p = t > 0 ? 0.5 * (erfc((t - 0.5) * k) - erfc((t + 0.5) * k))
                     : 0.5 * (erfc(-(t + 0.5) * k) - erfc(-(t - 0.5) * k));
    return -log2(fmax(p, FLOOR));
}

/* ---- helpers ------------------------------------------------------------ */

static int alloc4(nn_tensor *t, int n, int c, int h, int w)
{
    if (nn_tensor_alloc(t, n, c, h, w) == 0) return 0;
    fprintf(stderr, "out of memory\n");
    exit(2);
}

static double *values_as_double(const nn_params *p)
{
    double *v = malloc(p->count * sizeof *v);
    if (!v) { fprintf(stderr, "out of memory\n"); exit(2); }
    for (size_t i = 0; i < p->count; i++) v[i] = p->value[i];
    return v;
}

static void perturb(nn_params *p, nn_rng *rng, float amount)
{
    for (size_t i = 0; i < p->count; i++) p->value[i] += amount * nn_rng_normal(rng);
}

static double one_fact_bits(const nn_factorized *l, const nn_params *p, float x)
{
    nn_tensor t;
    alloc4(&t, 1, 1, 1, 1);
    t.data[0] = x;
    double bits = nn_factorized_bits(l, p, &t);
    nn_tensor_free(&t);
    return bits;
}

/* sum over integers |k| <= range of the bin likelihoods, via the double logit */
static double integer_mass(const nn_factorized *l, const nn_params *p, int c, int range)
{
    double sum = 0;
    for (int k = -range; k <= range; k++) {
        double up = nn_factorized_logit(l, p, c, k + 0.5), lo = nn_factorized_logit(l, p, c, k - 0.5);
        sum += fabs(sigmoid(up) - sigmoid(lo));
    }
    return sum;
}

/* x in the upper tail of channel c where the reference likelihood is `target` */
static float tail_point(const double *val, const nn_factorized *l, int c, double target)
{
    double lo = 0, hi = 1e4;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (ref_fact_likelihood(val, l, c, mid) > target) lo = mid; else hi = mid;
    }
    return (float)lo;
}

/* ---- factorized density ------------------------------------------------- */

static void test_factorized_declare_init(void)
{
    nn_params p;
    nn_params_init(&p);
    nn_factorized l;
    CHECK(nn_factorized_declare(&l, &p, "hyper.bottleneck", 5) == 0, "declare");
    const nn_param_entry *e = nn_params_find(&p, "hyper.bottleneck.matrix1");
    CHECK(e && e->shape[0] == 5 && e->shape[1] == 3 && e->shape[2] == 3 && e->shape[3] == 1, "matrix1 shape");
    e = nn_params_find(&p, "hyper.bottleneck.matrix0");
    CHECK(e && e->shape[1] == 3 && e->shape[2] == 1 && e->offset == l.matrix[0], "matrix0 shape/offset");
    e = nn_params_find(&p, "hyper.bottleneck.matrix3");
    CHECK(e && e->shape[1] == 1 && e->shape[2] == 3, "matrix3 shape");
    e = nn_params_find(&p, "hyper.bottleneck.bias3");
    CHECK(e && e->count == 5 && e->offset == l.bias[3], "bias3");
    e = nn_params_find(&p, "hyper.bottleneck.factor2");
    CHECK(e && e->count == 15 && e->offset == l.factor[2], "factor2");
    CHECK(nn_params_find(&p, "hyper.bottleneck.factor3") == NULL, "no gate after the last layer");
    CHECK(p.n_entries == 11, "11 blocks, got %d", p.n_entries);
    nn_factorized l2;
    CHECK(nn_factorized_declare(&l2, &p, "hyper.bottleneck", 5) == -1, "duplicate refused");
    CHECK(nn_factorized_declare(&l2, &p, "a_name_long_enough_to_overflow_the_limit_xxxxxxx", 5) == -1,
          "over-long name refused");
    CHECK(nn_params_alloc(&p) == 0, "alloc");

    nn_factorized_init(&l, &p, 10.0f, 7);
    double scale = pow(10.0, 0.25);
    int ok = 1;
    for (int k = 0; k < 4; k++) {
        float want = (float)log(expm1(1.0 / scale / widths[k + 1]));
        for (int i = 0; i < 5 * widths[k] * widths[k + 1]; i++) ok &= p.value[l.matrix[k] + i] == want;
    }
    CHECK(ok, "matrices at log(expm1(1 / scale / f_out))");
    ok = 1;
    double bias_sum = 0;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 5 * widths[k + 1]; i++) {
            float b = p.value[l.bias[k] + i];
            ok &= b >= -0.5f && b < 0.5f;
            bias_sum += fabs(b);
        }
    CHECK(ok && bias_sum > 0.5, "biases in [-0.5, 0.5) and not all zero");
    ok = 1;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 15; i++) ok &= p.value[l.factor[k] + i] == 0.0f;
    CHECK(ok, "factors zero");
    float b0 = p.value[l.bias[1] + 4];
    nn_factorized_init(&l, &p, 10.0f, 7);
    CHECK(p.value[l.bias[1] + 4] == b0, "same seed, same init");
    nn_factorized_init(&l, &p, 10.0f, 8);
    CHECK(p.value[l.bias[1] + 4] != b0, "other seed, other init");
    /* with matrices at 1/(scale f_out), f has slope 1/init_scale away from the gates */
    double slope = nn_factorized_logit(&l, &p, 2, 1000.0) - nn_factorized_logit(&l, &p, 2, 999.0);
    CHECK(fabs(slope - 0.1) < 1e-6, "init slope 1/init_scale: %g", slope);
    nn_params_free(&p);
}

static void test_factorized_forward(void)
{
    enum { C = 4 };
    nn_params p;
    nn_params_init(&p);
    nn_factorized l;
    CHECK(nn_factorized_declare(&l, &p, "z", C) == 0 && nn_params_alloc(&p) == 0, "declare");
    nn_factorized_init(&l, &p, 10.0f, 1);
    nn_rng rng;
    nn_rng_seed(&rng, 2);

    for (int round = 0; round < 2; round++) {
        const char *when = round == 0 ? "after init" : "after perturbation";
        if (round == 1) perturb(&p, &rng, 0.5f);
        double *val = values_as_double(&p);
        /* the double logit is the reference logit */
        double worst = 0;
        for (int c = 0; c < C; c++)
            for (double v = -60; v <= 60; v += 1.7)
                worst = fmax(worst, fabs(nn_factorized_logit(&l, &p, c, v) - ref_logit(val, &l, c, v)));
        CHECK(worst < 1e-12, "logit vs reference %s: %g", when, worst);
        /* telescoping: the bins over all integers hold all the mass. f has
         * slope ~0.1, so |k| <= 2000 leaves ~exp(-200) outside. */
        for (int c = 0; c < C; c++) {
            double mass = integer_mass(&l, &p, c, 2000);
            CHECK(fabs(mass - 1) < 1e-3, "channel %d mass %s: %.9f", c, when, mass);
        }
        /* the CDF increases: f strictly increasing on a fine grid */
        for (int c = 0; c < C; c++) {
            int mono = 1;
            double prev = nn_factorized_logit(&l, &p, c, -300);
            for (double v = -300 + 0.173; v <= 300; v += 0.173) {
                double f = nn_factorized_logit(&l, &p, c, v);
                mono &= f > prev;
                prev = f;
            }
            CHECK(mono, "channel %d CDF increasing %s", c, when);
        }
        /* bits of a tensor against the reference, both noisy and rounded
         * values, spread far enough to reach the tails */
        nn_tensor x;
        alloc4(&x, 3, C, 5, 3);
        for (size_t i = 0; i < nn_tensor_numel(&x); i++) {
            float v = 40.0f * nn_rng_normal(&rng);
            x.data[i] = i % 2 ? roundf(v) : v;
        }
        double got = nn_factorized_bits(&l, &p, &x), want = ref_fact_bits(val, &l, &x);
        CHECK(fabs(got - want) <= 1e-5 * want, "tensor bits %s: %.9g vs %.9g", when, got, want);
        int threads = omp_get_max_threads();
        omp_set_num_threads(threads == 1 ? 3 : 1);
        CHECK(nn_factorized_bits(&l, &p, &x) == got, "bits independent of the thread count");
        omp_set_num_threads(threads);
        nn_tensor_free(&x);
        free(val);
    }
    nn_params_free(&p);

    /* The library's own per-element likelihoods (single channel) also sum to
     * 1 and match the reference, floors and all. */
    nn_params_init(&p);
    CHECK(nn_factorized_declare(&l, &p, "one", 1) == 0 && nn_params_alloc(&p) == 0, "declare 1");
    nn_factorized_init(&l, &p, 4.0f, 3);
    perturb(&p, &rng, 0.3f);
    double *val = values_as_double(&p);
    double mass = 0, worst = 0;
    for (int k = -800; k <= 800; k++) {
        double bits = one_fact_bits(&l, &p, (float)k);
        mass += exp2(-bits);
        double want = -log2(fmax(ref_fact_likelihood(val, &l, 0, k), FLOOR));
        worst = fmax(worst, fabs(bits - want) / fmax(1, want));
    }
    /* the floor adds at most 1601e-9 */
    CHECK(fabs(mass - 1) < 1e-3, "library likelihoods sum to 1: %.9f", mass);
    CHECK(worst < 2e-6, "per-element bits vs reference, worst relative %g", worst);
    float far = tail_point(val, &l, 0, 1e-12);
    CHECK(one_fact_bits(&l, &p, far) == -log2f(1e-9f) && one_fact_bits(&l, &p, -far - 100) == -log2f(1e-9f),
          "floor in both tails");
    nn_tensor nan_x;
    alloc4(&nan_x, 1, 1, 1, 1);
    nan_x.data[0] = NAN;
    CHECK(isnan(nn_factorized_bits(&l, &p, &nan_x)), "NaN input gives NaN bits, not the floor");
    nn_tensor_free(&nan_x);
    free(val);

    /* upper + lower == 0 exactly (paper's sign(0) = 0 would give likelihood
     * 0): zero biases and gates make f odd, so the bin around 0 is symmetric */
    for (size_t i = 0; i < p.count; i++) p.value[i] = 0.0f;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < widths[k] * widths[k + 1]; i++) p.value[l.matrix[k] + i] = 0.3f;
    CHECK(nn_factorized_logit(&l, &p, 0, 0.5) + nn_factorized_logit(&l, &p, 0, -0.5) == 0.0, "odd f");
    double up = nn_factorized_logit(&l, &p, 0, 0.5);
    double want = -log2(sigmoid(up) - sigmoid(-up));
    CHECK_CLOSE(one_fact_bits(&l, &p, 0.0f), want, 1e-6, "bits at the symmetric bin");
    nn_params_free(&p);
}

static void test_factorized_backward(void)
{
    enum { N = 2, C = 3, H = 2, W = 2 };
    nn_params p;
    nn_params_init(&p);
    nn_factorized l;
    CHECK(nn_factorized_declare(&l, &p, "z", C) == 0 && nn_params_alloc(&p) == 0, "declare");
    nn_factorized_init(&l, &p, 10.0f, 11);
    nn_rng rng;
    nn_rng_seed(&rng, 12);
    perturb(&p, &rng, 0.5f); /* non-zero gates, unequal weights */
    double *val = values_as_double(&p);

    nn_tensor x, dx;
    alloc4(&x, N, C, H, W);
    alloc4(&dx, N, C, H, W);
    for (size_t i = 0; i < nn_tensor_numel(&x); i++) x.data[i] = 15.0f * nn_rng_normal(&rng);
    /* channel 0, batch 1: one element just above the floor, one below it,
     * one in the lower tail just above it */
    size_t above = (size_t)(1 * C + 0) * H * W, below = above + 1, lower = above + 2;
    x.data[above] = tail_point(val, &l, 0, 3e-9);
    x.data[below] = tail_point(val, &l, 0, 3e-10);
    {   /* mirror search in the lower tail */
        double lo = -1e4, hi = 0;
        for (int it = 0; it < 200; it++) {
            double mid = 0.5 * (lo + hi);
            if (ref_fact_likelihood(val, &l, 0, mid) > 3e-9) hi = mid; else lo = mid;
        }
        x.data[lower] = (float)hi;
    }
    double lik_above = ref_fact_likelihood(val, &l, 0, x.data[above]);
    double lik_below = ref_fact_likelihood(val, &l, 0, x.data[below]);
    CHECK(lik_above > 2e-9 && lik_above < 4e-9 && lik_below < 4e-10, "floor test points: %g %g",
          lik_above, lik_below);

    const float dbits = 0.37f;
    for (size_t i = 0; i < nn_tensor_numel(&dx); i++) dx.data[i] = 1e6f; /* must be overwritten */
    nn_params_zero_grad(&p);
    double fwd_bits = nn_factorized_bits(&l, &p, &x);
    CHECK(nn_factorized_bits_backward(&l, &p, &x, dbits, &dx) == fwd_bits, "backward returns the forward's bits");

    /* Central differences of the double reference, eps 1e-4 in x and 1e-5
     * in the parameters: truncation ~eps^2 |f'''| and rounding ~1e-16 bits /
     * eps are both far below the float backward's own error (~1e-5
     * relative), so tolerance 1e-3 relative + 1e-6 absolute. */
    double ex = 1e-4;
    for (size_t i = 0; i < nn_tensor_numel(&x); i++) {
        double x0 = x.data[i];
        /* bits are a sum over elements, so d bits / d x_i is the derivative
         * of x_i's own term: difference that one in double */
        int c = (int)((i / (H * W)) % C);
        double fd = (-log2(fmax(ref_fact_likelihood(val, &l, c, x0 + ex), FLOOR)) +
                     log2(fmax(ref_fact_likelihood(val, &l, c, x0 - ex), FLOOR))) / (2 * ex);
        CHECK_GRAD(dx.data[i], dbits * fd, 1e-3, 1e-6, "dx[%zu] at x = %g", i, x0);
    }
    CHECK(dx.data[below] == 0.0f, "no gradient below the floor");
    CHECK(fabs(dx.data[above]) > 0.01 && fabs(dx.data[lower]) > 0.01, "gradient just above the floor");

    static const char *blocks[] = {"z.matrix0", "z.matrix1", "z.matrix2", "z.matrix3", "z.bias0", "z.bias1",
                                   "z.bias2", "z.bias3", "z.factor0", "z.factor1", "z.factor2"};
    double ep = 1e-5;
    for (int b = 0; b < 11; b++) {
        const nn_param_entry *e = nn_params_find(&p, blocks[b]);
        CHECK(e != NULL, "block %s", blocks[b]);
        if (!e) continue;
        int ok = 1;
        for (size_t i = 0; i < e->count; i++) {
            size_t at = e->offset + i;
            double v0 = val[at];
            val[at] = v0 + ep;
            double plus = ref_fact_bits(val, &l, &x);
            val[at] = v0 - ep;
            double minus = ref_fact_bits(val, &l, &x);
            val[at] = v0;
            double fd = dbits * (plus - minus) / (2 * ep), got = p.grad[at];
            if (!(fabs(got - fd) <= 1e-3 * fmax(fabs(got), fabs(fd)) + 1e-6)) {
                ok = 0;
                fprintf(stderr, "  %s[%zu]: backward %.9g, differences %.9g\n", blocks[b], i, got, fd);
            }
        }
        CHECK(ok, "%s gradient vs central differences", blocks[b]);
    }

    /* parameter gradients accumulate */
    float g0 = p.grad[l.matrix[1] + 4], g1 = p.grad[l.factor[0] + 2];
    nn_factorized_bits_backward(&l, &p, &x, dbits, NULL);
    CHECK_GRAD(p.grad[l.matrix[1] + 4], 2 * g0, 1e-6, 0, "matrix grad accumulates");
    CHECK_GRAD(p.grad[l.factor[0] + 2], 2 * g1, 1e-6, 0, "factor grad accumulates");

    /* only the floored element: every gradient zero */
    nn_tensor one;
    alloc4(&one, 1, C, 1, 1);
    one.data[0] = x.data[below];
    one.data[1] = one.data[2] = 1e5f; /* far beyond the floor in the other channels too */
    nn_params_zero_grad(&p);
    nn_factorized_bits_backward(&l, &p, &one, 1.0f, NULL);
    int zero = 1;
    for (size_t i = 0; i < p.count; i++) zero &= p.grad[i] == 0.0f;
    CHECK(zero, "floored elements give no parameter gradient");
    CHECK_CLOSE(nn_factorized_bits(&l, &p, &one), 3 * -log2(1e-9), 1e-6, "floored bits");

    nn_tensor_free(&one);
    nn_tensor_free(&x);
    nn_tensor_free(&dx);
    free(val);
    nn_params_free(&p);
}

/* ---- Gaussian conditional ----------------------------------------------- */

static double one_gauss_bits(float x, float mu, float scale)
{
    nn_tensor tx, tm, ts;
    alloc4(&tx, 1, 1, 1, 1);
    alloc4(&tm, 1, 1, 1, 1);
    alloc4(&ts, 1, 1, 1, 1);
    tx.data[0] = x; tm.data[0] = mu; ts.data[0] = scale;
    double bits = nn_gaussian_bits(&tx, &tm, &ts);
    nn_tensor_free(&tx); nn_tensor_free(&tm); nn_tensor_free(&ts);
    return bits;
}

static void test_gaussian_forward(void)
{
    nn_rng rng;
    nn_rng_seed(&rng, 21);
    /* per element against the erf formula, scales from below the bound to large */
    double worst = 0;
    for (int i = 0; i < 400; i++) {
        float mu = 10.0f * nn_rng_normal(&rng);
        float scale = expf(logf(0.03f) + nn_rng_uniform(&rng) * logf(2000.0f)); /* 0.03 .. 60 */
        float x = mu + scale * 4.0f * nn_rng_normal(&rng);
        if (i % 2) x = roundf(x);
        double want = -log2(fmax(ref_gauss_lik_erf(x, mu, scale), FLOOR));
        double got = one_gauss_bits(x, mu, scale);
        worst = fmax(worst, fabs(got - want) / fmax(1, want));
    }
    CHECK(worst < 1e-5, "gaussian bits vs erf formula, worst relative %g", worst);

    /* the bin likelihoods over all integers sum to 1 (the mirrored |x - mu|
     * form must agree on both sides of mu) */
    static const float cases[][2] = {{0.3f, 0.05f}, {-2.7f, 0.5f}, {101.25f, 3.0f}, {-7.5f, 40.0f}};
    for (int c = 0; c < 4; c++) {
        double mass = 0;
        for (int k = -1000; k <= 1000; k++) {
            double bits = one_gauss_bits((float)k, cases[c][0], cases[c][1]);
            if (bits < -log2(1e-9) - 1e-3) mass += exp2(-bits); /* skip floored bins */
        }
        CHECK(fabs(mass - 1) < 1e-4, "mass mu %g scale %g: %.9f", cases[c][0], cases[c][1], mass);
    }
    /* CDF monotone => bin likelihood falls as |x - mu| grows, on both sides */
    int mono = 1;
    double prev = one_gauss_bits(0.0f, 0.0f, 1.7f);
    for (int k = 1; k < 40; k++) {
        double b = one_gauss_bits(0.25f * k, 0.0f, 1.7f), bm = one_gauss_bits(-0.25f * k, 0.0f, 1.7f);
        mono &= b >= prev && fabs(b - bm) < 1e-6 * b;
        prev = b;
    }
    CHECK(mono, "bits grow with |x - mu| and are symmetric");
    CHECK(one_gauss_bits(30.0f, 0.0f, 1.0f) == -log2f(1e-9f), "floor");
    CHECK(one_gauss_bits(0.0f, 0.0f, 0.01f) == one_gauss_bits(0.0f, 0.0f, NN_SCALE_MIN), "scale bound");
    CHECK(isnan(one_gauss_bits(NAN, 0.0f, 1.0f)), "NaN input gives NaN bits, not the floor");

    /* a whole tensor sums its elements */
    nn_tensor x, mu, s;
    alloc4(&x, 2, 3, 4, 5); alloc4(&mu, 2, 3, 4, 5); alloc4(&s, 2, 3, 4, 5);
    double want = 0;
    for (size_t i = 0; i < nn_tensor_numel(&x); i++) {
        mu.data[i] = 3.0f * nn_rng_normal(&rng);
        s.data[i] = 0.05f + 5.0f * nn_rng_uniform(&rng);
        x.data[i] = roundf(mu.data[i] + 2.0f * s.data[i] * nn_rng_normal(&rng));
        want -= log2(fmax(ref_gauss_lik_erf(x.data[i], mu.data[i], s.data[i]), FLOOR));
    }
    double got = nn_gaussian_bits(&x, &mu, &s);
    CHECK(fabs(got - want) < 1e-5 * want, "tensor bits %.9g vs %.9g", got, want);
    nn_tensor_free(&x); nn_tensor_free(&mu); nn_tensor_free(&s);

    /* a large tensor (several parallel chunks) matches the serial sum */
    alloc4(&x, 4, 64, 8, 8); alloc4(&mu, 4, 64, 8, 8); alloc4(&s, 4, 64, 8, 8);
    for (size_t i = 0; i < nn_tensor_numel(&x); i++) {
        mu.data[i] = nn_rng_normal(&rng);
        s.data[i] = 0.2f + nn_rng_uniform(&rng);
        x.data[i] = roundf(mu.data[i] + s.data[i] * nn_rng_normal(&rng));
    }
    want = 0;
    for (size_t i = 0; i < nn_tensor_numel(&x); i++)
        want += ref_gauss_bits(x.data[i], mu.data[i], s.data[i], 1);
    got = nn_gaussian_bits(&x, &mu, &s);
    CHECK(fabs(got - want) < 1e-5 * want, "large tensor bits %.9g vs %.9g", got, want);
    CHECK(nn_gaussian_bits(&x, &mu, &s) == got, "bit count reproducible");
    int threads = omp_get_max_threads();
    omp_set_num_threads(threads == 1 ? 3 : 1);
    CHECK(nn_gaussian_bits(&x, &mu, &s) == got, "bit count independent of the thread count");
    omp_set_num_threads(threads);
    nn_tensor_free(&x); nn_tensor_free(&mu); nn_tensor_free(&s);
}

/* One element's gradients from the library, all three outputs */
static void gauss_grads(float x, float mu, float scale, float dbits, float g[3])
{
    nn_tensor tx, tm, ts, dx, dm, ds;
    alloc4(&tx, 1, 1, 1, 1); alloc4(&tm, 1, 1, 1, 1); alloc4(&ts, 1, 1, 1, 1);
    alloc4(&dx, 1, 1, 1, 1); alloc4(&dm, 1, 1, 1, 1); alloc4(&ds, 1, 1, 1, 1);
    tx.data[0] = x; tm.data[0] = mu; ts.data[0] = scale;
    dx.data[0] = dm.data[0] = ds.data[0] = 1e6f; /* must be overwritten */
    nn_gaussian_bits_backward(&tx, &tm, &ts, dbits, &dx, &dm, &ds);
    g[0] = dx.data[0]; g[1] = dm.data[0]; g[2] = ds.data[0];
    nn_tensor_free(&tx); nn_tensor_free(&tm); nn_tensor_free(&ts);
    nn_tensor_free(&dx); nn_tensor_free(&dm); nn_tensor_free(&ds);
}

/* Library gradients against central differences of the erfc reference at
 * (x, mu, scale). eps = 1e-5 * max(1, scale) in x and mu and 1e-6 *
 * max(scale, 0.1) in the scale, which keeps a scale above the bound above it;
 * the double reference then differences to ~1e-9 relative, far below the
 * float backward's error, so tolerance 2e-3 relative + 1e-5 absolute. The
 * expected scale gradient applies the bound rule: below the bound, the
 * unbounded reference's derivative at the bound, or 0 if that is >= 0
 * (descending would lower the scale further). */
static void check_gauss_point(float x, float mu, float scale, float dbits, const char *what)
{
    float g[3];
    gauss_grads(x, mu, scale, dbits, g);
    double ex = 1e-5 * fmax(1.0, scale);
    double fdx = (ref_gauss_bits(x + ex, mu, scale, 1) - ref_gauss_bits(x - ex, mu, scale, 1)) / (2 * ex);
    double fdm = (ref_gauss_bits(x, mu + ex, scale, 1) - ref_gauss_bits(x, mu - ex, scale, 1)) / (2 * ex);
    double s_eff = fmax(scale, BOUND), es = 1e-6 * fmax(s_eff, 0.1);
    double fds = (ref_gauss_bits(x, mu, s_eff + es, 0) - ref_gauss_bits(x, mu, s_eff - es, 0)) / (2 * es);
    fdx *= dbits; fdm *= dbits; fds *= dbits;
    if (scale < NN_SCALE_MIN && fds >= 0) fds = 0;
    CHECK_GRAD(g[0], fdx, 2e-3, 1e-5, "%s: dx at x %g mu %g scale %g", what, x, mu, scale);
    CHECK_GRAD(g[1], fdm, 2e-3, 1e-5, "%s: dmu at x %g mu %g scale %g", what, x, mu, scale);
    CHECK_GRAD(g[2], fds, 2e-3, 1e-5, "%s: dscale at x %g mu %g scale %g", what, x, mu, scale);
}

static void test_gaussian_backward(void)
{
    nn_rng rng;
    nn_rng_seed(&rng, 31);
    int done = 0;
    while (done < 200) {
        float mu = 5.0f * nn_rng_normal(&rng);
        float scale = expf(logf(0.05f) + nn_rng_uniform(&rng) * logf(1000.0f)); /* 0.05 .. 50 */
        float x = mu + fmaxf(scale, NN_SCALE_MIN) * 3.0f * nn_rng_normal(&rng);
        if (done % 3 == 0) x = roundf(x);
        /* keep differences away from the kinks: the floor and the bound */
        double p = exp2(-ref_gauss_bits(x, mu, scale, 1));
        if (fabs(p / FLOOR - 1) < 0.05 || fabs(scale / BOUND - 1) < 1e-4) continue;
        check_gauss_point(x, mu, scale, done % 2 ? 0.37f : -1.3f, "random");
        done++;
    }

    /* the likelihood floor: find |x - mu| with p = 3e-9 and 3e-10 at scale 1.5 */
    double d_at[2], target[2] = {3e-9, 3e-10};
    for (int t = 0; t < 2; t++) {
        double lo = 0, hi = 100;
        for (int it = 0; it < 200; it++) {
            double mid = 0.5 * (lo + hi);
            if (exp2(-ref_gauss_bits(mid, 0, 1.5, 1)) > target[t]) lo = mid; else hi = mid;
        }
        d_at[t] = lo;
    }
    check_gauss_point((float)(1.0 + d_at[0]), 1.0f, 1.5f, 0.37f, "just above the floor, x > mu");
    check_gauss_point((float)(1.0 - d_at[0]), 1.0f, 1.5f, 0.37f, "just above the floor, x < mu");
    float g[3];
    gauss_grads((float)(1.0 + d_at[1]), 1.0f, 1.5f, 0.37f, g);
    CHECK(g[0] == 0 && g[1] == 0 && g[2] == 0, "below the floor: no gradient");
    gauss_grads(1.0f, 1.0f, 1.5f, 0.37f, g);
    CHECK(g[0] == 0 && g[1] == 0 && g[2] > 0, "x == mu: no x gradient, scale pushed down");

    /* the scale bound */
    check_gauss_point(0.0f, 0.0f, 0.05f, 0.37f, "below bound, gradient would lower scale");
    gauss_grads(0.0f, 0.0f, 0.05f, 0.37f, g);
    CHECK(g[2] == 0.0f, "below bound, pushing down: blocked (%g)", g[2]);
    check_gauss_point(0.0f, 0.0f, 0.05f, -1.0f, "below bound, negative dbits");
    gauss_grads(0.0f, 0.0f, 0.05f, -1.0f, g);
    CHECK(g[2] < 0.0f, "below bound, pushing up: passes (%g)", g[2]);
    check_gauss_point(1.0f, 0.1f, 0.05f, 0.37f, "below bound, wide residual");
    gauss_grads(1.0f, 0.1f, 0.05f, 0.37f, g);
    CHECK(g[2] < 0.0f, "below bound, tail pushes the scale up: passes (%g)", g[2]);
    check_gauss_point(0.0f, 0.0f, NN_SCALE_MIN, 0.37f, "at the bound");
    check_gauss_point(0.3f, 0.0f, 0.1101f, 0.37f, "just above the bound");
    check_gauss_point(0.0f, 0.0f, 0.1101f, 0.37f, "just above the bound, at mu");

    /* NULL outputs and a many-chunk tensor: same numbers as element by element */
    nn_tensor x, mu, s, dx, ds;
    alloc4(&x, 2, 96, 8, 8); alloc4(&mu, 2, 96, 8, 8); alloc4(&s, 2, 96, 8, 8);
    alloc4(&dx, 2, 96, 8, 8); alloc4(&ds, 2, 96, 8, 8);
    for (size_t i = 0; i < nn_tensor_numel(&x); i++) {
        mu.data[i] = nn_rng_normal(&rng);
        s.data[i] = 0.05f + nn_rng_uniform(&rng);
        x.data[i] = roundf(mu.data[i] + s.data[i] * nn_rng_normal(&rng));
    }
    double bits = nn_gaussian_bits(&x, &mu, &s);
    CHECK(nn_gaussian_bits_backward(&x, &mu, &s, 0.5f, &dx, NULL, &ds) == bits,
          "backward returns the forward's bits");
    int same = 1;
    for (size_t i = 0; i < nn_tensor_numel(&x); i += 97) {
        gauss_grads(x.data[i], mu.data[i], s.data[i], 0.5f, g);
        same &= g[0] == dx.data[i] && g[2] == ds.data[i];
    }
    CHECK(same, "tensor backward matches element-wise");
    nn_gaussian_bits_backward(&x, &mu, &s, 0.5f, NULL, NULL, NULL);
    nn_tensor_free(&x); nn_tensor_free(&mu); nn_tensor_free(&s);
    nn_tensor_free(&dx); nn_tensor_free(&ds);
}

int main(void)
{
    test_factorized_declare_init();
    test_factorized_forward();
    test_factorized_backward();
    test_gaussian_forward();
    test_gaussian_backward();
    return check_report("test_likelihood");
}
