/* post_picture.c — from a method's raw map to the [0,1] map a picture shows, under the three
 * post-processing conventions gradmap reproduces (see post.h): its own, pytorch-grad-cam's and
 * tf-keras-vis's. The order of normalisation and resizing is what tells them apart. */
#include <math.h>
#include <string.h>

#include "post.h"

gm_status gm_post_picture_map(gm_post_compat compat, gm_post_map_kind kind, const float *map, int map_h, int map_w,
                              float *scratch, float *out, int out_h, int out_w) {
    size_t n = (size_t)map_h * map_w, m = (size_t)out_h * out_w;
    memcpy(scratch, map, n * sizeof(float));
    if (kind == GM_MAP_SIGNED)
        for (size_t i = 0; i < n; ++i) scratch[i] = fabsf(scratch[i]);
    switch (compat) {
    case GM_COMPAT_TKV:
        GM_TRY(gm_post_resize(scratch, map_h, map_w, out, out_h, out_w, GM_BILINEAR_TF));
        return gm_post_normalize(out, m, GM_NORM_MINMAX);
    case GM_COMPAT_PGC:
        gm_post_relu(scratch, n);
        GM_TRY(gm_post_normalize(scratch, n, GM_NORM_PGC));
        GM_TRY(gm_post_resize(scratch, map_h, map_w, out, out_h, out_w, GM_BILINEAR_CV2));
        return gm_post_normalize(out, m, GM_NORM_PGC);
    case GM_COMPAT_GRADMAP:
        break;
    }
    GM_TRY(gm_post_normalize(scratch, n, kind == GM_MAP_CAM ? GM_NORM_RELU_MAX : GM_NORM_MINMAX));
    return gm_post_resize(scratch, map_h, map_w, out, out_h, out_w, GM_BILINEAR_CV2);
}

const char *gm_post_compat_name(gm_post_compat c) {
    return c == GM_COMPAT_PGC ? "pgc" : c == GM_COMPAT_TKV ? "tkv" : "gradmap";
}

gm_status gm_post_compat_parse(const char *text, gm_post_compat *out) {
    static const gm_post_compat all[] = {GM_COMPAT_GRADMAP, GM_COMPAT_PGC, GM_COMPAT_TKV};
    for (int i = 0; i < 3; ++i)
        if (text && !strcmp(text, gm_post_compat_name(all[i]))) {
            *out = all[i];
            return GM_OK;
        }
    return gm_error(GM_ERR_INVALID_ARG, "--compat '%s' (gradmap, pgc or tkv)", text ? text : "");
}
