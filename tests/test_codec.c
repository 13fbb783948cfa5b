/* tests/test_codec.c - encoding and decoding images with a tiny coding-ready
 * model (N = 8, M = 12, 3 levels): round trips at odd sizes and several
 * qualities, the latent layout of spec/aec-format.md reimplemented here and
 * checked against the decoder, model files in both kinds, every refusal with
 * its message, damaged and hostile files, the decoder's pixel limit, a golden
 * decode of a committed file, tiled against whole transforms, and the coded
 * size against the model's own estimate. AEC_GOLDEN_PRINT=1 prints a fresh golden file and its checksums
 * (only needed when the golden model's construction changes on purpose). */
#include <omp.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "codec/codec.h"
#include "codec/rangecoder.h"
#include "nn/blas.h"
#include "tests/check.h"
#include "tests/tiny_codec.h"
#include "tools/train/calibrate.h"

static uint32_t crc_bytes(const void *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static uint8_t *smooth_image(int w, int h, int k)
{
    uint8_t *rgb = tiny_smooth_image(w, h, k);
    if (!rgb) abort();
    return rgb;
}

static void make_codec(aec_codec *c, uint64_t seed)
{
    char err[256];
    int rc = tiny_codec(c, seed, err, sizeof err);
    CHECK(rc == 0, "tiny codec of seed %llu: %s", (unsigned long long)seed, err);
    if (rc) abort();
}

/* ---- the latent layout, written from spec/aec-format.md ------------------ */

static int32_t spec_t_q16(int levels, uint16_t quality_x100)
{
    return (int32_t)((int64_t)quality_x100 * (levels - 1) * 65536 / 10000);
}

/* r = round half away from zero of v */
static int32_t spec_round(double v)
{
    return (int32_t)(v < 0 ? -floor(-v + 0.5) : floor(v + 0.5));
}

/* Integer hyper-synthesis of z (n x zh x zw) at t_q16: scale_q, mu_q. */
static void spec_hyper(const aec_codec *c, const int32_t *z, int zh, int zw, int32_t t_q16,
                       int32_t *scale_q, int32_t *mu_q)
{
    int32_t hinv[TINY_N];
    aec_hs_int_hinv(&c->hs, t_q16, hinv);
    size_t bytes = aec_hs_int_scratch_bytes(&c->hs, zh, zw);
    void *scratch = malloc(bytes);
    if (!scratch || aec_hs_int_run(&c->hs, z, zh, zw, hinv, scale_q, mu_q, scratch, bytes)) abort();
    free(scratch);
}

/* A file of c's model that codes the given z (n x zh x zw) and r
 * (m x 4zh x 4zw), in the spec's order and tables. */
static void spec_write(const aec_codec *c, int w, int h, uint16_t qx, const int32_t *z,
                       const int32_t *r, uint8_t **out, size_t *len)
{
    int zh = (h + 63) / 64, zw = (w + 63) / 64;
    size_t nz = (size_t)TINY_N * zh * zw, ny = (size_t)TINY_M * 16 * zh * zw;
    int32_t *scale_q = malloc(ny * sizeof *scale_q), *mu_q = malloc(ny * sizeof *mu_q);
    if (!scale_q || !mu_q) abort();
    spec_hyper(c, z, zh, zw, spec_t_q16(TINY_LEVELS, qx), scale_q, mu_q);
    aec_rc_encoder enc;
    aec_rc_encoder_init(&enc);
    for (size_t k = 0; k < nz; k++) aec_rc_encode(&enc, &c->z_tables.tables[k / ((size_t)zh * zw)], z[k]);
    for (size_t k = 0; k < ny; k++)
        aec_rc_encode(&enc, &c->y_tables.tables[aec_scale_index(&c->y_tables, scale_q[k])], r[k]);
    aec_container con;
    memset(&con, 0, sizeof con);
    uint8_t *stream;
    if (aec_rc_encoder_finish(&enc, &stream, &con.stream_len[0]) != AEC_RC_OK) abort();
    memcpy(con.model_id, c->id, AEC_MODEL_ID_SIZE);
    con.width = (uint32_t)w;
    con.height = (uint32_t)h;
    con.quality_x100 = qx;
    con.n_streams = 1;
    con.stream[0] = stream;
    if (aec_container_write(&con, out, len) != AEC_CONTAINER_OK) abort();
    free(stream);
    free(scale_q);
    free(mu_q);
}

/* the spec's 8-bit rule: v * 255 + 0.5 truncated, clamped */
static uint8_t spec_8bit(float v)
{
    if (!(v > 0.0f)) return 0;
    if (v >= 1.0f) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

static void rewrite_crc(uint8_t *buf, size_t len)
{
    uint32_t crc = crc_bytes(buf, len - 4);
    for (int i = 0; i < 4; i++) buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* ---- (a) round trips, (b) determinism and the layout ---------------------- */

static void test_round_trips(const aec_codec *c)
{
    const int sizes[][2] = {{1, 1}, {17, 33}, {70, 64}, {130, 97}};
    const double qualities[] = {0.0, 37.5, 100.0};
    char err[256];
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int w = sizes[si][0], h = sizes[si][1];
        uint8_t *img = smooth_image(w, h, (int)si + 3);
        size_t prev_len = 0;
        for (size_t qi = 0; qi < sizeof qualities / sizeof qualities[0]; qi++) {
            uint8_t *file = NULL, *again = NULL, *rgb = NULL, *rgb2 = NULL;
            size_t len = 0, len2 = 0;
            int w2 = 0, h2 = 0, w3 = 0, h3 = 0;
            int rc = aec_encode(c, img, w, h, qualities[qi], &file, &len, err, sizeof err);
            CHECK(rc == 0, "encode %dx%d q%g: %s", w, h, qualities[qi], err);
            if (rc) continue;
            if (qi == 1)
                CHECK(aec_encode(c, img, w, h, qualities[qi], &again, &len2, err, sizeof err) == 0 &&
                          len2 == len && memcmp(again, file, len) == 0,
                      "encoding %dx%d q%g twice gives the same bytes", w, h, qualities[qi]);
            rc = aec_decode(c, file, len, &rgb, &w2, &h2, err, sizeof err);
            CHECK(rc == 0, "decode %dx%d q%g: %s", w, h, qualities[qi], err);
            CHECK(rc != 0 || (w2 == w && h2 == h), "dimensions %dx%d, expected %dx%d", w2, h2, w, h);
            rc = aec_decode(c, file, len, &rgb2, &w3, &h3, err, sizeof err);
            CHECK(rc == 0 && rgb && memcmp(rgb, rgb2, (size_t)w * h * 3) == 0,
                  "decoding %dx%d q%g twice gives the same bytes", w, h, qualities[qi]);
            /* the rate grows with the quality (sizes 1x1 and up are 64x64 padded) */
            CHECK(len >= prev_len, "%dx%d: %zu bytes at q%g, %zu below it", w, h, len,
                  qualities[qi], prev_len);
            prev_len = len;
            aec_container con;
            CHECK(aec_container_parse(file, len, c->id, &con, err, sizeof err) == 0 &&
                      con.quality_x100 == aec_quality_to_x100(qualities[qi]),
                  "quality field");
            free(file);
            free(again);
            free(rgb);
            free(rgb2);
        }
        free(img);
    }
}

/* Encoder-side latent search and refinement: files that decode, the same
 * bytes every time and at 1 and 2 threads, a coded loss (bits per pixel +
 * lambda 255^2 MSE, as they measure it) not above the plain encoder's
 * beyond the small difference between their estimate and the real coder,
 * no refinement above AEC_REFINE_MAX_PIXELS padded pixels, where the search
 * runs in tiles (with search_tiles). A context codec is not searched (its
 * search checks then hold trivially). */
static void test_refine(const aec_codec *c)
{
    const int sizes[][2] = {{17, 33}, {130, 97}};
    const aec_arch *a = &c->model.arch;
    const double q = 50, t = q / 100 * (a->levels - 1);
    const int l0 = (int)floor(t) < a->levels - 1 ? (int)floor(t) : a->levels - 2;
    const double lambda = exp((1 - (t - l0)) * log(a->lambda[l0]) + (t - l0) * log(a->lambda[l0 + 1]));
    char err[256];
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int w = sizes[si][0], h = sizes[si][1];
        uint8_t *img = smooth_image(w, h, (int)si + 21);
        /* { search, refine } steps: none, refinement alone, both */
        const int steps[3][2] = {{0, 0}, {0, 8}, {10, 2}};
        double loss[3];
        for (int k = 0; k < 3; k++) {
            aec_codec r = *c;
            r.search_steps = steps[k][0];
            r.refine_iters = steps[k][1];
            uint8_t *file = NULL, *again = NULL, *rgb = NULL;
            size_t len = 0, len2 = 0;
            int w2, h2;
            const int threads = omp_get_max_threads();
            omp_set_num_threads(1);
            int ok = aec_encode(&r, img, w, h, q, &file, &len, err, sizeof err) == 0;
            omp_set_num_threads(2);
            ok = ok && aec_encode(&r, img, w, h, q, &again, &len2, err, sizeof err) == 0;
            omp_set_num_threads(threads);
            ok = ok && aec_decode(&r, file, len, &rgb, &w2, &h2, err, sizeof err) == 0;
            CHECK(ok, "%dx%d search %d refine %d: %s", w, h, r.search_steps, r.refine_iters, err);
            loss[k] = 0;
            if (ok) {
                CHECK(len == len2 && !memcmp(file, again, len),
                      "%dx%d search %d refine %d: the same bytes at 1 and 2 threads", w, h,
                      r.search_steps, r.refine_iters);
                double se = 0;
                for (size_t i = 0; i < (size_t)w * h * 3; i++)
                    se += ((double)rgb[i] - img[i]) * ((double)rgb[i] - img[i]);
                loss[k] = 8.0 * len / ((double)w * h) + lambda * se / ((double)w * h * 3);
            }
            free(file);
            free(again);
            free(rgb);
        }
        printf("%dx%d q%g: coded loss %.4f plain, %.4f refined, %.4f searched\n", w, h, q,
               loss[0], loss[1], loss[2]);
        CHECK(loss[1] <= loss[0] * 1.02, "%dx%d: refinement raised the coded loss %.4f -> %.4f", w,
              h, loss[0], loss[1]);
        CHECK(loss[2] <= loss[0] * 1.02, "%dx%d: the search raised the coded loss %.4f -> %.4f", w,
              h, loss[0], loss[2]);
        free(img);
    }
    /* above the limit the refinement is skipped (the same file) and the
     * search runs tile by tile: 1024x1088 padded, tiles of 512 pixels */
    const int bw = 1024, bh = 1025;
    uint8_t *big = smooth_image(bw, bh, 5);
    uint8_t *f0 = NULL, *f1 = NULL, *f2 = NULL, *f3 = NULL, *rgb = NULL;
    size_t n0 = 0, n1 = 0, n2 = 0, n3 = 0;
    int w2, h2;
    aec_codec r = *c;
    r.refine_iters = 3;
    CHECK(aec_encode(c, big, bw, bh, q, &f0, &n0, err, sizeof err) == 0 &&
              aec_encode(&r, big, bw, bh, q, &f1, &n1, err, sizeof err) == 0 && n0 == n1 &&
              !memcmp(f0, f1, n0),
          "no refinement above %llu padded pixels", (unsigned long long)AEC_REFINE_MAX_PIXELS);
    r.search_steps = 6;
    r.search_tiles = 1;
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int ok = aec_encode(&r, big, bw, bh, q, &f2, &n2, err, sizeof err) == 0;
    omp_set_num_threads(2);
    ok = ok && aec_encode(&r, big, bw, bh, q, &f3, &n3, err, sizeof err) == 0;
    omp_set_num_threads(threads);
    CHECK(ok && aec_decode(c, f2, n2, &rgb, &w2, &h2, err, sizeof err) == 0,
          "search in tiles: a file that decodes: %s", err);
    ok = ok && rgb;
    CHECK(ok && n2 == n3 && !memcmp(f2, f3, n2), "search in tiles: the same bytes at 1 and 2 threads");
    if (!c->model.arch.context)   /* a context model is not searched */
        CHECK(ok && (n2 != n0 || memcmp(f2, f0, n0)), "search in tiles: another file than the plain one");
    if (ok) {
        uint8_t *rgb0 = NULL;
        double l[2] = {0, 0};
        if (aec_decode(c, f0, n0, &rgb0, &w2, &h2, err, sizeof err) == 0) {
            for (int k = 0; k < 2; k++) {
                const uint8_t *d = k ? rgb : rgb0;
                double se = 0;
                for (size_t i = 0; i < (size_t)bw * bh * 3; i++) se += ((double)d[i] - big[i]) * ((double)d[i] - big[i]);
                l[k] = 8.0 * (k ? n2 : n0) / ((double)bw * bh) + lambda * se / ((double)bw * bh * 3);
            }
        }
        printf("%dx%d q%g: coded loss %.4f plain, %.4f searched in tiles\n", bw, bh, q, l[0], l[1]);
        CHECK(l[0] > 0 && l[1] <= l[0] * 1.02, "search in tiles raised the coded loss %.4f -> %.4f",
              l[0], l[1]);
        free(rgb0);
    }
    free(f2);
    free(f3);
    free(rgb);
    free(f0);
    free(f1);
    free(big);
}

/* Decoding with 1 and with 2 threads gives the same pixels. */
/* Effort levels: 0 plain, more steps at each level above, a context model
 * refined instead of searched, levels out of range clamped. */
static void test_effort(const aec_codec *c)
{
    aec_codec r = *c;
    int last = -1, ok = 1;
    for (int e = 0; e <= AEC_EFFORT_MAX; e++) {
        aec_codec_set_effort(&r, e);
        const int work = r.search_steps + r.refine_iters;
        ok &= e == 0 ? work == 0 && !r.search_tiles : c->model.arch.context ? work == 20 : work > last;
        ok &= !c->model.arch.context || (r.search_steps == 0 && (e == 0 || r.refine_iters == 20));
        last = work;
    }
    CHECK(ok, "effort levels %s", c->model.arch.context ? "(context model)" : "");
    aec_codec_set_effort(&r, AEC_EFFORT_MAX + 5);
    const int top = r.search_steps + r.refine_iters;
    aec_codec_set_effort(&r, -3);
    CHECK(top == last && r.search_steps + r.refine_iters == 0, "effort levels clamped");
}

static void test_threads(const aec_codec *c)
{
    char err[256];
    uint8_t *img = smooth_image(130, 97, 9), *file, *a = NULL, *b = NULL;
    size_t len;
    int w, h;
    if (aec_encode(c, img, 130, 97, 60, &file, &len, err, sizeof err)) abort();
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int ra = aec_decode(c, file, len, &a, &w, &h, err, sizeof err);
    omp_set_num_threads(2);
    int rb = aec_decode(c, file, len, &b, &w, &h, err, sizeof err);
    omp_set_num_threads(threads);
    CHECK(ra == 0 && rb == 0 && memcmp(a, b, (size_t)130 * 97 * 3) == 0,
          "1 and 2 threads decode to the same pixels");
    free(img);
    free(file);
    free(a);
    free(b);
}

/* The decoder's latents are the encoder's (z^ = round(z * hgain) and
 * r = round half away from zero of y_g - mu_q / 2^16), a file written by
 * this test's own implementation of the layout decodes to exactly its
 * latents, and the pixels are the float synthesis of r + mu, cropped and
 * rounded by the spec's rule; the float pipeline's own estimate
 * (aec_model_eval, float h_s) is close. */
static void test_layout(const aec_codec *c)
{
    const int w = 70, h = 50;
    const uint16_t qx = 5000; /* t = 1: a stored level, where eval's gains are exact */
    char err[256];
    uint8_t *img = smooth_image(w, h, 5), *file, *rgb;
    size_t len;
    int w2, h2;
    if (aec_encode(c, img, w, h, qx / 100.0, &file, &len, err, sizeof err)) abort();
    aec_latents lat;
    int rc = aec_decode_latents(c, file, len, &lat, err, sizeof err);
    CHECK(rc == 0, "decode latents: %s", err);
    if (rc) abort();
    CHECK(lat.n == TINY_N && lat.m == TINY_M && lat.zh == 1 && lat.zw == 2 && lat.yh == 4 &&
              lat.yw == 8 && lat.width == w && lat.height == h,
          "latent shapes");
    CHECK(lat.t_q16 == spec_t_q16(TINY_LEVELS, qx) && lat.t_q16 == 65536, "t_q16 %d", lat.t_q16);

    /* the encoder's side */
    float *planar;
    int pw, ph;
    if (aec_image_to_planar(img, w, h, 64, &planar, &pw, &ph)) abort();
    nn_tensor x = {1, 3, ph, pw, planar};
    aec_train_state s;
    aec_train_state_init(&s, 0);
    CHECK(aec_model_analyze(&c->model, &s, &x, 1.0f) == 0, "analyze");
    size_t nz = (size_t)TINY_N * 2, ny = (size_t)TINY_M * 32;
    int z_same = 1, r_same = 1, nonzero = 0;
    for (size_t k = 0; k < nz; k++) z_same &= lat.z[k] == (int32_t)s.z_hat.data[k];
    for (size_t k = 0; k < ny; k++) {
        double mu = lat.mu_q[k] / 65536.0;
        r_same &= lat.r[k] == spec_round((double)s.y_g.data[k] - mu);
        nonzero += lat.r[k] != 0;
    }
    CHECK(z_same, "decoded z^ is the encoder's round(z * hgain)");
    CHECK(r_same, "decoded r is round half away from zero of y_g - mu");
    CHECK(nonzero > (int)ny / 4, "the test model codes something: %d of %zu symbols nonzero", nonzero,
          ny);
    int32_t *scale_q = malloc(ny * sizeof *scale_q), *mu_q = malloc(ny * sizeof *mu_q);
    if (!scale_q || !mu_q) abort();
    spec_hyper(c, lat.z, 1, 2, lat.t_q16, scale_q, mu_q);
    CHECK(!memcmp(scale_q, lat.scale_q, ny * 4) && !memcmp(mu_q, lat.mu_q, ny * 4),
          "scale_q and mu_q are the integer hyper-synthesis of z^");

    /* pixels: synthesis of r + mu, crop, 8-bit rule */
    rc = aec_decode(c, file, len, &rgb, &w2, &h2, err, sizeof err);
    CHECK(rc == 0, "decode: %s", err);
    nn_tensor y_hat = {0}, x_hat = {0};
    if (nn_tensor_alloc(&y_hat, 1, TINY_M, 4, 8)) abort();
    for (size_t k = 0; k < ny; k++) y_hat.data[k] = (float)(lat.r[k] + lat.mu_q[k] / 65536.0);
    CHECK(aec_model_synthesize(&c->model, &s, &y_hat, 1.0f, &x_hat) == 0, "synthesize");
    size_t plane = (size_t)pw * ph;
    int same = 1;
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++)
            for (int ch = 0; ch < 3; ch++)
                same &= rgb[((size_t)yy * w + xx) * 3 + ch] ==
                        spec_8bit(x_hat.data[ch * plane + (size_t)yy * pw + xx]);
    CHECK(same, "pixels are the synthesis of r + mu, cropped, v * 255 + 0.5 truncated");

    /* against the float pipeline (float h_s, so mu differs in the last bits
     * and an occasional r by one) */
    nn_tensor x_eval = {0};
    double bits = aec_model_eval((aec_model *)&c->model, &s, &x, 1.0f, &x_eval);
    CHECK(bits > 0, "eval");
    double sum = 0;
    int worst = 0;
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++)
            for (int ch = 0; ch < 3; ch++) {
                int d = abs((int)rgb[((size_t)yy * w + xx) * 3 + ch] -
                            (int)spec_8bit(x_eval.data[ch * plane + (size_t)yy * pw + xx]));
                sum += d;
                if (d > worst) worst = d;
            }
    double mean = sum / (3.0 * w * h);
    printf("decoded vs float pipeline: mean |diff| %.4f, max %d (8-bit units)\n", mean, worst);
    CHECK(mean < 0.5 && worst <= 16, "decoded vs float pipeline: mean %.4f max %d", mean, worst);

    /* a file written from the spec decodes to exactly its latents */
    int32_t z2[TINY_N * 2], *r2 = malloc(ny * sizeof *r2);
    if (!r2) abort();
    for (size_t k = 0; k < nz; k++) z2[k] = (int32_t)(k % 7) - 3 + (k == 5 ? 40000 : 0);
    for (size_t k = 0; k < ny; k++) r2[k] = (int32_t)(k % 11) - 5 + (k == 17 ? -70000 : 0);
    uint8_t *file2;
    size_t len2;
    spec_write(c, w, h, 3333, z2, r2, &file2, &len2);
    aec_latents lat2;
    rc = aec_decode_latents(c, file2, len2, &lat2, err, sizeof err);
    CHECK(rc == 0 && !memcmp(lat2.z, z2, sizeof z2) && !memcmp(lat2.r, r2, ny * 4),
          "a file written from the spec decodes to its latents: %s", rc ? err : "");
    if (rc == 0) aec_latents_free(&lat2);

    free(r2);
    free(file2);
    free(scale_q);
    free(mu_q);
    nn_tensor_free(&y_hat);
    nn_tensor_free(&x_hat);
    nn_tensor_free(&x_eval);
    aec_train_state_free(&s);
    free(planar);
    aec_latents_free(&lat);
    free(img);
    free(file);
    free(rgb);
}

/* ---- (c) model files ----------------------------------------------------- */

static void test_model_files(const aec_codec *c)
{
    char err[256];
    uint8_t *full, *dec_only;
    size_t full_len, dec_len;
    CHECK(aec_codec_serialize(c, 0, "note=test", &full, &full_len) == 0, "serialize full");
    CHECK(aec_codec_serialize(c, 1, NULL, &dec_only, &dec_len) == 0, "serialize decoder-only");
    CHECK(dec_len < full_len, "decoder-only file smaller: %zu vs %zu", dec_len, full_len);
    aec_codec p_full, p_dec, p_dec_from_full;
    int r1 = aec_codec_parse(&p_full, full, full_len, "full", 0, err, sizeof err);
    CHECK(r1 == 0, "parse full: %s", err);
    int r2 = aec_codec_parse(&p_dec, dec_only, dec_len, "dec", 1, err, sizeof err);
    CHECK(r2 == 0, "parse decoder-only: %s", err);
    int r3 = aec_codec_parse(&p_dec_from_full, full, full_len, "full", 1, err, sizeof err);
    CHECK(r3 == 0, "parse a full file as decoder-only: %s", err);
    if (r1 || r2 || r3) abort();
    CHECK(!memcmp(p_full.id, c->id, 8) && !memcmp(p_dec.id, c->id, 8) &&
              !memcmp(p_dec_from_full.id, c->id, 8),
          "every kind of load has the model's id");
    CHECK(p_full.can_encode && !p_dec.can_encode && !p_dec_from_full.can_encode, "can_encode");
    aec_codec p_wrong;
    int r4 = aec_codec_parse(&p_wrong, dec_only, dec_len, "dec", 0, err, sizeof err);
    CHECK(r4 != 0 && strstr(err, "missing parameter g_a."),
          "a decoder-only file cannot be loaded to encode: %s", r4 ? err : "loaded");
    if (r4 == 0) aec_codec_free(&p_wrong);

    uint8_t *img = smooth_image(130, 97, 4), *file, *file2, *a, *b, *d;
    size_t len, len2;
    int w, h;
    if (aec_encode(c, img, 130, 97, 80, &file, &len, err, sizeof err)) abort();
    CHECK(aec_encode(&p_full, img, 130, 97, 80, &file2, &len2, err, sizeof err) == 0 &&
              len2 == len && !memcmp(file, file2, len),
          "the reloaded full codec encodes to the same bytes");
    CHECK(aec_decode(c, file, len, &a, &w, &h, err, sizeof err) == 0, "decode: %s", err);
    CHECK(aec_decode(&p_dec, file, len, &b, &w, &h, err, sizeof err) == 0, "decoder-only decode: %s", err);
    CHECK(aec_decode(&p_dec_from_full, file, len, &d, &w, &h, err, sizeof err) == 0, "decode: %s", err);
    CHECK(!memcmp(a, b, (size_t)130 * 97 * 3) && !memcmp(a, d, (size_t)130 * 97 * 3),
          "a decoder-only codec decodes the full codec's file to identical pixels");

    /* a repeated chunk replaces the one before it (spec/model-format.md):
     * a bad HSIQ before the file's own is overruled, one after it is not */
    {
        static const uint8_t bad_hs[12] = {'H', 'S', 'I', 'Q', 4, 0, 0, 0, 'j', 'u', 'n', 'k'};
        uint8_t *two = malloc(dec_len + sizeof bad_hs);
        for (int after = 0; two && after < 2; after++) {
            const size_t at = after ? dec_len - 4 : 8; /* after the signature, or before the CRC */
            memcpy(two, dec_only, at);
            memcpy(two + at, bad_hs, sizeof bad_hs);
            memcpy(two + at + sizeof bad_hs, dec_only + at, dec_len - 4 - at);
            const size_t two_len = dec_len + sizeof bad_hs;
            const uLong crc = crc32(0L, two, (uInt)(two_len - 4));
            for (int i = 0; i < 4; i++) two[two_len - 4 + i] = (uint8_t)(crc >> (8 * i));
            aec_codec p2;
            int r = aec_codec_parse(&p2, two, two_len, "two", 1, err, sizeof err);
            if (!after)
                CHECK(r == 0 && !memcmp(p2.id, c->id, 8), "a bad HSIQ before the good one: loads, same id (%s)",
                      r ? err : "ok");
            else
                CHECK(r != 0 && strstr(err, "integer h_s"), "a bad HSIQ after the good one: refused (%s)",
                      r ? err : "loaded");
            if (r == 0) aec_codec_free(&p2);
        }
        CHECK(two != NULL, "repeated chunks: memory");
        free(two);
    }

    /* (d) a decoder-only codec refuses to encode */
    uint8_t *none = (uint8_t *)1;
    size_t none_len = 1;
    CHECK(aec_encode(&p_dec, img, 130, 97, 80, &none, &none_len, err, sizeof err) != 0 &&
              none == NULL && none_len == 0 && strstr(err, "decoder-only"),
          "decoder-only encode refused: %s", err);

    free(img);
    free(file);
    free(file2);
    free(a);
    free(b);
    free(d);
    free(full);
    free(dec_only);
    aec_codec_free(&p_full);
    aec_codec_free(&p_dec);
    aec_codec_free(&p_dec_from_full);
}

/* ---- (d) refusals, damage, hostile files --------------------------------- */

static void expect_refused(const aec_codec *c, const uint8_t *buf, size_t len, const char *needle,
                           const char *what)
{
    char err[256] = "";
    uint8_t *rgb = (uint8_t *)1;
    int w, h;
    int rc = aec_decode(c, buf, len, &rgb, &w, &h, err, sizeof err);
    CHECK(rc != 0 && rgb == NULL && strstr(err, needle) && !strchr(err, '\n'),
          "%s: refused with \"%s\" (got rc %d, \"%s\")", what, needle, rc, err);
    if (rc == 0) free(rgb);
}

static void test_errors(const aec_codec *c)
{
    char err[256], hex_a[17], hex_b[17];
    uint8_t *img = smooth_image(70, 64, 6), *file, *rgb;
    size_t len;
    int w, h;
    if (aec_encode(c, img, 70, 64, 50, &file, &len, err, sizeof err)) abort();

    /* a file of another model (another seed) names both ids */
    aec_codec other;
    make_codec(&other, 99);
    uint8_t *foreign;
    size_t foreign_len;
    if (aec_encode(&other, img, 70, 64, 50, &foreign, &foreign_len, err, sizeof err)) abort();
    aec_model_id_hex(other.id, hex_a);
    aec_model_id_hex(c->id, hex_b);
    CHECK(memcmp(other.id, c->id, 8) != 0, "seeds give different ids");
    int rc = aec_decode(c, foreign, foreign_len, &rgb, &w, &h, err, sizeof err);
    CHECK(rc != 0 && strstr(err, "model mismatch") && strstr(err, hex_a) && strstr(err, hex_b),
          "another model's file: %s", err);
    aec_codec_free(&other);
    free(foreign);

    /* truncated */
    const size_t cuts[] = {0, 1, 3, 11, 13, 20, len / 2, len - 5, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "cut to %zu of %zu bytes", cuts[i], len);
        expect_refused(c, file, cuts[i], "truncated", what);
    }
    /* bytes appended */
    uint8_t *longer = malloc(len + 1);
    if (!longer) abort();
    memcpy(longer, file, len);
    longer[len] = 0;
    expect_refused(c, longer, len + 1, "unexpected bytes", "a byte appended");
    free(longer);

    /* a flipped byte: CRC mismatch */
    uint8_t *bad = malloc(len);
    if (!bad) abort();
    const size_t flips[] = {len - 10, len / 2, len - 1};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(bad, file, len);
        bad[flips[i]] ^= 0x20;
        char what[64];
        snprintf(what, sizeof what, "byte %zu flipped", flips[i]);
        expect_refused(c, bad, len, "CRC-32", what);
    }

    /* damage behind a repaired CRC: an error or a valid image, never a crash
     * (every bit of the header's last 4 bytes, one bit of each stream byte) */
    aec_container con;
    if (aec_container_parse(file, len, c->id, &con, err, sizeof err)) abort();
    size_t stream_at = (size_t)(con.stream[0] - file);
    int decoded = 0, refused = 0;
    for (size_t pos = stream_at - 4; pos < len - 4; pos++)
        for (int bit = pos < stream_at ? 0 : (int)(pos % 8); bit < 8; bit += pos < stream_at ? 1 : 8) {
            memcpy(bad, file, len);
            bad[pos] ^= (uint8_t)(1u << bit);
            rewrite_crc(bad, len);
            uint8_t *out = NULL;
            int w2 = 0, h2 = 0;
            err[0] = 0;
            if (aec_decode(c, bad, len, &out, &w2, &h2, err, sizeof err) == 0) {
                decoded++;
                CHECK(out && w2 >= 1 && h2 >= 1 && (uint64_t)w2 * h2 <= (uint64_t)1 << 16,
                      "damaged file decoded to %dx%d", w2, h2);
            } else {
                refused++;
                CHECK(out == NULL && err[0], "damaged file refused without a message");
            }
            free(out);
        }
    printf("damage behind a repaired CRC: %d decoded, %d refused\n", decoded, refused);
    free(bad);

    /* the pixel limit: a 40-byte file claiming 16385 x 16383 (2^28 - 1
     * pixels, within the format, but 16448 x 16384 padded, over the
     * default 2^28) is refused before anything of that size is allocated */
    int32_t z0[TINY_N] = {0}, r0[TINY_M * 16] = {0};
    uint8_t *small;
    size_t small_len;
    spec_write(c, 64, 64, 5000, z0, r0, &small, &small_len);
    aec_container big;
    if (aec_container_parse(small, small_len, c->id, &big, err, sizeof err)) abort();
    big.width = 16385;
    big.height = 16383;
    uint8_t *huge;
    size_t huge_len;
    if (aec_container_write(&big, &huge, &huge_len)) abort();
    expect_refused(c, huge, huge_len, "too large for this decoder", "16385x16383 claimed");
    CHECK(huge_len < 64, "the hostile file is small: %zu bytes", huge_len);
    free(huge);
    /* at the limit, 16384 x 16384, it is read and found corrupt: its z
     * stream ends long before the 2^28 / 4096 hyper-latents it needs */
    big.width = 16384;
    big.height = 16384;
    if (aec_container_write(&big, &huge, &huge_len)) abort();
    expect_refused(c, huge, huge_len, "corrupt coded data", "16384x16384 claimed");
    free(huge);
    aec_codec limited = *c; /* a shallow copy with another limit, never freed */
    limited.max_pixels = 128 * 64 - 1;
    expect_refused(&limited, file, len, "limit is 8191", "70x64 (128x64 padded) over 8191");
    limited.max_pixels = 128 * 64;
    CHECK(aec_decode(&limited, file, len, &rgb, &w, &h, err, sizeof err) == 0,
          "70x64 within a limit of 128x64: %s", err);
    free(rgb);
    free(small);

    /* extreme latents (z and r at the ends of int32): an image or an error,
     * never undefined behaviour (the synthesis overflows to NaN) */
    const int32_t extremes[][2] = {{INT32_MAX, INT32_MAX}, {INT32_MIN, INT32_MIN},
                                   {32768, -1000000000}, {0, INT32_MAX}};
    for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++) {
        int32_t zx[TINY_N], rx[TINY_M * 16];
        for (int k = 0; k < TINY_N; k++) zx[k] = k & 1 ? extremes[i][0] : -(extremes[i][0] / 2);
        for (int k = 0; k < TINY_M * 16; k++) rx[k] = k % 3 ? extremes[i][1] : -(extremes[i][1] / 3);
        uint8_t *ext;
        size_t ext_len;
        spec_write(c, 64, 64, 10000, zx, rx, &ext, &ext_len);
        err[0] = 0;
        rgb = NULL;
        rc = aec_decode(c, ext, ext_len, &rgb, &w, &h, err, sizeof err);
        CHECK(rc == 0 && w == 64 && h == 64, "extreme latents %zu: %s", i, err);
        if (rc == 0) {
            /* the pixels follow the spec's rule, NaN giving 0 */
            aec_latents lat;
            nn_tensor y_hat = {0}, x_hat = {0};
            aec_train_state s;
            aec_train_state_init(&s, 0);
            if (aec_decode_latents(c, ext, ext_len, &lat, err, sizeof err) ||
                nn_tensor_alloc(&y_hat, 1, TINY_M, 4, 4))
                abort();
            for (int k = 0; k < TINY_M * 16; k++)
                y_hat.data[k] = (float)(lat.r[k] + lat.mu_q[k] / 65536.0);
            if (aec_model_synthesize(&c->model, &s, &y_hat, 2.0f, &x_hat)) abort();
            int same = 1, nan = 0;
            for (size_t k = 0; k < (size_t)64 * 64 * 3; k++) {
                float v = x_hat.data[(k % 3) * 64 * 64 + k / 3];
                nan += isnan(v);
                same &= rgb[k] == spec_8bit(v);
            }
            CHECK(same, "extreme latents %zu: pixels by the spec's rule (%d NaN)", i, nan);
            aec_latents_free(&lat);
            nn_tensor_free(&y_hat);
            nn_tensor_free(&x_hat);
            aec_train_state_free(&s);
        }
        free(rgb);
        free(ext);
    }

    free(img);
    free(file);
}

/* ---- (e) golden: a committed file's integer latents ---------------------- */

/* A model whose integer half does not depend on float maths that varies
 * between machines: the hyper-synthesis is built from fixed calibration
 * ranges (no float forward pass) and the tables are computed here in
 * integers. Only the committed file and these integers matter to the
 * golden checksum; the id also hashes the (seeded) float weights. */

/* cumulative counts of a symmetric integer shape of width s_q8 / 256 over
 * -half..half plus an escape: count(k) = 1 + share of 2^24 s^2 / (s^2 + k^2) */
static void integer_cdf(uint32_t *cdf, uint32_t half, uint64_t s_q8)
{
    uint32_t length = 2 * half + 1;
    uint64_t weight[1024], total = 0;
    for (uint32_t i = 0; i < length; i++) {
        uint64_t k = (uint64_t)(i > half ? i - half : half - i) * 256;
        weight[i] = ((uint64_t)1 << 24) * s_q8 * s_q8 / (s_q8 * s_q8 + k * k);
        total += weight[i];
    }
    uint64_t spare = AEC_CDF_TOTAL - (length + 1) - 64; /* 64 more counts for the escape */
    uint32_t counts[1025], sum = 0;
    for (uint32_t i = 0; i < length; i++) {
        counts[i] = 1 + (uint32_t)(weight[i] * spare / total);
        sum += counts[i];
    }
    counts[length] = 65;
    sum += counts[length];
    counts[half] += AEC_CDF_TOTAL - sum;
    cdf[0] = 0;
    for (uint32_t i = 0; i <= length; i++) cdf[i + 1] = cdf[i] + counts[i];
}

static void golden_codec_parts(aec_codec *c)
{
    memset(c, 0, sizeof *c);
    if (tiny_model(&c->model, 2024)) abort();
    c->can_encode = 1;
    aec_hs_calib cal = {{6.0, 3.0, 2.0, 0}};
    char err[256];
    if (aec_hs_int_build(&c->hs, &c->model, &cal, err, sizeof err)) {
        fprintf(stderr, "golden hs: %s\n", err);
        abort();
    }
    uint32_t zlen[TINY_N], ylen[40];
    for (int i = 0; i < TINY_N; i++) zlen[i] = 2 * (6 + 3 * (uint32_t)i) + 1;
    if (aec_cdf_set_alloc(&c->z_tables, AEC_CDF_KIND_INDEXED, TINY_N, zlen)) abort();
    for (int i = 0; i < TINY_N; i++) {
        uint32_t half = 6 + 3 * (uint32_t)i;
        c->z_tables.tables[i].offset = -(int32_t)half;
        integer_cdf(c->z_tables.tables[i].cdf, half, 256u * (1 + (uint32_t)i));
    }
    /* scales 0.11 * 1.131^i in Q16, the length about 6 sigma, <= 511 */
    uint32_t scale_q16[40];
    uint64_t s = 7209;
    for (int i = 0; i < 40; i++) {
        scale_q16[i] = (uint32_t)s;
        uint32_t half = (uint32_t)(6 * s / 65536) + 1;
        ylen[i] = 2 * (half > 255 ? 255 : half) + 1;
        s = s * 1131 / 1000;
    }
    if (aec_cdf_set_alloc(&c->y_tables, AEC_CDF_KIND_GAUSSIAN, 40, ylen)) abort();
    for (int i = 0; i < 40; i++) {
        uint32_t half = (ylen[i] - 1) / 2;
        c->y_tables.tables[i].offset = -(int32_t)half;
        c->y_tables.tables[i].scale_q16 = scale_q16[i];
        integer_cdf(c->y_tables.tables[i].cdf, half, scale_q16[i] >> 8);
    }
    CHECK(aec_cdf_set_validate(&c->z_tables, err, sizeof err) == 0, "golden z tables: %s", err);
    CHECK(aec_cdf_set_validate(&c->y_tables, err, sizeof err) == 0, "golden y tables: %s", err);
}

/* the parts, through a model file: the id is computed as for any model */
static void golden_codec(aec_codec *c, int decoder_only)
{
    aec_codec parts;
    golden_codec_parts(&parts);
    uint8_t *buf;
    size_t len;
    char err[256];
    if (aec_codec_serialize(&parts, decoder_only, NULL, &buf, &len)) abort();
    int rc = aec_codec_parse(c, buf, len, "golden", decoder_only, err, sizeof err);
    CHECK(rc == 0, "golden model: %s", err);
    if (rc) abort();
    free(buf);
    aec_codec_free(&parts);
}

#define GOLDEN_W 100
#define GOLDEN_H 50
#define GOLDEN_QUALITY 20.0
/* produced once by AEC_GOLDEN_PRINT=1 */
static const char golden_hex[] =
    "41454310a3bcaacbac16c2836432d00f01ff030b435a79b17a545f361b10d193"
    "0601719b59c2164336ebe22636a198ae993f810a9ddfb7a041da40bfbd457040"
    "d74d237b16f9edc45a42efb75ba6667a1359fffca7ab0bec973e9dfff463de52"
    "dd246eb5ddfc34f76dfe7e92617e1347044ac160d160986f42ff382e6a4d7f1d"
    "6553e47d5be2f2d3c331b087c2ba6aba7f27b9e7824124aa3f1a7ff31144746b"
    "fee260734798ad7f792b1fb6d5476ab67a0ad199ffe95d1efd79d3ffec351b55"
    "10cfc8b7bbbf2bb6b9af51c3fae5ee4d0fb8fdc7d0739e6cc061ae180011e003"
    "69e3fe5f3a0cf4ef5525486f43bd7f2a67f41b56d1486186cb38e0091a86fb37"
    "d373fff2b916912fd9aed5c838cd065bef4477153c478480dd51e8cbfef6c1de"
    "81c1502e76d9e789170367eccbc2bfa771b3a82d65fdd7064cfee53c94ed8e0b"
    "19364c6e6c07f5e68ae92fa3294ab016f74d1ec46c1914ed7bd73a86b9eb64c4"
    "992aa8336954ce1f6c9fbe034e79a9f93e50e52880c2bc64fc3cb08bc1b5adfe"
    "bc20c3a04a062caec1c9ca98f4cb2d7c4bfec2b27ff774bec5916698f8774749"
    "6a9a7b24c322d98db29326b448860caacd9702b9a35b0b230207e6430cea954d"
    "d8442cf500e0e3ec117481e5cc257f79372c6d77b621fe9c49823465678e3d53"
    "ff41a85dbbff2197ffaf8df9a3ef87a6cc18221329f1e86c8e2d15ad245c1728"
    "a5a57e26fca194d09f801204c3c35d2de110111d9be5";
#define GOLDEN_ID "245b69b8e9415649"
#define GOLDEN_LATENTS_CRC 0xc33a5393u

static uint32_t latents_crc(const aec_latents *lat)
{
    size_t nz = (size_t)lat->n * lat->zh * lat->zw, ny = (size_t)lat->m * lat->yh * lat->yw;
    uint32_t crc = crc32(0L, Z_NULL, 0);
    const int32_t *arrays[4] = {lat->z, lat->r, lat->scale_q, lat->mu_q};
    const size_t counts[4] = {nz, ny, ny, ny};
    for (int a = 0; a < 4; a++)
        for (size_t k = 0; k < counts[a]; k++) {
            uint8_t le[4];
            for (int i = 0; i < 4; i++) le[i] = (uint8_t)((uint32_t)arrays[a][k] >> (8 * i));
            crc = (uint32_t)crc32(crc, le, 4);
        }
    return crc;
}

static void test_golden(void)
{
    aec_codec c;
    char err[256], hex[17];
    golden_codec(&c, 1);
    aec_model_id_hex(c.id, hex);
    if (getenv("AEC_GOLDEN_PRINT")) {
        aec_codec full;
        golden_codec(&full, 0);
        uint8_t *img = smooth_image(GOLDEN_W, GOLDEN_H, 11), *file;
        size_t len;
        if (aec_encode(&full, img, GOLDEN_W, GOLDEN_H, GOLDEN_QUALITY, &file, &len, err, sizeof err))
            abort();
        printf("golden file (%zu bytes):\n", len);
        for (size_t i = 0; i < len; i++) printf("%02x%s", file[i], i % 32 == 31 ? "\n" : "");
        aec_latents lat;
        if (aec_decode_latents(&c, file, len, &lat, err, sizeof err)) abort();
        printf("\nid %s latents crc 0x%08xu\n", hex, latents_crc(&lat));
        aec_latents_free(&lat);
        free(img);
        free(file);
        aec_codec_free(&full);
    }
    size_t len = strlen(golden_hex) / 2;
    uint8_t *file = malloc(len + 1);
    if (!file) abort();
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(golden_hex + 2 * i, "%2x", &v);
        file[i] = (uint8_t)v;
    }
    CHECK(!strcmp(hex, GOLDEN_ID),
          "golden model id %s, expected %s: the model's construction or file format changed", hex,
          GOLDEN_ID);
    /* the latents are checked whatever the id: give the file this id */
    if (len > 12) {
        memcpy(file + 4, c.id, 8);
        rewrite_crc(file, len);
    }
    aec_latents lat;
    int rc = aec_decode_latents(&c, file, len, &lat, err, sizeof err);
    CHECK(rc == 0, "golden file: %s", err);
    if (rc == 0) {
        uint32_t crc = latents_crc(&lat);
        CHECK(crc == GOLDEN_LATENTS_CRC,
              "golden latents CRC-32 %08x, expected %08x: the integer decoding path differs", crc,
              GOLDEN_LATENTS_CRC);
        aec_latents_free(&lat);
    }
    free(file);
    aec_codec_free(&c);
}

/* ---- coded size against the model's estimate ----------------------------- */

/* bits of the symbols under the integer tables: what an ideal coder spends */
static double table_bits(const aec_cdf_table *t, int32_t v)
{
    int64_t k = (int64_t)v - t->offset;
    if (k >= 0 && k < (int64_t)t->length) return -log2((t->cdf[k + 1] - t->cdf[k]) / 65536.0);
    uint64_t zz = k < 0 ? 2 * (uint64_t)(-k - 1) + 1 : 2 * (uint64_t)(k - t->length);
    int bits = 0;
    while ((zz + 1) >> (bits + 1)) bits++;
    return -log2((t->cdf[t->length + 1] - t->cdf[t->length]) / 65536.0) + 2 * bits + 1;
}

static void report_bits(const char *what, aec_codec *c, const uint8_t *img, int w, int h,
                        double quality, double max_gap)
{
    char err[256];
    uint8_t *file;
    size_t len;
    if (aec_encode(c, img, w, h, quality, &file, &len, err, sizeof err)) abort();
    aec_container con;
    aec_latents lat;
    if (aec_container_parse(file, len, c->id, &con, err, sizeof err) ||
        aec_decode_latents(c, file, len, &lat, err, sizeof err))
        abort();
    double coded = 8.0 * (double)con.stream_len[0], ideal = 0;
    size_t nz = (size_t)lat.n * lat.zh * lat.zw, ny = (size_t)lat.m * lat.yh * lat.yw;
    for (size_t k = 0; k < nz; k++) ideal += table_bits(&c->z_tables.tables[k / ((size_t)lat.zh * lat.zw)], lat.z[k]);
    size_t escapes = 0;
    for (size_t k = 0; k < ny; k++) {
        const aec_cdf_table *t = &c->y_tables.tables[aec_scale_index(&c->y_tables, lat.scale_q[k])];
        ideal += table_bits(t, lat.r[k]);
        escapes += lat.r[k] < t->offset || lat.r[k] - (int64_t)t->offset >= t->length;
    }
    float *planar;
    int pw, ph;
    if (aec_image_to_planar(img, w, h, 64, &planar, &pw, &ph)) abort();
    nn_tensor x = {1, 3, ph, pw, planar}, x_hat = {0};
    aec_train_state s;
    aec_train_state_init(&s, 0);
    double estimate = aec_model_eval(&c->model, &s, &x, (float)lat.t_q16 / 65536.0f, &x_hat);
    printf("%s, %dx%d q%g: file %zu bytes, stream %.0f bits, under the tables %.1f, "
           "model estimate %.1f: coded/estimate %.4f; %zu of %zu latents escaped\n",
           what, w, h, quality, len, coded, ideal, estimate, coded / estimate, escapes, ny);
    CHECK(coded <= ideal * 1.01 + 40, "%s: the range coder spends %.0f bits for %.1f", what, coded, ideal);
    if (max_gap > 0)
        CHECK(fabs(coded / estimate - 1) < max_gap, "%s: coded %.0f bits, the model estimates %.1f",
              what, coded, estimate);
    nn_tensor_free(&x_hat);
    aec_train_state_free(&s);
    free(planar);
    aec_latents_free(&lat);
    free(file);
}

/* A model whose hyperprior fits its latents: the gains are the same at
 * every level, h_s's weights small and its biases set to each latent
 * channel's mean and standard deviation on the image, so scale and mu are
 * about right everywhere. */
static void make_matched_codec(aec_codec *c, const uint8_t *img, int w, int h)
{
    aec_model m;
    if (tiny_model(&m, 5)) abort();
    const aec_arch *a = &m.arch;
    for (int l = 0; l < a->levels; l++)
        for (int k = 0; k < a->m; k++) {
            m.p.value[m.gain + (size_t)l * a->m + k] = 20.0f;
            m.p.value[m.inv_gain + (size_t)l * a->m + k] = 0.05f;
        }
    for (int i = 0; i < m.p.n_entries; i++) {
        const nn_param_entry *e = &m.p.entries[i];
        if (!strncmp(e->name, "h_s.", 4) && strstr(e->name, "weight"))
            for (size_t j = 0; j < e->count; j++) m.p.value[e->offset + j] *= 0.02f;
    }
    float *planar;
    int pw, ph;
    if (aec_image_to_planar(img, w, h, 64, &planar, &pw, &ph)) abort();
    nn_tensor x = {1, 3, ph, pw, planar};
    aec_train_state s;
    aec_train_state_init(&s, 0);
    if (aec_model_analyze(&m, &s, &x, 1.0f)) abort();
    size_t plane = (size_t)s.y_g.h * s.y_g.w;
    for (int k = 0; k < a->m; k++) {
        double s1 = 0, s2 = 0;
        for (size_t j = 0; j < plane; j++) {
            double v = s.y_g.data[k * plane + j];
            s1 += v;
            s2 += v * v;
        }
        s1 /= (double)plane;
        m.p.value[m.hs_out.b + k] = (float)sqrt(fmax(s2 / (double)plane - s1 * s1, 0.01));
        m.p.value[m.hs_out.b + a->m + k] = (float)s1;
    }
    aec_train_state_free(&s);
    free(planar);
    char err[256];
    if (tiny_codec_from(c, &m, err, sizeof err)) {
        fprintf(stderr, "matched codec: %s\n", err);
        abort();
    }
}

static void test_bits(aec_codec *c)
{
    uint8_t *img = smooth_image(130, 97, 3);
    aec_codec matched;
    make_matched_codec(&matched, img, 130, 97);
    report_bits("matched hyperprior", &matched, img, 130, 97, 50, 0.05);
    /* the seeded model's hyperprior is random: outliers far in the tails,
     * which the estimate floors at 2^-30 per latent while the coder escapes
     * them; reported only */
    report_bits("random hyperprior", c, img, 130, 97, 0, 0);
    report_bits("random hyperprior", c, img, 130, 97, 100, 0);
    aec_codec_free(&matched);
    free(img);
}

/* The latent tables fitted at export (tools/train/calibrate.c) code the
 * calibration images in fewer bytes than the tables at their own scales:
 * a calibration set big enough that tables get fitted (2000 symbols). */
static void test_fitted_tables(void)
{
    enum { W = 256, H = 192, N_IMG = 3 };
    int width[N_IMG], height[N_IMG];
    uint8_t *rgb[N_IMG];
    char names[N_IMG][16], *name[N_IMG], err[256];
    for (int i = 0; i < N_IMG; i++) {
        width[i] = W;
        height[i] = H;
        rgb[i] = smooth_image(W, H, 30 + i);
        snprintf(names[i], sizeof names[i], "c%d.png", i);
        name[i] = names[i];
    }
    aec_images calib = {N_IMG, width, height, rgb, name};
    aec_model m;
    aec_codec c;
    if (tiny_model(&m, 1)) abort();
    int rc = aec_codec_from_model(&c, &m, &calib, err, sizeof err);
    CHECK(rc == 0, "codec with a larger calibration set: %s", err);
    if (rc == 0) {
        aec_codec plain = c;   /* the same codec with tables at their own scales */
        double scales[64];
        aec_scales_logspace(0.11, 256.0, 64, scales);
        CHECK(aec_cdf_set_build_gaussian(&plain.y_tables, scales, 64, 1e-9, 4095) == 0, "plain tables");
        int differ = 0;
        for (uint32_t t = 0; t < plain.y_tables.n_tables && !differ; t++)
            differ = plain.y_tables.tables[t].length != c.y_tables.tables[t].length ||
                     memcmp(plain.y_tables.tables[t].cdf, c.y_tables.tables[t].cdf,
                            (plain.y_tables.tables[t].length + 2) * sizeof(uint32_t)) != 0;
        CHECK(differ, "some tables were fitted");
        size_t fitted = 0, own = 0;
        for (int i = 0; i < N_IMG; i++)
            for (int q = 0; q <= 100; q += 50) {
                uint8_t *a = NULL, *b = NULL;
                size_t la = 0, lb = 0;
                if (aec_encode(&c, rgb[i], W, H, q, &a, &la, err, sizeof err) == 0 &&
                    aec_encode(&plain, rgb[i], W, H, q, &b, &lb, err, sizeof err) == 0) {
                    fitted += la;
                    own += lb;
                }
                free(a);
                free(b);
            }
        printf("fitted latent tables: %zu bytes, tables at their own scales %zu\n", fitted, own);
        CHECK(fitted > 0 && fitted < own, "fitted tables code the calibration images in fewer bytes: %zu vs %zu",
              fitted, own);
        aec_cdf_set_free(&plain.y_tables);
        aec_codec_free(&c);
    }
    for (int i = 0; i < N_IMG; i++) free(rgb[i]);
}

/* ---- tiles ------------------------------------------------------------------ */

/* The float transforms on tiles (forced small here; big images get them by
 * default) against the whole image: decoded pixels within 1 of each other
 * (PSNR well above 50 dB), the integer hyper-synthesis in tiles exactly the
 * whole one, and the encoder's latents the same. */
static void test_tiles(const aec_codec *c)
{
    const int w = 400, h = 150; /* 448 x 192 padded: 28 x 12 latents, 7 x 3 hyper-latents */
    char err[256];
    uint8_t *img = smooth_image(w, h, 11);
    aec_codec whole = *c, tiled = *c; /* shallow copies with other settings, never freed */
    whole.tile_latents = -1;
    uint8_t *file = NULL;
    size_t len = 0;
    if (aec_encode(&whole, img, w, h, 60, &file, &len, err, sizeof err)) abort();
    uint8_t *ref = NULL;
    int w2, h2;
    CHECK(aec_decode(&whole, file, len, &ref, &w2, &h2, err, sizeof err) == 0, "whole decode: %s", err);
    /* core sizes: one latent, odd sizes that leave partial tiles at the
     * right and bottom, and as big as the margin */
    const int cores[] = {1, 2, 3, 5, 7, 16};
    for (size_t i = 0; i < sizeof cores / sizeof cores[0] && ref; i++) {
        tiled.tile_latents = cores[i];
        uint8_t *rgb = NULL;
        int rc = aec_decode(&tiled, file, len, &rgb, &w2, &h2, err, sizeof err);
        CHECK(rc == 0 && w2 == w && h2 == h, "tiles of %d latents: decode: %s", cores[i], err);
        if (rc) continue;
        int worst = 0, differ = 0;
        double sq = 0;
        for (size_t k = 0; k < (size_t)w * h * 3; k++) {
            int d = abs((int)rgb[k] - (int)ref[k]);
            worst = d > worst ? d : worst;
            differ += d != 0;
            sq += (double)d * d;
        }
        double psnr = sq > 0 ? 10 * log10(255.0 * 255.0 * w * h * 3 / sq) : INFINITY;
        printf("tiles of %d latents: %d of %d values differ from the whole decode, max %d, "
               "PSNR %.1f dB\n", cores[i], differ, w * h * 3, worst, psnr);
        CHECK(worst <= 1 && psnr > 50, "tiles of %d latents: max diff %d, PSNR %.1f dB", cores[i],
              worst, psnr);
        free(rgb);
        /* the integer hyper-synthesis in tiles of cores / 4 hyper-latents:
         * exactly the whole run's */
        aec_latents a, b;
        if (aec_decode_latents(&whole, file, len, &a, err, sizeof err)) abort();
        if (aec_decode_latents(&tiled, file, len, &b, err, sizeof err)) {
            CHECK(0, "tiles of %d latents: latents: %s", cores[i], err);
            aec_latents_free(&a);
            continue;
        }
        size_t ny = (size_t)a.m * a.yh * a.yw;
        CHECK(!memcmp(a.scale_q, b.scale_q, ny * 4) && !memcmp(a.mu_q, b.mu_q, ny * 4) &&
                  !memcmp(a.r, b.r, ny * 4),
              "tiles of %d latents: the integer hyper-synthesis' scale_q and mu_q, and r, are "
              "the whole run's", cores[i]);
        aec_latents_free(&a);
        aec_latents_free(&b);
    }
    /* the encoder: the same latents, up to rare flips by one: g_a's tiles
     * differ from the whole only by float rounding, which moves a rounded
     * latent only where it lies within that rounding of a half (one in
     * 4032 was seen, with 16x16-pixel tiles) */
    aec_latents ref_lat;
    CHECK(aec_decode_latents(c, file, len, &ref_lat, err, sizeof err) == 0, "latents: %s", err);
    const int enc_cores[] = {1, 3, 4, 16};
    for (size_t i = 0; i < sizeof enc_cores / sizeof enc_cores[0]; i++) {
        tiled.tile_latents = enc_cores[i];
        uint8_t *file2 = NULL;
        size_t len2 = 0;
        CHECK(aec_encode(&tiled, img, w, h, 60, &file2, &len2, err, sizeof err) == 0,
              "tiled encode: %s", err);
        aec_latents lat;
        if (!file2 || aec_decode_latents(c, file2, len2, &lat, err, sizeof err)) {
            CHECK(0, "tiled encode of %d latents: latents: %s", enc_cores[i], err);
            free(file2);
            continue;
        }
        size_t nz = (size_t)lat.n * lat.zh * lat.zw, ny = (size_t)lat.m * lat.yh * lat.yw;
        int z_differ = 0, r_differ = 0, by_more = 0;
        for (size_t k = 0; k < nz; k++) {
            z_differ += lat.z[k] != ref_lat.z[k];
            by_more += abs(lat.z[k] - ref_lat.z[k]) > 1;
        }
        for (size_t k = 0; k < ny; k++) {
            r_differ += lat.r[k] != ref_lat.r[k];
            by_more += abs(lat.r[k] - ref_lat.r[k]) > 1;
        }
        printf("encoder tiles of %d latents: %d of %zu z^ and %d of %zu r differ; file %s\n",
               enc_cores[i], z_differ, nz, r_differ, ny,
               len2 == len && !memcmp(file2, file, len) ? "identical" : "differs");
        CHECK(by_more == 0 && (size_t)z_differ <= 1 + nz / 1000 && (size_t)r_differ <= 1 + ny / 1000,
              "encoder tiles of %d latents: %d z^ and %d r differ, %d by more than one",
              enc_cores[i], z_differ, r_differ, by_more);
        aec_latents_free(&lat);
        free(file2);
    }
    aec_latents_free(&ref_lat);
    free(ref);
    free(file);
    free(img);
}

/* ---- (g) the context model ------------------------------------------------ */

/* The integer context model: the kernels agree, it changes what it should,
 * and a context codec passes the round-trip, refinement,
 * thread, model-file and tile checks above; its coded size is close to
 * the float model's estimate. */
static void test_context(void)
{
    char err[256];
    aec_model m;
    aec_codec c;
    if (tiny_model_context(&m, 3)) abort();
    int rc = tiny_codec_from(&c, &m, err, sizeof err);
    CHECK(rc == 0, "context codec: %s", err);
    if (rc) return;
    CHECK(c.model.arch.context && c.ctx.m == TINY_M, "context model exported");

    /* the two passes on h_s's output for random symbols */
    const int yh = 9, yw = 11;
    const size_t ny = (size_t)TINY_M * yh * yw;
    int32_t *r = malloc(ny * 4), *s0 = malloc(ny * 4), *m0 = malloc(ny * 4);
    int32_t *s1 = malloc(ny * 4), *m1 = malloc(ny * 4);
    if (!r || !s0 || !m0 || !s1 || !m1) abort();
    nn_rng g;
    nn_rng_seed(&g, 5);
    for (size_t k = 0; k < ny; k++) {
        r[k] = (int32_t)nn_rng_below(&g, 21) - 10;
        s0[k] = (int32_t)nn_rng_below(&g, 1 << 20);
        m0[k] = (int32_t)nn_rng_below(&g, 1 << 20) - (1 << 19);
    }
    memcpy(s1, s0, ny * 4);
    memcpy(m1, m0, ny * 4);
    /* (on every kernel path: tests/test_cpu_paths.c) */
    CHECK(aec_ctx_int_run(&c.ctx, yh, yw, r, s1, m1) == 0, "the context runs");
    int changed[2] = {0, 0};
    for (size_t k = 0; k < ny; k++) {
        size_t i = k % ((size_t)yh * yw);
        int parity = (int)((i / yw + i % yw) & 1);
        changed[parity] |= s1[k] != s0[k] || m1[k] != m0[k];
    }
    CHECK(!changed[0] && changed[1], "the non-anchors' parameters change, the anchors' do not");
    /* a non-anchor symbol changes nothing; an anchor's changes its neighbours */
    int32_t *s3 = malloc(ny * 4), *m3 = malloc(ny * 4);
    if (!s3 || !m3) abort();
    for (int flip = 0; flip < 2; flip++) {
        memcpy(s3, s0, ny * 4);
        memcpy(m3, m0, ny * 4);
        size_t at = (size_t)4 * yw + 4 + (size_t)flip;   /* (4, 4) an anchor, (4, 5) not */
        r[at] += 5;
        aec_ctx_int_run(&c.ctx, yh, yw, r, s3, m3);
        r[at] -= 5;
        int same = !memcmp(s3, s1, ny * 4) && !memcmp(m3, m1, ny * 4);
        CHECK(same == flip, "changing %s symbol %s the parameters", flip ? "a non-anchor" : "an anchor",
              flip ? "leaves" : "changes");
    }
    free(s3); free(m3);
    free(r); free(s0); free(m0); free(s1); free(m1);

    /* the CTXQ blob: a round trip, and each kind of damage refused */
    uint8_t *blob = NULL;
    size_t blen = 0;
    CHECK(aec_ctx_int_serialize(&c.ctx, &blob, &blen) == 0, "serialize the context model");
    if (blob) {
        aec_ctx_int back;
        uint8_t *again = NULL;
        size_t alen = 0;
        CHECK(aec_ctx_int_deserialize(&back, blob, blen, err, sizeof err) == 0 &&
                  aec_ctx_int_serialize(&back, &again, &alen) == 0 && alen == blen &&
                  !memcmp(again, blob, blen),
              "CTXQ round trip: %s", err);
        free(again);
        aec_ctx_int_free(&back);
        struct { size_t at; uint8_t x; size_t len; const char *msg; } bad[] = {
            {0, 1, blen, "bad magic"}, {4, 1, blen, "unsupported version"},
            {9, 0x10, blen, "bad dimensions"}, {0, 0, blen - 1, "truncated"},
            {0, 0, 20, "truncated"}, {100, 1, blen, "CRC mismatch"}};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            blob[bad[i].at] ^= bad[i].x;
            int r = aec_ctx_int_deserialize(&back, blob, bad[i].len, err, sizeof err);
            blob[bad[i].at] ^= bad[i].x;
            CHECK(r == -1 && strstr(err, bad[i].msg), "damaged CTXQ %zu: '%s' (want %s)", i, err,
                  bad[i].msg);
        }
        free(blob);
    }

    test_round_trips(&c);
    test_refine(&c);
    test_effort(&c);
    test_threads(&c);
    test_model_files(&c);
    test_tiles(&c);
    test_bits(&c);
    aec_codec_free(&c);
}

int main(int argc, char **argv)
{
    (void)argc;
    nn_blas_setup(argv); /* passive OpenMP waits: spinning threads slow a busy machine */
    aec_codec c;
    make_codec(&c, 1);
    test_round_trips(&c);
    test_refine(&c);
    test_effort(&c);
    test_threads(&c);
    test_layout(&c);
    test_model_files(&c);
    test_errors(&c);
    test_golden();
    test_tiles(&c);
    test_bits(&c);
    aec_codec_free(&c);
    test_fitted_tables();
    test_context();
    return check_report("test_codec");
}
