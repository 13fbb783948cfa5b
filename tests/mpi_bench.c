/* tests/mpi_bench.c - the gradient sum of aec train over MPI, timed:
 * train_ranks_sum_gradient (MPI_Alltoallv, each rank's slice added up in
 * rank order in double, MPI_Allgatherv) against MPI_Allreduce of the same
 * floats (MPI_SUM in float, in an order Open MPI picks) and of them as
 * doubles. Each call starts after a barrier, so waiting for a late rank is
 * not counted; the median and the fastest of 15 after 3 warm-ups.
 *
 *   mpirun -np N build/mpi/mpi_bench [FLOATS]
 *
 * FLOATS defaults to 7,000,000, about the default model's gradient
 * (N=128, M=192). Built by make bench-mpi (mpicc; not a bench_*.c, which
 * make bench builds without MPI). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/train/train_ranks.h"

#define WARMUP 3
#define REPS 15

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { ORDERED, ALLREDUCE_FLOAT, ALLREDUCE_DOUBLE, METHODS };
static const char *const names[METHODS] = {
    "train_ranks_sum_gradient (ordered, double, floats sent)",
    "MPI_Allreduce, floats",
    "MPI_Allreduce, doubles",
};

/* one call of method m on g (n floats; d: n doubles of scratch); seconds */
static double time_one(train_ranks *r, int m, float *g, double *d, size_t n)
{
    for (size_t i = 0; i < n; i++) g[i] = (float)((i + (size_t)r->rank) % 7) * 0.25f;
    if (m == ALLREDUCE_DOUBLE)
        for (size_t i = 0; i < n; i++) d[i] = g[i];
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (m == ORDERED) train_ranks_sum_gradient(r, g, n);
    else if (m == ALLREDUCE_FLOAT) MPI_Allreduce(MPI_IN_PLACE, g, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    else {
        MPI_Allreduce(MPI_IN_PLACE, d, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        for (size_t i = 0; i < n; i++) g[i] = (float)d[i];
    }
    return MPI_Wtime() - t0;
}

int main(int argc, char **argv)
{
    train_ranks r;
    if (train_ranks_start(&r)) return 1;
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 7000000;
    float *g = malloc(n * sizeof(float));
    double *d = malloc(n * sizeof(double));
    int ok = g && d && train_ranks_prepare(&r, n) == 0;
    if (!ok) {
        fprintf(stderr, "mpi_bench: out of memory\n");
        train_ranks_abort(&r, 3);
    }
    if (r.rank == 0)
        printf("== gradient sum of %zu floats (%.1f MB) over %d ranks: median (fastest) of %d\n", n,
               n * 4.0 / 1e6, r.size, REPS);
    for (int m = 0; m < METHODS; m++) {
        double t[REPS];
        for (int k = 0; k < WARMUP; k++) time_one(&r, m, g, d, n);
        for (int k = 0; k < REPS; k++) t[k] = time_one(&r, m, g, d, n);
        qsort(t, REPS, sizeof t[0], by_value);
        if (r.rank == 0) printf("%-58s %8.1f ms (%.1f)\n", names[m], 1e3 * t[REPS / 2], 1e3 * t[0]);
    }
    free(g);
    free(d);
    train_ranks_end(&r);
    return 0;
}
