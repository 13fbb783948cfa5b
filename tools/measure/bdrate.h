/* tools/measure/bdrate.h - comparing rate-distortion curves: the Bjontegaard
 * delta-rate exactly as the project's reference script rd.py computes it,
 * and the file size another codec needs for the same quality.
 *
 * A curve is n points (rate, distortion-as-quality), e.g. (bpp, PSNR dB).
 * Rates must be positive. */
#ifndef AEC_BDRATE_H
#define AEC_BDRATE_H

/* numpy.polyfit(x, y, 3): least-squares cubic, highest power first
 * (coef[0] x^3 + coef[1] x^2 + coef[2] x + coef[3]). Like numpy it scales
 * the columns of the Vandermonde matrix to unit length, drops singular
 * values below n * DBL_EPSILON of the largest, and so gives the
 * minimum-norm fit with fewer than 4 distinct x. Returns 0, or -1 when
 * n < 1 or a value is not finite (coef then all NAN). */
int aec_polyfit3(const double *x, const double *y, int n, double coef[4]);

/* rd.py's bd_rate(r1, d1, r2, d2): the mean % rate difference of curve 2
 * against curve 1 at equal quality, from cubic fits of log(rate) against
 * quality, integrated over the quality range both curves cover. Negative:
 * curve 2 needs fewer bits. NAN when the ranges do not overlap or a fit
 * fails. */
double aec_bd_rate(const double *rate1, const double *dist1, int n1, const double *rate2,
                   const double *dist2, int n2);

/* rd.py's window(): sorts the curve's points by bpp (ties keep their
 * order) into order[0..n-1] and picks the run of them inside [lo, hi] plus
 * one neighbour each side, order[*first .. *first + *count - 1]; all of
 * them when none is inside. */
void aec_bd_window(const double *bpp, int n, double lo, double hi, int *order, int *first,
                   int *count);

/* The rate another codec needs for quality `target`, from its points
 * (rate[i], quality[i]) of one image: log(rate) interpolated linearly in
 * quality between the two points around target (the points are taken in
 * order of quality). NAN when target is outside their quality range. */
double aec_rate_at_quality(const double *rate, const double *quality, int n, double target);

#endif
