/* tests/test_hyper_int.c - the integer hyper-synthesis against the float
 * h_s, its byte form, hostile blobs, the hinv interpolation, and a golden
 * checksum that catches any platform or compiler difference. */
#include <omp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "codec/hyper_int.h"
#include "tests/check.h"
#include "tools/train/model_train.h"

/* golden CRC-32s of seed 1's small model (see test_golden) */
#define GOLDEN_BLOB 0x2144df1cu
#define GOLDEN_OUT 0xf2735a36u

static int sanitized(void)
{
    const char *s = getenv("AEC_TEST_SANITIZED");
    return s && *s && strcmp(s, "0") != 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process: on a loaded machine, closer to the cost */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t crc_bytes(const void *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

/* A model with random weights and biases and distinct hinv gains per level. */
static int make_model(aec_model *m, int n, int mm, int levels, uint64_t seed)
{
    aec_arch a;
    aec_arch_default(&a);
    a.n = n; a.m = mm; a.levels = levels;
    if (aec_model_create(m, &a)) return -1;
    aec_model_init(m, seed);
    nn_rng r;
    nn_rng_seed(&r, seed + 7);
    const size_t bias[3] = {m->hs_up[0].b, m->hs_up[1].b, m->hs_out.b};
    const int count[3] = {mm, mm * 3 / 2, 2 * mm};
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < count[i]; c++)
            m->p.value[bias[i] + c] = 0.2f * (nn_rng_uniform(&r) - 0.5f);
    for (int l = 0; l < levels; l++)
        for (int c = 0; c < n; c++)
            m->p.value[m->hinv_gain + (size_t)l * n + c] = 0.5f + 0.4f * l + 0.3f * nn_rng_uniform(&r);
    return 0;
}

static void random_z(nn_rng *r, int32_t *zi, nn_tensor *zf, int count, int range)
{
    for (int i = 0; i < count; i++) {
        int v = (int)nn_rng_below(r, (uint32_t)(2 * range + 1)) - range;
        zi[i] = v;
        if (zf) zf->data[i] = (float)v;
    }
}

/* float h_s of z * hinv through the model's own layers: out [2M][4h][4w] */
static int float_hs(const aec_model *m, const nn_tensor *z, const float *hinv, nn_tensor *out)
{
    nn_tensor a = {0}, b = {0};
    nn_workspace ws = {0};
    int rc = -1;
    if (nn_tensor_resize(&a, 1, z->c, z->h, z->w)) goto done;
    size_t plane = (size_t)z->h * z->w;
    for (size_t i = 0; i < nn_tensor_numel(z); i++) a.data[i] = z->data[i] * hinv[i / plane];
    for (int i = 0; i < 2; i++) {
        if (nn_deconv2d_forward(&m->hs_up[i], &m->p, &a, &b, &ws)) goto done;
        for (size_t k = 0; k < nn_tensor_numel(&b); k++)
            if (b.data[k] < 0) b.data[k] *= 0.01f;
        nn_tensor t = a; a = b; b = t;
    }
    rc = nn_conv2d_forward(&m->hs_out, &m->p, &a, out, &ws);
done:
    nn_tensor_free(&a);
    nn_tensor_free(&b);
    nn_workspace_free(&ws);
    return rc;
}

typedef struct {
    int32_t *scale, *mu;
    void *scratch;
    size_t scratch_bytes;
} run_buf;

static int run_alloc(run_buf *b, const aec_hs_int *q, int h, int w)
{
    size_t out = (size_t)q->m * 16 * h * w;
    b->scale = malloc(out * 4);
    b->mu = malloc(out * 4);
    b->scratch_bytes = aec_hs_int_scratch_bytes(q, h, w);
    b->scratch = malloc(b->scratch_bytes);
    return b->scale && b->mu && b->scratch ? 0 : -1;
}

static void run_free(run_buf *b)
{
    free(b->scale); free(b->mu); free(b->scratch);
}

static uint32_t run_crc(const run_buf *b, const aec_hs_int *q, int h, int w)
{
    size_t out = (size_t)q->m * 16 * h * w * 4;
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)b->scale, (uInt)out);
    c = crc32(c, (const Bytef *)b->mu, (uInt)out);
    return (uint32_t)c;
}

/* (a) integer vs float, plus thread invariance. The tolerance,
 * 0.1 + 2% of the value, allows for the 8-bit weights (a step of max|w|/127
 * per output channel) on these random, untrained layers; what the
 * quantisation costs a trained model in rate is bench_hyper_int's measure. */
static void test_accuracy(const char *what, int n, int mm, int h, int w, int calib_count)
{
    aec_model m;
    if (make_model(&m, n, mm, 3, 11)) { CHECK(0, "model"); return; }
    nn_rng r;
    nn_rng_seed(&r, 5);
    nn_tensor zf = {0}, ref = {0};
    int32_t *zi = malloc((size_t)n * h * w * 4);
    float *hinv = malloc((size_t)n * sizeof *hinv);
    int32_t *hinv_q = malloc((size_t)n * 4);
    if (!zi || !hinv || !hinv_q || nn_tensor_alloc(&zf, 1, n, h, w)) { CHECK(0, "alloc"); goto out0; }
    aec_hs_calib cal;
    aec_hs_calib_init(&cal);
    for (int i = 0; i < calib_count; i++) {
        random_z(&r, zi, &zf, n * h * w, 6);
        int l = i % 3;
        CHECK(aec_hs_int_calibrate(&cal, &m, &zf, m.p.value + m.hinv_gain + (size_t)l * n) == 0, "calibrate");
    }
    aec_hs_int q;
    char err[200] = "";
    int rc = aec_hs_int_build(&q, &m, &cal, err, sizeof err);
    CHECK(rc == 0, "%s: build: %s", what, err);
    if (rc) goto out0;
    run_buf b = {0};
    if (run_alloc(&b, &q, h, w)) { CHECK(0, "alloc"); goto out1; }
    const int32_t tq[3] = {0, 3 << 15, 2 << 16};   /* levels 0, 1.5, 2 */
    double worst = 0, worst_mu = 0, worst_scale = 0;
    size_t plane = (size_t)16 * h * w, bad = 0;
    for (int ti = 0; ti < 3; ti++) {
        random_z(&r, zi, &zf, n * h * w, 6);
        aec_hs_int_hinv(&q, tq[ti], hinv_q);
        for (int c = 0; c < n; c++) hinv[c] = (float)ldexp(hinv_q[c], -AEC_HS_HINV_FRAC);
        if (float_hs(&m, &zf, hinv, &ref)) { CHECK(0, "float h_s"); break; }
        CHECK(aec_hs_int_run(&q, zi, h, w, hinv_q, b.scale, b.mu, b.scratch, b.scratch_bytes) == 0, "run");
        for (size_t i = 0; i < (size_t)mm * plane; i++) {
            double fs = ref.data[i], fm = ref.data[(size_t)mm * plane + i];
            double es = fabs(ldexp(b.scale[i], -AEC_HS_OUT_FRAC) - fs);
            double em = fabs(ldexp(b.mu[i], -AEC_HS_OUT_FRAC) - fm);
            if (es > 0.1 + 0.02 * fabs(fs) || em > 0.1 + 0.02 * fabs(fm)) bad++;
            double rs = es / (0.1 + 0.02 * fabs(fs)), rm = em / (0.1 + 0.02 * fabs(fm));
            if (rs > worst) worst = rs;
            if (rm > worst) worst = rm;
            if (em > worst_mu) worst_mu = em;
            if (es > worst_scale) worst_scale = es;
        }
        /* bit-identical whatever the thread count (and the kernel:
         * tests/test_cpu_paths.c) */
        if (ti > 0) continue;
        uint32_t c0 = run_crc(&b, &q, h, w);
        int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        CHECK(aec_hs_int_run(&q, zi, h, w, hinv_q, b.scale, b.mu, b.scratch, b.scratch_bytes) == 0, "run");
        CHECK(run_crc(&b, &q, h, w) == c0, "%s: one thread differs", what);
        omp_set_num_threads(3);
        CHECK(aec_hs_int_run(&q, zi, h, w, hinv_q, b.scale, b.mu, b.scratch, b.scratch_bytes) == 0, "run");
        CHECK(run_crc(&b, &q, h, w) == c0, "%s: three threads differ", what);
        omp_set_num_threads(threads);
    }
    CHECK(bad == 0, "%s: %zu outputs beyond 0.1 + 2%%", what, bad);
    printf("%s: max |err| mu %.5f scale %.5f (%.0f%% of the tolerance)\n", what, worst_mu,
           worst_scale, 100 * worst);
    CHECK(aec_hs_int_run(&q, zi, h, w, hinv_q, b.scale, b.mu, b.scratch, b.scratch_bytes - 1) == -1,
          "short scratch accepted");
    CHECK(aec_hs_int_run(&q, zi, 0, w, hinv_q, b.scale, b.mu, b.scratch, b.scratch_bytes) == -1,
          "zero height accepted");
    hinv_q[0] = AEC_HS_HINV_MAX + 1;
    CHECK(aec_hs_int_run(&q, zi, h, w, hinv_q, b.scale, b.mu, b.scratch, b.scratch_bytes) == -1,
          "hinv out of range accepted");
    /* extreme z: clamped, no overflow (UBSan watches) */
    for (int i = 0; i < n * h * w; i++) zi[i] = i % 2 ? INT32_MAX : INT32_MIN;
    aec_hs_int_hinv(&q, 0, hinv_q);
    CHECK(aec_hs_int_run(&q, zi, h, w, hinv_q, b.scale, b.mu, b.scratch, b.scratch_bytes) == 0, "extreme z");
    run_free(&b);
out1:
    aec_hs_int_free(&q);
out0:
    nn_tensor_free(&zf); nn_tensor_free(&ref);
    free(zi); free(hinv); free(hinv_q);
    aec_model_free(&m);
}

/* (b), (c): byte form round trip and hostile blobs */
static void test_serialize(void)
{
    aec_model m;
    if (make_model(&m, 8, 12, 3, 3)) { CHECK(0, "model"); return; }
    aec_hs_calib cal = {{4.0, 3.0, 2.0, 0}};
    aec_hs_int q, q2;
    char err[200] = "";
    if (aec_hs_int_build(&q, &m, &cal, err, sizeof err)) { CHECK(0, "build: %s", err); aec_model_free(&m); return; }
    uint8_t *blob = NULL, *blob2 = NULL;
    size_t len = 0, len2 = 0;
    CHECK(aec_hs_int_serialize(&q, &blob, &len) == 0, "serialize");
    int rc = aec_hs_int_deserialize(&q2, blob, len, err, sizeof err);
    CHECK(rc == 0, "deserialize: %s", err);
    if (rc == 0) {
        CHECK(aec_hs_int_serialize(&q2, &blob2, &len2) == 0 && len2 == len && memcmp(blob, blob2, len) == 0,
              "re-serialised bytes differ");
        free(blob2);
        const int h = 5, w = 7;
        run_buf b1 = {0}, b2 = {0};
        int32_t zi[8 * 5 * 7], hq[8];
        nn_rng r;
        nn_rng_seed(&r, 9);
        random_z(&r, zi, NULL, 8 * h * w, 5);
        aec_hs_int_hinv(&q, 40000, hq);
        if (!run_alloc(&b1, &q, h, w) && !run_alloc(&b2, &q2, h, w)) {
            CHECK(aec_hs_int_run(&q, zi, h, w, hq, b1.scale, b1.mu, b1.scratch, b1.scratch_bytes) == 0, "run");
            CHECK(aec_hs_int_run(&q2, zi, h, w, hq, b2.scale, b2.mu, b2.scratch, b2.scratch_bytes) == 0, "run");
            CHECK(run_crc(&b1, &q, h, w) == run_crc(&b2, &q2, h, w), "loaded model runs differently");
        }
        run_free(&b1); run_free(&b2);
        aec_hs_int_free(&q2);
    }
    /* every truncation */
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        if (aec_hs_int_deserialize(&q2, blob, cut, err, sizeof err) == 0) { accepted++; aec_hs_int_free(&q2); }
    }
    CHECK(accepted == 0, "%d truncated blobs accepted", accepted);
    aec_hs_int_deserialize(&q2, blob, len - 1, err, sizeof err);
    CHECK(strstr(err, "truncated") != NULL, "message: %s", err);
    /* extra byte, a flipped bit anywhere */
    uint8_t *big = malloc(len + 1);
    if (big) {
        memcpy(big, blob, len); big[len] = 0;
        CHECK(aec_hs_int_deserialize(&q2, big, len + 1, err, sizeof err) == -1, "longer blob accepted");
        free(big);
    }
    accepted = 0;
    for (size_t i = 0; i < len; i += 1 + i / 64) {
        blob[i] ^= (uint8_t)(1u << (i % 8));
        if (aec_hs_int_deserialize(&q2, blob, len, err, sizeof err) == 0) { accepted++; aec_hs_int_free(&q2); }
        blob[i] ^= (uint8_t)(1u << (i % 8));
    }
    CHECK(accepted == 0, "%d corrupted blobs accepted", accepted);
    /* hostile values under a valid CRC: the validation must catch them */
    struct { size_t off; int bytes; uint32_t v; const char *msg; } bad[] = {
        {8, 4, 0, "bad dimensions"},                    /* n = 0 */
        {12, 4, 13, "bad dimensions"},                  /* odd m */
        {12, 4, 0x40000000u, "bad dimensions"},
        {16, 4, 99, "bad dimensions"},                  /* levels */
        {20, 4, 8, "fixed-point"},
        {28, 4, (uint32_t)AEC_HS_HINV_MAX + 1, "inverse gain"},
        {28 + 3 * 8 * 4, 4, 70000, "input multiplier"}, /* in_mult */
        {28 + 3 * 8 * 4 + 4, 4, 63, "input multiplier"},  /* in_shift */
        {28 + 3 * 8 * 4 + 8, 4, 9, "unexpected shape"},   /* layer 0 cin */
        {28 + 3 * 8 * 4 + 8 + 16, 1, 0x80, "weight"},     /* layer 0 first weight: -128 */
    };
    size_t l0w = (size_t)8 * 12 * 25, shift0 = 28 + 3 * 8 * 4 + 8 + 16 + l0w + 12 * 8;
    size_t mult0 = 28 + 3 * 8 * 4 + 8 + 16 + l0w + 12 * 4;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] + 2; i++) {
        uint8_t *c = malloc(len);
        if (!c) break;
        memcpy(c, blob, len);
        size_t off; int bytes; uint32_t v; const char *msg;
        if (i < sizeof bad / sizeof bad[0]) {
            off = bad[i].off; bytes = bad[i].bytes; v = bad[i].v; msg = bad[i].msg;
        } else if (i == sizeof bad / sizeof bad[0]) {
            off = shift0; bytes = 1; v = 63; msg = "shift";
        } else {
            off = mult0; bytes = 4; v = 65536; msg = "multiplier";
        }
        for (int k = 0; k < bytes; k++) c[off + k] = (uint8_t)(v >> (8 * k));
        uint32_t crc = crc_bytes(c, len - 4);
        for (int k = 0; k < 4; k++) c[len - 4 + k] = (uint8_t)(crc >> (8 * k));
        err[0] = 0;
        rc = aec_hs_int_deserialize(&q2, c, len, err, sizeof err);
        CHECK(rc == -1 && strstr(err, msg), "hostile case %zu: rc %d, message '%s'", i, rc, err);
        if (rc == 0) aec_hs_int_free(&q2);
        free(c);
    }
    free(blob);
    aec_hs_int_free(&q);
    aec_model_free(&m);
}

/* (d) interpolation: endpoints exact, monotone between, clamped outside */
static void test_hinv(void)
{
    aec_model m;
    if (make_model(&m, 16, 4, 4, 2)) { CHECK(0, "model"); return; }
    /* a falling channel and a huge jump, to test both directions and range */
    m.p.value[m.hinv_gain + 0] = 3.0f;
    m.p.value[m.hinv_gain + 16] = 0.25f;
    m.p.value[m.hinv_gain + 16 + 1] = 200.0f;
    aec_hs_calib cal = {{4.0, 3.0, 2.0, 0}};
    aec_hs_int q;
    char err[200];
    if (aec_hs_int_build(&q, &m, &cal, err, sizeof err)) { CHECK(0, "build: %s", err); aec_model_free(&m); return; }
    int32_t h[16], prev[16];
    int ends = 1, mono = 1;
    for (int l = 0; l < 4; l++) {
        aec_hs_int_hinv(&q, l << 16, h);
        for (int c = 0; c < 16; c++) ends &= h[c] == q.hinv_q[l * 16 + c];
    }
    CHECK(ends, "endpoints differ from the stored levels");
    for (int l = 0; l < 3; l++) {
        aec_hs_int_hinv(&q, l << 16, prev);
        for (int32_t t = (l << 16) + 1; t <= (l + 1) << 16; t += 97) {
            aec_hs_int_hinv(&q, t, h);
            for (int c = 0; c < 16; c++) {
                int up = q.hinv_q[(l + 1) * 16 + c] >= q.hinv_q[l * 16 + c];
                mono &= up ? h[c] >= prev[c] : h[c] <= prev[c];
                prev[c] = h[c];
            }
        }
    }
    CHECK(mono, "interpolation not monotone");
    int32_t lo[16], hi[16];
    aec_hs_int_hinv(&q, -5, lo);
    aec_hs_int_hinv(&q, INT32_MIN, h);
    CHECK(memcmp(lo, h, sizeof h) == 0 && lo[0] == q.hinv_q[0], "clamp below");
    aec_hs_int_hinv(&q, INT32_MAX, hi);
    CHECK(memcmp(hi, q.hinv_q + 3 * 16, sizeof hi) == 0, "clamp above");
    aec_hs_int_hinv(&q, 1 << 15, h);   /* midway: (3 + 0.25)/2 */
    CHECK(h[0] == 106496, "midpoint %d", h[0]);
    aec_hs_int_free(&q);
    /* a gain beyond 256 cannot be stored */
    m.p.value[m.hinv_gain + 5] = 300.0f;
    CHECK(aec_hs_int_build(&q, &m, &cal, err, sizeof err) == -1, "gain 300 accepted");
    aec_model_free(&m);
}

/* (e) golden: build from fixed calibration (no float forward, so no BLAS
 * dependence) and run on integer inputs; any change in the arithmetic,
 * rounding or byte layout changes these CRCs. */
static void test_golden(void)
{
    aec_model m;
    if (make_model(&m, 8, 12, 3, 1)) { CHECK(0, "model"); return; }
    aec_hs_calib cal = {{5.0, 2.5, 1.5, 0}};
    aec_hs_int q;
    char err[200];
    if (aec_hs_int_build(&q, &m, &cal, err, sizeof err)) { CHECK(0, "build: %s", err); aec_model_free(&m); return; }
    uint8_t *blob = NULL;
    size_t len = 0;
    if (aec_hs_int_serialize(&q, &blob, &len) == 0) {
        uint32_t c = crc_bytes(blob, len);
        CHECK(c == GOLDEN_BLOB, "blob CRC %08x", (unsigned)c);
        free(blob);
    }
    const int h = 6, w = 9;
    int32_t zi[8 * 6 * 9], hq[8];
    nn_rng r;
    nn_rng_seed(&r, 1234);
    random_z(&r, zi, NULL, 8 * h * w, 7);
    aec_hs_int_hinv(&q, 77777, hq);
    run_buf b = {0};
    if (!run_alloc(&b, &q, h, w) &&
        aec_hs_int_run(&q, zi, h, w, hq, b.scale, b.mu, b.scratch, b.scratch_bytes) == 0) {
        uint32_t c = run_crc(&b, &q, h, w);
        CHECK(c == GOLDEN_OUT, "output CRC %08x", (unsigned)c);
    } else {
        CHECK(0, "run");
    }
    run_free(&b);
    aec_hs_int_free(&q);
    aec_model_free(&m);
}

/* speed at the default size for a 768x512 image (z 12 wide, 8 high) */
static void test_speed(void)
{
    aec_model m;
    aec_arch a;
    aec_arch_default(&a);
    if (make_model(&m, a.n, a.m, a.levels, 4)) { CHECK(0, "model"); return; }
    aec_hs_calib cal = {{5.0, 2.5, 1.5, 0}};
    aec_hs_int q;
    char err[200];
    if (aec_hs_int_build(&q, &m, &cal, err, sizeof err)) { CHECK(0, "build: %s", err); aec_model_free(&m); return; }
    const int h = 8, w = 12;
    int32_t *zi = malloc((size_t)a.n * h * w * 4), *hq = malloc((size_t)a.n * 4);
    run_buf b = {0};
    if (zi && hq && !run_alloc(&b, &q, h, w)) {
        nn_rng r;
        nn_rng_seed(&r, 3);
        random_z(&r, zi, NULL, a.n * h * w, 4);
        aec_hs_int_hinv(&q, 2 << 16, hq);
        double best = 1e9, best_cpu = 1e9;
        for (int i = 0; i < 3; i++) {
            double t0 = now(), c0 = cpu_now();
            CHECK(aec_hs_int_run(&q, zi, h, w, hq, b.scale, b.mu, b.scratch, b.scratch_bytes) == 0, "run");
            double t = now() - t0, c = cpu_now() - c0;
            if (c < best_cpu) best_cpu = c;
            if (t < best) best = t;
        }
        printf("aec_hs_int_run N=%d M=%d z %dx%d: %.1f ms wall, %.1f ms CPU (%d threads)\n", a.n,
               a.m, w, h, best * 1e3, best_cpu * 1e3, omp_get_max_threads());
        /* for scale: the float h_s through OpenBLAS on the same input */
        nn_tensor zf = {0}, out = {0};
        float *hinv = malloc((size_t)a.n * sizeof *hinv);
        if (hinv && !nn_tensor_alloc(&zf, 1, a.n, h, w)) {
            for (int i = 0; i < a.n * h * w; i++) zf.data[i] = (float)zi[i];
            for (int c = 0; c < a.n; c++) hinv[c] = (float)ldexp(hq[c], -AEC_HS_HINV_FRAC);
            double fbest = 1e9;
            for (int i = 0; i < 3; i++) {
                double t0 = now();
                CHECK(float_hs(&m, &zf, hinv, &out) == 0, "float h_s");
                if (now() - t0 < fbest) fbest = now() - t0;
            }
            printf("float h_s (OpenBLAS), same input: %.1f ms wall\n", fbest * 1e3);
        }
        free(hinv);
        nn_tensor_free(&zf); nn_tensor_free(&out);
    }
    run_free(&b);
    free(zi); free(hq);
    aec_hs_int_free(&q);
    aec_model_free(&m);
}

/* Regression: an untrained model whose hyper-latents are all zero gives
 * calibration maxima of 0; the build must not fail on them ("input scale
 * not representable"), nor with it `aec export` of such a model. */
static void test_zero_calibration(void)
{
    aec_model m;
    aec_hs_int q;
    aec_hs_calib cal;
    char err[256];
    if (make_model(&m, 8, 12, 3, 11)) { CHECK(0, "model"); return; }
    aec_hs_calib_init(&cal);
    int rc = aec_hs_int_build(&q, &m, &cal, err, sizeof err);
    CHECK(rc == 0, "build with empty calibration: %s", rc ? err : "");
    if (rc == 0) aec_hs_int_free(&q);
    aec_model_free(&m);
}

int main(void)
{
    test_zero_calibration();
    test_hinv();
    test_serialize();
    test_golden();
    test_accuracy("small N=8 M=12", 8, 12, 5, 7, 4);
    /* hyper-latent rows wider than a 16-pixel tile and of odd width: tiles
     * that cross a row's end, with taps reaching left (the unrolling once
     * took such a tile for a row of its own) */
    test_accuracy("N=8 M=12, 4x21", 8, 12, 4, 21, 4);
    test_accuracy("N=8 M=12, 3x33", 8, 12, 3, 33, 4);
    if (sanitized())
        test_accuracy("default N=128 M=192", 128, 192, 3, 4, 2);
    else
        test_accuracy("default N=128 M=192", 128, 192, 6, 8, 2);
    if (!sanitized()) test_speed();
    return check_report("test_hyper_int");
}
