/* tools/measure/rd_svg.c - the rate-distortion plot of `aec bench` as hand-written
 * SVG (see rd_svg.h): no plotting library, and the file opens in any
 * browser. */
#include "tools/measure/rd_svg.h"

#include <math.h>
#include <string.h>

/* page layout, in SVG user units (pixels) */
#define PAGE_W 1060
#define PAGE_H 500
#define PLOT_W 410
#define PLOT_H 340
#define PLOT_TOP 76
#define LEFT_X 80
#define RIGHT_X 600

typedef struct {
    double lo, hi, step;
} axis;

/* A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks. */
static double nice_step(double range, int ticks)
{
    double raw = range / ticks, mag = pow(10, floor(log10(raw))), norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/* An axis covering [lo, hi] that starts and ends on a tick. */
static axis make_axis(double lo, double hi, int from_zero)
{
    if (!(lo <= hi)) lo = 0, hi = 1; /* nothing finite to show */
    if (from_zero && lo > 0) lo = 0;
    if (hi - lo < 1e-9) {
        double pad = fabs(hi) > 1e-9 ? fabs(hi) * 0.05 : 1;
        lo -= pad;
        hi += pad;
    }
    axis a;
    a.step = nice_step(hi - lo, 6);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    return a;
}

/* Decimals that show the step exactly (0.25 -> 2, 5 -> 0). */
static int decimals(double step)
{
    int d = 0;
    while (d < 6 && fabs(step * pow(10, d) - round(step * pow(10, d))) > 1e-6) d++;
    return d;
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* The range of the finite bpp (which 0), PSNR (1) or MS-SSIM (2) values. */
static void range_of(const rd_series *s, int n_series, int which, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int k = 0; k < n_series; k++)
        for (int i = 0; i < s[k].n; i++) {
            double v = which == 0 ? s[k].bpp[i] : which == 1 ? s[k].psnr[i] : s[k].msssim[i];
            if (!isfinite(v) || !isfinite(s[k].bpp[i])) continue;
            if (v < *lo) *lo = v;
            if (v > *hi) *hi = v;
        }
}

/* One panel: frame, grid, ticks, axis titles and the curves. which_y is
 * 1 for PSNR, 2 for MS-SSIM. */
static void panel(FILE *f, int x0, const rd_series *s, int n_series, axis ax, axis ay,
                  int which_y, const char *y_title)
{
    const int y0 = PLOT_TOP;
#define PX(v) (x0 + ((v) - ax.lo) / (ax.hi - ax.lo) * PLOT_W)
#define PY(v) (y0 + PLOT_H - ((v) - ay.lo) / (ay.hi - ay.lo) * PLOT_H)
    fprintf(f, "<g font-family=\"sans-serif\" font-size=\"12\">\n");
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"white\" stroke=\"#333\"/>\n",
            x0, y0, PLOT_W, PLOT_H);
    int dx = decimals(ax.step), dy = decimals(ay.step);
    for (int i = 0; ax.lo + i * ax.step <= ax.hi + ax.step * 1e-6; i++) {
        double v = ax.lo + i * ax.step, x = PX(v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>\n", x,
                y0, x, y0 + PLOT_H);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n", x,
                y0 + PLOT_H, x, y0 + PLOT_H + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n", x,
                y0 + PLOT_H + 19, dx, v);
    }
    for (int i = 0; ay.lo + i * ay.step <= ay.hi + ay.step * 1e-6; i++) {
        double v = ay.lo + i * ay.step, y = PY(v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", x0,
                y, x0 + PLOT_W, y);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n", x0 - 5,
                y, x0, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n", x0 - 8, y + 4,
                dy, v);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\">bits per pixel</text>\n",
            x0 + PLOT_W / 2, y0 + PLOT_H + 42);
    fprintf(f, "<text transform=\"translate(%d %d) rotate(-90)\" text-anchor=\"middle\" "
               "font-size=\"14\">%s</text>\n",
            x0 - 58, y0 + PLOT_H / 2, y_title);
    for (int k = 0; k < n_series; k++) {
        const double *yv = which_y == 1 ? s[k].psnr : s[k].msssim;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", s[k].colour);
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].bpp[i]) && isfinite(yv[i]))
                fprintf(f, "%.1f,%.1f ", PX(s[k].bpp[i]), PY(yv[i]));
        fprintf(f, "\"/>\n");
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].bpp[i]) && isfinite(yv[i]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n",
                        PX(s[k].bpp[i]), PY(yv[i]), s[k].colour);
    }
    fprintf(f, "</g>\n");
#undef PX
#undef PY
}

int rd_svg_write(FILE *f, const char *title, const rd_series *series, int n_series)
{
    double xlo, xhi, plo, phi, mlo, mhi;
    range_of(series, n_series, 0, &xlo, &xhi);
    range_of(series, n_series, 1, &plo, &phi);
    range_of(series, n_series, 2, &mlo, &mhi);
    axis ax = make_axis(xlo, xhi, 1);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            PAGE_W, PAGE_H, PAGE_W, PAGE_H);
    fprintf(f, "<text x=\"%d\" y=\"32\" text-anchor=\"middle\" font-family=\"sans-serif\" "
               "font-size=\"18\">",
            PAGE_W / 2);
    xml_text(f, title);
    fprintf(f, "</text>\n");
    panel(f, LEFT_X, series, n_series, ax, make_axis(plo, phi, 0), 1, "PSNR (dB, RGB)");
    panel(f, RIGHT_X, series, n_series, ax, make_axis(mlo, mhi, 0), 2, "MS-SSIM (RGB)");
    if (!(mlo <= mhi))
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-family=\"sans-serif\" "
                   "font-size=\"13\">MS-SSIM undefined (images under 176 px a side)</text>\n",
                RIGHT_X + PLOT_W / 2, PLOT_TOP + PLOT_H / 2);
    /* the legend, in one row between the title and the panels, where no
     * curve can hide it */
    int lx = PAGE_W / 2 - 110 * n_series, ly = 52;
    fprintf(f, "<g font-family=\"sans-serif\" font-size=\"13\">\n");
    for (int k = 0; k < n_series; k++) {
        int x = lx + 220 * k;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n"
                   "<circle cx=\"%d\" cy=\"%d\" r=\"3.5\" fill=\"%s\"/>\n<text x=\"%d\" y=\"%d\">",
                x, ly, x + 28, ly, series[k].colour, x + 14, ly, series[k].colour, x + 36, ly + 4);
        xml_text(f, series[k].name);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g>\n</svg>\n");
    return ferror(f) ? -1 : 0;
}
