/* image_resize.c — gm_image_resize: Pillow's Image.resize for 8-bit RGB, bit for bit, as
 * keras.utils.load_img calls it. Images are row-major HWC3 uint8.
 *
 * NEAREST (Pillow's ImagingScaleAffine): per axis the step a = in/out is a double (the size goes
 * through float first, as Pillow's box is float[4]); the source coordinate starts at a*0.5 and
 * is ADVANCED by repeated addition, src = (int)coord. That is floor((x+0.5)*in/out) except where
 * the accumulated rounding error crosses an integer, so we accumulate exactly as Pillow does.
 *
 * BILINEAR (Pillow's Resample.c, ImagingResample with the triangle filter, support 1): separable,
 * two passes, each rounded and clamped to uint8. The horizontal pass goes first unless the height
 * shrinks by more than twice as many pixels as the width (Pillow 13's rule; Pillow <= 11.0
 * always went horizontal first, so with an old Pillow those cases can differ by one level).
 * Per axis, scale = in/out and fs = max(scale, 1) widen the filter when shrinking
 * (antialiasing). For output index i:
 *   centre = (i+0.5)*scale, taps [xmin, xmax) with xmin = max((int)(centre-fs+0.5), 0),
 *   xmax = min((int)(centre+fs+0.5), in); weight(x) = max(0, 1-|(x-centre+0.5)/fs|) normalised
 *   to sum 1, then converted to 22-bit fixed point (int)(w*2^22 +- 0.5). A pixel accumulates
 *   from 1<<21 (rounding), and the result is acc>>22 clamped to 0..255. An axis whose size does
 *   not change is not filtered at all. Pillow accumulates in int32; we use int64, which gives
 *   the same numbers whenever Pillow's sum does not overflow (always, for these weights).
 * Same size on both axes: a plain copy (Pillow's resize returns self.copy()). */
#include "image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

#define GM_RESAMPLE_BITS 22 /* Pillow's PRECISION_BITS = 32 - 8 - 2 */

/* ---- NEAREST ---- */

/* Source index per output index along one axis, -1 where Pillow would leave the fill (0). */
static void gm_nearest_table(int in_size, int out_size, int *src) {
    double a = (double)(float)in_size / out_size;
    double coord = a * 0.5;
    for (int i = 0; i < out_size; ++i) {
        int s = coord < 0.0 ? -1 : (int)coord;
        src[i] = (s >= 0 && s < in_size) ? s : -1;
        coord += a;
    }
}

static gm_status gm_resize_nearest(const gm_image *src, gm_image *dst) {
    int *xs = malloc(sizeof(int) * (size_t)dst->width);
    int *ys = malloc(sizeof(int) * (size_t)dst->height);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return gm_error(GM_ERR_NOMEM, "image_resize: cannot allocate nearest tables for %dx%d", dst->width,
                        dst->height);
    }
    gm_nearest_table(src->width, dst->width, xs);
    gm_nearest_table(src->height, dst->height, ys);
    for (int y = 0; y < dst->height; ++y) {
        uint8_t *out = dst->rgb + (size_t)y * (size_t)dst->width * 3;
        if (ys[y] < 0) {
            memset(out, 0, (size_t)dst->width * 3);
            continue;
        }
        const uint8_t *in = src->rgb + (size_t)ys[y] * (size_t)src->width * 3;
        for (int x = 0; x < dst->width; ++x) {
            if (xs[x] < 0) {
                out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = 0;
                continue;
            }
            const uint8_t *p = in + (size_t)xs[x] * 3;
            out[3 * x] = p[0];
            out[3 * x + 1] = p[1];
            out[3 * x + 2] = p[2];
        }
    }
    free(xs);
    free(ys);
    return GM_OK;
}

/* ---- BILINEAR ---- */

/* Fixed-point taps of one axis: output i reads `count[i]` inputs from `first[i]` with weights
 * weights[i*ksize ...]. */
typedef struct gm_resample_axis {
    int ksize;
    int *first, *count;
    int32_t *weights;
} gm_resample_axis;

static void gm_resample_axis_free(gm_resample_axis *ax) {
    free(ax->first);
    free(ax->count);
    free(ax->weights);
    ax->first = ax->count = NULL;
    ax->weights = NULL;
}

static double gm_triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for the triangle filter (support 1.0). */
static gm_status gm_resample_axis_init(int in_size, int out_size, gm_resample_axis *ax) {
    memset(ax, 0, sizeof *ax);
    double scale = (double)(float)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    double ksize_d = ceil(support) * 2.0 + 1.0;
    if (ksize_d > (double)in_size + 2.0) ksize_d = (double)in_size + 2.0; /* never more taps than inputs */
    ax->ksize = (int)ksize_d;
    size_t n_weights = (size_t)out_size * (size_t)ax->ksize;
    double *w = malloc(sizeof(double) * (size_t)ax->ksize);
    ax->first = malloc(sizeof(int) * (size_t)out_size);
    ax->count = malloc(sizeof(int) * (size_t)out_size);
    ax->weights = calloc(n_weights, sizeof(int32_t));
    if (!w || !ax->first || !ax->count || !ax->weights) {
        free(w);
        gm_resample_axis_free(ax);
        return gm_error(GM_ERR_NOMEM, "image_resize: cannot allocate %zu bilinear weights (%d -> %d)", n_weights,
                        in_size, out_size);
    }
    double ss = 1.0 / filterscale;
    for (int i = 0; i < out_size; ++i) {
        double centre = (i + 0.5) * scale;
        int xmin = (int)(centre - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(centre + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax < 0) xmax = 0;
        if (xmax > ax->ksize) xmax = ax->ksize; /* cannot happen: Pillow's ksize bounds the span */
        double total = 0.0;
        for (int x = 0; x < xmax; ++x) {
            w[x] = gm_triangle(((double)(x + xmin) - centre + 0.5) * ss);
            total += w[x];
        }
        int32_t *k = ax->weights + (size_t)i * (size_t)ax->ksize;
        for (int x = 0; x < xmax; ++x) {
            double v = total != 0.0 ? w[x] / total : w[x];
            double fixed = v * (double)(1 << GM_RESAMPLE_BITS);
            k[x] = (int32_t)(v < 0.0 ? -0.5 + fixed : 0.5 + fixed);
        }
        ax->first[i] = xmin;
        ax->count[i] = xmax;
    }
    free(w);
    return GM_OK;
}

static uint8_t gm_resample_clip8(int64_t acc) {
    int64_t v = acc >> GM_RESAMPLE_BITS; /* arithmetic shift as in Pillow (floor) */
    if (v < 0) return 0;
    if (v > 255) return 255;
    return (uint8_t)v;
}

/* Horizontal pass over source rows [row0, row0+rows) into `out` (rows x out_w x 3). */
static void gm_resample_rows(const uint8_t *in, int in_w, int row0, int rows, const gm_resample_axis *ax, int out_w,
                             uint8_t *out) {
    for (int y = 0; y < rows; ++y) {
        const uint8_t *src = in + (size_t)(row0 + y) * (size_t)in_w * 3;
        uint8_t *dst = out + (size_t)y * (size_t)out_w * 3;
        for (int x = 0; x < out_w; ++x) {
            const int32_t *k = ax->weights + (size_t)x * (size_t)ax->ksize;
            const uint8_t *p = src + (size_t)ax->first[x] * 3;
            int64_t s0 = 1 << (GM_RESAMPLE_BITS - 1), s1 = s0, s2 = s0;
            for (int t = 0; t < ax->count[x]; ++t) {
                s0 += (int64_t)p[3 * t] * k[t];
                s1 += (int64_t)p[3 * t + 1] * k[t];
                s2 += (int64_t)p[3 * t + 2] * k[t];
            }
            dst[3 * x] = gm_resample_clip8(s0);
            dst[3 * x + 1] = gm_resample_clip8(s1);
            dst[3 * x + 2] = gm_resample_clip8(s2);
        }
    }
}

/* Vertical pass: `in` holds rows starting at source row `row0`; out is out_h x w x 3. Integer
 * sums are exact, so accumulating whole rows (cache-friendly) gives Pillow's per-pixel result. */
static gm_status gm_resample_cols(const uint8_t *in, int w, int row0, const gm_resample_axis *ax, int out_h,
                                  uint8_t *out) {
    size_t stride = (size_t)w * 3;
    int64_t *acc = malloc(sizeof(int64_t) * stride);
    if (!acc) return gm_error(GM_ERR_NOMEM, "image_resize: cannot allocate a %d-pixel accumulator row", w);
    for (int y = 0; y < out_h; ++y) {
        const int32_t *k = ax->weights + (size_t)y * (size_t)ax->ksize;
        const uint8_t *base = in + (size_t)(ax->first[y] - row0) * stride;
        for (size_t c = 0; c < stride; ++c) acc[c] = 1 << (GM_RESAMPLE_BITS - 1);
        for (int t = 0; t < ax->count[y]; ++t) {
            const uint8_t *row = base + (size_t)t * stride;
            int64_t kt = k[t];
            for (size_t c = 0; c < stride; ++c) acc[c] += (int64_t)row[c] * kt;
        }
        uint8_t *dst = out + (size_t)y * stride;
        for (size_t c = 0; c < stride; ++c) dst[c] = gm_resample_clip8(acc[c]);
    }
    free(acc);
    return GM_OK;
}

/* Both axes change: two passes through a uint8 intermediate, in Pillow 13's order. Pillow 13 runs
 * the vertical pass first when the height shrinks by more than twice as many pixels as the width
 * (Pillow <= 11.0 always went horizontal first); the intermediate rounding makes the order
 * visible (+-1 level), so it is reproduced exactly. */
static gm_status gm_resize_two_pass(const gm_image *src, gm_image *dst, const gm_resample_axis *hx,
                                    const gm_resample_axis *vy) {
    int shrink_h = src->height - dst->height, shrink_w = src->width - dst->width;
    int vertical_first = shrink_h > 0 && (int64_t)shrink_h > (int64_t)shrink_w * 2;
    /* Horizontal first filters, like Pillow, only the source rows the vertical pass reads. */
    int row0 = vy->first[0];
    int row1 = vy->first[dst->height - 1] + vy->count[dst->height - 1];
    if (row1 <= row0) row1 = row0 + 1;
    size_t tmp_bytes = vertical_first ? (size_t)src->width * (size_t)dst->height * 3
                                      : (size_t)(row1 - row0) * (size_t)dst->width * 3;
    uint8_t *tmp = malloc(tmp_bytes);
    if (!tmp)
        return gm_error(GM_ERR_NOMEM, "image_resize: cannot allocate %zu bytes for the first pass (%dx%d -> %dx%d)",
                        tmp_bytes, src->width, src->height, dst->width, dst->height);
    gm_status st;
    if (vertical_first) {
        st = gm_resample_cols(src->rgb, src->width, 0, vy, dst->height, tmp);
        if (st == GM_OK) gm_resample_rows(tmp, src->width, 0, dst->height, hx, dst->width, dst->rgb);
    } else {
        gm_resample_rows(src->rgb, src->width, row0, row1 - row0, hx, dst->width, tmp);
        st = gm_resample_cols(tmp, dst->width, row0, vy, dst->height, dst->rgb);
    }
    free(tmp);
    return st;
}

static gm_status gm_resize_bilinear(const gm_image *src, gm_image *dst) {
    int need_h = dst->width != src->width, need_v = dst->height != src->height;
    gm_resample_axis hx = {0}, vy = {0};
    gm_status st = GM_OK;
    if (need_h) st = gm_resample_axis_init(src->width, dst->width, &hx);
    if (st == GM_OK && need_v) st = gm_resample_axis_init(src->height, dst->height, &vy);
    if (st == GM_OK) {
        if (!need_v) gm_resample_rows(src->rgb, src->width, 0, src->height, &hx, dst->width, dst->rgb);
        else if (!need_h) st = gm_resample_cols(src->rgb, src->width, 0, &vy, dst->height, dst->rgb);
        else st = gm_resize_two_pass(src, dst, &hx, &vy);
    }
    gm_resample_axis_free(&hx);
    gm_resample_axis_free(&vy);
    return st;
}

gm_status gm_image_resize(const gm_image *src, int out_width, int out_height, gm_resize_mode mode,
                          gm_image *dst) {
    if (!dst) return gm_error(GM_ERR_INVALID_ARG, "gm_image_resize: null destination");
    if (dst == src) return gm_error(GM_ERR_INVALID_ARG, "gm_image_resize: destination must differ from source");
    memset(dst, 0, sizeof *dst);
    if (!src || !src->rgb || src->width <= 0 || src->height <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "gm_image_resize: empty source image");
    if (out_width <= 0 || out_height <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "gm_image_resize: target %dx%d must be positive (source %dx%d)",
                        out_width, out_height, src->width, src->height);
    if ((int64_t)out_width * (int64_t)out_height > GM_IMAGE_MAX_PIXELS)
        return gm_error(GM_ERR_UNSUPPORTED, "gm_image_resize: target %dx%d is more than %lld pixels", out_width,
                        out_height, (long long)GM_IMAGE_MAX_PIXELS);
    if (mode != GM_RESIZE_NEAREST && mode != GM_RESIZE_BILINEAR)
        return gm_error(GM_ERR_INVALID_ARG, "gm_image_resize: unknown mode %d", (int)mode);
    size_t bytes = (size_t)out_width * (size_t)out_height * 3;
    dst->rgb = malloc(bytes);
    if (!dst->rgb)
        return gm_error(GM_ERR_NOMEM, "gm_image_resize: cannot allocate %zu bytes for %dx%d", bytes, out_width,
                        out_height);
    dst->width = out_width;
    dst->height = out_height;
    gm_status st = GM_OK;
    if (out_width == src->width && out_height == src->height) memcpy(dst->rgb, src->rgb, bytes);
    else if (mode == GM_RESIZE_NEAREST) st = gm_resize_nearest(src, dst);
    else st = gm_resize_bilinear(src, dst);
    if (st != GM_OK) gm_image_free(dst);
    return st;
}
