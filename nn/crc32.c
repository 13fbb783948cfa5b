/* nn/crc32.c - CRC-32 by carry-less multiplication (see crc32.h).
 *
 * Folding. Read the message as a polynomial over GF(2), bit-reflected (a
 * byte's bit 0 is its highest coefficient). Its CRC is its remainder
 * modulo P = 0x104C11DB7 (after the initial inversion is added to its first
 * 32 bits, and times x^32), so any prefix may be replaced by something
 * congruent to it modulo P. A 128-bit register X standing S bits before
 * the block it is to be added to splits into halves H (its low 64 bits in
 * reflected order: the higher coefficients) and L; multiplied by constants
 * for S, each half gives a carry-less product of at most 96 bits, and the
 * two together are congruent to X carried S bits forward: XORed into that
 * block, they carry the whole message so far with it. Four registers fold
 * over 64-byte strides, then into one, then 16 bytes at a time; the last
 * register is then an ordinary 16-byte message whose CRC from a zero
 * register is the CRC of all folded into it, and zlib finishes those 16
 * bytes and the tail of fewer than 16.
 *
 * The constants are the bit-reflected remainders x^e mod P, shifted left
 * one bit (a product of reflected operands lands one bit low), with
 * e = S + 32 for H and e = S - 32 for L: 4*128 +- 32 for the 64-byte
 * stride, 128 +- 32 for the 16-byte one. tests/test_cpu_paths.c checks
 * every length to 600 at 16 alignments against zlib. */
#include "nn/crc32.h"

#include "nn/cpu.h"
#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CRC_HAVE_FOLD 1
#endif

#ifdef CRC_HAVE_FOLD
#define K_512_H 0x154442bd4ULL /* x^(4*128+32) mod P, reflected, << 1 */
#define K_512_L 0x1c6e41596ULL /* x^(4*128-32) */
#define K_128_H 0x1751997d0ULL /* x^(128+32) */
#define K_128_L 0x0ccaa009eULL /* x^(128-32) */

/* x carried 16 * stride bytes forward onto `next` (k: H's constant low, L's high) */
__attribute__((target("pclmul"))) static inline __m128i fold(__m128i x, __m128i k, __m128i next)
{
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                                       _mm_clmulepi64_si128(x, k, 0x11)),
                         next);
}

__attribute__((target("pclmul"))) static uint32_t crc_fold(uint32_t crc, const uint8_t *p, size_t len)
{
    const __m128i k512 = _mm_set_epi64x((long long)K_512_L, (long long)K_512_H);
    const __m128i k128 = _mm_set_epi64x((long long)K_128_L, (long long)K_128_H);
    __m128i x0 = _mm_loadu_si128((const __m128i *)p), x1 = _mm_loadu_si128((const __m128i *)(p + 16)),
            x2 = _mm_loadu_si128((const __m128i *)(p + 32)), x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    /* zlib's register starts as the inverted CRC, added to the first bytes */
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)~crc));
    p += 64;
    len -= 64;
    for (; len >= 64; p += 64, len -= 64) {
        x0 = fold(x0, k512, _mm_loadu_si128((const __m128i *)p));
        x1 = fold(x1, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    __m128i x = fold(fold(fold(x0, k128, x1), k128, x2), k128, x3);
    for (; len >= 16; p += 16, len -= 16) x = fold(x, k128, _mm_loadu_si128((const __m128i *)p));
    uint8_t last[16];
    _mm_storeu_si128((__m128i *)last, x);
    /* a register of zero is zlib's CRC argument 0xffffffff (it inverts) */
    uLong c = crc32_z(0xffffffffUL, last, sizeof last);
    return (uint32_t)crc32_z(c, p, len);
}
#endif

uint32_t nn_crc32(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC_HAVE_FOLD
    if (buf && len >= 64 && nn_cpu_has(NN_CPU_PCLMUL)) return crc_fold(crc, buf, len);
#endif
    return (uint32_t)crc32_z(crc, buf, len);
}
