/* tests/fuzz_decode.c - libFuzzer harness for everything that reads untrusted
 * bytes: the .aec container parser, the range decoder over its streams and
 * the stored table-set parser. Run with `make fuzz SECONDS=N` (clang,
 * -fsanitize=fuzzer,address,undefined; Debian: libclang-rt-14-dev).
 *
 * Each input is used four ways:
 *  1. parsed as a container as it is;
 *  2. parsed again with its last 4 bytes replaced by the right CRC-32, so
 *     mutations get past the checksum, and its streams decoded: stream s
 *     holds min(width, 4096) values, value i coded under table
 *     fuzz_table(s, i) of a fixed set; a stream that decodes cleanly is
 *     re-encoded and decoded again, and must give the same values;
 *  3. decoded as one raw entropy stream;
 *  4. parsed as a stored table set.
 * Crashes, sanitizer reports, hangs and round-trip mismatches (abort) are
 * findings.
 *
 * Built with -DAEC_FUZZ_WRITE_CORPUS instead, the file is a program that
 * writes the seed corpus (valid files for this table set) into the folder
 * given as its argument:
 *   make build/fuzz/fuzz_decode_corpus && build/fuzz/fuzz_decode_corpus tests/fuzz_corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/cdf_tables.h"
#include "codec/container.h"
#include "codec/rangecoder.h"

#define FUZZ_MAX_VALUES 4096
#define FUZZ_MAX_INPUT (1u << 20)

/* 12 Gaussian tables from scale 0.11 to 64, and one 1-symbol table that
 * makes nearly every value an escape. */
typedef struct {
    aec_cdf_set gaussian;
    aec_cdf_set tiny;
} fuzz_tables;

static int fuzz_tables_build(fuzz_tables *ft)
{
    double scales[12];
    aec_scales_logspace(0.11, 64, 12, scales);
    if (aec_cdf_set_build_gaussian(&ft->gaussian, scales, 12, 1e-6, 4095) != 0) return -1;
    const uint32_t one = 1;
    if (aec_cdf_set_alloc(&ft->tiny, AEC_CDF_KIND_INDEXED, 1, &one) != 0) return -1;
    ft->tiny.tables[0].offset = -3;
    ft->tiny.tables[0].cdf[1] = 1u << 15;
    ft->tiny.tables[0].cdf[2] = AEC_CDF_TOTAL;
    return 0;
}

static const aec_cdf_table *fuzz_table(const fuzz_tables *ft, uint32_t stream, uint32_t i)
{
    if (i % 5 == 4) return &ft->tiny.tables[0];
    return &ft->gaussian.tables[(i * 7 + stream * 3) % ft->gaussian.n_tables];
}

static uint32_t fuzz_value_count(const aec_container *c)
{
    return c->width < FUZZ_MAX_VALUES ? c->width : FUZZ_MAX_VALUES;
}

/* Decodes n values of stream s; returns the decoder's final status. */
static int decode_stream(const fuzz_tables *ft, const uint8_t *buf, size_t len, uint32_t s,
                         uint32_t n, int32_t *values)
{
    aec_rc_decoder dec;
    aec_rc_decoder_init(&dec, buf, len);
    for (uint32_t i = 0; i < n; i++)
        if (aec_rc_decode(&dec, fuzz_table(ft, s, i), &values[i]) != AEC_RC_OK) break;
    return aec_rc_decoder_finish(&dec);
}

static void check_round_trip(const fuzz_tables *ft, uint32_t s, uint32_t n, const int32_t *values)
{
    aec_rc_encoder enc;
    aec_rc_encoder_init(&enc);
    for (uint32_t i = 0; i < n; i++) aec_rc_encode(&enc, fuzz_table(ft, s, i), values[i]);
    uint8_t *stream;
    size_t len;
    if (aec_rc_encoder_finish(&enc, &stream, &len) != AEC_RC_OK) abort();
    static int32_t again[FUZZ_MAX_VALUES];
    if (decode_stream(ft, stream, len, s, n, again) != AEC_RC_OK) abort();
    if (memcmp(again, values, n * sizeof *values) != 0) abort();
    free(stream);
}

/* Returns the number of streams that decoded cleanly, -1 if the container
 * was refused. */
static int decode_container(const fuzz_tables *ft, const uint8_t *data, size_t size)
{
    aec_container c;
    char err[200];
    if (aec_container_parse(data, size, NULL, &c, err, sizeof err) != AEC_CONTAINER_OK) {
        if (!err[0] || strchr(err, '\n')) abort(); /* every error has its one line */
        return -1;
    }
    static int32_t values[FUZZ_MAX_VALUES];
    uint32_t n = fuzz_value_count(&c);
    int clean = 0;
    for (uint32_t s = 0; s < c.n_streams; s++) {
        memset(values, 0, sizeof values);
        if (decode_stream(ft, c.stream[s], c.stream_len[s], s, n, values) == AEC_RC_OK) {
            check_round_trip(ft, s, n, values);
            clean++;
        }
    }
    return clean;
}

#ifndef AEC_FUZZ_WRITE_CORPUS

static fuzz_tables tables; /* built once: libFuzzer's entry point takes no context */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (fuzz_tables_build(&tables) != 0) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT) return 0;
    /* 1: as it is */
    aec_container c;
    char err[200];
    aec_container_parse(data, size, NULL, &c, err, sizeof err);
    /* 2: with the checksum made right, then its streams */
    if (size >= 4) {
        uint8_t *fixed = malloc(size);
        if (!fixed) return 0;
        memcpy(fixed, data, size);
        uint32_t crc = (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), fixed, size - 4);
        for (int i = 0; i < 4; i++) fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        decode_container(&tables, fixed, size);
        free(fixed);
    }
    /* 3: as one raw entropy stream */
    static int32_t values[FUZZ_MAX_VALUES];
    uint32_t n = size < 8 ? 64 : FUZZ_MAX_VALUES;
    if (decode_stream(&tables, data, size, 0, n, values) == AEC_RC_OK)
        check_round_trip(&tables, 0, n, values);
    /* 4: as a stored table set */
    aec_cdf_set set;
    if (aec_cdf_set_deserialize(&set, data, size, err, sizeof err) == 0) {
        /* a set that loads must be usable: one value per table, both ways */
        aec_rc_encoder enc;
        aec_rc_encoder_init(&enc);
        for (uint32_t t = 0; t < set.n_tables; t++)
            if (aec_rc_encode(&enc, &set.tables[t], (int32_t)t - 2) != AEC_RC_OK) abort();
        uint8_t *stream;
        size_t len;
        if (aec_rc_encoder_finish(&enc, &stream, &len) != AEC_RC_OK) abort();
        aec_rc_decoder dec;
        aec_rc_decoder_init(&dec, stream, len);
        for (uint32_t t = 0; t < set.n_tables; t++) {
            int32_t v;
            if (aec_rc_decode(&dec, &set.tables[t], &v) != AEC_RC_OK || v != (int32_t)t - 2)
                abort();
        }
        if (aec_rc_decoder_finish(&dec) != AEC_RC_OK) abort();
        free(stream);
        aec_cdf_set_free(&set);
    }
    return 0;
}

#else /* AEC_FUZZ_WRITE_CORPUS: write the seed files */

static uint64_t seed_state;

static uint32_t seed_below(uint32_t n)
{
    seed_state = seed_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((seed_state >> 33) % n);
}

static int write_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(buf, 1, len, f);
    return fclose(f) == 0 && put == len ? 0 : -1;
}

/* A valid file: n_streams streams of `width` values under this harness's
 * tables, values around zero with a few escapes. */
static int write_seed(const fuzz_tables *ft, const char *dir, const char *name, uint32_t width,
                      uint32_t height, uint32_t n_streams, int spread)
{
    aec_container c = {0};
    uint8_t *streams[AEC_MAX_STREAMS] = {0};
    for (int i = 0; i < AEC_MODEL_ID_SIZE; i++) c.model_id[i] = (uint8_t)(0x10 * i + 1);
    c.width = width;
    c.height = height;
    c.quality_x100 = aec_quality_to_x100(50.0);
    c.n_streams = n_streams;
    uint32_t n = fuzz_value_count(&c);
    for (uint32_t s = 0; s < n_streams; s++) {
        aec_rc_encoder enc;
        aec_rc_encoder_init(&enc);
        for (uint32_t i = 0; i < n; i++) {
            int32_t v = (int32_t)seed_below(2 * (uint32_t)spread + 1) - spread;
            if (seed_below(50) == 0) v = (int32_t)(seed_below(1u << 31) - (1u << 30));
            aec_rc_encode(&enc, fuzz_table(ft, s, i), v);
        }
        if (aec_rc_encoder_finish(&enc, &streams[s], &c.stream_len[s]) != AEC_RC_OK) return -1;
        c.stream[s] = streams[s];
    }
    uint8_t *file;
    size_t len;
    int rc = aec_container_write(&c, &file, &len);
    for (uint32_t s = 0; s < n_streams; s++) free(streams[s]);
    if (rc != AEC_CONTAINER_OK) return -1;
    /* a seed must get through every check of the harness */
    rc = decode_container(ft, file, len) == (int)n_streams ? write_file(dir, name, file, len) : -1;
    free(file);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    fuzz_tables ft;
    memset(&ft, 0, sizeof ft);
    if (fuzz_tables_build(&ft) != 0) return 1;
    seed_state = 1;
    int bad = write_seed(&ft, argv[1], "seed-1x1-one-stream.aec", 1, 1, 1, 0);
    bad |= write_seed(&ft, argv[1], "seed-16x8-two-streams.aec", 16, 8, 2, 2);
    bad |= write_seed(&ft, argv[1], "seed-64x64-two-streams.aec", 64, 64, 2, 6);
    bad |= write_seed(&ft, argv[1], "seed-300x2-four-streams.aec", 300, 2, 4, 40);
    /* a stored table set, for the table parser */
    uint8_t *blob;
    size_t len;
    if (aec_cdf_set_serialize(&ft.tiny, &blob, &len) != 0) return 1;
    bad |= write_file(argv[1], "seed-table-set.bin", blob, len);
    free(blob);
    aec_cdf_set_free(&ft.gaussian);
    aec_cdf_set_free(&ft.tiny);
    return bad ? 1 : 0;
}

#endif
