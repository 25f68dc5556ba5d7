/* audit_image.h — one image's part of `gradmap audit` (audit_image.c): from its raw explanation map,
 * its decoded original and its annotations to the audit record (prediction, audit map, metrics). */
#ifndef GM_AUDIT_IMAGE_H
#define GM_AUDIT_IMAGE_H

#include "audit_dataset.h"
#include "explain/audit.h"
#include "explain/explain.h"
#include "host/image.h"

/* Buffers reused across images (grown to the largest image), so measuring allocates nothing in the
 * steady state. */
typedef struct gm_audit_image_work {
    float *scratch, *full;
    uint8_t *mask;
    size_t scratch_cap, pixels_cap;
} gm_audit_image_work;

void gm_audit_image_work_free(gm_audit_image_work *w);

typedef struct gm_audit_prediction {
    const float *probs; /* n_classes probabilities */
    int n_classes;
    int target;         /* the class explained */
    int label_class;    /* the label's model class */
} gm_audit_prediction;

/* Fills a->images[index] (ok, prediction, metrics, note/error) and a->maps[index] from the raw map
 * (map_h x map_w) of `method`. Annotation problems (a mask of another size, a box outside the image)
 * are recorded on the image; only running out of memory is an error. */
gm_status gm_audit_measure_image(gm_audit *a, int index, const gm_audit_item *item, const gm_audit_prediction *p,
                                 const float *raw, int map_h, int map_w, gm_method method, const gm_image *image,
                                 gm_audit_image_work *w);

/* Every metric undefined (NaN shares, pointing -1), as for an image that was not explained. */
void gm_audit_metrics_undefined(gm_audit_metrics *m);

#endif
