/* tools/ext_codec.h - WebP and AVIF for `aec bench`, through their
 * command-line programs run without a shell on files in a folder, set up
 * with the settings of common codec comparisons (WebP at its slowest method,
 * AVIF at libaom speed 4, constant quality, tuned for PSNR):
 *   cwebp -quiet -q Q -m 6 IN.png -o F.webp;  dwebp -quiet F.webp -o OUT.png
 *   avifenc -s 4 -j 1 --min 0 --max 63 -a end-usage=q -a cq-level=Q
 *           -a tune=psnr IN.png F.avif;       avifdec -j 1 F.avif OUT.png
 * (avifenc's default 4:4:4 from an RGB PNG). */
#ifndef AEC_EXT_CODEC_H
#define AEC_EXT_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* The encoder's and decoder's program names of codec (BENCH_WEBP or
 * BENCH_AVIF). */
void ext_codec_programs(int codec, const char **enc, const char **dec);

/* Finds an executable name in the folders of $PATH, as execvp would: its
 * path into out. 0, or -1 when there is none. */
int ext_find_program(const char *name, char *out, size_t outlen);

/* What one coding gave. */
typedef struct {
    size_t bytes;            /* the coded file's size */
    uint8_t *rgb;            /* the decoded image, malloc'd, w x h RGB */
    double enc_s, dec_s;     /* the programs' run, seconds */
} ext_result;

/* Codes the RGB PNG src (w x h) with codec at quality q: enc and dec are
 * the programs' paths, prefix the start of the paths of the files made
 * (removed before returning, whatever happens). 0, or -1 with a one-line
 * message in err. */
int ext_code(int codec, const char *enc, const char *dec, const char *prefix, const char *src,
             double q, int w, int h, ext_result *r, char *err, size_t errlen);

#endif
