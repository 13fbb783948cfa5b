#include "codec/cdf_tables.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/varint.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void aec_cdf_set_init(aec_cdf_set *set)
{
    memset(set, 0, sizeof *set);
}

void aec_cdf_set_free(aec_cdf_set *set)
{
    free(set->tables);
    free(set->pool);
    memset(set, 0, sizeof *set);
}

int aec_cdf_set_alloc(aec_cdf_set *set, uint32_t kind, uint32_t n_tables, const uint32_t *lengths)
{
    aec_cdf_set_init(set);
    if (kind > AEC_CDF_KIND_GAUSSIAN || n_tables == 0 || n_tables > AEC_CDF_MAX_TABLES) return -1;
    size_t symbols = 0;
    for (uint32_t i = 0; i < n_tables; i++) {
        if (lengths[i] == 0 || lengths[i] > AEC_CDF_MAX_LENGTH) return -1;
        symbols += lengths[i];
        if (symbols > AEC_CDF_MAX_SYMBOLS) return -1;
    }
    set->tables = calloc(n_tables, sizeof *set->tables);
    set->pool = calloc(symbols + 2 * (size_t)n_tables, sizeof *set->pool);
    if (!set->tables || !set->pool) {
        aec_cdf_set_free(set);
        return -1;
    }
    set->kind = kind;
    set->n_tables = n_tables;
    uint32_t *next = set->pool;
    for (uint32_t i = 0; i < n_tables; i++) {
        set->tables[i].length = lengths[i];
        set->tables[i].cdf = next;
        next += lengths[i] + 2;
    }
    return 0;
}

/* ---- pmf -> integer counts ------------------------------------------------- */

typedef struct {
    double gain; /* bits saved in expectation by one more count */
    uint32_t index;
} count_gain;

static int by_gain_then_index(const void *a, const void *b)
{
    const count_gain *x = a, *y = b;
    if (x->gain != y->gain) return x->gain > y->gain ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

int aec_cdf_from_pmf(const double *pmf, uint32_t length, double escape_mass, uint32_t *cdf)
{
    if (length == 0 || length > AEC_CDF_MAX_LENGTH) return -1;
    const uint32_t n = length + 1; /* the escape is symbol `length` */
    double total_mass = 0;
    for (uint32_t i = 0; i < n; i++) {
        double p = i < length ? pmf[i] : escape_mass;
        if (!(p >= 0) || !isfinite(p)) return -1;
        total_mass += p;
    }
    if (!(total_mass > 0) || !isfinite(total_mass)) return -1;

    uint32_t *count = malloc(n * sizeof *count);
    unsigned char *pinned = calloc(n, 1);
    count_gain *gain = malloc(n * sizeof *gain);
    if (!count || !pinned || !gain) {
        free(count); free(pinned); free(gain);
        return -1;
    }

    /* The ideal counts are proportional to the masses, except that none may
     * fall below 1. Pin the symbols whose share is below one count to 1 and
     * share the rest among the others; pinning lowers the others' shares, so
     * repeat until no new symbol falls below 1 (at most n rounds). */
    uint32_t n_pinned = 0;
    double free_mass = total_mass;
    for (;;) {
        uint32_t newly = 0;
        double budget = (double)(AEC_CDF_TOTAL - n_pinned);
        for (uint32_t i = 0; i < n; i++) {
            if (pinned[i]) continue;
            double p = i < length ? pmf[i] : escape_mass;
            if (free_mass <= 0 || p / free_mass * budget < 1.0) {
                pinned[i] = 1;
                newly++;
            }
        }
        if (!newly) break;
        n_pinned += newly;
        free_mass = 0;
        for (uint32_t i = 0; i < n; i++)
            if (!pinned[i]) free_mass += i < length ? pmf[i] : escape_mass;
    }

    /* Floor the shares, then hand the counts still missing to the symbols that
     * gain most from one more (each gets at most one: the shortfall is below
     * the number of unpinned symbols). */
    uint32_t assigned = 0;
    double budget = (double)(AEC_CDF_TOTAL - n_pinned);
    uint32_t n_free = 0;
    for (uint32_t i = 0; i < n; i++) {
        double p = i < length ? pmf[i] : escape_mass;
        if (pinned[i]) {
            count[i] = 1;
        } else {
            double share = p / free_mass * budget;
            double floored = floor(share);
            count[i] = floored < 1 ? 1 : (uint32_t)floored;
            if (count[i] > AEC_CDF_TOTAL) count[i] = AEC_CDF_TOTAL;
            gain[n_free].gain = p * log2((count[i] + 1.0) / count[i]);
            gain[n_free].index = i;
            n_free++;
        }
        assigned += count[i];
    }
    qsort(gain, n_free, sizeof *gain, by_gain_then_index);
    for (uint32_t k = 0; assigned < AEC_CDF_TOTAL; k = (k + 1) % (n_free ? n_free : 1)) {
        if (!n_free) break;
        count[gain[k].index]++;
        assigned++;
    }
    /* Rounding in the shares can overshoot by a count or two: take them back
     * from the largest counts, which lose least. */
    while (assigned > AEC_CDF_TOTAL) {
        uint32_t largest = 0;
        for (uint32_t i = 1; i < n; i++)
            if (count[i] > count[largest]) largest = i;
        count[largest]--;
        assigned--;
    }

    cdf[0] = 0;
    for (uint32_t i = 0; i < n; i++) cdf[i + 1] = cdf[i] + count[i];
    free(count); free(pinned); free(gain);
    return assigned == AEC_CDF_TOTAL && cdf[n] == AEC_CDF_TOTAL ? 0 : -1;
}

/* ---- Gaussian tables ------------------------------------------------------- */

void aec_scales_logspace(double lo, double hi, uint32_t n, double *out)
{
    if (n == 1) {
        out[0] = lo;
        return;
    }
    double a = log(lo), b = log(hi);
    for (uint32_t i = 0; i < n; i++) out[i] = exp(a + (b - a) * i / (n - 1));
    out[n - 1] = hi;
}

/* upper tail of the standard normal, accurate far out */
static double normal_upper_tail(double x)
{
    return 0.5 * erfc(x / sqrt(2.0));
}

double aec_gaussian_bin_mass(int64_t r, double s)
{
    double a = fabs((double)r);
    /* by symmetry both tails use the upper one, which erfc gets right */
    return a == 0 ? 1.0 - 2.0 * normal_upper_tail(0.5 / s)
                  : normal_upper_tail((a - 0.5) / s) - normal_upper_tail((a + 0.5) / s);
}

double aec_gaussian_tail_mass(uint32_t half, double s)
{
    return 2.0 * normal_upper_tail((half + 0.5) / s);
}

int aec_cdf_set_build_gaussian(aec_cdf_set *set, const double *scales, uint32_t n_scales,
                               double tail_mass, uint32_t max_length)
{
    return aec_cdf_set_build_gaussian_shaped(set, scales, NULL, n_scales, tail_mass, max_length);
}

int aec_cdf_set_build_gaussian_shaped(aec_cdf_set *set, const double *scales, const double *shapes,
                                      uint32_t n_scales, double tail_mass, uint32_t max_length)
{
    aec_cdf_set_init(set);
    if (n_scales == 0 || n_scales > AEC_CDF_MAX_TABLES || !(tail_mass > 0) || max_length == 0)
        return -1;
    if (max_length > AEC_CDF_MAX_LENGTH) max_length = AEC_CDF_MAX_LENGTH;
    const uint32_t max_half = (max_length - 1) / 2;

    uint32_t *lengths = malloc(n_scales * sizeof *lengths);
    uint32_t *scale_q16 = malloc(n_scales * sizeof *scale_q16);
    if (!lengths || !scale_q16) goto fail;
    for (uint32_t i = 0; i < n_scales; i++) {
        if (!(scales[i] > 0) || !(scales[i] < 32768.0)) goto fail;
        double q = floor(scales[i] * 65536.0 + 0.5);
        if (q < 1) goto fail;
        scale_q16[i] = (uint32_t)q;
        if (i > 0 && scale_q16[i] <= scale_q16[i - 1]) goto fail;
        if (shapes && !(shapes[i] > 0 && shapes[i] < 32768.0)) goto fail;
        double s = shapes ? shapes[i] : scale_q16[i] / 65536.0;
        uint32_t half = 0;
        while (half < max_half && aec_gaussian_tail_mass(half, s) >= tail_mass) half++;
        lengths[i] = 2 * half + 1;
    }
    if (aec_cdf_set_alloc(set, AEC_CDF_KIND_GAUSSIAN, n_scales, lengths) != 0) goto fail;

    for (uint32_t i = 0; i < n_scales; i++) {
        aec_cdf_table *t = &set->tables[i];
        const double s = shapes ? shapes[i] : scale_q16[i] / 65536.0;
        const uint32_t half = (lengths[i] - 1) / 2;
        double *pmf = malloc(lengths[i] * sizeof *pmf);
        if (!pmf) goto fail;
        for (uint32_t k = 0; k < lengths[i]; k++) pmf[k] = aec_gaussian_bin_mass((int64_t)k - half, s);
        double escape = aec_gaussian_tail_mass(half, s);
        t->offset = -(int32_t)half;
        t->scale_q16 = scale_q16[i];
        int rc = aec_cdf_from_pmf(pmf, lengths[i], escape, t->cdf);
        free(pmf);
        if (rc != 0) goto fail;
    }
    free(lengths);
    free(scale_q16);
    return 0;
fail:
    free(lengths);
    free(scale_q16);
    aec_cdf_set_free(set);
    return -1;
}

uint32_t aec_scale_index(const aec_cdf_set *set, int32_t scale_q16)
{
    if (set->kind != AEC_CDF_KIND_GAUSSIAN || set->n_tables == 0) return 0;
    /* the first table scale >= scale_q16, by a binary search without
     * branches (the decoder runs it once per latent, and the comparisons
     * are as good as random: a branchy search mispredicted half of them) */
    const uint32_t last = set->n_tables - 1, x = (uint32_t)scale_q16;
    if (scale_q16 < 0) return 0;
    if (x > set->tables[last].scale_q16) return last;
    uint32_t base = 0, len = set->n_tables; /* the answer is in [base, base + len) */
    while (len > 1) {
        const uint32_t half = len / 2;
        base += half & (0u - (uint32_t)(set->tables[base + half - 1].scale_q16 < x));
        len -= half;
    }
    return base;
}

/* ---- validation and storage ------------------------------------------------ */

int aec_cdf_set_validate(const aec_cdf_set *set, char *err, size_t errlen)
{
    if (set->kind > AEC_CDF_KIND_GAUSSIAN) {
        set_err(err, errlen, "cdf tables: unknown kind %u", (unsigned)set->kind);
        return -1;
    }
    if (set->n_tables == 0 || set->n_tables > AEC_CDF_MAX_TABLES || !set->tables) {
        set_err(err, errlen, "cdf tables: %u tables (1..%u allowed)", (unsigned)set->n_tables,
                (unsigned)AEC_CDF_MAX_TABLES);
        return -1;
    }
    size_t symbols = 0;
    for (uint32_t i = 0; i < set->n_tables; i++) {
        const aec_cdf_table *t = &set->tables[i];
        if (t->length == 0 || t->length > AEC_CDF_MAX_LENGTH || !t->cdf) {
            set_err(err, errlen, "cdf table %u: length %u (1..%u allowed)", (unsigned)i,
                    (unsigned)t->length, (unsigned)AEC_CDF_MAX_LENGTH);
            return -1;
        }
        symbols += t->length;
        if (symbols > AEC_CDF_MAX_SYMBOLS) {
            set_err(err, errlen, "cdf tables: more than %u symbols in all",
                    (unsigned)AEC_CDF_MAX_SYMBOLS);
            return -1;
        }
        if ((int64_t)t->offset + t->length - 1 > INT32_MAX) {
            set_err(err, errlen, "cdf table %u: symbols %ld..%ld leave int32", (unsigned)i,
                    (long)t->offset, (long)((int64_t)t->offset + t->length - 1));
            return -1;
        }
        if (t->cdf[0] != 0 || t->cdf[t->length + 1] != AEC_CDF_TOTAL) {
            set_err(err, errlen, "cdf table %u: cdf runs %u..%u, not 0..65536", (unsigned)i,
                    (unsigned)t->cdf[0], (unsigned)t->cdf[t->length + 1]);
            return -1;
        }
        for (uint32_t k = 0; k <= t->length; k++) {
            if (t->cdf[k + 1] <= t->cdf[k]) {
                set_err(err, errlen, "cdf table %u: symbol %u has count %ld (>= 1 needed)",
                        (unsigned)i, (unsigned)k, (long)t->cdf[k + 1] - (long)t->cdf[k]);
                return -1;
            }
        }
        if (set->kind == AEC_CDF_KIND_GAUSSIAN) {
            if (t->scale_q16 == 0 || t->scale_q16 > INT32_MAX ||
                (i > 0 && t->scale_q16 <= set->tables[i - 1].scale_q16)) {
                set_err(err, errlen, "cdf table %u: scale_q16 %u not in (previous, 2^31)",
                        (unsigned)i, (unsigned)t->scale_q16);
                return -1;
            }
        } else if (t->scale_q16 != 0) {
            set_err(err, errlen, "cdf table %u: scale_q16 %u in an indexed set", (unsigned)i,
                    (unsigned)t->scale_q16);
            return -1;
        }
    }
    return 0;
}

int aec_cdf_set_serialize(const aec_cdf_set *set, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (aec_cdf_set_validate(set, NULL, 0) != 0) return -1;
    size_t size = 1 + AEC_VARINT_MAX_BYTES;
    for (uint32_t i = 0; i < set->n_tables; i++)
        size += 3 * AEC_VARINT_MAX_BYTES + 2 * (size_t)set->tables[i].length;
    uint8_t *out = malloc(size);
    if (!out) return -1;
    size_t n = 0;
    out[n++] = (uint8_t)set->kind;
    n += aec_varint_put(out + n, set->n_tables);
    for (uint32_t i = 0; i < set->n_tables; i++) {
        const aec_cdf_table *t = &set->tables[i];
        n += aec_varint_put(out + n, aec_zigzag32(t->offset));
        n += aec_varint_put(out + n, t->length);
        if (set->kind == AEC_CDF_KIND_GAUSSIAN) n += aec_varint_put(out + n, t->scale_q16);
        for (uint32_t k = 1; k <= t->length; k++) {
            out[n++] = (uint8_t)(t->cdf[k] & 0xFF);
            out[n++] = (uint8_t)(t->cdf[k] >> 8);
        }
    }
    *buf = out;
    *len = n;
    return 0;
}

/* One table's header fields, read by both passes of deserialize. */
typedef struct {
    int32_t offset;
    uint32_t length, scale_q16;
} table_header;

static int read_table_header(const uint8_t *buf, size_t len, size_t *pos, uint32_t kind,
                             table_header *h, uint32_t index, char *err, size_t errlen)
{
    uint32_t field[3] = {0, 0, 0};
    int n_fields = kind == AEC_CDF_KIND_GAUSSIAN ? 3 : 2;
    static const char *const names[3] = {"offset", "length", "scale"};
    for (int f = 0; f < n_fields; f++) {
        int got = aec_varint_get(buf + *pos, len - *pos, &field[f]);
        if (got <= 0) {
            set_err(err, errlen, "cdf table %u: %s %s", (unsigned)index, names[f],
                    got == 0 ? "truncated" : "is a malformed varint");
            return -1;
        }
        *pos += (size_t)got;
    }
    h->offset = aec_unzigzag32(field[0]);
    h->length = field[1];
    h->scale_q16 = field[2];
    if (h->length == 0 || h->length > AEC_CDF_MAX_LENGTH) {
        set_err(err, errlen, "cdf table %u: length %u (1..%u allowed)", (unsigned)index,
                (unsigned)h->length, (unsigned)AEC_CDF_MAX_LENGTH);
        return -1;
    }
    if (len - *pos < 2 * (size_t)h->length) {
        set_err(err, errlen, "cdf table %u: truncated (%u counts need %zu bytes, %zu left)",
                (unsigned)index, (unsigned)h->length, 2 * (size_t)h->length, len - *pos);
        return -1;
    }
    return 0;
}

int aec_cdf_set_deserialize(aec_cdf_set *set, const uint8_t *buf, size_t len, char *err,
                            size_t errlen)
{
    aec_cdf_set_init(set);
    if (len < 2) {
        set_err(err, errlen, "cdf tables: truncated (%zu bytes)", len);
        return -1;
    }
    uint32_t kind = buf[0], n_tables = 0;
    if (kind > AEC_CDF_KIND_GAUSSIAN) {
        set_err(err, errlen, "cdf tables: unknown kind %u", (unsigned)kind);
        return -1;
    }
    size_t pos = 1;
    int got = aec_varint_get(buf + pos, len - pos, &n_tables);
    if (got <= 0) {
        set_err(err, errlen, "cdf tables: table count %s",
                got == 0 ? "truncated" : "is a malformed varint");
        return -1;
    }
    pos += (size_t)got;
    if (n_tables == 0 || n_tables > AEC_CDF_MAX_TABLES) {
        set_err(err, errlen, "cdf tables: %u tables (1..%u allowed)", (unsigned)n_tables,
                (unsigned)AEC_CDF_MAX_TABLES);
        return -1;
    }
    /* First pass: sizes only, so nothing is allocated for a buffer too short
     * to hold what it declares. */
    const size_t first_table = pos;
    uint32_t *lengths = malloc(n_tables * sizeof *lengths);
    if (!lengths) {
        set_err(err, errlen, "cdf tables: out of memory");
        return -1;
    }
    size_t symbols = 0;
    table_header h;
    for (uint32_t i = 0; i < n_tables; i++) {
        if (read_table_header(buf, len, &pos, kind, &h, i, err, errlen) != 0) goto fail;
        lengths[i] = h.length;
        symbols += h.length;
        if (symbols > AEC_CDF_MAX_SYMBOLS) {
            set_err(err, errlen, "cdf tables: more than %u symbols in all",
                    (unsigned)AEC_CDF_MAX_SYMBOLS);
            goto fail;
        }
        pos += 2 * (size_t)h.length;
    }
    if (pos != len) {
        set_err(err, errlen, "cdf tables: %zu bytes after the last table", len - pos);
        goto fail;
    }
    if (aec_cdf_set_alloc(set, kind, n_tables, lengths) != 0) {
        set_err(err, errlen, "cdf tables: out of memory");
        goto fail;
    }
    pos = first_table;
    for (uint32_t i = 0; i < n_tables; i++) {
        aec_cdf_table *t = &set->tables[i];
        if (read_table_header(buf, len, &pos, kind, &h, i, err, errlen) != 0) goto fail;
        t->offset = h.offset;
        t->scale_q16 = h.scale_q16;
        t->cdf[0] = 0;
        for (uint32_t k = 1; k <= t->length; k++, pos += 2)
            t->cdf[k] = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8;
        t->cdf[t->length + 1] = AEC_CDF_TOTAL;
    }
    free(lengths);
    if (aec_cdf_set_validate(set, err, errlen) != 0) {
        aec_cdf_set_free(set);
        return -1;
    }
    return 0;
fail:
    free(lengths);
    aec_cdf_set_free(set);
    return -1;
}
