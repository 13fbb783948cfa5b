/* tools/aec_code.c - `aec encode` and `aec decode`.
 *
 * Both turn their inputs (files, folders searched recursively, or stdin)
 * into a list of jobs, one per file, and run them in order or, with -j N,
 * in N worker processes. Each job's messages are collected and printed in
 * job order, so what the user sees (and the files written) is the same
 * whatever N. Workers are processes rather than threads because OpenBLAS
 * serialises concurrent multi-threaded calls and libgomp's thread pool does
 * not survive a fork: the parent forks before it has run any OpenMP or
 * BLAS work, and each worker is a clean single-user copy of the codec.
 * Workers keep the thread count of a single process: the last bit of the
 * float synthesis depends on OpenBLAS's thread count (a decoded pixel may
 * move by 1), and -j must not change any output byte. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec/psnr.h"
#include "codec/target.h"
#include "tools/cli.h"
#include "tools/imageio/image_io.h"
#include "tools/measure/domain_fit.h"
#include "tools/tools.h"
#include "tools/workers.h"

#define MAX_WORKERS 64

typedef struct {
    const char *model, *out;
    double quality, target_bpp, target_psnr; /* targets: 0 when not asked for */
    int quality_given, force, verbose, drop_alpha, no_fit_check, workers;
    int effort;   /* encoder effort, 0 .. AEC_EFFORT_MAX */
    int refine;   /* steps of latent refinement (aec_codec.refine_iters); -1: the effort's */
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
    if (!j->in[j->n] || !j->out[j->n]) {
        free(j->in[j->n]);
        free(j->out[j->n]);
        return -1;
    }
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

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Which files a command takes and what it names their outputs: encode
 * takes PNGs and JPEGs (photo.JPG -> photo.aec), decode .aec files. */
typedef struct {
    const char *(*suffix)(const char *name); /* the suffix a file it takes ends in, or NULL */
    const char *what;                        /* "PNG or JPEG", for messages */
    const char *new_suffix;                  /* its outputs' */
} job_naming;

static const char *aec_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcasecmp(name + n - 4, ".aec") ? name + n - 4 : NULL;
}

static const job_naming encode_naming = {aec_image_suffix, AEC_IMAGE_KINDS, ".aec"};
static const job_naming decode_naming = {aec_suffix, ".aec", ".png"};

/* path with its suffix (if taken by naming) replaced by the outputs';
 * 0 when it fits in n */
static int output_name(char *dst, size_t n, const char *path, const job_naming *naming)
{
    const char *suffix = naming->suffix(path);
    size_t len = suffix ? (size_t)(suffix - path) : strlen(path);
    return snprintf(dst, n, "%.*s%s", (int)len, path, naming->new_suffix) >= (int)n;
}

/* Every file under dir (sorted, recursive) that naming takes; rel is the
 * path relative to the top folder, kept in the output folder. Returns an
 * AEC_EXIT_* code. */
static int walk(const char *dir, const char *rel, const job_naming *naming, const char *out_dir,
                job_list *jobs, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return AEC_EXIT_DATA;
    }
    char **names = NULL;
    int n = 0, cap = 0, ret = AEC_EXIT_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **q = realloc(names, (size_t)cap * sizeof *q);
            if (!q) { ret = AEC_EXIT_SYSTEM; break; }
            names = q;
        }
        if (!(names[n] = strdup(e->d_name))) { ret = AEC_EXIT_SYSTEM; break; }
        n++;
    }
    closedir(d);
    if (ret) snprintf(err, errlen, "%s: out of memory", dir);
    else qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && !ret; i++) {
        char path[4096], sub[4096], out[4096], o[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path ||
            snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]) >= (int)sizeof sub) {
            snprintf(err, errlen, "%.900s/%.900s: path too long", dir, names[i]);
            ret = AEC_EXIT_DATA;
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            ret = walk(path, sub, naming, out_dir, jobs, err, errlen);
        } else if (naming->suffix(names[i])) {
            int too_long = out_dir ? output_name(o, sizeof o, sub, naming) ||
                                         snprintf(out, sizeof out, "%s/%s", out_dir, o) >= (int)sizeof out
                                   : output_name(out, sizeof out, path, naming);
            if (too_long) {
                snprintf(err, errlen, "%.900s: path too long", path);
                ret = AEC_EXIT_DATA;
            } else if (add_job(jobs, path, out)) {
                snprintf(err, errlen, "%.900s: out of memory", path);
                ret = AEC_EXIT_SYSTEM;
            }
        }
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return ret;
}

static int cmp_job_out(const void *a, const void *b, void *jobs)
{
    const job_list *j = jobs;
    return strcmp(j->out[*(const int *)a], j->out[*(const int *)b]);
}

/* Two jobs writing the same file would lose the first one's output. */
static int check_distinct_outputs(const job_list *jobs, char *err, size_t errlen)
{
    int *order = malloc((size_t)jobs->n * sizeof *order);
    if (!order) {
        snprintf(err, errlen, "out of memory");
        return AEC_EXIT_SYSTEM;
    }
    for (int i = 0; i < jobs->n; i++) order[i] = i;
    qsort_r(order, (size_t)jobs->n, sizeof *order, cmp_job_out, (void *)jobs);
    int rc = AEC_EXIT_OK;
    for (int i = 1; i < jobs->n && !rc; i++) {
        int a = order[i - 1], b = order[i];
        if (strcmp(jobs->out[a], jobs->out[b]) == 0) {
            if (a > b) { int t = a; a = b; b = t; }
            snprintf(err, errlen, "%.600s: would be written from both %.600s and %.600s",
                     jobs->out[a], jobs->in[a], jobs->in[b]);
            rc = AEC_EXIT_USAGE;
        }
    }
    free(order);
    return rc;
}

/* Inputs (files or folders) -> jobs. With one input file, -o names the
 * output file (or a folder to put it in, when one by that name exists);
 * otherwise it names a folder. Returns an AEC_EXIT_* code. */
static int make_jobs(char **inputs, int n_in, const char *out, const job_naming *naming,
                     job_list *jobs, int *out_is_dir, char *err, size_t errlen)
{
    for (int i = 0; i < n_in; i++)
        if (strcmp(inputs[i], "-") == 0 && n_in > 1) {
            snprintf(err, errlen, "- (stdin) must be the only input");
            return AEC_EXIT_USAGE;
        }
    if (strcmp(inputs[0], "-") == 0) {
        *out_is_dir = 0;
        if (add_job(jobs, "-", out ? out : "-")) goto oom;
        return AEC_EXIT_OK;
    }
    int single = n_in == 1 && !is_dir(inputs[0]) && !(out && is_dir(out));
    *out_is_dir = !single && out;
    for (int i = 0; i < n_in; i++) {
        const char *in = inputs[i];
        struct stat st;
        if (stat(in, &st) != 0) {
            snprintf(err, errlen, "%s: cannot open: %s", in, strerror(errno));
            return AEC_EXIT_DATA;
        }
        if (S_ISDIR(st.st_mode)) {
            int rc = walk(in, "", naming, out, jobs, err, errlen);
            if (rc) return rc;
            continue;
        }
        char o[4096];
        int too_long;
        if (single && out) {
            too_long = snprintf(o, sizeof o, "%s", out) >= (int)sizeof o;
        } else if (out) {
            const char *base = strrchr(in, '/');
            char b[4096];
            too_long = output_name(b, sizeof b, base ? base + 1 : in, naming) ||
                       snprintf(o, sizeof o, "%s/%s", out, b) >= (int)sizeof o;
        } else {
            too_long = output_name(o, sizeof o, in, naming);
        }
        if (too_long) {
            snprintf(err, errlen, "%.900s: path too long", in);
            return AEC_EXIT_DATA;
        }
        if (add_job(jobs, in, o)) goto oom;
    }
    if (jobs->n == 0) {
        snprintf(err, errlen, "no %s files in the inputs", naming->what);
        return AEC_EXIT_DATA;
    }
    return check_distinct_outputs(jobs, err, errlen);
oom:
    snprintf(err, errlen, "out of memory");
    return AEC_EXIT_SYSTEM;
}

/* ---- running the jobs, in order or in worker processes ---------------------- */

typedef struct {
    int rc;                        /* AEC_EXIT_* */
    uint64_t in_bytes, out_bytes;  /* of a job that succeeded */
    char *say, *warn;              /* its stdout and stderr text (malloc'd or NULL) */
    int done;
} job_result;

/* A job writes its messages to say (for stdout) and warn (for stderr). */
typedef void (*job_fn)(const void *ctx, int i, FILE *say, FILE *warn, job_result *r);

typedef struct {
    const char *cmd; /* "encode" or "decode", for messages */
    const job_list *jobs;
    job_fn fn;
    const void *ctx;
    job_result *results;
    int next_to_print, finished, on_tty;
} runner;

static void run_one(runner *R, int i, job_result *r)
{
    char *say = NULL, *warn = NULL;
    size_t say_len = 0, warn_len = 0;
    FILE *s = open_memstream(&say, &say_len), *w = open_memstream(&warn, &warn_len);
    memset(r, 0, sizeof *r);
    if (s && w) R->fn(R->ctx, i, s, w, r);
    else r->rc = AEC_EXIT_SYSTEM;
    if (s) fclose(s);
    if (w) fclose(w);
    r->say = say;
    r->warn = warn;
    if (!s || !w) {
        free(r->warn);
        r->warn = NULL;
    }
    r->done = 1;
}

/* The progress bar, on stderr when it is a terminal and there are several
 * files; cleared before any message and drawn again after. */
static void progress_clear(const runner *R)
{
    if (R->on_tty) fputs("\r\033[K", stderr);
}

static void progress_draw(const runner *R)
{
    if (!R->on_tty) return;
    const int width = 30;
    int n = R->jobs->n, filled = (int)((long)width * R->finished / n);
    fprintf(stderr, "\r[%.*s%*s] %d/%d files", filled, "##############################",
            width - filled, "", R->finished, n);
    fflush(stderr);
}

/* Prints the results that are ready, in job order. */
static void print_ready(runner *R)
{
    while (R->next_to_print < R->jobs->n && R->results[R->next_to_print].done) {
        job_result *r = &R->results[R->next_to_print];
        progress_clear(R);
        if (r->warn) fputs(r->warn, stderr);
        else if (r->rc)
            fprintf(stderr, "aec %s: %s: out of memory\n", R->cmd, R->jobs->in[R->next_to_print]);
        if (r->say) fputs(r->say, stdout);
        fflush(stdout);
        free(r->say);
        free(r->warn);
        r->say = r->warn = NULL;
        R->next_to_print++;
    }
    progress_draw(R);
}

/* what a job in a worker sends back: this, then the two texts */
typedef struct {
    int32_t rc;
    uint64_t in_bytes, out_bytes;
    uint32_t say_len, warn_len;
} result_record;

/* In a worker (workers.h): job j, its result sent up fd as one message. */
static int worker_run(void *ctx, int j, int fd)
{
    runner *R = ctx;
    job_result r;
    run_one(R, j, &r);
    result_record h = {r.rc, r.in_bytes, r.out_bytes, r.say ? (uint32_t)strlen(r.say) : 0,
                       r.warn ? (uint32_t)strlen(r.warn) : 0};
    size_t len = sizeof h + h.say_len + h.warn_len;
    char *msg = malloc(len);
    int rc = -1;
    if (msg) {
        memcpy(msg, &h, sizeof h);
        if (h.say_len) memcpy(msg + sizeof h, r.say, h.say_len);
        if (h.warn_len) memcpy(msg + sizeof h + h.say_len, r.warn, h.warn_len);
        rc = workers_send(fd, msg, len);
    }
    free(msg);
    free(r.say);
    free(r.warn);
    return rc;
}

/* In the parent: a job's result. */
static int got_result(void *ctx, int j, const void *data, size_t len)
{
    runner *R = ctx;
    result_record h;
    if (j < 0 || j >= R->jobs->n || len < sizeof h) return 0;
    memcpy(&h, data, sizeof h);
    job_result *r = &R->results[j];
    memset(r, 0, sizeof *r);
    if ((uint64_t)h.say_len + h.warn_len != len - sizeof h) return 0;
    r->rc = h.rc;
    r->in_bytes = h.in_bytes;
    r->out_bytes = h.out_bytes;
    r->say = h.say_len ? malloc((size_t)h.say_len + 1) : NULL;
    r->warn = h.warn_len ? malloc((size_t)h.warn_len + 1) : NULL;
    if ((h.say_len && !r->say) || (h.warn_len && !r->warn)) {
        free(r->say);
        free(r->warn);
        r->say = r->warn = NULL;
        r->rc = AEC_EXIT_SYSTEM;
    } else {
        const char *p = (const char *)data + sizeof h;
        if (r->say) {
            memcpy(r->say, p, h.say_len);
            r->say[h.say_len] = 0;
        }
        if (r->warn) {
            memcpy(r->warn, p + h.say_len, h.warn_len);
            r->warn[h.warn_len] = 0;
        }
    }
    r->done = 1;
    R->finished++;
    print_ready(R);
    return 0;
}

/* In the parent: a job that sent no result (its worker died in it, or was
 * out of memory) fails with a message. */
static void job_done(void *ctx, int j, int lost, int status)
{
    runner *R = ctx;
    job_result *r = &R->results[j];
    if (r->done) return;
    char msg[1200];
    if (!lost)
        snprintf(msg, sizeof msg, "aec %s: %.900s: the worker process sent no result (out of "
                 "memory)\n", R->cmd, R->jobs->in[j]);
    else if (WIFSIGNALED(status))
        snprintf(msg, sizeof msg, "aec %s: %.900s: worker process killed by signal %d (%s)\n",
                 R->cmd, R->jobs->in[j], WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(msg, sizeof msg, "aec %s: %.900s: worker process ended unexpectedly\n", R->cmd,
                 R->jobs->in[j]);
    memset(r, 0, sizeof *r);
    r->warn = strdup(msg);
    r->rc = AEC_EXIT_SYSTEM;
    r->done = 1;
    R->finished++;
    print_ready(R);
}

static void run_parallel(runner *R, int n_workers)
{
    fflush(stdout);
    fflush(stderr);
    workers_spec spec = {R->jobs->n, n_workers, R, NULL, worker_run, got_result, job_done, -1,
                         NULL, NULL};
    int handed = workers_run(&spec);
    /* no worker could be started: the rest here, in this process */
    for (int i = handed; i < R->jobs->n; i++) {
        run_one(R, i, &R->results[i]);
        R->finished++;
        print_ready(R);
    }
}

/* Runs every job and prints their messages in order; returns the worst
 * exit code (3 over 2 over 1 over 0). */
static int run_jobs(runner *R, int n_workers, int *failures, uint64_t *in_bytes,
                    uint64_t *out_bytes)
{
    int n = R->jobs->n;
    R->results = calloc((size_t)n, sizeof *R->results);
    if (!R->results) {
        fprintf(stderr, "aec %s: out of memory\n", R->cmd);
        return AEC_EXIT_SYSTEM;
    }
    R->on_tty = n > 1 && isatty(STDERR_FILENO);
    if (n_workers > n) n_workers = n;
    progress_draw(R);
    if (n_workers > 1) {
        run_parallel(R, n_workers);
    } else {
        for (int i = 0; i < n; i++) {
            run_one(R, i, &R->results[i]);
            R->finished++;
            print_ready(R);
        }
    }
    progress_clear(R);
    fflush(stderr);
    int rc = AEC_EXIT_OK;
    *failures = 0;
    *in_bytes = *out_bytes = 0;
    for (int i = 0; i < n; i++) {
        const job_result *r = &R->results[i];
        if (!r->done || r->rc) {
            (*failures)++;
            int code = r->done ? r->rc : AEC_EXIT_SYSTEM;
            if (code > rc) rc = code;
        } else {
            *in_bytes += r->in_bytes;
            *out_bytes += r->out_bytes;
        }
    }
    free(R->results);
    R->results = NULL;
    return rc;
}

/* ---- the command line -------------------------------------------------------- */

static int parse_number(const char *cmd, const char *opt, const char *v, double lo, double hi,
                        double *x)
{
    char *end;
    errno = 0;
    *x = strtod(v, &end);
    if (end == v || *end || errno || !(*x >= lo && *x <= hi)) {
        fprintf(stderr, "aec %s: %s: expected a number from %g to %g, not '%s'\n", cmd, opt, lo,
                hi, v);
        return -1;
    }
    return 0;
}

/* Returns 0, or an exit code (-1 for a --help already answered). */
static int parse_common(int argc, char **argv, int encoding, code_options *o, char ***inputs,
                        int *n_in, void (*usage)(FILE *))
{
    const char *cmd = encoding ? "encode" : "decode";
    memset(o, 0, sizeof *o);
    o->quality = 75;
    o->workers = 1;
    o->effort = AEC_EFFORT_DEFAULT;
    o->refine = -1;
    *n_in = 0;
    *inputs = calloc((size_t)argc, sizeof(char *));
    if (!*inputs) {
        fprintf(stderr, "aec %s: out of memory\n", cmd);
        return AEC_EXIT_SYSTEM;
    }
    enum { O_MODEL = 1, O_OUT, O_JOBS, O_FORCE, O_QUALITY, O_BPP, O_PSNR, O_REFINE, O_EFFORT,
           O_VERBOSE, O_DROP_ALPHA, O_NO_FIT_CHECK };
    static const cli_option decode_opts[] = {
        {"-m", O_MODEL, CLI_VALUE}, {"-o", O_OUT, CLI_VALUE}, {"-j", O_JOBS, CLI_GLUED},
        {"-f", O_FORCE, 0}, {NULL, 0, 0}};
    static const cli_option encode_opts[] = {
        {"-m", O_MODEL, CLI_VALUE}, {"-o", O_OUT, CLI_VALUE}, {"-j", O_JOBS, CLI_GLUED},
        {"-f", O_FORCE, 0}, {"-q", O_QUALITY, CLI_VALUE}, {"--bpp", O_BPP, CLI_VALUE},
        {"--psnr", O_PSNR, CLI_VALUE}, {"--refine", O_REFINE, CLI_VALUE},
        {"-e", O_EFFORT, CLI_VALUE}, {"--effort", O_EFFORT, CLI_VALUE}, {"-v", O_VERBOSE, 0},
        {"--drop-alpha", O_DROP_ALPHA, 0}, {"--no-fit-check", O_NO_FIT_CHECK, 0}, {NULL, 0, 0}};
    char name[16];
    snprintf(name, sizeof name, "aec %s", cmd);
    cli_args args = cli_args_start(argc, argv, name, stderr);
    for (int k; (k = cli_next_arg(&args, encoding ? encode_opts : decode_opts)) != CLI_END;) {
        const char *a = args.arg, *v = args.value;
        double x;
        switch (k) {
        case CLI_OPERAND: (*inputs)[(*n_in)++] = argv[args.next - 1]; break;
        case CLI_HELP: usage(stdout); return -1;
        case CLI_ERROR: return AEC_EXIT_USAGE;
        case O_MODEL: o->model = v; break;
        case O_OUT: o->out = v; break;
        case O_JOBS:
            if (parse_number(cmd, "-j", v, 0, MAX_WORKERS, &x) || x != floor(x)) return AEC_EXIT_USAGE;
            /* -j 0: one worker per core */
            o->workers = x > 0 ? (int)x : (int)sysconf(_SC_NPROCESSORS_ONLN);
            if (o->workers < 1) o->workers = 1;
            if (o->workers > MAX_WORKERS) o->workers = MAX_WORKERS;
            break;
        case O_QUALITY:
            if (parse_number(cmd, "-q", v, 0, 100, &o->quality)) return AEC_EXIT_USAGE;
            o->quality_given = 1;
            break;
        case O_REFINE:
            if (parse_number(cmd, "--refine", v, 0, 1000, &x) || x != floor(x)) return AEC_EXIT_USAGE;
            o->refine = (int)x;
            break;
        case O_EFFORT:
            if (parse_number(cmd, a, v, 0, AEC_EFFORT_MAX, &x) || x != floor(x)) return AEC_EXIT_USAGE;
            o->effort = (int)x;
            break;
        case O_BPP:
            if (parse_number(cmd, "--bpp", v, 1e-6, 48, &o->target_bpp)) return AEC_EXIT_USAGE;
            break;
        case O_PSNR:
            if (parse_number(cmd, "--psnr", v, 1, 200, &o->target_psnr)) return AEC_EXIT_USAGE;
            break;
        case O_FORCE: o->force = 1; break;
        case O_VERBOSE: o->verbose = 1; break;
        case O_DROP_ALPHA: o->drop_alpha = 1; break;
        case O_NO_FIT_CHECK: o->no_fit_check = 1; break;
        }
    }
    if ((o->quality_given != 0) + (o->target_bpp > 0) + (o->target_psnr > 0) > 1) {
        fprintf(stderr, "aec %s: -q, --bpp and --psnr each set the quality: give one\n", cmd);
        return AEC_EXIT_USAGE;
    }
    if (*n_in == 0) {
        fprintf(stderr, "aec %s: no input given (try aec %s --help)\n", cmd, cmd);
        return AEC_EXIT_USAGE;
    }
    return 0;
}

/* ---- encode -------------------------------------------------------------------- */

typedef struct {
    const aec_codec *c;
    const job_list *jobs;
    const code_options *o;
    unsigned flags;
} code_ctx;

/* --bpp or --psnr: the search (target.h), with a warning where the measure
 * did not rise with quality and a note where the target was missed. */
static int search_quality(const code_ctx *x, const aec_image *img, const char *name, FILE *warn,
                          aec_trial *best, char *err, size_t errlen)
{
    aec_target g = {x->o->target_psnr > 0, x->o->target_psnr > 0 ? x->o->target_psnr : x->o->target_bpp};
    const char *unit = g.by_psnr ? "dB" : "bpp";
    aec_target_result r;
    if (aec_encode_target(x->c, img->rgb, img->width, img->height, &g, &r, err, errlen)) return -1;
    *best = r.best;
    if (!r.monotone)
        fprintf(warn,
                "aec encode: warning: %s: with this model %s does not rise with quality "
                "(quality %.2f gives %.4g %s, quality %.2f gives %.4g %s), so the search "
                "for %g %s may have missed a closer quality\n",
                name, unit, r.bad_a / 100.0, r.bad_va, unit, r.bad_b / 100.0, r.bad_vb, unit,
                g.target, unit);
    if (!aec_target_reached(&g, best)) {
        char why[160];
        if (g.target < r.v_min)
            snprintf(why, sizeof why, "below the least this model gives (%.4g %s at quality 0)",
                     r.v_min, unit);
        else if (g.target > r.v_max)
            snprintf(why, sizeof why, "above the most this model gives (%.4g %s at quality 100)",
                     r.v_max, unit);
        else
            snprintf(why, sizeof why, "between two neighbouring qualities");
        fprintf(warn,
                "aec encode: note: %s: %g %s is %s; closest: %.4g %s at quality %.2f\n", name,
                g.target, unit, why, aec_target_value(&g, best), unit, best->qx / 100.0);
    }
    return 0;
}

/* The image's domain-fit score (domain_fit.h), with a warning when it is
 * clearly off the model's domain: a model codes what it has not seen
 * poorly. NAN, silently, when the model stores no scores of its own images
 * or the score fails. */
static double check_domain_fit(const aec_codec *c, const aec_image *img, const char *name,
                               FILE *warn)
{
    double score;
    char err[256];
    if (!c->fit_count ||
        domain_fit_score(c, img->rgb, img->width, img->height, &score, err, sizeof err))
        return NAN;
    if (domain_fit_off(c, score))
        fprintf(warn,
                "aec encode: warning: %s: off the model's domain (fit score %.2f, above %.1f%% "
                "of its training images): it may code no smaller than JPEG (compare with aec "
                "bench); a model trained on images like it will do better (aec train)\n",
                name, score, domain_fit_percentile(c, score));
    return score;
}

static void encode_one(const void *ctx, int i, FILE *say, FILE *warn, job_result *r)
{
    const code_ctx *x = ctx;
    const code_options *o = x->o;
    const char *in = x->jobs->in[i], *out = x->jobs->out[i];
    const char *name = strcmp(in, "-") ? in : "stdin";
    char err[2048];
    aec_image img;
    memset(&img, 0, sizeof img);
    aec_trial best;
    memset(&best, 0, sizeof best);
    uint8_t *raw = NULL;
    size_t in_len = 0;

    if ((r->rc = cli_check_output(out, in, x->flags, err, sizeof err))) goto fail;
    raw = cli_read_input(in, (size_t)1 << 31, &in_len, err, sizeof err);
    if (!raw) {
        r->rc = strstr(err, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
        goto fail;
    }
    if (aec_image_read_mem(raw, in_len, name, &img, 0, err, sizeof err)) {
        r->rc = strstr(err, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
        goto fail;
    }
    free(raw);
    raw = NULL;
    if (img.alpha_used && !o->drop_alpha) {
        snprintf(err, sizeof err, "%s: has transparency, which .aec does not keep "
                                  "(use --drop-alpha to code the colours alone)", name);
        r->rc = AEC_EXIT_DATA;
        goto fail;
    }
    if (img.source_gray || img.source_16bit)
        fprintf(warn, "aec encode: note: %s: %s converted to 8-bit RGB\n", name,
                img.source_16bit ? (img.source_gray ? "16-bit gray" : "16-bit") : "grayscale");
    if (img.source_cmyk)
        fprintf(warn, "aec encode: note: %s: CMYK converted to RGB without a colour profile\n",
                name);
    double fit = o->no_fit_check ? NAN : check_domain_fit(x->c, &img, name, warn);
    /* the codec reports failures only as messages: "out of memory" is the
     * system's fault, anything else (the image size) the input's */
    int searching = o->target_bpp > 0 || o->target_psnr > 0;
    int failed = searching ? search_quality(x, &img, name, warn, &best, err, sizeof err)
                           : aec_trial_encode(x->c, img.rgb, img.width, img.height,
                                              (int)aec_quality_to_x100(o->quality), o->verbose,
                                              &best, err, sizeof err);
    if (failed) {
        char inner[1024];
        snprintf(inner, sizeof inner, "%.1000s", err);
        snprintf(err, sizeof err, "%.900s: %s", name, inner);
        r->rc = strstr(inner, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
        goto fail;
    }
    if (o->verbose && isnan(best.psnr)) {
        uint8_t *dec;
        int w, h;
        if (aec_decode(x->c, best.bytes, best.len, &dec, &w, &h, err, sizeof err) == 0) {
            best.psnr = aec_psnr(dec, img.rgb, (size_t)w * h * 3);
            free(dec);
        }
    }
    unsigned flags = x->flags;
    if ((r->rc = cli_write_output(out, best.bytes, best.len, flags, 0666, err, sizeof err)))
        goto fail;
    /* with the coded bytes on stdout, the report goes to stderr */
    FILE *log = strcmp(out, "-") ? say : warn;
    fprintf(log, "%s -> %s  %zu bytes  %.4f bpp", name, strcmp(out, "-") ? out : "stdout",
            best.len, best.bpp);
    if (searching) fprintf(log, "  quality %.2f", best.qx / 100.0);
    if (!isnan(best.psnr)) fprintf(log, "  %.2f dB", best.psnr);
    if (o->verbose && !isnan(fit)) fprintf(log, "  domain fit %.2f", fit);
    fprintf(log, "\n");
    r->in_bytes = in_len;
    r->out_bytes = best.len;
    free(best.bytes);
    aec_image_free(&img);
    return;
fail:
    fprintf(warn, "aec encode: %s\n", err);
    free(raw);
    free(best.bytes);
    aec_image_free(&img);
}

static void encode_usage(FILE *f)
{
    fprintf(f,
            "usage: aec encode [options] INPUT... [-o OUT]\n"
            "  INPUT         PNG or JPEG files, or folders (searched recursively for *.png,\n"
            "                *.jpg and *.jpeg, any case); - is stdin. A JPEG's EXIF\n"
            "                orientation is applied; PSNRs are against its decoded pixels\n"
            "  -o OUT        output file (one input) or folder (several; the layout is kept);\n"
            "                default: the input's name with .aec (photo.jpg -> photo.aec);\n"
            "                - is stdout\n"
            "  -q Q          quality 0-100, higher is better (default 75)\n"
            "  --bpp B       the quality that gives B bits per pixel, to within 3%%\n"
            "  --psnr P      the quality that gives a PSNR of P dB, to within 0.1 dB\n"
            "  -m MODEL      model file (default: the butterfly model built into aec)\n"
            "  -j N          code N files at once (0: one per core); the output is the same\n"
            "  -f            overwrite existing outputs (never an input)\n"
            "  -v            also print the PSNR and the domain-fit score of each file\n"
            "  --drop-alpha  code images with transparency, dropping the alpha plane\n"
            "  --no-fit-check  skip the domain check (aec score; about one effort-0\n"
            "                encode and decode of at most 768x768 pixels per file)\n"
            "  -e, --effort E  encoder effort 0-%d (default %d): higher searches longer\n"
            "                for smaller files at the same quality; 0 is fastest; the\n"
            "                decoder is the same (1 searches images up to 1 MP, 2 and 3\n"
            "                any size, in tiles)\n"
            "  --refine N    steps of the final refinement, instead of the effort's\n"
            "exit codes: 0 success, 1 bad input or existing output, 2 bad command line,\n"
            "            3 out of memory or I/O failure\n",
            AEC_EFFORT_MAX, AEC_EFFORT_DEFAULT);
}

static void decode_one(const void *ctx, int i, FILE *say, FILE *warn, job_result *r);
static void decode_usage(FILE *f);

static void print_encode_summary(int n, int failures, uint64_t image_bytes, uint64_t aec_bytes)
{
    printf("%d files, %d failed; coded: %llu bytes of input -> %llu bytes of .aec (%.1f%%)\n", n,
           failures, (unsigned long long)image_bytes, (unsigned long long)aec_bytes,
           image_bytes ? 100.0 * (double)aec_bytes / (double)image_bytes : 0.0);
}

static int run_command(int argc, char **argv, int encoding)
{
    const char *cmd = encoding ? "encode" : "decode";
    code_options o;
    char **inputs;
    int n_in, out_is_dir;
    char err[2048];
    int rc = parse_common(argc, argv, encoding, &o, &inputs, &n_in,
                          encoding ? encode_usage : decode_usage);
    if (rc) {
        free(inputs);
        return rc < 0 ? AEC_EXIT_OK : rc;
    }
    job_list jobs = {0};
    rc = make_jobs(inputs, n_in, o.out, encoding ? &encode_naming : &decode_naming, &jobs,
                   &out_is_dir, err, sizeof err);
    free(inputs);
    if (rc) {
        fprintf(stderr, "aec %s: %s\n", cmd, err);
        free_jobs(&jobs);
        return rc;
    }
    aec_codec c;
    if (cli_load_codec(&c, o.model, !encoding, err, sizeof err)) {
        fprintf(stderr, "aec %s: %s\n", cmd, err);
        free_jobs(&jobs);
        return strstr(err, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
    }
    if (encoding && !c.can_encode) {
        fprintf(stderr, "aec encode: %s: a decoder-only model cannot encode\n",
                o.model ? o.model : "built-in model");
        aec_codec_free(&c);
        free_jobs(&jobs);
        return AEC_EXIT_DATA;
    }
    aec_codec_set_effort(&c, o.effort);
    if (o.refine >= 0) c.refine_iters = o.refine;
    code_ctx ctx = {&c, &jobs, &o, (o.force ? CLI_OVERWRITE : 0) | (out_is_dir ? CLI_MAKE_DIRS : 0)};
    runner R = {cmd, &jobs, encoding ? encode_one : decode_one, &ctx, NULL, 0, 0, 0};
    int failures = 0;
    uint64_t in_bytes = 0, out_bytes = 0;
    rc = run_jobs(&R, jobs.n > 1 ? o.workers : 1, &failures, &in_bytes, &out_bytes);
    if (jobs.n > 1) {
        if (encoding) print_encode_summary(jobs.n, failures, in_bytes, out_bytes);
        else
            printf("%d files, %d failed; decoded: %llu bytes of .aec -> %llu bytes of PNG\n",
                   jobs.n, failures, (unsigned long long)in_bytes, (unsigned long long)out_bytes);
    }
    if (fflush(stdout) != 0 && !rc) rc = AEC_EXIT_SYSTEM;
    aec_codec_free(&c);
    free_jobs(&jobs);
    return rc;
}

int aec_cmd_encode(int argc, char **argv) { return run_command(argc, argv, 1); }

/* ---- decode -------------------------------------------------------------------- */

static void decode_one(const void *ctx, int i, FILE *say, FILE *warn, job_result *r)
{
    const code_ctx *x = ctx;
    const char *in = x->jobs->in[i], *out = x->jobs->out[i];
    char err[2048];
    size_t len, png_len = 0;
    uint8_t *data = NULL;
    if ((r->rc = cli_check_output(out, in, x->flags, err, sizeof err)) == 0) {
        data = cli_read_input(in, (size_t)1 << 30, &len, err, sizeof err);
        if (!data) r->rc = strstr(err, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
        else r->rc = aec_decode_to_png(x->c, in, data, len, out, x->flags, &png_len, err, sizeof err);
    }
    free(data);
    if (r->rc) {
        fprintf(warn, "aec decode: %s\n", err);
        return;
    }
    if (strcmp(out, "-")) fprintf(say, "%s -> %s\n", strcmp(in, "-") ? in : "stdin", out);
    r->in_bytes = len;
    r->out_bytes = png_len;
}

static void decode_usage(FILE *f)
{
    fprintf(f,
            "usage: aec decode [-m MODEL] [-j N] [-f] INPUT... [-o OUT]\n"
            "  INPUT     .aec files or folders (searched recursively for *.aec); - is stdin\n"
            "  -o OUT    output PNG (one input) or folder (several; the layout is kept);\n"
            "            default: the input's name with .png; - is stdout\n"
            "  -m MODEL  the model the files were made with (default: the built-in one)\n"
            "  -j N      decode N files at once (0: one per core); the output is the same\n"
            "  -f        overwrite existing outputs (never an input)\n"
            "exit codes: 0 success, 1 bad input or existing output, 2 bad command line,\n"
            "            3 out of memory or I/O failure\n");
}

int aec_cmd_decode(int argc, char **argv) { return run_command(argc, argv, 0); }
