/* Checks of nn/blas: the kernel decision table on made-up CPUs, the CPUID
 * reading against GCC's own detection, and, in child processes of this very
 * binary, that a program calling nn_blas_setup computes a correct sgemm and
 * keeps a user's OPENBLAS_CORETYPE. */
#include <cblas.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn/blas.h"
#include "nn/rng.h"
#include "tests/check.h"

extern char **environ;

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void test_decision_table(void)
{
    const nn_cpu_features none = {0};
    const nn_cpu_features avx_only = {.avx = 1};
    const nn_cpu_features avx2_no_fma = {.avx = 1, .avx2 = 1};
    const nn_cpu_features avx2 = {.avx = 1, .avx2 = 1, .fma = 1};
    const nn_cpu_features avx512 = {.avx = 1, .avx2 = 1, .fma = 1, .avx512f = 1, .avx512dq = 1,
                                    .avx512cd = 1, .avx512bw = 1, .avx512vl = 1, .f16c = 1,
                                    .sse2 = 1, .pclmul = 1};
    nn_cpu_features avx512_no_bw = avx512;
    avx512_no_bw.avx512bw = 0;
    nn_cpu_features avx512_no_vl = avx512;
    avx512_no_vl.avx512vl = 0;
    const struct {
        const nn_cpu_features *f;
        const char *name, *weak_gets; /* what a weak live kernel is replaced by */
    } cpus[] = {
        {&none, "no AVX", NULL},          {&avx_only, "AVX only", NULL},
        {&avx2_no_fma, "AVX2 without FMA", NULL}, {&avx2, "AVX2+FMA (Zen 3)", "Haswell"},
        {&avx512, "AVX-512 F/DQ/CD/BW/VL", "SkylakeX"}, {&avx512_no_bw, "AVX-512 without BW", "Haswell"},
        {&avx512_no_vl, "AVX-512 without VL", "Haswell"},
    };
    static const char *const weak[] = {"Prescott", "Katmai", "Core2", "Nehalem", "Sandybridge",
                                       "Barcelona", "Bulldozer", "Piledriver", "Unknown",
                                       "prescott", "SANDYBRIDGE"};
    static const char *const good[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake",
                                       "SapphireRapids", "haswell", "SomeFutureLake", ""};
    for (size_t c = 0; c < sizeof cpus / sizeof cpus[0]; c++) {
        for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
            const char *got = nn_blas_better_coretype(weak[i], cpus[c].f);
            CHECK(same(got, cpus[c].weak_gets), "%s on %s: got %s, want %s", weak[i], cpus[c].name,
                  got ? got : "NULL", cpus[c].weak_gets ? cpus[c].weak_gets : "NULL");
        }
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            const char *got = nn_blas_better_coretype(good[i], cpus[c].f);
            CHECK(got == NULL, "%s on %s is kept, got %s", good[i], cpus[c].name, got);
        }
        CHECK(nn_blas_better_coretype(NULL, cpus[c].f) == NULL, "NULL name on %s", cpus[c].name);
    }
}

static void test_detect(void)
{
    nn_cpu_features f;
    nn_cpu_detect(&f);
    /* GCC's __builtin_cpu_supports also checks that the OS enabled the state */
    __builtin_cpu_init();
    CHECK(f.avx == !!__builtin_cpu_supports("avx"), "avx %d", f.avx);
    CHECK(f.avx2 == !!__builtin_cpu_supports("avx2"), "avx2 %d", f.avx2);
    CHECK(f.fma == !!__builtin_cpu_supports("fma"), "fma %d", f.fma);
    CHECK(f.avx512f == !!__builtin_cpu_supports("avx512f"), "avx512f %d", f.avx512f);
    CHECK(f.avx512bw == !!__builtin_cpu_supports("avx512bw"), "avx512bw %d", f.avx512bw);
    CHECK(f.avx512vl == !!__builtin_cpu_supports("avx512vl"), "avx512vl %d", f.avx512vl);
    CHECK(f.avx512dq == !!__builtin_cpu_supports("avx512dq"), "avx512dq %d", f.avx512dq);
    CHECK(f.avx512cd == !!__builtin_cpu_supports("avx512cd"), "avx512cd %d", f.avx512cd);
#ifndef __clang__ /* clang 14 does not know "f16c" here: why nn_cpu_detect has it */
    CHECK(f.f16c == !!__builtin_cpu_supports("f16c"), "f16c %d", f.f16c);
#endif
    CHECK(f.sse2 == !!__builtin_cpu_supports("sse2"), "sse2 %d", f.sse2);
    CHECK(f.pclmul == !!__builtin_cpu_supports("pclmul"), "pclmul %d", f.pclmul);
    CHECK(!f.avx2 || f.avx, "avx2 implies avx");
    printf("cpu: avx %d avx2 %d fma %d f16c %d avx512 f/dq/cd/bw/vl %d%d%d%d%d, live kernel %s\n",
           f.avx, f.avx2, f.fma, f.f16c, f.avx512f, f.avx512dq, f.avx512cd, f.avx512bw, f.avx512vl,
           nn_blas_corename());
}

/* sgemm against a naive double product, in all four transpose combinations
 * and at a size large enough for OpenBLAS to use its threads. Returns 1 if
 * all matched within 1e-4 relative. */
static int sgemm_correct(void)
{
    static const int sizes[][3] = {{67, 45, 83}, {1, 7, 3}, {160, 192, 200}};
    nn_rng rng;
    nn_rng_seed(&rng, 3);
    int ok = 1;
    for (int s = 0; s < 3; s++) {
        int m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
        float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
        float *c = malloc((size_t)m * n * sizeof *c);
        if (!a || !b || !c) { free(a); free(b); free(c); return 0; }
        for (int i = 0; i < m * k; i++) a[i] = nn_rng_uniform(&rng) - 0.5f;
        for (int i = 0; i < k * n; i++) b[i] = nn_rng_uniform(&rng) - 0.5f;
        for (int t = 0; t < 4; t++) {
            int ta = t & 1, tb = t >> 1;
            /* A is m x k stored row-major as is, or its transpose stored */
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                        m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double want = 0.0;
                    for (int p = 0; p < k; p++) {
                        double av = ta ? a[p * m + i] : a[i * k + p];
                        double bv = tb ? b[j * k + p] : b[p * n + j];
                        want += av * bv;
                    }
                    if (fabs(c[i * n + j] - want) > 1e-4 * fmax(1.0, fabs(want))) ok = 0;
                }
        }
        free(a); free(b); free(c);
    }
    return ok;
}

/* The child: what a program does first thing, then reports on one line.
 * With --child-from-prescott it first forgets an OPENBLAS_CORETYPE=Prescott
 * it was started with, once the library has loaded that weak kernel: the
 * situation of an AVX-512 CPU that OpenBLAS misdetects, on any machine. The
 * re-executed copy then runs a better kernel and does not forget again. */
static int child_main(char **argv)
{
    if (strcmp(argv[1], "--child-from-prescott") == 0 &&
        strcmp(nn_blas_corename(), "Prescott") == 0)
        unsetenv("OPENBLAS_CORETYPE");
    nn_blas_setup(argv);
    const char *env = getenv("OPENBLAS_CORETYPE"), *wait = getenv("OMP_WAIT_POLICY");
    const char *spin = getenv("OPENBLAS_THREAD_TIMEOUT"), *tun = getenv("GLIBC_TUNABLES");
    printf("kernel=%s env=%s sgemm=%s wait=%s spin=%s tun=%s\n", nn_blas_corename(), env ? env : "-",
           sgemm_correct() ? "ok" : "wrong", wait ? wait : "-", spin ? spin : "-", tun ? tun : "-");
    return 0;
}

/* Runs this binary in child mode `mode` with the variables nn_blas_setup
 * looks at removed from the environment, then OPENBLAS_CORETYPE=coretype and
 * `extra` ("NAME=value") added where not NULL; captures its report line. */
static int run_child(const char *mode, const char *coretype, const char *extra, char *line,
                     size_t len)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **envp = calloc(n + 3, sizeof *envp);
    char setting[64];
    if (!envp) return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "OPENBLAS_CORETYPE=", 18) != 0 &&
            strncmp(environ[i], "OMP_WAIT_POLICY=", 16) != 0 &&
            strncmp(environ[i], "GOMP_SPINCOUNT=", 15) != 0 &&
            strncmp(environ[i], "OPENBLAS_THREAD_TIMEOUT=", 24) != 0 &&
            strncmp(environ[i], "GOTO_THREAD_TIMEOUT=", 20) != 0 &&
            strncmp(environ[i], "GLIBC_TUNABLES=", 15) != 0 &&
            strncmp(environ[i], "AEC_CPU=", 8) != 0)
            envp[m++] = environ[i];
    if (coretype) {
        snprintf(setting, sizeof setting, "OPENBLAS_CORETYPE=%s", coretype);
        envp[m++] = setting;
    }
    if (extra) envp[m++] = (char *)extra;
    int fd[2];
    if (pipe(fd) != 0) { free(envp); return -1; }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        char *args[] = {"test_blas", (char *)mode, NULL};
        execve("/proc/self/exe", args, envp);
        _exit(127);
    }
    free(envp);
    close(fd[1]);
    if (pid < 0) { close(fd[0]); return -1; }
    FILE *out = fdopen(fd[0], "r");
    int got = out && fgets(line, (int)len, out) != NULL;
    if (out) fclose(out); else close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    line[strcspn(line, "\n")] = 0;
    return 0;
}

/* what nn_blas_setup adds to GLIBC_TUNABLES where it can */
#if defined(__GLIBC__) && defined(__linux__)
#define HUGE "glibc.malloc.hugetlb=1"
#else
#define HUGE "-"
#endif

static void test_setup_in_child(void)
{
    nn_cpu_features f;
    nn_cpu_detect(&f);
    char line[256], kernel[64], env[64], verdict[16], wait[32], spin[16];

    /* no user setting: the child ends up on a kernel nothing beats */
    CHECK(run_child("--child", NULL, NULL, line, sizeof line) == 0,
          "child without OPENBLAS_CORETYPE ran");
    if (sscanf(line, "kernel=%63s env=%63s sgemm=%15s wait=%31s spin=%15s", kernel, env, verdict,
               wait, spin) == 5) {
        printf("child, no OPENBLAS_CORETYPE: %s\n", line);
        CHECK(strcmp(verdict, "ok") == 0, "sgemm after setup: %s", line);
        CHECK(nn_blas_better_coretype(kernel, &f) == NULL, "kernel %s after setup is the best", kernel);
        /* it re-executed exactly when the env variable was set by setup */
        CHECK(strcmp(env, "-") == 0 || strcmp(env, kernel) == 0, "env %s vs kernel %s", env, kernel);
        CHECK(strcmp(wait, "passive") == 0, "OpenMP threads wait passively: %s", wait);
        CHECK(strcmp(spin, "4") == 0, "OpenBLAS threads sleep at once: %s", spin);
    } else {
        CHECK(0, "child report unreadable: %s", line);
    }

    /* a user's choice is kept (Haswell needs AVX2+FMA to run at all) */
    if (f.avx2 && f.fma) {
        CHECK(run_child("--child", "Haswell", NULL, line, sizeof line) == 0,
              "child with OPENBLAS_CORETYPE=Haswell ran");
        printf("child, OPENBLAS_CORETYPE=Haswell: %s\n", line);
        CHECK(strcmp(line, "kernel=Haswell env=Haswell sgemm=ok wait=passive spin=4 tun=" HUGE) == 0,
              "user coretype kept: %s", line);
    }
    /* even a weak one: the user may be debugging */
    CHECK(run_child("--child", "Prescott", "OMP_WAIT_POLICY=active", line, sizeof line) == 0,
          "child with OPENBLAS_CORETYPE=Prescott ran");
    CHECK(strcmp(line, "kernel=Prescott env=Prescott sgemm=ok wait=active spin=4 tun=" HUGE) == 0,
          "Prescott and an active wait policy kept: %s", line);
    CHECK(run_child("--child", NULL, "OPENBLAS_THREAD_TIMEOUT=12", line, sizeof line) == 0,
          "child with OPENBLAS_THREAD_TIMEOUT ran");
    CHECK(strstr(line, "spin=12") != NULL, "a user's OPENBLAS_THREAD_TIMEOUT is kept: %s", line);
    CHECK(run_child("--child", NULL, "GOMP_SPINCOUNT=1000", line, sizeof line) == 0,
          "child with GOMP_SPINCOUNT ran");
    CHECK(strstr(line, "wait=-") != NULL, "GOMP_SPINCOUNT leaves the wait policy alone: %s", line);
#if defined(__GLIBC__) && defined(__linux__)
    /* huge pages: a user's other tunables kept, their own choice of this one too */
    CHECK(run_child("--child", NULL, "GLIBC_TUNABLES=glibc.malloc.perturb=0", line, sizeof line) == 0,
          "child with GLIBC_TUNABLES ran");
    CHECK(strstr(line, " tun=glibc.malloc.perturb=0:glibc.malloc.hugetlb=1") != NULL,
          "the huge-pages tunable added to the user's: %s", line);
    CHECK(run_child("--child", NULL, "GLIBC_TUNABLES=glibc.malloc.hugetlb=0", line, sizeof line) == 0,
          "child with hugetlb=0 ran");
    CHECK(strstr(line, " tun=glibc.malloc.hugetlb=0") != NULL, "a user's hugetlb=0 is kept: %s", line);
#endif

    /* the re-execution itself: a weak live kernel and no user setting */
    const char *want = nn_blas_better_coretype("Prescott", &f);
    char expect[128];
    snprintf(expect, sizeof expect, "kernel=%s env=%s sgemm=ok wait=passive spin=4 tun=" HUGE,
             want ? want : "Prescott", want ? want : "-");
    CHECK(run_child("--child-from-prescott", "Prescott", NULL, line, sizeof line) == 0,
          "child re-executing from Prescott ran");
    printf("child, live Prescott and no setting: %s\n", line);
    CHECK(strcmp(line, expect) == 0, "re-executed onto the better kernel: %s, want %s", line, expect);
    /* AEC_CPU bounds the kernel it asks for: none past the baseline,
     * Haswell's where AVX2 and FMA are allowed and the CPU has them (the
     * re-executed child, started without the Prescott setting it forgot,
     * runs OpenBLAS's own choice when nothing is asked for) */
    CHECK(run_child("--child-from-prescott", "Prescott", "AEC_CPU=sse2", line, sizeof line) == 0,
          "child from Prescott with AEC_CPU=sse2 ran");
    CHECK(strstr(line, " env=- sgemm=ok ") != NULL, "AEC_CPU=sse2 asks for no kernel: %s", line);
    if (f.avx && f.avx2 && f.fma) {
        CHECK(run_child("--child-from-prescott", "Prescott", "AEC_CPU=sse2,avx2,fma", line,
                        sizeof line) == 0,
              "child from Prescott with AEC_CPU=sse2,avx2,fma ran");
        CHECK(strncmp(line, "kernel=Haswell env=Haswell sgemm=ok ", 36) == 0,
              "AEC_CPU=sse2,avx2,fma asks for Haswell, not more: %s", line);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strncmp(argv[1], "--child", 7) == 0) return child_main(argv);
    test_decision_table();
    test_detect();
    test_setup_in_child();
    return check_report("test_blas");
}
