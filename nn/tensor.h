/* nn/tensor.h - the one data layout of the nn library.
 *
 * A tensor is float32 in NCHW order: element (n, c, y, x) lives at
 * data[((n * C + c) * H + y) * W + x]. Tensors own their data; a tensor whose
 * data is NULL is empty. Functions that can fail return 0 on success and -1 on
 * failure (only allocation can fail in this library). */
#ifndef NN_TENSOR_H
#define NN_TENSOR_H

#include <stddef.h>

typedef struct {
    int n, c, h, w;
    float *data;
} nn_tensor;

/* Allocates a zeroed tensor. On failure *t is left empty and -1 returned. */
int nn_tensor_alloc(nn_tensor *t, int n, int c, int h, int w);
/* Sets the shape, reallocating only when the element count grows. The
 * contents are unspecified afterwards (not zeroed). */
int nn_tensor_resize(nn_tensor *t, int n, int c, int h, int w);
void nn_tensor_free(nn_tensor *t);
size_t nn_tensor_numel(const nn_tensor *t);
void nn_tensor_zero(nn_tensor *t);
/* dst = a copy of src (shape and values); dst's old contents are dropped.
 * -1 (dst unchanged) when out of memory. */
int nn_tensor_copy(nn_tensor *dst, const nn_tensor *src);

/* Scratch memory that layers borrow for one call (im2col buffers and the
 * like). nn_workspace_get returns at least count floats, growing the buffer
 * as needed; the pointer is valid until the next nn_workspace_get. */
typedef struct {
    float *buf;
    size_t cap;
    /* the most scratch a chunked forward pass (nn/conv2d.h) may take from
     * this workspace, in bytes; 0: the process default. Training leaves it
     * 0 (big chunks run faster); the coder sets a few MB to bound memory. */
    size_t max_bytes;
} nn_workspace;

float *nn_workspace_get(nn_workspace *ws, size_t count);
void nn_workspace_free(nn_workspace *ws);

#endif
