#include "nn/rng.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nn_rng_seed(nn_rng *r, uint64_t seed)
{
    /* splitmix64 spreads a small seed over the 256-bit state */
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

uint64_t nn_rng_u64(nn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float nn_rng_uniform(nn_rng *r)
{
    return (float)(nn_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

uint32_t nn_rng_below(nn_rng *r, uint32_t n)
{
    return (uint32_t)(((nn_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

float nn_rng_normal(nn_rng *r)
{
    double u1 = ((double)(nn_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(nn_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
