/* tools/imageio/png_write.c - PNG encoding with the rows filtered and deflated in
 * parallel; see png_write.h.
 *
 * A PNG's pixels are one zlib stream, which libpng compresses on one
 * thread: for a decoded 768x512 image about a tenth of a decode's time,
 * while the other cores idle. Here the filtered rows are cut into
 * pieces of about PIECE_BYTES, each deflated on its own (raw deflate, the
 * 32 KiB of filtered data before it given as the dictionary so matches
 * still reach back across the cut), every piece but the last ended with a
 * sync flush (an empty stored block: byte-aligned, not final), so that
 * their concatenation is one valid deflate stream; zlib's header and the
 * Adler-32 of all the data (adler32_combine of the pieces') go around it.
 * The pieces' size depends on the image alone, not on the thread count,
 * so the file's bytes do not either. Rows are processed a band of
 * BAND_PIECES pieces at a time, which bounds the memory for big images.
 *
 * Each row's filter is the one of the five (PNG spec, section 9) whose
 * output has the smallest sum of magnitudes read as signed bytes, the
 * heuristic the PNG spec suggests and libpng uses. */
#include "tools/imageio/png_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nn/crc32.h"
#include "nn/vector_copies.h"

#define PIECE_BYTES (256 * 1024) /* filtered bytes per separately deflated piece */
#define BAND_PIECES 8            /* pieces per band (filtered, then deflated in parallel) */
#define WINDOW 32768             /* deflate's window: the dictionary of a piece */
/* zlib's run-length strategy (matches at distance 1 only; the level then
 * only says "compress"): on filtered rows of a decoded image the runs are
 * most of what deflate finds anyway, so it makes files about as small as
 * level 4 with the filtered-data strategy (on kodim23, decoded and
 * original) in less time, and smaller than level 1. */
#define LEVEL 1
#define STRATEGY Z_RLE

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One chunk: length, type, the data given in up to three parts, CRC. */
static int write_chunk(FILE *f, const char type[4], const uint8_t *a, size_t alen,
                       const uint8_t *b, size_t blen, const uint8_t *c, size_t clen)
{
    uint8_t head[8], tail[4];
    put_be32(head, (uint32_t)(alen + blen + clen));
    memcpy(head + 4, type, 4);
    uint32_t crc = nn_crc32(0, head + 4, 4);
    if (alen) crc = nn_crc32(crc, a, alen);
    if (blen) crc = nn_crc32(crc, b, blen);
    if (clen) crc = nn_crc32(crc, c, clen);
    put_be32(tail, (uint32_t)crc);
    return fwrite(head, 1, 8, f) != 8 || (alen && fwrite(a, 1, alen, f) != alen) ||
                   (blen && fwrite(b, 1, blen, f) != blen) || (clen && fwrite(c, 1, clen, f) != clen) ||
                   fwrite(tail, 1, 4, f) != 4
               ? -1
               : 0;
}

/* The Paeth predictor (PNG spec, section 9.4) as the spec writes it:
 * p = a + b - c, the neighbour closest to p, ties to a, then b. Written
 * without branches (|p - a| = |b - c| and so on) so that the loops below
 * vectorise (GCC's -O2 leaves loops alone unless told: omp simd). */
static inline int paeth(int a, int b, int c)
{
    const int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    const int bc = pb <= pc ? b : c, least = pb <= pc ? pb : pc;
    return pa <= least ? a : bc;
}

/* |v| for the residual byte v read as signed: the heuristic's cost */
static inline unsigned cost_of(int v)
{
    int s = (int8_t)v;
    return (unsigned)(s < 0 ? -s : s);
}

/* The five filters' costs over bytes [bpp, n) of a row (a = cur[i - bpp],
 * b = prev[i], c = prev[i - bpp]); built for AVX2 too (nn/vector_copies.h),
 * since one byte at a time this and the filtering would take much of the
 * PNG's time. Sums of at most 128 per byte fit 32 bits for rows < 2^24 bytes. */
NN_VECTOR_BODY void filter_costs_body(const uint8_t *restrict cur, const uint8_t *restrict prev,
                                      size_t n, int bpp, unsigned cost[5])
{
    unsigned s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4)
    for (size_t i = (size_t)bpp; i < n; i++) {
        const int x = cur[i], a = cur[i - bpp], b = prev[i], c = prev[i - bpp];
        s0 += cost_of(x);
        s1 += cost_of(x - a);
        s2 += cost_of(x - b);
        s3 += cost_of(x - ((a + b) >> 1));
        s4 += cost_of(x - paeth(a, b, c));
    }
    cost[0] += s0;
    cost[1] += s1;
    cost[2] += s2;
    cost[3] += s3;
    cost[4] += s4;
}
NN_VECTOR_COPIES(filter_costs,
                 (const uint8_t *restrict cur, const uint8_t *restrict prev, size_t n, int bpp,
                  unsigned cost[5]),
                 (cur, prev, n, bpp, cost))

/* dst[i] = cur[i] - predictor of filter `type`, for bytes [bpp, n) */
NN_VECTOR_BODY void filter_apply_body(const uint8_t *restrict cur, const uint8_t *restrict prev,
                                      size_t n, int bpp, int type, uint8_t *restrict dst)
{
    const size_t i0 = (size_t)bpp;
    switch (type) {
    case 0: memcpy(dst + i0, cur + i0, n - i0); break;
    case 1:
#pragma omp simd
        for (size_t i = i0; i < n; i++) dst[i] = (uint8_t)(cur[i] - cur[i - bpp]);
        break;
    case 2:
#pragma omp simd
        for (size_t i = i0; i < n; i++) dst[i] = (uint8_t)(cur[i] - prev[i]);
        break;
    case 3:
#pragma omp simd
        for (size_t i = i0; i < n; i++) dst[i] = (uint8_t)(cur[i] - ((cur[i - bpp] + prev[i]) >> 1));
        break;
    default:
#pragma omp simd
        for (size_t i = i0; i < n; i++)
            dst[i] = (uint8_t)(cur[i] - paeth(cur[i - bpp], prev[i], prev[i - bpp]));
        break;
    }
}
NN_VECTOR_COPIES(filter_apply,
                 (const uint8_t *restrict cur, const uint8_t *restrict prev, size_t n, int bpp,
                  int type, uint8_t *restrict dst),
                 (cur, prev, n, bpp, type, dst))

/* Row y as PNG bytes: rgb's row itself, or RGBA interleaved into buf. */
static const uint8_t *raw_row(const uint8_t *rgb, const uint8_t *alpha, size_t width, size_t y,
                              uint8_t *buf)
{
    const uint8_t *src = rgb + y * width * 3;
    if (!alpha) return src;
    const uint8_t *a = alpha + y * width;
    for (size_t x = 0; x < width; x++) {
        buf[4 * x + 0] = src[3 * x + 0];
        buf[4 * x + 1] = src[3 * x + 1];
        buf[4 * x + 2] = src[3 * x + 2];
        buf[4 * x + 3] = a[x];
    }
    return buf;
}

/* The filtered row: filter type byte, then n bytes, the filter the one of
 * least cost (the first of equals). prev is the row above (zeros for the
 * first row); bpp: bytes per pixel, n >= bpp. */
static void filter_row(const uint8_t *cur, const uint8_t *prev, size_t n, int bpp, uint8_t *dst)
{
    unsigned cost[5] = {0};
    /* the first pixel: a = c = 0 */
    for (int i = 0; i < bpp; i++) {
        const int x = cur[i], b = prev[i];
        cost[0] += cost_of(x);
        cost[1] += cost_of(x);
        cost[2] += cost_of(x - b);
        cost[3] += cost_of(x - (b >> 1));
        cost[4] += cost_of(x - paeth(0, b, 0));
    }
    filter_costs(cur, prev, n, bpp, cost);
    int best = 0;
    for (int k = 1; k < 5; k++)
        if (cost[k] < cost[best]) best = k;
    dst[0] = (uint8_t)best;
    for (int i = 0; i < bpp; i++) {
        const int x = cur[i], b = prev[i];
        const int p = best == 0 || best == 1 ? 0 : best == 2 ? b : best == 3 ? b >> 1 : paeth(0, b, 0);
        dst[1 + i] = (uint8_t)(x - p);
    }
    filter_apply(cur, prev, n, bpp, best, dst + 1);
}

typedef struct {
    uint8_t *out;       /* deflated bytes */
    size_t len, cap;
    size_t in_len;      /* filtered bytes it holds */
    uLong adler;        /* Adler-32 of the piece's filtered bytes */
    int failed;         /* 1: out of memory, 2: zlib error */
} piece;

/* Raw-deflates in[0, len) into pc->out, dict_len bytes before in as the
 * dictionary; final: ends the stream, else a sync flush. */
static void deflate_piece(const uint8_t *in, size_t len, size_t dict_len, int final, piece *pc)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    pc->len = 0;
    pc->in_len = len;
    pc->failed = 0;
    pc->adler = adler32(adler32(0L, Z_NULL, 0), in, (uInt)len);
    if (deflateInit2(&z, LEVEL, Z_DEFLATED, -15, 8, STRATEGY) != Z_OK) {
        pc->failed = 1;
        return;
    }
    size_t need = deflateBound(&z, (uLong)len) + 16;   /* + the sync flush's empty block */
    if (need > pc->cap) {
        uint8_t *p = realloc(pc->out, need);
        if (!p) {
            deflateEnd(&z);
            pc->failed = 1;
            return;
        }
        pc->out = p;
        pc->cap = need;
    }
    if (dict_len && deflateSetDictionary(&z, in - dict_len, (uInt)dict_len) != Z_OK) {
        deflateEnd(&z);
        pc->failed = 2;
        return;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = pc->out;
    z.avail_out = (uInt)pc->cap;
    int r = deflate(&z, final ? Z_FINISH : Z_SYNC_FLUSH);
    /* a sync flush that filled the buffer may not have finished its block
     * (the margin above makes that unreachable; a check costs nothing) */
    if ((final && r != Z_STREAM_END) || (!final && (r != Z_OK || z.avail_out == 0)) || z.avail_in != 0)
        pc->failed = 2;
    pc->len = pc->cap - z.avail_out;
    deflateEnd(&z);
}

int aec_png_encode(FILE *f, const uint8_t *rgb, const uint8_t *alpha, int width, int height,
                   char *problem, size_t plen)
{
    if (!f || !rgb || width < 1 || height < 1) {
        snprintf(problem, plen, "cannot write a %dx%d image", width, height);
        return -1;
    }
    const int bpp = alpha ? 4 : 3;
    const size_t w = (size_t)width, h = (size_t)height, stride = w * (size_t)bpp, row_bytes = stride + 1;
    const size_t piece_rows = row_bytes >= PIECE_BYTES ? 1 : PIECE_BYTES / row_bytes;
    const size_t band_rows = piece_rows * BAND_PIECES;
    const size_t band_cap = WINDOW + (band_rows < h ? band_rows : h) * row_bytes;
    uint8_t *band = malloc(band_cap);
    piece pieces[BAND_PIECES];
    memset(pieces, 0, sizeof pieces);
    int rc = -1, oom = !band, zerr = 0, io = 0;
    errno = 0;

    static const uint8_t signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    uint8_t ihdr[13];
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;                      /* bit depth */
    ihdr[9] = alpha ? 6 : 2;          /* colour type: RGBA or RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
    if (!oom)
        io = fwrite(signature, 1, 8, f) != 8 || write_chunk(f, "IHDR", ihdr, 13, NULL, 0, NULL, 0);

    /* the zlib header: deflate, 32 KiB window, no dictionary, check bits */
    const uint8_t zhead[2] = {0x78, 0x5e};
    uLong adler = adler32(0L, Z_NULL, 0);
    size_t kept = 0;   /* filtered bytes of earlier bands at band[WINDOW - kept, WINDOW) */
    for (size_t y0 = 0; y0 < h && !oom && !zerr && !io; y0 += band_rows) {
        const size_t rows = h - y0 < band_rows ? h - y0 : band_rows;
        uint8_t *data = band + WINDOW;
        int row_oom = 0;
#pragma omp parallel reduction(| : row_oom)
        {
            /* alpha: two interleaved rows; and a row of zeros above the first */
            uint8_t *buf = malloc((alpha ? 2 : 0) * stride + stride);
            if (!buf) row_oom = 1;
            else memset(buf + (alpha ? 2 : 0) * stride, 0, stride);
#pragma omp for schedule(static)
            for (size_t r = 0; r < rows; r++) {
                if (!buf) continue;
                const size_t y = y0 + r;
                const uint8_t *cur = raw_row(rgb, alpha, w, y, buf);
                const uint8_t *prev = y ? raw_row(rgb, alpha, w, y - 1, buf + stride)
                                        : buf + (alpha ? 2 : 0) * stride;
                filter_row(cur, prev, stride, bpp, data + r * row_bytes);
            }
            free(buf);
        }
        if (row_oom) {
            oom = 1;
            break;
        }
        const int n = (int)((rows + piece_rows - 1) / piece_rows);
        const int last_band = y0 + rows == h;
#pragma omp parallel for schedule(dynamic, 1)
        for (int p = 0; p < n; p++) {
            const size_t start = (size_t)p * piece_rows * row_bytes;
            const size_t len = ((size_t)p + 1 == (size_t)n ? rows - (size_t)p * piece_rows : piece_rows) * row_bytes;
            const size_t before = kept + start;
            deflate_piece(data + start, len, before < WINDOW ? before : WINDOW, last_band && p == n - 1,
                          &pieces[p]);
        }
        for (int p = 0; p < n && !oom && !zerr && !io; p++) {
            if (pieces[p].failed) {
                oom = pieces[p].failed == 1;
                zerr = pieces[p].failed == 2;
                break;
            }
            adler = adler32_combine(adler, pieces[p].adler, (z_off_t)pieces[p].in_len);
            const int first = y0 == 0 && p == 0, last = last_band && p == n - 1;
            uint8_t ztail[4];
            put_be32(ztail, (uint32_t)adler);
            io = write_chunk(f, "IDAT", first ? zhead : NULL, first ? 2 : 0, pieces[p].out, pieces[p].len,
                             last ? ztail : NULL, last ? 4 : 0);
        }
        /* the last WINDOW bytes of filtered data become the next band's dictionary */
        const size_t total = kept + rows * row_bytes, keep = total < WINDOW ? total : WINDOW;
        memmove(band + WINDOW - keep, data + rows * row_bytes - keep, keep);
        kept = keep;
    }
    if (!oom && !zerr && !io) io = write_chunk(f, "IEND", NULL, 0, NULL, 0, NULL, 0);
    if (oom) snprintf(problem, plen, "out of memory");
    else if (zerr) snprintf(problem, plen, "cannot compress the image (zlib error)");
    else if (io) snprintf(problem, plen, "write error: %s", strerror(errno ? errno : EIO));
    else rc = 0;
    for (int p = 0; p < BAND_PIECES; p++) free(pieces[p].out);
    free(band);
    return rc;
}
