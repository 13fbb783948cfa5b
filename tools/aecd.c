/* tools/aecd.c - the standalone decoder: `aecd INPUT.aec [OUTPUT.png]`.
 *
 * Statically linked, with the decoder half of a model appended to the
 * executable itself (see cli.h; `aec export-decoder` makes one for any
 * model), so a copy of this one file decodes on any Linux machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cli.h"
#include "model_file.h"
#include "tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aecd INPUT.aec [OUTPUT.png] [-f]\n"
            "  Decodes an .aec file to PNG (default: INPUT with .png; - is stdin/stdout),\n"
            "  with the model built into this decoder. -f overwrites an existing output.\n"
            "exit codes: 0 success, 1 bad input, 2 bad command line, 3 cannot write\n");
}

int main(int argc, char **argv)
{
    nn_blas_setup(argv);
    const char *in = NULL, *out = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        if (!strcmp(argv[i], "-f")) force = 1;
        else if (!in) in = argv[i];
        else if (!out) out = argv[i];
        else {
            usage(stderr);
            return AEC_EXIT_USAGE;
        }
    }
    if (!in) {
        usage(stderr);
        return AEC_EXIT_USAGE;
    }
    char err[1024], out_buf[4200];
    if (!out) {
        size_t n = strlen(in);
        if (!strcmp(in, "-")) out = "-";
        else {
            if (n > 4 && !strcmp(in + n - 4, ".aec")) n -= 4;
            snprintf(out_buf, sizeof out_buf, "%.*s.png", (int)(n > 4000 ? 4000 : n), in);
            out = out_buf;
        }
    }
    size_t exe_len, model_len;
    const uint8_t *model;
    uint8_t *exe = aec_read_file("/proc/self/exe", (size_t)1 << 30, &exe_len, err, sizeof err);
    if (!exe) {
        fprintf(stderr, "aecd: cannot read its own model: %s\n", err);
        return AEC_EXIT_SYSTEM;
    }
    cli_split_appended(exe, exe_len, &model, &model_len);
    aec_codec c;
    if (!model || aec_codec_parse(&c, model, model_len, "aecd's model", 1, err, sizeof err)) {
        fprintf(stderr, "aecd: %s\n", model ? err : "no model appended to this decoder (make one with aec export-decoder)");
        free(exe);
        return AEC_EXIT_DATA;
    }
    free(exe);
    size_t len;
    uint8_t *data = cli_read_input(in, (size_t)1 << 30, &len, err, sizeof err);
    int rc = data ? aec_decode_to_png(&c, in, data, len, out, force, 0, err, sizeof err) : AEC_EXIT_DATA;
    if (rc) fprintf(stderr, "aecd: %s\n", err);
    free(data);
    aec_codec_free(&c);
    return rc;
}
