/* tools/measure/metrics.c - PSNR and MS-SSIM as rd.py computes them (see metrics.h).
 *
 * rd.py filters with scipy's gaussian_filter(sigma 1.5, truncate 3.5,
 * mode "constant") and then crops 5 pixels from every side. The kernel's
 * radius is int(3.5 * 1.5 + 0.5) = 5, so the crop keeps exactly the
 * positions where the window lies inside the image: the zero padding never
 * counts, and a "valid" correlation here gives the same numbers. Everything
 * is in double, as numpy does it. */
#include "tools/measure/metrics.h"

#include <math.h>
#include <stdlib.h>

#define RADIUS 5
#define TAPS (2 * RADIUS + 1)
#define SCALES 5

/* scipy's _gaussian_kernel1d: exp(-x^2 / (2 sigma^2)) over -5..5, normalised. */
static void gaussian_taps(double taps[TAPS])
{
    const double sigma = 1.5;
    double sum = 0;
    for (int i = 0; i < TAPS; i++) {
        double x = i - RADIUS;
        taps[i] = exp(-0.5 / (sigma * sigma) * x * x);
        sum += taps[i];
    }
    for (int i = 0; i < TAPS; i++) taps[i] /= sum;
}


/* Mean SSIM and mean contrast-structure term of x against y (w x h planes)
 * over the valid window positions. */
static void ssim_parts(const double *x, const double *y, int w, int h, const double taps[TAPS],
                       double *col, double *ssim, double *cs)
{
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    int vh = h - 2 * RADIUS, vw = w - 2 * RADIUS;
    size_t plane = (size_t)vh * (size_t)w;
    double *fx = col, *fy = col + plane, *fxx = col + 2 * plane, *fyy = col + 3 * plane,
           *fxy = col + 4 * plane;
    /* down the columns first, like scipy (axis 0, then axis 1) */
    for (int r = 0; r < vh; r++) {
        for (int c = 0; c < w; c++) {
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            for (int k = 0; k < TAPS; k++) {
                size_t i = (size_t)(r + k) * (size_t)w + (size_t)c;
                double t = taps[k], u = x[i], v = y[i];
                sx += t * u;
                sy += t * v;
                sxx += t * (u * u);
                syy += t * (v * v);
                sxy += t * (u * v);
            }
            size_t o = (size_t)r * (size_t)w + (size_t)c;
            fx[o] = sx;
            fy[o] = sy;
            fxx[o] = sxx;
            fyy[o] = syy;
            fxy[o] = sxy;
        }
    }
    double sum_ssim = 0, sum_cs = 0;
    for (int r = 0; r < vh; r++) {
        for (int c = 0; c < vw; c++) {
            double mx = 0, my = 0, mxx = 0, myy = 0, mxy = 0;
            size_t row = (size_t)r * (size_t)w + (size_t)c;
            for (int k = 0; k < TAPS; k++) {
                double t = taps[k];
                mx += t * fx[row + (size_t)k];
                my += t * fy[row + (size_t)k];
                mxx += t * fxx[row + (size_t)k];
                myy += t * fyy[row + (size_t)k];
                mxy += t * fxy[row + (size_t)k];
            }
            double vx = mxx - mx * mx, vy = myy - my * my, cov = mxy - mx * my;
            double cs_here = (2 * cov + c2) / (vx + vy + c2);
            double l = (2 * mx * my + c1) / (mx * mx + my * my + c1);
            sum_ssim += l * cs_here;
            sum_cs += cs_here;
        }
    }
    double n = (double)vh * (double)vw;
    *ssim = sum_ssim / n;
    *cs = sum_cs / n;
}

/* 2x2 means of the even-cropped plane, in place (the output is smaller). */
static void halve(double *p, int *w, int *h)
{
    int w2 = *w / 2, h2 = *h / 2;
    for (int r = 0; r < h2; r++)
        for (int c = 0; c < w2; c++) {
            const double *a = p + (size_t)(2 * r) * (size_t)*w + (size_t)(2 * c);
            const double *b = a + *w;
            p[(size_t)r * (size_t)w2 + (size_t)c] = (a[0] + a[1] + b[0] + b[1]) / 4;
        }
    *w = w2;
    *h = h2;
}

int aec_msssim_rgb(const uint8_t *a, const uint8_t *b, int w, int h, double *out)
{
    static const double weights[SCALES] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
    if (w < AEC_MSSSIM_MIN_SIDE || h < AEC_MSSSIM_MIN_SIDE) {
        *out = NAN;
        return 0;
    }
    size_t n = (size_t)w * (size_t)h;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *col = malloc(5 * (size_t)(h - 2 * RADIUS) * (size_t)w * sizeof *col);
    if (!x || !y || !col) {
        free(x);
        free(y);
        free(col);
        return -1;
    }
    double taps[TAPS];
    gaussian_taps(taps);
    double total = 0;
    for (int ch = 0; ch < 3; ch++) {
        for (size_t i = 0; i < n; i++) {
            x[i] = a[3 * i + (size_t)ch];
            y[i] = b[3 * i + (size_t)ch];
        }
        int sw = w, sh = h;
        double factor[SCALES], ssim = 0;
        for (int s = 0; s < SCALES; s++) {
            ssim_parts(x, y, sw, sh, taps, col, &ssim, &factor[s]);
            if (s < SCALES - 1) {
                int tw = sw, th = sh;
                halve(x, &sw, &sh);
                halve(y, &tw, &th);
            }
        }
        /* the contrast-structure terms of scales 1-4 and the full SSIM of
         * the last scale */
        factor[SCALES - 1] = ssim;
        double prod = 1;
        for (int s = 0; s < SCALES; s++) prod *= pow(fmax(factor[s], 1e-8), weights[s]);
        total += prod;
    }
    free(x);
    free(y);
    free(col);
    *out = total / 3;
    return 0;
}
