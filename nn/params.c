#include "nn/params.h"

#include <stdlib.h>
#include <string.h>

void nn_params_init(nn_params *p)
{
    memset(p, 0, sizeof *p);
}

size_t nn_params_declare(nn_params *p, const char *name, int d0, int d1, int d2, int d3)
{
    if (p->value || strlen(name) >= NN_PARAM_NAME_MAX || nn_params_find(p, name))
        return (size_t)-1;
    if (d0 < 1 || d1 < 1 || d2 < 1 || d3 < 1) return (size_t)-1;
    if (p->n_entries == p->cap_entries) {
        int cap = p->cap_entries ? 2 * p->cap_entries : 32;
        nn_param_entry *e = realloc(p->entries, (size_t)cap * sizeof *e);
        if (!e) return (size_t)-1;
        p->entries = e;
        p->cap_entries = cap;
    }
    nn_param_entry *e = &p->entries[p->n_entries++];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->shape[0] = d0; e->shape[1] = d1; e->shape[2] = d2; e->shape[3] = d3;
    e->count = (size_t)d0 * d1 * d2 * d3;
    /* keep every block 16-float aligned so vector loads never straddle blocks */
    e->offset = (p->count + 15) & ~(size_t)15;
    p->count = e->offset + e->count;
    return e->offset;
}

int nn_params_alloc(nn_params *p)
{
    size_t n = p->count ? p->count : 1;
    p->value = calloc(n, sizeof(float));
    p->grad = calloc(n, sizeof(float));
    if (!p->value || !p->grad) {
        free(p->value); free(p->grad);
        p->value = p->grad = NULL;
        return -1;
    }
    return 0;
}

void nn_params_zero_grad(nn_params *p)
{
    if (p->grad) memset(p->grad, 0, p->count * sizeof(float));
}

const nn_param_entry *nn_params_find(const nn_params *p, const char *name)
{
    for (int i = 0; i < p->n_entries; i++)
        if (strcmp(p->entries[i].name, name) == 0) return &p->entries[i];
    return NULL;
}

void nn_params_free(nn_params *p)
{
    free(p->value);
    free(p->grad);
    free(p->entries);
    memset(p, 0, sizeof *p);
}
