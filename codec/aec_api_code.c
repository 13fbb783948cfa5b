/* codec/aec_api_code.c - the public API's encoding, decoding and file
 * information (aec.h), over aec_encode, aec_encode_target and aec_decode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/aec_api.h"
#include "codec/container.h"
#include "codec/target.h"

void aec_encode_options_default(aec_encode_options *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->quality = 75;
    o->effort = AEC_EFFORT_DEFAULT;
}

/* NULL when the options are valid, else what is wrong with them. */
static const char *bad_options(const aec_encode_options *o)
{
    if (!(o->quality >= 0 && o->quality <= 100)) return "quality outside 0-100";
    if (o->effort < 0 || o->effort > AEC_EFFORT_MAX) return "effort outside 0-3";
    if (!(o->target_psnr >= 0 && o->target_psnr < INFINITY)) return "target_psnr not a finite number >= 0";
    if (!(o->target_bpp >= 0 && o->target_bpp < INFINITY)) return "target_bpp not a finite number >= 0";
    if (o->target_psnr > 0 && o->target_bpp > 0) return "both target_psnr and target_bpp given";
    return NULL;
}

/* ARGUMENT, TOO_LARGE or OK for an image to encode. */
static aec_status check_image(aec_coder *c, const uint8_t *rgb, int w, int h)
{
    if (!rgb) return aec_api_fail(c, AEC_ERROR_ARGUMENT, "aec_encode_rgb: rgb is NULL");
    if (w < 1 || h < 1)
        return aec_api_fail(c, AEC_ERROR_ARGUMENT, "aec_encode_rgb: image size %dx%d", w, h);
    if (w > (int)AEC_MAX_DIMENSION || h > (int)AEC_MAX_DIMENSION ||
        (uint64_t)w * (uint64_t)h > AEC_MAX_PIXELS)
        return aec_api_fail(c, AEC_ERROR_TOO_LARGE,
                            "image size %dx%d outside what the format holds (sides up to %u, "
                            "%u pixels)", w, h, AEC_MAX_DIMENSION, AEC_MAX_PIXELS);
    return AEC_OK;
}

/* The encode itself, at a quality or to a target, as `aec encode` does it. */
static int encode(const aec_codec *codec, const uint8_t *rgb, int w, int h,
                  const aec_encode_options *o, aec_trial *best, char *err, size_t errlen)
{
    if (o->target_psnr > 0 || o->target_bpp > 0) {
        aec_target g = {o->target_psnr > 0, o->target_psnr > 0 ? o->target_psnr : o->target_bpp};
        aec_target_result r;
        if (aec_encode_target(codec, rgb, w, h, &g, &r, err, errlen)) return -1;
        *best = r.best;
        return 0;
    }
    return aec_trial_encode(codec, rgb, w, h, (int)aec_quality_to_x100(o->quality), 0, best, err,
                            errlen);
}

aec_status aec_encode_rgb(aec_coder *c, const uint8_t *rgb, int width, int height,
                          const aec_encode_options *opt, uint8_t **out, size_t *out_len)
{
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!c) return AEC_ERROR_ARGUMENT;
    if (!out || !out_len)
        return aec_api_fail(c, AEC_ERROR_ARGUMENT, "aec_encode_rgb: out or out_len is NULL");
    aec_encode_options defaults;
    aec_encode_options_default(&defaults);
    const aec_encode_options *o = opt ? opt : &defaults;
    const char *why = bad_options(o);
    if (why) return aec_api_fail(c, AEC_ERROR_ARGUMENT, "aec_encode_rgb: %s", why);
    aec_status st = check_image(c, rgb, width, height);
    if (st) return st;
    if (!c->loaded) return aec_api_fail(c, AEC_ERROR_NO_MODEL, "no model loaded");
    if (!c->codec.can_encode)
        return aec_api_fail(c, AEC_ERROR_NO_ENCODER, "the model is decoder-only and cannot encode");
    aec_codec_set_effort(&c->codec, o->effort);
    aec_trial best;
    int saved = aec_api_threads_enter(c);
    int bad = encode(&c->codec, rgb, width, height, o, &best, c->message, sizeof c->message);
    aec_api_threads_leave(c, saved);
    if (bad) return aec_api_from_message(c->message, AEC_ERROR_NO_MEMORY);
    *out = best.bytes;
    *out_len = best.len;
    return aec_api_succeed(c);
}

/* The container's error codes as the API's. */
static aec_status container_status(int code)
{
    switch (code) {
    case AEC_CONTAINER_OK: return AEC_OK;
    case AEC_CONTAINER_ERR_MAGIC: return AEC_ERROR_NOT_AEC;
    case AEC_CONTAINER_ERR_VERSION: return AEC_ERROR_VERSION;
    case AEC_CONTAINER_ERR_TRUNCATED: return AEC_ERROR_TRUNCATED;
    case AEC_CONTAINER_ERR_MODEL: return AEC_ERROR_WRONG_MODEL;
    case AEC_CONTAINER_ERR_NOMEM: return AEC_ERROR_NO_MEMORY;
    default: return AEC_ERROR_CORRUPT; /* CRC, dimensions, fields, trailing bytes */
    }
}

aec_status aec_get_info(const uint8_t *data, size_t len, aec_info *info)
{
    if (info) memset(info, 0, sizeof *info);
    if (!data || !info) return AEC_ERROR_ARGUMENT;
    aec_container con;
    int rc = aec_container_parse(data, len, NULL, &con, NULL, 0);
    if (rc) return container_status(rc);
    info->width = (int)con.width;
    info->height = (int)con.height;
    info->quality = con.quality_x100 / 100.0;
    memcpy(info->model_id, con.model_id, AEC_MODEL_ID_BYTES);
    return AEC_OK;
}

/* The checks aec_decode makes before decoding, with their codes: the
 * container (and its model id), then the decoder's pixel limit. */
static aec_status check_file(aec_coder *c, const uint8_t *data, size_t len)
{
    aec_container con;
    int rc = aec_container_parse(data, len, c->codec.id, &con, c->message, sizeof c->message);
    if (rc) return container_status(rc);
    uint64_t limit = c->max_pixels ? c->max_pixels : AEC_DECODE_MAX_PIXELS_DEFAULT;
    uint64_t padded = (uint64_t)(con.width + 63) / 64 * 64 * ((con.height + 63) / 64 * 64);
    if (padded > limit)
        return aec_api_fail(c, AEC_ERROR_TOO_LARGE,
                            "image %ux%u too large for this decoder: %llu pixels padded to "
                            "multiples of 64, the limit is %llu",
                            (unsigned)con.width, (unsigned)con.height,
                            (unsigned long long)padded, (unsigned long long)limit);
    return AEC_OK;
}

aec_status aec_decode_rgb(aec_coder *c, const uint8_t *data, size_t len, uint8_t **rgb,
                          int *width, int *height)
{
    if (rgb) *rgb = NULL;
    if (width) *width = 0;
    if (height) *height = 0;
    if (!c) return AEC_ERROR_ARGUMENT;
    if (!data || !rgb || !width || !height)
        return aec_api_fail(c, AEC_ERROR_ARGUMENT, "aec_decode_rgb: %s is NULL",
                            !data ? "data" : !rgb ? "rgb" : !width ? "width" : "height");
    if (!c->loaded) return aec_api_fail(c, AEC_ERROR_NO_MODEL, "no model loaded");
    aec_status st = check_file(c, data, len);
    if (st) return st;
    int saved = aec_api_threads_enter(c);
    int bad = aec_decode(&c->codec, data, len, rgb, width, height, c->message, sizeof c->message);
    aec_api_threads_leave(c, saved);
    if (bad) {
        *width = *height = 0;
        return aec_api_from_message(c->message, AEC_ERROR_CORRUPT);
    }
    return aec_api_succeed(c);
}
