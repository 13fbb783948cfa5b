/* tools/train/train_ranks.c - the ranks of a data-parallel training run (see
 * train_ranks.h): MPI when built with AEC_MPI (make MPI=1), otherwise one
 * rank and nothing to exchange. */
#include "tools/train/train_ranks.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AEC_MPI
#include <mpi.h>

int train_ranks_start(train_ranks *r)
{
    memset(r, 0, sizeof *r);
    /* only the main thread calls MPI, between the OpenMP regions */
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "aec train: MPI did not start\n");
        return -1;
    }
    r->started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r->size);
    return 0;
}

void train_ranks_end(train_ranks *r)
{
    if (r->started) MPI_Finalize();
    free(r->received);
    free(r->plan);
    memset(r, 0, sizeof *r);
}

void train_ranks_abort(const train_ranks *r, int code)
{
    if (r->started) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int train_ranks_gather(const train_ranks *r, const double *mine, int n, double *all)
{
    if (r->size == 1) {
        memcpy(all, mine, sizeof(double) * (size_t)n);
        return 0;
    }
    return MPI_Allgather(mine, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int train_ranks_broadcast(const train_ranks *r, void *data, size_t bytes)
{
    for (size_t done = 0; r->size > 1 && done < bytes;) {
        size_t part = bytes - done < (size_t)INT_MAX ? bytes - done : (size_t)INT_MAX;
        if (MPI_Bcast((char *)data + done, (int)part, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
            return -1;
        done += part;
    }
    return 0;
}

/* The slices of an n-float gradient: rank k adds up [offset[k], offset[k]
 * + count[k]); it receives its slice from every rank, rank j's at
 * received + j * its count. plan = count[size], offset[size], then the
 * receiving side's counts and offsets. */
int train_ranks_prepare(train_ranks *r, size_t n)
{
    const int N = r->size;
    if (N == 1) return 0;
    /* MPI counts and offsets are ints */
    if (n > (size_t)INT_MAX) return -1;
    if (!r->plan && !(r->plan = malloc(sizeof(int) * 4 * (size_t)N))) return -1;
    int *count = r->plan, *offset = count + N, *rcount = offset + N, *roffset = rcount + N;
    for (int k = 0; k < N; k++) {
        size_t begin = n * (size_t)k / (size_t)N, end = n * (size_t)(k + 1) / (size_t)N;
        offset[k] = (int)begin;
        count[k] = (int)(end - begin);
    }
    const int mine = count[r->rank];
    for (int k = 0; k < N; k++) {
        rcount[k] = mine;
        roffset[k] = k * mine;
    }
    size_t need = (size_t)mine * (size_t)N;
    if (need > r->received_count) {
        free(r->received);
        r->received_count = 0;
        if (!(r->received = malloc(sizeof(float) * need))) return -1;
        r->received_count = need;
    }
    r->planned_count = n;
    return 0;
}

int train_ranks_sum_gradient(train_ranks *r, float *g, size_t n)
{
    if (r->size == 1) return 0;
    double t0 = MPI_Wtime();
    if (r->planned_count != n && train_ranks_prepare(r, n)) return -1;
    const int N = r->size;
    int *count = r->plan, *offset = count + N, *rcount = offset + N, *roffset = rcount + N;
    if (MPI_Alltoallv(g, count, offset, MPI_FLOAT, r->received, rcount, roffset, MPI_FLOAT,
                      MPI_COMM_WORLD) != MPI_SUCCESS)
        return -1;
    const int mine = count[r->rank];
    const float *in = r->received;
    float *out = g + offset[r->rank];
#pragma omp parallel for schedule(static)
    for (int i = 0; i < mine; i++) {
        double s = 0;
        for (int k = 0; k < N; k++) s += in[(size_t)k * (size_t)mine + (size_t)i];
        out[i] = (float)s;
    }
    if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, g, count, offset, MPI_FLOAT,
                       MPI_COMM_WORLD) != MPI_SUCCESS)
        return -1;
    r->sum_seconds += MPI_Wtime() - t0;
    r->sums++;
    return 0;
}

#else /* one process, no MPI */

int train_ranks_start(train_ranks *r)
{
    memset(r, 0, sizeof *r);
    r->size = 1;
    return 0;
}

void train_ranks_end(train_ranks *r) { memset(r, 0, sizeof *r); }

void train_ranks_abort(const train_ranks *r, int code)
{
    (void)r;
    exit(code);
}

int train_ranks_gather(const train_ranks *r, const double *mine, int n, double *all)
{
    (void)r;
    memcpy(all, mine, sizeof(double) * (size_t)n);
    return 0;
}

int train_ranks_broadcast(const train_ranks *r, void *data, size_t bytes)
{
    (void)r; (void)data; (void)bytes;
    return 0;
}

int train_ranks_prepare(train_ranks *r, size_t n)
{
    (void)r; (void)n;
    return 0;
}

int train_ranks_sum_gradient(train_ranks *r, float *g, size_t n)
{
    (void)r; (void)g; (void)n;
    return 0;
}

#endif
