/* Parameter blob: serialisation, checking and atomic file save/load. The
 * byte layout is specified in spec/model-format.md ("Parameter blob"). */
#include "nn/params.h"

#include "nn/crc32.h"
#include "nn/half.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOB_MAGIC "AECP"
#define BLOB_VERSION 1u      /* values as float32 */
#define BLOB_VERSION_F16 2u  /* values as IEEE binary16: compact shipped models */
/* magic, version, blob size (u64), entry count */
#define BLOB_HEADER 20u
#define BLOB_CRC 4u

/* ---- little-endian fields, independent of the host's byte order ---------- */

static void put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); b[2] = (uint8_t)(v >> 16); b[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(const uint8_t *b)
{
    return (uint64_t)get_u32(b) | (uint64_t)get_u32(b + 4) << 32;
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void nn_params_round_f16(nn_params *p)
{
    for (size_t i = 0; i < p->count; i++) p->value[i] = nn_f16_to_f32(nn_f32_to_f16(p->value[i]));
}

/* ---- serialise ------------------------------------------------------------ */

static int serialize(const nn_params *p, int f16, uint8_t **buf, size_t *len);

int nn_params_serialize(const nn_params *p, uint8_t **buf, size_t *len)
{
    return serialize(p, 0, buf, len);
}

int nn_params_serialize_f16(const nn_params *p, uint8_t **buf, size_t *len)
{
    return serialize(p, 1, buf, len);
}

/* The blob's bytes go out through a small staging buffer, so a caller that
 * only hashes them (the model identity, codec/codec.c) never holds the
 * whole blob. */
typedef struct {
    uint8_t buf[16384];
    size_t used;
    uint32_t crc;
    nn_params_sink sink;
    void *ctx;
} stream;

static void stream_flush(stream *s)
{
    if (!s->used) return;
    s->crc = nn_crc32(s->crc, s->buf, s->used);
    s->sink(s->ctx, s->buf, s->used);
    s->used = 0;
}

/* room for n more bytes (n <= sizeof buf) */
static uint8_t *stream_room(stream *s, size_t n)
{
    if (s->used + n > sizeof s->buf) stream_flush(s);
    uint8_t *at = s->buf + s->used;
    s->used += n;
    return at;
}

static size_t blob_size(const nn_params *p, int f16)
{
    size_t size = BLOB_HEADER + BLOB_CRC;
    for (int e = 0; e < p->n_entries; e++)
        size += 4 + strlen(p->entries[e].name) + 16 + (f16 ? 2 : 4) * p->entries[e].count;
    return size;
}

int nn_params_serialize_stream(const nn_params *p, int f16, nn_params_sink sink, void *ctx)
{
    if (!p->value) return -1;
    stream s;
    s.used = 0;
    s.crc = 0;
    s.sink = sink;
    s.ctx = ctx;
    uint8_t *at = stream_room(&s, BLOB_HEADER);
    memcpy(at, BLOB_MAGIC, 4);
    put_u32(at + 4, f16 ? BLOB_VERSION_F16 : BLOB_VERSION);
    put_u64(at + 8, (uint64_t)blob_size(p, f16));
    put_u32(at + 16, (uint32_t)p->n_entries);
    for (int e = 0; e < p->n_entries; e++) {
        const nn_param_entry *entry = &p->entries[e];
        size_t name_len = strlen(entry->name);   /* < NN_PARAM_NAME_MAX */
        at = stream_room(&s, 4 + name_len + 16);
        put_u32(at, (uint32_t)name_len);
        memcpy(at + 4, entry->name, name_len);
        for (int d = 0; d < 4; d++) put_u32(at + 4 + name_len + 4 * d, (uint32_t)entry->shape[d]);
        const float *v = p->value + entry->offset;
        for (size_t i = 0; i < entry->count; i++) {
            if (f16) {
                uint16_t h = nn_f32_to_f16(v[i]);
                at = stream_room(&s, 2);
                at[0] = (uint8_t)h;
                at[1] = (uint8_t)(h >> 8);
                continue;
            }
            uint32_t bits;
            memcpy(&bits, &v[i], 4);
            put_u32(stream_room(&s, 4), bits);
        }
    }
    stream_flush(&s);
    put_u32(s.buf, (uint32_t)s.crc);
    sink(ctx, s.buf, BLOB_CRC);
    return 0;
}

typedef struct {
    uint8_t *at;
} memory_sink;

static void to_memory(void *ctx, const uint8_t *data, size_t len)
{
    memory_sink *m = ctx;
    memcpy(m->at, data, len);
    m->at += len;
}

static int serialize(const nn_params *p, int f16, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!p->value) return -1;
    size_t size = blob_size(p, f16);
    uint8_t *out = malloc(size);
    if (!out) return -1;
    memory_sink m = {out};
    nn_params_serialize_stream(p, f16, to_memory, &m);
    *buf = out;
    *len = size;
    return 0;
}

/* ---- deserialise ---------------------------------------------------------- */

/* One entry of a blob whose CRC has been checked. */
typedef struct {
    char name[NN_PARAM_NAME_MAX];
    int shape[4];
    size_t count;
    const uint8_t *data;
} blob_entry;

/* Reads the entry at *at (bounded by end) and advances *at; -1 if it does
 * not fit or is not well formed. */
static int read_entry(const uint8_t **at, const uint8_t *end, size_t value_bytes, blob_entry *e)
{
    const uint8_t *b = *at;
    if ((size_t)(end - b) < 4) return -1;
    uint32_t name_len = get_u32(b);
    b += 4;
    if (name_len == 0 || name_len >= NN_PARAM_NAME_MAX || (size_t)(end - b) < name_len + 16) return -1;
    memcpy(e->name, b, name_len);
    e->name[name_len] = '\0';
    if (strlen(e->name) != name_len) return -1; /* embedded NUL */
    b += name_len;
    size_t count = 1;
    for (int d = 0; d < 4; d++) {
        uint32_t dim = get_u32(b + 4 * d);
        if (dim < 1 || dim > 0x7fffffffu) return -1;
        e->shape[d] = (int)dim;
        if (count > SIZE_MAX / value_bytes / dim) return -1;
        count *= dim;
    }
    b += 16;
    if ((size_t)(end - b) / value_bytes < count) return -1;
    e->count = count;
    e->data = b;
    *at = b + value_bytes * count;
    return 0;
}

static int deserialize(nn_params *p, const uint8_t *buf, size_t len, int allow_extra,
                       char *err, size_t errlen);

int nn_params_deserialize(nn_params *p, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    return deserialize(p, buf, len, 0, err, errlen);
}

int nn_params_deserialize_subset(nn_params *p, const uint8_t *buf, size_t len, char *err,
                                 size_t errlen)
{
    return deserialize(p, buf, len, 1, err, errlen);
}

static int deserialize(nn_params *p, const uint8_t *buf, size_t len, int allow_extra,
                       char *err, size_t errlen)
{
    /* Checks run from the outside in, so that each failure gets the most
     * specific name: magic, version, length against the recorded size
     * (truncation), CRC (corruption), then names and shapes against the
     * model. Nothing is written to p unless every check passes. */
    size_t head = len < 4 ? len : 4;
    if (head > 0 && memcmp(buf, BLOB_MAGIC, head) != 0) {
        fail(err, errlen, "bad magic (not an aec parameter file)");
        return -1;
    }
    if (len < 8) {
        fail(err, errlen, "truncated: %zu bytes, shorter than the header", len);
        return -1;
    }
    uint32_t version = get_u32(buf + 4);
    if (version != BLOB_VERSION && version != BLOB_VERSION_F16) {
        fail(err, errlen, "unsupported version %u (this build reads versions %u and %u)", version,
             BLOB_VERSION, BLOB_VERSION_F16);
        return -1;
    }
    size_t value_bytes = version == BLOB_VERSION_F16 ? 2 : 4;
    if (len < BLOB_HEADER + BLOB_CRC) {
        fail(err, errlen, "truncated: %zu bytes, less than the %u-byte minimum", len, BLOB_HEADER + BLOB_CRC);
        return -1;
    }
    uint64_t size = get_u64(buf + 8);
    if ((uint64_t)len < size) {
        fail(err, errlen, "truncated: %zu bytes, the header says %llu", len, (unsigned long long)size);
        return -1;
    }
    if ((uint64_t)len > size) {
        fail(err, errlen, "size mismatch: %zu bytes, the header says %llu", len, (unsigned long long)size);
        return -1;
    }
    uint32_t stored_crc = get_u32(buf + len - BLOB_CRC);
    uint32_t crc = nn_crc32(0, buf, len - BLOB_CRC);
    if (stored_crc != crc) {
        fail(err, errlen, "CRC mismatch (stored %08x, computed %08x)", stored_crc, crc);
        return -1;
    }
    if (!p->value) {
        fail(err, errlen, "the model's parameters are not allocated");
        return -1;
    }

    uint32_t n_blob = get_u32(buf + 16);
    const uint8_t *end = buf + len - BLOB_CRC;
    /* which model entries the blob has supplied */
    unsigned char *seen = calloc(p->n_entries ? (size_t)p->n_entries : 1, 1);
    if (!seen) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    int status = -1;
    const uint8_t *at = buf + BLOB_HEADER;
    blob_entry e;
    for (uint32_t k = 0; k < n_blob; k++) {
        /* the CRC matched, so a malformed entry means a faulty writer */
        if (read_entry(&at, end, value_bytes, &e) != 0) {
            fail(err, errlen, "malformed entry %u", k);
            goto done;
        }
        const nn_param_entry *want = nn_params_find(p, e.name);
        if (!want && allow_extra) continue;
        if (!want) {
            fail(err, errlen, "unexpected parameter %s", e.name);
            goto done;
        }
        if (memcmp(want->shape, e.shape, sizeof e.shape) != 0) {
            fail(err, errlen, "shape mismatch for %s: file %dx%dx%dx%d, model %dx%dx%dx%d", e.name,
                 e.shape[0], e.shape[1], e.shape[2], e.shape[3],
                 want->shape[0], want->shape[1], want->shape[2], want->shape[3]);
            goto done;
        }
        size_t index = (size_t)(want - p->entries);
        if (seen[index]) {
            fail(err, errlen, "duplicate parameter %s", e.name);
            goto done;
        }
        seen[index] = 1;
    }
    if (at != end) {
        fail(err, errlen, "malformed blob: %zu bytes after the last entry", (size_t)(end - at));
        goto done;
    }
    for (int i = 0; i < p->n_entries; i++)
        if (!seen[i]) {
            fail(err, errlen, "missing parameter %s", p->entries[i].name);
            goto done;
        }

    /* every check passed: copy the values in */
    at = buf + BLOB_HEADER;
    for (uint32_t k = 0; k < n_blob; k++) {
        read_entry(&at, end, value_bytes, &e);
        const nn_param_entry *want = nn_params_find(p, e.name);
        if (!want) continue; /* an extra entry that allow_extra let through */
        float *v = p->value + want->offset;
        if (value_bytes == 2) {
            nn_f16_load(e.data, e.count, v);
            continue;
        }
        for (size_t i = 0; i < e.count; i++) {
            uint32_t bits = get_u32(e.data + 4 * i);
            memcpy(&v[i], &bits, 4);
        }
    }
    status = 0;
done:
    free(seen);
    return status;
}

/* ---- files ---------------------------------------------------------------- */

/* Makes the rename durable: fsync the directory holding path. Best effort,
 * as some file systems refuse fsync on directories; the data itself was
 * already synced before the rename. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int nn_params_save(const nn_params *p, const char *path, char *err, size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (nn_params_serialize(p, &buf, &len) != 0) {
        fail(err, errlen, "%s: cannot serialise the parameters (out of memory or not allocated)", path);
        return -1;
    }
    /* the temporary file sits in the target's directory so that rename is
     * atomic (same file system); the pid keeps concurrent savers apart */
    size_t tmp_size = strlen(path) + 32;
    char *tmp = malloc(tmp_size);
    if (!tmp) {
        free(buf);
        fail(err, errlen, "%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());

    int status = -1;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fail(err, errlen, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    int ok = fwrite(buf, 1, len, f) == len;
    ok = ok && fflush(f) == 0;
    ok = ok && fsync(fileno(f)) == 0;
    int saved_errno = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        saved_errno = errno;
    }
    if (!ok) {
        fail(err, errlen, "%s: cannot write %s: %s", path, tmp, strerror(saved_errno));
        remove(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        fail(err, errlen, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        remove(tmp);
        goto done;
    }
    sync_parent_dir(path);
    status = 0;
done:
    free(tmp);
    free(buf);
    return status;
}

int nn_params_load(nn_params *p, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) fail(err, errlen, "%s: not found", path);
        else fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    /* read to the end in growing chunks (works for pipes too) */
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    int status = -1;
    if (!buf) {
        fail(err, errlen, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *grown = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!grown) {
                fail(err, errlen, "%s: out of memory", path);
                goto done;
            }
            buf = grown;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        fail(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    char why[256];
    if (nn_params_deserialize(p, buf, len, why, sizeof why) != 0) {
        fail(err, errlen, "%s: %s", path, why);
        goto done;
    }
    status = 0;
done:
    free(buf);
    fclose(f);
    return status;
}
