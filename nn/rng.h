/* nn/rng.h - a small seedable random generator (xoshiro256**), so that
 * initialisation, crops and noise are reproducible from --seed alone. */
#ifndef NN_RNG_H
#define NN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} nn_rng;

void nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t nn_rng_u64(nn_rng *r);
/* uniform in [0, 1) with 24 random bits */
float nn_rng_uniform(nn_rng *r);
/* uniform integer in [0, n) for n >= 1 */
uint32_t nn_rng_below(nn_rng *r, uint32_t n);
/* standard normal (Box-Muller) */
float nn_rng_normal(nn_rng *r);

#endif
