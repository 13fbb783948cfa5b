/* tests/test_container.c - the .aec container: round trips, the size of the
 * header, and one distinct error code and message for each kind of bad
 * file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/container.h"
#include "codec/varint.h"
#include "tests/check.h"

static const uint8_t model_a[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static const uint8_t model_b[8] = {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};

static uint64_t rng_state = 12345;

static uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int sanitized(void)
{
    const char *s = getenv("AEC_TEST_SANITIZED");
    return s && *s && strcmp(s, "0") != 0;
}

/* A header written field by field, whatever the values, with a correct CRC,
 * to reach the checks that come after the CRC. */
static size_t raw_file(uint8_t *buf, uint8_t format, uint32_t width, uint32_t height,
                       uint32_t quality, uint32_t n_streams, const uint32_t *lengths)
{
    size_t n = 0;
    memcpy(buf, "AEC", 3);
    n = 3;
    buf[n++] = format;
    memcpy(buf + n, model_a, 8);
    n += 8;
    n += aec_varint_put(buf + n, width);
    n += aec_varint_put(buf + n, height);
    n += aec_varint_put(buf + n, quality);
    n += aec_varint_put(buf + n, n_streams);
    for (uint32_t i = 0; i < n_streams; i++) n += aec_varint_put(buf + n, lengths[i]);
    for (uint32_t i = 0; i < n_streams; i++)
        for (uint32_t k = 0; k < lengths[i]; k++) buf[n++] = (uint8_t)(i * 16 + k);
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)n);
    for (int i = 0; i < 4; i++) buf[n++] = (uint8_t)(crc >> (8 * i));
    return n;
}

static int one_line(const char *s)
{
    return s[0] && !strchr(s, '\n');
}

static void expect_error(const uint8_t *buf, size_t len, const uint8_t *model, int code,
                         const char *needle, const char *what)
{
    aec_container c;
    char err[200];
    int rc = aec_container_parse(buf, len, model, &c, err, sizeof err);
    CHECK(rc == code, "%s: code %d, expected %d (%s)", what, rc, code, err);
    CHECK(one_line(err) && strstr(err, needle), "%s: message \"%s\" lacks \"%s\"", what, err,
          needle);
    CHECK(c.n_streams == 0 && c.width == 0, "%s: output not cleared", what);
}

static void test_round_trip(void)
{
    uint8_t s0[700], s1[500];
    for (size_t i = 0; i < sizeof s0; i++) s0[i] = (uint8_t)rng_u64();
    for (size_t i = 0; i < sizeof s1; i++) s1[i] = (uint8_t)rng_u64();
    aec_container c = {0};
    memcpy(c.model_id, model_a, 8);
    c.width = 768;
    c.height = 512;
    c.layout = AEC_LAYOUT_RGB;
    c.quality_x100 = aec_quality_to_x100(75.5);
    c.n_streams = 2;
    c.stream[0] = s0;
    c.stream_len[0] = sizeof s0;
    c.stream[1] = s1;
    c.stream_len[1] = sizeof s1;
    uint8_t *file;
    size_t len;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_OK, "write");
    size_t overhead = len - sizeof s0 - sizeof s1;
    /* 3 magic + 1 format + 8 model + 2 + 2 dims + 2 quality + 1 count + 2 + 2
     * lengths + 4 CRC */
    CHECK(overhead == 27, "typical overhead %zu bytes", overhead);
    if (getenv("AEC_TEST_VERBOSE"))
        printf("768x512, 2 streams (700 + 500 bytes): %zu bytes of container overhead\n",
               overhead);
    aec_container back;
    char err[200] = "";
    CHECK(aec_container_parse(file, len, model_a, &back, err, sizeof err) == AEC_CONTAINER_OK,
          "parse: %s", err);
    CHECK(back.width == 768 && back.height == 512 && back.quality_x100 == 7550 &&
              back.layout == AEC_LAYOUT_RGB && back.n_streams == 2 &&
              !memcmp(back.model_id, model_a, 8),
          "fields");
    CHECK(back.stream_len[0] == sizeof s0 && back.stream_len[1] == sizeof s1 &&
              !memcmp(back.stream[0], s0, sizeof s0) && !memcmp(back.stream[1], s1, sizeof s1),
          "streams");
    CHECK(back.stream[0] > file && back.stream[1] + back.stream_len[1] + 4 == file + len,
          "streams are views into the file");
    CHECK(aec_container_parse(file, len, NULL, &back, err, sizeof err) == AEC_CONTAINER_OK,
          "parse without a model check");

    /* every prefix is truncated, every single-bit flip is refused */
    int wrong_cut = 0, flips_accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        aec_container t;
        if (aec_container_parse(file, cut, NULL, &t, err, sizeof err) !=
            AEC_CONTAINER_ERR_TRUNCATED)
            wrong_cut++;
    }
    CHECK(wrong_cut == 0, "%d prefixes not reported as truncated", wrong_cut);
    for (size_t bit = 0; bit < 8 * len; bit += sanitized() ? 7 : 1) {
        file[bit / 8] ^= (uint8_t)(1u << bit % 8);
        aec_container t;
        if (aec_container_parse(file, len, NULL, &t, err, sizeof err) == AEC_CONTAINER_OK)
            flips_accepted++;
        file[bit / 8] ^= (uint8_t)(1u << bit % 8);
    }
    CHECK(flips_accepted == 0, "%d single-bit flips accepted", flips_accepted);
    free(file);

    /* limits that are allowed, empty streams, the most streams */
    uint8_t one = 0x42;
    aec_container big = {0};
    big.width = 65535;
    big.height = 4096; /* 268431360 pixels <= 2^28 */
    big.quality_x100 = 10000;
    big.n_streams = AEC_MAX_STREAMS;
    for (int i = 0; i < AEC_MAX_STREAMS; i++) {
        big.stream[i] = i % 2 ? &one : NULL;
        big.stream_len[i] = i % 2;
    }
    CHECK(aec_container_write(&big, &file, &len) == AEC_CONTAINER_OK, "write limits");
    CHECK(aec_container_parse(file, len, NULL, &back, err, sizeof err) == AEC_CONTAINER_OK &&
              back.n_streams == AEC_MAX_STREAMS && back.stream_len[3] == 1 &&
              back.stream[3][0] == 0x42 && back.stream_len[4] == 0 && back.width == 65535,
          "parse limits: %s", err);
    free(file);
    big.width = big.height = 1;
    big.n_streams = 1;
    big.quality_x100 = 0;
    CHECK(aec_container_write(&big, &file, &len) == AEC_CONTAINER_OK && len == 21,
          "smallest file %zu bytes", len);
    CHECK(aec_container_parse(file, len, NULL, &back, err, sizeof err) == AEC_CONTAINER_OK,
          "1x1 parses");
    free(file);
}

static void test_writer_refuses(void)
{
    aec_container c = {0};
    uint8_t *file = (uint8_t *)&c;
    size_t len = 99;
    c.width = 0;
    c.height = 10;
    c.n_streams = 1;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_ERR_DIMENSIONS && !file &&
              len == 0,
          "width 0");
    c.width = 65536;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_ERR_DIMENSIONS, "width 65536");
    c.width = 65535;
    c.height = 4097;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_ERR_DIMENSIONS, "> 2^28 pixels");
    c.height = 10;
    c.n_streams = 0;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_ERR_ARG, "no streams");
    c.n_streams = AEC_MAX_STREAMS + 1;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_ERR_ARG, "17 streams");
    c.n_streams = 1;
    c.quality_x100 = 10001;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_ERR_ARG, "quality");
    c.quality_x100 = 0;
    c.layout = 1;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_ERR_ARG, "layout");
    c.layout = 0;
    c.stream_len[0] = 5;
    CHECK(aec_container_write(&c, &file, &len) == AEC_CONTAINER_ERR_ARG, "NULL stream");

    CHECK(aec_quality_to_x100(75.5) == 7550 && aec_quality_to_x100(33.333) == 3333 &&
              aec_quality_to_x100(-1) == 0 && aec_quality_to_x100(100.7) == 10000 &&
              aec_quality_to_x100(NAN) == 0 && aec_quality_to_x100(0.005) == 1,
          "quality rounding");
    char hex[17];
    aec_model_id_hex(model_a, hex);
    CHECK(strcmp(hex, "0123456789abcdef") == 0, "hex id %s", hex);
}

static void test_bad_files(void)
{
    uint8_t buf[256];
    uint32_t lens[17] = {3, 2};
    size_t n;

    n = raw_file(buf, 0x10, 64, 48, 5000, 2, lens);
    expect_error(buf, n, model_b, AEC_CONTAINER_ERR_MODEL,
                 "model mismatch: file was coded with model 0123456789abcdef, this decoder has "
                 "model fedcba9876543210",
                 "other model");
    aec_container c;
    char err[200];
    CHECK(aec_container_parse(buf, n, model_a, &c, err, sizeof err) == AEC_CONTAINER_OK,
          "the raw file itself is fine: %s", err);

    expect_error((const uint8_t *)"\x89PNG\r\n\x1a\n", 8, NULL, AEC_CONTAINER_ERR_MAGIC,
                 "not an .aec file", "PNG");
    expect_error((const uint8_t *)"AB", 2, NULL, AEC_CONTAINER_ERR_MAGIC, "not an .aec file",
                 "short non-magic");
    expect_error((const uint8_t *)"", 0, NULL, AEC_CONTAINER_ERR_TRUNCATED, "empty", "empty");
    expect_error((const uint8_t *)"AE", 2, NULL, AEC_CONTAINER_ERR_TRUNCATED, "truncated",
                 "magic prefix");

    n = raw_file(buf, 0x20, 64, 48, 5000, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_VERSION, "unsupported .aec version 2", "v2");
    n = raw_file(buf, 0x00, 64, 48, 5000, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_VERSION, "version 0", "v0");

    n = raw_file(buf, 0x10, 64, 48, 5000, 2, lens);
    buf[n - 7] ^= 1; /* a payload byte */
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_CRC, "CRC-32", "payload flip");
    n = raw_file(buf, 0x10, 64, 48, 5000, 2, lens);
    buf[n - 1] ^= 0x80; /* the CRC itself */
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_CRC, "damaged", "CRC flip");

    n = raw_file(buf, 0x10, 64, 48, 5000, 2, lens);
    expect_error(buf, n - 1, NULL, AEC_CONTAINER_ERR_TRUNCATED, "the header declares",
                 "one byte short");
    buf[n] = 0;
    expect_error(buf, n + 1, NULL, AEC_CONTAINER_ERR_TRAILING, "1 unexpected bytes", "trailing");
    expect_error(buf, 13, NULL, AEC_CONTAINER_ERR_TRUNCATED, "inside the height field",
                 "cut in a field");

    n = raw_file(buf, 0x10, 0, 48, 5000, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_DIMENSIONS, "bad .aec dimensions 0x48", "width 0");
    n = raw_file(buf, 0x10, 64, 0, 5000, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_DIMENSIONS, "64x0", "height 0");
    n = raw_file(buf, 0x10, 65536, 1, 5000, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_DIMENSIONS, "65536x1", "width 65536");
    n = raw_file(buf, 0x10, 30000, 30000, 5000, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_DIMENSIONS, "at most 268435456 pixels",
                 "900M pixels");
    n = raw_file(buf, 0x10, UINT32_MAX, UINT32_MAX, 5000, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_DIMENSIONS, "4294967295x", "2^32-1 squared");

    n = raw_file(buf, 0x10, 64, 48, 10001, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_FIELD, "quality 100.01", "quality");
    n = raw_file(buf, 0x11, 64, 48, 5000, 2, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_FIELD, "channel layout 1", "layout");
    n = raw_file(buf, 0x10, 64, 48, 5000, 0, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_FIELD, "0 streams", "no streams");
    n = raw_file(buf, 0x10, 64, 48, 5000, 17, lens);
    expect_error(buf, n, NULL, AEC_CONTAINER_ERR_FIELD, "17 streams", "17 streams");
    n = raw_file(buf, 0x10, 64, 48, 5000, 2, lens);
    /* width 64 -> the overlong 0xC0 0x00 */
    memmove(buf + 14, buf + 13, n - 13);
    buf[12] = 0xC0;
    buf[13] = 0x00;
    expect_error(buf, n + 1, NULL, AEC_CONTAINER_ERR_FIELD, "width at byte 12 is not a valid varint",
                 "overlong varint");
    uint32_t huge[2] = {UINT32_MAX, UINT32_MAX};
    n = raw_file(buf, 0x10, 64, 48, 5000, 0, huge); /* header only, then declare 2 huge streams */
    n = 3 + 1 + 8 + 1 + 1 + 2;
    buf[n++] = 2;
    n += aec_varint_put(buf + n, huge[0]);
    n += aec_varint_put(buf + n, huge[1]);
    expect_error(buf, n + 4, NULL, AEC_CONTAINER_ERR_TRUNCATED, "declares 8589934621",
                 "streams of 4 GiB");

    /* distinct codes, distinct generic messages */
    int distinct = 1;
    for (int a = AEC_CONTAINER_ERR_ARG; a <= 0; a++)
        for (int b = a + 1; b <= 0; b++)
            if (!strcmp(aec_container_strerror(a), aec_container_strerror(b))) distinct = 0;
    CHECK(distinct, "strerror messages distinct");
    CHECK(!strcmp(aec_container_strerror(AEC_CONTAINER_ERR_MAGIC), "not an .aec file"),
          "strerror magic");
}

/* random and mutated inputs: parse always returns, and only the untouched
 * file is accepted */
static void test_garbage(void)
{
    const int trials = sanitized() ? 20000 : 200000;
    uint8_t buf[96];
    uint32_t lens[2] = {20, 9};
    size_t valid = raw_file(buf, 0x10, 640, 480, 8000, 2, lens);
    int accepted = 0;
    for (int t = 0; t < trials; t++) {
        uint8_t copy[96];
        size_t n = valid;
        memcpy(copy, buf, valid);
        if (t % 2) {
            int edits = 1 + (int)(rng_u64() % 4);
            for (int e = 0; e < edits; e++) copy[rng_u64() % valid] ^= (uint8_t)(1 + rng_u64() % 255);
            n = (size_t)(rng_u64() % (valid + 1));
        } else {
            n = (size_t)(rng_u64() % sizeof copy);
            for (size_t i = 0; i < n; i++) copy[i] = (uint8_t)rng_u64();
            if (t % 4 == 0 && n >= 4) memcpy(copy, "AEC\x10", 4);
        }
        aec_container c;
        char err[200];
        int rc = aec_container_parse(copy, n, NULL, &c, err, sizeof err);
        if (rc == AEC_CONTAINER_OK && !(n == valid && !memcmp(copy, buf, n))) accepted++;
        if (rc != AEC_CONTAINER_OK && !one_line(err)) accepted++;
    }
    CHECK(accepted == 0, "%d damaged inputs accepted (or no message)", accepted);
}

int main(void)
{
    test_round_trip();
    test_writer_refuses();
    test_bad_files();
    test_garbage();
    return check_report("test_container");
}
