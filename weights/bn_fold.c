/* bn_fold.c — inference-time simplification of the graph once weights are loaded:
 *  - BatchNormalization after a convolution (or dense layer) with a linear activation and no
 *    other reader is folded into its kernel and bias:
 *        s[o] = gamma[o] / sqrt(var[o] + eps),  W'[..., o] = W[..., o] * s[o],
 *        b'[o] = (b[o] - mean[o]) * s[o] + beta[o]
 *    (computed in double, stored in float32);
 *  - a plain ReLU that then reads only that layer is fused as the layer's activation;
 *  - a BatchNormalization that cannot be folded becomes a per-channel affine y = x*s + (beta - mean*s).
 * Absorbed nodes become GM_OP_IDENTITY (their output aliases their input) and every node whose own
 * value is no longer materialised records `fused_into`. */
#include <math.h>
#include <stdlib.h>

#include "graph.h"

static int gm_is_foldable_producer(const gm_graph *g, int producer) {
    const gm_node *p = &g->nodes[producer];
    const gm_activation *act = p->op == GM_OP_CONV2D ? &p->conv.act : p->op == GM_OP_DENSE ? &p->dense.act : NULL;
    if (!act || act->kind != GM_ACT_LINEAR || !p->kernel) return 0;
    return gm_graph_consumer_count(g, producer) == 1;
}

static gm_status gm_bn_scale_shift(const gm_node *bn, int c, double *scale, double *shift) {
    for (int k = 0; k < c; ++k) {
        double gamma = bn->bn_gamma ? bn->bn_gamma[k] : 1.0;
        double beta = bn->bn_beta ? bn->bn_beta[k] : 0.0;
        double var = bn->bn_var[k];
        if (var + bn->bn_epsilon < 0.0)
            return gm_error(GM_ERR_FORMAT, "layer '%s': moving_variance[%d] = %g is negative", bn->name, k, var);
        scale[k] = gamma / sqrt(var + (double)bn->bn_epsilon);
        shift[k] = beta - (double)bn->bn_mean[k] * scale[k];
    }
    return GM_OK;
}

static gm_status gm_fold_into_producer(gm_graph *g, int bn_index, const double *scale, const double *shift) {
    gm_node *bn = &g->nodes[bn_index];
    gm_node *p = &g->nodes[bn->inputs[0]];
    int cout = p->op == GM_OP_CONV2D ? p->conv.cout : p->dense.out;
    size_t rows = (size_t)gm_node_param_count(p) - (p->use_bias ? (size_t)cout : 0);
    rows /= (size_t)cout;
    if (!p->bias) {
        p->bias = calloc((size_t)cout, sizeof(float));
        if (!p->bias) return gm_error(GM_ERR_NOMEM, "out of memory folding '%s'", bn->name);
        p->use_bias = 1;
    }
    /* Kernels are (..., cout) row-major in both HWIO and IO layouts: the output channel is the
     * fastest axis. */
    for (size_t r = 0; r < rows; ++r)
        for (int o = 0; o < cout; ++o) p->kernel[r * (size_t)cout + o] = (float)(p->kernel[r * (size_t)cout + o] * scale[o]);
    for (int o = 0; o < cout; ++o) p->bias[o] = (float)(p->bias[o] * scale[o] + shift[o]);
    p->fused_into = bn_index;
    bn->op = GM_OP_IDENTITY;
    return GM_OK;
}

static gm_status gm_make_affine(gm_node *bn, const double *scale, const double *shift) {
    int c = bn->out.c;
    float *s = malloc((size_t)c * sizeof *s);
    float *b = malloc((size_t)c * sizeof *b);
    if (!s || !b) {
        free(s);
        free(b);
        return gm_error(GM_ERR_NOMEM, "out of memory for '%s'", bn->name);
    }
    for (int k = 0; k < c; ++k) {
        s[k] = (float)scale[k];
        b[k] = (float)shift[k];
    }
    free(bn->affine_scale);
    free(bn->bias);
    bn->affine_scale = s;
    bn->bias = b;
    bn->op = GM_OP_CHANNEL_AFFINE;
    return GM_OK;
}

/* Walks IDENTITY aliases back to the node that owns the storage. */
static int gm_storage_owner(const gm_graph *g, int index) {
    while (g->nodes[index].op == GM_OP_IDENTITY || g->nodes[index].op == GM_OP_FLATTEN) index = g->nodes[index].inputs[0];
    return index;
}

static void gm_fuse_relu(gm_graph *g, int relu_index) {
    gm_node *r = &g->nodes[relu_index];
    if (r->op != GM_OP_ACTIVATION || !gm_activation_is_plain_relu(&r->act)) return;
    int src = r->inputs[0];
    int owner = gm_storage_owner(g, src);
    gm_node *p = &g->nodes[owner];
    if (p->op != GM_OP_CONV2D && p->op != GM_OP_DENSE) return;
    gm_activation *act = p->op == GM_OP_CONV2D ? &p->conv.act : &p->dense.act;
    if (act->kind != GM_ACT_LINEAR) return;
    /* Every node on the alias chain must have the ReLU as its only reader. */
    for (int i = src;; i = g->nodes[i].inputs[0]) {
        if (gm_graph_consumer_count(g, i) != 1) return;
        if (i == owner) break;
    }
    *act = gm_activation_make(GM_ACT_RELU);
    for (int i = src;; i = g->nodes[i].inputs[0]) {
        g->nodes[i].fused_into = relu_index;
        if (i == owner) break;
    }
    r->op = GM_OP_IDENTITY;
}

gm_status gm_graph_fold_batchnorm(gm_graph *g) {
    for (int i = 0; i < g->n_nodes; ++i) {
        gm_node *bn = &g->nodes[i];
        if (bn->op != GM_OP_BATCHNORM) continue;
        if (!bn->bn_mean || !bn->bn_var)
            return gm_error(GM_ERR_FORMAT, "layer '%s' (BatchNormalization) has no moving statistics", bn->name);
        int c = bn->out.c;
        double *scale = malloc((size_t)c * sizeof *scale);
        double *shift = malloc((size_t)c * sizeof *shift);
        gm_status st = (scale && shift) ? gm_bn_scale_shift(bn, c, scale, shift)
                                        : gm_error(GM_ERR_NOMEM, "out of memory folding '%s'", bn->name);
        if (st == GM_OK) {
            if (gm_is_foldable_producer(g, bn->inputs[0])) st = gm_fold_into_producer(g, i, scale, shift);
            else st = gm_make_affine(bn, scale, shift);
        }
        free(scale);
        free(shift);
        if (st != GM_OK) return st;
    }
    for (int i = 0; i < g->n_nodes; ++i) gm_fuse_relu(g, i);
    return GM_OK;
}
