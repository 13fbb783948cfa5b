/* tools/aec_bench.c - `aec bench`: aec against JPEG on a folder of PNGs.
 *
 * Every image is coded at each aec quality and each JPEG quality (JPEG
 * through libjpeg-turbo, linked in); per point the size, PSNR, MS-SSIM and
 * coding times are measured, and the report (bench_report.c) gives the
 * mean curves, the BD-rate against JPEG, the file sizes at equal PSNR,
 * points.csv and rd.svg.
 *
 * -j N forks N workers, each taking every Nth image and loading its own
 * model; they send their points back through pipes. Processes rather than
 * threads because the codec's OpenMP and OpenBLAS thread pools do not
 * nest well, and they are forked before this process has run any parallel
 * code. Every point depends only on its image and setting, so the numbers
 * do not depend on N (the times do). */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "bench.h"
#include "blas.h"
#include "cli.h"
#include "jpeg_ref.h"
#include "metrics.h"
#include "png_io.h"
#include "tools.h"

#define MAX_SETTINGS 64

static const char default_aec[] = "0,12.5,25,37.5,50,62.5,75,87.5,100";
static const char default_jpeg[] = "5,15,25,35,45,55,65,75,85,95,98";

typedef struct {
    const char *model, *dir, *out_dir;
    int jobs;
    double aec_q[MAX_SETTINGS];
    int jpeg_q[MAX_SETTINGS];
    int n_aec, n_jpeg;
} bench_options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aec bench [-m MODEL] DIR [-o REPORT_DIR] [-j N] [--qualities LIST]\n"
            "                 [--jpeg-qualities LIST]\n"
            "  Codes every PNG under DIR (recursively) with aec and with JPEG at a sweep of\n"
            "  qualities and writes REPORT_DIR/summary.md (mean curves, BD-rate against\n"
            "  JPEG, file sizes at equal PSNR), points.csv (every point) and rd.svg (the\n"
            "  rate-distortion curves). PSNR and MS-SSIM are computed on RGB as\n"
            "  ../shared/bench/rd.py does; an alpha plane is ignored, as rd.py does.\n"
            "  -m MODEL               model file (default: the one built into aec)\n"
            "  -o REPORT_DIR          default ./aec-bench-report\n"
            "  -j N                   images measured in parallel (default 1)\n"
            "  --qualities LIST       aec qualities 0-100 (default %s)\n"
            "  --jpeg-qualities LIST  JPEG qualities 1-100 (default %s);\n"
            "                         JPEG is libjpeg-turbo as `cjpeg -optimize` (4:2:0)\n",
            default_aec, default_jpeg);
}

/* "a,b,c" -> numbers in [lo, hi] (whole numbers when integral). */
static int parse_list(const char *opt, const char *s, double lo, double hi, int integral,
                      double *out, int *n)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !(v >= lo && v <= hi) || (integral && v != floor(v)) ||
            (*end && *end != ',') || *n == MAX_SETTINGS) {
            fprintf(stderr, "aec bench: %s: '%s' is not a list of up to %d %s from %g to %g\n",
                    opt, s, MAX_SETTINGS, integral ? "whole numbers" : "numbers", lo, hi);
            return -1;
        }
        out[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) {
        fprintf(stderr, "aec bench: %s: the list is empty\n", opt);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, bench_options *o)
{
    memset(o, 0, sizeof *o);
    o->out_dir = "aec-bench-report";
    o->jobs = 1;
    const char *aec_list = default_aec, *jpeg_list = default_jpeg;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        int takes_value = !strcmp(a, "-m") || !strcmp(a, "-o") || !strcmp(a, "-j") ||
                          !strcmp(a, "--qualities") || !strcmp(a, "--jpeg-qualities");
        if (takes_value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "aec bench: %s needs a value\n", a);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "-m")) o->model = v;
            else if (!strcmp(a, "-o")) o->out_dir = v;
            else if (!strcmp(a, "--qualities")) aec_list = v;
            else if (!strcmp(a, "--jpeg-qualities")) jpeg_list = v;
            else {
                char *end;
                long j = strtol(v, &end, 10);
                if (*end || j < 1 || j > 256) {
                    fprintf(stderr, "aec bench: -j: '%s' is not a number of jobs from 1 to 256\n", v);
                    return -1;
                }
                o->jobs = (int)j;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "aec bench: unknown option '%s' (try aec bench --help)\n", a);
            return -1;
        } else if (o->dir) {
            fprintf(stderr, "aec bench: one folder only ('%s' and '%s')\n", o->dir, a);
            return -1;
        } else {
            o->dir = a;
        }
    }
    if (!o->dir) {
        fprintf(stderr, "aec bench: no folder given (try aec bench --help)\n");
        return -1;
    }
    double jq[MAX_SETTINGS];
    if (parse_list("--qualities", aec_list, 0, 100, 0, o->aec_q, &o->n_aec) ||
        parse_list("--jpeg-qualities", jpeg_list, 1, 100, 1, jq, &o->n_jpeg))
        return -1;
    for (int k = 0; k < o->n_jpeg; k++) o->jpeg_q[k] = (int)jq[k];
    return 0;
}

/* ---- the images: every *.png under the folder, sorted ------------------- */

typedef struct {
    char **path;
    int n, cap;
} path_list;

static int add_path(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **a = realloc(l->path, (size_t)cap * sizeof *a);
        if (!a) return -1;
        l->path = a;
        l->cap = cap;
    }
    if (!(l->path[l->n] = strdup(p))) return -1;
    l->n++;
    return 0;
}

static void free_paths(path_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->path[i]);
    free(l->path);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

/* Hidden files and folders are skipped; the order is that of the names,
 * folder by folder, so the report does not depend on the file system. */
static int find_pngs(const char *dir, path_list *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return -1;
    }
    path_list names = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && add_path(&names, e->d_name)) {
            rc = -1;
            snprintf(err, errlen, "out of memory");
            break;
        }
    closedir(d);
    if (names.n) qsort(names.path, (size_t)names.n, sizeof *names.path, by_name);
    for (int i = 0; i < names.n && !rc; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, names.path[i]) >= (int)sizeof path) {
            snprintf(err, errlen, "%.300s/%.300s: path too long", dir, names.path[i]);
            rc = -1;
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) continue; /* a dangling link */
        if (S_ISDIR(st.st_mode)) rc = find_pngs(path, out, err, errlen);
        else if (is_png_name(names.path[i]) && add_path(out, path)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    free_paths(&names);
    return rc;
}

/* ---- a worker: measures its images, sends the points up a pipe ---------- */

enum { REC_POINT, REC_IMAGE_FAILED, REC_FATAL };

typedef struct {
    int32_t kind, image, setting;
    bench_point p;
    char err[512];
} record;

static int send_record(int fd, const record *r)
{
    /* one write: a record is below PIPE_BUF, so it arrives whole */
    ssize_t n;
    do n = write(fd, r, sizeof *r);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *r ? 0 : -1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Codes one image at setting k (aec first, then JPEG) and measures it. */
static int measure(const aec_codec *c, const bench_options *o, const aec_image *img, int k,
                   bench_point *p, char *err, size_t errlen)
{
    uint8_t *coded = NULL, *back = NULL;
    size_t len = 0;
    int w = 0, h = 0, rc;
    char inner[512];
    double t0 = now_s();
    if (k < o->n_aec) {
        rc = aec_encode(c, img->rgb, img->width, img->height, o->aec_q[k], &coded, &len, inner,
                        sizeof inner);
        p->enc_s = now_s() - t0;
        t0 = now_s();
        if (!rc) rc = aec_decode(c, coded, len, &back, &w, &h, inner, sizeof inner);
    } else {
        int q = o->jpeg_q[k - o->n_aec];
        rc = jpeg_ref_encode(img->rgb, img->width, img->height, q, &coded, &len, inner,
                             sizeof inner);
        p->enc_s = now_s() - t0;
        t0 = now_s();
        if (!rc) rc = jpeg_ref_decode(coded, len, &back, &w, &h, inner, sizeof inner);
    }
    p->dec_s = now_s() - t0;
    free(coded);
    if (rc == 0 && (w != img->width || h != img->height)) {
        snprintf(inner, sizeof inner, "decoded %dx%d, not %dx%d", w, h, img->width, img->height);
        rc = -1;
    }
    if (rc == 0) {
        p->bytes = (double)len;
        p->bpp = 8.0 * (double)len / ((double)img->width * img->height);
        p->psnr = aec_psnr_rgb(img->rgb, back, w, h);
        if (aec_msssim_rgb(img->rgb, back, w, h, &p->msssim)) {
            snprintf(inner, sizeof inner, "out of memory");
            rc = -1;
        }
    }
    free(back);
    if (rc) {
        if (k < o->n_aec) snprintf(err, errlen, "aec quality %g: %.300s", o->aec_q[k], inner);
        else snprintf(err, errlen, "JPEG quality %d: %.300s", o->jpeg_q[k - o->n_aec], inner);
    }
    return rc;
}

static void run_worker(const bench_options *o, const path_list *images, int first, int fd,
                       int threads)
{
    nn_blas_set_threads(threads);
    record r;
    memset(&r, 0, sizeof r);
    aec_codec c;
    if (cli_load_codec(&c, o->model, 0, r.err, sizeof r.err)) {
        r.kind = REC_FATAL;
        send_record(fd, &r);
        return;
    }
    int settings = o->n_aec + o->n_jpeg;
    for (int i = first; i < images->n; i += o->jobs) {
        aec_image img;
        memset(&r, 0, sizeof r);
        r.image = i;
        if (aec_png_read(images->path[i], &img, 0, r.err, sizeof r.err)) {
            r.kind = REC_IMAGE_FAILED;
            if (send_record(fd, &r)) break;
            continue;
        }
        for (int k = 0; k < settings; k++) {
            char err[400];
            r.setting = k;
            if (measure(&c, o, &img, k, &r.p, err, sizeof err)) {
                r.kind = REC_IMAGE_FAILED;
                snprintf(r.err, sizeof r.err, "%.100s: %.390s", images->path[i], err);
                send_record(fd, &r);
                break;
            }
            r.kind = REC_POINT;
            if (send_record(fd, &r)) break; /* the parent is gone */
        }
        aec_image_free(&img);
    }
    aec_codec_free(&c);
}

/* ---- progress on stderr --------------------------------------------------- */

typedef struct {
    int tty;
    double start, last;
    int points, total, images_done, images;
} progress;

static void show_progress(progress *pg, int final)
{
    double t = now_s(), el = t - pg->start;
    if (pg->tty) {
        if (!final && t - pg->last < 0.2) return;
        int width = 30, fill = pg->total ? (int)((long)width * pg->points / pg->total) : width;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\raec bench: [%s] %3d%%  %d/%d images  %d:%02d", bar,
                pg->total ? 100 * pg->points / pg->total : 100, pg->images_done, pg->images,
                (int)el / 60, (int)el % 60);
        if (pg->points > 0 && !final) {
            int left = (int)(el * (pg->total - pg->points) / pg->points);
            fprintf(stderr, ", ~%d:%02d left ", left / 60, left % 60);
        } else {
            fprintf(stderr, "%15s", "");
        }
        if (final) fputc('\n', stderr);
    } else {
        /* a log: a line at most every 10 seconds, and the last one */
        if (!final && t - pg->last < 10) return;
        fprintf(stderr, "aec bench: %d/%d images, %d/%d points, %.0f s\n", pg->images_done,
                pg->images, pg->points, pg->total, el);
    }
    pg->last = t;
}

/* ---- the parent: forks the workers, gathers the points -------------------- */

static int read_record(int fd, record *r)
{
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(fd, (char *)r + got, sizeof *r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1; /* the worker finished (or died) */
        got += (size_t)n;
    }
    return 0;
}

/* Runs the workers; fills points and image_ok. Returns -1 when a worker
 * could not start or stopped, after printing why. */
static int gather(const bench_options *o, const path_list *images, bench_point *points,
                  int *image_ok)
{
    int settings = o->n_aec + o->n_jpeg, jobs = o->jobs < images->n ? o->jobs : images->n;
    int threads = omp_get_max_threads() / jobs;
    pid_t *pid = calloc((size_t)jobs, sizeof *pid);
    struct pollfd *fds = calloc((size_t)jobs, sizeof *fds);
    int *got = calloc((size_t)images->n, sizeof *got);
    if (!pid || !fds || !got) {
        fprintf(stderr, "aec bench: out of memory\n");
        free(pid);
        free(fds);
        free(got);
        return -1;
    }
    bench_options worker_opts = *o;
    worker_opts.jobs = jobs;
    fflush(NULL);
    int rc = 0, started = 0;
    for (int w = 0; w < jobs; w++) {
        int p[2];
        if (pipe(p)) {
            fprintf(stderr, "aec bench: cannot make a pipe: %s\n", strerror(errno));
            rc = -1;
            break;
        }
        pid[w] = fork();
        if (pid[w] < 0) {
            fprintf(stderr, "aec bench: cannot start a worker: %s\n", strerror(errno));
            close(p[0]);
            close(p[1]);
            rc = -1;
            break;
        }
        if (pid[w] == 0) {
            for (int k = 0; k < w; k++) close(fds[k].fd);
            close(p[0]);
            run_worker(&worker_opts, images, w, p[1], threads);
            close(p[1]);
            _exit(0);
        }
        close(p[1]);
        fds[w].fd = p[0];
        fds[w].events = POLLIN;
        started++;
    }
    progress pg = {isatty(2), now_s(), 0, 0, images->n * settings, 0, images->n};
    pg.last = pg.start;
    int open_pipes = started, fatal = 0;
    for (int i = 0; i < images->n; i++) image_ok[i] = 1;
    while (open_pipes > 0) {
        if (poll(fds, (nfds_t)started, -1) < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "aec bench: poll: %s\n", strerror(errno));
            rc = -1;
            break;
        }
        for (int w = 0; w < started; w++) {
            if (fds[w].fd < 0 || !(fds[w].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            record r;
            if (read_record(fds[w].fd, &r)) {
                close(fds[w].fd);
                fds[w].fd = -1;
                open_pipes--;
                continue;
            }
            if (r.kind == REC_FATAL) {
                if (!fatal) fprintf(stderr, "%saec bench: %s\n", pg.tty ? "\n" : "", r.err);
                fatal = 1;
                continue;
            }
            if (r.image < 0 || r.image >= images->n || r.setting < 0 || r.setting >= settings)
                continue;
            if (r.kind == REC_IMAGE_FAILED) {
                fprintf(stderr, "%saec bench: %s\n", pg.tty ? "\n" : "", r.err);
                image_ok[r.image] = 0;
                pg.points += settings - got[r.image];
                got[r.image] = settings;
                pg.images_done++;
            } else {
                points[(size_t)r.image * (size_t)settings + (size_t)r.setting] = r.p;
                got[r.image]++;
                pg.points++;
                if (got[r.image] == settings) pg.images_done++;
            }
            show_progress(&pg, 0);
        }
    }
    if (!fatal) show_progress(&pg, 1);
    for (int w = 0; w < started; w++) {
        if (fds[w].fd >= 0) close(fds[w].fd);
        int status;
        while (waitpid(pid[w], &status, 0) < 0 && errno == EINTR) {}
        if (WIFSIGNALED(status)) {
            fprintf(stderr, "aec bench: a worker was killed by signal %d (%s)\n", WTERMSIG(status),
                    strsignal(WTERMSIG(status)));
            rc = -1;
        }
    }
    /* an image with points missing was not finished: its worker stopped */
    for (int i = 0; i < images->n && !fatal && rc == 0; i++)
        if (got[i] != settings) {
            fprintf(stderr, "aec bench: %s: the worker stopped before it was measured\n",
                    images->path[i]);
            rc = -1;
        }
    if (fatal) rc = -1;
    free(pid);
    free(fds);
    free(got);
    return rc;
}

int aec_cmd_bench(int argc, char **argv)
{
    bench_options o;
    if (parse_args(argc, argv, &o)) return AEC_EXIT_USAGE;
    path_list images = {0};
    char err[1024];
    struct stat st;
    if (stat(o.dir, &st) != 0) {
        fprintf(stderr, "aec bench: %s: cannot open: %s\n", o.dir, strerror(errno));
        return AEC_EXIT_DATA;
    }
    int listed = S_ISDIR(st.st_mode) ? find_pngs(o.dir, &images, err, sizeof err)
                                     : add_path(&images, o.dir);
    if (listed) {
        fprintf(stderr, "aec bench: %s\n", S_ISDIR(st.st_mode) ? err : "out of memory");
        free_paths(&images);
        return AEC_EXIT_DATA;
    }
    if (images.n == 0) {
        fprintf(stderr, "aec bench: %s: no .png files in it\n", o.dir);
        free_paths(&images);
        return AEC_EXIT_DATA;
    }
    int settings = o.n_aec + o.n_jpeg;
    bench_point *points = calloc((size_t)images.n * (size_t)settings, sizeof *points);
    int *image_ok = calloc((size_t)images.n, sizeof *image_ok);
    char **names = calloc((size_t)images.n, sizeof *names);
    if (!points || !image_ok || !names) {
        fprintf(stderr, "aec bench: out of memory\n");
        free(points);
        free(image_ok);
        free(names);
        free_paths(&images);
        return AEC_EXIT_SYSTEM;
    }
    double t0 = now_s();
    int rc = gather(&o, &images, points, image_ok) ? AEC_EXIT_DATA : AEC_EXIT_OK;
    int failed = 0;
    for (int i = 0; i < images.n; i++) failed += !image_ok[i];
    if (rc == AEC_EXIT_OK) {
        /* names in the report: relative to the folder given */
        size_t skip = S_ISDIR(st.st_mode) ? strlen(o.dir) + 1 : 0;
        for (int i = 0; i < images.n; i++) names[i] = images.path[i] + skip;
        bench_results r = {o.dir,      o.model,  jpeg_ref_version(), o.jobs, images.n, names,
                           image_ok,   o.n_aec,  o.n_jpeg,           o.aec_q, o.jpeg_q, points,
                           now_s() - t0};
        if (bench_write_report(&r, o.out_dir, err, sizeof err)) {
            fprintf(stderr, "aec bench: %s\n", err);
            rc = AEC_EXIT_SYSTEM;
        } else {
            printf("aec bench: %d images measured%s; report in %s/ (summary.md, points.csv, "
                   "rd.svg)\n", images.n - failed, failed ? " (some failed, see above)" : "",
                   o.out_dir);
            if (failed) rc = AEC_EXIT_DATA;
        }
    }
    free(points);
    free(image_ok);
    free(names);
    free_paths(&images);
    return rc;
}
