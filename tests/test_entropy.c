/* tests/test_entropy.c - varints, CDF table building and storage, and the
 * range coder: round trips over random tables and values (escapes included),
 * coded size against the Shannon bound, and bounded, error-reporting
 * behaviour on truncated and random streams. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/cdf_tables.h"
#include "codec/rangecoder.h"
#include "codec/varint.h"
#include "tests/check.h"

static uint64_t rng_state;

static uint64_t rng_u64(void)
{
    /* splitmix64: enough for test data, and independent of nn/ */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(rng_u64() % n);
}

static double rng_unit(void)
{
    return (rng_u64() >> 11) * (1.0 / 9007199254740992.0);
}

static int sanitized(void)
{
    const char *s = getenv("AEC_TEST_SANITIZED");
    return s && *s && strcmp(s, "0") != 0;
}

/* ---- varints ---------------------------------------------------------------- */

static void test_varint(void)
{
    static const uint32_t values[] = {0, 1, 127, 128, 255, 300, 16383, 16384, 65535,
                                      2097151, 2097152, 268435455, 268435456, UINT32_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        uint8_t buf[AEC_VARINT_MAX_BYTES];
        size_t n = aec_varint_put(buf, values[i]);
        uint32_t back = 0;
        CHECK(n == aec_varint_size(values[i]), "size of %u", values[i]);
        CHECK(aec_varint_get(buf, n, &back) == (int)n && back == values[i], "round trip %u",
              values[i]);
        for (size_t cut = 0; cut < n; cut++)
            CHECK(aec_varint_get(buf, cut, &back) == 0, "truncated %u at %zu", values[i], cut);
    }
    uint32_t v;
    CHECK(aec_varint_get((const uint8_t *)"\x80\x00", 2, &v) == -1, "overlong zero");
    CHECK(aec_varint_get((const uint8_t *)"\xff\xff\xff\xff\x10", 5, &v) == -1, "2^32");
    CHECK(aec_varint_get((const uint8_t *)"\xff\xff\xff\xff\x8f\x01", 6, &v) == -1, "6 bytes");
    CHECK(aec_varint_get((const uint8_t *)"\xff\xff\xff\xff\x0f", 5, &v) == 5 && v == UINT32_MAX,
          "max");
    static const int32_t signed_values[] = {0, -1, 1, -2, INT32_MAX, INT32_MIN, 12345, -12345};
    for (size_t i = 0; i < sizeof signed_values / sizeof signed_values[0]; i++)
        CHECK(aec_unzigzag32(aec_zigzag32(signed_values[i])) == signed_values[i], "zigzag %d",
              signed_values[i]);
    CHECK(aec_zigzag32(-1) == 1 && aec_zigzag32(1) == 2 && aec_zigzag32(INT32_MIN) == UINT32_MAX,
          "zigzag order");
}

/* ---- table building --------------------------------------------------------- */

static int cdf_ok(const uint32_t *cdf, uint32_t length)
{
    if (cdf[0] != 0 || cdf[length + 1] != AEC_CDF_TOTAL) return 0;
    for (uint32_t k = 0; k <= length; k++)
        if (cdf[k + 1] <= cdf[k]) return 0;
    return 1;
}

/* kind 0 flat, 1 geometric-skewed, 2 a single dominant symbol, 3 random
 * with zeros */
static void random_pmf(double *pmf, uint32_t length, int kind)
{
    double decay = 0.5 + 0.49 * rng_unit();
    uint32_t peak = rng_below(length);
    for (uint32_t k = 0; k < length; k++) {
        switch (kind) {
        case 0: pmf[k] = 1.0; break;
        case 1: {
            uint32_t d = k > peak ? k - peak : peak - k;
            pmf[k] = pow(decay, d);
            break;
        }
        case 2: pmf[k] = k == peak ? 1.0 : 1e-7; break;
        default: pmf[k] = rng_below(4) == 0 ? 0.0 : rng_unit(); break;
        }
    }
}

static void test_cdf_from_pmf(void)
{
    enum { MAXLEN = 1200 };
    static double pmf[MAXLEN];
    static uint32_t cdf[MAXLEN + 2], again[MAXLEN + 2];
    int bad = 0, nondeterministic = 0, runs = 0;
    rng_state = 1;
    for (int iter = 0; iter < 300; iter++) {
        uint32_t length = iter < 8 ? (uint32_t)iter + 1 : 1 + rng_below(MAXLEN);
        random_pmf(pmf, length, iter % 4);
        double escape = iter % 3 ? 1e-6 : 0.0;
        if (aec_cdf_from_pmf(pmf, length, escape, cdf) != 0 || !cdf_ok(cdf, length)) bad++;
        aec_cdf_from_pmf(pmf, length, escape, again);
        if (memcmp(cdf, again, (length + 2) * sizeof *cdf) != 0) nondeterministic++;
        runs++;
    }
    CHECK(bad == 0, "%d of %d pmfs gave an invalid cdf", bad, runs);
    CHECK(nondeterministic == 0, "%d of %d pmfs quantised differently twice", nondeterministic,
          runs);

    /* the largest table: every count 1 */
    double *big = malloc(AEC_CDF_MAX_LENGTH * sizeof *big);
    uint32_t *bigcdf = malloc((AEC_CDF_MAX_LENGTH + 2) * sizeof *bigcdf);
    CHECK(big && bigcdf, "alloc");
    if (big && bigcdf) {
        for (uint32_t k = 0; k < AEC_CDF_MAX_LENGTH; k++) big[k] = k == 7 ? 1.0 : 0.0;
        CHECK(aec_cdf_from_pmf(big, AEC_CDF_MAX_LENGTH, 0, bigcdf) == 0 &&
                  cdf_ok(bigcdf, AEC_CDF_MAX_LENGTH),
              "65535 symbols");
    }
    free(big);
    free(bigcdf);

    /* exact proportions are kept where they are representable */
    double quarters[3] = {0.25, 0.5, 0.125};
    CHECK(aec_cdf_from_pmf(quarters, 3, 0.125, cdf) == 0 && cdf[1] == 16384 &&
              cdf[2] == 49152 && cdf[3] == 57344 && cdf[4] == 65536,
          "dyadic pmf kept: %u %u %u %u", cdf[1], cdf[2], cdf[3], cdf[4]);
    /* a near-certain symbol gets all but the minimum counts */
    double certain[4] = {0, 1, 0, 0};
    CHECK(aec_cdf_from_pmf(certain, 4, 0, cdf) == 0 && cdf[2] - cdf[1] == 65532,
          "certain symbol count %u", cdf[2] - cdf[1]);

    double nan_pmf[2] = {NAN, 1}, neg_pmf[2] = {-0.1, 1}, zero_pmf[2] = {0, 0};
    CHECK(aec_cdf_from_pmf(nan_pmf, 2, 0, cdf) == -1, "NaN rejected");
    CHECK(aec_cdf_from_pmf(neg_pmf, 2, 0, cdf) == -1, "negative rejected");
    CHECK(aec_cdf_from_pmf(zero_pmf, 2, 0, cdf) == -1, "zero total rejected");
    CHECK(aec_cdf_from_pmf(quarters, 0, 1, cdf) == -1, "length 0 rejected");
    CHECK(aec_cdf_from_pmf(quarters, 3, INFINITY, cdf) == -1, "infinite escape rejected");
}

static void test_gaussian_set(void)
{
    double scales[64];
    aec_scales_logspace(0.11, 256, 64, scales);
    aec_cdf_set set;
    char err[160] = "";
    CHECK(aec_cdf_set_build_gaussian(&set, scales, 64, 1e-6, 8191) == 0, "build");
    CHECK(set.n_tables == 64 && aec_cdf_set_validate(&set, err, sizeof err) == 0, "valid: %s",
          err);
    if (set.n_tables != 64) return;
    /* widths grow with the scale; the escape mass stays near the tail bound */
    int monotone = 1;
    for (uint32_t i = 1; i < set.n_tables; i++)
        if (set.tables[i].length < set.tables[i - 1].length) monotone = 0;
    CHECK(monotone, "lengths grow with the scale");
    const aec_cdf_table *last = &set.tables[63];
    CHECK(last->scale_q16 == 256u << 16, "largest scale %u", last->scale_q16);
    CHECK(last->length > 2 * 4.8 * 256 && last->length < 2 * 5.2 * 256, "width at 256: %u",
          last->length);
    const aec_cdf_table *first = &set.tables[0];
    CHECK(first->offset == -(int32_t)(first->length / 2) && first->cdf[1 + first->length / 2] -
                                                                    first->cdf[first->length / 2] >
                                                                65000,
          "scale 0.11 puts nearly everything on 0");
    /* a tail far below one count still leaves the escape its 1 */
    CHECK(last->cdf[last->length + 1] - last->cdf[last->length] == 1, "escape count %u",
          last->cdf[last->length + 1] - last->cdf[last->length]);
    /* symmetric pmf -> counts symmetric up to the one spare count that the
     * tie-break hands to the lower symbol */
    int symmetric = 1;
    for (uint32_t i = 0; i < set.n_tables; i++) {
        const aec_cdf_table *t = &set.tables[i];
        for (uint32_t k = 0; k < t->length; k++) {
            long a = (long)t->cdf[k + 1] - (long)t->cdf[k];
            long b = (long)t->cdf[t->length - k] - (long)t->cdf[t->length - k - 1];
            if (labs(a - b) > 1) symmetric = 0;
        }
    }
    CHECK(symmetric, "Gaussian counts symmetric");

    /* scale -> index: the smallest table scale >= the scale, else the last */
    int wrong = 0;
    rng_state = 7;
    for (int i = 0; i < 20000; i++) {
        int32_t s;
        switch (i % 4) {
        case 0: s = (int32_t)rng_below(300u << 16); break;
        case 1: s = (int32_t)set.tables[rng_below(64)].scale_q16 + (int32_t)rng_below(3) - 1; break;
        case 2: s = (int32_t)rng_u64(); break;
        default: s = (int32_t)rng_below(1u << 14); break;
        }
        uint32_t expect = set.n_tables - 1;
        for (uint32_t k = 0; k < set.n_tables; k++)
            if (set.tables[k].scale_q16 >= (uint32_t)(s < 0 ? 0 : s)) {
                expect = k;
                break;
            }
        if (aec_scale_index(&set, s) != expect) wrong++;
    }
    CHECK(wrong == 0, "%d scale indices differ from a linear search", wrong);
    CHECK(aec_scale_index(&set, INT32_MIN) == 0 && aec_scale_index(&set, 0) == 0 &&
              aec_scale_index(&set, INT32_MAX) == 63 &&
              aec_scale_index(&set, (int32_t)set.tables[10].scale_q16) == 10 &&
              aec_scale_index(&set, (int32_t)set.tables[10].scale_q16 + 1) == 11,
          "scale index edges");

    /* storage round trip */
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(aec_cdf_set_serialize(&set, &buf, &len) == 0, "serialize");
    aec_cdf_set back;
    CHECK(aec_cdf_set_deserialize(&back, buf, len, err, sizeof err) == 0, "deserialize: %s", err);
    int same = back.n_tables == set.n_tables && back.kind == set.kind;
    for (uint32_t i = 0; same && i < set.n_tables; i++) {
        const aec_cdf_table *a = &set.tables[i], *b = &back.tables[i];
        same = a->offset == b->offset && a->length == b->length && a->scale_q16 == b->scale_q16 &&
               !memcmp(a->cdf, b->cdf, (a->length + 2) * sizeof *a->cdf);
    }
    CHECK(same, "stored set equals the built one");
    /* every truncation is rejected */
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 97) {
        aec_cdf_set t;
        if (aec_cdf_set_deserialize(&t, buf, cut, err, sizeof err) == 0) accepted++;
        aec_cdf_set_free(&t);
    }
    CHECK(accepted == 0, "%d truncations accepted", accepted);
    free(buf);
    aec_cdf_set_free(&back);
    aec_cdf_set_free(&set);

    double bad_scales[3] = {1.0, 1.0, 2.0};
    CHECK(aec_cdf_set_build_gaussian(&set, bad_scales, 3, 1e-6, 100) == -1 && !set.tables,
          "equal scales rejected");
    double one = 3.0;
    CHECK(aec_cdf_set_build_gaussian(&set, &one, 1, 1e-6, 9) == 0 && set.tables[0].length == 9,
          "width capped: %u", set.n_tables ? set.tables[0].length : 0);
    aec_cdf_set_free(&set);
}

/* A stored indexed set of two tables, edited byte by byte to break each rule. */
static void test_set_validation(void)
{
    uint32_t lengths[2] = {3, 2};
    aec_cdf_set set;
    char err[160];
    CHECK(aec_cdf_set_alloc(&set, AEC_CDF_KIND_INDEXED, 2, lengths) == 0, "alloc");
    if (!set.tables) return;
    static const double p3[3] = {1, 2, 1}, p2[2] = {3, 1};
    aec_cdf_from_pmf(p3, 3, 0.01, set.tables[0].cdf);
    aec_cdf_from_pmf(p2, 2, 0.01, set.tables[1].cdf);
    set.tables[0].offset = -1;
    set.tables[1].offset = 5;
    uint8_t *buf;
    size_t len;
    CHECK(aec_cdf_set_serialize(&set, &buf, &len) == 0, "serialize");
    /* kind, count=2, [off=-1 -> 1, len 3, 3 u16], [off 5 -> 10, len 2, 2 u16] */
    CHECK(len == 1 + 1 + 2 + 6 + 2 + 4, "stored size %zu", len);
    uint8_t copy[32];
    aec_cdf_set t;
#define EXPECT_REJECT(what, edit)                                                        \
    do {                                                                                 \
        memcpy(copy, buf, len);                                                          \
        size_t clen = len;                                                               \
        edit;                                                                            \
        err[0] = 0;                                                                      \
        CHECK(aec_cdf_set_deserialize(&t, copy, clen, err, sizeof err) == -1 && err[0], \
              "%s accepted", what);                                                      \
        aec_cdf_set_free(&t);                                                            \
    } while (0)
    EXPECT_REJECT("unknown kind", copy[0] = 2);
    EXPECT_REJECT("zero tables", copy[1] = 0);
    EXPECT_REJECT("length 0", copy[3] = 0);
    EXPECT_REJECT("non-monotone cdf", (copy[4] = 0xFF, copy[5] = 0xFF));
    EXPECT_REJECT("zero count", (copy[6] = copy[4], copy[7] = copy[5]));
    EXPECT_REJECT("escape count 0", (copy[len - 2] = 0, copy[len - 1] = 0) /* cdf[2] = 0 */);
    EXPECT_REJECT("trailing byte", (copy[len] = 0, clen = len + 1));
    EXPECT_REJECT("overlong varint", (copy[1] = 0x82, copy[2] = 0x00));
    EXPECT_REJECT("offset overflow", (copy[10] = 0xFE, copy[11] = 0xFF, copy[12] = 0xFF,
                                      copy[13] = 0xFF, copy[14] = 0x0F, memcpy(copy + 15, buf + 11, len - 11),
                                      clen = len + 4));
    CHECK(aec_cdf_set_deserialize(&t, buf, len, err, sizeof err) == 0, "original accepted: %s",
          err);
    aec_cdf_set_free(&t);
    /* Gaussian sets need increasing scales */
    set.kind = AEC_CDF_KIND_GAUSSIAN;
    set.tables[0].scale_q16 = 5;
    set.tables[1].scale_q16 = 5;
    CHECK(aec_cdf_set_validate(&set, err, sizeof err) == -1, "equal scales accepted");
    set.tables[1].scale_q16 = 6;
    CHECK(aec_cdf_set_validate(&set, err, sizeof err) == 0, "increasing scales: %s", err);
    free(buf);
    aec_cdf_set_free(&set);
}

/* ---- range coder ------------------------------------------------------------ */

/* A random indexed set: n tables of random lengths and shapes, offsets
 * anywhere in int32 (sometimes at its ends). */
static int random_set(aec_cdf_set *set, uint32_t n, uint32_t max_len)
{
    uint32_t lengths[16];
    for (uint32_t i = 0; i < n; i++) lengths[i] = 1 + rng_below(max_len);
    if (aec_cdf_set_alloc(set, AEC_CDF_KIND_INDEXED, n, lengths) != 0) return -1;
    double *pmf = malloc(max_len * sizeof *pmf);
    if (!pmf) return -1;
    for (uint32_t i = 0; i < n; i++) {
        aec_cdf_table *t = &set->tables[i];
        random_pmf(pmf, t->length, (int)rng_below(4));
        if (aec_cdf_from_pmf(pmf, t->length, rng_unit() * 0.01, t->cdf) != 0) {
            free(pmf);
            return -1;
        }
        switch (rng_below(5)) {
        case 0: t->offset = INT32_MIN; break;
        case 1: t->offset = (int32_t)((int64_t)INT32_MAX - t->length + 1); break;
        case 2: t->offset = (int32_t)rng_u64(); if ((int64_t)t->offset + t->length - 1 > INT32_MAX) t->offset = 0; break;
        default: t->offset = -(int32_t)rng_below(t->length + 1); break;
        }
    }
    free(pmf);
    return 0;
}

/* A value for table t: usually a symbol drawn from its own cdf, sometimes an
 * escape, near or far, including the int32 extremes. */
static int32_t draw_value(const aec_cdf_table *t);

static int32_t random_value(const aec_cdf_table *t)
{
    uint32_t u = rng_below(64);
    if (u == 0) return INT32_MIN;
    if (u == 1) return INT32_MAX;
    if (u == 2) return (int32_t)rng_u64();
    if (u == 3) return (int32_t)((int64_t)t->offset - 1 - rng_below(70) < INT32_MIN ? INT32_MAX : (int64_t)t->offset - 1 - rng_below(70));
    if (u == 4) return (int32_t)((int64_t)t->offset + t->length + rng_below(70) > INT32_MAX ? INT32_MIN : (int64_t)t->offset + t->length + rng_below(70));
    return draw_value(t);
}

/* a value distributed as t says (an escape is offset - 1, or INT32_MAX) */
static int32_t draw_value(const aec_cdf_table *t)
{
    uint32_t target = rng_below(AEC_CDF_TOTAL), s = 0;
    while (t->cdf[s + 1] <= target) s++;
    if (s == t->length) return (int32_t)((int64_t)t->offset - 1 >= INT32_MIN ? t->offset - 1 : INT32_MAX);
    return (int32_t)((int64_t)t->offset + s);
}

static void test_round_trips(void)
{
    const int seeds = sanitized() ? 60 : 400;
    int failures = 0, values_total = 0, escapes = 0;
    for (int seed = 0; seed < seeds; seed++) {
        rng_state = 1000 + (uint64_t)seed;
        aec_cdf_set set;
        uint32_t max_len = seed % 4 == 0 ? 4 : seed % 4 == 1 ? 40 : 1000;
        if (random_set(&set, 1 + rng_below(16), max_len) != 0) {
            failures++;
            continue;
        }
        int n = seed % 10 == 0 ? (int)rng_below(3) : (int)rng_below(3000);
        int32_t *values = malloc((n ? n : 1) * sizeof *values);
        uint32_t *which = malloc((n ? n : 1) * sizeof *which);
        if (!values || !which) abort();
        aec_rc_encoder enc;
        aec_rc_encoder_init(&enc);
        for (int i = 0; i < n; i++) {
            which[i] = rng_below(set.n_tables);
            const aec_cdf_table *t = &set.tables[which[i]];
            values[i] = random_value(t);
            if ((int64_t)values[i] < t->offset || (int64_t)values[i] >= (int64_t)t->offset + t->length) escapes++;
            aec_rc_encode(&enc, t, values[i]);
        }
        uint8_t *stream;
        size_t len;
        int rc = aec_rc_encoder_finish(&enc, &stream, &len);
        aec_rc_decoder dec;
        aec_rc_decoder_init(&dec, stream, len);
        int ok = rc == AEC_RC_OK;
        for (int i = 0; ok && i < n; i++) {
            int32_t v;
            ok = aec_rc_decode(&dec, &set.tables[which[i]], &v) == AEC_RC_OK && v == values[i];
        }
        ok = ok && aec_rc_decoder_finish(&dec) == AEC_RC_OK;
        if (!ok) {
            failures++;
            if (failures < 4) fprintf(stderr, "round trip failed: seed %d n %d\n", seed, n);
        }
        values_total += n;
        free(stream);
        free(values);
        free(which);
        aec_cdf_set_free(&set);
    }
    CHECK(failures == 0, "%d of %d random streams (%d values, %d escapes) failed", failures,
          seeds, values_total, escapes);
}

static void test_extremes(void)
{
    /* one-symbol tables at the ends of int32, every escape distance extreme */
    uint32_t lengths[3] = {1, 1, 1};
    aec_cdf_set set;
    CHECK(aec_cdf_set_alloc(&set, AEC_CDF_KIND_INDEXED, 3, lengths) == 0, "alloc");
    if (!set.tables) return;
    for (int i = 0; i < 3; i++) {
        set.tables[i].cdf[1] = 65535;
        set.tables[i].cdf[2] = 65536;
    }
    set.tables[0].offset = INT32_MIN;
    set.tables[1].offset = INT32_MAX;
    set.tables[2].offset = 0;
    static const int32_t values[] = {INT32_MIN, INT32_MAX, 0, -1, 1, INT32_MIN + 1, INT32_MAX - 1};
    const int nv = (int)(sizeof values / sizeof values[0]);
    aec_rc_encoder enc;
    aec_rc_encoder_init(&enc);
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < nv; i++) aec_rc_encode(&enc, &set.tables[t], values[i]);
    uint8_t *stream;
    size_t len;
    CHECK(aec_rc_encoder_finish(&enc, &stream, &len) == AEC_RC_OK, "encode extremes");
    aec_rc_decoder dec;
    aec_rc_decoder_init(&dec, stream, len);
    int ok = 1;
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < nv; i++) {
            int32_t v;
            if (aec_rc_decode(&dec, &set.tables[t], &v) != AEC_RC_OK || v != values[i]) ok = 0;
        }
    CHECK(ok && aec_rc_decoder_finish(&dec) == AEC_RC_OK, "decode extremes");
    /* an escape costs -log2(1/65536) + gamma bits: INT32_MIN under offset
     * INT32_MAX is a distance of 2^32 - 1, 67 bits of gamma */
    CHECK(len * 8 < (size_t)(3 * nv) * (16 + 67) + 64, "extremes take %zu bytes", len);
    free(stream);

    /* the empty stream is empty, and decodes as such */
    aec_rc_encoder_init(&enc);
    CHECK(aec_rc_encoder_finish(&enc, &stream, &len) == AEC_RC_OK && len == 0 && !stream,
          "empty stream: %zu bytes", len);
    aec_rc_decoder_init(&dec, NULL, 0);
    CHECK(aec_rc_decoder_finish(&dec) == AEC_RC_OK, "empty stream decodes");
    /* all-ones bytes are a state no encoder reaches */
    aec_rc_decoder_init(&dec, (const uint8_t *)"\xff\xff\xff\xff", 4);
    CHECK(aec_rc_decoder_finish(&dec) == AEC_RC_ERR_CORRUPT, "0xffffffff rejected");
    int32_t v = 7;
    CHECK(aec_rc_decode(&dec, &set.tables[2], &v) == AEC_RC_ERR_CORRUPT && v == 0,
          "0xffffffff rejected on decode");

    /* a broken table is refused, not looped on */
    set.tables[2].cdf[1] = 65536;
    aec_rc_encoder_init(&enc);
    CHECK(aec_rc_encode(&enc, &set.tables[2], 5) == AEC_RC_ERR_ARG, "zero escape count refused");
    aec_rc_encoder_free(&enc);
    set.tables[2].cdf[1] = 100;
    set.tables[2].cdf[2] = 200; /* does not reach 65536 */
    aec_rc_decoder_init(&dec, (const uint8_t *)"\x80\x00\x00\x00", 4);
    CHECK(aec_rc_decode(&dec, &set.tables[2], &v) == AEC_RC_ERR_ARG, "short table refused");
    aec_cdf_set_free(&set);
    CHECK(strcmp(aec_rc_strerror(AEC_RC_ERR_TRUNCATED), "entropy stream truncated") == 0,
          "strerror");
}

/* Coded size against the information content under the integer table:
 * sum of -log2(count/65536), plus the gamma bits of escapes. */
static void shannon_case(const char *name, const aec_cdf_table *t, int n, int escape_every)
{
    aec_rc_encoder enc;
    aec_rc_encoder_init(&enc);
    double bound = 0;
    for (int i = 0; i < n; i++) {
        int32_t v = draw_value(t);
        if (escape_every && i % escape_every == 0) v = t->offset + (int32_t)t->length + 100;
        int64_t idx = (int64_t)v - t->offset;
        uint32_t s = idx >= 0 && idx < t->length ? (uint32_t)idx : t->length;
        bound -= log2((t->cdf[s + 1] - t->cdf[s]) / 65536.0);
        if (s == t->length) {
            uint64_t zz = idx < 0 ? 2 * (uint64_t)(-idx - 1) + 1 : 2 * (uint64_t)(idx - t->length);
            int top = 0;
            while ((zz + 1) >> (top + 1)) top++;
            bound += 2 * top + 1;
        }
        aec_rc_encode(&enc, t, v);
    }
    uint8_t *stream;
    size_t len;
    CHECK(aec_rc_encoder_finish(&enc, &stream, &len) == AEC_RC_OK, "%s encode", name);
    double bits = 8.0 * len;
    if (getenv("AEC_TEST_VERBOSE"))
        printf("%-28s %8d symbols %9.0f bits, bound %10.1f (+%.4f%%)\n", name, n, bits, bound,
               100 * (bits / bound - 1));
    CHECK(bits <= 1.01 * bound, "%s: %.0f bits coded, Shannon bound %.1f (+%.3f%%)", name, bits,
          bound, 100 * (bits / bound - 1));
    CHECK(bits >= bound - 64, "%s: %.0f bits below the bound %.1f", name, bits, bound);
    free(stream);
}

static void test_shannon(void)
{
    rng_state = 99;
    double pmf[1000];
    uint32_t lengths[4] = {1000, 16, 3, 64};
    aec_cdf_set set;
    CHECK(aec_cdf_set_alloc(&set, AEC_CDF_KIND_INDEXED, 4, lengths) == 0, "alloc");
    if (!set.tables) return;
    random_pmf(pmf, 1000, 0);
    aec_cdf_from_pmf(pmf, 1000, 0.001, set.tables[0].cdf);
    for (int k = 0; k < 16; k++) pmf[k] = pow(0.6, abs(k - 8));
    aec_cdf_from_pmf(pmf, 16, 0.0001, set.tables[1].cdf);
    pmf[0] = 0.004; pmf[1] = 0.99; pmf[2] = 0.006;
    aec_cdf_from_pmf(pmf, 3, 0.0, set.tables[2].cdf);
    for (int k = 0; k < 64; k++) pmf[k] = rng_unit();
    aec_cdf_from_pmf(pmf, 64, 0.01, set.tables[3].cdf);
    set.tables[1].offset = -8;
    set.tables[2].offset = -1;
    shannon_case("flat 1000", &set.tables[0], 10000, 0);
    shannon_case("geometric 16", &set.tables[1], 20000, 0);
    shannon_case("skewed 0.99", &set.tables[2], 100000, 0);
    shannon_case("random 64 with 1% escapes", &set.tables[3], 20000, 100);
    aec_cdf_set_free(&set);

    double scales[64];
    aec_scales_logspace(0.11, 256, 64, scales);
    CHECK(aec_cdf_set_build_gaussian(&set, scales, 64, 1e-6, 8191) == 0, "gaussian set");
    if (set.n_tables == 64) {
        shannon_case("gaussian s=0.5", &set.tables[aec_scale_index(&set, 1 << 15)], 40000, 0);
        shannon_case("gaussian s=4", &set.tables[aec_scale_index(&set, 4 << 16)], 10000, 0);
        shannon_case("gaussian s=256", &set.tables[63], 10000, 0);
    }
    aec_cdf_set_free(&set);
}

/* Truncated, extended and random streams: every decode ends, with an error
 * or with values, never out of bounds (ASan watches) and never stuck. */
static void test_damaged_streams(void)
{
    rng_state = 4242;
    aec_cdf_set set;
    if (random_set(&set, 4, 300) != 0) {
        CHECK(0, "random set");
        return;
    }
    enum { N = 500 };
    int32_t values[N];
    uint32_t which[N];
    aec_rc_encoder enc;
    aec_rc_encoder_init(&enc);
    for (int i = 0; i < N; i++) {
        which[i] = rng_below(set.n_tables);
        values[i] = random_value(&set.tables[which[i]]);
        aec_rc_encode(&enc, &set.tables[which[i]], values[i]);
    }
    uint8_t *stream;
    size_t len;
    CHECK(aec_rc_encoder_finish(&enc, &stream, &len) == AEC_RC_OK && len > 20, "encode");

    /* Every truncation. For a stream this long, any cut of more than
     * AEC_RC_MAX_PAD bytes leaves the decoder needing more padding than
     * allowed (in general this is likely, not guaranteed: after the first
     * padding byte its path diverges); a shorter cut may decode to wrong
     * values silently. The container's lengths and CRC are the real check. */
    int undetected_far = 0;
    for (size_t cut = 0; cut < len; cut++) {
        aec_rc_decoder dec;
        aec_rc_decoder_init(&dec, stream, cut);
        int32_t v;
        for (int i = 0; i < N; i++) aec_rc_decode(&dec, &set.tables[which[i]], &v);
        if (cut + AEC_RC_MAX_PAD + 1 <= len && aec_rc_decoder_finish(&dec) == AEC_RC_OK)
            undetected_far++;
    }
    CHECK(undetected_far == 0, "%d truncations by more than %d bytes decoded without error",
          undetected_far, AEC_RC_MAX_PAD);

    /* bytes appended beyond what the decoder can read are reported */
    uint8_t *longer = malloc(len + 8);
    if (!longer) abort();
    memcpy(longer, stream, len);
    memset(longer + len, 0x5A, 8);
    aec_rc_decoder dec;
    aec_rc_decoder_init(&dec, longer, len + AEC_RC_MAX_PAD + 1);
    int32_t v;
    for (int i = 0; i < N; i++) aec_rc_decode(&dec, &set.tables[which[i]], &v);
    CHECK(aec_rc_decoder_finish(&dec) != AEC_RC_OK, "trailing bytes reported");
    free(longer);

    /* random garbage: count outcomes; every decode must return */
    const int trials = sanitized() ? 300 : 3000;
    int errors = 0;
    uint8_t garbage[64];
    for (int trial = 0; trial < trials; trial++) {
        size_t glen = rng_below(sizeof garbage + 1);
        for (size_t i = 0; i < glen; i++) garbage[i] = (uint8_t)rng_u64();
        aec_rc_decoder_init(&dec, garbage, glen);
        for (int i = 0; i < N; i++)
            if (aec_rc_decode(&dec, &set.tables[which[i]], &v) != AEC_RC_OK) break;
        if (aec_rc_decoder_finish(&dec) != AEC_RC_OK) errors++;
    }
    /* 500 symbols need far more than 64 bytes, so truncation is always seen */
    CHECK(errors == trials, "%d of %d garbage streams reported", errors, trials);
    /* single flipped bytes: decoding finishes, usually to different values */
    int changed = 0;
    for (size_t at = 0; at < len; at++) {
        stream[at] ^= 0x10;
        aec_rc_decoder_init(&dec, stream, len);
        int differs = 0;
        for (int i = 0; i < N; i++) {
            if (aec_rc_decode(&dec, &set.tables[which[i]], &v) != AEC_RC_OK) break;
            if (v != values[i]) differs = 1;
        }
        if (differs || aec_rc_decoder_finish(&dec) != AEC_RC_OK) changed++;
        stream[at] ^= 0x10;
    }
    CHECK(changed >= (int)len - AEC_RC_MAX_PAD, "%d of %zu flips noticed in the values", changed,
          len);
    free(stream);
    aec_cdf_set_free(&set);
}

int main(void)
{
    test_varint();
    test_cdf_from_pmf();
    test_gaussian_set();
    test_set_validation();
    test_round_trips();
    test_extremes();
    test_shannon();
    test_damaged_streams();
    return check_report("test_entropy");
}
