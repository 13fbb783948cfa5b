/* tools/train/checkpoint.h - training checkpoints: a model file
 * (codec/model_file.h) with the optimiser's state in an ADAM chunk
 * (spec/model-format.md). The codec passes ADAM through as an extra chunk;
 * making and reading it is training's, so that libaec needs no optimiser. */
#ifndef AEC_CHECKPOINT_H
#define AEC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "codec/model_file.h"
#include "nn/adam.h"

/* The ADAM chunk's payload for opt, whose moments are laid out like p's
 * values: the step as a little-endian u64, then the first and the second
 * moments, each as a little-endian u32 length and a parameter blob
 * (nn_params_serialize). *out is malloc'd; -1 when out of memory. */
int aec_adam_serialize(const nn_params *p, const nn_adam *opt, uint8_t **out, size_t *out_len);

/* Initialises *opt (nn_adam_init, for p->count parameters) from an ADAM
 * chunk's payload. On failure nothing is left allocated and err says why,
 * prefixed with name. */
int aec_adam_parse(const nn_params *p, const uint8_t *data, size_t len, nn_adam *opt,
                   const char *name, char *err, size_t errlen);

/* aec_model_save with opt's state as an ADAM chunk before the extra
 * chunks (n_extra < AEC_MODEL_MAX_EXTRA); opt may be NULL (no ADAM). */
int aec_checkpoint_save(const char *path, const aec_model *m, const char *meta,
                        const nn_adam *opt, const aec_chunk *extra, int n_extra, char *err,
                        size_t errlen);

/* aec_model_parse of a full model, and if opt is not NULL and the file has
 * an ADAM chunk (the last, if several), *opt initialised from it and
 * *has_opt set to 1 (else 0). A bad ADAM chunk fails the whole parse, as a
 * bad chunk of the model does: nothing is left allocated. extra[] receives
 * the ADAM chunk too, as any chunk past PARM. */
int aec_checkpoint_parse(const uint8_t *buf, size_t len, const char *name, aec_model *m,
                         char **meta, nn_adam *opt, int *has_opt, aec_chunk *extra, int *n_extra,
                         char *err, size_t errlen);

#endif
