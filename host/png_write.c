/* png_write.c — gm_png_write (host/png_write.h): stb_image_write encodes the PNG in memory and hands
 * it to a callback that writes "<path>.tmp"; every write, flush and close is checked (a full disk often
 * shows only at fflush or fclose), then the temporary file is renamed over `path`. On any failure the
 * temporary file is removed. */
#include "png_write.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

/* Same bound as the image decoder (host/image.c); it also keeps stb's int byte counts from overflowing. */
#define GM_PNG_MAX_PIXELS ((size_t)1 << 28)

typedef struct png_sink {
    FILE *f;
    int err; /* first errno seen, 0 while all is well */
} png_sink;

/* stb_image_write calls this with the whole encoded PNG (possibly in several pieces). */
static void png_sink_write(void *context, void *data, int size) {
    png_sink *s = context;
    if (s->err || size <= 0) return;
    errno = 0;
    if (fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->err = errno ? errno : EIO;
}

gm_status gm_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels) {
    if (!path || !*path) return gm_error(GM_ERR_INVALID_ARG, "png: no output path");
    if (!pixels) return gm_error(GM_ERR_INVALID_ARG, "%s: no pixels to write", path);
    if (width <= 0 || height <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "%s: size %dx%d is not positive", path, width, height);
    if (channels != 1 && channels != 3)
        return gm_error(GM_ERR_INVALID_ARG, "%s: %d channels (PNG pictures are written with 1 or 3)", path, channels);
    if ((size_t)width * (size_t)height > GM_PNG_MAX_PIXELS)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: %dx%d is above the %zu-pixel limit", path, width, height,
                        GM_PNG_MAX_PIXELS);

    size_t len = strlen(path);
    char *tmp = malloc(len + 5);
    if (!tmp) return gm_error(GM_ERR_NOMEM, "%s: no memory", path);
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", 5);

    gm_status st = GM_OK;
    errno = 0;
    png_sink sink = {fopen(tmp, "wb"), 0};
    if (!sink.f) {
        st = gm_error(GM_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno ? errno : EIO));
        free(tmp);
        return st;
    }
    errno = 0;
    int ok = stbi_write_png_to_func(png_sink_write, &sink, width, height, channels, pixels, width * channels);
    if (!ok && !sink.err) {
        /* stb reports only "no": its one failure mode here is an allocation. */
        st = gm_error(GM_ERR_NOMEM, "%s: the PNG encoder ran out of memory", path);
    } else if (!sink.err && fflush(sink.f) != 0) {
        sink.err = errno ? errno : EIO;
    }
    if (fclose(sink.f) != 0 && !sink.err && st == GM_OK) sink.err = errno ? errno : EIO;
    if (st == GM_OK && sink.err) st = gm_error(GM_ERR_IO, "%s: cannot write %s: %s", path, tmp, strerror(sink.err));
    if (st == GM_OK && rename(tmp, path) != 0)
        st = gm_error(GM_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno ? errno : EIO));
    if (st != GM_OK) remove(tmp);
    free(tmp);
    return st;
}
