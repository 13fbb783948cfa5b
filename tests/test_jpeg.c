/* Checks of codec/jpeg_io and codec/image_io: JPEGs of every kind aec
 * reads are written here with libjpeg (tests/jpeg_files.h) from pixels
 * this test knows; each decode is compared with libjpeg's own decode of
 * the same bytes (which must match exactly) and with the source pixels
 * (within JPEG's loss). The EXIF orientations are checked against a
 * mapping worked out from the EXIF table's own words, and damaged files
 * must fail with one line that names them, printing nothing. */
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "tests/check.h"
#include "tests/jpeg_files.h"
#include "tests/stderr_capture.h"
#include "tools/imageio/image_io.h"
#include "tools/imageio/jpeg_io.h"

/* ---- pixels ------------------------------------------------------------------- */

/* Smooth RGB with some detail: gradients and a soft ring, so that a good
 * JPEG is close to it. */
static uint8_t *smooth_rgb(int w, int h)
{
    uint8_t *px = malloc((size_t)w * h * 3);
    if (!px) abort();
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double r = hypot(x - w / 2.0, y - h / 3.0);
            uint8_t *p = px + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)(40 + 180 * x / w);
            p[1] = (uint8_t)(30 + 190 * y / h);
            p[2] = (uint8_t)(128 + 100 * cos(r / 6.0));
        }
    return px;
}

/* The CMYK inks that print rgb: K from the brightest channel, the rest
 * scaled under it; stored inverted (255 - ink) when adobe, as Photoshop
 * stores them. */
static uint8_t *cmyk_of(const uint8_t *rgb, size_t n, int adobe)
{
    uint8_t *px = malloc(n * 4);
    if (!px) abort();
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rgb + 3 * i;
        int max = p[0] > p[1] ? p[0] : p[1];
        if (p[2] > max) max = p[2];
        int k = 255 - max;
        for (int c = 0; c < 4; c++) {
            int ink = c == 3 ? k : max ? (max - p[c]) * 255 / max : 0;
            px[4 * i + (size_t)c] = (uint8_t)(adobe ? 255 - ink : ink);
        }
    }
    return px;
}

static double psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return se > 0 ? 10 * log10(255.0 * 255 * (double)n / se) : INFINITY;
}

/* ---- libjpeg's own decode, the reference ------------------------------------------ */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
} ref_error;

static void ref_on_error(j_common_ptr cinfo)
{
    longjmp(((ref_error *)cinfo->err)->back, 1);
}

/* Decodes with libjpeg's defaults into `space` (JCS_RGB or JCS_GRAYSCALE). */
static uint8_t *reference_decode(const uint8_t *data, size_t len, J_COLOR_SPACE space, int *w, int *h)
{
    struct jpeg_decompress_struct d;
    ref_error e;
    uint8_t *volatile px = NULL;
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = ref_on_error;
    if (setjmp(e.back)) {
        jpeg_destroy_decompress(&d);
        free(px);
        return NULL;
    }
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, data, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = space;
    jpeg_start_decompress(&d);
    size_t stride = (size_t)d.output_width * (size_t)d.output_components;
    px = malloc(stride * d.output_height);
    if (!px) abort();
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = px + d.output_scanline * stride;
        jpeg_read_scanlines(&d, &row, 1);
    }
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return px;
}

/* ---- reading through image_io, quietly --------------------------------------------- */

static const char *dir;

/* aec_image_read_mem with stderr caught: *printed says how many bytes the
 * call wrote to stderr, since a library must not print. */
static int read_quietly(const uint8_t *data, size_t len, const char *name, aec_image *img,
                        long max_pixels, char *err, size_t errlen, long *printed)
{
    stderr_capture cap;
    stderr_capture_begin(&cap, dir);
    int rc = aec_image_read_mem(data, len, name, img, max_pixels, err, errlen);
    *printed = stderr_capture_end(&cap);
    return rc;
}

/* Reads data, which must succeed quietly; the image is in *img. */
static int read_ok(const uint8_t *data, size_t len, const char *what, aec_image *img)
{
    char err[512] = "";
    long printed;
    int rc = read_quietly(data, len, what, img, 0, err, sizeof err, &printed);
    CHECK(rc == 0, "%s: %s", what, err);
    CHECK(printed == 0, "%s: %ld bytes printed to stderr", what, printed);
    return rc;
}

/* Reads data, which must fail quietly with "what: ..." containing want. */
static void read_fails(const uint8_t *data, size_t len, const char *what, long max_pixels,
                       const char *want)
{
    aec_image img;
    char err[512] = "";
    long printed;
    int rc = read_quietly(data, len, what, &img, max_pixels, err, sizeof err, &printed);
    CHECK(rc == -1, "%s: read should fail", what);
    CHECK(strncmp(err, what, strlen(what)) == 0 && err[strlen(what)] == ':',
          "%s: message names it: %s", what, err);
    CHECK(!want || strstr(err, want), "%s: message has \"%s\": %s", what, want ? want : "", err);
    CHECK(strchr(err, '\n') == NULL, "%s: one line: %s", what, err);
    CHECK(printed == 0, "%s: %ld bytes printed to stderr", what, printed);
    CHECK(img.rgb == NULL && img.alpha == NULL && img.width == 0, "%s: image left empty", what);
    if (rc == 0) aec_image_free(&img);
}

/* ---- the kinds: decoded as libjpeg decodes them, close to the source ---------------- */

/* A file of opt from rgb (converted to opt's components), read back. */
static void check_kind(const char *what, const test_jpeg *opt, int w, int h, double min_psnr)
{
    uint8_t *rgb = smooth_rgb(w, h), *src = rgb, *bytes = NULL;
    size_t n = (size_t)w * h, len;
    if (opt->components == 4) src = cmyk_of(rgb, n, opt->adobe || opt->ycck);
    if (opt->components == 1) {
        src = malloc(n);
        if (!src) abort();
        for (size_t i = 0; i < n; i++) src[i] = rgb[3 * i + 1];
        for (size_t i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 2] = rgb[3 * i + 1];
    }
    aec_image img;
    if (test_jpeg_encode(src, w, h, opt, &bytes, &len) || read_ok(bytes, len, what, &img)) {
        CHECK(0, "%s: no file or no image", what);
    } else {
        CHECK(img.width == w && img.height == h, "%s: %dx%d", what, img.width, img.height);
        CHECK(!img.has_alpha && !img.alpha && !img.source_16bit, "%s: 8-bit, no alpha", what);
        CHECK(img.source_gray == (opt->components == 1), "%s: source_gray %d", what, img.source_gray);
        CHECK(img.source_cmyk == (opt->components == 4), "%s: source_cmyk %d", what, img.source_cmyk);
        double p = psnr(img.rgb, rgb, n * 3);
        CHECK(p >= min_psnr, "%s: %.2f dB against the source (want %.0f)", what, p, min_psnr);
        if (opt->components != 4) {
            int rw, rh;
            uint8_t *ref = reference_decode(bytes, len, opt->components == 1 ? JCS_GRAYSCALE : JCS_RGB,
                                            &rw, &rh);
            int same = ref && rw == w && rh == h;
            for (size_t i = 0; same && i < n * 3; i++)
                same = img.rgb[i] == ref[opt->components == 1 ? i / 3 : i];
            CHECK(same, "%s: libjpeg's own decode, exactly", what);
            free(ref);
        }
        aec_image_free(&img);
    }
    free(bytes);
    if (src != rgb) free(src);
    free(rgb);
}

static void check_kinds(void)
{
    test_jpeg o;
    memset(&o, 0, sizeof o);
    o.components = 3;
    check_kind("baseline 4:2:0", &o, 37, 23, 28);
    check_kind("baseline 4:2:0 1x1", &o, 1, 1, 20);
    o.full_chroma = 1;
    o.quality = 97;
    check_kind("baseline 4:4:4", &o, 61, 40, 38);
    o.progressive = 1;
    check_kind("progressive 4:4:4", &o, 61, 40, 38);
    o.full_chroma = 0;
    o.quality = 0;
    check_kind("progressive 4:2:0", &o, 37, 23, 28);
    memset(&o, 0, sizeof o);
    o.components = 1;
    o.quality = 97;
    check_kind("grayscale", &o, 40, 33, 38);
    o.progressive = 1;
    check_kind("grayscale progressive", &o, 40, 33, 38);
    /* CMYK: if the Adobe marker's inversion were ignored (or applied to a
     * file without one), the colours would be negatives, far below 30 dB */
    memset(&o, 0, sizeof o);
    o.components = 4;
    o.quality = 97;
    check_kind("CMYK", &o, 48, 32, 30);
    o.adobe = 1;
    check_kind("CMYK Adobe (inverted)", &o, 48, 32, 30);
    o.adobe = 0;
    o.ycck = 1;
    check_kind("YCCK Adobe", &o, 48, 32, 30);
}

/* ---- EXIF orientation ------------------------------------------------------------------ */

/* Where stored pixel (sx, sy) of a W x H image is shown, from EXIF's
 * table for tag 0x0112: the side the 0th row is shown on, and the side
 * the 0th column is shown on (t, b, l, r). */
static void shown_at(int o, int W, int H, int sx, int sy, int *dx, int *dy)
{
    static const char *const sides[9] = {"", "tl", "tr", "br", "bl", "lt", "rt", "rb", "lb"};
    char row0 = sides[o][0], col0 = sides[o][1];
    if (row0 == 't' || row0 == 'b') { /* rows stay rows */
        *dy = row0 == 't' ? sy : H - 1 - sy;
        *dx = col0 == 'l' ? sx : W - 1 - sx;
    } else { /* rows are shown as columns: the image is W' = H wide */
        *dx = row0 == 'l' ? sy : H - 1 - sy;
        *dy = col0 == 't' ? sx : W - 1 - sx;
    }
}

/* The same pixels with and without the EXIF block: the oriented image
 * is the plain one moved as shown_at says. */
static void check_orientation(int o, int big, int progressive)
{
    const int W = 24, H = 16;
    char what[64];
    snprintf(what, sizeof what, "orientation %d (%s%s)", o, big ? "MM" : "II",
             progressive ? ", progressive" : "");
    uint8_t *rgb = smooth_rgb(W, H), *plain_bytes = NULL, *bytes = NULL;
    /* a distinct corner, so that a wrong turn cannot pass by symmetry */
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) memset(rgb + 3 * ((size_t)y * W + x), 250, 3);
    test_jpeg opt;
    memset(&opt, 0, sizeof opt);
    opt.components = 3;
    opt.progressive = progressive;
    size_t plain_len, len;
    aec_image plain, img;
    int ok = test_jpeg_encode(rgb, W, H, &opt, &plain_bytes, &plain_len) == 0;
    opt.orientation = o;
    opt.big_endian = big;
    ok = ok && test_jpeg_encode(rgb, W, H, &opt, &bytes, &len) == 0;
    if (!ok || read_ok(plain_bytes, plain_len, what, &plain)) {
        CHECK(0, "%s: no files", what);
    } else {
        if (read_ok(bytes, len, what, &img) == 0) {
            int sw = o >= 5 ? H : W, sh = o >= 5 ? W : H;
            CHECK(img.width == sw && img.height == sh, "%s: shown %dx%d, want %dx%d", what,
                  img.width, img.height, sw, sh);
            int bad = img.width != sw || img.height != sh;
            for (int sy = 0; !bad && sy < H; sy++)
                for (int sx = 0; !bad && sx < W; sx++) {
                    int dx, dy;
                    shown_at(o, W, H, sx, sy, &dx, &dy);
                    bad = memcmp(img.rgb + 3 * ((size_t)dy * sw + dx), plain.rgb + 3 * ((size_t)sy * W + sx), 3) != 0;
                    if (bad) fprintf(stderr, "%s: stored (%d,%d) not at (%d,%d)\n", what, sx, sy, dx, dy);
                }
            CHECK(!bad, "%s: every pixel where the EXIF table puts it", what);
            aec_image_free(&img);
        }
        aec_image_free(&plain);
    }
    free(plain_bytes);
    free(bytes);
    free(rgb);
}

/* The same in plain words: a phone held upright stores its picture on its
 * side and says 6; shown, the picture is turned a quarter clockwise, the
 * stored bottom-left corner at the top left. With 8 it is turned the other
 * way, that corner at the bottom right. */
static void check_phone_photo(void)
{
    const int W = 32, H = 16;
    uint8_t *rgb = calloc((size_t)W * H * 3, 1), *bytes = NULL;
    if (!rgb) abort();
    /* stored: the bottom-left 8x8 block white, the rest black */
    for (int y = H - 8; y < H; y++)
        for (int x = 0; x < 8; x++) memset(rgb + 3 * ((size_t)y * W + x), 255, 3);
    test_jpeg opt;
    memset(&opt, 0, sizeof opt);
    opt.components = 3;
    opt.full_chroma = 1;
    size_t len;
    for (int o = 6; o <= 8; o += 2) {
        opt.orientation = o;
        aec_image img;
        if (test_jpeg_encode(rgb, W, H, &opt, &bytes, &len) || read_ok(bytes, len, "phone", &img)) {
            CHECK(0, "phone photo %d", o);
        } else {
            /* turned clockwise (6), the bottom-left corner goes to the top
             * left; turned anticlockwise (8), to the bottom right */
            int x = o == 6 ? 2 : 13, y = o == 6 ? 2 : 29;
            CHECK(img.width == 16 && img.height == 32, "phone %d: %dx%d", o, img.width, img.height);
            CHECK(img.width == 16 && img.rgb[3 * ((size_t)y * 16 + x)] > 200 &&
                      img.rgb[3 * ((size_t)(31 - y) * 16 + (15 - x))] < 50,
                  "phone %d: the white corner where it belongs", o);
            aec_image_free(&img);
        }
        free(bytes);
        bytes = NULL;
    }
    free(rgb);
}

static void check_orientations(void)
{
    for (int o = 1; o <= 8; o++)
        for (int big = 0; big <= 1; big++) check_orientation(o, big, 0);
    check_orientation(6, 0, 1);
    check_orientation(5, 1, 1);
    check_phone_photo();
}

/* aec_exif_orientation on payloads good, malformed and cut short: never a
 * value from outside the payload (ASan watches the reads). */
static void check_exif_parser(void)
{
    uint8_t block[66];
    for (int big = 0; big <= 1; big++) {
        size_t n = test_exif_block(block, 6, big);
        CHECK(aec_exif_orientation(block, n) == 6, "orientation 6 (%s)", big ? "MM" : "II");
        /* every shorter payload, in a buffer of exactly its size */
        int wrong = 0;
        for (size_t k = 0; k < n; k++) {
            uint8_t *cut = malloc(k ? k : 1);
            if (!cut) abort();
            memcpy(cut, block, k);
            int o = aec_exif_orientation(cut, k);
            /* the orientation's entry ends 6 + 10 + 24 = 40 bytes in */
            wrong += k >= 40 ? o != 6 : o != 0;
            free(cut);
        }
        CHECK(!wrong, "%d cut payloads read wrong (%s)", wrong, big ? "MM" : "II");
    }
    size_t n = test_exif_block(block, 3, 0);
    uint8_t bad[66];
    memcpy(bad, block, n);
    bad[0] = 'e';
    CHECK(aec_exif_orientation(bad, n) == 0, "not Exif");
    memcpy(bad, block, n);
    bad[6] = 'I', bad[7] = 'M';
    CHECK(aec_exif_orientation(bad, n) == 0, "no byte order");
    memcpy(bad, block, n);
    bad[8] = 43;
    CHECK(aec_exif_orientation(bad, n) == 0, "not 42");
    memcpy(bad, block, n);
    test_jpeg_put32(bad + 10, 0xfffffff0u, 0);
    CHECK(aec_exif_orientation(bad, n) == 0, "IFD0 beyond the end");
    memcpy(bad, block, n);
    test_jpeg_put16(bad + 14, 0xffff, 0);
    CHECK(aec_exif_orientation(bad, n) == 3, "an entry count beyond the end: the entries there read");
    memcpy(bad, block, n);
    test_jpeg_put16(bad + 16 + 12 + 2, 4, 0);
    CHECK(aec_exif_orientation(bad, n) == 0, "orientation as a LONG");
    memcpy(bad, block, n);
    test_jpeg_put32(bad + 16 + 12 + 4, 2, 0);
    CHECK(aec_exif_orientation(bad, n) == 0, "two orientation values");
    for (int o = 0; o <= 65535; o += o < 10 ? 1 : 9973) {
        test_exif_block(bad, o, 1);
        CHECK(aec_exif_orientation(bad, n) == (o >= 1 && o <= 8 ? o : 0), "value %d", o);
    }
    CHECK(aec_exif_orientation(NULL, 0) == 0, "no payload");
}

/* An XMP APP1 before the EXIF one: the EXIF one still counts; an APP1
 * that is not EXIF at all changes nothing. */
static void check_other_app1(void)
{
    static const char xmp[] = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>";
    uint8_t *rgb = smooth_rgb(20, 12), *bytes = NULL;
    test_jpeg opt;
    memset(&opt, 0, sizeof opt);
    opt.components = 3;
    opt.app1 = (const uint8_t *)xmp;
    opt.app1_len = sizeof xmp;
    opt.orientation = 8;
    size_t len;
    aec_image img;
    if (test_jpeg_encode(rgb, 20, 12, &opt, &bytes, &len) == 0 && read_ok(bytes, len, "xmp+exif", &img) == 0) {
        CHECK(img.width == 12 && img.height == 20, "XMP, then EXIF 8: turned, %dx%d", img.width, img.height);
        aec_image_free(&img);
    }
    free(bytes);
    opt.orientation = 0;
    if (test_jpeg_encode(rgb, 20, 12, &opt, &bytes, &len) == 0 && read_ok(bytes, len, "xmp", &img) == 0) {
        CHECK(img.width == 20 && img.height == 12, "XMP alone: as stored, %dx%d", img.width, img.height);
        aec_image_free(&img);
    }
    free(bytes);
    free(rgb);
}

/* ---- damaged and refused files ------------------------------------------------------------- */

/* The offset of the first marker `code` after SOI, or 0. */
static size_t find_marker(const uint8_t *b, size_t len, int code)
{
    for (size_t i = 2; i + 1 < len; i++)
        if (b[i] == 0xff && b[i + 1] == code) return i;
    return 0;
}

/* The middle of the first scan's entropy-coded data: after the SOS
 * segment, before the next marker (an FF not followed by a stuffed 00). */
static size_t first_scan_middle(const uint8_t *b, size_t len)
{
    size_t sos = find_marker(b, len, 0xda);
    size_t start = sos + 2 + ((size_t)b[sos + 2] << 8 | b[sos + 3]), end = start;
    while (end + 1 < len && !(b[end] == 0xff && b[end + 1] != 0)) end++;
    return start + (end - start) / 2;
}

static void check_damaged(void)
{
    const int W = 64, H = 48;
    uint8_t *rgb = smooth_rgb(W, H), *bytes = NULL;
    test_jpeg opt;
    memset(&opt, 0, sizeof opt);
    opt.components = 3;
    size_t len;
    for (int progressive = 0; progressive <= 1; progressive++) {
        opt.progressive = progressive;
        if (test_jpeg_encode(rgb, W, H, &opt, &bytes, &len)) {
            CHECK(0, "no file");
            continue;
        }
        /* cut anywhere from just after the magic to inside EOI */
        int cuts = 0;
        for (size_t k = 3; k < len; k++) {
            if (k >= 64 && k % 23 && k < len - 2) continue; /* the headers, then a sample */
            char what[64];
            snprintf(what, sizeof what, "%s cut at %zu of %zu", progressive ? "progressive" : "baseline",
                     k, len);
            read_fails(bytes, k, what, 0, "truncated");
            cuts++;
        }
        CHECK(cuts > 70, "%d cuts", cuts);
        /* a marker in the middle of the entropy-coded data */
        size_t mid = first_scan_middle(bytes, len);
        uint8_t *hit = malloc(len);
        if (!hit) abort();
        memcpy(hit, bytes, len);
        hit[mid] = 0xff;
        hit[mid + 1] = 0xd9;
        read_fails(hit, len, progressive ? "progressive, EOI inside" : "baseline, EOI inside", 0,
                   NULL);
        memcpy(hit, bytes, len);
        hit[mid] = 0xff;
        hit[mid + 1] = 0xd3;
        read_fails(hit, len, progressive ? "progressive, RST3 inside" : "baseline, RST3 inside", 0,
                   "corrupt JPEG");
        free(hit);
        free(bytes);
    }
    /* the magic, then a frame header whose length is too short for it */
    static const uint8_t junk[] = {0xff, 0xd8, 0xff, 0xc0, 0x00, 0x02, 0x08, 0x00, 0x10, 0x00,
                                   0x10, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11,
                                   0x01, 0xff, 0xd9};
    read_fails(junk, sizeof junk, "junk", 0, "corrupt JPEG");
    /* bytes between markers: libjpeg warns and decodes the same image, so
     * it is read, as viewers read it */
    opt.progressive = 0;
    if (test_jpeg_encode(rgb, W, H, &opt, &bytes, &len) == 0) {
        size_t dqt = find_marker(bytes, len, 0xdb);
        uint8_t *extra = malloc(len + 3);
        if (!extra) abort();
        memcpy(extra, bytes, dqt);
        memcpy(extra + dqt, "\x11\x22\x33", 3);
        memcpy(extra + dqt + 3, bytes + dqt, len - dqt);
        aec_image a, b;
        if (read_ok(bytes, len, "plain", &a) == 0) {
            if (read_ok(extra, len + 3, "extraneous bytes", &b) == 0) {
                CHECK(!memcmp(a.rgb, b.rgb, (size_t)W * H * 3), "extraneous bytes: the same pixels");
                aec_image_free(&b);
            }
            aec_image_free(&a);
        }
        free(extra);
        free(bytes);
    }
    free(rgb);
}

/* The size in the frame header, checked before anything is allocated:
 * 65000 x 65000 (12 GB of RGB) fails at once, under ASan too. */
static void check_limits(void)
{
    uint8_t *rgb = smooth_rgb(16, 16), *bytes = NULL;
    test_jpeg opt;
    memset(&opt, 0, sizeof opt);
    opt.components = 3;
    size_t len;
    if (test_jpeg_encode(rgb, 16, 16, &opt, &bytes, &len) == 0) {
        read_fails(bytes, len, "16x16, limit 255", 255, "too large: 16x16");
        aec_image img;
        if (read_ok(bytes, len, "16x16, limit 256", &img) == 0) aec_image_free(&img);
        size_t sof = find_marker(bytes, len, 0xc0);
        CHECK(sof > 0, "SOF0 found");
        if (sof) {
            /* FF C0, length (2), precision (1), height (2), width (2):
             * 65000 a side, within JPEG's 65500 */
            bytes[sof + 5] = bytes[sof + 7] = 0xfd;
            bytes[sof + 6] = bytes[sof + 8] = 0xe8;
            read_fails(bytes, len, "65000x65000", 0, "too large: 65000x65000");
        }
        free(bytes);
    }
    /* a progressive file of 631 scans (each AC coefficient alone, then
     * refined bit by bit) is refused; one of 64 scans is read */
    static jpeg_scan_info scans[1 + 63 * 10];
    int n = 0;
    scans[n++] = (jpeg_scan_info){1, {0}, 0, 0, 0, 0};
    for (int k = 1; k < 64; k++)
        for (int al = 9; al >= 0; al--)
            scans[n++] = (jpeg_scan_info){1, {0}, k, k, al == 9 ? 0 : al + 1, al};
    uint8_t gray[64];
    for (int i = 0; i < 64; i++) gray[i] = (uint8_t)(i * 4);
    memset(&opt, 0, sizeof opt);
    opt.components = 1;
    opt.scans = scans;
    opt.n_scans = n;
    if (test_jpeg_encode(gray, 8, 8, &opt, &bytes, &len) == 0) {
        read_fails(bytes, len, "631 scans", 0, "more than 500 scans");
        free(bytes);
    } else {
        CHECK(0, "a file of %d scans", n);
    }
    n = 0;
    scans[n++] = (jpeg_scan_info){1, {0}, 0, 0, 0, 0};
    for (int k = 1; k < 64; k++) scans[n++] = (jpeg_scan_info){1, {0}, k, k, 0, 0};
    opt.n_scans = n;
    aec_image img;
    if (test_jpeg_encode(gray, 8, 8, &opt, &bytes, &len) == 0 && read_ok(bytes, len, "64 scans", &img) == 0) {
        CHECK(img.width == 8 && img.height == 8, "64 scans read");
        aec_image_free(&img);
    }
    free(bytes);
    free(rgb);
}

/* ---- image_io: the format by the first bytes, the names walks take --------------------------- */

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f && fclose(f)) ok = 0;
    return ok ? 0 : -1;
}

static void check_dispatch(void)
{
    uint8_t *rgb = smooth_rgb(20, 10), *bytes = NULL;
    test_jpeg opt;
    memset(&opt, 0, sizeof opt);
    opt.components = 3;
    size_t len;
    char jpeg_as_png[512], png_as_jpg[512], text[512], empty[512], missing[512], err[512];
    snprintf(jpeg_as_png, sizeof jpeg_as_png, "%s/photo.png", dir);
    snprintf(png_as_jpg, sizeof png_as_jpg, "%s/drawing.jpg", dir);
    snprintf(text, sizeof text, "%s/notes.jpeg", dir);
    snprintf(empty, sizeof empty, "%s/empty.JPG", dir);
    snprintf(missing, sizeof missing, "%s/missing.jpg", dir);
    aec_image img;
    if (test_jpeg_encode(rgb, 20, 10, &opt, &bytes, &len) == 0 && write_file(jpeg_as_png, bytes, len) == 0) {
        CHECK(aec_image_file_format(jpeg_as_png) == AEC_IMAGE_JPEG, "a JPEG named .png is a JPEG");
        CHECK(aec_image_read(jpeg_as_png, &img, 0, err, sizeof err) == 0 && img.width == 20,
              "a JPEG named .png read: %s", err);
        aec_image_free(&img);
    }
    free(bytes);
    if (aec_png_write(png_as_jpg, rgb, NULL, 20, 10, err, sizeof err) == 0) {
        CHECK(aec_image_file_format(png_as_jpg) == AEC_IMAGE_PNG, "a PNG named .jpg is a PNG");
        CHECK(aec_image_read(png_as_jpg, &img, 0, err, sizeof err) == 0 && img.width == 20 &&
                  !memcmp(img.rgb, rgb, 20 * 10 * 3),
              "a PNG named .jpg read, exactly: %s", err);
        aec_image_free(&img);
    }
    write_file(text, "not an image\n", 13);
    write_file(empty, "", 0);
    const char *bad[] = {text, empty, missing};
    const char *want[] = {"not a PNG or JPEG file", "not a PNG or JPEG file", "cannot open"};
    for (int i = 0; i < 3; i++) {
        err[0] = 0;
        CHECK(aec_image_read(bad[i], &img, 0, err, sizeof err) == -1 && img.rgb == NULL &&
                  !strncmp(err, bad[i], strlen(bad[i])) && strstr(err, want[i]),
              "%s: '%s'", bad[i], err);
    }
    CHECK(aec_image_file_format(missing) == AEC_IMAGE_UNKNOWN, "a missing file's format is unknown");
    free(rgb);

    static const struct { const char *name, *suffix; } names[] = {
        {"a.png", ".png"}, {"a.PNG", ".PNG"}, {"b.jpg", ".jpg"}, {"b.JPG", ".JPG"},
        {"c.jpeg", ".jpeg"}, {"c.JPEG", ".JPEG"}, {"d.JpEg", ".JpEg"}, {"x/y.jpg", ".jpg"},
        {".jpg", NULL}, {"jpg", NULL}, {"a.jpgx", NULL}, {"a.jpe", NULL}, {"a.gif", NULL},
        {"a.aec", NULL}, {"", NULL},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *s = aec_image_suffix(names[i].name);
        CHECK(names[i].suffix ? s && !strcmp(s, names[i].suffix) : s == NULL, "suffix of '%s': %s",
              names[i].name, s ? s : "none");
        CHECK(aec_image_name_ok(names[i].name) == (names[i].suffix != NULL), "name_ok '%s'",
              names[i].name);
    }
}

/* aec_orient_rgb straight: a 3x2 image, every orientation, by hand */
static void check_orient_small(void)
{
    /* stored:  a b c      the pixels' first bytes are the letters
     *          d e f */
    uint8_t px[18];
    for (int i = 0; i < 6; i++) memset(px + 3 * i, 'a' + i, 3);
    static const char *const shown[9] = {"", "abcdef", "cbafed", "fedcba", "defabc",
                                         "adbecf", "daebfc", "fcebda", "cfbead"};
    for (int o = 1; o <= 8; o++) {
        uint8_t *out = NULL;
        int w, h;
        CHECK(aec_orient_rgb(px, 3, 2, o, &out, &w, &h) == 0, "orient %d", o);
        if (!out) continue;
        char got[7];
        for (int i = 0; i < 6; i++) got[i] = (char)out[3 * i];
        got[6] = 0;
        CHECK(!strcmp(got, shown[o]) && w == (o >= 5 ? 2 : 3) && h == (o >= 5 ? 3 : 2),
              "orientation %d: %s (%dx%d), want %s", o, got, w, h, shown[o]);
        free(out);
    }
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) rmdir(p);
    else unlink(p);
    return 0;
}

int main(void)
{
    char tmp[] = "/tmp/aec_test_jpeg.XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    dir = tmp;
    check_kinds();
    check_orient_small();
    check_orientations();
    check_exif_parser();
    check_other_app1();
    check_damaged();
    check_limits();
    check_dispatch();
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_report("test_jpeg");
}
