/* codec/varint.h - unsigned LEB128 integers, the variable-length fields of the
 * .aec container and of stored CDF tables (spec/aec-format.md, "Varints").
 *
 * A value is written in 7-bit groups, least significant first; bit 7 of each
 * byte says another byte follows. Only 32-bit values exist in our formats, so
 * a varint is 1 to 5 bytes, and every value has exactly one encoding: readers
 * reject a multi-byte varint whose last byte is 0 (overlong), and one whose
 * value does not fit 32 bits. */
#ifndef AEC_VARINT_H
#define AEC_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define AEC_VARINT_MAX_BYTES 5

/* Number of bytes aec_varint_put writes for v (1..5). */
size_t aec_varint_size(uint32_t v);

/* Writes v at dst, which must have room for aec_varint_size(v) bytes;
 * returns the number of bytes written. */
size_t aec_varint_put(uint8_t *dst, uint32_t v);

/* Reads one varint from buf[0..len). Returns the number of bytes read (1..5),
 * 0 when buf ends before the varint does, or -1 when the encoding is overlong
 * or the value exceeds 32 bits. *v is written only on success. */
int aec_varint_get(const uint8_t *buf, size_t len, uint32_t *v);

/* Zig-zag mapping of signed to unsigned (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...),
 * used for signed varint fields such as a table's first symbol. */
static inline uint32_t aec_zigzag32(int32_t v)
{
    return v >= 0 ? (uint32_t)v << 1 : ((uint32_t)(-(v + 1)) << 1) | 1u;
}

static inline int32_t aec_unzigzag32(uint32_t u)
{
    return (u & 1u) ? -(int32_t)(u >> 1) - 1 : (int32_t)(u >> 1);
}

#endif
