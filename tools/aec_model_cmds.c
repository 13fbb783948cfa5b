/* tools/aec_model_cmds.c - `aec export`, `aec export-decoder` and `aec info`. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/model_file.h"
#include "tools/cli.h"
#include "tools/measure/domain_fit.h"
#include "tools/tools.h"
#include "tools/train/calibrate.h"
#include "tools/train/dataset.h"

static void export_usage(FILE *f)
{
    fprintf(f,
            "usage: aec export -m TRAINED.aecm --calib DIR -o MODEL.aecm [--average]\n"
            "                  [--decoder-only] [-f]\n"
            "  Makes a training checkpoint (or snapshot, or model) ready to code: builds its\n"
            "  entropy tables and integer hyper-synthesis, calibrated on the first %d\n"
            "  images (PNG or JPEG) of DIR, and gives it its identity; stores the\n"
            "  domain-fit scores (aec score) of up to %d images of DIR, spread over it.\n"
            "  aec train's own output is ready already. --average takes a checkpoint's\n"
            "  moving average of the weights (aec train --average) instead of the weights\n"
            "  themselves. --decoder-only keeps just the decoder half (no scores).\n",
            AEC_CALIB_IMAGES, DOMAIN_FIT_CALIB_IMAGES);
}

/* Reads the model to export into m (and its META into *meta): the weights
 * themselves, or with average the checkpoint's moving average (AVGW). */
static int load_for_export(const char *path, int average, aec_model *m, char **meta, char *err,
                           size_t errlen)
{
    size_t len = 0;
    uint8_t *buf = aec_read_file(path, (size_t)1 << 31, &len, err, errlen);
    if (!buf) return -1;
    aec_chunk extra[AEC_MODEL_MAX_EXTRA];
    int n_extra = 0, rc = -1;
    if (aec_model_parse(buf, len, path, 0, m, meta, extra, &n_extra, err, errlen)) {
        free(buf);
        return -1;
    }
    const aec_chunk *avgw = aec_chunk_find(extra, n_extra, "AVGW");
    char why[512];
    if (!average)
        rc = 0;
    else if (!avgw)
        snprintf(err, errlen, "%s: no averaged weights (an AVGW chunk: a checkpoint of aec train "
                 "with --average)", path);
    else if ((rc = nn_params_deserialize(&m->p, avgw->data, avgw->len, why, sizeof why)))
        snprintf(err, errlen, "%s: averaged weights: %s", path, why);
    free(buf);
    if (rc) {
        aec_model_free(m);
        free(*meta);
        *meta = NULL;
    }
    return rc;
}

int aec_cmd_export(int argc, char **argv)
{
    const char *in = NULL, *calib_dir = NULL, *out = NULL;
    int decoder_only = 0, force = 0, average = 0;
    static const cli_option opts[] = {{"-m", 'm', CLI_VALUE}, {"--calib", 'c', CLI_VALUE},
                                      {"-o", 'o', CLI_VALUE}, {"--average", 'a', 0},
                                      {"--decoder-only", 'd', 0}, {"-f", 'f', 0}, {NULL, 0, 0}};
    cli_args args = cli_args_start(argc, argv, "aec export", stderr);
    for (int k; (k = cli_next_arg(&args, opts)) != CLI_END;) {
        switch (k) {
        case CLI_HELP: export_usage(stdout); return 0;
        case CLI_ERROR: return AEC_EXIT_USAGE;
        case CLI_OPERAND:
            fprintf(stderr, "aec export: unexpected argument '%s' (try aec export --help)\n",
                    args.arg);
            return AEC_EXIT_USAGE;
        case 'm': in = args.value; break;
        case 'c': calib_dir = args.value; break;
        case 'o': out = args.value; break;
        case 'a': average = 1; break;
        case 'd': decoder_only = 1; break;
        case 'f': force = 1; break;
        }
    }
    if (!in || !calib_dir || !out) {
        fprintf(stderr, "aec export: -m, --calib and -o are required (try aec export --help)\n");
        return AEC_EXIT_USAGE;
    }
    char err[1024];
    unsigned flags = force ? CLI_OVERWRITE : 0;
    int rc = cli_check_output(out, in, flags, err, sizeof err);
    if (!rc && cli_same_file(out, calib_dir)) {
        snprintf(err, sizeof err, "%s: is the calibration folder", out);
        rc = AEC_EXIT_DATA;
    }
    if (rc) {
        fprintf(stderr, "aec export: %s\n", err);
        return rc;
    }
    aec_model m;
    char *meta = NULL;
    if (load_for_export(in, average, &m, &meta, err, sizeof err)) {
        fprintf(stderr, "aec export: %s\n", err);
        return AEC_EXIT_DATA;
    }
    aec_dataset calib;
    if (aec_dataset_load(&calib, calib_dir, 1, err, sizeof err)) {
        fprintf(stderr, "aec export: %s\n", err);
        aec_model_free(&m);
        free(meta);
        return AEC_EXIT_DATA;
    }
    aec_codec c;
    uint8_t *bytes = NULL;
    size_t len;
    if (isatty(fileno(stderr)))   /* the calibration encodes images: a minute or so */
        fprintf(stderr, "aec export: calibrating on %d images of %s...\n",
                calib.count < AEC_CALIB_IMAGES ? calib.count : AEC_CALIB_IMAGES, calib_dir);
    int made = aec_codec_from_model(&c, &m, &calib, err, sizeof err) == 0;
    if (made && !decoder_only) {
        if (isatty(fileno(stderr)))
            fprintf(stderr, "aec export: domain-fit scores of %d images...\n",
                    calib.count < DOMAIN_FIT_CALIB_IMAGES ? calib.count : DOMAIN_FIT_CALIB_IMAGES);
        if (domain_fit_calibrate(&c, &calib, err, sizeof err)) {
            aec_codec_free(&c);
            made = 0;
        }
    }
    if (!made) {
        fprintf(stderr, "aec export: %s: %s\n", in, err);
        rc = AEC_EXIT_DATA;
    } else {
        /* through cli_write_output, which never replaces a file without -f */
        if (aec_codec_serialize(&c, decoder_only, meta, &bytes, &len)) {
            fprintf(stderr, "aec export: %s: out of memory\n", out);
            rc = AEC_EXIT_SYSTEM;
        } else if ((rc = cli_write_output(out, bytes, len, flags, 0666, err, sizeof err))) {
            fprintf(stderr, "aec export: %s\n", err);
        } else {
            char hex[2 * AEC_MODEL_ID_SIZE + 1];
            aec_model_id_hex(c.id, hex);
            printf("%s: model %s%s\n", out, hex, decoder_only ? " (decoder only)" : "");
        }
        free(bytes);
        aec_codec_free(&c);
    }
    aec_dataset_free(&calib);
    free(meta);
    return rc;
}

static void export_decoder_usage(FILE *f)
{
    fprintf(f,
            "usage: aec export-decoder [-m MODEL] -o FILE [--stub AECD] [-f]\n"
            "  Writes a standalone decoder for MODEL (default: the built-in one): the\n"
            "  prebuilt aecd next to this program (or --stub) with the model's decoder\n"
            "  half appended. FILE runs anywhere: FILE INPUT.aec [OUTPUT.png].\n");
}

int aec_cmd_export_decoder(int argc, char **argv)
{
    const char *model = NULL, *out = NULL, *stub = NULL;
    int force = 0;
    static const cli_option opts[] = {{"-m", 'm', CLI_VALUE}, {"-o", 'o', CLI_VALUE},
                                      {"--stub", 's', CLI_VALUE}, {"-f", 'f', 0}, {NULL, 0, 0}};
    cli_args args = cli_args_start(argc, argv, "aec export-decoder", stderr);
    for (int k; (k = cli_next_arg(&args, opts)) != CLI_END;) {
        switch (k) {
        case CLI_HELP: export_decoder_usage(stdout); return 0;
        case CLI_ERROR: return AEC_EXIT_USAGE;
        case CLI_OPERAND:
            fprintf(stderr, "aec export-decoder: unexpected argument '%s' (try aec export-decoder "
                    "--help)\n", args.arg);
            return AEC_EXIT_USAGE;
        case 'm': model = args.value; break;
        case 'o': out = args.value; break;
        case 's': stub = args.value; break;
        case 'f': force = 1; break;
        }
    }
    if (!out) {
        fprintf(stderr, "aec export-decoder: -o FILE is required\n");
        return AEC_EXIT_USAGE;
    }
    char err[1024], stub_path[4096];
    if (!stub) {
        /* the aecd installed beside this aec */
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "aec export-decoder: cannot find this program's folder; give --stub\n");
            return AEC_EXIT_USAGE;
        }
        self[n] = 0;
        snprintf(stub_path, sizeof stub_path, "%.4000s/aecd", dirname(self));
        stub = stub_path;
    }
    unsigned flags = force ? CLI_OVERWRITE : 0;
    int rc = cli_check_output(out, stub, flags, err, sizeof err);
    if (!rc && model && cli_same_file(out, model)) {
        snprintf(err, sizeof err, "%s: is the model file; not replacing it", out);
        rc = AEC_EXIT_DATA;
    }
    if (rc) {
        fprintf(stderr, "aec export-decoder: %s\n", err);
        return rc;
    }
    aec_codec c;
    if (cli_load_codec(&c, model, 1, err, sizeof err)) {
        fprintf(stderr, "aec export-decoder: %s\n", err);
        return strstr(err, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
    }
    size_t exe_len, model_len;
    uint8_t *exe = aec_read_file(stub, (size_t)1 << 30, &exe_len, err, sizeof err), *dec = NULL;
    if (!exe) {
        fprintf(stderr, "aec export-decoder: %s\n", err);
        rc = AEC_EXIT_DATA;
    } else if (aec_codec_serialize(&c, 1, NULL, &dec, &model_len)) {
        fprintf(stderr, "aec export-decoder: out of memory\n");
        rc = AEC_EXIT_SYSTEM;
    } else {
        const uint8_t *old;
        size_t old_len, code_len = cli_split_appended(exe, exe_len, &old, &old_len);
        size_t total = code_len + model_len + CLI_TRAILER_SIZE;
        uint8_t *file = malloc(total);
        if (!file) {
            fprintf(stderr, "aec export-decoder: out of memory\n");
            rc = AEC_EXIT_SYSTEM;
        } else {
            memcpy(file, exe, code_len);
            memcpy(file + code_len, dec, model_len);
            uint8_t *t = file + code_len + model_len;
            for (int i = 0; i < 8; i++) t[i] = (uint8_t)((uint64_t)model_len >> (8 * i));
            memcpy(t + 8, CLI_TRAILER_MAGIC, 8);
            if ((rc = cli_write_output(out, file, total, flags, 0777, err, sizeof err))) {
                fprintf(stderr, "aec export-decoder: %s\n", err);
            } else {
                char hex[2 * AEC_MODEL_ID_SIZE + 1];
                aec_model_id_hex(c.id, hex);
                printf("%s: standalone decoder for model %s, %zu bytes\n", out, hex, total);
            }
            free(file);
        }
    }
    free(dec);
    free(exe);
    aec_codec_free(&c);
    return rc;
}

int aec_cmd_info(int argc, char **argv)
{
    static const char info_usage[] = "usage: aec info FILE   (an .aec file or an .aecm model)\n";
    static const cli_option opts[] = {{NULL, 0, 0}};
    cli_args args = cli_args_start(argc, argv, "aec info", stderr);
    const char *path = NULL;
    int n = 0;
    for (int k; (k = cli_next_arg(&args, opts)) != CLI_END;) {
        if (k == CLI_HELP) {
            fputs(info_usage, stdout);
            return 0;
        }
        if (k == CLI_ERROR) return AEC_EXIT_USAGE;
        path = args.arg;
        n++;
    }
    if (n != 1) {
        fputs(info_usage, stderr);
        return AEC_EXIT_USAGE;
    }
    char err[1024];
    size_t len;
    uint8_t *buf = aec_read_file(path, (size_t)1 << 31, &len, err, sizeof err);
    if (!buf) {
        fprintf(stderr, "aec info: %s\n", err);
        return AEC_EXIT_DATA;
    }
    int rc = AEC_EXIT_OK;
    char hex[2 * AEC_MODEL_ID_SIZE + 1];
    if (len >= 4 && !memcmp(buf, "AECM", 4)) {
        aec_model m;
        char *meta = NULL;
        aec_chunk extra[AEC_MODEL_MAX_EXTRA];
        int n_extra = 0;
        if (aec_model_parse(buf, len, path, 0, &m, &meta, extra, &n_extra, err, sizeof err) &&
            aec_model_parse(buf, len, path, 1, &m, &meta, extra, &n_extra, err, sizeof err)) {
            fprintf(stderr, "aec info: %s\n", err);
            rc = AEC_EXIT_DATA;
        } else {
            printf("%s: aec model, %zu bytes\n", path, len);
            printf("  architecture: mean-scale hyperprior%s, N=%d M=%d, %d rate levels, lambda",
                   m.arch.context ? " with a checkerboard context model" : "", m.arch.n, m.arch.m,
                   m.arch.levels);
            for (int i = 0; i < m.arch.levels; i++) printf(" %g", m.arch.lambda[i]);
            printf("\n  parameters: %zu float%s\n", m.p.count, m.decoder_only ? " (decoder only)" : "");
            aec_codec c;
            if (aec_codec_parse(&c, buf, len, path, m.decoder_only, err, sizeof err) == 0) {
                aec_model_id_hex(c.id, hex);
                printf("  model id: %s\n", hex);
                if (c.fit_count)
                    printf("  domain fit: scores of %u training images, median %.3f; off the "
                           "domain above %.3f\n",
                           c.fit_count, domain_fit_quantile(&c, 50),
                           domain_fit_off_threshold(&c));
                aec_codec_free(&c);
            } else {
                printf("  not exported for coding (a training model or checkpoint)\n");
            }
            if (meta) {
                printf("  training:\n");
                for (char *line = strtok(meta, "\n"); line; line = strtok(NULL, "\n")) printf("    %s\n", line);
            }
            aec_model_free(&m);
        }
        free(meta);
    } else {
        aec_container con;
        if (aec_container_parse(buf, len, NULL, &con, err, sizeof err)) {
            fprintf(stderr, "aec info: %s: %s\n", path, err);
            rc = AEC_EXIT_DATA;
        } else {
            aec_model_id_hex(con.model_id, hex);
            printf("%s: aec image, %zu bytes, %ux%u RGB, quality %.2f, %.4f bpp\n", path, len,
                   con.width, con.height, con.quality_x100 / 100.0,
                   8.0 * (double)len / ((double)con.width * con.height));
            printf("  model id: %s\n", hex);
            for (uint32_t i = 0; i < con.n_streams; i++)
                printf("  stream %u: %zu bytes\n", i, con.stream_len[i]);
            printf("  header and checksum: %zu bytes\n", len - con.stream_len[0]);
        }
    }
    free(buf);
    return rc;
}
