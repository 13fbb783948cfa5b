/* tests/test_options.c - cli_next_arg (tools/cli.h), the one way every
 * command of aec and aecd reads its command line: options with and without
 * values, a value glued to its option, operands, "-" and "--", --help, and
 * the messages for a missing value and an unknown option. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"
#include "tools/cli.h"

enum { O_MODEL = 1, O_JOBS, O_FORCE, O_PSNR };
static const cli_option opts[] = {{"-m", O_MODEL, CLI_VALUE},
                                  {"-j", O_JOBS, CLI_GLUED},
                                  {"-f", O_FORCE, 0},
                                  {"--psnr", O_PSNR, CLI_VALUE},
                                  {NULL, 0, 0}};

/* The walk over argv (NULL-ended) as text: one "id=arg[:value]" per step,
 * up to the end, an error or --help, then the messages said, after a
 * '|'. */
static void walk(char *const *list, char *out, size_t len)
{
    int argc = 0;
    while (list[argc]) argc++;
    char *said = NULL;
    size_t said_len = 0;
    FILE *say = open_memstream(&said, &said_len);
    if (!say) abort();
    cli_args a = cli_args_start(argc, (char **)list, "aec test", say);
    size_t n = 0;
    out[0] = 0;
    for (int k, steps = 0; steps < 20; steps++) {
        k = cli_next_arg(&a, opts);
        n += (size_t)snprintf(out + n, len - n, "%s%d=%s%s%s", n ? " " : "", k, a.arg ? a.arg : "",
                              a.value ? ":" : "", a.value ? a.value : "");
        if (k == CLI_END || k == CLI_ERROR || k == CLI_HELP) break;
    }
    fclose(say);
    snprintf(out + n, len - n, "|%s", said ? said : "");
    free(said);
}

#define WALK(want, ...)                                                     \
    do {                                                                    \
        char *const argv_[] = {"aec", __VA_ARGS__, NULL};                   \
        char got_[512];                                                     \
        walk(argv_, got_, sizeof got_);                                     \
        CHECK(!strcmp(got_, want), "got '%s', want '%s'", got_, want);      \
    } while (0)

int main(void)
{
    char end[16], operand[16], help[16], error[16];
    snprintf(end, sizeof end, "%d", CLI_END);
    snprintf(operand, sizeof operand, "%d", CLI_OPERAND);
    snprintf(help, sizeof help, "%d", CLI_HELP);
    snprintf(error, sizeof error, "%d", CLI_ERROR);
    char want[512];

    /* nothing: the end at once */
    {
        char *const argv_[] = {"aec", NULL};
        char got[512];
        walk(argv_, got, sizeof got);
        snprintf(want, sizeof want, "%s=|", end);
        CHECK(!strcmp(got, want), "no arguments: '%s'", got);
    }
    /* values, a flag, operands in between, a value that starts with '-' */
    snprintf(want, sizeof want, "1=-m:model.aecm %s=a.png 3=-f 4=--psnr:-5 %s=b.png %s=|", operand,
             operand, end);
    WALK(want, "-m", "model.aecm", "a.png", "-f", "--psnr", "-5", "b.png");
    /* -j takes its value glued or next; -m does not glue ("-mx" is unknown) */
    snprintf(want, sizeof want, "2=-j4:4 2=-j:8 %s=|", end);
    WALK(want, "-j4", "-j", "8");
    snprintf(want, sizeof want, "%s=-mx|aec test: unknown option '-mx' (try aec test --help)\n",
             error);
    WALK(want, "-mx");
    /* a flag takes nothing glued to it */
    snprintf(want, sizeof want, "%s=-fx|aec test: unknown option '-fx' (try aec test --help)\n",
             error);
    WALK(want, "-fx");
    /* "-" is an operand (stdin or stdout); after "--" everything is */
    snprintf(want, sizeof want, "%s=- %s=-f %s=-h %s=|", operand, operand, operand, end);
    WALK(want, "-", "--", "-f", "-h");
    /* --help and -h, wherever they are */
    snprintf(want, sizeof want, "%s=a.png %s=--help|", operand, help);
    WALK(want, "a.png", "--help", "-x");
    snprintf(want, sizeof want, "%s=-h|", help);
    WALK(want, "-h");
    /* a value missing at the end */
    snprintf(want, sizeof want, "3=-f %s=--psnr|aec test: --psnr needs a value\n", error);
    WALK(want, "-f", "--psnr");
    /* an unknown long option */
    snprintf(want, sizeof want, "%s=--psnrx|aec test: unknown option '--psnrx' (try aec test --help)\n",
             error);
    WALK(want, "--psnrx");
    return check_report("test_options");
}
