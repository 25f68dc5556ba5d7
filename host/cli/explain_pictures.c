/* explain_pictures.c — the PNG pictures of `gradmap explain`: per image, method and target rank a
 * heatmap and an overlay at the image's original size. The raw map is normalised according to the
 * compat mode — gradmap: min-max for gradient maps (|.| first for the signed inputxgrad/intgrad),
 * ReLU then /max for the CAM family, at native resolution, then bilinear resize (half-pixel
 * centres, cv2's rule); pgc: pytorch-grad-cam's (x-min)/(max+1e-7) after a ReLU, then the resize;
 * tkv: tf-keras-vis's resize first, then min-max. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain_args.h"
#include "host/png_write.h"

static int gm_is_signed_map(gm_method m) { return m == GM_METHOD_INPUTXGRAD || m == GM_METHOD_INTGRAD; }
static int gm_is_cam_family(gm_method m) { return !gm_method_is_input_space(m); }

/* Produces the [0,1] map at the image's size in `full` (w*h floats) from the raw map. */
static gm_status gm_picture_map(const gm_explain_args *a, gm_method m, const float *map, int mh, int mw,
                                float *scratch, float *full, int h, int w) {
    size_t n = (size_t)mh * mw;
    memcpy(scratch, map, n * sizeof(float));
    if (gm_is_signed_map(m))
        for (size_t i = 0; i < n; ++i) scratch[i] = fabsf(scratch[i]);
    if (a->compat == GM_COMPAT_TKV) {
        GM_TRY(gm_post_resize(scratch, mh, mw, full, h, w, GM_BILINEAR_TF));
        return gm_post_normalize(full, (size_t)h * w, GM_NORM_MINMAX);
    }
    if (a->compat == GM_COMPAT_PGC) {
        gm_post_relu(scratch, n);
        GM_TRY(gm_post_normalize(scratch, n, GM_NORM_PGC));
    } else {
        GM_TRY(gm_post_normalize(scratch, n, gm_is_cam_family(m) ? GM_NORM_RELU_MAX : GM_NORM_MINMAX));
    }
    return gm_post_resize(scratch, mh, mw, full, h, w, GM_BILINEAR_CV2);
}

gm_status gm_explain_write_pictures(const gm_explain_args *a, const char *stem, gm_method m, int rank, int n_ranks,
                                    const float *map, int map_h, int map_w, const gm_image *image, float *scratch,
                                    uint8_t *pixels) {
    if (!a->png_heatmap && !a->png_overlay) return GM_OK;
    int w = image->width, h = image->height;
    float *full = malloc((size_t)w * h * sizeof(float));
    if (!full) return gm_error(GM_ERR_NOMEM, "out of memory for a %dx%d picture", w, h);
    gm_status st = gm_picture_map(a, m, map, map_h, map_w, scratch, full, h, w);
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
    free(full);
    return st;
}
