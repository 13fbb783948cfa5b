/* nn/conv2d.c - convolution and transposed convolution as im2col + sgemm.
 *
 * A convolution with kernel k, stride s and padding p = (k-1)/2 maps an
 * input of C x H x W to O x OH x OW. Unrolling every receptive field of the
 * WHOLE batch into one column matrix
 *
 *     col[r][j],  r = (c*k + ky)*k + kx           (K  = C*k*k rows)
 *                 j = (n*OH + oy)*OW + ox          (NP = N*OH*OW columns)
 *                 col[r][j] = x[n][c][oy*s - p + ky][ox*s - p + kx]
 *
 * turns the layer into one matrix product Y = W col with W the O x K weight
 * matrix, which is where all the flops go. Its adjoint col2im scatters a
 * column matrix back, adding up the overlapping fields.
 *
 * A transposed convolution is exactly the adjoint of a convolution running on
 * its OUTPUT: with cin/cout swapped, the deconv weight [cin][cout][k][k] is
 * that convolution's [out][in][k][k] weight matrix, so
 *     deconv forward  = col2im(W^T x)      deconv backward dx = W im2col(dy)
 * and the same two helpers serve both layers.
 *
 * Threads: OpenBLAS runs its own thread pool inside cblas_sgemm; the loops
 * here (im2col, col2im, layout changes, bias) use OpenMP. The two never
 * overlap: sgemm is only ever called from the serial part of a function,
 * never inside an OpenMP region of ours (that would start one OpenBLAS pool
 * per OpenMP thread and oversubscribe the cores; when a caller runs these
 * functions inside its own parallel region, as the training's workers do,
 * the loops here run serially and nn_gemm multiplies in the calling
 * thread with nn_sgemm), nn_blas_set_threads gives
 * both the same count, and nn_blas_setup makes idle OpenMP threads sleep
 * instead of spinning into the next sgemm (OMP_WAIT_POLICY=passive). Small
 * loops stay serial (see PAR_MIN_WORK): waking threads costs more there.
 *
 * Scratch, all from the caller's nn_workspace: the column matrix (K x NP),
 * one channel-major copy of dy or x, and a plane per thread for col2im.
 *
 * Chunks: for a big image the column matrix alone is huge (the synthesis'
 * 128->128 deconv on a 768x512 image: 3200 x 24576 floats, 315 MB; on a
 * 24 MP photo, 19 GB). So the forward passes run the batch in chunks whose
 * scratch stays under a cap (nn_conv_set_workspace_cap): whole images when
 * at least one fits, otherwise bands of rows of one image. A conv chunk is
 * a band of output rows, whose im2col reads the input rows under it; a
 * deconv chunk is a band of input rows, whose col2im adds into the output
 * rows it reaches (neighbouring bands overlap there, so the output is set to
 * the bias first and every chunk adds). The products are the same, only
 * split by columns, so a chunked result equals the whole one up to the
 * rounding of the sums over overlapping bands. The backward passes (training
 * only, on small patches) still run the whole batch at once. */
#include "nn/conv2d.h"

#include "nn/blas.h"
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

/* below this many floats touched a loop is not worth a parallel region */
#define PAR_MIN_WORK 32768

/* ---- shared geometry and the two column helpers ------------------------- */

/* The convolution the column matrix describes: its input (n, c, h, w) is
 * what im2col reads and col2im writes. */
typedef struct {
    int n, c, h, w;
    int k, stride, pad, replicate;
    int oh, ow;
} conv_geom;

static conv_geom geom_make(int n, int c, int h, int w, int k, int stride, int replicate)
{
    conv_geom g;
    g.n = n; g.c = c; g.h = h; g.w = w;
    g.k = k; g.stride = stride; g.pad = (k - 1) / 2; g.replicate = replicate;
    g.oh = (h + 2 * g.pad - k) / stride + 1;
    g.ow = (w + 2 * g.pad - k) / stride + 1;
    return g;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* First output index ox with 0 <= ox*s + off, and one past the last with
 * ox*s + off < size: the range where the kernel tap reads inside the image. */
static void valid_range(int off, int s, int size, int count, int *lo, int *hi)
{
    int a = off >= 0 ? 0 : (-off + s - 1) / s;
    int b = size - off <= 0 ? 0 : (size - off + s - 1) / s;
    *lo = a < count ? a : count;
    *hi = b < count ? b : count;
    if (*hi < *lo) *hi = *lo;
}

/* A piece of the column matrix: images n0 .. n0+count-1 and, of each, the
 * output rows oy0 .. oy1-1 (all rows when count > 1). Its columns are
 * j = (ni*(oy1 - oy0) + oy - oy0)*OW + ox, ni = n - n0; the whole batch is
 * the chunk {0, N, 0, OH}. */
typedef struct {
    int n0, count, oy0, oy1;
} conv_chunk;

static conv_chunk whole_batch(const conv_geom *g)
{
    conv_chunk c = {0, g->n, 0, g->oh};
    return c;
}

static size_t chunk_pixels(const conv_geom *g, const conv_chunk *c)
{
    return (size_t)(c->oy1 - c->oy0) * g->ow;
}

static size_t chunk_columns(const conv_geom *g, const conv_chunk *c)
{
    return (size_t)c->count * chunk_pixels(g, c);
}

/* col[K][cols] = unrolled receptive fields of the chunk's part of x (layout
 * in the file comment and at conv_chunk). Parallel over rows: each row is
 * one (c, ky, kx) and is written by exactly one thread, contiguously. */
static void im2col(const conv_geom *g, const conv_chunk *ch, const float *x, float *col)
{
    const int k = g->k, s = g->stride;
    const int rows = g->c * k * k;
    const size_t plane = (size_t)g->h * g->w;
    const size_t np = chunk_columns(g, ch);
#pragma omp parallel for schedule(static) if ((size_t)rows * np > PAR_MIN_WORK)
    for (int r = 0; r < rows; r++) {
        const int c = r / (k * k), ky = (r / k) % k, kx = r % k;
        const int offy = ky - g->pad, offx = kx - g->pad;
        int x0, x1;
        valid_range(offx, s, g->w, g->ow, &x0, &x1);
        float *dst = col + (size_t)r * np;
        for (int n = ch->n0; n < ch->n0 + ch->count; n++) {
            const float *src_plane = x + ((size_t)n * g->c + c) * plane;
            for (int oy = ch->oy0; oy < ch->oy1; oy++, dst += g->ow) {
                int iy = oy * s + offy;
                if (iy < 0 || iy >= g->h) {
                    if (!g->replicate) {
                        memset(dst, 0, (size_t)g->ow * sizeof(float));
                        continue;
                    }
                    iy = clampi(iy, 0, g->h - 1);
                }
                const float *src = src_plane + (size_t)iy * g->w;
                /* left and right borders: zeros or the edge pixel */
                float left = g->replicate ? src[0] : 0.0f;
                float right = g->replicate ? src[g->w - 1] : 0.0f;
                for (int ox = 0; ox < x0; ox++) dst[ox] = left;
                if (x1 > x0 && s == 1) {
                    memcpy(dst + x0, src + x0 + offx, (size_t)(x1 - x0) * sizeof(float));
                } else {
#pragma omp simd
                    for (int ox = x0; ox < x1; ox++) dst[ox] = src[ox * s + offx];
                }
                for (int ox = x1; ox < g->ow; ox++) dst[ox] = right;
            }
        }
    }
}

/* The input rows that output rows oy0 .. oy1-1 read, first and one past the
 * last, clamped into the image (replicate padding reads the edge rows; zero
 * padding reads a subset of these). */
static void rows_read(const conv_geom *g, int oy0, int oy1, int *iy0, int *iy1)
{
    *iy0 = clampi(oy0 * g->stride - g->pad, 0, g->h - 1);
    *iy1 = clampi((oy1 - 1) * g->stride - g->pad + g->k - 1, 0, g->h - 1) + 1;
}

/* col2im's scratch: per thread, the input rows one chunk reaches, split by
 * column phase. With stride s, tap kx writes input columns ix = ox*s + kx -
 * pad, all of one residue r = ix mod s; so in the sub-row of residue r
 * (column m = ix div s) every tap is a contiguous, vectorisable add of a
 * shifted source row, instead of a stride-s scatter. The sub-rows are added
 * into x once at the end. For chunks of `rows` output rows. */
static size_t col2im_scratch_per_thread(const conv_geom *g, int rows)
{
    size_t sub_w = (size_t)(g->w + g->stride - 1) / g->stride;
    size_t reach = (size_t)(rows - 1) * g->stride + g->k;
    if (rows < 1 || reach > (size_t)g->h) reach = (size_t)g->h;
    return reach * g->stride * sub_w;
}

static size_t col2im_scratch(const conv_geom *g, int rows)
{
    return (size_t)omp_get_max_threads() * col2im_scratch_per_thread(g, rows);
}

/* Sets every (n, c) plane of x to bias[c], or to 0 when bias is NULL:
 * col2im only adds. */
static void fill_planes(float *x, int n, int c, size_t plane, const float *bias)
{
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * c * plane > PAR_MIN_WORK)
    for (int ni = 0; ni < n; ni++)
        for (int ci = 0; ci < c; ci++) {
            float *dst = x + ((size_t)ni * c + ci) * plane;
            const float v = bias ? bias[ci] : 0.0f;
            for (size_t i = 0; i < plane; i++) dst[i] = v;
        }
}

/* x += col2im(col) for one chunk: the adjoint of im2col. Every column entry
 * is added to the input element im2col would have read it from; with
 * replicate padding the reads clamped to the border add to the border
 * pixel. Parallel over the chunk's planes, so no two threads write the same
 * element; scratch holds col2im_scratch(g, rows) floats for chunks of up to
 * `rows` output rows. */
static void col2im(const conv_geom *g, const conv_chunk *ch, const float *col, float *x,
                   float *scratch, size_t per_thread)
{
    const int k = g->k, s = g->stride;
    const int sub_w = (g->w + s - 1) / s;
    const size_t plane = (size_t)g->h * g->w;
    const size_t cpix = chunk_pixels(g, ch);
    const size_t np = chunk_columns(g, ch);
    int iy0, iy1;
    rows_read(g, ch->oy0, ch->oy1, &iy0, &iy1);
    const size_t acc_len = (size_t)(iy1 - iy0) * s * sub_w;
    const int planes = ch->count * g->c;
#pragma omp parallel for schedule(static) if ((size_t)g->c * k * k * np > PAR_MIN_WORK)
    for (int nc = 0; nc < planes; nc++) {
        const int ni = nc / g->c, c = nc % g->c;
        /* acc[((iy - iy0)*s + r)*sub_w + m] accumulates x[iy][m*s + r] */
        float *acc = scratch + (size_t)omp_get_thread_num() * per_thread;
        memset(acc, 0, acc_len * sizeof(float));
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                const int offy = ky - g->pad, offx = kx - g->pad;
                const int r = ((offx % s) + s) % s, shift = (offx - r) / s;
                int x0, x1;
                valid_range(offx, s, g->w, g->ow, &x0, &x1);
                const float *src = col + (size_t)((c * k + ky) * k + kx) * np + (size_t)ni * cpix;
                for (int oy = ch->oy0; oy < ch->oy1; oy++, src += g->ow) {
                    int iy = oy * s + offy;
                    if (iy < 0 || iy >= g->h) {
                        if (!g->replicate) continue;
                        iy = clampi(iy, 0, g->h - 1);
                    }
                    float *sub = acc + ((size_t)(iy - iy0) * s + r) * sub_w;
#pragma omp simd
                    for (int ox = x0; ox < x1; ox++) sub[ox + shift] += src[ox];
                    if (g->replicate) {
                        /* clamped reads: column 0 is (r 0, m 0), column w-1 is
                         * (r (w-1) mod s, m (w-1) div s) */
                        float *row = acc + (size_t)(iy - iy0) * s * sub_w;
                        for (int ox = 0; ox < x0; ox++) row[0] += src[ox];
                        float *last = row + (size_t)((g->w - 1) % s) * sub_w + (g->w - 1) / s;
                        for (int ox = x1; ox < g->ow; ox++) *last += src[ox];
                    }
                }
            }
        }
        float *dst = x + ((size_t)(ch->n0 + ni) * g->c + c) * plane;
        for (int iy = iy0; iy < iy1; iy++) {
            float *row = dst + (size_t)iy * g->w;
            for (int r = 0; r < s && r < g->w; r++) {
                const float *sub = acc + ((size_t)(iy - iy0) * s + r) * sub_w;
                const int count = (g->w - r + s - 1) / s;
                for (int m = 0; m < count; m++) row[m * s + r] += sub[m];
            }
        }
    }
}

/* The chunk's part of the NCHW tensor t (pix = OH*OW pixels per plane) ->
 * channel-major matrix [c][cols] and back, the only layout changes around
 * the sgemm. The gather also adds each channel's sum to db when db is not
 * NULL (the bias gradient, for free while the data passes by). */
static void nchw_to_cm(const float *t, const conv_geom *g, const conv_chunk *ch, int c,
                       float *m, float *db)
{
    const size_t pix = (size_t)g->oh * g->ow, cpix = chunk_pixels(g, ch);
    const size_t skip = (size_t)ch->oy0 * g->ow;
    const int n = ch->count;
#pragma omp parallel for schedule(static) if ((size_t)n * c * cpix > PAR_MIN_WORK)
    for (int ci = 0; ci < c; ci++) {
        double sum = 0.0; /* double: a channel can sum 10^5 terms */
        for (int ni = 0; ni < n; ni++) {
            const float *src = t + ((size_t)(ch->n0 + ni) * c + ci) * pix + skip;
            float *dst = m + ((size_t)ci * n + ni) * cpix;
            if (!db) {
                memcpy(dst, src, cpix * sizeof(float));
                continue;
            }
            float part = 0.0f;
#pragma omp simd reduction(+ : part)
            for (size_t i = 0; i < cpix; i++) {
                dst[i] = src[i];
                part += src[i];
            }
            sum += part;
        }
        if (db) db[ci] += (float)sum;
    }
}

static void cm_to_nchw(const float *m, const conv_geom *g, const conv_chunk *ch, int c,
                       const float *bias, float *t)
{
    const size_t pix = (size_t)g->oh * g->ow, cpix = chunk_pixels(g, ch);
    const size_t skip = (size_t)ch->oy0 * g->ow;
    const int n = ch->count;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * c * cpix > PAR_MIN_WORK)
    for (int ni = 0; ni < n; ni++) {
        for (int ci = 0; ci < c; ci++) {
            const float *src = m + ((size_t)ci * n + ni) * cpix;
            float *dst = t + ((size_t)(ch->n0 + ni) * c + ci) * pix + skip;
            if (bias) {
                const float b = bias[ci];
                for (size_t i = 0; i < cpix; i++) dst[i] = src[i] + b;
            } else {
                memcpy(dst, src, cpix * sizeof(float));
            }
        }
    }
}

/* ---- the workspace cap and the chunk plan -------------------------------- */

static size_t workspace_cap = NN_CONV_WORKSPACE_CAP_DEFAULT;

size_t nn_conv_set_workspace_cap(size_t bytes)
{
    size_t old = workspace_cap;
    workspace_cap = bytes ? bytes : NN_CONV_WORKSPACE_CAP_DEFAULT;
    return old;
}

size_t nn_conv_workspace_cap(const nn_workspace *ws)
{
    return ws->max_bytes ? ws->max_bytes : workspace_cap;
}

/* How a forward pass splits the batch: `images` whole images per chunk, or,
 * when not even one fits (images == 1, rows < OH), bands of `rows` output
 * rows. per_column: floats of scratch per column of the column matrix (its
 * K rows and the channel-major copy); with_col2im: whether each thread also
 * needs col2im's scratch. The plan fits the cap unless a single row does
 * not; then chunks are one row. */
typedef struct {
    int images, rows;
} chunk_plan;

static chunk_plan plan_chunks(const conv_geom *g, size_t per_column, int with_col2im,
                              const nn_workspace *ws)
{
    const size_t cap = nn_conv_workspace_cap(ws) / sizeof(float);
    chunk_plan p = {1, g->oh > 0 ? g->oh : 1};
    const size_t image = (size_t)g->oh * g->ow * per_column;
    const size_t whole_scratch = with_col2im ? col2im_scratch(g, g->oh) : 0;
    if (image + whole_scratch <= cap) {
        size_t fit = image ? (cap - whole_scratch) / image : (size_t)g->n;
        p.images = fit > (size_t)g->n ? g->n : (int)fit;
        if (p.images < 1) p.images = 1;
        return p;
    }
    /* bands: find the tallest that fits, scratch included */
    int lo = 1, hi = g->oh;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        size_t need = (size_t)mid * g->ow * per_column + (with_col2im ? col2im_scratch(g, mid) : 0);
        if (need <= cap) lo = mid;
        else hi = mid - 1;
    }
    p.rows = lo;
    return p;
}

/* Columns of a plan's biggest chunk. */
static size_t plan_columns(const conv_geom *g, const chunk_plan *p)
{
    return (size_t)p->images * p->rows * g->ow;
}

/* The next chunk of a plan after *c (start with c->count == 0); 0 at the end. */
static int next_chunk(const conv_geom *g, const chunk_plan *p, conv_chunk *c)
{
    if (c->count == 0) {
        c->n0 = 0;
        c->oy0 = 0;
    } else if (c->oy1 < g->oh) {
        c->oy0 = c->oy1;
    } else {
        c->n0 += c->count;
        c->oy0 = 0;
    }
    if (c->n0 >= g->n || g->oh < 1 || g->ow < 1) return 0;
    c->count = g->n - c->n0 < p->images ? g->n - c->n0 : p->images;
    c->oy1 = c->oy0 + p->rows < g->oh ? c->oy0 + p->rows : g->oh;
    return 1;
}

/* db[c] += sum over n and pixels of the NCHW tensor t */
static void bias_grad(const float *t, int n, int c, size_t pix, float *db)
{
#pragma omp parallel for schedule(static) if ((size_t)n * c * pix > PAR_MIN_WORK)
    for (int ci = 0; ci < c; ci++) {
        double sum = 0.0; /* double: a channel can sum 10^5 terms */
        for (int ni = 0; ni < n; ni++) {
            const float *src = t + ((size_t)ni * c + ci) * pix;
            float part = 0.0f;
            for (size_t i = 0; i < pix; i++) part += src[i];
            sum += part;
        }
        db[ci] += (float)sum;
    }
}

void nn_conv_bias_grad(const nn_tensor *dy, float *db)
{
    bias_grad(dy->data, dy->n, dy->c, (size_t)dy->h * dy->w, db);
}

/* Declares NAME.weight [d0][d1][k][k] and NAME.bias [nbias]; the layer
 * struct is only written by the callers once both succeeded. */
static int declare_pair(nn_params *p, const char *name, int d0, int d1, int k, int nbias,
                        size_t *w, size_t *b)
{
    char wname[NN_PARAM_NAME_MAX], bname[NN_PARAM_NAME_MAX];
    int lw = snprintf(wname, sizeof wname, "%s.weight", name);
    int lb = snprintf(bname, sizeof bname, "%s.bias", name);
    if (lw < 0 || lb < 0 || (size_t)lw >= sizeof wname || (size_t)lb >= sizeof bname) return -1;
    *w = nn_params_declare(p, wname, d0, d1, k, k);
    if (*w == (size_t)-1) return -1;
    *b = nn_params_declare(p, bname, nbias, 1, 1, 1);
    return *b == (size_t)-1 ? -1 : 0;
}

/* U(-a, a) has variance a^2 / 3, so a = sqrt(3 / fan_in) gives Var(w) =
 * 1/fan_in: a sum of fan_in unit-variance inputs keeps unit variance. */
static void uniform_fill(float *w, size_t count, double fan_in, nn_rng *rng)
{
    const float a = (float)sqrt(3.0 / fan_in);
    for (size_t i = 0; i < count; i++) w[i] = a * (2.0f * nn_rng_uniform(rng) - 1.0f);
}

/* ---- convolution -------------------------------------------------------- */

int nn_conv2d_declare(nn_conv2d *l, nn_params *p, const char *name,
                      int cin, int cout, int k, int stride, int pad_mode)
{
    if (cin < 1 || cout < 1 || k < 1 || k % 2 == 0 || stride < 1) return -1;
    if (pad_mode != NN_PAD_ZERO && pad_mode != NN_PAD_REPLICATE) return -1;
    size_t w, b;
    if (declare_pair(p, name, cout, cin, k, cout, &w, &b) != 0) return -1;
    l->cin = cin; l->cout = cout; l->k = k; l->stride = stride; l->pad_mode = pad_mode;
    l->w = w; l->b = b;
    return 0;
}

void nn_conv2d_init(const nn_conv2d *l, nn_params *p, nn_rng *rng)
{
    size_t count = (size_t)l->cout * l->cin * l->k * l->k;
    uniform_fill(p->value + l->w, count, (double)l->cin * l->k * l->k, rng);
    memset(p->value + l->b, 0, (size_t)l->cout * sizeof(float));
}

void nn_conv2d_out_shape(const nn_conv2d *l, int h, int w, int *oh, int *ow)
{
    conv_geom g = geom_make(1, l->cin, h, w, l->k, l->stride, 0);
    *oh = g.oh;
    *ow = g.ow;
}

int nn_conv2d_forward(const nn_conv2d *l, const nn_params *p, const nn_tensor *x,
                      nn_tensor *y, nn_workspace *ws)
{
    if (x->c != l->cin) return -1;
    const conv_geom g = geom_make(x->n, x->c, x->h, x->w, l->k, l->stride,
                                  l->pad_mode == NN_PAD_REPLICATE);
    const int kk = l->cin * l->k * l->k;
    if (nn_tensor_resize(y, g.n, l->cout, g.oh, g.ow) != 0) return -1;
    const chunk_plan plan = plan_chunks(&g, (size_t)kk + l->cout, 0, ws);
    const size_t max_cols = plan_columns(&g, &plan);
    float *col = nn_workspace_get(ws, ((size_t)kk + l->cout) * max_cols);
    if (!col) return -1;
    float *ym = col + (size_t)kk * max_cols; /* [cout][cols] */

    conv_chunk ch = {0};
    while (next_chunk(&g, &plan, &ch)) {
        const size_t cols = chunk_columns(&g, &ch);
        im2col(&g, &ch, x->data, col);
        nn_gemm(0, 0, l->cout, (int)cols, kk,
                    1.0f, p->value + l->w, kk, col, (int)cols, 0.0f, ym, (int)cols);
        cm_to_nchw(ym, &g, &ch, l->cout, p->value + l->b, y->data);
    }
    return 0;
}

int nn_conv2d_backward(const nn_conv2d *l, nn_params *p, const nn_tensor *x,
                       const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws)
{
    const conv_geom g = geom_make(x->n, x->c, x->h, x->w, l->k, l->stride,
                                  l->pad_mode == NN_PAD_REPLICATE);
    if (x->c != l->cin || dy->n != g.n || dy->c != l->cout || dy->h != g.oh || dy->w != g.ow)
        return -1;
    const int kk = l->cin * l->k * l->k;
    const conv_chunk all = whole_batch(&g);
    const size_t np = chunk_columns(&g, &all);
    if (dx && nn_tensor_resize(dx, g.n, g.c, g.h, g.w) != 0) return -1;
    float *col = nn_workspace_get(ws, ((size_t)kk + l->cout) * np + col2im_scratch(&g, g.oh));
    if (!col) return -1;
    float *dym = col + (size_t)kk * np; /* [cout][NP] */
    float *scratch = dym + (size_t)l->cout * np;

    nchw_to_cm(dy->data, &g, &all, l->cout, dym, p->grad ? p->grad + l->b : NULL);
    if (p->grad) {
        im2col(&g, &all, x->data, col);
        /* dW[cout][K] += dY[cout][NP] col[K][NP]^T */
        nn_gemm(0, 1, l->cout, kk, (int)np,
                    1.0f, dym, (int)np, col, (int)np, 1.0f, p->grad + l->w, kk);
    }
    if (!dx) return 0;
    /* dcol[K][NP] = W^T dY, into col's memory (col is no longer needed) */
    nn_gemm(1, 0, kk, (int)np, l->cout,
                1.0f, p->value + l->w, kk, dym, (int)np, 0.0f, col, (int)np);
    fill_planes(dx->data, g.n, g.c, (size_t)g.h * g.w, NULL);
    col2im(&g, &all, col, dx->data, scratch, col2im_scratch_per_thread(&g, g.oh));
    return 0;
}

/* ---- transposed convolution --------------------------------------------- */

/* The convolution whose adjoint the deconv is: it reads the deconv's output
 * (cout channels, H*s x W*s) and produces H x W. */
static conv_geom deconv_geom(const nn_deconv2d *l, int n, int h, int w)
{
    return geom_make(n, l->cout, h * l->stride, w * l->stride, l->k, l->stride, 0);
}

int nn_deconv2d_declare(nn_deconv2d *l, nn_params *p, const char *name,
                        int cin, int cout, int k, int stride)
{
    if (cin < 1 || cout < 1 || k < 1 || k % 2 == 0 || stride < 1) return -1;
    size_t w, b;
    if (declare_pair(p, name, cin, cout, k, cout, &w, &b) != 0) return -1;
    l->cin = cin; l->cout = cout; l->k = k; l->stride = stride;
    l->w = w; l->b = b;
    return 0;
}

void nn_deconv2d_init(const nn_deconv2d *l, nn_params *p, nn_rng *rng)
{
    /* an output pixel sees on average k*k / stride^2 taps of each input channel */
    size_t count = (size_t)l->cin * l->cout * l->k * l->k;
    double fan_in = (double)l->cin * l->k * l->k / ((double)l->stride * l->stride);
    uniform_fill(p->value + l->w, count, fan_in, rng);
    memset(p->value + l->b, 0, (size_t)l->cout * sizeof(float));
}

int nn_deconv2d_forward(const nn_deconv2d *l, const nn_params *p, const nn_tensor *x,
                        nn_tensor *y, nn_workspace *ws)
{
    if (x->c != l->cin) return -1;
    const conv_geom g = deconv_geom(l, x->n, x->h, x->w);
    const int kk = l->cout * l->k * l->k;
    if (nn_tensor_resize(y, g.n, g.c, g.h, g.w) != 0) return -1;
    const chunk_plan plan = plan_chunks(&g, (size_t)kk + l->cin, 1, ws);
    const size_t max_cols = plan_columns(&g, &plan);
    const size_t per_thread = col2im_scratch_per_thread(&g, plan.rows);
    float *col = nn_workspace_get(ws, ((size_t)kk + l->cin) * max_cols + col2im_scratch(&g, plan.rows));
    if (!col) return -1;
    float *xm = col + (size_t)kk * max_cols; /* [cin][cols] */
    float *scratch = xm + (size_t)l->cin * max_cols;

    /* the chunks' col2im add up where their output rows overlap */
    fill_planes(y->data, g.n, g.c, (size_t)g.h * g.w, p->value + l->b);
    conv_chunk ch = {0};
    while (next_chunk(&g, &plan, &ch)) {
        const size_t cols = chunk_columns(&g, &ch), pix = (size_t)g.oh * g.ow;
        /* x[cin][cols]: one image's rows are already that, a channel's
         * plane apart (the decoder's last layer, band by band: no copy);
         * several images' are gathered into xm */
        const float *xc = xm;
        size_t ldx = cols;
        if (ch.count == 1 && pix <= (size_t)INT_MAX) {
            xc = x->data + (size_t)ch.n0 * l->cin * pix + (size_t)ch.oy0 * g.ow;
            ldx = pix;
        } else {
            nchw_to_cm(x->data, &g, &ch, l->cin, xm, NULL);
        }
        /* col[K][cols] = W[cin][K]^T x[cin][cols] */
        nn_gemm(1, 0, kk, (int)cols, l->cin,
                    1.0f, p->value + l->w, kk, xc, (int)ldx, 0.0f, col, (int)cols);
        col2im(&g, &ch, col, y->data, scratch, per_thread);
    }
    return 0;
}

int nn_deconv2d_backward(const nn_deconv2d *l, nn_params *p, const nn_tensor *x,
                         const nn_tensor *dy, nn_tensor *dx, nn_workspace *ws)
{
    const conv_geom g = deconv_geom(l, x->n, x->h, x->w);
    if (x->c != l->cin || dy->n != g.n || dy->c != g.c || dy->h != g.h || dy->w != g.w)
        return -1;
    const int kk = l->cout * l->k * l->k;
    const conv_chunk all = whole_batch(&g);
    const size_t np = chunk_columns(&g, &all);
    if (dx && nn_tensor_resize(dx, x->n, x->c, x->h, x->w) != 0) return -1;
    float *col = nn_workspace_get(ws, ((size_t)kk + l->cin) * np);
    if (!col) return -1;
    float *xm = col + (size_t)kk * np; /* [cin][NP] */

    im2col(&g, &all, dy->data, col);
    if (p->grad) {
        nchw_to_cm(x->data, &g, &all, l->cin, xm, NULL);
        bias_grad(dy->data, g.n, g.c, (size_t)g.h * g.w, p->grad + l->b);
        /* dW[cin][K] += x[cin][NP] col[K][NP]^T */
        nn_gemm(0, 1, l->cin, kk, (int)np,
                    1.0f, xm, (int)np, col, (int)np, 1.0f, p->grad + l->w, kk);
    }
    if (!dx) return 0;
    /* dx[cin][NP] = W[cin][K] col[K][NP], into xm's memory */
    nn_gemm(0, 0, l->cin, (int)np, kk,
                1.0f, p->value + l->w, kk, col, (int)np, 0.0f, xm, (int)np);
    cm_to_nchw(xm, &g, &all, l->cin, NULL, dx->data);
    return 0;
}
