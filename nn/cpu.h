/* nn/cpu.h - the CPU features the program may use: one switch for every
 * kernel with more than one path.
 *
 * Each vectorised kernel asks nn_cpu_flags() which of its paths to take;
 * the plain C path is the one taken when none of its features is in the
 * set. The set is what the CPU and the OS support, less what the
 * environment variable AEC_CPU leaves out (read once, at the first
 * question), less what nn_cpu_set_mask leaves out: so a test can run each
 * kernel on each path this CPU has (tests/test_cpu_paths.c), and a user
 * can run the whole program on a restricted path:
 *
 *     AEC_CPU=none        plain C everywhere
 *     AEC_CPU=sse2        x86-64's baseline: the SSE2 intrinsics only
 *     AEC_CPU=sse2,avx2   ... and the AVX2 copies of the loops; names are
 *                         sse2 avx2 fma f16c pclmul avx512, or all
 *                         (baseline is sse2)
 *
 * A name this CPU lacks stays off; an unknown name is reported on stderr
 * and ignored. Loops the compiler vectorises for the baseline (SSE2 on
 * x86-64) are plain C here: "none" turns off hand-written vector code and
 * the AVX2 copies, not the compiler's baseline vectorisation. OpenBLAS
 * chooses its kernels itself: AEC_CPU only bounds the kernel nn_blas_setup
 * may move it to (nn/blas.h), it never moves it down (OPENBLAS_CORETYPE
 * does that). */
#ifndef NN_CPU_H
#define NN_CPU_H

#include <stddef.h>

enum {
    NN_CPU_SSE2 = 1u << 0,   /* SSE2 intrinsics (every x86-64 CPU) */
    NN_CPU_AVX2 = 1u << 1,   /* AVX and AVX2, with the OS's ymm state */
    NN_CPU_FMA = 1u << 2,    /* FMA3 (the GEMM's AVX2 kernel needs AVX2 and FMA) */
    NN_CPU_F16C = 1u << 3,   /* F16C, with AVX (binary16 loads) */
    NN_CPU_PCLMUL = 1u << 4, /* PCLMULQDQ (CRC-32 folding) */
    NN_CPU_AVX512 = 1u << 5, /* AVX-512 F/DQ/CD/BW/VL: only OpenBLAS's kernel choice */
    NN_CPU_ALL = (1u << 6) - 1
};

/* The features in use now: nn_cpu_available() & the mask last set. A
 * relaxed atomic read of one global, cheap enough to ask per call. */
unsigned nn_cpu_flags(void);
/* Whether every feature in need is in use: a kernel's test for its path. */
static inline int nn_cpu_has(unsigned need) { return (nn_cpu_flags() & need) == need; }
/* What this CPU and OS support, less what AEC_CPU leaves out. */
unsigned nn_cpu_available(void);
/* Restricts the features in use to nn_cpu_available() & mask (NN_CPU_ALL:
 * all of them again); returns the set now in use. For tests and
 * benchmarks, between calls: a kernel running meanwhile may take either
 * path, so results are only defined when no other thread computes. */
unsigned nn_cpu_set_mask(unsigned mask);
/* The set AEC_CPU names (NN_CPU_ALL when value is NULL or empty), for
 * tests; names it does not know are reported on stderr. */
unsigned nn_cpu_parse_mask(const char *value);
/* "sse2,avx2,..." for the features in flags ("none" for none) into buf;
 * as many whole names as fit. */
const char *nn_cpu_names(unsigned flags, char *buf, size_t len);

/* The CPU's features one by one, from CPUID, for OpenBLAS's kernel choice
 * (nn/blas.h), and the source of nn_cpu_available(). AVX, AVX2, FMA, F16C
 * and AVX-512 count only where the OS enabled their register state
 * (xgetbv), as with GCC's __builtin_cpu_supports (whose clang 14 version
 * does not know "f16c"). All zero on other architectures. */
typedef struct {
    int avx, avx2, fma, avx512f, avx512dq, avx512cd, avx512bw, avx512vl;
    int f16c;
    int sse2, pclmul;
} nn_cpu_features;

void nn_cpu_detect(nn_cpu_features *f);
/* The NN_CPU_ bits of f. */
unsigned nn_cpu_features_flags(const nn_cpu_features *f);
/* Clears the features of f whose NN_CPU_ bit is not in flags (AVX itself,
 * which no bit names, stays). */
void nn_cpu_features_mask(nn_cpu_features *f, unsigned flags);

#endif
