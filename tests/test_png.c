/* Checks of codec/png_io: every PNG kind libpng can write is generated here,
 * with known samples, read back and compared pixel by pixel with the 8-bit
 * values worked out independently; then round trips through the writer, and
 * every failure the reader and writer report: wrong file type, truncation,
 * corruption, oversized headers, missing and unwritable files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <png.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/check.h"
#include "tests/png_filters.h"
#include "tests/stderr_capture.h"
#include "tools/imageio/png_io.h"

/* ---- generating test images ------------------------------------------- */

typedef struct {
    const char *name;
    int color;     /* PNG_COLOR_TYPE_* */
    int depth;     /* bits per sample */
    int interlace; /* PNG_INTERLACE_NONE or PNG_INTERLACE_ADAM7 */
    int trns;      /* add a tRNS chunk */
    int opaque;    /* the alpha channel is all 255 */
    int width, height;
} png_kind;

static int kind_channels(const png_kind *k)
{
    switch (k->color) {
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1; /* gray, palette */
    }
}

/* Palettes smaller than 2^depth too, since libpng must cope with those. */
static int palette_size(const png_kind *k)
{
    return k->depth == 8 ? 200 : k->depth == 4 ? 11 : 1 << k->depth;
}

static png_color palette_entry(int i)
{
    png_color c = {(png_byte)(i * 37 + 5), (png_byte)(i * 91 + 17), (png_byte)(i * 53 + 200)};
    return c;
}

static int palette_trans_count(const png_kind *k)
{
    return palette_size(k) / 2 + 1;
}

static png_byte palette_trans(int i)
{
    return (png_byte)(i * 67);
}

/* The raw sample of channel c at (x, y), as stored in the file. */
static unsigned raw_sample(const png_kind *k, int x, int y, int c)
{
    unsigned maxval = (1u << k->depth) - 1;
    int is_alpha = (k->color & PNG_COLOR_MASK_ALPHA) && c == kind_channels(k) - 1;
    if (is_alpha && k->opaque) return maxval;
    unsigned u = k->depth == 16
                     ? (unsigned)(x * 7919 + y * 104729 + c * 31337 + x * y * 257)
                     : (unsigned)(x * 7 + y * 13 + c * 29 + x * y * 3 + (x ^ y));
    if (k->color == PNG_COLOR_TYPE_PALETTE) return u % (unsigned)palette_size(k);
    return u & maxval;
}

/* The pixel whose colour the gray and RGB tRNS chunks make transparent. */
static int trns_x(const png_kind *k) { return 3 % k->width; }
static int trns_y(const png_kind *k) { return 2 % k->height; }

static uint8_t to_8bit(unsigned v, int depth)
{
    if (depth == 16) return (uint8_t)((v * 255u + 32767u) / 65535u);
    return (uint8_t)(v * 255u / ((1u << depth) - 1));
}

/* The 8-bit RGB and alpha the reader should return. */
static void expected_pixel(const png_kind *k, int x, int y, uint8_t rgb[3], uint8_t *alpha)
{
    int ch = kind_channels(k);
    unsigned s[4];
    for (int c = 0; c < ch; c++) s[c] = raw_sample(k, x, y, c);
    *alpha = 255;
    if (k->color == PNG_COLOR_TYPE_PALETTE) {
        png_color p = palette_entry((int)s[0]);
        rgb[0] = p.red, rgb[1] = p.green, rgb[2] = p.blue;
        if (k->trns && (int)s[0] < palette_trans_count(k)) *alpha = palette_trans((int)s[0]);
        return;
    }
    int gray = !(k->color & PNG_COLOR_MASK_COLOR);
    for (int c = 0; c < 3; c++) rgb[c] = to_8bit(s[gray ? 0 : c], k->depth);
    if (k->color & PNG_COLOR_MASK_ALPHA) *alpha = to_8bit(s[ch - 1], k->depth);
    if (k->trns) {
        int same = 1;
        for (int c = 0; c < ch; c++) same &= s[c] == raw_sample(k, trns_x(k), trns_y(k), c);
        if (same) *alpha = 0;
    }
}

static int kind_has_alpha(const png_kind *k)
{
    return (k->color & PNG_COLOR_MASK_ALPHA) || k->trns;
}

/* Writes the image described by k with libpng. Returns 0 or -1. */
static int write_kind(const char *path, const png_kind *k, png_bytep *rows)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        fclose(f);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)k->width, (png_uint_32)k->height, k->depth, k->color,
                 k->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_color palette[256];
    png_byte trans[256];
    png_color_16 trans_color = {0};
    if (k->color == PNG_COLOR_TYPE_PALETTE) {
        for (int i = 0; i < palette_size(k); i++) palette[i] = palette_entry(i);
        png_set_PLTE(png, info, palette, palette_size(k));
        if (k->trns) {
            for (int i = 0; i < palette_trans_count(k); i++) trans[i] = palette_trans(i);
            png_set_tRNS(png, info, trans, palette_trans_count(k), NULL);
        }
    } else if (k->trns) {
        int tx = trns_x(k), ty = trns_y(k);
        if (k->color == PNG_COLOR_TYPE_GRAY) {
            trans_color.gray = (png_uint_16)raw_sample(k, tx, ty, 0);
        } else {
            trans_color.red = (png_uint_16)raw_sample(k, tx, ty, 0);
            trans_color.green = (png_uint_16)raw_sample(k, tx, ty, 1);
            trans_color.blue = (png_uint_16)raw_sample(k, tx, ty, 2);
        }
        png_set_tRNS(png, info, NULL, 0, &trans_color);
    }
    png_text text = {0};
    text.compression = PNG_TEXT_COMPRESSION_NONE;
    text.key = (png_charp) "Comment";
    text.text = (png_charp) "written by tests/test_png.c";
    png_set_text(png, info, &text, 1);
    png_write_info(png, info);
    png_write_image(png, rows); /* handles the Adam7 passes itself */
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return fclose(f) == 0 ? 0 : -1;
}

/* Packs the samples of k into rows as PNG stores them (MSB first, 16-bit
 * big-endian) and writes the file. Returns 0 or -1. */
static int make_png(const char *path, const png_kind *k)
{
    int ch = kind_channels(k);
    size_t row_bytes = ((size_t)k->width * (size_t)ch * (size_t)k->depth + 7) / 8;
    uint8_t *data = calloc((size_t)k->height, row_bytes);
    png_bytep *rows = malloc((size_t)k->height * sizeof *rows);
    int rc = -1;
    if (data && rows) {
        for (int y = 0; y < k->height; y++) {
            uint8_t *row = data + (size_t)y * row_bytes;
            rows[y] = row;
            size_t bit = 0;
            for (int x = 0; x < k->width; x++)
                for (int c = 0; c < ch; c++) {
                    unsigned v = raw_sample(k, x, y, c);
                    if (k->depth == 16) {
                        row[bit / 8] = (uint8_t)(v >> 8);
                        row[bit / 8 + 1] = (uint8_t)v;
                    } else {
                        row[bit / 8] |= (uint8_t)(v << (8 - k->depth - bit % 8));
                    }
                    bit += (size_t)k->depth;
                }
        }
        rc = write_kind(path, k, rows);
    }
    free(rows);
    free(data);
    return rc;
}

static void check_kind(const char *dir, const png_kind *k)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s.png", dir, k->name);
    if (make_png(path, k) != 0) {
        CHECK(0, "%s: could not generate the test image", k->name);
        return;
    }
    aec_image img;
    int rc = aec_png_read(path, &img, 0, err, sizeof err);
    CHECK(rc == 0, "%s: read failed: %s", k->name, err);
    if (rc != 0) return;
    CHECK(img.width == k->width && img.height == k->height, "%s: size %dx%d", k->name,
          img.width, img.height);
    int gray = !(k->color & PNG_COLOR_MASK_COLOR);
    CHECK(img.source_gray == gray, "%s: source_gray %d", k->name, img.source_gray);
    CHECK(img.source_16bit == (k->depth == 16), "%s: source_16bit %d", k->name,
          img.source_16bit);
    CHECK(img.has_alpha == kind_has_alpha(k), "%s: has_alpha %d", k->name, img.has_alpha);
    CHECK((img.alpha != NULL) == kind_has_alpha(k), "%s: alpha plane %p", k->name,
          (void *)img.alpha);
    int wrong = 0, alpha_used = 0;
    for (int y = 0; y < k->height; y++)
        for (int x = 0; x < k->width; x++) {
            uint8_t want[3], want_alpha;
            expected_pixel(k, x, y, want, &want_alpha);
            alpha_used |= want_alpha != 255;
            const uint8_t *got = img.rgb + ((size_t)y * (size_t)k->width + (size_t)x) * 3;
            int bad = memcmp(got, want, 3) != 0;
            if (img.alpha) bad |= img.alpha[(size_t)y * (size_t)k->width + (size_t)x] != want_alpha;
            if (bad && wrong++ < 3)
                fprintf(stderr, "%s (%d,%d): got %u %u %u want %u %u %u alpha %u\n", k->name,
                        x, y, got[0], got[1], got[2], want[0], want[1], want[2], want_alpha);
        }
    CHECK(wrong == 0, "%s: %d wrong pixels", k->name, wrong);
    CHECK(img.alpha_used == alpha_used, "%s: alpha_used %d", k->name, img.alpha_used);
    aec_image_free(&img);
    CHECK(img.rgb == NULL && img.alpha == NULL && img.width == 0, "free empties");
}

/* ---- file helpers --------------------------------------------------------- */

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && put == n) ? 0 : -1;
}

/* Reads a whole file; returns NULL on failure. */
static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *data = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) data = malloc((size_t)size + 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *n = data ? (size_t)size : 0;
    return data;
}

/* Number of entries in dir whose name contains part. */
static int count_names(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char path[1024];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Offset of the first chunk of the given type, or 0. */
static size_t find_chunk(const uint8_t *png, size_t n, const char *type)
{
    size_t at = 8;
    while (at + 12 <= n) {
        size_t len = (size_t)png[at] << 24 | (size_t)png[at + 1] << 16 |
                     (size_t)png[at + 2] << 8 | png[at + 3];
        if (memcmp(png + at + 4, type, 4) == 0) return at;
        at += 12 + len;
    }
    return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Recomputes the CRC of the chunk at offset at. */
static void fix_crc(uint8_t *png, size_t at)
{
    uint32_t len = (uint32_t)png[at] << 24 | (uint32_t)png[at + 1] << 16 |
                   (uint32_t)png[at + 2] << 8 | png[at + 3];
    uLong crc = crc32(0L, png + at + 4, 4 + len);
    put_be32(png + at + 8 + len, (uint32_t)crc);
}

/* aec_png_read with stderr caught: *printed says how many bytes the call
 * wrote to stderr, since a library must not print. */
static int read_quietly(const char *path, aec_image *img, long max_pixels, char *err,
                        size_t errlen, const char *dir, long *printed)
{
    stderr_capture cap;
    stderr_capture_begin(&cap, dir);
    int rc = aec_png_read(path, img, max_pixels, err, errlen);
    *printed = stderr_capture_end(&cap);
    return rc;
}

/* Checks that reading path fails, quietly, with "path: ..." containing want. */
static void check_read_fails(const char *dir, const char *path, long max_pixels,
                             const char *want, const char *what)
{
    aec_image img;
    char err[512] = "";
    long printed;
    int rc = read_quietly(path, &img, max_pixels, err, sizeof err, dir, &printed);
    CHECK(rc == -1, "%s: read should fail", what);
    CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':',
          "%s: message names the file: %s", what, err);
    CHECK(strstr(err, want) != NULL, "%s: message has \"%s\": %s", what, want, err);
    CHECK(strchr(err, '\n') == NULL, "%s: one line: %s", what, err);
    CHECK(printed == 0, "%s: %ld bytes printed to stderr", what, printed);
    CHECK(img.rgb == NULL && img.alpha == NULL, "%s: image left empty", what);
}

/* ---- the checks ----------------------------------------------------------- */

static void check_every_kind(const char *dir)
{
    const int N = PNG_INTERLACE_NONE, I = PNG_INTERLACE_ADAM7;
    const int G = PNG_COLOR_TYPE_GRAY, GA = PNG_COLOR_TYPE_GRAY_ALPHA,
              P = PNG_COLOR_TYPE_PALETTE, C = PNG_COLOR_TYPE_RGB, CA = PNG_COLOR_TYPE_RGB_ALPHA;
    /* odd sizes, so rows end in partial bytes and Adam7 passes are uneven */
    const png_kind kinds[] = {
        {"gray1", G, 1, N, 0, 0, 37, 23},      {"gray2", G, 2, N, 0, 0, 37, 23},
        {"gray4", G, 4, N, 0, 0, 37, 23},      {"gray8", G, 8, N, 0, 0, 37, 23},
        {"gray16", G, 16, N, 0, 0, 37, 23},    {"gray2_trns", G, 2, N, 1, 0, 37, 23},
        {"gray8_trns", G, 8, N, 1, 0, 37, 23}, {"gray16_trns", G, 16, N, 1, 0, 37, 23},
        {"ga8", GA, 8, N, 0, 0, 37, 23},       {"ga16", GA, 16, N, 0, 0, 37, 23},
        {"ga8_opaque", GA, 8, N, 0, 1, 37, 23},
        {"pal1", P, 1, N, 0, 0, 37, 23},       {"pal2", P, 2, N, 0, 0, 37, 23},
        {"pal4", P, 4, N, 0, 0, 37, 23},       {"pal8", P, 8, N, 0, 0, 37, 23},
        {"pal1_trns", P, 1, N, 1, 0, 37, 23},  {"pal2_trns", P, 2, N, 1, 0, 37, 23},
        {"pal4_trns", P, 4, N, 1, 0, 37, 23},  {"pal8_trns", P, 8, N, 1, 0, 37, 23},
        {"rgb8", C, 8, N, 0, 0, 37, 23},       {"rgb16", C, 16, N, 0, 0, 37, 23},
        {"rgb8_trns", C, 8, N, 1, 0, 37, 23},  {"rgb16_trns", C, 16, N, 1, 0, 37, 23},
        {"rgba8", CA, 8, N, 0, 0, 37, 23},     {"rgba16", CA, 16, N, 0, 0, 37, 23},
        {"rgba8_opaque", CA, 8, N, 0, 1, 37, 23},
        {"gray1_i", G, 1, I, 0, 0, 37, 23},    {"gray4_i", G, 4, I, 0, 0, 37, 23},
        {"gray16_i", G, 16, I, 0, 0, 37, 23},  {"ga8_i", GA, 8, I, 0, 0, 37, 23},
        {"ga16_i", GA, 16, I, 0, 0, 37, 23},   {"pal2_trns_i", P, 2, I, 1, 0, 37, 23},
        {"pal8_trns_i", P, 8, I, 1, 0, 37, 23},{"rgb8_i", C, 8, I, 0, 0, 37, 23},
        {"rgb16_trns_i", C, 16, I, 1, 0, 37, 23},
        {"rgba8_i", CA, 8, I, 0, 0, 37, 23},   {"rgba16_i", CA, 16, I, 0, 0, 37, 23},
        /* smaller than an Adam7 block: some passes are empty */
        {"rgb8_i_3x2", C, 8, I, 0, 0, 3, 2},   {"pal4_i_1x1", P, 4, I, 0, 0, 1, 1},
        {"gray1_1x1", G, 1, N, 0, 0, 1, 1},    {"rgba8_1x9", CA, 8, N, 0, 0, 1, 9},
        /* every 16-bit value once: the rounding to 8 bits checked exhaustively */
        {"gray16_all", G, 16, N, 0, 0, 256, 256},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) check_kind(dir, &kinds[i]);
}

static void fill_test_image(uint8_t *rgb, uint8_t *alpha, int w, int h)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        for (int c = 0; c < 3; c++) {
            s = s * 1664525u + 1013904223u;
            rgb[3 * i + (size_t)c] = (uint8_t)(s >> 24);
        }
        if (alpha) alpha[i] = (uint8_t)(i * 7);
    }
}

static void check_round_trip(const char *dir)
{
    enum { W = 61, H = 17 };
    uint8_t rgb[W * H * 3], alpha[W * H], opaque[W * H];
    fill_test_image(rgb, alpha, W, H);
    memset(opaque, 255, sizeof opaque);
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/round.png", dir);
    aec_image img;

    CHECK(aec_png_write(path, rgb, NULL, W, H, err, sizeof err) == 0, "write rgb: %s", err);
    CHECK(aec_png_read(path, &img, 0, err, sizeof err) == 0, "read rgb back: %s", err);
    CHECK(img.width == W && img.height == H && img.rgb && !memcmp(img.rgb, rgb, sizeof rgb),
          "rgb round trip");
    CHECK(!img.has_alpha && !img.alpha && !img.alpha_used && !img.source_gray &&
              !img.source_16bit, "rgb round trip flags");
    aec_image_free(&img);

    /* over the existing file: the rename replaces it */
    CHECK(aec_png_write(path, rgb, alpha, W, H, err, sizeof err) == 0, "write rgba: %s", err);
    CHECK(aec_png_read(path, &img, 0, err, sizeof err) == 0, "read rgba back: %s", err);
    CHECK(img.rgb && !memcmp(img.rgb, rgb, sizeof rgb) && img.alpha &&
              !memcmp(img.alpha, alpha, sizeof alpha), "rgba round trip");
    CHECK(img.has_alpha && img.alpha_used, "rgba flags");
    aec_image_free(&img);

    CHECK(aec_png_write(path, rgb, opaque, W, H, err, sizeof err) == 0, "write opaque: %s", err);
    CHECK(aec_png_read(path, &img, 0, err, sizeof err) == 0, "read opaque back: %s", err);
    CHECK(img.alpha && img.has_alpha && !img.alpha_used, "opaque alpha: kept, unused");
    aec_image_free(&img);
    CHECK(count_names(dir, ".tmp.") == 0, "no temporary file left after writing");
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) != 0600 && (st.st_mode & 0400),
          "written file has ordinary permissions: %o", (unsigned)(st.st_mode & 0777));

    /* the same limit applies to what is written as to what is read */
    CHECK(aec_png_read(path, &img, W * H - 1, err, sizeof err) == -1 && strstr(err, "too large"),
          "one pixel over max_pixels refused: %s", err);
    CHECK(aec_png_read(path, &img, W * H, err, sizeof err) == 0, "exactly max_pixels: %s", err);
    aec_image_free(&img);

    /* to a stream, read back from memory as for stdin */
    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile");
    if (f) {
        CHECK(aec_png_write_file(f, "<stdout>", rgb, alpha, W, H, err, sizeof err) == 0,
              "write to stream: %s", err);
        long size = ftell(f);
        uint8_t *data = size > 0 ? malloc((size_t)size) : NULL;
        rewind(f);
        if (data && fread(data, 1, (size_t)size, f) == (size_t)size) {
            CHECK(aec_png_read_mem(data, (size_t)size, "<stdin>", &img, 0, err, sizeof err) == 0,
                  "read from memory: %s", err);
            CHECK(img.rgb && !memcmp(img.rgb, rgb, sizeof rgb) && img.alpha &&
                      !memcmp(img.alpha, alpha, sizeof alpha), "stream round trip");
            aec_image_free(&img);
        } else {
            CHECK(0, "reading the stream back");
        }
        free(data);
        fclose(f);
    }
}

/* Content that makes each of the five filters win somewhere: noise,
 * horizontal and vertical ramps, a smooth 2-D field, flat rows. */
static void fill_patterned(uint8_t *rgb, uint8_t *alpha, int w, int h)
{
    uint32_t s = 777;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            for (int c = 0; c < 3; c++) {
                s = s * 1664525u + 1013904223u;
                int v;
                switch (y / 5 % 5) {
                case 0: v = (int)(s >> 24); break;
                case 1: v = x * 3 + c * 40; break;
                case 2: v = y * 2 + c * 17 + (x & 1); break;
                case 3: v = (x * x / 64 + y * 3 + c * 9) ^ (int)(s >> 30); break;
                default: v = 100 + c; break;
                }
                rgb[3 * i + (size_t)c] = (uint8_t)v;
            }
            if (alpha) alpha[i] = (uint8_t)(x + 2 * y);
        }
}

/* The encoder deflates pieces of about 256 KiB in parallel, 8 per band:
 * images of several pieces and bands, RGB and RGBA, the widest rows (one
 * row a piece), a single pixel; the same bytes with 1 and 2 threads. */
static void check_parallel_writer(const char *dir)
{
    static const struct { int w, h, alpha; } sizes[] = {
        {1, 1, 0}, {1, 1, 1}, {3, 200, 0}, {1000, 800, 0}, {700, 900, 1}, {65535, 3, 1}, {40000, 5, 0}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const int w = sizes[k].w, h = sizes[k].h;
        const size_t n = (size_t)w * (size_t)h;
        uint8_t *rgb = malloc(n * 3), *alpha = sizes[k].alpha ? malloc(n) : NULL;
        if (!rgb || (sizes[k].alpha && !alpha)) {
            CHECK(0, "out of memory");
            free(rgb);
            free(alpha);
            return;
        }
        fill_patterned(rgb, alpha, w, h);
        char p1[512], p2[512], err[512];
        snprintf(p1, sizeof p1, "%s/par1.png", dir);
        snprintf(p2, sizeof p2, "%s/par2.png", dir);
        omp_set_num_threads(1);
        CHECK(aec_png_write(p1, rgb, alpha, w, h, err, sizeof err) == 0, "%dx%d, 1 thread: %s", w, h, err);
        omp_set_num_threads(2);
        CHECK(aec_png_write(p2, rgb, alpha, w, h, err, sizeof err) == 0, "%dx%d, 2 threads: %s", w, h, err);
        size_t n1 = 0, n2 = 0;
        uint8_t *b1 = read_bytes(p1, &n1), *b2 = read_bytes(p2, &n2);
        CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1), "%dx%d: the same bytes at 1 and 2 threads", w, h);
        size_t counts[5] = {0};
        const size_t row_bytes = (size_t)w * (alpha ? 4 : 3) + 1;
        CHECK(b1 && png_count_filters(b1, n1, row_bytes, (size_t)h, counts) == 0,
              "%dx%d: zlib inflates IDAT to %d filtered rows", w, h, h);
        if (w == 1000)
            CHECK(counts[0] && counts[1] && counts[2] && counts[3] && counts[4],
                  "every filter chosen somewhere: %zu %zu %zu %zu %zu", counts[0], counts[1], counts[2],
                  counts[3], counts[4]);
        aec_image img;
        CHECK(aec_png_read(p2, &img, 0, err, sizeof err) == 0, "%dx%d read back: %s", w, h, err);
        CHECK(img.width == w && img.height == h && img.rgb && !memcmp(img.rgb, rgb, n * 3) &&
                  (!alpha || (img.alpha && !memcmp(img.alpha, alpha, n))),
              "%dx%d%s round trip", w, h, alpha ? " RGBA" : "");
        aec_image_free(&img);
        free(b1);
        free(b2);
        free(rgb);
        free(alpha);
    }
    omp_set_num_threads(omp_get_num_procs());
}

static void check_bad_input(const char *dir)
{
    char path[512], good[512], err[512];
    snprintf(good, sizeof good, "%s/rgb8.png", dir);
    size_t n;
    uint8_t *png = read_bytes(good, &n);
    CHECK(png && n > 100, "reading rgb8.png");
    if (!png) return;

    snprintf(path, sizeof path, "%s/missing.png", dir);
    check_read_fails(dir, path, 0, "cannot open: No such file or directory", "missing file");
    check_read_fails(dir, dir, 0, "read error", "a directory");

    snprintf(path, sizeof path, "%s/text.png", dir);
    const char text[] = "this is a text file, not an image\n";
    write_bytes(path, text, sizeof text - 1);
    check_read_fails(dir, path, 0, "not a PNG file", "text file");
    const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0};
    write_bytes(path, jpeg, sizeof jpeg);
    check_read_fails(dir, path, 0, "not a PNG file", "JPEG file");
    write_bytes(path, "", 0);
    check_read_fails(dir, path, 0, "not a PNG file", "empty file");

    /* cut everywhere interesting: in the signature, in IHDR, in IDAT,
     * before IEND, in IEND's CRC */
    const size_t cuts[] = {4, 8, 20, 32, 33, 50, n / 2, n - 12, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu of %zu", cuts[i], n);
        snprintf(path, sizeof path, "%s/cut%zu.png", dir, cuts[i]);
        write_bytes(path, png, cuts[i]);
        check_read_fails(dir, path, 0, "truncated", what);
        aec_image img;
        int rc = aec_png_read_mem(png, cuts[i], "<stdin>", &img, 0, err, sizeof err);
        CHECK(rc == -1 && !strcmp(err, "<stdin>: truncated"), "%s in memory: %s", what, err);
    }

    uint8_t *bad = malloc(n);
    CHECK(bad != NULL, "malloc");
    if (!bad) {
        free(png);
        return;
    }
    size_t idat = find_chunk(png, n, "IDAT");
    size_t text_chunk = find_chunk(png, n, "tEXt");
    CHECK(idat > 0 && text_chunk > 0, "chunks found");
    snprintf(path, sizeof path, "%s/bad.png", dir);

    memcpy(bad, png, n);
    bad[idat + 8 + 20] ^= 0x10;
    write_bytes(path, bad, n);
    check_read_fails(dir, path, 0, "corrupt PNG", "flipped bit in IDAT data");

    memcpy(bad, png, n);
    bad[idat + 8 + 20] ^= 0x10;
    fix_crc(bad, idat); /* now only zlib can notice */
    write_bytes(path, bad, n);
    check_read_fails(dir, path, 0, "corrupt PNG", "IDAT data damaged behind a good CRC");

    memcpy(bad, png, n);
    bad[idat + 4 + 4 + 0] ^= 0xff; /* the zlib header */
    fix_crc(bad, idat);
    write_bytes(path, bad, n);
    check_read_fails(dir, path, 0, "corrupt PNG", "bad zlib header");

    memcpy(bad, png, n);
    bad[26] ^= 0x01; /* IHDR compression method, CRC left as it was */
    write_bytes(path, bad, n);
    check_read_fails(dir, path, 0, "CRC error", "flipped bit in IHDR");

    /* a damaged ancillary chunk only warns in libpng: read, and silently */
    memcpy(bad, png, n);
    bad[text_chunk + 8 + 2] ^= 0x20;
    write_bytes(path, bad, n);
    aec_image img;
    long printed;
    CHECK(read_quietly(path, &img, 0, err, sizeof err, dir, &printed) == 0,
          "bad tEXt CRC still reads: %s", err);
    CHECK(printed == 0, "libpng's warning not printed (%ld bytes)", printed);
    aec_image_free(&img);

    /* headers claiming huge images, with valid CRCs and nothing after: a
     * reader that allocated or read on would say "truncated" or crash */
    const uint32_t sizes[][2] = {{100000, 100000}, {65535, 65535}, {20000, 20000},
                                 {70000, 1}, {1, 4000000000u}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char what[64];
        uint8_t head[33];
        memcpy(head, png, 33);
        put_be32(head + 16, sizes[i][0]);
        put_be32(head + 20, sizes[i][1]);
        fix_crc(head, 8);
        snprintf(path, sizeof path, "%s/huge%zu.png", dir, i);
        write_bytes(path, head, sizeof head);
        snprintf(what, sizeof what, "header claiming %ux%u", (unsigned)sizes[i][0],
                 (unsigned)sizes[i][1]);
        check_read_fails(dir, path, 0, "too large", what);
    }
    /* the limit is the caller's: a small one refuses a small image */
    check_read_fails(dir, good, 100, "too large: 37x23", "max_pixels 100");

    /* a tiny error buffer is filled, not overrun, and NULL is allowed */
    char tiny[8];
    snprintf(path, sizeof path, "%s/missing.png", dir);
    CHECK(aec_png_read(path, &img, 0, tiny, sizeof tiny) == -1 && strlen(tiny) == 7,
          "short error buffer: %s", tiny);
    CHECK(aec_png_read(path, &img, 0, NULL, 0) == -1, "no error buffer");
    free(bad);
    free(png);
}

static void check_bad_output(const char *dir)
{
    enum { W = 5, H = 4 };
    uint8_t rgb[W * H * 3];
    fill_test_image(rgb, NULL, W, H);
    char path[512], err[512];

    snprintf(path, sizeof path, "%s/no/such/dir/out.png", dir);
    err[0] = '\0';
    CHECK(aec_png_write(path, rgb, NULL, W, H, err, sizeof err) == -1, "write into missing dir");
    CHECK(strncmp(err, path, strlen(path)) == 0 && strstr(err, "No such file or directory"),
          "missing dir message: %s", err);

    /* the destination is a directory: the temporary file is written, the
     * rename fails, and the temporary file must go */
    snprintf(path, sizeof path, "%s/a_directory", dir);
    CHECK(mkdir(path, 0700) == 0, "mkdir");
    int before = count_names(dir, "");
    CHECK(aec_png_write(path, rgb, NULL, W, H, err, sizeof err) == -1, "write over a directory");
    CHECK(strncmp(err, path, strlen(path)) == 0 && strstr(err, "Is a directory"),
          "directory message: %s", err);
    CHECK(count_names(dir, ".tmp.") == 0 && count_names(dir, "") == before,
          "nothing left behind");
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "directory untouched");

    /* bad arguments fail before anything is created, the old file intact */
    snprintf(path, sizeof path, "%s/keep.png", dir);
    write_bytes(path, "old", 3);
    CHECK(aec_png_write(path, rgb, NULL, 0, H, err, sizeof err) == -1 &&
              strncmp(err, path, strlen(path)) == 0, "zero width refused: %s", err);
    CHECK(aec_png_write(path, rgb, NULL, 70000, 1, err, sizeof err) == -1, "70000 wide refused");
    size_t n;
    uint8_t *old = read_bytes(path, &n);
    CHECK(old && n == 3 && !memcmp(old, "old", 3), "old file intact");
    free(old);
    CHECK(count_names(dir, ".tmp.") == 0, "no temporary file after refusals");

    /* permissions do not stop root, so this one runs only for other users */
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/read_only", dir);
        mkdir(path, 0700);
        chmod(path, 0500);
        char file[600];
        snprintf(file, sizeof file, "%s/out.png", path);
        CHECK(aec_png_write(file, rgb, NULL, W, H, err, sizeof err) == -1 &&
                  strstr(err, "Permission denied"), "read-only dir: %s", err);
        CHECK(count_names(path, "out.png") == 0, "nothing in the read-only dir");
        chmod(path, 0700);
    }

    /* a full disk, met while writing to a stream */
    FILE *full = fopen("/dev/full", "wb");
    if (full) {
        CHECK(aec_png_write_file(full, "<stdout>", rgb, NULL, W, H, err, sizeof err) == -1 &&
                  !strcmp(err, "<stdout>: write error: No space left on device"),
              "full disk: %s", err);
        fclose(full);
    }
}

int main(void)
{
    char dir[] = "/tmp/aec_test_png.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    check_every_kind(dir);
    check_round_trip(dir);
    check_parallel_writer(dir);
    check_bad_input(dir);
    check_bad_output(dir);
    remove_tree(dir);
    return check_report("test_png");
}
