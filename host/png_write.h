/* png_write.h — writes 8-bit PNG pictures (heatmaps, overlays) with stb_image_write's encoder.
 * Pixels are row-major, `channels` bytes a pixel: 1 = grey, 3 = RGB.
 *
 * The file appears whole or not at all: the PNG is written to "<path>.tmp", flushed and closed, then
 * rename()d over `path`, so a process killed mid-write leaves at most a stray .tmp and never a
 * truncated PNG under the final name (an existing file at `path` survives any failure). There is no
 * fsync: a crash of the whole machine may still lose recent pictures, but one flush per picture would
 * dominate the time of writing thousands of them. */
#ifndef GM_PNG_WRITE_H
#define GM_PNG_WRITE_H

#include <stdint.h>

#include "status.h"

/* GM_ERR_INVALID_ARG for a null path or pixels, a non-positive size or channels not 1 or 3;
 * GM_ERR_UNSUPPORTED above 2^28 pixels; GM_ERR_IO (message: the path and strerror) when the file
 * cannot be created, written (full disk, file size limit), closed or renamed; GM_ERR_NOMEM when the
 * encoder runs out of memory. */
gm_status gm_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels);

#endif
