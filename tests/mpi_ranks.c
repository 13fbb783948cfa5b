/* tests/mpi_ranks.c - tools/train/train_ranks.c under MPI, run by test_train_mpi
 * as `mpirun -np N $(BUILD)/mpi/mpi_ranks` for N = 1..4 (built with
 * mpicc; not a test_*.c, which build without MPI).
 *
 * The gradient sum must be the sum of every rank's vector rounded once to
 * float, the same floats on every rank whatever N: the ranks' values are
 * chosen so that adding them in float, in any order, rounds differently
 * (1 plus several halves of its last bit), while their sum in double is
 * exact. A rank added twice, or left out, or a sum that is not divided up
 * as planned, fails. Gather and broadcast are checked too. Rank 0 prints
 * the checks of all ranks: "mpi_ranks: N passed, N failed". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/crc32.h"
#include "tests/check.h"
#include "tools/train/train_ranks.h"

/* rank k's element i: rank 0 about 1, the others about half the last bit
 * of 1 in float, exactly */
static float value(int rank, size_t i)
{
    if (rank == 0) return 1.0f + (float)(i % 5) * 0x1p-20f;
    return (float)(1 + (i + (size_t)rank) % 3) * 0x1p-25f;
}

static void test_sum(train_ranks *r, size_t n)
{
    float *g = malloc(n * sizeof(float));
    CHECK(g != NULL, "memory");
    if (!g) return;
    for (size_t i = 0; i < n; i++) g[i] = value(r->rank, i);
    long sums = r->sums;
    CHECK(train_ranks_sum_gradient(r, g, n) == 0, "sum of %zu floats", n);
    size_t wrong = 0, first = n;
    for (size_t i = 0; i < n; i++) {
        double exact = 0;
        for (int k = 0; k < r->size; k++) exact += value(k, i);
        if (g[i] != (float)exact && wrong++ == 0) first = i;
    }
    CHECK(wrong == 0, "rank %d: %zu of %zu sums not the exact sum rounded once (first [%zu] = %.9g)",
          r->rank, wrong, n, first, first < n ? g[first] : 0.0);
    CHECK(r->size == 1 || r->sums == sums + 1, "the sum timed (%ld calls)", r->sums);
    /* every rank holds the same floats */
    double crc = nn_crc32(0, g, n * sizeof(float)), *all = malloc(sizeof(double) * (size_t)r->size);
    CHECK(all && train_ranks_gather(r, &crc, 1, all) == 0, "gather");
    for (int k = 0; all && k < r->size; k++)
        CHECK(all[k] == crc, "rank %d's sum is rank %d's", k, r->rank);
    free(all);
    free(g);
}

static void test_gather_broadcast(train_ranks *r)
{
    double mine[2] = {r->rank, 10.0 * r->rank + 1}, *all = malloc(sizeof(double) * 2 * (size_t)r->size);
    CHECK(all && train_ranks_gather(r, mine, 2, all) == 0, "gather");
    for (int k = 0; all && k < r->size; k++)
        CHECK(all[2 * k] == k && all[2 * k + 1] == 10.0 * k + 1, "rank %d's values at %d", k, 2 * k);
    free(all);
    unsigned char bytes[1000];
    for (int i = 0; i < 1000; i++) bytes[i] = (unsigned char)(r->rank == 0 ? i * 7 + 3 : 0);
    CHECK(train_ranks_broadcast(r, bytes, sizeof bytes) == 0, "broadcast");
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= bytes[i] == (unsigned char)(i * 7 + 3);
    CHECK(same, "rank %d holds rank 0's bytes", r->rank);
}

int main(void)
{
    train_ranks r;
    if (train_ranks_start(&r)) return 1;
    CHECK(r.size >= 1 && r.rank >= 0 && r.rank < r.size, "rank %d of %d", r.rank, r.size);
    test_gather_broadcast(&r);
    /* prepared, then other sizes: slices made again; fewer floats than ranks */
    CHECK(train_ranks_prepare(&r, 1000003) == 0, "prepare");
    test_sum(&r, 1000003);
    test_sum(&r, 17);
    test_sum(&r, 3);
    test_sum(&r, 1000003);
    /* every rank's counts, reported by rank 0 */
    double mine[2] = {check_passed, check_failed}, *all = malloc(sizeof(double) * 2 * (size_t)r.size);
    int failed = 1;
    if (all && train_ranks_gather(&r, mine, 2, all) == 0) {
        double passed = 0, total_failed = 0;
        for (int k = 0; k < r.size; k++) {
            passed += all[2 * k];
            total_failed += all[2 * k + 1];
        }
        if (r.rank == 0) printf("mpi_ranks: %.0f passed, %.0f failed\n", passed, total_failed);
        failed = total_failed > 0;
    }
    free(all);
    train_ranks_end(&r);
    return failed;
}
