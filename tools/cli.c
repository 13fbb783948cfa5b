/* tools/cli.c - output files, inputs and models for the command-line tools. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_file.h"
#include "png_io.h"
#include "tools.h"

int cli_write_output(const char *path, const void *data, size_t len, int overwrite, int mode,
                     char *err, size_t errlen)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            snprintf(err, errlen, "stdout: write failed: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    struct stat st;
    if (!overwrite && stat(path, &st) == 0) {
        snprintf(err, errlen, "%s: already exists (use -f to overwrite)", path);
        return -1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        p += n;
        left -= (size_t)n;
    }
    int ok = left == 0 && fsync(fd) == 0;
    int saved = errno;
    ok &= close(fd) == 0;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) saved = errno;
        unlink(tmp);
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

uint8_t *cli_read_input(const char *path, size_t max_len, size_t *len, char *err, size_t errlen)
{
    if (strcmp(path, "-") != 0) return aec_read_file(path, max_len, len, err, errlen);
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *q = cap <= max_len + (1 << 16) ? realloc(buf, cap) : NULL;
            if (!q) {
                free(buf);
                snprintf(err, errlen, "stdin: %s", cap > max_len ? "input too large" : "out of memory");
                return NULL;
            }
            buf = q;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) {
        free(buf);
        snprintf(err, errlen, "stdin: read error");
        return NULL;
    }
    *len = n;
    return buf;
}

size_t cli_split_appended(const uint8_t *exe, size_t len, const uint8_t **model, size_t *model_len)
{
    *model = NULL;
    *model_len = 0;
    if (len < CLI_TRAILER_SIZE || memcmp(exe + len - 8, CLI_TRAILER_MAGIC, 8) != 0) return len;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | exe[len - 16 + i];
    if (n > len - CLI_TRAILER_SIZE) return len;
    *model = exe + len - CLI_TRAILER_SIZE - n;
    *model_len = (size_t)n;
    return len - CLI_TRAILER_SIZE - (size_t)n;
}

/* mkdir -p of the folder part of path */
int cli_make_parent_dirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

int aec_decode_to_png(const aec_codec *c, const char *in, const uint8_t *data, size_t len,
                      const char *out, int force, int make_dirs, char *err, size_t errlen)
{
    uint8_t *rgb;
    int w, h;
    char inner[512];
    if (aec_decode(c, data, len, &rgb, &w, &h, inner, sizeof inner)) {
        snprintf(err, errlen, "%s: %s", in, inner);
        return AEC_EXIT_DATA;
    }
    int rc = AEC_EXIT_OK;
    struct stat st;
    if (strcmp(out, "-") == 0) {
        if (aec_png_write_file(stdout, "stdout", rgb, NULL, w, h, err, errlen)) rc = AEC_EXIT_SYSTEM;
    } else if (!force && stat(out, &st) == 0) {
        snprintf(err, errlen, "%s: already exists (use -f to overwrite)", out);
        rc = AEC_EXIT_DATA;
    } else if (make_dirs && cli_make_parent_dirs(out)) {
        snprintf(err, errlen, "%s: cannot create folder: %s", out, strerror(errno));
        rc = AEC_EXIT_SYSTEM;
    } else if (aec_png_write(out, rgb, NULL, w, h, err, errlen)) {
        rc = AEC_EXIT_SYSTEM;
    }
    free(rgb);
    return rc;
}

