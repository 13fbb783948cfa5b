/* codec/psnr.h - PSNR, the one definition every part of aec uses: the
 * encoder's PSNR target (target.h), `aec bench`, the domain-fit score,
 * `aec encode -v` and the validation of `aec train`.
 *
 *   PSNR = 10 log10(255^2 / MSE)   in dB, the MSE over every sample
 *                                   (all three channels together)
 *
 * and 100 dB when the MSE is 0 (identical images), as the reference script
 * rd.py says, so that averages stay finite and numbers from `aec bench`
 * and rd.py can be put side by side. */
#ifndef AEC_PSNR_H
#define AEC_PSNR_H

#include <stddef.h>
#include <stdint.h>

/* The PSNR of a mean squared error on the 0..255 scale; 100 for 0. */
double aec_psnr_mse(double mse);

/* The PSNR of two 8-bit images of n samples each (e.g. w * h * 3 for
 * interleaved RGB); 100 when they are equal (or n is 0). */
double aec_psnr(const uint8_t *a, const uint8_t *b, size_t n);

#endif
