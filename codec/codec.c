/* codec/codec.c - encoding and decoding one image with a coding-ready model.
 *
 * Stages of the decoder (spec/aec-format.md, "Latent layout"):
 *   1. parse the container and check the model identity;
 *   2. entropy-decode the hyper-latent z^ (N x H/64 x W/64, channel by
 *      channel, raster order, table = its channel's);
 *   3. run the integer hyper-synthesis on z^: a scale and a mean per latent;
 *   4. entropy-decode r = round(y - mu) for every latent (M x H/16 x W/16,
 *      same order, table chosen by the integer scale);
 *   5. y^ = r + mu, then the float synthesis, crop and round to 8 bits.
 * Steps 1-4 are integer-only, so every machine reads the same latents. */
#include "codec/codec.h"
#include "codec/codec_parts.h"
#include "codec/search.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/le32.h"
#include "codec/model_file.h"
#include "codec/rangecoder.h"
#include "nn/ops.h"

/* scratch cap of the coder's convolutions: bounds memory on big images
 * (training keeps the larger default: bigger chunks run faster) */
#define AEC_CODING_WORKSPACE_BYTES ((size_t)8 << 20)

/* ---- identity: FNV-1a 64 over everything the decoder uses --------------- */

static void fnv(uint64_t *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        *h ^= p[i];
        *h *= 0x100000001b3ULL;
    }
}

/* d = an empty decoder-only model of m's architecture (its values zeroed,
 * untouched) and *view = m's values laid out as d's entries (names,
 * shapes, order; view->entries malloc'd, the rest shared): the decoder's
 * parameters picked out of either kind of model by name. 0, or -1 (nothing
 * left to free) when out of memory or m lacks one. */
static int decoder_view(const aec_model *m, aec_model *d, nn_params *view)
{
    if (aec_model_create_decoder(d, &m->arch)) return -1;
    *view = d->p;
    view->value = m->p.value;
    view->grad = NULL;
    view->entries = malloc((size_t)d->p.n_entries * sizeof *view->entries);
    for (int i = 0; view->entries && i < d->p.n_entries; i++) {
        const nn_param_entry *e = &d->p.entries[i], *src = nn_params_find(&m->p, e->name);
        if (!src || src->count != e->count) {
            free(view->entries);
            view->entries = NULL;
            break;
        }
        view->entries[i] = *e;
        view->entries[i].offset = src->offset;
    }
    if (!view->entries) aec_model_free(d);
    return view->entries ? 0 : -1;
}

/* d = a decoder-only model holding m's decoder parameters */
static int decoder_copy(const aec_model *m, aec_model *d)
{
    nn_params view;
    if (decoder_view(m, d, &view)) return -1;
    for (int i = 0; i < d->p.n_entries; i++)
        memcpy(d->p.value + d->p.entries[i].offset, view.value + view.entries[i].offset,
               d->p.entries[i].count * sizeof(float));
    free(view.entries);
    return 0;
}

static void fnv_sink(void *h, const uint8_t *data, size_t len)
{
    fnv(h, data, len);
}

/* Hashes the decoder's parameters as the float32 blob a decoder-only model
 * would serialise to, streamed (nn_params_serialize_stream), never the
 * 6 MB blob itself; a full model's through decoder_view, without a copy. */
static int hash_decoder_params(const aec_model *m, uint64_t *h)
{
    if (m->decoder_only) return nn_params_serialize_stream(&m->p, 0, fnv_sink, h);
    aec_model d;
    nn_params view;
    if (decoder_view(m, &d, &view)) return -1;
    int r = nn_params_serialize_stream(&view, 0, fnv_sink, h);
    free(view.entries);
    aec_model_free(&d);
    return r;
}

/* The coding chunks' bytes: as stored (a loaded model's, borrowed) or
 * serialised (make_blobs, freed with free_blobs). */
typedef struct {
    const uint8_t *hs, *z, *y, *ctx;   /* ctx: context models only */
    size_t hs_len, z_len, y_len, ctx_len;
} coding_bytes;

static void free_blobs(coding_bytes *b)
{
    free((void *)b->hs);
    free((void *)b->ctx);
    free((void *)b->z);
    free((void *)b->y);
    memset(b, 0, sizeof *b);
}

static int make_blobs(const aec_codec *c, coding_bytes *b)
{
    memset(b, 0, sizeof *b);
    uint8_t *hs = NULL, *z = NULL, *y = NULL, *ctx = NULL;
    int bad = aec_hs_int_serialize(&c->hs, &hs, &b->hs_len) ||
              aec_cdf_set_serialize(&c->z_tables, &z, &b->z_len) ||
              aec_cdf_set_serialize(&c->y_tables, &y, &b->y_len) ||
              (c->model.arch.context && aec_ctx_int_serialize(&c->ctx, &ctx, &b->ctx_len));
    b->hs = hs;
    b->z = z;
    b->y = y;
    b->ctx = ctx;
    if (bad) free_blobs(b);
    return bad ? -1 : 0;
}

/* c->id from the model's decoder parameters and the coding chunks' bytes;
 * reads c->model only, so it can run beside the chunks' parsing. 0, or -1
 * when out of memory. */
static int compute_id(aec_codec *c, const coding_bytes *b)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const aec_arch *a = &c->model.arch;
    /* N, M, Levels and the lambdas' float bits as u32 little-endian, so
     * the id does not depend on the host's byte order */
    uint32_t words[3 + AEC_MAX_LEVELS] = {(uint32_t)a->n, (uint32_t)a->m, (uint32_t)a->levels};
    memcpy(words + 3, a->lambda, sizeof(float) * (size_t)a->levels);
    for (int i = 0; i < 3 + a->levels; i++) {
        uint8_t le[4] = {(uint8_t)words[i], (uint8_t)(words[i] >> 8), (uint8_t)(words[i] >> 16),
                         (uint8_t)(words[i] >> 24)};
        fnv(&h, le, sizeof le);
    }
    if (hash_decoder_params(&c->model, &h)) return -1;
    fnv(&h, b->hs, b->hs_len);
    fnv(&h, b->z, b->z_len);
    fnv(&h, b->y, b->y_len);
    if (a->context) {
        const uint8_t flags[4] = {(uint8_t)AEC_ARCH_CONTEXT, 0, 0, 0};
        fnv(&h, flags, sizeof flags);
        fnv(&h, b->ctx, b->ctx_len);
    }
    for (int i = 0; i < AEC_MODEL_ID_SIZE; i++) c->id[i] = (uint8_t)(h >> (56 - 8 * i));
    return 0;
}

/* c->id from the decoder half as it would be stored */
int aec_codec_set_identity(aec_codec *c)
{
    coding_bytes b;
    if (make_blobs(c, &b)) return -1;
    int r = compute_id(c, &b);
    free_blobs(&b);
    return r;
}

/* ---- building, saving, loading ------------------------------------------ */

void aec_codec_free(aec_codec *c)
{
    aec_model_free(&c->model);
    aec_hs_int_free(&c->hs);
    aec_ctx_int_free(&c->ctx);
    aec_cdf_set_free(&c->z_tables);
    aec_cdf_set_free(&c->y_tables);
    free(c->fit_scores);
    memset(c, 0, sizeof *c);
}

static int32_t level_position_q16(const aec_model *m, uint16_t quality_x100)
{
    return (int32_t)(((int64_t)quality_x100 * (m->arch.levels - 1) << AEC_HS_T_FRAC) / 10000);
}

/* The FITS chunk: u32 count, then count float32 scores, ascending. */
static uint8_t *fits_bytes(const aec_codec *c, size_t *len)
{
    *len = 4 + 4 * (size_t)c->fit_count;
    uint8_t *p = malloc(*len);
    if (!p) return NULL;
    aec_put_le32(p, c->fit_count);
    for (uint32_t i = 0; i < c->fit_count; i++) {
        uint32_t u;
        memcpy(&u, &c->fit_scores[i], 4);
        aec_put_le32(p + 4 + 4 * (size_t)i, u);
    }
    return p;
}

/* Reads a FITS chunk into c->fit_scores; 0, or -1 with the reason in why. */
static int parse_fits(aec_codec *c, const uint8_t *p, size_t len, char *why, size_t whylen)
{
    uint32_t n = len >= 4 ? aec_get_le32(p) : 0;
    if (len < 4 || n < 1 || n > AEC_FIT_MAX_SCORES || len != 4 + 4 * (size_t)n) {
        snprintf(why, whylen, "bad FITS chunk (length %zu)", len);
        return -1;
    }
    if (!(c->fit_scores = malloc(4 * (size_t)n))) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t u = aec_get_le32(p + 4 + 4 * (size_t)i);
        memcpy(&c->fit_scores[i], &u, 4);
        if (!isfinite(c->fit_scores[i]) || (i > 0 && c->fit_scores[i] < c->fit_scores[i - 1])) {
            snprintf(why, whylen, "bad FITS chunk (score %u not finite or out of order)", i);
            return -1;
        }
    }
    c->fit_count = n;
    return 0;
}

int aec_codec_serialize(const aec_codec *c, int decoder_only, const char *meta, uint8_t **out,
                        size_t *len)
{
    coding_bytes b;
    if (make_blobs(c, &b)) return -1;
    uint8_t *fits = NULL;
    size_t fits_len = 0;
    if (!decoder_only && c->fit_count && !(fits = fits_bytes(c, &fits_len))) {
        free_blobs(&b);
        return -1;
    }
    aec_chunk extra[5] = {{{'H', 'S', 'I', 'Q'}, b.hs, b.hs_len},
                          {{'Z', 'C', 'D', 'F'}, b.z, b.z_len},
                          {{'Y', 'C', 'D', 'F'}, b.y, b.y_len},
                          {{'C', 'T', 'X', 'Q'}, b.ctx, b.ctx_len},
                          {{'F', 'I', 'T', 'S'}, fits, fits_len}};
    int n_extra = c->model.arch.context ? 4 : 3;
    if (fits) extra[n_extra++] = extra[4];
    int r = -1;
    if (decoder_only && !c->model.decoder_only) {
        aec_model d;
        if (decoder_copy(&c->model, &d) == 0) {
            r = aec_model_serialize_f16(&d, meta, extra, n_extra, out, len);
            aec_model_free(&d);
        }
    } else {
        r = aec_model_serialize_f16(&c->model, meta, extra, n_extra, out, len);
    }
    free_blobs(&b);
    free(fits);
    return r;
}

int aec_codec_save(const aec_codec *c, const char *path, int decoder_only, const char *meta,
                   char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    if (aec_codec_serialize(c, decoder_only, meta, &buf, &len)) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int r = aec_write_file_atomic(path, buf, len, err, errlen);
    free(buf);
    return r;
}

/* The coding chunks h_s, z and y tables (each checked on its own: HSIQ's
 * CRC, every field's range) parsed into c->hs, c->z_tables and
 * c->y_tables: on a thread of its own while the model file is checked (its
 * CRC covers them too) and its parameters read, which takes about as long. A plain thread, joined before aec_codec_parse
 * returns, not an OpenMP region: aec forks its workers after loading the
 * model, and libgomp's thread pool does not survive a fork. */
typedef struct {
    aec_codec *c;
    const uint8_t *hs, *z, *y;
    size_t hs_len, z_len, y_len;
    int bad;
    char why[256];
} coding_parse;

static void *parse_coding_chunks(void *arg)
{
    coding_parse *cp = arg;
    aec_codec *c = cp->c;
    cp->bad = aec_hs_int_deserialize(&c->hs, cp->hs, cp->hs_len, cp->why, sizeof cp->why) ||
              aec_cdf_set_deserialize(&c->z_tables, cp->z, cp->z_len, cp->why, sizeof cp->why) ||
              aec_cdf_set_deserialize(&c->y_tables, cp->y, cp->y_len, cp->why, sizeof cp->why);
    return NULL;
}

int aec_codec_parse(aec_codec *c, const uint8_t *buf, size_t len, const char *name,
                    int decoder_only, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    coding_parse cp;
    memset(&cp, 0, sizeof cp);
    cp.c = c;
    cp.hs = aec_model_find_chunk(buf, len, "HSIQ", &cp.hs_len);
    cp.z = aec_model_find_chunk(buf, len, "ZCDF", &cp.z_len);
    cp.y = aec_model_find_chunk(buf, len, "YCDF", &cp.y_len);
    size_t cx_len = 0;
    const uint8_t *cx = aec_model_find_chunk(buf, len, "CTXQ", &cx_len);
    pthread_t thread;
    const int have = cp.hs && cp.z && cp.y;
    const int threaded = have && pthread_create(&thread, NULL, parse_coding_chunks, &cp) == 0;
    int failed = 0;
    const aec_arch *a = &c->model.arch;
    if (aec_model_parse(buf, len, name, decoder_only, &c->model, NULL, NULL, NULL, err,
                        errlen)) {
        failed = 1;
    } else if (!have || (a->context && !cx)) {
        snprintf(err, errlen, "%s: not exported for coding (no %s chunk; run aec export)", name,
                 !cp.hs ? "HSIQ" : !cp.z ? "ZCDF" : !cp.y ? "YCDF" : "CTXQ");
        failed = 1;
    }
    /* the model id (a serial hash of the ~6 MB parameters) here while the
     * thread reads the coding chunks */
    coding_bytes stored = {cp.hs, cp.z, cp.y, cx, cp.hs_len, cp.z_len, cp.y_len, cx_len};
    int no_id = !failed && compute_id(c, &stored);
    if (threaded) pthread_join(thread, NULL);
    else if (have && !failed) parse_coding_chunks(&cp);
    if (failed) goto fail;
    c->can_encode = !c->model.decoder_only;
    char inner[256];
    if (cp.bad || (a->context && aec_ctx_int_deserialize(&c->ctx, cx, cx_len, inner, sizeof inner))) {
        snprintf(err, errlen, "%s: %s", name, cp.bad ? cp.why : inner);
        goto fail;
    }
    if ((a->context && c->ctx.m != a->m) ||
        c->hs.n != a->n || c->hs.m != a->m || c->hs.levels != a->levels ||
        c->z_tables.n_tables != (uint32_t)a->n || c->z_tables.kind != AEC_CDF_KIND_INDEXED ||
        c->y_tables.kind != AEC_CDF_KIND_GAUSSIAN) {
        snprintf(err, errlen, "%s: coding chunks do not match the architecture", name);
        goto fail;
    }
    if (no_id) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto fail;
    }
    size_t fits_len;
    const uint8_t *fits = aec_model_find_chunk(buf, len, "FITS", &fits_len);
    if (fits && c->can_encode && parse_fits(c, fits, fits_len, inner, sizeof inner)) {
        snprintf(err, errlen, "%s: %s", name, inner);
        goto fail;
    }
    return 0;
fail:
    aec_codec_free(c);
    return -1;
}

int aec_codec_load(aec_codec *c, const char *path, int decoder_only, char *err, size_t errlen)
{
    size_t len;
    uint8_t *buf = aec_read_file(path, (size_t)1 << 31, &len, err, errlen);
    if (!buf) return -1;
    int r = aec_codec_parse(c, buf, len, path, decoder_only, err, errlen);
    free(buf);
    return r;
}

/* ---- encode and decode ---------------------------------------------------- */

static int32_t round_to_symbol(double v)
{
    double r = v < 0 ? -floor(-v + 0.5) : floor(v + 0.5);
    if (r > 1e9) r = 1e9;
    if (r < -1e9) r = -1e9;
    return (int32_t)r;
}

aec_latent_shape aec_latent_shape_of(int w, int h)
{
    aec_latent_shape s;
    s.pw = (w + 63) / 64 * 64;
    s.ph = (h + 63) / 64 * 64;
    s.zw = s.pw / 64;
    s.zh = s.ph / 64;
    s.yw = s.pw / 16;
    s.yh = s.ph / 16;
    return s;
}

/* ---- tiles ------------------------------------------------------------------
 *
 * Margins. Both transforms are four stride-2 5x5 layers (padding 2) with
 * per-pixel (I)GDN between them, so what a latent or a pixel depends on
 * follows from the convolutions alone.
 *   g_a: output o of a layer reads inputs 2o-2 .. 2o+2; latents c0..c1 read
 *   layer-3 outputs 2c0-2 .. 2c1+2, layer-2 outputs 4c0-6 .. 4c1+6, layer-1
 *   outputs 8c0-14 .. 8c1+14 and pixels 16c0-30 .. 16c1+30: 30 pixels each
 *   side, under 2 latents (32 pixels).
 *   g_s: output o of a transposed layer (o = 2i - 2 + k, k = 0..4) reads
 *   inputs ceil((o-2)/2) .. floor((o+2)/2); pixels 16c0 .. 16c1+15 read
 *   layer-4 inputs 8c0-1 .. 8c1+8, layer-3 inputs 4c0-1 .. 4c1+5, layer-2
 *   inputs 2c0-1 .. 2c1+3 and latents c0-1 .. c1+2 (rounding towards the
 *   core at each step): 1 latent before, 2 after.
 * A tile computed with 2 latents of margin on every side (clipped at the
 * image's edges, where the whole image's zero padding is the tile's own)
 * therefore holds every value its core's outputs read, and each layer's
 * grid is the whole image's shifted by a multiple of its stride: the core
 * comes out as the whole image's, up to the float rounding of sums split
 * differently. Only the cores are kept, so the seams do not show.
 *   The integer hyper-synthesis h_s (two such transposed layers, then a 3x3
 *   convolution at the latents' resolution) is tiled on z^ the same way:
 *   latents 4c0 .. 4c1+3 read its layer-2 outputs 4c0-1 .. 4c1+4, layer-1
 *   outputs 2c0-1 .. 2c1+3 and hyper-latents c0-1 .. c1+2, so 2 of margin
 *   do there too, and in integers the cores are exactly the whole run's. */
#define TILE_MARGIN 2

/* h_s runs on tiles of this many hyper-latents a side (1536 pixels): its
 * scratch is ~94 KB per hyper-latent with the default architecture (the
 * last layer's unrolled input), 74 MB for a tile with its margins rather
 * than 560 MB for a whole 24 MP image. */
#define HS_TILE 24

/* A rectangle of latents, rows y0..y1-1 and columns x0..x1-1. */
typedef struct {
    int y0, y1, x0, x1;
} latent_rect;

/* Tile cores' side in latents for an image of this latent shape: the
 * whole image (one tile) unless tiling applies. */
static int tile_core(const aec_codec *c, const aec_latent_shape *ls)
{
    int whole = ls->yh > ls->yw ? ls->yh : ls->yw;
    if (c->tile_latents < 0) return whole;
    if (c->tile_latents > 0) return c->tile_latents < whole ? c->tile_latents : whole;
    if ((uint64_t)ls->pw * (uint64_t)ls->ph <= AEC_TILE_MIN_PIXELS) return whole;
    return AEC_TILE_LATENTS < whole ? AEC_TILE_LATENTS : whole;
}

/* The core of the tile whose top-left cell is (y0, x0) on a grid of
 * rows x cols (latents, or hyper-latents), and the rectangle computed for
 * it: the core and TILE_MARGIN cells around it, inside the grid. */
static void tile_rects(int rows, int cols, int core, int y0, int x0, latent_rect *keep,
                       latent_rect *run)
{
    keep->y0 = y0;
    keep->x0 = x0;
    keep->y1 = y0 + core < rows ? y0 + core : rows;
    keep->x1 = x0 + core < cols ? x0 + core : cols;
    run->y0 = keep->y0 - TILE_MARGIN > 0 ? keep->y0 - TILE_MARGIN : 0;
    run->x0 = keep->x0 - TILE_MARGIN > 0 ? keep->x0 - TILE_MARGIN : 0;
    run->y1 = keep->y1 + TILE_MARGIN < rows ? keep->y1 + TILE_MARGIN : rows;
    run->x1 = keep->x1 + TILE_MARGIN < cols ? keep->x1 + TILE_MARGIN : cols;
}

/* scale_q and mu_q of every latent from z^, by the integer hyper-synthesis,
 * in tiles of HS_TILE hyper-latents (of tile_latents / 4 when tiles are
 * forced smaller, so that the tests reach several tiles on small images). */
static int hyper_params(const aec_codec *c, const int32_t *z, const aec_latent_shape *ls,
                        int32_t t_q16, int32_t **scale_q, int32_t **mu_q)
{
    const int n = c->model.arch.n, m = c->model.arch.m;
    int core = HS_TILE;
    if (c->tile_latents > 0 && c->tile_latents / 4 < core)
        core = c->tile_latents / 4 > 0 ? c->tile_latents / 4 : 1;
    const int th = core + 2 * TILE_MARGIN < ls->zh ? core + 2 * TILE_MARGIN : ls->zh;
    const int tw = core + 2 * TILE_MARGIN < ls->zw ? core + 2 * TILE_MARGIN : ls->zw;
    const int single = core >= ls->zh && core >= ls->zw;
    const size_t ny = (size_t)m * ls->yh * ls->yw, tile_y = single ? 1 : (size_t)m * 16 * th * tw;
    const size_t scratch_len = aec_hs_int_scratch_bytes(&c->hs, th, tw);
    int32_t *hinv = malloc((size_t)n * sizeof *hinv);
    int32_t *zt = malloc((single ? 1 : (size_t)n * th * tw) * sizeof *zt);
    int32_t *st = malloc(tile_y * sizeof *st), *mt = malloc(tile_y * sizeof *mt);
    void *scratch = malloc(scratch_len ? scratch_len : 1);
    *scale_q = malloc(ny * sizeof(int32_t));
    *mu_q = malloc(ny * sizeof(int32_t));
    int r = -1;
    if (!hinv || !zt || !st || !mt || !scratch || !*scale_q || !*mu_q) goto done;
    aec_hs_int_hinv(&c->hs, t_q16, hinv);
    if (single) {
        r = aec_hs_int_run(&c->hs, z, ls->zh, ls->zw, hinv, *scale_q, *mu_q, scratch, scratch_len);
        goto done;
    }
    for (int ty = 0; ty < ls->zh; ty += core) {
        for (int tx = 0; tx < ls->zw; tx += core) {
            latent_rect keep, run;
            tile_rects(ls->zh, ls->zw, core, ty, tx, &keep, &run);
            const int rh = run.y1 - run.y0, rw = run.x1 - run.x0;
            for (int ch = 0; ch < n; ch++)
                for (int ly = 0; ly < rh; ly++)
                    memcpy(zt + ((size_t)ch * rh + ly) * rw,
                           z + ((size_t)ch * ls->zh + run.y0 + ly) * ls->zw + run.x0,
                           (size_t)rw * sizeof *zt);
            if (aec_hs_int_run(&c->hs, zt, rh, rw, hinv, st, mt, scratch, scratch_len)) goto done;
            /* the core's latents: 4 a side per hyper-latent */
            const int kw = 4 * (keep.x1 - keep.x0);
            for (int ch = 0; ch < m; ch++)
                for (int ly = 4 * keep.y0; ly < 4 * keep.y1; ly++) {
                    const size_t to = ((size_t)ch * ls->yh + ly) * ls->yw + 4 * keep.x0;
                    const size_t from = ((size_t)ch * 4 * rh + ly - 4 * run.y0) * 4 * rw +
                                        4 * (keep.x0 - run.x0);
                    memcpy(*scale_q + to, st + from, (size_t)kw * sizeof(int32_t));
                    memcpy(*mu_q + to, mt + from, (size_t)kw * sizeof(int32_t));
                }
        }
    }
    r = 0;
done:
    free(hinv);
    free(zt);
    free(st);
    free(mt);
    free(scratch);
    if (r) {
        free(*scale_q);
        free(*mu_q);
        *scale_q = *mu_q = NULL;
    }
    return r;
}

/* x = pixels [px0, px0 + tw) x [py0, py0 + th) of the image as planar
 * floats [1][3][th][tw], edge pixels repeated beyond it (as
 * aec_image_to_planar pads). 0, or -1 (out of memory). */
static int crop_planar(const uint8_t *rgb, int w, int h, int px0, int py0, int tw, int th,
                       nn_tensor *x)
{
    if (nn_tensor_resize(x, 1, 3, th, tw)) return -1;
    const size_t plane = (size_t)th * tw;
    for (int py = 0; py < th; py++) {
        const int sy = py0 + py < h ? py0 + py : h - 1;
        for (int px = 0; px < tw; px++) {
            const int sx = px0 + px < w ? px0 + px : w - 1;
            const uint8_t *p = rgb + ((size_t)sy * w + sx) * 3;
            for (int ch = 0; ch < 3; ch++) x->data[ch * plane + (size_t)py * tw + px] = p[ch] * (1.0f / 255.0f);
        }
    }
    return 0;
}

/* y = g_a(x) of the image, x being the RGB padded to ls (edge pixels
 * repeated, as aec_image_to_planar does), computed tile by tile straight
 * from the 8-bit pixels, so that the float image is never whole. */
int aec_analyze_tiles(const aec_codec *c, const uint8_t *rgb, int w, int h,
                      const aec_latent_shape *ls, nn_tensor *y)
{
    const aec_model *m = &c->model;
    const int core = tile_core(c, ls);
    const int single = core >= ls->yh && core >= ls->yw;
    nn_tensor x = {0}, part = {0};
    nn_workspace ws = {.max_bytes = AEC_CODING_WORKSPACE_BYTES};
    int ret = -1;
    if (!single && nn_tensor_resize(y, 1, m->arch.m, ls->yh, ls->yw)) goto done;
    for (int ty = 0; ty < ls->yh; ty += core) {
        for (int tx = 0; tx < ls->yw; tx += core) {
            latent_rect keep, run;
            tile_rects(ls->yh, ls->yw, core, ty, tx, &keep, &run);
            if (crop_planar(rgb, w, h, 16 * run.x0, 16 * run.y0, 16 * (run.x1 - run.x0),
                            16 * (run.y1 - run.y0), &x))
                goto done;
            if (aec_model_analysis(m, &x, single ? y : &part, &ws)) goto done;
            if (single) continue;
            const int rw = run.x1 - run.x0, kw = keep.x1 - keep.x0;
            for (int ch = 0; ch < m->arch.m; ch++)
                for (int ly = keep.y0; ly < keep.y1; ly++)
                    memcpy(y->data + ((size_t)ch * ls->yh + ly) * ls->yw + keep.x0,
                           part.data + ((size_t)ch * part.h + (ly - run.y0)) * rw + (keep.x0 - run.x0),
                           (size_t)kw * sizeof(float));
        }
    }
    ret = 0;
done:
    nn_tensor_free(&x);
    nn_tensor_free(&part);
    nn_workspace_free(&ws);
    return ret;
}

/* v*255+0.5 truncated, clamped to 0..255; a NaN (only a damaged file's
 * extreme latents can make one) gives 0 rather than undefined behaviour */
static uint8_t to_8bit(float v)
{
    if (!(v > 0.0f)) return 0;
    if (v >= 1.0f) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

/* The decoded image, img (W x H x 3 bytes): y^ = r + mu, divided by the
 * gain, through g_s tile by tile, each core cropped to the image and
 * rounded to 8 bits. */
static int synthesize_tiles(const aec_codec *c, const aec_latents *lat, uint8_t *img)
{
    const aec_model *m = &c->model;
    const aec_latent_shape ls = aec_latent_shape_of(lat->width, lat->height);
    const int core = tile_core(c, &ls), W = lat->width, H = lat->height;
    float inv_gain[1024];
    if (lat->m > 1024 || lat->m != m->arch.m) return -1;
    aec_model_gains(m, (float)lat->t_q16 / (float)(1 << AEC_HS_T_FRAC), NULL, inv_gain, NULL, NULL);
    nn_tensor y = {0}, x = {0};
    nn_workspace ws = {.max_bytes = AEC_CODING_WORKSPACE_BYTES};
    int ret = -1;
    for (int ty = 0; ty < ls.yh; ty += core) {
        for (int tx = 0; tx < ls.yw; tx += core) {
            latent_rect keep, run;
            tile_rects(ls.yh, ls.yw, core, ty, tx, &keep, &run);
            const int rh = run.y1 - run.y0, rw = run.x1 - run.x0;
            if (nn_tensor_resize(&y, 1, lat->m, rh, rw)) goto done;
            for (int ch = 0; ch < lat->m; ch++)
                for (int ly = 0; ly < rh; ly++) {
                    const size_t at = ((size_t)ch * lat->yh + run.y0 + ly) * lat->yw + run.x0;
                    float *dst = y.data + ((size_t)ch * rh + ly) * rw;
                    for (int lx = 0; lx < rw; lx++) {
                        float v = (float)((double)lat->r[at + lx] +
                                          (double)lat->mu_q[at + lx] / (double)(1 << AEC_HS_OUT_FRAC));
                        dst[lx] = v * inv_gain[ch];
                    }
                }
            if (aec_model_synthesis(m, &y, &x, &ws)) goto done;
            const size_t plane = (size_t)x.h * x.w;
            const int py1 = 16 * keep.y1 < H ? 16 * keep.y1 : H;
            const int px1 = 16 * keep.x1 < W ? 16 * keep.x1 : W;
            for (int py = 16 * keep.y0; py < py1; py++) {
                const float *row = x.data + (size_t)(py - 16 * run.y0) * x.w;
                uint8_t *out = img + (size_t)py * W * 3;
                for (int px = 16 * keep.x0; px < px1; px++) {
                    const size_t at = (size_t)(px - 16 * run.x0);
                    for (int ch = 0; ch < 3; ch++) out[(size_t)px * 3 + ch] = to_8bit(row[ch * plane + at]);
                }
            }
        }
    }
    ret = 0;
done:
    nn_tensor_free(&y);
    nn_tensor_free(&x);
    nn_workspace_free(&ws);
    return ret;
}

/* Whether latent k ([M][yh][yw] order) is coded in pass `which`: 0 the
 * anchors (row + column even), 1 the others, -1 (no context model) all. */
static int in_pass(size_t k, const aec_latent_shape *ls, int which)
{
    if (which < 0) return 1;
    size_t i = k % ((size_t)ls->yh * ls->yw);
    return (int)((i / (size_t)ls->yw + i % (size_t)ls->yw) & 1) == which;
}

/* t[k] = the table of latent k, aec_scale_index of its scale, for all n
 * latents on every thread: the range coder's loop, serial, then only reads
 * them instead of searching the tables itself */
static void table_indices(const aec_cdf_set *set, const int32_t *scale_q, size_t n, uint16_t *t)
{
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t k = 0; k < n; k++) t[k] = (uint16_t)aec_scale_index(set, scale_q[k]);
}

/* r = round(y_g - mu) for the latents of pass `which` */
static void symbols(const nn_tensor *y_g, const int32_t *mu_q, const aec_latent_shape *ls, int which,
                    int32_t *r)
{
    const size_t ny = nn_tensor_numel(y_g);
    for (size_t k = 0; k < ny; k++)
        if (in_pass(k, ls, which))
            r[k] = round_to_symbol((double)y_g->data[k] - (double)mu_q[k] / (double)(1 << AEC_HS_OUT_FRAC));
}

/* The latent s->y_g refined against the image (aec_model_refine_latent),
 * with the (mu, scale) the decoder will see: the integer h_s's. */
static int refine(const aec_codec *c, aec_train_state *s, const uint8_t *rgb, int w, int h,
                  float t, const int32_t *scale_q, const int32_t *mu_q)
{
    float *planar = NULL;
    int pw, ph, ret = -1;
    nn_tensor mu = {0}, scale = {0};
    const nn_tensor *y = &s->y_g;
    if (aec_image_to_planar(rgb, w, h, 64, &planar, &pw, &ph) ||
        nn_tensor_alloc(&mu, 1, y->c, y->h, y->w) || nn_tensor_alloc(&scale, 1, y->c, y->h, y->w))
        goto done;
    for (size_t k = 0; k < nn_tensor_numel(y); k++) {
        mu.data[k] = (float)((double)mu_q[k] / (double)(1 << AEC_HS_OUT_FRAC));
        scale.data[k] = (float)((double)scale_q[k] / (double)(1 << AEC_HS_OUT_FRAC));
    }
    nn_tensor x = {1, 3, ph, pw, planar};
    ret = aec_model_refine_latent(&c->model, s, &x, w, h, t, &s->y_g, &mu, &scale,
                                  c->refine_iters, NULL);
done:
    free(planar);
    nn_tensor_free(&mu);
    nn_tensor_free(&scale);
    return ret;
}

void aec_codec_set_effort(aec_codec *c, int effort)
{
    /* { search, refine } per level, chosen for the bits saved against the
     * encode time (the README's results table gives both per level) */
    static const int steps[AEC_EFFORT_MAX + 1][2] = {{0, 0}, {20, 4}, {40, 8}, {70, 10}};
    effort = effort < 0 ? 0 : effort > AEC_EFFORT_MAX ? AEC_EFFORT_MAX : effort;
    const int context = c->model.arch.context;
    c->search_steps = context ? 0 : steps[effort][0];
    c->refine_iters = context && effort > 0 ? 20 : steps[effort][1];
    c->search_tiles = effort >= 2;
}

/* Search tiles on images above AEC_REFINE_MAX_PIXELS padded pixels:
 * cores of SEARCH_TILE_Z hyper-latents (512 pixels) a side, each searched
 * in a crop with SEARCH_MARGIN_Z hyper-latents (128 pixels) around it,
 * where the latents stay as g_a made them (or an earlier tile left them).
 * The margin holds what the core's rates read through h_s (2 hyper-latents
 * after, 1 before; see the tiles above) and every pixel the core's latents
 * reach through g_s (1 latent before, 2 after), so a tile's loss is the
 * whole image's as far as its core can change it, up to the margin's own
 * hyper-latents, whose h_s sees the crop's edge. Whatever the search
 * sends, the coder rounds it against the real hyper-latent: the file is
 * right either way.
 * A crop holds the search's activations, ~600 MB with the default model. */
#define SEARCH_TILE_Z 8
#define SEARCH_MARGIN_Z 2

/* Between grid, a [1][C][H][W] latent grid of `per` cells a side per
 * hyper-latent, and part, the cells of rect r (in hyper-latents): the
 * cells of `within` (inside r) from part to grid (to_grid), or back. */
static void copy_cells(nn_tensor *grid, nn_tensor *part, const latent_rect *r, int per,
                       const latent_rect *within, int to_grid)
{
    const int pw = part->w, kw = per * (within->x1 - within->x0);
    for (int ch = 0; ch < grid->c; ch++)
        for (int ly = per * within->y0; ly < per * within->y1; ly++) {
            float *g = grid->data + ((size_t)ch * grid->h + ly) * grid->w + per * within->x0;
            float *p = part->data + ((size_t)ch * part->h + ly - per * r->y0) * pw +
                       per * (within->x0 - r->x0);
            if (to_grid) memcpy(g, p, (size_t)kw * sizeof(float));
            else memcpy(p, g, (size_t)kw * sizeof(float));
        }
}

/* s->y_g and s->z_g searched (aec_search_latents), whole or tile by tile,
 * and s->z_hat rounded from the result */
static int search(const aec_codec *c, aec_train_state *s, const uint8_t *rgb, int w, int h,
                  float t, const aec_latent_shape *ls)
{
    const aec_model *m = &c->model;
    const int whole = (uint64_t)ls->pw * ls->ph <= AEC_REFINE_MAX_PIXELS;
    if (!whole && !c->search_tiles) return 0;
    const int core = whole ? (ls->zh > ls->zw ? ls->zh : ls->zw) : SEARCH_TILE_Z;
    nn_tensor x = {0}, yc = {0}, zc = {0};
    uint64_t seed = 1;
    int ret = -1;
    for (int ty = 0; ty < ls->zh; ty += core)
        for (int tx = 0; tx < ls->zw; tx += core, seed++) {
            latent_rect keep = {ty, ty + core < ls->zh ? ty + core : ls->zh, tx,
                                tx + core < ls->zw ? tx + core : ls->zw};
            latent_rect run = keep;
            if (!whole) {
                run.y0 = keep.y0 > SEARCH_MARGIN_Z ? keep.y0 - SEARCH_MARGIN_Z : 0;
                run.x0 = keep.x0 > SEARCH_MARGIN_Z ? keep.x0 - SEARCH_MARGIN_Z : 0;
                run.y1 = keep.y1 + SEARCH_MARGIN_Z < ls->zh ? keep.y1 + SEARCH_MARGIN_Z : ls->zh;
                run.x1 = keep.x1 + SEARCH_MARGIN_Z < ls->zw ? keep.x1 + SEARCH_MARGIN_Z : ls->zw;
            }
            const int px0 = 64 * run.x0, py0 = 64 * run.y0;
            const int iw = (64 * run.x1 < w ? 64 * run.x1 : w) - px0;
            const int ih = (64 * run.y1 < h ? 64 * run.y1 : h) - py0;
            if (crop_planar(rgb, w, h, px0, py0, 64 * (run.x1 - run.x0), 64 * (run.y1 - run.y0), &x))
                goto done;
            aec_search_opts o = {c->search_steps, seed, !whole,
                                 {keep.y0 - run.y0, keep.y1 - run.y0, keep.x0 - run.x0, keep.x1 - run.x0}};
            if (whole) {
                if (aec_search_latents(m, s, &x, iw, ih, t, &s->y_g, &s->z_g, &o, NULL)) goto done;
                continue;
            }
            if (nn_tensor_resize(&yc, 1, m->arch.m, 4 * (run.y1 - run.y0), 4 * (run.x1 - run.x0)) ||
                nn_tensor_resize(&zc, 1, m->arch.n, run.y1 - run.y0, run.x1 - run.x0))
                goto done;
            copy_cells(&s->y_g, &yc, &run, 4, &run, 0);
            copy_cells(&s->z_g, &zc, &run, 1, &run, 0);
            if (aec_search_latents(m, s, &x, iw, ih, t, &yc, &zc, &o, NULL)) goto done;
            copy_cells(&s->y_g, &yc, &run, 4, &keep, 1);
            copy_cells(&s->z_g, &zc, &run, 1, &keep, 1);
        }
    nn_round(s->z_g.data, s->z_hat.data, nn_tensor_numel(&s->z_g));
    ret = 0;
done:
    nn_tensor_free(&x);
    nn_tensor_free(&yc);
    nn_tensor_free(&zc);
    return ret;
}

void aec_coded_latents_free(aec_coded_latents *cl)
{
    free(cl->z);
    free(cl->scale_q);
    free(cl->mu_q);
    free(cl->r);
    memset(cl, 0, sizeof *cl);
}

/* The latents of the image at level position t_q16, as the decoder will
 * read them, from y_ga = g_a(image) (aec_analyze_tiles; it does not depend on
 * the level, so a caller coding several levels computes it once and sets
 * keep_y; otherwise *y_ga is taken over and left empty, which saves a copy
 * of the latents on big images), the latent refined first when refine_on
 * (and c->refine_iters and the image's size allow): 0, or -1 when out of
 * memory (cl left empty). */
int aec_encoder_latents(const aec_codec *c, const uint8_t *rgb, int w, int h, nn_tensor *y_ga,
                        int keep_y, int32_t t_q16, int refine_on, aec_coded_latents *cl)
{
    const aec_model *m = &c->model;
    const float t = (float)t_q16 / (float)(1 << AEC_HS_T_FRAC);
    memset(cl, 0, sizeof *cl);
    const aec_latent_shape ls = aec_latent_shape_of(w, h);
    cl->ls = ls;
    aec_train_state s;
    aec_train_state_init(&s, 0);
    nn_tensor y = {0};   /* aec_model_analyze_y takes it over */
    int ret = -1;
    if (!keep_y) {
        y = *y_ga;
        memset(y_ga, 0, sizeof *y_ga);
    } else if (nn_tensor_copy(&y, y_ga)) {
        goto done;
    }
    if (aec_model_analyze_y(m, &s, &y, t)) goto done;
    if (refine_on && c->search_steps > 0 && !m->arch.context && search(c, &s, rgb, w, h, t, &ls))
        goto done;
    const size_t nz = (size_t)m->arch.n * ls.zh * ls.zw, ny = (size_t)m->arch.m * ls.yh * ls.yw;
    if (!(cl->z = malloc(nz * sizeof *cl->z)) || !(cl->r = malloc(ny * sizeof *cl->r))) goto done;
    for (size_t k = 0; k < nz; k++) {
        float v = s.z_hat.data[k];
        cl->z[k] = v > AEC_HS_Z_MAX ? AEC_HS_Z_MAX : v < -AEC_HS_Z_MAX ? -AEC_HS_Z_MAX : (int32_t)v;
    }
    if (hyper_params(c, cl->z, &ls, t_q16, &cl->scale_q, &cl->mu_q)) goto done;
    int32_t *scale_q = cl->scale_q, *mu_q = cl->mu_q, *r = cl->r;
    const int context = m->arch.context;
    if (refine_on && c->refine_iters > 0 && (uint64_t)ls.pw * ls.ph <= AEC_REFINE_MAX_PIXELS) {
        /* a context model's non-anchor parameters depend on the anchors,
         * which the refinement moves: it sees those of g_a's anchors, and
         * the passes below recompute them from the refined ones */
        int32_t *keep_s = NULL, *keep_m = NULL;
        if (context) {
            keep_s = malloc(ny * sizeof *keep_s);
            keep_m = malloc(ny * sizeof *keep_m);
            if (!keep_s || !keep_m) {
                free(keep_s);
                free(keep_m);
                goto done;
            }
            memcpy(keep_s, scale_q, ny * sizeof *keep_s);
            memcpy(keep_m, mu_q, ny * sizeof *keep_m);
            symbols(&s.y_g, mu_q, &ls, 0, r);
        }
        int bad = (context && aec_ctx_int_run(&c->ctx, ls.yh, ls.yw, r, scale_q, mu_q)) ||
                  refine(c, &s, rgb, w, h, t, scale_q, mu_q);
        if (context) {
            memcpy(scale_q, keep_s, ny * sizeof *keep_s);
            memcpy(mu_q, keep_m, ny * sizeof *keep_m);
            free(keep_s);
            free(keep_m);
        }
        if (bad) goto done;
    }
    /* the anchors, then (after the context model has seen them) the others;
     * without a context model one pass over all */
    for (int pass = 0; pass < 1 + context; pass++) {
        if (pass == 1 && aec_ctx_int_run(&c->ctx, ls.yh, ls.yw, r, scale_q, mu_q)) goto done;
        symbols(&s.y_g, mu_q, &ls, context ? pass : -1, r);
    }
    ret = 0;
done:
    if (ret) aec_coded_latents_free(cl);
    nn_tensor_free(&y);
    aec_train_state_free(&s);
    return ret;
}

int aec_encode(const aec_codec *c, const uint8_t *rgb, int w, int h, double quality,
               uint8_t **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    if (!c->can_encode) {
        snprintf(err, errlen, "the model has no encoder half (decoder-only model)");
        return -1;
    }
    if (w < 1 || h < 1 || w > (int)AEC_MAX_DIMENSION || h > (int)AEC_MAX_DIMENSION ||
        (uint64_t)w * h > AEC_MAX_PIXELS) {
        snprintf(err, errlen, "image size %dx%d outside what the format holds", w, h);
        return -1;
    }
    const aec_model *m = &c->model;
    uint16_t qx = aec_quality_to_x100(quality);
    const aec_latent_shape shape = aec_latent_shape_of(w, h);
    nn_tensor y_ga = {0};
    aec_coded_latents cl;
    int bad = aec_analyze_tiles(c, rgb, w, h, &shape, &y_ga) ||
              aec_encoder_latents(c, rgb, w, h, &y_ga, 0, level_position_q16(m, qx), 1, &cl);
    nn_tensor_free(&y_ga);
    if (bad) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const aec_latent_shape ls = cl.ls;
    aec_rc_encoder enc;
    aec_rc_encoder_init(&enc);
    uint8_t *stream = NULL;
    size_t stream_len = 0;
    int ret = -1;
    const size_t nz = (size_t)m->arch.n * ls.zh * ls.zw, ny = (size_t)m->arch.m * ls.yh * ls.yw;
    const size_t plane_z = (size_t)ls.zh * ls.zw;
    uint16_t *table_of = malloc(ny * sizeof *table_of);
    if (!table_of) goto oom;
    table_indices(&c->y_tables, cl.scale_q, ny, table_of);
    for (size_t k = 0; k < nz; k++) aec_rc_encode(&enc, &c->z_tables.tables[k / plane_z], cl.z[k]);
    for (int pass = 0; pass < 1 + m->arch.context; pass++)
        for (size_t k = 0; k < ny; k++)
            if (in_pass(k, &ls, m->arch.context ? pass : -1))
                aec_rc_encode(&enc, &c->y_tables.tables[table_of[k]], cl.r[k]);
    free(table_of);
    if (aec_rc_encoder_finish(&enc, &stream, &stream_len) != AEC_RC_OK) goto oom;

    aec_container con;
    memset(&con, 0, sizeof con);
    memcpy(con.model_id, c->id, AEC_MODEL_ID_SIZE);
    con.width = (uint32_t)w;
    con.height = (uint32_t)h;
    con.layout = AEC_LAYOUT_RGB;
    con.quality_x100 = qx;
    con.n_streams = 1;
    con.stream[0] = stream;
    con.stream_len[0] = stream_len;
    if (aec_container_write(&con, out, len)) goto oom;
    ret = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    free(stream);
    aec_rc_encoder_free(&enc);
    aec_coded_latents_free(&cl);
    return ret;
}

void aec_latents_free(aec_latents *lat)
{
    free(lat->z);
    free(lat->r);
    free(lat->scale_q);
    free(lat->mu_q);
    memset(lat, 0, sizeof *lat);
}

int aec_decode_latents(const aec_codec *c, const uint8_t *data, size_t len, aec_latents *lat,
                       char *err, size_t errlen)
{
    memset(lat, 0, sizeof *lat);
    uint16_t *table_of = NULL;
    aec_container con;
    if (aec_container_parse(data, len, c->id, &con, err, errlen)) return -1;
    if (con.n_streams != 1) {
        snprintf(err, errlen, "%u streams in the file; this model codes one", (unsigned)con.n_streams);
        return -1;
    }
    const aec_model *m = &c->model;
    aec_latent_shape ls = aec_latent_shape_of((int)con.width, (int)con.height);
    /* before anything of the image's size is allocated or decoded */
    uint64_t limit = c->max_pixels ? c->max_pixels : AEC_DECODE_MAX_PIXELS_DEFAULT;
    uint64_t padded = (uint64_t)ls.pw * (uint64_t)ls.ph;
    if (padded > limit) {
        snprintf(err, errlen,
                 "image %ux%u too large for this decoder: %llu pixels padded to multiples of 64, "
                 "the limit is %llu",
                 (unsigned)con.width, (unsigned)con.height, (unsigned long long)padded,
                 (unsigned long long)limit);
        return -1;
    }
    lat->width = (int)con.width;
    lat->height = (int)con.height;
    lat->quality_x100 = con.quality_x100;
    lat->t_q16 = level_position_q16(m, con.quality_x100);
    lat->n = m->arch.n;
    lat->zh = ls.zh;
    lat->zw = ls.zw;
    lat->m = m->arch.m;
    lat->yh = ls.yh;
    lat->yw = ls.yw;
    size_t nz = (size_t)m->arch.n * ls.zh * ls.zw, ny = (size_t)m->arch.m * ls.yh * ls.yw;
    lat->z = malloc(nz * sizeof *lat->z);
    lat->r = malloc(ny * sizeof *lat->r);
    if (!lat->z || !lat->r) goto oom;

    aec_rc_decoder dec;
    aec_rc_decoder_init(&dec, con.stream[0], con.stream_len[0]);
    size_t plane_z = (size_t)ls.zh * ls.zw;
    for (size_t k = 0; k < nz; k++) aec_rc_decode(&dec, &c->z_tables.tables[k / plane_z], &lat->z[k]);
    if (dec.error) goto corrupt;
    if (hyper_params(c, lat->z, &ls, lat->t_q16, &lat->scale_q, &lat->mu_q)) goto oom;
    const int context = m->arch.context;
    table_of = malloc(ny * sizeof *table_of);
    if (!table_of) goto oom;
    for (int pass = 0; pass < 1 + context; pass++) {
        int which = context ? pass : -1;
        /* the context model's pass 1 has scales of its own */
        if (pass == 1 && aec_ctx_int_run(&c->ctx, ls.yh, ls.yw, lat->r, lat->scale_q, lat->mu_q))
            goto oom;
        table_indices(&c->y_tables, lat->scale_q, ny, table_of);
        for (size_t k = 0; k < ny; k++) {
            if (!in_pass(k, &ls, which)) continue;
            if (aec_rc_decode(&dec, &c->y_tables.tables[table_of[k]], &lat->r[k])) goto corrupt;
        }
    }
    free(table_of);
    table_of = NULL;
    if (aec_rc_decoder_finish(&dec) != AEC_RC_OK) goto corrupt;
    return 0;
corrupt:
    free(table_of);
    snprintf(err, errlen, "corrupt coded data (%s)",
             aec_rc_strerror(dec.error ? dec.error : AEC_RC_ERR_CORRUPT));
    aec_latents_free(lat);
    return -1;
oom:
    free(table_of);
    snprintf(err, errlen, "out of memory");
    aec_latents_free(lat);
    return -1;
}

int aec_decode(const aec_codec *c, const uint8_t *data, size_t len, uint8_t **rgb, int *w,
               int *h, char *err, size_t errlen)
{
    *rgb = NULL;
    aec_latents lat;
    if (aec_decode_latents(c, data, len, &lat, err, errlen)) return -1;
    /* the synthesis needs r and mu only */
    free(lat.z);
    free(lat.scale_q);
    lat.z = lat.scale_q = NULL;
    uint8_t *img = malloc((size_t)lat.width * lat.height * 3);
    if (!img || synthesize_tiles(c, &lat, img)) {
        snprintf(err, errlen, "out of memory");
        free(img);
        aec_latents_free(&lat);
        return -1;
    }
    *rgb = img;
    *w = lat.width;
    *h = lat.height;
    aec_latents_free(&lat);
    return 0;
}
