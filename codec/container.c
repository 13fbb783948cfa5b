#include "codec/container.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/le32.h"
#include "codec/varint.h"

static const uint8_t aec_magic[AEC_MAGIC_SIZE] = {'A', 'E', 'C'};

#define CRC_SIZE 4

static int fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *aec_container_strerror(int code)
{
    switch (code) {
    case AEC_CONTAINER_OK: return "ok";
    case AEC_CONTAINER_ERR_MAGIC: return "not an .aec file";
    case AEC_CONTAINER_ERR_VERSION: return "unsupported .aec version";
    case AEC_CONTAINER_ERR_TRUNCATED: return ".aec file truncated";
    case AEC_CONTAINER_ERR_CRC: return ".aec file damaged (CRC-32 mismatch)";
    case AEC_CONTAINER_ERR_MODEL: return ".aec file coded with a different model";
    case AEC_CONTAINER_ERR_DIMENSIONS: return ".aec image dimensions out of range";
    case AEC_CONTAINER_ERR_FIELD: return ".aec header field malformed or out of range";
    case AEC_CONTAINER_ERR_TRAILING: return "bytes after the end of the .aec file";
    case AEC_CONTAINER_ERR_NOMEM: return "out of memory";
    case AEC_CONTAINER_ERR_ARG: return "invalid container given to the writer";
    default: return "unknown container error";
    }
}

void aec_model_id_hex(const uint8_t id[AEC_MODEL_ID_SIZE], char hex[2 * AEC_MODEL_ID_SIZE + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < AEC_MODEL_ID_SIZE; i++) {
        hex[2 * i] = digits[id[i] >> 4];
        hex[2 * i + 1] = digits[id[i] & 15];
    }
    hex[2 * AEC_MODEL_ID_SIZE] = 0;
}

uint16_t aec_quality_to_x100(double quality)
{
    if (!(quality > 0)) return 0;
    if (quality >= 100) return AEC_QUALITY_MAX_X100;
    return (uint16_t)floor(quality * 100 + 0.5);
}

static int dimensions_ok(uint32_t width, uint32_t height)
{
    return width >= 1 && height >= 1 && width <= AEC_MAX_DIMENSION &&
           height <= AEC_MAX_DIMENSION && (uint64_t)width * height <= AEC_MAX_PIXELS;
}

int aec_container_write(const aec_container *c, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!dimensions_ok(c->width, c->height)) return AEC_CONTAINER_ERR_DIMENSIONS;
    if (c->layout != AEC_LAYOUT_RGB || c->quality_x100 > AEC_QUALITY_MAX_X100 ||
        c->n_streams < 1 || c->n_streams > AEC_MAX_STREAMS)
        return AEC_CONTAINER_ERR_ARG;
    size_t payload = 0;
    for (uint32_t i = 0; i < c->n_streams; i++) {
        if (c->stream_len[i] > UINT32_MAX || (c->stream_len[i] && !c->stream[i]))
            return AEC_CONTAINER_ERR_ARG;
        if (payload + c->stream_len[i] < payload) return AEC_CONTAINER_ERR_ARG;
        payload += c->stream_len[i];
    }
    if (payload > SIZE_MAX - AEC_CONTAINER_MAX_OVERHEAD) return AEC_CONTAINER_ERR_ARG;
    uint8_t *buf = malloc(AEC_CONTAINER_MAX_OVERHEAD + payload);
    if (!buf) return AEC_CONTAINER_ERR_NOMEM;

    size_t n = 0;
    memcpy(buf, aec_magic, AEC_MAGIC_SIZE);
    n += AEC_MAGIC_SIZE;
    buf[n++] = (uint8_t)(AEC_CONTAINER_VERSION << 4 | c->layout);
    memcpy(buf + n, c->model_id, AEC_MODEL_ID_SIZE);
    n += AEC_MODEL_ID_SIZE;
    n += aec_varint_put(buf + n, c->width);
    n += aec_varint_put(buf + n, c->height);
    n += aec_varint_put(buf + n, c->quality_x100);
    n += aec_varint_put(buf + n, c->n_streams);
    for (uint32_t i = 0; i < c->n_streams; i++)
        n += aec_varint_put(buf + n, (uint32_t)c->stream_len[i]);
    for (uint32_t i = 0; i < c->n_streams; i++) {
        if (c->stream_len[i]) memcpy(buf + n, c->stream[i], c->stream_len[i]);
        n += c->stream_len[i];
    }
    aec_put_le32(buf + n, aec_crc32(buf, n));
    n += CRC_SIZE;
    *out = buf;
    *len = n;
    return AEC_CONTAINER_OK;
}

/* Reads a varint header field, naming it in the error. */
static int read_field(const uint8_t *buf, size_t len, size_t *pos, uint32_t *v, const char *name,
                      char *err, size_t errlen)
{
    int got = aec_varint_get(buf + *pos, len - *pos, v);
    if (got == 0)
        return fail(AEC_CONTAINER_ERR_TRUNCATED, err, errlen,
                    "truncated .aec file: ends inside the %s field (%zu bytes)", name, len);
    if (got < 0)
        return fail(AEC_CONTAINER_ERR_FIELD, err, errlen,
                    "malformed .aec header: %s at byte %zu is not a valid varint", name, *pos);
    *pos += (size_t)got;
    return AEC_CONTAINER_OK;
}

static int parse(const uint8_t *buf, size_t len, const uint8_t *expected_model_id,
                 aec_container *out, char *err, size_t errlen)
{
    size_t magic_seen = len < AEC_MAGIC_SIZE ? len : AEC_MAGIC_SIZE;
    if (memcmp(buf, aec_magic, magic_seen) != 0)
        return fail(AEC_CONTAINER_ERR_MAGIC, err, errlen, "not an .aec file (wrong magic bytes)");
    if (len < AEC_MAGIC_SIZE + 1 + AEC_MODEL_ID_SIZE)
        return fail(AEC_CONTAINER_ERR_TRUNCATED, err, errlen,
                    "truncated .aec file: %zu bytes, shorter than the fixed header", len);
    size_t pos = AEC_MAGIC_SIZE;
    unsigned version = buf[pos] >> 4, layout = buf[pos] & 15u;
    pos++;
    if (version != AEC_CONTAINER_VERSION)
        return fail(AEC_CONTAINER_ERR_VERSION, err, errlen,
                    "unsupported .aec version %u (this decoder reads version %d)", version,
                    AEC_CONTAINER_VERSION);
    memcpy(out->model_id, buf + pos, AEC_MODEL_ID_SIZE);
    pos += AEC_MODEL_ID_SIZE;

    uint32_t quality = 0;
    int rc;
    if ((rc = read_field(buf, len, &pos, &out->width, "width", err, errlen)) ||
        (rc = read_field(buf, len, &pos, &out->height, "height", err, errlen)) ||
        (rc = read_field(buf, len, &pos, &quality, "quality", err, errlen)) ||
        (rc = read_field(buf, len, &pos, &out->n_streams, "stream count", err, errlen)))
        return rc;
    /* the count must be checked before it sizes the loop below */
    if (out->n_streams < 1 || out->n_streams > AEC_MAX_STREAMS)
        return fail(AEC_CONTAINER_ERR_FIELD, err, errlen,
                    "malformed .aec header: %u streams (1..%d allowed)",
                    (unsigned)out->n_streams, AEC_MAX_STREAMS);
    uint64_t payload = 0;
    for (uint32_t i = 0; i < out->n_streams; i++) {
        uint32_t slen;
        char name[32];
        snprintf(name, sizeof name, "stream %u length", (unsigned)i);
        if ((rc = read_field(buf, len, &pos, &slen, name, err, errlen))) return rc;
        out->stream_len[i] = slen;
        payload += slen;
    }
    /* pos <= len here, and payload < 2^36: no overflow in 64 bits */
    uint64_t total = (uint64_t)pos + payload + CRC_SIZE;
    if ((uint64_t)len < total)
        return fail(AEC_CONTAINER_ERR_TRUNCATED, err, errlen,
                    "truncated .aec file: %zu bytes, the header declares %llu", len,
                    (unsigned long long)total);
    if ((uint64_t)len > total)
        return fail(AEC_CONTAINER_ERR_TRAILING, err, errlen,
                    "%llu unexpected bytes after the end of the .aec file (%llu bytes)",
                    (unsigned long long)(len - total), (unsigned long long)total);
    size_t crc_at = len - CRC_SIZE;
    uint32_t stored = aec_get_le32(buf + crc_at);
    uint32_t computed = aec_crc32(buf, crc_at);
    if (stored != computed)
        return fail(AEC_CONTAINER_ERR_CRC, err, errlen,
                    ".aec file damaged: CRC-32 %08x, computed %08x", (unsigned)stored,
                    (unsigned)computed);
    if (expected_model_id && memcmp(expected_model_id, out->model_id, AEC_MODEL_ID_SIZE) != 0) {
        char have[2 * AEC_MODEL_ID_SIZE + 1], want[2 * AEC_MODEL_ID_SIZE + 1];
        aec_model_id_hex(out->model_id, have);
        aec_model_id_hex(expected_model_id, want);
        return fail(AEC_CONTAINER_ERR_MODEL, err, errlen,
                    "model mismatch: file was coded with model %s, this decoder has model %s",
                    have, want);
    }
    if (layout != AEC_LAYOUT_RGB)
        return fail(AEC_CONTAINER_ERR_FIELD, err, errlen,
                    "unsupported .aec channel layout %u (version 1 knows 0 = RGB)", layout);
    out->layout = (uint8_t)layout;
    if (!dimensions_ok(out->width, out->height))
        return fail(AEC_CONTAINER_ERR_DIMENSIONS, err, errlen,
                    "bad .aec dimensions %ux%u (each 1..%u, at most %u pixels)",
                    (unsigned)out->width, (unsigned)out->height, (unsigned)AEC_MAX_DIMENSION,
                    (unsigned)AEC_MAX_PIXELS);
    if (quality > AEC_QUALITY_MAX_X100)
        return fail(AEC_CONTAINER_ERR_FIELD, err, errlen,
                    "malformed .aec header: quality %u.%02u above 100", (unsigned)(quality / 100),
                    (unsigned)(quality % 100));
    out->quality_x100 = (uint16_t)quality;
    for (uint32_t i = 0; i < out->n_streams; i++) {
        out->stream[i] = buf + pos;
        pos += out->stream_len[i];
    }
    return AEC_CONTAINER_OK;
}

int aec_container_parse(const uint8_t *buf, size_t len,
                        const uint8_t expected_model_id[AEC_MODEL_ID_SIZE], aec_container *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = 0;
    if (!buf || len == 0)
        return fail(AEC_CONTAINER_ERR_TRUNCATED, err, errlen, "truncated .aec file: empty");
    int rc = parse(buf, len, expected_model_id, out, err, errlen);
    if (rc != AEC_CONTAINER_OK) memset(out, 0, sizeof *out);
    return rc;
}
