/* tools/bench.h - what the parts of `aec bench` share: the measured points
 * of every image and the report written from them (bench_report.c). */
#ifndef AEC_BENCH_H
#define AEC_BENCH_H

#include <stddef.h>

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
    int n_images;
    char **images;          /* paths of the images under dir, sorted */
    const int *image_ok;    /* 0: the image failed and is left out */
    int n_aec, n_jpeg;
    const double *aec_q;    /* aec qualities 0-100 */
    const int *jpeg_q;      /* JPEG qualities 1-100 */
    /* points[i * (n_aec + n_jpeg) + k]: the aec settings first, then JPEG's */
    const bench_point *points;
    double wall_s;          /* the whole run */
} bench_results;

/* bpp window of the BD-rate, as rd.py's default --bpp-window */
#define BENCH_BD_LO 0.1
#define BENCH_BD_HI 2.0

/* Writes summary.md, points.csv and rd.svg into out_dir (made if missing),
 * each atomically. Returns 0, or -1 with a one-line message in err. */
int bench_write_report(const bench_results *r, const char *out_dir, char *err, size_t errlen);

#endif
