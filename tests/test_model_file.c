/* .aecm files: round trip of weights, metadata, extra chunks and a
 * checkpoint's optimiser state (tools/train/checkpoint.h, the ADAM chunk);
 * decoder-only loading; each kind of damage refused with its own message
 * and no file left behind by a failed save. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "codec/model_file.h"
#include "tests/check.h"
#include "tests/small_model.h"
#include "tools/train/checkpoint.h"
#include "tools/train/model_train.h"

static aec_model small_model(void)
{
    aec_model m;
    if (small_model_create(&m, 4, 6, 2, 3)) abort();
    return m;
}

static int write_bytes(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(b, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

int main(void)
{
    char dir[] = "/tmp/aec_test_model_file_XXXXXX", path[256], bad[256], err[512];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/m.aecm", dir);
    snprintf(bad, sizeof bad, "%s/bad.aecm", dir);

    aec_model m = small_model();
    nn_adam adam;
    CHECK(nn_adam_init(&adam, m.p.count) == 0, "adam");
    /* the gaps between aligned blocks are not stored: fill only the blocks */
    for (int k = 0; k < m.p.n_entries; k++)
        for (size_t i = m.p.entries[k].offset; i < m.p.entries[k].offset + m.p.entries[k].count; i++) {
            adam.m[i] = (float)i * 0.5f;
            adam.v[i] = (float)i * 0.25f;
        }
    adam.step = 12345;
    const uint8_t payload[5] = {1, 2, 3, 4, 5};
    aec_chunk extra = {{'Z', 'C', 'D', 'F'}, payload, sizeof payload};
    CHECK(aec_checkpoint_save(path, &m, "data=x\nsteps=7\n", &adam, &extra, 1, err, sizeof err) == 0,
          "save: %s", err);

    aec_model m2;
    nn_adam adam2;
    char *meta = NULL;
    int has_opt = 0;
    size_t len = 0;
    uint8_t *buf = aec_read_file(path, 1 << 26, &len, err, sizeof err);
    CHECK(buf != NULL, "read: %s", err);
    CHECK(buf && aec_checkpoint_parse(buf, len, path, &m2, &meta, &adam2, &has_opt, NULL, NULL, err,
                                      sizeof err) == 0, "load: %s", err);
    CHECK(m2.arch.n == 4 && m2.arch.m == 6 && m2.arch.levels == 2 &&
              m2.arch.lambda[1] == m.arch.lambda[1], "arch round trip");
    CHECK(m2.p.count == m.p.count && memcmp(m2.p.value, m.p.value, m.p.count * 4) == 0,
          "weights round trip");
    CHECK(meta && strcmp(meta, "data=x\nsteps=7\n") == 0, "meta round trip");
    CHECK(has_opt && adam2.step == 12345 && memcmp(adam2.m, adam.m, m.p.count * 4) == 0 &&
              memcmp(adam2.v, adam.v, m.p.count * 4) == 0, "optimiser round trip");
    free(meta);
    nn_adam_free(&adam2);
    aec_model_free(&m2);

    /* the ADAM chunk as the spec lays it out: step (u64), then the moments */
    size_t adam_len = 0;
    const uint8_t *ad = aec_model_find_chunk(buf, len, "ADAM", &adam_len);
    CHECK(ad && adam_len > 12 && ad[0] == (12345 & 0xff) && ad[1] == (12345 >> 8) && !ad[2] &&
              !ad[3] && !ad[4] && !ad[5] && !ad[6] && !ad[7], "ADAM starts with the step");
    /* without an optimiser to fill, the checkpoint loads as a model */
    has_opt = 1;
    CHECK(aec_checkpoint_parse(buf, len, path, &m2, NULL, NULL, &has_opt, NULL, NULL, err,
                               sizeof err) == 0 && !has_opt, "loaded without the optimiser: %s", err);
    aec_model_free(&m2);

    /* extra chunks (ADAM among them, as the codec does not read it) and
     * decoder-only parsing from memory */
    aec_chunk got[AEC_MODEL_MAX_EXTRA];
    int n_got = 0;
    aec_model dec;
    CHECK(aec_model_parse(buf, len, "mem", 1, &dec, NULL, got, &n_got, err, sizeof err) == 0,
          "decoder parse: %s", err);
    CHECK(n_got == 2 && memcmp(got[0].tag, "ADAM", 4) == 0 && got[0].len == adam_len &&
              memcmp(got[1].tag, "ZCDF", 4) == 0 && got[1].len == 5 &&
              memcmp(got[1].data, payload, 5) == 0, "extra chunks returned, ADAM first");
    CHECK(dec.decoder_only && dec.p.count < m.p.count, "decoder model is smaller");
    const nn_param_entry *e = nn_params_find(&dec.p, "g_s.deconv2.weight");
    const nn_param_entry *f = nn_params_find(&m.p, "g_s.deconv2.weight");
    CHECK(e && f && memcmp(dec.p.value + e->offset, m.p.value + f->offset, e->count * 4) == 0,
          "decoder weights picked out by name");
    CHECK(nn_params_find(&dec.p, "g_a.conv0.weight") == NULL, "no analysis in the decoder");
    aec_model_free(&dec);

    /* a damaged optimiser state (its first moment's length past the chunk)
     * fails the checkpoint's load, with nothing left allocated */
    if (ad) {
        uint8_t *q = buf + (ad - buf) + 8;
        q[3] ^= 0x40;
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(len - 4));
        uint8_t old_crc[4];
        memcpy(old_crc, buf + len - 4, 4);
        for (int i = 0; i < 4; i++) buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
        meta = NULL;
        CHECK(aec_checkpoint_parse(buf, len, path, &m2, &meta, &adam2, &has_opt, NULL, NULL, err,
                                   sizeof err) == -1 && strstr(err, "bad optimiser state") &&
                  strstr(err, path) && !has_opt && !meta, "bad ADAM chunk: %s", err);
        q[3] ^= 0x40;
        memcpy(buf + len - 4, old_crc, 4);
    }

    /* damage: each gives its own message naming the file */
    buf[len / 2] ^= 0x40;
    CHECK(write_bytes(bad, buf, len) == 0, "write");
    CHECK(aec_model_load(bad, &m2, NULL, err, sizeof err) == -1 && strstr(err, bad) &&
              strstr(err, "CRC mismatch"), "flipped byte: %s", err);
    buf[len / 2] ^= 0x40;
    CHECK(write_bytes(bad, buf, len - 10) == 0, "write");
    CHECK(aec_model_load(bad, &m2, NULL, err, sizeof err) == -1 && strstr(err, "CRC"),
          "truncated: %s", err);
    CHECK(write_bytes(bad, (const uint8_t *)"hello world, not a model", 24) == 0, "write");
    CHECK(aec_model_load(bad, &m2, NULL, err, sizeof err) == -1 &&
              strstr(err, "not an aec model file"), "not a model: %s", err);
    snprintf(bad, sizeof bad, "%s/missing.aecm", dir);
    CHECK(aec_model_load(bad, &m2, NULL, err, sizeof err) == -1 &&
              strstr(err, "cannot open"), "missing: %s", err);
    free(buf);

    /* a context model: ARCH's flags word round trips; an unknown flag is refused */
    {
        aec_arch ca = m.arch;
        ca.context = 1;
        aec_model cm, back;
        CHECK(aec_model_create(&cm, &ca) == 0, "context model");
        aec_model_init(&cm, 4);
        uint8_t *cb = NULL;
        size_t cl = 0;
        CHECK(aec_model_serialize_f16(&cm, NULL, NULL, 0, &cb, &cl) == 0, "serialize context model");
        CHECK(cb && aec_model_parse(cb, cl, "ctx", 0, &back, NULL, NULL, NULL, err,
                                    sizeof err) == 0 && back.arch.context == 1 &&
                  nn_params_find(&back.p, "ep.conv1.weight") != NULL,
              "context flag and layers round trip: %s", err);
        if (cb) {
            aec_model_free(&back);
            /* the flags word is the ARCH payload's last 4 bytes: 8 signature,
             * 8 chunk header, 12 + 4 levels */
            size_t at = 8 + 8 + 12 + 4 * (size_t)ca.levels;
            CHECK(cb[at] == 1, "flags word where the spec puts it");
            cb[at] = 3;
            uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), cb, (uInt)(cl - 4));
            for (int i = 0; i < 4; i++) cb[cl - 4 + i] = (uint8_t)(crc >> (8 * i));
            CHECK(aec_model_parse(cb, cl, "ctx", 0, &back, NULL, NULL, NULL, err,
                                  sizeof err) == -1 && strstr(err, "bad ARCH"),
                  "an unknown ARCH flag is refused: %s", err);
        }
        free(cb);
        aec_model_free(&cm);
    }

    /* a failed save leaves nothing behind */
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.aecm", dir);
    CHECK(aec_model_save(bad, &m, NULL, NULL, 0, err, sizeof err) == -1 && strstr(err, bad),
          "unwritable: %s", err);

    unlink(path);
    snprintf(bad, sizeof bad, "%s/bad.aecm", dir);
    unlink(bad);
    CHECK(rmdir(dir) == 0, "no stray files left in %s", dir);
    nn_adam_free(&adam);
    aec_model_free(&m);
    return check_report("test_model_file");
}
