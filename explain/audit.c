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
