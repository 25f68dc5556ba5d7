/* audit_image.c — measures one image of `gradmap audit`: its prediction, its audit map (model-input
 * aligned, explain/audit.h), its picture map at the original size, the object mask from a mask file
 * and/or boxes, the regions in its pixels, and the metrics of explain/audit_metrics.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit_image.h"
#include "cli.h"
#include "explain_args.h"

void gm_audit_metrics_undefined(gm_audit_metrics *m) {
    m->mass = 0.0;
    m->inside = m->point_distance = m->object_area = m->border = NAN;
    m->pointing = -1;
    m->max_x = m->max_y = -1;
    for (int r = 0; r < GM_AUDIT_MAX_REGIONS; ++r) m->regions[r] = NAN;
}

void gm_audit_image_work_free(gm_audit_image_work *w) {
    free(w->scratch), free(w->full), free(w->mask);
    memset(w, 0, sizeof *w);
}

static gm_status gm_work_reserve(gm_audit_image_work *w, size_t map_size, size_t pixels) {
    if (map_size > w->scratch_cap) {
        float *s = realloc(w->scratch, map_size * sizeof *s);
        if (!s) return gm_error(GM_ERR_NOMEM, "out of memory for a %zu-value map", map_size);
        w->scratch = s, w->scratch_cap = map_size;
    }
    if (pixels > w->pixels_cap) {
        float *f = realloc(w->full, pixels * sizeof *f);
        if (f) w->full = f;
        uint8_t *m = f ? realloc(w->mask, pixels) : NULL;
        if (!f || !m) return gm_error(GM_ERR_NOMEM, "out of memory for a %zu-pixel image", pixels);
        w->mask = m, w->pixels_cap = pixels;
    }
    return GM_OK;
}

/* Adds a note (several are joined with "; "). */
static gm_status gm_add_note(gm_audit_image *im, const char *text) {
    char *joined = im->note ? gm_cli_printf("%s; %s", im->note, text) : gm_cli_printf("%s", text);
    if (!joined) return gm_error(GM_ERR_NOMEM, "out of memory");
    free(im->note);
    im->note = joined;
    return GM_OK;
}

/* The object mask from the item's mask file and boxes into w->mask. *has: 0 without annotations,
 * 1 with. A mask of the wrong size is a note (no object); a bad box makes the image an error. */
static gm_status gm_build_mask(gm_audit_image *im, const gm_audit_item *item, int W, int H, gm_audit_image_work *w,
                               int *has) {
    size_t n = (size_t)W * H;
    *has = 0;
    memset(w->mask, 0, n);
    if (item->mask_path) {
        gm_image m = {0};
        gm_status st = gm_image_load(item->mask_path, &m);
        if (st != GM_OK) {
            char *t = gm_cli_printf("mask unreadable (%s): object metrics not computed", gm_last_error());
            st = t ? gm_add_note(im, t) : gm_error(GM_ERR_NOMEM, "out of memory");
            free(t);
            return st;
        }
        if (m.width != W || m.height != H) {
            char *t = gm_cli_printf("mask %s is %dx%d but the image %dx%d: object metrics not computed",
                                      item->mask_path, m.width, m.height, W, H);
            gm_image_free(&m);
            st = t ? gm_add_note(im, t) : gm_error(GM_ERR_NOMEM, "out of memory");
            free(t);
            return st;
        }
        for (size_t p = 0; p < n; ++p) w->mask[p] = (m.rgb[3 * p] | m.rgb[3 * p + 1] | m.rgb[3 * p + 2]) ? 255 : 0;
        gm_image_free(&m);
        *has = 1;
    }
    for (int b = 0; b < item->n_boxes; ++b) {
        if (gm_audit_box_check(&item->boxes[b], W, H, im->path) != GM_OK) {
            im->error = gm_cli_printf("%s", gm_last_error());
            return im->error ? GM_OK : gm_error(GM_ERR_NOMEM, "out of memory");
        }
        gm_audit_mask_add_box(w->mask, W, H, &item->boxes[b]);
        *has = 1;
    }
    return GM_OK;
}

/* The regions in this image's pixels; a region that does not fit is a note and its share NaN. */
static gm_status gm_resolve_regions(const gm_audit *a, gm_audit_image *im, int W, int H, gm_audit_rect *rects,
                                    int *which, int *n_valid) {
    *n_valid = 0;
    for (int r = 0; r < a->n_regions; ++r) {
        if (gm_audit_region_rect(&a->regions[r], W, H, &rects[*n_valid]) == GM_OK) {
            which[(*n_valid)++] = r;
            continue;
        }
        char *t = gm_cli_printf("%s (its share is not computed)", gm_last_error());
        gm_status st = t ? gm_add_note(im, t) : gm_error(GM_ERR_NOMEM, "out of memory");
        free(t);
        GM_TRY(st);
    }
    return GM_OK;
}

gm_status gm_audit_measure_image(gm_audit *a, int index, const gm_audit_item *item, const gm_audit_prediction *p,
                                 const float *raw, int map_h, int map_w, gm_method method, const gm_image *image,
                                 gm_audit_image_work *w) {
    gm_audit_image *im = &a->images[index];
    int W = image->width, H = image->height;
    im->width = W, im->height = H;
    gm_top_k(p->probs, p->n_classes, 1, &im->predicted);
    im->probability = p->probs[im->predicted];
    im->target = p->target;
    im->correct = im->predicted == p->label_class;
    GM_TRY(gm_work_reserve(w, (size_t)map_h * map_w, (size_t)W * H));
    gm_post_map_kind kind = gm_explain_map_kind(method);
    float *audit_map = a->maps + (size_t)index * a->map_h * a->map_w;
    GM_TRY(gm_post_picture_map(GM_COMPAT_GRADMAP, kind, raw, map_h, map_w, w->scratch, audit_map, a->map_h, a->map_w));
    GM_TRY(gm_post_picture_map(GM_COMPAT_GRADMAP, kind, raw, map_h, map_w, w->scratch, w->full, H, W));
    int has = 0;
    GM_TRY(gm_build_mask(im, item, W, H, w, &has));
    if (im->error) {
        memset(audit_map, 0, (size_t)a->map_h * a->map_w * sizeof *audit_map);
        return GM_OK;
    }
    gm_audit_rect rects[GM_AUDIT_MAX_REGIONS];
    int which[GM_AUDIT_MAX_REGIONS], n_valid = 0;
    GM_TRY(gm_resolve_regions(a, im, W, H, rects, which, &n_valid));
    gm_audit_metrics m;
    GM_TRY(gm_audit_image_metrics(w->full, W, H, has ? w->mask : NULL, &a->metric_options, rects, n_valid, &m));
    double shares[GM_AUDIT_MAX_REGIONS];
    for (int r = 0; r < n_valid; ++r) shares[r] = m.regions[r];
    for (int r = 0; r < GM_AUDIT_MAX_REGIONS; ++r) m.regions[r] = NAN;
    for (int r = 0; r < n_valid; ++r) m.regions[which[r]] = shares[r];
    im->m = m;
    im->has_object = has && m.object_area > 0;
    if (has && !(m.object_area > 0)) GM_TRY(gm_add_note(im, "the object mask is empty: object metrics not computed"));
    if (m.mass == 0) GM_TRY(gm_add_note(im, "the map is all zero: its shares are not defined"));
    im->ok = 1;
    return GM_OK;
}
