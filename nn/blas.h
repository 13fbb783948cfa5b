/* nn/blas.h - making sure OpenBLAS runs its fast kernel.
 *
 * OpenBLAS 0.3.21 (Debian 12) does not know newer CPUs and falls back to its
 * slowest kernel ("Prescott") on them, far below what the CPU can do. It
 * picks the kernel once, when the library loads, from OPENBLAS_CORETYPE or
 * CPUID. So a program calls nn_blas_setup(argv) first thing in main(): if the
 * user did not set OPENBLAS_CORETYPE and the live kernel is weaker than the
 * CPU supports (the features nn/cpu.h's switch allows: AEC_CPU), it sets
 * OPENBLAS_CORETYPE and re-executes the program once (argv unchanged). A
 * user's own OPENBLAS_CORETYPE is always respected.
 *
 * The same re-execution sets OMP_WAIT_POLICY=passive unless the user set
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT: with libgomp's default, the OpenMP
 * threads of the conv2d loops spin for milliseconds after each loop and take
 * the cores from the OpenBLAS threads of the sgemm that follows, which
 * slows the small layers most (blas.c). Likewise OPENBLAS_THREAD_TIMEOUT=4 unless
 * the user set it (or GOTO_THREAD_TIMEOUT): OpenBLAS's idle threads otherwise
 * call sched_yield for ~0.1 s after every sgemm, through our OpenMP loops.
 * And (glibc on Linux) GLIBC_TUNABLES gets glibc.malloc.hugetlb=1 unless the
 * user set that tunable: malloc then asks for transparent huge pages, which
 * made a decode's many first-touch page faults few (blas.c).
 * So a program re-executes once at start unless these are already decided. */
#ifndef NN_BLAS_H
#define NN_BLAS_H

#include "nn/cpu.h"

/* The kernel to ask for, or NULL to keep the live one: a pure function of the
 * live kernel name and the CPU, tested on its own. Only a known weak kernel
 * (Prescott, Katmai, Core2, Nehalem, Sandybridge, Barcelona, Bulldozer, ...,
 * matched case-insensitively) is replaced: by "SkylakeX" when AVX2, FMA and
 * AVX-512 F/DQ/CD/BW/VL are all usable, else by "Haswell" when AVX2 and FMA
 * are, else not at all. Good kernels (Haswell, Zen, SkylakeX, Cooperlake,
 * SapphireRapids) and unknown names are kept: it never downgrades. Features
 * count only where the OS enabled their register state (xgetbv). */
const char *nn_blas_better_coretype(const char *live_corename, const nn_cpu_features *f);
/* See above. Returns only if no re-exec was needed (or it failed, which is
 * reported on stderr once and otherwise harmless). Also gives the OpenMP
 * loops the same thread count as OpenBLAS, and (glibc) has freed memory
 * kept for reuse instead of returned to the kernel, which hands it back as
 * pages to zero again (see blas.c). Call it before any thread starts:
 * execv replaces the whole process. */
void nn_blas_setup(char **argv);
/* The live kernel's name, e.g. "Haswell", "SkylakeX", "Zen". */
const char *nn_blas_corename(void);
/* Threads for OpenBLAS and for the OpenMP loops alike (n < 1 means 1). */
void nn_blas_set_threads(int n);

/* The matrix product of the nn library, row-major with cblas_sgemm's meaning
 * (transA/transB 0 or 1; lda, ldb, ldc the stored row strides): OpenBLAS's
 * cblas_sgemm, except inside an OpenMP parallel region, where nn_sgemm
 * (nn/gemm.h) runs in the calling thread; nn_sgemm always when built with
 * -DNN_OWN_GEMM. That
 * build is aecd's: a static decoder without OpenBLAS. In it the functions
 * above do no OpenBLAS work: nn_blas_setup re-executes only to shorten
 * the OpenMP threads' spinning (GOMP_SPINCOUNT, see blas.c: the decoder
 * runs hundreds of short parallel regions) and for the huge-page tunable,
 * nn_blas_corename names nn_sgemm's kernel, nn_blas_set_threads sets the
 * OpenMP thread count. */
void nn_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

#endif
