/* test_explain_passes.c — what the explanation engine runs, proved with its counters:
 *  - saliency + gradcam + gradcam++ on a batch cost one forward and one backward;
 *  - gradcam alone stops the backward at the target layer: no convolution backward runs (the
 *    target is the last convolution of vgg_like) and no node at or below the target is touched;
 *  - on a GAP -> Dense head (resnet_like) cam and gradcam need no backward at all, and the
 *    closed-form Grad-CAM equals the one from a real backward (gradcam++ forces one);
 *  - SmoothGrad and IG are deterministic for a seed, change with the seed, and do not depend on the
 *    batch size (noise is keyed by image content and copy number, not batch position);
 *  - the black baseline's pixel is copied when the explainer is created: overwriting the caller's
 *    array afterwards does not change Integrated Gradients.
 * Models: tests/fixtures/conformance/ (saved by Keras). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/engine.h"
#include "explain/explain.h"
#include "test_support.h"
#include "weights/model.h"

typedef struct gm_setup {
    gm_graph *g;
    gm_backend *be;
    float *input;
    int n;
} gm_setup;

static int gm_setup_open(gm_setup *s, const char *model) {
    memset(s, 0, sizeof *s);
    char rel[256], io[256];
    snprintf(rel, sizeof rel, "tests/fixtures/conformance/%s.h5", model);
    snprintf(io, sizeof io, "tests/fixtures/conformance/%s_io.h5", model);
    char *path = gm_test_source_path(rel), *io_path = gm_test_source_path(io);
    int rank = 0;
    long long dims[8];
    s->input = gm_test_h5_read_floats(io_path, "input", &rank, dims);
    s->n = s->input ? (int)dims[0] : 0;
    gm_backend_config cfg = {0};
    int ok = s->input && gm_model_load(path, NULL, &s->g) == GM_OK && gm_backend_open("cpu", &cfg, &s->be) == GM_OK;
    if (!ok) fprintf(stderr, "setup %s failed: %s\n", model, gm_last_error());
    free(path);
    free(io_path);
    return ok;
}

static void gm_setup_close(gm_setup *s) {
    gm_backend_close(&s->be);
    gm_graph_free(&s->g);
    free(s->input);
}

static gm_status gm_run(gm_setup *s, unsigned methods, int max_batch, uint64_t seed, gm_explainer **x,
                        gm_explain_batch *out) {
    gm_explain_config cfg;
    gm_explain_config_default(&cfg);
    cfg.methods = methods;
    cfg.max_batch = max_batch;
    cfg.seed = seed;
    cfg.sg_samples = 5;
    cfg.ig_steps = 6;
    GM_TRY(gm_explainer_create(s->g, s->be, &cfg, x));
    return gm_explainer_run(*x, s->input, s->n < max_batch ? s->n : max_batch, NULL, out);
}

#define M(name) (1u << GM_METHOD_##name)

int main(void) {
    gm_test_counts c = {0};
    gm_setup vgg, res;
    gm_test_check(&c, gm_setup_open(&vgg, "vgg_like_k3") && gm_setup_open(&res, "resnet_like_k3"), "models load");
    gm_explainer *x = NULL;
    gm_explain_batch out;

    gm_status st = gm_run(&vgg, M(SALIENCY) | M(GRADCAM) | M(GRADCAMPP), 4, 0, &x, &out);
    const gm_engine_stats *stats = st == GM_OK ? gm_explainer_stats(x) : NULL;
    gm_test_check(&c, stats && stats->forwards == 1 && stats->backwards == 1,
                  "saliency,gradcam,gradcam++ on 4 images: %ld forward, %ld backward (1 and 1 expected) %s",
                  stats ? stats->forwards : -1, stats ? stats->backwards : -1, st == GM_OK ? "" : gm_last_error());
    gm_test_check(&c, stats && gm_explainer_backward_stop(x) == 0 && stats->deepest_bwd_node == 1,
                  "with saliency the backward reaches the input (stop %d, deepest op at node %d)",
                  gm_explainer_backward_stop(x), stats ? stats->deepest_bwd_node : -1);
    gm_explainer_free(&x);

    st = gm_run(&vgg, M(GRADCAM), 4, 0, &x, &out);
    stats = st == GM_OK ? gm_explainer_stats(x) : NULL;
    int target = st == GM_OK ? gm_explainer_target_layer(x) : -1;
    gm_test_check(&c, stats && stats->backwards == 1 && gm_explainer_backward_stop(x) == target,
                  "gradcam alone: one backward, stopping at the target layer %s",
                  target >= 0 ? vgg.g->nodes[target].name : "?");
    gm_test_check(&c, stats && stats->conv_bwd_calls == 0 && stats->deepest_bwd_node > target,
                  "gradcam alone runs no convolution backward (%ld) and nothing at or below the target (deepest "
                  "node %d > %d)",
                  stats ? stats->conv_bwd_calls : -1, stats ? stats->deepest_bwd_node : -1, target);
    gm_explainer_free(&x);

    st = gm_run(&res, M(GRADCAM) | M(CAM), 4, 0, &x, &out);
    stats = st == GM_OK ? gm_explainer_stats(x) : NULL;
    gm_test_check(&c, stats && stats->backwards == 0 && gm_explainer_backward_stop(x) == -1,
                  "cam + gradcam on a GAP -> Dense head: no backward at all (%ld) %s", stats ? stats->backwards : -1,
                  st == GM_OK ? "" : gm_last_error());
    int h = 0, w = 0;
    if (st == GM_OK) gm_explainer_map_size(x, GM_METHOD_GRADCAM, &h, &w);
    size_t count = (size_t)4 * h * w;
    float *closed = count ? malloc(count * sizeof(float)) : NULL;
    float *cam = count ? malloc(count * sizeof(float)) : NULL;
    if (closed && st == GM_OK) {
        memcpy(closed, out.maps[GM_METHOD_GRADCAM], count * sizeof(float));
        memcpy(cam, out.maps[GM_METHOD_CAM], count * sizeof(float));
    }
    gm_explainer_free(&x);
    st = gm_run(&res, M(GRADCAM) | M(GRADCAMPP), 4, 0, &x, &out);
    stats = st == GM_OK ? gm_explainer_stats(x) : NULL;
    gm_test_check(&c, stats && stats->backwards == 1, "gradcam + gradcam++ on the same head: one backward");
    if (closed && st == GM_OK) {
        gm_test_check(&c, gm_test_close("closed-form gradcam", closed, out.maps[GM_METHOD_GRADCAM], count, 1e-6, 1e-5),
                      "closed-form Grad-CAM equals Grad-CAM from the backward pass");
        /* Grad-CAM = ReLU(CAM)/(h*w) on a GAP head */
        for (size_t i = 0; i < count; ++i) cam[i] = cam[i] > 0 ? cam[i] / (float)(h * w) : 0.0f;
        gm_test_close("relu(cam)/hw", closed, cam, count, 1e-6, 1e-5)
            ? gm_test_check(&c, 1, "Grad-CAM equals ReLU(CAM)/(h*w) on a GAP head")
            : gm_test_check(&c, 0, "Grad-CAM equals ReLU(CAM)/(h*w) on a GAP head");
    }
    gm_explainer_free(&x);
    free(closed);
    free(cam);

    /* Determinism and batch-size independence of the sampling methods. */
    unsigned sampling = M(SMOOTHGRAD) | M(INTGRAD) | M(SALIENCY);
    float *first = NULL, *again = NULL, *other = NULL, *small = NULL;
    size_t in_hw = (size_t)vgg.g->input_h * vgg.g->input_w;
    size_t per = in_hw * 3 * 4;
    first = malloc(per * sizeof(float)), again = malloc(per * sizeof(float));
    other = malloc(per * sizeof(float)), small = malloc(per * sizeof(float));
    const gm_method ms[3] = {GM_METHOD_SMOOTHGRAD, GM_METHOD_INTGRAD, GM_METHOD_SALIENCY};
    float *dst[4] = {first, again, other, small};
    const uint64_t seeds[4] = {7, 7, 8, 7};
    const int batches[4] = {4, 4, 4, 1};
    for (int run = 0; run < 4; ++run) {
        if (batches[run] == 4) {
            st = gm_run(&vgg, sampling, 4, seeds[run], &x, &out);
            for (int k = 0; st == GM_OK && k < 3; ++k)
                memcpy(dst[run] + k * in_hw * 4, out.maps[ms[k]], in_hw * 4 * sizeof(float));
            gm_explainer_free(&x);
        } else { /* the same 4 images one at a time */
            for (int i = 0; i < 4 && st == GM_OK; ++i) {
                gm_explain_config cfg;
                gm_explain_config_default(&cfg);
                cfg.methods = sampling, cfg.max_batch = 1, cfg.seed = seeds[run], cfg.sg_samples = 5, cfg.ig_steps = 6;
                st = gm_explainer_create(vgg.g, vgg.be, &cfg, &x);
                size_t in_size = in_hw * (size_t)vgg.g->input_c;
                if (st == GM_OK) st = gm_explainer_run(x, vgg.input + i * in_size, 1, NULL, &out);
                for (int k = 0; st == GM_OK && k < 3; ++k)
                    memcpy(dst[run] + k * in_hw * 4 + i * in_hw, out.maps[ms[k]], in_hw * sizeof(float));
                gm_explainer_free(&x);
            }
        }
    }
    gm_test_check(&c, st == GM_OK && !memcmp(first, again, per * sizeof(float)),
                  "SmoothGrad/IG/saliency: same seed, same maps bit for bit (%s)", st == GM_OK ? "ok" : gm_last_error());
    gm_test_check(&c, memcmp(first, other, in_hw * 4 * sizeof(float)) != 0, "SmoothGrad changes with the seed");
    gm_test_check(&c, gm_test_close("batch 4 vs batch 1", small, first, per, 1e-6, 1e-4),
                  "SmoothGrad/IG/saliency do not depend on the batch size (fp32 kernels may differ by rounding)");
    /* IG with a black pixel of 50 per channel, then the caller's array overwritten before the run. */
    float *ig_kept = malloc(in_hw * 4 * sizeof(float));
    for (int pass = 0; pass < 2 && st == GM_OK && ig_kept; ++pass) {
        float black[3] = {50.0f, 50.0f, 50.0f};
        gm_explain_config cfg;
        gm_explain_config_default(&cfg);
        cfg.methods = M(INTGRAD), cfg.max_batch = 4, cfg.ig_steps = 6, cfg.black_pixel = black;
        st = gm_explainer_create(vgg.g, vgg.be, &cfg, &x);
        if (pass == 1) black[0] = black[1] = black[2] = NAN;
        if (st == GM_OK) st = gm_explainer_run(x, vgg.input, 4, NULL, &out);
        if (st == GM_OK && pass == 0) memcpy(ig_kept, out.maps[GM_METHOD_INTGRAD], in_hw * 4 * sizeof(float));
        if (st == GM_OK && pass == 1)
            gm_test_check(&c, gm_test_close("IG, caller's black pixel overwritten", out.maps[GM_METHOD_INTGRAD], ig_kept,
                                            in_hw * 4, 0, 0),
                          "the explainer keeps its own copy of the black pixel");
        gm_explainer_free(&x);
    }
    gm_test_check(&c, st == GM_OK && ig_kept, "IG with a black pixel runs (%s)", st == GM_OK ? "ok" : gm_last_error());
    free(ig_kept);
    free(first);
    free(again);
    free(other);
    free(small);
    gm_setup_close(&vgg);
    gm_setup_close(&res);
    return gm_test_summary(&c);
}
