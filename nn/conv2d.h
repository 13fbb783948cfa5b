/* nn/conv2d.h - 2-D convolution and transposed convolution (NCHW).
 *
 * Both run as im2col/col2im + sgemm: the backward passes over the whole
 * batch at once, the forward passes in chunks (whole images, or bands of
 * rows of one image) whose scratch stays under the workspace cap below, so
 * that a big image does not need a column matrix of gigabytes.
 * Forward passes overwrite y; backward passes ACCUMULATE (+=) into the
 * parameter gradients in p->grad and OVERWRITE dx (dx may be NULL when the
 * input gradient is not needed, e.g. for the first layer). */
#ifndef NN_CONV2D_H
#define NN_CONV2D_H

#include "nn/params.h"
#include "nn/rng.h"
#include "nn/tensor.h"

enum nn_pad_mode { NN_PAD_ZERO = 0, NN_PAD_REPLICATE = 1 };

/* The most scratch (bytes of the nn_workspace) a forward pass uses, unless
 * a single row of output needs more; a workspace's own max_bytes, when set,
 * takes precedence (the coder sets 8 MB to bound memory on big images).
 * Chunking changes results only by float rounding (overlapping deconv bands
 * are summed in another order). The default, 256 MB, keeps a training
 * step's passes whole (batch 8 of 128x128 needs at most ~105 MB): chunks
 * of a few MB slow a training step's convolutions down. */
#define NN_CONV_WORKSPACE_CAP_DEFAULT ((size_t)256 << 20)
/* Sets the cap for every later forward pass in the process (0: the
 * default) and returns the previous one. Not thread-safe: set it before
 * threads start (tests use it to force chunking on small shapes). */
size_t nn_conv_set_workspace_cap(size_t bytes);
/* The cap that applies to a forward pass with workspace ws, in bytes. */
size_t nn_conv_workspace_cap(const nn_workspace *ws);

/* db[c] += the sum of dy's channel c over its images and pixels (in
 * double): the bias gradient of either layer kind, as the transposed
 * convolution's backward pass computes it. */
void nn_conv_bias_grad(const nn_tensor *dy, float *db);

/* Convolution: weight [cout][cin][k][k] at p->value + w, bias [cout] at
 * p->value + b. Padding (k-1)/2 on each side (k odd), so the output is
 * ceil(H/stride) x ceil(W/stride), matching PyTorch Conv2d(k, stride,
 * padding=k//2) for zero padding. */
typedef struct {
    int cin, cout, k, stride, pad_mode;
    size_t w, b;
} nn_conv2d;

int nn_conv2d_declare(nn_conv2d *l, nn_params *p, const char *name,
                      int cin, int cout, int k, int stride, int pad_mode);
/* weights ~ U(-a, a) with a = sqrt(3 / fan_in), fan_in = cin*k*k, so
 * Var(w) = 1/fan_in and unit-variance inputs give unit-variance outputs
 * (Kaiming-uniform with gain 1; PyTorch's default is the smaller
 * a = 1/sqrt(fan_in)). Bias 0. Declared blocks: NAME.weight, NAME.bias. */
void nn_conv2d_init(const nn_conv2d *l, nn_params *p, nn_rng *rng);
void nn_conv2d_out_shape(const nn_conv2d *l, int h, int w, int *oh, int *ow);
/* y is resized to [x->n][cout][oh][ow]. */
int nn_conv2d_forward(const nn_conv2d *l, const nn_params *p, const nn_tensor *x,
                      nn_tensor *y, nn_workspace *ws);
/* With p->grad NULL only dx is computed. */
int nn_conv2d_backward(const nn_conv2d *l, nn_params *p, const nn_tensor *x,
                       const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws);

/* Transposed convolution (up-sampling by `stride`): weight [cin][cout][k][k]
 * (PyTorch's ConvTranspose2d layout), bias [cout]; output H*stride x
 * W*stride, matching PyTorch ConvTranspose2d(k, stride, padding=k//2,
 * output_padding=stride-1). Zero padding only. */
typedef struct {
    int cin, cout, k, stride;
    size_t w, b;
} nn_deconv2d;

int nn_deconv2d_declare(nn_deconv2d *l, nn_params *p, const char *name,
                        int cin, int cout, int k, int stride);
/* As nn_conv2d_init with fan_in = cin*k*k / stride^2, the average number of
 * taps that reach one output pixel. */
void nn_deconv2d_init(const nn_deconv2d *l, nn_params *p, nn_rng *rng);
int nn_deconv2d_forward(const nn_deconv2d *l, const nn_params *p, const nn_tensor *x,
                        nn_tensor *y, nn_workspace *ws);
/* With p->grad NULL only dx is computed (the weights' gradients are
 * skipped: optimising the input, as the encoder's latent refinement does). */
int nn_deconv2d_backward(const nn_deconv2d *l, nn_params *p, const nn_tensor *x,
                         const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws);

#endif
