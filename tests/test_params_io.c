/* Checks of the parameter blob and its files: exact round trips, a specific
 * one-line message for each kind of bad input, and atomic saving. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nn/params.h"
#include "nn/rng.h"
#include "tests/check.h"

/* The reference model: four blocks, two of the same shape and name length
 * (so a duplicate can be forged). extra / drop / reshape vary it. */
enum { MODEL_SAME, MODEL_EXTRA, MODEL_DROP, MODEL_RESHAPE };

static int make_model(nn_params *p, int variant)
{
    nn_params_init(p);
    int ok = nn_params_declare(p, "enc.conv0.weight", 4, 3, 3, 3) != (size_t)-1;
    ok = ok && nn_params_declare(p, "enc.conv0.bias", 4, 1, 1, 1) != (size_t)-1;
    ok = ok && nn_params_declare(p, "enc.gdn0.beta", variant == MODEL_RESHAPE ? 5 : 4, 1, 1, 1) != (size_t)-1;
    if (variant != MODEL_DROP) ok = ok && nn_params_declare(p, "enc.gdn0.gamm", 4, 1, 1, 1) != (size_t)-1;
    if (variant == MODEL_EXTRA) ok = ok && nn_params_declare(p, "dec.gain", 8, 1, 1, 1) != (size_t)-1;
    return ok && nn_params_alloc(p) == 0 ? 0 : -1;
}

static void fill_values(nn_params *p, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    /* the blocks only: the alignment padding between them is not stored */
    for (int e = 0; e < p->n_entries; e++)
        for (size_t i = 0; i < p->entries[e].count; i++)
            p->value[p->entries[e].offset + i] = nn_rng_normal(&rng);
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* Deserialises buf into a fresh reference model and checks the message
 * holds `want` (and is one line). */
static void expect_error(const uint8_t *buf, size_t len, int variant, const char *want, const char *what)
{
    nn_params q;
    char err[256] = "";
    if (make_model(&q, variant) != 0) { CHECK(0, "setup"); nn_params_free(&q); return; }
    int rc = nn_params_deserialize(&q, buf, len, err, sizeof err);
    CHECK(rc == -1 && contains(err, want) && !strchr(err, '\n'), "%s: rc %d, message \"%s\", want \"%s\"",
          what, rc, err, want);
    nn_params_free(&q);
}

static void put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); b[2] = (uint8_t)(v >> 16); b[3] = (uint8_t)(v >> 24);
}

static void reseal(uint8_t *buf, size_t len)
{
    put_u32(buf + len - 4, (uint32_t)crc32(0L, buf, (uInt)(len - 4)));
}

static void test_blob(void)
{
    nn_params p, q;
    if (make_model(&p, MODEL_SAME) != 0 || make_model(&q, MODEL_SAME) != 0) {
        CHECK(0, "setup");
        return;
    }
    fill_values(&p, 1);
    /* awkward values must survive bit for bit */
    p.value[0] = -0.0f;
    p.value[1] = 1e-42f; /* subnormal */
    p.value[2] = INFINITY;
    uint32_t nan_bits = 0x7fc12345u;
    memcpy(&p.value[3], &nan_bits, 4);

    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(nn_params_serialize(&p, &buf, &len) == 0 && buf, "serialise");
    if (!buf) goto done;
    size_t floats = 4 * 27 + 4 + 4 + 4;
    size_t names = strlen("enc.conv0.weight") + strlen("enc.conv0.bias") + strlen("enc.gdn0.beta") + strlen("enc.gdn0.gamm");
    CHECK(len == 20 + 4 * (4 + 16) + names + 4 * floats + 4, "blob size %zu", len);
    CHECK(memcmp(buf, "AECP", 4) == 0 && buf[4] == 1 && buf[5] == 0 && buf[16] == 4, "header fields");
    CHECK(buf[8] == (uint8_t)len && buf[9] == (uint8_t)(len >> 8) && buf[15] == 0, "size field little-endian");
    /* the first float of the first entry: -0.0 = 00 00 00 80 little-endian */
    size_t first = 20 + 4 + strlen("enc.conv0.weight") + 16;
    CHECK(buf[first] == 0 && buf[first + 3] == 0x80, "float32 little-endian");
    CHECK((uint32_t)crc32(0L, buf, (uInt)(len - 4)) ==
          ((uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 | (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24),
          "trailing CRC-32 over everything before it");

    char err[256] = "";
    CHECK(nn_params_deserialize(&q, buf, len, err, sizeof err) == 0, "deserialise: %s", err);
    CHECK(memcmp(p.value, q.value, p.count * sizeof(float)) == 0, "round trip bit-exact");

    /* truncation at several lengths */
    const size_t cuts[] = {0, 2, 4, 7, 8, 19, 20, 23, 24, 60, len / 2, len - 5, len - 4, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu", cuts[i], len);
        expect_error(buf, cuts[i], MODEL_SAME, "truncated", what);
    }
    /* one byte too many */
    uint8_t *longer = malloc(len + 1);
    CHECK(longer != NULL, "alloc");
    if (longer) {
        memcpy(longer, buf, len);
        longer[len] = 0;
        expect_error(longer, len + 1, MODEL_SAME, "size mismatch", "trailing byte");
        free(longer);
    }

    /* Any single flipped byte after the magic, version and size fields (the
     * entry count, every entry, the CRC itself) is a CRC mismatch. */
    uint8_t *copy = malloc(len);
    CHECK(copy != NULL, "alloc");
    if (!copy) goto done;
    int all_crc = 1;
    size_t bad_at = 0;
    char bad_msg[256] = "";
    for (size_t at = 16; at < len; at++) {
        memcpy(copy, buf, len);
        copy[at] ^= 0x5a;
        char e2[256] = "";
        if (nn_params_deserialize(&q, copy, len, e2, sizeof e2) != -1 || !contains(e2, "CRC mismatch")) {
            if (all_crc) { bad_at = at; snprintf(bad_msg, sizeof bad_msg, "%s", e2); }
            all_crc = 0;
        }
    }
    CHECK(all_crc, "every flipped byte from 16 on is a CRC mismatch; first failure at %zu: \"%s\"", bad_at, bad_msg);
    CHECK(memcmp(p.value, q.value, p.count * sizeof(float)) == 0, "failed loads leave the values alone");

    memcpy(copy, buf, len);
    copy[0] = 'X';
    expect_error(copy, len, MODEL_SAME, "bad magic", "wrong magic");
    memcpy(copy, buf, len);
    put_u32(copy + 4, 3);
    expect_error(copy, len, MODEL_SAME, "unsupported version 3", "wrong version");
    reseal(copy, len);
    expect_error(copy, len, MODEL_SAME, "unsupported version 3", "wrong version, valid CRC");

    expect_error(buf, len, MODEL_EXTRA, "missing parameter dec.gain", "model has a parameter the file lacks");
    expect_error(buf, len, MODEL_DROP, "unexpected parameter enc.gdn0.gamm", "file has a parameter the model lacks");
    expect_error(buf, len, MODEL_RESHAPE, "shape mismatch for enc.gdn0.beta", "shape mismatch");

    /* a forged blob naming enc.gdn0.beta twice (same length, same shape),
     * with a valid CRC */
    memcpy(copy, buf, len);
    uint8_t *name = memmem(copy, len, "enc.gdn0.gamm", 13);
    CHECK(name != NULL, "forge");
    if (name) {
        memcpy(name, "enc.gdn0.beta", 13);
        reseal(copy, len);
        expect_error(copy, len, MODEL_SAME, "duplicate parameter enc.gdn0.beta", "duplicate name");
    }
    /* all-or-nothing: a shape error late in the file changes nothing */
    nn_params r;
    if (make_model(&r, MODEL_RESHAPE) == 0) {
        for (size_t i = 0; i < r.count; i++) r.value[i] = 7.0f;
        CHECK(nn_params_deserialize(&r, buf, len, err, sizeof err) == -1, "reshape refused");
        int untouched = 1;
        for (size_t i = 0; i < r.count; i++) untouched &= r.value[i] == 7.0f;
        CHECK(untouched, "nothing copied before the error");
    }
    nn_params_free(&r);
    free(copy);
done:
    free(buf);
    nn_params_free(&p);
    nn_params_free(&q);
}

/* Files whose name holds ".tmp." in dir: what an interrupted save leaves. */
static int temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int file_equals(const char *path, const uint8_t *want, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint8_t *got = malloc(len + 1);
    int same = got && fread(got, 1, len + 1, f) == len && memcmp(got, want, len) == 0;
    free(got);
    fclose(f);
    return same;
}

static void test_files(void)
{
    char dir[] = "/tmp/aec_test_params_io_XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return; }
    char path[256], other[256], missing_dir[256], as_dir[256], inner[300];
    snprintf(path, sizeof path, "%s/model.aecp", dir);
    snprintf(other, sizeof other, "%s/short.aecp", dir);
    snprintf(missing_dir, sizeof missing_dir, "%s/no/such/dir/model.aecp", dir);
    snprintf(as_dir, sizeof as_dir, "%s/a_directory", dir);
    snprintf(inner, sizeof inner, "%s/keep", as_dir);

    nn_params p, q;
    if (make_model(&p, MODEL_SAME) != 0 || make_model(&q, MODEL_SAME) != 0) { CHECK(0, "setup"); return; }
    fill_values(&p, 2);
    char err[512] = "";
    CHECK(nn_params_save(&p, path, err, sizeof err) == 0, "save: %s", err);
    CHECK(temp_files_in(dir) == 0, "no temporary file left after save");
    CHECK(nn_params_load(&q, path, err, sizeof err) == 0, "load: %s", err);
    CHECK(memcmp(p.value, q.value, p.count * sizeof(float)) == 0, "file round trip bit-exact");
    uint8_t *good = NULL;
    size_t good_len = 0;
    CHECK(nn_params_serialize(&p, &good, &good_len) == 0 && file_equals(path, good, good_len),
          "file holds exactly the blob");

    /* load errors name the file */
    char nowhere[300];
    snprintf(nowhere, sizeof nowhere, "%s/nothing-here.aecp", dir);
    CHECK(nn_params_load(&q, nowhere, err, sizeof err) == -1 && contains(err, nowhere) && contains(err, "not found"),
          "missing file: \"%s\"", err);
    FILE *f = fopen(other, "wb");
    if (f && good) { fwrite(good, 1, good_len / 2, f); fclose(f); }
    CHECK(nn_params_load(&q, other, err, sizeof err) == -1 && contains(err, other) && contains(err, "truncated"),
          "truncated file: \"%s\"", err);

    /* saving into a directory that does not exist fails cleanly */
    CHECK(nn_params_save(&p, missing_dir, err, sizeof err) == -1 && contains(err, missing_dir) && !strchr(err, '\n'),
          "save into a missing directory: \"%s\"", err);

    /* rename onto a non-empty directory fails: the temporary file goes, the
     * directory stays */
    CHECK(mkdir(as_dir, 0700) == 0 && (f = fopen(inner, "wb")) && fclose(f) == 0, "setup directory");
    CHECK(nn_params_save(&p, as_dir, err, sizeof err) == -1 && contains(err, "rename"), "save onto a directory: \"%s\"", err);
    CHECK(temp_files_in(dir) == 0, "no temporary file left after a failed rename");
    struct stat st;
    CHECK(stat(inner, &st) == 0, "the directory is intact");

    /* A write that fails half-way (file size limit) must leave the old
     * file as it was and no temporary file behind. */
    fill_values(&p, 3);
    struct rlimit old_limit, small;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    if (getrlimit(RLIMIT_FSIZE, &old_limit) == 0) {
        small = old_limit;
        small.rlim_cur = 64;
        if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
            int rc = nn_params_save(&p, path, err, sizeof err);
            setrlimit(RLIMIT_FSIZE, &old_limit);
            CHECK(rc == -1 && contains(err, "cannot write"), "save over the size limit fails: \"%s\"", err);
            CHECK(temp_files_in(dir) == 0, "no temporary file left after a failed write");
            CHECK(good && file_equals(path, good, good_len), "the old file is not clobbered");
        } else {
            CHECK(0, "setrlimit");
        }
    }
    signal(SIGXFSZ, old_handler);
    /* and a later successful save replaces it */
    CHECK(nn_params_save(&p, path, err, sizeof err) == 0 && nn_params_load(&q, path, err, sizeof err) == 0 &&
          memcmp(p.value, q.value, p.count * sizeof(float)) == 0, "overwrite: %s", err);

    free(good);
    remove(inner);
    rmdir(as_dir);
    remove(other);
    remove(path);
    CHECK(rmdir(dir) == 0, "test directory empty at the end");
    nn_params_free(&p);
    nn_params_free(&q);
}

/* A model without parameters is the 24-byte header-and-checksum blob. */
static void test_empty(void)
{
    nn_params p, q;
    nn_params_init(&p);
    nn_params_init(&q);
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    int ok = nn_params_alloc(&p) == 0 && nn_params_alloc(&q) == 0 && nn_params_serialize(&p, &buf, &len) == 0;
    CHECK(ok && len == 24, "empty model blob is 24 bytes: %zu", len);
    CHECK(ok && nn_params_deserialize(&q, buf, len, err, sizeof err) == 0, "empty round trip: %s", err);
    free(buf);
    nn_params_free(&p);
    nn_params_free(&q);
}

/* ---- streaming -----------------------------------------------------------
 * nn_params_serialize_stream hands out the bytes nn_params_serialize
 * writes, in pieces of at most 16 KiB; both checked against a blob built
 * here from the layout in spec/model-format.md. */

typedef struct {
    uint8_t *buf;
    size_t len, cap, pieces, largest;
} collected;

static void collect(void *ctx, const uint8_t *data, size_t len)
{
    collected *c = ctx;
    if (c->len + len > c->cap) {
        size_t cap = (c->len + len) * 2;
        uint8_t *b = realloc(c->buf, cap);
        if (!b) return;
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->pieces++;
    if (len > c->largest) c->largest = len;
}

/* the spec's blob: "AECP", version, u64 size, u32 count, entries (u32 name
 * length, name, four u32 dims, values little-endian), CRC-32 of the rest */
static uint8_t *reference_blob(const nn_params *p, int f16, size_t *len)
{
    const uint8_t *b16 = NULL;
    size_t l16 = 0;
    uint8_t *f16_blob = NULL;
    if (f16) { /* the binary16 values themselves from the library's own blob */
        if (nn_params_serialize_f16(p, &f16_blob, &l16)) return NULL;
        b16 = f16_blob + 20;
    }
    size_t size = 24;
    for (int e = 0; e < p->n_entries; e++)
        size += 4 + strlen(p->entries[e].name) + 16 + (f16 ? 2 : 4) * p->entries[e].count;
    uint8_t *out = malloc(size), *at = out;
    if (!out) { free(f16_blob); return NULL; }
    memcpy(at, "AECP", 4);
    put_u32(at + 4, f16 ? 2 : 1);
    put_u32(at + 8, (uint32_t)size);
    put_u32(at + 12, 0);
    put_u32(at + 16, (uint32_t)p->n_entries);
    at += 20;
    for (int e = 0; e < p->n_entries; e++) {
        const nn_param_entry *en = &p->entries[e];
        size_t n = strlen(en->name);
        put_u32(at, (uint32_t)n);
        memcpy(at + 4, en->name, n);
        at += 4 + n;
        for (int d = 0; d < 4; d++, at += 4) put_u32(at, (uint32_t)en->shape[d]);
        if (f16) b16 += 4 + n + 16;
        for (size_t i = 0; i < en->count; i++) {
            if (f16) {
                memcpy(at, b16, 2);
                at += 2;
                b16 += 2;
            } else {
                uint32_t bits;
                memcpy(&bits, &p->value[en->offset + i], 4);
                put_u32(at, bits);
                at += 4;
            }
        }
    }
    put_u32(at, (uint32_t)crc32(0L, out, (uInt)(size - 4)));
    free(f16_blob);
    *len = size;
    return out;
}

static void test_stream(void)
{
    nn_params p;
    nn_params_init(&p);
    /* 40,000-byte and 2,000-byte blocks around small ones: pieces end
     * inside blocks and between them */
    int ok = nn_params_declare(&p, "g_s.deconv0.weight", 10, 10, 10, 10) != (size_t)-1 &&
             nn_params_declare(&p, "b", 3, 1, 1, 1) != (size_t)-1 &&
             nn_params_declare(&p, "a_rather_long_name_for_a_small_block", 500, 1, 1, 1) != (size_t)-1 &&
             nn_params_alloc(&p) == 0;
    CHECK(ok, "stream: setup");
    if (!ok) { nn_params_free(&p); return; }
    fill_values(&p, 7);
    for (int f16 = 0; f16 < 2; f16++) {
        size_t ref_len = 0, lib_len = 0;
        uint8_t *ref = reference_blob(&p, f16, &ref_len), *lib = NULL;
        CHECK(ref != NULL, "stream: reference blob");
        CHECK((f16 ? nn_params_serialize_f16 : nn_params_serialize)(&p, &lib, &lib_len) == 0,
              "stream: serialise");
        CHECK(ref && lib && lib_len == ref_len && memcmp(lib, ref, ref_len) == 0,
              "f16 %d: nn_params_serialize writes the spec's blob (%zu bytes, want %zu)", f16,
              lib_len, ref_len);
        collected c = {0};
        CHECK(nn_params_serialize_stream(&p, f16, collect, &c) == 0, "f16 %d: stream", f16);
        CHECK(ref && c.len == ref_len && memcmp(c.buf, ref, ref_len) == 0,
              "f16 %d: the streamed pieces are the blob (%zu bytes, want %zu)", f16, c.len, ref_len);
        CHECK(c.pieces >= 2 && c.largest <= 16384, "f16 %d: %zu pieces, the largest %zu bytes", f16,
              c.pieces, c.largest);
        free(c.buf);
        free(ref);
        free(lib);
    }
    nn_params q;
    nn_params_init(&q);
    collected none = {0};
    CHECK(nn_params_serialize_stream(&q, 0, collect, &none) == -1 && none.len == 0,
          "stream of unallocated parameters: -1, nothing handed out");
    nn_params_free(&p);
}

/* Every binary16 value loads as its float: a version-2 blob holding all
 * 65,536 bit patterns, against values worked out here with ldexp (NaNs
 * keep their payload in the top mantissa bits). */
static void test_f16_all(void)
{
    nn_params p;
    nn_params_init(&p);
    uint8_t *blob = NULL;
    size_t len = 0;
    int ok = nn_params_declare(&p, "all", 65536, 1, 1, 1) != (size_t)-1 && nn_params_alloc(&p) == 0 &&
             nn_params_serialize_f16(&p, &blob, &len) == 0;
    CHECK(ok, "f16: setup");
    if (!ok) { free(blob); nn_params_free(&p); return; }
    uint8_t *values = blob + len - 4 - 2 * 65536;
    for (uint32_t h = 0; h < 65536; h++) {
        values[2 * h] = (uint8_t)h;
        values[2 * h + 1] = (uint8_t)(h >> 8);
    }
    reseal(blob, len);
    char err[256] = "";
    CHECK(nn_params_deserialize(&p, blob, len, err, sizeof err) == 0, "f16: all patterns load: %s", err);
    int wrong = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 31, m = h & 1023;
        uint32_t want;
        if (e == 31) {
            want = sign | 0x7f800000u | m << 13;
        } else {
            float f = e == 0 ? (float)ldexp((double)m, -24) : (float)ldexp((double)(1024 + m), (int)e - 25);
            memcpy(&want, &f, 4);
            want |= sign;
        }
        uint32_t got;
        memcpy(&got, &p.value[h], 4);
        if (got != want && wrong++ < 3) printf("f16 %04x: got %08x, want %08x\n", (unsigned)h, got, want);
    }
    CHECK(wrong == 0, "f16: every pattern converts exactly (%d wrong)", wrong);
    free(blob);
    nn_params_free(&p);
}

int main(void)
{
    test_empty();
    test_stream();
    test_f16_all();
    test_blob();
    test_files();
        {
        /* binary16 blobs: half the value bytes; values come back rounded to
         * the nearest binary16 (relative error <= 2^-11 for normal values,
         * exact for values that are already binary16) */
        nn_params h;
        nn_params_init(&h);
        nn_params_declare(&h, "v", 12, 1, 1, 1);
        nn_params_alloc(&h);
        const float vals[12] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 1e-7f, 6.1035156e-05f,
                                0.1f, 3.14159265f, -1234.5678f, 1e6f, 5.9604645e-08f};
        memcpy(h.value, vals, sizeof vals);
        uint8_t *b16 = NULL, *b32 = NULL;
        size_t l16 = 0, l32 = 0;
        CHECK(nn_params_serialize_f16(&h, &b16, &l16) == 0 && nn_params_serialize(&h, &b32, &l32) == 0,
              "serialize both widths");
        CHECK(l32 - l16 == 2 * 12, "binary16 saves 2 bytes a value: %zu vs %zu", l16, l32);
        memset(h.value, 0, sizeof vals);
        char e2[256];
        CHECK(nn_params_deserialize(&h, b16, l16, e2, sizeof e2) == 0, "binary16 load: %s", e2);
        const float want[12] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 1.1920929e-07f, 6.1035156e-05f,
                                0.099975586f, 3.140625f, -1235.0f, INFINITY, 5.9604645e-08f};
        for (int i = 0; i < 12; i++)
            CHECK(h.value[i] == want[i] && signbit(h.value[i]) == signbit(want[i]),
                  "binary16 value %d: %.9g, want %.9g", i, h.value[i], want[i]);
        free(b16);
        free(b32);
        nn_params_free(&h);
    }
return check_report("test_params_io");
}
