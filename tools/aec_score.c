/* tools/aec_score.c - `aec score`: how well each image of a collection fits
 * the model's domain (domain_fit.h), one line per image, the furthest off
 * first: the odd ones in a collection, or the images a domain model should
 * not be trusted with. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/imageio/image_io.h"
#include "tools/imageio/image_list.h"
#include "tools/measure/domain_fit.h"
#include "tools/tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aec score [-m MODEL] [--csv] INPUT...\n"
            "  How well each image fits the model's domain: the bits aec needs at\n"
            "  quality %d against the bits JPEG needs for the same PSNR, as log2 of\n"
            "  their ratio (higher = further off the domain; -1 = half JPEG's bits),\n"
            "  and where that falls among the model's own training images. Images\n"
            "  above %.1f%% of those by more than %.2f are off the domain.\n"
            "  One line per image, the furthest off first; images under %d pixels\n"
            "  a side are not scored (-).\n"
            "  INPUT     PNG or JPEG files, or folders (searched recursively for *.png,\n"
            "            *.jpg and *.jpeg, any case)\n"
            "  -m MODEL  model file (default: the butterfly model built into aec)\n"
            "  --csv     CSV with the header file,score,percentile,off_domain\n",
            DOMAIN_FIT_QUALITY, DOMAIN_FIT_OFF_PERCENTILE, DOMAIN_FIT_MARGIN, DOMAIN_FIT_MIN_SIDE);
}

typedef struct {
    const char *file;
    double score, percentile;
    int off;
} scored;

static int further_off_first(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (isnan(x->score) != isnan(y->score)) return isnan(x->score) ? 1 : -1; /* unscored last */
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return strcmp(x->file, y->file);
}

/* the files named by the inputs: files as given, folders walked */
static int list_inputs(char **inputs, int n, image_list *files)
{
    for (int i = 0; i < n; i++) {
        struct stat st;
        char err[1024];
        if (stat(inputs[i], &st) != 0) {
            fprintf(stderr, "aec score: %s: cannot open: %s\n", inputs[i], strerror(errno));
            return AEC_EXIT_DATA;
        }
        if (S_ISDIR(st.st_mode) ? image_list_find(inputs[i], files, err, sizeof err)
                                : image_list_add(files, inputs[i])) {
            fprintf(stderr, "aec score: %s\n", S_ISDIR(st.st_mode) ? err : "out of memory");
            return AEC_EXIT_DATA;
        }
    }
    if (files->n == 0) {
        fprintf(stderr, "aec score: no images in the inputs\n");
        return AEC_EXIT_DATA;
    }
    return AEC_EXIT_OK;
}

/* scores every file into out (the ones that fail are said and left out) */
static int score_all(const aec_codec *c, const image_list *files, scored *out, int *n_out)
{
    int failed = 0;
    *n_out = 0;
    for (int i = 0; i < files->n; i++) {
        aec_image img;
        char err[1024], inner[512];
        double s;
        if (aec_image_read(files->path[i], &img, 0, err, sizeof err)) {
            fprintf(stderr, "aec score: %s\n", err);
            failed = 1;
            continue;
        }
        if (domain_fit_score(c, img.rgb, img.width, img.height, &s, inner, sizeof inner)) {
            fprintf(stderr, "aec score: %s: %s\n", files->path[i], inner);
            failed = 1;
        } else {
            out[*n_out] = (scored){files->path[i], s, domain_fit_percentile(c, s),
                                   domain_fit_off(c, s)};
            (*n_out)++;
        }
        aec_image_free(&img);
        if (isatty(2))
            fprintf(stderr, "\raec score: %d/%d", i + 1, files->n);
    }
    if (isatty(2)) fprintf(stderr, "\r\033[K");
    return failed ? AEC_EXIT_DATA : AEC_EXIT_OK;
}

static void print_results(const scored *r, int n, int csv)
{
    if (csv) printf("file,score,percentile,off_domain\n");
    else printf("%8s %10s %4s  %s\n", "score", "percentile", "off", "file");
    for (int i = 0; i < n; i++) {
        char pct[32], score[32];
        if (isnan(r[i].percentile)) snprintf(pct, sizeof pct, csv ? "" : "-");
        else snprintf(pct, sizeof pct, "%.1f", r[i].percentile);
        if (isnan(r[i].score)) snprintf(score, sizeof score, csv ? "" : "-");
        else snprintf(score, sizeof score, csv ? "%.4f" : "%.3f", r[i].score);
        if (csv) {
            /* a name with a comma or quote is quoted, quotes doubled */
            int quote = strpbrk(r[i].file, ",\"\r\n") != NULL;
            printf("%s", quote ? "\"" : "");
            for (const char *p = r[i].file; *p; p++) printf(*p == '"' ? "\"\"" : "%c", *p);
            printf("%s,%s,%s,%s\n", quote ? "\"" : "", score, pct, r[i].off ? "yes" : "no");
        } else {
            printf("%8s %10s %4s  %s\n", score, pct, r[i].off ? "yes" : "no", r[i].file);
        }
    }
}

int aec_cmd_score(int argc, char **argv)
{
    const char *model = NULL;
    int csv = 0, n_in = 0;
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return AEC_EXIT_SYSTEM;
    static const cli_option opts[] = {{"-m", 'm', CLI_VALUE}, {"--csv", 'c', 0}, {NULL, 0, 0}};
    cli_args args = cli_args_start(argc, argv, "aec score", stderr);
    for (int k; (k = cli_next_arg(&args, opts)) != CLI_END;) {
        if (k == CLI_HELP || k == CLI_ERROR) {
            if (k == CLI_HELP) usage(stdout);
            free(inputs);
            return k == CLI_HELP ? AEC_EXIT_OK : AEC_EXIT_USAGE;
        }
        if (k == 'm') model = args.value;
        else if (k == 'c') csv = 1;
        else inputs[n_in++] = argv[args.next - 1];
    }
    if (n_in == 0) {
        usage(stderr);
        free(inputs);
        return AEC_EXIT_USAGE;
    }
    aec_codec c;
    image_list files = {0};
    scored *results = NULL;
    char err[1024];
    int n = 0, rc = list_inputs(inputs, n_in, &files);
    int loaded = rc == AEC_EXIT_OK && cli_load_codec(&c, model, 0, err, sizeof err) == 0;
    if (rc == AEC_EXIT_OK && !loaded) {
        fprintf(stderr, "aec score: %s\n", err);
        rc = AEC_EXIT_DATA;
    }
    if (loaded) {
        if (!c.fit_count)
            fprintf(stderr, "aec score: %s: the model stores no scores of its training images "
                            "(no FITS chunk): no percentiles (aec export adds them)\n",
                    model ? model : "built-in model");
        if (!(results = malloc((size_t)files.n * sizeof *results))) rc = AEC_EXIT_SYSTEM;
        else rc = score_all(&c, &files, results, &n);
        if (n) qsort(results, (size_t)n, sizeof *results, further_off_first);
        print_results(results, n, csv);
        aec_codec_free(&c);
    }
    free(results);
    image_list_free(&files);
    free(inputs);
    return rc;
}
