/* tests/test_widen.c - a model given more latent channels
 * (aec_model_widen, aec train --init MODEL --m M2): the widened model
 * decodes every quality to the narrow model's pixels, its new channels
 * reach no pixel yet but get a gradient from the first training step, and
 * the widenings it cannot do are refused. */
#include <string.h>

#include "codec/codec.h"
#include "tests/check.h"
#include "tests/tiny_codec.h"
#include "tools/train/model_train.h"

#define WIDE_M 20

/* Encodes rgb at quality q with effort 0 (no search, so that both models
 * send g_a's own latent) and decodes it; NULL on failure. */
static uint8_t *round_trip(const aec_codec *c, const uint8_t *rgb, int w, int h, double q,
                           size_t *coded)
{
    char err[256];
    uint8_t *file = NULL, *out = NULL;
    int ow = 0, oh = 0;
    if (aec_encode(c, rgb, w, h, q, &file, coded, err, sizeof err)) {
        CHECK(0, "encode at quality %g: %s", q, err);
        return NULL;
    }
    int rc = aec_decode(c, file, *coded, &out, &ow, &oh, err, sizeof err);
    free(file);
    CHECK(rc == 0 && ow == w && oh == h, "decode at quality %g: %s", q, rc ? err : "size");
    if (rc) return NULL;
    return out;
}

static void test_same_pixels(void)
{
    aec_model narrow, copy, wide;
    if (tiny_model(&narrow, 7) || tiny_model(&copy, 7)) abort();
    CHECK(aec_model_widen(&wide, &copy, WIDE_M, 3) == 0, "widen M %d -> %d", TINY_M, WIDE_M);
    aec_model_free(&copy);
    CHECK(wide.arch.m == WIDE_M && wide.arch.n == TINY_N, "the widened arch");

    /* g_s reads nothing from the new channels */
    const nn_param_entry *e = nn_params_find(&wide.p, "g_s.deconv0.weight");
    CHECK(e != NULL, "g_s.deconv0.weight declared");
    if (!e) abort();
    const size_t per_input = e->count / WIDE_M;   /* [cin][cout][k][k] */
    int nonzero = 0;
    for (size_t k = (size_t)TINY_M * per_input; k < e->count; k++)
        nonzero += wide.p.value[e->offset + k] != 0;
    CHECK(nonzero == 0, "g_s's weights from the new channels are 0 (%d are not)", nonzero);

    char err[256];
    aec_codec cn, cw;
    CHECK(tiny_codec_from(&cn, &narrow, err, sizeof err) == 0, "narrow codec: %s", err);
    CHECK(tiny_codec_from(&cw, &wide, err, sizeof err) == 0, "wide codec: %s", err);
    aec_codec_set_effort(&cn, 0);
    aec_codec_set_effort(&cw, 0);
    const int w = 80, h = 72;
    uint8_t *rgb = tiny_smooth_image(w, h, 2);
    if (!rgb) abort();
    const double qualities[] = {0, 37.5, 80, 100};
    for (int i = 0; i < 4; i++) {
        size_t bytes_n = 0, bytes_w = 0;   /* sizes may differ: the tables are refitted */
        uint8_t *pn = round_trip(&cn, rgb, w, h, qualities[i], &bytes_n);
        uint8_t *pw = round_trip(&cw, rgb, w, h, qualities[i], &bytes_w);
        CHECK(pn && pw && !memcmp(pn, pw, (size_t)w * h * 3),
              "quality %g: the widened model decodes to the narrow one's pixels", qualities[i]);
        free(pn);
        free(pw);
    }
    free(rgb);
    aec_codec_free(&cn);
    aec_codec_free(&cw);
}

/* One training step's gradient reaches g_s's weights from the new
 * channels: without it they would stay 0 and the new channels useless. */
static void test_new_channels_learn(void)
{
    aec_model narrow, wide;
    if (tiny_model(&narrow, 9)) abort();
    CHECK(aec_model_widen(&wide, &narrow, WIDE_M, 4) == 0, "widen");
    aec_train_state s;
    aec_train_state_init(&s, 5);
    const int side = 64;
    uint8_t *rgb = tiny_smooth_image(side, side, 3);
    if (!rgb || nn_tensor_alloc(&s.x, 1, 3, side, side)) abort();
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < side * side; i++) s.x.data[(size_t)c * side * side + i] = rgb[i * 3 + c] / 255.0f;
    s.level[0] = wide.arch.levels - 1;
    nn_params_zero_grad(&wide.p);
    CHECK(aec_model_train_forward(&wide, &s) == 0 && aec_model_train_backward(&wide, &s) == 0,
          "a training step of the widened model");
    const nn_param_entry *e = nn_params_find(&wide.p, "g_s.deconv0.weight");
    const size_t per_input = e->count / WIDE_M;
    double sum = 0;
    for (size_t k = (size_t)TINY_M * per_input; k < e->count; k++)
        sum += fabs(wide.p.grad[e->offset + k]);
    CHECK(sum > 0, "g_s's weights from the new channels have a gradient");
    free(rgb);
    aec_train_state_free(&s);
    aec_model_free(&wide);
    aec_model_free(&narrow);
}

static void test_refusals(void)
{
    aec_model m, w;
    if (tiny_model(&m, 1)) abort();
    CHECK(aec_model_widen(&w, &m, TINY_M - 2, 1) == -1, "narrowing refused");
    aec_model_free(&m);
    if (tiny_model_context(&m, 1)) abort();
    CHECK(aec_model_widen(&w, &m, WIDE_M, 1) == -1, "a context model refused");
    aec_model_free(&m);
}

int main(void)
{
    test_same_pixels();
    test_new_channels_learn();
    test_refusals();
    return check_report("test_widen");
}
