/* tests/png_to_rgb.c - a PNG's pixels as raw 8-bit RGB on stdout, for
 * tests/test_install.sh to compare aecd's output with libaec's:
 * png_to_rgb IMAGE.png > IMAGE.rgb */
#include <stdio.h>

#include "tools/imageio/png_io.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: png_to_rgb IMAGE.png > IMAGE.rgb\n");
        return 2;
    }
    aec_image img;
    char err[512];
    if (aec_png_read(argv[1], &img, 0, err, sizeof err)) {
        fprintf(stderr, "png_to_rgb: %s\n", err);
        return 1;
    }
    size_t n = (size_t)img.width * img.height * 3;
    int bad = fwrite(img.rgb, 1, n, stdout) != n || fflush(stdout) != 0;
    aec_image_free(&img);
    return bad;
}
