/* Checks of nn/gemm: each micro-kernel (chosen through nn_cpu_set_mask)
 * against a plain triple loop in double precision, over many shapes (1 to
 * 300, odd sizes, across the block sizes), every transpose combination,
 * several alpha and beta, strides wider than the matrices; plus the BLAS
 * corner cases (beta 0 ignores NaN in C, K 0 and alpha 0 only scale C),
 * that nothing outside C is written, and that the thread count does not
 * change a single bit; a prepacked A gives nn_sgemm's bits.
 * AEC_TEST_SANITIZED=1 runs a smaller set. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cpu.h"
#include "nn/gemm.h"
#include "tests/check.h"
#include "tests/gemm_cases.h"
#include "tools/train/model_train.h"

/* the switch's masks that give the portable kernel and the best one */
#define MASK_GENERIC (NN_CPU_ALL & ~(NN_CPU_AVX2 | NN_CPU_FMA))
#define MASK_BEST NN_CPU_ALL

static void run_case(const case_t *t, const char *kernel)
{
    mats x;
    if (mats_make(t, &x) != 0) {
        CHECK(0, "out of memory");
        mats_free(&x);
        return;
    }
    nn_sgemm(t->ta, t->tb, t->m, t->n, t->k, t->alpha, x.a, x.lda, x.b, x.ldb, t->beta, x.c, x.ldc);
    int bad_padding;
    const double err = max_rel_error(t, &x, &bad_padding);
    const double tol = 1e-5 * sqrt(t->k > 1 ? t->k : 1);
    CHECK(err <= tol && bad_padding == 0,
          "%s %c%c M %d N %d K %d alpha %g beta %g pad %d: error %.3g (tol %.3g), %d padding "
          "elements written",
          kernel, t->ta ? 'T' : 'N', t->tb ? 'T' : 'N', t->m, t->n, t->k, t->alpha, t->beta, t->pad,
          err, tol, bad_padding);
    mats_free(&x);
}

static const int dims_full[] = {1, 2, 3, 4, 5, 6, 7, 8, 13, 15, 16, 17, 31, 33, 48, 64, 75, 97,
                                127, 128, 129, 144, 145, 192, 200, 257, 300};
static const int dims_small[] = {1, 2, 3, 5, 6, 7, 8, 15, 16, 17, 33, 40};
static const float alphas[] = {1.0f, -0.5f, 2.0f, 1.0f};
static const float betas[] = {0.0f, 1.0f, 0.25f, -1.5f, 0.0f};

static void random_cases(const char *kernel, int count, const int *dims, int ndims)
{
    for (int i = 0; i < count; i++) {
        case_t t;
        t.ta = i & 1;
        t.tb = (i >> 1) & 1;
        t.m = dims[next_u32() % ndims];
        t.n = dims[next_u32() % ndims];
        t.k = dims[next_u32() % ndims];
        t.alpha = alphas[i % 4];
        t.beta = betas[i % 5];
        t.pad = (i % 3 == 0) ? 0 : 1 + (int)(next_u32() % 9);
        run_case(&t, kernel);
    }
}

/* Shapes that cross the block sizes (K 256, M 144, N 2048, task width 256)
 * and the decoder's own products, a few of each transpose. */
static void block_edge_cases(const char *kernel, int sanitized)
{
    const case_t full[] = {
        {0, 0, 7, 5, 600, 1.0f, 0.5f, 3},     /* three K blocks: beta only once */
        {1, 1, 5, 9, 513, -1.0f, 1.0f, 0},
        {1, 0, 301, 37, 19, 1.0f, 0.0f, 2},   /* three M blocks */
        {0, 1, 13, 2100, 11, 1.0f, 0.0f, 1},  /* two N panels, ragged */
        {1, 0, 75, 700, 128, 1.0f, 0.0f, 0},  /* deconv 128->3 (M 3*25) */
        {1, 0, 300, 300, 192, 1.0f, 0.0f, 0}, /* deconv 192->128, cut down */
        {0, 0, 128, 520, 128, 1.0f, 0.0f, 0}, /* GDN */
        {0, 1, 128, 130, 257, 1.0f, 1.0f, 4}, /* conv backward dW += */
    };
    const case_t small[] = {
        {0, 0, 3, 5, 300, 1.0f, 0.5f, 3},
        {1, 0, 150, 9, 7, 1.0f, 0.0f, 2},
        {0, 1, 5, 2060, 3, 1.0f, 0.0f, 1},
    };
    const case_t *list = sanitized ? small : full;
    const int n = sanitized ? (int)(sizeof small / sizeof small[0]) : (int)(sizeof full / sizeof full[0]);
    for (int i = 0; i < n; i++) run_case(&list[i], kernel);
}

/* BLAS semantics at the edges: beta 0 must not read C (NaN there vanishes),
 * K 0 and alpha 0 leave beta C, M or N 0 touch nothing. */
static void corner_cases(const char *kernel)
{
    float a[6 * 4], b[4 * 5], c[6 * 5];
    for (int i = 0; i < 24; i++) a[i] = next_sym();
    for (int i = 0; i < 20; i++) b[i] = next_sym();

    for (int i = 0; i < 30; i++) c[i] = NAN;
    nn_sgemm(0, 0, 6, 5, 4, 1.0f, a, 4, b, 5, 0.0f, c, 5);
    int finite = 1;
    for (int i = 0; i < 30; i++) finite &= isfinite(c[i]) != 0;
    CHECK(finite, "%s: beta 0 reads C (NaN survived)", kernel);

    for (int i = 0; i < 30; i++) c[i] = (float)i;
    nn_sgemm(0, 0, 6, 5, 0, 1.0f, a, 4, b, 5, 2.0f, c, 5);
    int scaled = 1;
    for (int i = 0; i < 30; i++) scaled &= c[i] == 2.0f * i;
    CHECK(scaled, "%s: K 0 must give C = beta C", kernel);

    for (int i = 0; i < 30; i++) c[i] = NAN;
    nn_sgemm(1, 1, 6, 5, 4, 0.0f, a, 6, b, 4, 0.0f, c, 5);
    int zero = 1;
    for (int i = 0; i < 30; i++) zero &= c[i] == 0.0f;
    CHECK(zero, "%s: alpha 0 and beta 0 must give zeros", kernel);

    for (int i = 0; i < 30; i++) c[i] = 7.0f;
    nn_sgemm(0, 0, 0, 5, 4, 1.0f, a, 4, b, 5, 0.0f, c, 5);
    nn_sgemm(0, 0, 6, 0, 4, 1.0f, a, 4, b, 5, 0.0f, c, 5);
    int untouched = 1;
    for (int i = 0; i < 30; i++) untouched &= c[i] == 7.0f;
    CHECK(untouched, "%s: M or N 0 must not touch C", kernel);
}

/* Every element is summed by one kernel call in k order, so 1 and 2 threads
 * give identical bits (on a product big enough to run threaded). */
static void thread_independence(const char *kernel, int sanitized)
{
    case_t t = {1, 0, sanitized ? 60 : 200, sanitized ? 300 : 700, 128, 1.0f, 0.0f, 0};
    mats x;
    if (mats_make(&t, &x) != 0) {
        CHECK(0, "out of memory");
        mats_free(&x);
        return;
    }
    float *one = malloc(x.c_len * sizeof(float));
    if (!one) { CHECK(0, "out of memory"); mats_free(&x); return; }
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    nn_sgemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, x.a, x.lda, x.b, x.ldb, t.beta, one, x.ldc);
    omp_set_num_threads(2);
    nn_sgemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, x.a, x.lda, x.b, x.ldb, t.beta, x.c, x.ldc);
    CHECK(memcmp(one, x.c, x.c_len * sizeof(float)) == 0, "%s: 1 and 2 threads differ", kernel);
    /* called from a parallel region with nesting allowed: each call runs on
     * its own thread, the same bits */
    float *nested = malloc(2 * x.c_len * sizeof(float));
    if (!nested) { CHECK(0, "out of memory"); free(one); mats_free(&x); return; }
    const int saved_levels = omp_get_max_active_levels();
    omp_set_max_active_levels(2);
#pragma omp parallel num_threads(2)
    {
        float *c = nested + (size_t)omp_get_thread_num() * x.c_len;
        nn_sgemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, x.a, x.lda, x.b, x.ldb, t.beta, c, x.ldc);
    }
    omp_set_max_active_levels(saved_levels);
    omp_set_num_threads(saved);
    CHECK(memcmp(one, nested, x.c_len * sizeof(float)) == 0 &&
              memcmp(one, nested + x.c_len, x.c_len * sizeof(float)) == 0,
          "%s: a call inside a (nested) parallel region differs", kernel);
    free(nested);
    free(one);
    mats_free(&x);
}

/* A packed once (nn_sgemm_pack_a) and multiplied by nn_sgemm_packed: the
 * same bits as nn_sgemm, over shapes across the K, M and N blocks, both
 * transposes, two products from one pack; and a pack keeps its kernel when
 * the active one changes afterwards. */
static void packed_a_cases(const char *kernel, unsigned mask, int sanitized)
{
    static const int dims[][3] = {{1, 1, 1},    {6, 16, 5},   {7, 17, 300}, {145, 40, 128},
                                  {512, 75, 128}, {300, 3, 513}, {13, 200, 192}};
    const int count = sanitized ? 4 : (int)(sizeof dims / sizeof dims[0]);
    for (int i = 0; i < count; i++)
        for (int tr = 0; tr < 4; tr++) {
            case_t t = {tr & 1, tr >> 1, dims[i][0], dims[i][1], dims[i][2], 0.75f, tr == 3 ? 0.5f : 0.0f, 3};
            mats x;
            float *want = NULL;
            nn_sgemm_apack pa;
            if (mats_make(&t, &x) != 0 || !(want = malloc(x.c_len * sizeof(float))) ||
                nn_sgemm_pack_a(&pa, t.ta, t.m, t.k, x.a, x.lda) != 0) {
                CHECK(0, "out of memory");
                free(want);
                mats_free(&x);
                return;
            }
            memcpy(want, x.c0, x.c_len * sizeof(float));
            nn_sgemm(t.ta, t.tb, t.m, t.n, t.k, t.alpha, x.a, x.lda, x.b, x.ldb, t.beta, want, x.ldc);
            int same = 1;
            for (int rep = 0; rep < 2; rep++) {
                memcpy(x.c, x.c0, x.c_len * sizeof(float));
                /* the other kernel active: the pack must still use its own */
                nn_cpu_set_mask(rep ? MASK_GENERIC : mask);
                same &= nn_sgemm_packed(&pa, t.tb, t.n, t.alpha, x.b, x.ldb, t.beta, x.c, x.ldc) == 0;
                nn_cpu_set_mask(mask);
                same &= memcmp(want, x.c, x.c_len * sizeof(float)) == 0;
            }
            CHECK(same, "%s packed A %c%c M %d N %d K %d: not nn_sgemm's bits", kernel,
                  t.ta ? 'T' : 'N', t.tb ? 'T' : 'N', t.m, t.n, t.k);
            nn_sgemm_apack_free(&pa);
            free(want);
            mats_free(&x);
        }
    /* repacking: new values of the same shape go into the pack's own
     * memory, a new shape gets memory of its own; the products as fresh
     * packs give them */
    {
        case_t t1 = {0, 0, 13, 20, 70, 1.0f, 0.0f, 5}, t2 = {1, 0, 40, 20, 70, 1.0f, 0.0f, 6},
               t3 = {0, 0, 13, 20, 70, 1.0f, 0.0f, 7};
        mats a, b, c;
        nn_sgemm_apack pr, fresh;
        if (mats_make(&t1, &a) == 0 && mats_make(&t2, &b) == 0 && mats_make(&t3, &c) == 0 &&
            nn_sgemm_pack_a(&pr, 0, t1.m, t1.k, a.a, a.lda) == 0) {
            const float *mem = pr.data;
            int ok = nn_sgemm_repack_a(&pr, 0, t3.m, t3.k, c.a, c.lda) == 0 && pr.data == mem &&
                     nn_sgemm_pack_a(&fresh, 0, t3.m, t3.k, c.a, c.lda) == 0;
            float *want = malloc(c.c_len * sizeof(float));
            if (ok && want) {
                memset(want, 0, c.c_len * sizeof(float));
                memset(c.c, 0, c.c_len * sizeof(float));
                ok = nn_sgemm_packed(&fresh, 0, t3.n, 1.0f, c.b, c.ldb, 0.0f, want, c.ldc) == 0 &&
                     nn_sgemm_packed(&pr, 0, t3.n, 1.0f, c.b, c.ldb, 0.0f, c.c, c.ldc) == 0 &&
                     memcmp(want, c.c, c.c_len * sizeof(float)) == 0;
            }
            CHECK(ok, "%s: a repack of the same shape in place gives a fresh pack's products", kernel);
            nn_sgemm_apack_free(&fresh);
            ok = nn_sgemm_repack_a(&pr, 1, t2.m, t2.k, b.a, b.lda) == 0 && pr.m == t2.m &&
                 nn_sgemm_pack_a(&fresh, 1, t2.m, t2.k, b.a, b.lda) == 0;
            float *want2 = ok ? malloc(b.c_len * sizeof(float)) : NULL;
            if (want2) {
                memset(want2, 0, b.c_len * sizeof(float));
                memset(b.c, 0, b.c_len * sizeof(float));
                ok = nn_sgemm_packed(&fresh, 0, t2.n, 1.0f, b.b, b.ldb, 0.0f, want2, b.ldc) == 0 &&
                     nn_sgemm_packed(&pr, 0, t2.n, 1.0f, b.b, b.ldb, 0.0f, b.c, b.ldc) == 0 &&
                     memcmp(want2, b.c, b.c_len * sizeof(float)) == 0;
            }
            CHECK(ok && want2, "%s: a repack of another shape gives a fresh pack's products", kernel);
            free(want);
            free(want2);
            nn_sgemm_apack_free(&fresh);
            nn_sgemm_apack_free(&pr);
            mats_free(&a);
            mats_free(&b);
            mats_free(&c);
        } else {
            CHECK(0, "out of memory");
        }
    }
    nn_sgemm_apack pa;
    float one = 1.0f;
    CHECK(nn_sgemm_pack_a(&pa, 0, 0, 1, &one, 1) == -1 && pa.data == NULL, "an empty A is refused");
    float c = 5.0f;
    CHECK(nn_sgemm_packed(&pa, 0, 1, 1.0f, &one, 1, 0.0f, &c, 1) == -1 && c == 5.0f,
          "a product with no pack is refused, C untouched");
}

/* B packed by the caller at nn_sgemm_b_at (the Winograd passes' input
 * transform does): nn_sgemm_packed_b gives nn_sgemm_packed's bits (alpha 1,
 * beta 0) over shapes across the K blocks (K > 256: two), ragged and wide
 * N (two N panels); a layout of another pack is refused. */
static void packed_b_cases(const char *kernel)
{
    static const int dims[][3] = {{1, 1, 1},      {6, 16, 5},     {7, 17, 300}, {512, 90, 128},
                                  {13, 2100, 192}, {128, 75, 512}, {7, 2100, 301}, {5, 33, 257}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        case_t t = {0, 0, dims[i][0], dims[i][1], dims[i][2], 1.0f, 0.0f, 1};
        mats x;
        float *want = NULL, *packed = NULL;
        nn_sgemm_apack pa;
        if (mats_make(&t, &x) != 0 || !(want = malloc(x.c_len * sizeof(float))) ||
            nn_sgemm_pack_a(&pa, 0, t.m, t.k, x.a, x.lda) != 0) {
            CHECK(0, "out of memory");
            free(want);
            mats_free(&x);
            return;
        }
        const nn_sgemm_blayout lay = nn_sgemm_b_layout(&pa, t.n);
        const size_t floats = nn_sgemm_b_floats(&lay);
        packed = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        if (packed) memset(packed, 0, floats * sizeof(float)); /* the spare columns zero */
        int placed = packed != NULL;
        for (int k = 0; placed && k < t.k; k++)
            for (int j = 0; j < t.n; j++) {
                const size_t at = nn_sgemm_b_at(&lay, k, j);
                placed &= at < floats;
                if (at < floats) packed[at] = x.b[(size_t)k * x.ldb + j];
            }
        CHECK(placed, "%s packed B N %d K %d: every element inside the layout", kernel, t.n, t.k);
        memcpy(want, x.c0, x.c_len * sizeof(float));
        memcpy(x.c, x.c0, x.c_len * sizeof(float));
        int ok = nn_sgemm_packed(&pa, 0, t.n, 1.0f, x.b, x.ldb, 0.0f, want, x.ldc) == 0 &&
                 placed && nn_sgemm_packed_b(&pa, &lay, packed, x.c, x.ldc) == 0;
        CHECK(ok && memcmp(want, x.c, x.c_len * sizeof(float)) == 0,
              "%s packed B M %d N %d K %d: nn_sgemm_packed's bits", kernel, t.m, t.n, t.k);
        nn_sgemm_blayout other = lay;
        other.k++;
        CHECK(nn_sgemm_packed_b(&pa, &other, packed, x.c, x.ldc) == -1, "%s: a layout for another K is refused",
              kernel);
        CHECK(!packed || nn_sgemm_packed_b(&pa, &lay, packed + 1, x.c, x.ldc) == -1,
              "%s: an unaligned packed B is refused", kernel);
        free(packed);
        nn_sgemm_apack_free(&pa);
        free(want);
        mats_free(&x);
    }
}

/* K grown by rows whose A columns are 0 (a layer widened with input
 * channels whose weights are 0: aec_model_widen) gives C's bits as before,
 * by nn_sgemm and by a packed A, also when the longer K takes more K
 * blocks than the shorter (K 192 -> 320, as the butterfly model's latent
 * widened; 1728 -> 2880, its hyper-analysis's im2col). */
static void zero_k_tail_cases(const char *kernel)
{
    static const int dims[][4] = {{128, 300, 192, 320}, {7, 50, 300, 600}, {16, 40, 1728, 2880},
                                  {5, 17, 12, 20}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        const int M = dims[i][0], N = dims[i][1], K = dims[i][2], K2 = dims[i][3];
        float *a = calloc((size_t)M * K2, sizeof(float)), *b = malloc((size_t)K2 * N * sizeof(float));
        float *c = malloc((size_t)M * N * sizeof(float)), *c2 = malloc((size_t)M * N * sizeof(float));
        float *c3 = malloc((size_t)M * N * sizeof(float));
        if (!a || !b || !c || !c2 || !c3) {
            CHECK(0, "out of memory");
            free(a); free(b); free(c); free(c2); free(c3);
            return;
        }
        /* A: M x K2 with its columns from K on 0; B: K2 x N, all random */
        for (int r = 0; r < M; r++)
            for (int p = 0; p < K; p++) a[(size_t)r * K2 + p] = next_sym();
        for (size_t p = 0; p < (size_t)K2 * N; p++) b[p] = next_sym();
        nn_sgemm(0, 0, M, N, K, 1.0f, a, K2, b, N, 0.0f, c, N);
        nn_sgemm(0, 0, M, N, K2, 1.0f, a, K2, b, N, 0.0f, c2, N);
        nn_sgemm_apack pa;
        int packed = nn_sgemm_pack_a(&pa, 0, M, K2, a, K2) == 0;
        packed = packed && nn_sgemm_packed(&pa, 0, N, 1.0f, b, N, 0.0f, c3, N) == 0;
        if (packed) nn_sgemm_apack_free(&pa);
        CHECK(!memcmp(c, c2, (size_t)M * N * sizeof(float)),
              "%s M %d N %d: K %d and K %d with zero rows: the same bits", kernel, M, N, K, K2);
        CHECK(packed && !memcmp(c, c3, (size_t)M * N * sizeof(float)),
              "%s M %d N %d: K %d with zero rows, packed A: K %d's bits", kernel, M, N, K2, K);
        free(a); free(b); free(c); free(c2); free(c3);
    }
}

int main(void)
{
    const char *san = getenv("AEC_TEST_SANITIZED");
    const int sanitized = san && san[0] == '1';
    const struct {
        unsigned mask, needs;
        const char *name;
    } kernels[] = {{MASK_GENERIC, 0, "generic"}, {MASK_BEST, NN_CPU_AVX2 | NN_CPU_FMA, "avx2"}};

    nn_cpu_set_mask(NN_CPU_ALL);
    printf("test_gemm: automatic kernel %s\n", nn_gemm_kernel_name());
    for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++) {
        nn_cpu_set_mask(kernels[k].mask);
        if (!nn_cpu_has(kernels[k].needs)) {
            printf("test_gemm: this CPU cannot run the %s kernel; not tested\n", kernels[k].name);
            continue;
        }
        if (sanitized)
            random_cases(kernels[k].name, 300, dims_small, (int)(sizeof dims_small / sizeof dims_small[0]));
        else
            random_cases(kernels[k].name, 150, dims_full, (int)(sizeof dims_full / sizeof dims_full[0]));
        block_edge_cases(kernels[k].name, sanitized);
        corner_cases(kernels[k].name);
        thread_independence(kernels[k].name, sanitized);
        packed_a_cases(kernels[k].name, kernels[k].mask, sanitized);
        packed_b_cases(kernels[k].name);
        zero_k_tail_cases(kernels[k].name);
    }
    nn_cpu_set_mask(NN_CPU_ALL);
    return check_report("test_gemm");
}
