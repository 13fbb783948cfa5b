/* tools/aec_code.c - `aec encode` and `aec decode`. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "png_io.h"
#include "tools.h"

typedef struct {
    const char *model, *out;
    double quality;
    int force, verbose, drop_alpha;
} code_options;

/* ---- the list of jobs: input path, output path ---------------------------- */

typedef struct {
    char **in, **out;
    int n, cap;
} job_list;

static int add_job(job_list *j, const char *in, const char *out)
{
    if (j->n == j->cap) {
        int cap = j->cap ? 2 * j->cap : 64;
        char **a = realloc(j->in, (size_t)cap * sizeof *a);
        if (!a) return -1;
        j->in = a;
        char **b = realloc(j->out, (size_t)cap * sizeof *b);
        if (!b) return -1;
        j->out = b;
        j->cap = cap;
    }
    j->in[j->n] = strdup(in);
    j->out[j->n] = strdup(out);
    if (!j->in[j->n] || !j->out[j->n]) return -1;
    j->n++;
    return 0;
}

static void free_jobs(job_list *j)
{
    for (int i = 0; i < j->n; i++) {
        free(j->in[i]);
        free(j->out[i]);
    }
    free(j->in);
    free(j->out);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && strcasecmp(s + a - b, suffix) == 0;
}

/* "dir/name.png" -> "dir/name.aec" */
static void replace_suffix(char *dst, size_t n, const char *path, const char *old, const char *new)
{
    size_t len = strlen(path);
    if (has_suffix(path, old)) len -= strlen(old);
    snprintf(dst, n, "%.*s%s", (int)len, path, new);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file ending in `suffix` under dir (sorted, recursive); rel is the
 * path relative to the top folder, kept in the output folder. */
static int walk(const char *dir, const char *rel, const char *suffix, const char *new_suffix,
                const char *out_dir, job_list *jobs, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    int n = 0, cap = 0, ret = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **q = realloc(names, (size_t)cap * sizeof *q);
            if (!q) { ret = -1; break; }
            names = q;
        }
        if (!(names[n] = strdup(e->d_name))) { ret = -1; break; }
        n++;
    }
    closedir(d);
    if (ret) snprintf(err, errlen, "out of memory");
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && !ret; i++) {
        char path[4096], sub[4096], out[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            ret = walk(path, sub, suffix, new_suffix, out_dir, jobs, err, errlen);
        } else if (has_suffix(names[i], suffix)) {
            char o[4096];
            replace_suffix(o, sizeof o, sub, suffix, new_suffix);
            if (out_dir) {
                if (snprintf(out, sizeof out, "%s/%s", out_dir, o) >= (int)sizeof out) {
                    snprintf(err, errlen, "%.900s: path too long", path);
                    ret = -1;
                    break;
                }
            } else {
                replace_suffix(out, sizeof out, path, suffix, new_suffix);
            }
            if (add_job(jobs, path, out)) {
                snprintf(err, errlen, "out of memory");
                ret = -1;
            }
        }
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return ret;
}

/* Inputs (files or folders) -> jobs. With one input file, -o names the
 * output file; otherwise it names a folder. */
static int make_jobs(char **inputs, int n_in, const char *out, const char *suffix,
                     const char *new_suffix, job_list *jobs, int *out_is_dir, char *err,
                     size_t errlen)
{
    struct stat st;
    int single = n_in == 1 && (strcmp(inputs[0], "-") == 0 ||
                               (stat(inputs[0], &st) == 0 && !S_ISDIR(st.st_mode)));
    *out_is_dir = !single && out;
    for (int i = 0; i < n_in; i++) {
        const char *in = inputs[i];
        if (strcmp(in, "-") == 0) {
            if (add_job(jobs, "-", out ? out : "-")) goto oom;
            continue;
        }
        if (stat(in, &st) != 0) {
            snprintf(err, errlen, "%s: cannot open: %s", in, strerror(errno));
            return -1;
        }
        if (S_ISDIR(st.st_mode)) {
            if (walk(in, "", suffix, new_suffix, out, jobs, err, errlen)) return -1;
            continue;
        }
        char o[4096];
        if (single && out) snprintf(o, sizeof o, "%s", out);
        else if (out) {
            const char *base = strrchr(in, '/');
            char b[4096];
            replace_suffix(b, sizeof b, base ? base + 1 : in, suffix, new_suffix);
            if (snprintf(o, sizeof o, "%s/%s", out, b) >= (int)sizeof o) {
                snprintf(err, errlen, "%s: path too long", in);
                return -1;
            }
        } else replace_suffix(o, sizeof o, in, suffix, new_suffix);
        if (add_job(jobs, in, o)) goto oom;
    }
    if (jobs->n == 0) {
        snprintf(err, errlen, "no %s files in the inputs", suffix);
        return -1;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int parse_common(int argc, char **argv, code_options *o, char ***inputs, int *n_in,
                        const char *cmd, void (*usage)(FILE *))
{
    memset(o, 0, sizeof *o);
    o->quality = 75;
    *inputs = calloc((size_t)argc, sizeof(char *));
    *n_in = 0;
    if (!*inputs) return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        else if (!strcmp(a, "-m") || !strcmp(a, "-o") || !strcmp(a, "-q")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "aec %s: %s needs a value\n", cmd, a);
                return -1;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "-m")) o->model = v;
            else if (!strcmp(a, "-o")) o->out = v;
            else {
                char *end;
                o->quality = strtod(v, &end);
                if (*end || !(o->quality >= 0 && o->quality <= 100)) {
                    fprintf(stderr, "aec %s: -q: quality must be a number from 0 to 100, not '%s'\n", cmd, v);
                    return -1;
                }
            }
        } else if (!strcmp(a, "-f")) o->force = 1;
        else if (!strcmp(a, "-v")) o->verbose = 1;
        else if (!strcmp(a, "--drop-alpha")) o->drop_alpha = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "aec %s: unknown option '%s' (try aec %s --help)\n", cmd, a, cmd);
            return -1;
        } else (*inputs)[(*n_in)++] = argv[i];
    }
    if (*n_in == 0) {
        fprintf(stderr, "aec %s: no input given (try aec %s --help)\n", cmd, cmd);
        return -1;
    }
    return 0;
}

static void encode_usage(FILE *f)
{
    fprintf(f,
            "usage: aec encode [-m MODEL] [-q Q] INPUT... [-o OUT] [-f] [-v] [--drop-alpha]\n"
            "  INPUT         PNG files or folders (searched recursively for *.png); - is stdin\n"
            "  -o OUT        output file (one input) or folder (several; the layout is kept);\n"
            "                default: the input's name with .aec; - is stdout\n"
            "  -q Q          quality 0-100, higher is better (default 75)\n"
            "  -m MODEL      model file (default: the butterfly model built into aec)\n"
            "  -f            overwrite existing outputs\n"
            "  -v            also print the PSNR of each file\n"
            "  --drop-alpha  code images with transparency, dropping the alpha plane\n");
}

static double psnr_rgb(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        se += d * d;
    }
    double mse = se / (double)n;
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : INFINITY;
}

int aec_cmd_encode(int argc, char **argv)
{
    code_options o;
    char **inputs;
    int n_in, out_is_dir;
    char err[1024];
    if (parse_common(argc, argv, &o, &inputs, &n_in, "encode", encode_usage)) {
        free(inputs);
        return AEC_EXIT_USAGE;
    }
    job_list jobs = {0};
    if (make_jobs(inputs, n_in, o.out, ".png", ".aec", &jobs, &out_is_dir, err, sizeof err)) {
        fprintf(stderr, "aec encode: %s\n", err);
        free(inputs);
        free_jobs(&jobs);
        return AEC_EXIT_DATA;
    }
    free(inputs);
    aec_codec c;
    if (cli_load_codec(&c, o.model, 0, err, sizeof err)) {
        fprintf(stderr, "aec encode: %s\n", err);
        free_jobs(&jobs);
        return AEC_EXIT_DATA;
    }
    int failures = 0;
    size_t total_in = 0, total_out = 0;
    for (int i = 0; i < jobs.n; i++) {
        const char *in = jobs.in[i], *out = jobs.out[i];
        aec_image img;
        size_t in_len = 0;
        uint8_t *raw = cli_read_input(in, (size_t)1 << 31, &in_len, err, sizeof err), *coded = NULL;
        size_t coded_len = 0;
        int ok = raw && aec_png_read_mem(raw, in_len, strcmp(in, "-") ? in : "stdin", &img, 0, err,
                                         sizeof err) == 0;
        free(raw);
        if (!ok) {
            fprintf(stderr, "aec encode: %s\n", err);
            failures++;
            continue;
        }
        if (img.alpha_used && !o.drop_alpha) {
            fprintf(stderr, "aec encode: %s: has transparency, which .aec does not keep "
                            "(use --drop-alpha to code the colours alone)\n", in);
            aec_image_free(&img);
            failures++;
            continue;
        }
        if (img.source_gray || img.source_16bit)
            fprintf(stderr, "aec encode: note: %s: %s converted to 8-bit RGB\n", in,
                    img.source_16bit ? (img.source_gray ? "16-bit gray" : "16-bit") : "grayscale");
        if (aec_encode(&c, img.rgb, img.width, img.height, o.quality, &coded, &coded_len, err,
                       sizeof err)) {
            fprintf(stderr, "aec encode: %s: %s\n", in, err);
            aec_image_free(&img);
            failures++;
            continue;
        }
        if ((out_is_dir && cli_make_parent_dirs(out)) ||
            cli_write_output(out, coded, coded_len, o.force, 0666, err, sizeof err)) {
            if (out_is_dir && !err[0]) snprintf(err, sizeof err, "%s: cannot create folder", out);
            fprintf(stderr, "aec encode: %s\n", err);
            free(coded);
            aec_image_free(&img);
            failures++;
            continue;
        }
        double bpp = 8.0 * (double)coded_len / ((double)img.width * img.height);
        FILE *log = strcmp(out, "-") ? stdout : stderr;
        fprintf(log, "%s -> %s  %zu bytes  %.4f bpp", in, out, coded_len, bpp);
        if (o.verbose) {
            uint8_t *dec;
            int w, h;
            if (aec_decode(&c, coded, coded_len, &dec, &w, &h, err, sizeof err) == 0) {
                fprintf(log, "  %.2f dB", psnr_rgb(dec, img.rgb, (size_t)w * h * 3));
                free(dec);
            }
        }
        fprintf(log, "\n");
        total_in += in_len;
        total_out += coded_len;
        free(coded);
        aec_image_free(&img);
    }
    if (jobs.n > 1)
        printf("%d files, %d failed: %zu bytes of PNG -> %zu bytes of .aec (%.1f%%)\n", jobs.n,
               failures, total_in, total_out, total_in ? 100.0 * total_out / total_in : 0);
    aec_codec_free(&c);
    free_jobs(&jobs);
    return failures ? AEC_EXIT_DATA : AEC_EXIT_OK;
}

static void decode_usage(FILE *f)
{
    fprintf(f,
            "usage: aec decode [-m MODEL] INPUT.aec... [-o OUT] [-f]\n"
            "  INPUT    .aec files or folders (searched recursively for *.aec); - is stdin\n"
            "  -o OUT   output PNG (one input) or folder (several); default: the input's name\n"
            "           with .png; - is stdout\n"
            "  -m MODEL the model the files were made with (default: the built-in one)\n"
            "  -f       overwrite existing outputs\n");
}

int aec_cmd_decode(int argc, char **argv)
{
    code_options o;
    char **inputs;
    int n_in, out_is_dir;
    char err[1024];
    if (parse_common(argc, argv, &o, &inputs, &n_in, "decode", decode_usage)) {
        free(inputs);
        return AEC_EXIT_USAGE;
    }
    job_list jobs = {0};
    if (make_jobs(inputs, n_in, o.out, ".aec", ".png", &jobs, &out_is_dir, err, sizeof err)) {
        fprintf(stderr, "aec decode: %s\n", err);
        free(inputs);
        free_jobs(&jobs);
        return AEC_EXIT_DATA;
    }
    free(inputs);
    aec_codec c;
    if (cli_load_codec(&c, o.model, 1, err, sizeof err)) {
        fprintf(stderr, "aec decode: %s\n", err);
        free_jobs(&jobs);
        return AEC_EXIT_DATA;
    }
    int rc = AEC_EXIT_OK;
    for (int i = 0; i < jobs.n; i++) {
        size_t len;
        uint8_t *data = cli_read_input(jobs.in[i], (size_t)1 << 30, &len, err, sizeof err);
        int r = data ? aec_decode_to_png(&c, jobs.in[i], data, len, jobs.out[i], o.force, out_is_dir,
                                         err, sizeof err)
                     : AEC_EXIT_DATA;
        free(data);
        if (r) {
            fprintf(stderr, "aec decode: %s\n", err);
            rc = r;
        } else if (strcmp(jobs.out[i], "-")) {
            printf("%s -> %s\n", jobs.in[i], jobs.out[i]);
        }
    }
    aec_codec_free(&c);
    free_jobs(&jobs);
    return rc;
}
