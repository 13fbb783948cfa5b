/* codec/container.h - the .aec file: a small header naming the image, the
 * model that coded it and its entropy-coded streams, then the streams, then
 * a CRC-32 of everything before it. Byte layout: spec/aec-format.md,
 * "Container".
 *
 * Parsing validates every field and length before anything is trusted, and
 * returns one of the AEC_CONTAINER_ERR_* codes with a one-line message. The
 * parsed streams are views into the caller's buffer, valid while it is. */
#ifndef AEC_CONTAINER_H
#define AEC_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#define AEC_CONTAINER_VERSION 1
#define AEC_MAGIC_SIZE 3
#define AEC_MODEL_ID_SIZE 8
#define AEC_MAX_STREAMS 16
#define AEC_MAX_DIMENSION 65535u   /* width and height are 1..65535 */
#define AEC_MAX_PIXELS (1u << 28)  /* and width * height <= 2^28 */
#define AEC_QUALITY_MAX_X100 10000 /* quality 0..100 in hundredths */
/* magic, format byte, model id, width, height, quality, stream count,
 * AEC_MAX_STREAMS lengths, CRC: the largest possible header and trailer */
#define AEC_CONTAINER_MAX_OVERHEAD (AEC_MAGIC_SIZE + 1 + AEC_MODEL_ID_SIZE + 3 + 3 + 2 + 1 + \
                                    5 * AEC_MAX_STREAMS + 4)

enum {
    AEC_LAYOUT_RGB = 0, /* 3 channels, 8 bits each: the only layout of version 1 */
};

enum {
    AEC_CONTAINER_OK = 0,
    AEC_CONTAINER_ERR_MAGIC = -1,      /* not an .aec file */
    AEC_CONTAINER_ERR_VERSION = -2,    /* a version this decoder does not read */
    AEC_CONTAINER_ERR_TRUNCATED = -3,  /* the file ends before its declared end */
    AEC_CONTAINER_ERR_CRC = -4,        /* CRC-32 mismatch: the file is damaged */
    AEC_CONTAINER_ERR_MODEL = -5,      /* coded by a different model */
    AEC_CONTAINER_ERR_DIMENSIONS = -6, /* width/height outside the limits */
    AEC_CONTAINER_ERR_FIELD = -7,      /* a malformed or out-of-range header field */
    AEC_CONTAINER_ERR_TRAILING = -8,   /* bytes after the CRC */
    AEC_CONTAINER_ERR_NOMEM = -9,
    AEC_CONTAINER_ERR_ARG = -10,       /* the writer was given an invalid container */
};

typedef struct {
    uint8_t model_id[AEC_MODEL_ID_SIZE]; /* identity of decoder weights + tables */
    uint32_t width, height;
    uint8_t layout;                      /* AEC_LAYOUT_* */
    uint16_t quality_x100;               /* quality 0..100 as round(q * 100) */
    uint32_t n_streams;                  /* 1..AEC_MAX_STREAMS */
    const uint8_t *stream[AEC_MAX_STREAMS];
    size_t stream_len[AEC_MAX_STREAMS];
} aec_container;

/* round(q * 100), q clamped to [0, 100] (NaN gives 0) */
uint16_t aec_quality_to_x100(double quality);

/* Writes the file to *out (caller frees) and its size to *len. Returns
 * AEC_CONTAINER_OK, AEC_CONTAINER_ERR_DIMENSIONS, AEC_CONTAINER_ERR_ARG (bad
 * layout, quality, stream count or a stream over 4 GiB) or ..._ERR_NOMEM. */
int aec_container_write(const aec_container *c, uint8_t **out, size_t *len);

/* Parses and checks buf[0..len). With expected_model_id non-NULL a file from
 * another model is refused (both ids named in err). On error, err (if
 * errlen > 0) holds one line without a newline and *out is zeroed. */
int aec_container_parse(const uint8_t *buf, size_t len,
                        const uint8_t expected_model_id[AEC_MODEL_ID_SIZE], aec_container *out,
                        char *err, size_t errlen);

/* a generic one-line description of an error code */
const char *aec_container_strerror(int code);

/* 16 lowercase hex digits and a NUL */
void aec_model_id_hex(const uint8_t id[AEC_MODEL_ID_SIZE], char hex[2 * AEC_MODEL_ID_SIZE + 1]);

#endif
