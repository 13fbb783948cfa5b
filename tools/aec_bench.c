/* tools/aec_bench.c - `aec bench`: aec against JPEG on a folder of PNG or
 * JPEG images.
 *
 * Every image is coded at each aec quality and each JPEG quality (JPEG
 * through libjpeg-turbo, linked in); per point the size, PSNR, MS-SSIM and
 * coding times are measured, and the report (bench_report.c) gives the
 * mean curves, the BD-rate against JPEG, the file sizes at equal PSNR,
 * points.csv and rd.svg. This file reads the command line and finds the
 * images; bench_run.c measures them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <dirent.h>

#include "bench.h"
#include "codec.h"
#include "image_io.h"
#include "image_list.h"
#include "jpeg_ref.h"
#include "tools.h"

static const char default_aec[] = "0,12.5,25,37.5,50,62.5,75,87.5,100";
static const char default_jpeg[] = "5,15,25,35,45,55,65,75,85,95,98";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aec bench [-m MODEL] DIR [-o REPORT_DIR] [-j N] [--qualities LIST]\n"
            "                 [--jpeg-qualities LIST]\n"
            "  Codes every PNG and JPEG under DIR (recursively; *.png, *.jpg, *.jpeg) with\n"
            "  aec and with JPEG at a sweep of qualities and writes REPORT_DIR/summary.md\n"
            "  (mean curves, BD-rate against JPEG, file sizes at equal PSNR), points.csv\n"
            "  (every point) and rd.svg (the rate-distortion curves). PSNR and MS-SSIM are\n"
            "  computed on RGB as ../shared/bench/rd.py does; an alpha plane is ignored, as\n"
            "  rd.py does. A JPEG input's reference is its decoded pixels (EXIF orientation\n"
            "  applied).\n"
            "  -m MODEL               model file (default: the one built into aec)\n"
            "  -o REPORT_DIR          default ./aec-bench-report\n"
            "  -j N                   images measured in parallel (default 1)\n"
            "  -e, --effort E         aec's encoder effort 0-%d (default %d, as aec encode)\n"
            "  --refine N             aec's final refinement steps, instead of the effort's\n"
            "  --qualities LIST       aec qualities 0-100 (default %s)\n"
            "  --jpeg-qualities LIST  JPEG qualities 1-100 (default %s);\n"
            "                         JPEG is libjpeg-turbo as `cjpeg -optimize` (4:2:0)\n",
            AEC_EFFORT_MAX, AEC_EFFORT_DEFAULT, default_aec, default_jpeg);
}

/* v -> a whole number in [lo, hi] into *out; -1 with a message naming opt */
static int parse_count(const char *opt, const char *v, long lo, long hi, const char *what, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < lo || n > hi) {
        fprintf(stderr, "aec bench: %s: '%s' is not a number of %s from %ld to %ld\n", opt, v, what,
                lo, hi);
        return -1;
    }
    *out = (int)n;
    return 0;
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
            (*end && *end != ',') || *n == BENCH_MAX_SETTINGS) {
            fprintf(stderr, "aec bench: %s: '%s' is not a list of up to %d %s from %g to %g\n",
                    opt, s, BENCH_MAX_SETTINGS, integral ? "whole numbers" : "numbers", lo, hi);
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
    o->effort = AEC_EFFORT_DEFAULT;
    o->refine = -1;
    const char *aec_list = default_aec, *jpeg_list = default_jpeg;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        int takes_value = !strcmp(a, "-m") || !strcmp(a, "-o") || !strcmp(a, "-j") ||
                          !strcmp(a, "--qualities") || !strcmp(a, "--jpeg-qualities") ||
                          !strcmp(a, "--refine") || !strcmp(a, "-e") || !strcmp(a, "--effort");
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
            else if (!strcmp(a, "--refine")) {
                if (parse_count("--refine", v, 0, 1000, "steps", &o->refine)) return -1;
            } else if (!strcmp(a, "-e") || !strcmp(a, "--effort")) {
                if (parse_count(a, v, 0, AEC_EFFORT_MAX, "effort", &o->effort)) return -1;
            } else if (parse_count("-j", v, 1, 256, "jobs", &o->jobs)) {
                return -1;
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
    double jq[BENCH_MAX_SETTINGS];
    if (parse_list("--qualities", aec_list, 0, 100, 0, o->aec_q, &o->n_aec) ||
        parse_list("--jpeg-qualities", jpeg_list, 1, 100, 1, jq, &o->n_jpeg))
        return -1;
    for (int k = 0; k < o->n_jpeg; k++) o->jpeg_q[k] = (int)jq[k];
    return 0;
}

/* How many of the images measured are JPEGs (by their first bytes, as
 * they were read). */
static int count_jpegs(const image_list *images, const int *image_ok)
{
    int n = 0;
    for (int i = 0; i < images->n; i++)
        n += image_ok[i] && aec_image_file_format(images->path[i]) == AEC_IMAGE_JPEG;
    return n;
}

int aec_cmd_bench(int argc, char **argv)
{
    bench_options o;
    if (parse_args(argc, argv, &o)) return AEC_EXIT_USAGE;
    image_list images = {0};
    char err[1024];
    struct stat st;
    if (stat(o.dir, &st) != 0) {
        fprintf(stderr, "aec bench: %s: cannot open: %s\n", o.dir, strerror(errno));
        return AEC_EXIT_DATA;
    }
    int listed = S_ISDIR(st.st_mode) ? image_list_find(o.dir, &images, err, sizeof err)
                                     : image_list_add(&images, o.dir);
    if (listed) {
        fprintf(stderr, "aec bench: %s\n", S_ISDIR(st.st_mode) ? err : "out of memory");
        image_list_free(&images);
        return AEC_EXIT_DATA;
    }
    if (images.n == 0) {
        fprintf(stderr, "aec bench: %s: no " AEC_IMAGE_KINDS " files in it\n", o.dir);
        image_list_free(&images);
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
        image_list_free(&images);
        return AEC_EXIT_SYSTEM;
    }
    double t0 = bench_now_s();
    int rc = bench_measure_all(&o, images.path, images.n, points, image_ok) ? AEC_EXIT_DATA : AEC_EXIT_OK;
    int failed = 0;
    for (int i = 0; i < images.n; i++) failed += !image_ok[i];
    if (rc == AEC_EXIT_OK) {
        /* names in the report: relative to the folder given */
        size_t dl = strlen(o.dir);
        size_t skip = !S_ISDIR(st.st_mode) ? 0 : dl && o.dir[dl - 1] == '/' ? dl : dl + 1;
        for (int i = 0; i < images.n; i++) names[i] = images.path[i] + skip;
        bench_results r = {o.dir,      o.model,  jpeg_ref_version(), o.jobs, o.effort, o.refine, images.n, names,
                           image_ok,   o.n_aec,  o.n_jpeg,           o.aec_q, o.jpeg_q, points,
                           bench_now_s() - t0, count_jpegs(&images, image_ok)};
        if (bench_write_report(&r, o.out_dir, err, sizeof err)) {
            fprintf(stderr, "aec bench: %s\n", err);
            rc = AEC_EXIT_SYSTEM;
        } else {
            int measured = images.n - failed;
            printf("aec bench: %d image%s measured%s; report in %s/ (summary.md, points.csv, "
                   "rd.svg)\n", measured, measured == 1 ? "" : "s",
                   failed ? " (some failed, see above)" : "", o.out_dir);
            if (failed) rc = AEC_EXIT_DATA;
        }
    }
    free(points);
    free(image_ok);
    free(names);
    image_list_free(&images);
    return rc;
}
