/* tools/bench_sweeps.c - the codecs of `aec bench` and their settings,
 * laid end to end in codec order (see bench.h). */
#include "tools/bench.h"

const char *bench_codec_name(int codec)
{
    static const char *const names[BENCH_CODECS] = {"aec", "jpeg", "webp", "avif"};
    return codec >= 0 && codec < BENCH_CODECS ? names[codec] : "?";
}

const char *bench_codec_title(int codec)
{
    static const char *const titles[BENCH_CODECS] = {"aec", "JPEG", "WebP", "AVIF"};
    return codec >= 0 && codec < BENCH_CODECS ? titles[codec] : "?";
}

int bench_settings(const bench_sweeps *s)
{
    int n = 0;
    for (int c = 0; c < BENCH_CODECS; c++) n += s->n[c];
    return n;
}

int bench_first(const bench_sweeps *s, int codec)
{
    int n = 0;
    for (int c = 0; c < codec; c++) n += s->n[c];
    return n;
}

int bench_setting(const bench_sweeps *s, int k, int *codec)
{
    int c = 0;
    while (c < BENCH_CODECS - 1 && k >= s->n[c]) k -= s->n[c++];
    *codec = c;
    return k;
}
