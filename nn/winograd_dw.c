/* nn/winograd_dw.c - the weights' gradients of the 5x5 stride-2 layers by
 * Winograd F(4x4, 3x3), the phase decomposition of deconv_winograd.c run
 * for the weights (see deconv_winograd.h).
 *
 * Per tile and point pt the passes there compute
 *     M[pt][r][tile] = sum_c U[pt][r][c] V[pt][c][tile],    Y = A^T M A,
 * U = G g G^T the transformed phase kernels, V = B^T d B the transformed
 * input tiles. Y is linear in U, so for the gradient dY of a loss at the
 * outputs (zero outside the image)
 *     dU[pt][r][c] = sum over tiles of dM[pt][r][tile] V[pt][c][tile],
 *     dM = A dY A^T,
 * 36 products [rows x tiles] x [tiles x chans] summed over the tiles; and
 * then dg = G^T dU G, one 3x3 per (r, c), whose taps are 5x5 kernel taps
 * through the phase tables (a missing tap is a constant zero of g: it has
 * no weight to go to). Per input tile and (cin, cout) pair that is 36 x 4
 * multiply-adds, against the direct gradient's 25 x 16.
 *
 * The two layers, as in deconv_winograd.c:
 *   transposed convolution: rows r = 4 co + 2a + b (dy's phases), columns
 *     c = ci (x's channels), taps tap_of, over x's grid;
 *   convolution: rows r = co (dy's channels), columns c = 4 ci + 2a + b
 *     (x's phases), taps tap_dx, over dy's grid.
 *
 * Order: the tiles run in chunks under the workspace cap, and each product
 * adds its chunk to dU (beta 1 after the first), so every sum runs in an
 * order set by the shapes and the cap alone, whatever the thread count
 * (nn_sgemm sums the same way on any thread count too). */
#include "nn/deconv_winograd.h"

#include "nn/vector_copies.h"
#include "nn/winograd_int.h"
#include <omp.h>
#include <string.h>

/* below this many floats touched a loop is not worth a parallel region */
#define PAR_MIN_WORK 32768
/* Fewer tiles than this go to the plain passes: the products' depth is the
 * tile count, and below it writing and transforming dU (36 x rows x chans)
 * costs more than the products save (tests/bench_winograd --dw 2 and 4:
 * layers of 32 tiles or fewer were slower by Winograd, of 64 faster). */
#define MIN_DW_TILES 64

/* The gradient of one layer as the products see it: which grids give the
 * products' columns (x, transformed by nn_winograd_input_tiles) and rows
 * (dy), and where gradient (r, c) goes in the weights. */
typedef struct {
    tile_grid xg, dyg;
    int rows, chans;
    int phase_rows;    /* 1: the phase is r's (a transposed convolution), 0: c's */
    int second;        /* the weights' second dimension: cout (transposed) or cin */
    const int (*taps)[3];
    float *grad;       /* the weights' gradient, [first][second][5][5] */
} dw_job;

/* Row stride of V's and dM's rows: the chunk's tile count in LANES, plus
 * LANES (a row-major [chans][tiles] matrix whose rows are a power of two
 * apart shares L1 sets when the GEMM packs it). */
static size_t tile_span(size_t count)
{
    return (count + LANES - 1) / LANES * LANES + LANES;
}

/* Floats of workspace for chunks of `chunk` tiles: V and dM ([pt][row][tile]),
 * and dU ([pt][r][c]) */
static size_t dw_floats(const dw_job *j, size_t chunk)
{
    const size_t span = tile_span(chunk);
    return POINTS * (point_stride((size_t)j->chans * span) + point_stride((size_t)j->rows * span) +
                     point_stride((size_t)j->rows * j->chans));
}

/* o = A y for one line of 4 outputs -> 6 points, LANES tiles at once
 * (y[k * s + lane]): the transpose of deconv_winograd.c's output_line */
static inline void grad_line(const float *y, int s, float *o, int os)
{
    for (int q = 0; q < LANES; q++) {
        const float y0 = y[q], y1 = y[s + q], y2 = y[2 * s + q], y3 = y[3 * s + q];
        const float p02 = y0 + y2, p13 = y1 + y3, q02 = y0 + 4.0f * y2, q13 = 2.0f * y1 + 8.0f * y3;
        o[q] = y0;
        o[os + q] = p02 + p13;
        o[2 * os + q] = p02 - p13;
        o[3 * os + q] = q02 + q13;
        o[4 * os + q] = q02 - q13;
        o[5 * os + q] = y3;
    }
}

/* One job of grad_tiles: dM = A dY A^T of LANES tiles from tl0 of row r,
 * written to dm[pt][r][tl0 ..] (zeros for tiles past count) */
NN_VECTOR_BODY void grad_job_body(const tile_grid *g, long t0, int count, float *dm,
                                  size_t span, size_t mstride, int r, int tl0)
{
    const int lanes = count - tl0 < LANES ? count - tl0 : LANES;
    float e[4][4][LANES], t[6][4][LANES], o[6][6][LANES];
    load_tiles(g, r, t0 + tl0, lanes, 4, 0, e[0][0]);
    for (int j = 0; j < 4; j++) grad_line(e[0][j], 4 * LANES, t[0][j], 4 * LANES); /* columns */
    for (int i = 0; i < 6; i++) grad_line(t[i][0], LANES, o[i][0], LANES);         /* rows */
    float *dst = dm + (size_t)r * span + tl0;
    for (size_t pt = 0; pt < POINTS; pt++) {
        float *dp = dst + pt * mstride;
        const float *op = o[pt / 6][pt % 6];
        for (int q = 0; q < LANES; q++) dp[q] = op[q];
    }
}
NN_VECTOR_COPIES(grad_job,
                 (const tile_grid *g, long t0, int count, float *dm, size_t span, size_t mstride,
                  int r, int tl0),
                 (g, t0, count, dm, span, mstride, r, tl0))

/* dM of tiles t0 .. t0 + count - 1 of every row of grid g */
static void grad_tiles(const tile_grid *g, long t0, int count, float *dm, size_t span,
                       size_t mstride)
{
    const int blocks = (count + LANES - 1) / LANES;
    const long jobs = (long)g->chans * blocks;
#pragma omp parallel for schedule(static) if ((size_t)jobs * LANES * POINTS > PAR_MIN_WORK)
    for (long job = 0; job < jobs; job++)
        grad_job(g, t0, count, dm, span, mstride, (int)(job / blocks), (int)(job % blocks) * LANES);
}

/* o = G^T u for one line of 6 points -> 3 taps, LANES columns at once
 * (u[k * s + lane]; G of F(4, 3), deconv_winograd.c's wino_g) */
static inline void weight_line(const float *u, int s, float *o, int os)
{
    for (int q = 0; q < LANES; q++) {
        const float u0 = u[q], u1 = u[s + q], u2 = u[2 * s + q], u3 = u[3 * s + q],
                    u4 = u[4 * s + q], u5 = u[5 * s + q];
        const float p12 = u1 + u2, n12 = u2 - u1, p34 = u3 + u4, n34 = u3 - u4;
        o[q] = 0.25f * u0 - p12 * (1.0f / 6) + p34 * (1.0f / 24);
        o[os + q] = n12 * (1.0f / 6) + n34 * (1.0f / 12);
        o[2 * os + q] = (p34 - p12) * (1.0f / 6) + u5;
    }
}

/* Row r of the gradient: dg = G^T dU G for each column c, added to the
 * weights' gradient at the taps of its phase */
NN_VECTOR_BODY void weight_row_body(const dw_job *j, const float *du, size_t ustride, int r)
{
    float m[6][6][LANES], t[6][3][LANES], dg[3][3][LANES];
    for (int c0 = 0; c0 < j->chans; c0 += LANES) {
        const int lanes = j->chans - c0 < LANES ? j->chans - c0 : LANES;
        for (size_t pt = 0; pt < POINTS; pt++) {
            const float *src = du + pt * ustride + (size_t)r * j->chans + c0;
            float *mp = m[pt / 6][pt % 6];
            if (lanes == LANES) {
                for (int q = 0; q < LANES; q++) mp[q] = src[q];
            } else {
                for (int q = 0; q < LANES; q++) mp[q] = q < lanes ? src[q] : 0.0f;
            }
        }
        for (int i = 0; i < 6; i++) weight_line(m[i][0], LANES, t[i][0], LANES); /* dU G */
        for (int e = 0; e < 3; e++) weight_line(t[0][e], 3 * LANES, dg[0][e], 3 * LANES); /* G^T . */
        for (int q = 0; q < lanes; q++) {
            const int c = c0 + q, ph = j->phase_rows ? r & 3 : c & 3, a = ph >> 1, b = ph & 1;
            const size_t first = j->phase_rows ? (size_t)c : (size_t)r;
            const size_t second = j->phase_rows ? (size_t)(r >> 2) : (size_t)(c >> 2);
            float *w = j->grad + (first * j->second + second) * 25;
            for (int dd = 0; dd < 3; dd++)
                for (int ee = 0; ee < 3; ee++)
                    if (j->taps[a][dd] >= 0 && j->taps[b][ee] >= 0)
                        w[j->taps[a][dd] * 5 + j->taps[b][ee]] += dg[dd][ee][q];
        }
    }
}
NN_VECTOR_COPIES(weight_row,
                 (const dw_job *j, const float *du, size_t ustride, int r),
                 (j, du, ustride, r))

/* The weights' gradient of job j, added to j->grad. Rows write disjoint
 * weights (each tap is one phase's), so they run in parallel. */
static int winograd_dw(const dw_job *j, nn_workspace *ws)
{
    const tile_grid *g = &j->xg;
    const long total = (long)g->n * g->th * g->tw;
    if (total == 0) return 0;
    const size_t cap = nn_conv_workspace_cap(ws) / sizeof(float);
    const size_t fixed = POINTS * point_stride((size_t)j->rows * j->chans);
    size_t chunk = cap > fixed ? (cap - fixed) / ((size_t)POINTS * ((size_t)j->chans + j->rows)) : 0;
    if (chunk > (size_t)total) chunk = (size_t)total;
    while (chunk > MIN_CHUNK_TILES && dw_floats(j, chunk) > cap) chunk -= 16;
    if (chunk < MIN_CHUNK_TILES) chunk = MIN_CHUNK_TILES;
    if (chunk > (size_t)total) chunk = (size_t)total;
    const size_t span = tile_span(chunk);
    const size_t vstride = point_stride((size_t)j->chans * span),
                 mstride = point_stride((size_t)j->rows * span),
                 ustride = point_stride((size_t)j->rows * j->chans);
    float *v = nn_workspace_get(ws, dw_floats(j, chunk));
    if (!v) return -1;
    float *dm = v + POINTS * vstride, *du = dm + POINTS * mstride;
    for (long t0 = 0; t0 < total; t0 += (long)chunk) {
        const int count = total - t0 < (long)chunk ? (int)(total - t0) : (int)chunk;
        /* V row-major, [c][tile] with rows span apart: the packed layout of
         * one sliver span wide and one K block */
        const nn_sgemm_blayout rows_layout = {j->chans, count, j->chans, (int)span};
        nn_winograd_input_tiles(g, t0, count, v, &rows_layout, vstride);
        grad_tiles(&j->dyg, t0, count, dm, span, mstride);
        const float beta = t0 == 0 ? 0.0f : 1.0f;
        /* one product per thread at a time, as in deconv_winograd.c */
#pragma omp parallel for schedule(dynamic)
        for (int pt = 0; pt < POINTS; pt++)
            nn_sgemm(0, 1, j->rows, j->chans, count, 1.0f, dm + (size_t)pt * mstride, (int)span,
                     v + (size_t)pt * vstride, (int)span, beta, du + (size_t)pt * ustride, j->chans);
    }
#pragma omp parallel for schedule(static) if ((size_t)j->rows * j->chans * POINTS > PAR_MIN_WORK)
    for (int r = 0; r < j->rows; r++) weight_row(j, du, ustride, r);
    return 0;
}

/* The gradients of the layer whose products' columns are grid xg's
 * channels and rows dyg's (dw_job), and its bias's from dy */
static int weights_and_bias(const tile_grid *xg, const tile_grid *dyg, int phase_rows, int second,
                            const int taps[2][3], float *grad, const nn_tensor *dy, float *db,
                            nn_workspace *ws)
{
    const dw_job j = {*xg, *dyg, dyg->chans, xg->chans, phase_rows, second, taps, grad};
    if (winograd_dw(&j, ws)) return -1;
    nn_conv_bias_grad(dy, db);
    return 0;
}

int nn_deconv2d_backward_dw_winograd(const nn_deconv2d *l, nn_params *p, const nn_tensor *x,
                                     const nn_tensor *dy, nn_workspace *ws)
{
    if (!nn_deconv2d_winograd_applies(l)) return nn_deconv2d_backward(l, p, x, dy, NULL, ws);
    if (x->c != l->cin || dy->n != x->n || dy->c != l->cout || dy->h != 2 * x->h ||
        dy->w != 2 * x->w)
        return -1;
    if (!p->grad) return 0;
    const int th = (x->h + 3) / 4, tw = (x->w + 3) / 4;
    if ((long)x->n * th * tw < MIN_DW_TILES) return nn_deconv2d_backward(l, p, x, dy, NULL, ws);
    const tile_grid xg = {x->n, l->cin, x->h, x->w, th, tw, x->data, 0, 0, 0, 0},
                    dyg = {x->n, 4 * l->cout, x->h, x->w, th, tw, dy->data, 1, 0, 0, 0};
    return weights_and_bias(&xg, &dyg, 1, l->cout, tap_of, p->grad + l->w, dy, p->grad + l->b, ws);
}

int nn_conv2d_backward_dw_winograd(const nn_conv2d *l, nn_params *p, const nn_tensor *x,
                                   const nn_tensor *dy, nn_workspace *ws)
{
    if (!nn_conv2d_winograd_applies(l, x)) return nn_conv2d_backward(l, p, x, dy, NULL, ws);
    if (x->c != l->cin || dy->n != x->n || dy->c != l->cout || dy->h != x->h / 2 ||
        dy->w != x->w / 2)
        return -1;
    if (!p->grad) return 0;
    const int h = x->h / 2, w = x->w / 2, th = (h + 3) / 4, tw = (w + 3) / 4;
    if ((long)x->n * th * tw < MIN_DW_TILES) return nn_conv2d_backward(l, p, x, dy, NULL, ws);
    const tile_grid xg = {x->n, 4 * l->cin, h, w, th, tw, x->data, 1, 0, 0, 0},
                    dyg = {x->n, l->cout, h, w, th, tw, dy->data, 0, 0, 0, 0};
    return weights_and_bias(&xg, &dyg, 0, l->cin, tap_dx, p->grad + l->w, dy, p->grad + l->b, ws);
}
