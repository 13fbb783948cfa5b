/* nn/half.c - binary16 conversions (see half.h). */
#include "nn/half.h"

#include "nn/cpu.h"
#include <string.h>

uint16_t nn_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;                 /* subnormal half: shift the implicit 1 in */
        int shift = 14 - e;
        uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = (uint32_t)e << 10 | man >> 13, rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1))) half++; /* may carry into the exponent: right */
    return (uint16_t)(sign | half);
}

float nn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0x1f) {
        x = sign | 0x7f800000u | man << 13;
    } else if (exp == 0) {
        if (man == 0) {
            x = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400u));
            x = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
        }
    } else {
        x = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* nn_f16_load one value at a time. Loading a shipped model converts ~1.5
 * million values. */
static void load_plain(const uint8_t *src, size_t n, float *v)
{
    for (size_t i = 0; i < n; i++) v[i] = nn_f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HALF_HAVE_F16C 1
/* With F16C (x86-64 CPUs with AVX2 have it) 8 values an instruction: exact
 * like nn_f16_to_f32 for every finite or zero value; a group of 8 with an
 * infinity or NaN among them goes through nn_f16_to_f32, which keeps a
 * signalling NaN signalling where the instruction would quiet it. */
__attribute__((target("avx,f16c"))) static void load_f16c(const uint8_t *src, size_t n, float *v)
{
    const __m128i exp_mask = _mm_set1_epi16(0x7c00);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + 2 * i));
        if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, exp_mask), exp_mask)))
            load_plain(src + 2 * i, 8, v + i);
        else
            _mm256_storeu_ps(v + i, _mm256_cvtph_ps(h));
    }
    load_plain(src + 2 * i, n - i, v + i);
}
#endif

void nn_f16_load(const uint8_t *src, size_t n, float *v)
{
#ifdef HALF_HAVE_F16C
    if (nn_cpu_has(NN_CPU_F16C)) {
        load_f16c(src, n, v);
        return;
    }
#endif
    load_plain(src, n, v);
}
