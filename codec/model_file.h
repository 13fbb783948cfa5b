/* codec/model_file.h - .aecm model files and training checkpoints.
 *
 * A model file is an 8-byte signature, a sequence of tagged chunks
 * (4-byte tag, 4-byte little-endian length, payload) and a CRC-32 of
 * everything before it; spec/model-format.md has the byte layout. Chunks:
 *   ARCH  architecture hyperparameters (N, M, levels, lambdas, flags)
 *   META  training metadata, UTF-8 "key=value" lines
 *   PARM  the parameter blob (nn_params_serialize)
 *   ADAM  (training checkpoints) the optimiser's state: step, then the
 *         first and second moments as two parameter blobs; made and read
 *         by training (tools/train/checkpoint.h)
 *   AVGW  (checkpoints of aec train --average) the weights' moving average
 * ADAM, AVGW and the coding chunks are handed over in extra[].
 * Unknown chunks are skipped, so later versions can add chunks. */
#ifndef AEC_MODEL_FILE_H
#define AEC_MODEL_FILE_H

#include <stddef.h>

#include "codec/model.h"

/* ARCH's flags word (present only when non-zero): the context model */
#define AEC_ARCH_CONTEXT 1u

/* A chunk as a view: tag (4 ASCII bytes, not NUL-terminated) and payload. */
typedef struct {
    char tag[4];
    const uint8_t *data;
    size_t len;
} aec_chunk;

#define AEC_MODEL_MAX_EXTRA 8

/* Writes atomically (temporary file + rename). meta may be NULL; extra
 * chunks (n_extra <= AEC_MODEL_MAX_EXTRA) follow the standard ones in
 * order. */
int aec_model_save(const char *path, const aec_model *m, const char *meta,
                   const aec_chunk *extra, int n_extra, char *err, size_t errlen);

/* The same file as a malloc'd byte string. */
int aec_model_serialize(const aec_model *m, const char *meta, const aec_chunk *extra, int n_extra,
                        uint8_t **out, size_t *out_len);
/* As aec_model_serialize, with the weights as binary16. */
int aec_model_serialize_f16(const aec_model *m, const char *meta, const aec_chunk *extra,
                            int n_extra, uint8_t **out, size_t *out_len);
/* Writes a file atomically: PATH.tmp.PID, fsync, rename; nothing is left
 * behind on failure. */
int aec_write_file_atomic(const char *path, const uint8_t *data, size_t len, char *err,
                          size_t errlen);

/* Parses a model file held in memory (name is used in messages). As
 * aec_model_load, and every chunk other than ARCH, META and PARM is
 * returned in extra[] (views into buf, at most AEC_MODEL_MAX_EXTRA, the
 * rest ignored). With decoder_only the parameters are read into a model
 * made by aec_model_create_decoder, and a full model's PARM chunk is
 * accepted too (the decoder's parameters are picked out by name). */
int aec_model_parse(const uint8_t *buf, size_t len, const char *name, int decoder_only,
                    aec_model *m, char **meta, aec_chunk *extra, int *n_extra, char *err,
                    size_t errlen);

/* The payload of the chunk tagged tag (4 bytes) in a model file held in
 * memory, the last if there are several (a later chunk replaces an earlier
 * one), its length in *chunk_len; NULL when buf is not a model file, has
 * no such chunk or a badly framed one. Checks neither the CRC nor anything
 * else (aec_model_parse does): for a caller that starts on a chunk that
 * validates itself while the file is parsed. */
const uint8_t *aec_model_find_chunk(const uint8_t *buf, size_t len, const char *tag,
                                    size_t *chunk_len);

/* The last of extra[0..n-1] tagged tag (4 bytes), or NULL. */
const aec_chunk *aec_chunk_find(const aec_chunk *extra, int n, const char *tag);

/* Reads a whole file into memory (malloc'd); NULL with err on failure. */
uint8_t *aec_read_file(const char *path, size_t max_len, size_t *len, char *err, size_t errlen);

/* Loads a model: creates *m from the file's ARCH and fills its parameters.
 * If meta is not NULL it receives a malloc'd copy of the META text (or
 * NULL). */
int aec_model_load(const char *path, aec_model *m, char **meta, char *err, size_t errlen);

#endif
