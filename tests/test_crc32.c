/* Checks of nn_crc32 (the carry-less folding, where this CPU has it)
 * against zlib's crc32_z, the plain reference: every length up to 600 at
 * every alignment, long buffers, chaining, and the standard check value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "crc32.h"
#include "rng.h"

int main(void)
{
    nn_rng rng;
    nn_rng_seed(&rng, 32);
    enum { BIG = (1 << 20) + 77 };
    uint8_t *buf = malloc(BIG + 16);
    if (!buf) return 1;
    for (size_t i = 0; i < BIG + 16; i++) buf[i] = (uint8_t)nn_rng_u64(&rng);

    CHECK(nn_crc32(0, "123456789", 9) == 0xcbf43926u, "check value %08x",
          (unsigned)nn_crc32(0, "123456789", 9));
    CHECK(nn_crc32(0, NULL, 0) == 0 && nn_crc32(0x1234u, NULL, 100) == (uint32_t)crc32_z(0x1234u, NULL, 100),
          "NULL buffer as zlib");
    /* a buffer of 64 bytes or more goes through the folding: lengths
     * around every multiple of 16 and 64, each at all 16 alignments */
    for (size_t len = 0; len <= 600; len++) {
        int ok = 1;
        for (int off = 0; off < 16; off++) {
            uint32_t init = (uint32_t)nn_rng_u64(&rng);
            ok &= nn_crc32(init, buf + off, len) == (uint32_t)crc32_z(init, buf + off, len);
            ok &= nn_crc32(0, buf + off, len) == (uint32_t)crc32_z(0, buf + off, len);
        }
        CHECK(ok, "length %zu differs from zlib", len);
    }
    uint32_t init = 0xdeadbeefu;
    CHECK(nn_crc32(init, buf + 3, BIG) == (uint32_t)crc32_z(init, buf + 3, BIG), "1 MiB");
    /* all zeros and all ones (no lucky cancellation on random data) */
    uint8_t flat[256];
    for (int v = 0; v < 256; v += 255) {
        memset(flat, v, sizeof flat);
        CHECK(nn_crc32(0, flat, sizeof flat) == (uint32_t)crc32_z(0, flat, sizeof flat), "bytes %d", v);
    }
    /* chained pieces give the CRC of the whole */
    uint32_t c = 0;
    size_t at = 0;
    while (at < BIG) {
        size_t n = 1 + nn_rng_below(&rng, 5000);
        if (n > BIG - at) n = BIG - at;
        c = nn_crc32(c, buf + at, n);
        at += n;
    }
    CHECK(c == (uint32_t)crc32_z(0, buf, BIG), "chained pieces");
    free(buf);
    return check_report("test_crc32");
}
