/* tests/small_model.h - a freshly initialised model of the given sizes
 * (default architecture otherwise), for the tests of the model and its
 * file. Header-only: each test file is linked on its own. */
#ifndef TESTS_SMALL_MODEL_H
#define TESTS_SMALL_MODEL_H

#include <stdint.h>

#include "codec/model.h"
#include "tools/train/model_train.h"

/* 0, or -1 when aec_model_create fails */
static inline int small_model_create(aec_model *m, int n, int mm, int levels, uint64_t seed)
{
    aec_arch arch;
    aec_arch_default(&arch);
    arch.n = n;
    arch.m = mm;
    arch.levels = levels;
    if (aec_model_create(m, &arch)) return -1;
    aec_model_init(m, seed);
    return 0;
}

#endif
