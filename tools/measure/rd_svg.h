/* tools/measure/rd_svg.h - a rate-distortion plot as a standalone SVG file: bits
 * per pixel against PSNR on the left and against MS-SSIM on the right, one
 * line with markers per codec, axes with ticks, a legend and a title. */
#ifndef AEC_RD_SVG_H
#define AEC_RD_SVG_H

#include <stdio.h>

typedef struct {
    const char *name;   /* shown in the legend */
    const char *colour; /* an SVG colour, e.g. "#d62728" */
    int n;
    const double *bpp, *psnr, *msssim; /* n points each; NAN points are skipped */
} rd_series;

/* Writes the SVG document to f. Returns 0, or -1 when writing failed. */
int rd_svg_write(FILE *f, const char *title, const rd_series *series, int n_series);

#endif
