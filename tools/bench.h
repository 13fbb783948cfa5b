/* tools/bench.h - what the parts of `aec bench` share: what it was asked
 * to measure, the measuring (bench_run.c), the measured points of every
 * image and the report written from them (bench_report.c). */
#ifndef AEC_BENCH_H
#define AEC_BENCH_H

#include <stddef.h>

#define BENCH_MAX_SETTINGS 64

/* The command line of `aec bench`. */
typedef struct {
    const char *model, *dir, *out_dir; /* model NULL: the one built into aec */
    int jobs;
    int effort;                       /* aec's encoder effort */
    int refine;                       /* aec_codec.refine_iters; -1: the effort's */
    double aec_q[BENCH_MAX_SETTINGS]; /* aec qualities 0-100 */
    int jpeg_q[BENCH_MAX_SETTINGS];   /* JPEG qualities 1-100 */
    int n_aec, n_jpeg;
} bench_options;

/* One image coded at one setting. */
typedef struct {
    double bytes, bpp, psnr, msssim; /* msssim NAN for images under 176 px a side */
    double enc_s, dec_s;             /* seconds, in this process */
} bench_point;

typedef struct {
    const char *dir;        /* the folder measured */
    const char *model;      /* the model's path, or NULL for the built-in one */
    const char *jpeg_name;  /* "libjpeg-turbo 2.1.5" */
    int jobs;
    int effort;             /* aec's encoder effort */
    int refine;             /* aec's refinement steps; -1: the effort's */
    int n_images;
    char **images;          /* paths of the images under dir, sorted */
    const int *image_ok;    /* 0: the image failed and is left out */
    int n_aec, n_jpeg;
    const double *aec_q;    /* aec qualities 0-100 */
    const int *jpeg_q;      /* JPEG qualities 1-100 */
    /* points[i * (n_aec + n_jpeg) + k]: the aec settings first, then JPEG's */
    const bench_point *points;
    double wall_s;          /* the whole run */
    int jpeg_inputs;        /* images measured that are JPEGs: their reference is
                             * their decoded pixels */
} bench_results;

/* Codes each of the n images (paths) at every setting with o->jobs worker
 * processes: points[i * (n_aec + n_jpeg) + k], the aec settings first.
 * Shows the progress on stderr. image_ok[i] is 0 for an image that could
 * not be read or coded (said on stderr; the others go on). Returns -1 when
 * the model cannot be loaded or a worker failed, after saying why. */
int bench_measure_all(const bench_options *o, char *const *paths, int n, bench_point *points,
                      int *image_ok);

/* Monotonic clock, seconds. */
double bench_now_s(void);

/* bpp window of the BD-rate, as rd.py's default --bpp-window */
#define BENCH_BD_LO 0.1
#define BENCH_BD_HI 2.0

/* Writes summary.md, points.csv and rd.svg into out_dir (made if missing),
 * each atomically. Returns 0, or -1 with a one-line message in err. */
int bench_write_report(const bench_results *r, const char *out_dir, char *err, size_t errlen);

#endif
