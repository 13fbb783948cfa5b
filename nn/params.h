/* nn/params.h - every trainable parameter of a model in one buffer.
 *
 * A model declares its parameter blocks by name and shape first
 * (nn_params_declare returns each block's offset), then allocates once
 * (nn_params_alloc). value[] and grad[] are parallel arrays of `count` floats,
 * so the optimiser, checkpointing and gradient clipping see one flat vector.
 * Layers keep offsets, never pointers, so a model can be copied or reloaded.
 * Gradients accumulate (+=) in the backward passes; nn_params_zero_grad
 * clears them before each step. */
#ifndef NN_PARAMS_H
#define NN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define NN_PARAM_NAME_MAX 48

typedef struct {
    char name[NN_PARAM_NAME_MAX];
    size_t offset;   /* into value[] and grad[] */
    size_t count;    /* product of the used dims */
    int shape[4];    /* unused trailing dims are 1 */
} nn_param_entry;

typedef struct {
    float *value;
    float *grad;
    size_t count;
    nn_param_entry *entries;
    int n_entries, cap_entries;
} nn_params;

void nn_params_init(nn_params *p);
/* Declares a block of d0*d1*d2*d3 floats; returns its offset, or (size_t)-1
 * when out of memory, when called after nn_params_alloc, or when the name is
 * already taken or too long. */
size_t nn_params_declare(nn_params *p, const char *name, int d0, int d1, int d2, int d3);
/* Allocates value[] and grad[], both zeroed. */
int nn_params_alloc(nn_params *p);
void nn_params_zero_grad(nn_params *p);
const nn_param_entry *nn_params_find(const nn_params *p, const char *name);
void nn_params_free(nn_params *p);

/* Serialisation of the values (not the gradients): a versioned, CRC-32
 * checked blob holding every entry's name, shape and floats (little-endian
 * IEEE-754). The layout is in spec/model-format.md. Loading requires the same
 * names and shapes as the declared model; a mismatch, truncation or CRC error
 * is reported in err (one line, no trailing newline) and -1 returned, with
 * p->value untouched. nn_params_serialize mallocs *buf (caller frees). The
 * file functions' messages start with the path. */
int nn_params_serialize(const nn_params *p, uint8_t **buf, size_t *len);
/* The same with every value rounded to IEEE binary16 (blob version 2):
 * half the size, for shipped models; loading widens back to float32. */
int nn_params_serialize_f16(const nn_params *p, uint8_t **buf, size_t *len);
/* The same bytes (f16: as nn_params_serialize_f16), handed to sink in
 * pieces of at most 16 KiB, in order, instead of into one buffer: for a
 * caller that hashes or writes them (the model identity hashes a 6 MB
 * blob). 0, or -1 when p has no values. */
typedef void (*nn_params_sink)(void *ctx, const uint8_t *data, size_t len);
int nn_params_serialize_stream(const nn_params *p, int f16, nn_params_sink sink, void *ctx);
/* Rounds every value to the nearest binary16, as a version-2 blob stores it. */
void nn_params_round_f16(nn_params *p);
int nn_params_deserialize(nn_params *p, const uint8_t *buf, size_t len, char *err, size_t errlen);
/* As nn_params_deserialize, but entries the model does not declare are
 * skipped (every declared one must still be present): how a decoder picks
 * its parameters out of a full model's blob. */
int nn_params_deserialize_subset(nn_params *p, const uint8_t *buf, size_t len, char *err,
                                 size_t errlen);
/* File forms of the above; saving is atomic (temporary file + rename). */
int nn_params_save(const nn_params *p, const char *path, char *err, size_t errlen);
int nn_params_load(nn_params *p, const char *path, char *err, size_t errlen);

#endif
