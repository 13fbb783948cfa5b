/* codec/aec_api.c - the public API's coder (aec.h): versions, error
 * strings, loading a model and the coder's settings. */
#include "codec/aec_api.h"

#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/model_file.h"

_Static_assert(AEC_MODEL_ID_BYTES == AEC_MODEL_ID_SIZE, "aec.h's model id size is the format's");

/* a model file is read whole; none is near this */
#define MODEL_FILE_MAX ((size_t)1 << 31)

unsigned aec_version(void) { return AEC_VERSION; }

const char *aec_error_string(aec_status code)
{
    switch (code) {
    case AEC_OK: return "success";
    case AEC_ERROR_ARGUMENT: return "invalid argument";
    case AEC_ERROR_NO_MEMORY: return "out of memory";
    case AEC_ERROR_IO: return "cannot read the file";
    case AEC_ERROR_BAD_MODEL: return "not a usable aec model";
    case AEC_ERROR_NO_MODEL: return "no model loaded";
    case AEC_ERROR_NO_ENCODER: return "the model is decoder-only and cannot encode";
    case AEC_ERROR_NOT_AEC: return "not an .aec file";
    case AEC_ERROR_TRUNCATED: return "the .aec file ends early";
    case AEC_ERROR_CORRUPT: return "the .aec file is damaged";
    case AEC_ERROR_VERSION: return "an .aec format version this library does not read";
    case AEC_ERROR_WRONG_MODEL: return "the .aec file was coded with another model";
    case AEC_ERROR_TOO_LARGE: return "the image is too large";
    }
    return "unknown error code";
}

aec_status aec_api_fail(aec_coder *c, aec_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
    return code;
}

aec_status aec_api_succeed(aec_coder *c)
{
    c->message[0] = 0;
    return AEC_OK;
}

aec_status aec_api_from_message(const char *msg, aec_status otherwise)
{
    return strstr(msg, "out of memory") ? AEC_ERROR_NO_MEMORY : otherwise;
}

int aec_api_threads_enter(const aec_coder *c)
{
    int saved = omp_get_max_threads();
    if (c->threads > 0) omp_set_num_threads(c->threads);
    return saved;
}

void aec_api_threads_leave(const aec_coder *c, int saved)
{
    if (c->threads > 0) omp_set_num_threads(saved);
}

/* ---- the coder ------------------------------------------------------------ */

aec_status aec_coder_create(aec_coder **out)
{
    if (!out) return AEC_ERROR_ARGUMENT;
    *out = calloc(1, sizeof **out);
    return *out ? AEC_OK : AEC_ERROR_NO_MEMORY;
}

static void unload(aec_coder *c)
{
    if (c->loaded) aec_codec_free(&c->codec);
    c->loaded = 0;
}

void aec_coder_free(aec_coder *c)
{
    if (!c) return;
    unload(c);
    free(c);
}

/* A full model file parses as one that can encode; a decoder-only one
 * only as a decoder, which is tried when the first parse fails for any
 * reason but memory. The first parse's message is the one reported when
 * both fail. */
static aec_status parse_model(aec_coder *c, const uint8_t *data, size_t len, const char *name,
                              unsigned flags)
{
    char err[sizeof c->message];
    int decoder_only = (flags & AEC_LOAD_DECODER_ONLY) != 0;
    if (aec_codec_parse(&c->codec, data, len, name, decoder_only, err, sizeof err) == 0 ||
        (!decoder_only && !strstr(err, "out of memory") &&
         aec_codec_parse(&c->codec, data, len, name, 1, c->message, sizeof c->message) == 0)) {
        c->loaded = 1;
        c->codec.max_pixels = c->max_pixels;
        return aec_api_succeed(c);
    }
    return aec_api_fail(c, aec_api_from_message(err, AEC_ERROR_BAD_MODEL), "%s", err);
}

aec_status aec_coder_load_memory(aec_coder *c, const void *data, size_t len, unsigned flags)
{
    if (!c) return AEC_ERROR_ARGUMENT;
    unload(c);
    if (!data || !len || (flags & ~AEC_LOAD_DECODER_ONLY))
        return aec_api_fail(c, AEC_ERROR_ARGUMENT, "aec_coder_load_memory: %s",
                    !data ? "data is NULL" : !len ? "len is 0" : "unknown flags");
    int saved = aec_api_threads_enter(c);
    aec_status st = parse_model(c, data, len, "model", flags);
    aec_api_threads_leave(c, saved);
    return st;
}

aec_status aec_coder_load_file(aec_coder *c, const char *path, unsigned flags)
{
    if (!c) return AEC_ERROR_ARGUMENT;
    unload(c);
    if (!path || (flags & ~AEC_LOAD_DECODER_ONLY))
        return aec_api_fail(c, AEC_ERROR_ARGUMENT, "aec_coder_load_file: %s",
                    !path ? "path is NULL" : "unknown flags");
    size_t len;
    uint8_t *buf = aec_read_file(path, MODEL_FILE_MAX, &len, c->message, sizeof c->message);
    if (!buf) return aec_api_from_message(c->message, AEC_ERROR_IO);
    int saved = aec_api_threads_enter(c);
    aec_status st = parse_model(c, buf, len, path, flags);
    aec_api_threads_leave(c, saved);
    free(buf);
    return st;
}

int aec_coder_can_encode(const aec_coder *c) { return c && c->loaded && c->codec.can_encode; }

aec_status aec_coder_model_id(const aec_coder *c, uint8_t id[AEC_MODEL_ID_BYTES])
{
    if (!c || !id) return AEC_ERROR_ARGUMENT;
    if (!c->loaded) return AEC_ERROR_NO_MODEL;
    memcpy(id, c->codec.id, AEC_MODEL_ID_BYTES);
    return AEC_OK;
}

aec_status aec_coder_set_threads(aec_coder *c, int threads)
{
    if (!c || threads < 0) return AEC_ERROR_ARGUMENT;
    c->threads = threads;
    return AEC_OK;
}

aec_status aec_coder_set_max_pixels(aec_coder *c, uint64_t max_pixels)
{
    if (!c) return AEC_ERROR_ARGUMENT;
    c->max_pixels = max_pixels;
    c->codec.max_pixels = max_pixels;
    return AEC_OK;
}

const char *aec_coder_message(const aec_coder *c) { return c ? c->message : ""; }
