/* tools/train/model_train.c - training the model: initial weights, new
 * rate levels, and the training passes (forward with training-time
 * quantisation, backward, the batch split over workers). The forward
 * passes' parts are the codec's (codec/model_passes.h). */
#include "tools/train/model_train.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "codec/model_passes.h"
#include "nn/deconv_winograd.h"
#include "nn/ops.h"

#define LRELU_SLOPE AEC_MODEL_LRELU_SLOPE

void aec_model_init(aec_model *m, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    for (int i = 0; i < 4; i++) {
        nn_conv2d_init(&m->ga[i], &m->p, &rng);
        nn_deconv2d_init(&m->gs[i], &m->p, &rng);
    }
    for (int i = 0; i < 3; i++) {
        nn_gdn_init(&m->ga_gdn[i], &m->p);
        nn_gdn_init(&m->gs_igdn[i], &m->p);
        nn_conv2d_init(&m->ha[i], &m->p, &rng);
    }
    nn_deconv2d_init(&m->hs_up[0], &m->p, &rng);
    nn_deconv2d_init(&m->hs_up[1], &m->p, &rng);
    nn_conv2d_init(&m->hs_out, &m->p, &rng);
    nn_factorized_init(&m->z_density, &m->p, 10.0f, (unsigned)(seed ^ 0x5eed));
    if (m->arch.context) {
        nn_conv2d_init(&m->ctx_conv, &m->p, &rng);
        nn_conv2d_init(&m->ep[0], &m->p, &rng);
        /* ep1 = 0: the context adds nothing until trained */
        memset(m->p.value + m->ep[1].w, 0, (size_t)4 * m->arch.m * m->arch.m * sizeof(float));
        memset(m->p.value + m->ep[1].b, 0, (size_t)2 * m->arch.m * sizeof(float));
    }
    /* Quantisation step ~ 1/sqrt(lambda): start each level's gain at
     * sqrt(lambda_l / lambda_top) so the levels begin apart in rate. */
    const aec_arch *a = &m->arch;
    for (int l = 0; l < a->levels; l++) {
        float g = sqrtf(a->lambda[l] / a->lambda[a->levels - 1]);
        for (int c = 0; c < a->m; c++) {
            m->p.value[m->gain + (size_t)l * a->m + c] = g;
            m->p.value[m->inv_gain + (size_t)l * a->m + c] = 1.0f / g;
        }
        for (int c = 0; c < a->n; c++) {
            m->p.value[m->hgain + (size_t)l * a->n + c] = 1.0f;
            m->p.value[m->hinv_gain + (size_t)l * a->n + c] = 1.0f;
        }
    }
}

int aec_model_relevel(aec_model *dst, const aec_model *src, const aec_arch *arch)
{
    const aec_arch *old = &src->arch;
    if (src->decoder_only || arch->n != old->n || arch->m != old->m || arch->levels < 1 ||
        arch->levels > AEC_MAX_LEVELS)
        return -1;
    for (int l = 0; l < arch->levels; l++)
        if (!(arch->lambda[l] > 0) || (l > 0 && !(arch->lambda[l] > arch->lambda[l - 1])))
            return -1;
    if (aec_model_create(dst, arch)) return -1;
    aec_model_init(dst, 1);   /* what src does not have (context layers) */
    const size_t gain_blocks[4] = {src->gain, src->inv_gain, src->hgain, src->hinv_gain};
    for (int e = 0; e < src->p.n_entries; e++) {
        const nn_param_entry *se = &src->p.entries[e];
        int is_gain = 0;
        for (int k = 0; k < 4; k++) is_gain |= se->offset == gain_blocks[k];
        const nn_param_entry *de = nn_params_find(&dst->p, se->name);
        if (is_gain || !de || de->count != se->count) continue;
        memcpy(dst->p.value + de->offset, src->p.value + se->offset, se->count * sizeof(float));
    }
    const size_t dst_blocks[4] = {dst->gain, dst->inv_gain, dst->hgain, dst->hinv_gain};
    const int width[4] = {old->m, old->m, old->n, old->n};
    for (int l = 0; l < arch->levels; l++) {
        /* the two old levels to interpolate between (or extrapolate from) */
        int i0 = 0;
        while (i0 + 2 < old->levels && arch->lambda[l] > old->lambda[i0 + 1]) i0++;
        int i1 = old->levels > 1 ? i0 + 1 : i0;
        double f = i1 == i0 ? 0
                            : (log(arch->lambda[l]) - log(old->lambda[i0])) /
                                  (log(old->lambda[i1]) - log(old->lambda[i0]));
        for (int k = 0; k < 4; k++) {
            const float *g0 = src->p.value + gain_blocks[k] + (size_t)i0 * width[k];
            const float *g1 = src->p.value + gain_blocks[k] + (size_t)i1 * width[k];
            float *d = dst->p.value + dst_blocks[k] + (size_t)l * width[k];
            for (int c = 0; c < width[k]; c++) {
                if (f == 0) d[c] = g0[c];
                else if (f == 1) d[c] = g1[c];
                else d[c] = (float)exp((1 - f) * log(fabs(g0[c]) + 1e-30) + f * log(fabs(g1[c]) + 1e-30));
            }
        }
    }
    return 0;
}

static void scale_items_backward(const nn_tensor *x, const nn_tensor *dy, nn_tensor *dx,
                                 const float *const *g, float *const *dg)
{
    for (int i = 0; i < x->n; i++) {
        nn_tensor xi = aec_model_item_view(x, i), dyi = aec_model_item_view(dy, i);
        nn_tensor dxi = dx ? aec_model_item_view(dx, i) : (nn_tensor){0};
        nn_channel_scale_backward(&xi, g[i], &dyi, dx ? &dxi : NULL, dg[i]);
    }
}

static void merge_params(const nn_tensor *dscale, const nn_tensor *dmu, nn_tensor *dparams)
{
    size_t plane = (size_t)dscale->h * dscale->w, half = (size_t)dscale->c * plane;
    for (int i = 0; i < dscale->n; i++) {
        float *dst = dparams->data + (size_t)i * 2 * half;
        memcpy(dst, dscale->data + (size_t)i * half, half * sizeof(float));
        memcpy(dst + half, dmu->data + (size_t)i * half, half * sizeof(float));
    }
}

/* Backward of aec_model_entropy_params: from d_params (d loss / d params as
 * [B][2M], scale then mu; overwritten: it and tmp are scratch) sets d_hs
 * to d loss / d hs_params, ACCUMULATES into the context layers' gradients
 * and ADDS d loss / d ctx_src into d_src. */
static int entropy_params_backward(aec_model *m, aec_train_state *s, nn_tensor *d_params,
                                   nn_tensor *d_hs, nn_tensor *d_src, nn_tensor *tmp)
{
    nn_params *p = &m->p;
    const size_t n = nn_tensor_numel(d_params);
    if (aec_model_resize_like(d_hs, d_params)) return -1;
    memcpy(d_hs->data, d_params->data, n * sizeof(float));   /* the residual path */
    if (!m->arch.context) return 0;
    const int M = m->arch.m;
    aec_model_checker_mask(d_params, 0);   /* the anchors' parameters are h_s's alone */
    if (aec_model_resize_like(tmp, &s->ep_act)) return -1;
    if (nn_conv2d_backward(&m->ep[1], p, &s->ep_act, d_params, tmp, &s->ws)) return -1;
    nn_leaky_relu_backward(s->ep_pre.data, tmp->data, tmp->data, nn_tensor_numel(tmp), LRELU_SLOPE);
    if (aec_model_resize_like(d_params, &s->ep_in)) return -1;   /* now d ep_in */
    if (nn_conv2d_backward(&m->ep[0], p, &s->ep_in, tmp, d_params, &s->ws)) return -1;
    const nn_tensor *hp = &s->hs_params;
    const size_t plane = (size_t)hp->h * hp->w, half = (size_t)M * plane;
    if (aec_model_resize_like(tmp, &s->ctx_out)) return -1;
    for (int i = 0; i < hp->n; i++) {
        const float *src = d_params->data + (size_t)i * 3 * half;
        nn_axpy(1.0f, src, d_hs->data + (size_t)i * 2 * half, 2 * half);
        memcpy(tmp->data + (size_t)i * half, src + 2 * half, half * sizeof(float));
    }
    aec_model_checker_mask(tmp, 0);
    if (aec_model_resize_like(d_params, &s->ctx_in)) return -1;   /* now d ctx_in */
    if (nn_conv2d_backward(&m->ctx_conv, p, &s->ctx_in, tmp, d_params, &s->ws)) return -1;
    aec_model_checker_mask(d_params, 1);
    /* res = src - mu_hs, |res|: d res = d ctx_in[res] + sign(res) d ctx_in[|res|] */
    for (int i = 0; i < hp->n; i++) {
        const float *res = s->ctx_in.data + (size_t)i * 2 * half;
        const float *g_res = d_params->data + (size_t)i * 2 * half, *g_mag = g_res + half;
        float *g_src = d_src ? d_src->data + (size_t)i * half : NULL;
        float *g_mu = d_hs->data + (size_t)i * 2 * half + half;
        for (size_t k = 0; k < half; k++) {
            float g = g_res[k] + (res[k] > 0 ? g_mag[k] : res[k] < 0 ? -g_mag[k] : 0.0f);
            if (g_src) g_src[k] += g;
            g_mu[k] -= g;
        }
    }
    return 0;
}

/* A layer's backward pass, its weights' gradients and its input's by
 * Winograd where it applies (the weights' by the plain pass with `plain_dw`,
 * and where nn/winograd_dw.c leaves them to it), else both in one plain
 * call; with the plan given for the input's (NULL: one made for the call). */
static int deconv_backward(const nn_deconv2d *l, nn_params *p, const nn_winograd_plan *plan,
                           const nn_tensor *x, const nn_tensor *dy, nn_tensor *dx, int plain_dw,
                           nn_workspace *ws)
{
    if (!nn_deconv2d_winograd_applies(l) || (plain_dw && !dx))
        return nn_deconv2d_backward(l, p, x, dy, dx, ws);
    const int dw = plain_dw ? nn_deconv2d_backward(l, p, x, dy, NULL, ws)
                            : nn_deconv2d_backward_dw_winograd(l, p, x, dy, ws);
    return dw || (dx && nn_deconv2d_backward_dx_winograd_planned(l, p, plan, x, dy, dx, ws)) ? -1 : 0;
}

static int conv_backward(const nn_conv2d *l, nn_params *p, const nn_winograd_plan *plan,
                         const nn_tensor *x, const nn_tensor *dy, nn_tensor *dx, int plain_dw,
                         nn_workspace *ws)
{
    if (!nn_conv2d_winograd_applies(l, x) || (plain_dw && !dx))
        return nn_conv2d_backward(l, p, x, dy, dx, ws);
    const int dw = plain_dw ? nn_conv2d_backward(l, p, x, dy, NULL, ws)
                            : nn_conv2d_backward_dw_winograd(l, p, x, dy, ws);
    return dw || (dx && nn_conv2d_backward_dx_winograd_planned(l, p, plan, x, dy, dx, ws)) ? -1 : 0;
}

static void item_gains(const aec_model *m, const aec_train_state *s, const float **g,
                       const float **ig, const float **hg, const float **hig)
{
    const float *v = m->p.value;
    int M = m->arch.m, N = m->arch.n;
    for (int i = 0; i < s->batch; i++) {
        int l = s->level[i];
        g[i] = v + m->gain + (size_t)l * M;
        ig[i] = v + m->inv_gain + (size_t)l * M;
        hg[i] = v + m->hgain + (size_t)l * N;
        hig[i] = v + m->hinv_gain + (size_t)l * N;
    }
}

int aec_model_train_forward(aec_model *m, aec_train_state *s)
{
    const nn_tensor *x = &s->x;
    s->batch = x->n; s->h = x->h; s->w = x->w;
    if (s->batch > 64) return -1;
    const float *g[64], *ig[64], *hg[64], *hig[64];
    item_gains(m, s, g, ig, hg, hig);

    if (aec_model_analysis_forward(m, s, x)) return -1;
    if (aec_model_resize_like(&s->y_g, &s->y)) return -1;
    aec_model_scale_items(&s->y, &s->y_g, g);
    if (aec_model_hyper_analysis_forward(m, s)) return -1;

    if (aec_model_resize_like(&s->z_g, &s->z) || aec_model_resize_like(&s->z_noisy, &s->z) ||
        aec_model_resize_like(&s->z_hat, &s->z) || aec_model_resize_like(&s->hs_in, &s->z))
        return -1;
    size_t nz = nn_tensor_numel(&s->z);
    aec_model_scale_items(&s->z, &s->z_g, hg);
    nn_add_uniform_noise(s->z_g.data, s->z_noisy.data, nz, &s->rng);
    nn_round(s->z_g.data, s->z_hat.data, nz);
    aec_model_scale_items(&s->z_hat, &s->hs_in, hig);
    s->bits_z = nn_factorized_bits(&m->z_density, &m->p, &s->z_noisy);

    if (aec_model_hyper_synthesis_forward(m, s)) return -1;
    if (aec_model_resize_like(&s->y_noisy, &s->y) || aec_model_resize_like(&s->y_hat, &s->y) ||
        aec_model_resize_like(&s->gs_in[0], &s->y))
        return -1;
    size_t ny = nn_tensor_numel(&s->y);
    nn_add_uniform_noise(s->y_g.data, s->y_noisy.data, ny, &s->rng);
    /* the context sees the noisy anchors (the rate proxy's stand-in for
     * the decoded ones) */
    if (aec_model_entropy_params(m, s, &s->y_noisy)) return -1;
    s->bits_y = nn_gaussian_bits(&s->y_noisy, &s->mu, &s->scale);
    /* y^ = round(y_g - mu) + mu: the synthesis sees what the decoder sees */
    for (size_t k = 0; k < ny; k++) s->y_hat.data[k] = s->y_g.data[k] - s->mu.data[k];
    nn_round(s->y_hat.data, s->y_hat.data, ny);
    for (size_t k = 0; k < ny; k++) s->y_hat.data[k] += s->mu.data[k];
    aec_model_scale_items(&s->y_hat, &s->gs_in[0], ig);
    if (aec_model_synthesis_forward(m, s, s->plans ? s->plans + 8 : NULL)) return -1;

    size_t per = (size_t)3 * s->h * s->w;
    double dist = 0;
    for (int i = 0; i < s->batch; i++) {
        s->mse[i] = nn_mse_forward(s->x_hat.data + per * i, x->data + per * i, per);
        dist += m->arch.lambda[s->level[i]] * 255.0 * 255.0 * s->mse[i];
    }
    double pixels = (double)s->batch * s->h * s->w;
    s->loss = (s->bits_y + s->bits_z) / pixels + dist / s->batch;
    return 0;
}

/* d0/d1 ping-pong: each backward reads dy from one and writes dx to the other */
int aec_model_train_backward(aec_model *m, aec_train_state *s)
{
    const float *g[64], *ig[64], *hg[64], *hig[64];
    float *dg[64], *dig[64], *dhg[64], *dhig[64];
    item_gains(m, s, g, ig, hg, hig);
    for (int i = 0; i < s->batch; i++) {
        int l = s->level[i];
        dg[i] = m->p.grad + m->gain + (size_t)l * m->arch.m;
        dig[i] = m->p.grad + m->inv_gain + (size_t)l * m->arch.m;
        dhg[i] = m->p.grad + m->hgain + (size_t)l * m->arch.n;
        dhig[i] = m->p.grad + m->hinv_gain + (size_t)l * m->arch.n;
    }
    nn_workspace *ws = &s->ws;
    nn_params *p = &m->p;
    double pixels = (double)s->batch * s->h * s->w;
    float dbits = (float)(1.0 / pixels);

    /* distortion: d loss / d x_hat */
    nn_tensor *dcur = &s->d0, *dnext = &s->d1, *tmp;
    if (aec_model_resize_like(dcur, &s->x_hat)) return -1;
    size_t per = (size_t)3 * s->h * s->w;
    for (int i = 0; i < s->batch; i++) {
        float scale = (float)(m->arch.lambda[s->level[i]] * 255.0 * 255.0 / s->batch);
        nn_mse_backward(s->x_hat.data + per * i, s->x.data + per * i, dcur->data + per * i, per, scale);
    }
    /* synthesis */
    for (int i = 3; i >= 0; i--) {
        if (aec_model_resize_like(dnext, &s->gs_in[i])) return -1;
        if (deconv_backward(&m->gs[i], p, s->plans ? &s->plans[12 + i] : NULL, &s->gs_in[i], dcur,
                            dnext, s->plain_weight_grads, ws))
            return -1;
        tmp = dcur; dcur = dnext; dnext = tmp;
        if (i == 0) break;
        if (aec_model_resize_like(dnext, &s->gs_pre[i - 1])) return -1;
        if (nn_gdn_backward(&m->gs_igdn[i - 1], p, &s->gs_pre[i - 1], dcur, dnext, ws)) return -1;
        tmp = dcur; dcur = dnext; dnext = tmp;
    }
    /* dcur = d loss / d gs_in[0]; through inv gain to y_hat, then STE to y_g */
    if (aec_model_resize_like(&s->d_yg, &s->y)) return -1;
    scale_items_backward(&s->y_hat, dcur, &s->d_yg, ig, dig);

    /* rate of y: gradients to y_g (through the noise), mu and scale */
    if (aec_model_resize_like(&s->d_scale, &s->scale) || aec_model_resize_like(&s->d_mu, &s->mu) ||
        aec_model_resize_like(dnext, &s->y))
        return -1;
    nn_gaussian_bits_backward(&s->y_noisy, &s->mu, &s->scale, dbits, dnext, &s->d_mu, &s->d_scale);
    /* dnext = d / d y_noisy, which also feeds the context */
    if (aec_model_resize_like(dcur, &s->hs_params)) return -1;
    merge_params(&s->d_scale, &s->d_mu, dcur);
    if (entropy_params_backward(m, s, dcur, &s->d_hs, dnext, &s->d_mu)) return -1;
    nn_axpy(1.0f, dnext->data, s->d_yg.data, nn_tensor_numel(&s->y));

    /* hyper-synthesis */
    if (aec_model_resize_like(dnext, &s->hs_act[1])) return -1;
    if (nn_conv2d_backward(&m->hs_out, p, &s->hs_act[1], &s->d_hs, dnext, ws)) return -1;
    tmp = dcur; dcur = dnext; dnext = tmp;
    for (int i = 1; i >= 0; i--) {
        nn_leaky_relu_backward(s->hs_pre[i].data, dcur->data, dcur->data, nn_tensor_numel(dcur), LRELU_SLOPE);
        const nn_tensor *in = i == 0 ? &s->hs_in : &s->hs_act[0];
        if (aec_model_resize_like(dnext, in)) return -1;
        if (nn_deconv2d_backward(&m->hs_up[i], p, in, dcur, dnext, ws)) return -1;
        tmp = dcur; dcur = dnext; dnext = tmp;
    }
    /* dcur = d / d hs_in; through hinv gain to z_hat, STE to z_g */
    if (aec_model_resize_like(&s->d_zg, &s->z)) return -1;
    scale_items_backward(&s->z_hat, dcur, &s->d_zg, hig, dhig);
    /* rate of z through the noise */
    if (aec_model_resize_like(dnext, &s->z)) return -1;
    nn_factorized_bits_backward(&m->z_density, p, &s->z_noisy, dbits, dnext);
    nn_axpy(1.0f, dnext->data, s->d_zg.data, nn_tensor_numel(&s->z));
    /* through hgain to z */
    if (aec_model_resize_like(dcur, &s->z)) return -1;
    scale_items_backward(&s->z, &s->d_zg, dcur, hg, dhg);

    /* hyper-analysis */
    for (int i = 2; i >= 0; i--) {
        const nn_tensor *in = i == 0 ? &s->y_g : &s->ha_in[i];
        if (aec_model_resize_like(dnext, in)) return -1;
        if (nn_conv2d_backward(&m->ha[i], p, in, dcur, dnext, ws)) return -1;
        tmp = dcur; dcur = dnext; dnext = tmp;
        if (i == 0) break;
        nn_leaky_relu_backward(s->ha_pre[i - 1].data, dcur->data, dcur->data, nn_tensor_numel(dcur), LRELU_SLOPE);
    }
    nn_axpy(1.0f, dcur->data, s->d_yg.data, nn_tensor_numel(&s->y));
    /* through gain to y */
    if (aec_model_resize_like(dcur, &s->y)) return -1;
    scale_items_backward(&s->y, &s->d_yg, dcur, g, dg);

    /* analysis */
    for (int i = 3; i >= 0; i--) {
        const nn_tensor *in = i == 0 ? &s->x : &s->ga_in[i];
        nn_tensor *dx = NULL;
        if (i > 0) {
            if (aec_model_resize_like(dnext, in)) return -1;
            dx = dnext;
        }
        if (conv_backward(&m->ga[i], p, s->plans ? &s->plans[4 + i] : NULL, in, dcur, dx,
                          s->plain_weight_grads, ws))
            return -1;
        if (i == 0) break;
        tmp = dcur; dcur = dnext; dnext = tmp;
        if (aec_model_resize_like(dnext, &s->ga_pre[i - 1])) return -1;
        if (nn_gdn_backward(&m->ga_gdn[i - 1], p, &s->ga_pre[i - 1], dcur, dnext, ws)) return -1;
        tmp = dcur; dcur = dnext; dnext = tmp;
    }
    return 0;
}

/* p's gradient times share: one worker's mean gradient made its part of
 * a batch's (as the split's sum weighs each worker, the same float
 * products) */
static void scale_gradient(nn_params *p, float share)
{
    float *g = p->grad;
    const size_t n = p->count;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) g[i] = share * g[i];
}

int aec_model_train_split(aec_model *m, aec_train_state *s, int workers, float *const *grads)
{
    if (workers < 1 || workers > AEC_MAX_WORKERS) return -1;
    int total = 0;
    for (int w = 0; w < workers; w++) total += s[w].x.n;
    return aec_model_train_share(m, s, workers, grads, total);
}

int aec_model_train_share(aec_model *m, aec_train_state *s, int workers, float *const *grads,
                          int batch)
{
    if (workers < 1 || workers > AEC_MAX_WORKERS) return -1;
    int total = 0, failed = 0;
    for (int w = 0; w < workers; w++) total += s[w].x.n;
    if (total < 1 || batch < total) return -1;
    /* the step's plans, once for all the workers, in memory kept by the
     * first state from step to step (without them, when out of memory,
     * each pass makes its own) */
    if (!s[0].step_plans) s[0].step_plans = calloc(AEC_MODEL_PLANS, sizeof *s[0].step_plans);
    const nn_winograd_plan *plans =
        s[0].step_plans && aec_model_make_plans(m, s[0].step_plans) == 0 ? s[0].step_plans : NULL;
    for (int w = 0; w < workers; w++) s[w].plans = plans;
    if (workers == 1) {
        /* one state whose loops use every thread, straight into m->p.grad */
        nn_params_zero_grad(&m->p);
        failed = aec_model_train_forward(m, &s[0]) != 0 || aec_model_train_backward(m, &s[0]) != 0;
        s[0].plans = NULL;
        if (!failed && total < batch) scale_gradient(&m->p, (float)total / (float)batch);
        return failed ? -1 : 0;
    }
    /* Each worker is one thread: its OpenMP loops run serially inside
     * (omp_set_num_threads(1) for the regions it meets, whatever nesting the
     * user allows) and nn_gemm multiplies in the calling thread. Splitting
     * the batch this way keeps both cores busy through the many small
     * loops that do not scale across threads. */
#pragma omp parallel num_threads(workers) reduction(| : failed)
    {
        omp_set_num_threads(1);
        /* a team smaller than asked for (OMP_DYNAMIC, a thread limit)
         * still runs every worker */
        for (int w = omp_get_thread_num(); w < workers; w += omp_get_num_threads()) {
            if (s[w].x.n == 0) continue;
            aec_model view = *m;   /* the same weights, its own gradient buffer */
            view.p.grad = grads[w];
            memset(grads[w], 0, m->p.count * sizeof(float));
            failed |= aec_model_train_forward(&view, &s[w]) != 0 ||
                      aec_model_train_backward(&view, &s[w]) != 0;
        }
    }
    for (int w = 0; w < workers; w++) s[w].plans = NULL;
    if (failed) return -1;
    /* the loss is a mean over the batch: weigh each worker by its share
     * of it (idle workers' buffers are not read: they hold whatever they
     * held) */
    float share[AEC_MAX_WORKERS];
    const float *busy[AEC_MAX_WORKERS];
    int nb = 0;
    for (int w = 0; w < workers; w++)
        if (s[w].x.n > 0) {
            share[nb] = (float)s[w].x.n / (float)batch;
            busy[nb++] = grads[w];
        }
    float *g = m->p.grad;
    const size_t n = m->p.count;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = 0;
        for (int w = 0; w < nb; w++) v += share[w] * busy[w][i];
        g[i] = v;
    }
    return 0;
}
