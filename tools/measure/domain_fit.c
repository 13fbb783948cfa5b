/* tools/measure/domain_fit.c - the domain-fit score (domain_fit.h). */
#include "tools/measure/domain_fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/container.h"
#include "tools/measure/jpeg_ref.h"
#include "tools/measure/metrics.h"

/* JPEG qualities whose (PSNR, bits) points aec's PSNR is placed among */
static const int jpeg_qualities[] = {5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 100};
#define N_JPEG_Q (int)(sizeof jpeg_qualities / sizeof jpeg_qualities[0])

/* Bytes of a baseline JPEG's entropy-coded data: after the SOS segment,
 * before EOI. The headers before it (quantisation and Huffman tables,
 * about 600 bytes) would otherwise weigh on small images. */
static size_t jpeg_entropy_bytes(const uint8_t *b, size_t len)
{
    size_t i = 2;
    while (i + 4 <= len && b[i] == 0xFF) {
        size_t seg = (size_t)b[i + 2] << 8 | b[i + 3];
        if (b[i + 1] == 0xDA) {
            size_t start = i + 2 + seg;
            return start + 2 <= len ? len - start - 2 : 0;
        }
        i += 2 + seg;
    }
    return 0;
}

/* Bytes of an .aec file's entropy-coded streams, without the container's
 * header and checksum (as JPEG's are counted without its headers). */
static size_t aec_payload_bytes(const uint8_t *file, size_t len)
{
    aec_container con;
    size_t n = 0;
    if (aec_container_parse(file, len, NULL, &con, NULL, 0) != 0) return len;
    for (uint32_t i = 0; i < con.n_streams; i++) n += con.stream_len[i];
    return n;
}

typedef struct {
    double psnr, log_bits;
} rd_point;

static int by_psnr(const void *a, const void *b)
{
    double x = ((const rd_point *)a)->psnr, y = ((const rd_point *)b)->psnr;
    return (x > y) - (x < y);
}

/* log2 of JPEG's entropy-coded bits at `psnr`: linear between the two
 * points around it; beyond them, extended from the end pair by at most
 * that pair's own span (JPEG's 4:2:0 caps its PSNR, and an end pair that
 * gains almost no PSNR would otherwise extend without bound) */
static int jpeg_log_bits_at(const uint8_t *rgb, int w, int h, double psnr, double *log_bits,
                            char *err, size_t errlen)
{
    rd_point p[N_JPEG_Q];
    for (int k = 0; k < N_JPEG_Q; k++) {
        uint8_t *jpg = NULL, *dec = NULL;
        size_t len = 0;
        int dw, dh;
        if (jpeg_ref_encode(rgb, w, h, jpeg_qualities[k], &jpg, &len, err, errlen) ||
            jpeg_ref_decode(jpg, len, &dec, &dw, &dh, err, errlen)) {
            free(jpg);
            return -1;
        }
        size_t bytes = jpeg_entropy_bytes(jpg, len);
        p[k].psnr = aec_psnr(rgb, dec, (size_t)w * h * 3);
        p[k].log_bits = log2(8.0 * (double)(bytes ? bytes : 1));
        free(jpg);
        free(dec);
    }
    qsort(p, N_JPEG_Q, sizeof p[0], by_psnr);
    int k = 0;
    while (k + 2 < N_JPEG_Q && psnr > p[k + 1].psnr) k++;
    double span = p[k + 1].psnr - p[k].psnr;
    double f = span > 1e-9 ? (psnr - p[k].psnr) / span : 0;
    f = f < -1 ? -1 : f > 2 ? 2 : f;
    *log_bits = p[k].log_bits + f * (p[k + 1].log_bits - p[k].log_bits);
    return 0;
}

/* the central crop of at most DOMAIN_FIT_MAX_SIDE a side, malloc'd */
static uint8_t *central_crop(const uint8_t *rgb, int w, int h, int *cw, int *ch)
{
    *cw = w < DOMAIN_FIT_MAX_SIDE ? w : DOMAIN_FIT_MAX_SIDE;
    *ch = h < DOMAIN_FIT_MAX_SIDE ? h : DOMAIN_FIT_MAX_SIDE;
    uint8_t *crop = malloc((size_t)*cw * (size_t)*ch * 3);
    if (!crop) return NULL;
    int x0 = (w - *cw) / 2, y0 = (h - *ch) / 2;
    for (int y = 0; y < *ch; y++)
        memcpy(crop + (size_t)y * *cw * 3, rgb + ((size_t)(y0 + y) * w + x0) * 3,
               (size_t)*cw * 3);
    return crop;
}

int domain_fit_score(const aec_codec *c, const uint8_t *rgb, int w, int h, double *score,
                     char *err, size_t errlen)
{
    *score = NAN;
    if (w < DOMAIN_FIT_MIN_SIDE || h < DOMAIN_FIT_MIN_SIDE) return 0;
    int cw, ch;
    uint8_t *crop = central_crop(rgb, w, h, &cw, &ch);
    if (!crop) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    aec_codec fast = *c; /* a shallow copy at effort 0, never freed */
    aec_codec_set_effort(&fast, 0);
    uint8_t *file = NULL, *dec = NULL;
    size_t len = 0;
    int dw, dh, r = -1;
    double jpeg_log_bits;
    if (aec_encode(&fast, crop, cw, ch, DOMAIN_FIT_QUALITY, &file, &len, err, errlen) == 0 &&
        aec_decode(&fast, file, len, &dec, &dw, &dh, err, errlen) == 0) {
        double psnr = aec_psnr(crop, dec, (size_t)cw * ch * 3);
        size_t payload = aec_payload_bytes(file, len);
        if (jpeg_log_bits_at(crop, cw, ch, psnr, &jpeg_log_bits, err, errlen) == 0) {
            *score = log2(8.0 * (double)(payload ? payload : 1)) - jpeg_log_bits;
            r = 0;
        }
    }
    free(crop);
    free(file);
    free(dec);
    return r;
}

double domain_fit_percentile(const aec_codec *c, double score)
{
    if (!c->fit_count || isnan(score)) return NAN;
    const float s = (float)score; /* as stored: an image ties with its own score */
    double below = 0;
    for (uint32_t i = 0; i < c->fit_count; i++)
        below += c->fit_scores[i] < s ? 1 : c->fit_scores[i] == s ? 0.5 : 0;
    return 100.0 * below / c->fit_count;
}

double domain_fit_quantile(const aec_codec *c, double p)
{
    if (!c->fit_count) return NAN;
    double at = p / 100.0 * (c->fit_count - 1);
    uint32_t i = (uint32_t)floor(at);
    if (i + 1 >= c->fit_count) return c->fit_scores[c->fit_count - 1];
    return c->fit_scores[i] + (at - i) * (c->fit_scores[i + 1] - c->fit_scores[i]);
}

double domain_fit_off_threshold(const aec_codec *c)
{
    if (!c->fit_count) return INFINITY;
    return domain_fit_quantile(c, DOMAIN_FIT_OFF_PERCENTILE) + DOMAIN_FIT_MARGIN;
}

int domain_fit_off(const aec_codec *c, double score)
{
    return score > domain_fit_off_threshold(c);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int domain_fit_calibrate(aec_codec *c, const aec_images *set, char *err, size_t errlen)
{
    int n = set->count < DOMAIN_FIT_CALIB_IMAGES ? set->count : DOMAIN_FIT_CALIB_IMAGES;
    float *scores = n > 0 ? malloc((size_t)n * sizeof *scores) : NULL;
    if (!scores) {
        snprintf(err, errlen, n > 0 ? "out of memory" : "no images to score");
        return -1;
    }
    int stored = 0;
    for (int k = 0; k < n; k++) {
        int i = (int)((long)k * set->count / n); /* spread over the folder */
        double s;
        char inner[256];
        if (domain_fit_score(c, set->rgb[i], set->width[i], set->height[i], &s, inner,
                             sizeof inner)) {
            snprintf(err, errlen, "%s: %s", set->name[i], inner);
            free(scores);
            return -1;
        }
        if (!isnan(s)) scores[stored++] = (float)s;
    }
    if (!stored) {
        snprintf(err, errlen, "no image of at least %d pixels a side to score",
                 DOMAIN_FIT_MIN_SIDE);
        free(scores);
        return -1;
    }
    n = stored;
    qsort(scores, (size_t)n, sizeof *scores, cmp_float);
    free(c->fit_scores);
    c->fit_scores = scores;
    c->fit_count = (uint32_t)n;
    return 0;
}
