/* image_preprocess.c — gm_image_preprocess (8-bit RGB HWC -> float32 HWC3 in the model's channel
 * order) and the text names of the preprocessing and resize modes used on the command line.
 * The per-pixel math is kernels/preprocess_math.h, shared with CUDA, and reproduces Keras's
 * preprocess_input bit for bit. */
#include "image.h"

#include <string.h>

#include "kernels/preprocess_math.h"

/* preprocess_math.h dispatches on these numeric values. */
_Static_assert(GM_PREPROCESS_NONE == 0 && GM_PREPROCESS_CAFFE == 1 && GM_PREPROCESS_TF == 2 &&
                   GM_PREPROCESS_TORCH == 3,
               "kernels/preprocess_math.h's gm_preprocess_px expects none=0 caffe=1 tf=2 torch=3");

void gm_image_preprocess(const uint8_t *rgb, size_t n_pixels, gm_preprocess_mode mode, float *out) {
    if (!rgb || !out) return;
    /* Mode hoisted out of the loop so each body vectorises on its own. */
    switch (mode) {
    case GM_PREPROCESS_CAFFE:
        for (size_t i = 0; i < n_pixels; ++i) gm_preprocess_caffe_px(rgb + 3 * i, out + 3 * i);
        break;
    case GM_PREPROCESS_TF:
        for (size_t i = 0; i < n_pixels; ++i) gm_preprocess_tf_px(rgb + 3 * i, out + 3 * i);
        break;
    case GM_PREPROCESS_TORCH:
        for (size_t i = 0; i < n_pixels; ++i) gm_preprocess_torch_px(rgb + 3 * i, out + 3 * i);
        break;
    case GM_PREPROCESS_NONE:
    default:
        for (size_t i = 0; i < n_pixels; ++i) gm_preprocess_none_px(rgb + 3 * i, out + 3 * i);
        break;
    }
}

const char *gm_preprocess_name(gm_preprocess_mode m) {
    switch (m) {
    case GM_PREPROCESS_NONE: return "none";
    case GM_PREPROCESS_CAFFE: return "caffe";
    case GM_PREPROCESS_TF: return "tf";
    case GM_PREPROCESS_TORCH: return "torch";
    }
    return "unknown";
}

gm_status gm_preprocess_parse(const char *text, gm_preprocess_mode *out) {
    static const gm_preprocess_mode modes[] = {GM_PREPROCESS_NONE, GM_PREPROCESS_CAFFE, GM_PREPROCESS_TF,
                                               GM_PREPROCESS_TORCH};
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "gm_preprocess_parse: null output");
    for (size_t i = 0; text && i < sizeof modes / sizeof modes[0]; ++i) {
        if (strcmp(text, gm_preprocess_name(modes[i])) == 0) {
            *out = modes[i];
            return GM_OK;
        }
    }
    return gm_error(GM_ERR_INVALID_ARG, "unknown preprocessing '%s' (expected none, caffe, tf or torch)",
                    text ? text : "(null)");
}

const char *gm_resize_name(gm_resize_mode m) {
    switch (m) {
    case GM_RESIZE_NEAREST: return "nearest";
    case GM_RESIZE_BILINEAR: return "bilinear";
    }
    return "unknown";
}

gm_status gm_resize_parse(const char *text, gm_resize_mode *out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "gm_resize_parse: null output");
    if (text && strcmp(text, "nearest") == 0) {
        *out = GM_RESIZE_NEAREST;
        return GM_OK;
    }
    if (text && strcmp(text, "bilinear") == 0) {
        *out = GM_RESIZE_BILINEAR;
        return GM_OK;
    }
    return gm_error(GM_ERR_INVALID_ARG, "unknown interpolation '%s' (expected nearest or bilinear)",
                    text ? text : "(null)");
}
