/* tests/test_bdrate.c - the Bjontegaard delta-rate, numpy-style cubic fit,
 * bpp window and equal-quality rate of tools/measure/bdrate.c, against answers
 * known in closed form and values computed once with rd.py's own
 * functions (numpy 1.24) on measured curves of JPEG and other codecs on Kodak. */
#include <math.h>

#include "tests/check.h"
#include "tools/measure/bdrate.h"

/* JPEG and WebP on Kodak, measured curves: bpp, PSNR, MS-SSIM */
static const double jpeg[][3] = {
    {0.1422, 23.823, 0.80693}, {0.3613, 28.143, 0.92756}, {0.5334, 29.893, 0.95608},
    {0.6829, 31.013, 0.96828}, {0.8104, 31.822, 0.97449}, {0.9299, 32.515, 0.97874},
    {1.0978, 33.360, 0.98267}, {1.3443, 34.522, 0.98664}, {1.8356, 36.462, 0.99104},
    {3.3061, 40.560, 0.99567}, {4.6986, 43.174, 0.99740}};
static const double webp[][3] = {
    {0.1742, 27.366, 0.90872}, {0.2744, 28.932, 0.93845}, {0.4270, 30.719, 0.95982},
    {0.5772, 32.202, 0.97014}, {0.7190, 33.363, 0.97668}, {0.8773, 34.481, 0.98153},
    {1.1543, 36.184, 0.98676}, {1.9297, 39.446, 0.99321}, {2.7982, 41.660, 0.99588}};

/* rd.py's window() then bd_rate() on column `col` (1 PSNR, 2 MS-SSIM in dB) */
static double bd_of(const double (*a)[3], int na, const double (*b)[3], int nb, int col)
{
    double ra[16], da[16], rb[16], db[16], bpp[16];
    int order[16], first, count;
    for (int i = 0; i < na; i++) bpp[i] = a[i][0];
    aec_bd_window(bpp, na, 0.1, 2.0, order, &first, &count);
    int n1 = 0;
    for (int i = first; i < first + count; i++, n1++) {
        const double *p = a[order[i]];
        ra[n1] = p[0];
        da[n1] = col == 1 ? p[1] : -10 * log10(1 - p[2]);
    }
    for (int i = 0; i < nb; i++) bpp[i] = b[i][0];
    aec_bd_window(bpp, nb, 0.1, 2.0, order, &first, &count);
    int n2 = 0;
    for (int i = first; i < first + count; i++, n2++) {
        const double *p = b[order[i]];
        rb[n2] = p[0];
        db[n2] = col == 1 ? p[1] : -10 * log10(1 - p[2]);
    }
    return aec_bd_rate(ra, da, n1, rb, db, n2);
}

static void test_known_answers(void)
{
    /* B is A with every rate halved (or doubled): -50% (or +100%) at any
     * quality, whatever the shape of the curve */
    double r[6] = {0.12, 0.3, 0.55, 0.9, 1.4, 2.2}, d[6] = {24.0, 27.5, 30.1, 32.8, 35.0, 37.9};
    double half[6], twice[6];
    for (int i = 0; i < 6; i++) {
        half[i] = r[i] / 2;
        twice[i] = r[i] * 2;
    }
    CHECK_CLOSE(aec_bd_rate(r, d, 6, half, d, 6), -50.0, 1e-9, "half the bits");
    CHECK_CLOSE(aec_bd_rate(r, d, 6, twice, d, 6), 100.0, 1e-9, "twice the bits");
    CHECK_CLOSE(aec_bd_rate(r, d, 6, r, d, 6), 0.0, 1e-9, "the same curve");
    /* only the overlap counts: when log(rate) is a cubic in quality the fits
     * are exact, and B covering just the top of A's range still gives -50% */
    double cubic[6], cubic_half[6];
    for (int i = 0; i < 6; i++) {
        double t = (d[i] - 30) / 5;
        cubic[i] = exp(0.1 * t * t * t - 0.2 * t * t + 1.1 * t - 0.5);
        cubic_half[i] = cubic[i] / 2;
    }
    CHECK_CLOSE(aec_bd_rate(cubic, d, 6, cubic_half + 2, d + 2, 4), -50.0, 1e-9, "partial overlap");
    double far[3] = {40, 41, 42};
    CHECK(isnan(aec_bd_rate(r, d, 6, r, far, 3)), "disjoint quality ranges give NAN");
    CHECK(isnan(aec_bd_rate(r, d, 0, r, d, 6)), "an empty curve gives NAN");
}

static void test_against_rd_py(void)
{
    int nj = (int)(sizeof jpeg / sizeof jpeg[0]), nw = (int)(sizeof webp / sizeof webp[0]);
    CHECK_CLOSE(bd_of(jpeg, nj, webp, nw, 1), -35.0422412343, 1e-8, "webp vs jpeg, PSNR");
    CHECK_CLOSE(bd_of(jpeg, nj, webp, nw, 2), -21.3214032146, 1e-8, "webp vs jpeg, MS-SSIM");
}

static void test_polyfit(void)
{
    double c[4];
    /* exact cubic: recovered */
    double x[5] = {1, 2, 3, 4, 5}, y[5];
    for (int i = 0; i < 5; i++) y[i] = 2 * x[i] * x[i] * x[i] - 3 * x[i] + 7;
    CHECK(aec_polyfit3(x, y, 5, c) == 0, "fit");
    CHECK_CLOSE(c[0], 2, 1e-9, "x^3");
    CHECK_CLOSE(c[1], 0, 1e-9, "x^2");
    CHECK_CLOSE(c[2], -3, 1e-9, "x");
    CHECK_CLOSE(c[3], 7, 1e-9, "1");
    /* numpy.polyfit(x, y, 3) on these, including fewer than 4 points
     * (numpy's minimum-norm answer) and a repeated x */
    static const struct {
        int n;
        double x[5], y[5], want[4];
    } cases[] = {
        {5, {1, 2, 3, 4, 5}, {1, 4, 9, 16, 30},
         {0.4166666666666645, -2.0357142857142647, 6.547619047618989, -3.9999999999999396}},
        {3, {30, 31, 32}, {0.1, 0.5, 0.2},
         {-5.649428334261063e-03, 1.753968350863069e-01, 5.468347540657868e+00,
          -1.692730127723635e+02}},
        {2, {30, 31}, {1, 2},
         {3.1162295583451566e-04, 3.4506317152986072e-03, -8.0228204367344624e-02,
          -8.1125422202803303e+00}},
        {4, {30, 30, 31, 32}, {1, 2, 3, 4},
         {-4.3053947030806099e-03, 1.5040170738658215e-01, 4.3418524657163813e+00,
          -1.4787145363623898e+02}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        CHECK(aec_polyfit3(cases[k].x, cases[k].y, cases[k].n, c) == 0, "fit %zu", k);
        for (int j = 0; j < 4; j++)
            CHECK(fabs(c[j] - cases[k].want[j]) <= 1e-6 * fmax(1, fabs(cases[k].want[j])),
                  "case %zu coef %d: %.17g vs numpy %.17g", k, j, c[j], cases[k].want[j]);
    }
    double bad[2] = {1, NAN};
    CHECK(aec_polyfit3(bad, bad, 2, c) == -1 && isnan(c[0]), "NAN input refused");
}

static void test_window(void)
{
    int order[11], first, count;
    double bpp[11];
    for (int i = 0; i < 11; i++) bpp[i] = jpeg[i][0];
    aec_bd_window(bpp, 11, 0.1, 2.0, order, &first, &count);
    CHECK(first == 0 && count == 10, "jpeg: the 9 inside and 3.3061 above: %d %d", first, count);
    /* unsorted, and neighbours on both sides */
    double b[6] = {3.0, 0.05, 1.0, 0.01, 0.5, 2.5};
    aec_bd_window(b, 6, 0.1, 2.0, order, &first, &count);
    CHECK(first == 1 && count == 4, "window %d %d", first, count);
    CHECK(order[first] == 1 && order[first + 1] == 4 && order[first + 2] == 2 &&
              order[first + 3] == 5,
          "by bpp: %d %d %d %d", order[first], order[first + 1], order[first + 2],
          order[first + 3]);
    double out[3] = {3.0, 2.5, 4.0};
    aec_bd_window(out, 3, 0.1, 2.0, order, &first, &count);
    CHECK(first == 0 && count == 3 && order[0] == 1, "none inside: all of them");
}

static void test_rate_at_quality(void)
{
    /* unsorted on purpose; log-linear between 30 dB (100 B) and 34 dB (400 B) */
    double bytes[4] = {400, 100, 1600, 50}, psnr[4] = {34, 30, 38, 27};
    CHECK_CLOSE(aec_rate_at_quality(bytes, psnr, 4, 32), 200, 1e-12, "halfway in dB");
    CHECK_CLOSE(aec_rate_at_quality(bytes, psnr, 4, 31), 100 * sqrt(2), 1e-12, "a quarter");
    CHECK_CLOSE(aec_rate_at_quality(bytes, psnr, 4, 38), 1600, 1e-12, "the top point");
    CHECK_CLOSE(aec_rate_at_quality(bytes, psnr, 4, 27), 50, 1e-12, "the bottom point");
    CHECK(isnan(aec_rate_at_quality(bytes, psnr, 4, 26.9)), "below the range");
    CHECK(isnan(aec_rate_at_quality(bytes, psnr, 4, 38.1)), "above the range");
    CHECK(isnan(aec_rate_at_quality(bytes, psnr, 0, 30)), "no points");
}

int main(void)
{
    test_known_answers();
    test_against_rd_py();
    test_polyfit();
    test_window();
    test_rate_at_quality();
    return check_report("test_bdrate");
}
