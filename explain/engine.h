/* engine.h — runs a model graph on a backend for whole batches. The engine owns the prepared
 * weights (uploaded once) and one arena of activation buffers sized for `max_batch`, planned by
 * liveness so that buffers are reused once nothing reads them; nothing is allocated per batch.
 * Values of the output, the logits and any node listed in `keep` stay readable after forward.
 * The backward pass and the explanation methods build on this (next issue). */
#ifndef GM_ENGINE_H
#define GM_ENGINE_H

#include "../host/backend.h"
#include "../weights/graph.h"

typedef struct gm_engine gm_engine;

typedef struct gm_engine_options {
    int max_batch;
    const int *keep;         /* nodes whose forward outputs stay readable (target layers) */
    int n_keep;
    /* Backward-data pass: -1 for a forward-only engine. The seed is the one-hot gradient placed at
     * `backward_seed` (the logits node; the output node for softmax scores); the backward runs
     * down to `backward_stop`, the shallowest node whose gradient any method needs (0 = the input
     * image; a target layer when only CAM-family maps are wanted), and no further. */
    int backward_seed;
    int backward_stop;
    const int *keep_grads;   /* nodes whose gradients stay readable after the backward */
    int n_keep_grads;
} gm_engine_options;

/* Counters that let tests prove what ran (one forward/backward per batch, truncation). */
typedef struct gm_engine_stats {
    long forwards, backwards;
    long conv_bwd_calls, dense_bwd_calls, pool_bwd_calls, act_bwd_calls;
    int deepest_bwd_node;    /* smallest node index whose backward op ran in the last backward */
} gm_engine_stats;

/* `g` must outlive the engine. keep: node indices whose outputs must survive the forward pass. */
gm_status gm_engine_create(const gm_graph *g, gm_backend *be, int max_batch, const int *keep, int n_keep,
                           gm_engine **out);
gm_status gm_engine_create_ex(const gm_graph *g, gm_backend *be, const gm_engine_options *opts, gm_engine **out);

/* Backward-data pass for the last forward's images: the seed gradient is `seed` at
 * (n, cls[n]) of the seed node and 0 elsewhere; ReLU-family activations use `mode`. Needs an
 * engine created with a backward. */
gm_status gm_engine_backward(gm_engine *e, const int *cls, float seed, gm_relu_bwd_mode mode);

/* Multiply-accumulates of one backward-data pass for one image: every Conv2D / Dense node whose
 * backward-data runs (on the path from the seed, above the stop node, with an input whose gradient
 * is wanted) costs what its forward costs (the transposed product has the same size). 0 for a
 * forward-only engine. */
double gm_engine_backward_macs(const gm_engine *e);

/* Copies the gradient of node `index` (kept by keep_grads) for the last backward's images. */
gm_status gm_engine_read_grad(gm_engine *e, int index, float *host_dst);

/* Backend memory of a node's forward output / gradient for the last pass (n images, NHWC), for
 * the explanation kernels that run on the backend. */
gm_status gm_engine_value(gm_engine *e, int index, gm_tensor *out);
gm_status gm_engine_grad(gm_engine *e, int index, gm_tensor *out);

const gm_engine_stats *gm_engine_get_stats(const gm_engine *e);
int gm_engine_batch(const gm_engine *e);
gm_backend *gm_engine_backend(const gm_engine *e);
void gm_engine_free(gm_engine **e);

/* Runs the forward pass on `n` (1..max_batch) images: host_input is n x H x W x C floats,
 * already preprocessed. */
gm_status gm_engine_forward(gm_engine *e, const float *host_input, int n);

/* Copies node `index`'s output for the last forward's `n` images to host memory (n x per-image
 * count floats). The node must be the output, the logits or a kept node. */
gm_status gm_engine_read(gm_engine *e, int index, float *host_dst);

/* Floats per image of a node's output. */
size_t gm_engine_node_size(const gm_engine *e, int index);

/* Bytes of activation memory the arena holds (for `info` and the bench). */
size_t gm_engine_arena_bytes(const gm_engine *e);

/* Opt-in per-node profile (for `gradmap bench --profile`). While on, forward and backward wait for
 * the backend (ops->sync) before their first node and after every node, and add each node's wall
 * time to its totals, so that asynchronous GPU work is charged to the node that queued it. Off by
 * default: then nothing extra is synchronised or timed. Turning it on resets the totals.
 * A node's backward time covers its own activation's backward, its backward op and the adding of
 * its contribution to a fan-in gradient; the seed's one-hot is not charged to any node. Nodes that
 * do not run (aliases, nodes off the backward path) keep 0. `*_images` count the batch rows
 * processed (a pass over n images adds n), so that GFLOP/s follow however many passes ran. */
typedef struct gm_engine_node_time {
    double forward_s, backward_s;
    long forward_images, backward_images;
} gm_engine_node_time;

void gm_engine_set_profile(gm_engine *e, int on);
/* Totals since profiling was last turned on, one entry per graph node. */
const gm_engine_node_time *gm_engine_profile(const gm_engine *e);

/* Multiply-accumulates per image of node `index`'s backward-data in this engine's backward pass: its
 * forward's for a Conv2D / Dense node whose backward-data runs, else 0. */
double gm_engine_node_backward_macs(const gm_engine *e, int index);

#endif
