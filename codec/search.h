/* codec/search.h - the encoder's latent search.
 *
 * The decoder reads whatever latents the file carries, so the encoder is
 * free to send better ones than the analysis transform's guess. The search
 * optimises the gained latent y_g and the gained hyper-latent z_g of one
 * image together for the loss the coder pays,
 *
 *   loss = (bits(y^ | mu, scale) + bits(z^)) / (w h) + lambda(t) 255^2 mse(x^, x)
 *   z^ = round(z_g), (scale, mu) = h_s(z^ hinv), y^ = mu + round(y_g - mu),
 *   x^ = g_s(y^ inv),
 *
 * with the roundings relaxed by stochastic Gumbel annealing (Yang, Bamler
 * and Mandt 2020, "Improving Inference for Neural Image Compression"): a
 * value v between the integers f and f + 1 becomes f + p, with p a sample
 * of a relaxed Bernoulli choice between them whose logits,
 * -atanh(v - f) / tau and -atanh(f + 1 - v) / tau, favour the nearer
 * integer, at a temperature tau that falls geometrically over the search,
 * so the relaxation tightens into rounding. The gradient passes through p;
 * Adam moves y_g and z_g. The rates use the float hyper-synthesis and the
 * model's densities; the coder then rounds the result with the integer
 * hyper-synthesis the decoder runs, so the file is exact whatever the
 * search did. */
#ifndef AEC_SEARCH_H
#define AEC_SEARCH_H

#include "codec/model.h"

/* Hyper-latent rows y0..y1-1 and columns x0..x1-1. */
typedef struct {
    int y0, y1, x0, x1;
} aec_search_keep;

typedef struct {
    int steps;       /* Adam steps */
    uint64_t seed;   /* the relaxation's noise */
    /* nonzero: only the hyper-latents of `keep` and their latents (4x4
     * each) move; the rest, a crop's margin around a tile, stay as they
     * came */
    int keep_only;
    aec_search_keep keep;
} aec_search_opts;

/* For one image x [1][3][H][W] (padded planar; its first h rows and w
 * columns are the image) at level position t: y_g [1][M][H/16][W/16] and
 * z_g [1][N][H/64][W/64] (aec_model_analyze's s->y_g and s->z_g) are
 * searched in place. They end at the search's result if its hard loss
 * (rounded as the coder rounds, with the float hyper-synthesis) is below
 * the starting one's, else they are left as they came (on -1 they may be
 * anywhere in between); *gain (may be NULL)
 * receives 1 - end / start hard loss (0 when the start was kept). Uses s's
 * training buffers; the model is not changed. Models with a context model
 * are refused. 0, or -1 (bad shapes, a context model, out of memory). */
int aec_search_latents(const aec_model *m, aec_train_state *s, const nn_tensor *x, int w, int h,
                       float t, nn_tensor *y_g, nn_tensor *z_g, const aec_search_opts *o,
                       double *gain);

/* One evaluation of the search's loss at (y_g, z_g), the roundings relaxed
 * at temperature tau (0: rounded as the coder rounds) with the noise of
 * `seed`, and its gradient into dy and dz (each may be NULL; resized to
 * y_g's and z_g's shapes): what the search's steps compute, for checking
 * against finite differences. 0, or -1. */
int aec_search_loss(const aec_model *m, aec_train_state *s, const nn_tensor *x, int w, int h,
                    float t, const nn_tensor *y_g, const nn_tensor *z_g, float tau, uint64_t seed,
                    double *loss, nn_tensor *dy, nn_tensor *dz);

#endif
