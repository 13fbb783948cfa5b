/* nn/vector_clones.h - NN_VECTOR_CLONES: a function built twice, for AVX2
 * and for the baseline (SSE2 on x86-64), the copy picked once when the
 * program loads (GCC's and clang's target_clones, an ifunc).
 *
 * For loops the compiler vectorises (the Winograd transforms, GDN's
 * scaling): AVX2 does 8 floats an instruction where SSE2 does 4. Neither
 * copy has FMA, so no multiply-add is fused in one and not the other: both
 * compute every value with the same operations in the same order, and give
 * the same bits. On other architectures, or built with -DNN_VECTOR_BASELINE
 * (the -O0 decoder that tests/test_cli.c compares with the usual one) or
 * for ThreadSanitizer (whose runtime is not ready when an ifunc resolver
 * runs, so the program crashed at load), the macro is empty and the
 * function is built once. The cloned functions' names are unique across
 * the library: clang gives their resolvers global symbols. */
#ifndef NN_VECTOR_CLONES_H
#define NN_VECTOR_CLONES_H

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NN_VECTOR_NO_CLONES
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(NN_VECTOR_BASELINE)
#define NN_VECTOR_NO_CLONES
#endif
#if defined(__x86_64__) && defined(__has_attribute) && !defined(NN_VECTOR_NO_CLONES)
#if __has_attribute(target_clones)
#define NN_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef NN_VECTOR_CLONES
#define NN_VECTOR_CLONES
#endif

#endif
