/* tools/measure/bdrate.c - Bjontegaard delta-rate and equal-quality rates (see
 * bdrate.h). The fit follows numpy.polyfit so that rd.py and `aec bench`
 * agree even on degenerate curves; the least squares are solved through a
 * one-sided Jacobi SVD, which is accurate for the badly conditioned
 * Vandermonde matrices of PSNR values around 30. */
#include "tools/measure/bdrate.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEG 3
#define COLS (DEG + 1)

/* Orthogonalises the columns of u (n x COLS, row-major) by plane rotations,
 * applying the same rotations to v (COLS x COLS, starting as I): then
 * A = U V^T with U's columns orthogonal, their norms the singular values. */
static void jacobi_svd(double *u, int n, double v[COLS][COLS])
{
    memset(v, 0, sizeof(double[COLS][COLS]));
    for (int j = 0; j < COLS; j++) v[j][j] = 1;
    for (int sweep = 0; sweep < 60; sweep++) {
        int rotated = 0;
        for (int p = 0; p < COLS - 1; p++)
            for (int q = p + 1; q < COLS; q++) {
                double alpha = 0, beta = 0, gamma = 0;
                for (int i = 0; i < n; i++) {
                    double a = u[i * COLS + p], b = u[i * COLS + q];
                    alpha += a * a;
                    beta += b * b;
                    gamma += a * b;
                }
                if (gamma == 0 || fabs(gamma) <= DBL_EPSILON * sqrt(alpha * beta)) continue;
                rotated = 1;
                double zeta = (beta - alpha) / (2 * gamma);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                double c = 1 / sqrt(1 + t * t), s = c * t;
                for (int i = 0; i < n; i++) {
                    double a = u[i * COLS + p], b = u[i * COLS + q];
                    u[i * COLS + p] = c * a - s * b;
                    u[i * COLS + q] = s * a + c * b;
                }
                for (int i = 0; i < COLS; i++) {
                    double a = v[i][p], b = v[i][q];
                    v[i][p] = c * a - s * b;
                    v[i][q] = s * a + c * b;
                }
            }
        if (!rotated) break;
    }
}

int aec_polyfit3(const double *x, const double *y, int n, double coef[4])
{
    for (int j = 0; j < COLS; j++) coef[j] = NAN;
    if (n < 1) return -1;
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]) || !isfinite(y[i])) return -1;
    double *u = malloc((size_t)n * COLS * sizeof *u);
    if (!u) return -1;
    /* the Vandermonde matrix, columns x^3 x^2 x 1, scaled to unit length */
    double scale[COLS] = {0};
    for (int i = 0; i < n; i++) {
        double p = 1;
        for (int j = COLS - 1; j >= 0; j--) {
            u[i * COLS + j] = p;
            scale[j] += p * p;
            p *= x[i];
        }
    }
    for (int j = 0; j < COLS; j++) {
        scale[j] = scale[j] > 0 ? sqrt(scale[j]) : 1;
        for (int i = 0; i < n; i++) u[i * COLS + j] /= scale[j];
    }
    double v[COLS][COLS], sigma[COLS], smax = 0;
    jacobi_svd(u, n, v);
    for (int j = 0; j < COLS; j++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += u[i * COLS + j] * u[i * COLS + j];
        sigma[j] = sqrt(s);
        if (sigma[j] > smax) smax = sigma[j];
    }
    /* c = sum_j v_j (u_j . y) / sigma_j over the kept singular values */
    double c[COLS] = {0};
    for (int j = 0; j < COLS; j++) {
        if (!(sigma[j] > (double)n * DBL_EPSILON * smax)) continue;
        double uy = 0;
        for (int i = 0; i < n; i++) uy += u[i * COLS + j] * y[i];
        uy /= sigma[j] * sigma[j]; /* u's column is sigma_j times the unit vector */
        for (int k = 0; k < COLS; k++) c[k] += v[k][j] * uy;
    }
    free(u);
    for (int j = 0; j < COLS; j++) coef[j] = c[j] / scale[j];
    return 0;
}

/* The antiderivative of the cubic (numpy.polyint, constant 0) at x. */
static double cubic_integral(const double c[4], double x)
{
    return (((c[0] / 4 * x + c[1] / 3) * x + c[2] / 2) * x + c[3]) * x;
}

static void min_max(const double *a, int n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (a[i] < *lo) *lo = a[i];
        if (a[i] > *hi) *hi = a[i];
    }
}

double aec_bd_rate(const double *rate1, const double *dist1, int n1, const double *rate2,
                   const double *dist2, int n2)
{
    if (n1 < 1 || n2 < 1) return NAN;
    double lo1, hi1, lo2, hi2;
    min_max(dist1, n1, &lo1, &hi1);
    min_max(dist2, n2, &lo2, &hi2);
    double lo = fmax(lo1, lo2), hi = fmin(hi1, hi2);
    if (!(hi > lo)) return NAN;
    double *logr = malloc((size_t)(n1 > n2 ? n1 : n2) * sizeof *logr);
    if (!logr) return NAN;
    double p1[4], p2[4];
    for (int i = 0; i < n1; i++) logr[i] = log(rate1[i]);
    int bad = aec_polyfit3(dist1, logr, n1, p1);
    for (int i = 0; i < n2; i++) logr[i] = log(rate2[i]);
    bad |= aec_polyfit3(dist2, logr, n2, p2);
    free(logr);
    if (bad) return NAN;
    double a1 = cubic_integral(p1, hi) - cubic_integral(p1, lo);
    double a2 = cubic_integral(p2, hi) - cubic_integral(p2, lo);
    return (exp((a2 - a1) / (hi - lo)) - 1) * 100;
}

/* Stable insertion sort of indices by key: curves have a dozen points. */
static void sort_indices(const double *key, int n, int *order)
{
    for (int i = 0; i < n; i++) {
        int k = i;
        while (k > 0 && key[order[k - 1]] > key[i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
}

void aec_bd_window(const double *bpp, int n, double lo, double hi, int *order, int *first,
                   int *count)
{
    sort_indices(bpp, n, order);
    int a = -1, b = -1;
    for (int i = 0; i < n; i++)
        if (lo <= bpp[order[i]] && bpp[order[i]] <= hi) {
            if (a < 0) a = i;
            b = i;
        }
    if (a < 0) {
        *first = 0;
        *count = n;
        return;
    }
    a = a > 0 ? a - 1 : 0;
    b = b < n - 1 ? b + 1 : n - 1;
    *first = a;
    *count = b - a + 1;
}

double aec_rate_at_quality(const double *rate, const double *quality, int n, double target)
{
    if (n < 1 || !isfinite(target)) return NAN;
    int *order = malloc((size_t)n * sizeof *order);
    if (!order) return NAN;
    sort_indices(quality, n, order);
    double result = NAN;
    for (int i = 0; i < n; i++) {
        int k = order[i];
        if (quality[k] == target) {
            result = rate[k];
            break;
        }
        if (i + 1 < n) {
            int m = order[i + 1];
            if (quality[k] < target && target < quality[m]) {
                double f = (target - quality[k]) / (quality[m] - quality[k]);
                result = exp(log(rate[k]) + f * (log(rate[m]) - log(rate[k])));
                break;
            }
        }
    }
    free(order);
    return result;
}
