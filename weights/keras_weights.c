/* keras_weights.c — attaches weights from a Keras legacy HDF5 weights group (the root of a
 * weights-only file, or /model_weights of a full model) to a finalized graph, by layer name.
 * Roles come from each layer group's `weight_names` (Keras 1 `block1_conv1_W_1:0`, Keras 2
 * `conv/kernel:0`, Keras 3 `conv/kernel` or `kernel`): last path component, `:N` suffix, the
 * `<layer>_` prefix and a trailing `_N` removed, then classified. Every dataset's shape is
 * checked against the layer before reading; missing, extra and mis-shaped weights are errors
 * naming the file, the layer and both shapes. */
#include "keras_weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5_util.h"

typedef enum gm_weight_role {
    GM_ROLE_UNKNOWN = 0,
    GM_ROLE_KERNEL,
    GM_ROLE_BIAS,
    GM_ROLE_GAMMA,
    GM_ROLE_BETA,
    GM_ROLE_MEAN,
    GM_ROLE_VAR,
    GM_ROLE_COUNT
} gm_weight_role;

static const char *gm_role_name(gm_weight_role r) {
    static const char *names[] = {"?", "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"};
    return names[r];
}

static gm_weight_role gm_classify_weight(const char *layer, const char *full) {
    char base[256];
    const char *slash = strrchr(full, '/');
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : full);
    char *colon = strchr(base, ':');
    if (colon) *colon = '\0';
    size_t ln = strlen(layer);
    const char *s = base;
    if (strncmp(s, layer, ln) == 0 && s[ln] == '_') s += ln + 1;
    char role[256];
    snprintf(role, sizeof role, "%s", s);
    /* Keras 1 appends _1, _2 to make TF variable names unique ("W_1"). */
    char *us = strrchr(role, '_');
    if (us && us[1] >= '0' && us[1] <= '9' && strspn(us + 1, "0123456789") == strlen(us + 1)) *us = '\0';
    if (!strcmp(role, "kernel") || !strcmp(role, "W") || !strcmp(role, "depthwise_kernel")) return GM_ROLE_KERNEL;
    if (!strcmp(role, "bias") || !strcmp(role, "b")) return GM_ROLE_BIAS;
    if (!strcmp(role, "gamma")) return GM_ROLE_GAMMA;
    if (!strcmp(role, "beta")) return GM_ROLE_BETA;
    if (!strcmp(role, "moving_mean") || !strcmp(role, "running_mean")) return GM_ROLE_MEAN;
    if (!strcmp(role, "moving_variance") || !strcmp(role, "running_std")) return GM_ROLE_VAR;
    return GM_ROLE_UNKNOWN;
}

/* What a layer needs: per role the expected element count and printable shape. */
typedef struct gm_expected {
    long long count[GM_ROLE_COUNT];
    char shape[GM_ROLE_COUNT][64];
    float **dst[GM_ROLE_COUNT];
    /* Positional order Keras writes them in, for files whose names are not classifiable. */
    gm_weight_role order[GM_ROLE_COUNT];
    int n_order;
} gm_expected;

static void gm_expect(gm_expected *e, gm_weight_role r, long long count, float **dst, const char *fmt, int a, int b,
                      int c, int d, int rank) {
    e->count[r] = count;
    e->dst[r] = dst;
    e->order[e->n_order++] = r;
    if (rank == 4) snprintf(e->shape[r], sizeof e->shape[r], fmt, a, b, c, d);
    else if (rank == 2) snprintf(e->shape[r], sizeof e->shape[r], fmt, a, b);
    else snprintf(e->shape[r], sizeof e->shape[r], fmt, a);
}

static void gm_node_expectations(gm_node *n, gm_expected *e) {
    memset(e, 0, sizeof *e);
    if (n->op == GM_OP_CONV2D) {
        gm_conv2d_desc *c = &n->conv;
        gm_expect(e, GM_ROLE_KERNEL, (long long)c->kh * c->kw * c->cin * c->cout, &n->kernel, "(%d,%d,%d,%d)", c->kh,
                  c->kw, c->cin, c->cout, 4);
        if (n->use_bias) gm_expect(e, GM_ROLE_BIAS, c->cout, &n->bias, "(%d,)", c->cout, 0, 0, 0, 1);
    } else if (n->op == GM_OP_DENSE) {
        gm_expect(e, GM_ROLE_KERNEL, (long long)n->dense.in * n->dense.out, &n->kernel, "(%d,%d)", n->dense.in,
                  n->dense.out, 0, 0, 2);
        if (n->use_bias) gm_expect(e, GM_ROLE_BIAS, n->dense.out, &n->bias, "(%d,)", n->dense.out, 0, 0, 0, 1);
    } else if (n->op == GM_OP_BATCHNORM) {
        int c = n->out.c;
        if (n->bn_scale) gm_expect(e, GM_ROLE_GAMMA, c, &n->bn_gamma, "(%d,)", c, 0, 0, 0, 1);
        if (n->bn_center) gm_expect(e, GM_ROLE_BETA, c, &n->bn_beta, "(%d,)", c, 0, 0, 0, 1);
        gm_expect(e, GM_ROLE_MEAN, c, &n->bn_mean, "(%d,)", c, 0, 0, 0, 1);
        gm_expect(e, GM_ROLE_VAR, c, &n->bn_var, "(%d,)", c, 0, 0, 0, 1);
    }
}

static void gm_dims_text(int rank, const long long dims[8], char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < rank && used < size; ++i)
        used += (size_t)snprintf(buf + used, size - used, "%lld%s", dims[i], rank == 1 ? ",)" : i + 1 < rank ? "," : ")");
    if (rank == 0) snprintf(buf, size, "()");
}

static gm_status gm_load_layer(hid_t wgroup, const char *file, gm_node *n) {
    gm_expected e;
    gm_node_expectations(n, &e);
    hid_t lg = H5Gopen2(wgroup, n->name, H5P_DEFAULT);
    if (lg < 0) return gm_error(GM_ERR_FORMAT, "%s: layer group '%s' cannot be opened", file, n->name);
    char **names = NULL;
    int count = 0;
    gm_status st = gm_h5_read_string_list(lg, "weight_names", &names, &count);
    if (st != GM_OK) {
        H5Gclose(lg);
        return gm_error_context(st, "%s: layer '%s': ", file, n->name);
    }
    int seen[GM_ROLE_COUNT] = {0};
    for (int i = 0; i < count && st == GM_OK; ++i) {
        gm_weight_role r = gm_classify_weight(n->name, names[i]);
        if (r == GM_ROLE_UNKNOWN && count == e.n_order) r = e.order[i]; /* fall back to Keras's order */
        if (r == GM_ROLE_UNKNOWN || e.count[r] == 0 || seen[r]) {
            st = gm_error(GM_ERR_FORMAT, "%s: layer '%s' (%s): unexpected weight '%s' in file (expected %d weights)",
                          file, n->name, n->class_name, names[i], e.n_order);
            break;
        }
        seen[r] = 1;
        *e.dst[r] = malloc((size_t)e.count[r] * sizeof(float));
        if (!*e.dst[r]) {
            st = gm_error(GM_ERR_NOMEM, "out of memory loading '%s'", n->name);
            break;
        }
        int rank = 0;
        long long dims[8] = {0};
        st = gm_h5_read_floats(lg, names[i], *e.dst[r], e.count[r], &rank, dims);
        if (st == GM_ERR_SHAPE) {
            char got[128];
            gm_dims_text(rank, dims, got, sizeof got);
            st = gm_error(GM_ERR_SHAPE, "%s: layer '%s' (%s): %s shape %s in file, %s expected", file, n->name,
                          n->class_name, gm_role_name(r), got, e.shape[r]);
        } else if (st == GM_ERR_NOT_FOUND) {
            st = gm_error(GM_ERR_FORMAT, "%s: layer '%s' (%s): weight '%s' is listed but its dataset is missing", file,
                          n->name, n->class_name, names[i]);
        } else if (st != GM_OK) {
            gm_error_context(st, "%s: layer '%s': ", file, n->name);
        }
    }
    for (int k = 0; k < e.n_order && st == GM_OK; ++k)
        if (!seen[e.order[k]])
            st = gm_error(GM_ERR_FORMAT, "%s: layer '%s' (%s): missing %s %s in file", file, n->name, n->class_name,
                          gm_role_name(e.order[k]), e.shape[e.order[k]]);
    gm_h5_free_string_list(&names, count);
    H5Gclose(lg);
    if (st == GM_OK) n->weights_loaded = 1;
    return st;
}

static int gm_node_has_weights(const gm_node *n) {
    return n->op == GM_OP_CONV2D || n->op == GM_OP_DENSE || n->op == GM_OP_BATCHNORM;
}

gm_status gm_keras_load_weights(hid_t wgroup, const char *file, gm_graph *g) {
    char **layer_names = NULL;
    int n_layers = 0;
    gm_status st = gm_h5_read_string_list(wgroup, "layer_names", &layer_names, &n_layers);
    if (st != GM_OK) return gm_error_context(st, "%s: not a Keras weights file: ", file);
    /* Every layer with weights in the file must exist in the model with weights. */
    for (int i = 0; i < n_layers && st == GM_OK; ++i) {
        int idx = gm_graph_find(g, layer_names[i]);
        if (idx >= 0 && gm_node_has_weights(&g->nodes[idx])) continue;
        hid_t lg = H5Gopen2(wgroup, layer_names[i], H5P_DEFAULT);
        char **wn = NULL;
        int wc = 0;
        if (lg >= 0 && gm_h5_read_string_list(lg, "weight_names", &wn, &wc) == GM_OK && wc > 0)
            st = gm_error(GM_ERR_FORMAT, "%s: the file has weights for layer '%s', which the model %s", file,
                          layer_names[i], idx >= 0 ? "defines without weights" : "does not have");
        gm_h5_free_string_list(&wn, wc);
        if (lg >= 0) H5Gclose(lg);
    }
    for (int i = 0; i < g->n_nodes && st == GM_OK; ++i) {
        gm_node *n = &g->nodes[i];
        if (!gm_node_has_weights(n)) continue;
        int listed = 0;
        for (int k = 0; k < n_layers; ++k) listed |= strcmp(layer_names[k], n->name) == 0;
        if (!listed || H5Lexists(wgroup, n->name, H5P_DEFAULT) <= 0) {
            gm_expected e;
            gm_node_expectations(n, &e);
            st = gm_error(GM_ERR_FORMAT, "%s: no weights for layer '%s' (%s, kernel %s) in the file", file, n->name,
                          n->class_name, e.shape[e.order[0]]);
            break;
        }
        st = gm_load_layer(wgroup, file, n);
    }
    gm_h5_free_string_list(&layer_names, n_layers);
    return st;
}
