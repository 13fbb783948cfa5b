/* codec/cdf_tables.h - integer CDF tables for the entropy coder, how they are
 * built at model-export time and how they are stored inside the model file.
 *
 * A table codes the symbols offset .. offset+length-1 plus one ESCAPE symbol
 * (index `length`) that stands for every other int32 value. Probabilities have
 * 16-bit precision: cdf[] holds length+2 cumulative counts with cdf[0] = 0,
 * cdf[length+1] = 65536, strictly increasing, so every symbol, the escape
 * included, has a count of at least 1 and any value can be coded.
 *
 * Floating point is used only by the builders, which run when a model is
 * exported; the decoder sees only the stored integers (spec/aec-format.md,
 * "CDF tables"). */
#ifndef AEC_CDF_TABLES_H
#define AEC_CDF_TABLES_H

#include <stddef.h>
#include <stdint.h>

#define AEC_CDF_PRECISION 16
#define AEC_CDF_TOTAL (1u << AEC_CDF_PRECISION)
/* every symbol and the escape need a count of at least 1 out of 65536 */
#define AEC_CDF_MAX_LENGTH (AEC_CDF_TOTAL - 1)
#define AEC_CDF_MAX_TABLES 65535u
/* bound on the sum of the lengths of a set, so a loaded set is <= 16 MiB */
#define AEC_CDF_MAX_SYMBOLS (1u << 22)

typedef struct {
    int32_t offset;     /* the first symbol of the range */
    uint32_t length;    /* symbols in the range; cdf index `length` is the escape */
    uint32_t scale_q16; /* Gaussian sets: the scale the table was built for, Q16.16; else 0 */
    uint32_t *cdf;      /* length + 2 cumulative counts, inside the set's pool */
} aec_cdf_table;

enum {
    AEC_CDF_KIND_INDEXED = 0,  /* tables chosen by index (e.g. one per channel) */
    AEC_CDF_KIND_GAUSSIAN = 1, /* tables chosen by scale: aec_scale_index */
};

typedef struct {
    uint32_t kind;
    uint32_t n_tables;
    aec_cdf_table *tables;
    uint32_t *pool; /* every table's cdf[], back to back */
} aec_cdf_set;

void aec_cdf_set_init(aec_cdf_set *set);
void aec_cdf_set_free(aec_cdf_set *set);

/* Allocates n_tables tables of the given lengths (1..AEC_CDF_MAX_LENGTH each,
 * AEC_CDF_MAX_SYMBOLS in all), offsets and scales 0 and cdf[] zeroed; the
 * caller fills them. Returns 0, or -1 on bad sizes or out of memory (set left
 * empty). */
int aec_cdf_set_alloc(aec_cdf_set *set, uint32_t kind, uint32_t n_tables, const uint32_t *lengths);

/* Quantises a probability mass function to a CDF: pmf[0..length) for the
 * symbols, escape_mass for everything else (need not be normalised). Every
 * symbol gets a count >= 1, the counts sum to exactly 65536, and the rest is
 * placed to minimise the expected code length; ties go to the lower index, so
 * the result depends only on the inputs. Writes cdf[0..length+1]; returns 0,
 * or -1 when length is 0 or > AEC_CDF_MAX_LENGTH, a mass is negative or not
 * finite, the total is 0, or memory runs out. */
int aec_cdf_from_pmf(const double *pmf, uint32_t length, double escape_mass, uint32_t *cdf);

/* n values from lo to hi, evenly spaced in log(scale) (lo, hi > 0, n >= 1). */
void aec_scales_logspace(double lo, double hi, uint32_t n, double *out);

/* The mass of a zero-mean Gaussian of scale s on [r - 0.5, r + 0.5], and
 * outside [-half - 0.5, half + 0.5]: what a Gaussian table gives symbol r
 * and its escape (before the counts are rounded). */
double aec_gaussian_bin_mass(int64_t r, double s);
double aec_gaussian_tail_mass(uint32_t half, double s);

/* Builds a Gaussian set: table i codes r = round(y - mu) for a Gaussian of
 * scale s_i = round(scales[i] * 65536) / 65536 (the stored scale_q16 is the
 * exact scale used): p(r) = Phi((r+.5)/s) - Phi((r-.5)/s) over the smallest
 * range -h..h whose outside mass is below tail_mass, h capped so that
 * 2h+1 <= max_length; the outside mass is the escape. scales[] must be
 * strictly increasing after rounding, each in (0, 32768). Returns 0 or -1. */
int aec_cdf_set_build_gaussian(aec_cdf_set *set, const double *scales, uint32_t n_scales,
                               double tail_mass, uint32_t max_length);

/* The same with each table's distribution at its own scale shapes[i] (> 0,
 * < 32768; NULL: the stored scales) while scale_q16, which chooses the
 * table (aec_scale_index), stays scales[i] rounded: a coder may fit the
 * Gaussian it codes each range of scales with to the data. */
int aec_cdf_set_build_gaussian_shaped(aec_cdf_set *set, const double *scales, const double *shapes,
                                      uint32_t n_scales, double tail_mass, uint32_t max_length);

/* The table for a scale given as Q16.16 by the hyper-decoder: the smallest i
 * with tables[i].scale_q16 >= scale_q16, or the last table when every table
 * is smaller. Pure integer, so encoder and decoder always agree. Returns 0 for
 * an empty or non-Gaussian set. */
uint32_t aec_scale_index(const aec_cdf_set *set, int32_t scale_q16);

/* Checks every invariant above (kind, counts, sizes, cdf monotone with exact
 * ends, offsets inside int32, Gaussian scales strictly increasing). Returns 0,
 * or -1 with a one-line reason in err. */
int aec_cdf_set_validate(const aec_cdf_set *set, char *err, size_t errlen);

/* Serialisation for the model file (layout in spec/aec-format.md, "Stored
 * table sets"). serialize allocates *buf (caller frees) and returns 0, or -1
 * when the set is invalid or memory runs out. deserialize needs buf to be
 * exactly one table set, validates it, and returns 0, or -1 with a one-line
 * reason in err (set left empty). */
int aec_cdf_set_serialize(const aec_cdf_set *set, uint8_t **buf, size_t *len);
int aec_cdf_set_deserialize(aec_cdf_set *set, const uint8_t *buf, size_t len, char *err,
                            size_t errlen);

#endif
