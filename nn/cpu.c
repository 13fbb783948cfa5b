/* nn/cpu.c - the CPU feature switch (see cpu.h): CPUID, AEC_CPU, the mask. */
#include "nn/cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CPU_X86 1
#else
#define CPU_X86 0
#endif

/* ---- detection ------------------------------------------------------------ */

#if CPU_X86
/* XCR0 bits: SSE and AVX (YMM upper halves) state, and the three AVX-512
 * states (opmask, ZMM0-15 upper halves, ZMM16-31). */
#define XCR0_AVX_STATE 0x06u
#define XCR0_AVX512_STATE 0xe0u

static unsigned long long read_xcr0(void)
{
    unsigned int lo, hi;
    /* the xgetbv instruction itself; _xgetbv() would need -mxsave */
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

void nn_cpu_detect(nn_cpu_features *f)
{
    memset(f, 0, sizeof *f);
#if CPU_X86
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
    f->sse2 = (edx >> 26) & 1;
    f->pclmul = (ecx >> 1) & 1;
    const int osxsave = (ecx >> 27) & 1;
    const int cpu_avx = (ecx >> 28) & 1, cpu_fma = (ecx >> 12) & 1, cpu_f16c = (ecx >> 29) & 1;
    /* A CPU flag only counts if the OS saves the registers on context
     * switches; otherwise using them faults just like a missing instruction. */
    unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    const int os_avx = (xcr0 & XCR0_AVX_STATE) == XCR0_AVX_STATE;
    const int os_avx512 = os_avx && (xcr0 & XCR0_AVX512_STATE) == XCR0_AVX512_STATE;
    f->avx = cpu_avx && os_avx;
    f->fma = cpu_fma && os_avx;
    f->f16c = cpu_f16c && os_avx;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    f->avx2 = ((ebx >> 5) & 1) && os_avx;
    f->avx512f = ((ebx >> 16) & 1) && os_avx512;
    f->avx512dq = ((ebx >> 17) & 1) && os_avx512;
    f->avx512cd = ((ebx >> 28) & 1) && os_avx512;
    f->avx512bw = ((ebx >> 30) & 1) && os_avx512;
    f->avx512vl = ((ebx >> 31) & 1) && os_avx512;
#endif
}

unsigned nn_cpu_features_flags(const nn_cpu_features *f)
{
    unsigned flags = 0;
    if (f->sse2) flags |= NN_CPU_SSE2;
    if (f->avx && f->avx2) flags |= NN_CPU_AVX2;
    if (f->avx && f->fma) flags |= NN_CPU_FMA;
    if (f->avx && f->f16c) flags |= NN_CPU_F16C;
    if (f->pclmul) flags |= NN_CPU_PCLMUL;
    if (f->avx512f && f->avx512dq && f->avx512cd && f->avx512bw && f->avx512vl)
        flags |= NN_CPU_AVX512;
    return flags;
}

void nn_cpu_features_mask(nn_cpu_features *f, unsigned flags)
{
    if (!(flags & NN_CPU_SSE2)) f->sse2 = 0;
    if (!(flags & NN_CPU_AVX2)) f->avx2 = 0;
    if (!(flags & NN_CPU_FMA)) f->fma = 0;
    if (!(flags & NN_CPU_F16C)) f->f16c = 0;
    if (!(flags & NN_CPU_PCLMUL)) f->pclmul = 0;
    if (!(flags & NN_CPU_AVX512))
        f->avx512f = f->avx512dq = f->avx512cd = f->avx512bw = f->avx512vl = 0;
}

/* ---- AEC_CPU ---------------------------------------------------------------- */

/* the features' names, then the words for sets */
static const struct {
    const char *name;
    unsigned flags;
} cpu_names[] = {
    {"sse2", NN_CPU_SSE2}, {"avx2", NN_CPU_AVX2},     {"fma", NN_CPU_FMA},
    {"f16c", NN_CPU_F16C}, {"pclmul", NN_CPU_PCLMUL}, {"avx512", NN_CPU_AVX512},
    {"all", NN_CPU_ALL},   {"baseline", NN_CPU_SSE2}, {"none", 0},
};
#define FEATURE_NAMES 6

/* the flags of the name s[0, n), or -1 */
static long name_flags(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof cpu_names / sizeof cpu_names[0]; i++)
        if (strlen(cpu_names[i].name) == n && strncasecmp(s, cpu_names[i].name, n) == 0)
            return (long)cpu_names[i].flags;
    return -1;
}

unsigned nn_cpu_parse_mask(const char *value)
{
    if (!value || !*value) return NN_CPU_ALL;
    unsigned mask = 0;
    const char *s = value;
    while (*s) {
        const size_t n = strcspn(s, ", ");
        const long f = n ? name_flags(s, n) : 0;
        if (f < 0)
            fprintf(stderr, "warning: AEC_CPU: unknown feature \"%.*s\" ignored (names: sse2 avx2 "
                            "fma f16c pclmul avx512, all, none)\n", (int)n, s);
        else
            mask |= (unsigned)f;
        s += n;
        s += strspn(s, ", ");
    }
    return mask;
}

const char *nn_cpu_names(unsigned flags, char *buf, size_t len)
{
    if (!len) return buf;
    buf[0] = 0;
    size_t at = 0;
    for (size_t i = 0; i < FEATURE_NAMES; i++) {
        if (!(flags & cpu_names[i].flags)) continue;
        int w = snprintf(buf + at, len - at, "%s%s", at ? "," : "", cpu_names[i].name);
        if (w < 0 || (size_t)w >= len - at) {
            buf[at] = 0; /* whole names only: drop the one cut short */
            break;
        }
        at += (size_t)w;
    }
    if (!at) snprintf(buf, len, "none");
    return buf;
}

/* ---- the switch ------------------------------------------------------------- */

/* The one global of the switch, and deliberately global: every vectorised
 * kernel asks it (the GEMM under each layer, the CRC of each file, the
 * PNG writer, ...), and threading a setting through all their callers
 * would change most of the library's interfaces for what is one fact
 * about the process. It packs, in one word so that a single atomic read
 * gives a consistent pair: STATE_SET (0 until the first question), the
 * available features at bit AVAILABLE_SHIFT, and those in use. */
static unsigned cpu_state;
#define STATE_SET (1u << 31)
#define AVAILABLE_SHIFT 8
#define STATE_FLAGS 0xffu

static unsigned state_now(void)
{
    unsigned s = __atomic_load_n(&cpu_state, __ATOMIC_RELAXED);
    if (s) return s;
    nn_cpu_features f;
    nn_cpu_detect(&f);
    const unsigned available = nn_cpu_features_flags(&f) & nn_cpu_parse_mask(getenv("AEC_CPU"));
    unsigned fresh = STATE_SET | available << AVAILABLE_SHIFT | available, expected = 0;
    /* threads asking first at once compute the same state; the first wins */
    if (!__atomic_compare_exchange_n(&cpu_state, &expected, fresh, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED))
        return expected;
    return fresh;
}

unsigned nn_cpu_flags(void) { return state_now() & STATE_FLAGS; }

unsigned nn_cpu_available(void) { return state_now() >> AVAILABLE_SHIFT & STATE_FLAGS; }

unsigned nn_cpu_set_mask(unsigned mask)
{
    const unsigned s = state_now(), available = s >> AVAILABLE_SHIFT & STATE_FLAGS;
    const unsigned in_use = available & mask;
    __atomic_store_n(&cpu_state, (s & ~STATE_FLAGS) | in_use, __ATOMIC_RELAXED);
    return in_use;
}
