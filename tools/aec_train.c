/* tools/aec_train.c - `aec train`: train a model on a folder of images.
 *
 * Each step draws a batch of random crops, gives every batch item a random
 * rate level, runs the model forward and backward and takes an Adam step.
 * A progress line shows step, loss, rate, PSNR, speed and ETA; a validation
 * line every --val-every seconds evaluates the held-out folder at three
 * levels. Checkpoints (model + optimiser) are written atomically every
 * --checkpoint-every seconds and on Ctrl-C; --resume continues from one.
 * A run ends, finished or interrupted, with its checkpoint and then the
 * output model made ready to code as `aec export` makes it (calibrated on
 * the training images or --calib's), so that `aec encode -m` takes it.
 *
 * Beside the weights Adam moves, the run keeps their moving average
 * (--average, nn/average.h): that is what validation reports first, what
 * the output model of an interrupted run holds (a run that ends its
 * schedule writes the weights themselves, quieted by the lr decay), and, as
 * an AVGW chunk, part of the checkpoint.
 *
 * Built with MPI (make MPI=1), `mpirun -np N aec train` is one run over N
 * processes, data-parallel (train_ranks.h): every rank draws the same
 * batch and computes its share, the gradients are summed in a fixed order
 * and every rank takes the same step; rank 0 alone reads the start model,
 * prints, validates and writes. The batch, learning rate and schedule
 * mean what they mean in one process. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec.h"
#include "codec/model.h"
#include "codec/model_file.h"
#include "codec/psnr.h"
#include "nn/adam.h"
#include "nn/average.h"
#include "nn/blas.h"
#include "nn/crc32.h"
#include "tools/cli.h"
#include "tools/measure/domain_fit.h"
#include "tools/tools.h"
#include "tools/train/calibrate.h"
#include "tools/train/checkpoint.h"
#include "tools/train/dataset.h"
#include "tools/train/level_draw.h"
#include "tools/train/model_train.h"
#include "tools/train/train_ranks.h"

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
            "  --data DIR            training images (*.png, *.jpg, *.jpeg; at least --patch\n"
            "                        and --patch-first pixels a side)\n"
            "  --val DIR             validation images, evaluated every --val-every\n"
            "  -o MODEL              where the trained model goes (.aecm), ready to code\n"
            "                        (aec encode -m MODEL): at the end of the run, or after\n"
            "                        Ctrl-C, it is calibrated and exported as aec export does\n"
            "  --calib DIR           images to calibrate MODEL on (the first %d by name, as\n"
            "                        aec export --calib; default: the training images that\n"
            "                        are at least --patch a side)\n"
            "  --init MODEL          start from this model's weights (fine-tuning)\n"
            "  --resume CKPT         continue a run from its checkpoint (weights + optimiser)\n"
            "  --time T              stop after T (e.g. 90s, 20m, 3h)\n"
            "  --steps N             stop after N steps (counting resumed ones); 0: none,\n"
            "                        the model exported as it starts (widened, relevelled)\n"
            "  --batch B             patches per step (default 8; with --init, as many\n"
            "                        pixels as 2 patches of 256x256, at least 1)\n"
            "  --patch P             patch side, multiple of 64 (default 128; with --init\n"
            "                        512, or the largest that every training image holds)\n"
            "  --patch-first P:T     patches of side P for the first T of this run, then\n"
            "                        --patch (cheaper steps early: e.g. 64:10m)\n"
            "  --lr R                peak learning rate (default 1e-4)\n"
            "  --lr-scale P=F,...    the rate of the parameters whose names start with P\n"
            "                        times F (0: frozen): g_a g_s (the transforms), h_a\n"
            "                        h_s z_density (the entropy model), gain inv_gain\n"
            "                        hgain hinv_gain (the rate levels); e.g. g_s=0\n"
            "  --threads T           threads (default: all cores)\n"
            "  --workers W           the batch split over W workers of one thread each\n"
            "                        (at most the threads, the batch, 16; default: one per\n"
            "                        thread); 1: one batch whose loops use every thread;\n"
            "                        under mpirun (make MPI=1) W per rank, the batch split\n"
            "                        over them all\n"
            "  --seed S              random seed (default 1)\n"
            "  --n N --m M           channels of a new model (default 128, 192; M even, at\n"
            "                        most 1024); with --init, an M above the model's widens\n"
            "                        its latent: the new channels start out changing no pixel\n"
            "  --lambdas L1,L2,...   the rate levels' lambdas, increasing (default 0.0003,\n"
            "                        0.0008,0.0018,0.0035,0.0067,0.013,0.025,0.0483,0.095,\n"
            "                        0.18: about 0.1-1.5 bpp); with --init the gains\n"
            "                        of new levels are interpolated from the model's\n"
            "  --level-weights W,...  how often each rate level is trained, relatively: one\n"
            "                        weight 0-1000 per level, not all 0 (default: all\n"
            "                        alike); e.g. the top three of ten 4x as often:\n"
            "                        1,1,1,1,1,1,1,4,4,4; give it again on --resume\n"
            "  --context             a model with the checkerboard context model (new, or\n"
            "                        added to the --init model, which it starts out equal to)\n"
            "  --average D           keep a moving average of the weights with decay D\n"
            "                        (default 0.999; 0: none): validated, and written as MODEL\n"
            "                        when the run is interrupted (a finished run, its lr\n"
            "                        decayed, writes the weights themselves)\n"
            "  --checkpoint FILE     checkpoint path (default MODEL.ckpt): the weights, their\n"
            "                        average and the optimiser, for --resume and aec export\n"
            "  --checkpoint-every T  (default 5m)   --val-every T (default 15m)\n"
            "  --snapshot-every T    also keep the weights (the live ones, not the\n"
            "                        average) every T of this run, as MODEL-stepN.aecm\n"
            "                        (for training curves; not exported)\n",
            AEC_CALIB_IMAGES);
}

#define TRAIN_LR_PARTS 16
#define AEC_TRAIN_PATCH 128        /* a new model's patch side and batch */
#define AEC_TRAIN_BATCH 8
#define AEC_FINE_TUNE_PATCH 512    /* --init's patch side, at most */
#define AEC_FINE_TUNE_PIXELS (2 * 256 * 256)  /* --init's pixels a batch */
#define AEC_FINE_TUNE_MIN_PATCH 64

typedef struct {
    const char *data, *val, *calib, *out, *init, *resume, *ckpt;
    double time_limit, ckpt_every, val_every, snapshot_every;  /* 0: no snapshots */
    long steps;
    int steps_given;           /* --steps, 0 included */
    int batch, patch, threads, n, m;
    int batch_given, patch_given;  /* --batch, --patch (0 refused); else resolve_patch sets them */
    int first_patch;           /* --patch-first P:T; 0: none */
    int workers;               /* --workers; 0: 1 */
    double first_patch_time;
    float lr, average;
    unsigned long seed;
    int n_lambdas;   /* 0: not given */
    float lambdas[AEC_MAX_LEVELS];
    int n_level_weights; /* --level-weights: 0 when not given */
    float level_weights[AEC_MAX_LEVELS];
    int context;     /* --context */
    int n_lr_parts;  /* --lr-scale PART=F,...: 0 when not given */
    char lr_part[TRAIN_LR_PARTS][NN_PARAM_NAME_MAX];
    float lr_part_scale[TRAIN_LR_PARTS];
} train_options;

/* --lr-scale's list, PART=F,PART=F,...: PART a parameter-name prefix, F a
 * factor in [0, 100]. 0, or -1 (said). */
static int parse_lr_scale(const char *v, train_options *o, FILE *say)
{
    const char *s = v;
    o->n_lr_parts = 0;
    for (;;) {
        const char *eq = strchr(s, '=');
        char *end = NULL;
        float f = eq ? strtof(eq + 1, &end) : -1;
        size_t len = eq ? (size_t)(eq - s) : 0;
        if (!eq || len == 0 || len >= NN_PARAM_NAME_MAX || memchr(s, ',', len) ||
            end == eq + 1 || !(f >= 0 && f <= 100) || (*end && *end != ',') ||
            o->n_lr_parts == TRAIN_LR_PARTS) {
            fprintf(say, "aec train: --lr-scale: '%s' is not a list of up to %d PART=FACTOR "
                    "(a parameter-name prefix such as g_s, a factor 0-100)\n", v, TRAIN_LR_PARTS);
            return -1;
        }
        memcpy(o->lr_part[o->n_lr_parts], s, len);
        o->lr_part[o->n_lr_parts][len] = 0;
        o->lr_part_scale[o->n_lr_parts++] = f;
        if (!*end) return 0;
        s = end + 1;
    }
}

/* A list of one number per rate level, "X1,X2,...": 1 to AEC_MAX_LEVELS
 * numbers into x[], their count into *n. 0, or -1 when v is not such a
 * list (the caller says so, with the ranges its option allows). */
static int read_level_list(const char *v, float x[AEC_MAX_LEVELS], int *n)
{
    const char *s = v;
    *n = 0;
    for (;;) {
        char *end;
        float f = strtof(s, &end);
        if (end == s || *n == AEC_MAX_LEVELS || (*end && *end != ',')) return -1;
        x[(*n)++] = f;
        if (!*end) return 0;
        s = end + 1;
    }
}

/* --lambdas: increasing numbers in (0, 10]. 0, or -1 (said). */
static int parse_lambdas(const char *v, train_options *o, FILE *say)
{
    int ok = read_level_list(v, o->lambdas, &o->n_lambdas) == 0;
    for (int l = 0; ok && l < o->n_lambdas; l++)
        ok = o->lambdas[l] > 0 && o->lambdas[l] <= 10 && (l == 0 || o->lambdas[l] > o->lambdas[l - 1]);
    if (ok) return 0;
    fprintf(say, "aec train: --lambdas: '%s' is not a list of 1 to %d increasing numbers in (0, 10]\n",
            v, AEC_MAX_LEVELS);
    return -1;
}

/* --level-weights: numbers in [0, 1000], not all 0; whether they fit the
 * model's levels is checked once it is loaded. 0, or -1 (said). */
static int parse_level_weights(const char *v, train_options *o, FILE *say)
{
    int ok = read_level_list(v, o->level_weights, &o->n_level_weights) == 0, some = 0;
    for (int l = 0; ok && l < o->n_level_weights; l++) {
        ok = o->level_weights[l] >= 0 && o->level_weights[l] <= 1000;
        some |= o->level_weights[l] > 0;
    }
    if (!ok) {
        fprintf(say, "aec train: --level-weights: '%s' is not a list of 1 to %d numbers in "
                "[0, 1000]\n", v, AEC_MAX_LEVELS);
        return -1;
    }
    if (!some) {
        fprintf(say, "aec train: --level-weights: '%s': not all weights may be 0\n", v);
        return -1;
    }
    return 0;
}

/* The options; errors go to say (every rank parses, rank 0 says).
 * 0, 1 for --help, or -1. */
static int parse_options(int argc, char **argv, train_options *o, FILE *say)
{
    memset(o, 0, sizeof *o);
    /* batch and patch 0 until resolve_patch, unless given */
    o->lr = 1e-4f;
    o->average = 0.999f;
    o->seed = 1;
    o->ckpt_every = 300;
    o->val_every = 900;
    /* every option but --context takes a value; the loop tells them apart
     * by name */
    static const cli_option opts[] = {
        {"--data", 1, CLI_VALUE}, {"--val", 1, CLI_VALUE}, {"--calib", 1, CLI_VALUE},
        {"-o", 1, CLI_VALUE}, {"--init", 1, CLI_VALUE}, {"--resume", 1, CLI_VALUE},
        {"--checkpoint", 1, CLI_VALUE}, {"--time", 1, CLI_VALUE},
        {"--checkpoint-every", 1, CLI_VALUE}, {"--val-every", 1, CLI_VALUE},
        {"--snapshot-every", 1, CLI_VALUE}, {"--steps", 1, CLI_VALUE}, {"--batch", 1, CLI_VALUE},
        {"--patch", 1, CLI_VALUE}, {"--threads", 1, CLI_VALUE}, {"--seed", 1, CLI_VALUE},
        {"--n", 1, CLI_VALUE}, {"--workers", 1, CLI_VALUE}, {"--m", 1, CLI_VALUE},
        {"--patch-first", 1, CLI_VALUE}, {"--lr", 1, CLI_VALUE}, {"--lr-scale", 1, CLI_VALUE},
        {"--lambdas", 1, CLI_VALUE}, {"--level-weights", 1, CLI_VALUE},
        {"--average", 1, CLI_VALUE}, {"--context", 1, 0}, {NULL, 0, 0}};
    cli_args args = cli_args_start(argc, argv, "aec train", say);
    for (int k; (k = cli_next_arg(&args, opts)) != CLI_END;) {
        const char *a = args.arg, *v = args.value;
        if (k == CLI_HELP) return 1;
        if (k == CLI_ERROR) return -1;
        if (k == CLI_OPERAND) {
            fprintf(say, "aec train: unexpected argument '%s' (try aec train --help)\n", a);
            return -1;
        }
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--val")) o->val = v;
        else if (!strcmp(a, "--calib")) o->calib = v;
        else if (!strcmp(a, "-o")) o->out = v;
        else if (!strcmp(a, "--init")) o->init = v;
        else if (!strcmp(a, "--resume")) o->resume = v;
        else if (!strcmp(a, "--checkpoint")) o->ckpt = v;
        else if (!strcmp(a, "--patch-first")) {
            char *end;
            long p = strtol(v, &end, 10);
            double d = *end == ':' ? parse_duration(end + 1) : -1;
            if (end == v || p < 64 || p > 4096 || p % 64 || d <= 0) {
                fprintf(say, "aec train: --patch-first: '%s' is not SIDE:TIME (a multiple of 64, "
                        "a duration such as 10m)\n", v);
                return -1;
            }
            o->first_patch = (int)p;
            o->first_patch_time = d;
        } else if (!strcmp(a, "--time") || !strcmp(a, "--checkpoint-every") || !strcmp(a, "--val-every") ||
                   !strcmp(a, "--snapshot-every")) {
            double d = parse_duration(v);
            if (d < 0) {
                fprintf(say, "aec train: %s: bad duration '%s' (use e.g. 90s, 20m, 3h)\n", a, v);
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
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || *end || n < 0) {
                fprintf(say, "aec train: %s: bad number '%s'\n", a, v);
                return -1;
            }
            if (!strcmp(a, "--steps")) {
                o->steps = (long)n;
                o->steps_given = 1;
            }
            else if (!strcmp(a, "--batch")) {
                o->batch = (int)n;
                o->batch_given = 1;
            } else if (!strcmp(a, "--patch")) {
                o->patch = (int)n;
                o->patch_given = 1;
            }
            else if (!strcmp(a, "--threads")) o->threads = (int)n;
            else if (!strcmp(a, "--workers")) o->workers = (int)n;
            else if (!strcmp(a, "--seed")) o->seed = (unsigned long)n;
            else if (!strcmp(a, "--n")) o->n = (int)n;
            else o->m = (int)n;
        } else if (!strcmp(a, "--lr")) {
            o->lr = strtof(v, NULL);
            if (!(o->lr > 0 && o->lr < 1)) {
                fprintf(say, "aec train: --lr: bad rate '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--lr-scale")) {
            if (parse_lr_scale(v, o, say)) return -1;
        } else if (!strcmp(a, "--context")) {
            o->context = 1;
        } else if (!strcmp(a, "--lambdas")) {
            if (parse_lambdas(v, o, say)) return -1;
        } else if (!strcmp(a, "--level-weights")) {
            if (parse_level_weights(v, o, say)) return -1;
        } else if (!strcmp(a, "--average")) {
            char *end;
            o->average = strtof(v, &end);
            if (*end || !(o->average >= 0 && o->average < 1)) {
                fprintf(say, "aec train: --average: bad decay '%s' (0 to below 1)\n", v);
                return -1;
            }
        }
    }
    if (!o->data || !o->out) {
        fprintf(say, "aec train: --data DIR and -o MODEL are required (try aec train --help)\n");
        return -1;
    }
    if (!o->time_limit && !o->steps_given) {
        fprintf(say, "aec train: give a budget: --time T or --steps N\n");
        return -1;
    }
    if (o->batch_given && (o->batch < 1 || o->batch > 64)) {
        fprintf(say, "aec train: --batch must be 1-64\n");
        return -1;
    }
    /* the hyper-synthesis has 3M/2 channels, and a model file at most 1024 */
    if (o->m % 2 || o->m > 1024) {
        fprintf(say, "aec train: --m %d: the latent channels must be even, at most 1024\n", o->m);
        return -1;
    }
    if (o->patch_given && (o->patch < 64 || o->patch % 64)) {
        fprintf(say, "aec train: --patch must be a multiple of 64\n");
        return -1;
    }
    if (o->init && o->resume) {
        fprintf(say, "aec train: --init and --resume exclude each other\n");
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
        sum_psnr += aec_psnr_mse(mse);
        sum_bpp += bits / ((double)w * h);
        free(planar);
    }
    nn_tensor_free(&x_hat);
    *bpp = sum_bpp / val->count;
    *psnr = sum_psnr / val->count;
}

/* m made ready to code as aec export makes it: a copy of its weights,
 * calibrated on calib. c is left empty on failure. */
static int ready_codec(const aec_model *m, const aec_dataset *calib, aec_codec *c, char *err,
                       size_t errlen)
{
    aec_model copy;
    memset(c, 0, sizeof *c);
    if (aec_model_clone(&copy, m)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return aec_codec_from_model(c, &copy, calib, err, errlen);
}

/* The real thing at three qualities: the model exported as the coder would
 * ship it and the run will end by exporting it (calibrated on the
 * training images or --calib's: the fitted tables never see the
 * validation images unless --calib is the validation folder), every
 * validation image encoded and decoded; mean coded bpp and PSNR, beside
 * the likelihood estimate of the float model. */
static void validate_coded(const aec_model *m, aec_train_state *s, const aec_dataset *val,
                           const aec_dataset *calib, long step, int tty, const char *label)
{
    static const double qualities[3] = {0, 50, 100};
    aec_codec codec;
    char err[512];
    int coded = ready_codec(m, calib, &codec, err, sizeof err) == 0;
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
                psnr += aec_psnr(rgb, val->rgb[i], (size_t)w * h * 3);
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
    char first[64] = "", weights[32 + 16 * AEC_MAX_LEVELS] = "";
    if (o->first_patch)
        snprintf(first, sizeof first, "patch_first=%d:%.0fs\n", o->first_patch, o->first_patch_time);
    if (o->n_level_weights) {
        size_t at = (size_t)snprintf(weights, sizeof weights, "level_weights=");
        for (int l = 0; l < o->n_level_weights && at < sizeof weights; l++)
            at += (size_t)snprintf(weights + at, sizeof weights - at, "%s%g", l ? "," : "",
                                   o->level_weights[l]);
        if (at < sizeof weights - 1) strcat(weights, "\n");
    }
    snprintf(buf, len,
             "data=%s\nimages=%d\nsteps=%ld\nbatch=%d\npatch=%d\n%s%slr=%g\nseed=%lu\n"
             "average=%g\nwall_seconds=%.0f\n%s",
             o->data, d->count, steps, o->batch, o->patch, first, weights, o->lr, o->seed,
             o->average, wall, history);
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
    int rc = aec_checkpoint_save(path, model, meta, adam, avg ? &chunk : NULL, avg ? 1 : 0, err,
                                 errlen);
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
    if (aec_checkpoint_parse(buf, len, path, model, &meta, resume ? adam : NULL, has_opt, extra,
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

/* model (and its average) replaced by fresh, which it takes over. */
static int replace_model(aec_model *model, aec_model *avg, aec_model *fresh)
{
    aec_model_free(model);
    *model = *fresh;
    if (avg) {
        aec_model_free(avg);
        if (aec_model_clone(avg, model)) {
            fprintf(stderr, "aec train: out of memory\n");
            return AEC_EXIT_SYSTEM;
        }
    }
    return AEC_EXIT_OK;
}

/* --n and --m on a loaded model: N stays the model's; with --init an M
 * above the model's widens its latent (aec_model_widen: training starts
 * from the model's pixels and learns to use the new channels). A
 * checkpoint's optimiser state cannot follow, so --resume is refused; so
 * is a context model, whose layers read every channel. */
static int change_width(const train_options *o, aec_model *model, aec_model *avg)
{
    const aec_arch *a = &model->arch;
    const char *path = o->resume ? o->resume : o->init;
    if (o->n && o->n != a->n) {
        fprintf(stderr, "aec train: --n %d: %s has N=%d, which %s keeps\n", o->n, path, a->n,
                o->resume ? "--resume" : "--init");
        return AEC_EXIT_USAGE;
    }
    if (!o->m || o->m == a->m) return AEC_EXIT_OK;
    if (o->m < a->m) {
        fprintf(stderr, "aec train: --m %d: %s has M=%d latent channels, which --m can only widen\n",
                o->m, path, a->m);
        return AEC_EXIT_USAGE;
    }
    if (o->resume) {
        fprintf(stderr, "aec train: %s: the checkpoint's M is %d; widen it with --init (a fresh "
                "optimiser) instead of --resume\n", path, a->m);
        return AEC_EXIT_USAGE;
    }
    if (a->context) {
        fprintf(stderr, "aec train: --m %d: %s has a context model, which cannot be widened; widen "
                "a model without one (--context adds it)\n", o->m, path);
        return AEC_EXIT_USAGE;
    }
    aec_model wide;
    if (aec_model_widen(&wide, model, o->m, o->seed)) {
        fprintf(stderr, "aec train: out of memory\n");
        return AEC_EXIT_SYSTEM;
    }
    printf("aec train: %s widened from M=%d to M=%d latent channels\n", path, a->m, o->m);
    return replace_model(model, avg, &wide);
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
    return replace_model(model, avg, &fresh);
}

/* The states of this process's share of a batch: a single one whose
 * loops use every thread, or one per worker, each a thread with its share
 * (aec_model_train_share). The batch is split over the global workers,
 * the workers of every rank in rank order (rank k's are global workers
 * first_worker..first_worker + workers - 1), global worker g taking
 * items_of(g) of the batch's items in the order they are drawn: so N
 * ranks of W workers draw and split a batch as one process of N x W
 * workers does. Every rank draws the whole batch's crops and levels from
 * the same generator, `draw`, and keeps its own workers' items; each
 * global worker's noise comes from its own generator, seeded by its global
 * index. */
typedef struct {
    int workers;        /* this rank's */
    int first_worker;   /* the global index of its first */
    int global_workers; /* over all ranks */
    int batch;          /* the global batch */
    nn_rng draw;
    level_draw levels;  /* the rate level of each crop */
    aec_train_state st[AEC_MAX_WORKERS];
    float *grads[AEC_MAX_WORKERS];
} trainer;

/* the number of the batch's items that global worker g takes */
static int items_of(const trainer *t, int g)
{
    return t->batch / t->global_workers + (g < t->batch % t->global_workers);
}

static int trainer_shape(trainer *t, int patch)
{
    for (int w = 0; w < t->workers; w++)
        if (nn_tensor_resize(&t->st[w].x, items_of(t, t->first_worker + w), 3, patch, patch)) return -1;
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

/* t's workers, first_worker, global_workers and batch are set. */
static int trainer_init(trainer *t, int patch, size_t n_params, uint64_t seed)
{
    int err = 0;
    nn_rng_seed(&t->draw, seed);
    for (int w = 0; w < t->workers; w++) {
        uint64_t g = (uint64_t)(t->first_worker + w);
        aec_train_state_init(&t->st[w], seed + (g + 1) * 0x9E3779B97F4A7C15ULL);
        if (t->workers > 1 && !(t->grads[w] = malloc(n_params * sizeof(float)))) err = 1;
    }
    if (err || trainer_shape(t, patch)) {
        trainer_free(t);
        return -1;
    }
    return 0;
}

/* What a step's share of the batch gave: its part of the batch's loss
 * (the items' losses over the global batch), its bits, the sum of its
 * items' PSNRs; and whether it failed (out of memory). */
enum { STAT_LOSS, STAT_BITS, STAT_PSNR, STAT_FAILED, STATS };

/* Draws the batch, keeps this rank's items and runs forward and backward
 * on them: model.p.grad is this rank's part of the batch's gradient (the
 * whole of it in one process); stat[] as above. */
static void trainer_step(trainer *t, aec_model *m, const aec_dataset *d, int patch, double stat[STATS])
{
    const size_t per = (size_t)3 * patch * patch;
    for (int g = 0; g < t->global_workers; g++) {
        const int w = g - t->first_worker;
        aec_train_state *s = w >= 0 && w < t->workers ? &t->st[w] : NULL;
        for (int i = 0; i < items_of(t, g); i++) {
            aec_dataset_random_crop(d, &t->draw, patch, s ? s->x.data + per * (size_t)i : NULL);
            const int level = level_draw_next(&t->levels, &t->draw);
            if (s) s->level[i] = level;
        }
    }
    memset(stat, 0, sizeof(double) * STATS);
    if (aec_model_train_share(m, t->st, t->workers, t->grads, t->batch)) {
        stat[STAT_FAILED] = 1;
        return;
    }
    for (int w = 0; w < t->workers; w++) {
        const aec_train_state *s = &t->st[w];
        stat[STAT_LOSS] += s->loss * s->x.n / t->batch;
        stat[STAT_BITS] += s->bits_y + s->bits_z;
        for (int i = 0; i < s->x.n; i++) stat[STAT_PSNR] += 10 * log10(1.0 / fmax(s->mse[i], 1e-10));
    }
}

/* ---- a run ---------------------------------------------------------------------- */

/* Values gathered from every rank at once (train_ranks_gather): at most
 * this many from each. */
#define GATHER_MAX 4
_Static_assert(STATS <= GATHER_MAX, "a step's statistics are gathered at once");

/* Everything a run holds; zeroed at the start, freed by run_free on every
 * path. */
typedef struct {
    train_options o;
    train_ranks ranks;
    char who[48];             /* "rank K of N: " in the messages of one rank (MPI), or "" */
    double *gathered;         /* GATHER_MAX x ranks.size */
    char ckpt_path[4096];
    aec_dataset data, val, calib_images;  /* val and calib on rank 0 only */
    const aec_dataset *calib; /* what exports are calibrated on: --calib's images, or data */
    aec_model model, average;
    aec_model *avg;           /* &average, or NULL without --average */
    int has_model;
    nn_adam adam;
    float *entry_scale;       /* --lr-scale per parameter entry, or NULL */
    double wall_before;       /* training time before this run (--resume) */
    char history[4096];       /* see format_meta */
    trainer tr;
    int patch;                /* this step's patch side */
    int interrupted;          /* a rank was asked to stop (Ctrl-C, SIGTERM) */
} train_run;

static void run_free(train_run *r)
{
    trainer_free(&r->tr);
    nn_adam_free(&r->adam);
    free(r->entry_scale);
    if (r->has_model) aec_model_free(&r->model);
    if (r->has_model && r->avg) aec_model_free(r->avg);
    aec_dataset_free(&r->data);
    aec_dataset_free(&r->val);
    aec_dataset_free(&r->calib_images);
    free(r->gathered);
    train_ranks_end(&r->ranks);
}

/* rc as every rank agrees it: AEC_EXIT_OK when every rank's is, else the
 * first failing rank's (in rank order), which rank 0 names, saying what it
 * failed to do, when it is another rank (that rank has said why). */
static int agree(train_run *r, int rc, const char *what)
{
    const train_ranks *k = &r->ranks;
    double mine = rc;
    if (k->size == 1) return rc;
    if (train_ranks_gather(k, &mine, 1, r->gathered)) train_ranks_abort(k, AEC_EXIT_SYSTEM);
    for (int i = 0; i < k->size; i++)
        if (r->gathered[i] != AEC_EXIT_OK) {
            if (k->rank == 0 && i != 0)
                fprintf(stderr, "aec train: rank %d of %d could not %s (its message says why); "
                        "no rank trains\n", i, k->size, what);
            return (int)r->gathered[i];
        }
    return AEC_EXIT_OK;
}

/* The patch side and batch when not given: for a new model, 8 patches of
 * 128x128; with --init (fine-tuning), 512x512 patches, or the largest
 * multiple of 64 every training image holds, and a batch of as many pixels
 * as 2 patches of 256x256 (at least 1). Fine-tuning gains the more from the
 * same pixels the bigger the patches, up to 512 at least (the README's
 * Fine-tuning section has the measurement and its command). */
static void resolve_patch(train_options *o, const aec_dataset *d)
{
    if (!o->patch_given) {
        o->patch = AEC_TRAIN_PATCH;
        if (o->init) {
            int side = AEC_FINE_TUNE_PATCH;
            for (int i = 0; i < d->count; i++) {
                int s = d->width[i] < d->height[i] ? d->width[i] : d->height[i];
                if (s < side) side = s;
            }
            o->patch = side / 64 * 64;
        }
    }
    if (!o->batch_given) {
        long pixels = AEC_FINE_TUNE_PIXELS;
        o->batch = o->init ? (int)(pixels / ((long)o->patch * o->patch)) : AEC_TRAIN_BATCH;
        if (o->batch < 1) o->batch = 1;
        if (o->batch > 64) o->batch = 64;
    }
}

/* --data, --val and --calib, before any training: a folder that cannot be
 * read fails now, not after hours. Every rank reads --data; only rank 0,
 * which validates and exports, reads --val and --calib. */
static int load_images(train_run *r, char *err, size_t errlen)
{
    const train_options *o = &r->o;
    /* fine-tuning's patch is chosen to fit the images (resolve_patch) */
    int patch = o->patch_given ? o->patch : o->init ? AEC_FINE_TUNE_MIN_PATCH : AEC_TRAIN_PATCH;
    int min_side = o->first_patch > patch ? o->first_patch : patch;
    int lead = r->ranks.rank == 0;
    if (aec_dataset_load(&r->data, o->data, min_side, err, errlen) ||
        (lead && o->val && aec_dataset_load(&r->val, o->val, 1, err, errlen)) ||
        (lead && o->calib && aec_dataset_load(&r->calib_images, o->calib, 1, err, errlen)))
        return AEC_EXIT_DATA;
    r->calib = o->calib ? &r->calib_images : &r->data;
    return AEC_EXIT_OK;
}

/* Every rank must hold the same training images, or the ranks would draw
 * different crops from the same numbers: each rank's count, pixels and
 * their CRC against rank 0's. */
static int same_data(train_run *r)
{
    const train_ranks *k = &r->ranks;
    const aec_dataset *d = &r->data;
    if (k->size == 1) return AEC_EXIT_OK;
    double pixels = 0;
    uint32_t crc = 0;
    for (int i = 0; i < d->count; i++) {
        size_t n = (size_t)d->width[i] * (size_t)d->height[i];
        pixels += (double)n;
        crc = nn_crc32(crc, d->rgb[i], 3 * n);
    }
    const double mine[3] = {d->count, pixels, crc};
    if (train_ranks_gather(k, mine, 3, r->gathered)) train_ranks_abort(k, AEC_EXIT_SYSTEM);
    const double *g = r->gathered;
    for (int i = 1; i < k->size; i++)
        if (g[3 * i] != g[0] || g[3 * i + 1] != g[1] || g[3 * i + 2] != g[2]) {
            if (k->rank == 0)
                fprintf(stderr, "aec train: rank %d's --data (%.0f images, %.0f pixels, CRC %08x) is "
                        "not rank 0's (%.0f images, %.0f pixels, CRC %08x): every rank must read the "
                        "same images\n", i, g[3 * i], g[3 * i + 1],
                        (unsigned)g[3 * i + 2], g[0], g[1], (unsigned)g[2]);
            return AEC_EXIT_DATA;
        }
    return AEC_EXIT_OK;
}

/* A new model of the options' shape, and its average. */
static int new_model(train_run *r)
{
    const train_options *o = &r->o;
    aec_arch arch;
    aec_arch_default(&arch);
    if (o->n) arch.n = o->n;
    if (o->m) arch.m = o->m;
    arch.context = o->context;
    if (o->n_lambdas) {
        arch.levels = o->n_lambdas;
        memcpy(arch.lambda, o->lambdas, sizeof(float) * (size_t)o->n_lambdas);
    }
    if (aec_model_create(&r->model, &arch)) return AEC_EXIT_SYSTEM;
    aec_model_init(&r->model, o->seed);
    if (r->avg && aec_model_clone(r->avg, &r->model)) {
        aec_model_free(&r->model);
        return AEC_EXIT_SYSTEM;
    }
    r->has_model = 1;
    return AEC_EXIT_OK;
}

/* The model to train (new, --init or --resume, relevelled if asked) and
 * its optimiser. Says what went wrong. */
static int start_model(train_run *r)
{
    const train_options *o = &r->o;
    char err[512];
    int has_opt = 0, rc;
    r->avg = o->average > 0 ? &r->average : NULL;
    if (!o->resume && !o->init) {
        if ((rc = new_model(r))) fprintf(stderr, "aec train: out of memory\n");
    } else if (load_start(o->resume ? o->resume : o->init, o->resume != NULL, &r->model, &r->adam,
                          &has_opt, r->avg, &r->wall_before, r->history, sizeof r->history, err,
                          sizeof err)) {
        fprintf(stderr, "aec train: %s\n", err);
        return AEC_EXIT_DATA;
    } else {
        r->has_model = 1;
        /* widened first: a context model cannot be, but one can be added to the wider model */
        rc = change_width(o, &r->model, r->avg);
        if (!rc && (o->n_lambdas || o->context)) rc = change_levels(o, &r->model, r->avg, has_opt);
    }
    if (rc) return rc;
    if (!has_opt && nn_adam_init(&r->adam, r->model.p.count)) {
        fprintf(stderr, "aec train: out of memory\n");
        return AEC_EXIT_SYSTEM;
    }
    r->adam.clip_norm = 1.0f;
    return AEC_EXIT_OK;
}

/* The model on the other ranks: rank 0's architecture, weights, optimiser
 * state, average and history, so that every rank starts from the same
 * floats. Rank 0 alone reads --init and --resume (with any number of
 * ranks: a checkpoint holds no trace of them) and alone writes. */
static int share_model(train_run *r)
{
    const train_ranks *k = &r->ranks;
    if (k->size == 1) return AEC_EXIT_OK;
    aec_arch arch = r->model.arch;
    int rc = train_ranks_broadcast(k, &arch, sizeof arch) ? AEC_EXIT_SYSTEM : AEC_EXIT_OK;
    if (!rc && k->rank != 0) {
        r->avg = r->o.average > 0 ? &r->average : NULL;
        if (aec_model_create(&r->model, &arch)) rc = AEC_EXIT_SYSTEM;
        else if (r->avg && aec_model_clone(r->avg, &r->model)) {
            aec_model_free(&r->model);
            rc = AEC_EXIT_SYSTEM;
        } else r->has_model = 1;
        if (!rc && nn_adam_init(&r->adam, r->model.p.count)) rc = AEC_EXIT_SYSTEM;
        r->adam.clip_norm = 1.0f;
        if (rc) fprintf(stderr, "aec train: %sout of memory\n", r->who);
    }
    if ((rc = agree(r, rc, "make the model"))) return rc;
    const size_t bytes = r->model.p.count * sizeof(float);
    if (train_ranks_broadcast(k, r->model.p.value, bytes) ||
        train_ranks_broadcast(k, r->adam.m, bytes) || train_ranks_broadcast(k, r->adam.v, bytes) ||
        train_ranks_broadcast(k, &r->adam.step, sizeof r->adam.step) ||
        (r->avg && train_ranks_broadcast(k, r->avg->p.value, bytes)) ||
        train_ranks_broadcast(k, &r->wall_before, sizeof r->wall_before) ||
        train_ranks_broadcast(k, r->history, sizeof r->history))
        train_ranks_abort(k, AEC_EXIT_SYSTEM);
    return AEC_EXIT_OK;
}

/* --lr-scale's factor of each parameter entry: that of the longest PART
 * its name starts with, else 1. Every rank builds the same. A PART no
 * entry starts with is an error (a typo would silently train everything). */
static int entry_scales(train_run *r)
{
    const train_options *o = &r->o;
    const nn_params *p = &r->model.p;
    if (!o->n_lr_parts) return AEC_EXIT_OK;
    r->entry_scale = malloc(sizeof(float) * (size_t)(p->n_entries ? p->n_entries : 1));
    if (!r->entry_scale) {
        fprintf(stderr, "aec train: %sout of memory\n", r->who);
        return AEC_EXIT_SYSTEM;
    }
    int used[TRAIN_LR_PARTS] = {0};
    for (int e = 0; e < p->n_entries; e++) {
        size_t best = 0;
        r->entry_scale[e] = 1.0f;
        for (int k = 0; k < o->n_lr_parts; k++) {
            size_t len = strlen(o->lr_part[k]);
            if (len > best && !strncmp(p->entries[e].name, o->lr_part[k], len)) {
                best = len;
                r->entry_scale[e] = o->lr_part_scale[k];
                used[k] = 1;
            }
        }
    }
    for (int k = 0; k < o->n_lr_parts; k++)
        if (!used[k]) {
            if (r->ranks.rank == 0)
                fprintf(stderr, "aec train: --lr-scale: no parameter's name starts with '%s' (the "
                        "parts: g_a g_s h_a h_s z_density gain inv_gain hgain hinv_gain, ctx and "
                        "ep with --context)\n", o->lr_part[k]);
            return AEC_EXIT_USAGE;
        }
    return AEC_EXIT_OK;
}

/* The batch's workers: one per thread by default, which makes a step
 * faster than one batch whose loops use every thread (make bench:
 * bench_train times the two). Over MPI each rank has as many, the batch split over all of
 * them (fewer when the batch has fewer items than ranks x workers), and
 * the gradient sum's buffers. */
static int start_trainer(train_run *r)
{
    const train_options *o = &r->o;
    const train_ranks *k = &r->ranks;
    int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
    int workers = o->workers < 1 ? threads : o->workers < threads ? o->workers : threads;
    if (workers > AEC_MAX_WORKERS) workers = AEC_MAX_WORKERS;
    if (workers * k->size > o->batch) workers = o->batch / k->size;
    r->patch = o->first_patch ? o->first_patch : o->patch;
    trainer *t = &r->tr;
    t->workers = workers;
    t->first_worker = k->rank * workers;
    t->global_workers = k->size * workers;
    t->batch = o->batch;
    const int levels = r->model.arch.levels;
    if (!o->n_level_weights) {
        level_draw_uniform(&t->levels, levels);
    } else if (o->n_level_weights != levels ||
               level_draw_weighted(&t->levels, o->level_weights, levels)) {
        if (k->rank == 0)
            fprintf(stderr, "aec train: --level-weights: %d weights for the model's %d rate levels "
                    "(one each)\n", o->n_level_weights, levels);
        return AEC_EXIT_USAGE;
    }
    uint64_t seed = o->seed * 7919 + (unsigned long)r->adam.step;
    int rc = AEC_EXIT_OK;
    if (trainer_init(t, r->patch, r->model.p.count, seed) ||
        train_ranks_prepare(&r->ranks, r->model.p.count)) {
        fprintf(stderr, "aec train: %sout of memory\n", r->who);
        rc = AEC_EXIT_SYSTEM;
    }
    if ((rc = agree(r, rc, "make its workers")) || k->rank != 0) return rc;
    const aec_arch *arch = &r->model.arch;
    char ranks[32] = "";
    if (k->size > 1) snprintf(ranks, sizeof ranks, "%d ranks x ", k->size);
    printf("aec train: %d images from %s, %d validation; model N=%d M=%d, %d levels, "
           "%zu parameters%s; batch %d of %dx%d; %s%d worker%s; BLAS kernel %s; start at step %ld\n",
           r->data.count, o->data, r->val.count, arch->n, arch->m, arch->levels, r->model.p.count,
           arch->context ? ", context model" : "", o->batch, o->patch, o->patch, ranks, workers,
           workers > 1 ? "s (one thread each)" : "", nn_blas_corename(), r->adam.step);
    if (o->n_level_weights) {
        printf("aec train: rate levels drawn in proportion to");
        for (int l = 0; l < levels; l++) printf(" %g", o->level_weights[l]);
        printf("\n");
    }
    if (o->first_patch)
        printf("aec train: patches of %dx%d for the first %.0f s\n", o->first_patch, o->first_patch,
               o->first_patch_time);
    fflush(stdout);
    return AEC_EXIT_OK;
}

/* The clocks and running means of the loop. */
typedef struct {
    int tty;
    long first_step;
    double t0, last_print, last_ckpt, last_val, last_snap;
    double ema_loss, ema_bpp, ema_psnr;
} loop_state;

/* Validation of the average (when kept) and of the live weights. */
static void validate_both(train_run *r, int tty)
{
    validate_coded(r->avg ? r->avg : &r->model, &r->tr.st[0], &r->val, r->calib, r->adam.step,
                   tty, "val  ");
    if (r->avg) validate_coded(&r->model, &r->tr.st[0], &r->val, r->calib, r->adam.step, 0, "val live");
}

static void print_progress(const train_run *r, loop_state *ls, double t, float lr)
{
    const train_options *o = &r->o;
    double rate = (double)(r->adam.step - ls->first_step) * o->batch / (t - ls->t0);
    double eta = -1;
    if (o->time_limit) eta = o->time_limit - (t - ls->t0);
    if (o->steps) {
        double e = (double)(o->steps - r->adam.step) * o->batch / rate;
        eta = eta < 0 ? e : fmin(eta, e);
    }
    char sum[48] = "";
    if (r->ranks.sums)
        snprintf(sum, sizeof sum, "  sum %.0f ms", 1e3 * r->ranks.sum_seconds / (double)r->ranks.sums);
    printf("%sstep %ld  loss %.4f  bpp %.3f  psnr %.2f dB  %.1f patches/s  lr %.2g  eta %.0fm%s%s",
           ls->tty ? "\r" : "", r->adam.step, ls->ema_loss, ls->ema_bpp, ls->ema_psnr, rate, lr,
           eta / 60, sum, ls->tty ? "   " : "\n");
    fflush(stdout);
    ls->last_print = t;
}

/* What is due after a step at time t: the progress line, validation, a
 * snapshot, a checkpoint. */
static void after_step(train_run *r, loop_state *ls, double t, float lr)
{
    const train_options *o = &r->o;
    char meta[8192], err[512];
    double wall = r->wall_before + (t - ls->t0);
    if (t - ls->last_print >= (ls->tty ? 1.0 : 30.0)) print_progress(r, ls, t, lr);
    if (r->val.count && t - ls->last_val >= o->val_every) {
        validate_both(r, ls->tty);
        ls->last_val = now_seconds();
    }
    if (o->snapshot_every > 0 && t - ls->last_snap >= o->snapshot_every) {
        char path[4096];
        format_meta(meta, sizeof meta, o, r->adam.step, wall, &r->data, r->history);
        snapshot_path(path, sizeof path, o->out, r->adam.step);
        if (aec_model_save(path, &r->model, meta, NULL, 0, err, sizeof err))
            fprintf(stderr, "aec train: snapshot failed: %s\n", err);
        ls->last_snap = now_seconds();
    }
    if (t - ls->last_ckpt >= o->ckpt_every) {
        format_meta(meta, sizeof meta, o, r->adam.step, wall, &r->data, r->history);
        if (save_checkpoint(r->ckpt_path, &r->model, r->avg, meta, &r->adam, err, sizeof err))
            fprintf(stderr, "aec train: checkpoint failed: %s\n", err);
        ls->last_ckpt = now_seconds();
    }
}

/* The step's statistics of every rank added up in rank order (the same
 * doubles on every rank), or the first rank that failed, named by rank 0.
 * 0, or -1. */
static int sum_stats(train_run *r, double stat[STATS])
{
    const train_ranks *k = &r->ranks;
    if (k->size == 1) return stat[STAT_FAILED] ? -1 : 0;
    if (train_ranks_gather(k, stat, STATS, r->gathered)) train_ranks_abort(k, AEC_EXIT_SYSTEM);
    memset(stat, 0, sizeof(double) * STATS);
    for (int i = 0; i < k->size; i++) {
        const double *g = r->gathered + (size_t)i * STATS;
        if (g[STAT_FAILED]) {
            if (k->rank == 0 && i != 0)
                fprintf(stderr, "aec train: rank %d of %d failed at step %ld (its message says why); "
                        "stopping (last checkpoint kept)\n", i, k->size, r->adam.step);
            return -1;
        }
        for (int j = 0; j < STATS; j++) stat[j] += g[j];
    }
    return 0;
}

/* One step: the batch (this rank's share, then the ranks' sum), Adam, the
 * average, the running means. */
static int one_step(train_run *r, loop_state *ls, double elapsed, float *lr)
{
    const train_options *o = &r->o;
    double stat[STATS];
    trainer_step(&r->tr, &r->model, &r->data, r->patch, stat);
    if (stat[STAT_FAILED]) fprintf(stderr, "aec train: %sout of memory\n", r->who);
    if (sum_stats(r, stat)) return AEC_EXIT_SYSTEM;
    if (train_ranks_sum_gradient(&r->ranks, r->model.p.grad, r->model.p.count)) {
        fprintf(stderr, "aec train: %sout of memory in the gradient sum\n", r->who);
        train_ranks_abort(&r->ranks, AEC_EXIT_SYSTEM);
    }
    const double loss = stat[STAT_LOSS];
    if (!isfinite(loss)) {
        if (r->ranks.rank == 0)
            fprintf(stderr, "aec train: loss is not finite at step %ld; stopping (last checkpoint "
                    "kept)\n", r->adam.step);
        return AEC_EXIT_DATA;
    }
    *lr = learning_rate(o, r->adam.step, ls->first_step, elapsed);
    if (r->entry_scale) nn_adam_step_scaled(&r->adam, &r->model.p, *lr, r->entry_scale);
    else nn_adam_step(&r->adam, &r->model.p, *lr);
    if (r->avg) nn_average_update(r->avg->p.value, r->model.p.value, r->model.p.count, o->average);
    double bpp = stat[STAT_BITS] / ((double)o->batch * r->patch * r->patch);
    double psnr = stat[STAT_PSNR] / o->batch;
    double k = ls->ema_loss == 0 ? 1.0 : 0.02;
    ls->ema_loss += k * (loss - ls->ema_loss);
    ls->ema_bpp += k * (bpp - ls->ema_bpp);
    ls->ema_psnr += k * (psnr - ls->ema_psnr);
    return AEC_EXIT_OK;
}

/* Before each step, what every rank agrees on: rank 0's clock (*elapsed:
 * --time, --patch-first and the learning rate's schedule follow it), and
 * whether any rank was asked to stop (r->interrupted), so that every rank
 * stops after the same step and none waits in a collective for one that
 * has gone. */
static void agree_step(train_run *r, double *elapsed)
{
    const train_ranks *k = &r->ranks;
    const double mine[2] = {*elapsed, stop_requested};
    if (train_ranks_gather(k, mine, 2, r->gathered)) train_ranks_abort(k, AEC_EXIT_SYSTEM);
    *elapsed = r->gathered[0];
    for (int i = 0; i < k->size; i++)
        if (r->gathered[2 * i + 1]) r->interrupted = 1;
}

/* The switch from --patch-first's patches to --patch's. */
static void next_patch(train_run *r, int tty)
{
    r->patch = r->o.patch;
    if (trainer_shape(&r->tr, r->patch)) {
        fprintf(stderr, "aec train: %sout of memory\n", r->who);
        train_ranks_abort(&r->ranks, AEC_EXIT_SYSTEM);
    }
    if (r->ranks.rank == 0)
        printf("%saec train: step %ld: patches of %dx%d from now on\n", tty ? "\n" : "", r->adam.step,
               r->patch, r->patch);
}

/* Steps from time t0 until the budget is spent or a signal comes. Rank 0
 * alone prints, validates and writes. */
static int train_loop(train_run *r, double t0)
{
    const train_options *o = &r->o;
    const int lead = r->ranks.rank == 0;
    /* mpirun gives its ranks a terminal of its own wherever its output
     * goes (a log file under Slurm): there, lines every 30 s, not \r */
    const int tty = lead && r->ranks.size == 1 && isatty(fileno(stdout));
    loop_state ls = {tty, r->adam.step, t0, t0, t0, t0, t0, 0, 0, 0};
    int rc = AEC_EXIT_OK;
    for (;;) {
        double elapsed = now_seconds() - ls.t0;
        agree_step(r, &elapsed);
        int done = (o->steps_given && r->adam.step >= o->steps) || (o->time_limit && elapsed >= o->time_limit);
        if (done || r->interrupted) break;
        if (r->patch != o->patch && elapsed >= o->first_patch_time) next_patch(r, ls.tty);
        float lr;
        if ((rc = one_step(r, &ls, elapsed, &lr))) break;
        if (lead) after_step(r, &ls, now_seconds(), lr);
    }
    if (ls.tty) printf("\n");
    if (r->val.count && rc == AEC_EXIT_OK && !r->interrupted) validate_both(r, 0);
    return rc;
}

/* The end of a run that finished or was interrupted: -o made ready to
 * code, as aec export makes it (with the domain-fit scores of the
 * calibration images, domain_fit.h), from the weights themselves after the
 * schedule's end, which has just decayed the learning rate and so quiets
 * them better than the average, whose horizon still holds the weights
 * from before the decay; from the average after an interruption. The checkpoint is already written. */
static int export_output(train_run *r, const char *meta, double run_s)
{
    const train_options *o = &r->o;
    const aec_model *final = r->avg && r->interrupted ? r->avg : &r->model;
    const int n = r->calib->count;
    printf("aec train: exporting %s: calibrating on %d images of %s, domain-fit scores of %d%s\n",
           o->out, n < AEC_CALIB_IMAGES ? n : AEC_CALIB_IMAGES, o->calib ? o->calib : o->data,
           n < DOMAIN_FIT_CALIB_IMAGES ? n : DOMAIN_FIT_CALIB_IMAGES,
           r->interrupted ? " (Ctrl-C again stops it)" : "");
    fflush(stdout);
    aec_codec codec = {0};
    char err[1024];
    uint8_t *bytes = NULL;
    size_t len = 0;
    /* cli_write_output: a Ctrl-C during the write removes its temporary file */
    int failed = ready_codec(final, r->calib, &codec, err, sizeof err) ||
                 domain_fit_calibrate(&codec, r->calib, err, sizeof err);
    if (!failed && aec_codec_serialize(&codec, 0, meta, &bytes, &len)) {
        snprintf(err, sizeof err, "out of memory");
        failed = 1;
    }
    if (!failed) failed = cli_write_output(o->out, bytes, len, CLI_OVERWRITE, 0666, err, sizeof err);
    free(bytes);
    if (failed) {
        fprintf(stderr, "aec train: %s not written: %s; the weights are in %s (aec export -m %s "
                "--calib DIR -o %s%s)\n", o->out, err, r->ckpt_path, r->ckpt_path, o->out,
                r->avg && r->interrupted ? " --average" : "");
        aec_codec_free(&codec);
        return strstr(err, "out of memory") || strstr(err, "cannot") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
    }
    char hex[2 * AEC_MODEL_ID_SIZE + 1];
    aec_model_id_hex(codec.id, hex);
    printf("aec train: %s: model %s after %ld steps (%.0f s this run%s); checkpoint %s\n", o->out,
           hex, r->adam.step, run_s, r->interrupted ? ", interrupted" : "", r->ckpt_path);
    aec_codec_free(&codec);
    return AEC_EXIT_OK;
}

/* Over MPI, rank 0's time in the gradient sum, after the run. */
static void print_sum_time(const train_run *r)
{
    const train_ranks *k = &r->ranks;
    if (k->size == 1 || !k->sums) return;
    printf("aec train: gradient sum over %d ranks (%zu floats): %.1f ms a step, mean of %ld steps\n",
           k->size, r->model.p.count, 1e3 * k->sum_seconds / (double)k->sums, k->sums);
}

/* The checkpoint, always; then the model, unless the run failed (an
 * interrupted one has not): rank 0's. Returns the run's exit code. */
static int finish_run(train_run *r, int rc, double t0)
{
    char meta[8192], err[512];
    double run_s = now_seconds() - t0;
    r->interrupted |= stop_requested; /* a signal after the last step */
    if (r->ranks.rank != 0) return rc;
    print_sum_time(r);
    format_meta(meta, sizeof meta, &r->o, r->adam.step, r->wall_before + run_s, &r->data, r->history);
    if (save_checkpoint(r->ckpt_path, &r->model, r->avg, meta, &r->adam, err, sizeof err)) {
        fprintf(stderr, "aec train: checkpoint failed: %s\n", err);
        rc = AEC_EXIT_SYSTEM;
    }
    /* with the checkpoint safe, a second Ctrl-C may end the export */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (rc == AEC_EXIT_OK || r->interrupted) {
        int exported = export_output(r, meta, run_s);
        if (rc == AEC_EXIT_OK) rc = exported;
    }
    return rc;
}

/* The run up to its first step: options, images, model, workers, each
 * agreed by every rank (a rank that fails stops them all, and rank 0
 * names it). An exit code, or RUN_HELP after --help. */
#define RUN_HELP (-1)
static int start_run(train_run *r, int argc, char **argv)
{
    const train_ranks *k = &r->ranks;
    const int lead = k->rank == 0;
    if (k->size > 1) snprintf(r->who, sizeof r->who, "rank %d of %d: ", k->rank, k->size);
    if (!(r->gathered = malloc(sizeof(double) * GATHER_MAX * (size_t)k->size))) {
        fprintf(stderr, "aec train: %sout of memory\n", r->who);
        train_ranks_abort(k, AEC_EXIT_SYSTEM);
    }
    /* every rank parses its command line (the same one, unless mpirun
     * was given several); rank 0 says what is wrong */
    FILE *quiet = lead ? NULL : fopen("/dev/null", "w");
    int parsed = parse_options(argc, argv, &r->o, quiet ? quiet : stderr);
    if (quiet) fclose(quiet);
    const train_options *o = &r->o;
    int rc = parsed == 1 ? RUN_HELP : parsed ? AEC_EXIT_USAGE : AEC_EXIT_OK;
    if ((rc = agree(r, rc, "take its command line"))) {
        if (rc == RUN_HELP && lead) usage(stdout);
        return rc;
    }
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s", o->ckpt ? o->ckpt : "");
    if (!o->ckpt) snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s.ckpt", o->out);
    if (o->threads > 0) {
        nn_blas_set_threads(o->threads);
        omp_set_num_threads(o->threads);
    }
    char err[512];
    rc = load_images(r, err, sizeof err);
    if (rc) fprintf(stderr, "aec train: %s%s\n", r->who, err);
    if ((rc = agree(r, rc, "read its images")) || (rc = same_data(r))) return rc;
    resolve_patch(&r->o, &r->data);
    if (o->batch < k->size) {
        if (lead) fprintf(stderr, "aec train: --batch %d: fewer patches than the %d ranks\n", o->batch,
                          k->size);
        return AEC_EXIT_USAGE;
    }
    rc = lead ? start_model(r) : AEC_EXIT_OK;
    if ((rc = agree(r, rc, "start the model")) || (rc = share_model(r))) return rc;
    if ((rc = entry_scales(r))) return rc;
    return start_trainer(r);
}

int aec_cmd_train(int argc, char **argv)
{
    train_run r;
    memset(&r, 0, sizeof r);
    if (train_ranks_start(&r.ranks)) return AEC_EXIT_SYSTEM;
    int rc = start_run(&r, argc, argv);
    if (rc == RUN_HELP) rc = AEC_EXIT_OK;
    else if (!rc) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        /* mpirun hands SIGUSR1 on to every rank at once; its own Ctrl-C
         * sends them SIGTERM a second later (Open MPI 4.1) and SIGKILL a
         * second after that, which leaves the checkpoint but cuts the
         * export: kill -USR1 stops a run over MPI with its model */
        signal(SIGUSR1, on_signal);
        double t0 = now_seconds();
        rc = finish_run(&r, train_loop(&r, t0), t0);
    }
    run_free(&r);
    return rc;
}
