/* nn/vector_copies.h - NN_VECTOR_COPIES: a loop built twice, for AVX2 and
 * for the baseline (SSE2 on x86-64), the copy chosen at each call through
 * nn/cpu.h's switch.
 *
 * For loops the compiler vectorises (the Winograd transforms, GDN's
 * scaling, the PNG filters): AVX2 does 8 floats an instruction where SSE2
 * does 4. The loop is written once, as NAME_body (NN_VECTOR_BODY: always
 * inlined, so it is compiled, and vectorised, inside each copy), and
 *
 *     NN_VECTOR_COPIES(NAME, (parameters), (arguments))
 *
 * defines static void NAME(parameters), which runs the AVX2 copy where
 * the switch allows AVX2 and the baseline copy otherwise. Neither copy has
 * FMA, and GCC contracts no a * b + c into one (-ffp-contract=off, its
 * default for -std=c11; without FMA in the target there is nothing to
 * contract to anyway), so both compute every value with the same
 * operations in the same order, and give the same bits
 * (tests/test_cpu_paths.c checks it). On other architectures, or built
 * with -DNN_VECTOR_BASELINE (the -O0 decoder that tests/test_cli.c
 * compares with the usual one), NAME is the baseline copy alone.
 *
 * (Not GCC's target_clones: its ifunc picks the copy once, when the
 * program loads, which a test cannot undo, and runs before
 * ThreadSanitizer's runtime is up.) */
#ifndef NN_VECTOR_COPIES_H
#define NN_VECTOR_COPIES_H

#include "nn/cpu.h"

#define NN_VECTOR_BODY static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__has_attribute) && !defined(NN_VECTOR_BASELINE)
#if __has_attribute(target)
#define NN_VECTOR_HAVE_AVX2 1
#endif
#endif

#ifdef NN_VECTOR_HAVE_AVX2
#define NN_VECTOR_COPIES(name, params, args)                                    \
    static void name##_baseline params { name##_body args; }                    \
    __attribute__((target("avx2"))) static void name##_avx2 params              \
    {                                                                           \
        name##_body args;                                                       \
    }                                                                           \
    static void name params                                                     \
    {                                                                           \
        if (nn_cpu_has(NN_CPU_AVX2)) name##_avx2 args;                          \
        else name##_baseline args;                                              \
    }
#else
#define NN_VECTOR_COPIES(name, params, args) \
    static void name params { name##_body args; }
#endif

#endif
