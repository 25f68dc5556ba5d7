/* post_color.c — colormaps and pictures (explain/post.h): map values to RGB8 through the 256-entry
 * tables of kernels/colormap_tables.h, the heatmap picture (resample + colour) and the overlay
 * (resample + colour + blend over the image). Maps are float32 row-major H x W; pictures RGB8
 * row-major, 3 bytes a pixel. The pictures resample each pixel on the fly with the same arithmetic
 * as gm_post_resize, so a heatmap equals colourising the resized map, without storing it. */
#include "post_internal.h"

#include <math.h>
#include <stdbool.h>

#include "kernels/colormap_tables.h"

const uint8_t *gm_post_colormap_table(gm_colormap cmap) {
    switch (cmap) {
    case GM_COLORMAP_JET: return gm_colormap_jet;
    case GM_COLORMAP_HOT: return gm_colormap_hot;
    case GM_COLORMAP_INFERNO: return gm_colormap_inferno;
    case GM_COLORMAP_VIRIDIS: return gm_colormap_viridis;
    case GM_COLORMAP_GRAY: return gm_colormap_gray;
    }
    return NULL;
}

/* matplotlib's maps index by int(256 v); jet and gray by uint8(255 v) (explain/post.h says why). */
static int uses_floor256(gm_colormap cmap) {
    return cmap == GM_COLORMAP_HOT || cmap == GM_COLORMAP_INFERNO || cmap == GM_COLORMAP_VIRIDIS;
}

static gm_status table_of(gm_colormap cmap, const uint8_t **lut) {
    *lut = gm_post_colormap_table(cmap);
    if (!*lut) return gm_error(GM_ERR_INVALID_ARG, "colormap: unknown colormap %d", (int)cmap);
    return GM_OK;
}

gm_status gm_post_colorize(const float *map, size_t n, gm_colormap cmap, uint8_t *rgb) {
    const uint8_t *lut = NULL;
    GM_TRY(table_of(cmap, &lut));
    if (n == 0) return GM_OK;
    if (!map || !rgb) return gm_error(GM_ERR_INVALID_ARG, "colorize: null buffer");
    int floor256 = uses_floor256(cmap);
    for (size_t i = 0; i < n; ++i)
        gm_post_colormap_px(lut, floor256, map[i], rgb + 3 * i);
    return GM_OK;
}

/* Resamples `map` onto out_h x out_w, colours each pixel, and blends it over `img` when img != NULL
 * (img and out may alias: each pixel is read before it is written). */
static gm_status paint(const float *map, int map_h, int map_w, int out_h, int out_w, gm_colormap cmap,
                       gm_post_bilinear style, const uint8_t *img, double alpha, uint8_t *out) {
    const uint8_t *lut = NULL;
    GM_TRY(table_of(cmap, &lut));
    GM_TRY(gm_post_check_size("heatmap map", map_h, map_w));
    GM_TRY(gm_post_check_size("picture", out_h, out_w));
    if (!map || !out) return gm_error(GM_ERR_INVALID_ARG, "picture: null buffer");
    gm_post_grid g;
    GM_TRY(gm_post_grid_make(map_h, map_w, out_h, out_w, style, &g));
    int floor256 = uses_floor256(cmap);
    /* Same size: the map's own values, as gm_post_resize's copy (the grid would give the same
     * numbers for finite maps; this keeps NaN neighbours from leaking in). */
    bool same = map_h == out_h && map_w == out_w;
#pragma omp parallel for schedule(static) if ((size_t)out_h * (size_t)out_w >= GM_POST_PARALLEL_MIN_PIXELS)
    for (int y = 0; y < out_h; ++y) {
        gm_post_tap ty = gm_post_grid_row(&g, y);
        size_t row = (size_t)y * (size_t)out_w;
        for (int x = 0; x < out_w; ++x) {
            float v = same ? map[row + (size_t)x] : gm_post_sample(map, map_w, g.x[x], ty, g.tf_style);
            uint8_t heat[3];
            uint8_t *px = out + 3 * (row + (size_t)x);
            gm_post_colormap_px(lut, floor256, v, img ? heat : px);
            if (img) gm_post_blend_px(img + 3 * (row + (size_t)x), heat, alpha, px);
        }
    }
    gm_post_grid_free(&g);
    return GM_OK;
}

gm_status gm_post_heatmap(const float *map, int map_h, int map_w, int out_h, int out_w, gm_colormap cmap,
                          gm_post_bilinear style, uint8_t *rgb) {
    return paint(map, map_h, map_w, out_h, out_w, cmap, style, NULL, 0.0, rgb);
}

gm_status gm_post_overlay(const float *map, int map_h, int map_w, const gm_image *image, gm_colormap cmap, double alpha,
                          gm_post_bilinear style, uint8_t *out) {
    if (!image || !image->rgb) return gm_error(GM_ERR_INVALID_ARG, "overlay: no image");
    if (isnan(alpha)) return gm_error(GM_ERR_INVALID_ARG, "overlay: alpha is NaN");
    alpha = alpha < 0.0 ? 0.0 : (alpha > 1.0 ? 1.0 : alpha);
    return paint(map, map_h, map_w, image->height, image->width, cmap, style, image->rgb, alpha, out);
}
