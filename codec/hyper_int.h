/* codec/hyper_int.h - the hyper-synthesis h_s in integer arithmetic.
 *
 * The decoder picks each latent's probability table from the scale that h_s
 * predicts and codes round(y - mu). If h_s ran in float, a last-bit
 * difference between CPUs, BLAS kernels or thread counts could pick another
 * table and garble the rest of the image. So at inference (encoder and
 * decoder alike) h_s runs on integers only, with every rounding defined;
 * spec/model-format.md "Integer hyper-synthesis" has the arithmetic and the
 * byte layout.
 *
 *   a0 = requant(clamp(z^, +-2^15) * hinv_q)         int16 [N][h][w]
 *   a1 = lrelu(requant(deconv5s2(a0)))               int16 [M][2h][2w]
 *   a2 = lrelu(requant(deconv5s2(a1)))               int16 [3M/2][4h][4w]
 *   (scale_q, mu_q) = requant(conv3(a2))             int32 Q16 [M][4h][4w] each
 *
 * Weights are 8-bit (+-AEC_HS_W_MAX, held as int16 for the kernels) with one scale per output
 * channel, biases int32 in the accumulator's scale, accumulation in int64;
 * requantisation multiplies by a 16-bit multiplier and shifts right with
 * round-half-up. The float model is only needed to build (export time). */
#ifndef AEC_HYPER_INT_H
#define AEC_HYPER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "codec/model.h"
#include "nn/tensor.h"

#define AEC_HS_OUT_FRAC 16    /* scale_q and mu_q are Q16: value = q / 2^16 */
#define AEC_HS_HINV_FRAC 16   /* hinv_q is Q16 */
#define AEC_HS_T_FRAC 16      /* level positions t_q16 are Q16 */
#define AEC_HS_ACT_MAX 32767  /* activations are int16 in [-32767, 32767] */
#define AEC_HS_W_MAX 127     /* weights are in [-127, 127] (stored as i8) */
#define AEC_HS_Z_MAX 32768    /* z^ is clamped to [-2^15, 2^15] */
#define AEC_HS_HINV_MAX (1 << 24) /* |hinv_q| <= 2^24, a gain of at most 256 */
#define AEC_HS_MAX_CH 4096    /* channel counts a file may declare */

/* One layer: a transposed convolution (stride 2, PyTorch ConvTranspose2d
 * with padding k/2, output_padding 1, weight [cin][cout][k][k]) or a
 * convolution (stride 1, padding k/2, weight [cout][cin][k][k]). */
typedef struct {
    int cin, cout, k, stride;
    int16_t *w;        /* as the float layer's layout */
    int32_t *b;        /* [cout], in the accumulator's scale */
    int32_t *mult;     /* [cout], 0 .. 65535 */
    uint8_t *shift;    /* [cout], 0 .. 62 */
    /* derived when the model is finished: weights per output phase in the
     * order the kernel reads them (see hyper_int.c) */
    int16_t *pack[4];
    int kpad[4];       /* reduction length of each phase, even */
} aec_hs_int_layer;

typedef struct {
    int n, m, levels;
    int32_t *hinv_q;            /* [levels][n], Q16 */
    int32_t in_mult, in_shift;  /* z^ * hinv_q (Q16) -> a0 */
    aec_hs_int_layer layer[3];
} aec_hs_int;

/* Calibration statistics: max |activation| of the float h_s at the three
 * points that become int16 (0: z^ * hinv, 1: after the first leaky ReLU,
 * 2: after the second) and at the output (3, for information). */
typedef struct {
    double max_abs[4];
} aec_hs_calib;

void aec_hs_calib_init(aec_hs_calib *c);
/* Runs the float h_s of m on z_hat * hinv (z_hat: [B][N][h][w] integers,
 * hinv: [N] gains) and raises c's maxima. 0, or -1 when out of memory. */
int aec_hs_int_calibrate(aec_hs_calib *c, const aec_model *m, const nn_tensor *z_hat,
                         const float *hinv);

/* Quantises m's h_s and hinv gains; activation ranges are the calibrated
 * maxima times 2 (headroom). 0, or -1 (out of memory, a gain or range the
 * format cannot hold; err says which). q is freed with aec_hs_int_free. */
int aec_hs_int_build(aec_hs_int *q, const aec_model *m, const aec_hs_calib *c,
                     char *err, size_t errlen);
void aec_hs_int_free(aec_hs_int *q);

/* Lower-level construction, used by build and load: allocate zeroed arrays
 * for N = n, M = m (m even), then fill them and call aec_hs_int_finish,
 * which validates every field (returning -1 with a message on the first bad
 * one) and packs the weights for the kernels. */
int aec_hs_int_create(aec_hs_int *q, int n, int m, int levels);
int aec_hs_int_finish(aec_hs_int *q, char *err, size_t errlen);

/* Hyper inverse gains of level position t_q16 (Q16, clamped to
 * [0, (levels-1) << 16]): linear interpolation between the two neighbouring
 * stored levels, integers only. hinv_q receives n values. */
void aec_hs_int_hinv(const aec_hs_int *q, int32_t t_q16, int32_t *hinv_q);

/* Scratch bytes aec_hs_int_run needs for a z of h x w. 0 when h or w is
 * out of range (1 .. 4096). */
size_t aec_hs_int_scratch_bytes(const aec_hs_int *q, int h, int w);
/* z_hat: [n][h][w]; hinv_q: [n] (|values| <= AEC_HS_HINV_MAX, else -1);
 * writes scale_q and mu_q, [m][4h][4w] each, Q16 (scale_q is the raw
 * network output: the coder applies its own lower bound). Results do not
 * depend on the thread count or the kernel (nn/cpu.h). -1 on bad arguments
 * or a scratch smaller than aec_hs_int_scratch_bytes. */
int aec_hs_int_run(const aec_hs_int *q, const int32_t *z_hat, int h, int w,
                   const int32_t *hinv_q, int32_t *scale_q, int32_t *mu_q,
                   void *scratch, size_t scratch_bytes);

/* The byte form (a model-file chunk; layout in spec/model-format.md).
 * serialize mallocs *buf; deserialize validates everything and on error
 * leaves *q empty and says why in err. */
int aec_hs_int_serialize(const aec_hs_int *q, uint8_t **buf, size_t *len);
int aec_hs_int_deserialize(aec_hs_int *q, const uint8_t *buf, size_t len, char *err,
                           size_t errlen);

/* ---- integer layers, shared with the context model (context_int.h) ----
 *
 * The arithmetic of one aec_hs_int_layer, as spec/model-format.md
 * "Integer hyper-synthesis" defines it, for other integer networks. */

int aec_int_layer_alloc(aec_hs_int_layer *L, int cin, int cout, int k, int stride);
void aec_int_layer_free(aec_hs_int_layer *L);
/* Quantises float weights w (the float layer's layout) and biases b for
 * inputs of step s_in and outputs of step s_out. */
int aec_int_layer_build(aec_hs_int_layer *L, const float *w, const float *b, double s_in,
                        double s_out, int li, char *err, size_t errlen);
/* Validates the fields (a message naming layer li) and packs the weights. */
int aec_int_layer_finish(aec_hs_int_layer *L, int li, char *err, size_t errlen);
/* int16 scratch bytes (xp) that aec_int_layer_run needs for an h x w input */
size_t aec_int_layer_xp_bytes(const aec_hs_int_layer *L, int h, int w);
/* L on in [cin][h][w]. With out_act, int16 outputs [cout][h s][w s],
 * through the leaky ReLU when lrelu; otherwise int32 outputs, channels
 * [0, split) to out_lo and the rest to out_hi. The inner loop is the
 * widest nn/cpu.h's switch allows (AVX2, SSE2 or plain C): all three give
 * the same integers. */
void aec_int_layer_run(const aec_hs_int_layer *L, const int16_t *in, int h, int w, int16_t *xp,
                       int16_t *out_act, int lrelu, int32_t *out_lo, int32_t *out_hi, int split);
/* v * mult / 2^shift rounded half up, clamped to the int16 activation range */
int16_t aec_int_to_act(int64_t v, int32_t mult, int shift);
/* mult / 2^shift ~ r (mult < 2^16); -1 when r cannot be represented */
int aec_int_multiplier(double r, int32_t *mult, uint8_t *shift);
/* A layer's byte form: its size, writing (returns the end), reading into a
 * layer allocated with the expected shape (NULL when the stored shape
 * differs; the fields are checked by aec_int_layer_finish). */
size_t aec_int_layer_bytes(int cin, int cout, int k);
uint8_t *aec_int_layer_write(const aec_hs_int_layer *L, uint8_t *p);
const uint8_t *aec_int_layer_read(aec_hs_int_layer *L, const uint8_t *p);
int32_t aec_int_i32(uint32_t v);
/* printf into err (when err and errlen are non-zero): the readers' messages */
void aec_int_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
