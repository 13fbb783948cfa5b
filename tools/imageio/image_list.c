/* tools/imageio/image_list.c - the image files under a folder (image_list.h). */
#include "tools/imageio/image_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/imageio/image_io.h"

int image_list_add(image_list *l, const char *p)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **a = realloc(l->path, (size_t)cap * sizeof *a);
        if (!a) return -1;
        l->path = a;
        l->cap = cap;
    }
    if (!(l->path[l->n] = strdup(p))) return -1;
    l->n++;
    return 0;
}

void image_list_free(image_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->path[i]);
    free(l->path);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int image_list_find(const char *dir, image_list *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open folder: %s", dir, strerror(errno));
        return -1;
    }
    image_list names = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && image_list_add(&names, e->d_name)) {
            rc = -1;
            snprintf(err, errlen, "out of memory");
            break;
        }
    closedir(d);
    if (names.n) qsort(names.path, (size_t)names.n, sizeof *names.path, by_name);
    for (int i = 0; i < names.n && !rc; i++) {
        char path[4096];
        size_t dl = strlen(dir);
        const char *sep = dl && dir[dl - 1] == '/' ? "" : "/"; /* "dir/" gives no "dir//a" */
        if (snprintf(path, sizeof path, "%s%s%s", dir, sep, names.path[i]) >= (int)sizeof path) {
            snprintf(err, errlen, "%.300s/%.300s: path too long", dir, names.path[i]);
            rc = -1;
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) continue; /* a dangling link */
        if (S_ISDIR(st.st_mode)) rc = image_list_find(path, out, err, errlen);
        else if (aec_image_name_ok(names.path[i]) && image_list_add(out, path)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    image_list_free(&names);
    return rc;
}
