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
#include "codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_file.h"
#include "rangecoder.h"

/* Hyper-latent tables: integers lo..hi around the density's mass, tails
 * below this (each side) go to the escape. Gaussian tables: as CompressAI's
 * scale table, 64 scales log-spaced over [0.11, 256]. */
#define Z_TAIL 1e-7
#define Z_RANGE 4096
#define Y_SCALES 64
#define Y_SCALE_MIN 0.11
#define Y_SCALE_MAX 256.0
#define Y_TAIL 1e-9
#define TABLE_MAX_LENGTH 4095
#define CALIB_IMAGES 8

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

static int build_z_tables(aec_cdf_set *set, const aec_model *m)
{
    int n = m->arch.n;
    int32_t *lo = malloc((size_t)n * sizeof *lo);
    uint32_t *len = malloc((size_t)n * sizeof *len);
    double *pmf = malloc((2 * Z_RANGE + 1) * sizeof *pmf);
    int ret = -1;
    if (!lo || !len || !pmf) goto done;
    for (int c = 0; c < n; c++) {
        /* the first and last integers whose bins hold more than the tail */
        int a = -Z_RANGE, b = Z_RANGE;
        while (a < 0 && sigmoid(nn_factorized_logit(&m->z_density, &m->p, c, a + 0.5)) < Z_TAIL) a++;
        while (b > 0 && 1 - sigmoid(nn_factorized_logit(&m->z_density, &m->p, c, b - 0.5)) < Z_TAIL) b--;
        if (b - a + 1 > TABLE_MAX_LENGTH) {
            int mid = (a + b) / 2;
            a = mid - TABLE_MAX_LENGTH / 2;
            b = a + TABLE_MAX_LENGTH - 1;
        }
        lo[c] = a;
        len[c] = (uint32_t)(b - a + 1);
    }
    if (aec_cdf_set_alloc(set, AEC_CDF_KIND_INDEXED, (uint32_t)n, len)) goto done;
    for (int c = 0; c < n; c++) {
        double below = sigmoid(nn_factorized_logit(&m->z_density, &m->p, c, lo[c] - 0.5)), prev = below;
        for (uint32_t k = 0; k < len[c]; k++) {
            double up = sigmoid(nn_factorized_logit(&m->z_density, &m->p, c, lo[c] + (double)k + 0.5));
            pmf[k] = fmax(up - prev, 0.0);
            prev = up;
        }
        double escape = below + (1 - prev);
        set->tables[c].offset = lo[c];
        if (aec_cdf_from_pmf(pmf, len[c], fmax(escape, 1e-12), set->tables[c].cdf)) {
            aec_cdf_set_free(set);
            goto done;
        }
    }
    ret = 0;
done:
    free(lo);
    free(len);
    free(pmf);
    return ret;
}

static int build_y_tables(aec_cdf_set *set)
{
    double scales[Y_SCALES];
    aec_scales_logspace(Y_SCALE_MIN, Y_SCALE_MAX, Y_SCALES, scales);
    return aec_cdf_set_build_gaussian(set, scales, Y_SCALES, Y_TAIL, TABLE_MAX_LENGTH);
}

/* ---- identity: FNV-1a 64 over everything the decoder uses --------------- */

static void fnv(uint64_t *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        *h ^= p[i];
        *h *= 0x100000001b3ULL;
    }
}

/* the decoder's float parameters, picked by name from either kind of model */
static int decoder_params_blob(const aec_model *m, uint8_t **blob, size_t *len)
{
    if (m->decoder_only) return nn_params_serialize(&m->p, blob, len);
    aec_model d;
    if (aec_model_create_decoder(&d, &m->arch)) return -1;
    for (int i = 0; i < d.p.n_entries; i++) {
        const nn_param_entry *e = &d.p.entries[i], *src = nn_params_find(&m->p, e->name);
        if (!src || src->count != e->count) {
            aec_model_free(&d);
            return -1;
        }
        memcpy(d.p.value + e->offset, m->p.value + src->offset, e->count * sizeof(float));
    }
    int r = nn_params_serialize(&d.p, blob, len);
    aec_model_free(&d);
    return r;
}

typedef struct {
    uint8_t *parm, *hs, *z, *y;
    size_t parm_len, hs_len, z_len, y_len;
} decoder_blobs;

static void free_blobs(decoder_blobs *b)
{
    free(b->parm);
    free(b->hs);
    free(b->z);
    free(b->y);
    memset(b, 0, sizeof *b);
}

static int make_blobs(const aec_codec *c, decoder_blobs *b)
{
    memset(b, 0, sizeof *b);
    if (decoder_params_blob(&c->model, &b->parm, &b->parm_len) ||
        aec_hs_int_serialize(&c->hs, &b->hs, &b->hs_len) ||
        aec_cdf_set_serialize(&c->z_tables, &b->z, &b->z_len) ||
        aec_cdf_set_serialize(&c->y_tables, &b->y, &b->y_len)) {
        free_blobs(b);
        return -1;
    }
    return 0;
}

static void compute_id(aec_codec *c, const decoder_blobs *b)
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
    fnv(&h, b->parm, b->parm_len);
    fnv(&h, b->hs, b->hs_len);
    fnv(&h, b->z, b->z_len);
    fnv(&h, b->y, b->y_len);
    for (int i = 0; i < AEC_MODEL_ID_SIZE; i++) c->id[i] = (uint8_t)(h >> (56 - 8 * i));
}

/* ---- building, saving, loading ------------------------------------------ */

void aec_codec_free(aec_codec *c)
{
    aec_model_free(&c->model);
    aec_hs_int_free(&c->hs);
    aec_cdf_set_free(&c->z_tables);
    aec_cdf_set_free(&c->y_tables);
    memset(c, 0, sizeof *c);
}

static int32_t level_position_q16(const aec_model *m, uint16_t quality_x100)
{
    return (int32_t)(((int64_t)quality_x100 * (m->arch.levels - 1) << AEC_HS_T_FRAC) / 10000);
}

int aec_codec_from_model(aec_codec *c, aec_model *m, const aec_dataset *calib, char *err,
                         size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->model = *m;
    memset(m, 0, sizeof *m);
    c->can_encode = !c->model.decoder_only;
    aec_cdf_set_init(&c->z_tables);
    aec_cdf_set_init(&c->y_tables);
    if (!c->can_encode) {
        snprintf(err, errlen, "a decoder-only model cannot be exported");
        goto fail;
    }
    /* the file stores the weights as binary16: round them now, so that the
     * tables, the integer hyper-synthesis and the identity are made from
     * exactly the weights every loader will see */
    nn_params_round_f16(&c->model.p);
    if (build_z_tables(&c->z_tables, &c->model) || build_y_tables(&c->y_tables)) {
        snprintf(err, errlen, "building the entropy tables failed (out of memory?)");
        goto fail;
    }
    /* activation ranges of the hyper-synthesis, from real hyper-latents at
     * every level */
    aec_hs_calib cal;
    aec_hs_calib_init(&cal);
    aec_train_state s;
    aec_train_state_init(&s, 1);
    int n_img = calib->count < CALIB_IMAGES ? calib->count : CALIB_IMAGES, failed = 0;
    const aec_arch *a = &c->model.arch;
    for (int i = 0; i < n_img && !failed; i++) {
        float *planar;
        int pw, ph;
        if (aec_image_to_planar(calib->rgb[i], calib->width[i], calib->height[i], 64, &planar, &pw, &ph)) {
            failed = 1;
            break;
        }
        nn_tensor x = {1, 3, ph, pw, planar};
        for (int l = 0; l < a->levels && !failed; l++) {
            const float *hinv = c->model.p.value + c->model.hinv_gain + (size_t)l * a->n;
            failed = aec_model_analyze(&c->model, &s, &x, (float)l) ||
                     aec_hs_int_calibrate(&cal, &c->model, &s.z_hat, hinv);
        }
        free(planar);
    }
    aec_train_state_free(&s);
    if (failed) {
        snprintf(err, errlen, "calibrating the hyper-synthesis failed (out of memory?)");
        goto fail;
    }
    if (aec_hs_int_build(&c->hs, &c->model, &cal, err, errlen)) goto fail;
    decoder_blobs b;
    if (make_blobs(c, &b)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    compute_id(c, &b);
    free_blobs(&b);
    return 0;
fail:
    aec_codec_free(c);
    return -1;
}

int aec_codec_serialize(const aec_codec *c, int decoder_only, const char *meta, uint8_t **out,
                        size_t *len)
{
    decoder_blobs b;
    if (make_blobs(c, &b)) return -1;
    aec_chunk extra[3] = {{{'H', 'S', 'I', 'Q'}, b.hs, b.hs_len},
                          {{'Z', 'C', 'D', 'F'}, b.z, b.z_len},
                          {{'Y', 'C', 'D', 'F'}, b.y, b.y_len}};
    int r = -1;
    if (decoder_only && !c->model.decoder_only) {
        aec_model d;
        char e2[256];
        if (aec_model_create_decoder(&d, &c->model.arch) == 0) {
            if (nn_params_deserialize_subset(&d.p, b.parm, b.parm_len, e2, sizeof e2) == 0)
                r = aec_model_serialize_f16(&d, meta, extra, 3, out, len);
            aec_model_free(&d);
        }
    } else {
        r = aec_model_serialize_f16(&c->model, meta, extra, 3, out, len);
    }
    free_blobs(&b);
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

int aec_codec_parse(aec_codec *c, const uint8_t *buf, size_t len, const char *name,
                    int decoder_only, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    aec_chunk extra[AEC_MODEL_MAX_EXTRA];
    int n_extra = 0;
    if (aec_model_parse(buf, len, name, decoder_only, &c->model, NULL, NULL, NULL, extra, &n_extra,
                        err, errlen))
        return -1;
    c->can_encode = !c->model.decoder_only;
    const aec_chunk *hs = NULL, *z = NULL, *y = NULL;
    for (int i = 0; i < n_extra; i++) {
        if (!memcmp(extra[i].tag, "HSIQ", 4)) hs = &extra[i];
        if (!memcmp(extra[i].tag, "ZCDF", 4)) z = &extra[i];
        if (!memcmp(extra[i].tag, "YCDF", 4)) y = &extra[i];
    }
    char inner[256];
    if (!hs || !z || !y) {
        snprintf(err, errlen, "%s: not exported for coding (no %s chunk; run aec export)", name,
                 !hs ? "HSIQ" : !z ? "ZCDF" : "YCDF");
        goto fail;
    }
    if (aec_hs_int_deserialize(&c->hs, hs->data, hs->len, inner, sizeof inner) ||
        aec_cdf_set_deserialize(&c->z_tables, z->data, z->len, inner, sizeof inner) ||
        aec_cdf_set_deserialize(&c->y_tables, y->data, y->len, inner, sizeof inner)) {
        snprintf(err, errlen, "%s: %s", name, inner);
        goto fail;
    }
    const aec_arch *a = &c->model.arch;
    if (c->hs.n != a->n || c->hs.m != a->m || c->hs.levels != a->levels ||
        c->z_tables.n_tables != (uint32_t)a->n || c->z_tables.kind != AEC_CDF_KIND_INDEXED ||
        c->y_tables.kind != AEC_CDF_KIND_GAUSSIAN) {
        snprintf(err, errlen, "%s: coding chunks do not match the architecture", name);
        goto fail;
    }
    decoder_blobs b;
    if (make_blobs(c, &b)) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto fail;
    }
    compute_id(c, &b);
    free_blobs(&b);
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

typedef struct {
    int pw, ph, zh, zw, yh, yw;
} latent_shape;

static latent_shape shape_of(int w, int h)
{
    latent_shape s;
    s.pw = (w + 63) / 64 * 64;
    s.ph = (h + 63) / 64 * 64;
    s.zw = s.pw / 64;
    s.zh = s.ph / 64;
    s.yw = s.pw / 16;
    s.yh = s.ph / 16;
    return s;
}

/* scale_q and mu_q of every latent from z^, by the integer hyper-synthesis */
static int hyper_params(const aec_codec *c, const int32_t *z, const latent_shape *ls,
                        int32_t t_q16, int32_t **scale_q, int32_t **mu_q)
{
    size_t ny = (size_t)c->model.arch.m * ls->yh * ls->yw;
    size_t scratch_len = aec_hs_int_scratch_bytes(&c->hs, ls->zh, ls->zw);
    int32_t *hinv = malloc((size_t)c->model.arch.n * sizeof *hinv);
    void *scratch = malloc(scratch_len ? scratch_len : 1);
    *scale_q = malloc(ny * sizeof(int32_t));
    *mu_q = malloc(ny * sizeof(int32_t));
    int r = -1;
    if (hinv && scratch && *scale_q && *mu_q) {
        aec_hs_int_hinv(&c->hs, t_q16, hinv);
        r = aec_hs_int_run(&c->hs, z, ls->zh, ls->zw, hinv, *scale_q, *mu_q, scratch, scratch_len);
    }
    free(hinv);
    free(scratch);
    if (r) {
        free(*scale_q);
        free(*mu_q);
        *scale_q = *mu_q = NULL;
    }
    return r;
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
    int32_t t_q16 = level_position_q16(m, qx);
    float t = (float)t_q16 / (float)(1 << AEC_HS_T_FRAC);
    latent_shape ls = shape_of(w, h);

    aec_train_state s;
    aec_train_state_init(&s, 0);
    aec_rc_encoder enc;
    aec_rc_encoder_init(&enc);
    float *planar = NULL;
    int32_t *z = NULL, *scale_q = NULL, *mu_q = NULL;
    uint8_t *stream = NULL;
    size_t stream_len = 0;
    int ret = -1, pw, ph;
    if (aec_image_to_planar(rgb, w, h, 64, &planar, &pw, &ph)) goto oom;
    nn_tensor x = {1, 3, ph, pw, planar};
    if (aec_model_analyze(m, &s, &x, t)) goto oom;

    size_t nz = (size_t)m->arch.n * ls.zh * ls.zw, ny = (size_t)m->arch.m * ls.yh * ls.yw;
    if (!(z = malloc(nz * sizeof *z))) goto oom;
    for (size_t k = 0; k < nz; k++) {
        float v = s.z_hat.data[k];
        z[k] = v > AEC_HS_Z_MAX ? AEC_HS_Z_MAX : v < -AEC_HS_Z_MAX ? -AEC_HS_Z_MAX : (int32_t)v;
    }
    size_t plane_z = (size_t)ls.zh * ls.zw;
    for (size_t k = 0; k < nz; k++) aec_rc_encode(&enc, &c->z_tables.tables[k / plane_z], z[k]);
    if (hyper_params(c, z, &ls, t_q16, &scale_q, &mu_q)) goto oom;
    for (size_t k = 0; k < ny; k++) {
        double mu = (double)mu_q[k] / (double)(1 << AEC_HS_OUT_FRAC);
        int32_t r = round_to_symbol((double)s.y_g.data[k] - mu);
        aec_rc_encode(&enc, &c->y_tables.tables[aec_scale_index(&c->y_tables, scale_q[k])], r);
    }
    int rc = aec_rc_encoder_finish(&enc, &stream, &stream_len);
    if (rc != AEC_RC_OK) goto oom;

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
    free(planar);
    free(z);
    free(scale_q);
    free(mu_q);
    aec_train_state_free(&s);
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
    aec_container con;
    if (aec_container_parse(data, len, c->id, &con, err, errlen)) return -1;
    if (con.n_streams != 1) {
        snprintf(err, errlen, "%u streams in the file; this model codes one", (unsigned)con.n_streams);
        return -1;
    }
    const aec_model *m = &c->model;
    latent_shape ls = shape_of((int)con.width, (int)con.height);
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
    for (size_t k = 0; k < ny; k++) {
        const aec_cdf_table *t = &c->y_tables.tables[aec_scale_index(&c->y_tables, lat->scale_q[k])];
        if (aec_rc_decode(&dec, t, &lat->r[k])) goto corrupt;
    }
    if (aec_rc_decoder_finish(&dec) != AEC_RC_OK) goto corrupt;
    return 0;
corrupt:
    snprintf(err, errlen, "corrupt coded data (%s)",
             aec_rc_strerror(dec.error ? dec.error : AEC_RC_ERR_CORRUPT));
    aec_latents_free(lat);
    return -1;
oom:
    snprintf(err, errlen, "out of memory");
    aec_latents_free(lat);
    return -1;
}

/* v*255+0.5 truncated, clamped to 0..255; a NaN (only a damaged file's
 * extreme latents can make one) gives 0 rather than undefined behaviour */
static uint8_t to_8bit(float v)
{
    if (!(v > 0.0f)) return 0;
    if (v >= 1.0f) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

int aec_decode(const aec_codec *c, const uint8_t *data, size_t len, uint8_t **rgb, int *w,
               int *h, char *err, size_t errlen)
{
    *rgb = NULL;
    aec_latents lat;
    if (aec_decode_latents(c, data, len, &lat, err, errlen)) return -1;
    const aec_model *m = &c->model;
    int pw = lat.yw * 16, W = lat.width, H = lat.height;
    float t = (float)lat.t_q16 / (float)(1 << AEC_HS_T_FRAC);
    aec_train_state s;
    aec_train_state_init(&s, 0);
    nn_tensor y_hat = {0}, x_hat = {0};
    uint8_t *img = NULL;
    int ret = -1;
    if (nn_tensor_alloc(&y_hat, 1, lat.m, lat.yh, lat.yw)) goto done;
    /* y^ = r + mu */
    size_t ny = (size_t)lat.m * lat.yh * lat.yw;
    for (size_t k = 0; k < ny; k++)
        y_hat.data[k] = (float)((double)lat.r[k] + (double)lat.mu_q[k] / (double)(1 << AEC_HS_OUT_FRAC));
    if (aec_model_synthesize(m, &s, &y_hat, t, &x_hat)) goto done;
    if (!(img = malloc((size_t)W * H * 3))) goto done;
    size_t plane = (size_t)pw * (lat.yh * 16);
    for (int yy = 0; yy < H; yy++)
        for (int xx = 0; xx < W; xx++)
            for (int ch = 0; ch < 3; ch++)
                img[((size_t)yy * W + xx) * 3 + ch] = to_8bit(x_hat.data[ch * plane + (size_t)yy * pw + xx]);
    *rgb = img;
    *w = W;
    *h = H;
    ret = 0;
done:
    if (ret) snprintf(err, errlen, "out of memory");
    aec_latents_free(&lat);
    nn_tensor_free(&y_hat);
    nn_tensor_free(&x_hat);
    aec_train_state_free(&s);
    return ret;
}
