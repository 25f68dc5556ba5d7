/* test_gpu_models.c — whole models on the CUDA backend against the CPU backend and Keras: every
 * model under tests/fixtures/conformance/ (not the *_io.h5 files, not bad/) on the inputs of its
 * <model>_io.h5, and every tests/fixtures/methods/<model>_methods.h5 fixture on its inputs and target
 * classes.
 *   1. Keras: the CUDA backend's logits, outputs and target-layer activations (BN folded and
 *      unfolded, as test_keras_models.c does on the CPU) against the Keras-computed fixture values.
 *   2. CPU vs CUDA, fp32: gm_explainer with every method (cam only on GAP -> Dense heads;
 *      SmoothGrad with 4 samples, Integrated Gradients with 8 steps) on both backends with the
 *      same target classes; logits, probabilities and every raw map compared.
 *   3. CPU vs CUDA at tf32, fp16 and bf16: the same explanations; per map the largest error relative
 *      to the map's scale and Spearman's rank correlation are printed, with loose floors asserted.
 * Label "gpu": prints SKIP and exits 77 without a CUDA device or plugin. Maps: n x h x w per
 * method (one target per image), as explain/explain.h hands them out.
 *
 * Tolerances:
 * - Keras: as test_keras_models.c, |a-b| <= 1e-4 * max|ref| + 1e-4 * |ref| per tensor: float32 on
 *   both sides with different summation orders (cuDNN / cuBLAS vs Eigen) through a few layers.
 * - CPU vs CUDA fp32: logits and probabilities as above; maps as test_methods.c holds the CPU to
 *   TensorFlow, |a-b| <= 2e-4 * max|ref| + 1e-3 * |ref|: two float32 implementations with different
 *   summation orders in every convolution and GEMM, forward and backward, with BN folded into the
 *   kernels; the differences are ~1e-6 of the scale, while a real slip (a ReLU mask from the wrong
 *   tensor, a gradient routed to the wrong pooling cell, a padding side swapped, a map of the
 *   wrong class) moves values by O(1) of the scale.
 * - Reduced precision: every conv / GEMM operand is rounded (unit roundoff 2^-11 for tf32 and fp16,
 *   2^-8 for bf16; gpu_pair.c); through the layers, forward and back, maps move by up to ~1e-1 of
 *   their scale at single pixels, and a ReLU or a max-pool / global-max choice near a tie may
 *   flip. Values cannot be held tightly, but the ordering of a map's pixels, which is what a heat
 *   map shows, must survive: Spearman's rho over the batch's map >= 0.95 (tf32, fp16) / 0.90
 *   (bf16) for the CAM family and >= 0.90 / 0.80 for the input-space maps; the logits within 0.10 /
 *   0.20 of their largest magnitude. Calibrated by emulating the rounding on the CPU backend (conv /
 *   dense operands rounded to the type, tf32 by truncation, the worse of the two conversions a
 *   tensor core may use; fp16 / bf16 outputs rounded too) over these fixtures: the worst values
 *   seen were rho 0.999 / 0.967 (CAM family; the bf16 low is gmp_head, whose global-max gradient
 *   lands on one cell per channel and moves when two cells nearly tie), 0.986 / 0.945 (input
 *   space), logits 0.043 (tf32 truncated, gmp_head) / 0.044 (bf16). So the floors leave a factor
 *   of two or more on the errors and still fail a map of the wrong class, a broken gradient path
 *   (rho ~0) or garbage. A NaN fails everything. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain/engine.h"
#include "explain/explain.h"
#include "gpu_pair.h"
#include "test_support.h"
#include "weights/model.h"

#define GM_SG_SAMPLES 4
#define GM_IG_STEPS 8
/* Floors per precision (see the file comment): tf32 and fp16 (10-bit mantissas), bf16 (7 bits). */
#define GM_RANK_FLOOR_CAM_11 0.95
#define GM_RANK_FLOOR_CAM_8 0.90
#define GM_RANK_FLOOR_INPUT_11 0.90
#define GM_RANK_FLOOR_INPUT_8 0.80
#define GM_LOGIT_REL_11 0.10
#define GM_LOGIT_REL_8 0.20

typedef struct fixture {
    char label[160];
    char *model_path;
    float *input, *logits, *probs, *target_act; /* Keras values; probs / target_act may be NULL */
    long long d_in[8], d_lg[8], d_t[8];
    int32_t *classes;  /* methods fixtures: the target class per image; NULL: the CPU's top-1 */
    int probs_softmax; /* 1: probs is softmax(logits) even when the model outputs the logits */
    char *target_name;
    int n;
} fixture;

typedef struct backends {
    gm_backend *cpu;
    gm_backend *gpu[4]; /* by gm_precision */
} backends;

static void fixture_free(fixture *f) {
    free(f->model_path);
    free(f->input);
    free(f->logits);
    free(f->probs);
    free(f->target_act);
    free(f->classes);
    free(f->target_name);
    memset(f, 0, sizeof *f);
}

static int compare_keras_like(const char *what, const float *got, const float *ref, size_t n) {
    return gm_test_close(what, got, ref, n, 1e-4 * gm_test_max_abs(ref, n) + 1e-7, 1e-4);
}

/* ---------------------------------------------------------------- 1. Keras */

static void check_keras(gm_test_counts *c, const backends *B, const fixture *f) {
    for (int fold = 1; fold >= 0; --fold) {
        gm_model_options opts;
        gm_model_options_default(&opts);
        opts.fold_batchnorm = fold;
        gm_graph *g = NULL;
        gm_engine *e = NULL;
        gm_status st = gm_model_load(f->model_path, &opts, &g);
        int target = st == GM_OK ? gm_graph_default_target(g) : -1;
        if (st == GM_OK)
            st = gm_engine_create(g, B->gpu[GM_PRECISION_FP32], f->n, target >= 0 ? &target : NULL, target >= 0 ? 1 : 0,
                                  &e);
        if (st == GM_OK) st = gm_engine_forward(e, f->input, f->n);
        gm_test_check(c, st == GM_OK, "%s [cuda fp32, BN %s]: loads and runs forward (%s)", f->label,
                      fold ? "folded" : "unfolded", st == GM_OK ? "ok" : gm_last_error());
        if (st == GM_OK) {
            const int k = (int)f->d_lg[1];
            float *out = malloc((size_t)f->n * k * sizeof *out);
            if (g->nodes[g->logits_node].out.c == k && gm_engine_read(e, g->logits_node, out) == GM_OK)
                gm_test_check(c, compare_keras_like("logits", out, f->logits, (size_t)f->n * k),
                              "%s [cuda fp32, BN %s]: logits match Keras", f->label, fold ? "folded" : "unfolded");
            else
                gm_test_check(c, 0, "%s: %d logits, Keras has %d", f->label, g->nodes[g->logits_node].out.c, k);
            const int comparable = f->probs && !(f->probs_softmax && g->output_node == g->logits_node);
            if (comparable && gm_engine_read(e, g->output_node, out) == GM_OK)
                gm_test_check(c, compare_keras_like("probs", out, f->probs, (size_t)f->n * k),
                              "%s [cuda fp32, BN %s]: outputs match Keras", f->label, fold ? "folded" : "unfolded");
            free(out);
            if (target >= 0 && f->target_act && g->nodes[target].fused_into < 0 && f->target_name &&
                !strcmp(g->nodes[target].name, f->target_name)) {
                size_t count = (size_t)f->n * gm_engine_node_size(e, target);
                float *act = malloc(count * sizeof *act);
                st = gm_engine_read(e, target, act);
                gm_test_check(c, st == GM_OK && compare_keras_like("target", act, f->target_act, count),
                              "%s [cuda fp32, BN %s]: target layer %s matches Keras", f->label,
                              fold ? "folded" : "unfolded", f->target_name);
                free(act);
            }
        }
        gm_engine_free(&e);
        gm_graph_free(&g);
    }
}

/* ---------------------------------------------------------------- 2, 3. explanations */

/* Every method; cam is dropped when the model has no GAP -> Dense head (the explainer refuses it). */
static gm_status make_explainer(const gm_graph *g, gm_backend *be, int n, gm_explainer **x, unsigned *methods) {
    gm_explain_config cfg;
    gm_explain_config_default(&cfg);
    cfg.methods = *methods;
    cfg.max_batch = n;
    cfg.sg_samples = GM_SG_SAMPLES;
    cfg.ig_steps = GM_IG_STEPS;
    cfg.seed = 11;
    gm_status st = gm_explainer_create(g, be, &cfg, x);
    if (st == GM_ERR_UNSUPPORTED && (cfg.methods & (1u << GM_METHOD_CAM))) {
        cfg.methods &= ~(1u << GM_METHOD_CAM);
        st = gm_explainer_create(g, be, &cfg, x);
        if (st == GM_OK) *methods = cfg.methods;
    }
    return st;
}

static int is_cam_family(gm_method m) { return !gm_method_is_input_space(m); }

/* fp32: every map within the bound above. */
static void compare_fp32(gm_test_counts *c, const char *label, const gm_explain_batch *ref, const gm_explain_batch *got,
                         const gm_explainer *x, unsigned methods) {
    const size_t nl = (size_t)ref->n * ref->n_classes;
    gm_test_check(c, compare_keras_like("logits", got->logits, ref->logits, nl), "%s [fp32]: logits match the CPU",
                  label);
    gm_test_check(c, compare_keras_like("probs", got->probs, ref->probs, nl), "%s [fp32]: probabilities match the CPU",
                  label);
    for (int m = 0; m < GM_METHOD_COUNT; ++m) {
        if (!((methods >> m) & 1u) || !ref->maps[m]) continue;
        int h = 0, w = 0;
        gm_explainer_map_size(x, (gm_method)m, &h, &w);
        const size_t count = (size_t)ref->n * h * w;
        const double scale = gm_test_max_abs(ref->maps[m], count);
        int ok = got->maps[m] && gm_test_close(gm_method_name((gm_method)m), got->maps[m], ref->maps[m], count,
                                               2e-4 * scale + 1e-9, 1e-3);
        gm_test_check(c, ok, "%s [fp32]: %s map (%d x %d x %d) matches the CPU", label, gm_method_name((gm_method)m),
                      ref->n, h, w);
    }
}

/* Reduced precision: scale-relative error and rank correlation per map, with floors. */
static void compare_reduced(gm_test_counts *c, const char *label, gm_precision p, const gm_explain_batch *ref,
                            const gm_explain_batch *got, const gm_explainer *x, unsigned methods) {
    const char *pn = gm_precision_name(p);
    const size_t nl = (size_t)ref->n * ref->n_classes;
    const double lscale = gm_test_max_abs(ref->logits, nl);
    const double lrel = p == GM_PRECISION_BF16 ? GM_LOGIT_REL_8 : GM_LOGIT_REL_11;
    double lerr = 0.0;
    for (size_t i = 0; i < nl; ++i) {
        double d = fabs((double)got->logits[i] - (double)ref->logits[i]);
        lerr = isnan(d) || d > lerr ? d : lerr; /* a NaN sticks */
    }
    gm_test_check(c, lerr <= lrel * lscale, "%s [%s]: logits max |err| %.3g = %.3g of their scale %.3g (bound %.2g)",
                  label, pn, lerr, lerr / lscale, lscale, lrel);
    for (int m = 0; m < GM_METHOD_COUNT; ++m) {
        if (!((methods >> m) & 1u) || !ref->maps[m]) continue;
        int h = 0, w = 0;
        gm_explainer_map_size(x, (gm_method)m, &h, &w);
        const size_t count = (size_t)ref->n * h * w;
        const double scale = gm_test_max_abs(ref->maps[m], count);
        double err = 0.0;
        for (size_t i = 0; i < count && got->maps[m]; ++i) {
            double d = fabs((double)got->maps[m][i] - (double)ref->maps[m][i]);
            err = isnan(d) || d > err ? d : err;
        }
        const int b8 = p == GM_PRECISION_BF16;
        const double rank_floor = is_cam_family((gm_method)m) ? (b8 ? GM_RANK_FLOOR_CAM_8 : GM_RANK_FLOOR_CAM_11)
                                                         : (b8 ? GM_RANK_FLOOR_INPUT_8 : GM_RANK_FLOOR_INPUT_11);
        double rho = got->maps[m] ? gm_test_spearman(ref->maps[m], got->maps[m], count) : NAN;
        int ok;
        if (!got->maps[m])
            ok = 0;
        else if (isnan(rho) && err == 0.0)
            ok = 1; /* both constant and equal (all zero): nothing to rank */
        else
            ok = rho >= rank_floor && !isnan(err);
        gm_test_check(c, ok, "%s [%s]: %s map max |err| %.3g of its scale %.3g, Spearman %.4f (floor %.2f)", label, pn,
                      gm_method_name((gm_method)m), scale > 0 ? err / scale : err, scale, rho, rank_floor);
    }
}

static void check_explanations(gm_test_counts *c, const backends *B, const fixture *f) {
    gm_graph *g = NULL;
    gm_status st = gm_model_load(f->model_path, NULL, &g);
    gm_test_check(c, st == GM_OK, "%s: loads (%s)", f->label, st == GM_OK ? "ok" : gm_last_error());
    if (st != GM_OK) return;
    unsigned methods = (1u << GM_METHOD_COUNT) - 1u;
    gm_explainer *xc = NULL;
    gm_explain_batch ref;
    st = make_explainer(g, B->cpu, f->n, &xc, &methods);
    if (st == GM_OK) st = gm_explainer_run(xc, f->input, f->n, f->classes, &ref);
    gm_test_check(c, st == GM_OK, "%s [cpu]: every method runs (%s)", f->label, st == GM_OK ? "ok" : gm_last_error());
    if (st == GM_OK) {
        /* The CPU's classes for every CUDA run, so a near-tie of two logits cannot change which
         * class a map explains. */
        int *classes = malloc((size_t)f->n * sizeof *classes);
        memcpy(classes, ref.targets, (size_t)f->n * sizeof *classes);
        for (int p = GM_PRECISION_FP32; p <= GM_PRECISION_BF16; ++p) {
            gm_explainer *xg = NULL;
            gm_explain_batch got;
            unsigned gm_methods = methods;
            st = make_explainer(g, B->gpu[p], f->n, &xg, &gm_methods);
            if (st == GM_OK) st = gm_explainer_run(xg, f->input, f->n, classes, &got);
            gm_test_check(c, st == GM_OK && gm_methods == methods, "%s [cuda %s]: every method runs (%s)", f->label,
                          gm_precision_name((gm_precision)p), st == GM_OK ? "ok" : gm_last_error());
            if (st == GM_OK && p == GM_PRECISION_FP32)
                compare_fp32(c, f->label, &ref, &got, xc, methods);
            else if (st == GM_OK)
                compare_reduced(c, f->label, (gm_precision)p, &ref, &got, xc, methods);
            gm_explainer_free(&xg);
        }
        free(classes);
    }
    gm_explainer_free(&xc);
    gm_graph_free(&g);
}

/* ---------------------------------------------------------------- fixtures */

static float *read_floats(const char *file, const char *name, long long dims[8]) {
    int rank = 0;
    long long local[8];
    return gm_test_h5_read_floats(file, name, &rank, dims ? dims : local);
}

/* conformance/<stem>.h5 with conformance/<stem>_io.h5. */
static int load_conformance(const char *dir, const char *name, fixture *f) {
    char io[1024];
    size_t len = strlen(name);
    snprintf(io, sizeof io, "%s/%.*s_io.h5", dir, (int)(len - 3), name);
    snprintf(f->label, sizeof f->label, "conformance/%s", name);
    f->model_path = malloc(strlen(dir) + len + 2);
    if (f->model_path) sprintf(f->model_path, "%s/%s", dir, name);
    f->input = read_floats(io, "input", f->d_in);
    f->logits = read_floats(io, "logits", f->d_lg);
    f->probs = read_floats(io, "probs", NULL);
    f->target_act = read_floats(io, "target_activation", f->d_t);
    f->target_name = gm_test_h5_read_string_attr(io, "/", "target_layer");
    f->n = f->input ? (int)f->d_in[0] : 0;
    return f->model_path && f->input && f->logits;
}

/* methods/<model>_methods.h5: its own inputs, logits and target classes. */
static int load_methods(const char *dir, const char *name, fixture *f) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(f->label, sizeof f->label, "methods/%s", name);
    char *rel = gm_test_h5_read_string_attr(path, "/", "model_file");
    f->model_path = rel ? gm_test_source_path(rel) : NULL;
    free(rel);
    f->input = read_floats(path, "input", f->d_in);
    f->logits = read_floats(path, "logits", f->d_lg);
    f->probs = read_floats(path, "probs", NULL);
    f->probs_softmax = 1;
    f->target_act = read_floats(path, "target_act", f->d_t);
    f->target_name = gm_test_h5_read_string_attr(path, "/", "target_layer");
    int rank = 0;
    long long d[8];
    f->classes = gm_test_h5_read_ints(path, "target_class", &rank, d);
    f->n = f->input ? (int)f->d_in[0] : 0;
    return f->model_path && f->input && f->logits && f->classes;
}

/* Runs every fixture of `sub` whose name ends with `suffix` (and not with `exclude`). */
static int run_dir(gm_test_counts *c, const backends *B, const char *sub, const char *suffix, const char *exclude) {
    char *dir = gm_test_source_path(sub);
    DIR *d = dir ? opendir(dir) : NULL;
    int found = 0;
    if (!d) {
        gm_test_check(c, 0, "cannot open %s", dir ? dir : sub);
        free(dir);
        return 0;
    }
    char *names[128];
    int n_names = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n_names < 128) {
        size_t len = strlen(ent->d_name), ls = strlen(suffix), le = strlen(exclude);
        if (len > ls && !strcmp(ent->d_name + len - ls, suffix) &&
            !(len > le && !strcmp(ent->d_name + len - le, exclude)))
            names[n_names++] = strdup(ent->d_name);
    }
    closedir(d);
    for (int i = 0; i < n_names; ++i) {
        fixture f;
        memset(&f, 0, sizeof f);
        int ok = !strcmp(exclude, "_io.h5") ? load_conformance(dir, names[i], &f) : load_methods(dir, names[i], &f);
        gm_test_check(c, ok, "%s/%s: fixture complete", sub, names[i]);
        if (ok) {
            if (f.probs && (int)f.d_lg[0] == f.n) check_keras(c, B, &f);
            check_explanations(c, B, &f);
            ++found;
        }
        fixture_free(&f);
        free(names[i]);
    }
    free(dir);
    return found;
}

int main(void) {
    gm_test_counts c = {0};
    backends B;
    B.gpu[GM_PRECISION_FP32] = gm_pair_open_cuda(GM_PRECISION_FP32); /* exits 77 without a device */
    for (int p = GM_PRECISION_TF32; p <= GM_PRECISION_BF16; ++p) B.gpu[p] = gm_pair_open_cuda((gm_precision)p);
    B.cpu = gm_pair_open_cpu();
    int conf = run_dir(&c, &B, "tests/fixtures/conformance", ".h5", "_io.h5");
    int meth = run_dir(&c, &B, "tests/fixtures/methods", "_methods.h5", "\n"); /* "\n": excludes nothing */
    gm_test_check(&c, conf >= 9 && meth >= 4, "ran %d conformance models (9 expected) and %d method fixtures (4)", conf,
                  meth);
    for (int p = GM_PRECISION_FP32; p <= GM_PRECISION_BF16; ++p) gm_backend_close(&B.gpu[p]);
    gm_backend_close(&B.cpu);
    return gm_test_summary(&c);
}
