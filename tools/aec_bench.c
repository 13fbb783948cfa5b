/* tools/aec_bench.c - `aec bench`: aec against JPEG, WebP and AVIF on a
 * folder of PNG or JPEG images.
 *
 * Every image is coded at each quality of each codec (JPEG through
 * libjpeg-turbo, linked in; WebP and AVIF through their programs when
 * found, ext_codec.c); per point the size, PSNR, MS-SSIM and coding times
 * are measured, and the report (bench_report.c) gives the mean curves, the
 * BD-rates against JPEG, the file sizes at equal PSNR, points.csv and
 * rd.svg. This file reads the command line, finds the programs and the
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

#include "codec/codec.h"
#include "tools/bench.h"
#include "tools/cli.h"
#include "tools/ext_codec.h"
#include "tools/imageio/image_io.h"
#include "tools/imageio/image_list.h"
#include "tools/measure/jpeg_ref.h"
#include "tools/tools.h"

static const char default_aec[] = "0,12.5,25,37.5,50,62.5,75,87.5,100";
static const char default_jpeg[] = "5,15,25,35,45,55,65,75,85,95,98";
/* rd.py's sweeps, so that the BD-rates are its own: on the 384x256
 * butterflies WebP spans 0.15-1.8 bpp and AVIF 0.11-1.3, around aec's
 * default 0.06-1.1 */
static const char default_webp[] = "2,10,25,40,55,70,80,90,95";
static const char default_avif[] = "58,52,46,40,34,28,22,16";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aec bench [-m MODEL] DIR [-o REPORT_DIR] [-j N] [--codecs LIST]\n"
            "                 [--qualities LIST] [--jpeg-qualities LIST]\n"
            "                 [--webp-qualities LIST] [--avif-qualities LIST]\n"
            "                 [--bpp-window LO,HI]\n"
            "  Codes every PNG and JPEG under DIR (recursively; *.png, *.jpg, *.jpeg) with\n"
            "  aec, JPEG, WebP and AVIF at a sweep of qualities each and writes\n"
            "  REPORT_DIR/summary.md (mean curves, BD-rates against JPEG, file sizes at\n"
            "  equal PSNR), points.csv (every point) and rd.svg (the rate-distortion\n"
            "  curves). PSNR and MS-SSIM are computed on 8-bit RGB, per image, then\n"
            "  averaged; an alpha plane is ignored. A JPEG input's reference is its\n"
            "  decoded pixels (EXIF orientation applied).\n"
            "  -m MODEL               model file (default: the one built into aec)\n"
            "  -o REPORT_DIR          default ./aec-bench-report\n"
            "  -j N                   images measured in parallel (default 1)\n"
            "  -e, --effort E         aec's encoder effort 0-%d (default %d, as aec encode)\n"
            "  --refine N             aec's final refinement steps, instead of the effort's\n"
            "  --codecs LIST          from aec,jpeg,webp,avif; aec and jpeg are required\n"
            "                         (default: aec,jpeg, and webp and avif when their\n"
            "                         programs are on PATH; the report says when not).\n"
            "                         webp or avif named without its programs: exit 3\n"
            "  --qualities LIST       aec qualities 0-100 (default %s)\n"
            "  --jpeg-qualities LIST  JPEG qualities 1-100 (default %s);\n"
            "                         JPEG is libjpeg-turbo as `cjpeg -optimize` (4:2:0)\n"
            "  --webp-qualities LIST  cwebp -q 0-100 (default %s);\n"
            "                         `cwebp -quiet -q Q -m 6`, `dwebp -quiet`\n"
            "  --avif-qualities LIST  avifenc cq-levels 0-63, lower is better\n"
            "                         (default %s);\n"
            "                         `avifenc -s 4 -j 1 --min 0 --max 63 -a end-usage=q\n"
            "                         -a cq-level=Q -a tune=psnr` (its default 4:4:4),\n"
            "                         `avifdec -j 1`\n"
            "  --bpp-window LO,HI     the BD-rates' bpp window (default %g,%g): each curve\n"
            "                         cut to it plus one point each side (e.g. 1,4 for\n"
            "                         high quality, with qualities reaching that far)\n"
            "  WebP and AVIF run as programs on PNG files in a temporary folder under\n"
            "  $TMPDIR (or /tmp), removed at the end; their times are the programs' runs.\n",
            AEC_EFFORT_MAX, AEC_EFFORT_DEFAULT, default_aec, default_jpeg, default_webp,
            default_avif, BENCH_BD_LO, BENCH_BD_HI);
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

/* "aec,jpeg,webp" -> wanted[codec] = 1; aec and jpeg must be there. */
static int parse_codecs(const char *s, int wanted[BENCH_CODECS])
{
    for (int c = 0; c < BENCH_CODECS; c++) wanted[c] = 0;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        int c = 0;
        while (c < BENCH_CODECS && (strlen(bench_codec_name(c)) != len ||
                                    strncmp(p, bench_codec_name(c), len)))
            c++;
        if (c == BENCH_CODECS) {
            fprintf(stderr, "aec bench: --codecs: '%.*s' is not one of aec, jpeg, webp, avif\n",
                    (int)len, p);
            return -1;
        }
        wanted[c] = 1;
        if (!p[len]) break;
        p += len + 1;
    }
    if (!wanted[BENCH_AEC] || !wanted[BENCH_JPEG]) {
        fprintf(stderr, "aec bench: --codecs: '%s' lacks %s (aec is measured against JPEG)\n", s,
                wanted[BENCH_AEC] ? "jpeg" : "aec");
        return -1;
    }
    return 0;
}

/* The quality lists and --codecs into o->sweeps; *named: --codecs given. */
static int parse_sweeps(const char *const list[BENCH_CODECS], const char *codecs,
                        bench_options *o, int *named)
{
    static const char *const opt[BENCH_CODECS] = {"--qualities", "--jpeg-qualities",
                                                   "--webp-qualities", "--avif-qualities"};
    static const double lo[BENCH_CODECS] = {0, 1, 0, 0}, hi[BENCH_CODECS] = {100, 100, 100, 63};
    static const int integral[BENCH_CODECS] = {0, 1, 0, 1};
    int wanted[BENCH_CODECS] = {1, 1, 1, 1};
    *named = codecs != NULL;
    if (codecs && parse_codecs(codecs, wanted)) return -1;
    for (int c = 0; c < BENCH_CODECS; c++) {
        if (parse_list(opt[c], list[c], lo[c], hi[c], integral[c], o->sweeps.q[c],
                       &o->sweeps.n[c]))
            return -1;
        if (!wanted[c]) o->sweeps.n[c] = 0;
    }
    return 0;
}

/* --bpp-window LO,HI: 0 <= LO < HI <= 64. 0, or -1 (said). */
static int parse_window(const char *v, double *lo, double *hi)
{
    char *end;
    double a = strtod(v, &end), b = NAN;
    if (end != v && *end == ',') {
        const char *s = end + 1;
        b = strtod(s, &end);
        if (end == s) b = NAN;
    }
    if (!(a >= 0 && b > a && b <= 64) || *end) {
        fprintf(stderr, "aec bench: --bpp-window: '%s' is not LO,HI with 0 <= LO < HI <= 64\n", v);
        return -1;
    }
    *lo = a;
    *hi = b;
    return 0;
}

static int parse_args(int argc, char **argv, bench_options *o, int *codecs_named)
{
    memset(o, 0, sizeof *o);
    o->out_dir = "aec-bench-report";
    o->jobs = 1;
    o->effort = AEC_EFFORT_DEFAULT;
    o->refine = -1;
    o->bd_lo = BENCH_BD_LO;
    o->bd_hi = BENCH_BD_HI;
    const char *list[BENCH_CODECS] = {default_aec, default_jpeg, default_webp, default_avif};
    const char *codecs = NULL;
    enum { O_MODEL = 1, O_OUT, O_JOBS, O_EFFORT, O_REFINE, O_CODECS, O_WINDOW, O_LIST };
    static const cli_option opts[] = {
        {"-m", O_MODEL, CLI_VALUE}, {"-o", O_OUT, CLI_VALUE}, {"-j", O_JOBS, CLI_VALUE},
        {"-e", O_EFFORT, CLI_VALUE}, {"--effort", O_EFFORT, CLI_VALUE},
        {"--refine", O_REFINE, CLI_VALUE}, {"--codecs", O_CODECS, CLI_VALUE},
        {"--bpp-window", O_WINDOW, CLI_VALUE},
        {"--qualities", O_LIST + BENCH_AEC, CLI_VALUE},
        {"--jpeg-qualities", O_LIST + BENCH_JPEG, CLI_VALUE},
        {"--webp-qualities", O_LIST + BENCH_WEBP, CLI_VALUE},
        {"--avif-qualities", O_LIST + BENCH_AVIF, CLI_VALUE}, {NULL, 0, 0}};
    cli_args args = cli_args_start(argc, argv, "aec bench", stderr);
    for (int k; (k = cli_next_arg(&args, opts)) != CLI_END;) {
        const char *v = args.value;
        if (k == CLI_HELP) {
            usage(stdout);
            exit(0);
        }
        if (k == CLI_ERROR) return -1;
        if (k == CLI_OPERAND) {
            if (o->dir) {
                fprintf(stderr, "aec bench: one folder only ('%s' and '%s')\n", o->dir, args.arg);
                return -1;
            }
            o->dir = args.arg;
        } else if (k == O_MODEL) o->model = v;
        else if (k == O_OUT) o->out_dir = v;
        else if (k >= O_LIST) list[k - O_LIST] = v;
        else if (k == O_CODECS) codecs = v;
        else if (k == O_WINDOW) {
            if (parse_window(v, &o->bd_lo, &o->bd_hi)) return -1;
        }
        else if (k == O_REFINE) {
            if (parse_count("--refine", v, 0, 1000, "steps", &o->refine)) return -1;
        } else if (k == O_EFFORT) {
            if (parse_count(args.arg, v, 0, AEC_EFFORT_MAX, "effort", &o->effort)) return -1;
        } else if (parse_count("-j", v, 1, 256, "jobs", &o->jobs)) {
            return -1;
        }
    }
    if (!o->dir) {
        fprintf(stderr, "aec bench: no folder given (try aec bench --help)\n");
        return -1;
    }
    return parse_sweeps(list, codecs, o, codecs_named);
}

/* Finds the programs of WebP and AVIF when they are to be run. One that
 * is missing: an error when --codecs named the codec (-1), else the codec
 * is left out and skipped[codec] says why. */
static int find_programs(bench_options *o, int named, char skipped[BENCH_CODECS][160])
{
    for (int c = BENCH_WEBP; c <= BENCH_AVIF; c++) {
        skipped[c][0] = 0;
        if (!o->sweeps.n[c]) continue;
        const char *prog[2];
        ext_codec_programs(c, &prog[0], &prog[1]);
        for (int k = 0; k < 2; k++) {
            if (!ext_find_program(prog[k], o->program[c][k], sizeof o->program[c][k])) continue;
            snprintf(skipped[c], 160, "%s not found on PATH (Debian package %s)", prog[k],
                     c == BENCH_WEBP ? "webp" : "libavif-bin");
            if (named) {
                fprintf(stderr, "aec bench: --codecs %s: %s\n", bench_codec_name(c), skipped[c]);
                return -1;
            }
            o->sweeps.n[c] = 0;
            break;
        }
    }
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
    int named;
    char skipped[BENCH_CODECS][160];
    if (parse_args(argc, argv, &o, &named)) return AEC_EXIT_USAGE;
    if (find_programs(&o, named, skipped)) return AEC_EXIT_SYSTEM;
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
    int settings = bench_settings(&o.sweeps);
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
        bench_results r = {.dir = o.dir, .model = o.model, .jpeg_name = jpeg_ref_version(),
                           .jobs = o.jobs, .effort = o.effort, .refine = o.refine,
                           .n_images = images.n, .images = names, .image_ok = image_ok,
                           .sweeps = &o.sweeps, .bd_lo = o.bd_lo, .bd_hi = o.bd_hi};
        for (int c = BENCH_WEBP; c <= BENCH_AVIF; c++) {
            r.encoder[c] = o.program[c][0];
            r.skipped[c] = skipped[c][0] ? skipped[c] : NULL;
        }
        r.points = points;
        r.wall_s = bench_now_s() - t0;
        r.jpeg_inputs = count_jpegs(&images, image_ok);
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
