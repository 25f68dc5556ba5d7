/* explain_cost.c — what an explainer's batches cost, for benchmarks: the opt-in stage timer
 * (forward / backward / maps wall time, the backend synchronised at each boundary so that GPU work
 * is charged to the stage that queued it), access to the engine for its per-node profile, and the
 * multiply-accumulate count per image of the configured methods (the rule is stated in explain.h). */
#include <string.h>
#include <time.h>

#include "explain_internal.h"

static double gm_explain_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gm_explainer_set_timing(gm_explainer *x, int on) {
    x->timing = on != 0;
    memset(&x->times, 0, sizeof x->times);
    x->timing_mark = gm_explain_now();
}

void gm_explainer_timing(const gm_explainer *x, gm_explain_timing *out) { *out = x->times; }

struct gm_engine *gm_explainer_engine(gm_explainer *x) { return x->engine; }

gm_status gm_explain_mark(gm_explainer *x, double *stage) {
    if (!x->timing) return GM_OK;
    GM_TRY(x->be->ops->sync(x->be));
    double now = gm_explain_now();
    if (stage) *stage += now - x->timing_mark;
    x->timing_mark = now;
    return GM_OK;
}

double gm_explainer_macs_per_image(const gm_explainer *x) {
    double F = gm_graph_forward_macs(x->g), B = gm_engine_backward_macs(x->engine);
    double K = x->cfg.n_targets, P = x->need_plain_bwd + x->need_guided_bwd, rows = 0.0;
    if (gm_explain_wants(x, GM_METHOD_SMOOTHGRAD)) rows += x->cfg.sg_samples;
    if (gm_explain_wants(x, GM_METHOD_INTGRAD)) rows += x->cfg.ig_steps + (x->cfg.ig_rule == GM_IG_TRAPEZOID);
    return F + K * P * B + K * rows * (F + B);
}
