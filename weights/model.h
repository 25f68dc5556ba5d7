/* model.h — loading a model from disk into a ready graph (weights attached, BatchNormalization
 * folded): legacy full-model .h5 (model_config + /model_weights) or a weights-only .h5 together
 * with a built-in architecture (--arch vgg16|vgg19|resnet50). */
#ifndef GM_MODEL_H
#define GM_MODEL_H

#include "graph.h"

typedef struct gm_model_options {
    const char *arch;      /* NULL: the file must carry model_config */
    const char *labels;    /* optional class-names file overriding everything else */
    int fold_batchnorm;    /* 1 for inference (default); 0 keeps BN nodes (tests, `info`) */
} gm_model_options;

void gm_model_options_default(gm_model_options *o);

/* Loads `path`. Class names come from --labels, the file's `gradmap_class_names` attribute, or
 * the ImageNet list when the model has 1000 outputs; preprocessing from the file's
 * `gradmap_preprocess` attribute or the architecture's default. Messages name the path. */
gm_status gm_model_load(const char *path, const gm_model_options *opts, gm_graph **out);

#endif
