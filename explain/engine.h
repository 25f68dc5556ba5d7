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

/* `g` must outlive the engine. keep: node indices whose outputs must survive the forward pass. */
gm_status gm_engine_create(const gm_graph *g, gm_backend *be, int max_batch, const int *keep, int n_keep,
                           gm_engine **out);
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

#endif
