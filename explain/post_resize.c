/* post_resize.c — bilinear resizing of float32 maps (row-major H x W, batches back to back) in
 * OpenCV's or TensorFlow's float32 arithmetic (explain/post.h; the formulas are in
 * kernels/post_math.h), and the sampling grid shared with the heatmap and overlay pictures. */
#include "post_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

gm_status gm_post_check_size(const char *what, int h, int w) {
    if (h <= 0 || w <= 0) return gm_error(GM_ERR_INVALID_ARG, "%s: size %dx%d is not positive", what, h, w);
    if ((size_t)h * (size_t)w > GM_POST_MAX_PIXELS)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: %dx%d is above the %zu-pixel limit", what, h, w, GM_POST_MAX_PIXELS);
    return GM_OK;
}

gm_status gm_post_grid_make(int src_h, int src_w, int dst_h, int dst_w, gm_post_bilinear style, gm_post_grid *g) {
    memset(g, 0, sizeof *g);
    if (style != GM_BILINEAR_CV2 && style != GM_BILINEAR_TF)
        return gm_error(GM_ERR_INVALID_ARG, "resize: unknown bilinear style %d", (int)style);
    g->x = malloc((size_t)dst_w * sizeof *g->x);
    if (!g->x) return gm_error(GM_ERR_NOMEM, "resize: no memory for %d column taps", dst_w);
    g->tf_style = style == GM_BILINEAR_TF;
    g->src_h = src_h;
    g->src_w = src_w;
    g->dst_h = dst_h;
    g->dst_w = dst_w;
    /* OpenCV stores inv_scale = dst/src and samples with its reciprocal; TF divides in float. */
    double cv_scale_x = 1.0 / ((double)dst_w / (double)src_w);
    float tf_scale_x = (float)src_w / (float)dst_w;
    g->cv_scale_y = 1.0 / ((double)dst_h / (double)src_h);
    g->tf_scale_y = (float)src_h / (float)dst_h;
    for (int x = 0; x < dst_w; ++x)
        g->x[x] = g->tf_style ? gm_post_tap_tf(x, tf_scale_x, src_w) : gm_post_tap_cv(x, cv_scale_x, src_w, 1);
    return GM_OK;
}

void gm_post_grid_free(gm_post_grid *g) {
    if (!g) return;
    free(g->x);
    g->x = NULL;
}

/* One map through a ready grid. */
static void resize_one(const gm_post_grid *g, const float *src, float *dst) {
    int h = g->dst_h, w = g->dst_w;
#pragma omp parallel for schedule(static) if ((size_t)h * (size_t)w >= GM_POST_PARALLEL_MIN_PIXELS)
    for (int y = 0; y < h; ++y) {
        gm_post_tap ty = gm_post_grid_row(g, y);
        float *out = dst + (size_t)y * (size_t)w;
        for (int x = 0; x < w; ++x)
            out[x] = gm_post_sample(src, g->src_w, g->x[x], ty, g->tf_style);
    }
}

gm_status gm_post_resize(const float *src, int src_h, int src_w, float *dst, int dst_h, int dst_w,
                         gm_post_bilinear style) {
    return gm_post_resize_batch(src, 1, src_h, src_w, dst, dst_h, dst_w, style);
}

gm_status gm_post_resize_batch(const float *src, size_t count, int src_h, int src_w, float *dst, int dst_h, int dst_w,
                               gm_post_bilinear style) {
    GM_TRY(gm_post_check_size("resize source", src_h, src_w));
    GM_TRY(gm_post_check_size("resize destination", dst_h, dst_w));
    if (style != GM_BILINEAR_CV2 && style != GM_BILINEAR_TF)
        return gm_error(GM_ERR_INVALID_ARG, "resize: unknown bilinear style %d", (int)style);
    if (count == 0) return GM_OK;
    if (!src || !dst) return gm_error(GM_ERR_INVALID_ARG, "resize: null map");
    size_t src_n = (size_t)src_h * (size_t)src_w, dst_n = (size_t)dst_h * (size_t)dst_w;
    size_t biggest = src_n > dst_n ? src_n : dst_n;
    if (count > ((size_t)-1 / sizeof(float)) / biggest)
        return gm_error(GM_ERR_INVALID_ARG, "resize: %zu maps of %zu values overflow", count, biggest);
    if (src_h == dst_h && src_w == dst_w) { /* as cv2.resize: an exact copy (also NaN-safe) */
        memmove(dst, src, count * src_n * sizeof(float));
        return GM_OK;
    }
    gm_post_grid g;
    GM_TRY(gm_post_grid_make(src_h, src_w, dst_h, dst_w, style, &g));
    for (size_t m = 0; m < count; ++m)
        resize_one(&g, src + m * src_n, dst + m * dst_n);
    gm_post_grid_free(&g);
    return GM_OK;
}
