/* tools/train/level_draw.h - which rate level a training crop is coded
 * at: uniformly by default, or in proportion to --level-weights (to train
 * the top of the curve harder, say, where the transforms set the ceiling). */
#ifndef AEC_LEVEL_DRAW_H
#define AEC_LEVEL_DRAW_H

#include "codec/model.h"
#include "nn/rng.h"

typedef struct {
    int levels;
    int weighted;                   /* 0: uniform */
    double cumulative[AEC_MAX_LEVELS]; /* weighted: the running sum of the weights */
} level_draw;

/* A uniform draw over levels (1..AEC_MAX_LEVELS). */
void level_draw_uniform(level_draw *d, int levels);

/* A draw in proportion to weight[0..levels-1]: each >= 0 and finite, their
 * sum > 0. 0, or -1 when they are not so. */
int level_draw_weighted(level_draw *d, const float *weight, int levels);

/* One level. The uniform draw is exactly nn_rng_below(r, levels), one
 * number per crop; a weighted one takes one nn_rng_uniform. */
int level_draw_next(const level_draw *d, nn_rng *r);

#endif
