/* tools/bench_run.c - the measuring part of `aec bench` (see bench.h).
 *
 * -j N forks N workers, each taking every Nth image and loading its own
 * model; they send their points back through pipes while this process
 * draws the progress. Processes rather than threads because the codec's
 * OpenMP and OpenBLAS thread pools do not nest well, and they are forked
 * before this process has run any parallel code. Every point depends only
 * on its image and setting, so the numbers do not depend on N (the times
 * do). */
#include <errno.h>
#include <omp.h>
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nn/blas.h"
#include "tools/bench.h"
#include "tools/cli.h"
#include "tools/ext_codec.h"
#include "tools/imageio/image_io.h"
#include "tools/imageio/png_io.h"
#include "tools/measure/jpeg_ref.h"
#include "tools/measure/metrics.h"
#include "tools/workers.h"

typedef struct {
    char *const *path;
    int n;
} image_list;

/* ---- a worker: measures its images, sends the points up a pipe ---------- */

enum { REC_POINT, REC_IMAGE_FAILED, REC_FATAL };

typedef struct {
    int32_t kind, image, setting;
    bench_point p;
    char err[512];
} record;

static int send_record(int fd, const record *r)
{
    return workers_send(fd, r, sizeof *r);
}

double bench_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Codes img with aec or JPEG at quality q: the coded size and the decoded
 * pixels, timed. */
static int code_inside(const aec_codec *c, int codec, const aec_image *img, double q,
                       size_t *len, uint8_t **back, int *w, int *h, bench_point *p, char *err,
                       size_t errlen)
{
    uint8_t *coded = NULL;
    double t0 = bench_now_s();
    int rc = codec == BENCH_AEC
                 ? aec_encode(c, img->rgb, img->width, img->height, q, &coded, len, err, errlen)
                 : jpeg_ref_encode(img->rgb, img->width, img->height, (int)q, &coded, len, err,
                                   errlen);
    p->enc_s = bench_now_s() - t0;
    t0 = bench_now_s();
    if (!rc)
        rc = codec == BENCH_AEC ? aec_decode(c, coded, *len, back, w, h, err, errlen)
                                : jpeg_ref_decode(coded, *len, back, w, h, err, errlen);
    p->dec_s = bench_now_s() - t0;
    free(coded);
    return rc;
}

/* Codes one image at setting k and measures it. src: the image as an RGB
 * PNG in the temporary folder, for the programs of WebP and AVIF. */
static int measure(const aec_codec *c, const bench_options *o, const aec_image *img,
                   const char *src, const char *prefix, int k, bench_point *p, char *err,
                   size_t errlen)
{
    uint8_t *back = NULL;
    size_t len = 0;
    int w = img->width, h = img->height, rc, codec;
    int at = bench_setting(&o->sweeps, k, &codec);
    double q = o->sweeps.q[codec][at];
    char inner[512];
    if (codec == BENCH_AEC || codec == BENCH_JPEG) {
        rc = code_inside(c, codec, img, q, &len, &back, &w, &h, p, inner, sizeof inner);
    } else {
        ext_result r;
        rc = ext_code(codec, o->program[codec][0], o->program[codec][1], prefix, src, q, w, h,
                      &r, inner, sizeof inner);
        len = r.bytes;
        back = r.rgb;
        p->enc_s = r.enc_s;
        p->dec_s = r.dec_s;
    }
    if (rc == 0 && (w != img->width || h != img->height)) {
        snprintf(inner, sizeof inner, "decoded %dx%d, not %dx%d", w, h, img->width, img->height);
        rc = -1;
    }
    if (rc == 0) {
        p->bytes = (double)len;
        p->bpp = 8.0 * (double)len / ((double)img->width * img->height);
        p->psnr = aec_psnr(img->rgb, back, (size_t)w * h * 3);
        if (aec_msssim_rgb(img->rgb, back, w, h, &p->msssim)) {
            snprintf(inner, sizeof inner, "out of memory");
            rc = -1;
        }
    }
    free(back);
    if (rc) snprintf(err, errlen, "%s quality %g: %.300s", bench_codec_title(codec), q, inner);
    return rc;
}

/* The image as an RGB PNG at path, what cwebp and avifenc read: without
 * alpha, and for a JPEG input its decoded pixels, as aec and JPEG see it. */
static int write_source(const char *path, const aec_image *img, char *err, size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%.300s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    int rc = aec_png_write_file(f, path, img->rgb, NULL, img->width, img->height, err, errlen);
    if (fclose(f) && !rc) {
        snprintf(err, errlen, "%.300s: cannot write: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc) unlink(path);
    return rc;
}

/* Measures image i at every setting, sending the points (or its failure)
 * up fd. -1 when the parent is gone. */
static int measure_image(const aec_codec *c, const bench_options *o, const image_list *images,
                         int i, const char *prefix, int fd)
{
    record r;
    memset(&r, 0, sizeof r);
    r.image = i;
    aec_image img;
    if (aec_image_read(images->path[i], &img, 0, r.err, sizeof r.err)) {
        r.kind = REC_IMAGE_FAILED;
        return send_record(fd, &r);
    }
    char src[1100] = "", err[400];
    int external = o->sweeps.n[BENCH_WEBP] + o->sweeps.n[BENCH_AVIF] > 0, rc = 0;
    if (external) snprintf(src, sizeof src, "%s.src.png", prefix);
    if (external && write_source(src, &img, err, sizeof err)) {
        r.kind = REC_FATAL; /* the temporary folder fails every image alike */
        snprintf(r.err, sizeof r.err, "%.500s", err);
        rc = send_record(fd, &r);
        aec_image_free(&img);
        return rc ? rc : -1;
    }
    for (int k = 0; k < bench_settings(&o->sweeps); k++) {
        r.setting = k;
        if (measure(c, o, &img, src, prefix, k, &r.p, err, sizeof err)) {
            r.kind = REC_IMAGE_FAILED;
            snprintf(r.err, sizeof r.err, "%.100s: %.390s", images->path[i], err);
            rc = send_record(fd, &r);
            break;
        }
        r.kind = REC_POINT;
        if ((rc = send_record(fd, &r))) break; /* the parent is gone */
    }
    if (external) unlink(src);
    aec_image_free(&img);
    return rc;
}

/* The pool's jobs are the images; what the parent and each worker hold. */
typedef struct {
    const bench_options *o;
    const image_list *images;
    int threads;
    const sigset_t *old_mask;
    int sfd;
    /* a worker's */
    aec_codec c;
    char prefix[1100];
    /* the parent's */
    struct progress *pg;
    bench_point *points;
    int *image_ok, *got;
    int fatal, killed;
} bench_pool;

/* In a worker, before its first image: its threads, and the model. */
static int worker_start(void *ctx, int w, int fd)
{
    bench_pool *b = ctx;
    if (b->sfd >= 0) {
        close(b->sfd);
        sigprocmask(SIG_SETMASK, b->old_mask, NULL);
    }
    nn_blas_set_threads(b->threads);
    record r;
    memset(&r, 0, sizeof r);
    if (cli_load_codec(&b->c, b->o->model, 0, r.err, sizeof r.err)) {
        r.kind = REC_FATAL;
        send_record(fd, &r);
        return -1;
    }
    aec_codec_set_effort(&b->c, b->o->effort);
    if (b->o->refine >= 0) b->c.refine_iters = b->o->refine;
    b->prefix[0] = 0;
    if (b->o->tmp_dir) snprintf(b->prefix, sizeof b->prefix, "%s/w%d", b->o->tmp_dir, w);
    return 0;
}

/* In a worker: image i measured. */
static int worker_run(void *ctx, int i, int fd)
{
    bench_pool *b = ctx;
    return measure_image(&b->c, b->o, b->images, i, b->prefix, fd) ? -1 : 0;
}

/* ---- progress on stderr --------------------------------------------------- */

typedef struct progress {
    int tty;
    double start, last;
    int points, total, images_done, images;
} progress;

static void show_progress(progress *pg, int final)
{
    double t = bench_now_s(), el = t - pg->start;
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

/* ---- the temporary folder of WebP's and AVIF's files ------------------- */

/* $TMPDIR/aec-bench.XXXXXX (or under /tmp), made into dir. */
static int make_tmp_dir(char *dir, size_t len)
{
    const char *t = getenv("TMPDIR");
    if (!t || !*t) t = "/tmp";
    errno = 0;
    if (snprintf(dir, len, "%s/aec-bench.XXXXXX", t) >= (int)len || !mkdtemp(dir)) {
        fprintf(stderr, "aec bench: %s: cannot make a temporary folder: %s\n", dir,
                errno ? strerror(errno) : "path too long");
        return -1;
    }
    return 0;
}

/* The folder and whatever a killed worker or program left in it. */
static void remove_tmp_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4200];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d) closedir(d);
    rmdir(dir);
}

/* Ctrl-C (SIGINT, SIGTERM, SIGHUP) while the programs' files exist: the
 * signals are blocked in this process and read from a signalfd, so that
 * the folder is removed before the signal ends the program. The workers
 * get the old mask back. Returns the fd, or -1 (then there is nothing to
 * undo). */
static int catch_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, old)) return -1;
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) sigprocmask(SIG_SETMASK, old, NULL);
    return fd;
}

/* A caught signal: the workers get it too, the folder goes, and the
 * signal does what it would have done. */
static void die_of_signal(int sfd, const sigset_t *old, const pid_t *pid, int started,
                          const char *tmp_dir)
{
    struct signalfd_siginfo si;
    int sig = read(sfd, &si, sizeof si) == (ssize_t)sizeof si ? (int)si.ssi_signo : SIGTERM;
    for (int w = 0; w < started; w++) kill(pid[w], sig);
    for (int w = 0; w < started; w++)
        while (waitpid(pid[w], NULL, 0) < 0 && errno == EINTR) {}
    remove_tmp_dir(tmp_dir);
    signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, old, NULL);
    raise(sig);
    _exit(128 + sig); /* a signal blocked before this program started */
}

/* ---- the parent: the workers' points gathered ----------------------------- */

/* A record from a worker: the point into points, a failed image into
 * image_ok, the progress on stderr. 1 (stop) for a fatal error. */
static int got_record(void *ctx, int job, const void *data, size_t len)
{
    bench_pool *b = ctx;
    const bench_options *o = b->o;
    progress *pg = b->pg;
    int settings = bench_settings(&o->sweeps);
    record r;
    (void)job;
    if (len != sizeof r) return 0;
    memcpy(&r, data, sizeof r);
    if (r.kind == REC_FATAL) {
        if (!b->fatal) fprintf(stderr, "%saec bench: %s\n", pg->tty ? "\n" : "", r.err);
        b->fatal = 1;
        return 1;
    }
    if (r.image < 0 || r.image >= b->images->n || r.setting < 0 || r.setting >= settings) return 0;
    if (r.kind == REC_IMAGE_FAILED) {
        fprintf(stderr, "%saec bench: %s\n", pg->tty ? "\n" : "", r.err);
        b->image_ok[r.image] = 0;
        pg->points += settings - b->got[r.image];
        b->got[r.image] = settings;
        pg->images_done++;
    } else {
        b->points[(size_t)r.image * (size_t)settings + (size_t)r.setting] = r.p;
        b->got[r.image]++;
        pg->points++;
        if (b->got[r.image] == settings) pg->images_done++;
    }
    show_progress(pg, 0);
    return 0;
}

/* A worker killed in an image: said (the image is missing, below). */
static void image_done(void *ctx, int job, int lost, int status)
{
    bench_pool *b = ctx;
    (void)job;
    if (lost && WIFSIGNALED(status)) {
        fprintf(stderr, "%saec bench: a worker was killed by signal %d (%s)\n",
                b->pg->tty ? "\n" : "", WTERMSIG(status), strsignal(WTERMSIG(status)));
        b->killed = 1;
    }
}

/* Ctrl-C: the workers get it too, the temporary folder goes. */
static void caught_signal(void *ctx, const pid_t *pid, int n)
{
    bench_pool *b = ctx;
    if (b->pg->tty) fputc('\n', stderr);
    die_of_signal(b->sfd, b->old_mask, pid, n, b->o->tmp_dir);
}

int bench_measure_all(const bench_options *o, char *const *paths, int n, bench_point *points,
                      int *image_ok)
{
    const image_list list = {paths, n}, *images = &list;
    bench_options wo = *o; /* what the workers are given */
    int settings = bench_settings(&o->sweeps);
    wo.jobs = o->jobs < images->n ? o->jobs : images->n;
    int threads = omp_get_max_threads() / wo.jobs;
    int *got = calloc((size_t)images->n, sizeof *got);
    if (!got) {
        fprintf(stderr, "aec bench: out of memory\n");
        return -1;
    }
    for (int i = 0; i < images->n; i++) image_ok[i] = 1;
    char tmp_dir[4096];
    int sfd = -1, rc = 0;
    sigset_t old_mask;
    wo.tmp_dir = NULL;
    if (o->sweeps.n[BENCH_WEBP] + o->sweeps.n[BENCH_AVIF] > 0) {
        if (make_tmp_dir(tmp_dir, sizeof tmp_dir)) rc = -1;
        else wo.tmp_dir = tmp_dir, sfd = catch_signals(&old_mask);
    }
    progress pg = {isatty(2), bench_now_s(), 0, 0, images->n * settings, 0, images->n};
    pg.last = pg.start;
    bench_pool b;
    memset(&b, 0, sizeof b);
    b.o = &wo;
    b.images = images;
    b.threads = threads;
    b.old_mask = &old_mask;
    b.sfd = sfd;
    b.pg = &pg;
    b.points = points;
    b.image_ok = image_ok;
    b.got = got;
    workers_spec spec = {images->n, wo.jobs, &b, worker_start, worker_run, got_record, image_done,
                         sfd, caught_signal, "aec bench"};
    if (!rc) {
        workers_run(&spec);
        if (!b.fatal) show_progress(&pg, 1);
        if (b.fatal || b.killed) rc = -1;
    }
    /* an image with points missing was not finished: its worker stopped */
    for (int i = 0; i < images->n && rc == 0; i++)
        if (got[i] != settings) {
            fprintf(stderr, "aec bench: %s: the worker stopped before it was measured\n",
                    images->path[i]);
            rc = -1;
        }
    if (wo.tmp_dir) remove_tmp_dir(wo.tmp_dir);
    if (sfd >= 0) {
        close(sfd);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
    }
    free(got);
    return rc;
}
