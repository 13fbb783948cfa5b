/* tools/cli.h - what the aec and aecd programs share: safe output files,
 * reading inputs whole, and finding a model (a file, the one built into
 * the program, or the one appended to a standalone decoder). */
#ifndef AEC_CLI_H
#define AEC_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* Writes len bytes to path atomically (temporary file in the same folder,
 * fsync, rename). Refuses to replace an existing file unless overwrite;
 * path "-" writes to stdout. mode is the new file's permission bits. */
int cli_write_output(const char *path, const void *data, size_t len, int overwrite, int mode,
                     char *err, size_t errlen);
/* Reads a whole file, or stdin for "-". */
uint8_t *cli_read_input(const char *path, size_t max_len, size_t *len, char *err, size_t errlen);

/* The model built into this program (NULL, 0 when none was built in). */
const uint8_t *cli_builtin_model(size_t *len);

/* A model appended to an executable: the model bytes, then a 16-byte
 * trailer: u64 little-endian length of the model, then "AECDMODL".
 * Returns the length of the executable part (the whole file when there is
 * no trailer) and sets *model / *model_len to the appended model if any. */
size_t cli_split_appended(const uint8_t *exe, size_t len, const uint8_t **model, size_t *model_len);
#define CLI_TRAILER_MAGIC "AECDMODL"
#define CLI_TRAILER_SIZE 16

/* mkdir -p of the folder part of path. */
int cli_make_parent_dirs(const char *path);
/* Decodes one .aec byte string (named `in` in messages) into a PNG at out
 * ("-" = stdout). Returns an AEC_EXIT_* code, with err set when not 0. */
int aec_decode_to_png(const aec_codec *c, const char *in, const uint8_t *data, size_t len,
                      const char *out, int force, int make_dirs, char *err, size_t errlen);

/* Loads -m PATH, or the built-in model when path is NULL (builtin_model.c,
 * not linked into aecd). */
int cli_load_codec(aec_codec *c, const char *path, int decoder_only, char *err, size_t errlen);

#endif
