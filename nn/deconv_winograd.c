/* nn/deconv_winograd.c - 5x5 stride-2 transposed convolution as four phase
 * convolutions by Winograd F(4x4, 3x3) (see deconv_winograd.h).
 *
 * Phases. The transposed convolution writes input pixel i to outputs
 * 2i - 2 + ky, ky = 0..4 (padding 2, nn/conv2d.c). So output row 2m + a
 * takes input rows m - 1, m, m + 1 (offset dd - 1, dd = 0..2) through kernel
 * rows tap_of[a][dd] below: 4, 2, 0 for a = 0 and -, 3, 1 for a = 1 (row m - 1
 * cannot reach an odd output). The same holds for columns. Phase (a, b) of
 * output channel co is thus a 3x3 correlation with g[dd][ee] =
 * W[ci][co][tap_of[a][dd]][tap_of[b][ee]] (zero where a tap is missing),
 * padding 1; its 4*cout outputs are rows r = 4 co + 2a + b (an output
 * channel's four phases side by side).
 *
 * Winograd F(4x4, 3x3): a 6x6 input tile d (input rows 4ty - 1 .. 4ty + 4)
 * gives the 4x4 outputs at input positions 4ty .. 4ty + 3 as
 *     Y = A^T [ (G g G^T) . (B^T d B) ] A      (. elementwise, 36 points)
 * with the interpolation points 0, 1, -1, 2, -2 and infinity; the 36 points
 * are independent, so each is one matrix product over channels:
 *     M[pt][r][tile] = sum_ci U[pt][r][ci] V[pt][ci][tile].
 * U is computed from the weights at each call (cheap next to the products,
 * and the model stays read-only) and packed once for the GEMM kernel. */
#include "nn/deconv_winograd.h"

#include "nn/gemm.h"
#include "nn/vector_copies.h"
#include "nn/winograd_int.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

/* below this many floats touched a loop is not worth a parallel region */
#define PAR_MIN_WORK 32768
/* fewer output channels than this go to nn_deconv2d_forward */
#define MIN_COUT 16

/* input channels per block of the weight transform */
#define WEIGHT_BLOCK 64

/* wt[(co * 25 + tap) * cin_pad + ci] = the weight of (ci, co, tap), zero for
 * ci >= cin: the weight transform below reads a block of input channels of
 * one tap contiguously (the layer's own layout has them cout * 25 apart) */
static size_t weights_cin_pad(int cin) { return ((size_t)cin + WEIGHT_BLOCK - 1) / WEIGHT_BLOCK * WEIGHT_BLOCK; }

static void reorder_weights(const nn_deconv2d *l, const float *w, float *wt)
{
    const size_t cin_pad = weights_cin_pad(l->cin);
#pragma omp parallel for schedule(static) if ((size_t)l->cout * 25 * cin_pad > PAR_MIN_WORK)
    for (int co = 0; co < l->cout; co++)
        for (int tap = 0; tap < 25; tap++) {
            float *dst = wt + ((size_t)co * 25 + tap) * cin_pad;
            for (size_t ci = 0; ci < cin_pad; ci++)
                dst[ci] = ci < (size_t)l->cin ? w[(ci * l->cout + co) * 25 + tap] : 0.0f;
        }
}

/* u[j][r][ci] = (G g G^T)[6 i + j], j = 0..5, the points of row i, for
 * phase row r = 4 co + 2a + b and input channel ci, g[dd][ee] the tap
 * (taps[a][dd], taps[b][ee]) or 0; over a block of input channels at once:
 * t = row i of G g (1x3), then t G^T (1x6). wt: reorder_weights'. */
NN_VECTOR_BODY void transform_weights_co_body(const nn_deconv2d *l, const float *wt,
                                              const int taps[2][3], const float gf[6][3],
                                              int i, float *u, size_t ustride, int co)
{
    const int cin = l->cin;
    const size_t cin_pad = weights_cin_pad(cin);
    float t[3][WEIGHT_BLOCK], uu[WEIGHT_BLOCK];
    for (int c0 = 0; c0 < cin; c0 += WEIGHT_BLOCK) {
        const int nb = cin - c0 < WEIGHT_BLOCK ? cin - c0 : WEIGHT_BLOCK;
        for (int ph = 0; ph < 4; ph++) {
            const int r = 4 * co + ph, a = ph >> 1, b = ph & 1;
            /* t[ee] = sum_dd G[i][dd] g[dd][ee] */
            for (int ee = 0; ee < 3; ee++) {
                float *acc = t[ee];
                for (int c = 0; c < WEIGHT_BLOCK; c++) acc[c] = 0.0f;
                if (taps[b][ee] < 0) continue;
                for (int dd = 0; dd < 3; dd++) {
                    const float cf = gf[i][dd];
                    if (taps[a][dd] < 0 || cf == 0.0f) continue;
                    const float *kt =
                        wt + ((size_t)co * 25 + taps[a][dd] * 5 + taps[b][ee]) * cin_pad + c0;
                    for (int c = 0; c < WEIGHT_BLOCK; c++) acc[c] += cf * kt[c];
                }
            }
            for (int j = 0; j < 6; j++) {
                for (int c = 0; c < WEIGHT_BLOCK; c++)
                    uu[c] = gf[j][0] * t[0][c] + gf[j][1] * t[1][c] + gf[j][2] * t[2][c];
                memcpy(u + (size_t)j * ustride + (size_t)r * cin + c0, uu, (size_t)nb * sizeof(float));
            }
        }
    }
}
NN_VECTOR_COPIES(transform_weights_co,
                 (const nn_deconv2d *l, const float *wt, const int taps[2][3], const float gf[6][3],
                  int i, float *u, size_t ustride, int co),
                 (l, wt, taps, gf, i, u, ustride, co))

/* u[j][r][ci] for every output channel (transform_weights_co, built for
 * AVX2 too: training makes its plans again at every step) */
static void transform_weights_row(const nn_deconv2d *l, const float *wt, const int taps[2][3],
                                  int i, float *u, size_t ustride)
{
    float gf[6][3];
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 3; b++) gf[a][b] = (float)wino_g[a][b];
#pragma omp parallel for schedule(static) if ((size_t)l->cout * l->cin * 4 * 6 > PAR_MIN_WORK)
    for (int co = 0; co < l->cout; co++) transform_weights_co(l, wt, taps, gf, i, u, ustride, co);
}

/* o = B^T d for one line of 6, LANES tiles at once (d[k * s + lane]) */
static inline void input_line(const float *d, int s, float *o, int os)
{
    for (int q = 0; q < LANES; q++) {
        const float d0 = d[q], d1 = d[s + q], d2 = d[2 * s + q], d3 = d[3 * s + q],
                    d4 = d[4 * s + q], d5 = d[5 * s + q];
        o[q] = 4.0f * d0 - 5.0f * d2 + d4;
        o[os + q] = -4.0f * (d1 + d2) + d3 + d4;
        o[2 * os + q] = 4.0f * (d1 - d2) - d3 + d4;
        o[3 * os + q] = 2.0f * (d3 - d1) - d2 + d4;
        o[4 * os + q] = 2.0f * (d1 - d3) - d2 + d4;
        o[5 * os + q] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

/* o = A^T m for one line of 6 points -> 4 outputs, LANES tiles at once */
static inline void output_line(const float *m, int s, float *o, int os)
{
    for (int q = 0; q < LANES; q++) {
        const float m0 = m[q], m1 = m[s + q], m2 = m[2 * s + q], m3 = m[3 * s + q],
                    m4 = m[4 * s + q], m5 = m[5 * s + q];
        const float p12 = m1 + m2, n12 = m1 - m2, p34 = m3 + m4, n34 = m3 - m4;
        o[q] = m0 + p12 + p34;
        o[os + q] = n12 + 2.0f * n34;
        o[2 * os + q] = p12 + 4.0f * p34;
        o[3 * os + q] = n12 + 8.0f * n34 + m5;
    }
}


/* One job of nn_winograd_input_tiles: LANES tiles from tl0 of channel ci. The
 * transforms are most of the Winograd passes' time besides the products:
 * built for AVX2 too (vector_copies.h). */
NN_VECTOR_BODY void input_job_body(const tile_grid *g, long t0, int count, float *v,
                                   const nn_sgemm_blayout *lay, size_t vstride, int ci, int tl0)
{
    const int lanes = count - tl0 < LANES ? count - tl0 : LANES;
    float d[6][6][LANES], t[6][6][LANES], o[6][6][LANES];
    /* the 6x6 patches from one row and column before the tiles */
    load_tiles(g, ci, t0 + tl0, lanes, 6, -1, d[0][0]);
    for (int j = 0; j < 6; j++) input_line(d[0][j], 6 * LANES, t[0][j], 6 * LANES); /* columns */
    for (int i = 0; i < 6; i++) input_line(t[i][0], LANES, o[i][0], LANES);         /* rows */
    /* every lane, zeros past the last tile: the slivers' spare columns */
    float *dst = v + nn_sgemm_b_at(lay, ci, tl0);
    for (size_t pt = 0; pt < POINTS; pt++) {
        float *vp = dst + pt * vstride;
        const float *op = o[pt / 6][pt % 6];
        for (int q = 0; q < LANES; q++) vp[q] = op[q];
    }
}
NN_VECTOR_COPIES(input_job,
                 (const tile_grid *g, long t0, int count, float *v, const nn_sgemm_blayout *lay,
                  size_t vstride, int ci, int tl0),
                 (g, t0, count, v, lay, vstride, ci, tl0))

/* V: point pt's (B^T d B) of tile t0 + tl of channel ci, tl < count, as
 * row ci, column tl of the GEMM's packed B (nn_sgemm_b_at) of that point's
 * product, the points vstride floats apart; the slivers' columns from
 * count on zero */
void nn_winograd_input_tiles(const tile_grid *g, long t0, int count, float *v,
                             const nn_sgemm_blayout *lay, size_t vstride)
{
    const int blocks = (count + lay->nr - 1) / lay->nr * lay->nr / LANES;
    const long jobs = (long)g->chans * blocks;
#pragma omp parallel for schedule(static) if ((size_t)jobs * LANES * POINTS > PAR_MIN_WORK)
    for (long job = 0; job < jobs; job++)
        input_job(g, t0, count, v, lay, vstride, (int)(job / blocks), (int)(job % blocks) * LANES);
}

/* o[i][j][q] = (A^T M A)[i][j] of product row r for tiles tl0 + q of the
 * chunk, q < lanes (M: the 36 points of that row and tile); inlined into
 * the jobs that call it, and so into their AVX2 copies */
static inline __attribute__((always_inline)) void product_row_outputs(const float *mo, int r,
                                                                      size_t span, int tl0,
                                                                      int lanes,
                                                                      float o[4][4][LANES])
{
    float m[6][6][LANES], t[4][6][LANES];
    for (size_t pt = 0; pt < POINTS; pt++) {
        const float *src = mo + ((size_t)r * POINTS + pt) * span + tl0;
        float *mp = m[pt / 6][pt % 6];
        if (lanes == LANES) {
            for (int q = 0; q < LANES; q++) mp[q] = src[q];
        } else {
            for (int q = 0; q < LANES; q++) mp[q] = q < lanes ? src[q] : 0.0f;
        }
    }
    for (int j = 0; j < 6; j++) output_line(m[0][j], 6 * LANES, t[0][j], 6 * LANES); /* columns */
    for (int i = 0; i < 4; i++) output_line(t[i][0], LANES, o[i][0], LANES);         /* rows */
}

/* y's pixels of tiles t0 .. t0 + count - 1: (A^T M A) of each phase row, plus
 * the bias (if not NULL), written where they fall inside the output. A job is LANES tiles
 * of one output channel, all four phases: the 8x8 output pixels of a tile
 * are written row by row. */
NN_VECTOR_BODY void output_job_body(const tile_grid *g, int cout, const float *mo,
                                    const float *bias, long t0, int count, size_t span,
                                    float *y, int co, int tl0)
{
    const int ow = 2 * g->w;
    const size_t oplane = (size_t)g->out_h * ow;
    const int shift = g->out_at - 8 * g->ty0; /* grid output row -> row of y */
    const int lanes = count - tl0 < LANES ? count - tl0 : LANES;
    float o[4][4][4][LANES]; /* [phase][i][j][tile] */
    for (int ph = 0; ph < 4; ph++) product_row_outputs(mo, 4 * co + ph, span, tl0, lanes, o[ph]);
    const float bc = bias ? bias[co] : 0.0f;
    int n, y0, x0;
    tile_origin(g, t0 + tl0, &n, &y0, &x0);
#if defined(__SSE2__)
    if (lanes == LANES && x0 + 4 * LANES <= g->w && y0 + 4 <= g->h && nn_cpu_has(NN_CPU_SSE2)) {
        /* the usual case: the LANES tiles side by side in one tile row (the
         * row has room for them), all inside the output, so that each output row they reach is 8 x LANES
         * pixels in a row: its pixel 8 q + 2 j + b (row i, a of the tiles) is
         * o[2a+b][i][j][q], a transpose of o's lanes, done in 4x4 blocks
         * (one pixel at a time, this would be the costliest of the
         * transforms) */
        float *dst = y + ((size_t)n * cout + co) * oplane;
        const __m128 b4 = _mm_set1_ps(bc);
        for (int i = 0; i < 4; i++)
            for (int a = 0; a < 2; a++) {
                float *row = dst + (size_t)(2 * (y0 + i) + a + shift) * ow + 2 * x0;
                for (int jh = 0; jh < 4; jh += 2)
                    for (int qh = 0; qh < LANES; qh += 4) {
                        __m128 r0 = _mm_loadu_ps(&o[2 * a][i][jh][qh]),
                               r1 = _mm_loadu_ps(&o[2 * a + 1][i][jh][qh]),
                               r2 = _mm_loadu_ps(&o[2 * a][i][jh + 1][qh]),
                               r3 = _mm_loadu_ps(&o[2 * a + 1][i][jh + 1][qh]);
                        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                        _mm_storeu_ps(row + 8 * qh + 2 * jh, _mm_add_ps(r0, b4));
                        _mm_storeu_ps(row + 8 * (qh + 1) + 2 * jh, _mm_add_ps(r1, b4));
                        _mm_storeu_ps(row + 8 * (qh + 2) + 2 * jh, _mm_add_ps(r2, b4));
                        _mm_storeu_ps(row + 8 * (qh + 3) + 2 * jh, _mm_add_ps(r3, b4));
                    }
            }
        return;
    }
#endif
    for (int q = 0; q < lanes; q++, next_tile(g, &n, &y0, &x0)) {
        float *dst = y + ((size_t)n * cout + co) * oplane;
        const int ni = g->h - y0 < 4 ? g->h - y0 : 4, nj = g->w - x0 < 4 ? g->w - x0 : 4;
        for (int i = 0; i < ni; i++)
            for (int a = 0; a < 2; a++) {
                float *row = dst + (size_t)(2 * (y0 + i) + a + shift) * ow + 2 * x0;
                for (int j = 0; j < nj; j++) {
                    row[2 * j] = o[2 * a][i][j][q] + bc;
                    row[2 * j + 1] = o[2 * a + 1][i][j][q] + bc;
                }
            }
    }
}
NN_VECTOR_COPIES(output_job,
                 (const tile_grid *g, int cout, const float *mo, const float *bias, long t0,
                  int count, size_t span, float *y, int co, int tl0),
                 (g, cout, mo, bias, t0, count, span, y, co, tl0))

static void output_tiles(const tile_grid *g, int cout, const float *mo, const float *bias, long t0,
                         int count, size_t span, float *y)
{
    const int blocks = (count + LANES - 1) / LANES;
    const long jobs = (long)cout * blocks;
#pragma omp parallel for schedule(static) if ((size_t)jobs * 4 * LANES * POINTS > PAR_MIN_WORK)
    for (long job = 0; job < jobs; job++)
        output_job(g, cout, mo, bias, t0, count, span, y, (int)(job / blocks),
                   (int)(job % blocks) * LANES);
}

/* dx's pixels of tiles t0 .. t0 + count - 1: (A^T M A) of each row (an input
 * channel of the layer), plus bias[row] when there is one, written where
 * they fall inside the h x w grid */
NN_VECTOR_BODY void output_plain_job_body(const tile_grid *g, int rows, const float *mo,
                                          const float *bias, long t0, int count, size_t span,
                                          float *dx, int r, int tl0)
{
    const size_t plane = (size_t)g->h * g->w;
    const int lanes = count - tl0 < LANES ? count - tl0 : LANES;
    float o[4][4][LANES];
    product_row_outputs(mo, r, span, tl0, lanes, o);
    int n, y0, x0;
    tile_origin(g, t0 + tl0, &n, &y0, &x0);
    for (int q = 0; q < lanes; q++, next_tile(g, &n, &y0, &x0)) {
        float *dst = dx + ((size_t)n * rows + r) * plane;
        const int ni = g->h - y0 < 4 ? g->h - y0 : 4, nj = g->w - x0 < 4 ? g->w - x0 : 4;
        const float br = bias ? bias[r] : 0.0f;
        for (int i = 0; i < ni; i++) {
            float *row = dst + (size_t)(y0 + i) * g->w + x0;
            for (int j = 0; j < nj; j++) row[j] = o[i][j][q] + br;
        }
    }
}
NN_VECTOR_COPIES(output_plain_job,
                 (const tile_grid *g, int rows, const float *mo, const float *bias, long t0,
                  int count, size_t span, float *dx, int r, int tl0),
                 (g, rows, mo, bias, t0, count, span, dx, r, tl0))

static void output_tiles_plain(const tile_grid *g, int rows, const float *mo, const float *bias,
                               long t0, int count, size_t span, float *dx)
{
    const int blocks = (count + LANES - 1) / LANES;
    const long jobs = (long)rows * blocks;
#pragma omp parallel for schedule(static) if ((size_t)jobs * LANES * POINTS > PAR_MIN_WORK)
    for (long job = 0; job < jobs; job++)
        output_plain_job(g, rows, mo, bias, t0, count, span, dx, (int)(job / blocks),
                         (int)(job % blocks) * LANES);
}

/* The plan of the transposed convolution l with the given weights
 * ([cin][cout][5][5]): U for each of the 36 points, transformed and packed
 * for the GEMM kernel, a row of 6 points at a time. The transform gives
 * [4 cout][cin] matrices: the forward products use them as they are, the
 * backward ones transposed. *plan is zeroed or holds a plan: its packs are
 * overwritten where they have the sizes (the same layer's plan remade for
 * new weights keeps its memory), replaced where not. */
static int plan_fill(const nn_deconv2d *l, const float *weights, int backward, nn_winograd_plan *plan)
{
    plan->cin = l->cin;
    plan->cout = l->cout;
    plan->backward = backward;
    plan->weights = l->w;
    const int rows = backward ? l->cin : 4 * l->cout, kch = backward ? 4 * l->cout : l->cin;
    const size_t ustride = point_stride((size_t)4 * l->cout * l->cin);
    float *wt = malloc((size_t)l->cout * 25 * weights_cin_pad(l->cin) * sizeof(float));
    float *u = malloc(6 * ustride * sizeof(float));
    int failed = !u || !wt;
    if (!failed) reorder_weights(l, weights, wt);
    for (int i = 0; i < 6 && !failed; i++) {
        transform_weights_row(l, wt, backward ? tap_dx : tap_of, i, u, ustride);
        for (int j = 0; j < 6 && !failed; j++)
            failed = nn_sgemm_repack_a(&plan->packed[6 * i + j], backward, rows, kch,
                                       u + (size_t)j * ustride, l->cin) != 0;
    }
    free(wt);
    free(u);
    if (failed) nn_winograd_plan_free(plan);
    return failed ? -1 : 0;
}

static int plan_make(const nn_deconv2d *l, const float *weights, int backward, nn_winograd_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    return plan_fill(l, weights, backward, plan);
}

void nn_winograd_plan_free(nn_winograd_plan *plan)
{
    for (int pt = 0; pt < POINTS; pt++) nn_sgemm_apack_free(&plan->packed[pt]);
    memset(plan, 0, sizeof *plan);
}

static int plan_fits(const nn_winograd_plan *plan, const nn_deconv2d *l, int backward)
{
    return plan->cin == l->cin && plan->cout == l->cout && plan->backward == backward &&
           plan->weights == l->w && plan->packed[0].data;
}

/* Floats of workspace for a chunk of `chunk` tiles: V, each point's B
 * packed for its product (nn_sgemm_b_at), and M, [r][pt][tile] */
static size_t chunk_floats(const nn_winograd_plan *plan, int rows, size_t chunk)
{
    const nn_sgemm_blayout lay = nn_sgemm_b_layout(&plan->packed[0], (int)chunk);
    return POINTS * point_stride(nn_sgemm_b_floats(&lay)) + (size_t)rows * POINTS * point_span(chunk);
}

/* The one driver of both directions, for the transposed convolution l with
 * its weights made into `plan`. Forward (backward == 0): the grid is x's
 * channels, the products have 4 cout rows (phase rows), out = y plus
 * bias[cout]. Backward: the grid is dy's phases (4 cout channels), the
 * products have cin rows, out = dx (plus bias[cin] if not NULL: a stride-2
 * convolution is this direction of the transposed one, see below). */
static int winograd_run(const nn_deconv2d *l, const nn_winograd_plan *plan, const float *bias,
                        int backward, const tile_grid *g, float *out, nn_workspace *ws)
{
    const long total = (long)g->n * g->th * g->tw;
    if (total == 0) return 0;
    const int kch = g->chans, rows = backward ? l->cin : 4 * l->cout;
    const size_t cap = nn_conv_workspace_cap(ws) / sizeof(float);
    /* per tile: its transformed input (kch) and products (rows) at 36
     * points, the tile count then made smaller for the rows' padding */
    size_t chunk = cap / ((size_t)POINTS * ((size_t)kch + rows));
    if (chunk > (size_t)total) chunk = (size_t)total;
    while (chunk > MIN_CHUNK_TILES && chunk_floats(plan, rows, chunk) > cap) chunk -= 16;
    if (chunk < MIN_CHUNK_TILES) chunk = MIN_CHUNK_TILES;
    if (chunk > (size_t)total) chunk = (size_t)total;
    const size_t span = point_span(chunk);
    const nn_sgemm_blayout whole = nn_sgemm_b_layout(&plan->packed[0], (int)chunk);
    const size_t vstride = point_stride(nn_sgemm_b_floats(&whole));
    /* a job writes LANES columns of one sliver (both kernels' slivers are 8
     * or 16 wide: a kernel of another width would need this rethought) */
    if (whole.nr % LANES) return -1;
    int failed = 0;
    float *v = nn_workspace_get(ws, chunk_floats(plan, rows, chunk));
    float *mo = v ? v + POINTS * vstride : NULL;
    for (long t0 = 0; t0 < total && v && !failed; t0 += (long)chunk) {
        const int count = total - t0 < (long)chunk ? (int)(total - t0) : (int)chunk;
        const nn_sgemm_blayout lay = nn_sgemm_b_layout(&plan->packed[0], count);
        nn_winograd_input_tiles(g, t0, count, v, &lay, vstride);
        /* one product per thread at a time (the GEMM runs single-threaded
         * inside this parallel loop): at these widths that is faster than
         * splitting each product between the threads */
#pragma omp parallel for schedule(dynamic) reduction(| : failed)
        for (int pt = 0; pt < POINTS; pt++)
            failed |= nn_sgemm_packed_b(&plan->packed[pt], &lay, v + (size_t)pt * vstride,
                                        mo + (size_t)pt * span, (int)(POINTS * span)) != 0;
        if (failed) break;
        if (backward) output_tiles_plain(g, rows, mo, bias, t0, count, span, out);
        else output_tiles(g, l->cout, mo, bias, t0, count, span, out);
    }
    return failed || !v ? -1 : 0;
}

/* winograd_run with the caller's plan, or (plan NULL) one made from
 * `weights` for the call */
static int winograd_run_any(const nn_deconv2d *l, const nn_winograd_plan *plan, const float *weights,
                            const float *bias, int backward, const tile_grid *g, float *out,
                            nn_workspace *ws)
{
    if (plan) return winograd_run(l, plan, bias, backward, g, out, ws);
    if ((long)g->n * g->th * g->tw == 0) return 0;
    nn_winograd_plan own;
    if (plan_make(l, weights, backward, &own)) return -1;
    int ret = winograd_run(l, &own, bias, backward, g, out, ws);
    nn_winograd_plan_free(&own);
    return ret;
}

/* few output channels (the synthesis' last layer, 3): the input transform
 * of cin channels costs more than the 2.8x fewer products save */
int nn_deconv2d_winograd_applies(const nn_deconv2d *l)
{
    return l->k == 5 && l->stride == 2 && l->cout >= MIN_COUT;
}

int nn_deconv2d_winograd_plan(const nn_deconv2d *l, const nn_params *p, int backward,
                              nn_winograd_plan *plan)
{
    if (!nn_deconv2d_winograd_applies(l)) {
        memset(plan, 0, sizeof *plan);
        return 0;
    }
    return plan_make(l, p->value + l->w, backward != 0, plan);
}

int nn_deconv2d_winograd_replan(const nn_deconv2d *l, const nn_params *p, int backward,
                                nn_winograd_plan *plan)
{
    if (!nn_deconv2d_winograd_applies(l)) {
        nn_winograd_plan_free(plan);
        return 0;
    }
    return plan_fill(l, p->value + l->w, backward != 0, plan);
}

int nn_deconv2d_forward_winograd_planned(const nn_deconv2d *l, const nn_params *p,
                                         const nn_winograd_plan *plan, const nn_tensor *x,
                                         nn_tensor *y, nn_workspace *ws)
{
    if (!nn_deconv2d_winograd_applies(l)) return nn_deconv2d_forward(l, p, x, y, ws);
    if (x->c != l->cin || (plan && !plan_fits(plan, l, 0))) return -1;
    if (nn_tensor_resize(y, x->n, l->cout, 2 * x->h, 2 * x->w) != 0) return -1;
    const tile_grid g = {x->n, l->cin, x->h, x->w, (x->h + 3) / 4, (x->w + 3) / 4, x->data, 0,
                         0, 2 * x->h, 0};
    return winograd_run_any(l, plan, p->value + l->w, p->value + l->b, 0, &g, y->data, ws);
}

int nn_deconv2d_forward_winograd(const nn_deconv2d *l, const nn_params *p, const nn_tensor *x,
                                 nn_tensor *y, nn_workspace *ws)
{
    return nn_deconv2d_forward_winograd_planned(l, p, NULL, x, y, ws);
}

int nn_deconv2d_forward_winograd_rows(const nn_deconv2d *l, const nn_params *p,
                                      const nn_winograd_plan *plan, const nn_tensor *x, int r0,
                                      int r1, nn_tensor *y, int at, nn_workspace *ws)
{
    if (!nn_deconv2d_winograd_applies(l) || !plan || !plan_fits(plan, l, 0) || x->c != l->cin ||
        r0 < 0 || r0 % 8 != 0 || r1 <= r0 || r1 > 2 * x->h || (r1 % 8 != 0 && r1 != 2 * x->h) ||
        y->n != x->n || y->c != l->cout || y->w != 2 * x->w || at < 0 || at + (r1 - r0) > y->h)
        return -1;
    const tile_grid g = {x->n, l->cin, x->h, x->w, (r1 + 7) / 8 - r0 / 8, (x->w + 3) / 4, x->data,
                         0, r0 / 8, y->h, at};
    return winograd_run(l, plan, p->value + l->b, 0, &g, y->data, ws);
}

int nn_deconv2d_backward_dx_winograd_planned(const nn_deconv2d *l, const nn_params *p,
                                             const nn_winograd_plan *plan, const nn_tensor *x,
                                             const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws)
{
    if (!nn_deconv2d_winograd_applies(l)) {
        nn_params view = *p;
        view.grad = NULL;
        return nn_deconv2d_backward(l, &view, x, dy, dx, ws);
    }
    if (x->c != l->cin || dy->n != x->n || dy->c != l->cout || dy->h != 2 * x->h ||
        dy->w != 2 * x->w || (plan && !plan_fits(plan, l, 1)))
        return -1;
    if (nn_tensor_resize(dx, x->n, l->cin, x->h, x->w) != 0) return -1;
    const tile_grid g = {x->n, 4 * l->cout, x->h, x->w, (x->h + 3) / 4, (x->w + 3) / 4, dy->data, 1,
                         0, 0, 0};
    return winograd_run_any(l, plan, p->value + l->w, NULL, 1, &g, dx->data, ws);
}

int nn_deconv2d_backward_dx_winograd(const nn_deconv2d *l, const nn_params *p, const nn_tensor *x,
                                     const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws)
{
    return nn_deconv2d_backward_dx_winograd_planned(l, p, NULL, x, dy, dx, ws);
}

/* A 5x5 stride-2 convolution with zero padding, y[o] = sum W[co][ci][k]
 * x[2o - 2 + k], is the input gradient of the transposed convolution with
 * cin and cout swapped and the same weight array ([co][ci] is that layer's
 * [cin][cout]); its input gradient is that layer's forward pass. Even input
 * sizes only (the phases must tile x exactly). */
/* the layer's part of the test (a plan's, made before any input) */
static int conv_plannable(const nn_conv2d *l)
{
    return l->k == 5 && l->stride == 2 && l->pad_mode == NN_PAD_ZERO && l->cin >= MIN_COUT;
}

int nn_conv2d_winograd_applies(const nn_conv2d *l, const nn_tensor *x)
{
    return conv_plannable(l) && x->h % 2 == 0 && x->w % 2 == 0;
}

static nn_deconv2d conv_as_deconv(const nn_conv2d *l)
{
    nn_deconv2d d = {l->cout, l->cin, 5, 2, l->w, l->b};
    return d;
}

int nn_conv2d_winograd_replan(const nn_conv2d *l, const nn_params *p, int backward,
                              nn_winograd_plan *plan)
{
    if (!conv_plannable(l)) {
        nn_winograd_plan_free(plan);
        return 0;
    }
    /* the convolution's forward pass is the transposed layer's input
     * gradient, and the other way round */
    const nn_deconv2d d = conv_as_deconv(l);
    return plan_fill(&d, p->value + l->w, backward == 0, plan);
}

int nn_conv2d_forward_winograd_planned(const nn_conv2d *l, const nn_params *p,
                                       const nn_winograd_plan *plan, const nn_tensor *x,
                                       nn_tensor *y, nn_workspace *ws)
{
    if (!nn_conv2d_winograd_applies(l, x)) return nn_conv2d_forward(l, p, x, y, ws);
    const nn_deconv2d d = conv_as_deconv(l);
    if (x->c != l->cin || (plan && !plan_fits(plan, &d, 1))) return -1;
    if (nn_tensor_resize(y, x->n, l->cout, x->h / 2, x->w / 2) != 0) return -1;
    const tile_grid g = {x->n, 4 * l->cin, x->h / 2, x->w / 2, (x->h / 2 + 3) / 4, (x->w / 2 + 3) / 4,
                         x->data, 1, 0, 0, 0};
    return winograd_run_any(&d, plan, p->value + l->w, p->value + l->b, 1, &g, y->data, ws);
}

int nn_conv2d_forward_winograd(const nn_conv2d *l, const nn_params *p, const nn_tensor *x,
                               nn_tensor *y, nn_workspace *ws)
{
    return nn_conv2d_forward_winograd_planned(l, p, NULL, x, y, ws);
}

int nn_conv2d_backward_dx_winograd_planned(const nn_conv2d *l, const nn_params *p,
                                           const nn_winograd_plan *plan, const nn_tensor *x,
                                           const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws)
{
    if (!nn_conv2d_winograd_applies(l, x)) {
        nn_params view = *p;
        view.grad = NULL;
        return nn_conv2d_backward(l, &view, x, dy, dx, ws);
    }
    const nn_deconv2d d = conv_as_deconv(l);
    if (x->c != l->cin || dy->n != x->n || dy->c != l->cout || dy->h != x->h / 2 ||
        dy->w != x->w / 2 || (plan && !plan_fits(plan, &d, 0)))
        return -1;
    if (nn_tensor_resize(dx, x->n, l->cin, x->h, x->w) != 0) return -1;
    const tile_grid g = {x->n, l->cout, dy->h, dy->w, (dy->h + 3) / 4, (dy->w + 3) / 4, dy->data, 0,
                         0, 2 * dy->h, 0};
    /* the transposed layer's forward pass, without its bias */
    return winograd_run_any(&d, plan, p->value + l->w, NULL, 0, &g, dx->data, ws);
}

int nn_conv2d_backward_dx_winograd(const nn_conv2d *l, const nn_params *p, const nn_tensor *x,
                                   const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws)
{
    return nn_conv2d_backward_dx_winograd_planned(l, p, NULL, x, dy, dx, ws);
}
