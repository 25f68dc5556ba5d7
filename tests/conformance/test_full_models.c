/* test_full_models.c — VGG16 and ResNet50 as keras.applications builds them (random seeded weights,
 * no download), saved by Keras as full models and as weights-only files: gradmap must load both
 * kinds (the latter with its built-in architecture) and reproduce Keras's logits on the stored
 * images, and count the expected multiply-accumulates. The files are ~0.6 GB and not committed;
 * create them with
 *     /work/venv/bin/python tests/fixtures/make_fixtures.py --full
 * (or set GM_FULL_FIXTURES to their folder). Without them the test is skipped (exit 77).
 *
 * Tolerance: as the small conformance models (1e-4 of the logits' scale + 1e-4 relative); VGG16
 * sums up to 25088 terms per output and ResNet50 runs 53 layers, so rounding grows, but stays far
 * below 1e-4 of the scale in fp32. */
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

static void gm_run_one(gm_test_counts *c, const char *dir, const char *arch, const char *model_file, int use_arch,
                       double expected_gmacs) {
    char io_path[1024], model_path[1024], label[256];
    snprintf(io_path, sizeof io_path, "%s/%s_io.h5", dir, arch);
    snprintf(model_path, sizeof model_path, "%s/%s", dir, model_file);
    snprintf(label, sizeof label, "%s (%s)", model_file, use_arch ? "--arch" : "full model");
    int r_in = 0, r_lg = 0;
    long long d_in[8], d_lg[8];
    float *input = gm_test_h5_read_floats(io_path, "input", &r_in, d_in);
    float *logits_ref = gm_test_h5_read_floats(io_path, "logits", &r_lg, d_lg);
    if (!input || !logits_ref || r_in != 4 || r_lg != 2) {
        gm_test_check(c, 0, "%s: fixture %s unreadable", label, io_path);
        free(input);
        free(logits_ref);
        return;
    }
    gm_model_options opts;
    gm_model_options_default(&opts);
    opts.arch = use_arch ? arch : NULL;
    gm_graph *g = NULL;
    gm_status st = gm_model_load(model_path, &opts, &g);
    gm_test_check(c, st == GM_OK, "%s: loads (%s)", label, st == GM_OK ? "ok" : gm_last_error());
    if (st == GM_OK) {
        double gmacs = gm_graph_forward_macs(g) / 1e9;
        gm_test_check(c, fabs(gmacs - expected_gmacs) < 0.01, "%s: %.3f G MACs per image (expected %.2f)", label, gmacs,
                      expected_gmacs);
        int n = (int)d_in[0], k = (int)d_lg[1];
        gm_backend *be = NULL;
        gm_engine *e = NULL;
        gm_backend_config cfg = {0};
        st = gm_backend_open("cpu", &cfg, &be);
        if (st == GM_OK) st = gm_engine_create(g, be, n, NULL, 0, &e);
        if (st == GM_OK) st = gm_engine_forward(e, input, n);
        float *out = malloc((size_t)n * k * sizeof(float));
        if (st == GM_OK) st = gm_engine_read(e, g->logits_node, out);
        gm_test_check(c, st == GM_OK, "%s: forward (%s)", label, st == GM_OK ? "ok" : gm_last_error());
        if (st == GM_OK) {
            double scale = gm_max_abs(logits_ref, (size_t)n * k);
            gm_test_check(c, gm_test_close("logits", out, logits_ref, (size_t)n * k, 1e-4 * scale + 1e-7, 1e-4),
                          "%s: logits match Keras (scale %.3g)", label, scale);
            int agree = 1;
            for (int i = 0; i < n; ++i) {
                int a = 0, b = 0;
                for (int j = 1; j < k; ++j) {
                    if (out[i * k + j] > out[i * k + a]) a = j;
                    if (logits_ref[i * k + j] > logits_ref[i * k + b]) b = j;
                }
                agree &= a == b;
            }
            gm_test_check(c, agree, "%s: top-1 equals Keras's on all %d images", label, n);
        }
        free(out);
        gm_engine_free(&e);
        gm_backend_close(&be);
    }
    gm_graph_free(&g);
    free(input);
    free(logits_ref);
}

int main(void) {
    char *dir = getenv("GM_FULL_FIXTURES") ? strdup(getenv("GM_FULL_FIXTURES")) : gm_test_source_path("tests/fixtures/full");
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/vgg16_io.h5", dir);
    if (!gm_test_file_exists(probe)) {
        printf("SKIP: %s not found. Create the VGG16/ResNet50 fixtures (about 0.6 GB, a few minutes) with:\n"
               "  /work/venv/bin/python tests/fixtures/make_fixtures.py --full\n"
               "(see tests/fixtures/README.md), or set GM_FULL_FIXTURES to their folder.\n",
               probe);
        free(dir);
        return 77;
    }
    gm_test_counts c = {0};
    gm_run_one(&c, dir, "vgg16", "vgg16_full.h5", 0, 15.47);
    gm_run_one(&c, dir, "vgg16", "vgg16_weights.h5", 1, 15.47);
    gm_run_one(&c, dir, "resnet50", "resnet50_full.h5", 0, 3.86);
    gm_run_one(&c, dir, "resnet50", "resnet50_weights.h5", 1, 3.86);
    free(dir);
    return gm_test_summary(&c);
}
