/* tools/aec_train.c - `aec train`: train a model on a folder of images.
 *
 * Each step draws a batch of random crops, gives every batch item a random
 * rate level, runs the model forward and backward and takes an Adam step.
 * A progress line shows step, loss, rate, PSNR, speed and ETA; a validation
 * line every --val-every seconds evaluates the held-out folder at three
 * levels. Checkpoints (model + optimiser) are written atomically every
 * --checkpoint-every seconds and on Ctrl-C; --resume continues from one.
 *
 * Beside the weights Adam moves, the run keeps their moving average
 * (--average, nn/average.h): that is what validation reports first, what
 * the output model of an interrupted run holds (a run that ends its
 * schedule writes the weights themselves, quieted by the lr decay), and, as
 * an AVGW chunk, part of the checkpoint. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adam.h"
#include "average.h"
#include "blas.h"
#include "codec.h"
#include "dataset.h"
#include "model.h"
#include "model_file.h"
#include "tools.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* "90", "90s", "15m", "3h", "1.5h" -> seconds; -1 if malformed */
static double parse_duration(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -1;
    if (*end == 0 || strcmp(end, "s") == 0) return v;
    if (strcmp(end, "m") == 0) return v * 60;
    if (strcmp(end, "h") == 0) return v * 3600;
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aec train --data DIR -o MODEL [options]\n"
            "  --data DIR            training images (*.png, at least --patch and\n"
            "                        --patch-first pixels a side)\n"
            "  --val DIR             validation images, evaluated every --val-every\n"
            "  -o MODEL              where the trained model goes (.aecm)\n"
            "  --init MODEL          start from this model's weights (fine-tuning)\n"
            "  --resume CKPT         continue a run from its checkpoint (weights + optimiser)\n"
            "  --time T              stop after T (e.g. 90s, 20m, 3h)\n"
            "  --steps N             stop after N steps (counting resumed ones)\n"
            "  --batch B             patches per step (default 8)\n"
            "  --patch P             patch side, multiple of 64 (default 128)\n"
            "  --patch-first P:T     patches of side P for the first T of this run, then\n"
            "                        --patch (cheaper steps early: e.g. 64:10m)\n"
            "  --lr R                peak learning rate (default 1e-4)\n"
            "  --threads T           threads (default: all cores)\n"
            "  --workers W           the batch split over W workers of one thread each\n"
            "                        (at most the threads, the batch, 16; default: one per\n"
            "                        thread); 1: one batch whose loops use every thread\n"
            "  --seed S              random seed (default 1)\n"
            "  --n N --m M           channels of a new model (default 128, 192)\n"
            "  --lambdas L1,L2,...   the rate levels' lambdas, increasing (default 0.0003,\n"
            "                        0.0008,0.0018,0.0035,0.0067,0.013,0.025,0.0483,0.095,\n"
            "                        0.18: about 0.1-1.5 bpp); with --init the gains\n"
            "                        of new levels are interpolated from the model's\n"
            "  --context             a model with the checkerboard context model (new, or\n"
            "                        added to the --init model, which it starts out equal to)\n"
            "  --average D           keep a moving average of the weights with decay D\n"
            "                        (default 0.999; 0: none): validated, and written as MODEL\n"
            "                        when the run is interrupted (a finished run, its lr\n"
            "                        decayed, writes the weights themselves)\n"
            "  --checkpoint FILE     checkpoint path (default MODEL.ckpt)\n"
            "  --checkpoint-every T  (default 5m)   --val-every T (default 15m)\n"
            "  --snapshot-every T    also keep the weights (the live ones, not the\n"
            "                        average) every T of this run, as MODEL-stepN.aecm\n"
            "                        (for training curves)\n");
}

typedef struct {
    const char *data, *val, *out, *init, *resume, *ckpt;
    double time_limit, ckpt_every, val_every, snapshot_every;  /* 0: no snapshots */
    long steps;
    int batch, patch, threads, n, m;
    int first_patch;           /* --patch-first P:T; 0: none */
    int workers;               /* --workers; 0: 1 */
    double first_patch_time;
    float lr, average;
    unsigned long seed;
    int n_lambdas;   /* 0: not given */
    float lambdas[AEC_MAX_LEVELS];
    int context;     /* --context */
} train_options;

static int parse_options(int argc, char **argv, train_options *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 8;
    o->patch = 128;
    o->lr = 1e-4f;
    o->average = 0.999f;
    o->seed = 1;
    o->ckpt_every = 300;
    o->val_every = 900;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE                                                               \
    if (!v) {                                                                    \
        fprintf(stderr, "aec train: %s needs a value\n", a);                     \
        return -1;                                                               \
    }                                                                            \
    i++;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
        else if (!strcmp(a, "--data")) { NEED_VALUE o->data = v; }
        else if (!strcmp(a, "--val")) { NEED_VALUE o->val = v; }
        else if (!strcmp(a, "-o")) { NEED_VALUE o->out = v; }
        else if (!strcmp(a, "--init")) { NEED_VALUE o->init = v; }
        else if (!strcmp(a, "--resume")) { NEED_VALUE o->resume = v; }
        else if (!strcmp(a, "--checkpoint")) { NEED_VALUE o->ckpt = v; }
        else if (!strcmp(a, "--patch-first")) {
            NEED_VALUE
            char *end;
            long p = strtol(v, &end, 10);
            double d = *end == ':' ? parse_duration(end + 1) : -1;
            if (end == v || p < 64 || p > 4096 || p % 64 || d <= 0) {
                fprintf(stderr, "aec train: --patch-first: '%s' is not SIDE:TIME (a multiple of 64, "
                        "a duration such as 10m)\n", v);
                return -1;
            }
            o->first_patch = (int)p;
            o->first_patch_time = d;
        } else if (!strcmp(a, "--time") || !strcmp(a, "--checkpoint-every") || !strcmp(a, "--val-every") ||
                   !strcmp(a, "--snapshot-every")) {
            NEED_VALUE
            double d = parse_duration(v);
            if (d < 0) {
                fprintf(stderr, "aec train: %s: bad duration '%s' (use e.g. 90s, 20m, 3h)\n", a, v);
                return -1;
            }
            if (!strcmp(a, "--time")) o->time_limit = d;
            else if (!strcmp(a, "--val-every")) o->val_every = d;
            else if (!strcmp(a, "--snapshot-every")) o->snapshot_every = d;
            else o->ckpt_every = d;
        } else if (!strcmp(a, "--steps") || !strcmp(a, "--batch") || !strcmp(a, "--patch") ||
                   !strcmp(a, "--threads") || !strcmp(a, "--seed") || !strcmp(a, "--n") ||
                   !strcmp(a, "--workers") ||
                   !strcmp(a, "--m")) {
            NEED_VALUE
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || *end || n < 0) {
                fprintf(stderr, "aec train: %s: bad number '%s'\n", a, v);
                return -1;
            }
            if (!strcmp(a, "--steps")) o->steps = (long)n;
            else if (!strcmp(a, "--batch")) o->batch = (int)n;
            else if (!strcmp(a, "--patch")) o->patch = (int)n;
            else if (!strcmp(a, "--threads")) o->threads = (int)n;
            else if (!strcmp(a, "--workers")) o->workers = (int)n;
            else if (!strcmp(a, "--seed")) o->seed = (unsigned long)n;
            else if (!strcmp(a, "--n")) o->n = (int)n;
            else o->m = (int)n;
        } else if (!strcmp(a, "--lr")) {
            NEED_VALUE
            o->lr = strtof(v, NULL);
            if (!(o->lr > 0 && o->lr < 1)) {
                fprintf(stderr, "aec train: --lr: bad rate '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--context")) {
            o->context = 1;
        } else if (!strcmp(a, "--lambdas")) {
            NEED_VALUE
            const char *s = v;
            o->n_lambdas = 0;
            for (;;) {
                char *end;
                float x = strtof(s, &end);
                if (end == s || !(x > 0 && x < 1) || o->n_lambdas == AEC_MAX_LEVELS ||
                    (o->n_lambdas > 0 && !(x > o->lambdas[o->n_lambdas - 1])) ||
                    (*end && *end != ',')) {
                    fprintf(stderr, "aec train: --lambdas: '%s' is not a list of 1 to %d increasing "
                            "numbers between 0 and 1\n", v, AEC_MAX_LEVELS);
                    return -1;
                }
                o->lambdas[o->n_lambdas++] = x;
                if (!*end) break;
                s = end + 1;
            }
        } else if (!strcmp(a, "--average")) {
            NEED_VALUE
            char *end;
            o->average = strtof(v, &end);
            if (*end || !(o->average >= 0 && o->average < 1)) {
                fprintf(stderr, "aec train: --average: bad decay '%s' (0 to below 1)\n", v);
                return -1;
            }
        } else {
            fprintf(stderr, "aec train: unknown option '%s' (try aec train --help)\n", a);
            return -1;
        }
#undef NEED_VALUE
    }
    if (!o->data || !o->out) {
        fprintf(stderr, "aec train: --data DIR and -o MODEL are required (try aec train --help)\n");
        return -1;
    }
    if (!o->time_limit && !o->steps) {
        fprintf(stderr, "aec train: give a budget: --time T or --steps N\n");
        return -1;
    }
    if (o->batch < 1 || o->batch > 64) {
        fprintf(stderr, "aec train: --batch must be 1-64\n");
        return -1;
    }
    if (o->patch < 64 || o->patch % 64) {
        fprintf(stderr, "aec train: --patch must be a multiple of 64\n");
        return -1;
    }
    if (o->init && o->resume) {
        fprintf(stderr, "aec train: --init and --resume exclude each other\n");
        return -1;
    }
    return 0;
}

/* Estimated bpp and PSNR of the validation images at level position t. */
static void validate(const aec_model *m, aec_train_state *s, const aec_dataset *val, float t,
                     double *bpp, double *psnr)
{
    double sum_bpp = 0, sum_psnr = 0;
    nn_tensor x_hat = {0};
    for (int i = 0; i < val->count; i++) {
        float *planar;
        int pw, ph, w = val->width[i], h = val->height[i];
        if (aec_image_to_planar(val->rgb[i], w, h, 64, &planar, &pw, &ph)) continue;
        nn_tensor x = {1, 3, ph, pw, planar};
        double bits = aec_model_eval(m, s, &x, t, &x_hat);
        double se = 0;
        size_t plane = (size_t)pw * ph;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++) {
                    size_t k = c * plane + (size_t)y * pw + xx;
                    double a = floor(x_hat.data[k] * 255.0 + 0.5);
                    double b = val->rgb[i][((size_t)y * w + xx) * 3 + c];
                    se += (a - b) * (a - b);
                }
        double mse = se / (3.0 * w * h);
        sum_psnr += 10 * log10(255.0 * 255.0 / (mse > 1e-10 ? mse : 1e-10));
        sum_bpp += bits / ((double)w * h);
        free(planar);
    }
    nn_tensor_free(&x_hat);
    *bpp = sum_bpp / val->count;
    *psnr = sum_psnr / val->count;
}

static double psnr_of(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return 10 * log10(255.0 * 255.0 / fmax(se / (double)n, 1e-10));
}

/* The real thing at three qualities: the model exported as the coder would
 * ship it (calibrated, as aec export is told to, on training images: the
 * fitted tables never see the validation images), every validation image
 * encoded and decoded; mean coded bpp and PSNR, beside the likelihood
 * estimate of the float model. */
static void validate_coded(const aec_model *m, aec_train_state *s, const aec_dataset *val,
                           const aec_dataset *calib, long step, int tty, const char *label)
{
    static const double qualities[3] = {0, 50, 100};
    aec_model copy;
    aec_codec codec = {0};
    char err[512];
    snprintf(err, sizeof err, "out of memory");
    int coded = aec_model_clone(&copy, m) == 0 &&
                aec_codec_from_model(&codec, &copy, calib, err, sizeof err) == 0;
    printf("%s%s step %ld", tty ? "\n" : "", label, step);
    for (int q = 0; q < 3; q++) {
        double bpp = 0, psnr = 0, est_bpp, est_psnr;
        int n = 0;
        for (int i = 0; coded && i < val->count; i++) {
            uint8_t *bytes = NULL, *rgb = NULL;
            size_t len;
            int w, h;
            if (aec_encode(&codec, val->rgb[i], val->width[i], val->height[i], qualities[q], &bytes,
                           &len, err, sizeof err) == 0 &&
                aec_decode(&codec, bytes, len, &rgb, &w, &h, err, sizeof err) == 0) {
                bpp += 8.0 * (double)len / ((double)w * h);
                psnr += psnr_of(rgb, val->rgb[i], (size_t)w * h * 3);
                n++;
            }
            free(bytes);
            free(rgb);
        }
        float t = (float)(qualities[q] / 100.0 * (m->arch.levels - 1));
        validate(m, s, val, t, &est_bpp, &est_psnr);
        printf(" | q %.0f: %.4f bpp %.2f dB (estimate %.4f bpp %.2f dB)", qualities[q],
               n ? bpp / n : 0, n ? psnr / n : 0, est_bpp, est_psnr);
    }
    if (coded) printf("  [%d images, coded]\n", val->count);
    else printf("  [%d images; not coded: %s]\n", val->count, err);
    fflush(stdout);
    aec_codec_free(&codec);
}

/* MODEL-stepN.aecm beside MODEL (its .aecm, if any, moved to the end) */
static void snapshot_path(char *path, size_t len, const char *out, long step)
{
    size_t n = strlen(out);
    int ext = n >= 5 && !strcmp(out + n - 5, ".aecm");
    snprintf(path, len, "%.*s-step%ld.aecm", (int)(ext ? n - 5 : n), out, step);
}

/* warm-up over the first 200 steps of a fresh run, hold, then cosine decay
 * to a tenth over the last 15% of the budget (by steps or by time) */
static float learning_rate(const train_options *o, long step, long first_step, double elapsed)
{
    double frac = 0;
    if (o->steps) frac = (double)step / (double)o->steps;
    if (o->time_limit) frac = fmax(frac, elapsed / o->time_limit);
    double lr = o->lr;
    long warm = step - first_step;
    if (first_step == 0 && warm < 200) lr *= 0.1 + 0.9 * (double)warm / 200.0;
    if (frac > 0.85) {
        double d = fmin(1.0, (frac - 0.85) / 0.15);
        lr *= 0.1 + 0.9 * 0.5 * (1 + cos(3.141592653589793 * d));
    }
    return (float)lr;
}

/* history: the init=, init_steps= and init_wall_seconds= lines of a model
 * that began as another (--init), so that its metadata still counts the
 * training it started from; "" for a model trained from scratch */
static void format_meta(char *buf, size_t len, const train_options *o, long steps,
                        double wall, const aec_dataset *d, const char *history)
{
    char first[64] = "";
    if (o->first_patch)
        snprintf(first, sizeof first, "patch_first=%d:%.0fs\n", o->first_patch, o->first_patch_time);
    snprintf(buf, len,
             "data=%s\nimages=%d\nsteps=%ld\nbatch=%d\npatch=%d\n%slr=%g\nseed=%lu\n"
             "average=%g\nwall_seconds=%.0f\n%s",
             o->data, d->count, steps, o->batch, o->patch, first, o->lr, o->seed, o->average, wall,
             history);
}

/* The number after "key=" at the start of a line of meta, or 0. */
static double meta_number(const char *meta, const char *key)
{
    const size_t n = strlen(key);
    const char *line = meta;
    while (line && *line) {
        if (!strncmp(line, key, n) && line[n] == '=') return atof(line + n + 1);
        line = strchr(line, '\n');
        if (line) line++;
    }
    return 0;
}

/* history (see format_meta) for a run that starts from a model with this
 * metadata: on --resume the lines from "init=" on, which format_meta wrote
 * last; on --init new lines adding the model's own steps and wall time to
 * what it had started from */
static void start_history(char *history, size_t len, const char *meta, const char *init_path)
{
    history[0] = 0;
    if (!meta) meta = "";
    if (!init_path) {
        const char *at = strstr(meta, "init=");
        if (at && (at == meta || at[-1] == '\n')) snprintf(history, len, "%s", at);
        return;
    }
    snprintf(history, len, "init=%s\ninit_steps=%.0f\ninit_wall_seconds=%.0f\n", init_path,
             meta_number(meta, "steps") + meta_number(meta, "init_steps"),
             meta_number(meta, "wall_seconds") + meta_number(meta, "init_wall_seconds"));
}

/* The checkpoint: the weights Adam moves, Adam's state and (when averaging)
 * the averaged weights as an AVGW chunk. */
static int save_checkpoint(const char *path, const aec_model *model, const aec_model *avg,
                           const char *meta, const nn_adam *adam, char *err, size_t errlen)
{
    aec_chunk chunk = {{'A', 'V', 'G', 'W'}, NULL, 0};
    uint8_t *blob = NULL;
    if (avg) {
        if (nn_params_serialize(&avg->p, &blob, &chunk.len)) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        chunk.data = blob;
    }
    int rc = aec_model_save(path, model, meta, adam, avg ? &chunk : NULL, avg ? 1 : 0, err, errlen);
    free(blob);
    return rc;
}

/* Loads --resume or --init into model (and Adam's state from a checkpoint)
 * and starts avg (when wanted) from the checkpoint's AVGW chunk, else from
 * the weights themselves. */
static int load_start(const char *path, int resume, aec_model *model, nn_adam *adam, int *has_opt,
                      aec_model *avg, double *wall_before, char *history, size_t history_len,
                      char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t *buf = aec_read_file(path, (size_t)1 << 31, &len, err, errlen);
    if (!buf) return -1;
    char *meta = NULL;
    aec_chunk extra[AEC_MODEL_MAX_EXTRA];
    int n_extra = 0;
    if (aec_model_parse(buf, len, path, 0, model, &meta, resume ? adam : NULL, has_opt, extra,
                        &n_extra, err, errlen)) {
        free(buf);
        return -1;
    }
    /* by line start: "init_wall_seconds=" holds "wall_seconds=" too */
    if (resume) *wall_before = meta_number(meta, "wall_seconds");
    start_history(history, history_len, meta, resume ? NULL : path);
    free(meta);
    int rc = 0;
    if (avg) {
        rc = aec_model_clone(avg, model);
        if (rc) snprintf(err, errlen, "out of memory");
        const aec_chunk *avgw = resume ? aec_chunk_find(extra, n_extra, "AVGW") : NULL;
        if (!rc && avgw && nn_params_deserialize(&avg->p, avgw->data, avgw->len, err, errlen)) {
            aec_model_free(avg);
            rc = -1;
        }
    }
    if (rc) {
        aec_model_free(model);
        if (*has_opt) nn_adam_free(adam);
        *has_opt = 0;
    }
    free(buf);
    return rc;
}

/* --lambdas or --context on a loaded model: nothing to do when the model
 * already is so; with --init, the model (and its average) re-levelled or
 * given a context; a checkpoint's optimiser state cannot follow, so --resume
 * is refused. */
static int change_levels(const train_options *o, aec_model *model, aec_model *avg, int has_opt)
{
    const aec_arch *a = &model->arch;
    int same = !o->n_lambdas || a->levels == o->n_lambdas;
    for (int l = 0; same && o->n_lambdas && l < a->levels; l++) same = a->lambda[l] == o->lambdas[l];
    if (o->context && !a->context) same = 0;
    if (same) return AEC_EXIT_OK;
    if (o->resume || has_opt) {
        fprintf(stderr, "aec train: %s: the checkpoint's %s; change %s with --init (a fresh "
                "optimiser) instead of --resume\n", o->resume,
                o->context && !a->context ? "model has no context model" : "rate levels differ from --lambdas",
                o->context && !a->context ? "it" : "them");
        return AEC_EXIT_USAGE;
    }
    aec_arch arch = *a;
    if (o->n_lambdas) {
        arch.levels = o->n_lambdas;
        memcpy(arch.lambda, o->lambdas, sizeof(float) * (size_t)o->n_lambdas);
    }
    if (o->context) arch.context = 1;
    aec_model fresh;
    if (aec_model_relevel(&fresh, model, &arch)) {
        fprintf(stderr, "aec train: out of memory\n");
        return AEC_EXIT_SYSTEM;
    }
    aec_model_free(model);
    *model = fresh;
    if (avg) {
        aec_model_free(avg);
        if (aec_model_clone(avg, model)) {
            fprintf(stderr, "aec train: out of memory\n");
            return AEC_EXIT_SYSTEM;
        }
    }
    return AEC_EXIT_OK;
}

/* The states of one batch: a single one whose loops use every thread, or
 * one per worker, each a thread with its share of the batch
 * (aec_model_train_split). Crops and levels are drawn from st[0]'s
 * generator; each worker's noise from its own. */
typedef struct {
    int workers;
    aec_train_state st[AEC_MAX_WORKERS];
    float *grads[AEC_MAX_WORKERS];
} trainer;

static int trainer_shape(trainer *t, int batch, int patch)
{
    for (int w = 0; w < t->workers; w++) {
        int n = batch / t->workers + (w < batch % t->workers);
        if (nn_tensor_resize(&t->st[w].x, n, 3, patch, patch)) return -1;
    }
    return 0;
}

static void trainer_free(trainer *t)
{
    for (int w = 0; w < t->workers; w++) {
        aec_train_state_free(&t->st[w]);
        free(t->grads[w]);
    }
    memset(t, 0, sizeof *t);
}

static int trainer_init(trainer *t, int workers, int batch, int patch, size_t n_params, uint64_t seed)
{
    memset(t, 0, sizeof *t);
    t->workers = workers;
    int err = 0;
    for (int w = 0; w < workers; w++) {
        aec_train_state_init(&t->st[w], seed + (uint64_t)w * 0x9E3779B97F4A7C15ULL);
        if (workers > 1 && !(t->grads[w] = malloc(n_params * sizeof(float)))) err = 1;
    }
    if (err || trainer_shape(t, batch, patch)) {
        trainer_free(t);
        return -1;
    }
    return 0;
}

/* Draws the batch and runs forward and backward: model.p.grad is the
 * batch's gradient; *loss the batch's loss, *bits its bits, psnr_sum the
 * sum of its items' PSNRs. 0, or -1 (out of memory). */
static int trainer_step(trainer *t, aec_model *m, const aec_dataset *d, int patch, double *loss,
                        double *bits, double *psnr_sum)
{
    const size_t per = (size_t)3 * patch * patch;
    nn_rng *rng = &t->st[0].rng;
    int items = 0;
    for (int w = 0; w < t->workers; w++)
        for (int i = 0; i < t->st[w].x.n; i++, items++) {
            aec_dataset_random_crop(d, rng, patch, t->st[w].x.data + per * (size_t)i);
            t->st[w].level[i] = (int)nn_rng_below(rng, (uint32_t)m->arch.levels);
        }
    if (aec_model_train_split(m, t->st, t->workers, t->grads)) return -1;
    *loss = *bits = *psnr_sum = 0;
    for (int w = 0; w < t->workers; w++) {
        const aec_train_state *s = &t->st[w];
        *loss += s->loss * s->x.n / items;
        *bits += s->bits_y + s->bits_z;
        for (int i = 0; i < s->x.n; i++) *psnr_sum += 10 * log10(1.0 / fmax(s->mse[i], 1e-10));
    }
    return 0;
}

int aec_cmd_train(int argc, char **argv)
{
    train_options o;
    if (parse_options(argc, argv, &o)) return AEC_EXIT_USAGE;
    char err[512], ckpt_path[4096];
    snprintf(ckpt_path, sizeof ckpt_path, "%s", o.ckpt ? o.ckpt : "");
    if (!o.ckpt) snprintf(ckpt_path, sizeof ckpt_path, "%s.ckpt", o.out);
    if (o.threads > 0) {
        nn_blas_set_threads(o.threads);
        omp_set_num_threads(o.threads);
    }

    aec_dataset data, val = {0};
    int min_side = o.first_patch > o.patch ? o.first_patch : o.patch;
    if (aec_dataset_load(&data, o.data, min_side, err, sizeof err)) {
        fprintf(stderr, "aec train: %s\n", err);
        return AEC_EXIT_DATA;
    }
    if (o.val && aec_dataset_load(&val, o.val, 1, err, sizeof err)) {
        fprintf(stderr, "aec train: %s\n", err);
        aec_dataset_free(&data);
        return AEC_EXIT_DATA;
    }

    aec_model model, average_model;
    aec_model *avg = o.average > 0 ? &average_model : NULL;
    nn_adam adam;
    int has_opt = 0, rc = AEC_EXIT_OK;
    double wall_before = 0;
    char history[4096] = "";
    if (o.resume || o.init) {
        if (load_start(o.resume ? o.resume : o.init, o.resume != NULL, &model, &adam, &has_opt, avg,
                       &wall_before, history, sizeof history, err, sizeof err)) {
            fprintf(stderr, "aec train: %s\n", err);
            aec_dataset_free(&data);
            aec_dataset_free(&val);
            return AEC_EXIT_DATA;
        }
        if ((o.n_lambdas || o.context) && (rc = change_levels(&o, &model, avg, has_opt)) != AEC_EXIT_OK) {
            aec_model_free(&model);
            if (avg) aec_model_free(avg);
            if (has_opt) nn_adam_free(&adam);
            aec_dataset_free(&data);
            aec_dataset_free(&val);
            return rc;
        }
    } else {
        aec_arch arch;
        aec_arch_default(&arch);
        if (o.n) arch.n = o.n;
        if (o.m) arch.m = o.m;
        arch.context = o.context;
        if (o.n_lambdas) {
            arch.levels = o.n_lambdas;
            memcpy(arch.lambda, o.lambdas, sizeof(float) * (size_t)o.n_lambdas);
        }
        if (aec_model_create(&model, &arch)) {
            fprintf(stderr, "aec train: out of memory\n");
            return AEC_EXIT_SYSTEM;
        }
        aec_model_init(&model, o.seed);
        if (avg && aec_model_clone(avg, &model)) {
            fprintf(stderr, "aec train: out of memory\n");
            return AEC_EXIT_SYSTEM;
        }
    }
    if (!has_opt && nn_adam_init(&adam, model.p.count)) {
        fprintf(stderr, "aec train: out of memory\n");
        return AEC_EXIT_SYSTEM;
    }
    adam.clip_norm = 1.0f;

    int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
    /* a worker per thread by default: on this project's 2-core machine the
     * default model's step took 0.50-0.63 s split over two, 0.72-0.80 s as
     * one batch on both threads (bench_train, session 9, training paused;
     * they were even before the step's Winograd plans were shared) */
    int workers = o.workers < 1 ? threads : o.workers < threads ? o.workers : threads;
    if (workers > o.batch) workers = o.batch;
    if (workers > AEC_MAX_WORKERS) workers = AEC_MAX_WORKERS;
    trainer tr;
    int patch = o.first_patch ? o.first_patch : o.patch;
    if (trainer_init(&tr, workers, o.batch, patch, model.p.count, o.seed * 7919 + (unsigned long)adam.step)) {
        fprintf(stderr, "aec train: out of memory\n");
        return AEC_EXIT_SYSTEM;
    }
    aec_train_state *st = &tr.st[0];   /* validation's state */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    const aec_arch *arch = &model.arch;
    printf("aec train: %d images from %s, %d validation; model N=%d M=%d, %d levels, "
           "%zu parameters%s; batch %d of %dx%d; %d worker%s; BLAS kernel %s; start at step %ld\n",
           data.count, o.data, val.count, arch->n, arch->m, arch->levels, model.p.count,
           arch->context ? ", context model" : "",
           o.batch, o.patch, o.patch, workers, workers > 1 ? "s (one thread each)" : "", nn_blas_corename(),
           adam.step);
    if (o.first_patch)
        printf("aec train: patches of %dx%d for the first %.0f s\n", o.first_patch, o.first_patch,
               o.first_patch_time);
    fflush(stdout);

    int tty = isatty(fileno(stdout));
    long first_step = adam.step;
    double t0 = now_seconds(), last_print = t0, last_ckpt = t0, last_val = t0, last_snap = t0;
    double ema_loss = 0, ema_bpp = 0, ema_psnr = 0;
    char meta[8192];
    for (;;) {
        double elapsed = now_seconds() - t0;
        int done = (o.steps && adam.step >= o.steps) || (o.time_limit && elapsed >= o.time_limit);
        if (done || stop_requested) break;
        if (patch != o.patch && elapsed >= o.first_patch_time) {
            patch = o.patch;
            if (trainer_shape(&tr, o.batch, patch)) {
                fprintf(stderr, "aec train: out of memory\n");
                rc = AEC_EXIT_SYSTEM;
                break;
            }
            printf("%saec train: step %ld: patches of %dx%d from now on\n", tty ? "\n" : "", adam.step,
                   patch, patch);
        }
        double loss, bits, psnr;
        if (trainer_step(&tr, &model, &data, patch, &loss, &bits, &psnr)) {
            fprintf(stderr, "aec train: out of memory\n");
            rc = AEC_EXIT_SYSTEM;
            break;
        }
        if (!isfinite(loss)) {
            fprintf(stderr, "aec train: loss is not finite at step %ld; stopping (last checkpoint kept)\n",
                    adam.step);
            rc = AEC_EXIT_DATA;
            break;
        }
        float lr = learning_rate(&o, adam.step, first_step, elapsed);
        nn_adam_step(&adam, &model.p, lr);
        if (avg) nn_average_update(avg->p.value, model.p.value, model.p.count, o.average);

        double bpp = bits / ((double)o.batch * patch * patch);
        psnr /= o.batch;
        double k = ema_loss == 0 ? 1.0 : 0.02;
        ema_loss += k * (loss - ema_loss);
        ema_bpp += k * (bpp - ema_bpp);
        ema_psnr += k * (psnr - ema_psnr);

        double t = now_seconds();
        if (t - last_print >= (tty ? 1.0 : 30.0)) {
            double rate = (double)(adam.step - first_step) * o.batch / (t - t0);
            double eta = -1;
            if (o.time_limit) eta = o.time_limit - (t - t0);
            if (o.steps) {
                double e = (double)(o.steps - adam.step) * o.batch / rate;
                eta = eta < 0 ? e : fmin(eta, e);
            }
            printf("%sstep %ld  loss %.4f  bpp %.3f  psnr %.2f dB  %.1f patches/s  lr %.2g  eta %.0fm%s",
                   tty ? "\r" : "", adam.step, ema_loss, ema_bpp, ema_psnr, rate, lr, eta / 60,
                   tty ? "   " : "\n");
            fflush(stdout);
            last_print = t;
        }
        if (val.count && t - last_val >= o.val_every) {
            validate_coded(avg ? avg : &model, st, &val, &data, adam.step, tty, "val  ");
            if (avg) validate_coded(&model, st, &val, &data, adam.step, 0, "val live");
            last_val = now_seconds();
        }
        if (o.snapshot_every > 0 && t - last_snap >= o.snapshot_every) {
            char path[4096];
            format_meta(meta, sizeof meta, &o, adam.step, wall_before + (t - t0), &data, history);
            snapshot_path(path, sizeof path, o.out, adam.step);
            if (aec_model_save(path, &model, meta, NULL, NULL, 0, err, sizeof err))
                fprintf(stderr, "aec train: snapshot failed: %s\n", err);
            last_snap = now_seconds();
        }
        if (t - last_ckpt >= o.ckpt_every) {
            format_meta(meta, sizeof meta, &o, adam.step, wall_before + (t - t0), &data, history);
            if (save_checkpoint(ckpt_path, &model, avg, meta, &adam, err, sizeof err))
                fprintf(stderr, "aec train: checkpoint failed: %s\n", err);
            last_ckpt = now_seconds();
        }
    }
    if (tty) printf("\n");
    if (val.count && rc == AEC_EXIT_OK && !stop_requested) {
        validate_coded(avg ? avg : &model, st, &val, &data, adam.step, 0, "val  ");
        if (avg) validate_coded(&model, st, &val, &data, adam.step, 0, "val live");
    }
    double wall = wall_before + (now_seconds() - t0);
    format_meta(meta, sizeof meta, &o, adam.step, wall, &data, history);
    if (save_checkpoint(ckpt_path, &model, avg, meta, &adam, err, sizeof err)) {
        fprintf(stderr, "aec train: checkpoint failed: %s\n", err);
        rc = AEC_EXIT_SYSTEM;
    }
    if (rc == AEC_EXIT_OK || stop_requested) {
        /* A run that ends its schedule has just decayed the learning rate,
         * which quiets the weights better than the average, whose horizon
         * still holds the weights from before the decay: at the end of the
         * run of 2026-11-27 the live weights coded the validation set
         * 0.2 dB better at q 50 for 2.4% more bits, 0.24 dB for 1.5% at
         * q 100. Interrupted runs write the average. */
        const aec_model *final = avg && stop_requested ? avg : &model;
        if (aec_model_save(o.out, final, meta, NULL, NULL, 0, err, sizeof err)) {
            fprintf(stderr, "aec train: %s\n", err);
            rc = AEC_EXIT_SYSTEM;
        } else {
            printf("aec train: %s after %ld steps (%.0f s this run%s); checkpoint %s\n", o.out,
                   adam.step, now_seconds() - t0, stop_requested ? ", interrupted" : "", ckpt_path);
        }
    }
    trainer_free(&tr);
    nn_adam_free(&adam);
    aec_model_free(&model);
    if (avg) aec_model_free(avg);
    aec_dataset_free(&data);
    aec_dataset_free(&val);
    return rc;
}
