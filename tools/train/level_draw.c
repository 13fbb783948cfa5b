/* tools/train/level_draw.c - the rate level of a training crop (level_draw.h). */
#include "tools/train/level_draw.h"

#include <math.h>

void level_draw_uniform(level_draw *d, int levels)
{
    d->levels = levels;
    d->weighted = 0;
}

int level_draw_weighted(level_draw *d, const float *weight, int levels)
{
    if (levels < 1 || levels > AEC_MAX_LEVELS) return -1;
    double sum = 0;
    for (int l = 0; l < levels; l++) {
        if (!(weight[l] >= 0 && isfinite(weight[l]))) return -1;
        sum += weight[l];
        d->cumulative[l] = sum;
    }
    if (!(sum > 0)) return -1;
    d->levels = levels;
    d->weighted = 1;
    return 0;
}

int level_draw_next(const level_draw *d, nn_rng *r)
{
    if (!d->weighted) return (int)nn_rng_below(r, (uint32_t)d->levels);
    /* u in [0, sum): the first level whose running sum exceeds it; a level
     * of weight 0 adds nothing to the sum and is never chosen */
    const double u = nn_rng_uniform(r) * d->cumulative[d->levels - 1];
    for (int l = 0; l < d->levels; l++)
        if (u < d->cumulative[l]) return l;
    return d->levels - 1; /* not reached: u < the sum */
}
