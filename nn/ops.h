/* nn/ops.h - element-wise layers, the loss, and the quantisation proxies.
 *
 * Plain arrays of n floats; y may alias x where noted. Backward functions
 * OVERWRITE dx unless the name says accumulate. */
#ifndef NN_OPS_H
#define NN_OPS_H

#include <stddef.h>

#include "nn/rng.h"
#include "nn/tensor.h"

void nn_relu_forward(const float *x, float *y, size_t n);             /* y may alias x */
void nn_relu_backward(const float *x, const float *dy, float *dx, size_t n);
void nn_leaky_relu_forward(const float *x, float *y, size_t n, float slope);
void nn_leaky_relu_backward(const float *x, const float *dy, float *dx, size_t n, float slope);

void nn_add(const float *a, const float *b, float *y, size_t n);      /* y = a + b */
void nn_scale(const float *x, float s, float *y, size_t n);           /* y = s * x */
void nn_axpy(float a, const float *x, float *y, size_t n);            /* y += a * x */

/* Per-channel gain (the gain units of Cui et al. 2021): y[n][c][.] = x[n][c][.] * g[c].
 * y and dx must already have x's shape (y may alias x). Backward overwrites
 * dx (if not NULL) and ACCUMULATES into dg[c]. */
void nn_channel_scale_forward(const nn_tensor *x, const float *g, nn_tensor *y);
void nn_channel_scale_backward(const nn_tensor *x, const float *g, const nn_tensor *dy,
                               nn_tensor *dx, float *dg);

/* Quantisation proxies. Rounding is half away from zero (lrintf would depend
 * on the rounding mode); its straight-through backward is the identity, so
 * callers simply pass dy on. Noise is uniform in [-0.5, 0.5). */
void nn_round(const float *x, float *y, size_t n);
void nn_add_uniform_noise(const float *x, float *y, size_t n, nn_rng *rng);

/* Mean squared error over n elements, and its gradient scaled by `scale`:
 * da = scale * 2 (a - b) / n. The sum is in double, in fixed blocks, so the
 * result does not depend on the thread count. */
double nn_mse_forward(const float *a, const float *b, size_t n);
void nn_mse_backward(const float *a, const float *b, float *da, size_t n, float scale);

#endif
