/* tools/imageio/jpeg_io.c - JPEG reading with libjpeg-turbo; see jpeg_io.h.
 *
 * libjpeg reports errors by calling error_exit, which must not return;
 * ours records the message and longjmps back into decode(). The warnings
 * that mean lost pixels longjmp the same way. Everything decode()
 * allocates lives in a struct owned by its caller, so nothing is lost or
 * left indeterminate across the longjmp, and the caller frees it on every
 * path. */
#include "tools/imageio/jpeg_io.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr mgr;   /* first: libjpeg sees only this part */
    jmp_buf back;
    char text[JMSG_LENGTH_MAX];  /* the message that ended the decode */
    int code;                    /* its libjpeg message code */
} reader_error;

typedef struct {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    reader_error error;
    int created;       /* cinfo needs jpeg_destroy_decompress */
    uint8_t *pixels;   /* as decoded: 3 or 4 samples a pixel */
} jpeg_reader;

static void on_libjpeg_error(j_common_ptr cinfo)
{
    reader_error *e = (reader_error *)cinfo->err;
    e->code = e->mgr.msg_code;
    e->mgr.format_message(cinfo, e->text);
    longjmp(e->back, 1);
}

/* The warnings after which libjpeg goes on with made-up data: grey blocks
 * for what was cut off, garbled ones after a bad code or a lost restart. */
static int warning_means_damage(int code)
{
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_NOT_SEQUENTIAL:
        return 1;
    default:
        return 0;
    }
}

/* level -1 is a warning, 0 and up trace output: a library prints neither */
static void on_libjpeg_message(j_common_ptr cinfo, int level)
{
    if (level < 0 && warning_means_damage(cinfo->err->msg_code)) on_libjpeg_error(cinfo);
}

/* Called between scans and rows: a file of endless tiny scans is stopped
 * here instead of costing a pass over the image each. */
static void on_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > AEC_JPEG_MAX_SCANS) {
        reader_error *e = (reader_error *)cinfo->err;
        e->code = -1;
        snprintf(e->text, sizeof e->text, "more than %d scans", AEC_JPEG_MAX_SCANS);
        longjmp(e->back, 1);
    }
}

/* ---- EXIF orientation ------------------------------------------------------ */

static unsigned get16(const uint8_t *p, int big_endian)
{
    return big_endian ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t get32(const uint8_t *p, int big_endian)
{
    return big_endian ? (uint32_t)get16(p, 1) << 16 | get16(p + 2, 1)
                      : (uint32_t)get16(p + 2, 0) << 16 | get16(p, 0);
}

int aec_exif_orientation(const uint8_t *app1, size_t len)
{
    /* "Exif\0\0", then TIFF: byte order "II" or "MM", 42, IFD0's offset
     * (from the TIFF header); IFD0: a count, then 12-byte entries of tag,
     * type, count and the value itself when it fits in 4 bytes */
    enum { EXIF_ID = 6, TIFF_HEAD = 8, ENTRY = 12, TAG_ORIENTATION = 0x0112, TYPE_SHORT = 3 };
    if (!app1 || len < EXIF_ID + TIFF_HEAD || memcmp(app1, "Exif\0\0", EXIF_ID) != 0) return 0;
    const uint8_t *tiff = app1 + EXIF_ID;
    size_t n = len - EXIF_ID;
    int big;
    if (!memcmp(tiff, "MM", 2)) big = 1;
    else if (!memcmp(tiff, "II", 2)) big = 0;
    else return 0;
    if (get16(tiff + 2, big) != 42) return 0;
    uint32_t ifd = get32(tiff + 4, big);
    if (ifd > n || n - ifd < 2) return 0;
    unsigned entries = get16(tiff + ifd, big);
    size_t room = (n - ifd - 2) / ENTRY;
    for (size_t i = 0; i < entries && i < room; i++) {
        const uint8_t *e = tiff + ifd + 2 + i * ENTRY;
        if (get16(e, big) != TAG_ORIENTATION) continue;
        if (get16(e + 2, big) != TYPE_SHORT || get32(e + 4, big) != 1) return 0;
        unsigned o = get16(e + 8, big);
        return o >= 1 && o <= 8 ? (int)o : 0;
    }
    return 0;
}

/* The first APP1 marker that holds an orientation, or 1. */
static int orientation_of(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        int o = m->marker == JPEG_APP0 + 1 ? aec_exif_orientation(m->data, m->data_length) : 0;
        if (o) return o;
    }
    return 1;
}

int aec_orient_rgb(const uint8_t *stored, int width, int height, int o, uint8_t **shown, int *w,
                   int *h)
{
    /* For each orientation, where the shown image's first pixel is in the
     * stored one (0: the first column or row, 1: the last) and the stored
     * pixel a step right and a step down in the shown image leads to
     * (dx, dy in stored columns and rows). From the EXIF table: 6 ("0th
     * row is the visual right side, 0th column the visual top") shows
     * stored (y, H-1-x) at (x, y), a turn clockwise. */
    static const signed char map[9][6] = {
        /* last col, last row, right: dx dy, down: dx dy */
        {0, 0, 1, 0, 0, 1},  {0, 0, 1, 0, 0, 1},   {1, 0, -1, 0, 0, 1}, {1, 1, -1, 0, 0, -1},
        {0, 1, 1, 0, 0, -1}, {0, 0, 0, 1, 1, 0},   {0, 1, 0, -1, 1, 0}, {1, 1, 0, -1, -1, 0},
        {1, 0, 0, 1, -1, 0},
    };
    if (o < 0 || o > 8) o = 1;
    const signed char *m = map[o];
    int turned = o >= 5;
    *w = turned ? height : width;
    *h = turned ? width : height;
    uint8_t *out = malloc((size_t)width * (size_t)height * 3);
    if (!out) return -1;
    ptrdiff_t right = m[2] + (ptrdiff_t)m[3] * width, down = m[4] + (ptrdiff_t)m[5] * width;
    ptrdiff_t first = (m[0] ? width - 1 : 0) + (ptrdiff_t)(m[1] ? height - 1 : 0) * width;
    for (int y = 0; y < *h; y++) {
        ptrdiff_t at = first + y * down;
        uint8_t *dst = out + (size_t)y * (size_t)*w * 3;
        for (int x = 0; x < *w; x++, at += right, dst += 3) memcpy(dst, stored + 3 * at, 3);
    }
    *shown = out;
    return 0;
}

/* ---- decoding ------------------------------------------------------------- */

/* CMYK (4 samples a pixel) -> RGB in place: the write index 3i never
 * passes the read index 4i. Adobe's files store the samples inverted. */
static void cmyk_to_rgb(uint8_t *px, size_t n, int inverted)
{
    for (size_t i = 0; i < n; i++) {
        unsigned k = px[4 * i + 3];
        if (!inverted) k = 255 - k;
        for (int c = 0; c < 3; c++) {
            unsigned v = px[4 * i + (size_t)c];
            if (!inverted) v = 255 - v;
            px[3 * i + (size_t)c] = (uint8_t)((v * k + 127) / 255);
        }
    }
}

/* The output colour space for the file's, or -1 if it is none aec reads. */
static int output_space(J_COLOR_SPACE in)
{
    switch (in) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        return JCS_RGB;
    case JCS_CMYK:
    case JCS_YCCK:
        return JCS_CMYK;
    default:
        return -1;
    }
}

/* Decodes into r->pixels (the image as stored); 0, or -1 with the problem
 * (without the name) in problem. max_pixels > 0. */
static int decode(jpeg_reader *r, const void *data, size_t size, aec_image *img,
                  long max_pixels, int *orientation, char *problem, size_t plen)
{
    struct jpeg_decompress_struct *cinfo = &r->cinfo;
    cinfo->err = jpeg_std_error(&r->error.mgr);
    r->error.mgr.error_exit = on_libjpeg_error;
    r->error.mgr.emit_message = on_libjpeg_message;
    if (setjmp(r->error.back)) {
        if (r->error.code == JWRN_JPEG_EOF) snprintf(problem, plen, "truncated");
        else if (r->error.code == JERR_OUT_OF_MEMORY) snprintf(problem, plen, "out of memory");
        else snprintf(problem, plen, "corrupt JPEG (%s)", r->error.text);
        return -1;
    }
    jpeg_create_decompress(cinfo);
    r->created = 1;
    r->progress.progress_monitor = on_progress;
    cinfo->progress = &r->progress;
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);
    /* the saved markers last until jpeg_finish_decompress frees them */
    *orientation = orientation_of(cinfo);

    unsigned long w = cinfo->image_width, h = cinfo->image_height;
    if (w > AEC_PNG_MAX_SIDE || h > AEC_PNG_MAX_SIDE || (uint64_t)w * h > (uint64_t)max_pixels) {
        snprintf(problem, plen, "too large: %lux%lu pixels (limit %ld pixels, %d per side)", w, h,
                 max_pixels, AEC_PNG_MAX_SIDE);
        return -1;
    }
    int space = output_space(cinfo->jpeg_color_space);
    if (space < 0) {
        snprintf(problem, plen, "unsupported JPEG colour space (%d components)",
                 cinfo->num_components);
        return -1;
    }
    cinfo->out_color_space = (J_COLOR_SPACE)space;
    jpeg_start_decompress(cinfo);
    size_t stride = (size_t)cinfo->output_width * (size_t)cinfo->output_components;
    r->pixels = malloc(stride * cinfo->output_height);
    if (!r->pixels) {
        snprintf(problem, plen, "out of memory");
        return -1;
    }
    while (cinfo->output_scanline < cinfo->output_height) {
        JSAMPROW row = r->pixels + (size_t)cinfo->output_scanline * stride;
        jpeg_read_scanlines(cinfo, &row, 1);
    }
    /* reads up to EOI, so a file cut short after the last row is noticed */
    jpeg_finish_decompress(cinfo);

    size_t n = (size_t)w * h;
    if (space == JCS_CMYK) cmyk_to_rgb(r->pixels, n, cinfo->saw_Adobe_marker);
    img->width = (int)w;
    img->height = (int)h;
    img->source_gray = cinfo->jpeg_color_space == JCS_GRAYSCALE;
    img->source_cmyk = space == JCS_CMYK;
    return 0;
}

int aec_jpeg_read_mem(const void *data, size_t size, const char *name, aec_image *img,
                      long max_pixels, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    if (!name) name = "<memory>";
    char problem[JMSG_LENGTH_MAX + 64];
    jpeg_reader r;
    memset(&r, 0, sizeof r);
    int orientation = 1, rc;
    if (!data || size == 0) {
        snprintf(problem, sizeof problem, "empty");
        rc = -1;
    } else {
        if (max_pixels <= 0) max_pixels = AEC_PNG_DEFAULT_MAX_PIXELS;
        rc = decode(&r, data, size, img, max_pixels, &orientation, problem, sizeof problem);
    }
    if (r.created) jpeg_destroy_decompress(&r.cinfo);
    if (rc == 0 && orientation == 1) {
        img->rgb = r.pixels;
        r.pixels = NULL;
    } else if (rc == 0 && aec_orient_rgb(r.pixels, img->width, img->height, orientation,
                                         &img->rgb, &img->width, &img->height)) {
        snprintf(problem, sizeof problem, "out of memory");
        rc = -1;
    }
    free(r.pixels);
    if (rc) {
        memset(img, 0, sizeof *img);
        if (err && errlen) snprintf(err, errlen, "%s: %s", name, problem);
    }
    return rc;
}
