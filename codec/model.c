/* codec/model.c - the aec autoencoder: parameters, the forward passes (the
 * coding path, the float evaluation used for validation, the calibration's),
 * and the encoder's refinement of the latents. Training's passes, which
 * share the forward ones (model_passes.h), are tools/train/model_train.c. */
#include "codec/model.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/model_passes.h"
#include "nn/deconv_winograd.h"
#include "nn/ops.h"

#define LRELU_SLOPE AEC_MODEL_LRELU_SLOPE

void aec_arch_default(aec_arch *a)
{
    /* about 0.1 to 1.5 bpp on the butterfly validation set; the
     * rate grows only as lambda^0.3-0.5, hence the wide span */
    static const float lambdas[] = {0.0003f, 0.0008f, 0.0018f, 0.0035f, 0.0067f,
                                    0.0130f, 0.0250f, 0.0483f, 0.0950f, 0.1800f};
    memset(a, 0, sizeof *a);
    a->n = 128;
    a->m = 192;
    a->levels = (int)(sizeof lambdas / sizeof lambdas[0]);
    for (int i = 0; i < a->levels; i++) a->lambda[i] = lambdas[i];
}

static int create(aec_model *m, const aec_arch *arch, int decoder_only)
{
    memset(m, 0, sizeof *m);
    m->decoder_only = decoder_only;
    m->arch = *arch;
    int N = arch->n, M = arch->m, L = arch->levels;
    if (N < 1 || M < 1 || L < 1 || L > AEC_MAX_LEVELS) return -1;
    nn_params *p = &m->p;
    nn_params_init(p);
    int err = 0;
    char name[NN_PARAM_NAME_MAX];
    const int ga_in[4] = {3, N, N, N}, ga_out[4] = {N, N, N, M};
    const int gs_in[4] = {M, N, N, N}, gs_out[4] = {N, N, N, 3};
    for (int i = 0; i < 4 && !decoder_only; i++) {
        snprintf(name, sizeof name, "g_a.conv%d", i);
        err |= nn_conv2d_declare(&m->ga[i], p, name, ga_in[i], ga_out[i], 5, 2, NN_PAD_ZERO);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "g_s.deconv%d", i);
        err |= nn_deconv2d_declare(&m->gs[i], p, name, gs_in[i], gs_out[i], 5, 2);
    }
    for (int i = 0; i < 3; i++) {
        if (!decoder_only) {
            snprintf(name, sizeof name, "g_a.gdn%d", i);
            err |= nn_gdn_declare(&m->ga_gdn[i], p, name, N, 0);
        }
        snprintf(name, sizeof name, "g_s.igdn%d", i);
        err |= nn_gdn_declare(&m->gs_igdn[i], p, name, N, 1);
    }
    m->inv_gain = nn_params_declare(p, "inv_gain", L, M, 1, 1);
    if (decoder_only) {
        if (err || m->inv_gain == (size_t)-1 || nn_params_alloc(p) != 0) {
            nn_params_free(p);
            return -1;
        }
        return 0;
    }
    err |= nn_conv2d_declare(&m->ha[0], p, "h_a.conv0", M, N, 3, 1, NN_PAD_ZERO);
    err |= nn_conv2d_declare(&m->ha[1], p, "h_a.conv1", N, N, 5, 2, NN_PAD_ZERO);
    err |= nn_conv2d_declare(&m->ha[2], p, "h_a.conv2", N, N, 5, 2, NN_PAD_ZERO);
    err |= nn_deconv2d_declare(&m->hs_up[0], p, "h_s.deconv0", N, M, 5, 2);
    err |= nn_deconv2d_declare(&m->hs_up[1], p, "h_s.deconv1", M, M * 3 / 2, 5, 2);
    err |= nn_conv2d_declare(&m->hs_out, p, "h_s.conv2", M * 3 / 2, 2 * M, 3, 1, NN_PAD_ZERO);
    err |= nn_factorized_declare(&m->z_density, p, "z_density", N);
    m->gain = nn_params_declare(p, "gain", L, M, 1, 1);
    m->hgain = nn_params_declare(p, "hgain", L, N, 1, 1);
    m->hinv_gain = nn_params_declare(p, "hinv_gain", L, N, 1, 1);
    if (arch->context) {
        err |= nn_conv2d_declare(&m->ctx_conv, p, "ctx.conv", 2 * M, M, 5, 1, NN_PAD_ZERO);
        err |= nn_conv2d_declare(&m->ep[0], p, "ep.conv0", 3 * M, 2 * M, 1, 1, NN_PAD_ZERO);
        err |= nn_conv2d_declare(&m->ep[1], p, "ep.conv1", 2 * M, 2 * M, 1, 1, NN_PAD_ZERO);
    }
    if (err || m->gain == (size_t)-1 || m->inv_gain == (size_t)-1 || m->hgain == (size_t)-1 ||
        m->hinv_gain == (size_t)-1 || nn_params_alloc(p) != 0) {
        nn_params_free(p);
        return -1;
    }
    return 0;
}

int aec_model_create(aec_model *m, const aec_arch *arch)
{
    return create(m, arch, 0);
}

int aec_model_create_decoder(aec_model *m, const aec_arch *arch)
{
    return create(m, arch, 1);
}

int aec_model_clone(aec_model *dst, const aec_model *src)
{
    if ((src->decoder_only ? aec_model_create_decoder : aec_model_create)(dst, &src->arch)) return -1;
    memcpy(dst->p.value, src->p.value, src->p.count * sizeof(float));
    return 0;
}

void aec_model_free(aec_model *m)
{
    nn_params_free(&m->p);
}

/* The two stored levels around level position t (clamped to the trained
 * range) and t's fraction f of the way from l0 to l1. */
static void level_span(const aec_arch *a, float t, int *l0, int *l1, float *f)
{
    if (t < 0) t = 0;
    if (t > a->levels - 1) t = (float)(a->levels - 1);
    *l0 = (int)floorf(t);
    if (*l0 >= a->levels - 1) *l0 = a->levels > 1 ? a->levels - 2 : 0;
    *l1 = a->levels > 1 ? *l0 + 1 : 0;
    *f = t - (float)*l0;
}

void aec_model_gains(const aec_model *m, float t, float *gain, float *inv_gain,
                     float *hgain, float *hinv_gain)
{
    const aec_arch *a = &m->arch;
    int l0, l1;
    float f;
    level_span(a, t, &l0, &l1, &f);
    const float *v = m->p.value;
    /* geometric interpolation: g = g0^(1-f) g1^f (gains are positive) */
#define INTERP(dst, off, count)                                                       \
    for (int c = 0; c < (count); c++) {                                               \
        float g0 = fabsf(v[(off) + (size_t)l0 * (count) + c]) + 1e-9f;                 \
        float g1 = fabsf(v[(off) + (size_t)l1 * (count) + c]) + 1e-9f;                 \
        (dst)[c] = expf((1 - f) * logf(g0) + f * logf(g1));                           \
    }
    if (inv_gain) INTERP(inv_gain, m->inv_gain, a->m);
    if (gain && !m->decoder_only) INTERP(gain, m->gain, a->m);
    if (hgain && !m->decoder_only) INTERP(hgain, m->hgain, a->n);
    if (hinv_gain && !m->decoder_only) INTERP(hinv_gain, m->hinv_gain, a->n);
#undef INTERP
}

/* ---- training state ------------------------------------------------------ */

void aec_train_state_init(aec_train_state *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    nn_rng_seed(&s->rng, seed);
}

void aec_train_state_free(aec_train_state *s)
{
    nn_tensor *all[] = {&s->x, &s->ga_in[0], &s->ga_in[1], &s->ga_in[2], &s->ga_in[3],
                        &s->ga_pre[0], &s->ga_pre[1], &s->ga_pre[2], &s->y, &s->y_g,
                        &s->ha_in[0], &s->ha_in[1], &s->ha_in[2], &s->ha_pre[0], &s->ha_pre[1],
                        &s->z, &s->z_g, &s->z_noisy, &s->z_hat, &s->hs_in,
                        &s->hs_pre[0], &s->hs_pre[1], &s->hs_act[0], &s->hs_act[1],
                        &s->hs_params, &s->scale, &s->mu, &s->y_noisy, &s->y_hat,
                        &s->ctx_in, &s->ctx_out, &s->ep_in, &s->ep_pre, &s->ep_act, &s->params, &s->d_hs,
                        &s->gs_in[0], &s->gs_in[1], &s->gs_in[2], &s->gs_in[3],
                        &s->gs_pre[0], &s->gs_pre[1], &s->gs_pre[2], &s->x_hat,
                        &s->d0, &s->d1, &s->d_scale, &s->d_mu, &s->d_yg, &s->d_zg};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) nn_tensor_free(all[i]);
    nn_workspace_free(&s->ws);
    if (s->step_plans) aec_model_free_plans(s->step_plans);
    free(s->step_plans);
    s->step_plans = NULL;
    s->plans = NULL;
}

nn_tensor aec_model_item_view(const nn_tensor *t, int i)
{
    size_t per = (size_t)t->c * t->h * t->w;
    nn_tensor v = {1, t->c, t->h, t->w, t->data + per * (size_t)i};
    return v;
}

int aec_model_resize_like(nn_tensor *t, const nn_tensor *like)
{
    return nn_tensor_resize(t, like->n, like->c, like->h, like->w);
}

/* y[i] = x[i] * g_i, g_i = gains of item i (per-item vectors at base + level*c) */
void aec_model_scale_items(const nn_tensor *x, nn_tensor *y, const float *const *g)
{
    for (int i = 0; i < x->n; i++) {
        nn_tensor xi = aec_model_item_view(x, i), yi = aec_model_item_view(y, i);
        nn_channel_scale_forward(&xi, g[i], &yi);
    }
}

/* params [B][2M] -> scale [B][M] (first half) and mu [B][M] (second half) */
static void split_params(const nn_tensor *params, nn_tensor *scale, nn_tensor *mu)
{
    size_t plane = (size_t)params->h * params->w, half = (size_t)scale->c * plane;
    for (int i = 0; i < params->n; i++) {
        const float *src = params->data + (size_t)i * 2 * half;
        memcpy(scale->data + (size_t)i * half, src, half * sizeof(float));
        memcpy(mu->data + (size_t)i * half, src + half, half * sizeof(float));
    }
}

/* Analysis transform g_a: x -> y, keeping each layer's input (its
 * convolutions by nn/deconv_winograd where it applies). */
int aec_model_analysis_forward(const aec_model *m, aec_train_state *s, const nn_tensor *x)
{
    const nn_tensor *in = x;
    for (int i = 0; i < 4; i++) {
        nn_tensor *out = i < 3 ? &s->ga_pre[i] : &s->y;
        if (nn_conv2d_forward_winograd_planned(&m->ga[i], &m->p, s->plans ? &s->plans[i] : NULL, in,
                                               out, &s->ws))
            return -1;
        if (i == 3) break;
        if (nn_gdn_forward(&m->ga_gdn[i], &m->p, out, &s->ga_in[i + 1], &s->ws)) return -1;
        in = &s->ga_in[i + 1];
    }
    return 0;
}

/* Hyper-analysis h_a: y_g -> z. */
int aec_model_hyper_analysis_forward(const aec_model *m, aec_train_state *s)
{
    const nn_tensor *in = &s->y_g;
    for (int i = 0; i < 3; i++) {
        nn_tensor *out = i < 2 ? &s->ha_pre[i] : &s->z;
        if (nn_conv2d_forward(&m->ha[i], &m->p, in, out, &s->ws)) return -1;
        if (i == 2) break;
        if (aec_model_resize_like(&s->ha_in[i + 1], out)) return -1;
        nn_leaky_relu_forward(out->data, s->ha_in[i + 1].data, nn_tensor_numel(out), LRELU_SLOPE);
        in = &s->ha_in[i + 1];
    }
    return 0;
}

/* Hyper-synthesis h_s: hs_in -> hs_params -> (scale, mu). */
int aec_model_hyper_synthesis_forward(const aec_model *m, aec_train_state *s)
{
    const nn_tensor *in = &s->hs_in;
    for (int i = 0; i < 2; i++) {
        if (nn_deconv2d_forward(&m->hs_up[i], &m->p, in, &s->hs_pre[i], &s->ws)) return -1;
        if (aec_model_resize_like(&s->hs_act[i], &s->hs_pre[i])) return -1;
        nn_leaky_relu_forward(s->hs_pre[i].data, s->hs_act[i].data,
                              nn_tensor_numel(&s->hs_pre[i]), LRELU_SLOPE);
        in = &s->hs_act[i];
    }
    return nn_conv2d_forward(&m->hs_out, &m->p, in, &s->hs_params, &s->ws);
}

/* Zeroes the positions of t that are not anchors (keep_anchors) or that
 * are (!keep_anchors). Anchors: row + column even. */
void aec_model_checker_mask(nn_tensor *t, int keep_anchors)
{
    for (int i = 0; i < t->n * t->c; i++) {
        float *plane = t->data + (size_t)i * t->h * t->w;
        for (int y = 0; y < t->h; y++)
            for (int x = (y + keep_anchors) & 1; x < t->w; x += 2) plane[(size_t)y * t->w + x] = 0;
    }
}

/* s->ctx_in = [anchor(res), anchor(|res|)] with res = ctx_src - mu_hs (h_s's
 * mean), s->ctx_out = nonanchor(ctx_conv(ctx_in)),
 * s->params = hs_params + nonanchor(ep1(lrelu(ep0([hs_params, ctx_out])))). */
int aec_model_entropy_params(const aec_model *m, aec_train_state *s, const nn_tensor *ctx_src)
{
    const nn_tensor *hp = &s->hs_params;
    if (nn_tensor_resize(&s->scale, hp->n, hp->c / 2, hp->h, hp->w) ||
        nn_tensor_resize(&s->mu, hp->n, hp->c / 2, hp->h, hp->w))
        return -1;
    if (!m->arch.context) {
        split_params(hp, &s->scale, &s->mu);
        return 0;
    }
    const int M = m->arch.m;
    const size_t plane = (size_t)hp->h * hp->w, half = (size_t)M * plane;
    if (nn_tensor_resize(&s->ctx_in, hp->n, 2 * M, hp->h, hp->w)) return -1;
    for (int i = 0; i < hp->n; i++) {
        const float *src = ctx_src->data + (size_t)i * half;
        const float *mu_hs = hp->data + (size_t)i * 2 * half + half;
        float *res = s->ctx_in.data + (size_t)i * 2 * half, *mag = res + half;
        for (size_t k = 0; k < half; k++) {
            res[k] = src[k] - mu_hs[k];
            mag[k] = fabsf(res[k]);
        }
    }
    aec_model_checker_mask(&s->ctx_in, 1);
    if (nn_conv2d_forward(&m->ctx_conv, &m->p, &s->ctx_in, &s->ctx_out, &s->ws)) return -1;
    aec_model_checker_mask(&s->ctx_out, 0);
    if (nn_tensor_resize(&s->ep_in, hp->n, 3 * M, hp->h, hp->w)) return -1;
    for (int i = 0; i < hp->n; i++) {
        float *dst = s->ep_in.data + (size_t)i * 3 * half;
        memcpy(dst, hp->data + (size_t)i * 2 * half, 2 * half * sizeof(float));
        memcpy(dst + 2 * half, s->ctx_out.data + (size_t)i * half, half * sizeof(float));
    }
    if (nn_conv2d_forward(&m->ep[0], &m->p, &s->ep_in, &s->ep_pre, &s->ws)) return -1;
    if (aec_model_resize_like(&s->ep_act, &s->ep_pre)) return -1;
    nn_leaky_relu_forward(s->ep_pre.data, s->ep_act.data, nn_tensor_numel(&s->ep_pre), LRELU_SLOPE);
    if (nn_conv2d_forward(&m->ep[1], &m->p, &s->ep_act, &s->params, &s->ws)) return -1;
    aec_model_checker_mask(&s->params, 0);
    nn_add(s->params.data, hp->data, s->params.data, nn_tensor_numel(hp));
    split_params(&s->params, &s->scale, &s->mu);
    return 0;
}

/* Synthesis g_s: gs_in[0] -> x_hat (its transposed convolutions by
 * nn/deconv_winograd where it applies, with the layers' plans when given,
 * else plans made for the call). */
int aec_model_synthesis_forward(const aec_model *m, aec_train_state *s, const nn_winograd_plan *plans)
{
    for (int i = 0; i < 4; i++) {
        nn_tensor *out = i < 3 ? &s->gs_pre[i] : &s->x_hat;
        if (nn_deconv2d_forward_winograd_planned(&m->gs[i], &m->p, plans ? &plans[i] : NULL,
                                                 &s->gs_in[i], out, &s->ws))
            return -1;
        if (i == 3) break;
        if (nn_gdn_forward(&m->gs_igdn[i], &m->p, out, &s->gs_in[i + 1], &s->ws)) return -1;
    }
    return 0;
}

int aec_model_make_plans(const aec_model *m, nn_winograd_plan plans[AEC_MODEL_PLANS])
{
    if (m->decoder_only) {
        aec_model_free_plans(plans);
        return -1;
    }
    int failed = 0;
    /* a plan to a thread: its own loops then run on that thread alone
     * (as aec_model_train_split's workers do), and the plans' packing,
     * serial in each, runs side by side */
#pragma omp parallel reduction(| : failed)
    {
        omp_set_num_threads(1);
#pragma omp for schedule(dynamic)
        for (int i = 0; i < AEC_MODEL_PLANS; i++) {
            const int layer = i % 4, backward = i / 4 % 2;
            failed |= i < 8 ? nn_conv2d_winograd_replan(&m->ga[layer], &m->p, backward, &plans[i])
                            : nn_deconv2d_winograd_replan(&m->gs[layer], &m->p, backward, &plans[i]);
        }
    }
    if (failed) aec_model_free_plans(plans);
    return failed ? -1 : 0;
}

void aec_model_free_plans(nn_winograd_plan plans[AEC_MODEL_PLANS])
{
    for (int i = 0; i < AEC_MODEL_PLANS; i++) nn_winograd_plan_free(&plans[i]);
}

/* s->y_hat = mu + round(s->y_g - mu) with (s->scale, s->mu) from
 * s->hs_params as the coder has them: the anchors' parameters (h_s's,
 * whatever the context source), the anchors rounded, then the others'
 * parameters from them (a context model; one pass without). */
static int round_as_coded(const aec_model *m, aec_train_state *s)
{
    const size_t ny = nn_tensor_numel(&s->y_g);
    if (aec_model_resize_like(&s->y_hat, &s->y_g)) return -1;
    for (int pass = 0; pass < 1 + m->arch.context; pass++) {
        if (aec_model_entropy_params(m, s, pass ? &s->y_hat : &s->y_g)) return -1;
        for (size_t k = 0; k < ny; k++) s->y_hat.data[k] = s->y_g.data[k] - s->mu.data[k];
        nn_round(s->y_hat.data, s->y_hat.data, ny);
        for (size_t k = 0; k < ny; k++) s->y_hat.data[k] += s->mu.data[k];
    }
    return 0;
}

double aec_model_eval(const aec_model *m, aec_train_state *s, const nn_tensor *x, float t,
                      nn_tensor *x_hat)
{
    int M = m->arch.m, N = m->arch.n;
    float g[1024], ig[1024], hg[1024], hig[1024];
    if (M > 1024 || N > 1024) return -1;
    aec_model_gains(m, t, g, ig, hg, hig);
    const float *gp[1] = {g}, *igp[1] = {ig}, *hgp[1] = {hg}, *higp[1] = {hig};

    if (aec_model_analysis_forward(m, s, x)) return -1;
    if (aec_model_resize_like(&s->y_g, &s->y)) return -1;
    aec_model_scale_items(&s->y, &s->y_g, gp);
    if (aec_model_hyper_analysis_forward(m, s)) return -1;
    if (aec_model_resize_like(&s->z_g, &s->z) || aec_model_resize_like(&s->z_hat, &s->z) || aec_model_resize_like(&s->hs_in, &s->z))
        return -1;
    aec_model_scale_items(&s->z, &s->z_g, hgp);
    nn_round(s->z_g.data, s->z_hat.data, nn_tensor_numel(&s->z));
    aec_model_scale_items(&s->z_hat, &s->hs_in, higp);
    double bits = nn_factorized_bits(&m->z_density, &m->p, &s->z_hat);
    if (aec_model_hyper_synthesis_forward(m, s)) return -1;
    if (aec_model_resize_like(&s->gs_in[0], &s->y) || round_as_coded(m, s)) return -1;
    bits += nn_gaussian_bits(&s->y_hat, &s->mu, &s->scale);
    aec_model_scale_items(&s->y_hat, &s->gs_in[0], igp);
    if (aec_model_synthesis_forward(m, s, NULL)) return -1;
    if (aec_model_resize_like(x_hat, &s->x_hat)) return -1;
    size_t nx = nn_tensor_numel(&s->x_hat);
    for (size_t k = 0; k < nx; k++) {
        float v = s->x_hat.data[k];
        x_hat->data[k] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    return bits;
}

static void raise_max_abs(double *mx, const nn_tensor *t)
{
    size_t n = nn_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)t->data[i]);
        if (a > *mx) *mx = a;
    }
}

int aec_model_context_calibrate(const aec_model *m, aec_train_state *s, float t, double max_abs[4])
{
    const int N = m->arch.n;
    float hig[1024];
    if (!m->arch.context || m->decoder_only || N > 1024 || s->z_hat.c != N || s->y_g.c != m->arch.m)
        return -1;
    aec_model_gains(m, t, NULL, NULL, NULL, hig);
    const float *higp[1] = {hig};
    if (aec_model_resize_like(&s->hs_in, &s->z_hat)) return -1;
    aec_model_scale_items(&s->z_hat, &s->hs_in, higp);
    if (aec_model_hyper_synthesis_forward(m, s) || round_as_coded(m, s)) return -1;
    raise_max_abs(&max_abs[0], &s->hs_params);
    raise_max_abs(&max_abs[1], &s->ctx_in);
    raise_max_abs(&max_abs[2], &s->ctx_out);
    raise_max_abs(&max_abs[3], &s->ep_act);
    return 0;
}

/* ---- passes for the encoder's latent search -------------------------------- */

int aec_model_synthesis_train_forward(const aec_model *m, aec_train_state *s,
                                      const nn_winograd_plan *plans)
{
    return aec_model_synthesis_forward(m, s, plans);
}

int aec_model_synthesis_backward_input(const aec_model *m, aec_train_state *s,
                                       const nn_winograd_plan *plans, nn_tensor **dcur,
                                       nn_tensor **dnext)
{
    /* the weights' gradients are not wanted: a parameter view without them */
    nn_params view = m->p;
    view.grad = NULL;
    for (int i = 3; i >= 0; i--) {
        if (aec_model_resize_like(*dnext, &s->gs_in[i])) return -1;
        if (nn_deconv2d_backward_dx_winograd_planned(&m->gs[i], &view, &plans[i], &s->gs_in[i],
                                                     *dcur, *dnext, &s->ws))
            return -1;
        nn_tensor *tmp = *dcur; *dcur = *dnext; *dnext = tmp;
        if (i == 0) break;
        if (aec_model_resize_like(*dnext, &s->gs_pre[i - 1])) return -1;
        if (nn_gdn_backward(&m->gs_igdn[i - 1], &view, &s->gs_pre[i - 1], *dcur, *dnext, &s->ws))
            return -1;
        tmp = *dcur; *dcur = *dnext; *dnext = tmp;
    }
    return 0;
}

int aec_model_hyper_synthesis_train_forward(const aec_model *m, aec_train_state *s)
{
    if (m->arch.context || aec_model_hyper_synthesis_forward(m, s)) return -1;
    return aec_model_entropy_params(m, s, NULL);
}

int aec_model_hyper_synthesis_backward_input(const aec_model *m, aec_train_state *s,
                                             const nn_tensor *d_params, nn_tensor *d_in)
{
    nn_params view = m->p;
    view.grad = NULL;
    nn_tensor *dcur = &s->d0, *dnext = &s->d1, *tmp;
    if (aec_model_resize_like(dcur, &s->hs_act[1]) ||
        nn_conv2d_backward(&m->hs_out, &view, &s->hs_act[1], d_params, dcur, &s->ws))
        return -1;
    for (int i = 1; i >= 0; i--) {
        nn_leaky_relu_backward(s->hs_pre[i].data, dcur->data, dcur->data, nn_tensor_numel(dcur),
                               LRELU_SLOPE);
        const nn_tensor *in = i == 0 ? &s->hs_in : &s->hs_act[0];
        nn_tensor *out = i == 0 ? d_in : dnext;
        if (aec_model_resize_like(out, in) || nn_deconv2d_backward(&m->hs_up[i], &view, in, dcur, out, &s->ws))
            return -1;
        tmp = dcur; dcur = dnext; dnext = tmp;
    }
    return 0;
}

/* ---- encoder-side refinement of the latent -------------------------------- */

/* Adam's first step size on the latent, in quantisation steps, as a
 * function of lambda. Too small a step gains little; too large (0.2) finds
 * nothing better than g_a's latent. The best step grows with lambda, so it
 * follows lambda^0.36 through 0.01 at lambda 0.035, within [0.003, 0.015]:
 * tuned on butterfly validation images, where it saved more bits at equal
 * PSNR than a fixed 0.01 at every quality tried (12.5, 50, 87.5). */
static float refine_lr(double lambda)
{
    double lr = 0.01 * pow(lambda / 0.035, 0.36);
    return (float)(lr < 0.003 ? 0.003 : lr > 0.015 ? 0.015 : lr);
}

double aec_model_lambda(const aec_arch *a, float t)
{
    int l0, l1;
    float f;
    level_span(a, t, &l0, &l1, &f);
    return exp((1 - (double)f) * log(a->lambda[l0]) + (double)f * log(a->lambda[l1]));
}

/* loss of the rounded latent, y_hat = mu + round(y_g - mu), as coded:
 * leaves g_s's activations in s for the backward pass */
static int refine_forward(const aec_model *m, aec_train_state *s, const nn_tensor *x, int w,
                          int h, const nn_tensor *y_g, const nn_tensor *mu,
                          const nn_tensor *scale, const float *ig, double lambda,
                          const nn_winograd_plan *plans, double *loss)
{
    size_t ny = nn_tensor_numel(y_g);
    if (aec_model_resize_like(&s->y_hat, y_g) || aec_model_resize_like(&s->gs_in[0], y_g)) return -1;
    for (size_t k = 0; k < ny; k++)
        s->y_hat.data[k] = mu->data[k] + floorf(y_g->data[k] - mu->data[k] + 0.5f);
    const float *igp[1] = {ig};
    aec_model_scale_items(&s->y_hat, &s->gs_in[0], igp);
    if (aec_model_synthesis_forward(m, s, plans)) return -1;
    const size_t plane = (size_t)x->h * x->w;
    double se = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++) {
            const float *a = s->x_hat.data + c * plane + (size_t)y * x->w;
            const float *b = x->data + c * plane + (size_t)y * x->w;
            for (int i = 0; i < w; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        }
    double bits = nn_gaussian_bits(&s->y_hat, mu, scale);
    *loss = bits / ((double)w * h) + lambda * 255.0 * 255.0 * se / (3.0 * w * h);
    return 0;
}

int aec_model_refine_latent(const aec_model *m, aec_train_state *s, const nn_tensor *x, int w,
                            int h, float t, nn_tensor *y_g, const nn_tensor *mu,
                            const nn_tensor *scale, int iters, double *gain)
{
    const int M = m->arch.m;
    float ig[1024];
    if (M > 1024 || y_g->n != 1 || y_g->c != M || x->n != 1 || x->c != 3 ||
        x->h != 16 * y_g->h || x->w != 16 * y_g->w || w < 1 || h < 1 || w > x->w || h > x->h ||
        nn_tensor_numel(mu) != nn_tensor_numel(y_g) || nn_tensor_numel(scale) != nn_tensor_numel(y_g))
        return -1;
    aec_model_gains(m, t, NULL, ig, NULL, NULL);
    const double lambda = aec_model_lambda(&m->arch, t);
    const size_t ny = nn_tensor_numel(y_g);
    float *best = malloc(ny * sizeof *best), *m1 = calloc(ny, sizeof *m1), *v1 = calloc(ny, sizeof *v1);
    int ret = -1;
    /* the synthesis' weights transformed once for all the steps' passes,
     * forward [0..3] and backward [4..7] (each costs about as much as a
     * tenth of a pass over a 768x512 image; together they hold ~66 MB for
     * the default architecture, against ~14 MB for one at a time) */
    nn_winograd_plan plans[8] = {{0}};
    if (!best || !m1 || !v1) goto done;
    for (int i = 0; i < 8; i++)
        if (nn_deconv2d_winograd_plan(&m->gs[i % 4], &m->p, i / 4, &plans[i])) goto done;
    memcpy(best, y_g->data, ny * sizeof *best);
    double first = 0, best_loss = 0;
    for (int it = 0; it <= iters; it++) {
        double loss;
        if (refine_forward(m, s, x, w, h, y_g, mu, scale, ig, lambda, plans, &loss)) goto done;
        if (it == 0) first = best_loss = loss;
        else if (loss < best_loss) {
            best_loss = loss;
            memcpy(best, y_g->data, ny * sizeof *best);
        }
        if (it == iters) break;
        /* d loss / d x_hat on the image's pixels (the padding costs nothing) */
        nn_tensor *dcur = &s->d0, *dnext = &s->d1;
        if (aec_model_resize_like(dcur, &s->x_hat)) goto done;
        nn_tensor_zero(dcur);
        const size_t plane = (size_t)x->h * x->w;
        const float k = (float)(2.0 * lambda * 255.0 * 255.0 / (3.0 * w * h));
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++) {
                size_t at = c * plane + (size_t)y * x->w;
                for (int i = 0; i < w; i++)
                    dcur->data[at + i] = k * (s->x_hat.data[at + i] - x->data[at + i]);
            }
        if (aec_model_synthesis_backward_input(m, s, plans + 4, &dcur, &dnext)) goto done;
        /* through the inverse gain; the rate's gradient at the rounded
         * value; straight through the rounding to y_g */
        const size_t plane_y = (size_t)y_g->h * y_g->w;
        for (size_t q = 0; q < ny; q++) dcur->data[q] *= ig[q / plane_y];
        if (aec_model_resize_like(dnext, y_g)) goto done;
        nn_gaussian_bits_backward(&s->y_hat, mu, scale, (float)(1.0 / ((double)w * h)), dnext,
                                  NULL, NULL);
        /* Adam on y_g, the step falling linearly to a tenth: moves of a
         * fraction of a quantisation step */
        const float lr = refine_lr(lambda) * (1.0f - 0.9f * (float)it / (float)iters);
        const float b1 = 0.9f, b2 = 0.999f;
        const float c1 = 1.0f - powf(b1, (float)(it + 1)), c2 = 1.0f - powf(b2, (float)(it + 1));
        for (size_t q = 0; q < ny; q++) {
            float gq = dcur->data[q] + dnext->data[q];
            m1[q] = b1 * m1[q] + (1 - b1) * gq;
            v1[q] = b2 * v1[q] + (1 - b2) * gq * gq;
            y_g->data[q] -= lr * (m1[q] / c1) / (sqrtf(v1[q] / c2) + 1e-8f);
        }
    }
    memcpy(y_g->data, best, ny * sizeof *best);
    if (gain) *gain = first > 0 ? 1.0 - best_loss / first : 0;
    ret = 0;
done:
    for (int i = 0; i < 8; i++) nn_winograd_plan_free(&plans[i]);
    free(best);
    free(m1);
    free(v1);
    return ret;
}

/* ---- inference ------------------------------------------------------------
 *
 * Coding needs none of what training keeps for its backward pass: each
 * layer's output is a fresh tensor, and the one before it is freed as soon
 * as it has been read, so at most two activations are alive, plus the
 * convolutions' capped workspace (nn_conv_set_workspace_cap) and GDN's
 * bands below. On a 768x512 image the biggest activation (128 channels at
 * 384x256) is 50 MB; all of training's tensors together would be ~350 MB. */

/* Rows row0 .. row1 - 1 of t = GDN(t), in place (nn_gdn_forward_inplace:
 * GDN mixes the channels of one pixel and never neighbouring pixels, so
 * any rows can go on their own; each channel's slice of the rows is
 * contiguous, the channels a plane apart). */
static int gdn_rows_in_place(const nn_gdn *l, const nn_params *p, nn_tensor *t, int row0,
                             int row1, nn_workspace *ws)
{
    if (t->c != l->c) return -1;
    const size_t plane = (size_t)t->h * t->w;
    for (int n = 0; n < t->n && row1 > row0; n++)
        if (nn_gdn_forward_inplace(l, p, t->data + (size_t)n * t->c * plane + (size_t)row0 * t->w,
                                   (size_t)(row1 - row0) * t->w, plane, ws))
            return -1;
    return 0;
}

static int gdn_in_place(const nn_gdn *l, const nn_params *p, nn_tensor *t, nn_workspace *ws)
{
    return gdn_rows_in_place(l, p, t, 0, t->h, ws);
}

/* g_s's last layers, streamed over bands of rows: x_hat = deconv3(IGDN2(
 * deconv2(in))), without deconv2's output (the synthesis' biggest
 * activation, 4x the size of `in`) ever existing whole.
 *
 * Band by band, deconv2 writes its output rows r0 .. r1 - 1 exactly as the
 * whole pass would (nn_deconv2d_forward_winograd_rows; r0 on the 8-row
 * grid of its tiles) into d, after the 2 rows kept from the band before,
 * and IGDN2 runs on them. deconv3 then runs on d as an image of its own:
 * output row o of a 5x5 stride-2 transposed convolution takes input rows
 * ceil((o - 2) / 2) .. floor((o + 2) / 2), so d (rows r0 - 2 .. r1 - 1)
 * holds all that rows 2 r0 - 2 .. 2 r1 - 3 of x_hat take (from the image's
 * top, and to its bottom, at the first and last band, where the zero
 * padding is the image's own); those rows are kept. The values are the
 * whole pass's up to the order of float additions (tests/test_model.c). */
static int synthesis_tail(const aec_model *m, const nn_tensor *in, nn_tensor *x_hat,
                          nn_workspace *ws)
{
    const nn_deconv2d *l2 = &m->gs[2], *l3 = &m->gs[3];
    const int n = in->n, c2 = l2->cout, c3 = l3->cout, R = 2 * in->h, w2 = 2 * in->w;
    /* a band of deconv2's output is at most the size of the convolutions'
     * workspace cap (8 MB when coding: 128 channels of a 768-pixel-wide
     * image take 196 KB a row, so ~40 rows, instead of the whole 50 MB
     * activation of a 768x512 image), and 8 rows at least */
    const size_t row_bytes = (size_t)n * c2 * w2 * sizeof(float);
    size_t fit = row_bytes ? nn_conv_workspace_cap(ws) / row_bytes : 0;
    /* deconv2 rows a band: from the cap, at most the image's (rounded up
     * to the 8-row grid) */
    const size_t whole = ((size_t)R + 7) / 8 * 8;
    size_t rows = fit < 10 ? 8 : (fit - 2) / 8 * 8;
    const int band = (int)(rows < whole ? rows : whole);
    nn_winograd_plan plan;
    nn_tensor d = {0}, o = {0}, carry = {0};
    int ret = -1;
    if (nn_deconv2d_winograd_plan(l2, &m->p, 0, &plan)) return -1;
    if (nn_tensor_resize(x_hat, n, c3, 2 * R, 2 * w2) || nn_tensor_resize(&d, n, c2, band + 2, w2) ||
        nn_tensor_resize(&carry, n, c2, 2, w2))
        goto done;
    int kept = 0; /* rows at d's top from the band before */
    for (int r0 = 0; r0 < R; r0 += band) {
        const int r1 = r0 + band < R ? r0 + band : R;
        d.h = kept + r1 - r0; /* a reshape within the allocation */
        for (int i = 0; i < n * c2 && kept; i++)
            memcpy(d.data + (size_t)i * d.h * w2, carry.data + (size_t)i * 2 * w2,
                   (size_t)2 * w2 * sizeof(float));
        if (nn_deconv2d_forward_winograd_rows(l2, &m->p, &plan, in, r0, r1, &d, kept, ws) ||
            gdn_rows_in_place(&m->gs_igdn[2], &m->p, &d, kept, d.h, ws) ||
            nn_deconv2d_forward_winograd(l3, &m->p, &d, &o, ws))
            goto done;
        /* o's row j is x_hat's row 2 (r0 - kept) + j */
        const int f0 = r0 == 0 ? 0 : 2 * r0 - 2, f1 = r1 == R ? 2 * R : 2 * r1 - 2;
        const int from = f0 - 2 * (r0 - kept), ow = 2 * w2;
        for (int i = 0; i < n * c3; i++)
            memcpy(x_hat->data + ((size_t)i * 2 * R + f0) * ow, o.data + ((size_t)i * o.h + from) * ow,
                   (size_t)(f1 - f0) * ow * sizeof(float));
        if (r1 < R) { /* d.h >= 8: bands are whole 8-row tiles */
            for (int i = 0; i < n * c2; i++)
                memcpy(carry.data + (size_t)i * 2 * w2, d.data + ((size_t)i * d.h + d.h - 2) * w2,
                       (size_t)2 * w2 * sizeof(float));
            kept = 2;
        }
    }
    ret = 0;
done:
    nn_winograd_plan_free(&plan);
    nn_tensor_free(&d);
    nn_tensor_free(&o);
    nn_tensor_free(&carry);
    return ret;
}

/* g_a (convolutions, GDN) or g_s (transposed convolutions, inverse GDN):
 * four layers, a GDN after each of the first three, two activations alive;
 * g_s's last two layers streamed over bands (synthesis_tail) when its
 * third takes the Winograd passes (the default architecture's does) */
static int transform(const aec_model *m, int synthesis, const nn_tensor *x, nn_tensor *y,
                     nn_workspace *ws)
{
    nn_tensor act[2] = {{0}};
    const nn_tensor *in = x;
    int ret = -1;
    for (int i = 0; i < 4; i++) {
        if (synthesis && i == 2 && nn_deconv2d_winograd_applies(&m->gs[2])) {
            nn_tensor_free(&act[0]); /* layer 0's output: read */
            if (synthesis_tail(m, in, y, ws)) goto done;
            break;
        }
        /* act[i % 2] holds layer i-2's output, which layer i-1 has read */
        nn_tensor_free(&act[i % 2]);
        nn_tensor *out = i < 3 ? &act[i % 2] : y;
        if (synthesis ? nn_deconv2d_forward_winograd(&m->gs[i], &m->p, in, out, ws)
                      : nn_conv2d_forward_winograd(&m->ga[i], &m->p, in, out, ws))
            goto done;
        if (i < 3 && gdn_in_place(synthesis ? &m->gs_igdn[i] : &m->ga_gdn[i], &m->p, out, ws))
            goto done;
        in = out;
    }
    ret = 0;
done:
    nn_tensor_free(&act[0]);
    nn_tensor_free(&act[1]);
    return ret;
}

int aec_model_analysis(const aec_model *m, const nn_tensor *x, nn_tensor *y, nn_workspace *ws)
{
    if (m->decoder_only) return -1;
    return transform(m, 0, x, y, ws);
}

int aec_model_synthesis(const aec_model *m, const nn_tensor *y, nn_tensor *x_hat, nn_workspace *ws)
{
    return transform(m, 1, y, x_hat, ws);
}

int aec_model_analyze(const aec_model *m, aec_train_state *s, const nn_tensor *x, float t)
{
    nn_tensor y = {0};
    if (aec_model_analysis(m, x, &y, &s->ws)) {
        nn_tensor_free(&y);
        return -1;
    }
    return aec_model_analyze_y(m, s, &y, t);
}

int aec_model_analyze_y(const aec_model *m, aec_train_state *s, nn_tensor *y, float t)
{
    if (m->decoder_only || m->arch.m > 1024 || m->arch.n > 1024 || y->c != m->arch.m) {
        nn_tensor_free(y);
        return -1;
    }
    float g[1024], hg[1024];
    aec_model_gains(m, t, g, NULL, hg, NULL);
    /* y becomes y_g in place: the latents are the biggest tensor left */
    nn_tensor_free(&s->y_g);
    s->y_g = *y;
    memset(y, 0, sizeof *y);
    nn_channel_scale_forward(&s->y_g, g, &s->y_g);
    /* h_a, with its activations freed as it goes, like the transforms */
    nn_tensor act[2] = {{0}};
    const nn_tensor *in = &s->y_g;
    int ret = -1;
    for (int i = 0; i < 3; i++) {
        nn_tensor_free(&act[i % 2]);
        nn_tensor *out = i < 2 ? &act[i % 2] : &s->z;
        if (nn_conv2d_forward(&m->ha[i], &m->p, in, out, &s->ws)) goto done;
        if (i < 2) nn_leaky_relu_forward(out->data, out->data, nn_tensor_numel(out), LRELU_SLOPE);
        in = out;
    }
    if (aec_model_resize_like(&s->z_g, &s->z) || aec_model_resize_like(&s->z_hat, &s->z)) goto done;
    nn_channel_scale_forward(&s->z, hg, &s->z_g);
    nn_round(s->z_g.data, s->z_hat.data, nn_tensor_numel(&s->z));
    ret = 0;
done:
    nn_tensor_free(&act[0]);
    nn_tensor_free(&act[1]);
    return ret;
}

int aec_model_synthesize(const aec_model *m, aec_train_state *s, const nn_tensor *y_hat, float t,
                         nn_tensor *x_hat)
{
    if (m->arch.m > 1024 || y_hat->c != m->arch.m) return -1;
    float ig[1024];
    aec_model_gains(m, t, NULL, ig, NULL, NULL);
    nn_tensor in = {0};
    if (aec_model_resize_like(&in, y_hat)) return -1;
    nn_channel_scale_forward(y_hat, ig, &in);
    int ret = aec_model_synthesis(m, &in, x_hat, &s->ws);
    nn_tensor_free(&in);
    if (ret) return -1;
    size_t nx = nn_tensor_numel(x_hat);
    for (size_t k = 0; k < nx; k++) {
        float v = x_hat->data[k];
        x_hat->data[k] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    return 0;
}
