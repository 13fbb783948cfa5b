#include "codec/varint.h"

size_t aec_varint_size(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t aec_varint_put(uint8_t *dst, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

int aec_varint_get(const uint8_t *buf, size_t len, uint32_t *v)
{
    uint32_t value = 0;
    for (size_t i = 0; i < AEC_VARINT_MAX_BYTES; i++) {
        if (i >= len) return 0;
        uint8_t b = buf[i];
        uint32_t group = b & 0x7Fu;
        /* the fifth byte holds bits 28..31: only its low 4 bits may be set */
        if (i == AEC_VARINT_MAX_BYTES - 1 && (b & 0xF0u)) return -1;
        value |= group << (7 * i);
        if (!(b & 0x80u)) {
            if (i > 0 && b == 0) return -1; /* overlong: a needless zero group */
            *v = value;
            return (int)i + 1;
        }
    }
    return -1; /* unreachable: the fifth byte cannot have its high bit set */
}
