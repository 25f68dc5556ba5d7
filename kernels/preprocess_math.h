/* preprocess_math.h — per-pixel input preprocessing shared by the host loader (host/image.c) and
 * CUDA kernels: one 8-bit RGB pixel in, three float32 values out, in the channel order the model
 * expects (BGR for caffe, RGB otherwise).
 *
 * Every mode reproduces keras.applications.imagenet_utils.preprocess_input on a float32 NumPy
 * array operation by operation, each a single correctly rounded float32 operation, so results
 * are bit-identical to Keras (build with -ffp-contract=off so no multiply-add gets fused):
 *   caffe: x = x[..., ::-1]; x[...,c] -= mean[c]      mean = [103.939, 116.779, 123.68] (B,G,R)
 *   tf:    x /= 127.5; x -= 1.0                        (two roundings, not x*(1/127.5)-1)
 *   torch: x /= 255.0; x[...,c] -= mean[c]; x[...,c] /= std[c]
 *          mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] (R,G,B)
 * NumPy applies the Python-float constants as float32 (NEP 50 weak scalars), hence the `f`
 * suffixes: a double constant here would change the last bit. */
#ifndef GM_PREPROCESS_MATH_H
#define GM_PREPROCESS_MATH_H

#include "gm_hd.h"

/* Raw pixel values as float: preprocess "none" (img_to_array). */
GM_HD static inline void gm_preprocess_none_px(const unsigned char *rgb, float *out) {
    out[0] = (float)rgb[0];
    out[1] = (float)rgb[1];
    out[2] = (float)rgb[2];
}

/* caffe: channel swap first, then the BGR means subtracted from channels 0,1,2. */
GM_HD static inline void gm_preprocess_caffe_px(const unsigned char *rgb, float *out) {
    out[0] = (float)rgb[2] - 103.939f;
    out[1] = (float)rgb[1] - 116.779f;
    out[2] = (float)rgb[0] - 123.68f;
}

GM_HD static inline float gm_preprocess_tf_value(float x) {
    float scaled = x / 127.5f;
    return scaled - 1.0f;
}

GM_HD static inline void gm_preprocess_tf_px(const unsigned char *rgb, float *out) {
    out[0] = gm_preprocess_tf_value((float)rgb[0]);
    out[1] = gm_preprocess_tf_value((float)rgb[1]);
    out[2] = gm_preprocess_tf_value((float)rgb[2]);
}

GM_HD static inline float gm_preprocess_torch_value(float x, float mean, float std) {
    float unit = x / 255.0f;
    float centred = unit - mean;
    return centred / std;
}

GM_HD static inline void gm_preprocess_torch_px(const unsigned char *rgb, float *out) {
    out[0] = gm_preprocess_torch_value((float)rgb[0], 0.485f, 0.229f);
    out[1] = gm_preprocess_torch_value((float)rgb[1], 0.456f, 0.224f);
    out[2] = gm_preprocess_torch_value((float)rgb[2], 0.406f, 0.225f);
}

/* Dispatch on gm_preprocess_mode's numeric value (host/image.h: 0 none, 1 caffe, 2 tf, 3 torch;
 * host/image.c asserts the correspondence at compile time). Unknown values act as "none". */
GM_HD static inline void gm_preprocess_px(int mode, const unsigned char *rgb, float *out) {
    switch (mode) {
    case 1: gm_preprocess_caffe_px(rgb, out); break;
    case 2: gm_preprocess_tf_px(rgb, out); break;
    case 3: gm_preprocess_torch_px(rgb, out); break;
    default: gm_preprocess_none_px(rgb, out); break;
    }
}

#endif
