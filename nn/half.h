/* nn/half.h - IEEE binary16 values, the compact form of shipped models'
 * parameters (spec/model-format.md, "Parameter blob" version 2). */
#ifndef NN_HALF_H
#define NN_HALF_H

#include <stddef.h>
#include <stdint.h>

/* float32 -> binary16 bits, round to nearest even; overflow gives infinity,
 * NaN stays NaN. Plain integer code, so every machine gets the same bits. */
uint16_t nn_f32_to_f16(float f);
/* binary16 bits -> float32, exactly (NaNs keep their payload, shifted up;
 * a signalling NaN stays signalling). */
float nn_f16_to_f32(uint16_t h);
/* v[i] = nn_f16_to_f32 of the little-endian binary16 at src + 2 i, i < n;
 * src has any alignment. With F16C, where nn/cpu.h's switch allows it, 8
 * values an instruction, the same bits. */
void nn_f16_load(const uint8_t *src, size_t n, float *v);

#endif
