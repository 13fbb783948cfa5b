#include "codec/rangecoder.h"

#include <stdlib.h>
#include <string.h>

/* The interval [low, low + range) shrinks with every symbol. Whenever range
 * drops below 2^24 the top byte of low is settled except for a possible carry
 * and is shifted out, and range is scaled up by 256, so between symbols
 * 2^24 <= range < 2^32 and range >> 16 (the size of one count) is >= 256. */
#define RANGE_BOTTOM (1u << 24)
#define HALF_COUNT (AEC_CDF_TOTAL / 2)
/* an escaped distance is < 2^32, its zig-zag < 2^33, so gamma(zz + 1) has
 * at most 33 leading zeros */
#define GAMMA_MAX_ZEROS 33

const char *aec_rc_strerror(int code)
{
    switch (code) {
    case AEC_RC_OK: return "ok";
    case AEC_RC_ERR_TRUNCATED: return "entropy stream truncated";
    case AEC_RC_ERR_CORRUPT: return "entropy stream corrupt";
    case AEC_RC_ERR_OVERFLOW: return "entropy stream codes a value outside int32";
    case AEC_RC_ERR_NOMEM: return "out of memory in the entropy encoder";
    case AEC_RC_ERR_ARG: return "invalid cdf table given to the entropy coder";
    default: return "unknown entropy coder error";
    }
}

/* ---- encoder ---------------------------------------------------------------- */

void aec_rc_encoder_init(aec_rc_encoder *enc)
{
    memset(enc, 0, sizeof *enc);
    enc->range = 0xFFFFFFFFu;
}

void aec_rc_encoder_free(aec_rc_encoder *enc)
{
    free(enc->buf);
    aec_rc_encoder_init(enc);
}

static void put_byte(aec_rc_encoder *enc, uint8_t b)
{
    if (enc->error) return;
    if (enc->len == enc->cap) {
        size_t cap = enc->cap ? 2 * enc->cap : 256;
        uint8_t *grown = cap > enc->cap ? realloc(enc->buf, cap) : NULL;
        if (!grown) {
            enc->error = AEC_RC_ERR_NOMEM;
            return;
        }
        enc->buf = grown;
        enc->cap = cap;
    }
    enc->buf[enc->len++] = b;
}

/* Moves the top byte of low out. A byte of 0xFF may still become 0x00 by a
 * carry, so runs of them wait in ff_run behind the cached byte before them,
 * until a byte below 0xFF (no carry can pass it) or a carry settles them. */
static void shift_low(aec_rc_encoder *enc)
{
    if (enc->low < 0xFF000000u || enc->low > 0xFFFFFFFFu) {
        uint8_t carry = (uint8_t)(enc->low >> 32);
        /* Without a cached byte no carry can happen: everything coded lies
         * below the initial range 2^32 - 1. */
        if (enc->have_cache) put_byte(enc, (uint8_t)(enc->cache + carry));
        for (; enc->ff_run; enc->ff_run--) put_byte(enc, (uint8_t)(0xFF + carry));
        enc->cache = (uint8_t)(enc->low >> 24);
        enc->have_cache = 1;
    } else {
        enc->ff_run++;
    }
    enc->low = (enc->low & 0x00FFFFFFu) << 8;
}

static void encode_counts(aec_rc_encoder *enc, uint32_t cum, uint32_t freq)
{
    uint32_t r = enc->range >> AEC_CDF_PRECISION;
    enc->low += (uint64_t)r * cum;
    enc->range = r * freq;
    while (enc->range < RANGE_BOTTOM) {
        enc->range <<= 8;
        shift_low(enc);
    }
}

static void encode_bit(aec_rc_encoder *enc, unsigned bit)
{
    encode_counts(enc, bit ? HALF_COUNT : 0, HALF_COUNT);
}

int aec_rc_encode(aec_rc_encoder *enc, const aec_cdf_table *t, int32_t v)
{
    if (enc->error) return enc->error;
    if (t->length == 0 || t->length > AEC_CDF_MAX_LENGTH) return enc->error = AEC_RC_ERR_ARG;
    int64_t index = (int64_t)v - t->offset;
    uint32_t sym = index >= 0 && index < t->length ? (uint32_t)index : t->length;
    uint32_t lo = t->cdf[sym], hi = t->cdf[sym + 1];
    if (hi <= lo || hi > AEC_CDF_TOTAL) return enc->error = AEC_RC_ERR_ARG;
    encode_counts(enc, lo, hi - lo);
    if (sym == t->length) {
        /* distance outside the range, zig-zagged: even above, odd below */
        uint64_t zz = index < 0 ? 2 * (uint64_t)(-index - 1) + 1
                                : 2 * (uint64_t)(index - t->length);
        uint64_t m = zz + 1;
        int top = 63;
        while (!(m >> top)) top--;
        for (int i = 0; i < top; i++) encode_bit(enc, 0);
        for (int i = top; i >= 0; i--) encode_bit(enc, (unsigned)(m >> i) & 1u);
    }
    return enc->error;
}

int aec_rc_encoder_finish(aec_rc_encoder *enc, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    /* Any point in [low, low + range) identifies the stream; take the one
     * with the most trailing zero bits so that the final bytes, which the
     * decoder reads as zero past the end anyway, can be dropped. */
    uint64_t last = enc->low + enc->range - 1;
    uint64_t point = enc->low;
    for (int k = 32; k > 0; k--) {
        uint64_t mask = ((uint64_t)1 << k) - 1;
        uint64_t rounded = (enc->low + mask) & ~mask;
        if (rounded <= last) {
            point = rounded;
            break;
        }
    }
    enc->low = point;
    for (int i = 0; i < 5; i++) shift_low(enc); /* the cache, then the 4 bytes of point */
    int err = enc->error;
    if (err) {
        aec_rc_encoder_free(enc);
        return err;
    }
    for (int i = 0; i < AEC_RC_MAX_PAD && enc->len > 0 && enc->buf[enc->len - 1] == 0; i++)
        enc->len--;
    *out = enc->len ? enc->buf : NULL;
    *len = enc->len;
    if (!enc->len) free(enc->buf);
    aec_rc_encoder_init(enc);
    return AEC_RC_OK;
}

/* ---- decoder ---------------------------------------------------------------- */

static uint8_t next_byte(aec_rc_decoder *dec)
{
    if (dec->pos < dec->len) return dec->buf[dec->pos++];
    /* past the end: the zeros the encoder dropped, at most AEC_RC_MAX_PAD */
    dec->pos++;
    if (dec->pos - dec->len > AEC_RC_MAX_PAD && !dec->error) dec->error = AEC_RC_ERR_TRUNCATED;
    return 0;
}

void aec_rc_decoder_init(aec_rc_decoder *dec, const uint8_t *buf, size_t len)
{
    memset(dec, 0, sizeof *dec);
    dec->buf = buf;
    dec->len = buf ? len : 0;
    dec->range = 0xFFFFFFFFu;
    for (int i = 0; i < 4; i++) dec->code = dec->code << 8 | next_byte(dec);
}

/* The count the coded point falls on, in 0..65535; -1 for a point in the
 * sliver above 65536 counts that no encoder uses. */
static int64_t decode_target(aec_rc_decoder *dec)
{
    uint32_t target = dec->code / (dec->range >> AEC_CDF_PRECISION);
    return target < AEC_CDF_TOTAL ? (int64_t)target : -1;
}

static void decode_update(aec_rc_decoder *dec, uint32_t cum, uint32_t freq)
{
    uint32_t r = dec->range >> AEC_CDF_PRECISION;
    dec->code -= r * cum;
    dec->range = r * freq;
    while (dec->range < RANGE_BOTTOM) {
        dec->code = dec->code << 8 | next_byte(dec);
        dec->range <<= 8;
    }
}

static int decode_bit(aec_rc_decoder *dec, unsigned *bit)
{
    int64_t target = decode_target(dec);
    if (target < 0) return dec->error = AEC_RC_ERR_CORRUPT;
    *bit = target >= HALF_COUNT;
    decode_update(dec, *bit ? HALF_COUNT : 0, HALF_COUNT);
    return dec->error;
}

int aec_rc_decode(aec_rc_decoder *dec, const aec_cdf_table *t, int32_t *v)
{
    *v = 0;
    if (dec->error) return dec->error;
    if (t->length == 0 || t->length > AEC_CDF_MAX_LENGTH) return dec->error = AEC_RC_ERR_ARG;
    int64_t target = decode_target(dec);
    if (target < 0) return dec->error = AEC_RC_ERR_CORRUPT;
    /* the last symbol whose cumulative count is <= target (cdf[0] is 0):
     * a binary search without branches, the answer in [lo, lo + n) (the
     * decoder runs it once per latent, and its comparisons are as good as
     * random) */
    uint32_t lo = 0, n = t->length + 1;
    while (n > 1) {
        const uint32_t half = n / 2;
        lo += half & (0u - (uint32_t)((int64_t)t->cdf[lo + half] <= target));
        n -= half;
    }
    uint32_t c0 = t->cdf[lo], c1 = t->cdf[lo + 1];
    /* holds for every table that passed aec_cdf_set_validate */
    if (c0 > target || c1 <= target || c1 > AEC_CDF_TOTAL) return dec->error = AEC_RC_ERR_ARG;
    decode_update(dec, c0, c1 - c0);
    if (dec->error) return dec->error;
    if (lo < t->length) {
        *v = (int32_t)((int64_t)t->offset + lo);
        return AEC_RC_OK;
    }
    /* escape: gamma code of zz + 1, then the value from the zig-zag */
    int zeros = 0;
    unsigned bit = 0;
    for (;;) {
        if (decode_bit(dec, &bit)) return dec->error;
        if (bit) break;
        if (++zeros > GAMMA_MAX_ZEROS) return dec->error = AEC_RC_ERR_CORRUPT;
    }
    uint64_t m = 1;
    for (int i = 0; i < zeros; i++) {
        if (decode_bit(dec, &bit)) return dec->error;
        m = m << 1 | bit;
    }
    uint64_t zz = m - 1;
    int64_t value = (zz & 1) ? (int64_t)t->offset - 1 - (int64_t)(zz >> 1)
                             : (int64_t)t->offset + t->length + (int64_t)(zz >> 1);
    if (value < INT32_MIN || value > INT32_MAX) return dec->error = AEC_RC_ERR_OVERFLOW;
    *v = (int32_t)value;
    return AEC_RC_OK;
}

int aec_rc_decoder_finish(const aec_rc_decoder *dec)
{
    if (dec->error) return dec->error;
    /* code < range holds after every symbol of a real stream; only the
     * initial state of a stream with no symbols can break it */
    if (dec->code >= dec->range) return AEC_RC_ERR_CORRUPT;
    if (dec->pos < dec->len) return AEC_RC_ERR_CORRUPT; /* bytes no symbol used */
    return AEC_RC_OK;
}
