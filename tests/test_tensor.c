/* Checks of the small building blocks: tensors, workspaces, parameter
 * declaration and the random generator. */
#include <string.h>

#include "nn/params.h"
#include "nn/rng.h"
#include "nn/tensor.h"
#include "tests/check.h"

int main(void)
{
    nn_tensor t = {0};
    CHECK(nn_tensor_alloc(&t, 2, 3, 4, 5) == 0, "alloc");
    CHECK(nn_tensor_numel(&t) == 120, "numel");
    float s = 0;
    for (size_t i = 0; i < nn_tensor_numel(&t); i++) s += t.data[i];
    CHECK(s == 0.0f, "zeroed");
    CHECK(nn_tensor_resize(&t, 1, 1, 2, 2) == 0 && t.h == 2 && t.c == 1, "shrink keeps shape");
    CHECK(nn_tensor_resize(&t, 4, 4, 8, 8) == 0 && nn_tensor_numel(&t) == 1024, "grow");
    nn_tensor_free(&t);
    CHECK(t.data == NULL, "free empties");

    /* a copy: shape and values, into an empty tensor and over a bigger one */
    nn_tensor src = {0}, dst = {0};
    CHECK(nn_tensor_alloc(&src, 1, 2, 3, 4) == 0, "alloc src");
    for (size_t i = 0; i < nn_tensor_numel(&src); i++) src.data[i] = (float)i * 0.5f;
    for (int rep = 0; rep < 2; rep++) {
        if (rep) CHECK(nn_tensor_resize(&dst, 2, 5, 6, 7) == 0, "grow dst");
        CHECK(nn_tensor_copy(&dst, &src) == 0 && dst.n == 1 && dst.c == 2 && dst.h == 3 && dst.w == 4 &&
                  memcmp(dst.data, src.data, nn_tensor_numel(&src) * sizeof(float)) == 0,
              "copy %d", rep);
    }
    nn_tensor_free(&src);
    nn_tensor_free(&dst);

    nn_params p;
    nn_params_init(&p);
    size_t a = nn_params_declare(&p, "a.weight", 3, 2, 1, 1);
    size_t b = nn_params_declare(&p, "b.bias", 5, 1, 1, 1);
    CHECK(a == 0 && b == 16, "offsets aligned to 16 floats: %zu %zu", a, b);
    CHECK(nn_params_declare(&p, "a.weight", 1, 1, 1, 1) == (size_t)-1, "duplicate name refused");
    CHECK(nn_params_declare(&p, "zero", 0, 1, 1, 1) == (size_t)-1, "empty block refused");
    CHECK(nn_params_alloc(&p) == 0 && p.count == 21, "alloc %zu", p.count);
    CHECK(nn_params_declare(&p, "late", 1, 1, 1, 1) == (size_t)-1, "declare after alloc refused");
    const nn_param_entry *e = nn_params_find(&p, "b.bias");
    CHECK(e && e->count == 5 && e->shape[0] == 5, "find");
    nn_params_free(&p);

    nn_rng r1, r2;
    nn_rng_seed(&r1, 42);
    nn_rng_seed(&r2, 42);
    int same = 1;
    double mean = 0, var = 0;
    int in_range = 1;
    for (int i = 0; i < 100000; i++) {
        float u = nn_rng_uniform(&r1);
        same &= u == nn_rng_uniform(&r2);
        in_range &= u >= 0.0f && u < 1.0f;
        mean += u;
    }
    CHECK(in_range, "uniform in [0, 1)");
    CHECK(same, "same seed, same stream");
    CHECK(fabs(mean / 100000 - 0.5) < 0.01, "uniform mean %g", mean / 100000);
    mean = 0;
    for (int i = 0; i < 100000; i++) {
        float z = nn_rng_normal(&r1);
        mean += z;
        var += z * z;
    }
    CHECK(fabs(mean / 100000) < 0.02 && fabs(var / 100000 - 1) < 0.03, "normal moments");
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) counts[nn_rng_below(&r1, 7)]++;
    for (int i = 0; i < 7; i++) CHECK(counts[i] > 9500 && counts[i] < 10500, "below(7) bucket %d: %d", i, counts[i]);

    nn_workspace ws = {0};
    float *w = nn_workspace_get(&ws, 1000);
    CHECK(w && ((uintptr_t)w & 63) == 0, "workspace aligned");
    nn_workspace_free(&ws);
    return check_report("test_tensor");
}
