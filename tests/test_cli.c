/* tests/test_cli.c - the aec and aecd programs as a user runs them: the
 * built binaries (bin/aec, build/aecd-stub) are run with fork/exec on files
 * in a temporary folder. A tiny model is trained first (aec train ends
 * with it ready to code), on synthetic images this test writes.
 *
 * Skipped under the sanitizers (AEC_TEST_SANITIZED=1): it tests the -O2
 * programs, which only the plain run builds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <png.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec/model_file.h"
#include "tests/check.h"
#include "tests/jpeg_files.h"
#include "tests/synthetic_image.h"
#include "tools/imageio/png_io.h"

static char root[PATH_MAX], tmp[PATH_MAX], aec_bin[PATH_MAX + 16], stub_bin[PATH_MAX + 32];
static char out_text[1 << 16], err_text[1 << 16];

/* ---- files ------------------------------------------------------------------ */

/* TMP/name; the strings live until the end of the test */
static char *paths[1024];
static int n_paths;

static char *path_in(const char *name)
{
    char buf[PATH_MAX + 256];
    snprintf(buf, sizeof buf, "%s/%s", tmp, name);
    char *p = n_paths < 1024 ? strdup(buf) : NULL;
    if (!p) abort();
    return paths[n_paths++] = p;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            uint8_t *q = realloc(buf, cap = cap ? 2 * cap : 4096);
            if (!q) { free(buf); fclose(f); return NULL; }
            buf = q;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (!got) break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int same_bytes(const char *a, const char *b)
{
    size_t la, lb;
    uint8_t *x = slurp(a, &la), *y = slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

/* a temporary file left anywhere under tmp */
static int found_tmp;
static int look_for_tmp(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    if (strstr(p + strlen(tmp), ".tmp.")) {
        fprintf(stderr, "left behind: %s\n", p);
        found_tmp = 1;
    }
    return 0;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)ftw;
    if (flag == FTW_DP) rmdir(p);
    else unlink(p);
    return 0;
}

/* ---- synthetic images (synthetic_image.h) ------------------------------------- */

static void write_image(const char *path, int w, int h, unsigned seed, int with_alpha)
{
    uint8_t *rgb = synthetic_rgb(w, h, seed), *alpha = with_alpha ? malloc((size_t)w * h) : NULL;
    if (with_alpha && !alpha) abort();
    for (int y = 0; alpha && y < h; y++)
        for (int x = 0; x < w; x++) alpha[(size_t)y * w + x] = (uint8_t)(x < w / 2 ? 255 : 128);
    char err[256];
    if (aec_png_write(path, rgb, alpha, w, h, err, sizeof err)) fprintf(stderr, "%s\n", err);
    free(rgb);
    free(alpha);
}

/* 16-bit grayscale, which aec_png_write does not make */
static void write_gray16(const char *path, int w, int h)
{
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    uint8_t *row = malloc((size_t)w * 2);
    if (!f || !info || !row || setjmp(png_jmpbuf(p))) abort();
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 16, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            unsigned v = (unsigned)((x * 997 + y * 131) * 17) & 0xffff;
            row[2 * x] = (uint8_t)(v >> 8);
            row[2 * x + 1] = (uint8_t)v;
        }
        png_write_row(p, row);
    }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(row);
    fclose(f);
}

/* ---- running the programs ------------------------------------------------------- */

static void load_text(const char *path, char *buf, size_t cap)
{
    size_t n = 0;
    uint8_t *b = slurp(path, &n);
    if (n >= cap) n = cap - 1;
    if (b) memcpy(buf, b, n);
    buf[b ? n : 0] = 0;
    free(b);
}

/* where a child's stdout (unless redirected) and stderr go */
static void child_files(char out_file[PATH_MAX + 64], char err_file[PATH_MAX + 64])
{
    snprintf(out_file, PATH_MAX + 64, "%s/.stdout", tmp);
    snprintf(err_file, PATH_MAX + 64, "%s/.stderr", tmp);
}

/* Starts argv (NULL-terminated) with stdin from in_path (or /dev/null)
 * and stdout to out_path (or TMP/.stdout); stderr goes to TMP/.stderr.
 * env: "NAME=VALUE" strings set in the child, NULL-terminated or NULL.
 * Returns its pid, or -1. */
static pid_t start(const char *const *env, const char *in_path, const char *out_path,
                   const char *const *argv)
{
    char out_file[PATH_MAX + 64], err_file[PATH_MAX + 64];
    child_files(out_file, err_file);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int out = open(out_path ? out_path : out_file, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int err = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (in < 0 || out < 0 || err < 0) _exit(99);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(98);
    }
    return pid;
}

/* Waits for a child of start(): its stdout (unless it went to out_path)
 * into out_text, its stderr into err_text. Returns the exit status, or 128
 * + signal. */
static int finish(pid_t pid, const char *out_path)
{
    char out_file[PATH_MAX + 64], err_file[PATH_MAX + 64];
    child_files(out_file, err_file);
    if (pid < 0) return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!out_path) load_text(out_file, out_text, sizeof out_text);
    else out_text[0] = 0;
    load_text(err_file, err_text, sizeof err_text);
    unlink(out_file);
    unlink(err_file);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* start() and finish(): returns the exit status, or 128 + signal */
static int run_env(const char *const *env, const char *in_path, const char *out_path,
                   const char *const *argv)
{
    return finish(start(env, in_path, out_path, argv), out_path);
}

#define RUN(...) run_env(NULL, NULL, NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IO(in, out, ...) run_env(NULL, in, out, (const char *const[]){__VA_ARGS__, NULL})

/* "... 123 bytes  0.1234 bpp ... 5.67 dB" */
static double number_before(const char *text, const char *unit)
{
    const char *u = strstr(text, unit);
    if (!u) return NAN;
    const char *p = u;
    while (p > text && p[-1] == ' ') p--;
    while (p > text && (p[-1] == '.' || p[-1] == '-' || (p[-1] >= '0' && p[-1] <= '9'))) p--;
    return strtod(p, NULL);
}

/* the 16-hex-digit id in "PATH: model ID" (aec export, aec train) */
static void model_id(const char *text, char id[17])
{
    const char *p = strstr(text, ": model ");
    id[0] = 0;
    if (p) snprintf(id, 17, "%.16s", p + 8);
}

/* Whether the parameters whose names start with prefix are bit for bit
 * the same in the models at paths a and b: 1, 0, or -1 when one cannot be
 * read or no name starts with prefix. */
static int same_params(const char *a, const char *b, const char *prefix)
{
    aec_model x, y;
    char err[512];
    if (aec_model_load(a, &x, NULL, err, sizeof err)) return -1;
    if (aec_model_load(b, &y, NULL, err, sizeof err)) {
        aec_model_free(&x);
        return -1;
    }
    int found = 0, same = x.p.n_entries == y.p.n_entries;
    for (int e = 0; same && e < x.p.n_entries; e++) {
        const nn_param_entry *u = &x.p.entries[e], *v = &y.p.entries[e];
        if (strncmp(u->name, prefix, strlen(prefix))) continue;
        found = 1;
        same = !strcmp(u->name, v->name) && u->count == v->count &&
               !memcmp(x.p.value + u->offset, y.p.value + v->offset, u->count * sizeof(float));
    }
    aec_model_free(&x);
    aec_model_free(&y);
    return found ? same : -1;
}

static int max_pixel_diff(const char *a, const char *b)
{
    aec_image x, y;
    char err[256];
    if (aec_png_read(a, &x, 0, err, sizeof err)) return 999;
    if (aec_png_read(b, &y, 0, err, sizeof err)) {
        aec_image_free(&x);
        return 999;
    }
    int m = 0;
    if (x.width != y.width || x.height != y.height) m = 999;
    else
        for (size_t i = 0; i < (size_t)x.width * x.height * 3; i++) {
            int d = abs((int)x.rgb[i] - (int)y.rgb[i]);
            if (d > m) m = d;
        }
    aec_image_free(&x);
    aec_image_free(&y);
    return m;
}

/* ---- finding the programs ------------------------------------------------------ */

static int find_root(void)
{
    char here[PATH_MAX];
    if (getcwd(here, sizeof here)) {
        snprintf(aec_bin, sizeof aec_bin, "%s/bin/aec", here);
        if (access(aec_bin, X_OK) == 0) {
            snprintf(root, sizeof root, "%s", here);
            return 0;
        }
    }
    /* the test binary is ROOT/BUILD.../tests/test_cli: look upwards */
    ssize_t n = readlink("/proc/self/exe", here, sizeof here - 1);
    if (n <= 0) return -1;
    here[n] = 0;
    for (int up = 0; up < 5; up++) {
        char *slash = strrchr(here, '/');
        if (!slash || slash == here) return -1;
        *slash = 0;
        snprintf(aec_bin, sizeof aec_bin, "%s/bin/aec", here);
        if (access(aec_bin, X_OK) == 0) {
            snprintf(root, sizeof root, "%s", here);
            return 0;
        }
    }
    return -1;
}

/* Trains a model of 8/12 channels for two steps: aec train's output is
 * ready to code, its id on the last line. */
static int make_model(const char *data, const char *out, int seed, char id[17])
{
    char s[16];
    snprintf(s, sizeof s, "%d", seed);
    if (RUN(aec_bin, "train", "--data", data, "-o", out, "--steps", "2", "--batch", "2", "--patch",
            "64", "--n", "8", "--m", "12", "--seed", s) != 0) {
        fprintf(stderr, "aec train: %s\n", err_text);
        return -1;
    }
    model_id(out_text, id);
    return 0;
}

/* --average: the checkpoint keeps the moving average (AVGW) beside the
 * weights Adam moves; a finished run exports those weights themselves (its
 * lr decayed; the model file holds them as binary16), and --resume
 * carries the average on. */
static void test_average(void)
{
    const char *out = path_in("avg.aecm"), *ckpt = path_in("avg.aecm.ckpt");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", out, "--steps", "3", "--batch",
              "2", "--patch", "64", "--n", "8", "--m", "12", "--lr", "0.01", "--average", "0.5") == 0,
          "train with --average: %s", err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", out, "--steps", "1",
              "--average", "1") == 2, "--average 1 refused as a usage error");
    size_t clen = 0, olen = 0;
    uint8_t *cbuf = slurp(ckpt, &clen), *obuf = slurp(out, &olen);
    aec_model live, avg, outm;
    aec_chunk extra[AEC_MODEL_MAX_EXTRA];
    int n_extra = 0, found = 0;
    char err[256];
    if (cbuf && obuf &&
        aec_model_parse(cbuf, clen, "ckpt", 0, &live, NULL, extra, &n_extra, err,
                        sizeof err) == 0) {
        if (aec_model_parse(obuf, olen, "out", 0, &outm, NULL, NULL, NULL, err,
                            sizeof err) == 0) {
            for (int i = 0; i < n_extra; i++) {
                if (memcmp(extra[i].tag, "AVGW", 4) || aec_model_clone(&avg, &live)) continue;
                found = 1;
                CHECK(nn_params_deserialize(&avg.p, extra[i].data, extra[i].len, err, sizeof err) == 0,
                      "AVGW blob: %s", err);
                CHECK(memcmp(avg.p.value, live.p.value, avg.p.count * sizeof(float)) != 0,
                      "the average differs from the live weights after 3 steps at decay 0.5");
                nn_params_round_f16(&live.p);
                nn_params_round_f16(&avg.p);
                CHECK(!memcmp(live.p.value, outm.p.value, live.p.count * sizeof(float)),
                      "a finished run's output model holds the live weights");
                CHECK(memcmp(avg.p.value, outm.p.value, avg.p.count * sizeof(float)) != 0,
                      "and not the average");
                aec_model_free(&avg);
            }
            aec_model_free(&outm);
        } else {
            CHECK(0, "output model: %s", err);
        }
        aec_model_free(&live);
    } else {
        CHECK(0, "checkpoint unreadable");
    }
    CHECK(found, "the checkpoint has an AVGW chunk");
    free(cbuf);
    free(obuf);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", out, "--resume", ckpt, "--steps",
              "4", "--batch", "2", "--patch", "64", "--average", "0.5") == 0,
          "resume with --average: %s", err_text);
    CHECK(strstr(out_text, "after 4 steps") != NULL, "resumed to step 4: %s", out_text);

    /* aec export --average: the checkpoint's AVGW weights, a model of its own */
    const char *ex_live = path_in("avg-live.aecm"), *ex_avg = path_in("avg-avg.aecm");
    char id_live[17] = "", id_avg[17] = "";
    if (RUN(aec_bin, "export", "-m", ckpt, "--calib", path_in("train"), "-o", ex_live) == 0)
        model_id(out_text, id_live);
    if (RUN(aec_bin, "export", "-m", ckpt, "--calib", path_in("train"), "-o", ex_avg, "--average") == 0)
        model_id(out_text, id_avg);
    /* these 8/12-channel models can be too untrained to calibrate: compare
     * the ids only when both exported */
    CHECK(!id_live[0] || !id_avg[0] || strcmp(id_live, id_avg) != 0,
          "--average exports other weights: %s vs %s", id_live, id_avg);
    const char *no_avg = path_in("no-avg.aecm");
    CHECK(RUN(aec_bin, "export", "-m", out, "--calib", path_in("train"), "-o", no_avg, "--average") == 1 &&
              strstr(err_text, "no averaged weights") && strstr(err_text, out) &&
              access(no_avg, F_OK) != 0,
          "--average on a file without AVGW refused, no output: %s", err_text);

    /* --lambdas: new levels by --init; a checkpoint cannot change them */
    const char *lv = path_in("levels.aecm");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv, "--init", out, "--steps", "1",
              "--batch", "2", "--patch", "64", "--lambdas", "0.001,0.0018,0.01,1.5") == 0,
          "--init with --lambdas: %s", err_text);
    CHECK(RUN(aec_bin, "info", lv) == 0 && strstr(out_text, "4 rate levels") &&
              strstr(out_text, "0.001 0.0018 0.01 1.5"),
          "the new model has the 4 levels: %s", out_text);
    /* its metadata counts the steps it started from (out: 4 steps) */
    CHECK(strstr(out_text, "steps=1\n") && strstr(out_text, "init_steps=4\n") &&
              strstr(out_text, "init_wall_seconds="),
          "--init's history in the metadata: %s", out_text);
    const char *lv2 = path_in("levels2.aecm");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv2, "--init", lv, "--steps", "2",
              "--batch", "2", "--patch", "64") == 0 && RUN(aec_bin, "info", lv2) == 0 &&
              strstr(out_text, "steps=2\n") && strstr(out_text, "init_steps=5\n"),
          "a second --init adds up the history: %s", out_text);
    char lv_ckpt[4096];
    snprintf(lv_ckpt, sizeof lv_ckpt, "%s.ckpt", lv);
    const char *lv3 = path_in("levels3.aecm");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv3, "--resume", lv_ckpt, "--steps",
              "3", "--batch", "2", "--patch", "64") == 0 && RUN(aec_bin, "info", lv3) == 0 &&
              strstr(out_text, "steps=3\n") && strstr(out_text, "init_steps=4\n"),
          "--resume keeps the history: %s", out_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv, "--resume", ckpt, "--steps",
              "5", "--lambdas", "0.001,0.01") == 2 && strstr(err_text, "--init"),
          "--resume with other levels refused: %s", err_text);
    /* --level-weights: one per level of the model being trained */
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv2, "--init", lv, "--steps", "1",
              "--batch", "2", "--patch", "64", "--level-weights", "0,0,1,3") == 0 &&
              strstr(out_text, "drawn in proportion to 0 0 1 3"),
          "--level-weights 0,0,1,3 on 4 levels: %s %s", out_text, err_text);
    CHECK(RUN(aec_bin, "info", lv2) == 0 && strstr(out_text, "level_weights=0,0,1,3\n"),
          "the weights in the model's metadata: %s", out_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv2, "--init", lv, "--steps", "1",
              "--batch", "2", "--patch", "64", "--level-weights", "1,1") == 2 &&
              strstr(err_text, "2 weights for the model's 4 rate levels"),
          "--level-weights of the wrong count refused: %s", err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv2, "--init", lv, "--steps", "1",
              "--batch", "2", "--patch", "64", "--level-weights", "0,0,0,0") == 2 &&
              strstr(err_text, "not all weights may be 0"),
          "--level-weights all 0 refused: %s", err_text);
    const char *bad_weights[] = {"", "1,,2", "-1", "1,x", "2000", "1,"};
    for (size_t i = 0; i < sizeof bad_weights / sizeof bad_weights[0]; i++)
        CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv2, "--steps", "1",
                  "--level-weights", bad_weights[i]) == 2 && strstr(err_text, "--level-weights"),
              "--level-weights '%s' refused: %s", bad_weights[i], err_text);
    /* --lr-scale: a part at 0 keeps its weights bit for bit, one at 1 moves */
    const char *fz = path_in("frozen.aecm");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", fz, "--init", out, "--steps", "2",
              "--batch", "2", "--patch", "64", "--lr", "0.01", "--lr-scale", "g_s=0,h_s=3") == 0,
          "--lr-scale g_s=0,h_s=3: %s", err_text);
    CHECK(same_params(out, fz, "g_s.") == 1 && same_params(out, fz, "h_s.") == 0 &&
              same_params(out, fz, "g_a.") == 0,
          "g_s frozen, h_s and g_a moved");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", fz, "--init", out, "--steps", "2",
              "--batch", "2", "--patch", "64", "--lr", "0.01", "--lr-scale", "g_s=1,g_a=0") == 0 &&
              same_params(out, fz, "g_s.") == 0 && same_params(out, fz, "g_a.") == 1,
          "g_a frozen, g_s moved: %s", err_text);
    /* --init's default patches: 512 a side, 1 a batch; smaller images: the
     * largest multiple of 64 they all hold (384 in mid/, 256 in small/, 64
     * in train/, whose smallest side is 96), the batch as many pixels as 2
     * of 256x256, at least 1; --patch alone sets the batch so too */
    mkdir(path_in("big"), 0777);
    write_image(path_in("big/b0.png"), 528, 520, 21, 0);
    write_image(path_in("big/b1.png"), 520, 600, 22, 0);
    mkdir(path_in("mid"), 0777);
    write_image(path_in("mid/m0.png"), 400, 416, 23, 0);
    write_image(path_in("mid/m1.png"), 520, 520, 24, 0);
    mkdir(path_in("small"), 0777);
    write_image(path_in("small/m0.png"), 320, 272, 25, 0);
    write_image(path_in("small/m1.png"), 400, 400, 26, 0);
    CHECK(RUN(aec_bin, "train", "--data", path_in("big"), "-o", fz, "--init", out, "--steps", "1") == 0 &&
              strstr(out_text, "batch 1 of 512x512"),
          "--init on big images: batch 1 of 512x512: %s %s", out_text, err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("mid"), "-o", fz, "--init", out, "--steps", "1") == 0 &&
              strstr(out_text, "2 images") && strstr(out_text, "batch 1 of 384x384"),
          "--init on a 400-pixel-wide image: batch 1 of 384x384: %s %s", out_text, err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("small"), "-o", fz, "--init", out, "--steps", "1") == 0 &&
              strstr(out_text, "2 images") && strstr(out_text, "batch 2 of 256x256"),
          "--init on a 272-pixel-high image: batch 2 of 256x256: %s %s", out_text, err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", fz, "--init", out, "--steps", "1") == 0 &&
              strstr(out_text, "batch 32 of 64x64"),
          "--init on small images: batch 32 of 64x64: %s %s", out_text, err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("big"), "-o", fz, "--init", out, "--steps", "1",
              "--patch", "128") == 0 && strstr(out_text, "batch 8 of 128x128"),
          "--init --patch 128: batch 8: %s %s", out_text, err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("big"), "-o", fz, "--steps", "1", "--n", "8", "--m",
              "12") == 0 && strstr(out_text, "batch 8 of 128x128"),
          "a new model: batch 8 of 128x128: %s %s", out_text, err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", fz, "--init", out, "--steps", "1",
              "--lr-scale", "g_x=0") == 2 && strstr(err_text, "'g_x'"),
          "--lr-scale of no parameter refused: %s", err_text);
    /* 0 is no default: an explicit --batch 0 or --patch 0 is refused, with
     * --init or without (a NULL ends the command line before --init) */
    for (int init = 0; init < 2; init++) {
        CHECK(RUN(aec_bin, "train", "--data", path_in("big"), "-o", fz, "--steps", "1", "--batch", "0",
                  init ? "--init" : NULL, out, NULL) == 2 && strstr(err_text, "--batch must be 1-64"),
              "--batch 0 refused (init %d): %s", init, err_text);
        CHECK(RUN(aec_bin, "train", "--data", path_in("big"), "-o", fz, "--steps", "1", "--patch", "0",
                  init ? "--init" : NULL, out, NULL) == 2 && strstr(err_text, "--patch must be"),
              "--patch 0 refused (init %d): %s", init, err_text);
    }
    const char *bad_scale[] = {"g_s", "g_s=", "g_s=-1", "g_s=101", "=1", "g_s=1,", "g_s=1x"};
    for (size_t i = 0; i < sizeof bad_scale / sizeof bad_scale[0]; i++)
        CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", fz, "--steps", "1",
                  "--lr-scale", bad_scale[i]) == 2 && strstr(err_text, "--lr-scale"),
              "--lr-scale %s refused: %s", bad_scale[i], err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv, "--steps", "1",
              "--lambdas", "0.01,0.005") == 2, "decreasing lambdas refused");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", lv, "--steps", "1",
              "--lambdas", "0.01,11") == 2 && strstr(err_text, "(0, 10]"),
          "a lambda above 10 refused: %s", err_text);
}

/* --patch-first: the first part of a run on smaller patches (named in the
 * metadata), then --patch; --snapshot-every keeps numbered weights beside
 * MODEL, one per step at this tiny interval */
static void test_train_schedule(void)
{
    const char *out = path_in("sched.aecm");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", out, "--steps", "2", "--batch", "2",
              "--patch-first", "64:1h", "--snapshot-every", "0.000001s", "--n", "8", "--m", "12") == 0 &&
              strstr(out_text, "patches of 64x64 for the first 3600 s") &&
              !strstr(out_text, "from now on"),
          "train with --patch-first and --snapshot-every: %s %s", out_text, err_text);
    CHECK(RUN(aec_bin, "info", path_in("sched-step1.aecm")) == 0 && strstr(out_text, "steps=1\n") &&
              strstr(out_text, "patch=128\n") && strstr(out_text, "patch_first=64:3600s\n"),
          "the first snapshot, its schedule in the metadata: %s", out_text);
    CHECK(access(path_in("sched-step2.aecm"), F_OK) == 0, "the second snapshot");
    CHECK(access(path_in("sched-step3.aecm"), F_OK) != 0, "no third snapshot of a 2-step run");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", out, "--steps", "2", "--batch", "2",
              "--patch-first", "64:0.000001s", "--n", "8", "--m", "12") == 0 &&
              strstr(out_text, ": patches of 128x128 from now on"),
          "--patch-first's time over at once: %s %s", out_text, err_text);
    const char *bad[] = {"100:1m", "64", "64:", "64:0s", "32:1m", "x:1m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", out, "--steps", "1",
                  "--patch-first", bad[i]) == 2 && strstr(err_text, "--patch-first"),
              "--patch-first %s refused: %s", bad[i], err_text);
}

/* --context: added to a plain model by --init (not by --resume), shown by
 * aec info, exported, coded by aec and by a standalone decoder made for it */
static void test_context(const char *plain_trained, const char *image)
{
    const char *cm = path_in("ctx.aecm"), *cx = path_in("ctx-export.aecm");
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", plain_trained);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", cm, "--resume", ckpt, "--steps",
              "9", "--context") == 2 && strstr(err_text, "--init"),
          "--context on --resume of a plain checkpoint refused: %s", err_text);
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", cm, "--init", plain_trained,
              "--context", "--steps", "1", "--batch", "2", "--patch", "64") == 0,
          "--init --context: %s", err_text);
    CHECK(strstr(out_text, "context model") != NULL, "the start line says so: %s", out_text);
    CHECK(RUN(aec_bin, "info", cm) == 0 && strstr(out_text, "checkerboard context model"),
          "aec info: %s", out_text);
    if (RUN(aec_bin, "export", "-m", cm, "--calib", path_in("train"), "-o", cx) != 0) {
        CHECK(0, "export of the context model: %s", err_text);
        return;
    }
    const char *c_aec = path_in("ctx.aec"), *c_png = path_in("ctx.png"), *c_dec = path_in("ctxdec");
    const char *c_png2 = path_in("ctx2.png");
    CHECK(RUN(aec_bin, "encode", "-m", cx, image, "-o", c_aec) == 0 &&
              RUN(aec_bin, "decode", "-m", cx, c_aec, "-o", c_png) == 0,
          "context model encode and decode: %s", err_text);
    CHECK(RUN(aec_bin, "export-decoder", "-m", cx, "--stub", stub_bin, "-o", c_dec) == 0 &&
              RUN(c_dec, c_aec, c_png2) == 0,
          "a standalone decoder of the context model: %s", err_text);
    int d = max_pixel_diff(c_png, c_png2);
    CHECK(d >= 0 && d <= 1, "it decodes to aec decode's pixels, +-1: %d", d);
}

/* aec score: one line per image under the inputs, the furthest off first;
 * --csv with its header; the exported model stores its training images'
 * scores (percentiles); a bad file is named, the others still scored */
static void test_score(const char *model)
{
    CHECK(RUN(aec_bin, "score", "-m", model, path_in("tree"), path_in("train/s0.png")) == 0,
          "score: %s", err_text);
    int lines = 0;
    double prev = INFINITY, s;
    int sorted = 1;
    char pct[32], off[8];
    for (char *p = strchr(out_text, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
        if (sscanf(p + 1, "%lf %31s %7s", &s, pct, off) != 3) break;
        sorted &= s <= prev;
        prev = s;
        lines++;
        CHECK(strcmp(pct, "-") && (!strcmp(off, "yes") || !strcmp(off, "no")),
              "a percentile and yes/no: %s %s", pct, off);
    }
    CHECK(lines == 3 && sorted, "three lines, highest score first:\n%s", out_text);
    CHECK(RUN(aec_bin, "score", "-m", model, "--csv", path_in("tree/a.png")) == 0 &&
              !strncmp(out_text, "file,score,percentile,off_domain\n", 33) &&
              strstr(out_text, "tree/a.png,"),
          "--csv: %s", out_text);
    write_bytes(path_in("notimage.png"), "not an image", 12);
    CHECK(RUN(aec_bin, "score", "-m", model, path_in("notimage.png"), path_in("tree/a.png")) == 1 &&
              strstr(err_text, "notimage.png") && strstr(out_text, "tree/a.png"),
          "a bad file: exit 1, named, the others scored: %s / %s", err_text, out_text);
    CHECK(RUN(aec_bin, "score", "-m", model) == 2, "no input: exit 2");
    /* aec encode checks each file the same way: -v prints the score */
    CHECK(RUN(aec_bin, "encode", "-m", model, "-v", "-f", path_in("tree/a.png"), "-o",
              path_in("fit.aec")) == 0 && strstr(out_text, "  domain fit "),
          "encode -v prints the domain fit: %s", out_text);
    CHECK(RUN(aec_bin, "encode", "-m", model, "-v", "-f", "--no-fit-check", path_in("tree/a.png"),
              "-o", path_in("fit.aec")) == 0 && !strstr(out_text, "domain fit"),
          "--no-fit-check: %s", out_text);
}

/* aec bench names the images relative to its folder, given with a
 * trailing slash or without */
static void test_bench_names(const char *model)
{
    char dir[PATH_MAX + 8], report[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/", path_in("tree"));
    snprintf(report, sizeof report, "%s/points.csv", path_in("bench"));
    for (int slash = 0; slash < 2; slash++) {
        CHECK(RUN(aec_bin, "bench", "-m", model, slash ? dir : path_in("tree"), "-o",
                  path_in("bench"), "-e", "0", "--qualities", "50", "--jpeg-qualities",
                  "50,90") == 0,
              "bench: %s", err_text);
        load_text(report, out_text, sizeof out_text);
        CHECK(strstr(out_text, "\na.png,") && strstr(out_text, "\nsub/b.png,"),
              "bench %s: names relative to the folder: %.300s", slash ? "DIR/" : "DIR", out_text);
    }
}

/* aec bench --bpp-window: the BD-rates' window, said in the summary; bad
 * windows refused */
static void test_bench_window(const char *model)
{
    char summary[PATH_MAX + 32];
    snprintf(summary, sizeof summary, "%s/summary.md", path_in("bwin"));
    CHECK(RUN(aec_bin, "bench", "-m", model, path_in("tree"), "-o", path_in("bwin"), "-e", "0",
              "--qualities", "25,75", "--jpeg-qualities", "50,90", "--bpp-window", "1,4.5") == 0,
          "bench --bpp-window 1,4.5: %s", err_text);
    load_text(summary, out_text, sizeof out_text);
    CHECK(strstr(out_text, "cut to 1-4.5 bpp") != NULL, "the window in the summary: %.600s", out_text);
    CHECK(RUN(aec_bin, "bench", "-m", model, path_in("tree"), "-o", path_in("bwin"), "-e", "0",
              "--qualities", "50", "--jpeg-qualities", "50,90") == 0,
          "bench: %s", err_text);
    load_text(summary, out_text, sizeof out_text);
    CHECK(strstr(out_text, "cut to 0.1-2 bpp") != NULL, "the default window: %.600s", out_text);
    const char *bad[] = {"2,1", "1", "1,", ",2", "a,b", "0,65", "-1,2", "1,2,3", "nan,2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(RUN(aec_bin, "bench", "-m", model, path_in("tree"), "-o", path_in("bwin"),
                  "--bpp-window", bad[i]) == 2 && strstr(err_text, "--bpp-window"),
              "--bpp-window '%s' refused: %s", bad[i], err_text);
}

/* ---- aec bench with WebP and AVIF ------------------------------------------------ */

/* 1 when an executable name is in a folder of $PATH */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX + 64];
    for (const char *p = path ? path : ""; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, name);
        if (len && access(buf, X_OK) == 0) return 1;
        p += len + (p[len] == ':');
    }
    return 0;
}

/* points.csv's numbers of a codec's two settings on an image: bpp and
 * PSNR of the lower and the higher quality; 0 when the lines are missing */
static int two_points(const char *csv, const char *image, const char *codec, const char *q_low,
                      const char *q_high, double bpp[2], double psnr[2])
{
    for (int k = 0; k < 2; k++) {
        char key[256];
        snprintf(key, sizeof key, "\n%s,%s,%s,", image, codec, k ? q_high : q_low);
        const char *l = strstr(csv, key);
        if (!l) return 0;
        double bytes;
        if (sscanf(l + strlen(key), "%lf,%lf,%lf", &bytes, &bpp[k], &psnr[k]) != 3) return 0;
    }
    return 1;
}

/* the file without its last two columns (the times) on every line */
static void without_times(const char *path, char *buf, size_t cap)
{
    load_text(path, buf, cap);
    char *w = buf;
    for (char *l = buf; *l;) {
        char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        char *cut = l + len;
        for (int i = 0; i < 2 && cut > l; i++)
            do cut--;
            while (cut > l && *cut != ',');
        memmove(w, l, (size_t)(cut - l));
        w += cut - l;
        *w++ = '\n';
        l += len + (end != NULL);
    }
    *w = 0;
}

/* 1 when the folder holds no entry but . and .. */
static int folder_empty(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return d && n == 0;
}

#define BENCH_ARGS(model, dir, out)                                                            \
    aec_bin, "bench", "-m", model, dir, "-o", out, "-e", "0", "--qualities", "50",             \
        "--jpeg-qualities", "50,90", "--webp-qualities", "20,80", "--avif-qualities", "50,20"

/* WebP and AVIF beside aec and JPEG: their points, rows and curves, the
 * same numbers on a second run, --codecs, and the programs missing or
 * failing; no temporary file left in $TMPDIR in any case. */
static void test_bench_codecs(const char *model)
{
    if (!on_path("cwebp") || !on_path("dwebp") || !on_path("avifenc") || !on_path("avifdec")) {
        printf("test_cli: aec bench with WebP and AVIF not tested: cwebp, dwebp, avifenc or "
               "avifdec not on PATH\n");
        return;
    }
    const char *tree = path_in("tree"), *rep = path_in("brep"), *tmpdir = path_in("btmp");
    char env_tmp[PATH_MAX + 16], file[PATH_MAX + 64];
    static char csv[1 << 16], again[1 << 16];
    mkdir(tmpdir, 0777);
    snprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", tmpdir);
    const char *env[] = {env_tmp, NULL};
    CHECK(run_env(env, NULL, NULL, (const char *const[]){BENCH_ARGS(model, tree, rep), NULL}) == 0,
          "bench with WebP and AVIF: %s", err_text);
    CHECK(folder_empty(tmpdir), "no temporary file left");
    snprintf(file, sizeof file, "%s/points.csv", rep);
    load_text(file, csv, sizeof csv);
    const char *images[] = {"a.png", "sub/b.png"};
    for (int i = 0; i < 2; i++) {
        double bpp[2], psnr[2];
        CHECK(two_points(csv, images[i], "webp", "20", "80", bpp, psnr) && bpp[0] > 0.05 &&
                  bpp[1] > bpp[0] && psnr[0] > 15 && psnr[1] > psnr[0] && psnr[1] < 70,
              "%s: WebP q 20 / 80: %g / %g bpp, %g / %g dB", images[i], bpp[0], bpp[1], psnr[0],
              psnr[1]);
        CHECK(two_points(csv, images[i], "avif", "50", "20", bpp, psnr) && bpp[0] > 0.01 &&
                  bpp[1] > bpp[0] && psnr[0] > 15 && psnr[1] > psnr[0] && psnr[1] < 70,
              "%s: AVIF cq 50 / 20: %g / %g bpp, %g / %g dB", images[i], bpp[0], bpp[1], psnr[0],
              psnr[1]);
    }
    snprintf(file, sizeof file, "%s/summary.md", rep);
    load_text(file, out_text, sizeof out_text);
    CHECK(strstr(out_text, "\n| WebP | ") && strstr(out_text, "\n| AVIF | ") &&
              strstr(out_text, "## AVIF (means per quality)") && !strstr(out_text, "skipped"),
          "summary: WebP and AVIF rows: %.2000s", out_text);
    snprintf(file, sizeof file, "%s/rd.svg", rep);
    load_text(file, out_text, sizeof out_text);
    CHECK(strstr(out_text, ">WebP (cwebp -m 6)<") && strstr(out_text, ">AVIF (avifenc -s 4)<"),
          "rd.svg: their curves in the legend");

    /* the same numbers again */
    snprintf(file, sizeof file, "%s/points.csv", rep);
    without_times(file, csv, sizeof csv);
    CHECK(RUN(BENCH_ARGS(model, tree, rep)) == 0, "bench again: %s", err_text);
    without_times(file, again, sizeof again);
    CHECK(strlen(csv) > 200 && !strcmp(csv, again), "the same points on a second run:\n%s---\n%s",
          csv, again);

    CHECK(RUN(BENCH_ARGS(model, tree, rep), "--codecs", "aec,jpeg") == 0, "--codecs aec,jpeg: %s",
          err_text);
    load_text(file, csv, sizeof csv);
    snprintf(file, sizeof file, "%s/summary.md", rep);
    load_text(file, out_text, sizeof out_text);
    CHECK(strstr(csv, ",jpeg,90,") && !strstr(csv, ",webp,") && !strstr(csv, ",avif,") &&
              !strstr(out_text, "WebP") && !strstr(out_text, "AVIF"),
          "--codecs aec,jpeg: no WebP or AVIF: %s", csv);
    CHECK(RUN(BENCH_ARGS(model, tree, rep), "--codecs", "aec,jpeg,heic") == 2 &&
              strstr(err_text, "'heic' is not one of"),
          "an unknown codec: exit 2: %s", err_text);
    CHECK(RUN(BENCH_ARGS(model, tree, rep), "--codecs", "aec,webp") == 2 && strstr(err_text, "lacks jpeg"),
          "no JPEG: exit 2: %s", err_text);

    /* no cwebp on PATH: skipped when defaulted, an error when named */
    const char *rep2 = path_in("brep2");
    const char *no_path[] = {"PATH=/nonexistent", env_tmp, NULL};
    CHECK(run_env(no_path, NULL, NULL, (const char *const[]){BENCH_ARGS(model, tree, rep2), NULL}) == 0,
          "bench without the programs: %s", err_text);
    snprintf(file, sizeof file, "%s/summary.md", rep2);
    load_text(file, out_text, sizeof out_text);
    CHECK(strstr(out_text, "- WebP: skipped: cwebp not found on PATH") &&
              strstr(out_text, "- AVIF: skipped: avifenc not found on PATH") &&
              !strstr(out_text, "| WebP |"),
          "the report says they were skipped: %.1500s", out_text);
    CHECK(run_env(no_path, NULL, NULL,
                  (const char *const[]){BENCH_ARGS(model, tree, path_in("brep3")), "--codecs",
                                        "aec,jpeg,webp", NULL}) == 3 &&
              strstr(err_text, "cwebp not found on PATH") &&
              strchr(err_text, '\n') == err_text + strlen(err_text) - 1 && !exists(path_in("brep3")),
          "webp named without cwebp: exit 3, one line, no report: %s", err_text);

    /* a cwebp that fails: said, and nothing left behind */
    mkdir(path_in("fakebin"), 0777);
    const char script[] = "#!/bin/sh\necho 'cannot do it' >&2\nexit 4\n";
    const char *fakes[] = {"fakebin/cwebp", "fakebin/dwebp"};
    for (int i = 0; i < 2; i++) {
        write_bytes(path_in(fakes[i]), script, sizeof script - 1);
        chmod(path_in(fakes[i]), 0755);
    }
    char fake_path[PATH_MAX + 32];
    snprintf(fake_path, sizeof fake_path, "PATH=%s:/usr/bin:/bin", path_in("fakebin"));
    const char *fake_env[] = {fake_path, env_tmp, NULL};
    CHECK(run_env(fake_env, NULL, NULL,
                  (const char *const[]){BENCH_ARGS(model, tree, path_in("brep4")), "--codecs",
                                        "aec,jpeg,webp", NULL}) != 0 &&
              strstr(err_text, "a.png: WebP quality 20: ") &&
              strstr(err_text, "cwebp exited with 4: cannot do it") && !exists(path_in("brep4")),
          "a failing cwebp: said, no report: %s", err_text);
    CHECK(folder_empty(tmpdir), "no temporary file left after the failure");
}

/* Ctrl-C: the run stops after its step, writes its checkpoint and then
 * the average of the weights (what an interrupted run gives), exported:
 * ready to code. */
static void test_interrupted(void)
{
    const char *out = path_in("int.aecm"), *ckpt = path_in("int.aecm.ckpt");
    pid_t pid = start(NULL, NULL, NULL,
                      (const char *const[]){aec_bin, "train", "--data", path_in("train"), "-o", out,
                                            "--steps", "1000000", "--batch", "2", "--patch", "64",
                                            "--n", "8", "--m", "12", "--lr", "0.01", "--average",
                                            "0.5", "--checkpoint-every", "0.000001s", NULL});
    /* a checkpoint is written after every step: wait for the first */
    for (int i = 0; i < 6000 && pid > 0 && !exists(ckpt); i++) usleep(10000);
    if (pid > 0) kill(pid, SIGINT);
    CHECK(finish(pid, NULL) == 0, "interrupted run: exit 0: %s", err_text);
    CHECK(strstr(out_text, "interrupted") && strstr(out_text, ": model "),
          "it says so, and the model's id: %s", out_text);
    size_t clen = 0, olen = 0;
    uint8_t *cbuf = slurp(ckpt, &clen), *obuf = slurp(out, &olen);
    aec_model live, outm;
    aec_chunk extra[AEC_MODEL_MAX_EXTRA];
    int n_extra = 0, found = 0;
    char err[256];
    if (cbuf && obuf &&
        aec_model_parse(cbuf, clen, "ckpt", 0, &live, NULL, extra, &n_extra, err, sizeof err) == 0) {
        if (aec_model_parse(obuf, olen, "out", 0, &outm, NULL, NULL, NULL, err, sizeof err) == 0) {
            const aec_chunk *avgw = aec_chunk_find(extra, n_extra, "AVGW");
            if (avgw && nn_params_deserialize(&live.p, avgw->data, avgw->len, err, sizeof err) == 0) {
                found = 1;
                nn_params_round_f16(&live.p);
                CHECK(!memcmp(live.p.value, outm.p.value, live.p.count * sizeof(float)),
                      "the interrupted run's model holds the average");
            }
            aec_model_free(&outm);
        }
        aec_model_free(&live);
    }
    CHECK(found, "checkpoint with an average and a model: %s", err);
    free(cbuf);
    free(obuf);
    const char *png = path_in("tree/a.png"), *coded = path_in("int.aec");
    CHECK(RUN(aec_bin, "encode", "-m", out, png, "-o", coded) == 0 &&
              RUN(aec_bin, "decode", "-m", out, coded, "-o", path_in("int.png")) == 0,
          "the interrupted run's model codes: %s", err_text);
}

/* The output is what aec export makes of the checkpoint, calibrated on
 * the training images or on --calib's; a folder that cannot be read stops
 * the run before it trains; an output that cannot be written is said, the
 * checkpoint named. */
static void test_train_calib(void)
{
    const char *a = path_in("cal-a.aecm"), *b = path_in("cal-b.aecm"), *photo = path_in("photo");
    const char *ex = path_in("cal-ex.aecm"), *ex2 = path_in("cal-ex2.aecm"), *a_ckpt = path_in("cal-a.aecm.ckpt");
    char kodim[PATH_MAX + 32], id_a[17] = "", id_b[17] = "", id_ex[17] = "", id_ex2[17] = "";
    snprintf(kodim, sizeof kodim, "%s/samples/kodim23.png", root);
    mkdir(photo, 0777);
    if (symlink(kodim, path_in("photo/kodim23.png"))) CHECK(0, "%s: %s", kodim, strerror(errno));
    /* trained on a photo for 3 steps at --lr 0.01, the tables fitted to it
     * differ from those fitted to the synthetic images here (a model this
     * small and new often has the same tables on any images) */
    const char *const train_a[] = {aec_bin, "train", "--data", photo, "-o", a, "--steps", "3", "--batch",
                                   "2", "--patch", "64", "--n", "8", "--m", "12", "--lr", "0.01",
                                   NULL};
    if (run_env(NULL, NULL, NULL, train_a) == 0) model_id(out_text, id_a);
    if (RUN(aec_bin, "export", "-m", a_ckpt, "--calib", photo, "-o", ex) == 0) model_id(out_text, id_ex);
    if (RUN(aec_bin, "export", "-m", a_ckpt, "--calib", path_in("train"), "-o", ex2) == 0)
        model_id(out_text, id_ex2);
    CHECK(id_a[0] && !strcmp(id_a, id_ex) && same_bytes(a, ex),
          "aec train's model is aec export's, byte for byte: %s %s", id_a, id_ex);
    CHECK(RUN(aec_bin, "train", "--data", photo, "-o", b, "--steps", "3", "--batch", "2", "--patch",
              "64", "--n", "8", "--m", "12", "--lr", "0.01", "--calib", path_in("train")) == 0 &&
              strstr(out_text, "calibrating on 4 images of") && strstr(out_text, path_in("train")),
          "--calib: %s%s", out_text, err_text);
    model_id(out_text, id_b);
    CHECK(id_b[0] && !strcmp(id_b, id_ex2), "--calib: aec export --calib's model: %s %s (not %s)",
          id_b, id_ex2, id_ex);
    const char *c = path_in("cal-c.aecm");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", c, "--steps", "1", "--n", "8",
              "--m", "12", "--calib", path_in("nothere")) == 1 && strstr(err_text, "nothere") &&
              !strstr(out_text, "step") && !exists(c) && !exists(path_in("cal-c.aecm.ckpt")),
          "a missing --calib folder fails first: %s%s", out_text, err_text);
    const char *d = path_in("nodir/x.aecm"), *dckpt = path_in("x.ckpt");
    CHECK(RUN(aec_bin, "train", "--data", path_in("train"), "-o", d, "--checkpoint", dckpt,
              "--steps", "1", "--batch", "2", "--patch", "64", "--n", "8", "--m", "12") == 3 &&
              strstr(err_text, "not written") && strstr(err_text, dckpt) && exists(dckpt),
          "an output that cannot be written: exit 3, the checkpoint named: %s", err_text);
}

/* w x h synthetic pixels as a JPEG: RGB 4:2:0, or gray, progressive,
 * with an EXIF orientation */
static void write_jpeg(const char *path, int w, int h, unsigned seed, int gray, int progressive,
                       int orientation)
{
    uint8_t *rgb = synthetic_rgb(w, h, seed);
    test_jpeg opt;
    memset(&opt, 0, sizeof opt);
    opt.components = gray ? 1 : 3;
    opt.progressive = progressive;
    opt.orientation = orientation;
    if (gray)
        for (size_t i = 0; i < (size_t)w * h; i++) rgb[i] = rgb[3 * i + 1];
    if (test_jpeg_write(path, rgb, w, h, &opt)) fprintf(stderr, "%s: not written\n", path);
    free(rgb);
}

static void png_size(const char *path, int *w, int *h)
{
    aec_image img;
    char err[256];
    *w = *h = 0;
    if (aec_png_read(path, &img, 0, err, sizeof err) == 0) {
        *w = img.width;
        *h = img.height;
        aec_image_free(&img);
    }
}

/* A folder of JPEGs straight through, no conversion and no export: aec
 * train on it, aec encode of the folder (*.jpg, *.JPEG, *.jpeg, the
 * layout kept, photo.jpg -> photo.aec), aec decode and a standalone
 * decoder; a phone photo (EXIF 6) comes out upright; a damaged JPEG fails
 * alone, in one line naming it; aec bench says what its PSNR is against. */
static void test_jpeg_inputs(void)
{
    mkdir(path_in("jpegs"), 0777);
    mkdir(path_in("jpegs/sub"), 0777);
    write_jpeg(path_in("jpegs/a.jpg"), 160, 120, 31, 0, 0, 0);
    write_jpeg(path_in("jpegs/B.JPEG"), 128, 96, 32, 0, 1, 0);
    write_jpeg(path_in("jpegs/c.jpeg"), 100, 80, 33, 1, 0, 0);
    write_jpeg(path_in("jpegs/sub/phone.jpg"), 96, 64, 34, 0, 0, 6);
    write_bytes(path_in("jpegs/notes.txt"), "not an image\n", 13);
    const char *jm = path_in("jm.aecm");
    CHECK(RUN(aec_bin, "train", "--data", path_in("jpegs"), "-o", jm, "--steps", "2", "--batch", "2",
              "--patch", "64", "--n", "8", "--m", "12") == 0 && strstr(out_text, "3 images from"),
          "train on JPEGs: %s%s", out_text, err_text);
    CHECK(RUN(aec_bin, "encode", "-m", jm, path_in("jpegs"), "-o", path_in("jenc")) == 0 &&
              strstr(out_text, "4 files, 0 failed"),
          "encode a folder of JPEGs with that model: %s%s", out_text, err_text);
    CHECK(exists(path_in("jenc/a.aec")) && exists(path_in("jenc/B.aec")) &&
              exists(path_in("jenc/c.aec")) && exists(path_in("jenc/sub/phone.aec")),
          "photo.jpg -> photo.aec, any case, the layout kept");
    CHECK(strstr(err_text, "c.jpeg: grayscale converted") != NULL, "the gray JPEG noted: %s", err_text);
    CHECK(RUN(aec_bin, "decode", "-m", jm, path_in("jenc"), "-o", path_in("jdec")) == 0,
          "decode: %s", err_text);
    int w, h;
    png_size(path_in("jdec/sub/phone.png"), &w, &h);
    CHECK(w == 64 && h == 96, "the phone photo decoded upright: %dx%d", w, h);
    png_size(path_in("jdec/B.png"), &w, &h);
    CHECK(w == 128 && h == 96, "the progressive JPEG: %dx%d", w, h);
    const char *jd = path_in("jdec-aecd");
    CHECK(RUN(aec_bin, "export-decoder", "-m", jm, "--stub", stub_bin, "-o", jd) == 0 &&
              RUN(jd, path_in("jenc/sub/phone.aec"), path_in("phone-aecd.png")) == 0,
          "a standalone decoder of it: %s", err_text);
    int d = max_pixel_diff(path_in("phone-aecd.png"), path_in("jdec/sub/phone.png"));
    CHECK(d <= 1, "its pixels, +-1: %d", d);
    CHECK(RUN(aec_bin, "encode", "-m", jm, path_in("jpegs/B.JPEG")) == 0 && exists(path_in("jpegs/B.aec")),
          "one JPEG, no -o: B.JPEG -> B.aec: %s", err_text);
    unlink(path_in("jpegs/B.aec"));

    CHECK(RUN(aec_bin, "score", "-m", jm, path_in("jpegs")) == 0 && strstr(out_text, "phone.jpg") &&
              strstr(out_text, "B.JPEG") && strstr(out_text, "c.jpeg") && strstr(out_text, "a.jpg"),
          "aec score takes the JPEGs: %s%s", out_text, err_text);

    /* photo.png and photo.jpg would both be photo.aec */
    mkdir(path_in("twins"), 0777);
    write_jpeg(path_in("twins/x.jpg"), 64, 64, 36, 0, 0, 0);
    write_image(path_in("twins/x.png"), 64, 64, 36, 0);
    CHECK(RUN(aec_bin, "encode", "-m", jm, path_in("twins"), "-o", path_in("twinsenc")) == 2 &&
              strstr(err_text, "x.aec: would be written from both"),
          "x.jpg and x.png: refused, said: %s", err_text);

    /* a damaged JPEG among good ones */
    mkdir(path_in("jbad"), 0777);
    write_jpeg(path_in("jbad/good.jpg"), 80, 64, 35, 0, 0, 0);
    size_t n;
    uint8_t *b = slurp(path_in("jbad/good.jpg"), &n);
    if (b) write_bytes(path_in("jbad/cut.jpg"), b, n / 2);
    free(b);
    CHECK(RUN(aec_bin, "encode", "-m", jm, "--no-fit-check", path_in("jbad"), "-o", path_in("jbadenc")) == 1 &&
              strstr(out_text, "2 files, 1 failed"),
          "a folder with a damaged JPEG: exit 1: %s", out_text);
    CHECK(strstr(err_text, "cut.jpg: truncated") && strchr(err_text, '\n') == err_text + strlen(err_text) - 1,
          "one line naming it: '%s'", err_text);
    CHECK(!exists(path_in("jbadenc/cut.aec")) && exists(path_in("jbadenc/good.aec")),
          "no output for it, the good one coded");

    /* aec bench: the report says PSNR is against the decoded JPEGs */
    const char *rep = path_in("jrep"), *rep_png = path_in("prep");
    char summary[PATH_MAX + 300];
    CHECK(RUN(aec_bin, "bench", "-m", jm, path_in("jpegs"), "-o", rep, "-e", "0", "--qualities", "50",
              "--jpeg-qualities", "50,90") == 0, "bench of JPEGs: %s", err_text);
    snprintf(summary, sizeof summary, "%s/summary.md", rep);
    load_text(summary, out_text, sizeof out_text);
    CHECK(strstr(out_text, "4 of the 4 images are JPEGs") && strstr(out_text, "decoded JPEG pixels"),
          "the report says so: %s", out_text);
    CHECK(RUN(aec_bin, "bench", "-m", jm, path_in("tree"), "-o", rep_png, "-e", "0", "--qualities",
              "50", "--jpeg-qualities", "50,90") == 0, "bench of PNGs: %s", err_text);
    snprintf(summary, sizeof summary, "%s/summary.md", rep_png);
    load_text(summary, out_text, sizeof out_text);
    CHECK(strstr(out_text, "# aec bench") && !strstr(out_text, "are JPEGs"),
          "not for PNGs: %s", out_text);
}

int main(void)
{
    if (getenv("AEC_TEST_SANITIZED")) {
        printf("test_cli: skipped under the sanitizers (it runs the -O2 bin/aec)\n");
        return check_report("test_cli");
    }
    if (find_root()) {
        CHECK(0, "bin/aec not found (make all builds it)");
        return check_report("test_cli");
    }
    snprintf(stub_bin, sizeof stub_bin, "%s/build/aecd-stub", root);
    snprintf(tmp, sizeof tmp, "/tmp/aec_test_cli_XXXXXX");
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return check_report("test_cli");
    }

    /* training images, and a tree to code: tree/a.png, tree/sub/b.png */
    mkdir(path_in("train"), 0777);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "train/s%d.png", i);
        write_image(path_in(name), 128 + 16 * i, 96 + 16 * i, (unsigned)i + 1, 0);
    }
    mkdir(path_in("tree"), 0777);
    mkdir(path_in("tree/sub"), 0777);
    write_image(path_in("tree/a.png"), 160, 128, 11, 0);
    write_image(path_in("tree/sub/b.png"), 100, 70, 12, 0);
    write_image(path_in("alpha.png"), 64, 64, 13, 1);
    write_gray16(path_in("gray16.png"), 48, 40);
    size_t a_len;
    uint8_t *a_orig = slurp(path_in("tree/a.png"), &a_len);

    char id[17], id2[17];
    const char *M = path_in("m.aecm");
    if (make_model(path_in("train"), M, 1, id)) {
        CHECK(0, "could not make a coding-ready model");
        goto done;
    }
    CHECK(strlen(id) == 16, "model id from aec train: '%s'", out_text);
    CHECK(RUN(aec_bin, "info", M) == 0 && strstr(out_text, id), "aec info: the same id: %s", out_text);
    test_average();
    test_interrupted();
    test_train_calib();
    test_train_schedule();
    test_context(M, path_in("tree/a.png"));
    test_score(M);
    test_bench_names(M);
    test_bench_window(M);
    test_bench_codecs(M);
    test_jpeg_inputs();

    /* ---- one file: encode, decode, and the same through stdin/stdout ---- */
    const char *A = path_in("tree/a.png"), *A_aec = path_in("a.aec"), *A_png = path_in("a.png");
    CHECK(RUN(aec_bin, "encode", "-m", M, A, "-o", A_aec) == 0, "encode: %s", err_text);
    CHECK(strstr(out_text, "bpp") != NULL, "per-file line: '%s'", out_text);
    CHECK(RUN(aec_bin, "decode", "-m", M, A_aec, "-o", A_png) == 0, "decode: %s", err_text);
    {
        aec_image img;
        char err[256];
        int ok = aec_png_read(A_png, &img, 0, err, sizeof err) == 0;
        CHECK(ok && img.width == 160 && img.height == 128, "decoded size");
        if (ok) aec_image_free(&img);
    }
    CHECK(RUN_IO(A, path_in("s.aec"), aec_bin, "encode", "-m", M, "-") == 0, "stdin: %s", err_text);
    CHECK(same_bytes(path_in("s.aec"), A_aec), "encode via stdin/stdout gives the same bytes");
    CHECK(RUN_IO(A_aec, path_in("s.png"), aec_bin, "decode", "-m", M, "-", "-o", "-") == 0,
          "decode stdin: %s", err_text);
    CHECK(same_bytes(path_in("s.png"), A_png), "decode via stdin/stdout gives the same bytes");
    CHECK(RUN_IO(A_aec, "/dev/full", aec_bin, "decode", "-m", M, "-", "-o", "-") == 3,
          "a full stdout is an I/O error (3): %s", err_text);

    /* ---- existing outputs ---- */
    write_bytes(path_in("exists.aec"), "keep me", 7);
    CHECK(RUN(aec_bin, "encode", "-m", M, A, "-o", path_in("exists.aec")) == 1,
          "existing output refused without -f");
    CHECK(strstr(err_text, "exists.aec") && strstr(err_text, "-f"), "message: '%s'", err_text);
    {
        size_t n;
        uint8_t *b = slurp(path_in("exists.aec"), &n);
        CHECK(b && n == 7 && memcmp(b, "keep me", 7) == 0, "existing file untouched");
        free(b);
    }
    CHECK(RUN(aec_bin, "encode", "-m", M, A, "-o", path_in("exists.aec"), "-f") == 0,
          "-f: %s", err_text);
    CHECK(same_bytes(path_in("exists.aec"), A_aec), "-f replaced the file");
    CHECK(RUN(aec_bin, "decode", "-m", M, A_aec, "-o", A_aec, "-f") == 1,
          "the input is never the output, even with -f");
    CHECK(exists(A_aec) && strstr(err_text, "input"), "input kept: '%s'", err_text);

    /* ---- a damaged file ---- */
    {
        size_t n;
        uint8_t *b = slurp(A_aec, &n);
        if (b && n > 40) {
            b[n / 2] ^= 0x5a;
            b[n / 2 + 1] ^= 0xa5;
            write_bytes(path_in("bad.aec"), b, n);
        }
        free(b);
        CHECK(RUN(aec_bin, "decode", "-m", M, path_in("bad.aec")) == 1, "corrupt file: exit 1");
        CHECK(strstr(err_text, "bad.aec") != NULL && !strchr(strchr(err_text, '\n') + 1, '\n'),
              "one line naming the file: '%s'", err_text);
        CHECK(!exists(path_in("bad.png")), "no output for a corrupt file");
    }

    /* ---- outputs that cannot be written ---- */
    write_bytes(path_in("plainfile"), "x", 1);
    CHECK(RUN(aec_bin, "encode", "-m", M, A, "-o", path_in("plainfile/x.aec")) == 3,
          "output under a file: exit 3 (%s)", err_text);
    CHECK(strstr(err_text, "plainfile/x.aec") != NULL, "message names it: '%s'", err_text);
    CHECK(RUN(aec_bin, "decode", "-m", M, A_aec, "-o", path_in("plainfile/x.png")) == 3,
          "decode output under a file: exit 3 (%s)", err_text);
    if (geteuid() != 0) {
        /* root writes through permissions, so this case needs a user */
        mkdir(path_in("ro"), 0555);
        CHECK(RUN(aec_bin, "encode", "-m", M, A, "-o", path_in("ro/x.aec")) == 3,
              "read-only folder: exit 3 (%s)", err_text);
        CHECK(!exists(path_in("ro/x.aec")), "nothing written in a read-only folder");
    }

    /* ---- folders: recursive, layout kept; -j 2 the same as -j 1 ---- */
    CHECK(RUN(aec_bin, "encode", "-m", M, path_in("tree"), "-o", path_in("enc1")) == 0,
          "encode folder: %s", err_text);
    static char summary1[sizeof out_text];
    memcpy(summary1, out_text, sizeof out_text);
    CHECK(exists(path_in("enc1/a.aec")) && exists(path_in("enc1/sub/b.aec")), "layout kept");
    CHECK(strstr(out_text, "2 files, 0 failed") != NULL, "summary: '%s'", out_text);
    CHECK(RUN(aec_bin, "encode", "-m", M, "-j", "2", path_in("tree"), "-o", path_in("enc2")) == 0,
          "encode -j 2: %s", err_text);
    CHECK(same_bytes(path_in("enc1/a.aec"), path_in("enc2/a.aec")) &&
              same_bytes(path_in("enc1/sub/b.aec"), path_in("enc2/sub/b.aec")),
          "-j 2 writes the same bytes as -j 1");
    {
        /* the same messages, but for the folder's name */
        static char want[sizeof out_text];
        char *p;
        memcpy(want, summary1, sizeof want);
        while ((p = strstr(want, "enc1"))) p[3] = '2';
        CHECK(strcmp(want, out_text) == 0, "-j 2 prints the same:\n%s\nvs\n%s", want, out_text);
    }
    CHECK(RUN(aec_bin, "decode", "-m", M, path_in("enc1"), "-o", path_in("dec1")) == 0,
          "decode folder: %s", err_text);
    CHECK(exists(path_in("dec1/a.png")) && exists(path_in("dec1/sub/b.png")), "decoded layout");
    CHECK(RUN(aec_bin, "decode", "-m", M, "-j", "2", path_in("enc1"), "-o", path_in("dec2")) == 0,
          "decode -j 2: %s", err_text);
    CHECK(same_bytes(path_in("dec1/a.png"), path_in("dec2/a.png")) &&
              same_bytes(path_in("dec1/sub/b.png"), path_in("dec2/sub/b.png")),
          "decode -j 2 writes the same bytes as -j 1");
    CHECK(RUN(aec_bin, "encode", "-m", M, path_in("tree"), "-o", path_in("enc1")) == 1,
          "a folder of existing outputs: exit 1");
    CHECK(strstr(out_text, "2 files, 2 failed") != NULL, "honest summary: '%s'", out_text);

    /* ---- alpha, gray, 16-bit ---- */
    CHECK(RUN(aec_bin, "encode", "-m", M, path_in("alpha.png")) == 1, "alpha refused");
    CHECK(strstr(err_text, "alpha.png") && strstr(err_text, "--drop-alpha"), "'%s'", err_text);
    CHECK(!exists(path_in("alpha.aec")), "no output for a refused image");
    CHECK(RUN(aec_bin, "encode", "-m", M, path_in("alpha.png"), "--drop-alpha") == 0,
          "--drop-alpha: %s", err_text);
    CHECK(RUN(aec_bin, "encode", "-m", M, path_in("gray16.png")) == 0, "gray16: %s", err_text);
    CHECK(strstr(err_text, "note") && strstr(err_text, "16-bit gray"), "note: '%s'", err_text);

    /* ---- the command line ---- */
    CHECK(RUN(aec_bin, "encode") == 2, "no input: exit 2");
    CHECK(RUN(aec_bin, "encode", "-m", M, "-q", "101", A) == 2, "-q 101: exit 2");
    CHECK(RUN(aec_bin, "encode", "-m", M, "-q", "50", "--bpp", "1", A) == 2, "-q and --bpp: exit 2");
    CHECK(RUN(aec_bin, "encode", "-m", M, A, path_in("tree/a.png"), "-o", path_in("dup")) == 2,
          "two inputs for one output: exit 2 (%s)", err_text);
    CHECK(RUN(aec_bin, "decode", "-m", M, path_in("nothere.aec")) == 1, "missing input: exit 1");
    CHECK(RUN(aec_bin, "--help") == 0 && strstr(out_text, "exit codes"), "aec --help");

    /* ---- --bpp and --psnr, inside the range this model spans ---- */
    {
        const char *big = path_in("train/s3.png");
        double b0 = NAN, b1 = NAN, p0 = NAN, p1 = NAN;
        if (RUN(aec_bin, "encode", "-m", M, "-v", "-q", "0", big, "-o", path_in("q0.aec")) == 0) {
            b0 = number_before(out_text, " bpp");
            p0 = number_before(out_text, " dB");
        }
        if (RUN(aec_bin, "encode", "-m", M, "-v", "-q", "100", big, "-o", path_in("q1.aec")) == 0) {
            b1 = number_before(out_text, " bpp");
            p1 = number_before(out_text, " dB");
        }
        CHECK(b1 > b0 && p1 > p0, "the model spans a range: %g..%g bpp, %g..%g dB", b0, b1, p0, p1);
        char target[32];
        double tb = b0 + 0.6 * (b1 - b0);
        snprintf(target, sizeof target, "%.4f", tb);
        CHECK(RUN(aec_bin, "encode", "-m", M, "--bpp", target, big, "-o", path_in("tb.aec")) == 0,
              "--bpp: %s", err_text);
        double got = number_before(out_text, " bpp");
        CHECK(fabs(got - tb) <= 0.03 * tb, "--bpp %s gave %g (%s%s)", target, got, out_text, err_text);
        double tp = p0 + 0.6 * (p1 - p0);
        snprintf(target, sizeof target, "%.3f", tp);
        CHECK(RUN(aec_bin, "encode", "-m", M, "--psnr", target, big, "-o", path_in("tp.aec")) == 0,
              "--psnr: %s", err_text);
        got = number_before(out_text, " dB");
        CHECK(fabs(got - tp) <= 0.1, "--psnr %s gave %g (%s%s)", target, got, out_text, err_text);
    }

    /* ---- a standalone decoder ---- */
    const char *dec = path_in("mydec");
    CHECK(RUN(aec_bin, "export-decoder", "-m", M, "--stub", stub_bin, "-o", dec) == 0,
          "export-decoder: %s", err_text);
    CHECK(RUN(aec_bin, "export-decoder", "-m", M, "--stub", stub_bin, "-o", dec) == 1,
          "export-decoder refuses to overwrite");
    CHECK(RUN(dec, A_aec, path_in("mydec.png")) == 0, "mydec: %s", err_text);
    /* aecd multiplies with nn/gemm.c, aec with OpenBLAS: the same pixels
     * up to 1 (the decoder's promise, spec/aec-format.md) */
    int mydec_diff = max_pixel_diff(path_in("mydec.png"), A_png);
    CHECK(mydec_diff >= 0 && mydec_diff <= 1, "mydec decodes to the pixels of aec decode, +-1: %d",
          mydec_diff);
    CHECK(RUN(dec, A_aec, path_in("mydec.png")) == 1, "mydec refuses to overwrite");
    CHECK(RUN(dec, path_in("bad.aec"), path_in("mydec-bad.png")) == 1 &&
              !exists(path_in("mydec-bad.png")),
          "mydec: corrupt file, exit 1, no output");
    /* the same result under other BLAS kernels and thread counts: the
     * latents are integer-decoded, so only the float synthesis may move a
     * pixel by 1 */
    {
        const char *envs[][3] = {{"OPENBLAS_CORETYPE=Prescott", NULL, NULL},
                                 {"OPENBLAS_NUM_THREADS=1", NULL, NULL},
                                 {"OPENBLAS_NUM_THREADS=2", NULL, NULL},
                                 {"OMP_NUM_THREADS=1", NULL, NULL}};
        for (int i = 0; i < 4; i++) {
            const char *out = path_in("env.png");
            unlink(out);
            int rc = run_env(envs[i], NULL, NULL, (const char *const[]){dec, A_aec, out, NULL});
            CHECK(rc == 0, "%s: aecd: %s", envs[i][0], err_text);
            int d = max_pixel_diff(out, A_png);
            CHECK(d <= 1, "%s: pixels differ by %d", envs[i][0], d);
        }
    }
    /* and from an unoptimised build with only the baseline copies of the
     * vectorised loops (make test builds build/o0/aecd-stub): the promise
     * is +-1, but with the same GEMM kernel and no fused multiply-adds
     * anywhere else the two decoders compute the same floats, so this one
     * must give the -O2 one's pixels exactly (the AVX2 and baseline copies
     * of nn/vector_copies.h the same bits) */
    {
        char o0_stub[PATH_MAX + 32];
        snprintf(o0_stub, sizeof o0_stub, "%s/build/o0/aecd-stub", root);
        const char *o0_dec = path_in("mydec-o0"), *out = path_in("o0.png");
        CHECK(RUN(aec_bin, "export-decoder", "-m", M, "--stub", o0_stub, "-o", o0_dec) == 0,
              "export-decoder with the -O0 stub (make build/o0/aecd-stub): %s", err_text);
        CHECK(RUN(o0_dec, A_aec, out) == 0, "-O0 aecd: %s", err_text);
        int d = max_pixel_diff(out, A_png), same = max_pixel_diff(out, path_in("mydec.png"));
        CHECK(d <= 1, "-O0 aecd: pixels differ from aec decode's by %d", d);
        CHECK(same == 0, "-O0 aecd: the -O2 aecd's pixels exactly (max difference %d)", same);
    }
    /* a file of another model */
    if (make_model(path_in("train"), path_in("other.aecm"), 20, id2) == 0) {
        CHECK(strcmp(id, id2) != 0, "two models, two ids");
        CHECK(RUN(aec_bin, "encode", "-m", path_in("other.aecm"), A, "-o", path_in("other.aec")) == 0,
              "encode with the other model: %s", err_text);
        CHECK(RUN(dec, path_in("other.aec"), path_in("other.png")) == 1, "another model's file refused");
        CHECK(strstr(err_text, id) && strstr(err_text, id2) && strstr(err_text, "other.aec"),
              "message names both ids (%s, %s) and the file: '%s'", id, id2, err_text);
        CHECK(!exists(path_in("other.png")), "no output");
    } else {
        CHECK(0, "could not make a second model");
    }

    /* ---- what must hold after everything ---- */
    {
        size_t n;
        uint8_t *b = slurp(A, &n);
        CHECK(b && n == a_len && memcmp(b, a_orig, n) == 0, "the input image was never modified");
        free(b);
        found_tmp = 0;
        nftw(tmp, look_for_tmp, 16, FTW_PHYS);
        CHECK(!found_tmp, "no temporary files left behind");
    }
done:
    free(a_orig);
    chmod(path_in("ro"), 0755);
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    return check_report("test_cli");
}
