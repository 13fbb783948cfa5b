/* nn/gemm.h - our own single-precision matrix product, for the static decoder.
 *
 * nn_sgemm computes, row-major as cblas_sgemm(CblasRowMajor, ...) does,
 *
 *     C = alpha op(A) op(B) + beta C      C is M x N, op(A) M x K, op(B) K x N
 *
 * with op(X) = X when transX is 0 and X^T otherwise; lda, ldb and ldc are the
 * row strides of A, B and C as stored (A is M x K, or K x M when transposed).
 * As in BLAS, beta == 0 means C is only written, never read (NaN in C does
 * not survive), and K == 0 or alpha == 0 only scales C by beta.
 *
 * It exists so that aecd can be linked without OpenBLAS (whose static library
 * carries kernels for every CPU and all of LAPACK). Two micro-kernels: AVX2 +
 * FMA, chosen at each call when nn/cpu.h's switch allows both (the CPU and
 * OS support them, AEC_CPU or a test did not turn them off), and a portable
 * one for any x86-64 (or any other CPU). Threads: OpenMP over blocks of C, only
 * for products large enough to pay for waking them. Each element of C is
 * summed in the same order whatever the thread count, so results do not
 * depend on it; they do differ slightly between the two kernels (FMA rounds
 * once per step). Called from inside an OpenMP parallel region, a product
 * runs on the calling thread alone. */
#ifndef NN_GEMM_H
#define NN_GEMM_H

#include <stddef.h>

void nn_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* A packed once for many products with the same left operand (the
 * Winograd deconvolution multiplies each chunk of tiles by the same
 * transformed weights): nn_sgemm_pack_a copies op(A) (M x K) into the
 * micro-kernel's order and nn_sgemm_packed then computes
 *     C = alpha A B' + beta C       (B' = op(B), K x N)
 * exactly as nn_sgemm would (same sums in the same order), without packing A
 * again. The pack remembers its kernel, so a later change of the switch
 * (nn_cpu_set_mask) does not mix layouts. pack_a returns 0, or -1 (nothing allocated) for an empty
 * A or when out of memory; pa must not hold a pack already (free it first).
 * packed returns 0, or -1 when out of memory or pa holds no pack (C
 * untouched). */
typedef struct {
    int m, k;
    const void *kernel;
    float *data;
} nn_sgemm_apack;

int nn_sgemm_pack_a(nn_sgemm_apack *pa, int transA, int M, int K, const float *A, int lda);
/* The same into a pack that may already hold one: of the same size and
 * kernel it is overwritten in place (no allocation: a caller that packs
 * new values of the same matrices at every step keeps its memory), else
 * freed and made anew. */
int nn_sgemm_repack_a(nn_sgemm_apack *pa, int transA, int M, int K, const float *A, int lda);
int nn_sgemm_packed(const nn_sgemm_apack *pa, int transB, int N, float alpha, const float *B,
                    int ldb, float beta, float *C, int ldc);
void nn_sgemm_apack_free(nn_sgemm_apack *pa);

/* And B packed by the caller, for a caller that makes B itself (the
 * Winograd passes transform their input tiles straight into it instead of
 * into a matrix that each product would then copy into slivers):
 * nn_sgemm_b_layout says where element (k, j) of the K x N matrix goes for
 * products with pa (nn_sgemm_b_at, an offset into nn_sgemm_b_floats
 * floats: column slivers of the kernel's width, K in blocks); the slivers'
 * columns from N on must hold finite values (zeros), which the kernel
 * multiplies but no result keeps, and b must be 64-byte aligned (the
 * kernels load whole slivers aligned). nn_sgemm_packed_b then computes
 * C = A B as nn_sgemm_packed would with alpha 1 and beta 0, the same sums
 * in the same order; -1 (C untouched) when l is not pa's layout, b is not
 * aligned, or out of memory. */
typedef struct {
    int k, n, kc, nr; /* K, N, K's block, the sliver width */
} nn_sgemm_blayout;

nn_sgemm_blayout nn_sgemm_b_layout(const nn_sgemm_apack *pa, int N);
size_t nn_sgemm_b_floats(const nn_sgemm_blayout *l);
static inline size_t nn_sgemm_b_at(const nn_sgemm_blayout *l, int k, int j)
{
    const int p0 = k / l->kc * l->kc, kb = l->k - p0 < l->kc ? l->k - p0 : l->kc;
    const size_t slivers = (size_t)((l->n + l->nr - 1) / l->nr);
    return (size_t)p0 * slivers * (size_t)l->nr + ((size_t)(j / l->nr) * (size_t)kb + (size_t)(k - p0)) * (size_t)l->nr +
           (size_t)(j % l->nr);
}
int nn_sgemm_packed_b(const nn_sgemm_apack *pa, const nn_sgemm_blayout *l, const float *b,
                      float *C, int ldc);

/* The kernel nn_sgemm uses now: "avx2+fma 6x16" or "generic 4x8". */
const char *nn_gemm_kernel_name(void);

#endif
