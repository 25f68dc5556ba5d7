/* image.c — reading and decoding images into 8-bit RGB (see image.h), and the one-call
 * load + resize + preprocess used by the batch loader.
 *
 * Decoding is stb_image's (host/stb_image_impl.c compiles it; this file sees declarations only).
 * The result must equal what keras.utils.load_img gets from Pillow after convert("RGB"):
 *   - grey (L, 1/2/4-bit) is replicated to R=G=B; stb scales low bit depths by 0xff/0x55/0x11 as
 *     Pillow's L;1/L;2/L;4 unpackers do;
 *   - alpha (LA, RGBA, palette tRNS) is dropped without compositing: stb's 4->3 conversion keeps
 *     the colour channels untouched;
 *   - palettes are expanded (Pillow converts P->RGB by lookup, transparency ignored);
 *   - 16-bit PNGs: Pillow opens RGB/RGBA/LA 16-bit through the ";16B" raw modes, keeping the HIGH
 *     byte (= stb's v>>8), but 16-bit greyscale opens as mode I;16 and convert("RGB") CLAMPS each
 *     value to 255 (1000 -> 255, not 1000>>8 = 3). We reproduce that by decoding 16-bit grey PNGs
 *     at 16 bits and clamping;
 *   - GIF: the first frame. Pillow keeps frame 0 in P mode, so a GIF whose first frame has a
 *     transparent index gets that palette entry's colour from Pillow, while stb writes the
 *     background colour (or black) there: a documented difference for transparent GIFs only;
 *   - JPEG: stb's IDCT, chroma upsampling and YCbCr conversion are not libjpeg's, so pixels
 *     differ by a few levels from Pillow (measured in tests/unit/test_image.c). CMYK JPEGs are
 *     converted by stb's own formula, not Pillow's; 16-bit PNM/PSD are not clamped as Pillow
 *     would (stb's v>>8). EXIF orientation is ignored, as load_img does.
 * Pixel buffers returned by stb come from malloc (stb_image_impl.c keeps stb's default
 * allocator), so every gm_image is released with free(). */
#include "image.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "image_internal.h"

/* PNG's 8-byte signature: the 16-bit grey clamp applies to PNG only (see the header comment). */
static int gm_image_is_png(const uint8_t *bytes, size_t size) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    return size >= sizeof sig && memcmp(bytes, sig, sizeof sig) == 0;
}

static gm_status gm_image_stb_failure(const char *label) {
    const char *reason = stbi_failure_reason();
    if (reason && strcmp(reason, "outofmem") == 0)
        return gm_error(GM_ERR_NOMEM, "%s: out of memory while decoding", label);
    return gm_error(GM_ERR_FORMAT, "%s: not a decodable image (%s)", label, reason ? reason : "unknown reason");
}

/* 16-bit greyscale PNG, Pillow's way: I;16 -> RGB clamps every value to 0..255. */
static gm_status gm_image_decode_grey16(const uint8_t *bytes, int len, const char *label, int w, int h,
                                        gm_image *out) {
    int w16 = 0, h16 = 0, comp = 0;
    uint16_t *wide = stbi_load_16_from_memory(bytes, len, &w16, &h16, &comp, 3);
    if (!wide) return gm_image_stb_failure(label);
    if (w16 != w || h16 != h) {
        stbi_image_free(wide);
        return gm_error(GM_ERR_FORMAT, "%s: header says %dx%d, pixels decode as %dx%d", label, w, h, w16, h16);
    }
    size_t n = (size_t)w * (size_t)h * 3;
    uint8_t *rgb = malloc(n);
    if (!rgb) {
        stbi_image_free(wide);
        return gm_error(GM_ERR_NOMEM, "%s: cannot allocate %zu bytes for %dx%d RGB", label, n, w, h);
    }
    for (size_t i = 0; i < n; ++i) rgb[i] = wide[i] > 255 ? 255 : (uint8_t)wide[i];
    stbi_image_free(wide);
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    return GM_OK;
}

gm_status gm_image_decode(const uint8_t *bytes, size_t size, const char *label, gm_image *out) {
    if (!label) label = "<memory>";
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "%s: gm_image_decode: null output image", label);
    memset(out, 0, sizeof *out);
    if (!bytes && size > 0) return gm_error(GM_ERR_INVALID_ARG, "%s: gm_image_decode: null bytes", label);
    if (size == 0) return gm_error(GM_ERR_FORMAT, "%s: not a decodable image (empty file)", label);
    if (size > (size_t)INT_MAX)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: %zu bytes is more than the decoder accepts (%d)", label, size,
                        INT_MAX);
    int len = (int)size;

    /* Header first: refuse huge images before stb allocates for them. */
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(bytes, len, &w, &h, &comp)) return gm_image_stb_failure(label);
    if (w <= 0 || h <= 0) return gm_error(GM_ERR_FORMAT, "%s: not a decodable image (size %dx%d)", label, w, h);
    if ((int64_t)w * (int64_t)h > GM_IMAGE_MAX_PIXELS)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: %dx%d pixels is more than the %lld gradmap accepts", label, w, h,
                        (long long)GM_IMAGE_MAX_PIXELS);

    if (comp == 1 && gm_image_is_png(bytes, size) && stbi_is_16_bit_from_memory(bytes, len))
        return gm_image_decode_grey16(bytes, len, label, w, h, out);

    int wd = 0, hd = 0, cd = 0;
    uint8_t *rgb = stbi_load_from_memory(bytes, len, &wd, &hd, &cd, 3);
    if (!rgb) return gm_image_stb_failure(label);
    if (wd != w || hd != h) {
        stbi_image_free(rgb);
        return gm_error(GM_ERR_FORMAT, "%s: header says %dx%d, pixels decode as %dx%d", label, w, h, wd, hd);
    }
    out->width = w;
    out->height = h;
    out->rgb = rgb;
    return GM_OK;
}

/* Reads a whole file into a malloc'd buffer, at most GM_IMAGE_MAX_FILE_BYTES. Reads in growing
 * chunks rather than trusting ftell, so pipes and /dev/stdin-like paths work too. */
static gm_status gm_image_read_file(const char *path, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return gm_error(GM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 0, len = 0;
    uint8_t *buf = NULL;
    gm_status st = GM_OK;
    for (;;) {
        if (len == cap) {
            if (cap == GM_IMAGE_MAX_FILE_BYTES) {
                /* Full at the limit: fine only if the file ends exactly here. */
                if (fgetc(f) == EOF && !ferror(f)) break;
                st = gm_error(GM_ERR_UNSUPPORTED, "%s: larger than %zu bytes, not read as an image", path,
                              GM_IMAGE_MAX_FILE_BYTES);
                break;
            }
            size_t new_cap = cap ? cap * 2 : (size_t)1 << 16;
            if (new_cap > GM_IMAGE_MAX_FILE_BYTES) new_cap = GM_IMAGE_MAX_FILE_BYTES;
            uint8_t *grown = realloc(buf, new_cap);
            if (!grown) {
                st = gm_error(GM_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, new_cap);
                break;
            }
            buf = grown;
            cap = new_cap;
        }
        size_t want = cap - len;
        size_t got = fread(buf + len, 1, want, f);
        len += got;
        if (got < want) { /* end of file or a read error (a directory gives EISDIR here) */
            if (ferror(f)) st = gm_error(GM_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st != GM_OK) {
        free(buf);
        return st;
    }
    *data = buf;
    *size = len;
    return GM_OK;
}

gm_status gm_image_load(const char *path, gm_image *out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "gm_image_load: null output image");
    memset(out, 0, sizeof *out);
    if (!path) return gm_error(GM_ERR_INVALID_ARG, "gm_image_load: null path");
    uint8_t *data = NULL;
    size_t size = 0;
    GM_TRY(gm_image_read_file(path, &data, &size));
    gm_status st = gm_image_decode(data, size, path, out);
    free(data);
    return st;
}

void gm_image_free(gm_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = 0;
    img->height = 0;
}

gm_status gm_image_load_input(const char *path, int target_w, int target_h, gm_resize_mode resize,
                              gm_preprocess_mode mode, float *out, int *orig_w, int *orig_h) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "%s: gm_image_load_input: null output", path ? path : "?");
    if (target_w <= 0 || target_h <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "%s: target size %dx%d must be positive", path ? path : "?", target_w,
                        target_h);
    gm_image img = {0};
    GM_TRY(gm_image_load(path, &img));
    if (orig_w) *orig_w = img.width;
    if (orig_h) *orig_h = img.height;
    gm_status st = gm_image_to_input(&img, target_w, target_h, resize, mode, out);
    gm_image_free(&img);
    return st == GM_OK ? GM_OK : gm_error_context(st, "%s: ", path);
}

gm_status gm_image_to_input(const gm_image *img, int target_w, int target_h, gm_resize_mode resize,
                            gm_preprocess_mode mode, float *out) {
    gm_image sized = {0};
    const gm_image *src = img;
    if (img->width != target_w || img->height != target_h) {
        GM_TRY(gm_image_resize(img, target_w, target_h, resize, &sized));
        src = &sized;
    }
    gm_image_preprocess(src->rgb, (size_t)target_w * (size_t)target_h, mode, out);
    gm_image_free(&sized);
    return GM_OK;
}
