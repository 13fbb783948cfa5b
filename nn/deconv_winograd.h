/* nn/deconv_winograd.h - 5x5 stride-2 transposed convolutions and
 * convolutions, forward and input gradient, with 2.8x fewer multiplies.
 *
 * A 5x5 stride-2 transposed convolution is four 3x3 stride-1 convolutions
 * of its input, one per output phase (row parity a, column parity b): output
 * pixel (2m+a, 2n+b) is a 3x3 correlation of the input around (m, n) with
 * the taps of the 5x5 kernel that reach it (9, 6, 6 or 4 of them, the rest
 * zero). Stacking the four phases as 4*cout output channels, that 3x3
 * convolution runs as Winograd's F(4x4, 3x3) (Lavin & Gray 2016): each 6x6
 * input tile is transformed once, 36 matrix products [4 cout x cin] x
 * [cin x tiles] replace the 25 * cin * cout multiplies per input pixel by
 * 9 * cin * cout, and an output transform gives each phase's 4x4 outputs.
 *
 * The result equals nn_deconv2d_forward's up to float rounding (the
 * transforms add and scale; tests/test_deconv_winograd.c bounds the
 * difference against a direct double-precision reference). The weights'
 * gradients are not here: training computes them with the plain backward
 * passes (p->grad set, dx NULL) and the input gradients here. The decoder,
 * the encoder and training all use these passes (codec/model.c).
 *
 * Scratch: allocated for the call, the transformed weights packed for the
 * GEMM (36 * 4 cout * cin floats, independent of the image) and, while they
 * are made, a reordered copy of the weights and 6 points' worth of
 * transformed ones; from the workspace, the tiles in chunks under its cap
 * (at least 64 tiles a chunk).
 *
 * Threads: OpenMP over channels and tiles, and over the 36 products, each
 * of which runs single-threaded (nn_sgemm inside a parallel region). */
#ifndef NN_DECONV_WINOGRAD_H
#define NN_DECONV_WINOGRAD_H

#include "conv2d.h"

/* y = the transposed convolution of x, as nn_deconv2d_forward. Layers with
 * another kernel size or stride, or under 16 output channels, go to
 * nn_deconv2d_forward. */
int nn_deconv2d_forward_winograd(const nn_deconv2d *l, const nn_params *p, const nn_tensor *x,
                                 nn_tensor *y, nn_workspace *ws);

/* dx = the gradient of a loss with respect to x given dy (the gradient with
 * respect to y), OVERWRITTEN, as nn_deconv2d_backward computes it with no
 * parameter gradients: the same phase decomposition run backwards (each
 * phase of dy is a 3x3 correlation with the flipped phase kernel; the four
 * phases are the 4 cout input channels of one F(4x4, 3x3) convolution with
 * cin outputs). x gives the shape only (and the fallback's arguments). */
int nn_deconv2d_backward_dx_winograd(const nn_deconv2d *l, const nn_params *p, const nn_tensor *x,
                                     const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws);

/* The same arithmetic for the 5x5 stride-2 convolution with zero padding
 * (the analysis transform's layers), which is the transposed layer's
 * input-gradient direction: its forward pass (bias added) and its input
 * gradient (dx OVERWRITTEN, as nn_conv2d_backward with no parameter
 * gradients). Other kernels, strides, padding, odd input sizes or under 16
 * input channels go to the plain passes. */
int nn_conv2d_forward_winograd(const nn_conv2d *l, const nn_params *p, const nn_tensor *x,
                               nn_tensor *y, nn_workspace *ws);
int nn_conv2d_backward_dx_winograd(const nn_conv2d *l, const nn_params *p, const nn_tensor *x,
                                   const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws);

/* Whether the passes above take the layer (for an input x, for a
 * convolution) or hand it to the plain ones: a caller that needs the
 * weights' gradient too then makes one plain backward call instead of two. */
int nn_deconv2d_winograd_applies(const nn_deconv2d *l);
int nn_conv2d_winograd_applies(const nn_conv2d *l, const nn_tensor *x);

#endif
