/* audit.h — the dataset bias audit's results (`gradmap audit`): one record per image (its
 * prediction, target, localisation metrics, SpRAy cluster), one per dataset class (accuracy, metric
 * means and spreads, class-mean map, SpRAy spectrum and clusters, the shortcut flag), and the
 * summary step that derives the per-class part from the per-image part (audit_summary.c).
 *
 * Maps kept per image are "audit maps": the method's raw map normalised as its picture is (gradients
 * min-max, CAMs ReLU then /max, at native resolution), then bilinearly resized to map_h x map_w
 * (at most 64 px a side, the model input's aspect ratio), so they are aligned to the MODEL INPUT,
 * not to the original image; class-mean and cluster-mean maps average them.
 *
 * The shortcut flag. Let baseline = the median in-object mass over every image with an object in
 * the dataset (how well the model localises in general). A SpRAy cluster "qualifies" when it has
 * at least max(3, 10% of its class's explained images) members. A class is flagged when SpRAy
 * finds k >= 2 clusters and a qualifying cluster is off the object:
 *   (a) its mean in-object mass is below GM_AUDIT_OFF_OBJECT_RATIO x baseline (needs objects), or
 *   (b) its mean mass in the border band or in one user region is >= GM_AUDIT_REGION_SHARE
 *       (most of the map on the frame or on a named region such as a watermark corner).
 * Off-object score of a group of images = max(1 - inside / baseline clamped to [0, 1], border
 * share, region shares), from the group's means. Suspicion (0..1) = the largest score of the whole
 * class and of its qualifying clusters, so unflagged classes are ranked too. Classes are reported
 * flagged first, then by decreasing suspicion, then in dataset order. */
#ifndef GM_AUDIT_H
#define GM_AUDIT_H

#include "audit_metrics.h"
#include "audit_spray.h"

#define GM_AUDIT_OFF_OBJECT_RATIO 0.5
#define GM_AUDIT_REGION_SHARE 0.5
#define GM_AUDIT_MAP_MAX_SIDE 64

typedef struct gm_audit_image {
    char *path;          /* as listed (owned) */
    int cls;             /* index into gm_audit.classes (the dataset label) */
    int ok;              /* 1 explained; 0: error says why */
    char *error;         /* NULL or why the image was not explained (owned) */
    char *note;          /* NULL or a warning that left it explained (e.g. missing mask) (owned) */
    int width, height;   /* original size (0 when unreadable) */
    int predicted;       /* top-1 model class, -1 when not explained */
    float probability;   /* its probability */
    int target;          /* the model class explained */
    int correct;         /* predicted == the label's model class */
    int has_object;      /* a non-empty mask or box was given */
    gm_audit_metrics m;  /* NaN / -1 fields when undefined (see audit_metrics.h) */
    int cluster;         /* SpRAy cluster within its class, -1 when not explained */
} gm_audit_image;

typedef struct gm_audit_stat {
    double mean, sd; /* population sd; NaN when n = 0 */
    int n;           /* values that were defined */
} gm_audit_stat;

typedef struct gm_audit_cluster {
    int size;
    int *members;               /* indices into gm_audit.images, in dataset order (owned) */
    double accuracy;            /* share of members predicted correctly */
    gm_audit_stat inside, pointing, border;
    gm_audit_stat regions[GM_AUDIT_MAX_REGIONS];
    float *mean_map;            /* map_h x map_w (owned) */
    int qualifies;              /* large enough to flag its class */
    int off_object;             /* meets (a) or (b) above */
} gm_audit_cluster;

typedef struct gm_audit_class {
    char *name;                 /* the dataset's label as written (owned) */
    int model_class;            /* model class index, -1 when the label is not a class of the model */
    int n_images;               /* listed */
    int n_explained;            /* explained (the rest have errors) */
    int n_correct;
    double accuracy;            /* n_correct / n_explained; NaN when none */
    gm_audit_stat inside, pointing, border;
    gm_audit_stat regions[GM_AUDIT_MAX_REGIONS];
    double outside_share;       /* share of images with an object whose in-object mass is < 0.5; NaN if none */
    float *mean_map;            /* map_h x map_w; NULL when nothing was explained (owned) */
    gm_spray_result spray;      /* spray.n == 0 when nothing was explained */
    gm_audit_cluster *clusters; /* spray.k of them (owned) */
    int flagged;
    double suspicion;
    char reason[512];           /* why flagged (or the most suspicious finding), "" when nothing */
    char *error;                /* class-level problem ("no images", "label not in the model") or NULL (owned) */
} gm_audit_class;

typedef struct gm_audit {
    /* what was run (strings owned) */
    char *model_path, *data_path, *method, *target_layer, *target_mode, *command_line, *device;
    uint64_t seed;
    gm_audit_metric_options metric_options;
    gm_spray_config spray_config;
    gm_audit_region regions[GM_AUDIT_MAX_REGIONS];
    int n_regions;
    int has_objects;            /* masks or boxes were given */
    const char *const *model_class_names; /* borrowed: the model's names (n_model_classes) or NULL */
    int n_model_classes;
    /* results */
    gm_audit_image *images;
    int n_images;
    gm_audit_class *classes;    /* in the dataset's order (sorted label names) */
    int n_classes;
    int map_h, map_w;
    float *maps;                /* n_images x map_h x map_w audit maps; zeros for unexplained images */
    double baseline_inside;     /* NaN without objects */
    int n_flagged;
    int *class_order;           /* n_classes indices, by decreasing suspicion (ties: dataset order) */
} gm_audit;

/* Fills every per-class field (statistics, mean maps, SpRAy, clusters, flags, class_order) from the
 * per-image records and maps. The images' `cluster` fields are set. Re-running replaces them. */
gm_status gm_audit_summarize(gm_audit *a);

/* The invariants the writers rely on before touching the arrays: counts in range, arrays present,
 * every image's class and class_order entry a class index, spectra sizes non-negative.
 * GM_ERR_INVALID_ARG naming what is wrong (a NULL audit too). */
gm_status gm_audit_check(const gm_audit *a);

/* Frees everything the audit owns and zeroes it. */
void gm_audit_free(gm_audit *a);

/* The audit map size for a model input of in_h x in_w: the input's size when both sides are <= 64,
 * else scaled so the longer side is 64 (rounded, at least 1). */
void gm_audit_map_size(int in_h, int in_w, int *map_h, int *map_w);

#endif
