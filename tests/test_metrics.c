/* tests/test_metrics.c - PSNR and MS-SSIM of tools/measure/metrics.c against the
 * referee: tests/fixtures/metrics/ holds two image pairs and the values
 * rd.py's psnr() and ms_ssim() gave on them (make_fixtures.py made both);
 * they must agree within 0.01 dB and 0.0005. Plus values known without
 * the referee. Run from the project root, as make test does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/target.h"
#include "tests/check.h"
#include "tests/tiny_codec.h"
#include "tools/imageio/png_io.h"
#include "tools/measure/metrics.h"

#define FIXTURES "tests/fixtures/metrics/"

static void test_fixtures(void)
{
    FILE *f = fopen(FIXTURES "expected.txt", "r");
    CHECK(f != NULL, "%s: cannot open (run from the project root)", FIXTURES "expected.txt");
    if (!f) return;
    char line[512];
    int pairs = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char na[128], nb[128];
        double want_psnr, want_ms;
        if (sscanf(line, "%127s %127s %lf %lf", na, nb, &want_psnr, &want_ms) != 4) {
            CHECK(0, "expected.txt: bad line: %s", line);
            continue;
        }
        char pa[256], pb[256], err[512];
        snprintf(pa, sizeof pa, FIXTURES "%s", na);
        snprintf(pb, sizeof pb, FIXTURES "%s", nb);
        aec_image a = {0}, b = {0};
        int ok = aec_png_read(pa, &a, 0, err, sizeof err) == 0;
        CHECK(ok, "%s", err);
        if (ok) {
            ok = aec_png_read(pb, &b, 0, err, sizeof err) == 0;
            CHECK(ok, "%s", err);
        }
        if (ok) {
            CHECK(a.width == b.width && a.height == b.height, "%s: sizes differ", na);
            double psnr = aec_psnr(a.rgb, b.rgb, (size_t)a.width * a.height * 3), ms = NAN;
            CHECK(aec_msssim_rgb(a.rgb, b.rgb, a.width, a.height, &ms) == 0, "msssim memory");
            CHECK(fabs(psnr - want_psnr) < 0.01, "%s: PSNR %.6f, rd.py %.6f", na, psnr, want_psnr);
            CHECK(fabs(ms - want_ms) < 0.0005, "%s: MS-SSIM %.7f, rd.py %.7f", na, ms, want_ms);
            /* the agreement is in fact far closer than the tolerance asked */
            CHECK(fabs(psnr - want_psnr) < 1e-8 && fabs(ms - want_ms) < 1e-8,
                  "%s: %.10f %.10f vs %.10f %.10f", na, psnr, ms, want_psnr, want_ms);
            /* symmetric in its two images */
            double ms2 = NAN;
            CHECK(aec_msssim_rgb(b.rgb, a.rgb, a.width, a.height, &ms2) == 0 &&
                      fabs(ms2 - ms) < 1e-12,
                  "%s: MS-SSIM not symmetric", na);
            pairs++;
        }
        aec_image_free(&a);
        aec_image_free(&b);
    }
    fclose(f);
    CHECK(pairs == 2, "%d fixture pairs", pairs);
}

static void test_known_values(void)
{
    enum { W = 180, H = 177 };
    uint8_t *a = malloc((size_t)W * H * 3), *b = malloc((size_t)W * H * 3);
    CHECK(a && b, "memory");
    if (!a || !b) {
        free(a);
        free(b);
        return;
    }
    for (int i = 0; i < W * H * 3; i++) a[i] = (uint8_t)((i * 7 + i / 541) & 255);
    memcpy(b, a, (size_t)W * H * 3);
    double ms = 0;
    CHECK(aec_psnr(a, b, (size_t)W * H * 3) == 100.0, "identical images: 100 dB, as rd.py says");
    CHECK(aec_msssim_rgb(a, b, W, H, &ms) == 0 && fabs(ms - 1) < 1e-12, "identical: %.15f", ms);
    /* every sample off by 2 (or 1 in a quarter of them): MSE known exactly */
    for (int i = 0; i < W * H * 3; i++) b[i] = (uint8_t)(a[i] < 128 ? a[i] + 2 : a[i] - 2);
    CHECK_CLOSE(aec_psnr(a, b, (size_t)W * H * 3), 10 * log10(255.0 * 255.0 / 4), 1e-12, "MSE 4");
    for (int i = 0; i < W * H * 3; i++) b[i] = (uint8_t)(a[i] ^ (i % 4 == 0));
    CHECK_CLOSE(aec_psnr(a, b, (size_t)W * H * 3), 10 * log10(255.0 * 255.0 * 4 / 1), 1e-3, "MSE 1/4");
    /* a constant offset leaves structure alone: MS-SSIM stays close to 1 */
    for (int i = 0; i < W * H * 3; i++) b[i] = (uint8_t)(a[i] / 2 + 20);
    double offset_ms;
    CHECK(aec_msssim_rgb(a, b, W, H, &offset_ms) == 0 && offset_ms < 1 && offset_ms > 0,
          "scaled image: %f", offset_ms);
    /* below 176 pixels a side the fifth scale has no room: NAN like rd.py */
    CHECK(aec_msssim_rgb(a, b, 175, 176, &ms) == 0 && isnan(ms), "175 wide: NAN");
    CHECK(aec_msssim_rgb(a, b, 176, 175, &ms) == 0 && isnan(ms), "175 high: NAN");
    CHECK(aec_msssim_rgb(a, b, 176, 176, &ms) == 0 && isfinite(ms), "176 x 176: defined");
    free(a);
    free(b);
}

/* One PSNR everywhere (codec/psnr.h): 100 dB for identical images, and
 * the same number from the encoder's PSNR target as from the bench. */
static void test_one_psnr(void)
{
    const uint8_t a[6] = {1, 2, 3, 250, 251, 252};
    uint8_t b[6];
    memcpy(b, a, sizeof b);
    CHECK(aec_psnr_mse(0) == 100.0, "MSE 0: 100 dB");
    CHECK(aec_psnr(a, b, 6) == 100.0, "identical: 100 dB");
    CHECK(aec_psnr(a, b, 0) == 100.0, "no samples: 100 dB");
    b[0] = 3;   /* squared error 4 over 6 samples */
    CHECK(aec_psnr(a, b, 6) == aec_psnr_mse(4.0 / 6), "one sample off by 2: %f", aec_psnr(a, b, 6));
    CHECK_CLOSE(aec_psnr_mse(4.0 / 6), 10 * log10(255.0 * 255.0 * 6 / 4), 1e-12, "MSE 2/3");

    /* an exact copy meets a 100 dB target and no higher one */
    aec_trial t = {0};
    t.psnr = aec_psnr(a, a, 6);
    aec_target g = {1, 100.0};
    CHECK(aec_target_value(&g, &t) == 100.0, "an exact copy's measure: %g", aec_target_value(&g, &t));
    CHECK(aec_target_reached(&g, &t), "an exact copy reaches 100 dB");
    g.target = 120.0;
    CHECK(!aec_target_reached(&g, &t), "an exact copy does not reach 120 dB");

    /* the PSNR the target search measures is aec_psnr of the decoded image */
    aec_codec c;
    char err[256] = "";
    uint8_t *img = tiny_smooth_image(64, 64, 3), *dec = NULL;
    int w = 0, h = 0;
    if (!img || tiny_codec(&c, 1, err, sizeof err)) {
        CHECK(0, "tiny codec: %s", img ? err : "out of memory");
        free(img);
        return;
    }
    CHECK(aec_trial_encode(&c, img, 64, 64, 5000, 1, &t, err, sizeof err) == 0, "trial: %s", err);
    CHECK(t.bytes && aec_decode(&c, t.bytes, t.len, &dec, &w, &h, err, sizeof err) == 0 &&
              w == 64 && h == 64, "decode: %s", err);
    CHECK(dec && t.psnr == aec_psnr(img, dec, (size_t)64 * 64 * 3), "the trial's PSNR %f is aec_psnr's",
          t.psnr);
    free(t.bytes);
    free(dec);
    free(img);
    aec_codec_free(&c);
}

int main(void)
{
    test_fixtures();
    test_known_values();
    test_one_psnr();
    return check_report("test_metrics");
}
