/* tests/synthesis_shapes.h - the matrix products of the decoder's synthesis
 * transform for a 768x512 image (N=128, M=192) computed directly (aecd runs
 * the first three deconvolutions by Winograd instead, nn/deconv_winograd.h): the four transposed
 * convolutions (col = W^T x: M = cout*25, N = the input's pixels, K = cin)
 * and the three inverse GDNs (gamma x^2: 128 x 128 by the pixels). Shared
 * by bench_gemm and bench_codec. */
#ifndef AEC_TESTS_SYNTHESIS_SHAPES_H
#define AEC_TESTS_SYNTHESIS_SHAPES_H

#include <stddef.h>

typedef struct {
    const char *name;
    int ta, tb, m, n, k;
} shape;

static const shape shapes[] = {
    {"g_s deconv0 192->128 48x32 ", 1, 0, 128 * 25, 48 * 32, 192},
    {"g_s igdn0 128 96x64        ", 0, 0, 128, 96 * 64, 128},
    {"g_s deconv1 128->128 96x64 ", 1, 0, 128 * 25, 96 * 64, 128},
    {"g_s igdn1 128 192x128      ", 0, 0, 128, 192 * 128, 128},
    {"g_s deconv2 128->128 192x128", 1, 0, 128 * 25, 192 * 128, 128},
    {"g_s igdn2 128 384x256      ", 0, 0, 128, 384 * 256, 128},
    {"g_s deconv3 128->3 384x256 ", 1, 0, 3 * 25, 384 * 256, 128},
};

/* the largest A, B and C (in floats) over the shapes, for one set of buffers */
static void shapes_max_sizes(size_t *a, size_t *b, size_t *c)
{
    *a = *b = *c = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        if ((size_t)s->m * s->k > *a) *a = (size_t)s->m * s->k;
        if ((size_t)s->k * s->n > *b) *b = (size_t)s->k * s->n;
        if ((size_t)s->m * s->n > *c) *c = (size_t)s->m * s->n;
    }
}

#endif
