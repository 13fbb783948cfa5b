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
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "blas.h"
#include "cli.h"
#include "jpeg_ref.h"
#include "metrics.h"
#include "image_io.h"

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
    /* one write: a record is below PIPE_BUF, so it arrives whole */
    ssize_t n;
    do n = write(fd, r, sizeof *r);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof *r ? 0 : -1;
}

double bench_now_s(void)
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
    double t0 = bench_now_s();
    if (k < o->n_aec) {
        rc = aec_encode(c, img->rgb, img->width, img->height, o->aec_q[k], &coded, &len, inner,
                        sizeof inner);
        p->enc_s = bench_now_s() - t0;
        t0 = bench_now_s();
        if (!rc) rc = aec_decode(c, coded, len, &back, &w, &h, inner, sizeof inner);
    } else {
        int q = o->jpeg_q[k - o->n_aec];
        rc = jpeg_ref_encode(img->rgb, img->width, img->height, q, &coded, &len, inner,
                             sizeof inner);
        p->enc_s = bench_now_s() - t0;
        t0 = bench_now_s();
        if (!rc) rc = jpeg_ref_decode(coded, len, &back, &w, &h, inner, sizeof inner);
    }
    p->dec_s = bench_now_s() - t0;
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

static void run_worker(const bench_options *o, const image_list *images, int first, int fd,
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
    aec_codec_set_effort(&c, o->effort);
    if (o->refine >= 0) c.refine_iters = o->refine;
    int settings = o->n_aec + o->n_jpeg;
    for (int i = first; i < images->n; i += o->jobs) {
        aec_image img;
        memset(&r, 0, sizeof r);
        r.image = i;
        if (aec_image_read(images->path[i], &img, 0, r.err, sizeof r.err)) {
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

int bench_measure_all(const bench_options *o, char *const *paths, int n, bench_point *points,
                      int *image_ok)
{
    const image_list list = {paths, n}, *images = &list;
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
    progress pg = {isatty(2), bench_now_s(), 0, 0, images->n * settings, 0, images->n};
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
