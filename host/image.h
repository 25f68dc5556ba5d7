/* image.h — image decoding and Keras-identical preprocessing on the host.
 *
 * Decoding uses stb_image (PNG, JPEG, BMP, GIF first frame, ...) and converts every input to
 * 8-bit RGB the way Pillow's Image.convert("RGB") does: greyscale is replicated, alpha is
 * dropped without compositing, palettes are expanded. EXIF orientation is ignored (as load_img).
 *
 * Resizing reproduces Pillow bit for bit: NEAREST (keras.utils.load_img's default; pixel-centre
 * sampling with Pillow's accumulating double step) and BILINEAR (Pillow's antialiased,
 * separable, fixed-point filter: horizontal pass first, rounded to uint8, then vertical).
 *
 * Preprocessing follows keras.applications' preprocess_input in float32, operation by
 * operation (kernels/preprocess_math.h holds the per-pixel math shared with CUDA). */
#ifndef GM_IMAGE_H
#define GM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct gm_image {
    int width, height;
    uint8_t *rgb; /* width*height*3 bytes, row-major, RGB; owned */
} gm_image;

typedef enum gm_resize_mode {
    GM_RESIZE_NEAREST = 0, /* keras.utils.load_img default */
    GM_RESIZE_BILINEAR     /* load_img(interpolation="bilinear") */
} gm_resize_mode;

typedef enum gm_preprocess_mode {
    GM_PREPROCESS_NONE = 0, /* RGB pixels as float 0..255 */
    GM_PREPROCESS_CAFFE,    /* RGB->BGR, minus [103.939, 116.779, 123.68] (VGG, ResNet v1) */
    GM_PREPROCESS_TF,       /* x/127.5 - 1 */
    GM_PREPROCESS_TORCH     /* x/255, minus [0.485,0.456,0.406], over [0.229,0.224,0.225] */
} gm_preprocess_mode;

/* Decodes `path`. A missing file is GM_ERR_IO; undecodable bytes are GM_ERR_FORMAT with the
 * decoder's reason; images above 2^28 pixels are refused. Messages name the path. */
gm_status gm_image_load(const char *path, gm_image *out);
/* Decodes from memory (same rules); `label` names the source in messages. */
gm_status gm_image_decode(const uint8_t *bytes, size_t size, const char *label, gm_image *out);
void gm_image_free(gm_image *img); /* frees pixels, zeroes the struct */

/* Resizes into a newly allocated image. Same size: a copy (Pillow also skips the filter). */
gm_status gm_image_resize(const gm_image *src, int out_width, int out_height, gm_resize_mode mode,
                          gm_image *dst);

/* Converts width*height RGB bytes into float32 HWC3 with the given mode. */
void gm_image_preprocess(const uint8_t *rgb, size_t n_pixels, gm_preprocess_mode mode, float *out);

/* Load + resize + preprocess into `out` (target_h*target_w*3 floats), keeping the original
 * size for later overlays. */
gm_status gm_image_load_input(const char *path, int target_w, int target_h, gm_resize_mode resize,
                              gm_preprocess_mode mode, float *out, int *orig_w, int *orig_h);

/* A decoded image into the model's input: resized (when its size differs) and preprocessed into
 * `out` (target_h*target_w*3 floats); the image itself is left as is (kept for overlays). */
gm_status gm_image_to_input(const gm_image *img, int target_w, int target_h, gm_resize_mode resize,
                            gm_preprocess_mode mode, float *out);
const char *gm_preprocess_name(gm_preprocess_mode m);
gm_status gm_preprocess_parse(const char *text, gm_preprocess_mode *out); /* none|caffe|tf|torch */
const char *gm_resize_name(gm_resize_mode m);
gm_status gm_resize_parse(const char *text, gm_resize_mode *out); /* nearest|bilinear */

#endif
