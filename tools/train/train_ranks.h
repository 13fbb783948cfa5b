/* tools/train/train_ranks.h - the processes of one data-parallel `aec train`
 * run: the ranks of an MPI job (`mpirun -np N bin/aec train ...`, built
 * with make MPI=1, which defines AEC_MPI), or the one process of a run
 * without MPI, for which every call below is nothing or a copy.
 *
 * Every rank draws the same global batch and computes the gradient of its
 * share; train_ranks_sum_gradient adds the shares up so that every rank
 * holds the same sum and takes the same Adam step. The small exchanges
 * (train_ranks_gather) are how the ranks agree: on starting, on stopping,
 * on the step's time and statistics. Everything is collective: every rank
 * makes the same calls in the same order, or the run hangs.
 *
 * Only this file's .c knows MPI: the libraries, aecd and an aec built
 * without MPI=1 never link it. */
#ifndef AEC_TRAIN_RANKS_H
#define AEC_TRAIN_RANKS_H

#include <stddef.h>

typedef struct {
    int rank, size;        /* this process's rank and the number of ranks (0 and 1 without MPI) */
    int started;           /* MPI_Init was called (and MPI_Finalize is due) */
    float *received;       /* the gradient sum's receive buffer */
    size_t received_count; /* its size in floats */
    int *plan;             /* the gradient's slices: 4 x size ints (train_ranks.c) */
    size_t planned_count;  /* the gradient size plan was made for; 0: none yet */
    double sum_seconds;    /* time spent in train_ranks_sum_gradient, all calls */
    long sums;             /* its number of calls */
} train_ranks;

/* Joins the job (MPI_Init), or makes the one rank of a run without MPI.
 * 0, or -1 (MPI would not start: said on stderr). */
int train_ranks_start(train_ranks *r);
/* Leaves the job (MPI_Finalize) and frees the buffers. */
void train_ranks_end(train_ranks *r);
/* Ends every rank of the job now (MPI_Abort), for a failure after which
 * the ranks can no longer agree; exit(code) without MPI. */
void train_ranks_abort(const train_ranks *r, int code);

/* all[k * n + i] = rank k's mine[i]: every rank gets every rank's n
 * values, so each can combine them the same way. 0, or -1. */
int train_ranks_gather(const train_ranks *r, const double *mine, int n, double *all);
/* bytes from rank 0 to every rank (in place). 0, or -1. */
int train_ranks_broadcast(const train_ranks *r, void *data, size_t bytes);

/* The gradient sum's buffers, for n floats (about n floats more), made
 * before training so that a rank out of memory says so while the ranks
 * can still agree to stop. 0, or -1 (out of memory, n above INT_MAX). */
int train_ranks_prepare(train_ranks *r, size_t n);
/* g[0..n) := the sum over ranks of every rank's g, the same floats on
 * every rank. Each rank adds up one slice of the vector (the ranks'
 * values exchanged with MPI_Alltoallv), in rank order and in double, then
 * the slices go round (MPI_Allgatherv): a fixed order, whatever MPI's
 * reduction algorithm would pick, so a run is reproducible, and the sum
 * rounded once to float, so it hardly depends on the number of ranks (two
 * ranks give exactly the float sum a + b). The traffic is that of a ring
 * allreduce: each rank sends and receives (N-1)/N of the vector twice.
 * Times itself into sum_seconds. 0, or -1 (not prepared for n floats and
 * out of memory now): the ranks can no longer agree; train_ranks_abort.
 * MPI's own failures (a rank died) end the job in MPI. */
int train_ranks_sum_gradient(train_ranks *r, float *g, size_t n);

#endif
