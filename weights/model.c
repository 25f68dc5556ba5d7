/* model.c — see model.h. Decides which kind of Keras HDF5 file it is looking at (Keras 3's own
 * rule: a root `layer_names` means weights-only, else /model_weights), builds the graph from
 * model_config or the built-in architecture, loads weights by name, reads gradmap's optional
 * root attributes, and folds BatchNormalization. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_builtin.h"
#include "class_names.h"
#include "h5_probe.h"
#include "h5_util.h"
#include "keras_config.h"
#include "keras_weights.h"

void gm_model_options_default(gm_model_options *o) {
    memset(o, 0, sizeof *o);
    o->fold_batchnorm = 1;
}

static gm_status gm_model_build(hid_t file, const char *path, const gm_model_options *opts, hid_t *wgroup,
                                gm_graph **g) {
    int weights_only = gm_h5_has_attr(file, "layer_names") || gm_h5_has_attr(file, "layer_names0");
    int has_config = gm_h5_has_attr(file, "model_config");
    if (opts->arch) {
        GM_TRY(gm_arch_build(opts->arch, 1, g));
    } else if (has_config) {
        char *json = NULL;
        gm_status st = gm_h5_read_string_attr(file, "model_config", &json);
        if (st != GM_OK) return gm_error_context(GM_ERR_FORMAT, "%s: model_config: ", path);
        st = gm_keras_config_parse(json, path, g);
        free(json);
        GM_TRY(st);
    } else if (weights_only) {
        return gm_error(GM_ERR_INVALID_ARG,
                        "%s: weights-only file (no model_config); name its architecture with --arch (%s)", path,
                        gm_arch_names());
    } else {
        return gm_error(GM_ERR_FORMAT, "%s: HDF5 file without Keras model_config or layer_names: not a Keras model",
                        path);
    }
    if (weights_only) {
        *wgroup = H5Gopen2(file, "/", H5P_DEFAULT);
    } else if (H5Lexists(file, "model_weights", H5P_DEFAULT) > 0) {
        *wgroup = H5Gopen2(file, "model_weights", H5P_DEFAULT);
    } else {
        gm_graph_free(g);
        return gm_error(GM_ERR_FORMAT, "%s: model file has no /model_weights group (saved without weights?)", path);
    }
    if (*wgroup < 0) {
        gm_graph_free(g);
        return gm_error(GM_ERR_FORMAT, "%s: weights group cannot be opened", path);
    }
    return GM_OK;
}

/* gradmap's own optional attributes, written by scripts that prepare models for it. */
static gm_status gm_model_read_extras(hid_t file, const char *path, const gm_model_options *opts, gm_graph *g) {
    char *text = NULL;
    if (gm_h5_read_string_attr(file, "gradmap_preprocess", &text) == GM_OK) {
        gm_status st = gm_preprocess_parse(text, &g->preprocess);
        free(text);
        if (st != GM_OK) return gm_error_context(st, "%s: attribute gradmap_preprocess: ", path);
    }
    int n_classes = g->nodes[g->logits_node].out.c;
    char **names = NULL;
    int count = 0;
    gm_status st = GM_OK;
    if (opts->labels) {
        st = gm_class_names_load(opts->labels, &names, &count);
    } else if (gm_h5_read_string_attr(file, "gradmap_class_names", &text) == GM_OK) {
        st = gm_class_names_from_json(text, &names, &count);
        free(text);
        if (st != GM_OK) gm_error_context(st, "%s: attribute gradmap_class_names: ", path);
    } else if (n_classes == 1000) {
        st = gm_class_names_imagenet(&names, &count);
    }
    GM_TRY(st);
    if (names && count != n_classes) {
        gm_class_names_free(&names, count);
        return gm_error(GM_ERR_SHAPE, "%s: %d class names for a model with %d outputs",
                        opts->labels ? opts->labels : path, count, n_classes);
    }
    g->class_names = names;
    g->n_class_names = names ? count : 0;
    return GM_OK;
}

gm_status gm_model_load(const char *path, const gm_model_options *opts, gm_graph **out) {
    gm_model_options defaults;
    if (!opts) {
        gm_model_options_default(&defaults);
        opts = &defaults;
    }
    *out = NULL;
    hid_t file = -1;
    GM_TRY(gm_h5_open(path, &file));
    gm_status probe = gm_h5_probe_metadata(path);
    if (probe != GM_OK) {
        H5Fclose(file);
        return probe;
    }
    gm_graph *g = NULL;
    hid_t wgroup = -1;
    gm_status st = gm_model_build(file, path, opts, &wgroup, &g);
    if (st == GM_OK) {
        snprintf(g->source_path, sizeof g->source_path, "%s", path);
        st = gm_keras_load_weights(wgroup, path, g);
    }
    if (st == GM_OK) st = gm_model_read_extras(file, path, opts, g);
    if (st == GM_OK && opts->fold_batchnorm) st = gm_graph_fold_batchnorm(g);
    if (wgroup >= 0) H5Gclose(wgroup);
    H5Fclose(file);
    if (st != GM_OK) gm_graph_free(&g);
    *out = g;
    return st;
}
