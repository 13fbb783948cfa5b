/* aec.h - libaec, the aec image codec as a library.
 *
 * aec codes 8-bit RGB images with a learned model: a .aecm model file
 * holds the transforms and the entropy tables, and an .aec file can only
 * be decoded with the model that made it (the file names the model by an
 * 8-byte id). The same model serves every quality.
 *
 *   aec_coder *c;
 *   if (aec_coder_create(&c) != AEC_OK) ...;
 *   if (aec_coder_load_file(c, "butterfly.aecm", 0) != AEC_OK)
 *       fprintf(stderr, "%s\n", aec_coder_message(c));
 *
 *   aec_encode_options o;
 *   aec_encode_options_default(&o);      quality 75, effort 1
 *   o.quality = 60;
 *   uint8_t *file; size_t file_len;
 *   aec_encode_rgb(c, rgb, width, height, &o, &file, &file_len);
 *
 *   uint8_t *pixels; int w, h;
 *   aec_decode_rgb(c, file, file_len, &pixels, &w, &h);
 *   free(file); free(pixels);
 *   aec_coder_free(c);
 *
 * Conventions:
 * - Every function that can fail returns an aec_status: AEC_OK (0) or an
 *   error code; aec_error_string() names a code, and aec_coder_message()
 *   says what went wrong in the coder's last call, in more detail.
 * - Images are 8-bit RGB, interleaved (R, G, B for each pixel), rows top
 *   to bottom with no padding: width * height * 3 bytes.
 * - Buffers the library returns are allocated with malloc; the caller owns
 *   them and releases them with free(). On failure nothing is returned
 *   (*out is set to NULL) and nothing needs freeing.
 * - The library keeps no global state. A coder may be used by one thread
 *   at a time; to code from several threads at once, give each its own
 *   coder. Coding itself runs on several threads (OpenMP), see
 *   aec_coder_set_threads().
 * - The file format is described in spec/aec-format.md, the model file in
 *   spec/model-format.md. */
#ifndef AEC_H
#define AEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define AEC_API __attribute__((visibility("default")))
#else
#define AEC_API
#endif

/* ---- version ------------------------------------------------------------ */

#define AEC_VERSION_MAJOR 1
#define AEC_VERSION_MINOR 0
#define AEC_VERSION_PATCH 0
/* The version as one number, MAJOR << 16 | MINOR << 8 | PATCH. */
#define AEC_VERSION ((AEC_VERSION_MAJOR << 16) | (AEC_VERSION_MINOR << 8) | AEC_VERSION_PATCH)

/* The version of the library linked at run time, as AEC_VERSION encodes it
 * (compare with AEC_VERSION, the header's). */
AEC_API unsigned aec_version(void);

/* ---- errors ------------------------------------------------------------- */

typedef enum {
    AEC_OK = 0,
    AEC_ERROR_ARGUMENT = 1,    /* a NULL pointer, a size or an option out of range */
    AEC_ERROR_NO_MEMORY = 2,   /* an allocation failed */
    AEC_ERROR_IO = 3,          /* the model file cannot be read */
    AEC_ERROR_BAD_MODEL = 4,   /* not a model file, damaged, or not exported for coding */
    AEC_ERROR_NO_MODEL = 5,    /* the coder has no model loaded */
    AEC_ERROR_NO_ENCODER = 6,  /* the model is decoder-only and cannot encode */
    AEC_ERROR_NOT_AEC = 7,     /* the buffer is not an .aec file */
    AEC_ERROR_TRUNCATED = 8,   /* the .aec file ends early */
    AEC_ERROR_CORRUPT = 9,     /* the .aec file is damaged (CRC, fields or coded data) */
    AEC_ERROR_VERSION = 10,    /* an .aec format version this library does not read */
    AEC_ERROR_WRONG_MODEL = 11,/* the .aec file was coded with another model */
    AEC_ERROR_TOO_LARGE = 12,  /* the image is above the format's or the decoder's limit */
} aec_status;

/* A short English description of a code, e.g. "the .aec file ends early".
 * Never NULL (an unknown code gives "unknown error code"); the string is
 * static. */
AEC_API const char *aec_error_string(aec_status code);

/* ---- the coder: a model loaded for coding ------------------------------- */

typedef struct aec_coder aec_coder;

/* Makes an empty coder in *out (load a model next). Errors: ARGUMENT (out
 * is NULL), NO_MEMORY (*out is NULL then). */
AEC_API aec_status aec_coder_create(aec_coder **out);
/* Frees the coder and its model. NULL is allowed. */
AEC_API void aec_coder_free(aec_coder *c);

/* aec_coder_load_file and aec_coder_load_memory's flags */
#define AEC_LOAD_DECODER_ONLY 1u /* keep only the decoder's half of the model:
                                  * less memory and a quicker load; such a
                                  * coder cannot encode */

/* Loads a model into the coder, replacing the one it held: an .aecm file
 * made by `aec train` or `aec export` (able to encode and decode) or by
 * `aec export --decoder-only` (decode only). The whole file is read; the
 * coder keeps no reference to the path or, for aec_coder_load_memory, to
 * data, which the caller may free once the call returns. On failure the
 * coder holds no model. Errors: ARGUMENT (c, path or data NULL, len 0,
 * unknown flags), IO (file unreadable), BAD_MODEL, NO_MEMORY. */
AEC_API aec_status aec_coder_load_file(aec_coder *c, const char *path, unsigned flags);
AEC_API aec_status aec_coder_load_memory(aec_coder *c, const void *data, size_t len,
                                         unsigned flags);

/* 1 when the coder holds a model that can encode, else 0 (also for NULL). */
AEC_API int aec_coder_can_encode(const aec_coder *c);

#define AEC_MODEL_ID_BYTES 8
/* The loaded model's id, the 8 bytes every .aec file it writes carries
 * (aec_info.model_id). Errors: ARGUMENT, NO_MODEL. */
AEC_API aec_status aec_coder_model_id(const aec_coder *c, uint8_t id[AEC_MODEL_ID_BYTES]);

/* The threads the coder's calls use: 1 or more, or 0 (the default) for
 * OpenMP's default (OMP_NUM_THREADS, else one per core). The setting
 * applies only while the coder's calls run; the calling thread's OpenMP
 * setting is restored after each. The output does not depend on it: any
 * thread count gives the same bytes and pixels. Errors: ARGUMENT (c NULL,
 * threads < 0). */
AEC_API aec_status aec_coder_set_threads(aec_coder *c, int threads);

/* The decoder refuses an image whose area, each side rounded up to a
 * multiple of 64, is above max_pixels (TOO_LARGE), so that a small hostile
 * file cannot make it allocate without bound. 0 (the default) means
 * 2^28, the format's own limit; decoding takes about 12 bytes per such
 * pixel (3.3 GB at the limit). Errors: ARGUMENT. */
AEC_API aec_status aec_coder_set_max_pixels(aec_coder *c, uint64_t max_pixels);

/* What went wrong in the coder's last failed call, one line without a
 * newline (e.g. "model.aecm: CRC mismatch (file corrupt or truncated)");
 * "" after a call that succeeded. The string belongs to the coder and
 * stays valid until its next call. Never NULL (NULL c gives ""). */
AEC_API const char *aec_coder_message(const aec_coder *c);

/* ---- encoding ----------------------------------------------------------- */

#define AEC_EFFORT_MAX 3
#define AEC_EFFORT_DEFAULT 1

typedef struct {
    /* quality 0-100, higher is better; kept to 1/100 */
    double quality;
    /* 0 .. AEC_EFFORT_MAX: how long the encoder searches for smaller files
     * at the same quality (0 fastest; 1 searches images up to 1 MP, 2 and
     * 3 any size). The decoder is the same at every effort. */
    int effort;
    /* At most one of these may be above 0; then quality is ignored and the
     * encoder searches for the quality that gives a decoded PSNR of
     * target_psnr dB (to within 0.1 dB) or target_bpp bits per pixel (to
     * within 3%), or, where the model cannot reach it, the closest. Each
     * step of the search is a whole encode (about 8-14 of them). PSNR is
     * 10 log10(255^2 / MSE), the MSE over all three channels together, and
     * 100 dB for an exact copy. */
    double target_psnr;
    double target_bpp;
} aec_encode_options;

/* quality 75, effort AEC_EFFORT_DEFAULT, no target: what `aec encode` does
 * without options. */
AEC_API void aec_encode_options_default(aec_encode_options *o);

/* Encodes width x height pixels of 8-bit RGB (width * height * 3 bytes,
 * see the conventions above) into a malloc'd .aec file, *out of *out_len
 * bytes; opt NULL means the defaults. The bytes are those `aec encode`
 * writes for the same pixels and options with the same model (see the
 * README on effort above 0). Errors: ARGUMENT (NULL pointers; quality
 * outside 0-100, effort outside 0..AEC_EFFORT_MAX, a negative or non-finite
 * target or both targets given; width or height below 1), TOO_LARGE (a side
 * above 65535 or more than 2^28 pixels), NO_MODEL, NO_ENCODER, NO_MEMORY. */
AEC_API aec_status aec_encode_rgb(aec_coder *c, const uint8_t *rgb, int width, int height,
                                  const aec_encode_options *opt, uint8_t **out, size_t *out_len);

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
    int width, height;
    double quality; /* the quality it was coded at, 0-100 */
    uint8_t model_id[AEC_MODEL_ID_BYTES];
} aec_info;

/* What an .aec file holds, from its header, without a model and without
 * decoding the image; the whole file is checked (its CRC and every
 * field; a size outside the format's limits is CORRUPT). Errors:
 * ARGUMENT, NOT_AEC, VERSION, TRUNCATED, CORRUPT. */
AEC_API aec_status aec_get_info(const uint8_t *data, size_t len, aec_info *info);

/* Decodes an .aec file into malloc'd 8-bit RGB, *rgb of *width x *height
 * pixels (*width * *height * 3 bytes): the pixels `aecd` writes. Errors:
 * ARGUMENT, NO_MODEL, NOT_AEC, VERSION, TRUNCATED, CORRUPT, WRONG_MODEL,
 * TOO_LARGE (see aec_coder_set_max_pixels), NO_MEMORY. */
AEC_API aec_status aec_decode_rgb(aec_coder *c, const uint8_t *data, size_t len, uint8_t **rgb,
                                  int *width, int *height);

#ifdef __cplusplus
}
#endif

#endif
