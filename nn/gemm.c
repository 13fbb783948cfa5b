/* nn/gemm.c - a cache-blocked sgemm with packed operands (see gemm.h).
 *
 * The layout follows the GotoBLAS/BLIS scheme. C is cut into MR x NR tiles
 * that a micro-kernel keeps in registers while it runs over K:
 *
 *     for each K block of KC                  (packed A: all M rows x KC)
 *       for each N panel of NC columns        (packed B: KC x NC, in L3)
 *         for each task = (MC rows, NT columns of the panel)     [threads]
 *           for each NR sliver of B           (KC x NR, stays in L1)
 *             for each MR sliver of A         (MC x KC block, stays in L2)
 *               micro-kernel: C[MR x NR] = alpha A_sliver B_sliver + beta C
 *
 * Packing copies each operand once per use into the exact order the kernel
 * reads it (A: for each k the MR values of one column; B: for each k the NR
 * values of one row), zero padded to whole slivers, so the kernel has no
 * strides, transposes or edge cases; partial tiles of C go through a small
 * buffer. All of A's K block is packed at once: the decoder's layers have
 * K <= 192, so A is packed once per call and shared by every N panel.
 *
 * Every C element is one kernel's sum over k in increasing order, whatever
 * the thread that computed it, so the result does not depend on the thread
 * count. */
#include "nn/gemm.h"

#include "nn/cpu.h"
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GEMM_HAVE_X86 1
#else
#define GEMM_HAVE_X86 0
#endif

/* Block sizes. KC x NR floats of B (16 KiB at NR 16) must stay in a 32 KiB
 * L1 while the kernel runs down the A block; MC x KC of A (144 KiB) in L2;
 * KC x NC of B (2 MiB) in L3. NT is the column width of one thread's task:
 * wide enough that its A block is reused over 16 slivers (narrower only
 * when there would be too few tasks for the threads). */
#define KC_MAX 256
#define MC_MAX 144
#define NC_MAX 2048
#define NT 256
/* a panel starts on a sliver of B (nn_sgemm_b_at's prepacked B is cut into
 * panels by offset) */
_Static_assert(NC_MAX % 16 == 0 && NC_MAX % 8 == 0, "NC_MAX: whole slivers of B");
/* below this many flops one thread is faster than waking the others */
#define PARALLEL_MIN_FLOPS 4e6

#define MR_MAX 6
#define NR_MAX 16

/* c[i*ldc + j] = alpha * sum_p a[p*MR + i] b[p*NR + j] + beta c[i*ldc + j]
 * for the kernel's full MR x NR tile; beta == 0 writes c without reading
 * it. a and b are packed slivers; b is 32-byte aligned. */
typedef void (*micro_kernel_fn)(int kc, const float *a, const float *b, float *c, size_t ldc,
                                float alpha, float beta);

typedef struct {
    const char *name;
    int mr, nr;
    micro_kernel_fn run;
} kernel_desc;

/* ---- the portable kernel ------------------------------------------------ */

/* GCC/Clang vector extension: four floats, SSE2 registers on x86-64, NEON or
 * plain scalars elsewhere. 4 x 8 tile = 8 accumulator registers, plus two
 * rows of B and one broadcast value: fits the 16 registers of SSE2 with room
 * for the compiler. */
typedef float v4f __attribute__((vector_size(16)));

static v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v); /* unaligned load: C rows have any alignment */
    return v;
}

static void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

static void kernel_generic_4x8(int kc, const float *a, const float *b, float *c, size_t ldc,
                               float alpha, float beta)
{
    v4f c0l = {0}, c0h = {0}, c1l = {0}, c1h = {0}, c2l = {0}, c2h = {0}, c3l = {0}, c3h = {0};
    for (int p = 0; p < kc; p++, a += 4, b += 8) {
        const v4f bl = load4(b), bh = load4(b + 4);
        c0l += a[0] * bl; c0h += a[0] * bh;
        c1l += a[1] * bl; c1h += a[1] * bh;
        c2l += a[2] * bl; c2h += a[2] * bh;
        c3l += a[3] * bl; c3h += a[3] * bh;
    }
    v4f acc[4][2] = {{c0l, c0h}, {c1l, c1h}, {c2l, c2h}, {c3l, c3h}};
    for (int i = 0; i < 4; i++) {
        float *row = c + (size_t)i * ldc;
        for (int h = 0; h < 2; h++) {
            v4f v = alpha * acc[i][h];
            if (beta != 0.0f) v += beta * load4(row + 4 * h);
            store4(row + 4 * h, v);
        }
    }
}

/* ---- the AVX2 + FMA kernel ---------------------------------------------- */

#if GEMM_HAVE_X86
/* 6 x 16 tile: 12 ymm accumulators, two for the B row, one broadcast: 15 of
 * the 16 registers. Per k, 12 FMAs against 2 loads and 6 broadcasts, which
 * keeps both FMA ports of Haswell..Zen busy. */
#define AVX2_ROW(i)                                                   \
    do {                                                              \
        const __m256 ai = _mm256_broadcast_ss(a + (i));               \
        acc##i##l = _mm256_fmadd_ps(ai, bl, acc##i##l);               \
        acc##i##h = _mm256_fmadd_ps(ai, bh, acc##i##h);               \
    } while (0)

#define AVX2_STORE(i)                                                 \
    do {                                                              \
        float *row = c + (size_t)(i) * ldc;                           \
        __m256 lo = _mm256_mul_ps(va, acc##i##l);                     \
        __m256 hi = _mm256_mul_ps(va, acc##i##h);                     \
        if (beta != 0.0f) {                                           \
            lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), lo);       \
            hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), hi);   \
        }                                                             \
        _mm256_storeu_ps(row, lo);                                    \
        _mm256_storeu_ps(row + 8, hi);                                \
    } while (0)

__attribute__((target("avx2,fma"))) static void
kernel_avx2_6x16(int kc, const float *a, const float *b, float *c, size_t ldc, float alpha,
                 float beta)
{
    __m256 acc0l = _mm256_setzero_ps(), acc0h = _mm256_setzero_ps();
    __m256 acc1l = _mm256_setzero_ps(), acc1h = _mm256_setzero_ps();
    __m256 acc2l = _mm256_setzero_ps(), acc2h = _mm256_setzero_ps();
    __m256 acc3l = _mm256_setzero_ps(), acc3h = _mm256_setzero_ps();
    __m256 acc4l = _mm256_setzero_ps(), acc4h = _mm256_setzero_ps();
    __m256 acc5l = _mm256_setzero_ps(), acc5h = _mm256_setzero_ps();
    /* the C tile is written at the end: ask for its lines now so the
     * stores (and beta's loads) do not wait on memory */
    for (int i = 0; i < 6; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + 15), _MM_HINT_T0);
    }
    for (int p = 0; p < kc; p++, a += 6, b += 16) {
        const __m256 bl = _mm256_load_ps(b), bh = _mm256_load_ps(b + 8);
        AVX2_ROW(0); AVX2_ROW(1); AVX2_ROW(2);
        AVX2_ROW(3); AVX2_ROW(4); AVX2_ROW(5);
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    AVX2_STORE(0); AVX2_STORE(1); AVX2_STORE(2);
    AVX2_STORE(3); AVX2_STORE(4); AVX2_STORE(5);
}
#undef AVX2_ROW
#undef AVX2_STORE
#endif

/* ---- choosing the kernel ------------------------------------------------ */

static const kernel_desc generic_kernel = {"generic 4x8", 4, 8, kernel_generic_4x8};
#if GEMM_HAVE_X86
static const kernel_desc avx2_kernel = {"avx2+fma 6x16", 6, 16, kernel_avx2_6x16};
#endif

/* the AVX2 kernel where the switch (nn/cpu.h) allows AVX2 and FMA */
static const kernel_desc *active_kernel(void)
{
#if GEMM_HAVE_X86
    if (nn_cpu_has(NN_CPU_AVX2 | NN_CPU_FMA)) return &avx2_kernel;
#endif
    return &generic_kernel;
}

const char *nn_gemm_kernel_name(void) { return active_kernel()->name; }

/* ---- packing ------------------------------------------------------------ */

static int min_int(int a, int b) { return a < b ? a : b; }
static int ceil_div(int a, int b) { return (a + b - 1) / b; }

#if defined(__SSE2__)
/* pack_across's depths [0, kb - kb % 4) with SSE2; returns where it stopped */
static int pack_across_sse2(const float *x, size_t ld, int n, int kb, int w, float *d)
{
    int p = 0;
    for (; p + 4 <= kb; p += 4) {
        float *dp = d + (size_t)p * w;
        int u = 0;
        for (; u + 4 <= n; u += 4) {
            const float *r = x + (size_t)u * ld + p;
            __m128 r0 = _mm_loadu_ps(r), r1 = _mm_loadu_ps(r + ld), r2 = _mm_loadu_ps(r + 2 * ld),
                   r3 = _mm_loadu_ps(r + 3 * ld);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(dp + u, r0);
            _mm_storeu_ps(dp + w + u, r1);
            _mm_storeu_ps(dp + 2 * w + u, r2);
            _mm_storeu_ps(dp + 3 * w + u, r3);
        }
        for (; u < w; u++)
            for (int k = 0; k < 4; k++) dp[(size_t)k * w + u] = u < n ? x[(size_t)u * ld + p + k] : 0.0f;
    }
    return p;
}
#endif

/* One sliver from rows along p: d[p*w + u] = x[u*ld + p] for u < n (0 for
 * n <= u < w), p < kb; a transpose, 4x4 blocks at a time where SSE2 is
 * there (x86-64, and the switch allows it), so that the sliver is written
 * in order and each row read 16 bytes at a time: element by element it
 * would take a large share of a training step with workers, whose weight
 * gradients multiply by a transposed B. Both ways copy the same values. */
static void pack_across(const float *x, size_t ld, int n, int kb, int w, float *d)
{
    int p = 0;
#if defined(__SSE2__)
    if (nn_cpu_has(NN_CPU_SSE2)) p = pack_across_sse2(x, ld, n, kb, w, d);
#endif
    for (; p < kb; p++)
        for (int u = 0; u < w; u++) d[(size_t)p * w + u] = u < n ? x[(size_t)u * ld + p] : 0.0f;
}

/* Packs slivers [s_lo, s_hi) of one operand: with X(p, t) the operand's
 * element at depth p (along K) and index t (a row of op(A), a column of
 * op(B)),
 *     dst[(s*kb + p)*w + u] = X(p0 + p, t0 + s*w + u)   for t0 + s*w + u < t_end,
 * and 0 past t_end, so every sliver is whole. along_t says how X is stored:
 * X(p, t) = x[p*ld + t] (its rows run along t: transposed A, plain B) or
 * x[t*ld + p]. Rows along t are copied row by row across all the slivers,
 * so memory is read in long streams rather than w floats from each of kb
 * rows per sliver. */
static void pack_slivers(const float *x, size_t ld, int along_t, int t0, int t_end, int p0, int kb,
                         int w, int s_lo, int s_hi, float *dst)
{
    if (along_t) {
        for (int p = 0; p < kb; p++) {
            const float *src = x + (size_t)(p0 + p) * ld + t0;
            for (int s = s_lo; s < s_hi; s++) {
                const int n = min_int(w, t_end - t0 - s * w);
                float *d = dst + ((size_t)s * kb + p) * w;
                /* constant sizes for the whole slivers, so the copy is inlined */
                if (n == 16) memcpy(d, src + (size_t)s * w, 16 * sizeof(float));
                else if (n == 8) memcpy(d, src + (size_t)s * w, 8 * sizeof(float));
                else if (n == 6) memcpy(d, src + (size_t)s * w, 6 * sizeof(float));
                else if (n == 4) memcpy(d, src + (size_t)s * w, 4 * sizeof(float));
                else {
                    for (int u = 0; u < n; u++) d[u] = src[(size_t)s * w + u];
                    for (int u = n; u < w; u++) d[u] = 0.0f;
                }
            }
        }
    } else {
        for (int s = s_lo; s < s_hi; s++) {
            const int n = min_int(w, t_end - t0 - s * w);
            pack_across(x + (size_t)(t0 + s * w) * ld + p0, ld, n, kb, w, dst + (size_t)s * kb * w);
        }
    }
}

/* This thread's share of count slivers: a contiguous range, so that rows
 * along t are read in one stream per thread. */
static void thread_share(int count, int *lo, int *hi)
{
    const int nth = omp_get_num_threads(), tid = omp_get_thread_num();
    *lo = (int)((long long)count * tid / nth);
    *hi = (int)((long long)count * (tid + 1) / nth);
}

/* ---- the driver --------------------------------------------------------- */


/* C = beta C, for K == 0 or alpha == 0 (beta == 0 writes zeros, reads nothing) */
static void scale_c(int M, int N, float beta, float *C, size_t ldc)
{
    if (beta == 1.0f) return;
    for (int i = 0; i < M; i++) {
        float *row = C + (size_t)i * ldc;
        if (beta == 0.0f) memset(row, 0, (size_t)N * sizeof(float));
        else
            for (int j = 0; j < N; j++) row[j] *= beta;
    }
}

/* One thread's task: rows [i0, i0 + mb) of C against panel columns
 * [jb, jb + jcols); c points at C[i0][panel start + jb]. */
static void run_task(const kernel_desc *kd, int kb, const float *apack, const float *bpack, int i0,
                     int mb, int jb, int jcols, float *c, size_t ldc, float alpha, float beta)
{
    const int mr = kd->mr, nr = kd->nr;
    for (int js = 0; js < jcols; js += nr) {
        const int cols = min_int(nr, jcols - js);
        const float *bs = bpack + (size_t)((jb + js) / nr) * kb * nr;
        for (int is = 0; is < mb; is += mr) {
            const int rows = min_int(mr, mb - is);
            const float *as = apack + (size_t)((i0 + is) / mr) * kb * mr;
            float *cij = c + (size_t)is * ldc + js;
            if (rows == mr && cols == nr) {
                kd->run(kb, as, bs, cij, ldc, alpha, beta);
                continue;
            }
            /* an edge tile: the kernel writes a whole tile, so it goes to a
             * buffer and only the part inside C is merged */
            float tile[MR_MAX * NR_MAX] __attribute__((aligned(32)));
            kd->run(kb, as, bs, tile, (size_t)nr, alpha, 0.0f);
            for (int i = 0; i < rows; i++) {
                float *crow = cij + (size_t)i * ldc;
                const float *trow = tile + (size_t)i * nr;
                if (beta == 0.0f)
                    for (int j = 0; j < cols; j++) crow[j] = trow[j];
                else
                    for (int j = 0; j < cols; j++) crow[j] = trow[j] + beta * crow[j];
            }
        }
    }
}

/* The slow path when the packing buffers cannot be allocated: still right. */
static void sgemm_unpacked(int transA, int transB, int M, int N, int K, float alpha,
                           const float *A, size_t lda, const float *B, size_t ldb, float beta,
                           float *C, size_t ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float sum = 0.0f;
            for (int p = 0; p < K; p++) {
                float a = transA ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                float b = transB ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                sum += a * b;
            }
            float *cij = C + (size_t)i * ldc + j;
            *cij = alpha * sum + (beta == 0.0f ? 0.0f : beta * *cij);
        }
}

/* The K blocking both entry points use: blocks of KC_MAX from k = 0, the
 * last one shorter. Not equal blocks: with these, zero rows appended to K
 * (a layer given more input channels whose weights are 0, as a widened
 * model's synthesis is: aec_model_widen) leave every sum as it was, bit
 * for bit, since the old blocks keep their bounds and the new terms add
 * exact zeros. */
static int k_block(int K) { return K < KC_MAX ? K : KC_MAX; }

/* C = alpha op(A) B + beta C. A is either given (A, lda, transA: packed here
 * per K block) or prepacked (all its K blocks, nn_sgemm_pack_a's layout:
 * block p0 at prepacked + m_slivers * mr * p0). -1 when its packing
 * buffers cannot be allocated (C untouched). */
static int sgemm_driver(const kernel_desc *kd, int transA, int transB, int M, int N, int K,
                         float alpha, const float *A, int lda, const float *prepacked,
                         const float *B, int ldb, const float *b_prepacked, float beta, float *C,
                         int ldc)
{
    const int mr = kd->mr, nr = kd->nr;
    const int kc = k_block(K);
    const int mb_count = ceil_div(M, MC_MAX);
    const int mc = ceil_div(ceil_div(M, mb_count), mr) * mr;
    const int m_slivers = ceil_div(M, mr);
    const int nc = min_int(ceil_div(N, nr) * nr, NC_MAX);

    float *apack = prepacked ? NULL
                             : aligned_alloc(64, ((size_t)m_slivers * mr * kc * sizeof(float) + 63) & ~(size_t)63);
    float *bpack = b_prepacked ? NULL
                               : aligned_alloc(64, ((size_t)nc * kc * sizeof(float) + 63) & ~(size_t)63);
    if ((!prepacked && !apack) || (!b_prepacked && !bpack)) {
        free(apack);
        free(bpack);
        return -1;
    }
    /* serial when called from a parallel region (the Winograd products run
     * one per thread), even where the user enabled nested parallelism */
    const int parallel = 2.0 * M * N * K >= PARALLEL_MIN_FLOPS && !omp_in_parallel();

    /* Every thread walks the same K blocks and N panels, packing its share
     * of A and B; the barrier after packing B and the one at the end of the
     * omp for keep packing and computing apart. */
#pragma omp parallel if (parallel)
    for (int p0 = 0; p0 < K; p0 += kc) {
        const int kb = min_int(kc, K - p0);
        /* beta applies once; later K blocks add to what is there */
        const float beta_k = p0 == 0 ? beta : 1.0f;
        int lo, hi;
        const float *ablock = prepacked ? prepacked + (size_t)m_slivers * mr * p0 : apack;
        if (!prepacked) {
            thread_share(m_slivers, &lo, &hi);
            pack_slivers(A, (size_t)lda, transA, 0, M, p0, kb, mr, lo, hi, apack);
        }
        for (int j0 = 0; j0 < N; j0 += nc) {
            const int jn = min_int(nc, N - j0);
            const int n_slivers = ceil_div(jn, nr);
            /* the panel's slivers: packed here, or where nn_sgemm_b_at
             * put them */
            const float *bpanel = b_prepacked ? b_prepacked + (size_t)p0 * ceil_div(N, nr) * nr +
                                                    (size_t)(j0 / nr) * kb * nr
                                              : bpack;
            if (!b_prepacked) {
                thread_share(n_slivers, &lo, &hi);
                pack_slivers(B, (size_t)ldb, !transB, j0, j0 + jn, p0, kb, nr, lo, hi, bpack);
            }
#pragma omp barrier
            /* Narrower tasks when there are few row blocks (M of 75 or 128
             * is one block), so that every thread gets at least two. */
            int nt = NT;
            while (nt > 4 * nr && mb_count * ceil_div(jn, nt) < 2 * omp_get_num_threads()) nt /= 2;
            /* tasks in row-block-major order: a static split hands each
             * thread consecutive tasks of the same A block */
            const int nt_count = ceil_div(jn, nt);
            const int tasks = mb_count * nt_count;
#pragma omp for schedule(static)
            for (int t = 0; t < tasks; t++) {
                const int i0 = (t / nt_count) * mc, jb = (t % nt_count) * nt;
                if (i0 >= M) continue;
                run_task(kd, kb, ablock, bpanel, i0, min_int(mc, M - i0), jb, min_int(nt, jn - jb),
                         C + (size_t)i0 * ldc + j0 + jb, (size_t)ldc, alpha, beta_k);
            }
        }
    }
    free(apack);
    free(bpack);
    return 0;
}

void nn_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, (size_t)ldc);
        return;
    }
    if (sgemm_driver(active_kernel(), transA, transB, M, N, K, alpha, A, lda, NULL, B, ldb, NULL,
                     beta, C, ldc))
        sgemm_unpacked(transA, transB, M, N, K, alpha, A, (size_t)lda, B, (size_t)ldb, beta, C,
                       (size_t)ldc);
}

/* ---- a prepacked A --------------------------------------------------------- */

/* pa->data = op(A) in pa->kernel's slivers (pa->m, pa->k set) */
static void pack_a_into(const nn_sgemm_apack *pa, int transA, const float *A, int lda)
{
    const kernel_desc *kd = pa->kernel;
    const int M = pa->m, K = pa->k, m_slivers = ceil_div(M, kd->mr), kc = k_block(K);
    for (int p0 = 0; p0 < K; p0 += kc)
        pack_slivers(A, (size_t)lda, transA, 0, M, p0, min_int(kc, K - p0), kd->mr, 0, m_slivers,
                     pa->data + (size_t)m_slivers * kd->mr * p0);
}

int nn_sgemm_repack_a(nn_sgemm_apack *pa, int transA, int M, int K, const float *A, int lda)
{
    if (!pa->data || pa->m != M || pa->k != K || pa->kernel != active_kernel()) {
        nn_sgemm_apack_free(pa);
        return nn_sgemm_pack_a(pa, transA, M, K, A, lda);
    }
    pack_a_into(pa, transA, A, lda);
    return 0;
}

int nn_sgemm_pack_a(nn_sgemm_apack *pa, int transA, int M, int K, const float *A, int lda)
{
    memset(pa, 0, sizeof *pa);
    if (M <= 0 || K <= 0) return -1;
    const kernel_desc *kd = active_kernel();
    const int m_slivers = ceil_div(M, kd->mr);
    pa->data = aligned_alloc(64, ((size_t)m_slivers * kd->mr * K * sizeof(float) + 63) & ~(size_t)63);
    if (!pa->data) return -1;
    pa->m = M;
    pa->k = K;
    pa->kernel = kd;
    pack_a_into(pa, transA, A, lda);
    return 0;
}

void nn_sgemm_apack_free(nn_sgemm_apack *pa)
{
    free(pa->data);
    memset(pa, 0, sizeof *pa);
}

int nn_sgemm_packed(const nn_sgemm_apack *pa, int transB, int N, float alpha, const float *B,
                    int ldb, float beta, float *C, int ldc)
{
    if (!pa->data) return -1;
    if (N <= 0) return 0;
    if (alpha == 0.0f) {
        scale_c(pa->m, N, beta, C, (size_t)ldc);
        return 0;
    }
    return sgemm_driver(pa->kernel, 0, transB, pa->m, N, pa->k, alpha, NULL, 0, pa->data, B, ldb,
                        NULL, beta, C, ldc);
}

/* ---- a prepacked B ---------------------------------------------------------- */

nn_sgemm_blayout nn_sgemm_b_layout(const nn_sgemm_apack *pa, int N)
{
    const kernel_desc *kd = pa->kernel;
    nn_sgemm_blayout l = {pa->k, N, k_block(pa->k), kd ? kd->nr : 1};
    return l;
}

size_t nn_sgemm_b_floats(const nn_sgemm_blayout *l)
{
    return (size_t)l->k * (size_t)ceil_div(l->n, l->nr) * (size_t)l->nr;
}

int nn_sgemm_packed_b(const nn_sgemm_apack *pa, const nn_sgemm_blayout *l, const float *b,
                      float *C, int ldc)
{
    if (!pa->data || l->k != pa->k || l->nr != ((const kernel_desc *)pa->kernel)->nr ||
        l->kc != k_block(pa->k) || (uintptr_t)b % 64)
        return -1;
    if (l->n <= 0) return 0;
    return sgemm_driver(pa->kernel, 0, 0, pa->m, l->n, pa->k, 1.0f, NULL, 0, pa->data, NULL, 0, b,
                        0.0f, C, ldc);
}
