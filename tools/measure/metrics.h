/* tools/measure/metrics.h - image quality measures, computed exactly as the
 * project's reference script rd.py computes them, so that numbers
 * from `aec bench` and from rd.py can be put side by side.
 *
 * Both take two 8-bit interleaved RGB images of the same size. */
#ifndef AEC_METRICS_H
#define AEC_METRICS_H

#include <stdint.h>

/* PSNR: codec/psnr.h (the encoder's PSNR target uses it too), the same
 * as rd.py's. */
#include "codec/psnr.h"

/* Smallest side for which MS-SSIM is defined: the fifth scale (side / 16)
 * must still be as wide as the 11-tap window. */
#define AEC_MSSSIM_MIN_SIDE 176

/* 5-scale MS-SSIM (Wang, Simoncelli and Bovik 2003) of each channel, then
 * averaged over R, G and B: 11-tap Gaussian window (sigma 1.5, only the
 * positions where it fits wholly inside), C1 = (0.01*255)^2,
 * C2 = (0.03*255)^2, 2x2 mean downsampling after cropping to even sides,
 * exponents 0.0448 0.2856 0.3001 0.2363 0.1333, each factor at least 1e-8.
 * Sets *out to NAN when a side is below AEC_MSSSIM_MIN_SIDE (rd.py gives
 * nan there too). Returns 0, or -1 when out of memory. */
int aec_msssim_rgb(const uint8_t *a, const uint8_t *b, int w, int h, double *out);

#endif
