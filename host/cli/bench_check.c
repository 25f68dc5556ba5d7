/* bench_check.c — correctness before speed: the first batch of every case is explained once more
 * by a CPU fp32 explainer on the same graph, inputs and configuration, and every method's maps are
 * compared with explain/compare.h (raw and min-max normalised max abs error, Spearman rank
 * correlation). A cpu fp32 case would only compare with itself: it is reported as "self" and only
 * the finiteness of its maps is checked. */
#include <math.h>
#include <string.h>

#include "bench.h"

static int gm_maps_finite(const gm_explain_batch *out, const gm_bench_result *r, const gm_explainer *x, int n, int K) {
    for (int k = 0; k < r->n_methods; ++k) {
        int h, w;
        gm_explainer_map_size(x, r->methods[k], &h, &w);
        const float *m = out->maps[r->methods[k]];
        for (size_t i = 0; i < (size_t)n * K * h * w; ++i)
            if (!isfinite(m[i])) return 0;
    }
    return 1;
}

/* Runs the CPU fp32 reference and compares. `x` is the case's explainer (for the map sizes). */
static gm_status gm_bench_compare(const gm_bench_args *a, const gm_graph *g, const gm_explain_config *cfg,
                                  const float *input, int n, const gm_explain_batch *out, const gm_explainer *x,
                                  gm_bench_result *r) {
    /* Direct convolution in both passes: the reference closest to Keras. */
    gm_backend_config bc = {.threads = a->threads, .precision = GM_PRECISION_FP32, .conv_algo = GM_CONV_ALGO_DIRECT};
    gm_backend *cpu = NULL;
    gm_explainer *ref = NULL;
    gm_explain_batch ro;
    gm_status st = gm_backend_open("cpu", &bc, &cpu);
    if (st == GM_OK) st = gm_explainer_create(g, cpu, cfg, &ref);
    /* The reference explains the classes the case chose, so that a near-tie in the logits that
     * reduced precision flips compares maps of the same class. */
    if (st == GM_OK) st = gm_explainer_run(ref, input, n, out->targets, &ro);
    for (int k = 0; st == GM_OK && k < r->n_methods; ++k) {
        gm_method m = r->methods[k];
        int h, w;
        gm_explainer_map_size(x, m, &h, &w);
        st = gm_compare_maps(out->maps[m], ro.maps[m], (size_t)n * cfg->n_targets, (size_t)h * w, &r->agreement[m]);
    }
    gm_explainer_free(&ref);
    gm_backend_close(&cpu);
    if (st != GM_OK) return gm_error_context(st, "the CPU fp32 reference check: ");
    return GM_OK;
}

gm_status gm_bench_check_case(const gm_bench_args *a, const gm_graph *g, const gm_backend *be,
                              const gm_explain_config *cfg, const gm_explainer *x, const float *input, int n,
                              const gm_explain_batch *out, gm_bench_result *r) {
    r->maps_finite = gm_maps_finite(out, r, x, n, cfg->n_targets);
    r->checked = 0;
    if (!a->check) {
        r->check_reference = "skipped";
        return GM_OK;
    }
    if (!strcmp(be->ops->name, "cpu") && a->precision == GM_PRECISION_FP32 && a->conv_algo == GM_CONV_ALGO_DIRECT) {
        r->check_reference = "self";
        return GM_OK;
    }
    r->check_reference = "cpu fp32 direct";
    GM_TRY(gm_bench_compare(a, g, cfg, input, n, out, x, r));
    r->checked = 1;
    return GM_OK;
}
