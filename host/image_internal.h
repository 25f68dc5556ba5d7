/* image_internal.h — limits shared by the image module's files (image.c, image_resize.c,
 * image_preprocess.c); not part of the public API. */
#ifndef GM_IMAGE_INTERNAL_H
#define GM_IMAGE_INTERNAL_H

#include <stdint.h>

/* Largest image gradmap decodes or produces: 2^28 pixels is 768 MiB of RGB, far above any
 * classifier input, and keeps every byte offset (pixels*3) well inside size_t and int64. */
#define GM_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

/* Largest file gm_image_load reads: stb_image takes the length as an int. */
#define GM_IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

#endif
