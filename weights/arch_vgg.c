/* arch_vgg.c — keras.applications VGG16 / VGG19 as a gm_graph (keras-formats.md §2.1), plus the
 * gm_arch_build() dispatcher over all built-in architectures.
 *
 * Layout: 5 blocks of 3x3 stride-1 "same" Conv2D with bias and fused ReLU (2,2,3,3,3 convs for
 * VGG16; 2,2,4,4,4 for VGG19), each block closed by a 2x2 stride-2 "valid" MaxPooling2D:
 * 224 -> 112 -> 56 -> 28 -> 14 -> 7. Top: Flatten (25088, HWC order), fc1 and fc2 Dense(4096, relu),
 * predictions Dense(1000, softmax) — the softmax is split off by gm_graph_finalize. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "arch_builtin.h"

typedef struct gm_vgg_builder {
    gm_graph *g;
    int last;     /* index of the most recent node */
    int channels; /* its output channels, to fill cin / dense.in before finalize does */
} gm_vgg_builder;

static gm_status gm_vgg_add(gm_vgg_builder *b, gm_node *n) {
    if (n->op != GM_OP_INPUT) {
        n->inputs[0] = b->last;
        n->n_inputs = 1;
    }
    return gm_graph_add_node(b->g, n, &b->last);
}

static void gm_vgg_node(gm_node *n, gm_op op, const char *class_name, const char *name) {
    memset(n, 0, sizeof *n);
    n->op = op;
    snprintf(n->class_name, sizeof n->class_name, "%s", class_name);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->groups = 1;
    n->fused_into = -1;
}

static gm_status gm_vgg_conv(gm_vgg_builder *b, const char *name, int filters) {
    gm_node n;
    gm_vgg_node(&n, GM_OP_CONV2D, "Conv2D", name);
    n.conv = (gm_conv2d_desc){.kh = 3, .kw = 3, .cin = b->channels, .cout = filters, .stride_h = 1,
                              .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
                              .act = gm_activation_make(GM_ACT_RELU)};
    snprintf(n.padding_mode, sizeof n.padding_mode, "same");
    n.use_bias = 1;
    b->channels = filters;
    return gm_vgg_add(b, &n);
}

static gm_status gm_vgg_pool(gm_vgg_builder *b, const char *name) {
    gm_node n;
    gm_vgg_node(&n, GM_OP_MAXPOOL, "MaxPooling2D", name);
    n.pool = (gm_pool_desc){.ph = 2, .pw = 2, .stride_h = 2, .stride_w = 2};
    snprintf(n.padding_mode, sizeof n.padding_mode, "valid");
    return gm_vgg_add(b, &n);
}

static gm_status gm_vgg_dense(gm_vgg_builder *b, const char *name, int units, gm_act_kind act) {
    gm_node n;
    gm_vgg_node(&n, GM_OP_DENSE, "Dense", name);
    n.dense = (gm_dense_desc){.in = b->channels, .out = units, .act = gm_activation_make(act)};
    n.use_bias = 1;
    b->channels = units;
    return gm_vgg_add(b, &n);
}

static gm_status gm_vgg_layers(gm_vgg_builder *b, int depth, int include_top) {
    static const int filters[5] = {64, 128, 256, 512, 512};
    const int convs_vgg16[5] = {2, 2, 3, 3, 3}, convs_vgg19[5] = {2, 2, 4, 4, 4};
    const int *convs = depth == 19 ? convs_vgg19 : convs_vgg16;
    char name[GM_NAME_MAX];

    gm_node input;
    gm_vgg_node(&input, GM_OP_INPUT, "InputLayer", "input_layer");
    GM_TRY(gm_vgg_add(b, &input));
    int side = b->g->input_h;
    for (int block = 1; block <= 5; ++block) {
        for (int i = 1; i <= convs[block - 1]; ++i) {
            snprintf(name, sizeof name, "block%d_conv%d", block, i);
            GM_TRY(gm_vgg_conv(b, name, filters[block - 1]));
        }
        snprintf(name, sizeof name, "block%d_pool", block);
        GM_TRY(gm_vgg_pool(b, name));
        side /= 2;
    }
    if (!include_top) return GM_OK;

    gm_node flatten;
    gm_vgg_node(&flatten, GM_OP_FLATTEN, "Flatten", "flatten");
    GM_TRY(gm_vgg_add(b, &flatten));
    b->channels *= side * side;
    GM_TRY(gm_vgg_dense(b, "fc1", 4096, GM_ACT_RELU));
    GM_TRY(gm_vgg_dense(b, "fc2", 4096, GM_ACT_RELU));
    return gm_vgg_dense(b, "predictions", 1000, GM_ACT_SOFTMAX);
}

gm_status gm_arch_build_vgg(int depth, int include_top, gm_graph **out) {
    *out = NULL;
    if (depth != 16 && depth != 19) return gm_error(GM_ERR_INVALID_ARG, "VGG depth %d (16 or 19 supported)", depth);
    gm_graph *g = NULL;
    GM_TRY(gm_graph_create(depth == 19 ? "vgg19" : "vgg16", &g));
    g->input_h = g->input_w = 224;
    g->input_c = 3;
    g->preprocess = GM_PREPROCESS_CAFFE;
    gm_vgg_builder b = {.g = g, .last = -1, .channels = 3};
    gm_status st = gm_vgg_layers(&b, depth, include_top);
    if (st == GM_OK) st = gm_graph_finalize(g);
    if (st != GM_OK) {
        gm_graph_free(&g);
        return gm_error_context(st, "building %s: ", depth == 19 ? "vgg19" : "vgg16");
    }
    *out = g;
    return GM_OK;
}

/* ---- registry of the built-in architectures ---- */

const char *gm_arch_names(void) { return "vgg16|vgg19|resnet50"; }

gm_status gm_arch_build(const char *arch, int include_top, gm_graph **out) {
    *out = NULL;
    if (!arch) return gm_error(GM_ERR_INVALID_ARG, "no architecture name given (%s)", gm_arch_names());
    if (strcasecmp(arch, "vgg16") == 0) return gm_arch_build_vgg(16, include_top, out);
    if (strcasecmp(arch, "vgg19") == 0) return gm_arch_build_vgg(19, include_top, out);
    if (strcasecmp(arch, "resnet50") == 0) return gm_arch_build_resnet50(include_top, out);
    return gm_error(GM_ERR_NOT_FOUND, "unknown architecture '%s' (supported: %s)", arch, gm_arch_names());
}
