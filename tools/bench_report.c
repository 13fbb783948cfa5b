/* tools/bench_report.c - the report of `aec bench` (see bench.h):
 * summary.md (mean curves, BD-rates against JPEG, file sizes at equal
 * PSNR), points.csv (every point) and rd.svg (the curves). Means are over
 * the images that were measured, per setting, as rd.py takes them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tools/bench.h"
#include "tools/cli.h"
#include "tools/measure/bdrate.h"
#include "tools/measure/rd_svg.h"

/* The mean curve of one codec: one point per setting. */
typedef struct {
    int n;
    double *bpp, *psnr, *msssim, *enc_s, *dec_s;
} mean_curve;

static void free_curve(mean_curve *c)
{
    free(c->bpp);
    free(c->psnr);
    free(c->msssim);
    free(c->enc_s);
    free(c->dec_s);
}

static int settings(const bench_results *r)
{
    return bench_settings(r->sweeps);
}

static const bench_point *point(const bench_results *r, int image, int k)
{
    return &r->points[(size_t)image * (size_t)settings(r) + (size_t)k];
}

/* Means over the measured images of settings first .. first + n - 1. A
 * NAN MS-SSIM makes its mean NAN, as numpy's mean does in rd.py. */
static int mean_of(const bench_results *r, int first, int n, mean_curve *c)
{
    c->n = n;
    c->bpp = calloc((size_t)n, sizeof(double));
    c->psnr = calloc((size_t)n, sizeof(double));
    c->msssim = calloc((size_t)n, sizeof(double));
    c->enc_s = calloc((size_t)n, sizeof(double));
    c->dec_s = calloc((size_t)n, sizeof(double));
    if (!c->bpp || !c->psnr || !c->msssim || !c->enc_s || !c->dec_s) return -1;
    int used = 0;
    for (int i = 0; i < r->n_images; i++) {
        if (!r->image_ok[i]) continue;
        used++;
        for (int k = 0; k < n; k++) {
            const bench_point *p = point(r, i, first + k);
            c->bpp[k] += p->bpp;
            c->psnr[k] += p->psnr;
            c->msssim[k] += p->msssim;
            c->enc_s[k] += p->enc_s;
            c->dec_s[k] += p->dec_s;
        }
    }
    for (int k = 0; k < n; k++) {
        c->bpp[k] /= used;
        c->psnr[k] /= used;
        c->msssim[k] /= used;
        c->enc_s[k] /= used;
        c->dec_s[k] /= used;
    }
    return 0;
}

/* rd.py's BD-rate of curve b against anchor a: each curve cut to the bpp
 * window, quality PSNR (msssim 0) or -10 log10(1 - MS-SSIM) (msssim 1). */
static double bd_of(const bench_results *r, const mean_curve *a, const mean_curve *b, int msssim)
{
    double ra[64], da[64], rb[64], db[64];
    int order[64], n[2] = {0, 0};
    const mean_curve *c[2] = {a, b};
    double *rate[2] = {ra, rb}, *dist[2] = {da, db};
    for (int s = 0; s < 2; s++) {
        int first, count;
        if (c[s]->n > 64) return NAN;
        aec_bd_window(c[s]->bpp, c[s]->n, r->bd_lo, r->bd_hi, order, &first, &count);
        for (int i = first; i < first + count; i++) {
            int k = order[i];
            rate[s][n[s]] = c[s]->bpp[k];
            dist[s][n[s]++] = msssim ? -10 * log10(1 - c[s]->msssim[k]) : c[s]->psnr[k];
        }
    }
    return aec_bd_rate(ra, da, n[0], rb, db, n[1]);
}

/* Image-by-image JPEG size at aec's PSNR, for aec setting k. */
typedef struct {
    int images;                     /* images whose JPEG PSNR range covers aec's */
    double psnr, aec_bytes, jpeg_bytes, ratio; /* means over those images */
} equal_psnr;

static equal_psnr equal_psnr_at(const bench_results *r, int k)
{
    equal_psnr e = {0, 0, 0, 0, 0};
    double jb[64], jp[64];
    int nj = r->sweeps->n[BENCH_JPEG] < 64 ? r->sweeps->n[BENCH_JPEG] : 64;
    int j0 = bench_first(r->sweeps, BENCH_JPEG), a0 = bench_first(r->sweeps, BENCH_AEC);
    for (int i = 0; i < r->n_images; i++) {
        if (!r->image_ok[i]) continue;
        for (int j = 0; j < nj; j++) {
            jb[j] = point(r, i, j0 + j)->bytes;
            jp[j] = point(r, i, j0 + j)->psnr;
        }
        const bench_point *a = point(r, i, a0 + k);
        double jpeg_bytes = aec_rate_at_quality(jb, jp, nj, a->psnr);
        if (!isfinite(jpeg_bytes)) continue;
        e.images++;
        e.psnr += a->psnr;
        e.aec_bytes += a->bytes;
        e.jpeg_bytes += jpeg_bytes;
        e.ratio += jpeg_bytes / a->bytes;
    }
    if (e.images) {
        e.psnr /= e.images;
        e.aec_bytes /= e.images;
        e.jpeg_bytes /= e.images;
        e.ratio /= e.images;
    }
    return e;
}

static void curve_table(FILE *f, const mean_curve *c, const bench_results *r, int codec)
{
    fprintf(f, "\n## %s (means per quality)\n\n| %s | bpp | PSNR dB | MS-SSIM | enc s | dec s |\n"
               "|---|---|---|---|---|---|\n",
            bench_codec_title(codec), codec == BENCH_AVIF ? "cq-level" : "quality");
    for (int k = 0; k < c->n; k++)
        fprintf(f, "| %g | %.4f | %.3f | %.5f | %.3f | %.3f |\n", r->sweeps->q[codec][k],
                c->bpp[k], c->psnr[k], c->msssim[k], c->enc_s[k], c->dec_s[k]);
}

/* The lines saying how each codec was run, or why it was not. */
static void codec_lines(FILE *f, const bench_results *r)
{
    fprintf(f, "- aec encoder: effort %d (`--effort`)", r->effort);
    if (r->refine >= 0) fprintf(f, ", %d refinement steps (`--refine`)", r->refine);
    fprintf(f, "\n");
    fprintf(f, "- JPEG: %s linked in, as `cjpeg -quality Q -optimize` (4:2:0) and `djpeg`\n",
            r->jpeg_name);
    if (r->sweeps->n[BENCH_WEBP])
        fprintf(f, "- WebP: `%s -quiet -q Q -m 6`, `dwebp -quiet`\n",
                r->encoder[BENCH_WEBP]);
    if (r->sweeps->n[BENCH_AVIF])
        fprintf(f, "- AVIF: `%s -s 4 -j 1 --min 0 --max 63 -a end-usage=q -a cq-level=Q "
                   "-a tune=psnr` (its default 4:4:4), `avifdec -j 1`\n",
                r->encoder[BENCH_AVIF]);
    for (int c = 0; c < BENCH_CODECS; c++)
        if (r->skipped[c])
            fprintf(f, "- %s: skipped: %s\n", bench_codec_title(c), r->skipped[c]);
}

/* The BD-rates of every codec against JPEG. */
static void bd_table(FILE *f, const bench_results *r, const mean_curve *curve)
{
    fprintf(f, "\n## BD-rate against JPEG\n\n"
               "Cubic fit of log(bpp) against quality over the range both curves cover, each "
               "curve cut to %g-%g bpp plus one point each side. "
               "Negative: the codec needs fewer bits than JPEG for the same quality.\n\n"
               "| codec | BD-rate PSNR %% | BD-rate MS-SSIM %% |\n|---|---|---|\n",
            r->bd_lo, r->bd_hi);
    for (int c = 0; c < BENCH_CODECS; c++)
        if (c != BENCH_JPEG && r->sweeps->n[c])
            fprintf(f, "| %s | %.1f | %.1f |\n", bench_codec_title(c),
                    bd_of(r, &curve[BENCH_JPEG], &curve[c], 0), bd_of(r, &curve[BENCH_JPEG], &curve[c], 1));
}

/* For each aec quality, the size of a JPEG of the same PSNR. */
static void equal_psnr_table(FILE *f, const bench_results *r, const mean_curve *aec, int used)
{
    fprintf(f, "\n## File size at the same PSNR\n\n"
               "For each image and aec quality, the size of a JPEG of the same PSNR "
               "(log of the size interpolated between the image's two JPEG points around "
               "that PSNR), then means over the images whose JPEG points reach that PSNR.\n\n"
               "| aec quality | images | PSNR dB | aec bytes | JPEG bytes | JPEG / aec |\n"
               "|---|---|---|---|---|---|\n");
    const double *aec_q = r->sweeps->q[BENCH_AEC];
    for (int k = 0; k < aec->n; k++) {
        equal_psnr e = equal_psnr_at(r, k);
        if (!e.images) {
            fprintf(f, "| %g | 0 | %.3f | | | outside JPEG's range |\n", aec_q[k], aec->psnr[k]);
            continue;
        }
        fprintf(f, "| %g | %d | %.3f | %.0f | %.0f | %.2f |\n", aec_q[k], e.images, e.psnr,
                e.aec_bytes, e.jpeg_bytes, e.ratio);
    }
    fprintf(f, "\n");
    int any = 0;
    for (int k = 0; k < aec->n; k++) {
        equal_psnr e = equal_psnr_at(r, k);
        if (!e.images) continue;
        any = 1;
        fprintf(f, "- quality %g: aec files are %.1fx %s than JPEG at %.1f dB", aec_q[k],
                e.ratio >= 1 ? e.ratio : 1 / e.ratio, e.ratio >= 1 ? "smaller" : "larger", e.psnr);
        if (e.images < used) fprintf(f, " (%d of %d images)", e.images, used);
        fprintf(f, "\n");
    }
    if (!any)
        fprintf(f, "No aec point has a PSNR within the range of JPEG's points for the same "
                   "image: widen --jpeg-qualities or --qualities.\n");
}

static void write_summary(FILE *f, const bench_results *r, const mean_curve *curve, int used)
{
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", localtime(&now));
    fprintf(f, "# aec bench: %d image%s from %s\n\n", used, used == 1 ? "" : "s", r->dir);
    fprintf(f, "- model: %s\n", r->model ? r->model : "the one built into aec");
    codec_lines(f, r);
    fprintf(f, "- PSNR: RGB, 8-bit, MSE over the three channels; MS-SSIM: RGB, 5 scales; both "
               "per image, then averaged over the images\n");
    if (r->jpeg_inputs)
        fprintf(f, "- inputs: %d of the %d images are JPEGs; their PSNR and MS-SSIM (every "
                   "codec's) are measured against the decoded JPEG pixels, not the picture before "
                   "its JPEG compression\n", r->jpeg_inputs, used);
    int programs = r->sweeps->n[BENCH_WEBP] + r->sweeps->n[BENCH_AVIF] > 0;
    fprintf(f, "- times: seconds per image, image reading and metrics not counted: aec and JPEG "
               "in one process%s; %d worker%s%s\n",
            programs ? ", WebP and AVIF the runs of their programs" : "", r->jobs, r->jobs == 1 ? "" : "s sharing the machine",
            r->jobs == 1 ? "" : " (so times are not those of an idle machine)");
    fprintf(f, "- %s, %.0f s in all\n", date, r->wall_s);
    if (used < r->n_images) fprintf(f, "- %d image(s) failed and are left out\n", r->n_images - used);
    int small = 0;
    for (int i = 0; i < r->n_images; i++)
        if (r->image_ok[i] && isnan(point(r, i, 0)->msssim)) small++;
    if (small)
        fprintf(f, "- %d image(s) under 176 px a side have no MS-SSIM, so its means are nan\n", small);
    bd_table(f, r, curve);
    equal_psnr_table(f, r, &curve[BENCH_AEC], used);
    for (int c = 0; c < BENCH_CODECS; c++)
        if (r->sweeps->n[c]) curve_table(f, &curve[c], r, c);
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_points(FILE *f, const bench_results *r)
{
    fprintf(f, "image,codec,quality,bytes,bpp,psnr,msssim,enc_s,dec_s\n");
    for (int i = 0; i < r->n_images; i++) {
        if (!r->image_ok[i]) continue;
        for (int k = 0; k < settings(r); k++) {
            const bench_point *p = point(r, i, k);
            int codec, at = bench_setting(r->sweeps, k, &codec);
            csv_field(f, r->images[i]);
            fprintf(f, ",%s,%g", bench_codec_name(codec), r->sweeps->q[codec][at]);
            fprintf(f, ",%.0f,%.6f,%.4f,%.6f,%.6f,%.6f\n", p->bytes, p->bpp, p->psnr, p->msssim,
                    p->enc_s, p->dec_s);
        }
    }
}

/* rd.svg: every codec's mean curve. */
static int write_svg(FILE *f, const bench_results *r, const mean_curve *curve, int used)
{
    static const char *const colour[BENCH_CODECS] = {"#d62728", "#1f77b4", "#2ca02c", "#9467bd"};
    static const char *const legend[BENCH_CODECS] = {"aec", "JPEG (libjpeg-turbo)",
                                                      "WebP (cwebp -m 6)", "AVIF (avifenc -s 4)"};
    char title[512];
    snprintf(title, sizeof title, "aec vs other codecs: means over %d image%s of %s", used,
             used == 1 ? "" : "s", r->dir);
    rd_series s[BENCH_CODECS];
    int n = 0;
    for (int c = 0; c < BENCH_CODECS; c++)
        if (curve[c].n)
            s[n++] = (rd_series){legend[c], colour[c], curve[c].n, curve[c].bpp, curve[c].psnr,
                                 curve[c].msssim};
    return rd_svg_write(f, title, s, n);
}

/* One report file, built in memory and then written atomically. */
static int write_file(const char *dir, const char *name, const bench_results *r,
                      const mean_curve *curve, int used, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        snprintf(err, errlen, "%.200s: path too long", dir);
        return -1;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int bad = 0;
    if (!strcmp(name, "summary.md")) write_summary(f, r, curve, used);
    else if (!strcmp(name, "points.csv")) write_points(f, r);
    else bad = write_svg(f, r, curve, used);
    bad |= ferror(f);
    if (fclose(f) || bad) {
        snprintf(err, errlen, "%s: cannot build the file in memory", path);
        free(text);
        return -1;
    }
    /* 1: replace the report of an earlier run */
    int rc = cli_write_output(path, text, len, 1, 0666, err, errlen);
    free(text);
    return rc ? -1 : 0;
}

/* mkdir -p: the report folder and any folder above it that is missing. */
static int make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p) continue;
        char was = *p;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
        if (!(*p = was)) break;
    }
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int bench_write_report(const bench_results *r, const char *out_dir, char *err, size_t errlen)
{
    int used = 0;
    for (int i = 0; i < r->n_images; i++) used += r->image_ok[i] != 0;
    if (!used) {
        snprintf(err, errlen, "no image was measured: no report written");
        return -1;
    }
    if (make_dirs(out_dir)) {
        snprintf(err, errlen, "%.300s: cannot create folder: %s", out_dir, strerror(errno));
        return -1;
    }
    mean_curve curve[BENCH_CODECS];
    memset(curve, 0, sizeof curve);
    int rc = -1, bad = 0;
    for (int c = 0; c < BENCH_CODECS; c++)
        if (r->sweeps->n[c])
            bad |= mean_of(r, bench_first(r->sweeps, c), r->sweeps->n[c], &curve[c]);
    if (bad) {
        snprintf(err, errlen, "out of memory");
    } else if (!write_file(out_dir, "points.csv", r, curve, used, err, errlen) &&
               !write_file(out_dir, "rd.svg", r, curve, used, err, errlen) &&
               !write_file(out_dir, "summary.md", r, curve, used, err, errlen)) {
        rc = 0;
    }
    for (int c = 0; c < BENCH_CODECS; c++) free_curve(&curve[c]);
    return rc;
}
