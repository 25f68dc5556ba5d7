/* test_arch.c — the built-in architectures (weights/arch_*.c) against Keras itself.
 *
 * tests/fixtures/arch/<arch>[_notop]_layers.txt is written by tests/fixtures/make_arch_names.py
 * from keras.applications (weights=None): per layer, in model.layers order, name, class and output
 * shape without the batch, plus Keras's count_params() and the forward MAC count. Every layer must
 * match exactly; the only extra node gradmap may have is the split-off softmax at the end.
 * Counts are integers below 2^53, so the MAC comparison is exact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "weights/arch_builtin.h"

typedef struct ref_layer {
    char name[GM_NAME_MAX];
    char class_name[64];
    int rank, h, w, c;
} ref_layer;

typedef struct ref_model {
    ref_layer *layers;
    int n_layers;
    long long params;
    double macs;
} ref_model;

static int load_ref(const char *file, ref_model *m) {
    memset(m, 0, sizeof *m);
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/arch/%s", file);
    char *path = gm_test_source_path(rel);
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        fprintf(stderr, "FAIL cannot open %s\n", path ? path : rel);
        free(path);
        return 0;
    }
    free(path);
    char line[512];
    int declared = -1, ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        long long v;
        if (sscanf(line, "# layers %lld", &v) == 1) {
            declared = (int)v;
            m->layers = calloc((size_t)declared, sizeof *m->layers);
            ok = m->layers != NULL;
        } else if (sscanf(line, "# params %lld", &v) == 1) {
            m->params = v;
        } else if (sscanf(line, "# macs %lld", &v) == 1) {
            m->macs = (double)v;
        } else if (line[0] != '#' && line[0] != '\n') {
            ref_layer r = {0};
            int d[3];
            int got = sscanf(line, "%127s %63s %d %d %d", r.name, r.class_name, &d[0], &d[1], &d[2]);
            if (got == 5) {
                r.rank = 4, r.h = d[0], r.w = d[1], r.c = d[2];
            } else if (got == 3) {
                r.rank = 2, r.h = r.w = 1, r.c = d[0];
            } else {
                fprintf(stderr, "FAIL %s: unreadable line '%s'\n", file, line);
                ok = 0;
                break;
            }
            if (!m->layers || m->n_layers >= declared) {
                fprintf(stderr, "FAIL %s: more layers than the header's %d\n", file, declared);
                ok = 0;
                break;
            }
            m->layers[m->n_layers++] = r;
        }
    }
    fclose(f);
    if (ok && m->n_layers != declared) {
        fprintf(stderr, "FAIL %s: %d layers listed, header says %d\n", file, m->n_layers, declared);
        ok = 0;
    }
    return ok;
}

static void check_model(gm_test_counts *tc, const char *arch, int top) {
    char file[64];
    snprintf(file, sizeof file, "%s%s_layers.txt", arch, top ? "" : "_notop");
    ref_model ref;
    if (!load_ref(file, &ref)) {
        gm_test_check(tc, 0, "%s: reference list loads", file);
        free(ref.layers);
        return;
    }
    gm_graph *g = NULL;
    gm_status st = gm_arch_build(arch, top, &g);
    gm_test_check(tc, st == GM_OK, "%s top=%d builds (%s)", arch, top, st == GM_OK ? "ok" : gm_last_error());
    if (st != GM_OK) {
        free(ref.layers);
        return;
    }
    int extra = top ? 1 : 0; /* the softmax split off the predictions layer */
    gm_test_check(tc, g->n_nodes == ref.n_layers + extra, "%s top=%d: %d nodes (Keras %d layers + %d)", arch, top,
                  g->n_nodes, ref.n_layers, extra);
    int mismatches = 0;
    for (int i = 0; i < ref.n_layers && i < g->n_nodes; ++i) {
        const gm_node *n = &g->nodes[i];
        const ref_layer *r = &ref.layers[i];
        int same = strcmp(n->name, r->name) == 0 && strcmp(n->class_name, r->class_name) == 0 &&
                   n->out.rank == r->rank && n->out.c == r->c && (r->rank == 2 || (n->out.h == r->h && n->out.w == r->w));
        if (!same && mismatches++ < 5)
            fprintf(stderr, "  layer %d: gradmap %s %s (%d,%d,%d rank %d), Keras %s %s (%d,%d,%d rank %d)\n", i, n->name,
                   n->class_name, n->out.h, n->out.w, n->out.c, n->out.rank, r->name, r->class_name, r->h, r->w, r->c,
                   r->rank);
    }
    gm_test_check(tc, mismatches == 0, "%s top=%d: every layer's name, class and shape match Keras (%d mismatches)",
                  arch, top, mismatches);

    if (top) {
        int pred = gm_graph_find(g, "predictions");
        gm_test_check(tc, pred == ref.n_layers - 1 && g->logits_node == pred && g->output_node == g->n_nodes - 1 &&
                              g->nodes[g->output_node].act.kind == GM_ACT_SOFTMAX &&
                              g->nodes[pred].dense.act.kind == GM_ACT_LINEAR,
                      "%s: predictions are the logits, softmax split off after them", arch);
    } else {
        gm_test_check(tc, g->output_node == g->n_nodes - 1 && g->logits_node == g->output_node,
                      "%s notop: output is the last layer", arch);
    }

    double macs = gm_graph_forward_macs(g);
    gm_test_check(tc, macs == ref.macs, "%s top=%d: %.0f MACs (Keras shapes give %.0f)", arch, top, macs, ref.macs);
    long long params = gm_graph_param_count(g);
    gm_test_check(tc, params == ref.params, "%s top=%d: %lld parameters (Keras count_params %lld)", arch, top, params,
                  ref.params);
    gm_test_check(tc, g->input_h == 224 && g->input_w == 224 && g->input_c == 3 && g->preprocess == GM_PREPROCESS_CAFFE,
                  "%s: 224x224x3 input, caffe preprocessing", arch);

    int target = gm_graph_default_target(g);
    const char *want = strcmp(arch, "resnet50") == 0 ? "conv5_block3_out"
                       : strcmp(arch, "vgg19") == 0  ? "block5_conv4"
                                                     : "block5_conv3";
    gm_test_check(tc, target >= 0 && strcmp(g->nodes[target].name, want) == 0, "%s top=%d: default target %s", arch,
                  top, target >= 0 ? g->nodes[target].name : "(none)");
    for (int i = 0; i < g->n_nodes; ++i)
        if (g->nodes[i].kernel || g->nodes[i].bias || g->nodes[i].bn_gamma || g->nodes[i].weights_loaded) {
            gm_test_check(tc, 0, "%s: layer %s has weights before loading", arch, g->nodes[i].name);
            break;
        }
    gm_graph_free(&g);
    gm_test_check(tc, g == NULL, "%s: gm_graph_free nulls the pointer", arch);
    free(ref.layers);
}

static const gm_node *node(const gm_graph *g, const char *name) {
    int i = gm_graph_find(g, name);
    return i >= 0 ? &g->nodes[i] : NULL;
}

/* Parameters the shapes alone do not show: padding resolution, strides, fused activations, BN. */
static void check_details(gm_test_counts *tc) {
    gm_graph *g = NULL;
    if (gm_arch_build("VGG16", 1, &g) != GM_OK) {
        gm_test_check(tc, 0, "VGG16 (upper case) builds: %s", gm_last_error());
        return;
    }
    const gm_node *c = node(g, "block1_conv1"), *p = node(g, "block3_pool"), *fc1 = node(g, "fc1");
    gm_test_check(tc, c && c->conv.kh == 3 && c->conv.cin == 3 && c->conv.cout == 64 && c->conv.pad_top == 1 &&
                          c->conv.pad_bottom == 1 && c->conv.pad_left == 1 && c->conv.pad_right == 1 &&
                          c->conv.act.kind == GM_ACT_RELU && c->use_bias && c->groups == 1 && c->conv.dilation_h == 1,
                  "vgg16 block1_conv1: 3x3 same (pad 1), relu, bias");
    gm_test_check(tc, p && p->pool.ph == 2 && p->pool.stride_h == 2 && p->pool.pad_top == 0 && p->pool.pad_bottom == 0,
                  "vgg16 block3_pool: 2x2/2 valid");
    gm_test_check(tc, fc1 && fc1->dense.in == 25088 && fc1->dense.out == 4096 && fc1->dense.act.kind == GM_ACT_RELU,
                  "vgg16 fc1: 25088 -> 4096 relu");
    gm_graph_free(&g);

    if (gm_arch_build("resnet50", 1, &g) != GM_OK) {
        gm_test_check(tc, 0, "resnet50 builds: %s", gm_last_error());
        return;
    }
    const gm_node *c1 = node(g, "conv1_conv"), *pad = node(g, "conv1_pad"), *bn = node(g, "conv1_bn");
    const gm_node *mid = node(g, "conv2_block1_2_conv"), *down = node(g, "conv3_block1_1_conv");
    const gm_node *sc = node(g, "conv4_block1_0_conv"), *add = node(g, "conv2_block2_add");
    const gm_node *add1 = node(g, "conv2_block1_add"), *relu = node(g, "conv5_block3_out");
    gm_test_check(tc, c1 && c1->conv.kh == 7 && c1->conv.stride_h == 2 && c1->conv.cin == 3 && c1->conv.pad_top == 0 &&
                          c1->conv.act.kind == GM_ACT_LINEAR && c1->use_bias,
                  "resnet50 conv1_conv: 7x7/2 valid, linear, bias");
    gm_test_check(tc, pad && pad->pad_top == 3 && pad->pad_bottom == 3 && pad->pad_left == 3 && pad->pad_right == 3,
                  "resnet50 conv1_pad: 3 on each side");
    gm_test_check(tc, bn && fabsf(bn->bn_epsilon - 1.001e-5f) == 0.0f && bn->bn_center && bn->bn_scale,
                  "resnet50 conv1_bn: eps 1.001e-5, center, scale");
    gm_test_check(tc, mid && mid->conv.kh == 3 && mid->conv.pad_top == 1 && mid->conv.pad_bottom == 1 &&
                          strcmp(mid->padding_mode, "same") == 0,
                  "resnet50 _2_conv: 3x3 same");
    gm_test_check(tc, down && down->conv.kh == 1 && down->conv.stride_h == 2 && down->conv.cin == 256 &&
                          down->conv.cout == 128,
                  "resnet50 conv3_block1_1_conv: 1x1/2, 256 -> 128");
    gm_test_check(tc, sc && sc->conv.stride_h == 2 && sc->conv.cin == 512 && sc->conv.cout == 1024,
                  "resnet50 conv4_block1_0_conv: shortcut 1x1/2, 512 -> 1024");
    int b1out = gm_graph_find(g, "conv2_block1_out"), b2bn3 = gm_graph_find(g, "conv2_block2_3_bn");
    int b1bn0 = gm_graph_find(g, "conv2_block1_0_bn"), b1bn3 = gm_graph_find(g, "conv2_block1_3_bn");
    gm_test_check(tc, add && add->n_inputs == 2 && add->inputs[0] == b1out && add->inputs[1] == b2bn3,
                  "resnet50 conv2_block2_add = Add([block input, _3_bn])");
    gm_test_check(tc, add1 && add1->n_inputs == 2 && add1->inputs[0] == b1bn0 && add1->inputs[1] == b1bn3,
                  "resnet50 conv2_block1_add = Add([_0_bn, _3_bn])");
    gm_test_check(tc, relu && relu->op == GM_OP_ACTIVATION && relu->act.kind == GM_ACT_RELU,
                  "resnet50 conv5_block3_out is a ReLU Activation");
    gm_graph_free(&g);
}

static void check_errors(gm_test_counts *tc) {
    gm_graph dummy;
    gm_graph *g = &dummy; /* must be nulled on failure */
    gm_status st = gm_arch_build("alexnet", 1, &g);
    gm_test_check(tc, st == GM_ERR_NOT_FOUND && g == NULL && strstr(gm_last_error(), "alexnet") &&
                          strstr(gm_last_error(), "resnet50"),
                  "unknown architecture: not-found error naming it and the supported list (%s)", gm_last_error());
    st = gm_arch_build(NULL, 1, &g);
    gm_test_check(tc, st == GM_ERR_INVALID_ARG && g == NULL, "NULL architecture name is an invalid argument");
    gm_test_check(tc, strcmp(gm_arch_names(), "vgg16|vgg19|resnet50") == 0, "gm_arch_names lists %s",
                  gm_arch_names());
}

int main(void) {
    gm_test_counts tc = {0, 0};
    const char *archs[3] = {"vgg16", "vgg19", "resnet50"};
    for (int a = 0; a < 3; ++a)
        for (int top = 1; top >= 0; --top) check_model(&tc, archs[a], top);
    check_details(&tc);
    check_errors(&tc);
    return gm_test_summary(&tc);
}
