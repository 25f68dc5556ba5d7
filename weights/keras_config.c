/* keras_config.c — Keras model_config JSON -> gm_graph. Handles:
 *  - Sequential: {"class_name":"Sequential","config":{"layers":[...]}} (or a bare list, Keras <= 2.1);
 *    the input shape comes from an InputLayer, the first layer's batch_input_shape, or Keras 3's
 *    build_input_shape; an InputLayer is synthesised when Keras left it out.
 *  - Functional / Model: layers with inbound_nodes in the Keras 2 form [[["name",0,0,{}], ...]] or
 *    the Keras 3 form [{"args":[...], "kwargs":{...}}] whose tensors carry keras_history.
 * Layers called more than once (shared layers) are not supported. */
#include "keras_config.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "keras_layer.h"

static const cJSON *gm_get(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* Appends the producer `name` (called for the node_index-th time) to n's inputs. */
static gm_status gm_add_inbound(const gm_graph *g, gm_node *n, const cJSON *name, const cJSON *node_index) {
    if (!cJSON_IsString(name)) return gm_error(GM_ERR_FORMAT, "layer '%s': unreadable inbound node", n->name);
    if (cJSON_IsNumber(node_index) && node_index->valuedouble != 0)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': reads a shared layer's second call ('%s'); not supported",
                        n->name, name->valuestring);
    int idx = gm_graph_find(g, name->valuestring);
    if (idx < 0)
        return gm_error(GM_ERR_FORMAT, "layer '%s': input '%s' is not defined before it", n->name, name->valuestring);
    if (n->n_inputs >= GM_MAX_INPUTS)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': more than %d inputs", n->name, GM_MAX_INPUTS);
    n->inputs[n->n_inputs++] = idx;
    return GM_OK;
}

/* Collects producer layer names from one Keras 3 argument tree (lists, dicts, keras tensors). */
static gm_status gm_collect_history(const gm_graph *g, const cJSON *v, gm_node *n) {
    if (cJSON_IsArray(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v) GM_TRY(gm_collect_history(g, item, n));
        return GM_OK;
    }
    if (!cJSON_IsObject(v)) return GM_OK;
    const cJSON *cfg = gm_get(v, "config");
    const cJSON *hist = gm_get(cfg, "keras_history");
    const char *cls = cJSON_IsString(gm_get(v, "class_name")) ? gm_get(v, "class_name")->valuestring : "";
    if (strcmp(cls, "__keras_tensor__") == 0 && cJSON_IsArray(hist))
        return gm_add_inbound(g, n, cJSON_GetArrayItem(hist, 0), cJSON_GetArrayItem(hist, 1));
    const cJSON *item;
    cJSON_ArrayForEach(item, v) GM_TRY(gm_collect_history(g, item, n));
    return GM_OK;
}

/* Fills n->inputs from a Functional layer's inbound_nodes (either form). */
static gm_status gm_parse_inbound(const gm_graph *g, const cJSON *layer, gm_node *n) {
    const cJSON *inbound = gm_get(layer, "inbound_nodes");
    n->n_inputs = 0;
    if (!cJSON_IsArray(inbound) || cJSON_GetArraySize(inbound) == 0) return GM_OK;
    if (cJSON_GetArraySize(inbound) > 1)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s' is called %d times (shared layers are not supported)", n->name,
                        cJSON_GetArraySize(inbound));
    const cJSON *node = cJSON_GetArrayItem(inbound, 0);
    if (cJSON_IsObject(node)) { /* Keras 3 */
        GM_TRY(gm_collect_history(g, gm_get(node, "args"), n));
        return gm_collect_history(g, gm_get(node, "kwargs"), n);
    }
    if (!cJSON_IsArray(node)) return gm_error(GM_ERR_FORMAT, "layer '%s': unreadable inbound_nodes", n->name);
    const cJSON *ref;
    cJSON_ArrayForEach(ref, node) { /* Keras 2: ["name", node_index, tensor_index, {kwargs}] */
        if (!cJSON_IsArray(ref)) return gm_error(GM_ERR_FORMAT, "layer '%s': unreadable inbound node", n->name);
        GM_TRY(gm_add_inbound(g, n, cJSON_GetArrayItem(ref, 0), cJSON_GetArrayItem(ref, 1)));
    }
    return GM_OK;
}

/* output_layers is [["name",0,0]] or (Keras 3 applications) a single ["name",0,0]. */
static gm_status gm_parse_output(gm_graph *g, const cJSON *cfg) {
    const cJSON *outs = gm_get(cfg, "output_layers");
    if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) == 0) return GM_OK; /* last layer */
    const cJSON *first = cJSON_GetArrayItem(outs, 0);
    const cJSON *name = cJSON_IsString(first) ? first : cJSON_GetArrayItem(first, 0);
    if (!cJSON_IsString(first) && cJSON_GetArraySize(outs) > 1)
        return gm_error(GM_ERR_UNSUPPORTED, "model has %d outputs; gradmap needs a single classifier output",
                        cJSON_GetArraySize(outs));
    if (!cJSON_IsString(name)) return gm_error(GM_ERR_FORMAT, "unreadable output_layers");
    g->output_node = gm_graph_find(g, name->valuestring);
    if (g->output_node < 0) return gm_error(GM_ERR_FORMAT, "output layer '%s' is not defined", name->valuestring);
    return GM_OK;
}

static gm_status gm_add_input_node(gm_graph *g, const char *name) {
    gm_node in;
    memset(&in, 0, sizeof in);
    snprintf(in.name, sizeof in.name, "%s", name);
    snprintf(in.class_name, sizeof in.class_name, "InputLayer");
    in.op = GM_OP_INPUT;
    return gm_graph_add_node(g, &in, NULL);
}

static gm_status gm_build_sequential(gm_graph *g, const cJSON *cfg, const cJSON *layers) {
    int have_shape = 0;
    const cJSON *first = cJSON_GetArrayItem(layers, 0);
    const cJSON *first_cfg = gm_get(first, "config");
    const cJSON *first_cls = gm_get(first, "class_name");
    int first_is_input = cJSON_IsString(first_cls) && strcmp(first_cls->valuestring, "InputLayer") == 0;
    GM_TRY(gm_keras_input_shape(first_cfg, "input", &g->input_h, &g->input_w, &g->input_c, &have_shape));
    if (!have_shape) {
        const cJSON *build = gm_get(cfg, "build_input_shape");
        if (build) {
            cJSON *tmp = cJSON_CreateObject();
            if (!tmp) return gm_error(GM_ERR_NOMEM, "out of memory");
            cJSON_AddItemReferenceToObject(tmp, "batch_shape", (cJSON *)build);
            gm_status st = gm_keras_input_shape(tmp, "input", &g->input_h, &g->input_w, &g->input_c, &have_shape);
            cJSON_Delete(tmp);
            GM_TRY(st);
        }
    }
    if (!have_shape)
        return gm_error(GM_ERR_UNSUPPORTED, "Sequential model without a known input shape (build it with an Input)");
    if (!first_is_input) GM_TRY(gm_add_input_node(g, "input_layer"));
    const cJSON *layer;
    cJSON_ArrayForEach(layer, layers) {
        gm_node n;
        GM_TRY(gm_keras_layer_to_node(layer, &n));
        if (n.op != GM_OP_INPUT) {
            n.inputs[0] = g->n_nodes - 1;
            n.n_inputs = 1;
        }
        GM_TRY(gm_graph_add_node(g, &n, NULL));
    }
    return GM_OK;
}

static gm_status gm_build_functional(gm_graph *g, const cJSON *cfg, const cJSON *layers) {
    const cJSON *layer;
    int inputs_seen = 0;
    cJSON_ArrayForEach(layer, layers) {
        gm_node n;
        GM_TRY(gm_keras_layer_to_node(layer, &n));
        if (n.op == GM_OP_INPUT) {
            int found = 0;
            GM_TRY(gm_keras_input_shape(gm_get(layer, "config"), n.name, &g->input_h, &g->input_w, &g->input_c,
                                        &found));
            if (!found) return gm_error(GM_ERR_FORMAT, "input layer '%s' has no shape", n.name);
            if (++inputs_seen > 1)
                return gm_error(GM_ERR_UNSUPPORTED, "model has several inputs; gradmap needs one image input");
        } else {
            GM_TRY(gm_parse_inbound(g, layer, &n));
            if (n.n_inputs == 0) return gm_error(GM_ERR_FORMAT, "layer '%s' has no inbound nodes", n.name);
        }
        GM_TRY(gm_graph_add_node(g, &n, NULL));
    }
    if (g->n_nodes > 0 && g->nodes[0].op != GM_OP_INPUT)
        return gm_error(GM_ERR_FORMAT, "Functional model whose first layer is not an InputLayer");
    return gm_parse_output(g, cfg);
}

gm_status gm_keras_config_parse(const char *json, const char *source, gm_graph **out) {
    *out = NULL;
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *where = cJSON_GetErrorPtr();
        return gm_error(GM_ERR_FORMAT, "%s: model_config is not valid JSON (near '%.20s')", source,
                        where ? where : "?");
    }
    gm_graph *g = NULL;
    gm_status st = GM_OK;
    const cJSON *cls = gm_get(root, "class_name");
    const cJSON *cfg = gm_get(root, "config");
    const cJSON *layers = cJSON_IsArray(cfg) ? cfg : gm_get(cfg, "layers");
    const cJSON *name = gm_get(cfg, "name");
    if (!cJSON_IsString(cls) || !cJSON_IsArray(layers) || cJSON_GetArraySize(layers) == 0) {
        st = gm_error(GM_ERR_FORMAT, "%s: model_config has no class_name or layers", source);
        goto done;
    }
    st = gm_graph_create(cJSON_IsString(name) ? name->valuestring : "model", &g);
    if (st != GM_OK) goto done;
    if (strcmp(cls->valuestring, "Sequential") == 0) st = gm_build_sequential(g, cfg, layers);
    else if (strcmp(cls->valuestring, "Functional") == 0 || strcmp(cls->valuestring, "Model") == 0)
        st = gm_build_functional(g, cfg, layers);
    else
        st = gm_error(GM_ERR_UNSUPPORTED, "model class '%s' (Sequential or Functional expected)", cls->valuestring);
    if (st == GM_OK) st = gm_graph_finalize(g);
    if (st != GM_OK) gm_error_context(st, "%s: ", source);
done:
    cJSON_Delete(root);
    if (st != GM_OK) gm_graph_free(&g);
    *out = g;
    return st;
}
