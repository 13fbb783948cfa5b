/* tests/test_spec_example.c - the spec's worked examples and definitions
 * are what the code does, read from the documents at test time:
 *
 * - spec/aec-format.md's example file: the hex dump in its ```hex block is
 *   parsed as a container and its stream decoded to the documented values;
 *   encoding those values again reproduces the dump byte for byte.
 * - spec/model-format.md's example synthesis layer: its input, weights and
 *   stored inverse-GDN parameters are read from the document, run through
 *   the reference's layers (nn/conv2d.c, nn/deconv_winograd.c, nn/gdn.c)
 *   and give the documented outputs; a naive implementation of the spec's
 *   formulas gives them too, and each reading the spec rules out does not.
 * - the whole g_s of a small model, through codec/model.c, against the
 *   naive implementation of "Synthesis transform" and step 7 of the latent
 *   layout's reconstruction.
 * - the model id of a small coding-ready model, recomputed from its .aecm
 *   bytes by "Model identity" alone (its 15 parameters named in the spec's
 *   order). */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/cdf_tables.h"
#include "codec/codec.h"
#include "codec/container.h"
#include "codec/model.h"
#include "codec/rangecoder.h"
#include "nn/conv2d.h"
#include "nn/crc32.h"
#include "nn/deconv_winograd.h"
#include "nn/gdn.h"
#include "nn/rng.h"
#include "tests/check.h"
#include "tests/tiny_codec.h"

#define SPEC_NAME "spec/aec-format.md"
#define MODEL_SPEC_NAME "spec/model-format.md"
#define MAX_DUMP 4096

/* the example as the document states it */
static const int32_t example_values[8] = {0, 1, -1, 0, 2, 7, 0, -5};
static const uint32_t example_cdf[7] = {0, 4096, 16384, 49152, 61440, 64512, 65536};
static const uint8_t example_model[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

/* A spec file (name relative to the repository root) from the working
 * directory (make runs tests from the repository root) or env_name's
 * value, else next to this source file. */
static char *read_spec(const char *name, const char *env_name, size_t *len)
{
    const char *candidates[3] = {getenv(env_name), name, NULL};
    char beside[512];
    const char *slash = strrchr(__FILE__, '/');
    if (slash) {
        snprintf(beside, sizeof beside, "%.*s/../%s", (int)(slash - __FILE__), __FILE__, name);
        candidates[2] = beside;
    }
    for (int i = 0; i < 3; i++) {
        if (!candidates[i]) continue;
        FILE *f = fopen(candidates[i], "rb");
        if (!f) continue;
        char *text = NULL;
        size_t cap = 0, n = 0;
        for (;;) {
            if (n + 4096 + 1 > cap) {
                cap = cap ? 2 * cap : 65536;
                char *grown = realloc(text, cap);
                if (!grown) break;
                text = grown;
            }
            size_t got = fread(text + n, 1, cap - n - 1, f);
            n += got;
            if (got == 0) break;
        }
        fclose(f);
        if (!text) return NULL;
        text[n] = 0;
        *len = n;
        return text;
    }
    return NULL;
}

static int hex_digit(int c)
{
    return isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* The bytes of the first fenced block opened by "```hex": lines of a hex
 * offset then two-digit hex bytes. Returns the count, or -1 when there is
 * no such block or a line is malformed (or its offset is wrong). */
static long extract_hex_block(const char *text, uint8_t *out, size_t cap)
{
    const char *p = strstr(text, "\n```hex\n");
    if (!p) return -1;
    p += strlen("\n```hex\n");
    size_t n = 0;
    while (*p && strncmp(p, "```", 3) != 0) {
        const char *eol = strchr(p, '\n');
        if (!eol) return -1;
        char *after;
        unsigned long offset = strtoul(p, &after, 16);
        if (after == p || offset != n) return -1;
        for (const char *q = after; q < eol;) {
            if (*q == ' ') {
                q++;
                continue;
            }
            int hi = hex_digit(q[0]), lo = q + 1 < eol ? hex_digit(q[1]) : -1;
            if (hi < 0 || lo < 0 || (q + 2 < eol && q[2] != ' ') || n >= cap) return -1;
            out[n++] = (uint8_t)(hi << 4 | lo);
            q += 2;
        }
        p = eol + 1;
    }
    return *p ? (long)n : -1;
}

/* spec/aec-format.md's worked example: the file and its stream */
static void container_example(const char *spec)
{
    static uint8_t dump[MAX_DUMP];
    long n = extract_hex_block(spec, dump, sizeof dump);
    CHECK(n > 0, "no readable ```hex block in %s", SPEC_NAME);
    CHECK(strstr(spec, "`0, 1, -1, 0, 2, 7, 0, -5`") != NULL,
          "the document no longer states the example's values");
    CHECK(strstr(spec, "cdf = [0, 4096, 16384, 49152, 61440, 64512, 65536]") != NULL,
          "the document no longer states the example's table");
    CHECK(strstr(spec, "## Latent layout") != NULL, "Latent layout section missing");
    if (n <= 0) return;

    /* the container */
    aec_container c;
    char err[200] = "";
    int rc = aec_container_parse(dump, (size_t)n, example_model, &c, err, sizeof err);
    CHECK(rc == AEC_CONTAINER_OK, "the example does not parse: %s", err);
    CHECK(c.width == 4 && c.height == 2 && c.quality_x100 == 7550 && c.layout == AEC_LAYOUT_RGB &&
              c.n_streams == 1,
          "header fields %ux%u q%u layout %u streams %u", c.width, c.height, c.quality_x100,
          c.layout, c.n_streams);

    /* its stream */
    uint32_t length = 5;
    aec_cdf_set set;
    CHECK(aec_cdf_set_alloc(&set, AEC_CDF_KIND_INDEXED, 1, &length) == 0, "alloc");
    memcpy(set.tables[0].cdf, example_cdf, sizeof example_cdf);
    set.tables[0].offset = -2;
    CHECK(aec_cdf_set_validate(&set, err, sizeof err) == 0, "example table: %s", err);
    if (rc == AEC_CONTAINER_OK) {
        aec_rc_decoder dec;
        aec_rc_decoder_init(&dec, c.stream[0], c.stream_len[0]);
        for (int i = 0; i < 8; i++) {
            int32_t v;
            int drc = aec_rc_decode(&dec, &set.tables[0], &v);
            CHECK(drc == AEC_RC_OK && v == example_values[i], "value %d: %d (%s), documented %d",
                  i, v, aec_rc_strerror(drc), example_values[i]);
        }
        CHECK(aec_rc_decoder_finish(&dec) == AEC_RC_OK && dec.pos == 8,
              "end of stream: %s, pos %zu", aec_rc_strerror(aec_rc_decoder_finish(&dec)),
              dec.pos);
    }

    /* and back: the encoder reproduces the dump */
    aec_rc_encoder enc;
    aec_rc_encoder_init(&enc);
    for (int i = 0; i < 8; i++) aec_rc_encode(&enc, &set.tables[0], example_values[i]);
    aec_container w = {0};
    uint8_t *stream = NULL, *file = NULL;
    size_t stream_len = 0, file_len = 0;
    CHECK(aec_rc_encoder_finish(&enc, &stream, &stream_len) == AEC_RC_OK, "encode");
    memcpy(w.model_id, example_model, 8);
    w.width = 4;
    w.height = 2;
    w.quality_x100 = aec_quality_to_x100(75.5);
    w.n_streams = 1;
    w.stream[0] = stream;
    w.stream_len[0] = stream_len;
    CHECK(aec_container_write(&w, &file, &file_len) == AEC_CONTAINER_OK, "write");
    int same = file && file_len == (size_t)n && !memcmp(file, dump, file_len);
    CHECK(same, "the encoder no longer reproduces the documented dump");
    if (!same && file) {
        fprintf(stderr, "current output (%zu bytes):\n", file_len);
        for (size_t i = 0; i < file_len; i++)
            fprintf(stderr, "%s%02x", i % 16 ? " " : i ? "\n" : "", file[i]);
        fputc('\n', stderr);
    }
    free(stream);
    free(file);
    aec_cdf_set_free(&set);
}

/* ---- spec/model-format.md, "Synthesis transform" ------------------------ */

/* The numbers of the `which`-th (0, 1, ...) ```text block after `heading`:
 * every whitespace-separated token made only of digits, '-' and '.' (the
 * labels, such as x[0] or beta', are not). Returns the count, or -1 when
 * the block is missing or holds more than cap numbers. */
static int block_numbers(const char *text, const char *heading, int which, double *out, int cap)
{
    const char *p = strstr(text, heading);
    if (!p) return -1;
    for (int i = 0; i <= which; i++) {
        p = strstr(p, "\n```text\n");
        if (!p) return -1;
        p += strlen("\n```text\n");
    }
    const char *end = strstr(p, "\n```");
    if (!end) return -1;
    int n = 0;
    while (p < end) {
        while (p < end && isspace((unsigned char)*p)) p++;
        const char *t = p;
        while (p < end && !isspace((unsigned char)*p)) p++;
        if (p == t) break;
        int numeric = 1, digits = 0;
        for (const char *q = t; q < p; q++) {
            if (isdigit((unsigned char)*q)) digits++;
            else if (*q != '-' && *q != '.') numeric = 0;
        }
        if (!numeric || !digits) continue;
        char *after;
        double v = strtod(t, &after);
        if (after != p || n >= cap) return -1;
        out[n++] = v;
    }
    return n;
}

/* The readings of "Synthesis transform": the spec's, and the natural
 * others it rules out, which the worked example must tell apart from it. */
enum reading {
    READ_SPEC,
    READ_TF_SAME,          /* tap (ky, kx) of (iy, ix) lands at (2 iy + ky - 1, 2 ix + kx - 1) */
    READ_SWAPPED_CHANNELS, /* the weight read as [cout][cin][5][5] */
    READ_UNTURNED_KERNEL,  /* correlation of the zero-stuffed input with the kernel as stored */
    READ_GAMMA_TRANSPOSED, /* gamma[j][i] weighs input j for output i */
    READ_STORED_AS_IS,     /* beta, gamma used as stored */
    READ_STORED_SQUARED,   /* stored^2 - pedestal without the lower bounds */
    READ_FORWARD_GDN,      /* divide instead of multiply */
    READINGS
};
static const char *const reading_name[READINGS] = {
    "the spec's", "TensorFlow's SAME alignment", "the weight's channels swapped",
    "the kernel not turned", "gamma transposed", "beta and gamma as stored",
    "the stored values squared without the bound", "GDN instead of inverse GDN"};

#define GDN_PED 1.4551915228366852e-11 /* 2^-36 */

/* "Transposed convolution" as written: a [cin][h][w] -> out [cout][2h][2w],
 * weight as stored, [cin][cout][5][5] */
static void ref_deconv(const double *a, int cin, int cout, int h, int w, const float *weight,
                       const float *bias, enum reading r, double *out)
{
    const int align = r == READ_TF_SAME ? 1 : 2;
    for (int co = 0; co < cout; co++)
        for (int oy = 0; oy < 2 * h; oy++)
            for (int ox = 0; ox < 2 * w; ox++) {
                double s = bias[co];
                for (int ci = 0; ci < cin; ci++)
                    for (int ky = 0; ky < 5; ky++)
                        for (int kx = 0; kx < 5; kx++) {
                            const int ny = oy + align - ky, nx = ox + align - kx;
                            if (ny < 0 || nx < 0 || ny % 2 || nx % 2 || ny / 2 >= h || nx / 2 >= w) continue;
                            const int wy = r == READ_UNTURNED_KERNEL ? 4 - ky : ky;
                            const int wx = r == READ_UNTURNED_KERNEL ? 4 - kx : kx;
                            const size_t at = r == READ_SWAPPED_CHANNELS
                                                  ? (((size_t)co * cin + ci) * 5 + wy) * 5 + wx
                                                  : (((size_t)ci * cout + co) * 5 + wy) * 5 + wx;
                            s += (double)weight[at] * a[((size_t)ci * h + ny / 2) * w + nx / 2];
                        }
                out[((size_t)co * 2 * h + oy) * 2 * w + ox] = s;
            }
}

/* the effective value of a stored beta (is_beta) or gamma */
static double ref_effective(float stored, int is_beta, enum reading r)
{
    if (r == READ_STORED_AS_IS) return stored;
    if (r == READ_STORED_SQUARED) return (double)stored * stored - GDN_PED;
    const double bound = sqrt((is_beta ? 1e-6 : 0.0) + GDN_PED);
    const double b = stored > bound ? stored : bound;
    return b * b - GDN_PED;
}

/* "Inverse GDN" as written, in place on c planes of `pixels` */
static void ref_igdn(double *v, int c, size_t pixels, const float *beta, const float *gamma,
                     enum reading r)
{
    double *in = malloc((size_t)c * sizeof *in);
    if (!in) return;
    for (size_t px = 0; px < pixels; px++) {
        for (int j = 0; j < c; j++) in[j] = v[(size_t)j * pixels + px];
        for (int i = 0; i < c; i++) {
            double s = ref_effective(beta[i], 1, r);
            for (int j = 0; j < c; j++) {
                const float g = r == READ_GAMMA_TRANSPOSED ? gamma[(size_t)j * c + i] : gamma[(size_t)i * c + j];
                s += ref_effective(g, 0, r) * in[j] * in[j];
            }
            v[(size_t)i * pixels + px] = s < 0 ? NAN : r == READ_FORWARD_GDN ? in[i] / sqrt(s) : in[i] * sqrt(s);
        }
    }
    free(in);
}

/* the largest |a - b| over n values; infinity where either is NaN */
static double max_diff(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= m)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

#define EX_HEADING "### Worked example: one synthesis layer"
#define EX_QUOTES "The readings this section rules out give"
#define EX_C 2
#define EX_H 2
#define EX_OUT (EX_C * 2 * EX_H * 2 * EX_H) /* 2 x 4 x 4 */
#define EX_WIDE 16 /* output channels for the Winograd path */

/* The worked example: the documented numbers through the reference's
 * layers and through the spec's formulas. Its numbers are chosen so that
 * every other reading above changes the outputs (checked below: each
 * differs from the documented y by more than 1e-3 somewhere, and the
 * values the text quotes for them at one pixel are these readings'). */
static void synthesis_example(const char *spec)
{
    double in[160], out[80];
    const int n_in = block_numbers(spec, EX_HEADING, 0, in, 160);
    const int n_out = block_numbers(spec, EX_HEADING, 1, out, 80);
    /* x 8, W 100, B 2, beta 2, gamma 4; d 32, beta' 2, gamma' 4, y 32 */
    CHECK(n_in == 116 && n_out == 70, "the example's blocks hold %d and %d numbers, not 116 and 70",
          n_in, n_out);
    if (n_in != 116 || n_out != 70) return;
    const double *x = in, *W = in + 8, *B = in + 108, *beta = in + 110, *gamma = in + 112;
    const double *d_doc = out, *beta_eff = out + 32, *gamma_eff = out + 34, *y_doc = out + 38;

    nn_params p;
    nn_params_init(&p);
    nn_deconv2d dl, wide;
    nn_gdn g;
    int bad = nn_deconv2d_declare(&dl, &p, "ex.deconv", EX_C, EX_C, 5, 2) ||
              nn_deconv2d_declare(&wide, &p, "ex.wide", EX_C, EX_WIDE, 5, 2) ||
              nn_gdn_declare(&g, &p, "ex.igdn", EX_C, 1) || nn_params_alloc(&p);
    CHECK(!bad, "declaring the example's layers");
    if (bad) {
        nn_params_free(&p);
        return;
    }
    /* as stored: W[ci][co][ky][kx] in the block's order */
    float wf[100], bf[EX_C], betaf[EX_C], gammaf[EX_C * EX_C];
    for (int k = 0; k < 100; k++) wf[k] = (float)W[k];
    for (int c = 0; c < EX_C; c++) bf[c] = (float)B[c], betaf[c] = (float)beta[c];
    for (int k = 0; k < EX_C * EX_C; k++) gammaf[k] = (float)gamma[k];
    memcpy(p.value + dl.w, wf, sizeof wf);
    memcpy(p.value + dl.b, bf, sizeof bf);
    /* the same layer with 14 more (zero) output channels takes the
     * Winograd path, which the decoder's layers take */
    for (int ci = 0; ci < EX_C; ci++)
        for (int co = 0; co < EX_C; co++)
            memcpy(p.value + wide.w + ((size_t)ci * EX_WIDE + co) * 25, wf + (ci * EX_C + co) * 25,
                   25 * sizeof(float));
    memcpy(p.value + wide.b, bf, sizeof bf);
    memcpy(p.value + g.beta, betaf, sizeof betaf);
    memcpy(p.value + g.gamma, gammaf, sizeof gammaf);

    nn_tensor xt = {0}, d = {0}, dw = {0}, dd = {0}, y = {0};
    nn_workspace ws = {0};
    CHECK(nn_tensor_alloc(&xt, 1, EX_C, EX_H, EX_H) == 0 && nn_tensor_alloc(&dd, 1, EX_C, 2 * EX_H, 2 * EX_H) == 0,
          "alloc");
    if (xt.data && dd.data) {
        for (int k = 0; k < 8; k++) xt.data[k] = (float)x[k];
        for (int k = 0; k < EX_OUT; k++) dd.data[k] = (float)d_doc[k];

        /* the transposed convolution, both ways the reference computes it */
        CHECK(nn_deconv2d_forward(&dl, &p, &xt, &d, &ws) == 0 && d.c == EX_C && d.h == 4 && d.w == 4,
              "deconv forward");
        CHECK(nn_deconv2d_winograd_applies(&wide), "the wide layer takes the Winograd path");
        CHECK(nn_deconv2d_forward_winograd(&wide, &p, &xt, &dw, &ws) == 0 && dw.c == EX_WIDE,
              "deconv forward (Winograd)");
        if (d.data && d.c == EX_C && d.h == 4)
            for (int k = 0; k < EX_OUT; k++) CHECK_CLOSE(d.data[k], d_doc[k], 1e-6, "d (im2col)");
        if (dw.data && dw.c == EX_WIDE && dw.h == 4)
            for (int k = 0; k < EX_OUT; k++) CHECK_CLOSE(dw.data[k], d_doc[k], 1e-5, "d (Winograd)");

        /* the reparametrisation */
        float be[EX_C], ge[EX_C * EX_C];
        nn_gdn_effective(&g, &p, be, ge);
        for (int c = 0; c < EX_C; c++) CHECK_CLOSE(be[c], beta_eff[c], 1e-6, "beta'");
        for (int k = 0; k < EX_C * EX_C; k++) CHECK_CLOSE(ge[k], gamma_eff[k], 1e-6, "gamma'");

        /* the inverse GDN on the documented d, both ways */
        CHECK(nn_gdn_forward(&g, &p, &dd, &y, &ws) == 0, "igdn forward");
        if (y.data)
            for (int k = 0; k < EX_OUT; k++) CHECK_CLOSE(y.data[k], y_doc[k], 2e-6, "y (nn_gdn_forward)");
        CHECK(nn_gdn_forward_inplace(&g, &p, dd.data, 16, 16, &ws) == 0, "igdn in place");
        for (int k = 0; k < EX_OUT; k++) CHECK_CLOSE(dd.data[k], y_doc[k], 2e-6, "y (in place)");
    }

    /* the spec's formulas give the documented numbers; the other readings
     * do not, and give the values the text quotes for them */
    for (int r = 0; r < READINGS; r++) {
        double dr[EX_OUT];
        ref_deconv(x, EX_C, EX_C, EX_H, EX_H, wf, bf, (enum reading)r, dr);
        if (r == READ_SPEC) {
            CHECK(max_diff(dr, d_doc, EX_OUT) < 1e-9, "the spec's transposed convolution: d off by %g",
                  max_diff(dr, d_doc, EX_OUT));
            for (int c = 0; c < EX_C; c++)
                CHECK_CLOSE(ref_effective(betaf[c], 1, READ_SPEC), beta_eff[c], 1e-6, "spec beta'");
            for (int k = 0; k < EX_C * EX_C; k++)
                CHECK_CLOSE(ref_effective(gammaf[k], 0, READ_SPEC), gamma_eff[k], 1e-6, "spec gamma'");
        }
        ref_igdn(dr, EX_C, 16, betaf, gammaf, (enum reading)r);
        const double diff = max_diff(dr, y_doc, EX_OUT);
        if (r == READ_SPEC) {
            CHECK(diff < 1e-5, "the spec's formulas: y off by %g", diff);
            continue;
        }
        CHECK(diff > 1e-3, "reading %s gives the documented y (max difference %g): the example "
                           "does not tell it from the spec's", reading_name[r], diff);
        /* channel 0 at (1, 2), quoted for the readings that give a number */
        if (r == READ_STORED_AS_IS || r == READ_FORWARD_GDN) continue;
        char quoted[32];
        snprintf(quoted, sizeof quoted, "%.6f", dr[1 * 4 + 2]);
        const char *para = strstr(spec, EX_QUOTES), *end = para ? strstr(para, "\n\n") : NULL;
        const char *hit = para ? strstr(para, quoted) : NULL;
        CHECK(hit && end && hit < end, "the text does not quote %s for %s", quoted, reading_name[r]);
    }

    nn_tensor_free(&xt);
    nn_tensor_free(&d);
    nn_tensor_free(&dw);
    nn_tensor_free(&dd);
    nn_tensor_free(&y);
    nn_workspace_free(&ws);
    nn_params_free(&p);
}

/* the block of `name` in m's parameters, with the spec's shape */
static const float *named(const aec_model *m, const char *name, int d0, int d1, int d2, int d3)
{
    const nn_param_entry *e = nn_params_find(&m->p, name);
    int ok = e && e->shape[0] == d0 && e->shape[1] == d1 && e->shape[2] == d2 && e->shape[3] == d3;
    CHECK(ok, "%s missing or not of the spec's shape %d %d %d %d", name, d0, d1, d2, d3);
    return ok ? m->p.value + e->offset : NULL;
}

/* A small decoder-only model with random weights (stored GDN values partly
 * negative, an inverse gain negative) through the decoder's synthesis
 * (codec/model.c: Winograd layers, the streamed tail) and through the
 * spec's "Synthesis transform" and step 7's gains, naively. */
static void synthesis_transform(void)
{
    enum { N = 16, M = 8, L = 2, YH = 3, YW = 5 };
    aec_arch a;
    aec_arch_default(&a);
    a.n = N;
    a.m = M;
    a.levels = L;
    a.context = 0;
    aec_model m;
    CHECK(aec_model_create_decoder(&m, &a) == 0, "decoder model");
    nn_rng rng;
    nn_rng_seed(&rng, 21);
    const int cin[4] = {M, N, N, N}, cout[4] = {N, N, N, 3};
    const float *w[4], *b[4], *beta[3], *gamma[3];
    char name[64];
    int missing = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "g_s.deconv%d.weight", i);
        w[i] = named(&m, name, cin[i], cout[i], 5, 5);
        snprintf(name, sizeof name, "g_s.deconv%d.bias", i);
        b[i] = named(&m, name, cout[i], 1, 1, 1);
        missing |= !w[i] || !b[i];
        if (missing) continue;
        /* unit variance (about cin * 25 / 4 taps reach an output), the
         * last layer's smaller so that most outputs fall inside [0, 1] */
        const float amp = sqrtf(3.0f / (cin[i] * 25 / 4.0f)) * (i == 3 ? 0.03f : 1.0f);
        for (int k = 0; k < cin[i] * cout[i] * 25; k++)
            ((float *)w[i])[k] = amp * (2 * nn_rng_uniform(&rng) - 1);
        for (int k = 0; k < cout[i]; k++)
            ((float *)b[i])[k] = (i == 3 ? 0.5f : 0.0f) + 0.2f * (nn_rng_uniform(&rng) - 0.5f);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "g_s.igdn%d.beta", i);
        beta[i] = named(&m, name, N, 1, 1, 1);
        snprintf(name, sizeof name, "g_s.igdn%d.gamma", i);
        gamma[i] = named(&m, name, N, N, 1, 1);
        missing |= !beta[i] || !gamma[i];
        if (missing) continue;
        for (int k = 0; k < N; k++) ((float *)beta[i])[k] = k == 3 ? -0.2f : 0.3f + nn_rng_uniform(&rng);
        for (int k = 0; k < N * N; k++) ((float *)gamma[i])[k] = 0.5f * nn_rng_uniform(&rng) - 0.2f;
    }
    const float *inv = named(&m, "inv_gain", L, M, 1, 1);
    missing |= !inv;
    if (missing) {
        aec_model_free(&m);
        return;
    }
    for (int k = 0; k < L * M; k++) ((float *)inv)[k] = (k == M + 3 ? -1.0f : 1.0f) * (0.5f + 1.5f * nn_rng_uniform(&rng));

    /* y^ = r + mu, and the level position t of step 7 */
    const float t = 0.3f;
    nn_tensor yhat = {0}, xs = {0}, xin = {0}, raw = {0};
    CHECK(nn_tensor_alloc(&yhat, 1, M, YH, YW) == 0 && nn_tensor_alloc(&xin, 1, M, YH, YW) == 0, "alloc");
    const size_t nlat = (size_t)M * YH * YW, npix = (size_t)3 * 16 * YH * 16 * YW;
    double *ref = malloc(npix * sizeof *ref), *act = malloc((size_t)N * 16 * YH * 16 * YW * sizeof *act),
           *nxt = malloc((size_t)N * 16 * YH * 16 * YW * sizeof *nxt);
    if (yhat.data && xin.data && ref && act && nxt) {
        for (size_t k = 0; k < nlat; k++) yhat.data[k] = 6 * nn_rng_uniform(&rng) - 3;
        /* step 7: the inverse gains, interpolated geometrically (t = 0.3:
         * between levels 0 and 1) */
        const int l0 = 0, l1 = 1;
        const double f = t - l0;
        float ig[M];
        aec_model_gains(&m, t, NULL, ig, NULL, NULL);
        for (int c = 0; c < M; c++) {
            const double g0 = fabs((double)inv[l0 * M + c]) + 1e-9, g1 = fabs((double)inv[l1 * M + c]) + 1e-9;
            const double g = exp((1 - f) * log(g0) + f * log(g1));
            CHECK_CLOSE(ig[c], g, 1e-6, "inverse gain");
            for (int k = 0; k < YH * YW; k++) {
                act[(size_t)c * YH * YW + k] = (double)yhat.data[(size_t)c * YH * YW + k] * g;
                xin.data[(size_t)c * YH * YW + k] = yhat.data[(size_t)c * YH * YW + k] * ig[c];
            }
        }
        /* "Layers": deconv, IGDN, deconv, IGDN, deconv, IGDN, deconv */
        int h = YH, wd = YW;
        for (int i = 0; i < 4; i++) {
            ref_deconv(act, cin[i], cout[i], h, wd, w[i], b[i], READ_SPEC, i < 3 ? nxt : ref);
            h *= 2;
            wd *= 2;
            if (i == 3) break;
            ref_igdn(nxt, N, (size_t)h * wd, beta[i], gamma[i], READ_SPEC);
            double *swap = act;
            act = nxt;
            nxt = swap;
        }
        double scale = 0;
        for (size_t k = 0; k < npix; k++) scale = fmax(scale, fabs(ref[k]));

        nn_workspace ws = {0};
        CHECK(aec_model_synthesis(&m, &xin, &raw, &ws) == 0 && raw.c == 3 && raw.h == 16 * YH &&
                  raw.w == 16 * YW,
              "aec_model_synthesis");
        if (raw.data && raw.c == 3 && raw.h == 16 * YH && raw.w == 16 * YW) {
            double err = 0;
            for (size_t k = 0; k < npix; k++) err = fmax(err, fabs(raw.data[k] - ref[k]));
            CHECK(err <= 1e-4 * fmax(1, scale), "g_s: the code and the spec differ by %g (values up to %g)",
                  err, scale);
            if (getenv("AEC_TEST_VERBOSE")) fprintf(stderr, "g_s: max difference %g, values up to %g\n", err, scale);
        }
        nn_workspace_free(&ws);

        /* and with step 7's gains and clamp */
        aec_train_state s;
        aec_train_state_init(&s, 1);
        CHECK(aec_model_synthesize(&m, &s, &yhat, t, &xs) == 0 && xs.c == 3 && xs.h == 16 * YH &&
                  xs.w == 16 * YW,
              "aec_model_synthesize");
        if (xs.data && xs.c == 3 && xs.h == 16 * YH && xs.w == 16 * YW) {
            double err = 0;
            size_t inside = 0;
            for (size_t k = 0; k < npix; k++) {
                const double v = ref[k] < 0 ? 0 : ref[k] > 1 ? 1 : ref[k];
                inside += ref[k] > 0 && ref[k] < 1;
                err = fmax(err, fabs(xs.data[k] - v));
            }
            CHECK(err <= 1e-4 * fmax(1, scale), "step 7 and g_s: the code and the spec differ by %g", err);
            CHECK(inside > npix / 10, "only %zu of %zu outputs inside (0, 1): the check says little",
                  inside, npix);
        }
        aec_train_state_free(&s);
    }
    free(ref);
    free(act);
    free(nxt);
    nn_tensor_free(&yhat);
    nn_tensor_free(&xin);
    nn_tensor_free(&xs);
    nn_tensor_free(&raw);
    aec_model_free(&m);
}

/* ---- spec/aec-format.md, "Model identity" -------------------------------- */

/* the 15 parameters, in the order the spec lists them */
static const char *const id_params[15] = {
    "g_s.deconv0.weight", "g_s.deconv0.bias", "g_s.deconv1.weight", "g_s.deconv1.bias",
    "g_s.deconv2.weight", "g_s.deconv2.bias", "g_s.deconv3.weight", "g_s.deconv3.bias",
    "g_s.igdn0.beta",     "g_s.igdn0.gamma",  "g_s.igdn1.beta",     "g_s.igdn1.gamma",
    "g_s.igdn2.beta",     "g_s.igdn2.gamma",  "inv_gain"};

static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}

static void fnv1a(uint64_t *h, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) *h = (*h ^ b[i]) * 0x100000001b3ULL;
}

/* IEEE-754 binary16 widened to float32 */
static float from_half(uint16_t v)
{
    const int sign = v >> 15, e = (v >> 10) & 31, frac = v & 1023;
    float x = e == 0 ? ldexpf((float)frac, -24) : e == 31 ? (frac ? NAN : INFINITY)
                                                         : ldexpf((float)(frac | 1024), e - 25);
    return sign ? -x : x;
}

/* The payload of chunk `tag` of a model file (the last one, as a reader
 * keeps), or NULL */
static const uint8_t *chunk(const uint8_t *f, size_t len, const char *tag, uint32_t *n)
{
    const uint8_t *found = NULL;
    if (len < 12) return NULL;
    size_t at = 8, end = len - 4;
    while (end - at >= 8) {
        uint32_t l = get32(f + at + 4);
        if (l > end - at - 8) return NULL;
        if (!memcmp(f + at, tag, 4)) {
            found = f + at + 8;
            *n = l;
        }
        at += 8 + (size_t)l;
    }
    return found;
}

/* Model_Id of a model file by "Model identity" alone; 0, or -1 when the
 * file lacks something the spec says it has */
static int spec_model_id(const uint8_t *f, size_t len, uint8_t id[8])
{
    uint32_t arch_len, parm_len, hs_len, z_len, y_len, ctx_len = 0;
    const uint8_t *arch = chunk(f, len, "ARCH", &arch_len), *parm = chunk(f, len, "PARM", &parm_len),
                  *hs = chunk(f, len, "HSIQ", &hs_len), *z = chunk(f, len, "ZCDF", &z_len),
                  *y = chunk(f, len, "YCDF", &y_len);
    if (!arch || !parm || !hs || !z || !y || arch_len < 12 || parm_len < 24) return -1;
    const uint32_t levels = get32(arch + 8);
    if (arch_len < 12 + 4 * levels) return -1;
    const int context = arch_len >= 16 + 4 * levels && (get32(arch + 12 + 4 * levels) & 1);
    const uint8_t *ctx = context ? chunk(f, len, "CTXQ", &ctx_len) : NULL;
    if (context && !ctx) return -1;
    const uint32_t version = get32(parm + 4), count = get32(parm + 16);
    if (memcmp(parm, "AECP", 4) || (version != 1 && version != 2)) return -1;
    const size_t vb = version == 1 ? 4 : 2;

    /* the blob of version 1 with the 15 entries: at most 2x the values of
     * a version-2 blob, plus the entries' headers */
    uint8_t *blob = malloc(2 * (size_t)parm_len + 15 * 80);
    if (!blob) return -1;
    size_t n = 20;
    int found = 0;
    for (int k = 0; k < 15; k++) {
        const uint8_t *e = parm + 20;
        for (uint32_t i = 0; i < count; i++) {
            const uint32_t name_len = get32(e);
            size_t vals = 1;
            for (int d = 0; d < 4; d++) vals *= get32(e + 4 + name_len + 4 * d);
            if (name_len == strlen(id_params[k]) && !memcmp(e + 4, id_params[k], name_len)) {
                memcpy(blob + n, e, 20 + name_len);
                n += 20 + name_len;
                const uint8_t *v = e + 20 + name_len;
                for (size_t j = 0; j < vals; j++) {
                    float x;
                    uint32_t bits;
                    if (vb == 4) bits = get32(v + 4 * j);
                    else {
                        x = from_half((uint16_t)(v[2 * j] | v[2 * j + 1] << 8));
                        memcpy(&bits, &x, 4);
                    }
                    put32(blob + n, bits);
                    n += 4;
                }
                found++;
                break;
            }
            e += 20 + name_len + vb * vals;
        }
    }
    memcpy(blob, "AECP", 4);
    put32(blob + 4, 1);
    const uint64_t size = n + 4;
    for (int i = 0; i < 8; i++) blob[8 + i] = (uint8_t)(size >> 8 * i);
    put32(blob + 16, 15);
    put32(blob + n, nn_crc32(0, blob, n));
    n += 4;

    uint64_t h = 0xcbf29ce484222325ULL;
    fnv1a(&h, arch, 12 + 4 * (size_t)levels);
    fnv1a(&h, blob, n);
    fnv1a(&h, hs, hs_len);
    fnv1a(&h, z, z_len);
    fnv1a(&h, y, y_len);
    if (context) {
        const uint8_t flags[4] = {1, 0, 0, 0};
        fnv1a(&h, flags, 4);
        fnv1a(&h, ctx, ctx_len);
    }
    free(blob);
    for (int i = 0; i < 8; i++) id[i] = (uint8_t)(h >> (56 - 8 * i));
    return found == 15 ? 0 : -1;
}

static void model_identity(const char *spec)
{
    /* the spec lists the 15 names in this order */
    const char *at = strstr(spec, "### Model identity");
    CHECK(at != NULL, "Model identity section missing");
    for (int k = 0; k < 15 && at; k++) {
        char row[64];
        snprintf(row, sizeof row, "| %d | `%s` |", k + 1, id_params[k]);
        const char *next = strstr(at, row);
        CHECK(next != NULL, "the spec does not list %s as parameter %d of the id", id_params[k], k + 1);
        if (next) at = next;
    }

    for (int context = 0; context < 2; context++) {
        aec_codec c;
        aec_model m;
        char err[256] = "";
        int rc = context ? tiny_model_context(&m, 5) : tiny_model(&m, 5);
        if (rc == 0) rc = tiny_codec_from(&c, &m, err, sizeof err);
        CHECK(rc == 0, "tiny codec%s: %s", context ? " (context)" : "", err);
        if (rc) continue;
        for (int decoder_only = 0; decoder_only < 2; decoder_only++) {
            uint8_t *file = NULL, id[8];
            size_t len = 0;
            CHECK(aec_codec_serialize(&c, decoder_only, NULL, &file, &len) == 0, "serialize");
            if (!file) continue;
            CHECK(spec_model_id(file, len, id) == 0, "the spec's id of a %s%s file: a part is missing",
                  decoder_only ? "decoder-only" : "full", context ? " context" : "");
            CHECK(!memcmp(id, c.id, 8), "the spec's id of a %s%s file is not the model's",
                  decoder_only ? "decoder-only" : "full", context ? " context" : "");
            aec_codec loaded;
            CHECK(aec_codec_parse(&loaded, file, len, "tiny.aecm", 1, err, sizeof err) == 0, "parse: %s", err);
            CHECK(!memcmp(id, loaded.id, 8), "the spec's id is not the loaded model's");
            aec_codec_free(&loaded);
            free(file);
        }
        aec_codec_free(&c);
    }
}

int main(void)
{
    size_t len = 0, model_len = 0;
    char *spec = read_spec(SPEC_NAME, "AEC_SPEC", &len);
    char *model_spec = read_spec(MODEL_SPEC_NAME, "AEC_MODEL_SPEC", &model_len);
    CHECK(spec != NULL, "cannot read %s", SPEC_NAME);
    CHECK(model_spec != NULL, "cannot read %s", MODEL_SPEC_NAME);
    if (spec) container_example(spec);
    if (model_spec) synthesis_example(model_spec);
    synthesis_transform();
    if (spec) model_identity(spec);
    free(spec);
    free(model_spec);
    return check_report("test_spec_example");
}
