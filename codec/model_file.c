/* codec/model_file.c - reading and writing .aecm files (see model_file.h). */
#include "codec/model_file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/le32.h"

static const uint8_t signature[8] = {'A', 'E', 'C', 'M', '\r', '\n', 0x1a, 1};

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int failed;
} byte_buf;

static void put(byte_buf *b, const void *p, size_t n)
{
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *q = realloc(b->buf, cap);
        if (!q) { b->failed = 1; return; }
        b->buf = q;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void put_u32(byte_buf *b, uint32_t v)
{
    uint8_t q[4];
    aec_put_le32(q, v);
    put(b, q, 4);
}

static void put_chunk(byte_buf *b, const char *tag, const uint8_t *data, size_t len)
{
    put(b, tag, 4);
    put_u32(b, (uint32_t)len);
    put(b, data, len);
}

static void put_f32(byte_buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(b, u);
}

static int serialize(const aec_model *m, const char *meta, int f16, const aec_chunk *extra,
                     int n_extra, uint8_t **out, size_t *out_len);

int aec_model_serialize(const aec_model *m, const char *meta, const aec_chunk *extra, int n_extra,
                        uint8_t **out, size_t *out_len)
{
    return serialize(m, meta, 0, extra, n_extra, out, out_len);
}

int aec_model_serialize_f16(const aec_model *m, const char *meta, const aec_chunk *extra,
                            int n_extra, uint8_t **out, size_t *out_len)
{
    return serialize(m, meta, 1, extra, n_extra, out, out_len);
}

static int serialize(const aec_model *m, const char *meta, int f16, const aec_chunk *extra,
                     int n_extra, uint8_t **out, size_t *out_len)
{
    byte_buf b = {0}, arch = {0};
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    int ret = -1;
    put(&b, signature, sizeof signature);

    const aec_arch *a = &m->arch;
    put_u32(&arch, (uint32_t)a->n);
    put_u32(&arch, (uint32_t)a->m);
    put_u32(&arch, (uint32_t)a->levels);
    for (int i = 0; i < a->levels; i++) put_f32(&arch, a->lambda[i]);
    /* the flags word only when a flag is set: plain models keep the
     * shorter chunk (and so their identity) */
    if (a->context) put_u32(&arch, AEC_ARCH_CONTEXT);
    if (arch.failed) goto oom;
    put_chunk(&b, "ARCH", arch.buf, arch.len);
    if (meta) put_chunk(&b, "META", (const uint8_t *)meta, strlen(meta));

    if ((f16 ? nn_params_serialize_f16 : nn_params_serialize)(&m->p, &blob, &blob_len)) goto oom;
    put_chunk(&b, "PARM", blob, blob_len);
    free(blob);
    blob = NULL;

    for (int i = 0; i < n_extra; i++) put_chunk(&b, extra[i].tag, extra[i].data, extra[i].len);
    put_u32(&b, aec_crc32(b.buf, b.len));
    if (b.failed) goto oom;
    *out = b.buf;
    *out_len = b.len;
    b.buf = NULL;
    ret = 0;
oom:
    free(blob);
    free(b.buf);
    free(arch.buf);
    return ret;
}

int aec_write_file_atomic(const char *path, const uint8_t *data, size_t len, char *err,
                          size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    int ok = fwrite(data, 1, len, f) == len;
    ok &= fflush(f) == 0;
    ok &= fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int aec_model_save(const char *path, const aec_model *m, const char *meta,
                   const aec_chunk *extra, int n_extra, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    if (aec_model_serialize(m, meta, extra, n_extra, &buf, &len)) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int r = aec_write_file_atomic(path, buf, len, err, errlen);
    free(buf);
    return r;
}

uint8_t *aec_read_file(const char *path, size_t max_len, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *q = realloc(buf, cap);
            if (!q) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return NULL;
            }
            buf = q;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if (n > max_len) {
            free(buf);
            fclose(f);
            snprintf(err, errlen, "%s: too large (over %zu bytes)", path, max_len);
            return NULL;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "%s: read error", path);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The chunk at *p (the file's chunks end at end, before its CRC): 1 and
 * *p moved past it, 0 at the end, -1 when its header or payload runs past
 * the end. */
static int next_chunk(const uint8_t **p, const uint8_t *end, aec_chunk *c)
{
    const uint8_t *at = *p;
    if (at >= end) return 0;
    if (end - at < 8 || aec_get_le32(at + 4) > (size_t)(end - at - 8)) return -1;
    memcpy(c->tag, at, 4);
    c->len = aec_get_le32(at + 4);
    c->data = at + 8;
    *p = c->data + c->len;
    return 1;
}

const uint8_t *aec_model_find_chunk(const uint8_t *buf, size_t len, const char *tag, size_t *chunk_len)
{
    if (len < sizeof signature + 4 || memcmp(buf, signature, sizeof signature) != 0) return NULL;
    const uint8_t *p = buf + sizeof signature, *end = buf + len - 4, *found = NULL;
    aec_chunk c;
    int more;
    /* the last one: a later chunk replaces an earlier one (spec) */
    while ((more = next_chunk(&p, end, &c)) > 0)
        if (memcmp(c.tag, tag, 4) == 0) {
            found = c.data;
            *chunk_len = c.len;
        }
    return more < 0 ? NULL : found;
}

const aec_chunk *aec_chunk_find(const aec_chunk *extra, int n, const char *tag)
{
    for (int i = n - 1; i >= 0; i--) /* a later chunk replaces an earlier one */
        if (!memcmp(extra[i].tag, tag, 4)) return &extra[i];
    return NULL;
}

int aec_model_load(const char *path, aec_model *m, char **meta, char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t *buf = aec_read_file(path, (size_t)1 << 31, &len, err, errlen);
    if (!buf) return -1;
    int ret = aec_model_parse(buf, len, path, 0, m, meta, NULL, NULL, err, errlen);
    free(buf);
    return ret;
}

int aec_model_parse(const uint8_t *buf, size_t len, const char *path, int decoder_only,
                    aec_model *m, char **meta, aec_chunk *extra, int *n_extra, char *err,
                    size_t errlen)
{
    int ret = -1, have_model = 0;
    if (n_extra) *n_extra = 0;
    if (meta) *meta = NULL;
    memset(m, 0, sizeof *m);
    if (len < sizeof signature + 4 || memcmp(buf, signature, sizeof signature) != 0) {
        snprintf(err, errlen, "%s: not an aec model file", path);
        goto done;
    }
    if (aec_get_le32(buf + len - 4) != aec_crc32(buf, len - 4)) {
        snprintf(err, errlen, "%s: CRC mismatch (file corrupt or truncated)", path);
        goto done;
    }
    const uint8_t *p = buf + sizeof signature, *end = buf + len - 4;
    const uint8_t *parm = NULL;
    size_t parm_len = 0;
    aec_arch arch;
    int have_arch = 0;
    aec_chunk ch;
    int more;
    while ((more = next_chunk(&p, end, &ch)) > 0) {
        const uint8_t *data = ch.data;
        uint32_t n = (uint32_t)ch.len;
        if (memcmp(ch.tag, "ARCH", 4) == 0) {
            memset(&arch, 0, sizeof arch);
            if (n < 12) goto bad_arch;
            arch.n = (int)aec_get_le32(data);
            arch.m = (int)aec_get_le32(data + 4);
            arch.levels = (int)aec_get_le32(data + 8);
            if (arch.n < 1 || arch.n > 1024 || arch.m < 1 || arch.m > 1024 || arch.levels < 1 ||
                arch.levels > AEC_MAX_LEVELS ||
                (n != 12 + 4 * (uint32_t)arch.levels && n != 16 + 4 * (uint32_t)arch.levels))
                goto bad_arch;
            for (int i = 0; i < arch.levels; i++) {
                uint32_t u = aec_get_le32(data + 12 + 4 * i);
                memcpy(&arch.lambda[i], &u, 4);
            }
            if (n == 16 + 4 * (uint32_t)arch.levels) {
                uint32_t flags = aec_get_le32(data + 12 + 4 * arch.levels);
                if (flags & ~(uint32_t)AEC_ARCH_CONTEXT) goto bad_arch;
                arch.context = (flags & AEC_ARCH_CONTEXT) != 0;
            }
            have_arch = 1;
        } else if (memcmp(ch.tag, "META", 4) == 0) {
            if (meta && !*meta && (*meta = malloc(n + 1))) {
                memcpy(*meta, data, n);
                (*meta)[n] = 0;
            }
        } else if (memcmp(ch.tag, "PARM", 4) == 0) {
            parm = data;
            parm_len = n;
        } else if (extra && n_extra && *n_extra < AEC_MODEL_MAX_EXTRA) {
            extra[(*n_extra)++] = ch;
        }
    }
    if (more < 0) {
        snprintf(err, errlen, "%s: truncated chunk", path);
        goto done;
    }
    if (!have_arch || !parm) {
        snprintf(err, errlen, "%s: missing %s chunk", path, have_arch ? "PARM" : "ARCH");
        goto done;
    }
    if ((decoder_only ? aec_model_create_decoder(m, &arch) : aec_model_create(m, &arch))) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto done;
    }
    have_model = 1;
    if ((decoder_only ? nn_params_deserialize_subset : nn_params_deserialize)(&m->p, parm, parm_len,
                                                                               err, errlen)) {
        /* the blob's message is unprefixed: name the file */
        char inner[256];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, errlen, "%s: %s", path, inner);
        goto done;
    }
    ret = 0;
    goto done;
bad_arch:
    snprintf(err, errlen, "%s: bad ARCH chunk", path);
done:
    if (ret && have_model) aec_model_free(m);
    if (ret && meta && *meta) {
        free(*meta);
        *meta = NULL;
    }
    if (ret && n_extra) *n_extra = 0;
    return ret;
}
