/* codec/search.c - the encoder's latent search (search.h). */
#include "codec/search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"

#define RELAX_EPS 1e-4f

/* The temperature falls geometrically from TAU_START to TAU_END; Adam's
 * step, in quantisation steps, from SEARCH_LR linearly to a fifth of it.
 * Chosen on butterfly validation images by the bits saved at equal PSNR
 * over g_a's latents (qualities 0-100): a step of 0.015 saved more than
 * 0.03, or 0.01 for y with 0.03 for z, at 50 steps and (with the
 * refinement after it) at 16; ending the temperature at 0.06-0.15 saved
 * more than at 0.02. */
#define TAU_START 0.5
#define TAU_END 0.1
#define SEARCH_LR 0.015f

typedef struct {
    const aec_model *m;
    aec_train_state *s;
    const nn_tensor *x;
    int w, h;
    float ig[1024], hinv[1024];
    double lambda;
    nn_winograd_plan plans[8];   /* g_s forward [0, 4), input gradients [4, 8) */
    nn_tensor zt, jz;            /* relaxed z and d zt / d z */
    nn_tensor rt, jr, zero;      /* relaxed residual y - mu, d rt / d r, zero means */
    nn_tensor d_rt, d_zt, gz;    /* rate gradients; the gradient of z */
    nn_rng rng;
} search_ctx;

static int resize_like(nn_tensor *t, const nn_tensor *like)
{
    return nn_tensor_resize(t, like->n, like->c, like->h, like->w);
}

/* Logistic noise: the difference of two Gumbel samples. */
static float logistic(nn_rng *r)
{
    float u = nn_rng_uniform(r);
    u = u < 1e-6f ? 1e-6f : u;
    return logf(u) - log1pf(-u);
}

/* v relaxed at temperature tau (rounded when tau is 0), *dv its derivative.
 * Between f = floor(v) and f + 1 the relaxed Bernoulli choice gives f + p,
 * p = sigmoid((atanh(d) - atanh(1 - d)) / tau^2 + L / tau), d = v - f, L
 * logistic: the logits -atanh(d) / tau and -atanh(1 - d) / tau of the
 * two integers, at temperature tau. */
static float relax(float v, float tau, nn_rng *rng, float *dv)
{
    if (tau == 0.0f) {   /* halves away from zero, as the coder rounds */
        *dv = 0;
        return roundf(v);
    }
    const float f = floorf(v), d = v - f;
    const float dc = d < RELAX_EPS ? RELAX_EPS : d > 1 - RELAX_EPS ? 1 - RELAX_EPS : d;
    const float inv2 = 1.0f / (tau * tau);
    const float u = (atanhf(dc) - atanhf(1 - dc)) * inv2 + logistic(rng) / tau;
    const float p = 1.0f / (1.0f + expf(-u));
    *dv = d == dc ? p * (1 - p) * inv2 * (1 / (1 - dc * dc) + 1 / (1 - (1 - dc) * (1 - dc))) : 0;
    return f + p;
}

/* The loss of (yv, zv) with the roundings relaxed at tau (0: rounded as
 * the coder rounds), leaving what the backward pass reads in c and c->s. */
static int forward(search_ctx *c, const nn_tensor *yv, const nn_tensor *zv, float tau, double *loss)
{
    const aec_model *m = c->m;
    aec_train_state *s = c->s;
    if (resize_like(&c->zt, zv) || resize_like(&c->jz, zv) || resize_like(&s->hs_in, zv)) return -1;
    const size_t nz = nn_tensor_numel(zv), ny = nn_tensor_numel(yv);
    for (size_t k = 0; k < nz; k++) c->zt.data[k] = relax(zv->data[k], tau, &c->rng, &c->jz.data[k]);
    nn_channel_scale_forward(&c->zt, c->hinv, &s->hs_in);
    if (aec_model_hyper_synthesis_train_forward(m, s)) return -1;
    if (resize_like(&c->rt, yv) || resize_like(&c->jr, yv) || resize_like(&c->zero, yv) ||
        resize_like(&s->y_hat, yv) || resize_like(&s->gs_in[0], yv))
        return -1;
    nn_tensor_zero(&c->zero);
    for (size_t k = 0; k < ny; k++) {
        c->rt.data[k] = relax(yv->data[k] - s->mu.data[k], tau, &c->rng, &c->jr.data[k]);
        s->y_hat.data[k] = s->mu.data[k] + c->rt.data[k];
    }
    nn_channel_scale_forward(&s->y_hat, c->ig, &s->gs_in[0]);
    if (aec_model_synthesis_train_forward(m, s, c->plans)) return -1;
    const nn_tensor *x = c->x;
    const size_t plane = (size_t)x->h * x->w;
    double se = 0;
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < c->h; y++) {
            const float *a = s->x_hat.data + ch * plane + (size_t)y * x->w;
            const float *b = x->data + ch * plane + (size_t)y * x->w;
            for (int i = 0; i < c->w; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        }
    const double bits = nn_gaussian_bits(&c->rt, &c->zero, &s->scale) +
                        nn_factorized_bits(&m->z_density, &m->p, &c->zt);
    const double pixels = (double)c->w * c->h;
    *loss = bits / pixels + c->lambda * 255.0 * 255.0 * se / (3.0 * pixels);
    return 0;
}

/* The gradient of the last forward's loss: s->d_yg for y, c->gz for z. */
static int backward(search_ctx *c)
{
    const aec_model *m = c->m;
    aec_train_state *s = c->s;
    const nn_tensor *x = c->x;
    const double pixels = (double)c->w * c->h;
    const float dbits = (float)(1.0 / pixels);
    nn_params view = m->p;
    view.grad = NULL;
    /* distortion, on the image's pixels (the padding costs nothing) */
    nn_tensor *dcur = &s->d0, *dnext = &s->d1;
    if (resize_like(dcur, &s->x_hat)) return -1;
    nn_tensor_zero(dcur);
    const size_t plane = (size_t)x->h * x->w;
    const float k = (float)(2.0 * c->lambda * 255.0 * 255.0 / (3.0 * pixels));
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < c->h; y++) {
            const size_t at = ch * plane + (size_t)y * x->w;
            for (int i = 0; i < c->w; i++) dcur->data[at + i] = k * (s->x_hat.data[at + i] - x->data[at + i]);
        }
    if (aec_model_synthesis_backward_input(m, s, c->plans + 4, &dcur, &dnext)) return -1;
    nn_channel_scale_forward(dcur, c->ig, dcur);   /* now d loss / d y^ */
    /* the rate of y: y^ = mu + rt, rt = relax(y - mu) */
    if (resize_like(&c->d_rt, &c->rt) || resize_like(&s->d_scale, &s->scale) ||
        resize_like(&s->d_mu, &s->mu) || resize_like(&s->d_yg, &c->rt))
        return -1;
    nn_gaussian_bits_backward(&c->rt, &c->zero, &s->scale, dbits, &c->d_rt, NULL, &s->d_scale);
    const size_t ny = nn_tensor_numel(&c->rt);
    for (size_t q = 0; q < ny; q++) {
        /* below the scale's lower bound the loss does not change with it:
         * the gradient training lets through there is not the search's */
        if (s->scale.data[q] < NN_SCALE_MIN) s->d_scale.data[q] = 0;
        const float d_rt = c->d_rt.data[q] + dcur->data[q];
        s->d_yg.data[q] = c->jr.data[q] * d_rt;
        s->d_mu.data[q] = dcur->data[q] - c->jr.data[q] * d_rt;
    }
    /* the hyper-synthesis' output: scale then mu */
    if (resize_like(&s->d_hs, &s->hs_params)) return -1;
    memcpy(s->d_hs.data, s->d_scale.data, ny * sizeof(float));
    memcpy(s->d_hs.data + ny, s->d_mu.data, ny * sizeof(float));
    if (aec_model_hyper_synthesis_backward_input(m, s, &s->d_hs, &s->d_zg)) return -1;
    if (resize_like(&c->d_zt, &c->zt) || resize_like(&c->gz, &c->zt)) return -1;
    nn_factorized_bits_backward(&m->z_density, &view, &c->zt, dbits, &c->d_zt);
    const size_t plane_z = (size_t)c->zt.h * c->zt.w, nz = nn_tensor_numel(&c->zt);
    for (size_t q = 0; q < nz; q++)
        c->gz.data[q] = c->jz.data[q] * (s->d_zg.data[q] * c->hinv[q / plane_z] + c->d_zt.data[q]);
    return 0;
}

/* Zeroes the gradient g [1][C][H][W] outside the cells of keep (in
 * hyper-latents, `per` cells of g a side each), so that Adam never moves
 * them (its moments stay zero there). */
static void freeze_outside(nn_tensor *g, const aec_search_keep *keep, int per)
{
    for (int ch = 0; ch < g->c; ch++)
        for (int y = 0; y < g->h; y++)
            for (int x = 0; x < g->w; x++)
                if (y < per * keep->y0 || y >= per * keep->y1 || x < per * keep->x0 || x >= per * keep->x1)
                    g->data[((size_t)ch * g->h + y) * g->w + x] = 0;
}

typedef struct {
    float *m1, *v1;
} adam_moments;

static void adam_step(float *v, const float *g, adam_moments *a, size_t n, float lr, int it)
{
    const float b1 = 0.9f, b2 = 0.999f;
    const float c1 = 1.0f - powf(b1, (float)(it + 1)), c2 = 1.0f - powf(b2, (float)(it + 1));
    for (size_t q = 0; q < n; q++) {
        a->m1[q] = b1 * a->m1[q] + (1 - b1) * g[q];
        a->v1[q] = b2 * a->v1[q] + (1 - b2) * g[q] * g[q];
        v[q] -= lr * (a->m1[q] / c1) / (sqrtf(a->v1[q] / c2) + 1e-8f);
    }
}

static void search_ctx_free(search_ctx *c)
{
    for (int i = 0; i < 8; i++) nn_winograd_plan_free(&c->plans[i]);
    nn_tensor *t[] = {&c->zt, &c->jz, &c->rt, &c->jr, &c->zero, &c->d_rt, &c->d_zt, &c->gz};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) nn_tensor_free(t[i]);
}

/* Checks the shapes and sets c up for them (its plans made). 0, or -1. */
static int search_ctx_init(search_ctx *c, const aec_model *m, aec_train_state *s, const nn_tensor *x,
                           int w, int h, float t, const nn_tensor *y_g, const nn_tensor *z_g,
                           uint64_t seed)
{
    memset(c, 0, sizeof *c);
    const int M = m->arch.m, N = m->arch.n;
    if (m->arch.context || m->decoder_only || M > 1024 || N > 1024 || y_g->n != 1 || y_g->c != M ||
        z_g->n != 1 || z_g->c != N || 4 * z_g->h != y_g->h || 4 * z_g->w != y_g->w || x->n != 1 ||
        x->c != 3 || x->h != 16 * y_g->h || x->w != 16 * y_g->w || w < 1 || h < 1 || w > x->w ||
        h > x->h)
        return -1;
    c->m = m;
    c->s = s;
    c->x = x;
    c->w = w;
    c->h = h;
    c->lambda = aec_model_lambda(&m->arch, t);
    aec_model_gains(m, t, NULL, c->ig, NULL, c->hinv);
    nn_rng_seed(&c->rng, seed);
    for (int i = 0; i < 8; i++)
        if (nn_deconv2d_winograd_plan(&m->gs[i % 4], &m->p, i / 4, &c->plans[i])) {
            search_ctx_free(c);
            return -1;
        }
    return 0;
}

int aec_search_loss(const aec_model *m, aec_train_state *s, const nn_tensor *x, int w, int h,
                    float t, const nn_tensor *y_g, const nn_tensor *z_g, float tau, uint64_t seed,
                    double *loss, nn_tensor *dy, nn_tensor *dz)
{
    search_ctx c;
    if (search_ctx_init(&c, m, s, x, w, h, t, y_g, z_g, seed)) return -1;
    int ret = -1;
    if (forward(&c, y_g, z_g, tau, loss)) goto done;
    if (dy || dz) {
        if (backward(&c) || (dy && nn_tensor_copy(dy, &s->d_yg)) || (dz && nn_tensor_copy(dz, &c.gz)))
            goto done;
    }
    ret = 0;
done:
    search_ctx_free(&c);
    return ret;
}

int aec_search_latents(const aec_model *m, aec_train_state *s, const nn_tensor *x, int w, int h,
                       float t, nn_tensor *y_g, nn_tensor *z_g, const aec_search_opts *o,
                       double *gain)
{
    if (gain) *gain = 0;
    search_ctx c;
    if (search_ctx_init(&c, m, s, x, w, h, t, y_g, z_g, o->seed)) return -1;
    const size_t ny = nn_tensor_numel(y_g), nz = nn_tensor_numel(z_g);
    float *start_y = malloc(ny * sizeof *start_y), *start_z = malloc(nz * sizeof *start_z);
    adam_moments ay = {calloc(ny, sizeof(float)), calloc(ny, sizeof(float))};
    adam_moments az = {calloc(nz, sizeof(float)), calloc(nz, sizeof(float))};
    int ret = -1;
    if (!start_y || !start_z || !ay.m1 || !ay.v1 || !az.m1 || !az.v1) goto done;
    memcpy(start_y, y_g->data, ny * sizeof *start_y);
    memcpy(start_z, z_g->data, nz * sizeof *start_z);
    double start_loss, end_loss, loss;
    if (forward(&c, y_g, z_g, 0, &start_loss)) goto done;
    for (int it = 0; it < o->steps; it++) {
        const double frac = o->steps > 1 ? (double)it / (o->steps - 1) : 1.0;
        const float tau = (float)(TAU_START * pow(TAU_END / TAU_START, frac));
        if (forward(&c, y_g, z_g, tau, &loss) || backward(&c)) goto done;
        const float decay = (float)(1.0 - 0.8 * frac);
        if (o->keep_only) {
            freeze_outside(&s->d_yg, &o->keep, 4);
            freeze_outside(&c.gz, &o->keep, 1);
        }
        adam_step(y_g->data, s->d_yg.data, &ay, ny, SEARCH_LR * decay, it);
        adam_step(z_g->data, c.gz.data, &az, nz, SEARCH_LR * decay, it);
    }
    if (forward(&c, y_g, z_g, 0, &end_loss)) goto done;
    if (end_loss < start_loss) {
        if (gain) *gain = 1.0 - end_loss / start_loss;
    } else {
        memcpy(y_g->data, start_y, ny * sizeof *start_y);
        memcpy(z_g->data, start_z, nz * sizeof *start_z);
    }
    ret = 0;
done:
    search_ctx_free(&c);
    free(start_y);
    free(start_z);
    free(ay.m1);
    free(ay.v1);
    free(az.m1);
    free(az.v1);
    return ret;
}
