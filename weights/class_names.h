/* class_names.h — class-name lists for predictions and messages: the bundled ImageNet list
 * (Keras's imagenet_class_index.json labels, embedded in the binary from
 * weights/data/imagenet_classes.txt) and user-supplied lists (text or JSON).
 *
 * Every list is a malloc'd array of `count` malloc'd NUL-terminated strings, index = class index;
 * release it with gm_class_names_free(). On failure *names is NULL and *count is 0.
 *
 * Accepted user formats (gm_class_names_load picks by the first non-blank character):
 *   text:  one name per line, in class order; blank lines are skipped, trailing "\r" (Windows line
 *          ends) and surrounding spaces/tabs are dropped, a UTF-8 byte-order mark is ignored.
 *   JSON:  a list of strings ["cat", "dog"], or Keras's class-index object
 *          {"0": ["n01440764", "tench"], ...} / {"0": "tench", ...} whose keys must be exactly
 *          0..N-1 (the label is the last element of a list value). */
#ifndef GM_CLASS_NAMES_H
#define GM_CLASS_NAMES_H

#include "../host/status.h"

/* The 1000 ImageNet classes in Keras's order, labels as Keras writes them ("great_white_shark"). */
gm_status gm_class_names_imagenet(char ***names, int *count);

/* Reads a labels file (text or JSON, see above). Errors name the file and, for syntax problems,
 * the line. Files over 64 MiB are refused. */
gm_status gm_class_names_load(const char *path, char ***names, int *count);

/* Parses a JSON list (or Keras class-index object) held in memory. */
gm_status gm_class_names_from_json(const char *json, char ***names, int *count);

/* Frees the strings and the array; nulls *names. Accepts a NULL or already-freed list. */
void gm_class_names_free(char ***names, int count);

#endif
