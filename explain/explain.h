/* explain.h — the explanation methods over whole batches (DESIGN §2, §7): one forward and one
 * backward-data pass per batch serve every plain-gradient method; guided backprop adds one guided
 * backward; SmoothGrad and Integrated Gradients run their noisy copies / path steps as extra batch
 * rows. Maps come back to the host raw (before normalisation) at their native resolution:
 * input-space methods at the model input size, CAM-family methods at the target layer's size.
 *
 * Method definitions (reference/methods.md; y = the pre-softmax logit of the target class,
 * A = target-layer activations, g = dy/dA, x = the model input, d = dy/dx):
 *   saliency       max_c |d|                                   (the seed recipe, before min-max)
 *   inputxgrad     sum_c x*d
 *   gradcam        ReLU(sum_k mean_ij(g_k) A_k)                (keras-io / the CAM seed)
 *   cam            sum_k W[k,c] A_k                            (Zhou; GAP -> Dense heads only)
 *   gradcam++      ReLU(sum_k w_k A_k), w_k = sum_ij alpha*ReLU(g), alpha = g^2/(2g^2 + sum(A) g^3 + 1e-6)
 *   xgradcam       ReLU(sum_k w_k A_k), w_k = sum_ij A g / (sum_ij A + 1e-7)
 *   hirescam       ReLU(sum_k g_k * A_k)
 *   layercam       ReLU(sum_k ReLU(g_k) * A_k)
 *   guidedbp       max_c |d_guided|  (ReLU backward passes only positive gradients at positive inputs)
 *   guidedgradcam  max_c |d_guided * upsample(gradcam)|
 *   smoothgrad     max_c |mean_s d(x + n_s)|, n_s ~ N(0, (noise * (max x - min x))^2), seeded
 *   intgrad        sum_c (x - x') * sum_s w_s d(x' + a_s (x - x')), right Riemann or trapezoid */
#ifndef GM_EXPLAIN_H
#define GM_EXPLAIN_H

#include <stdint.h>

#include "../host/backend.h"
#include "../weights/graph.h"

typedef enum gm_method {
    GM_METHOD_SALIENCY = 0,
    GM_METHOD_INPUTXGRAD,
    GM_METHOD_GRADCAM,
    GM_METHOD_CAM,
    GM_METHOD_GRADCAMPP,
    GM_METHOD_XGRADCAM,
    GM_METHOD_HIRESCAM,
    GM_METHOD_LAYERCAM,
    GM_METHOD_GUIDEDBP,
    GM_METHOD_GUIDEDGRADCAM,
    GM_METHOD_SMOOTHGRAD,
    GM_METHOD_INTGRAD,
    GM_METHOD_COUNT
} gm_method;

typedef enum gm_ig_baseline { GM_IG_BASELINE_BLACK = 0, GM_IG_BASELINE_ZERO, GM_IG_BASELINE_BLUR } gm_ig_baseline;
typedef enum gm_ig_rule { GM_IG_RIEMANN_RIGHT = 0, GM_IG_TRAPEZOID } gm_ig_rule;

typedef struct gm_explain_config {
    unsigned methods;        /* bit (1u << gm_method) per requested method */
    int target_layer;        /* node index; -1 = gm_graph_default_target() */
    int score_softmax;       /* 1: differentiate the softmax probability (the saliency seed) */
    int n_targets;           /* classes explained per image (top-k, or 1) */
    int max_batch;           /* rows per forward/backward (images, noisy copies, IG steps) */
    int sg_samples;          /* SmoothGrad: noisy copies per image (default 25) */
    float sg_noise;          /* SmoothGrad: sigma as a fraction of the input's range (default 0.15) */
    uint64_t seed;           /* SmoothGrad noise seed */
    int ig_steps;            /* Integrated Gradients: path steps (default 32) */
    gm_ig_baseline ig_baseline;
    gm_ig_rule ig_rule;
    /* The model-input values of a black image (for the black baseline), C floats, or NULL for 0;
     * gm_explainer_create copies them. */
    const float *black_pixel;
} gm_explain_config;

void gm_explain_config_default(gm_explain_config *c);

/* Method names as on the command line ("saliency", "gradcam++", ...). */
const char *gm_method_name(gm_method m);
gm_status gm_method_parse_list(const char *list, unsigned *methods); /* comma-separated */
int gm_method_is_input_space(gm_method m); /* map at the input resolution (else target layer) */
/* 1 when some method in the bit set is an input-space gradient map, whose values depend on the
 * forward's ReLU decisions (see fp32_forward in host/backend.h). */
int gm_methods_need_exact_forward(unsigned methods);

typedef struct gm_explainer gm_explainer;

gm_status gm_explainer_create(const gm_graph *g, gm_backend *be, const gm_explain_config *cfg, gm_explainer **out);
void gm_explainer_free(gm_explainer **x);

/* Map size of a method for this model. */
void gm_explainer_map_size(const gm_explainer *x, gm_method m, int *h, int *w);

/* Results of one batch, host memory owned by the explainer (valid until the next run). */
typedef struct gm_explain_batch {
    int n;                   /* images */
    int n_classes;
    const float *logits;     /* n x n_classes */
    const float *probs;      /* n x n_classes (softmax of the logits when the model has none) */
    const int *targets;      /* n x n_targets classes explained */
    const float *maps[GM_METHOD_COUNT]; /* per requested method: n x n_targets x h x w, raw */
} gm_explain_batch;

/* Explains n images (host, n x H x W x C, preprocessed). classes: n x n_targets explicit classes,
 * or NULL for the top-n_targets predicted classes. 1 <= n <= max_batch; SmoothGrad copies and IG
 * steps are chunked into max_batch rows internally. */
gm_status gm_explainer_run(gm_explainer *x, const float *input, int n, const int *classes, gm_explain_batch *out);

/* Indices of the k largest of n scores, largest first (ties: the lower index), into idx[k]. Used
 * for target classes, recorded predictions and `gradmap predict`. */
void gm_top_k(const float *scores, int n, int k, int *idx);

/* The engine's counters (tests prove the single pass and the truncated backward with them). */
struct gm_engine_stats;
const struct gm_engine_stats *gm_explainer_stats(const gm_explainer *x);
/* Node where the backward stops (0 = input; the target layer when only CAMs are wanted), -1 when
 * no backward runs at all (closed-form CAM / Grad-CAM on a GAP -> Dense head). */
int gm_explainer_backward_stop(const gm_explainer *x);
int gm_explainer_target_layer(const gm_explainer *x);

/* Opt-in stage timer (for `gradmap bench`). While on, gm_explainer_run waits for the backend
 * (ops->sync) at every stage boundary and adds the wall time of each stage to the totals below, so
 * that asynchronous GPU work is charged to the stage that queued it. Off by default: then nothing
 * is synchronised and nothing is timed. Turning it on resets the totals.
 *   forward_s   forward passes, reading back the logits / probabilities, choosing the targets;
 *   backward_s  backward-data passes (plain and guided);
 *   maps_s      everything else: method kernels, downloads of gradients and maps, SmoothGrad noise
 *               and IG path rows, accumulation.
 * SmoothGrad / IG rows add their own forward and backward passes to forward_s and backward_s. */
typedef struct gm_explain_timing {
    double forward_s, backward_s, maps_s;
} gm_explain_timing;

void gm_explainer_set_timing(gm_explainer *x, int on);
void gm_explainer_timing(const gm_explainer *x, gm_explain_timing *out);

/* The engine that runs this explainer's passes, for its per-node profile (engine.h:
 * gm_engine_set_profile); every forward and backward of gm_explainer_run goes through it. */
struct gm_engine;
struct gm_engine *gm_explainer_engine(gm_explainer *x);

/* Multiply-accumulates (Conv2D and Dense layers only; pooling, activations and the explanation
 * kernels are not counted) per image for this explainer's configuration:
 *   F = gm_graph_forward_macs (one forward pass), B = gm_engine_backward_macs (one backward-data
 *   pass down to gm_explainer_backward_stop: a conv's backward-data costs its forward's MACs),
 *   K = targets per image, P = plain backward (1 when saliency, input x gradient or a CAM method
 *   that needs the target-layer gradient is asked, else 0) + guided backward (1 when guidedbp or
 *   guidedgradcam is asked);
 *   MACs = F + K * P * B + K * (R_sg + R_ig) * (F + B), R_sg = SmoothGrad samples (when asked),
 *   R_ig = IG steps (+1 for the trapezoid rule; when asked).
 * Closed-form Grad-CAM / CAM on a GAP -> Dense head run no backward (P = 0 for them). */
double gm_explainer_macs_per_image(const gm_explainer *x);

#endif
