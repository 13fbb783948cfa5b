/* Speed of coding one 768x512 image (samples/kodim23.png) with the built
 * programs, as a user runs them: bin/aec encode -q 75 and bin/aecd, each a
 * child process (so model loading, PNG reading and writing count), at one
 * and two threads (OMP_NUM_THREADS and OPENBLAS_NUM_THREADS), best of 3.
 *
 * The baseline, measured in the same run at the same thread count: the
 * matrix products of the decoder's synthesis transform alone as im2col +
 * GEMM computes it (nn_sgemm, the kernel aecd uses; tests/synthesis_shapes.h),
 * i.e. the work of a direct implementation of this architecture's synthesis.
 * decode / products says how much the rest (entropy decoding, integer h_s,
 * GDN, PNG, model loading) adds, less what the Winograd transposed
 * convolutions (nn/deconv_winograd.h, 2.8x fewer multiplies in three of the
 * four layers) save. The PyTorch times printed for scale (CompressAI's
 * decoder on a 2-core machine) are quoted, not measured here.
 * Run from the repository root after make. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nn/gemm.h"
#include "tests/synthesis_shapes.h"

#define REPS 3

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs argv with the thread count set, output to /dev/null; wall seconds,
 * or -1 when it failed. */
static double run_timed(char *const argv[], int threads)
{
    fflush(stdout);
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", threads);
        if (setenv("OMP_NUM_THREADS", n, 1) || setenv("OPENBLAS_NUM_THREADS", n, 1)) _exit(127);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    double s = now() - t0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? s : -1;
}

/* best of REPS seconds of the synthesis products with `threads` threads */
static double products_seconds(int threads)
{
    size_t amax, bmax, cmax;
    shapes_max_sizes(&amax, &bmax, &cmax);
    float *a = malloc(amax * sizeof *a), *b = malloc(bmax * sizeof *b), *c = malloc(cmax * sizeof *c);
    if (!a || !b || !c) {
        free(a); free(b); free(c);
        return -1;
    }
    for (size_t i = 0; i < amax; i++) a[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < bmax; i++) b[i] = (float)(i % 7) * 0.02f;
    omp_set_num_threads(threads);
    double best = -1;
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const shape *s = &shapes[i];
            nn_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, s->ta ? s->m : s->k, b,
                     s->tb ? s->k : s->n, 0.0f, c, s->n);
        }
        double t = now() - t0;
        if (best < 0 || t < best) best = t;
    }
    free(a); free(b); free(c);
    return best;
}

int main(void)
{
    struct stat st;
    if (stat("bin/aec", &st) || stat("bin/aecd", &st) || stat("samples/kodim23.png", &st)) {
        printf("bench_codec: skipped (run from the repository root after make)\n");
        return 0;
    }
    char dir[] = "/tmp/aec-bench-codec-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_codec: mkdtemp");
        return 1;
    }
    char aec[600], png[600];
    snprintf(aec, sizeof aec, "%s/k.aec", dir);
    snprintf(png, sizeof png, "%s/k.png", dir);
    char *enc[] = {"bin/aec", "encode", "-f", "-q", "75", "samples/kodim23.png", "-o", aec, NULL};
    char *dec[] = {"bin/aecd", "-f", aec, png, NULL};
    printf("== coding samples/kodim23.png (768x512) with bin/aec and bin/aecd, best of %d "
           "(for scale, quoted: CompressAI's PyTorch decoder took 0.97 s at 2 threads)\n", REPS);
    printf("threads  encode s  decode s  synthesis products s  decode / products\n");
    int failed = 0;
    for (int threads = 1; threads <= 2 && !failed; threads++) {
        double best_enc = -1, best_dec = -1;
        for (int r = 0; r < REPS && !failed; r++) {
            double e = run_timed(enc, threads), d = e < 0 ? -1 : run_timed(dec, threads);
            if (e < 0 || d < 0) {
                printf("bench_codec: %s failed\n", e < 0 ? "encode" : "decode");
                failed = 1;
                break;
            }
            if (best_enc < 0 || e < best_enc) best_enc = e;
            if (best_dec < 0 || d < best_dec) best_dec = d;
        }
        if (failed) break;
        double p = products_seconds(threads);
        printf("%7d  %8.3f  %8.3f  %20.3f  %17.2f\n", threads, best_enc, best_dec, p,
               p > 0 ? best_dec / p : 0);
    }
    unlink(aec);
    unlink(png);
    rmdir(dir);
    return failed;
}
