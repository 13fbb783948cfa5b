/* tools/train/checkpoint.c - a checkpoint's optimiser state, the ADAM
 * chunk (checkpoint.h). */
#include "tools/train/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/le32.h"

/* A parameter blob of another float array laid out exactly like p->value. */
static int serialize_as_params(const nn_params *p, float *values, uint8_t **out, size_t *len)
{
    nn_params view = *p;
    view.value = values;
    return nn_params_serialize(&view, out, len);
}

int aec_adam_serialize(const nn_params *p, const nn_adam *opt, uint8_t **out, size_t *out_len)
{
    uint8_t *blob[2] = {NULL, NULL};
    size_t blob_len[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        if (serialize_as_params(p, k ? opt->v : opt->m, &blob[k], &blob_len[k])) {
            free(blob[0]);
            return -1;
        }
    size_t len = 8 + 4 + blob_len[0] + 4 + blob_len[1];
    uint8_t *buf = malloc(len);
    if (buf) {
        uint64_t step = (uint64_t)opt->step;
        aec_put_le32(buf, (uint32_t)step);
        aec_put_le32(buf + 4, (uint32_t)(step >> 32));
        uint8_t *q = buf + 8;
        for (int k = 0; k < 2; k++) {
            aec_put_le32(q, (uint32_t)blob_len[k]);
            memcpy(q + 4, blob[k], blob_len[k]);
            q += 4 + blob_len[k];
        }
        *out = buf;
        *out_len = len;
    }
    free(blob[0]);
    free(blob[1]);
    return buf ? 0 : -1;
}

int aec_adam_parse(const nn_params *p, const uint8_t *data, size_t len, nn_adam *opt,
                   const char *name, char *err, size_t errlen)
{
    if (nn_adam_init(opt, p->count)) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    const uint8_t *q = data + 8, *end = data + len;
    int ok = len >= 8;
    for (int k = 0; ok && k < 2; k++) {
        if (end - q < 4 || aec_get_le32(q) > (size_t)(end - q - 4)) { ok = 0; break; }
        uint32_t bl = aec_get_le32(q);
        nn_params view = *p;
        view.value = k ? opt->v : opt->m;
        if (nn_params_deserialize(&view, q + 4, bl, err, errlen)) { ok = 0; break; }
        q += 4 + bl;
    }
    if (!ok) {
        nn_adam_free(opt);
        snprintf(err, errlen, "%s: bad optimiser state", name);
        return -1;
    }
    opt->step = (long)(aec_get_le32(data) | (uint64_t)aec_get_le32(data + 4) << 32);
    return 0;
}

int aec_checkpoint_save(const char *path, const aec_model *m, const char *meta,
                        const nn_adam *opt, const aec_chunk *extra, int n_extra, char *err,
                        size_t errlen)
{
    if (!opt) return aec_model_save(path, m, meta, extra, n_extra, err, errlen);
    aec_chunk all[AEC_MODEL_MAX_EXTRA];
    uint8_t *adam = NULL;
    if (n_extra < 0 || n_extra >= AEC_MODEL_MAX_EXTRA) {
        snprintf(err, errlen, "%s: too many chunks", path);
        return -1;
    }
    if (aec_adam_serialize(&m->p, opt, &adam, &all[0].len)) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(all[0].tag, "ADAM", 4);
    all[0].data = adam;
    for (int i = 0; i < n_extra; i++) all[1 + i] = extra[i];
    int rc = aec_model_save(path, m, meta, all, 1 + n_extra, err, errlen);
    free(adam);
    return rc;
}

int aec_checkpoint_parse(const uint8_t *buf, size_t len, const char *name, aec_model *m,
                         char **meta, nn_adam *opt, int *has_opt, aec_chunk *extra, int *n_extra,
                         char *err, size_t errlen)
{
    if (has_opt) *has_opt = 0;
    if (aec_model_parse(buf, len, name, 0, m, meta, extra, n_extra, err, errlen)) return -1;
    size_t adam_len = 0;
    const uint8_t *adam = opt ? aec_model_find_chunk(buf, len, "ADAM", &adam_len) : NULL;
    if (!adam) return 0;
    if (aec_adam_parse(&m->p, adam, adam_len, opt, name, err, errlen)) {
        aec_model_free(m);
        if (meta) {
            free(*meta);
            *meta = NULL;
        }
        if (n_extra) *n_extra = 0;
        return -1;
    }
    if (has_opt) *has_opt = 1;
    return 0;
}
