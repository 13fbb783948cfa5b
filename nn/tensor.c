#include "nn/tensor.h"

#include <stdlib.h>
#include <string.h>

size_t nn_tensor_numel(const nn_tensor *t)
{
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

int nn_tensor_alloc(nn_tensor *t, int n, int c, int h, int w)
{
    size_t count = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
    t->n = n; t->c = c; t->h = h; t->w = w;
    t->data = calloc(count ? count : 1, sizeof(float));
    if (!t->data) {
        t->n = t->c = t->h = t->w = 0;
        return -1;
    }
    return 0;
}

int nn_tensor_resize(nn_tensor *t, int n, int c, int h, int w)
{
    size_t have = t->data ? nn_tensor_numel(t) : 0;
    size_t need = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
    if (!t->data || need > have) {
        float *p = realloc(t->data, (need ? need : 1) * sizeof(float));
        if (!p) return -1;
        t->data = p;
    }
    t->n = n; t->c = c; t->h = h; t->w = w;
    return 0;
}

void nn_tensor_free(nn_tensor *t)
{
    free(t->data);
    memset(t, 0, sizeof *t);
}

void nn_tensor_zero(nn_tensor *t)
{
    if (t->data) memset(t->data, 0, nn_tensor_numel(t) * sizeof(float));
}

int nn_tensor_copy(nn_tensor *dst, const nn_tensor *src)
{
    if (nn_tensor_resize(dst, src->n, src->c, src->h, src->w) != 0) return -1;
    if (src->data) memcpy(dst->data, src->data, nn_tensor_numel(src) * sizeof(float));
    return 0;
}

float *nn_workspace_get(nn_workspace *ws, size_t count)
{
    if (count > ws->cap) {
        /* aligned for the BLAS kernels; old contents need not survive */
        free(ws->buf);
        ws->buf = NULL;
        ws->cap = 0;
        void *p = NULL;
        if (posix_memalign(&p, 64, count * sizeof(float)) != 0) return NULL;
        ws->buf = p;
        ws->cap = count;
    }
    return ws->buf;
}

void nn_workspace_free(nn_workspace *ws)
{
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}
