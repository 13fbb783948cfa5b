/* tests/test_domain_fit.c - the domain-fit score (tools/measure/domain_fit.h) with
 * a tiny coding-ready model: the percentile and off-domain rules on stored
 * scores given here, a score that is the same twice and is that of the
 * central crop, the scores a calibration stores, and the FITS chunk of a
 * model file: kept through a save and a load, dropped from a decoder-only
 * file, out of the model id, and refused when damaged. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/le32.h"
#include "codec/model_file.h"
#include "tests/check.h"
#include "tests/tiny_codec.h"
#include "tools/measure/domain_fit.h"

static void make_codec(aec_codec *c)
{
    char err[256];
    int rc = tiny_codec(c, 7, err, sizeof err);
    CHECK(rc == 0, "tiny codec: %s", err);
    if (rc) abort();
}

static void test_rules(void)
{
    aec_codec c;
    memset(&c, 0, sizeof c);
    CHECK(isnan(domain_fit_percentile(&c, 0.0)), "no stored scores: no percentile");
    CHECK(!domain_fit_off(&c, 10.0), "no stored scores: never off");
    float s[4] = {-1.2f, -1.0f, -1.0f, -0.8f};
    c.fit_scores = s;
    c.fit_count = 4;
    CHECK_CLOSE(domain_fit_percentile(&c, -1.0), 50.0, 1e-9, "ties count half");
    CHECK_CLOSE(domain_fit_percentile(&c, -2.0), 0.0, 1e-9, "below all");
    CHECK_CLOSE(domain_fit_percentile(&c, 0.0), 100.0, 1e-9, "above all");
    CHECK_CLOSE(domain_fit_percentile(&c, -0.9), 75.0, 1e-9, "between");
    float tenth = 0.1f;
    aec_codec one = c;
    one.fit_scores = &tenth;
    one.fit_count = 1;
    CHECK_CLOSE(domain_fit_percentile(&one, 0.1), 50.0, 1e-9,
                "a score ties with its own stored (float) value");
    CHECK_CLOSE(domain_fit_quantile(&c, 50), -1.0, 1e-6, "the median of four: between the middle two");
    /* the threshold's percentile of the four, between the last two */
    double at = DOMAIN_FIT_OFF_PERCENTILE / 100.0 * 3;
    CHECK(at >= 2 && at <= 3, "the test's scores bracket the threshold");
    double edge = -1.0 + (at - 2) * 0.2 + DOMAIN_FIT_MARGIN;
    CHECK(domain_fit_off(&c, edge + 0.01) && !domain_fit_off(&c, edge - 0.01),
          "off above the percentile plus the margin, not below");
}

/* rgb's w x h window at (x0, y0), malloc'd */
static uint8_t *window(const uint8_t *rgb, int w, int x0, int y0, int cw, int ch)
{
    uint8_t *out = malloc((size_t)cw * ch * 3);
    if (!out) abort();
    for (int y = 0; y < ch; y++)
        memcpy(out + (size_t)y * cw * 3, rgb + ((size_t)(y0 + y) * w + x0) * 3, (size_t)cw * 3);
    return out;
}

static void test_score(const aec_codec *c)
{
    char err[256];
    double a = NAN, b = NAN;
    uint8_t *img = tiny_smooth_image(128, 96, 3);
    if (!img) abort();
    int ra = domain_fit_score(c, img, 128, 96, &a, err, sizeof err);
    int rb = domain_fit_score(c, img, 128, 96, &b, err, sizeof err);
    CHECK(ra == 0 && rb == 0, "score: %s", err);
    CHECK(isfinite(a) && a == b, "the same score twice: %g %g", a, b);
    free(img);

    /* wider than DOMAIN_FIT_MAX_SIDE: the score of its central crop */
    int w = DOMAIN_FIT_MAX_SIDE + 64, h = 64;
    uint8_t *big = tiny_smooth_image(w, h, 4);
    if (!big) abort();
    uint8_t *crop = window(big, w, 32, 0, DOMAIN_FIT_MAX_SIDE, h);
    ra = domain_fit_score(c, big, w, h, &a, err, sizeof err);
    rb = domain_fit_score(c, crop, DOMAIN_FIT_MAX_SIDE, h, &b, err, sizeof err);
    CHECK(ra == 0 && rb == 0 && a == b, "a big image scores as its central crop: %g %g", a, b);
    free(big);
    free(crop);

    /* under DOMAIN_FIT_MIN_SIDE a side: no score, no error */
    uint8_t *small = tiny_smooth_image(DOMAIN_FIT_MIN_SIDE - 1, 80, 2);
    if (!small) abort();
    a = 0;
    ra = domain_fit_score(c, small, DOMAIN_FIT_MIN_SIDE - 1, 80, &a, err, sizeof err);
    CHECK(ra == 0 && isnan(a) && isnan(domain_fit_percentile(c, a)) && !domain_fit_off(c, a),
          "a small image is not scored: %d %g", ra, a);
    free(small);

    /* noise: aec's PSNR far outside JPEG's points, where an unbounded
     * extension of JPEG's curve would give scores of 60 and more */
    uint8_t *noise = malloc(64 * 64 * 3);
    if (!noise) abort();
    uint32_t x = 12345;
    for (int i = 0; i < 64 * 64 * 3; i++) noise[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
    ra = domain_fit_score(c, noise, 64, 64, &a, err, sizeof err);
    CHECK(ra == 0 && fabs(a) < 16, "noise: a bounded score: %g", a);
    free(noise);
}

static void test_calibrate(aec_codec *c)
{
    int width[3] = {64, 96, 80}, height[3] = {64, 64, 72};
    uint8_t *rgb[3];
    char n0[] = "a.png", n1[] = "b.png", n2[] = "c.png";
    char *name[3] = {n0, n1, n2};
    double want[3];
    char err[256];
    for (int i = 0; i < 3; i++) {
        if (!(rgb[i] = tiny_smooth_image(width[i], height[i], i + 5))) abort();
        CHECK(domain_fit_score(c, rgb[i], width[i], height[i], &want[i], err, sizeof err) == 0,
              "score %d: %s", i, err);
    }
    aec_images set = {3, width, height, rgb, name};
    CHECK(domain_fit_calibrate(c, &set, err, sizeof err) == 0, "calibrate: %s", err);
    CHECK(c->fit_count == 3, "three scores stored: %u", c->fit_count);
    for (int i = 0; i < 3 && c->fit_count == 3; i++) {
        int found = 0;
        for (int k = 0; k < 3; k++) found |= c->fit_scores[k] == (float)want[i];
        CHECK(found, "image %d's score %g is stored", i, want[i]);
        CHECK(i == 0 || c->fit_scores[i - 1] <= c->fit_scores[i], "stored ascending");
    }
    for (int i = 0; i < 3; i++) free(rgb[i]);
}

/* the FITS chunk through a save and a load */
static void test_chunk(const aec_codec *c)
{
    char err[256];
    uint8_t *buf = NULL, *dec_only = NULL;
    size_t len = 0, dec_len = 0;
    aec_codec back, half;
    CHECK(aec_codec_serialize(c, 0, NULL, &buf, &len) == 0, "serialize");
    CHECK(aec_codec_parse(&back, buf, len, "m.aecm", 0, err, sizeof err) == 0, "parse: %s", err);
    CHECK(back.fit_count == c->fit_count &&
              !memcmp(back.fit_scores, c->fit_scores, c->fit_count * sizeof(float)),
          "the scores come back");
    CHECK(!memcmp(back.id, c->id, sizeof c->id), "the scores are not part of the model id");
    aec_codec_free(&back);

    CHECK(aec_codec_serialize(c, 1, NULL, &dec_only, &dec_len) == 0, "serialize decoder-only");
    size_t fl;
    CHECK(!aec_model_find_chunk(dec_only, dec_len, "FITS", &fl), "no FITS in a decoder-only file");
    CHECK(aec_codec_parse(&half, buf, len, "m.aecm", 1, err, sizeof err) == 0 && !half.fit_count,
          "a decoder-only load has no scores: %s", err);
    aec_codec_free(&half);

    /* out of order: swap the first two scores and mend the file's CRC */
    const uint8_t *fits = aec_model_find_chunk(buf, len, "FITS", &fl);
    CHECK(fits && fl == 4 + 4 * (size_t)c->fit_count, "FITS chunk of %zu bytes", fl);
    CHECK(c->fit_count >= 2 && c->fit_scores[0] < c->fit_scores[1], "two distinct scores to swap");
    if (fits && c->fit_count >= 2 && c->fit_scores[0] < c->fit_scores[1]) {
        uint8_t *p = buf + (fits - buf) + 4, t[4];
        memcpy(t, p, 4);
        memcpy(p, p + 4, 4);
        memcpy(p + 4, t, 4);
        aec_put_le32(buf + len - 4, aec_crc32(buf, len - 4));
        int rc = aec_codec_parse(&back, buf, len, "m.aecm", 0, err, sizeof err);
        CHECK(rc != 0 && strstr(err, "m.aecm: bad FITS chunk"), "unsorted scores refused: %s",
              rc ? err : "(loaded)");
    }
    free(buf);
    free(dec_only);
}

int main(void)
{
    test_rules();
    aec_codec c;
    make_codec(&c);
    test_score(&c);
    test_calibrate(&c);
    test_chunk(&c);
    aec_codec_free(&c);
    return check_report("test_domain_fit");
}
