/* keras_layer.c — translates one Keras layer config ({"class_name", "config"}) into a gm_node:
 * the class-to-op table, the per-class keys (filters, kernel_size, strides, padding, ...), and
 * activation strings. Keras 3 may wrap values in objects (dtype policies, serialized
 * activations); unknown keys are ignored, unknown classes and activations are errors. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "keras_layer.h"

const char *gm_keras_supported_layers(void) {
    return "InputLayer, Conv2D, Dense, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, "
           "GlobalMaxPooling2D, BatchNormalization, Activation, ReLU, Softmax, Add, Flatten, Dropout, "
           "ZeroPadding2D, Rescaling";
}

static const cJSON *gm_json_get(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static int gm_json_int(const cJSON *obj, const char *key, int fallback) {
    const cJSON *v = gm_json_get(obj, key);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : fallback;
}

static double gm_json_number(const cJSON *obj, const char *key, double fallback) {
    const cJSON *v = gm_json_get(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static int gm_json_bool(const cJSON *obj, const char *key, int fallback) {
    const cJSON *v = gm_json_get(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}

static const char *gm_json_string(const cJSON *obj, const char *key) {
    const cJSON *v = gm_json_get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Reads an int or a 2-list ([a,b]) into a pair; absent keeps the defaults. */
static gm_status gm_json_pair(const cJSON *cfg, const char *key, const char *layer, int *a, int *b) {
    const cJSON *v = gm_json_get(cfg, key);
    if (!v || cJSON_IsNull(v)) return GM_OK;
    if (cJSON_IsNumber(v)) {
        *a = *b = (int)v->valuedouble;
        return GM_OK;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) &&
        cJSON_IsNumber(cJSON_GetArrayItem(v, 1))) {
        *a = (int)cJSON_GetArrayItem(v, 0)->valuedouble;
        *b = (int)cJSON_GetArrayItem(v, 1)->valuedouble;
        return GM_OK;
    }
    return gm_error(GM_ERR_FORMAT, "layer '%s': '%s' is neither a number nor a pair", layer, key);
}

gm_status gm_keras_activation_parse(const char *text, const char *layer, gm_activation *out) {
    if (!text || strcmp(text, "linear") == 0 || strcmp(text, "None") == 0) *out = gm_activation_make(GM_ACT_LINEAR);
    else if (strcmp(text, "relu") == 0) *out = gm_activation_make(GM_ACT_RELU);
    else if (strcmp(text, "relu6") == 0) {
        *out = gm_activation_make(GM_ACT_RELU);
        out->max_value = 6.0f;
    } else if (strcmp(text, "sigmoid") == 0) *out = gm_activation_make(GM_ACT_SIGMOID);
    else if (strcmp(text, "tanh") == 0) *out = gm_activation_make(GM_ACT_TANH);
    else if (strcmp(text, "softmax") == 0) *out = gm_activation_make(GM_ACT_SOFTMAX);
    else
        return gm_error(GM_ERR_UNSUPPORTED,
                        "layer '%s': activation '%s' is not supported (linear, relu, relu6, sigmoid, tanh, softmax)",
                        layer, text);
    return GM_OK;
}

/* Keras 2 writes "relu"; Keras 3 may write {"class_name": "function", "config": "relu", ...}. */
static gm_status gm_activation_from_config(const cJSON *cfg, const char *layer, gm_activation *out) {
    const cJSON *v = gm_json_get(cfg, "activation");
    if (!v || cJSON_IsNull(v)) return gm_keras_activation_parse(NULL, layer, out);
    if (cJSON_IsString(v)) return gm_keras_activation_parse(v->valuestring, layer, out);
    const cJSON *inner = gm_json_get(v, "config");
    if (cJSON_IsString(inner)) return gm_keras_activation_parse(inner->valuestring, layer, out);
    const char *name = gm_json_string(v, "registered_name");
    if (!name) name = gm_json_string(v, "class_name");
    return gm_keras_activation_parse(name ? name : "?", layer, out);
}

static gm_status gm_padding_from_config(const cJSON *cfg, gm_node *n) {
    const char *p = gm_json_string(cfg, "padding");
    if (!p) p = "valid";
    if (strcasecmp(p, "same") != 0 && strcasecmp(p, "valid") != 0)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': padding '%s' is not supported (same, valid)", n->name, p);
    snprintf(n->padding_mode, sizeof n->padding_mode, "%s", strcasecmp(p, "same") == 0 ? "same" : "valid");
    return GM_OK;
}

static gm_status gm_check_channels_last(const cJSON *cfg, const gm_node *n) {
    const char *df = gm_json_string(cfg, "data_format");
    if (df && strcmp(df, "channels_last") != 0)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': data_format '%s' (only channels_last is supported)", n->name,
                        df);
    return GM_OK;
}

static gm_status gm_parse_conv(const cJSON *cfg, gm_node *n) {
    n->op = GM_OP_CONV2D;
    GM_TRY(gm_check_channels_last(cfg, n));
    gm_conv2d_desc *c = &n->conv;
    c->cout = gm_json_int(cfg, "filters", 0);
    c->stride_h = c->stride_w = c->dilation_h = c->dilation_w = 1;
    GM_TRY(gm_json_pair(cfg, "kernel_size", n->name, &c->kh, &c->kw));
    GM_TRY(gm_json_pair(cfg, "strides", n->name, &c->stride_h, &c->stride_w));
    GM_TRY(gm_json_pair(cfg, "dilation_rate", n->name, &c->dilation_h, &c->dilation_w));
    if ((c->stride_h > 1 || c->stride_w > 1) && (c->dilation_h > 1 || c->dilation_w > 1))
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': strides and dilation both > 1 (Keras rejects this too)",
                        n->name);
    GM_TRY(gm_padding_from_config(cfg, n));
    GM_TRY(gm_activation_from_config(cfg, n->name, &c->act));
    n->use_bias = gm_json_bool(cfg, "use_bias", 1);
    n->groups = gm_json_int(cfg, "groups", 1);
    return GM_OK;
}

static gm_status gm_parse_pool(const cJSON *cfg, gm_node *n, gm_op op) {
    n->op = op;
    GM_TRY(gm_check_channels_last(cfg, n));
    gm_pool_desc *p = &n->pool;
    p->ph = p->pw = 2;
    GM_TRY(gm_json_pair(cfg, "pool_size", n->name, &p->ph, &p->pw));
    p->stride_h = p->ph;
    p->stride_w = p->pw;
    GM_TRY(gm_json_pair(cfg, "strides", n->name, &p->stride_h, &p->stride_w));
    return gm_padding_from_config(cfg, n);
}

static gm_status gm_parse_zeropad(const cJSON *cfg, gm_node *n) {
    n->op = GM_OP_ZEROPAD;
    GM_TRY(gm_check_channels_last(cfg, n));
    const cJSON *p = gm_json_get(cfg, "padding");
    n->pad_top = n->pad_bottom = n->pad_left = n->pad_right = 1;
    if (cJSON_IsNumber(p)) {
        n->pad_top = n->pad_bottom = n->pad_left = n->pad_right = (int)p->valuedouble;
        return GM_OK;
    }
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 2) {
        const cJSON *a = cJSON_GetArrayItem(p, 0), *b = cJSON_GetArrayItem(p, 1);
        if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
            n->pad_top = n->pad_bottom = (int)a->valuedouble;
            n->pad_left = n->pad_right = (int)b->valuedouble;
            return GM_OK;
        }
        if (cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == 2 && cJSON_GetArraySize(b) == 2) {
            n->pad_top = (int)cJSON_GetArrayItem(a, 0)->valuedouble;
            n->pad_bottom = (int)cJSON_GetArrayItem(a, 1)->valuedouble;
            n->pad_left = (int)cJSON_GetArrayItem(b, 0)->valuedouble;
            n->pad_right = (int)cJSON_GetArrayItem(b, 1)->valuedouble;
            return GM_OK;
        }
    }
    if (!p) return GM_OK;
    return gm_error(GM_ERR_FORMAT, "layer '%s': unreadable ZeroPadding2D padding", n->name);
}

static gm_status gm_parse_batchnorm(const cJSON *cfg, gm_node *n) {
    n->op = GM_OP_BATCHNORM;
    const cJSON *axis = gm_json_get(cfg, "axis");
    int a = -1;
    if (cJSON_IsNumber(axis)) a = (int)axis->valuedouble;
    else if (cJSON_IsArray(axis) && cJSON_GetArraySize(axis) == 1) a = (int)cJSON_GetArrayItem(axis, 0)->valuedouble;
    else if (axis) a = -100;
    if (a != -1 && a != 3)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': BatchNormalization over axis %d (only the channel axis)",
                        n->name, a);
    n->bn_epsilon = (float)gm_json_number(cfg, "epsilon", 1e-3);
    n->bn_center = gm_json_bool(cfg, "center", 1);
    n->bn_scale = gm_json_bool(cfg, "scale", 1);
    return GM_OK;
}

static gm_status gm_parse_relu_layer(const cJSON *cfg, gm_node *n) {
    n->op = GM_OP_ACTIVATION;
    n->act = gm_activation_make(GM_ACT_RELU);
    const cJSON *mv = gm_json_get(cfg, "max_value");
    if (cJSON_IsNumber(mv)) n->act.max_value = (float)mv->valuedouble;
    n->act.negative_slope = (float)gm_json_number(cfg, "negative_slope", 0.0);
    n->act.threshold = (float)gm_json_number(cfg, "threshold", 0.0);
    return GM_OK;
}

static gm_status gm_parse_rescaling(const cJSON *cfg, gm_node *n) {
    n->op = GM_OP_RESCALING;
    const cJSON *scale = gm_json_get(cfg, "scale"), *offset = gm_json_get(cfg, "offset");
    if ((scale && !cJSON_IsNumber(scale)) || (offset && !cJSON_IsNumber(offset)))
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': per-channel Rescaling is not supported (scalar only)", n->name);
    n->rescale_scale = scale ? (float)scale->valuedouble : 1.0f;
    n->rescale_offset = offset ? (float)offset->valuedouble : 0.0f;
    return GM_OK;
}

/* Reads an input shape ([null,H,W,C]) from an InputLayer or first-layer config. */
gm_status gm_keras_input_shape(const cJSON *cfg, const char *layer, int *h, int *w, int *c, int *found) {
    const cJSON *shape = gm_json_get(cfg, "batch_shape");
    if (!shape) shape = gm_json_get(cfg, "batch_input_shape");
    *found = 0;
    if (!shape) return GM_OK;
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 4)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': input of rank %d; gradmap needs (H,W,C) images", layer,
                        cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) - 1 : -1);
    const cJSON *d[3] = {cJSON_GetArrayItem(shape, 1), cJSON_GetArrayItem(shape, 2), cJSON_GetArrayItem(shape, 3)};
    if (!cJSON_IsNumber(d[0]) || !cJSON_IsNumber(d[1]) || !cJSON_IsNumber(d[2]))
        return gm_error(GM_ERR_UNSUPPORTED,
                        "layer '%s': input shape has unknown (None) dimensions; gradmap needs a fixed H,W,C", layer);
    *h = (int)d[0]->valuedouble;
    *w = (int)d[1]->valuedouble;
    *c = (int)d[2]->valuedouble;
    *found = 1;
    return GM_OK;
}

gm_status gm_keras_layer_to_node(const cJSON *layer, gm_node *n) {
    const char *cls = gm_json_string(layer, "class_name");
    const cJSON *cfg = gm_json_get(layer, "config");
    const char *name = gm_json_string(cfg, "name");
    if (!name) name = gm_json_string(layer, "name");
    if (!cls || !cJSON_IsObject(cfg) || !name)
        return gm_error(GM_ERR_FORMAT, "a layer entry lacks class_name, config or name");
    memset(n, 0, sizeof *n);
    if (strlen(name) >= sizeof n->name) return gm_error(GM_ERR_FORMAT, "layer name '%.40s...' is too long", name);
    snprintf(n->name, sizeof n->name, "%s", name);
    snprintf(n->class_name, sizeof n->class_name, "%s", cls);
    n->groups = 1;
    if (strcmp(cls, "InputLayer") == 0) n->op = GM_OP_INPUT;
    else if (strcmp(cls, "Conv2D") == 0 || strcmp(cls, "Convolution2D") == 0) return gm_parse_conv(cfg, n);
    else if (strcmp(cls, "Dense") == 0) {
        n->op = GM_OP_DENSE;
        n->dense.out = gm_json_int(cfg, "units", 0);
        n->use_bias = gm_json_bool(cfg, "use_bias", 1);
        return gm_activation_from_config(cfg, n->name, &n->dense.act);
    } else if (strcmp(cls, "MaxPooling2D") == 0 || strcmp(cls, "MaxPool2D") == 0)
        return gm_parse_pool(cfg, n, GM_OP_MAXPOOL);
    else if (strcmp(cls, "AveragePooling2D") == 0 || strcmp(cls, "AvgPool2D") == 0)
        return gm_parse_pool(cfg, n, GM_OP_AVGPOOL);
    else if (strcmp(cls, "GlobalAveragePooling2D") == 0 || strcmp(cls, "GlobalAvgPool2D") == 0 ||
             strcmp(cls, "GlobalMaxPooling2D") == 0 || strcmp(cls, "GlobalMaxPool2D") == 0) {
        n->op = strstr(cls, "Max") ? GM_OP_GMP : GM_OP_GAP;
        n->keepdims = gm_json_bool(cfg, "keepdims", 0);
        return gm_check_channels_last(cfg, n);
    } else if (strcmp(cls, "BatchNormalization") == 0) return gm_parse_batchnorm(cfg, n);
    else if (strcmp(cls, "Activation") == 0) {
        n->op = GM_OP_ACTIVATION;
        return gm_activation_from_config(cfg, n->name, &n->act);
    } else if (strcmp(cls, "ReLU") == 0) return gm_parse_relu_layer(cfg, n);
    else if (strcmp(cls, "Softmax") == 0) {
        const cJSON *axis = gm_json_get(cfg, "axis");
        if (cJSON_IsNumber(axis) && (int)axis->valuedouble != -1)
            return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': Softmax over axis %d (only the last axis)", n->name,
                            (int)axis->valuedouble);
        n->op = GM_OP_ACTIVATION;
        n->act = gm_activation_make(GM_ACT_SOFTMAX);
    } else if (strcmp(cls, "Add") == 0) n->op = GM_OP_ADD;
    else if (strcmp(cls, "Flatten") == 0) {
        n->op = GM_OP_FLATTEN;
        return gm_check_channels_last(cfg, n);
    } else if (strcmp(cls, "Dropout") == 0 || strcmp(cls, "SpatialDropout2D") == 0) n->op = GM_OP_IDENTITY;
    else if (strcmp(cls, "ZeroPadding2D") == 0) return gm_parse_zeropad(cfg, n);
    else if (strcmp(cls, "Rescaling") == 0) return gm_parse_rescaling(cfg, n);
    else if (strcmp(cls, "Functional") == 0 || strcmp(cls, "Sequential") == 0 || strcmp(cls, "Model") == 0)
        return gm_error(GM_ERR_UNSUPPORTED,
                        "layer '%s' is a nested %s model; gradmap needs a flat model (rebuild it without nesting)",
                        n->name, cls);
    else
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s' has class %s, which gradmap does not support (supported: %s)",
                        n->name, cls, gm_keras_supported_layers());
    return GM_OK;
}
