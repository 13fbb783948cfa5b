/* tools/cli.h - what the aec and aecd programs share: their command lines'
 * options, safe output files, reading inputs whole, and finding a model (a
 * file, the one built into the program, or the one appended to a
 * standalone decoder).
 *
 * Functions that can fail return an AEC_EXIT_* code (tools.h) and write a
 * one-line message naming the file to err. */
#ifndef AEC_CLI_H
#define AEC_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "codec/codec.h"

/* ---- options -------------------------------------------------------------
 * Every command reads its command line the same way: a table of its options
 * and a loop over cli_next_arg, which returns each option's id in turn (its
 * value in a->value), CLI_OPERAND for an argument that is no option (in
 * a->arg: one not starting with '-', "-" itself, or any after "--"),
 * CLI_HELP for -h or --help, and CLI_END at the end. An option missing its
 * value and an unknown option are CLI_ERROR, said on a->say as
 *   CMD: -m needs a value
 *   CMD: unknown option '-x' (try CMD --help)
 * The command checks the values and what it needs given. */
typedef struct {
    const char *name; /* "-q", "--psnr" */
    int id;           /* > 0: what cli_next_arg returns for it */
    int value;        /* 0: a flag; CLI_VALUE: takes the next argument;
                         CLI_GLUED: that, or the rest of its own ("-j4") */
} cli_option;
#define CLI_VALUE 1
#define CLI_GLUED 2

typedef struct {
    int argc;
    char **argv;
    const char *cmd; /* "aec encode", "aecd": the messages' start */
    FILE *say;       /* where they go */
    int next;        /* the argument cli_next_arg looks at next (from 1) */
    int operands;    /* 1 after "--" */
    const char *arg;   /* the option as given, or the operand */
    const char *value; /* the option's value (NULL for a flag) */
} cli_args;

#define CLI_END 0
#define CLI_OPERAND (-1)
#define CLI_HELP (-2)
#define CLI_ERROR (-3)

/* a walk over argv[1 ..] for cmd, its messages to say */
cli_args cli_args_start(int argc, char **argv, const char *cmd, FILE *say);
/* The next argument: an option's id, CLI_OPERAND, CLI_HELP, CLI_END or
 * CLI_ERROR. opts ends with an entry whose name is NULL. */
int cli_next_arg(cli_args *a, const cli_option *opts);

/* flags of cli_check_output and cli_write_output */
#define CLI_OVERWRITE 1u /* -f: an existing file may be replaced */
#define CLI_MAKE_DIRS 2u /* create the folders above the output as needed */

/* The checks worth doing before the work that makes an output: "-" (stdout)
 * must not be a terminal; path must not exist (unless CLI_OVERWRITE), be a
 * folder, or be the input file itself (input may be NULL or "-"). */
int cli_check_output(const char *path, const char *input, unsigned flags, char *err,
                     size_t errlen);

/* Writes len bytes to path atomically: a temporary file PATH.tmp.PID in the
 * same folder, fsync, then a rename that, without CLI_OVERWRITE, fails
 * rather than replace a file that appeared meanwhile. On failure, or when
 * the program is killed by SIGINT, SIGTERM or SIGHUP meanwhile, the
 * temporary file and any folder this call created are removed and path is
 * untouched. path "-" writes to stdout (refused when it is a terminal).
 * mode is the new file's permission bits (less the umask). */
int cli_write_output(const char *path, const void *data, size_t len, unsigned flags, int mode,
                     char *err, size_t errlen);
/* Reads a whole file, or stdin for "-". NULL on failure. */
uint8_t *cli_read_input(const char *path, size_t max_len, size_t *len, char *err, size_t errlen);

/* 1 when a and b exist and are the same file. */
int cli_same_file(const char *a, const char *b);

/* The model built into this program (NULL, 0 when none was built in). */
const uint8_t *cli_builtin_model(size_t *len);

/* A model appended to an executable: the model bytes, then a 16-byte
 * trailer: u64 little-endian length of the model, then "AECDMODL".
 * Returns the length of the executable part (the whole file when there is
 * no trailer) and sets *model / *model_len to the appended model if any. */
size_t cli_split_appended(const uint8_t *exe, size_t len, const uint8_t **model, size_t *model_len);
#define CLI_TRAILER_MAGIC "AECDMODL"
#define CLI_TRAILER_SIZE 16

/* Decodes one .aec byte string (named `in` in messages) into a PNG written
 * to out ("-" = stdout) with cli_write_output. *png_len (may be NULL) gets
 * the PNG's size. Returns an AEC_EXIT_* code, with err set when not 0. */
int aec_decode_to_png(const aec_codec *c, const char *in, const uint8_t *data, size_t len,
                      const char *out, unsigned flags, size_t *png_len, char *err, size_t errlen);

/* Loads -m PATH, or the built-in model when path is NULL (builtin_model.c,
 * not linked into aecd). */
int cli_load_codec(aec_codec *c, const char *path, int decoder_only, char *err, size_t errlen);

#endif
