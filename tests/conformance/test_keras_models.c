/* test_keras_models.c — conformance tier: every model under tests/fixtures/conformance/ (saved by
 * Keras 3 or tf-keras itself, see tests/fixtures/make_fixtures.py) is loaded by gradmap and run on
 * the committed inputs; logits, probabilities and the default target layer's activations must match
 * what Keras computed. Each model runs twice: with BatchNormalization folded into the convolutions
 * (the inference path) and unfolded (per-channel affine), so both paths are held to Keras.
 *
 * Tolerance: both sides compute in float32 but sum in different orders (oneDNN blocked kernels vs
 * Eigen), and folding BN rescales kernels before rounding; through a handful of layers this moves
 * results by a few ulps of the largest values involved. We allow |a-b| <= 1e-4 * max|ref| + 1e-4*|ref|
 * per tensor (about 800 ulps of the tensor's scale: generous for rounding, far below any real
 * mistake such as a wrong padding side, a transposed kernel or a missed BN term, which move values
 * by more than 1e-2 relative). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/engine.h"
#include "test_support.h"
#include "weights/model.h"

static double gm_max_abs(const float *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; ++i) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

static int gm_compare(const char *what, const float *got, const float *ref, size_t n) {
    return gm_test_close(what, got, ref, n, 1e-4 * gm_max_abs(ref, n) + 1e-7, 1e-4);
}

static void gm_check_model(gm_test_counts *c, const char *dir, const char *io_name, int fold) {
    char io_path[1024], model_path[1024], label[256];
    snprintf(io_path, sizeof io_path, "%s/%s", dir, io_name);
    char *model_file = gm_test_h5_read_string_attr(io_path, "/", "model_file");
    char *target_name = gm_test_h5_read_string_attr(io_path, "/", "target_layer");
    snprintf(label, sizeof label, "%s [%s]", model_file ? model_file : io_name, fold ? "BN folded" : "BN unfolded");
    int r_in = 0, r_lg = 0, r_pr = 0, r_t = 0;
    long long d_in[8], d_lg[8], d_pr[8], d_t[8];
    float *input = gm_test_h5_read_floats(io_path, "input", &r_in, d_in);
    float *logits_ref = gm_test_h5_read_floats(io_path, "logits", &r_lg, d_lg);
    float *probs_ref = gm_test_h5_read_floats(io_path, "probs", &r_pr, d_pr);
    float *target_ref = gm_test_h5_read_floats(io_path, "target_activation", &r_t, d_t);
    if (!model_file || !input || !logits_ref || !probs_ref || r_in != 4 || r_lg != 2) {
        gm_test_check(c, 0, "%s: fixture %s is incomplete", label, io_path);
        goto done;
    }
    snprintf(model_path, sizeof model_path, "%s/%s", dir, model_file);
    gm_model_options opts;
    gm_model_options_default(&opts);
    opts.fold_batchnorm = fold;
    gm_graph *g = NULL;
    gm_status st = gm_model_load(model_path, &opts, &g);
    gm_test_check(c, st == GM_OK, "%s: loads (%s)", label, st == GM_OK ? "ok" : gm_last_error());
    if (st != GM_OK) goto done;

    int n = (int)d_in[0];
    int target = gm_graph_default_target(g);
    gm_test_check(c, target >= 0 && target_name && !strcmp(g->nodes[target].name, target_name),
                  "%s: default target layer %s (Keras fixture says %s)", label, target >= 0 ? g->nodes[target].name : "none",
                  target_name ? target_name : "?");
    gm_backend *be = NULL;
    gm_engine *e = NULL;
    gm_backend_config cfg = {0};
    st = gm_backend_open("cpu", &cfg, &be);
    if (st == GM_OK) st = gm_engine_create(g, be, n, target >= 0 ? &target : NULL, target >= 0 ? 1 : 0, &e);
    if (st == GM_OK) st = gm_engine_forward(e, input, n);
    gm_test_check(c, st == GM_OK, "%s: forward (%s)", label, st == GM_OK ? "ok" : gm_last_error());
    if (st == GM_OK) {
        int k = (int)d_lg[1];
        float *out = malloc((size_t)n * k * sizeof(float));
        gm_test_check(c, g->nodes[g->logits_node].out.c == k, "%s: %d logits (Keras %d)", label,
                      g->nodes[g->logits_node].out.c, k);
        if (gm_engine_read(e, g->logits_node, out) == GM_OK)
            gm_test_check(c, gm_compare("logits", out, logits_ref, (size_t)n * k), "%s: logits match Keras", label);
        if (gm_engine_read(e, g->output_node, out) == GM_OK)
            gm_test_check(c, gm_compare("probs", out, probs_ref, (size_t)n * k), "%s: outputs match Keras", label);
        free(out);
        if (target >= 0 && target_ref && g->nodes[target].fused_into < 0) {
            size_t count = (size_t)n * gm_engine_node_size(e, target);
            float *act = malloc(count * sizeof(float));
            st = gm_engine_read(e, target, act);
            gm_test_check(c, st == GM_OK && gm_compare("target", act, target_ref, count),
                          "%s: target layer %s activations match Keras", label, target_name);
            free(act);
        }
    }
    gm_engine_free(&e);
    gm_backend_close(&be);
    gm_graph_free(&g);
done:
    free(model_file);
    free(target_name);
    free(input);
    free(logits_ref);
    free(probs_ref);
    free(target_ref);
}

int main(void) {
    gm_test_counts c = {0};
    char *dir = gm_test_source_path("tests/fixtures/conformance");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        free(dir);
        return 1;
    }
    char *names[256];
    int n_names = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n_names < 256) {
        size_t len = strlen(ent->d_name);
        if (len > 6 && !strcmp(ent->d_name + len - 6, "_io.h5")) names[n_names++] = strdup(ent->d_name);
    }
    closedir(d);
    for (int i = 0; i < n_names; ++i) {
        gm_check_model(&c, dir, names[i], 1);
        gm_check_model(&c, dir, names[i], 0);
        free(names[i]);
    }
    gm_test_check(&c, n_names >= 9, "found %d conformance fixtures (at least 9 expected)", n_names);
    free(dir);
    return gm_test_summary(&c);
}
