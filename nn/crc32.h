/* nn/crc32.h - the CRC-32 of zlib, PNG and every aec file format (the
 * reflected polynomial 0xEDB88320, initial and final inversion), fast.
 *
 * nn_crc32(crc, buf, len) returns exactly what zlib's crc32_z(crc, buf,
 * len) returns, for any arguments (crc32_z(0, NULL, 0) == 0 starts a CRC;
 * nn_crc32(nn_crc32(c, a, n), b, m) is the CRC of a then b). On an x86-64
 * CPU with PCLMULQDQ, where nn/cpu.h's switch allows it, buffers of 64
 * bytes or more are folded 64 bytes at a time with carry-less
 * multiplications (several times zlib's speed, which counts because a
 * model file is checked three times as it loads); otherwise, and for
 * short buffers, it is zlib's. */
#ifndef NN_CRC32_H
#define NN_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t nn_crc32(uint32_t crc, const void *buf, size_t len);

#endif
