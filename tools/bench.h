/* tools/bench.h - what the parts of `aec bench` share: what it was asked
 * to measure, the measuring (bench_run.c), the measured points of every
 * image and the report written from them (bench_report.c). */
#ifndef AEC_BENCH_H
#define AEC_BENCH_H

#include <stddef.h>

#define BENCH_MAX_SETTINGS 64

/* The codecs, in the order of their settings in points[] and the report. */
enum { BENCH_AEC, BENCH_JPEG, BENCH_WEBP, BENCH_AVIF, BENCH_CODECS };

/* "aec", "jpeg", "webp", "avif": as --codecs and points.csv spell them */
const char *bench_codec_name(int codec);
/* "aec", "JPEG", "WebP", "AVIF": as the report titles them */
const char *bench_codec_title(int codec);

/* The settings of every codec: aec qualities 0-100, JPEG 1-100, WebP
 * (cwebp -q) 0-100, AVIF avifenc cq-levels 0-63 (lower is better). A
 * codec with none is not measured. */
typedef struct {
    int n[BENCH_CODECS];
    double q[BENCH_CODECS][BENCH_MAX_SETTINGS];
} bench_sweeps;

/* All the codecs' settings together. */
int bench_settings(const bench_sweeps *s);
/* Setting k of all of them: its codec into *codec, its place in that
 * codec's sweep returned. */
int bench_setting(const bench_sweeps *s, int k, int *codec);
/* Where codec's settings start among all of them. */
int bench_first(const bench_sweeps *s, int codec);

/* The command line of `aec bench`. */
typedef struct {
    const char *model, *dir, *out_dir; /* model NULL: the one built into aec */
    int jobs;
    int effort;                       /* aec's encoder effort */
    int refine;                       /* aec_codec.refine_iters; -1: the effort's */
    bench_sweeps sweeps;
    double bd_lo, bd_hi;              /* the BD-rate's bpp window */
    /* the programs of WebP and AVIF, found on PATH: [codec][0] encodes,
     * [1] decodes */
    char program[BENCH_CODECS][2][1024];
    const char *tmp_dir;              /* their files' folder: bench_measure_all's */
} bench_options;

/* One image coded at one setting. */
typedef struct {
    double bytes, bpp, psnr, msssim; /* msssim NAN for images under 176 px a side */
    double enc_s, dec_s;             /* seconds: in this process for aec and JPEG,
                                      * the programs' run for WebP and AVIF */
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
    const bench_sweeps *sweeps;
    double bd_lo, bd_hi;    /* the BD-rate's bpp window */
    const char *encoder[BENCH_CODECS]; /* the programs of WebP and AVIF */
    const char *skipped[BENCH_CODECS]; /* why a codec not named in --codecs was
                                        * left out, or NULL */
    /* points[i * bench_settings(sweeps) + k], the codecs in enum order */
    const bench_point *points;
    double wall_s;          /* the whole run */
    int jpeg_inputs;        /* images measured that are JPEGs: their reference is
                             * their decoded pixels */
} bench_results;

/* Codes each of the n images (paths) at every setting with o->jobs worker
 * processes: points[i * bench_settings(&o->sweeps) + k]. WebP and AVIF
 * run their programs on files in a temporary folder, removed at the end.
 * Shows the progress on stderr. image_ok[i] is 0 for an image that could
 * not be read or coded (said on stderr; the others go on). Returns -1 when
 * the model cannot be loaded or a worker failed, after saying why. */
int bench_measure_all(const bench_options *o, char *const *paths, int n, bench_point *points,
                      int *image_ok);

/* Monotonic clock, seconds. */
double bench_now_s(void);

/* bpp window of the BD-rate by default, as rd.py's default --bpp-window */
#define BENCH_BD_LO 0.1
#define BENCH_BD_HI 2.0

/* Writes summary.md, points.csv and rd.svg into out_dir (made if missing),
 * each atomically. Returns 0, or -1 with a one-line message in err. */
int bench_write_report(const bench_results *r, const char *out_dir, char *err, size_t errlen);

#endif
