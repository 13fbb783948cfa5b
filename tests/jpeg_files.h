/* tests/jpeg_files.h - JPEG files for the tests, written here with
 * libjpeg: baseline or progressive, YCbCr, grayscale, CMYK or YCCK, with
 * or without an EXIF orientation or an APP1 payload given, so that the
 * tests of tools/imageio/jpeg_io.c read files whose content they know. */
#ifndef TESTS_JPEG_FILES_H
#define TESTS_JPEG_FILES_H

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct {
    int quality;            /* 1-100; 0: 90 */
    int progressive;        /* jpeg_simple_progression */
    int full_chroma;        /* 4:4:4 instead of libjpeg's 4:2:0 */
    int components;         /* of the pixels given: 3 RGB, 1 gray, 4 CMYK */
    int ycck;               /* CMYK stored as YCCK */
    int adobe;              /* CMYK: with libjpeg's Adobe marker (else none) */
    int orientation;        /* 1-8: an EXIF APP1 with this orientation; 0: none */
    int big_endian;         /* the EXIF block in Motorola ("MM") order */
    const uint8_t *app1;    /* an APP1 payload written before the EXIF one */
    size_t app1_len;
    const jpeg_scan_info *scans; /* a scan script of n_scans scans instead */
    int n_scans;
} test_jpeg;

static inline void test_jpeg_put16(uint8_t *p, unsigned v, int big)
{
    p[big ? 0 : 1] = (uint8_t)(v >> 8);
    p[big ? 1 : 0] = (uint8_t)v;
}

static inline void test_jpeg_put32(uint8_t *p, uint32_t v, int big)
{
    test_jpeg_put16(p + (big ? 0 : 2), v >> 16, big);
    test_jpeg_put16(p + (big ? 2 : 0), v & 0xffff, big);
}

/* An APP1 payload: "Exif\0\0", a TIFF header, IFD0 with a
 * DateTime-like ASCII tag (0x0132, its 20 bytes after the IFD) before the
 * orientation tag, as cameras write it. Returns its length (66 bytes). */
static inline size_t test_exif_block(uint8_t *buf, int orientation, int big)
{
    memset(buf, 0, 66);
    memcpy(buf, "Exif\0\0", 6);
    uint8_t *t = buf + 6;
    memcpy(t, big ? "MM" : "II", 2);
    test_jpeg_put16(t + 2, 42, big);
    test_jpeg_put32(t + 4, 8, big);      /* IFD0 right after the header */
    test_jpeg_put16(t + 8, 2, big);      /* two entries */
    uint8_t *e = t + 10;
    test_jpeg_put16(e, 0x0132, big);     /* DateTime, ASCII, 20 bytes at 40 */
    test_jpeg_put16(e + 2, 2, big);
    test_jpeg_put32(e + 4, 20, big);
    test_jpeg_put32(e + 8, 40, big);
    e += 12;
    test_jpeg_put16(e, 0x0112, big);     /* Orientation, SHORT, 1 value */
    test_jpeg_put16(e + 2, 3, big);
    test_jpeg_put32(e + 4, 1, big);
    test_jpeg_put16(e + 8, (unsigned)orientation, big);
    test_jpeg_put32(t + 34, 0, big);     /* no next IFD */
    memcpy(t + 40, "2026:12:06 10:00:00", 20);
    return 66;
}

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
} test_jpeg_error;

static inline void test_jpeg_on_error(j_common_ptr cinfo)
{
    longjmp(((test_jpeg_error *)cinfo->err)->back, 1);
}

/* Compresses w x h pixels of opt->components samples each into a
 * malloc'd JPEG. 0, or -1. */
static inline int test_jpeg_encode(const uint8_t *px, int w, int h, const test_jpeg *opt, uint8_t **out,
                            size_t *len)
{
    struct jpeg_compress_struct c;
    test_jpeg_error e;
    unsigned char *volatile buf = NULL;
    unsigned long volatile size = 0;
    c.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = test_jpeg_on_error;
    if (setjmp(e.back)) {
        jpeg_destroy_compress(&c);
        free(buf);
        return -1;
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, (unsigned char **)&buf, (unsigned long *)&size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = opt->components;
    c.in_color_space = opt->components == 1 ? JCS_GRAYSCALE : opt->components == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    if (opt->components == 4) {
        jpeg_set_colorspace(&c, opt->ycck ? JCS_YCCK : JCS_CMYK);
        c.write_Adobe_marker = opt->adobe || opt->ycck;
    }
    if (opt->full_chroma)
        for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_set_quality(&c, opt->quality ? opt->quality : 90, TRUE);
    if (opt->progressive) jpeg_simple_progression(&c);
    if (opt->scans) {
        c.scan_info = opt->scans;
        c.num_scans = opt->n_scans;
    }
    jpeg_start_compress(&c, TRUE);
    if (opt->app1) jpeg_write_marker(&c, JPEG_APP0 + 1, opt->app1, (unsigned)opt->app1_len);
    if (opt->orientation) {
        uint8_t exif[66];
        size_t n = test_exif_block(exif, opt->orientation, opt->big_endian);
        jpeg_write_marker(&c, JPEG_APP0 + 1, exif, (unsigned)n);
    }
    size_t stride = (size_t)w * (size_t)opt->components;
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + c.next_scanline * stride);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buf;
    *len = size;
    return 0;
}

/* The same, written to path. */
static inline int test_jpeg_write(const char *path, const uint8_t *px, int w, int h, const test_jpeg *opt)
{
    uint8_t *bytes;
    size_t len;
    if (test_jpeg_encode(px, w, h, opt, &bytes, &len)) return -1;
    FILE *f = fopen(path, "wb");
    int rc = f && fwrite(bytes, 1, len, f) == len ? 0 : -1;
    if (f && fclose(f)) rc = -1;
    free(bytes);
    return rc;
}

#endif
