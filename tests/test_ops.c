/* Checks of the element-wise layers, the quantisation proxies and the MSE
 * loss. Every backward pass is compared with central finite differences of
 * loss = sum(y * R) for a random R, accumulated in double. */
#include <string.h>

#include "nn/ops.h"
#include "nn/rng.h"
#include "nn/tensor.h"
#include "tests/check.h"

static double sum_product(const float *y, const float *r, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * r[i];
    return s;
}

static void fill_uniform(float *v, size_t n, nn_rng *rng, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * nn_rng_uniform(rng);
}

/* Activations: x is kept at least 0.05 away from the kink at 0, so that the
 * finite difference with eps = 1e-3 never straddles it. Piecewise linear
 * functions make the central difference exact up to float rounding of the
 * loss (~1e-7 * sum|y R| / eps), so the tolerance is 1e-3. */
static void test_activations(nn_rng *rng)
{
    enum { N = 257 };
    const float eps = 1e-3f, slope = 0.2f;
    float x[N], y[N], r[N], dx[N];
    for (int i = 0; i < N; i++) {
        float mag = 0.05f + 2.0f * nn_rng_uniform(rng);
        x[i] = (i % 3 == 0) ? -mag : mag;
    }
    fill_uniform(r, N, rng, -1, 1);

    nn_relu_forward(x, y, N);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= y[i] == (x[i] > 0 ? x[i] : 0.0f);
    CHECK(ok, "relu forward");
    nn_leaky_relu_forward(x, y, N, slope);
    ok = 1;
    for (int i = 0; i < N; i++) ok &= y[i] == (x[i] > 0 ? x[i] : slope * x[i]);
    CHECK(ok, "leaky relu forward");

    float alias[N];
    memcpy(alias, x, sizeof alias);
    nn_relu_forward(alias, alias, N);
    nn_relu_forward(x, y, N);
    CHECK(memcmp(alias, y, sizeof alias) == 0, "relu in place");

    for (int leaky = 0; leaky < 2; leaky++) {
        if (leaky) nn_leaky_relu_backward(x, r, dx, N, slope);
        else nn_relu_backward(x, r, dx, N);
        for (int i = 0; i < N; i += 7) {
            float keep = x[i];
            x[i] = keep + eps;
            if (leaky) nn_leaky_relu_forward(x, y, N, slope); else nn_relu_forward(x, y, N);
            double up = sum_product(y, r, N);
            x[i] = keep - eps;
            if (leaky) nn_leaky_relu_forward(x, y, N, slope); else nn_relu_forward(x, y, N);
            double down = sum_product(y, r, N);
            x[i] = keep;
            CHECK_CLOSE(dx[i], (up - down) / (2.0 * eps), 1e-3, leaky ? "leaky relu dx vs FD" : "relu dx vs FD");
        }
    }
}

static void test_vector_ops(nn_rng *rng)
{
    enum { N = 100 };
    float a[N], b[N], y[N];
    fill_uniform(a, N, rng, -3, 3);
    fill_uniform(b, N, rng, -3, 3);
    nn_add(a, b, y, N);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= y[i] == a[i] + b[i];
    CHECK(ok, "add");
    nn_scale(a, -2.5f, y, N);
    ok = 1;
    for (int i = 0; i < N; i++) ok &= y[i] == -2.5f * a[i];
    CHECK(ok, "scale");
    memcpy(y, b, sizeof y);
    nn_axpy(0.75f, a, y, N);
    ok = 1;
    for (int i = 0; i < N; i++) ok &= y[i] == b[i] + 0.75f * a[i];
    CHECK(ok, "axpy");
}

/* Channel gain: the loss is linear in x and in g, so central differences are
 * exact up to rounding; eps = 1e-2, tolerance 1e-3 (relative above 1). */
static void test_channel_scale(nn_rng *rng)
{
    nn_tensor x = {0}, y = {0}, r = {0}, dx = {0};
    int N = 3, C = 5, H = 4, W = 6;
    CHECK(nn_tensor_alloc(&x, N, C, H, W) == 0 && nn_tensor_alloc(&y, N, C, H, W) == 0 &&
          nn_tensor_alloc(&r, N, C, H, W) == 0 && nn_tensor_alloc(&dx, N, C, H, W) == 0,
          "alloc");
    if (!x.data || !y.data || !r.data || !dx.data) goto done;
    size_t count = nn_tensor_numel(&x);
    float g[5], dg[5];
    fill_uniform(x.data, count, rng, -2, 2);
    fill_uniform(r.data, count, rng, -1, 1);
    fill_uniform(g, C, rng, 0.2f, 3.0f);

    nn_channel_scale_forward(&x, g, &y);
    int ok = 1;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H * W; i++) {
                size_t k = ((size_t)n * C + c) * H * W + i;
                ok &= y.data[k] == x.data[k] * g[c];
            }
    CHECK(ok, "channel scale forward");

    /* dg accumulates: start from a known non-zero value */
    for (int c = 0; c < C; c++) dg[c] = 0.5f;
    nn_channel_scale_backward(&x, g, &r, &dx, dg);
    const double eps = 1e-2;
    for (size_t k = 0; k < count; k += 11) {
        float keep = x.data[k];
        x.data[k] = keep + (float)eps;
        nn_channel_scale_forward(&x, g, &y);
        double up = sum_product(y.data, r.data, count);
        x.data[k] = keep - (float)eps;
        nn_channel_scale_forward(&x, g, &y);
        double down = sum_product(y.data, r.data, count);
        x.data[k] = keep;
        CHECK_CLOSE(dx.data[k], (up - down) / (2 * eps), 1e-3, "channel scale dx vs FD");
    }
    for (int c = 0; c < C; c++) {
        float keep = g[c];
        g[c] = keep + (float)eps;
        nn_channel_scale_forward(&x, g, &y);
        double up = sum_product(y.data, r.data, count);
        g[c] = keep - (float)eps;
        nn_channel_scale_forward(&x, g, &y);
        double down = sum_product(y.data, r.data, count);
        g[c] = keep;
        CHECK_CLOSE(dg[c] - 0.5f, (up - down) / (2 * eps), 1e-3, "channel scale dg vs FD (accumulated)");
    }
    /* dx = NULL: only the gain gradient */
    float dg2[5] = {0};
    nn_channel_scale_backward(&x, g, &r, NULL, dg2);
    ok = 1;
    for (int c = 0; c < C; c++) ok &= dg2[c] + 0.5f == dg[c];
    CHECK(ok, "channel scale backward without dx");
done:
    nn_tensor_free(&x); nn_tensor_free(&y); nn_tensor_free(&r); nn_tensor_free(&dx);
}

static void test_round(void)
{
    const float in[]   = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 0.49999997f, -0.49999997f, 2.4f, -2.6f, 0.0f, -0.0f, 1e7f + 1};
    const float want[] = {1.0f, -1.0f, 2.0f, -2.0f, 3.0f, -3.0f, 0.0f,         -0.0f,         2.0f, -3.0f, 0.0f, -0.0f, 1e7f + 1};
    enum { N = sizeof in / sizeof in[0] };
    float out[N];
    nn_round(in, out, N);
    for (int i = 0; i < N; i++) CHECK(out[i] == want[i], "round(%.9g) = %.9g, want %.9g", in[i], out[i], want[i]);

    /* Straight-through estimator: the backward of rounding is the identity,
     * so the gradient a caller passes on is dy itself. Check the identity on
     * the quantity the STE stands for: the rounded value differs from x by
     * at most 1/2, and round(x) - x is constant (zero gradient) only where
     * the proxy does not matter. Here: y = x + stop_gradient(round(x) - x). */
    float x[4] = {0.3f, -1.7f, 2.5f, 4.0f}, q[4], ste[4];
    nn_round(x, q, 4);
    for (int i = 0; i < 4; i++) ste[i] = x[i] + (q[i] - x[i]);
    int ok = 1;
    for (int i = 0; i < 4; i++) ok &= ste[i] == q[i] && fabsf(q[i] - x[i]) <= 0.5f;
    CHECK(ok, "STE form x + (round(x) - x) equals round(x), |round(x) - x| <= 1/2");
}

static void test_noise(void)
{
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *y2 = malloc(N * sizeof *y2);
    CHECK(x && y && y2, "alloc");
    if (!x || !y || !y2) goto done;
    for (int i = 0; i < N; i++) x[i] = (float)(i % 17) - 8.0f;
    nn_rng r1, r2;
    nn_rng_seed(&r1, 7);
    nn_rng_seed(&r2, 7);
    nn_add_uniform_noise(x, y, N, &r1);
    nn_add_uniform_noise(x, y2, N, &r2);
    CHECK(memcmp(y, y2, N * sizeof *y) == 0, "noise reproducible from the seed");
    double mean = 0, var = 0, lo = 1, hi = -1;
    for (int i = 0; i < N; i++) {
        double u = (double)y[i] - x[i];
        mean += u; var += u * u;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    mean /= N; var /= N;
    CHECK(lo >= -0.5 && hi < 0.5, "noise in [-0.5, 0.5): %g %g", lo, hi);
    CHECK(lo < -0.49 && hi > 0.49, "noise covers the range: %g %g", lo, hi);
    /* mean 0 with sd 0.29/sqrt(N) = 6.5e-4; variance 1/12 */
    CHECK(fabs(mean) < 4e-3, "noise mean %g", mean);
    CHECK(fabs(var - 1.0 / 12) < 2e-3, "noise variance %g", var);
    /* in place */
    nn_rng_seed(&r1, 7);
    memcpy(y2, x, N * sizeof *x);
    nn_add_uniform_noise(y2, y2, N, &r1);
    CHECK(memcmp(y, y2, N * sizeof *y) == 0, "noise in place");
done:
    free(x); free(y); free(y2);
}

/* MSE: forward against a direct double sum; backward against central
 * differences of scale * mse (quadratic, so the difference is exact up to
 * rounding): eps = 1e-3, tolerance 1e-4 absolute on gradients ~1e-2. Also a
 * large n so that the parallel block reduction runs. */
static void test_mse(nn_rng *rng)
{
    enum { N = 300 };
    float a[N], b[N], da[N];
    fill_uniform(a, N, rng, -1, 1);
    fill_uniform(b, N, rng, -1, 1);
    double want = 0;
    for (int i = 0; i < N; i++) want += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    want /= N;
    CHECK_CLOSE(nn_mse_forward(a, b, N), want, 1e-12, "mse forward");
    CHECK(nn_mse_forward(a, a, N) == 0.0, "mse of equal arrays");

    const float scale = 3.0f;
    const double eps = 1e-3;
    nn_mse_backward(a, b, da, N, scale);
    for (int i = 0; i < N; i += 13) {
        float keep = a[i];
        a[i] = keep + (float)eps;
        double up = scale * nn_mse_forward(a, b, N);
        a[i] = keep - (float)eps;
        double down = scale * nn_mse_forward(a, b, N);
        a[i] = keep;
        double fd = (up - down) / (2 * eps);
        CHECK(fabs(da[i] - fd) < 1e-4, "mse da vs FD at %d: %g vs %g", i, da[i], fd);
    }

    size_t big = 1 << 20;
    float *x = malloc(big * sizeof *x), *z = malloc(big * sizeof *z);
    CHECK(x && z, "alloc");
    if (x && z) {
        for (size_t i = 0; i < big; i++) { x[i] = (float)(i % 5); z[i] = (float)(i % 3); }
        double direct = 0;
        for (size_t i = 0; i < big; i++) direct += ((double)x[i] - z[i]) * ((double)x[i] - z[i]);
        CHECK_CLOSE(nn_mse_forward(x, z, big), direct / big, 1e-12, "mse forward, parallel blocks");
    }
    free(x); free(z);
}

int main(void)
{
    nn_rng rng;
    nn_rng_seed(&rng, 1234);
    test_activations(&rng);
    test_vector_ops(&rng);
    test_channel_scale(&rng);
    test_round();
    test_noise();
    test_mse(&rng);
    return check_report("test_ops");
}
