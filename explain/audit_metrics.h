/* audit_metrics.h — per-image localisation metrics of the dataset audit (`gradmap audit`,
 * reference/methods.md §4): where the mass of one explanation map lies relative to the object
 * (mask or boxes), the image's border band and user-named regions.
 *
 * Conventions. A map is float32, row-major h x w, at the ORIGINAL image's size (the picture map:
 * normalised at its own resolution, then resized), values >= 0 (negative values count as 0).
 * "Mass" is the sum of the values. A mask is h x w bytes, non-zero = object. Rectangles are
 * half-open pixel ranges [x0, x1) x [y0, y1), 0-based, x to the right and y down. */
#ifndef GM_AUDIT_METRICS_H
#define GM_AUDIT_METRICS_H

#include <stdint.h>

#include "host/status.h"

#define GM_AUDIT_MAX_REGIONS 16
#define GM_AUDIT_NAME_MAX 64

/* Zhang et al.'s pointing-game tolerance: a hit when the maximum is within 15 px of the object. */
#define GM_AUDIT_POINTING_TOLERANCE_PX 15.0
/* Border band: the outer 10% of the shorter side along every edge. */
#define GM_AUDIT_BORDER_FRACTION 0.1

typedef struct gm_audit_rect {
    int x0, y0, x1, y1;
} gm_audit_rect;

/* A user region `NAME=x0,y0,x1,y1`: each coordinate in pixels of the original image, or with a
 * trailing '%' a percentage of the image's width (x) or height (y), so one region fits images of
 * every size (`corner=85%,85%,100%,100%`). */
typedef struct gm_audit_region {
    char name[GM_AUDIT_NAME_MAX];
    double v[4];    /* x0, y0, x1, y1 as written */
    int percent[4]; /* 1: v[i] is a percentage */
} gm_audit_region;

/* Parses `NAME=x0,y0,x1,y1`. NAME: 1..63 characters of [A-Za-z0-9_-] ("object", "border" and names
 * of the per-image columns are allowed; the caller checks duplicates). Coordinates: finite
 * numbers >= 0, percentages <= 100. Errors name the text and what is wrong (GM_ERR_INVALID_ARG). */
gm_status gm_audit_region_parse(const char *spec, gm_audit_region *out);

/* The region in pixels of a w x h image: percentages scaled to pixels (v * size / 100); then x0, y0
 * rounded down and x1, y1 rounded up (pixel coordinates too, should they be fractional). A region that is empty or reaches outside the image is
 * GM_ERR_INVALID_ARG naming the region, its pixels and the image size. */
gm_status gm_audit_region_rect(const gm_audit_region *r, int w, int h, gm_audit_rect *out);

/* An object box against a w x h image: GM_ERR_INVALID_ARG unless 0 <= x0 < x1 <= w and
 * 0 <= y0 < y1 <= h; the message names `what` (e.g. the image path), the box and the size. */
gm_status gm_audit_box_check(const gm_audit_rect *box, int w, int h, const char *what);

/* Sets the box's pixels of a w x h mask to 255; a box that does not pass gm_audit_box_check is
 * ignored rather than written outside the mask. */
void gm_audit_mask_add_box(uint8_t *mask, int w, int h, const gm_audit_rect *box);

typedef struct gm_audit_metric_options {
    double pointing_tolerance_px; /* GM_AUDIT_POINTING_TOLERANCE_PX */
    double border_fraction;       /* GM_AUDIT_BORDER_FRACTION; 0 = no band */
} gm_audit_metric_options;

void gm_audit_metric_options_default(gm_audit_metric_options *o);

/* The band's width in pixels for a w x h image: round(fraction * min(w, h)), at least 1 when the
 * fraction is > 0, at most min(w, h) / 2 rounded up (then the band is the whole image). */
int gm_audit_border_width(int w, int h, double fraction);

typedef struct gm_audit_metrics {
    double mass;           /* sum of max(value, 0); 0 = empty map: every share below is NaN */
    double inside;         /* energy pointing game: share of the mass on object pixels; NaN without an
                              object (no mask, or an empty one) */
    int pointing;          /* pointing game: 1 hit, 0 miss, -1 undefined (no object or empty map) */
    double point_distance; /* px from the maximum to the nearest object pixel centre (0 on the object);
                              NaN when undefined */
    int max_x, max_y;      /* the map's maximum (the first in row-major order); -1 for an empty map */
    double object_area;    /* share of the image's pixels that are object; NaN without a mask */
    double border;         /* share of the mass in the border band */
    double regions[GM_AUDIT_MAX_REGIONS]; /* share of the mass in each region, in the given order */
} gm_audit_metrics;

/* All metrics of one map. mask: h x w or NULL (no object annotation). regions: n_regions rectangles
 * already resolved with gm_audit_region_rect (0 <= n_regions <= GM_AUDIT_MAX_REGIONS); entries of
 * out->regions past n_regions are 0. o: NULL for the defaults. A null map, non-positive size, a
 * NaN/Inf value, a region that does not fit, or a NaN/Inf/negative tolerance or border fraction is
 * GM_ERR_INVALID_ARG (out is then all undefined). Sums are in double, in row-major order, so a
 * share never exceeds 1. */
gm_status gm_audit_image_metrics(const float *map, int w, int h, const uint8_t *mask,
                                 const gm_audit_metric_options *o, const gm_audit_rect *regions, int n_regions,
                                 gm_audit_metrics *out);

#endif
