/* tests/stderr_capture.h - counts what a call prints to stderr, for the
 * tests that check a library reads bad files without printing (test_png,
 * test_jpeg). Header-only: each test file links on its own.
 *
 *   stderr_capture cap;
 *   stderr_capture_begin(&cap, dir);
 *   rc = call();
 *   long printed = stderr_capture_end(&cap);   // bytes, -1 if unknown */
#ifndef TESTS_STDERR_CAPTURE_H
#define TESTS_STDERR_CAPTURE_H

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char path[512];
    int saved, fd;
} stderr_capture;

/* stderr goes to dir/stderr.txt until stderr_capture_end */
static inline void stderr_capture_begin(stderr_capture *c, const char *dir)
{
    snprintf(c->path, sizeof c->path, "%s/stderr.txt", dir);
    fflush(stderr);
    c->saved = dup(2);
    c->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (c->saved >= 0 && c->fd >= 0) dup2(c->fd, 2);
}

/* stderr back; the bytes printed meanwhile */
static inline long stderr_capture_end(stderr_capture *c)
{
    fflush(stderr);
    if (c->saved >= 0) {
        dup2(c->saved, 2);
        close(c->saved);
    }
    if (c->fd >= 0) close(c->fd);
    struct stat st;
    long printed = stat(c->path, &st) == 0 ? (long)st.st_size : -1;
    unlink(c->path);
    return printed;
}

#endif
