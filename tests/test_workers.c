/* tests/test_workers.c - the worker processes of aec encode/decode -j and
 * aec bench -j (tools/workers.h): every job run once, its messages back to
 * the parent; a worker killed in a job loses that job alone and is
 * replaced; a worker whose start fails is not; a stop from the parent ends
 * the handing out; the watched descriptor is watched. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"
#include "tools/workers.h"

#define JOBS 12

typedef struct {
    int kill_job;      /* the job whose worker kills itself (-1: none) */
    int fail_start;    /* every worker's start fails */
    int stop_at;       /* the job whose message stops the handing out (-1: none) */
    int watch_fd;
    /* the parent's view */
    int value[JOBS], messages[JOBS], done[JOBS], lost[JOBS], lost_status[JOBS];
    int starts, start_messages, watched, watched_pids;
} test_ctx;

static int t_start(void *ctx, int w, int fd)
{
    test_ctx *t = ctx;
    char msg[32];
    snprintf(msg, sizeof msg, "start %d", w);
    if (workers_send(fd, msg, strlen(msg))) return -1;
    return t->fail_start ? -1 : 0;
}

static int t_run(void *ctx, int job, int fd)
{
    test_ctx *t = ctx;
    if (job == t->kill_job) raise(SIGKILL);
    int32_t v[2] = {job, job * job};
    return workers_send(fd, v, sizeof v);
}

static int t_got(void *ctx, int job, const void *data, size_t len)
{
    test_ctx *t = ctx;
    if (job < 0) {
        t->start_messages += len >= 6 && !memcmp(data, "start ", 6);
        return 0;
    }
    int32_t v[2];
    if (job >= JOBS || len != sizeof v) return 0;
    memcpy(v, data, sizeof v);
    if (v[0] == job) t->value[job] = v[1];
    t->messages[job]++;
    return job == t->stop_at;
}

static void t_done(void *ctx, int job, int lost, int status)
{
    test_ctx *t = ctx;
    if (job < 0 || job >= JOBS) return;
    t->done[job]++;
    t->lost[job] = lost;
    t->lost_status[job] = status;
}

static void t_watched(void *ctx, const pid_t *pid, int n)
{
    test_ctx *t = ctx;
    char c;
    if (read(t->watch_fd, &c, 1) == 1) t->watched++;
    int live = 0;
    for (int i = 0; i < n; i++) live += pid[i] > 0;
    t->watched_pids = live;
}

static int run(test_ctx *t, int workers, int n_jobs)
{
    workers_spec s = {n_jobs, workers, t, t_start, t_run, t_got, t_done, t->watch_fd,
                      t->watch_fd >= 0 ? t_watched : NULL, NULL};
    return workers_run(&s);
}

static test_ctx fresh(void)
{
    test_ctx t;
    memset(&t, 0, sizeof t);
    t.kill_job = -1;
    t.stop_at = -1;
    t.watch_fd = -1;
    return t;
}

int main(void)
{
    /* every job once, its result back; one start per worker */
    test_ctx t = fresh();
    CHECK(run(&t, 3, JOBS) == JOBS, "all jobs handed out");
    int ok = 1;
    for (int j = 0; j < JOBS; j++)
        ok &= t.value[j] == j * j && t.messages[j] == 1 && t.done[j] == 1 && !t.lost[j];
    CHECK(ok, "every job run once, its message back, done once");
    CHECK(t.start_messages == 3, "three workers started: %d", t.start_messages);

    /* one worker: the same */
    t = fresh();
    CHECK(run(&t, 1, JOBS) == JOBS, "one worker: all jobs");
    ok = 1;
    for (int j = 0; j < JOBS; j++) ok &= t.value[j] == j * j && t.done[j] == 1;
    CHECK(ok && t.start_messages == 1, "one worker runs them all");

    /* a worker killed in job 5: that job lost, with the signal; the rest run */
    t = fresh();
    t.kill_job = 5;
    CHECK(run(&t, 2, JOBS) == JOBS, "killed worker: all jobs handed out");
    CHECK(t.done[5] == 1 && t.lost[5] && WIFSIGNALED(t.lost_status[5]) &&
              WTERMSIG(t.lost_status[5]) == SIGKILL && t.messages[5] == 0,
          "job 5 lost to SIGKILL");
    ok = 1;
    for (int j = 0; j < JOBS; j++)
        if (j != 5) ok &= t.value[j] == j * j && t.done[j] == 1 && !t.lost[j];
    CHECK(ok, "the other jobs all ran");
    /* whether it is replaced here depends on timing: the other worker may
     * run jobs 6-11 before the kill is seen, and then none is needed */
    CHECK(t.start_messages == 2 || t.start_messages == 3, "2 or 3 starts: %d", t.start_messages);

    /* one worker killed in job 5: jobs 6-11 are still to run, so it must
     * be replaced (with one worker the parent waits on it: no race) */
    t = fresh();
    t.kill_job = 5;
    CHECK(run(&t, 1, JOBS) == JOBS, "killed lone worker: all jobs handed out");
    ok = t.done[5] == 1 && t.lost[5];
    for (int j = 0; j < JOBS; j++)
        if (j != 5) ok &= t.value[j] == j * j && t.done[j] == 1 && !t.lost[j];
    CHECK(ok, "job 5 lost, the rest ran");
    CHECK(t.start_messages == 2, "the killed worker was replaced: %d starts", t.start_messages);

    /* every start fails: no job is handed out, no worker replaced */
    t = fresh();
    t.fail_start = 1;
    CHECK(run(&t, 2, JOBS) == 0, "failed starts: no job handed out");
    CHECK(t.start_messages == 2, "each worker said why, once: %d", t.start_messages);
    ok = 1;
    for (int j = 0; j < JOBS; j++) ok &= t.done[j] == 0;
    CHECK(ok, "no job done");

    /* a stop after job 2's message, one worker: the jobs after it wait */
    t = fresh();
    t.stop_at = 2;
    int handed = run(&t, 1, JOBS);
    CHECK(handed == 3, "stopped after job 2: %d handed out", handed);
    CHECK(t.done[0] == 1 && t.done[1] == 1 && t.done[2] == 1 && t.done[3] == 0,
          "the jobs before the stop done, none after");

    /* the watched descriptor, readable from the start */
    int p[2];
    if (pipe(p)) abort();
    t = fresh();
    t.watch_fd = p[0];
    if (write(p[1], "x", 1) != 1) abort();
    CHECK(run(&t, 2, JOBS) == JOBS, "watched: all jobs");
    CHECK(t.watched == 1, "the watched descriptor seen once: %d", t.watched);
    CHECK(t.watched_pids >= 1, "with the workers' pids: %d", t.watched_pids);
    close(p[0]);
    close(p[1]);

    /* no jobs: nothing started */
    t = fresh();
    CHECK(run(&t, 3, 0) == 0 && t.start_messages == 0, "no jobs: no worker");
    return check_report("test_workers");
}
