/* explain_loader.c — the double-buffered batch loader of explain_loader.h. One worker thread at a
 * time decodes a batch into the buffer the caller is not using; gm_loader_next() joins it, hands
 * that buffer out and starts the worker on the following batch. Decoding touches only the
 * loader's buffers and read-only inputs (arguments, graph, paths); errors are recorded per item
 * with the worker's own thread-local message (status.c), so nothing is shared while it runs. */
#include "explain_loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gm_loader {
    const gm_explain_args *a;
    const gm_graph *g;
    const gm_path_list *paths;
    const int *items;
    int n_items, batch;
    int next_item;          /* first item of the batch the worker loads (or loaded) */
    gm_loaded_batch buf[2];
    int loading;            /* index of the buffer the worker fills, -1 when none */
    int worker_started;     /* 1: a pthread is running on buf[loading]; 0: it was loaded inline */
    pthread_t worker;
};

static void gm_batch_free(gm_loaded_batch *b, int capacity) {
    for (int i = 0; b->images && i < capacity; ++i) gm_image_free(&b->images[i]);
    free(b->paths);
    free(b->errors);
    free(b->ok);
    free(b->widths);
    free(b->heights);
    free(b->slot);
    free(b->messages);
    free(b->images);
    free(b->input);
    memset(b, 0, sizeof *b);
}

static gm_status gm_batch_alloc(gm_loaded_batch *b, int capacity, size_t in_size) {
    size_t n = (size_t)capacity;
    b->paths = calloc(n, sizeof *b->paths);
    b->errors = calloc(n, sizeof *b->errors);
    b->ok = calloc(n, sizeof *b->ok);
    b->widths = calloc(n, sizeof *b->widths);
    b->heights = calloc(n, sizeof *b->heights);
    b->slot = calloc(n, sizeof *b->slot);
    b->messages = calloc(n, sizeof *b->messages);
    b->images = calloc(n, sizeof *b->images);
    b->input = malloc(n * in_size * sizeof *b->input);
    if (!b->paths || !b->errors || !b->ok || !b->widths || !b->heights || !b->slot || !b->messages || !b->images ||
        !b->input)
        return gm_error(GM_ERR_NOMEM, "out of memory for a batch of %d images", capacity);
    return GM_OK;
}

/* Decodes, resizes and preprocesses one image into row `row` of the batch input; adds the seconds
 * of each step to the batch's totals. */
static gm_status gm_load_item(const gm_loader *l, gm_loaded_batch *b, const char *path, float *row, gm_image *img) {
    const gm_graph *g = l->g;
    double t0 = gm_cli_now();
    gm_status st = gm_image_load(path, img);
    double t1 = gm_cli_now();
    b->decode_s += t1 - t0;
    if (st != GM_OK) return st;
    st = gm_image_to_input(img, g->input_w, g->input_h, l->a->resize,
                           l->a->preprocess_set ? l->a->preprocess : g->preprocess, row);
    b->preprocess_s += gm_cli_now() - t1;
    return st;
}

/* Loads items [first, first+count) into b. With --strict, stops at the first failure. */
static void gm_load_batch(const gm_loader *l, gm_loaded_batch *b, int first, int count) {
    const size_t in_size = (size_t)l->g->input_h * l->g->input_w * l->g->input_c;
    b->count = count;
    b->valid = 0;
    b->stopped_at = -1;
    b->stop_status = GM_OK;
    b->decode_s = b->preprocess_s = 0.0;
    for (int i = 0; i < count; ++i) {
        const char *path = l->paths->paths[l->items[first + i]];
        b->paths[i] = path;
        b->errors[i] = NULL;
        gm_image_free(&b->images[i]);
        gm_status st = gm_load_item(l, b, path, b->input + (size_t)b->valid * in_size, &b->images[i]);
        b->ok[i] = st == GM_OK;
        b->widths[i] = b->images[i].width, b->heights[i] = b->images[i].height;
        if (st != GM_OK) {
            snprintf(b->messages[i], sizeof b->messages[i], "%s", gm_last_error());
            b->errors[i] = b->messages[i];
            b->widths[i] = b->heights[i] = 0;
            gm_image_free(&b->images[i]);
            if (l->a->strict) {
                b->stopped_at = i;
                b->stop_status = st;
                return;
            }
            continue;
        }
        b->slot[i] = b->valid++;
    }
}

static void *gm_loader_worker(void *arg) {
    gm_loader *l = arg;
    int first = l->next_item;
    int count = l->n_items - first < l->batch ? l->n_items - first : l->batch;
    gm_load_batch(l, &l->buf[l->loading], first, count);
    return NULL;
}

/* Starts loading the batch at next_item into buffer `which` (on a thread when one can be made). */
static void gm_loader_start(gm_loader *l, int which) {
    l->loading = which;
    l->worker_started = pthread_create(&l->worker, NULL, gm_loader_worker, l) == 0;
    if (!l->worker_started) gm_loader_worker(l); /* no thread to be had: load inline */
}

static void gm_loader_join(gm_loader *l) {
    if (l->loading >= 0 && l->worker_started) pthread_join(l->worker, NULL);
    l->worker_started = 0;
}

gm_status gm_loader_create(const gm_explain_args *a, const gm_graph *g, const gm_path_list *paths, const int *items,
                           int n_items, int batch, gm_loader **out) {
    *out = NULL;
    gm_loader *l = calloc(1, sizeof *l);
    if (!l) return gm_error(GM_ERR_NOMEM, "out of memory");
    *l = (gm_loader){.a = a, .g = g, .paths = paths, .items = items, .n_items = n_items, .batch = batch, .loading = -1};
    const size_t in_size = (size_t)g->input_h * g->input_w * g->input_c;
    gm_status st = gm_batch_alloc(&l->buf[0], batch, in_size);
    if (st == GM_OK) st = gm_batch_alloc(&l->buf[1], batch, in_size);
    if (st != GM_OK) {
        gm_loader_free(&l);
        return st;
    }
    if (n_items > 0) gm_loader_start(l, 0);
    *out = l;
    return GM_OK;
}

gm_status gm_loader_next(gm_loader *l, gm_loaded_batch **out) {
    *out = NULL;
    if (l->loading < 0) return GM_OK;
    gm_loader_join(l);
    gm_loaded_batch *done = &l->buf[l->loading];
    int finished = l->loading;
    l->next_item += done->count;
    l->loading = -1;
    /* A --strict stop ends the run: nothing after it is loaded. */
    if (done->stopped_at < 0 && l->next_item < l->n_items) gm_loader_start(l, 1 - finished);
    *out = done;
    return GM_OK;
}

void gm_loader_free(gm_loader **lp) {
    if (!lp || !*lp) return;
    gm_loader *l = *lp;
    gm_loader_join(l);
    gm_batch_free(&l->buf[0], l->batch);
    gm_batch_free(&l->buf[1], l->batch);
    free(l);
    *lp = NULL;
}
