/* nn/gdn.h - generalised divisive normalisation (Balle et al. 2016).
 *
 *   GDN:  y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)
 *   IGDN: y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)
 *
 * beta and gamma are stored reparametrised so they stay non-negative under
 * plain gradient descent (Balle's "usual" scheme, as in tensorflow-compression
 * and CompressAI): stored b, g with beta = max(b, sqrt(beta_min + ped))^2 - ped,
 * gamma = max(g, sqrt(ped))^2 - ped, ped = 2^-36, beta_min = 1e-6; the bound's
 * gradient passes where the value is above the bound or the gradient pushes it
 * up. The sum over j is a 1x1 convolution, run as one sgemm. */
#ifndef NN_GDN_H
#define NN_GDN_H

#include "nn/params.h"
#include "nn/tensor.h"

typedef struct {
    int c, inverse;
    size_t beta, gamma; /* beta [c], gamma [c][c] (row i = output channel) */
} nn_gdn;

/* Declares NAME.beta [c] and NAME.gamma [c][c]; -1 if a name is too long
 * or taken, or out of memory. */
int nn_gdn_declare(nn_gdn *l, nn_params *p, const char *name, int c, int inverse);
/* beta = 1, gamma = 0.1 * identity (in the reparametrised form) */
void nn_gdn_init(const nn_gdn *l, nn_params *p);
/* Effective beta/gamma from the stored values (for export and tests). */
void nn_gdn_effective(const nn_gdn *l, const nn_params *p, float *beta, float *gamma);
/* y is resized to x's shape. The batch is laid out as one C x (N*H*W)
 * matrix of x^2 in the workspace (about 2 such matrices forward, 3 backward),
 * so the sum over j is a single sgemm however small the images are.
 * Returns -1 when x->c != l->c or out of memory. */
int nn_gdn_forward(const nn_gdn *l, const nn_params *p, const nn_tensor *x,
                   nn_tensor *y, nn_workspace *ws);
/* Inference: the same values, in place, on `pixels` pixels whose channel
 * k lies at data + k * ld (a band of rows of a [c][h][w] image: ld = h w),
 * a block of pixels at a time on every thread, each block's squares and
 * denominators kept in cache instead of three passes over whole
 * activations. The denominators come from our GEMM kernel (nn_sgemm), so
 * they may differ from nn_gdn_forward's in the last bits where that one
 * calls OpenBLAS. 0, or -1 (ld < pixels, out of memory). */
int nn_gdn_forward_inplace(const nn_gdn *l, const nn_params *p, float *data, size_t pixels,
                           size_t ld, nn_workspace *ws);

/* accumulates into p->grad (skipped when p->grad is NULL), overwrites dx (dx must not be NULL; it is
 * resized to x's shape); dy must have x's shape. Recomputes the forward
 * denominators rather than keeping them. */
int nn_gdn_backward(const nn_gdn *l, nn_params *p, const nn_tensor *x,
                    const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws);

#endif
