/* tools/aec.c - the aec command: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "nn/blas.h"
#include "tools/tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aec COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  encode          compress PNG or JPEG images to .aec\n"
            "  decode          decompress .aec files to PNG\n"
            "  info            describe an .aec file or a model\n"
            "  train           train a model on a folder of PNG or JPEG images, ready to code\n"
            "  export          make a checkpoint (or its average) ready to code\n"
            "  export-decoder  write a standalone decoder (like aecd) for a model\n"
            "  bench           measure aec against JPEG on a folder of PNG or JPEG images\n"
            "  score           how well images fit the model's domain\n"
            "\n"
            "`aec COMMAND --help` describes each command.\n"
            "exit codes: 0 success, 1 error in the input or its processing,\n"
            "            2 bad command line, 3 out of memory or I/O failure\n");
}

int main(int argc, char **argv)
{
    nn_blas_setup(argv);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? AEC_EXIT_USAGE : 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"encode", aec_cmd_encode}, {"decode", aec_cmd_decode},
                    {"info", aec_cmd_info},     {"train", aec_cmd_train},
                    {"export", aec_cmd_export}, {"export-decoder", aec_cmd_export_decoder},
                    {"bench", aec_cmd_bench},   {"score", aec_cmd_score}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "aec: unknown command '%s' (try aec --help)\n", argv[1]);
    return AEC_EXIT_USAGE;
}
