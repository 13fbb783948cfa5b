/* tests/transform_ceiling.c - the highest quality a model's transforms can
 * give, whatever the rate (the numbers in the model card's "Known limits").
 *
 *   make build/tests/transform_ceiling
 *   build/tests/transform_ceiling MODEL DIR [IMAGES]
 *
 * For the first IMAGES (default 40) images of DIR, the mean PSNR of
 * g_s(g_a(x)) with the float transforms, the latent not rounded (the gain
 * and inverse gain of the top level applied, as the decoder sees it), and
 * rounded at each rate level. The rate levels cannot climb above the
 * unrounded figure: when the top level is close to it, more bits buy
 * little, and only better transforms (wider, or trained longer) raise it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/model_file.h"
#include "codec/psnr.h"
#include "tools/train/dataset.h"

/* PSNR of x_hat (clamped, rounded to 8 bits) against the w x h image in
 * the top-left corner of the padded planar x */
static double psnr_of(const nn_tensor *x_hat, const nn_tensor *x, int w, int h)
{
    double se = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int i = 0; i < w; i++) {
                size_t k = ((size_t)c * x->h + y) * x->w + i;
                double v = fmin(fmax(x_hat->data[k], 0.0), 1.0);
                double d = round(v * 255.0) - round(x->data[k] * 255.0);
                se += d * d;
            }
    double mse = se / (3.0 * w * h);
    return aec_psnr_mse(mse);
}

/* y_hat = (round(y * gain) if rounded, else y * gain) * inv_gain, at level l */
static void gained(const aec_model *m, const nn_tensor *y, nn_tensor *y_hat, int l, int rounded)
{
    const int M = m->arch.m;
    const float *g = m->p.value + m->gain + (size_t)l * M;
    const float *ig = m->p.value + m->inv_gain + (size_t)l * M;
    const size_t hw = (size_t)y->h * y->w;
    for (int c = 0; c < M; c++)
        for (size_t i = 0; i < hw; i++) {
            float v = y->data[c * hw + i] * g[c];
            y_hat->data[c * hw + i] = (rounded ? roundf(v) : v) * ig[c];
        }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL DIR [IMAGES]\n", argv[0]);
        return 2;
    }
    char err[512];
    aec_model m;
    aec_dataset data;
    if (aec_model_load(argv[1], &m, NULL, err, sizeof err) ||
        aec_dataset_load(&data, argv[2], 64, err, sizeof err)) {
        fprintf(stderr, "transform_ceiling: %s\n", err);
        return 1;
    }
    const int images = argc > 3 ? atoi(argv[3]) : 40, L = m.arch.levels;
    double *sum = calloc((size_t)L + 1, sizeof *sum);   /* [0, L) rounded, L not */
    nn_tensor y = {0}, y_hat = {0}, x_hat = {0};
    nn_workspace ws = {0};
    if (!sum) return 1;
    int done = 0;
    for (; done < data.count && done < images; done++) {
        float *planar;
        int pw, ph;
        const int w = data.width[done], h = data.height[done];
        if (aec_image_to_planar(data.rgb[done], w, h, 64, &planar, &pw, &ph)) return 1;
        nn_tensor x = {1, 3, ph, pw, planar};
        nn_tensor_free(&y);
        if (aec_model_analysis(&m, &x, &y, &ws) || nn_tensor_resize(&y_hat, 1, y.c, y.h, y.w))
            return 1;
        for (int l = 0; l <= L; l++) {
            gained(&m, &y, &y_hat, l < L ? l : L - 1, l < L);
            nn_tensor_free(&x_hat);
            if (aec_model_synthesis(&m, &y_hat, &x_hat, &ws)) return 1;
            sum[l] += psnr_of(&x_hat, &x, w, h);
        }
        free(planar);
    }
    if (!done) {
        fprintf(stderr, "transform_ceiling: %s: no image\n", argv[2]);
        return 1;
    }
    printf("%s: %d images of %s, N=%d M=%d\n", argv[1], done, argv[2], m.arch.n, m.arch.m);
    for (int l = 0; l < L; l++)
        printf("  level %2d (lambda %g): %.2f dB rounded\n", l, m.arch.lambda[l], sum[l] / done);
    printf("  not rounded: %.2f dB\n", sum[L] / done);
    free(sum);
    nn_tensor_free(&y);
    nn_tensor_free(&y_hat);
    nn_tensor_free(&x_hat);
    nn_workspace_free(&ws);
    aec_dataset_free(&data);
    aec_model_free(&m);
    return 0;
}
