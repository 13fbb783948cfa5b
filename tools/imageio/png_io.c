/* tools/imageio/png_io.c - PNG reading with libpng and atomic writing (the encoder
 * is png_write.c); see png_io.h.
 *
 * libpng reports errors by calling an error function that must not return;
 * ours records the message and longjmps back into the function that called
 * setjmp. Everything that function allocates lives in a struct owned by its
 * caller, so nothing is lost or left indeterminate across the longjmp, and
 * the caller frees it on every path. */
#include "tools/imageio/png_io.h"
#include "tools/imageio/png_write.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* PNG signature (8), IHDR length and type (8), IHDR data (13), CRC (4). */
#define PNG_HEAD_BYTES 33

/* The first message libpng reported; later ones are consequences. */
typedef struct {
    char text[200];
} libpng_message;

static void on_libpng_error(png_structp png, png_const_charp msg)
{
    libpng_message *m = png_get_error_ptr(png);
    if (m->text[0] == '\0') snprintf(m->text, sizeof m->text, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings (unknown chunks, bad ancillary CRCs, sRGB profile quibbles) do
 * not stop the image from being read; a library must not print them. */
static void on_libpng_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Writes "name: problem" into err. */
static void report(char *err, size_t errlen, const char *name, const char *fmt, ...)
{
    char problem[320];
    va_list ap;
    if (!err || errlen == 0) return;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s: %s", name, problem);
}

void aec_image_free(aec_image *img)
{
    if (!img) return;
    free(img->rgb);
    free(img->alpha);
    memset(img, 0, sizeof *img);
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
    libpng_message msg;
    /* where the bytes come from: a stream, or else memory */
    FILE *file;
    const uint8_t *mem;
    size_t mem_size, mem_pos;
    /* the first bytes, read ahead so the header's size is checked before
     * libpng runs; libpng is then fed them again */
    uint8_t head[PNG_HEAD_BYTES];
    size_t head_len, head_pos;
    /* why a read failed, so it is reported as such rather than as corrupt */
    int truncated, io_errno, out_of_memory;
    /* everything allocated, freed by the caller after success or longjmp */
    png_structp png;
    png_infop info;
    png_bytep *rows;
    uint8_t *pixels;
    uint8_t *alpha;
} png_reader;

static size_t source_read(png_reader *r, uint8_t *dst, size_t n)
{
    if (r->file) {
        errno = 0;
        size_t got = fread(dst, 1, n, r->file);
        if (got < n && ferror(r->file)) r->io_errno = errno ? errno : EIO;
        return got;
    }
    size_t left = r->mem_size - r->mem_pos;
    if (n > left) n = left;
    if (n) memcpy(dst, r->mem + r->mem_pos, n);
    r->mem_pos += n;
    return n;
}

static void read_callback(png_structp png, png_bytep out, size_t n)
{
    png_reader *r = png_get_io_ptr(png);
    size_t from_head = r->head_len - r->head_pos;
    if (from_head > n) from_head = n;
    memcpy(out, r->head + r->head_pos, from_head);
    r->head_pos += from_head;
    size_t got = from_head;
    if (got < n) got += source_read(r, out + got, n - got);
    if (got < n) {
        if (!r->io_errno) r->truncated = 1;
        png_error(png, "read failed");
    }
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes into r->pixels (and r->alpha); the caller frees r's contents.
 * Returns 0, or -1 with the problem (without the name) in problem. */
static int decode(png_reader *r, aec_image *img, long max_pixels, char *problem, size_t plen)
{
    r->head_len = source_read(r, r->head, PNG_HEAD_BYTES);
    if (r->io_errno) {
        snprintf(problem, plen, "read error: %s", strerror(r->io_errno));
        return -1;
    }
    size_t sig_len = r->head_len < 8 ? r->head_len : 8;
    if (r->head_len == 0 || png_sig_cmp(r->head, 0, sig_len) != 0) {
        snprintf(problem, plen, "not a PNG file");
        return -1;
    }
    if (r->head_len < PNG_HEAD_BYTES) {
        snprintf(problem, plen, "truncated");
        return -1;
    }
    if (memcmp(r->head + 12, "IHDR", 4) != 0) {
        snprintf(problem, plen, "corrupt PNG (first chunk is not IHDR)");
        return -1;
    }
    uint32_t w = read_be32(r->head + 16), h = read_be32(r->head + 20);
    if (max_pixels <= 0) max_pixels = AEC_PNG_DEFAULT_MAX_PIXELS;
    if (w > AEC_PNG_MAX_SIDE || h > AEC_PNG_MAX_SIDE ||
        (uint64_t)w * h > (uint64_t)max_pixels) {
        snprintf(problem, plen, "too large: %lux%lu pixels (limit %ld pixels, %d per side)",
                 (unsigned long)w, (unsigned long)h, max_pixels, AEC_PNG_MAX_SIDE);
        return -1;
    }

    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r->msg, on_libpng_error,
                                    on_libpng_warning);
    if (r->png) r->info = png_create_info_struct(r->png);
    if (!r->png || !r->info) {
        snprintf(problem, plen, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(r->png))) {
        if (r->io_errno)
            snprintf(problem, plen, "read error: %s", strerror(r->io_errno));
        else if (r->truncated)
            snprintf(problem, plen, "truncated");
        else if (r->out_of_memory || strcmp(r->msg.text, "Out of memory") == 0)
            snprintf(problem, plen, "out of memory");
        else
            snprintf(problem, plen, "corrupt PNG (%s)", r->msg.text);
        return -1;
    }
    png_set_read_fn(r->png, r, read_callback);
    png_set_user_limits(r->png, AEC_PNG_MAX_SIDE, AEC_PNG_MAX_SIDE);
    png_read_info(r->png, r->info);

    png_uint_32 width, height;
    int depth, color, interlace;
    png_get_IHDR(r->png, r->info, &width, &height, &depth, &color, &interlace, NULL, NULL);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
    if (!(color & PNG_COLOR_MASK_COLOR) && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
    if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
    /* accurately rounded: (v * 255 + 32767) / 65535 */
    if (depth == 16) png_set_scale_16(r->png);
    if (!(color & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(r->png);
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);

    size_t channels = png_get_channels(r->png, r->info);
    size_t row_bytes = (size_t)width * channels;
    if ((channels != 3 && channels != 4) || png_get_rowbytes(r->png, r->info) != row_bytes)
        png_error(r->png, "unexpected pixel layout after transformations");
    size_t n = (size_t)width * height;
    r->pixels = malloc(n * channels);
    r->rows = malloc((size_t)height * sizeof *r->rows);
    if (!r->pixels || !r->rows) {
        r->out_of_memory = 1;
        png_error(r->png, "Out of memory");
    }
    for (size_t y = 0; y < height; y++) r->rows[y] = r->pixels + y * row_bytes;
    png_read_image(r->png, r->rows);
    /* reads up to IEND, so a file cut short after the pixels is noticed */
    png_read_end(r->png, NULL);

    if (channels == 4) {
        r->alpha = malloc(n);
        if (!r->alpha) {
            snprintf(problem, plen, "out of memory");
            return -1;
        }
        /* RGBA -> RGB in place: the write index 3i never passes the read index 4i */
        int used = 0;
        for (size_t i = 0; i < n; i++) {
            uint8_t a = r->pixels[4 * i + 3];
            r->pixels[3 * i + 0] = r->pixels[4 * i + 0];
            r->pixels[3 * i + 1] = r->pixels[4 * i + 1];
            r->pixels[3 * i + 2] = r->pixels[4 * i + 2];
            r->alpha[i] = a;
            used |= a != 255;
        }
        uint8_t *smaller = realloc(r->pixels, n * 3);
        if (smaller) r->pixels = smaller; /* otherwise the bigger block serves */
        img->has_alpha = 1;
        img->alpha_used = used;
    }
    img->width = (int)width;
    img->height = (int)height;
    img->source_gray = !(color & PNG_COLOR_MASK_COLOR);
    img->source_16bit = depth == 16;
    return 0;
}

static int read_from(png_reader *r, const char *name, aec_image *img, long max_pixels,
                     char *err, size_t errlen)
{
    char problem[256];
    int rc = decode(r, img, max_pixels, problem, sizeof problem);
    png_destroy_read_struct(r->png ? &r->png : NULL, r->info ? &r->info : NULL, NULL);
    free(r->rows);
    if (rc == 0) {
        img->rgb = r->pixels;
        img->alpha = r->alpha;
    } else {
        free(r->pixels);
        free(r->alpha);
        memset(img, 0, sizeof *img);
        report(err, errlen, name, "%s", problem);
    }
    return rc;
}

int aec_png_read(const char *path, aec_image *img, long max_pixels, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) {
        report(err, errlen, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    png_reader r = {0};
    r.file = f;
    int rc = read_from(&r, path, img, max_pixels, err, errlen);
    fclose(f); /* read-only: a failing close loses nothing */
    return rc;
}

int aec_png_read_mem(const void *data, size_t size, const char *name, aec_image *img,
                     long max_pixels, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    png_reader r = {0};
    r.mem = data;
    r.mem_size = data ? size : 0;
    return read_from(&r, name ? name : "<memory>", img, max_pixels, err, errlen);
}

/* ---- writing ------------------------------------------------------------ */

int aec_png_write_file(FILE *f, const char *name, const uint8_t *rgb, const uint8_t *alpha,
                       int width, int height, char *err, size_t errlen)
{
    char problem[256];
    if (!name) name = "<stream>";
    /* PNG allows 2^31 - 1 per side; the reader's limit keeps files readable */
    if (!f || !rgb || width <= 0 || height <= 0 || width > AEC_PNG_MAX_SIDE ||
        height > AEC_PNG_MAX_SIDE) {
        report(err, errlen, name, "cannot write a %dx%d image", width, height);
        return -1;
    }
    int rc = aec_png_encode(f, rgb, alpha, width, height, problem, sizeof problem);
    if (rc == 0) {
        errno = 0;
        if (fflush(f) != 0 || ferror(f)) {
            snprintf(problem, sizeof problem, "write error: %s", strerror(errno ? errno : EIO));
            rc = -1;
        }
    }
    if (rc != 0) report(err, errlen, name, "%s", problem);
    return rc;
}

/* Makes a rename durable by syncing the directory that holds path. Best
 * effort: the file is complete either way, and some file systems refuse. */
static void sync_parent_dir(const char *path)
{
    size_t len = strlen(path);
    char *dir = malloc(len + 2);
    if (!dir) return;
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int aec_png_write(const char *path, const uint8_t *rgb, const uint8_t *alpha, int width,
                  int height, char *err, size_t errlen)
{
    size_t tmp_size = strlen(path) + 48;
    char *tmp = malloc(tmp_size);
    if (!tmp) {
        report(err, errlen, path, "out of memory");
        return -1;
    }
    /* PATH.tmp.PID, or PATH.tmp.PID.N if a crashed process with the same
     * pid left one behind: O_EXCL never opens someone else's file. */
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        if (attempt == 0)
            snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
        else
            snprintf(tmp, tmp_size, "%s.tmp.%ld.%d", path, (long)getpid(), attempt);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        report(err, errlen, path, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        report(err, errlen, path, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    int rc = aec_png_write_file(f, path, rgb, alpha, width, height, err, errlen);
    if (rc == 0 && fsync(fileno(f)) != 0) {
        report(err, errlen, path, "cannot write %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (fclose(f) != 0 && rc == 0) {
        report(err, errlen, path, "cannot write %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        report(err, errlen, path, "cannot replace with %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(tmp);
    else
        sync_parent_dir(path);
    free(tmp);
    return rc;
}
