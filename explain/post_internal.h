/* post_internal.h — what the post-processing files share and users do not need: argument checks and
 * the sampling grid of a bilinear resize (the taps of every output column, computed once, and the
 * per-row tap computed on the fly), used by the resize itself and by the heatmap / overlay pictures,
 * which resample without storing the resized map. */
#ifndef GM_POST_INTERNAL_H
#define GM_POST_INTERNAL_H

#include "post.h"

#include "kernels/post_math.h"

/* The largest map or picture handled, in pixels (keeps every byte count far inside size_t and every
 * row offset inside the int arithmetic of kernels/post_math.h's callers). */
#define GM_POST_MAX_PIXELS ((size_t)1 << 30)
/* Pictures and maps at least this many output pixels are split over OpenMP threads by rows. */
#define GM_POST_PARALLEL_MIN_PIXELS 16384

typedef struct gm_post_grid {
    gm_post_tap *x; /* dst_w column taps, owned */
    int tf_style;   /* 1: TensorFlow formula and taps, 0: OpenCV's */
    double cv_scale_y;
    float tf_scale_y;
    int src_h, src_w, dst_h, dst_w;
} gm_post_grid;

/* Checks h x w is a usable size (`what` names it in the message). */
gm_status gm_post_check_size(const char *what, int h, int w);

/* Builds the grid for src_h x src_w -> dst_h x dst_w (sizes already checked). */
gm_status gm_post_grid_make(int src_h, int src_w, int dst_h, int dst_w, gm_post_bilinear style, gm_post_grid *g);
void gm_post_grid_free(gm_post_grid *g);

static inline gm_post_tap gm_post_grid_row(const gm_post_grid *g, int y) {
    return g->tf_style ? gm_post_tap_tf(y, g->tf_scale_y, g->src_h) : gm_post_tap_cv(y, g->cv_scale_y, g->src_h, 0);
}

#endif
