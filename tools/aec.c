/* tools/aec.c - the aec command: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "blas.h"
#include "tools.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aec COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  train     train a model on a folder of PNG images\n"
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
    if (strcmp(argv[1], "train") == 0) return aec_cmd_train(argc - 1, argv + 1);
    fprintf(stderr, "aec: unknown command '%s' (try aec --help)\n", argv[1]);
    return AEC_EXIT_USAGE;
}
