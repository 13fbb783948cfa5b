/* tests/png_filters.h - which of the five filters each row of a PNG uses,
 * for tests/test_png.c and tests/test_cpu_paths.c. Header-only: each test
 * file is linked on its own. */
#ifndef TESTS_PNG_FILTERS_H
#define TESTS_PNG_FILTERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The filter type byte of every row of a PNG written by aec_png_write
 * (8-bit RGB or RGBA, no interlace): counts[type]++; -1 if unreadable. */
static inline int png_count_filters(const uint8_t *png, size_t n, size_t row_bytes, size_t rows,
                                    size_t counts[5])
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return -1;
    uint8_t *row = malloc(row_bytes);
    size_t at = 8, got = 0, r = 0;
    int status = Z_OK;
    while (row && at + 12 <= n && status == Z_OK) {
        size_t len = (size_t)png[at] << 24 | (size_t)png[at + 1] << 16 | (size_t)png[at + 2] << 8 | png[at + 3];
        if (!memcmp(png + at + 4, "IDAT", 4)) {
            z.next_in = (Bytef *)png + at + 8;
            z.avail_in = (uInt)len;
            while (z.avail_in && status == Z_OK) {
                z.next_out = row + got;
                z.avail_out = (uInt)(row_bytes - got);
                status = inflate(&z, Z_NO_FLUSH);
                got = row_bytes - z.avail_out;
                if (got == row_bytes) {
                    if (row[0] > 4 || r == rows) status = Z_DATA_ERROR;
                    else counts[row[0]]++, r++;
                    got = 0;
                }
            }
        }
        at += 12 + len;
    }
    inflateEnd(&z);
    free(row);
    return status == Z_STREAM_END && r == rows ? 0 : -1;
}

#endif
