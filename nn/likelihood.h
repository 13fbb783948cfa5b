/* nn/likelihood.h - the rate terms of a learned codec: bits of a quantised
 * latent under (a) the factorized density of Balle et al. 2018 (used for the
 * hyper-latent z) and (b) a Gaussian with predicted mean and scale (used for
 * the latent y). In training, x is the noisy (or rounded) latent; the
 * probability of an integer bin is the CDF difference over [x-0.5, x+0.5].
 * Bits are -log2(max(p, 1e-9)) summed over every element.
 *
 * The floor acts as a clamp: elements with p < 1e-9 contribute 29.9 bits
 * and no gradient at all. (CompressAI lets the gradient through its
 * likelihood bound; here a floored element is treated as a constant.)
 *
 * Backward functions OVERWRITE the input gradients they are given (NULL =
 * not needed; otherwise already allocated with x's element count) and
 * ACCUMULATE parameter gradients (none when p->grad is NULL); all are scaled by `dbits`, the gradient of
 * the loss with respect to the bit count. They also return the bit count,
 * bit-for-bit equal to the forward's, so a training step can skip the
 * forward call. Sums are ordered independently of the thread count, so
 * results are reproducible. */
#ifndef NN_LIKELIHOOD_H
#define NN_LIKELIHOOD_H

#include "nn/params.h"
#include "nn/tensor.h"

#define NN_LIKELIHOOD_MIN 1e-9f
#define NN_SCALE_MIN 0.11f

/* Factorized density, per channel: CDF c(x) = sigmoid(f(x)), where f is the
 * chain 1 -> 3 -> 3 -> 3 -> 1 of (softplus(H_k) . v + b_k) with
 * v += tanh(a_k) * tanh(v) after every layer but the last (appendix 6.1 of
 * the paper; CompressAI's EntropyBottleneck with filters (3, 3, 3)). The bin
 * probability is computed as |sigmoid(s*f(x+.5)) - sigmoid(s*f(x-.5))| with
 * s = -sign(f(x+.5) + f(x-.5)) for accuracy in the upper tail; where the
 * sum is exactly 0 (the paper's sign(0) = 0 would give p = 0) s = +1.
 * Parameters are declared as NAME.matrix0..3 [c][f_out][f_in][1],
 * NAME.bias0..3 [c][f_out][1][1] and NAME.factor0..2 [c][f_out][1][1]. */
typedef struct {
    int c;
    size_t matrix[4], bias[4], factor[3];
} nn_factorized;

/* 0, or -1 when a parameter cannot be declared (name taken or too long, out of memory) */
int nn_factorized_declare(nn_factorized *l, nn_params *p, const char *name, int channels);
/* init_scale 10 as in the paper: H_k = log(expm1(1/scale/filters)), b ~ U(-.5,.5), a = 0 */
void nn_factorized_init(const nn_factorized *l, nn_params *p, float init_scale, unsigned seed);
/* x: [n][c][h][w] with c == l->c */
double nn_factorized_bits(const nn_factorized *l, const nn_params *p, const nn_tensor *x);
double nn_factorized_bits_backward(const nn_factorized *l, nn_params *p, const nn_tensor *x,
                                   float dbits, nn_tensor *dx);
/* f(v) for one channel, in double, for building coding tables. */
double nn_factorized_logit(const nn_factorized *l, const nn_params *p, int channel, double v);

/* Gaussian conditional: p = Phi((0.5 - |x - mu|) / s) - Phi((-0.5 - |x - mu|) / s)
 * with s = max(scale, NN_SCALE_MIN); the bound's gradient passes where scale
 * is above the bound or the gradient would raise it. All tensors one shape. */
double nn_gaussian_bits(const nn_tensor *x, const nn_tensor *mu, const nn_tensor *scale);
double nn_gaussian_bits_backward(const nn_tensor *x, const nn_tensor *mu, const nn_tensor *scale,
                                 float dbits, nn_tensor *dx, nn_tensor *dmu, nn_tensor *dscale);

#endif
