/* audit.c — the audit result's lifetime and the audit map size (explain/audit.h). */
#include <stdlib.h>
#include <string.h>

#include "audit.h"

void gm_audit_map_size(int in_h, int in_w, int *map_h, int *map_w) {
    int longer = in_h > in_w ? in_h : in_w;
    if (longer <= GM_AUDIT_MAP_MAX_SIDE) {
        *map_h = in_h, *map_w = in_w;
        return;
    }
    /* Scaled so the longer side is exactly the maximum; the shorter keeps the input's aspect ratio. */
    double scale = (double)GM_AUDIT_MAP_MAX_SIDE / longer;
    int h = (int)(in_h * scale + 0.5), w = (int)(in_w * scale + 0.5);
    *map_h = h < 1 ? 1 : h;
    *map_w = w < 1 ? 1 : w;
}

gm_status gm_audit_check(const gm_audit *a) {
    if (!a) return gm_error(GM_ERR_INVALID_ARG, "no audit");
    if (a->n_images < 0 || a->n_classes < 0 || a->n_regions < 0 || a->n_regions > GM_AUDIT_MAX_REGIONS ||
        a->map_h < 0 || a->map_w < 0 || (a->n_images > 0 && (!a->images || (!a->maps && a->map_h * a->map_w > 0))) ||
        (a->n_classes > 0 && (!a->classes || !a->class_order)))
        return gm_error(GM_ERR_INVALID_ARG, "the audit is incomplete (not summarised?)");
    for (int i = 0; i < a->n_images; ++i)
        if (a->images[i].cls < 0 || a->images[i].cls >= a->n_classes)
            return gm_error(GM_ERR_INVALID_ARG, "image %d (%s) has class index %d of %d", i,
                            a->images[i].path ? a->images[i].path : "", a->images[i].cls, a->n_classes);
    for (int c = 0; c < a->n_classes; ++c) {
        const gm_spray_result *sp = &a->classes[c].spray;
        if (sp->k < 0 || sp->n_eigen < 0 || a->class_order[c] < 0 || a->class_order[c] >= a->n_classes)
            return gm_error(GM_ERR_INVALID_ARG, "class %d (%s) has inconsistent summary fields (class_order %d of %d)",
                            c, a->classes[c].name ? a->classes[c].name : "", a->class_order[c], a->n_classes);
    }
    return GM_OK;
}

static void gm_audit_class_free(gm_audit_class *c) {
    for (int k = 0; c->clusters && k < c->spray.k; ++k) {
        free(c->clusters[k].members);
        free(c->clusters[k].mean_map);
    }
    free(c->clusters);
    gm_spray_result_free(&c->spray);
    free(c->mean_map);
    free(c->name);
    free(c->error);
}

void gm_audit_free(gm_audit *a) {
    if (!a) return;
    for (int i = 0; a->images && i < a->n_images; ++i) {
        free(a->images[i].path);
        free(a->images[i].error);
        free(a->images[i].note);
    }
    for (int c = 0; a->classes && c < a->n_classes; ++c) gm_audit_class_free(&a->classes[c]);
    char *owned[] = {a->model_path, a->data_path, a->method, a->target_layer, a->target_mode, a->command_line,
                     a->device};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; ++i) free(owned[i]);
    free(a->images);
    free(a->classes);
    free(a->maps);
    free(a->class_order);
    memset(a, 0, sizeof *a);
}
