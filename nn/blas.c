/* nn/blas.c - choosing OpenBLAS's kernel from what the CPU can really run.
 *
 * The decision is feature based, never name based on the CPU: OpenBLAS
 * 0.3.21 names some AVX-512 CPUs "Prescott" (it does not know their model
 * numbers), while on an AVX2-only CPU such as Zen 3 the SkylakeX kernel dies
 * with SIGILL. So we ask CPUID and the OS (xgetbv) which vector state is
 * usable (nn/cpu.c) and map that to the best kernel that is safe to run. */
#include "nn/blas.h"

#include "nn/gemm.h"
#ifndef NN_OWN_GEMM
#include <cblas.h>
#endif
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#if defined(__GLIBC__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#include <unistd.h>

/* OpenBLAS 0.3.21's x86-64 kernels below the AVX2 level: a CPU that can do
 * better gets moved off these. "Unknown" is what failed detection reports. */
static const char *const weak_kernels[] = {
    "Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom",
    "Core2", "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3",
    "Barcelona", "Nano", "Sandybridge", "Bobcat", "Bulldozer", "Piledriver",
    "Steamroller", "Excavator",
};

const char *nn_blas_better_coretype(const char *live_corename, const nn_cpu_features *f)
{
    if (!live_corename) return NULL;
    /* Only a known weak kernel is replaced: the good ones (Haswell, Zen,
     * SkylakeX, Cooperlake, SapphireRapids) and names we do not know, e.g.
     * from a newer OpenBLAS, are kept, so this never downgrades. */
    int weak = 0;
    for (size_t i = 0; i < sizeof weak_kernels / sizeof weak_kernels[0]; i++)
        weak |= strcasecmp(live_corename, weak_kernels[i]) == 0;
    if (!weak) return NULL;
    const int avx2_fma = f->avx && f->avx2 && f->fma;
    /* every AVX-512 CPU also has AVX2 and FMA; requiring them keeps a
     * half-reported feature set from choosing a kernel that could fault */
    if (avx2_fma && f->avx512f && f->avx512dq && f->avx512cd && f->avx512bw && f->avx512vl)
        return "SkylakeX";
    if (avx2_fma) return "Haswell";
    return NULL;
}

#ifdef NN_OWN_GEMM
/* aecd's build: no OpenBLAS (see blas.h) */
void nn_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    nn_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *nn_blas_corename(void) { return nn_gemm_kernel_name(); }

void nn_blas_set_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }

#else

void nn_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    /* Inside a parallel region (the training's workers, one thread each)
     * the calling thread multiplies alone, with our kernel: OpenBLAS would
     * start a pool of its own threads for every caller. */
    if (omp_in_parallel()) {
        nn_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *nn_blas_corename(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "Unknown";
}

void nn_blas_set_threads(int n)
{
    if (n < 1) n = 1;
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}
#endif /* NN_OWN_GEMM */

/* What stays as it was when nn_blas_setup cannot re-execute (warnings). */
#ifdef NN_OWN_GEMM
#define SETUP_NOT_DONE "idle OpenMP threads keep spinning (GEMM kernel %s)"
#else
#define SETUP_NOT_DONE "OpenBLAS keeps its %s kernel"
#endif

/* What nn_blas_setup puts into the environment before re-executing. */
typedef struct {
    const char *coretype;  /* OPENBLAS_CORETYPE, or NULL */
    int passive_wait;      /* set OMP_WAIT_VAR=OMP_WAIT_VALUE (below) */
    int short_blas_spin;   /* set OPENBLAS_THREAD_TIMEOUT=4 */
    int huge_pages;        /* add HUGE_PAGES_TUNABLE to GLIBC_TUNABLES */
    int tunables_set;      /* ... and it was added */
    char *old_tunables;    /* GLIBC_TUNABLES as it was (malloc'd), or NULL */
} env_plan;

/* The OpenMP wait policy. libgomp's default lets a thread spin for ~300000
 * pause instructions (milliseconds) after every parallel region, and our
 * regions are followed straight away by an sgemm whose OpenBLAS threads then
 * share the cores with those spinners, which slows the small layers most.
 * Passive waiting costs a futex wake-up (microseconds)
 * per region instead. A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
 *
 * Without OpenBLAS (NN_OWN_GEMM: aecd) nothing else wants the cores between
 * our regions, and the decoder runs hundreds of short ones, so its threads
 * spin a little (about a third of the default) before they sleep, which
 * decodes faster than passive waiting (make bench: bench_codec, run with
 * and without OMP_WAIT_POLICY=passive, compares the two). */
#ifdef NN_OWN_GEMM
#define OMP_WAIT_VAR "GOMP_SPINCOUNT"
#define OMP_WAIT_VALUE "100000"
#else
#define OMP_WAIT_VAR "OMP_WAIT_POLICY"
#define OMP_WAIT_VALUE "passive"
#endif
static int wants_passive_wait(void)
{
    return !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT");
}

/* The same on OpenBLAS's side: its idle worker threads call sched_yield in
 * a loop for 2^28 cycles (~0.1 s) after every sgemm before they sleep, so
 * during our OpenMP loops they share the cores with the loops' threads,
 * and much of the training process's time goes to the kernel's sched_yield
 * (perf shows it). The
 * shortest timeout (2^4 cycles) sends them to sleep at once; waking them
 * costs microseconds per sgemm, and a training step is faster (make bench:
 * bench_train, run with and without OPENBLAS_THREAD_TIMEOUT=28). A user's
 * OPENBLAS_THREAD_TIMEOUT (or GOTO_THREAD_TIMEOUT) wins. */
static int wants_short_blas_spin(void)
{
#ifdef NN_OWN_GEMM
    return 0;
#else
    return !getenv("OPENBLAS_THREAD_TIMEOUT") && !getenv("GOTO_THREAD_TIMEOUT");
#endif
}

/* Huge pages for the heap. glibc's malloc, told by this tunable, asks the
 * kernel (madvise MADV_HUGEPAGE, where transparent huge pages are in
 * "madvise" mode, as on Debian) for 2 MiB pages as the heap grows and for
 * its big mappings. A decode touches its memory once: 19,000 first-touch
 * faults of 4 KiB pages for a 768x512 image, each costly in a virtual
 * machine, and its big activations and packed weights miss the TLB less
 * (make bench: bench_codec, run with and without
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=0, compares the two). A training
 * step, which reuses its memory, gains nothing. A user's own setting of
 * the tunable wins; other tunables they set are kept. */
#define HUGE_PAGES_TUNABLE "glibc.malloc.hugetlb=1"
static int wants_huge_pages(void)
{
#if defined(__GLIBC__) && defined(__linux__)
    /* not in a setuid program: glibc may drop the tunable there, and the
     * re-executed copy would then want it again, forever */
    if (getauxval(AT_SECURE)) return 0;
    const char *t = getenv("GLIBC_TUNABLES");
    return !t || !strstr(t, "glibc.malloc.hugetlb");
#else
    return 0;
#endif
}

/* GLIBC_TUNABLES with the huge-pages tunable added; 0, or -1 */
static int set_huge_pages(env_plan *plan)
{
    const char *old = getenv("GLIBC_TUNABLES");
    if (!old || !*old) {
        if (setenv("GLIBC_TUNABLES", HUGE_PAGES_TUNABLE, 1) != 0) return -1;
        plan->tunables_set = 1;
        return 0;
    }
    size_t n = strlen(old) + sizeof ":" HUGE_PAGES_TUNABLE;
    char *both = malloc(n);
    plan->old_tunables = strdup(old);
    if (!both || !plan->old_tunables) {
        free(both);
        return -1;
    }
    snprintf(both, n, "%s:%s", old, HUGE_PAGES_TUNABLE);
    int r = setenv("GLIBC_TUNABLES", both, 1);
    free(both);
    if (r == 0) plan->tunables_set = 1;
    return r;
}

static void undo_env(const env_plan *plan)
{
    if (plan->tunables_set) {
        if (plan->old_tunables) setenv("GLIBC_TUNABLES", plan->old_tunables, 1);
        else unsetenv("GLIBC_TUNABLES");
    }
    if (plan->short_blas_spin) unsetenv("OPENBLAS_THREAD_TIMEOUT");
    if (plan->coretype) unsetenv("OPENBLAS_CORETYPE");
    if (plan->passive_wait) unsetenv(OMP_WAIT_VAR);
}

/* Freed scratch stays with the process. glibc gives blocks above its
 * starting mmap threshold (128 KiB) back to the kernel when they are freed,
 * and trims the free top of every heap, so each call's buffers (the GEMM's
 * packed panels, the Winograd transforms' packs, per thread) would come
 * back as fresh pages the kernel has to zero, page faults that take much of
 * a decode's system time; a training step is faster too (bench_train).
 * Blocks of 32 MiB and more still get their own mappings, and up to 64 MiB
 * free at a heap's top is kept: the encoder's peak (bench_memory) is 484 MB
 * with glibc's defaults, 659 MB with thresholds of 256 MiB / 1 GiB and 486
 * MB with these. */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

void nn_blas_setup(char **argv)
{
    keep_freed_memory();
    /* Our OpenMP loops run between sgemm calls, never during them, so both
     * pools may use every core; same count so neither waits on the other. */
#ifndef NN_OWN_GEMM
    omp_set_num_threads(openblas_get_num_threads());
#endif

    /* Both libraries read these variables once, when they load, so changing
     * them takes a re-execution. A user's OPENBLAS_CORETYPE always wins; and
     * since we set the variables before execv, the new copy finds them set
     * and does not re-execute again. */
    env_plan plan = {NULL, wants_passive_wait(), wants_short_blas_spin(), wants_huge_pages(), 0, NULL};
    const char *live = nn_blas_corename();
#ifndef NN_OWN_GEMM
    if (!getenv("OPENBLAS_CORETYPE")) {
        /* only to a kernel whose features the switch allows (AEC_CPU) */
        nn_cpu_features f;
        nn_cpu_detect(&f);
        nn_cpu_features_mask(&f, nn_cpu_flags());
        plan.coretype = nn_blas_better_coretype(live, &f);
    }
#endif
    if (!plan.coretype && !plan.passive_wait && !plan.short_blas_spin && !plan.huge_pages) return;
    if (!argv || !argv[0]) {
        fprintf(stderr, "warning: nn_blas_setup: no argv to re-execute with; " SETUP_NOT_DONE "\n",
                live);
        return;
    }
    if ((plan.coretype && setenv("OPENBLAS_CORETYPE", plan.coretype, 1) != 0) ||
        (plan.passive_wait && setenv(OMP_WAIT_VAR, OMP_WAIT_VALUE, 1) != 0) ||
        (plan.short_blas_spin && setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1) != 0) ||
        (plan.huge_pages && set_huge_pages(&plan) != 0)) {
        fprintf(stderr, "warning: nn_blas_setup: setenv failed (%s); " SETUP_NOT_DONE "\n",
                strerror(errno), live);
        undo_env(&plan);
        free(plan.old_tunables);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    execv("/proc/self/exe", argv);
    /* only reached when execv failed */
    int err = errno;
    undo_env(&plan);
    free(plan.old_tunables);
    fprintf(stderr, "warning: nn_blas_setup: re-executing failed (%s); " SETUP_NOT_DONE "\n",
            strerror(err), live);
}
