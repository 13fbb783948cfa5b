/* tools/imageio/image_list.h - the image files under a folder, found the same way
 * by every command that takes folders (aec bench, aec score). */
#ifndef AEC_IMAGE_LIST_H
#define AEC_IMAGE_LIST_H

#include <stddef.h>

typedef struct {
    char **path;
    int n, cap;
} image_list;

/* Appends a copy of p; 0, or -1 when out of memory. */
int image_list_add(image_list *l, const char *p);
void image_list_free(image_list *l);

/* Appends every image file under dir, recursively: the names
 * aec_image_name_ok takes (*.png, *.jpg, *.jpeg, any case). Hidden files and
 * folders are skipped; the order is that of the names, folder by folder,
 * so results do not depend on the file system. 0, or -1 with err. */
int image_list_find(const char *dir, image_list *out, char *err, size_t errlen);

#endif
