/* tools/builtin_model.c - the shipped model, built into aec so that it
 * works with no model file around. The Makefile defines
 * AEC_BUILTIN_MODEL_PATH when samples/butterfly.aecm exists; the assembler
 * includes the file's bytes as they are. */
#include <stdio.h>

#include "tools/cli.h"

#ifdef AEC_BUILTIN_MODEL_PATH
__asm__(".section .rodata\n"
        ".balign 16\n"
        "aec_builtin_model_start:\n"
        ".incbin \"" AEC_BUILTIN_MODEL_PATH "\"\n"
        "aec_builtin_model_end:\n"
        ".previous\n");
extern const uint8_t aec_builtin_model_start[] __asm__("aec_builtin_model_start");
extern const uint8_t aec_builtin_model_end[] __asm__("aec_builtin_model_end");

const uint8_t *cli_builtin_model(size_t *len)
{
    *len = (size_t)(aec_builtin_model_end - aec_builtin_model_start);
    return aec_builtin_model_start;
}
#else
const uint8_t *cli_builtin_model(size_t *len)
{
    *len = 0;
    return NULL;
}
#endif

int cli_load_codec(aec_codec *c, const char *path, int decoder_only, char *err, size_t errlen)
{
    if (path) return aec_codec_load(c, path, decoder_only, err, errlen);
    size_t len;
    const uint8_t *data = cli_builtin_model(&len);
    if (!data) {
        snprintf(err, errlen, "no model built into this program: give one with -m MODEL");
        return -1;
    }
    return aec_codec_parse(c, data, len, "built-in model", decoder_only, err, errlen);
}
