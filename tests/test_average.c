/* Checks of the moving average of the weights against a double-precision
 * reference, including the threaded path (n above the threshold). */
#include <math.h>
#include <stdlib.h>

#include "nn/average.h"
#include "nn/rng.h"
#include "tests/check.h"

static void test_against_reference(size_t n)
{
    float *avg = malloc(n * sizeof *avg), *val = malloc(n * sizeof *val);
    double *ref = malloc(n * sizeof *ref);
    if (!avg || !val || !ref) { CHECK(0, "alloc"); free(avg); free(val); free(ref); return; }
    nn_rng r;
    nn_rng_seed(&r, 42);
    for (size_t i = 0; i < n; i++) avg[i] = (float)(ref[i] = nn_rng_uniform(&r) * 2 - 1);
    const float decay = 0.99f;
    double worst = 0;
    for (int step = 0; step < 50; step++) {
        for (size_t i = 0; i < n; i++) val[i] = (float)(nn_rng_uniform(&r) * 4 - 2);
        nn_average_update(avg, val, n, decay);
        for (size_t i = 0; i < n; i++) {
            ref[i] = (double)decay * ref[i] + (1.0 - (double)decay) * val[i];
            double e = fabs(avg[i] - ref[i]);
            if (e > worst) worst = e;
        }
    }
    /* 50 updates, each rounding at ~2^-24 of values below 2 */
    CHECK(worst < 1e-5, "n %zu: worst error %g against the double reference", n, worst);
    /* a constant input is a fixed point, exactly */
    for (size_t i = 0; i < n; i++) avg[i] = val[i] = 0.3f * (float)(i % 7);
    nn_average_update(avg, val, n, decay);
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) moved += avg[i] != val[i];
    CHECK(moved == 0, "n %zu: %zu values moved off a constant input", n, moved);
    free(avg);
    free(val);
    free(ref);
}

int main(void)
{
    test_against_reference(37);
    test_against_reference(200003);
    return check_report("test_average");
}
