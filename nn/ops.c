#include "nn/ops.h"

#include <math.h>

/* Element-wise loops are memory bound: below this many elements the cost of
 * waking the OpenMP team exceeds the work, so they run on one thread. The
 * simd directives make gcc vectorise them at -O2 (its cheap cost model
 * otherwise refuses loops of unknown length); every iteration touches only
 * its own index, so y aliasing x is still fine. */
#define OPS_PARALLEL_MIN 65536

/* Reductions are split into this many fixed blocks, summed in block order,
 * so the result does not depend on how many threads ran them. */
#define OPS_REDUCE_BLOCKS 64

void nn_relu_forward(const float *x, float *y, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (parallel: n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void nn_relu_backward(const float *x, const float *dy, float *dx, size_t n)
{
    /* the sub-gradient at exactly 0 is taken as 0, as in PyTorch */
    #pragma omp parallel for simd schedule(static) if (parallel: n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded unconditionally so the select vectorises */
        dx[i] = x[i] > 0.0f ? g : 0.0f;
    }
}

void nn_leaky_relu_forward(const float *x, float *y, size_t n, float slope)
{
    #pragma omp parallel for simd schedule(static) if (parallel: n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        /* a select of two constants, then one multiply: gcc if-converts
         * this, not a select of two computed values */
        float v = x[i];
        float k = v > 0.0f ? 1.0f : slope;
        y[i] = k * v;
    }
}

void nn_leaky_relu_backward(const float *x, const float *dy, float *dx, size_t n, float slope)
{
    #pragma omp parallel for simd schedule(static) if (parallel: n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float k = x[i] > 0.0f ? 1.0f : slope;
        dx[i] = k * dy[i];
    }
}

void nn_add(const float *a, const float *b, float *y, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (parallel: n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void nn_scale(const float *x, float s, float *y, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (parallel: n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) y[i] = s * x[i];
}

void nn_axpy(float a, const float *x, float *y, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (parallel: n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void nn_channel_scale_forward(const nn_tensor *x, const float *g, nn_tensor *y)
{
    int batch = x->n, channels = x->c;
    size_t plane = (size_t)x->h * (size_t)x->w;
    #pragma omp parallel for collapse(2) schedule(static) if (nn_tensor_numel(x) >= OPS_PARALLEL_MIN)
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)n * channels + c) * plane;
            const float *xp = x->data + base;
            float *yp = y->data + base;
            float gain = g[c];
            #pragma omp simd
            for (size_t i = 0; i < plane; i++) yp[i] = xp[i] * gain;
        }
}

void nn_channel_scale_backward(const nn_tensor *x, const float *g, const nn_tensor *dy,
                               nn_tensor *dx, float *dg)
{
    int batch = x->n, channels = x->c;
    size_t plane = (size_t)x->h * (size_t)x->w;
    /* one thread per channel: each dg[c] is summed by one thread over the
     * batch in a fixed order, so no atomics and a reproducible result */
    #pragma omp parallel for schedule(static) if (nn_tensor_numel(x) >= OPS_PARALLEL_MIN)
    for (int c = 0; c < channels; c++) {
        double sum = 0.0;
        float gain = g[c];
        for (int n = 0; n < batch; n++) {
            size_t base = ((size_t)n * channels + c) * plane;
            const float *xp = x->data + base;
            const float *dyp = dy->data + base;
            for (size_t i = 0; i < plane; i++) sum += (double)dyp[i] * xp[i];
            if (dx) {
                float *dxp = dx->data + base;
                #pragma omp simd
                for (size_t i = 0; i < plane; i++) dxp[i] = dyp[i] * gain;
            }
        }
        dg[c] += (float)sum;
    }
}

void nn_round(const float *x, float *y, size_t n)
{
    /* roundf rounds halfway cases away from zero whatever the current
     * rounding mode, so encoder and decoder agree bit for bit */
    #pragma omp parallel for schedule(static) if (n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) y[i] = roundf(x[i]);
}

void nn_add_uniform_noise(const float *x, float *y, size_t n, nn_rng *rng)
{
    /* sequential on purpose: the noise must be a function of the seed alone */
    for (size_t i = 0; i < n; i++) y[i] = x[i] + (nn_rng_uniform(rng) - 0.5f);
}

double nn_mse_forward(const float *a, const float *b, size_t n)
{
    if (n == 0) return 0.0;
    double block_sum[OPS_REDUCE_BLOCKS];
    size_t block = (n + OPS_REDUCE_BLOCKS - 1) / OPS_REDUCE_BLOCKS;
    #pragma omp parallel for schedule(static) if (n >= OPS_PARALLEL_MIN)
    for (int k = 0; k < OPS_REDUCE_BLOCKS; k++) {
        size_t begin = (size_t)k * block;
        size_t end = begin + block < n ? begin + block : n;
        double sum = 0.0;
        for (size_t i = begin; i < end; i++) {
            double d = (double)a[i] - (double)b[i];
            sum += d * d;
        }
        block_sum[k] = sum;
    }
    double total = 0.0;
    for (int k = 0; k < OPS_REDUCE_BLOCKS; k++) total += block_sum[k];
    return total / (double)n;
}

void nn_mse_backward(const float *a, const float *b, float *da, size_t n, float scale)
{
    if (n == 0) return;
    float k = (float)(2.0 * scale / (double)n);
    #pragma omp parallel for simd schedule(static) if (parallel: n >= OPS_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) da[i] = k * (a[i] - b[i]);
}
