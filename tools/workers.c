/* tools/workers.c - the worker processes (workers.h). */
#include "tools/workers.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* what goes up a worker's pipe: a header, then len bytes */
enum { MSG_DATA, MSG_DONE, MSG_READY };
typedef struct {
    int32_t job, kind;
    uint32_t len;
} msg_header;

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* the job a worker is on, for the messages it sends */
static int32_t current_job = -1;

int workers_send(int fd, const void *data, size_t len)
{
    msg_header h = {current_job, MSG_DATA, (uint32_t)len};
    return len > UINT32_MAX || write_all(fd, &h, sizeof h) || write_all(fd, data, len) ? -1 : 0;
}

typedef struct {
    pid_t pid;             /* 0: none */
    int task_fd, result_fd; /* the parent's ends */
    int job;               /* the job it is on, -1 when idle */
    int ready;             /* past its start: takes jobs */
    int ended;             /* it ended in its start: not replaced */
} worker;

static void worker_main(const workers_spec *s, int k, int task_fd, int result_fd)
{
    if (s->start && s->start(s->ctx, k, result_fd)) _exit(0);
    msg_header ready = {-1, MSG_READY, 0};
    if (write_all(result_fd, &ready, sizeof ready)) _exit(0);
    int32_t job;
    while (read_all(task_fd, &job, sizeof job) == 0 && job >= 0 && job < s->n_jobs) {
        current_job = job;
        int rc = s->run(s->ctx, job, result_fd);
        msg_header h = {job, MSG_DONE, 0};
        if (write_all(result_fd, &h, sizeof h) || rc) break;
    }
    _exit(0);
}

static int start_worker(const workers_spec *s, worker *ws, int k)
{
    int task[2], result[2];
    if (pipe(task) != 0) return -1;
    if (pipe(result) != 0) {
        close(task[0]);
        close(task[1]);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(task[0]);
        close(task[1]);
        close(result[0]);
        close(result[1]);
        return -1;
    }
    if (pid == 0) {
        /* the other workers' pipes must close when they do, not stay open here */
        for (int j = 0; j < s->n_workers; j++)
            if (j != k && ws[j].pid > 0) {
                close(ws[j].task_fd);
                close(ws[j].result_fd);
            }
        close(task[1]);
        close(result[0]);
        worker_main(s, k, task[0], result[1]);
    }
    close(task[0]);
    close(result[1]);
    ws[k].pid = pid;
    ws[k].task_fd = task[1];
    ws[k].result_fd = result[0];
    ws[k].job = -1;
    ws[k].ready = 0;
    return 0;
}

/* Worker k has ended (its pipe closed): waits for it, and a job it was on
 * is lost. */
static void reap(const workers_spec *s, worker *w)
{
    int status = 0;
    close(w->task_fd);
    close(w->result_fd);
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {}
    w->pid = 0;
    if (w->job >= 0) {
        if (s->done) s->done(s->ctx, w->job, 1, status);
        w->job = -1;
    }
    if (!w->ready) w->ended = 1; /* in its start: another would too */
}

/* Reads one message from w: 0, or -1 when w has ended (reaped). */
static int read_message(const workers_spec *s, worker *w, int *stop)
{
    msg_header h;
    if (read_all(w->result_fd, &h, sizeof h)) {
        reap(s, w);
        return -1;
    }
    if (h.kind == MSG_READY) {
        w->ready = 1;
        return 0;
    }
    if (h.kind == MSG_DONE) {
        if (s->done && w->job >= 0) s->done(s->ctx, w->job, 0, 0);
        w->job = -1;
        return 0;
    }
    char *data = h.len ? malloc(h.len) : NULL;
    if (h.len && !data) {
        /* out of memory: the message is drained and the worker stopped */
        char sink[4096];
        for (uint32_t left = h.len; left > 0;) {
            size_t n = left < sizeof sink ? left : sizeof sink;
            if (read_all(w->result_fd, sink, n)) break;
            left -= (uint32_t)n;
        }
        kill(w->pid, SIGKILL);
        return 0;
    }
    if (h.len && read_all(w->result_fd, data, h.len)) {
        free(data);
        reap(s, w);
        return -1;
    }
    if (s->got(s->ctx, h.job, data, h.len)) *stop = 1;
    free(data);
    return 0;
}

int workers_run(const workers_spec *s)
{
    const int nw = s->n_workers;
    worker *ws = calloc((size_t)nw, sizeof *ws);
    struct pollfd *pf = calloc((size_t)nw + 1, sizeof *pf);
    int *who = calloc((size_t)nw + 1, sizeof *who);
    pid_t *pids = calloc((size_t)nw, sizeof *pids);
    if (!ws || !pf || !who || !pids) {
        free(ws);
        free(pf);
        free(who);
        free(pids);
        if (s->cmd) fprintf(stderr, "%s: out of memory\n", s->cmd);
        return 0;
    }
    /* a worker that dies must not take the parent with it through SIGPIPE */
    struct sigaction ign, old_pipe;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe);

    int next = 0, stop = 0;
    for (;;) {
        /* keep every worker busy; replace those that died in a job */
        for (int k = 0; k < nw && next < s->n_jobs && !stop; k++) {
            if (!ws[k].pid && !ws[k].ended && start_worker(s, ws, k)) {
                if (s->cmd) fprintf(stderr, "%s: cannot start a worker: %s\n", s->cmd, strerror(errno));
                ws[k].ended = 1;
                continue;
            }
            if (ws[k].pid && ws[k].ready && ws[k].job < 0) {
                int32_t j = next;
                if (write_all(ws[k].task_fd, &j, sizeof j) == 0) {
                    ws[k].job = next++;
                }
            }
        }
        int n = 0, busy = 0, alive = 0;
        for (int k = 0; k < nw; k++) {
            if (!ws[k].pid) continue;
            pids[alive++] = ws[k].pid;
            busy += ws[k].job >= 0;
            pf[n].fd = ws[k].result_fd;
            pf[n].events = POLLIN;
            who[n++] = k;
        }
        /* done when no job is out and no more can be handed out (a worker
         * still starting may yet take them) */
        int starting = alive - busy;
        for (int k = 0; k < nw; k++) starting -= ws[k].pid && ws[k].ready && ws[k].job < 0;
        if (!busy && !starting && (next >= s->n_jobs || stop || !alive)) break;
        if (s->watch_fd >= 0) {
            pf[n].fd = s->watch_fd;
            pf[n].events = POLLIN;
            who[n++] = -1;
        }
        if (poll(pf, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int p = 0; p < n; p++) {
            if (!(pf[p].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (who[p] < 0) s->watched(s->ctx, pids, alive);
            else read_message(s, &ws[who[p]], &stop);
        }
    }
    /* the idle workers end when their task pipe closes */
    for (int k = 0; k < nw; k++)
        if (ws[k].pid) {
            close(ws[k].task_fd);
            ws[k].task_fd = -1;
        }
    for (int k = 0; k < nw; k++)
        if (ws[k].pid) {
            int status;
            close(ws[k].result_fd);
            while (waitpid(ws[k].pid, &status, 0) < 0 && errno == EINTR) {}
        }
    sigaction(SIGPIPE, &old_pipe, NULL);
    free(ws);
    free(pf);
    free(who);
    free(pids);
    return next;
}
