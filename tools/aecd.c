/* tools/aecd.c - the standalone decoder: `aecd INPUT.aec [OUTPUT.png]`.
 *
 * Statically linked, with the decoder half of a model appended to the
 * executable itself (see cli.h; `aec export-decoder` makes one for any
 * model), so a copy of this one file decodes on any Linux machine. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/model_file.h"
#include "nn/blas.h"
#include "tools/cli.h"
#include "tools/tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aecd [-f] INPUT.aec [OUTPUT.png]\n"
            "  Decodes an .aec file to PNG (default: INPUT with .png; - is stdin/stdout),\n"
            "  with the model built into this decoder. -f overwrites an existing output\n"
            "  (never the input).\n"
            "exit codes: 0 success, 1 bad input or existing output, 2 bad command line,\n"
            "            3 out of memory or I/O failure\n");
}

static int read_exact_at(int fd, void *buf, size_t len, off_t at)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
        at += n;
    }
    return 0;
}

/* The model appended to this executable (cli.h): the trailer read, the
 * model mapped rather than read. The program file is in the page cache, so
 * a mapping with MAP_POPULATE costs neither a copy nor a page fault per
 * 4 KiB of fresh memory.
 * *map and *map_len are what to unmap; *model points into the mapping.
 * Returns an AEC_EXIT_* code. */
static int map_own_model(void **map, size_t *map_len, const uint8_t **model, size_t *len, char *err,
                         size_t errlen)
{
    *map = NULL;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint8_t trailer[CLI_TRAILER_SIZE];
    if (fd < 0 || fstat(fd, &st) != 0 ||
        (st.st_size >= CLI_TRAILER_SIZE &&
         read_exact_at(fd, trailer, CLI_TRAILER_SIZE, st.st_size - CLI_TRAILER_SIZE))) {
        snprintf(err, errlen, "cannot read its own model from /proc/self/exe: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return AEC_EXIT_SYSTEM;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | trailer[i];
    if (st.st_size < CLI_TRAILER_SIZE || memcmp(trailer + 8, CLI_TRAILER_MAGIC, 8) != 0 || n == 0 ||
        n > (uint64_t)st.st_size - CLI_TRAILER_SIZE) {
        snprintf(err, errlen, "no model appended to this decoder (make one with aec export-decoder)");
        close(fd);
        return AEC_EXIT_DATA;
    }
    /* from the page the model starts in */
    const off_t at = st.st_size - CLI_TRAILER_SIZE - (off_t)n, page = (off_t)sysconf(_SC_PAGESIZE);
    const off_t from = page > 0 ? at / page * page : 0;
    const size_t size = (size_t)(st.st_size - CLI_TRAILER_SIZE - from);
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, from);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "cannot map its own model from /proc/self/exe: %s", strerror(errno));
        close(fd);
        return AEC_EXIT_SYSTEM;
    }
    close(fd);
    *map = m;
    *map_len = size;
    *model = (const uint8_t *)m + (at - from);
    *len = (size_t)n;
    return AEC_EXIT_OK;
}

int main(int argc, char **argv)
{
    nn_blas_setup(argv);
    const char *in = NULL, *out = NULL;
    int force = 0;
    static const cli_option opts[] = {{"-f", 'f', 0}, {NULL, 0, 0}};
    cli_args args = cli_args_start(argc, argv, "aecd", stderr);
    for (int k; (k = cli_next_arg(&args, opts)) != CLI_END;) {
        if (k == CLI_HELP) {
            usage(stdout);
            return 0;
        }
        if (k == CLI_ERROR) return AEC_EXIT_USAGE;
        if (k == 'f') force = 1;
        else if (!in) in = args.arg;
        else if (!out) out = args.arg;
        else {
            fprintf(stderr, "aecd: one input and one output at most (try aecd --help)\n");
            return AEC_EXIT_USAGE;
        }
    }
    if (!in) {
        usage(stderr);
        return AEC_EXIT_USAGE;
    }
    char err[2048], out_buf[4200];
    if (!out) {
        size_t n = strlen(in);
        if (!strcmp(in, "-")) out = "-";
        else {
            if (n > 4 && !strcmp(in + n - 4, ".aec")) n -= 4;
            if (n > 4000) {
                fprintf(stderr, "aecd: %s: path too long\n", in);
                return AEC_EXIT_DATA;
            }
            snprintf(out_buf, sizeof out_buf, "%.*s.png", (int)n, in);
            out = out_buf;
        }
    }
    unsigned flags = force ? CLI_OVERWRITE : 0;
    /* before the model is loaded, so that a refusal is quick */
    int rc = cli_check_output(out, in, flags, err, sizeof err);
    if (rc) {
        fprintf(stderr, "aecd: %s\n", err);
        return rc;
    }
    void *map;
    size_t map_len, model_len;
    const uint8_t *model;
    if ((rc = map_own_model(&map, &map_len, &model, &model_len, err, sizeof err))) {
        fprintf(stderr, "aecd: %s\n", err);
        return rc;
    }
    aec_codec c;
    int bad = aec_codec_parse(&c, model, model_len, "aecd's model", 1, err, sizeof err);
    munmap(map, map_len);
    if (bad) {
        fprintf(stderr, "aecd: %s\n", err);
        return strstr(err, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
    }
    size_t len;
    uint8_t *data = cli_read_input(in, (size_t)1 << 30, &len, err, sizeof err);
    if (!data) rc = strstr(err, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
    else rc = aec_decode_to_png(&c, in, data, len, out, flags, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "aecd: %s\n", err);
    free(data);
    aec_codec_free(&c);
    return rc;
}
