/* explain_loader.h — the batch loader of `gradmap explain` (and of `gradmap bench --images`):
 * decodes, resizes and preprocesses the images of the NEXT batch on a second thread while the
 * current batch is explained and written, so image decoding overlaps the GPU (or CPU) computation
 * and the PNG/HDF5 writing. The loader is one thread and never more (no OpenMP inside). Two batch
 * buffers alternate; a batch handed out stays valid until the following gm_loader_next(). */
#ifndef GM_EXPLAIN_LOADER_H
#define GM_EXPLAIN_LOADER_H

#include "cli.h"
#include "explain_args.h"

typedef struct gm_loaded_batch {
    int count;              /* items in this batch */
    int valid;              /* items decoded; their inputs fill input[0 .. valid-1] */
    int stopped_at;         /* --strict: the item whose failure stopped loading, else -1 */
    gm_status stop_status;  /* its status */
    const char **paths;     /* per item */
    const char **errors;    /* per item: NULL or messages[i] */
    int *ok, *widths, *heights, *slot; /* per item: decoded?, original size, row in input */
    char (*messages)[512];
    gm_image *images;       /* per item: the decoded original (for overlays) */
    float *input;           /* valid x H x W x C, preprocessed for the model */
    double decode_s, preprocess_s; /* the worker's seconds decoding, and resizing + preprocessing */
} gm_loaded_batch;

typedef struct gm_loader gm_loader;

/* items: indices into paths->paths of the images to explain, in order (n_items of them), loaded
 * `batch` at a time. a, g and paths must outlive the loader; they are only read. */
gm_status gm_loader_create(const gm_explain_args *a, const gm_graph *g, const gm_path_list *paths, const int *items,
                           int n_items, int batch, gm_loader **out);
/* The next batch (*out NULL after the last) and, before returning, the start of the load of the
 * one after it. */
gm_status gm_loader_next(gm_loader *l, gm_loaded_batch **out);
/* Waits for a load in flight and frees everything. */
void gm_loader_free(gm_loader **l);

#endif
