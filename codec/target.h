/* codec/target.h - encoding to a target size or PSNR: a bisection on
 * quality for the one that gives B bits per pixel (to within 3%) or a
 * decoded PSNR of P dB (to within 0.1 dB), what `aec encode --bpp/--psnr`
 * and the library's target options do. */
#ifndef AEC_TARGET_H
#define AEC_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* the tolerances: relative for bpp, in dB for PSNR */
#define AEC_TARGET_BPP_TOLERANCE 0.03
#define AEC_TARGET_PSNR_TOLERANCE_DB 0.1

/* One encode at a quality in hundredths, with its bpp and, when asked for,
 * its decoded PSNR (else NAN). */
typedef struct {
    int qx;
    uint8_t *bytes; /* malloc'd */
    size_t len;
    double bpp, psnr;
} aec_trial;

/* 0, or -1 with err (the codec's message) and nothing allocated. */
int aec_trial_encode(const aec_codec *c, const uint8_t *rgb, int w, int h, int qx, int want_psnr,
                     aec_trial *t, char *err, size_t errlen);

typedef struct {
    int by_psnr;   /* 1: target is a PSNR in dB; 0: bits per pixel */
    double target;
} aec_target;

/* The search's outcome: the closest trial, the measure at qualities 0 and
 * 100, and where the measure did not rise with quality (the bisection
 * relies on it rising), the two samples that showed it. */
typedef struct {
    aec_trial best;
    double v_min, v_max;
    int monotone;
    int bad_a, bad_b;      /* qualities in hundredths, when !monotone */
    double bad_va, bad_vb;
} aec_target_result;

/* The trial's measure: its PSNR (psnr.h: an exact copy's is 100 dB) or bpp. */
double aec_target_value(const aec_target *g, const aec_trial *t);
/* 1 when the trial is within the tolerance of the target. */
int aec_target_reached(const aec_target *g, const aec_trial *t);

/* Runs the search. 0 with r->best.bytes malloc'd, or -1 with err and
 * nothing allocated. */
int aec_encode_target(const aec_codec *c, const uint8_t *rgb, int w, int h, const aec_target *g,
                      aec_target_result *r, char *err, size_t errlen);

#endif
