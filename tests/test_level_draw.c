/* tests/test_level_draw.c - the rate level of each training crop
 * (tools/train/level_draw.h): the uniform draw is nn_rng_below's over the
 * levels; a weighted one gives each level its share, never one of weight 0;
 * bad weights are refused. */
#include <math.h>
#include <string.h>

#include "nn/rng.h"
#include "tests/check.h"
#include "tools/train/level_draw.h"

#define DRAWS 200000

/* the share of each level over DRAWS draws; a level out of range is
 * counted as a failed check */
static void shares(const level_draw *d, double *share)
{
    int outside = 0;
    nn_rng r;
    nn_rng_seed(&r, 5);
    int count[AEC_MAX_LEVELS] = {0};
    for (int i = 0; i < DRAWS; i++) {
        int l = level_draw_next(d, &r);
        if (l >= 0 && l < d->levels) count[l]++;
        else outside++;
    }
    CHECK(outside == 0, "%d draws outside 0..%d", outside, d->levels - 1);
    for (int l = 0; l < d->levels; l++) share[l] = (double)count[l] / DRAWS;
}

int main(void)
{
    /* uniform: the same numbers as nn_rng_below over the levels */
    level_draw d;
    level_draw_uniform(&d, 10);
    nn_rng a, b;
    nn_rng_seed(&a, 3);
    nn_rng_seed(&b, 3);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= level_draw_next(&d, &a) == (int)nn_rng_below(&b, 10);
    CHECK(same, "the uniform draw is nn_rng_below's");

    /* weighted 1,0,2,1 (and a last level of 0): shares 1/4, 0, 1/2, 1/4, 0 */
    const float w[5] = {1, 0, 2, 1, 0};
    CHECK(level_draw_weighted(&d, w, 5) == 0, "weights 1,0,2,1,0 taken");
    double s[AEC_MAX_LEVELS];
    shares(&d, s);
    const double want[5] = {0.25, 0, 0.5, 0.25, 0};
    for (int l = 0; l < 5; l++)
        CHECK(fabs(s[l] - want[l]) < 0.01, "level %d: share %.4f, want %.2f", l, s[l], want[l]);
    CHECK(s[1] == 0 && s[4] == 0, "levels of weight 0 never drawn");

    /* a weight of 0 first: the first level never drawn */
    const float w0[3] = {0, 1, 1};
    CHECK(level_draw_weighted(&d, w0, 3) == 0, "weights 0,1,1 taken");
    shares(&d, s);
    CHECK(s[0] == 0 && fabs(s[1] - 0.5) < 0.01, "0,1,1: shares %.4f %.4f %.4f", s[0], s[1], s[2]);

    /* one level: always it */
    const float one = 3;
    CHECK(level_draw_weighted(&d, &one, 1) == 0, "one weight taken");
    shares(&d, s);
    CHECK(s[0] == 1, "one level: always drawn");

    /* refused: all 0, negative, not a number, no levels, too many */
    const float zero[2] = {0, 0}, neg[2] = {1, -1}, nan2[2] = {1, NAN};
    float many[AEC_MAX_LEVELS + 1];
    for (int l = 0; l <= AEC_MAX_LEVELS; l++) many[l] = 1;
    CHECK(level_draw_weighted(&d, zero, 2) == -1, "all 0 refused");
    CHECK(level_draw_weighted(&d, neg, 2) == -1, "a negative weight refused");
    CHECK(level_draw_weighted(&d, nan2, 2) == -1, "NaN refused");
    CHECK(level_draw_weighted(&d, many, 0) == -1, "no levels refused");
    CHECK(level_draw_weighted(&d, many, AEC_MAX_LEVELS + 1) == -1, "too many levels refused");
    return check_report("test_level_draw");
}
