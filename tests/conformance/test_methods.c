/* test_methods.c — conformance of the explanation engine with TensorFlow/Keras: for each fixture
 * tests/fixtures/methods/<model>_methods.h5 (written by tests/fixtures/make_method_fixtures.py with
 * tf.GradientTape on the committed Keras models), gradmap must reproduce
 *   - the input gradient of the target class's pre-softmax logit (the full N x H x W x C tensor),
 *     and of its softmax probability (--score softmax, the saliency seed recipe),
 *   - the target layer's activations and their gradient,
 *   - every method's raw map: saliency, inputxgrad, gradcam, gradcam++, xgradcam, hirescam, layercam,
 *     cam (GAP heads), guidedbp, intgrad (zero baseline, 16 steps, right Riemann and trapezoid);
 *   - and, with --compat pgc post-processing, pytorch-grad-cam's own final maps for gradcam,
 *     gradcam++, xgradcam, hirescam and layercam (a PyTorch twin with the same weights).
 * Tolerance: |a-b| <= 2e-4 * max|ref| + 1e-3 * |ref| per tensor. Gradients pass through every layer
 * in float32 with different summation orders (oneDNN vs Eigen) and BN folded into the kernels; the
 * errors measured are ~1e-6 of the scale. Any real slip (a ReLU mask from the wrong tensor, a pooling
 * gradient routed to the wrong cell, a padding side swapped) moves values by O(1) of the scale. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/engine.h"
#include "explain/explain.h"
#include "explain/post.h"
#include "test_support.h"
#include "weights/model.h"

static double gm_max_abs(const float *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; ++i) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

static int gm_compare(const char *what, const float *got, const float *ref, size_t n) {
    return gm_test_close(what, got, ref, n, 2e-4 * gm_max_abs(ref, n) + 1e-9, 1e-3);
}

typedef struct gm_fixture {
    char path[1024];
    float *input, *input_grad, *input_grad_softmax, *target_act, *target_grad;
    int32_t *target_class;
    long long d_in[8], d_t[8];
    int n;
} gm_fixture;

static float *gm_read(const char *file, const char *name, long long dims[8]) {
    int rank = 0;
    long long local[8];
    return gm_test_h5_read_floats(file, name, &rank, dims ? dims : local);
}

/* Runs the engine directly: gradient of the score at `seed` w.r.t. the input and the target. */
static void gm_check_gradients(gm_test_counts *c, const char *label, const gm_graph *g, const gm_fixture *f, int target,
                               int softmax) {
    gm_backend *be = NULL;
    gm_engine *e = NULL;
    gm_backend_config cfg = {0};
    int keep[1] = {target}, keep_grads[2] = {0, target};
    gm_engine_options eo = {.max_batch = f->n, .keep = keep, .n_keep = 1,
                            .backward_seed = softmax ? g->output_node : g->logits_node, .backward_stop = 0,
                            .keep_grads = keep_grads, .n_keep_grads = 2};
    gm_status st = gm_backend_open("cpu", &cfg, &be);
    if (st == GM_OK) st = gm_engine_create_ex(g, be, &eo, &e);
    if (st == GM_OK) st = gm_engine_forward(e, f->input, f->n);
    if (st == GM_OK) st = gm_engine_backward(e, f->target_class, 1.0f, GM_RELU_BWD_PLAIN);
    gm_test_check(c, st == GM_OK, "%s: forward + backward%s (%s)", label, softmax ? " of the softmax" : "",
                  st == GM_OK ? "ok" : gm_last_error());
    size_t in_count = (size_t)f->d_in[0] * f->d_in[1] * f->d_in[2] * f->d_in[3];
    const float *ref = softmax ? f->input_grad_softmax : f->input_grad;
    if (st == GM_OK && ref) {
        float *got = malloc(in_count * sizeof(float));
        st = gm_engine_read_grad(e, 0, got);
        gm_test_check(c, st == GM_OK && gm_compare("input_grad", got, ref, in_count),
                      "%s: input gradient of the target %s matches TensorFlow", label, softmax ? "probability" : "logit");
        free(got);
    }
    if (st == GM_OK && !softmax && f->target_grad) {
        size_t t_count = (size_t)f->d_t[0] * f->d_t[1] * f->d_t[2] * f->d_t[3];
        float *got = malloc(t_count * sizeof(float));
        st = gm_engine_read_grad(e, target, got);
        gm_test_check(c, st == GM_OK && gm_compare("target_grad", got, f->target_grad, t_count),
                      "%s: gradient at the target layer matches TensorFlow", label);
        st = gm_engine_read(e, target, got);
        gm_test_check(c, st == GM_OK && gm_compare("target_act", got, f->target_act, t_count),
                      "%s: target layer activations match Keras", label);
        free(got);
    }
    gm_engine_free(&e);
    gm_backend_close(&be);
}

static void gm_check_method_ig(gm_test_counts *c, const char *label, const gm_graph *g, const gm_fixture *f,
                               gm_method m, const char *dataset, int reduce_channels_absmax, int reduce_channels_sum,
                               gm_ig_rule rule) {
    char name[128];
    snprintf(name, sizeof name, "maps/%s", dataset);
    long long dims[8];
    float *ref = gm_read(f->path, name, dims);
    if (!ref) return; /* e.g. cam on a model without a GAP head */
    gm_explain_config cfg;
    gm_explain_config_default(&cfg);
    cfg.methods = 1u << m;
    cfg.max_batch = f->n;
    cfg.ig_steps = 16;
    cfg.ig_baseline = GM_IG_BASELINE_ZERO;
    cfg.ig_rule = rule;
    gm_backend *be = NULL;
    gm_explainer *x = NULL;
    gm_backend_config bc = {0};
    gm_explain_batch out;
    gm_status st = gm_backend_open("cpu", &bc, &be);
    if (st == GM_OK) st = gm_explainer_create(g, be, &cfg, &x);
    if (st == GM_OK) st = gm_explainer_run(x, f->input, f->n, f->target_class, &out);
    gm_test_check(c, st == GM_OK, "%s: %s runs (%s)", label, gm_method_name(m), st == GM_OK ? "ok" : gm_last_error());
    if (st == GM_OK) {
        int h, w;
        gm_explainer_map_size(x, m, &h, &w);
        size_t count = (size_t)f->n * h * w;
        float *expected = ref;
        float *reduced = NULL;
        if (reduce_channels_absmax || reduce_channels_sum) { /* fixture holds (N,H,W,C) */
            int C = (int)dims[3];
            reduced = malloc(count * sizeof(float));
            for (size_t p = 0; p < count; ++p) {
                double v = 0.0;
                for (int ch = 0; ch < C; ++ch) {
                    double e = ref[p * C + ch];
                    v = reduce_channels_sum ? v + e : (fabs(e) > v ? fabs(e) : v);
                }
                reduced[p] = (float)v;
            }
            expected = reduced;
        }
        gm_test_check(c, gm_compare(gm_method_name(m), out.maps[m], expected, count), "%s: %s map matches the reference",
                      label, gm_method_name(m));
        free(reduced);
        /* pytorch-grad-cam's final maps (--compat pgc) at the input size, where the fixture has them.
         * Tolerance 1e-4 on [0,1] maps: opencv-python resizes through IPP, whose sampling positions
         * differ from OpenCV's own code (and ours) by up to ~8e-6. */
        snprintf(name, sizeof name, "pgc/%s", dataset);
        long long pd[8];
        float *pgc = gm_read(f->path, name, pd);
        if (pgc && !gm_method_is_input_space(m)) {
            int H = (int)pd[1], W = (int)pd[2];
            float *mine = malloc((size_t)f->n * H * W * sizeof(float)), *scratch = malloc((size_t)h * w * sizeof(float));
            gm_status pst = GM_OK;
            for (int i = 0; i < f->n && pst == GM_OK; ++i)
                pst = gm_post_picture_map(GM_COMPAT_PGC, GM_MAP_CAM, out.maps[m] + (size_t)i * h * w, h, w, scratch,
                                          mine + (size_t)i * H * W, H, W);
            gm_test_check(c, pst == GM_OK && gm_test_close("pgc", mine, pgc, (size_t)f->n * H * W, 1e-4, 0.0),
                          "%s: %s with --compat pgc matches pytorch-grad-cam's output", label, gm_method_name(m));
            free(mine);
            free(scratch);
        }
        free(pgc);
    }
    gm_explainer_free(&x);
    gm_backend_close(&be);
    free(ref);
}

static void gm_check_method(gm_test_counts *c, const char *label, const gm_graph *g, const gm_fixture *f, gm_method m,
                            const char *dataset, int reduce_channels_absmax, int reduce_channels_sum) {
    gm_check_method_ig(c, label, g, f, m, dataset, reduce_channels_absmax, reduce_channels_sum, GM_IG_RIEMANN_RIGHT);
}

static void gm_check_fixture(gm_test_counts *c, const char *dir, const char *file) {
    gm_fixture f;
    memset(&f, 0, sizeof f);
    snprintf(f.path, sizeof f.path, "%s/%s", dir, file);
    char *model_rel = gm_test_h5_read_string_attr(f.path, "/", "model_file");
    char *target_name = gm_test_h5_read_string_attr(f.path, "/", "target_layer");
    int rank = 0;
    long long d_cls[8];
    f.input = gm_read(f.path, "input", f.d_in);
    f.input_grad = gm_read(f.path, "input_grad", NULL);
    f.input_grad_softmax = gm_read(f.path, "input_grad_softmax", NULL);
    f.target_act = gm_read(f.path, "target_act", f.d_t);
    f.target_grad = gm_read(f.path, "target_grad", NULL);
    f.target_class = gm_test_h5_read_ints(f.path, "target_class", &rank, d_cls);
    f.n = (int)f.d_in[0];
    char *model_path = model_rel ? gm_test_source_path(model_rel) : NULL;
    gm_graph *g = NULL;
    gm_status st = model_path && f.input && f.target_class ? gm_model_load(model_path, NULL, &g) : GM_ERR_NOT_FOUND;
    gm_test_check(c, st == GM_OK, "%s: model %s loads (%s)", file, model_rel ? model_rel : "?",
                  st == GM_OK ? "ok" : gm_last_error());
    if (st == GM_OK) {
        int target = target_name ? gm_graph_find(g, target_name) : -1;
        gm_test_check(c, target >= 0 && target == gm_graph_default_target(g), "%s: target layer %s is the default", file,
                      target_name ? target_name : "?");
        if (target >= 0) {
            gm_check_gradients(c, file, g, &f, target, 0);
            if (g->output_node != g->logits_node) gm_check_gradients(c, file, g, &f, target, 1);
            gm_check_method(c, file, g, &f, GM_METHOD_SALIENCY, "saliency", 0, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_INPUTXGRAD, "inputxgrad", 0, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_GRADCAM, "gradcam", 0, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_GRADCAMPP, "gradcampp", 0, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_XGRADCAM, "xgradcam", 0, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_HIRESCAM, "hirescam", 0, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_LAYERCAM, "layercam", 0, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_CAM, "cam", 0, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_GUIDEDBP, "guidedbp", 1, 0);
            gm_check_method(c, file, g, &f, GM_METHOD_INTGRAD, "intgrad_zero_riemann", 0, 1);
            /* black = zeros in model-input space for these models (preprocessing is inside them) */
            gm_check_method_ig(c, file, g, &f, GM_METHOD_INTGRAD, "intgrad_black_trapezoid", 0, 1, GM_IG_TRAPEZOID);
        }
    }
    gm_graph_free(&g);
    free(model_path);
    free(model_rel);
    free(target_name);
    free(f.input);
    free(f.input_grad);
    free(f.input_grad_softmax);
    free(f.target_act);
    free(f.target_grad);
    free(f.target_class);
}

int main(void) {
    gm_test_counts c = {0};
    char *dir = gm_test_source_path("tests/fixtures/methods");
    DIR *d = opendir(dir);
    int found = 0;
    if (d) {
        struct dirent *ent;
        char *names[64];
        int n_names = 0;
        while ((ent = readdir(d)) && n_names < 64) {
            size_t len = strlen(ent->d_name);
            if (len > 11 && !strcmp(ent->d_name + len - 11, "_methods.h5")) names[n_names++] = strdup(ent->d_name);
        }
        closedir(d);
        for (int i = 0; i < n_names; ++i) {
            gm_check_fixture(&c, dir, names[i]);
            free(names[i]);
            ++found;
        }
    }
    gm_test_check(&c, found >= 4, "found %d method fixtures in %s (4 expected)", found, dir);
    free(dir);
    return gm_test_summary(&c);
}
