/* graph.c — building, shape inference and accounting for the model graph (see graph.h).
 * Shapes are NHWC without the batch. TF padding rules: "valid" out = floor((in-(k-1)d-1)/s)+1;
 * "same" out = ceil(in/s), total pad = max((out-1)s + (k-1)d + 1 - in, 0), the odd extra
 * row/column at the bottom/right. */
#include "graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

gm_status gm_graph_create(const char *model_name, gm_graph **out) {
    *out = NULL;
    gm_graph *g = calloc(1, sizeof *g);
    if (!g) return gm_error(GM_ERR_NOMEM, "out of memory creating graph");
    snprintf(g->model_name, sizeof g->model_name, "%s", model_name ? model_name : "model");
    g->output_node = -1;
    g->logits_node = -1;
    *out = g;
    return GM_OK;
}

static void gm_node_free_weights(gm_node *n) {
    free(n->kernel);
    free(n->bias);
    free(n->bn_gamma);
    free(n->bn_beta);
    free(n->bn_mean);
    free(n->bn_var);
    free(n->affine_scale);
    n->kernel = n->bias = n->bn_gamma = n->bn_beta = n->bn_mean = n->bn_var = n->affine_scale = NULL;
}

void gm_graph_free(gm_graph **g) {
    if (!g || !*g) return;
    for (int i = 0; i < (*g)->n_nodes; ++i) gm_node_free_weights(&(*g)->nodes[i]);
    for (int i = 0; i < (*g)->n_class_names; ++i) free((*g)->class_names[i]);
    free((*g)->class_names);
    free((*g)->nodes);
    free(*g);
    *g = NULL;
}

int gm_graph_find(const gm_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; ++i)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

gm_status gm_graph_add_node(gm_graph *g, const gm_node *node, int *index) {
    if (node->name[0] == '\0') return gm_error(GM_ERR_INVALID_ARG, "layer without a name");
    if (gm_graph_find(g, node->name) >= 0)
        return gm_error(GM_ERR_FORMAT, "layer name '%s' appears twice", node->name);
    if (node->n_inputs < 0 || node->n_inputs > GM_MAX_INPUTS)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': %d inputs (at most %d supported)", node->name,
                        node->n_inputs, GM_MAX_INPUTS);
    for (int i = 0; i < node->n_inputs; ++i)
        if (node->inputs[i] < 0 || node->inputs[i] >= g->n_nodes)
            return gm_error(GM_ERR_FORMAT, "layer '%s': input %d refers to a layer not defined before it",
                            node->name, i);
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        gm_node *grown = realloc(g->nodes, (size_t)cap * sizeof *grown);
        if (!grown) return gm_error(GM_ERR_NOMEM, "out of memory growing graph to %d layers", cap);
        g->nodes = grown;
        g->cap_nodes = cap;
    }
    g->nodes[g->n_nodes] = *node;
    g->nodes[g->n_nodes].fused_into = -1;
    if (index) *index = g->n_nodes;
    g->n_nodes++;
    return GM_OK;
}

static void gm_shape_text(const gm_shape *s, char *buf, size_t size) {
    if (s->rank == 4) snprintf(buf, size, "(%d,%d,%d)", s->h, s->w, s->c);
    else snprintf(buf, size, "(%d)", s->c);
}

/* Resolves one spatial axis under TF rules; returns the output size or -1 if the window does not
 * fit. */
static int gm_resolve_axis(int in, int k, int s, int d, int same, int *pad_before, int *pad_after) {
    int eff = (k - 1) * d + 1;
    if (same) {
        int out = (in + s - 1) / s;
        int total = (out - 1) * s + eff - in;
        if (total < 0) total = 0;
        *pad_before = total / 2;
        *pad_after = total - total / 2;
        return out;
    }
    *pad_before = *pad_after = 0;
    if (in < eff) return -1;
    return (in - eff) / s + 1;
}

static gm_status gm_infer_spatial(gm_node *n, const gm_shape *in, int k_h, int k_w, int s_h, int s_w, int d_h,
                                  int d_w, int *pt, int *pb, int *pl, int *pr) {
    int same = strcasecmp(n->padding_mode, "same") == 0;
    if (!same && strcasecmp(n->padding_mode, "valid") != 0)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': padding '%s' (only same/valid)", n->name, n->padding_mode);
    if (k_h < 1 || k_w < 1 || s_h < 1 || s_w < 1 || d_h < 1 || d_w < 1)
        return gm_error(GM_ERR_FORMAT, "layer '%s': window %dx%d, strides %dx%d, dilation %dx%d are invalid", n->name,
                        k_h, k_w, s_h, s_w, d_h, d_w);
    int oh = gm_resolve_axis(in->h, k_h, s_h, d_h, same, pt, pb);
    int ow = gm_resolve_axis(in->w, k_w, s_w, d_w, same, pl, pr);
    if (oh < 1 || ow < 1)
        return gm_error(GM_ERR_SHAPE, "layer '%s': window %dx%d (dilation %dx%d) does not fit input (%d,%d,%d)",
                        n->name, k_h, k_w, d_h, d_w, in->h, in->w, in->c);
    n->out.rank = 4;
    n->out.h = oh;
    n->out.w = ow;
    return GM_OK;
}

static gm_status gm_require_rank4(const gm_node *n, const gm_shape *in) {
    if (in->rank == 4) return GM_OK;
    return gm_error(GM_ERR_SHAPE, "layer '%s' (%s) needs an image-shaped (H,W,C) input, got (%d)", n->name,
                    n->class_name, in->c);
}

static gm_status gm_infer_node(gm_graph *g, gm_node *n) {
    const gm_shape *in = n->n_inputs > 0 ? &g->nodes[n->inputs[0]].out : NULL;
    if (n->op != GM_OP_INPUT && !in) return gm_error(GM_ERR_FORMAT, "layer '%s' has no input", n->name);
    if (n->op != GM_OP_ADD && n->op != GM_OP_INPUT && n->n_inputs != 1)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s' (%s) has %d inputs, expected 1", n->name, n->class_name,
                        n->n_inputs);
    switch (n->op) {
    case GM_OP_INPUT:
        n->out = (gm_shape){4, g->input_h, g->input_w, g->input_c};
        if (g->input_h < 1 || g->input_w < 1 || g->input_c < 1)
            return gm_error(GM_ERR_UNSUPPORTED,
                            "input '%s' has shape (%d,%d,%d); gradmap needs a fixed (H,W,C) image input", n->name,
                            g->input_h, g->input_w, g->input_c);
        return GM_OK;
    case GM_OP_CONV2D: {
        GM_TRY(gm_require_rank4(n, in));
        if (n->groups > 1)
            return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': grouped convolution (groups=%d) is not supported",
                            n->name, n->groups);
        gm_conv2d_desc *c = &n->conv;
        c->cin = in->c;
        GM_TRY(gm_infer_spatial(n, in, c->kh, c->kw, c->stride_h, c->stride_w, c->dilation_h, c->dilation_w,
                                &c->pad_top, &c->pad_bottom, &c->pad_left, &c->pad_right));
        if (c->cout < 1) return gm_error(GM_ERR_FORMAT, "layer '%s': %d filters", n->name, c->cout);
        n->out.c = c->cout;
        return GM_OK;
    }
    case GM_OP_DENSE:
        if (in->rank != 2)
            return gm_error(GM_ERR_UNSUPPORTED,
                            "layer '%s' (Dense) applied to an image-shaped input (%d,%d,%d); gradmap needs a "
                            "Flatten or global pooling before Dense",
                            n->name, in->h, in->w, in->c);
        n->dense.in = in->c;
        if (n->dense.out < 1) return gm_error(GM_ERR_FORMAT, "layer '%s': %d units", n->name, n->dense.out);
        n->out = (gm_shape){2, 1, 1, n->dense.out};
        return GM_OK;
    case GM_OP_MAXPOOL:
    case GM_OP_AVGPOOL: {
        GM_TRY(gm_require_rank4(n, in));
        gm_pool_desc *p = &n->pool;
        GM_TRY(gm_infer_spatial(n, in, p->ph, p->pw, p->stride_h, p->stride_w, 1, 1, &p->pad_top, &p->pad_bottom,
                                &p->pad_left, &p->pad_right));
        n->out.c = in->c;
        return GM_OK;
    }
    case GM_OP_GAP:
    case GM_OP_GMP:
        GM_TRY(gm_require_rank4(n, in));
        n->out = n->keepdims ? (gm_shape){4, 1, 1, in->c} : (gm_shape){2, 1, 1, in->c};
        return GM_OK;
    case GM_OP_BATCHNORM:
    case GM_OP_CHANNEL_AFFINE:
    case GM_OP_ACTIVATION:
    case GM_OP_IDENTITY:
    case GM_OP_RESCALING:
        n->out = *in;
        return GM_OK;
    case GM_OP_ADD:
        if (n->n_inputs < 2)
            return gm_error(GM_ERR_FORMAT, "layer '%s' (Add) has %d input(s), needs at least 2", n->name, n->n_inputs);
        for (int i = 1; i < n->n_inputs; ++i) {
            const gm_shape *o = &g->nodes[n->inputs[i]].out;
            if (o->rank != in->rank || o->h != in->h || o->w != in->w || o->c != in->c) {
                char a[64], b[64];
                gm_shape_text(in, a, sizeof a);
                gm_shape_text(o, b, sizeof b);
                return gm_error(GM_ERR_SHAPE, "layer '%s' (Add): input '%s' has shape %s but input '%s' has %s",
                                n->name, g->nodes[n->inputs[0]].name, a, g->nodes[n->inputs[i]].name, b);
            }
        }
        n->out = *in;
        return GM_OK;
    case GM_OP_FLATTEN:
        n->out = (gm_shape){2, 1, 1, in->rank == 4 ? in->h * in->w * in->c : in->c};
        return GM_OK;
    case GM_OP_ZEROPAD:
        GM_TRY(gm_require_rank4(n, in));
        if (n->pad_top < 0 || n->pad_bottom < 0 || n->pad_left < 0 || n->pad_right < 0)
            return gm_error(GM_ERR_FORMAT, "layer '%s': negative padding", n->name);
        n->out = (gm_shape){4, in->h + n->pad_top + n->pad_bottom, in->w + n->pad_left + n->pad_right, in->c};
        return GM_OK;
    }
    return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': unknown op %d", n->name, (int)n->op);
}

/* Makes logits a node of their own: a softmax fused into the output Dense/Conv is moved into a
 * new Activation node appended after it. */
static gm_status gm_split_softmax(gm_graph *g) {
    gm_node *out = &g->nodes[g->output_node];
    if (out->op == GM_OP_ACTIVATION && out->act.kind == GM_ACT_SOFTMAX) {
        g->logits_node = out->inputs[0];
        return GM_OK;
    }
    gm_activation *fused = out->op == GM_OP_DENSE ? &out->dense.act : out->op == GM_OP_CONV2D ? &out->conv.act : NULL;
    if (!fused || fused->kind != GM_ACT_SOFTMAX) {
        g->logits_node = g->output_node;
        return GM_OK;
    }
    *fused = gm_activation_make(GM_ACT_LINEAR);
    gm_node sm;
    memset(&sm, 0, sizeof sm);
    snprintf(sm.name, sizeof sm.name, "%.*s/softmax", GM_NAME_MAX - 10, out->name);
    snprintf(sm.class_name, sizeof sm.class_name, "Softmax");
    sm.op = GM_OP_ACTIVATION;
    sm.synthetic = 1;
    sm.act = gm_activation_make(GM_ACT_SOFTMAX);
    sm.inputs[0] = g->output_node;
    sm.n_inputs = 1;
    int logits = g->output_node, index = -1;
    GM_TRY(gm_graph_add_node(g, &sm, &index));
    g->nodes[index].out = g->nodes[logits].out;
    g->logits_node = logits;
    g->output_node = index;
    return GM_OK;
}

gm_status gm_graph_finalize(gm_graph *g) {
    if (g->n_nodes == 0) return gm_error(GM_ERR_FORMAT, "model has no layers");
    if (g->nodes[0].op != GM_OP_INPUT) return gm_error(GM_ERR_FORMAT, "model does not start with an input layer");
    for (int i = 1; i < g->n_nodes; ++i)
        if (g->nodes[i].op == GM_OP_INPUT)
            return gm_error(GM_ERR_UNSUPPORTED, "model has several inputs ('%s', '%s'); gradmap needs one image input",
                            g->nodes[0].name, g->nodes[i].name);
    if (g->output_node < 0) g->output_node = g->n_nodes - 1;
    for (int i = 0; i < g->n_nodes; ++i) GM_TRY(gm_infer_node(g, &g->nodes[i]));
    return gm_split_softmax(g);
}

int gm_graph_consumer_count(const gm_graph *g, int index) {
    int count = index == g->output_node || index == g->logits_node ? 1 : 0;
    for (int i = index + 1; i < g->n_nodes; ++i)
        for (int j = 0; j < g->nodes[i].n_inputs; ++j)
            if (g->nodes[i].inputs[j] == index) ++count;
    return count;
}

double gm_node_forward_macs(const gm_node *n) {
    if (n->op == GM_OP_CONV2D) return (double)n->out.h * n->out.w * n->conv.cout * n->conv.kh * n->conv.kw * n->conv.cin;
    if (n->op == GM_OP_DENSE) return (double)n->dense.in * n->dense.out;
    return 0.0;
}

double gm_graph_forward_macs(const gm_graph *g) {
    double macs = 0.0;
    for (int i = 0; i < g->n_nodes; ++i) macs += gm_node_forward_macs(&g->nodes[i]);
    return macs;
}

long long gm_node_param_count(const gm_node *n) {
    switch (n->op) {
    case GM_OP_CONV2D:
        return (long long)n->conv.kh * n->conv.kw * n->conv.cin * n->conv.cout + (n->use_bias ? n->conv.cout : 0);
    case GM_OP_DENSE:
        return (long long)n->dense.in * n->dense.out + (n->use_bias ? n->dense.out : 0);
    case GM_OP_BATCHNORM:
        return (long long)n->out.c * (2 + (n->bn_center ? 1 : 0) + (n->bn_scale ? 1 : 0));
    default:
        return 0;
    }
}

long long gm_graph_param_count(const gm_graph *g) {
    long long total = 0;
    for (int i = 0; i < g->n_nodes; ++i) total += gm_node_param_count(&g->nodes[i]);
    return total;
}

int gm_graph_default_target(const gm_graph *g) {
    int n_classes = g->nodes[g->logits_node >= 0 ? g->logits_node : g->output_node].out.c;
    for (int i = g->n_nodes - 1; i >= 0; --i) {
        const gm_node *n = &g->nodes[i];
        if (n->out.rank != 4 || n->out.h * n->out.w <= 1) continue;
        if (n->op == GM_OP_INPUT || n->op == GM_OP_MAXPOOL || n->op == GM_OP_AVGPOOL || n->op == GM_OP_ZEROPAD ||
            n->op == GM_OP_RESCALING)
            continue;
        if (n->op == GM_OP_CONV2D && n->conv.kh == 1 && n->conv.kw == 1 && n->conv.cout == n_classes) continue;
        return i;
    }
    return -1;
}

const char *gm_op_name(gm_op op) {
    switch (op) {
    case GM_OP_INPUT: return "input";
    case GM_OP_CONV2D: return "conv2d";
    case GM_OP_DENSE: return "dense";
    case GM_OP_MAXPOOL: return "maxpool";
    case GM_OP_AVGPOOL: return "avgpool";
    case GM_OP_GAP: return "global_avgpool";
    case GM_OP_GMP: return "global_maxpool";
    case GM_OP_BATCHNORM: return "batchnorm";
    case GM_OP_CHANNEL_AFFINE: return "channel_affine";
    case GM_OP_ACTIVATION: return "activation";
    case GM_OP_ADD: return "add";
    case GM_OP_FLATTEN: return "flatten";
    case GM_OP_IDENTITY: return "identity";
    case GM_OP_ZEROPAD: return "zero_pad";
    case GM_OP_RESCALING: return "rescaling";
    }
    return "unknown";
}
