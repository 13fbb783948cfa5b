/* Peak memory of coding one image with the built programs: bin/aec encode
 * and bin/aecd on samples/kodim23.png (768 x 512) and on a 6000 x 4000
 * (24 MP) photo made from it (mirrored repeats, written to a temporary
 * folder), each run as a child process whose peak resident set size comes
 * from wait4(), as /usr/bin/time -v reports it. The goals: a
 * 768 x 512 decode under 100 MB, a 24 MP encode and decode under 1.5 GB.
 * Run from the repository root after make. `make bench` measures the
 * 768 x 512 image only; `build/tests/bench_memory big` adds the 24 MP
 * photo (a few minutes each way on two busy cores). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/imageio/png_io.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs argv (stdout and stderr to /dev/null); its peak RSS in MB and wall
 * seconds; -1 when it could not run or failed. */
static int run(char *const argv[], double *peak_mb, double *seconds)
{
    fflush(stdout); /* or the child's freopen writes our buffered lines again */
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) return -1;
    *seconds = now() - t0;
    *peak_mb = (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KB on Linux */
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* src repeated to w x h, every other repeat mirrored so that no seam is a
 * hard edge */
static int make_big(const aec_image *src, int w, int h, const char *path)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb) return -1;
    for (int y = 0; y < h; y++) {
        int sy = y % src->height;
        if ((y / src->height) & 1) sy = src->height - 1 - sy;
        for (int x = 0; x < w; x++) {
            int sx = x % src->width;
            if ((x / src->width) & 1) sx = src->width - 1 - sx;
            memcpy(rgb + ((size_t)y * w + x) * 3, src->rgb + ((size_t)sy * src->width + sx) * 3, 3);
        }
    }
    char err[256];
    int r = aec_png_write(path, rgb, NULL, w, h, err, sizeof err);
    if (r) fprintf(stderr, "bench_memory: %s\n", err);
    free(rgb);
    return r;
}

/* One line: the run's peak and time, against its goal (0: none). */
static void report(const char *what, const char *step, double mb, double s, double goal_mb)
{
    printf("%-20s %-6s  peak %7.1f MB  %7.2f s", what, step, mb, s);
    if (goal_mb > 0) printf("  goal < %.0f MB: %s", goal_mb, mb < goal_mb ? "met" : "MISSED");
    printf("\n");
}

/* Encodes and decodes png (in dir). 0 when both ran. */
static int measure(const char *what, const char *name, const char *png, const char *dir,
                   double goal_encode_mb, double goal_decode_mb)
{
    char aec[512], out[512];
    snprintf(aec, sizeof aec, "%s/%s.aec", dir, name);
    snprintf(out, sizeof out, "%s/%s.png", dir, name);
    char *enc[] = {"bin/aec", "encode", "-f", "-q", "75", (char *)png, "-o", aec, NULL};
    char *dec[] = {"bin/aecd", "-f", aec, out, NULL};
    double mb, s;
    if (run(enc, &mb, &s)) {
        printf("%-20s encode failed\n", what);
        return -1;
    }
    report(what, "encode", mb, s, goal_encode_mb);
    fflush(stdout);
    if (run(dec, &mb, &s)) {
        printf("%-20s decode failed\n", what);
        return -1;
    }
    report(what, "decode", mb, s, goal_decode_mb);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    int with_big = argc > 1 && !strcmp(argv[1], "big");
    char dir[] = "/tmp/aec-bench-memory-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_memory: mkdtemp");
        return 1;
    }
    printf("== peak memory of bin/aec encode and bin/aecd (wait4's ru_maxrss, as /usr/bin/time -v)\n");
    int failed = measure("kodim23 768x512", "kodim23", "samples/kodim23.png", dir, 0, 100);
    char big[512];
    snprintf(big, sizeof big, "%s/big-input.png", dir);
    if (with_big && !failed) {
        aec_image img;
        char err[256] = "out of memory";
        if (aec_png_read("samples/kodim23.png", &img, 0, err, sizeof err) ||
            make_big(&img, 6000, 4000, big)) {
            fprintf(stderr, "bench_memory: making the 24 MP image failed: %s\n", err);
            failed = 1;
        } else {
            failed = measure("synthetic 6000x4000", "big", big, dir, 1536, 1536);
        }
        aec_image_free(&img);
    }
    /* the temporary files: the .aec and PNG outputs, the big input */
    const char *names[] = {"kodim23.aec", "kodim23.png", "big.aec", "big.png", "big-input.png"};
    char path[600];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return failed ? 1 : 0;
}
