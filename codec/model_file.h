/* codec/model_file.h - .aecm model files and training checkpoints.
 *
 * A model file is an 8-byte signature, a sequence of tagged chunks
 * (4-byte tag, 4-byte little-endian length, payload) and a CRC-32 of
 * everything before it; spec/model-format.md has the byte layout. Chunks:
 *   ARCH  architecture hyperparameters (N, M, levels, lambdas)
 *   META  training metadata, UTF-8 "key=value" lines
 *   PARM  the parameter blob (nn_params_serialize)
 *   ADAM  optimiser state (checkpoints only): step, then the first and
 *         second moments as two parameter blobs
 * Unknown chunks are skipped, so later versions can add chunks. */
#ifndef AEC_MODEL_FILE_H
#define AEC_MODEL_FILE_H

#include <stddef.h>

#include "adam.h"
#include "model.h"

/* Writes atomically (temporary file + rename). opt may be NULL (no ADAM
 * chunk); meta may be NULL. */
int aec_model_save(const char *path, const aec_model *m, const char *meta,
                   const nn_adam *opt, char *err, size_t errlen);

/* Loads a model: creates *m from the file's ARCH and fills its parameters.
 * If meta is not NULL it receives a malloc'd copy of the META text (or
 * NULL). If opt is not NULL and the file has an ADAM chunk, *opt is
 * initialised from it and *has_opt set to 1. */
int aec_model_load(const char *path, aec_model *m, char **meta, nn_adam *opt,
                   int *has_opt, char *err, size_t errlen);

#endif
