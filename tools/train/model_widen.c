/* tools/train/model_widen.c - a trained model given more latent channels
 * (aec train --init MODEL --m M2): its first M channels are the model's
 * and the new ones start out changing no pixel, so that training begins
 * where the model was and learns what the new channels can add. */
#include "codec/model.h"
#include "tools/train/model_train.h"

#include <math.h>
#include <string.h>

/* The new rows of g_a's last convolution get this fraction of the rms of
 * the trained rows (see init_analysis_rows). Random rows make far smaller
 * latents than trained ones, which line up with their inputs: at this
 * fraction, on the butterfly model (M 192 -> 320) and four Kodak images,
 * about 0.3% of the new latents round to +-1 at the top level and none
 * below the top quarter of the levels; at 1/4, 9% at the top level. */
#define WIDEN_ANALYSIS_RMS 0.125

/* Copies a block laid out as the 4-D array src_dims into one laid out as
 * dst_dims (each at least src's), index for index: src's [i][j][k][l]
 * goes to dst's [i][j][k][l]; the rest of dst is left alone. */
static void copy_block(float *dst, const int dst_dims[4], const float *src, const int src_dims[4])
{
    for (int i = 0; i < src_dims[0]; i++)
        for (int j = 0; j < src_dims[1]; j++)
            for (int k = 0; k < src_dims[2]; k++) {
                size_t d = (((size_t)i * dst_dims[1] + j) * dst_dims[2] + k) * dst_dims[3];
                size_t s = (((size_t)i * src_dims[1] + j) * src_dims[2] + k) * src_dims[3];
                memcpy(dst + d, src + s, (size_t)src_dims[3] * sizeof(float));
            }
}

/* The 4-D layout in which a block's old entries keep their indices. As
 * declared, but for h_s's output layer, whose outputs are M scales then M
 * means: seen as [2][M][...], so that the means move up past the new
 * scales. */
static void block_dims(const nn_param_entry *e, int dims[4])
{
    memcpy(dims, e->shape, sizeof e->shape);
    if (!strncmp(e->name, "h_s.conv2.", 10)) {
        dims[0] = 2;
        dims[1] = e->shape[0] / 2;
        dims[2] = e->shape[1];
        dims[3] = e->shape[2] * e->shape[3];
    }
}

/* Every block of src into dst's of the same name; -1 when dst lacks one
 * or has it smaller in some dimension. */
static int copy_all(aec_model *dst, const aec_model *src)
{
    for (int e = 0; e < src->p.n_entries; e++) {
        const nn_param_entry *se = &src->p.entries[e];
        const nn_param_entry *de = nn_params_find(&dst->p, se->name);
        if (!de) return -1;
        int sd[4], dd[4];
        block_dims(se, sd);
        block_dims(de, dd);
        for (int k = 0; k < 4; k++)
            if (dd[k] < sd[k]) return -1;
        copy_block(dst->p.value + de->offset, dd, src->p.value + se->offset, sd);
    }
    return 0;
}

static float uniform(nn_rng *rng, double a)
{
    return (float)(a * (2.0 * nn_rng_uniform(rng) - 1.0));
}

/* g_a's new output rows, weights random, bias 0. With g_s blind to the new
 * channels (its weights from them are 0), they must not be 0 too: g_s
 * sees round(y), and at y = 0 everywhere neither g_s's new weights
 * (whose gradient is their input) nor g_a's new rows (whose gradient
 * passes through g_s's) would ever move. Small random rows give latents
 * that almost all round to 0, so the widened model costs few more bits,
 * but not all: at the top levels some round to +-1 and give g_s's new
 * weights a gradient from the first steps. A bias would only offset the
 * channel, at a cost in bits. */
static void init_analysis_rows(aec_model *m, int m_old, nn_rng *rng)
{
    const nn_conv2d *l = &m->ga[3];
    const size_t row = (size_t)l->cin * l->k * l->k;
    float *w = m->p.value + l->w;
    double sum = 0;
    for (size_t i = 0; i < (size_t)m_old * row; i++) sum += (double)w[i] * w[i];
    const double rms = sqrt(sum / ((double)m_old * row));
    /* uniform on [-a, a] has rms a / sqrt(3) */
    const double a = WIDEN_ANALYSIS_RMS * rms * sqrt(3.0);
    for (size_t i = (size_t)m_old * row; i < (size_t)l->cout * row; i++) w[i] = uniform(rng, a);
}

/* A layer's weights as (input channel, output channel, tap) -> value. */
typedef struct {
    float *w;
    int cin, cout, kk;
    int transposed;   /* [cin][cout][k][k]; else [cout][cin][k][k] */
} layer_view;

static float *weight_at(const layer_view *v, int ci, int co, int t)
{
    size_t i = v->transposed ? ((size_t)ci * v->cout + co) * v->kk + t
                             : ((size_t)co * v->cin + ci) * v->kk + t;
    return v->w + i;
}

/* Weights from h_s's new hidden channels (inputs [cin_old, cin)) into its
 * old channels (outputs [0, cout_old)). The new hidden channels start at
 * 0 (their weights from every input and their biases are 0), so these
 * weights change no output yet, but they pass the new hidden channels a
 * gradient, without which these would never move. Random at the layer's
 * initial scale (conv2d.h), but below half the largest weight of each old
 * output channel: the integer hyper-synthesis steps an output channel's
 * weights by its largest (hyper_int.h), and the old channels must keep
 * their steps to give the same means and scales. */
static void init_hidden_inputs(const layer_view *v, int cin_old, int cout_old, double fan_in,
                               nn_rng *rng)
{
    const double a_init = sqrt(3.0 / fan_in);
    for (int co = 0; co < cout_old; co++) {
        float largest = 0;
        for (int ci = 0; ci < cin_old; ci++)
            for (int t = 0; t < v->kk; t++) largest = fmaxf(largest, fabsf(*weight_at(v, ci, co, t)));
        const double a = fmin(a_init, 0.5 * largest);
        for (int ci = cin_old; ci < v->cin; ci++)
            for (int t = 0; t < v->kk; t++) *weight_at(v, ci, co, t) = uniform(rng, a);
    }
}

/* The new channels' gains at each level: the geometric mean of that level's
 * trained gains (the mean in which levels interpolate). A level's gains
 * set its quantisation step, coarse at low rates, fine at high ones; a
 * gain of 1 at every level would code the new channels alike at all
 * rates, too finely at the low ones. */
static void init_gains(aec_model *m, size_t block, int m_old)
{
    const int M = m->arch.m;
    for (int l = 0; l < m->arch.levels; l++) {
        float *g = m->p.value + block + (size_t)l * M;
        double log_sum = 0;
        for (int c = 0; c < m_old; c++) log_sum += log(fabs(g[c]) + 1e-30);
        const float mean = (float)exp(log_sum / m_old);
        for (int c = m_old; c < M; c++) g[c] = mean;
    }
}

int aec_model_widen(aec_model *dst, const aec_model *src, int m, uint64_t seed)
{
    const aec_arch *old = &src->arch;
    if (src->decoder_only || old->context || m < old->m) return -1;
    aec_arch arch = *old;
    arch.m = m;
    if (aec_model_create(dst, &arch)) return -1;
    if (copy_all(dst, src)) {
        aec_model_free(dst);
        return -1;
    }
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    init_analysis_rows(dst, old->m, &rng);
    /* h_s: the hidden channels of both transposed convolutions grow with
     * M; the output layer reads the second's */
    const nn_deconv2d *up1 = &dst->hs_up[1];
    const layer_view v1 = {dst->p.value + up1->w, up1->cin, up1->cout, up1->k * up1->k, 1};
    init_hidden_inputs(&v1, src->hs_up[1].cin, src->hs_up[1].cout,
                       (double)up1->cin * up1->k * up1->k / ((double)up1->stride * up1->stride), &rng);
    const nn_conv2d *out = &dst->hs_out;
    const layer_view vo = {dst->p.value + out->w, out->cin, out->cout, out->k * out->k, 0};
    for (int half = 0; half < 2; half++) {
        layer_view v = vo;
        v.w += (size_t)half * m * out->cin * v.kk;   /* the means' rows */
        v.cout = m;
        init_hidden_inputs(&v, src->hs_out.cin, old->m, (double)out->cin * v.kk, &rng);
    }
    /* the new channels' means 0 and scales the lower bound that training
     * and the coder put on a scale (likelihood.h): a channel that carries
     * nothing yet, whose 0s cost next to nothing (its weights from every
     * hidden channel 0, its means' bias left 0) */
    for (int c = old->m; c < m; c++) dst->p.value[out->b + c] = NN_SCALE_MIN;
    init_gains(dst, dst->gain, old->m);
    init_gains(dst, dst->inv_gain, old->m);
    return 0;
}
