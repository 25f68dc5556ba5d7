/* explain_pictures.c — the PNG pictures of `gradmap explain`: per image, method and target rank a
 * heatmap and an overlay at the image's original size, from the raw map through
 * gm_post_picture_map (the --compat conventions are described in explain/post.h). */
#include <stdio.h>

#include "explain_args.h"
#include "host/png_write.h"

gm_post_map_kind gm_explain_map_kind(gm_method m) {
    if (m == GM_METHOD_INPUTXGRAD || m == GM_METHOD_INTGRAD) return GM_MAP_SIGNED;
    return gm_method_is_input_space(m) ? GM_MAP_GRADIENT : GM_MAP_CAM;
}

gm_status gm_explain_write_pictures(const gm_explain_args *a, const char *stem, gm_method m, int rank, int n_ranks,
                                    const float *map, int map_h, int map_w, const gm_image *image, float *scratch,
                                    float *full, uint8_t *pixels) {
    if (!a->png_heatmap && !a->png_overlay) return GM_OK;
    int w = image->width, h = image->height;
    gm_status st = gm_post_picture_map(a->compat, gm_explain_map_kind(m), map, map_h, map_w, scratch, full, h, w);
    char path[4096], suffix[32] = "";
    if (n_ranks > 1) snprintf(suffix, sizeof suffix, "_top%d", rank + 1);
    if (st == GM_OK && a->png_heatmap) {
        st = gm_post_colorize(full, (size_t)w * h, a->colormap, pixels);
        snprintf(path, sizeof path, "%s/png/%s_%s%s.png", a->out_dir, stem, gm_method_name(m), suffix);
        if (st == GM_OK) st = gm_png_write(path, pixels, w, h, 3);
    }
    if (st == GM_OK && a->png_overlay) {
        /* The map is already at the image's size, so the overlay's own resize is the identity. */
        st = gm_post_overlay(full, h, w, image, a->colormap, a->alpha, GM_BILINEAR_CV2, pixels);
        snprintf(path, sizeof path, "%s/png/%s_%s%s_overlay.png", a->out_dir, stem, gm_method_name(m), suffix);
        if (st == GM_OK) st = gm_png_write(path, pixels, w, h, 3);
    }
    return st;
}
