/* tests/test_spec_example.c - the worked example of spec/aec-format.md is
 * real: the hex dump in the document's ```hex block is read from the file
 * at test time, parsed as a container and its stream decoded to the
 * documented values; encoding those values again reproduces the dump byte
 * for byte. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdf_tables.h"
#include "check.h"
#include "container.h"
#include "rangecoder.h"

#define SPEC_NAME "spec/aec-format.md"
#define MAX_DUMP 4096

/* the example as the document states it */
static const int32_t example_values[8] = {0, 1, -1, 0, 2, 7, 0, -5};
static const uint32_t example_cdf[7] = {0, 4096, 16384, 49152, 61440, 64512, 65536};
static const uint8_t example_model[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

/* The spec from the working directory (make runs tests from the repository
 * root), else next to this source file. */
static char *read_spec(size_t *len)
{
    const char *candidates[3] = {getenv("AEC_SPEC"), SPEC_NAME, NULL};
    char beside[512];
    const char *slash = strrchr(__FILE__, '/');
    if (slash) {
        snprintf(beside, sizeof beside, "%.*s/../" SPEC_NAME, (int)(slash - __FILE__), __FILE__);
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

int main(void)
{
    size_t spec_len = 0;
    char *spec = read_spec(&spec_len);
    CHECK(spec != NULL, "cannot read %s", SPEC_NAME);
    if (!spec) return check_report("test_spec_example");
    static uint8_t dump[MAX_DUMP];
    long n = extract_hex_block(spec, dump, sizeof dump);
    CHECK(n > 0, "no readable ```hex block in %s", SPEC_NAME);
    CHECK(strstr(spec, "`0, 1, -1, 0, 2, 7, 0, -5`") != NULL,
          "the document no longer states the example's values");
    CHECK(strstr(spec, "cdf = [0, 4096, 16384, 49152, 61440, 64512, 65536]") != NULL,
          "the document no longer states the example's table");
    CHECK(strstr(spec, "## Latent layout") != NULL, "Latent layout section missing");
    if (n <= 0) {
        free(spec);
        return check_report("test_spec_example");
    }

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
    free(spec);
    return check_report("test_spec_example");
}
