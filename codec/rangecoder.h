/* codec/rangecoder.h - the entropy coder: a byte-oriented range coder with
 * 16-bit probabilities that codes int32 values under aec_cdf_table's.
 *
 * Values inside a table's range are coded as their symbol; any other int32
 * is coded as the table's escape symbol followed by an Elias-gamma code of
 * its zig-zagged distance from the range, in equiprobable bits. The exact
 * arithmetic, which the decoder must reproduce bit for bit, is given in
 * spec/aec-format.md ("Entropy coding").
 *
 * The encoder appends to a buffer it grows itself. The decoder reads from a
 * caller's (buf, len) and never reads outside it: past the end it sees zero
 * bytes, which is how the encoder's trailing zeros are dropped, and more
 * than AEC_RC_MAX_PAD such bytes means the stream was truncated. A decode
 * does bounded work whatever the input; errors are sticky, so a caller may
 * decode a whole tensor and check once (aec_rc_decoder_finish). On garbage
 * that passes these checks the decoder returns wrong but in-range values; the
 * container's CRC-32 is what detects corruption. */
#ifndef AEC_RANGECODER_H
#define AEC_RANGECODER_H

#include <stddef.h>
#include <stdint.h>

#include "codec/cdf_tables.h"

/* the encoder drops at most this many trailing zero bytes */
#define AEC_RC_MAX_PAD 4

enum {
    AEC_RC_OK = 0,
    AEC_RC_ERR_TRUNCATED = -1, /* needed more than AEC_RC_MAX_PAD bytes past the end */
    AEC_RC_ERR_CORRUPT = -2,   /* a state no encoder produces, or bytes left unread */
    AEC_RC_ERR_OVERFLOW = -3,  /* an escaped value outside int32 */
    AEC_RC_ERR_NOMEM = -4,     /* the encoder's buffer could not grow */
    AEC_RC_ERR_ARG = -5,       /* a table that breaks the cdf invariants */
};

/* one line, no trailing newline, for any of the codes above */
const char *aec_rc_strerror(int code);

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint64_t low;     /* bottom of the interval; bit 32 is a pending carry */
    uint32_t range;   /* width of the interval, >= 2^24 between symbols */
    uint8_t cache;    /* last byte shifted out, not yet written: a carry may still reach it */
    int have_cache;
    size_t ff_run;    /* 0xFF bytes after the cache, which a carry would turn to 0x00 */
    int error;
} aec_rc_encoder;

void aec_rc_encoder_init(aec_rc_encoder *enc);
/* Codes v under t; returns AEC_RC_OK or a (sticky) error. */
int aec_rc_encode(aec_rc_encoder *enc, const aec_cdf_table *t, int32_t v);
/* Flushes and hands over the stream: *out (caller frees; NULL when the
 * stream is empty) and *len. Returns AEC_RC_OK, or the first error, with the
 * buffer freed. The encoder is reset either way. */
int aec_rc_encoder_finish(aec_rc_encoder *enc, uint8_t **out, size_t *len);
/* Frees the buffer of an encoder that will not be finished. */
void aec_rc_encoder_free(aec_rc_encoder *enc);

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t pos;       /* bytes consumed, including the zeros read past the end */
    uint32_t range;
    uint32_t code;    /* offset of the coded point from the interval's bottom */
    int error;
} aec_rc_decoder;

void aec_rc_decoder_init(aec_rc_decoder *dec, const uint8_t *buf, size_t len);
/* Decodes one value under t into *v (0 on error). Returns AEC_RC_OK or the
 * first error met so far. */
int aec_rc_decode(aec_rc_decoder *dec, const aec_cdf_table *t, int32_t *v);
/* After the last value: AEC_RC_OK when the stream was well formed and used
 * exactly, else the error (bytes left unread are AEC_RC_ERR_CORRUPT). */
int aec_rc_decoder_finish(const aec_rc_decoder *dec);

#endif
