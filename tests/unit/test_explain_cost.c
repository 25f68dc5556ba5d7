/* test_explain_cost.c — what the bench's figures rest on:
 *  - gm_explainer_macs_per_image follows its rule (explain.h) on the conformance models: a full
 *    backward costs the forward's MACs again, gradcam alone only the layers above the target layer,
 *    CAM on a GAP -> Dense head nothing, guided methods a second backward, SmoothGrad a forward and
 *    a backward per noisy copy;
 *  - the opt-in stage timer fills forward / backward / maps only when on, and they add up to no
 *    more than the run's wall time;
 *  - gm_compare_maps: identical maps agree exactly, a rescaled map agrees after normalisation, a
 *    reversed one correlates -1, ties rank like the reference Spearman of test_support, and a NaN
 *    is reported as not finite.
 * Models: tests/fixtures/conformance/ (saved by Keras). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "explain/compare.h"
#include "explain/explain.h"
#include "test_support.h"
#include "weights/model.h"

#define M(name) (1u << GM_METHOD_##name)

static double gm_node_macs(const gm_node *n) {
    if (n->op == GM_OP_CONV2D) return (double)n->out.h * n->out.w * n->conv.cout * n->conv.kh * n->conv.kw * n->conv.cin;
    if (n->op == GM_OP_DENSE) return (double)n->dense.in * n->dense.out;
    return 0.0;
}

/* Conv/dense MACs of the nodes after `node` (the layers a backward stopping there runs through). */
static double gm_macs_above(const gm_graph *g, int node) {
    double macs = 0.0;
    for (int i = node + 1; i < g->n_nodes; ++i) macs += gm_node_macs(&g->nodes[i]);
    return macs;
}

static double gm_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct gm_setup {
    gm_graph *g;
    gm_backend *be;
    float *input;
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
    gm_backend_config cfg = {0};
    int ok = s->input && rank == 4 && dims[0] >= 2 && gm_model_load(path, NULL, &s->g) == GM_OK &&
             gm_backend_open("cpu", &cfg, &s->be) == GM_OK;
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

/* MACs per image of an explainer for `methods` (SmoothGrad with 5 samples); -1 on failure. */
static double gm_macs(gm_setup *s, unsigned methods, int *target) {
    gm_explain_config cfg;
    gm_explain_config_default(&cfg);
    cfg.methods = methods;
    cfg.max_batch = 2;
    cfg.sg_samples = 5;
    gm_explainer *x = NULL;
    if (gm_explainer_create(s->g, s->be, &cfg, &x) != GM_OK) {
        fprintf(stderr, "explainer: %s\n", gm_last_error());
        return -1.0;
    }
    double macs = gm_explainer_macs_per_image(x);
    if (target) *target = gm_explainer_target_layer(x);
    gm_explainer_free(&x);
    return macs;
}

static void gm_test_macs(gm_test_counts *c, gm_setup *vgg, gm_setup *res) {
    double F = gm_graph_forward_macs(vgg->g);
    int target = -1;
    gm_test_check(c, gm_macs(vgg, M(SALIENCY), NULL) == 2 * F, "vgg_like saliency: forward + a full backward = 2F");
    gm_test_check(c, gm_macs(vgg, M(SALIENCY) | M(GRADCAM) | M(GRADCAMPP), NULL) == 2 * F,
                  "saliency,gradcam,gradcam++ share that one backward: 2F");
    double gc = gm_macs(vgg, M(GRADCAM), &target);
    gm_test_check(c, target >= 0 && gc == F + gm_macs_above(vgg->g, target) && gc < 2 * F,
                  "gradcam alone: F + the layers above the target layer (%.0f of %.0f)", gc - F, F);
    gm_test_check(c, gm_macs(vgg, M(SALIENCY) | M(GUIDEDBP), NULL) == 3 * F,
                  "saliency + guided backprop: two backwards, 3F");
    gm_test_check(c, gm_macs(vgg, M(SALIENCY) | M(SMOOTHGRAD), NULL) == 2 * F + 5 * 2 * F,
                  "saliency + smoothgrad (5 samples): 2F + 5 x (forward + backward)");
    double Fr = gm_graph_forward_macs(res->g);
    gm_test_check(c, gm_macs(res, M(CAM) | M(GRADCAM), NULL) == Fr, "resnet_like cam + gradcam (GAP head): forward only");
    gm_test_check(c, gm_macs(res, M(SALIENCY), NULL) == 2 * Fr, "resnet_like saliency: every conv on the path, 2F");
}

static void gm_test_timer(gm_test_counts *c, gm_setup *vgg) {
    gm_explain_config cfg;
    gm_explain_config_default(&cfg);
    cfg.methods = M(SALIENCY) | M(GRADCAM);
    cfg.max_batch = 2;
    gm_explainer *x = NULL;
    gm_explain_batch out;
    gm_explain_timing t = {1, 1, 1};
    int ok = gm_explainer_create(vgg->g, vgg->be, &cfg, &x) == GM_OK &&
             gm_explainer_run(x, vgg->input, 2, NULL, &out) == GM_OK;
    if (ok) gm_explainer_timing(x, &t);
    gm_test_check(c, ok && t.forward_s == 0 && t.backward_s == 0 && t.maps_s == 0, "timer off by default: nothing timed");
    gm_explainer_set_timing(x, 1);
    double t0 = gm_now();
    ok = ok && gm_explainer_run(x, vgg->input, 2, NULL, &out) == GM_OK;
    double wall = gm_now() - t0;
    if (ok) gm_explainer_timing(x, &t);
    gm_test_check(c, ok && t.forward_s > 0 && t.backward_s > 0 && t.maps_s > 0 &&
                         t.forward_s + t.backward_s + t.maps_s <= wall,
                  "timer on: forward %.2g s, backward %.2g s, maps %.2g s, together <= the run's %.2g s", t.forward_s,
                  t.backward_s, t.maps_s, wall);
    gm_explainer_set_timing(x, 1);
    gm_explainer_timing(x, &t);
    gm_test_check(c, t.forward_s == 0 && t.backward_s == 0 && t.maps_s == 0, "turning the timer on resets it");
    gm_explainer_free(&x);
}

static void gm_test_compare(gm_test_counts *c) {
    enum { N = 400 };
    float a[2 * N], b[2 * N];
    gm_test_rng rng;
    gm_test_rng_seed(&rng, 5);
    for (int i = 0; i < 2 * N; ++i) a[i] = floorf(gm_test_rng_range(&rng, 0.0f, 20.0f)); /* many ties */
    gm_map_agreement ag;
    gm_status st = gm_compare_maps(a, a, 2, N, &ag);
    gm_test_check(c, st == GM_OK && ag.finite && ag.max_abs_err == 0 && ag.max_abs_err_normalized == 0 &&
                         ag.spearman_min == 1.0 && ag.spearman_mean == 1.0,
                  "identical maps: no error, Spearman 1");
    for (int i = 0; i < 2 * N; ++i) b[i] = 3.0f * a[i] + 1.0f;
    st = gm_compare_maps(b, a, 2, N, &ag);
    gm_test_check(c, st == GM_OK && ag.max_abs_err > 1.0 && ag.max_abs_err_normalized < 1e-12 && ag.spearman_min == 1.0,
                  "3a + 1 against a: raw error %.3g, none after min-max normalising, Spearman 1", ag.max_abs_err);
    for (int i = 0; i < 2 * N; ++i) b[i] = -a[i];
    st = gm_compare_maps(b, a, 2, N, &ag);
    gm_test_check(c, st == GM_OK && fabs(ag.spearman_min + 1.0) < 1e-12 && fabs(ag.max_abs_err_normalized - 1.0) < 1e-12,
                  "-a against a: Spearman -1, normalised error 1");
    for (int i = 0; i < 2 * N; ++i) b[i] = a[i] + floorf(gm_test_rng_range(&rng, -4.0f, 4.0f));
    double rho = 0.0, ref0 = gm_test_spearman(b, a, N), ref1 = gm_test_spearman(b + N, a + N, N);
    st = gm_compare_spearman(b, a, N, &rho);
    gm_test_check(c, st == GM_OK && fabs(rho - ref0) < 1e-12, "Spearman with ties: %.6f, test_support's %.6f", rho, ref0);
    st = gm_compare_maps(b, a, 2, N, &ag);
    gm_test_check(c, st == GM_OK && fabs(ag.spearman_min - fmin(ref0, ref1)) < 1e-12 &&
                         fabs(ag.spearman_mean - 0.5 * (ref0 + ref1)) < 1e-12,
                  "per-map Spearman: the lowest %.6f and the mean %.6f of the two maps", ag.spearman_min,
                  ag.spearman_mean);
    for (int i = 0; i < N; ++i) b[i] = 1.0f; /* a constant map against a varying one */
    st = gm_compare_maps(b, a, 1, N, &ag);
    gm_test_check(c, st == GM_OK && ag.spearman_min == 0.0, "a constant map correlates 0 with a varying one");
    b[7] = NAN;
    st = gm_compare_maps(b, a, 2, N, &ag);
    gm_test_check(c, st == GM_OK && !ag.finite && isnan(ag.max_abs_err), "a NaN: not finite, figures NaN");
    gm_test_check(c, gm_compare_maps(a, NULL, 1, N, &ag) == GM_ERR_INVALID_ARG, "NULL maps: invalid argument");
}

int main(void) {
    gm_test_counts c = {0};
    gm_setup vgg = {0}, res = {0};
    int ok = gm_setup_open(&vgg, "vgg_like_k3") && gm_setup_open(&res, "resnet_like_k3");
    gm_test_check(&c, ok, "models load");
    if (ok) {
        gm_test_macs(&c, &vgg, &res);
        gm_test_timer(&c, &vgg);
    }
    gm_test_compare(&c);
    gm_setup_close(&vgg);
    gm_setup_close(&res);
    return gm_test_summary(&c);
}
