/* nn/winograd_int.h - what the Winograd passes of deconv_winograd.c and
 * the weight gradients of winograd_dw.c share (internal to nn/, not part
 * of its interface): the tiling of a grid, the layouts of the transformed
 * tiles, the phase taps, G, and the input transform. See the file comment
 * of deconv_winograd.c for the arithmetic. */
#ifndef NN_WINOGRAD_INT_H
#define NN_WINOGRAD_INT_H

#include "nn/gemm.h"
#include <stddef.h>

#define POINTS 36
/* A chunk holds at least this many tiles even above the workspace cap: the
 * 36 products' width is the tile count, and narrower ones run below the
 * GEMM's speed (each product walks its whole A for them, and their edge
 * slivers are partial). */
#define MIN_CHUNK_TILES 64

/* Tiles (and weights) are transformed LANES at a time, the lanes side by
 * side in memory, so that the plain C loops over them vectorise. */
#define LANES 8

/* The input transform writes V straight into the GEMM's packed form of
 * each point's right operand (nn_sgemm_b_at: slivers of tiles, a channel a
 * row), the points `vstride` apart, so that no product packs its B. The
 * output transform reads all 36 points of a tile at once, so M keeps them
 * close: [r][pt][tile], each point's row `span` floats from the next (the
 * chunk's tile count rounded up to 16, plus 16: rows a power-of-two apart
 * would share L1 sets). U is [pt][r][ci], its points' matrices `ustride`
 * apart (a multiple of 4 KiB plus a line, for the same reason), as are V's. */
static inline size_t point_span(size_t count)
{
    return (count + 15) / 16 * 16 + 16;
}

static inline size_t point_stride(size_t floats)
{
    return (floats + 1023) / 1024 * 1024 + 16;
}

/* kernel row (column) that output phase a takes from input offset dd - 1 */
static const int tap_of[2][3] = {{4, 2, 0}, {-1, 3, 1}};
/* The input gradient, dx[i] = sum over outputs 2i - 2 + ky of W[ky] dy[..]:
 * phase a of dy at row m = i + dd - 1 goes through kernel row
 * tap_dx[a][dd] (the same taps, reached from the other side). */
static const int tap_dx[2][3] = {{0, 2, 4}, {1, 3, -1}};

/* G of F(4, 3): the 3 kernel taps -> 6 points */
static const double wino_g[6][3] = {
    {1.0 / 4, 0.0, 0.0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0.0, 0.0, 1.0},
};


/* Where tiles are: per image th x tw tiles of 4x4 pixels of an h x w grid,
 * numbered image by image, row by row; and what the grid's channels are:
 * the channels of src ([n][chans][h][w], the forward pass's x), or, with
 * phases set, the four phases of each channel of src ([n][chans / 4][2h][2w],
 * the backward pass's dy): channel 4c + 2a + b at (y, x) is src's channel c
 * at (2y + a, 2x + b). */
typedef struct {
    int n, chans, h, w, th, tw;
    const float *src;
    int phases;
    int ty0;    /* tile row 0 is the grid's tile row ty0: a band of rows */
    int out_h;  /* forward: the output's rows per channel (2 h, or a band's) */
    int out_at; /* forward: the output row that grid output row 8 ty0 goes to */
} tile_grid;

/* Where channel k of image n starts in g->src, and its row and column
 * strides there. */
static inline const float *channel_origin(const tile_grid *g, int n, int k, size_t *rs, size_t *cs)
{
    if (!g->phases) {
        *rs = (size_t)g->w;
        *cs = 1;
        return g->src + ((size_t)n * g->chans + k) * g->h * g->w;
    }
    const int c = k / 4, a = (k >> 1) & 1, b = k & 1;
    *rs = (size_t)4 * g->w;
    *cs = 2;
    return g->src + ((size_t)n * (g->chans / 4) + c) * 4 * g->h * g->w + (size_t)a * 2 * g->w + b;
}

/* image n of tile t, and the grid position (y0, x0) of its first input:
 * the tile's place in the whole grid, a band's tiles counted from ty0 */
static inline void tile_origin(const tile_grid *g, long t, int *n, int *y0, int *x0)
{
    const long per_image = (long)g->th * g->tw;
    *n = (int)(t / per_image);
    const long rest = t % per_image;
    *y0 = (int)(rest / g->tw + g->ty0) * 4;
    *x0 = (int)(rest % g->tw) * 4;
}

/* the tile after the one at (n, y0, x0), in tile_origin's numbering */
static inline void next_tile(const tile_grid *g, int *n, int *y0, int *x0)
{
    if ((*x0 += 4) < 4 * g->tw) return;
    *x0 = 0;
    if ((*y0 += 4) < 4 * (g->ty0 + g->th)) return;
    *y0 = 4 * g->ty0;
    ++*n;
}

/* d[(i * size + j) * LANES + q] = pixel (y0 + off + i, x0 + off + j) of
 * channel k of tile t + q, (y0, x0) the tile's origin, for q < lanes; zero
 * outside the grid and in the lanes from `lanes` on: the size x size
 * patches that the transforms read (inlined with constant size and off) */
static inline __attribute__((always_inline)) void load_tiles(const tile_grid *g, int k, long t,
                                                             int lanes, int size, int off, float *d)
{
    int n, y0, x0;
    size_t rs, cs;
    tile_origin(g, t, &n, &y0, &x0);
    if (lanes == LANES && x0 + off >= 0 && x0 + off + 4 * (LANES - 1) + size <= g->w &&
        y0 + off >= 0 && y0 + off + size <= g->h) {
        /* the usual case: LANES tiles side by side in one tile row, all
         * inside the image: one strided read per value */
        const float *src =
            channel_origin(g, n, k, &rs, &cs) + (size_t)(y0 + off) * rs + (size_t)(x0 + off) * cs;
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++)
                for (int q = 0; q < LANES; q++)
                    d[(i * size + j) * LANES + q] = src[i * rs + (size_t)(4 * q + j) * cs];
        return;
    }
    /* tiles on the image's edges, or in narrow images (all of a training
     * patch's small layers): one at a time, each tile's position stepped
     * from the one before (no divisions) */
    for (int q = 0; q < LANES; q++) {
        if (q >= lanes) {
            for (int i = 0; i < size * size; i++) d[i * LANES + q] = 0.0f;
            continue;
        }
        const float *src = channel_origin(g, n, k, &rs, &cs);
        const int inside_x = x0 + off >= 0 && x0 + off + size <= g->w;
        for (int i = 0; i < size; i++) {
            const int iy = y0 + off + i;
            float *di = d + i * size * LANES + q;
            if (iy < 0 || iy >= g->h) {
                for (int j = 0; j < size; j++) di[j * LANES] = 0.0f;
                continue;
            }
            const float *row = src + (size_t)iy * rs;
            for (int j = 0; j < size; j++) {
                const int ix = x0 + off + j;
                di[j * LANES] = inside_x || (ix >= 0 && ix < g->w) ? row[(size_t)ix * cs] : 0.0f;
            }
        }
        next_tile(g, &n, &y0, &x0);
    }
}

/* The input transform of a chunk of tiles (deconv_winograd.c says what it
 * writes where) */
void nn_winograd_input_tiles(const tile_grid *g, long t0, int count, float *v,
                             const nn_sgemm_blayout *lay, size_t vstride);

#endif
