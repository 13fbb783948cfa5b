/* nn/average.c - exponential moving average of a weight buffer. */
#include "nn/average.h"

void nn_average_update(float *avg, const float *value, size_t n, float decay)
{
    /* avg += (1 - decay) (value - avg): one rounding less than the two
     * products, and exact when avg == value */
    const float k = 1.0f - decay;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) avg[i] += k * (value[i] - avg[i]);
}
