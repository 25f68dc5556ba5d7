/* post_math.h — per-pixel math of explanation post-processing, shared by the host code
 * (explain/post*.c) and future CUDA kernels: map normalisation, bilinear sampling, colormap
 * lookup and overlay blending. Maps are float32, row-major H x W; pictures are RGB8, 3 bytes a pixel.
 *
 * Exactness. Each function repeats the reference library's float32 operations in the same order, so
 * that results are bit-identical under -ffp-contract=off (a fused multiply-add would change the last
 * bit; CUDA kernels must be built with --fmad=false or use __fmul_rn/__fadd_rn):
 *  - bilinear, OpenCV style: cv2.resize(INTER_LINEAR) on float32 as OpenCV's own C++ path computes it
 *    (resizeGeneric): source coordinate fx = (float)((d + 0.5) * scale - 0.5) with the double scale
 *    1/(dst/src); sx = floor(fx); fx -= sx in float. Horizontally, an out-of-range tap is replaced by
 *    the edge pixel with weight 0 / 1 (the fraction is zeroed); vertically, only the row indices are
 *    clamped and the weights (1 - fy, fy) stay (so an edge row is r0*(1-fy) + r0*fy, not r0). Rows are
 *    interpolated first: r = s0*a0 + s1*a1, then out = r0*b0 + r1*b1.
 *  - bilinear, TensorFlow style: tf.image.resize(method="bilinear"), half-pixel centres, antialias off:
 *    float scale = src/dst, in = (d + 0.5f) * scale - 0.5f, lo = max(floor(in), 0), hi = min(ceil(in),
 *    src - 1), lerp = in - floor(in); top = tl + (tr - tl) * lx, bottom likewise, top + (bottom - top) * ly.
 *  - colormap index, two rules: "trunc255" = uint8(255 * v) in float32 (the CAM seed's
 *    np.uint8(255 * heatmap) before cv2.applyColorMap), "floor256" = matplotlib's Colormap.__call__
 *    (int(v * 256), 1.0 -> 255, under/over -> the end colours). Both clamp out-of-range values to the
 *    ends (NumPy's uint8 cast would wrap) and send NaN to index 0.
 *  - blending: out = clamp(rint(img + alpha * heat), 0, 255) in double, round half to even, as
 *    np.clip(np.round(img + heat * alpha), 0, 255) with a uint8 heat and a Python float alpha. */
#ifndef GM_POST_MATH_H
#define GM_POST_MATH_H

#include <math.h>

#include "gm_hd.h"

/* ---- normalisation (per element; the per-map min / max come from the caller's reduction) ---- */

GM_HD static inline float gm_post_relu_value(float x) {
    return x > 0.0f ? x : 0.0f; /* NaN compares false: becomes 0 */
}

/* Brings a value into the map's finite range [lo, hi] so that +-Inf saturate. NaN is handled by the
 * callers (it becomes 0 in every normalisation). For finite x in range this is the identity, so the
 * reference's arithmetic is untouched. */
GM_HD static inline float gm_post_clamp_range(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* (x - lo) / range with range = hi - lo > 0 and finite: the saliency seed's float32 min-max. */
GM_HD static inline float gm_post_minmax_value(float x, float lo, float hi, float range) {
    if (x != x) return 0.0f;
    x = gm_post_clamp_range(x, lo, hi);
    return (x - lo) / range;
}

/* The same in double, for maps whose float32 range overflows (hi - lo = inf): a last resort where no
 * reference would give a finite answer. */
GM_HD static inline float gm_post_minmax_value_wide(float x, float lo, float hi) {
    if (x != x) return 0.0f;
    x = gm_post_clamp_range(x, lo, hi);
    return (float)(((double)x - (double)lo) / ((double)hi - (double)lo));
}

/* max(x, 0) / hi with hi > 0: the CAM seed and keras-io Grad-CAM. */
GM_HD static inline float gm_post_relu_max_value(float x, float lo, float hi) {
    if (x != x) return 0.0f;
    x = gm_post_clamp_range(x, lo, hi);
    return gm_post_relu_value(x) / hi;
}

/* pytorch-grad-cam's scale_cam_image under NumPy 2: (x - lo) / (1e-7f + max(x - lo)), where
 * max(x - lo) = hi - lo (float subtraction is monotonic) and 1e-7 is a weak Python scalar, so the
 * denominator is a float32 sum. */
GM_HD static inline float gm_post_pgc_denominator(float lo, float hi) {
    return 1e-7f + (hi - lo);
}

GM_HD static inline float gm_post_pgc_value(float x, float lo, float hi, float denom) {
    if (x != x) return 0.0f;
    x = gm_post_clamp_range(x, lo, hi);
    return (x - lo) / denom;
}

/* ---- bilinear sampling ---- */

/* The two source indices and weights of one output row or column. */
typedef struct gm_post_tap {
    int i0, i1;
    float w0, w1; /* OpenCV style: the two weights; TF style: w1 is the lerp fraction, w0 unused */
} gm_post_tap;

/* OpenCV style. `scale` = 1.0 / ((double)dst / src); `zero_edge` = 1 for the horizontal axis (OpenCV
 * replaces out-of-range taps by the edge pixel with weight 1), 0 for the vertical axis. */
GM_HD static inline gm_post_tap gm_post_tap_cv(int d, double scale, int n, int zero_edge) {
    gm_post_tap t;
    float f = (float)(((double)d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    if (zero_edge) {
        if (s < 0) {
            s = 0;
            f = 0.0f;
        }
        if (s >= n - 1) {
            s = n - 1;
            f = 0.0f;
        }
        t.i0 = s;
        t.i1 = s + 1 < n ? s + 1 : n - 1;
    } else {
        t.i0 = s < 0 ? 0 : (s > n - 1 ? n - 1 : s);
        t.i1 = s + 1 < 0 ? 0 : (s + 1 > n - 1 ? n - 1 : s + 1);
    }
    t.w0 = 1.0f - f;
    t.w1 = f;
    return t;
}

/* TensorFlow style (half-pixel centres). `scale` = (float)n / (float)dst. */
GM_HD static inline gm_post_tap gm_post_tap_tf(int d, float scale, int n) {
    gm_post_tap t;
    float in = ((float)d + 0.5f) * scale - 0.5f;
    float in_f = floorf(in);
    int lo = (int)in_f;
    int hi = (int)ceilf(in);
    t.i0 = lo > 0 ? lo : 0;
    t.i1 = hi < n - 1 ? hi : n - 1;
    t.w1 = in - in_f;
    t.w0 = 0.0f;
    return t;
}

/* One output value from the four source values s[row][col] picked by the taps. */
GM_HD static inline float gm_post_bilinear_cv(float s00, float s01, float s10, float s11, gm_post_tap x,
                                              gm_post_tap y) {
    float r0 = s00 * x.w0 + s01 * x.w1;
    float r1 = s10 * x.w0 + s11 * x.w1;
    return r0 * y.w0 + r1 * y.w1;
}

GM_HD static inline float gm_post_bilinear_tf(float s00, float s01, float s10, float s11, gm_post_tap x,
                                              gm_post_tap y) {
    float top = s00 + (s01 - s00) * x.w1;
    float bottom = s10 + (s11 - s10) * x.w1;
    return top + (bottom - top) * y.w1;
}

/* Samples a row-major map at output pixel (taps x, y); `tf_style` picks the formula. */
GM_HD static inline float gm_post_sample(const float *src, int src_w, gm_post_tap x, gm_post_tap y, int tf_style) {
    const float *r0 = src + (long long)y.i0 * src_w;
    const float *r1 = src + (long long)y.i1 * src_w;
    return tf_style ? gm_post_bilinear_tf(r0[x.i0], r0[x.i1], r1[x.i0], r1[x.i1], x, y)
                    : gm_post_bilinear_cv(r0[x.i0], r0[x.i1], r1[x.i0], r1[x.i1], x, y);
}

/* ---- colormaps ---- */

/* uint8(255 * v) with float32 multiplication and truncation, clamped; NaN -> 0. */
GM_HD static inline int gm_post_index_trunc255(float v) {
    if (!(v > 0.0f)) return 0;
    float s = 255.0f * v;
    return s >= 255.0f ? 255 : (int)s;
}

/* matplotlib: int(v * 256) (exact in float32), v >= 1 -> 255, v < 0 -> 0; NaN -> 0. */
GM_HD static inline int gm_post_index_floor256(float v) {
    if (!(v > 0.0f)) return 0;
    float s = v * 256.0f;
    return s >= 255.0f ? 255 : (int)s;
}

/* Colours one value with a 256-entry RGB table; `floor256` selects matplotlib's index rule. */
GM_HD static inline void gm_post_colormap_px(const unsigned char *lut, int floor256, float v, unsigned char *rgb) {
    int i = floor256 ? gm_post_index_floor256(v) : gm_post_index_trunc255(v);
    rgb[0] = lut[3 * i];
    rgb[1] = lut[3 * i + 1];
    rgb[2] = lut[3 * i + 2];
}

/* ---- overlay ---- */

GM_HD static inline unsigned char gm_post_blend_value(unsigned char img, unsigned char heat, double alpha) {
    double t = rint((double)img + alpha * (double)heat);
    return (unsigned char)(t < 0.0 ? 0.0 : (t > 255.0 ? 255.0 : t));
}

GM_HD static inline void gm_post_blend_px(const unsigned char *img, const unsigned char *heat, double alpha,
                                          unsigned char *out) {
    out[0] = gm_post_blend_value(img[0], heat[0], alpha);
    out[1] = gm_post_blend_value(img[1], heat[1], alpha);
    out[2] = gm_post_blend_value(img[2], heat[2], alpha);
}

#endif
