/* tools/workers.h - jobs run in worker processes: the one pool of
 * `aec encode -j`, `aec decode -j` and `aec bench -j`. Each worker is a
 * fork of the program, with its own copy of everything (the codec's
 * scratch, OpenBLAS, OpenMP); the parent hands the jobs out in order, one
 * at a time, to whichever worker is free, and reads back what each job
 * sends. A worker that dies in a job loses that job (the parent is told)
 * and a new one takes its place. */
#ifndef AEC_WORKERS_H
#define AEC_WORKERS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    int n_jobs, n_workers;
    void *ctx;
    /* In a worker, once, before its first job (NULL: nothing to do): 0, or
     * -1 to end the worker (after sending why: a worker that ends in its
     * start is not replaced). */
    int (*start)(void *ctx, int worker, int fd);
    /* In a worker: job, its results sent with workers_send(fd, ...); 0, or
     * -1 to end the worker after it (its job counts as done). */
    int (*run)(void *ctx, int job, int fd);
    /* In the parent: a message from a worker, about job (-1: from its
     * start). 1 stops handing out jobs (the workers finish the ones they
     * have), else 0. */
    int (*got)(void *ctx, int job, const void *data, size_t len);
    /* In the parent: job is done, or lost (its worker ended in it, with
     * status as waitpid gives it). NULL: nothing to do. */
    void (*done)(void *ctx, int job, int lost, int status);
    /* A further file descriptor the parent watches (-1: none), and what it
     * does when that is readable, given the workers' pids (0 for none). */
    int watch_fd;
    void (*watched)(void *ctx, const pid_t *pid, int n);
    /* "aec bench": a worker that cannot be started is said so on stderr;
     * NULL: silently */
    const char *cmd;
} workers_spec;

/* Sends one message up fd, whole. 0, or -1 when the parent is gone. */
int workers_send(int fd, const void *data, size_t len);

/* Runs the jobs; returns how many were handed out: the first ones, all of
 * them unless no worker could be started (or got stopped it). */
int workers_run(const workers_spec *s);

#endif
