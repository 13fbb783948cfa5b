/* Every kernel with more than one path (vector code chosen by CPU feature,
 * nn/cpu.h), on each path this CPU has, against the kernel's plain C
 * reference on random inputs: several sizes with tails, and unaligned
 * pointers where the kernel takes any pointer. nn_cpu_set_mask forces each
 * path; one this CPU lacks, or AEC_CPU leaves out, is skipped with a note.
 *
 *   kernel               paths                    reference
 *   nn_sgemm             plain, sse2, avx2+fma    double products, within a bound
 *   nn_crc32             zlib, pclmul             zlib's crc32_z, exactly
 *   nn_f16_load          plain, f16c              nn_f16_to_f32, exactly
 *   aec_int_layer_run    plain, sse2, avx2        the plain path, exactly
 *   PNG filters          baseline, avx2           the baseline copy's file, exactly
 *   GDN scaling          baseline, avx2           the baseline copy, exactly
 *   Winograd transforms  plain, sse2, avx2        the plain copies, exactly
 *   aec_encode/decode    plain, sse2, avx2        the plain paths' bytes and pixels
 *
 * The float loops give the same bits on every path because no path fuses
 * a multiply-add (nn/vector_copies.h); their checks leave FMA out of the
 * mask, so that the GEMM under them is the portable kernel on every path.
 * Before the kernels, the switch itself: AEC_CPU's names, nn_cpu_names and
 * nn_cpu_set_mask.
 * AEC_TEST_SANITIZED=1 runs fewer GEMM sizes. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "codec/codec.h"
#include "codec/hyper_int.h"
#include "nn/cpu.h"
#include "nn/crc32.h"
#include "nn/deconv_winograd.h"
#include "nn/gdn.h"
#include "nn/gemm.h"
#include "nn/half.h"
#include "nn/rng.h"
#include "tests/check.h"
#include "tests/gemm_cases.h"
#include "tests/png_filters.h"
#include "tests/stderr_capture.h"
#include "tests/tiny_codec.h"
#include "tools/imageio/png_write.h"

typedef struct {
    const char *name;
    unsigned mask; /* the switch's features that select this path */
} path;

typedef void (*path_check)(const path *p, void *ctx);

/* Runs check on each path this CPU has, the switch set to the path's mask
 * (a check may switch to the plain path for its reference and back); one
 * line says which paths ran and which were skipped. */
static void for_each_path(const char *kernel, const path *paths, int count, path_check check,
                          void *ctx)
{
    char ran[128] = "", skipped[128] = "";
    for (int i = 0; i < count; i++) {
        const int have = (nn_cpu_available() & paths[i].mask) == paths[i].mask;
        char *list = have ? ran : skipped;
        const size_t at = strlen(list);
        snprintf(list + at, sizeof ran - at, "%s%s", at ? " " : "", paths[i].name);
        if (!have) continue;
        nn_cpu_set_mask(paths[i].mask);
        CHECK(nn_cpu_flags() == paths[i].mask, "%s %s: the switch holds %#x", kernel, paths[i].name,
              nn_cpu_flags());
        check(&paths[i], ctx);
    }
    nn_cpu_set_mask(NN_CPU_ALL);
    printf("test_cpu_paths: %-19s ran: %s%s%s\n", kernel, ran,
           *skipped ? "; skipped (not on this CPU, or AEC_CPU left out): " : "", skipped);
}

static void fill_uniform(float *v, size_t count, float lo, float hi, nn_rng *r)
{
    for (size_t i = 0; i < count; i++) v[i] = lo + (hi - lo) * nn_rng_uniform(r);
}

/* ---- nn_sgemm --------------------------------------------------------------- */

/* The paths sum in different orders, and the AVX2 kernel fuses each
 * multiply-add (one rounding for two), so they agree with the exact
 * product only within a bound. Each element is a sum of K products in
 * some order, scaled by alpha, plus beta C: in float at most K + 8
 * roundings of relative size u = 2^-24 reach any term (K for the sum, 2 for
 * each of the two K blocks of K <= 300, 2 for beta C), so whatever the
 * order or fusing |error| <= (K + 8) u (|alpha| sum |a b| + |beta c|), to
 * first order (Higham, Accuracy and Stability of Numerical Algorithms,
 * 3.1); 1% covers the second order. A wrong element is off by a term's
 * size. The portable kernel's two paths differ only in how A and B are
 * copied into slivers, so those give the same bits. */
static void check_gemm(const path *p, void *ctx)
{
    const int sanitized = *(const int *)ctx;
    static const int dims[] = {1, 2, 3, 5, 6, 7, 8, 15, 16, 17, 33, 100, 257, 300};
    static const float alphas[] = {1.0f, -0.5f, 2.0f}, betas[] = {0.0f, 1.0f, -1.5f, 0.25f};
    const int cases = sanitized ? 24 : 80, ndims = sanitized ? 11 : 14;
    for (int i = 0; i < cases; i++) {
        const case_t t = {i & 1, (i >> 1) & 1, dims[next_u32() % ndims], dims[next_u32() % ndims],
                          dims[next_u32() % ndims], alphas[i % 3], betas[i % 4], i % 3};
        mats x;
        float *plain = NULL;
        if (mats_make_at(&t, 1, &x) != 0 || !(plain = malloc(x.c_len * sizeof(float)))) {
            CHECK(0, "out of memory");
            mats_free(&x);
            return;
        }
        nn_sgemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, x.a, x.lda, x.b, x.ldb, t.beta, x.c, x.ldc);
        int bad_padding;
        const double err = max_rel_error(&t, &x, &bad_padding);
        const double tol = (t.k + 8) * 0x1p-24 * 1.01;
        CHECK(err <= tol && bad_padding == 0, "%s %c%c M %d N %d K %d: error %.3g (bound %.3g), %d "
              "padding elements written", p->name, t.ta ? 'T' : 'N', t.tb ? 'T' : 'N', t.m, t.n,
              t.k, err, tol, bad_padding);
        if (!(p->mask & NN_CPU_FMA)) {
            memcpy(plain, x.c0, x.c_len * sizeof(float));
            nn_cpu_set_mask(0);
            nn_sgemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, x.a, x.lda, x.b, x.ldb, t.beta, plain, x.ldc);
            nn_cpu_set_mask(p->mask);
            CHECK(!memcmp(plain, x.c, x.c_len * sizeof(float)), "%s M %d N %d K %d: not the plain "
                  "path's bits", p->name, t.m, t.n, t.k);
        }
        free(plain);
        mats_free(&x);
    }
}

/* ---- nn_crc32 --------------------------------------------------------------- */

/* Against zlib's crc32_z: the check value, a NULL buffer, every length to
 * 600 (the folding takes 64 bytes and more, 16 at a time at the end) at 16
 * alignments, 1 MiB, flat bytes (no lucky cancellation), and chained
 * pieces giving the CRC of the whole. */
static void check_crc32(const path *p, void *ctx)
{
    (void)ctx;
    enum { BIG = (1 << 20) + 77 };
    nn_rng rng;
    nn_rng_seed(&rng, 32);
    uint8_t *buf = malloc(BIG + 16);
    if (!buf) {
        CHECK(0, "out of memory");
        return;
    }
    for (size_t i = 0; i < BIG + 16; i++) buf[i] = (uint8_t)nn_rng_u64(&rng);
    CHECK(nn_crc32(0, "123456789", 9) == 0xcbf43926u, "%s: check value", p->name);
    CHECK(nn_crc32(0, NULL, 0) == 0 && nn_crc32(0x1234u, NULL, 100) == (uint32_t)crc32_z(0x1234u, NULL, 100),
          "%s: NULL buffer as zlib", p->name);
    for (size_t len = 0; len <= 600; len++) {
        int ok = 1;
        for (int off = 0; off < 16; off++) {
            uint32_t init = (uint32_t)nn_rng_u64(&rng);
            ok &= nn_crc32(init, buf + off, len) == (uint32_t)crc32_z(init, buf + off, len);
            ok &= nn_crc32(0, buf + off, len) == (uint32_t)crc32_z(0, buf + off, len);
        }
        CHECK(ok, "%s: length %zu differs from zlib", p->name, len);
    }
    CHECK(nn_crc32(0xdeadbeefu, buf + 3, BIG) == (uint32_t)crc32_z(0xdeadbeefu, buf + 3, BIG),
          "%s: 1 MiB", p->name);
    uint8_t flat[256];
    for (int v = 0; v < 256; v += 255) {
        memset(flat, v, sizeof flat);
        CHECK(nn_crc32(0, flat, sizeof flat) == (uint32_t)crc32_z(0, flat, sizeof flat), "%s: bytes %d",
              p->name, v);
    }
    uint32_t c = 0;
    for (size_t at = 0, n; at < BIG; at += n) {
        n = 1 + nn_rng_below(&rng, 5000);
        if (n > BIG - at) n = BIG - at;
        c = nn_crc32(c, buf + at, n);
    }
    CHECK(c == (uint32_t)crc32_z(0, buf, BIG), "%s: chained pieces", p->name);
    free(buf);
}

/* ---- nn_f16_load ------------------------------------------------------------ */

enum { F16_COUNT = 2 * 65536 };

/* every binary16 pattern in order (groups of 8 all finite, or all
 * infinities and NaNs), then shuffled (groups mixing them) */
static void f16_patterns(uint16_t *h)
{
    nn_rng rng;
    nn_rng_seed(&rng, 16);
    for (uint32_t i = 0; i < 65536; i++) h[i] = h[65536 + i] = (uint16_t)i;
    for (uint32_t i = 65535; i > 0; i--) {
        const uint32_t j = nn_rng_below(&rng, i + 1);
        const uint16_t v = h[65536 + i];
        h[65536 + i] = h[65536 + j];
        h[65536 + j] = v;
    }
}

/* Against nn_f16_to_f32 value by value, bit for bit (NaN payloads too),
 * from byte offsets 0..3 into floats at offsets 0..1, whole and in pieces
 * of 1 to 17 values (tails); the float after the last untouched. */
static void check_f16(const path *p, void *ctx)
{
    (void)ctx;
    uint16_t *h = malloc(F16_COUNT * sizeof *h);
    uint8_t *src = malloc(2 * F16_COUNT + 4);
    float *want = malloc(F16_COUNT * sizeof *want), *got = malloc((F16_COUNT + 2) * sizeof *got);
    if (h && src && want && got) {
        f16_patterns(h);
        for (size_t i = 0; i < F16_COUNT; i++) want[i] = nn_f16_to_f32(h[i]);
        for (int so = 0; so < 4; so++)
            for (int fo = 0; fo < 2; fo++)
                for (int pieces = 0; pieces < 2; pieces++) {
                    uint8_t *s = src + so;
                    float *v = got + fo;
                    for (size_t i = 0; i < F16_COUNT; i++) {
                        s[2 * i] = (uint8_t)h[i];
                        s[2 * i + 1] = (uint8_t)(h[i] >> 8);
                    }
                    memset(got, 0xa5, (F16_COUNT + 2) * sizeof *got);
                    for (size_t at = 0, n = pieces ? 1 : F16_COUNT; at < F16_COUNT;
                         at += n, n = pieces ? n % 17 + 1 : n) {
                        if (n > F16_COUNT - at) n = F16_COUNT - at;
                        nn_f16_load(s + 2 * at, n, v + at);
                    }
                    uint32_t after;
                    memcpy(&after, v + F16_COUNT, sizeof after);
                    CHECK(!memcmp(v, want, F16_COUNT * sizeof *v) && after == 0xa5a5a5a5u,
                          "%s: source offset %d, float offset %d, %s: not nn_f16_to_f32's bits",
                          p->name, so, fo, pieces ? "in pieces" : "whole");
                }
    } else {
        CHECK(0, "out of memory");
    }
    free(h);
    free(src);
    free(want);
    free(got);
}

/* ---- aec_int_layer_run ------------------------------------------------------ */

typedef struct {
    int cin, cout, k, stride, h, w;
} int_shape;

static const int_shape int_shapes[] = {
    {3, 5, 5, 2, 3, 7},    /* the h_s's transposed convolutions: four phases, odd sizes */
    {16, 12, 5, 2, 4, 5},
    {20, 9, 3, 1, 5, 13},  /* its last convolution; 9 channels: a partial block of 4 */
    {300, 7, 1, 1, 1, 37}, /* 150 pairs: past the 128 summed in int32 before a flush */
    {40, 4, 3, 1, 9, 9},   /* 180 pairs: a K block of 128 and a partial one */
};

/* a layer of shape s with random weights, biases and requantisation */
static int int_layer_make(aec_hs_int_layer *L, const int_shape *s, nn_rng *r)
{
    if (aec_int_layer_alloc(L, s->cin, s->cout, s->k, s->stride)) return -1;
    const size_t nw = (size_t)s->cin * s->cout * s->k * s->k;
    for (size_t i = 0; i < nw; i++) L->w[i] = (int16_t)((int)nn_rng_below(r, 255) - 127);
    for (int c = 0; c < s->cout; c++) {
        L->b[c] = (int32_t)nn_rng_below(r, 1u << 21) - (1 << 20);
        L->mult[c] = 1 + (int32_t)nn_rng_below(r, 65535);
        L->shift[c] = (uint8_t)(10 + nn_rng_below(r, 15));
    }
    char err[200];
    return aec_int_layer_finish(L, 0, err, sizeof err);
}

typedef struct {
    int16_t *act, *lrelu; /* int16 outputs without and with the leaky ReLU */
    int32_t *val;         /* int32 outputs, split in two halves of channels */
} int_outputs;

static void int_layer_outputs(const aec_hs_int_layer *L, const int16_t *in, int h, int w,
                              int16_t *xp, const int_outputs *o)
{
    const int split = L->cout / 2;
    const size_t plane = (size_t)h * w * L->stride * L->stride;
    aec_int_layer_run(L, in, h, w, xp, o->act, 0, NULL, NULL, 0);
    aec_int_layer_run(L, in, h, w, xp, o->lrelu, 1, NULL, NULL, 0);
    aec_int_layer_run(L, in, h, w, xp, NULL, 0, o->val, o->val + (size_t)split * plane, split);
}

static int int_outputs_alloc(int_outputs *o, size_t n)
{
    o->act = malloc(n * sizeof *o->act);
    o->lrelu = malloc(n * sizeof *o->lrelu);
    o->val = malloc(n * sizeof *o->val);
    return o->act && o->lrelu && o->val ? 0 : -1;
}

static void int_outputs_free(int_outputs *o)
{
    free(o->act);
    free(o->lrelu);
    free(o->val);
}

/* One shape on the path under test against the plain path; the input and
 * the unrolling scratch one int16 past alignment. */
static void check_int_shape(const path *p, const int_shape *s, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    aec_hs_int_layer L;
    const size_t n_in = (size_t)s->cin * s->h * s->w;
    const size_t n_out = (size_t)s->cout * s->h * s->w * s->stride * s->stride;
    int_outputs want = {0}, got = {0};
    const int made = int_layer_make(&L, s, &r) == 0;
    int16_t *in = malloc((n_in + 1) * sizeof *in);
    int16_t *xp = made ? malloc(aec_int_layer_xp_bytes(&L, s->h, s->w) + sizeof *xp) : NULL;
    if (!made || !in || !xp || int_outputs_alloc(&want, n_out) || int_outputs_alloc(&got, n_out)) {
        CHECK(0, "%s: layer %d->%d k%d: setup", p->name, s->cin, s->cout, s->k);
    } else {
        for (size_t i = 0; i < n_in; i++) in[1 + i] = (int16_t)((int)nn_rng_below(&r, 65535) - 32767);
        nn_cpu_set_mask(0);
        int_layer_outputs(&L, in + 1, s->h, s->w, xp + 1, &want);
        nn_cpu_set_mask(p->mask);
        int_layer_outputs(&L, in + 1, s->h, s->w, xp + 1, &got);
        CHECK(!memcmp(want.act, got.act, n_out * sizeof *got.act) &&
                  !memcmp(want.lrelu, got.lrelu, n_out * sizeof *got.lrelu) &&
                  !memcmp(want.val, got.val, n_out * sizeof *got.val),
              "%s: layer %d->%d k%d s%d on %dx%d: not the plain kernel's integers", p->name,
              s->cin, s->cout, s->k, s->stride, s->h, s->w);
    }
    aec_int_layer_free(&L);
    int_outputs_free(&want);
    int_outputs_free(&got);
    free(in);
    free(xp);
}

static void check_int_layers(const path *p, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof int_shapes / sizeof int_shapes[0]; i++)
        check_int_shape(p, &int_shapes[i], 100 + i);
}

/* ---- PNG filters ------------------------------------------------------------ */

/* the PNG spec's Paeth predictor, as the spec writes it */
static int paeth(int a, int b, int c)
{
    const int pp = a + b - c, pa = abs(pp - a), pb = abs(pp - b), pc = abs(pp - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Rows for which each filter wins (the least sum of |residual|, ties to
 * the lower type), each after a row of noise: zeros (None), a ramp (Sub),
 * the noise again (Up), and rows built from the Average and the Paeth
 * predictors of their own neighbours (every 8th pixel noise: otherwise
 * the Paeth predictor settles on the pixel above, and Up ties). */
static void filter_rows(uint8_t *px, size_t row_bytes, int h, int bpp, nn_rng *r)
{
    for (int y = 0; y < h; y++) {
        uint8_t *row = px + (size_t)y * row_bytes;
        const uint8_t *up = y ? row - row_bytes : NULL;
        const int kind = y % 2 == 0 ? 0 : 1 + (y / 2) % 5;
        for (size_t i = 0; i < row_bytes; i++) {
            const int a = i >= (size_t)bpp ? row[i - bpp] : 0, b = up ? up[i] : 0;
            const int c = up && i >= (size_t)bpp ? up[i - bpp] : 0;
            const int noise = (int)nn_rng_below(r, 256), pixel_x = (int)(i / (size_t)bpp);
            const int v[6] = {noise, 0, pixel_x * 9 + (int)(i % (size_t)bpp), b, (a + b) >> 1,
                              pixel_x % 8 == 7 ? noise : paeth(a, b, c)};
            row[i] = (uint8_t)v[kind];
        }
    }
}

typedef struct {
    int w, h, alpha;
} png_shape;

static const png_shape png_shapes[] = {{1, 12, 0},  {2, 12, 1},   {5, 12, 0},  {31, 12, 1},
                                       {33, 12, 0}, {100, 12, 1}, {257, 12, 0}, {1000, 12, 1}};

/* The file aec_png_encode writes for shape s's image (malloc'd, *len);
 * NULL when it failed. */
static uint8_t *png_bytes(const png_shape *s, const uint8_t *rgb, const uint8_t *alpha, size_t *len)
{
    char *buf = NULL, problem[200];
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    const int rc = aec_png_encode(f, rgb, alpha, s->w, s->h, problem, sizeof problem);
    if (fclose(f) != 0 || rc != 0) {
        free(buf);
        return NULL;
    }
    return (uint8_t *)buf;
}

/* One image: the same file on the path under test as on the plain one. */
static void check_png_shape(const path *p, const png_shape *s, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    const int bpp = s->alpha ? 4 : 3;
    const size_t row_bytes = (size_t)s->w * bpp, pixels = (size_t)s->w * s->h;
    uint8_t *px = malloc(row_bytes * s->h), *rgb = malloc(pixels * 3), *alpha = malloc(pixels);
    uint8_t *want = NULL, *got = NULL;
    size_t want_len = 0, got_len = 0;
    if (px && rgb && alpha) {
        filter_rows(px, row_bytes, s->h, bpp, &r);
        for (size_t i = 0; i < pixels; i++) {
            memcpy(rgb + 3 * i, px + bpp * i, 3);
            alpha[i] = s->alpha ? px[bpp * i + 3] : 255;
        }
        nn_cpu_set_mask(0);
        want = png_bytes(s, rgb, s->alpha ? alpha : NULL, &want_len);
        nn_cpu_set_mask(p->mask);
        got = png_bytes(s, rgb, s->alpha ? alpha : NULL, &got_len);
    }
    CHECK(want && got && want_len == got_len && !memcmp(want, got, got_len),
          "%s: %dx%d %s: not the baseline copy's file", p->name, s->w, s->h, s->alpha ? "RGBA" : "RGB");
    /* the rows exercise every filter's loop where they are wide enough
     * for vectors */
    size_t used[5] = {0};
    CHECK(want && png_count_filters(want, want_len, row_bytes + 1, (size_t)s->h, used) == 0 &&
              (s->w < 31 || (used[0] && used[1] && used[2] && used[3] && used[4])),
          "%s: %dx%d: rows of each filter type: %zu %zu %zu %zu %zu", p->name, s->w, s->h, used[0],
          used[1], used[2], used[3], used[4]);
    free(px);
    free(rgb);
    free(alpha);
    free(want);
    free(got);
}

static void check_png(const path *p, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof png_shapes / sizeof png_shapes[0]; i++)
        check_png_shape(p, &png_shapes[i], 200 + i);
}

/* ---- GDN scaling ------------------------------------------------------------ */

typedef struct {
    int n, c, h, w;
} gdn_shape;

static const gdn_shape gdn_shapes[] = {{2, 3, 5, 7}, {1, 8, 1, 1}, {1, 4, 17, 33}, {1, 16, 20, 30}};

/* y of nn_gdn_forward (its denominators from OpenBLAS, the same on every
 * path) and of the decoder's nn_gdn_forward_inplace on the first image
 * less one pixel, one float past alignment (the portable GEMM kernel's
 * denominators: no FMA in the mask) */
static int gdn_outputs(const nn_gdn *l, const nn_params *prm, const nn_tensor *x, nn_tensor *y,
                       float *band, nn_workspace *ws)
{
    const size_t plane = (size_t)x->h * x->w;
    memcpy(band, x->data, (size_t)x->c * plane * sizeof *band);
    return nn_gdn_forward(l, prm, x, y, ws) ||
           nn_gdn_forward_inplace(l, prm, band + 1, plane - 1, plane, ws);
}

static void check_gdn_shape(const path *p, const gdn_shape *s, int inverse, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    nn_params prm;
    nn_params_init(&prm);
    nn_gdn l;
    nn_tensor x = {0}, want = {0}, got = {0};
    nn_workspace ws = {0};
    const size_t band_n = (size_t)s->c * s->h * s->w;
    float *band_want = malloc(band_n * sizeof(float)), *band_got = malloc(band_n * sizeof(float));
    if (nn_gdn_declare(&l, &prm, "g", s->c, inverse) || nn_params_alloc(&prm) || !band_want ||
        !band_got || nn_tensor_alloc(&x, s->n, s->c, s->h, s->w)) {
        CHECK(0, "GDN setup");
    } else {
        fill_uniform(prm.value, prm.count, 0.1f, 1.0f, &r);
        fill_uniform(x.data, nn_tensor_numel(&x), -3.0f, 3.0f, &r);
        nn_cpu_set_mask(0);
        int rc = gdn_outputs(&l, &prm, &x, &want, band_want, &ws);
        nn_cpu_set_mask(p->mask);
        rc |= gdn_outputs(&l, &prm, &x, &got, band_got, &ws);
        CHECK(rc == 0 && !memcmp(want.data, got.data, nn_tensor_numel(&x) * sizeof(float)) &&
                  !memcmp(band_want, band_got, band_n * sizeof(float)),
              "%s: %s %dx%dx%dx%d: not the baseline copy's bits", p->name, inverse ? "IGDN" : "GDN",
              s->n, s->c, s->h, s->w);
    }
    nn_tensor_free(&x);
    nn_tensor_free(&want);
    nn_tensor_free(&got);
    nn_workspace_free(&ws);
    nn_params_free(&prm);
    free(band_want);
    free(band_got);
}

static void check_gdn(const path *p, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof gdn_shapes / sizeof gdn_shapes[0]; i++)
        for (int inverse = 0; inverse < 2; inverse++)
            check_gdn_shape(p, &gdn_shapes[i], inverse, 300 + 2 * i + (size_t)inverse);
}

/* ---- Winograd transforms ---------------------------------------------------- */

typedef struct {
    int deconv; /* 1: transposed convolution, 0: convolution */
    int n, cin, cout, h, w;
} wino_shape;

/* partial tiles in each; the last two with 81 tiles, which the weight
 * gradient takes by Winograd too (64 or more), in 10 blocks of LANES and
 * a partial one */
static const wino_shape wino_shapes[] = {
    {1, 2, 16, 16, 6, 10}, {0, 1, 16, 16, 12, 20}, {1, 1, 20, 17, 34, 34}, {0, 1, 17, 24, 70, 70}};

typedef struct {
    nn_tensor y, dx;
    float *grad; /* the weights' and the bias's gradient */
} wino_outputs;

/* forward, input gradient and weight gradient of layer d or c on x, dy */
static int wino_run(const wino_shape *s, const nn_deconv2d *d, const nn_conv2d *c, nn_params *prm,
                    const nn_tensor *x, const nn_tensor *dy, wino_outputs *o, nn_workspace *ws)
{
    memset(prm->grad, 0, prm->count * sizeof(float));
    const int rc = s->deconv ? nn_deconv2d_forward_winograd(d, prm, x, &o->y, ws) ||
                                   nn_deconv2d_backward_dx_winograd(d, prm, x, dy, &o->dx, ws) ||
                                   nn_deconv2d_backward_dw_winograd(d, prm, x, dy, ws)
                             : nn_conv2d_forward_winograd(c, prm, x, &o->y, ws) ||
                                   nn_conv2d_backward_dx_winograd(c, prm, x, dy, &o->dx, ws) ||
                                   nn_conv2d_backward_dw_winograd(c, prm, x, dy, ws);
    memcpy(o->grad, prm->grad, prm->count * sizeof(float));
    return rc;
}

static int wino_same(const wino_outputs *a, const wino_outputs *b, size_t grads)
{
    return !memcmp(a->y.data, b->y.data, nn_tensor_numel(&a->y) * sizeof(float)) &&
           !memcmp(a->dx.data, b->dx.data, nn_tensor_numel(&a->dx) * sizeof(float)) &&
           !memcmp(a->grad, b->grad, grads * sizeof(float));
}

static void check_wino_shape(const path *p, const wino_shape *s, uint64_t seed)
{
    nn_rng r;
    nn_rng_seed(&r, seed);
    nn_params prm;
    nn_params_init(&prm);
    nn_deconv2d d;
    nn_conv2d c;
    nn_tensor x = {0}, dy = {0};
    wino_outputs want = {0}, got = {0};
    nn_workspace ws = {0};
    const int oh = s->deconv ? 2 * s->h : s->h / 2, ow = s->deconv ? 2 * s->w : s->w / 2;
    const int declared = s->deconv ? nn_deconv2d_declare(&d, &prm, "l", s->cin, s->cout, 5, 2)
                                   : nn_conv2d_declare(&c, &prm, "l", s->cin, s->cout, 5, 2, NN_PAD_ZERO);
    if (declared || nn_params_alloc(&prm) || nn_tensor_alloc(&x, s->n, s->cin, s->h, s->w) ||
        nn_tensor_alloc(&dy, s->n, s->cout, oh, ow) ||
        !(want.grad = malloc(prm.count * sizeof(float))) || !(got.grad = malloc(prm.count * sizeof(float)))) {
        CHECK(0, "Winograd setup");
    } else {
        fill_uniform(prm.value, prm.count, -1.0f, 1.0f, &r);
        fill_uniform(x.data, nn_tensor_numel(&x), -1.0f, 1.0f, &r);
        fill_uniform(dy.data, nn_tensor_numel(&dy), -1.0f, 1.0f, &r);
        nn_cpu_set_mask(0);
        int rc = wino_run(s, &d, &c, &prm, &x, &dy, &want, &ws);
        nn_cpu_set_mask(p->mask);
        rc |= wino_run(s, &d, &c, &prm, &x, &dy, &got, &ws);
        CHECK(rc == 0 && wino_same(&want, &got, prm.count),
              "%s: %s %d->%d on %dx%dx%d: not the plain copies' bits", p->name,
              s->deconv ? "transposed convolution" : "convolution", s->cin, s->cout, s->n, s->h, s->w);
    }
    nn_tensor_free(&x);
    nn_tensor_free(&dy);
    nn_tensor_free(&want.y);
    nn_tensor_free(&want.dx);
    nn_tensor_free(&got.y);
    nn_tensor_free(&got.dx);
    free(want.grad);
    free(got.grad);
    nn_workspace_free(&ws);
    nn_params_free(&prm);
}

static void check_winograd(const path *p, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof wino_shapes / sizeof wino_shapes[0]; i++)
        check_wino_shape(p, &wino_shapes[i], 400 + i);
}

/* ---- a whole encode and decode ---------------------------------------------- */

typedef struct {
    aec_codec codec;
    uint8_t *rgb; /* a smooth 60x44 image */
} coding;

enum { CODING_W = 60, CODING_H = 44 };

/* rc 0 and the file's bytes and the decoded pixels, malloc'd */
static int code_once(const coding *cd, uint8_t **file, size_t *len, uint8_t **pixels)
{
    char err[256];
    int w = 0, h = 0;
    *file = *pixels = NULL;
    if (aec_encode(&cd->codec, cd->rgb, CODING_W, CODING_H, 75.0, file, len, err, sizeof err) ||
        aec_decode(&cd->codec, *file, *len, pixels, &w, &h, err, sizeof err))
        return -1;
    return w == CODING_W && h == CODING_H ? 0 : -1;
}

/* A tiny model with a context model: the encoder and the decoder (the
 * integer h_s and context, GDN, the synthesis) on the path under test
 * write the plain paths' file and decode it to their pixels. */
static void check_coding(const path *p, void *ctx)
{
    const coding *cd = ctx;
    uint8_t *file[2] = {NULL, NULL}, *pixels[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    nn_cpu_set_mask(0);
    int rc = code_once(cd, &file[0], &len[0], &pixels[0]);
    nn_cpu_set_mask(p->mask);
    rc |= code_once(cd, &file[1], &len[1], &pixels[1]);
    CHECK(rc == 0 && len[0] == len[1] && !memcmp(file[0], file[1], len[0]) &&
              !memcmp(pixels[0], pixels[1], (size_t)CODING_W * CODING_H * 3),
          "%s: not the plain paths' file and pixels", p->name);
    for (int i = 0; i < 2; i++) {
        free(file[i]);
        free(pixels[i]);
    }
}

/* ---- the switch itself -------------------------------------------------------- */

/* AEC_CPU's names to a mask, the mask to names, and nn_cpu_set_mask within
 * what is available */
static void check_switch(void)
{
    CHECK(nn_cpu_parse_mask(NULL) == NN_CPU_ALL && nn_cpu_parse_mask("") == NN_CPU_ALL,
          "AEC_CPU unset or empty: all");
    CHECK(nn_cpu_parse_mask("none") == 0 && nn_cpu_parse_mask("all") == NN_CPU_ALL, "none, all");
    CHECK(nn_cpu_parse_mask("sse2,AVX2 fma") == (NN_CPU_SSE2 | NN_CPU_AVX2 | NN_CPU_FMA),
          "sse2,AVX2 fma: %#x", nn_cpu_parse_mask("sse2,AVX2 fma"));
    CHECK(nn_cpu_parse_mask(",f16c,,pclmul,avx512,") ==
              (NN_CPU_F16C | NN_CPU_PCLMUL | NN_CPU_AVX512),
          "f16c, pclmul, avx512 with empty names between");
    CHECK(nn_cpu_parse_mask("baseline") == NN_CPU_SSE2, "baseline is sse2");
    /* an unknown name is ignored, with a warning */
    char dir[] = "/tmp/aec_test_cpu.XXXXXX";
    if (mkdtemp(dir)) {
        stderr_capture cap;
        stderr_capture_begin(&cap, dir);
        const unsigned m = nn_cpu_parse_mask("sse2,avx3");
        const long printed = stderr_capture_end(&cap);
        CHECK(m == NN_CPU_SSE2 && printed > 0, "sse2,avx3: %#x, %ld bytes of warning", m, printed);
        rmdir(dir);
    } else {
        CHECK(0, "mkdtemp %s", dir);
    }
    char buf[64];
    CHECK(!strcmp(nn_cpu_names(NN_CPU_SSE2 | NN_CPU_PCLMUL, buf, sizeof buf), "sse2,pclmul"), "%s",
          buf);
    CHECK(!strcmp(nn_cpu_names(0, buf, sizeof buf), "none"), "%s", buf);
    CHECK(!strcmp(nn_cpu_names(NN_CPU_ALL, buf, sizeof buf), "sse2,avx2,fma,f16c,pclmul,avx512"), "%s",
          buf);
    CHECK(!strcmp(nn_cpu_names(NN_CPU_ALL, buf, 12), "sse2,avx2"), "12 bytes: %s", buf);
    CHECK(nn_cpu_parse_mask(nn_cpu_names(NN_CPU_ALL, buf, sizeof buf)) == NN_CPU_ALL,
          "names read back");
    /* the switch holds what is available of the mask, no more */
    const unsigned avail = nn_cpu_available();
    const char *env = getenv("AEC_CPU");
    CHECK((avail & ~nn_cpu_parse_mask(env)) == 0, "AEC_CPU=%s leaves out %#x, available %#x",
          env ? env : "", ~nn_cpu_parse_mask(env) & NN_CPU_ALL, avail);
    CHECK(nn_cpu_set_mask(0) == 0 && nn_cpu_flags() == 0, "mask 0: %#x", nn_cpu_flags());
    CHECK(nn_cpu_set_mask(NN_CPU_SSE2 | NN_CPU_AVX2) == (avail & (NN_CPU_SSE2 | NN_CPU_AVX2)) &&
              nn_cpu_flags() == (avail & (NN_CPU_SSE2 | NN_CPU_AVX2)),
          "mask sse2,avx2: %#x", nn_cpu_flags());
    CHECK(nn_cpu_set_mask(NN_CPU_ALL) == avail && nn_cpu_flags() == avail &&
              nn_cpu_available() == avail,
          "mask all: %#x of %#x", nn_cpu_flags(), avail);
}

/* ---- main ------------------------------------------------------------------- */

int main(void)
{
    const char *san = getenv("AEC_TEST_SANITIZED");
    int sanitized = san && san[0] == '1';
    char names[128];
    printf("test_cpu_paths: features available: %s\n",
           nn_cpu_names(nn_cpu_available(), names, sizeof names));
    check_switch();

    const path gemm[] = {{"plain", 0}, {"sse2", NN_CPU_SSE2},
                         {"avx2+fma", NN_CPU_SSE2 | NN_CPU_AVX2 | NN_CPU_FMA}};
    const path crc[] = {{"zlib", 0}, {"pclmul", NN_CPU_PCLMUL}};
    const path half[] = {{"plain", 0}, {"f16c", NN_CPU_F16C}};
    const path three[] = {{"plain", 0}, {"sse2", NN_CPU_SSE2}, {"avx2", NN_CPU_SSE2 | NN_CPU_AVX2}};
    const path copies[] = {{"baseline", 0}, {"avx2", NN_CPU_AVX2}};
    for_each_path("nn_sgemm", gemm, 3, check_gemm, &sanitized);
    for_each_path("nn_crc32", crc, 2, check_crc32, NULL);
    for_each_path("nn_f16_load", half, 2, check_f16, NULL);
    for_each_path("aec_int_layer_run", three, 3, check_int_layers, NULL);
    for_each_path("PNG filters", copies, 2, check_png, NULL);
    for_each_path("GDN scaling", copies, 2, check_gdn, NULL);
    for_each_path("Winograd transforms", three, 3, check_winograd, NULL);

    coding cd = {.rgb = tiny_smooth_image(CODING_W, CODING_H, 2)};
    aec_model m;
    char err[256] = "";
    if (cd.rgb && tiny_model_context(&m, 9) == 0 && tiny_codec_from(&cd.codec, &m, err, sizeof err) == 0) {
        for_each_path("aec_encode/decode", three, 3, check_coding, &cd);
        aec_codec_free(&cd.codec);
    } else {
        CHECK(0, "tiny codec: %s", err);
    }
    free(cd.rgb);
    return check_report("test_cpu_paths");
}
