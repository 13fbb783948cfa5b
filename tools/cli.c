/* tools/cli.c - output files, inputs and models for the command-line tools. */
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/model_file.h"
#include "tools/imageio/png_io.h"
#include "tools/tools.h"

/* ---- removing a half-written output when the program is killed ----------- */

/* The temporary file being written, if any. One at a time per process: the
 * parallel coders are processes, not threads. */
static char pending_tmp[4200];
static volatile sig_atomic_t pending_armed;

static void remove_pending_and_die(int sig)
{
    if (pending_armed) unlink(pending_tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void arm_cleanup(const char *tmp)
{
    static int installed;
    if (!installed) {
        const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
            struct sigaction old, sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = remove_pending_and_die;
            sigemptyset(&sa.sa_mask);
            /* a signal ignored on purpose (nohup) stays ignored */
            if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
                sigaction(sigs[i], &sa, NULL);
        }
        installed = 1;
    }
    pending_armed = 0;
    snprintf(pending_tmp, sizeof pending_tmp, "%s", tmp);
    pending_armed = 1;
}

static void disarm_cleanup(void) { pending_armed = 0; }

/* ---- outputs ---------------------------------------------------------------- */

cli_args cli_args_start(int argc, char **argv, const char *cmd, FILE *say)
{
    cli_args a = {argc, argv, cmd, say, 1, 0, NULL, NULL};
    return a;
}

int cli_next_arg(cli_args *a, const cli_option *opts)
{
    for (;;) {
        a->arg = a->value = NULL;
        if (a->next >= a->argc) return CLI_END;
        const char *s = a->argv[a->next++];
        a->arg = s;
        if (a->operands || s[0] != '-' || !s[1]) return CLI_OPERAND;
        if (!strcmp(s, "--")) {
            a->operands = 1;
            continue;
        }
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) return CLI_HELP;
        for (const cli_option *o = opts; o->name; o++) {
            size_t n = strlen(o->name);
            if (strncmp(s, o->name, n)) continue;
            if (s[n] && !(o->value == CLI_GLUED && s[1] != '-')) continue;
            if (s[n]) {
                a->value = s + n;
            } else if (o->value) {
                if (a->next >= a->argc) {
                    fprintf(a->say, "%s: %s needs a value\n", a->cmd, s);
                    return CLI_ERROR;
                }
                a->value = a->argv[a->next++];
            }
            return o->id;
        }
        fprintf(a->say, "%s: unknown option '%s' (try %s --help)\n", a->cmd, s, a->cmd);
        return CLI_ERROR;
    }
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int cli_check_output(const char *path, const char *input, unsigned flags, char *err,
                     size_t errlen)
{
    if (strcmp(path, "-") == 0) {
        if (isatty(STDOUT_FILENO)) {
            snprintf(err, errlen, "stdout: is a terminal; not writing binary data to it "
                                  "(redirect it or give -o FILE)");
            return AEC_EXIT_USAGE;
        }
        return AEC_EXIT_OK;
    }
    struct stat st;
    if (lstat(path, &st) != 0) return AEC_EXIT_OK;
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a folder", path);
        return AEC_EXIT_DATA;
    }
    if (input && strcmp(input, "-") && cli_same_file(path, input)) {
        snprintf(err, errlen, "%s: is the input file; not replacing it", path);
        return AEC_EXIT_DATA;
    }
    if (!(flags & CLI_OVERWRITE)) {
        snprintf(err, errlen, "%s: already exists (use -f to overwrite)", path);
        return AEC_EXIT_DATA;
    }
    return AEC_EXIT_OK;
}

/* mkdir -p of the folder part of path; *first_created gets the length of
 * the prefix naming the topmost folder it created (0 when none), so that a
 * failure can take them away again. */
static int make_parent_dirs(const char *path, size_t *first_created)
{
    char buf[4200];
    *first_created = 0;
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) == 0) {
            if (!*first_created) *first_created = (size_t)(p - buf);
        } else if (errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return 0;
}

/* rmdir the folders make_parent_dirs created, deepest first */
static void remove_created_dirs(const char *path, size_t first_created)
{
    if (!first_created) return;
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    for (;;) {
        char *slash = strrchr(buf, '/');
        if (!slash || (size_t)(slash - buf) < first_created) break;
        *slash = 0;
        if (rmdir(buf) != 0) break;
    }
}

/* Makes a rename durable; best effort, as some file systems refuse it. */
static void sync_parent_dir(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* rename(tmp, path) that fails with EEXIST instead of replacing path.
 * renameat2 does it in one step where the file system supports it; else a
 * hard link (which never replaces) and an unlink; else, where neither
 * exists (some FUSE and network file systems), a check then a rename. */
static int rename_no_replace(const char *tmp, const char *path)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -1;
    if (link(tmp, path) == 0) {
        unlink(tmp);
        return 0;
    }
    if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP) return -1;
    struct stat st;
    if (lstat(path, &st) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(tmp, path);
}

static int write_stdout(const void *data, size_t len, char *err, size_t errlen)
{
    if (isatty(STDOUT_FILENO)) {
        snprintf(err, errlen, "stdout: is a terminal; not writing binary data to it "
                              "(redirect it or give -o FILE)");
        return AEC_EXIT_USAGE;
    }
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
        snprintf(err, errlen, "stdout: write failed: %s", strerror(errno));
        return AEC_EXIT_SYSTEM;
    }
    return AEC_EXIT_OK;
}

int cli_write_output(const char *path, const void *data, size_t len, unsigned flags, int mode,
                     char *err, size_t errlen)
{
    if (strcmp(path, "-") == 0) return write_stdout(data, len, err, errlen);
    struct stat st;
    if (!(flags & CLI_OVERWRITE) && lstat(path, &st) == 0) {
        snprintf(err, errlen, "%s: already exists (use -f to overwrite)", path);
        return AEC_EXIT_DATA;
    }
    size_t created = 0;
    if ((flags & CLI_MAKE_DIRS) && make_parent_dirs(path, &created)) {
        snprintf(err, errlen, "%s: cannot create its folder: %s", path, strerror(errno));
        return AEC_EXIT_SYSTEM;
    }
    /* PATH.tmp.PID, or PATH.tmp.PID.N if a crashed run left one behind */
    char tmp[4200];
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        int n = attempt ? snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%d", path, (long)getpid(), attempt)
                        : snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        if (n >= (int)sizeof tmp) {
            errno = ENAMETOOLONG;
            break;
        }
        arm_cleanup(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0) disarm_cleanup();
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        remove_created_dirs(path, created);
        return AEC_EXIT_SYSTEM;
    }
    const uint8_t *p = data;
    size_t left = len;
    int saved = 0;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            saved = n < 0 ? errno : ENOSPC;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!saved && fsync(fd) != 0) saved = errno;
    if (close(fd) != 0 && !saved) saved = errno;
    if (!saved) {
        int r = flags & CLI_OVERWRITE ? rename(tmp, path) : rename_no_replace(tmp, path);
        if (r != 0) saved = errno;
    }
    if (saved) {
        unlink(tmp);
        disarm_cleanup();
        remove_created_dirs(path, created);
        if (saved == EEXIST) {
            snprintf(err, errlen, "%s: already exists (use -f to overwrite)", path);
            return AEC_EXIT_DATA;
        }
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(saved));
        return AEC_EXIT_SYSTEM;
    }
    disarm_cleanup();
    sync_parent_dir(path);
    return AEC_EXIT_OK;
}

/* ---- inputs ----------------------------------------------------------------- */

uint8_t *cli_read_input(const char *path, size_t max_len, size_t *len, char *err, size_t errlen)
{
    if (strcmp(path, "-") != 0) return aec_read_file(path, max_len, len, err, errlen);
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *q = cap <= max_len + (1 << 16) ? realloc(buf, cap) : NULL;
            if (!q) {
                free(buf);
                snprintf(err, errlen, "stdin: %s", cap > max_len ? "input too large" : "out of memory");
                return NULL;
            }
            buf = q;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) break;
    }
    if (ferror(stdin)) {
        free(buf);
        snprintf(err, errlen, "stdin: read error");
        return NULL;
    }
    *len = n;
    return buf;
}

size_t cli_split_appended(const uint8_t *exe, size_t len, const uint8_t **model, size_t *model_len)
{
    *model = NULL;
    *model_len = 0;
    if (len < CLI_TRAILER_SIZE || memcmp(exe + len - 8, CLI_TRAILER_MAGIC, 8) != 0) return len;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | exe[len - 16 + i];
    if (n > len - CLI_TRAILER_SIZE) return len;
    *model = exe + len - CLI_TRAILER_SIZE - n;
    *model_len = (size_t)n;
    return len - CLI_TRAILER_SIZE - (size_t)n;
}

/* ---- decoding to a PNG file ------------------------------------------------- */

int aec_decode_to_png(const aec_codec *c, const char *in, const uint8_t *data, size_t len,
                      const char *out, unsigned flags, size_t *png_len, char *err, size_t errlen)
{
    int rc = cli_check_output(out, in, flags, err, errlen);
    if (rc) return rc;
    uint8_t *rgb;
    int w, h;
    char inner[512];
    if (aec_decode(c, data, len, &rgb, &w, &h, inner, sizeof inner)) {
        snprintf(err, errlen, "%s: %s", strcmp(in, "-") ? in : "stdin", inner);
        return strstr(inner, "out of memory") ? AEC_EXIT_SYSTEM : AEC_EXIT_DATA;
    }
    /* the PNG is made in memory so that it goes through cli_write_output,
     * which never replaces a file without -f */
    char *png = NULL;
    size_t png_size = 0;
    FILE *mem = open_memstream(&png, &png_size);
    if (!mem) {
        snprintf(err, errlen, "%s: out of memory", out);
        rc = AEC_EXIT_SYSTEM;
    } else {
        int bad = aec_png_write_file(mem, out, rgb, NULL, w, h, err, errlen);
        if (fclose(mem) != 0 && !bad) {
            snprintf(err, errlen, "%s: out of memory", out);
            bad = 1;
        }
        if (bad) rc = AEC_EXIT_SYSTEM;
        else rc = cli_write_output(out, png, png_size, flags, 0666, err, errlen);
        if (!rc && png_len) *png_len = png_size;
    }
    free(png);
    free(rgb);
    return rc;
}
