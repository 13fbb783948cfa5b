/* codec/aec_api.h - what the public API's two files share (aec_api.c, the
 * coder; aec_api_code.c, encoding and decoding): the coder itself and the
 * way a call reports its outcome. Not installed. */
#ifndef AEC_API_INTERNAL_H
#define AEC_API_INTERNAL_H

#include "codec/aec.h"
#include "codec/codec.h"

/* A model loaded for coding (codec, when loaded), the settings and the
 * last call's message. */
struct aec_coder {
    aec_codec codec;
    int loaded;
    int threads;         /* 0: OpenMP's default */
    uint64_t max_pixels; /* 0: the codec's default */
    char message[1024];
};

/* Sets the coder's message (printf-style) and returns code. */
aec_status aec_api_fail(aec_coder *c, aec_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clears the message and returns AEC_OK. */
aec_status aec_api_succeed(aec_coder *c);
/* The codec reports failures as messages only: "out of memory" is the
 * system's, anything else is `otherwise`. */
aec_status aec_api_from_message(const char *msg, aec_status otherwise);

/* The coder's thread count for the length of one call, in the calling
 * thread's OpenMP setting; enter returns the setting leave restores. */
int aec_api_threads_enter(const aec_coder *c);
void aec_api_threads_leave(const aec_coder *c, int saved);

#endif
