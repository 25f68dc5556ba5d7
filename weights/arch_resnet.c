/* arch_resnet.c — keras.applications ResNet50 (Keras 3 / tf.keras `applications/resnet.py`, the
 * "current" weights of keras-formats.md §2.2 (a)) as a gm_graph.
 *
 * Stem: conv1_pad (3 each side) -> conv1_conv 7x7/2 valid -> conv1_bn -> conv1_relu -> pool1_pad
 * (1 each side) -> pool1_pool 3x3/2 valid: 224 -> 230 -> 112 -> 114 -> 56.
 * Stacks conv2..conv5 (filters 64,128,256,512; 3,4,6,3 bottleneck blocks; first-block stride
 * 1,2,2,2). The stride sits on the 1x1 convs (_1_conv and the _0_conv shortcut), as in Keras.
 * Every conv has a bias; BatchNormalization eps is 1.001e-5 with center and scale.
 * Nodes are appended in Keras's model.layers order, where a first block's shortcut layers come
 * after _2_relu: _0_conv, _3_conv, _0_bn, _3_bn (TF issue #33459) — still topological.
 * Add takes [shortcut, residual], Keras's input order. Top: avg_pool (GAP) -> predictions
 * Dense(1000, softmax), the softmax split off by gm_graph_finalize. */
#include <stdio.h>
#include <string.h>

#include "arch_builtin.h"

typedef struct gm_resnet_builder {
    gm_graph *g;
    char prefix[64]; /* "conv3_block2", prepended to per-block layer names */
} gm_resnet_builder;

static void gm_resnet_node(gm_resnet_builder *b, gm_node *n, gm_op op, const char *class_name, const char *suffix,
                           int input) {
    memset(n, 0, sizeof *n);
    n->op = op;
    snprintf(n->class_name, sizeof n->class_name, "%s", class_name);
    if (b->prefix[0])
        snprintf(n->name, sizeof n->name, "%s_%s", b->prefix, suffix);
    else
        snprintf(n->name, sizeof n->name, "%s", suffix);
    n->groups = 1;
    n->fused_into = -1;
    if (input >= 0) {
        n->inputs[0] = input;
        n->n_inputs = 1;
    }
}

/* Channels produced by node `index` before finalize has run: the nearest conv (or the input)
 * upstream, since every other ResNet layer keeps the channel count. */
static int gm_resnet_channels(const gm_graph *g, int index) {
    while (g->nodes[index].op != GM_OP_CONV2D && g->nodes[index].op != GM_OP_INPUT) index = g->nodes[index].inputs[0];
    return g->nodes[index].op == GM_OP_CONV2D ? g->nodes[index].conv.cout : g->input_c;
}

/* Conv2D with bias and no activation (ResNet applies BN, then a separate Activation). */
static gm_status gm_resnet_conv(gm_resnet_builder *b, const char *suffix, int input, int k, int stride, int filters,
                                const char *padding, int *index) {
    gm_node n;
    gm_resnet_node(b, &n, GM_OP_CONV2D, "Conv2D", suffix, input);
    n.conv = (gm_conv2d_desc){.kh = k, .kw = k, .cout = filters, .stride_h = stride, .stride_w = stride,
                              .dilation_h = 1, .dilation_w = 1, .act = gm_activation_make(GM_ACT_LINEAR)};
    n.conv.cin = gm_resnet_channels(b->g, input);
    snprintf(n.padding_mode, sizeof n.padding_mode, "%s", padding);
    n.use_bias = 1;
    return gm_graph_add_node(b->g, &n, index);
}

static gm_status gm_resnet_bn(gm_resnet_builder *b, const char *suffix, int input, int *index) {
    gm_node n;
    gm_resnet_node(b, &n, GM_OP_BATCHNORM, "BatchNormalization", suffix, input);
    n.bn_epsilon = 1.001e-5f;
    n.bn_center = 1;
    n.bn_scale = 1;
    return gm_graph_add_node(b->g, &n, index);
}

static gm_status gm_resnet_relu(gm_resnet_builder *b, const char *suffix, int input, int *index) {
    gm_node n;
    gm_resnet_node(b, &n, GM_OP_ACTIVATION, "Activation", suffix, input);
    n.act = gm_activation_make(GM_ACT_RELU);
    return gm_graph_add_node(b->g, &n, index);
}

static gm_status gm_resnet_zeropad(gm_resnet_builder *b, const char *suffix, int input, int pad, int *index) {
    gm_node n;
    gm_resnet_node(b, &n, GM_OP_ZEROPAD, "ZeroPadding2D", suffix, input);
    n.pad_top = n.pad_bottom = n.pad_left = n.pad_right = pad;
    return gm_graph_add_node(b->g, &n, index);
}

/* One bottleneck block (Keras `block1`): returns the index of its `_out` node in *out. */
static gm_status gm_resnet_block(gm_resnet_builder *b, int input, int filters, int stride, int conv_shortcut,
                                 int *out) {
    int c1, bn1, r1, c2, bn2, r2, c0 = -1, c3, bn0 = -1, bn3, add;
    GM_TRY(gm_resnet_conv(b, "1_conv", input, 1, stride, filters, "valid", &c1));
    GM_TRY(gm_resnet_bn(b, "1_bn", c1, &bn1));
    GM_TRY(gm_resnet_relu(b, "1_relu", bn1, &r1));
    GM_TRY(gm_resnet_conv(b, "2_conv", r1, 3, 1, filters, "same", &c2));
    GM_TRY(gm_resnet_bn(b, "2_bn", c2, &bn2));
    GM_TRY(gm_resnet_relu(b, "2_relu", bn2, &r2));
    if (conv_shortcut) GM_TRY(gm_resnet_conv(b, "0_conv", input, 1, stride, 4 * filters, "valid", &c0));
    GM_TRY(gm_resnet_conv(b, "3_conv", r2, 1, 1, 4 * filters, "valid", &c3));
    if (conv_shortcut) GM_TRY(gm_resnet_bn(b, "0_bn", c0, &bn0));
    GM_TRY(gm_resnet_bn(b, "3_bn", c3, &bn3));

    gm_node n;
    gm_resnet_node(b, &n, GM_OP_ADD, "Add", "add", conv_shortcut ? bn0 : input);
    n.inputs[1] = bn3;
    n.n_inputs = 2;
    GM_TRY(gm_graph_add_node(b->g, &n, &add));
    return gm_resnet_relu(b, "out", add, out);
}

static gm_status gm_resnet50_layers(gm_resnet_builder *b, int include_top) {
    static const int filters[4] = {64, 128, 256, 512}, blocks[4] = {3, 4, 6, 3}, strides[4] = {1, 2, 2, 2};
    gm_node n;
    int x;
    gm_resnet_node(b, &n, GM_OP_INPUT, "InputLayer", "input_layer", -1);
    GM_TRY(gm_graph_add_node(b->g, &n, &x));
    GM_TRY(gm_resnet_zeropad(b, "conv1_pad", x, 3, &x));
    GM_TRY(gm_resnet_conv(b, "conv1_conv", x, 7, 2, 64, "valid", &x));
    GM_TRY(gm_resnet_bn(b, "conv1_bn", x, &x));
    GM_TRY(gm_resnet_relu(b, "conv1_relu", x, &x));
    GM_TRY(gm_resnet_zeropad(b, "pool1_pad", x, 1, &x));
    gm_resnet_node(b, &n, GM_OP_MAXPOOL, "MaxPooling2D", "pool1_pool", x);
    n.pool = (gm_pool_desc){.ph = 3, .pw = 3, .stride_h = 2, .stride_w = 2};
    snprintf(n.padding_mode, sizeof n.padding_mode, "valid");
    GM_TRY(gm_graph_add_node(b->g, &n, &x));

    for (int s = 0; s < 4; ++s)
        for (int k = 1; k <= blocks[s]; ++k) {
            snprintf(b->prefix, sizeof b->prefix, "conv%d_block%d", s + 2, k);
            GM_TRY(gm_resnet_block(b, x, filters[s], k == 1 ? strides[s] : 1, k == 1, &x));
        }
    b->prefix[0] = '\0';
    if (!include_top) return GM_OK;

    gm_resnet_node(b, &n, GM_OP_GAP, "GlobalAveragePooling2D", "avg_pool", x);
    GM_TRY(gm_graph_add_node(b->g, &n, &x));
    gm_resnet_node(b, &n, GM_OP_DENSE, "Dense", "predictions", x);
    n.dense = (gm_dense_desc){.in = 4 * filters[3], .out = 1000, .act = gm_activation_make(GM_ACT_SOFTMAX)};
    n.use_bias = 1;
    return gm_graph_add_node(b->g, &n, &x);
}

gm_status gm_arch_build_resnet50(int include_top, gm_graph **out) {
    *out = NULL;
    gm_graph *g = NULL;
    GM_TRY(gm_graph_create("resnet50", &g));
    g->input_h = g->input_w = 224;
    g->input_c = 3;
    g->preprocess = GM_PREPROCESS_CAFFE;
    gm_resnet_builder b = {.g = g, .prefix = ""};
    gm_status st = gm_resnet50_layers(&b, include_top);
    if (st == GM_OK) st = gm_graph_finalize(g);
    if (st != GM_OK) {
        gm_graph_free(&g);
        return gm_error_context(st, "building resnet50: ");
    }
    *out = g;
    return GM_OK;
}
