/* codec/psnr.c - PSNR (psnr.h). */
#include "codec/psnr.h"

#include <math.h>

double aec_psnr_mse(double mse)
{
    return mse == 0 ? 100.0 : 10 * log10(255.0 * 255.0 / mse);
}

double aec_psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        sum += d * d;
    }
    return aec_psnr_mse(n ? sum / (double)n : 0);
}
