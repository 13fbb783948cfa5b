/* example_decode.c - decodes an .aec file to raw 8-bit RGB on stdout with
 * libaec (the README's example; make test builds it against an install):
 *
 *   cc example_decode.c $(pkg-config --cflags --libs aec) -o example_decode
 *   ./example_decode model.aecm photo.aec > photo.rgb */
#include <aec.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole file, malloc'd; NULL on failure. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    if (f) fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: example_decode MODEL.aecm INPUT.aec > OUTPUT.rgb\n");
        return 2;
    }
    size_t len;
    uint8_t *file = read_file(argv[2], &len), *rgb = NULL;
    if (!file) {
        perror(argv[2]);
        return 1;
    }
    aec_coder *c = NULL;
    int w, h;
    aec_status st = aec_coder_create(&c);
    if (st == AEC_OK) st = aec_coder_load_file(c, argv[1], AEC_LOAD_DECODER_ONLY);
    if (st == AEC_OK) st = aec_decode_rgb(c, file, len, &rgb, &w, &h);
    if (st == AEC_OK) {
        fprintf(stderr, "%s: %dx%d\n", argv[2], w, h);
        fwrite(rgb, 3, (size_t)w * h, stdout);
    } else {
        fprintf(stderr, "%s: %s (%s)\n", argv[2], aec_error_string(st), aec_coder_message(c));
    }
    free(rgb);
    free(file);
    aec_coder_free(c);
    return st == AEC_OK ? 0 : 1;
}
