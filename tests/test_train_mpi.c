/* tests/test_train_mpi.c - aec train over MPI: `mpirun -np N`
 * of the MPI build of aec ($(BUILD)/mpi/aec, named by AEC_MPI_BIN) against
 * one process with the same global batch, on synthetic images in a
 * temporary folder; and the gradient sum alone ($(BUILD)/mpi/mpi_ranks
 * under mpirun, tests/mpi_ranks.c).
 *
 * N ranks of W workers draw and split the batch as one process of N x W
 * workers does, so their weights, Adam's moments and the average must be
 * the same floats: two ranks add up the same two products the process
 * adds. Where the split differs (2 x 1 against 1 x 2: a lone worker
 * multiplies with OpenBLAS, a worker of several with nn_sgemm) they agree
 * to float tolerance. --resume with another N continues the same run; a
 * rank that cannot read its images, or holds others, stops every rank; a
 * rank killed, or mpirun interrupted, leaves the last checkpoint whole,
 * and SIGUSR1 to mpirun stops every rank after the same step.
 *
 * Skipped with a line saying so when Open MPI (mpirun) or the MPI build is
 * missing, and under the sanitizers (it runs the -O2 programs). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec/model_file.h"
#include "tests/check.h"
#include "tests/synthetic_image.h"
#include "tools/imageio/png_io.h"
#include "tools/train/checkpoint.h"

static char tmp[PATH_MAX], aec_bin[PATH_MAX + 16], ranks_bin[PATH_MAX + 32];
static char out_text[1 << 16], err_text[1 << 16];

/* TMP/name; the strings live until the end of the test */
static char *paths[1024];
static int n_paths;

static const char *path_in(const char *name)
{
    char buf[PATH_MAX + 256];
    snprintf(buf, sizeof buf, "%s/%s", tmp, name);
    char *p = n_paths < 1024 ? strdup(buf) : NULL;
    if (!p) abort();
    return paths[n_paths++] = p;
}

/* ---- files ------------------------------------------------------------------ */

static void load_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

/* a synthetic image (synthetic_image.h) as a PNG */
static void write_image(const char *path, int w, int h, unsigned seed)
{
    uint8_t *rgb = synthetic_rgb(w, h, seed);
    char err[256];
    if (aec_png_write(path, rgb, NULL, w, h, err, sizeof err)) fprintf(stderr, "%s\n", err);
    free(rgb);
}

/* a file name holding ".tmp." anywhere in TMP: a write that was cut off */
static int temporary_left(void)
{
    DIR *d = opendir(tmp);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) found = 1;
    if (d) closedir(d);
    return found;
}

static int remove_tree(const char *dir)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* ---- running the programs ---------------------------------------------------- */

/* Starts argv (NULL-terminated, found on PATH) in a process group of its
 * own, stdout and stderr to TMP/.out and TMP/.err. Its pid, or -1. */
static pid_t start(const char *const *argv)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int out = open(path_in(".out"), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int err = open(path_in(".err"), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || err < 0 || in < 0) _exit(99);
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(98);
    }
    return pid;
}

/* Waits for start()'s child at most `seconds`, then kills its group:
 * its exit status, 128 + signal, or -2 when it had to be killed. Its
 * output goes to out_text and err_text. */
static int finish(pid_t pid, double seconds)
{
    if (pid < 0) return -1;
    int status = 0, timed_out = 0;
    for (double waited = 0;; waited += 0.02) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) break;
        if (got < 0 && errno != EINTR) return -1;
        if (waited > seconds && !timed_out) {
            kill(-pid, SIGKILL);
            timed_out = 1;
        }
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    load_text(path_in(".out"), out_text, sizeof out_text);
    load_text(path_in(".err"), err_text, sizeof err_text);
    if (timed_out) return -2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define MPIRUN "mpirun", "--oversubscribe", "--bind-to", "none"
#define RUN(seconds, ...) finish(start((const char *const[]){__VA_ARGS__, NULL}), seconds)

/* aec train of the tiny model on TMP/train: out, steps, ranks' workers */
#define TRAIN "train", "--data", path_in("train"), "--n", "8", "--m", "12", "--patch", "64", \
              "--batch", "6", "--seed", "3"

/* ---- comparing checkpoints ------------------------------------------------------- */

typedef struct {
    aec_model model;
    nn_adam adam;
    const aec_chunk *avgw;   /* into buf */
    aec_chunk extra[AEC_MODEL_MAX_EXTRA];
    uint8_t *buf;
    int ok;
} checkpoint;

static void checkpoint_load(checkpoint *c, const char *path)
{
    memset(c, 0, sizeof *c);
    char err[512];
    size_t len = 0;
    int has_opt = 0, n_extra = 0;
    char *meta = NULL;
    if (!(c->buf = aec_read_file(path, (size_t)1 << 30, &len, err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    if (aec_checkpoint_parse(c->buf, len, path, &c->model, &meta, &c->adam, &has_opt, c->extra,
                             &n_extra, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    free(meta);
    c->avgw = aec_chunk_find(c->extra, n_extra, "AVGW");
    c->ok = has_opt;
    if (!has_opt) aec_model_free(&c->model);
}

static void checkpoint_free(checkpoint *c)
{
    if (c->ok) {
        aec_model_free(&c->model);
        nn_adam_free(&c->adam);
    }
    free(c->buf);
}

/* the largest |a - b| over the largest |a|: 0 for the same floats */
static double relative_diff(const float *a, const float *b, size_t n)
{
    double d = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fabs((double)a[i] - b[i]);
        if (!(x <= d)) d = isnan(x) ? INFINITY : x;
        scale = fmax(scale, fabs(a[i]));
    }
    return d == 0 ? 0 : scale > 0 ? d / scale : INFINITY;
}

/* How far two runs' checkpoints are apart: the largest relative
 * difference (above) of the weights, Adam's first moment (the gradient's
 * running mean: a wrong sum shows there whatever Adam's normalisation
 * hides) and its second; *same_average whether their averages are the
 * same bytes. -1 when their steps differ or a file cannot be read. */
static double checkpoint_diff(const char *a_path, const char *b_path, int *same_average)
{
    checkpoint a, b;
    checkpoint_load(&a, a_path);
    checkpoint_load(&b, b_path);
    double d = -1;
    *same_average = 0;
    if (a.ok && b.ok && a.model.p.count == b.model.p.count && a.adam.step == b.adam.step &&
        a.avgw && b.avgw && a.avgw->len == b.avgw->len) {
        size_t n = a.model.p.count;
        d = fmax(relative_diff(a.model.p.value, b.model.p.value, n),
                 fmax(relative_diff(a.adam.m, b.adam.m, n), relative_diff(a.adam.v, b.adam.v, n)));
        *same_average = memcmp(a.avgw->data, b.avgw->data, a.avgw->len) == 0;
        if (getenv("AEC_TEST_VERBOSE"))
            fprintf(stderr, "%s vs %s: %g %g %g\n", a_path, b_path,
                    relative_diff(a.model.p.value, b.model.p.value, n),
                    relative_diff(a.adam.m, b.adam.m, n), relative_diff(a.adam.v, b.adam.v, n));
    }
    checkpoint_free(&a);
    checkpoint_free(&b);
    return d;
}

/* ---- the tests ----------------------------------------------------------------- */

/* checkpoint_diff of two runs' checkpoints, their averages left aside */
static double runs_diff(const char *a, const char *b)
{
    int same_average;
    return checkpoint_diff(a, b, &same_average);
}

/* ranks x workers against one process of as many workers, batch 6: the
 * same batch, the same noise, the gradients added in another order (and
 * a lone worker multiplies with OpenBLAS, workers of several with
 * nn_sgemm): within float tolerance of each other. Only rank 0 prints the
 * export. */
static void test_close_to_one_process(int ranks, int workers)
{
    char np[16], w[16], total[16], one[64], many[64], a[PATH_MAX + 16], b[PATH_MAX + 16];
    snprintf(np, sizeof np, "%d", ranks);
    snprintf(w, sizeof w, "%d", workers);
    snprintf(total, sizeof total, "%d", ranks * workers);
    snprintf(one, sizeof one, "one%dx%d.aecm", ranks, workers);
    snprintf(many, sizeof many, "ranks%dx%d.aecm", ranks, workers);
    snprintf(a, sizeof a, "%s", path_in(one));
    snprintf(b, sizeof b, "%s", path_in(many));
    CHECK(RUN(120, aec_bin, TRAIN, "-o", a, "--steps", "3", "--threads", total, "--workers", total) == 0,
          "one process of %d workers: %s", ranks * workers, err_text);
    CHECK(RUN(120, MPIRUN, "-np", np, aec_bin, TRAIN, "-o", b, "--steps", "3", "--threads", w,
              "--workers", w) == 0 && strstr(out_text, "gradient sum over"),
          "%d ranks of %d workers: %s %s", ranks, workers, out_text, err_text);
    const char *export = strstr(out_text, "exporting");
    CHECK(export && !strstr(export + 1, "exporting"), "rank 0 alone exports: %s", out_text);
    strcat(a, ".ckpt");
    strcat(b, ".ckpt");
    double d = runs_diff(a, b);
    CHECK(d >= 0 && d <= 1e-5, "%d x %d ranks vs 1 x %d workers: weights and moments %g apart "
          "(relative)", ranks, workers, ranks * workers, d);
}

/* The same ranks twice: the same floats (the sum's order is fixed) */
static void test_reproducible(void)
{
    const char *a = path_in("again1.aecm"), *b = path_in("again2.aecm");
    for (int k = 0; k < 2; k++)
        CHECK(RUN(120, MPIRUN, "-np", "3", aec_bin, TRAIN, "-o", k ? b : a, "--steps", "3", "--threads",
                  "1") == 0, "3 ranks, run %d: %s", k, err_text);
    int same_average;
    double d = checkpoint_diff(path_in("again1.aecm.ckpt"), path_in("again2.aecm.ckpt"), &same_average);
    CHECK(d == 0 && same_average, "3 ranks twice: the same floats (largest difference %g)", d);
}

/* --resume with another N: 2 ranks then 1 process, or 1 process then 2
 * ranks, continue the same run. */
static void test_resume_other_count(void)
{
    const char *a = path_in("ra.aecm"), *b = path_in("rb.aecm");
    const char *a_ckpt = path_in("ra.aecm.ckpt"), *b_ckpt = path_in("rb.aecm.ckpt");
    CHECK(RUN(120, MPIRUN, "-np", "2", aec_bin, TRAIN, "-o", a, "--steps", "2", "--threads", "2",
              "--workers", "2") == 0 &&
              RUN(120, aec_bin, TRAIN, "-o", a, "--resume", a_ckpt, "--steps", "4", "--threads", "4",
                  "--workers", "4") == 0,
          "2 ranks, then 1 process: %s", err_text);
    CHECK(RUN(120, aec_bin, TRAIN, "-o", b, "--steps", "2", "--threads", "4", "--workers", "4") == 0 &&
              RUN(120, MPIRUN, "-np", "2", aec_bin, TRAIN, "-o", b, "--resume", b_ckpt, "--steps", "4",
                  "--threads", "2", "--workers", "2") == 0 &&
              strstr(out_text, "start at step 2"),
          "1 process, then 2 ranks: %s %s", out_text, err_text);
    double d = runs_diff(a_ckpt, b_ckpt);
    CHECK(d >= 0 && d <= 1e-5, "the same run whichever took which half: weights and moments %g apart "
          "(relative)", d);
}

/* A rank that cannot read its images, or reads others, stops every rank
 * before training; no checkpoint. (mpirun's colon runs a second command
 * line as rank 1.) */
static void test_bad_data(void)
{
    const char *out = path_in("bad.aecm");
    int rc = RUN(60, MPIRUN, "-np", "1", aec_bin, TRAIN, "-o", out, "--steps", "2", ":", "-np", "1",
                 aec_bin, "train", "--data", path_in("missing"), "--n", "8", "--m", "12", "--patch",
                 "64", "--batch", "6", "-o", out, "--steps", "2");
    CHECK(rc == 1 && strstr(err_text, "rank 1 of 2: ") && strstr(err_text, "rank 1 of 2 could not read"),
          "rank 1 without images: every rank stops (exit %d): %s", rc, err_text);
    rc = RUN(60, MPIRUN, "-np", "1", aec_bin, TRAIN, "-o", out, "--steps", "2", ":", "-np", "1", aec_bin,
             "train", "--data", path_in("other"), "--n", "8", "--m", "12", "--patch", "64", "--batch",
             "6", "-o", out, "--steps", "2");
    CHECK(rc == 1 && strstr(err_text, "every rank must read the same images"),
          "rank 1 with other images: every rank stops (exit %d): %s", rc, err_text);
    CHECK(access(path_in("bad.aecm.ckpt"), F_OK) != 0, "no checkpoint written");
}

/* --time: rank 0's clock ends every rank after the same step; rank 0
 * alone prints the progress and the export. */
static void test_time_limit(void)
{
    const char *out = path_in("timed.aecm");
    int rc = RUN(120, MPIRUN, "-np", "2", aec_bin, TRAIN, "-o", out, "--time", "2s", "--threads", "1");
    const char *first = strstr(out_text, "exporting");
    CHECK(rc == 0 && first && !strstr(first + 1, "exporting") &&
              strstr(out_text, "aec train: 6 images") == strstr(out_text, "aec train: "),
          "--time 2s over 2 ranks ends (exit %d) with one export: %s %s", rc, out_text, err_text);
}

/* The pid of rank `rank` of a job whose command lines hold `marker`, or -1 */
static pid_t find_rank(const char *marker, int rank)
{
    char want[32];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *d = opendir("/proc");
    pid_t found = -1;
    for (struct dirent *e; d && found < 0 && (e = readdir(d));) {
        char path[300], buf[1 << 15];
        int pid = atoi(e->d_name);
        if (pid <= 0) continue;
        snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        int is_aec = 0;
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
            buf[n] = 0;
            if (strstr(buf + i, marker)) is_aec = 1;
        }
        if (!is_aec || strncmp(buf, "mpirun", 6) == 0) continue;
        snprintf(path, sizeof path, "/proc/%d/environ", pid);
        f = fopen(path, "rb");
        n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        buf[n] = 0;
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
            if (!strcmp(buf + i, want)) found = pid;
    }
    if (d) closedir(d);
    return found;
}

/* waits up to `seconds` for path to exist */
static int wait_for(const char *path, double seconds)
{
    for (double t = 0; t < seconds; t += 0.05) {
        if (access(path, F_OK) == 0) return 1;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return 0;
}

/* How a long run is cut short */
enum { KILL_RANK, MPIRUN_SIGINT, MPIRUN_SIGUSR1 };

/* A long run with a checkpoint after every step, ended by a rank's death
 * (SIGKILL), by mpirun's Ctrl-C (which kills the ranks a second or two
 * after) or by SIGUSR1 to mpirun (handed on to every rank at once): the
 * job ends, its checkpoint loads and no half-written file is left; after
 * SIGUSR1 every rank ends well and rank 0 has written the model. */
static void test_cut_short(int how)
{
    static const char *const names[3] = {"killed", "sigint", "sigusr1"};
    char name[64];
    snprintf(name, sizeof name, "%s.aecm", names[how]);
    const char *out = path_in(name);
    snprintf(name, sizeof name, "%s.aecm.ckpt", names[how]);
    const char *ckpt = path_in(name);
    pid_t job = start((const char *const[]){MPIRUN, "-np", "2", aec_bin, TRAIN, "-o", out, "--steps",
                                            "1000000", "--threads", "1", "--checkpoint-every", "0s",
                                            NULL});
    int started = wait_for(ckpt, 60);
    nanosleep(&(struct timespec){0, 300000000}, NULL);
    pid_t victim = how == KILL_RANK ? find_rank(out, 1) : job;
    CHECK(started && victim > 0, "%s: the run started (checkpoint %d, pid %d)", names[how], started,
          (int)victim);
    if (victim > 0) kill(victim, how == KILL_RANK ? SIGKILL : how == MPIRUN_SIGINT ? SIGINT : SIGUSR1);
    int rc = finish(job, 60);
    CHECK(rc != -2, "%s: the job ended (exit %d): %s", names[how], rc, err_text);
    if (how == KILL_RANK) CHECK(rc != 0, "a rank's death fails the job (exit %d)", rc);
    if (how == MPIRUN_SIGUSR1)
        CHECK(rc == 0 && strstr(out_text, "interrupted") && access(out, F_OK) == 0,
              "SIGUSR1: every rank ends well and the model is written (exit %d): %s", rc, out_text);
    checkpoint c;
    checkpoint_load(&c, ckpt);
    CHECK(c.ok && c.adam.step > 0, "%s: the last checkpoint loads (step %ld)", names[how],
          c.ok ? c.adam.step : -1L);
    checkpoint_free(&c);
    CHECK(!temporary_left(), "%s: no half-written file left", names[how]);
}

/* The gradient sum alone, under 1 to 4 ranks (tests/mpi_ranks.c) */
static void test_sum(void)
{
    for (int n = 1; n <= 4; n++) {
        char np[16];
        snprintf(np, sizeof np, "%d", n);
        int rc = RUN(60, MPIRUN, "-np", np, ranks_bin);
        CHECK(rc == 0 && strstr(out_text, " 0 failed"), "mpi_ranks on %d ranks (exit %d): %s %s", n, rc,
              out_text, err_text);
    }
}

/* ---- finding the programs ------------------------------------------------------ */

/* AEC_MPI_BIN, or ROOT/build/mpi/aec above this test binary; and
 * mpi_ranks beside it */
static int find_programs(void)
{
    const char *env = getenv("AEC_MPI_BIN");
    if (env && *env) snprintf(aec_bin, sizeof aec_bin, "%s", env);
    else {
        char here[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", here, sizeof here - 1);
        if (n <= 0) return -1;
        here[n] = 0;
        char *slash = strrchr(here, '/');           /* BUILD/tests/test_train_mpi */
        if (slash) *slash = 0;
        if ((slash = strrchr(here, '/'))) *slash = 0; /* BUILD */
        snprintf(aec_bin, sizeof aec_bin, "%s/mpi/aec", here);
    }
    snprintf(ranks_bin, sizeof ranks_bin, "%s", aec_bin);
    char *slash = strrchr(ranks_bin, '/');
    if (slash) snprintf(slash + 1, sizeof ranks_bin - (size_t)(slash + 1 - ranks_bin), "mpi_ranks");
    return access(aec_bin, X_OK) == 0 && access(ranks_bin, X_OK) == 0 ? 0 : -1;
}

static int have_mpirun(void)
{
    return system("command -v mpirun >/dev/null 2>&1") == 0;
}

int main(void)
{
    if (getenv("AEC_TEST_SANITIZED")) {
        printf("test_train_mpi: skipped under the sanitizers (it runs the -O2 programs)\n");
        return check_report("test_train_mpi");
    }
    if (!have_mpirun() || find_programs()) {
        printf("test_train_mpi: skipped: no Open MPI (mpirun, mpicc) or no MPI build of aec: "
               "apt-get install -y libopenmpi-dev openmpi-bin, then make test\n");
        return check_report("test_train_mpi");
    }
    /* mpirun refuses root without these; the sandboxes run as root */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    snprintf(tmp, sizeof tmp, "/tmp/aec_test_mpi_XXXXXX");
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return check_report("test_train_mpi");
    }
    mkdir(path_in("train"), 0777);
    mkdir(path_in("other"), 0777);
    for (int i = 0; i < 6; i++) {
        char name[64];
        snprintf(name, sizeof name, "train/s%d.png", i);
        write_image(path_in(name), 96 + 16 * i, 80 + 8 * i, (unsigned)i + 1);
        snprintf(name, sizeof name, "other/s%d.png", i);
        write_image(path_in(name), 96 + 16 * i, 80 + 8 * i, (unsigned)i + 101);
    }
    test_sum();
    test_close_to_one_process(2, 1);
    test_close_to_one_process(3, 1);
    test_close_to_one_process(2, 2);
    test_reproducible();
    test_resume_other_count();
    test_bad_data();
    test_time_limit();
    test_cut_short(KILL_RANK);
    test_cut_short(MPIRUN_SIGINT);
    test_cut_short(MPIRUN_SIGUSR1);
    remove_tree(tmp);
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    return check_report("test_train_mpi");
}
