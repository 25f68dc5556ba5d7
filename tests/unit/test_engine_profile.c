/* test_engine_profile.c — the engine's opt-in per-node profile (engine.h: gm_engine_set_profile),
 * which `gradmap bench --profile` reports:
 *  - off (the default) it times nothing and adds no backend sync: a run makes only the forward's
 *    closing ops->sync (counted through a spy that wraps the CPU backend's sync), and the totals
 *    stay 0;
 *  - on, every convolution and dense layer has a positive forward time and the batch's rows, the
 *    backward times go exactly to the nodes whose backward ran (saliency: down to the input), the
 *    sync count grows, and the maps are bit for bit those of an unprofiled run;
 *  - gm_engine_node_backward_macs adds up to gm_engine_backward_macs, and with gradcam alone (the
 *    backward stops at the target layer) nothing below the target gets backward time or MACs;
 *  - turning it off resets the totals and a later run leaves them at 0.
 * Model: tests/fixtures/conformance/vgg_like_k3 (saved by Keras). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/engine.h"
#include "explain/explain.h"
#include "test_support.h"
#include "weights/model.h"

/* Counts the backend's sync calls: the ops table is copied with sync replaced, and the spy finds its
 * counter from the ops pointer the backend hands it (the copy is the spy's first member). */
typedef struct gm_sync_spy {
    gm_backend_ops ops;
    const gm_backend_ops *real;
    long syncs;
} gm_sync_spy;

static gm_status gm_spy_sync(gm_backend *be) {
    gm_sync_spy *spy = (gm_sync_spy *)(void *)((char *)(uintptr_t)be->ops - offsetof(gm_sync_spy, ops));
    spy->syncs++;
    return spy->real->sync(be);
}

static void gm_spy_attach(gm_sync_spy *spy, gm_backend *be) {
    spy->real = be->ops;
    spy->ops = *be->ops;
    spy->ops.sync = gm_spy_sync;
    spy->syncs = 0;
    be->ops = &spy->ops;
}

static int gm_is_matmul(const gm_node *n) { return n->op == GM_OP_CONV2D || n->op == GM_OP_DENSE; }

/* Runs x on the input; copies the saliency maps (n x H x W) into maps when given. */
static gm_status gm_run(gm_explainer *x, const float *input, int n, float *maps, size_t count) {
    gm_explain_batch out;
    GM_TRY(gm_explainer_run(x, input, n, NULL, &out));
    if (maps) memcpy(maps, out.maps[GM_METHOD_SALIENCY], count * sizeof(float));
    return GM_OK;
}

static gm_explainer *gm_make(const gm_graph *g, gm_backend *be, unsigned methods, int batch) {
    gm_explain_config cfg;
    gm_explain_config_default(&cfg);
    cfg.methods = methods;
    cfg.max_batch = batch;
    gm_explainer *x = NULL;
    if (gm_explainer_create(g, be, &cfg, &x) != GM_OK) fprintf(stderr, "explainer: %s\n", gm_last_error());
    return x;
}

int main(void) {
    gm_test_counts c = {0};
    char *path = gm_test_source_path("tests/fixtures/conformance/vgg_like_k3.h5");
    char *io = gm_test_source_path("tests/fixtures/conformance/vgg_like_k3_io.h5");
    int rank = 0;
    long long dims[8];
    float *input = gm_test_h5_read_floats(io, "input", &rank, dims);
    gm_graph *g = NULL;
    gm_backend *be = NULL;
    gm_backend_config bc = {0};
    if (!input || gm_model_load(path, NULL, &g) != GM_OK || gm_backend_open("cpu", &bc, &be) != GM_OK) {
        fprintf(stderr, "setup: %s\n", gm_last_error());
        return 1;
    }
    int n = dims[0] < 4 ? (int)dims[0] : 4;
    gm_sync_spy spy;
    gm_spy_attach(&spy, be);
    size_t count = (size_t)n * g->input_h * g->input_w;
    float *plain = malloc(count * sizeof *plain), *profiled = malloc(count * sizeof *profiled);

    gm_explainer *x = gm_make(g, be, (1u << GM_METHOD_SALIENCY) | (1u << GM_METHOD_GRADCAM), n);
    gm_engine *e = x ? gm_explainer_engine(x) : NULL;
    gm_status st = e && plain && profiled ? gm_run(x, input, n, plain, count) : GM_ERR_NOMEM;
    long syncs_off = spy.syncs;
    const gm_engine_node_time *t = e ? gm_engine_profile(e) : NULL;
    int untouched = 1;
    for (int i = 0; t && i < g->n_nodes; ++i)
        untouched &= t[i].forward_s == 0.0 && t[i].backward_s == 0.0 && t[i].forward_images == 0;
    gm_test_check(&c, st == GM_OK && t && untouched, "profiling off by default: no node timed %s",
                  st == GM_OK ? "" : gm_last_error());

    /* The forward's closing sync is the only one of an unprofiled, untimed run. */
    gm_test_check(&c, st == GM_OK && syncs_off == 1, "profiling off: one backend sync per run, none per node (%ld)",
                  syncs_off);

    gm_engine_set_profile(e, 1);
    spy.syncs = 0;
    if (st == GM_OK) st = gm_run(x, input, n, profiled, count);
    long syncs_on = spy.syncs;
    int fwd_ok = 1, bwd_ok = 1, n_matmul = 0;
    double macs = 0.0;
    for (int i = 0; st == GM_OK && i < g->n_nodes; ++i) {
        const gm_node *node = &g->nodes[i];
        macs += gm_engine_node_backward_macs(e, i);
        if (!gm_is_matmul(node)) continue;
        n_matmul++;
        fwd_ok &= t[i].forward_s > 0.0 && t[i].forward_images == n;
        bwd_ok &= t[i].backward_s > 0.0 && t[i].backward_images == n;
    }
    gm_test_check(&c, st == GM_OK && n_matmul > 0 && fwd_ok,
                  "profiling on: all %d conv/dense layers have a positive forward time over %d rows", n_matmul, n);
    gm_test_check(&c, st == GM_OK && bwd_ok, "saliency: every conv/dense layer has a backward time over %d rows", n);
    gm_test_check(&c, st == GM_OK && syncs_on > syncs_off + g->n_nodes,
                  "profiling on syncs after every node (%ld syncs, %ld without profiling)", syncs_on, syncs_off);
    gm_test_check(&c, st == GM_OK && memcmp(plain, profiled, count * sizeof *plain) == 0,
                  "profiled saliency maps equal the unprofiled ones bit for bit");
    gm_test_check(&c, st == GM_OK && macs == gm_engine_backward_macs(e) && macs > 0.0,
                  "per-node backward MACs add up to the pass's (%.0f, %.0f)", macs, e ? gm_engine_backward_macs(e) : 0.0);

    gm_engine_set_profile(e, 0);
    if (st == GM_OK) st = gm_run(x, input, n, NULL, 0);
    untouched = 1;
    for (int i = 0; st == GM_OK && i < g->n_nodes; ++i)
        untouched &= t[i].forward_s == 0.0 && t[i].backward_s == 0.0 && t[i].backward_images == 0;
    gm_test_check(&c, st == GM_OK && untouched, "turning profiling off resets the totals and stops timing");
    gm_explainer_free(&x);

    x = gm_make(g, be, 1u << GM_METHOD_GRADCAM, n);
    e = x ? gm_explainer_engine(x) : NULL;
    int target = x ? gm_explainer_target_layer(x) : -1;
    if (e) gm_engine_set_profile(e, 1);
    st = e ? gm_run(x, input, n, NULL, 0) : GM_ERR_NOMEM;
    t = e ? gm_engine_profile(e) : NULL;
    int below_clean = 1, above_timed = 0;
    for (int i = 0; st == GM_OK && i < g->n_nodes; ++i) {
        if (i <= target) below_clean &= t[i].backward_images == 0 && gm_engine_node_backward_macs(e, i) == 0.0;
        else above_timed |= t[i].backward_images == n;
    }
    gm_test_check(&c, st == GM_OK && target > 0 && below_clean && above_timed,
                  "gradcam alone: no backward time or MACs at or below the target layer, some above it");
    gm_explainer_free(&x);

    be->ops = spy.real;
    free(plain);
    free(profiled);
    gm_backend_close(&be);
    gm_graph_free(&g);
    free(input);
    free(path);
    free(io);
    return gm_test_summary(&c);
}
