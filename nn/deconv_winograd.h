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
 * gradients run by the same decomposition too (nn/winograd_dw.c: the
 * products' gradient dU, summed over the tiles, taken back through the
 * weight transform). The decoder, the encoder and training all use these
 * passes (codec/model.c).
 *
 * Scratch: the transformed weights packed for the GEMM (36 * 4 cout * cin
 * floats, independent of the image; while they are made, a reordered copy
 * of the weights and 6 points' worth of transformed ones): a plan, made by
 * the caller once for many passes (nn_deconv2d_winograd_plan) or for the
 * call; from the workspace, the tiles in chunks under its cap (at least 64
 * tiles a chunk).
 *
 * Threads: OpenMP over channels and tiles, and over the 36 products, each
 * of which runs single-threaded (nn_sgemm inside a parallel region). */
#ifndef NN_DECONV_WINOGRAD_H
#define NN_DECONV_WINOGRAD_H

#include "nn/conv2d.h"
#include "nn/gemm.h"

/* One layer's weights, transformed to the 36 Winograd points and packed
 * for the GEMM kernel, for one direction. Making it costs about as much as
 * a pass over a few hundred tiles, so callers that run a layer many times
 * (the decoder's bands and tiles, the encoder's refinement steps) make it
 * once. Read-only while passes use it. */
typedef struct {
    int cin, cout, backward;
    size_t weights; /* the layer's weight offset in its parameters: which layer */
    nn_sgemm_apack packed[36];
} nn_winograd_plan;

/* The plan of transposed convolution l for its forward pass (backward 0) or
 * its input gradient (1), from p's current weights (a plan does not follow
 * later changes of them; the passes check that a plan is for their layer
 * and direction, not that the weights are unchanged). For a layer the
 * Winograd passes do not take
 * (nn_deconv2d_winograd_applies) the plan is empty, and the passes below
 * accept it. 0, or -1 when out of memory. */
int nn_deconv2d_winograd_plan(const nn_deconv2d *l, const nn_params *p, int backward,
                              nn_winograd_plan *plan);
void nn_winograd_plan_free(nn_winograd_plan *plan);
/* The plan made again, for new weights, in a plan that is zeroed or holds
 * one: the memory of a plan of the same layer and direction is reused (a
 * trainer remakes its plans at every step). */
int nn_deconv2d_winograd_replan(const nn_deconv2d *l, const nn_params *p, int backward,
                                nn_winograd_plan *plan);

/* y = the transposed convolution of x, as nn_deconv2d_forward. Layers with
 * another kernel size or stride, or under 16 output channels, go to
 * nn_deconv2d_forward. */
int nn_deconv2d_forward_winograd(const nn_deconv2d *l, const nn_params *p, const nn_tensor *x,
                                 nn_tensor *y, nn_workspace *ws);
/* The same with a plan made for this layer's forward pass (NULL: made for
 * the call). */
int nn_deconv2d_forward_winograd_planned(const nn_deconv2d *l, const nn_params *p,
                                         const nn_winograd_plan *plan, const nn_tensor *x,
                                         nn_tensor *y, nn_workspace *ws);

/* Rows r0 .. r1 - 1 of the same y, written to rows at .. at + r1 - r0 - 1 of
 * a y the caller has shaped [x->n][cout][rows][2 x->w], its other rows left
 * as they are: a band of the output, for a caller that streams the layers
 * after this one over bands (codec/model.c). r0 must be a multiple of 8 and
 * r1 one too or 2 x->h (a band is whole rows of the 4x4 input tiles, whose
 * outputs are 8 rows); the values are the whole pass's exactly. Needs a plan
 * for the forward pass and a layer the Winograd passes take; -1 otherwise. */
int nn_deconv2d_forward_winograd_rows(const nn_deconv2d *l, const nn_params *p,
                                      const nn_winograd_plan *plan, const nn_tensor *x, int r0,
                                      int r1, nn_tensor *y, int at, nn_workspace *ws);

/* dx = the gradient of a loss with respect to x given dy (the gradient with
 * respect to y), OVERWRITTEN, as nn_deconv2d_backward computes it with no
 * parameter gradients: the same phase decomposition run backwards (each
 * phase of dy is a 3x3 correlation with the flipped phase kernel; the four
 * phases are the 4 cout input channels of one F(4x4, 3x3) convolution with
 * cin outputs). x gives the shape only (and the fallback's arguments). */
int nn_deconv2d_backward_dx_winograd(const nn_deconv2d *l, const nn_params *p, const nn_tensor *x,
                                     const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws);
int nn_deconv2d_backward_dx_winograd_planned(const nn_deconv2d *l, const nn_params *p,
                                             const nn_winograd_plan *plan, const nn_tensor *x,
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
/* Their plans (backward 0: the forward pass, 1: the input gradient; an
 * empty plan for a layer they never take), made in a plan that is zeroed or
 * holds one, whose memory is reused as nn_deconv2d_winograd_replan's; and
 * the passes with one (NULL: made for the call). An input they hand to the
 * plain passes (odd sizes) ignores the plan. */
int nn_conv2d_winograd_replan(const nn_conv2d *l, const nn_params *p, int backward,
                              nn_winograd_plan *plan);
int nn_conv2d_forward_winograd_planned(const nn_conv2d *l, const nn_params *p,
                                       const nn_winograd_plan *plan, const nn_tensor *x,
                                       nn_tensor *y, nn_workspace *ws);
int nn_conv2d_backward_dx_winograd_planned(const nn_conv2d *l, const nn_params *p,
                                           const nn_winograd_plan *plan, const nn_tensor *x,
                                           const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws);

/* The weights' and the bias's gradients of transposed convolution l for
 * input x and output gradient dy, ACCUMULATED (+=) into p->grad as
 * nn_deconv2d_backward accumulates them (nothing without p->grad), up to
 * float rounding: per point of the 36, dU = sum over the tiles of
 * (A dY A^T) V^T, one product [4 cout x tiles] x [tiles x cin], then
 * G^T dU G back to each phase's 3x3 taps of the 5x5 kernel. A layer the
 * Winograd passes do not take, or an input of under 64 tiles (x->n times
 * ceil(h / 4) x ceil(w / 4): there dU costs more than the products save),
 * goes to nn_deconv2d_backward (dx NULL).
 * Scratch, from the workspace: dU (36 x 4 cout x cin floats) and the
 * tiles' transforms in chunks under its cap (at least 64 tiles a chunk).
 * The sums run in an order that does not depend on the thread count. */
int nn_deconv2d_backward_dw_winograd(const nn_deconv2d *l, nn_params *p, const nn_tensor *x,
                                     const nn_tensor *dy, nn_workspace *ws);
/* The same for the 5x5 stride-2 convolution (products [cout x tiles] x
 * [tiles x 4 cin], x's phases, the tiles dy's), or nn_conv2d_backward (dx
 * NULL) for a layer or input the Winograd passes do not take and for
 * under 64 tiles. */
int nn_conv2d_backward_dw_winograd(const nn_conv2d *l, nn_params *p, const nn_tensor *x,
                                   const nn_tensor *dy, nn_workspace *ws);

/* Whether the passes above take the layer (for an input x, for a
 * convolution) or hand it to the plain ones: a caller that needs the
 * weights' gradient too then makes one plain backward call instead of two. */
int nn_deconv2d_winograd_applies(const nn_deconv2d *l);
int nn_conv2d_winograd_applies(const nn_conv2d *l, const nn_tensor *x);

#endif
