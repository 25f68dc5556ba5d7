/* engine_internal.h — the engine's private state, shared by engine.c (forward: planning and
 * execution) and engine_backward.c (backward-data: planning and execution). */
#ifndef GM_ENGINE_INTERNAL_H
#define GM_ENGINE_INTERNAL_H

#include "engine.h"

#define GM_KEPT_FOREVER 0x7fffffff

struct gm_engine {
    const gm_graph *g;
    gm_backend *be;
    int max_batch;
    int batch;                   /* images in the last forward */
    gm_layer_weights **weights;  /* per node, conv/dense only */
    float **affine_scale;        /* per node, device copies for channel affine / unfolded BN */
    float **affine_shift;
    int *storage;                /* per node: the node whose buffer holds its value */
    int *buffer_of;              /* per storage node: index into buffers */
    int *kept;                   /* per node: readable after forward */
    void **buffers;
    size_t *buffer_floats;
    int n_buffers;

    /* Backward (engine_backward.c); all NULL / -1 for a forward-only engine. */
    int seed_node;               /* where the one-hot seed gradient is placed */
    int stop_node;               /* shallowest node whose gradient is produced */
    int *needs_grad;             /* per node: its gradient is produced by the backward */
    int *gstorage;               /* per node: the node whose gradient buffer holds its gradient */
    int *gbuffer_of;             /* per gradient-storage node: index into gbuffers */
    int *grad_kept;              /* per node: gradient readable after backward */
    void **gbuffers;
    size_t *gbuffer_floats;
    int n_gbuffers;
    void *scratch;               /* two gradients: fan-in accumulation, then activation backward */
    size_t scratch_half;         /* floats in each half */
    int *grad_written;           /* per node, during a backward: first contribution stored */
    gm_engine_stats stats;
    int profiling;               /* gm_engine_set_profile */
    gm_engine_node_time *times;  /* per node, allocated at creation so profiling allocates nothing */
};

/* Plans and allocates the gradient arena (engine_backward.c); called by gm_engine_create_ex. */
gm_status gm_engine_plan_backward(gm_engine *e, const gm_engine_options *opts);
void gm_engine_free_backward(gm_engine *e);
/* Marks forward values the backward reads (activation outputs, pooling inputs) as kept. */
void gm_engine_mark_backward_needs(const gm_graph *g, int seed, int stop, int *kept);
gm_tensor gm_engine_value_tensor(const gm_engine *e, int i);
/* Monotonic clock in seconds for the profile. */
double gm_engine_now(void);
/* Buffer pool used by both arenas' planning: index of a free buffer of at least `floats`. */
int gm_engine_take_buffer(int *in_use, size_t floats, size_t *sizes, int *n_sizes);

#endif


