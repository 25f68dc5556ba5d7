/* explain_internal.h — the explainer's private state, shared by explain.c (configuration,
 * planning), explain_run.c (the per-batch passes and CAM family) and explain_sampling.c
 * (SmoothGrad and Integrated Gradients). */
#ifndef GM_EXPLAIN_INTERNAL_H
#define GM_EXPLAIN_INTERNAL_H

#include "engine.h"
#include "explain.h"

struct gm_explainer {
    const gm_graph *g;
    gm_backend *be;
    gm_explain_config cfg;   /* cfg.black_pixel points at black_pixel below (copied at create) */
    float *black_pixel;      /* owned copy of the configuration's black pixel (in_c floats), or NULL */
    gm_engine *engine;
    int target;              /* target layer node, -1 when no CAM-family method is requested */
    int seed_node;           /* logits (or the softmax output for --score softmax) */
    int stop_node;           /* -1: no backward */
    int gap_dense;           /* the Dense node of a target -> GAP -> Dense(logits) head, else -1 */
    int need_plain_bwd, need_guided_bwd, need_input_grad, need_target_grad, closed_form_gradcam;
    int in_h, in_w, in_c, t_h, t_w, t_c, n_classes;
    /* Host results of the last run. */
    float *logits, *probs;
    int *targets;
    float *maps[GM_METHOD_COUNT];
    /* Backend scratch: one map batch (N,h,w,K), CAM weights (N,1,1,C), an input-sized tensor. */
    float *d_map, *d_weights, *d_input_tmp, *d_dense_kernel;
    float *h_map, *h_weights, *h_grad; /* host staging of the same sizes (h_grad: input-sized) */
    double *acc;             /* SmoothGrad / IG accumulator, max_batch x H x W x C */
    float *rows;             /* SmoothGrad / IG input rows, max_batch x H x W x C */
    float *baselines;        /* IG baselines of the batch's images, max_batch x H x W x C */
    int *row_cls, *row_image; /* per row: target class, image it belongs to */
    double *row_weight;      /* per row: weight of its gradient in the image's sum */
    /* Opt-in stage timer (explain_cost.c): the time of the last stage boundary and the totals. */
    int timing;
    double timing_mark;
    gm_explain_timing times;
};

int gm_explain_wants(const gm_explainer *x, gm_method m);
/* Copies a batch of n maps (n, h*w) computed for target rank k into maps[m] (n, K, h*w). */
void gm_explain_scatter(gm_explainer *x, gm_method m, int n, int k, const float *src, int hw);
/* A stage boundary for the opt-in timer: when timing is on, waits for the backend and adds the time
 * since the previous boundary to *stage (NULL: starts a run without charging anything). When off,
 * returns at once. */
gm_status gm_explain_mark(gm_explainer *x, double *stage);
/* SmoothGrad and Integrated Gradients for target rank k of the n images (after the clean pass). */
gm_status gm_explain_sampling(gm_explainer *x, const float *input, int n, int k);

#endif
