/* tools/ext_codec.c - WebP and AVIF through their programs (see
 * ext_codec.h). The programs are started with posix_spawn, never a shell,
 * so paths with spaces or quotes are passed as they are; their stdout goes
 * to /dev/null and their stderr to a file whose last line is quoted when
 * they fail. */
#include "tools/ext_codec.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/bench.h"
#include "tools/imageio/png_io.h"

extern char **environ;

void ext_codec_programs(int codec, const char **enc, const char **dec)
{
    *enc = codec == BENCH_WEBP ? "cwebp" : "avifenc";
    *dec = codec == BENCH_WEBP ? "dwebp" : "avifdec";
}

int ext_find_program(const char *name, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin"; /* execvp's default, less the current folder */
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* an empty entry is the current folder */
        int n = len ? snprintf(out, outlen, "%.*s/%s", (int)len, p, name)
                    : snprintf(out, outlen, "./%s", name);
        struct stat st;
        if (n > 0 && (size_t)n < outlen && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
            access(out, X_OK) == 0)
            return 0;
        if (!end) break;
        p = end;
    }
    return -1;
}

/* The last non-empty line of the file at path into line ("" when none). */
static void last_line(const char *path, char *line, size_t len)
{
    char buf[2048];
    line[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = 0;
        if (buf[0]) snprintf(line, len, "%.299s", buf);
    }
    fclose(f);
}

/* Runs argv (argv[0] a path) to its end: stdin and stdout /dev/null,
 * stderr into errfile. 0 when it exits with 0, else -1 with err. */
static int run_program(char *const argv[], const char *errfile, char *err, size_t errlen)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        snprintf(err, errlen, "%.300s: cannot run: %s", argv[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "%.300s: waitpid: %s", argv[0], strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    char line[300];
    last_line(errfile, line, sizeof line);
    if (WIFSIGNALED(status))
        snprintf(err, errlen, "%.300s was killed by signal %d%s%s", argv[0], WTERMSIG(status),
                 line[0] ? ": " : "", line);
    else
        snprintf(err, errlen, "%.300s exited with %d%s%s", argv[0], WEXITSTATUS(status),
                 line[0] ? ": " : "", line);
    return -1;
}

/* The size of the file at path; -1 when it is missing. */
static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The encoder's command line for quality q into argv (room for 20), its
 * numbers written into qs. */
static void encoder_argv(int codec, const char *enc, const char *src, const char *coded, double q,
                         char qs[32], char *argv[20])
{
    int n = 0;
    argv[n++] = (char *)enc;
    if (codec == BENCH_WEBP) {
        snprintf(qs, 32, "%g", q);
        const char *a[] = {"-quiet", "-q", qs, "-m", "6", src, "-o", coded};
        for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) argv[n++] = (char *)a[i];
    } else {
        snprintf(qs, 32, "cq-level=%d", (int)q);
        const char *a[] = {"-s", "4", "-j", "1", "--min", "0", "--max", "63", "-a",
                           "end-usage=q", "-a", qs, "-a", "tune=psnr", src, coded};
        for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) argv[n++] = (char *)a[i];
    }
    argv[n] = NULL;
}

/* Encodes src into coded, decodes it into back: r's times and size. */
static int code_files(int codec, const char *enc, const char *dec, const char *src,
                      const char *coded, const char *back, const char *errfile, double q,
                      ext_result *r, char *err, size_t errlen)
{
    char qs[32], *argv[20];
    encoder_argv(codec, enc, src, coded, q, qs, argv);
    double t0 = bench_now_s();
    if (run_program(argv, errfile, err, errlen)) return -1;
    r->enc_s = bench_now_s() - t0;
    long long size = file_size(coded);
    if (size <= 0) {
        snprintf(err, errlen, "%.300s wrote no file", enc);
        return -1;
    }
    r->bytes = (size_t)size;
    char *dargv[] = {(char *)dec, codec == BENCH_WEBP ? "-quiet" : "-j",
                     codec == BENCH_WEBP ? (char *)coded : "1",
                     codec == BENCH_WEBP ? "-o" : (char *)coded, (char *)back, NULL};
    t0 = bench_now_s();
    if (run_program(dargv, errfile, err, errlen)) return -1;
    r->dec_s = bench_now_s() - t0;
    return 0;
}

int ext_code(int codec, const char *enc, const char *dec, const char *prefix, const char *src,
             double q, int w, int h, ext_result *r, char *err, size_t errlen)
{
    char coded[4200], back[4200], errfile[4200];
    snprintf(coded, sizeof coded, "%s.%s", prefix, codec == BENCH_WEBP ? "webp" : "avif");
    snprintf(back, sizeof back, "%s.out.png", prefix);
    snprintf(errfile, sizeof errfile, "%s.err", prefix);
    memset(r, 0, sizeof *r);
    int rc = code_files(codec, enc, dec, src, coded, back, errfile, q, r, err, errlen);
    if (rc == 0) {
        aec_image img;
        char inner[400];
        if (aec_png_read(back, &img, 0, inner, sizeof inner)) {
            snprintf(err, errlen, "%.300s's output: %s", dec, inner);
            rc = -1;
        } else if (img.width != w || img.height != h) {
            snprintf(err, errlen, "%.300s decoded %dx%d, not %dx%d", dec, img.width, img.height, w,
                     h);
            aec_image_free(&img);
            rc = -1;
        } else {
            r->rgb = img.rgb; /* kept: the rest is freed */
            img.rgb = NULL;
            aec_image_free(&img);
        }
    }
    unlink(coded);
    unlink(back);
    unlink(errfile);
    return rc;
}
