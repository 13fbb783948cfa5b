/* tests/latent_stats.c - what a spatial context could tell the entropy
 * model, measured on a model's own latents (the numbers in the model
 * card's "Architecture experiment" section).
 *
 *   make build/tests/latent_stats
 *   build/tests/latent_stats MODEL DIR T [IMAGES]
 *
 * For the first IMAGES (default 10) PNGs of DIR at level position T, with
 * the float evaluation path (aec_model_eval: rounded latents, the model's
 * own (mu, scale), a context model's two passes), prints:
 *   - the estimated bits per latent of the anchors (row + column even) and
 *     of the others, and their ratio (a context that helps makes the
 *     others cheaper; without one the ratio is 1 up to noise);
 *   - over the non-anchors, the correlation of the normalised residual
 *     e = (y^ - mu) / scale with its four neighbours' mean e, and of |e|
 *     with their mean |e|;
 *   - an oracle: the non-anchors' bits when each Gaussian is rescaled by the
 *     best of 13 factors 2^(k/4), k = -6..6, chosen per bin of the four
 *     neighbours' mean |y^ - mu| (10 bins), against the model's own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/model_file.h"
#include "nn/likelihood.h"
#include "tools/imageio/png_io.h"
#include "tools/train/dataset.h"

#define BINS 10
#define FACTORS 13

/* -log2 of the discretised Gaussian's mass of the unit bin around x */
static double gauss_bits(double x, double mu, double s)
{
    if (s < NN_SCALE_MIN) s = NN_SCALE_MIN;
    double u = (x - mu + 0.5) / s, l = (x - mu - 0.5) / s;
    double p = 0.5 * erfc(-u / sqrt(2.0)) - 0.5 * erfc(-l / sqrt(2.0));
    return -log2(p > 1e-9 ? p : 1e-9);
}

typedef struct {
    double n, sx, sy, sxx, syy, sxy;
} corr_acc;

static void corr_add(corr_acc *a, double x, double y)
{
    a->n += 1; a->sx += x; a->sy += y; a->sxx += x * x; a->syy += y * y; a->sxy += x * y;
}

static double corr_of(const corr_acc *a)
{
    double cx = a->sxx / a->n - (a->sx / a->n) * (a->sx / a->n);
    double cy = a->syy / a->n - (a->sy / a->n) * (a->sy / a->n);
    return (a->sxy / a->n - (a->sx / a->n) * (a->sy / a->n)) / sqrt(cx * cy);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL DIR T [IMAGES]\n", argv[0]);
        return 2;
    }
    char err[512];
    aec_model m;
    aec_dataset data;
    if (aec_model_load(argv[1], &m, NULL, err, sizeof err) ||
        aec_dataset_load(&data, argv[2], 1, err, sizeof err)) {
        fprintf(stderr, "latent_stats: %s\n", err);
        return 1;
    }
    const float t = (float)atof(argv[3]);
    const int images = argc > 4 ? atoi(argv[4]) : 10;
    static const double edges[BINS] = {0, 0.01, 0.26, 0.51, 0.76, 1.01, 1.51, 2.01, 3.01, 5.01};
    static const int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
    double bits[2] = {0, 0}, count[2] = {0, 0}, oracle[BINS][FACTORS] = {{0}};
    corr_acc mean_acc = {0}, mag_acc = {0};
    aec_train_state s;
    aec_train_state_init(&s, 1);
    nn_tensor x_hat = {0};
    int done = 0;
    for (int i = 0; i < data.count && done < images; i++, done++) {
        float *planar;
        int pw, ph;
        if (aec_image_to_planar(data.rgb[i], data.width[i], data.height[i], 64, &planar, &pw, &ph))
            return 1;
        nn_tensor x = {1, 3, ph, pw, planar};
        if (aec_model_eval(&m, &s, &x, t, &x_hat) < 0) return 1;
        const int C = s.y_hat.c, H = s.y_hat.h, W = s.y_hat.w;
#define AT(c, y, x) (((size_t)(c) * H + (size_t)(y)) * W + (size_t)(x))
#define RES(k) ((double)s.y_hat.data[k] - s.mu.data[k])
#define SC(k) fmax((double)s.scale.data[k], NN_SCALE_MIN)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++) {
                    const size_t k = AT(c, y, xx);
                    const int other = (y + xx) & 1;
                    const double b = gauss_bits(s.y_hat.data[k], s.mu.data[k], s.scale.data[k]);
                    bits[other] += b;
                    count[other] += 1;
                    if (!other) continue;
                    double e_sum = 0, mag_sum = 0, r_sum = 0;
                    int n = 0;
                    for (int q = 0; q < 4; q++) {
                        const int y2 = y + dy[q], x2 = xx + dx[q];
                        if (y2 < 0 || y2 >= H || x2 < 0 || x2 >= W) continue;
                        const size_t k2 = AT(c, y2, x2);
                        e_sum += RES(k2) / SC(k2);
                        mag_sum += fabs(RES(k2) / SC(k2));
                        r_sum += fabs(RES(k2));
                        n++;
                    }
                    if (!n) continue;
                    corr_add(&mean_acc, e_sum / n, RES(k) / SC(k));
                    corr_add(&mag_acc, mag_sum / n, fabs(RES(k) / SC(k)));
                    int bin = 0;
                    while (bin + 1 < BINS && r_sum / n >= edges[bin + 1]) bin++;
                    for (int f = 0; f < FACTORS; f++)
                        oracle[bin][f] += gauss_bits(s.y_hat.data[k], s.mu.data[k],
                                                     SC(k) * pow(2.0, (f - 6) / 4.0));
                }
        free(planar);
    }
    double own = 0, best = 0;
    for (int b = 0; b < BINS; b++) {
        int fb = 6;
        for (int f = 0; f < FACTORS; f++)
            if (oracle[b][f] < oracle[b][fb]) fb = f;
        own += oracle[b][6];
        best += oracle[b][fb];
        printf("  neighbours' mean |r| >= %.2f: best scale factor %.2f, %.0f -> %.0f bits\n", edges[b],
               pow(2.0, (fb - 6) / 4.0), oracle[b][6], oracle[b][fb]);
    }
    printf("%s at t %.2f, %d images: anchors %.4f bits/latent, others %.4f (ratio %.3f)\n", argv[1],
           t, done, bits[0] / count[0], bits[1] / count[1], (bits[1] / count[1]) / (bits[0] / count[0]));
    printf("  non-anchors: corr(e, neighbours' mean e) %.3f, corr(|e|, neighbours' mean |e|) %.3f\n",
           corr_of(&mean_acc), corr_of(&mag_acc));
    printf("  oracle scale per neighbour bin: %.2f%% of the non-anchors' bits, %.2f%% of all\n",
           100 * (own - best) / own, 100 * (own - best) / (bits[0] + bits[1]));
    nn_tensor_free(&x_hat);
    aec_train_state_free(&s);
    aec_dataset_free(&data);
    aec_model_free(&m);
    return 0;
}
