/* tools/tools.h - the subcommands of the aec program and their exit codes. */
#ifndef AEC_TOOLS_H
#define AEC_TOOLS_H

enum {
    AEC_EXIT_OK = 0,
    AEC_EXIT_DATA = 1,   /* bad input file, decode failure */
    AEC_EXIT_USAGE = 2,  /* bad command line */
    AEC_EXIT_SYSTEM = 3, /* out of memory, cannot write */
};

int aec_cmd_train(int argc, char **argv);
int aec_cmd_encode(int argc, char **argv);
int aec_cmd_decode(int argc, char **argv);
int aec_cmd_export(int argc, char **argv);
int aec_cmd_export_decoder(int argc, char **argv);
int aec_cmd_info(int argc, char **argv);
int aec_cmd_bench(int argc, char **argv);
int aec_cmd_score(int argc, char **argv);

#endif
