/* tools/measure/jpeg_ref.c - JPEG through libjpeg-turbo, as cjpeg/djpeg do it (see
 * jpeg_ref.h). libjpeg reports errors by calling error_exit, which must not
 * return: it longjmps back here with the library's message. */
#include "tools/measure/jpeg_ref.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
    char message[JMSG_LENGTH_MAX];
} jpeg_error;

static void on_error(j_common_ptr cinfo)
{
    jpeg_error *e = (jpeg_error *)cinfo->err;
    e->mgr.format_message(cinfo, e->message);
    longjmp(e->back, 1);
}

/* libjpeg's warnings (e.g. corrupt data it worked around) are not printed:
 * a benchmark feeds it only its own files. */
static void on_message(j_common_ptr cinfo, int level)
{
    (void)cinfo;
    (void)level;
}

static void init_error(jpeg_error *e)
{
    jpeg_std_error(&e->mgr);
    e->mgr.error_exit = on_error;
    e->mgr.emit_message = on_message;
    e->message[0] = 0;
}

int jpeg_ref_encode(const uint8_t *rgb, int w, int h, int quality, uint8_t **out, size_t *len,
                    char *err, size_t errlen)
{
    struct jpeg_compress_struct cinfo;
    jpeg_error e;
    /* jpeg_mem_dest grows its own buffer; these survive the longjmp */
    unsigned char *volatile buf = NULL;
    unsigned long volatile size = 0;
    init_error(&e);
    cinfo.err = &e.mgr;
    if (setjmp(e.back)) {
        snprintf(err, errlen, "libjpeg: %s", e.message);
        jpeg_destroy_compress(&cinfo);
        free(buf);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buf, (unsigned long *)&size);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo); /* YCbCr with 2x2 luma sampling: 4:2:0 */
    /* cjpeg's -quality keeps its scaled tables unclamped (force_baseline
     * FALSE), which changes the tables below quality 25 */
    jpeg_set_quality(&cinfo, quality, FALSE);
    cinfo.optimize_coding = TRUE;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buf;
    *len = size;
    return 0;
}

int jpeg_ref_decode(const uint8_t *data, size_t len, uint8_t **rgb, int *w, int *h, char *err,
                    size_t errlen)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_error e;
    uint8_t *volatile pixels = NULL;
    init_error(&e);
    cinfo.err = &e.mgr;
    if (setjmp(e.back)) {
        snprintf(err, errlen, "libjpeg: %s", e.message);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    if (cinfo.output_components != 3 ||
        !(pixels = malloc(stride * (size_t)cinfo.output_height))) {
        snprintf(err, errlen, cinfo.output_components != 3 ? "JPEG is not RGB" : "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.output_scanline * stride);
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *rgb = pixels;
    return 0;
}

#define JPEG_REF_STR2(x) #x
#define JPEG_REF_STR(x) JPEG_REF_STR2(x)

const char *jpeg_ref_version(void)
{
#ifdef LIBJPEG_TURBO_VERSION
    return "libjpeg-turbo " JPEG_REF_STR(LIBJPEG_TURBO_VERSION);
#else
    return "libjpeg " JPEG_REF_STR(JPEG_LIB_VERSION);
#endif
}
