/* tests/test_api.c - the public API (codec/aec.h) against the codec it
 * wraps and against `bin/aec encode`: the same bytes and pixels, models
 * from memory and from files, every error code, thread counts. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec/aec.h"
#include "codec/model_file.h"
#include "codec/target.h"
#include "tests/check.h"
#include "tests/tiny_codec.h"
#include "tools/imageio/png_io.h"

#define W 130
#define H 97

static char tmp[64] = "/tmp/aec-test-api-XXXXXX";

/* the tiny codec as model files in memory: full and decoder-only */
typedef struct {
    uint8_t *full, *dec;
    size_t full_len, dec_len;
} model_bytes;

static void path_in(char *dst, size_t n, const char *name) { snprintf(dst, n, "%s/%s", tmp, name); }

static aec_coder *coder_from(const uint8_t *bytes, size_t len, unsigned flags)
{
    aec_coder *a;
    if (aec_coder_create(&a) != AEC_OK) abort();
    aec_status st = aec_coder_load_memory(a, bytes, len, flags);
    CHECK(st == AEC_OK, "load from memory: %s", aec_coder_message(a));
    return a;
}

static void test_version_and_strings(void)
{
    CHECK(aec_version() == AEC_VERSION, "aec_version %x, the header's %x", aec_version(),
          (unsigned)AEC_VERSION);
    CHECK(AEC_VERSION == (AEC_VERSION_MAJOR << 16 | AEC_VERSION_MINOR << 8 | AEC_VERSION_PATCH),
          "AEC_VERSION packs the three numbers");
    for (int a = AEC_OK; a <= AEC_ERROR_TOO_LARGE; a++) {
        const char *s = aec_error_string((aec_status)a);
        CHECK(s && *s && strcmp(s, "unknown error code"), "code %d has a string", a);
        for (int b = AEC_OK; b < a; b++)
            CHECK(strcmp(s, aec_error_string((aec_status)b)), "codes %d and %d differ", a, b);
    }
    CHECK(!strcmp(aec_error_string((aec_status)99), "unknown error code"), "unknown code");
}

/* encode and decode through the API == the codec's aec_encode and
 * aec_decode, at efforts 0 and 1 (the effort is aec_codec_set_effort's
 * number either way; higher ones only search longer) */
static void test_same_as_codec(aec_codec *c, const model_bytes *mb, const uint8_t *img)
{
    aec_coder *a = coder_from(mb->full, mb->full_len, 0);
    CHECK(aec_coder_can_encode(a) == 1, "a full model encodes");
    uint8_t id[AEC_MODEL_ID_BYTES];
    CHECK(aec_coder_model_id(a, id) == AEC_OK && !memcmp(id, c->id, sizeof id), "model id");
    char err[256];
    for (int e = 0; e <= 1; e++) {
        aec_encode_options o;
        aec_encode_options_default(&o);
        o.quality = 60;
        o.effort = e;
        uint8_t *mine = NULL, *theirs = NULL, *px = NULL, *ref = NULL;
        size_t mine_len = 0, theirs_len = 0;
        aec_codec_set_effort(c, e);
        int w = 0, h = 0, rw, rh;
        CHECK(aec_encode_rgb(a, img, W, H, &o, &mine, &mine_len) == AEC_OK, "encode: %s",
              aec_coder_message(a));
        CHECK(!aec_encode(c, img, W, H, 60, &theirs, &theirs_len, err, sizeof err), "%s", err);
        CHECK(mine && theirs && mine_len == theirs_len && !memcmp(mine, theirs, mine_len),
              "effort %d: the codec's bytes (%zu, %zu)", e, mine_len, theirs_len);
        CHECK(!*aec_coder_message(a), "no message after success");
        CHECK(aec_decode_rgb(a, mine, mine_len, &px, &w, &h) == AEC_OK, "decode: %s",
              aec_coder_message(a));
        CHECK(!aec_decode(c, theirs, theirs_len, &ref, &rw, &rh, err, sizeof err), "%s", err);
        CHECK(px && ref && w == W && h == H && rw == W && rh == H &&
                  !memcmp(px, ref, (size_t)W * H * 3),
              "effort %d: the codec's pixels", e);
        aec_info info;
        CHECK(aec_get_info(mine, mine_len, &info) == AEC_OK && info.width == W &&
                  info.height == H && info.quality == 60 && !memcmp(info.model_id, id, sizeof id),
              "info: %dx%d at %g", info.width, info.height, info.quality);
        free(mine);
        free(theirs);
        free(px);
        free(ref);
    }
    aec_codec_set_effort(c, AEC_EFFORT_DEFAULT);
    aec_coder_free(a);
}

/* a target PSNR or bpp: the codec's search, its quality in the file (at
 * effort 0, as each step of the search is an encode) */
static void test_target(aec_codec *c, const model_bytes *mb, const uint8_t *img)
{
    aec_coder *a = coder_from(mb->full, mb->full_len, 0);
    aec_encode_options o;
    aec_encode_options_default(&o);
    o.effort = 0;
    aec_codec_set_effort(c, 0);
    o.target_psnr = 30;
    uint8_t *mine = NULL;
    size_t len = 0;
    CHECK(aec_encode_rgb(a, img, W, H, &o, &mine, &len) == AEC_OK, "--psnr: %s",
          aec_coder_message(a));
    aec_target g = {1, 30};
    aec_target_result r;
    char err[256];
    CHECK(!aec_encode_target(c, img, W, H, &g, &r, err, sizeof err), "%s", err);
    CHECK(mine && r.best.len == len && !memcmp(mine, r.best.bytes, len), "the search's bytes");
    aec_info info;
    CHECK(aec_get_info(mine, len, &info) == AEC_OK && info.quality == r.best.qx / 100.0,
          "its quality %g, the search's %g", info.quality, r.best.qx / 100.0);
    free(mine);
    free(r.best.bytes);
    o.target_psnr = 0;
    o.target_bpp = 2;
    CHECK(aec_encode_rgb(a, img, W, H, &o, &mine, &len) == AEC_OK, "--bpp: %s",
          aec_coder_message(a));
    g = (aec_target){0, 2};
    CHECK(!aec_encode_target(c, img, W, H, &g, &r, err, sizeof err), "%s", err);
    CHECK(mine && r.best.len == len && !memcmp(mine, r.best.bytes, len), "--bpp: the search's bytes");
    free(mine);
    free(r.best.bytes);
    aec_codec_set_effort(c, AEC_EFFORT_DEFAULT);
    aec_coder_free(a);
}

/* from a file == from memory; decoder-only models, both kinds */
static void test_model_sources(const model_bytes *mb, const uint8_t *img)
{
    char path[128], dpath[128];
    path_in(path, sizeof path, "tiny.aecm");
    path_in(dpath, sizeof dpath, "tiny-dec.aecm");
    char err[256];
    CHECK(!aec_write_file_atomic(path, mb->full, mb->full_len, err, sizeof err) &&
              !aec_write_file_atomic(dpath, mb->dec, mb->dec_len, err, sizeof err),
          "%s", err);
    aec_coder *mem = coder_from(mb->full, mb->full_len, 0), *file, *dec, *half;
    aec_coder_create(&file);
    aec_coder_create(&dec);
    aec_coder_create(&half);
    CHECK(aec_coder_load_file(file, path, 0) == AEC_OK, "%s", aec_coder_message(file));
    CHECK(aec_coder_load_file(dec, dpath, 0) == AEC_OK, "a decoder-only file: %s",
          aec_coder_message(dec));
    CHECK(aec_coder_load_file(half, path, AEC_LOAD_DECODER_ONLY) == AEC_OK, "%s",
          aec_coder_message(half));
    CHECK(aec_coder_can_encode(file) && !aec_coder_can_encode(dec) && !aec_coder_can_encode(half),
          "decoder-only coders cannot encode");
    uint8_t *a = NULL, *b = NULL, *px[3] = {NULL, NULL, NULL};
    size_t alen = 0, blen = 0;
    CHECK(aec_encode_rgb(mem, img, W, H, NULL, &a, &alen) == AEC_OK &&
              aec_encode_rgb(file, img, W, H, NULL, &b, &blen) == AEC_OK &&
              alen == blen && !memcmp(a, b, alen),
          "from memory and from a file: the same bytes");
    free(b);
    CHECK(aec_encode_rgb(dec, img, W, H, NULL, &b, &blen) == AEC_ERROR_NO_ENCODER && !b &&
              !blen && *aec_coder_message(dec),
          "a decoder-only model refuses to encode");
    aec_coder *decs[3] = {mem, dec, half};
    int w, h;
    for (int i = 0; i < 3; i++)
        CHECK(aec_decode_rgb(decs[i], a, alen, &px[i], &w, &h) == AEC_OK, "decode %d: %s", i,
              aec_coder_message(decs[i]));
    CHECK(px[0] && px[1] && px[2] && !memcmp(px[0], px[1], (size_t)W * H * 3) &&
              !memcmp(px[0], px[2], (size_t)W * H * 3),
          "full, decoder-only file and decoder half decode alike");
    uint8_t id[2][AEC_MODEL_ID_BYTES];
    CHECK(!aec_coder_model_id(mem, id[0]) && !aec_coder_model_id(dec, id[1]) &&
              !memcmp(id[0], id[1], AEC_MODEL_ID_BYTES),
          "a decoder-only file keeps the model id");
    for (int i = 0; i < 3; i++) free(px[i]);
    free(a);
    aec_coder_free(mem);
    aec_coder_free(file);
    aec_coder_free(dec);
    aec_coder_free(half);
    unlink(path);
    unlink(dpath);
}

/* the bytes of `bin/aec encode -m MODEL -q 60 -e E` on the image as a PNG */
static uint8_t *aec_tool_encode(const char *model, const char *png, int effort, size_t *len)
{
    char out[128], e[8];
    path_in(out, sizeof out, "tool.aec");
    snprintf(e, sizeof e, "%d", effort);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        execl("bin/aec", "aec", "encode", "-f", "--no-fit-check", "-m", model, "-q", "60", "-e",
              e, png, "-o", out, (char *)NULL);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        return NULL;
    char err[256];
    return aec_read_file(out, (size_t)1 << 30, len, err, sizeof err);
}

static void test_same_as_tool(const model_bytes *mb, const uint8_t *img)
{
    if (access("bin/aec", X_OK) != 0) {
        CHECK(0, "bin/aec not found: run from the repository root after make");
        return;
    }
    char model[128], png[128], err[256];
    path_in(model, sizeof model, "tool.aecm");
    path_in(png, sizeof png, "tool.png");
    CHECK(!aec_write_file_atomic(model, mb->full, mb->full_len, err, sizeof err) &&
              !aec_png_write(png, img, NULL, W, H, err, sizeof err),
          "%s", err);
    aec_coder *a = coder_from(mb->full, mb->full_len, 0);
    for (int e = 0; e <= 1; e++) {
        aec_encode_options o;
        aec_encode_options_default(&o);
        o.quality = 60;
        o.effort = e;
        uint8_t *mine = NULL, *tool;
        size_t mine_len = 0, tool_len = 0;
        CHECK(aec_encode_rgb(a, img, W, H, &o, &mine, &mine_len) == AEC_OK, "%s",
              aec_coder_message(a));
        tool = aec_tool_encode(model, png, e, &tool_len);
        CHECK(tool && mine && tool_len == mine_len && !memcmp(tool, mine, mine_len),
              "effort %d: bin/aec encode's bytes (%zu, %zu)", e, tool_len, mine_len);
        free(mine);
        free(tool);
    }
    aec_coder_free(a);
    unlink(model);
    unlink(png);
}

static void test_threads(const model_bytes *mb, const uint8_t *img)
{
    aec_coder *a = coder_from(mb->full, mb->full_len, 0);
    uint8_t *file[2] = {NULL, NULL}, *px[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    int w, h;
    const int before = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        CHECK(aec_coder_set_threads(a, t + 1) == AEC_OK, "set_threads");
        aec_encode_options o;
        aec_encode_options_default(&o);
        CHECK(aec_encode_rgb(a, img, W, H, &o, &file[t], &len[t]) == AEC_OK &&
                  aec_decode_rgb(a, file[t], len[t], &px[t], &w, &h) == AEC_OK,
              "%d threads: %s", t + 1, aec_coder_message(a));
        CHECK(omp_get_max_threads() == before, "the caller's thread count is restored");
    }
    CHECK(file[0] && file[1] && len[0] == len[1] && !memcmp(file[0], file[1], len[0]),
          "1 and 2 threads: the same bytes");
    CHECK(px[0] && px[1] && !memcmp(px[0], px[1], (size_t)W * H * 3),
          "1 and 2 threads: the same pixels");
    CHECK(aec_coder_set_threads(a, -1) == AEC_ERROR_ARGUMENT && aec_coder_set_threads(NULL, 1),
          "bad thread counts");
    for (int t = 0; t < 2; t++) {
        free(file[t]);
        free(px[t]);
    }
    aec_coder_free(a);
}

/* Each call's outputs are empty after a failure. */
static void check_decode_fails(aec_coder *a, const uint8_t *data, size_t len, aec_status want,
                               const char *what)
{
    uint8_t *px = (uint8_t *)1;
    int w = 1, h = 1;
    aec_status st = aec_decode_rgb(a, data, len, &px, &w, &h);
    CHECK(st == want && !px && !w && !h && (!a || *aec_coder_message(a)),
          "%s: %d (%s), want %d", what, st, a ? aec_coder_message(a) : "", want);
    free(st == AEC_OK ? px : NULL);
}

static void check_encode_fails(aec_coder *a, const uint8_t *img, int w, int h,
                               const aec_encode_options *o, aec_status want, const char *what)
{
    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    aec_status st = aec_encode_rgb(a, img, w, h, o, &out, &len);
    CHECK(st == want && !out && !len && (!a || *aec_coder_message(a)), "%s: %d (%s), want %d",
          what, st, a ? aec_coder_message(a) : "", want);
    free(st == AEC_OK ? out : NULL);
}

static void test_decode_errors(const model_bytes *mb, const uint8_t *file, size_t len,
                               const uint8_t *other, size_t other_len)
{
    aec_coder *a, *empty;
    aec_coder_create(&empty);
    a = coder_from(mb->full, mb->full_len, 0);
    check_decode_fails(NULL, file, len, AEC_ERROR_ARGUMENT, "NULL coder");
    check_decode_fails(a, NULL, len, AEC_ERROR_ARGUMENT, "NULL data");
    CHECK(aec_decode_rgb(a, file, len, NULL, NULL, NULL) == AEC_ERROR_ARGUMENT, "NULL outputs");
    check_decode_fails(empty, file, len, AEC_ERROR_NO_MODEL, "no model");
    check_decode_fails(a, (const uint8_t *)"hello, world", 12, AEC_ERROR_NOT_AEC, "not .aec");
    check_decode_fails(a, file, len - 7, AEC_ERROR_TRUNCATED, "truncated");
    check_decode_fails(a, file, 2, AEC_ERROR_TRUNCATED, "2 bytes");
    check_decode_fails(a, other, other_len, AEC_ERROR_WRONG_MODEL, "another model's file");
    uint8_t *bad = malloc(len + 1);
    if (!bad) abort();
    memcpy(bad, file, len);
    bad[len / 2] ^= 0x20;
    check_decode_fails(a, bad, len, AEC_ERROR_CORRUPT, "a flipped bit");
    memcpy(bad, file, len);
    bad[len] = 0;
    check_decode_fails(a, bad, len + 1, AEC_ERROR_CORRUPT, "a byte after the end");
    memcpy(bad, file, len);
    bad[3] = (uint8_t)(bad[3] + 0x10);
    check_decode_fails(a, bad, len, AEC_ERROR_VERSION, "version 2");
    /* coded data that runs out: the stream cut short in a consistent file */
    aec_container con;
    uint8_t *cut = NULL;
    size_t cut_len = 0;
    if (!aec_container_parse(file, len, NULL, &con, NULL, 0)) {
        con.stream_len[0] /= 4;
        if (!aec_container_write(&con, &cut, &cut_len))
            check_decode_fails(a, cut, cut_len, AEC_ERROR_CORRUPT, "coded data cut short");
    }
    CHECK(cut != NULL, "a file with a short stream");
    free(cut);
    aec_info info;
    CHECK(aec_get_info(bad, len, &info) == AEC_ERROR_VERSION && info.width == 0, "info: version");
    CHECK(aec_get_info(file, len - 1, &info) == AEC_ERROR_TRUNCATED, "info: truncated");
    CHECK(aec_get_info(NULL, len, &info) == AEC_ERROR_ARGUMENT &&
              aec_get_info(file, len, NULL) == AEC_ERROR_ARGUMENT,
          "info: NULL");
    memcpy(bad, file, len);
    bad[len - 1] ^= 1;
    CHECK(aec_get_info(bad, len, &info) == AEC_ERROR_CORRUPT, "info: bad CRC");
    /* the pixel limit: 130 x 97 pads to 192 x 128 */
    CHECK(aec_coder_set_max_pixels(a, 192 * 128 - 1) == AEC_OK, "set_max_pixels");
    check_decode_fails(a, file, len, AEC_ERROR_TOO_LARGE, "above the pixel limit");
    aec_coder_set_max_pixels(a, 192 * 128);
    uint8_t *px;
    int w, h;
    CHECK(aec_decode_rgb(a, file, len, &px, &w, &h) == AEC_OK, "at the limit: %s",
          aec_coder_message(a));
    free(px);
    free(bad);
    aec_coder_free(a);
    aec_coder_free(empty);
}

static void test_encode_errors(const model_bytes *mb, const uint8_t *img)
{
    aec_coder *a = coder_from(mb->full, mb->full_len, 0), *empty;
    aec_coder_create(&empty);
    aec_encode_options o;
    aec_encode_options_default(&o);
    check_encode_fails(NULL, img, W, H, &o, AEC_ERROR_ARGUMENT, "NULL coder");
    check_encode_fails(a, NULL, W, H, &o, AEC_ERROR_ARGUMENT, "NULL pixels");
    check_encode_fails(a, img, 0, H, &o, AEC_ERROR_ARGUMENT, "width 0");
    check_encode_fails(a, img, W, -1, &o, AEC_ERROR_ARGUMENT, "height -1");
    check_encode_fails(a, img, 70000, 1, &o, AEC_ERROR_TOO_LARGE, "width 70000");
    check_encode_fails(a, img, 20000, 20000, &o, AEC_ERROR_TOO_LARGE, "400 MP");
    check_encode_fails(empty, img, W, H, &o, AEC_ERROR_NO_MODEL, "no model");
    const struct { double q; int e; double psnr, bpp; const char *what; } bad[] = {
        {101, 1, 0, 0, "quality 101"},     {-1, 1, 0, 0, "quality -1"},
        {NAN, 1, 0, 0, "quality NaN"},     {75, 4, 0, 0, "effort 4"},
        {75, -1, 0, 0, "effort -1"},       {75, 1, 30, 1, "two targets"},
        {75, 1, -30, 0, "PSNR -30"},       {75, 1, 0, INFINITY, "bpp inf"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aec_encode_options b = {bad[i].q, bad[i].e, bad[i].psnr, bad[i].bpp};
        check_encode_fails(a, img, W, H, &b, AEC_ERROR_ARGUMENT, bad[i].what);
    }
    size_t len = 1;
    CHECK(aec_encode_rgb(a, img, W, H, &o, NULL, &len) == AEC_ERROR_ARGUMENT && len == 0,
          "NULL out");
    aec_coder_free(a);
    aec_coder_free(empty);
}

static void test_load_errors(const model_bytes *mb)
{
    aec_coder *a;
    CHECK(aec_coder_create(NULL) == AEC_ERROR_ARGUMENT, "create(NULL)");
    aec_coder_create(&a);
    char path[128];
    path_in(path, sizeof path, "missing.aecm");
    CHECK(aec_coder_load_file(a, path, 0) == AEC_ERROR_IO && strstr(aec_coder_message(a), path),
          "a missing file: %s", aec_coder_message(a));
    CHECK(aec_coder_load_file(a, NULL, 0) == AEC_ERROR_ARGUMENT, "NULL path");
    CHECK(aec_coder_load_file(NULL, path, 0) == AEC_ERROR_ARGUMENT, "NULL coder");
    CHECK(aec_coder_load_memory(a, NULL, 10, 0) == AEC_ERROR_ARGUMENT, "NULL data");
    CHECK(aec_coder_load_memory(a, mb->full, 0, 0) == AEC_ERROR_ARGUMENT, "len 0");
    CHECK(aec_coder_load_memory(a, mb->full, mb->full_len, 2) == AEC_ERROR_ARGUMENT,
          "unknown flags");
    CHECK(aec_coder_load_memory(a, "hello, world", 12, 0) == AEC_ERROR_BAD_MODEL &&
              *aec_coder_message(a),
          "not a model: %s", aec_coder_message(a));
    CHECK(aec_coder_load_memory(a, mb->full, mb->full_len - 9, 0) == AEC_ERROR_BAD_MODEL,
          "a truncated model: %s", aec_coder_message(a));
    uint8_t *bad = malloc(mb->full_len);
    if (!bad) abort();
    memcpy(bad, mb->full, mb->full_len);
    bad[mb->full_len / 2] ^= 4;
    CHECK(aec_coder_load_memory(a, bad, mb->full_len, 0) == AEC_ERROR_BAD_MODEL,
          "a damaged model: %s", aec_coder_message(a));
    free(bad);
    /* a good load after a failed one, and a failed one drops the model */
    CHECK(aec_coder_load_memory(a, mb->full, mb->full_len, 0) == AEC_OK && aec_coder_can_encode(a),
          "then a good one");
    CHECK(aec_coder_load_memory(a, mb->full, 5, 0) == AEC_ERROR_BAD_MODEL && !aec_coder_can_encode(a),
          "a failed load leaves no model");
    uint8_t id[AEC_MODEL_ID_BYTES];
    CHECK(aec_coder_model_id(a, id) == AEC_ERROR_NO_MODEL && aec_coder_model_id(NULL, id),
          "no model id");
    CHECK(!strcmp(aec_coder_message(NULL), "") && aec_coder_can_encode(NULL) == 0, "NULL coder");
    aec_coder_free(a);
    aec_coder_free(NULL);
}

static int make_models(aec_codec *c, model_bytes *mb, uint8_t **other, size_t *other_len,
                       const uint8_t *img)
{
    char err[256];
    aec_codec c2;
    if (tiny_codec(c, 7, err, sizeof err) || tiny_codec(&c2, 8, err, sizeof err)) {
        CHECK(0, "tiny codecs: %s", err);
        return -1;
    }
    int bad = aec_codec_serialize(c, 0, NULL, &mb->full, &mb->full_len) ||
              aec_codec_serialize(c, 1, NULL, &mb->dec, &mb->dec_len) ||
              aec_encode(&c2, img, W, H, 50, other, other_len, err, sizeof err);
    aec_codec_free(&c2);
    CHECK(!bad, "model files and another model's .aec");
    return bad ? -1 : 0;
}

int main(void)
{
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return check_report("test_api");
    }
    test_version_and_strings();
    uint8_t *img = tiny_smooth_image(W, H, 3), *other = NULL, *file = NULL;
    size_t other_len = 0, len = 0;
    aec_codec c;
    model_bytes mb = {0};
    if (img && make_models(&c, &mb, &other, &other_len, img) == 0) {
        test_load_errors(&mb);
        test_same_as_codec(&c, &mb, img);
        test_target(&c, &mb, img);
        test_model_sources(&mb, img);
        test_same_as_tool(&mb, img);
        test_threads(&mb, img);
        aec_coder *a = coder_from(mb.full, mb.full_len, 0);
        CHECK(aec_encode_rgb(a, img, W, H, NULL, &file, &len) == AEC_OK, "%s",
              aec_coder_message(a));
        aec_coder_free(a);
        if (file) test_decode_errors(&mb, file, len, other, other_len);
        test_encode_errors(&mb, img);
        aec_codec_free(&c);
    }
    free(img);
    free(other);
    free(file);
    free(mb.full);
    free(mb.dec);
    rmdir(tmp);
    return check_report("test_api");
}
