/* codec/le32.h - the fixed-size fields every aec byte format shares: u32
 * little-endian values and the CRC-32 that closes a blob (zlib's,
 * computed by nn_crc32). */
#ifndef AEC_LE32_H
#define AEC_LE32_H

#include <stddef.h>
#include <stdint.h>

#include "nn/crc32.h"

static inline void aec_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t aec_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint32_t aec_crc32(const uint8_t *buf, size_t len)
{
    return nn_crc32(0, buf, len);
}

#endif
